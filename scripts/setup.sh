#!/usr/bin/env bash
# Installs what building and testing upshift needs and is missing on this machine:
# the wasm32-wasip2 Rust target (plugins are WebAssembly components built from source).
# Idempotent and quiet when everything is already there.
set -euo pipefail

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 Rust target" >&2
    rustup target add wasm32-wasip2 >&2
fi

