"""make_ser_seeds.py: writes tiny, hand-made SER weights files (format: src/audio/ser.h) as
libFuzzer seeds into fuzz/corpus/ser/: random weights, 1-2 blocks, 8-16 mel bands, short
chunks. Not models: only valid structure for the fuzzer to mutate.
Run: /usr/bin/python3 training/make_ser_seeds.py (from the repository root)."""
import os
import struct

import numpy as np

import ser_common as S

rng = np.random.default_rng(5)
os.makedirs("fuzz/corpus/ser", exist_ok=True)
for k, (n_mels, chunk, chans, n_fft, win, hop) in enumerate(
        [(8, 16, [2], 64, 40, 20), (16, 8, [3, 4], 128, 100, 50), (4, 4, [1, 2], 16, 16, 8)]):
    parts = [b"EMOSER\0\0", struct.pack("<II", 1, 8)]
    for lab in S.LABELS:
        parts.append(struct.pack("<B", len(lab)) + lab.encode())
    parts.append(struct.pack("<5I3fI", 16000, win, hop, n_fft, n_mels, 0.0, 8000.0, 1e-6, 0))
    tens = [("norm.mean", rng.normal(size=n_mels)), ("norm.std", rng.uniform(0.5, 2, n_mels))]
    cin = 1
    for i, c in enumerate(chans):
        tens += [("conv%d.w" % i, rng.normal(size=(c, 3, 3, cin))),
                 ("conv%d.b" % i, rng.normal(size=c))]
        cin = c
    tens += [("fc.w", rng.normal(size=(8, cin))), ("fc.b", rng.normal(size=8))]
    parts.append(struct.pack("<3I", chunk, len(chans), len(tens)))
    for name, a in tens:
        a = np.asarray(a, dtype="<f4")
        parts.append(struct.pack("<B", len(name)) + name.encode() + struct.pack("<I", a.ndim))
        parts.append(struct.pack("<%dI" % a.ndim, *a.shape) + a.tobytes())
    with open("fuzz/corpus/ser/seed%d.bin" % k, "wb") as f:
        f.write(b"".join(parts))
