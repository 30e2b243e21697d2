#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run srcodec's main job on the sample CCTV frames: encode them
# into one archive, show it, decode it, and report bytes and PSNR beside bicubic per frame.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-demo}
mkdir -p "$out"
. .venv/bin/activate
set -x
srcodec encode samples/frames -o "$out/samples.src" --force
srcodec info "$out/samples.src"
srcodec decode "$out/samples.src" -o "$out/restored" --force
set +x
python -m benchmarks.writers.sample_report samples/frames "$out/samples.src" "$out/restored"
