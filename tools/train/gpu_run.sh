#!/usr/bin/env bash
# One entry point for training on the GPU machine (run from the repository root).
#
#   tools/train/gpu_run.sh call1 [--minutes 9]   dataset + text encoder, VAE, transformer start; state -> $OUT/train-state/
#   tools/train/gpu_run.sh call2 [--minutes 9]   restore ./train-state, dataset again, transformer, export -> $OUT/model.tar.*,
#                                                samples.png (8 prompts drawn in PyTorch)
#   tools/train/gpu_run.sh all --minutes M       everything in one go (a machine that is not reset)
#   (a call 3 may run call2 again with call 2's returned files in ./train-state: the export resumes too)
#   tools/train/gpu_run.sh prep | vae | gpt | export | parity | state [--minutes M]   single stages
#   add --smoke for tiny sizes (CPU tests)
#
# Environment: TRAIN_WORK (default /tmp/train) holds data/, ckpt/, tokens.npz, model/; OUT (the device
# machine's return folder; default $TRAIN_WORK/out); NODE (default /tmp/node if present, else node);
# PYTHON (default python3); COUNT (images, default 12000; smoke 48); SEED (dataset seed, default 1);
# STATE_IN (checkpoints to resume from, default ./train-state); GPT_PLAN (minutes the transformer's LR
# schedule spans over both calls, default 9).
set -euo pipefail

STAGE=${1:-}
[ -n "$STAGE" ] || { sed -n "2,18p" "$0"; exit 2; }
shift
MINUTES=9
SMOKE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --smoke) SMOKE=--smoke; shift ;;
    *) echo "gpu_run.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done

REPO=$(cd "$(dirname "$0")/../.." && pwd)
TT=$REPO/tools/train
WORK=${TRAIN_WORK:-/tmp/train}
OUT=${OUT:-$WORK/out}
if [ -z "${NODE:-}" ]; then if [ -x /tmp/node ]; then NODE=/tmp/node; else NODE=node; fi; fi
PY=${PYTHON:-python3}
SEED=${SEED:-1}
if [ -n "$SMOKE" ]; then SIZE=256; COUNT=${COUNT:-48}; else SIZE=512; COUNT=${COUNT:-12000}; fi
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

prep() {
  if [ -f "$DATA/dataset.json" ] && [ -f "$DATA/images.u8" ]; then
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
  if [ ! -f "$T5/tokenizer.json" ] || [ "$DATA/dataset.json" -nt "$T5/tokenizer.json" ]; then
    say "text encoder with the dataset's vocabulary -> $T5"
    "$NODE" "$REPO/dist/cli.js" make-text-encoder --out "$T5" --dataset "$DATA" >/dev/null
  fi
}

vae() { "$PY" "$TT/vae_train.py" --data "$DATA" --ckpt "$CKPT" --minutes "$1" --plan-minutes "${2:-$1}" --log "$LOG" $SMOKE; }
gpt() { "$PY" "$TT/gpt_train.py" --data "$DATA" --ckpt "$CKPT" --text-encoder "$T5" --tokens "$TOKENS" --minutes "$1" --plan-minutes "$GPT_PLAN" --log "$LOG" $SMOKE; }

export_model() {
  rm -rf "$MODEL"
  "$PY" "$TT/export.py" --ckpt "$CKPT" --text-encoder "$T5" --out "$MODEL" --data "$DATA" $SMOKE \
    --command "tools/train/gpu_run.sh (COUNT=$COUNT SEED=$SEED GPT_PLAN=$GPT_PLAN) call1 + call2 $SMOKE"
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
  *) echo "gpu_run.sh: unknown stage $STAGE" >&2; exit 2 ;;
esac
say "done: $STAGE"
