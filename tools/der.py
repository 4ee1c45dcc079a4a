#!/usr/bin/env python3
"""der.py: diarization error rate of a hypothesis RTTM against a reference RTTM.

What it does: the NIST RT scoring rule as implemented by md-eval-22.pl and used by dscore and
pyannote.metrics (DER = (missed + false alarm + speaker confusion) / scored reference speech),
with
  - a forgiveness collar (default 0.25 s) on each side of every reference segment boundary,
    removed from scoring for both reference and hypothesis (md-eval -c 0.25);
  - overlapped speech scored (md-eval default, no -1): in a region where R reference and H
    hypothesis speakers are active, missed = max(0, R-H), false alarm = max(0, H-R),
    confusion = min(R, H) - (number of active reference speakers whose mapped hypothesis
    speaker is also active); total speech counts R per region;
  - an optimal one-to-one speaker mapping per file that maximises the overlap time between
    mapped speakers (Hungarian algorithm, tools/assignment.py: stdlib only);
  - an optional UEM file (lines `file channel start end`) limiting the scored time; without
    it the scored time of a file is from 0 to the end of its last reference or hypothesis turn.
Same-speaker turns that overlap or touch are merged first (as md-eval does).
What it leaves out: md-eval's word-level and SAD-only modes; per-channel scoring (the channel
field is ignored).

Usage: python3 tools/der.py [--collar 0.25] [--uem FILE] [--file ID ...] REF.rttm HYP.rttm
Prints one line per file and a TOTAL line:
  <file> DER=12.34 MISS=1.23 FA=2.34 CONF=8.77 SPEECH=25.100 (percent; speech in seconds)
Exit status 0, or 2 on a malformed input (with a message naming the file and line).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from assignment import hungarian_max  # noqa: E402  (shared with idscore.py)


class InputError(Exception):
    pass


def read_fields(path):
    """Yields (line number, fields) for each line of path that is neither blank nor a comment."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        raise InputError("%s: %s" % (path, e))
    for ln, line in enumerate(lines, 1):
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            yield ln, fields


def read_rttm(path):
    """Returns {file_id: {speaker: [(start, end), ...]}} from SPEAKER lines."""
    out = {}
    for ln, fields in read_fields(path):
        if fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise InputError("%s:%d: SPEAKER line has %d fields, need >= 8" % (path, ln, len(fields)))
        try:
            start = float(fields[3])
            dur = float(fields[4])
        except ValueError:
            raise InputError("%s:%d: bad start/duration %r %r" % (path, ln, fields[3], fields[4]))
        if not (start == start and dur == dur) or start < 0 or dur < 0 or start + dur > 1e7:
            raise InputError("%s:%d: start/duration out of range" % (path, ln))
        if dur == 0:
            continue
        out.setdefault(fields[1], {}).setdefault(fields[7], []).append((start, start + dur))
    for spk in out.values():
        for name, segs in spk.items():
            spk[name] = merge(segs)
    return out


def read_uem(path):
    """Returns {file_id: [(start, end), ...]}."""
    out = {}
    for ln, fields in read_fields(path):
        if len(fields) < 4:
            raise InputError("%s:%d: UEM line needs 4 fields" % (path, ln))
        try:
            s, e = float(fields[2]), float(fields[3])
        except ValueError:
            raise InputError("%s:%d: bad start/end" % (path, ln))
        if e > s:
            out.setdefault(fields[0], []).append((s, e))
    return {k: merge(v) for k, v in out.items()}


def merge(segs):
    """Sorted union of intervals (touching intervals join)."""
    out = []
    for s, e in sorted(segs):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def subtract(segs, holes):
    """Intervals of segs not covered by holes (both sorted unions)."""
    out = []
    j = 0
    for s, e in segs:
        cur = s
        while j < len(holes) and holes[j][1] <= cur:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] < e:
            hs, he = holes[k]
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
            k += 1
        if cur < e:
            out.append((cur, e))
    return out


