#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, on any machine with a CUDA GPU:
#   perf/gpu.sh          # both parts (about 10 minutes on one H100/H200)
#   perf/gpu.sh speed    # ms/step of DistilBERT-base and BERT-base shapes over an SST-2 epoch + evaluation:
#                        # our fast loop (eager and with CUDA graphs), our plain loop and HF Trainer
#   perf/gpu.sh parity   # MiniLM, 3 epochs of the full SST-2 train split: plain vs fast vs fast with CUDA graphs
#   perf/gpu.sh study    # the default study's training (2 backbones x SEEDS="1, 2, 3", EPOCHS=5) with RUNS_PER_GPU="1 2 3"
#                        # runs packed on each GPU (perf/study.py; random weights of the study's shapes)
# MODEL: a local MiniLM-L6-H384 folder or hub id (its tokenizer also serves the random-weight shapes);
# DATA: a folder with the GLUE SST-2 train.tsv and dev.tsv; OUT: where the tables, JSON and logs go.
# A step that fails or overruns its time limit is listed in $OUT/failures.txt, and the next step still runs.
# SHAPES=tiny ROWS=320 PARITY_EPOCHS=1 EPOCHS=1 SEEDS=1 shrinks it to a dry run that works on a CPU (tests/test_perf.py runs that).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false
part="${1:-all}"
model="${MODEL:-../shared/models/minilm-l6-h384-uncased}"
data="${DATA:-../shared/data/sst2}"
out="${OUT:-perf/out}"
rows=(${ROWS:+--rows "$ROWS"})
mkdir -p "$out"

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

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/gpu.csv" 2>&1 || echo "no nvidia-smi" >"$out/gpu.csv"
python -c "import torch, transformers; print(torch.__version__, torch.version.cuda, transformers.__version__)" | tee "$out/versions.txt"
date -u +%F >"$out/date.txt"
inputs=(--tokenizer "$model" --train "$data/train.tsv" --validation "$data/dev.tsv" "${rows[@]}")

if [ "$part" = all ] || [ "$part" = speed ]; then
  shapes=(${SHAPES:-distilbert-base bert-base})
  for shape in "${shapes[@]}"; do
    # The ablations (ungrouped, plain) on the first shape only: each costs a minute on the second.
    loops=fast,hf
    [ "$shape" = "${shapes[0]}" ] && loops=fast,fast-ungrouped,plain,hf
    step "$shape-epoch" 900 python -m sentiflow.train.bench --model "random:$shape" "${inputs[@]}" --epoch --loops "$loops" --json "$out/$shape-epoch.json"
    # Its own process: a failed capture can leave the CUDA context unusable.
    step "$shape-graphs" 600 python -m sentiflow.train.bench --model "random:$shape" "${inputs[@]}" --epoch --loops fast-graphs --json "$out/$shape-graphs.json"
  done
fi
if [ "$part" = study ]; then  # not part of `all`: 15-25 minutes on one GPU for 1, 2 and 3 runs packed
  shapes=(${SHAPES:-distilbert-base bert-base})
  cat >"$out/study.yaml" <<YAML
datasets:
  sst2:
    source: files
    files: {train: $data/train.tsv, validation: $data/dev.tsv}
    text_column: sentence
    label_column: label
    labels: [negative, positive]
    max_train_rows: ${ROWS:-null}
training: {epochs: ${EPOCHS:-5}}
seeds: [${SEEDS:-1, 2, 3}]
llm: {enabled: false}
YAML
  rm -rf "$out/study"
  step study 3600 python perf/study.py "$out/study" --runs-per-gpu ${RUNS_PER_GPU:-1 2 3} --configfile "$out/study.yaml" --tokenizer "$model" \
    --random distilbert-base-uncased="${shapes[0]}" --random bert-base-uncased="${shapes[1]:-${shapes[0]}}"
fi
if [ "$part" = all ] || [ "$part" = parity ]; then
  rm -rf "$out/parity"
  step parity 1800 python perf/parity.py "$model" "$data/train.tsv" "$data/dev.tsv" "$out/parity" \
    --epochs "${PARITY_EPOCHS:-3}" --loops plain,fast,fast-graphs "${rows[@]}"
fi
