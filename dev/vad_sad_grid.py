#!/usr/bin/env python3
"""vad_sad_grid.py: speech-activity error (miss + false alarm under der.py's collar and UEM,
overlap excess excluded) of Silero VAD segmentations (audio/vad.c's vad_segments, re-implemented
here) for a grid of thresholds / min-silence / padding, best 25 first. Input: the per-window
speech probabilities of each file, one per line (512-sample windows), in DIR/<file>.txt; they
come from a development build whose find_speech() (pipeline/analyze_audio.c) writes probs[]
to a file before segmenting. This is how analyze_audio.c's diarization VAD setting was chosen
(on trn00..04 only):
  python3 dev/vad_sad_grid.py PROBS_DIR ../shared/data/diarization/ami/debug.train.rttm \
      ../shared/data/diarization/ami/debug.train.uem trn00 trn01 trn02 trn03 trn04"""
import itertools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import der  # noqa: E402

W, SR = 512, 16000


def segments(probs, n, thr, neg, min_speech_ms, min_sil_ms, pad_ms):
    min_speech = SR * min_speech_ms / 1000.0
    min_sil = SR * min_sil_ms / 1000.0
    pad = int(SR * pad_ms / 1000.0)
    out, trig, start, temp_end = [], False, 0, 0
    for i, p in enumerate(probs):
        pos = W * i
        if p >= thr and temp_end:
            temp_end = 0
        if p >= thr and not trig:
            trig, start = True, pos
            continue
        if p < neg and trig:
            if not temp_end:
                temp_end = pos
            if pos - temp_end < min_sil:
                continue
            if temp_end - start > min_speech:
                out.append([start, temp_end])
            temp_end, trig = 0, False
    if trig and n - start > min_speech:
        out.append([start, n])
    for i in range(len(out)):
        if i == 0:
            out[i][0] = max(0, out[i][0] - pad)
        if i != len(out) - 1:
            gap = out[i + 1][0] - out[i][1]
            if gap < 2 * pad:
                out[i][1] += gap // 2
                out[i + 1][0] = max(0, out[i + 1][0] - gap // 2)
            else:
                out[i][1] = min(n, out[i][1] + pad)
                out[i + 1][0] = max(0, out[i + 1][0] - pad)
        else:
            out[i][1] = min(n, out[i][1] + pad)
    return [(s / SR, e / SR) for s, e in out]


def main():
    d, refp, uemp, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    ref = der.read_rttm(refp)
    uem = der.read_uem(uemp)
    data = {}
    for f in files:
        probs = [float(x) for x in open(os.path.join(d, f + ".txt"))]
        n = int(uem[f][-1][1] * SR)
        ru = der.merge([x for v in ref.get(f, {}).values() for x in v])
        ovl = der.score_file(ref.get(f, {}), {"H": ru}, uem[f], 0.25)["miss"]
        data[f] = (probs, n, ovl)
    res = []
    for thr, negf, msil, pad in itertools.product([0.5, 0.35, 0.2, 0.1], [0.5, 0.7],
                                                   [100, 300, 600, 1000],
                                                   [30, 100, 200, 300, 400, 500, 700]):
        neg = thr * negf
        tot = {"speech": 0, "miss": 0, "fa": 0}
        for f, (probs, n, ovl) in data.items():
            segs = der.merge(segments(probs, n, thr, neg, 250, msil, pad))
            r = der.score_file(ref.get(f, {}), {"H": segs}, uem[f], 0.25)
            tot["speech"] += r["speech"]
            tot["miss"] += r["miss"] - ovl
            tot["fa"] += r["fa"]
        sp = tot["speech"]
        res.append((100 * (tot["miss"] + tot["fa"]) / sp, 100 * tot["miss"] / sp, 100 * tot["fa"] / sp,
                    thr, neg, msil, pad))
    res.sort()
    for r in res[:25]:
        print("SAD err %5.2f (miss %5.2f FA %5.2f)  thr %.2f neg %.3f min_sil %4d pad %3d" % r)


if __name__ == "__main__":
    main()
