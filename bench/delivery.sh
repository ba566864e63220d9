#!/usr/bin/env bash
# Delivery benchmarks (README "Performance", bench/RESULTS.md "Delivery"), in one run on one machine:
#
#   1. file → HTTP on the 200,000-order workload, against the stand-in ERP (bench/erp, hyper, no work
#      per request): one record per request, then batches of 100 (`body: array`); concurrency 16.
#   2. the same against an ERP that answers in 50 ms: single records on 5,000 orders, batches of 100 on
#      the 200,000.
#   3. file → PostgreSQL (a throwaway server on loopback): the sink's defaults (4 connections, 500 rows
#      per statement).
#   4. HTTP webhooks → HTTP sink under a fixed open-loop load (tests/pipeline_bench.rs): 5,000/s and
#      10,000/s with one record per request; 10,000/s with batches of 100; 20,000 and 30,000 records/s
#      as 10 orders per webhook (JSON Lines) with batches of 100 — one sender on these cores cannot
#      post more than ~10,000 webhooks/s.
#
#   bench/delivery.sh            everything (~4 min on 2 cores after the builds)
#   ONLY="file pg" bench/delivery.sh
#
# Needs bench/data/orders_200k.jsonl (bench/run.sh makes it) and PostgreSQL's binaries for 3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ONLY=${ONLY:-"file slow pg webhook"}
DATA=bench/data
ORDERS=$ROOT/$DATA/orders_200k.jsonl
[ -f "$ORDERS" ] || { echo "missing $ORDERS: run bench/run.sh once (it generates the workload)" >&2; exit 1; }
OUT=bench/results/delivery.md
mkdir -p bench/results
echo "building mapwright (release) and the stand-in ERP…" >&2
cargo build --release -q
(cd bench/erp && CARGO_TARGET_DIR="$ROOT/$DATA/target-erp" cargo build --release -q)
ERP="$ROOT/$DATA/target-erp/release/bench-erp"
BIN="$ROOT/target/release/mapwright"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp bench/order_to_erp.yaml "$WORK/m.yaml"
head -5000 "$ORDERS" > "$WORK/orders_5k.jsonl"

{
  echo "# Delivery benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores ($(uname -m)), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- mapwright $(git rev-parse --short HEAD 2>/dev/null || echo '?') (release); the ERP, the sender and mapwright share the cores"
  echo
} > "$OUT"

# file → HTTP: pipeline file, run, and the ERP's own count of records and time from first to last.
file_to_http() { # label delay_ms input extra
  local label=$1 delay=$2 input=$3 extra=$4 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$ERP" --port "$port" --delay-ms "$delay" & local erp=$!
  sleep 0.3
  cat > "$WORK/p.yaml" <<YAML
pipeline: bench
mapping: m.yaml
source: { kind: file, path: $input }
sink: { kind: http, url: "http://127.0.0.1:$port/orders", idempotency_header: Idempotency-Key, concurrency: 16$extra }
state: state.db
YAML
  rm -f "$WORK"/state.db* "$WORK"/p.dead-letter.jsonl
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" run "$WORK/p.yaml" 2> "$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  end=$(date +%s.%N)
  local stats; stats=$(curl -s "http://127.0.0.1:$port/stats")
  kill $erp; wait $erp 2>/dev/null || true
  python3 - "$label" "$start" "$end" "$stats" "$(cat "$WORK/rss")" "$(tail -1 "$WORK/err")" >> "$OUT" <<'PY'
import json, sys
label, start, end, stats, rss, summary = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
wall = end - start
print(f"| {label} | {stats['records']:,} in {stats['requests']:,} requests | {wall:.2f} s | {stats['records']/wall:,.0f} | {int(rss)//1024} MB | {summary.split(' in ')[0]} |")
PY
}

if [[ " $ONLY " == *" file "* || " $ONLY " == *" slow "* ]]; then
  { echo "## file → HTTP (records/s over the whole run: start, read, map, deliver, exit)"; echo
    echo "| scenario | delivered | wall | records/s | peak RSS | summary |"; echo "|---|---|---|---|---|---|"; } >> "$OUT"
fi
if [[ " $ONLY " == *" file "* ]]; then
  file_to_http "200k orders, 1 per request, ERP answers at once" 0 "$ORDERS" ""
  file_to_http "200k orders, batches of 100, ERP answers at once" 0 "$ORDERS" ", batch: { max_records: 100 }, body: array"
fi
if [[ " $ONLY " == *" slow "* ]]; then
  file_to_http "5k orders, 1 per request, ERP answers in 50 ms (bound 16 ÷ 0.05 s = 320/s)" 50 "$WORK/orders_5k.jsonl" ""
  file_to_http "200k orders, batches of 100, ERP answers in 50 ms" 50 "$ORDERS" ", batch: { max_records: 100 }, body: array"
fi
if [[ " $ONLY " == *" pg "* ]]; then
  { echo; echo "## file → PostgreSQL"; echo; } >> "$OUT"
  cargo test --release -q --test pipeline_bench file_to_postgres -- --ignored --nocapture 2>/dev/null | grep '^file →' >> "$OUT"
fi
if [[ " $ONLY " == *" webhook "* ]]; then
  { echo; echo "## HTTP webhooks → HTTP sink, fixed open-loop load (tests/pipeline_bench.rs)"; echo; } >> "$OUT"
  { echo "One record per request, concurrency 16:"; echo; } >> "$OUT"
  PIPELINE_BENCH_RATES="5000 10000" PIPELINE_BENCH_SECONDS=10 \
    cargo test --release -q --test pipeline_bench http_to_http -- --ignored --nocapture 2>/dev/null | grep -E '^\||^records failed' >> "$OUT"
  { echo; echo "Batches of 100 (\`batch: { max_records: 100, max_wait: 20ms }, body: array\`):"; echo; } >> "$OUT"
  PIPELINE_BENCH_SINK="batch: { max_records: 100, max_wait: 20ms }, body: array" PIPELINE_BENCH_RATES="10000" PIPELINE_BENCH_SECONDS=10 \
    cargo test --release -q --test pipeline_bench http_to_http -- --ignored --nocapture 2>/dev/null | grep -E '^\||^records failed' >> "$OUT"
  { echo; echo "Batches of 100, 10 orders per webhook (JSON Lines; rates in orders/s):"; echo; } >> "$OUT"
  PIPELINE_BENCH_PER_POST=10 PIPELINE_BENCH_SINK="batch: { max_records: 100, max_wait: 20ms }, body: array" \
    PIPELINE_BENCH_RATES="20000 30000" PIPELINE_BENCH_SECONDS=10 \
    cargo test --release -q --test pipeline_bench http_to_http -- --ignored --nocapture 2>/dev/null | grep -E '^\||^records failed' >> "$OUT"
fi
cat "$OUT"
