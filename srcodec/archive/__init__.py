"""The .src archive: its byte layout and everything that writes or reads it.

layout.py owns the byte layout (docs/format.md): magic, chunks, header, frame and group
records, index and trailer. filewriter.py and filereader.py write and read those records
(salvage.py: the scan that reads a damaged file without its index). Above them: writer.py
encodes frames into a lossless archive (autocodec.py picks its low-resolution codec),
lossywriter.py a lossy one at a quality or rate, reader.py restores frames with the model the
header names, tofolder.py and tovideo.py restore a whole archive, recovery.py verifies and
recovers damaged ones.
"""

from __future__ import annotations

from .filereader import ArchiveReader
from .filewriter import ArchiveWriter
from .layout import (
    COMPACT_VERSION,
    FORMAT_VERSION,
    GROUPS_VERSION,
    MAGIC,
    MAX_GROUP_FRAMES,
    PLAIN_VERSION,
    DamagedRegion,
    FrameInfo,
    FrameNotFoundError,
    FrameRecord,
    GroupRecord,
    Header,
    IndexEntry,
    ScanResult,
)
from .lossywriter import LossySummary, encode_lossy
from .reader import Archive, decode, open
from .recovery import RecoverReport, VerifyReport, recover, verify
from .tofolder import DecodeSummary, decode_to_folder
from .tovideo import decode_to_video
from .writer import EncodeSummary, append, encode

__all__ = [
    "COMPACT_VERSION",
    "FORMAT_VERSION",
    "GROUPS_VERSION",
    "MAGIC",
    "MAX_GROUP_FRAMES",
    "PLAIN_VERSION",
    "Archive",
    "ArchiveReader",
    "ArchiveWriter",
    "DamagedRegion",
    "DecodeSummary",
    "EncodeSummary",
    "FrameInfo",
    "FrameNotFoundError",
    "FrameRecord",
    "GroupRecord",
    "Header",
    "IndexEntry",
    "LossySummary",
    "RecoverReport",
    "ScanResult",
    "VerifyReport",
    "append",
    "decode",
    "decode_to_folder",
    "decode_to_video",
    "encode",
    "encode_lossy",
    "open",
    "recover",
    "verify",
]


def __getattr__(name: str):
    # srcodec 0.1's modules srcodec.archive (now reader.py) and srcodec.container (layout.py,
    # filereader.py, filewriter.py): their other public names still resolve here.
    from importlib import import_module

    for module in ("reader", "layout", "filereader", "filewriter"):
        found = getattr(import_module(f".{module}", __name__), name, None)
        if found is not None and not name.startswith("_"):
            return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
