/* tracker.c: the face tracker's state machine (see tracker.h for the behaviour).
 *
 * Memory: the live tracks, the per-frame scratch (IoU and cost matrices, embeddings of this
 * frame's detections) and the event list are allocated by trk_create. Two arrays grow, by
 * doubling, only when something new happens: the per-id summaries (a new id) and the list of
 * ended tracks kept for re-identification (bounded by TRK_MAX_ENDED; the oldest is dropped). */
#include "pipeline/tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/assignment.h"

typedef struct trk_ended {
  int id, ident;
  double last_t;
  int has_emb, n_pool;
  float emb[FEM_DIM];  /* running blend (single decisions), valid if has_emb */
  float pool[FEM_DIM]; /* pooled mean (deferred re-identification), valid if n_pool > 0 */
} trk_ended;

typedef struct trk_rec { /* per-id expression sums */
  double sum[EMO_EXPR_COUNT];
  int64_t n;
  double pose_sum[3], au_sum[EMO_AU_COUNT]; /* face details sums */
} trk_rec;

struct trk_state {
  trk_params p;
  trk_track *live; /* (p.max_tracks) live tracks, n_live used, in no particular order */
  int n_live;
  int vis[TRK_MAX_TRACKS]; /* (n_vis) indices into live of the visible tracks, by id */
  int n_vis;
  int next_id;
  /* per id, index id - 1 */
  emo_track_summary *sum;   /* (cap_ids) */
  trk_rec *rec;             /* (cap_ids) */
  float (*id_emb)[FEM_DIM]; /* (cap_ids, FEM_DIM) pooled descriptor of each id's last span */
  float *id_score;          /* (cap_ids) scratch: best pooled similarity per identity */
  int n_ids, cap_ids;
  trk_ended *ended; /* (cap_ended) oldest first */
  int n_ended, cap_ended;
  emo_event *ev; /* (cap_ev) events of the last call */
  int n_ev, cap_ev;
  /* per-frame scratch */
  float iou[TRK_MAX_TRACKS][TRK_MAX_TRACKS];   /* (dets, live tracks) */
  float cost[TRK_MAX_TRACKS * TRK_MAX_TRACKS]; /* (dets, live tracks) */
  int r2c[TRK_MAX_TRACKS];
  int matched[TRK_MAX_TRACKS];   /* per live track: 1 when matched this frame */
  int flag[TRK_MAX_TRACKS];      /* per det: needs an embedding */
  int has_emb[TRK_MAX_TRACKS];   /* per det */
  int valid[TRK_MAX_TRACKS];     /* per det: finite, non-empty box (others are ignored) */
  int tried[TRK_MAX_TRACKS];     /* per det: the callback was called this frame */
  int has_pemb[TRK_MAX_TRACKS];  /* per det: an embedding usable pooled (det_emb) */
  int ptried[TRK_MAX_TRACKS];    /* per det: the pooled callback was called */
  float (*det_emb)[FEM_DIM];     /* (TRK_MAX_TRACKS, FEM_DIM) */
  int64_t n_checked, n_rejected; /* verifications, and those that refused a continuation */
  int64_t n_pool_merged;         /* provisional tracks re-identified by pooled descriptors */
  trk_embed_many_fn many;        /* optional: several embeddings at once (tracker.h) */
};

trk_params trk_params_default(void) {
  trk_params p = {1.0, 0.3f, 0.6f, 0.5f, 0.7f, 0.5f, TRK_MAX_TRACKS};
  return p;
}

static float dot(const float *a, const float *b) {
  return fem_similarity(a, b);
}

static void normalize(float *v) {
  double ss = 0.0;
  for (int k = 0; k < FEM_DIM; k++) ss += (double)v[k] * v[k];
  if (!(ss > 0.0)) return;
  float inv = (float)(1.0 / sqrt(ss));
  for (int k = 0; k < FEM_DIM; k++) v[k] *= inv;
}

