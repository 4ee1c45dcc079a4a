/* asd.c: LR-ASD in emo's engine (contract in asd.h): the checkpoint's weights (BatchNorm folded
 * in), the forward pass, upstream's face crop and the per-track sliding-window stream.
 *
 * Layout: activations are channel-last. The visual encoder works on (T, H, W, C): its spatial
 * convolutions (kernel 1 x k x k) are an im2col of a few frames at a time and one cblas_sgemm
 * (nn_dense_gemm) per batch; its temporal ones (k x 1 x 1) need no im2col at all: with frames
 * stored one after another, tap j of output frame t reads input frame t + j - pad, so the conv is
 * k products of contiguous (frames x H*W, Ci) blocks accumulating into the output (beta = 1),
 * each restricted to the frames whose tap lands inside the window (zero padding). The audio
 * encoder works on (Ta, 13 + 4, C): 2 zero rows of padding around the 13 MFCC rows of each time
 * step make the frequency convolutions (k x 1) taps over rows too, and the time convolutions
 * (1 x k) taps over time steps of 17 rows; the padding rows are cleared after each layer.
 * Weights are permuted at load: spatial (Co, Ci, 1, k, k) -> (Co, k, k, Ci); taps (Co, Ci, k) ->
 * (k, Co, Ci). Eval BatchNorm y = (x - mean) / sqrt(var + eps) g + b is folded into the preceding
 * conv's weights (scale) and a bias (shift), computed in double; eps = 0.001 as upstream sets.
 * The GRUs' input projections are one product each; the recurrences are plain loops (64 units).
 * asd_work_set_int8 moves the visual encoder's 12 convs onto nn/qconv.h (1.35x less CPU for a 2 s
 * window on an AVX2 machine: 259 against 349 ms; test_asd bounds its logits). */
#include "av/asd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/mfcc.h"
#include "nn/qconv.h"
#include "nn/sgemm.h"
#include "nn/torch_ckpt.h"

#define BN_EPS 1e-3
#define HP (MFCC_NCEP + 4) /* audio rows per time step: 13 + 2 padding rows on each side */
#define PADF 2
#define EMB 128
#define GRU_H 64
#define COL_FLOATS                                                                         \
  (784 * 800) /* the largest im2col of one frame (block 2's 5x5 conv); also holds the int8 \
                 path's padded frame or 5 input frames of a temporal conv (5 x 3136 x 32) */

typedef struct conv {
  int co, ci, k, stride, pad;
  float *w; /* spatial (co, k, k, ci); taps (k, co, ci) */
  float *b; /* (co) */
} conv;

typedef struct vblock {
  conv s1, s2, t1, t2;
} vblock;
typedef struct ablock {
  conv m1, m2, t1, t2;
} ablock;

typedef struct fusion {
  int c;
  float *w; /* (c, c), BatchNorm scale folded into the rows */
  float *b; /* (c) BatchNorm shift */
} fusion;

typedef struct gru {
  float *wih, *bih; /* (192, in), (192): gates r, z, n */
  float *whh, *bhh; /* (192, 64), (192) */
  int in;
} gru;

struct asd_model {
  vblock v[3];
  ablock a[3];
  fusion f1, f2;
  gru gf, gb;
  float *fc_w, *fc_b; /* (2, 128), (2) */
  float *arena;
};

struct asd_work {
  int max_ticks;
  /* NN_DENSE_FAST's visual convolutions: [block][s1, s2, t1, t2] on nn/sgemm.h, weights packed
   * here (per work, so the isa cap is the work's), bias and ReLU fused; the temporal ones as
   * products of an im2col over time, K = k * ci, its taps (k, ci) side by side. */
  nn_sgemm *vg[3][4];
  /* asd_work_set_int8: the same convs on nn/qconv.h, one frame a run (spatial: the frame padded
   * into col; temporal: the k input frames, read in place or, at the window's edges, copied into
   * col beside zero frames), NULL while off */
  nn_qconv *vq[3][4];
  nn_isa isa;
  float *A, *B;   /* (T, 56*56*32) ping-pong visual activations */
  float *col;     /* COL_FLOATS */
  float *P, *Q;   /* (4T * HP, 128) audio activations */
  float *x;       /* (T, 256) fused */
  float *g1, *g2; /* (T, 192) GRU input projections */
  float *h;       /* (T, 128) GRU outputs, forward | backward */
  float *tmp;     /* (T, 256) attention */
  float *arena;
};

/* ================================================================ loading */

typedef struct loader {
  const pt_file *f;
  const char *label;
  emoi_err *err;
  float *arena; /* NULL while counting */
  size_t used;
} loader;

static float *take(loader *L, size_t n) {
  float *p = L->arena ? L->arena + L->used : NULL;
  L->used += (n + 15) & ~(size_t)15;
  return p;
}

static float *get(loader *L, const char *name, int rank, const int64_t *shape) {
  return pt_get_f32(L->f, name, rank, shape, L->err);
}

/* BatchNorm named pre.{weight,bias,running_mean,running_var} (c) into scale/shift. */
static int bn(loader *L, const char *pre, int c, double *scale, double *shift) {
  char n[160];
  int64_t sh[1] = {c};
  const char *part[4] = {"weight", "bias", "running_mean", "running_var"};
  float *t[4] = {NULL, NULL, NULL, NULL};
  int rc = 0;
  for (int i = 0; i < 4 && !rc; i++) {
    snprintf(n, sizeof n, "%s.%s", pre, part[i]);
    if (!(t[i] = get(L, n, 1, sh))) rc = EMO_EMODEL;
  }
  for (int i = 0; i < c && !rc; i++) {
    if (!(t[3][i] >= 0) || !isfinite(t[3][i]) || !isfinite(t[0][i]) || !isfinite(t[1][i]) ||
        !isfinite(t[2][i]))
      rc = emoi_fail(L->err, EMO_EMODEL, "%s: non-finite or negative statistics", pre);
    else {
      scale[i] = t[0][i] / sqrt((double)t[3][i] + BN_EPS);
      shift[i] = t[1][i] - t[2][i] * scale[i];
    }
  }
  for (int i = 0; i < 4; i++) free(t[i]);
  return rc ? (rc == EMO_EMODEL && !L->err->msg[0] ? EMO_EMODEL : rc) : 0;
}

/* A conv named pre (weight (co, ci, kd, kh, kw) with the kernel along `axis` of the trailing
 * rank-2 dims) followed by BatchNorm bnpre. spatial: (co, ci, 1, k, k); otherwise a 1-D kernel of
 * k taps stored as (co, ci, k, 1[, 1]) or (co, ci, 1, k). */
static int load_conv(loader *L, conv *c, const char *pre, const char *bnpre, int rank,
                     const int64_t *shape, int spatial, int co, int ci, int k, int stride,
                     int pad) {
  c->co = co;
  c->ci = ci;
  c->k = k;
  c->stride = stride;
  c->pad = pad;
  size_t nw = (size_t)co * ci * k * (spatial ? k : 1);
  c->w = take(L, nw);
  c->b = take(L, (size_t)co);
  if (!L->arena) return 0;
  char n[160];
  snprintf(n, sizeof n, "%s.weight", pre);
  float *w = get(L, n, rank, shape);
  double *sc = malloc(sizeof(double) * 2 * (size_t)co);
  if (!w || !sc) {
    free(w);
    free(sc);
    return w ? emoi_fail(L->err, EMO_ENOMEM, "out of memory") : EMO_EMODEL;
  }
  int rc = bn(L, bnpre, co, sc, sc + co);
  if (!rc) {
    for (int o = 0; o < co; o++) {
      c->b[o] = (float)sc[co + o];
      for (int i = 0; i < ci; i++)
        for (int j = 0; j < (spatial ? k * k : k); j++) {
          double v = w[((size_t)o * ci + i) * (spatial ? k * k : k) + j] * sc[o];
          if (spatial) /* (co, ky, kx, ci) */
            c->w[((size_t)o * k * k + j) * ci + i] = (float)v;
          else /* (k, co, ci) */
            c->w[((size_t)j * co + o) * ci + i] = (float)v;
        }
    }
  }
  free(w);
  free(sc);
  return rc;
}

