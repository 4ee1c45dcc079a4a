/* epilogue.c: the fused element-wise epilogue of a product's tile (epilogue.h). A portable path
 * (plain C loops over a row segment, which compilers vectorise for the baseline or NEON) and AVX2
 * and AVX-512F paths (intrinsics, the tile's vectors kept in registers through every op), chosen
 * at run time under the cap; each op is one IEEE operation, the same on every path, and FMA is
 * not used, so no multiply and add are contracted into one rounding: the paths give the same
 * floats as nn_epi_apply_ref. */
#include "nn/epilogue.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define EPI_X86 1
#else
#define EPI_X86 0
#endif

static inline float epi_clamp(float v, float lo, float hi) {
  v = v > lo ? v : lo;
  return v < hi ? v : hi;
}

/* One row segment: v[0..nc) from s, ops, then d. The ops run over the whole segment one after
 * another (each loop vectorises), on a local copy of at most 64 floats. */
#define EPI_ROW_BODY                                                          \
  float v[64];                                                                \
  for (int c = 0; c < nc; c++) v[c] = s[c];                                   \
  for (int i = 0; i < e->n_ops; i++) {                                        \
    const nn_epi_op *o = &e->op[i];                                           \
    switch (o->kind) {                                                        \
      case NN_EPI_BIAS:                                                       \
        if (o->c_per_channel) {                                               \
          const float *b = o->c + c0;                                         \
          for (int c = 0; c < nc; c++) v[c] = v[c] + b[c];                    \
        } else {                                                              \
          const float b = o->c[0];                                            \
          for (int c = 0; c < nc; c++) v[c] = v[c] + b;                       \
        }                                                                     \
        break;                                                                \
      case NN_EPI_CLAMP: {                                                    \
        const float lo = o->lo, hi = o->hi;                                   \
        for (int c = 0; c < nc; c++) v[c] = epi_clamp(v[c], lo, hi);          \
        break;                                                                \
      }                                                                       \
      case NN_EPI_PRELU:                                                      \
        if (o->c_per_channel) {                                               \
          const float *a = o->c + c0;                                         \
          for (int c = 0; c < nc; c++) v[c] = v[c] >= 0 ? v[c] : v[c] * a[c]; \
        } else {                                                              \
          const float a = o->c[0];                                            \
          for (int c = 0; c < nc; c++) v[c] = v[c] >= 0 ? v[c] : v[c] * a;    \
        }                                                                     \
        break;                                                                \
      default: break;                                                         \
    }                                                                         \
  }                                                                           \
  for (int c = 0; c < nc; c++) d[c] = v[c];

#define EPI_TILE_FN(NAME, ATTR)                                                                \
  static ATTR void NAME(const nn_epi *e, const float *src, size_t lds, int r0, int mr, int c0, \
                        int nc) {                                                              \
    for (int r = r0; r < r0 + mr; r++)                                                         \
      for (int cc = 0; cc < nc; cc += 64) {                                                    \
        int n1 = nc - cc < 64 ? nc - cc : 64, cb = c0 + cc;                                    \
        size_t off = (size_t)r * (size_t)e->n + (size_t)cb;                                    \
        const float *s = src + (size_t)r * lds + (size_t)cb;                                   \
        float *d = e->dst + off;                                                               \
        epi_row_##NAME(e, s, d, cb, n1);                                                       \
      }                                                                                        \
  }

#define EPI_ROW_FN(NAME, ATTR)                                                          \
  static inline __attribute__((always_inline))                                          \
  ATTR void epi_row_##NAME(const nn_epi *e, const float *s, float *d, int c0, int nc) { \
    EPI_ROW_BODY                                                                        \
  }

EPI_ROW_FN(tile_base, )
EPI_TILE_FN(tile_base, )

#if EPI_X86
#include <immintrin.h>

/* The vector paths: the tile row by row, each row in vectors of 8 (AVX2) or 16 (AVX-512) columns,
 * the last one masked, every op on the vector in registers, one load of src and one store of dst.
 * max(v, lo) then min(v, hi) as maxps/minps with v first: a NaN becomes lo, as epi_clamp. Row
 * order matters where a caller hands the whole tensor at once (qconv): walked column group first,
 * every cache line of src and dst came in twice. */