int trk_create(const trk_params *p, trk_state **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "tracker: NULL output");
  *out = NULL;
  trk_params q = p ? *p : trk_params_default();
  if (!(q.timeout >= 0.0) || !isfinite(q.timeout))
    return emoi_fail(err, EMO_EINVAL, "tracker: track_timeout %g must be >= 0", q.timeout);
  if (!(q.iou_min > 0.0f && q.iou_min <= 1.0f))
    return emoi_fail(err, EMO_EINVAL, "tracker: iou_min %g must be in (0, 1]", q.iou_min);
  if (isnan(q.reid_threshold)) return emoi_fail(err, EMO_EINVAL, "tracker: reid_threshold is NaN");
  if (isnan(q.verify_threshold))
    return emoi_fail(err, EMO_EINVAL, "tracker: verify_threshold is NaN");
  if (isnan(q.pool_threshold)) return emoi_fail(err, EMO_EINVAL, "tracker: pool_threshold is NaN");
  if (!(q.smoothing >= 0.0f) || !isfinite(q.smoothing))
    return emoi_fail(err, EMO_EINVAL, "tracker: smoothing %g must be >= 0", q.smoothing);
  if (q.max_tracks < 1 || q.max_tracks > TRK_MAX_TRACKS)
    return emoi_fail(err, EMO_EINVAL, "tracker: max_tracks %d must be in 1..%d", q.max_tracks,
                     TRK_MAX_TRACKS);
  trk_state *s = calloc(1, sizeof *s);
  if (!s) return emoi_fail(err, EMO_ENOMEM, "tracker: out of memory");
  s->p = q;
  s->live = calloc((size_t)q.max_tracks, sizeof *s->live);
  s->cap_ev = 2 * q.max_tracks + 2 * TRK_MAX_TRACKS;
  s->ev = calloc((size_t)s->cap_ev, sizeof *s->ev);
  s->det_emb = calloc(TRK_MAX_TRACKS, sizeof *s->det_emb);
  if (!s->live || !s->ev || !s->det_emb) {
    trk_destroy(&s);
    return emoi_fail(err, EMO_ENOMEM, "tracker: out of memory");
  }
  s->next_id = 1;
  *out = s;
  return EMO_OK;
}

void trk_destroy(trk_state **ps) {
  if (!ps || !*ps) return;
  trk_state *s = *ps;
  free(s->live);
  free(s->sum);
  free(s->rec);
  free(s->id_emb);
  free(s->id_score);
  free(s->ended);
  free(s->ev);
  free(s->det_emb);
  free(s);
  *ps = NULL;
}

void trk_reset(trk_state *s) {
  if (!s) return;
  s->n_live = s->n_vis = s->n_ids = s->n_ended = s->n_ev = 0;
  s->next_id = 1;
  s->n_checked = s->n_rejected = s->n_pool_merged = 0;
}

static void push_event(trk_state *s, emo_event_type type, double start, double end, int id) {
  if (s->n_ev >= s->cap_ev) return; /* cannot happen: cap_ev bounds ends + starts per call */
  emo_event *e = &s->ev[s->n_ev++];
  e->type = type;
  e->start = start;
  e->end = end;
  e->track_id = id;
}

static void rebuild_visible(trk_state *s) {
  s->n_vis = 0;
  for (int k = 0; k < s->n_live; k++) {
    if (!s->live[k].visible) continue;
    int j = s->n_vis++;
    while (j > 0 && s->live[s->vis[j - 1]].id > s->live[k].id) {
      s->vis[j] = s->vis[j - 1];
      j--;
    }
    s->vis[j] = k;
  }
}

/* Appends to the ended list, dropping the oldest when full. Returns 0 or EMO_ENOMEM. */
static int remember_ended(trk_state *s, const trk_track *tr) {
  if (!tr->has_emb && tr->n_pool == 0) return 0;
  if (s->n_ended == TRK_MAX_ENDED) {
    memmove(s->ended, s->ended + 1, (size_t)(TRK_MAX_ENDED - 1) * sizeof *s->ended);
    s->n_ended--;
  }
  if (s->n_ended == s->cap_ended) {
    int cap = s->cap_ended ? 2 * s->cap_ended : 8;
    if (cap > TRK_MAX_ENDED) cap = TRK_MAX_ENDED;
    trk_ended *e = realloc(s->ended, (size_t)cap * sizeof *e);
    if (!e) return EMO_ENOMEM;
    s->ended = e;
    s->cap_ended = cap;
  }
  trk_ended *e = &s->ended[s->n_ended++];
  e->id = tr->id;
  e->ident = tr->ident;
  e->last_t = tr->last_seen_t;
  e->has_emb = tr->has_emb;
  e->n_pool = tr->n_pool;
  memcpy(e->emb, tr->emb, sizeof e->emb);
  memcpy(e->pool, tr->pool, sizeof e->pool);
  return 0;
}

/* Ends live track k (event, ended list) and removes it from live (order not kept; the
 * matched flags move along). */
static int end_track(trk_state *s, int k) {
  trk_track *tr = &s->live[k];
  push_event(s, EMO_EVENT_TRACK_END, tr->span_t, tr->last_seen_t, tr->id);
  int rc = remember_ended(s, tr);
  s->n_live--;
  if (k != s->n_live) {
    s->live[k] = s->live[s->n_live];
    s->matched[k] = s->matched[s->n_live];
  }
  return rc;
}

