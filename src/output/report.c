/* report.c: the HTML report of a run (emo_report_*). Reads emo's own JSON Lines (frames,
 * events, speech segments, persons, final turns, summaries; of this run or of an earlier one,
 * possibly truncated or edited by hand), keeps a decimated picture of it in bounded memory, and
 * writes one self-contained HTML page: the page template (report_template.html, compiled in) with
 * the data inlined as JSON. Drawing is left to the page's script; this file only decides what is
 * kept.
 *
 * Decimation: time is cut into buckets of `step` seconds (first 20 ms). A face's frames in one
 * bucket are merged (first time and box, mean score, expression, speaking score, pose, action
 * units);
 * when the buckets of the timeline or the samples of all tracks pass the caps in
 * emo_report_params, step doubles and neighbouring buckets merge, so memory and the page's
 * size stay bounded for any length (a 1 h recording ends with 0.32 s buckets). Segments,
 * turns, person records and events are kept whole (up to their caps).
 *
 * Turns ({"type":"turn",...}, emo_turn_json): the final who-speaks-when of a run with persons,
 * where overlapped speech gives each person a turn of its own ("overlap":true). When a run has
 * them the page draws each person's speech and the overlap row from them; older runs without
 * turn records are drawn from their segments as before.
 *
 * Outside bytes: every line is parsed by cJSON with its length; numbers are checked finite and
 * in range, unknown fields are ignored, strings are copied with a length cap. A bad line is
 * skipped with a warning naming its number; the page shows the warnings. Inlined JSON escapes
 * <, >, & and U+2028/9, and the page's script writes text only through textContent. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"
#include "output/strbuf.h"

extern const unsigned char emoi_report_template[];
extern const unsigned long emoi_report_template_len;

#define RP_STR 64          /* longest id or label kept (bytes, longer ones are cut) */
#define RP_MAX_AU 24       /* action units kept per face */
#define RP_MAX_WARN 20     /* warnings listed; more are counted */
#define RP_MAX_T 1.0e7     /* seconds: a later time is refused as edited by hand (115 days) */
#define RP_FIRST_STEP 0.02 /* seconds per bucket before any merging */
#define RP_VOICE 8         /* voice emotions: the facial 7 and calm */

static const char *const k_voice[RP_VOICE] = {"angry", "disgust",  "fear",    "happy",
                                              "sad",   "surprise", "neutral", "calm"};

typedef struct rp_sample {
  int64_t k;    /* bucket */
  double t;     /* time of its first frame */
  int n;        /* frames merged */
  float box[4]; /* first frame's box (x, y, w, h) */
  float score;  /* sum */
  float expr[EMO_EXPR_COUNT];
  int n_expr;
  float spk;
  int n_spk;
  float pose[3]; /* pitch, yaw, roll sums */
  int n_pose;
  float inten;
  int n_inten;
  float au[RP_MAX_AU];
  uint16_t n_au[RP_MAX_AU];
} rp_sample;

typedef struct rp_track {
  int id;
  char person[RP_STR];
  double first, last;
  int64_t frames;
  rp_sample *s; /* (n,) in time order */
  int n, cap;
} rp_track;

typedef struct rp_segment {
  double start, end;
  char speaker[RP_STR], person[RP_STR], dominant[RP_STR];
  int track_id;        /* -1 when none */
  int on_screen;       /* -1 unknown, 0, 1 */
  float emo[RP_VOICE]; /* NAN when the model has no such label */
} rp_segment;

typedef struct rp_turn {
  double start, end;
  char person[RP_STR], speaker[RP_STR]; /* "" when null */
  int overlap;                          /* 0, 1 */
} rp_turn;

struct emo_report {
  emo_report_params p;
  char title[1024], video[4096];
  double step;
  /* timeline quality, per bucket: frames, faces, frames without a face, detector runs */
  int32_t *q_frames, *q_faces, *q_noface, *q_det;
  int64_t nb, cap_b;
  rp_track *tracks;
  int n_tracks, cap_tracks;
  int64_t n_samples;
  rp_segment *segs;
  int n_segs, cap_segs, segs_dropped;
  rp_turn *turns; /* (n_turns,) as read (capped by max_segments) */
  int n_turns, cap_turns, turns_dropped;
  double *ev_start, *ev_end; /* track_start / track_end times */
  int n_ev_start, n_ev_end, cap_ev_start, cap_ev_end;
  cJSON *persons; /* array of person records as read */
  cJSON *meta;    /* run information: a "run" record's and the summary's fields */
  char au_names[RP_MAX_AU][RP_STR];
  int n_au;
  int64_t frames, faces_hist[5], score_hist[20];
  double last_frame_t, dt_sum, max_t, summary_duration;
  int64_t dt_n;
  int has_speaking, has_pose, has_inten, interrupted, summaries, runs;
  double run_duration; /* a run record's duration of the media (0: none) */
  double *cuts;        /* shot_cut times */
  int n_cuts, cap_cuts;
  int *ev_start_id, *ev_end_id; /* the track ids of ev_start / ev_end */
  int64_t lines, records, bad_lines;
  char warn[RP_MAX_WARN][200];
  int n_warn;
  int64_t n_warn_total;
  int oom;
};

