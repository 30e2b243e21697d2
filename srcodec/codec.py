"""The codec's main job: ``encode`` frames into a .src archive (downscale x2, store the
low-resolution frame losslessly) and ``decode``/``open`` it back (restore with the model the
header names). The byte layout lives in container.py; this module is the policy around it.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .container import ArchiveReader, ArchiveWriter, FrameRecord, Header
from .engine import make_restorer
from .errors import CorruptError, FrameError, ModelError, SrcodecError
from .frames import list_frames, read_frame, write_png
from .lowres import LowresCodec, get_codec
from .registry import DEFAULT_MODEL, ModelInfo, inspect_weights, resolve, split_id
from .resample import SCALE, downscale, lowres_size, upscale
from .tiling import TiledRestorer

#: The low-resolution codec used when none is asked for: lossless JPEG XL, the smallest on the
#: sample frames (about 17 % below zstd, 30 % below PNG; docs/benchmarks.md, section 1).
DEFAULT_CODEC = "jxl"
#: Low-resolution pixels upscaled in one batch of equal-size frames by ``--bicubic`` (the network
#: batches by its restorer's ``batch_pixels``).
BATCH_PIXELS = 512 * 512
#: Frames read and decoded ahead of the network, and PNGs written behind it, while it runs.
PREFETCH_FRAMES = 8
WRITE_THREADS = 2
#: zlib level of restored PNGs: level 1 writes a 400x400 frame in 18 ms instead of 60 ms at
#: level 6, for files 7 % larger; at 6 the writes took 40 % as long as the network on 2 cores.
DECODE_PNG_LEVEL = 1

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
    _check_names([name for name, _, _ in items])
    summary = EncodeSummary(Path(output), 0, 0, 0, info.id)
    with ArchiveWriter(output, header, force=force) as writer:
        _write_frames(writer, items, lowres, summary, skip_bad, progress)
        if summary.frames == 0:
            raise FrameError(f"no readable frames to write to {output}")
    summary.archive_bytes = Path(output).stat().st_size
    return summary


def _check_names(names: list[str], existing: Collection[str] = (), archive: object = None) -> None:
    """Refuse names that could not be decoded to a folder, repeat a name, or would restore to
    the same file as another frame (new or already in ``archive``)."""
    outputs = {_output_key(_restored_name(n)): n for n in existing}
    for name in names:
        problem = output_name_problem(name)
        if problem:
            raise FrameError(f"frame name {name!r} {problem}")
        if name in existing:
            raise FrameError(f"frame {name!r} is already in {archive}; rename it")
        other = outputs.setdefault(_output_key(_restored_name(name)), name)
        if other != name:
            raise FrameError(
                f"frames {other!r} and {name!r} would both restore to "
                f"{_restored_name(name)!r}; rename one"
            )


def _write_frames(
    writer: ArchiveWriter,
    items: list[tuple[str, int, Callable[[], np.ndarray]]],
    lowres: LowresCodec,
    summary: EncodeSummary,
    skip_bad: bool,
    progress: bool,
) -> None:
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


def append(
    frames: FrameSource,
    archive: str | os.PathLike,
    *,
    model: str | None = None,
    weights: Iterable = (),
    codec: str | dict | LowresCodec | None = None,
    skip_bad: bool = False,
    progress: bool = False,
) -> EncodeSummary:
    """Add frames to the existing archive ``archive``, encoded with its codec for its model.

    Copy-on-write: a new archive holding the existing chunks copied verbatim and then the new
    frames replaces the old one only once complete, so a crash at any point leaves the old
    archive untouched. ``model``/``weights``/``codec``, if given, must match the archive's
    (for a codec, every parameter given). A damaged archive is refused: recover it first.
    """
    path = Path(archive)
    with ArchiveReader(path) as reader:
        header = reader.header
        if reader.index_recovered:
            raise CorruptError(
                f"{path} is damaged ({reader.damage}); run 'srcodec recover' on it first"
            )
        before = os.stat(path)
        if model is not None or list(weights):
            info = _pick_model(model, weights)
            if info.id != header.model_id:
                raise SrcodecError(
                    f"{path} is for model {_short(header.model_id)}; "
                    f"cannot append frames for {info.short_id}"
                )
        lowres = get_codec(header.codec)
        if codec is not None and not _codec_matches(codec, lowres):
            asked = codec.get_config() if isinstance(codec, LowresCodec) else codec
            raise SrcodecError(
                f"{path} uses codec {header.codec}; cannot append frames with codec {asked}"
            )
        items = list(_iter_inputs(frames))
        if not items:
            raise FrameError("no frames to append")
        _check_names([name for name, _, _ in items], set(reader.names), path)

        def unchanged() -> None:
            now = os.stat(path)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                before.st_ino,
                before.st_size,
                before.st_mtime_ns,
            ):
                raise SrcodecError(f"{path} changed during the append; nothing was appended")
            os.chmod(writer.temp_path, stat.S_IMODE(before.st_mode))

        summary = EncodeSummary(path, 0, 0, 0, header.model_id)
        writer = ArchiveWriter(
            path, header, force=True, raw_header=reader.raw_header, before_replace=unchanged
        )
        with writer:
            writer.copy_from(reader)
            _write_frames(writer, items, lowres, summary, skip_bad, progress)
            if summary.frames == 0:
                raise FrameError(f"no readable frames to append to {path}")
    summary.archive_bytes = path.stat().st_size
    return summary


def _short(model_id: str) -> str:
    name, sha = split_id(model_id)
    return f"{name}@{(sha or '')[:12]}"


def _codec_matches(asked: str | dict | LowresCodec, lowres: LowresCodec) -> bool:
    """Whether the codec asked for is the archive's: every parameter given must be equal."""
    if isinstance(asked, LowresCodec):
        return asked == lowres
    given = {"id": asked} if isinstance(asked, str) else dict(asked)
    config = lowres.get_config()
    return all(config.get(k) == v for k, v in given.items())


