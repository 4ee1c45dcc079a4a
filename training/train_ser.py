"""train_ser.py: trains emo's speech-emotion CNN (ser_common.make_model) on RAVDESS actors 1-14
plus EmoDB speakers other than 03/08 (boredom clips left out), picks the epoch with the best
unweighted accuracy on RAVDESS actors 15-16, and reports on the held-out test speakers:
RAVDESS actors 17-20 (8 classes) and EmoDB speakers 03 and 08 (6 classes).

Augmentation (waveform, then features): random gain (+-6 dB), white noise at a random SNR
(10-40 dB, half the clips), speed perturbation (x0.9-1.1 by linear interpolation, half the
clips), random time crop of TRAIN_CHUNK frames (= time shift), SpecAugment (2 frequency masks <= 8
bands, 2 time masks <= 20 frames).

Feature versions (clean + N_AUG augmented) are computed once per clip; training runs for a
wall-clock budget (--minutes) with a warm-up + cosine learning-rate schedule over that budget.
Usage (from the repository root, 2 CPU threads, about 20 minutes):
  /usr/bin/python3 training/train_ser.py --data ../shared/data/ser --out /tmp/ser/train
Writes OUT/ser_best.pt (state dict + normalization) and OUT/results.json (accuracies,
confusion matrices, timing) that training/export.py turns into models/ser/.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as tF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ser_common as S  # noqa: E402

TRAIN_CHUNK = 150  # frames per training crop (1.5 s); inference uses S.CHUNK windows
N_AUG = 3  # augmented feature versions precomputed per training clip (plus the clean one)


def load_audio(items, cache):
    if cache and os.path.exists(cache):
        d = np.load(cache, allow_pickle=True)
        return list(d["audio"])
    audio = []
    for it in items:
        x, sr = sf.read(it["path"], dtype="float32")
        if x.ndim > 1:
            x = x.mean(axis=1)
        assert sr == 16000, it["path"]
        audio.append(x)
    if cache:
        np.savez(cache, audio=np.array(audio, dtype=object))
    return audio


def augment(x, rng):
    x = x.astype(np.float64) * 10 ** (rng.uniform(-6, 6) / 20)
    if rng.random() < 0.5:
        r = rng.uniform(0.9, 1.1)
        n = int(len(x) / r)
        x = np.interp(np.arange(n) * r, np.arange(len(x)), x)
    if rng.random() < 0.5:
        snr = rng.uniform(10, 40)
        p = np.mean(x ** 2) + 1e-12
        x = x + rng.standard_normal(len(x)) * np.sqrt(p / 10 ** (snr / 10))
    return x


def spec_augment(c, rng):
    c = c.copy()
    for _ in range(2):
        w = rng.integers(0, 9)
        f0 = rng.integers(0, c.shape[1] - w + 1)
        c[:, f0:f0 + w] = 0
    for _ in range(2):
        w = rng.integers(0, 21)
        t0 = rng.integers(0, c.shape[0] - w + 1)
        c[t0:t0 + w, :] = 0
    return c


def evaluate(model, feats, labels):
    model.eval()
    preds = []
    with torch.no_grad():
        for x in feats:
            ch = torch.from_numpy(S.clip_chunks(x).astype(np.float32))[:, None]
            preds.append(int(model(ch).mean(0).argmax()))
    preds = np.array(preds)
    labels = np.array(labels)
    cm = np.zeros((8, 8), dtype=int)
    for t, p in zip(labels, preds):
        cm[t, p] += 1
    present = [k for k in range(8) if cm[k].sum() > 0]
    per = {S.LABELS[k]: float(cm[k, k] / cm[k].sum()) for k in present}
    ua = float(np.mean(list(per.values())))
    wa = float((preds == labels).mean())
    return dict(ua=ua, wa=wa, per_class=per, confusion=cm.tolist(), n=int(len(labels)))


def recalibrate_bn(model, feats, bs=32):
    """Re-estimates every batch norm's running mean/variance as a plain average over the clean
    training clips cut exactly as at inference (S.clip_chunks): the running averages kept
    during training lag behind the weights and made the eval-mode model unstable."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    chunks = np.concatenate([S.clip_chunks(x) for x in feats]).astype(np.float32)
    model.train()
    with torch.no_grad():
        for b in range(0, len(chunks), bs):
            model(torch.from_numpy(chunks[b:b + bs])[:, None])
    model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/ser")
    ap.add_argument("--out", default="/tmp/ser/train")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=18.0, help="wall-clock training budget")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recalibrate-only", action="store_true",
                    help="load OUT/ser_best.pt, re-estimate batch-norm statistics, re-evaluate")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    items = S.index_corpora(args.data)
    audio = load_audio(items, os.path.join(args.out, "audio_cache.npz"))
    tr = [i for i, it in enumerate(items) if it["split"] == "train"]
    va = [i for i, it in enumerate(items) if it["split"] == "val"]
    te_r = [i for i, it in enumerate(items) if it["split"] == "test" and it["corpus"] == "ravdess"]
    te_e = [i for i, it in enumerate(items) if it["split"] == "test" and it["corpus"] == "emodb"]

    raw = [S.clip_features(a) for a in audio]
    allf = np.concatenate([raw[i] for i in tr])
    norm_mean, norm_std = allf.mean(0), allf.std(0) + 1e-5
    feats = [(r - norm_mean) / norm_std for r in raw]
    y = np.array([it["label"] for it in items])
    counts = np.bincount(y[tr], minlength=8)
    cw = torch.tensor(counts.sum() / (8 * counts), dtype=torch.float32)
    print("train", len(tr), "val", len(va), "test ravdess", len(te_r), "emodb", len(te_e),
          "class counts", counts.tolist(), flush=True)

    if args.recalibrate_only:
        ck = torch.load(os.path.join(args.out, "ser_best.pt"))
        model = S.make_model()
        model.load_state_dict(ck["state"])
        prev = json.load(open(os.path.join(args.out, "results.json")))
        recalibrate_bn(model, [feats[i] for i in tr])
        prev["before_recalibration"] = {k: dict(ua=prev[k]["ua"], wa=prev[k]["wa"])
                                        for k in ("val", "test_ravdess", "test_emodb")}
        prev.update(val=evaluate(model, [feats[i] for i in va], y[va]),
                    test_ravdess=evaluate(model, [feats[i] for i in te_r], y[te_r]),
                    test_emodb=evaluate(model, [feats[i] for i in te_e], y[te_e]),
                    recalibrated=True,
                    command=prev["command"] + " && " + " ".join(["/usr/bin/python3"] + sys.argv))
        torch.save(dict(state=model.state_dict(), norm_mean=norm_mean, norm_std=norm_std),
                   os.path.join(args.out, "ser_best.pt"))
        json.dump(prev, open(os.path.join(args.out, "results.json"), "w"), indent=1)
        for k in ("val", "test_ravdess", "test_emodb"):
            print(k, "UA %.3f WA %.3f" % (prev[k]["ua"], prev[k]["wa"]), prev[k]["per_class"])
        return

    # augmented versions, computed once (waveform augmentation is the slow part)
    versions = {i: [feats[i]] for i in tr}
    for i in tr:
        for _ in range(N_AUG):
            versions[i].append(S.clip_features(augment(audio[i], rng), norm_mean, norm_std))
    print("features ready %.0f s" % (time.time() - t0), flush=True)

    model = S.make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    max_lr, bs = 2e-3, 32
    budget = args.minutes * 60
    t_train = time.time()
    best, best_state, history, best_ep = -1, None, [], -1
    for ep in range(args.epochs):
        frac = (time.time() - t_train) / budget
        if frac >= 1:
            break
        model.train()
        order = rng.permutation(tr)
        tot, te0 = 0.0, time.time()
        for b in range(0, len(order), bs):
            frac = min(1.0, (time.time() - t_train) / budget)
            lr = max_lr * (frac / 0.05 if frac < 0.05 else 0.5 * (1 + np.cos(np.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = max(lr, 1e-5)
            xb = []
            for i in order[b:b + bs]:
                v = versions[i]
                c = v[rng.integers(0, len(v))]
                st = rng.integers(0, max(1, c.shape[0] - TRAIN_CHUNK + 1))
                xb.append(spec_augment(S.take_chunk(c, st, TRAIN_CHUNK), rng))
            xb = torch.from_numpy(np.stack(xb).astype(np.float32))[:, None]
            yb = torch.from_numpy(y[order[b:b + bs]])
            loss = tF.cross_entropy(model(xb), yb, weight=cw, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss) * len(yb)
        v = evaluate(model, [feats[i] for i in va], y[va])
        history.append(dict(epoch=ep, loss=tot / len(tr), val_ua=v["ua"]))
        print("epoch %d loss %.3f val UA %.3f lr %.2g (%.0f s)" % (
            ep, tot / len(tr), v["ua"], lr, time.time() - te0), flush=True)
        if v["ua"] >= best and frac > 0.3:
            best = v["ua"]
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
            best_ep = ep
    if best_state is None:
        best_state, best_ep = model.state_dict(), ep
    last_state = {k: t.clone() for k, t in model.state_dict().items()}
    # batch-norm recalibration of the best-validation and the last model; keep the better
    cands = []
    for name, stt in (("best", best_state), ("last", last_state)):
        model.load_state_dict(stt)
        recalibrate_bn(model, [feats[i] for i in tr])
        cands.append((evaluate(model, [feats[i] for i in va], y[va])["ua"], name,
                      {k: t.clone() for k, t in model.state_dict().items()}))
        print("recalibrated %s model: val UA %.3f" % (name, cands[-1][0]), flush=True)
    cands.sort(key=lambda c: -c[0])
    best_state = cands[0][2]
    model.load_state_dict(best_state)
    res = dict(best_epoch=best_ep if cands[0][1] == "best" else len(history) - 1,
               chosen=cands[0][1], val=evaluate(model, [feats[i] for i in va], y[va]),
               test_ravdess=evaluate(model, [feats[i] for i in te_r], y[te_r]),
               test_emodb=evaluate(model, [feats[i] for i in te_e], y[te_e]),
               history=history, train_seconds=time.time() - t0, epochs=len(history),
               seed=args.seed, torch=torch.__version__, n_train=len(tr),
               command=" ".join(["/usr/bin/python3"] + sys.argv))
    torch.save(dict(state=best_state, norm_mean=norm_mean, norm_std=norm_std),
               os.path.join(args.out, "ser_best.pt"))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    for k in ("val", "test_ravdess", "test_emodb"):
        print(k, "UA %.3f WA %.3f" % (res[k]["ua"], res[k]["wa"]), res[k]["per_class"])
    print("confusion (rows true, cols predicted)", S.LABELS)
    for r in res["test_ravdess"]["confusion"]:
        print(r)
    print("total %.0f s" % res["train_seconds"])


if __name__ == "__main__":
    main()
