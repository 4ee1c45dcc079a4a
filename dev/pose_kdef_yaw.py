#!/usr/bin/env python3
"""pose_kdef_yaw.py: head-pose yaw of `emo image --face-details pose` against KDEF's nominal
camera angles (../shared/data/faces/pose_kdef: 50 people x 2 sessions x 0, +-45, +-90 degrees;
+45 = half-left profile, the head turned to the subject's right, emo's positive yaw).

Per nominal angle: photos, how many had no face detected, how many had a face but no landmarks
(details with "pose": null: the mesh's presence below 0.5), and the median and 90th percentile
of |yaw - nominal| over the photos with a pose. The angles are KDEF's camera positions, not
measured per photo, so a few degrees of disagreement is the data's own spread.

Usage: dev/pose_kdef_yaw.py [BUILD_DIR] [DATA_DIR]   (defaults: build, ../shared/data)"""
import json, os, statistics, subprocess, sys

build = sys.argv[1] if len(sys.argv) > 1 else 'build'
data = sys.argv[2] if len(sys.argv) > 2 else os.path.join('..', 'shared', 'data')
root = os.path.join(data, 'faces', 'pose_kdef')
rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(root, 'labels.tsv'))][1:]
files = [os.path.join(root, r[0]) for r in rows]
out = subprocess.run([os.path.join(build, 'emo'), 'image', '-q', '--face-details', 'pose'] + files,
                     capture_output=True, text=True).stdout
res = {}
for line in out.splitlines():
    j = json.loads(line)
    res[j['file']] = j
by = {}
for (name, yaw, _), path in zip(rows, files):
    j = res.get(path, {})
    faces = sorted(j.get('faces', []), key=lambda f: -f['box'][2] * f['box'][3])
    s = by.setdefault(int(yaw), {'n': 0, 'noface': 0, 'nomesh': 0, 'err': [], 'yaw': []})
    s['n'] += 1
    if not faces:
        s['noface'] += 1
    elif faces[0].get('pose') is None:
        s['nomesh'] += 1
    else:
        y = faces[0]['pose']['yaw']
        s['yaw'].append(y)
        s['err'].append(abs(y - int(yaw)))
print('nominal  photos  no_face  no_landmarks  with_pose  median_yaw  median_|err|  p90_|err|')
for a in sorted(by):
    s = by[a]
    e = sorted(s['err'])
    med = statistics.median(e) if e else float('nan')
    p90 = e[min(len(e) - 1, int(0.9 * len(e)))] if e else float('nan')
    my = statistics.median(s['yaw']) if s['yaw'] else float('nan')
    print(f'{a:+7d}  {s["n"]:6d}  {s["noface"]:7d}  {s["nomesh"]:12d}  {len(e):9d}  {my:10.1f}  {med:12.1f}  {p90:9.1f}')
