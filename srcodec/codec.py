"""The codec's main job: ``encode`` frames into a .src archive (downscale x2, store the
low-resolution frame losslessly) and ``decode``/``open`` it back (restore with the model the
header names). The byte layout lives in container.py; this module is the policy around it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .container import ArchiveReader, ArchiveWriter, FrameRecord, Header
from .engine import Restorer
from .errors import CorruptError, FrameError, ModelError, SrcodecError
from .frames import list_frames, read_frame, write_png
from .lowres import LowresCodec, get_codec
from .registry import DEFAULT_MODEL, ModelInfo, inspect_weights, load_model, resolve, split_id
from .resample import SCALE, downscale, lowres_size, upscale

#: The low-resolution codec used when none is asked for (smallest on the sample frames:
#: docs/codecs.md has the figures).
DEFAULT_CODEC = "zstd"
#: Low-resolution pixels restored in one batch of equal-size frames.
BATCH_PIXELS = 512 * 512

FrameSource = str | os.PathLike | Iterable


def _version() -> str:
    try:
        return version("srcodec")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class EncodeSummary:
    """What ``encode`` did: frames written, bytes in and out, frames skipped (with why)."""

    path: Path
    frames: int
    input_bytes: int
    archive_bytes: int
    model_id: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.input_bytes / self.archive_bytes if self.archive_bytes else 0.0


def _iter_inputs(frames: FrameSource) -> Iterator[tuple[str, int, Callable[[], np.ndarray]]]:
    """(name, input bytes, loader) for a folder, a list of files or of arrays/(name, array)."""
    if isinstance(frames, (str, os.PathLike)):
        frames = list_frames(frames)
    for i, item in enumerate(frames):
        if isinstance(item, (str, os.PathLike)):
            path = Path(item)
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
    if array.dtype != np.uint8:
        raise FrameError(f"{name}: frames must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise FrameError(f"{name}: frames must be HxW or HxWx3, got shape {array.shape}")
    return array


def _restored_name(name: str) -> str:
    return f"{Path(name).stem if Path(name).suffix else name}.png"


def _pick_model(model: str | None, weights: Iterable) -> ModelInfo:
    weights = list(weights)
    if model is None and len(weights) == 1:
        return inspect_weights(weights[0])
    return resolve(model or DEFAULT_MODEL, weights)


def encode(
    frames: FrameSource,
    output: str | os.PathLike,
    *,
    model: str | None = None,
    weights: Iterable = (),
    codec: str | dict | LowresCodec = DEFAULT_CODEC,
    force: bool = False,
    skip_bad: bool = False,
    progress: bool = False,
) -> EncodeSummary:
    """Downscale every frame x2 and store it losslessly in the archive ``output``.

    ``frames``: a folder (natural order), a list of image files, or arrays / (name, array)
    pairs. ``model`` (id or name; default the bundled model, or the single ``weights`` file)
    is the model recorded in the header for decoding. A bad frame raises ``FrameError`` and
    leaves nothing behind, unless ``skip_bad``, which skips and reports it.
    """
    info = _pick_model(model, weights)
    lowres = codec if isinstance(codec, LowresCodec) else get_codec(codec)
    header = Header(
        model_id=info.id,
        scale=SCALE,
        codec=lowres.get_config(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        srcodec_version=_version(),
    )
    items = list(_iter_inputs(frames))
    if not items:
        raise FrameError("no frames to encode")
    outputs: dict[str, str] = {}
    for name, _, _ in items:
        other = outputs.setdefault(_restored_name(name), name)
        if other != name:
            raise FrameError(
                f"frames {other!r} and {name!r} would both restore to "
                f"{_restored_name(name)!r}; rename one"
            )
    summary = EncodeSummary(Path(output), 0, 0, 0, info.id)
    with ArchiveWriter(output, header, force=force) as writer:
        for name, size, load in tqdm(items, disable=not progress, unit="frame", desc="encode"):
            try:
                frame = load()
            except FrameError as exc:
                if not skip_bad:
                    raise
                summary.skipped.append((name, str(exc)))
                continue
            height, width = frame.shape[:2]
            writer.add(
                FrameRecord(
                    name,
                    width,
                    height,
                    "L" if frame.ndim == 2 else "RGB",
                    lowres.encode(downscale(frame)),
                )
            )
            summary.frames += 1
            summary.input_bytes += size
        if summary.frames == 0:
            raise FrameError(f"no readable frames to write to {output}")
    summary.archive_bytes = Path(output).stat().st_size
    return summary


class Archive:
    """An open archive: frames by position or name, restored on demand.

    ``archive[i]`` / ``archive["name"]`` restore one frame; ``lowres(i)`` gives the stored
    low-resolution frame; the model is loaded once, on first use.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        weights: Iterable = (),
        device: str = "auto",
        bicubic: bool = False,
        tile: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.reader = ArchiveReader(self.path)
        self.header = self.reader.header
        self.codec = get_codec(self.header.codec)
        self.weights, self.device, self.bicubic, self.tile = list(weights), device, bicubic, tile
        self._restorer: Restorer | None = None

    @property
    def names(self) -> list[str]:
        return self.reader.names

    def __len__(self) -> int:
        return len(self.reader)

    def model_info(self) -> ModelInfo:
        """The model the header asks for, found among installed and ``weights`` files."""
        try:
            return resolve(self.header.model_id, self.weights)
        except ModelError:
            name, sha = split_id(self.header.model_id)
            given = ", ".join(f"{w} is {inspect_weights(w).short_id}" for w in self.weights)
            raise ModelError(
                f"{self.path} needs model {name}@{(sha or '')[:12]}, which is not "
                "installed" + (f" ({given})" if given else "; give its weights file with --weights")
            ) from None

    @property
    def restorer(self) -> Restorer:
        if self._restorer is None:
            info = self.model_info()
            model, _ = load_model(info.path, info.sha256, info.source)
            kwargs = {"tile": self.tile} if self.tile else {}
            self._restorer = Restorer(model, self.device, **kwargs)
        return self._restorer

    def lowres(self, key: int | str) -> np.ndarray:
        """The stored low-resolution frame (``CorruptError`` naming it if damaged)."""
        return self._decode_record(self.reader.read(key))

    def _decode_record(self, record: FrameRecord) -> np.ndarray:
        lw, lh = lowres_size(record.width, record.height, self.header.scale)
        try:
            return self.codec.decode(record.payload, lw, lh, record.channels)
        except CorruptError as exc:
            raise CorruptError(f"frame {record.name!r} of {self.path}: {exc}") from None

    def _restore(self, lrs: list[np.ndarray], records: list[FrameRecord]) -> list[np.ndarray]:
        sizes = [(r.width, r.height) for r in records]
        if self.bicubic:
            return [
                upscale(lr, size, self.header.scale) for lr, size in zip(lrs, sizes, strict=True)
            ]
        return self.restorer.restore_batch(lrs, sizes)

    def __getitem__(self, key: int | str) -> np.ndarray:
        record = self.reader.read(key)
        return self._restore([self._decode_record(record)], [record])[0]

    def frames(
        self, on_damage: Callable[[str, SrcodecError], None] | None = None
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(name, restored frame) in order, frames of equal size restored in batches.

        A damaged frame raises ``CorruptError``, or, with ``on_damage``, is reported to it and
        skipped so that every intact frame still comes out.
        """
        batch: list[tuple[FrameRecord, np.ndarray]] = []

        def flush() -> Iterator[tuple[str, np.ndarray]]:
            out = self._restore([lr for _, lr in batch], [r for r, _ in batch])
            yield from ((r.name, img) for (r, _), img in zip(batch, out, strict=True))
            batch.clear()

        for name, record in self.reader.records():
            try:
                if isinstance(record, CorruptError):
                    raise record
                lr = self._decode_record(record)
            except CorruptError as exc:
                if on_damage is None:
                    raise
                on_damage(name, exc)
                continue
            if batch and (
                lr.shape != batch[0][1].shape
                or (len(batch) + 1) * lr.shape[0] * lr.shape[1] > BATCH_PIXELS
            ):
                yield from flush()
            batch.append((record, lr))
        if batch:
            yield from flush()

    def info(self) -> dict:
        """A JSON-safe description: header, model, codec, frames and their sizes."""
        frames, sizes = [], {}
        for name, record in self.reader.records():
            entry = self.reader.entry(name)
            if isinstance(record, CorruptError):
                frames.append(
                    {
                        "name": name,
                        "size": None,
                        "mode": None,
                        "damaged": str(record),
                        "payload_bytes": entry.payload_size,
                    }
                )
                continue
            size = f"{record.width}x{record.height} {record.mode}"
            sizes[size] = sizes.get(size, 0) + 1
            frames.append(
                {
                    "name": name,
                    "size": f"{record.width}x{record.height}",
                    "mode": record.mode,
                    "payload_bytes": entry.payload_size,
                }
            )
        return {
            "path": str(self.path),
            "format_version": self.reader.format_version,
            "file_bytes": self.reader.file_size,
            "model_id": self.header.model_id,
            "scale": self.header.scale,
            "codec": self.header.codec,
            "created": self.header.created,
            "srcodec_version": self.header.srcodec_version,
            "frames": len(frames),
            "payload_bytes": sum(f["payload_bytes"] for f in frames),
            "sizes": sizes,
            "damaged": [f["name"] for f in frames if f.get("damaged")],
            "index_recovered": self.reader.index_recovered,
            "damage": self.reader.damage,
            "frame_list": frames,
        }

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | os.PathLike, **kwargs) -> Archive:  # noqa: A001 - mirrors io.open
    """Open an archive for random access: ``srcodec.open("a.src")[0]``."""
    return Archive(path, **kwargs)


def decode(path: str | os.PathLike, **kwargs) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (name, restored uint8 frame) for every frame of the archive, in order."""
    on_damage = kwargs.pop("on_damage", None)
    with Archive(path, **kwargs) as archive:
        yield from archive.frames(on_damage)


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def safe_output_name(name: str) -> str:
    """The PNG file name a frame restores to; frame names are data, never paths."""
    out = _restored_name(name)
    if _UNSAFE.search(name) or name in ("", ".", "..") or out.startswith(".."):
        raise CorruptError(f"frame name {name!r} is not a plain file name; refusing to write it")
    return out


@dataclass
class DecodeSummary:
    folder: Path
    written: list[str] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)


