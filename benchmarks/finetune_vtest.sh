#!/usr/bin/env bash
# Fine-tune the bundled model on one camera (vtest.avi's first 80 % of frames) and compare
# bicubic, the general model and the fine-tuned one on the camera's held-out last 20 %.
# Frames come from `python benchmarks/prepare_data.py`. The held-out frames are split in two:
# every 8th picks the checkpoint (val_select), the other 70 are only reported (val_report).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
MINUTES=${MINUTES:-14}
OUT=${OUT:-runs/vtest/srcodec-vtest-x2.safetensors}
rm -rf data/cctv/val_select data/cctv/val_report
mkdir -p data/cctv/val_select data/cctv/val_report
i=0
for f in data/cctv/val/*.png; do
  if (( i % 8 == 0 )); then ln -s "$PWD/$f" data/cctv/val_select/; else ln -s "$PWD/$f" data/cctv/val_report/; fi
  i=$((i + 1))
done
srcodec train data/cctv/train --val data/cctv/val_select -o "$OUT" --name srcodec-vtest-x2 \
  --init srcodec-photo-x2 --lr 1e-4 --decay-every 1500 --steps 100000 --val-every 500 \
  --time-limit "$MINUTES" --threads 2
python benchmarks/evaluate.py --model srcodec-photo-x2 --model "$OUT" \
  --set cctv-held-out=data/cctv/val_report
