#!/usr/bin/env bash
# HTTP → HTTP pipeline benchmark (tests/pipeline_bench.rs): the release binary
# with a signed webhook source and an HTTP sink to a receiver in the test,
# under a fixed open-loop load; prints delivered records/s and end-to-end
# latency p50/p99 per offered rate.
#
#   bench/pipeline.sh                      200 and 1000 records/s, 10 s each
#   RATES="100 500 2000" DURATION=5 bench/pipeline.sh
#
# The sender and the receiver run on the same machine as mapwright, so they
# share its cores: compare figures taken on one machine only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PIPELINE_BENCH_RATES=${RATES:-200 1000}
export PIPELINE_BENCH_SECONDS=${DURATION:-10}
echo "$(date -u +%Y-%m-%d) $(nproc) cores ($(uname -m)), load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "mapwright $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
cargo test --release --test pipeline_bench -- --ignored --nocapture
