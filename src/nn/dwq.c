/* dwq.c: a 3x3 depthwise convolution fused with the int8 pointwise convolution after it
 * (dwq.h).
 *
 * The depthwise kernel. NHWC with the channels innermost, so 16 channels are one zmm. The
 * loops run channel block by channel block (its 9 weight vectors and the bias stay in
 * registers), inside a block row by row, and inside a row over tiles of 4 output pixels: the 4
 * share their input columns, so a tile loads 6 columns per input row and does 12
 * multiply-adds with them (18 loads for 36 FMAs instead of 36 for 36). A block's strip of three
 * input rows (3 x w x 64 bytes, 5.6 KiB at w = 29) stays in L1 from one output row to the next.
 * Columns outside the image load as zeros and rows outside it are skipped; every output adds its
 * taps in the same order (bias, then ky, kx row-major, one FMA each) as the scalar reference,
 * which uses fmaf, so the two give equal floats. The min and max of what is stored (and whether
 * a NaN was) are tracked in registers on the way out: that is the range the int8 step needs.
 *
 * An AVX2 + FMA sibling runs the same loops on 8 channels a ymm (every x86-64 CPU with AVX2
 * has FMA3 but the check asks for both).
 *
 * The int8 part is qconv.c's (nn_qconv_run_range). What it leaves to others: choosing nodes
 * (plan.c), threads (one face per thread in the pipeline). */
#include "nn/dwq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DW_X86 1
#define DW_TARGET __attribute__((target("avx512f")))
#else
#define DW_X86 0
#endif

struct nn_dwq {
  nn_dw3_desc d;
  nn_isa isa;   /* the depthwise kernel: nn_dw3_isa */
  float *w;     /* (3,3,c) */
  float *bias;  /* (c), NULL when the node has none */
  float *t;     /* (n,h,w,c): the depthwise output of one run, the int8 step's input */
  nn_qconv *qc; /* the pointwise convolution */
};

int nn_dw3_cpu_has_avx512(void) {
#if DW_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

void nn_dw3_ref(const nn_dw3_desc *d, const float *x, const float *w, const float *bias, float *y,
                float *lo, float *hi, int *nan) {
  int H = d->h, W = d->w, C = d->c, bad = 0;
  float mn = 0, mx = 0;
  for (int b = 0; b < d->n; b++)
    for (int oy = 0; oy < H; oy++)
      for (int ox = 0; ox < W; ox++)
        for (int c = 0; c < C; c++) {
          float acc = bias ? bias[c] : 0.0f;
          for (int ky = 0; ky < 3; ky++) {
            int iy = oy + ky - 1;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < 3; kx++) {
              int ix = ox + kx - 1;
              if (ix < 0 || ix >= W) continue;
              acc = fmaf(x[(((size_t)b * H + iy) * W + ix) * C + c], w[(ky * 3 + kx) * C + c], acc);
            }
          }
          acc = acc < d->act_min ? d->act_min : acc;
          acc = acc > d->act_max ? d->act_max : acc;
          y[(((size_t)b * H + oy) * W + ox) * C + c] = acc;
          if (acc != acc) bad = 1;
          mn = acc < mn ? acc : mn;
          mx = acc > mx ? acc : mx;
        }
  *lo = mn;
  *hi = mx;
  *nan = bad;
}

#if DW_X86

/* Column ix of an input row (16 channels from row), zero outside [0, W). */
#define DW_LD_SAFE(row, ix) \
  ((ix) >= 0 && (ix) < W ? _mm512_maskz_loadu_ps(mk, (row) + (size_t)(ix)*C) : _mm512_setzero_ps())
#define DW_LD_FAST(row, ix) _mm512_maskz_loadu_ps(mk, (row) + (size_t)(ix)*C)

/* One input row's three taps (weights wa, wb, wc for kx = 0, 1, 2) into the tile's four
 * accumulators, kx by kx so that each output adds its taps in the reference's order. */
