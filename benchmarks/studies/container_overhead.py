"""Where a small lossy archive's bytes go, in format 3 (version-1 stream payloads) and format 4
(compact payloads, docs/format.md 9.7b): the same frames coded once by the same encoder at the
same setting, with the same candidate, written both ways; bytes of the bare AV1 packets, of the
stream framing (lengths, pixel CRCs, the payload's own header) and of everything else.

    python -m benchmarks.studies.container_overhead --out benchmarks/results/container_overhead.json
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
from pathlib import Path

from srcodec.archive.candidates import Candidate
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.lossywriter import encode_lossy
from srcodec.engines.identity import IDENTITY_MODEL
from srcodec.lowres.lossy import Av1Codec

from ..suite._lossy_anchors import read_clip

#: 68 frames of tree.avi (320x240, never trained on) at --quality 2 (CRF 62): a small clip at
#: an archive rate, where lossy_rd found the container's bytes weigh most.
CLIP, FIRST, END, QUALITY = "tree", 0, 68, 2.0


def _breakdown(path: Path) -> dict:
    """The archive's bytes: all, the packets of its groups, their framing, the rest."""
    raw = path.read_bytes()
    with ArchiveReader(path) as reader:
        # One frame of each group (the frames of a group share its chunk's offset).
        firsts = {reader.entry(i).offset: i for i in reversed(range(len(reader.names)))}
        packets = framing = 0
        codec = Av1Codec()
        for i in firsts.values():
            group = reader.read(i).group
            assert group is not None
            payload = group.payload
            _, extradata, pkts = codec._split(bytes(payload), len(group.frames))
            compact = payload[0] == 2
            stored = sum(len(p) - (len(codec.packet_prefix) if compact else 0) for p in pkts)
            packets += stored + len(extradata)
            framing += len(payload) - stored - len(extradata)
    return {
        "format": struct.unpack_from("<H", raw, 8)[0],
        "archive_bytes": len(raw),
        "packet_bytes": packets,
        "framing_bytes": framing,
        "other_bytes": len(raw) - packets - framing,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    frames = read_clip(FIRST, END, CLIP)
    named = [(f"frame_{k:06d}", f) for k, f in enumerate(frames)]
    base = [Candidate("base", 1, IDENTITY_MODEL)]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, compact in (("format_3", False), ("format_4", True)):
            Av1Codec.compact = compact
            out = Path(tmp) / f"{label}.src"
            encode_lossy(named, out, quality=QUALITY, candidates=base)
            rows[label] = _breakdown(out)
    Av1Codec.compact = True
    old, new = rows["format_3"], rows["format_4"]
    result = {
        "study": __doc__.split("\n\n")[0],
        "command": "python -m benchmarks.studies.container_overhead --out ...",
        "clip": f"{CLIP} frames {FIRST}-{END - 1} (320x240), --quality {QUALITY:g}, base codec",
        "frames": len(frames),
        "layouts": rows,
        "saved_bytes": old["archive_bytes"] - new["archive_bytes"],
        "saved_share": 1 - new["archive_bytes"] / old["archive_bytes"],
        "saved_per_frame": (old["archive_bytes"] - new["archive_bytes"]) / len(frames),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