static int load_fusion(loader *L, fusion *f, const char *pre, int c) {
  f->c = c;
  f->w = take(L, (size_t)c * c);
  f->b = take(L, (size_t)c);
  if (!L->arena) return 0;
  char n[160], b[160];
  snprintf(n, sizeof n, "%s.attention.weight", pre);
  snprintf(b, sizeof b, "%s.bn", pre);
  int64_t sh[3] = {c, c, 1};
  float *w = get(L, n, 3, sh);
  double *sc = malloc(sizeof(double) * 2 * (size_t)c);
  if (!w || !sc) {
    free(w);
    free(sc);
    return w ? emoi_fail(L->err, EMO_ENOMEM, "out of memory") : EMO_EMODEL;
  }
  int rc = bn(L, b, c, sc, sc + c);
  for (int o = 0; o < c && !rc; o++) {
    f->b[o] = (float)sc[c + o];
    for (int i = 0; i < c; i++) f->w[(size_t)o * c + i] = (float)(w[(size_t)o * c + i] * sc[o]);
  }
  free(w);
  free(sc);
  return rc;
}

static int copy_to(loader *L, float *dst, const char *name, int rank, const int64_t *shape,
                   size_t n) {
  float *t = get(L, name, rank, shape);
  if (!t) return EMO_EMODEL;
  int ok = 1;
  for (size_t i = 0; i < n; i++) ok &= isfinite(t[i]) != 0;
  memcpy(dst, t, n * sizeof(float));
  free(t);
  return ok ? 0 : emoi_fail(L->err, EMO_EMODEL, "tensor '%s' has non-finite values", name);
}

static int load_gru(loader *L, gru *g, const char *pre, int in) {
  g->in = in;
  g->wih = take(L, (size_t)3 * GRU_H * in);
  g->bih = take(L, 3 * GRU_H);
  g->whh = take(L, (size_t)3 * GRU_H * GRU_H);
  g->bhh = take(L, 3 * GRU_H);
  if (!L->arena) return 0;
  char n[160];
  int64_t s1[2] = {3 * GRU_H, in}, s2[2] = {3 * GRU_H, GRU_H}, s3[1] = {3 * GRU_H};
  int rc;
  snprintf(n, sizeof n, "%s.weight_ih_l0", pre);
  if ((rc = copy_to(L, g->wih, n, 2, s1, (size_t)3 * GRU_H * in))) return rc;
  snprintf(n, sizeof n, "%s.weight_hh_l0", pre);
  if ((rc = copy_to(L, g->whh, n, 2, s2, (size_t)3 * GRU_H * GRU_H))) return rc;
  snprintf(n, sizeof n, "%s.bias_ih_l0", pre);
  if ((rc = copy_to(L, g->bih, n, 1, s3, 3 * GRU_H))) return rc;
  snprintf(n, sizeof n, "%s.bias_hh_l0", pre);
  return copy_to(L, g->bhh, n, 1, s3, 3 * GRU_H);
}

static int load_all(loader *L, asd_model *m) {
  static const int vch[3][2] = {{1, 32}, {32, 64}, {64, 128}};
  char p[160], q[160];
  int rc;
  for (int b = 0; b < 3; b++) {
    int ci = vch[b][0], co = vch[b][1], h = co / 2;
    vblock *v = &m->v[b];
    int64_t s1[5] = {h, ci, 1, 5, 5}, s2[5] = {co, h, 1, 3, 3};
    int64_t t1[5] = {co, co, 5, 1, 1}, t2[5] = {co, co, 3, 1, 1};
#define VP(x) (snprintf(p, sizeof p, "model.visualEncoder.block%d.%s", b + 1, x), p)
#define VQ(x) (snprintf(q, sizeof q, "model.visualEncoder.block%d.%s", b + 1, x), q)
    if ((rc = load_conv(L, &v->s1, VP("s_1"), VQ("s_norm_1"), 5, s1, 1, h, ci, 5, b ? 1 : 2, 2)) ||
        (rc = load_conv(L, &v->s2, VP("s_2"), VQ("s_norm_2"), 5, s2, 1, co, h, 3, 1, 1)) ||
        (rc = load_conv(L, &v->t1, VP("t_1"), VQ("t_norm_1"), 5, t1, 0, co, co, 5, 1, 2)) ||
        (rc = load_conv(L, &v->t2, VP("t_2"), VQ("t_norm_2"), 5, t2, 0, co, co, 3, 1, 1)))
      return rc;
#undef VP
#undef VQ
    ablock *a = &m->a[b];
    int64_t m1[4] = {h, ci, 5, 1}, m2[4] = {co, h, 3, 1};
    int64_t u1[4] = {co, co, 1, 5}, u2[4] = {co, co, 1, 3};
#define AP(x) (snprintf(p, sizeof p, "model.audioEncoder.block%d.%s", b + 1, x), p)
#define AQ(x) (snprintf(q, sizeof q, "model.audioEncoder.block%d.%s", b + 1, x), q)
    if ((rc = load_conv(L, &a->m1, AP("m_1"), AQ("m_norm_1"), 4, m1, 0, h, ci, 5, 1, 2)) ||
        (rc = load_conv(L, &a->m2, AP("m_2"), AQ("m_norm_2"), 4, m2, 0, co, h, 3, 1, 1)) ||
        (rc = load_conv(L, &a->t1, AP("t_1"), AQ("t_norm_1"), 4, u1, 0, co, co, 5, 1, 2)) ||
        (rc = load_conv(L, &a->t2, AP("t_2"), AQ("t_norm_2"), 4, u2, 0, co, co, 3, 1, 1)))
      return rc;
#undef AP
#undef AQ
  }
  if ((rc = load_fusion(L, &m->f1, "model.fusion", 2 * EMB)) ||
      (rc = load_fusion(L, &m->f2, "model.detector.attention", EMB)) ||
      (rc = load_gru(L, &m->gf, "model.detector.gru_forward", 2 * EMB)) ||
      (rc = load_gru(L, &m->gb, "model.detector.gru_backward", 2 * EMB)))
    return rc;
  m->fc_w = take(L, 2 * EMB);
  m->fc_b = take(L, 2);
  if (!L->arena) return 0;
  int64_t fw[2] = {2, EMB}, fb[1] = {2};
  if ((rc = copy_to(L, m->fc_w, "lossAV.FC.weight", 2, fw, 2 * EMB)) ||
      (rc = copy_to(L, m->fc_b, "lossAV.FC.bias", 1, fb, 2)))
    return rc;
  return 0;
}