static void count_frame(trk_state *s, trk_track *tr, double t) {
  tr->last_seen_t = t;
  tr->frames++;
  emo_track_summary *su = &s->sum[tr->id - 1];
  su->last_t = t;
  su->frames = tr->frames;
}

static void take_detection(trk_state *s, trk_track *tr, const bf_detection *d, int i, double t) {
  tr->det_i = i;
  tr->box[0] = d->x0;
  tr->box[1] = d->y0;
  tr->box[2] = d->x1 - d->x0;
  tr->box[3] = d->y1 - d->y0;
  memcpy(tr->kp, d->kp, sizeof tr->kp);
  tr->score = d->score;
  tr->visible = 1;
  tr->alive = 1;
  tr->detected_now = 1;
  tr->last_det_t = t;
  tr->verify = 0;
  tr->after_cut = 0;
  count_frame(s, tr, t);
}

float trk_yaw(const bf_detection *d) {
  float ex = d->kp[1][0] - d->kp[0][0], ey = d->kp[1][1] - d->kp[0][1];
  float n2 = ex * ex + ey * ey;
  if (!(n2 > 0.0f) || !isfinite(n2)) return 0.0f;
  float mx = 0.5f * (d->kp[0][0] + d->kp[1][0]), my = 0.5f * (d->kp[0][1] + d->kp[1][1]);
  return ((d->kp[2][0] - mx) * ex + (d->kp[2][1] - my) * ey) / n2;
}

/* Blends a confirmed embedding into the track's appearance. */
static void blend_emb(trk_track *tr, const float *e) {
  if (!tr->has_emb) {
    memcpy(tr->emb, e, sizeof tr->emb);
    tr->has_emb = 1;
    return;
  }
  for (int k = 0; k < FEM_DIM; k++) tr->emb[k] = 0.8f * tr->emb[k] + 0.2f * e[k];
  normalize(tr->emb);
}

static int new_id(trk_state *s, double t) {
  if (s->n_ids == s->cap_ids) {
    int cap = s->cap_ids ? 2 * s->cap_ids : 16;
    emo_track_summary *su = realloc(s->sum, (size_t)cap * sizeof *su);
    if (!su) return EMO_ENOMEM;
    s->sum = su;
    trk_rec *r = realloc(s->rec, (size_t)cap * sizeof *r);
    if (!r) return EMO_ENOMEM;
    s->rec = r;
    float(*ie)[FEM_DIM] = realloc(s->id_emb, (size_t)cap * sizeof *ie);
    if (!ie) return EMO_ENOMEM;
    s->id_emb = ie;
    float *sc = realloc(s->id_score, (size_t)cap * sizeof *sc);
    if (!sc) return EMO_ENOMEM;
    s->id_score = sc;
    for (int k = 0; k < s->n_ids; k++) /* the summaries point into id_emb */
      if (s->sum[k].embedding) s->sum[k].embedding = s->id_emb[k];
    s->cap_ids = cap;
  }
  int id = s->next_id++;
  s->n_ids = id;
  emo_track_summary *su = &s->sum[id - 1];
  memset(su, 0, sizeof *su);
  su->track_id = id;
  su->first_t = su->last_t = t;
  su->dominant = -1;
  su->identity = id;
  memset(&s->rec[id - 1], 0, sizeof s->rec[id - 1]);
  return id;
}

/* Embeddings of detections idx[0..n), each once per frame: pooled 0 = the single-decision
 * embedding (has_emb, and it serves as a pooled sample too), pooled 1 = a pooled sample (the
 * single-decision one when this frame has it, else the callback's pooled mode). The missing
 * ones are computed all at once through the embed_many callback when two or more are missing
 * (tracker.h), else one by one; EMO_EUNSUPPORTED from the callback means "no embedding
 * available" (the association goes on without appearance). The loops below call it first with
 * the detections they will look at (known ahead), then per detection, which finds them done. */
