/* analyze_video.c: the video timeline: emo_stream_begin / push / end (frame in, result out,
 * usable on a live source) and emoi_analyze_video (a file, URL or device, built on them;
 * emo_analyze_media adds the soundtrack).
 *
 * Per analysed frame:
 *  - the detector runs when the schedule says so (every emo_run_params.detect_every frames, or
 *    adaptively: at once when a track is new, lost or its optical flow is unsure; every
 *    ADAPT_EMPTY frames while no one is on screen; up to ADAPT_MAX frames apart while every
 *    track follows confidently); detections update the tracker (pipeline/tracker.c:
 *    optimal assignment, re-identification by face embedding when a track is born, an
 *    association is ambiguous or a continuation is doubtful: see "Verification" in tracker.h;
 *    no embedding of faces fem_quality refuses, and the summary counts the embeddings); a
 *    track whose identity is not settled samples pooled descriptors (smaller faces allowed,
 *    FEM_POOL_MIN_SIDE; the detector then runs every POOL_DETECT frames) for the tracker's
 *    deferred re-identification;
 *  - each frame goes through the shot-cut detector (vision/shot_cut.h): a cut (shot_cut event)
 *    loses every track, to be continued only by appearance (trk_cut); a suspect frame forces a
 *    detection and verifies every track;
 *  - with a gallery (emo_run_params.gallery, pipeline/gallery.c) each track is named;
 *  - on the other frames each visible track's box moves by pyramidal Lucas-Kanade flow
 *    (vision/optical_flow.c) between the previous and the current frame;
 *  - every visible face gets its expression, and its track a smoothed distribution;
 *  - spans with no face become no_face events, tracks starting/ending track events;
 *  - with emo_run_params.track_clustering, each shot's colour layouts (from the frame's grid,
 *    vision/frame_grid.h, which the cut detector uses too), track boxes and sampled clothes are
 *    kept for the final identities, joined across shots at the end of the video
 *    (pipeline/track_cluster.h: a few kilobytes a shot).
 * Nothing is kept per frame beyond the tracker's state and what the clustering keeps per shot and
 * per track: memory grows with shots and tracks, not with frames. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "av/asd.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/workers.h"
#include "media/video_decode.h"
#include "media/video_encode.h"
#include "output/annotate.h"
#include "pipeline/gallery.h"
#include "pipeline/internal.h"
#include "pipeline/speaking.h"
#include "pipeline/track_cluster.h"
#include "pipeline/tracker.h"
#include "vision/face_embed.h"
#include "vision/face_mesh.h"
#include "vision/frame_grid.h"
#include "vision/optical_flow.h"
#include "vision/shot_cut.h"

#define ADAPT_MAX 8       /* most frames between detections when all tracks are confident */
#define ADAPT_EMPTY 3     /* frames between detections while nobody is visible */
#define FLOW_LOW 0.5f     /* below this flow confidence the detector runs on the next frame */
#define FLOW_LOST 0.15f   /* below this the box is not trusted at all: detect this frame */
#define FLOW_MAX_SIDE 640 /* optical flow works on frames downscaled to this longer side */
#define FLOW_LEVELS 3
#define MAX_EVENTS 512 /* events one frame can produce (bounded by the track capacity) */
#define VERIFY_BELOW_REID                                                             \
  0.15f                 /* a verified face is another person's below reid_threshold - \
                           this (0.5 by default: about 1 % of different people's      \
                           pairs score above 0.6, docs/face_embedding.md) */
#define POOL_DETECT 3   /* frames between detections while a track samples pooled descriptors */
#define FAR_RECHECK 1.0 /* seconds between full AUTO detector procedures while faces are far */
#define BIRTH_SCORE                                                       \
  0.65f /* a detection starts a new track only above this score; below it \
           it may only continue a visible track (hysteresis: a face that  \
           is already followed keeps params.score_threshold) */

struct emoi_stream {
  trk_state *trk;
  of_pyramid *pyr[2];
  int pyr_built[2]; /* pyr[i] holds its frame (built only when flow will need it) */
  int cur;          /* index of the current frame's pyramid */
  int have_prev;
  int64_t index;    /* frames pushed */
  int since_detect; /* analysed frames since the detector last ran */
  int force_detect;
  int far; /* the last full AUTO procedure found only faces that are not
              close-ups: AUTO goes straight to full range until far_since +
              FAR_RECHECK, a cut, or a detection that finds nobody */
  double far_since;
  double first_t, last_t, last_dt;
  int in_no_face;
  double no_face_start;
  emo_track_face *faces; /* (max_faces,) */
  /* face details in video: the landmarks of the last frame of each track that had them (a slot
   * per face; mesh_id 0 = empty), from which the next frame's landmark region is cut when the
   * detector did not run (MediaPipe re-crops from the previous landmarks: the mesh tracks) */
  int *mesh_id;                            /* (max_faces,) track id of each slot */
  float (*mesh_lm)[EMO_LANDMARK_COUNT][3]; /* (max_faces, 478, 3) normalised */
  fm_roi *mesh_roi;                        /* (max_faces,) this frame's regions */
  spk_source *spk; /* speaking evidence (c->run.persons), made by the first stream */
  float *evidence; /* (max_faces,) this frame's, see speaking.h; -1 = none */
  emo_event events[MAX_EVENTS];
  int n_events;
  emo_event *spans; /* no-face spans for the summary (grows by doubling) */
  int n_spans, cap_spans;
  int64_t n_frames, n0, n1, n2;
  int64_t n_embeddings; /* face embeddings computed in this stream */
  /* gallery names per id (index id - 1; grows by doubling with the ids) */
  struct gal_id {
    double emb_t; /* the track's embedding time they were matched at; -1 = never */
    int who, also;
  } * gal;
  int cap_gal;
  int n_cuts; /* shot cuts found */
  /* with a face head: the sum of its probabilities and the frames per track id (index id - 1,
   * C classes a row; grows by doubling with the ids), and the means of the summary */
  double *csum; /* (cap_cid, C) */
  int64_t *cn;  /* (cap_cid,) */
  float *cmean; /* (cap_cid, C) */
  int cap_cid, n_cls;
  emo_frame_result frame;
  emo_video_summary summary;
  sc_state cuts; /* shot-change detector (vision/shot_cut.h) */
  fg_grid grid;  /* this frame's colour grid, for the cut detector and the clustering's layouts */
  /* final identities across shots (pipeline/track_cluster.h, emo_run_params.track_clustering) */
  tcl_state *tcl;
  int *tcl_ids;          /* (max_faces,) this frame's track ids */
  float (*tcl_boxes)[4]; /* (max_faces, 4) and boxes */
  /* embedding callback arguments, valid during one push */
  const uint8_t *rgb;
  int w, h, stride;
  const bf_detection *dets;
};

