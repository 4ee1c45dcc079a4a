#!/usr/bin/env python3
"""align_kdef.py: 7-class expression accuracy with the expression crop aligned by the detector's
six keypoints (the default) and by the face mesh's landmarks (`--landmark-crops`), on the labelled sets under ../shared/data/faces/labelled (KDEF's frontal
photos, the Taiwanese performer set). Both runs use `--face-details pose` so that only the crop
differs; a photo counts when a face was found (largest face), and the table says how many of
them had landmarks (the others fall back to the keypoints in both runs).

Usage: dev/align_kdef.py [BUILD_DIR] [DATA_DIR] [--expression fer,faceapi] [--sets kdef-front,taiwan-performer]"""
import json, os, subprocess, sys

def opt(name, default):
    if name in sys.argv:
        v = sys.argv[sys.argv.index(name) + 1]
        sys.argv.remove(name)
        sys.argv.remove(v)
        return v
    return default

exprs = opt('--expression', 'fer,faceapi').split(',')
sets = opt('--sets', 'kdef-front,taiwan-performer').split(',')
args = sys.argv[1:]
build = args[0] if args else 'build'
data = args[1] if len(args) > 1 else os.path.join('..', 'shared', 'data')
names = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']

def run(files, expr, extra):
    out = subprocess.run([os.path.join(build, 'emo'), 'image', '-q', '--face-details', 'pose',
                          '--expression', expr] + extra + files, capture_output=True,
                         text=True).stdout
    return {json.loads(l)['file']: json.loads(l) for l in out.splitlines()}

print('set               model    photos  with_landmarks  keypoint_crops  landmark_crops')
for st in sets:
    root = os.path.join(data, 'faces', 'labelled', st)
    rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(root, 'labels.tsv'))][1:]
    rows = [r for r in rows if r[1] in names]
    files = [os.path.join(root, r[0]) for r in rows]
    for expr in exprs:
        acc = {}
        for mode, extra in (('kp', []), ('lm', ['--landmark-crops'])):
            res = run(files, expr, extra)
            ok = total = lm = 0
            for r, path in zip(rows, files):
                faces = res.get(path, {}).get('faces', [])
                if not faces:
                    continue
                f = max(faces, key=lambda f: f['box'][2] * f['box'][3])
                total += 1
                lm += f.get('pose') is not None
                ok += max(names, key=lambda n: f['expression'][n]) == r[1]
            acc[mode] = (ok, total, lm)
        (ok_k, tot, lm), (ok_l, _, _) = acc['kp'], acc['lm']
        print(f'{st:17s} {expr:8s} {tot:6d}  {lm:14d}  {ok_k / tot:14.3f}  {ok_l / tot:14.3f}',
              flush=True)
