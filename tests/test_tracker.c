/* test_tracker.c: the face tracker (pipeline/tracker.c) on synthetic detection sequences
 * with known truth: two people whose paths cross (with one hidden behind the other for a
 * while), detection every 3rd frame and simulated optical flow in between: ids must not
 * switch, and the embedding callback must run only at births and ambiguous moments; a face
 * that leaves for 2 s (timeout 1 s) and comes back elsewhere gets its id back by
 * re-identification (and a new id without embeddings); a new person gets a new id; a face
 * missed by one detection keeps its id; events, capacity, bad inputs; and the expression
 * mean and exponential smoothing on known inputs; verification: another person in a track's
 * place after a scale jump, a marked (flow-unsure) frame or a shot cut gets another id. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "pipeline/tracker.h"

/* ---- synthetic people: an appearance vector each, boxes along paths ---- */

typedef struct sim {
  float base[4][FEM_DIM];    /* unit appearance of persons 0..3 (orthogonal) */
  int truth[TRK_MAX_TRACKS]; /* person shown by detection i of the current frame */
  int calls;                 /* single-decision embeddings asked for */
  int pcalls;                /* pooled samples asked for */
  int small;                 /* 1: faces too small to decide alone (pooled samples only, noisier) */
  unsigned rs;
} sim;

static int sim_embed(void *user, int det_index, int pooled, float *out) {
  sim *s = user;
  if (pooled)
    s->pcalls++;
  else
    s->calls++;
  if (s->small && !pooled) return EMO_EUNSUPPORTED;
  const float *b = s->base[s->truth[det_index]];
  /* noise norm ~0.37 (cos ~0.88 with the person's base); small faces ~1.0 (single samples of
   * one person ~0.5 alike, a mean of 3 ~0.85 alike with the base) */
  const float a = s->small ? 0.055f : 0.02f;
  double ss = 0.0;
  for (int k = 0; k < FEM_DIM; k++) {
    out[k] = b[k] + th_randf(&s->rs, -a, a);
    ss += (double)out[k] * out[k];
  }
  for (int k = 0; k < FEM_DIM; k++) out[k] = (float)(out[k] / sqrt(ss));
  return 0;
}

static void sim_init(sim *s) {
  memset(s, 0, sizeof *s);
  s->rs = 99;
  for (int p = 0; p < 4; p++)
    for (int k = 0; k < 256; k++) s->base[p][p * 256 + k] = 1.0f / 16.0f; /* disjoint support */
}

static bf_detection det_at(float cx, float cy, float size) {
  bf_detection d;
  memset(&d, 0, sizeof d);
  d.x0 = cx - size / 2;
  d.y0 = cy - size / 2;
  d.x1 = cx + size / 2;
  d.y1 = cy + size / 2;
  for (int k = 0; k < BF_KEYPOINTS; k++) {
    d.kp[k][0] = cx + (k - 2.5f) * size * 0.1f;
    d.kp[k][1] = cy + (k % 2 ? -0.1f : 0.1f) * size;
  }
  d.score = 0.9f;
  return d;
}

/* IoU of a track box (x, y, w, h) and a detection (corners). */
static float iou4(const float a[4], const bf_detection *b) {
  float ix = fminf(a[0] + a[2], b->x1) - fmaxf(a[0], b->x0);
  float iy = fminf(a[1] + a[3], b->y1) - fmaxf(a[1], b->y0);
  if (ix <= 0 || iy <= 0) return 0;
  float in = ix * iy;
  return in / (a[2] * a[3] + (b->x1 - b->x0) * (b->y1 - b->y0) - in);
}

static int count_events(trk_state *s, emo_event_type type, int id) {
  const emo_event *ev = NULL;
  int n = trk_events(s, &ev), c = 0;
  for (int i = 0; i < n; i++) c += ev[i].type == type && ev[i].track_id == id;
  return c;
}

/* Two people cross at the same height: A from x=100 to 696, B from x=696 to 100, 4 px per
 * frame at 10 fps, boxes 100 px; detection every 3rd frame (the faces' relative motion is 24 px
 * between detections, so their boxes overlap (IoU > 0.3) over several detection frames); B is
 * hidden behind A at the detection frame of the crossing (f = 75). The simulated flow moves
 * each track with the person its box overlaps most, so it can be fooled at the crossing. */
static float px_a(int f) {
  return 100.0f + 4.0f * f;
}
static float px_b(int f) {
  return 696.0f - 4.0f * f;
}