emo_report_params emo_report_params_default(void) {
  emo_report_params p;
  memset(&p, 0, sizeof p);
  p.max_line_bytes = 64 << 20;
  p.max_buckets = 16384;
  p.max_samples = 131072;
  p.max_segments = 200000;
  p.max_tracks = 100000;
  p.max_persons = 10000;
  return p;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
warnf(emo_report *r, const char *fmt, ...) {
  r->n_warn_total++;
  if (r->n_warn >= RP_MAX_WARN) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->warn[r->n_warn++], sizeof r->warn[0], fmt, ap);
  va_end(ap);
}

int emo_report_create(const emo_report_params *p, emo_report **out) {
  if (!out) return EMO_EINVAL;
  *out = NULL;
  emo_report_params d = p ? *p : emo_report_params_default();
  if (d.max_line_bytes < 1024 || d.max_buckets < 16 || d.max_samples < 16 || d.max_segments < 0 ||
      d.max_tracks < 1 || d.max_persons < 0)
    return EMO_EINVAL;
  emo_report *r = calloc(1, sizeof *r);
  if (!r) return EMO_ENOMEM;
  r->p = d;
  snprintf(r->title, sizeof r->title, "%s", d.title ? d.title : "");
  snprintf(r->video, sizeof r->video, "%s", d.video ? d.video : "");
  r->p.title = r->p.video = NULL;
  r->step = RP_FIRST_STEP;
  r->last_frame_t = -1;
  r->persons = cJSON_CreateArray();
  r->meta = cJSON_CreateObject();
  if (!r->persons || !r->meta) {
    emo_report_destroy(&r);
    return EMO_ENOMEM;
  }
  *out = r;
  return EMO_OK;
}

void emo_report_destroy(emo_report **pr) {
  if (!pr || !*pr) return;
  emo_report *r = *pr;
  free(r->q_frames);
  free(r->q_faces);
  free(r->q_noface);
  free(r->q_det);
  for (int i = 0; i < r->n_tracks; i++) free(r->tracks[i].s);
  free(r->tracks);
  free(r->segs);
  free(r->turns);
  free(r->ev_start);
  free(r->ev_end);
  free(r->ev_start_id);
  free(r->ev_end_id);
  free(r->cuts);
  cJSON_Delete(r->persons);
  cJSON_Delete(r->meta);
  free(r);
  *pr = NULL;
}

/* Grows *p (elements of size sz) to hold need elements; 0 on success. */
static int grow(void **p, int64_t *cap, int64_t need, size_t sz) {
  if (need <= *cap) return 0;
  int64_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, (size_t)c * sz);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

static int grow_int(void **p, int *cap, int need, size_t sz) {
  int64_t c = *cap;
  if (grow(p, &c, need, sz)) return -1;
  *cap = (int)c;
  return 0;
}

static void merge_sample(rp_sample *a, const rp_sample *b) {
  a->n += b->n;
  a->score += b->score;
  for (int k = 0; k < EMO_EXPR_COUNT; k++) a->expr[k] += b->expr[k];
  a->n_expr += b->n_expr;
  a->spk += b->spk;
  a->n_spk += b->n_spk;
  for (int k = 0; k < 3; k++) a->pose[k] += b->pose[k];
  a->n_pose += b->n_pose;
  a->inten += b->inten;
  a->n_inten += b->n_inten;
  for (int k = 0; k < RP_MAX_AU; k++) {
    a->au[k] += b->au[k];
    a->n_au[k] = (uint16_t)(a->n_au[k] + b->n_au[k] > 65535 ? 65535 : a->n_au[k] + b->n_au[k]);
  }
}

/* Doubles the bucket width: bucket k becomes k / 2, neighbours merge. */
static void coarsen(emo_report *r) {
  r->step *= 2;
  int64_t nb = (r->nb + 1) / 2;
  for (int64_t i = 0; i < nb; i++) {
    int64_t a = 2 * i, b = 2 * i + 1;
    int32_t f = r->q_frames[a], c = r->q_faces[a], z = r->q_noface[a], d = r->q_det[a];
    if (b < r->nb) {
      f += r->q_frames[b];
      c += r->q_faces[b];
      z += r->q_noface[b];
      d += r->q_det[b];
    }
    r->q_frames[i] = f;
    r->q_faces[i] = c;
    r->q_noface[i] = z;
    r->q_det[i] = d;
  }
  r->nb = nb;
  r->n_samples = 0;
  for (int t = 0; t < r->n_tracks; t++) {
    rp_track *tr = &r->tracks[t];
    int o = 0;
    for (int i = 0; i < tr->n; i++) {
      rp_sample s = tr->s[i];
      s.k /= 2;
      if (o > 0 && tr->s[o - 1].k == s.k)
        merge_sample(&tr->s[o - 1], &s);
      else
        tr->s[o++] = s;
    }
    tr->n = o;
    r->n_samples += o;
  }
}

/* The bucket of time t, coarsening until it fits; -1 when memory runs out. */
static int64_t bucket(emo_report *r, double t) {
  while ((int64_t)(t / r->step) >= r->p.max_buckets) coarsen(r);
  int64_t k = (int64_t)(t / r->step);
  if (k >= r->nb) {
    if (grow((void **)&r->q_frames, &r->cap_b, k + 1, sizeof(int32_t))) return -1;
    int64_t c = r->cap_b;
    void *p1 = realloc(r->q_faces, (size_t)c * sizeof(int32_t));
    if (p1) r->q_faces = p1;
    void *p2 = realloc(r->q_noface, (size_t)c * sizeof(int32_t));
    if (p2) r->q_noface = p2;
    void *p3 = realloc(r->q_det, (size_t)c * sizeof(int32_t));
    if (p3) r->q_det = p3;
    if (!p1 || !p2 || !p3) return -1;
    for (int64_t i = r->nb; i <= k; i++) r->q_frames[i] = r->q_faces[i] = r->q_noface[i] = 0;
    for (int64_t i = r->nb; i <= k; i++) r->q_det[i] = 0;
    r->nb = k + 1;
  }
  return k;
}

