"""The one way srcodec writes a file: into a new hidden temporary file beside the target, flushed
and fsynced, then moved into place (and the directory fsynced), or deleted if anything fails.

Readers therefore never see a half-written archive, weights file, export or restored frame, and
two writers never share a temporary file (its name is random and created exclusively).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import SrcodecError

__all__ = ["AtomicFile", "atomic_write", "fsync_directory", "write_bytes"]


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be
    opened or synced."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def exists_error(path: Path) -> SrcodecError:
    return SrcodecError(f"{path} exists; use --force to overwrite")


class AtomicFile:
    """A file being written to a hidden temporary file beside ``path``.

    ``commit()`` fsyncs it and moves it to ``path``: with ``force`` by ``os.replace``; without,
    by a hard link that fails if ``path`` exists, so of two writers racing for one name exactly
    one wins and the other gets a clear error. ``abort()`` (or an exception inside ``with``)
    deletes it. The final file gets the usual umask-derived permissions.
    """

    def __init__(self, path: str | os.PathLike, *, force: bool = False) -> None:
        self.path = Path(path)
        self.force = force
        if not force and (self.path.exists() or self.path.is_symlink()):
            raise exists_error(self.path)
        self.fh: BinaryIO | None = None
        self.temp_path = self._create()
        self.done = False

    def _create(self) -> Path:
        # Created by hand rather than with tempfile: tempfile's files are 0600.
        short = self.path.name.encode()[:100].decode(errors="ignore")  # temp name < 255 bytes
        for _ in range(16):
            temp = self.path.with_name(f".{short}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(
                    temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
                )
            except FileExistsError:
                continue
            except OSError as exc:
                raise SrcodecError(f"cannot create {temp}: {exc.strerror or exc}") from None
            self.fh = os.fdopen(fd, "wb")
            return temp
        raise SrcodecError(f"cannot create a temporary file in {self.path.parent}")

    def write(self, data: bytes) -> None:
        if self.fh is None:
            raise SrcodecError(f"{self.path} is already closed")
        try:
            self.fh.write(data)
        except OSError as exc:
            self.abort()
            raise SrcodecError(f"cannot write {self.temp_path}: {exc.strerror or exc}") from None

    def commit(self, before_replace: Callable[[Path], None] | None = None) -> None:
        """Flush, fsync and move into place. ``before_replace(temp_path)`` runs just before the
        move; an exception from it discards the file."""
        if self.done:
            return
        if self.fh is None:
            raise SrcodecError(f"{self.path} was aborted")
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None
            if before_replace is not None:
                before_replace(self.temp_path)
            self._publish()
        except OSError as exc:
            self.abort()
            raise SrcodecError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        except BaseException:
            self.abort()
            raise
        self.done = True
        fsync_directory(self.path.parent)

    def _publish(self) -> None:
        if self.force:
            os.replace(self.temp_path, self.path)
            return
        try:
            os.link(self.temp_path, self.path)
        except FileExistsError:
            raise exists_error(self.path) from None
        except OSError:
            # No hard links here (some file systems): check, then rename.
            if self.path.exists() or self.path.is_symlink():
                raise exists_error(self.path) from None
            os.replace(self.temp_path, self.path)
            return
        self.temp_path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Discard the file: close and delete the temporary file."""
        if self.done:
            return
        fh, self.fh = self.fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        try:
            self.temp_path.unlink(missing_ok=True)
        except OSError:
            pass

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.commit()


@contextmanager
def atomic_write(path: str | os.PathLike, *, force: bool = True) -> Iterator[BinaryIO]:
    """``with atomic_write(p) as fh: fh.write(...)``: ``p`` appears complete or not at all.
    Without ``force`` an existing ``p`` is refused (before and at the final move)."""
    target = AtomicFile(path, force=force)
    try:
        assert target.fh is not None
        yield target.fh
    except BaseException:
        target.abort()
        raise
    target.commit()


def write_bytes(path: str | os.PathLike, data: bytes, *, force: bool = True) -> None:
    """Write ``data`` to ``path`` atomically and durably (``atomic_write``)."""
    with atomic_write(path, force=force) as fh:
        fh.write(data)