#define DW_ROW(LD, row, wa, wb, wc)                                                            \
  do {                                                                                         \
    __m512 x0 = LD(row, ox - 1), x1 = LD(row, ox), x2 = LD(row, ox + 1), x3 = LD(row, ox + 2), \
           x4 = LD(row, ox + 3), x5 = LD(row, ox + 4);                                         \
    a0 = _mm512_fmadd_ps(x0, wa, a0);                                                          \
    a1 = _mm512_fmadd_ps(x1, wa, a1);                                                          \
    a2 = _mm512_fmadd_ps(x2, wa, a2);                                                          \
    a3 = _mm512_fmadd_ps(x3, wa, a3);                                                          \
    a0 = _mm512_fmadd_ps(x1, wb, a0);                                                          \
    a1 = _mm512_fmadd_ps(x2, wb, a1);                                                          \
    a2 = _mm512_fmadd_ps(x3, wb, a2);                                                          \
    a3 = _mm512_fmadd_ps(x4, wb, a3);                                                          \
    a0 = _mm512_fmadd_ps(x2, wc, a0);                                                          \
    a1 = _mm512_fmadd_ps(x3, wc, a1);                                                          \
    a2 = _mm512_fmadd_ps(x4, wc, a2);                                                          \
    a3 = _mm512_fmadd_ps(x5, wc, a3);                                                          \
  } while (0)

#define DW_TILE(LD)                     \
  do {                                  \
    if (r0) DW_ROW(LD, r0, w0, w1, w2); \
    DW_ROW(LD, r1, w3, w4, w5);         \
    if (r2) DW_ROW(LD, r2, w6, w7, w8); \
  } while (0)

/* Clamp, store pixel j of the tile and fold it into the range. max(lo, v) and min(hi, v)
 * return v when it is NaN (the second operand), so NaN goes through as in the reference. */
#define DW_STORE(a, j)                                         \
  do {                                                         \
    __m512 v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, a));      \
    _mm512_mask_storeu_ps(yr + (size_t)(ox + (j)) * C, mk, v); \
    bad |= _mm512_mask_cmp_ps_mask(mk, v, v, _CMP_UNORD_Q);    \
    mn = _mm512_mask_min_ps(mn, mk, mn, v);                    \
    mx = _mm512_mask_max_ps(mx, mk, mx, v);                    \
  } while (0)

static DW_TARGET void dw3_avx512(const nn_dw3_desc *d, const float *x, const float *w,
                                 const float *bias, float *y, float *lo, float *hi, int *nan) {
  const int H = d->h, W = d->w, C = d->c;
  const __m512 vlo = _mm512_set1_ps(d->act_min), vhi = _mm512_set1_ps(d->act_max);
  __m512 mn = _mm512_setzero_ps(), mx = _mm512_setzero_ps();
  __mmask16 bad = 0;
  for (int c0 = 0; c0 < C; c0 += 16) {
    const __mmask16 mk = C - c0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - c0)) - 1);
    const float *wc = w + c0;
    const __m512 w0 = _mm512_maskz_loadu_ps(mk, wc), w1 = _mm512_maskz_loadu_ps(mk, wc + C),
                 w2 = _mm512_maskz_loadu_ps(mk, wc + 2 * C),
                 w3 = _mm512_maskz_loadu_ps(mk, wc + 3 * C),
                 w4 = _mm512_maskz_loadu_ps(mk, wc + 4 * C),
                 w5 = _mm512_maskz_loadu_ps(mk, wc + 5 * C),
                 w6 = _mm512_maskz_loadu_ps(mk, wc + 6 * C),
                 w7 = _mm512_maskz_loadu_ps(mk, wc + 7 * C),
                 w8 = _mm512_maskz_loadu_ps(mk, wc + 8 * C);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mk, bias + c0) : _mm512_setzero_ps();
    for (int b = 0; b < d->n; b++)
      for (int oy = 0; oy < H; oy++) {
        const float *img = x + (size_t)b * H * W * C + c0;
        const float *r1 = img + (size_t)oy * W * C;
        const float *r0 = oy > 0 ? r1 - (size_t)W * C : NULL;
        const float *r2 = oy + 1 < H ? r1 + (size_t)W * C : NULL;
        float *yr = y + ((size_t)b * H + oy) * W * C + c0;
        for (int ox = 0; ox < W; ox += 4) {
          __m512 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
          if (ox >= 1 && ox + 4 < W)
            DW_TILE(DW_LD_FAST);
          else
            DW_TILE(DW_LD_SAFE);
          int nt = W - ox < 4 ? W - ox : 4;
          DW_STORE(a0, 0);
          if (nt > 1) DW_STORE(a1, 1);
          if (nt > 2) DW_STORE(a2, 2);
          if (nt > 3) DW_STORE(a3, 3);
        }
      }
  }
  *lo = _mm512_reduce_min_ps(mn);
  *hi = _mm512_reduce_max_ps(mx);
  *nan = bad != 0;
}