/* A number field: 1 and *v when present, finite and within [lo, hi]. */
static int num(const cJSON *o, const char *key, double lo, double hi, double *v) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < lo || x->valuedouble > hi)
    return 0;
  *v = x->valuedouble;
  return 1;
}

/* Copies a string field (or a number written as text) into dst; 1 when present. */
static int str(const cJSON *o, const char *key, char dst[RP_STR]) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsString(x) && x->valuestring) {
    snprintf(dst, RP_STR, "%s", x->valuestring);
    return 1;
  }
  if (cJSON_IsNumber(x) && isfinite(x->valuedouble) && fabs(x->valuedouble) < 1e15) {
    snprintf(dst, RP_STR, "%.0f", x->valuedouble);
    return 1;
  }
  return 0;
}

static rp_track *find_track(emo_report *r, int id) {
  /* tracks arrive in id order mostly: look from the end */
  for (int i = r->n_tracks - 1; i >= 0; i--)
    if (r->tracks[i].id == id) return &r->tracks[i];
  if (r->n_tracks >= r->p.max_tracks) return NULL;
  if (grow_int((void **)&r->tracks, &r->cap_tracks, r->n_tracks + 1, sizeof(rp_track))) {
    r->oom = 1;
    return NULL;
  }
  rp_track *t = &r->tracks[r->n_tracks++];
  memset(t, 0, sizeof *t);
  t->id = id;
  return t;
}

static int au_index(emo_report *r, const char *name) {
  for (int i = 0; i < r->n_au; i++)
    if (strcmp(r->au_names[i], name) == 0) return i;
  if (r->n_au >= RP_MAX_AU) return -1;
  snprintf(r->au_names[r->n_au], RP_STR, "%s", name);
  return r->n_au++;
}

/* One face of a frame at bucket k. Returns 0, or -1 after a warning (bad face). */
static int add_face(emo_report *r, const cJSON *f, double t, int64_t k, int64_t line) {
  double id = 0, v;
  if (!cJSON_IsObject(f) || !num(f, "track_id", -1e9, 1e9, &id)) {
    warnf(r, "line %lld: a face without a valid track_id (skipped)", (long long)line);
    return -1;
  }
  rp_sample s;
  memset(&s, 0, sizeof s);
  s.k = k;
  s.t = t;
  s.n = 1;
  const cJSON *box = cJSON_GetObjectItemCaseSensitive(f, "box");
  if (!cJSON_IsArray(box) || cJSON_GetArraySize(box) != 4) {
    warnf(r, "line %lld: a face without a box [x,y,w,h] (skipped)", (long long)line);
    return -1;
  }
  for (int i = 0; i < 4; i++) {
    const cJSON *x = cJSON_GetArrayItem(box, i);
    if (!cJSON_IsNumber(x) || !(fabs(x->valuedouble) < 1e6)) {
      warnf(r, "line %lld: a face box out of range (skipped)", (long long)line);
      return -1;
    }
    s.box[i] = (float)x->valuedouble;
  }
  double score = 0;
  if (num(f, "score", 0, 1, &score)) {
    int b = (int)(score * 20);
    r->score_hist[b > 19 ? 19 : b]++;
  }
  s.score = (float)score;
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "expression");
  if (cJSON_IsObject(e)) {
    int ok = 1;
    for (int c = 0; c < EMO_EXPR_COUNT; c++) {
      if (num(e, emo_expression_name(c), 0, 1, &v))
        s.expr[c] = (float)v;
      else
        ok = 0;
    }
    if (ok)
      s.n_expr = 1;
    else
      memset(s.expr, 0, sizeof s.expr);
  }
  if (num(f, "speaking", 0, 1, &v)) {
    s.spk = (float)v;
    s.n_spk = 1;
    r->has_speaking = 1;
  }
  const cJSON *pose = cJSON_GetObjectItemCaseSensitive(f, "pose");
  double pp[3];
  if (cJSON_IsObject(pose) && num(pose, "pitch", -360, 360, &pp[0]) &&
      num(pose, "yaw", -360, 360, &pp[1]) && num(pose, "roll", -360, 360, &pp[2])) {
    for (int i = 0; i < 3; i++) s.pose[i] = (float)pp[i];
    s.n_pose = 1;
    r->has_pose = 1;
  }
  if (num(f, "intensity", -1e6, 1e6, &v)) {
    s.inten = (float)v;
    s.n_inten = 1;
    r->has_inten = 1;
  }
  const cJSON *aus = cJSON_GetObjectItemCaseSensitive(f, "aus");
  if (cJSON_IsObject(aus)) {
    const cJSON *a;
    cJSON_ArrayForEach(a, aus) {
      if (!a->string || !cJSON_IsNumber(a) || !(fabs(a->valuedouble) < 1e6)) continue;
      int i = au_index(r, a->string);
      if (i < 0) continue;
      s.au[i] = (float)a->valuedouble;
      s.n_au[i] = 1;
    }
  }
  rp_track *tr = find_track(r, (int)id);
  if (!tr) {
    if (!r->oom)
      warnf(r, "line %lld: more than %d tracks (the rest skipped)", (long long)line,
            r->p.max_tracks);
    return -1;
  }
  char person[RP_STR];
  if (str(f, "person", person)) snprintf(tr->person, RP_STR, "%s", person);
  if (tr->frames == 0) tr->first = t;
  if (t > tr->last) tr->last = t;
  tr->frames++;
  if (tr->n > 0 && tr->s[tr->n - 1].k >= k) { /* same bucket (or time going back): merge */
    merge_sample(&tr->s[tr->n - 1], &s);
    return 0;
  }
  if (grow_int((void **)&tr->s, &tr->cap, tr->n + 1, sizeof(rp_sample))) {
    r->oom = 1;
    return -1;
  }
  tr->s[tr->n++] = s;
  r->n_samples++;
  return 0;
}

