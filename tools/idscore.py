#!/usr/bin/env python3
"""idscore.py: scores emo's face ids against hand-labelled identities (and shot cuts).

Ground truth: tests/fixtures/identity/*.tsv (format and how they were made:
tests/fixtures/identity/README.md). Predictions: emo's JSON Lines from `emo video` (frames with
track ids, events, summary); run by this tool (--emo BIN) or read from files (--pred DIR, one
NAME.jsonl per NAME.tsv).

Metrics, per clip and overall (standard multi-object-tracking definitions):
  - per labelled frame, ground-truth faces and emo's faces at the nearest analysed frame (within
    0.06 s) are matched one to one by box overlap, IoU >= 0.3 (faces, not boxes, are scored: the
    labelled boxes are detector boxes checked by eye, emo's may have moved by optical flow),
    keeping last frame's pairs first (CLEAR MOT, Bernardin & Stiefelhagen 2008), then by
    largest IoU;
  - IDSW: a labelled person matched to a different emo id than at its previous match (CLEAR MOT);
  - Frag: a labelled person's matching interrupted (present but unmatched) and resumed later;
  - IDF1 (Ristani et al., ECCV 2016 workshops): persons and emo ids are put one to one by the
    assignment that maximises the frames where both overlap (IoU >= 0.3); IDF1 = 2 IDTP /
    (ground-truth faces + emo faces at the labelled frames);
  - merges: an emo id matched (per frame) to two or more labelled persons counts persons - 1:
    one id carried over to someone else, what must never happen;
  - cuts: emo's shot_cut events against the labelled cut times (a hit within 0.15 s, or within a
    labelled gradual transition's span), precision and recall.

Usage:
  python3 tools/idscore.py --emo build/emo [--data ../shared/data] [--out DIR] [GT.tsv ...]
  python3 tools/idscore.py --pred DIR [GT.tsv ...]
  --ids final (default) | frame | track: score a face by its track's final identity (the
  summary's, deferred re-identification applied to every frame of the track), the identity its
  frame reported, or its bare track_id.
Default GT: every tests/fixtures/identity/*.tsv. A ground truth made of parts (the reel) is
played into $TMPDIR/emo-idscore/NAME.mp4 with the ffmpeg command first. Prints a table; exit 0 (1 on bad input).
Options after -- are passed to emo video (e.g. -- --no-reid)."""
import glob
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assignment import hungarian_max  # noqa: E402  (shared with der.py)

MAGIC = "emo-identity-gt"
VERSION = 1
IOU_MIN = 0.3
T_TOL = 0.06
CUT_TOL = 0.15
MAX_FACES = 256  # per labelled frame
MAX_FRAMES = 100000
MAX_LINE = 4096


class GtError(Exception):
    pass


