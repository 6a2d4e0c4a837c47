#!/usr/bin/env python3
"""Writes operational data for benchmarks, CSV and Parquet with the same rows:

- tickets_N: N tickets over 24 months with channel and category, first response and resolution
  times (10% unanswered, 15% unresolved), contacts 1-4, reopened flag, handle time;
- journey_M: about M journey events (visit -> cart -> checkout -> purchase, sessions dropping
  out at each step) with device and region per event.

    python3 bench/gen_operational.py --tickets 10000000 --events 50000000 --out bench/data
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ap = argparse.ArgumentParser()
ap.add_argument("--tickets", type=int, default=10_000_000)
ap.add_argument("--events", type=int, default=50_000_000)
ap.add_argument("--out", default="bench/data")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = np.random.default_rng(a.seed)
START = np.datetime64("2024-01-01T00:00:00", "s")
SPAN = 731 * 86400


def iso(seconds, valid=None):
    """ISO 8601 UTC strings of seconds after START (null where not valid)."""
    t = pa.array((START + seconds.astype("timedelta64[s]")).astype("datetime64[s]"))
    s = pc.strftime(t, format="%Y-%m-%dT%H:%M:%SZ")
    if valid is not None:
        s = pc.if_else(pa.array(valid), s, pa.scalar(None, pa.string()))
    return s


def write(table, name):
    pacsv.write_csv(table, os.path.join(a.out, f"{name}.csv"),
                    write_options=pacsv.WriteOptions(quoting_style="needed"))
    pq.write_table(table, os.path.join(a.out, f"{name}.parquet"), row_group_size=1 << 20)
    print("wrote", table.num_rows, "rows to", os.path.join(a.out, name) + ".{csv,parquet}")


if a.tickets:
    n = a.tickets
    created = rng.integers(0, SPAN, n)
    responded = rng.random(n) > 0.10
    frt = rng.exponential(3 * 3600, n).astype(np.int64) + 1
    resolved = responded & (rng.random(n) > 0.15)
    contacts = 1 + np.minimum(rng.exponential(0.5, n).astype(np.int64), 3)
    ttr = frt + rng.exponential(86400 * contacts).astype(np.int64)
    table = pa.table({
        "ticket_id": pa.array(np.char.add("T", np.arange(n).astype(str))),
        "customer_id": pa.array(np.char.add("C", rng.integers(0, n // 4, n).astype(str))),
        "created_at": iso(created),
        "first_response_at": iso(created + frt, responded),
        "resolved_at": iso(created + ttr, resolved),
        "contacts": pa.array(contacts),
        "reopened": pa.array(rng.random(n) < 0.08),
        "channel": pa.array(rng.choice(np.array(["email", "chat", "phone", "social"]), n)),
        "category": pa.array(rng.choice(np.array(["delivery", "billing", "account", "product", "returns"]), n)),
        "handle_seconds": pa.array(120 + rng.exponential(420, n).astype(np.int64)),
    })
    write(table, f"tickets_{n}")

if a.events:
    # Sessions of 1-4 steps: 45% add to cart, 60% of those check out, 80% of those buy.
    sessions = int(a.events / 1.936)  # mean depth 1 + 0.45·(1 + 0.6·(1 + 0.8)) = 1.936
    depth = 1 + (rng.random(sessions) < 0.45) * (1 + (rng.random(sessions) < 0.6) * (1 + (rng.random(sessions) < 0.8)))
    sid = np.repeat(np.arange(sessions), depth)
    k = np.arange(sid.size) - np.repeat(np.cumsum(depth) - depth, depth)
    start = np.repeat(rng.integers(0, SPAN, sessions), depth)
    at = start + k * (20 + rng.exponential(240, sid.size).astype(np.int64))
    steps = np.array(["visit", "cart", "checkout", "purchase"])
    device = np.repeat(rng.choice(np.array(["ios", "android", "desktop"]), sessions), depth)
    region = np.repeat(rng.choice(np.array(["North", "South", "East", "West"]), sessions), depth)
    table = pa.table({
        "session_id": pa.array(np.char.add("S", sid.astype(str))),
        "customer_id": pa.array(np.char.add("C", (sid // 3).astype(str))),
        "step": pa.array(steps[k]),
        "at": iso(at),
        "device": pa.array(device),
        "region": pa.array(region),
    })
    write(table, f"journey_{a.events}")
