#!/usr/bin/env python3
"""asd_windows.py: how LR-ASD's scores depend on the windowing, and which checkpoint does better, on
the labelled clips of ../shared/data/av (an experiment for src/av/asd.c's stream; its numbers are
in the README). Upstream's PyTorch model stands in for emo's C one (tests/test_asd.c: they agree
within 3e-6), imported from a checkout outside emo's tree, like tools/lr_asd_ref.py.

  /usr/bin/python3 dev/asd_windows.py --upstream DIR --psf DIR --weights DIR --emo build/emo

Per clip: face tracks from `emo video` (boxes), upstream's crop (median filter over 13 frames,
pad 110, 224x224, central 112x112), the track's audio at 16 kHz, python_speech_features' MFCC;
then per track the scores of
  whole      the whole track at once (upstream's train/eval on AVA);
  multi      (with --multi) the mean over windows tiling the track of 1, 2, 3, 4, 5 and 6 s
             (Columbia_test.py);
  tile D     windows of D s tiling the track (one of multi's terms);
  slide W/H  emo's stream: windows of W s every H s, each frame scored by the window where it is
             most central.
Frame labels: a face is speaking when the clip's .speakers.tsv has its panel or person speaking at
the frame's time; tracks are assigned to LEFT/RIGHT by their mean box centre. Printed per scheme
and checkpoint: accuracy and F1 at score >= 0 (upstream's threshold), average precision, and the
mean absolute difference and sign agreement with `whole`. The windowing schemes run for the
TalkSet checkpoint; AVA gets whole and slide4/2. --clips picks clips by substring. On this
2-core machine under load one clip took about 20 minutes.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")

# clip, labelled intervals per side, the time range to score (None: all)
CLIPS = {
    "split_screen/interview_overlap.mp4": {
        "LEFT": [(0.0, 9.6), (13.4, 16.6)], "RIGHT": [(0.0, 16.6)], "range": (0.0, 17.5)},
    "split_screen/debate_interview4.mp4": {
        "LEFT": [(0.0, 1.9), (3.0, 6.0), (7.0, 10.44)], "RIGHT": [(0.0, 0.6), (2.0, 5.0), (6.5, 10.44)],
        "range": (2.0, 10.44)},
    "scenes/drama_two_shot.mp4": {
        "RIGHT": [(0.0, 0.7), (1.0, 3.2), (5.5, 6.2), (7.5, 8.7), (9.0, 9.7), (11.0, 12.7), (13.0, 13.7),
                  (14.5, 14.8)],
        "LEFT": [(3.5, 5.2), (6.5, 7.2), (10.0, 10.7), (14.0, 14.3), (15.0, 16.2), (16.5, 17.7), (18.0, 19.2)],
        "range": (0.0, 19.4)},
}


def tracks_from_emo(emo, clip):
    out = subprocess.run([emo, "video", "--no-voice", "--expression", "none", "--fps", "25", clip],
                         check=True, capture_output=True, text=True).stdout
    tr, width = {}, None
    for line in out.splitlines():
        r = json.loads(line)
        if r.get("type") != "frame":
            continue
        for f in r["faces"]:
            x, y, w, h = f["box"]
            tr.setdefault(f["track_id"], []).append((r["frame"], x, y, x + w, y + h))
    return tr


def decode(clip):
    import cv2
    cap = cv2.VideoCapture(clip)
    frames = []
    while True:
        ok, im = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         check=True, capture_output=True).stdout
    return frames, np.frombuffer(raw, "<i2")


def crops_of(frames, track):
    import cv2
    from scipy import signal
    fr = [t[0] for t in track]
    s = signal.medfilt([max(t[4] - t[2], t[3] - t[1]) / 2 for t in track], 13)
    y = signal.medfilt([(t[2] + t[4]) / 2 for t in track], 13)
    x = signal.medfilt([(t[1] + t[3]) / 2 for t in track], 13)
    out = []
    for k, f in enumerate(fr):
        bs = s[k]
        bsi = int(bs * 1.8)
        img = np.pad(frames[f], ((bsi, bsi), (bsi, bsi)), "constant", constant_values=110)
        my, mx = y[k] + bsi, x[k] + bsi
        face = img[int(my - bs):int(my + bs * 1.8), int(mx - bs * 1.4):int(mx + bs * 1.4)]
        out.append(cv2.resize(face, (224, 224))[56:168, 56:168])
    return np.stack(out)


class Net:
    def __init__(self, upstream, path):
        import torch
        sys.path.insert(0, upstream)
        from model.Model import ASD_Model
        from loss import lossAV
        sd = torch.load(path, map_location="cpu")
        self.m, self.h = ASD_Model(), lossAV()
        self.m.load_state_dict({k[6:]: v for k, v in sd.items() if k.startswith("model.")})
        self.h.load_state_dict({k[7:]: v for k, v in sd.items() if k.startswith("lossAV.")})
        self.m.eval()
        self.h.eval()
        self.cache = {}

    def __call__(self, key, crops, mfcc, a, b):
        """logit of speaking for ticks [a, b) of the track scored as one window"""
        import torch
        if (key, a, b) in self.cache:
            return self.cache[(key, a, b)]
        with torch.no_grad():
            ea = self.m.forward_audio_frontend(torch.tensor(mfcc[4 * a:4 * b], dtype=torch.float32)[None])
            ev = self.m.forward_visual_frontend(torch.tensor(crops[a:b], dtype=torch.float32)[None])
            out = self.h.FC(self.m.forward_audio_visual_backend(ea, ev))[:, 1].numpy()
        self.cache[(key, a, b)] = out
        return out


def tile(net, key, crops, mfcc, n, d):
    return np.concatenate([net(key, crops, mfcc, a, min(n, a + d)) for a in range(0, n, d)])


def slide(net, key, crops, mfcc, n, W, H):
    if n <= W:
        return net(key, crops, mfcc, 0, n)
    out = np.full(n, np.nan)
    owned, ws = 0, 0
    while ws + W <= n and not (ws + W == n):
        s = net(key, crops, mfcc, ws, ws + W)
        lo = 0 if ws == 0 else ws + (W - H) // 2
        hi = ws + (W - H) // 2 + H
        lo = max(lo, owned)
        out[lo:hi] = s[lo - ws:hi - ws]
        owned, ws = hi, ws + H
    if owned < n:
        ws = max(0, n - W)
        s = net(key, crops, mfcc, ws, n)
        out[owned:n] = s[owned - ws:]
    return out


def ap(scores, labels):
    o = np.argsort(-scores)
    l = labels[o]
    tp = np.cumsum(l)
    prec = tp / np.arange(1, len(l) + 1)
    return float((prec * l).sum() / max(1, l.sum()))


def main():
    ap_ = argparse.ArgumentParser()
    ap_.add_argument("--upstream", required=True)
    ap_.add_argument("--psf", required=True)
    ap_.add_argument("--weights", required=True)
    ap_.add_argument("--emo", required=True)
    ap_.add_argument("--clips", default="", help="comma-separated substrings of the clips to run")
    ap_.add_argument("--multi", action="store_true", help="also upstream's 6-duration average (slow)")
    args = ap_.parse_args()
    sys.path.insert(0, args.psf)
    import python_speech_features
    nets = {"talkset": Net(args.upstream, os.path.join(args.weights, "finetuning_TalkSet.model")),
            "ava": Net(args.upstream, os.path.join(args.weights, "pretrain_AVA.model"))}
    schemes = ["whole", "multi", "tile2", "tile4", "slide2/1", "slide4/2"]
    only = set(args.clips.split(",")) if args.clips else None
    multi = args.multi
    res = {(w, s): ([], []) for w in nets for s in schemes}
    diff = {(w, s): [] for w in nets for s in schemes}
    for clip, lab in CLIPS.items():
        if only and not any(o in clip for o in only):
            continue
        path = os.path.join(DATA, "av", clip)
        frames, audio = decode(path)
        print("%s decoded" % clip, file=sys.stderr, flush=True)
        width = frames[0].shape[1]
        tracks = tracks_from_emo(args.emo, path)
        for tid, tr in tracks.items():
            if len(tr) < 25:
                continue
            fr = [t[0] for t in tr]
            if fr != list(range(fr[0], fr[0] + len(fr))):  # keep the first contiguous run
                cut = next(i for i in range(1, len(fr)) if fr[i] != fr[i - 1] + 1)
                tr = tr[:cut]
                fr = fr[:cut]
            if len(tr) < 25:
                continue
            print("%s track %d: %d frames" % (clip, tid, len(tr)), file=sys.stderr, flush=True)
            side = "LEFT" if np.mean([(t[1] + t[3]) / 2 for t in tr]) < width / 2 else "RIGHT"
            crops = crops_of(frames, tr)
            a0 = fr[0] * 640
            seg = audio[a0:a0 + len(fr) * 640 + 240]
            mfcc = python_speech_features.mfcc(seg, 16000, numcep=13, winlen=0.025, winstep=0.010)
            n = min(len(fr), len(mfcc) // 4)
            t = np.array(fr[:n]) / 25.0
            lbl = np.array([any(a <= x < b for a, b in lab[side]) for x in t], float)
            keep = (t >= lab["range"][0]) & (t < lab["range"][1])
            key = (clip, tid)
            for wname, net in nets.items():
                sc = {"whole": net(key, crops, mfcc, 0, n)}
                sc["slide4/2"] = slide(net, key, crops, mfcc, n, 100, 50)
                if wname == "talkset":  # the windowing study on the default checkpoint only
                    if multi:
                        sc["multi"] = np.mean([tile(net, key, crops, mfcc, n, d * 25) for d in range(1, 7)],
                                              axis=0)
                    for d in (2, 4):
                        sc["tile%d" % d] = tile(net, key, crops, mfcc, n, d * 25)
                    sc["slide2/1"] = slide(net, key, crops, mfcc, n, 50, 25)
                print("  %s done" % wname, file=sys.stderr, flush=True)
                for s in schemes:
                    if s not in sc:
                        continue
                    res[(wname, s)][0].append(sc[s][keep])
                    res[(wname, s)][1].append(lbl[keep])
                    diff[(wname, s)].append(np.stack([sc[s][keep], sc["whole"][keep]]))
            print("%s track %d (%s): %d frames, %.0f%% labelled speaking" %
                  (clip, tid, side, keep.sum(), 100 * lbl[keep].mean()), file=sys.stderr)
    print("| checkpoint | scoring | frames | accuracy | F1 | AP | mean abs diff to whole | same sign as whole |")
    print("|---|---|---|---|---|---|---|---|")
    for (wname, s), (sc, lb) in res.items():
        if not sc:
            continue
        sc, lb = np.concatenate(sc), np.concatenate(lb)
        pr = sc >= 0
        tp = (pr & (lb > 0)).sum()
        f1 = 2 * tp / max(1, pr.sum() + (lb > 0).sum())
        d = np.concatenate(diff[(wname, s)], axis=1)
        print("| %s | %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f |" %
              (wname, s, len(sc), (pr == (lb > 0)).mean(), f1, ap(sc, lb), np.abs(d[0] - d[1]).mean(),
               ((d[0] >= 0) == (d[1] >= 0)).mean()))


if __name__ == "__main__":
    main()
