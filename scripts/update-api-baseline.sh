#!/usr/bin/env bash
# Accepts a deliberate change of the public API. tests/EsoLM.Tests/PublicApi compares each package's public surface with
# api/<Assembly>.txt and, on a mismatch, fails and writes the actual surface to artifacts/api/<Assembly>.received.txt.
# This script runs that test (unless --no-test) and copies every received file over its baseline in api/, so the change
# reaches the repository only as a diff that a developer reviews (`git diff api/`) and commits.
#
#   scripts/update-api-baseline.sh             # run the PublicApi test, then copy artifacts/api/*.received.txt to api/
#   scripts/update-api-baseline.sh --no-test   # only copy the received files of the last test run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
RECEIVED=artifacts/api
if [ "${1:-}" != "--no-test" ]; then
  rm -f "$RECEIVED"/*.received.txt
  # The test fails exactly when there is something to accept; that failure is expected here.
  dotnet test tests/EsoLM.Tests -c Release --filter "FullyQualifiedName~PublicApi" > /dev/null || true
fi
shopt -s nullglob
files=("$RECEIVED"/*.received.txt)
if [ ${#files[@]} -eq 0 ]; then
  echo "api/ is up to date: no received files in $RECEIVED/."
  exit 0
fi
for f in "${files[@]}"; do
  name=$(basename "$f" .received.txt)
  cp "$f" "api/$name.txt"
  rm "$f"
  echo "updated api/$name.txt"
done
echo "Review the change with 'git diff api/' and commit it with the code that caused it."
git --no-pager diff --stat -- api/ || true
