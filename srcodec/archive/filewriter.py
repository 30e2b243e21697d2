"""Writing a .src file record by record: ``ArchiveWriter`` appends chunks laid out by
srcodec.archive.layout to a hidden temporary file, moved into place when complete."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import AtomicFile, exists_error
from ..errors import CorruptError, FrameError, SrcodecError
from .layout import (
    COMPACT_VERSION,
    FORMAT_VERSION,
    FRAM,
    GROUPS_VERSION,
    GRUP,
    HEAD,
    INDX,
    MAGIC,
    MAX_CHUNK_BYTES,
    MAX_HEADER_BYTES,
    PAYLOAD_VERSION,
    PLAIN_VERSION,
    PREAMBLE,
    TAIL,
    TAIL_DATA,
    TIME,
    UPDT,
    Damage,
    FrameInfo,
    FrameRecord,
    GroupRecord,
    Header,
    IndexEntry,
    TimeRecord,
    chunk,
    pack_frame,
    pack_group,
    pack_index,
    pack_times,
    show_type,
    unpack_group,
)

if TYPE_CHECKING:
    from .filereader import ArchiveReader


class ArchiveWriter:
    """Writes an archive to a hidden temporary file beside ``path``, moved into place by
    ``close()``; an exception inside ``with`` (or ``abort()``) deletes it instead.

    >>> with ArchiveWriter("out.src", header) as w:  # doctest: +SKIP
    ...     w.add(FrameRecord("f0", 640, 480, "RGB", payload))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Header,
        *,
        force: bool = False,
        raw_header: bytes | None = None,
        before_replace: Callable[[], None] | None = None,
        groups: bool = False,
        version: int | None = None,
    ):
        """``raw_header``: HEAD data to write verbatim (an archive's own, keeping keys this
        version does not know) instead of ``header.to_json()``; it must parse to ``header``.
        ``before_replace``: called by ``close()`` just before the archive is moved into place;
        an exception from it discards the archive (used to refuse a stale append).
        ``groups``: the archive may hold groups (``add_group``), so it is format version 3.
        ``version``: the format version to write instead (groups from 2 on; 2 to append to a
        version-2 archive, which older srcodec then still reads; 4 for compact lossy stream
        payloads, ``grouped_version``)."""
        self.path = Path(path)
        if version is None:
            version = COMPACT_VERSION if groups else PLAIN_VERSION
        if not PLAIN_VERSION <= version <= FORMAT_VERSION or (groups and version < GROUPS_VERSION):
            raise SrcodecError(f"cannot write {self.path} as format version {version}")
        self.format_version = version
        self.force = force
        self.header = header
        self._before_replace = before_replace
        if not force and (self.path.exists() or self.path.is_symlink()):
            raise exists_error(self.path)
        try:
            compact = version >= COMPACT_VERSION
            head = header.to_json(compact=compact) if raw_header is None else bytes(raw_header)
            if raw_header is not None and Header.from_json(head) != header:
                raise ValueError("raw header does not match the header")
            if len(head) > MAX_HEADER_BYTES:
                raise ValueError(f"header is {len(head)} bytes, more than {MAX_HEADER_BYTES}")
        except ValueError as exc:
            raise SrcodecError(f"cannot write {self.path}: {exc}") from None
        self._entries: list[IndexEntry] = []
        self._by_name: set[str] = set()
        self._offset = 0
        self._file = AtomicFile(self.path, force=force)
        self.temp_path = self._file.temp_path
        try:
            self._write(PREAMBLE.pack(MAGIC, self.format_version))
            self._write(chunk(HEAD, head))
        except BaseException:
            self.abort()
            raise
        self._after_head = self._offset

    @property
    def bytes_written(self) -> int:
        """Bytes written so far (the archive's size once ``close()`` has run)."""
        return self._offset

    def __len__(self) -> int:
        return len(self._entries)

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._offset += len(data)

    def add(self, record: FrameRecord) -> IndexEntry:
        """Append one frame; its name must be new to the archive (``FrameError`` otherwise)."""
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        if record.group is not None:
            # Its payload is its group's stream, which only a GRUP chunk can carry.
            raise FrameError(f"frame {record.name!r} belongs to a group: add the group instead")
        data = pack_frame(record)
        return self._append(FRAM, data, [record])[0]

    def add_group(self, group: GroupRecord) -> list[IndexEntry]:
        """Append frames coded together as one stream payload (a GRUP chunk): 1..4096 frames of
        one mode and low-res size, with names new to the archive. Needs ``groups=True``."""
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        if self.format_version < GROUPS_VERSION:
            raise SrcodecError(f"{self.path}: groups need an archive opened with groups=True")
        data = pack_group(group, self.header.scale, self.format_version)
        return self._append(GRUP, data, group.frames)

    def _append(self, ctype: bytes, data: bytes, frames: list[FrameInfo]) -> list[IndexEntry]:
        for info in frames:
            if info.name in self._by_name:
                raise FrameError(f"duplicate frame name {info.name!r} in {self.path}")
        if len(self._entries) + len(frames) > 0xFFFFFFFF:
            raise FrameError(f"too many frames in {self.path}")
        entries = [
            IndexEntry(info.name, self._offset, len(data), position)
            for position, info in enumerate(frames)
        ]
        self._write(chunk(ctype, data))
        self._entries += entries
        self._by_name.update(info.name for info in frames)
        return entries

    def add_times(self, record: TimeRecord) -> None:
        """Write a TIME chunk (docs/format.md, 4b): the times of the frames added next,
        starting with ``record.first``, and the gaps before them (no frames: gaps only)."""
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        self._write(chunk(TIME, pack_times(record)))

    def sync(self) -> None:
        """Make everything written so far durable in the temporary file (flush and fsync), so
        that a crash leaves it for ``srcodec recover`` to close: used by ``record``."""
        fh = self._file.fh
        if fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        fh.flush()
        os.fsync(fh.fileno())

    def add_update(self, data: bytes) -> None:
        """Write the UPDT chunk (the model update the header names): once, before any frame."""
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        if self._offset != self._after_head:
            raise SrcodecError(f"{self.path}: the model update goes right after the header")
        if len(data) > MAX_CHUNK_BYTES:
            raise SrcodecError(f"{self.path}: a model update of {len(data)} bytes is too large")
        self._write(chunk(UPDT, bytes(data)))

    def copy_from(self, reader: ArchiveReader) -> int:
        """Copy verbatim every chunk between ``reader``'s HEAD and its index (its frames and any
        chunk of an unknown type), checking each CRC; returns the number of frames copied.

        A group is re-packed when the two versions lay its frame table out differently (2 and
        3), so that it is never misread. Refuses (``CorruptError``) an archive whose index is
        unusable, whose chunks fail their checks, or whose chunks and index disagree: run
        ``srcodec recover`` on it first.
        """
        if reader._index_offset is None:
            raise CorruptError(f"{reader.path} is damaged ({reader.damage}); recover it first")
        names: list[str] = []
        offset = reader._data_start
        try:
            while offset < reader._index_offset:
                ctype, data, end = reader._read_chunk(offset, reader._index_offset - offset)
                if end > reader._index_offset:
                    raise Damage(f"chunk at offset {offset} overlaps the index")
                if ctype == GRUP and reader._groups and not self.format_version >= GROUPS_VERSION:
                    raise SrcodecError(
                        f"{reader.path} holds frame groups: {self.path} must be opened with "
                        "groups=True to take them"
                    )
                if ctype == GRUP and not reader._groups and self.format_version >= GROUPS_VERSION:
                    # A chunk a version-1 reader skips, which this archive would read as a group.
                    raise Damage(f"unknown GRUP chunk at offset {offset}")
                if ctype == GRUP and reader.format_version >= PAYLOAD_VERSION > self.format_version:
                    # Its payload may be compact, which no reader of this version knows.
                    raise SrcodecError(
                        f"{reader.path} is format version {reader.format_version}: its groups "
                        f"cannot be copied into {self.path} (version {self.format_version})"
                    )
                frames = reader._chunk_frames(ctype, data)
                compact = self.format_version >= COMPACT_VERSION
                if ctype == GRUP and compact != (reader.format_version >= COMPACT_VERSION):
                    group = unpack_group(data, reader.header.scale, reader.format_version)
                    data = pack_group(group, self.header.scale, self.format_version)
                if frames:
                    for position, info in enumerate(frames):
                        if info.name in self._by_name:
                            raise Damage(f"frame {info.name!r} is already in {self.path}")
                        self._entries.append(
                            IndexEntry(info.name, self._offset, len(data), position)
                        )
                        self._by_name.add(info.name)
                        names.append(info.name)
                elif ctype in (HEAD, INDX, TAIL):
                    raise Damage(f"unexpected {show_type(ctype)} chunk at offset {offset}")
                self._write(chunk(ctype, data))
                offset = end
            if names != reader.names:
                raise Damage("its chunks and its index list different frames")
        except Damage as exc:
            raise CorruptError(f"{reader.path} is damaged: {exc}; recover it first") from None
        return len(names)

    def close(self) -> None:
        """Write the index and trailer, flush to disk and move the archive to ``path``."""
        if self._file.done:
            return
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} was aborted")
        index_offset = self._offset
        self._write(chunk(INDX, pack_index(self._entries, self.format_version)))
        self._write(chunk(TAIL, TAIL_DATA.pack(index_offset, len(self._entries))))
        before = self._before_replace
        self._file.commit(None if before is None else lambda _temp: before())

    def abort(self) -> None:
        """Discard the archive being written: close and delete the temporary file."""
        self._file.abort()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
