#!/usr/bin/env python3
"""pooled_reid_eval.py: how well faceres descriptors re-identify the sitcom reel's people across
cuts, one face at a time and pooled per shot (docs/face_embedding.md, "Pooled").

Steps: plays the reel (tools/idscore.py's make_reel), cuts every labelled face of
tests/fixtures/identity/friends_reel.tsv out of its frame with 3x its box around it (PNG, written
here with zlib: stdlib only), embeds them with `emo features --face` (faceres, BlazeFace's box
crop), then prints the similarity statistics between faces of different shots (one face, by the
smaller face's side; shot means), the 40 most similar shot pairs, and a greedy time-ordered
clustering of the shots (a shot joins the most similar earlier identity when its best score
clears T and leads the next identity by M) with and without the torso's colour (a 64-bin RGB
histogram under the face, Bhattacharyya coefficient, weight wc).

Usage: python3 dev/pooled_reid_eval.py build/emo [WORK]   (WORK default $TMPDIR/emo-pooled)
About 10 minutes on 2 busy cores (the embedding run)."""
import array
import csv
import itertools
import math
import os
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import idscore  # noqa: E402
from assignment import hungarian_max  # noqa: E402

W, H, FPS = 640, 360, 24000 / 1001
BINS = 4


def png_write(path, w, h, rows):
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_read(path):  # only what png_write writes (RGB, filter 0)
    b = open(path, "rb").read()
    w, h = struct.unpack(">II", b[16:24])
    i, idat = 8, b""
    while i < len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        if b[i + 4:i + 8] == b"IDAT":
            idat += b[i + 8:i + 8 + n]
        i += 12 + n
    raw = zlib.decompress(idat)
    return w, h, [raw[y * (w * 3 + 1) + 1:(y + 1) * (w * 3 + 1)] for y in range(h)]


