"""Checking and repairing archives: ``verify`` reads every checksum, the index and every payload
(without the network); ``recover`` copies every intact frame of a damaged archive into a new one.
A group of frames coded as one stream is decoded once and kept or lost whole.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import CorruptError, ModelError
from ..frametimes import kept_timing
from ..lowres import LowresCodec, get_codec
from ..models.store import get_model, scale_problem
from ..models.update import archive_update, base_id
from ..names import output_name_problem
from ..resample import lowres_size
from .filereader import ArchiveReader
from .filewriter import ArchiveWriter
from .layout import DamagedRegion, FrameRecord, GroupRecord, Header, IndexEntry, TimeRecord
from .reader import decode_group

__all__ = ["RecoverReport", "VerifyReport", "recover", "verify"]


@dataclass
class VerifyReport:
    """What ``verify`` found; ``ok`` only if the archive is intact in every respect."""

    path: Path
    frames: int  # frames known: listed by the index (or the scan), or seen in damaged chunks
    intact: list[str] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)  # (frame name, why)
    index_ok: bool = True
    index_problem: str | None = None  # why the index was unusable (then rebuilt by scanning)
    damaged_regions: list[DamagedRegion] = field(default_factory=list)
    not_in_index: list[str] = field(default_factory=list)  # intact chunks the index omits
    not_found_by_scan: list[str] = field(default_factory=list)  # index entries with no chunk
    other_chunks: list[str] = field(default_factory=list)  # chunk types other than FRAM/INDX/TAIL
    #: Why the archive's model (when installed) cannot restore it, e.g. a scale it does not
    #: restore; None if it can, or if the model is not installed here (nothing to check).
    model_problem: str | None = None
    #: Why the model update the header names cannot be used (decode refuses the archive).
    update_problem: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.update_problem is None
            and self.index_ok
            and self.model_problem is None
            and not self.damaged
            and not self.damaged_regions
            and not self.not_in_index
            and not self.not_found_by_scan
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["ok"] = self.ok
        d["damaged"] = [{"name": n, "reason": r} for n, r in self.damaged]
        return d


@dataclass
class RecoverReport:
    """What ``recover`` did: the frames written to ``output`` and those lost (with why)."""

    path: Path
    output: Path
    recovered: list[str] = field(default_factory=list)
    lost: list[tuple[str, str]] = field(default_factory=list)  # (frame name, why)
    unnamed_damage: list[DamagedRegion] = field(default_factory=list)  # no frame name readable
    index_problem: str | None = None
    #: Why the archive's model update was left out of ``output`` (its header then names the
    #: base model alone, so its frames restore with the general model), or None.
    update_dropped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"], d["output"] = str(self.path), str(self.output)
        d["lost"] = [{"name": n, "reason": r} for n, r in self.lost]
        return d


def _check_payload(record: FrameRecord, codec: LowresCodec, scale: int) -> str | None:
    """Why the record's payload does not decode to its low-resolution frame, or None."""
    lw, lh = lowres_size(record.width, record.height, scale)
    try:
        codec.decode(record.payload, lw, lh, record.channels)
    except CorruptError as exc:
        return f"payload does not decode: {exc}"
    return _name_problem(record.name)


class _GroupChecks:
    """``_check_payload`` for any record: a frame of a group is checked by decoding its group
    (every frame against its pixel CRC), once for all its frames, which share the outcome (but
    each has its own name check)."""

    def __init__(self, codec: LowresCodec, scale: int, path: str | os.PathLike) -> None:
        self.codec, self.scale, self.path = codec, scale, path
        self._last: tuple[GroupRecord, str | None] | None = None

    def __call__(self, record: FrameRecord) -> str | None:
        if record.group is None:
            return _check_payload(record, self.codec, self.scale)
        if self._last is None or self._last[0] is not record.group:
            try:
                decode_group(self.codec, record, self.scale, self.path)
                why = None
            except CorruptError as exc:
                why = f"payload does not decode: {exc}"
            self._last = (record.group, why)
        return self._last[1] or _name_problem(record.name)


def _model_problem(header: Header) -> str | None:
    """Whether the model the header names, if installed, can restore the archive."""
    try:
        info = get_model(base_id(header.model_id))
    except ModelError:
        return None
    return scale_problem(header.scale, info)


def verify(path: str | os.PathLike) -> VerifyReport:
    """Check every checksum, the index against a full scan, and decode every payload.

    Raises ``FormatError``/``CorruptError`` only when nothing can be checked (not an archive,
    newer version, damaged header) or the header names an unknown codec.
    """
    with ArchiveReader(path) as reader:
        codec = get_codec(reader.header.codec)
        report = VerifyReport(Path(path), len(reader))
        report.index_ok = not reader.index_recovered
        report.index_problem = reader.damage
        found = reader.scan()
        report.damaged_regions = found.damaged
        report.other_chunks = [t for t, _, _ in found.other if t not in ("INDX", "TAIL")]
        report.model_problem = _model_problem(reader.header)
        try:
            archive_update(reader)
        except CorruptError as exc:
            report.update_problem = str(exc)
        if report.index_ok:
            scanned = {e.name for e in found.frames}
            listed = set(reader.names)
            report.not_in_index = [e.name for e in found.frames if e.name not in listed]
            report.not_found_by_scan = [n for n in reader.names if n not in scanned]
        check = _GroupChecks(codec, reader.header.scale, path)
        for name, record in reader.records():
            why = str(record) if isinstance(record, CorruptError) else check(record)
            if why is None:
                report.intact.append(name)
            else:
                report.damaged.append((name, why))
        # Frames the scan saw only as damage (the index being unusable) count as damaged too,
        # every frame of a damaged group by name.
        listed = set(reader.names)
        for region in found.damaged:
            for name in region.names or ((region.name,) if region.name else ()):
                if name not in listed:
                    listed.add(name)
                    report.damaged.append((name, f"{region.reason} (scan)"))
        report.frames = len(report.intact) + len(report.damaged)
    return report


