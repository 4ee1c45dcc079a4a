"""make_feature_fixture.py: writes tests/fixtures/features.fix, the reference that
tests/test_features.c compares src/audio/features.c with.

Signal: 0.6 s at 16 kHz from a seeded PRNG: a 440 Hz tone plus a 200..6000 Hz chirp plus white
noise, with a quieter stretch (x0.01) in the middle, rounded to float32 (the C side reads the
same float32 samples). Outputs of training/features.py (float64, stored as float32):
  "info"    uint8 text; "pcm" float32 (n,); "logmel" float32 (frames, 64);
  "mfcc"    float32 (frames, 13).
Run: /usr/bin/python3 training/make_feature_fixture.py   (from the repository root)
"""
import numpy as np

import features as F

rng = np.random.default_rng(20240601)
sr = 16000
n = 9600
t = np.arange(n) / sr
x = 0.3 * np.sin(2 * np.pi * 440 * t)
f_inst = 200 + (6000 - 200) * t / t[-1]
x += 0.2 * np.sin(2 * np.pi * np.cumsum(f_inst) / sr)
x += 0.05 * rng.standard_normal(n)
x[3000:5000] *= 0.01
pcm = x.astype(np.float32)
lm = F.logmel(pcm.astype(np.float64))
mf = F.mfcc(pcm.astype(np.float64))
info = ("training/features.py numpy %s, float64, default config 16k/400/160/512/64 HTK"
        % np.__version__).encode()
F.write_fixture("tests/fixtures/features.fix", [
    ("info", np.frombuffer(info, dtype=np.uint8)),
    ("pcm", pcm), ("logmel", lm), ("mfcc", mf)])
print("frames", lm.shape, "logmel range", lm.min(), lm.max())
