/* qconv.c: a convolution without padding (pointwise 1x1, or kh x kw) in int8 with dynamic
 * quantisation (qconv.h).
 *
 * Arithmetic. The weights w[o][c] become s8 q_w = round(w / s_w[o]) with s_w[o] =
 * max_c |w[o][c]| / 127 (symmetric, per output channel; sum_w[o] = sum_c q_w kept). At every run
 * the input values x seen by the GEMM (the strided pixels only) give lo = min(min x, 0),
 * hi = max(max x, 0), s_a = (hi - lo) / 255, z_a = round(-lo / s_a), and u8 q_a = clamp(round(x /
 * s_a) + z_a, 0, 255). Then x ~ s_a (q_a - z_a), w ~ s_w q_w, and
 *   y[p][o] = s_a s_w[o] (sum_c q_a[p][c] q_w[o][c] - z_a sum_w[o]) + bias[o],
 * clamped; the correction is done in int32 before the one conversion to float. With ci <=
 * 65536 the sums (|q_a q_w| <= 255 * 127 each) cannot overflow. A kh x kw kernel is the same
 * GEMM with kh * kw * ci in place of ci (weights (co,kh,kw,ci) are rows in that order): the
 * whole input is quantised once (its range is the whole input's) and each output pixel's row
 * is gathered from it as kh runs of kw * ci contiguous bytes (im2col); FER's 3x3 dense conv
 * (31x31x32 -> 29x29x64) runs so in 0.094 ms against 0.144 on the float Winograd path.
 *
 * The GEMM. vpdpbusd multiplies 4 adjacent u8 of one operand with 4 adjacent s8 of the other
 * and adds the 4 products to an int32 lane without saturation (vpdpbusds would saturate). The
 * weights are packed in blocks of 16 output channels: for each group of 4 input channels, 64
 * bytes = 16 channels x 4 values, so one zmm load feeds 16 lanes; an input pixel's 4 bytes are
 * broadcast to all lanes. A tile is 6 pixels x 64 channels (24 accumulators, 32 channels and
 * 12 for the last panel when the block count is not a multiple of 4: the packing pads it to an
 * even count); tiles walk the pixels inside a panel of weight blocks so that the panel (at most
 * 16 KiB for ci = 256) stays in L1. The dequantisation is fused into the tile's store. FER's
 * 1x1 layers run at 150-190 GMAC/s on one Zen 4 core, against a vpdpbusd peak near 230.
 *
 * Without VNNI (or under an nn_isa cap of AVX2) the AVX2 GEMM below takes the same sums with
 * vpmaddwd on operands widened to int16 (exact, where vpmaddubsw would saturate), on a packing
 * of its own chosen at creation. Measured on this tree's AVX-512 machine (one core, dev timing
 * of one qconv node): 78-90 GMAC/s for FER's layers, against 260-360 for VNNI and 1.1 for the
 * scalar reference (which plans therefore never use). The scalar
 * reference reads the same packed weights and sums in int32, so both give the same integers; with
 * the same float operations afterwards (multiply, then add, no FMA) the outputs match too.
 *
 * What it leaves to others: choosing nodes and binding buffers (plan.c), the float reference
 * (ops_ref.c), threads (one face per thread in the pipeline). */
#include "nn/qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QC_X86 1
#define QC_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
/* no "fma": the dequantisation must multiply, then add, as the reference does */
#define QA_TARGET __attribute__((target("avx2")))
#else
#define QC_X86 0
#endif

#define QC_MR 6 /* pixels per tile */
#define QC_NR 4 /* 16-channel weight blocks per tile */
#define QC_MAX_CI 65536

struct nn_qconv {
  nn_qconv_desc d;
  int m;             /* pixels of the output: n * ho * wo */
  int kh, kw;        /* kernel */
  int kk;            /* GEMM depth: kh * kw * ci */
  int kp;            /* bytes per quantised input row: kk rounded up to 4 (2 on AVX2) */
  nn_isa isa;        /* the kernels: NN_ISA_AVX512 (VNNI), NN_ISA_AVX2 or NN_ISA_SCALAR */
  int8_t *packed;    /* nn_qgemm_packed_bytes(co, kk): quantised weights (VNNI, scalar) */
  int16_t *packed16; /* nn_qgemm_avx2_packed_bytes(co, kk): the same, AVX2 */
  float *wscale;     /* (co): s_w */
  int32_t *wsum;     /* (co): sum_c q_w */
  float *bias;       /* (co): zeros when the conv has none */
  uint8_t *a;        /* (m, kp): quantised input of one run (VNNI, scalar) */
  int16_t *a16;      /* (m, kp): the same as int16 (AVX2) */
  int32_t *comp;     /* (co): z_a sum_w of one run */
  float *cscale;     /* (co): s_a s_w of one run */
  size_t *row_off;   /* (m): offset in floats of output pixel i's (top-left) input pixel; NULL
                        when the pixels are the input's own, in order (1x1, stride 1, same size) */
  uint8_t *xq;       /* (n,h,w,ci): the whole input quantised, when the kernel is larger than
                        1x1 (its rows are then gathered into a, im2col), else NULL */
  int16_t *xq16;     /* the same as int16 (AVX2, gathered into a16) */
  const nn_epi *epi; /* applied to each stored tile (nn_qconv_set_epilogue), or NULL */
};

/* Where the sums go: int32 c (ldc elements a row), or, when c is NULL, float y after
 * (sum - comp) * scale + bias and the clamp. */
