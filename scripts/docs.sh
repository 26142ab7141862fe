#!/usr/bin/env bash
# Builds the docs site into docs/_site with docfx (a local .NET tool: .config/dotnet-tools.json), warnings as errors:
# a broken link, a missing cross-reference or a missing code region fails the build. The API reference comes from the
# XML docs of src/EsoLM, src/EsoLM.Extensions.AI, src/EsoLM.ML and src/EsoLM.Server.
#
#   scripts/docs.sh            # build the site
#   scripts/docs.sh --check    # build it, then open every page in headless Chromium (tests/EsoLM.Docs.Tests; needs
#                              # Debian's chromium package); screenshots and a summary go to artifacts/docs-check/
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore > /dev/null
rm -rf docs/_site
dotnet docfx docs/docfx.json --warningsAsErrors true
echo "site: $ROOT/docs/_site ($(find docs/_site -name '*.html' | wc -l) pages)"
if [ "${1:-}" = "--check" ]; then
  dotnet test tests/EsoLM.Docs.Tests -c Release --logger "console;verbosity=normal"
fi
