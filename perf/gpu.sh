#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, in one run on a lent H100/H200 (about 8 minutes).
# Carried with the working tree: perf/carry/minilm-fp16 (python perf/weights.py shrink ...) and
# perf/carry/sst2/{train,dev}.tsv. Results go to $OUT (or perf/out).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
out="${OUT:-perf/out}"
carry=perf/carry
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.csv"
python -c "import torch, transformers; print(torch.__version__, torch.version.cuda, transformers.__version__)" > "$out/versions.txt"
python perf/weights.py expand "$carry/minilm-fp16" /tmp/minilm
data=(--tokenizer /tmp/minilm --train "$carry/sst2/train.tsv" --validation "$carry/sst2/dev.tsv")
for shape in distilbert-base bert-base; do
  python -m sentiflow.bench --model "random:$shape" "${data[@]}" --epoch --loops fast,plain,hf --json "$out/$shape-epoch.json" | tee "$out/$shape-epoch.txt"
  python -m sentiflow.bench --model "random:$shape" "${data[@]}" --epoch --loops fast --cuda-graphs --json "$out/$shape-graphs.json" | tee "$out/$shape-graphs.txt"
done
python perf/parity.py /tmp/minilm "$carry/sst2/train.tsv" "$carry/sst2/dev.tsv" "$out/parity" --epochs 3 | tee "$out/parity.txt"
