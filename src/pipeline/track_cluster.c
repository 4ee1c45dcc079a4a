/* track_cluster.c: shot threading, thread links, cannot-links and the constrained clustering
 * of tracks (see track_cluster.h for the method).
 *
 * Memory: shots (two layout descriptors each), per-(id, shot) box sums and the co-visible pairs
 * (an open-addressing set) grow by doubling as the video goes; the previous frame's grid and
 * boxes are kept for the layout of a shot's last frame; the clustering's matrices are
 * allocated by tcl_cluster for the call and freed before it returns. */
#include "pipeline/track_cluster.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

typedef struct tcl_shot {
  double t0, t1;
  fl_desc first, last;
  int has_first, has_last;
} tcl_shot;

typedef struct tcl_obs { /* one id in one shot */
  int id, shot;
  double sum[3];      /* centre x, centre y, side (sqrt of the area), summed over frames */
  double t0, t1;      /* its first and last frame's times */
  float b0[3], b1[3]; /* centre x, centre y, side at its first and last frame */
  int n;
} tcl_obs;

struct tcl_state {
  tcl_shot *shots; /* (cap_shots) */
  int n_shots, cap_shots;
  tcl_obs *obs; /* (cap_obs) */
  int n_obs, cap_obs;
  int *last_obs; /* (cap_ids) per id: index of its latest obs, -1 = none */
  int cap_ids;
  float (*clothes)[FL_BINS]; /* (cap_ids, FL_BINS) per id: sum of its clothing histograms */
  int *n_clothes;            /* (cap_ids) per id: how many */
  int *seen;                 /* (cap_ids) per id: frames seen (clothes every TCL_CLOTHES_EVERY) */
  fg_grid prev;              /* the latest frame's grid (prev_shot's last frame so far) */
  float (*prev_boxes)[4];    /* (cap_prev, 4) and its face boxes */
  int n_prev, cap_prev, prev_shot; /* prev_shot -1 = no frame yet */
  uint64_t *pairs; /* (cap_pairs) set of co-visible id pairs (a << 32 | b, a < b), 0 = empty */
  int n_pairs, cap_pairs;
};

/* Defaults, set on the sitcom reel (tests/fixtures/identity/friends_reel.tsv: which shots share
 * a setup was judged from its labelled people and places). thread_max 10 (of 255) and
 * thread_corr 0.75: shots of one setup differed by 2.5-9.7 or correlated at 0.77-0.97; shots of
 * other setups of the same dim room by 12 and more, correlating at 0.72 at most. box_shift 0.5 and
 * box_scale 1.4: a seated person filmed again from one setup sits within half a face of where they
 * were. face_only 0.76: above the most similar different-person pair of pooled descriptors measured
 * on the sitcom reel (0.750, docs/face_embedding.md). face_linked 0.35: a thread link, unless the
 * descriptors clearly disagree (the 10th percentile of same-person pooled pairs on the reel is
 * 0.48; one linked pair of one person scored 0.39). clothes 0.90: on the reel the most similar
 * clothes of two different people scored 0.874 (a dark top and a dark suit), and 19 pairs of one
 * person's tracks 0.90-0.98 (on all 41 labelled files, two different people seen together, so
 * held apart by the cannot-link alone, scored 0.900 and 0.907: this rule's margin is the
 * cannot-link's and the faces'). clothes_track 0.93: the most similar clothes of two tracks of
 * different people (each with 4 samples or more; dev/clothes_pairs.py) scored 0.872 on the reel
 * (long_hair and tux) and 0.907 on all 41 labelled files (the pair above, seen together); the
 * one merge it makes there scored 0.943 (README, "Identity on real video"). both_face 0.55 and
 * both_clothes 0.86: black_top's first close-up on the reel (descriptors 0.609, tracks' clothes
 * 0.880 with the rest of her); of different people's tracks on all 41 labelled files
 * (dev/face_clothes_pairs.py), those with clothes >= 0.86 score 0.495 at most on descriptors
 * (the reel's long_hair and tux, clothes 0.872) and those with descriptors >= 0.55 score 0.788 at
 * most on clothes (black_top and tux). cont_gap 1.0 s, the tracker's default timeout (a lost track
 * it could still have taken back: the new detection overlapped its last box too little, or the
 * verification declined), and cont_shift 1.0 face side: the reel's 4-frame piece of blue_shirt
 * restarted 0.04 s later 0.64 sides away (30-35 px faces, whose detector boxes jitter); on the
 * 41 labelled files every continuation link found is one person's (README). */
