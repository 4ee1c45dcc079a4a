#!/usr/bin/env python3
"""av_sync_probe.py: does a face's mouth track the soundtrack? A probe for issue 12's audio-visual
synchrony (Hershey & Movellan 2000; Slaney & Covell 2001): per face track, the Pearson correlation
between a per-frame visual signal of the mouth and the sound's energy, best over offsets of
-0.1..+0.1 s (20 ms steps), in windows of W seconds. Its numbers are in the README (persons).

  git checkout 5fae8f8 && git show 5fae8f8:dev/av_sync_probe.patch | git apply  # speaking.c dumps "MOT t track motion centre grad x"
  EMO_SYNC_DUMP=1 build/emo video -q -o /dev/null CLIP.mp4 2> dump.txt
  python3 dev/av_sync_probe.py CLIP.mp4 dump.txt [W] [T0,T1,...]

Visual signals (from the mouth patch of vision/mouth_motion.c, 24x16, normalised): v = the frame
to frame motion (mm_motion), c = the mean of the patch's centre (dark when the mouth opens), g = its
vertical gradient energy (lips and teeth edges); for c and g the sign is free (|r|). Audio: E = the
energy (dB, 40 ms around the frame), dE = |E(t) - E(t - 40 ms)|, sdE = E(t) - E(t - 40 ms).
The patch also makes the mouth source read the soundtrack and weigh the motion by a logistic of
the correlation (SYNC_MID 0.3, SYNC_SCALE 0.1, 1 s windows): not adopted (see the README).
"""
import collections
import math
import struct
import subprocess
import sys


def main():
    clip, dump = sys.argv[1], sys.argv[2]
    W = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-ac", "1", "-ar", "16000", "-f",
                          "f32le", "-"], capture_output=True, check=True).stdout
    x = struct.unpack(f"{len(raw) // 4}f", raw)
    hop = 160
    env = [10 * math.log10(sum(v * v for v in x[k * hop:(k + 1) * hop]) / hop + 1e-10)
           for k in range(len(x) // hop)]
    times = ([float(v) for v in sys.argv[4].split(",")] if len(sys.argv) > 4
             else [i * 0.5 for i in range(int(len(x) / 16000 / 0.5) + 1)])

    def E(t):
        k0 = int(math.floor((t - 0.02) / 0.01))
        return None if k0 < 0 or k0 + 4 > len(env) else sum(env[k0:k0 + 4]) / 4

    def dE(t, signed):
        a, b = E(t), E(t - 0.04)
        return None if a is None or b is None else (a - b if signed else abs(a - b))

    feats = {"E": E, "dE": lambda t: dE(t, False), "sdE": lambda t: dE(t, True)}
    mot = collections.defaultdict(list)
    for line in open(dump):
        if line.startswith("MOT"):
            _, t, k, v, c, g, bx = line.split()
            mot[k].append((float(t), float(v), float(c), float(g), float(bx)))

    def pearson(a, b):
        n = len(a)
        ma, mb = sum(a) / n, sum(b) / n
        va = sum((p - ma) ** 2 for p in a)
        vb = sum((q - mb) ** 2 for q in b)
        if va <= 0 or vb <= 0:
            return 0.0
        return sum((p - ma) * (q - mb) for p, q in zip(a, b)) / math.sqrt(va * vb)

    for k, rows in mot.items():
        print(f"track {k} (box x {rows[0][4]:.0f})")
        for vis, vi in (("v", 1), ("c", 2), ("g", 3)):
            for fn, f in feats.items():
                out = []
                for t0 in times:
                    sel = [r for r in rows if abs(r[0] - t0) <= W / 2 and not (vi == 1 and r[1] < 0)]
                    if len(sel) < 8:
                        continue
                    best = -9.0
                    for lag in [l * 0.02 for l in range(-5, 6)]:
                        a = [f(r[0] + lag) for r in sel]
                        if any(q is None for q in a):
                            continue
                        r = pearson([r[vi] for r in sel], a)
                        best = max(best, abs(r) if vi != 1 else r)
                    out.append(f"{t0:4.1f}:{best:+.2f}")
                print(f"  {vis} {fn:3} " + " ".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
