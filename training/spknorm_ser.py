"""spknorm_ser.py: does per-speaker normalisation of the network's *input* help a shipped
speech-emotion network (emo_ser_v1) on speakers it never heard, with statistics from few and
unbalanced clips of that speaker, as emo's runtime would have them (the diarized speaker's
segments)? No retraining: the training-set per-band statistics (norm.mean/norm.std of the
weights file) are replaced, per speaker, by that speaker's own (labels unused).

Modes (--modes, comma-separated):
  global        the network as shipped (training-set statistics)
  mean          per-band mean of the speaker's frames, training-set spread kept
  meanstd       per-band mean and spread of the speaker's frames
Statistics come from (--sources, comma-separated):
  all           every clip of the speaker (all emotions equally: an upper bound)
  rK            K clips drawn at random (e.g. r10)
  eE.K          K clips drawn from E randomly chosen emotions only (e.g. e3.10: an unbalanced
                speaker who shows 3 emotions), the scored clip's statistics never forced in
Random sources are drawn --draws times per speaker (seeded); their UA is the mean over draws.

Honest use: choose mode and source on the validation speakers (RAVDESS actors 15-16 and the
EMOVO training speakers f2 f3 m2 m3, all unheard by v1), then run once with --test for the
test speakers (RAVDESS 17-20, EmoDB 03+08, EMOVO f1+m1) and only the chosen pair.
Usage (repository root):
  /usr/bin/python3 training/spknorm_ser.py --out /tmp/ser_voice/spkin
  /usr/bin/python3 training/spknorm_ser.py --out /tmp/ser_voice/spkin --test --modes mean \
      --sources r10
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
import eval_ser as E  # noqa: E402
import ser_common as S  # noqa: E402

VAL = {("ravdess", 15), ("ravdess", 16), ("emovo", "emovo_f2"), ("emovo", "emovo_f3"),
       ("emovo", "emovo_m2"), ("emovo", "emovo_m3")}


def pick_clips(source, idx, labels, rng):
    """-> indices (subset of idx) whose frames give the speaker's statistics."""
    if source == "all":
        return list(idx)
    if source.startswith("r"):
        k = int(source[1:])
        return list(rng.choice(idx, min(k, len(idx)), replace=False))
    if source.startswith("e"):
        ne, k = (int(v) for v in source[1:].split("."))
        emos = sorted({labels[i] for i in idx})
        keep = set(rng.choice(emos, min(ne, len(emos)), replace=False).tolist())
        pool = [i for i in idx if labels[i] in keep]
        return list(rng.choice(pool, min(k, len(pool)), replace=False))
    raise ValueError("unknown source " + source)


def speaker_stats(raw, pick):
    fr = np.concatenate([raw[i] for i in pick])
    return fr.mean(0), fr.std(0) + 1e-5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/ser")
    ap.add_argument("--weights", default="models/ser/emo_ser_v1.bin")
    ap.add_argument("--out", default="/tmp/ser_voice/spkin")
    ap.add_argument("--modes", default="global,mean,meanstd")
    ap.add_argument("--sources", default="all,r20,r10,r5,e3.10,e2.5")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test", action="store_true", help="score the test speakers instead")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.process_time()
    items = S.index_corpora(args.data, ("ravdess", "emodb", "emovo"))
    if args.test:
        use = [i for i, it in enumerate(items) if it["split"] == "test"]
    else:
        use = [i for i, it in enumerate(items) if (it["corpus"], it["speaker"]) in VAL]
    cache = os.path.join(args.out, "raw_%s.npz" % ("test" if args.test else "val"))
    if os.path.exists(cache):
        d = np.load(cache, allow_pickle=True)
        raw = dict(zip(d["idx"].tolist(), d["raw"]))
    else:
        raw = {}
        for i in use:
            x, sr = sf.read(items[i]["path"], dtype="float32")
            assert sr == 16000, items[i]["path"]
            raw[i] = S.clip_features(x.mean(axis=1) if x.ndim > 1 else x)
        np.savez(cache, idx=np.array(use), raw=np.array([raw[i] for i in use], dtype=object))
    print("features %.0f CPU s" % (time.process_time() - t0), flush=True)
    model, nm, ns = E.load_member(args.weights)
    labels = np.array([it["label"] for it in items])
    groups = {}
    for i in use:
        groups.setdefault((items[i]["corpus"], items[i]["speaker"]), []).append(i)
    corpora = sorted({c for c, _ in groups})
    res = {}
    for mode in args.modes.split(","):
        for source in (["all"] if mode == "global" else args.sources.split(",")):
            draws = 1 if mode == "global" or source == "all" else args.draws
            rng = np.random.default_rng(args.seed)
            per = {c: [] for c in corpora}
            for _ in range(draws):
                lo = {}
                for (c, sp), idx in groups.items():
                    if mode == "global":
                        m, s = nm, ns
                    else:
                        m, s = speaker_stats(raw, pick_clips(source, idx, labels, rng))
                        if mode == "mean":
                            s = ns
                    for i in idx:
                        lo[i] = E.clip_logits(model, raw[i], m, s)
                for c in corpora:
                    idx = [i for i in use if items[i]["corpus"] == c]
                    per[c].append(E.score(np.stack([lo[i] for i in idx]), labels[idx])["ua"])
            key = "%s/%s" % (mode, source)
            res[key] = {c: dict(ua=float(np.mean(v)), ua_min=float(np.min(v)),
                                ua_max=float(np.max(v))) for c, v in per.items()}
            res[key]["mean"] = float(np.mean([res[key][c]["ua"] for c in corpora]))
            print("%-16s " % key + "  ".join(
                "%s UA %.1f%% (%.1f-%.1f)" % (c, 100 * res[key][c]["ua"], 100 * min(per[c]),
                                              100 * max(per[c])) for c in corpora)
                + "  mean %.1f%%" % (100 * res[key]["mean"]), flush=True)
    out = dict(results=res, draws=args.draws, seed=args.seed, test=args.test,
               speakers={"%s/%s" % g: len(v) for g, v in groups.items()},
               cpu_seconds=time.process_time() - t0, torch=torch.__version__,
               command=" ".join(["/usr/bin/python3"] + sys.argv))
    with open(os.path.join(args.out, "results_%s.json" % ("test" if args.test else "val")),
              "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
