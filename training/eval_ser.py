"""eval_ser.py: scores speech-emotion networks and their ensembles (logits averaged, each member
with its own normalization: the way src/audio/ser.c runs a version-2 weights file) on the
validation speakers (RAVDESS actors 15-16), and, with --test, once on the held-out test speakers
(RAVDESS 17-20, EmoDB 03+08, EMOVO f1+m1).

A member is a training run's directory (train_ser.py's OUT/ser_best.pt, batch norms already
re-estimated) or an emo weights file of version 1 (models/ser/emo_ser_v1.bin). Each --ensemble
is a comma-separated list of members; every member alone is scored too.

Honest use: compare members and ensembles by validation alone, pick one, then run with --test
and that one --ensemble (the figures go to --out as JSON for training/export.py).
Usage (repository root):
  /usr/bin/python3 training/eval_ser.py --ensemble /tmp/ser/scratch1,models/ser/emo_ser_v1.bin
  /usr/bin/python3 training/eval_ser.py --ensemble A,B --test --out /tmp/ser/final.json
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ser_common as S  # noqa: E402
import train_ser as T  # noqa: E402


def load_member(spec):
    """-> (eval-mode model, norm_mean, norm_std, description)."""
    model = S.make_model()
    if os.path.isdir(spec):
        ck = torch.load(os.path.join(spec, "ser_best.pt"))
        assert not ck.get("speaker_norm"), spec + ": trained speaker-normalised (--speaker-norm)" \
            ", which neither this tool nor emo's runtime applies"
        model.load_state_dict(ck["state"])
        nm, ns = np.asarray(ck["norm_mean"]), np.asarray(ck["norm_std"])
    else:
        st, nm, ns = T.load_bin(spec)
        model.load_state_dict(st)
    model.eval()
    return model, nm, ns


def clip_logits(model, raw, nm, ns):
    """raw: unnormalized clip features (F, 64) -> mean logits over chunks (8,) float64."""
    x = (raw - nm[None, :]) / ns[None, :]
    ch = torch.from_numpy(S.clip_chunks(x).astype(np.float32))[:, None]
    with torch.no_grad():
        return model(ch).double().mean(0).numpy()


def score(logits, labels):
    preds = np.argmax(logits, axis=1)
    cm = np.zeros((8, 8), dtype=int)
    for t, p in zip(labels, preds):
        cm[t, p] += 1
    present = [k for k in range(8) if cm[k].sum() > 0]
    per = {S.LABELS[k]: float(cm[k, k] / cm[k].sum()) for k in present}
    return dict(ua=float(np.mean(list(per.values()))), wa=float((preds == labels).mean()),
                per_class=per, confusion=cm.tolist(), n=int(len(labels)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/ser")
    ap.add_argument("--ensemble", action="append", required=True,
                    help="comma-separated members (run directories or version-1 .bin files)")
    ap.add_argument("--test", action="store_true", help="also score the test speakers")
    ap.add_argument("--out", default="", help="JSON of the scores (with --test: of the first "
                                              "--ensemble, for export.py)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.process_time()
    items = S.index_corpora(args.data, ("ravdess", "emodb", "emovo"))
    sets = {"val": [i for i, it in enumerate(items) if it["split"] == "val"]}
    if args.test:
        for c in ("ravdess", "emodb", "emovo"):
            sets["test_" + c] = [i for i, it in enumerate(items)
                                 if it["split"] == "test" and it["corpus"] == c]
    need = sorted({i for v in sets.values() for i in v})
    raw = {}
    for i in need:
        x, sr = sf.read(items[i]["path"], dtype="float32")
        if x.ndim > 1:
            x = x.mean(axis=1)
        assert sr == 16000, items[i]["path"]
        raw[i] = S.clip_features(x)
    y = np.array([it["label"] for it in items])
    members = sorted({m for e in args.ensemble for m in e.split(",")})
    logits = {}
    for m in members:
        model, nm, ns = load_member(m)
        logits[m] = {i: clip_logits(model, raw[i], nm, ns) for i in need}
    out = dict(members={}, ensembles=[])
    for m in members:
        r = score(np.stack([logits[m][i] for i in sets["val"]]), y[sets["val"]])
        out["members"][m] = dict(val=r)
        print("member %-40s val UA %.3f WA %.3f" % (m, r["ua"], r["wa"]))
    for e in args.ensemble:
        ms = e.split(",")
        res = dict(members=ms)
        for k, idx in sets.items():
            lo = np.stack([np.mean([logits[m][i] for m in ms], axis=0) for i in idx])
            res[k] = score(lo, y[idx])
        out["ensembles"].append(res)
        print("ensemble of %d (%s): " % (len(ms), e) + ", ".join(
            "%s UA %.3f WA %.3f" % (k, res[k]["ua"], res[k]["wa"]) for k in sets))
        if args.test:
            for k in sets:
                print(" ", k, {c: round(v, 3) for c, v in res[k]["per_class"].items()})
    out["cpu_seconds"] = time.process_time() - t0
    out["command"] = " ".join(["/usr/bin/python3"] + sys.argv)
    out["torch"] = torch.__version__
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
