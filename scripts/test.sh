#!/usr/bin/env bash
# The whole test suite: the workspace (host, SDK, first-party plugins, end-to-end tests), the
# fixture plugins' own unit tests, and the example plugins a new author starts from.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/setup-services.sh
cargo test --workspace --no-fail-fast
cargo test --manifest-path tests/Cargo.toml --no-fail-fast
cargo test --manifest-path examples/custom-verifier/Cargo.toml
cargo test --manifest-path examples/custom-target/Cargo.toml