static void run_crossing(int with_embed, int *switches_out, int *calls_out) {
  sim sm;
  sim_init(&sm);
  trk_params p = trk_params_default();
  trk_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(trk_create(&p, &s, &err) == EMO_OK, "create: %s", err.msg);
  if (!s) return;
  int id_of[2] = {0, 0}, switches = 0, det_frames = 0, n_dets = 0, max_visible = 0;
  int overlap_frames = 0;
  const int n_frames = 150, K = 3;
  for (int f = 0; f < n_frames; f++) {
    double t = f * 0.1;
    bf_detection truth_box[2] = {det_at(px_a(f), 200.0f, 100.0f), det_at(px_b(f), 200.0f, 100.0f)};
    if (f % K == 0) {
      bf_detection dets[2];
      int n = 0;
      int hidden = f == 75;
      int order = (f / K) % 2; /* alternate the detections' order */
      for (int q = 0; q < 2; q++) {
        int person = order ? 1 - q : q;
        if (person == 1 && hidden) continue;
        dets[n] = truth_box[person];
        sm.truth[n] = person;
        n++;
      }
      if (n == 2) {
        float b0[4] = {dets[0].x0, dets[0].y0, dets[0].x1 - dets[0].x0, dets[0].y1 - dets[0].y0};
        if (iou4(b0, &dets[1]) > p.iou_min) overlap_frames++;
      }
      int rc = trk_update_detections(s, t, dets, n, with_embed ? sim_embed : NULL, &sm, &err);
      CHECK(rc == EMO_OK, "frame %d: %s", f, err.msg);
      det_frames++;
      n_dets += n;
      CHECK(trk_count(s) == n, "frame %d: %d visible tracks, %d detections", f, trk_count(s), n);
    } else { /* flow: each visible track follows the person it overlaps most */
      bf_detection prev[2] = {det_at(px_a(f - 1), 200.0f, 100.0f),
                              det_at(px_b(f - 1), 200.0f, 100.0f)};
      for (int i = 0; i < trk_count(s); i++) {
        const trk_track *tr = trk_get(s, i);
        int person = iou4(tr->box, &prev[0]) >= iou4(tr->box, &prev[1]) ? 0 : 1;
        float dx = (person == 0 ? 4.0f : -4.0f) + th_randf(&sm.rs, -3.0f, 3.0f); /* drift */
        float box[4] = {tr->box[0] + dx, tr->box[1], tr->box[2], tr->box[3]};
        trk_set_box(s, i, box, dx, 0.0f, 1.0f);
      }
      CHECK(trk_update_flow(s, t) == EMO_OK, "flow %d", f);
    }
    /* at detection frames, which person does each track show? (boxes are exact then) */
    if (trk_count(s) > max_visible) max_visible = trk_count(s);
    if (f % K) continue;
    for (int i = 0; i < trk_count(s); i++) {
      const trk_track *tr = trk_get(s, i);
      int person = iou4(tr->box, &truth_box[0]) >= iou4(tr->box, &truth_box[1]) ? 0 : 1;
      if (iou4(tr->box, &truth_box[person]) < 0.999f) continue; /* the two boxes coincide */
      if (id_of[person] == 0) id_of[person] = tr->id;
      if (id_of[person] != tr->id) switches++;
    }
  }
  const emo_track_summary *su = NULL;
  int n_ids = trk_summaries(s, &su);
  *switches_out = switches;
  *calls_out = sm.calls;
  if (!with_embed) {
    printf("crossing without embeddings: %d id switches, %d ids\n", switches, n_ids);
    trk_destroy(&s);
    return;
  }
  printf(
      "crossing: %d frames (%d detection frames, %d detections, %d frames with the two "
      "faces overlapping by IoU > %.1f), ids A=%d B=%d, %d ids, %d switches, %d embedding "
      "calls\n",
      n_frames, det_frames, n_dets, overlap_frames, p.iou_min, id_of[0], id_of[1], n_ids, switches,
      sm.calls);
  CHECK(id_of[0] == 1 && id_of[1] == 2, "ids A=%d B=%d", id_of[0], id_of[1]);
  CHECK(switches == 0, "%d id switches", switches);
  CHECK(n_ids == 2, "%d ids given for 2 people", n_ids);
  CHECK(max_visible == 2, "max visible %d", max_visible);
  /* births (2) + the ambiguous detection frames around the crossing and the return of B;
   * far from every detection */
  CHECK(overlap_frames >= 4, "the test should make the faces overlap (%d)", overlap_frames);
  CHECK(sm.calls >= 2 && sm.calls <= 24 && sm.calls < n_dets / 4,
        "%d embedding calls for %d detections", sm.calls, n_dets);
  CHECK(trk_finish(s, (n_frames - 1) * 0.1) == EMO_OK, "finish");
  CHECK(
      count_events(s, EMO_EVENT_TRACK_END, 1) == 1 && count_events(s, EMO_EVENT_TRACK_END, 2) == 1,
      "end events at finish");
  CHECK(trk_count(s) == 0, "no visible track after finish");
  if (n_ids == 2) {
    CHECK(su[0].frames == n_frames && su[1].frames < n_frames && su[1].frames >= n_frames - 3,
          "frames A=%lld B=%lld", (long long)su[0].frames, (long long)su[1].frames);
    CHECK(fabs(su[0].first_t) < 1e-9 && fabs(su[0].last_t - 14.9) < 1e-9, "A span %g..%g",
          su[0].first_t, su[0].last_t);
  }
  trk_destroy(&s);
  CHECK(s == NULL, "destroy sets NULL");
}

