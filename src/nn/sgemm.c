/* sgemm.c: emo's float32 GEMM microkernels (sgemm.h): the packing, the scalar reference, the
 * AVX2 + FMA 6x16 (12x8 for a last panel of at most 8 channels) and AVX-512F 8x32 register tiles,
 * the row-chunk driver and the graph-node wrappers plan.c calls. Register blocking follows Goto &
 * van de Geijn, "Anatomy of High-Performance Matrix Multiplication" (ACM TOMS 34(3), 2008): a tile
 * of c stays in registers over the whole depth, a panel of packed weights streams through, and rows
 * of a are taken in chunks that stay in L1 while every panel passes over them. The vector kernels
 * are compiled with target attributes and picked at run time (__builtin_cpu_supports), so a binary
 * built for baseline x86-64 runs everywhere; other architectures get the scalar path.
 *
 * Bit-exactness: an output element is acc = bias, then acc = fma(a[i], w[i], acc) for i = 0..k-1,
 * then (when the node has a clamp) max(acc, lo), min(acc, hi), the same on every path. Rows
 * past m in a partial tile are never computed (a tile size of each height is compiled), and
 * columns past n are computed on zero weights and not stored. */
#include "nn/sgemm.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SG_X86 1
#define SG_AVX2 __attribute__((target("avx2,fma")))
#define SG_AVX512 __attribute__((target("avx512f")))
#define SG_INLINE static inline __attribute__((always_inline))
#else
#define SG_X86 0
#endif

#define SG_NR 16           /* output channels per packed panel */
#define SG_L1A 16384       /* bytes of a a row chunk may take (it stays in L1 for every panel) */
#define SG_MR_AVX2 6       /* rows of the AVX2 tile (x 16 channels) */
#define SG_MR_AVX2_HALF 12 /* rows of the AVX2 tile for a panel of at most 8 channels */
#define SG_MR_AVX512 8     /* rows of the AVX-512 tile (x 32 channels) */

struct nn_sgemm {
  int n, k, np; /* output channels, depth, panels: ceil(n / 16) */
  nn_isa isa;   /* NN_ISA_AVX512, NN_ISA_AVX2 or NN_ISA_SCALAR */
  int clamp;    /* 0: lo and hi are infinite, no clamp (NaN passes) */
  float lo, hi; /* clamp */
  float *bias;  /* (np * 16), zero beyond n */
  float *w;     /* (np, k, 16): panel p holds channels [16p, 16p + 16) of w^T, zero beyond n */
};

nn_isa nn_sgemm_isa(nn_isa cap) {
  int any = cap <= NN_ISA_AUTO || cap >= NN_ISA_COUNT;
#if SG_X86
  __builtin_cpu_init();
  if ((any || cap >= NN_ISA_AVX512) && __builtin_cpu_supports("avx512f")) return NN_ISA_AVX512;
  if ((any || cap >= NN_ISA_AVX2) && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return NN_ISA_AVX2;
#else
  (void)any;
#endif
  return NN_ISA_SCALAR;
}

static float clampf(float v, float lo, float hi) {
  v = v > lo ? v : lo; /* as maxps(v, lo): a NaN becomes lo */
  return v < hi ? v : hi;
}

static int has_clamp(float lo, float hi) {
  return lo != -INFINITY || hi != INFINITY;
}

void nn_sgemm_ref(int m, int n, int k, const float *a, size_t lda, const float *w, size_t ldw,
                  const float *bias, float act_min, float act_max, float *c, size_t ldc) {
  int cl = has_clamp(act_min, act_max);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      float acc = bias ? bias[j] : 0.0f;
      for (int q = 0; q < k; q++) acc = fmaf(a[(size_t)i * lda + q], w[(size_t)j * ldw + q], acc);
      c[(size_t)i * ldc + j] = cl ? clampf(acc, act_min, act_max) : acc;
    }
}

