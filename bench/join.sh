#!/usr/bin/env bash
# Multi-source join benchmark: N keys (default 1,000,000) in each of three
# sources (ERP CSV, WMS JSON Lines, storefront JSON Lines), joined by
# `mapwright map --source …` with precedence, `latest`, tolerance and a drift
# report. Prints the time, records/s and the peak RSS (GNU time's %M).
# Load-average is printed too: on a busy machine, trust the CPU time and
# the RSS more than the wall time.
#
#   bench/join.sh              build (release), generate the data once, run once
#   N=200000 bench/join.sh     another size
#   BIN=/path/mapwright …      time this binary (no build)
#   PAD=1000 bench/join.sh     every record also carries 1,000 characters the
#                              mapping never reads (memory should not change)
#
# The data and outputs go to bench/data/join_N/ (gitignored). The join holds
# one projected record per source per distinct key, so peak RSS should grow
# with N (the distinct keys), not with the size of the files.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${N:-1000000}
PAD=${PAD:-0}
DATA=$ROOT/bench/data/join_$N
(( PAD == 0 )) || DATA=${DATA}_pad$PAD
mkdir -p "$DATA"
[[ -x /usr/bin/time ]] || { echo "error: GNU time is needed (apt-get install time)" >&2; exit 2; }

if [[ ! -s "$DATA/shop.jsonl" ]]; then
  echo "generating $N keys × 3 sources in $DATA …" >&2
  python3 bench/gen_sources.py "$DATA" "$N" "$PAD"
fi

cat > "$DATA/join.yaml" <<'EOF'
mapping: join-bench
version: 1
sources:
  erp:
    key: $.item_code
    updated_at: timestamp($.modified, null, "UTC")
  wms:
    key: $.sku | upper
    updated_at: $.updated_at
  shop:
    key: $.variant.sku
    updated_at: $.variant.updated_at
prefer: [erp, wms, shop]
fields:
  sku: coalesce($erp.item_code, upper($wms.sku), $shop.variant.sku)
  title:
    from: { shop: $shop.product.title, erp: $erp.item_name }
  price:
    from:
      erp: number($erp.list_price)
      shop: number($shop.variant.price)
    tolerance: 0.01
    on_conflict: report
  available:
    from:
      wms: $wms.on_hand - $wms.reserved
      shop: $shop.variant.inventory_quantity
    on_conflict: report
  stock:
    from:
      wms: $wms.on_hand
      erp: integer($erp.stock_qty)
    prefer: latest
    updated_at:
      wms: $wms.updated_at
      erp: timestamp($erp.modified, null, "UTC")
  listed: $shop.product.status == "active"
EOF

if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet
  BIN=$ROOT/target/release/mapwright
fi

inputs=$(cat "$DATA/erp.csv" "$DATA/wms.jsonl" "$DATA/shop.jsonl" | wc -l)
bytes=$(cat "$DATA/erp.csv" "$DATA/wms.jsonl" "$DATA/shop.jsonl" | wc -c)
echo "input: $inputs lines, $((bytes / 1024 / 1024)) MB" >&2

set +e
/usr/bin/time -f "%e s %M KB %U %S" -o "$DATA/time.txt" \
  "$BIN" map -m "$DATA/join.yaml" \
    --source erp="$DATA/erp.csv" --source wms="$DATA/wms.jsonl" --source shop="$DATA/shop.jsonl" \
    -o "$DATA/out.jsonl" --drift "$DATA/drift.jsonl" --dead-letter "$DATA/dead.jsonl" 2> "$DATA/stderr.txt"
code=$?
set -e
cat "$DATA/stderr.txt" >&2
(( code == 0 )) || { echo "error: mapwright exited with $code" >&2; exit "$code"; }

# wall seconds, peak RSS, user and system CPU seconds (CPU time is less
# disturbed than wall time when other work shares the machine)
read -r secs _ kb _ user sys < "$DATA/time.txt"
load=$(cut -d' ' -f1-3 /proc/loadavg)
records=$(wc -l < "$DATA/out.jsonl")
drift=$(wc -l < "$DATA/drift.jsonl")
awk -v n="$N" -v s="$secs" -v kb="$kb" -v r="$records" -v i="$inputs" -v d="$drift" -v u="$user" -v y="$sys" 'BEGIN {
  printf "keys per source: %d, joined records: %d, input records: %d, drift lines: %d\n", n, r, i - 1, d
  printf "time: %.2f s wall (%.2f s CPU), %.0f joined records/s, %.0f input records/s\n", s, u + y, r / s, (i - 1) / s
  printf "peak RSS: %.0f MB (%.0f bytes per joined key)\n", kb / 1024, kb * 1024 / r
}'
echo "load average: $load ($(nproc) CPUs)"
