#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md on a lent H100/H200, in two parts that each fit one 10-minute call:
#   perf/gpu.sh speed    # DistilBERT-base and BERT-base shapes, an SST-2 epoch + evaluation (about 6 minutes)
#   perf/gpu.sh parity   # MiniLM, 3 epochs of full SST-2, plain vs fast vs fast with CUDA graphs (about 3)
#   perf/gpu.sh          # both
# Carried with the working tree (see docs/benchmarks.md): perf/carry/minilm-fp16, perf/carry/sst2/{train,dev}.tsv
# and perf/carry/wheels (accelerate for HF Trainer; the device image lacks it). Results go to $OUT or perf/out.
# A step that fails or overruns its time limit is written to failures.txt and the next step still runs.
# SHAPES, ROWS and PARITY_EPOCHS shrink the run for a dry run on a CPU (SHAPES=tiny ROWS=320 PARITY_EPOCHS=1;
# tests/test_perf.py does that); CARRY and WORK move those two folders.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
part="${1:-all}"
out="${OUT:-perf/out}"
carry="${CARRY:-perf/carry}"
work="${WORK:-perf/work}" # weights and checkpoints: kept on the machine between the two calls, never sent back
rows=(${ROWS:+--rows "$ROWS"})
mkdir -p "$out" "$work"

step() { # step NAME SECONDS COMMAND...: stdout to NAME.txt, stderr to NAME.log
  local name=$1 limit=$2 status
  shift 2
  echo "== $name ($(date +%T), limit ${limit}s)"
  timeout "$limit" "$@" >"$out/$name.txt" 2>"$out/$name.log"
  status=$?
  cat "$out/$name.txt"
  if [ "$status" -ne 0 ]; then
    echo "$name: exit $status" | tee -a "$out/failures.txt"
    tail -n 25 "$out/$name.log"
  fi
}

if compgen -G "$carry/wheels/*.whl" >/dev/null; then
  python -m pip install --quiet --no-deps --no-index "$carry"/wheels/*.whl
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/gpu.csv" 2>&1 || echo "no nvidia-smi" >"$out/gpu.csv"
python -c "import torch, transformers; print(torch.__version__, torch.version.cuda, transformers.__version__)" | tee "$out/versions.txt"
[ -d "$work/minilm" ] || python perf/weights.py expand "$carry/minilm-fp16" "$work/minilm"
data=(--tokenizer "$work/minilm" --train "$carry/sst2/train.tsv" --validation "$carry/sst2/dev.tsv" "${rows[@]}")

if [ "$part" = all ] || [ "$part" = speed ]; then
  shapes=(${SHAPES:-distilbert-base bert-base})
  for shape in "${shapes[@]}"; do
    # The ablations (ungrouped, plain) on the first shape only: each costs a GPU minute on the second.
    loops=fast,hf
    [ "$shape" = "${shapes[0]}" ] && loops=fast,fast-ungrouped,plain,hf
    step "$shape-epoch" 300 python -m sentiflow.bench --model "random:$shape" "${data[@]}" --epoch --loops "$loops" --json "$out/$shape-epoch.json"
    # Its own process: a failed capture can leave the CUDA context unusable.
    step "$shape-graphs" 150 python -m sentiflow.bench --model "random:$shape" "${data[@]}" --epoch --loops fast-graphs --json "$out/$shape-graphs.json"
  done
fi
if [ "$part" = all ] || [ "$part" = parity ]; then
  rm -rf "$work/parity"
  step parity 480 python perf/parity.py "$work/minilm" "$carry/sst2/train.tsv" "$carry/sst2/dev.tsv" "$work/parity" \
    --epochs "${PARITY_EPOCHS:-3}" --loops plain,fast,fast-graphs "${rows[@]}"
  for run in "$work"/parity/*/; do # tables and metadata come back; the fine-tuned weights stay
    mkdir -p "$out/parity/$(basename "$run")"
    cp "$run"/*.csv "$run"/*.json "$out/parity/$(basename "$run")/" 2>/dev/null
  done
  cp "$work/parity/parity.json" "$out/parity/" 2>/dev/null
fi
