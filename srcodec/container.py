"""The .src archive file: the one module that knows its byte layout (specified in docs/format.md).

A magic number and version, then PNG-like checksummed chunks: a JSON header, one chunk per frame
(or, from format 2, per group of frames coded as one stream), an index and a fixed-size trailer;
readers get random access and survive truncation. From format 3 the per-frame tables (a group's
frame records, the index) are zstd-compressed, so that small lossy archives are not their tables.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from .atomic import AtomicFile, exists_error
from .errors import CorruptError, FormatError, FrameError, SrcodecError
from .pixels import CHANNELS, MODES
from .resample import lowres_size

__all__ = [
    "COMPACT_VERSION",
    "FORMAT_VERSION",
    "GROUPS_VERSION",
    "MAGIC",
    "MAX_GROUP_FRAMES",
    "PLAIN_VERSION",
    "ArchiveReader",
    "ArchiveWriter",
    "DamagedRegion",
    "FrameInfo",
    "FrameNotFoundError",
    "FrameRecord",
    "GroupRecord",
    "Header",
    "IndexEntry",
    "ScanResult",
]

MAGIC = b"\x89SRC\r\n\x1a\n"
FORMAT_VERSION = 3  # the newest version this module reads and writes
# Archives with GRUP chunks are version 2 or 3, so that version-1 readers refuse them by name
# instead of finding index entries that point to chunks they skip; archives without stay
# version 1, byte for byte. Version 3 stores the GRUP frame tables and the INDX data as zstd
# frames (on lossy CCTV frames, 54 bytes a frame of names and offsets became 5: docs/lossy.md);
# new grouped archives are version 3, and appending to a version-2 archive keeps it version 2.
GROUPS_VERSION = 2  # the first version with GRUP chunks
COMPACT_VERSION = 3  # the first version with compressed tables
PLAIN_VERSION = 1

# Bounds, enforced by the writer and the reader (docs/format.md, "Bounds").
MAX_HEADER_BYTES = 1 << 20  # HEAD chunk data
MAX_NAME_BYTES = 1024  # UTF-8 bytes of a frame name
MAX_DIMENSION = 65535  # original frame width and height
MAX_PIXELS = 1 << 28  # original width * height (bounds the decoder's allocation)
MAX_SCALE = 16
MAX_CHUNK_BYTES = 0xFFFFFFFF  # a chunk length is a u32
MAX_GROUP_FRAMES = 4096  # frames in one GRUP chunk (bounds a stream decoder's allocation)

_HEAD, _FRAM, _INDX, _TAIL, _GRUP = b"HEAD", b"FRAM", b"INDX", b"TAIL", b"GRUP"
#: The model update an archive carries (update.py), right after HEAD, when its header names one.
_UPDT = b"UPDT"
_PREAMBLE = struct.Struct("<8sH")  # magic, format version
_CHUNK_HEAD = struct.Struct("<I4s")  # data length, type
_CRC = struct.Struct("<I")
_FRAME_FIXED = struct.Struct("<IIB")  # width, height, mode code (after u16 + name)
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_INDEX_ENTRY = struct.Struct("<QIH")  # chunk offset, chunk data length, name length
_TAIL_DATA = struct.Struct("<QI")  # INDX chunk offset, frame count
_CHUNK_OVERHEAD = _CHUNK_HEAD.size + _CRC.size
TRAILER_SIZE = _CHUNK_OVERHEAD + _TAIL_DATA.size  # the whole TAIL chunk: 24 bytes

# Version 3's compressed tables: what a reader lets each decompress to, checked against the zstd
# frame's declared size before any buffer is allocated (docs/format.md, "Bounds").
_MAX_RECORD_BYTES = _U16.size + MAX_NAME_BYTES + _FRAME_FIXED.size
MAX_GROUP_TABLE_BYTES = _U32.size + MAX_GROUP_FRAMES * _MAX_RECORD_BYTES
_MAX_ENTRY_BYTES = _INDEX_ENTRY.size + MAX_NAME_BYTES
#: The INDX data decompresses to at most this many times its compressed size, plus 1 MiB: a
#: bound proportional to the file, as version 2's index is. Measured: 80 lossy frames 15x;
#: 20 000 sequential names of 18 bytes 68x, of 1008 bytes (1000 equal) 647x.
MAX_INDEX_RATIO = 1024
# zstd level of the tables: on 80 lossy CCTV frames levels 9 and 19 gave the same bytes (155 B
# of index, 119 B for a group of 60; level 3: 172 B each), and 9 is several times faster.
_TABLE_LEVEL = 9

# Chunk types a resynchronising scan looks for after damage (docs/reliability.md), by version.
_RESYNC_TAGS = re.compile(b"FRAM|INDX|TAIL")
_RESYNC_TAGS_GROUPS = re.compile(b"FRAM|GRUP|INDX|TAIL")
_RESYNC_BLOCK = 1 << 20
#: Why bytes from a second preamble on are not this archive's.
FOREIGN = "another archive starts here (files concatenated?): foreign data, not read as frames"


class FrameNotFoundError(SrcodecError, LookupError):
    """An archive has no frame of that name or position."""


@dataclass
class Header:
    """What an archive records once: how its frames were made (JSON in the HEAD chunk)."""

    model_id: str
    scale: int
    codec: dict[str, Any]  # a LowresCodec config: {"id": ..., parameters...}
    created: str  # ISO 8601 time
    srcodec_version: str
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is of the wrong type or range."""
        for name in ("model_id", "created", "srcodec_version"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"header field {name!r} must be a string")
        if isinstance(self.scale, bool) or not isinstance(self.scale, int):
            raise ValueError("header field 'scale' must be an integer")
        if not 1 <= self.scale <= MAX_SCALE:
            raise ValueError(f"header scale {self.scale} is not in 1..{MAX_SCALE}")
        if not isinstance(self.codec, dict) or not isinstance(self.codec.get("id"), str):
            raise ValueError("header field 'codec' must be an object with a string 'id'")
        if not isinstance(self.extra, dict):
            raise ValueError("header field 'extra' must be an object")

    def to_json(self, *, compact: bool = False) -> bytes:
        """The HEAD chunk data (UTF-8 JSON); raises ``ValueError`` if invalid or not JSON-safe.
        ``compact``: without spaces after separators (how version-3 writers write it)."""
        self.validate()
        separators = (",", ":") if compact else None
        try:
            text = json.dumps(
                asdict(self),
                ensure_ascii=False,
                sort_keys=True,
                allow_nan=False,
                separators=separators,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"header is not JSON-serialisable: {exc}") from None
        data = text.encode("utf-8")
        if len(data) > MAX_HEADER_BYTES:
            raise ValueError(f"header is {len(data)} bytes, more than {MAX_HEADER_BYTES}")
        return data

    @classmethod
    def from_json(cls, data: bytes) -> Header:
        """Parse HEAD chunk data; unknown keys are ignored. Raises ``ValueError``."""
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ValueError(f"header is not UTF-8 JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError("header is not a JSON object")
        missing = [
            k for k in ("model_id", "scale", "codec", "created", "srcodec_version") if k not in obj
        ]
        if missing:
            raise ValueError(f"header lacks {', '.join(missing)}")
        header = cls(
            model_id=obj["model_id"],
            scale=obj["scale"],
            codec=obj["codec"],
            created=obj["created"],
            srcodec_version=obj["srcodec_version"],
            extra=obj.get("extra", {}),
        )
        header.validate()
        return header


@dataclass
class FrameInfo:
    """An archived frame's name, ORIGINAL (full-resolution) size and mode."""

    name: str
    width: int
    height: int
    mode: str  # "L" or "RGB"

    @property
    def channels(self) -> int:
        return CHANNELS[self.mode]


@dataclass
class FrameRecord(FrameInfo):
    """One archived frame and the low-res payload that holds it.

    A frame of a group (a GRUP chunk) has the group's stream payload as ``payload``, the group as
    ``group`` and its place in it as ``position``: decode ``group.payload`` to ``len(group)``
    frames and take frame ``position``. A frame of its own (FRAM) has ``group`` None.
    """

    payload: bytes
    group: GroupRecord | None = field(default=None, repr=False, compare=False)
    position: int = 0


@dataclass
class GroupRecord:
    """A group of frames of one mode and low-res size, coded together as one stream payload."""

    frames: list[FrameInfo]
    payload: bytes

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class IndexEntry:
    """Where a frame lies: ``offset`` of its FRAM or GRUP chunk, ``length`` of the chunk's data,
    and ``position`` in the group (0 for a FRAM frame). A group's frames share offset and length.
    """

    name: str
    offset: int
    length: int
    position: int = 0

    @property
    def chunk_size(self) -> int:
        return self.length + _CHUNK_OVERHEAD

    @property
    def payload_size(self) -> int:
        """Payload bytes of a FRAM frame (a group's frames share their chunk instead)."""
        return self.length - _U16.size - len(self.name.encode("utf-8")) - _FRAME_FIXED.size


@dataclass(frozen=True)
class DamagedRegion:
    """Bytes ``offset``..``end`` of an archive that hold no readable chunk; ``name`` is the frame
    name found at its start, if one could be read (a hint: the damage may be in the name);
    ``names`` every frame name that could be read there (all of a damaged group's)."""

    offset: int
    end: int
    reason: str
    name: str | None = None
    names: tuple[str, ...] = ()


@dataclass
class ScanResult:
    """What a linear scan of the chunks after HEAD found, resynchronising after damage.

    ``frames``: the frames of intact FRAM and GRUP chunks in file order (first of each name).
    ``salvaged``: frames of chunks whose only damage is their length field (data and CRC verify
    with the length implied by where the next chunk starts). ``damaged``: unreadable byte
    ranges, including repeated names.
    ``other``: (type, offset, data length) of every other intact chunk (INDX, TAIL, unknown).
    """

    frames: list[IndexEntry] = field(default_factory=list)
    salvaged: list[IndexEntry] = field(default_factory=list)
    damaged: list[DamagedRegion] = field(default_factory=list)
    other: list[tuple[str, int, int]] = field(default_factory=list)


class _Damage(Exception):
    """Internal: why a chunk or structure failed to parse (turned into CorruptError messages)."""


# --- encoding and decoding of chunk data ------------------------------------------------------


def _crc(ctype: bytes, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(ctype))


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return _CHUNK_HEAD.pack(len(data), ctype) + data + _CRC.pack(_crc(ctype, data))


def _encode_name(name: Any) -> bytes:
    if not isinstance(name, str):
        raise FrameError(f"frame name must be a string, got {type(name).__name__}")
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError(f"frame name {name!r} is not valid Unicode") from None
    if not 1 <= len(raw) <= MAX_NAME_BYTES:
        raise FrameError(f"frame name {name[:40]!r} must be 1..{MAX_NAME_BYTES} UTF-8 bytes")
    return raw


def _check_size(width: Any, height: Any) -> str | None:
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"size {width!r}x{height!r} is not integral"
        if not 1 <= value <= MAX_DIMENSION:
            return f"size {width}x{height} is outside 1..{MAX_DIMENSION}"
    if width * height > MAX_PIXELS:
        return f"size {width}x{height} has more than {MAX_PIXELS} pixels"
    return None


def _pack_info(info: FrameInfo) -> bytes:
    """A frame's name, size and mode: how a FRAM chunk starts and a GRUP record reads."""
    name = _encode_name(info.name)
    problem = _check_size(info.width, info.height)
    if problem:
        raise FrameError(f"frame {info.name!r}: {problem}")
    if info.mode not in CHANNELS:
        raise FrameError(f"frame {info.name!r}: mode {info.mode!r} is not 'L' or 'RGB'")
    fixed = _FRAME_FIXED.pack(info.width, info.height, CHANNELS[info.mode])
    return b"".join((_U16.pack(len(name)), name, fixed))


def _with_payload(what: str, head: bytes, payload: Any) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise FrameError(f"{what}: payload must be bytes")
    data = head + bytes(payload)
    if len(data) > MAX_CHUNK_BYTES:
        raise FrameError(f"{what}: payload of {len(data)} bytes is too large")
    return data


def _pack_frame(record: FrameRecord) -> bytes:
    return _with_payload(f"frame {record.name!r}", _pack_info(record), record.payload)


def _group_problem(frames: list[FrameInfo], scale: int) -> str | None:
    """Why ``frames`` cannot share one stream (docs/format.md, section 5a), or None."""
    if not 1 <= len(frames) <= MAX_GROUP_FRAMES:
        return f"a group holds 1..{MAX_GROUP_FRAMES} frames, not {len(frames)}"
    first = frames[0]
    size = lowres_size(first.width, first.height, scale)
    names: set[str] = set()
    for info in frames:
        if info.mode != first.mode:
            return f"frame {info.name!r} is {info.mode}, the group {first.mode}"
        if lowres_size(info.width, info.height, scale) != size:
            return (
                f"frame {info.name!r} ({info.width}x{info.height}) has another low-res size "
                f"than the group's {size[0]}x{size[1]}"
            )
        if info.name in names:
            return f"the group lists frame {info.name!r} twice"
        names.add(info.name)
    return None


def _deflate(table: bytes) -> bytes:
    """A version-3 table as one zstd frame declaring its size (no checksum: the chunk's CRC
    covers it)."""
    cctx = zstandard.ZstdCompressor(
        level=_TABLE_LEVEL, write_content_size=True, write_checksum=False
    )
    return cctx.compress(table)


def _inflate(data: bytes, bound: int, what: str) -> bytes:
    """A version-3 table: ``data`` must be exactly one zstd frame that declares its size, at
    most ``bound`` (checked before any buffer is allocated), and decompresses to it."""
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise _Damage(f"{what} is not a zstd frame ({exc})") from None
    if declared < 0:
        raise _Damage(f"{what} does not declare its size")
    if declared > bound:
        raise _Damage(f"{what} claims {declared} bytes, at most {bound}")
    try:
        table = zstandard.ZstdDecompressor().decompress(data, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise _Damage(f"{what} does not decompress ({exc})") from None
    if len(table) != declared:
        raise _Damage(f"{what} decompresses to {len(table)} bytes, not {declared}")
    return table


def _inflate_prefix(data: bytes, bound: int) -> bytes:
    """As much of a damaged zstd frame as decompresses before the damage (a hint only: the
    bytes may be wrong), at most ``bound`` bytes."""
    dobj = zstandard.ZstdDecompressor().decompressobj()
    out = bytearray()
    try:
        for pos in range(0, len(data), 256):
            out += dobj.decompress(data[pos : pos + 256])
            if len(out) >= bound:
                break
    except zstandard.ZstdError:
        pass
    return bytes(out[:bound])


def _index_bound(count: int, compressed: int) -> int:
    """The most a version-3 INDX frame of ``compressed`` bytes listing ``count`` frames may
    decompress to."""
    return min(_U32.size + count * _MAX_ENTRY_BYTES, MAX_INDEX_RATIO * compressed + (1 << 20))


def _pack_group(group: GroupRecord, scale: int, version: int) -> bytes:
    if not isinstance(group.frames, (list, tuple)):
        raise FrameError("a group's frames must be a list")
    records = [_pack_info(info) for info in group.frames]
    problem = _group_problem(list(group.frames), scale)
    if problem:
        raise FrameError(problem)
    head = b"".join((_U32.pack(len(records)), *records))
    if version >= COMPACT_VERSION:
        table = _deflate(head)
        head = _U32.pack(len(table)) + table
    return _with_payload(f"group of {group.frames[0].name!r}", head, group.payload)


def _unpack_name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """Read a u16-length-prefixed UTF-8 name at ``pos``; returns it and the position after it."""
    if pos + _U16.size > end:
        raise _Damage("name length is cut off")
    (size,) = _U16.unpack_from(data, pos)
    pos += _U16.size
    if not 1 <= size <= MAX_NAME_BYTES:
        raise _Damage(f"name length {size} is outside 1..{MAX_NAME_BYTES}")
    if pos + size > end:
        raise _Damage("name is cut off")
    try:
        return data[pos : pos + size].decode("utf-8"), pos + size
    except UnicodeDecodeError:
        raise _Damage("name is not UTF-8") from None


def _unpack_info(data: bytes, pos: int, end: int) -> tuple[FrameInfo, int]:
    """Read a frame's name, size and mode at ``pos``; returns it and the position after it."""
    name, pos = _unpack_name(data, pos, end)
    if pos + _FRAME_FIXED.size > end:
        raise _Damage("frame fields are cut off")
    width, height, code = _FRAME_FIXED.unpack_from(data, pos)
    problem = _check_size(width, height)
    if problem:
        raise _Damage(problem)
    if code not in MODES:
        raise _Damage(f"unknown mode code {code}")
    return FrameInfo(name, width, height, MODES[code]), pos + _FRAME_FIXED.size


def _unpack_frame(data: bytes) -> FrameRecord:
    info, pos = _unpack_info(data, 0, len(data))
    return FrameRecord(info.name, info.width, info.height, info.mode, payload=data[pos:])


def _unpack_group_frames(data: bytes, end: int) -> tuple[list[FrameInfo], int]:
    """The records of a group's frame table (version 2: GRUP data) up to ``end`` (all that can
    be read, if fewer than its count), and where they end."""
    if end < _U32.size:
        raise _Damage("group frame count is cut off")
    (count,) = _U32.unpack_from(data)
    if not 1 <= count <= MAX_GROUP_FRAMES:
        raise _Damage(f"group frame count {count} is outside 1..{MAX_GROUP_FRAMES}")
    frames: list[FrameInfo] = []
    pos = _U32.size
    for _ in range(count):
        info, pos = _unpack_info(data, pos, end)
        frames.append(info)
    return frames, pos


def _compact_table(data: bytes) -> tuple[int, int]:
    """Where a version-3 GRUP chunk's compressed frame table ends, after its u32 length."""
    if len(data) < _U32.size:
        raise _Damage("group frame table length is cut off")
    end = _U32.size + _U32.unpack_from(data)[0]
    if end > len(data):
        raise _Damage("group frame table is cut off")
    return end


def _unpack_group(data: bytes, scale: int, version: int) -> GroupRecord:
    if version >= COMPACT_VERSION:
        pos = _compact_table(data)
        table = _inflate(data[_U32.size : pos], MAX_GROUP_TABLE_BYTES, "group frame table")
        frames, end = _unpack_group_frames(table, len(table))
        if end != len(table):
            raise _Damage("group frame table has trailing bytes")
    else:
        frames, pos = _unpack_group_frames(data, len(data))
    problem = _group_problem(frames, scale)
    if problem:
        raise _Damage(problem)
    return GroupRecord(frames, payload=data[pos:])


def _pack_index(entries: list[IndexEntry], version: int) -> bytes:
    parts = [_U32.pack(len(entries))]
    for e in entries:
        name = e.name.encode("utf-8")
        parts.append(_INDEX_ENTRY.pack(e.offset, e.length, len(name)))
        parts.append(name)
    data = b"".join(parts)
    if version < COMPACT_VERSION:
        return data
    packed = _deflate(data)
    if len(data) > _index_bound(len(entries), len(packed)):
        raise SrcodecError(
            f"the index of {len(entries)} frames compresses beyond the format's bound; "
            "use shorter frame names"
        )
    return packed


# --- writer ------------------------------------------------------------------------------------


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
        version-2 archive, which older srcodec then still reads)."""
        self.path = Path(path)
        if version is None:
            version = FORMAT_VERSION if groups else PLAIN_VERSION
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
            self._write(_PREAMBLE.pack(MAGIC, self.format_version))
            self._write(_chunk(_HEAD, head))
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
        data = _pack_frame(record)
        return self._append(_FRAM, data, [record])[0]

    def add_group(self, group: GroupRecord) -> list[IndexEntry]:
        """Append frames coded together as one stream payload (a GRUP chunk): 1..4096 frames of
        one mode and low-res size, with names new to the archive. Needs ``groups=True``."""
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        if self.format_version < GROUPS_VERSION:
            raise SrcodecError(f"{self.path}: groups need an archive opened with groups=True")
        data = _pack_group(group, self.header.scale, self.format_version)
        return self._append(_GRUP, data, group.frames)

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
        self._write(_chunk(ctype, data))
        self._entries += entries
        self._by_name.update(info.name for info in frames)
        return entries

    def add_update(self, data: bytes) -> None:
        """Write the UPDT chunk (the model update the header names): once, before any frame."""
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} is already closed")
        if self._offset != self._after_head:
            raise SrcodecError(f"{self.path}: the model update goes right after the header")
        if len(data) > MAX_CHUNK_BYTES:
            raise SrcodecError(f"{self.path}: a model update of {len(data)} bytes is too large")
        self._write(_chunk(_UPDT, bytes(data)))

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
                    raise _Damage(f"chunk at offset {offset} overlaps the index")
                if ctype == _GRUP and reader._groups and not self.format_version >= GROUPS_VERSION:
                    raise SrcodecError(
                        f"{reader.path} holds frame groups: {self.path} must be opened with "
                        "groups=True to take them"
                    )
                if ctype == _GRUP and not reader._groups and self.format_version >= GROUPS_VERSION:
                    # A chunk a version-1 reader skips, which this archive would read as a group.
                    raise _Damage(f"unknown GRUP chunk at offset {offset}")
                frames = reader._chunk_frames(ctype, data)
                compact = self.format_version >= COMPACT_VERSION
                if ctype == _GRUP and compact != (reader.format_version >= COMPACT_VERSION):
                    group = _unpack_group(data, reader.header.scale, reader.format_version)
                    data = _pack_group(group, self.header.scale, self.format_version)
                if frames:
                    for position, info in enumerate(frames):
                        if info.name in self._by_name:
                            raise _Damage(f"frame {info.name!r} is already in {self.path}")
                        self._entries.append(
                            IndexEntry(info.name, self._offset, len(data), position)
                        )
                        self._by_name.add(info.name)
                        names.append(info.name)
                elif ctype in (_HEAD, _INDX, _TAIL):
                    raise _Damage(f"unexpected {_show(ctype)} chunk at offset {offset}")
                self._write(_chunk(ctype, data))
                offset = end
            if names != reader.names:
                raise _Damage("its chunks and its index list different frames")
        except _Damage as exc:
            raise CorruptError(f"{reader.path} is damaged: {exc}; recover it first") from None
        return len(names)

    def close(self) -> None:
        """Write the index and trailer, flush to disk and move the archive to ``path``."""
        if self._file.done:
            return
        if self._file.fh is None:
            raise SrcodecError(f"archive {self.path} was aborted")
        index_offset = self._offset
        self._write(_chunk(_INDX, _pack_index(self._entries, self.format_version)))
        self._write(_chunk(_TAIL, _TAIL_DATA.pack(index_offset, len(self._entries))))
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


# --- reader ------------------------------------------------------------------------------------


class ArchiveReader:
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
            self._resync_tags = _RESYNC_TAGS_GROUPS if self._groups else _RESYNC_TAGS
            self._last_group: tuple[int, int, GroupRecord] | None = None  # offset, length, group
            try:
                ctype, data, self._data_start = self._read_chunk(
                    _PREAMBLE.size, max_length=MAX_HEADER_BYTES
                )
                if ctype != _HEAD:
                    raise _Damage(f"first chunk is {ctype!r}, not HEAD")
                self.header = Header.from_json(data)
                self.raw_header = data
            except (_Damage, ValueError) as exc:
                raise CorruptError(f"header of {self.path} is damaged: {exc}") from None
            self._index_offset: int | None = None
            try:
                self._entries = self._load_index()
            except _Damage as exc:
                self.index_recovered = True
                found = self.scan()
                self._entries = found.frames
                self.index_problem = str(exc)
                self.scan_damage = found.damaged
                self.damage = f"index unusable ({exc})" + _describe(found)
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
        head = self._pread(offset, _CHUNK_HEAD.size)
        if len(head) < _CHUNK_HEAD.size:
            raise _Damage(f"chunk header at offset {offset} is cut off")
        length, ctype = _CHUNK_HEAD.unpack(head)
        if max_length is not None and length > max_length:
            raise _Damage(f"chunk at offset {offset} claims {length} bytes, at most {max_length}")
        end = offset + _CHUNK_OVERHEAD + length
        if end > self.file_size:
            raise _Damage(f"chunk at offset {offset} is cut off ({length} bytes claimed)")
        body = self._pread(offset + _CHUNK_HEAD.size, length + _CRC.size)
        data, crc = body[:length], body[length:]
        if len(data) != length or len(crc) != _CRC.size:
            raise _Damage(f"chunk at offset {offset} is cut off")
        if _CRC.unpack(crc)[0] != _crc(ctype, data):
            raise _Damage(f"checksum mismatch in {_show(ctype)} chunk at offset {offset}")
        return ctype, data, end

    def _read_preamble(self) -> int:
        pre = self._pread(0, _PREAMBLE.size)
        if len(pre) < len(MAGIC) or not pre.startswith(MAGIC):
            raise FormatError(f"{self.path} is not a srcodec archive")
        if len(pre) < _PREAMBLE.size:
            raise CorruptError(f"{self.path} is truncated (no format version)")
        version = _PREAMBLE.unpack(pre)[1]
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
            raise _Damage("no trailer")
        if self._pread(tail_offset, _CHUNK_HEAD.size)[4:] != _TAIL:
            raise _Damage("no trailer at the end of the file; is it truncated?")
        ctype, data, _ = self._read_chunk(tail_offset, max_length=_TAIL_DATA.size)
        if len(data) != _TAIL_DATA.size:
            raise _Damage("the trailer has the wrong size")
        index_offset, count = _TAIL_DATA.unpack(data)
        if not self._data_start <= index_offset <= tail_offset - _CHUNK_OVERHEAD:
            raise _Damage(f"trailer points outside the file (offset {index_offset})")
        ctype, data, end = self._read_chunk(index_offset, tail_offset - index_offset)
        if ctype != _INDX:
            raise _Damage(f"trailer points to a {_show(ctype)} chunk, not INDX")
        if end != tail_offset:
            # An archive's index is followed by its trailer: anything else means bytes were
            # added after an index (e.g. two archives concatenated), never to be trusted.
            raise _Damage(f"the index at offset {index_offset} is not followed by the trailer")
        entries = self._parse_index(data, count, index_offset)
        self._index_offset = index_offset
        return entries

    def _parse_index(self, data: bytes, count: int, limit: int) -> list[IndexEntry]:
        if self.format_version >= COMPACT_VERSION:
            data = _inflate(data, _index_bound(count, len(data)), "index")
        if len(data) < _U32.size or _U32.unpack_from(data)[0] != count:
            raise _Damage("index and trailer disagree on the frame count")
        # Each entry takes at least this many bytes, so a bogus count fails before any loop.
        if count * (_INDEX_ENTRY.size + 1) > len(data) - _U32.size:
            raise _Damage(f"index is too short for {count} frames")
        entries: list[IndexEntry] = []
        seen: set[str] = set()
        pos = _U32.size
        for _ in range(count):
            if pos + _INDEX_ENTRY.size > len(data):
                raise _Damage("index is cut off")
            offset, length, _size = _INDEX_ENTRY.unpack_from(data, pos)
            name, pos = _unpack_name(data, pos + _INDEX_ENTRY.size - _U16.size, len(data))
            if name in seen:
                raise _Damage(f"index lists frame {name!r} twice")
            if offset < self._data_start or offset + _CHUNK_OVERHEAD + length > limit:
                raise _Damage(f"index entry of {name!r} points outside the frame area")
            seen.add(name)
            entries.append(IndexEntry(name=name, offset=offset, length=length))
        if pos != len(data):
            raise _Damage("index has trailing bytes")
        return self._group_positions(entries) if self._groups else entries

    @staticmethod
    def _group_positions(entries: list[IndexEntry]) -> list[IndexEntry]:
        """Version 2: consecutive entries with one offset are the frames of one group, in order."""
        placed: list[IndexEntry] = []
        offsets: set[int] = set()
        for e in entries:
            if placed and placed[-1].offset == e.offset:
                if placed[-1].length != e.length:
                    raise _Damage(f"index gives the group at offset {e.offset} two lengths")
                e = IndexEntry(e.name, e.offset, e.length, placed[-1].position + 1)
            elif e.offset in offsets:
                raise _Damage(f"index splits the group at offset {e.offset}")
            offsets.add(e.offset)
            placed.append(e)
        return placed

    def scan(self) -> ScanResult:
        """Walk every chunk after HEAD, checking each CRC, without using the index.

        After a chunk that fails (cut off, bad CRC, invalid frame fields), the scan resumes at
        the next offset holding a whole chunk of type FRAM, INDX or TAIL with a valid CRC, so
        one damaged record costs only itself. Memory stays bounded by the largest chunk.
        """
        result = ScanResult()
        seen: set[str] = set()
        offset = self._data_start
        while offset < self.file_size:
            try:
                ctype, data, end = self._read_chunk(offset)
            except _Damage as exc:
                if self._pread(offset, len(MAGIC)) == MAGIC:
                    # Another archive's preamble: what follows is foreign data with its own
                    # header and model, never adopted as this archive's frames.
                    result.damaged.append(DamagedRegion(offset, self.file_size, FOREIGN))
                    break
                end = self._next_chunk_or_archive(offset + 1)
                result.salvaged += self._salvage(offset, end, seen)
                result.damaged.append(self._damaged(offset, end, str(exc)))
                offset = end
                continue
            try:
                frames = self._chunk_frames(ctype, data)
            except _Damage as exc:
                result.damaged.append(self._damaged(offset, end, str(exc)))
                offset = end
                continue
            if not frames:
                result.other.append((_show(ctype), offset, len(data)))
            for position, info in enumerate(frames):
                if info.name in seen:
                    why = f"frame {info.name!r} appears twice"
                    result.damaged.append(DamagedRegion(offset, end, why, info.name, (info.name,)))
                    continue
                seen.add(info.name)
                result.frames.append(IndexEntry(info.name, offset, len(data), position))
            offset = end
        return result

    def _chunk_frames(self, ctype: bytes, data: bytes) -> list[FrameInfo]:
        """The frames an intact chunk holds: one for FRAM, a group's for GRUP (from version 2),
        none for any other type. ``_Damage`` if its fields are invalid."""
        if ctype == _FRAM:
            return [_unpack_frame(data)]
        if ctype == _GRUP and self._groups:
            return _unpack_group(data, self.header.scale, self.format_version).frames
        return []

    def _damaged(self, offset: int, end: int, reason: str) -> DamagedRegion:
        names = self._peek_names(offset, end)
        return DamagedRegion(offset, end, reason, names[0] if names else None, tuple(names))

    def _resync(self, start: int) -> int:
        """The first offset >= ``start`` where a valid FRAM, INDX or TAIL chunk begins, else the
        file size. Reads the file in blocks; each candidate's CRC is checked."""
        pos = start + _U32.size  # the type tag follows the 4-byte length
        while pos < self.file_size:
            block = self._pread(pos, _RESYNC_BLOCK + 3)
            for match in self._resync_tags.finditer(block):
                if match.start() >= _RESYNC_BLOCK:
                    break  # found again, whole, in the next block
                candidate = pos + match.start() - _U32.size
                try:
                    self._read_chunk(candidate)
                except _Damage:
                    continue
                return candidate
            pos += _RESYNC_BLOCK
        return self.file_size

    def _next_chunk_or_archive(self, start: int) -> int:
        """Where the scan resumes after damage at ``start - 1``: the next valid chunk, or the
        preamble of another archive if one comes first (so its frames are never adopted)."""
        found = self._resync(start)
        pos = start
        while pos < found:
            block = self._pread(pos, min(_RESYNC_BLOCK, found - pos) + len(MAGIC) - 1)
            at = block.find(MAGIC)
            if at >= 0 and pos + at < found:
                return pos + at
            pos += _RESYNC_BLOCK
        return found

    def _salvage(self, offset: int, end: int, seen: set[str]) -> list[IndexEntry]:
        """The frames of a FRAM or GRUP chunk at ``offset`` whose length field alone is damaged:
        its CRC verifies when the data is taken to run up to ``end``, where the next good chunk
        starts."""
        length = end - offset - _CHUNK_OVERHEAD
        if length < 0 or end >= self.file_size:
            return []
        try:
            ctype, data = self._read_data(IndexEntry("", offset, length), trust_length=True)
            frames = self._chunk_frames(ctype, data)
        except _Damage:
            return []
        if any(info.name in seen for info in frames):
            return []
        return [IndexEntry(info.name, offset, length, k) for k, info in enumerate(frames)]

    def _peek_names(self, offset: int, end: int) -> list[str]:
        """The frame names at the start of a damaged FRAM or GRUP chunk, as far as they can be
        read (a hint: the damage may be in them)."""
        ctype = self._pread(offset + _U32.size, 4)
        start = offset + _CHUNK_HEAD.size
        if ctype == _FRAM:
            head = self._pread(start, max(0, min(end - start, _U16.size + MAX_NAME_BYTES)))
            try:
                return [_unpack_name(head, 0, len(head))[0]]
            except _Damage:
                return []
        if ctype != _GRUP or not self._groups:
            return []
        if self.format_version >= COMPACT_VERSION:
            head = self._pread(start, max(0, min(end - start, _U32.size)))
            if len(head) < _U32.size:
                return []
            # Up to the end of the compressed table, or of the damaged region if it ends first.
            size = min(_U32.unpack(head)[0], end - start - _U32.size, MAX_GROUP_TABLE_BYTES)
            table = self._pread(start + _U32.size, max(0, size))
            head = _inflate_prefix(table, MAX_GROUP_TABLE_BYTES)
        else:
            head = self._pread(start, max(0, min(end - start, MAX_GROUP_TABLE_BYTES)))
        names: list[str] = []
        try:
            if len(head) < _U32.size:
                return names
            pos = _U32.size
            for _ in range(min(_U32.unpack_from(head)[0], MAX_GROUP_FRAMES)):
                info, pos = _unpack_info(head, pos, len(head))
                names.append(info.name)
        except _Damage:
            pass
        return names

    # -- public --

    def read_update(self) -> bytes | None:
        """The data of the UPDT chunk right after HEAD; None if the chunk there is of another
        type; ``CorruptError`` if it is damaged."""
        if self._pread(self._data_start + _U32.size, 4) != _UPDT:
            return None
        try:
            return self._read_chunk(self._data_start)[1]
        except _Damage as exc:
            raise CorruptError(f"the model update of {self.path} is damaged: {exc}") from None

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
        except _Damage as exc:
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
        except _Damage as exc:
            raise CorruptError(
                f"frame {entry.name!r} at offset {entry.offset} of {self.path} is damaged: {exc}"
            ) from None

    def _read_record(self, e: IndexEntry, *, trust_length: bool = False) -> FrameRecord:
        cached = self._last_group
        if cached is not None and cached[:2] == (e.offset, e.length) and not trust_length:
            return self._group_member(cached[2], e)
        ctype, data = self._read_data(e, trust_length=trust_length)
        if ctype == _GRUP and self._groups:
            group = _unpack_group(data, self.header.scale, self.format_version)
            # Frames of a group are read one after another: keep the last group read.
            self._last_group = (e.offset, e.length, group)
            return self._group_member(group, e)
        if ctype != _FRAM or e.position != 0:
            raise _Damage("the index points to a different chunk")
        record = _unpack_frame(data)
        if e.name and record.name != e.name:
            raise _Damage(f"the chunk holds frame {record.name!r}")
        return record

    @staticmethod
    def _group_member(group: GroupRecord, e: IndexEntry) -> FrameRecord:
        if e.position >= len(group):
            raise _Damage(f"the group has {len(group)} frames, no #{e.position}")
        info = group.frames[e.position]
        if e.name and info.name != e.name:
            raise _Damage(f"the group holds frame {info.name!r} at #{e.position}")
        return FrameRecord(
            info.name, info.width, info.height, info.mode, group.payload, group, e.position
        )

    def _read_data(self, e: IndexEntry, *, trust_length: bool = False) -> tuple[bytes, bytes]:
        """The verified type and data of the chunk at ``e`` (of ``e.length`` bytes)."""
        if trust_length:
            end = e.offset + _CHUNK_OVERHEAD + e.length
            if e.offset < self._data_start or end > self.file_size:
                raise _Damage("the chunk does not fit in the file")
            ctype = self._pread(e.offset + _U32.size, 4)
            body = self._pread(e.offset + _CHUNK_HEAD.size, e.length + _CRC.size)
            data, crc = body[: e.length], body[e.length :]
            if len(data) != e.length or len(crc) != _CRC.size:
                raise _Damage("the chunk is cut off")
            if _CRC.unpack(crc)[0] != _crc(ctype, data):
                raise _Damage("checksum mismatch")
        else:
            ctype, data, _ = self._read_chunk(e.offset, max_length=e.length)
        if len(data) != e.length:
            raise _Damage("the index points to a different chunk")
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


def _show(ctype: bytes) -> str:
    return ctype.decode("ascii", "replace") if ctype.isalpha() else repr(ctype)


def _describe(found: ScanResult) -> str:
    """The scan's damage, for ``ArchiveReader.damage``: '' if it found none."""
    if not found.damaged:
        return ""
    shown = "; ".join(f"at offset {d.offset}: {d.reason}" for d in found.damaged[:3])
    more = f"; and {len(found.damaged) - 3} more" if len(found.damaged) > 3 else ""
    return f"; scan skipped {len(found.damaged)} damaged region(s): {shown}{more}"
