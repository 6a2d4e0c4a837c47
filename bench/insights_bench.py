#!/usr/bin/env python3
"""Benchmark of the insight commands (issue 7) on N respondents with NPS and 12 attribute
ratings (long layout, 13 answers each; bench/gen_drivers.py):

- `cxray drivers`: Shapley/LMG importance of 12 drivers with a 200-replicate bootstrap, against
  what an analyst would do instead: DuckDB pivots the answers into one row per submission,
  numpy computes the correlation matrix and the exact LMG over all 4,096 subsets (no
  bootstrap: that would be 200 more passes). The shares must agree.
- `cxray explain` over region, channel and plan (mix/rate per segment with tests), against
  DuckDB computing the NPS counts per segment and period for the same two months.

cxray's phases come from CXRAY_TIMING (read and validate, pivot to submissions, analysis); the
issue's 5 s target is for the analysis, reading 65M answers is the ingestion benchmark's job.

    python3 bench/gen_drivers.py --respondents 5000000
    python3 bench/insights_bench.py --respondents 5000000 --runs 5
"""
import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DUCK_DRIVERS = r"""
import duckdb, sys, json, itertools, time
import numpy as np
f, k = sys.argv[1], int(sys.argv[2])
names = [f"attr{j + 1:02d}" for j in range(k)] + ["nps"]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
cols = ", ".join(f"max(case when metric = '{m}' then score end) as {m}" for m in names)
t0 = time.time()
x = con.execute(f"select {cols} from read_parquet('{f}') group by customer_id, submitted_at").fetchnumpy()
m = np.column_stack([x[c] for c in names]).astype(float)
m = m[~np.isnan(m).any(axis=1)]
r = np.corrcoef(m, rowvar=False)
def r2(s):
    if not s:
        return 0.0
    s = list(s)
    rxx, rxy = r[np.ix_(s, s)], r[s, k]
    return float(rxy @ np.linalg.solve(rxx, rxy))
val = {}
for size in range(k + 1):
    for s in itertools.combinations(range(k), size):
        val[s] = r2(s)
from math import factorial
imp = [0.0] * k
for s, v in val.items():
    for j in range(k):
        if j in s:
            continue
        t = tuple(sorted(s + (j,)))
        imp[j] += factorial(len(s)) * factorial(k - len(s) - 1) / factorial(k) * (val[t] - v)
tot = sum(imp)
print(json.dumps({"n": int(len(m)), "shares": [i / tot for i in imp]}))
"""

DUCK_EXPLAIN = r"""
import duckdb, sys
f, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
n = 0
for d in ["region", "channel", "plan"]:
    rows = con.execute(f'''
      select {d}, strftime(submitted_at, '%Y-%m') p, count(*),
             count(case when score >= 9 then 1 end), count(case when score <= 6 then 1 end)
      from read_parquet('{f}') where metric = 'nps' and strftime(submitted_at, '%Y-%m') in ('{a}', '{b}')
      group by all''').fetchall()
    n += len(rows)
print(n)
"""


def timed(cmd, env=None):
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tf.name] + cmd,
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
        secs, kb = tf.read().split()[-2:]
        return float(secs), int(kb) / 1024, p.stdout, p.stderr


def phases(stderr):
    out = {}
    for line in stderr.splitlines():
        if line.startswith("timing: "):
            name, secs = line[8:].rsplit(" ", 2)[0], float(line.split()[-2])
            out[name] = out.get(name, 0.0) + secs
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--respondents", type=int, default=5_000_000)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    f = os.path.join(a.data, f"drivers_{a.respondents}.parquet")
    cfg = os.path.join(a.data, f"drivers_{a.respondents}.toml")
    env = dict(os.environ, CXRAY_TIMING="1")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    results = {}
    for name, cmd in [
        ("drivers cxray", [a.cxray, "drivers", "-c", cfg, "-f", "json"]),
        ("drivers duckdb+numpy", [sys.executable, "-c", DUCK_DRIVERS, f, "12"]),
        ("explain cxray", [a.cxray, "explain", "-c", cfg, "--from", "2025-09", "--to", "2025-10",
                           "--by", "region,channel,plan", "--no-themes", "-f", "json"]),
        ("explain duckdb", [sys.executable, "-c", DUCK_EXPLAIN, f, "2025-09", "2025-10"]),
    ]:
        runs = []
        for _ in range(a.runs):
            secs, mib, out, err = timed(cmd, env)
            runs.append((secs, mib, phases(err), out))
        med = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        ph = {k: statistics.median(r[2].get(k, 0.0) for r in runs) for k in runs[0][2]}
        results[name] = runs[-1][3]
        shown = ", ".join(f"{k} {v:.2f}" for k, v in ph.items())
        print(f"{name:<22} median {med:6.2f} s  peak {peak:6.0f} MiB  runs {[r[0] for r in runs]}"
              + (f"\n    phases (median s): {shown}" if shown else ""))
    # The two driver analyses must agree.
    cx = json.loads(results["drivers cxray"])["drivers"]
    dk = json.loads(results["drivers duckdb+numpy"])
    by_name = {r["driver"]: r["importance"] for r in cx["drivers"]}
    worst = max(abs(by_name[f"attr{j + 1:02d}"] - s) for j, s in enumerate(dk["shares"]))
    print(f"respondents used: cxray {cx['n']}, duckdb {dk['n']}; largest share difference {worst:.2e}")
    if cx["n"] != dk["n"] or worst > 1e-6:
        sys.exit("the driver analyses disagree")


if __name__ == "__main__":
    main()
