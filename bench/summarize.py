#!/usr/bin/env python3
"""Turn bench/run.sh's timings into a Markdown report.

Usage: summarize.py RESULTS_DIR INPUT_FILE [BASELINE]

Reads RESULTS_DIR/timing.json (hyperfine's --export-json, or timeit.py's),
RESULTS_DIR/rss_NAME.txt (peak RSS in KiB, one per run, GNU time's %M),
RESULTS_DIR/check.txt (compare.py's output on the small file, optional) and
RESULTS_DIR/meta.txt (`key: value` lines about the machine, optional), and
prints the report. records/s and MB/s are of the whole input (every line,
test orders included; MB = 10^6 bytes); times are medians of wall-clock
seconds; peak RSS is the median over runs; "× mapwright" is the tool's median
time over mapwright's (2.0 = takes twice as long, 0.5 = twice as fast).
"""
import json
import os
import re
import statistics
import sys

WHAT = {
    "mapwright": "this project, `mapwright map` (single process)",
    "floor_roundtrip": "serde_json `Value` parse + write, no mapping",
    "rust_handmap_typed": "hand-written Rust on typed serde structs (ceiling)",
    "rust_handmap_value": "hand-written Rust on `serde_json::Value`",
    "vrl": "Vector's VRL (`vrl` crate), compiled once",
    "jaq": "jaq",
    "jaq_jq16filter": "jaq running the jq 1.6 filter",
    "jq": "jq 1.6",
    "jsonata": "JSONata on node",
    "python": "Python json (the reference)",
}


def read_checks(path):
    """name -> 'MATCH' / 'DIFFERS (n)' from compare.py's output."""
    checks = {}
    if not os.path.exists(path):
        return checks
    for line in open(path, encoding="utf-8"):
        m = re.match(r"\[(\S+)\] .*?: (\d+) records, (MATCH|DIFFERS) \((\d+) differing", line)
        if m:
            name, _, verdict, ndiff = m.groups()
            checks[name] = verdict if verdict == "MATCH" else f"DIFFERS ({ndiff})"
        m = re.match(r"\[(\S+)\] identical to its input after parse: (True|False)", line)
        if m:
            checks[m.group(1)] = "output = input" if m.group(2) == "True" else "output ≠ input"
    return checks


def main():
    res = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    inp = sys.argv[2] if len(sys.argv) > 2 else "bench/data/orders_200k.jsonl"
    base = sys.argv[3] if len(sys.argv) > 3 else "mapwright"
    nbytes = os.path.getsize(inp)
    with open(inp, "rb") as f:
        nrec = sum(1 for _ in f)
    data = json.load(open(os.path.join(res, "timing.json")))
    checks = read_checks(os.path.join(res, "check.txt"))

    rows = []
    for r in data["results"]:
        name = r["command"]
        times = r["times"]
        med = statistics.median(times)
        rss = None
        rss_file = os.path.join(res, f"rss_{name}.txt")
        if os.path.exists(rss_file):
            vals = [int(x) for x in open(rss_file).read().split() if x.strip().isdigit()]
            if vals:
                rss = statistics.median(vals) / 1024
        cpu = r.get("user", 0) + r.get("system", 0)
        rows.append((name, med, min(times), max(times), rss, cpu, len(times)))
    base_med = next((r[1] for r in rows if r[0] == base), None)
    base_cpu = next((r[5] for r in rows if r[0] == base), None)
    rows.sort(key=lambda r: r[1])

    meta_path = os.path.join(res, "meta.txt")
    if os.path.exists(meta_path):
        print(open(meta_path, encoding="utf-8").read().rstrip() + "\n")
    print(f"Input: `{os.path.basename(inp)}`, {nrec:,} records, {nbytes / 1e6:.1f} MB. "
          "Each tool reads it on stdin and writes JSON Lines to /dev/null; "
          f"median of {rows[0][6] if rows else 0} runs.\n")
    print(f"| tool | what | median s (min–max) | records/s | MB/s | peak RSS MiB | CPU s | × {base} time | 20k check |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, med, lo, hi, rss, cpu, _ in rows:
        ratio = f"{med / base_med:.2f}" if base_med else "n/a"
        rss_s = f"{rss:.0f}" if rss is not None else "n/a"
        check = checks.get(name, "reference" if name == "python" else "–")
        print(f"| {name} | {WHAT.get(name, '')} | {med:.2f} ({lo:.2f}–{hi:.2f}) | {nrec / med:,.0f} | "
              f"{nbytes / 1e6 / med:.1f} | {rss_s} | {cpu:.2f} | {ratio} | {check} |")
    if base_med:
        print()
        for other in ("vrl", "floor_roundtrip", "rust_handmap_value", "rust_handmap_typed"):
            o = next((r for r in rows if r[0] == other), None)
            if o:
                cpu = f", by CPU time {o[5] / base_cpu:.2f}" if base_cpu else ""
                print(f"- {base} throughput ÷ {other} throughput: **{o[1] / base_med:.2f}** by wall-clock time{cpu}")


if __name__ == "__main__":
    main()
