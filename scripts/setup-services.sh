#!/usr/bin/env bash
# Installs the services and tools the end-to-end tests run for real and this machine lacks: HAProxy and
# Prometheus (for the haproxy_canary test), PostgreSQL (for hostile_postgres and
# postgres_target) and Chromium (for the dashboard's browser tests), from Debian's packages, as
# root (or through sudo); then Playwright (npm playwright-core, pinned in tests/browser), which
# drives that Chromium headless, componentize-py (PyPI, pinned) for the Python plugins and moto
# (PyPI, pinned), the AWS stand-in of the Lambda test. The tests start and stop their own instances on free 127.0.0.1
# ports (PostgreSQL: a cluster of their own, made with initdb in a temporary folder); nothing is
# started here, and the package's own cluster is not used.
# Idempotent and quiet when everything is already there.
set -euo pipefail

# HAProxy and Prometheus, for the haproxy_canary end-to-end test (Debian's packages).
missing=()
for program in haproxy prometheus; do
    if ! command -v "$program" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$program" ]; then
        missing+=("$program")
    fi
done
# PostgreSQL's server programs (initdb, postgres) and psql: Debian keeps the former out of the PATH.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
# Chromium, for the dashboard's browser tests (Debian's package; Playwright's own download is not used).
if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]} from Debian's packages" >&2
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    if ! "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
        "${as_root[@]}" apt-get update >&2
        "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
fi

# playwright-core, which the dashboard's browser tests drive Chromium with (tests/browser/package-lock.json).
browser_tests="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
    echo "setup: installing playwright-core (npm) for the dashboard's browser tests" >&2
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$browser_tests" --no-audit --no-fund >&2
fi

# componentize-js (npm, pinned in sdk/js/package-lock.json), which builds the JavaScript plugins of
# examples/js-verifier and tests/js_plugins.rs from source.
js_sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/sdk/js"
if [ ! -d "$js_sdk/node_modules/@bytecodealliance/componentize-js" ] \
    || [ ! -d "$js_sdk/node_modules/@bytecodealliance/preview2-shim" ]; then
    echo "setup: installing componentize-js (npm) for the JavaScript plugins" >&2
    npm ci --prefix "$js_sdk" --no-audit --no-fund >&2
fi

# moto (PyPI, pinned) in server mode: the AWS-API stand-in (Lambda, CloudWatch) that
# tests/lambda_alias.rs runs on 127.0.0.1; no AWS account is reachable from here.
MOTO_VERSION=5.2.5
if [ "$(python3 -c 'import moto, flask; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
    echo "setup: installing moto $MOTO_VERSION (PyPI), the AWS stand-in of the Lambda test" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "moto[server]==$MOTO_VERSION" >&2
fi

# componentize-py (PyPI, pinned), which builds the Python plugins of examples/python-verifier and
# tests/python_plugins.rs from source.
COMPONENTIZE_PY_VERSION=0.25.1
if ! command -v componentize-py >/dev/null 2>&1 \
    || [ "$(componentize-py --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    echo "setup: installing componentize-py $COMPONENTIZE_PY_VERSION (PyPI) for the Python plugins" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "componentize-py==$COMPONENTIZE_PY_VERSION" >&2
    # pyenv installs console scripts behind its shims, which need a rehash to appear.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