tcl_params tcl_params_default(void) {
  tcl_params p = {10.0f, 0.75f, 0.5f,  1.4f,  0.76f, 0.35f, 1,
                  0.90f, 0.93f, 0.55f, 0.86f, 1.0f,  1.0f};
  return p;
}

int tcl_create(tcl_state **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "track clustering: NULL output");
  *out = calloc(1, sizeof **out);
  if (!*out) return emoi_fail(err, EMO_ENOMEM, "track clustering: out of memory");
  (*out)->prev_shot = -1;
  return EMO_OK;
}

void tcl_destroy(tcl_state **ps) {
  if (!ps || !*ps) return;
  tcl_state *s = *ps;
  free(s->shots);
  free(s->obs);
  free(s->last_obs);
  free(s->clothes);
  free(s->n_clothes);
  free(s->seen);
  free(s->prev_boxes);
  free(s->pairs);
  free(s);
  *ps = NULL;
}

void tcl_reset(tcl_state *s) {
  if (!s) return;
  s->n_shots = s->n_obs = s->n_pairs = s->n_prev = 0;
  s->prev_shot = -1;
  for (int i = 0; i < s->cap_ids; i++) s->last_obs[i] = -1, s->n_clothes[i] = s->seen[i] = 0;
  if (s->clothes) memset(s->clothes, 0, (size_t)s->cap_ids * sizeof *s->clothes);
  if (s->pairs) memset(s->pairs, 0, (size_t)s->cap_pairs * sizeof *s->pairs);
}

int tcl_shot_count(const tcl_state *s) {
  return s ? s->n_shots : 0;
}

/* Grows the table *p of *cap elements of size sz to hold need (doubling; new elements zero).
 * 0 or EMO_ENOMEM (the table unchanged). */
static int grow(void **p, int *cap, int need, size_t sz) {
  if (need <= *cap) return 0;
  int c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *n = emoi_grow_copy(*p, (size_t)*cap, (size_t)c, sz);
  if (!n) return EMO_ENOMEM;
  free(*p);
  *p = n;
  *cap = c;
  return 0;
}

