#!/usr/bin/env bash
# Everything this project does with a GPU session's few minutes, in one run (see
# docs/benchmarks.md): train the bundled-model candidate within a time budget, measure GPU decode
# speed (fp32/fp16/bf16, batching), and run the depth study. Results go to $OUT (default
# runs/gpu): the model, its checkpoint, the depth-study and GPU-speed JSON, and the logs.
#
#   BUDGET=300 DEPTH_STEPS=3000 bash benchmarks/gpu/gpu_session.sh
#
# Needs python3 with torch (CUDA) and srcodec's dependencies; where zstandard is missing, wheels
# in .whl/ are installed into /tmp/site first. Each phase has its own time limit, so one phase
# failing or running long does not cost the others.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/gpu}
BUDGET=${BUDGET:-300}             # seconds of training for the bundled-model candidate
DEPTH_STEPS=${DEPTH_STEPS:-3000}  # steps per depth in the depth study
DEPTHS=${DEPTHS:-"1 2 4 8 16 32"}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
DEPTH_TMP=$(mktemp -d)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
log() { echo "== $(date +%T) $*" | tee -a "$OUT/session.log"; }
log "start: $(nvidia-smi -L 2>/dev/null | head -1)"
python3 -c "import torch, srcodec; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
    2>&1 | tee -a "$OUT/session.log"

log "1. bundled-model candidate: EDSR 16x64 + bicubic skip, ${BUDGET} s"
timeout $((BUDGET * 2 + 120)) python3 -m benchmarks.studies.train_budget data/train --val data/val \
    -o "$OUT/srcodec-photo-x2.safetensors" --name srcodec-photo-x2 --blocks 16 --features 64 \
    --bicubic-skip --patch 64 --batch 32 --lr 2e-4 --budget "$BUDGET" --device "$DEVICE" \
    --probe "${PROBE:-40}" \
    > "$OUT/train.log" 2>&1
log "train exit $?: $(tail -n 3 "$OUT/train.log" | tr '\n' ' ')"

log "2. GPU decode speed"
weights=(--weights "$OUT/srcodec-photo-x2.safetensors")
[ -f "$OUT/srcodec-photo-x2.safetensors" ] || weights=()
timeout 150 python3 -m benchmarks.gpu.gpu_check "${weights[@]}" --json "$OUT/gpu_check.json" \
    --device "$DEVICE" ${GPU_CHECK_ARGS:-} \
    >> "$OUT/session.log" 2>&1
log "gpu_check exit $?"

log "3. depth study: ${DEPTHS} blocks x ${DEPTH_STEPS} steps, one process per depth"
pids=()
for d in $DEPTHS; do
    timeout 240 python3 -m benchmarks.studies.depth_study run --blocks "$d" --steps "$DEPTH_STEPS" \
        --device "$DEVICE" --out "$DEPTH_TMP" --eval photos=data/eval >> "$OUT/depth.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
python3 - "$OUT/depth_study.json" "$DEPTH_TMP"/depth_*.json <<'PY'
import json, sys
rows = [json.load(open(p)) for p in sys.argv[2:]]
json.dump(rows, open(sys.argv[1], "w"), indent=1)
print(len(rows), "depths gathered")
PY
log "done"
