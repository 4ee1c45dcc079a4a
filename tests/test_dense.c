/* test_dense.c: nn/dense.c's fast kernels against their plain references (NN_DENSE_REFERENCE),
 * on pseudo-random inputs with awkward sizes (1, 7, 8, 13, 127: a lone element, a tail
 * only, one full vector, vector + tail, many vectors + tail) and pointers one or three floats
 * off a 32-byte boundary. Tolerances, each argued where it is checked:
 *   gemm       fast (sgemm, float sums) vs reference (double sums, one rounding):
 *              |d| <= (K + 2) u (sum_k |a_ik b_kj| + |beta c_ij|), u = 2^-24, the textbook
 *              bound of a float dot product of length K;
 *   GELU       erf approximation |error| < 5e-7 -> |d| <= 0.5 |x| 5e-7 + 2 ulp of the result
 *              (x the GELU input), checked with margin as 3e-7 |x| + 2^-22 |ref|;
 *   LayerNorm  mean and variance in float (8 partial sums, so the rounding errors of up to
 *              127 values in [-4, 6] grow like sqrt(C) u, not C u) vs double: |d| <= 5e-6 on
 *              outputs of size ~3 (measured 7e-7); GELU after it (slope <= 1.13) adds its own;
 *   softmax    each exp within 2 ulp of libm's expf, the reciprocal sums within (n + 2) u
 *              relative.
 * Bit-exact where it holds: the residual add of LayerNorm (x += add, stored back), add+GELU's
 * sum, the scale/shift of the GELU pass (the same float operations in both paths), GELU's and
 * exp's results per element whatever the row length, the element's position and the pointers'
 * alignment (the 8-lane code with padded tails), the reference gemm against the test's own
 * double dot product, the channel sums, the finiteness check, the scratch sizes.
 * The fast path run is the clone this CPU picks (x86-64-v3 on AVX2 machines, else baseline). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/dense.h"

#define U 5.9604644775390625e-8 /* 2^-24: float's unit roundoff */

static const int sizes[] = {1, 7, 8, 13, 127};
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])
static const int offsets[] = {0, 1, 3}; /* floats past a 64-byte boundary */
#define N_OFFSETS (int)(sizeof offsets / sizeof offsets[0])

static unsigned rng = 12345u;

/* n floats at `off` floats past a 64-byte aligned block (freed with free(*base)). */
static float *alloc_at(size_t n, int off, void **base) {
  *base = aligned_alloc(64, ((n + (size_t)off) * sizeof(float) + 63) & ~(size_t)63);
  return (float *)*base + off;
}

static void fill(float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = th_randf(&rng, lo, hi);
}

