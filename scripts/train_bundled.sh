#!/usr/bin/env bash
# Retrain the bundled model srcodec-photo-x2 exactly as it was trained (see weights/README.md).
# Stage 1: EDSR 16 blocks x 64 features with the bicubic skip, from scratch on the 34 wallpaper
#   photographs (data/train): 8000 steps of 32 patches of 64 px, Adam at 2e-4 annealed to 0 by a
#   cosine. About 3 minutes on one NVIDIA H100 (174 s of training); about 10 hours on 2 CPU cores.
# Stage 2: fine-tune stage 1 on data/train_plus (the same photos, each also shrunk one step
#   further, and 19 opencv-doc photographs of streets, facades and objects), half of the patches
#   placed where bicubic misses the most detail: 3400 steps of 16 patches of 48 px, Adam at 1e-4
#   annealed to 0. About 100 minutes on 2 CPU cores (98 min for the shipped run).
# Results differ from the shipped file only by floating-point order (GPU kernels, threads).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/bundled/srcodec-photo-x2.safetensors}
STAGE1=${STAGE1:-runs/bundled/stage1/srcodec-photo-x2.safetensors}
DEVICE=${DEVICE:-auto}
bash scripts/setup.sh
. .venv/bin/activate
python -m pip install -q -e ".[data]"
python -m benchmarks.datasets.prepare --out data
mkdir -p "$(dirname "$STAGE1")" "$(dirname "$OUT")"
srcodec train data/train --val data/val -o "$STAGE1" --name srcodec-photo-x2 --blocks 16 \
    --features 64 --bicubic-skip --patch 64 --batch 32 --lr 2e-4 --schedule cosine \
    --steps 8000 --val-every 800 --seed 0 --device "$DEVICE"
srcodec train data/train_plus --val data/val -o "$OUT" --name srcodec-photo-x2 \
    --init "$STAGE1" --patch 48 --batch 16 --lr 1e-4 --schedule cosine --steps 3400 \
    --detail-sampling 0.5 --val-every 425 --seed 1 --device "$DEVICE"
