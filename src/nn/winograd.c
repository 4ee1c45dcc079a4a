/* winograd.c: 3x3 stride-1 convolution by Winograd minimal filtering, F(4x4,3x3) or
 * F(2x2,3x3), after Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016),
 * section 4 (the matrices B^T, G, A^T of F(2x2,3x3) are theirs; those of F(4x4,3x3) use the
 * interpolation points 0, 1, -1, 2, -2, infinity as in their paper).
 *
 * With tile edge m and a = m + 2, the output is cut into m x m tiles; for each tile the a x a
 * input patch d (zero outside the image) becomes V = B^T d B, each 3x3 filter g becomes
 * U = G g G^T (once, at creation), and the tile is Y = A^T (U .* V) A. Over channels the
 * elementwise product is a sum, so for each of the a*a positions e it is one GEMM:
 *   M_e (tiles, co) = V_e (tiles, ci) x U_e^T, U_e (co, ci),
 * done by a2 XNNPACK fully-connected operators (XNNPACK packs U_e and picks the ISA at run
 * time), or with nn_winograd_conv.own_gemm by a2 of emo's own GEMMs (nn/sgemm.c, where plan.c
 * finds XNNPACK's FMA3 kernels slower). The transforms are plain C loops over channels
 * (channel-innermost, NHWC), compiled once per ISA and picked under the conv's isa cap
 * (nn_winograd_conv.isa). Tiles go through in blocks sized so that a block's V and M stay in the L2
 * cache, each block start to finish (input transform, GEMMs, output transform) on one thread. With
 * a pthreadpool of T threads there are T slots, each with its own V, M and GEMM operators; one pool
 * dispatch per run hands out the blocks (at least two per thread, so that work stealing evens out a
 * thread the OS delays), and a block takes whichever slot is free (an atomic flag per slot; at most
 * T blocks run at once). A dispatch per step would cost more than these small GEMMs on a
 * busy machine. Every buffer is allocated at creation.
 *
 * What it leaves to others: deciding which nodes run here and binding buffers (plan.c), the
 * reference it is tested against (ops_ref.c's CONV2D), XNNPACK initialisation
 * (backend_xnn.c). */
#include "nn/winograd.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "nn/backend_xnn.h"
#include "nn/sgemm.h"

#define WG_CB 64                   /* channels per chunk of the per-tile transforms */
#define WG_BLOCK_BYTES (512 << 10) /* V + M of one block of tiles */
#define WG_MAX_A 6

/* The tile loops are written once (always-inline bodies) and compiled per ISA below
 * (AVX-512F, AVX2+FMA, baseline), picked per object from its isa cap. The file is ISO C (no
 * FP contraction) and the loops' operations are the same in each copy, so the paths agree
 * bit for bit. */
#ifdef __clang__ /* clang contracts a * b + c within an expression even in ISO C mode */
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define WG_X86 1
#endif
#define WG_BODY static inline __attribute__((always_inline))

/* What one thread works in. */
typedef struct wg_slot {
  float *v;                                /* (a*a, block, ci): transformed input tiles */
  float *mm;                               /* (a*a, block, co): products */
  xnn_operator_t ops[WG_MAX_A * WG_MAX_A]; /* (a*a): M_e = V_e U_e^T, bound to v and mm (NULL
                                              with own_gemm: the object's sg[] instead) */
  int status;                              /* xnn_status of the last failing GEMM, or 0 */
  atomic_int busy;                         /* 1 while a block runs in it */
} wg_slot;

struct nn_winograd {
  nn_winograd_conv c;
  int m, a;             /* output tile edge, input tile edge (m + 2) */
  int tiles_y, tiles_x; /* tiles per image */
  int n_tiles;          /* n * tiles_y * tiles_x */
  int block;            /* tiles per block */
  int n_blocks;
  float *bias;    /* (co): zeros when the conv has none */
  float *zero;    /* (ci): zeros, the input outside the image */
  wg_slot *slots; /* (n_slots) */
  int n_slots;
  void *threadpool;
  emo_isa isa;                       /* path of the tile transforms (emo_isa_pick of c.isa) */
  nn_sgemm *sg[WG_MAX_A * WG_MAX_A]; /* (a*a) with c.own_gemm: M_e = V_e U_e^T, read only, so
                                        shared by the slots; else NULL */
};

