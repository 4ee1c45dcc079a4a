/* dense.c: the kernels of dense.h. The fast elementwise passes are written once in GCC vector
 * extensions and cloned per instruction set (SIMD_CLONES); the reference path of each is the
 * plain loop beside it, chosen by the same function's nn_dense_path argument. */
#include "nn/dense.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ================================================================ elementwise kernels */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SIMD_CLONES
#endif
#define AI static inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
/* Vectors are never passed by value (that would change the ABI between the clones): helpers
 * take pointers to float arrays and are always inlined. */
#define SPLAT(c) ((v8f){(c), (c), (c), (c), (c), (c), (c), (c)})
#define VSEL(m, a, b) ((v8f)(((m) & (v8i)(a)) | (~(m) & (v8i)(b))))

AI void vload(v8f *v, const float *p) {
  memcpy(v, p, sizeof *v);
}
AI void vstore(float *p, const v8f *v) {
  memcpy(p, v, sizeof *v);
}

/* y[0..8) = exp(x[0..8)) (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial).
 * Inputs below -87 give ~1e-38 instead of 0; above 88, ~1.6e38. */
AI void exp8(float *y, const float *x) {
  v8f v;
  vload(&v, x);
  v8i m = v < SPLAT(-87.0f);
  v = VSEL(m, SPLAT(-87.0f), v);
  m = v > SPLAT(88.0f);
  v = VSEL(m, SPLAT(88.0f), v);
  v8f fx = v * 1.44269504088896341f + 0.5f;
  v8i n = __builtin_convertvector(fx, v8i); /* truncates; make it floor */
  v8f fn = __builtin_convertvector(n, v8f);
  n += (v8i)(fn > fx);
  fn = __builtin_convertvector(n, v8f);
  v8f r = v - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  v8f p = SPLAT(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  v8i e = (n + 127) << 23;
  p = p * (v8f)e;
  vstore(y, &p);
}

/* y[0..8) = GELU(x[0..8)) = x/2 (1 + erf(x/sqrt 2)); erf as an odd/even rational function of
 * degree 13/8 on [-4, 4] (Eigen's and XLA's float erf), exactly +-1 beyond. */
AI void gelu8(float *y, const float *x) {
  v8f v, z;
  vload(&v, x);
  z = v * 0.70710678118654752f;
  v8i m = z > SPLAT(4.0f);
  z = VSEL(m, SPLAT(4.0f), z);
  m = z < SPLAT(-4.0f);
  z = VSEL(m, SPLAT(-4.0f), z);
  v8f z2 = z * z;
  v8f p = SPLAT(-2.72614225801306e-10f);
  p = p * z2 + 2.77068142495902e-08f;
  p = p * z2 + -2.10102402082508e-06f;
  p = p * z2 + -5.69250639462346e-05f;
  p = p * z2 + -7.34990630326855e-04f;
  p = p * z2 + -2.95459980854025e-03f;
  p = p * z2 + -1.60960333262415e-02f;
  p = p * z;
  v8f q = SPLAT(-1.45660718464996e-05f);
  q = q * z2 + -2.13374055278905e-04f;
  q = q * z2 + -1.68282697438203e-03f;
  q = q * z2 + -7.37332916720468e-03f;
  q = q * z2 + -1.42647390514189e-02f;
  v8f r = 0.5f * v * (1.0f + p / q);
  vstore(y, &r);
}

static float gelu_ref(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* In place GELU of y[0..n). */
SIMD_CLONES static void gelu_row(float *y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) gelu8(y + i, y + i);
  if (i < n) {
    float t[8] = {0};
    memcpy(t, y + i, sizeof(float) * (size_t)(n - i));
    gelu8(t, t);
    memcpy(y + i, t, sizeof(float) * (size_t)(n - i));
  }
}

SIMD_CLONES void nn_dense_gelu_rows(nn_dense_path p, float *y, int T, int C, const float *scale,
                                    const float *shift) {
  const int ref = p == NN_DENSE_REFERENCE;
  for (int t = 0; t < T; t++) {
    float *r = y + (size_t)t * C;
    if (scale)
      for (int c = 0; c < C; c++) r[c] *= scale[c];
    if (shift)
      for (int c = 0; c < C; c++) r[c] += shift[c];
    if (ref)
      for (int c = 0; c < C; c++) r[c] = gelu_ref(r[c]);
    else
      gelu_row(r, C);
  }
}

/* Sum of x[0..n) with 8 float accumulators. */
AI float vsum(const float *x, int n) {
  v8f acc = SPLAT(0.0f), v;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    vload(&v, x + i);
    acc += v;
  }
  float a[8], s = 0;
  vstore(a, &acc);
  for (int j = 0; j < 8; j++) s += a[j];
  for (; i < n; i++) s += x[i];
  return s;
}

/* Sum of (x[i] - mu)^2. */
AI float vsumsq(const float *x, int n, float mu) {
  v8f acc = SPLAT(0.0f), v;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    vload(&v, x + i);
    v -= mu;
    acc += v * v;
  }
  float a[8], s = 0;
  vstore(a, &acc);
  for (int j = 0; j < 8; j++) s += a[j];
  for (; i < n; i++) s += (x[i] - mu) * (x[i] - mu);
  return s;
}

