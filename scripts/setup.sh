#!/usr/bin/env bash
# Set-up from a fresh clone: a virtual environment in .venv holding
#   - torch 2.13.0, the CPU build: installed first, from PyTorch's CPU wheel index
#     ($TORCH_INDEX, default https://download.pytorch.org/whl/cpu) beside the usual ones, where
#     its "2.13.0+cpu" wins over PyPI's CUDA build. If that index cannot be reached (offline,
#     or TORCH_INDEX= empty), pip takes whatever torch==2.13.0 the other indexes and
#     --find-links serve: on Linux, PyPI's is a CUDA build of several GB. The build installed
#     is printed at the end.
#   - srcodec, editable, with the extras torch, onnx (onnxruntime), export, test (pytest, ruff,
#     setuptools, scikit-image, hypothesis, dask, zarr, ...) and video (imageio-ffmpeg).
# Once set up, the tests need no package index (the wheel test builds without isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install -q)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    # --retries 0: an unreachable index is skipped at once instead of retried per package.
    "${pip[@]}" --retries 0 ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} "torch==2.13.0"
fi
"${pip[@]}" -e ".[torch,onnx,export,test,video]"
.venv/bin/python -c "import torch; print('torch', torch.__version__, '(CUDA build)' if torch.version.cuda else '(CPU build)')"
