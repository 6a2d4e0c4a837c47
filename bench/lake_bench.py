#!/usr/bin/env python3
"""The lake at scale, side by side with DuckDB on the same Parquet files.

    pip install duckdb pyarrow numpy
    cargo build --release -p cxray-cli
    python3 bench/lake_bench.py --rows 10000000 --runs 3 --work /tmp/lakebench [--csv]

1. Writes N answers as 36 monthly exports (Parquet, and CSV with --csv): metrics nps, csat
   and ces, three segment columns (region, channel, plan), 2023-01 to 2025-12.
2. `cxray ingest` validates them into a lake (timed: rows/s, peak memory, size on disk).
3. `cxray metrics --lake` (3 metrics x 2 segment columns x month; streamed from the parts)
   against DuckDB running the SQL that `cxray metrics --show-sql=duckdb` prints for the same
   query, on a view over the lake's Parquet parts. Each run in its own process under
   /usr/bin/time (wall time, peak RSS); the median is reported.
4. Checks that both agree: every group's n and NPS, CSAT (% satisfied) and CES (mean)
   computed from DuckDB's histograms equal cxray's figures (to 1e-9).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MONTHS = [f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13)]
QUERY = ["--metric", "nps,csat,ces", "--by", "region,channel", "--period", "month"]

DUCKDB = r"""
import duckdb, json, sys
lake, sql_file = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW responses AS SELECT * FROM read_parquet('{lake}/responses/*/*.parquet', union_by_name = true)")
cur = con.execute(open(sql_file).read())
names = [d[0] for d in cur.description]
rows = cur.fetchall()
out = [dict(zip(names, r)) for r in rows]
for r in out:
    r["period"] = str(r["period"])[:10]
