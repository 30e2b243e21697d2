#!/usr/bin/env bash
# Train the bundled x1 restoration model srcodec-hevc-x1-v2 (card: weights/srcodec-hevc-x1-v2.md): a
# plain network (6 conv layers of 32 features, identity skip, 57k parameters) that learns to
# undo x265's artefacts, decoded -> original, on the training photos (data/train) and the vtest
# training split (frames 0-598 of data/cctv/train; frames 636+ are held out, 600-634 validate),
# every frame coded by srcodec.hevc (preset medium) in clips of 8 at three CRFs drawn from a range.
# Stage 1 (bundled as srcodec-hevc-x1, so that archives naming it decode): from scratch, CRF 20-40, 1500 steps of 16 patches of 64 px, Adam 2e-4 annealed to 0
#   (cosine), L1: 22 min on 2 CPU cores shared with other jobs.
# Stage 3 (srcodec-av1-x1, the x1 candidate of AV1 archives, the default lossy codec): stage 2
#   fine-tuned on SVT-AV1's artefacts (srcodec.av1 preset 6, CRF 24-62), 3000 steps of 16
#   patches of 64 px, Adam 2e-4 annealed to 0: 5.5 min on 2 CPU cores, unloaded (2026-11-28);
#   validation 35.38 dB against 35.04 decoded (35.36 at step 1000 already).
# Stage 2 (srcodec-hevc-x1-v2, the x1 candidate of x265 archives): stage 1 trained on, CRF 20-42, 5000
#   more steps, Adam 2e-4 annealed to 0: 9 min on the same 2 cores, unloaded; validation 33.26 dB
#   against stage 1's 33.19 (decoded: 32.99) on stage 1's validation pairs. (The shipped file was
#   run as --name srcodec-hevc-x1 and re-saved under its -v2 name.) Coding the 334 frames 3 times takes 1-2 min a stage.
# Stage 4 (srcodec-av1-x1-v2 and srcodec-hevc-x1-v3, the x1 candidates since archives decode
#   YUV -> RGB accurately, `rgb` in docs/format.md 9.7): the frames coded as archives of them
#   decode them (`rgb=auto`: nearest chroma for the CCTV frames, bilinear for the photos).
#   AV1: srcodec-av1-x1 trained on, 6000 steps L1 (4 min; validation 35.55 dB against 35.51
#   decoded), then 6000 more with L2 (4 min; 35.62 / 38.69 dB Y against 35.51 / 38.64).
#   x265: srcodec-hevc-x1-v2 trained on, 6000 steps L2, CRF 20-42 (4 min; 32.66 / 35.93 dB
#   against 32.23 / 35.92). 2 CPU cores, unloaded (2026-12-07).
# Stage 5 (srcodec-av1-x1-v3, the AV1 x1 candidate since archives code 10-bit streams, `bits`
#   in docs/format.md 9.7a): srcodec-av1-x1-v2 trained on, 6000 steps L2 on frames coded at 10
#   bits (`bits=10`; 4 min; validation 35.72 / 38.76 dB against 35.64 / 38.72 decoded).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/lossy/srcodec-hevc-x1-v2.safetensors}
AV1_OUT=${AV1_OUT:-runs/lossy/srcodec-av1-x1.safetensors}
STAGE1=${STAGE1:-runs/lossy/stage1/srcodec-hevc-x1.safetensors}
DEVICE=${DEVICE:-auto}
PY=${PY:-python}
[ -d data/train ] && [ -d data/cctv/train ] || $PY -m benchmarks.datasets.prepare --out data
rm -rf data/lossy && mkdir -p data/lossy/train data/lossy/val "$(dirname "$OUT")" "$(dirname "$STAGE1")"
ln -s "$PWD"/data/train/*.png data/lossy/train/
for f in data/cctv/train/frame_0*.png; do
    n=$(basename "$f" .png); n=${n#frame_}
    if [ $((10#$n)) -lt 600 ]; then ln -s "$PWD/$f" data/lossy/train/; else ln -s "$PWD/$f" data/lossy/val/; fi
done
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "$STAGE1" --force \
    --name srcodec-hevc-x1 --family plain --scale 1 --blocks 6 --features 32 --bicubic-skip \
    --degrade "hevc:crf=20-40,copies=3,clip=8" --patch 64 --batch 16 --lr 2e-4 \
    --schedule cosine --steps "${STEPS:-1500}" --val-every "${VAL_EVERY:-750}" --seed 0 \
    --device "$DEVICE"
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "$OUT" --force \
    --name srcodec-hevc-x1-v2 --init "$STAGE1" --degrade "hevc:crf=20-42,copies=3,clip=8" \
    --patch 64 --batch 16 --lr 2e-4 --schedule cosine --steps "${STEPS2:-5000}" \
    --val-every "${VAL_EVERY2:-1250}" --seed 2 --device "$DEVICE"
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "$AV1_OUT" --force \
    --name srcodec-av1-x1 --init "$OUT" --degrade "av1:crf=24-62,copies=3,clip=8" \
    --patch 64 --batch 16 --lr 2e-4 --schedule cosine --steps "${STEPS3:-3000}" \
    --val-every "${VAL_EVERY3:-1000}" --seed 3 --device "$DEVICE"
STAGE4=${STAGE4:-runs/lossy/stage4/srcodec-av1-x1-v2.safetensors}
mkdir -p "$(dirname "$STAGE4")"
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "$STAGE4" --force \
    --name srcodec-av1-x1-v2 --init "$AV1_OUT" --degrade "av1:crf=24-62,copies=3,clip=8,rgb=auto" \
    --patch 64 --batch 16 --lr 2e-4 --schedule cosine --steps 6000 --val-every 1500 --seed 4 \
    --device "$DEVICE"
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "${AV1_V2_OUT:-runs/lossy/srcodec-av1-x1-v2.safetensors}" \
    --force --name srcodec-av1-x1-v2 --init "$STAGE4" --loss l2 \
    --degrade "av1:crf=24-62,copies=3,clip=8,rgb=auto" --patch 64 --batch 16 --lr 2e-4 \
    --schedule cosine --steps 6000 --val-every 1500 --seed 5 --device "$DEVICE"
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "${HEVC_V3_OUT:-runs/lossy/srcodec-hevc-x1-v3.safetensors}" \
    --force --name srcodec-hevc-x1-v3 --init "$OUT" --loss l2 \
    --degrade "hevc:crf=20-42,copies=3,clip=8,rgb=auto" --patch 64 --batch 16 --lr 2e-4 \
    --schedule cosine --steps 6000 --val-every 1500 --seed 6 --device "$DEVICE"
$PY -m srcodec train data/lossy/train --val data/lossy/val -o "${AV1_V3_OUT:-runs/lossy/srcodec-av1-x1-v3.safetensors}" \
    --force --name srcodec-av1-x1-v3 --init "${AV1_V2_OUT:-runs/lossy/srcodec-av1-x1-v2.safetensors}" \
    --loss l2 --degrade "av1:crf=24-62,copies=3,clip=8,rgb=auto,bits=10" --patch 64 --batch 16 \
    --lr 2e-4 --schedule cosine --steps 6000 --val-every 1500 --seed 7 --device "$DEVICE"
# Shipped as weights/srcodec-hevc-x1-v2.safetensors (the runs of 2026-11-27) and
# weights/srcodec-av1-x1.safetensors (2026-11-28; its init was the shipped -v2 file),
# weights/srcodec-av1-x1-v2.safetensors and weights/srcodec-hevc-x1-v3.safetensors (2026-12-07;
# their inits the shipped srcodec-av1-x1 and srcodec-hevc-x1-v2 files) and
# weights/srcodec-av1-x1-v3.safetensors (2026-12-07; its init the shipped -v2 file), then:
#   srcodec models --export-onnx weights/srcodec-hevc-x1-v2.safetensors --onnx-dir weights
#   python -m benchmarks.writers.model_card weights/srcodec-hevc-x1-v2.safetensors \
#       --set photos=data/eval --set cctv=data/cctv/val:4 -o weights/srcodec-hevc-x1-v2.md
