#!/usr/bin/env python3
"""Throughput of language + sentiment + themes per text on one core: `cxray text` (release
build, CXRAY_TIMING reports the analysis time on one thread) against VADER's polarity_scores (the
sentiment step only) on the same texts: the 14,640 airline tweets of ../shared/data repeated to
N texts. Median of R runs.

    cargo build --release -p cxray-cli
    python3 bench/text_throughput.py [--n 100000] [--runs 5]
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    with open(f"{a.data}/twitter-airline-sentiment/Tweets.csv", newline="", encoding="utf-8") as f:
        tweets = [r["text"] for r in csv.DictReader(f)]
    texts = [tweets[i % len(tweets)] for i in range(a.n)]
    tmp = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="", encoding="utf-8")
    w = csv.writer(tmp)
    w.writerow(["comment"])
    for t in texts:
        w.writerow([t])
    tmp.close()
    env = dict(os.environ, CXRAY_TIMING="1")
    rates = []
    for _ in range(a.runs):
        out = subprocess.run([a.cxray, "text", tmp.name, "--column", "comment", "--format", "csv", "-o", os.devnull],
                             capture_output=True, text=True, env=env, check=True)
        m = re.search(r"\(([0-9]+) texts/s\)", out.stderr)
        rates.append(float(m.group(1)))
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    sia = SentimentIntensityAnalyzer()
    vrates = []
    for _ in range(a.runs):
        t = time.perf_counter()
        for x in texts:
            sia.polarity_scores(x)
        vrates.append(len(texts) / (time.perf_counter() - t))
    os.unlink(tmp.name)
    print(f"| tool | work per text | texts | median texts/s (one core) |")
    print(f"|---|---|---|---|")
    print(f"| cxray text | language + sentiment + themes | {a.n} | {statistics.median(rates):,.0f} |")
    print(f"| VADER (vaderSentiment) | sentiment | {a.n} | {statistics.median(vrates):,.0f} |")


if __name__ == "__main__":
    main()
