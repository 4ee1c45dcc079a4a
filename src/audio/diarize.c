/* diarize.c: speaker diarization by BIC change detection, BIC agglomerative clustering of
 * Gaussian statistics (or of caller-supplied embeddings) and Viterbi resegmentation; the
 * method, its references and what is left to others are in diarize.h. Also a plain energy
 * speech detector (dia_energy_vad).
 *
 * Conventions: frame t (10 ms hop, 25 ms window, audio/features.h) stands for the time span
 * [t * 0.01, (t + 1) * 0.01) s. Features are (n_frames, DIM) row-major floats. */
#include "audio/diarize.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/features.h"

#define NCEP 20        /* MFCC computed: c0..c19 */
#define DIM (NCEP - 1) /* c1..c19 used (c0, the frame energy, says little about the voice) */
#define FPS 100        /* frames per second */
#define HOP 160        /* samples per frame hop */
#define CHANGE_STEP 5  /* change-detector hop, frames */
#define NPARAM (DIM + DIM * (DIM + 1) / 2) /* free parameters of a full-covariance Gaussian */

typedef struct span {
  int f0, f1;    /* frames [f0, f1) */
  int clustered; /* 1: a clustering piece; 0: too short, labelled afterwards */
} span;

/* Sufficient statistics of frames: count, sum, sum of outer products (upper triangle used). */
typedef struct gstat {
  double n;
  double s[DIM];
  double sxx[DIM * DIM]; /* (DIM, DIM) */
} gstat;

/* Full-covariance Gaussian ready for scoring: lower Cholesky factor of the covariance. */
typedef struct gmodel {
  double mu[DIM];
  double chol[DIM * DIM]; /* (DIM, DIM) lower triangle */
  double logdet;
} gmodel;

void dia_config_default(dia_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->min_speakers = 1;
  cfg->max_speakers = DIA_MAX_SPEAKERS;
  cfg->piece_sec = 2.5f;
  cfg->min_piece_sec = 0.5f;
  cfg->change_win_sec = 1.0f;
  cfg->change_lambda = 1.0f;
  cfg->bic_lambda = 1.5f;
  cfg->max_pieces = 2000;
  cfg->reseg_iters = 3;
  cfg->switch_cost = 1000.0f;
  cfg->min_seg_sec = 0.3f;
  cfg->min_speaker_sec = (float)NPARAM / FPS; /* 209 frames: 2.09 s */
  cfg->max_seconds = 7200.0f;
  cfg->embed_threshold = 0.5f;
}

void dia_result_free(dia_result *out) {
  if (!out) return;
  free(out->segs);
  memset(out, 0, sizeof *out);
}

/* ---- Gaussian statistics ------------------------------------------------------------ */

static void gstat_add(gstat *g, const float *x) {
  g->n += 1.0;
  for (int i = 0; i < DIM; i++) {
    double xi = x[i];
    g->s[i] += xi;
    double *row = g->sxx + i * DIM;
    for (int j = i; j < DIM; j++) row[j] += xi * x[j];
  }
}

static void gstat_merge(gstat *dst, const gstat *a, const gstat *b) {
  dst->n = a->n + b->n;
  for (int i = 0; i < DIM; i++) dst->s[i] = a->s[i] + b->s[i];
  for (int i = 0; i < DIM * DIM; i++) dst->sxx[i] = a->sxx[i] + b->sxx[i];
}

/* Covariance of g (upper triangle filled, then mirrored) with a small ridge, factored in
 * place into its lower Cholesky factor; returns log det, or a large finite value when the
 * statistics are degenerate (few frames, non-finite input). m: (DIM, DIM). */
static double gstat_chol(const gstat *g, double *mu, double *m) {
  double n = g->n > 0 ? g->n : 1.0;
  for (int i = 0; i < DIM; i++) mu[i] = g->s[i] / n;
  double trace = 0;
  for (int i = 0; i < DIM; i++) trace += g->sxx[i * DIM + i] / n - mu[i] * mu[i];
  double ridge = 1e-4 * (trace > 0 ? trace / DIM : 1.0) + 1e-6;
  for (int attempt = 0; attempt < 4; attempt++, ridge *= 100.0) {
    for (int i = 0; i < DIM; i++)
      for (int j = 0; j <= i; j++) {
        double c = g->sxx[j * DIM + i] / n - mu[i] * mu[j];
        m[i * DIM + j] = c + (i == j ? ridge : 0.0);
      }
    double logdet = 0;
    int ok = 1;
    for (int j = 0; j < DIM && ok; j++) {
      double d = m[j * DIM + j];
      for (int k = 0; k < j; k++) d -= m[j * DIM + k] * m[j * DIM + k];
      if (!(d > 1e-12) || !isfinite(d)) {
        ok = 0;
        break;
      }
      d = sqrt(d);
      m[j * DIM + j] = d;
      logdet += 2.0 * log(d);
      for (int i = j + 1; i < DIM; i++) {
        double v = m[i * DIM + j];
        for (int k = 0; k < j; k++) v -= m[i * DIM + k] * m[j * DIM + k];
        m[i * DIM + j] = v / d;
      }
    }
    if (ok) return logdet;
  }
  for (int i = 0; i < DIM * DIM; i++) m[i] = 0;
  for (int i = 0; i < DIM; i++) m[i * DIM + i] = 1.0;
  return 0.0;
}

/* 0.5 n log det(covariance): the negative log-likelihood of the frames under their own ML
 * Gaussian, up to terms that cancel in Delta-BIC. */
static double gstat_cost(const gstat *g) {
  double mu[DIM], m[DIM * DIM];
  return 0.5 * g->n * gstat_chol(g, mu, m);
}

