"""train_ser.py: trains emo's speech-emotion CNN (ser_common.make_model) on RAVDESS actors 1-14,
EmoDB speakers other than 03/08 (boredom clips left out) and, with --corpora
ravdess,emodb,emovo (the default since emo_ser_v2), EMOVO speakers other than f1/m1; picks the
epoch with the best unweighted accuracy on RAVDESS actors 15-16, and reports on the held-out
test speakers: RAVDESS actors 17-20 (8 classes), EmoDB speakers 03 and 08 (6 classes), EMOVO
f1 and m1 (7 classes).

Intensity: RAVDESS's normal/strong label trains an auxiliary logistic output on the pooled
layer (loss weight --intensity-weight, masked where a corpus has no intensity); it shapes the
shared layers only and is not exported (the shipped network keeps its 8 logits).

Augmentation (waveform, then features): random gain (+-6 dB), white noise at a random SNR
(10-40 dB, half the clips), speed perturbation (x0.9-1.1 by linear interpolation, half the
clips), random time crop of TRAIN_CHUNK frames (= time shift), SpecAugment (2 frequency masks <= 8
bands, 2 time masks <= 20 frames).

Mixup (--mixup ALPHA, off by default): each batch is mixed with a shuffled copy of itself
(Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"), the two labels' losses
weighted alike.

Speaker normalisation (--speaker-norm K, an experiment; emo's runtime does not apply it): each
clip's input is standardised per band by the statistics of K random clean clips of its own
speaker (labels unused) instead of the training set's, redrawn at every step, so that the
network learns with the few, unbalanced statistics a diarized speaker would give at run time.
--val-actors moves the validation actors (training/cv_ser.py: grouped CV of whole runs).

Honest evaluation: only the validation speakers (RAVDESS 15-16) are scored unless --eval-test;
several runs are compared, averaged (an ensemble) and finally scored on the test speakers by
training/eval_ser.py.

Feature versions (clean + N_AUG augmented) are computed once per clip; training runs for a
budget of process CPU time (--cpu-minutes, counting the feature computation too, so the whole
script stays inside it on a shared machine; --minutes is the older wall-clock budget) with a
warm-up + cosine learning-rate schedule over that budget.
Usage (from the repository root, 2 CPU threads):
  /usr/bin/python3 training/train_ser.py --data ../shared/data/ser --out /tmp/ser/train \
      --cpu-minutes 36 --minutes 60
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
N_AUG = 3  # augmented feature versions precomputed per training clip (plus the clean one); --n-aug


def load_audio(items, cache):
    if cache and os.path.exists(cache):
        d = np.load(cache, allow_pickle=True)
        if len(d["audio"]) == len(items):
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


SPK_DRAWS = 8  # per-speaker statistics drawn for training (--speaker-norm)


def speaker_draws(items, raw, norm_mean, norm_std, k, rng):
    """-> ({clip: [(a, b)] * SPK_DRAWS}, feats): (a, b) turns a globally normalised clip x into
    the speaker-normalised x * a + b, i.e. (lm - m) / s with (m, s) the per-band statistics of k
    random clean clips of the clip's speaker; feats: every clip normalised by the first draw
    (the one validation and test use)."""
    groups = {}
    for i, it in enumerate(items):
        groups.setdefault((it["corpus"], it["speaker"]), []).append(i)
    spk, feats = {}, [None] * len(items)
    for idx in groups.values():
        stats = []
        for _ in range(SPK_DRAWS):
            fr = np.concatenate([raw[j] for j in rng.choice(idx, min(k, len(idx)), replace=False)])
            stats.append((fr.mean(0), fr.std(0) + 1e-5))
        draws = [(norm_std / s, (norm_mean - m) / s) for m, s in stats]
        for i in idx:
            spk[i] = draws
            feats[i] = (raw[i] - stats[0][0][None, :]) / stats[0][1][None, :]
    return spk, feats


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


def load_bin(path):
    """emo's weights file (training/export.py write_bin, src/audio/ser.h) -> (state dict for
    S.make_model with each batch norm set to the identity and the folded bias as its beta,
    norm_mean, norm_std). With the batch norms kept in eval mode the model is exactly the
    shipped one, which --init fine-tunes."""
    import struct
    b = open(path, "rb").read()
    assert b[:8] == b"EMOSER\0\0", path
    o = 8
    _, nl = struct.unpack_from("<II", b, o)
    o += 8
    for _ in range(nl):
        o += 1 + b[o]
    o += struct.calcsize("<5I3fI")
    _, nb, nt = struct.unpack_from("<3I", b, o)
    o += 12
    t = {}
    for _ in range(nt):
        ln = b[o]
        name = b[o + 1:o + 1 + ln].decode()
        o += 1 + ln
        nd = struct.unpack_from("<I", b, o)[0]
        o += 4
        shape = struct.unpack_from("<%dI" % nd, b, o)
        o += 4 * nd
        n = int(np.prod(shape))
        t[name] = np.frombuffer(b, "<f4", n, o).reshape(shape).copy()
        o += 4 * n
    model = S.make_model()
    st = model.state_dict()
    for i in range(nb):
        st["features.%d.weight" % (4 * i)] = torch.from_numpy(t["conv%d.w" % i]).permute(0, 3, 1, 2)
        c = t["conv%d.b" % i].shape[0]
        st["features.%d.weight" % (4 * i + 1)] = torch.ones(c)
        st["features.%d.bias" % (4 * i + 1)] = torch.from_numpy(t["conv%d.b" % i])
        st["features.%d.running_mean" % (4 * i + 1)] = torch.zeros(c)
        st["features.%d.running_var" % (4 * i + 1)] = torch.ones(c) - 1e-5  # var + eps = 1
    st["fc.weight"] = torch.from_numpy(t["fc.w"])
    st["fc.bias"] = torch.from_numpy(t["fc.b"])
    return st, t["norm.mean"].astype(np.float64), t["norm.std"].astype(np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/ser")
    ap.add_argument("--out", default="/tmp/ser/train")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=0,
                    help="wall-clock training budget (0: none); with --cpu-minutes, training "
                         "ends at whichever runs out first (the schedule follows the nearer)")
    ap.add_argument("--cpu-minutes", type=float, default=36.0,
                    help="process CPU-time budget of the whole run (features included)")
    ap.add_argument("--corpora", default="ravdess,emodb,emovo")
    ap.add_argument("--intensity-weight", type=float, default=0.3)
    ap.add_argument("--init", default="",
                    help="fine-tune from a shipped weights file (models/ser/emo_ser_v1.bin): its "
                         "normalisation is kept and its batch norms stay frozen")
    ap.add_argument("--n-aug", type=int, default=N_AUG, help="augmented versions per clip")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mixup", type=float, default=0.0,
                    help="mixup alpha (0: off): each batch mixed with a shuffled copy of itself, "
                         "lambda ~ Beta(alpha, alpha) folded to >= 0.5, losses mixed alike")
    ap.add_argument("--eval-test", action="store_true",
                    help="also evaluate the held-out test speakers (off by default, so that a "
                         "recipe is chosen on validation alone; training/eval_ser.py reports "
                         "the test figures of the final choice)")
    ap.add_argument("--speaker-norm", type=int, default=0, metavar="K",
                    help="end-to-end speaker normalisation (0: off): every clip's input is "
                         "standardised per band by the statistics of K random clean clips of its "
                         "speaker (redrawn among %d draws per step; validation: one seeded draw), "
                         "as emo's runtime would take them from a diarized speaker's segments" % SPK_DRAWS)
    ap.add_argument("--val-actors", default="",
                    help="RAVDESS actors used for validation instead of 15-16 (comma-separated; "
                         "15-16 then train): one fold of training/cv_ser.py's grouped "
                         "cross-validation of whole runs; 17-20 stay held out")
    ap.add_argument("--recalibrate-only", action="store_true",
                    help="load OUT/ser_best.pt, re-estimate batch-norm statistics, re-evaluate")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    corpora = tuple(args.corpora.split(","))
    items = S.index_corpora(args.data, corpora)
    if args.val_actors:
        vset = {int(a) for a in args.val_actors.split(",")}
        for it in items:
            if it["corpus"] == "ravdess" and it["split"] != "test":
                it["split"] = "val" if it["speaker"] in vset else "train"
    audio = load_audio(items, os.path.join(args.out, "audio_cache.npz"))
    tr = [i for i, it in enumerate(items) if it["split"] == "train"]
    va = [i for i, it in enumerate(items) if it["split"] == "val"]
    tests = {c: [i for i, it in enumerate(items) if it["split"] == "test" and it["corpus"] == c]
             for c in corpora}
    te_r, te_e = tests["ravdess"], tests.get("emodb", [])

    raw = [S.clip_features(a) for a in audio]
    allf = np.concatenate([raw[i] for i in tr])
    norm_mean, norm_std = allf.mean(0), allf.std(0) + 1e-5
    if args.init:
        init_state, norm_mean, norm_std = load_bin(args.init)
    feats = [(r - norm_mean) / norm_std for r in raw]
    versions = {i: [feats[i]] for i in tr}  # globally normalised; see spk below
    spk = None
    if args.speaker_norm:  # evaluation and batch-norm statistics see speaker-normalised clips
        spk, feats = speaker_draws(items, raw, norm_mean, norm_std, args.speaker_norm, rng)
    y = np.array([it["label"] for it in items])
    inten = np.array([it.get("intensity", -1) for it in items], dtype=np.float32)
    counts = np.bincount(y[tr], minlength=8)
    cw = torch.tensor(counts.sum() / (8 * counts), dtype=torch.float32)
    print("train", len(tr), "val", len(va), "test", {c: len(v) for c, v in tests.items()},
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
    for i in tr:
        for _ in range(args.n_aug):
            versions[i].append(S.clip_features(augment(audio[i], rng), norm_mean, norm_std))
    print("features ready %.0f s" % (time.time() - t0), flush=True)

    model = S.make_model()
    bns = [mod for mod in model.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    if args.init:
        model.load_state_dict(init_state)
        init = {k: evaluate(model, [feats[i] for i in idx], y[idx])
                for k, idx in [("val", va)] + [("test_" + c, v) for c, v in tests.items()
                                               if args.eval_test]}
        print("initial model", {k: round(v["ua"], 3) for k, v in init.items()}, flush=True)
    aux = torch.nn.Linear(S.CHANNELS[-1], 1)  # intensity (strong vs normal), not exported
    opt = torch.optim.AdamW(list(model.parameters()) + list(aux.parameters()), lr=args.lr,
                            weight_decay=1e-3)
    max_lr, bs = args.lr, 32
    cpu0, wall0 = time.process_time(), time.time()
    cpu_budget = args.cpu_minutes * 60 - cpu0 if args.cpu_minutes > 0 else float("inf")
    wall_budget = args.minutes * 60 if args.minutes > 0 else float("inf")

    def progress():  # fraction of the budget used, by the nearer of the two limits
        return max((time.process_time() - cpu0) / cpu_budget, (time.time() - wall0) / wall_budget)

    best, best_state, history, best_ep = -1, None, [], -1
    for ep in range(args.epochs):
        frac = progress()
        if frac >= 1:
            break
        model.train()
        if args.init:
            for mod in bns:
                mod.eval()  # frozen statistics: the shipped model's function
        order = rng.permutation(tr)
        tot, te0 = 0.0, time.time()
        for b in range(0, len(order), bs):
            frac = min(1.0, progress())
            lr = max_lr * (frac / 0.05 if frac < 0.05 else 0.5 * (1 + np.cos(np.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = max(lr, 1e-5)
            xb = []
            for i in order[b:b + bs]:
                v = versions[i]
                c = v[rng.integers(0, len(v))]
                if spk is not None:  # global -> one of the speaker's draws
                    sa, sb = spk[i][rng.integers(0, SPK_DRAWS)]
                    c = c * sa[None, :] + sb[None, :]
                st = rng.integers(0, max(1, c.shape[0] - TRAIN_CHUNK + 1))
                xb.append(spec_augment(S.take_chunk(c, st, TRAIN_CHUNK), rng))
            xb = torch.from_numpy(np.stack(xb).astype(np.float32))[:, None]
            yb = torch.from_numpy(y[order[b:b + bs]])
            ib = torch.from_numpy(inten[order[b:b + bs]])
            lam, perm = 1.0, None
            if args.mixup > 0:
                lam = float(rng.beta(args.mixup, args.mixup))
                lam = max(lam, 1 - lam)
                perm = torch.from_numpy(rng.permutation(len(yb)))
                xb = lam * xb + (1 - lam) * xb[perm]
            h = model.drop(model.features(xb).mean(dim=(2, 3)))
            lo = model.fc(h)
            loss = lam * tF.cross_entropy(lo, yb, weight=cw, label_smoothing=0.1)
            if perm is not None:
                loss = loss + (1 - lam) * tF.cross_entropy(lo, yb[perm], weight=cw,
                                                           label_smoothing=0.1)
                known = (ib >= 0) & (ib[perm] >= 0)
                ib = lam * ib + (1 - lam) * ib[perm]
            else:
                known = ib >= 0
            if args.intensity_weight > 0 and bool(known.any()):
                loss = loss + args.intensity_weight * tF.binary_cross_entropy_with_logits(
                    aux(h).squeeze(1)[known], ib[known])
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
    runs = [("best", best_state, True), ("last", last_state, True)]
    if args.init:  # frozen batch norms: the weights as trained are candidates too
        runs += [("best-frozen", best_state, False), ("last-frozen", last_state, False)]
    for name, stt, recal in runs:
        model.load_state_dict(stt)
        if recal:
            recalibrate_bn(model, [feats[i] for i in tr])
        cands.append((evaluate(model, [feats[i] for i in va], y[va])["ua"], name,
                      {k: t.clone() for k, t in model.state_dict().items()}))
        print("recalibrated %s model: val UA %.3f" % (name, cands[-1][0]), flush=True)
    cands.sort(key=lambda c: -c[0])
    best_state = cands[0][2]
    model.load_state_dict(best_state)
    res = dict(best_epoch=best_ep if cands[0][1].startswith("best") else len(history) - 1,
               initial=init if args.init else None,
               chosen=cands[0][1], val=evaluate(model, [feats[i] for i in va], y[va]),
               history=history, train_seconds=time.time() - t0, epochs=len(history),
               cpu_seconds=time.process_time(), corpora=list(corpora),
               seed=args.seed, torch=torch.__version__, n_train=len(tr), mixup=args.mixup,
               speaker_norm=args.speaker_norm, val_actors=args.val_actors,
               command=" ".join(["/usr/bin/python3"] + sys.argv))
    torch.save(dict(state=best_state, norm_mean=norm_mean, norm_std=norm_std,
                    speaker_norm=args.speaker_norm), os.path.join(args.out, "ser_best.pt"))
    if args.eval_test:
        for c, idx in tests.items():
            res["test_" + c] = evaluate(model, [feats[i] for i in idx], y[idx])
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    for k in ["val"] + ["test_" + c for c in tests if args.eval_test]:
        print(k, "UA %.3f WA %.3f" % (res[k]["ua"], res[k]["wa"]), res[k]["per_class"])
    if args.eval_test:
        print("confusion (rows true, cols predicted)", S.LABELS)
        for r in res["test_ravdess"]["confusion"]:
            print(r)
    print("total %.0f s" % res["train_seconds"])


if __name__ == "__main__":
    main()