def crops(gt, work):
    reel = idscore.make_reel(os.path.join(ROOT, "..", "shared", "data"), gt["parts"], work,
                             "friends_reel")
    want = {}
    for t, faces in gt["frames"]:
        want.setdefault(int(round(t * FPS)), []).append((t, faces))
    os.makedirs(os.path.join(work, "crops"), exist_ok=True)
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-i", reel, "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], stdout=subprocess.PIPE)
    meta, k, n = {}, 0, 0
    with open(os.path.join(work, "crops.csv"), "w") as out:
        out.write("file,label,person\n")
        while True:
            buf = p.stdout.read(W * H * 3)
            if len(buf) < W * H * 3:
                break
            for t, faces in want.get(k, []):
                for (x, y, w, h), name in faces:
                    s = 3 * max(w, h)
                    cx, cy = x + w / 2, y + h / 2
                    x0, y0 = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
                    x1, y1 = int(min(W, cx + s / 2)), int(min(H, cy + s / 2))
                    fn = "f%04d_%d.png" % (k, n)
                    n += 1
                    png_write(os.path.join(work, "crops", fn), x1 - x0, y1 - y0,
                              [buf[(yy * W + x0) * 3:(yy * W + x1) * 3] for yy in range(y0, y1)])
                    out.write("crops/%s,%s,%s\n" % (fn, name, name))
                    meta[fn] = (t, name)
            k += 1
    p.wait()
    return meta


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def mean(es):
    s = [sum(v) for v in zip(*es)]
    n = math.sqrt(sum(v * v for v in s))
    return [v / n for v in s]


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    emo = argv[0]
    work = argv[1] if len(argv) > 1 else os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                      "emo-pooled")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(ROOT, "tests", "fixtures", "identity", "friends_reel.tsv")) as f:
        gt = idscore.parse_gt(f.read())
    meta = crops(gt, work)
    feats = os.path.join(work, "feats")
    if not os.path.exists(os.path.join(feats, "features.npy")):
        subprocess.run([emo, "features", "--face", os.path.join(work, "crops.csv"), "-o", feats],
                       check=True)
    raw = open(os.path.join(feats, "features.npy"), "rb").read()
    hl = int.from_bytes(raw[8:10], "little")
    data = array.array("f")
    data.frombytes(raw[10 + hl:])
    defs = open(os.path.join(feats, "definition.txt")).read()
    dim = sum(int(x.split()[-1]) for x in defs.split(":")[1].split(";")[0].split(","))
    lo = 512  # fer_penultimate 256 + faceapi_penultimate 256, then face_embedding 1024
    cuts = [c[0] for c in gt["cuts"]]
    X = []
    for r in csv.DictReader(open(os.path.join(feats, "index.csv"))):
        i = int(r["row"])
        fn = r["file"].split("/")[-1]
        t, name = meta[fn]
        e = mean([data[i * dim + lo:i * dim + lo + 1024]])
        fw, fh, fx, fy = float(r["w"]), float(r["h"]), float(r["x"]), float(r["y"])
        w, h, rows = png_read(os.path.join(work, "crops", fn))
        hist, n = [0.0] * BINS ** 3, 0
        for y in range(int(fy + fh * 1.3), min(h, int(fy + fh * 2.4))):
            for x in range(max(0, int(fx - 0.4 * fw)), min(w, int(fx + fw * 1.4))):
                q = rows[y][3 * x:3 * x + 3]
                hist[(q[0] * BINS // 256) * BINS * BINS + (q[1] * BINS // 256) * BINS +
                     q[2] * BINS // 256] += 1
                n += 1
        X.append(dict(name=name, t=t, shot=sum(1 for c in cuts if c <= t + 1e-6), side=fw, e=e,
                      hist=[v / n for v in hist] if n else None))
    print("faces %d" % len(X))
    P = [(dot(a["e"], b["e"]), a["name"] == b["name"], min(a["side"], b["side"]))
         for a, b in itertools.combinations(X, 2) if a["shot"] != b["shot"]]
    for lo_s, hi_s in ((0, 45), (45, 56), (56, 999)):
        g = sorted(s for s, same, m in P if same and lo_s <= m < hi_s)
        i = sorted(s for s, same, m in P if not same and lo_s <= m < hi_s)
        if g and i:
            print("one face, side %d-%d px: genuine median %.3f p10 %.3f | impostor median %.3f "
                  "p99 %.3f max %.3f" % (lo_s, hi_s, g[len(g) // 2], g[len(g) // 10],
                                          i[len(i) // 2], i[int(len(i) * .99)], i[-1]))
    tr = {}
    for x in X:
        tr.setdefault((x["shot"], x["name"]), []).append(x)
    keys = sorted(tr)
    fp = {k: mean([x["e"] for x in tr[k]]) for k in keys}
    ph = {}
    for k in keys:
        hs = [x["hist"] for x in tr[k] if x["hist"]]
        ph[k] = [sum(v) / len(hs) for v in zip(*hs)] if hs else None
    PP = sorted(((dot(fp[a], fp[b]), a[1] == b[1], a, b) for a, b in
                 itertools.combinations(keys, 2) if a[0] != b[0]), reverse=True)
    g = sorted(s for s, same, a, b in PP if same)
    i = sorted(s for s, same, a, b in PP if not same)
    print("shot means (%d shots): genuine median %.3f p10 %.3f | impostor median %.3f p99 %.3f "
          "max %.3f" % (len(keys), g[len(g) // 2], g[len(g) // 10], i[len(i) // 2],
                        i[int(len(i) * .99)], i[-1]))
    top = next((k for k, p in enumerate(PP) if not p[1]), len(PP))
    print("most similar shot pairs all the same person: %d (down to %.3f)"
          % (top, PP[top - 1][0] if top else float("nan")))
    order = sorted(keys, key=lambda k: min(x["t"] for x in tr[k]))

    def score(a, b, wc):
        f = dot(fp[a], fp[b])
        if wc == 0 or ph[a] is None or ph[b] is None:
            return f
        return (1 - wc) * f + wc * sum(math.sqrt(p * q) for p, q in zip(ph[a], ph[b]))

    for wc in (0.0, 0.4):
        for T in (0.66, 0.68, 0.70, 0.72, 0.74, 0.76):
            for M in (0.0, 0.03):
                ids, lab = [], {}
                for k in order:
                    sc = sorted(((max(score(k, m, wc) for m in mem), j)
                                 for j, mem in enumerate(ids)), reverse=True)
                    if sc and sc[0][0] >= T and (len(sc) < 2 or sc[0][0] - sc[1][0] >= M):
                        ids[sc[0][1]].append(k)
                        lab[k] = sc[0][1]
                    else:
                        lab[k] = len(ids)
                        ids.append([k])
                names = {}
                for k, j in lab.items():
                    names.setdefault(j, {})
                    names[j][k[1]] = names[j].get(k[1], 0) + len(tr[k])
                merges = sum(len(d) - 1 for d in names.values())
                persons, idl = sorted({k[1] for k in keys}), sorted(names)
                w = [[names[j].get(p, 0) for j in idl] for p in persons]
                idtp = sum(w[r][c] for r, c in hungarian_max(w).items())
                print("cluster colour %.1f T %.2f M %.2f: %d ids, %d merges, faces under their "
                      "person's id %.3f" % (wc, T, M, len(ids), merges, idtp / len(X)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
