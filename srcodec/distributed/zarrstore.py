"""Moving low-resolution frames between .src archives and Zarr arrays (frames x H x W x C,
uint8, stored with srcodec's codecs), bit-exact, with the archive's header and frame names kept
in the array's attributes so the archive can be written back.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..archive.filewriter import ArchiveWriter
from ..archive.layout import FrameInfo, FrameRecord, GroupRecord, Header, grouped_version
from ..archive.reader import Archive
from ..atomic import fsync_directory
from ..errors import CorruptError, DataError, FormatError, SrcodecError
from ..lowres import LowresCodec, StreamCodec, get_codec, is_lossy
from ..resample import SCALE, lowres_size
from .zarrcodecs import zarr_codec

__all__ = ["ATTRS_KEY", "archive_to_zarr", "open_zarr", "zarr_to_archive"]

#: The array attribute holding what the archive recorded: its header (verbatim JSON), and each
#: frame's name and original size.
ATTRS_KEY = "srcodec"
_MODES = {1: "L", 3: "RGB"}
#: The chunk codec of an archive whose own codec stores no frame on its own (groups, lossy).
EXPORT_FALLBACK = "jxl"


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:
        raise SrcodecError("Zarr stores need zarr 3: pip install 'srcodec[parallel]'") from None
    return zarr


def open_zarr(store: Any, *, storage_options: dict | None = None, check_chunks: bool = True) -> Any:
    """Open an existing Zarr array of low-resolution frames (a path, an fsspec URL such as
    ``s3://bucket/cam1.zarr`` with ``storage_options``, or a zarr store).

    Zarr reads a chunk that is not stored as its fill value (black frames): ``check_chunks``
    (default) lists the store's chunks once and raises ``CorruptError`` naming the frames whose
    chunks are missing, so that an incomplete store is never read as whole."""
    try:
        array = _zarr().open_array(store, mode="r", storage_options=storage_options)
    except FileNotFoundError:
        raise SrcodecError(f"{store}: no Zarr array there") from None
    if check_chunks:
        missing = missing_frames(array)
        if missing:
            raise CorruptError(f"{store}: {describe_missing(array, missing)}")
    return array


def _chunk_grid(array: Any) -> tuple[int, ...]:
    """The shape of what the store holds one object for: a shard if sharded, else a chunk."""
    return tuple(getattr(array, "shards", None) or array.chunks)


def missing_frames(array: Any) -> list[tuple[int, int, str]]:
    """(first frame, end frame, chunk key) of every stored object (chunk, or shard) of ``array``
    that the store does not hold, found by listing the store once."""
    from zarr.core.sync import sync

    grid = _chunk_grid(array)
    store_path = array.store_path
    prefix = f"{store_path.path}/" if store_path.path else ""

    async def listed() -> set[str]:
        return {key async for key in store_path.store.list_prefix(prefix)}

    keys = sync(listed())
    counts = [-(-n // g) for n, g in zip(array.shape, grid, strict=True)]
    missing = []
    for coords in itertools.product(*(range(c) for c in counts)):
        key = array.metadata.encode_chunk_key(coords)
        if prefix + key not in keys:
            first = coords[0] * grid[0]
            missing.append((first, min(first + grid[0], array.shape[0]), key))
    return missing


def describe_missing(array: Any, missing: list[tuple[int, int, str]]) -> str:
    """What ``missing_frames`` found, naming the frames (by name when recorded)."""
    names = (array.attrs.get(ATTRS_KEY) or {}).get("names") or []
    spans: list[tuple[int, int]] = []
    for a, b in sorted({(a, b) for a, b, _ in missing}):
        if spans and spans[-1][1] == a:
            a = spans.pop()[0]
        spans.append((a, b))
    frames = sum(b - a for a, b in spans)

    def show(a: int, b: int) -> str:
        label = f"{a}" if b - a == 1 else f"{a}-{b - 1}"
        if len(names) == array.shape[0]:
            label += f" ({names[a]}" + (f"..{names[b - 1]}" if b - a > 1 else "") + ")"
        return label

    shown = ", ".join(show(a, b) for a, b in spans[:5]) + (", ..." if len(spans) > 5 else "")
    return (
        f"{len(missing)} chunk(s) missing ({missing[0][2]}"
        + (", ..." if len(missing) > 1 else "")
        + f"): {frames} of {array.shape[0]} frames have no data: frames {shown}"
    )


def _local_path(store: Any, storage_options: dict | None) -> Path | None:
    """``store`` as a local folder path, or None (a URL, a store object)."""
    if storage_options or not isinstance(store, (str, os.PathLike)):
        return None
    text = os.fspath(store)
    if "://" in text:
        return Path(text[len("file://") :]) if text.startswith("file://") else None
    return Path(text)


def _holds_zarr(path: Path) -> bool:
    return any((path / name).exists() for name in ("zarr.json", ".zarray", ".zgroup"))


def _export_codec(codec: str | dict | LowresCodec | None, header: Header) -> Any:
    """The chunk serializer: ``codec``, else the archive's own codec if it codes frames one by
    one and losslessly, else jxl (groups and lossy streams have no per-frame chunk codec: the
    decoded pixels are stored losslessly, so nothing is lost twice)."""
    if codec is not None:
        return zarr_codec(codec)
    try:
        return zarr_codec(header.codec)
    except FormatError:
        return zarr_codec(EXPORT_FALLBACK)


def _lowres_frames(archive: Archive, records: list[FrameRecord]) -> Iterator[np.ndarray]:
    for i, r in enumerate(records):
        try:
            frame = archive.lowres(i)
        except CorruptError as exc:
            raise CorruptError(f"frame {r.name!r} of {archive.path}: {exc}") from None
        yield frame.reshape(frame.shape[0], frame.shape[1], r.channels)


def archive_to_zarr(
    archive: str | os.PathLike,
    store: Any,
    *,
    chunk_frames: int = 1,
    codec: str | dict | LowresCodec | None = None,
    overwrite: bool = False,
    storage_options: dict | None = None,
) -> Any:
    """Write the low-resolution frames of ``archive`` into a new Zarr v3 array at ``store``.

    ``chunk_frames`` frames per chunk (never split in H, W or C: one chunk is whole frames);
    ``codec``: the srcodec codec of the chunks (default: the archive's own when it codes
    frames one by one, else ``EXPORT_FALLBACK``, lossless: an archive of groups or a lossy one
    exports the pixels it decodes to). Every frame must have one size and mode (a Zarr array is
    rectangular); a damaged archive is refused (run ``srcodec recover`` first). The store
    appears whole or not at all: a local folder is written beside its place and renamed into
    it; any other store is emptied again if the export fails. Returns the ``zarr.Array``.
    """
    if chunk_frames < 1:
        raise SrcodecError(f"chunk_frames must be at least 1, got {chunk_frames}")
    zarr = _zarr()
    from zarr.errors import ContainsArrayError, ContainsGroupError

    with Archive(archive, bicubic=True) as a:
        reader, header = a.reader, a.header
        lost = reader.losses()
        if lost:
            name, why = lost[0]
            raise CorruptError(f"{archive} is damaged ({why}); run 'srcodec recover' first")
        entries = [reader.entry(i) for i in range(len(reader))]
        if not entries:
            raise DataError(f"{archive} holds no frames")
        records = [reader.read_entry(e) for e in entries]
        shapes = {(lowres_size(r.width, r.height, header.scale), r.channels) for r in records}
        if len(shapes) != 1:
            raise DataError(
                f"{archive}: frames of {len(shapes)} sizes or modes cannot share one Zarr array"
            )
        (((lw, lh), channels),) = shapes
        serializer = _export_codec(codec, header)  # refused here, before anything is written
        local = _local_path(store, storage_options)
        target = store
        if local is not None:
            if local.exists() and not (overwrite and _holds_zarr(local)):
                if _holds_zarr(local):
                    raise SrcodecError(f"{store} already holds Zarr data (overwrite it: --force)")
                if not local.is_dir() or any(local.iterdir()):
                    raise SrcodecError(f"{store} exists and is not a Zarr array; not touched")
            target = local.with_name(f".{local.name}.{secrets.token_hex(4)}.tmp")
        try:
            array = zarr.create_array(
                target,
                shape=(len(records), lh, lw, channels),
                chunks=(min(chunk_frames, len(records)), lh, lw, channels),
                dtype="uint8",
                serializer=serializer,
                compressors=None,
                fill_value=0,
                overwrite=overwrite,
                storage_options=storage_options if local is None else None,
                attributes={
                    ATTRS_KEY: {
                        "header": reader.raw_header.decode("utf-8"),
                        "names": [r.name for r in records],
                        "sizes": [[r.width, r.height] for r in records],
                    }
                },
            )
        except (ContainsArrayError, ContainsGroupError, FileExistsError):
            raise SrcodecError(f"{store} already holds Zarr data (overwrite it: --force)") from None
        try:
            frames = _lowres_frames(a, records)
            for start in range(0, len(records), chunk_frames):
                batch = list(itertools.islice(frames, chunk_frames))
                array[start : start + len(batch)] = np.stack(batch)
        except BaseException:
            _remove(array, local, target)
            raise
    if local is None:
        return array
    if local.exists():  # a Zarr array being overwritten, or an empty folder
        shutil.rmtree(local) if local.is_dir() else local.unlink()
    os.replace(target, local)
    fsync_directory(local.parent)
    return open_zarr(local)


def _remove(array: Any, local: Path | None, target: Any) -> None:
    """Remove what a failed export wrote."""
    if local is not None:
        shutil.rmtree(target, ignore_errors=True)
        return
    from zarr.core.sync import sync

    sync(array.store_path.delete_dir())


def _archive_header(
    attrs: dict, model: str | None, weights: Iterable, codec: LowresCodec | None
) -> tuple:
    """The header to write and its raw JSON (kept verbatim when nothing changes)."""
    if "header" in attrs and model is None and not weights:
        raw = attrs["header"].encode("utf-8")
        try:
            header = Header.from_json(raw)
        except ValueError as exc:
            raise CorruptError(f"the srcodec header in the Zarr attributes is bad: {exc}") from None
        if codec is None and is_lossy(get_codec(header.codec)):
            codec = get_codec(EXPORT_FALLBACK)  # lossy pixels are never coded lossily again
        if codec is None or codec.get_config() == header.codec:
            return header, raw
        header.codec = codec.get_config()
        return header, None
    from .._version import __version__
    from ..models.store import pick_model

    info = pick_model(model, weights)
    header = Header(
        model_id=info.id,
        scale=SCALE,
        codec=(codec or get_codec("jxl")).get_config(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        srcodec_version=__version__,
    )
    return header, None


def zarr_to_archive(
    store: Any,
    output: str | os.PathLike,
    *,
    model: str | None = None,
    weights: Iterable = (),
    codec: str | dict | LowresCodec | None = None,
    force: bool = False,
    storage_options: dict | None = None,
) -> Path:
    """Write a Zarr array of low-resolution frames (as ``archive_to_zarr`` makes) back into a
    .src archive, with the frame names, sizes and header kept in its attributes.

    An array without srcodec attributes (any N x H x W x C uint8 array) is accepted too: frames
    are named ``frame_000000``..., restore to twice their size, with ``model`` (id or name,
    default the bundled model or the single ``weights`` file; either replaces the recorded
    model) and ``codec`` (default the recorded one, else jxl).
    """
    array = open_zarr(store, storage_options=storage_options)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] not in _MODES:
        raise DataError(f"{store}: expected a frames x H x W x C (1 or 3) uint8 array")
    count, lh, lw, channels = array.shape
    attrs = dict(array.attrs.get(ATTRS_KEY) or {})
    if codec is not None and not isinstance(codec, LowresCodec):
        codec = get_codec(codec)
    lowres = codec
    header, raw = _archive_header(attrs, model, weights, lowres)
    lowres = lowres or get_codec(header.codec)
    names = attrs.get("names") or [f"frame_{i:06d}" for i in range(count)]
    sizes = attrs.get("sizes") or [[lw * header.scale, lh * header.scale]] * count
    if len(names) != count or len(sizes) != count:
        raise CorruptError(f"{store}: attributes name {len(names)} frames, the array holds {count}")
    from ..archive.writer import DEFAULT_GROUP

    stream = lowres if isinstance(lowres, StreamCodec) else None
    pending: list[tuple[FrameInfo, np.ndarray]] = []
    step = array.chunks[0]
    version = None if stream is None else grouped_version(stream.compact)
    with ArchiveWriter(
        output, header, force=force, raw_header=raw, groups=bool(stream), version=version
    ) as w:

        def flush() -> None:
            if pending and stream is not None:
                payload = stream.encode_group([low for _, low in pending])
                w.add_group(GroupRecord([info for info, _ in pending], payload))
            pending.clear()

        for start in range(0, count, step):
            block = _read_block(array, store, start, min(start + step, count), names)
            for k, frame in enumerate(block):
                i = start + k
                width, height = (int(v) for v in sizes[i])
                if lowres_size(width, height, header.scale) != (lw, lh):
                    raise CorruptError(f"{store}: frame {names[i]!r} is not {width}x{height}")
                info = FrameInfo(str(names[i]), width, height, _MODES[channels])
                low = frame[:, :, 0] if channels == 1 else frame
                if stream is None:
                    w.add(FrameRecord(info.name, width, height, info.mode, lowres.encode(low)))
                    continue
                if len(pending) == DEFAULT_GROUP:
                    flush()
                pending.append((info, low))
        flush()
    return Path(output)


def _read_block(array: Any, store: Any, start: int, end: int, names: list) -> np.ndarray:
    """Frames ``start``..``end`` of ``array``; ``CorruptError`` naming them if a chunk does not
    decode (damaged bytes, a truncated chunk)."""
    try:
        return np.asarray(array[start:end])
    except Exception as exc:  # whatever the chunk's codec raises on bad bytes
        which = f"{start}" if end - start == 1 else f"{start}-{end - 1}"
        raise CorruptError(
            f"{store}: frames {which} ({names[start]}..{names[end - 1]}) do not decode: {exc}"
        ) from None


def describe(array: Any) -> str:
    """One line about a frames array, for the CLI."""
    attrs = array.attrs.get(ATTRS_KEY) or {}
    model = json.loads(attrs["header"]).get("model_id", "?") if "header" in attrs else "none"
    return f"{array.shape[0]} frames of {array.shape[2]}x{array.shape[1]}x{array.shape[3]}, " + (
        f"model {model[: model.find('@') + 13]}"
    )
