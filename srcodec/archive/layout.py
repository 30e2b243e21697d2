"""The .src archive file: the one module that knows its byte layout (specified in docs/format.md).

A magic number and version, then PNG-like checksummed chunks: a JSON header, one chunk per frame
(or, from format 2, per group of frames coded as one stream), an index and a fixed-size trailer;
readers get random access and survive truncation. From format 3 the per-frame tables (a group's
frame records, the index) are zstd-compressed, so that small lossy archives are not their tables.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import zstandard

from ..errors import CorruptError, FormatError, FrameError, SrcodecError
from ..pixels import CHANNELS, MODES
from ..resample import lowres_size

__all__ = [
    "COMPACT_VERSION",
    "FORMAT_VERSION",
    "GROUPS_VERSION",
    "MAGIC",
    "MAX_GROUP_FRAMES",
    "PAYLOAD_VERSION",
    "PLAIN_VERSION",
    "DamagedRegion",
    "FrameInfo",
    "FrameNotFoundError",
    "FrameRecord",
    "GroupRecord",
    "Header",
    "IndexEntry",
    "ScanResult",
    "TimeRecord",
    "grouped_version",
]

MAGIC = b"\x89SRC\r\n\x1a\n"
FORMAT_VERSION = 4  # the newest version this module reads and writes
# Archives with GRUP chunks are version 2 or 3, so that version-1 readers refuse them by name
# instead of finding index entries that point to chunks they skip; archives without stay
# version 1, byte for byte. Version 3 stores the GRUP frame tables and the INDX data as zstd
# frames (on lossy CCTV frames, 54 bytes a frame of names and offsets became 5: docs/lossy.md);
# new grouped archives are version 3, and appending to a version-2 archive keeps it version 2.
GROUPS_VERSION = 2  # the first version with GRUP chunks
COMPACT_VERSION = 3  # the first version with compressed tables
# Version 4 lets a lossy stream's GRUP payload be compact (LEB128 lengths, a pixel checksum a
# span of frames, AV1 packets without their temporal delimiter: docs/format.md, 9.7b), where
# 8 to 10 bytes a frame were a few per cent of a lossy archive of a static camera. Everything
# else is as in version 3; srcodec writes it only for archives whose payloads are compact.
PAYLOAD_VERSION = 4
PLAIN_VERSION = 1


def grouped_version(compact_payloads: bool) -> int:
    """The format version of a new archive with groups: 4 if its stream payloads are compact,
    else 3 (which srcodec releases before version 4 still read)."""
    return PAYLOAD_VERSION if compact_payloads else COMPACT_VERSION


# Bounds, enforced by the writer and the reader (docs/format.md, "Bounds").
MAX_HEADER_BYTES = 1 << 20  # HEAD chunk data
MAX_NAME_BYTES = 1024  # UTF-8 bytes of a frame name
MAX_DIMENSION = 65535  # original frame width and height
MAX_PIXELS = 1 << 28  # original width * height (bounds the decoder's allocation)
MAX_SCALE = 16
MAX_CHUNK_BYTES = 0xFFFFFFFF  # a chunk length is a u32
MAX_GROUP_FRAMES = 4096  # frames in one GRUP chunk (bounds a stream decoder's allocation)

HEAD, FRAM, INDX, TAIL, GRUP = b"HEAD", b"FRAM", b"INDX", b"TAIL", b"GRUP"
#: The model update an archive carries (update.py), right after HEAD, when its header names one.
UPDT = b"UPDT"
#: Reception times, stream timestamps and gaps of recorded footage (docs/format.md, 4b).
TIME = b"TIME"
PREAMBLE = struct.Struct("<8sH")  # magic, format version
CHUNK_HEAD = struct.Struct("<I4s")  # data length, type
CRC = struct.Struct("<I")
_FRAME_FIXED = struct.Struct("<IIB")  # width, height, mode code (after u16 + name)
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
INDEX_ENTRY = struct.Struct("<QIH")  # chunk offset, chunk data length, name length
TAIL_DATA = struct.Struct("<QI")  # INDX chunk offset, frame count
CHUNK_OVERHEAD = CHUNK_HEAD.size + CRC.size
TRAILER_SIZE = CHUNK_OVERHEAD + TAIL_DATA.size  # the whole TAIL chunk: 24 bytes

# Version 3's compressed tables: what a reader lets each decompress to, checked against the zstd
# frame's declared size before any buffer is allocated (docs/format.md, "Bounds").
_MAX_RECORD_BYTES = U16.size + MAX_NAME_BYTES + _FRAME_FIXED.size
MAX_GROUP_TABLE_BYTES = U32.size + MAX_GROUP_FRAMES * _MAX_RECORD_BYTES
_MAX_ENTRY_BYTES = INDEX_ENTRY.size + MAX_NAME_BYTES
#: The INDX data decompresses to at most this many times its compressed size, plus 1 MiB: a
#: bound proportional to the file, as version 2's index is. Measured: 80 lossy frames 15x;
#: 20 000 sequential names of 18 bytes 68x, of 1008 bytes (1000 equal) 647x.
MAX_INDEX_RATIO = 1024
# zstd level of the tables: on 80 lossy CCTV frames levels 9 and 19 gave the same bytes (155 B
# of index, 119 B for a group of 60; level 3: 172 B each), and 9 is several times faster.
_TABLE_LEVEL = 9

# Chunk types a resynchronising scan looks for after damage (docs/reliability.md), by version.
RESYNC_TAGS = re.compile(b"FRAM|INDX|TAIL")
RESYNC_TAGS_GROUPS = re.compile(b"FRAM|GRUP|INDX|TAIL")
RESYNC_BLOCK = 1 << 20
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
        return self.length + CHUNK_OVERHEAD

    @property
    def payload_size(self) -> int:
        """Payload bytes of a FRAM frame (a group's frames share their chunk instead)."""
        return self.length - U16.size - len(self.name.encode("utf-8")) - _FRAME_FIXED.size


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


class Damage(Exception):
    """Internal: why a chunk or structure failed to parse (turned into CorruptError messages)."""


# --- encoding and decoding of chunk data ------------------------------------------------------


def chunk_crc(ctype: bytes, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(ctype))


def chunk(ctype: bytes, data: bytes) -> bytes:
    return CHUNK_HEAD.pack(len(data), ctype) + data + CRC.pack(chunk_crc(ctype, data))


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
    return b"".join((U16.pack(len(name)), name, fixed))


def _with_payload(what: str, head: bytes, payload: Any) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise FrameError(f"{what}: payload must be bytes")
    data = head + bytes(payload)
    if len(data) > MAX_CHUNK_BYTES:
        raise FrameError(f"{what}: payload of {len(data)} bytes is too large")
    return data


def pack_frame(record: FrameRecord) -> bytes:
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


def inflate(data: bytes, bound: int, what: str) -> bytes:
    """A version-3 table: ``data`` must be exactly one zstd frame that declares its size, at
    most ``bound`` (checked before any buffer is allocated), and decompresses to it."""
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise Damage(f"{what} is not a zstd frame ({exc})") from None
    if declared < 0:
        raise Damage(f"{what} does not declare its size")
    if declared > bound:
        raise Damage(f"{what} claims {declared} bytes, at most {bound}")
    try:
        table = zstandard.ZstdDecompressor().decompress(data, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise Damage(f"{what} does not decompress ({exc})") from None
    if len(table) != declared:
        raise Damage(f"{what} decompresses to {len(table)} bytes, not {declared}")
    return table


def inflate_prefix(data: bytes, bound: int) -> bytes:
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


def index_bound(count: int, compressed: int) -> int:
    """The most a version-3 INDX frame of ``compressed`` bytes listing ``count`` frames may
    decompress to."""
    return min(U32.size + count * _MAX_ENTRY_BYTES, MAX_INDEX_RATIO * compressed + (1 << 20))


def pack_group(group: GroupRecord, scale: int, version: int) -> bytes:
    if not isinstance(group.frames, (list, tuple)):
        raise FrameError("a group's frames must be a list")
    records = [_pack_info(info) for info in group.frames]
    problem = _group_problem(list(group.frames), scale)
    if problem:
        raise FrameError(problem)
    head = b"".join((U32.pack(len(records)), *records))
    if version >= COMPACT_VERSION:
        table = _deflate(head)
        head = U32.pack(len(table)) + table
    return _with_payload(f"group of {group.frames[0].name!r}", head, group.payload)


def unpack_name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """Read a u16-length-prefixed UTF-8 name at ``pos``; returns it and the position after it."""
    if pos + U16.size > end:
        raise Damage("name length is cut off")
    (size,) = U16.unpack_from(data, pos)
    pos += U16.size
    if not 1 <= size <= MAX_NAME_BYTES:
        raise Damage(f"name length {size} is outside 1..{MAX_NAME_BYTES}")
    if pos + size > end:
        raise Damage("name is cut off")
    try:
        return data[pos : pos + size].decode("utf-8"), pos + size
    except UnicodeDecodeError:
        raise Damage("name is not UTF-8") from None


def unpack_info(data: bytes, pos: int, end: int) -> tuple[FrameInfo, int]:
    """Read a frame's name, size and mode at ``pos``; returns it and the position after it."""
    name, pos = unpack_name(data, pos, end)
    if pos + _FRAME_FIXED.size > end:
        raise Damage("frame fields are cut off")
    width, height, code = _FRAME_FIXED.unpack_from(data, pos)
    problem = _check_size(width, height)
    if problem:
        raise Damage(problem)
    if code not in MODES:
        raise Damage(f"unknown mode code {code}")
    return FrameInfo(name, width, height, MODES[code]), pos + _FRAME_FIXED.size


def unpack_frame(data: bytes) -> FrameRecord:
    info, pos = unpack_info(data, 0, len(data))
    return FrameRecord(info.name, info.width, info.height, info.mode, payload=data[pos:])


def _unpack_group_frames(data: bytes, end: int) -> tuple[list[FrameInfo], int]:
    """The records of a group's frame table (version 2: GRUP data) up to ``end`` (all that can
    be read, if fewer than its count), and where they end."""
    if end < U32.size:
        raise Damage("group frame count is cut off")
    (count,) = U32.unpack_from(data)
    if not 1 <= count <= MAX_GROUP_FRAMES:
        raise Damage(f"group frame count {count} is outside 1..{MAX_GROUP_FRAMES}")
    frames: list[FrameInfo] = []
    pos = U32.size
    for _ in range(count):
        info, pos = unpack_info(data, pos, end)
        frames.append(info)
    return frames, pos


def _compact_table(data: bytes) -> tuple[int, int]:
    """Where a version-3 GRUP chunk's compressed frame table ends, after its u32 length."""
    if len(data) < U32.size:
        raise Damage("group frame table length is cut off")
    end = U32.size + U32.unpack_from(data)[0]
    if end > len(data):
        raise Damage("group frame table is cut off")
    return end


def unpack_group(data: bytes, scale: int, version: int) -> GroupRecord:
    if version >= COMPACT_VERSION:
        pos = _compact_table(data)
        table = inflate(data[U32.size : pos], MAX_GROUP_TABLE_BYTES, "group frame table")
        frames, end = _unpack_group_frames(table, len(table))
        if end != len(table):
            raise Damage("group frame table has trailing bytes")
    else:
        frames, pos = _unpack_group_frames(data, len(data))
    problem = _group_problem(frames, scale)
    if problem:
        raise Damage(problem)
    return GroupRecord(frames, payload=data[pos:])


def pack_index(entries: list[IndexEntry], version: int) -> bytes:
    parts = [U32.pack(len(entries))]
    for e in entries:
        name = e.name.encode("utf-8")
        parts.append(INDEX_ENTRY.pack(e.offset, e.length, len(name)))
        parts.append(name)
    data = b"".join(parts)
    if version < COMPACT_VERSION:
        return data
    packed = _deflate(data)
    if len(data) > index_bound(len(entries), len(packed)):
        raise SrcodecError(
            f"the index of {len(entries)} frames compresses beyond the format's bound; "
            "use shorter frame names"
        )
    return packed


def show_type(ctype: bytes) -> str:
    return ctype.decode("ascii", "replace") if ctype.isalpha() else repr(ctype)


@dataclass
class TimeRecord:
    """The times of ``len(received)`` consecutive frames starting at the frame ``first`` (a
    TIME chunk, docs/format.md section 4b): each frame's reception time in microseconds since
    1970-01-01T00:00:00Z (UTC) and its stream timestamp ``pts`` in units of ``time_base``
    ("num/den" seconds; None when the stream gave none), and the ``gaps`` (start, end in the
    same microseconds, reason) of the stream before them."""

    first: str | None
    received: list[int]
    pts: list[int | None]
    time_base: str | None = None
    gaps: list[tuple[int, int, str]] = field(default_factory=list)


#: The layout version of TIME data (section 4b), and the most it may decompress to.
TIME_VERSION = 1
MAX_TIME_BYTES = 1 << 24


def pack_times(record: TimeRecord) -> bytes:
    """TIME chunk data: one zstd frame of compact JSON (section 4b)."""
    if len(record.pts) != len(record.received):
        raise ValueError("a time record needs one timestamp per frame")
    obj = {
        "version": TIME_VERSION,
        "first": record.first,
        "received": [int(t) for t in record.received],
        "pts": [None if p is None else int(p) for p in record.pts],
        "time_base": record.time_base,
        "gaps": [{"start": int(a), "end": int(b), "reason": str(r)} for a, b, r in record.gaps],
    }
    return _deflate(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def unpack_times(data: bytes) -> TimeRecord:
    """The ``TimeRecord`` of TIME chunk data; ``CorruptError`` if it is malformed, and
    ``FormatError`` for a layout version newer than this reader's."""
    try:
        obj = json.loads(inflate(data, MAX_TIME_BYTES, "TIME data").decode("utf-8"))
    except Damage as exc:
        raise CorruptError(str(exc)) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptError(f"TIME data is not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("version"), int):
        raise CorruptError("TIME data has no version")
    if obj["version"] > TIME_VERSION:
        raise FormatError(
            f"TIME data of version {obj['version']}; this srcodec reads up to {TIME_VERSION}"
        )
    try:
        received, pts, gaps = obj["received"], obj["pts"], obj.get("gaps", [])
        first, base = obj.get("first"), obj.get("time_base")
        ok = (
            isinstance(received, list)
            and isinstance(pts, list)
            and len(received) == len(pts)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in received)
            and all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in pts)
            and (first is None or isinstance(first, str))
            and (first is not None or not received)
            and (base is None or isinstance(base, str))
            and isinstance(gaps, list)
        )
        spans = [(int(g["start"]), int(g["end"]), str(g["reason"])) for g in gaps]
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise CorruptError("TIME data has fields of the wrong type")
    return TimeRecord(first, received, pts, base, spans)
