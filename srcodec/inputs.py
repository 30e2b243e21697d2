"""Frame sources: the frames to archive, from a folder of images (natural order), image files
or a video file (through srcodec.video), their modes normalised without loss.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import FrameError, SrcodecError
from .frametimes import timing_fields
from .pixels import check_frame
from .video import VIDEO_SUFFIXES, is_video, probe_video, read_video, video_timeline

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: The EXIF tag of a camera's orientation: 1 is upright, 6 is turned 90 degrees clockwise, ...
ORIENTATION = 0x0112


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder``, in natural order; an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FrameError(f"{folder}: not a folder")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise FrameError(f"{folder}: no frames found ({', '.join(IMAGE_SUFFIXES)})")
    return sorted(files, key=lambda p: natural_key(p.name))


def normalise(image: Image.Image, name: str) -> np.ndarray:
    """uint8 HxW (grayscale) or HxWx3 (RGB) array of an image, refusing any lossy conversion.

    Lossless conversions: palette -> RGB, 1-bit -> L, RGBA/LA with every pixel opaque -> RGB/L.
    Translucent alpha, 16-bit, float and CMYK frames are refused with a clear error. ``image``
    must not be loaded yet: Pillow decodes 16-bit RGB(A) into 8-bit modes, and only the
    undecoded tiles still say how deep the samples are.
    """
    deep = _deep_rawmode(image)
    image.load()
    mode = image.mode
    if deep:
        raise _unsupported(name, deep)
    image = _upright(image)
    if mode in ("L", "RGB"):
        return np.asarray(image)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
        if mode == "RGB":
            return np.asarray(image)
    if mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            raise FrameError(
                f"{name}: has transparency ({mode}); srcodec stores opaque "
                "RGB or grayscale frames only (flatten the alpha first)"
            )
        return np.asarray(image.convert(mode[:-1] or "L"))
    raise _unsupported(name, mode)


def _unsupported(name: str, mode: str) -> FrameError:
    return FrameError(
        f"{name}: unsupported image mode {mode} (16-bit, float and CMYK frames "
        "are not stored; convert to 8-bit RGB or grayscale first)"
    )


# Raw modes of more than 8 bits per sample that Pillow decodes into an 8-bit mode, dropping the
# low byte: "RGB;16B" (PNG), "RGBA;16L" (TIFF), "LA;16B"... BMP's "BGR;16" (5-6-5 bits in 16) is
# not one of them, and converts without loss.
_DEEP_RAWMODE = re.compile(r";16[BLN]$")


def _deep_rawmode(image: Image.Image) -> str | None:
    """The raw mode of an undecoded image's samples when they are 16-bit, else None."""
    for tile in image.tile:
        rawmode = tile.args[0] if isinstance(tile.args, tuple) else tile.args
        if isinstance(rawmode, str) and _DEEP_RAWMODE.search(rawmode):
            return rawmode
    return None


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (and the tag dropped), so that the frame
    archived is the one viewers show; images without the tag are returned as they are."""
    if image.getexif().get(ORIENTATION, 1) == 1:
        return image
    return ImageOps.exif_transpose(image)


def read_frame(path: str | os.PathLike) -> np.ndarray:
    """Read one frame file as uint8 HxW or HxWx3; ``FrameError`` naming it if it can't be."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return normalise(image, str(path))
    except FrameError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FrameError(f"{path}: image too large ({exc})") from None
    except OSError as exc:
        reason = exc.strerror or str(exc).splitlines()[0]
        raise FrameError(f"{path}: not a readable image ({reason})") from None
    except (ValueError, SyntaxError) as exc:  # Pillow raises these for some broken files
        raise FrameError(f"{path}: not a readable image ({exc})") from None


def iter_video(path: str | os.PathLike, step: int = 1) -> Iterator[tuple[str, np.ndarray]]:
    """Frames of a video file (srcodec.video's reader), as (name, RGB array): named by source
    frame number as ``encode`` names them (``frame_000123``), so that ``adapt``, training and
    the archive of one clip speak of its frames alike."""
    for name, frame, _seconds in read_video(Path(path), every=step):
        yield name, frame


