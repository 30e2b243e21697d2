"""How tests/data/v1_frames.src and v2_groups.src were made: by srcodec at commit a488461 (the
last to write format 2), run from a checkout of it:

    PYTHONPATH=<checkout> python tests/data/make_old_archives.py tests/data

Crops of the real sample frames: a version-1 archive of two PNG frames, and a version-2 archive
of one FRAM frame, an RGB group of three and a grayscale group of two (x264, lossless).
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import FrameInfo, FrameRecord, GroupRecord, Header
from srcodec.lowres import get_codec
from srcodec.resample import downscale

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "samples" / "frames"
MODEL = "srcodec-test@" + "0" * 64
CREATED = "2026-11-27T00:00:00+00:00"


def crops() -> list[np.ndarray]:
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(SAMPLES.glob("*.png"))]
    return [np.ascontiguousarray(f[200:248, 150:214]) for f in frames]  # 64x48 each


def main(out: Path) -> None:
    frames = crops()
    png = get_codec({"id": "srcodec.png", "level": 9})
    header = Header(MODEL, 2, png.get_config(), CREATED, "old")
    with ArchiveWriter(out / "v1_frames.src", header, force=True) as w:
        for k, f in enumerate(frames[:2]):
            w.add(FrameRecord(f"v1_{k}.png", 64, 48, "RGB", png.encode(downscale(f))))
    x264 = get_codec({"id": "srcodec.x264", "preset": "ultrafast"})
    header = Header(MODEL, 2, x264.get_config(), CREATED, "old")
    lows = [downscale(f) for f in frames]
    grey = [np.ascontiguousarray(low[:, :, 1]) for low in lows[:2]]
    with ArchiveWriter(out / "v2_groups.src", header, force=True, groups=True) as w:
        w.add(FrameRecord("solo.png", 64, 48, "RGB", x264.encode(lows[3])))
        rgb = [FrameInfo(f"rgb_{k}.png", 64, 48, "RGB") for k in range(3)]
        w.add_group(GroupRecord(rgb, x264.encode_group(lows[:3])))
        gray = [FrameInfo(f"grey_{k}.png", 63, 47, "L") for k in range(2)]
        w.add_group(GroupRecord(gray, x264.encode_group(grey)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
