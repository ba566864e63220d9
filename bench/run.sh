#!/usr/bin/env bash
# mapwright against its peers on the shared order → ERP benchmark (../shared/bench).
#
#   bench/run.sh                       build, check on 20k orders, time on 200k, print + write
#                                      bench/results/latest.md
#   INSTALL=1 bench/run.sh             first install missing tools: hyperfine, jq, GNU time
#                                      (apt-get), jaq (cargo install jaq --locked)
#   ONLY="vrl jq" bench/run.sh         time only these (mapwright is always timed, as the baseline)
#   N=50000 N_CHECK=5000 bench/run.sh  workload sizes (orders) for timing and for the check
#   RUNS=5 WARMUP=1                    hyperfine runs per tool (default 3 and 1)
#   CHECK=0                            skip the correctness check
#   TIME=0                             build and check only, no timing
#   LOAD_MAX=1.5                       before timing, wait (up to LOAD_WAIT=900 s) for the
#                                      1-minute load average to fall below this
#   PUBLISH=1                          also copy the report to bench/RESULTS.md
#   MAPWRIGHT=path/to/mapwright        time this binary instead of building the work tree's
#                                      (MAPWRIGHT_REV="..." is noted in the report beside it)
#   BUILD_VRL=0                        do not build the VRL harness (its first build takes
#                                      ~10 min on 2 cores); it is still timed if already built
#
# Tools: mapwright floor_roundtrip rust_handmap_typed rust_handmap_value vrl jaq jq jsonata
# python (default: all that are present), and jaq_jq16filter (only when named in ONLY).
# Peers come from ../shared/bench and are never written there: the Rust ones are copied
# to bench/data/peers/ (gitignored) and built with CARGO_TARGET_DIR=bench/data/target-peers,
# JSONata is npm-installed in bench/data/peers/jsonata. mapwright's output on the check file
# must MATCH the Python reference (compare.py) or the script stops before timing.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
N=${N:-200000}
N_CHECK=${N_CHECK:-20000}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
PEERS=$DATA/peers
export CARGO_TARGET_DIR_PEERS=$DATA/target-peers

data_name() { if (( $1 % 1000 == 0 )); then echo "orders_$(($1 / 1000))k.jsonl"; else echo "orders_$1.jsonl"; fi; }

if ! cmp -s "$MAPPING" bench/order_to_erp.yaml; then
  warn "bench/order_to_erp.yaml (used by engine/benches/map.rs) differs from $MAPPING; timing the shared one"
fi
mkdir -p "$DATA" "$PEERS" "$OUT"

