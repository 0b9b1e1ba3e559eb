#!/usr/bin/env bash
# The checks that need a CUDA device, in one go (a GPU machine is lent for minutes, so they run as one script):
# the prior's CUDA tests, the prior's GPU throughput (batch 64) and single-query latency (batch 1), concurrent
# callers through one SampleBatcher (a threaded GPU worker), and the production encoder architectures' GPU
# throughput. Needs python3 with torch, numpy, safetensors, tqdm, pytest and transformers; no Postgres, Django or
# model downloads.
#
#     bash bench/gpu.sh OUT_DIR          # PYTHON=... to pick the interpreter
set -euo pipefail
out=${1:?usage: bash bench/gpu.sh OUT_DIR}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
$py -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' \
    | tee -a "$out/gpu.txt"
$py -m pytest -q -p no:cacheprovider tests/prior/test_cuda.py 2>&1 | tee "$out/test_cuda.txt"
for batch in 64 1; do
    $py bench/prior_speed.py --throughput --device cuda --widths 256,1024,4096 --dtypes fp32,bf16 --batch "$batch" \
        | tee "$out/prior_throughput_b$batch.json"
done
$py bench/prior_speed.py --callers 1,8,32,64 --device cuda --seconds 5 | tee "$out/prior_callers.json"
$py bench/prior_speed.py --callers 1,8,32,64 --device cuda --seconds 5 --cuda-graphs | tee "$out/prior_callers_graphs.json"
$py bench/encoders.py --gpu --no-offline --device cuda --batch 64 | tee "$out/encoders_gpu.json"
