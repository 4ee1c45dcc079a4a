"""make_ser_seeds.py: writes tiny, hand-made SER weights files (format: src/audio/ser.h) as
libFuzzer seeds into fuzz/corpus/ser/: random weights, 1-2 blocks, 8-16 mel bands, short
chunks; seed0-2 version 1, seed3-4 version 2 (2 and 3 members). Not models: only valid
structure for the fuzzer to mutate.
Run: /usr/bin/python3 training/make_ser_seeds.py (from the repository root)."""
import os
import struct

import numpy as np

import ser_common as S

rng = np.random.default_rng(5)
os.makedirs("fuzz/corpus/ser", exist_ok=True)
for k, (n_mels, chunk, chans, n_fft, win, hop, members) in enumerate(
        [(8, 16, [2], 64, 40, 20, 0), (16, 8, [3, 4], 128, 100, 50, 0), (4, 4, [1, 2], 16, 16, 8, 0),
         (8, 16, [2], 64, 40, 20, 2), (4, 4, [1, 2], 16, 16, 8, 3)]):
    parts = [b"EMOSER\0\0", struct.pack("<II", 2 if members else 1, 8)]
    for lab in S.LABELS:
        parts.append(struct.pack("<B", len(lab)) + lab.encode())
    parts.append(struct.pack("<5I3fI", 16000, win, hop, n_fft, n_mels, 0.0, 8000.0, 1e-6, 0))
    tens = []
    for j in range(max(members, 1)):
        p = "m%d." % j if members else ""
        tens += [(p + "norm.mean", rng.normal(size=n_mels)),
                 (p + "norm.std", rng.uniform(0.5, 2, n_mels))]
        cin = 1
        for i, c in enumerate(chans):
            c += j  # members may differ in width
            tens += [(p + "conv%d.w" % i, rng.normal(size=(c, 3, 3, cin))),
                     (p + "conv%d.b" % i, rng.normal(size=c))]
            cin = c
        tens += [(p + "fc.w", rng.normal(size=(8, cin))), (p + "fc.b", rng.normal(size=8))]
    counts = (chunk, len(chans), members, len(tens)) if members else (chunk, len(chans), len(tens))
    parts.append(struct.pack("<%dI" % len(counts), *counts))
    for name, a in tens:
        a = np.asarray(a, dtype="<f4")
        parts.append(struct.pack("<B", len(name)) + name.encode() + struct.pack("<I", a.ndim))
        parts.append(struct.pack("<%dI" % a.ndim, *a.shape) + a.tobytes())
    with open("fuzz/corpus/ser/seed%d.bin" % k, "wb") as f:
        f.write(b"".join(parts))
