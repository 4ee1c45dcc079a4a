#!/usr/bin/env python3
"""cluster_replay.py: replays pipeline/track_cluster.c's final clustering from the logs of
dev/ident_logs.py (NAME.log with `-v -v`, NAME.jsonl), with other thresholds or rules, and
writes NAME.jsonl files whose summary carries the replayed identities, for
`tools/idscore.py --pred OUT`. Each clip takes seconds instead of a full analysis, so a rule
can be tried on all 41 labelled files at once; run it with the defaults first: it must give
the identities emo gave (it says how many tracks differ).

What it reads: each track's frames, tracker identity (the identity its last frame reported),
co-visible pairs (cannot-links) from the JSON Lines; descriptors from the summary; clothes
(normalised histogram and sample count), mean boxes per shot and thread links from the log.

Usage: python3 dev/cluster_replay.py IN_DIR OUT_DIR [--both F,C] [--cont G,S] [NAMES...]
  --both F,C: track_cluster.c's both_face and both_clothes (default 0.55,0.86; 2,2 = off, the
  rule before it came): merge when the pooled descriptors score >= F and two member tracks'
  own clothes (TCL_TRACK_CLOTHES samples each) >= C.
  --cont G,S: track_cluster.c's cont_gap and cont_shift (default 1.0,1.0; 0,0 = off): the
  log's continuation links (found with the gap and shift emo ran with, each the only one for
  the other there) whose gap is G seconds or less and centre shift S face sides or less count
  as links."""
import glob
import itertools
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ident_logread import bc, read_jsonl, read_log  # noqa: E402

TRACK_CLOTHES = 4
P = dict(face_only=0.76, face_linked=0.35, link_alone=1, clothes=0.90, clothes_track=0.93,
         fc_face=0.55, fc_clothes=0.86, cont_gap=1.0,
         cont_shift=1.0)


def replay(log_path, jsonl_path, p):
    hist, nclo, links, conts = read_log(log_path)
    links = links + [(a, b) for a, b, gap, shift in conts
                     if gap <= p["cont_gap"] and shift <= p["cont_shift"]]
    emb, cant = read_jsonl(jsonl_path)
    frames, last_ident, summary = {}, {}, None
    lines = open(jsonl_path, encoding="utf-8").read().splitlines()
    for k, line in enumerate(lines):
        o = json.loads(line)
        if o.get("type") == "frame":
            for f in o.get("faces", []):
                frames[f["track_id"]] = frames.get(f["track_id"], 0) + 1
                last_ident[f["track_id"]] = f.get("identity", f["track_id"])
        elif o.get("type") == "summary":
            summary = k
    items = sorted(frames, key=lambda i: (-frames[i], i))
    n = len(items)
    pos = {i: k for k, i in enumerate(items)}
    clusters = {k: [items[k]] for k in range(n)}  # head item -> member ids
    H = {k: [v * nclo.get(items[k], 0) for v in hist.get(items[k], [0.0])] for k in range(n)}
    ident = {i: last_ident[i] for i in items}

    def link(a, b):
        return sum(1 for x, y in links for u in clusters[a] for v in clusters[b]
                   if (x, y) in ((u, v), (v, u)))

    def can(a, b):
        return all((min(u, v), max(u, v)) not in cant for u in clusters[a] for v in clusters[b])

    def faces(a, b):
        s = [sum(x * y for x, y in zip(emb[u], emb[v])) for u in clusters[a] for v in clusters[b]
             if u in emb and v in emb]
        return (sum(s) / len(s)) if s else None

    def tmax(a, b):
        best = -1.0
        for u in clusters[a]:
            for v in clusters[b]:
                if nclo.get(u, 0) >= TRACK_CLOTHES and nclo.get(v, 0) >= TRACK_CLOTHES:
                    c = bc(hist[u], hist[v])
                    if c is not None:
                        best = max(best, c)
        return best

    def merge(a, b):
        clusters[a] += clusters.pop(b)
        H[a] = [x + y for x, y in zip(H[a], H.pop(b))]

    for a in range(n):  # the tracker's identities first
        if a not in clusters:
            continue
        for b in range(n):
            if b != a and b in clusters and ident[items[b]] == ident[items[a]]:
                merge(a, b)
    log = []
    while True:
        best, bi, bj = -math.inf, None, None
        heads = sorted(clusters)
        for a, b in itertools.combinations(heads, 2):
            if not can(a, b):
                continue
            f = faces(a, b)
            c = bc(H[a], H[b]) if len(H[a]) == len(H[b]) else None
            agree = f is None or f >= p["face_linked"]
            t = tmax(a, b)
            if link(a, b) > 0 and agree and (f is not None or p["link_alone"]):
                score = 3.0 + (f or 0.0)
            elif f is not None and f >= p["face_only"]:
                score = 2.0 + f
            elif c is not None and agree and c >= p["clothes"]:
                score = 1.0 + c
            elif agree and t >= p["clothes_track"]:
                score = t
            elif f is not None and f >= p["fc_face"] and t >= p["fc_clothes"]:
                score = t - 1.0
            else:
                continue
            if score > best:
                best, bi, bj = score, a, b
        if bi is None:
            break
        log.append((clusters[bi][:], clusters[bj][:], best))
        merge(bi, bj)
    final = {}
    for h, members in clusters.items():
        low = min(ident[u] for u in members)
        for u in members:
            final[u] = low
    return lines, summary, final, log


def main(argv):
    src, out = argv[0], argv[1]
    rest = argv[2:]
    p = dict(P)
    names = []
    i = 0
    while i < len(rest):
        if rest[i] == "--both":
            f, c = rest[i + 1].split(",")
            p["fc_face"], p["fc_clothes"] = float(f), float(c)
            i += 2
        elif rest[i] == "--cont":
            p["cont_gap"], p["cont_shift"] = (float(v) for v in rest[i + 1].split(","))
            i += 2
        else:
            names.append(rest[i])
            i += 1
    names = names or sorted(os.path.basename(x)[:-4] for x in glob.glob(os.path.join(src, "*.log")))
    os.makedirs(out, exist_ok=True)
    for name in names:
        lines, k, final, log = replay(os.path.join(src, name + ".log"),
                                      os.path.join(src, name + ".jsonl"), p)
        o = json.loads(lines[k])
        differ = 0
        for tr in o.get("tracks", []):
            t = tr["track_id"]
            if t in final:
                differ += final[t] != tr.get("identity", t)
                tr["identity"] = final[t]
        lines[k] = json.dumps(o)
        with open(os.path.join(out, name + ".jsonl"), "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        print("%s: %d tracks differ from emo's; merges: %s" % (
            name, differ, "; ".join("%s+%s %.3f" % (a, b, s) for a, b, s in log)))


if __name__ == "__main__":
    main(sys.argv[1:])