static void add_frame(emo_report *r, const cJSON *o, int64_t line) {
  double t;
  if (!num(o, "t", 0, RP_MAX_T, &t)) {
    warnf(r, "line %lld: a frame without a valid time \"t\" (skipped)", (long long)line);
    r->bad_lines++;
    return;
  }
  if (r->last_frame_t >= 0 && t > r->last_frame_t) {
    r->dt_sum += t - r->last_frame_t;
    r->dt_n++;
  }
  r->last_frame_t = t;
  if (t > r->max_t) r->max_t = t;
  int64_t k = bucket(r, t);
  if (k < 0) {
    r->oom = 1;
    return;
  }
  const cJSON *faces = cJSON_GetObjectItemCaseSensitive(o, "faces");
  int n = 0;
  if (cJSON_IsArray(faces)) {
    const cJSON *f;
    cJSON_ArrayForEach(f, faces) {
      if (add_face(r, f, t, k, line) == 0) n++;
    }
  }
  const cJSON *dr = cJSON_GetObjectItemCaseSensitive(o, "detector_ran");
  r->frames++;
  r->faces_hist[n > 4 ? 4 : n]++;
  r->q_frames[k]++;
  r->q_faces[k] += n;
  if (n == 0) r->q_noface[k]++;
  if (cJSON_IsTrue(dr)) r->q_det[k]++;
  /* (with more tracks than max_samples, widening never gets under the cap: stop somewhere) */
  if (r->n_samples > r->p.max_samples && r->step < RP_MAX_T) coarsen(r);
}

/* A zeroed slot for one more record of a list capped at max_segments (segments, turns), or
 * NULL: past the cap (the first record past it is warned about, the rest only counted in
 * *dropped) or out of memory (r->oom). */
static void *next_slot(emo_report *r, void **v, int *n, int *cap, int *dropped, size_t sz,
                       const char *what, int64_t line) {
  if (*n >= r->p.max_segments) {
    if ((*dropped)++ == 0)
      warnf(r, "line %lld: more than %d %s (the rest skipped)", (long long)line, r->p.max_segments,
            what);
    return NULL;
  }
  if (grow_int(v, cap, *n + 1, sz)) {
    r->oom = 1;
    return NULL;
  }
  char *slot = (char *)*v + (size_t)(*n)++ * sz;
  memset(slot, 0, sz);
  return slot;
}

static void add_segment(emo_report *r, const cJSON *o, int64_t line) {
  double s, e;
  if (!num(o, "start", 0, RP_MAX_T, &s) || !num(o, "end", s, RP_MAX_T, &e)) {
    warnf(r, "line %lld: a segment without a valid start and end (skipped)", (long long)line);
    r->bad_lines++;
    return;
  }
  rp_segment *g = next_slot(r, (void **)&r->segs, &r->n_segs, &r->cap_segs, &r->segs_dropped,
                            sizeof *g, "segments", line);
  if (!g) return;
  g->start = s;
  g->end = e;
  if (e > r->max_t) r->max_t = e;
  str(o, "speaker", g->speaker);
  str(o, "person", g->person);
  str(o, "dominant", g->dominant);
  double v;
  g->track_id = num(o, "track_id", -1e9, 1e9, &v) ? (int)v : -1;
  const cJSON *os = cJSON_GetObjectItemCaseSensitive(o, "on_screen");
  g->on_screen = cJSON_IsBool(os) ? cJSON_IsTrue(os) : (g->track_id >= 0 ? 1 : -1);
  const cJSON *em = cJSON_GetObjectItemCaseSensitive(o, "emotion");
  for (int k = 0; k < RP_VOICE; k++)
    g->emo[k] = cJSON_IsObject(em) && num(em, k_voice[k], 0, 1, &v) ? (float)v : NAN;
}

/* A turn record: start <= end, person and speaker strings or null, overlap a boolean (absent:
 * false). Anything else is skipped with a warning. */
