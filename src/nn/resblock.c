/* resblock.c: the face-landmark network's residual block as one streamed step (resblock.h).
 *
 * Layout. The expanding conv's weights are kept transposed, (c,m), and the projecting conv's
 * (m,c), so that the vector paths read eight consecutive output channels of one input channel;
 * the depthwise weights stay (3,3,m). A ring of three rows of the expanded tensor, each w + 2
 * pixels wide with a zero pixel at both ends (the depthwise SAME padding), holds rows y-1, y,
 * y+1 while output row y is made; rows outside the image are a shared zero row. A row is
 * expanded once, when row y + 1 is first needed.
 *
 * The vector paths use GCC's vector extension (eight floats, one ymm register; on AVX-512
 * sixteen, one zmm register, where c and m are multiples of 16, and for the projection where c
 * is: 10% less time per face than eight, measured) and keep a block of pixels' accumulators in
 * registers (16 pixels on AVX-512 with its 32 registers, 8 on AVX2),
 * broadcasting one input value per pixel against a vector of output channels' weights; AVX2, which
 * cannot fold a broadcast into the multiply as AVX-512 does, broadcasts each value once for two
 * vectors of output channels where there are 16 or more (4 pixels x 2 vectors: 2.75 instead of
 * 3.1 instructions per eight multiply-adds; the 32/16 .. 128/64 blocks 5-12 % faster alone,
 * measured; the 16/8 block's 16-channel projection was slower so, and keeps one). They need c
 * and m to be multiples of 8 (every block of the landmark network: c/m = 16/8 .. 128/64); otherwise
 * the plain C path runs whatever the cap. Each lane performs exactly the scalar path's
 * operations in its order (separate multiply and add statements: no contraction into fused
 * multiply-adds under ISO C's default), hence equal outputs. */
#include "nn/resblock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define RB_X86 1
#define RB_AVX2 __attribute__((target("avx2")))
#define RB_AVX512 __attribute__((target("avx512f,avx512vl")))
#endif

typedef void (*rb_expand_fn)(const nn_rb *r, const float *x, float *out);
typedef void (*rb_project_fn)(const nn_rb *r, const float *const rows[3], const float *x, float *y);

struct nn_rb {
  int h, w, c, m;
  nn_isa isa;
  float *wa_t; /* (c,m) */
  float *ba;   /* (m) */
  float *aa;   /* (m) */
  float *wd;   /* (3,3,m) */
  float *bd;   /* (m) */
  float *wb_t; /* (m,c) */
  float *bb;   /* (c) */
  float *ab;   /* (c) */
  float *ring; /* (3, w+2, m): expanded rows, zero first and last pixel */
  float *zrow; /* (w+2, m): zeros, the rows above and below the image */
  float *dbuf; /* (16, m): one pixel block's depthwise outputs (vector paths) */
  rb_expand_fn expand;
  rb_project_fn project;
};

/* ---- Plain C ---------------------------------------------------------------------------- */

static float prelu1(float v, float a) {
  return v >= 0 ? v : v * a;
}

/* out[1 + i] (m floats each) = PReLU(ba + x[i] . wa) for the w pixels of one row. */
static void expand_ref(const nn_rb *r, const float *x, float *out) {
  const int c = r->c, m = r->m;
  for (int i = 0; i < r->w; i++)
    for (int o = 0; o < m; o++) {
      float acc = r->ba[o];
      for (int k = 0; k < c; k++) {
        float t = x[(size_t)i * c + k] * r->wa_t[(size_t)k * m + o];
        acc = acc + t;
      }
      out[(size_t)(i + 1) * m + o] = prelu1(acc, r->aa[o]);
    }
}