#define EPI_AVX2 __attribute__((target("avx2")))
static EPI_AVX2 void tile_avx2(const nn_epi *e, const float *src, size_t lds, int r0, int mr,
                               int c0, int nc) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 zero = _mm256_setzero_ps();
  const int nfull = nc / 8 * 8, left = nc - nfull;
  const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), iota);
  for (int r = r0; r < r0 + mr; r++) {
    for (int c = 0; c < nfull; c += 8) { /* whole vectors: plain loads and stores */
      int col = c0 + c;
      size_t off = (size_t)r * (size_t)e->n + (size_t)col;
      __m256 v = _mm256_loadu_ps(src + (size_t)r * lds + (size_t)col);
      for (int i = 0; i < e->n_ops; i++) {
        const nn_epi_op *o = &e->op[i];
        switch (o->kind) {
          case NN_EPI_BIAS:
            v = _mm256_add_ps(
                v, o->c_per_channel ? _mm256_loadu_ps(o->c + col) : _mm256_set1_ps(o->c[0]));
            break;
          case NN_EPI_CLAMP:
            v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(o->lo)), _mm256_set1_ps(o->hi));
            break;
          case NN_EPI_PRELU: {
            __m256 a = o->c_per_channel ? _mm256_loadu_ps(o->c + col) : _mm256_set1_ps(o->c[0]);
            v = _mm256_blendv_ps(_mm256_mul_ps(v, a), v, _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
            break;
          }
          default: break;
        }
      }
      _mm256_storeu_ps(e->dst + off, v);
    }
    if (left) { /* the last, partial vector */
      int col = c0 + nfull;
      size_t off = (size_t)r * (size_t)e->n + (size_t)col;
      __m256 v = _mm256_maskload_ps(src + (size_t)r * lds + (size_t)col, mk);
      for (int i = 0; i < e->n_ops; i++) {
        const nn_epi_op *o = &e->op[i];
        switch (o->kind) {
          case NN_EPI_BIAS:
            v = _mm256_add_ps(
                v, o->c_per_channel ? _mm256_maskload_ps(o->c + col, mk) : _mm256_set1_ps(o->c[0]));
            break;
          case NN_EPI_CLAMP:
            v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(o->lo)), _mm256_set1_ps(o->hi));
            break;
          case NN_EPI_PRELU: {
            __m256 a =
                o->c_per_channel ? _mm256_maskload_ps(o->c + col, mk) : _mm256_set1_ps(o->c[0]);
            v = _mm256_blendv_ps(_mm256_mul_ps(v, a), v, _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
            break;
          }
          default: break;
        }
      }
      _mm256_maskstore_ps(e->dst + off, mk, v);
    }
  }
}

#define EPI_AVX512 __attribute__((target("avx512f")))
static EPI_AVX512 void tile_avx512(const nn_epi *e, const float *src, size_t lds, int r0, int mr,
                                   int c0, int nc) {
  const __m512 zero = _mm512_setzero_ps();
  for (int r = r0; r < r0 + mr; r++)
    for (int c = 0; c < nc; c += 16) {
      int left = nc - c < 16 ? nc - c : 16, col = c0 + c;
      __mmask16 mk = (__mmask16)((1u << left) - 1);
      size_t off = (size_t)r * (size_t)e->n + (size_t)col;
      __m512 v = _mm512_maskz_loadu_ps(mk, src + (size_t)r * lds + (size_t)col);
      for (int i = 0; i < e->n_ops; i++) {
        const nn_epi_op *o = &e->op[i];
        switch (o->kind) {
          case NN_EPI_BIAS:
            v = _mm512_add_ps(v, o->c_per_channel ? _mm512_maskz_loadu_ps(mk, o->c + col)
                                                  : _mm512_set1_ps(o->c[0]));
            break;
          case NN_EPI_CLAMP:
            v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(o->lo)), _mm512_set1_ps(o->hi));
            break;
          case NN_EPI_PRELU: {
            __m512 a =
                o->c_per_channel ? _mm512_maskz_loadu_ps(mk, o->c + col) : _mm512_set1_ps(o->c[0]);
            __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_NGE_UQ); /* not v >= 0 */
            v = _mm512_mask_mul_ps(v, neg, v, a);
            break;
          }
          default: break;
        }
      }
      _mm512_mask_storeu_ps(e->dst + off, mk, v);
    }
}
#endif

nn_isa nn_epi_isa(nn_isa cap) {
#if EPI_X86
  __builtin_cpu_init();
  if ((cap == NN_ISA_AUTO || cap >= NN_ISA_AVX512) && __builtin_cpu_supports("avx512f"))
    return NN_ISA_AVX512;
  if ((cap == NN_ISA_AUTO || cap >= NN_ISA_AVX2) && __builtin_cpu_supports("avx2"))
    return NN_ISA_AVX2;
#else
  (void)cap;
#endif
  return NN_ISA_SCALAR;
}

void nn_epi_apply(const nn_epi *e, const float *src, size_t lds, int r0, int mr, int c0, int nc) {
  if (!e || mr <= 0 || nc <= 0) return;
#if EPI_X86
  if (e->isa == NN_ISA_AVX512) {
    tile_avx512(e, src, lds, r0, mr, c0, nc);
    return;
  }
  if (e->isa == NN_ISA_AVX2) {
    tile_avx2(e, src, lds, r0, mr, c0, nc);
    return;
  }
#endif
  tile_base(e, src, lds, r0, mr, c0, nc);
}

void nn_epi_apply_ref(const nn_epi *e, const float *src, size_t lds, int r0, int mr, int c0,
                      int nc) {
  if (!e) return;
  for (int r = r0; r < r0 + mr; r++)
    for (int c = c0; c < c0 + nc; c++) {
      size_t off = (size_t)r * (size_t)e->n + (size_t)c;
      float v = src[(size_t)r * lds + (size_t)c];
      for (int i = 0; i < e->n_ops; i++) {
        const nn_epi_op *o = &e->op[i];
        switch (o->kind) {
          case NN_EPI_BIAS: v = v + o->c[o->c_per_channel ? c : 0]; break;
          case NN_EPI_CLAMP: v = epi_clamp(v, o->lo, o->hi); break;
          case NN_EPI_PRELU: v = v >= 0 ? v : v * o->c[o->c_per_channel ? c : 0]; break;
          default: break;
        }
      }
      e->dst[off] = v;
    }
}
