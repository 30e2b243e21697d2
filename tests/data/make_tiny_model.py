"""Make tests/data/tiny-test-x2.safetensors, the small model the tests restore with.

A 2-block x 8-feature EDSR with the bicubic skip, trained for a few hundred real steps with
``srcodec.train`` on the CCTV sample frames and scikit-image's astronaut. Untrained, such a
model is bicubic to within a grey level, and tests run with it could not tell the network from
bicubic; trained, its output differs from bicubic by several grey levels on average while it
stays small enough (23 kB) to ship and fast enough to restore in milliseconds.

    python tests/data/make_tiny_model.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import skimage.data
from PIL import Image

import srcodec

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "samples" / "frames"
OUTPUT = HERE / "tiny-test-x2.safetensors"
CONFIG = dict(blocks=2, features=8, bicubic_skip=True, patch=32, batch=16, steps=400, lr=2e-3)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        train, val = Path(tmp) / "train", Path(tmp) / "val"
        train.mkdir()
        val.mkdir()
        for p in sorted(SAMPLES.glob("*.png"))[1:]:
            shutil.copy(p, train / p.name)
        Image.fromarray(skimage.data.astronaut()).save(train / "astronaut.png")
        shutil.copy(sorted(SAMPLES.glob("*.png"))[0], val)
        config = srcodec.TrainConfig(
            **CONFIG, schedule="cosine", val_every=CONFIG["steps"], name="tiny-test-x2"
        )
        result = srcodec.train(
            train,
            val,
            Path(tmp) / "tiny.safetensors",
            config=config,
            device="cpu",
            progress=False,
            command="python tests/data/make_tiny_model.py",
        )
        shutil.copy(result.best.path, OUTPUT)
    print(f"{OUTPUT}: {result.best.id}, {result.history[-1]}")


if __name__ == "__main__":
    main()
