"""Restoration over Dask arrays: ``restore(lowres)`` turns a frames x H x W x C array of
low-resolution frames into the full-resolution one, block by block with ``map_overlap`` and halos
as wide as the model's receptive radius, so the result has no block seams.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..engines.tiling import TiledRestorer
from ..errors import FrameError, SrcodecError
from ..models.store import pick_model

__all__ = ["cached_restorer", "restore"]

_CACHE: dict[tuple, TiledRestorer] = {}
_CACHE_LOCK = threading.Lock()


def cached_restorer(
    model: str | None = None,
    weights: Iterable[str | os.PathLike] = (),
    *,
    engine: str = "auto",
    precision: str = "fp32",
    threads: int = 1,
    tile: int | None = None,
) -> TiledRestorer:
    """This process's restorer for ``model`` (id or name, or the single ``weights`` file), made
    once by ``make_restorer`` and kept: a worker loads each model once, not once per block.

    Keyed by model id, engine, precision, thread count and tile. ``threads`` are the network's
    CPU threads (ONNX Runtime intra-op threads, torch's process-wide count): a worker runs as
    many blocks at once as it has task threads, so one network thread per task thread keeps
    the cores busy without oversubscribing them.
    """
    from ..engines.choose import make_restorer

    weights = tuple(str(w) for w in weights)
    info = pick_model(model, weights)
    key = (info.id, engine, precision, threads, tile)
    with _CACHE_LOCK:
        restorer = _CACHE.get(key)
        if restorer is None:
            restorer = make_restorer(
                info, "cpu" if engine == "onnx" else "auto", engine, precision,
                tile=tile, threads=threads,
            )  # fmt: skip
            _CACHE[key] = restorer
    return restorer


def _restore_block(
    block: np.ndarray,
    *,
    halo: int,
    scale: int,
    restorer_args: dict[str, Any],
    block_info: dict | None = None,
) -> np.ndarray:
    """Restore one overlapped block of frames and cut the halo off the result.

    Blocks at the frame's edges have no halo on that side (``boundary="none"``): the network
    sees the true edge there, as in a whole-frame restore.
    """
    restorer = cached_restorer(**restorer_args)
    n, h, w, c = block.shape
    if block_info is not None:
        row, col = block_info[0]["chunk-location"][1:3]
        rows, cols = block_info[0]["num-chunks"][1:3]
    else:  # dask's meta probe on an empty block
        row = col = rows = cols = 0
    top, left = (halo if row > 0 else 0), (halo if col > 0 else 0)
    bottom, right = (halo if row < rows - 1 else 0), (halo if col < cols - 1 else 0)
    out_h, out_w = (h - top - bottom) * scale, (w - left - right) * scale
    out = np.empty((n, out_h, out_w, c), np.uint8)
    if n == 0 or out_h <= 0 or out_w <= 0:
        return out
    frames = [f[:, :, 0] if c == 1 else f for f in block]
    sizes = [(w * scale, h * scale)] * n
    for i, sr in enumerate(restorer.restore_batch(frames, sizes)):
        sr = sr[top * scale : top * scale + out_h, left * scale : left * scale + out_w]
        out[i] = sr.reshape(out_h, out_w, c)
    return out


def _min_chunks(size: int, chunks: tuple[int, ...]) -> tuple[int, ...]:
    from dask.array.overlap import ensure_minimum_chunksize

    if len(chunks) == 1 or sum(chunks) <= size:
        return (sum(chunks),)
    return tuple(ensure_minimum_chunksize(size, chunks))


def _stored_chunks(array: Any) -> tuple[int, ...] | str:
    """The chunks ``array`` is stored in (a Zarr or HDF5 array's ``chunks``), so that a block
    is a stored chunk: ``dask.array.from_array`` would otherwise merge them into blocks of about
    128 MiB (hundreds of frames, a handful of tasks). "auto" for an array stored in none."""
    chunks = getattr(array, "chunks", None)
    shape = getattr(array, "shape", None)
    if (
        isinstance(chunks, tuple)
        and shape is not None
        and len(chunks) == len(shape)
        and all(isinstance(c, int) and c > 0 for c in chunks)
    ):
        return chunks
    return "auto"


def restore(
    lowres: Any,
    model: str | None = None,
    *,
    weights: Iterable[str | os.PathLike] = (),
    **options: Any,
) -> Any:
    """The restored, full-resolution Dask array (frames x 2H x 2W x C, uint8) of ``lowres``.

    ``lowres``: a frames x H x W x C uint8 array (C 1 or 3): a Dask array, or anything
    ``dask.array.from_array`` takes (a Zarr array of low-resolution frames, a numpy array). Its
    chunks along frames, H and W are kept (channels are never split); each block is restored
    with a halo of the model's receptive radius, so the result equals a whole-frame restore.
    ``model`` (id or name; default the bundled model, or the single ``weights`` file) is
    resolved here and again in each worker, which loads it once (``cached_restorer``); give
    ``weights`` on storage every worker sees when the model is not installed there.
    ``options`` (``engine``, ``precision``, ``threads``, ``tile``) go to ``cached_restorer``.
    Nothing runs until the result is computed.
    """
    try:
        import dask.array as da
    except ImportError:
        raise SrcodecError("Dask arrays need dask: pip install 'srcodec[parallel]'") from None
    weights = tuple(str(w) for w in weights)
    try:  # unknown options are refused now, not in the workers at compute time
        inspect.signature(cached_restorer).bind(model, weights, **options)
    except TypeError as exc:
        raise SrcodecError(f"restore: {exc}") from None
    info = pick_model(model, weights)
    depth, scale = info.config.receptive_radius, info.config.scale
    array = (
        lowres if isinstance(lowres, da.Array) else da.from_array(lowres, _stored_chunks(lowres))
    )
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] not in (1, 3):
        raise FrameError(
            f"restore takes a frames x H x W x C (1 or 3) uint8 array, got {array.dtype} "
            f"{array.shape}"
        )
    # Every block must be at least as large as its halo, or the halo would need pixels two
    # blocks away; and channels are never split.
    chunks = (
        array.chunks[0],
        *(_min_chunks(depth, c) for c in array.chunks[1:3]),
        (array.shape[3],),
    )
    array = array.rechunk(chunks)
    out_chunks = (chunks[0], *(tuple(n * scale for n in c) for c in chunks[1:3]), chunks[3])
    return da.map_overlap(
        _restore_block,
        array,
        depth={0: 0, 1: depth, 2: depth, 3: 0},
        boundary="none",
        trim=False,
        chunks=out_chunks,
        dtype=np.uint8,
        meta=np.empty((0, 0, 0, 0), np.uint8),
        halo=depth,
        scale=scale,
        restorer_args={"model": info.id, "weights": weights, **options},
    )