/* The scalar path on the packed weights (the cap's scalar choice; tests). */
static void rows_scalar(const nn_sgemm *g, int r0, int r1, const float *a, size_t lda, float *c,
                        size_t ldc) {
  for (int i = r0; i < r1; i++)
    for (int j = 0; j < g->n; j++) {
      const float *wp = g->w + (size_t)(j / SG_NR) * g->k * SG_NR + j % SG_NR;
      float acc = g->bias[j];
      for (int q = 0; q < g->k; q++) acc = fmaf(a[(size_t)i * lda + q], wp[(size_t)q * SG_NR], acc);
      c[(size_t)i * ldc + j] = g->clamp ? clampf(acc, g->lo, g->hi) : acc;
    }
}

#if SG_X86
static const int32_t sg_mask_src[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        -1, -1, -1, -1, -1, 0,  0,  0,  0,  0,  0,
                                        0,  0,  0,  0,  0,  0,  0,  0,  0,  0};

/* MR rows x NV * 8 channels of c from panel w (k, 16): MR and NV are constants in each
 * instantiation and the accumulators are named variables (GCC keeps an array of them in memory as
 * well, storing every accumulator to the stack in the inner loop: the very spill this file exists
 * to avoid). NV 2: the 6x16 tile. NV 1, up to 12 rows: the tile for a last panel with at most 8
 * channels (n = 8, 24, 36, 1 in BlazeFace), where the 6x16 tile would spend half or more of its
 * multiply-adds on zero weights; per element the same bias, fma chain over k and clamp, so the
 * same floats. nr (1..NV * 8) channels are stored. */
#define A2_ROW(r)                    \
  __m256 c##r##0 = b0, c##r##1 = b1; \
  const float *a##r = a + (size_t)(MR > r ? r : 0) * lda;
