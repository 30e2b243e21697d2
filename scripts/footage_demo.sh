#!/usr/bin/env bash
# Footage demo: the held-out part of opencv's vtest.avi (frames 636-794) encoded, sized and
# restored to video. vtest.avi: $SRCODEC_VTEST, or data/ made by
# `python -m benchmarks.datasets.prepare` (Debian package opencv-doc).
set -euo pipefail
cd "$(dirname "$0")/.."
video="${SRCODEC_VTEST:-$(find data -name vtest.avi -print -quit 2>/dev/null)}"
[ -f "$video" ] || { echo "vtest.avi not found: set SRCODEC_VTEST" >&2; exit 1; }
out="${1:-footage-demo}"
mkdir -p "$out"
srcodec encode "$video" --start 636 -o "$out/clip.src" --force
srcodec info "$out/clip.src"
srcodec decode "$out/clip.src" -o "$out/clip.mkv" --force "${@:2}"
ls -l "$out"