typedef struct qc_out {
  int32_t *c;
  size_t ldc;
  float *y;
  size_t ldy;
  const int32_t *comp;
  const float *scale, *bias;
  float lo, hi;
  const nn_epi *e; /* with y: applied to each tile after it is stored (epilogue.h), or NULL */
} qc_out;

int nn_qconv_cpu_has_vnni(void) {
#if QC_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return 0;
#endif
}

int nn_qconv_cpu_has_avx2(void) {
#if QC_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return 0;
#endif
}

nn_isa nn_qconv_isa(nn_isa isa) {
  int any = isa <= NN_ISA_AUTO || isa >= NN_ISA_COUNT;
  if ((any || isa >= NN_ISA_AVX512) && nn_qconv_cpu_has_vnni()) return NN_ISA_AVX512;
  if ((any || isa >= NN_ISA_AVX2) && nn_qconv_cpu_has_avx2()) return NN_ISA_AVX2;
  return NN_ISA_SCALAR;
}

/* ---- Packing and the scalar reference -------------------------------------------------- */

size_t nn_qgemm_packed_bytes(int n, int k) {
  if (n <= 0 || k <= 0) return 0;
  return (size_t)((n + 31) / 32) * 2 * (size_t)((k + 3) / 4) * 64; /* even block count */
}

void nn_qgemm_pack(const int8_t *w, size_t ldw, int n, int k, int8_t *packed) {
  int nb = ((n + 31) / 32) * 2, kg = (k + 3) / 4;
  for (int j = 0; j < nb; j++)
    for (int g = 0; g < kg; g++) {
      int8_t *dst = packed + ((size_t)j * kg + g) * 64;
      for (int c = 0; c < 16; c++)
        for (int t = 0; t < 4; t++) {
          int o = j * 16 + c, i = g * 4 + t;
          dst[c * 4 + t] = o < n && i < k ? w[(size_t)o * ldw + i] : 0;
        }
    }
}

/* Sum over k of row a (k bytes) times packed output channel o. */
static int32_t ref_dot(const uint8_t *a, int k, const int8_t *packed, int o) {
  int kg = (k + 3) / 4;
  const int8_t *b = packed + (size_t)(o / 16) * kg * 64 + (o % 16) * 4;
  int32_t acc = 0;
  for (int i = 0; i < k; i++) acc += (int32_t)a[i] * (int32_t)b[(size_t)(i / 4) * 64 + i % 4];
  return acc;
}

void nn_qgemm_ref(int m, int n, int k, const uint8_t *a, size_t lda, const int8_t *packed,
                  int32_t *c, size_t ldc) {
  for (int i = 0; i < m; i++)
    for (int o = 0; o < n; o++) c[(size_t)i * ldc + o] = ref_dot(a + (size_t)i * lda, k, packed, o);
}

static void ref_out(int m, int n, int k, const uint8_t *a, size_t lda, const int8_t *packed,
                    const qc_out *q) {
  for (int i = 0; i < m; i++)
    for (int o = 0; o < n; o++) {
      int32_t s = ref_dot(a + (size_t)i * lda, k, packed, o);
      float v = (float)(s - q->comp[o]) * q->scale[o];
      v = v + q->bias[o];
      v = v < q->lo ? q->lo : v;
      q->y[(size_t)i * q->ldy + o] = v > q->hi ? q->hi : v;
    }
  if (q->e) nn_epi_apply(q->e, q->y, q->ldy, 0, m, 0, n);
}

/* lo/hi over the m rows of k values x + off[i] (off NULL: x + i*k) that the GEMM reads, both
 * including 0; returns 1 when a value is NaN. */
static int ref_minmax(const float *x, const size_t *off, int m, int k, float *lo, float *hi) {
  float mn = 0, mx = 0;
  int nan = 0;
  for (int i = 0; i < m; i++)
    for (int c = 0; c < k; c++) {
      float v = x[(off ? off[i] : (size_t)i * k) + c];
      if (v != v) nan = 1;
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
    }
  *lo = mn;
  *hi = mx;
  return nan;
}

