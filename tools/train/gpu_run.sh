#!/usr/bin/env bash
# One entry point for training on the GPU machine (run from the repository root).
#
#   tools/train/gpu_run.sh call1 [--minutes 9]   dataset + text encoder, VAE, transformer start; state -> $OUT/train-state/
#   tools/train/gpu_run.sh call2 [--minutes 9]   restore ./train-state, dataset again, transformer, export -> $OUT/model.tar.*,
#                                                samples.png (8 prompts drawn in PyTorch)
#   tools/train/gpu_run.sh all --minutes M       everything in one go (a machine that is not reset)
#   tools/train/gpu_run.sh resume --from DIR [--minutes 9]
#                                                go on from an exported model folder (default media/models/infinity-shapes):
#                                                its weights and its text encoder kept byte for byte, the VAE frozen, a FRESH
#                                                dataset (seed 1000 + the transformer's step), a warm-restart LR schedule over
#                                                this call, export -> $OUT/model.tar.* (the --from of the next call)
#   (a call 3 may run call2 again with call 2's returned files in ./train-state: the export resumes too)
#   tools/train/gpu_run.sh prep | vae | gpt | export | parity | state [--minutes M]   single stages
#   add --smoke for tiny sizes (CPU tests)
#
# Environment: TRAIN_WORK (default /tmp/train) holds data/, ckpt/, tokens.npz, model/; OUT (the device
# machine's return folder; default $TRAIN_WORK/out); NODE (default /tmp/node if present, else node);
# PYTHON (default python3); COUNT (images, default 12000; smoke 48); SEED (dataset seed, default 1);
# STATE_IN (checkpoints to resume from, default ./train-state); GPT_PLAN (minutes the transformer's LR
# schedule spans over both calls, default 9). resume only: GPT_LR (peak LR of the restart, default 3e-4),
# SINGLE_WEIGHT (draw weight of single-object images, default 2), BSC (bitwise self-correction: flip probability
# drawn per image from U[0, BSC], default 0.2; 0 turns it off), COUNT (default 24000), LOG_IN (the log to continue,
# default tools/train/log.jsonl), EXPORT_S (seconds kept for the export and samples, default 50), EDGE_WEIGHT (edge tokens,
# where an outline or a horizon crosses, weigh 1 + this in each scale's loss; default 0, off), SHAPE_WEIGHT (images holding
# these shapes are drawn more often, e.g. star=2,diamond=2; default none).
set -euo pipefail

STAGE=${1:-}
[ -n "$STAGE" ] || { sed -n "2,18p" "$0"; exit 2; }
shift
MINUTES=9
SMOKE=""
FROM=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --smoke) SMOKE=--smoke; shift ;;
    --from) FROM=$2; shift 2 ;;
    *) echo "gpu_run.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done

REPO=$(cd "$(dirname "$0")/../.." && pwd)
TT=$REPO/tools/train
WORK=${TRAIN_WORK:-/tmp/train}
OUT=${OUT:-$WORK/out}
if [ -z "${NODE:-}" ]; then if [ -x /tmp/node ]; then NODE=/tmp/node; else NODE=node; fi; fi
PY=${PYTHON:-python3}
SEED_SET=${SEED:-}
SEED=${SEED:-1}
if [ "$STAGE" = resume ]; then DEFAULT_COUNT=24000; else DEFAULT_COUNT=12000; fi
if [ -n "$SMOKE" ]; then SIZE=256; COUNT=${COUNT:-48}; else SIZE=512; COUNT=${COUNT:-$DEFAULT_COUNT}; fi
GPT_PLAN=${GPT_PLAN:-9}
DATA=$WORK/data
CKPT=$WORK/ckpt
T5=$WORK/flan-t5-shapes
TOKENS=$WORK/tokens.npz
MODEL=$WORK/model
LOG=$WORK/log.jsonl
STATE_IN=${STATE_IN:-$REPO/train-state}
START=$(date +%s)
END=$("$PY" -c "print(int($START + float('$MINUTES') * 60))")
mkdir -p "$WORK" "$OUT" "$CKPT"
export PYTHONUNBUFFERED=1

say() { echo "[gpu_run $(date +%H:%M:%S) +$(( $(date +%s) - START ))s] $*"; }
left() { echo $((END - $(date +%s))); }
mins() { "$PY" -c "print(round(max($1, 6) / 60, 3))"; }