#define A2_FMA(r)                                           \
  if (MR > r) {                                             \
    const __m256 va = _mm256_broadcast_ss(a##r + q);        \
    c##r##0 = _mm256_fmadd_ps(va, w0, c##r##0);             \
    if (NV > 1) c##r##1 = _mm256_fmadd_ps(va, w1, c##r##1); \
  }
#define A2_CLAMP(r)                                                        \
  if (MR > r) {                                                            \
    c##r##0 = _mm256_min_ps(_mm256_max_ps(c##r##0, vlo), vhi);             \
    if (NV > 1) c##r##1 = _mm256_min_ps(_mm256_max_ps(c##r##1, vlo), vhi); \
  }
#define A2_STORE(r)                                                 \
  if (MR > r) {                                                     \
    _mm256_storeu_ps(c + (size_t)r * ldc, c##r##0);                 \
    if (NV > 1) _mm256_storeu_ps(c + (size_t)r * ldc + 8, c##r##1); \
  }
#define A2_MSTORE(r)                                                       \
  if (MR > r) {                                                            \
    _mm256_maskstore_ps(c + (size_t)r * ldc, m0, c##r##0);                 \
    if (NV > 1) _mm256_maskstore_ps(c + (size_t)r * ldc + 8, m1, c##r##1); \
  }
#define A2_EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

SG_INLINE SG_AVX2 void avx2_tile(const int MR, const int NV, int k, const float *a, size_t lda,
                                 const float *w, const float *bias, int clamp, float lo, float hi,
                                 float *c, size_t ldc, int nr) {
  const __m256 b0 = _mm256_loadu_ps(bias), b1 = NV > 1 ? _mm256_loadu_ps(bias + 8) : b0;
  A2_EACH(A2_ROW)
  for (int q = 0; q < k; q++) {
    const __m256 w0 = _mm256_load_ps(w), w1 = NV > 1 ? _mm256_load_ps(w + 8) : w0;
    w += SG_NR;
    A2_EACH(A2_FMA)
  }
  if (clamp) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    A2_EACH(A2_CLAMP)
  }
  if (nr == NV * 8) {
    A2_EACH(A2_STORE)
  } else {
    const __m256i m0 = _mm256_loadu_si256((const __m256i *)(sg_mask_src + 16 - nr));
    const __m256i m1 = _mm256_loadu_si256((const __m256i *)(sg_mask_src + 24 - nr));
    A2_EACH(A2_MSTORE)
  }
}

#define AVX2_TILE_FN(NAME, R, NV)                                                         \
  static SG_AVX2 void NAME##R(int k, const float *a, size_t lda, const float *w,          \
                              const float *bias, int clamp, float lo, float hi, float *c, \
                              size_t ldc, int nr) {                                       \
    avx2_tile(R, NV, k, a, lda, w, bias, clamp, lo, hi, c, ldc, nr);                      \
  }
AVX2_TILE_FN(avx2_tile, 1, 2)
AVX2_TILE_FN(avx2_tile, 2, 2)
AVX2_TILE_FN(avx2_tile, 3, 2)
AVX2_TILE_FN(avx2_tile, 4, 2)
AVX2_TILE_FN(avx2_tile, 5, 2)
AVX2_TILE_FN(avx2_tile, 6, 2)
AVX2_TILE_FN(avx2_half, 1, 1)
AVX2_TILE_FN(avx2_half, 2, 1)
AVX2_TILE_FN(avx2_half, 3, 1)
AVX2_TILE_FN(avx2_half, 4, 1)
AVX2_TILE_FN(avx2_half, 5, 1)
AVX2_TILE_FN(avx2_half, 6, 1)
AVX2_TILE_FN(avx2_half, 7, 1)
AVX2_TILE_FN(avx2_half, 8, 1)
AVX2_TILE_FN(avx2_half, 9, 1)
AVX2_TILE_FN(avx2_half, 10, 1)
AVX2_TILE_FN(avx2_half, 11, 1)
AVX2_TILE_FN(avx2_half, 12, 1)

typedef void (*avx2_tile_fn)(int, const float *, size_t, const float *, const float *, int, float,
                             float, float *, size_t, int);
static const avx2_tile_fn avx2_tiles[SG_MR_AVX2 + 1] = {
    NULL, avx2_tile1, avx2_tile2, avx2_tile3, avx2_tile4, avx2_tile5, avx2_tile6};
static const avx2_tile_fn avx2_halves[SG_MR_AVX2_HALF + 1] = {
    NULL,       avx2_half1, avx2_half2, avx2_half3,  avx2_half4,  avx2_half5, avx2_half6,
    avx2_half7, avx2_half8, avx2_half9, avx2_half10, avx2_half11, avx2_half12};

/* MR rows x NP * 16 channels of c from panels w0 (and w1 when NP is 2), nr (1..NP * 16) channels
 * stored. Broadcasts come straight from memory (embedded broadcast): 2 * MR accumulators, named
 * variables as in avx2_tile. */
#define A5_ROW(r)                    \
  __m512 d##r##0 = b0, d##r##1 = b1; \
  const float *a##r = a + (size_t)(MR > r ? r : 0) * lda;
#define A5_FMA(r)                                           \
  if (MR > r) {                                             \
    const __m512 va = _mm512_set1_ps(a##r[q]);              \
    d##r##0 = _mm512_fmadd_ps(va, v0, d##r##0);             \
    if (NP > 1) d##r##1 = _mm512_fmadd_ps(va, v1, d##r##1); \
  }
#define A5_CLAMP(r)                                                        \
  if (MR > r) {                                                            \
    d##r##0 = _mm512_min_ps(_mm512_max_ps(d##r##0, vlo), vhi);             \
    if (NP > 1) d##r##1 = _mm512_min_ps(_mm512_max_ps(d##r##1, vlo), vhi); \
  }
#define A5_STORE(r)                                                           \
  if (MR > r) {                                                               \
    _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, d##r##0);                  \
    if (NP > 1) _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, d##r##1); \
  }
#define A5_EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

SG_INLINE SG_AVX512 void avx512_tile(const int MR, const int NP, int k, const float *a, size_t lda,
                                     const float *w0, const float *w1, const float *bias, int clamp,
                                     float lo, float hi, float *c, size_t ldc, int nr) {
  const __m512 b0 = _mm512_loadu_ps(bias), b1 = NP > 1 ? _mm512_loadu_ps(bias + 16) : b0;
  A5_EACH(A5_ROW)
  for (int q = 0; q < k; q++) {
    const __m512 v0 = _mm512_load_ps(w0 + (size_t)q * SG_NR);
    const __m512 v1 = NP > 1 ? _mm512_load_ps(w1 + (size_t)q * SG_NR) : v0;
    A5_EACH(A5_FMA)
  }
  if (clamp) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    A5_EACH(A5_CLAMP)
  }
  const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32  ? (__mmask16)0xFFFF
                       : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1)
                                 : (__mmask16)0;
  A5_EACH(A5_STORE)
}

#define AVX512_TILE_FN(R)                                                                          \
  static SG_AVX512 void avx512_tile##R(int np, int k, const float *a, size_t lda, const float *w0, \
                                       const float *w1, const float *bias, int clamp, float lo,    \
                                       float hi, float *c, size_t ldc, int nr) {                   \
    if (np > 1)                                                                                    \
      avx512_tile(R, 2, k, a, lda, w0, w1, bias, clamp, lo, hi, c, ldc, nr);                       \
    else                                                                                           \
      avx512_tile(R, 1, k, a, lda, w0, w0, bias, clamp, lo, hi, c, ldc, nr);                       \
  }
AVX512_TILE_FN(1)
AVX512_TILE_FN(2)
AVX512_TILE_FN(3)
AVX512_TILE_FN(4)
AVX512_TILE_FN(5)
AVX512_TILE_FN(6)
AVX512_TILE_FN(7)
AVX512_TILE_FN(8)

typedef void (*avx512_tile_fn)(int, int, const float *, size_t, const float *, const float *,
                               const float *, int, float, float, float *, size_t, int);
static const avx512_tile_fn avx512_tiles[SG_MR_AVX512 + 1] = {
    NULL,         avx512_tile1, avx512_tile2, avx512_tile3, avx512_tile4,
    avx512_tile5, avx512_tile6, avx512_tile7, avx512_tile8};
#endif

/* Rows [r0, r1) of c: every panel passes over the chunk of a, tile by tile. */
static void rows_run(const nn_sgemm *g, int r0, int r1, const float *a, size_t lda, float *c,
                     size_t ldc, const nn_epi *e) {
#if SG_X86
  const size_t kp = (size_t)g->k * SG_NR; /* floats of one panel */
  if (g->isa == NN_ISA_AVX2) {
    for (int p = 0; p < g->np; p++) {
      int nr = g->n - p * SG_NR < SG_NR ? g->n - p * SG_NR : SG_NR;
      if (nr <= 8) { /* the last panel's half that has weights */
        for (int r = r0; r < r1; r += SG_MR_AVX2_HALF) {
          int mr = r1 - r < SG_MR_AVX2_HALF ? r1 - r : SG_MR_AVX2_HALF;
          avx2_halves[mr](g->k, a + (size_t)r * lda, lda, g->w + p * kp, g->bias + p * SG_NR,
                          g->clamp, g->lo, g->hi, c + (size_t)r * ldc + p * SG_NR, ldc, nr);
        }
        continue;
      }
      for (int r = r0; r < r1; r += SG_MR_AVX2) {
        int mr = r1 - r < SG_MR_AVX2 ? r1 - r : SG_MR_AVX2;
        avx2_tiles[mr](g->k, a + (size_t)r * lda, lda, g->w + p * kp, g->bias + p * SG_NR, g->clamp,
                       g->lo, g->hi, c + (size_t)r * ldc + p * SG_NR, ldc, nr);
      }
    }
    if (e) nn_epi_apply(e, c, ldc, r0, r1 - r0, 0, g->n);
    return;
  }
  if (g->isa == NN_ISA_AVX512) {
    for (int p = 0; p < g->np; p += 2) {
      int np = g->np - p >= 2 ? 2 : 1, rest = g->n - p * SG_NR;
      int nr = rest < np * SG_NR ? rest : np * SG_NR;
      for (int r = r0; r < r1; r += SG_MR_AVX512) {
        int mr = r1 - r < SG_MR_AVX512 ? r1 - r : SG_MR_AVX512;
        avx512_tiles[mr](np, g->k, a + (size_t)r * lda, lda, g->w + p * kp,
                         g->w + (p + np - 1) * kp, g->bias + p * SG_NR, g->clamp, g->lo, g->hi,
                         c + (size_t)r * ldc + p * SG_NR, ldc, nr);
      }
    }
    if (e) nn_epi_apply(e, c, ldc, r0, r1 - r0, 0, g->n);
    return;
  }
#endif
  rows_scalar(g, r0, r1, a, lda, c, ldc);
  if (e) nn_epi_apply(e, c, ldc, r0, r1 - r0, 0, g->n);
}

typedef struct sg_job {
  const nn_sgemm *g;
  const float *a;
  size_t lda;
  float *c;
  size_t ldc;
  const nn_epi *e;
  int m, chunk;
} sg_job;

static void chunk_task(void *ctx, size_t i) {
  const sg_job *j = ctx;
  int r0 = (int)i * j->chunk, r1 = r0 + j->chunk < j->m ? r0 + j->chunk : j->m;
  rows_run(j->g, r0, r1, j->a, j->lda, j->c, j->ldc, j->e);
}

void nn_sgemm_run(const nn_sgemm *g, int m, const float *a, size_t lda, float *c, size_t ldc,
                  void *threadpool) {
  nn_sgemm_run_epi(g, m, a, lda, c, ldc, NULL, threadpool);
}

void nn_sgemm_run_epi(const nn_sgemm *g, int m, const float *a, size_t lda, float *c, size_t ldc,
                      const nn_epi *e, void *threadpool) {
  if (!g || m <= 0) return;
  /* rows per chunk: a multiple of the tile heights (6, 8) whose a fits SG_L1A bytes */
  int chunk = (int)(SG_L1A / ((size_t)g->k * sizeof(float)));
  chunk = chunk < 24 ? 24 : chunk / 24 * 24;
  sg_job j = {g, a, lda, c, ldc, e, m, chunk};
  size_t n_chunks = ((size_t)m + (size_t)chunk - 1) / (size_t)chunk;
  if (threadpool && n_chunks > 1 && pthreadpool_get_threads_count(threadpool) > 1)
    pthreadpool_parallelize_1d(threadpool, chunk_task, &j, n_chunks, 0);
  else
    for (size_t i = 0; i < n_chunks; i++) chunk_task(&j, i);
}

int nn_sgemm_create(int n, int k, const float *w, size_t ldw, const float *bias, float act_min,
                    float act_max, nn_isa isa, nn_sgemm **out, emoi_err *err) {
  *out = NULL;
  if (n < 1 || k < 1 || !w)
    return emoi_fail(err, EMO_EINVAL, "nn_sgemm_create: bad shape %d x %d", n, k);
  nn_sgemm *g = calloc(1, sizeof *g);
  if (!g) return emoi_fail(err, EMO_ENOMEM, "nn_sgemm_create: out of memory");
  g->n = n;
  g->k = k;
  g->np = (n + SG_NR - 1) / SG_NR;
  g->isa = nn_sgemm_isa(isa);
  g->lo = act_min;
  g->hi = act_max;
  g->clamp = has_clamp(act_min, act_max);
  size_t wf = (size_t)g->np * (size_t)k * SG_NR, bf = (size_t)g->np * SG_NR;
  g->w = aligned_alloc(64, (wf * sizeof(float) + 63) & ~(size_t)63);
  g->bias = aligned_alloc(64, (bf * sizeof(float) + 63) & ~(size_t)63);
  if (!g->w || !g->bias) {
    nn_sgemm_destroy(&g);
    return emoi_fail(err, EMO_ENOMEM, "nn_sgemm_create: out of memory for %d x %d weights", n, k);
  }
  memset(g->w, 0, wf * sizeof(float));
  memset(g->bias, 0, bf * sizeof(float));
  for (int j = 0; j < n; j++) {
    float *wp = g->w + (size_t)(j / SG_NR) * k * SG_NR + j % SG_NR;
    for (int q = 0; q < k; q++) wp[(size_t)q * SG_NR] = w[(size_t)j * ldw + q];
    if (bias) g->bias[j] = bias[j];
  }
  *out = g;
  return EMO_OK;
}

nn_isa nn_sgemm_path(const nn_sgemm *g) {
  return g ? g->isa : NN_ISA_SCALAR;
}

void nn_sgemm_destroy(nn_sgemm **pg) {
  if (!pg || !*pg) return;
  free((*pg)->w);
  free((*pg)->bias);
  free(*pg);
  *pg = NULL;
}

/* ---- Graph nodes ----------------------------------------------------------------------- */

int nn_sgemm_node_eligible(const nn_graph *g, int k) {
  const nn_node *n = &g->nodes[k];
  if (n->op != NN_OP_CONV2D && n->op != NN_OP_FULLY_CONNECTED) return 0;
  if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0) return 0;
  const nn_value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
  if (x->is_const || !w->is_const || x->dtype != NN_F32 || w->dtype != NN_F32) return 0;
  if (n->n_in > 2 && n->in[2] >= 0) {
    const nn_value *b = &g->values[n->in[2]];
    if (!b->is_const || b->dtype != NN_F32) return 0;
  }
  if (nn_value_numel(x) == 0 || nn_value_numel(y) == 0) return 0;
  if (n->op == NN_OP_CONV2D) {
    const nn_attr *a = &n->attr;
    if (x->rank != 4 || w->rank != 4 || w->shape[1] != 1 || w->shape[2] != 1) return 0;
    if (a->stride_h != 1 || a->stride_w != 1 || a->pad_top || a->pad_bottom || a->pad_left ||
        a->pad_right)
      return 0;
    return y->shape[1] == x->shape[1] && y->shape[2] == x->shape[2] && w->shape[3] == x->shape[3];
  }
  /* FULLY_CONNECTED: x's elements are rows of In (as the reference and XNNPACK read them) */
  if (w->rank != 2 || w->shape[1] < 1 || nn_value_numel(x) % w->shape[1]) return 0;
  return nn_value_numel(y) == nn_value_numel(x) / w->shape[1] * w->shape[0];
}