static void ref_quantise(const float *x, int k, float inv, int zp, uint8_t *q) {
  for (int c = 0; c < k; c++) {
    long v = lrintf(x[c] * inv) + zp;
    q[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

/* ---- AVX512-VNNI ------------------------------------------------------------------------ */
#if QC_X86

static inline __attribute__((always_inline)) QC_TARGET __m512i bcast4(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* The sums of one tile, 6 rows x nr = 4 (or 2) blocks of 16 channels, into acc: written out
 * variable by variable because compilers keep an array of accumulators in memory. Rows are
 * ar[0..6); the weight blocks start at b, bs bytes apart. The last k % 4 values of each row
 * go through a zero-padded copy so that no row is read past its k bytes. */
/* c += a (u8) . b (s8). In asm because GCC 12 copies the accumulator of
 * _mm512_dpbusd_epi32 to a new register on every call (twice the instructions, half the
 * speed, measured); "+v" keeps it in place. */
#define QC_DP(c, a, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(a), "v"(b))
#define QC_ROW4(r, p)       \
  do {                      \
    __m512i av = bcast4(p); \
    QC_DP(c##r##0, av, b0); \
    QC_DP(c##r##1, av, b1); \
    QC_DP(c##r##2, av, b2); \
    QC_DP(c##r##3, av, b3); \
  } while (0)
#define QC_ROW2(r, p)       \
  do {                      \
    __m512i av = bcast4(p); \
    QC_DP(c##r##0, av, b0); \
    QC_DP(c##r##1, av, b1); \
  } while (0)
#define QC_STEP4(p0, p1, p2, p3, p4, p5, bp)                                                \
  do {                                                                                      \
    __m512i b0 = _mm512_loadu_si512(bp), b1 = _mm512_loadu_si512((bp) + bs),                \
            b2 = _mm512_loadu_si512((bp) + 2 * bs), b3 = _mm512_loadu_si512((bp) + 3 * bs); \
    QC_ROW4(0, p0);                                                                         \
    QC_ROW4(1, p1);                                                                         \
    QC_ROW4(2, p2);                                                                         \
    QC_ROW4(3, p3);                                                                         \
    QC_ROW4(4, p4);                                                                         \
    QC_ROW4(5, p5);                                                                         \
  } while (0)
#define QC_STEP2(p0, p1, p2, p3, p4, p5, bp)                                 \
  do {                                                                       \
    __m512i b0 = _mm512_loadu_si512(bp), b1 = _mm512_loadu_si512((bp) + bs); \
    QC_ROW2(0, p0);                                                          \
    QC_ROW2(1, p1);                                                          \
    QC_ROW2(2, p2);                                                          \
    QC_ROW2(3, p3);                                                          \
    QC_ROW2(4, p4);                                                          \
    QC_ROW2(5, p5);                                                          \
  } while (0)

static QC_TARGET void sums4(const uint8_t *const *ar, int k, const int8_t *b, size_t bs,
                            __m512i acc[QC_MR][QC_NR]) {
  const uint8_t *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
  __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  __m512i c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  __m512i c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  int kfull = k / 4;
  for (int g = 0; g < kfull; g++) {
    size_t o = (size_t)g * 4;
    const int8_t *bp = b + (size_t)g * 64;
    QC_STEP4(a0 + o, a1 + o, a2 + o, a3 + o, a4 + o, a5 + o, bp);
  }
  if (k % 4) {
    uint8_t t[QC_MR][4] = {{0}};
    for (int r = 0; r < QC_MR; r++) memcpy(t[r], ar[r] + (size_t)kfull * 4, (size_t)(k % 4));
    const int8_t *bp = b + (size_t)kfull * 64;
    QC_STEP4(t[0], t[1], t[2], t[3], t[4], t[5], bp);
  }
  acc[0][0] = c00, acc[0][1] = c01, acc[0][2] = c02, acc[0][3] = c03;
  acc[1][0] = c10, acc[1][1] = c11, acc[1][2] = c12, acc[1][3] = c13;
  acc[2][0] = c20, acc[2][1] = c21, acc[2][2] = c22, acc[2][3] = c23;
  acc[3][0] = c30, acc[3][1] = c31, acc[3][2] = c32, acc[3][3] = c33;
  acc[4][0] = c40, acc[4][1] = c41, acc[4][2] = c42, acc[4][3] = c43;
  acc[5][0] = c50, acc[5][1] = c51, acc[5][2] = c52, acc[5][3] = c53;
}

static QC_TARGET void sums2(const uint8_t *const *ar, int k, const int8_t *b, size_t bs,
                            __m512i acc[QC_MR][QC_NR]) {
  const uint8_t *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
  __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
  __m512i c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  int kfull = k / 4;
  for (int g = 0; g < kfull; g++) {
    size_t o = (size_t)g * 4;
    const int8_t *bp = b + (size_t)g * 64;
    QC_STEP2(a0 + o, a1 + o, a2 + o, a3 + o, a4 + o, a5 + o, bp);
  }
  if (k % 4) {
    uint8_t t[QC_MR][4] = {{0}};
    for (int r = 0; r < QC_MR; r++) memcpy(t[r], ar[r] + (size_t)kfull * 4, (size_t)(k % 4));
    const int8_t *bp = b + (size_t)kfull * 64;
    QC_STEP2(t[0], t[1], t[2], t[3], t[4], t[5], bp);
  }
  acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
  acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
  acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
}

/* Stores the first mr rows of a tile's sums for output columns [n0, n0 + 16 nr) (those
 * below ncols columns from n0), as int32 or dequantised. */
static QC_TARGET void store_tile(__m512i acc[QC_MR][QC_NR], int row0, int mr, int nr, int n0,
                                 int ncols, const qc_out *o) {
  for (int q = 0; q < nr; q++) {
    int col = n0 + q * 16, left = ncols - q * 16;
    if (left <= 0) break;
    __mmask16 mk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    if (o->c) {
      for (int r = 0; r < mr; r++)
        _mm512_mask_storeu_epi32(o->c + (size_t)(row0 + r) * o->ldc + col, mk, acc[r][q]);
      continue;
    }
    __m512i comp = _mm512_maskz_loadu_epi32(mk, o->comp + col);
    __m512 sc = _mm512_maskz_loadu_ps(mk, o->scale + col);
    __m512 bi = _mm512_maskz_loadu_ps(mk, o->bias + col);
    __m512 lo = _mm512_set1_ps(o->lo), hi = _mm512_set1_ps(o->hi);
    for (int r = 0; r < mr; r++) {
      __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][q], comp));
      v = _mm512_add_ps(_mm512_mul_ps(v, sc), bi);
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      _mm512_mask_storeu_ps(o->y + (size_t)(row0 + r) * o->ldy + col, mk, v);
    }
  }
}

/* Panels of 4 weight blocks (the last one 2: the packing pads to an even count), inside each
 * the tiles of 6 rows; a short last tile repeats its last row. */
static QC_TARGET void gemm_vnni(int m, int n, int k, const uint8_t *a, size_t lda,
                                const int8_t *packed, const qc_out *o) {
  int nb = ((n + 31) / 32) * 2, kg = (k + 3) / 4;
  size_t bs = (size_t)kg * 64;
  __m512i acc[QC_MR][QC_NR];
  for (int j0 = 0; j0 < nb;) {
    int nr = nb - j0 >= 4 ? 4 : 2;
    const int8_t *b = packed + (size_t)j0 * bs;
    int n0 = j0 * 16, ncols = n - n0;
    for (int i = 0; i < m; i += QC_MR) {
      int mr = m - i < QC_MR ? m - i : QC_MR;
      const uint8_t *ar[QC_MR];
      for (int r = 0; r < QC_MR; r++) ar[r] = a + (size_t)(i + (r < mr ? r : mr - 1)) * lda;
      if (nr == 4)
        sums4(ar, k, b, bs, acc);
      else
        sums2(ar, k, b, bs, acc);
      store_tile(acc, i, mr, nr, n0, ncols, o);
    }
    j0 += nr;
  }
}

/* As ref_minmax (the same lo/hi: min and max do not depend on the order). */
static QC_TARGET int minmax_avx512(const float *x0, const size_t *off, int m, int k, float *lo,
                                   float *hi) {
  __m512 mn = _mm512_setzero_ps(), mx = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int i = 0; i < m; i++) {
    const float *x = x0 + (off ? off[i] : (size_t)i * k);
    for (int c = 0; c < k; c += 16) {
      __mmask16 mk = k - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - c)) - 1);
      __m512 v = _mm512_maskz_loadu_ps(mk, x + c);
      nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      mn = _mm512_min_ps(mn, v);
      mx = _mm512_max_ps(mx, v);
    }
  }
  *lo = _mm512_reduce_min_ps(mn);
  *hi = _mm512_reduce_max_ps(mx);
  return nan != 0;
}

/* As ref_quantise: cvtps rounds to nearest even as lrintf does (default MXCSR). */
static QC_TARGET void quantise_avx512(const float *x, int k, float inv, int zp, uint8_t *q) {
  __m512 vi = _mm512_set1_ps(inv);
  __m512i vz = _mm512_set1_epi32(zp), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
  for (int c = 0; c < k; c += 16) {
    __mmask16 mk = k - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - c)) - 1);
    __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + c), vi));
    v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, vz), v0), v255);
    _mm_mask_storeu_epi8(q + c, mk, _mm512_cvtepi32_epi8(v));
  }
}

