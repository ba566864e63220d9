# What bench/run.sh and bench/scale.sh share; sourced, not run. Sets ROOT
# (the project, also the working directory), SHARED (../shared/bench, or
# $SHARED), DATA, OUT and MAPPING (the shared order → ERP mapping).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SHARED=${SHARED:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
DATA=$ROOT/bench/data
OUT=${OUT:-$ROOT/bench/results}
LOAD_WAIT=${LOAD_WAIT:-900}

say() { printf '\n== %s\n' "$*" >&2; }
warn() { printf '!! %s\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

[[ -n "$SHARED" && -f "$SHARED/gen_orders.py" ]] || { echo "error: ../shared/bench not found (set SHARED=)" >&2; exit 2; }
MAPPING=$SHARED/mapwright/order_to_erp.yaml
mkdir -p "$DATA" "$OUT"

# Sets MW: the binary given as $MAPWRIGHT, or the work tree's release build.
mapwright_binary() {
  if [[ -n "${MAPWRIGHT:-}" ]]; then
    MW=$(realpath "$MAPWRIGHT")
    say "mapwright: $MW (given, not built)"
  else
    say "build mapwright (release)"
    cargo build --release --bin mapwright -q >&2 || die "mapwright does not build"
    MW=$(realpath "${CARGO_TARGET_DIR:-$ROOT/target}/release/mapwright")
  fi
  [[ -x $MW ]] || die "no mapwright binary at $MW"
}

# With LOAD_MAX set, waits (up to LOAD_WAIT seconds) for the 1-minute load
# average to fall below it.
wait_for_quiet() {
  [[ -n "${LOAD_MAX:-}" ]] || return 0
  say "waiting up to ${LOAD_WAIT}s for load < $LOAD_MAX"
  local i
  for ((i = 0; i < LOAD_WAIT; i += 15)); do
    awk -v m="$LOAD_MAX" '{ exit !($1 < m) }' /proc/loadavg && return 0
    sleep 15
  done
}