def intersect(a, b):
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def score_file(ref, hyp, uem, collar):
    """ref, hyp: {speaker: [(s, e)]}; uem: [(s, e)] or None. Returns dict of seconds."""
    if uem is None:
        end = 0.0
        for d in (ref, hyp):
            for segs in d.values():
                for s, e in segs:
                    end = max(end, e)
        uem = [(0.0, end)] if end > 0 else []
    # scored region: UEM minus collars around every reference boundary
    holes = []
    if collar > 0:
        for segs in ref.values():
            for s, e in segs:
                holes.append((s - collar, s + collar))
                holes.append((e - collar, e + collar))
    scored = subtract(uem, merge(holes))
    refs = {k: intersect(v, scored) for k, v in ref.items()}
    hyps = {k: intersect(v, scored) for k, v in hyp.items()}
    rnames = sorted(refs)
    hnames = sorted(hyps)
    # optimal mapping on overlap time within the scored region
    w = [[sum(e - s for s, e in intersect(refs[r], hyps[h])) for h in hnames] for r in rnames]
    mapping = hungarian_max(w)
    # sweep over all boundaries
    events = []
    for idx, r in enumerate(rnames):
        for s, e in refs[r]:
            events.append((s, 0, idx, 1))
            events.append((e, 0, idx, -1))
    for idx, h in enumerate(hnames):
        for s, e in hyps[h]:
            events.append((s, 1, idx, 1))
            events.append((e, 1, idx, -1))
    events.sort(key=lambda x: x[0])
    ract = [0] * len(rnames)
    hact = [0] * len(hnames)
    total = miss = fa = conf = 0.0
    prev = None
    i = 0
    while i < len(events):
        t = events[i][0]
        if prev is not None and t > prev:
            d = t - prev
            nr = sum(1 for a in ract if a > 0)
            nh = sum(1 for a in hact if a > 0)
            ncorr = sum(1 for ri, a in enumerate(ract)
                        if a > 0 and ri in mapping and hact[mapping[ri]] > 0)
            total += d * nr
            miss += d * max(0, nr - nh)
            fa += d * max(0, nh - nr)
            conf += d * (min(nr, nh) - ncorr)
        while i < len(events) and events[i][0] == t:
            _, kind, idx, delta = events[i]
            if kind == 0:
                ract[idx] += delta
            else:
                hact[idx] += delta
            i += 1
        prev = t
    return {"speech": total, "miss": miss, "fa": fa, "conf": conf}


def fmt(name, r):
    sp = r["speech"]
    pct = (lambda x: 100.0 * x / sp) if sp > 0 else (lambda x: float("inf") if x > 0 else 0.0)
    return "%s DER=%.2f MISS=%.2f FA=%.2f CONF=%.2f SPEECH=%.3f" % (
        name, pct(r["miss"] + r["fa"] + r["conf"]), pct(r["miss"]), pct(r["fa"]), pct(r["conf"]), sp)


def main(argv):
    ap = argparse.ArgumentParser(description="Diarization error rate (md-eval rules).")
    ap.add_argument("--collar", type=float, default=0.25)
    ap.add_argument("--uem", default=None)
    ap.add_argument("--file", action="append", default=None,
                    help="score only this file id (repeatable); default: all files")
    ap.add_argument("ref")
    ap.add_argument("hyp")
    a = ap.parse_args(argv)
    try:
        ref = read_rttm(a.ref)
        hyp = read_rttm(a.hyp)
        uem = read_uem(a.uem) if a.uem else None
    except InputError as e:
        print("der.py: %s" % e, file=sys.stderr)
        return 2
    if a.collar < 0:
        print("der.py: --collar must be >= 0", file=sys.stderr)
        return 2
    files = a.file if a.file else sorted(set(ref) | set(hyp) | (set(uem) if uem else set()))
    tot = {"speech": 0.0, "miss": 0.0, "fa": 0.0, "conf": 0.0}
    for fid in files:
        u = None
        if uem is not None:
            u = uem.get(fid, [])
        r = score_file(ref.get(fid, {}), hyp.get(fid, {}), u, a.collar)
        print(fmt(fid, r))
        for k in tot:
            tot[k] += r[k]
    print(fmt("TOTAL", tot))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
