#!/usr/bin/env bash
# Train the bundled x1 restoration model srcodec-hevc-x1 (weights/README.md): a plain network
# (6 conv layers of 32 features, identity skip, 57k parameters) that learns to undo x265's
# artefacts, decoded -> original, on the training photos (data/train) and the vtest training
# split (frames 0-598 of data/cctv/train; frames 636+ are held out, 600-634 validate), every
# frame coded by srcodec.hevc (preset medium) in clips of 8 at three CRFs drawn from 20-40.
# 1500 steps of 16 patches of 64 px, Adam 2e-4 annealed to 0 (cosine), L1.
# About 25 minutes on 2 shared CPU cores (coding the 334 frames 3 times: 1.5 min); a GPU: seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/lossy/srcodec-hevc-x1.safetensors}
DEVICE=${DEVICE:-auto}
PY=${PY:-python}
[ -d data/train ] && [ -d data/cctv/train ] || $PY -m benchmarks.datasets.prepare --out data
rm -rf data/lossy && mkdir -p data/lossy/train data/lossy/val "$(dirname "$OUT")"
ln -s "$PWD"/data/train/*.png data/lossy/train/
for f in data/cctv/train/frame_0*.png; do
    n=$(basename "$f" .png); n=${n#frame_}
    if [ $((10#$n)) -lt 600 ]; then ln -s "$PWD/$f" data/lossy/train/; else ln -s "$PWD/$f" data/lossy/val/; fi
done
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "$OUT" --force \
    --name srcodec-hevc-x1 --family plain --scale 1 --blocks 6 --features 32 --bicubic-skip \
    --degrade "hevc:crf=20-40,copies=3,clip=8" --patch 64 --batch 16 --lr 2e-4 \
    --schedule cosine --steps "${STEPS:-1500}" --val-every "${VAL_EVERY:-750}" --seed 0 \
    --device "$DEVICE"
# Shipped as weights/srcodec-hevc-x1.safetensors (the run of 2026-11-27: 1500 steps in 22 min on
# 2 CPU cores shared with other jobs, validation 33.19 dB against 32.99 dB decoded), then:
#   srcodec models --export-onnx weights/srcodec-hevc-x1.safetensors --onnx-dir weights
#   python -m benchmarks.writers.model_card weights/srcodec-hevc-x1.safetensors \
#       --set photos=data/eval --set cctv=data/cctv/val:4 -o weights/srcodec-hevc-x1.md