static int load_from(const pt_file *f, const char *label, asd_model **out, emoi_err *err) {
  asd_model *m = calloc(1, sizeof *m);
  if (!m) return emoi_fail(err, EMO_ENOMEM, "out of memory");
  err->msg[0] = '\0';
  loader L = {f, label, err, NULL, 0};
  load_all(&L, m); /* counting pass */
  size_t n = L.used;
  m->arena = aligned_alloc(64, n * sizeof(float));
  if (!m->arena) {
    free(m);
    return emoi_fail(err, EMO_ENOMEM, "out of memory for %zu weights", n);
  }
  L.arena = m->arena;
  L.used = 0;
  int rc = load_all(&L, m);
  if (rc) {
    emoi_err_prefix(err, label);
    asd_free(&m);
    return rc;
  }
  *out = m;
  return EMO_OK;
}

int asd_load_memory(const uint8_t *data, size_t size, const char *label, asd_model **out,
                    emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "asd_load: NULL out");
  *out = NULL;
  pt_file *f = NULL;
  int rc = pt_open_memory(data, size, label ? label : "LR-ASD checkpoint", &f, err);
  if (rc) return rc;
  rc = load_from(f, label ? label : "LR-ASD checkpoint", out, err);
  pt_close(&f);
  return rc;
}

int asd_load(const char *path, asd_model **out, emoi_err *err) {
  if (!out || !path) return emoi_fail(err, EMO_EINVAL, "asd_load: NULL argument");
  *out = NULL;
  pt_file *f = NULL;
  int rc = pt_open_file(path, ASD_MAX_FILE_BYTES, &f, err);
  if (rc) return rc;
  rc = load_from(f, path, out, err);
  pt_close(&f);
  return rc;
}

void asd_free(asd_model **m) {
  if (!m || !*m) return;
  free((*m)->arena);
  free(*m);
  *m = NULL;
}

/* ================================================================ scratch */

/* The products of the visual convs for NN_DENSE_FAST (see asd_work). */
static int make_gemms(const asd_model *m, nn_isa isa, asd_work *w, emoi_err *err) {
  for (int b = 0; b < 3; b++) {
    const vblock *v = &m->v[b];
    const conv *cs[4] = {&v->s1, &v->s2, &v->t1, &v->t2};
    for (int i = 0; i < 4; i++) {
      const conv *c = cs[i];
      size_t K = (size_t)c->k * (i < 2 ? c->k : 1) * c->ci;
      float *wt = NULL;
      const float *wp = c->w; /* spatial: (co, k, k, ci) already */
      if (i >= 2) {           /* taps (k, co, ci) -> (co, k, ci) */
        wt = malloc(K * (size_t)c->co * sizeof *wt);
        if (!wt) return emoi_fail(err, EMO_ENOMEM, "asd: out of memory for the packed weights");
        for (int o = 0; o < c->co; o++)
          for (int j = 0; j < c->k; j++)
            memcpy(wt + ((size_t)o * c->k + j) * c->ci, c->w + ((size_t)j * c->co + o) * c->ci,
                   (size_t)c->ci * sizeof *wt);
        wp = wt;
      }
      int rc = nn_sgemm_create(c->co, (int)K, wp, K, c->b, 0.0f, INFINITY, isa, &w->vg[b][i], err);
      free(wt);
      if (rc != EMO_OK) return rc;
    }
  }
  return EMO_OK;
}

int asd_work_new(const asd_model *m, int max_ticks, nn_isa isa, asd_work **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "asd_work_new: NULL out");
  *out = NULL;
  if (!m || max_ticks < 1 || max_ticks > ASD_MAX_WINDOW)
    return emoi_fail(err, EMO_EINVAL, "asd_work_new: max_ticks %d outside 1..%d", max_ticks,
                     ASD_MAX_WINDOW);
  size_t T = (size_t)max_ticks, sz[9];
  sz[0] = sz[1] = T * 56 * 56 * 32;
  sz[2] = COL_FLOATS;
  sz[3] = sz[4] = 4 * T * HP * EMB;
  sz[5] = T * 2 * EMB;
  sz[6] = sz[7] = T * 3 * GRU_H;
  sz[8] = T * 2 * EMB;
  size_t total = 0;
  for (int i = 0; i < 9; i++) total += (sz[i] + 15) & ~(size_t)15;
  total += 16; /* tmp: (T, 256) after h */
  total += (T * 2 * EMB + 15) & ~(size_t)15;
  asd_work *w = calloc(1, sizeof *w);
  float *a = w ? aligned_alloc(64, total * sizeof(float)) : NULL;
  if (!a) {
    free(w);
    return emoi_fail(err, EMO_ENOMEM, "asd: out of memory for %zu MB of scratch",
                     total * sizeof(float) >> 20);
  }
  w->arena = a;
  w->max_ticks = max_ticks;
  w->isa = isa;
  int rc = make_gemms(m, isa, w, err);
  if (rc != EMO_OK) {
    asd_work_free(&w);
    return rc;
  }
  float **dst[10] = {&w->A, &w->B, &w->col, &w->P, &w->Q, &w->x, &w->g1, &w->g2, &w->h, &w->tmp};
  size_t at = 0;
  for (int i = 0; i < 10; i++) {
    *dst[i] = a + at;
    at += ((i < 9 ? sz[i] : T * 2 * EMB) + 15) & ~(size_t)15;
  }
  *out = w;
  return EMO_OK;
}

/* Weights of conv c as (co, kh, kw, ci) for nn_qconv_create: spatial ones are already; taps
 * (k, co, ci) are transposed into tmp. */
static const float *co_major(const conv *c, int spatial, float *tmp) {
  if (spatial) return c->w;
  for (int o = 0; o < c->co; o++)
    for (int j = 0; j < c->k; j++)
      memcpy(tmp + ((size_t)o * c->k + j) * c->ci, c->w + ((size_t)j * c->co + o) * c->ci,
             (size_t)c->ci * sizeof *tmp);
  return tmp;
}

int asd_work_set_int8(const asd_model *m, asd_work *w, int on, emoi_err *err) {
  if (!m || !w) return emoi_fail(err, EMO_EINVAL, "asd_work_set_int8: NULL argument");
  for (int b = 0; b < 3; b++)
    for (int i = 0; i < 4; i++) nn_qconv_destroy(&w->vq[b][i]);
  if (!on) return EMO_OK;
  float *tmp = malloc((size_t)128 * 5 * 128 * sizeof *tmp); /* the largest taps conv */
  if (!tmp) return emoi_fail(err, EMO_ENOMEM, "asd: out of memory for the int8 weights");
  int S = ASD_CROP, rc = EMO_OK; /* input side of the block */
  for (int b = 0; b < 3 && rc == EMO_OK; b++) {
    const vblock *v = &m->v[b];
    const conv *cs[4] = {&v->s1, &v->s2, &v->t1, &v->t2};
    int side = S, R = 0;
    for (int i = 0; i < 4 && rc == EMO_OK; i++) {
      const conv *c = cs[i];
      nn_qconv_desc d = {0};
      d.n = 1;
      d.ci = c->ci;
      d.co = c->co;
      d.stride_h = d.stride_w = c->stride;
      d.act_min = 0.0f;
      d.act_max = INFINITY;
      d.isa = w->isa;
      if (i < 2) { /* the frame padded by c->pad on each side */
        d.h = d.w = side + 2 * c->pad;
        d.kh = d.kw = c->k;
        d.ho = d.wo = (d.h - c->k) / c->stride + 1;
        side = d.ho;
        R = side * side;
      } else { /* k frames of R pixels -> one frame */
        d.h = c->k;
        d.w = R;
        d.kh = c->k;
        d.kw = 1;
        d.ho = 1;
        d.wo = R;
      }
      rc = nn_qconv_create(&d, co_major(c, i < 2, tmp), c->b, &w->vq[b][i], err);
    }
    S = (side - 1) / 2 + 1; /* the max pool */
  }
  free(tmp);
  if (rc != EMO_OK)
    for (int b = 0; b < 3; b++)
      for (int i = 0; i < 4; i++) nn_qconv_destroy(&w->vq[b][i]);
  return rc;
}

