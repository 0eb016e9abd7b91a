#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, in one run on a lent H100/H200 (about 8 minutes).
# Carried with the working tree (see docs/benchmarks.md): perf/carry/minilm-fp16, perf/carry/sst2/{train,dev}.tsv
# and perf/carry/wheels (accelerate for HF Trainer; the device image lacks it). Results go to $OUT or perf/out.
# SHAPES, ROWS and PARITY_EPOCHS shrink the run for a dry run on a CPU (SHAPES=tiny ROWS=320 PARITY_EPOCHS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
out="${OUT:-perf/out}"
carry=perf/carry
rows=(${ROWS:+--rows "$ROWS"})
mkdir -p "$out"
if compgen -G "$carry/wheels/*.whl" >/dev/null; then
  python -m pip install --quiet --no-deps --no-index "$carry"/wheels/*.whl
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.csv" || echo "no nvidia-smi" > "$out/gpu.csv"
python -c "import torch, transformers; print(torch.__version__, torch.version.cuda, transformers.__version__)" | tee "$out/versions.txt"
python perf/weights.py expand "$carry/minilm-fp16" "$out/minilm"
data=(--tokenizer "$out/minilm" --train "$carry/sst2/train.tsv" --validation "$carry/sst2/dev.tsv" "${rows[@]}")
for shape in ${SHAPES:-distilbert-base bert-base}; do
  python -m sentiflow.bench --model "random:$shape" "${data[@]}" --epoch --loops fast,plain,hf --json "$out/$shape-epoch.json" | tee "$out/$shape-epoch.txt"
  python -m sentiflow.bench --model "random:$shape" "${data[@]}" --epoch --loops fast --cuda-graphs --json "$out/$shape-graphs.json" | tee "$out/$shape-graphs.txt"
done
python perf/parity.py "$out/minilm" "$carry/sst2/train.tsv" "$carry/sst2/dev.tsv" "$out/parity" --epochs "${PARITY_EPOCHS:-3}" "${rows[@]}" | tee "$out/parity.txt"
rm -rf "$out/minilm" "$out"/parity/*/model  # weights are not results; keep what comes back small
