#!/usr/bin/env bash
# Installs the services the end-to-end tests run for real and this machine lacks: HAProxy and
# Prometheus (for the haproxy_canary test) and PostgreSQL (for hostile_postgres and
# postgres_target), from Debian's packages, as root (or through sudo). The tests start and stop
# their own instances on free 127.0.0.1 ports (PostgreSQL: a cluster of their own, made with
# initdb in a temporary folder); nothing is started here, and the package's own cluster is not used.
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
