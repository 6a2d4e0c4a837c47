#!/usr/bin/env python3
"""Writes a long-form responses file for benchmarks: N rows, 3 segment columns, 24 months,
metrics nps/csat/ces with realistic score distributions. CSV and Parquet with the same rows.

    python3 bench/gen_responses.py --rows 10000000 --out bench/data
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def metric_scores(rng, n):
    """n answers' metrics (nps 50%, csat 30%, ces 20%) and their scores, drawn from rng."""
    metric = rng.choice(np.array(["nps", "csat", "ces"]), n, p=[0.5, 0.3, 0.2])
    score = np.empty(n, dtype=np.int64)
    m_nps, m_csat, m_ces = metric == "nps", metric == "csat", metric == "ces"
    score[m_nps] = np.clip(np.round(rng.normal(7.8, 2.0, m_nps.sum())), 0, 10)
    score[m_csat] = np.clip(np.round(rng.normal(3.9, 1.0, m_csat.sum())), 1, 5)
    score[m_ces] = np.clip(np.round(rng.normal(5.2, 1.3, m_ces.sum())), 1, 7)
    return metric, score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--out", default="bench/data")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    n = a.rows
    metric, score = metric_scores(rng, n)
    start = np.datetime64("2024-01-01T00:00:00")
    secs = rng.integers(0, 731 * 86400, n)
    ts = (start + secs.astype("timedelta64[s]")).astype(str)
    ts = np.char.add(ts, "Z")
    table = pa.table({
        "response_id": pa.array(np.char.add("r", np.arange(n).astype(str))),
        "submitted_at": pa.array(ts),
        "metric": pa.array(metric),
        "score": pa.array(score),
        "region": pa.array(rng.choice(np.array(["North", "South", "East", "West"]), n)),
        "channel": pa.array(rng.choice(np.array(["web", "app", "phone"]), n)),
        "plan": pa.array(rng.choice(np.array(["basic", "plus", "premium"]), n)),
    })
    pacsv.write_csv(table, os.path.join(a.out, f"responses_{n}.csv"),
                    write_options=pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(table, os.path.join(a.out, f"responses_{n}.parquet"))
    print("wrote", n, "rows to", a.out)


if __name__ == "__main__":
    main()