static int fetch_emb(trk_state *s, const int *idx, int n, int pooled, trk_embed_fn embed,
                     void *user, emoi_err *err) {
  if (!embed) return EMO_OK;
  int todo[TRK_MAX_TRACKS], rcs[TRK_MAX_TRACKS], m = 0;
  for (int k = 0; k < n && m < TRK_MAX_TRACKS; k++) {
    int i = idx[k];
    if (pooled ? !s->has_pemb[i] && !s->ptried[i] : !s->tried[i]) todo[m++] = i;
  }
  if (m >= 2 && s->many)
    s->many(user, todo, pooled, m, s->det_emb, rcs);
  else
    for (int k = 0; k < m; k++) rcs[k] = embed(user, todo[k], pooled, s->det_emb[todo[k]]);
  for (int k = 0; k < m; k++) {
    int i = todo[k];
    if (pooled)
      s->ptried[i] = 1;
    else
      s->tried[i] = 1;
    if (rcs[k] == EMO_EUNSUPPORTED) continue;
    if (rcs[k] < 0) return emoi_fail(err, rcs[k], "tracker: embedding of detection %d failed", i);
    s->has_pemb[i] = 1;
    if (!pooled) s->has_emb[i] = 1;
  }
  return EMO_OK;
}

/* The single-decision embedding of detection i (fetch_emb of one). */
static int get_emb(trk_state *s, int i, trk_embed_fn embed, void *user, emoi_err *err) {
  return fetch_emb(s, &i, 1, 0, embed, user, err);
}

void trk_set_embed_many(trk_state *s, trk_embed_many_fn many) {
  if (s) s->many = many;
}

/* Starts a track for detection d (a new id, or id revived from the ended list when >= 0). */
static int start_track(trk_state *s, const bf_detection *d, int i, double t, int revive_id,
                       int revive_slot) {
  if (s->n_live == s->p.max_tracks) { /* make room: end the longest-lost track */
    int victim = -1;
    for (int k = 0; k < s->n_live; k++)
      if (!s->live[k].visible && !s->matched[k] &&
          (victim < 0 || s->live[k].last_seen_t < s->live[victim].last_seen_t))
        victim = k;
    if (victim < 0) return 0; /* all visible: drop this detection */
    int rc = end_track(s, victim);
    if (rc) return rc;
  }
  int id = revive_id;
  if (id < 0) {
    id = new_id(s, t);
    if (id < 0) return id;
  }
  trk_track *tr = &s->live[s->n_live];
  s->matched[s->n_live] = 1;
  s->n_live++;
  memset(tr, 0, sizeof *tr);
  tr->id = id;
  tr->first_t = s->sum[id - 1].first_t;
  tr->frames = s->sum[id - 1].frames;
  tr->span_t = t;
  tr->pool_t = -INFINITY;
  tr->ident = s->sum[id - 1].identity;
  tr->settled = revive_id >= 0; /* a new id is provisional until its pooled descriptor decides */
  if (revive_slot >= 0) {
    memcpy(tr->emb, s->ended[revive_slot].emb, sizeof tr->emb);
    tr->has_emb = s->ended[revive_slot].has_emb;
    memmove(s->ended + revive_slot, s->ended + revive_slot + 1,
            (size_t)(s->n_ended - revive_slot - 1) * sizeof *s->ended);
    s->n_ended--;
  }
  if (s->has_emb[i]) {
    blend_emb(tr, s->det_emb[i]);
    tr->emb_t = t;
    tr->emb_yaw = trk_yaw(d);
  }
  take_detection(s, tr, d, i, t);
  push_event(s, EMO_EVENT_TRACK_START, t, t, id);
  return 0;
}

/* Ends lost tracks unseen for longer than the timeout. */
static int expire(trk_state *s, double t) {
  for (int k = 0; k < s->n_live;) {
    trk_track *tr = &s->live[k];
    if (!tr->visible && t - tr->last_seen_t > s->p.timeout) {
      int rc = end_track(s, k);
      if (rc) return rc;
    } else {
      k++;
    }
  }
  return 0;
}

/* Whether detection d continuing visible track tr needs its embedding checked (tracker.h). */
static int weak_evidence(const trk_track *tr, const bf_detection *d, double t) {
  if (tr->verify || t - tr->last_det_t > TRK_GAP) return 1;
  float side0 = sqrtf(tr->box[2] * tr->box[3]);
  float side1 = sqrtf((d->x1 - d->x0) * (d->y1 - d->y0));
  if (!(side0 > 0.0f) || !(side1 > 0.0f)) return 1;
  if (side1 > TRK_SCALE_JUMP * side0 || side0 > TRK_SCALE_JUMP * side1) return 1;
  float dx = 0.5f * (d->x0 + d->x1) - (tr->box[0] + 0.5f * tr->box[2]);
  float dy = 0.5f * (d->y0 + d->y1) - (tr->box[1] + 0.5f * tr->box[3]);
  if (sqrtf(dx * dx + dy * dy) > TRK_JUMP * side0) return 1;
  if (!tr->has_emb) return 0; /* nothing to compare with: the overlap decides */
  if (fabsf(trk_yaw(d) - tr->emb_yaw) > TRK_YAW_JUMP) return 1;
  return t - tr->emb_t > TRK_REVERIFY;
}

