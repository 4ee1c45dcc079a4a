/* shot_cut.c: see shot_cut.h. */
#include "vision/shot_cut.h"

#include <math.h>
#include <string.h>

#define HARD_D 35.0f     /* mean absolute difference (0..255) that is a cut whatever else */
#define HARD_R 0.5f      /* pattern correlation below which ... */
#define HARD_R_D 6.0f    /* ... a change of at least this much is a cut */
#define ADAPT_RATIO 5.0f /* or a change this many times the recent mean ... */
#define ADAPT_D 12.0f    /* ... of at least this much, with correlation below ADAPT_R */
#define ADAPT_R 0.85f
#define SUSPECT_D 12.0f /* a change that is no cut but asks for verification */
#define SUSPECT_R 0.8f
#define GRAD_SPAN 0.6       /* seconds between the two ends compared by the dissolve test */
#define GRAD_R 0.5f         /* the ends' correlation below this ... */
#define GRAD_D 10.0f        /* ... and their difference above this */
#define GRAD_RESIDUAL 0.35f /* the middle's residual from the best blend, relative */
#define GRAD_STABLE_D 8.0f  /* the end frame changes less than this from its predecessor */
#define FLAT_VAR 4.0f       /* a grid with less variance has no pattern (black, one colour) */

void sc_reset(sc_state *s) {
  if (!s) return;
  s->head = s->n = 0;
  s->n_recent = 0;
  s->have_cut = 0;
  s->last_cut_t = 0.0;
}

static float mad(const uint8_t *a, const uint8_t *b) {
  int s = 0;
  for (int i = 0; i < SC_CELLS; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
  return (float)s / SC_CELLS;
}

static float mean_of(const uint8_t *a) {
  int s = 0;
  for (int i = 0; i < SC_CELLS; i++) s += a[i];
  return (float)s / SC_CELLS;
}

/* Pearson correlation of two grids; 1 when both are flat, 0 when one is. */
static float corr(const uint8_t *a, const uint8_t *b) {
  double ma = mean_of(a), mb = mean_of(b), sab = 0.0, saa = 0.0, sbb = 0.0;
  for (int i = 0; i < SC_CELLS; i++) {
    double da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  int fa = saa / SC_CELLS < FLAT_VAR, fb = sbb / SC_CELLS < FLAT_VAR;
  if (fa && fb) return 1.0f;
  if (fa || fb) return 0.0f;
  return (float)(sab / sqrt(saa * sbb));
}

/* Whether m is a blend a*x + (1-a)*c of x and c with a in (0.15, 0.85) and a small residual. */
static int is_blend(const uint8_t *x, const uint8_t *m, const uint8_t *c) {
  double num = 0.0, den = 0.0;
  for (int i = 0; i < SC_CELLS; i++) {
    double u = (double)x[i] - c[i], v = (double)m[i] - c[i];
    num += u * v;
    den += u * u;
  }
  if (!(den > 0.0)) return 0;
  double a = num / den, res = 0.0;
  if (a < 0.15 || a > 0.85) return 0;
  for (int i = 0; i < SC_CELLS; i++) {
    double r = (double)m[i] - c[i] - a * ((double)x[i] - c[i]);
    res += r * r;
  }
  return sqrt(res / den) < GRAD_RESIDUAL;
}

static const uint8_t *grid_at(const sc_state *s, int back) { /* back 0 = newest */
  return s->grid[(s->head - back + SC_HISTORY) % SC_HISTORY];
}

static double t_at(const sc_state *s, int back) {
  return s->t[(s->head - back + SC_HISTORY) % SC_HISTORY];
}

/* The dissolve / fade test ending at the newest grid (see shot_cut.h). */
static int gradual(const sc_state *s, float d_now) {
  if (d_now > GRAD_STABLE_D || s->n < 3) return 0;
  double tc = t_at(s, 0);
  if (s->have_cut && tc - s->last_cut_t < 1.0 + GRAD_SPAN) return 0;
  int ia = -1;
  for (int k = 2; k < s->n; k++)
    if (t_at(s, k) <= tc - GRAD_SPAN) {
      ia = k;
      break;
    }
  if (ia < 0 || t_at(s, ia) < tc - 2.0 * GRAD_SPAN) return 0;
  const uint8_t *a = grid_at(s, ia), *c = grid_at(s, 0);
  if (corr(a, c) >= GRAD_R || mad(a, c) <= GRAD_D) return 0;
  double tm = 0.5 * (t_at(s, ia) + tc);
  int im = 1;
  for (int k = 1; k < ia; k++)
    if (fabs(t_at(s, k) - tm) < fabs(t_at(s, im) - tm)) im = k;
  return is_blend(a, grid_at(s, im), c);
}

sc_kind sc_push(sc_state *s, const uint8_t *rgb, int w, int h, ptrdiff_t stride, double t,
                float *diff) {
  fg_grid g;
  fg_compute(rgb, w, h, stride, &g);
  return sc_push_grid(s, &g, t, diff);
}

sc_kind sc_push_grid(sc_state *s, const fg_grid *g, double t, float *diff) {
  if (diff) *diff = 0.0f;
  if (!s || !g || g->w <= 0 || g->h <= 0 || !isfinite(t)) return SC_NONE;
  int next = s->n ? (s->head + 1) % SC_HISTORY : 0;
  memcpy(s->grid[next], g->luma, SC_CELLS);
  s->t[next] = t;
  s->head = next;
  if (s->n < SC_HISTORY) s->n++;
  if (s->n < 2) return SC_NONE;
  const uint8_t *cur = grid_at(s, 0), *prev = grid_at(s, 1);
  float d = mad(cur, prev), r = corr(cur, prev);
  if (diff) *diff = d;
  float mean_recent = 0.0f;
  for (int i = 0; i < s->n_recent; i++) mean_recent += s->recent_d[i] / (float)s->n_recent;
  sc_kind k = SC_NONE;
  if (d > HARD_D || (r < HARD_R && d > HARD_R_D) ||
      (s->n_recent >= 4 && d > ADAPT_D && d > ADAPT_RATIO * mean_recent && r < ADAPT_R))
    k = SC_HARD;
  else if (gradual(s, d))
    k = SC_GRADUAL;
  else if (d > SUSPECT_D || r < SUSPECT_R)
    k = SC_SUSPECT;
  if (k == SC_HARD || k == SC_GRADUAL) {
    s->have_cut = 1;
    s->last_cut_t = t;
    s->n_recent = 0; /* the new shot's motion starts afresh */
  } else {
    if (s->n_recent == 8) memmove(s->recent_d, s->recent_d + 1, 7 * sizeof *s->recent_d);
    s->recent_d[s->n_recent < 8 ? s->n_recent++ : 7] = d;
  }
  return k;
}