static uint64_t pair_key(int a, int b) {
  if (a > b) {
    int t = a;
    a = b;
    b = t;
  }
  return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static size_t pair_slot(const tcl_state *s, uint64_t key) {
  uint64_t h = key * 0x9E3779B97F4A7C15ull;
  size_t mask = (size_t)s->cap_pairs - 1, i = (size_t)(h >> 32) & mask;
  while (s->pairs[i] && s->pairs[i] != key) i = (i + 1) & mask;
  return i;
}

static int pair_has(const tcl_state *s, int a, int b) {
  if (!s->cap_pairs) return 0;
  uint64_t key = pair_key(a, b);
  return s->pairs[pair_slot(s, key)] == key;
}

static int pair_add(tcl_state *s, int a, int b) {
  if (2 * (s->n_pairs + 1) > s->cap_pairs) { /* rehash into a table twice the size */
    int cap = s->cap_pairs ? 2 * s->cap_pairs : 64;
    uint64_t *old = s->pairs;
    int old_cap = s->cap_pairs;
    s->pairs = calloc((size_t)cap, sizeof *s->pairs);
    if (!s->pairs) {
      s->pairs = old;
      return EMO_ENOMEM;
    }
    s->cap_pairs = cap;
    for (int i = 0; i < old_cap; i++)
      if (old[i]) s->pairs[pair_slot(s, old[i])] = old[i];
    free(old);
  }
  uint64_t key = pair_key(a, b);
  size_t i = pair_slot(s, key);
  if (!s->pairs[i]) {
    s->pairs[i] = key;
    s->n_pairs++;
  }
  return 0;
}

/* The layout of shot prev_shot's last frame so far (the previous frame's grid and boxes). */
static void finish_shot(tcl_state *s) {
  if (s->prev_shot < 0) return;
  tcl_shot *sh = &s->shots[s->prev_shot];
  fl_describe(&s->prev, (const float(*)[4])s->prev_boxes, s->n_prev, &sh->last);
  sh->has_last = sh->last.n_valid > 0;
}

int tcl_frame(tcl_state *s, double t, int cut, const fg_grid *grid, const uint8_t *rgb, int w,
              int h, ptrdiff_t stride, const int *ids, const float (*boxes)[4], int n) {
  if (!s || n < 0 || (n > 0 && (!ids || !boxes)) || !isfinite(t)) return EMO_EINVAL;
  for (int i = 0; i < n; i++)
    if (ids[i] < 1) return EMO_EINVAL;
  if (cut || s->n_shots == 0) {
    if (grow((void **)&s->shots, &s->cap_shots, s->n_shots + 1, sizeof *s->shots))
      return EMO_ENOMEM;
    finish_shot(s); /* the shot that ends here: its last frame was the previous one */
    tcl_shot *sh = &s->shots[s->n_shots++];
    sh->t0 = sh->t1 = t;
    sh->has_first = sh->has_last = 0;
  }
  int shot = s->n_shots - 1;
  tcl_shot *sh = &s->shots[shot];
  sh->t1 = t;
  /* layouts at a shot's first frame (the first one with a valid layout) and, at the next cut or
   * the clustering, its last one: the frame's grid and boxes are kept until then */
  if (grid && grid->w > 0) {
    if (!sh->has_first) {
      fl_describe(grid, boxes, n, &sh->first);
      sh->has_first = sh->first.n_valid > 0;
    }
    if (grow((void **)&s->prev_boxes, &s->cap_prev, n, sizeof *s->prev_boxes)) return EMO_ENOMEM;
    s->prev = *grid;
    if (n) memcpy(s->prev_boxes, boxes, (size_t)n * sizeof *s->prev_boxes);
    s->n_prev = n;
    s->prev_shot = shot;
  } else {
    s->prev_shot = -1; /* no grid: the shot's last layout stays what it was */
  }
  for (int i = 0; i < n; i++) {
    int id = ids[i];
    if (id > s->cap_ids) {
      int old = s->cap_ids, c1 = old, c2 = old, c3 = old;
      if (grow((void **)&s->clothes, &c1, id, sizeof *s->clothes) ||
          grow((void **)&s->n_clothes, &c2, id, sizeof *s->n_clothes) ||
          grow((void **)&s->seen, &c3, id, sizeof *s->seen) ||
          grow((void **)&s->last_obs, &s->cap_ids, id, sizeof *s->last_obs))
        return EMO_ENOMEM; /* (the four grow alike: cap_ids is set last) */
      for (int k = old; k < s->cap_ids; k++) s->last_obs[k] = -1;
    }
    float hist[FL_BINS];
    if (rgb && s->seen[id - 1]++ % TCL_CLOTHES_EVERY == 0 &&
        fl_clothes(rgb, w, h, stride, boxes[i], hist)) {
      for (int k = 0; k < FL_BINS; k++) s->clothes[id - 1][k] += hist[k];
      s->n_clothes[id - 1]++;
    }
    int o = s->last_obs[id - 1];
    if (o < 0 || s->obs[o].shot != shot) {
      if (grow((void **)&s->obs, &s->cap_obs, s->n_obs + 1, sizeof *s->obs)) return EMO_ENOMEM;
      o = s->n_obs++;
      memset(&s->obs[o], 0, sizeof s->obs[o]);
      s->obs[o].id = id;
      s->obs[o].shot = shot;
      s->last_obs[id - 1] = o;
    }
    const float *b = boxes[i];
    tcl_obs *ob = &s->obs[o];
    ob->b1[0] = b[0] + 0.5f * b[2];
    ob->b1[1] = b[1] + 0.5f * b[3];
    ob->b1[2] = sqrtf(fmaxf(0.0f, b[2] * b[3]));
    if (!ob->n) memcpy(ob->b0, ob->b1, sizeof ob->b0), ob->t0 = t;
    ob->t1 = t;
    ob->sum[0] += b[0] + 0.5 * b[2];
    ob->sum[1] += b[1] + 0.5 * b[3];
    ob->sum[2] += sqrt(fmax(0.0, (double)b[2] * b[3]));
    ob->n++;
    for (int j = 0; j < i; j++)
      if (ids[j] != id && pair_add(s, ids[j], id)) return EMO_ENOMEM;
  }
  return EMO_OK;
}

/* Whether shots a and b look like one camera setup (any of their first / last frames). */
static int threaded(const tcl_shot *a, const tcl_shot *b, const tcl_params *p) {
  const fl_desc *da[2] = {a->has_first ? &a->first : NULL, a->has_last ? &a->last : NULL};
  const fl_desc *db[2] = {b->has_first ? &b->first : NULL, b->has_last ? &b->last : NULL};
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      if (!da[i] || !db[j]) continue;
      float d = fl_distance(da[i], db[j]);
      if ((d >= 0.0f && d <= p->thread_max) || fl_correlation(da[i], db[j]) >= p->thread_corr)
        return 1;
    }
  return 0;
}

