#!/usr/bin/env python3
"""dia_breakdown.py: where a diarization's error comes from, per file, under der.py's rules
(same collar and UEM). Splits MISS into speech the hypothesis left unlabelled (speech
activity miss) and the extra speakers of overlapped reference speech (a one-speaker-at-a-time
hypothesis cannot cover them), and reports FA and confusion as der.py does.
Usage: python3 dev/dia_breakdown.py [--uem UEM] REF HYP"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import der  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uem")
    ap.add_argument("--collar", type=float, default=0.25)
    ap.add_argument("ref")
    ap.add_argument("hyp")
    a = ap.parse_args()
    ref = der.read_rttm(a.ref)
    hyp = der.read_rttm(a.hyp)
    uem = der.read_uem(a.uem) if a.uem else None
    files = sorted(set(ref) | (set(uem) if uem else set()))
    print("%-7s %6s %6s | %6s %6s %6s %6s | %6s %6s" % ("file", "speech", "DER%", "sadMs%", "ovlMs%",
                                                           "FA%", "conf%", "ovl_s", "nspk"))
    tot = dict(speech=0, miss=0, fa=0, conf=0, sadmiss=0, ovl=0)
    for f in files:
        u = uem.get(f, []) if uem is not None else None
        r = der.score_file(ref.get(f, {}), hyp.get(f, {}), u, a.collar)
        # speech activity: union of hypothesis speakers as one speaker; reference overlap kept
        hu = {"H": der.merge([s for v in hyp.get(f, {}).values() for s in v])}
        s = der.score_file(ref.get(f, {}), hu, u, a.collar)
        # a single-speaker-hypothesis covering everything: its miss is the overlap excess
        ru = der.merge([x for v in ref.get(f, {}).values() for x in v])
        o = der.score_file(ref.get(f, {}), {"H": ru}, u, a.collar)
        ovl = o["miss"]
        sadmiss = s["miss"] - ovl  # hypothesis-union miss beyond the overlap excess (approx.)
        sp = r["speech"] or 1
        print("%-7s %6.1f %6.2f | %6.2f %6.2f %6.2f %6.2f | %6.1f %6d" % (
            f, r["speech"], 100 * (r["miss"] + r["fa"] + r["conf"]) / sp, 100 * sadmiss / sp,
            100 * (r["miss"] - sadmiss) / sp, 100 * r["fa"] / sp, 100 * r["conf"] / sp, ovl,
            len(hyp.get(f, {}))))
        for k, v in (("speech", r["speech"]), ("miss", r["miss"]), ("fa", r["fa"]),
                     ("conf", r["conf"]), ("sadmiss", sadmiss), ("ovl", ovl)):
            tot[k] += v
    sp = tot["speech"] or 1
    print("%-7s %6.1f %6.2f | %6.2f %6.2f %6.2f %6.2f | %6.1f" % (
        "TOTAL", tot["speech"], 100 * (tot["miss"] + tot["fa"] + tot["conf"]) / sp,
        100 * tot["sadmiss"] / sp, 100 * (tot["miss"] - tot["sadmiss"]) / sp, 100 * tot["fa"] / sp,
        100 * tot["conf"] / sp, tot["ovl"]))


if __name__ == "__main__":
    main()