class Archive:
    """An open archive: frames by position or name, restored on demand.

    ``archive[i]`` / ``archive["name"]`` restore one frame; ``lowres(i)`` gives the stored
    low-resolution frame; the model is loaded once, on first use. ``engine``, ``precision`` and
    ``threads`` choose how it runs (``srcodec.engine.make_restorer``); ``restorer``, one already
    made for the archive's model, is used as it is (a model loaded once for many archives).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        weights: Iterable = (),
        device: str = "auto",
        bicubic: bool = False,
        tile: int | None = None,
        engine: str = "auto",
        precision: str = "fp32",
        threads: int | None = None,
        self_ensemble: bool = False,
        restorer: TiledRestorer | None = None,
    ) -> None:
        self.path = Path(path)
        self.reader = ArchiveReader(self.path)
        self.header = self.reader.header
        self.codec = get_codec(self.header.codec)
        self.weights, self.device, self.bicubic, self.tile = list(weights), device, bicubic, tile
        self.engine, self.precision, self.threads = engine, precision, threads
        self.self_ensemble = self_ensemble
        self._restorer: TiledRestorer | None = restorer

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
    def restorer(self) -> TiledRestorer:
        if self._restorer is None:
            info = self.model_info()
            # The hash checked is the one the archive asks for, read from the weights file as
            # it is loaded (a file swapped after it was found is refused), or the model id
            # embedded in the ONNX export.
            _, sha = split_id(self.header.model_id)
            expected = sha if sha and re.fullmatch(r"[0-9a-f]{64}", sha) else info.sha256
            self._restorer = make_restorer(
                info,
                self.device,
                self.engine,
                self.precision,
                tile=self.tile,
                threads=self.threads,
                self_ensemble=self.self_ensemble,
                expected_sha256=expected,
            )
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
        self,
        on_damage: Callable[[str, SrcodecError], None] | None = None,
        skip: Collection[str] = (),
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(name, restored frame) in order, frames of equal size restored in batches.

        A damaged frame raises ``CorruptError``, or, with ``on_damage``, is reported to it and
        skipped so that every intact frame still comes out. Frames named in ``skip`` are
        neither read nor restored.
        """
        batch: list[tuple[FrameRecord, np.ndarray]] = []
        budget = BATCH_PIXELS if self.bicubic else self.restorer.batch_pixels

        def flush() -> Iterator[tuple[str, np.ndarray]]:
            out = self._restore([lr for _, lr in batch], [r for r, _ in batch])
            yield from ((r.name, img) for (r, _), img in zip(batch, out, strict=True))
            batch.clear()

        # Low-resolution decoding runs ahead in a thread while the network works; the file is
        # read on this thread only, so random access (``archive[i]``) between frames is safe.
        records = iter(self.reader.records())
        ahead: deque[tuple[str, FrameRecord | CorruptError, Future | None]] = deque()

        def read_ahead() -> None:
            while len(ahead) < PREFETCH_FRAMES:
                item = next(records, None)
                if item is None:
                    return
                name, record = item
                if name in skip:
                    continue
                if isinstance(record, CorruptError):
                    ahead.append((name, record, None))
                else:
                    ahead.append((name, record, pool.submit(self._decode_record, record)))

        pool = ThreadPoolExecutor(1, thread_name_prefix="srcodec-read")
        try:
            read_ahead()
            while ahead:
                name, record, decoding = ahead.popleft()
                try:
                    if decoding is None:
                        raise record  # type: ignore[misc]
                    lr = decoding.result()
                except CorruptError as exc:
                    if on_damage is None:
                        raise
                    on_damage(name, exc)
                    read_ahead()
                    continue
                read_ahead()
                if batch and (
                    lr.shape != batch[0][1].shape
                    or (len(batch) + 1) * lr.shape[0] * lr.shape[1] > budget
                ):
                    yield from flush()
                batch.append((record, lr))  # type: ignore[arg-type]
            if batch:
                yield from flush()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

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