static void add_turn(emo_report *r, const cJSON *o, int64_t line) {
  double s, e;
  const cJSON *ov = cJSON_GetObjectItemCaseSensitive(o, "overlap");
  const cJSON *pe = cJSON_GetObjectItemCaseSensitive(o, "person");
  const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "speaker");
  if (!num(o, "start", 0, RP_MAX_T, &s) || !num(o, "end", s, RP_MAX_T, &e) ||
      (ov && !cJSON_IsBool(ov)) || (pe && !cJSON_IsNull(pe) && !cJSON_IsString(pe)) ||
      (sp && !cJSON_IsNull(sp) && !cJSON_IsString(sp))) {
    warnf(r, "line %lld: a turn without a valid start, end, person, speaker or overlap (skipped)",
          (long long)line);
    r->bad_lines++;
    return;
  }
  rp_turn *u = next_slot(r, (void **)&r->turns, &r->n_turns, &r->cap_turns, &r->turns_dropped,
                         sizeof *u, "turns", line);
  if (!u) return;
  u->start = s;
  u->end = e;
  if (e > r->max_t) r->max_t = e;
  str(o, "person", u->person);
  str(o, "speaker", u->speaker);
  u->overlap = cJSON_IsTrue(ov);
}

/* Appends (t, id) to a list of event times (and ids when ids is not NULL); 0 or -1 (memory). */
static int push_time(double **t, int **ids, int *n, int *cap, double v, int id) {
  int c = *cap;
  if (grow_int((void **)t, &c, *n + 1, sizeof(double))) return -1;
  if (ids) {
    int c2 = *cap;
    if (grow_int((void **)ids, &c2, *n + 1, sizeof(int))) return -1;
  }
  *cap = c;
  (*t)[*n] = v;
  if (ids) (*ids)[*n] = id;
  (*n)++;
  return 0;
}

/* track_start / track_end (time and id) and shot_cut events: the page's identity panel counts
 * the tracks that end and begin at each cut. */
static void add_event(emo_report *r, const cJSON *o) {
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
  double s, e, id = 0;
  if (!cJSON_IsString(ev)) return;
  int start = strcmp(ev->valuestring, "track_start") == 0;
  int end = strcmp(ev->valuestring, "track_end") == 0;
  int cut = strcmp(ev->valuestring, "shot_cut") == 0;
  if ((start || end) && !num(o, "track_id", -1e9, 1e9, &id)) id = 0;
  int fail = 0;
  if (start && num(o, "start", 0, RP_MAX_T, &s) && r->n_ev_start < r->p.max_segments)
    fail = push_time(&r->ev_start, &r->ev_start_id, &r->n_ev_start, &r->cap_ev_start, s, (int)id);
  if (end && num(o, "end", 0, RP_MAX_T, &e) && r->n_ev_end < r->p.max_segments)
    fail = push_time(&r->ev_end, &r->ev_end_id, &r->n_ev_end, &r->cap_ev_end, e, (int)id);
  if (cut && num(o, "start", 0, RP_MAX_T, &s) && r->n_cuts < r->p.max_segments)
    fail = push_time(&r->cuts, NULL, &r->n_cuts, &r->cap_cuts, s, 0);
  if (fail) r->oom = 1;
}

/* Run information (a "run" record, or fields of a summary): strings and numbers kept as they
 * are, objects of strings (model hashes) too. */
static void add_meta(emo_report *r, const cJSON *o, const char *const *keys) {
  for (int i = 0; keys[i]; i++) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
    if (!x || !(cJSON_IsString(x) || cJSON_IsNumber(x) || cJSON_IsObject(x) || cJSON_IsBool(x)))
      continue;
    if (cJSON_IsObject(x) && cJSON_GetArraySize(x) > 64) continue;
    if (cJSON_IsObject(x)) { /* flat objects of strings, numbers, booleans and nulls only */
      const cJSON *y;
      int flat = 1;
      cJSON_ArrayForEach(y, x) {
        if (cJSON_IsObject(y) || cJSON_IsArray(y)) flat = 0;
      }
      if (!flat) continue;
    }
    cJSON *c = cJSON_Duplicate(x, 1);
    if (!c) {
      r->oom = 1;
      return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(r->meta, keys[i]);
    cJSON_AddItemToObject(r->meta, keys[i], c);
  }
}

static const char *const k_meta_keys[] = {"file",     "emo_version", "models", "options",
                                          "width",    "height",      "fps",    "media_duration",
                                          "detector", "expression",  "asd",    NULL};
/* a run record's: the keys above and its own (a summary's "duration" is another thing) */
static const char *const k_run_keys[] = {
    "kind",           "file",     "emo_version", "duration", "models",
    "options",        "width",    "height",      "fps",      "options_hash",
    "media_duration", "detector", "expression",  "asd",      NULL};

static void add_summary(emo_report *r, const cJSON *o) {
  double d;
  r->summaries++;
  if (num(o, "duration", 0, RP_MAX_T, &d) && d > r->summary_duration) r->summary_duration = d;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "interrupted"))) r->interrupted = 1;
  add_meta(r, o, k_meta_keys);
}

