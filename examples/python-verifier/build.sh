#!/usr/bin/env bash
# Builds the Python verifier and target into components (componentize-py, from PyPI) and declares
# the one capability each needs: files. Usage: bash build.sh [UPSHIFT] (default: upshift on PATH).
set -euo pipefail
cd "$(dirname "$0")"
UPSHIFT=${1:-upshift}
WIT=../../wit
SDK=../../sdk/python
componentize-py -d "$WIT" -w verifier-plugin componentize -p "$SDK" -p verifier app -o error-budget.wasm
componentize-py -d "$WIT" -w target-plugin componentize -p "$SDK" -p fleet-target app -o file-fleet.wasm
"$UPSHIFT" plugin declare --files error-budget.wasm
"$UPSHIFT" plugin declare --files file-fleet.wasm
