/* head.c: heads you train on emo's feature vectors (emo.h, emo_head_train): nearest class mean,
 * L2-regularised multinomial logistic regression and a one-hidden-layer MLP, each with a
 * per-class linear intensity regressor when the examples carry intensities; prediction; and
 * cross-validation grouped by person.
 *
 * Training: features standardised (mean, standard deviation stored in the head); softmax
 * cross-entropy with optional class weights n / (C * n_c) and L2 weight decay, minimised by
 * Adam (Kingma & Ba 2015; beta 0.9 / 0.999) for a fixed number of steps with a cosine-decayed
 * learning rate. Up to 2048 examples every step sees them all (full batch); beyond that each
 * step takes the next 2048 of an order shuffled once per pass by a seeded xorshift, so a run
 * is deterministic. Matrix products go through OpenBLAS's cblas_sgemm (its thread count is the
 * application's, as elsewhere in emo). The MLP's weights start from Glorot-uniform draws of
 * the same generator.
 * Multi-label sets (emo_train_set.targets): the same loop with one sigmoid cross-entropy per
 * class instead of the softmax (binary relevance: for LOGREG C independent logistic
 * regressions; the MLP shares its hidden layer), positives weighted by negatives / positives
 * of their class when class weights are on; prediction applies the sigmoid per class.
 * Intensity: for each class a ridge regression on the standardised features of the examples
 * of that class whose intensity is known, fitted by the same Adam loop on squared error.
 *
 * What it leaves to others: computing features (learn/features.c), files (learn/head_file.c),
 * reading training lists (learn/table.c), model cards (the CLI). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "learn/head.h"

#define BATCH 2048
#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f

emo_train_params emo_train_params_default(void) {
  emo_train_params p;
  memset(&p, 0, sizeof p);
  p.kind = EMO_HEAD_AUTO;
  p.l2 = 0.1f;
  p.hidden = 256;
  p.iterations = 300;
  p.learning_rate = 0.01f;
  p.class_weights = 1;
  p.seed = 1;
  return p;
}

char *head_strdup(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

emo_head *head_alloc(emo_head_kind kind, int dim, int n_classes, int hidden, int has_intensity) {
  emo_head *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->kind = kind;
  h->dim = dim;
  h->n_classes = n_classes;
  h->hidden = kind == EMO_HEAD_MLP ? hidden : 0;
  h->has_intensity = has_intensity;
  size_t D = (size_t)dim, C = (size_t)n_classes, H = (size_t)h->hidden;
  h->names = calloc(C, sizeof *h->names);
  h->mean = calloc(D, sizeof(float));
  h->std = calloc(D, sizeof(float));
  if (kind == EMO_HEAD_MLP) {
    h->w1 = calloc(H * D, sizeof(float));
    h->b1 = calloc(H, sizeof(float));
    h->w2 = calloc(C * H, sizeof(float));
    h->b2 = calloc(C, sizeof(float));
  } else {
    h->w1 = calloc(C * D, sizeof(float));
    h->b1 = calloc(C, sizeof(float));
  }
  if (has_intensity) {
    h->wi = calloc(C * D, sizeof(float));
    h->bi = calloc(C, sizeof(float));
  }
  int ok = h->names && h->mean && h->std && h->w1 && h->b1 &&
           (kind != EMO_HEAD_MLP || (h->w2 && h->b2)) && (!has_intensity || (h->wi && h->bi));
  if (!ok) emo_head_destroy(&h);
  return h;
}

void emo_head_destroy(emo_head **ph) {
  if (!ph || !*ph) return;
  emo_head *h = *ph;
  if (h->names)
    for (int i = 0; i < h->n_classes; i++) free(h->names[i]);
  free(h->names);
  free(h->definition);
  free(h->mean);
  free(h->std);
  free(h->w1);
  free(h->b1);
  free(h->w2);
  free(h->b2);
  free(h->wi);
  free(h->bi);
  free(h);
  *ph = NULL;
}

/* ---- small numerics ------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static float rng_uniform(uint64_t *s) { /* [0, 1) */
  return (float)((rng_next(s) >> 40) * (1.0 / 16777216.0));
}

static void softmax_row(float *z, int n) {
  float m = z[0];
  for (int k = 1; k < n; k++)
    if (z[k] > m) m = z[k];
  double s = 0.0;
  for (int k = 0; k < n; k++) {
    z[k] = expf(z[k] - m);
    s += z[k];
  }
  for (int k = 0; k < n; k++) z[k] = (float)(z[k] / s);
}

/* One Adam step on n parameters. */
typedef struct adam {
  float *m, *v;
  int t;
} adam;