int emo_report_add_line(emo_report *r, const char *line, size_t len) {
  if (!r || (!line && len)) return EMO_EINVAL;
  if (r->oom) return EMO_ENOMEM;
  int64_t no = ++r->lines;
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
  if (i == len) return EMO_OK; /* blank lines are allowed */
  if (len > (size_t)r->p.max_line_bytes) {
    warnf(r, "line %lld: longer than %lld bytes (skipped)", (long long)no,
          (long long)r->p.max_line_bytes);
    r->bad_lines++;
    return EMO_EFORMAT;
  }
  cJSON *o = cJSON_ParseWithLength(line, len);
  if (!o || !cJSON_IsObject(o)) {
    warnf(r, "line %lld: not a JSON object (%s; skipped)", (long long)no,
          o ? "another JSON value" : "truncated or not JSON");
    cJSON_Delete(o);
    r->bad_lines++;
    return EMO_EFORMAT;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  const char *ty = cJSON_IsString(type) ? type->valuestring : "";
  int known = 1;
  if (strcmp(ty, "frame") == 0)
    add_frame(r, o, no);
  else if (strcmp(ty, "segment") == 0)
    add_segment(r, o, no);
  else if (strcmp(ty, "turn") == 0)
    add_turn(r, o, no);
  else if (strcmp(ty, "event") == 0)
    add_event(r, o);
  else if (strcmp(ty, "summary") == 0)
    add_summary(r, o);
  else if (strcmp(ty, "run") == 0) {
    r->runs++;
    add_meta(r, o, k_run_keys);
    double d;
    if (num(o, "duration", 0, RP_MAX_T, &d) && d > r->run_duration) r->run_duration = d;
  } else if (strcmp(ty, "person") == 0) {
    if (cJSON_GetArraySize(r->persons) < r->p.max_persons) {
      cJSON *c = cJSON_Duplicate(o, 1);
      if (c) {
        /* ids cut as in frames and segments, so that the page can match them */
        const char *const ids[] = {"person", "speaker"};
        for (int k = 0; k < 2; k++) {
          char cut[RP_STR];
          if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, ids[k])) && str(c, ids[k], cut))
            cJSON_ReplaceItemInObjectCaseSensitive(c, ids[k], cJSON_CreateString(cut));
        }
        cJSON_AddItemToArray(r->persons, c);
      } else {
        r->oom = 1;
      }
    }
  } else if (cJSON_GetObjectItemCaseSensitive(o, "faces") &&
             cJSON_GetObjectItemCaseSensitive(o, "file")) {
    known = 0; /* an `emo image` line: not a timeline */
    warnf(r, "line %lld: a photo result (emo image), not a timeline (skipped)", (long long)no);
  } else {
    known = 0;
    warnf(r, "line %lld: unknown record type \"%.40s\" (skipped)", (long long)no, ty);
  }
  cJSON_Delete(o);
  if (known) r->records++;
  if (r->oom) return EMO_ENOMEM;
  return known ? EMO_OK : EMO_EFORMAT;
}

int emo_report_add_text(emo_report *r, const char *text, size_t len) {
  if (!r || (!text && len)) return EMO_EINVAL;
  size_t i = 0;
  while (i < len) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    int64_t before = r->bad_lines;
    int rc = emo_report_add_line(r, text + i, end - i);
    if (rc == EMO_ENOMEM) return rc;
    if (!nl && r->bad_lines > before)
      warnf(r, "the last line has no newline: the output was cut (a killed run or a full disk)");
    i = end + 1;
  }
  return EMO_OK;
}

/* ---- writing --------------------------------------------------------------------------- */

static void put_int_array32(sb *b, const int32_t *v, int64_t n) {
  sb_puts(b, "[");
  for (int64_t i = 0; i < n; i++) sb_printf(b, i ? ",%d" : "%d", v[i]);
  sb_puts(b, "]");
}

static int q(double v, double scale) { /* quantised value, -1 for none */
  if (!isfinite(v)) return -1;
  return (int)lrint(v * scale);
}

static void put_track(sb *b, const emo_report *r, const rp_track *t) {
  sb_printf(b, "{\"id\":%d,\"person\":", t->id);
  sb_json_string(b, t->person);
  sb_printf(b, ",\"first\":%.3f,\"last\":%.3f,\"frames\":%lld,\"t_ms\":[", t->first, t->last,
            (long long)t->frames);
  for (int i = 0; i < t->n; i++) sb_printf(b, i ? ",%.0f" : "%.0f", t->s[i].t * 1000);
  sb_puts(b, "],\"box\":[");
  for (int i = 0; i < t->n; i++)
    for (int c = 0; c < 4; c++) sb_printf(b, i || c ? ",%d" : "%d", q(t->s[i].box[c], 1));
  sb_puts(b, "],\"score\":[");
  for (int i = 0; i < t->n; i++) sb_printf(b, i ? ",%d" : "%d", q(t->s[i].score / t->s[i].n, 100));
  sb_puts(b, "],\"expr\":[");
  for (int i = 0; i < t->n; i++)
    for (int c = 0; c < EMO_EXPR_COUNT; c++)
      sb_printf(b, i || c ? ",%d" : "%d",
                t->s[i].n_expr ? q(t->s[i].expr[c] / t->s[i].n_expr, 100) : -1);
  sb_puts(b, "]");
  if (r->has_speaking) {
    sb_puts(b, ",\"speaking\":[");
    for (int i = 0; i < t->n; i++)
      sb_printf(b, i ? ",%d" : "%d", t->s[i].n_spk ? q(t->s[i].spk / t->s[i].n_spk, 100) : -1);
    sb_puts(b, "]");
  }
  if (r->has_pose) {
    sb_puts(b, ",\"pose\":[");
    for (int i = 0; i < t->n; i++)
      for (int c = 0; c < 3; c++) {
        const rp_sample *s = &t->s[i];
        if (s->n_pose)
          sb_printf(b, i || c ? ",%d" : "%d", q(s->pose[c] / s->n_pose, 1));
        else
          sb_puts(b, i || c ? ",null" : "null");
      }
    sb_puts(b, "]");
  }
  if (r->has_inten) {
    sb_puts(b, ",\"intensity\":[");
    for (int i = 0; i < t->n; i++)
      sb_printf(b, i ? ",%d" : "%d",
                t->s[i].n_inten ? q(t->s[i].inten / t->s[i].n_inten, 100) : -1);
    sb_puts(b, "]");
  }
  if (r->n_au) {
    sb_puts(b, ",\"aus\":[");
    for (int i = 0; i < t->n; i++)
      for (int c = 0; c < r->n_au; c++) {
        const rp_sample *s = &t->s[i];
        if (s->n_au[c])
          sb_printf(b, i || c ? ",%d" : "%d", q(s->au[c] / s->n_au[c], 100));
        else
          sb_puts(b, i || c ? ",null" : "null");
      }
    sb_puts(b, "]");
  }
  sb_puts(b, "}");
}