#endif

#if QC_X86

/* ---- AVX2 ------------------------------------------------------------------------------
 * vpmaddwd multiplies 16 pairs of int16 and adds each pair into an int32 lane: exact for
 * u8 x s8 operands widened to int16 (|255 * -128 * 2| is far below 2^31), where vpmaddubsw
 * would saturate the pair's sum at int16. The weights are widened once at creation
 * (nn_qgemm_avx2_pack: 8 channels x 2 values per ymm), the input is quantised straight to
 * int16 rows (even length, zero-padded), so the inner step is a 32-bit broadcast of a row's
 * pair from memory and two vpmaddwd + vpaddd per row. A tile is 6 pixels x 16 channels (12
 * accumulators, 2 weight registers, 1 broadcast: 15 of the 16 ymm). */

static inline __attribute__((always_inline)) QA_TARGET __m256i bcast_pair(const int16_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

#define QA_ROW(r, p)                                                \
  do {                                                              \
    __m256i av = bcast_pair(p);                                     \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0)); \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1)); \
  } while (0)

/* The sums of one tile: rows ar[0..6) (kq pairs each), one block of 16 channels at b. */
static QA_TARGET void sums_avx2(const int16_t *const *ar, int kq, const int16_t *b,
                                __m256i acc[QC_MR][2]) {
  const int16_t *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
  __m256i z = _mm256_setzero_si256();
  __m256i c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
  __m256i c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  for (int g = 0; g < kq; g++) {
    size_t o = (size_t)g * 2;
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + (size_t)g * 32));
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + (size_t)g * 32 + 16));
    QA_ROW(0, a0 + o);
    QA_ROW(1, a1 + o);
    QA_ROW(2, a2 + o);
    QA_ROW(3, a3 + o);
    QA_ROW(4, a4 + o);
    QA_ROW(5, a5 + o);
  }
  acc[0][0] = c00, acc[0][1] = c01, acc[1][0] = c10, acc[1][1] = c11;
  acc[2][0] = c20, acc[2][1] = c21, acc[3][0] = c30, acc[3][1] = c31;
  acc[4][0] = c40, acc[4][1] = c41, acc[5][0] = c50, acc[5][1] = c51;
}

/* As store_tile, for a tile of 16 channels. The clamp is written as ref_out's (max(lo, v),
 * then min(hi, v): a NaN stays NaN), and no FMA is allowed in this target, so the floats are
 * the reference's. */
