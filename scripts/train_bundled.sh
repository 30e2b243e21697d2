#!/usr/bin/env bash
# Retrain the bundled model srcodec-photo-x2 exactly as it was trained (see weights/README.md):
# gather the photographs, then one run of EDSR 16 blocks x 64 features with the bicubic skip,
# 8000 steps of 32 patches of 64 px, Adam at 2e-4 annealed to 0 by a cosine schedule.
# About 3 minutes on one NVIDIA H100 (174 s of training); about 10 hours on a 2-core CPU.
# Results differ from the shipped file only by floating-point order (GPU kernels, threads).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/bundled/srcodec-photo-x2.safetensors}
DEVICE=${DEVICE:-auto}
bash scripts/setup.sh
. .venv/bin/activate
python -m pip install -q -e ".[data]"
python benchmarks/prepare_data.py --out data
srcodec train data/train --val data/val -o "$OUT" --name srcodec-photo-x2 --blocks 16 \
    --features 64 --bicubic-skip --patch 64 --batch 32 --lr 2e-4 --schedule cosine \
    --steps 8000 --val-every 800 --seed 0 --device "$DEVICE"