static void gmodel_fit(gmodel *gm, const gstat *g) {
  gm->logdet = gstat_chol(g, gm->mu, gm->chol);
}

/* log N(x; mu, Sigma) + DIM/2 log(2 pi). */
static double gmodel_ll(const gmodel *gm, const float *x) {
  double z[DIM], q = 0;
  for (int i = 0; i < DIM; i++) {
    double v = x[i] - gm->mu[i];
    const double *row = gm->chol + i * DIM;
    for (int k = 0; k < i; k++) v -= row[k] * z[k];
    z[i] = v / row[i];
    q += z[i] * z[i];
  }
  return -0.5 * (gm->logdet + q);
}

/* ---- features ----------------------------------------------------------------------- */

static feat_params dia_feat_params(void) {
  feat_params p = feat_params_default();
  p.n_mels = 40;
  p.n_mfcc = NCEP;
  p.f_min = 20.0f;
  p.f_max = 7600.0f;
  return p;
}

int dia_feats_init(dia_feats *s, emoi_err *err) {
  memset(s, 0, sizeof *s);
  s->fc = malloc(sizeof *s->fc);
  if (!s->fc) return emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (feature tables)");
  feat_params p = dia_feat_params();
  int rc = feat_config_init(s->fc, &p, err);
  if (rc) dia_feats_free(s);
  return rc;
}

void dia_feats_free(dia_feats *s) {
  free(s->fc);
  free(s->rows);
  free(s->buf);
  memset(s, 0, sizeof *s);
}

/* Appends the frames that pcm[0..n) completes: MFCC c0..c19 of each, written NCEP apart after
 * the existing rows and compacted to c1..c19 in place (row t's destination never lies after
 * its source). Non-finite values become 0. */
int dia_feats_push(dia_feats *s, const float *pcm, int n, emoi_err *err) {
  if (n <= 0) return EMO_OK;
  if (s->buf_n + n > s->buf_cap) {
    int cap = s->buf_cap ? s->buf_cap : 4096;
    while (cap < s->buf_n + n) cap *= 2;
    float *b = realloc(s->buf, (size_t)cap * sizeof *b);
    if (!b) return emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (samples)");
    s->buf = b;
    s->buf_cap = cap;
  }
  memcpy(s->buf + s->buf_n, pcm, (size_t)n * sizeof *pcm);
  s->buf_n += n;
  int frames = feat_num_frames(s->fc, s->buf_n);
  if (frames <= 0) return EMO_OK;
  size_t need = (size_t)s->nf * DIM + (size_t)frames * NCEP;
  if (need > (size_t)s->cap) {
    size_t cap = s->cap ? (size_t)s->cap : 65536;
    while (cap < need) cap *= 2;
    if (cap > (size_t)INT32_MAX) return emoi_fail(err, EMO_ENOMEM, "diarize: too many frames");
    float *r = realloc(s->rows, cap * sizeof *r);
    if (!r) return emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (%d frames)", s->nf);
    s->rows = r;
    s->cap = (int)cap;
  }
  float *f = s->rows + (size_t)s->nf * DIM;
  int got = 0;
  int rc = feat_mfcc(s->fc, s->buf, s->buf_n, f, &got);
  if (rc || got != frames) return emoi_fail(err, rc ? rc : EMO_EINTERNAL, "diarize: MFCC failed");
  for (int t = 0; t < frames; t++)
    for (int i = 0; i < DIM; i++) {
      float v = f[(size_t)t * NCEP + 1 + i];
      f[(size_t)t * DIM + i] = isfinite(v) ? v : 0.0f;
    }
  s->nf += frames;
  int used = frames * HOP; /* the next frame starts here */
  memmove(s->buf, s->buf + used, (size_t)(s->buf_n - used) * sizeof *s->buf);
  s->buf_n -= used;
  return EMO_OK;
}

/* MFCC c1..c19 of the whole input: *feat (nf, DIM), malloc'd. */
static int compute_features(const float *pcm, int n, float **feat, int *nf, emoi_err *err) {
  *feat = NULL;
  *nf = 0;
  dia_feats s;
  int rc = dia_feats_init(&s, err);
  if (rc) return rc;
  for (int at = 0; rc == EMO_OK && at < n; at += DIA_SAMPLE_RATE) /* 1 s at a time */
    rc = dia_feats_push(&s, pcm + at, n - at < DIA_SAMPLE_RATE ? n - at : DIA_SAMPLE_RATE, err);
  if (rc == EMO_OK) {
    *feat = s.rows;
    *nf = s.nf;
    s.rows = NULL;
  }
  dia_feats_free(&s);
  return rc;
}

/* Frame index of time t seconds, clamped to [0, nf]. */
static int sec_to_frame(double t, int nf) {
  if (!(t > 0)) return 0; /* also NaN */
  double f = floor(t * FPS + 0.5);
  return f >= (double)nf ? nf : (int)f;
}

/* ---- change detection --------------------------------------------------------------- */