static void adam_step(adam *a, size_t off, float *w, const float *g, size_t n, float lr) {
  float c1 = 1.0f - powf(ADAM_B1, (float)a->t), c2 = 1.0f - powf(ADAM_B2, (float)a->t);
  float *m = a->m + off, *v = a->v + off;
  for (size_t i = 0; i < n; i++) {
    m[i] = ADAM_B1 * m[i] + (1.0f - ADAM_B1) * g[i];
    v[i] = ADAM_B2 * v[i] + (1.0f - ADAM_B2) * g[i] * g[i];
    w[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + ADAM_EPS);
  }
}

/* ---- training ------------------------------------------------------------------------ */

/* Work shared by the fits: standardised examples and their weights. */
typedef struct fitdata {
  int n, dim, C;
  float *z;               /* (n, dim) standardised */
  const int *y;           /* (n,) */
  float *sw;              /* (n,) example weights, mean 1 */
  int *count;             /* (C,) examples per class */
  const float *it;        /* (n,) intensities or NULL */
  const unsigned char *t; /* (n, C) multi-label targets, or NULL (softmax on y) */
  const float *pw;        /* (C,) weight of a class's positives (multi-label) */
} fitdata;

/* Batch indices of step `step` into idx (returns the batch size). */
static int batch_of(int n, int step, int *order, uint64_t *rng, int *idx) {
  if (n <= BATCH) {
    for (int i = 0; i < n; i++) idx[i] = i;
    return n;
  }
  int per = n / BATCH; /* batches per pass (the tail of a pass is skipped) */
  int b = step % per;
  if (b == 0) { /* a new pass: reshuffle (Fisher-Yates) */
    for (int i = n - 1; i > 0; i--) {
      int j = (int)(rng_next(rng) % (uint64_t)(i + 1));
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }
  memcpy(idx, order + (size_t)b * BATCH, sizeof(int) * BATCH);
  return BATCH;
}

static float lr_at(const emo_train_params *p, int step) {
  return p->learning_rate * 0.5f * (1.0f + cosf(3.14159265f * (float)step / (float)p->iterations));
}

/* Softmax heads (LOGREG when H = 0, else MLP) by Adam. */
static int fit_softmax(emo_head *h, const fitdata *d, const emo_train_params *p) {
  int n = d->n, D = d->dim, C = d->C, H = h->hidden, mlp = h->kind == EMO_HEAD_MLP;
  size_t nw1 = mlp ? (size_t)H * D : (size_t)C * D, nb1 = mlp ? (size_t)H : (size_t)C;
  size_t nw2 = mlp ? (size_t)C * H : 0, nb2 = mlp ? (size_t)C : 0;
  size_t np = nw1 + nb1 + nw2 + nb2;
  int B = n < BATCH ? n : BATCH;
  uint64_t rng = p->seed ? p->seed : 1;
  adam a = {calloc(np, sizeof(float)), calloc(np, sizeof(float)), 0};
  float *grad = calloc(np, sizeof(float));
  float *xb = malloc((size_t)B * D * sizeof(float));
  float *hid = mlp ? malloc((size_t)B * H * sizeof(float)) : NULL;
  float *gh = mlp ? malloc((size_t)B * H * sizeof(float)) : NULL;
  float *lo = malloc((size_t)B * C * sizeof(float));
  int *order = malloc((size_t)n * sizeof(int)), *idx = malloc((size_t)B * sizeof(int));
  float *wb = malloc((size_t)B * sizeof(float));
  int rc = EMO_ENOMEM;
  if (!a.m || !a.v || !grad || !xb || (mlp && (!hid || !gh)) || !lo || !order || !idx || !wb)
    goto done;
  for (int i = 0; i < n; i++) order[i] = i;
  if (mlp) { /* Glorot-uniform */
    float r1 = sqrtf(6.0f / (float)(D + H)), r2 = sqrtf(6.0f / (float)(H + C));
    for (size_t i = 0; i < nw1; i++) h->w1[i] = (2.0f * rng_uniform(&rng) - 1.0f) * r1;
    for (size_t i = 0; i < nw2; i++) h->w2[i] = (2.0f * rng_uniform(&rng) - 1.0f) * r2;
  }
  for (int step = 0; step < p->iterations; step++) {
    int nb = batch_of(n, step, order, &rng, idx);
    double wsum = 0.0;
    for (int i = 0; i < nb; i++) {
      memcpy(xb + (size_t)i * D, d->z + (size_t)idx[i] * D, sizeof(float) * D);
      wb[i] = d->sw[idx[i]];
      wsum += wb[i];
    }
    float inv = wsum > 0 ? (float)(1.0 / wsum) : 0.0f;
    const float *feat = xb; /* input of the output layer */
    int F = D;
    float *w_out = h->w1, *b_out = h->b1;
    if (mlp) {
      for (int i = 0; i < nb; i++) memcpy(hid + (size_t)i * H, h->b1, sizeof(float) * H);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, H, D, 1.0f, xb, D, h->w1, D, 1.0f,
                  hid, H);
      for (size_t i = 0; i < (size_t)nb * H; i++)
        if (hid[i] < 0.0f) hid[i] = 0.0f;
      feat = hid;
      F = H;
      w_out = h->w2;
      b_out = h->b2;
    }
    for (int i = 0; i < nb; i++) memcpy(lo + (size_t)i * C, b_out, sizeof(float) * C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, C, F, 1.0f, feat, F, w_out, F, 1.0f,
                lo, C);
    for (int i = 0; i < nb; i++) { /* dL/dlogits = w (p - onehot) / sum w */
      float *r = lo + (size_t)i * C;
      if (d->t) { /* per class: w_k (sigmoid - t) */
        const unsigned char *t = d->t + (size_t)idx[i] * C;
        for (int k = 0; k < C; k++) {
          float sg = 1.0f / (1.0f + expf(-r[k]));
          r[k] = (sg - (t[k] ? 1.0f : 0.0f)) * (t[k] ? d->pw[k] : 1.0f) * wb[i] * inv;
        }
        continue;
      }
      softmax_row(r, C);
      r[d->y[idx[i]]] -= 1.0f;
      for (int k = 0; k < C; k++) r[k] *= wb[i] * inv;
    }
    float *g_wo = grad + (mlp ? nw1 + nb1 : 0), *g_bo = g_wo + (size_t)C * F;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, F, nb, 1.0f, lo, C, feat, F, 0.0f, g_wo,
                F);
    for (size_t i = 0; i < (size_t)C * F; i++) g_wo[i] += p->l2 * w_out[i];
    memset(g_bo, 0, sizeof(float) * C);
    for (int i = 0; i < nb; i++)
      for (int k = 0; k < C; k++) g_bo[k] += lo[(size_t)i * C + k];
    if (mlp) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, H, C, 1.0f, lo, C, h->w2, H, 0.0f,
                  gh, H);
      for (size_t i = 0; i < (size_t)nb * H; i++)
        if (hid[i] <= 0.0f) gh[i] = 0.0f;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, nb, 1.0f, gh, H, xb, D, 0.0f, grad,
                  D);
      for (size_t i = 0; i < nw1; i++) grad[i] += p->l2 * h->w1[i];
      float *g_b1 = grad + nw1;
      memset(g_b1, 0, sizeof(float) * H);
      for (int i = 0; i < nb; i++)
        for (int k = 0; k < H; k++) g_b1[k] += gh[(size_t)i * H + k];
    }
    a.t = step + 1;
    float lr = lr_at(p, step);
    if (mlp) {
      adam_step(&a, 0, h->w1, grad, nw1, lr);
      adam_step(&a, nw1, h->b1, grad + nw1, nb1, lr);
      adam_step(&a, nw1 + nb1, h->w2, grad + nw1 + nb1, nw2, lr);
      adam_step(&a, nw1 + nb1 + nw2, h->b2, grad + nw1 + nb1 + nw2, nb2, lr);
    } else {
      adam_step(&a, 0, h->w1, grad, nw1, lr);
      adam_step(&a, nw1, h->b1, grad + nw1, nb1, lr);
    }
  }
  /* a class absent from the examples (a cross-validation fold) is never predicted */
  for (int k = 0; k < C; k++)
    if (d->count[k] == 0) (mlp ? h->b2 : h->b1)[k] = -1e4f;
  rc = EMO_OK;
