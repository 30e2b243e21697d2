#!/usr/bin/env bash
# Set-up from a fresh clone: a virtual environment in .venv with the CPU build of torch 2.13.0
# (pinned here, so pip never pulls a multi-GB CUDA build) and srcodec with both engines (torch,
# onnxruntime), the ONNX exporter and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0" -e ".[torch,onnx,export,test,video]"