/* Diagonal-Gaussian Delta-BIC of splitting [t-w, t+w) at t (w frames each side). */
static double change_score(const float *feat, int t, int w, double lambda) {
  double s1[DIM] = {0}, q1[DIM] = {0}, s2[DIM] = {0}, q2[DIM] = {0};
  for (int u = t - w; u < t; u++)
    for (int i = 0; i < DIM; i++) {
      double x = feat[(size_t)u * DIM + i];
      s1[i] += x;
      q1[i] += x * x;
    }
  for (int u = t; u < t + w; u++)
    for (int i = 0; i < DIM; i++) {
      double x = feat[(size_t)u * DIM + i];
      s2[i] += x;
      q2[i] += x * x;
    }
  double r = 0;
  for (int i = 0; i < DIM; i++) {
    double v1 = q1[i] / w - (s1[i] / w) * (s1[i] / w);
    double v2 = q2[i] / w - (s2[i] / w) * (s2[i] / w);
    double m = (s1[i] + s2[i]) / (2.0 * w);
    double v = (q1[i] + q2[i]) / (2.0 * w) - m * m;
    v1 = v1 > 1e-3 ? v1 : 1e-3;
    v2 = v2 > 1e-3 ? v2 : 1e-3;
    v = v > 1e-3 ? v : 1e-3;
    r += w * log(v) - 0.5 * w * log(v1) - 0.5 * w * log(v2);
  }
  /* the split model has 2 DIM more parameters (a second mean and diagonal variance) */
  return r - lambda * 0.5 * (2.0 * DIM) * log(2.0 * w);
}

/* Change points inside region [a, b): appended (sorted) to cuts[*nc]. score: scratch of at
 * least (b - a) / CHANGE_STEP + 1 doubles. */
static void detect_changes(const float *feat, int a, int b, int w, double lambda, double *score,
                           int *cuts, int *nc) {
  if (w <= 0 || b - a < 2 * w + CHANGE_STEP) return;
  int first = a + w, nsc = 0;
  for (int t = first; t + w <= b; t += CHANGE_STEP) score[nsc++] = change_score(feat, t, w, lambda);
  int start = *nc;
  for (;;) {
    int best = -1;
    for (int k = 0; k < nsc; k++)
      if (score[k] > 0 && (best < 0 || score[k] > score[best])) best = k;
    if (best < 0) break;
    int t = first + best * CHANGE_STEP;
    cuts[(*nc)++] = t;
    for (int k = 0; k < nsc; k++) {
      int tk = first + k * CHANGE_STEP;
      if (tk > t - w && tk < t + w) score[k] = -1.0;
    }
  }
  /* insertion sort of this region's cuts */
  for (int i = start + 1; i < *nc; i++) {
    int v = cuts[i], j = i - 1;
    while (j >= start && cuts[j] > v) {
      cuts[j + 1] = cuts[j];
      j--;
    }
    cuts[j + 1] = v;
  }
}

/* ---- clustering --------------------------------------------------------------------- */

typedef struct ahc {
  int P;                 /* pieces */
  float *D;              /* (P, P) merge costs of active clusters, symmetric */
  int *nn;               /* (P) nearest active neighbour of each active cluster */
  unsigned char *active; /* (P) */
  gstat *g;              /* (P) cluster statistics (BIC mode) or NULL */
  double *cost;          /* (P) gstat_cost of each cluster (BIC mode) */
  double *w;             /* (P) pieces per cluster (embedding mode) */
  double lambda;
} ahc;

static double bic_pair(const ahc *h, int i, int j) {
  gstat m;
  gstat_merge(&m, &h->g[i], &h->g[j]);
  double pen = h->lambda * 0.5 * NPARAM * log(m.n);
  return gstat_cost(&m) - h->cost[i] - h->cost[j] - pen;
}

static void ahc_nn(ahc *h, int i) {
  int best = -1;
  for (int j = 0; j < h->P; j++)
    if (j != i && h->active[j] &&
        (best < 0 || h->D[(size_t)i * h->P + j] < h->D[(size_t)i * h->P + best]))
      best = j;
  h->nn[i] = best;
}

/* Merges clusters until the stop rule; assign[p] receives the cluster of each piece, numbered
 * 0 .. K-1. Returns K. */
static int ahc_run(ahc *h, double stop, int min_k, int max_k, int *assign) {
  int P = h->P, K = P;
  for (int p = 0; p < P; p++) assign[p] = p;
  for (int i = 0; i < P; i++) ahc_nn(h, i);
  while (K > 1 && K > min_k) {
    int bi = -1;
    for (int i = 0; i < P; i++)
      if (h->active[i] && h->nn[i] >= 0 &&
          (bi < 0 || h->D[(size_t)i * P + h->nn[i]] < h->D[(size_t)bi * P + h->nn[bi]]))
        bi = i;
    if (bi < 0) break;
    int bj = h->nn[bi];
    double d = h->D[(size_t)bi * P + bj];
    if (K <= max_k && !(d < stop)) break;
    int i = bi < bj ? bi : bj, j = bi < bj ? bj : bi; /* j merges into i */
    if (h->g) {
      gstat_merge(&h->g[i], &h->g[i], &h->g[j]);
      h->cost[i] = gstat_cost(&h->g[i]);
    }
    h->active[j] = 0;
    K--;
    for (int p = 0; p < P; p++)
      if (assign[p] == j) assign[p] = i;
    for (int k = 0; k < P; k++) {
      if (!h->active[k] || k == i) continue;
      double v;
      if (h->g) {
        v = bic_pair(h, i, k);
      } else { /* average linkage (Lance-Williams) */
        v = (h->w[i] * h->D[(size_t)i * P + k] + h->w[j] * h->D[(size_t)j * P + k]) /
            (h->w[i] + h->w[j]);
      }
      h->D[(size_t)i * P + k] = h->D[(size_t)k * P + i] = (float)v;
    }
    if (!h->g) h->w[i] += h->w[j];
    ahc_nn(h, i);
    for (int k = 0; k < P; k++) {
      if (!h->active[k] || k == i) continue;
      if (h->nn[k] == i || h->nn[k] == j)
        ahc_nn(h, k);
      else if (h->D[(size_t)k * P + i] < h->D[(size_t)k * P + h->nn[k]])
        h->nn[k] = i;
    }
  }
  /* renumber to 0 .. K-1 */
  int *map = h->nn; /* reuse as scratch */
  for (int i = 0; i < P; i++) map[i] = -1;
  int k = 0;
  for (int p = 0; p < P; p++) {
    if (map[assign[p]] < 0) map[assign[p]] = k++;
    assign[p] = map[assign[p]];
  }
  return k;
}