static int same_bits(const float *a, const float *b, size_t n) {
  return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Distance in units in the last place between two finite floats of the same sign. */
static int64_t ulps(float a, float b) {
  int32_t x, y;
  memcpy(&x, &a, 4);
  memcpy(&y, &b, 4);
  return x > y ? (int64_t)x - y : (int64_t)y - x;
}

static float gelu_libm(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* ---- gemm --------------------------------------------------------------------------- */

static void test_gemm(void) {
  double worst = 0; /* |d| / bound */
  int all_ref_exact = 1, nan_ignored = 1;
  for (int im = 0; im < N_SIZES; im++)
    for (int in = 0; in < N_SIZES; in++)
      for (int ik = 0; ik < N_SIZES; ik++)
        for (int v = 0; v < 4; v++) {
          const int M = sizes[im], N = sizes[in], K = sizes[ik], bt = v & 1;
          const float beta = (v & 2) ? 1.0f : 0.0f;
          const int off = offsets[(im + in + ik + v) % N_OFFSETS];
          const int lda = K + (v & 2), ldb = (bt ? K : N) + 1, ldc = N + 3;
          const size_t na = (size_t)M * lda, nb = (size_t)(bt ? N : K) * ldb, nc = (size_t)M * ldc;
          void *ba, *bb, *bc, *br;
          float *A = alloc_at(na, off, &ba), *B = alloc_at(nb, off, &bb);
          float *C = alloc_at(nc, off, &bc), *R = alloc_at(nc, 0, &br);
          fill(A, na, -1, 1);
          fill(B, nb, -1, 1);
          fill(C, nc, -1, 1);
          if (beta == 0.0f) /* beta 0 must ignore C, NaN included */
            for (size_t i = 0; i < nc; i++) C[i] = NAN;
          memcpy(R, C, nc * sizeof(float));
          nn_dense_gemm(NN_DENSE_FAST, bt, M, N, K, A, lda, B, ldb, beta, C, ldc);
          nn_dense_gemm(NN_DENSE_REFERENCE, bt, M, N, K, A, lda, B, ldb, beta, R, ldc);
          for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
              double s = 0, mag = 0;
              for (int k = 0; k < K; k++) {
                double p = (double)A[(size_t)i * lda + k] *
                           (bt ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                s += p;
                mag += fabs(p);
              }
              const float r = R[(size_t)i * ldc + j], c = C[(size_t)i * ldc + j];
              /* the reference is the double dot product plus beta C, rounded once; C's old
               * value is gone, but beta 1 cases started from values in [-1, 1] */
              if (beta == 0.0f && r != (float)s) all_ref_exact = 0;
              if (isnan(r) || isnan(c)) nan_ignored = 0;
              double bound = (K + 2) * U * (mag + (beta != 0.0f ? 1.0 : 0.0));
              double d = fabs((double)c - r) / bound;
              if (!(d <= worst)) worst = d;
            }
          free(ba);
          free(bb);
          free(bc);
          free(br);
        }
  printf("gemm: worst |fast - reference| = %.3f of the (K+2)u sum|ab| bound\n", worst);
  CHECK(worst <= 1.0, "gemm: fast vs reference at %.3f of the bound", worst);
  CHECK(all_ref_exact, "gemm: the reference is not the double dot product rounded once");
  CHECK(nan_ignored, "gemm: beta 0 let NaN from C through");
}

/* ---- GELU pass ---------------------------------------------------------------------- */

static void test_gelu(void) {
  double worst = 0; /* |d| / tolerance */
  int exact_ref = 1, lanes = 1;
  for (int it = 0; it < N_SIZES; it++)
    for (int v = 0; v < 4 * N_OFFSETS; v++) {
      const int T = v % 3 == 0 ? 1 : 3, C = sizes[it], off = offsets[v % N_OFFSETS];
      const size_t n = (size_t)T * C;
      void *bf, *br, *bx, *bs;
      float *F = alloc_at(n, off, &bf), *R = alloc_at(n, 0, &br), *X = alloc_at(n, 0, &bx);
      float *sc = alloc_at(2 * (size_t)C, off, &bs), *sh = sc + C;
      fill(X, n, -9, 9); /* beyond +-4 sqrt 2 the erf approximation is exactly +-1 */
      fill(sc, (size_t)C, 0.5f, 1.5f);
      fill(sh, (size_t)C, -0.5f, 0.5f);
      const float *scale = (v & 1) ? sc : NULL, *shift = (v & 2) ? sh : NULL;
      memcpy(F, X, n * sizeof(float));
      memcpy(R, X, n * sizeof(float));
      nn_dense_gelu_rows(NN_DENSE_FAST, F, T, C, scale, shift);
      nn_dense_gelu_rows(NN_DENSE_REFERENCE, R, T, C, scale, shift);
      for (size_t i = 0; i < n; i++) {
        const int c = (int)(i % (size_t)C);
        float z = X[i]; /* the GELU input: the same float operations as the kernels */
        if (scale) z *= scale[c];
        if (shift) z += shift[c];
        if (R[i] != gelu_libm(z)) exact_ref = 0;
        double tol = 3e-7 * fabs(z) + ldexp(fabs(R[i]), -22) + 1e-30;
        double d = fabs((double)F[i] - R[i]) / tol;
        if (!(d <= worst)) worst = d;
        /* the same element alone (a 1-float row: the padded tail) gives the same bits */
        float one = z;
        nn_dense_gelu_rows(NN_DENSE_FAST, &one, 1, 1, NULL, NULL);
        if (!same_bits(&one, &F[i], 1)) lanes = 0;
      }
      free(bf);
      free(br);
      free(bx);
      free(bs);
    }
  printf("gelu: worst |fast - reference| = %.3f of 3e-7|x| + 2^-22|ref|\n", worst);
  CHECK(worst <= 1.0, "gelu: fast vs reference at %.3f of the tolerance", worst);
  CHECK(exact_ref, "gelu: the reference is not 0.5 x (1 + erff(x / sqrt 2)) after scale, shift");
  CHECK(lanes, "gelu: an element's result depends on its row or position");
}

/* ---- LayerNorm ---------------------------------------------------------------------- */

static void test_layernorm(void) {
  double worst = 0, worst_gelu = 0;
  int add_exact = 1;
  for (int it = 0; it < N_SIZES; it++)
    for (int v = 0; v < 8 * N_OFFSETS; v++) {
      const int T = 3, C = sizes[it], off = offsets[v % N_OFFSETS];
      const int has_add = v & 1, affine = v & 2, gelu = v & 4, in_place = (v / 8) & 1;
      const size_t n = (size_t)T * C;
      void *b1, *b2, *b3, *b4, *b5, *b6;
      float *xf = alloc_at(n, off, &b1), *xr = alloc_at(n, 0, &b2), *of = alloc_at(n, off, &b3);
      float *orf = alloc_at(n, 0, &b4), *x0 = alloc_at(n, 0, &b5);
      float *par = alloc_at(3 * (size_t)C, off, &b6), *add = par, *g = par + C, *b = par + 2 * C;
      fill(x0, n, -4, 6); /* a non-zero mean, as residual streams have */
      fill(add, (size_t)C, -1, 1);
      fill(g, (size_t)C, 0.5f, 1.5f);
      fill(b, (size_t)C, -0.5f, 0.5f);
      memcpy(xf, x0, n * sizeof(float));
      memcpy(xr, x0, n * sizeof(float));
      float *outf = in_place ? xf : of, *outr = in_place ? xr : orf;
      nn_dense_layernorm_rows(NN_DENSE_FAST, xf, T, C, has_add ? add : NULL, affine ? g : NULL,
                              affine ? b : NULL, 1e-5f, outf, gelu);
      nn_dense_layernorm_rows(NN_DENSE_REFERENCE, xr, T, C, has_add ? add : NULL, affine ? g : NULL,
                              affine ? b : NULL, 1e-5f, outr, gelu);
      if (!in_place)
        for (size_t i = 0; i < n; i++) {
          float want = has_add ? x0[i] + add[i % (size_t)C] : x0[i];
          if (!same_bits(&xf[i], &want, 1) || !same_bits(&xr[i], &want, 1)) add_exact = 0;
        }
      for (size_t i = 0; i < n; i++) {
        double d = fabs((double)outf[i] - outr[i]);
        if (gelu) {
          if (!(d <= worst_gelu)) worst_gelu = d;
        } else if (!(d <= worst)) {
          worst = d;
        }
      }
      free(b1);
      free(b2);
      free(b3);
      free(b4);
      free(b5);
      free(b6);
    }
  /* with GELU after it: the norm's difference (times GELU's slope, at most ~1.13) plus GELU's */
  printf("layernorm: worst |fast - reference| %.3g, followed by GELU %.3g\n", worst, worst_gelu);
  CHECK(worst <= 5e-6, "layernorm: fast vs reference %g", worst);
  CHECK(worst_gelu <= 5e-6 * 1.13 + 3e-6, "layernorm + GELU: fast vs reference %g", worst_gelu);
  CHECK(add_exact, "layernorm: the residual add stored back is not x + add");
}

/* ---- add + GELU --------------------------------------------------------------------- */

static void test_add_gelu(void) {
  double worst = 0;
  int sum_exact = 1;
  for (int it = 0; it < N_SIZES; it++)
    for (int v = 0; v < N_OFFSETS; v++) {
      const int T = 3, C = sizes[it], off = offsets[v];
      const size_t n = (size_t)T * C;
      void *b1, *b2, *b3, *b4, *b5, *b6;
      float *xf = alloc_at(n, off, &b1), *xr = alloc_at(n, 0, &b2), *yf = alloc_at(n, off, &b3);
      float *yr = alloc_at(n, 0, &b4), *y0 = alloc_at(n, 0, &b5),
            *b = alloc_at((size_t)C, off, &b6);
      fill(xf, n, -3, 3);
      memcpy(xr, xf, n * sizeof(float));
      fill(y0, n, -6, 6);
      fill(b, (size_t)C, -1, 1);
      memcpy(yf, y0, n * sizeof(float));
      memcpy(yr, y0, n * sizeof(float));
      float *x0 = malloc(n * sizeof(float));
      memcpy(x0, xf, n * sizeof(float));
      nn_dense_add_gelu_rows(NN_DENSE_FAST, xf, yf, T, C, b);
      nn_dense_add_gelu_rows(NN_DENSE_REFERENCE, xr, yr, T, C, b);
      for (size_t i = 0; i < n; i++) {
        float z = y0[i] + b[i % (size_t)C], sf = x0[i] + yf[i], sr = x0[i] + yr[i];
        if (!same_bits(&sf, &xf[i], 1) || !same_bits(&sr, &xr[i], 1)) sum_exact = 0;
        /* GELU's tolerance on y; x adds at most one rounding of its own (2^-24 |x|) */
        double tol = 3e-7 * fabs(z) + ldexp(fabs(yr[i]), -22) + ldexp(fabs(xr[i]), -23) + 1e-30;
        double d = fmax(fabs((double)yf[i] - yr[i]), fabs((double)xf[i] - xr[i])) / tol;
        if (!(d <= worst)) worst = d;
      }
      free(x0);
      free(b1);
      free(b2);
      free(b3);
      free(b4);
      free(b5);
      free(b6);
    }
  printf("add_gelu: worst |fast - reference| = %.3f of the tolerance\n", worst);
  CHECK(worst <= 1.0, "add_gelu: fast vs reference at %.3f of the tolerance", worst);
  CHECK(sum_exact, "add_gelu: x is not x + GELU(y + b) as stored in y");
}

/* ---- softmax ------------------------------------------------------------------------ */

static void test_softmax(void) {
  int64_t worst_ulp = 0;
  double worst_inv = 0; /* relative difference / ((n + 2) u) */
  int lanes = 1, aligned_same = 1;
  for (int it = 0; it < N_SIZES; it++)
    for (int v = 0; v < N_OFFSETS; v++) {
      const int rows = 3, n = sizes[it], off = offsets[v];
      const size_t tot = (size_t)rows * n;
      void *b1, *b2, *b3, *b4, *b5;
      float *sf = alloc_at(tot, off, &b1), *sr = alloc_at(tot, 0, &b2), *s0 = alloc_at(tot, 0, &b3);
      float *sa = alloc_at(tot, 0, &b4), *inv = alloc_at(4 * (size_t)rows, 0, &b5);
      float *invf = inv, *invr = inv + rows, *inva = inv + 2 * rows;
      fill(s0, tot, -20, 20); /* exp of s - max down to e^-40: normal floats */
      memcpy(sf, s0, tot * sizeof(float));
      memcpy(sr, s0, tot * sizeof(float));
      memcpy(sa, s0, tot * sizeof(float));
      nn_dense_softmax_rows(NN_DENSE_FAST, sf, rows, n, invf);
      nn_dense_softmax_rows(NN_DENSE_REFERENCE, sr, rows, n, invr);
      nn_dense_softmax_rows(NN_DENSE_FAST, sa, rows, n, inva); /* 64-byte aligned copy */
      aligned_same &= same_bits(sa, sf, tot) && same_bits(inva, invf, (size_t)rows);
      for (int r = 0; r < rows; r++) {
        const float *row = s0 + (size_t)r * n;
        float mx = row[0];
        for (int j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < n; j++) {
          const size_t i = (size_t)r * n + j;
          int64_t u = ulps(sf[i], sr[i]);
          if (u > worst_ulp) worst_ulp = u;
          /* the same exp as lane 0 of a 2-element row {s, max} */
          float two[2] = {row[j], mx}, i2;
          nn_dense_softmax_rows(NN_DENSE_FAST, two, 1, 2, &i2);
          if (!same_bits(&two[0], &sf[i], 1)) lanes = 0;
        }
        double d = fabs((double)invf[r] - invr[r]) / fabs((double)invr[r]) / ((n + 2) * U);
        if (!(d <= worst_inv)) worst_inv = d;
      }
      free(b1);
      free(b2);
      free(b3);
      free(b4);
      free(b5);
    }
  printf("softmax: worst exp %lld ulp from expf; worst 1/sum %.3f of (n+2)u relative\n",
         (long long)worst_ulp, worst_inv);
  CHECK(worst_ulp <= 2, "softmax: exp %lld ulp from expf", (long long)worst_ulp);
  CHECK(worst_inv <= 1.0, "softmax: 1/sum at %.3f of (n+2)u", worst_inv);
  CHECK(lanes, "softmax: an exp depends on the row length or the position");
  CHECK(aligned_same, "softmax: results depend on the alignment");
}

/* ---- the single-implementation helpers ---------------------------------------------- */

static void test_helpers(void) {
  /* channel sums: the test's own double loop, same order, bit for bit */
  for (int it = 0; it < N_SIZES; it++) {
    const int T = 5, C = sizes[it];
    void *b1;
    float *y = alloc_at((size_t)T * C, 1, &b1);
    fill(y, (size_t)T * C, -2, 2);
    double *s = calloc(4 * (size_t)C, sizeof(double)), *q = s + C, *es = q + C, *eq = es + C;
    for (int c = 0; c < C; c++) s[c] = q[c] = es[c] = eq[c] = 0.25; /* it accumulates */
    nn_dense_channel_sums(y, T, C, s, q);
    for (int t = 0; t < T; t++)
      for (int c = 0; c < C; c++) {
        es[c] += y[(size_t)t * C + c];
        eq[c] += (double)y[(size_t)t * C + c] * y[(size_t)t * C + c];
      }
    CHECK(memcmp(s, es, sizeof(double) * (size_t)C) == 0 &&
              memcmp(q, eq, sizeof(double) * (size_t)C) == 0,
          "channel_sums: C %d differs from the plain double loop", C);
    free(s);
    free(b1);
  }
  /* finiteness: every size (0 too), a bad value at every position of the small ones */
  const float bad[3] = {INFINITY, -INFINITY, NAN};
  CHECK(nn_dense_all_finite(NULL, 0) == 1, "all_finite: empty");
  for (int it = 0; it < N_SIZES; it++) {
    const int n = sizes[it];
    void *b1;
    float *x = alloc_at((size_t)n, 3, &b1);
    fill(x, (size_t)n, -1, 1);
    x[n / 2] = FLT_MAX;
    x[0] = -FLT_MAX;
    CHECK(nn_dense_all_finite(x, (size_t)n) == 1, "all_finite: n %d, all finite", n);
    for (int i = 0; i < n; i++)
      for (int k = 0; k < 3; k++) {
        float keep = x[i];
        x[i] = bad[k];
        CHECK(nn_dense_all_finite(x, (size_t)n) == 0, "all_finite: n %d, %g at %d", n, bad[k], i);
        x[i] = keep;
      }
    free(b1);
  }
  /* scratch: sizes rounded to 16 floats, the cap, overflow */
  size_t total = 0;
  CHECK(nn_scratch_add(&total, 7, 3, 1000) && total == 32, "scratch: 21 floats -> %zu", total);
  CHECK(nn_scratch_add(&total, 1, 0, 1000) && total == 32, "scratch: 0 floats -> %zu", total);
  CHECK(!nn_scratch_add(&total, 1000, 1, 1000) && total == 32, "scratch: over the cap");
  CHECK(!nn_scratch_add(&total, SIZE_MAX / 2, 3, SIZE_MAX) && total == 32, "scratch: overflow");
  void *blk = aligned_alloc(64, total * sizeof(float));
  nn_scratch sc = {blk, 0};
  float *p1 = nn_scratch_cut(&sc, 21), *p2 = nn_scratch_cut(&sc, 0);
  CHECK(p1 == (float *)blk && p2 == (float *)blk + 32 && sc.used == total,
        "scratch: cuts at 0 and 32 floats, used %zu", sc.used);
  free(blk);
}

int main(void) {
  test_gemm();
  test_gelu();
  test_layernorm();
  test_add_gelu();
  test_softmax();
  test_helpers();
  return th_finish("test_dense");
}
