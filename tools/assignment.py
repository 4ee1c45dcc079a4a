"""assignment.py: the one maximum-weight one-to-one assignment of the Python tools (der.py maps
reference speakers to hypothesis speakers with it, idscore.py labelled persons to emo's ids).

The Hungarian method (Kuhn 1955, Munkres 1957) in its shortest-augmenting-path form with row
and column potentials, O(n^3) on the square matrix padded with zero weights; costs are
max(w) - w so they are non-negative. Stdlib only. Not a general solver: weights are finite
numbers, a pair of weight <= 0 is never reported as assigned.
Checked against brute force on random rectangular matrices by tools/test_hungarian.py."""
import math


def hungarian_max(w):
    """Assignment maximising the sum of w[i][j] over a rectangular matrix (a list of rows of
    equal length; rectangular allowed). Returns {i: j} for the assigned pairs of positive
    weight."""
    nr = len(w)
    nc = len(w[0]) if nr else 0
    if nr == 0 or nc == 0:
        return {}
    n = max(nr, nc)
    big = max(max(row) for row in w)
    big = max(big, 0)
    # square cost matrix, padded with zero weight (= no gain), shifted to be non-negative
    cost = [[(big - w[i][j]) if (i < nr and j < nc) else big for j in range(n)] for i in range(n)]
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    p = [0] * (n + 1)  # p[j]: row matched to column j (1-based), 0 = none
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [math.inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], math.inf, 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    out = {}
    for j in range(1, n + 1):
        i = p[j] - 1
        if i < nr and j - 1 < nc and w[i][j - 1] > 0:
            out[i] = j - 1
    return out