/* ---- resegmentation ----------------------------------------------------------------- */

/* Viterbi over frames [a, b) with K models; writes labels. bp: (b - a, K) scratch. */
static void viterbi(const float *feat, int a, int b, const gmodel *m, int K, double cost,
                    unsigned char *bp, int *lab) {
  double delta[DIA_MAX_SPEAKERS], nd[DIA_MAX_SPEAKERS];
  for (int k = 0; k < K; k++) delta[k] = gmodel_ll(&m[k], feat + (size_t)a * DIM);
  for (int t = a + 1; t < b; t++) {
    int best = 0;
    for (int k = 1; k < K; k++)
      if (delta[k] > delta[best]) best = k;
    unsigned char *row = bp + (size_t)(t - a) * K;
    for (int k = 0; k < K; k++) {
      double stay = delta[k], sw = delta[best] - cost;
      double ll = gmodel_ll(&m[k], feat + (size_t)t * DIM);
      if (stay >= sw) {
        nd[k] = stay + ll;
        row[k] = (unsigned char)k;
      } else {
        nd[k] = sw + ll;
        row[k] = (unsigned char)best;
      }
    }
    memcpy(delta, nd, sizeof(double) * K);
  }
  int k = 0;
  for (int j = 1; j < K; j++)
    if (delta[j] > delta[k]) k = j;
  for (int t = b - 1; t >= a; t--) {
    lab[t] = k;
    if (t > a) k = bp[(size_t)(t - a) * K + k];
  }
}

/* Fits one model per label 0..K-1 from frame labels; labels of speakers with fewer than
 * min_frames frames are dropped (if another remains) and the rest renumbered.
 * Returns the new K (>= 1 when any frame is labelled). */
static int fit_models(const float *feat, int nf, int *lab, int K, int min_frames, gmodel *m,
                      gstat *g) {
  for (int k = 0; k < K; k++) memset(&g[k], 0, sizeof g[k]);
  for (int t = 0; t < nf; t++)
    if (lab[t] >= 0) gstat_add(&g[lab[t]], feat + (size_t)t * DIM);
  int map[DIA_MAX_SPEAKERS], nk = 0, biggest = 0;
  for (int k = 0; k < K; k++)
    if (g[k].n > g[biggest].n) biggest = k;
  for (int k = 0; k < K; k++) map[k] = (g[k].n >= min_frames || k == biggest) ? nk++ : -1;
  for (int k = 0; k < K; k++)
    if (map[k] >= 0) gmodel_fit(&m[map[k]], &g[k]);
  if (nk < K) /* frames of dropped speakers go to the biggest until the next decoding */
    for (int t = 0; t < nf; t++)
      if (lab[t] >= 0) lab[t] = map[lab[t]] >= 0 ? map[lab[t]] : map[biggest];
  return nk;
}

/* Label of the likeliest model over frames [a, b). */
static int best_model(const float *feat, int a, int b, const gmodel *m, int K) {
  double best = -DBL_MAX;
  int bk = 0;
  for (int k = 0; k < K; k++) {
    double s = 0;
    for (int t = a; t < b; t++) s += gmodel_ll(&m[k], feat + (size_t)t * DIM);
    if (s > best) {
      best = s;
      bk = k;
    }
  }
  return bk;
}

/* Runs shorter than minlen inside [a, b) take the label of a neighbouring run. */
static void smooth_runs(int *lab, int a, int b, int minlen) {
  for (int pass = 0; pass < 2; pass++) {
    int t = a;
    while (t < b) {
      int e = t;
      while (e < b && lab[e] == lab[t]) e++;
      if (e - t < minlen && !(t == a && e == b)) {
        int nl = t > a ? lab[t - 1] : lab[e];
        for (int u = t; u < e; u++) lab[u] = nl;
      }
      t = e;
    }
  }
}

/* ---- the whole thing ---------------------------------------------------------------- */

static int check_config(const dia_config *c, emoi_err *err) {
  if (c->max_speakers < 1 || c->max_speakers > DIA_MAX_SPEAKERS)
    return emoi_fail(err, EMO_EINVAL, "diarize: max_speakers %d not in 1..%d", c->max_speakers,
                     DIA_MAX_SPEAKERS);
  if (c->min_speakers < 1 || c->min_speakers > c->max_speakers)
    return emoi_fail(err, EMO_EINVAL, "diarize: min_speakers %d not in 1..max_speakers",
                     c->min_speakers);
  if (!(c->piece_sec >= 0.1f && c->piece_sec <= 60.0f))
    return emoi_fail(err, EMO_EINVAL, "diarize: piece_sec not in [0.1, 60]");
  if (!(c->min_piece_sec >= 0.2f && c->min_piece_sec <= c->piece_sec))
    return emoi_fail(err, EMO_EINVAL, "diarize: min_piece_sec not in [0.2, piece_sec]");
  if (!(c->change_win_sec >= 0.0f && c->change_win_sec <= 10.0f))
    return emoi_fail(err, EMO_EINVAL, "diarize: change_win_sec not in [0, 10]");
  if (!isfinite(c->change_lambda) || !isfinite(c->bic_lambda) || !isfinite(c->switch_cost) ||
      !(c->switch_cost >= 0.0f))
    return emoi_fail(err, EMO_EINVAL, "diarize: lambda/switch_cost must be finite, cost >= 0");
  if (c->max_pieces < 2 || c->max_pieces > 20000)
    return emoi_fail(err, EMO_EINVAL, "diarize: max_pieces %d not in 2..20000", c->max_pieces);
  if (c->reseg_iters < 0 || c->reseg_iters > 20)
    return emoi_fail(err, EMO_EINVAL, "diarize: reseg_iters %d not in 0..20", c->reseg_iters);
  if (!(c->min_seg_sec >= 0.0f && c->min_seg_sec <= 10.0f))
    return emoi_fail(err, EMO_EINVAL, "diarize: min_seg_sec not in [0, 10]");
  if (!(c->min_speaker_sec >= 0.0f && c->min_speaker_sec <= 600.0f))
    return emoi_fail(err, EMO_EINVAL, "diarize: min_speaker_sec not in [0, 600]");
  if (!(c->max_seconds > 0.0f && c->max_seconds <= 1e6f))
    return emoi_fail(err, EMO_EINVAL, "diarize: max_seconds not in (0, 1e6]");
  if (c->embed && (c->embed_dim < 1 || c->embed_dim > 4096 || !isfinite(c->embed_threshold)))
    return emoi_fail(err, EMO_EINVAL, "diarize: embed_dim %d not in 1..4096 or bad threshold",
                     c->embed_dim);
  return 0;
}