#: Longest restored file name, in UTF-8 bytes: within the usual file-system limit of 255.
MAX_OUTPUT_NAME_BYTES = 250
_WINDOWS_UNSAFE = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in "123456789"
}


def output_name_problem(name: str) -> str | None:
    """Why frame ``name`` cannot be restored as a file in a folder, or None if it can.

    Frame names are data, never paths: a name is refused (not rewritten) if it holds a path
    separator, a control or other non-printable character (NUL, newline, escape, bidi
    override...), is empty or all dots, restores to a name starting with "..", or is too long;
    on Windows also if it holds one of <>:"|?*, ends in a dot or space, or is a device name.
    """
    if not isinstance(name, str) or name.strip(".") == "":
        return "is not a plain file name"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if not name.isprintable():
        return "contains a control or non-printable character"
    out = _restored_name(name)
    if out.startswith(".."):
        return "is not a plain file name"
    if len(out.encode("utf-8")) > MAX_OUTPUT_NAME_BYTES:
        return f"is too long for a file name (over {MAX_OUTPUT_NAME_BYTES} UTF-8 bytes)"
    if os.name == "nt" and (
        _WINDOWS_UNSAFE.search(name)
        or name[-1] in ". "
        or out.split(".")[0].upper() in _WINDOWS_DEVICES
    ):
        return "is not a valid Windows file name"
    return None


def safe_output_name(name: str) -> str:
    """The PNG file name a frame restores to; ``CorruptError`` if the name is not a plain file
    name (``output_name_problem``): a crafted archive never writes outside its folder."""
    problem = output_name_problem(name)
    if problem:
        raise CorruptError(f"frame name {name!r} {problem}; refusing to write it")
    return _restored_name(name)


def _output_key(out: str) -> str:
    # Two names that a case-insensitive or normalising file system (macOS, Windows) would
    # store as one file count as the same output.
    return unicodedata.normalize("NFC", out).casefold()


def output_targets(names: Iterable[str], folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """({name: output path} for the frames that can be written, {name: why} for the others:
    unsafe names, and any name restoring to the same file as an earlier frame."""
    targets: dict[str, Path] = {}
    refused: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for name in names:
        try:
            out = safe_output_name(name)
        except CorruptError as exc:
            refused[name] = str(exc)
            continue
        other = claimed.setdefault(_output_key(out), name)
        if other != name:
            refused[name] = f"frame {name!r} restores to the same file as {other!r}; skipped"
            continue
        targets[name] = folder / out
    return targets, refused


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
        targets, refused = output_targets(archive.names, folder)
        clash = [str(t) for t in targets.values() if t.exists() or t.is_symlink()]
        if clash and not force:
            raise SrcodecError(
                f"{clash[0]} exists ({len(clash)} files would be overwritten); use --force"
            )
        if not archive.bicubic:
            archive.restorer  # noqa: B018 - resolve the model before writing anything
        folder.mkdir(parents=True, exist_ok=True)
        summary = DecodeSummary(folder)
        summary.damaged += [(name, f"{why} (in {path})") for name, why in refused.items()]
        bar = tqdm(total=len(targets), disable=not progress, unit="frame", desc="decode")

        def damaged(name: str, exc: SrcodecError) -> None:
            summary.damaged.append((name, str(exc)))
            bar.update(1)

        def write(name: str, frame: np.ndarray) -> str:
            try:
                write_png(targets[name], frame, DECODE_PNG_LEVEL)
            except OSError as exc:
                raise SrcodecError(f"cannot write {targets[name]}: {exc.strerror or exc}") from None
            return name

        def finish(future: Future) -> None:
            summary.written.append(future.result())
            bar.update(1)

        # PNG encoding runs in threads behind the network, a bounded number of frames behind.
        pending: deque[Future] = deque()
        with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="srcodec-write") as pool:
            try:
                for name, frame in archive.frames(on_damage=damaged, skip=refused):
                    pending.append(pool.submit(write, name, frame))
                    while len(pending) > PREFETCH_FRAMES or (pending and pending[0].done()):
                        finish(pending.popleft())
                while pending:
                    finish(pending.popleft())
            finally:
                for future in pending:
                    future.cancel()
        bar.close()
    return summary
