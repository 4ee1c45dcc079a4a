/* wav2vec2.c: wav2vec 2.0 speech-emotion inference (contract and file format in wav2vec2.h),
 * every matrix product on OpenBLAS's cblas_sgemm, everything else in plain C.
 *
 * Layout: activations are time-major, (frames, channels) row-major, from the first conv to the
 * head. That makes the feature encoder's im2col free: with frames of Ci channels stored one after
 * another, the K-tap window of output frame t is the contiguous run x[t*S*Ci .. (t*S+K)*Ci), so
 * a conv is a gemm whose A rows start S*Ci floats apart. BLAS wants lda >= the row length, so a
 * layer with K > S runs as ceil(K/S) gemms of at most S taps each, accumulating (beta = 1); only
 * layers with K*Ci <= 64 (the first, Ci = 1) copy their windows. Weights are permuted at load so
 * that each gemm reads them as its B^T: conv (Co, Ci, K) -> (Co, K, Ci).
 *   Positional conv (grouped, stride 1, padding K/2): per group, a zero-padded (T+K, D/G) copy
 *   of the group's channels makes every output frame's window contiguous again; windows are
 *   copied into row blocks of an im2col buffer (stride 1 overlaps rows, which BLAS refuses) and
 *   multiplied by that group's (D/G, K*D/G) weights.
 *   Attention: q, k, v come from one (3D, D) weight. 1/sqrt(head_dim) is folded into q's rows
 *   and bias; k's bias is dropped (it adds a constant to each row of scores, which softmax
 *   ignores) and v's is folded into out_proj's bias (softmax rows sum to 1): out_b' = out_b +
 *   W_out b_v. Per head and block of query rows: scores = Q K^T (sgemm), exp(s - max) with the
 *   row sums kept, P V (sgemm), then the rows are divided by their sums.
 *   Biases and residual adds are fused into the passes that follow the gemms (GELU, LayerNorm).
 *   GroupNorm with one group per channel (extractor "group_norm", first conv) normalises each
 *   channel over time: per-channel mean and variance in double, then one scale/shift + GELU.
 *
 * Elementwise kernels (GELU, exp, LayerNorm, softmax) use GCC vector extensions (8 floats); with
 * GCC on x86-64 each is cloned for x86-64-v3 (AVX2) beside the baseline and picked at run time,
 * so a binary built here runs on any x86-64 (other compilers get the portable code). exp is
 * Cephes' expf polynomial (range-reduced, ~1 ulp); erf for GELU is a rational approximation
 * (|error| < 5e-7). They cost ~10% of a call; the gemms run near the machine's peak.
 * w2v_options.reference switches to the plain reference path (naive double-accumulating
 * matmul, erff/expf, double reductions), which tests/test_wav2vec2.c compares with the fast
 * path; w2v_options.block (floats) shrinks the row blocks of scores and im2col, which
 * otherwise only inputs of more than ~3000 frames split, so the test can cover the blocked
 * loops. Nothing is read from the environment.
 *
 * Threads: only the gemms use them, as many as OpenBLAS is set to: its thread count is
 * process-global (openblas_set_num_threads, OPENBLAS_NUM_THREADS) and belongs to the
 * application, so this file never changes it and takes no lock. Concurrent calls are safe:
 * each has its own scratch, the model is read-only, and OpenBLAS 0.3.7 and later may be
 * entered from several threads at once when it is built with locking (USE_THREAD=1 implies it:
 * the pthread variant the build links, libopenblas0-pthread 0.3.21 on Debian 12; a serial
 * build needs USE_LOCKING=1). That variant runs the threaded parts of concurrent gemms one
 * after another on its one pool of workers, so two calls overlap only in their C passes;
 * an application that runs several contexts at once sets OpenBLAS to 1 thread to run them
 * fully side by side (tests/test_wav2vec2.c checks both ways give the single-call result).
 * (Splitting the elementwise passes over the same threads with core/workers.h gained nothing
 * measurable: OpenBLAS's idle workers spin between gemms.)
 *
 * It leaves to others: the file reader (nn/safetensors.c), conversion of checkpoints
 * (tools/wav2vec2_convert.py), decoding and resampling (media/), label mapping (pipeline/). */
#include "audio/wav2vec2.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/safetensors.h"

/* Caps on the metadata (far above every published wav2vec 2.0 model; they bound the scratch a
 * file can ask for together with W2V_MAX_SAMPLES). */
#define MAX_CONV 16
#define MAX_CHANNELS 8192
#define MAX_KERNEL 4096
#define MAX_DIM 8192
#define MAX_LAYERS 256
#define MAX_FF 65536
#define MAX_PROJ 65536
#define MAX_LABEL_LEN 255
#define MAX_FILE_BYTES ((size_t)16 << 30)
#define MAX_SCRATCH_BYTES ((size_t)6 << 30) /* per call; the large model at 60 s needs ~1 GB */
#define BLOCK_FLOATS ((size_t)8 << 20)      /* row blocks of scores and im2col: <= 32 MB */
#define EPS 1e-5f

typedef enum { IN_NONE, IN_ZMUV, IN_LAYER_NORM } in_norm;
typedef enum { OUT_NONE, OUT_LAYER_NORM, OUT_LAYER_NORM_ALL } out_norm;
typedef enum { HEAD_HF_SEQCLS, HEAD_SB_LINEAR } head_kind;

typedef struct conv_layer {
  int co, ci, k, s;
  float *w;           /* (co, k, ci): torch's (co, ci, k) with the taps outside the channels */
  float *b;           /* (co), NULL without conv_bias */
  float *ln_g, *ln_b; /* (co), NULL when this layer has no norm */
} conv_layer;

typedef struct enc_layer {
  float *qkv_w; /* (3D, D): q rows (scaled by 1/sqrt(head_dim)), k rows, v rows */
  float *q_b;   /* (D): q bias, scaled */
  float *out_w; /* (D, D) */
  float *out_b; /* (D): out_proj.bias + out_proj.weight . v_proj.bias */
  float *ln1_g, *ln1_b, *ln2_g, *ln2_b; /* (D): layer_norm, final_layer_norm */
  float *ff1_w, *ff1_b;                 /* (F, D), (F) */
  float *ff2_w, *ff2_b;                 /* (D, F), (D) */
} enc_layer;

