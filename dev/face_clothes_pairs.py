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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ident_logread import bc, gt_path, persons, read_jsonl, read_log  # noqa: E402


def main(argv):
    d = argv[0]
    F, C = (float(argv[1]), float(argv[2])) if len(argv) > 2 else (0.55, 0.875)
    names = argv[3:] or sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(d, "*.log")))
    rows = []
    for name in names:
        hist, n, _, _ = read_log(os.path.join(d, name + ".log"))
        emb, seen = read_jsonl(os.path.join(d, name + ".jsonl"))
        who = persons(gt_path(name), os.path.join(d, name + ".jsonl"))
        ids = sorted(t for t in hist if t in who and t in emb and n.get(t, 0) >= 4 and
                     sum(hist[t]) > 0)
        for a, b in itertools.combinations(ids, 2):
            c = bc(hist[a], hist[b])
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
