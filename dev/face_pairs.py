#!/usr/bin/env python3
"""face_pairs.py: cosine similarity of the tracks' pooled face descriptors (the summary's
"embedding", what pipeline/track_cluster.c compares) for every pair of tracks in emo's JSON
Lines in DIR, split into same-person and different-person pairs by the labelled identities:
the margin of the clustering's face thresholds (face_only, face_linked).

Usage: python3 dev/face_pairs.py DIR [NAMES...]  (default: every NAME.jsonl in DIR)"""
import glob
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ident_logread import gt_path, persons, read_jsonl  # noqa: E402


def main(argv):
    d = argv[0]
    names = argv[1:] or sorted(os.path.basename(p)[:-6]
                               for p in glob.glob(os.path.join(d, "*.jsonl")))
    same, diff = [], []
    for name in names:
        emb, _ = read_jsonl(os.path.join(d, name + ".jsonl"))
        who = persons(gt_path(name), os.path.join(d, name + ".jsonl"))
        ids = sorted(t for t in emb if t in who)
        for a, b in itertools.combinations(ids, 2):
            v = sum(x * y for x, y in zip(emb[a], emb[b]))
            (same if who[a] == who[b] else diff).append((v, name, a, who[a], b, who[b]))
    for label, lst in (("different people", diff), ("same person", same)):
        lst.sort(reverse=True)
        print("%s: %d pairs; most similar:" % (label, len(lst)))
        for v in lst[:4]:
            print("  %.3f  %s: %d (%s) and %d (%s)" % v)
    same.sort()
    print("same person, least similar: " + ", ".join("%.3f %s" % (v[0], v[1]) for v in same[:4]))


if __name__ == "__main__":
    main(sys.argv[1:])
