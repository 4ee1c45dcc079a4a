"""ser_common.py: what training, export and fixture tools share for emo's speech-emotion model:
label list, corpus indexing (RAVDESS, EmoDB, EMOVO), the speaker-independent split, the model
definition (ops limited to what src/nn runs: CONV2D, MAX_POOL2D, MEAN, FULLY_CONNECTED, RELU),
and the clip -> chunks front end that src/audio/ser.c reproduces:

  log-mel (training/features.py) of the whole clip -> trim leading/trailing quiet frames (keep
  from the first to the last frame whose mean log-mel is >= the loudest frame's - TRIM_NATS)
  -> subtract the clip's scalar mean (over all kept frames and bands) -> per band (x - band_mean[m]) / band_std[m] (training-set statistics, stored
  in the weights file) -> chunks of CHUNK frames: a clip of F <= CHUNK frames is tiled
  (row t = row t mod F); a longer clip gives chunks starting at 0, CHUNK/2, CHUNK, ... plus one
  ending at the last frame -> the network on each chunk (1, CHUNK, 64, 1) NHWC -> logits averaged
  over chunks -> softmax.
"""
import glob
import os

import numpy as np

import features as F

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "calm"]
CHUNK = 200  # frames (2.0 s)
TRIM_NATS = 7.0  # ln of power: about 30 dB below the loudest frame
CHANNELS = [16, 32, 64, 128]

# RAVDESS emotion code -> our label index
RAV = {1: 6, 2: 7, 3: 3, 4: 4, 5: 0, 6: 2, 7: 1, 8: 5}
# EmoDB letter 6 (official coding; the copy's audio_labels.csv disagrees for F/A/E, see the
# model card) -> label index; L (boredom) has no counterpart and is left out (None).
EMODB = {"W": 0, "E": 1, "A": 2, "F": 3, "T": 4, "N": 6, "L": None}

RAV_TEST = {17, 18, 19, 20}
RAV_VAL = {15, 16}
EMODB_TEST = {"03", "08"}  # one male, one female speaker held out
# EMOVO (Italian; labels.tsv): one female and one male speaker held out
EMOVO_TEST = {"emovo_f1", "emovo_m1"}
NAME = {n: i for i, n in enumerate(LABELS)}


def index_corpora(root, corpora=("ravdess", "emodb")):
    """-> list of dicts: path, label, corpus, speaker, split (train/val/test), intensity (RAVDESS:
    0 normal, 1 strong; -1 where the corpus has no intensity label). corpora picks the corpora
    (emo_ser_v1 was trained on RAVDESS and EmoDB; v2 adds "emovo")."""
    items = []
    for p in sorted(glob.glob(os.path.join(root, "ravdess", "Actor_*", "*.flac"))):
        parts = os.path.basename(p)[:-5].split("-")
        actor, emo, inten = int(parts[6]), int(parts[2]), int(parts[3])
        split = "test" if actor in RAV_TEST else "val" if actor in RAV_VAL else "train"
        items.append(dict(path=p, label=RAV[emo], corpus="ravdess", speaker=actor, split=split,
                          intensity=inten - 1))
    for p in sorted(glob.glob(os.path.join(root, "emodb", "*.flac"))):
        b = os.path.basename(p)
        lab = EMODB.get(b[5])
        if lab is None:
            continue
        split = "test" if b[:2] in EMODB_TEST else "train"
        items.append(dict(path=p, label=lab, corpus="emodb", speaker=b[:2], split=split,
                          intensity=-1))
    if "emovo" in corpora:
        tsv = os.path.join(root, "emovo", "labels.tsv")
        if os.path.exists(tsv):
            with open(tsv) as f:
                head = f.readline().rstrip("\n").split("\t")
                for line in f:
                    r = dict(zip(head, line.rstrip("\n").split("\t")))
                    sp = r["speaker"]
                    items.append(dict(path=os.path.join(root, "emovo", r["file"]),
                                      label=NAME[r["label"]], corpus="emovo", speaker=sp,
                                      split="test" if sp in EMOVO_TEST else "train",
                                      intensity=-1))
    items = [it for it in items if it["corpus"] in corpora]
    return items


def clip_features(pcm, norm_mean=None, norm_std=None):
    """pcm -> normalized log-mel (F, 64) float64."""
    lm = trim(F.logmel(pcm))
    lm = lm - lm.mean()
    if norm_mean is not None:
        lm = (lm - norm_mean[None, :]) / norm_std[None, :]
    return lm


def trim(lm):
    e = lm.mean(axis=1)
    keep = np.nonzero(e >= e.max() - TRIM_NATS)[0]
    return lm[keep[0]:keep[-1] + 1]


def chunk_starts(n_frames, chunk=CHUNK):
    if n_frames <= chunk:
        return [0]
    s = list(range(0, n_frames - chunk + 1, chunk // 2))
    if s[-1] != n_frames - chunk:
        s.append(n_frames - chunk)
    return s


def take_chunk(x, start, chunk=CHUNK):
    n = x.shape[0]
    if n >= start + chunk:
        return x[start:start + chunk]
    idx = (start + np.arange(chunk)) % n
    return x[idx]


def clip_chunks(x, chunk=CHUNK):
    return np.stack([take_chunk(x, s, chunk) for s in chunk_starts(x.shape[0], chunk)])


def make_model():
    import torch.nn as nn

    class SerNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = [], 1
            for c in CHANNELS:
                layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                           nn.ReLU(inplace=True), nn.MaxPool2d(2)]
                cin = c
            self.features = nn.Sequential(*layers)
            self.drop = nn.Dropout(0.3)
            self.fc = nn.Linear(cin, len(LABELS))

        def forward(self, x):  # x (N, 1, T, 64)
            h = self.features(x).mean(dim=(2, 3))
            return self.fc(self.drop(h))

    return SerNet()