/* Builds the pieces: speech regions split at change points, then cut into pieces of at most
 * piece frames; stretches shorter than minp are kept unclustered. Returns the count written
 * to out (capacity cap), or -1 when more clustering pieces than max_pieces would result. */
static int make_pieces(const int *reg, int nreg, const int *cuts, const int *cut_off, int piece,
                       int minp, int max_pieces, span *out, int cap) {
  int n = 0, nclust = 0;
  for (int r = 0; r < nreg; r++) {
    int a = reg[2 * r], b = reg[2 * r + 1];
    for (int c = cut_off[r]; c <= cut_off[r + 1]; c++) {
      int s = c == cut_off[r] ? a : cuts[c - 1];
      int e = c == cut_off[r + 1] ? b : cuts[c];
      int len = e - s;
      if (len <= 0) continue;
      int np = len < minp ? 1 : (len + piece - 1) / piece;
      for (int k = 0; k < np; k++) {
        if (n >= cap) return -1;
        out[n].f0 = s + (int)((long long)len * k / np);
        out[n].f1 = s + (int)((long long)len * (k + 1) / np);
        out[n].clustered = len >= minp;
        nclust += out[n].clustered;
        n++;
      }
    }
  }
  return nclust > max_pieces ? -1 : n;
}

static int run(const dia_config *cfg, const float *pcm, int n, float *feat, int nf, double duration,
               const dia_segment *speech, int n_speech, dia_result *out, emoi_err *err);

int dia_run(const dia_config *cfg, const float *pcm, int n, const dia_segment *speech, int n_speech,
            dia_result *out, emoi_err *err) {
  if (out) memset(out, 0, sizeof *out);
  if (!cfg || !out || n < 0 || n_speech < 0 || (n > 0 && !pcm) || (n_speech > 0 && !speech))
    return emoi_fail(err, EMO_EINVAL, "diarize: NULL or negative argument");
  int rc = check_config(cfg, err);
  if (rc) return rc;
  if ((double)n > (double)cfg->max_seconds * DIA_SAMPLE_RATE)
    return emoi_fail(err, EMO_ELIMIT, "diarize: input of %.1f s is longer than max_seconds %.1f",
                     (double)n / DIA_SAMPLE_RATE, (double)cfg->max_seconds);
  float *feat = NULL; /* (nf, DIM) */
  int nf = 0;
  rc = compute_features(pcm, n, &feat, &nf, err);
  if (rc == EMO_OK)
    rc = run(cfg, pcm, n, feat, nf, (double)n / DIA_SAMPLE_RATE, speech, n_speech, out, err);
  free(feat);
  return rc;
}

int dia_run_features(const dia_config *cfg, float *feat, int nf, double duration,
                     const dia_segment *speech, int n_speech, dia_result *out, emoi_err *err) {
  if (out) memset(out, 0, sizeof *out);
  if (!cfg || !out || nf < 0 || (nf > 0 && !feat) || n_speech < 0 || (n_speech > 0 && !speech) ||
      !(duration >= 0))
    return emoi_fail(err, EMO_EINVAL, "diarize: NULL or negative argument");
  if (cfg->embed)
    return emoi_fail(err, EMO_EINVAL, "diarize: a speaker-embedding model needs the samples");
  int rc = check_config(cfg, err);
  if (rc) return rc;
  if (duration > (double)cfg->max_seconds)
    return emoi_fail(err, EMO_ELIMIT, "diarize: input of %.1f s is longer than max_seconds %.1f",
                     duration, (double)cfg->max_seconds);
  return run(cfg, NULL, 0, feat, nf, duration, speech, n_speech, out, err);
}

/* ---- the stages of run() --------------------------------------------------------------- */

/* Marks the speech frames in mask (nf) from the speech segments and subtracts the mean of the
 * speech frames from every frame (cepstral mean normalisation). Returns the number of speech
 * frames; 0 means there is nothing to diarize. */
