"""Moving low-resolution frames between .src archives and Zarr arrays (frames x H x W x C,
uint8, stored with srcodec's codecs), bit-exact, with the archive's header and frame names kept
in the array's attributes so the archive can be written back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..archive.filereader import ArchiveReader
from ..archive.filewriter import ArchiveWriter
from ..archive.layout import FrameRecord, Header
from ..errors import CorruptError, DataError, SrcodecError
from ..lowres import LowresCodec, get_codec
from ..resample import SCALE, lowres_size
from .zarrcodecs import zarr_codec

__all__ = ["ATTRS_KEY", "archive_to_zarr", "open_zarr", "zarr_to_archive"]

#: The array attribute holding what the archive recorded: its header (verbatim JSON), and each
#: frame's name and original size.
ATTRS_KEY = "srcodec"
_MODES = {1: "L", 3: "RGB"}


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:
        raise SrcodecError("Zarr stores need zarr 3: pip install 'srcodec[parallel]'") from None
    return zarr


def open_zarr(store: Any, *, storage_options: dict | None = None) -> Any:
    """Open an existing Zarr array of low-resolution frames (a path, an fsspec URL such as
    ``s3://bucket/cam1.zarr`` with ``storage_options``, or a zarr store)."""
    try:
        return _zarr().open_array(store, mode="r", storage_options=storage_options)
    except FileNotFoundError:
        raise SrcodecError(f"{store}: no Zarr array there") from None


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
    ``codec``: the srcodec codec of the chunks (default: the archive's own). Every frame must
    have one size and mode (a Zarr array is rectangular); a damaged frame is refused (run
    ``srcodec recover`` first). Returns the ``zarr.Array``.
    """
    if chunk_frames < 1:
        raise SrcodecError(f"chunk_frames must be at least 1, got {chunk_frames}")
    zarr = _zarr()
    from zarr.errors import ContainsArrayError, ContainsGroupError

    with ArchiveReader(archive) as reader:
        header = reader.header
        lowres = get_codec(header.codec)
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
        try:
            array = zarr.create_array(
                store,
                shape=(len(records), lh, lw, channels),
                chunks=(min(chunk_frames, len(records)), lh, lw, channels),
                dtype="uint8",
                serializer=zarr_codec(codec if codec is not None else header.codec),
                compressors=None,
                fill_value=0,
                overwrite=overwrite,
                storage_options=storage_options,
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
        for start in range(0, len(records), chunk_frames):
            batch = records[start : start + chunk_frames]
            frames = []
            for r in batch:
                try:
                    frame = lowres.decode(r.payload, lw, lh, channels)
                except CorruptError as exc:
                    raise CorruptError(f"frame {r.name!r} of {archive}: {exc}") from None
                frames.append(frame.reshape(lh, lw, channels))
            array[start : start + len(batch)] = np.stack(frames)
    return array


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
    step = array.chunks[0]
    with ArchiveWriter(output, header, force=force, raw_header=raw) as writer:
        for start in range(0, count, step):
            block = np.asarray(array[start : start + step])
            for k, frame in enumerate(block):
                i = start + k
                width, height = (int(v) for v in sizes[i])
                if lowres_size(width, height, header.scale) != (lw, lh):
                    raise CorruptError(f"{store}: frame {names[i]!r} is not {width}x{height}")
                payload = lowres.encode(frame[:, :, 0] if channels == 1 else frame)
                writer.add(FrameRecord(str(names[i]), width, height, _MODES[channels], payload))
    return Path(output)


def describe(array: Any) -> str:
    """One line about a frames array, for the CLI."""
    attrs = array.attrs.get(ATTRS_KEY) or {}
    model = json.loads(attrs["header"]).get("model_id", "?") if "header" in attrs else "none"
    return f"{array.shape[0]} frames of {array.shape[2]}x{array.shape[1]}x{array.shape[3]}, " + (
        f"model {model[: model.find('@') + 13]}"
    )
