"""learn_baselines.py: scores the built-in models on the rows of an `emo features` DIR, from the
probability blocks of the same vectors (face: fer_probs, faceapi_probs and their mean; voice:
ser_probs, columns 128..135; classes the model lacks, e.g. boredom, are left out), so a head and
the built-in model are compared on exactly the same examples. Cross-check only: emo trains in C.
Usage: /usr/bin/python3 training/learn_baselines.py DIR [PERSON,PERSON...]
"""
import sys

import numpy as np
import pandas as pd

d = sys.argv[1]
persons = sys.argv[2].split(',') if len(sys.argv) > 2 else None
x = np.load(d + '/features.npy')
ix = pd.read_csv(d + '/index.csv')
definition = open(d + '/definition.txt').read()
keep = np.ones(len(ix), bool) if not persons else ix['person'].isin(persons).values
y = ix['label'].astype(str).str.split('-').str[0].values
if definition.startswith('emo-face'):
    names = np.array(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'])
    fer, fa = x[:, -14:-7], x[:, -7:]
    models = [('fer', fer), ('faceapi', fa), ('ensemble', (fer + fa) / 2)]
else:
    names = np.array(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral', 'calm'])
    models = [('built-in SER', x[:, 128:136])]
keep &= np.isin(y, names)
for name, p in models:
    pred = names[p.argmax(1)][keep]
    yy = y[keep]
    cls = sorted(set(yy))
    rec = [np.mean(pred[yy == c] == c) for c in cls]
    print(f'{name} on {keep.sum()} rows: accuracy {np.mean(pred == yy) * 100:.1f}%, '
          f'unweighted {np.mean(rec) * 100:.1f}%  ' +
          ' '.join(f'{c} {r * 100:.0f}' for c, r in zip(cls, rec)))