def read_images(source: str | os.PathLike) -> list[tuple[str, np.ndarray]]:
    """All frames of a folder of images or of a video file, as (name, array)."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        frames = list(iter_video(source))
        if not frames:
            raise FrameError(f"{source}: no frames in this video")
        return frames
    if not source.exists():
        raise FrameError(f"{source}: no such folder or video")
    return [(p.name, read_frame(p)) for p in list_frames(source)]


FrameSource = str | os.PathLike | Iterable

Item = tuple[str, int, Callable[[], np.ndarray]]  # name, input bytes, loader


def frame_items(
    frames: FrameSource,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
) -> tuple[list[Item], dict]:
    """The frames to write, and the header fields of their timing (a video's; else none).

    ``start``/``end``/``every`` select frames of a video (srcodec.video.read_video)."""
    if isinstance(frames, (str, os.PathLike)) and is_video(frames) and Path(frames).is_file():
        return _video_items(Path(frames), start, end, every)
    if (start, end, every) != (None, None, 1):
        raise SrcodecError("start, end and every select the frames of a video; give one video")
    return list(_iter_items(frames)), {}


def _video_items(
    path: Path, start: int | float | str | None, end: int | float | str | None, every: int
) -> tuple[list[Item], dict]:
    """A video's selected frames, each loaded in turn from one decoding pass (a first, cheaper
    pass has listed their names and timestamps, which the header records before any frame).
    Loading an earlier frame again (``encode --adapt`` reads a sample of the frames before
    writing them all) starts a new decoding pass."""
    info = probe_video(path)
    bad: dict[str, str] = {}  # frames that do not decode, or are missing: skipped or refused

    def told(name: str, _seconds: float | None, why: str) -> None:
        bad[name] = f"{path}: frame{'s' * ('..' in name)} {name} {why}"

    timeline = video_timeline(path, start, end, every, on_bad=told)
    position = {name: k for k, (name, _) in enumerate(timeline)}

    def frames() -> Iterator[tuple[str, np.ndarray, float]]:
        return read_video(path, start, end, every, on_bad=lambda *_: None)

    state = {"frames": frames(), "next": 0}

    def load(name: str) -> np.ndarray:
        want = position[name]
        if want < state["next"]:
            state["frames"], state["next"] = frames(), 0
        while True:
            got, frame, _ = next(state["frames"], (None, None, None))
            state["next"] += 1
            if got is None or state["next"] > want:
                break
        if got != name:
            raise FrameError(f"{path}: frame {name} did not decode on the second pass")
        return frame

    def fail(name: str) -> np.ndarray:
        raise FrameError(bad[name])

    size = info.width * info.height * 3  # raw RGB bytes: a video frame has no file of its own
    items = [(name, size, lambda n=name: load(n)) for name, _ in timeline]
    # Each bad frame in its place (by number; a span of missing frames last), so that
    # ``skip_bad`` reports it and the encode refuses it otherwise; the timestamps recorded are
    # those of the frames that decode, the frames the archive will hold.
    items += [(name, 0, lambda n=name: fail(n)) for name in bad]
    items.sort(key=lambda item: _source_number(item[0]))
    return items, timing_fields(info.fps, [t for _, t in timeline])


def _source_number(name: str) -> float:
    """The source frame number a video frame's name (or a span's) starts with; unnumbered last."""
    digits = name.removeprefix("frame_")[:12].split(".")[0]
    return int(digits) if digits.isdigit() else math.inf


def _iter_items(frames: FrameSource) -> Iterator[Item]:
    """(name, input bytes, loader) for a folder, a list of files or of arrays/(name, array)."""
    if isinstance(frames, (str, os.PathLike)):
        frames = list_frames(frames)
    for i, item in enumerate(frames):
        if isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if is_video(path):
                raise FrameError(
                    f"{path}: a video among the frames; an archive takes one video (or images)"
                )
            try:
                size = path.stat().st_size
            except OSError as exc:
                size = 0
                err = FrameError(f"{path}: cannot read ({exc.strerror})")

                def fail(err: FrameError = err) -> np.ndarray:
                    raise err

                yield path.name, size, fail
                continue
            yield path.name, size, lambda p=path: read_frame(p)
        else:
            name, array = item if isinstance(item, tuple) else (f"frame_{i:06d}", item)
            array = np.asarray(array)
            yield str(name), array.nbytes, lambda a=array, n=name: _check_array(a, str(n))


def _check_array(array: np.ndarray, name: str) -> np.ndarray:
    # An HxWx1 array is a grayscale frame as some libraries return it.
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return check_frame(array, name)
