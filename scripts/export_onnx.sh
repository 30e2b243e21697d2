#!/usr/bin/env bash
# Regenerate the ONNX exports of every bundled model in weights/ (fp32, and int8 calibrated on real
# photographs and training CCTV frames, with their smooth, dark and bright variants) from the
# bundled weights, replacing any stale export. Run after changing weights/.
#
#   bash scripts/export_onnx.sh [CALIBRATION...]   # default: data/train data/cctv/train
#                                                  # (python -m benchmarks.datasets.prepare)
#
# Calibration frames must never be evaluation frames (data/eval, data/cctv/val, samples/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
calibration=("$@")
[ ${#calibration[@]} -gt 0 ] || calibration=(data/train data/cctv/train)
for c in "${calibration[@]}"; do
    [ -e "$c" ] || { echo "no calibration frames at $c (run: python -m benchmarks.datasets.prepare)" >&2; exit 1; }
done
args=()
for c in "${calibration[@]}"; do args+=(--calibration "$c"); done
rm -f weights/*.onnx
for w in weights/*.safetensors; do
    .venv/bin/srcodec models --export-onnx "$w" --int8 "${args[@]}" --onnx-dir weights
done
.venv/bin/srcodec models