restore() {
  if [ -f "$STATE_IN/vae.json" ] && [ ! -f "$CKPT/vae.json" ]; then
    say "restoring checkpoints from $STATE_IN"
    cp "$STATE_IN"/vae* "$CKPT"/
    if ls "$STATE_IN"/gpt* >/dev/null 2>&1; then cp "$STATE_IN"/gpt* "$CKPT"/; fi
    if [ -f "$STATE_IN/log.jsonl" ] && [ ! -f "$LOG" ]; then cp "$STATE_IN/log.jsonl" "$LOG"; fi
  elif [ -f "$STATE_IN/model.tar.00" ] && [ ! -f "$CKPT/vae.json" ]; then
    # call 2's return (an export) also resumes: its files hold the checkpoints' fp16 weights and records
    say "restoring checkpoints from the export in $STATE_IN"
    rm -rf "$WORK/import" && mkdir -p "$WORK/import"
    cat "$STATE_IN"/model.tar.* | tar -C "$WORK/import" -xf -
    "$PY" "$TT/import_model.py" --model "$WORK/import" --ckpt "$CKPT"
    if [ -f "$STATE_IN/log.jsonl" ] && [ ! -f "$LOG" ]; then cp "$STATE_IN/log.jsonl" "$LOG"; fi
  fi
}

dataset_is() {  # the dataset in $DATA has this seed and count
  [ -f "$DATA/dataset.json" ] && [ -f "$DATA/images.u8" ] &&
    "$PY" -c "import json,sys; d=json.load(open('$DATA/dataset.json')); sys.exit(0 if (d['seed'], d['count']) == ($1, $2) else 1)"
}

prep() {
  if dataset_is "$SEED" "$COUNT"; then
    say "dataset present: $(head -c 200 "$DATA/dataset.json")"
  else
    say "generating $COUNT images of ${SIZE}x${SIZE} (seed $SEED) with $NODE dist/cli.js dataset"
    rm -rf "$DATA"
    if ! "$NODE" "$REPO/dist/cli.js" dataset --out "$DATA" --count "$COUNT" --size "$SIZE" --seed "$SEED" --split train --workers "$(nproc)"; then
      say "WARNING: the dataset generator failed or is missing; using the Python stand-in (flat shapes only)"
      rm -rf "$DATA"
      "$PY" "$TT/standin_dataset.py" --out "$DATA" --count "$COUNT" --size "$SIZE" --seed "$SEED"
    fi
  fi
  # resume keeps the model's own text encoder (KEEP_T5): a new one would change every conditioning feature
  if [ -z "${KEEP_T5:-}" ] && { [ ! -f "$T5/tokenizer.json" ] || [ "$DATA/dataset.json" -nt "$T5/tokenizer.json" ]; }; then
    say "text encoder with the dataset's vocabulary -> $T5"
    "$NODE" "$REPO/dist/cli.js" make-text-encoder --out "$T5" --dataset "$DATA" >/dev/null
  fi
}

vae() { "$PY" "$TT/vae_train.py" --data "$DATA" --ckpt "$CKPT" --minutes "$1" --plan-minutes "${2:-$1}" --log "$LOG" $SMOKE; }
gpt() { "$PY" "$TT/gpt_train.py" --data "$DATA" --ckpt "$CKPT" --text-encoder "$T5" --tokens "$TOKENS" --minutes "$1" --plan-minutes "$GPT_PLAN" --log "$LOG" $SMOKE; }

export_model() {
  rm -rf "$MODEL"
  "$PY" "$TT/export.py" --ckpt "$CKPT" --text-encoder "$T5" --out "$MODEL" --data "$DATA" $SMOKE \
    ${KEEP_FROM:+--keep-fields-from "$KEEP_FROM/manifest.json"} \
    --command "${COMMAND:-tools/train/gpu_run.sh (COUNT=$COUNT SEED=$SEED GPT_PLAN=$GPT_PLAN) call1 + call2 $SMOKE}"
  "$PY" "$TT/summarize.py" --log "$LOG" --manifest "$MODEL/manifest.json" --out "$WORK/SUMMARY.md"
  # one archive, cut under the 16 MiB a returned file may have: cat model.tar.* | tar x
  rm -f "$OUT"/model.tar.*
  tar -C "$MODEL" -cf - . | split -b 15m -d -a 2 - "$OUT/model.tar."
  cp "$MODEL/manifest.json" "$OUT/manifest.json"
  cp "$LOG" "$OUT/log.jsonl"
  cp "$WORK/SUMMARY.md" "$OUT/SUMMARY.md"
  # a first look at what it draws (PyTorch sampling, engine rules); never fails the export
  "$PY" "$TT/sample.py" --model "$MODEL" --out "$OUT/samples.png" || say "WARNING: sampling failed"
  say "exported: $(ls -la "$OUT" | tr '\n' ' ')"
}