static void test_crossing(void) {
  int sw = 0, calls = 0;
  run_crossing(1, &sw, &calls);
  /* IoU alone swaps the two ids at the crossing: this is what the embeddings are for */
  run_crossing(0, &sw, &calls);
  CHECK(sw > 0 && calls == 0, "without embeddings: %d switches, %d calls", sw, calls);
}

/* One face, detection every frame at 8 fps (exact binary times): present 0..1.875 s at
 * x=100, gone 2.0..3.875 s, back at x=500 from 4.0 s; a second person (new appearance)
 * appears at 4.5 s. */
static void run_return(int with_embed, int *ids_out, int *calls_out) {
  sim sm;
  sim_init(&sm);
  trk_params p = trk_params_default();
  p.timeout = 1.0;
  trk_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(trk_create(&p, &s, &err) == EMO_OK, "create: %s", err.msg);
  if (!s) return;
  int end_frame = -1, restart_frame = -1, new_frame = -1, id_back = 0, id_new = 0;
  for (int f = 0; f < 48; f++) {
    double t = f / 8.0;
    bf_detection dets[2];
    int n = 0;
    if (f < 16) {
      dets[n] = det_at(100.0f, 100.0f, 80.0f);
      sm.truth[n++] = 0;
    } else if (f >= 32) {
      dets[n] = det_at(500.0f, 300.0f, 80.0f);
      sm.truth[n++] = 0;
    }
    if (f >= 36) {
      dets[n] = det_at(200.0f, 300.0f, 80.0f);
      sm.truth[n++] = 3;
    }
    CHECK(trk_update_detections(s, t, dets, n, with_embed ? sim_embed : NULL, &sm, &err) == EMO_OK,
          "frame %d: %s", f, err.msg);
    const emo_event *ev = NULL;
    int ne = trk_events(s, &ev);
    for (int i = 0; i < ne; i++) {
      if (ev[i].type == EMO_EVENT_TRACK_END && ev[i].track_id == 1) {
        end_frame = f;
        CHECK(fabs(ev[i].start - 0.0) < 1e-9 && fabs(ev[i].end - 1.875) < 1e-9, "end event %g..%g",
              ev[i].start, ev[i].end);
      }
      if (ev[i].type == EMO_EVENT_TRACK_START && f == 32) {
        restart_frame = f;
        id_back = ev[i].track_id;
        CHECK(fabs(ev[i].start - 4.0) < 1e-9, "restart at %g", ev[i].start);
      }
      if (ev[i].type == EMO_EVENT_TRACK_START && f == 36) {
        new_frame = f;
        id_new = ev[i].track_id;
      }
    }
    if (f == 8) CHECK(ne == 0 && trk_count(s) == 1, "steady frame: %d events", ne);
    if (f >= 16 && f < 32) CHECK(trk_count(s) == 0, "frame %d: %d visible", f, trk_count(s));
  }
  CHECK(end_frame == 24, "track 1 ended at frame %d (expected 24: 3.0 - 1.875 > 1)", end_frame);
  CHECK(restart_frame == 32 && new_frame == 36, "restart %d new %d", restart_frame, new_frame);
  ids_out[0] = id_back;
  ids_out[1] = id_new;
  *calls_out = sm.calls;
  const emo_track_summary *su = NULL;
  int n_ids = trk_summaries(s, &su);
  if (with_embed) {
    CHECK(n_ids == 2, "%d ids", n_ids);
    if (n_ids >= 1)
      CHECK(su[0].frames == 32 && fabs(su[0].first_t) < 1e-9 && fabs(su[0].last_t - 5.875) < 1e-9,
            "id 1: frames %lld, %g..%g", (long long)su[0].frames, su[0].first_t, su[0].last_t);
  } else {
    CHECK(n_ids == 3, "%d ids without embeddings", n_ids);
  }
  trk_destroy(&s);
}