/* ---- 1-D transforms over a run of n channels (each pointer: n floats) ---------------- */

/* out = B^T in for F(4x4,3x3): 6 -> 6. */
static inline void bt6(const float *restrict i0, const float *restrict i1, const float *restrict i2,
                       const float *restrict i3, const float *restrict i4, const float *restrict i5,
                       float *restrict o0, float *restrict o1, float *restrict o2,
                       float *restrict o3, float *restrict o4, float *restrict o5, int n) {
  for (int c = 0; c < n; c++) {
    float d0 = i0[c], d1 = i1[c], d2 = i2[c], d3 = i3[c], d4 = i4[c], d5 = i5[c];
    float p = d4 - 4.0f * d2, q = d3 - 4.0f * d1, r = d4 - d2, s = 2.0f * (d3 - d1);
    o0[c] = 4.0f * d0 - 5.0f * d2 + d4;
    o1[c] = p + q;
    o2[c] = p - q;
    o3[c] = r + s;
    o4[c] = r - s;
    o5[c] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

/* out = B^T in for F(2x2,3x3): 4 -> 4. */
static inline void bt4(const float *restrict i0, const float *restrict i1, const float *restrict i2,
                       const float *restrict i3, float *restrict o0, float *restrict o1,
                       float *restrict o2, float *restrict o3, int n) {
  for (int c = 0; c < n; c++) {
    float d0 = i0[c], d1 = i1[c], d2 = i2[c], d3 = i3[c];
    o0[c] = d0 - d2;
    o1[c] = d1 + d2;
    o2[c] = d2 - d1;
    o3[c] = d1 - d3;
  }
}

/* out = A^T in for F(4x4,3x3): 6 -> 4. */
static inline void at6(const float *restrict i0, const float *restrict i1, const float *restrict i2,
                       const float *restrict i3, const float *restrict i4, const float *restrict i5,
                       float *restrict o0, float *restrict o1, float *restrict o2,
                       float *restrict o3, int n) {
  for (int c = 0; c < n; c++) {
    float s12 = i1[c] + i2[c], d12 = i1[c] - i2[c], s34 = i3[c] + i4[c], d34 = i3[c] - i4[c];
    o0[c] = i0[c] + s12 + s34;
    o1[c] = d12 + 2.0f * d34;
    o2[c] = s12 + 4.0f * s34;
    o3[c] = d12 + 8.0f * d34 + i5[c];
  }
}

/* The same, then + bias and clamped to [lo, hi]. */
static inline void at6_out(const float *restrict i0, const float *restrict i1,
                           const float *restrict i2, const float *restrict i3,
                           const float *restrict i4, const float *restrict i5,
                           const float *restrict b, float lo, float hi, float *restrict o0,
                           float *restrict o1, float *restrict o2, float *restrict o3, int n) {
  for (int c = 0; c < n; c++) {
    float s12 = i1[c] + i2[c], d12 = i1[c] - i2[c], s34 = i3[c] + i4[c], d34 = i3[c] - i4[c];
    float y0 = i0[c] + s12 + s34 + b[c];
    float y1 = d12 + 2.0f * d34 + b[c];
    float y2 = s12 + 4.0f * s34 + b[c];
    float y3 = d12 + 8.0f * d34 + i5[c] + b[c];
    y0 = y0 < lo ? lo : y0;
    y1 = y1 < lo ? lo : y1;
    y2 = y2 < lo ? lo : y2;
    y3 = y3 < lo ? lo : y3;
    o0[c] = y0 > hi ? hi : y0;
    o1[c] = y1 > hi ? hi : y1;
    o2[c] = y2 > hi ? hi : y2;
    o3[c] = y3 > hi ? hi : y3;
  }
}

/* out = A^T in for F(2x2,3x3): 4 -> 2. */
static inline void at4(const float *restrict i0, const float *restrict i1, const float *restrict i2,
                       const float *restrict i3, float *restrict o0, float *restrict o1, int n) {
  for (int c = 0; c < n; c++) {
    o0[c] = i0[c] + i1[c] + i2[c];
    o1[c] = i1[c] - i2[c] - i3[c];
  }
}

static inline void at4_out(const float *restrict i0, const float *restrict i1,
                           const float *restrict i2, const float *restrict i3,
                           const float *restrict b, float lo, float hi, float *restrict o0,
                           float *restrict o1, int n) {
  for (int c = 0; c < n; c++) {
    float y0 = i0[c] + i1[c] + i2[c] + b[c];
    float y1 = i1[c] - i2[c] - i3[c] + b[c];
    y0 = y0 < lo ? lo : y0;
    y1 = y1 < lo ? lo : y1;
    o0[c] = y0 > hi ? hi : y0;
    o1[c] = y1 > hi ? hi : y1;
  }
}

/* ---- per-tile transforms -------------------------------------------------------------- */

/* V_e[i] of slot sl for the count tiles from t0: B^T d B of each tile's patch of x. */
WG_BODY void input_tiles_body(const nn_winograd *wg, const wg_slot *sl, const float *x, int t0,
                              int count) {
  const nn_winograd_conv *c = &wg->c;
  const int a = wg->a, m = wg->m, ci = c->ci, block = wg->block;
  const float *src[WG_MAX_A][WG_MAX_A]; /* (a, a): row pointer of each patch pixel */
  float tmp[WG_MAX_A][WG_MAX_A][WG_CB]; /* (a, a, WG_CB): B^T d, one chunk of channels */
  for (int i = 0; i < count; i++) {
    int t = t0 + i;
    int img = t / (wg->tiles_y * wg->tiles_x), r = t % (wg->tiles_y * wg->tiles_x);
    int iy0 = (r / wg->tiles_x) * m - c->pad_top, ix0 = (r % wg->tiles_x) * m - c->pad_left;
    for (int dy = 0; dy < a; dy++)
      for (int dx = 0; dx < a; dx++) {
        int iy = iy0 + dy, ix = ix0 + dx;
        src[dy][dx] = iy >= 0 && iy < c->h && ix >= 0 && ix < c->w
                          ? x + (((size_t)img * c->h + iy) * c->w + ix) * ci
                          : wg->zero;
      }
    float *dst = sl->v + (size_t)i * ci; /* V_e row i = dst + e * block * ci */
    size_t es = (size_t)block * ci;
    for (int c0 = 0; c0 < ci; c0 += WG_CB) {
      int cn = ci - c0 < WG_CB ? ci - c0 : WG_CB;
      if (a == 6) {
        for (int k = 0; k < 6; k++)
          bt6(src[0][k] + c0, src[1][k] + c0, src[2][k] + c0, src[3][k] + c0, src[4][k] + c0,
              src[5][k] + c0, tmp[0][k], tmp[1][k], tmp[2][k], tmp[3][k], tmp[4][k], tmp[5][k], cn);
        for (int j = 0; j < 6; j++) {
          float *o = dst + (size_t)j * 6 * es + c0;
          bt6(tmp[j][0], tmp[j][1], tmp[j][2], tmp[j][3], tmp[j][4], tmp[j][5], o, o + es,
              o + 2 * es, o + 3 * es, o + 4 * es, o + 5 * es, cn);
        }
      } else {
        for (int k = 0; k < 4; k++)
          bt4(src[0][k] + c0, src[1][k] + c0, src[2][k] + c0, src[3][k] + c0, tmp[0][k], tmp[1][k],
              tmp[2][k], tmp[3][k], cn);
        for (int j = 0; j < 4; j++) {
          float *o = dst + (size_t)j * 4 * es + c0;
          bt4(tmp[j][0], tmp[j][1], tmp[j][2], tmp[j][3], o, o + es, o + 2 * es, o + 3 * es, cn);
        }
      }
    }
  }
}

/* The count output tiles from t0, from slot sl's M: A^T M A + bias, clamped, written to y
 * where they fall inside the output. */
WG_BODY void output_tiles_body(const nn_winograd *wg, const wg_slot *sl, float *y, int t0,
                               int count) {
  const nn_winograd_conv *c = &wg->c;
  const int a = wg->a, m = wg->m, co = c->co, block = wg->block;
  float tmp[4][WG_MAX_A][WG_CB]; /* (m, a, WG_CB): A^T M, one chunk of channels */
  float sink[4][WG_CB];          /* outputs past the edge of the image land here */
  float *dst[4][4];              /* (m, m): output pixel rows of the tile */
  for (int i = 0; i < count; i++) {
    int t = t0 + i;
    int img = t / (wg->tiles_y * wg->tiles_x), r = t % (wg->tiles_y * wg->tiles_x);
    int oy0 = (r / wg->tiles_x) * m, ox0 = (r % wg->tiles_x) * m;
    const float *src = sl->mm + (size_t)i * co; /* M_e row i = src + e * block * co */
    size_t es = (size_t)block * co;
    for (int c0 = 0; c0 < co; c0 += WG_CB) {
      int cn = co - c0 < WG_CB ? co - c0 : WG_CB;
      for (int j = 0; j < m; j++)
        for (int l = 0; l < m; l++) {
          int oy = oy0 + j, ox = ox0 + l;
          dst[j][l] = oy < c->ho && ox < c->wo
                          ? y + (((size_t)img * c->ho + oy) * c->wo + ox) * co + c0
                          : sink[l];
        }
      const float *b = wg->bias + c0;
      if (a == 6) {
        for (int k = 0; k < 6; k++) {
          const float *s = src + (size_t)k * es + c0;
          at6(s, s + 6 * es, s + 12 * es, s + 18 * es, s + 24 * es, s + 30 * es, tmp[0][k],
              tmp[1][k], tmp[2][k], tmp[3][k], cn);
        }
        for (int j = 0; j < 4; j++)
          at6_out(tmp[j][0], tmp[j][1], tmp[j][2], tmp[j][3], tmp[j][4], tmp[j][5], b, c->act_min,
                  c->act_max, dst[j][0], dst[j][1], dst[j][2], dst[j][3], cn);
      } else {
        for (int k = 0; k < 4; k++) {
          const float *s = src + (size_t)k * es + c0;
          at4(s, s + 4 * es, s + 8 * es, s + 12 * es, tmp[0][k], tmp[1][k], cn);
        }
        for (int j = 0; j < 2; j++)
          at4_out(tmp[j][0], tmp[j][1], tmp[j][2], tmp[j][3], b, c->act_min, c->act_max, dst[j][0],
                  dst[j][1], cn);
      }
    }
  }
}

/* ---- creation --------------------------------------------------------------------------- */

/* G (a x 3) of F(2x2,3x3) and F(4x4,3x3). */
static const double g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double g4[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};

#define WG_IN_ARGS const nn_winograd *wg, const wg_slot *sl, const float *x, int t0, int count
#define WG_OUT_ARGS const nn_winograd *wg, const wg_slot *sl, float *y, int t0, int count
static void input_tiles_scalar(WG_IN_ARGS) {
  input_tiles_body(wg, sl, x, t0, count);
}
static void output_tiles_scalar(WG_OUT_ARGS) {
  output_tiles_body(wg, sl, y, t0, count);
}
#ifdef WG_X86
__attribute__((target("avx2,fma"))) static void input_tiles_avx2(WG_IN_ARGS) {
  input_tiles_body(wg, sl, x, t0, count);
}
__attribute__((target("avx2,fma"))) static void output_tiles_avx2(WG_OUT_ARGS) {
  output_tiles_body(wg, sl, y, t0, count);
}
__attribute__((target("avx512f"))) static void input_tiles_avx512(WG_IN_ARGS) {
  input_tiles_body(wg, sl, x, t0, count);
}
__attribute__((target("avx512f"))) static void output_tiles_avx512(WG_OUT_ARGS) {
  output_tiles_body(wg, sl, y, t0, count);
}
#endif

/* The transforms on the object's path. */
static void input_tiles(WG_IN_ARGS) {
#ifdef WG_X86
  if (wg->isa == EMO_ISA_AVX512) return input_tiles_avx512(wg, sl, x, t0, count);
  if (wg->isa == EMO_ISA_AVX2) return input_tiles_avx2(wg, sl, x, t0, count);
#endif
  input_tiles_scalar(wg, sl, x, t0, count);
}
static void output_tiles(WG_OUT_ARGS) {
#ifdef WG_X86
  if (wg->isa == EMO_ISA_AVX512) return output_tiles_avx512(wg, sl, y, t0, count);
  if (wg->isa == EMO_ISA_AVX2) return output_tiles_avx2(wg, sl, y, t0, count);
#endif
  output_tiles_scalar(wg, sl, y, t0, count);
}

void nn_winograd_destroy(nn_winograd **pw) {
  if (!pw || !*pw) return;
  nn_winograd *wg = *pw;
  for (int i = 0; wg->slots && i < wg->n_slots; i++) {
    wg_slot *sl = &wg->slots[i];
    for (int e = 0; e < WG_MAX_A * WG_MAX_A; e++)
      if (sl->ops[e]) xnn_delete_operator(sl->ops[e]);
    free(sl->v);
    free(sl->mm);
  }
  for (int e = 0; e < WG_MAX_A * WG_MAX_A; e++) nn_sgemm_destroy(&wg->sg[e]);
  free(wg->slots);
  free(wg->bias);
  free(wg->zero);
  free(wg);
  *pw = NULL;
}

int nn_winograd_create(const nn_winograd_conv *c, const float *weights, const float *bias,
                       nn_winograd_tile tile, void *threadpool, nn_winograd **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "nn_winograd_create: out is NULL");
  *out = NULL;
  if (!c || !weights)
    return emoi_fail(err, EMO_EINVAL, "nn_winograd_create: conv or weights is NULL");
  if (tile != NN_WINOGRAD_F2X2 && tile != NN_WINOGRAD_F4X4)
    return emoi_fail(err, EMO_EINVAL, "nn_winograd_create: tile %d is not 2 or 4", (int)tile);
  const int lim = 1 << 16;
  if (c->n < 1 || c->h < 1 || c->w < 1 || c->ci < 1 || c->co < 1 || c->ho < 1 || c->wo < 1 ||
      c->n > lim || c->h > lim || c->w > lim || c->ci > lim || c->co > lim || c->ho > lim ||
      c->wo > lim || c->pad_top < 0 || c->pad_left < 0 || c->pad_top > 2 || c->pad_left > 2 ||
      c->ho > c->h + c->pad_top || c->wo > c->w + c->pad_left || !(c->act_min <= c->act_max))
    return emoi_fail(err, EMO_EINVAL,
                     "nn_winograd_create: bad conv %dx%dx%dx%d -> %dx%dx%d, pads %d/%d", c->n, c->h,
                     c->w, c->ci, c->ho, c->wo, c->co, c->pad_top, c->pad_left);
  int st = nn_xnn_init(err);
  if (st) return st;
  const int m = (int)tile, a = m + 2, a2 = a * a;
  int64_t ty = (c->ho + m - 1) / m, tx = (c->wo + m - 1) / m, nt = (int64_t)c->n * ty * tx;
  if (nt > INT32_MAX / 2)
    return emoi_fail(err, EMO_EINVAL, "nn_winograd_create: %lld tiles is too many", (long long)nt);
  nn_winograd *wg = calloc(1, sizeof *wg);
  double *u = NULL; /* (a*a, co, ci): the transformed filters, in double */
  float *uf = NULL; /* (co, ci): one of them in float, for XNNPACK to pack */
  if (!wg) goto oom;
  wg->c = *c;
  wg->m = m;
  wg->a = a;
  wg->tiles_y = (int)ty;
  wg->tiles_x = (int)tx;
  wg->n_tiles = (int)nt;
  wg->threadpool = threadpool;
  wg->isa = emo_isa_pick((emo_isa)c->isa);
  size_t tile_bytes = (size_t)a2 * ((size_t)c->ci + (size_t)c->co) * sizeof(float);
  size_t blk = WG_BLOCK_BYTES / tile_bytes;
  if (blk < 8) blk = 8;
  if (blk > (size_t)nt) blk = (size_t)nt;
  size_t n_blocks = ((size_t)nt + blk - 1) / blk;
  size_t threads = threadpool ? pthreadpool_get_threads_count((pthreadpool_t)threadpool) : 1;
  if (threads > 64) threads = 64;
  if (threads < 1) threads = 1;
  /* with threads, two blocks per thread at least, but no block under 16 tiles */
  size_t most = ((size_t)nt + 15) / 16;
  if (threads > 1 && n_blocks < 2 * threads) n_blocks = 2 * threads < most ? 2 * threads : most;
  if (n_blocks < 1) n_blocks = 1;
  /* blocks of equal size: the last one would otherwise pay for a full block of GEMM rows */
  blk = ((size_t)nt + n_blocks - 1) / n_blocks;
  n_blocks = ((size_t)nt + blk - 1) / blk;
  wg->block = (int)blk;
  wg->n_blocks = (int)n_blocks;
  wg->n_slots = (int)(threads < n_blocks ? threads : n_blocks);
  wg->slots = calloc((size_t)wg->n_slots, sizeof *wg->slots);
  wg->bias = calloc((size_t)c->co, sizeof(float));
  wg->zero = calloc((size_t)c->ci + XNN_EXTRA_BYTES / sizeof(float), sizeof(float));
  u = malloc((size_t)a2 * c->co * c->ci * sizeof *u);
  uf = malloc((size_t)c->co * c->ci * sizeof *uf);
  if (!wg->slots || !wg->bias || !wg->zero || !u || !uf) goto oom;
  size_t v_bytes = (size_t)a2 * blk * (size_t)c->ci * sizeof(float) + XNN_EXTRA_BYTES;
  size_t m_bytes = (size_t)a2 * blk * (size_t)c->co * sizeof(float) + XNN_EXTRA_BYTES;
  for (int i = 0; i < wg->n_slots; i++) {
    wg->slots[i].v = calloc(1, v_bytes);
    wg->slots[i].mm = calloc(1, m_bytes);
    atomic_init(&wg->slots[i].busy, 0);
    if (!wg->slots[i].v || !wg->slots[i].mm) goto oom;
  }
  if (bias) memcpy(wg->bias, bias, (size_t)c->co * sizeof(float));

  /* U = G g G^T for every (co, ci), g = weights[co][.][.][ci] */
  const double(*gm)[3] = m == 4 ? g4 : g2;
  for (int o = 0; o < c->co; o++)
    for (int i = 0; i < c->ci; i++) {
      double g[3][3], t[WG_MAX_A][3];
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
          g[ky][kx] = weights[(((size_t)o * 3 + ky) * 3 + kx) * c->ci + i];
      for (int r = 0; r < a; r++)
        for (int kx = 0; kx < 3; kx++)
          t[r][kx] = gm[r][0] * g[0][kx] + gm[r][1] * g[1][kx] + gm[r][2] * g[2][kx];
      for (int r = 0; r < a; r++)
        for (int s = 0; s < a; s++)
          u[((size_t)(r * a + s) * c->co + o) * c->ci + i] =
              t[r][0] * gm[s][0] + t[r][1] * gm[s][1] + t[r][2] * gm[s][2];
    }
  for (int e = 0; e < a2; e++) {
    for (size_t j = 0; j < (size_t)c->co * c->ci; j++)
      uf[j] = (float)u[(size_t)e * c->co * c->ci + j];
    if (c->own_gemm) {
      st = nn_sgemm_create(c->co, c->ci, uf, (size_t)c->ci, NULL, -INFINITY, INFINITY, c->isa,
                           &wg->sg[e], err);
      if (st) goto fail;
      continue;
    }
    enum xnn_status s = xnn_status_success;
    for (int i = 0; i < wg->n_slots && s == xnn_status_success; i++) {
      wg_slot *sl = &wg->slots[i];
      s = xnn_create_fully_connected_nc_f32((size_t)c->ci, (size_t)c->co, (size_t)c->ci,
                                            (size_t)c->co, uf, NULL, -INFINITY, INFINITY, 0,
                                            &sl->ops[e]);
      /* one thread per GEMM: the threads share out whole blocks (nn_winograd_run) */
      if (s == xnn_status_success)
        s = xnn_setup_fully_connected_nc_f32(sl->ops[e], blk, sl->v + (size_t)e * blk * c->ci,
                                             sl->mm + (size_t)e * blk * c->co, NULL);
    }
    if (s != xnn_status_success) {
      st = emoi_fail(err, s == xnn_status_out_of_memory ? EMO_ENOMEM : EMO_EUNSUPPORTED,
                     "winograd conv %dx%dx%d -> %d: XNNPACK fully-connected operator %d "
                     "failed (status %d)",
                     c->h, c->w, c->ci, c->co, e, (int)s);
      goto fail;
    }
  }
  free(u);
  free(uf);
  *out = wg;
  return EMO_OK;
oom:
  st = emoi_fail(err, EMO_ENOMEM, "winograd conv: out of memory");
fail:
  free(u);
  free(uf);
  nn_winograd_destroy(&wg);
  return st;
}

int nn_winograd_node_eligible(const nn_graph *g, int k) {
  if (!g || k < 0 || k >= g->n_nodes) return 0;
  const nn_node *n = &g->nodes[k];
  if (n->op != NN_OP_CONV2D || n->n_in < 2 || n->n_out != 1 || n->in[0] < 0 || n->in[1] < 0)
    return 0;
  const nn_attr *at = &n->attr;
  if (at->stride_h != 1 || at->stride_w != 1 || at->dilation_h != 1 || at->dilation_w != 1)
    return 0;
  if (at->pad_top < 0 || at->pad_left < 0 || at->pad_top > 2 || at->pad_left > 2) return 0;
  const nn_value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
  if (x->is_const || !w->is_const || x->dtype != NN_F32 || w->dtype != NN_F32 ||
      y->dtype != NN_F32 || x->rank != 4 || w->rank != 4 || y->rank != 4)
    return 0;
  if (w->shape[1] != 3 || w->shape[2] != 3 || w->shape[3] != x->shape[3] ||
      y->shape[3] != w->shape[0] || y->shape[0] != x->shape[0])
    return 0;
  if (n->n_in > 2 && n->in[2] >= 0) {
    const nn_value *b = &g->values[n->in[2]];
    if (!b->is_const || b->dtype != NN_F32 || nn_value_numel(b) != w->shape[0]) return 0;
  }
  if (x->shape[3] < 16 || w->shape[0] < 16 || y->shape[1] < 16 || y->shape[2] < 16) return 0;
  /* the output must be what stride-1 3x3 gives with these pads (bottom/right implied) */
  if (y->shape[1] > x->shape[1] + at->pad_top || y->shape[2] > x->shape[2] + at->pad_left) return 0;
  for (int d = 0; d < 4; d++)
    if (x->shape[d] > (1 << 16) || y->shape[d] > (1 << 16)) return 0;
  return 1;
}

int nn_winograd_create_node(const nn_graph *g, int k, nn_winograd_tile tile, nn_isa isa,
                            int own_gemm, void *threadpool, nn_winograd **out, emoi_err *err) {
  if (out) *out = NULL;
  if (!nn_winograd_node_eligible(g, k))
    return emoi_fail(err, EMO_EINVAL, "node %d is not a 3x3 stride-1 CONV2D for winograd", k);
  const nn_node *n = &g->nodes[k];
  const nn_value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]], *y = &g->values[n->out[0]];
  nn_winograd_conv c = {(int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3],
                        (int)w->shape[0], (int)y->shape[1], (int)y->shape[2], n->attr.pad_top,
                        n->attr.pad_left, n->attr.act_min,  n->attr.act_max,  isa,
                        own_gemm};
  const float *bias = n->n_in > 2 && n->in[2] >= 0 ? nn_graph_const_data(g, n->in[2]) : NULL;
  int st =
      nn_winograd_create(&c, nn_graph_const_data(g, n->in[1]), bias, tile, threadpool, out, err);
  if (st) emoi_err_prefix(err, n->name ? n->name : "conv");
  return st;
}