const float *emoi_stream_evidence(const emo_context *c, const char **method, int *audio_visual) {
  const spk_source *spk = c->stream ? c->stream->spk : NULL;
  if (method) *method = spk ? spk->ops->method : NULL;
  if (audio_visual) *audio_visual = spk ? spk->ops->audio_visual : 0;
  return spk ? c->stream->evidence : NULL;
}

spk_source *emoi_stream_speaking(const emo_context *c) {
  return c->stream ? c->stream->spk : NULL;
}

void emoi_stream_free(struct emoi_stream **ps) {
  if (!ps || !*ps) return;
  struct emoi_stream *s = *ps;
  trk_destroy(&s->trk);
  tcl_destroy(&s->tcl);
  free(s->tcl_ids);
  free(s->tcl_boxes);
  of_pyramid_destroy(&s->pyr[0]);
  of_pyramid_destroy(&s->pyr[1]);
  free(s->faces);
  free(s->mesh_id);
  free(s->mesh_lm);
  free(s->mesh_roi);
  free(s->evidence);
  spk_source_destroy(&s->spk);
  free(s->spans);
  free(s->gal);
  free(s->csum);
  free(s->cn);
  free(s->cmean);
  free(s);
  *ps = NULL;
}

static int push_event(struct emoi_stream *s, const emo_event *e) {
  if (s->n_events >= MAX_EVENTS) return EMO_ELIMIT;
  s->events[s->n_events++] = *e;
  return EMO_OK;
}

static int add_span(struct emoi_stream *s, double start, double end) {
  if (s->n_spans == s->cap_spans) {
    int cap = s->cap_spans ? 2 * s->cap_spans : 16;
    emo_event *n = realloc(s->spans, (size_t)cap * sizeof *n);
    if (!n) return EMO_ENOMEM;
    s->spans = n;
    s->cap_spans = cap;
  }
  emo_event e = {EMO_EVENT_NO_FACE, start, end, 0};
  s->spans[s->n_spans++] = e;
  return push_event(s, &e);
}

static void embed_many(void *user, const int *idx, int pooled, int n, float (*out)[FEM_DIM],
                       int *rc);

/* The speaking source of a stream (with c->run.persons): rp->speaking_model NULL (the default)
 * or "mouth" = the mouth motion; "lr_asd" = LR-ASD from the model cache's checkpoint (an error
 * when absent); any other value = an LR-ASD checkpoint's path. The default is the mouth motion
 * because LR-ASD, even gated (speaking_asd.c: run only during speech with two or more faces),
 * costs several times the analysis of the frames on a conversation (the README's "How persons
 * work"), against a target of 15 %. The mouth source is kept from stream to stream, LR-ASD made
 * for each (it reads the stream's soundtrack). Which one runs, and why, is logged once per
 * context and reason (EMO_LOG_INFO). */
static int speaking_begin(emo_context *c, struct emoi_stream *s, const char *url) {
  emoi_err err = {{0}};
  const char *sm = c->run.speaking_model;
  char path[4200] = "";
  int want_asd = 0, rc;
  if (c->run.persons && sm && strcmp(sm, "mouth") != 0) {
    if (strcmp(sm, "lr_asd") == 0) {
      char dir[4096];
      rc = emo_models_dir(&c->model->params, dir, sizeof dir);
      if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
      snprintf(path, sizeof path, "%s/%s", dir, ASD_FILE_DEFAULT);
    } else {
      snprintf(path, sizeof path, "%s", sm);
    }
    want_asd = 1;
  }
  if (s->spk && (want_asd || strcmp(s->spk->ops->method, "mouth_motion") != 0))
    spk_source_destroy(&s->spk);
  if (want_asd) {
    media_io io;
    emoi_media_io(c, &io);
    rc = spk_asd_create(&s->spk, path, url, &io, c->run.max_audio_seconds, c->model->vad_graph,
                        (nn_isa)c->params.isa, &err);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
    if (!(c->said_fallback & 1)) {
      c->said_fallback |= 1;
      emoi_log(&c->log, EMO_LOG_INFO,
               "speaking scores by LR-ASD (%s) during speech with two or more faces, by mouth "
               "motion elsewhere",
               path);
    }
  }
  if (c->run.persons && !s->spk) {
    rc = spk_mouth_create(&s->spk, &err);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  }
  int why = sm ? 2 : 4; /* the bit of the message said */
  if (!want_asd && c->run.persons && !(c->said_fallback & why)) {
    c->said_fallback |= why;
    if (sm)
      emoi_log(&c->log, EMO_LOG_INFO, "speaking scores by mouth motion (asked for)");
    else
      emoi_log(
          &c->log, EMO_LOG_INFO,
          "speaking scores by mouth motion, the default (LR-ASD, speaking_model \"lr_asd\" "
          "or --speaking lr_asd, costs +55 to +100 %% CPU time on a conversation even run only "
          "during speech with two or more faces)");
  }
  return EMO_OK;
}

/* Starts a stream with the options in c->run (url: the media file, NULL for
 * emo_stream_push): the scratch is made by the first stream of
 * the context; the tracker anew each time, since its options are the call's. */
