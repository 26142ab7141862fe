#!/usr/bin/env bash
# Encoding speed (MB/s), old hand-written GPT-2 BPE vs ML.Tokenizers, side by side in one process.
# The old tokenizer is checked out from commit e95685a into a temporary git worktree. Reads the GPT-2 files from
# ${ESOLM_SHARED:-../shared}/data/gpt2 and the repository's Markdown as text.
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
shared=${ESOLM_SHARED:-$root/../shared}
old=$(mktemp -d)/old
git -C "$root" worktree add --detach "$old" e95685a >/dev/null
trap 'git -C "$root" worktree remove --force "$old"' EXIT
uptime
dotnet run -c Release --project "$root/scripts/tokenizer-speed" -p:OldEsoLm="$old/src/EsoLM/EsoLM.csproj" -- \
  "$shared/data/gpt2" "$shared"/design/*.md "$root"/README.md "$root"/docs/*.md
uptime
