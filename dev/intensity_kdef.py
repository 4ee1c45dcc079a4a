#!/usr/bin/env python3
"""intensity_kdef.py: how well the AU-based expression intensity (`emo image --face-details
full`, "intensity") and the classifier's probability separate KDEF's posed expressions
(../shared/data/faces/labelled/kdef-front: 50 people x 2 sessions x 7 expressions).

For each expression E it prints the mean intensity[E] on photos labelled E and on the others
(a useful intensity is high on its own expression and low elsewhere), the accuracy of the argmax
of intensity over the 7 classes, of the classifier's argmax, and of the two combined (the
probability weighted by 0.5 + intensity).

Usage: dev/intensity_kdef.py [BUILD_DIR] [DATA_DIR] [--expression fer|faceapi|ensemble]"""
import json, os, subprocess, sys

args = [a for a in sys.argv[1:] if not a.startswith('--')]
expr = 'fer'
if '--expression' in sys.argv:
    expr = sys.argv[sys.argv.index('--expression') + 1]
    args = [a for a in args if a != expr]
build = args[0] if args else 'build'
data = args[1] if len(args) > 1 else os.path.join('..', 'shared', 'data')
root = os.path.join(data, 'faces', 'labelled', 'kdef-front')
rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(root, 'labels.tsv'))][1:]
files = [os.path.join(root, r[0]) for r in rows]
out = subprocess.run([os.path.join(build, 'emo'), 'image', '-q', '--face-details', 'full',
                      '--expression', expr] + files, capture_output=True, text=True).stdout
res = {json.loads(l)['file']: json.loads(l) for l in out.splitlines()}
names = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']
own = {n: [] for n in names}
other = {n: [] for n in names}
acc_i = acc_p = acc_c = total = 0
for (name, label, *_), path in zip(rows, files):
    faces = res.get(path, {}).get('faces', [])
    if not faces or 'intensity' not in faces[0]:
        continue
    f = max(faces, key=lambda f: f['box'][2] * f['box'][3])
    it, pr = f['intensity'], f['expression']
    total += 1
    for n in names:
        (own if n == label else other)[n].append(it[n])
    acc_i += max(names, key=lambda n: it[n]) == label
    acc_p += max(names, key=lambda n: pr[n]) == label
    acc_c += max(names, key=lambda n: pr[n] * (0.5 + it[n])) == label
print(f'{total} photos with face details (of {len(rows)}); expression model {expr}')
print('expression  mean_intensity_own  mean_intensity_others')
for n in names:
    mo = sum(own[n]) / max(1, len(own[n]))
    mt = sum(other[n]) / max(1, len(other[n]))
    print(f'{n:10s}  {mo:18.3f}  {mt:21.3f}')
print(f'accuracy: argmax intensity {acc_i / total:.3f}, classifier {acc_p / total:.3f}, '
      f'classifier x (0.5 + intensity) {acc_c / total:.3f}')