void asd_work_free(asd_work **w) {
  if (!w || !*w) return;
  for (int b = 0; b < 3; b++)
    for (int i = 0; i < 4; i++) {
      nn_sgemm_destroy(&(*w)->vg[b][i]);
      nn_qconv_destroy(&(*w)->vq[b][i]);
    }
  free((*w)->arena);
  free(*w);
  *w = NULL;
}

/* ================================================================ forward */

static void relu(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void set_bias(float *y, size_t rows, int co, const float *b) {
  for (size_t r = 0; r < rows; r++) memcpy(y + r * (size_t)co, b, (size_t)co * sizeof(float));
}

/* Spatial conv + bias + ReLU over T frames of (H, W, ci) -> (Ho, Wo, co). */
static void spatial(nn_dense_path path, const conv *c, const nn_sgemm *g, const float *x, int T,
                    int H, int W, float *y, float *col, int *Ho_out, int *Wo_out) {
  int k = c->k, s = c->stride, p = c->pad, ci = c->ci;
  int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  size_t K = (size_t)k * k * ci, per = (size_t)Ho * Wo * K;
  int nf = (int)(COL_FLOATS / per);
  if (nf < 1) nf = 1;
  for (int t0 = 0; t0 < T; t0 += nf) {
    int n = T - t0 < nf ? T - t0 : nf;
    for (int f = 0; f < n; f++) {
      const float *xf = x + (size_t)(t0 + f) * H * W * ci;
      float *cf = col + (size_t)f * per;
      for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
          float *row = cf + ((size_t)oy * Wo + ox) * K;
          for (int ky = 0; ky < k; ky++) {
            int iy = oy * s - p + ky;
            for (int kx = 0; kx < k; kx++) {
              int ix = ox * s - p + kx;
              float *dst = row + ((size_t)ky * k + kx) * ci;
              int out = iy < 0 || iy >= H || ix < 0 || ix >= W;
              if (ci == 1) /* block 1's gray input: a call per value would cost more than it */
                *dst = out ? 0.0f : xf[(size_t)iy * W + ix];
              else if (out)
                memset(dst, 0, (size_t)ci * sizeof(float));
              else
                memcpy(dst, xf + ((size_t)iy * W + ix) * ci, (size_t)ci * sizeof(float));
            }
          }
        }
    }
    size_t rows = (size_t)n * Ho * Wo;
    float *yo = y + (size_t)t0 * Ho * Wo * c->co;
    if (path == NN_DENSE_FAST) {
      nn_sgemm_run(g, (int)rows, col, K, yo, (size_t)c->co, NULL);
      continue;
    }
    set_bias(yo, rows, c->co, c->b);
    nn_dense_gemm(path, 1, (int)rows, c->co, (int)K, col, (int)K, c->w, (int)K, 1.0f, yo, c->co);
    relu(yo, rows * (size_t)c->co);
  }
  *Ho_out = Ho;
  *Wo_out = Wo;
}

/* Taps conv + bias + ReLU: y[t] (R rows of co) = sum_j x[t + j - pad] (R rows of ci) W_j^T over
 * steps t in [lo, hi) of a sequence of n steps; x rows outside [0, n) steps are zero padding. */
static void taps(nn_dense_path path, const conv *c, const float *x, int n, int R, float *y, int lo,
                 int hi) {
  size_t rs = (size_t)R;
  set_bias(y + (size_t)lo * rs * c->co, (size_t)(hi - lo) * rs, c->co, c->b);
  for (int j = 0; j < c->k; j++) {
    int sh = j - c->pad;
    int a = lo > -sh ? lo : -sh, b = hi < n - sh ? hi : n - sh;
    if (a >= b) continue;
    nn_dense_gemm(path, 1, (int)((size_t)(b - a) * rs), c->co, c->ci,
                  x + (size_t)(a + sh) * rs * c->ci, c->ci, c->w + (size_t)j * c->co * c->ci, c->ci,
                  1.0f, y + (size_t)a * rs * c->co, c->co);
  }
  relu(y + (size_t)lo * rs * c->co, (size_t)(hi - lo) * rs * c->co);
}

/* The visual encoder's temporal conv + bias + ReLU on NN_DENSE_FAST: x (T, R, ci) -> y (T, R, co),
 * as taps() computes it, from an im2col over time (each row of R the k taps' ci values side by
 * side, zeros outside [0, T)) of as many frames as col holds, and one fused product g. */
static void temporal(const conv *c, const nn_sgemm *g, const float *x, int T, int R, float *y,
                     float *col) {
  size_t ci = (size_t)c->ci, K = (size_t)c->k * ci, per = (size_t)R * K;
  int nf = (int)(COL_FLOATS / per);
  if (nf < 1) nf = 1;
  for (int t0 = 0; t0 < T; t0 += nf) {
    int n = T - t0 < nf ? T - t0 : nf;
    for (int f = 0; f < n; f++)
      for (int j = 0; j < c->k; j++) {
        int ts = t0 + f + j - c->pad;
        float *dst = col + (size_t)f * per + (size_t)j * ci;
        const float *src = x + (size_t)ts * R * ci;
        for (int r = 0; r < R; r++, dst += K)
          if (ts < 0 || ts >= T)
            memset(dst, 0, ci * sizeof *dst);
          else
            memcpy(dst, src + (size_t)r * ci, ci * sizeof *dst);
      }
    nn_sgemm_run(g, n * R, col, K, y + (size_t)t0 * R * c->co, (size_t)c->co, NULL);
  }
}

/* Spatial conv + bias + ReLU in int8 (asd_work_set_int8): each frame (H, W, ci) zero-padded into
 * pad, then one run of q. */
static int qspatial(const conv *c, nn_qconv *q, const float *x, int T, int H, int W, float *y,
                    float *pad, int *Ho_out, int *Wo_out, emoi_err *err) {
  int p = c->pad, ci = c->ci, Hp = H + 2 * p, Wp = W + 2 * p;
  int Ho = (Hp - c->k) / c->stride + 1, Wo = (Wp - c->k) / c->stride + 1;
  size_t row = (size_t)W * ci;
  memset(pad, 0, (size_t)Hp * Wp * ci * sizeof *pad);
  for (int t = 0; t < T; t++) {
    for (int r = 0; r < H; r++) /* the borders stay zero */
      memcpy(pad + ((size_t)(r + p) * Wp + p) * ci, x + ((size_t)t * H + r) * row,
             row * sizeof *pad);
    int rc = nn_qconv_run(q, pad, y + (size_t)t * Ho * Wo * c->co, err);
    if (rc != EMO_OK) return rc;
  }
  *Ho_out = Ho;
  *Wo_out = Wo;
  return EMO_OK;
}

/* Temporal conv + bias + ReLU in int8: output frame t from input frames t - pad .. t - pad + k - 1
 * (R pixels each), read in place when all are inside [0, T), else copied into col with zero
 * frames for the others. */