static void test_return(void) {
  int ids[2] = {0, 0}, calls = 0;
  run_return(1, ids, &calls);
  printf(
      "re-identification: back after 2 s with id %d, new person id %d, %d embedding calls "
      "in 48 frames\n",
      ids[0], ids[1], calls);
  CHECK(ids[0] == 1 && ids[1] == 2, "returning face id %d, new person id %d", ids[0], ids[1]);
  CHECK(calls == 3, "%d embedding calls (expected 3 births)", calls);
  run_return(0, ids, &calls);
  printf("without embeddings: returning face id %d, new person id %d\n", ids[0], ids[1]);
  CHECK(ids[0] == 2 && ids[1] == 3, "no embedding: ids %d %d", ids[0], ids[1]);
}

/* A face missed by one detection frame keeps its id (IoU match of the lost track). */
static void test_missed_detection(void) {
  sim sm;
  sim_init(&sm);
  trk_state *s = NULL;
  CHECK(trk_create(NULL, &s, NULL) == EMO_OK, "create with defaults");
  if (!s) return;
  for (int f = 0; f < 10; f++) {
    bf_detection d = det_at(300.0f + 2.0f * f, 200.0f, 90.0f);
    sm.truth[0] = 1;
    int n = f == 4 ? 0 : 1;
    CHECK(trk_update_detections(s, f * 0.1, &d, n, sim_embed, &sm, NULL) == EMO_OK, "f %d", f);
    CHECK(trk_count(s) == n, "frame %d: %d visible", f, trk_count(s));
    if (n) CHECK(trk_get(s, 0)->id == 1 && trk_get(s, 0)->detected_now == 1, "frame %d id", f);
    if (f == 5) CHECK(trk_events(s, NULL) == 0, "re-match produced events");
  }
  /* 1 birth + 1 verification of the lost track at frame 5 */
  CHECK(sm.calls == 2, "%d embedding calls", sm.calls);
  /* the same without embeddings */
  trk_reset(s);
  for (int f = 0; f < 10; f++) {
    bf_detection d = det_at(300.0f + 2.0f * f, 200.0f, 90.0f);
    int n = f == 4 ? 0 : 1;
    trk_update_detections(s, f * 0.1, &d, n, NULL, NULL, NULL);
    if (n) CHECK(trk_get(s, 0) && trk_get(s, 0)->id == 1, "reset, frame %d", f);
  }
  const emo_track_summary *su;
  CHECK(trk_summaries(s, &su) == 1 && su[0].frames == 9, "after reset: one id, 9 frames");
  trk_destroy(&s);
}

/* Flow frames: boxes and keypoints move, detected_now drops, frames count. */
static void test_flow_and_keypoints(void) {
  trk_state *s = NULL;
  trk_create(NULL, &s, NULL);
  if (!s) return;
  bf_detection d = det_at(100.0f, 100.0f, 100.0f); /* centre (100, 100) */
  d.kp[0][0] = 80.0f;
  d.kp[0][1] = 90.0f;
  trk_update_detections(s, 0.0, &d, 1, NULL, NULL, NULL);
  float box[4] = {60.0f, 55.0f, 120.0f, 120.0f}; /* moved by (20, 15), scaled 1.2 */
  trk_set_box(s, 0, box, 20.0f, 15.0f, 1.2f);
  CHECK(trk_update_flow(s, 0.1) == EMO_OK, "flow");
  const trk_track *tr = trk_get(s, 0);
  CHECK(tr && tr->detected_now == 0 && tr->frames == 2 && tr->box[2] == 120.0f, "flow state");
  /* kp0 = c + d + 1.2 * (kp - c) = (100 + 20 - 24, 100 + 15 - 12) */
  if (tr)
    CHECK(fabsf(tr->kp[0][0] - 96.0f) < 1e-4f && fabsf(tr->kp[0][1] - 103.0f) < 1e-4f,
          "kp (%g, %g)", tr->kp[0][0], tr->kp[0][1]);
  trk_set_box(s, 5, box, 0, 0, 1); /* bad index: ignored */
  float nanbox[4] = {NAN, 0, 1, 1};
  trk_set_box(s, 0, nanbox, 0, 0, 1);
  CHECK(tr && tr->box[0] == 60.0f, "NaN box ignored");
  trk_destroy(&s);
}

