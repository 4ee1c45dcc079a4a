#!/usr/bin/env python3
"""test_der.py: checks tools/der.py on toy RTTMs whose DER was worked out by hand.
Run: python3 tools/test_der.py   (stdlib only; exit status 0 when all checks pass)."""
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.append(os.path.join(os.path.dirname(here), "tests"))  # pyharness: the shared checks
import der  # noqa: E402
from pyharness import check, done  # noqa: E402


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol


def score(ref, hyp, uem=None, collar=0.0):
    return der.score_file({k: der.merge(v) for k, v in ref.items()},
                          {k: der.merge(v) for k, v in hyp.items()}, uem, collar)


def der_pct(r):
    return 100.0 * (r["miss"] + r["fa"] + r["conf"]) / r["speech"]


# 1. perfect answer with other labels: DER 0
r = score({"A": [(0, 10)], "B": [(10, 20)]}, {"x": [(10, 20)], "y": [(0, 10)]})
check(close(r["speech"], 20) and close(der_pct(r), 0), "perfect relabelled: %r" % r)

# 2. miss 2 s and false alarm 2 s over 10 s of speech: 40 %
r = score({"A": [(0, 10)]}, {"X": [(0, 8), (12, 14)]}, uem=[(0, 20)])
check(close(r["miss"], 2) and close(r["fa"], 2) and close(r["conf"], 0) and close(der_pct(r), 40),
      "miss+fa: %r" % r)

# 3. one hypothesis speaker for two reference speakers: half confused
r = score({"A": [(0, 10)], "B": [(10, 20)]}, {"X": [(0, 20)]})
check(close(r["conf"], 10) and close(der_pct(r), 50), "confusion: %r" % r)

# 4. overlap: 5 s of two reference speakers, one hypothesis speaker -> 5 s missed of 15 s
r = score({"A": [(0, 10)], "B": [(5, 10)]}, {"X": [(0, 10)]})
check(close(r["speech"], 15) and close(r["miss"], 5) and close(r["conf"], 0),
      "overlap miss: %r" % r)
# overlap with three hypothesis speakers: A-X 4 s, A-Y 5 s, A-Z 5 s, B-Y 5 s, B-Z 5 s.
# The unique best mapping (10 s) is A->Y, B->Z (or A->Z, B->Y); X stays unmapped, so
# [0,4) is confusion (4 s), [4,5) is missed (1 s), [5,10) is all correct.
r = score({"A": [(0, 10)], "B": [(5, 10)]}, {"X": [(0, 4)], "Y": [(5, 10)], "Z": [(5, 10)]})
check(close(r["conf"], 4) and close(r["miss"], 1) and close(r["fa"], 0), "overlap mapped: %r" % r)

# 5. collar: boundary 0.2 s late is forgiven with a 0.25 s collar, not without
ref = {"A": [(0, 10)], "B": [(10, 20)]}
hyp = {"X": [(0, 10.2)], "Y": [(10.2, 20)]}
r = score(ref, hyp, uem=[(0, 20)], collar=0.25)
check(close(r["speech"], 19) and close(der_pct(r), 0), "collar forgiven: %r" % r)
r = score(ref, hyp, uem=[(0, 20)], collar=0.0)
check(close(r["conf"], 0.2) and close(der_pct(r), 1.0), "no collar: %r" % r)

# 6. optimal mapping beats greedy: A-X 3 s, A-Y 2 s, B-X 2 s, B-Y 0 s.
# greedy A->X gives 3 s correct; optimal A->Y, B->X gives 4 s; conf = 7 - 4 = 3 -> 42.857 %
r = score({"A": [(0, 5)], "B": [(5, 7)]}, {"X": [(0, 3), (5, 7)], "Y": [(3, 5)]})
check(close(r["conf"], 3) and close(der_pct(r), 300.0 / 7), "hungarian vs greedy: %r" % r)

# 7. UEM: hypothesis speech outside the UEM is not scored
r = score({"A": [(0, 10)]}, {"X": [(0, 10)], "Y": [(10, 20)]}, uem=[(0, 10)])
check(close(der_pct(r), 0), "uem: %r" % r)

# 8. (the Hungarian assignment itself: tools/test_hungarian.py)

# 9. the command line: per-file and TOTAL lines, malformed input gives status 2
with tempfile.TemporaryDirectory() as d:
    refp, hypp, uemp, badp = (os.path.join(d, n) for n in ("r.rttm", "h.rttm", "u.uem", "b.rttm"))
    with open(refp, "w") as f:
        f.write("SPEAKER f1 1 0.000 10.000 <NA> <NA> A <NA> <NA>\n"
                "SPEAKER f2 1 0.000 10.000 <NA> <NA> A <NA> <NA>\n"
                "SPEAKER f2 1 10.000 10.000 <NA> <NA> B <NA> <NA>\n")
    with open(hypp, "w") as f:
        f.write("SPEAKER f1 1 0.000 8.000 <NA> <NA> S0 <NA> <NA>\n"
                "SPEAKER f2 1 0.000 20.000 <NA> <NA> S0 <NA> <NA>\n")
    with open(uemp, "w") as f:
        f.write("f1 1 0.000 10.000\nf2 1 0.000 20.000\n")
    with open(badp, "w") as f:
        f.write("SPEAKER f1 1 zero 8.000 <NA> <NA> S0 <NA> <NA>\n")
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "der.py")
    out = subprocess.run([sys.executable, tool, "--collar", "0", "--uem", uemp, refp, hypp],
                         capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    check(out.returncode == 0 and len(lines) == 3, "cli output: %r" % out.stdout)
    # f1: miss 2 of 10 -> 20 %; f2: conf 10 of 20 -> 50 %; total (2 + 10) / 30 = 40 %
    check(lines[0].startswith("f1 DER=20.00 MISS=20.00 FA=0.00 CONF=0.00"), lines[0])
    check(lines[1].startswith("f2 DER=50.00 MISS=0.00 FA=0.00 CONF=50.00"), lines[1])
    check(lines[2].startswith("TOTAL DER=40.00 MISS=6.67 FA=0.00 CONF=33.33 SPEECH=30.000"), lines[2])
    out = subprocess.run([sys.executable, tool, "--file", "f1", refp, hypp],
                         capture_output=True, text=True)
    check(out.returncode == 0 and out.stdout.startswith("f1 ") and
          len(out.stdout.strip().splitlines()) == 2, "--file: %r" % out.stdout)
    out = subprocess.run([sys.executable, tool, refp, badp], capture_output=True, text=True)
    check(out.returncode == 2 and "b.rttm:1" in out.stderr, "bad input: %r" % out.stderr)

done("test_der")