static int qtemporal(const conv *c, nn_qconv *q, const float *x, int T, int R, float *y, float *col,
                     emoi_err *err) {
  size_t fr = (size_t)R * c->ci;
  for (int t = 0; t < T; t++) {
    int first = t - c->pad;
    const float *src = col;
    if (first >= 0 && first + c->k <= T) {
      src = x + (size_t)first * fr;
    } else {
      for (int j = 0; j < c->k; j++) {
        int ts = first + j;
        if (ts < 0 || ts >= T)
          memset(col + (size_t)j * fr, 0, fr * sizeof *col);
        else
          memcpy(col + (size_t)j * fr, x + (size_t)ts * fr, fr * sizeof *col);
      }
    }
    int rc = nn_qconv_run(q, src, y + (size_t)t * R * c->co, err);
    if (rc != EMO_OK) return rc;
  }
  return EMO_OK;
}

/* 3x3 stride 2 pad 1 max pool of T frames (H, W, C). */
static void pool2d(const float *x, int T, int H, int W, int C, float *y, int *Ho_out) {
  int Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1;
  for (int t = 0; t < T; t++)
    for (int oy = 0; oy < Ho; oy++)
      for (int ox = 0; ox < Wo; ox++) {
        float *d = y + (((size_t)t * Ho + oy) * Wo + ox) * C;
        for (int c = 0; c < C; c++) d[c] = -INFINITY;
        for (int ky = -1; ky <= 1; ky++)
          for (int kx = -1; kx <= 1; kx++) {
            int iy = 2 * oy + ky, ix = 2 * ox + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const float *s = x + (((size_t)t * H + iy) * W + ix) * C;
            for (int c = 0; c < C; c++) d[c] = s[c] > d[c] ? s[c] : d[c];
          }
      }
  *Ho_out = Ho;
}

static int visual(const asd_model *m, asd_work *w, nn_dense_path path, const uint8_t *crops, int T,
                  float *emb, emoi_err *err) {
  float *x = w->B, *y = w->A;
  size_t npix = (size_t)ASD_CROP * ASD_CROP;
  for (size_t i = 0; i < (size_t)T * npix; i++)
    x[i] = ((float)crops[i] / 255.0f - 0.4161f) / 0.1688f;
  int H = ASD_CROP, W = ASD_CROP, Ho, Wo;
  for (int b = 0; b < 3; b++) {
    const vblock *v = &m->v[b];
    if (path == NN_DENSE_FAST && w->vq[b][0]) { /* asd_work_set_int8 */
      nn_qconv *const *q = w->vq[b];
      int rc = qspatial(&v->s1, q[0], x, T, H, W, y, w->col, &Ho, &Wo, err); /* x -> y */
      H = Ho;
      W = Wo;
      if (rc == EMO_OK) rc = qspatial(&v->s2, q[1], y, T, H, W, x, w->col, &Ho, &Wo, err);
      if (rc == EMO_OK) rc = qtemporal(&v->t1, q[2], x, T, H * W, y, w->col, err);
      if (rc == EMO_OK) rc = qtemporal(&v->t2, q[3], y, T, H * W, x, w->col, err);
      if (rc != EMO_OK) return rc;
    } else {
      spatial(path, &v->s1, w->vg[b][0], x, T, H, W, y, w->col, &Ho, &Wo); /* x -> y */
      H = Ho;
      W = Wo;
      spatial(path, &v->s2, w->vg[b][1], y, T, H, W, x, w->col, &Ho, &Wo); /* y -> x */
      if (path == NN_DENSE_FAST) {
        temporal(&v->t1, w->vg[b][2], x, T, H * W, y, w->col); /* x -> y */
        temporal(&v->t2, w->vg[b][3], y, T, H * W, x, w->col); /* y -> x */
      } else {
        taps(path, &v->t1, x, T, H * W, y, 0, T);
        taps(path, &v->t2, y, T, H * W, x, 0, T);
      }
    }
    if (b < 2) {
      pool2d(x, T, H, W, v->t2.co, y, &Ho);
      H = W = Ho;
      float *s = x;
      x = y;
      y = s;
    }
  }
  /* x: (T, 14*14, 128): max over positions */
  for (int t = 0; t < T; t++) {
    float *e = emb + (size_t)t * EMB;
    for (int c = 0; c < EMB; c++) e[c] = -INFINITY;
    for (int p = 0; p < H * W; p++) {
      const float *s = x + ((size_t)t * H * W + p) * EMB;
      for (int c = 0; c < EMB; c++) e[c] = s[c] > e[c] ? s[c] : e[c];
    }
  }
  return EMO_OK;
}

static void zero_pad_rows(float *x, int Ta, int C) {
  for (int t = 0; t < Ta; t++) {
    float *r = x + (size_t)t * HP * C;
    memset(r, 0, (size_t)PADF * C * sizeof(float));
    memset(r + (size_t)(PADF + MFCC_NCEP) * C, 0, (size_t)PADF * C * sizeof(float));
  }
}

static void audio(const asd_model *m, asd_work *w, nn_dense_path path, const float *mfcc, int Ta,
                  float *emb) {
  float *x = w->P, *y = w->Q;
  memset(x, 0, (size_t)Ta * HP * sizeof(float));
  for (int t = 0; t < Ta; t++)
    for (int q = 0; q < MFCC_NCEP; q++)
      x[(size_t)t * HP + PADF + q] = mfcc[(size_t)t * MFCC_NCEP + q];
  int rows = Ta * HP;
  for (int b = 0; b < 3; b++) {
    const ablock *a = &m->a[b];
    /* frequency convs: taps over rows; rows PADF .. rows - PADF cover every real row */
    taps(path, &a->m1, x, rows, 1, y, PADF, rows - PADF);
    zero_pad_rows(y, Ta, a->m1.co);
    taps(path, &a->m2, y, rows, 1, x, PADF, rows - PADF);
    zero_pad_rows(x, Ta, a->m2.co);
    /* time convs: taps over steps of HP rows */
    taps(path, &a->t1, x, Ta, HP, y, 0, Ta);
    zero_pad_rows(y, Ta, a->t1.co);
    taps(path, &a->t2, y, Ta, HP, x, 0, Ta);
    zero_pad_rows(x, Ta, a->t2.co);
    if (b < 2) { /* max pool over time, kernel 3, stride 2, pad 1 */
      int C = a->t2.co, To = (Ta - 1) / 2 + 1;
      for (int t = 0; t < To; t++)
        for (size_t i = 0; i < (size_t)HP * C; i++) {
          float v = -INFINITY;
          for (int d = -1; d <= 1; d++) {
            int s = 2 * t + d;
            if (s < 0 || s >= Ta) continue;
            float u = x[(size_t)s * HP * C + i];
            v = u > v ? u : v;
          }
          y[(size_t)t * HP * C + i] = v;
        }
      Ta = To;
      rows = Ta * HP;
      float *s = x;
      x = y;
      y = s;
    }
  }
  for (int t = 0; t < Ta; t++) {
    float *e = emb + (size_t)t * EMB;
    for (int c = 0; c < EMB; c++) {
      float s = 0.0f;
      for (int q = 0; q < MFCC_NCEP; q++) s += x[((size_t)t * HP + PADF + q) * EMB + c];
      e[c] = s / MFCC_NCEP;
    }
  }
}

static float sigm(float v) {
  return 1.0f / (1.0f + expf(-v));
}

/* x (T, c) *= sigmoid(x W^T + b). */
static void attend(nn_dense_path path, const fusion *f, float *x, int T, float *tmp) {
  set_bias(tmp, (size_t)T, f->c, f->b);
  nn_dense_gemm(path, 1, T, f->c, f->c, x, f->c, f->w, f->c, 1.0f, tmp, f->c);
  for (size_t i = 0; i < (size_t)T * f->c; i++) x[i] *= sigm(tmp[i]);
}

