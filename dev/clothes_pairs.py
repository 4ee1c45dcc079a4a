#!/usr/bin/env python3
"""clothes_pairs.py: the clothing similarity (Bhattacharyya coefficient of the tracks' own
clothes histograms, as pipeline/track_cluster.c computes it) of every pair of tracks in the
logs of dev/ident_logs.py, split into same-person and different-person pairs by the labelled
identities: the margin of a clothes threshold. Tracks are named by the person whose labelled
faces they cover most; pairs seen together (cannot-links) are included, since the rule is
applied before knowing which are.

Usage: python3 dev/clothes_pairs.py DIR [MIN_SAMPLES] [NAMES...]  (default: every NAME.log)"""
import glob
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ident_logread import bc, gt_path, persons, read_log  # noqa: E402


def main(argv):
    d = argv[0]
    min_n = int(argv[1]) if len(argv) > 1 else 4
    names = argv[2:] or sorted(os.path.basename(p)[:-4]
                               for p in glob.glob(os.path.join(d, "*.log")))
    same, diff = [], []
    for name in names:
        hist, n, _, _ = read_log(os.path.join(d, name + ".log"))
        who = persons(gt_path(name), os.path.join(d, name + ".jsonl"))
        ids = sorted(t for t in hist if t in who and n.get(t, 0) >= min_n and sum(hist[t]) > 0)
        for a, b in itertools.combinations(ids, 2):
            v = bc(hist[a], hist[b])
            (same if who[a] == who[b] else diff).append((v, name, a, who[a], b, who[b]))
    for label, lst in (("different people", diff), ("same person", same)):
        lst.sort(reverse=True)
        print("%s: %d pairs; most similar:" % (label, len(lst)))
        for v in lst[:6]:
            print("  %.3f  %s: %d (%s) and %d (%s)" % v)


if __name__ == "__main__":
    main(sys.argv[1:])