static void put_times(sb *b, const double *v, int n) {
  sb_puts(b, "[");
  for (int i = 0; i < n; i++) sb_printf(b, i ? ",%.3f" : "%.3f", v[i]);
  sb_puts(b, "]");
}

static void put_ints(sb *b, const int *v, int n) {
  sb_puts(b, "[");
  for (int i = 0; i < n; i++) sb_printf(b, i ? ",%d" : "%d", v[i]);
  sb_puts(b, "]");
}

static void put_cjson(sb *b, const cJSON *x) {
  char *s = cJSON_PrintUnformatted(x);
  if (!s) {
    b->broken = 1;
    return;
  }
  sb_puts(b, s);
  cJSON_free(s);
}

/* The page's title: the one asked for, else the analysed file of the run record, else "". */
static const char *report_title(const emo_report *r) {
  if (r->title[0]) return r->title;
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(r->meta, "file");
  return cJSON_IsString(f) && f->valuestring ? f->valuestring : "";
}

/* The data as one JSON object. */
static char *data_json(const emo_report *r) {
  sb b = {0};
  sb_printf(&b, "{\"format\":1,\"generator\":\"emo %s\",\"title\":", EMO_VERSION_STRING);
  sb_json_string(&b, report_title(r));
  sb_puts(&b, ",\"video\":");
  sb_json_string(&b, r->video);
  double dur = r->summary_duration > r->max_t ? r->summary_duration : r->max_t;
  if (r->run_duration > dur) dur = r->run_duration; /* the media's length, from the run record */
  sb_printf(&b, ",\"duration\":%.3f,\"frames\":%lld,\"step\":%.4f,\"frame_dt\":%.4f", dur,
            (long long)r->frames, r->step, r->dt_n ? r->dt_sum / (double)r->dt_n : 0.0);
  sb_printf(&b, ",\"interrupted\":%s,\"summaries\":%d,\"lines\":%lld,\"bad_lines\":%lld",
            r->interrupted ? "true" : "false", r->summaries, (long long)r->lines,
            (long long)r->bad_lines);
  sb_puts(&b, ",\"meta\":");
  put_cjson(&b, r->meta);
  sb_puts(&b, ",\"warnings\":[");
  for (int i = 0; i < r->n_warn; i++) {
    if (i) sb_puts(&b, ",");
    sb_json_string(&b, r->warn[i]);
  }
  if (r->n_warn_total > r->n_warn) {
    char more[64];
    snprintf(more, sizeof more, "... and %lld more warnings",
             (long long)(r->n_warn_total - r->n_warn));
    sb_puts(&b, r->n_warn ? "," : "");
    sb_json_string(&b, more);
  }
  sb_puts(&b, "],\"quality\":{\"frames\":");
  put_int_array32(&b, r->q_frames, r->nb);
  sb_puts(&b, ",\"faces\":");
  put_int_array32(&b, r->q_faces, r->nb);
  sb_puts(&b, ",\"noface\":");
  put_int_array32(&b, r->q_noface, r->nb);
  sb_puts(&b, ",\"detector\":");
  put_int_array32(&b, r->q_det, r->nb);
  sb_puts(&b, ",\"faces_hist\":[");
  for (int i = 0; i < 5; i++) sb_printf(&b, i ? ",%lld" : "%lld", (long long)r->faces_hist[i]);
  sb_puts(&b, "],\"score_hist\":[");
  for (int i = 0; i < 20; i++) sb_printf(&b, i ? ",%lld" : "%lld", (long long)r->score_hist[i]);
  sb_puts(&b, "],\"track_starts\":");
  put_times(&b, r->ev_start, r->n_ev_start);
  sb_puts(&b, ",\"track_ends\":");
  put_times(&b, r->ev_end, r->n_ev_end);
  sb_puts(&b, ",\"track_start_ids\":");
  put_ints(&b, r->ev_start_id, r->n_ev_start);
  sb_puts(&b, ",\"track_end_ids\":");
  put_ints(&b, r->ev_end_id, r->n_ev_end);
  sb_puts(&b, ",\"cuts\":");
  put_times(&b, r->cuts, r->n_cuts);
  sb_puts(&b, "},\"expressions\":[");
  for (int c = 0; c < EMO_EXPR_COUNT; c++)
    sb_printf(&b, c ? ",\"%s\"" : "\"%s\"", emo_expression_name(c));
  sb_puts(&b, "],\"voice_emotions\":[");
  for (int c = 0; c < RP_VOICE; c++) sb_printf(&b, c ? ",\"%s\"" : "\"%s\"", k_voice[c]);
  sb_puts(&b, "],\"au_names\":[");
  for (int c = 0; c < r->n_au; c++) {
    if (c) sb_puts(&b, ",");
    sb_json_string(&b, r->au_names[c]);
  }
  sb_puts(&b, "],\"tracks\":[");
  for (int i = 0; i < r->n_tracks; i++) {
    if (i) sb_puts(&b, ",");
    put_track(&b, r, &r->tracks[i]);
  }
  sb_puts(&b, "],\"segments\":[");
  for (int i = 0; i < r->n_segs; i++) {
    const rp_segment *g = &r->segs[i];
    sb_printf(&b, "%s[%.3f,%.3f,", i ? "," : "", g->start, g->end);
    sb_json_string(&b, g->speaker);
    sb_puts(&b, ",");
    sb_json_string(&b, g->person);
    sb_printf(&b, ",%d,%d,", g->track_id, g->on_screen);
    sb_json_string(&b, g->dominant);
    sb_puts(&b, ",[");
    for (int k = 0; k < RP_VOICE; k++)
      sb_printf(&b, k ? ",%d" : "%d", isnan(g->emo[k]) ? -1 : q(g->emo[k], 100));
    sb_puts(&b, "]]");
  }
  sb_puts(&b, "],\"turns\":[");
  for (int i = 0; i < r->n_turns; i++) {
    const rp_turn *u = &r->turns[i];
    sb_printf(&b, "%s[%.3f,%.3f,", i ? "," : "", u->start, u->end);
    sb_json_string(&b, u->person);
    sb_puts(&b, ",");
    sb_json_string(&b, u->speaker);
    sb_printf(&b, ",%d]", u->overlap);
  }
  sb_puts(&b, "],\"persons\":");
  put_cjson(&b, r->persons);
  sb_puts(&b, "}");
  return sb_take(&b);
}