/* GRU over x (T, in) in direction dir (+1 or -1); h_out[t] at column offset, row stride ld. */
static void run_gru(nn_dense_path path, const gru *g, const float *x, int T, float *gi, int dir,
                    float *h_out, int ld) {
  set_bias(gi, (size_t)T, 3 * GRU_H, g->bih);
  nn_dense_gemm(path, 1, T, 3 * GRU_H, g->in, x, g->in, g->wih, g->in, 1.0f, gi, 3 * GRU_H);
  float h[GRU_H] = {0}, gh[3 * GRU_H];
  for (int s = 0; s < T; s++) {
    int t = dir > 0 ? s : T - 1 - s;
    for (int o = 0; o < 3 * GRU_H; o++) {
      const float *wr = g->whh + (size_t)o * GRU_H;
      float acc = g->bhh[o];
      for (int i = 0; i < GRU_H; i++) acc += wr[i] * h[i];
      gh[o] = acc;
    }
    const float *gt = gi + (size_t)t * 3 * GRU_H;
    for (int i = 0; i < GRU_H; i++) {
      float r = sigm(gt[i] + gh[i]);
      float z = sigm(gt[GRU_H + i] + gh[GRU_H + i]);
      float n = tanhf(gt[2 * GRU_H + i] + r * gh[2 * GRU_H + i]);
      h[i] = (1.0f - z) * n + z * h[i];
    }
    memcpy(h_out + (size_t)t * ld, h, sizeof h);
  }
}

int asd_forward(const asd_model *m, asd_work *w, nn_dense_path path, const uint8_t *crops, int T,
                const float *mfcc, float *logits, float *vis_emb, float *aud_emb, emoi_err *err) {
  if (!m || !w || !crops || !mfcc || !logits)
    return emoi_fail(err, EMO_EINVAL, "asd_forward: NULL argument");
  if (T < 1 || T > w->max_ticks)
    return emoi_fail(err, EMO_EINVAL, "asd_forward: %d ticks outside 1..%d", T, w->max_ticks);
  /* embeddings into x (T, 256): audio | visual */
  float *ae = w->h, *ve = w->h + (size_t)T * EMB; /* h is free until the GRUs */
  int rc = visual(m, w, path, crops, T, ve, err);
  if (rc != EMO_OK) return rc;
  audio(m, w, path, mfcc, 4 * T, ae);
  for (int t = 0; t < T; t++) {
    memcpy(w->x + (size_t)t * 2 * EMB, ae + (size_t)t * EMB, EMB * sizeof(float));
    memcpy(w->x + (size_t)t * 2 * EMB + EMB, ve + (size_t)t * EMB, EMB * sizeof(float));
  }
  if (vis_emb) memcpy(vis_emb, ve, (size_t)T * EMB * sizeof(float));
  if (aud_emb) memcpy(aud_emb, ae, (size_t)T * EMB * sizeof(float));
  attend(path, &m->f1, w->x, T, w->tmp);
  run_gru(path, &m->gf, w->x, T, w->g1, +1, w->h, 2 * GRU_H);
  run_gru(path, &m->gb, w->x, T, w->g2, -1, w->h + GRU_H, 2 * GRU_H);
  attend(path, &m->f2, w->h, T, w->tmp);
  set_bias(logits, (size_t)T, 2, m->fc_b);
  nn_dense_gemm(path, 1, T, 2, EMB, w->h, EMB, m->fc_w, EMB, 1.0f, logits, 2);
  return EMO_OK;
}

/* ================================================================ crop */

int asd_crop(const uint8_t *gray, int width, int height, int stride, asd_box box, uint8_t *out) {
  if (!gray || !out || width < 1 || height < 1 || stride < width) return EMO_EINVAL;
  if (!isfinite(box.x0) || !isfinite(box.y0) || !isfinite(box.x1) || !isfinite(box.y1) ||
      !(box.x1 > box.x0) || !(box.y1 > box.y0) || fabsf(box.x0) > 1e6f || fabsf(box.y0) > 1e6f ||
      fabsf(box.x1) > 1e6f || fabsf(box.y1) > 1e6f)
    return EMO_EINVAL;
  /* upstream in double: s, centre, pad bsi, slice bounds truncated by int() */
  double bw = (double)box.x1 - box.x0, bh = (double)box.y1 - box.y0;
  double s = (bw > bh ? bw : bh) / 2, cy = ((double)box.y0 + box.y1) / 2,
         cx = ((double)box.x0 + box.x1) / 2;
  long bsi = (long)(s * 1.8);
  double my = cy + bsi, mx = cx + bsi;
  long hp = height + 2 * bsi, wp = width + 2 * bsi;
  long r0 = (long)(my - s), r1 = (long)(my + s * 1.8), c0 = (long)(mx - s * 1.4),
       c1 = (long)(mx + s * 1.4);
  /* numpy slicing: negative starts count from the end (never for a box inside the image);
   * clip to the padded image like numpy does for ends past it */
  if (r0 < 0) r0 = 0;
  if (c0 < 0) c0 = 0;
  if (r1 > hp) r1 = hp;
  if (c1 > wp) c1 = wp;
  if (r1 <= r0 || c1 <= c0) return EMO_EINVAL;
  int fh = (int)(r1 - r0), fw = (int)(c1 - c0);
  /* cv2.resize(face, (224, 224)), INTER_LINEAR: src = (dst + 0.5) * scale - 0.5, clamped;
   * only the central 112 x 112 of the 224 x 224 result is kept */
  double sy = fh / 224.0, sx = fw / 224.0;
  int xi[ASD_CROP];
  float xw[ASD_CROP];
  for (int j = 0; j < ASD_CROP; j++) {
    double f = (j + 56 + 0.5) * sx - 0.5;
    int i0 = (int)floor(f);
    double a = f - i0;
    if (i0 < 0) i0 = 0, a = 0;
    if (i0 >= fw - 1) i0 = fw - 1, a = 0;
    xi[j] = i0;
    xw[j] = (float)a;
  }
#define PIX(r, c)                                                      \
  ((r) < bsi || (r) >= bsi + height || (c) < bsi || (c) >= bsi + width \
       ? 110.0f                                                        \
       : (float)gray[(size_t)((r)-bsi) * (size_t)stride + (size_t)((c)-bsi)])
  for (int i = 0; i < ASD_CROP; i++) {
    double f = (i + 56 + 0.5) * sy - 0.5;
    int y0 = (int)floor(f);
    double b = f - y0;
    if (y0 < 0) y0 = 0, b = 0;
    if (y0 >= fh - 1) y0 = fh - 1, b = 0;
    long ra = r0 + y0, rb = r0 + (y0 + 1 < fh ? y0 + 1 : y0);
    for (int j = 0; j < ASD_CROP; j++) {
      long ca = c0 + xi[j], cb = c0 + (xi[j] + 1 < fw ? xi[j] + 1 : xi[j]);
      float top = PIX(ra, ca) * (1 - xw[j]) + PIX(ra, cb) * xw[j];
      float bot = PIX(rb, ca) * (1 - xw[j]) + PIX(rb, cb) * xw[j];
      float v = top * (1 - (float)b) + bot * (float)b;
      out[(size_t)i * ASD_CROP + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
    }
  }
#undef PIX
  return EMO_OK;
}

/* ================================================================ stream */

typedef struct frame_rec {
  double t;
  int64_t tick; /* nearest tick */
  float score, prob;
  int done, valid;
} frame_rec;

struct asd_stream {
  const asd_model *m;
  asd_stream_params p;
  double t0;
  int64_t s0;      /* first sample of the track */
  int64_t samples; /* samples pushed so far (from sample 0 of the file) */
  mfcc_stream *mf;
  /* crops of ticks [lo, lo + n_ticks) */
  uint8_t *crops; /* (window + hop, 112, 112) */
  int64_t lo;
  int n_ticks;
  int64_t ticks_total; /* ticks filled so far */
  /* MFCC frames [4 lo, 4 lo + n_mfcc) */
  float *mfcc;
  int n_mfcc, cap_mfcc;
  int64_t mfcc_total;
  float *mfcc_tmp; /* one push's frames */
  int cap_tmp;
  /* the previous pushed frame, whose ticks are not all filled yet */
  uint8_t last[ASD_CROP * ASD_CROP];
  double t_last;
  int have_last;
  /* windows */
  int64_t next_win; /* start tick of the next regular window */
  int64_t owned;    /* ticks [0, owned) have final scores */
  int finished, final_done;
  int audio_done;    /* asd_stream_audio_end: no ticks are kept past the audio */
  float *logits;     /* (window, 2) */
  frame_rec *frames; /* queue of pushed frames */
  int f_head, f_count;
};

asd_stream_params asd_stream_params_default(void) {
  asd_stream_params p;
  p.window = 100;
  p.hop = 50;
  p.max_frames = 1000;
  p.max_audio_ahead = 6000;
  p.path = NN_DENSE_FAST;
  return p;
}

int asd_stream_new(const asd_model *m, const asd_stream_params *p, double t_first, asd_stream **out,
                   emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "asd_stream_new: NULL out");
  *out = NULL;
  asd_stream_params d = asd_stream_params_default();
  if (!p) p = &d;
  if (!m || !(t_first >= 0) || t_first > 1e7)
    return emoi_fail(err, EMO_EINVAL, "asd_stream_new: no model or a bad start time");
  if (p->window < 1 || p->window > ASD_MAX_WINDOW || p->hop < 1 || p->hop > p->window ||
      p->max_frames < 2 * p->window || p->max_frames > 1000000 || p->max_audio_ahead < 0 ||
      p->max_audio_ahead > 10000000 || (unsigned)p->path >= NN_DENSE_PATH_COUNT)
    return emoi_fail(err, EMO_EINVAL,
                     "asd_stream_new: window %d (1..%d), hop %d (1..window), max_frames %d "
                     "(>= 2 window), max_audio_ahead %d",
                     p->window, ASD_MAX_WINDOW, p->hop, p->max_frames, p->max_audio_ahead);
  asd_stream *s = calloc(1, sizeof *s);
  if (!s) return emoi_fail(err, EMO_ENOMEM, "asd: out of memory");
  s->m = m;
  s->p = *p;
  s->t0 = t_first;
  s->s0 = llround(t_first * MFCC_RATE);
  int cap = p->window + p->hop;
  s->cap_mfcc = ASD_MFCC_PER_TICK * cap + p->max_audio_ahead;
  s->cap_tmp = 4096;
  s->crops = malloc((size_t)cap * ASD_CROP * ASD_CROP);
  s->mfcc = malloc((size_t)s->cap_mfcc * MFCC_NCEP * sizeof(float));
  s->mfcc_tmp = malloc((size_t)(s->cap_tmp + 1) * MFCC_NCEP * sizeof(float));
  s->logits = malloc((size_t)p->window * 2 * sizeof(float));
  s->frames = malloc((size_t)p->max_frames * sizeof(frame_rec));
  int rc = (s->crops && s->mfcc && s->mfcc_tmp && s->logits && s->frames)
               ? mfcc_stream_new(&s->mf, err)
               : emoi_fail(err, EMO_ENOMEM, "asd: out of memory");
  if (rc) {
    asd_stream_free(&s);
    return rc;
  }
  *out = s;
  return EMO_OK;
}

