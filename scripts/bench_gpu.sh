#!/usr/bin/env bash
# The GPU figures, in one prepared run for a machine with CUDA: training (the ranking objective on ML-100K;
# the synthetic shop at 1e6 and 1e7 events) and encoding, each on CUDA and on the same machine's CPU.
#
#   PYTHON=.venv/bin/python bash scripts/bench_gpu.sh [out-dir]      # writes JSON and logs to out-dir
#
# PYTHON must have a CUDA build of torch (the CPU wheel this repo pins cannot see a GPU). Every figure goes to
# out-dir (default: $OUT, else ./gpu-figures); docs/training.md and docs/encoder.md quote them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT_DIR=${1:-${OUT:-gpu-figures}}
mkdir -p "$OUT_DIR"
"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())" \
  | tee "$OUT_DIR/device.txt"
nproc >> "$OUT_DIR/device.txt"
for device in cuda cpu; do
  "$PYTHON" -m scripts.bench_training --device "$device" --only "ranking, adam" --repeat 2 \
    2>&1 | tee "$OUT_DIR/ml100k-$device.log"
  "$PYTHON" -m scripts.bench_training --device "$device" --events 1e6,1e7 --json "$OUT_DIR/scale-$device.json" \
    2>&1 | tee "$OUT_DIR/scale-$device.log"
  "$PYTHON" -m scripts.bench_encoder --device "$device" --gpt2-texts 0 --json "$OUT_DIR/encoder-$device.json" \
    2>&1 | tee "$OUT_DIR/encoder-$device.log"
done
