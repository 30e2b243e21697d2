#!/usr/bin/env bash
# Fine-tune the bundled model on one camera (vtest.avi's first 80 % of frames) and compare
# bicubic, the general model and the fine-tuned one on the camera's held-out last 20 %.
# Frames come from `python -m benchmarks.datasets.prepare`. Every 5th training frame is used (64 of
# 318: neighbouring frames of a fixed camera are near-duplicates). The held-out frames are split
# in two: every 8th picks the checkpoint (val_select), the other 70 are only reported.
#
#   DEVICE=cuda BUDGET=120 bash benchmarks/studies/finetune_vtest.sh   # as measured (one H100)
#   MINUTES=30 bash benchmarks/studies/finetune_vtest.sh               # on a CPU: a shorter run
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f .venv/bin/activate ] && . .venv/bin/activate
DEVICE=${DEVICE:-auto}
OUT=${OUT:-runs/vtest/srcodec-vtest-x2.safetensors}
rm -rf data/cctv/train_5 data/cctv/val_select data/cctv/val_report
mkdir -p data/cctv/train_5 data/cctv/val_select data/cctv/val_report
i=0
for f in data/cctv/train/*.png; do
  if (( i % 5 == 0 )); then ln -s "$PWD/$f" data/cctv/train_5/; fi
  i=$((i + 1))
done
i=0
for f in data/cctv/val/*.png; do
  if (( i % 8 == 0 )); then ln -s "$PWD/$f" data/cctv/val_select/; else ln -s "$PWD/$f" data/cctv/val_report/; fi
  i=$((i + 1))
done
if [ -n "${BUDGET:-}" ]; then
  # a fixed time on this machine: steps sized to fit, cosine schedule (see train_budget.py)
  python -m benchmarks.studies.train_budget data/cctv/train_5 \
    --val data/cctv/val_select -o "$OUT" --name srcodec-vtest-x2 --init srcodec-photo-x2 \
    --blocks 16 --features 64 --bicubic-skip --patch 64 --batch 32 --lr 1e-4 \
    --budget "$BUDGET" --device "$DEVICE"
else
  srcodec train data/cctv/train_5 --val data/cctv/val_select -o "$OUT" --name srcodec-vtest-x2 \
    --init srcodec-photo-x2 --lr 1e-4 --decay-every 1500 --steps 100000 --val-every 250 \
    --time-limit "${MINUTES:-30}" --device "$DEVICE"
fi
python -m benchmarks.writers.evaluate --model srcodec-photo-x2 --model "$OUT" \
  --set cctv-held-out=data/cctv/val_report
