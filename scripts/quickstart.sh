#!/usr/bin/env bash
# Quick start, line 1: installs what is missing, builds upshift (its first-party plugins compiled
# from source for wasm32-wasip2 and embedded), then runs the quickstart: provision 8 SQLite shards
# at v1, and upgrade them to v3, canary shard first, verifying every stage.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build -p upshift
upshift=./target/debug/upshift
state=examples/quickstart/state.db
# Every run starts from fresh shards and an empty store, so this script can run again (a second
# provisioning would find the shards already upgraded and refuse).
rm -rf examples/quickstart/shards "$state" "$state-wal" "$state-shm"
"$upshift" --state "$state" run examples/quickstart/provision.toml
echo
"$upshift" --state "$state" run examples/quickstart/rollout.toml