/* y row = PReLU(x row + bb + dw(rows) . wb). */
static void project_ref(const nn_rb *r, const float *const rows[3], const float *x, float *y) {
  const int c = r->c, m = r->m;
  float d[NN_RB_MAX_CH];
  for (int i = 0; i < r->w; i++) {
    for (int o = 0; o < m; o++) {
      float acc = r->bd[o];
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
          float t = rows[ky][(size_t)(i + kx) * m + o] * r->wd[(ky * 3 + kx) * m + o];
          acc = acc + t;
        }
      d[o] = acc;
    }
    for (int o = 0; o < c; o++) {
      float acc = r->bb[o];
      for (int k = 0; k < m; k++) {
        float t = d[k] * r->wb_t[(size_t)k * c + o];
        acc = acc + t;
      }
      float f = x[(size_t)i * c + o] + acc;
      y[(size_t)i * c + o] = prelu1(f, r->ab[o]);
    }
  }
}

/* ---- Vectors of eight channels -------------------------------------------------------- */
#ifdef RB_X86

/* The helpers below take and return vectors; they are always inlined into the target functions,
 * so the ABI GCC warns about (a ymm argument without AVX in the generic caller) is never used. */
#pragma GCC diagnostic ignored "-Wpsabi" /* GCC and clang */

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

#define RB_INLINE static inline __attribute__((always_inline))
/* The pixel loops run a constant count after inlining: unrolled, their accumulators are
 * registers (rolled, GCC keeps the array in memory). */
#define RB_UNROLL _Pragma("GCC unroll 16")

RB_INLINE v8f ld8(const float *p) {
  v8f v;
  memcpy(&v, p, sizeof v);
  return v;
}

RB_INLINE void st8(float *p, v8f v) {
  memcpy(p, &v, sizeof v);
}

/* s in every lane (one vbroadcastss; a braced list of eight s compiles to eight inserts with
 * GCC 12). */
RB_INLINE v8f splat8(float s) {
#ifdef __clang__
  v8f v = {s};
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
#else
  return __builtin_shuffle((v8f){s}, (v8i){0});
#endif
}

/* v >= 0 ? v : v * a, lane by lane (a NaN gives v * a, a NaN, as prelu1). */
RB_INLINE v8f prelu8(v8f v, v8f a) {
  v8i ge = v >= (v8f){0};
  v8f n = v * a;
  return (v8f)((ge & (v8i)v) | (~ge & (v8i)n));
}

typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));

RB_INLINE v16f ld16(const float *p) {
  v16f v;
  memcpy(&v, p, sizeof v);
  return v;
}

RB_INLINE void st16(float *p, v16f v) {
  memcpy(p, &v, sizeof v);
}

RB_INLINE v16f splat16(float s) {
#ifdef __clang__
  v16f v = {s};
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
#else
  return __builtin_shuffle((v16f){s}, (v16i){0});
#endif
}

RB_INLINE v16f prelu16(v16f v, v16f a) {
  v16i ge = v >= (v16f){0};
  v16f n = v * a;
  return (v16f)((ge & (v16i)v) | (~ge & (v16i)n));
}

/* The pixel kernels at eight channels a vector (a ymm register: the AVX2 path, and AVX-512's
 * blocks of eight) and at sixteen (a zmm register: AVX-512, c and m multiples of 16, half the
 * broadcasts and instructions per multiply-add): one text, resblock_lanes.h, at each width. */
#define RB_W 8
#include "nn/resblock_lanes.h"
#undef RB_W
#define RB_W 16
#include "nn/resblock_lanes.h"
#undef RB_W

/* AVX2: eight channels a vector, and two vectors of output channels at once wherever the
 * outputs are a multiple of 16 (four pixels a block: 8 accumulators of the 16 ymm registers),
 * else one (eight pixels a block), for the landmark network's channel counts (c = 2m, m = 8 ..
 * 64, constants) and for any multiple of 8. */