def recover(
    path: str | os.PathLike, output: str | os.PathLike, *, force: bool = False
) -> RecoverReport:
    """Write to ``output`` (atomically, same header) every intact frame of ``path``.

    Frames are looked for through the index (if usable) and through a resynchronising scan,
    so frames after a damaged record, frames missing from the index and frames whose only
    damage is their length field all come back, bit-identical and in file order. A frame is
    kept if its checksum verifies and its payload decodes; every other frame the archive
    names is reported lost, and damage where no name is readable is reported by offset. A
    model update that is intact is kept; a damaged one is dropped (``update_dropped``), the
    header of ``output`` then naming the base model alone.
    """
    path, output = Path(path), Path(output)
    with ArchiveReader(path) as reader:
        codec = get_codec(reader.header.codec)
        report = RecoverReport(path, output, index_problem=reader.damage)
        found = reader.scan()
        candidates: list[IndexEntry] = []
        if not reader.index_recovered:
            candidates += [reader.entry(i) for i in range(len(reader))]
        candidates += found.frames + found.salvaged
        check = _GroupChecks(codec, reader.header.scale, path)
        # What is written back: intact frames of their own and intact groups, whole.
        units: dict[int, FrameRecord | GroupRecord] = {}  # chunk offset -> unit
        kept: set[str] = set()
        tried: set[tuple[int, int]] = set()  # groups already read, decoded once for all frames
        why_lost: dict[str, str] = {}
        for entry in candidates:
            if entry.name in kept or (entry.offset, entry.length) in tried:
                continue
            try:
                record = reader.read_entry(entry, trust_length=True)
            except CorruptError as exc:
                why_lost.setdefault(entry.name, str(exc))
                continue
            if record.group is None:
                names, problem = [record.name], check(record)
            else:
                # A group's stream decodes whole or not at all: it is kept or lost whole.
                tried.add((entry.offset, entry.length))
                names = [info.name for info in record.group.frames]
                problem = check(record) or next(
                    (p for p in map(_name_problem, names[1:]) if p), None
                )
            if any(n in kept for n in names):
                continue
            if problem is None:
                units[entry.offset] = record if record.group is None else record.group
                kept.update(names)
            else:
                for name in names:
                    why_lost.setdefault(name, problem)
        # The times of recorded footage (TIME chunks) go with their frames: kept when every
        # frame they time is kept (and always when they record only gaps).
        for kind, offset, _ in found.other:
            if kind == "TIME":
                try:
                    record = reader.time_record(offset)
                except CorruptError:
                    continue  # malformed: its frames are kept without their times
                if record.first is None or record.first in kept:
                    units[offset] = record
        for region in found.damaged:
            for name in region.names or ((region.name,) if region.name else ()):
                why_lost.setdefault(name, region.reason)
            if region.name is None and not any(region.offset <= o < region.end for o in units):
                report.unnamed_damage.append(region)
        report.lost = [(n, why) for n, why in why_lost.items() if n not in kept]
        header, raw_header, update = reader.header, reader.raw_header, None
        try:
            if archive_update(reader) is not None:
                update = reader.read_update()
        except CorruptError as exc:
            report.update_dropped = str(exc)
            header = replace(header, model_id=base_id(header.model_id))
            header.extra = {**header.extra, "update_dropped": report.update_dropped}
            raw_header = None
        # The timestamps recorded are of the frames kept: a lost frame's is dropped, so that
        # every later frame keeps its own (they are listed in archive order).
        kept_names = [name for offset in sorted(units) for name in _unit_names(units[offset])]
        timing = kept_timing(reader, kept_names)
        if timing is not None:
            header = replace(header, extra={**header.extra, **timing})
            raw_header = None
        with ArchiveWriter(
            output,
            header,
            force=force,
            raw_header=raw_header,
            version=reader.format_version,
        ) as writer:
            if update is not None:
                writer.add_update(update)
            for offset in sorted(units):
                unit = units[offset]
                if isinstance(unit, TimeRecord):
                    writer.add_times(unit)
                elif isinstance(unit, GroupRecord):
                    writer.add_group(unit)
                    report.recovered += [info.name for info in unit.frames]
                else:
                    writer.add(unit)
                    report.recovered.append(unit.name)
    return report


def _unit_names(unit: FrameRecord | GroupRecord | TimeRecord) -> list[str]:
    """The frames a unit written back holds (a TIME chunk holds none: it times them)."""
    if isinstance(unit, TimeRecord):
        return []
    return [i.name for i in unit.frames] if isinstance(unit, GroupRecord) else [unit.name]


def _name_problem(name: str) -> str | None:
    problem = output_name_problem(name)
    return f"frame name {name!r} {problem}" if problem else None
