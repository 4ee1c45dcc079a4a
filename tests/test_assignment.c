/* test_assignment.c: asg_solve (pipeline/assignment.c) against exhaustive search over every
 * partial one-to-one assignment on random rectangular matrices (1..7 rows and columns,
 * thresholds from none allowed to all allowed, ties, forbidden NaN/inf entries), plus the
 * argument checks and a full-size 64 x 64 case checked for validity. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "pipeline/assignment.h"

/* Best objective sum(c) + max_cost * unassigned rows over partial assignments of rows
 * [row, n_rows), columns in used_mask taken. */
static double brute(const float *c, int nr, int nc, float mc, int row, unsigned used) {
  if (row == nr) return 0.0;
  double best = (double)mc + brute(c, nr, nc, mc, row + 1, used); /* leave row unassigned */
  for (int j = 0; j < nc; j++) {
    if (used & (1u << j)) continue;
    float x = c[row * nc + j];
    if (!(isfinite(x) && x <= mc)) continue;
    double v = (double)x + brute(c, nr, nc, mc, row + 1, used | (1u << j));
    if (v < best) best = v;
  }
  return best;
}

/* Checks validity and returns the objective of row_to_col. */
static double objective(const float *c, int nr, int nc, float mc, const int *r2c, int *valid) {
  unsigned used = 0;
  double s = 0.0;
  *valid = 1;
  for (int i = 0; i < nr; i++) {
    int j = r2c[i];
    if (j < 0) {
      s += mc;
      continue;
    }
    if (j >= nc || (used & (1u << j))) {
      *valid = 0;
      continue;
    }
    used |= 1u << j;
    float x = c[i * nc + j];
    if (!(isfinite(x) && x <= mc)) *valid = 0;
    s += x;
  }
  return s;
}

static void test_random(void) {
  unsigned rs = 12345;
  int cases = 0, mismatches = 0, invalid = 0;
  double worst = 0.0;
  for (int nr = 1; nr <= 7; nr++)
    for (int nc = 1; nc <= 7; nc++)
      for (int rep = 0; rep < 60; rep++) {
        float c[49];
        int kind = rep % 4;
        for (int k = 0; k < nr * nc; k++) {
          float x = th_randf(&rs, 0.0f, 1.0f);
          if (kind == 1) x = floorf(x * 4.0f) / 4.0f; /* many ties */
          if (kind == 2 && th_randf(&rs, 0, 1) < 0.15f) x = (k & 1) ? NAN : INFINITY;
          c[k] = x;
        }
        float thresholds[] = {-0.1f, 0.0f, 0.25f, 0.5f, 0.8f, 1.0f, 2.0f};
        for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++) {
          float mc = thresholds[t];
          int r2c[7];
          int n = asg_solve(c, nr, nc, mc, r2c);
          int valid, cnt = 0;
          double got = objective(c, nr, nc, mc, r2c, &valid);
          for (int i = 0; i < nr; i++) cnt += r2c[i] >= 0;
          double want = brute(c, nr, nc, mc, 0, 0);
          double d = fabs(got - want);
          if (d > worst) worst = d;
          cases++;
          if (!valid || n != cnt) invalid++;
          if (d > 1e-5) mismatches++;
        }
      }
  CHECK(invalid == 0, "%d of %d results invalid", invalid, cases);
  CHECK(mismatches == 0, "%d of %d results not optimal (worst objective diff %g)", mismatches,
        cases, worst);
  printf("random: %d cases (1..7 x 1..7, 7 thresholds), worst objective diff %.3g\n", cases, worst);
}

/* max_cost = +inf: maximum cardinality first. */
static void test_infinite_threshold(void) {
  /* Greedy would take (0,0) = 0 and leave row 1 unmatched; the optimum assigns both. */
  const float c[4] = {0.0f, 1.0f, 5.0f, INFINITY};
  int r2c[2];
  int n = asg_solve(c, 2, 2, INFINITY, r2c);
  CHECK(n == 2 && r2c[0] == 1 && r2c[1] == 0, "n=%d r2c=%d,%d", n, r2c[0], r2c[1]);
  /* With a threshold, unmatching row 1 (cost 1 + 1) beats 1 + 5 */
  n = asg_solve(c, 2, 2, 1.0f, r2c);
  CHECK(n == 1 && r2c[0] == 0 && r2c[1] == -1, "n=%d r2c=%d,%d", n, r2c[0], r2c[1]);
  /* A classic 3x3 with known optimum 5 (1 + 2 + 2) */
  const float d[9] = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  int r3[3];
  n = asg_solve(d, 3, 3, INFINITY, r3);
  CHECK(n == 3 && r3[0] == 1 && r3[1] == 0 && r3[2] == 2, "3x3: %d %d %d", r3[0], r3[1], r3[2]);
}

static void test_args_and_large(void) {
  int r2c[ASG_MAX + 1];
  float c[4] = {0};
  CHECK(asg_solve(NULL, 2, 2, 1.0f, r2c) < 0, "NULL cost");
  CHECK(asg_solve(c, 2, 2, 1.0f, NULL) < 0, "NULL out");
  CHECK(asg_solve(c, ASG_MAX + 1, 1, 1.0f, r2c) < 0, "too many rows");
  CHECK(asg_solve(c, -1, 1, 1.0f, r2c) < 0, "negative rows");
  CHECK(asg_solve(c, 2, 2, NAN, r2c) < 0, "NaN threshold");
  CHECK(asg_solve(c, 2, 0, 1.0f, r2c) == 0 && r2c[0] == -1 && r2c[1] == -1, "no columns");
  CHECK(asg_solve(c, 2, 2, -INFINITY, r2c) == 0 && r2c[0] == -1, "-inf threshold");
  /* 64 x 64 permutation-like matrix: cost 0 on a shuffled permutation, 1 elsewhere. */
  static float big[ASG_MAX * ASG_MAX];
  int perm[ASG_MAX];
  unsigned rs = 7;
  for (int i = 0; i < ASG_MAX; i++) perm[i] = i;
  for (int i = ASG_MAX - 1; i > 0; i--) {
    int k = (int)th_randf(&rs, 0.0f, (float)i + 0.999f);
    int t = perm[i];
    perm[i] = perm[k];
    perm[k] = t;
  }
  for (int i = 0; i < ASG_MAX; i++)
    for (int j = 0; j < ASG_MAX; j++)
      big[i * ASG_MAX + j] = j == perm[i] ? 0.0f : 0.5f + th_randf(&rs, 0.0f, 0.5f);
  int n = asg_solve(big, ASG_MAX, ASG_MAX, 0.4f, r2c);
  int ok = n == ASG_MAX;
  for (int i = 0; i < ASG_MAX; i++) ok &= r2c[i] == perm[i];
  CHECK(ok, "64x64 hidden permutation not recovered (n=%d)", n);
}

int main(void) {
  test_random();
  test_infinite_threshold();
  test_args_and_large();
  return th_finish("test_assignment");
}