/* ---- AVX2 + FMA: the same loops with 8 channels a ymm ------------------------------------
 * Lanes past the channel count load as zeros (vmaskmovps) and are not stored; they are zeroed
 * before the range so they cannot move it (0 is in the range anyway). */
#define DA_TARGET __attribute__((target("avx2,fma")))
#define DA_LD_SAFE(row, ix) \
  ((ix) >= 0 && (ix) < W ? _mm256_maskload_ps((row) + (size_t)(ix)*C, mk) : _mm256_setzero_ps())
#define DA_LD_FAST(row, ix) _mm256_maskload_ps((row) + (size_t)(ix)*C, mk)

#define DA_ROW(LD, row, wa, wb, wc)                                                            \
  do {                                                                                         \
    __m256 x0 = LD(row, ox - 1), x1 = LD(row, ox), x2 = LD(row, ox + 1), x3 = LD(row, ox + 2), \
           x4 = LD(row, ox + 3), x5 = LD(row, ox + 4);                                         \
    a0 = _mm256_fmadd_ps(x0, wa, a0);                                                          \
    a1 = _mm256_fmadd_ps(x1, wa, a1);                                                          \
    a2 = _mm256_fmadd_ps(x2, wa, a2);                                                          \
    a3 = _mm256_fmadd_ps(x3, wa, a3);                                                          \
    a0 = _mm256_fmadd_ps(x1, wb, a0);                                                          \
    a1 = _mm256_fmadd_ps(x2, wb, a1);                                                          \
    a2 = _mm256_fmadd_ps(x3, wb, a2);                                                          \
    a3 = _mm256_fmadd_ps(x4, wb, a3);                                                          \
    a0 = _mm256_fmadd_ps(x2, wc, a0);                                                          \
    a1 = _mm256_fmadd_ps(x3, wc, a1);                                                          \
    a2 = _mm256_fmadd_ps(x4, wc, a2);                                                          \
    a3 = _mm256_fmadd_ps(x5, wc, a3);                                                          \
  } while (0)

#define DA_TILE(LD)                     \
  do {                                  \
    if (r0) DA_ROW(LD, r0, w0, w1, w2); \
    DA_ROW(LD, r1, w3, w4, w5);         \
    if (r2) DA_ROW(LD, r2, w6, w7, w8); \
  } while (0)

#define DA_STORE(a, j)                                          \
  do {                                                          \
    __m256 v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, a));       \
    _mm256_maskstore_ps(yr + (size_t)(ox + (j)) * C, mk, v);    \
    v = _mm256_and_ps(v, mkf);                                  \
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); \
    mn = _mm256_min_ps(mn, v);                                  \
    mx = _mm256_max_ps(mx, v);                                  \
  } while (0)

static DA_TARGET void dw3_avx2(const nn_dw3_desc *d, const float *x, const float *w,
                               const float *bias, float *y, float *lo, float *hi, int *nan) {
  const int H = d->h, W = d->w, C = d->c;
  const __m256 vlo = _mm256_set1_ps(d->act_min), vhi = _mm256_set1_ps(d->act_max);
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256 mn = _mm256_setzero_ps(), mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  for (int c0 = 0; c0 < C; c0 += 8) {
    const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(C - c0 < 8 ? C - c0 : 8), iota);
    const __m256 mkf = _mm256_castsi256_ps(mk);
    const float *wc = w + c0;
    const __m256 w0 = _mm256_maskload_ps(wc, mk), w1 = _mm256_maskload_ps(wc + C, mk),
                 w2 = _mm256_maskload_ps(wc + 2 * C, mk), w3 = _mm256_maskload_ps(wc + 3 * C, mk),
                 w4 = _mm256_maskload_ps(wc + 4 * C, mk), w5 = _mm256_maskload_ps(wc + 5 * C, mk),
                 w6 = _mm256_maskload_ps(wc + 6 * C, mk), w7 = _mm256_maskload_ps(wc + 7 * C, mk),
                 w8 = _mm256_maskload_ps(wc + 8 * C, mk);
    const __m256 bv = bias ? _mm256_maskload_ps(bias + c0, mk) : _mm256_setzero_ps();
    for (int b = 0; b < d->n; b++)
      for (int oy = 0; oy < H; oy++) {
        const float *img = x + (size_t)b * H * W * C + c0;
        const float *r1 = img + (size_t)oy * W * C;
        const float *r0 = oy > 0 ? r1 - (size_t)W * C : NULL;
        const float *r2 = oy + 1 < H ? r1 + (size_t)W * C : NULL;
        float *yr = y + ((size_t)b * H + oy) * W * C + c0;
        for (int ox = 0; ox < W; ox += 4) {
          __m256 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
          if (ox >= 1 && ox + 4 < W)
            DA_TILE(DA_LD_FAST);
          else
            DA_TILE(DA_LD_SAFE);
          int nt = W - ox < 4 ? W - ox : 4;
          DA_STORE(a0, 0);
          if (nt > 1) DA_STORE(a1, 1);
          if (nt > 2) DA_STORE(a2, 2);
          if (nt > 3) DA_STORE(a3, 3);
        }
      }
  }
  float tn[8], tx[8], smn = 0, smx = 0;
  _mm256_storeu_ps(tn, mn);
  _mm256_storeu_ps(tx, mx);
  for (int j = 0; j < 8; j++) {
    smn = tn[j] < smn ? tn[j] : smn;
    smx = tx[j] > smx ? tx[j] : smx;
  }
  *lo = smn;
  *hi = smx;
  *nan = _mm256_movemask_ps(bad) != 0;
}