/* Compares provisional track k's pooled descriptor with the ended and lost tracks' (best per
 * identity); takes the best identity when it is clear (tracker.h, "Deferred
 * re-identification"). */
static void decide_identity(trk_state *s, int k) {
  trk_track *tr = &s->live[k];
  for (int i = 0; i < s->n_ids; i++) s->id_score[i] = -2.0f;
  for (int e = 0; e < s->n_ended; e++) {
    const trk_ended *x = &s->ended[e];
    if (x->n_pool == 0 || x->ident == tr->ident) continue;
    float cs = dot(tr->pool, x->pool);
    if (cs > s->id_score[x->ident - 1]) s->id_score[x->ident - 1] = cs;
  }
  for (int j = 0; j < s->n_live; j++) {
    const trk_track *x = &s->live[j];
    if (j == k || x->visible || x->n_pool == 0 || x->ident == tr->ident) continue;
    float cs = dot(tr->pool, x->pool);
    if (cs > s->id_score[x->ident - 1]) s->id_score[x->ident - 1] = cs;
  }
  for (int j = 0; j < s->n_live; j++) /* someone on screen now is not this face */
    if (j != k && s->live[j].visible) s->id_score[s->live[j].ident - 1] = -2.0f;
  int best = -1;
  float b1 = -2.0f, b2 = -2.0f;
  for (int i = 0; i < s->n_ids; i++) {
    float v = s->id_score[i];
    if (v > b1) {
      b2 = b1;
      b1 = v;
      best = i;
    } else if (v > b2) {
      b2 = v;
    }
  }
  if (best >= 0 && b1 >= s->p.pool_threshold && b1 - b2 >= TRK_POOL_MARGIN) {
    tr->ident = best + 1;
    s->sum[tr->id - 1].identity = best + 1;
    tr->settled = 1;
    s->n_pool_merged++;
  } else if (tr->n_pool >= TRK_POOL_N) {
    tr->settled = 1;
  }
}

/* Pooled samples of this frame's detected tracks (tracker.h), and the decisions they allow. */
static int sample_pools(trk_state *s, double t, trk_embed_fn embed, void *user, emoi_err *err) {
  if (!embed) return EMO_OK;
  int want[TRK_MAX_TRACKS] = {0},
      n_want = 0; /* the samples the loop below takes (each track's own) */
  for (int k = 0; k < s->n_live && n_want < TRK_MAX_TRACKS; k++) {
    const trk_track *tr = &s->live[k];
    if (tr->visible && tr->detected_now && tr->last_det_t == t && tr->n_pool < TRK_POOL_N &&
        t - tr->pool_t >= TRK_POOL_DT)
      want[n_want++] = tr->det_i;
  }
  int rc = fetch_emb(s, want, n_want, 1, embed, user, err);
  if (rc != EMO_OK) return rc;
  for (int k = 0; k < s->n_live; k++) {
    trk_track *tr = &s->live[k];
    if (!tr->visible || !tr->detected_now || tr->last_det_t != t || tr->n_pool >= TRK_POOL_N)
      continue;
    if (t - tr->pool_t < TRK_POOL_DT) continue;
    int i = tr->det_i;
    tr->pool_t = t;
    rc = fetch_emb(s, &i, 1, 1, embed, user, err);
    if (rc != EMO_OK) return rc;
    if (!s->has_pemb[i]) continue;
    for (int d = 0; d < FEM_DIM; d++) {
      if (tr->n_pool == 0) tr->pool_sum[d] = 0.0f;
      tr->pool_sum[d] += s->det_emb[i][d];
    }
    tr->n_pool++;
    memcpy(tr->pool, tr->pool_sum, sizeof tr->pool);
    normalize(tr->pool);
    memcpy(s->id_emb[tr->id - 1], tr->pool, sizeof tr->pool);
    s->sum[tr->id - 1].embedding = s->id_emb[tr->id - 1];
    if (!tr->settled && tr->n_pool >= TRK_POOL_DECIDE && s->p.pool_threshold <= 1.0f)
      decide_identity(s, k);
    else if (!tr->settled && tr->n_pool >= TRK_POOL_N)
      tr->settled = 1;
  }
  return EMO_OK;
}

