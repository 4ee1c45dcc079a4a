"""head_ser.py: retrains only the final layer (fc, 128 -> 8) of the shipped speech-emotion
network on every shared corpus, keeping its convolutions (and so its features) as they are, and
chooses the recipe by grouped cross-validation over speakers, never by the test speakers.

Why: from-scratch retraining (train_ser.py) and a full fine-tune both fell on the held-out
RAVDESS actors; the convolutions of emo_ser_v1 generalise better than any retrained set, so
this tool asks whether a new read-out of the same pooled features, fitted on RAVDESS actors
1-16, EmoDB and EMOVO (test speakers out), gains on speakers never heard.

Exactness: the network averages logits over chunks, and fc is linear, so a clip's logits are
fc(mean over chunks of the pooled 128 features); the head is fitted on exactly that mean, and
the exported network (v1's convolutions + the new fc, a version-1 weights file) gives the same
probabilities as this script.

Data: each clip's clean embedding plus --n-aug augmented ones (train_ser.augment: gain, noise,
speed), all computed once with v1's normalisation. Head: multinomial logistic regression,
class-weighted cross-entropy, initialised at v1's fc, penalised by lam * ||W - W_v1||^2 (pulled
toward the shipped read-out; lam = inf is v1 itself), full-batch L-BFGS.

Cross-validation (grouped): folds of speakers: RAVDESS actor pairs (1-2 .. 15-16), EmoDB
speaker pairs, each EMOVO training speaker; each fold's clips are scored by a head fitted on all
other folds (their augmented copies included). Scores are reported per corpus, and on the
speakers v1 never heard (RAVDESS 15-16, EMOVO f2 f3 m2 m3): on the others v1's convolutions were
trained, so their scores flatter every head alike. The choice: the grid point with the best mean
of the RAVDESS 15-16 and EMOVO UA over the unseen speakers.

--speaker-norm (an experiment: emo's runtime keeps no per-speaker state, so its heads are not
written out) standardises each speaker's pooled features over that speaker's own clips, labels
unused, before the same cross-validation; --eval-test then scores the choice on the test
speakers, which eval_ser.py cannot do for it.

Usage (repository root, 1 CPU thread):
  /usr/bin/python3 training/head_ser.py --out /tmp/ser_voice/head --n-aug 2
Writes OUT/results.json (every grid point's cross-validated scores, the choice, the command),
OUT/ser_best.pt (the chosen head fitted on all training speakers, with v1's convolutions: a run
directory for eval_ser.py and export.py; not with --speaker-norm) and the embeddings
(OUT/embeddings_aug*_seed*.npz, reused when present).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as tF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ser_common as S  # noqa: E402
import train_ser as T  # noqa: E402

UNSEEN = {("ravdess", 15), ("ravdess", 16), ("emovo", "emovo_f2"), ("emovo", "emovo_f3"),
          ("emovo", "emovo_m2"), ("emovo", "emovo_m3")}


def embed(model, raw, nm, ns):
    """raw clip features (F, 64) -> mean over chunks of the pooled layer (128,) float64."""
    x = (raw - nm[None, :]) / ns[None, :]
    ch = torch.from_numpy(S.clip_chunks(x).astype(np.float32))[:, None]
    with torch.no_grad():
        return model.features(ch).mean(dim=(2, 3)).double().mean(0).numpy()


def fold_of(it):
    if it["corpus"] == "ravdess":
        return "ravdess_%02d" % ((it["speaker"] - 1) // 2)
    if it["corpus"] == "emodb":
        return "emodb_%d" % ({"09": 0, "10": 0, "11": 1, "12": 1, "13": 2, "14": 2}[it["speaker"]])
    return it["speaker"]


def fit(E, y, w0, b0, lam, cw, bias_only=False, steps=200):
    """Class-weighted softmax regression initialised at (w0, b0) with lam*||W - w0||^2; with
    bias_only, W stays w0 and only the 8 biases move (a prior shift)."""
    X = torch.from_numpy(E)
    Y = torch.from_numpy(y)
    W = torch.nn.Parameter(w0.clone())
    b = torch.nn.Parameter(b0.clone())
    if lam == float("inf"):
        return W.detach(), b.detach()
    opt = torch.optim.LBFGS([b] if bias_only else [W, b], lr=1, max_iter=steps, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = tF.cross_entropy(X @ W.T + b, Y, weight=cw) + lam * ((W - w0) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def ua(pred, lab):
    present = sorted(set(lab.tolist()))
    return float(np.mean([np.mean(pred[lab == k] == k) for k in present]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/ser")
    ap.add_argument("--init", default="models/ser/emo_ser_v1.bin")
    ap.add_argument("--out", default="/tmp/ser_voice/head")
    ap.add_argument("--n-aug", type=int, default=2)
    ap.add_argument("--lams", default="inf,1,0.1,0.03,0.01,0.003,0.001,0")
    ap.add_argument("--bias-only", action="store_true",
                    help="refit only fc's biases (the grid is then over lam=inf and 0)")
    ap.add_argument("--speaker-norm", action="store_true",
                    help="experiment (not exportable: emo's runtime has no per-speaker state): "
                         "each speaker's pooled features standardised over that speaker's clean "
                         "clips (labels unused, test speakers by their own clips), then mapped "
                         "back to the training set's mean and spread so v1's layer still applies")
    ap.add_argument("--norm-clips", type=int, default=0,
                    help="with --speaker-norm: each speaker's statistics from this many of its "
                         "clips drawn at random (0: all), as a recording would offer fewer")
    ap.add_argument("--eval-test", action="store_true",
                    help="score the chosen head once on the test speakers (for --speaker-norm, "
                         "which eval_ser.py cannot run)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/ser/scratch1/audio_cache.npz",
                    help="train_ser.py's audio cache of the same three corpora, if present")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    items = S.index_corpora(args.data, ("ravdess", "emodb", "emovo"))
    audio = T.load_audio(items, args.cache if os.path.exists(args.cache) else "")
    st, nm, ns = T.load_bin(args.init)
    model = S.make_model()
    model.load_state_dict(st)
    model.eval()
    w0, b0 = model.fc.weight.detach().double(), model.fc.bias.detach().double()

    emb_path = os.path.join(args.out, "embeddings_aug%d_seed%d.npz" % (args.n_aug, args.seed))
    if os.path.exists(emb_path):
        d = np.load(emb_path)
        E, A, own = d["E"], d["A"], d["own"]
    else:
        E = np.stack([embed(model, S.clip_features(a), nm, ns) for a in audio])
        tr = [i for i, it in enumerate(items) if it["split"] != "test"]
        A, own = [], []
        for i in tr:
            for _ in range(args.n_aug):
                A.append(embed(model, S.clip_features(T.augment(audio[i], rng)), nm, ns))
                own.append(i)
        A, own = np.array(A).reshape(-1, E.shape[1]), np.array(own, dtype=int)
        np.savez(emb_path, E=E, A=A, own=own)
    print("embeddings ready, CPU %.0f s" % time.process_time(), flush=True)

    y = np.array([it["label"] for it in items])
    if args.speaker_norm:
        spk = np.array(["%s_%s" % (it["corpus"], it["speaker"]) for it in items])
        keep = np.array([it["split"] != "test" for it in items])
        mu_g, sd_g = E[keep].mean(0), E[keep].std(0) + 1e-6
        E, A = E.copy(), A.copy()
        for sp in sorted(set(spk)):
            m = spk == sp
            pick = np.nonzero(m)[0]
            if args.norm_clips > 0:
                pick = rng.choice(pick, min(args.norm_clips, len(pick)), replace=False)
            mu, sd = E[pick].mean(0), E[pick].std(0) + 1e-6
            ma = np.isin(own, np.nonzero(m)[0])
            E[m] = (E[m] - mu) / sd * sd_g + mu_g
            A[ma] = (A[ma] - mu) / sd * sd_g + mu_g
    folds = np.array([fold_of(it) if it["split"] != "test" else "" for it in items])
    unseen = np.array([(it["corpus"], it["speaker"]) in UNSEEN for it in items])
    corpus = np.array([it["corpus"] for it in items])
    trn = np.nonzero(folds != "")[0]
    counts = np.bincount(y[trn], minlength=8)
    cw = torch.tensor(counts.sum() / (8 * counts), dtype=torch.float64)

    def train_rows(keep):  # clip indices -> (embeddings, labels) with their augmented copies
        m = np.isin(own, keep)
        return np.concatenate([E[keep], A[m]]), np.concatenate([y[keep], y[own[m]]])

    lams = [float(v) for v in args.lams.split(",")]
    grid = []
    for lam in lams:
        pred = np.full(len(items), -1)
        for f in sorted(set(folds[trn])):
            keep = trn[folds[trn] != f]
            Xf, yf = train_rows(keep)
            W, b = fit(Xf, yf, w0, b0, lam, cw, args.bias_only)
            idx = trn[folds[trn] == f]
            pred[idx] = (torch.from_numpy(E[idx]) @ W.T + b).argmax(1).numpy()
        r = dict(lam=lam)
        for c in ("ravdess", "emodb", "emovo"):
            m = corpus[trn] == c
            r["cv_" + c] = ua(pred[trn][m], y[trn][m])
            mu = m & unseen[trn]
            if mu.any():
                r["cv_unseen_" + c] = ua(pred[trn][mu], y[trn][mu])
        r["select"] = 0.5 * (r["cv_unseen_ravdess"] + r["cv_unseen_emovo"])
        grid.append(r)
        print(" ".join("%s %.3f" % (k, v) for k, v in r.items()), "CPU %.0f s"
              % time.process_time(), flush=True)
    best = max(grid, key=lambda r: (r["select"], r["lam"]))  # ties: the stronger pull to v1
    print("chosen lam", best["lam"], flush=True)
    Xa, ya = train_rows(trn)
    W, b = fit(Xa, ya, w0, b0, best["lam"], cw, args.bias_only)
    st2 = dict(st)
    st2["fc.weight"] = W.float()
    st2["fc.bias"] = b.float()
    if args.eval_test:
        for c in ("ravdess", "emodb", "emovo"):
            idx = np.array([i for i, it in enumerate(items)
                            if it["split"] == "test" and it["corpus"] == c])
            pred = (torch.from_numpy(E[idx]) @ W.T + b).argmax(1).numpy()
            best["test_" + c] = ua(pred, y[idx])
            print("test %s UA %.3f" % (c, best["test_" + c]), flush=True)
    if not args.speaker_norm:  # a speaker-normalised head is no network emo can run
        torch.save(dict(state=st2, norm_mean=nm, norm_std=ns),
                   os.path.join(args.out, "ser_best.pt"))
    res = dict(grid=grid, chosen=best, n_train_clips=int(len(trn)), n_aug=args.n_aug,
               bias_only=args.bias_only, speaker_norm=args.speaker_norm,
               init=args.init, cpu_seconds=time.process_time(), torch=torch.__version__,
               command=" ".join(["/usr/bin/python3"] + sys.argv))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