/* Whether obs a and b sit at a similar place and size. */
static int box_close(const tcl_obs *a, const tcl_obs *b, const tcl_params *p) {
  double ax = a->sum[0] / a->n, ay = a->sum[1] / a->n, as = a->sum[2] / a->n;
  double bx = b->sum[0] / b->n, by = b->sum[1] / b->n, bs = b->sum[2] / b->n;
  if (!(as > 0.0) || !(bs > 0.0)) return 0;
  double side = 0.5 * (as + bs);
  return fabs(ax - bx) <= p->box_shift * side && fabs(ay - by) <= p->box_shift * side &&
         fmax(as, bs) <= p->box_scale * fmin(as, bs);
}

/* How many obs of shot `shot` (obs indices in by_shot[first..end)) are close to obs a. */
static int close_count(const tcl_state *s, const tcl_params *p, const int *by_shot, int first,
                       int end, int a, int *which) {
  int c = 0;
  for (int k = first; k < end; k++)
    if (box_close(&s->obs[a], &s->obs[by_shot[k]], p)) c++, *which = by_shot[k];
  return c;
}

/* Calls add(user, id_a, id_b) for every thread link (see track_cluster.h); returns the count
 * or EMO_ENOMEM. */
static int find_links(const tcl_state *s, const tcl_params *p, void (*add)(void *, int, int),
                      void *user, const emoi_logger *log) {
  int ns = s->n_shots < TCL_MAX_SHOTS ? s->n_shots : TCL_MAX_SHOTS;
  int *start = calloc((size_t)ns + 1, sizeof *start); /* obs of shot k: by_shot[start[k]..) */
  int *by_shot = malloc((size_t)(s->n_obs ? s->n_obs : 1) * sizeof *by_shot);
  if (!start || !by_shot) {
    free(start);
    free(by_shot);
    return EMO_ENOMEM;
  }
  for (int o = 0; o < s->n_obs; o++)
    if (s->obs[o].shot < ns) start[s->obs[o].shot + 1]++;
  for (int k = 0; k < ns; k++) start[k + 1] += start[k];
  for (int o = 0, fill = 0; o < s->n_obs; o++) /* obs are in shot order already */
    if (s->obs[o].shot < ns) by_shot[fill++] = o;
  int links = 0;
  for (int i = 0; i < ns; i++)
    for (int j = i + 1; j < ns; j++) {
      if (start[i] == start[i + 1] || start[j] == start[j + 1]) continue;
      if (!threaded(&s->shots[i], &s->shots[j], p)) continue;
      emoi_log(log, EMO_LOG_DEBUG, "tcl: shots %d (%.2f s) and %d (%.2f s) threaded", i,
               s->shots[i].t0, j, s->shots[j].t0);
      for (int k = start[i]; k < start[i + 1]; k++) {
        int a = by_shot[k], b = -1, back = -1;
        if (close_count(s, p, by_shot, start[j], start[j + 1], a, &b) != 1) continue;
        if (close_count(s, p, by_shot, start[i], start[i + 1], b, &back) != 1 || back != a)
          continue;
        if (s->obs[a].id == s->obs[b].id) continue;
        emoi_log(log, EMO_LOG_DEBUG, "tcl: link ids %d and %d", s->obs[a].id, s->obs[b].id);
        add(user, s->obs[a].id, s->obs[b].id);
        links++;
      }
    }
  free(start);
  free(by_shot);
  return links;
}

/* Whether obs b starts where obs a ended, in one shot, cont_gap seconds later at most: b's first
 * box within cont_shift face sides and box_scale of a's last one. */