json.dump(out, sys.stdout)
"""


def generate(rows, work, csv):
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sys.path.insert(0, HERE)
    from gen_responses import metric_scores

    src = os.path.join(work, "src")
    os.makedirs(src, exist_ok=True)
    rng = np.random.default_rng(7)
    per = rows // len(MONTHS)
    files = []
    for k, month in enumerate(MONTHS):
        n = per if k < len(MONTHS) - 1 else rows - per * (len(MONTHS) - 1)
        metric, score = metric_scores(rng, n)
        start = np.datetime64(f"{month}-01T00:00:00")
        days = (np.datetime64(MONTHS[k + 1] + "-01") if k + 1 < len(MONTHS)
                else np.datetime64("2026-01-01")) - np.datetime64(f"{month}-01")
        secs = rng.integers(0, days.astype(int) * 86400, n)
        ts = np.char.add((start + secs.astype("timedelta64[s]")).astype(str), "Z")
        first = k * per
        table = pa.table({
            "response_id": pa.array(np.char.add("r", np.arange(first, first + n).astype(str))),
            "customer_id": pa.array(np.char.add("c", rng.integers(0, rows // 4 + 1, n).astype(str))),
            "submitted_at": pa.array(ts),
            "metric": pa.array(metric),
            "score": pa.array(score),
            "region": pa.array(rng.choice(np.array(["North", "South", "East", "West"]), n)),
            "channel": pa.array(rng.choice(np.array(["web", "app", "phone"]), n)),
            "plan": pa.array(rng.choice(np.array(["basic", "plus", "premium"]), n)),
        })
        ext = "csv" if csv else "parquet"
        path = os.path.join(src, f"answers-{month}.{ext}")
        if csv:
            pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))
        else:
            pq.write_table(table, path, compression="zstd")
        files.append(path)
    return files


def project(work, files):
    path = os.path.join(work, "cxray.toml")
    with open(path, "w") as f:
        f.write('[project]\nname = "lake bench"\ntimezone = "UTC"\n\n')
        for p in files:
            f.write(f'[[sources]]\npath = "{p}"\nentity = "responses"\n\n')
    return path


def timed(cmd, stdout=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak MiB, stdout)."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tf.name] + cmd,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
        secs, kb = tf.read().split()[-2:]
        return float(secs), int(kb) / 1024, p.stdout


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def figures_from_histograms(rows):
    """n and value per (metric, region, channel, period) from DuckDB's histogram rows."""
    groups = {}
    for r in rows:
        key = (r["metric"], r["by_1"], r["by_2"], r["period"])
        groups.setdefault(key, []).append((float(r["score"]), float(r["sum_w"]), int(r["n"])))
    out = {}
    for (metric, reg, ch, period), h in groups.items():
        w = sum(x[1] for x in h)
        n = sum(x[2] for x in h)
        if metric == "nps":  # % promoters (9-10) - % detractors (0-6)
            value = 100 * (sum(x[1] for x in h if x[0] >= 9) - sum(x[1] for x in h if x[0] <= 6)) / w
        elif metric == "csat":  # % satisfied (4-5 of 1-5)
            value = 100 * sum(x[1] for x in h if x[0] >= 4) / w
        else:  # CES: mean ease (1-7)
            value = sum(x[0] * x[1] for x in h) / w
        out[(metric, reg, ch, period)] = (n, value)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(HERE, "data", "lake"))
    ap.add_argument("--csv", action="store_true", help="CSV exports instead of Parquet")
    ap.add_argument("--keep", action="store_true", help="reuse the exports and lake of --work")
    ap.add_argument("--generate-only", action="store_true", help="only write the exports")
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    lake = os.path.join(work, "lake")
    src = os.path.join(work, "src")
    if not (a.keep and os.path.isdir(src)):
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        project(work, generate(a.rows, work, a.csv))
    if a.generate_only:
        return
    config = os.path.join(work, "cxray.toml")
    if not (a.keep and os.path.isdir(lake)):
        shutil.rmtree(lake, ignore_errors=True)
        files = [os.path.join(src, f) for f in sorted(os.listdir(src))]
        src_bytes = sum(os.path.getsize(f) for f in files)
        secs, peak, _ = timed([a.cxray, "ingest", "-c", config, "--lake", lake])
        print(f"ingest ({'CSV' if files[0].endswith('.csv') else 'Parquet'} sources, "
              f"{src_bytes / 1e9:.2f} GB): {secs:.1f} s, {a.rows / secs / 1e6:.2f} M answers/s, "
              f"peak {peak:.0f} MiB, lake {du(lake) / 1e9:.2f} GB", flush=True)
    sql_file = os.path.join(work, "histograms.sql")
    out_json = os.path.join(work, "metrics.json")
    timed([a.cxray, "metrics", "-c", config, "--lake", lake, *QUERY, "--show-sql=duckdb", "-o", sql_file])
    tools = [
        ("cxray metrics --lake", [a.cxray, "metrics", "-c", config, "--lake", lake, *QUERY,
                                  "--format", "json", "-o", out_json]),
        ("duckdb (--show-sql)", [sys.executable, "-c", DUCKDB, lake, sql_file]),
    ]
    results = {}
    for _ in range(a.runs):
        for name, cmd in tools:
            results.setdefault(name, []).append(timed(cmd))
    for name, runs in results.items():
        print(f"{name:22s} median {statistics.median(r[0] for r in runs):6.2f} s  "
              f"peak {max(r[1] for r in runs):6.0f} MiB  runs {[r[0] for r in runs]}", flush=True)

    duck = figures_from_histograms(json.loads(results["duckdb (--show-sql)"][-1][2]))
    ours = {}
    for r in json.load(open(out_json))["rows"]:
        key = (r["metric"], r["segment"]["region"], r["segment"]["channel"], r["period_start"])
        ours[key] = (r["n"], r["value"])
    if set(ours) != set(duck):
        sys.exit(f"groups differ: {len(ours)} cxray, {len(duck)} duckdb")
    worst = max(abs(ours[k][1] - duck[k][1]) for k in ours)
    if any(ours[k][0] != duck[k][0] for k in ours) or worst > 1e-9:
        sys.exit(f"figures differ (largest value difference {worst})")
    total = sum(v[0] for v in ours.values())
    print(f"agree: {len(ours)} groups, {total} answers, largest value difference {worst:.1e}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")


if __name__ == "__main__":
    main()
