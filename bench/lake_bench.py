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
5. With --cluster: the same `cxray metrics` on a Ballista scheduler and executors started in
   one process on this machine (the engine crate's `standalone_cluster` example; a cxray built
   with the `cluster` feature given as --cxray-cluster): what a cluster costs per query, and
   its JSON must equal the embedded engine's.
   --since/--until limit every run to those months (e.g. ~100M answers of a 1B lake).
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


def generate(rows, work, csv, files_per_month=1):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sys.path.insert(0, HERE)
    from gen_responses import metric_scores

    src = os.path.join(work, "src")
    os.makedirs(src, exist_ok=True)
    rng = np.random.default_rng(7)
    per = rows // len(MONTHS)
    files = []
    first = 0

    def names(values, n):
        # A column of n names drawn uniformly, built by index (fast at a billion rows).
        return pa.array(values).take(pa.array(rng.integers(0, len(values), n)))

    for k, month in enumerate(MONTHS):
        in_month = per if k < len(MONTHS) - 1 else rows - per * (len(MONTHS) - 1)
        start = np.datetime64(f"{month}-01T00:00:00")
        days = (np.datetime64(MONTHS[k + 1] + "-01") if k + 1 < len(MONTHS)
                else np.datetime64("2026-01-01")) - np.datetime64(f"{month}-01")
        for j in range(files_per_month):
            n = in_month // files_per_month + (1 if j < in_month % files_per_month else 0)
            metric, score = metric_scores(rng, n)
            secs = rng.integers(0, days.astype(int) * 86400, n)
            times = start + secs.astype("timedelta64[s]")
            if csv:
                submitted = pa.array(np.char.add(times.astype(str), "Z"))
            else:
                # A Parquet timestamp (UTC), as exports from a warehouse carry them.
                submitted = pa.array(times.astype("datetime64[s]"), pa.timestamp("s", tz="UTC"))
            ids = pa.array(np.arange(first, first + n)).cast(pa.string())
            customers = pa.array(rng.integers(0, rows // 4 + 1, n)).cast(pa.string())
            table = pa.table({
                "response_id": pc.binary_join_element_wise("r", ids, ""),
                "customer_id": pc.binary_join_element_wise("c", customers, ""),
                "submitted_at": submitted,
                "metric": pa.array(metric),
                "score": pa.array(score),
                "region": names(["North", "South", "East", "West"], n),
                "channel": names(["web", "app", "phone"], n),
                "plan": names(["basic", "plus", "premium"], n),
            })
            first += n
            ext = "csv" if csv else "parquet"
            part = f"-{j:02d}" if files_per_month > 1 else ""
            path = os.path.join(src, f"answers-{month}{part}.{ext}")
            if csv:
                pacsv.write_csv(table, path,
                                write_options=pacsv.WriteOptions(quoting_style="none"))
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


def same(a, b):
    """Equal JSON, numbers within a relative 1e-9 (sums in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)
    return a == b


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
    ap.add_argument("--files-per-month", type=int, default=1,
                    help="exports per month (smaller files: ingest holds one at a time)")
    ap.add_argument("--since", help="first day (YYYY-MM-DD) of every query")
    ap.add_argument("--until", help="last day (YYYY-MM-DD) of every query")
    ap.add_argument("--cluster", help="the standalone_cluster example binary: also time the "
                    "query on a Ballista cluster on this machine")
    ap.add_argument("--cxray-cluster", help="a cxray built with --features cxray-cli/cluster")
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    lake = os.path.join(work, "lake")
    src = os.path.join(work, "src")
    if not (a.keep and os.path.isdir(src)):
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        project(work, generate(a.rows, work, a.csv, a.files_per_month))
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
    query = QUERY + (["--since", a.since] if a.since else []) + (["--until", a.until] if a.until else [])
    timed([a.cxray, "metrics", "-c", config, "--lake", lake, *query, "--show-sql=duckdb", "-o", sql_file])
    tools = [
        ("cxray metrics --lake", [a.cxray, "metrics", "-c", config, "--lake", lake, *query,
                                  "--format", "json", "-o", out_json]),
        ("duckdb (--show-sql)", [sys.executable, "-c", DUCKDB, lake, sql_file]),
    ]
    cluster = None
    if a.cluster:
        # Serves until its standard input closes (or 1 hour).
        cluster = subprocess.Popen([a.cluster, "2", "1", "3600"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        url = cluster.stdout.readline().strip()
        print(f"Ballista standalone (2 executors, 1 slot each) at {url}", flush=True)
        cluster_json = os.path.join(work, "metrics-cluster.json")
        tools.append(("cxray metrics --engine", [a.cxray_cluster, "metrics", "-c", config, "--lake",
                                                 lake, *query, "--engine", url, "--format", "json",
                                                 "-o", cluster_json]))
    results = {}
    try:
        for _ in range(a.runs):
            for name, cmd in tools:
                results.setdefault(name, []).append(timed(cmd))
    finally:
        if cluster:
            cluster.stdin.close()
            cluster.wait(timeout=60)
    if cluster:
        embedded_rows = json.load(open(out_json))["rows"]
        cluster_rows = json.load(open(cluster_json))["rows"]
        if not same(embedded_rows, cluster_rows):
            sys.exit("the cluster's figures differ from the embedded engine's")
        print(f"cluster: the same {len(cluster_rows)} rows as the embedded engine", flush=True)
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
