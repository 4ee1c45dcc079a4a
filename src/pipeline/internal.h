/* internal.h: the insides of the public handles (emo_model, emo_context) shared by the files
 * of pipeline/. A model owns the parsed graphs (immutable after load); a context owns the
 * per-thread plans, thread pool and scratch, so analysing a frame allocates nothing. */
#ifndef EMO_PIPELINE_INTERNAL_H
#define EMO_PIPELINE_INTERNAL_H

#include <pthreadpool.h>

#include "core/err.h"
#include "emo.h"
#include "nn/nn.h"
#include "vision/blazeface.h"

/* The networks emo runs, indexing emo_model.graphs and emo_context.plans. */
typedef enum emoi_net {
  EMOI_NET_DET_SHORT = 0,
  EMOI_NET_DET_FULL,
  EMOI_NET_FER,
  EMOI_NET_FACEAPI,
  EMOI_NET_EMBED, /* face descriptor (human's faceres), for re-identification in video */
  EMOI_NET_COUNT
} emoi_net;

struct emo_model {
  emo_params params; /* copy; models_dir points at models_dir_buf */
  char models_dir_buf[4096];
  nn_graph *graphs[EMOI_NET_COUNT]; /* NULL when not needed by params */
  bf_anchor anchors_short[896];
  bf_anchor anchors_full[2304];
};

struct emo_context {
  emo_model *model; /* borrowed */
  emo_params params;
  pthreadpool_t pool; /* NULL when single-threaded */
  nn_plan *plans[EMOI_NET_COUNT];
  bf_detection dets[BF_MAX_ANCHORS * 2]; /* candidates of up to two detectors */
  emo_face *faces;                       /* (max_faces,) */
  emo_image_result result;
  struct emoi_stream *stream; /* video state, created by the first emo_stream_begin */
  char last_error[512];
};

/* Detects faces in an image into ctx->dets (image pixels) with the params' detector policy
 * (analyze_image.c); tiling = 0 forbids the tiled pass (video). Returns the count or a
 * negative status; *used tells which model ran last. */
int emoi_detect(emo_context *c, const uint8_t *rgb, int w, int h, int stride, int tiling,
                emo_detector *used, emoi_err *err);

/* Classifies the expression of detection d with the params' expression model(s) into probs
 * and returns the dominant class (or -1 with EMO_EXPRESSION_NONE) through *dominant. */
int emoi_expression(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                    const bf_detection *d, float probs[EMO_EXPR_COUNT], int *dominant,
                    emoi_err *err);

/* Frees the video state (analyze_video.c). */
void emoi_stream_free(struct emoi_stream **s);

/* Records err as the context's last error and returns code. */
int emoi_ctx_fail(emo_context *ctx, int code, const emoi_err *err);

#endif
