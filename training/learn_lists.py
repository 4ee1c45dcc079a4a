"""learn_lists.py: writes the CSV lists (file,label,person[,intensity]) that `emo features` /
`emo train` read for the shared labelled sets, from their labels.tsv files and file names:
kdef.csv, taiwan.csv, ck48.csv (faces); ravdess16.csv (label = emotion-intensity), ravdess8.csv
(label = emotion, intensity 1 normal / 2 strong), emodb.csv (letter at position 6, official
coding; boredom kept), emovo.csv (voices). Person ids: subject / actor / speaker.
Usage: python3 training/learn_lists.py ../shared/data OUTDIR
"""
import csv
import os
import sys

D, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)


def tsv(p):
    return list(csv.DictReader(open(p), delimiter='\t'))


def write(name, header, rows):
    with open(os.path.join(OUT, name), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


for name, sub in [('kdef', 'kdef-front'), ('taiwan', 'taiwan-performer'), ('ck48', 'ck48')]:
    base = os.path.abspath(f'{D}/faces/labelled/{sub}')
    write(name + '.csv', ['file', 'label', 'person'],
          [[f'{base}/{r["file"]}', r['label'], r['subject']] for r in tsv(f'{base}/labels.tsv')])
emo = {'01': 'neutral', '02': 'calm', '03': 'happy', '04': 'sad', '05': 'angry', '06': 'fear',
       '07': 'disgust', '08': 'surprise'}
r16, r8 = [], []
for a in range(1, 21):
    d = os.path.abspath(f'{D}/ser/ravdess/Actor_{a:02d}')
    for fn in sorted(os.listdir(d)):
        p = fn.split('.')[0].split('-')
        e, it = emo[p[2]], int(p[3])
        r16.append([f'{d}/{fn}', f'{e}-{"normal" if it == 1 else "strong"}', f'A{a:02d}', it])
        r8.append([f'{d}/{fn}', e, f'A{a:02d}', it])
write('ravdess16.csv', ['file', 'label', 'person', 'intensity'], r16)
write('ravdess8.csv', ['file', 'label', 'person', 'intensity'], r8)
L = {'W': 'angry', 'L': 'boredom', 'E': 'disgust', 'A': 'fear', 'F': 'happy', 'T': 'sad',
     'N': 'neutral'}
d = os.path.abspath(f'{D}/ser/emodb')
write('emodb.csv', ['file', 'label', 'person'],
      [[f'{d}/{fn}', L[fn[5]], 'E' + fn[:2]] for fn in sorted(os.listdir(d)) if fn.endswith('.flac')])
d = os.path.abspath(f'{D}/ser/emovo')
write('emovo.csv', ['file', 'label', 'person'],
      [[f'{d}/{r["file"]}', r['label'], r['speaker']] for r in tsv(f'{d}/labels.tsv')])