static int stream_begin(emo_context *c, const char *url) {
  emoi_err err = {{0}};
  struct emoi_stream *s = c->stream;
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return emoi_ctx_fail(c, EMO_ENOMEM, &err);
    c->stream = s;
    int rc = of_pyramid_create(&s->pyr[0], &err);
    if (rc == EMO_OK) rc = of_pyramid_create(&s->pyr[1], &err);
    for (int i = 0; rc == EMO_OK && i < 2; i++) of_pyramid_set_isa(s->pyr[i], c->params.isa);
    s->faces = calloc((size_t)c->params.max_faces, sizeof *s->faces);
    s->mesh_id = calloc((size_t)c->params.max_faces, sizeof *s->mesh_id);
    s->mesh_roi = calloc((size_t)c->params.max_faces, sizeof *s->mesh_roi);
    if (c->model->landmarker) s->mesh_lm = calloc((size_t)c->params.max_faces, sizeof *s->mesh_lm);
    s->evidence = calloc((size_t)c->params.max_faces, sizeof *s->evidence);
    s->tcl_ids = calloc((size_t)c->params.max_faces, sizeof *s->tcl_ids);
    s->tcl_boxes = calloc((size_t)c->params.max_faces, sizeof *s->tcl_boxes);
    if (rc == EMO_OK) rc = tcl_create(&s->tcl, &err);
    if (rc == EMO_OK && (!s->faces || !s->mesh_id || !s->mesh_roi || !s->tcl_ids || !s->tcl_boxes ||
                         (c->model->landmarker && !s->mesh_lm) || !s->evidence))
      rc = EMO_ENOMEM;
    if (rc != EMO_OK) {
      emoi_stream_free(&c->stream);
      return emoi_ctx_fail(c, rc, &err);
    }
  }
  trk_destroy(&s->trk);
  trk_params tp = trk_params_default();
  tp.timeout = c->run.track_timeout;
  tp.reid_threshold = c->run.reid_threshold;
  tp.verify_threshold = c->run.reid_threshold - VERIFY_BELOW_REID;
  tp.smoothing = c->run.smoothing;
  tp.max_tracks = c->params.max_faces < TRK_MAX_TRACKS ? c->params.max_faces : TRK_MAX_TRACKS;
  int rc = trk_create(&tp, &s->trk, &err);
  if (rc != EMO_OK) {
    emoi_stream_free(&c->stream);
    return emoi_ctx_fail(c, rc, &err);
  }
  trk_set_embed_many(s->trk, embed_many);
  rc = speaking_begin(c, s, url);
  if (rc != EMO_OK) return rc;
  if (s->spk) s->spk->ops->reset(s->spk);
  s->pyr_built[0] = s->pyr_built[1] = 0;
  s->cur = 0;
  s->have_prev = 0;
  s->index = 0;
  s->since_detect = 0;
  s->force_detect = 1;
  s->far = 0;
  s->far_since = 0.0;
  s->first_t = s->last_t = s->last_dt = 0.0;
  s->in_no_face = 0;
  s->n_events = 0;
  s->n_spans = 0;
  s->n_frames = s->n0 = s->n1 = s->n2 = 0;
  s->n_embeddings = 0;
  s->n_cuts = 0;
  s->n_cls = c->run.face_head ? emo_head_classes(c->run.face_head) : 0;
  free(s->csum);
  free(s->cn);
  free(s->cmean);
  s->csum = NULL;
  s->cn = NULL;
  s->cmean = NULL;
  s->cap_cid = 0;
  for (int i = 0; i < s->cap_gal; i++) s->gal[i].emb_t = -1.0, s->gal[i].who = s->gal[i].also = -1;
  sc_reset(&s->cuts);
  tcl_reset(s->tcl);
  memset(&s->frame, 0, sizeof s->frame);
  memset(&s->summary, 0, sizeof s->summary);
  return EMO_OK;
}

int emoi_stream_start(emo_context *c, const char *url) {
  return stream_begin(c, url);
}

int emo_stream_begin(emo_context *c, const emo_run_params *rp) {
  if (!c) return EMO_EINVAL;
  emoi_media_abort(c);
  int rc = emoi_run_begin(c, rp);
  if (rc == EMO_OK) rc = emoi_run_needs_faces(c);
  return rc != EMO_OK ? rc : stream_begin(c, NULL);
}

/* The embedding of detection i of the frame being pushed, on the given plan (trk_embed_fn's
 * statuses; EMO_EUNSUPPORTED: reid off, or the face is too small for a trustworthy one). */
static int embed_one(emo_context *c, nn_plan *plan, int i, int pooled, float *out) {
  struct emoi_stream *s = c->stream;
  emoi_err err = {{0}};
  if (!plan) return EMO_EUNSUPPORTED; /* reid off: tracker uses IoU only */
  fem_reject why = fem_quality_min(s->rgb, s->w, s->h, s->stride, &s->dets[i],
                                   pooled ? FEM_POOL_MIN_SIDE : FEM_MIN_SIDE, NULL);
  if (why != FEM_OK) return EMO_EUNSUPPORTED; /* no descriptor rather than a wrong one */
  return fem_embed(plan, c->model->graphs[EMOI_NET_EMBED], s->rgb, s->w, s->h, s->stride,
                   &s->dets[i], out, &err);
}

/* trk_embed_fn: one embedding, on the calling thread. */
static int embed_detection(void *user, int i, int pooled, float *out) {
  emo_context *c = user;
  int rc = embed_one(c, c->plans[EMOI_NET_EMBED], i, pooled, out);
  if (rc != EMO_EUNSUPPORTED) c->stream->n_embeddings++;
  return rc;
}

typedef struct embed_job {
  emo_context *c;
  const int *idx; /* (n) detections */
  int pooled;
  float (*out)[FEM_DIM]; /* rows by detection */
  int *rc;               /* (n) */
} embed_job;

/* wk_run task: embedding k of the job, on the context's plan for the caller and on a helper's
 * own plan (the same network and options, so the same numbers). */
static void embed_task(void *arg, int k, int worker) {
  embed_job *j = arg;
  nn_plan *plan = worker ? j->c->expr_plans[worker][2] : j->c->plans[EMOI_NET_EMBED];
  j->rc[k] = embed_one(j->c, plan, j->idx[k], j->pooled, j->out[j->idx[k]]);
}

/* trk_embed_many_fn: the tracker's embeddings of one frame across the context's workers (face
 * embeddings are the largest serial part of a detection frame, issue 16 item 4). */
static void embed_many(void *user, const int *idx, int pooled, int n, float (*out)[FEM_DIM],
                       int *rc) {
  emo_context *c = user;
  if (c->workers && c->n_workers > 1 && c->expr_plans[1][2]) {
    embed_job j = {c, idx, pooled, out, rc};
    wk_run(c->workers, embed_task, &j, n);
  } else {
    for (int k = 0; k < n; k++)
      rc[k] = embed_one(c, c->plans[EMOI_NET_EMBED], idx[k], pooled, out[idx[k]]);
  }
  for (int k = 0; k < n; k++)
    if (rc[k] != EMO_EUNSUPPORTED) c->stream->n_embeddings++;
}

