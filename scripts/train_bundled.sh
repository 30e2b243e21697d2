#!/usr/bin/env bash
# Retrain the bundled model srcodec-photo-x2 exactly as it was trained (see weights/README.md):
# gather the photographs, then two stages on the CPU: 4000 steps at lr 2e-4, then resumed with
# the learning rate halved every 3000 steps (counted from step 0) until STEPS.
# Takes about two hours on 2 cores; results differ from the shipped file only by thread timing.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-13000}
OUT=${OUT:-runs/bundled/srcodec-photo-x2.safetensors}
bash scripts/setup.sh
. .venv/bin/activate
python -m pip install -q -e ".[data]"
python benchmarks/prepare_data.py --out data
common=(data/train --val data/val -o "$OUT" --name srcodec-photo-x2 --blocks 8 --features 32
        --bicubic-skip --lr 2e-4 --patch 48 --batch 16 --val-every 500 --seed 0)
srcodec train "${common[@]}" --steps 4000 --decay-every 100000
srcodec train "${common[@]}" --steps "$STEPS" --decay-every 3000 --resume "$OUT.ckpt"