static QA_TARGET void store_tile_avx2(__m256i acc[QC_MR][2], int row0, int mr, int n0, int ncols,
                                      const qc_out *o) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int q = 0; q < 2; q++) {
    int col = n0 + q * 8, left = ncols - q * 8;
    if (left <= 0) break;
    __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(left < 8 ? left : 8), iota);
    if (o->c) {
      for (int r = 0; r < mr; r++)
        _mm256_maskstore_epi32((int *)(o->c + (size_t)(row0 + r) * o->ldc + col), mk, acc[r][q]);
      continue;
    }
    __m256i comp = _mm256_maskload_epi32((const int *)(o->comp + col), mk);
    __m256 sc = _mm256_maskload_ps(o->scale + col, mk);
    __m256 bi = _mm256_maskload_ps(o->bias + col, mk);
    __m256 lo = _mm256_set1_ps(o->lo), hi = _mm256_set1_ps(o->hi);
    for (int r = 0; r < mr; r++) {
      __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][q], comp));
      v = _mm256_add_ps(_mm256_mul_ps(v, sc), bi);
      v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
      if (left >= 8) /* a masked store is slow on some CPUs, and loads cannot forward from it */
        _mm256_storeu_ps(o->y + (size_t)(row0 + r) * o->ldy + col, v);
      else
        _mm256_maskstore_ps(o->y + (size_t)(row0 + r) * o->ldy + col, mk, v);
    }
  }
}

/* Blocks of 16 channels (one block's weights, kq * 64 bytes, stay in L1), inside each the
 * tiles of 6 rows; a short last tile repeats its last row. Rows of a: lda int16, at least
 * k rounded up to 2 (the weights beyond k are 0, so what the padding holds does not matter). */
static QA_TARGET void gemm_avx2(int m, int n, int k, const int16_t *a, size_t lda,
                                const int16_t *packed, const qc_out *o) {
  int nb = (n + 15) / 16, kq = (k + 1) / 2;
  __m256i acc[QC_MR][2];
  for (int j = 0; j < nb; j++) {
    const int16_t *b = packed + (size_t)j * kq * 32;
    for (int i = 0; i < m; i += QC_MR) {
      int mr = m - i < QC_MR ? m - i : QC_MR;
      const int16_t *ar[QC_MR];
      for (int r = 0; r < QC_MR; r++) ar[r] = a + (size_t)(i + (r < mr ? r : mr - 1)) * lda;
      sums_avx2(ar, kq, b, acc);
      store_tile_avx2(acc, i, mr, j * 16, n - j * 16, o);
    }
  }
}

/* As ref_minmax. */
static QA_TARGET int minmax_avx2(const float *x0, const size_t *off, int m, int k, float *lo,
                                 float *hi) {
  __m256 mn = _mm256_setzero_ps(), mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  float smn = 0, smx = 0;
  int nan = 0;
  for (int i = 0; i < m; i++) {
    const float *x = x0 + (off ? off[i] : (size_t)i * k);
    int c = 0;
    for (; c + 8 <= k; c += 8) {
      __m256 v = _mm256_loadu_ps(x + c);
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      mn = _mm256_min_ps(mn, v);
      mx = _mm256_max_ps(mx, v);
    }
    for (; c < k; c++) {
      float v = x[c];
      if (v != v) nan = 1;
      smn = v < smn ? v : smn;
      smx = v > smx ? v : smx;
    }
  }
  float tn[8], tx[8];
  _mm256_storeu_ps(tn, mn);
  _mm256_storeu_ps(tx, mx);
  for (int j = 0; j < 8; j++) {
    smn = tn[j] < smn ? tn[j] : smn;
    smx = tx[j] > smx ? tx[j] : smx;
  }
  *lo = smn;
  *hi = smx;
  return nan || _mm256_movemask_ps(bad) != 0;
}

