"""Gather real photographs and CCTV frames from Debian packages and scikit-image.
Writes train/val/eval/cctv sets under --out, sample crops, and benchmarks/datasets/manifest.json.

    python -m benchmarks.datasets.prepare [--out data]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import imageio.v2 as iio
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).resolve().with_name("manifest.json")

# Photo sources: package -> (short prefix, directory inside the package).
LOMIRI = "lomiri-wallpapers-16.04"
MATE = "mate-backgrounds"
PLASMA = "plasma-workspace-wallpapers"
OPENCV = "opencv-doc"
PHOTO_DIRS = {
    LOMIRI: ("lomiri", "usr/share/backgrounds"),
    MATE: ("mate", "usr/share/backgrounds/mate/nature"),
    PLASMA: ("plasma", "usr/share/wallpapers"),
}
# Rendered / abstract art excluded after visual inspection of a contact sheet.
# (umang_by_Abhishek_Mudgal is a smooth computer-generated colour gradient.)
EXCLUDED = {LOMIRI: {"umang_by_Abhishek_Mudgal"}, MATE: set()}
# Plasma wallpapers that are photographs (chosen by eye from a contact sheet of all 30).
# Left out as rendered/illustrated: Altai, Autumn, Canopee, Cascade, Cluster, Elarun, Flow,
# FlyingKonqui, Honeywave, IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak,
# SafeLanding, Shell, Volna.
PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
# One held-out validation photo per package (original stem / wallpaper name).
VAL_PHOTOS = {LOMIRI: "picosdeeuropa_by_Aitzol_Berasategi", MATE: "LadyBird", PLASMA: "EveningGlow"}

EVAL_FILES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
)

OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
VTEST = f"{OPENCV_DATA}/vtest.avi"
#: opencv-doc's other clips: never trained or tuned on, used as they are (no frames written)
#: by benchmarks/suite/lossy_rd.py to check "never worse than the wrapped codec" on footage
#: the project has not seen.
UNSEEN_CLIPS = (f"{OPENCV_DATA}/tree.avi", f"{OPENCV_DATA}/Megamind.avi")
# Colour photographs among opencv-doc's sample images (chosen by eye from a contact sheet):
# streets, facades, aerial views, circuit boards, fruit, animals -- the man-made edges and fine
# texture that the wallpapers (mostly nature, sky and soft backgrounds) have little of.
# Left out: drawings, charts, logos, text, synthetic scenes, grey-level and stereo/flow
# duplicates (aloeR, leuvenB, rubberwhale2, ela_modified), starry_night (a painting).
OPENCV_PHOTOS = (
    "aero1.jpg",
    "aero3.jpg",
    "aloeL.jpg",
    "apple.jpg",
    "baboon.jpg",
    "board.jpg",
    "building.jpg",
    "butterfly.jpg",
    "chicky_512.png",
    "ela_original.jpg",
    "fruits.jpg",
    "graf1.png",
    "leuvenA.jpg",
    "licenseplate_motion.jpg",
    "messi5.jpg",
    "orange.jpg",
    "rubberwhale1.png",
    "smarties.png",
    "squirrel_cls.jpg",
)
CCTV_TRAIN_FRACTION = 0.8
CCTV_STRIDE = 2
SAMPLE_FRAMES = (650, 700, 750, 790)
# (left, top, right, bottom): road, walkers, lamp post, sign, vans and building facade.
SAMPLE_CROP = (280, 0, 680, 400)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def fetch_deb(name: str, debs: Path) -> Path:
    """Return the .deb for `name` in `debs`, downloading it with apt-get if missing."""
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        print(f"  downloading {name} with apt-get ...")
        res = run(["apt-get", "download", name], cwd=debs)
        if res.returncode != 0:
            run(["apt-get", "update"])
            res = run(["apt-get", "download", name], cwd=debs)
        found = sorted(debs.glob(f"{name}_*.deb"))
        if res.returncode != 0 or not found:
            sys.exit(
                f"error: could not download Debian package '{name}' into {debs}:\n"
                f"{res.stderr.strip()}\nDownload it by hand and place the .deb there."
            )
    return found[-1]


def unpack(name: str, out: Path) -> tuple[Path, str]:
    """Unpack the package into <out>/pkgs/NAME (once per .deb); return (root, version)."""
    deb = fetch_deb(name, out / "debs")
    res = run(["dpkg-deb", "-f", str(deb), "Version"])
    if res.returncode != 0:
        sys.exit(f"error: {deb} is not a readable .deb: {res.stderr.strip()}")
    version = res.stdout.strip()
    root = out / "pkgs" / name
    stamp = root / ".unpacked-from"
    if not (stamp.exists() and stamp.read_text() == deb.name):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        res = run(["dpkg", "-x", str(deb), str(root)])
        if res.returncode != 0:
            sys.exit(f"error: dpkg -x {deb} failed: {res.stderr.strip()}")
        stamp.write_text(deb.name)
    print(f"{name} {version}: unpacked in {root}")
    return root, version


def photo_sources(name: str, root: Path) -> list[tuple[str, Path]]:
    """(stem, path) of the photographs to use from one wallpaper package."""
    base = root / PHOTO_DIRS[name][1]
    if name != PLASMA:
        files = sorted(base.glob("*.jpg"))
        return [(p.stem, p) for p in files if p.stem not in EXCLUDED[name]]
    chosen = []
    for wall in PLASMA_PHOTOS:
        images = [
            p
            for p in (base / wall / "contents" / "images").iterdir()
            if p.is_file() and not p.is_symlink()
        ]
        if not images:
            sys.exit(f"error: no images for plasma wallpaper '{wall}' in {base}")
        # Largest by pixel count; the smaller "sizes" are mostly symlinks to it.
        best = max(images, key=lambda p: (np.prod(Image.open(p).size), p.name))
        chosen.append((wall, best))
    return chosen


def shrink_factor(size: tuple[int, int]) -> int:
    longest = max(size)
    return 2 if longest < 2000 else 3 if longest < 4000 else 4


def shrink(src: Path, factor: int | None = None) -> tuple[Image.Image, tuple[int, int], int]:
    """Open a JPEG, crop to a multiple of the factor and downscale it with LANCZOS."""
    with Image.open(src) as im:
        size = im.size
        img = im.convert("RGB")
    f = factor or shrink_factor(size)
    w, h = size[0] - size[0] % f, size[1] - size[1] % f
    img = img.crop((0, 0, w, h)).resize((w // f, h // f), Image.LANCZOS, reducing_gap=None)
    return img, size, f


def photo_record(
    split: str,
    package: str,
    version: str,
    root: Path,
    src: Path,
    size: tuple[int, int],
    factor: int,
    out_name: str,
    img: Image.Image,
) -> dict[str, Any]:
    """The manifest entry of one shrunk photograph."""
    return {
        "split": split,
        "package": package,
        "version": version,
        "source": str(src.relative_to(root)),
        "source_sha256": sha256(src),
        "source_size": list(size),
        "shrink": factor,
        "output": out_name,
        "output_size": list(img.size),
    }


def clear_pngs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in folder.glob("*.png"):
        p.unlink()


def prepare_photos(out: Path, packages: dict[str, str]) -> list[dict[str, Any]]:
    records = []
    for split in ("train", "val"):
        clear_pngs(out / split)
    for name, (short, _) in PHOTO_DIRS.items():
        root, version = unpack(name, out)
        packages[name] = version
        sources = photo_sources(name, root)
        if VAL_PHOTOS[name] not in {stem for stem, _ in sources}:
            sys.exit(f"error: validation photo '{VAL_PHOTOS[name]}' not found in {name}")
        for stem, src in sources:
            split = "val" if stem == VAL_PHOTOS[name] else "train"
            img, size, f = shrink(src)
            out_name = f"{short}_{stem}.png"
            img.save(out / split / out_name)
            records.append(photo_record(split, name, version, root, src, size, f, out_name, img))
        print(f"  {len(sources)} photos from {name}")
    return records


def prepare_train_plus(
    out: Path, photos: list[dict[str, Any]], packages: dict[str, str]
) -> list[dict[str, Any]]:
    """The larger training set of the bundled model's second stage (``train_plus``): every
    training photo as in ``train``, again shrunk one step further (denser detail per pixel),
    and opencv-doc's colour photographs shrunk by 2."""
    dest = out / "train_plus"
    clear_pngs(dest)
    records = []
    for rec in photos:
        if rec["split"] != "train":
            continue
        shutil.copyfile(out / "train" / rec["output"], dest / rec["output"])
        records.append({**rec, "split": "train_plus"})
        root = out / "pkgs" / rec["package"]
        f = rec["shrink"] + 1
        img, size, _ = shrink(root / rec["source"], f)
        out_name = rec["output"].removesuffix(".png") + f"_x{f}.png"
        img.save(dest / out_name)
        records.append(
            {
                **rec,
                "split": "train_plus",
                "shrink": f,
                "output": out_name,
                "output_size": list(img.size),
            }
        )
    root, version = unpack(OPENCV, out)
    packages[OPENCV] = version
    for fname in OPENCV_PHOTOS:
        src = root / OPENCV_DATA / fname
        if not src.exists():
            sys.exit(f"error: {fname} not found in {OPENCV} ({OPENCV_DATA})")
        img, size, f = shrink(src, 2)
        out_name = f"opencv_{Path(fname).stem}.png"
        img.save(dest / out_name)
        records.append(
            photo_record("train_plus", OPENCV, version, root, src, size, f, out_name, img)
        )
    print(f"  train_plus: {len(records)} images")
    return records