/* Drops weak detections that overlap no visible track (see BIRTH_SCORE); returns the count. */
static int filter_births(const struct emoi_stream *s, bf_detection *dets, int n) {
  int kept = 0;
  for (int i = 0; i < n; i++) {
    int keep = dets[i].score >= BIRTH_SCORE;
    for (int k = 0; !keep && k < trk_count(s->trk); k++)
      keep = bf_iou_xywh(trk_get(s->trk, k)->box, &dets[i]) > 0.3f;
    if (keep) dets[kept++] = dets[i];
  }
  return kept;
}

/* Decides whether the detector runs on this frame. */
static int should_detect(const emo_context *c, const struct emoi_stream *s) {
  if (s->force_detect || !s->have_prev) return 1;
  int k = c->run.detect_every;
  if (k > 0) return s->since_detect >= k;
  if (trk_count(s->trk) == 0) return s->since_detect >= ADAPT_EMPTY;
  if (trk_wants_samples(s->trk)) return s->since_detect >= POOL_DETECT;
  return s->since_detect >= ADAPT_MAX;
}

/* The gallery name of track t (matched again whenever its embedding changed), into f. */
static int name_track(emo_context *c, struct emoi_stream *s, const trk_track *t,
                      emo_track_face *f) {
  const emo_gallery *g = c->run.gallery;
  if (!g || !t->has_emb) return EMO_OK;
  if (t->id > s->cap_gal) {
    int cap = s->cap_gal ? s->cap_gal : 16;
    while (cap < t->id) cap *= 2;
    struct gal_id *n = realloc(s->gal, (size_t)cap * sizeof *n);
    if (!n) return EMO_ENOMEM;
    for (int i = s->cap_gal; i < cap; i++) n[i].emb_t = -1.0, n[i].who = n[i].also = -1;
    s->gal = n;
    s->cap_gal = cap;
  }
  struct gal_id *e = &s->gal[t->id - 1];
  if (e->emb_t != t->emb_t) {
    e->who = emoi_gallery_match(g, t->emb, c->run.reid_threshold, &e->also);
    e->emb_t = t->emb_t;
  }
  f->gallery_name = e->who >= 0 ? emo_gallery_person(g, e->who) : "unknown";
  f->gallery_also = e->also >= 0 ? emo_gallery_person(g, e->also) : NULL;
  return EMO_OK;
}

static void track_to_face(const trk_track *t, emo_track_face *f) {
  memset(f, 0, sizeof *f);
  f->track_id = t->id;
  memcpy(f->box, t->box, sizeof f->box);
  f->score = t->score;
  memcpy(f->keypoints, t->kp, sizeof f->keypoints);
  memcpy(f->smoothed, t->smoothed, sizeof f->smoothed);
  f->detected = t->detected_now;
  f->dominant = -1;
  f->identity = t->ident;
}

/* Builds pyramid p from the frame: from the decoder's luma when there is one (a fraction of
 * the bytes), else from the RGB. */
static int pyramid_from(of_pyramid *p, const uint8_t *rgb, int w, int h, int stride,
                        const frame_pre *g, emoi_err *err) {
  return g && g->data ? of_pyramid_build_gray(p, g->data, g->w, g->h, g->stride, g->k, w, h,
                                              FLOW_LEVELS, err)
                      : of_pyramid_build(p, rgb, w, h, stride, FLOW_MAX_SIDE, FLOW_LEVELS, err);
}

/* Pyramid i of the stream for the frame: the one the decoding thread prepared, taken by a
 * swap (the slot gets the stale pyramid back, rebuilt when the slot is refilled), else built
 * here. The same pyramid either way. */
static int build_pyramid(struct emoi_stream *s, int i, const uint8_t *rgb, int w, int h, int stride,
                         const frame_pre *g, emoi_err *err) {
  int rc = EMO_OK;
  if (g && g->pyr && *g->pyr_ok) {
    of_pyramid *t = s->pyr[i];
    s->pyr[i] = *g->pyr;
    *g->pyr = t;
    *g->pyr_ok = 0;
  } else {
    rc = pyramid_from(s->pyr[i], rgb, w, h, stride, g, err);
  }
  s->pyr_built[i] = rc == EMO_OK;
  return rc;
}

/* The decoding thread's share of each frame (media_io.frame_tap), per reader slot: the colour
 * grid of the cut detector and the flow pyramid, made while the analysis thread works on the
 * frames before (issue 16 item 4: the analysis thread is the critical path on 2 cores). Every
 * frame gets its pyramid here, also those the analysis would not build one for (detection
 * frames followed by a detection, frames without faces): a little more CPU, off the critical
 * path. */
typedef struct frame_prep {
  of_pyramid *pyr[VID_MAX_SLOTS];
  int pyr_ok[VID_MAX_SLOTS];
  fg_grid grid[VID_MAX_SLOTS];
} frame_prep;

static void frame_prep_free(frame_prep **pp) {
  if (!pp || !*pp) return;
  for (int i = 0; i < VID_MAX_SLOTS; i++) of_pyramid_destroy(&(*pp)->pyr[i]);
  free(*pp);
  *pp = NULL;
}

/* The pyramids at the context's isa cap (the point solver runs on the previous frame's). */
static frame_prep *frame_prep_create(emo_isa isa) {
  frame_prep *p = calloc(1, sizeof *p);
  emoi_err err = {{0}};
  for (int i = 0; p && i < VID_MAX_SLOTS; i++) {
    if (of_pyramid_create(&p->pyr[i], &err) != EMO_OK) {
      frame_prep_free(&p);
      break;
    }
    of_pyramid_set_isa(p->pyr[i], isa);
  }
  return p;
}

/* media_io.frame_tap, on the decoding thread. */
static void frame_prep_tap(const vid_frame *f, void *user) {
  frame_prep *p = user;
  const int k = f->slot;
  emoi_err err = {{0}};
  const frame_pre g = {f->gray, f->gray_w, f->gray_h, f->gray_k, f->gray_stride, NULL, NULL, NULL};
  fg_compute(f->rgb, f->width, f->height, f->stride, &p->grid[k]);
  p->pyr_ok[k] =
      pyramid_from(p->pyr[k], f->rgb, f->width, f->height, (int)f->stride, &g, &err) == EMO_OK;
}

/* A hard cut between shots: nobody is where they were. Every track becomes lost (so a face
 * after the cut continues a track only when its embedding agrees) and the caller detects. */
