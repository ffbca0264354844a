#!/usr/bin/env bash
# GPU check: the CUDA tests, then a BC5CDR run (the default config unless CONFIG names another) trained, used
# for prediction and scored on the GPU.
#
#   bash bench/bench_gpu.sh OUT_DIR [--set KEY=VALUE ...]
#
# The extra arguments go to `distant train`. Environment: DISTANT_DATA (corpora, default ../shared/data),
# PYTHON (default python3), RUN_DIR (the training run, default OUT_DIR/run), DEVICE (default cuda),
# CONFIG (default configs/bc5cdr.toml). The tables of docs/benchmarks.md
# quote OUT_DIR/report.json and the times printed here.
set -euo pipefail
out=${1:?usage: bench_gpu.sh OUT_DIR [--set KEY=VALUE ...]}
shift
python=${PYTHON:-python3}
data=${DISTANT_DATA:-../shared/data}
run=${RUN_DIR:-$out/run}
device=${DEVICE:-cuda}
config=${CONFIG:-configs/bc5cdr.toml}
test_file=$data/BC5CDR/original/CDR_TestSet.PubTator.txt
mkdir -p "$out"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo 'no nvidia-smi'
"$python" -c "import os, torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '|',
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU', '|', os.cpu_count(), 'CPU cores')"

echo "== CUDA tests"
"$python" -m pytest -q -p no:cacheprovider tests/test_gpu.py

echo "== train $config on $device"
start=$(date +%s)
"$python" -m distant train "$config" -o "$run" --device "$device" "$@"
echo "train wall: $(( $(date +%s) - start )) s"

echo "== predict + evaluate the test set on $device"
start=$(date +%s)
"$python" -m distant predict "$run" "$test_file" -o "$out/pred.pubtator" --device "$device"
echo "predict wall (with start-up): $(( $(date +%s) - start )) s"
"$python" -m distant evaluate "$test_file" "$out/pred.pubtator"
"$python" -m distant evaluate "$test_file" "$out/pred.pubtator" --json > "$out/test_scores.json"
cp "$run/report.json" "$run/metrics.jsonl" "$out/"
