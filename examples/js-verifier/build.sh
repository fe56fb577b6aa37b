#!/usr/bin/env bash
# Builds the JavaScript verifier into a component (componentize-js, from npm: `npm ci` in sdk/js
# first) and declares the one capability it needs: SQL. Usage: bash build.sh [UPSHIFT] (default:
# upshift on PATH).
set -euo pipefail
cd "$(dirname "$0")"
UPSHIFT=${1:-upshift}
node ../../sdk/js/componentize.mjs --world verifier-plugin -o ledger-guard.wasm ledger-guard/app.js
"$UPSHIFT" plugin declare --sql ledger-guard.wasm