done:
  free(a.m);
  free(a.v);
  free(grad);
  free(xb);
  free(hid);
  free(gh);
  free(lo);
  free(order);
  free(idx);
  free(wb);
  return rc;
}

static void fit_ncm(emo_head *h, const fitdata *d) {
  int D = d->dim;
  for (int i = 0; i < d->n; i++) {
    float *m = h->w1 + (size_t)d->y[i] * D;
    const float *z = d->z + (size_t)i * D;
    for (int j = 0; j < D; j++) m[j] += z[j];
  }
  for (int k = 0; k < d->C; k++)
    for (int j = 0; j < D; j++)
      h->w1[(size_t)k * D + j] = d->count[k] ? h->w1[(size_t)k * D + j] / d->count[k] : 0.0f;
  double s = 0.0; /* tau: mean squared distance to the own class mean, over 4 */
  for (int i = 0; i < d->n; i++) {
    const float *m = h->w1 + (size_t)d->y[i] * D, *z = d->z + (size_t)i * D;
    for (int j = 0; j < D; j++) s += (double)(z[j] - m[j]) * (z[j] - m[j]);
  }
  h->tau = d->n ? (float)(s / d->n / 4.0) : 1.0f;
  if (!(h->tau > 1e-6f)) h->tau = 1.0f;
  for (int k = 0; k < d->C; k++) h->b1[k] = d->count[k] ? 0.0f : -1e4f;
}

