/* context.c: emo_context_create / destroy / last_error: a context binds a model to
 * single-threaded execution plans (nn_plan), worker threads with their own expression plans
 * (the faces of a frame are classified in parallel) and result storage, all sized at
 * creation so that analysing an image allocates nothing but the decoded pixels.
 * Why no pthreadpool inside the networks: its workers spin between commands, which on a
 * 2-core machine steals the core that video decoding runs on, and under load a pool waits
 * for descheduled workers (measured 3x slower); one face per thread has no such stalls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "pipeline/internal.h"
#include "pipeline/persons.h"
#include "vision/face_mesh.h"

int emoi_ctx_fail(emo_context *ctx, int code, const emoi_err *err) {
  if (ctx) {
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s",
             err && err->msg[0] ? err->msg : emo_status_str(code));
    emoi_log(&ctx->log, EMO_LOG_DEBUG, "%s", ctx->last_error);
  }
  return code;
}

static int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

/* speech_only: only the speech scratch (VAD, speech emotion), no face plans or workers. */
static int create(emo_model *model, const emo_context_params *params, int speech_only,
                  emo_context **out) {
  if (!out || !model) return EMO_EINVAL;
  *out = NULL;
  emo_context *c = calloc(1, sizeof *c);
  if (!c) return EMO_ENOMEM;
  c->model = model;
  c->params = params ? *params : emo_context_params_default();
  c->log = emoi_logger_make(c->params.log, c->params.log_user, c->params.log_level);
  c->run = emo_run_params_default();
  pthread_mutex_init(&c->logq_mu, NULL);
  c->caller = pthread_self();
  emoi_err err = {{0}};
  int rc = EMO_OK;
  if ((int)c->params.isa < 0 || c->params.isa >= EMO_ISA_COUNT) {
    rc = emoi_fail(&err, EMO_EINVAL, "emo_context_params: isa %d is not an emo_isa",
                   (int)c->params.isa);
    goto fail;
  }
  if (c->params.max_faces < 1 || c->params.max_faces > EMOI_MAX_FACES || c->params.n_threads < 0 ||
      c->params.n_threads > 1024) {
    rc = emoi_fail(&err, EMO_EINVAL,
                   "emo_context_params: max_faces must be 1..%d and n_threads 0..1024 (got %d, %d)",
                   EMOI_MAX_FACES, c->params.max_faces, c->params.n_threads);
    goto fail;
  }
  int threads = c->params.n_threads > 0 ? c->params.n_threads : default_threads();
  size_t mf = (size_t)c->params.max_faces;
  c->faces = calloc(mf, sizeof *c->faces);
  c->face_dets = calloc(mf, sizeof *c->face_dets);
  c->face_probs = calloc(mf, sizeof *c->face_probs);
  c->face_dominant = calloc(mf, sizeof *c->face_dominant);
  if (!c->faces || !c->face_dets || !c->face_probs || !c->face_dominant) {
    rc = emoi_fail(&err, EMO_ENOMEM, "out of memory for %d faces", c->params.max_faces);
    goto fail;
  }
  nn_backend backend = c->params.reference_kernels ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK;
  /* the expression networks in int8 (their big 1x1 convolutions, where the CPU has
     AVX512-VNNI) unless float_expression: a class distribution tolerates the quantisation
     noise; detector boxes and identity embeddings stay float32 */
  nn_plan_options expr_opt = {.int8 = !c->params.float_expression, .isa = (nn_isa)c->params.isa};
  nn_plan_options other_opt = {.isa = (nn_isa)c->params.isa};
  for (int i = 0; i < EMOI_NET_COUNT; i++) {
    if (!model->graphs[i] || speech_only) continue;
    int expr = i == EMOI_NET_FER || i == EMOI_NET_FACEAPI;
    rc = nn_plan_create_ex(model->graphs[i], backend, NULL, expr ? &expr_opt : &other_opt,
                           &c->plans[i], &err);
    if (rc != EMO_OK) goto fail;
  }
  if (model->landmarker && !speech_only) {
    rc = nn_plan_create_ex(model->landmarker->mesh, backend, NULL, &other_opt, &c->mesh_plan, &err);
    if (rc == EMO_OK && model->landmarker->blend)
      rc = nn_plan_create_ex(model->landmarker->blend, backend, NULL, &other_opt, &c->blend_plan,
                             &err);
    if (rc != EMO_OK) goto fail;
    c->details = calloc(mf, sizeof *c->details);
    if (!c->details) {
      rc = emoi_fail(&err, EMO_ENOMEM, "out of memory for %d faces' details", c->params.max_faces);
      goto fail;
    }
  }
  if (!speech_only) /* XNNPACK's float kernels pick their own */
    emoi_log(&c->log, EMO_LOG_INFO, "emo's kernels: the %s path (isa cap %s)",
             emo_isa_name(emo_isa_pick(c->params.isa)), emo_isa_name(c->params.isa));
  if (model->vad_graph) {
    rc = vad_create_backend(model->vad_graph, backend, NULL, &c->vad, &err);
    if (rc != EMO_OK) goto fail;
  }
  if (model->ser) {
    rc = nn_plan_create(ser_graph(model->ser), backend, NULL, &c->ser_plan, &err);
    if (rc != EMO_OK) goto fail;
  }
  if (threads > 1 && !speech_only) {
    c->n_workers = threads < EMOI_MAX_WORKERS ? threads : EMOI_MAX_WORKERS;
    rc = wk_create(c->n_workers, &c->workers);
    if (rc != EMO_OK) {
      emoi_fail(&err, rc, "cannot start %d worker threads", c->n_workers);
      goto fail;
    }
    /* the embedding for the built-in head when it reads it, and on the helpers (wk >= 1)
       wherever the model has it, for the tracker's embeddings of a video frame
       (analyze_video.c's embed_many; the caller uses plans[EMOI_NET_EMBED]): a plan of the
       embedding holds its own packed weights, about 145 MB */
    const emoi_net nets[3] = {EMOI_NET_FER, EMOI_NET_FACEAPI, EMOI_NET_EMBED};
    const int head_embeds = (model->expr_blocks & FS_BIT(FS_FACE_EMBEDDING)) != 0;
    for (int wk = 0; wk < c->n_workers; wk++)
      for (int k = 0; k < 3; k++) {
        if (!model->graphs[nets[k]] || (k == 2 && wk == 0 && !head_embeds)) continue;
        rc = nn_plan_create_ex(model->graphs[nets[k]], backend, NULL,
                               k < 2 ? &expr_opt : &other_opt, &c->expr_plans[wk][k], &err);
        if (rc != EMO_OK) goto fail;
      }
  }
  *out = c;
  return EMO_OK;
fail:
  emoi_log(&c->log, EMO_LOG_ERROR, "%s", err.msg);
  emo_context_destroy(&c);
  return rc;
}