def prepare_eval(out: Path, packages: dict[str, str]) -> list[dict[str, Any]]:
    import skimage
    import skimage.data

    data_dir = Path(skimage.data.__file__).parent
    packages["scikit-image"] = skimage.__version__
    clear_pngs(out / "eval")
    records = []
    for fname in EVAL_FILES:
        src = data_dir / fname
        if not src.exists():
            sys.exit(f"error: {src} is missing from the installed scikit-image")
        with Image.open(src) as im:
            img = im.convert("RGB")
        img.save(out / "eval" / fname)
        records.append(
            {
                "split": "eval",
                "package": "scikit-image",
                "version": skimage.__version__,
                "source": f"skimage/data/{fname}",
                "source_sha256": sha256(src),
                "source_size": list(img.size),
                "shrink": 1,
                "output": fname,
                "output_size": list(img.size),
            }
        )
    print(f"scikit-image {skimage.__version__}: {len(records)} eval images")
    return records


def prepare_cctv(
    out: Path, samples: Path, packages: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    root, version = unpack(OPENCV, out)
    packages[OPENCV] = version
    src = root / VTEST
    if not src.exists():
        sys.exit(f"error: {VTEST} not found in {OPENCV}")
    for split in ("train", "val"):
        clear_pngs(out / "cctv" / split)
    samples.mkdir(parents=True, exist_ok=True)
    reader = iio.get_reader(src, "ffmpeg")
    n = reader.count_frames()  # frames are streamed: all of them would take ~1 GB
    n_train = int(n * CCTV_TRAIN_FRACTION)
    counts = {"train": 0, "val": 0}
    sample_records = []
    shape: tuple[int, ...] = ()
    for idx, frame in enumerate(reader):
        shape = frame.shape
        split = "train" if idx < n_train else "val"
        if idx % CCTV_STRIDE == 0:
            Image.fromarray(frame).save(out / "cctv" / split / f"frame_{idx:04d}.png")
            counts[split] += 1
        if idx in SAMPLE_FRAMES:
            if idx < n_train:
                sys.exit(f"error: sample frame {idx} is not in the held-out part")
            out_name = f"vtest_{idx:04d}.png"
            Image.fromarray(frame).crop(SAMPLE_CROP).save(samples / out_name)
            sample_records.append(
                {
                    "split": "sample",
                    "package": OPENCV,
                    "version": version,
                    "source": VTEST,
                    "source_sha256": sha256(src),
                    "source_size": [frame.shape[1], frame.shape[0]],
                    "frame": idx,
                    "crop_box": list(SAMPLE_CROP),
                    "shrink": 1,
                    "output": out_name,
                    "output_size": [
                        SAMPLE_CROP[2] - SAMPLE_CROP[0],
                        SAMPLE_CROP[3] - SAMPLE_CROP[1],
                    ],
                }
            )
    reader.close()
    if idx + 1 != n:
        sys.exit(f"error: decoded {idx + 1} frames from {VTEST}, expected {n}")
    cctv = {
        "package": OPENCV,
        "version": version,
        "source": VTEST,
        "source_sha256": sha256(src),
        "source_size": [shape[1], shape[0]],
        "frame_count": n,
        "split_rule": f"frame index < {n_train} (first {CCTV_TRAIN_FRACTION:.0%}) -> cctv/train, "
        "the rest -> cctv/val",
        "stride": CCTV_STRIDE,
        "output_pattern": "frame_NNNN.png (NNNN = frame index)",
        "train_frames_written": counts["train"],
        "val_frames_written": counts["val"],
    }
    print(
        f"  vtest.avi: {n} frames -> {counts['train']} train, {counts['val']} val, "
        f"{len(sample_records)} samples"
    )
    return cctv, sample_records


def unseen_clips(out: Path) -> list[dict[str, Any]]:
    """The clips of ``UNSEEN_CLIPS`` (unpacked with opencv-doc): what each is, for the record."""
    import av

    records = []
    for source in UNSEEN_CLIPS:
        path = out / "pkgs" / OPENCV / source
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            frames = sum(1 for _ in c.decode(stream))
            fps = float(stream.average_rate)
            size = [stream.width, stream.height]
            codec = stream.codec_context.name
        records.append(
            {
                "package": OPENCV,
                "source": source,
                "source_sha256": sha256(path),
                "source_size": size,
                "frame_count": frames,
                "fps": round(fps, 3),
                "codec": codec,
                "use": "evaluation only (lossy_rd: never trained or tuned on)",
            }
        )
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "data", help="output folder (default: <repo>/data)"
    )
    parser.add_argument(
        "--samples",
        type=Path,
        default=Path("samples/frames"),
        help="folder for the CCTV sample crops, relative to the repo root "
        "(default: samples/frames)",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        default=MANIFEST,
        help=f"manifest to write (default: {MANIFEST.relative_to(REPO)})",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = args.out.resolve()
    samples = args.samples if args.samples.is_absolute() else REPO / args.samples
    packages: dict[str, str] = {}

    photos = prepare_photos(out, packages)
    images = photos + prepare_train_plus(out, photos, packages) + prepare_eval(out, packages)
    cctv, sample_records = prepare_cctv(out, samples, packages)
    files = sorted(images + sample_records, key=lambda r: (r["split"], r["output"]))
    manifest = {
        "generator": "python -m benchmarks.datasets.prepare",
        "packages": dict(sorted(packages.items())),
        "photo_processing": "RGB, crop to a multiple of the factor, PIL LANCZOS resize "
        "(reducing_gap=None) by 2 (longest side < 2000), 3 (< 4000) or 4; train_plus adds "
        "each training photo shrunk by that factor + 1, and opencv-doc photos shrunk by 2",
        "files": files,
        "cctv": cctv,
        "unseen_clips": unseen_clips(out),
    }
    args.manifest.write_text(json.dumps(manifest, indent=1) + "\n")
    for split in ("train", "train_plus", "val", "eval"):
        recs = [r for r in files if r["split"] == split]
        px = sum(r["output_size"][0] * r["output_size"][1] for r in recs)
        print(f"{split}: {len(recs)} images, {px / 1e6:.1f} Mpx")
    print(f"manifest: {args.manifest}\ndone in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