/* Expression mean and smoothing (tau = 0.5 s) on known inputs. */
static void test_expression(void) {
  trk_state *s = NULL;
  trk_create(NULL, &s, NULL);
  if (!s) return;
  bf_detection d = det_at(100.0f, 100.0f, 100.0f);
  trk_update_detections(s, 0.0, &d, 1, NULL, NULL, NULL);
  float happy[7] = {0, 0, 0, 1, 0, 0, 0}, neutral[7] = {0, 0, 0, 0, 0, 0, 1};
  float uni[7];
  for (int k = 0; k < 7; k++) uni[k] = 1.0f / 7.0f;
  trk_add_expression(s, 0, 0.0, happy);
  const trk_track *tr = trk_get(s, 0);
  CHECK(tr->smoothed[3] == 1.0f && tr->smoothed[6] == 0.0f, "first sample taken as is");
  trk_update_detections(s, 0.5, &d, 1, NULL, NULL, NULL);
  trk_add_expression(s, 0, 0.5, neutral);
  double a1 = 1.0 - exp(-0.5 / 0.5); /* 0.632 */
  CHECK(fabs(tr->smoothed[3] - (1.0 - a1)) < 1e-6 && fabs(tr->smoothed[6] - a1) < 1e-6,
        "smoothed after 0.5 s: happy %g neutral %g", tr->smoothed[3], tr->smoothed[6]);
  trk_update_detections(s, 0.75, &d, 1, NULL, NULL, NULL);
  trk_add_expression(s, 0, 0.75, uni);
  double a2 = 1.0 - exp(-0.25 / 0.5); /* 0.393 */
  double want3 = (1.0 - a1) + a2 * (1.0 / 7.0 - (1.0 - a1));
  double want0 = a2 / 7.0;
  CHECK(fabs(tr->smoothed[3] - want3) < 1e-6 && fabs(tr->smoothed[0] - want0) < 1e-6,
        "smoothed after 0.75 s: happy %g (want %g), angry %g (want %g)", tr->smoothed[3], want3,
        tr->smoothed[0], want0);
  double sum = 0;
  for (int k = 0; k < 7; k++) sum += tr->smoothed[k];
  CHECK(fabs(sum - 1.0) < 1e-6, "smoothed sums to %g", sum);
  const emo_track_summary *su = NULL;
  CHECK(trk_summaries(s, &su) == 1, "one summary");
  /* mean: happy (1 + 0 + 1/7) / 3, neutral (0 + 1 + 1/7) / 3: a tie, the first class wins */
  CHECK(fabsf(su[0].mean_expression[3] - (8.0f / 21.0f)) < 1e-6f &&
            fabsf(su[0].mean_expression[6] - (8.0f / 21.0f)) < 1e-6f &&
            fabsf(su[0].mean_expression[1] - (1.0f / 21.0f)) < 1e-6f && su[0].dominant == 3,
        "mean happy %g neutral %g dominant %d", su[0].mean_expression[3], su[0].mean_expression[6],
        su[0].dominant);
  trk_add_expression(s, 0, 0.8, neutral);
  CHECK(su[0].dominant == 6, "dominant after one more neutral: %d", su[0].dominant);
  /* no smoothing */
  trk_destroy(&s);
  trk_params p = trk_params_default();
  p.smoothing = 0.0f;
  trk_create(&p, &s, NULL);
  trk_update_detections(s, 0.0, &d, 1, NULL, NULL, NULL);
  trk_add_expression(s, 0, 0.0, happy);
  trk_add_expression(s, 0, 0.01, neutral);
  CHECK(trk_get(s, 0)->smoothed[6] == 1.0f, "smoothing 0 follows the input");
  trk_destroy(&s);
}