def parse_gt(text, name="<gt>"):
    """Parses a ground-truth file (str). Returns dict(clip, frames=[(t, [(box, person)])],
    cuts=[(start, end, kind)]). Raises GtError with file:line on anything malformed."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r").split("\t") != [MAGIC, str(VERSION)]:
        first = lines[0][:60] if lines else ""
        raise GtError("%s:1: first line must be '%s<TAB>%d' (got %r): not an identity ground "
                      "truth of this version" % (name, MAGIC, VERSION, first))
    clip, parts, frames, cuts = None, [], [], []
    last_t = -math.inf
    for no, raw in enumerate(lines[1:], 2):
        line = raw.rstrip("\r")
        if len(line) > MAX_LINE:
            raise GtError("%s:%d: line longer than %d characters" % (name, no, MAX_LINE))
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")

        def num(s, what):
            try:
                v = float(s)
            except ValueError:
                raise GtError("%s:%d: %s %r is not a number" % (name, no, what, s))
            if not math.isfinite(v) or v < 0:
                raise GtError("%s:%d: %s %r must be finite and >= 0" % (name, no, what, s))
            return v

        if f[0] in ("clip", "part") and len(f) == 2 and f[1]:
            if clip is not None or (f[0] == "clip" and parts):
                raise GtError("%s:%d: one clip line, or part lines, not both" % (name, no))
            if f[1].startswith("/") or ".." in f[1].split("/"):
                raise GtError("%s:%d: %s must be a path inside the data folder" % (name, no, f[0]))
            if f[0] == "clip":
                clip = f[1]
            else:
                parts.append(f[1])
        elif f[0] == "cut" and len(f) in (2, 4):
            t = num(f[1], "cut time")
            end, kind = t, "hard"
            if len(f) == 4:
                end, kind = num(f[2], "cut end"), f[3]
                if kind not in ("hard", "dissolve", "fade") or end < t:
                    raise GtError("%s:%d: cut needs end >= start and a kind hard, dissolve or fade"
                                  % (name, no))
            cuts.append((t, end, kind))
        elif f[0] == "frame" and len(f) == 2:
            t = num(f[1], "frame time")
            if t <= last_t:
                raise GtError("%s:%d: frame times must increase" % (name, no))
            if len(frames) >= MAX_FRAMES:
                raise GtError("%s:%d: more than %d frames" % (name, no, MAX_FRAMES))
            last_t = t
            frames.append((t, []))
        elif f[0] == "face" and len(f) == 6:
            if not frames:
                raise GtError("%s:%d: face before any frame line" % (name, no))
            box = [num(v, "box value") for v in f[1:5]]
            if box[2] <= 0 or box[3] <= 0:
                raise GtError("%s:%d: empty box" % (name, no))
            person = f[5]
            if not person or not all(c.isalnum() or c in "_-." for c in person):
                raise GtError("%s:%d: person %r: use letters, digits, _ - ." % (name, no, person))
            if len(frames[-1][1]) >= MAX_FACES:
                raise GtError("%s:%d: more than %d faces in a frame" % (name, no, MAX_FACES))
            frames[-1][1].append((box, person))
        else:
            raise GtError("%s:%d: unknown line %r (clip, cut, frame or face with their fields)"
                          % (name, no, line[:60]))
    if clip is None and not parts:
        raise GtError("%s: no clip line" % name)
    return {"clip": clip, "parts": parts, "frames": frames, "cuts": sorted(cuts)}


def parse_pred(lines, ids="final"):
    """emo video's JSON Lines -> dict(frames=[(t, [(box, id)])], cuts=[t], embeddings).
    ids: which id a face is scored by: "track" its track_id; "frame" its identity as reported in
    that frame (an earlier id once deferred re-identification matched it, emo.h
    emo_track_face.identity); "final" the identity the summary gives its track_id (so frames
    reported before the match count under it too)."""
    frames, cuts, emb, final = [], [], None, {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        o = json.loads(line)
        ty = o.get("type")
        if ty == "frame":
            key = "identity" if ids == "frame" else "track_id"
            frames.append((float(o["t"]), [([float(v) for v in f["box"]],
                                            int(f.get(key, f["track_id"])))
                                           for f in o.get("faces", [])]))
        elif ty == "event" and o.get("event") == "shot_cut":
            cuts.append(float(o["start"]))
        elif ty == "summary":
            emb = o.get("embeddings")
            for tr in o.get("tracks", []):
                final[int(tr["track_id"])] = int(tr.get("identity", tr["track_id"]))
    if ids == "final":
        frames = [(t, [(b, final.get(i, i)) for b, i in fs]) for t, fs in frames]
    frames.sort(key=lambda x: x[0])
    return {"frames": frames, "cuts": cuts, "embeddings": emb}


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def nearest(pred_frames, t):
    lo, hi = 0, len(pred_frames)
    while lo < hi:
        mid = (lo + hi) // 2
        if pred_frames[mid][0] < t:
            lo = mid + 1
        else:
            hi = mid
    best = None
    for k in (lo - 1, lo):
        if 0 <= k < len(pred_frames) and abs(pred_frames[k][0] - t) <= T_TOL:
            if best is None or abs(pred_frames[k][0] - t) < abs(best[0] - t):
                best = pred_frames[k]
    return best


def score(gt, pred):
    """Scores one clip. Returns a dict of counts and rates (see the file comment)."""
    n_gt = n_pred = n_match = idsw = frag = 0
    last_id, was_matched, interrupted = {}, {}, {}
    pair = {}  # (person, id) -> frames with IoU >= IOU_MIN
    matched_persons = {}  # id -> {person: frames}
    prev = {}  # person -> id matched at the previous labelled frame
    for t, faces in gt["frames"]:
        pf = nearest(pred["frames"], t)
        pfaces = pf[1] if pf else []
        n_gt += len(faces)
        n_pred += len(pfaces)
        ious = [[iou(g[0], p[0]) for p in pfaces] for g in faces]
        for gi, (gbox, person) in enumerate(faces):
            for pi, (pbox, pid) in enumerate(pfaces):
                if ious[gi][pi] >= IOU_MIN:
                    pair[(person, pid)] = pair.get((person, pid), 0) + 1
        taken_g, taken_p, m = set(), set(), {}
        for gi, (gbox, person) in enumerate(faces):  # CLEAR MOT: keep last frame's pairs
            for pi, (pbox, pid) in enumerate(pfaces):
                if prev.get(person) == pid and pi not in taken_p and ious[gi][pi] >= IOU_MIN:
                    m[gi] = pi
                    taken_g.add(gi)
                    taken_p.add(pi)
                    break
        cand = sorted(((ious[gi][pi], gi, pi) for gi in range(len(faces))
                       for pi in range(len(pfaces)) if ious[gi][pi] >= IOU_MIN), reverse=True)
        for v, gi, pi in cand:
            if gi not in taken_g and pi not in taken_p:
                m[gi] = pi
                taken_g.add(gi)
                taken_p.add(pi)
        prev = {}
        for gi, (gbox, person) in enumerate(faces):
            if gi in m:
                pid = pfaces[m[gi]][1]
                n_match += 1
                if person in last_id and last_id[person] != pid:
                    idsw += 1
                if interrupted.get(person):
                    frag += 1
                interrupted[person] = False
                was_matched[person] = True
                last_id[person] = pid
                prev[person] = pid
                d = matched_persons.setdefault(pid, {})
                d[person] = d.get(person, 0) + 1
            elif was_matched.get(person):
                interrupted[person] = True
    persons = sorted({p for (p, i) in pair} | {f[1] for _, fs in gt["frames"] for f in fs})
    ids = sorted({i for (p, i) in pair})
    w = [[pair.get((p, i), 0) for i in ids] for p in persons]
    asg = hungarian_max(w)
    idtp = sum(w[r][c] for r, c in asg.items())
    merges = {pid: d for pid, d in matched_persons.items() if len(d) > 1}
    n_merges = sum(len(d) - 1 for d in merges.values())
    # cuts
    hits, used = 0, set()
    for (a, b, kind) in gt["cuts"]:
        for k, c in enumerate(pred["cuts"]):
            if k not in used and a - CUT_TOL <= c <= b + CUT_TOL:
                used.add(k)
                hits += 1
                break
    return {"n_gt": n_gt, "n_pred": n_pred, "matched": n_match, "idtp": idtp, "idsw": idsw,
            "frag": frag, "merges": n_merges, "merge_detail": merges, "persons": len(persons),
            "ids": len({p[1] for _, fs in pred["frames"] for p in fs}),
            "cuts_gt": len(gt["cuts"]), "cuts_pred": len(pred["cuts"]), "cut_hits": hits,
            "embeddings": pred.get("embeddings")}


def idf1(s):
    d = s["n_gt"] + s["n_pred"]
    return 2.0 * s["idtp"] / d if d else 1.0


def total(scores):
    keys = ("n_gt", "n_pred", "matched", "idtp", "idsw", "frag", "merges", "persons", "ids",
            "cuts_gt", "cuts_pred", "cut_hits")
    t = {k: sum(s[k] for s in scores) for k in keys}
    e = [s["embeddings"] for s in scores]
    t["embeddings"] = sum(e) if all(v is not None for v in e) else None
    return t


def row(name, s):
    rec = s["matched"] / s["n_gt"] if s["n_gt"] else 1.0
    emb = "-" if s.get("embeddings") is None else str(s["embeddings"])
    return "| %s | %d | %d | %d | %.3f | %.3f | %d | %d | %d | %d/%d/%d | %s |" % (
        name, s["persons"], s["ids"], s["n_gt"], rec, idf1(s), s["idsw"], s["frag"],
        s["merges"], s["cut_hits"], s["cuts_gt"], s["cuts_pred"], emb)


HEADER = ("| clip | persons | emo ids | labelled faces | recall | IDF1 | IDSW | Frag | merges | "
          "cuts hit/labelled/found | embeddings |\n|---|---|---|---|---|---|---|---|---|---|---|")


def make_reel(data, parts, work, name):
    """Plays the parts one after another into work/name.mp4 (ffmpeg's concat filter: each part
    follows the previous one's last frame; video only, H.264 at high quality). Reused when it
    is newer than this tool."""
    out = os.path.join(work, name + ".mp4")
    if os.path.exists(out) and os.path.getmtime(out) > os.path.getmtime(__file__):
        return out
    os.makedirs(work, exist_ok=True)
    cmd = ["ffmpeg", "-v", "error", "-y"]
    for p in parts:
        cmd += ["-i", os.path.join(data, p)]
    # each part's first frame at 0 (some clips start later than their audio), then joined
    cmd += ["-filter_complex", "".join("[%d:v]setpts=PTS-STARTPTS[v%d];" % (k, k)
                                       for k in range(len(parts))) +
            "".join("[v%d]" % k for k in range(len(parts))) +
            "concat=n=%d:v=1:a=0[v]" % len(parts), "-map", "[v]", "-c:v", "libx264", "-crf",
            "16", "-preset", "veryfast", out + ".tmp.mp4"]
    subprocess.run(cmd, check=True)
    os.replace(out + ".tmp.mp4", out)
    return out


def run_emo(emo, path, extra):
    r = subprocess.run([emo, "video", "-q", "--no-voice"] + extra + [path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed on %s: %s" % (emo, path, r.stderr.strip()[-300:]))
    return r.stdout.splitlines()


def main(argv):
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    emo = pred_dir = out_dir = None
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "emo-idscore")
    data = os.path.join(root, "..", "shared", "data")
    files, verbose, ids = [], False, "final"
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--emo", "--pred", "--data", "--out", "--ids") and i + 1 < len(argv):
            v = argv[i + 1]
            if a == "--emo":
                emo = v
            elif a == "--pred":
                pred_dir = v
            elif a == "--data":
                data = v
            elif a == "--ids":
                if v not in ("track", "frame", "final"):
                    print("idscore: --ids track|frame|final", file=sys.stderr)
                    return 2
                ids = v
            else:
                out_dir = v
            i += 2
            continue
        if a == "-v":
            verbose = True
        elif a.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            files.append(a)
        i += 1
    if not emo and not pred_dir:
        print("idscore: give --emo BIN or --pred DIR", file=sys.stderr)
        return 2
    if not files:
        files = sorted(glob.glob(os.path.join(root, "tests", "fixtures", "identity", "*.tsv")))
    scores = []
    print(HEADER)
    for f in files:
        name = os.path.splitext(os.path.basename(f))[0]
        try:
            with open(f, encoding="utf-8") as fh:
                gt = parse_gt(fh.read(), f)
        except (GtError, OSError, UnicodeDecodeError) as e:
            print("idscore: %s" % e, file=sys.stderr)
            return 1
        if pred_dir:
            with open(os.path.join(pred_dir, name + ".jsonl"), encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        else:
            path = (os.path.join(data, gt["clip"]) if gt["clip"] else
                    make_reel(data, gt["parts"], work, name))
            lines = run_emo(emo, path, extra)
            if out_dir:
                os.makedirs(out_dir, exist_ok=True)
                with open(os.path.join(out_dir, name + ".jsonl"), "w", encoding="utf-8") as fh:
                    fh.write("\n".join(lines) + "\n")
        s = score(gt, parse_pred(lines, ids))
        scores.append(s)
        print(row(name, s))
        if verbose and s["merge_detail"]:
            for pid, d in sorted(s["merge_detail"].items()):
                print("    merge: id %d = %s" % (pid, ", ".join("%s x%d" % kv for kv in
                                                                sorted(d.items()))))
        sys.stdout.flush()
    print(row("**all**", total(scores)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
