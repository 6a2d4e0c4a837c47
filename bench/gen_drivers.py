#!/usr/bin/env python3
"""Writes survey submissions for the insights benchmark (issue 7): N respondents over 24
months, each answering NPS (0-10) and 12 attribute ratings (1-5) that drive it with known
strengths, with region, channel and plan. Long layout (one row per answer), Parquet; the
answers of a submission share customer_id and submitted_at. Also writes the cxray.toml that
declares the 12 attributes as drivers.

    python3 bench/gen_drivers.py --respondents 5000000 --out bench/data
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ap = argparse.ArgumentParser()
ap.add_argument("--respondents", type=int, default=5_000_000)
ap.add_argument("--drivers", type=int, default=12)
ap.add_argument("--out", default="bench/data")
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = np.random.default_rng(a.seed)
n, k = a.respondents, a.drivers
names = [f"attr{j + 1:02d}" for j in range(k)]
strength = np.linspace(1.0, 0.1, k)  # attr01 drives NPS most, attr12 least

z = rng.normal(size=n)
ratings = np.clip(np.rint(3.3 + 0.7 * strength[None, :] * z[:, None] + 0.8 * rng.normal(size=(n, k))), 1, 5)
region = rng.integers(0, 4, n)
channel = rng.integers(0, 3, n)
plan = rng.integers(0, 3, n)
start = np.datetime64("2024-01-01T00:00:00", "s")
secs = rng.integers(0, 731 * 86400, n)
# A planted drop: region 0 loses 1.5 NPS points in the last three months.
late = secs > (731 - 92) * 86400
nps = np.clip(np.rint(7.2 + 1.4 * z - np.where((region == 0) & late, 1.5, 0.0) + 1.0 * rng.normal(size=n)), 0, 10)

answers = k + 1
rows = n * answers
cust = pa.DictionaryArray.from_arrays(
    pa.array(np.repeat(np.arange(n, dtype=np.int32), answers)),
    pa.array([f"C{i:08d}" for i in range(n)]),
)
metric = pa.DictionaryArray.from_arrays(
    pa.array(np.tile(np.arange(answers, dtype=np.int8), n)), pa.array(names + ["nps"])
)
score = np.concatenate([ratings, nps[:, None]], axis=1).reshape(-1)
ts = (start + secs.astype("timedelta64[s]")).astype("datetime64[us]")
dict_col = lambda codes, labels: pa.DictionaryArray.from_arrays(
    pa.array(np.repeat(codes.astype(np.int8), answers)), pa.array(labels)
)
table = pa.table(
    {
        "customer_id": cust,
        "submitted_at": pa.array(np.repeat(ts, answers), pa.timestamp("us", tz="UTC")),
        "metric": metric,
        "score": pa.array(score),
        "region": dict_col(region, ["North", "East", "South", "West"]),
        "channel": dict_col(channel, ["web", "app", "phone"]),
        "plan": dict_col(plan, ["basic", "plus", "premium"]),
    }
)
path = os.path.join(a.out, f"drivers_{n}.parquet")
pq.write_table(table, path, row_group_size=1_000_000)
with open(os.path.join(a.out, f"drivers_{n}.toml"), "w") as f:
    f.write(f'[[sources]]\npath = "drivers_{n}.parquet"\n\n')
    for name in names:
        f.write(f"[metrics.{name}]\nscale = [1, 5]\ndriver = true\n\n")
print(f"{path}: {rows:,} answers of {n:,} respondents")