def decode_to_folder(
    path: str | os.PathLike,
    folder: str | os.PathLike | None = None,
    *,
    force: bool = False,
    progress: bool = False,
    **kwargs,
) -> DecodeSummary:
    """Restore every frame of ``path`` as PNG into ``folder`` (default: the archive's name).

    Existing files are never overwritten without ``force``; damaged frames are reported and
    skipped while every intact frame is written.
    """
    path = Path(path)
    folder = Path(folder) if folder else path.with_suffix("")
    with Archive(path, **kwargs) as archive:
        targets = {n: folder / safe_output_name(n) for n in archive.names}
        clash = [str(t) for t in targets.values() if t.exists()]
        if clash and not force:
            raise SrcodecError(
                f"{clash[0]} exists ({len(clash)} files would be overwritten); use --force"
            )
        if not archive.bicubic:
            archive.restorer  # noqa: B018 - resolve the model before writing anything
        folder.mkdir(parents=True, exist_ok=True)
        summary = DecodeSummary(folder)
        bar = tqdm(total=len(archive), disable=not progress, unit="frame", desc="decode")

        def damaged(name: str, exc: SrcodecError) -> None:
            summary.damaged.append((name, str(exc)))
            bar.update(1)

        for name, frame in archive.frames(on_damage=damaged):
            write_png(targets[name], frame)
            summary.written.append(name)
            bar.update(1)
        bar.close()
    return summary
