#!/usr/bin/env python3
"""intensity_calib.py: fits and evaluates emo's calibrated expression intensity
(vision/face_aus.c): for each expression E, intensity_E = 1 / (1 + exp(-(a_E * r_E + b_E))),
where r_E is the raw EMFACS-prototype score (mean of the prototype's AU proxies / 5, as
fa_intensity computes it). a_E, b_E are a logistic regression of "posed E" (1) against "neutral"
(0) on KDEF's frontal photos of the training subjects (odd-numbered: F01, F03, ..., M25; both
sessions), so intensity_E = 0.5 is the raw score at which, on KDEF, a face posing E and a neutral
face are equally likely (with equal priors: the classes are weighted to equal total weight).

Evaluation, on the held-out KDEF subjects (even-numbered) and on the Taiwanese performer set
(posed expressions of three kinds vs its neutral baseline): per expression the AUC of posed E
against neutral, the mean intensity_E on posed E, on neutral and on the other posed expressions,
and the share of posed E above 0.5 and of neutral below it; on the Taiwanese set also the
Spearman correlation of intensity_E with the raters' agreement on the label.

Input: JSON Lines of `emo image --face-details full --expression none` on the two sets, e.g.
  R=../shared/data/faces/labelled/kdef-front
  build/emo image -q --face-details full --expression none \
      $(tail -n +2 $R/labels.tsv | cut -f1 | sed "s|^|$R/|") > KDEF.jsonl
and the same with taiwan-performer > TAIWAN.jsonl.
Usage: intensity_calib.py KDEF.jsonl TAIWAN.jsonl [DATA] [--negatives-all]
(--negatives-all: fit posed E against every other photo instead of the neutral ones)."""
import json, math, os, sys

names = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']
proto = {'angry': ['AU4', 'AU5', 'AU7', 'AU23'], 'disgust': ['AU9', 'AU10', 'AU15'],
         'fear': ['AU1', 'AU2', 'AU4', 'AU5', 'AU20', 'AU26'], 'happy': ['AU6', 'AU12'],
         'sad': ['AU1', 'AU4', 'AU15'], 'surprise': ['AU1', 'AU2', 'AU5', 'AU26']}
neg_all = '--negatives-all' in sys.argv
if neg_all:
    sys.argv.remove('--negatives-all')
data = sys.argv[3] if len(sys.argv) > 3 else os.path.join('..', 'shared', 'data')

def load(jsonl, st):
    root = os.path.join(data, 'faces', 'labelled', st)
    rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(root, 'labels.tsv'))]
    head, rows = rows[0], rows[1:]
    res = {}
    for l in open(jsonl):
        j = json.loads(l)
        fs = [f for f in j.get('faces', []) if f.get('aus')]
        if fs:
            res[os.path.normpath(j['file'])] = max(fs, key=lambda f: f['box'][2] * f['box'][3])
    out = []
    for r in rows:
        f = res.get(os.path.normpath(os.path.join(root, r[0])))
        if f is None or r[1] not in names:
            continue
        raw = {e: sum(f['aus'][a] for a in p) / 5 / len(p) for e, p in proto.items()}
        out.append(dict(zip(head, r), raw=raw))
    return out

def fit(xs, ys):
    """1-D logistic regression, classes weighted to equal total weight, small L2 on the slope."""
    npos = sum(ys); nneg = len(ys) - npos
    w = [0.5 / npos if y else 0.5 / nneg for y in ys]
    a, b = 1.0, 0.0
    for _ in range(100):
        ga = gb = haa = hab = hbb = 0.0
        for x, y, wi in zip(xs, ys, w):
            p = 1 / (1 + math.exp(-(a * x + b)))
            ga += wi * (p - y) * x; gb += wi * (p - y)
            s = wi * p * (1 - p)
            haa += s * x * x; hab += s * x; hbb += s
        ga += 1e-4 * a; haa += 1e-4
        det = haa * hbb - hab * hab
        da = (hbb * ga - hab * gb) / det; db = (haa * gb - hab * ga) / det
        a -= da; b -= db
        if abs(da) + abs(db) < 1e-10:
            break
    return a, b

def auc(pos, neg):
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))

def spearman(x, y):
    def rank(v):
        o = sorted(range(len(v)), key=lambda i: v[i]); r = [0.0] * len(v); i = 0
        while i < len(o):
            j = i
            while j + 1 < len(o) and v[o[j + 1]] == v[o[i]]:
                j += 1
            for k in range(i, j + 1):
                r[o[k]] = (i + j) / 2
            i = j + 1
        return r
    rx, ry = rank(x), rank(y); mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    c = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return c / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))

kdef = load(sys.argv[1], 'kdef-front')
tw = load(sys.argv[2], 'taiwan-performer')
train = [r for r in kdef if int(r['subject'][1:]) % 2 == 1]
test = [r for r in kdef if int(r['subject'][1:]) % 2 == 0]
print(f'KDEF: {len(train)} training photos (odd subjects), {len(test)} held out; '
      f'Taiwanese set: {len(tw)} photos with AU proxies')
coef = {}
for e in proto:
    rs = [r for r in train if neg_all or r['label'] in (e, 'neutral')]
    coef[e] = fit([r['raw'][e] for r in rs], [r['label'] == e for r in rs])
sig = lambda e, r: 1 / (1 + math.exp(-(coef[e][0] * r['raw'][e] + coef[e][1])))
print('C table (a, b):')
for e in proto:
    print(f'    [EMO_EXPR_{e.upper()}] = {{{coef[e][0]:.3f}f, {coef[e][1]:.3f}f}},'
          f'  /* raw score at 0.5: {-coef[e][1] / coef[e][0]:.3f} */')
for title, rows in (('KDEF held-out subjects', test), ('Taiwanese performer set', tw)):
    print(f'\n{title}:')
    print('expression  AUC_vs_neutral  AUC_vs_other  mean_own  mean_neutral  mean_other  own>0.5  neutral<0.5  other<0.5'
          + ('  spearman_vs_raters' if rows is tw else ''))
    for e in proto:
        own = [sig(e, r) for r in rows if r['label'] == e]
        neu = [sig(e, r) for r in rows if r['label'] == 'neutral']
        oth = [sig(e, r) for r in rows if r['label'] not in (e, 'neutral')]
        line = (f'{e:10s}  {auc(own, neu):14.3f}  {auc(own, oth):12.3f}  {sum(own) / len(own):8.3f}  '
                f'{sum(neu) / len(neu):12.3f}  {sum(oth) / len(oth):10.3f}  '
                f'{sum(v > 0.5 for v in own) / len(own):7.2f}  '
                f'{sum(v < 0.5 for v in neu) / len(neu):11.2f}  '
                f'{sum(v < 0.5 for v in oth) / len(oth):9.2f}')
        if rows is tw:
            rr = [r for r in rows if r['label'] == e]
            line += f'  {spearman([sig(e, r) for r in rr], [float(r["rater_share_for_label"]) for r in rr]):18.3f}'
        print(line)