/* Per-class ridge regression of intensity by Adam on full batches. */
static int fit_intensity(emo_head *h, const fitdata *d, const emo_train_params *p) {
  int D = d->dim, C = d->C;
  size_t np = (size_t)C * D + C;
  adam a = {calloc(np, sizeof(float)), calloc(np, sizeof(float)), 0};
  float *g = calloc(np, sizeof(float));
  if (!a.m || !a.v || !g) {
    free(a.m);
    free(a.v);
    free(g);
    return EMO_ENOMEM;
  }
  int *cnt = calloc((size_t)C, sizeof(int));
  double *msum = calloc((size_t)C, sizeof(double));
  if (!cnt || !msum) {
    free(cnt);
    free(msum);
    free(a.m);
    free(a.v);
    free(g);
    return EMO_ENOMEM;
  }
  for (int i = 0; i < d->n; i++)
    if (!isnan(d->it[i])) {
      cnt[d->y[i]]++;
      msum[d->y[i]] += d->it[i];
    }
  for (int k = 0; k < C; k++) h->bi[k] = cnt[k] ? (float)(msum[k] / cnt[k]) : 0.5f;
  free(msum);
  for (int step = 0; step < p->iterations; step++) {
    memset(g, 0, np * sizeof(float));
    for (int i = 0; i < d->n; i++) {
      if (isnan(d->it[i])) continue;
      int k = d->y[i];
      const float *z = d->z + (size_t)i * D;
      float *w = h->wi + (size_t)k * D, *gw = g + (size_t)k * D;
      float e = h->bi[k];
      for (int j = 0; j < D; j++) e += w[j] * z[j];
      e = (e - d->it[i]) / (float)cnt[k];
      for (int j = 0; j < D; j++) gw[j] += e * z[j];
      g[(size_t)C * D + k] += e;
    }
    for (size_t i = 0; i < (size_t)C * D; i++) g[i] += p->l2 * h->wi[i];
    a.t = step + 1;
    float lr = lr_at(p, step);
    adam_step(&a, 0, h->wi, g, (size_t)C * D, lr);
    adam_step(&a, (size_t)C * D, h->bi, g + (size_t)C * D, (size_t)C, lr);
  }
  free(cnt);
  free(a.m);
  free(a.v);
  free(g);
  return EMO_OK;
}

static emo_head_kind resolve_kind(emo_head_kind k, const int *count, int C) {
  if (k != EMO_HEAD_AUTO) return k;
  int fewest = -1;
  for (int c = 0; c < C; c++)
    if (count[c] > 0 && (fewest < 0 || count[c] < fewest)) fewest = count[c];
  return fewest < 5 ? EMO_HEAD_NCM : fewest < 200 ? EMO_HEAD_LOGREG : EMO_HEAD_MLP;
}

static int check_set(const emo_train_set *s, const emo_train_params *p, char *err, size_t en) {
  if (!s || !p || !s->x || !s->label || !s->class_names)
    return emoi_fail_buf(err, en, EMO_EINVAL, "training set: missing arrays");
  if (s->targets && p->kind == EMO_HEAD_NCM)
    return emoi_fail_buf(err, en, EMO_EINVAL,
                         "nearest class mean has no multi-label form: use logreg or mlp (or auto)");
  if (s->n < 2 || s->dim < 1 || s->dim > HEAD_MAX_DIM || s->n_classes < 2 ||
      s->n_classes > HEAD_MAX_CLASSES)
    return emoi_fail_buf(
        err, en, EMO_EINVAL,
        "training set: %d examples of %d features in %d classes (need >= 2 examples, "
        "1..%d features, 2..%d classes)",
        s->n, s->dim, s->n_classes, HEAD_MAX_DIM, HEAD_MAX_CLASSES);
  if ((unsigned)p->kind >= EMO_HEAD_KIND_COUNT || p->iterations < 1 || p->iterations > 1000000 ||
      !(p->l2 >= 0.0f) || !(p->learning_rate > 0.0f) || p->hidden < 1 ||
      p->hidden > HEAD_MAX_HIDDEN)
    return emoi_fail_buf(err, en, EMO_EINVAL, "training params out of range");
  for (int i = 0; i < s->n; i++)
    if (s->label[i] < 0 || s->label[i] >= s->n_classes)
      return emoi_fail_buf(err, en, EMO_EINVAL, "example %d: label %d out of range", i,
                           s->label[i]);
  for (size_t i = 0; i < (size_t)s->n * s->dim; i++)
    if (!isfinite(s->x[i]))
      return emoi_fail_buf(err, en, EMO_EINVAL, "example %zu: feature %zu is not finite",
                           i / s->dim, i % s->dim);
  return EMO_OK;
}

