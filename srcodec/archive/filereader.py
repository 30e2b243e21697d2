"""Reading a .src file record by record: ``ArchiveReader`` gives random access to the chunks
laid out by srcodec.archive.layout, through the index or, when it is damaged, a scan."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import CorruptError, FormatError, SrcodecError
from .layout import (
    CHUNK_HEAD,
    CHUNK_OVERHEAD,
    COMPACT_VERSION,
    CRC,
    FORMAT_VERSION,
    FRAM,
    GROUPS_VERSION,
    GRUP,
    HEAD,
    INDEX_ENTRY,
    INDX,
    MAGIC,
    MAX_HEADER_BYTES,
    PREAMBLE,
    RESYNC_TAGS,
    RESYNC_TAGS_GROUPS,
    TAIL,
    TAIL_DATA,
    TIME,
    TRAILER_SIZE,
    U16,
    U32,
    UPDT,
    Damage,
    DamagedRegion,
    FrameNotFoundError,
    FrameRecord,
    GroupRecord,
    Header,
    IndexEntry,
    TimeRecord,
    chunk_crc,
    index_bound,
    inflate,
    show_type,
    unpack_frame,
    unpack_group,
    unpack_name,
    unpack_times,
)
from .salvage import ChunkScanner, describe_scan


class ArchiveReader(ChunkScanner):
    """Random access to an archive's frames by position or name.

    The index comes from the trailer; if the trailer or index is missing or damaged (a truncated
    file), the chunks are scanned from the start up to the last good one and ``index_recovered``
    is set, with ``damage`` saying what was wrong. Reads are positional, so one reader can serve
    several threads at once.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self._fh: BinaryIO = open(self.path, "rb")
        except OSError as exc:
            raise SrcodecError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        self._lock = threading.Lock()
        self.index_recovered = False
        self.damage: str | None = None
        self.index_problem: str | None = None
        #: Unreadable byte ranges found by the scan when the index was unusable.
        self.scan_damage: list[DamagedRegion] = []
        try:
            self.file_size = os.fstat(self._fh.fileno()).st_size
            self.format_version = self._read_preamble()
            # GRUP chunks mean groups from version 2; before, they are chunks of unknown type.
            self._groups = self.format_version >= GROUPS_VERSION
            self._resync_tags = RESYNC_TAGS_GROUPS if self._groups else RESYNC_TAGS
            self._last_group: tuple[int, int, GroupRecord] | None = None  # offset, length, group
            try:
                ctype, data, self._data_start = self._read_chunk(
                    PREAMBLE.size, max_length=MAX_HEADER_BYTES
                )
                if ctype != HEAD:
                    raise Damage(f"first chunk is {ctype!r}, not HEAD")
                self.header = Header.from_json(data)
                self.raw_header = data
            except (Damage, ValueError) as exc:
                raise CorruptError(f"header of {self.path} is damaged: {exc}") from None
            self._index_offset: int | None = None
            try:
                self._entries = self._load_index()
            except Damage as exc:
                self.index_recovered = True
                found = self.scan()
                self._entries = found.frames
                self.index_problem = str(exc)
                self.scan_damage = found.damaged
                self.damage = f"index unusable ({exc})" + describe_scan(found)
            self._positions = {e.name: i for i, e in enumerate(self._entries)}
        except BaseException:
            self._fh.close()
            raise

    # -- low level --

    def _pread(self, offset: int, size: int) -> bytes:
        # Positional reads share no file position: one open archive serves several threads.
        if hasattr(os, "pread"):
            return os.pread(self._fh.fileno(), size, offset)
        with self._lock:
            self._fh.seek(offset)
            return self._fh.read(size)

    def _read_chunk(self, offset: int, max_length: int | None = None) -> tuple[bytes, bytes, int]:
        """Read and verify the chunk at ``offset``: (type, data, offset of the next chunk)."""
        head = self._pread(offset, CHUNK_HEAD.size)
        if len(head) < CHUNK_HEAD.size:
            raise Damage(f"chunk header at offset {offset} is cut off")
        length, ctype = CHUNK_HEAD.unpack(head)
        if max_length is not None and length > max_length:
            raise Damage(f"chunk at offset {offset} claims {length} bytes, at most {max_length}")
        end = offset + CHUNK_OVERHEAD + length
        if end > self.file_size:
            raise Damage(f"chunk at offset {offset} is cut off ({length} bytes claimed)")
        body = self._pread(offset + CHUNK_HEAD.size, length + CRC.size)
        data, crc = body[:length], body[length:]
        if len(data) != length or len(crc) != CRC.size:
            raise Damage(f"chunk at offset {offset} is cut off")
        if CRC.unpack(crc)[0] != chunk_crc(ctype, data):
            raise Damage(f"checksum mismatch in {show_type(ctype)} chunk at offset {offset}")
        return ctype, data, end

    def _read_preamble(self) -> int:
        pre = self._pread(0, PREAMBLE.size)
        if len(pre) < len(MAGIC) or not pre.startswith(MAGIC):
            raise FormatError(f"{self.path} is not a srcodec archive")
        if len(pre) < PREAMBLE.size:
            raise CorruptError(f"{self.path} is truncated (no format version)")
        version = PREAMBLE.unpack(pre)[1]
        if version > FORMAT_VERSION:
            raise FormatError(
                f"{self.path} is archive format version {version}; this srcodec reads versions "
                f"up to {FORMAT_VERSION} (upgrade srcodec)"
            )
        if version < 1:
            raise CorruptError(f"{self.path} has invalid format version {version}")
        return version

    def _load_index(self) -> list[IndexEntry]:
        tail_offset = self.file_size - TRAILER_SIZE
        if tail_offset < self._data_start:
            raise Damage("no trailer")
        if self._pread(tail_offset, CHUNK_HEAD.size)[4:] != TAIL:
            raise Damage("no trailer at the end of the file; is it truncated?")
        ctype, data, _ = self._read_chunk(tail_offset, max_length=TAIL_DATA.size)
        if len(data) != TAIL_DATA.size:
            raise Damage("the trailer has the wrong size")
        index_offset, count = TAIL_DATA.unpack(data)
        if not self._data_start <= index_offset <= tail_offset - CHUNK_OVERHEAD:
            raise Damage(f"trailer points outside the file (offset {index_offset})")
        ctype, data, end = self._read_chunk(index_offset, tail_offset - index_offset)
        if ctype != INDX:
            raise Damage(f"trailer points to a {show_type(ctype)} chunk, not INDX")
        if end != tail_offset:
            # An archive's index is followed by its trailer: anything else means bytes were
            # added after an index (e.g. two archives concatenated), never to be trusted.
            raise Damage(f"the index at offset {index_offset} is not followed by the trailer")
        entries = self._parse_index(data, count, index_offset)
        self._index_offset = index_offset
        return entries

    def _parse_index(self, data: bytes, count: int, limit: int) -> list[IndexEntry]:
        if self.format_version >= COMPACT_VERSION:
            data = inflate(data, index_bound(count, len(data)), "index")
        if len(data) < U32.size or U32.unpack_from(data)[0] != count:
            raise Damage("index and trailer disagree on the frame count")
        # Each entry takes at least this many bytes, so a bogus count fails before any loop.
        if count * (INDEX_ENTRY.size + 1) > len(data) - U32.size:
            raise Damage(f"index is too short for {count} frames")
        entries: list[IndexEntry] = []
        seen: set[str] = set()
        pos = U32.size
        for _ in range(count):
            if pos + INDEX_ENTRY.size > len(data):
                raise Damage("index is cut off")
            offset, length, _size = INDEX_ENTRY.unpack_from(data, pos)
            name, pos = unpack_name(data, pos + INDEX_ENTRY.size - U16.size, len(data))
            if name in seen:
                raise Damage(f"index lists frame {name!r} twice")
            if offset < self._data_start or offset + CHUNK_OVERHEAD + length > limit:
                raise Damage(f"index entry of {name!r} points outside the frame area")
            seen.add(name)
            entries.append(IndexEntry(name=name, offset=offset, length=length))
        if pos != len(data):
            raise Damage("index has trailing bytes")
        return self._group_positions(entries) if self._groups else entries

    @staticmethod
    def _group_positions(entries: list[IndexEntry]) -> list[IndexEntry]:
        """Version 2: consecutive entries with one offset are the frames of one group, in order."""
        placed: list[IndexEntry] = []
        offsets: set[int] = set()
        for e in entries:
            if placed and placed[-1].offset == e.offset:
                if placed[-1].length != e.length:
                    raise Damage(f"index gives the group at offset {e.offset} two lengths")
                e = IndexEntry(e.name, e.offset, e.length, placed[-1].position + 1)
            elif e.offset in offsets:
                raise Damage(f"index splits the group at offset {e.offset}")
            offsets.add(e.offset)
            placed.append(e)
        return placed

    # -- public --

    def read_update(self) -> bytes | None:
        """The data of the UPDT chunk right after HEAD; None if the chunk there is of another
        type; ``CorruptError`` if it is damaged."""
        if self._pread(self._data_start + U32.size, 4) != UPDT:
            return None
        try:
            return self._read_chunk(self._data_start)[1]
        except Damage as exc:
            raise CorruptError(f"the model update of {self.path} is damaged: {exc}") from None

    def times(self) -> list[TimeRecord]:
        """Every intact TIME chunk (docs/format.md, 4b) in file order, found by walking the
        chunk headers (only TIME chunks are read); the walk stops at the first damaged chunk or
        the index. Frames a record names that the archive lacks are for the caller to skip."""
        records: list[TimeRecord] = []
        end = self.file_size if self._index_offset is None else self._index_offset
        offset = self._data_start
        while offset + CHUNK_OVERHEAD <= end:
            length, ctype = CHUNK_HEAD.unpack(self._pread(offset, CHUNK_HEAD.size))
            if offset + CHUNK_OVERHEAD + length > end or ctype in (INDX, TAIL):
                break
            if ctype == TIME:
                try:
                    records.append(self.time_record(offset))
                except CorruptError:
                    pass  # its frames have no times; verify reports a damaged chunk
            offset += CHUNK_OVERHEAD + length
        return records

    def time_record(self, offset: int) -> TimeRecord:
        """The TIME chunk at ``offset``; ``CorruptError`` if it is damaged or not one."""
        try:
            ctype, data, _ = self._read_chunk(offset)
            if ctype != TIME:
                raise Damage(f"the chunk at offset {offset} is {show_type(ctype)}, not TIME")
        except Damage as exc:
            raise CorruptError(f"{self.path}: {exc}") from None
        return unpack_times(data)

    @property
    def names(self) -> list[str]:
        """Frame names in archive order."""
        return [e.name for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def index_of(self, name: str) -> int:
        """Position of the frame called ``name`` (``FrameNotFoundError`` if none)."""
        try:
            return self._positions[name]
        except KeyError:
            raise FrameNotFoundError(f"{self.path} has no frame named {name!r}") from None

    def _position(self, key: int | str) -> int:
        if isinstance(key, str):
            return self.index_of(key)
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"frame key must be a position or a name, not {type(key).__name__}")
        n = len(self._entries)
        position = key + n if key < 0 else key
        if not 0 <= position < n:
            raise FrameNotFoundError(f"{self.path} has no frame #{key} (it has {n})")
        return position

    def entry(self, key: int | str) -> IndexEntry:
        """Where the frame at position ``key`` (or called ``key``) lies, without reading it."""
        return self._entries[self._position(key)]

    def read(self, key: int | str) -> FrameRecord:
        """The frame at position ``key`` or called ``key``; ``CorruptError`` if damaged."""
        position = self._position(key)
        e = self._entries[position]
        try:
            return self._read_record(e)
        except Damage as exc:
            raise CorruptError(
                f"frame {e.name!r} (#{position}) of {self.path} is damaged: {exc}"
            ) from None

    def read_entry(self, entry: IndexEntry, *, trust_length: bool = False) -> FrameRecord:
        """The frame at ``entry`` (from the index or from ``scan()``); ``CorruptError`` if damaged.

        ``trust_length`` takes the data length from ``entry`` instead of the chunk's own length
        field, so that a frame whose only damage is that field is still read (its CRC must
        verify); used by recovery, never by ordinary reads.
        """
        try:
            return self._read_record(entry, trust_length=trust_length)
        except Damage as exc:
            raise CorruptError(
                f"frame {entry.name!r} at offset {entry.offset} of {self.path} is damaged: {exc}"
            ) from None

    def _read_record(self, e: IndexEntry, *, trust_length: bool = False) -> FrameRecord:
        cached = self._last_group
        if cached is not None and cached[:2] == (e.offset, e.length) and not trust_length:
            return self._group_member(cached[2], e)
        ctype, data = self._read_data(e, trust_length=trust_length)
        if ctype == GRUP and self._groups:
            group = unpack_group(data, self.header.scale, self.format_version)
            # Frames of a group are read one after another: keep the last group read.
            self._last_group = (e.offset, e.length, group)
            return self._group_member(group, e)
        if ctype != FRAM or e.position != 0:
            raise Damage("the index points to a different chunk")
        record = unpack_frame(data)
        if e.name and record.name != e.name:
            raise Damage(f"the chunk holds frame {record.name!r}")
        return record

    @staticmethod
    def _group_member(group: GroupRecord, e: IndexEntry) -> FrameRecord:
        if e.position >= len(group):
            raise Damage(f"the group has {len(group)} frames, no #{e.position}")
        info = group.frames[e.position]
        if e.name and info.name != e.name:
            raise Damage(f"the group holds frame {info.name!r} at #{e.position}")
        return FrameRecord(
            info.name, info.width, info.height, info.mode, group.payload, group, e.position
        )

    def _read_data(self, e: IndexEntry, *, trust_length: bool = False) -> tuple[bytes, bytes]:
        """The verified type and data of the chunk at ``e`` (of ``e.length`` bytes)."""
        if trust_length:
            end = e.offset + CHUNK_OVERHEAD + e.length
            if e.offset < self._data_start or end > self.file_size:
                raise Damage("the chunk does not fit in the file")
            ctype = self._pread(e.offset + U32.size, 4)
            body = self._pread(e.offset + CHUNK_HEAD.size, e.length + CRC.size)
            data, crc = body[: e.length], body[e.length :]
            if len(data) != e.length or len(crc) != CRC.size:
                raise Damage("the chunk is cut off")
            if CRC.unpack(crc)[0] != chunk_crc(ctype, data):
                raise Damage("checksum mismatch")
        else:
            ctype, data, _ = self._read_chunk(e.offset, max_length=e.length)
        if len(data) != e.length:
            raise Damage("the index points to a different chunk")
        return ctype, data

    def losses(self) -> list[tuple[str | None, str]]:
        """What, beyond frames that fail when read, makes this archive not whole, as ``verify``
        names it: (frame name or None, why) for an unusable index and for every damaged byte
        range the scan skipped (named by the frames whose chunk starts there, when readable:
        every frame of a damaged group)."""
        if not self.index_recovered:
            return []
        lost: list[tuple[str | None, str]] = [(None, f"index unusable ({self.index_problem})")]
        for d in self.scan_damage:
            why = f"bytes {d.offset}..{d.end} of {self.path}: {d.reason}"
            lost += [(name, why) for name in d.names or (d.name,)]
        return lost

    def records(self) -> Iterator[tuple[str, FrameRecord | CorruptError]]:
        """(name, record) for every frame in order, with a ``CorruptError`` in place of the
        record of a damaged frame, so that a caller can carry on past it."""
        for position, e in enumerate(self._entries):
            try:
                yield e.name, self.read(position)
            except CorruptError as exc:
                yield e.name, exc

    def __iter__(self) -> Iterator[FrameRecord]:
        """Every frame in order; raises ``CorruptError`` at the first damaged one."""
        for position in range(len(self._entries)):
            yield self.read(position)

    def close(self) -> None:
        self._fh.close()

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ArchiveReader({str(self.path)!r}, frames={len(self)})"