int trk_wants_samples(const trk_state *s) {
  if (!s || s->p.pool_threshold > 1.0f) return 0;
  for (int k = 0; k < s->n_live; k++) {
    const trk_track *tr = &s->live[k];
    if (tr->visible && !tr->settled && tr->last_seen_t - tr->span_t < 2.0) return 1;
  }
  return 0;
}

int trk_update_detections(trk_state *s, double t, const bf_detection *dets, int n,
                          trk_embed_fn embed, void *user, emoi_err *err) {
  if (!s || (n > 0 && !dets) || n < 0 || !isfinite(t))
    return emoi_fail(err, EMO_EINVAL, "tracker: invalid detection frame");
  s->n_ev = 0;
  if (n > TRK_MAX_TRACKS) n = TRK_MAX_TRACKS;
  for (int k = 0; k < s->n_live; k++) s->matched[k] = 0;
  int rc = expire(s, t);
  if (rc) goto nomem;
  const int nl = s->n_live;
  const float gap = TRK_AMBIG_MARGIN;

  /* IoU of every (detection, live track) pair; which detections need an embedding */
  for (int i = 0; i < n; i++) {
    const bf_detection *d = &dets[i];
    s->has_emb[i] = 0;
    s->tried[i] = 0;
    s->has_pemb[i] = 0;
    s->ptried[i] = 0;
    s->flag[i] = 0;
    s->valid[i] = isfinite(d->x0) && isfinite(d->y0) && isfinite(d->x1) && isfinite(d->y1) &&
                  d->x1 > d->x0 && d->y1 > d->y0;
    for (int j = 0; j < nl; j++) s->iou[i][j] = s->valid[i] ? bf_iou_xywh(s->live[j].box, d) : 0.0f;
  }
  for (int i = 0; i < n; i++) { /* a detection overlapping two tracks alike, or a lost one */
    int b1 = -1;
    float v1 = 0.0f, v2 = 0.0f;
    for (int j = 0; j < nl; j++) {
      float v = s->iou[i][j];
      if (v < s->p.iou_min) continue;
      if (b1 < 0 || v > v1) {
        v2 = b1 < 0 ? 0.0f : v1;
        v1 = v;
        b1 = j;
      } else if (v > v2) {
        v2 = v;
      }
    }
    if (b1 >= 0 && ((v2 >= s->p.iou_min && v1 - v2 < gap) || !s->live[b1].visible)) s->flag[i] = 1;
  }
  for (int j = 0; j < nl; j++) { /* two detections competing for one track */
    int b1 = -1, b2 = -1;
    for (int i = 0; i < n; i++) {
      float v = s->iou[i][j];
      if (v < s->p.iou_min) continue;
      if (b1 < 0 || v > s->iou[b1][j]) {
        b2 = b1;
        b1 = i;
      } else if (b2 < 0 || v > s->iou[b2][j]) {
        b2 = i;
      }
    }
    if (b2 >= 0 && s->iou[b1][j] - s->iou[b2][j] < gap) s->flag[b1] = s->flag[b2] = 1;
  }
  int want[TRK_MAX_TRACKS] = {0}, n_want = 0;
  for (int i = 0; i < n; i++)
    if (s->flag[i]) want[n_want++] = i;
  if ((rc = fetch_emb(s, want, n_want, 0, embed, user, err)) != EMO_OK) return rc;
  for (int i = 0; i < n; i++)
    if (s->flag[i] && (rc = get_emb(s, i, embed, user, err)) != EMO_OK) return rc;

  /* costs: 1 - IoU, or the mean of 1 - IoU and 1 - cosine when both sides have an
   * appearance; a lost track is continued only by a face that looks like it */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < nl; j++) {
      float v = s->iou[i][j], c = INFINITY;
      if (v >= s->p.iou_min && !(s->live[j].after_cut && !(s->has_emb[i] && s->live[j].has_emb))) {
        c = 1.0f - v;
        if (s->has_emb[i] && s->live[j].has_emb) {
          float cs = dot(s->det_emb[i], s->live[j].emb);
          c = (!s->live[j].visible && cs < s->p.reid_threshold)
                  ? INFINITY
                  : 0.5f * (1.0f - v) + 0.5f * (1.0f - cs);
        }
      }
      s->cost[i * nl + j] = c;
    }
  rc = asg_solve(s->cost, n, nl, 2.0f, s->r2c);
  if (rc < 0) return emoi_fail(err, rc, "tracker: assignment failed");

  n_want = 0; /* each track's evidence depends only on its own state: known ahead */
  for (int i = 0; i < n; i++)
    if (s->r2c[i] >= 0 && s->live[s->r2c[i]].visible &&
        weak_evidence(&s->live[s->r2c[i]], &dets[i], t))
      want[n_want++] = i;
  if ((rc = fetch_emb(s, want, n_want, 0, embed, user, err)) != EMO_OK) return rc;
  for (int i = 0; i < n; i++) {
    int j = s->r2c[i];
    if (j < 0) continue;
    trk_track *tr = &s->live[j];
    if (tr->visible && weak_evidence(tr, &dets[i], t)) {
      if ((rc = get_emb(s, i, embed, user, err)) != EMO_OK) return rc;
      if (s->has_emb[i] && tr->has_emb) {
        s->n_checked++;
        if (dot(s->det_emb[i], tr->emb) < s->p.verify_threshold) { /* someone else */
          s->n_rejected++;
          s->r2c[i] = -1;
          continue;
        }
      }
    }
    if (s->has_emb[i] && (!tr->has_emb || dot(s->det_emb[i], tr->emb) >= s->p.reid_threshold)) {
      blend_emb(tr, s->det_emb[i]);
      tr->emb_t = t;
      tr->emb_yaw = trk_yaw(&dets[i]);
    }
    take_detection(s, tr, &dets[i], i, t);
    s->matched[j] = 1;
  }
  for (int j = 0; j < nl; j++)
    if (!s->matched[j]) {
      s->live[j].visible = 0;
      s->live[j].detected_now = 0;
    }

  /* unmatched detections: take back a lost or ended track that looks the same, else a new id */
  n_want = 0;
  for (int i = 0; i < n; i++)
    if (s->r2c[i] < 0 && s->valid[i]) want[n_want++] = i;
  if ((rc = fetch_emb(s, want, n_want, 0, embed, user, err)) != EMO_OK) return rc;
  for (int i = 0; i < n; i++) {
    if (s->r2c[i] >= 0 || !s->valid[i]) continue;
    if ((rc = get_emb(s, i, embed, user, err)) != EMO_OK) return rc;
    int best_live = -1, best_end = -1;
    float best = -2.0f;
    if (s->has_emb[i]) {
      for (int j = 0; j < s->n_live; j++) {
        if (s->matched[j] || !s->live[j].has_emb) continue;
        float cs = dot(s->det_emb[i], s->live[j].emb);
        if (cs > best) best = cs, best_live = j, best_end = -1;
      }
      for (int e = 0; e < s->n_ended; e++) {
        if (!s->ended[e].has_emb) continue;
        float cs = dot(s->det_emb[i], s->ended[e].emb);
        if (cs > best) best = cs, best_end = e, best_live = -1;
      }
    }
    if (best >= s->p.reid_threshold && best_live >= 0) {
      trk_track *tr = &s->live[best_live];
      blend_emb(tr, s->det_emb[i]);
      tr->emb_t = t;
      tr->emb_yaw = trk_yaw(&dets[i]);
      take_detection(s, tr, &dets[i], i, t);
      s->matched[best_live] = 1;
    } else if (best >= s->p.reid_threshold && best_end >= 0) {
      rc = start_track(s, &dets[i], i, t, s->ended[best_end].id, best_end);
      if (rc) goto nomem;
    } else {
      rc = start_track(s, &dets[i], i, t, -1, -1);
      if (rc) goto nomem;
    }
  }
  rebuild_visible(s);
  return sample_pools(s, t, embed, user, err);