/* Capacity, parameters, bad detections. */
static void test_limits(void) {
  trk_params p = trk_params_default();
  trk_state *s = NULL;
  emoi_err err = {{0}};
  p.max_tracks = 0;
  CHECK(trk_create(&p, &s, &err) == EMO_EINVAL && !s, "max_tracks 0");
  p = trk_params_default();
  p.iou_min = 0.0f;
  CHECK(trk_create(&p, &s, &err) == EMO_EINVAL, "iou_min 0");
  p = trk_params_default();
  p.timeout = NAN;
  CHECK(trk_create(&p, &s, &err) == EMO_EINVAL, "timeout NaN: %s", err.msg);
  p = trk_params_default();
  p.max_tracks = 2;
  CHECK(trk_create(&p, &s, &err) == EMO_OK, "create");
  if (!s) return;
  bf_detection d[4] = {det_at(100, 100, 50), det_at(300, 100, 50), det_at(500, 100, 50),
                       det_at(700, 100, 50)};
  d[3].x0 = NAN;
  CHECK(trk_update_detections(s, 0.0, d, 4, NULL, NULL, &err) == EMO_OK, "update");
  CHECK(trk_count(s) == 2, "%d tracks with max_tracks 2", trk_count(s));
  CHECK(trk_update_detections(s, 0.1, NULL, 2, NULL, NULL, &err) == EMO_EINVAL, "NULL dets");
  CHECK(trk_update_detections(s, NAN, d, 1, NULL, NULL, &err) == EMO_EINVAL, "NaN time");
  /* a failing embedding callback is reported */
  trk_reset(s);
  sim sm;
  sim_init(&sm);
  CHECK(trk_update_detections(s, 0.0, d, 1, NULL, NULL, &err) == EMO_OK, "first");
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 1, "ids restart after reset");
  trk_destroy(&s);
  trk_destroy(&s); /* safe twice */
}

static int failing_embed(void *user, int i, int pooled, float *out) {
  (void)user, (void)i, (void)pooled, (void)out;
  return EMO_EINTERNAL;
}

static int unsupported_embed(void *user, int i, int pooled, float *out) {
  (void)i, (void)out;
  if (!pooled) (*(int *)user)++;
  return EMO_EUNSUPPORTED;
}

static void test_embed_error(void) {
  trk_state *s = NULL;
  emoi_err err = {{0}};
  trk_create(NULL, &s, NULL);
  if (!s) return;
  bf_detection d = det_at(100, 100, 50);
  CHECK(trk_update_detections(s, 0.0, &d, 1, failing_embed, NULL, &err) == EMO_EINTERNAL &&
            strstr(err.msg, "embedding") != NULL,
        "callback error: %s", err.msg);
  /* EMO_EUNSUPPORTED: no appearance, tracking by IoU goes on; called once per detection */
  trk_reset(s);
  int calls = 0;
  for (int f = 0; f < 5; f++) {
    bf_detection dd = det_at(100.0f + f, 100, 50);
    CHECK(trk_update_detections(s, f * 0.1, &dd, f == 2 ? 0 : 1, unsupported_embed, &calls, &err) ==
              EMO_OK,
          "unsupported embedding, frame %d: %s", f, err.msg);
  }
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 1 && calls == 2,
        "IoU-only tracking: %d tracks, %d calls", trk_count(s), calls);
  trk_destroy(&s);
}

/* Verification: a person replaced by another in the same place (a missed cut, a turn of the
 * camera) is not continued silently, whichever weak evidence shows it; the same person is. */
static void test_verification(void) {
  sim sm;
  sim_init(&sm);
  emoi_err err = {{0}};
  trk_state *s = NULL;
  trk_create(NULL, &s, NULL);
  if (!s) return;
  /* person 0 for 1 s, detected every 0.1 s at one place */
  for (int f = 0; f <= 10; f++) {
    bf_detection d = det_at(100, 100, 60);
    sm.truth[0] = 0;
    trk_update_detections(s, f * 0.1, &d, 1, sim_embed, &sm, &err);
  }
  int calls = sm.calls;
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 1 && calls == 1,
        "steady face: 1 embedding at birth, %d calls", calls);
  /* a jump in scale at the same centre: person 1 now; must not continue id 1 */
  bf_detection big = det_at(100, 100, 85);
  sm.truth[0] = 1;
  trk_update_detections(s, 1.1, &big, 1, sim_embed, &sm, &err);
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 2 && sm.calls == calls + 1,
        "scale jump to another person: id %d (want 2), %d calls",
        trk_count(s) ? trk_get(s, 0)->id : 0, sm.calls - calls);
  /* marked (flow unsure): person 1 replaced by person 2 with no jump: new id again */
  trk_mark_verify(s, 0);
  bf_detection same = det_at(100, 100, 85);
  sm.truth[0] = 2;
  trk_update_detections(s, 1.2, &same, 1, sim_embed, &sm, &err);
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 3, "marked track, other person: id %d (want 3)",
        trk_count(s) ? trk_get(s, 0)->id : 0);
  /* marked, same person: continues */
  trk_mark_verify(s, 0);
  trk_update_detections(s, 1.3, &same, 1, sim_embed, &sm, &err);
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 3, "marked track, same person: id %d (want 3)",
        trk_count(s) ? trk_get(s, 0)->id : 0);
  int64_t checked = 0, rejected = 0;
  trk_verify_counts(s, &checked, &rejected);
  CHECK(checked == 3 && rejected == 2, "verifications %lld, refused %lld", (long long)checked,
        (long long)rejected);
  /* a shot cut: the same place after it, no embedding possible: a new id, not id 3 */
  CHECK(trk_cut(s, 1.4, &err) == EMO_OK && trk_count(s) == 0, "cut: %d visible", trk_count(s));
  int ucalls = 0;
  trk_update_detections(s, 1.4, &same, 1, unsupported_embed, &ucalls, &err);
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 4,
        "after a cut without embedding: id %d (want 4)", trk_count(s) ? trk_get(s, 0)->id : 0);
  /* another cut, then person 2 again: id 3 (ended by now) comes back by re-identification */
  trk_cut(s, 3.0, &err);
  sm.truth[0] = 2;
  trk_update_detections(s, 3.0, &same, 1, sim_embed, &sm, &err);
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->id == 3, "re-identified after the cut: id %d (want 3)",
        trk_count(s) ? trk_get(s, 0)->id : 0);
  /* the yaw proxy */
  bf_detection y = det_at(0, 0, 100);
  y.kp[0][0] = -20, y.kp[0][1] = 0, y.kp[1][0] = 20, y.kp[1][1] = 0, y.kp[2][0] = 10;
  CHECK(fabsf(trk_yaw(&y) - 0.25f) < 1e-6f, "yaw %g (want 0.25)", trk_yaw(&y));
  trk_destroy(&s);
}