#define RB_AVX2_BIG2 4
static RB_AVX2 void expand_avx2(const nn_rb *r, const float *x, float *out) {
  switch (r->c * 1024 + r->m) {
    case 16 * 1024 + 8: expand_row8(r, x, out, 8, 16, 8, 1); break;
    case 32 * 1024 + 16: expand_row8(r, x, out, RB_AVX2_BIG2, 32, 16, 2); break;
    case 64 * 1024 + 32: expand_row8(r, x, out, RB_AVX2_BIG2, 64, 32, 2); break;
    case 128 * 1024 + 64: expand_row8(r, x, out, RB_AVX2_BIG2, 128, 64, 2); break;
    default:
      if (r->m % 16 == 0)
        expand_row8(r, x, out, RB_AVX2_BIG2, r->c, r->m, 2);
      else
        expand_row8(r, x, out, 8, r->c, r->m, 1);
  }
}

static RB_AVX2 void project_avx2(const nn_rb *r, const float *const rows[3], const float *x,
                                 float *y) {
  switch (r->c * 1024 + r->m) {
    case 16 * 1024 + 8: project_row8(r, rows, x, y, 8, 16, 8, 1); break;
    case 32 * 1024 + 16: project_row8(r, rows, x, y, 8, 32, 16, 2); break;
    case 64 * 1024 + 32: project_row8(r, rows, x, y, 8, 64, 32, 2); break;
    case 128 * 1024 + 64: project_row8(r, rows, x, y, 8, 128, 64, 2); break;
    default:
      if (r->c % 16 == 0)
        project_row8(r, rows, x, y, 8, r->c, r->m, 2);
      else
        project_row8(r, rows, x, y, 8, r->c, r->m, 1);
  }
}

/* AVX-512: sixteen channels a vector where c and m allow it, else as AVX2 with 16 pixels. */
static RB_AVX512 void expand_avx512(const nn_rb *r, const float *x, float *out) {
  switch (r->c * 1024 + r->m) {
    case 16 * 1024 + 8: expand_row8(r, x, out, 16, 16, 8, 1); break;
    case 32 * 1024 + 16: expand_row16(r, x, out, 16, 32, 16, 1); break;
    case 64 * 1024 + 32: expand_row16(r, x, out, 16, 64, 32, 1); break;
    case 128 * 1024 + 64: expand_row16(r, x, out, 16, 128, 64, 1); break;
    default:
      if (r->c % 16 == 0 && r->m % 16 == 0)
        expand_row16(r, x, out, 16, r->c, r->m, 1);
      else
        expand_row8(r, x, out, 16, r->c, r->m, 1);
  }
}

static RB_AVX512 void project_avx512(const nn_rb *r, const float *const rows[3], const float *x,
                                     float *y) {
  switch (r->c * 1024 + r->m) {
    case 16 * 1024 + 8: project_row16(r, rows, x, y, 16, 16, 8, 1); break;
    case 32 * 1024 + 16: project_row16(r, rows, x, y, 16, 32, 16, 1); break;
    case 64 * 1024 + 32: project_row16(r, rows, x, y, 16, 64, 32, 1); break;
    case 128 * 1024 + 64: project_row16(r, rows, x, y, 16, 128, 64, 1); break;
    default:
      if (r->c % 16 == 0)
        project_row16(r, rows, x, y, 16, r->c, r->m, 1);
      else
        project_row8(r, rows, x, y, 16, r->c, r->m, 1);
  }
}

#endif

/* ---- Object ----------------------------------------------------------------------------- */

nn_isa nn_rb_isa(nn_isa cap) {
  switch (emo_isa_pick((emo_isa)cap)) {
    case EMO_ISA_AVX512: return NN_ISA_AVX512;
    case EMO_ISA_AVX2: return NN_ISA_AVX2;
    default: return NN_ISA_SCALAR;
  }
}

/* The path a block of c and m channels takes under cap: the vector ones need multiples of 8. */
static nn_isa shape_isa(int64_t c, int64_t m, nn_isa cap) {
  return c % 8 == 0 && m % 8 == 0 ? nn_rb_isa(cap) : NN_ISA_SCALAR;
}

