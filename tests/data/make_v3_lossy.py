"""How tests/data/v3_lossy.src was made: by srcodec at commit 8160945 (the last to write lossy
archives as format 3, their AV1 payloads in the version-1 layout of docs/format.md 9.6), run
from a checkout of it:

    PYTHONPATH=<checkout> python tests/data/make_v3_lossy.py tests/data

A lossy archive as ``encode --quality`` writes it, with the base codec alone (no network to
load): ten 64x48 crops of the sample frames, AV1 at CRF 40, as one group.
"""

import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import FrameInfo, GroupRecord, Header
from srcodec.lowres import get_codec

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "samples" / "frames"


def crops() -> list[np.ndarray]:
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(SAMPLES.glob("*.png"))]
    return [np.ascontiguousarray(f[200 + 4 * k : 248 + 4 * k, 150:214]) for k, f in
            enumerate(frames * 10)][:10]  # fmt: skip


def main(out: Path) -> None:
    av1 = get_codec({"id": "srcodec.av1", "crf": 40, "preset": 8})
    created = datetime(2026, 12, 7, tzinfo=timezone.utc).isoformat(timespec="seconds")
    lossy = {"quality": None, "bpp": None, "candidate": "base"}
    header = Header("srcodec.identity", 1, av1.get_config(), created, "0.1.0", {"lossy": lossy})
    frames = crops()
    infos = [FrameInfo(f"frame_{k:06d}", 64, 48, "RGB") for k in range(len(frames))]
    with ArchiveWriter(out / "v3_lossy.src", header, force=True, groups=True) as w:
        w.add_group(GroupRecord(infos, av1.encode_group(frames)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
