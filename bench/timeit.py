#!/usr/bin/env python3
"""Fallback timer for bench/run.sh when hyperfine is not installed.

Usage: timeit.py --runs N --warmup W --input FILE --export-json OUT.json --rss-dir DIR \
                 NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND is split with shlex and run without a shell, reading FILE on
stdin and writing to /dev/null. Wall time comes from a monotonic clock;
user/sys time from os.wait4's rusage of that child, peak RSS (KiB) from its
/proc/PID/status VmHWM sampled every 20 ms.
The JSON has hyperfine's shape (results[].command/times/median/user/system),
and DIR/rss_NAME.txt gets one peak RSS per timed run, like GNU time's %M.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def vm_hwm(pid):
    """The process's own peak RSS in KiB (VmHWM; None once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_once(argv, infile):
    # rusage's ru_maxrss of a child forked from Python includes this (large)
    # Python's RSS at the fork, so the peak is sampled from /proc/PID/status
    # instead (VmHWM belongs to the exec'd program alone).
    with open(infile, "rb") as stdin, open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=stdin, stdout=devnull)
        peak = 0
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, vm_hwm(proc.pid) or 0)
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(argv)}")
    return wall, ru.ru_utime, ru.ru_stime, peak or ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--input", required=True)
    ap.add_argument("--export-json", required=True)
    ap.add_argument("--rss-dir", required=True)
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    results = []
    for spec in a.commands:
        name, _, cmd = spec.partition("=")
        argv = shlex.split(cmd)
        for _ in range(a.warmup):
            run_once(argv, a.input)
        runs = [run_once(argv, a.input) for _ in range(a.runs)]
        times = [r[0] for r in runs]
        with open(os.path.join(a.rss_dir, f"rss_{name}.txt"), "w") as f:
            f.write("".join(f"{r[3]}\n" for r in runs))
        res = {
            "command": name,
            "times": times,
            "mean": statistics.mean(times),
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "user": statistics.mean(r[1] for r in runs),
            "system": statistics.mean(r[2] for r in runs),
        }
        results.append(res)
        print(f"{name:<22} median {res['median']:.3f} s  (min {res['min']:.3f}, max {res['max']:.3f}, "
              f"{a.runs} runs)", file=sys.stderr)
    with open(a.export_json, "w") as f:
        json.dump({"results": results}, f, indent=1)


if __name__ == "__main__":
    main()
