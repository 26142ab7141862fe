#!/usr/bin/env bash
# Produces the JSON inputs of the docs site's Results plots (docs/results/data/*.json) with the esolm CLI:
#   - alpha0-*.json / mdlm.json: `esolm eval --json` NELBO perplexity of small models trained with α0 = 0 … 1;
#   - nfe-*.json: `esolm eval --json` generative perplexity / validity of samples against the number of steps T (NFE);
#   - bench-sample.json: `esolm bench sample --json` (copied from docs/results/summary.md §3, the quiet-machine run).
# Small scale (2 layers × 64 hidden, L = 64, 1000 steps, character tokens) so it runs in minutes on 2 cores. Then
# scripts/docs-figures.sh draws the PNGs from these files.
#
#   scripts/docs-results-data.sh [WORK_DIR]        # default WORK_DIR=/tmp/esolm-docs-data (models, logs)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/esolm-docs-data}
DATA="$ROOT/docs/results/data"
STEPS=${STEPS:-1000}
THREADS=${THREADS:-2}
mkdir -p "$WORK" "$DATA"
if [ -z "${ESOLM:-}" ]; then
  dotnet build "$ROOT/src/EsoLM.Cli" -c Release > "$WORK/build.log"
  ESOLM="dotnet $ROOT/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli.dll"
fi

TRAIN="--corpus builtin:grammar --tokenizer char --layers 2 --hidden 64 --heads 2 --length 64 --batch 16 --steps $STEPS --warmup 30 --lr 2e-3 --seed 1 --threads $THREADS --json"
train() { # name alpha0 variant
  [ -f "$WORK/$1.safetensors" ] || $ESOLM train $TRAIN --alpha0 "$2" --variant "$3" --out "$WORK/$1.safetensors" > "$WORK/$1.train.json"
}
train ar 0 B
train b025 0.25 B
train b05 0.5 B
train b075 0.75 B
train b1 1 B
train mdlm 1 MDLM

# α0 against perplexity: NELBO PPL on held-out text (generator seed 1000003, 200 documents, first 64 rows).
NELBO="--corpus builtin:grammar --documents 200 --rows 64 --orders 0 --samples 0 --seed 1 --threads $THREADS --json"
for m in ar b025 b05 b075 b1; do
  $ESOLM eval --model "$WORK/$m.safetensors" $NELBO > "$DATA/alpha0-$m.json"
done
$ESOLM eval --model "$WORK/mdlm.safetensors" $NELBO > "$DATA/mdlm.json"

# Quality against NFE: 16 samples of L = 64 per point, scored by the α0 = 0 model (generative perplexity) and checked
# against the built-in grammar (validity).
GEN="--corpus builtin:grammar --documents 200 --rows 1 --no-nelbo --orders 0 --samples 16 --seed 7 --threads $THREADS --json --scorer $WORK/ar.safetensors"
for T in 4 8 16 32 64; do
  $ESOLM eval --model "$WORK/b1.safetensors"   $GEN --alpha-eval 1    --steps $T > "$DATA/nfe-esolm-b1-T$T.json"
  $ESOLM eval --model "$WORK/b025.safetensors" $GEN --alpha-eval 0.25 --steps $T > "$DATA/nfe-esolm-b025-T$T.json"
  $ESOLM eval --model "$WORK/mdlm.safetensors" $GEN --sampler mdlm    --steps $T > "$DATA/nfe-mdlm-T$T.json"
done
$ESOLM eval --model "$WORK/ar.safetensors" $GEN --alpha-eval 0 > "$DATA/nfe-ar.json"

# Speed against L for each sampler: the quiet-machine `esolm bench sample --json` line of docs/results/summary.md §3
# (6 layers × 384 hidden, random weights, L = 256 and 1024, batch 1 and 16, NFE = L).
grep -m1 '^{"model":"6 layers, hidden 384' "$ROOT/docs/results/summary.md" > "$DATA/bench-sample.json"
echo "wrote $(ls "$DATA" | wc -l) files to $DATA"