static int continues(const tcl_obs *a, const tcl_obs *b, const tcl_params *p) {
  if (a->shot != b->shot || a->id == b->id || !(b->t0 > a->t1) || b->t0 - a->t1 > p->cont_gap)
    return 0;
  if (!(a->b1[2] > 0.0f) || !(b->b0[2] > 0.0f)) return 0;
  float side = 0.5f * (a->b1[2] + b->b0[2]);
  return fabsf(a->b1[0] - b->b0[0]) <= p->cont_shift * side &&
         fabsf(a->b1[1] - b->b0[1]) <= p->cont_shift * side &&
         fmaxf(a->b1[2], b->b0[2]) <= p->box_scale * fminf(a->b1[2], b->b0[2]);
}

/* Calls add(user, id_a, id_b) for every continuation link: a track that starts where another
 * ended shortly before in the same shot (a detector miss the tracker did not bridge), each the
 * only such track for the other; returns the count. Obs are in shot order, so each obs looks at
 * the obs of its own shot only. */
static int find_continuations(const tcl_state *s, const tcl_params *p,
                              void (*add)(void *, int, int), void *user, const emoi_logger *log) {
  if (!(p->cont_gap > 0.0f)) return 0;
  int links = 0;
  for (int a = 0, first = 0; a < s->n_obs; a++) {
    if (s->obs[a].shot != s->obs[first].shot) first = a;
    int b = -1, nb = 0;
    for (int k = first; k < s->n_obs && s->obs[k].shot == s->obs[a].shot; k++)
      if (continues(&s->obs[a], &s->obs[k], p)) nb++, b = k;
    if (nb != 1) continue;
    int na = 0;
    for (int k = first; k < s->n_obs && s->obs[k].shot == s->obs[b].shot; k++)
      na += continues(&s->obs[k], &s->obs[b], p);
    if (na != 1) continue;
    const tcl_obs *oa = &s->obs[a], *ob = &s->obs[b];
    emoi_log(log, EMO_LOG_DEBUG, "tcl: continuation ids %d and %d (%.2f-%.2f s, shift %.2f sides)",
             oa->id, ob->id, oa->t1, ob->t0,
             fmaxf(fabsf(oa->b1[0] - ob->b0[0]), fabsf(oa->b1[1] - ob->b0[1])) /
                 (0.5f * (oa->b1[2] + ob->b0[2])));
    add(user, s->obs[a].id, s->obs[b].id);
    links++;
  }
  return links;
}

/* The clustering's working set: N clusters (ids with frames, at most TCL_MAX_IDS), matrices
 * (N, N) of descriptor-similarity sums and counts (average linkage), links and cannot-links. */
typedef struct tcl_work {
  int n;
  int *id_of;   /* (N) the id of item k (its cluster's smallest id once merged) */
  int *item_of; /* (n_ids) item of each id, -1 = not clustered */
  int *alive;   /* (N) 1 while item k heads a cluster */
  int *parent;  /* (N) the item k was merged into, k itself while it heads a cluster */
  int *low;     /* (N) per root: the smallest identity of its members */
  double *fsum; /* (N, N) descriptor similarities summed over member pairs */
  int *fcnt;    /* (N, N) and those pairs */
  double *csum; /* (N, N) clothing similarity (Bhattacharyya) of the clusters' mean clothes */
  int *ccnt;    /* (N, N) 1 where both have clothes */
  float *tmax;  /* (N, N) the most similar clothes of two member tracks (each with at least
                   TCL_TRACK_CLOTHES samples), -1 = none */
  float (*hist)[FL_BINS]; /* (N, FL_BINS) per cluster: clothing histograms summed over frames */
  int *link;              /* (N, N) */
  uint8_t *cant;          /* (N, N) */
} tcl_work;

static void add_link(void *user, int a, int b) {
  tcl_work *w = user;
  int i = w->item_of[a - 1], j = w->item_of[b - 1];
  if (i < 0 || j < 0 || i == j) return;
  w->link[(size_t)i * w->n + j]++;
  w->link[(size_t)j * w->n + i]++;
}

/* The clothing similarity of clusters a and b (their summed histograms, normalised). */
static void clothes_pair(tcl_work *w, int a, int b) {
  const size_t n = (size_t)w->n, ab = a * n + b, ba = b * n + a;
  double sa = 0.0, sb = 0.0, bc = 0.0;
  for (int k = 0; k < FL_BINS; k++) sa += w->hist[a][k], sb += w->hist[b][k];
  w->ccnt[ab] = w->ccnt[ba] = sa > 0.0 && sb > 0.0;
  if (!w->ccnt[ab]) return;
  for (int k = 0; k < FL_BINS; k++) bc += sqrt(w->hist[a][k] / sa * (w->hist[b][k] / sb));
  w->csum[ab] = w->csum[ba] = bc;
}

