"""Per-frame report of an encode/decode round trip: bytes in the archive against the original
PNG, and PSNR (RGB and Y, shave 2) of the restored frame beside bicubic from the same archive.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import srcodec
from srcodec import psnr, upscale
from srcodec.inputs import list_frames, read_frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("originals", help="folder of the original frames")
    ap.add_argument("archive", help="the archive made from them")
    ap.add_argument("restored", help="folder the archive was decoded into")
    args = ap.parse_args()
    restored_dir = Path(args.restored)
    rows = []
    with srcodec.open(args.archive) as archive:
        print(f"model {archive.header.model_id[:70]}\ncodec {archive.header.codec}\n")
        print(
            f"{'frame':18s} {'PNG bytes':>10s} {'archive':>9s} {'ratio':>6s} "
            f"{'PSNR RGB':>9s} {'bicubic':>8s} {'PSNR Y':>7s} {'bicubic':>8s}"
        )
        info = archive.info()
        # A grouped frame's bytes: its share of the group's stream.
        share = {
            f["name"]: info["groups"][f["group"]]["payload_bytes"]
            // info["groups"][f["group"]]["frames"]
            for f in info["frame_list"]
            if f.get("group") is not None
        }
        for path in list_frames(args.originals):
            original = read_frame(path)
            restored = read_frame(restored_dir / f"{path.stem}.png")
            h, w = original.shape[:2]
            bicubic = upscale(archive.lowres(path.name), (w, h))
            png = path.stat().st_size
            stored = share.get(path.name) or archive.reader.entry(path.name).payload_size
            row = [
                png,
                stored,
                psnr(original, restored),
                psnr(original, bicubic),
                psnr(original, restored, y=True),
                psnr(original, bicubic, y=True),
            ]
            rows.append(row)
            print(
                f"{path.name:18s} {png:10,d} {stored:9,d} {png / stored:6.2f} "
                f"{row[2]:9.2f} {row[3]:8.2f} {row[4]:7.2f} {row[5]:8.2f}"
            )
        m = np.mean(rows, axis=0)
        total = archive.reader.file_size
        print(
            f"{'mean':18s} {m[0]:10,.0f} {m[1]:9,.0f} {m[0] / m[1]:6.2f} "
            f"{m[2]:9.2f} {m[3]:8.2f} {m[4]:7.2f} {m[5]:8.2f}"
        )
        print(
            f"\nwhole archive {total:,} bytes for {len(rows)} frames "
            f"({sum(r[0] for r in rows) / total:.2f}x smaller than the PNGs); restored PSNR "
            f"{m[2] - m[3]:+.2f} dB RGB, {m[4] - m[5]:+.2f} dB Y against bicubic"
        )


if __name__ == "__main__":
    main()
