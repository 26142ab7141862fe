#!/usr/bin/env bash
# Draws the docs site's figures into docs/images with ScottPlot (tools/EsoLM.DocsFigures):
#   - concepts: the attention masks (MaskRules) and a two-phase sampling plan (StepPlanner), from the library's code;
#   - results: α0 against perplexity, speed against L per sampler, quality against NFE, from the JSON lines in
#     docs/results/data that `esolm eval --json` and `esolm bench sample --json` printed (scripts/docs-results-data.sh).
#
#   scripts/docs-figures.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$ROOT/tools/EsoLM.DocsFigures" -c Release -v quiet -nologo
FIG="dotnet $ROOT/tools/EsoLM.DocsFigures/bin/Release/net10.0/EsoLM.DocsFigures.dll"
$FIG concepts "$ROOT/docs/images"
$FIG results "$ROOT/docs/results/data" "$ROOT/docs/images"
ls "$ROOT/docs/images"