/* Appends JSON text json so that it can sit in a <script> element: <, >, & and the JavaScript
 * line separators U+2028/U+2029 become \u escapes (they only occur inside strings there). */
static void put_script_safe(sb *b, const char *json) {
  const char *run = json;
  for (const char *p = json;; p++) {
    const unsigned char c = (unsigned char)*p;
    const char *rep = NULL;
    size_t skip = 1;
    if (c == '<')
      rep = "\\u003c";
    else if (c == '>')
      rep = "\\u003e";
    else if (c == '&')
      rep = "\\u0026";
    else if (c == 0xE2 && (unsigned char)p[1] == 0x80 &&
             ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9)) {
      rep = (unsigned char)p[2] == 0xA8 ? "\\u2028" : "\\u2029";
      skip = 3;
    }
    if (rep || c == 0) {
      if (p > run) {
        sb_append(b, run, (size_t)(p - run));
      }
      if (c == 0) return;
      sb_puts(b, rep);
      p += skip - 1;
      run = p + 1;
    }
  }
}

/* Appends s with HTML's special characters as entities. */
static void put_html_text(sb *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
      case '<': sb_puts(b, "&lt;"); break;
      case '>': sb_puts(b, "&gt;"); break;
      case '&': sb_puts(b, "&amp;"); break;
      case '"': sb_puts(b, "&quot;"); break;
      case '\'': sb_puts(b, "&#39;"); break;
      default: sb_append(b, s, 1);
    }
  }
}

int emo_report_html(const emo_report *r, char **html) {
  if (!r || !html) return EMO_EINVAL;
  *html = NULL;
  if (r->oom) return EMO_ENOMEM;
  if (r->records == 0) return EMO_EFORMAT;
  char *data = data_json(r);
  if (!data) return EMO_ENOMEM;
  const char *tpl = (const char *)emoi_report_template;
  const char *title_mark = strstr(tpl, "<!--EMO_TITLE-->");
  const char *data_mark = strstr(tpl, "/*EMO_DATA*/");
  if (!title_mark || !data_mark || data_mark < title_mark) {
    free(data);
    return EMO_EINTERNAL;
  }
  sb b = {0};
  sb_append(&b, tpl, (size_t)(title_mark - tpl));
  put_html_text(&b, report_title(r)[0] ? report_title(r) : "emo report");
  const char *after_title = title_mark + strlen("<!--EMO_TITLE-->");
  sb_append(&b, after_title, (size_t)(data_mark - after_title));
  put_script_safe(&b, data);
  free(data);
  const char *after_data = data_mark + strlen("/*EMO_DATA*/");
  sb_append(&b, after_data, strlen(after_data));
  *html = sb_take(&b);
  return *html ? EMO_OK : EMO_ENOMEM;
}

int emo_report_warnings(const emo_report *r, char *buf, size_t size) {
  if (!r) return 0;
  if (buf && size) {
    buf[0] = 0;
    size_t used = 0;
    for (int i = 0; i < r->n_warn && used + 1 < size; i++) {
      int w = snprintf(buf + used, size - used, "%s\n", r->warn[i]);
      if (w < 0) break;
      used += (size_t)w;
      if (used >= size) break;
    }
  }
  return (int)(r->n_warn_total > 0x7fffffff ? 0x7fffffff : r->n_warn_total);
}
