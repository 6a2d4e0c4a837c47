#!/usr/bin/env python3
"""Side-by-side sentiment evaluation of `cxray text eval` and VADER (PyPI vaderSentiment) on
labelled public data in ../shared/data (not redistributed; see its README), plus throughput.

    pip install vaderSentiment
    cargo build --release -p cxray-cli
    python3 bench/fetch_es_eval.py   # optional: Spanish test tweets from PyPI (EvoMSA)
    python3 bench/text_eval.py [--data ../shared/data]
    # optional Spanish reference: pip install scikit-learn sentiment-analysis-spanish

Macro-F1 over the classes present; for 2-class data both tools predict positive when their
score is >= 0 (VADER: compound), as `cxray text eval` does.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def macro_f1(pairs):
    classes = sorted({t for t, _ in pairs})
    f1s = []
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    acc = sum(1 for t, p in pairs if t == p) / len(pairs)
    return acc, sum(f1s) / len(f1s)


def vader_eval(rows, binary):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    sia = SentimentIntensityAnalyzer()
    t = time.time()
    pairs = []
    for text, label in rows:
        c = sia.polarity_scores(text)["compound"]
        if binary:
            p = "positive" if c >= 0 else "negative"
        else:
            p = "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"
        pairs.append((label, p))
    return macro_f1(pairs), len(rows) / (time.time() - t)


def spanish_model_eval(path):
    """PyPI sentiment-analysis-spanish (a naive Bayes model trained on Spanish reviews, shipped in
    the wheel): positive when its probability is >= 0.5. None when it is not installed."""
    try:
        import warnings
        warnings.filterwarnings("ignore")
        from sentiment_analysis_spanish import sentiment_analysis
    except ImportError:
        return None
    model = sentiment_analysis.SentimentAnalysisSpanish()
    with open(path, newline="", encoding="utf-8") as f:
        rows = [(x["text"], {"1": "positive", "-1": "negative"}[x["label"]]) for x in csv.DictReader(f)]
    t = time.time()
    pairs = [(label, "positive" if model.sentiment(text) >= 0.5 else "negative") for text, label in rows]
    return macro_f1(pairs), len(rows) / (time.time() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--cxray", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cxray"))
    a = ap.parse_args()
    d = a.data
    sets = [
        ("en airline tweets (3-class)", f"{d}/twitter-airline-sentiment/Tweets.csv", ["--text", "text", "--label", "airline_sentiment"], True),
        ("nl bol.com reviews (2-class)", f"{d}/multilingual-reviews-nl-fr-de/polarity-nl-bol.com.csv", ["--no-header", "--text", "2", "--label", "1", "--delimiter", ","], False),
        ("fr amazon reviews (2-class)", f"{d}/multilingual-reviews-nl-fr-de/polarity-fr-amazon.csv", ["--no-header", "--text", "1", "--label", "2", "--delimiter", ","], False),
        ("de amazon reviews (2-class)", f"{d}/multilingual-reviews-nl-fr-de/polarity-de-amazon.csv", ["--no-header", "--text", "2", "--label", "1", "--delimiter", ","], False),
        ("zh waimai reviews (2-class)", f"{d}/chinese-reviews/waimai_10k.csv", ["--text", "review", "--label", "label"], False),
        ("zh hotel reviews (2-class)", f"{d}/chinese-reviews/ChnSentiCorp_htl_all.csv", ["--text", "review", "--label", "label"], False),
        # From PyPI via bench/fetch_es_eval.py; noisy labels, a smoke test.
        ("es EvoMSA test tweets (2-class)", f"{HERE}/data/es-evomsa-2class.csv", ["--text", "text", "--label", "label"], False),
        ("es EvoMSA test tweets (3-class)", f"{HERE}/data/es-evomsa-3class.csv", ["--text", "text", "--label", "label"], False),
    ]
    print("| data | n | cxray accuracy | cxray macro-F1 | VADER accuracy | VADER macro-F1 | cxray texts/s | VADER texts/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, path, args, with_vader in sets:
        if not os.path.exists(path):
            print(f"| {name} | missing | | | | | | |")
            continue
        out = subprocess.run([a.cxray, "text", "eval", path] + args + ["--format", "json"], capture_output=True, text=True, check=True)
        doc = json.loads(out.stdout)
        s = doc["scores"]["all"]
        rate = s["n"] / doc["seconds"]
        v = ("", "", "", "")
        if with_vader:
            with open(path, newline="", encoding="utf-8") as f:
                r = csv.DictReader(f)
                rows = [(x["text"], x["airline_sentiment"]) for x in r]
            (va, vf), vrate = vader_eval(rows, binary=False)
            v = (f"{va:.3f}", f"{vf:.3f}", f"{vrate:.0f}")
        print(f"| {name} | {s['n']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | {v[0]} | {v[1]} | {rate:.0f} | {v[2] if with_vader else ''} |")
    es = f"{HERE}/data/es-evomsa-2class.csv"
    if os.path.exists(es):
        r = spanish_model_eval(es)
        if r is None:
            print("\nSpanish reference: pip install scikit-learn sentiment-analysis-spanish to compare.")
        else:
            (sa, sf), srate = r
            print(f"\nSpanish 2-class tweets, PyPI sentiment-analysis-spanish 0.0.25: accuracy {sa:.3f}, macro-F1 {sf:.3f}, {srate:.0f} texts/s")


if __name__ == "__main__":
    sys.exit(main())