nomem:
  rebuild_visible(s);
  return emoi_fail(err, EMO_ENOMEM, "tracker: out of memory");
}

int trk_cut(trk_state *s, double t, emoi_err *err) {
  if (!s || !isfinite(t)) return emoi_fail(err, EMO_EINVAL, "tracker: invalid cut");
  int rc = trk_update_detections(s, t, NULL, 0, NULL, NULL, err);
  for (int k = 0; k < s->n_live; k++) s->live[k].after_cut = 1;
  return rc;
}

int trk_update_flow(trk_state *s, double t) {
  if (!s || !isfinite(t)) return EMO_EINVAL;
  s->n_ev = 0;
  for (int k = 0; k < s->n_live; k++) {
    trk_track *tr = &s->live[k];
    tr->detected_now = 0;
    if (tr->visible) count_frame(s, tr, t);
  }
  int rc = expire(s, t);
  rebuild_visible(s);
  return rc ? EMO_ENOMEM : EMO_OK;
}

void trk_set_box(trk_state *s, int idx, const float box[4], float dx, float dy, float scale) {
  if (!s || !box || idx < 0 || idx >= s->n_vis) return;
  if (!isfinite(box[0]) || !isfinite(box[1]) || !isfinite(box[2]) || !isfinite(box[3]) ||
      !isfinite(dx) || !isfinite(dy) || !isfinite(scale))
    return;
  trk_track *tr = &s->live[s->vis[idx]];
  float cx = tr->box[0] + 0.5f * tr->box[2], cy = tr->box[1] + 0.5f * tr->box[3];
  for (int k = 0; k < BF_KEYPOINTS; k++) {
    tr->kp[k][0] = cx + dx + scale * (tr->kp[k][0] - cx);
    tr->kp[k][1] = cy + dy + scale * (tr->kp[k][1] - cy);
  }
  memcpy(tr->box, box, sizeof tr->box);
}