nn_isa nn_rb_path(const nn_rb *r) {
  return r ? r->isa : NN_ISA_SCALAR;
}

void nn_rb_destroy(nn_rb **pr) {
  if (!pr || !*pr) return;
  nn_rb *r = *pr;
  free(r->wa_t);
  free(r->ring);
  free(r);
  *pr = NULL;
}

int nn_rb_create(const nn_rb_desc *d, nn_isa cap, nn_rb **out, emoi_err *err) {
  *out = NULL;
  if (!d || d->h < 1 || d->w < 1 || d->c < 1 || d->m < 1 || d->c > NN_RB_MAX_CH ||
      d->m > NN_RB_MAX_CH || d->w > (1 << 20) || !d->wa || !d->alpha_a || !d->wd || !d->wb ||
      !d->alpha_b)
    return emoi_fail(err, EMO_EINVAL, "resblock: bad shape or missing weights");
  nn_rb *r = calloc(1, sizeof *r);
  if (!r) return emoi_fail(err, EMO_ENOMEM, "resblock: out of memory");
  const size_t c = (size_t)d->c, m = (size_t)d->m, w2 = (size_t)d->w + 2;
  /* one allocation for the weights, one for the rows */
  size_t nw = c * m + m + m + 9 * m + m + m * c + c + c;
  r->wa_t = malloc(nw * sizeof(float));
  r->ring = calloc(4 * w2 * m + 16 * m, sizeof(float));
  if (!r->wa_t || !r->ring) {
    nn_rb_destroy(&r);
    return emoi_fail(err, EMO_ENOMEM, "resblock: out of memory");
  }
  r->h = d->h, r->w = d->w, r->c = d->c, r->m = d->m;
  r->ba = r->wa_t + c * m;
  r->aa = r->ba + m;
  r->wd = r->aa + m;
  r->bd = r->wd + 9 * m;
  r->wb_t = r->bd + m;
  r->bb = r->wb_t + m * c;
  r->ab = r->bb + c;
  r->zrow = r->ring + 3 * w2 * m;
  r->dbuf = r->zrow + w2 * m;
  for (size_t o = 0; o < m; o++)
    for (size_t k = 0; k < c; k++) r->wa_t[k * m + o] = d->wa[o * c + k];
  for (size_t o = 0; o < c; o++)
    for (size_t k = 0; k < m; k++) r->wb_t[k * c + o] = d->wb[o * m + k];
  for (size_t o = 0; o < m; o++) {
    r->ba[o] = d->ba ? d->ba[o] : 0.0f;
    r->bd[o] = d->bd ? d->bd[o] : 0.0f;
    r->aa[o] = d->alpha_a[o];
  }
  memcpy(r->wd, d->wd, 9 * m * sizeof(float));
  for (size_t o = 0; o < c; o++) {
    r->bb[o] = d->bb ? d->bb[o] : 0.0f;
    r->ab[o] = d->alpha_b[o];
  }
  r->isa = shape_isa(d->c, d->m, cap);
  r->expand = expand_ref;
  r->project = project_ref;
#ifdef RB_X86
  if (r->isa == NN_ISA_AVX512) {
    r->expand = expand_avx512;
    r->project = project_avx512;
  } else if (r->isa == NN_ISA_AVX2) {
    r->expand = expand_avx2;
    r->project = project_avx2;
  }
#endif
  *out = r;
  return EMO_OK;
}

void nn_rb_run(nn_rb *r, const float *x, float *y) {
  const size_t rs = (size_t)(r->w + 2) * (size_t)r->m, xs = (size_t)r->w * (size_t)r->c;
  float *slot[3] = {r->ring, r->ring + rs, r->ring + 2 * rs};
  r->expand(r, x, slot[0]);
  for (int yy = 0; yy < r->h; yy++) {
    if (yy + 1 < r->h) r->expand(r, x + (size_t)(yy + 1) * xs, slot[(yy + 1) % 3]);
    const float *rows[3] = {yy > 0 ? slot[(yy + 2) % 3] : r->zrow, slot[yy % 3],
                            yy + 1 < r->h ? slot[(yy + 1) % 3] : r->zrow};
    r->project(r, rows, x + (size_t)yy * xs, y + (size_t)yy * xs);
  }
}

