"""ident_logread.py: the one reader of dev/ident_logs.py's output (NAME.log from `emo video -v -v`
and NAME.jsonl) shared by dev/clothes_pairs.py, dev/face_clothes_pairs.py, dev/face_pairs.py
and dev/cluster_replay.py: each track's clothes (normalised histogram and sample count) and the
thread links from the clustering's log; descriptors and co-visible pairs from the JSON Lines;
which labelled person each track covers most (dev/ident_errors.py); the Bhattacharyya
coefficient the clustering compares clothes with (pipeline/track_cluster.c)."""
import itertools
import json
import math
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(here)


def read_log(path):
    """(hist, nclo, links, conts) from a `-v -v` log: per track id its clothes histogram
    (normalised) and sample count, the thread links as (id, id) pairs and the continuation links
    as (id, id, gap in seconds, centre shift in face sides)."""
    hist, nclo, links, conts = {}, {}, [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.search(r"tcl: clothes of id (\d+):(.*)", line)
        if m:
            hist[int(m.group(1))] = [float(v) for v in m.group(2).split()]
        m = re.search(r"tcl: id (\d+) in shot \d+ .*; clothes (\d+),", line)
        if m:
            nclo[int(m.group(1))] = int(m.group(2))
        m = re.search(r"tcl: link ids (\d+) and (\d+)", line)
        if m:
            links.append((int(m.group(1)), int(m.group(2))))
        m = re.search(r"tcl: continuation ids (\d+) and (\d+) \(([\d.]+)-([\d.]+) s, shift "
                      r"([\d.]+) sides\)", line)
        if m:
            conts.append((int(m.group(1)), int(m.group(2)),
                          float(m.group(4)) - float(m.group(3)), float(m.group(5))))
    return hist, nclo, links, conts


def read_jsonl(path):
    """(emb, seen) from emo's JSON Lines: per track id its pooled descriptor (the summary's
    "embedding"), and the set of (a, b) track pairs, a < b, reported in one frame."""
    emb, seen = {}, set()
    for line in open(path, encoding="utf-8"):
        o = json.loads(line)
        if o.get("type") == "frame":
            ids = sorted({f["track_id"] for f in o.get("faces", [])})
            seen.update(itertools.combinations(ids, 2))
        elif o.get("type") == "summary":
            emb = {t["track_id"]: t["embedding"] for t in o.get("tracks", []) if "embedding" in t}
    return emb, seen


def bc(a, b):
    """Bhattacharyya coefficient of two histograms (each normalised here); None if one is empty."""
    sa, sb = sum(a), sum(b)
    if not (sa > 0 and sb > 0):
        return None
    return sum(math.sqrt(x / sa * (y / sb)) for x, y in zip(a, b))


def gt_path(name):
    return os.path.join(ROOT, "tests", "fixtures", "identity", name + ".tsv")


def persons(gt, pred):
    """Per track id, the labelled person whose faces it covers most (dev/ident_errors.py)."""
    out = subprocess.run([sys.executable, os.path.join(here, "ident_errors.py"), gt, pred],
                         capture_output=True, text=True, check=True).stdout
    first = out.split("\n")[0][len("tracks: "):]
    who = {}
    for part in first.split("; ") if first else []:
        a, b = part.split(": ", 1)
        best = max(b.split(", "), key=lambda x: int(x.split(" x")[1]))
        who[int(a.split("->")[0])] = best.split(" x")[0]
    return who