void asd_stream_free(asd_stream **s) {
  if (!s || !*s) return;
  mfcc_stream_free(&(*s)->mf);
  free((*s)->crops);
  free((*s)->mfcc);
  free((*s)->mfcc_tmp);
  free((*s)->logits);
  free((*s)->frames);
  free(*s);
  *s = NULL;
}

static double tick_time(const asd_stream *s, int64_t k) {
  return s->t0 + (double)k / ASD_FPS;
}

/* Fills ticks with the previous frame's crop up to time `until` (inclusive). */
static int fill_ticks(asd_stream *s, double until, emoi_err *err) {
  int cap = s->p.window + s->p.hop;
  while (tick_time(s, s->ticks_total) <= until + 1e-9) {
    if (s->audio_done && s->ticks_total >= s->mfcc_total / ASD_MFCC_PER_TICK) {
      s->ticks_total++; /* no audio for it: never scored, not kept */
      continue;
    }
    if (s->n_ticks == cap)
      return emoi_fail(err, EMO_ELIMIT,
                       "asd: %d ticks wait for audio (push the soundtrack and pop scores)", cap);
    memcpy(s->crops + (size_t)s->n_ticks * ASD_CROP * ASD_CROP, s->last, sizeof s->last);
    s->n_ticks++;
    s->ticks_total++;
  }
  return 0;
}

int asd_stream_push_frame(asd_stream *s, const uint8_t *crop, double t, emoi_err *err) {
  if (!s || !crop) return emoi_fail(err, EMO_EINVAL, "asd_stream_push_frame: NULL argument");
  if (s->finished) return emoi_fail(err, EMO_EINVAL, "asd: frame pushed after finish");
  if (!(t >= s->t0 - 0.5 / ASD_FPS) || !isfinite(t) || (s->have_last && !(t > s->t_last)))
    return emoi_fail(err, EMO_EINVAL, "asd: frame time %.4f out of order", t);
  if (s->f_count == s->p.max_frames)
    return emoi_fail(err, EMO_ELIMIT, "asd: %d frames wait for scores (pop them)", s->f_count);
  if (s->have_last) {
    int rc = fill_ticks(s, (s->t_last + t) / 2, err);
    if (rc) return rc;
  }
  memcpy(s->last, crop, sizeof s->last);
  s->t_last = t;
  s->have_last = 1;
  frame_rec *f = &s->frames[(s->f_head + s->f_count) % s->p.max_frames];
  memset(f, 0, sizeof *f);
  f->t = t;
  f->tick = llround((t - s->t0) * ASD_FPS);
  if (f->tick < 0) f->tick = 0;
  f->score = f->prob = NAN;
  s->f_count++;
  return EMO_OK;
}

static int add_mfcc(asd_stream *s, const float *rows, int n, emoi_err *err) {
  if (s->n_mfcc + n > s->cap_mfcc)
    return emoi_fail(err, EMO_ELIMIT,
                     "asd: the soundtrack runs more than %d MFCC frames ahead of the video",
                     s->p.max_audio_ahead);
  memcpy(s->mfcc + (size_t)s->n_mfcc * MFCC_NCEP, rows, (size_t)n * MFCC_NCEP * sizeof(float));
  s->n_mfcc += n;
  s->mfcc_total += n;
  return 0;
}

