#!/usr/bin/env python3
"""Side-by-side benchmark of the operational metrics of `cxray metrics` against DuckDB
computing the same statistics with SQL on the same files (issue 5):

- tickets: volume, FCR, reopen, AHT (mean and SD), median and p90 of first response time and
  time to resolution, by channel x category x month;
- journey: the funnel visit -> cart -> checkout -> purchase (units reaching each step in order by
  their first step times), the median time between steps, carts and carts bought within 24 h,
  by device x region x month of the session's first event.

    pip install duckdb pyarrow
    cargo build --release -p cxray-cli
    python3 bench/gen_operational.py --tickets 10000000 --events 50000000 --out bench/data
    python3 bench/operational_bench.py --tickets 10000000 --events 50000000 --runs 5

Each tool runs in its own process under /usr/bin/time (wall time and peak RSS); the median of
the runs is reported. Both tools must return the same groups and totals, which is checked, so
no tool wins by doing less. DuckDB computes exact quantiles (`quantile_disc`); cxray's are
DDSketch quantiles within 0.5%, with distribution-free intervals DuckDB does not compute.
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

DUCK_TICKETS = r"""
import duckdb, sys
f = sys.argv[1]
src = f"read_csv('{f}')" if f.endswith('.csv') else f"read_parquet('{f}')"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
rows = con.execute(f'''
  with t as (select channel, category, contacts, reopened, handle_seconds,
                    cast(created_at as timestamptz) c, cast(first_response_at as timestamptz) fr,
                    cast(resolved_at as timestamptz) r from {src})
  select channel, category, date_trunc('month', c) as period,
         count(*) as n, count(r) as resolved,
         count(case when r is not null and contacts = 1 and not reopened then 1 end) as fcr,
         count(case when r is not null and reopened then 1 end) as reopened,
         avg(handle_seconds), stddev(handle_seconds),
         quantile_disc(epoch(fr) - epoch(c), [0.5, 0.9]) as frt,
         quantile_disc(epoch(r) - epoch(c), [0.5, 0.9]) as ttr
  from t group by all''').fetchall()
print(len(rows), sum(r[3] for r in rows))
"""

DUCK_JOURNEY = r"""
import duckdb, sys
f = sys.argv[1]
src = f"read_csv('{f}')" if f.endswith('.csv') else f"read_parquet('{f}')"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
rows = con.execute(f'''
  with e as (select session_id, device, region, step, epoch(cast("at" as timestamptz)) t from {src}),
  u as (select session_id, device, region, min(t) first_t,
               min(case when step = 'visit' then t end) f0,
               min(case when step = 'cart' then t end) f1,
               min(case when step = 'checkout' then t end) f2,
               min(case when step = 'purchase' then t end) f3,
               max(case when step = 'purchase' then t end) l3
        from e group by session_id, device, region),
  r as (select *, f0 is not null as r0,
               f0 is not null and f1 >= f0 as r1,
               f0 is not null and f1 >= f0 and f2 >= f1 as r2,
               f0 is not null and f1 >= f0 and f2 >= f1 and f3 >= f2 as r3 from u)
  select device, region, date_trunc('month', to_timestamp(first_t)) as period,
         count(*) as units, count(case when r0 then 1 end), count(case when r1 then 1 end),
         count(case when r2 then 1 end), count(case when r3 then 1 end),
         count(f1) as carts,
         count(case when f1 is not null and ((f3 >= f1 and f3 <= f1 + 86400)
                    or (f3 < f1 and l3 >= f1 and l3 <= f1 + 86400)) then 1 end) as bought,
         quantile_disc(f1 - f0, 0.5) filter (where r1), quantile_disc(f2 - f1, 0.5) filter (where r2),
         quantile_disc(f3 - f2, 0.5) filter (where r3)
  from r group by all''').fetchall()
print(len(rows), sum(r[4] for r in rows))
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


def cxray_check(kind, out_json):
    """(groups, total) from cxray's JSON, comparable with DuckDB's."""
    rows = json.load(open(out_json))["rows"]
    if kind == "tickets":
        vol = [r for r in rows if r["metric"] == "tickets"]
        return len(vol), sum(r["n"] for r in vol)
    first = [r for r in rows if r["metric"] == "funnel" and r["detail"]["step_index"] == 1]
    return len(first), sum(r["n"] for r in first)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=10_000_000)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--formats", default="csv,parquet")
    ap.add_argument("--only", choices=["tickets", "journey"])
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    out_json = tempfile.mktemp(suffix=".json")
    config = tempfile.mktemp(suffix=".toml")
    with open(config, "w") as c:
        c.write('[journey]\nsteps = ["visit", "cart", "checkout", "purchase"]\n')
    jobs = [
        ("tickets", f"tickets_{a.tickets}", ["--metric", "tickets,fcr,reopen,aht,frt,ttr", "--by", "channel,category"], DUCK_TICKETS),
        ("journey", f"journey_{a.events}", ["--config", config, "--metric", "funnel,step_time,cart_abandonment", "--by", "device,region"], DUCK_JOURNEY),
    ]
    results = []
    for kind, stem, args, duck in jobs:
        if a.only and a.only != kind:
            continue
        for fmt in a.formats.split(","):
            f = os.path.join(a.data, f"{stem}.{fmt}")
            tools = [
                ("cxray", [a.cxray, "metrics", f] + args + ["--period", "month", "--format", "json", "-o", out_json]),
                ("duckdb", [sys.executable, "-c", duck, f]),
            ]
            check = {}
            for name, cmd in tools:
                runs = [timed(cmd) for _ in range(a.runs)]
                if name == "cxray":
                    check[name] = cxray_check(kind, out_json)
                else:
                    g, n = runs[-1][2].split()[-2:]
                    check[name] = (int(g), int(n))
                results.append((kind, fmt, name, statistics.median(r[0] for r in runs),
                                max(r[1] for r in runs), [r[0] for r in runs]))
                print(f"{kind} {fmt:8s} {name:7s} median {results[-1][3]:6.2f} s  peak {results[-1][4]:6.0f} MiB  runs {results[-1][5]}",
                      flush=True)
            if len(set(check.values())) != 1:
                sys.exit(f"tools disagree on groups/total for {kind} {fmt}: {check}")
            print(f"{kind} {fmt}: both agree: {check['cxray'][0]} groups, {check['cxray'][1]} units")
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print("| data | input | tool | median s | peak MiB | vs DuckDB |")
    print("|---|---|---|---|---|---|")
    for kind, fmt, name, med, peak, _ in results:
        duck = next(r[3] for r in results if r[0] == kind and r[1] == fmt and r[2] == "duckdb")
        print(f"| {kind} | {fmt} | {name} | {med:.2f} | {peak:.0f} | {med / duck:.2f}x |")


if __name__ == "__main__":
    main()
