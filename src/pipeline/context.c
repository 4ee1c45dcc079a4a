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

int emoi_ctx_fail(emo_context *ctx, int code, const emoi_err *err) {
  if (ctx) {
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s",
             err && err->msg[0] ? err->msg : emo_status_str(code));
    emoi_log(&ctx->params, EMO_LOG_DEBUG, "%s", ctx->last_error);
  }
  return code;
}

static int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

/* speech_only: only the speech scratch (VAD, speech emotion), no face plans or workers. */
static int create(emo_model *model, const emo_params *params, int speech_only,
                  emo_context **out) {
  if (!out || !model) return EMO_EINVAL;
  *out = NULL;
  emo_context *c = calloc(1, sizeof *c);
  if (!c) return EMO_ENOMEM;
  c->model = model;
  c->params = params ? *params : model->params;
  /* Which networks exist is the model's choice; the context follows it. */
  c->params.detector = model->params.detector;
  c->params.expression = model->params.expression;
  c->params.models_dir = model->params.models_dir;
  c->params.reid = model->params.reid;
  c->params.faces = model->params.faces;
  c->params.voice = model->params.voice;
  if (c->params.max_faces < 1) c->params.max_faces = 1;
  if (c->params.max_faces > BF_MAX_ANCHORS) c->params.max_faces = BF_MAX_ANCHORS;
  emoi_err err = {{0}};
  int rc = EMO_OK;
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
  nn_plan_options expr_opt = {.int8 = !c->params.float_expression};
  for (int i = 0; i < EMOI_NET_COUNT; i++) {
    if (!model->graphs[i] || speech_only) continue;
    int expr = i == EMOI_NET_FER || i == EMOI_NET_FACEAPI;
    rc = nn_plan_create_ex(model->graphs[i], backend, NULL, expr ? &expr_opt : NULL,
                           &c->plans[i], &err);
    if (rc != EMO_OK) goto fail;
  }
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
    const emoi_net nets[2] = {EMOI_NET_FER, EMOI_NET_FACEAPI};
    for (int wk = 0; wk < c->n_workers; wk++)
      for (int k = 0; k < 2; k++) {
        if (!model->graphs[nets[k]]) continue;
        rc = nn_plan_create_ex(model->graphs[nets[k]], backend, NULL, &expr_opt,
                               &c->expr_plans[wk][k], &err);
        if (rc != EMO_OK) goto fail;
      }
  }
  *out = c;
  return EMO_OK;
fail:
  emoi_log(&c->params, EMO_LOG_ERROR, "%s", err.msg);
  emo_context_destroy(&c);
  return rc;
}

int emo_context_create(emo_model *model, const emo_params *params, emo_context **out) {
  return create(model, params, 0, out);
}

int emoi_context_create_speech(emo_model *model, const emo_params *params, emo_context **out) {
  return create(model, params, 1, out);
}

void emo_context_interrupt(emo_context *c) {
  if (!c) return;
  atomic_store(&c->interrupt, 1);
  emo_context *st = c->soundtrack; /* set before any analysis that it serves starts */
  if (st) atomic_store(&st->interrupt, 1);
}

void emo_context_destroy(emo_context **pc) {
  if (!pc || !*pc) return;
  emo_context *c = *pc;
  emo_context_destroy(&c->soundtrack);
  emoi_stream_free(&c->stream);
  vad_destroy(&c->vad);
  nn_plan_destroy(&c->ser_plan);
  free(c->pcm);
  free(c->segs);
  free(c->speakers);
  for (int i = 0; i < EMOI_NET_COUNT; i++) nn_plan_destroy(&c->plans[i]);
  for (int wk = 0; wk < EMOI_MAX_WORKERS; wk++)
    for (int k = 0; k < 2; k++) nn_plan_destroy(&c->expr_plans[wk][k]);
  wk_destroy(&c->workers);
  free(c->faces);
  free(c->face_dets);
  free(c->face_probs);
  free(c->face_dominant);
  free(c);
  *pc = NULL;
}

const char *emo_context_last_error(const emo_context *c) { return c ? c->last_error : ""; }