int asd_stream_push_audio(asd_stream *s, const float *pcm, int n, emoi_err *err) {
  if (!s || n < 0 || (n && !pcm))
    return emoi_fail(err, EMO_EINVAL, "asd_stream_push_audio: bad arguments");
  if (s->finished || s->audio_done)
    return emoi_fail(err, EMO_EINVAL, "asd: audio pushed after finish or audio end");
  int64_t skip = s->s0 - s->samples;
  if (skip > 0) {
    if (skip >= n) {
      s->samples += n;
      return EMO_OK;
    }
    pcm += skip;
    n -= (int)skip;
    s->samples += skip;
  }
  while (n > 0) {
    int chunk = n < (s->cap_tmp - 1) * MFCC_HOP ? n : (s->cap_tmp - 1) * MFCC_HOP;
    int k = mfcc_stream_push(s->mf, pcm, chunk, s->mfcc_tmp, s->cap_tmp);
    if (k < 0) return emoi_fail(err, EMO_EINTERNAL, "asd: MFCC buffer");
    int rc = add_mfcc(s, s->mfcc_tmp, k, err);
    if (rc) return rc;
    pcm += chunk;
    n -= chunk;
    s->samples += chunk;
  }
  return EMO_OK;
}

int asd_stream_audio_end(asd_stream *s, emoi_err *err) {
  if (!s) return emoi_fail(err, EMO_EINVAL, "asd_stream_audio_end: NULL stream");
  if (s->audio_done) return EMO_OK;
  if (s->samples > s->s0) { /* the zero-padded last MFCC frame, as upstream's */
    int k = mfcc_stream_flush(s->mf, s->mfcc_tmp, s->cap_tmp);
    if (k > 0) {
      int rc = add_mfcc(s, s->mfcc_tmp, k, err);
      if (rc) return rc;
    }
  }
  s->audio_done = 1;
  /* ticks already kept past the audio stay until finish or their window; frames on them are
   * released as unscored by asd_stream_pop */
  return EMO_OK;
}

int asd_stream_finish(asd_stream *s, emoi_err *err) {
  if (!s) return emoi_fail(err, EMO_EINVAL, "asd_stream_finish: NULL stream");
  if (s->finished) return EMO_OK;
  if (!s->audio_done) {
    int rc = asd_stream_audio_end(s, err);
    if (rc) return rc;
  }
  if (s->have_last) {
    int rc = fill_ticks(s, s->t_last + 0.5 / ASD_FPS - 1e-6, err);
    if (rc) return rc;
  }
  s->finished = 1;
  return EMO_OK;
}

/* Scores ticks [a, b) of window [ws, ws + T) into the frames waiting for them. */
static void assign(asd_stream *s, int64_t ws, int64_t a, int64_t b, const float *logits) {
  for (int i = 0; i < s->f_count; i++) {
    frame_rec *f = &s->frames[(s->f_head + i) % s->p.max_frames];
    if (f->done || f->tick < a || f->tick >= b) continue;
    const float *l = logits + (size_t)(f->tick - ws) * 2;
    f->score = l[1];
    f->prob = 1.0f / (1.0f + expf(l[0] - l[1]));
    f->valid = isfinite(f->score) && isfinite(f->prob);
    if (!f->valid) f->score = f->prob = NAN;
    f->done = 1;
  }
}

/* Drops ticks and MFCC before tick `keep`. */
static void drop_before(asd_stream *s, int64_t keep) {
  int64_t d = keep - s->lo;
  if (d <= 0) return;
  if (d > s->n_ticks) d = s->n_ticks;
  memmove(s->crops, s->crops + (size_t)d * ASD_CROP * ASD_CROP,
          (size_t)(s->n_ticks - d) * ASD_CROP * ASD_CROP);
  s->n_ticks -= (int)d;
  int64_t dm = d * ASD_MFCC_PER_TICK;
  if (dm > s->n_mfcc) dm = s->n_mfcc;
  memmove(s->mfcc, s->mfcc + (size_t)dm * MFCC_NCEP,
          (size_t)(s->n_mfcc - dm) * MFCC_NCEP * sizeof(float));
  s->n_mfcc -= (int)dm;
  s->lo += d;
}

static int run_window(asd_stream *s, asd_work *w, int64_t ws, int T, emoi_err *err) {
  const uint8_t *c = s->crops + (size_t)(ws - s->lo) * ASD_CROP * ASD_CROP;
  const float *a = s->mfcc + (size_t)(ws - s->lo) * ASD_MFCC_PER_TICK * MFCC_NCEP;
  return asd_forward(s->m, w, s->p.path, c, T, a, s->logits, NULL, NULL, err);
}

int asd_stream_pop(asd_stream *s, asd_work *w, asd_score *out, int max, emoi_err *err) {
  if (!s || !w || (max > 0 && !out) || max < 0)
    return emoi_fail(err, EMO_EINVAL, "asd_stream_pop: bad arguments");
  if (w->max_ticks < s->p.window)
    return emoi_fail(err, EMO_EINVAL, "asd: the work holds %d ticks, the window is %d",
                     w->max_ticks, s->p.window);
  int W = s->p.window, H = s->p.hop, rc;
  /* regular windows whose frames and audio are all in */
  while (!s->final_done) {
    int64_t ws = s->next_win, we = ws + W;
    int64_t have_t = s->lo + s->n_ticks, have_a = (s->mfcc_total) / ASD_MFCC_PER_TICK;
    if (we > have_t || we > have_a) break;
    if (s->finished && we == have_t && we == have_a) break; /* the final window does it */
    if ((rc = run_window(s, w, ws, W, err))) return rc;
    int64_t lo = ws == 0 ? 0 : ws + (W - H) / 2, hi = ws + (W - H) / 2 + H;
    if (lo < s->owned) lo = s->owned;
    assign(s, ws, lo, hi, s->logits);
    s->owned = hi;
    s->next_win = ws + H;
    /* keep this window's ticks: the final window, [n - W, n), may start anywhere after ws; the
     * next regular window ends at ws + H + W, so window + hop ticks always suffice */
    drop_before(s, ws);
  }
  if (s->finished && !s->final_done) {
    int64_t n_eff = s->ticks_total < s->mfcc_total / ASD_MFCC_PER_TICK
                        ? s->ticks_total
                        : s->mfcc_total / ASD_MFCC_PER_TICK;
    if (n_eff > s->owned) {
      int64_t ws = n_eff - W > 0 ? n_eff - W : 0;
      if (ws < s->lo) ws = s->lo; /* cannot happen: the last regular window's ticks are kept */
      if ((rc = run_window(s, w, ws, (int)(n_eff - ws), err))) return rc;
      assign(s, ws, s->owned, n_eff, s->logits);
      s->owned = n_eff;
    }
    s->final_done = 1;
    for (int i = 0; i < s->f_count; i++) { /* ticks without audio, or past the last tick */
      frame_rec *f = &s->frames[(s->f_head + i) % s->p.max_frames];
      if (!f->done) f->done = 1, f->valid = 0;
    }
  }
  if (s->audio_done) {
    int64_t audio_ticks = s->mfcc_total / ASD_MFCC_PER_TICK;
    for (int i = 0; i < s->f_count; i++) {
      frame_rec *f = &s->frames[(s->f_head + i) % s->p.max_frames];
      if (!f->done && f->tick >= audio_ticks) f->done = 1, f->valid = 0;
    }
  }
  int k = 0;
  while (k < max && s->f_count && s->frames[s->f_head].done) {
    frame_rec *f = &s->frames[s->f_head];
    out[k].t = f->t;
    out[k].score = f->valid ? f->score : NAN;
    out[k].prob = f->valid ? f->prob : NAN;
    out[k].valid = f->valid;
    k++;
    s->f_head = (s->f_head + 1) % s->p.max_frames;
    s->f_count--;
  }
  return k;
}
