#!/usr/bin/env python3
"""ident_errors.py: where a clip's IDF1 goes, from emo's JSON Lines and the labelled identities.

For each labelled person: the emo identity the IDF1 assignment gives them, and every track
(track_id -> final identity) that covered their labelled faces under another identity, with its
labelled faces, times, mean face side and whether it has a pooled descriptor. The tracks are
listed by what they cost (labelled faces lost), so the biggest errors come first.

Usage: python3 dev/ident_errors.py GT.tsv PRED.jsonl   (PRED from tools/idscore.py --out DIR)"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import idscore  # noqa: E402
from assignment import hungarian_max  # noqa: E402


def main(gt_path, pred_path):
    with open(gt_path, encoding="utf-8") as fh:
        gt = idscore.parse_gt(fh.read(), gt_path)
    lines = open(pred_path, encoding="utf-8").read().splitlines()
    tracks = idscore.parse_pred(lines, "track")
    final, emb = {}, {}
    for line in lines:
        o = json.loads(line)
        if o.get("type") == "summary":
            for tr in o.get("tracks", []):
                final[tr["track_id"]] = tr.get("identity", tr["track_id"])
                emb[tr["track_id"]] = "embedding" in tr
    # per (person, track): labelled faces matched (IoU >= 0.3, largest first), times, sides
    cover = {}
    for t, faces in gt["frames"]:
        pf = idscore.nearest(tracks["frames"], t)
        pfaces = pf[1] if pf else []
        cand = sorted(((idscore.iou(g[0], p[0]), gi, pi) for gi, g in enumerate(faces)
                       for pi, p in enumerate(pfaces)), reverse=True)
        tg, tp = set(), set()
        for v, gi, pi in cand:
            if v < idscore.IOU_MIN or gi in tg or pi in tp:
                continue
            tg.add(gi)
            tp.add(pi)
            person, tid = faces[gi][1], pfaces[pi][1]
            c = cover.setdefault((person, tid), [0, t, t, 0.0])
            c[0] += 1
            c[2] = t
            c[3] += (faces[gi][0][2] * faces[gi][0][3]) ** 0.5
        for gi, g in enumerate(faces):
            if gi not in tg:
                c = cover.setdefault((g[1], None), [0, t, t, 0.0])
                c[0] += 1
                c[2] = t
                c[3] += (g[0][2] * g[0][3]) ** 0.5
    persons = sorted({p for p, _ in cover})
    idents = sorted({final.get(t, t) for p, t in cover if t is not None})
    w = [[sum(c[0] for (p2, t), c in cover.items() if p2 == p and t is not None and
              final.get(t, t) == i) for i in idents] for p in persons]
    asg = hungarian_max(w)
    owner = {persons[r]: idents[c] for r, c in asg.items() if w[r][c] > 0}
    lost = []
    for (p, t), c in cover.items():
        ident = final.get(t, t) if t is not None else None
        if ident is not None and owner.get(p) == ident:
            continue
        lost.append((c[0], p, t, ident, c))
    lost.sort(key=lambda x: (-x[0], x[1]))
    by_track = {}
    for (p, t), c in cover.items():
        if t is not None:
            by_track.setdefault(t, []).append("%s x%d" % (p, c[0]))
    print("tracks: " + "; ".join("%d->%s: %s" % (t, final.get(t, t), ", ".join(v))
                                 for t, v in sorted(by_track.items())))
    print("person -> identity: " + ", ".join("%s->%s" % kv for kv in sorted(owner.items())))
    print("lost  person        track  ident  t0-t1          side  desc")
    for n, p, t, ident, c in lost:
        print("%4d  %-12s %6s %6s  %6.1f-%-6.1f  %4.0f  %s" % (
            n, p, t, ident, c[1], c[2], c[3] / c[0], "-" if t is None else
            ("yes" if emb.get(t) else "no")))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