static int lose_tracks_at_cut(struct emoi_stream *s, double t, emoi_err *err) {
  emo_event cut = {EMO_EVENT_SHOT_CUT, t, t, 0};
  push_event(s, &cut);
  s->n_cuts++;
  int rc = trk_cut(s->trk, t, err);
  if (rc != EMO_OK) return rc;
  const emo_event *cev = NULL;
  int n_cev = trk_events(s->trk, &cev);
  for (int i = 0; i < n_cev; i++) push_event(s, &cev[i]);
  return EMO_OK;
}

typedef struct flow_job {
  const of_pyramid *prev, *next;
  const trk_state *trk;
  of_box_result *res; /* (n) by visible track */
  int *rc;            /* (n) */
} flow_job;

/* wk_run task: the flow of visible track k (of_track_box is reentrant and reads only the two
 * pyramids and the box; the results are applied afterwards, in track order). */
static void flow_task(void *arg, int k, int worker) {
  (void)worker;
  flow_job *j = arg;
  j->rc[k] = of_track_box(j->prev, j->next, trk_get(j->trk, k)->box, &j->res[k]);
}

/* Moves every visible track by optical flow from the previous frame's pyramid to this one's
 * (built here into pyr[next]). The boxes' flows run across the context's workers (the
 * analysis thread's largest serial part on a flow frame, issue 16 item 4), then are applied in
 * track order as one loop would: the same boxes whatever the thread count. Sets *lost when a
 * box cannot be trusted (the caller then detects on this frame); an unsure box asks for a
 * detection on the next frame. */
static int track_by_flow(emo_context *c, struct emoi_stream *s, int next, const uint8_t *rgb, int w,
                         int h, int stride, const frame_pre *gray, double t, int *lost,
                         emoi_err *err) {
  *lost = 0;
  int rc = build_pyramid(s, next, rgb, w, h, stride, gray, err);
  if (rc != EMO_OK) return rc;
  const int n = trk_count(s->trk);
  of_box_result res[TRK_MAX_TRACKS];
  int box_rc[TRK_MAX_TRACKS];
  flow_job j = {s->pyr[s->cur], s->pyr[next], s->trk, res, box_rc};
  if (c->workers && c->n_workers > 1 && n > 1)
    wk_run(c->workers, flow_task, &j, n);
  else
    for (int i = 0; i < n; i++) flow_task(&j, i, 0);
  float worst = 1.0f;
  for (int i = 0; i < n; i++) {
    const of_box_result *fr = &res[i];
    if (box_rc[i] != EMO_OK) {
      for (int k = 0; k < n; k++) trk_mark_verify(s->trk, k);
      worst = 0.0f;
      break;
    }
    if (fr->confidence < worst) worst = fr->confidence;
    if (fr->confidence < FLOW_LOW) trk_mark_verify(s->trk, i); /* flow unsure: verify next */
    trk_set_box(s->trk, i, fr->box, fr->dx, fr->dy, fr->scale);
  }
  if (worst < FLOW_LOST) {
    *lost = 1;
    return EMO_OK;
  }
  if (worst < FLOW_LOW) s->force_detect = 1;
  return trk_update_flow(s->trk, t);
}

/* Runs the detector (the AUTO policy straight to full range while the faces are far) and
 * associates its detections with the tracks; new tracks are confirmed on the next frame. */
static int detect_and_associate(emo_context *c, struct emoi_stream *s, const uint8_t *rgb, int w,
                                int h, int stride, double t, int cut, emoi_err *err) {
  emo_detector used;
  const int far = s->far && !cut && t - s->far_since < FAR_RECHECK;
  int n = emoi_detect(c, rgb, w, h, stride, 0, far, &used, err);
  if (n < 0) return n;
  if (!far) {
    s->far = n > 0 && used == EMO_DETECTOR_FULL;
    s->far_since = t;
  } else if (n == 0) {
    s->far = 0;
  }
  n = filter_births(s, c->dets, n);
  s->dets = c->dets;
  int rc = trk_update_detections(s->trk, t, c->dets, n, embed_detection, c, err);
  if (rc != EMO_OK) return rc;
  s->since_detect = 0;
  s->force_detect = 0;
  for (int i = 0; i < trk_count(s->trk); i++)
    if (trk_get(s->trk, i)->frames <= 1) s->force_detect = 1;
  return EMO_OK;
}

/* Adds the face head's answer of face f to its track's sums. */
static int add_custom(struct emoi_stream *s, const emo_track_face *f) {
  const int C = s->n_cls, id = f->track_id;
  if (!f->custom || C <= 0 || id <= 0) return EMO_OK;
  if (id > s->cap_cid) {
    int cap = s->cap_cid ? s->cap_cid : 16;
    while (cap < id) cap *= 2;
    double *sum = emoi_grow_copy(s->csum, (size_t)s->cap_cid * C, (size_t)cap * C, sizeof *sum);
    int64_t *cn = emoi_grow_copy(s->cn, (size_t)s->cap_cid, (size_t)cap, sizeof *cn);
    float *mean = calloc((size_t)cap * C, sizeof *mean);
    if (!sum || !cn || !mean) {
      free(sum);
      free(cn);
      free(mean);
      return EMO_ENOMEM;
    }
    free(s->csum);
    free(s->cn);
    free(s->cmean);
    s->csum = sum;
    s->cn = cn;
    s->cmean = mean;
    s->cap_cid = cap;
  }
  double *row = s->csum + (size_t)(id - 1) * C;
  for (int k = 0; k < C; k++) row[k] += f->custom[k];
  s->cn[id - 1]++;
  return EMO_OK;
}

/* The expression of every visible face (in parallel when the context has worker threads),
 * and its track's smoothed one; returns the number of faces reported or a negative status. */