/* Merges cluster j into cluster i (average linkage: sums and counts add up). */
static void merge(tcl_work *w, int i, int j) {
  const size_t n = (size_t)w->n;
  for (size_t k = 0; k < n; k++) {
    if (!w->alive[k] || (int)k == i || (int)k == j) continue;
    w->fsum[i * n + k] = w->fsum[k * n + i] = w->fsum[i * n + k] + w->fsum[j * n + k];
    w->fcnt[i * n + k] = w->fcnt[k * n + i] = w->fcnt[i * n + k] + w->fcnt[j * n + k];

    w->link[i * n + k] = w->link[k * n + i] = w->link[i * n + k] + w->link[j * n + k];
    w->tmax[i * n + k] = w->tmax[k * n + i] = fmaxf(w->tmax[i * n + k], w->tmax[j * n + k]);
    w->cant[i * n + k] = w->cant[k * n + i] = w->cant[i * n + k] | w->cant[j * n + k];
  }
  w->alive[j] = 0;
  w->parent[j] = i;
  for (int b = 0; b < FL_BINS; b++) w->hist[i][b] += w->hist[j][b];
  for (size_t k = 0; k < n; k++)
    if (w->alive[k] && (int)k != i) clothes_pair(w, i, (int)k);
}

static int root(const tcl_work *w, int k) {
  while (w->parent[k] != k) k = w->parent[k];
  return k;
}

static int cmp_desc_int(const void *a, const void *b) {
  const int *x = a, *y = b;
  return (x[0] < y[0]) - (x[0] > y[0]);
}