pack_state() {
  mkdir -p "$OUT/train-state"
  rm -f "$OUT"/train-state/*
  cp "$CKPT"/vae* "$OUT/train-state/"
  if ls "$CKPT"/gpt* >/dev/null 2>&1; then cp "$CKPT"/gpt* "$OUT/train-state/"; fi
  [ -f "$LOG" ] && cp "$LOG" "$OUT/train-state/log.jsonl"
  say "state for the next call: $(ls -la "$OUT/train-state" | tr '\n' ' ')"
}

parity() {
  "$PY" "$TT/parity.py" --model "$MODEL" --node "$NODE" --out "$OUT/parity.json"
}

case "$STAGE" in
  prep) prep ;;
  state) pack_state ;;
  vae) restore; vae "$(mins $(( $(left) )))" ;;
  gpt) restore; gpt "$(mins $(( $(left) )))" ;;
  export) restore; export_model ;;
  parity) parity ;;
  call1)
    restore
    prep
    # the transformer gets ~2.5 minutes of this call (tokenising included); the VAE gets what is before it
    GPT_S=${GPT1_S:-150}
    [ -n "$SMOKE" ] && GPT_S=60
    vae "$(mins $(( $(left) - GPT_S - 15 )))"
    gpt "$(mins $(( $(left) - 15 )))"
    pack_state
    ;;
  call2)
    restore
    [ -f "$CKPT/vae.json" ] || { echo "call2: no VAE checkpoint in $STATE_IN or $CKPT (copy call1's \$OUT/train-state/ to ./train-state)" >&2; exit 1; }
    prep
    gpt "$(mins $(( $(left) - 60 )))"
    export_model
    ;;
  all)
    restore
    prep
    TOTAL=$(left)
    vae "$(mins $(( TOTAL * 40 / 100 )))"
    GPT_PLAN=$(mins $(( $(left) - 60 )))
    gpt "$GPT_PLAN"
    export_model
    ;;
  resume)
    FROM=${FROM:-$REPO/media/models/infinity-shapes}
    [ -f "$FROM/manifest.json" ] || { echo "resume: $FROM has no manifest.json (an export of tools/train/export.py)" >&2; exit 1; }
    TEXT_DIR=$FROM/$("$PY" -c "import json; print(json.load(open('$FROM/manifest.json'))['textEncoder'])")
    PREV=$("$PY" -c "import json; t=json.load(open('$FROM/manifest.json')).get('training') or {}; print((t.get('transformer') or {}).get('step') or 0)")
    SEED=${SEED_SET:-$((1000 + PREV))}
    [ -f "$CKPT/gpt.json" ] || "$PY" "$TT/import_model.py" --model "$FROM" --ckpt "$CKPT"
    rm -rf "$T5" && cp -r "$TEXT_DIR" "$T5"
    KEEP_T5=1
    LOG_IN=${LOG_IN:-$TT/log.jsonl}
    if [ ! -f "$LOG" ] && [ -f "$LOG_IN" ] && [ -z "$SMOKE" ]; then cp "$LOG_IN" "$LOG"; fi
    say "resuming from $FROM (transformer step $PREV) on a fresh dataset: seed $SEED, $COUNT images"
    prep
    "$PY" "$TT/gpt_train.py" --data "$DATA" --ckpt "$CKPT" --text-encoder "$T5" --tokens "$TOKENS" \
      --minutes "$(mins $(( $(left) - ${EXPORT_S:-50} )))" --restart --allow-other-data --lr "${GPT_LR:-3e-4}" \
      --single-weight "${SINGLE_WEIGHT:-2}" --bsc "${BSC:-0.2}" --edge-weight "${EDGE_WEIGHT:-0}" --shape-weight "${SHAPE_WEIGHT:-}" --seed "$SEED" --log "$LOG" $SMOKE
    KEEP_FROM=$FROM
    COMMAND="tools/train/gpu_run.sh resume (from step $PREV; COUNT=$COUNT SEED=$SEED GPT_LR=${GPT_LR:-3e-4} SINGLE_WEIGHT=${SINGLE_WEIGHT:-2} BSC=${BSC:-0.2} EDGE_WEIGHT=${EDGE_WEIGHT:-0} SHAPE_WEIGHT=${SHAPE_WEIGHT:-}) $SMOKE"
    export_model
    # the text encoder must come back byte for byte: the transformer was trained on its features
    diff -r "$TEXT_DIR" "$MODEL/$(basename "$TEXT_DIR")" >/dev/null || { echo "resume: the exported text encoder differs from $TEXT_DIR" >&2; exit 1; }
    say "text encoder kept unchanged ($(basename "$TEXT_DIR"))"
    ;;
  *) echo "gpu_run.sh: unknown stage $STAGE" >&2; exit 2 ;;
esac
say "done: $STAGE"
