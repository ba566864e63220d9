#!/usr/bin/env bash
# mapwright's parallel `map` and its memory on a 1 GB input (issue 7's thread and RSS targets).
#
#   bench/scale.sh                 build; time --threads 1 against --threads 2 on the 200k file;
#                                  peak RSS and time on a ~1 GB file (800,000 orders, seed 7)
#                                  with one thread and with the default (every core);
#                                  write bench/results/scale.md
#   RUNS=5                         hyperfine runs for the 200k comparison (default 5)
#   BIG_N=800000                   orders in the large file (~1.3 KB each; 800,000 ≈ 1.06 GB)
#   MAPWRIGHT=path/to/mapwright    time this binary instead of building the work tree's
#   LOAD_MAX=1.5                   first wait (up to LOAD_WAIT=900 s) for a quieter machine
#   PUBLISH=1                      also replace the "## Threads and a 1 GB input" section of
#                                  bench/RESULTS.md with this report
#
# Every run's output is compared byte for byte with the one-thread output (`cmp`); the
# script stops if they differ. The 1 GB file is generated once into bench/data/ (~2 min)
# and kept there (gitignored); delete it to free the space.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
BIG_N=${BIG_N:-800000}
have hyperfine || die "hyperfine is missing (INSTALL=1 bench/run.sh installs it)"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is missing (apt-get install time)"

MID=$DATA/orders_200k.jsonl
BIG=$DATA/orders_${BIG_N}_seed7.jsonl
say "data"
[[ -s $MID ]] || python3 "$SHARED/gen_orders.py" 200000 -o "$MID"
[[ -s $BIG ]] || { echo "generating $BIG (~2 min)" >&2; python3 "$SHARED/gen_orders.py" "$BIG_N" --seed 7 -o "$BIG"; }
ls -l "$MID" "$BIG" >&2

mapwright_binary
wait_for_quiet
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CORES=$(nproc)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

say "200k orders from the file: --threads 1 against --threads 2 ($RUNS runs each)"
hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$T/threads.json" \
  -n 1 "$MW map -m $MAPPING --threads 1 $MID -o $T/mid_1.jsonl" \
  -n 2 "$MW map -m $MAPPING --threads 2 $MID -o $T/mid_2.jsonl" >&2
cmp "$T/mid_1.jsonl" "$T/mid_2.jsonl" || die "--threads 2 output differs from --threads 1"

# One measured run: prints "seconds peak_kib".
measure() {
  local out=$1; shift
  /usr/bin/time -f '%e %M' -o "$T/time.txt" "$MW" map -m "$MAPPING" "$@" "$BIG" -o "$out" 2> "$T/stderr.txt" ||
    { cat "$T/stderr.txt" >&2; die "mapwright failed on $BIG"; }
  cat "$T/time.txt"
}
say "$(basename "$BIG"): one thread, then the default ($CORES cores), 2 runs each"
declare -a ONE=() ALL=()
for run in 1 2; do
  ONE+=("$(measure "$T/big_1.jsonl" --threads 1)")
  ALL+=("$(measure "$T/big_all.jsonl")")
  cmp "$T/big_1.jsonl" "$T/big_all.jsonl" || die "the default (parallel) output differs from --threads 1"
  echo "run $run: one thread ${ONE[-1]}, default ${ALL[-1]} (seconds, peak KiB)" >&2
done
SUMMARY=$(tail -1 "$T/stderr.txt")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$T/threads.json" "$BIG" "$CORES" "$LOAD_BEFORE" "$LOAD_AFTER" "$SUMMARY" "${ONE[@]}" -- "${ALL[@]}" \
  > "$OUT/scale.md" <<'PY'
import json, os, sys, datetime, subprocess
threads, big, cores, load_before, load_after, summary, *rest = sys.argv[1:]
cut = rest.index("--")
one = [tuple(map(float, r.split())) for r in rest[:cut]]
every = [tuple(map(float, r.split())) for r in rest[cut + 1:]]
res = {r["command"]: r for r in json.load(open(threads))["results"]}
t1, t2 = res["1"]["median"], res["2"]["median"]
size = os.path.getsize(big) / 1e9
lines = sum(1 for _ in open(big, "rb"))
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "dsl", "engine", "src", "Cargo.toml", "Cargo.lock"]).returncode
def mb(kib): return kib * 1024 / 1e6
def span(xs, f):
    lo, hi = min(xs), max(xs)
    return f(lo) if f(lo) == f(hi) else f"{f(lo)}–{f(hi)}"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
print(f"## Threads and a 1 GB input ({now}, `bench/scale.sh`)")
print()
print(f"- work tree {rev}{' + uncommitted changes' if dirty else ''}, release build; {cores} cores; "
      f"load {load_before} before, {load_after} after.")
print(f"- `map --threads 2 orders_200k.jsonl` against `--threads 1` on the same file (hyperfine, median of "
      f"{len(res['1']['times'])}): {t1:.3f} s → {t2:.3f} s, **{t1 / t2:.2f}×**; outputs identical (`cmp`).")
print(f"- {size:.2f} GB (`gen_orders.py {lines} --seed 7`): one thread {span([s for s, _ in one], lambda s: f'{s:.2f}')} s, "
      f"peak RSS **{span([k for _, k in one], lambda k: f'{mb(k):.0f}')} MB**; the default ({cores} threads) "
      f"{span([s for s, _ in every], lambda s: f'{s:.2f}')} s, peak RSS **{span([k for _, k in every], lambda k: f'{mb(k):.0f}')} MB**; "
      f"outputs identical (`cmp`). Last summary: `{summary}`.")
PY
cat "$OUT/scale.md"
if [[ "${PUBLISH:-0}" == 1 ]]; then
  python3 - bench/RESULTS.md "$OUT/scale.md" <<'PY'
import sys
path, new = sys.argv[1], open(sys.argv[2], encoding="utf-8").read().rstrip("\n") + "\n"
lines = open(path, encoding="utf-8").read().split("\n")
start = next((i for i, l in enumerate(lines) if l.startswith("## Threads and a 1 GB input")), None)
if start is None:
    # Before the pipeline section (or at the end).
    at = next((i for i, l in enumerate(lines) if l.startswith("## Pipeline")), len(lines))
    lines[at:at] = new.split("\n")
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start:end] = new.split("\n")
open(path, "w", encoding="utf-8").write("\n".join(lines))
PY
  echo "(section replaced in bench/RESULTS.md)" >&2
fi