#endif

int nn_dw3_cpu_has_avx2(void) {
#if DW_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

int nn_dw3_avx2(const nn_dw3_desc *d, const float *x, const float *w, const float *bias, float *y,
                float *lo, float *hi, int *nan) {
#if DW_X86
  if (!nn_dw3_cpu_has_avx2()) return EMO_EUNSUPPORTED;
  dw3_avx2(d, x, w, bias, y, lo, hi, nan);
  return EMO_OK;
#else
  (void)d, (void)x, (void)w, (void)bias, (void)y, (void)lo, (void)hi, (void)nan;
  return EMO_EUNSUPPORTED;
#endif
}

int nn_dw3_avx512(const nn_dw3_desc *d, const float *x, const float *w, const float *bias, float *y,
                  float *lo, float *hi, int *nan) {
#if DW_X86
  if (!nn_dw3_cpu_has_avx512()) return EMO_EUNSUPPORTED;
  dw3_avx512(d, x, w, bias, y, lo, hi, nan);
  return EMO_OK;
#else
  (void)d, (void)x, (void)w, (void)bias, (void)y, (void)lo, (void)hi, (void)nan;
  return EMO_EUNSUPPORTED;
#endif
}

/* ---- The fused step ---------------------------------------------------------------------- */

static int all_finite(const float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

int nn_dwq_nodes_eligible(const nn_graph *g, int kd, int kc) {
  if (!g || kd < 0 || kd >= g->n_nodes || kc < 0 || kc >= g->n_nodes || kd == kc) return 0;
  const nn_node *nd = &g->nodes[kd], *nc = &g->nodes[kc];
  if (nd->op != NN_OP_DEPTHWISE_CONV2D || nd->n_in < 2 || nd->n_out != 1 || nd->in[0] < 0 ||
      nd->in[1] < 0)
    return 0;
  if (!nn_qconv_node_eligible(g, kc) || nc->in[0] != nd->out[0] || nc->attr.stride_h != 1 ||
      nc->attr.stride_w != 1 || g->values[nc->in[1]].shape[1] != 1 ||
      g->values[nc->in[1]].shape[2] != 1)
    return 0;
  const nn_attr *at = &nd->attr;
  if (at->stride_h != 1 || at->stride_w != 1 || at->dilation_h != 1 || at->dilation_w != 1 ||
      at->pad_top != 1 || at->pad_bottom != 1 || at->pad_left != 1 || at->pad_right != 1)
    return 0;
  const nn_value *x = &g->values[nd->in[0]], *w = &g->values[nd->in[1]],
                 *t = &g->values[nd->out[0]], *y = &g->values[nc->out[0]];
  if (x->is_const || !w->is_const || x->dtype != NN_F32 || w->dtype != NN_F32 ||
      t->dtype != NN_F32 || x->rank != 4 || w->rank != 4 || t->rank != 4 || y->rank != 4)
    return 0;
  if (w->shape[0] != 1 || w->shape[1] != 3 || w->shape[2] != 3 || w->shape[3] != x->shape[3])
    return 0;
  for (int i = 0; i < 4; i++)
    if (t->shape[i] != x->shape[i]) return 0;
  if (y->shape[1] != t->shape[1] || y->shape[2] != t->shape[2]) return 0;
  if (!all_finite(nn_graph_const_data(g, nd->in[1]), nn_value_numel(w))) return 0;
  if (nd->n_in > 2 && nd->in[2] >= 0) {
    const nn_value *b = &g->values[nd->in[2]];
    if (!b->is_const || b->dtype != NN_F32 || nn_value_numel(b) != x->shape[3] ||
        !all_finite(nn_graph_const_data(g, nd->in[2]), nn_value_numel(b)))
      return 0;
  }
  return 1;
}

void nn_dwq_set_epilogue(nn_dwq *q, const nn_epi *e) {
  if (q) nn_qconv_set_epilogue(q->qc, e);
}

void nn_dwq_destroy(nn_dwq **pq) {
  if (!pq || !*pq) return;
  nn_dwq *q = *pq;
  nn_qconv_destroy(&q->qc);
  free(q->w);
  free(q->bias);
  free(q->t);
  free(q);
  *pq = NULL;
}

nn_isa nn_dw3_isa(nn_isa isa) {
  int any = isa <= NN_ISA_AUTO || isa >= NN_ISA_COUNT;
  if ((any || isa >= NN_ISA_AVX512) && nn_dw3_cpu_has_avx512()) return NN_ISA_AVX512;
  if ((any || isa >= NN_ISA_AVX2) && nn_dw3_cpu_has_avx2()) return NN_ISA_AVX2;
  return NN_ISA_SCALAR;
}

int nn_dwq_create_node(const nn_graph *g, int kd, int kc, nn_isa isa, nn_dwq **out, emoi_err *err) {
  if (out) *out = NULL;
  if (!out) return emoi_fail(err, EMO_EINVAL, "nn_dwq_create_node: out is NULL");
  if (!nn_dwq_nodes_eligible(g, kd, kc))
    return emoi_fail(err, EMO_EINVAL, "nodes %d, %d are not a 3x3 depthwise and a 1x1 conv", kd,
                     kc);
  const nn_node *nd = &g->nodes[kd];
  const nn_value *x = &g->values[nd->in[0]];
  nn_dwq *q = calloc(1, sizeof *q);
  if (!q) goto oom;
  q->d = (nn_dw3_desc){(int)x->shape[0], (int)x->shape[1], (int)x->shape[2],
                       (int)x->shape[3], nd->attr.act_min, nd->attr.act_max};
  q->isa = nn_dw3_isa(isa);
  size_t c = (size_t)q->d.c, nt = (size_t)nn_value_numel(x);
  q->w = malloc(9 * c * sizeof *q->w);
  q->t = aligned_alloc(64, (nt * sizeof *q->t + 63) & ~(size_t)63);
  if (!q->w || !q->t) goto oom;
  memcpy(q->w, nn_graph_const_data(g, nd->in[1]), 9 * c * sizeof *q->w);
  if (nd->n_in > 2 && nd->in[2] >= 0) {
    if (!(q->bias = malloc(c * sizeof *q->bias))) goto oom;
    memcpy(q->bias, nn_graph_const_data(g, nd->in[2]), c * sizeof *q->bias);
  }
  int st = nn_qconv_create_node(g, kc, isa, &q->qc, err);
  if (st) {
    nn_dwq_destroy(&q);
    return st;
  }
  *out = q;
  return EMO_OK;
oom:
  nn_dwq_destroy(&q);
  return emoi_fail(err, EMO_ENOMEM, "dwq: out of memory");
}

int nn_dwq_run(nn_dwq *q, const float *x, float *y, emoi_err *err) {
  if (!q || !x || !y) return emoi_fail(err, EMO_EINVAL, "nn_dwq_run: NULL argument");
  float lo, hi;
  int nan;
#if DW_X86
  if (q->isa == NN_ISA_AVX512)
    dw3_avx512(&q->d, x, q->w, q->bias, q->t, &lo, &hi, &nan);
  else if (q->isa == NN_ISA_AVX2)
    dw3_avx2(&q->d, x, q->w, q->bias, q->t, &lo, &hi, &nan);
  else
#endif
    nn_dw3_ref(&q->d, x, q->w, q->bias, q->t, &lo, &hi, &nan);
  return nn_qconv_run_range(q->qc, q->t, lo, hi, nan, y, err);
}
