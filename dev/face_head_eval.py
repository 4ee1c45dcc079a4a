"""face_head_eval.py: scores emo's built-in face-expression head (a logistic-regression head
file, src/learn/head_file.c) and the two shipped networks (the fer_probs / faceapi_probs
blocks of the same vectors) on an `emo features` DIR, per class and unweighted, on the classes
the set shares with emo's 7. Used for the cross-corpus figures of
models/face_expression/MODEL_CARD.md: the head was trained on KDEF only, so every person of
another set is one it never saw. Cross-check only: emo applies heads in C.

  prepare DATA OUT   writes OUT/taiwan.csv and OUT/ck48.csv (file,label,person) for `emo
                     features`; CK+48's 48x48 crops are too small for BlazeFace, so the last
                     (peak) frame of each sequence is upscaled 4x with a 64-pixel edge border
                     into OUT/ck48/ (contempt, not among emo's classes, is left out)
  score DIR HEAD     prints UA and per-class recall of the head, FER and face-api on DIR
                     (a head on some blocks, `emo train --features`, reads only those)
Usage: /usr/bin/python3 dev/face_head_eval.py prepare ../shared/data /tmp/fh
       build/bin/emo features /tmp/fh/ck48.csv -o /tmp/fh/f_ck48
       /usr/bin/python3 dev/face_head_eval.py score /tmp/fh/f_ck48 \
           models/face_expression/emo_face_kdef_v1.head
"""
import csv
import os
import struct
import sys

import numpy as np

NAMES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']  # emo's order


def read_head(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'EMOHEAD\0', path
    ver, mod, kind, dim, nc, hid, inten = struct.unpack_from('<7I', b, 8)
    assert ver == 1 and kind == 2, 'only version-1 logistic-regression heads'
    o = 8 + 28 + 4  # tau
    dl = struct.unpack_from('<I', b, o)[0]
    definition = b[o + 4:o + 4 + dl].decode()
    o += 4 + dl
    names = []
    for _ in range(nc):
        ln = b[o]
        names.append(b[o + 1:o + 1 + ln].decode())
        o += 1 + ln

    def arr(n):
        nonlocal o
        a = np.frombuffer(b, '<f4', n, o).astype(np.float64)
        o += 4 * n
        return a
    mean, std = arr(dim), arr(dim)
    w, bias = arr(nc * dim).reshape(nc, dim), arr(nc)
    return names, mean, std, w, bias, definition


def blocks(definition):
    """[(name, length)] of a feature definition (src/learn/feature_set.c)."""
    body = definition.split(': ', 1)[1].split('; models ')[0]
    return [(b.split(' ')[0], int(b.split(' ')[1])) for b in body.split(', ')]


def columns(full, sub):
    """Columns of the vectors of definition `full` that a head on definition `sub` reads
    (`emo train --features` keeps whole blocks, in order)."""
    keep, cols, at = {n for n, _ in blocks(sub)}, [], 0
    for n, k in blocks(full):
        if n in keep:
            cols += range(at, at + k)
        at += k
    return np.array(cols, dtype=int)


def tsv(p):
    return list(csv.DictReader(open(p), delimiter='\t'))


def prepare(data, out):
    from PIL import Image, ImageOps
    os.makedirs(out + '/ck48', exist_ok=True)
    base = os.path.abspath(data + '/faces/labelled/taiwan-performer')
    with open(out + '/taiwan.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['file', 'label', 'person'])
        for r in tsv(base + '/labels.tsv'):
            w.writerow([f'{base}/{r["file"]}', r['label'], r['subject']])
    base = os.path.abspath(data + '/faces/labelled/ck48')
    last = {}
    for r in tsv(base + '/labels.tsv'):
        key = (r['subject'], r['sequence'])
        if key not in last or r['frame'] > last[key]['frame']:
            last[key] = r
    with open(out + '/ck48.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['file', 'label', 'person'])
        for r in sorted(last.values(), key=lambda r: r['file']):
            if r['label'] not in NAMES:
                continue
            im = Image.open(f'{base}/{r["file"]}').convert('RGB').resize((192, 192), Image.BICUBIC)
            im = ImageOps.expand(im, border=64, fill=tuple(im.getpixel((0, 0))))
            dst = os.path.abspath(f'{out}/ck48/{r["subject"]}_{r["sequence"]}.png')
            im.save(dst)
            w.writerow([dst, r['label'], r['subject']])


def score(d, head):
    import pandas as pd
    x = np.load(d + '/features.npy').astype(np.float64)
    ix = pd.read_csv(d + '/index.csv')
    y = ix['label'].astype(str).values
    names, mean, std, w, b, definition = read_head(head)
    cols = columns(open(d + '/definition.txt').read().strip(), definition)
    z = (x[:, cols] - mean) / std
    head_pred = np.array(names)[(z @ w.T + b).argmax(1)]
    # the networks from the probability blocks that end the whole vector
    models = [('emo head (KDEF)', head_pred), ('FER-2013', np.array(NAMES)[x[:, -14:-7].argmax(1)]),
              ('face-api', np.array(NAMES)[x[:, -7:].argmax(1)])]
    keep = np.isin(y, NAMES)
    cls = [c for c in NAMES if (y[keep] == c).any()]
    print('%s: %d faces of %d persons, classes %s' % (d, keep.sum(), ix['person'][keep].nunique(),
                                                      ' '.join(cls)))
    for name, pred in models:
        rec = {c: float((pred[keep][y[keep] == c] == c).mean()) for c in cls}
        print('  %-16s UA %.1f%%  WA %.1f%%  ' % (name, 100 * np.mean(list(rec.values())),
                                               100 * (pred[keep] == y[keep]).mean()) +
              ' '.join('%s %.0f' % (c, 100 * r) for c, r in rec.items()))


if __name__ == '__main__':
    if sys.argv[1] == 'prepare':
        prepare(sys.argv[2], sys.argv[3])
    else:
        score(sys.argv[2], sys.argv[3])
