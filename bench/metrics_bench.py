#!/usr/bin/env python3
"""Side-by-side benchmark of `cxray metrics` against DuckDB and pandas computing the same
sufficient statistics (counts per metric x 2 segments x month x score) on the same file.

    pip install duckdb pandas pyarrow
    cargo build --release -p cxray-cli
    python3 bench/gen_responses.py --rows 10000000 --out bench/data
    python3 bench/metrics_bench.py --rows 10000000 --runs 5

Each tool runs in its own process under /usr/bin/time (wall time and peak RSS); the median of
the runs is reported. Every tool must return the same number of groups and the same total count,
which is checked, so no tool wins by doing less.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DUCKDB = r"""
import duckdb, sys
f = sys.argv[1]
src = f"read_csv('{f}')" if f.endswith('.csv') else f"read_parquet('{f}')"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute(f'''
  select metric, region, channel, date_trunc('month', cast(submitted_at as timestamp)) as period,
         score, count(*) as n
  from {src} where metric in ('nps', 'csat', 'ces')
  group by all''').fetchall()
print(len(rows), sum(r[-1] for r in rows))
"""

PANDAS = r"""
import pandas as pd, sys
f = sys.argv[1]
cols = ['submitted_at', 'metric', 'score', 'region', 'channel']
d = pd.read_csv(f, usecols=cols) if f.endswith('.csv') else pd.read_parquet(f, columns=cols)
d = d[d.metric.isin(['nps', 'csat', 'ces'])]
d['period'] = pd.to_datetime(d.submitted_at, utc=True).dt.strftime('%Y-%m')
g = d.groupby(['metric', 'region', 'channel', 'period', 'score']).size()
print(len(g), int(g.sum()))
"""


def timed(cmd):
    """Runs cmd under /usr/bin/time; returns (seconds, peak MiB, stdout)."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tf.name] + cmd,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
        secs, kb = tf.read().split()[-2:]
        return float(secs), int(kb) / 1024, p.stdout


def cxray_groups(out_json):
    doc = json.load(open(out_json))
    groups = sum(len(r["detail"].get("distribution", {})) for r in doc["rows"])
    total = sum(r["n"] for r in doc["rows"])
    return groups, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    out_json = tempfile.mktemp(suffix=".json")
    results = []
    for fmt in ["csv", "parquet"]:
        f = os.path.join(a.data, f"responses_{a.rows}.{fmt}")
        tools = [
            ("cxray", [a.cxray, "metrics", f, "--metric", "nps,csat,ces", "--by", "region,channel",
                       "--period", "month", "--format", "json", "-o", out_json]),
            ("duckdb", [sys.executable, "-c", DUCKDB, f]),
        ]
        if not a.skip_pandas:
            tools.append(("pandas", [sys.executable, "-c", PANDAS, f]))
        check = {}
        for name, cmd in tools:
            runs = [timed(cmd) for _ in range(a.runs)]
            if name == "cxray":
                check[name] = cxray_groups(out_json)
            else:
                g, n = runs[-1][2].split()[-2:]
                check[name] = (int(g), int(n))
            results.append((fmt, name, statistics.median(r[0] for r in runs),
                            max(r[1] for r in runs), [r[0] for r in runs]))
            print(f"{fmt:8s} {name:7s} median {results[-1][2]:6.2f} s  peak {results[-1][3]:6.0f} MiB  runs {results[-1][4]}",
                  flush=True)
        if len(set(check.values())) != 1:
            sys.exit(f"tools disagree on groups/total for {fmt}: {check}")
        print(f"{fmt}: all tools agree: {check['cxray'][0]} groups, {check['cxray'][1]} answers")
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print("| input | tool | median s | peak MiB | vs DuckDB |")
    print("|---|---|---|---|---|")
    for fmt, name, med, peak, _ in results:
        duck = next(r[2] for r in results if r[0] == fmt and r[1] == "duckdb")
        print(f"| {fmt} | {name} | {med:.2f} | {peak:.0f} | {med / duck:.2f}x |")


if __name__ == "__main__":
    main()