static int classify_faces(emo_context *c, struct emoi_stream *s, const uint8_t *rgb, int w, int h,
                          int stride, double t, emoi_err *err) {
  int n = trk_count(s->trk);
  if (n > c->params.max_faces) n = c->params.max_faces;
  for (int i = 0; i < n; i++) {
    track_to_face(trk_get(s->trk, i), &s->faces[i]);
    if (name_track(c, s, trk_get(s->trk, i), &s->faces[i]) != EMO_OK)
      return emoi_fail(err, EMO_ENOMEM, "out of memory for the gallery names");
    bf_detection_from_xywh(s->faces[i].box, (const float(*)[2])s->faces[i].keypoints,
                           s->faces[i].score, &c->face_dets[i]);
  }
  int rc = EMO_OK;
  /* details first: their landmarks may align the expression crops */
  if (c->run.face_details != EMO_DETAILS_NONE && s->mesh_lm) {
    for (int i = 0; i < n; i++) {
      s->mesh_roi[i].w = 0.0f; /* from the detection */
      if (s->faces[i].detected) continue;
      for (int k = 0; k < c->params.max_faces; k++)
        if (s->mesh_id[k] == s->faces[i].track_id) {
          fm_roi_from_landmarks((const float(*)[3])s->mesh_lm[k], w, h, &s->mesh_roi[i]);
          break;
        }
    }
    rc = emoi_face_details(c, rgb, w, h, stride, c->face_dets, n, s->mesh_roi, &s->faces[0].details,
                           sizeof s->faces[0], err);
    if (rc != EMO_OK) return rc;
    /* keep this frame's landmarks, slot i for face i (a face without landmarks loses its slot) */
    for (int i = 0; i < c->params.max_faces; i++) s->mesh_id[i] = 0;
    for (int i = 0; i < n; i++) {
      const emo_face_details *d = s->faces[i].details;
      trk_add_details(s->trk, i, d);
      if (!d || d->level == EMO_DETAILS_NONE) continue;
      s->mesh_id[i] = s->faces[i].track_id;
      for (int k = 0; k < EMO_LANDMARK_COUNT; k++) {
        s->mesh_lm[i][k][0] = d->landmarks[k][0] / (float)w;
        s->mesh_lm[i][k][1] = d->landmarks[k][1] / (float)h;
        s->mesh_lm[i][k][2] = d->landmarks[k][2] / (float)w;
      }
    }
  } else {
    for (int i = 0; i < n; i++) s->faces[i].details = NULL;
  }
  rc = emoi_expressions(c, rgb, w, h, stride, c->face_dets, n, &s->faces[0].details,
                        sizeof s->faces[0], c->face_probs, c->face_dominant, err);
  if (rc != EMO_OK) return rc;
  if (c->vtap.on) {
    rc = emoi_video_tap(c, rgb, w, h, stride, s->faces, c->face_dets, n, t, err);
    if (rc != EMO_OK) return rc;
  }
  if (c->run.face_head) {
    rc = emoi_face_custom(c, rgb, w, h, stride, c->face_dets, n, err);
    for (int i = 0; rc == EMO_OK && i < n; i++) EMOI_SET_CUSTOM(c, &s->faces[i], i);
    for (int i = 0; rc == EMO_OK && i < n; i++)
      if (add_custom(s, &s->faces[i]) != EMO_OK)
        rc = emoi_fail(err, EMO_ENOMEM, "out of memory for the face head's means");
    if (rc != EMO_OK) return rc;
  }
  for (int i = 0; i < n; i++) {
    emo_track_face *f = &s->faces[i];
    memcpy(f->expression, c->face_probs[i], sizeof f->expression);
    f->dominant = c->face_dominant[i];
    if (f->dominant >= 0) {
      trk_add_expression(s->trk, i, t, f->expression);
      memcpy(f->smoothed, trk_get(s->trk, i)->smoothed, sizeof f->smoothed);
    }
  }
  return n;
}

/* No-face spans and the face-count statistics of a frame with n faces at t. */
static int count_frame(emo_context *c, struct emoi_stream *s, int n, double t) {
  if (n == 0 && !s->in_no_face) {
    s->in_no_face = 1;
    s->no_face_start = t;
    emoi_log(&c->log, EMO_LOG_INFO, "no face from %.3f s", t);
  } else if (n > 0 && s->in_no_face) {
    s->in_no_face = 0;
    int rc = add_span(s, s->no_face_start, t);
    if (rc != EMO_OK) return rc;
  }
  s->n_frames++;
  if (n == 0)
    s->n0++;
  else if (n == 1)
    s->n1++;
  else
    s->n2++;
  s->last_t = t;
  return EMO_OK;
}

/* What the final clustering keeps of a frame with n faces (pipeline/track_cluster.h): its shot,
 * its colour grid (for the layouts of a shot's first and last frames), where each track is and
 * what it wears. */
static int cluster_frame(struct emoi_stream *s, const uint8_t *rgb, int w, int h, int stride,
                         double t, int cut, int n) {
  for (int i = 0; i < n; i++) {
    s->tcl_ids[i] = s->faces[i].track_id;
    memcpy(s->tcl_boxes[i], s->faces[i].box, sizeof s->tcl_boxes[i]);
  }
  return tcl_frame(s->tcl, t, cut, &s->grid, rgb, w, h, stride, s->tcl_ids,
                   (const float(*)[4])s->tcl_boxes, n);
}

/* The final identities of the tracks (the summary's), joined across shots by the constrained
 * clustering of pipeline/track_cluster.h. */
static int cluster_tracks(emo_context *c, struct emoi_stream *s, emo_track_summary *tracks, int n,
                          emoi_err *err) {
  const float **emb = malloc((size_t)(n ? n : 1) * sizeof *emb);
  int *ident = malloc((size_t)(n ? n : 1) * sizeof *ident);
  if (!emb || !ident) {
    free(emb);
    free(ident);
    return emoi_fail(err, EMO_ENOMEM, "out of memory for the track clustering");
  }
  for (int i = 0; i < n; i++) { /* summaries are ordered by id: index id - 1 */
    emb[i] = tracks[i].embedding;
    ident[i] = tracks[i].identity > 0 ? tracks[i].identity : tracks[i].track_id;
  }
  tcl_params tp = tcl_params_default();
  int links = 0, merges = 0;
  int rc = tcl_cluster(s->tcl, &tp, n, emb, FEM_DIM, ident, &links, &merges, &c->log, err);
  if (rc == EMO_OK) {
    for (int i = 0; i < n; i++) tracks[i].identity = ident[i];
    emoi_log(&c->log, EMO_LOG_INFO,
             "track clustering: %d shots, %d thread links, %d merges of identities",
             tcl_shot_count(s->tcl), links, merges);
  }
  free(emb);
  free(ident);
  return rc;
}

/* One frame: cut check, flow or detection (by the schedule), tracker events, expressions,
 * statistics, and the result. */