/* Deferred re-identification: faces too small for one descriptor to decide come back after
 * cuts under new ids, and their pooled descriptors give them the earlier identity; another
 * person's never does. */
static void test_pooled_reid(void) {
  sim sm;
  sim_init(&sm);
  sm.small = 1;
  emoi_err err = {{0}};
  trk_state *s = NULL;
  trk_create(NULL, &s, NULL);
  if (!s) return;
  /* shots of 1 s, detections every 0.1 s, a cut between them: persons 0, 1, 0, 1, 2 */
  const int who[5] = {0, 1, 0, 1, 2};
  int id_of[5] = {0}, ident_of[5] = {0};
  for (int shot = 0; shot < 5; shot++) {
    double t0 = shot * 2.0;
    if (shot) CHECK(trk_cut(s, t0, &err) == EMO_OK, "cut %d", shot);
    for (int f = 0; f < 10; f++) {
      bf_detection d = det_at(100, 100, 40);
      sm.truth[0] = who[shot];
      CHECK(trk_update_detections(s, t0 + f * 0.1, &d, 1, sim_embed, &sm, &err) == EMO_OK,
            "shot %d frame %d: %s", shot, f, err.msg);
    }
    CHECK(trk_count(s) == 1, "shot %d: %d tracks", shot, trk_count(s));
    if (trk_count(s) == 1) {
      id_of[shot] = trk_get(s, 0)->id;
      ident_of[shot] = trk_get(s, 0)->ident;
    }
    CHECK(trk_get(s, 0) && trk_get(s, 0)->n_pool == TRK_POOL_N, "shot %d: %d pooled samples", shot,
          trk_get(s, 0) ? trk_get(s, 0)->n_pool : -1);
  }
  CHECK(id_of[0] == 1 && id_of[1] == 2 && id_of[2] == 3 && id_of[3] == 4 && id_of[4] == 5,
        "no single descriptor decided: ids %d %d %d %d %d", id_of[0], id_of[1], id_of[2], id_of[3],
        id_of[4]);
  CHECK(ident_of[0] == 1 && ident_of[1] == 2 && ident_of[2] == 1 && ident_of[3] == 2 &&
            ident_of[4] == 5,
        "identities %d %d %d %d %d (want 1 2 1 2 5)", ident_of[0], ident_of[1], ident_of[2],
        ident_of[3], ident_of[4]);
  CHECK(sm.calls == 5 && sm.pcalls == 5 * TRK_POOL_N, "%d single, %d pooled calls (want 5, %d)",
        sm.calls, sm.pcalls, 5 * TRK_POOL_N);
  trk_finish(s, 10.0);
  const emo_track_summary *su = NULL;
  int n = trk_summaries(s, &su);
  CHECK(n == 5 && su[2].identity == 1 && su[3].identity == 2 && su[4].identity == 5 &&
            su[0].embedding &&
            fabsf(fem_similarity(su[0].embedding, su[0].embedding) - 1.0f) < 1e-4f,
        "summaries: %d, identities %d %d %d", n, n == 5 ? su[2].identity : -1,
        n == 5 ? su[3].identity : -1, n == 5 ? su[4].identity : -1);
  /* off: pool_threshold above 1 */
  trk_destroy(&s);
  trk_params p = trk_params_default();
  p.pool_threshold = 2.0f;
  trk_create(&p, &s, NULL);
  if (!s) return;
  for (int shot = 0; shot < 3; shot++) {
    if (shot) trk_cut(s, shot * 2.0, &err);
    for (int f = 0; f < 10; f++) {
      bf_detection d = det_at(100, 100, 40);
      sm.truth[0] = who[shot];
      trk_update_detections(s, shot * 2.0 + f * 0.1, &d, 1, sim_embed, &sm, &err);
    }
  }
  CHECK(trk_count(s) == 1 && trk_get(s, 0)->ident == 3, "off: identity %d (want 3)",
        trk_count(s) ? trk_get(s, 0)->ident : -1);
  trk_destroy(&s);
}