static long mark_speech(float *feat, int nf, const dia_segment *speech, int n_speech,
                        unsigned char *mask) {
  for (int s = 0; s < n_speech; s++) {
    if (!isfinite(speech[s].start) || !isfinite(speech[s].end)) continue;
    int f0 = sec_to_frame(speech[s].start, nf), f1 = sec_to_frame(speech[s].end, nf);
    if (f1 > f0) memset(mask + f0, 1, (size_t)(f1 - f0));
  }
  double mean[DIM] = {0};
  long cnt = 0;
  for (int t = 0; t < nf; t++)
    if (mask[t]) {
      cnt++;
      for (int i = 0; i < DIM; i++) mean[i] += feat[(size_t)t * DIM + i];
    }
  if (cnt == 0) return 0;
  for (int t = 0; t < nf; t++)
    for (int i = 0; i < DIM; i++) feat[(size_t)t * DIM + i] -= (float)(mean[i] / cnt);
  return cnt;
}

/* Number of speech regions (runs of mask); with reg non-NULL also writes them, reg (nreg, 2)
 * as frame ranges [start, end). */
static int speech_regions(const unsigned char *mask, int nf, int *reg) {
  int r = 0;
  for (int t = 0; t < nf; t++) {
    if (mask[t] && (t == 0 || !mask[t - 1]) && reg) reg[2 * r] = t;
    if (mask[t] && (t == nf - 1 || !mask[t + 1])) {
      if (reg) reg[2 * r + 1] = t + 1;
      r++;
    }
  }
  return r;
}

/* Step 2, change detection: BIC change points inside each region. Region r's cuts are
 * cuts[cut_off[r] .. cut_off[r + 1]); score is scratch (nf / CHANGE_STEP + 2). */
static void find_changes(const dia_config *cfg, const float *feat, const int *reg, int nreg,
                         double *score, int *cuts, int *cut_off) {
  int nc = 0, w = (int)(cfg->change_win_sec * FPS + 0.5f);
  for (int r = 0; r < nreg; r++) {
    cut_off[r] = nc;
    detect_changes(feat, reg[2 * r], reg[2 * r + 1], w, cfg->change_lambda, score, cuts, &nc);
  }
  cut_off[nreg] = nc;
}

/* Step 3, pieces: the regions split at the change points and cut to piece_sec, the pieces
 * lengthened until the clustering ones fit max_pieces. pieces has room for cap. Returns the
 * count. */
static int cut_pieces(const dia_config *cfg, const int *reg, int nreg, const int *cuts,
                      const int *cut_off, span *pieces, int cap) {
  int piece = (int)(cfg->piece_sec * FPS + 0.5f), minp = (int)(cfg->min_piece_sec * FPS + 0.5f);
  int npieces;
  while ((npieces = make_pieces(reg, nreg, cuts, cut_off, piece, minp, cfg->max_pieces, pieces,
                                cap)) < 0) {
    piece *= 2;
    minp *= 2;
  }
  return npieces;
}

/* Step 4, clustering: agglomerative clustering of the clustering pieces, by BIC on their
 * Gaussian statistics or, with cfg->embed, by cosine distance of the caller's embeddings of
 * their samples. Labels the pieces' frames in lab (nf; other frames -1) and writes the number
 * of clusters to *K. */
static int cluster_pieces(const dia_config *cfg, const float *pcm, int n, const float *feat, int nf,
                          const span *pieces, int npieces, int *lab, int *K, emoi_err *err) {
  int P = 0;
  for (int p = 0; p < npieces; p++) P += pieces[p].clustered;
  for (int t = 0; t < nf; t++) lab[t] = -1;
  *K = 1;
  if (P < 2) {
    for (int p = 0; p < npieces; p++)
      if (pieces[p].clustered)
        for (int t = pieces[p].f0; t < pieces[p].f1; t++) lab[t] = 0;
    return EMO_OK;
  }
  int rc = EMO_OK;
  ahc h;
  memset(&h, 0, sizeof h);
  float *emb = NULL;
  int *assign = NULL, *pidx = malloc((size_t)P * sizeof *pidx);
  if (!pidx) goto nomem;
  for (int p = 0, q = 0; p < npieces; p++)
    if (pieces[p].clustered) pidx[q++] = p;
  h.P = P;
  h.D = malloc((size_t)P * P * sizeof *h.D);
  h.nn = malloc((size_t)P * sizeof *h.nn);
  h.active = malloc((size_t)P);
  assign = malloc((size_t)P * sizeof *assign);
  if (!h.D || !h.nn || !h.active || !assign) goto nomem;
  memset(h.active, 1, (size_t)P);
  double stop;
  if (cfg->embed) {
    int dim = cfg->embed_dim;
    emb = malloc((size_t)P * dim * sizeof *emb);
    h.w = malloc((size_t)P * sizeof *h.w);
    if (!emb || !h.w) goto nomem;
    for (int q = 0; q < P; q++) {
      const span *s = &pieces[pidx[q]];
      long s0 = (long)s->f0 * HOP, s1 = (long)s->f1 * HOP + (400 - HOP);
      if (s1 > n) s1 = n;
      float *e = emb + (size_t)q * dim;
      if (cfg->embed(cfg->embed_user, pcm + s0, (int)(s1 - s0), e, dim) != 0) {
        rc = emoi_fail(err, EMO_EEXTERNAL, "diarize: embedding callback failed on piece %d", q);
        goto done;
      }
      double nrm = 0;
      for (int i = 0; i < dim; i++) nrm += isfinite(e[i]) ? (double)e[i] * e[i] : 0.0;
      nrm = nrm > 0 ? 1.0 / sqrt(nrm) : 0.0;
      for (int i = 0; i < dim; i++) e[i] = isfinite(e[i]) ? (float)(e[i] * nrm) : 0.0f;
      h.w[q] = 1.0;
    }
    for (int i = 0; i < P; i++)
      for (int j = 0; j < P; j++) {
        double dot = 0;
        for (int k = 0; k < dim; k++)
          dot += (double)emb[(size_t)i * dim + k] * emb[(size_t)j * dim + k];
        h.D[(size_t)i * P + j] = (float)(1.0 - dot);
      }
    stop = cfg->embed_threshold;
  } else {
    h.g = calloc((size_t)P, sizeof *h.g);
    h.cost = malloc((size_t)P * sizeof *h.cost);
    if (!h.g || !h.cost) goto nomem;
    h.lambda = cfg->bic_lambda;
    for (int q = 0; q < P; q++) {
      const span *s = &pieces[pidx[q]];
      for (int t = s->f0; t < s->f1; t++) gstat_add(&h.g[q], feat + (size_t)t * DIM);
      h.cost[q] = gstat_cost(&h.g[q]);
    }
    for (int i = 0; i < P; i++) {
      h.D[(size_t)i * P + i] = 0;
      for (int j = i + 1; j < P; j++)
        h.D[(size_t)i * P + j] = h.D[(size_t)j * P + i] = (float)bic_pair(&h, i, j);
    }
    stop = 0.0;
  }
  *K = ahc_run(&h, stop, cfg->min_speakers, cfg->max_speakers, assign);
  for (int q = 0; q < P; q++)
    for (int t = pieces[pidx[q]].f0; t < pieces[pidx[q]].f1; t++) lab[t] = assign[q];
  goto done;
nomem:
  rc = emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (%d frames)", nf);
done:
  free(pidx);
  free(assign);
  free(h.D);
  free(h.nn);
  free(h.active);
  free(h.g);
  free(h.cost);
  free(h.w);
  free(emb);
  return rc;
}