struct w2v_model {
  int n_conv, group_norm, conv_bias;
  conv_layer conv[MAX_CONV];
  int min_samples; /* receptive field of the conv stack: the fewest samples giving a frame */
  int D, L, H, F, K, G, lnf, P, n_labels;
  in_norm in_norm;
  out_norm out_norm;
  head_kind head;
  float *fp_g, *fp_b;     /* (C_last) feature projection layer norm */
  float *proj_w, *proj_b; /* (D, C_last), (D) */
  float *pos_w, *pos_b;   /* (G, D/G, K, D/G): per group (out, tap, in); (D) */
  float *enc_g, *enc_b;   /* (D) encoder.transformer.layer_norm */
  enc_layer *layers;      /* (L): pointers into the arena */
  float *hp_w, *hp_b;     /* (P, D), (P): hf_seqcls projector */
  float *cls_w, *cls_b;   /* (n_labels, P or D), (n_labels) or NULL (sb_linear) */
  float *arena;           /* every weight, one allocation */
  char *label_buf;        /* the labels string, commas replaced by NULs */
  const char *labels[W2V_MAX_LABELS];
};

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

/* y (T, C) = GELU(y * scale + shift), scale and shift per channel (either may be NULL). */
SIMD_CLONES static void act_rows(float *y, int T, int C, const float *scale, const float *shift,
                                 int ref) {
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

/* Per row t of x (T, C): x[t] += add (stored back; add may be NULL), then
 * out[t] = LayerNorm(x[t]) (eps 1e-5, times g plus b when g is non-NULL), then GELU when act.
 * out may be x. */
SIMD_CLONES static void ln_rows(float *x, int T, int C, const float *add, const float *g,
                                const float *b, float *out, int act, int ref) {
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
      rstd = (float)(1.0 / sqrt(q / C + EPS));
    } else {
      mu = vsum(r, C) / (float)C;
      rstd = 1.0f / sqrtf(vsumsq(r, C, mu) / (float)C + EPS);
    }
    if (g)
      for (int c = 0; c < C; c++) o[c] = (r[c] - mu) * rstd * g[c] + b[c];
    else
      for (int c = 0; c < C; c++) o[c] = (r[c] - mu) * rstd;
    if (act) {
      if (ref)
        for (int c = 0; c < C; c++) o[c] = gelu_ref(o[c]);
      else
        gelu_row(o, C);
    }
  }
}

/* x (T, D) += GELU(p + b), p (T, D), b (D). p is overwritten. */
SIMD_CLONES static void add_gelu_rows(float *x, float *p, int T, int D, const float *b, int ref) {
  for (int t = 0; t < T; t++) {
    float *pr = p + (size_t)t * D, *xr = x + (size_t)t * D;
    for (int c = 0; c < D; c++) pr[c] += b[c];
    if (ref)
      for (int c = 0; c < D; c++) pr[c] = gelu_ref(pr[c]);
    else
      gelu_row(pr, D);
    for (int c = 0; c < D; c++) xr[c] += pr[c];
  }
}

