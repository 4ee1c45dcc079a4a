#!/usr/bin/env python3
"""test_hungarian.py: checks tools/assignment.py (the Hungarian assignment der.py and idscore.py
share) against brute force on random rectangular matrices, and on hand-made cases.
Run: python3 tools/test_hungarian.py   (stdlib only; exit status 0 when all checks pass)."""
import itertools
import os
import random
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.append(os.path.join(os.path.dirname(here), "tests"))  # pyharness: the shared checks
import assignment  # noqa: E402
from pyharness import check, done  # noqa: E402


# the total is maximised, not greedily: greedy takes (0, 0) = 5 and gets 5, optimal gets 8
check(assignment.hungarian_max([[5, 4], [4, 0]]) == {0: 1, 1: 0}, "greedy trap")
# empty and zero-weight inputs: nothing assigned
check(assignment.hungarian_max([]) == {}, "empty")
check(assignment.hungarian_max([[]]) == {}, "no columns")
check(assignment.hungarian_max([[0, 0], [0, 0]]) == {}, "all zero")
# negative weights are never assigned
check(assignment.hungarian_max([[-1.0, 2.0]]) == {0: 1}, "negative")

rng = random.Random(7)
for t in range(300):
    nr, nc = rng.randint(1, 6), rng.randint(1, 6)
    w = [[rng.choice([0, 0, rng.random() * 10, rng.randint(1, 3)]) for _ in range(nc)]
         for _ in range(nr)]
    m = assignment.hungarian_max(w)
    got = sum(w[i][j] for i, j in m.items())
    best = 0.0
    if nr <= nc:
        for perm in itertools.permutations(range(nc), nr):
            best = max(best, sum(w[i][perm[i]] for i in range(nr)))
    else:
        for perm in itertools.permutations(range(nr), nc):
            best = max(best, sum(w[perm[j]][j] for j in range(nc)))
    check(abs(got - best) <= 1e-6 and len(set(m.values())) == len(m)
          and all(w[i][j] > 0 for i, j in m.items()),
          "random %d (%dx%d): got %f best %f" % (t, nr, nc, got, best))

done("test_hungarian")
