#!/usr/bin/env python3
"""test_idscore.py: checks tools/idscore.py: its metrics on toy sequences whose IDF1, ID
switches, fragmentation and merges were worked out by hand, and its ground-truth parser on
malformed files (each refused with a line number, none crashing).
Run: python3 tools/test_idscore.py   (stdlib only; exit status 0 when all checks pass)."""
import os
import random
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.append(os.path.join(os.path.dirname(here), "tests"))  # pyharness: the shared checks
import idscore  # noqa: E402
from pyharness import check, done  # noqa: E402


A = [0, 0, 10, 10]
B = [100, 0, 10, 10]


def gt_of(frames):
    return {"clip": "x", "parts": [], "cuts": [], "frames": frames}


def pred_of(frames, cuts=()):
    return {"frames": frames, "cuts": list(cuts), "embeddings": None}


# perfect: two people, two ids, 4 frames
g = gt_of([(k * 0.5, [(A, "a"), (B, "b")]) for k in range(4)])
p = pred_of([(k * 0.5, [(A, 1), (B, 2)]) for k in range(4)])
s = idscore.score(g, p)
check(s["idtp"] == 8 and idscore.idf1(s) == 1.0 and s["idsw"] == 0 and s["merges"] == 0,
      "perfect: %r" % s)

# one id carried from a to b at frame 2 (a leaves, b arrives where a was): a merge and a
# switch for nobody (b's first match); IDF1 = 2*3/(4+4)
g = gt_of([(0.0, [(A, "a")]), (0.5, [(A, "a")]), (1.0, [(A, "b")]), (1.5, [(A, "b")])])
p = pred_of([(0.0, [(A, 1)]), (0.5, [(A, 1)]), (1.0, [(A, 1)]), (1.5, [(A, 2)])])
s = idscore.score(g, p)
check(s["merges"] == 1 and s["idsw"] == 1 and abs(idscore.idf1(s) - 0.75) < 1e-9,
      "merge: %r idf1 %.3f" % (s, idscore.idf1(s)))

# fragmentation: a matched, missed (emo has no face), matched again with a new id
g = gt_of([(k * 0.5, [(A, "a")]) for k in range(4)])
p = pred_of([(0.0, [(A, 1)]), (0.5, [(A, 1)]), (1.0, []), (1.5, [(A, 2)])])
s = idscore.score(g, p)
check(s["frag"] == 1 and s["idsw"] == 1 and s["merges"] == 0 and
      abs(idscore.idf1(s) - 2 * 2 / 7) < 1e-9, "fragment: %r" % s)

# a false positive at a labelled time lowers IDF1 (precision), and the 0.06 s tolerance
g = gt_of([(0.0, [(A, "a")])])
p = pred_of([(0.05, [(A, 1), (B, 9)])])
s = idscore.score(g, p)
check(s["n_pred"] == 2 and abs(idscore.idf1(s) - 2 / 3) < 1e-9, "false positive: %r" % s)
p = pred_of([(0.07, [(A, 1)])])
check(idscore.score(g, p)["matched"] == 0, "a frame 0.07 s away is not the labelled one")

# cuts: within 0.15 s, or inside a dissolve's span
g = {"clip": "x", "parts": [], "frames": [],
     "cuts": [(1.0, 1.0, "hard"), (3.0, 3.5, "dissolve")]}
s = idscore.score(g, pred_of([], cuts=[1.1, 3.4, 7.0]))
check(s["cut_hits"] == 2 and s["cuts_pred"] == 3, "cuts: %r" % s)


# the parser: a good file, then malformed ones, each refused with file:line
good = ("emo-identity-gt\t1\n# c\nclip\tav/x.mp4\ncut\t1.0\ncut\t2\t2.5\tdissolve\n"
        "frame\t0.0\nface\t1\t2\t3\t4\tp_1\nframe\t0.5\n")
g = idscore.parse_gt(good, "g")
check(g["clip"] == "av/x.mp4" and len(g["frames"]) == 2 and g["frames"][0][1][0][1] == "p_1"
      and g["cuts"] == [(1.0, 1.0, "hard"), (2.0, 2.5, "dissolve")], "good file %r" % g)
bad = [
    "", "emo-identity-gt\t2\nclip\tx\n", "nonsense", "emo-identity-gt\t1\n",
    "emo-identity-gt\t1\nclip\t/etc/passwd\n", "emo-identity-gt\t1\nclip\t../x\n",
    "emo-identity-gt\t1\nclip\tx\nface\t1\t2\t3\t4\tp\n",
    "emo-identity-gt\t1\nclip\tx\nframe\t1\nframe\t0.5\n",
    "emo-identity-gt\t1\nclip\tx\nframe\tnan\n", "emo-identity-gt\t1\nclip\tx\nframe\t-1\n",
    "emo-identity-gt\t1\nclip\tx\nframe\t1\nface\t1\t2\t0\t4\tp\n",
    "emo-identity-gt\t1\nclip\tx\nframe\t1\nface\t1\t2\t3\t4\tp q\n",
    "emo-identity-gt\t1\nclip\tx\nframe\t1\nface\t1\t2\t3\n",
    "emo-identity-gt\t1\nclip\tx\ncut\t2\t1\thard\n",
    "emo-identity-gt\t1\nclip\tx\ncut\t1\t2\twipe\n",
    "emo-identity-gt\t1\nclip\tx\nclip\ty\n", "emo-identity-gt\t1\npart\ta\nclip\tb\n",
    "emo-identity-gt\t1\nclip\tx\n" + "y" * 5000 + "\n",
]
for b in bad:
    try:
        idscore.parse_gt(b, "b")
        check(False, "accepted %r" % b[:40])
    except idscore.GtError as e:
        check(str(e).startswith("b"), "message names the file: %s" % e)
# random mutations of the good file: refused with GtError or parsed, never another exception
rnd = random.Random(11)
for _ in range(3000):
    t = list(good)
    for _ in range(rnd.randint(1, 4)):
        k = rnd.randrange(len(t))
        op = rnd.randrange(3)
        if op == 0:
            t[k] = rnd.choice("\t\n 0.9-x#eE")
        elif op == 1:
            del t[k]
        else:
            t.insert(k, rnd.choice("\t\n1.-e"))
    try:
        idscore.parse_gt("".join(t), "m")
    except idscore.GtError:
        pass
    except Exception as e:  # noqa: BLE001
        check(False, "mutation raised %r" % e)
# every committed ground truth parses
fx = os.path.join(here, "..", "tests", "fixtures", "identity")
for f in sorted(os.listdir(fx)):
    if f.endswith(".tsv"):
        with open(os.path.join(fx, f), encoding="utf-8") as fh:
            g = idscore.parse_gt(fh.read(), f)
        check(len(g["frames"]) > 0, "%s has frames" % f)

done("test_idscore")