int nn_sgemm_create_node(const nn_graph *g, int k, nn_isa isa, nn_sgemm **out, emoi_err *err) {
  return nn_sgemm_create_node_clamped(g, k, g->nodes[k].attr.act_min, g->nodes[k].attr.act_max, isa,
                                      out, err);
}

int nn_sgemm_create_node_clamped(const nn_graph *g, int k, float act_min, float act_max, nn_isa isa,
                                 nn_sgemm **out, emoi_err *err) {
  const nn_node *n = &g->nodes[k];
  const nn_value *w = &g->values[n->in[1]];
  int co = (int)w->shape[0], ci = (int)(n->op == NN_OP_CONV2D ? w->shape[3] : w->shape[1]);
  const float *b = n->n_in > 2 && n->in[2] >= 0
                       ? (const float *)(g->blob + g->values[n->in[2]].const_offset)
                       : NULL;
  int st = nn_sgemm_create(co, ci, (const float *)(g->blob + w->const_offset), (size_t)ci, b,
                           act_min, act_max, isa, out, err);
  if (st) emoi_err_prefix(err, g->source);
  return st;
}

void nn_sgemm_run_node(const nn_sgemm *s, const nn_graph *g, int k, const float *x, float *y,
                       const nn_epi *e, void *threadpool) {
  const nn_node *n = &g->nodes[k];
  int m = (int)(nn_value_numel(&g->values[n->in[0]]) / s->k);
  nn_sgemm_run_epi(s, m, x, (size_t)s->k, y, (size_t)s->n, e, threadpool);
}