/* ---- Graph nodes ------------------------------------------------------------------------ */

/* Number of nodes of g that read value v (counting each input slot). */
static int readers(const nn_graph *g, int v) {
  int n = 0;
  for (int k = 0; k < g->n_nodes; k++)
    for (int j = 0; j < g->nodes[k].n_in; j++) n += g->nodes[k].in[j] == v;
  for (int i = 0; i < g->n_outputs; i++) n += g->outputs[i] == v ? 2 : 0;
  return n;
}

static int no_clamp(const nn_node *n) {
  return isinf(n->attr.act_min) && n->attr.act_min < 0 && isinf(n->attr.act_max) &&
         n->attr.act_max > 0;
}

/* A constant float32 value of n elements whose last dimension is n (or absent: ok when
 * optional), i.e. one per channel of the last axis. */
static int per_channel(const nn_graph *g, const nn_node *n, int slot, int64_t ch, int optional) {
  if (slot >= n->n_in || n->in[slot] < 0) return optional;
  const nn_value *v = &g->values[n->in[slot]];
  return v->is_const && v->dtype == NN_F32 && nn_value_numel(v) == ch && v->rank >= 1 &&
         v->shape[v->rank - 1] == ch;
}

/* A 1x1 stride-1 unpadded CONV2D from ci to co channels with constant weights and bias and no
 * clamp, reading value in. */
static int conv1x1(const nn_graph *g, const nn_node *n, int in, int64_t ci, int64_t co) {
  if (n->op != NN_OP_CONV2D || n->n_in < 2 || n->in[0] != in || n->in[1] < 0 || !no_clamp(n))
    return 0;
  const nn_attr *a = &n->attr;
  if (a->stride_h != 1 || a->stride_w != 1 || a->pad_top || a->pad_bottom || a->pad_left ||
      a->pad_right)
    return 0;
  const nn_value *w = &g->values[n->in[1]];
  return w->is_const && w->dtype == NN_F32 && w->rank == 4 && w->shape[0] == co &&
         w->shape[1] == 1 && w->shape[2] == 1 && w->shape[3] == ci && per_channel(g, n, 2, co, 1);
}

static int prelu(const nn_graph *g, const nn_node *n, int in, int64_t ch) {
  return n->op == NN_OP_PRELU && n->n_in == 2 && n->in[0] == in && per_channel(g, n, 1, ch, 0);
}