int emo_context_create(emo_model *model, const emo_context_params *params, emo_context **out) {
  return create(model, params, 0, out);
}

int emoi_context_create_speech(emo_model *model, const emo_context_params *params,
                               emo_context **out) {
  return create(model, params, 1, out);
}

/* The detectors rp's policy needs, by the model's choice of detectors. */
static const char *missing_detector(const emo_model *m, emo_detector d) {
  if (!m->params.faces) return "face models (emo_model_params.faces = 0)";
  if (d != EMO_DETECTOR_FULL && !m->graphs[EMOI_NET_DET_SHORT]) return "short-range detector";
  if (d != EMO_DETECTOR_SHORT && !m->graphs[EMOI_NET_DET_FULL]) return "full-range detector";
  return NULL;
}

int emoi_run_begin(emo_context *c, const emo_run_params *rp) {
  emo_run_params r = rp ? *rp : emo_run_params_default();
  emoi_err err = {{0}};
  const char *bad = NULL;
  if ((unsigned)r.detector >= EMO_DETECTOR_COUNT)
    bad = "detector";
  else if (!(r.score_threshold >= 0.0f && r.score_threshold <= 1.0f))
    bad = "score_threshold";
  else if (!(r.nms_iou_threshold >= 0.0f && r.nms_iou_threshold <= 1.0f))
    bad = "nms_iou_threshold";
  else if (r.max_pixels <= 0)
    bad = "max_pixels";
  else if (r.max_file_bytes <= 0)
    bad = "max_file_bytes";
  else if (!(r.analysis_fps >= 0.0 && r.analysis_fps <= 1000.0))
    bad = "analysis_fps";
  else if (r.detect_every < 0)
    bad = "detect_every";
  else if (!(r.track_timeout >= 0.0 && r.track_timeout <= 86400.0))
    bad = "track_timeout";
  else if (!(r.reid_threshold >= -1.0f && r.reid_threshold <= 1.0f))
    bad = "reid_threshold";
  else if (!(r.smoothing >= 0.0f && r.smoothing <= 3600.0f))
    bad = "smoothing";
  else if (!(r.max_audio_seconds > 0.0 && r.max_audio_seconds <= 1e7))
    bad = "max_audio_seconds";
  else if (!(r.vad_threshold > 0.0f && r.vad_threshold < 1.0f))
    bad = "vad_threshold";
  else if (r.vad_min_speech_ms < 0 || r.vad_min_speech_ms > VAD_MAX_MS)
    bad = "vad_min_speech_ms";
  else if (r.vad_min_silence_ms < 0 || r.vad_min_silence_ms > VAD_MAX_MS)
    bad = "vad_min_silence_ms";
  else if (r.vad_pad_ms < 0 || r.vad_pad_ms > VAD_MAX_MS)
    bad = "vad_pad_ms";
  else if (!(r.io_timeout >= 0.0 && r.io_timeout <= 86400.0))
    bad = "io_timeout";
  else if ((unsigned)r.face_details >= EMO_DETAILS_COUNT)
    bad = "face_details";
  else if (!(r.min_mesh_face >= 0.0f && r.min_mesh_face <= 1e6f))
    bad = "min_mesh_face";
  else if (r.landmark_crops != 0 && r.landmark_crops != 1)
    bad = "landmark_crops";
  else if (r.track_clustering != 0 && r.track_clustering != 1)
    bad = "track_clustering";
  if (bad) {
    emoi_fail(&err, EMO_EINVAL, "emo_run_params.%s is out of its range (see emo.h)", bad);
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  if (r.face_details != EMO_DETAILS_NONE && !c->mesh_plan) {
    emoi_fail(&err, EMO_EINVAL,
              "emo_run_params.face_details needs the face landmarker, which the model did not "
              "load (emo_model_params.landmarks = 1)");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  if (r.face_details == EMO_DETAILS_FULL && !c->blend_plan) {
    emoi_fail(&err, EMO_EINVAL, "emo_run_params.face_details FULL needs the blendshape network: %s",
              c->model->landmarker ? c->model->landmarker->blend_error : "not loaded");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  const emo_head *heads[2] = {r.face_head, r.voice_head};
  unsigned blocks[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    if (!heads[i]) continue;
    const char *which = i ? "voice_head" : "face_head";
    emo_modality mod = i ? EMO_MODALITY_VOICE : EMO_MODALITY_FACE;
    if (emo_head_modality(heads[i]) != mod) {
      emoi_fail(&err, EMO_EINVAL, "emo_run_params.%s is a %s head", which, i ? "face" : "voice");
      return emoi_ctx_fail(c, EMO_EINVAL, &err);
    }
    emoi_err he = {{0}}; /* the blocks it reads, from these models (learn/features.c) */
    if (emoi_head_blocks(c->model, heads[i], &blocks[i], &he) != EMO_OK) {
      emoi_fail(&err, EMO_EINVAL, "emo_run_params.%s: %s", which, he.msg);
      return emoi_ctx_fail(c, EMO_EINVAL, &err);
    }
  }
  c->face_head_blocks = blocks[0];
  c->voice_head_blocks = blocks[1];
  c->run = r;
  return EMO_OK;
}

/* Refuses a face analysis that needs a detector the model did not load. */
int emoi_run_needs_faces(emo_context *c) {
  const char *missing = missing_detector(c->model, c->run.detector);
  if (!missing) return EMO_OK;
  emoi_err err = {{0}};
  emoi_fail(&err, EMO_EINVAL, "emo_run_params.detector needs the %s, which the model did not load",
            missing);
  return emoi_ctx_fail(c, EMO_EINVAL, &err);
}

void emo_context_interrupt(emo_context *c) {
  if (!c) return;
  atomic_store(&c->interrupt, 1);
  emo_context *st = c->soundtrack; /* set before any analysis that it serves starts */
  if (st) atomic_store(&st->interrupt, 1);
}

/* FFmpeg's messages for the context's readers: on the thread that made the call they go to
 * the log at once; from another thread (a video's decoding thread) they wait in a small
 * queue that the calling thread empties (emoi_logq_drain), as emo_log_fn promises. */
static void media_sink(int level, const char *msg, void *user) {
  emo_context *c = user;
  if (pthread_equal(pthread_self(), c->caller)) {
    emoi_log(&c->log, (emo_log_level)level, "%s", msg);
    return;
  }
  pthread_mutex_lock(&c->logq_mu);
  if (c->logq_n < EMOI_LOGQ_MAX && (c->logq[c->logq_n] = strdup(msg)))
    c->logq_level[c->logq_n++] = level;
  else
    c->logq_dropped++;
  pthread_mutex_unlock(&c->logq_mu);
}

static int media_interrupt(void *user) {
  emo_context *c = user;
  return atomic_load(&c->interrupt);
}

void emoi_media_io(emo_context *c, media_io *io) {
  memset(io, 0, sizeof *io);
  io->protocols = c->run.protocols;
  io->timeout_s = c->run.io_timeout;
  io->other_hosts = c->run.other_hosts;
  io->interrupt = media_interrupt;
  io->interrupt_user = c;
  io->log.fn = media_sink;
  io->log.user = c;
  io->log.level = c->log.level;
  io->audio_tap = c->audio_tap;
  io->audio_tap_user = c->audio_tap_user;
  c->caller = pthread_self();
}

void emoi_logq_drain(emo_context *c) {
  pthread_mutex_lock(&c->logq_mu);
  for (int i = 0; i < c->logq_n; i++) {
    emoi_log(&c->log, (emo_log_level)c->logq_level[i], "%s", c->logq[i]);
    free(c->logq[i]);
  }
  if (c->logq_dropped)
    emoi_log(&c->log, EMO_LOG_DEBUG, "%d FFmpeg messages dropped", c->logq_dropped);
  c->logq_n = c->logq_dropped = 0;
  pthread_mutex_unlock(&c->logq_mu);
}

void emo_context_destroy(emo_context **pc) {
  if (!pc || !*pc) return;
  emo_context *c = *pc;
  emoi_media_abort(c);
  emoi_logq_drain(c);
  pthread_mutex_destroy(&c->logq_mu);
  emo_context_destroy(&c->soundtrack);
  emoi_stream_free(&c->stream);
  psn_destroy(&c->persons);
  vad_destroy(&c->vad);
  nn_plan_destroy(&c->ser_plan);
  free(c->pcm);
  free(c->segs);
  free(c->speakers);
  for (int i = 0; i < EMOI_NET_COUNT; i++) nn_plan_destroy(&c->plans[i]);
  nn_plan_destroy(&c->mesh_plan);
  nn_plan_destroy(&c->blend_plan);
  free(c->details);
  for (int wk = 0; wk < EMOI_MAX_WORKERS; wk++)
    for (int k = 0; k < 3; k++) nn_plan_destroy(&c->expr_plans[wk][k]);
  for (int wk = 0; wk < EMOI_MAX_WORKERS; wk++) nn_plan_destroy(&c->det_plans[wk]);
  free(c->det_scratch);
  free(c->tile_dets);
  wk_destroy(&c->workers);
  free(c->faces);
  free(c->face_dets);
  free(c->face_probs);
  free(c->face_dominant);
  free(c->feats);
  free(c->fvec);
  emoi_vtap_free(&c->vtap);
  free(c->custom);
  free(c->seg_custom);
  free(c->spk_custom);
  free(c);
  *pc = NULL;
}

const char *emo_context_last_error(const emo_context *c) {
  return c ? c->last_error : "";
}