/* Trains on the examples rows (n of them) of s; allow_empty lets a class have none. */
static int train_rows(const emo_train_set *s, const emo_train_params *p, const int *rows, int n,
                      int allow_empty, emo_head **out, char *err, size_t en) {
  int D = s->dim, C = s->n_classes, rc = EMO_ENOMEM;
  fitdata d = {n, D, C, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  unsigned char *t = s->targets ? malloc((size_t)n * C) : NULL;
  float *pw = s->targets ? malloc((size_t)C * sizeof(float)) : NULL;
  int *y = malloc((size_t)n * sizeof(int));
  float *it = s->intensity ? malloc((size_t)n * sizeof(float)) : NULL;
  d.z = malloc((size_t)n * D * sizeof(float));
  d.sw = malloc((size_t)n * sizeof(float));
  d.count = calloc((size_t)C, sizeof(int));
  emo_head *h = NULL;
  if (!y || (s->intensity && !it) || !d.z || !d.sw || !d.count || (s->targets && (!t || !pw)))
    goto done;
  int has_int = 0;
  for (int i = 0; i < n; i++) {
    y[i] = s->label[rows[i]];
    if (t) { /* multi-label: count each class's positives */
      memcpy(t + (size_t)i * C, s->targets + (size_t)rows[i] * C, (size_t)C);
      for (int k = 0; k < C; k++) d.count[k] += t[(size_t)i * C + k] != 0;
    } else {
      d.count[y[i]]++;
    }
    if (it) {
      it[i] = s->intensity[rows[i]];
      if (!isnan(it[i])) has_int = 1;
    }
  }
  d.y = y;
  d.it = it;
  for (int k = 0; k < C; k++)
    if (!d.count[k] && !allow_empty) {
      rc = emoi_fail_buf(err, en, EMO_EINVAL, "class \"%s\" has no examples", s->class_names[k]);
      goto done;
    }
  emo_head_kind kind = resolve_kind(p->kind, d.count, C);
  if (t && kind == EMO_HEAD_NCM) kind = EMO_HEAD_LOGREG; /* AUTO with few examples */
  if (!(h = head_alloc(kind, D, C, p->hidden, has_int))) goto done;
  h->multilabel = t != NULL;
  d.t = t;
  d.pw = pw;
  for (int k = 0; t && k < C; k++)
    pw[k] = p->class_weights && d.count[k] > 0 ? (float)(n - d.count[k]) / (float)d.count[k] : 1.0f;
  h->modality = s->modality;
  if (!(h->definition = head_strdup(s->definition))) goto done;
  for (int k = 0; k < C; k++)
    if (!(h->names[k] = head_strdup(s->class_names[k]))) goto done;
  for (int j = 0; j < D; j++) { /* standardisation, in double */
    double m = 0.0, v = 0.0;
    for (int i = 0; i < n; i++) m += s->x[(size_t)rows[i] * D + j];
    m /= n;
    for (int i = 0; i < n; i++) {
      double e = s->x[(size_t)rows[i] * D + j] - m;
      v += e * e;
    }
    v = sqrt(v / n);
    h->mean[j] = (float)m;
    h->std[j] = v > 1e-6 ? (float)v : 1.0f;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < D; j++)
      d.z[(size_t)i * D + j] = (s->x[(size_t)rows[i] * D + j] - h->mean[j]) / h->std[j];
  int present = 0;
  for (int k = 0; k < C; k++) present += d.count[k] > 0;
  for (int i = 0; i < n; i++)
    d.sw[i] = p->class_weights && !t ? (float)n / ((float)present * (float)d.count[y[i]]) : 1.0f;
  if (kind == EMO_HEAD_NCM) {
    fit_ncm(h, &d);
    rc = EMO_OK;
  } else {
    rc = fit_softmax(h, &d, p);
  }
  if (rc == EMO_OK && has_int) rc = fit_intensity(h, &d, p);
  if (rc == EMO_ENOMEM) emoi_fail_buf(err, en, rc, "out of memory training the head");
done:
  if (rc == EMO_ENOMEM && err && en && !err[0]) emoi_fail_buf(err, en, rc, "out of memory");
  if (rc != EMO_OK) emo_head_destroy(&h);
  free(y);
  free(t);
  free(pw);
  free(it);
  free(d.z);
  free(d.sw);
  free(d.count);
  *out = h;
  return rc;
}

int emo_head_train(const emo_train_set *s, const emo_train_params *pp, emo_head **out, char *err,
                   size_t en) {
  if (!out) return EMO_EINVAL;
  *out = NULL;
  if (err && en) err[0] = 0;
  emo_train_params p = pp ? *pp : emo_train_params_default();
  int rc = check_set(s, &p, err, en);
  if (rc) return rc;
  int *rows = malloc((size_t)s->n * sizeof(int));
  if (!rows) return emoi_fail_buf(err, en, EMO_ENOMEM, "out of memory");
  for (int i = 0; i < s->n; i++) rows[i] = i;
  rc = train_rows(s, &p, rows, s->n, 0, out, err, en);
  free(rows);
  return rc;
}

/* ---- prediction ---------------------------------------------------------------------- */

int emo_head_predict(const emo_head *h, const float *x, float *probs, float *intensity) {
  if (!h || !x || !probs) return -1;
  int D = h->dim, C = h->n_classes, H = h->hidden;
  float zbuf[1024], hbuf[HEAD_MAX_HIDDEN];
  float *z = D <= 1024 ? zbuf : malloc((size_t)D * sizeof(float));
  if (!z) return -1;
  for (int j = 0; j < D; j++) z[j] = (x[j] - h->mean[j]) / h->std[j];
  if (h->kind == EMO_HEAD_NCM) {
    for (int k = 0; k < C; k++) {
      const float *m = h->w1 + (size_t)k * D;
      double s = 0.0;
      for (int j = 0; j < D; j++) s += (double)(z[j] - m[j]) * (z[j] - m[j]);
      probs[k] = (float)(-s / h->tau) + h->b1[k];
    }
  } else {
    const float *f = z, *w = h->w1, *b = h->b1;
    int F = D;
    if (h->kind == EMO_HEAD_MLP) {
      for (int u = 0; u < H; u++) {
        double s = h->b1[u];
        const float *r = h->w1 + (size_t)u * D;
        for (int j = 0; j < D; j++) s += (double)r[j] * z[j];
        hbuf[u] = s > 0.0 ? (float)s : 0.0f;
      }
      f = hbuf;
      F = H;
      w = h->w2;
      b = h->b2;
    }
    for (int k = 0; k < C; k++) {
      double s = b[k];
      const float *r = w + (size_t)k * F;
      for (int j = 0; j < F; j++) s += (double)r[j] * f[j];
      probs[k] = (float)s;
    }
  }
  for (int k = 0; k < C; k++) /* a head from a hostile file may overflow: keep it a distribution */
    if (!(probs[k] >= -FLT_MAX))
      probs[k] = -FLT_MAX;
    else if (probs[k] > FLT_MAX)
      probs[k] = FLT_MAX;
  if (h->multilabel)
    for (int k = 0; k < C; k++) probs[k] = 1.0f / (1.0f + expf(-probs[k]));
  else
    softmax_row(probs, C);
  if (intensity) {
    for (int k = 0; k < C; k++) {
      if (!h->has_intensity) {
        intensity[k] = NAN;
        continue;
      }
      double s = h->bi[k];
      const float *r = h->wi + (size_t)k * D;
      for (int j = 0; j < D; j++) s += (double)r[j] * z[j];
      intensity[k] = (float)(!(s > 0.0) ? 0.0 : s > 1.0 ? 1.0 : s);
    }
  }
  if (z != zbuf) free(z);
  int best = 0;
  for (int k = 1; k < C; k++)
    if (probs[k] > probs[best]) best = k;
  return best;
}

int emo_head_classes(const emo_head *h) {
  return h ? h->n_classes : 0;
}
const char *emo_head_class_name(const emo_head *h, int i) {
  return h && i >= 0 && i < h->n_classes ? h->names[i] : NULL;
}
int emo_head_dim(const emo_head *h) {
  return h ? h->dim : 0;
}
emo_modality emo_head_modality(const emo_head *h) {
  return h ? h->modality : EMO_MODALITY_FACE;
}
emo_head_kind emo_head_kind_of(const emo_head *h) {
  return h ? h->kind : EMO_HEAD_AUTO;
}
int emo_head_has_intensity(const emo_head *h) {
  return h ? h->has_intensity : 0;
}
int emo_head_multilabel(const emo_head *h) {
  return h ? h->multilabel : 0;
}
const char *emo_head_definition(const emo_head *h) {
  return h ? h->definition : NULL;
}

/* ---- cross-validation ---------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* carries(s, i, k): example i carries class k. */
static int carries(const emo_train_set *s, int i, int k) {
  return s->targets ? s->targets[(size_t)i * s->n_classes + k] != 0 : s->label[i] == k;
}

/* Deals the persons of s (sorted by id, round-robin) into *folds folds (clamped to the number
 * of persons; < 2 means 5): fold[i] for example i; ids is (n,) scratch. Refuses a class whose
 * examples come from fewer than 2 persons. */
static int make_folds(const emo_train_set *s, int *folds_io, int *fold, int *ids, char *err,
                      size_t en) {
  int n = s->n, C = s->n_classes, folds = *folds_io;
  int n_ids = n;
  if (s->person) {
    memcpy(ids, s->person, (size_t)n * sizeof(int));
    qsort(ids, (size_t)n, sizeof(int), cmp_int);
    n_ids = 0;
    for (int i = 0; i < n; i++)
      if (i == 0 || ids[i] != ids[i - 1]) ids[n_ids++] = ids[i];
    /* a class needs 2 persons, so it can be both trained and tested */
    for (int k = 0; k < C; k++) {
      int first = -1, two = 0, any = 0;
      for (int i = 0; i < n && !two; i++)
        if (carries(s, i, k)) {
          any = 1;
          if (first < 0)
            first = s->person[i];
          else if (s->person[i] != first)
            two = 1;
        }
      if (!two) {
        return emoi_fail_buf(
            err, en, EMO_EINVAL,
            any ? "class \"%s\": all its examples come from one person; grouped "
                  "cross-validation needs at least 2 (add people, or drop the class)"
                : "class \"%s\" has no examples",
            s->class_names[k]);
      }
    }
  }
  if (folds < 2) folds = 5;
  if (folds > n_ids) folds = n_ids;
  if (folds < 2) {
    return emoi_fail_buf(err, en, EMO_EINVAL, "cross-validation needs at least 2 persons");
  }
  for (int i = 0; i < n; i++) {
    int r = i;
    if (s->person) {
      int *f = bsearch(&s->person[i], ids, (size_t)n_ids, sizeof(int), cmp_int);
      r = (int)(f - ids);
    }
    fold[i] = r % folds;
  }
  *folds_io = folds;
  return EMO_OK;
}

/* Called by out_of_fold for each example i held out of the fold that head h was trained
 * without. */
typedef void (*oof_visit)(void *ctx, const emo_head *h, int i);

/* The out-of-fold loop both cross-validations share: deals the examples of s into folds by
 * person (make_folds), and for each fold in turn trains a head on the other folds' examples
 * and calls visit(ctx, h, i) for each example i of the fold, in order (so sums over the
 * examples add up in the same order on every run). On success sets rep->folds and rep->kind,
 * the rest of *rep zeroed. */
static int out_of_fold(const emo_train_set *s, const emo_train_params *p, int folds,
                       emo_cv_report *rep, oof_visit visit, void *ctx, char *err, size_t en) {
  int n = s->n;
  int *fold = malloc((size_t)n * sizeof(int)), *ids = malloc((size_t)n * sizeof(int));
  int *rows = calloc((size_t)n, sizeof(int)); /* zeroed: GCC cannot see every row is set */
  int rc = EMO_ENOMEM;
  if (!fold || !ids || !rows) goto done;
  rc = make_folds(s, &folds, fold, ids, err, en);
  if (rc) goto done;
  memset(rep, 0, sizeof *rep);
  rep->folds = folds;
  for (int f = 0; f < folds; f++) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (fold[i] != f) rows[m++] = i;
    emo_head *h = NULL;
    rc = train_rows(s, p, rows, m, 1, &h, err, en);
    if (rc) goto done;
    rep->kind = h->kind;
    for (int i = 0; i < n; i++)
      if (fold[i] == f) visit(ctx, h, i);
    emo_head_destroy(&h);
  }
done:
  free(fold);
  free(ids);
  free(rows);
  return rc;
}