int tcl_cluster(tcl_state *s, const tcl_params *p, int n_ids, const float *const *emb, int dim,
                int *ident, int *links, int *merges, const emoi_logger *log, emoi_err *err) {
  if (links) *links = 0;
  if (merges) *merges = 0;
  if (!s || !p || n_ids < 0 || (n_ids > 0 && (!emb || !ident)) || dim <= 0)
    return emoi_fail(err, EMO_EINVAL, "track clustering: bad arguments");
  finish_shot(s); /* the last shot's last frame */
  if (n_ids == 0) return EMO_OK;
  for (int i = 0; i < n_ids; i++)
    if (ident[i] < 1 || ident[i] > n_ids)
      return emoi_fail(err, EMO_EINVAL, "track clustering: identity %d of id %d out of range",
                       ident[i], i + 1);
  /* the ids to cluster: those with frames, the TCL_MAX_IDS with the most */
  int *frames = calloc((size_t)n_ids * 2, sizeof *frames); /* (n_ids, 2) frames, id */
  int *lab = NULL; /* (n_ids) per old identity: its cluster's (0 = unchanged), then per root */
  tcl_work w = {0};
  int rc = EMO_ENOMEM;
  w.item_of = malloc((size_t)n_ids * sizeof *w.item_of);
  if (!frames || !w.item_of) goto done;
  for (int i = 0; i < n_ids; i++) frames[2 * i + 1] = i + 1, w.item_of[i] = -1;
  for (int o = 0; o < s->n_obs; o++)
    if (s->obs[o].id <= n_ids) frames[2 * (s->obs[o].id - 1)] += s->obs[o].n;
  qsort(frames, (size_t)n_ids, 2 * sizeof *frames, cmp_desc_int);
  int n = 0;
  while (n < n_ids && n < TCL_MAX_IDS && frames[2 * n] > 0) n++;
  w.n = n;
  size_t nn = (size_t)n * (size_t)n;
  w.id_of = malloc((size_t)(n ? n : 1) * sizeof *w.id_of);
  w.alive = malloc((size_t)(n ? n : 1) * sizeof *w.alive);
  w.parent = malloc((size_t)(n ? n : 1) * sizeof *w.parent);
  w.low = malloc((size_t)(n ? n : 1) * sizeof *w.low);
  lab = malloc((size_t)n_ids * sizeof *lab);
  w.fsum = calloc(nn ? nn : 1, sizeof *w.fsum);
  w.fcnt = calloc(nn ? nn : 1, sizeof *w.fcnt);
  w.csum = calloc(nn ? nn : 1, sizeof *w.csum);
  w.ccnt = calloc(nn ? nn : 1, sizeof *w.ccnt);
  w.tmax = malloc((nn ? nn : 1) * sizeof *w.tmax);
  w.hist = calloc((size_t)(n ? n : 1), sizeof *w.hist);
  w.link = calloc(nn ? nn : 1, sizeof *w.link);
  w.cant = calloc(nn ? nn : 1, sizeof *w.cant);
  if (!w.id_of || !w.alive || !w.parent || !w.low || !lab || !w.fsum || !w.fcnt || !w.csum ||
      !w.ccnt || !w.tmax || !w.hist || !w.link || !w.cant)
    goto done;
  for (int k = 0; k < n; k++) {
    w.id_of[k] = frames[2 * k + 1];
    w.item_of[w.id_of[k] - 1] = k;
    w.alive[k] = 1;
    w.parent[k] = k;
    int id = w.id_of[k], nc = id <= s->cap_ids ? s->n_clothes[id - 1] : 0;
    for (int b = 0; b < FL_BINS; b++) w.hist[k][b] = nc ? s->clothes[id - 1][b] : 0.0f;
  }
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++) {
      const float *ea = emb[w.id_of[a] - 1], *eb = emb[w.id_of[b] - 1];
      size_t ab = (size_t)a * n + b, ba = (size_t)b * n + a;
      if (ea && eb) {
        double d = 0.0;
        for (int k = 0; k < dim; k++) d += (double)ea[k] * eb[k];
        w.fsum[ab] = w.fsum[ba] = d;
        w.fcnt[ab] = w.fcnt[ba] = 1;
      }
      w.cant[ab] = w.cant[ba] = (uint8_t)pair_has(s, w.id_of[a], w.id_of[b]);
      clothes_pair(&w, a, b);
      int na = s->n_clothes[w.id_of[a] - 1], nb = s->n_clothes[w.id_of[b] - 1];
      w.tmax[ab] = w.tmax[ba] =
          na >= TCL_TRACK_CLOTHES && nb >= TCL_TRACK_CLOTHES ? (float)w.csum[ab] : -1.0f;
    }
  for (int o = 0; o < s->n_obs && log && log->level >= EMO_LOG_DEBUG; o++) {
    const tcl_obs *ob = &s->obs[o];
    int id = ob->id, nc = id <= s->cap_ids ? s->n_clothes[id - 1] : 0;
    emoi_log(log, EMO_LOG_DEBUG,
             "tcl: id %d in shot %d (%.2f s): %d frames at (%.0f, %.0f) side %.0f; clothes %d, "
             "descriptor %d",
             id, ob->shot, s->shots[ob->shot].t0, ob->n, ob->sum[0] / ob->n, ob->sum[1] / ob->n,
             ob->sum[2] / ob->n, nc, id <= n_ids && emb[id - 1] != NULL);
  }
  for (int k = 0; k < n && log && log->level >= EMO_LOG_DEBUG; k++) {
    char buf[FL_BINS * 8 + 1] = "";
    double sum = 0.0;
    for (int b = 0; b < FL_BINS; b++) sum += w.hist[k][b];
    for (int b = 0, len = 0; b < FL_BINS && len < (int)sizeof buf - 8; b++)
      len += snprintf(buf + len, sizeof buf - (size_t)len, " %.4f",
                      sum > 0.0 ? w.hist[k][b] / sum : 0.0);
    emoi_log(log, EMO_LOG_DEBUG, "tcl: clothes of id %d:%s", w.id_of[k], buf);
    emoi_log(log, EMO_LOG_DEBUG, "tcl: id %d starts in identity %d, %d clothes samples", w.id_of[k],
             ident[w.id_of[k] - 1], s->n_clothes[w.id_of[k] - 1]);
  }
  int nl = find_links(s, p, add_link, &w, log);
  if (nl < 0) goto done;
  nl += find_continuations(s, p, add_link, &w, log);
  if (links) *links = nl;
  /* the tracker's identities first: members of one identity are one cluster */
  for (int a = 0; a < n; a++) {
    if (!w.alive[a]) continue;
    for (int b = 0; b < n; b++)
      if (b != a && w.alive[b] && ident[w.id_of[b] - 1] == ident[w.id_of[a] - 1]) merge(&w, a, b);
  }
  int made = 0;
  for (;;) { /* best pair first */
    int bi = -1, bj = -1;
    double best = -INFINITY;
    for (int a = 0; a < n; a++) {
      if (!w.alive[a]) continue;
      for (int b = a + 1; b < n; b++) {
        size_t ab = (size_t)a * n + b;
        if (!w.alive[b] || w.cant[ab]) continue;
        /* linked pairs first (those whose faces agree before those without faces), then
         * faces alone, then clothes */
        const int has_f = w.fcnt[ab] > 0, has_c = w.ccnt[ab] > 0;
        const double f = has_f ? w.fsum[ab] / w.fcnt[ab] : 0.0;
        const double c = has_c ? w.csum[ab] / w.ccnt[ab] : 0.0;
        const int agree = !has_f || f >= p->face_linked; /* the faces do not disagree */
        double score;
        if (w.link[ab] > 0 && agree && (has_f || p->link_alone))
          score = 3.0 + f;
        else if (has_f && f >= p->face_only)
          score = 2.0 + f;
        else if (has_c && agree && c >= p->clothes)
          score = 1.0 + c;
        else if (agree && w.tmax[ab] >= p->clothes_track)
          score = w.tmax[ab];
        else if (has_f && f >= p->both_face && w.tmax[ab] >= p->both_clothes)
          score = w.tmax[ab] - 1.0;
        else
          continue;
        if (score > best) best = score, bi = a, bj = b;
      }
    }
    if (bi < 0) break;
    if (log && log->level >= EMO_LOG_DEBUG) {
      size_t ab = (size_t)bi * n + bj;
      emoi_log(log, EMO_LOG_DEBUG,
               "tcl: merge ids %d and %d: links %d, faces %.3f (%d), clothes %.3f, tracks' %.3f",
               w.id_of[bi], w.id_of[bj], w.link[ab], w.fcnt[ab] ? w.fsum[ab] / w.fcnt[ab] : -9.0,
               w.fcnt[ab], w.ccnt[ab] ? w.csum[ab] : -9.0, w.tmax[ab]);
    }
    merge(&w, bi, bj);
    made++;
  }
  if (merges) *merges = made;
  for (int a = 0; a < n && log && log->level >= EMO_LOG_DEBUG; a++) /* what stayed apart */
    for (int b = a + 1; b < n && w.alive[a]; b++) {
      size_t ab = (size_t)a * n + b;
      if (!w.alive[b] || !((w.ccnt[ab] && w.csum[ab] >= 0.7) || w.tmax[ab] >= 0.7)) continue;
      emoi_log(log, EMO_LOG_DEBUG,
               "tcl: apart ids %d and %d: cannot %d, links %d, faces %.3f (%d), clothes %.3f, "
               "tracks' %.3f",
               w.id_of[a], w.id_of[b], w.cant[ab], w.link[ab],
               w.fcnt[ab] ? w.fsum[ab] / w.fcnt[ab] : -9.0, w.fcnt[ab],
               w.ccnt[ab] ? w.csum[ab] : -9.0, w.tmax[ab]);
    }
  /* each cluster's label: the smallest of its members' identities (low, per root); every id
   * whose identity is a member's (clustered or not) takes it */
  for (int k = 0; k < n; k++) w.low[k] = n_ids + 1;
  for (int k = 0; k < n; k++) {
    int r = root(&w, k), v = ident[w.id_of[k] - 1];
    if (v < w.low[r]) w.low[r] = v;
  }
  for (int i = 0; i < n_ids; i++) lab[i] = 0;
  for (int k = 0; k < n; k++) lab[ident[w.id_of[k] - 1] - 1] = w.low[root(&w, k)];
  for (int i = 0; i < n_ids; i++)
    if (lab[ident[i] - 1] > 0) ident[i] = lab[ident[i] - 1];
  rc = EMO_OK;
done:
  free(frames);
  free(w.id_of);
  free(w.item_of);
  free(w.alive);
  free(w.parent);
  free(w.low);
  free(lab);
  free(w.fsum);
  free(w.fcnt);
  free(w.csum);
  free(w.ccnt);
  free(w.tmax);
  free(w.hist);
  free(w.link);
  free(w.cant);
  if (rc != EMO_OK) return emoi_fail(err, rc, "track clustering: out of memory");
  return EMO_OK;
}
