"""The segment files of a camera folder: their names (CAM_YYYYmmddTHHMMSSZ.src, the UTC time of
their first frame), the lock a recorder holds on the folder, and closing the segments a killed
recorder left unfinished (its temporary files) into archives of every complete group.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..clock import stamp
from ..errors import CorruptError, FormatError, SrcodecError

__all__ = [
    "RecoveredSegment",
    "camera_lock",
    "close_open_segments",
    "list_segments",
    "segment_path",
]

SEGMENT_NAME = re.compile(r"(?P<camera>.+)_(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.src")
# The archive writer's temporary file of a segment: ".<segment name>.<random hex>.tmp".
_TEMP_NAME = re.compile(r"\.(?P<final>.+\.src)\.[0-9a-f]+\.tmp")


def segment_path(folder: Path, camera: str, start_us: int) -> Path:
    """DIR/CAM/CAM_<UTC start>.src, with -1, -2 ... if a segment of that second exists."""
    base = f"{camera}_{stamp(start_us)}"
    path = folder / f"{base}.src"
    n = 0
    while path.exists() or any(folder.glob(f".{path.name}.*.tmp")):
        n += 1
        path = folder / f"{base}-{n}.src"
    return path


def list_segments(folder: Path) -> list[Path]:
    """The finished segments of a camera folder, oldest first (by name: by start time)."""
    found = [p for p in folder.glob("*.src") if SEGMENT_NAME.fullmatch(p.name)]

    def key(p: Path) -> tuple[str, int]:
        m = SEGMENT_NAME.fullmatch(p.name)
        assert m is not None
        return m["stamp"], int(m["n"] or 0)

    return sorted(found, key=key)


@contextmanager
def camera_lock(folder: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the camera folder's lock (an advisory ``flock`` on the folder itself, which the
    kernel drops when its holder dies, even by SIGKILL): one recorder per camera, and no
    recovery of a segment that a live recorder is writing. ``SrcodecError`` if it is held."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise SrcodecError(f"{folder} is being recorded by another srcodec") from None
            raise
        yield
    finally:
        os.close(fd)


@dataclass
class RecoveredSegment:
    """An unfinished segment closed by ``close_open_segments``: the archive written (None if
    nothing in it could be kept), its frames, and those lost (the group in flight)."""

    temp: Path
    path: Path | None
    frames: int = 0
    lost: list[str] = field(default_factory=list)
    note: str = ""


def close_open_segments(folder: Path) -> list[RecoveredSegment]:
    """Close every unfinished segment (temporary file) of a camera folder whose recorder is
    gone into an archive of its complete groups, and delete the temporary files. The caller
    holds the folder's lock."""
    from ..archive.recovery import recover

    done: list[RecoveredSegment] = []
    # Oldest first: a recorder's file before the copy an interrupted recovery of it started
    # (which names the same segment and holds no more than it).
    for temp in sorted(folder.glob(".*.tmp"), key=lambda p: (p.stat().st_mtime_ns, p.name)):
        m = _TEMP_NAME.fullmatch(temp.name)
        if m is None or not SEGMENT_NAME.fullmatch(m["final"]):
            continue
        final = folder / m["final"]
        item = RecoveredSegment(temp, None)
        if final.exists():
            # Killed between publishing the segment and deleting the temporary name.
            item.path, item.note = final, "already complete"
        else:
            try:
                report = recover(temp, final)
                item.path, item.frames = final, len(report.recovered)
                item.lost = [name for name, _ in report.lost]
                if report.lost or report.unnamed_damage:
                    item.note = "the group in flight was cut off"
                if not report.recovered:
                    final.unlink()
                    item.path, item.note = None, "no complete group"
            except (CorruptError, FormatError, SrcodecError) as exc:
                item.note = f"nothing kept: {exc}"
        temp.unlink(missing_ok=True)
        done.append(item)
    return done


def recover_directory(directory: Path) -> list[tuple[str, list[RecoveredSegment] | str]]:
    """``srcodec recover DIR``: close the unfinished segments of every camera folder in DIR
    (or of DIR itself, a camera folder), skipping cameras being recorded now."""
    folders = [directory] if any(directory.glob(".*.src.*.tmp")) else []
    folders += sorted(p for p in directory.iterdir() if p.is_dir())
    results: list[tuple[str, list[RecoveredSegment] | str]] = []
    for folder in folders:
        try:
            with camera_lock(folder):
                results.append((folder.name, close_open_segments(folder)))
        except SrcodecError as exc:
            results.append((folder.name, str(exc)))
    return results
