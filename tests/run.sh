#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run calls
# it). Installs what the tests need when it is missing (a fresh Debian
# machine: PostgreSQL and nats-server), checks the formatting and the lints
# (`cargo fmt --check`, `cargo clippy … -D warnings`), runs the engine's own
# tests once more without its optional features (hooks, contracts), then
# `cargo test --workspace`. Extra arguments go to that last command.
set -eu
cd "$(dirname "$0")/.."

# The PostgreSQL tests start real throwaway servers on 127.0.0.1: they need
# initdb and pg_ctl (on PATH, or where Debian puts them) and psql. They fail
# rather than skip without them, so install them first.
have_postgres() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 \
        && command -v psql >/dev/null 2>&1; then
        return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] \
            && { [ -x "$dir/psql" ] || command -v psql >/dev/null 2>&1; }; then
            return 0
        fi
    done
    return 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "tests/run.sh: installing test servers needs root, and sudo is not installed; run: apt-get install -y postgresql nats-server" >&2
        exit 1
    fi
}

# The NATS tests start a real nats-server (JetStream on) on 127.0.0.1.
have_nats() {
    command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || [ -x /usr/bin/nats-server ]
}

missing=""
have_postgres || missing="postgresql"
have_nats || missing="$missing nats-server"
if [ -n "$missing" ]; then
    echo "tests/run.sh: installing what the tests need:$missing" >&2
    as_root apt-get update
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p mapwright-engine --no-default-features --all-targets -- -D warnings
cargo test -p mapwright-engine --no-default-features --lib
exec cargo test --workspace "$@"