int nn_rb_node_eligible(const nn_graph *g, int k) {
  if (!g || !g->finalized || k < 0 || k + NN_RB_NODES > g->n_nodes) return 0;
  const nn_node *n = &g->nodes[k];
  if (n->op != NN_OP_CONV2D || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0 || n->n_out != 1)
    return 0;
  const int xv = n->in[0];
  const nn_value *x = &g->values[xv];
  if (x->is_const || x->dtype != NN_F32 || x->rank != 4 || x->shape[0] != 1) return 0;
  const int64_t h = x->shape[1], w = x->shape[2], c = x->shape[3];
  const int64_t m = g->values[n->in[1]].shape[0];
  if (h < 1 || w < 1 || c < 1 || c > NN_RB_MAX_CH || m < 1 || m > NN_RB_MAX_CH) return 0;
  const nn_node *pa = &g->nodes[k + 1], *dw = &g->nodes[k + 2], *cb = &g->nodes[k + 3],
                *ad = &g->nodes[k + 4], *pb = &g->nodes[k + 5];
  if (!conv1x1(g, n, xv, c, m) || !prelu(g, pa, n->out[0], m)) return 0;
  /* the depthwise 3x3 */
  if (dw->op != NN_OP_DEPTHWISE_CONV2D || dw->n_in < 2 || dw->in[0] != pa->out[0] ||
      dw->in[1] < 0 || !no_clamp(dw))
    return 0;
  const nn_attr *da = &dw->attr;
  const nn_value *wd = &g->values[dw->in[1]];
  if (da->stride_h != 1 || da->stride_w != 1 || da->dilation_h != 1 || da->dilation_w != 1 ||
      da->pad_top != 1 || da->pad_bottom != 1 || da->pad_left != 1 || da->pad_right != 1 ||
      !wd->is_const || wd->dtype != NN_F32 || wd->rank != 4 || wd->shape[0] != 1 ||
      wd->shape[1] != 3 || wd->shape[2] != 3 || wd->shape[3] != m || !per_channel(g, dw, 2, m, 1))
    return 0;
  if (!conv1x1(g, cb, dw->out[0], m, c)) return 0;
  /* the residual add: the block input and the projection, same shapes */
  if (ad->op != NN_OP_ADD || ad->n_in != 2 || !no_clamp(ad) ||
      !((ad->in[0] == xv && ad->in[1] == cb->out[0]) ||
        (ad->in[1] == xv && ad->in[0] == cb->out[0])))
    return 0;
  const nn_value *e = &g->values[cb->out[0]], *y = &g->values[pb->out[0]];
  if (e->rank != 4 || y->rank != 4) return 0;
  for (int d = 0; d < 4; d++)
    if (e->shape[d] != x->shape[d] || y->shape[d] != x->shape[d]) return 0;
  if (!prelu(g, pb, ad->out[0], c)) return 0;
  /* the intermediate values belong to the block */
  const int mid[5] = {n->out[0], pa->out[0], dw->out[0], cb->out[0], ad->out[0]};
  for (int i = 0; i < 5; i++)
    if (readers(g, mid[i]) != 1) return 0;
  return 1;
}

nn_isa nn_rb_node_isa(const nn_graph *g, int k, nn_isa cap) {
  const nn_value *w = &g->values[g->nodes[k].in[1]]; /* (m,1,1,c) */
  return shape_isa(w->shape[3], w->shape[0], cap);
}

int nn_rb_create_node(const nn_graph *g, int k, nn_isa cap, nn_rb **out, emoi_err *err) {
  if (!nn_rb_node_eligible(g, k))
    return emoi_fail(err, EMO_EINVAL, "resblock: nodes %d.. are not a residual block", k);
  const nn_node *n = &g->nodes[k], *pa = &g->nodes[k + 1], *dw = &g->nodes[k + 2],
                *cb = &g->nodes[k + 3], *pb = &g->nodes[k + 5];
  const nn_value *x = &g->values[n->in[0]];
  nn_rb_desc d;
  d.h = (int)x->shape[1];
  d.w = (int)x->shape[2];
  d.c = (int)x->shape[3];
  d.m = (int)g->values[n->in[1]].shape[0];
  d.wa = nn_graph_const_data(g, n->in[1]);
  d.ba = n->n_in > 2 && n->in[2] >= 0 ? nn_graph_const_data(g, n->in[2]) : NULL;
  d.alpha_a = nn_graph_const_data(g, pa->in[1]);
  d.wd = nn_graph_const_data(g, dw->in[1]);
  d.bd = dw->n_in > 2 && dw->in[2] >= 0 ? nn_graph_const_data(g, dw->in[2]) : NULL;
  d.wb = nn_graph_const_data(g, cb->in[1]);
  d.bb = cb->n_in > 2 && cb->in[2] >= 0 ? nn_graph_const_data(g, cb->in[2]) : NULL;
  d.alpha_b = nn_graph_const_data(g, pb->in[1]);
  return nn_rb_create(&d, cap, out, err);
}