/* trk_embed_many_fn over sim_embed, in the order given (the serial calls' order, so the same
 * noise); counts its calls. */
static int many_calls, many_items;
static void sim_embed_many(void *user, const int *idx, int pooled, int n, float (*out)[FEM_DIM],
                           int *rc) {
  many_calls++;
  many_items += n;
  for (int k = 0; k < n; k++) rc[k] = sim_embed(user, idx[k], pooled, out[idx[k]]);
}

/* Three people born together, a cut, and back in another order: with embed_many set (the
 * embeddings of a frame computed at once, as analyze_video.c does across threads) every id,
 * identity and embedding call is what the one-at-a-time callback gives. */
static void run_three(int many, int ids[][3], int idents[][3], int *calls, int *pcalls) {
  sim sm;
  sim_init(&sm);
  trk_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(trk_create(NULL, &s, &err) == EMO_OK, "create: %s", err.msg);
  if (!s) return;
  if (many) trk_set_embed_many(s, sim_embed_many);
  const int order[2][3] = {{0, 1, 2}, {2, 0, 1}};
  for (int f = 0; f < 40; f++) {
    const int shot = f >= 20;
    if (f == 20) CHECK(trk_cut(s, f * 0.1, &err) == EMO_OK, "cut: %s", err.msg);
    bf_detection d[3];
    for (int q = 0; q < 3; q++) {
      d[q] = det_at(150.0f + 200.0f * q + (float)(f % 20), 200.0f, 90.0f);
      sm.truth[q] = order[shot][q];
    }
    CHECK(trk_update_detections(s, f * 0.1, d, 3, sim_embed, &sm, &err) == EMO_OK, "frame %d: %s",
          f, err.msg);
    for (int q = 0; q < 3; q++) {
      const trk_track *tr = trk_get(s, q);
      ids[f][q] = tr ? tr->id : -1;
      idents[f][q] = tr ? tr->ident : -1;
    }
  }
  *calls = sm.calls;
  *pcalls = sm.pcalls;
  trk_destroy(&s);
}

static void test_embed_many(void) {
  int ids[2][40][3], idents[2][40][3], calls[2], pcalls[2];
  many_calls = many_items = 0;
  run_three(0, ids[0], idents[0], &calls[0], &pcalls[0]);
  CHECK(many_calls == 0, "embed_many called without being set");
  run_three(1, ids[1], idents[1], &calls[1], &pcalls[1]);
  CHECK(many_calls > 0 && many_items >= 2 * many_calls, "embed_many: %d calls, %d embeddings",
        many_calls, many_items);
  CHECK(calls[0] == calls[1] && pcalls[0] == pcalls[1] && calls[0] >= 3,
        "embedding calls %d + %d pooled one at a time, %d + %d with embed_many", calls[0],
        pcalls[0], calls[1], pcalls[1]);
  CHECK(!memcmp(ids[0], ids[1], sizeof ids[0]) && !memcmp(idents[0], idents[1], sizeof idents[0]),
        "ids or identities differ with embed_many");
  CHECK(ids[0][0][0] > 0 && ids[0][0][0] != ids[0][0][1] && ids[0][0][1] != ids[0][0][2] &&
            ids[0][0][0] != ids[0][0][2] && ids[0][39][2] > 0,
        "three tracks born together: ids %d %d %d", ids[0][0][0], ids[0][0][1], ids[0][0][2]);
}

int main(void) {
  test_pooled_reid();
  test_verification();
  test_crossing();
  test_return();
  test_missed_detection();
  test_flow_and_keypoints();
  test_expression();
  test_limits();
  test_embed_error();
  test_embed_many();
  return th_finish("test_tracker");
}