typedef struct wg_run {
  const nn_winograd *wg;
  const float *x; /* (n,h,w,ci) */
  float *y;       /* (n,ho,wo,co) */
} wg_run;

/* Block b start to finish in slot sl's scratch. */
static void run_block(const wg_run *r, wg_slot *sl, int b) {
  const nn_winograd *wg = r->wg;
  int t0 = b * wg->block;
  int cnt = wg->n_tiles - t0 < wg->block ? wg->n_tiles - t0 : wg->block;
  input_tiles(wg, sl, r->x, t0, cnt);
  for (int e = 0; e < wg->a * wg->a; e++) {
    if (wg->sg[e]) {
      nn_sgemm_run(wg->sg[e], cnt, sl->v + (size_t)e * wg->block * wg->c.ci, (size_t)wg->c.ci,
                   sl->mm + (size_t)e * wg->block * wg->c.co, (size_t)wg->c.co, NULL);
      continue;
    }
    enum xnn_status s = xnn_run_operator(sl->ops[e], NULL);
    if (s != xnn_status_success) sl->status = (int)s;
  }
  output_tiles(wg, sl, r->y, t0, cnt);
}

/* Pool task: block b in the first free slot (there is one: at most n_slots tasks run). */
static void block_task(void *ctx, size_t b) {
  const wg_run *r = ctx;
  for (;;)
    for (int i = 0; i < r->wg->n_slots; i++) {
      wg_slot *sl = &r->wg->slots[i];
      if (!atomic_exchange_explicit(&sl->busy, 1, memory_order_acquire)) {
        run_block(r, sl, (int)b);
        atomic_store_explicit(&sl->busy, 0, memory_order_release);
        return;
      }
    }
}

int nn_winograd_run(nn_winograd *wg, const float *x, float *y, emoi_err *err) {
  if (!wg || !x || !y) return emoi_fail(err, EMO_EINVAL, "nn_winograd_run: NULL argument");
  wg_run r = {wg, x, y};
  for (int i = 0; i < wg->n_slots; i++) wg->slots[i].status = 0;
  if (wg->n_slots > 1)
    pthreadpool_parallelize_1d((pthreadpool_t)wg->threadpool, block_task, &r, (size_t)wg->n_blocks,
                               0);
  else
    for (int b = 0; b < wg->n_blocks; b++) run_block(&r, &wg->slots[0], b);
  for (int i = 0; i < wg->n_slots; i++)
    if (wg->slots[i].status)
      return emoi_fail(err, EMO_EINTERNAL, "winograd conv: an XNNPACK GEMM failed (status %d)",
                       wg->slots[i].status);
  return EMO_OK;
}