/* Each row of s (rows, n) becomes exp(s - max(row)); inv[row] = 1 / sum of the row. */
SIMD_CLONES static void softmax_rows(float *s, int rows, int n, float *inv, int ref) {
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

/* s[c] += sum over t of y[t][c], q[c] += the same of y^2, y (T, C); in double. */
SIMD_CLONES static void channel_sums(const float *y, int T, int C, double *s, double *q) {
  for (int t = 0; t < T; t++) {
    const float *r = y + (size_t)t * C;
    for (int j = 0; j < C; j++) {
      s[j] += r[j];
      q[j] += (double)r[j] * r[j];
    }
  }
}

/* ---- the passes as the forward pass calls them, with the per-call settings ------------- */

typedef struct fwd {
  int ref;      /* reference path: naive matmul, erff, expf, double reductions */
  size_t block; /* floats per row block of scores / im2col (BLOCK_FLOATS) */
} fwd;

static void act(const fwd *f, float *y, int T, int C, const float *scale, const float *shift) {
  act_rows(y, T, C, scale, shift, f->ref);
}

static void ln(const fwd *f, float *x, int T, int C, const float *add, const float *g,
               const float *b, float *out, int act) {
  ln_rows(x, T, C, add, g, b, out, act, f->ref);
}

static void add_gelu(const fwd *f, float *x, float *pos, int T, int D, const float *b) {
  add_gelu_rows(x, pos, T, D, b, f->ref);
}

static void softmax(const fwd *f, float *s, int rows, int n, float *inv) {
  softmax_rows(s, rows, n, inv, f->ref);
}

/* 1 when every x[0..n) is finite (x * 0 is NaN for inf and NaN). */
SIMD_CLONES static int all_finite(const float *x, size_t n) {
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

/* C (M, N) = A (M, K) op(B) + beta C, row-major. B is (N, K) with row stride ldb when bt
 * (the weight layout: op(B) = B^T), else (K, N). ref: naive loops in double. */
static void mm(int ref, int bt, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float beta, float *C, int ldc) {
  if (!ref) {
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

/* ================================================================ loading */

typedef struct loader {
  const st_file *f;
  const char *src;
  emoi_err *err;
  float *arena; /* NULL in the counting pass */
  size_t used;  /* floats taken so far */
  const st_tensor **seen;
  int n_seen;
  float *tmp; /* conversion buffer for permuted tensors */
  size_t tmp_cap;
} loader;

/* n floats of the arena, 16-float (64-byte) aligned; NULL while counting. */
static float *take(loader *ld, size_t n) {
  float *p = ld->arena ? ld->arena + ld->used : NULL;
  ld->used += (n + 15) & ~(size_t)15;
  return p;
}

static void shape_str(char *s, size_t cap, const int64_t *d, int rank) {
  size_t k = 0;
  s[0] = '\0';
  for (int i = 0; i < rank && k < cap; i++)
    k += (size_t)snprintf(s + k, cap - k, i ? ",%lld" : "%lld", (long long)d[i]);
}

/* Finds tensor name with the given shape (rank 1..3: d0, d1, d2) and, in the filling pass,
 * converts it to float32 into dst, rejecting non-finite values. */
static int get(loader *ld, const char *name, float *dst, int rank, int64_t d0, int64_t d1,
               int64_t d2) {
  const st_tensor *t = st_find(ld->f, name);
  if (!t) return emoi_fail(ld->err, EMO_EMODEL, "%s: missing tensor '%s'", ld->src, name);
  int64_t want[3] = {d0, d1, d2};
  int ok = t->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = t->shape[i] == want[i];
  if (!ok) {
    char got[128], exp[128];
    shape_str(got, sizeof got, t->shape, t->rank);
    shape_str(exp, sizeof exp, want, rank);
    return emoi_fail(ld->err, EMO_EMODEL, "%s: tensor '%s' has shape (%s), expected (%s)", ld->src,
                     name, got, exp);
  }
  if (!ld->arena) {
    ld->seen[ld->n_seen++] = t; /* counting pass: each name is asked for once */
    return 0;
  }
  st_to_f32(t, dst);
  if (!all_finite(dst, (size_t)t->numel))
    for (int64_t i = 0; i < t->numel; i++)
      if (!isfinite(dst[i]))
        return emoi_fail(ld->err, EMO_EMODEL, "%s: tensor '%s' element %lld is not finite", ld->src,
                         name, (long long)i);
  return 0;
}

/* Like get, into the loader's scratch buffer (for tensors that are permuted). */
static int get_tmp(loader *ld, const char *name, float **out, int rank, int64_t d0, int64_t d1,
                   int64_t d2) {
  *out = NULL;
  if (ld->arena) {
    size_t n = (size_t)d0 * (size_t)(rank > 1 ? d1 : 1) * (size_t)(rank > 2 ? d2 : 1);
    if (n > ld->tmp_cap) {
      float *p = realloc(ld->tmp, n * sizeof(float));
      if (!p) return emoi_fail(ld->err, EMO_ENOMEM, "%s: out of memory for '%s'", ld->src, name);
      ld->tmp = p;
      ld->tmp_cap = n;
    }
    *out = ld->tmp;
  }
  return get(ld, name, *out, rank, d0, d1, d2);
}

/* Strict decimal integer in [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *v) {
  if (!s || !*s) return -1;
  long x = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9' || x > hi) return -1;
    x = x * 10 + (*p - '0');
  }
  if (x < lo || x > hi) return -1;
  *v = x;
  return 0;
}

static int meta_str(loader *ld, const char *key, const char **out) {
  *out = st_meta(ld->f, key);
  if (!*out) return emoi_fail(ld->err, EMO_EMODEL, "%s: metadata '%s' missing", ld->src, key);
  return 0;
}

static int meta_int(loader *ld, const char *key, long lo, long hi, int *out) {
  const char *s;
  long v;
  if (meta_str(ld, key, &s)) return EMO_EMODEL;
  if (parse_int(s, lo, hi, &v))
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: metadata '%s' = '%.40s' is not an integer in %ld..%ld", ld->src, key, s,
                     lo, hi);
  *out = (int)v;
  return 0;
}

/* Picks s among the n names; EMO_EUNSUPPORTED otherwise. */
static int meta_choice(loader *ld, const char *key, const char *const *names, int n, int *out) {
  const char *s;
  if (meta_str(ld, key, &s)) return EMO_EMODEL;
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = i;
      return 0;
    }
  char list[160];
  size_t k = 0;
  list[0] = '\0';
  for (int i = 0; i < n && k < sizeof list; i++)
    k += (size_t)snprintf(list + k, sizeof list - k, i ? ", %s" : "%s", names[i]);
  return emoi_fail(ld->err, EMO_EUNSUPPORTED, "%s: metadata '%s' = '%.40s' is not supported (%s)",
                   ld->src, key, s, list);
}

static int parse_conv_layers(loader *ld, w2v_model *m) {
  const char *s;
  if (meta_str(ld, "conv_layers", &s)) return EMO_EMODEL;
  const char *p = s;
  int n = 0;
  for (;;) {
    long v[3];
    for (int j = 0; j < 3; j++) {
      const char *q = p;
      long x = 0, hi = j == 0 ? MAX_CHANNELS : MAX_KERNEL;
      while (*q >= '0' && *q <= '9' && x <= hi) x = x * 10 + (*q++ - '0');
      if (q == p || x < 1 || x > hi || n == MAX_CONV || (j < 2 && *q != ':'))
        return emoi_fail(ld->err, EMO_EMODEL,
                         "%s: metadata 'conv_layers' = '%.80s' is not 1..%d 'C:K:S' triples "
                         "(C 1..%d, K and S 1..%d) joined by commas",
                         ld->src, s, MAX_CONV, MAX_CHANNELS, MAX_KERNEL);
      v[j] = x;
      p = j < 2 ? q + 1 : q;
    }
    conv_layer *c = &m->conv[n];
    c->ci = n ? m->conv[n - 1].co : 1;
    c->co = (int)v[0];
    c->k = (int)v[1];
    c->s = (int)v[2];
    n++;
    if (*p == '\0') break;
    if (*p != ',')
      return emoi_fail(ld->err, EMO_EMODEL, "%s: metadata 'conv_layers' = '%.80s': bad separator",
                       ld->src, s);
    p++;
  }
  m->n_conv = n;
  int64_t rf = 1; /* receptive field, walked back from one output frame */
  for (int i = n - 1; i >= 0 && rf <= W2V_MAX_SAMPLES; i--)
    rf = (rf - 1) * m->conv[i].s + m->conv[i].k;
  if (rf > W2V_MAX_SAMPLES)
    return emoi_fail(ld->err, EMO_EUNSUPPORTED,
                     "%s: conv_layers '%.80s' need more than %d samples for one frame", ld->src, s,
                     W2V_MAX_SAMPLES);
  m->min_samples = (int)rf;
  return 0;
}

static int parse_labels(loader *ld, w2v_model *m) {
  const char *s;
  if (meta_str(ld, "labels", &s)) return EMO_EMODEL;
  size_t len = strlen(s);
  m->label_buf = malloc(len + 1);
  if (!m->label_buf) return emoi_fail(ld->err, EMO_ENOMEM, "%s: out of memory", ld->src);
  memcpy(m->label_buf, s, len + 1);
  int n = 0;
  char *p = m->label_buf;
  for (;;) {
    char *e = strchr(p, ',');
    if (e) *e = '\0';
    size_t l = strlen(p);
    if (l == 0 || l > MAX_LABEL_LEN || n == W2V_MAX_LABELS)
      return emoi_fail(ld->err, EMO_EMODEL,
                       "%s: metadata 'labels' must be 1..%d non-empty names (<= %d bytes) "
                       "joined by commas (label %d)",
                       ld->src, W2V_MAX_LABELS, MAX_LABEL_LEN, n);
    m->labels[n++] = p;
    if (!e) break;
    p = e + 1;
  }
  m->n_labels = n;
  return 0;
}

static int parse_meta(loader *ld, w2v_model *m) {
  const char *s;
  if (meta_str(ld, "format", &s)) return EMO_EMODEL;
  if (strcmp(s, "emo-wav2vec2") != 0)
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: metadata format '%.40s', expected 'emo-wav2vec2' (convert the checkpoint "
                     "with tools/wav2vec2_convert.py)",
                     ld->src, s);
  if (meta_str(ld, "version", &s)) return EMO_EMODEL;
  if (strcmp(s, "1") != 0)
    return emoi_fail(ld->err, EMO_EUNSUPPORTED,
                     "%s: emo-wav2vec2 version '%.20s', this build reads version 1 (reconvert with "
                     "this tree's tools/wav2vec2_convert.py)",
                     ld->src, s);
  static const char *const modes[] = {"group_norm", "layer_norm"};
  static const char *const bools[] = {"0", "1"};
  static const char *const inorms[] = {"none", "zero_mean_unit_var", "layer_norm"};
  static const char *const onorms[] = {"none", "layer_norm", "layer_norm_all"};
  static const char *const heads[] = {"hf_seqcls", "sb_linear"};
  int mode = 0, v = 0;
  int r;
  if ((r = meta_choice(ld, "extractor_mode", modes, 2, &mode))) return r;
  m->group_norm = mode == 0;
  if ((r = parse_conv_layers(ld, m))) return r;
  if ((r = meta_choice(ld, "conv_bias", bools, 2, &m->conv_bias))) return r;
  if (meta_int(ld, "embed_dim", 1, MAX_DIM, &m->D) ||
      meta_int(ld, "num_layers", 1, MAX_LAYERS, &m->L) ||
      meta_int(ld, "num_heads", 1, m->D, &m->H) || meta_int(ld, "ff_dim", 1, MAX_FF, &m->F) ||
      meta_int(ld, "pos_conv_kernel", 1, MAX_KERNEL, &m->K) ||
      meta_int(ld, "pos_conv_groups", 1, m->D, &m->G))
    return EMO_EMODEL;
  if (m->D % m->H)
    return emoi_fail(ld->err, EMO_EMODEL, "%s: embed_dim %d is not a multiple of num_heads %d",
                     ld->src, m->D, m->H);
  if (m->D % m->G)
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: embed_dim %d is not a multiple of pos_conv_groups %d", ld->src, m->D,
                     m->G);
  if ((r = meta_choice(ld, "layer_norm_first", bools, 2, &m->lnf))) return r;
  if ((r = meta_choice(ld, "input_norm", inorms, 3, &v))) return r;
  m->in_norm = (in_norm)v;
  if ((r = meta_choice(ld, "head", heads, 2, &v))) return r;
  m->head = (head_kind)v;
  if ((r = meta_choice(ld, "output_norm", onorms, 3, &v))) return r;
  m->out_norm = (out_norm)v;
  if (m->head == HEAD_HF_SEQCLS && m->out_norm != OUT_NONE)
    return emoi_fail(ld->err, EMO_EMODEL,
                     "%s: output_norm '%s' is defined for the sb_linear head only", ld->src,
                     onorms[m->out_norm]);
  return parse_labels(ld, m);
}

/* Both passes over the tensors: counting (ld->arena NULL: checks names and shapes, sizes the
 * arena) and filling (converts and permutes into the arena). */
static int load_tensors(loader *ld, w2v_model *m) {
  char nm[160];
  float *tmp;
  int r;
  const int D = m->D, F = m->F, K = m->K, Dg = m->D / m->G;
  for (int i = 0; i < m->n_conv; i++) {
    conv_layer *c = &m->conv[i];
    const int co = c->co, ci = c->ci, k = c->k;
    snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.conv.weight", i);
    c->w = take(ld, (size_t)co * ci * k);
    if ((r = get_tmp(ld, nm, &tmp, 3, co, ci, k))) return r;
    if (tmp) /* (co, ci, k) -> (co, k, ci) */
      for (int o = 0; o < co; o++)
        for (int j = 0; j < ci; j++)
          for (int t = 0; t < k; t++)
            c->w[((size_t)o * k + t) * ci + j] = tmp[((size_t)o * ci + j) * k + t];
    c->b = NULL;
    if (m->conv_bias) {
      snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.conv.bias", i);
      c->b = take(ld, (size_t)co);
      if ((r = get(ld, nm, c->b, 1, co, 0, 0))) return r;
    }
    c->ln_g = c->ln_b = NULL;
    if (!m->group_norm || i == 0) {
      snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.layer_norm.weight", i);
      c->ln_g = take(ld, (size_t)co);
      if ((r = get(ld, nm, c->ln_g, 1, co, 0, 0))) return r;
      snprintf(nm, sizeof nm, "feature_extractor.conv_layers.%d.layer_norm.bias", i);
      c->ln_b = take(ld, (size_t)co);
      if ((r = get(ld, nm, c->ln_b, 1, co, 0, 0))) return r;
    }
  }
  const int C = m->conv[m->n_conv - 1].co;
  m->fp_g = take(ld, (size_t)C);
  m->fp_b = take(ld, (size_t)C);
  m->proj_w = take(ld, (size_t)D * C);
  m->proj_b = take(ld, (size_t)D);
  if ((r = get(ld, "encoder.feature_projection.layer_norm.weight", m->fp_g, 1, C, 0, 0)) ||
      (r = get(ld, "encoder.feature_projection.layer_norm.bias", m->fp_b, 1, C, 0, 0)) ||
      (r = get(ld, "encoder.feature_projection.projection.weight", m->proj_w, 2, D, C, 0)) ||
      (r = get(ld, "encoder.feature_projection.projection.bias", m->proj_b, 1, D, 0, 0)))
    return r;

  m->pos_w = take(ld, (size_t)D * Dg * K);
  m->pos_b = take(ld, (size_t)D);
  if ((r = get_tmp(ld, "encoder.transformer.pos_conv_embed.conv.weight", &tmp, 3, D, Dg, K)))
    return r;
  if (tmp) /* (D, Dg, K) = (G, Dg out, Dg in, K) -> (G, Dg out, K, Dg in): same row order */
    for (int o = 0; o < D; o++)
      for (int j = 0; j < Dg; j++)
        for (int t = 0; t < K; t++)
          m->pos_w[((size_t)o * K + t) * Dg + j] = tmp[((size_t)o * Dg + j) * K + t];
  m->enc_g = take(ld, (size_t)D);
  m->enc_b = take(ld, (size_t)D);
  if ((r = get(ld, "encoder.transformer.pos_conv_embed.conv.bias", m->pos_b, 1, D, 0, 0)) ||
      (r = get(ld, "encoder.transformer.layer_norm.weight", m->enc_g, 1, D, 0, 0)) ||
      (r = get(ld, "encoder.transformer.layer_norm.bias", m->enc_b, 1, D, 0, 0)))
    return r;

  const float qscale = 1.0f / sqrtf((float)(D / m->H));
  for (int l = 0; l < m->L; l++) {
    enc_layer tmpl, *e = ld->arena ? &m->layers[l] : &tmpl;
    char p[64];
    snprintf(p, sizeof p, "encoder.transformer.layers.%d.", l);
#define NM(suffix) (snprintf(nm, sizeof nm, "%s%s", p, suffix), nm)
    e->qkv_w = take(ld, (size_t)3 * D * D);
    e->q_b = take(ld, (size_t)D);
    e->out_w = take(ld, (size_t)D * D);
    e->out_b = take(ld, (size_t)D);
    if ((r = get(ld, NM("attention.q_proj.weight"), e->qkv_w, 2, D, D, 0)) ||
        (r = get(ld, NM("attention.k_proj.weight"), e->qkv_w ? e->qkv_w + (size_t)D * D : NULL, 2,
                 D, D, 0)) ||
        (r = get(ld, NM("attention.v_proj.weight"), e->qkv_w ? e->qkv_w + (size_t)2 * D * D : NULL,
                 2, D, D, 0)) ||
        (r = get(ld, NM("attention.q_proj.bias"), e->q_b, 1, D, 0, 0)) ||
        (r = get_tmp(ld, NM("attention.k_proj.bias"), &tmp, 1, D, 0, 0)) ||
        (r = get(ld, NM("attention.out_proj.weight"), e->out_w, 2, D, D, 0)) ||
        (r = get(ld, NM("attention.out_proj.bias"), e->out_b, 1, D, 0, 0)) ||
        (r = get_tmp(ld, NM("attention.v_proj.bias"), &tmp, 1, D, 0, 0)))
      return r;
    if (tmp) { /* tmp = v bias: out_b += W_out b_v; scale q */
      for (int o = 0; o < D; o++) {
        double s = e->out_b[o];
        for (int j = 0; j < D; j++) s += (double)e->out_w[(size_t)o * D + j] * tmp[j];
        e->out_b[o] = (float)s;
      }
      for (size_t i = 0; i < (size_t)D * D; i++) e->qkv_w[i] *= qscale;
      for (int i = 0; i < D; i++) e->q_b[i] *= qscale;
    }
    e->ln1_g = take(ld, (size_t)D);
    e->ln1_b = take(ld, (size_t)D);
    e->ln2_g = take(ld, (size_t)D);
    e->ln2_b = take(ld, (size_t)D);
    e->ff1_w = take(ld, (size_t)F * D);
    e->ff1_b = take(ld, (size_t)F);
    e->ff2_w = take(ld, (size_t)D * F);
    e->ff2_b = take(ld, (size_t)D);
    if ((r = get(ld, NM("layer_norm.weight"), e->ln1_g, 1, D, 0, 0)) ||
        (r = get(ld, NM("layer_norm.bias"), e->ln1_b, 1, D, 0, 0)) ||
        (r = get(ld, NM("final_layer_norm.weight"), e->ln2_g, 1, D, 0, 0)) ||
        (r = get(ld, NM("final_layer_norm.bias"), e->ln2_b, 1, D, 0, 0)) ||
        (r = get(ld, NM("feed_forward.intermediate_dense.weight"), e->ff1_w, 2, F, D, 0)) ||
        (r = get(ld, NM("feed_forward.intermediate_dense.bias"), e->ff1_b, 1, F, 0, 0)) ||
        (r = get(ld, NM("feed_forward.output_dense.weight"), e->ff2_w, 2, D, F, 0)) ||
        (r = get(ld, NM("feed_forward.output_dense.bias"), e->ff2_b, 1, D, 0, 0)))
      return r;
#undef NM
  }

  const int n = m->n_labels;
  m->hp_w = m->hp_b = m->cls_b = NULL;
  if (m->head == HEAD_HF_SEQCLS) {
    const st_tensor *t = st_find(ld->f, "head.projector.weight");
    if (!t)
      return emoi_fail(ld->err, EMO_EMODEL, "%s: missing tensor 'head.projector.weight'", ld->src);
    if (t->rank != 2 || t->shape[0] < 1 || t->shape[0] > MAX_PROJ)
      return emoi_fail(ld->err, EMO_EMODEL,
                       "%s: tensor 'head.projector.weight' must be (P, %d) with P in 1..%d",
                       ld->src, D, MAX_PROJ);
    m->P = (int)t->shape[0];
    m->hp_w = take(ld, (size_t)m->P * D);
    m->hp_b = take(ld, (size_t)m->P);
    m->cls_w = take(ld, (size_t)n * m->P);
    m->cls_b = take(ld, (size_t)n);
    if ((r = get(ld, "head.projector.weight", m->hp_w, 2, m->P, D, 0)) ||
        (r = get(ld, "head.projector.bias", m->hp_b, 1, m->P, 0, 0)) ||
        (r = get(ld, "head.classifier.weight", m->cls_w, 2, n, m->P, 0)) ||
        (r = get(ld, "head.classifier.bias", m->cls_b, 1, n, 0, 0)))
      return r;
  } else {
    m->P = D;
    m->cls_w = take(ld, (size_t)n * D);
    if ((r = get(ld, "head.classifier.weight", m->cls_w, 2, n, D, 0))) return r;
  }
  return 0;
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (const st_tensor *const *)a;
  uintptr_t y = (uintptr_t) * (const st_tensor *const *)b;
  return x < y ? -1 : x > y;
}

static int load_file(const st_file *f, const char *src, w2v_model **out, emoi_err *err) {
  w2v_model *m = calloc(1, sizeof *m);
  loader ld = {f, src, err, NULL, 0, NULL, 0, NULL, 0};
  int r = EMO_ENOMEM;
  if (!m) {
    emoi_fail(err, r, "%s: out of memory", src);
    goto fail;
  }
  if ((r = parse_meta(&ld, m))) goto fail;
  ld.seen = malloc(sizeof *ld.seen * (size_t)(st_count(f) + 1));
  if (!ld.seen) {
    r = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
    goto fail;
  }
  /* counting pass: every expected tensor present with its shape; nothing else in the file */
  if ((r = load_tensors(&ld, m))) goto fail;
  if (ld.n_seen != st_count(f)) {
    qsort(ld.seen, (size_t)ld.n_seen, sizeof *ld.seen, cmp_ptr);
    for (int i = 0; i < st_count(f); i++) {
      const st_tensor *t = st_at(f, i);
      if (!bsearch(&t, ld.seen, (size_t)ld.n_seen, sizeof *ld.seen, cmp_ptr)) {
        r = emoi_fail(err, EMO_EMODEL,
                      "%s: unexpected tensor '%.120s' (the metadata's configuration does not use "
                      "it)",
                      src, t->name);
        goto fail;
      }
    }
  }
  size_t floats = ld.used;
  m->arena = aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
  m->layers = calloc((size_t)m->L, sizeof *m->layers);
  if (!m->arena || !m->layers) {
    r = emoi_fail(err, EMO_ENOMEM, "%s: out of memory for %zu MB of weights", src,
                  floats * sizeof(float) >> 20);
    goto fail;
  }
  ld.arena = m->arena;
  ld.used = 0;
  if ((r = load_tensors(&ld, m))) goto fail;
  free(ld.seen);
  free(ld.tmp);
  *out = m;
  return EMO_OK;
fail:
  free(ld.seen);
  free(ld.tmp);
  w2v_free(&m);
  return r;
}

int w2v_load_memory(const void *data, size_t size, w2v_model **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "w2v_load_memory: NULL out");
  *out = NULL;
  if (!data) return emoi_fail(err, EMO_EINVAL, "w2v_load_memory: NULL data");
  st_file *f = NULL;
  int r = st_open_memory(data, size, 0, &f, err);
  if (r) return r;
  r = load_file(f, "wav2vec2 model", out, err);
  st_close(&f);
  return r;
}

/* Maps a regular file read-only (no copy: the weights are converted straight from the page
 * cache); falls back to st_open_file (which reads it into memory) for anything else. */
int w2v_load(const char *path, w2v_model **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "w2v_load: NULL out");
  *out = NULL;
  if (!path) return emoi_fail(err, EMO_EINVAL, "w2v_load: NULL path");
  st_file *f = NULL;
  void *map = MAP_FAILED;
  size_t size = 0;
  int r, fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return emoi_fail(err, EMO_EIO, "%.200s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
      (uint64_t)sb.st_size <= MAX_FILE_BYTES) {
    size = (size_t)sb.st_size;
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  close(fd);
  if (map != MAP_FAILED) {
    r = st_open_memory(map, size, 0, &f, err);
    if (r) emoi_err_prefix(err, path);
  } else {
    r = st_open_file(path, MAX_FILE_BYTES, &f, err);
  }
  if (r == EMO_OK) r = load_file(f, path, out, err);
  st_close(&f);
  if (map != MAP_FAILED) munmap(map, size);
  return r;
}

void w2v_free(w2v_model **pm) {
  if (!pm || !*pm) return;
  free((*pm)->arena);
  free((*pm)->layers);
  free((*pm)->label_buf);
  free(*pm);
  *pm = NULL;
}

int w2v_n_labels(const w2v_model *m) {
  return m ? m->n_labels : 0;
}

const char *w2v_label(const w2v_model *m, int i) {
  return m && i >= 0 && i < m->n_labels ? m->labels[i] : NULL;
}

int w2v_embed_dim(const w2v_model *m) {
  return m ? m->D : 0;
}

int w2v_min_samples(const w2v_model *m) {
  return m ? m->min_samples : 0;
}

/* ================================================================ forward pass */

/* *total += a*b floats rounded up as cut() rounds, with overflow and cap checks: returns 0 when
 * the total would exceed MAX_SCRATCH_BYTES. Sizes are added in the order of the cuts. */
static int add_size(size_t *total, size_t a, size_t b) {
  if (b && a > MAX_SCRATCH_BYTES / sizeof(float) / b) return 0;
  size_t n = a * b;
  if (n > MAX_SCRATCH_BYTES / sizeof(float) - *total) return 0;
  *total += (n + 15) & ~(size_t)15;
  return 1;
}

typedef struct arena_cut {
  float *base;
  size_t used;
} arena_cut;

static float *cut(arena_cut *a, size_t n) {
  float *p = a->base + a->used;
  a->used += (n + 15) & ~(size_t)15;
  return p;
}

/* Feature encoder layer: y (Tout, co) = conv(x (Tin, ci)), before its norm and activation. */
static void conv_fwd(const fwd *f, const conv_layer *c, const float *x, int Tout, float *y,
                     float *col) {
  const int ci = c->ci, k = c->k, s = c->s, kc = c->k * c->ci;
  if (kc <= 64) { /* short windows (first layer): copy them, one gemm */
    for (int t = 0; t < Tout; t++)
      memcpy(col + (size_t)t * kc, x + (size_t)t * s * ci, sizeof(float) * (size_t)kc);
    mm(f->ref, 1, Tout, c->co, kc, col, kc, c->w, kc, 0.0f, y, c->co);
    return;
  }
  for (int j = 0; j < k; j += s) { /* taps j .. j+nt-1: rows s*ci apart, in place */
    int nt = k - j < s ? k - j : s;
    mm(f->ref, 1, Tout, c->co, nt * ci, x + (size_t)j * ci, s * ci, c->w + (size_t)j * ci, kc,
       j ? 1.0f : 0.0f, y, c->co);
  }
}

/* The norm and GELU after conv layer i, in place on y (T, co). */
static int conv_post(const fwd *f, const w2v_model *m, int i, float *y, int T) {
  const conv_layer *c = &m->conv[i];
  const int co = c->co;
  if (m->group_norm && i == 0) {
    /* one group per channel: normalise each channel over time (a conv bias cancels out) */
    double *s = calloc((size_t)co * 2, sizeof(double)), *q = s + co;
    float *ab = malloc(sizeof(float) * (size_t)co * 2);
    if (!s || !ab) {
      free(s);
      free(ab);
      return EMO_ENOMEM;
    }
    channel_sums(y, T, co, s, q);
    for (int j = 0; j < co; j++) {
      double mu = s[j] / T, var = q[j] / T - mu * mu;
      double a = c->ln_g[j] / sqrt((var > 0 ? var : 0) + EPS);
      ab[j] = (float)a;
      ab[co + j] = (float)(c->ln_b[j] - mu * a);
    }
    act(f, y, T, co, ab, ab + co);
    free(s);
    free(ab);
  } else if (c->ln_g) {
    ln(f, y, T, co, c->b, c->ln_g, c->ln_b, y, 1);
  } else {
    act(f, y, T, co, NULL, c->b);
  }
  return 0;
}

/* Positional embedding: x (T, D) += GELU(grouped conv(x) + b); pos (T, D), xg ((T+K), D/G) and
 * col (rows, K*D/G) are scratch. */
static void pos_conv(const fwd *f, const w2v_model *m, float *x, int T, float *pos, float *xg,
                     float *col, int rows) {
  const int D = m->D, K = m->K, Dg = m->D / m->G, pad = m->K / 2, kc = m->K * Dg;
  for (int g = 0; g < m->G; g++) {
    memset(xg, 0, sizeof(float) * (size_t)pad * Dg);
    for (int t = 0; t < T; t++)
      memcpy(xg + (size_t)(pad + t) * Dg, x + (size_t)t * D + (size_t)g * Dg,
             sizeof(float) * (size_t)Dg);
    memset(xg + (size_t)(pad + T) * Dg, 0, sizeof(float) * (size_t)(K - pad) * Dg);
    const float *w = m->pos_w + (size_t)g * Dg * kc;
    for (int t0 = 0; t0 < T; t0 += rows) {
      int nr = T - t0 < rows ? T - t0 : rows;
      for (int r = 0; r < nr; r++) /* window of output t: padded rows t .. t+K-1 */
        memcpy(col + (size_t)r * kc, xg + (size_t)(t0 + r) * Dg, sizeof(float) * (size_t)kc);
      mm(f->ref, 1, nr, Dg, kc, col, kc, w, kc, 0.0f, pos + (size_t)t0 * D + (size_t)g * Dg, D);
    }
  }
  add_gelu(f, x, pos, T, D, m->pos_b);
}

/* Self-attention of in (T, D) without out_proj: ctx (T, D). */
static void attention(const fwd *f, const w2v_model *m, const enc_layer *e, const float *in, int T,
                      float *qkv, float *ctx, float *S, float *inv, int rows) {
  const int D = m->D, dh = m->D / m->H, ld = 3 * m->D;
  mm(f->ref, 1, T, ld, D, in, D, e->qkv_w, D, 0.0f, qkv, ld);
  for (int t = 0; t < T; t++) {
    float *q = qkv + (size_t)t * ld;
    for (int j = 0; j < D; j++) q[j] += e->q_b[j];
  }
  for (int h = 0; h < m->H; h++) {
    const float *Q = qkv + (size_t)h * dh, *Kh = qkv + D + (size_t)h * dh,
                *V = qkv + 2 * (size_t)D + (size_t)h * dh;
    for (int t0 = 0; t0 < T; t0 += rows) {
      int nr = T - t0 < rows ? T - t0 : rows;
      mm(f->ref, 1, nr, T, dh, Q + (size_t)t0 * ld, ld, Kh, ld, 0.0f, S, T);
      softmax(f, S, nr, T, inv);
      float *o = ctx + (size_t)t0 * D + (size_t)h * dh;
      mm(f->ref, 0, nr, dh, T, S, T, V, ld, 0.0f, o, D);
      for (int r = 0; r < nr; r++)
        for (int j = 0; j < dh; j++) o[(size_t)r * D + j] *= inv[r];
    }
  }
}

/* Feed-forward of in (T, D), added to x: x += W2 GELU(W1 in + b1) (b2 left to the caller). */
static void feed_forward(const fwd *f, const w2v_model *m, const enc_layer *e, const float *in,
                         int T, float *hid, float *x) {
  mm(f->ref, 1, T, m->F, m->D, in, m->D, e->ff1_w, m->D, 0.0f, hid, m->F);
  act(f, hid, T, m->F, NULL, e->ff1_b);
  mm(f->ref, 1, T, m->D, m->F, hid, m->F, e->ff2_w, m->F, 1.0f, x, m->D);
}

/* Mean over frames of x (T, D) after the output norm, then the head; in double. Returns 0,
 * EMO_ENOMEM, or EMO_EMODEL when a logit or pooled value is NaN or beyond float range (then
 * logits and hidden are left alone). */
static int pool_and_head(const fwd *f, const w2v_model *m, float *x, int T, float *logits,
                         float *hidden) {
  const int D = m->D;
  double *pool = calloc((size_t)D + (size_t)m->P, sizeof(double));
  if (!pool) return EMO_ENOMEM;
  double *z = pool + D; /* (P) projector output */
  if (m->out_norm == OUT_LAYER_NORM) ln(f, x, T, D, NULL, NULL, NULL, x, 0);
  for (int t = 0; t < T; t++)
    for (int j = 0; j < D; j++) pool[j] += x[(size_t)t * D + j];
  for (int j = 0; j < D; j++) pool[j] /= T;
  if (m->out_norm == OUT_LAYER_NORM_ALL) { /* one norm over all frames and dims jointly */
    double s = 0, q = 0, cnt = (double)T * D;
    for (size_t i = 0; i < (size_t)T * D; i++) s += x[i];
    double mu = s / cnt;
    for (size_t i = 0; i < (size_t)T * D; i++) q += (x[i] - mu) * (x[i] - mu);
    double is = 1.0 / sqrt(q / cnt + EPS);
    for (int j = 0; j < D; j++) pool[j] = (pool[j] - mu) * is;
  }
  const double *in = pool;
  if (m->head == HEAD_HF_SEQCLS) { /* projector is linear: projecting the mean is exact */
    for (int p = 0; p < m->P; p++) {
      double s = m->hp_b[p];
      for (int j = 0; j < D; j++) s += (double)m->hp_w[(size_t)p * D + j] * pool[j];
      z[p] = s;
    }
    in = z;
  }
  double lg[W2V_MAX_LABELS];
  int ok = 1;
  for (int k = 0; k < m->n_labels; k++) {
    double s = m->cls_b ? m->cls_b[k] : 0.0;
    for (int j = 0; j < m->P; j++) s += (double)m->cls_w[(size_t)k * m->P + j] * in[j];
    lg[k] = s;
    ok &= fabs(s) <= FLT_MAX; /* false for NaN too */
  }
  for (int j = 0; j < D; j++) ok &= fabs(pool[j]) <= FLT_MAX;
  if (ok) {
    for (int k = 0; k < m->n_labels; k++) logits[k] = (float)lg[k];
    if (hidden)
      for (int j = 0; j < D; j++) hidden[j] = (float)pool[j];
  }
  free(pool);
  return ok ? 0 : EMO_EMODEL;
}

static int forward(const fwd *f, const w2v_model *m, const float *pcm, size_t n, float *logits,
                   float *hidden, emoi_err *err) {
  int frames[MAX_CONV + 1];
  size_t conv_sz[2] = {0, 0}, col_sz = 0, fl1 = 0, fl2 = 0;
  float *s1 = NULL, *s2 = NULL, *x = NULL;
  frames[0] = (int)n;
  for (int i = 0; i < m->n_conv; i++) {
    const conv_layer *c = &m->conv[i];
    if (frames[i] < c->k)
      return emoi_fail(err, EMO_EINVAL,
                       "w2v_classify: %zu samples give no frame (conv layer %d needs %d inputs, "
                       "has %d)",
                       n, i, c->k, frames[i]);
    frames[i + 1] = (frames[i] - c->k) / c->s + 1;
    size_t a = 0;
    if (!add_size(&a, (size_t)frames[i + 1], (size_t)c->co)) goto too_big;
    if (a > conv_sz[i & 1]) conv_sz[i & 1] = a; /* even layers write buf[0], odd buf[1] */
    if ((size_t)c->k * c->ci <= 64 && (size_t)frames[i + 1] * c->k * c->ci > col_sz)
      col_sz = (size_t)frames[i + 1] * c->k * c->ci;
  }
  const int T = frames[m->n_conv], D = m->D, Dg = m->D / m->G, kc = m->K * Dg;
  const int C = m->conv[m->n_conv - 1].co;
  /* stage 1: normalised input, ping-pong conv outputs, first-layer windows */
  if (!add_size(&fl1, n, 1) || !add_size(&fl1, conv_sz[0], 1) || !add_size(&fl1, conv_sz[1], 1) ||
      !add_size(&fl1, col_sz, 1))
    goto too_big;
  /* stage 2: y, q|k|v, ctx (T, D) each; padded group copy; row sums; one work block shared by
   * the im2col rows of the positional conv, the score rows and the FFN's hidden layer */
  int att_rows = (size_t)T * T <= f->block ? T : (int)(f->block / (size_t)T);
  int pos_rows = (size_t)T * kc <= f->block ? T : (int)(f->block / (size_t)kc);
  if (att_rows < 16) att_rows = T < 16 ? T : 16;
  if (pos_rows < 16) pos_rows = T < 16 ? T : 16;
  size_t work = (size_t)T * m->F;
  if ((size_t)att_rows * T > work) work = (size_t)att_rows * T;
  if ((size_t)pos_rows * kc > work) work = (size_t)pos_rows * kc;
  if (!add_size(&fl2, (size_t)T, (size_t)D) || !add_size(&fl2, (size_t)T, (size_t)D * 3) ||
      !add_size(&fl2, (size_t)T, (size_t)D) || !add_size(&fl2, (size_t)T + m->K, (size_t)Dg) ||
      !add_size(&fl2, (size_t)T, 1) || !add_size(&fl2, work, 1))
    goto too_big;
  s1 = aligned_alloc(64, fl1 * sizeof(float)); /* fl1 is a multiple of 16 floats */
  x = aligned_alloc(64, (((size_t)T * D + 15) & ~(size_t)15) * sizeof(float));
  if (!s1 || !x) goto oom;
  arena_cut a1 = {s1, 0};
  float *xin = cut(&a1, n), *buf[2] = {cut(&a1, conv_sz[0]), cut(&a1, conv_sz[1])},
        *col = cut(&a1, col_sz);

  /* input normalisation (statistics in double) */
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++) sum += pcm[i];
  double mu = sum / (double)n;
  for (size_t i = 0; i < n; i++) sq += (pcm[i] - mu) * (pcm[i] - mu);
  if (!isfinite(sum) || !isfinite(sq)) {
    free(s1);
    free(x);
    return emoi_fail(err, EMO_EINVAL, "w2v_classify: the input holds NaN or infinite samples");
  }
  if (m->in_norm == IN_NONE) {
    memcpy(xin, pcm, n * sizeof(float));
  } else {
    double is = 1.0 / sqrt(sq / (double)n + (m->in_norm == IN_ZMUV ? 1e-7 : 1e-5));
    for (size_t i = 0; i < n; i++) xin[i] = (float)((pcm[i] - mu) * is);
  }

  /* feature encoder */
  const float *cur = xin;
  for (int i = 0; i < m->n_conv; i++) {
    float *y = buf[i & 1];
    conv_fwd(f, &m->conv[i], cur, frames[i + 1], y, col);
    if (conv_post(f, m, i, y, frames[i + 1])) goto oom;
    cur = y;
  }
  /* feature projection: LayerNorm over channels (in place), Linear to D */
  float *feat = buf[(m->n_conv - 1) & 1];
  ln(f, feat, T, C, NULL, m->fp_g, m->fp_b, feat, 0);
  mm(f->ref, 1, T, D, C, feat, C, m->proj_w, C, 0.0f, x, D);
  for (int t = 0; t < T; t++)
    for (int j = 0; j < D; j++) x[(size_t)t * D + j] += m->proj_b[j];
  free(s1);
  s1 = NULL;

  s2 = aligned_alloc(64, fl2 * sizeof(float));
  if (!s2) goto oom;
  arena_cut a2 = {s2, 0};
  float *y = cut(&a2, (size_t)T * D), *qkv = cut(&a2, (size_t)T * D * 3),
        *ctx = cut(&a2, (size_t)T * D), *xg = cut(&a2, ((size_t)T + m->K) * Dg),
        *inv = cut(&a2, (size_t)T), *wk = cut(&a2, work);

  /* transformer */
  pos_conv(f, m, x, T, ctx, xg, wk, pos_rows);
  const float *pending = NULL; /* a bias still to be added to x (pre-norm) */
  if (!m->lnf) ln(f, x, T, D, NULL, m->enc_g, m->enc_b, x, 0);
  for (int l = 0; l < m->L; l++) {
    const enc_layer *e = &m->layers[l];
    if (m->lnf) { /* pre-norm: x = x + Attn(LN(x)); x = x + FFN(LN(x)) */
      ln(f, x, T, D, pending, e->ln1_g, e->ln1_b, y, 0);
      attention(f, m, e, y, T, qkv, ctx, wk, inv, att_rows);
      mm(f->ref, 1, T, D, D, ctx, D, e->out_w, D, 1.0f, x, D);
      ln(f, x, T, D, e->out_b, e->ln2_g, e->ln2_b, y, 0);
      feed_forward(f, m, e, y, T, wk, x);
      pending = e->ff2_b;
    } else { /* post-norm: x = LN(x + Attn(x)); x = LN(x + FFN(x)) */
      attention(f, m, e, x, T, qkv, ctx, wk, inv, att_rows);
      mm(f->ref, 1, T, D, D, ctx, D, e->out_w, D, 1.0f, x, D);
      ln(f, x, T, D, e->out_b, e->ln1_g, e->ln1_b, x, 0);
      feed_forward(f, m, e, x, T, wk, x);
      ln(f, x, T, D, e->ff2_b, e->ln2_g, e->ln2_b, x, 0);
    }
  }
  if (m->lnf) ln(f, x, T, D, pending, m->enc_g, m->enc_b, x, 0);
  free(s2);
  s2 = NULL;
  int r = pool_and_head(f, m, x, T, logits, hidden);
  if (r == EMO_ENOMEM) goto oom;
  free(x);
  if (r) /* finite weights can still overflow float32 */
    return emoi_fail(err, r,
                     "w2v_classify: the logits or the pooled vector are not finite (the model's "
                     "activations overflow float32: a broken model file?)");
  return EMO_OK;
oom:
  free(s1);
  free(s2);
  free(x);
  return emoi_fail(err, EMO_ENOMEM, "w2v_classify: out of memory (%zu MB of scratch)",
                   (fl1 + fl2) >> 18);
too_big:
  return emoi_fail(err, EMO_ENOMEM,
                   "w2v_classify: %zu samples would need more than %zu GB of scratch with this "
                   "model",
                   n, MAX_SCRATCH_BYTES >> 30);
}

int w2v_classify_ex(const w2v_model *m, const float *pcm, size_t n, const w2v_options *opt,
                    float *logits, float *hidden, emoi_err *err) {
  if (!m || !pcm || !logits) return emoi_fail(err, EMO_EINVAL, "w2v_classify: NULL argument");
  if (n < (size_t)m->min_samples || n > W2V_MAX_SAMPLES)
    return emoi_fail(err, EMO_EINVAL,
                     "w2v_classify: %zu samples, this model takes %d..%d (16 kHz; fewer give no "
                     "frame)",
                     n, m->min_samples, W2V_MAX_SAMPLES);
  fwd f = {opt && opt->reference, BLOCK_FLOATS};
  if (opt && opt->block > 0 && opt->block < BLOCK_FLOATS) f.block = opt->block;
  return forward(&f, m, pcm, n, logits, hidden, err);
}

int w2v_classify(const w2v_model *m, const float *pcm, size_t n, int n_threads, float *logits,
                 float *hidden, emoi_err *err) {
  (void)n_threads; /* OpenBLAS's thread count is the application's (see the top of the file) */
  return w2v_classify_ex(m, pcm, n, NULL, logits, hidden, err);
}
