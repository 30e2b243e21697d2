"""Reading a damaged .src file: the scan that walks every chunk without the index, resyncs
after damage and salvages chunks whose length alone is broken (``ChunkScanner``, a base of
srcodec.archive.filereader.ArchiveReader)."""

from __future__ import annotations

from .layout import (
    CHUNK_HEAD,
    CHUNK_OVERHEAD,
    COMPACT_VERSION,
    FOREIGN,
    FRAM,
    GRUP,
    MAGIC,
    MAX_GROUP_FRAMES,
    MAX_GROUP_TABLE_BYTES,
    MAX_NAME_BYTES,
    RESYNC_BLOCK,
    U16,
    U32,
    Damage,
    DamagedRegion,
    FrameInfo,
    IndexEntry,
    ScanResult,
    inflate_prefix,
    show_type,
    unpack_frame,
    unpack_group,
    unpack_info,
    unpack_name,
)


class ChunkScanner:
    """The scan half of ``ArchiveReader``: it reads through the reader's ``_pread``,
    ``_read_chunk`` and ``_read_data`` and its header fields."""

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
            except Damage as exc:
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
            except Damage as exc:
                result.damaged.append(self._damaged(offset, end, str(exc)))
                offset = end
                continue
            if not frames:
                result.other.append((show_type(ctype), offset, len(data)))
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
        none for any other type. ``Damage`` if its fields are invalid."""
        if ctype == FRAM:
            return [unpack_frame(data)]
        if ctype == GRUP and self._groups:
            return unpack_group(data, self.header.scale, self.format_version).frames
        return []

    def _damaged(self, offset: int, end: int, reason: str) -> DamagedRegion:
        names = self._peek_names(offset, end)
        return DamagedRegion(offset, end, reason, names[0] if names else None, tuple(names))

    def _resync(self, start: int) -> int:
        """The first offset >= ``start`` where a valid FRAM, INDX or TAIL chunk begins, else the
        file size. Reads the file in blocks; each candidate's CRC is checked."""
        pos = start + U32.size  # the type tag follows the 4-byte length
        while pos < self.file_size:
            block = self._pread(pos, RESYNC_BLOCK + 3)
            for match in self._resync_tags.finditer(block):
                if match.start() >= RESYNC_BLOCK:
                    break  # found again, whole, in the next block
                candidate = pos + match.start() - U32.size
                try:
                    self._read_chunk(candidate)
                except Damage:
                    continue
                return candidate
            pos += RESYNC_BLOCK
        return self.file_size

    def _next_chunk_or_archive(self, start: int) -> int:
        """Where the scan resumes after damage at ``start - 1``: the next valid chunk, or the
        preamble of another archive if one comes first (so its frames are never adopted)."""
        found = self._resync(start)
        pos = start
        while pos < found:
            block = self._pread(pos, min(RESYNC_BLOCK, found - pos) + len(MAGIC) - 1)
            at = block.find(MAGIC)
            if at >= 0 and pos + at < found:
                return pos + at
            pos += RESYNC_BLOCK
        return found

    def _salvage(self, offset: int, end: int, seen: set[str]) -> list[IndexEntry]:
        """The frames of a FRAM or GRUP chunk at ``offset`` whose length field alone is damaged:
        its CRC verifies when the data is taken to run up to ``end``, where the next good chunk
        starts."""
        length = end - offset - CHUNK_OVERHEAD
        if length < 0 or end >= self.file_size:
            return []
        try:
            ctype, data = self._read_data(IndexEntry("", offset, length), trust_length=True)
            frames = self._chunk_frames(ctype, data)
        except Damage:
            return []
        if any(info.name in seen for info in frames):
            return []
        return [IndexEntry(info.name, offset, length, k) for k, info in enumerate(frames)]

    def _peek_names(self, offset: int, end: int) -> list[str]:
        """The frame names at the start of a damaged FRAM or GRUP chunk, as far as they can be
        read (a hint: the damage may be in them)."""
        ctype = self._pread(offset + U32.size, 4)
        start = offset + CHUNK_HEAD.size
        if ctype == FRAM:
            head = self._pread(start, max(0, min(end - start, U16.size + MAX_NAME_BYTES)))
            try:
                return [unpack_name(head, 0, len(head))[0]]
            except Damage:
                return []
        if ctype != GRUP or not self._groups:
            return []
        if self.format_version >= COMPACT_VERSION:
            head = self._pread(start, max(0, min(end - start, U32.size)))
            if len(head) < U32.size:
                return []
            # Up to the end of the compressed table, or of the damaged region if it ends first.
            size = min(U32.unpack(head)[0], end - start - U32.size, MAX_GROUP_TABLE_BYTES)
            table = self._pread(start + U32.size, max(0, size))
            head = inflate_prefix(table, MAX_GROUP_TABLE_BYTES)
        else:
            head = self._pread(start, max(0, min(end - start, MAX_GROUP_TABLE_BYTES)))
        names: list[str] = []
        try:
            if len(head) < U32.size:
                return names
            pos = U32.size
            for _ in range(min(U32.unpack_from(head)[0], MAX_GROUP_FRAMES)):
                info, pos = unpack_info(head, pos, len(head))
                names.append(info.name)
        except Damage:
            pass
        return names


def describe_scan(found: ScanResult) -> str:
    """The scan's damage, for ``ArchiveReader.damage``: '' if it found none."""
    if not found.damaged:
        return ""
    shown = "; ".join(f"at offset {d.offset}: {d.reason}" for d in found.damaged[:3])
    more = f"; and {len(found.damaged) - 3} more" if len(found.damaged) > 3 else ""
    return f"; scan skipped {len(found.damaged)} damaged region(s): {shown}{more}"