static int stream_push(emo_context *c, const uint8_t *rgb, int w, int h, int stride, double t,
                       const frame_pre *gray, const emo_frame_result **out) {
  if (!c || !out) return EMO_EINVAL;
  *out = NULL;
  emoi_err err = {{0}};
  if (!c->stream) {
    int rc = emo_stream_begin(c, NULL);
    if (rc != EMO_OK) return rc;
  }
  struct emoi_stream *s = c->stream;
  if (!rgb || w <= 0 || h <= 0 || stride < 3 * w || !isfinite(t))
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  if ((int64_t)w * h > c->run.max_pixels) {
    emoi_fail(&err, EMO_ELIMIT, "frame of %dx%d pixels exceeds max_pixels %lld", w, h,
              (long long)c->run.max_pixels);
    return emoi_ctx_fail(c, EMO_ELIMIT, &err);
  }
  if (s->n_frames == 0) s->first_t = t;
  if (t < s->last_t && s->n_frames) t = s->last_t; /* timestamps never go back */
  if (s->n_frames) s->last_dt = t - s->last_t;
  s->n_events = 0;
  s->rgb = rgb;
  s->w = w;
  s->h = h;
  s->stride = stride;

  int rc = EMO_OK;
  int next = s->have_prev ? 1 - s->cur : s->cur;
  s->pyr_built[next] = 0;
  if (gray && gray->grid)
    s->grid = *gray->grid; /* made on the decoding thread */
  else
    fg_compute(rgb, w, h, stride, &s->grid);
  sc_kind shot = sc_push_grid(&s->cuts, &s->grid, t, NULL);
  int cut = shot == SC_HARD || shot == SC_GRADUAL;
  if (cut) rc = lose_tracks_at_cut(s, t, &err);
  if (shot == SC_SUSPECT) { /* an abrupt change that is no cut: detect, and verify identities */
    s->force_detect = 1;
    for (int i = 0; i < trk_count(s->trk); i++) trk_mark_verify(s->trk, i);
  }
  int detect = cut || should_detect(c, s) || !s->pyr_built[s->cur];
  if (rc == EMO_OK && !detect)
    rc = track_by_flow(c, s, next, rgb, w, h, stride, gray, t, &detect, &err);
  if (rc == EMO_OK && detect)
    rc = detect_and_associate(c, s, rgb, w, h, stride, t, cut, &err);
  else if (rc == EMO_OK)
    s->since_detect++;
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  s->cur = next;
  s->have_prev = 1;
  /* This frame's pyramid is built only when the next frame will move boxes by flow from it
   * (should_detect depends only on the state now); detection frames and stretches without
   * faces need none. */
  if (!s->pyr_built[s->cur] && !should_detect(c, s)) {
    rc = build_pyramid(s, s->cur, rgb, w, h, stride, gray, &err);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  }
  const emo_event *tev = NULL;
  int n_tev = trk_events(s->trk, &tev);
  for (int i = 0; i < n_tev; i++) push_event(s, &tev[i]);
  int n = classify_faces(c, s, rgb, w, h, stride, t, &err);
  if (n < 0) return emoi_ctx_fail(c, n, &err);
  for (int i = 0; i < n; i++) {
    s->faces[i].speaking = -1.0f;
    s->evidence[i] = -1.0f;
  }
  if (c->run.persons && s->spk) {
    rc = s->spk->ops->push_frame(s->spk, t, rgb, w, h, stride, s->faces, n, s->evidence, &err);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  }
  rc = count_frame(c, s, n, t);
  if (rc == EMO_OK && c->run.track_clustering) rc = cluster_frame(s, rgb, w, h, stride, t, cut, n);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);

  emo_frame_result *fr = &s->frame;
  fr->t = t;
  fr->frame = s->index++;
  fr->width = w;
  fr->height = h;
  fr->detector_ran = detect;
  fr->face_count = n;
  fr->faces = s->faces;
  fr->event_count = s->n_events;
  fr->events = s->events;
  c->last_error[0] = 0;
  *out = fr;
  return EMO_OK;
}

int emoi_stream_push_gray(emo_context *c, const uint8_t *rgb, int w, int h, int stride, double t,
                          const frame_pre *gray, const emo_frame_result **out) {
  int rc = stream_push(c, rgb, w, h, stride, t, gray, out);
  if (rc == EMO_OK && c->stream_media) emoi_media_frame(c, *out); /* through its callbacks */
  return rc;
}

int emo_stream_push(emo_context *c, const uint8_t *rgb, int w, int h, int stride, double t,
                    const emo_frame_result **out) {
  return emoi_stream_push_gray(c, rgb, w, h, stride, t, NULL, out);
}