/* As ref_quantise, into int16: cvtps rounds to nearest even as lrintf does. */
static QA_TARGET void quantise_avx2(const float *x, int k, float inv, int zp, int16_t *q) {
  __m256 vi = _mm256_set1_ps(inv);
  __m256i vz = _mm256_set1_epi32(zp), v0 = _mm256_setzero_si256(), v255 = _mm256_set1_epi32(255);
  int c = 0;
  for (; c + 8 <= k; c += 8) {
    __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c), vi));
    v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, vz), v0), v255);
    __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128((__m128i *)(q + c), p);
  }
  for (; c < k; c++) {
    long v = lrintf(x[c] * inv) + zp;
    q[c] = (int16_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

#endif

size_t nn_qgemm_avx2_packed_bytes(int n, int k) {
  if (n <= 0 || k <= 0) return 0;
  return (size_t)((n + 15) / 16) * (size_t)((k + 1) / 2) * 64;
}

void nn_qgemm_avx2_pack(const int8_t *w, size_t ldw, int n, int k, int16_t *packed) {
  int nb = (n + 15) / 16, kq = (k + 1) / 2;
  for (int j = 0; j < nb; j++)
    for (int g = 0; g < kq; g++) {
      int16_t *dst = packed + ((size_t)j * kq + g) * 32;
      for (int c = 0; c < 16; c++)
        for (int t = 0; t < 2; t++) {
          int o = j * 16 + c, i = g * 2 + t;
          dst[c * 2 + t] = (int16_t)(o < n && i < k ? w[(size_t)o * ldw + i] : 0);
        }
    }
}

int nn_qgemm_avx2(int m, int n, int k, const uint8_t *a, size_t lda, const int16_t *packed,
                  int32_t *c, size_t ldc) {
#if QC_X86
  if (!nn_qconv_cpu_has_avx2()) return EMO_EUNSUPPORTED;
  if (m <= 0 || n <= 0 || k <= 0) return EMO_OK;
  size_t kp = (size_t)(k + 1) & ~(size_t)1;
  int16_t *a16 = calloc((size_t)m * kp, sizeof *a16);
  if (!a16) return EMO_ENOMEM;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < k; j++) a16[(size_t)i * kp + j] = a[(size_t)i * lda + j];
  qc_out o = {c, ldc, NULL, 0, NULL, NULL, NULL, 0, 0, NULL};
  gemm_avx2(m, n, k, a16, kp, packed, &o);
  free(a16);
  return EMO_OK;
#else
  (void)m, (void)n, (void)k, (void)a, (void)lda, (void)packed, (void)c, (void)ldc;
  return EMO_EUNSUPPORTED;
#endif
}

int nn_qgemm_vnni(int m, int n, int k, const uint8_t *a, size_t lda, const int8_t *packed,
                  int32_t *c, size_t ldc) {
#if QC_X86
  if (!nn_qconv_cpu_has_vnni()) return EMO_EUNSUPPORTED;
  if (m <= 0 || n <= 0 || k <= 0) return EMO_OK;
  qc_out o = {c, ldc, NULL, 0, NULL, NULL, NULL, 0, 0, NULL};
  gemm_vnni(m, n, k, a, lda, packed, &o);
  return EMO_OK;
#else
  (void)m, (void)n, (void)k, (void)a, (void)lda, (void)packed, (void)c, (void)ldc;
  return EMO_EUNSUPPORTED;
#endif
}

/* ---- The node ---------------------------------------------------------------------------- */

void nn_qconv_set_epilogue(nn_qconv *q, const nn_epi *e) {
  if (q) q->epi = e;
}

void nn_qconv_destroy(nn_qconv **pq) {
  if (!pq || !*pq) return;
  nn_qconv *q = *pq;
  free(q->packed);
  free(q->packed16);
  free(q->a16);
  free(q->xq16);
  free(q->wscale);
  free(q->wsum);
  free(q->bias);
  free(q->a);
  free(q->comp);
  free(q->cscale);
  free(q->row_off);
  free(q->xq);
  free(q);
  *pq = NULL;
}

static size_t round64(size_t n) {
  return (n + 63) & ~(size_t)63;
}

int nn_qconv_create(const nn_qconv_desc *d, const float *weights, const float *bias, nn_qconv **out,
                    emoi_err *err) {
  if (out) *out = NULL;
  if (!d || !weights || !out) return emoi_fail(err, EMO_EINVAL, "nn_qconv_create: NULL argument");
  int64_t m = (int64_t)d->n * d->ho * d->wo;
  int kh = d->kh ? d->kh : 1, kw = d->kw ? d->kw : 1;
  int64_t kk = (int64_t)kh * kw * d->ci;
  if (d->n < 1 || d->h < 1 || d->w < 1 || d->ci < 1 || d->co < 1 || d->ho < 1 || d->wo < 1 ||
      d->stride_h < 1 || d->stride_w < 1 || kh < 1 || kw < 1 || kk > QC_MAX_CI ||
      (int64_t)(d->ho - 1) * d->stride_h + kh - 1 >= d->h ||
      (int64_t)(d->wo - 1) * d->stride_w + kw - 1 >= d->w || m * kk > INT32_MAX ||
      (int64_t)d->n * d->h * d->w * d->ci > INT32_MAX)
    return emoi_fail(err, EMO_EINVAL,
                     "qconv %dx%dx%dx%d -> %dx%dx%d kernel %dx%d stride %dx%d: bad shape", d->n,
                     d->h, d->w, d->ci, d->ho, d->wo, d->co, kh, kw, d->stride_h, d->stride_w);
  nn_qconv *q = calloc(1, sizeof *q);
  if (!q) goto oom;
  q->d = *d;
  q->m = (int)m;
  q->kh = kh;
  q->kw = kw;
  q->kk = (int)kk;
  q->isa = nn_qconv_isa(d->isa);
  int a2 = q->isa == NN_ISA_AVX2;
  q->kp = a2 ? (q->kk + 1) & ~1 : (q->kk + 3) & ~3;
  size_t co = (size_t)d->co, na = (size_t)q->m * q->kp;
  if (a2) {
    q->packed16 = aligned_alloc(64, round64(nn_qgemm_avx2_packed_bytes(d->co, q->kk)));
    q->a16 = aligned_alloc(64, round64(na * sizeof *q->a16));
    if (!q->packed16 || !q->a16) goto oom;
    memset(q->a16, 0, na * sizeof *q->a16); /* the padding of each row stays 0 */
  } else {
    q->packed = aligned_alloc(64, round64(nn_qgemm_packed_bytes(d->co, q->kk)));
    q->a = aligned_alloc(64, round64(na));
    if (!q->packed || !q->a) goto oom;
    memset(q->a, 0, na); /* the padding bytes of each row stay 0 */
  }
  q->wscale = malloc(co * sizeof *q->wscale);
  q->wsum = malloc(co * sizeof *q->wsum);
  q->bias = calloc(co, sizeof *q->bias);
  q->comp = malloc(co * sizeof *q->comp);
  q->cscale = malloc(co * sizeof *q->cscale);
  int8_t *wq = malloc(co * (size_t)q->kk);
  if (!q->wscale || !q->wsum || !q->bias || !q->comp || !q->cscale || !wq) {
    free(wq);
    goto oom;
  }
  if (bias) memcpy(q->bias, bias, co * sizeof *bias);
  for (int o = 0; o < d->co; o++) {
    const float *w = weights + (size_t)o * q->kk;
    float mx = 0;
    for (int c = 0; c < q->kk; c++)
      if (isfinite(w[c]) && fabsf(w[c]) > mx) mx = fabsf(w[c]);
    float s = mx / 127.0f, inv = s > 0 ? 1.0f / s : 0.0f;
    int32_t sum = 0;
    for (int c = 0; c < q->kk; c++) {
      float v = w[c] != w[c] ? 0.0f : w[c] * inv; /* inf * inv: +-inf, clamped below */
      if (!(inv > 0)) v = 0; /* all-zero (or all non-finite) channel: 0 * inf would be NaN */
      long r = v > 127.0f ? 127 : v < -127.0f ? -127 : lrintf(v);
      wq[(size_t)o * q->kk + c] = (int8_t)r;
      sum += (int32_t)r;
    }
    q->wscale[o] = s;
    q->wsum[o] = sum;
  }
  if (a2)
    nn_qgemm_avx2_pack(wq, (size_t)q->kk, d->co, q->kk, q->packed16);
  else
    nn_qgemm_pack(wq, (size_t)q->kk, d->co, q->kk, q->packed);
  free(wq);
  size_t nx = (size_t)d->n * d->h * d->w * (size_t)d->ci;
  if (kh * kw > 1 && a2 && !(q->xq16 = aligned_alloc(64, round64(nx * sizeof *q->xq16)))) goto oom;
  if (kh * kw > 1 && !a2 && !(q->xq = aligned_alloc(64, round64(nx)))) goto oom;
  if (d->stride_h != 1 || d->stride_w != 1 || d->ho != d->h || d->wo != d->w || kh * kw > 1) {
    q->row_off = malloc((size_t)q->m * sizeof *q->row_off);
    if (!q->row_off) goto oom;
    size_t i = 0;
    for (int b = 0; b < d->n; b++)
      for (int y = 0; y < d->ho; y++)
        for (int x = 0; x < d->wo; x++)
          q->row_off[i++] =
              (((size_t)b * d->h + (size_t)y * d->stride_h) * d->w + (size_t)x * d->stride_w) *
              d->ci;
  }
  *out = q;
  return EMO_OK;
oom:
  nn_qconv_destroy(&q);
  return emoi_fail(err, EMO_ENOMEM, "qconv: out of memory");
}

int nn_qconv_run(nn_qconv *q, const float *x, float *y, emoi_err *err) {
  if (!q || !x || !y) return emoi_fail(err, EMO_EINVAL, "nn_qconv_run: NULL argument");
  const nn_qconv_desc *d = &q->d;
  int m = q->m, k = d->ci;
  /* contiguous rows of ci values with no padding are one long row; a kernel larger than 1x1
     reads (nearly) every input pixel, several times: its range is the whole input's */
  int big = q->kh * q->kw > 1, flat = !q->row_off || big, mm = flat ? 1 : m;
  int kk = big ? d->n * d->h * d->w * k : flat ? m * k : k;
  float lo, hi;
  int nan;
#if QC_X86
  if (q->isa == NN_ISA_AVX512)
    nan = minmax_avx512(x, flat ? NULL : q->row_off, mm, kk, &lo, &hi);
  else if (q->isa == NN_ISA_AVX2)
    nan = minmax_avx2(x, flat ? NULL : q->row_off, mm, kk, &lo, &hi);
  else
#endif
    nan = ref_minmax(x, flat ? NULL : q->row_off, mm, kk, &lo, &hi);
  return nn_qconv_run_range(q, x, lo, hi, nan, y, err);
}

int nn_qconv_run_range(nn_qconv *q, const float *x, float lo, float hi, int nan, float *y,
                       emoi_err *err) {
  if (!q || !x || !y) return emoi_fail(err, EMO_EINVAL, "nn_qconv_run_range: NULL argument");
  const nn_qconv_desc *d = &q->d;
  int m = q->m, k = q->kk, n = d->co, flat = !q->row_off;
  float sa = (hi - lo) / 255.0f;
  if (nan || !isfinite(sa)) {
    for (size_t i = 0; i < (size_t)m * n; i++) y[i] = NAN;
    if (q->epi) nn_epi_apply(q->epi, y, (size_t)n, 0, m, 0, n);
    return EMO_OK;
  }
  int zp = 0;
  float inv = 0;
  if (sa > 0) {
    inv = 1.0f / sa;
    long z = lrintf(-lo * inv);
    zp = (int)(z < 0 ? 0 : z > 255 ? 255 : z);
  } /* else: the input is all zeros, every q_a is 0 */
  for (int o = 0; o < n; o++) {
    q->comp[o] = zp * q->wsum[o];
    q->cscale[o] = sa * q->wscale[o];
  }
  int big = q->kh * q->kw > 1;
  size_t seg = (size_t)q->kw * d->ci, rs = (size_t)d->w * d->ci;
  int nx = d->n * d->h * d->w * d->ci;
  int qm = big ? 0 : flat && k == q->kp ? 1 : m, qk = qm == 1 ? m * k : k;
  qc_out o = {NULL, 0, y, (size_t)n, q->comp, q->cscale, q->bias, d->act_min, d->act_max, q->epi};
#if QC_X86
  if (q->isa == NN_ISA_AVX2) {
    if (big) { /* as below, in int16 */
      quantise_avx2(x, nx, inv, zp, q->xq16);
      for (int i = 0; i < m; i++)
        for (int ky = 0; ky < q->kh; ky++)
          memcpy(q->a16 + (size_t)i * q->kp + ky * seg, q->xq16 + q->row_off[i] + ky * rs,
                 seg * sizeof *q->a16);
    }
    for (int i = 0; i < qm; i++)
      quantise_avx2(x + (q->row_off ? q->row_off[i] : (size_t)i * k), qk, inv, zp,
                    q->a16 + (size_t)i * q->kp);
    gemm_avx2(m, n, k, q->a16, (size_t)q->kp, q->packed16, &o);
    if (q->epi) nn_epi_apply(q->epi, y, (size_t)n, 0, m, 0, n);
    return EMO_OK;
  }
#endif
  if (big) { /* quantise the whole input once, then gather each output pixel's window */
#if QC_X86
    if (q->isa == NN_ISA_AVX512)
      quantise_avx512(x, nx, inv, zp, q->xq);
    else
#endif
      ref_quantise(x, nx, inv, zp, q->xq);
    for (int i = 0; i < m; i++)
      for (int ky = 0; ky < q->kh; ky++)
        memcpy(q->a + (size_t)i * q->kp + ky * seg, q->xq + q->row_off[i] + ky * rs, seg);
  }
  for (int i = 0; i < qm; i++) {
    const float *xr = x + (q->row_off ? q->row_off[i] : (size_t)i * k);
    uint8_t *ar = q->a + (size_t)i * q->kp;
#if QC_X86
    if (q->isa == NN_ISA_AVX512) {
      quantise_avx512(xr, qk, inv, zp, ar);
      continue;
    }
#endif
    ref_quantise(xr, qk, inv, zp, ar);
  }
#if QC_X86
  if (q->isa == NN_ISA_AVX512) {
    gemm_vnni(m, n, k, q->a, (size_t)q->kp, q->packed, &o);
    if (q->epi) nn_epi_apply(q->epi, y, (size_t)n, 0, m, 0, n);
    return EMO_OK;
  }
#endif
  ref_out(m, n, k, q->a, (size_t)q->kp, q->packed, &o);
  return EMO_OK;
}

int nn_qconv_node_eligible(const nn_graph *g, int k) {
  if (!g || k < 0 || k >= g->n_nodes) return 0;
  const nn_node *n = &g->nodes[k];
  if (n->op != NN_OP_CONV2D || n->n_in < 2 || n->n_out != 1 || n->in[0] < 0 || n->in[1] < 0)
    return 0;
  const nn_attr *at = &n->attr;
  if (at->stride_h < 1 || at->stride_w < 1 || at->pad_top != 0 || at->pad_left != 0) return 0;
  const nn_value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
  if (x->is_const || !w->is_const || x->dtype != NN_F32 || w->dtype != NN_F32 ||
      y->dtype != NN_F32 || x->rank != 4 || w->rank != 4 || y->rank != 4)
    return 0;
  int64_t kh = w->shape[1], kw = w->shape[2];
  if (kh < 1 || kw < 1 || w->shape[3] != x->shape[3] || y->shape[3] != w->shape[0] ||
      y->shape[0] != x->shape[0] || kh * kw * x->shape[3] > QC_MAX_CI)
    return 0;
  if (kh * kw > 1 && (at->dilation_h != 1 || at->dilation_w != 1)) return 0;
  if ((y->shape[1] - 1) * at->stride_h + kh - 1 >= x->shape[1] ||
      (y->shape[2] - 1) * at->stride_w + kw - 1 >= x->shape[2])
    return 0;
  if (nn_value_numel(x) > INT32_MAX || nn_value_numel(y) > INT32_MAX) return 0;
  if (n->n_in > 2 && n->in[2] >= 0) {
    const nn_value *b = &g->values[n->in[2]];
    if (!b->is_const || b->dtype != NN_F32 || nn_value_numel(b) != w->shape[0]) return 0;
  }
  /* non-finite weights stay on the float path, which propagates them as the model says */
  const float *wd = nn_graph_const_data(g, n->in[1]);
  for (int64_t i = 0, cnt = nn_value_numel(w); i < cnt; i++)
    if (!isfinite(wd[i])) return 0;
  return 1;
}

int nn_qconv_create_node(const nn_graph *g, int k, nn_isa isa, nn_qconv **out, emoi_err *err) {
  if (out) *out = NULL;
  if (!nn_qconv_node_eligible(g, k))
    return emoi_fail(err, EMO_EINVAL, "node %d is not a CONV2D for int8", k);
  const nn_node *n = &g->nodes[k];
  const nn_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
  const nn_value *w = &g->values[n->in[1]];
  nn_qconv_desc d = {(int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3],
                     (int)y->shape[3], (int)y->shape[1], (int)y->shape[2], n->attr.stride_h,
                     n->attr.stride_w, n->attr.act_min,  n->attr.act_max,  isa,
                     (int)w->shape[1], (int)w->shape[2]};
  const float *bias = n->n_in > 2 && n->in[2] >= 0 ? nn_graph_const_data(g, n->in[2]) : NULL;
  int st = nn_qconv_create(&d, nn_graph_const_data(g, n->in[1]), bias, out, err);
  if (st) emoi_err_prefix(err, n->name ? n->name : "conv");
  return st;
}
