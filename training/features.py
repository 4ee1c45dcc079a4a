"""features.py: numpy twin of src/audio/features.c (log-mel and MFCC), float64 throughout.

Exactly the math documented at the top of src/audio/features.h: frames at t*hop with no
centering/padding, periodic Hann window placed at the start of an n_fft zero-padded buffer,
power spectrum |rfft|^2, HTK-scale triangular mel filters without area normalization,
ln(mel + 1e-6), orthonormal DCT-II for MFCC. tests/test_features.c checks the C code against a
fixture this module writes (training/make_fixtures.py).

Also holds the EMOFIX fixture writer (format: tests/fixture.h) used by the training tools.
"""
import struct

import numpy as np

DEFAULT = dict(sample_rate=16000, win_length=400, hop_length=160, n_fft=512, n_mels=64,
               n_mfcc=13, f_min=0.0, f_max=8000.0, log_offset=1e-6)


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(cfg=DEFAULT):
    """(n_mels, n_fft/2+1) float64 HTK triangular weights."""
    n_bins = cfg["n_fft"] // 2 + 1
    mlo, mhi = hz_to_mel(cfg["f_min"]), hz_to_mel(cfg["f_max"])
    m = cfg["n_mels"]
    pts = mel_to_hz(mlo + (mhi - mlo) * np.arange(m + 2, dtype=np.float64) / (m + 1))
    f = np.arange(n_bins, dtype=np.float64) * cfg["sample_rate"] / cfg["n_fft"]
    fb = np.zeros((m, n_bins))
    for i in range(m):
        f0, f1, f2 = pts[i], pts[i + 1], pts[i + 2]
        w = np.minimum((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1))
        fb[i] = np.maximum(w, 0.0)
    return fb


def hann(win):
    i = np.arange(win, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / win)


def num_frames(n, cfg=DEFAULT):
    return 0 if n < cfg["win_length"] else 1 + (n - cfg["win_length"]) // cfg["hop_length"]


_FB_CACHE = {}


def logmel(pcm, cfg=DEFAULT):
    """pcm (n,) float -> (frames, n_mels) float64 log-mel."""
    key = tuple(sorted(cfg.items()))
    if key not in _FB_CACHE:
        _FB_CACHE[key] = (mel_filterbank(cfg), hann(cfg["win_length"]))
    fb, win = _FB_CACHE[key]
    x = np.asarray(pcm, dtype=np.float64)
    nf = num_frames(len(x), cfg)
    if nf == 0:
        return np.zeros((0, cfg["n_mels"]))
    idx = np.arange(nf)[:, None] * cfg["hop_length"] + np.arange(cfg["win_length"])[None, :]
    frames = x[idx] * win[None, :]
    spec = np.fft.rfft(frames, n=cfg["n_fft"], axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return np.log(power @ fb.T + cfg["log_offset"])


def dct_matrix(n_mfcc, n_mels):
    q = np.arange(n_mfcc, dtype=np.float64)[:, None]
    m = np.arange(n_mels, dtype=np.float64)[None, :]
    d = np.cos(np.pi * q * (m + 0.5) / n_mels) * np.sqrt(2.0 / n_mels)
    d[0] *= np.sqrt(0.5)
    return d


def mfcc(pcm, cfg=DEFAULT):
    lm = logmel(pcm, cfg)
    return lm @ dct_matrix(cfg["n_mfcc"], cfg["n_mels"]).T


def write_fixture(path, tensors):
    """tensors: list of (name, np.ndarray float32 or uint8). EMOFIX v1 (tests/fixture.h)."""
    out = [b"EMOFIX\0\0", struct.pack("<II", 1, len(tensors))]
    for name, arr in tensors:
        nb = name.encode()
        assert 1 <= len(nb) <= 255
        arr = np.asarray(arr)
        if arr.dtype == np.uint8:
            dt = 1
        else:
            arr = arr.astype("<f4")
            dt = 0
        out.append(struct.pack("<I", len(nb)) + nb + struct.pack("<II", dt, arr.ndim))
        out.append(struct.pack("<%dI" % arr.ndim, *arr.shape))
        out.append(np.ascontiguousarray(arr).tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(out))