/* Step 5, resegmentation: a Gaussian model per speaker from the clustered frames (one speaker
 * over all speech when nothing was long enough to cluster); unclustered pieces take their
 * likeliest speaker; reseg_iters passes of Viterbi decoding within each region (refitting the
 * models between passes); then runs shorter than min_seg_sec are smoothed away. */
static int resegment(const dia_config *cfg, const float *feat, int nf, const unsigned char *mask,
                     const int *reg, int nreg, const span *pieces, int npieces, int *lab, int K,
                     emoi_err *err) {
  int rc = EMO_OK;
  unsigned char *bp = NULL;
  int min_spk = (int)(cfg->min_speaker_sec * FPS + 0.5f);
  if (min_spk < 1) min_spk = 1;
  gstat *gk = malloc(DIA_MAX_SPEAKERS * sizeof *gk);
  gmodel *models = malloc(DIA_MAX_SPEAKERS * sizeof *models);
  if (!gk || !models) goto nomem;
  int any = 0;
  for (int t = 0; t < nf && !any; t++) any = lab[t] >= 0;
  if (!any) { /* nothing long enough to cluster: one speaker */
    K = 1;
    for (int t = 0; t < nf; t++) lab[t] = mask[t] ? 0 : -1;
  }
  K = fit_models(feat, nf, lab, K, min_spk, models, gk);
  for (int p = 0; p < npieces; p++)
    if (!pieces[p].clustered) {
      int k = best_model(feat, pieces[p].f0, pieces[p].f1, models, K);
      for (int t = pieces[p].f0; t < pieces[p].f1; t++) lab[t] = k;
    }
  if (cfg->reseg_iters > 0 && K > 1) {
    int maxlen = 0;
    for (int r = 0; r < nreg; r++)
      if (reg[2 * r + 1] - reg[2 * r] > maxlen) maxlen = reg[2 * r + 1] - reg[2 * r];
    bp = malloc((size_t)maxlen * DIA_MAX_SPEAKERS);
    if (!bp) goto nomem;
    for (int it = 0; it < cfg->reseg_iters && K > 1; it++) {
      if (it > 0) K = fit_models(feat, nf, lab, K, min_spk, models, gk);
      for (int r = 0; r < nreg; r++)
        viterbi(feat, reg[2 * r], reg[2 * r + 1], models, K, cfg->switch_cost, bp, lab);
    }
  }
  int minlen = (int)(cfg->min_seg_sec * FPS + 0.5f);
  for (int r = 0; r < nreg; r++) smooth_runs(lab, reg[2 * r], reg[2 * r + 1], minlen);
  goto done;
nomem:
  rc = emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (%d frames)", nf);
done:
  free(gk);
  free(models);
  free(bp);
  return rc;
}

/* Step 6, segments: runs of one label over consecutive speech frames, speakers numbered by
 * first appearance, ends clipped to duration. Fills out (its segs malloc'd). */
static int make_segments(const unsigned char *mask, const int *lab, int nf, double duration,
                         dia_result *out, emoi_err *err) {
  int nseg = 0;
  for (int t = 0; t < nf; t++)
    if (mask[t] && (t == 0 || !mask[t - 1] || lab[t] != lab[t - 1])) nseg++;
  dia_segment *segs = malloc(((size_t)nseg + 1) * sizeof *segs);
  if (!segs) return emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (%d frames)", nf);
  int map[DIA_MAX_SPEAKERS], nspk = 0, k = -1;
  for (int i = 0; i < DIA_MAX_SPEAKERS; i++) map[i] = -1;
  for (int t = 0; t < nf; t++) {
    if (!mask[t]) continue;
    if (t == 0 || !mask[t - 1] || lab[t] != lab[t - 1]) {
      int l = lab[t] >= 0 && lab[t] < DIA_MAX_SPEAKERS ? lab[t] : 0;
      if (map[l] < 0) map[l] = nspk++;
      k++;
      segs[k].start = (double)t / FPS;
      segs[k].speaker = map[l];
    }
    double e = (double)(t + 1) / FPS;
    segs[k].end = e < duration ? e : duration;
  }
  out->segs = segs;
  out->n = nseg;
  out->n_speakers = nspk;
  return EMO_OK;
}

