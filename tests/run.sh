#!/usr/bin/env bash
# Runs every test of the workspace. The pipeline tests start a real
# PostgreSQL server on loopback (initdb + pg_ctl in a temporary folder), so
# PostgreSQL is installed first when it is missing (Debian/Ubuntu).
set -eu
cd "$(dirname "$0")/.."

have_postgres() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_postgres; then
    echo "tests/run.sh: installing PostgreSQL (the pipeline tests start a real server)" >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
    else
        echo "tests/run.sh: PostgreSQL is missing; install it (apt-get install -y postgresql) and run again" >&2
        exit 1
    fi
fi

exec cargo test --workspace "$@"
