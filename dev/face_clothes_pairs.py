#!/usr/bin/env python3
"""face_clothes_pairs.py: for every pair of tracks with a pooled descriptor and 4 or more
clothes samples each, in the logs of dev/ident_logs.py, the descriptor similarity (cosine of
the summary's "embedding") and the clothing similarity (Bhattacharyya coefficient of the
tracks' own clothes histograms), split into same-person and different-person pairs by the
labelled identities: the margin of a rule that asks both (track_cluster.c, face_clothes).
Pairs seen together (cannot-links) are marked but included: the rule is applied before knowing.

Usage: python3 dev/face_clothes_pairs.py DIR [F C] [NAMES...]
  (default F 0.55, C 0.875: prints every pair with both at least 0.8 F and 0.95 C, and the
  different-person pair closest to the rule)"""
import glob
import itertools
import json
import math
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from clothes_pairs import persons  # noqa: E402


def main(argv):
    d = argv[0]
    F, C = (float(argv[1]), float(argv[2])) if len(argv) > 2 else (0.55, 0.875)
    names = argv[3:] or sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(d, "*.log")))
    root = os.path.dirname(here)
    rows = []
    for name in names:
        hist, n, emb, seen = {}, {}, {}, set()
        for line in open(os.path.join(d, name + ".log"), encoding="utf-8", errors="replace"):
            m = re.search(r"tcl: clothes of id (\d+):(.*)", line)
            if m:
                hist[int(m.group(1))] = [float(v) for v in m.group(2).split()]
            m = re.search(r"tcl: id (\d+) in shot \d+ .*; clothes (\d+),", line)
            if m:
                n[int(m.group(1))] = int(m.group(2))
        for line in open(os.path.join(d, name + ".jsonl"), encoding="utf-8"):
            o = json.loads(line)
            if o.get("type") == "frame":
                ids = sorted(f["track_id"] for f in o.get("faces", []))
                seen.update(itertools.combinations(ids, 2))
            elif o.get("type") == "summary":
                emb = {t["track_id"]: t["embedding"] for t in o.get("tracks", [])
                       if "embedding" in t}
        who = persons(os.path.join(root, "tests", "fixtures", "identity", name + ".tsv"),
                      os.path.join(d, name + ".jsonl"))
        ids = sorted(t for t in hist if t in who and t in emb and n.get(t, 0) >= 4 and
                     sum(hist[t]) > 0)
        for a, b in itertools.combinations(ids, 2):
            c = sum(math.sqrt(x * y) for x, y in zip(hist[a], hist[b]))
            f = sum(x * y for x, y in zip(emb[a], emb[b]))
            rows.append((who[a] == who[b], f, c, name, a, who[a], b, who[b], (a, b) in seen))
    diff = [r for r in rows if not r[0]]
    same = [r for r in rows if r[0]]
    print("pairs: %d same person, %d different people; rule faces >= %.3f and clothes >= %.3f"
          % (len(same), len(diff), F, C))
    for label, lst in (("different people", diff), ("same person", same)):
        hit = [r for r in lst if r[1] >= F and r[2] >= C]
        print("%s: %d meet the rule" % (label, len(hit)))
        near = sorted((r for r in lst if r[1] >= 0.8 * F and r[2] >= 0.95 * C),
                      key=lambda r: -min(r[1] - F, r[2] - C))
        for r in near[:12]:
            print("  faces %.3f clothes %.3f  %s: %d (%s) and %d (%s)%s" % (
                r[1], r[2], r[3], r[4], r[5], r[6], r[7], ", seen together" if r[8] else ""))
    # the different-person pairs that come closest on each axis
    print("different people, most similar faces among clothes >= %.3f:" % C)
    for r in sorted((r for r in diff if r[2] >= C), key=lambda r: -r[1])[:5]:
        print("  faces %.3f clothes %.3f  %s: %d (%s) and %d (%s)%s" % (
            r[1], r[2], r[3], r[4], r[5], r[6], r[7], ", seen together" if r[8] else ""))
    print("different people, most similar clothes among faces >= %.3f:" % F)
    for r in sorted((r for r in diff if r[1] >= F), key=lambda r: -r[2])[:5]:
        print("  faces %.3f clothes %.3f  %s: %d (%s) and %d (%s)%s" % (
            r[1], r[2], r[3], r[4], r[5], r[6], r[7], ", seen together" if r[8] else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
