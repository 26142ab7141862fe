#!/usr/bin/env bash
# Regenerates the numbers of docs/results/quality.md (small-scale reproduction of the paper's likelihood and
# sample-quality claims on the built-in language).
#
#   scripts/reproduce-quality.sh [OUT_DIR]            # default OUT_DIR=/tmp/esolm-quality
#
# Environment: ESOLM (command to run the CLI; default: build once and run the Release dll), STEPS (training steps,
# default 400), THREADS (default 2), FIG3_ONLY=1 (train only the four models Figure 3 needs: AR, B α0=0.25, B α0=1, MDLM; used with
# STEPS=1600 for the longer-trained Figure 3). Phases are skipped when their output exists, so an interrupted run resumes.
# Every budget is a fixed step count, so the numbers do not depend on machine load (only the wall times do).
set -euo pipefail
OUT=${1:-/tmp/esolm-quality}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEPS=${STEPS:-400}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
if [ -z "${ESOLM:-}" ]; then
  dotnet build "$ROOT/src/EsoLM.Cli" -c Release > "$OUT/build.log"
  ESOLM="dotnet $ROOT/src/EsoLM.Cli/bin/Release/net10.0/EsoLM.Cli.dll"
fi

# ---- Training: 4 layers x 128 hidden, 4 heads, L = 128, batch 16, $STEPS steps, lr 1e-3 (40 warm-up), seed 1, built-in
# language (4000 documents, seed 1; 5% validation split).
TRAIN="--corpus builtin:grammar --tokenizer char --layers 4 --hidden 128 --heads 4 --length 128 --batch 16 --steps $STEPS --warmup 40 --lr 1e-3 --seed 1 --threads $THREADS --json"
train() { # name alpha0 variant
  local name=$1 a=$2 v=$3
  if [ ! -f "$OUT/$name.safetensors" ]; then
    local start; start=$(date +%s)
    $ESOLM train $TRAIN --alpha0 "$a" --variant "$v" --out "$OUT/$name.safetensors" > "$OUT/$name.json" 2> "$OUT/$name.err"
    echo "$name rc=$? wall=$(( $(date +%s) - start ))s" >> "$OUT/walls.txt"
  fi
}
# Training-issue table first (AR, 0.25, 1), then the rest of Table 1.
train ar 0 B
train b025 0.25 B
train b1 1 B
if [ -z "${FIG3_ONLY:-}" ]; then
  train b0125 0.125 B
  train b05 0.5 B
  train a1 1 A
fi
train mdlm 1 MDLM

# ---- Table 1: NELBO and importance-weighted exact PPL on held-out text (builtin:grammar, seed 1000003, 200 documents,
# first 64 rows of L = 128), plus the unigram baseline from the training split's token frequencies.
EVAL="--corpus builtin:grammar --documents 200 --rows 64 --seed 1 --threads $THREADS --json"
# K = 8 orders for the Eso-LMs; the bidirectional MDLM's exact likelihood costs L forward passes per order (not one), so
# it gets K = 1, and every Eso-LM is also evaluated at K = 1 for a like-for-like column.
for m in ar b0125 b025 b05 b1 a1 mdlm; do
  [ -f "$OUT/$m.safetensors" ] || continue   # FIG3_ONLY trains four of them
  k=8; [ "$m" = mdlm ] && k=${MDLM_ORDERS:-1}
  f="$OUT/$m.table1.json"
  [ -f "$f" ] || $ESOLM eval --model "$OUT/$m.safetensors" $EVAL --orders $k --samples 0 --baseline-corpus builtin:grammar > "$f"
  f="$OUT/$m.table1.k1.json"
  [ "$m" = mdlm ] || [ -f "$f" ] || $ESOLM eval --model "$OUT/$m.safetensors" $EVAL --orders 1 --samples 0 --no-nelbo > "$f"
done

# ---- Figure 3: generative PPL (scored by the AR model) and validity vs NFE; 32 samples of L = 128, nucleus p = 0.9.
GEN="--corpus builtin:grammar --documents 200 --rows 1 --no-nelbo --orders 0 --samples 32 --top-p 0.9 --seed 7 --threads $THREADS --json --scorer $OUT/ar.safetensors"
for T in 8 16 32 64 128; do
  f="$OUT/fig3.b1.ae1.T$T.json";    [ -f "$f" ] || $ESOLM eval --model "$OUT/b1.safetensors"   $GEN --alpha-eval 1    --steps $T > "$f"
  f="$OUT/fig3.b025.ae1.T$T.json";  [ -f "$f" ] || $ESOLM eval --model "$OUT/b025.safetensors" $GEN --alpha-eval 1    --steps $T > "$f"
  f="$OUT/fig3.b025.ae025.T$T.json";[ -f "$f" ] || $ESOLM eval --model "$OUT/b025.safetensors" $GEN --alpha-eval 0.25 --steps $T > "$f"
  f="$OUT/fig3.mdlm.T$T.json";      [ -f "$f" ] || $ESOLM eval --model "$OUT/mdlm.safetensors" $GEN --sampler mdlm    --steps $T > "$f"
done
f="$OUT/fig3.ar.json"; [ -f "$f" ] || $ESOLM eval --model "$OUT/ar.safetensors" $GEN --alpha-eval 0 > "$f"
# Reference point: validity of real held-out text (first 32 rows cut like samples) is reported by the data row in the docs.

# ---- Summary (markdown rows) ----
python3 - "$OUT" <<'EOF'
import json, sys, glob, os
out = sys.argv[1]
def load(p):
    with open(p) as f:
        return json.loads(f.readline())
print("| model | α0 | train val NELBO PPL | held-out NELBO PPL | exact PPL (K) | exact PPL (K=1) | unigram PPL (val / held-out) |")
for m in ["ar", "b0125", "b025", "b05", "b1", "a1", "mdlm"]:
    p = f"{out}/{m}.table1.json"
    if not os.path.exists(p): continue
    t, e = load(f"{out}/{m}.json"), load(p)
    k1 = e if m == "mdlm" else load(f"{out}/{m}.table1.k1.json")
    print(f"| {m} | {e['alpha0']} | {t['val_nelbo_ppl']:.3f} | {e['nelbo_ppl']:.3f} | {e['exact_ppl']:.3f} ({e['orders']}) | {k1['exact_ppl']:.3f} | {e['unigram_validation_ppl']:.2f} / {e['unigram_ppl']:.2f} |")
print()
print("| run | T | NFE | gen PPL | validity | entropy | seconds |")
for p in sorted(glob.glob(f"{out}/fig3.*.json")):
    e = load(p)
    print(f"| {os.path.basename(p)[5:-5]} | {e['steps']} | {e['nfe']:.1f} | {e['gen_ppl']:.3f} | {e['validity']:.3f} | {e['entropy']:.3f} | {e['sample_seconds']:.1f} |")
EOF
cat "$OUT/walls.txt"