/* Steps 2-6 of diarize.h on the features (pcm only for the embedding callback), one stage
 * function each: speech mask and mean normalisation, change detection, pieces, clustering,
 * resegmentation, segments. */
static int run(const dia_config *cfg, const float *pcm, int n, float *feat, int nf, double duration,
               const dia_segment *speech, int n_speech, dia_result *out, emoi_err *err) {
  if (nf == 0) return EMO_OK;
  int rc = EMO_OK, *reg = NULL, *cuts = NULL, *cut_off = NULL;
  unsigned char *mask = calloc((size_t)nf, 1);
  int *lab = malloc((size_t)nf * sizeof *lab);
  double *score = NULL;
  span *pieces = NULL;
  if (!mask || !lab) goto nomem;
  if (mark_speech(feat, nf, speech, n_speech, mask) == 0) goto done;
  int nreg = speech_regions(mask, nf, NULL);
  reg = malloc((size_t)nreg * 2 * sizeof *reg);
  cut_off = malloc(((size_t)nreg + 1) * sizeof *cut_off);
  cuts = malloc(((size_t)nf / CHANGE_STEP + 1) * sizeof *cuts);
  score = malloc(((size_t)nf / CHANGE_STEP + 2) * sizeof *score);
  if (!reg || !cut_off || !cuts || !score) goto nomem;
  speech_regions(mask, nf, reg);
  find_changes(cfg, feat, reg, nreg, score, cuts, cut_off);
  int cap = nreg + cut_off[nreg] + cfg->max_pieces + 1;
  pieces = malloc((size_t)cap * sizeof *pieces);
  if (!pieces) goto nomem;
  int npieces = cut_pieces(cfg, reg, nreg, cuts, cut_off, pieces, cap), K;
  if ((rc = cluster_pieces(cfg, pcm, n, feat, nf, pieces, npieces, lab, &K, err)) ||
      (rc = resegment(cfg, feat, nf, mask, reg, nreg, pieces, npieces, lab, K, err)))
    goto done;
  rc = make_segments(mask, lab, nf, duration, out, err);
  goto done;
nomem:
  rc = emoi_fail(err, EMO_ENOMEM, "diarize: out of memory (%d frames)", nf);
done:
  free(mask);
  free(lab);
  free(reg);
  free(cuts);
  free(cut_off);
  free(score);
  free(pieces);
  if (rc) dia_result_free(out);
  return rc;
}

/* ---- energy speech detector --------------------------------------------------------- */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int dia_energy_vad(const float *pcm, int n, float threshold_db, dia_result *out, emoi_err *err) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || n < 0 || (n > 0 && !pcm) || !isfinite(threshold_db))
    return emoi_fail(err, EMO_EINVAL, "energy_vad: NULL, negative or non-finite argument");
  const int win = 400, gap = 30, minrun = 25;
  int nf = n < win ? 0 : 1 + (n - win) / HOP;
  if (nf == 0) return 0;
  float *e = malloc((size_t)nf * sizeof *e), *sorted = malloc((size_t)nf * sizeof *sorted);
  unsigned char *sp = malloc((size_t)nf);
  /* a segment is a run of at least minrun frames: at most nf / minrun of them */
  dia_segment *segs = malloc(((size_t)nf / minrun + 1) * sizeof *segs);
  if (!e || !sp || !sorted || !segs) {
    free(e);
    free(sorted);
    free(sp);
    free(segs);
    return emoi_fail(err, EMO_ENOMEM, "energy_vad: out of memory (%d frames)", nf);
  }
  for (int t = 0; t < nf; t++) { /* frame energy in dB after removing the frame mean */
    const float *x = pcm + (size_t)t * HOP;
    double m = 0, q = 0;
    for (int i = 0; i < win; i++) m += isfinite(x[i]) ? x[i] : 0.0f;
    m /= win;
    for (int i = 0; i < win; i++) {
      double v = (isfinite(x[i]) ? x[i] : 0.0f) - m;
      q += v * v;
    }
    e[t] = (float)(10.0 * log10(q / win + 1e-12));
    sorted[t] = e[t];
  }
  qsort(sorted, (size_t)nf, sizeof *sorted, cmp_float);
  float thr = sorted[nf / 10] + threshold_db;
  for (int t = 0; t < nf; t++) sp[t] = e[t] > thr;
  /* fill short gaps between speech runs */
  int last = -1;
  for (int t = 0; t < nf; t++)
    if (sp[t]) {
      if (last >= 0 && t - last - 1 > 0 && t - last - 1 < gap)
        memset(sp + last + 1, 1, (size_t)(t - last - 1));
      last = t;
    }
  /* the runs left are the segments; shorter runs are dropped */
  const double tmax = (double)n / DIA_SAMPLE_RATE;
  int nseg = 0;
  for (int t = 0; t < nf;) {
    if (!sp[t]) {
      t++;
      continue;
    }
    int u = t;
    while (u < nf && sp[u]) u++;
    if (u - t >= minrun) {
      dia_segment *g = &segs[nseg++];
      g->start = (double)t * HOP / DIA_SAMPLE_RATE;
      const double end = ((double)(u - 1) * HOP + win) / DIA_SAMPLE_RATE;
      g->end = end < tmax ? end : tmax;
      g->speaker = 0;
    }
    t = u;
  }
  free(e);
  free(sorted);
  free(sp);
  out->segs = segs;
  out->n = nseg;
  out->n_speakers = nseg > 0;
  return 0;
}