int emo_stream_end(emo_context *c, const emo_frame_result **last,
                   const emo_video_summary **summary) {
  if (!c) return EMO_EINVAL;
  if (last) *last = NULL;
  if (summary) *summary = NULL;
  emoi_err err = {{0}};
  if (c->stream_media) {
    emoi_fail(&err, EMO_EINVAL,
              "a stream begun by emo_stream_begin_media ends with "
              "emo_stream_end_media");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  if (!c->stream) {
    int rc = emo_stream_begin(c, NULL);
    if (rc != EMO_OK) return rc;
  }
  struct emoi_stream *s = c->stream;
  s->n_events = 0;
  /* The last frame lasts one frame interval. */
  double end = s->last_t + (s->last_dt > 0 ? s->last_dt : 0.0);
  int rc = trk_finish(s->trk, end);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  const emo_event *tev = NULL;
  int n_tev = trk_events(s->trk, &tev);
  for (int i = 0; i < n_tev; i++) push_event(s, &tev[i]);
  if (s->in_no_face && s->n_frames) {
    s->in_no_face = 0;
    rc = add_span(s, s->no_face_start, end);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  }
  emo_frame_result *fr = &s->frame;
  memset(fr, 0, sizeof *fr);
  fr->t = end;
  fr->frame = -1;
  fr->event_count = s->n_events;
  fr->events = s->events;
  emo_video_summary *sm = &s->summary;
  sm->frames_analysed = s->n_frames;
  sm->frames_no_face = s->n0;
  sm->frames_one_face = s->n1;
  sm->frames_multi_face = s->n2;
  sm->duration = s->n_frames ? end - s->first_t : 0.0;
  sm->no_face_span_count = s->n_spans;
  sm->no_face_spans = s->spans;
  sm->track_count = trk_summaries(s->trk, &sm->tracks);
  if (c->run.track_clustering) {
    rc = cluster_tracks(c, s, (emo_track_summary *)sm->tracks, sm->track_count, &err);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  }
  for (int i = 0; i < sm->track_count && c->run.gallery; i++) { /* the last match of each id */
    emo_track_summary *ts = (emo_track_summary *)&sm->tracks[i];
    const struct gal_id *e = ts->track_id <= s->cap_gal ? &s->gal[ts->track_id - 1] : NULL;
    ts->gallery_name = NULL;
    ts->gallery_also = NULL;
    if (!e || e->emb_t < 0) continue;
    ts->gallery_name = e->who >= 0 ? emo_gallery_person(c->run.gallery, e->who) : "unknown";
    ts->gallery_also = e->also >= 0 ? emo_gallery_person(c->run.gallery, e->also) : NULL;
  }
  for (int i = 0; i < sm->track_count && s->n_cls > 0; i++) { /* the face head's means */
    emo_track_summary *ts = (emo_track_summary *)&sm->tracks[i];
    int id = ts->track_id;
    if (id <= 0 || id > s->cap_cid || s->cn[id - 1] == 0) continue;
    const double *row = s->csum + (size_t)(id - 1) * s->n_cls;
    float *mean = s->cmean + (size_t)(id - 1) * s->n_cls;
    for (int k = 0; k < s->n_cls; k++) mean[k] = (float)(row[k] / (double)s->cn[id - 1]);
    ts->head = c->run.face_head;
    ts->mean_custom = mean;
  }
  sm->embeddings = s->n_embeddings;
  sm->shot_cut_count = s->n_cuts;
  if (last) *last = fr;
  if (summary) *summary = sm;
  return EMO_OK;
}

int emoi_analyze_video(emo_context *c, const char *url, emoi_frame_fn on_frame, void *user,
                       const emo_video_summary **summary) {
  if (!c || !url) return EMO_EINVAL;
  if (summary) *summary = NULL;
  emoi_err err = {{0}};
  vid_reader *r = NULL;
  vid_writer *wr = NULL;
  uint8_t *canvas = NULL;
  int rc = emoi_run_needs_faces(c);
  if (rc != EMO_OK) return rc;
  media_io io;
  emoi_media_io(c, &io);
  frame_prep *prep = frame_prep_create(c->params.isa); /* NULL: all on this thread */
  io.frame_tap = prep ? frame_prep_tap : NULL;
  io.frame_tap_user = prep;
  rc = vid_open(url, &io, c->run.max_pixels, c->run.analysis_fps, 1, FLOW_MAX_SIDE, &r, &err);
  if (rc != EMO_OK) {
    frame_prep_free(&prep);
    return emoi_ctx_fail(c, rc, &err);
  }
  vid_info info;
  vid_get_info(r, &info);
  rc = stream_begin(c, url);
  if (rc != EMO_OK) goto done;
  struct stat sa, si;
  if (c->run.annotate_path && stat(c->run.annotate_path, &sa) == 0 && stat(url, &si) == 0 &&
      sa.st_dev == si.st_dev && sa.st_ino == si.st_ino) {
    rc = emoi_fail(&err, EMO_EINVAL, "%.200s: the annotated video would replace the input",
                   c->run.annotate_path);
    goto fail;
  }
  if (c->run.annotate_path) {
    double fps = c->run.analysis_fps > 0 ? c->run.analysis_fps : (info.fps > 0 ? info.fps : 30.0);
    /* Audio is copied from the input when it is a file with audio (a device, standard input
     * or a live stream cannot be opened twice). */
    const char *audio = info.has_audio && info.duration > 0 && strncmp(url, "/dev/", 5) != 0 &&
                                strcmp(url, "-") != 0 && !strstr(url, "://")
                            ? url
                            : NULL;
    rc = vidw_open(c->run.annotate_path, audio, &io, info.width, info.height, fps, &wr, &err);
    if (rc != EMO_OK) goto fail;
    canvas = malloc((size_t)info.width * (size_t)info.height * 3);
    if (!canvas) {
      rc = emoi_fail(&err, EMO_ENOMEM, "out of memory for the annotated frame");
      goto fail;
    }
  }
  int stopped = 0, read_rc;
  vid_frame vf;
  while (!stopped && (read_rc = vid_read(r, &vf, &err)) == 1) {
    const emo_frame_result *fr = NULL;
    const frame_pre g = {vf.gray,
                         vf.gray_w,
                         vf.gray_h,
                         vf.gray_k,
                         vf.gray_stride,
                         prep ? &prep->pyr[vf.slot] : NULL,
                         prep ? &prep->pyr_ok[vf.slot] : NULL,
                         prep ? &prep->grid[vf.slot] : NULL};
    rc = stream_push(c, vf.rgb, vf.width, vf.height, (int)vf.stride, vf.t, &g, &fr);
    if (rc != EMO_OK) goto done; /* message already in the context */
    ((emo_frame_result *)fr)->frame = vf.index;
    ((emo_frame_result *)fr)->media_duration = info.duration;
    if (wr && vf.width == info.width && vf.height == info.height) {
      for (int y = 0; y < vf.height; y++)
        memcpy(canvas + (size_t)y * (size_t)vf.width * 3, vf.rgb + (size_t)y * (size_t)vf.stride,
               (size_t)vf.width * 3);
      ann_frame(canvas, vf.width, vf.height, vf.width * 3, fr);
      rc = vidw_write(wr, canvas, vf.width * 3, vf.t, &err);
      if (rc != EMO_OK) goto fail;
    }
    emoi_logq_drain(c); /* FFmpeg's messages from the decoding thread */
    if ((on_frame && on_frame(fr, user)) || atomic_load(&c->interrupt)) stopped = 1;
  }
  if (!stopped && read_rc < 0)
    rc = read_rc; /* the stream broke: report after the summary */
  else
    rc = EMO_OK;
  {
    emoi_err read_err = err;
    const emo_frame_result *last = NULL;
    int erc = emo_stream_end(c, &last, summary);
    if (erc != EMO_OK) {
      rc = erc;
      goto done;
    }
    ((emo_frame_result *)last)->media_duration = info.duration;
    c->stream->summary.interrupted = stopped;
    if (on_frame) on_frame(last, user);
    err = read_err;
  }
  if (wr) {
    emoi_err werr = {{0}};
    int wrc = vidw_close(&wr, &werr);
    if (wrc != EMO_OK && rc == EMO_OK) {
      rc = wrc;
      err = werr;
    }
  }
  if (rc != EMO_OK) goto fail;
  goto done;
fail:
  emoi_ctx_fail(c, rc, &err);
done:
  vidw_abort(&wr); /* a failed run leaves no half file under the name asked for */
  emoi_logq_drain(c);
  free(canvas);
  vid_close(&r); /* joins the decoding thread before its frame_prep goes */
  frame_prep_free(&prep);
  return rc;
}