void trk_mark_verify(trk_state *s, int idx) {
  if (s && idx >= 0 && idx < s->n_vis) s->live[s->vis[idx]].verify = 1;
}

void trk_verify_counts(const trk_state *s, int64_t *checked, int64_t *rejected) {
  if (checked) *checked = s ? s->n_checked : 0;
  if (rejected) *rejected = s ? s->n_rejected : 0;
}

void trk_add_details(trk_state *s, int idx, const emo_face_details *d) {
  if (!s || !d || idx < 0 || idx >= s->n_vis || d->level == EMO_DETAILS_NONE) return;
  trk_track *tr = &s->live[s->vis[idx]];
  trk_rec *r = &s->rec[tr->id - 1];
  emo_track_summary *su = &s->sum[tr->id - 1];
  if (d->has_pose) {
    const float p[3] = {d->pose.pitch, d->pose.yaw, d->pose.roll};
    su->pose_frames++;
    for (int k = 0; k < 3; k++) {
      r->pose_sum[k] += p[k];
      su->mean_pose[k] = (float)(r->pose_sum[k] / (double)su->pose_frames);
      if (su->pose_frames == 1 || p[k] < su->pose_min[k]) su->pose_min[k] = p[k];
      if (su->pose_frames == 1 || p[k] > su->pose_max[k]) su->pose_max[k] = p[k];
    }
  }
  if (d->level == EMO_DETAILS_FULL) {
    su->au_frames++;
    for (int k = 0; k < EMO_AU_COUNT; k++) {
      r->au_sum[k] += d->aus[k];
      su->mean_aus[k] = (float)(r->au_sum[k] / (double)su->au_frames);
    }
  }
}

void trk_add_expression(trk_state *s, int idx, double t, const float probs[EMO_EXPR_COUNT]) {
  if (!s || !probs || idx < 0 || idx >= s->n_vis) return;
  trk_track *tr = &s->live[s->vis[idx]];
  trk_rec *r = &s->rec[tr->id - 1];
  emo_track_summary *su = &s->sum[tr->id - 1];
  r->n++;
  int dom = 0;
  for (int k = 0; k < EMO_EXPR_COUNT; k++) {
    r->sum[k] += probs[k];
    su->mean_expression[k] = (float)(r->sum[k] / (double)r->n);
    if (su->mean_expression[k] > su->mean_expression[dom]) dom = k;
  }
  su->dominant = dom;
  double alpha = 1.0;
  if (tr->has_expr && s->p.smoothing > 0.0f) {
    double dt = t - tr->expr_t;
    alpha = dt > 0.0 ? 1.0 - exp(-dt / s->p.smoothing) : 0.0;
  }
  for (int k = 0; k < EMO_EXPR_COUNT; k++)
    tr->smoothed[k] += (float)(alpha * ((double)probs[k] - tr->smoothed[k]));
  if (!tr->has_expr) memcpy(tr->smoothed, probs, sizeof tr->smoothed);
  tr->has_expr = 1;
  tr->expr_t = t;
}

int trk_count(const trk_state *s) {
  return s ? s->n_vis : 0;
}

const trk_track *trk_get(const trk_state *s, int idx) {
  if (!s || idx < 0 || idx >= s->n_vis) return NULL;
  return &s->live[s->vis[idx]];
}

int trk_events(const trk_state *s, const emo_event **ev) {
  if (ev) *ev = s ? s->ev : NULL;
  return s ? s->n_ev : 0;
}

int trk_finish(trk_state *s, double t) {
  (void)t; /* every live track ends at its last time seen */
  if (!s) return EMO_EINVAL;
  s->n_ev = 0;
  int rc = 0;
  while (s->n_live > 0)
    if (end_track(s, s->n_live - 1)) rc = EMO_ENOMEM;
  rebuild_visible(s);
  return rc;
}

int trk_summaries(const trk_state *s, const emo_track_summary **out) {
  if (out) *out = s ? s->sum : NULL;
  return s ? s->n_ids : 0;
}