/* emo_head_cross_validate's tally of the held-out answers. */
typedef struct cv_tally {
  const emo_train_set *s;
  int *confusion;       /* (C, C): true class a row, predicted a column */
  float *probs, *inten; /* (C,) scratch */
  double mae;
  int n_mae, right;
} cv_tally;

static void cv_visit(void *ctx, const emo_head *h, int i) {
  cv_tally *t = ctx;
  const emo_train_set *s = t->s;
  int k = emo_head_predict(h, s->x + (size_t)i * s->dim, t->probs, t->inten);
  t->confusion[(size_t)s->label[i] * s->n_classes + k]++;
  t->right += k == s->label[i];
  if (s->intensity && !isnan(s->intensity[i]) && h->has_intensity) {
    t->mae += fabs(t->inten[s->label[i]] - s->intensity[i]);
    t->n_mae++;
  }
}

int emo_head_cross_validate(const emo_train_set *s, const emo_train_params *pp, int folds,
                            emo_cv_report *rep, int *confusion, char *err, size_t en) {
  if (!rep || !confusion) return EMO_EINVAL;
  if (err && en) err[0] = 0;
  if (s && s->targets)
    return emoi_fail_buf(err, en, EMO_EINVAL,
                         "a multi-label set: use emo_head_cross_validate_multilabel");
  emo_train_params p = pp ? *pp : emo_train_params_default();
  int rc = check_set(s, &p, err, en);
  if (rc) return rc;
  int n = s->n, C = s->n_classes;
  cv_tally t = {.s = s, .confusion = confusion};
  t.probs = malloc((size_t)C * sizeof(float));
  t.inten = malloc((size_t)C * sizeof(float));
  rc = EMO_ENOMEM;
  if (!t.probs || !t.inten) goto done;
  memset(confusion, 0, (size_t)C * C * sizeof(int));
  rc = out_of_fold(s, &p, folds, rep, cv_visit, &t, err, en);
  if (rc) goto done;
  rep->accuracy = (double)t.right / n;
  double ua = 0.0, f1 = 0.0;
  int present = 0;
  for (int k = 0; k < C; k++) {
    long row = 0, col = 0;
    for (int j = 0; j < C; j++) {
      row += confusion[(size_t)k * C + j];
      col += confusion[(size_t)j * C + k];
    }
    if (!row) continue;
    present++;
    double tp = confusion[(size_t)k * C + k], rec = tp / row, prec = col ? tp / col : 0.0;
    ua += rec;
    f1 += rec + prec > 0 ? 2 * rec * prec / (rec + prec) : 0.0;
  }
  rep->unweighted = present ? ua / present : 0.0;
  rep->macro_f1 = present ? f1 / present : 0.0;
  rep->intensity_mae = t.n_mae ? t.mae / t.n_mae : NAN;
  rc = EMO_OK;
done:
  if (rc == EMO_ENOMEM && err && en && !err[0]) emoi_fail_buf(err, en, rc, "out of memory");
  free(t.probs);
  free(t.inten);
  return rc;
}

