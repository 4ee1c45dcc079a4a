/* assignment.c: linear sum assignment with a "leave unassigned" cost (see assignment.h).
 *
 * Reduction: with M = max_cost, minimising sum(c_ij) + M * unassigned_rows equals minimising
 * sum(c_ij - M) over assigned pairs (plus the constant M * n_rows). So the solver runs on the
 * square N x N matrix (N = max(n_rows, n_cols)) a_ij = c_ij - M for allowed pairs and 0 for
 * forbidden pairs and padding: a perfect assignment of it that uses a 0 entry stands for
 * "unassigned". Allowed pairs have a_ij <= 0, so dropping them never helps and an optimal
 * square assignment restricted to allowed negative-or-zero entries is an optimal partial one.
 * When M is +infinity it is replaced by a finite value larger than any possible total
 * (1 + sum of |allowed costs|), which makes the cardinality dominate.
 *
 * Solver: the classic O(N^3) Hungarian algorithm with potentials u (rows) and v (columns),
 * adding one row at a time and growing a shortest alternating path (Dijkstra-like over the
 * reduced costs) until a free column is reached (as presented by Jonker & Volgenant and in
 * most textbooks). Computed in double; the small matrices make exactness a non-issue. */
#include "pipeline/assignment.h"

#include <math.h>

#include "emo.h"

typedef struct asg_scratch {
  double a[ASG_MAX][ASG_MAX]; /* (N, N) shifted costs */
  double u[ASG_MAX + 1], v[ASG_MAX + 1], minv[ASG_MAX + 1];
  int p[ASG_MAX + 1];   /* p[j]: row (1-based) assigned to column j (1-based), 0 = none */
  int way[ASG_MAX + 1]; /* previous column on the alternating path */
  unsigned char used[ASG_MAX + 1];
} asg_scratch;

static int allowed(float c, float max_cost) {
  return isfinite(c) && c <= max_cost;
}

int asg_solve(const float *cost, int n_rows, int n_cols, float max_cost, int *row_to_col) {
  if (n_rows < 0 || n_cols < 0 || n_rows > ASG_MAX || n_cols > ASG_MAX || isnan(max_cost))
    return EMO_EINVAL;
  if (n_rows > 0 && !row_to_col) return EMO_EINVAL;
  if (n_rows > 0 && n_cols > 0 && !cost) return EMO_EINVAL;
  for (int i = 0; i < n_rows; i++) row_to_col[i] = -1;
  if (n_rows == 0 || n_cols == 0) return 0;

  double m = max_cost;
  if (isinf(max_cost)) {
    if (max_cost < 0) return 0; /* nothing is allowed */
    double s = 1.0;
    for (int i = 0; i < n_rows * n_cols; i++)
      if (isfinite(cost[i])) s += fabs((double)cost[i]);
    m = s;
  }
  asg_scratch w;
  int n = n_rows > n_cols ? n_rows : n_cols;
  int any = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double x = 0.0;
      if (i < n_rows && j < n_cols) {
        float c = cost[(long)i * n_cols + j];
        if (allowed(c, max_cost)) {
          x = (double)c - m;
          any = 1;
        }
      }
      w.a[i][j] = x;
    }
  if (!any) return 0;

  for (int j = 0; j <= n; j++) {
    w.u[j] = 0.0;
    w.v[j] = 0.0;
    w.p[j] = 0;
    w.way[j] = 0;
  }
  for (int i = 1; i <= n; i++) {
    w.p[0] = i;
    int j0 = 0;
    for (int j = 0; j <= n; j++) {
      w.minv[j] = INFINITY;
      w.used[j] = 0;
    }
    do {
      w.used[j0] = 1;
      int i0 = w.p[j0], j1 = 0;
      double delta = INFINITY;
      for (int j = 1; j <= n; j++) {
        if (w.used[j]) continue;
        double cur = w.a[i0 - 1][j - 1] - w.u[i0] - w.v[j];
        if (cur < w.minv[j]) {
          w.minv[j] = cur;
          w.way[j] = j0;
        }
        if (w.minv[j] < delta) {
          delta = w.minv[j];
          j1 = j;
        }
      }
      if (j1 == 0) return EMO_EINTERNAL; /* cannot happen: all entries are finite */
      for (int j = 0; j <= n; j++) {
        if (w.used[j]) {
          w.u[w.p[j]] += delta;
          w.v[j] -= delta;
        } else {
          w.minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (w.p[j0] != 0);
    do { /* flip the alternating path */
      int j1 = w.way[j0];
      w.p[j0] = w.p[j1];
      j0 = j1;
    } while (j0 != 0);
  }

  int count = 0;
  for (int j = 1; j <= n; j++) {
    int i = w.p[j] - 1, c = j - 1;
    if (i < 0 || i >= n_rows || c >= n_cols) continue;
    if (!allowed(cost[(long)i * n_cols + c], max_cost)) continue;
    row_to_col[i] = c;
    count++;
  }
  return count;
}