SIMD_CLONES void nn_dense_layernorm_rows(nn_dense_path p, float *x, int T, int C, const float *add,
                                         const float *g, const float *b, float eps, float *out,
                                         int gelu) {
  const int ref = p == NN_DENSE_REFERENCE;
  for (int t = 0; t < T; t++) {
    float *r = x + (size_t)t * C, *o = out + (size_t)t * C;
    if (add)
      for (int c = 0; c < C; c++) r[c] += add[c];
    float mu, rstd;
    if (ref) {
      double s = 0, q = 0;
      for (int c = 0; c < C; c++) s += r[c];
      double m = s / C;
      for (int c = 0; c < C; c++) q += (r[c] - m) * (r[c] - m);
      mu = (float)m;
      rstd = (float)(1.0 / sqrt(q / C + eps));
    } else {
      mu = vsum(r, C) / (float)C;
      rstd = 1.0f / sqrtf(vsumsq(r, C, mu) / (float)C + eps);
    }
    if (g)
      for (int c = 0; c < C; c++) o[c] = (r[c] - mu) * rstd * g[c] + b[c];
    else
      for (int c = 0; c < C; c++) o[c] = (r[c] - mu) * rstd;
    if (gelu) {
      if (ref)
        for (int c = 0; c < C; c++) o[c] = gelu_ref(o[c]);
      else
        gelu_row(o, C);
    }
  }
}

SIMD_CLONES void nn_dense_add_gelu_rows(nn_dense_path p, float *x, float *y, int T, int D,
                                        const float *b) {
  const int ref = p == NN_DENSE_REFERENCE;
  for (int t = 0; t < T; t++) {
    float *pr = y + (size_t)t * D, *xr = x + (size_t)t * D;
    for (int c = 0; c < D; c++) pr[c] += b[c];
    if (ref)
      for (int c = 0; c < D; c++) pr[c] = gelu_ref(pr[c]);
    else
      gelu_row(pr, D);
    for (int c = 0; c < D; c++) xr[c] += pr[c];
  }
}

SIMD_CLONES void nn_dense_softmax_rows(nn_dense_path p, float *s, int rows, int n, float *inv) {
  const int ref = p == NN_DENSE_REFERENCE;
  for (int t = 0; t < rows; t++) {
    float *r = s + (size_t)t * n;
    if (ref) {
      float mx = r[0];
      for (int j = 1; j < n; j++) mx = r[j] > mx ? r[j] : mx;
      double sum = 0;
      for (int j = 0; j < n; j++) sum += r[j] = expf(r[j] - mx);
      inv[t] = (float)(1.0 / sum);
      continue;
    }
    v8f vm = SPLAT(-INFINITY), v;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
      vload(&v, r + j);
      v8i m = v > vm;
      vm = VSEL(m, v, vm);
    }
    float a[8], mx = -INFINITY;
    vstore(a, &vm);
    for (int i = 0; i < 8; i++) mx = a[i] > mx ? a[i] : mx;
    for (; j < n; j++) mx = r[j] > mx ? r[j] : mx;
    v8f acc = SPLAT(0.0f);
    for (j = 0; j + 8 <= n; j += 8) { /* r = exp(r - max), summed on the way */
      vload(&v, r + j);
      v -= mx;
      vstore(r + j, &v);
      exp8(r + j, r + j);
      vload(&v, r + j);
      acc += v;
    }
    float sum = 0;
    vstore(a, &acc);
    for (int i = 0; i < 8; i++) sum += a[i];
    if (j < n) {
      float tl[8];
      for (int i = 0; i < 8; i++) tl[i] = j + i < n ? r[j + i] - mx : -INFINITY;
      exp8(tl, tl);
      for (int i = 0; j + i < n; i++) sum += r[j + i] = tl[i];
    }
    inv[t] = 1.0f / sum;
  }
}

SIMD_CLONES void nn_dense_channel_sums(const float *y, int T, int C, double *s, double *q) {
  for (int t = 0; t < T; t++) {
    const float *r = y + (size_t)t * C;
    for (int j = 0; j < C; j++) {
      s[j] += r[j];
      q[j] += (double)r[j] * r[j];
    }
  }
}

/* x * 0 is NaN for inf and NaN, 0 otherwise. */
SIMD_CLONES int nn_dense_all_finite(const float *x, size_t n) {
  v8f acc = SPLAT(0.0f), v;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    vload(&v, x + i);
    acc += v * 0.0f;
  }
  float a[8], s = 0;
  vstore(a, &acc);
  for (int j = 0; j < 8; j++) s += a[j];
  for (; i < n; i++) s += x[i] * 0.0f;
  return s == 0.0f;
}

/* ================================================================ matrix product */

void nn_dense_gemm(nn_dense_path p, int bt, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
  if (p != NN_DENSE_REFERENCE) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, bt ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda,
                B, ldb, beta, C, ldc);
    return;
  }
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s +=
            (double)A[(size_t)i * lda + k] * (bt ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
      float *c = &C[(size_t)i * ldc + j];
      *c = (float)(s + (beta != 0.0f ? (double)beta * *c : 0.0));
    }
}

/* ================================================================ scratch */

int nn_scratch_add(size_t *total, size_t a, size_t b, size_t max_floats) {
  if (b && a > max_floats / b) return 0;
  size_t n = a * b;
  if (n > max_floats - *total) return 0;
  *total += (n + 15) & ~(size_t)15;
  return 1;
}

float *nn_scratch_cut(nn_scratch *s, size_t n) {
  float *p = s->base + s->used;
  s->used += (n + 15) & ~(size_t)15;
  return p;
}
