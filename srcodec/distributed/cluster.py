"""Many inputs at once on a Dask distributed cluster: ``run_many`` encodes many frame folders
(one archive each) or decodes many archives, one task per input, on a local cluster of
single-threaded worker processes or an existing scheduler, and reports every input's outcome.

Restoration over arrays is srcodec.distributed.daskarray; archives to and from Zarr,
srcodec.distributed.zarrstore.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..display import count
from ..errors import SrcodecError
from .daskarray import restore
from .zarrstore import archive_to_zarr, zarr_to_archive

__all__ = ["KINDS", "TaskResult", "archive_to_zarr", "restore", "run_many", "zarr_to_archive"]

#: What ``run_many`` can do to each input, and the archive suffix an encode writes.
KINDS = ("encode", "decode")
ARCHIVE_SUFFIX = ".src"


@dataclass
class TaskResult:
    """One input's outcome: what was written, a summary line, or the error that stopped it."""

    input: str
    output: str
    summary: str = ""
    error: str = ""
    #: Frames skipped (encode) or damaged (decode), each with why; the rest were written.
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error


def output_path(kind: str, source: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Where ``run_many`` writes one input's result inside ``folder``: ``name.src`` for a frame
    folder (or video) to encode, a folder ``name/`` for an archive to decode."""
    stem = Path(source).stem if Path(source).suffix else Path(source).name
    return Path(folder) / (stem + ARCHIVE_SUFFIX if kind == "encode" else stem)


# The task functions run in the workers: they get paths and plain options, never open files,
# and turn srcodec's and the file system's errors into a result, so one input cannot stop others.


def _encode_task(source: str, output: str, options: dict[str, Any]) -> TaskResult:
    from ..archive.writer import encode

    try:
        s = encode(source, output, **options)
    except (SrcodecError, OSError) as exc:
        return TaskResult(source, output, error=_message(exc))
    summary = f"{count(s.frames, 'frame')}, {s.input_bytes:,} -> {s.archive_bytes:,} bytes"
    return TaskResult(source, output, summary, problems=tuple(s.skipped))


def _decode_task(archive: str, output: str, options: dict[str, Any]) -> TaskResult:
    from ..archive.tofolder import decode_to_folder

    try:
        s = decode_to_folder(archive, output, **options)
    except (SrcodecError, OSError) as exc:
        return TaskResult(archive, output, error=_message(exc))
    frames = sum(1 for name, _ in s.damaged if name is not None)
    summary = f"{count(len(s.written), 'frame')} restored" + (
        f", {count(frames, 'damaged frame')} skipped" if frames else ""
    )
    return TaskResult(archive, output, summary, problems=tuple(s.damaged))


_TASKS = {"encode": _encode_task, "decode": _decode_task}


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _client(workers: int | None, scheduler: str | None) -> tuple[Any, Any]:
    """A distributed client and the local cluster it owns (None with ``scheduler``)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SrcodecError(
            "running on a Dask cluster needs distributed: pip install 'srcodec[parallel]'"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise SrcodecError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    # One thread per worker process, and the numerical libraries told so too: N workers use N
    # cores, never N times a library's own thread pool.
    single = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    cluster = LocalCluster(
        n_workers=workers or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=single,
        silence_logs=logging.ERROR,  # the CLI reports per input; no worker chatter on stderr
    )
    return Client(cluster), cluster


def run_many(
    kind: Literal["encode", "decode"],
    inputs: list[str | os.PathLike],
    output: str | os.PathLike,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    **options: Any,
) -> list[TaskResult]:
    """Encode (or decode) every input as its own task; returns one ``TaskResult`` per input, in
    input order, whether it succeeded or not.

    ``encode``: each input is a frame folder written to ``output/<name>.src``; ``decode``: each
    an archive restored into ``output/<name>/``. ``options`` go to ``srcodec.encode`` or
    ``srcodec.decode_to_folder`` (decode's network gets ``threads=1`` unless given, one per
    worker thread). Runs on ``client`` if given, else on the scheduler at ``scheduler``, else
    on a local cluster of ``workers`` single-threaded processes, closed at the end.
    """
    if kind not in KINDS:
        raise SrcodecError(f"unknown kind {kind!r} (use {', '.join(KINDS)})")
    if workers is not None and workers < 1:
        raise SrcodecError(f"workers must be at least 1, got {workers}")
    if workers and scheduler:
        raise SrcodecError("give workers or a scheduler address, not both")
    sources = [str(p) for p in inputs]
    if not sources:
        raise SrcodecError(f"nothing to {kind}")
    targets = [str(output_path(kind, s, output)) for s in sources]
    seen: dict[str, str] = {}
    for source, target in zip(sources, targets, strict=True):
        if target in seen:
            raise SrcodecError(f"{seen[target]} and {source} would both be written to {target}")
        seen[target] = source
    if kind == "decode":
        options.setdefault("threads", 1)
    Path(output).mkdir(parents=True, exist_ok=True)
    own = client is None
    cluster = None
    if own:
        client, cluster = _client(workers, scheduler)
    try:
        task = _TASKS[kind]
        # pure=False: running an input twice is a new task (the files may have changed).
        futures = [
            client.submit(task, s, t, options, pure=False)
            for s, t in zip(sources, targets, strict=True)
        ]
        results = []
        for source, target, future in zip(sources, targets, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as exc:  # a worker died or the task raised unexpectedly
                results.append(TaskResult(source, target, error=f"{type(exc).__name__}: {exc}"))
        return results
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