/* ROC area of scores p (n) for binary truth t: the Mann-Whitney statistic, ties counted half.
 * NaN without positives or negatives. */
typedef struct scored {
  float p;
  int t;
} scored;
static int cmp_scored(const void *a, const void *b) {
  float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
  return (x > y) - (x < y);
}
static double roc_auc(scored *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_scored);
  double pos = 0, neg = 0, rank_sum = 0;
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && v[j].p == v[i].p) j++;
    double rank = 0.5 * (i + 1 + j); /* mean 1-based rank of the tie group */
    for (int k = i; k < j; k++)
      if (v[k].t)
        rank_sum += rank, pos++;
      else
        neg++;
    i = j;
  }
  if (pos == 0 || neg == 0) return NAN;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

/* emo_head_cross_validate_multilabel's held-out probabilities, (n, C). */
typedef struct ml_tally {
  const emo_train_set *s;
  float *probs;
} ml_tally;

static void ml_visit(void *ctx, const emo_head *h, int i) {
  ml_tally *t = ctx;
  const emo_train_set *s = t->s;
  emo_head_predict(h, s->x + (size_t)i * s->dim, t->probs + (size_t)i * s->n_classes, NULL);
}

int emo_head_cross_validate_multilabel(const emo_train_set *s, const emo_train_params *pp,
                                       int folds, emo_cv_report *rep, double *f1, double *auc,
                                       char *err, size_t en) {
  if (!rep || !f1 || !auc || !s || !s->targets) return EMO_EINVAL;
  if (err && en) err[0] = 0;
  emo_train_params p = pp ? *pp : emo_train_params_default();
  int rc = check_set(s, &p, err, en);
  if (rc) return rc;
  int n = s->n, C = s->n_classes;
  float *probs = malloc((size_t)n * C * sizeof(float)); /* (n, C) out-of-fold */
  scored *v = malloc((size_t)n * sizeof *v);
  ml_tally t = {.s = s, .probs = probs};
  rc = EMO_ENOMEM;
  if (!probs || !v) goto done;
  rc = out_of_fold(s, &p, folds, rep, ml_visit, &t, err, en);
  if (rc) goto done;
  int exact = 0;
  for (int i = 0; i < n; i++) {
    int all = 1;
    for (int k = 0; k < C; k++) all &= (probs[(size_t)i * C + k] >= 0.5f) == carries(s, i, k);
    exact += all;
  }
  double f1_sum = 0, auc_sum = 0;
  int n_auc = 0;
  for (int k = 0; k < C; k++) {
    double tp = 0, fp = 0, fn = 0;
    for (int i = 0; i < n; i++) {
      int pred = probs[(size_t)i * C + k] >= 0.5f, t = carries(s, i, k);
      tp += pred && t;
      fp += pred && !t;
      fn += !pred && t;
      v[i].p = probs[(size_t)i * C + k];
      v[i].t = t;
    }
    f1[k] = tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
    auc[k] = roc_auc(v, n);
    f1_sum += f1[k];
    if (!isnan(auc[k])) auc_sum += auc[k], n_auc++;
  }
  rep->accuracy = (double)exact / n;
  rep->macro_f1 = f1_sum / C;
  rep->unweighted = n_auc ? auc_sum / n_auc : NAN;
  rep->intensity_mae = NAN;
  rc = EMO_OK;
done:
  if (rc == EMO_ENOMEM && err && en && !err[0]) emoi_fail_buf(err, en, rc, "out of memory");
  free(probs);
  free(v);
  return rc;
}