if [[ "${INSTALL:-0}" == 1 ]]; then
  say "install"
  missing=()
  have hyperfine || missing+=(hyperfine)
  have jq || missing+=(jq)
  [[ -x /usr/bin/time ]] || missing+=(time)
  if (( ${#missing[@]} )); then apt-get update -qq && apt-get install -y -qq "${missing[@]}"; fi
  have jaq || cargo install jaq --locked
fi

say "data (gen_orders.py, deterministic)"
SMALL=$DATA/$(data_name "$N_CHECK")
BIG=$DATA/$(data_name "$N")
[[ -s $SMALL ]] || python3 "$SHARED/gen_orders.py" "$N_CHECK" -o "$SMALL"
[[ -s $BIG ]] || python3 "$SHARED/gen_orders.py" "$N" -o "$BIG"
ls -l "$SMALL" "$BIG" >&2

mapwright_binary

# Copies a Rust peer out of ../shared (read-only, and without a Cargo.lock) into
# bench/data/peers/NAME as its own workspace, and builds it there.
build_rust_peer() {
  local name=$1 src=$SHARED/$1 dst=$PEERS/$1
  [[ -f $src/Cargo.toml ]] || return 1
  mkdir -p "$dst"
  cp -rp "$src/." "$dst/"
  chmod -R u+w "$dst"
  grep -q '^\[workspace\]' "$dst/Cargo.toml" || printf '\n[workspace]\n' >> "$dst/Cargo.toml"
  (cd "$dst" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR_PEERS cargo build --release -q) >&2
}

say "build peers"
PT=$CARGO_TARGET_DIR_PEERS/release
build_rust_peer floor || warn "floor did not build; skipping its binaries"
if [[ "${BUILD_VRL:-1}" == 1 ]]; then
  echo "vrl_harness (first build ~10 min on 2 cores)..." >&2
  build_rust_peer vrl_harness || warn "vrl_harness did not build; skipping vrl"
fi
if have node && have npm && [[ -f $SHARED/jsonata/run.js ]]; then
  mkdir -p "$PEERS/jsonata"
  cp -p "$SHARED"/jsonata/{run.js,map.jsonata,package.json} "$PEERS/jsonata/"
  [[ -f $SHARED/jsonata/package-lock.json ]] && cp -p "$SHARED/jsonata/package-lock.json" "$PEERS/jsonata/"
  chmod -R u+w "$PEERS/jsonata"
  [[ -d $PEERS/jsonata/node_modules/jsonata ]] ||
    (cd "$PEERS/jsonata" && npm install --no-audit --no-fund --silent) >&2 || warn "npm install jsonata failed"
fi

# name -> command (reads stdin, writes stdout); only tools present on this machine.
declare -A CMD=()
CMD[mapwright]="$MW map -m $MAPPING"
[[ -x $PT/roundtrip ]] && CMD[floor_roundtrip]="$PT/roundtrip"
[[ -x $PT/handmap_typed ]] && CMD[rust_handmap_typed]="$PT/handmap_typed"
[[ -x $PT/handmap ]] && CMD[rust_handmap_value]="$PT/handmap"
[[ -x $PT/vrl_harness ]] && CMD[vrl]="$PT/vrl_harness $SHARED/vrl_harness/map.vrl"
have jaq && CMD[jaq]="jaq -c -f $SHARED/jq/map_jaq.jq"
have jaq && CMD[jaq_jq16filter]="jaq -c -f $SHARED/jq/map.jq"
have jq && CMD[jq]="jq -c -f $SHARED/jq/map.jq"
have node && [[ -d $PEERS/jsonata/node_modules/jsonata ]] && CMD[jsonata]="node $PEERS/jsonata/run.js $PEERS/jsonata/map.jsonata"
have python3 && CMD[python]="python3 $SHARED/python/map_orders.py"

ALL=(mapwright floor_roundtrip rust_handmap_typed rust_handmap_value vrl jaq jq jsonata python)
if [[ -n "${ONLY:-}" ]]; then read -r -a WANT <<< "mapwright $ONLY"; else WANT=("${ALL[@]}"); fi
TOOLS=()
for t in "${WANT[@]}"; do
  [[ " ${TOOLS[*]} " == *" $t "* ]] && continue
  if [[ -n "${CMD[$t]:-}" ]]; then TOOLS+=("$t"); else warn "$t: not available here, skipped"; fi
done
echo "tools: ${TOOLS[*]}" >&2

if [[ "${CHECK:-1}" == 1 ]]; then
  rm -f "$OUT/check.txt"
  say "correctness on $(basename "$SMALL") (reference: Python json, compare.py)"
  CK=$DATA/out_check; mkdir -p "$CK"; rm -f "$CK"/*.jsonl
  python3 "$SHARED/python/map_orders.py" < "$SMALL" > "$CK/reference.jsonl"
  args=()
  for t in "${TOOLS[@]}"; do
    [[ $t == python ]] && continue
    if [[ $t == floor_roundtrip ]]; then
      ${CMD[$t]} < "$SMALL" > "$CK/$t.jsonl"
      continue
    fi
    ${CMD[$t]} < "$SMALL" > "$CK/$t.jsonl" 2> "$CK/$t.stderr" || warn "$t exited non-zero (see $CK/$t.stderr)"
    args+=("$t=$CK/$t.jsonl")
  done
  python3 "$SHARED/compare.py" "$CK/reference.jsonl" "${args[@]}" > "$OUT/check.txt" || true
  if [[ -f $CK/floor_roundtrip.jsonl ]]; then
    python3 - "$SMALL" "$CK/floor_roundtrip.jsonl" >> "$OUT/check.txt" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
print(f"\n[floor_roundtrip] identical to its input after parse: {a == b} ({len(b)} records)")
PY
  fi
  cat "$OUT/check.txt" >&2
  grep -q '^\[mapwright\] .* MATCH ' "$OUT/check.txt" || { echo "error: mapwright's output does not match the reference" >&2; exit 1; }
fi

[[ "${TIME:-1}" == 1 ]] || exit 0

wait_for_quiet

rm -f "$OUT"/rss_*.txt "$OUT"/timing.json
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "timing on $(basename "$BIG"): warmup $WARMUP, runs $RUNS, stdin from the file, stdout to /dev/null (load $LOAD_BEFORE)"
if have hyperfine && [[ -x /usr/bin/time ]]; then
  TIMER="hyperfine $(hyperfine --version | cut -d' ' -f2), GNU time for peak RSS"
  hf=(hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/timing.json")
  for t in "${TOOLS[@]}"; do
    # GNU time appends each run's peak RSS (KiB, warm-up included) to rss_NAME.txt.
    hf+=(-n "$t" "/usr/bin/time -f %M -a -o $OUT/rss_$t.txt ${CMD[$t]} < $BIG > /dev/null")
  done
  "${hf[@]}" >&2
else
  TIMER="bench/timeit.py (hyperfine or GNU time missing), os.wait4 rusage"
  args=()
  for t in "${TOOLS[@]}"; do args+=("$t=${CMD[$t]}"); done
  python3 bench/timeit.py --runs "$RUNS" --warmup "$WARMUP" --input "$BIG" \
    --export-json "$OUT/timing.json" --rss-dir "$OUT" "${args[@]}"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

version() { "$@" 2>&1 | head -1 || true; }
{
  echo "# mapwright vs peers: shared order → ERP benchmark"
  echo
  echo "- date: $(date -u +'%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "- load average (1/5/15 min): $LOAD_BEFORE before timing, $LOAD_AFTER after"
  if [[ -n "${MAPWRIGHT:-}" ]]; then
    echo "- mapwright: given binary $MAPWRIGHT ($("$MW" --version 2>/dev/null || true)${MAPWRIGHT_REV:+, $MAPWRIGHT_REV}), single process; mapping ../shared/bench/mapwright/order_to_erp.yaml"
  else
    echo "- mapwright: work tree at $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- dsl engine src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes'), release build, single process; mapping ../shared/bench/mapwright/order_to_erp.yaml"
  fi
  echo "- timer: $TIMER"
  echo "- versions: $(rustc --version); $(version jq --version); $(version jaq --version); node $(version node --version); $(version python3 --version)"
} > "$OUT/meta.txt"

python3 bench/summarize.py "$OUT" "$BIG" mapwright > "$OUT/latest.md"
if [[ -f $OUT/check.txt ]]; then
  { echo; echo "Correctness on $(basename "$SMALL") against the Python reference (compare.py):"; echo; echo '```'; cat "$OUT/check.txt"; echo '```'; } >> "$OUT/latest.md"
fi
cat "$OUT/latest.md"
if [[ "${PUBLISH:-0}" == 1 ]]; then
    # The report replaces everything above the threads section (bench/scale.sh
    # measures it), or above the pipeline section (bench/pipeline.sh), which are kept.
    pipeline=$(awk '/^## (Threads and a 1 GB input|Pipeline)/ { keep = 1 } keep' bench/RESULTS.md 2>/dev/null || true)
    cp "$OUT/latest.md" bench/RESULTS.md
    if [[ -n "$pipeline" ]]; then printf '\n%s\n' "$pipeline" >> bench/RESULTS.md; fi
    echo "(copied to bench/RESULTS.md)" >&2
fi
