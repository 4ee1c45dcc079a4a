/* analyze_image.c: photo analysis: decode (media/), detect faces with the chosen BlazeFace
 * model(s) (vision/face_detect.c), classify each face's expression (vision/face_expression.c;
 * by default emo's own head on the face feature vector, learn/features.c) and fill the
 * context's result.
 *
 * Detector choice for EMO_DETECTOR_AUTO, from what the two models are trained for:
 *  1. short range on the whole image; if it finds faces and all are large (shorter box side
 *     at least AUTO_CLOSE of the image's longer side, which sets the letterbox scale), this
 *     is a close-up: done;
 *  2. otherwise full range on the whole image too, merged with the close faces of step 1
 *     (short range's boxes of small faces are loose);
 *  3. if the image is large and no face was found or some face is small (under AUTO_TINY of
 *     the longer side), full range again on a grid of overlapping tiles, so that faces of
 *     group photos reach the network at a usable size. Tile detections touching an inner
 *     tile edge are dropped (the overlapping neighbour sees them whole).
 * All candidates are merged with the same weighted NMS. EMO_DETECTOR_FULL runs steps 2-3,
 * EMO_DETECTOR_SHORT only step 1. With worker threads (emo_context_params.n_threads) the tiles
 * of step 3 run in parallel, each on its worker's own detector plan, and are appended in tile
 * order, so the result is the one of a single thread; the faces' expression networks run in
 * parallel too (a face a task). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "learn/feature_set.h"
#include "media/image_decode.h"
#include "pipeline/internal.h"
#include "vision/face_detect.h"
#include "vision/face_expression.h"

#define AUTO_CLOSE 0.2f
#define AUTO_TINY 0.08f
#define TILE_MIN_SIDE 480  /* images smaller than this (longer side) are not tiled */
#define TILE_OVERLAP 0.35f /* fraction of the tile step added as overlap */

static float min_side(const bf_detection *d) {
  float w = d->x1 - d->x0, h = d->y1 - d->y0;
  return w < h ? w : h;
}

/* Runs a detector on plan over the (x, y, w, h) region of the image into out (room for the
 * detector's every anchor: it is fd_detect's scratch too), keeps the detections that do not
 * touch an inner region edge (one that is not an image edge) when inner_edges, shifted to
 * image pixels, at the start of out. Returns their count or a negative status. */
static int detect_into(emo_context *c, emoi_net net, nn_plan *plan, const uint8_t *rgb, int W,
                       int H, int stride, int x, int y, int w, int h, int inner_edges,
                       bf_detection *out, emoi_err *err) {
  emo_model *m = c->model;
  const emo_run_params *p = &c->run;
  int is_short = net == EMOI_NET_DET_SHORT;
  const bf_model_config *cfg = is_short ? &bf_short_range : &bf_full_range;
  int k = fd_detect(m->graphs[net], plan, cfg, is_short ? m->anchors_short : m->anchors_full,
                    rgb + (size_t)y * (size_t)stride + (size_t)x * 3, w, h, stride,
                    p->score_threshold, p->nms_iou_threshold, out, c->params.max_faces, err);
  if (k < 0) return k;
  int kept = 0;
  for (int i = 0; i < k; i++) {
    bf_detection d = out[i];
    const float e = 2.0f;
    if (inner_edges && ((x > 0 && d.x0 < e) || (y > 0 && d.y0 < e) ||
                        (x + w < W && d.x1 > (float)w - e) || (y + h < H && d.y1 > (float)h - e)))
      continue;
    d.x0 += (float)x;
    d.x1 += (float)x;
    d.y0 += (float)y;
    d.y1 += (float)y;
    for (int q = 0; q < BF_KEYPOINTS; q++) {
      d.kp[q][0] += (float)x;
      d.kp[q][1] += (float)y;
    }
    out[kept++] = d;
  }
  return kept;
}

/* detect_into on the context's own plan, appending to c->dets[n..]; returns the new count or a
 * negative status. */
static int detect_region(emo_context *c, emoi_net net, const uint8_t *rgb, int W, int H, int stride,
                         int x, int y, int w, int h, int n, int inner_edges, emoi_err *err) {
  int k = detect_into(c, net, c->plans[net], rgb, W, H, stride, x, y, w, h, inner_edges,
                      c->dets + n, err);
  return k < 0 ? k : n + k;
}

/* The tiles of a large photo across the context's workers (the full-range detector). */
typedef struct tile_job {
  emo_context *c;
  const uint8_t *rgb;
  int w, h, stride;
  int x0[EMOI_MAX_TILES], y0[EMOI_MAX_TILES], tw, th;
  int n[EMOI_MAX_TILES]; /* detections kept per tile, or a negative status */
  emoi_err err[EMOI_MAX_TILES];
} tile_job;

/* Makes the workers' full-range plans and the tiles' buffers (context.c frees them), once:
 * 1 when they are there, 0 when they cannot be had (the tiles then run one after another). */
static int tile_plans_ready(emo_context *c) {
  if (c->tile_dets) return 1;
  emoi_err e2 = {{0}};
  const nn_plan_options opt = {.isa = (nn_isa)c->params.isa};
  nn_backend be = c->params.reference_kernels ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK;
  for (int wk = 1; wk < c->n_workers; wk++)
    if (!c->det_plans[wk] && nn_plan_create_ex(c->model->graphs[EMOI_NET_DET_FULL], be, NULL, &opt,
                                               &c->det_plans[wk], &e2) != EMO_OK) {
      emoi_log(&c->log, EMO_LOG_DEBUG, "detector tiles stay on one thread: %s", e2.msg);
      return 0;
    }
  if (!c->det_scratch)
    c->det_scratch = malloc((size_t)c->n_workers * BF_MAX_ANCHORS * sizeof *c->det_scratch);
  if (c->det_scratch)
    c->tile_dets =
        malloc((size_t)EMOI_MAX_TILES * (size_t)c->params.max_faces * sizeof *c->tile_dets);
  return c->tile_dets != NULL;
}

/* wk_run task: tile t on the worker's own plan and scratch; its faces into tile_dets row t. */
static void tile_task(void *arg, int t, int worker) {
  tile_job *j = arg;
  emo_context *c = j->c;
  nn_plan *plan = worker ? c->det_plans[worker] : c->plans[EMOI_NET_DET_FULL];
  bf_detection *scratch = c->det_scratch + (size_t)worker * BF_MAX_ANCHORS;
  int k = detect_into(c, EMOI_NET_DET_FULL, plan, j->rgb, j->w, j->h, j->stride, j->x0[t], j->y0[t],
                      j->tw, j->th, 1, scratch, &j->err[t]);
  j->n[t] = k;
  if (k > 0)
    memcpy(c->tile_dets + (size_t)t * c->params.max_faces, scratch, (size_t)k * sizeof *scratch);
}

/* Keeps the candidate buffer bounded: merges when it could not take another detector run. */
static int compact(emo_context *c, int n) {
  if (n + BF_MAX_ANCHORS <= (int)(sizeof c->dets / sizeof c->dets[0])) return n;
  return bf_weighted_nms(c->dets, n, c->run.nms_iou_threshold, c->params.max_faces);
}

int emoi_detect(emo_context *c, const uint8_t *rgb, int w, int h, int stride, int tiling, int far,
                emo_detector *used, emoi_err *err) {
  const emo_run_params *p = &c->run;
  int n = 0, longer = w < h ? h : w;
  *used = p->detector == EMO_DETECTOR_FULL ? EMO_DETECTOR_FULL : EMO_DETECTOR_SHORT;
  if (p->detector == EMO_DETECTOR_SHORT || (p->detector == EMO_DETECTOR_AUTO && !far)) {
    n = detect_region(c, EMOI_NET_DET_SHORT, rgb, w, h, stride, 0, 0, w, h, 0, 0, err);
    if (n < 0 || p->detector == EMO_DETECTOR_SHORT) return n;
    int close = n > 0;
    for (int i = 0; i < n; i++)
      if (min_side(&c->dets[i]) < AUTO_CLOSE * (float)longer) close = 0;
    if (close) return n;
    /* Keep only the close faces, where short range is in its element; its boxes of small
     * faces are loose and would not merge with full range's. */
    int kept = 0;
    for (int i = 0; i < n; i++)
      if (min_side(&c->dets[i]) >= AUTO_CLOSE * (float)longer) c->dets[kept++] = c->dets[i];
    n = kept;
  }
  *used = EMO_DETECTOR_FULL;
  n = detect_region(c, EMOI_NET_DET_FULL, rgb, w, h, stride, 0, 0, w, h, n, 0, err);
  if (n < 0) return n;
  int tiny = n == 0;
  for (int i = 0; i < n; i++)
    if (min_side(&c->dets[i]) < AUTO_TINY * (float)longer) tiny = 1;
  if (tiling && tiny && longer >= TILE_MIN_SIDE) {
    /* A grid of g x g tiles, g = 2 up to 1600 px, else 3. */
    int g = longer > 1600 ? 3 : 2;
    int tw = (int)((float)w / (float)g * (1.0f + TILE_OVERLAP));
    int th = (int)((float)h / (float)g * (1.0f + TILE_OVERLAP));
    if (tw > w) tw = w;
    if (th > h) th = h;
    tile_job j = {.c = c, .rgb = rgb, .w = w, .h = h, .stride = stride, .tw = tw, .th = th};
    for (int ty = 0; ty < g; ty++)
      for (int tx = 0; tx < g; tx++) {
        j.x0[ty * g + tx] = g > 1 ? (int)((int64_t)(w - tw) * tx / (g - 1)) : 0;
        j.y0[ty * g + tx] = g > 1 ? (int)((int64_t)(h - th) * ty / (g - 1)) : 0;
      }
    if (c->workers && tile_plans_ready(c)) {
      /* every tile at once, then appended in tile order: the same candidates, in the same
         order, as one tile after the other */
      wk_run(c->workers, tile_task, &j, g * g);
      for (int t = 0; t < g * g; t++) {
        if (j.n[t] < 0) {
          *err = j.err[t];
          return j.n[t];
        }
        n = compact(c, n);
        memcpy(c->dets + n, c->tile_dets + (size_t)t * c->params.max_faces,
               (size_t)j.n[t] * sizeof *c->dets);
        n += j.n[t];
      }
    } else {
      for (int t = 0; t < g * g; t++) {
        n = compact(c, n);
        n = detect_region(c, EMOI_NET_DET_FULL, rgb, w, h, stride, j.x0[t], j.y0[t], tw, th, n, 1,
                          err);
        if (n < 0) return n;
      }
    }
  }
  return bf_weighted_nms(c->dets, n, p->nms_iou_threshold, c->params.max_faces);
}

#define FACE_VECTOR_MAX 4096 /* floats of a face feature vector on the stack (v1: 1550) */

/* Where expression_one keeps face vectors for a face head (emoi_expressions): blocks (the
 * built-in head's and the face head's) of face i at vecs + i * row; vecs NULL = keep none. */
typedef struct vec_rows {
  float *vecs;
  unsigned blocks;
  size_t row;
} vec_rows;

/* emo's own head (EMO_EXPRESSION_EMO) on the face vector of d: probabilities in emo's order.
 * With vec (room for the vector of `blocks`, which hold the head's), that vector is computed
 * there and the head's blocks taken out of it; else only the head's blocks are computed. */
static int expression_head(const emo_model *m, unsigned blocks, float *vec, nn_plan *fer,
                           nn_plan *fa, nn_plan *embed, const uint8_t *rgb, int w, int h,
                           int stride, const bf_detection *d, float probs[EMO_EXPR_COUNT],
                           emoi_err *err) {
  float x[FACE_VECTOR_MAX], p[EMO_EXPR_COUNT];
  int dim[FS_N_BLOCKS];
  emoi_features_blocks(m, dim);
  const unsigned need = m->expr_blocks;
  if (fs_dim(dim, need) > FACE_VECTOR_MAX || fs_dim(dim, need) != emo_head_dim(m->expr_head))
    return emoi_fail(err, EMO_EINTERNAL, "expression head: feature vector of %d values",
                     fs_dim(dim, need));
  int rc = emoi_face_vector(m, vec ? blocks : need, fer, fa, embed, rgb, w, h, stride, d,
                            vec ? vec : x, err);
  if (rc != EMO_OK) return rc;
  if (vec) fs_gather(dim, blocks, need, vec, x);
  if (emo_head_predict(m->expr_head, x, p, NULL) < 0)
    return emoi_fail(err, EMO_EINTERNAL, "expression head: prediction failed");
  for (int k = 0; k < EMO_EXPR_COUNT; k++) probs[m->expr_map[k]] = p[k];
  return EMO_OK;
}

/* One face with the given plans (FER, face-api, face embedding; any may be unused); with the
 * built-in head, its vector goes to vec when that is not NULL (vec_rows). */
static int expression_one(const emo_model *m, nn_plan *fer, nn_plan *fa, nn_plan *embed,
                          const vec_rows *keep, float *vec, const uint8_t *rgb, int w, int h,
                          int stride, const bf_detection *d, const emo_face_details *fd,
                          float probs[EMO_EXPR_COUNT], int *dominant, emoi_err *err) {
  emo_expression_model expr = m->params.expression;
  *dominant = -1;
  for (int k = 0; k < EMO_EXPR_COUNT; k++) probs[k] = 0.0f;
  if (expr == EMO_EXPRESSION_NONE) return EMO_OK;
  fe_align al;
  if (!fd || fd->level == EMO_DETAILS_NONE ||
      fe_align_from_landmarks((const float(*)[3])fd->landmarks, &al) != EMO_OK)
    fe_align_from_detection(d, &al);
  float a[EMO_EXPR_COUNT] = {0}, b[EMO_EXPR_COUNT] = {0};
  int rc = EMO_OK;
  int use_fer = expr == EMO_EXPRESSION_FER || expr == EMO_EXPRESSION_ENSEMBLE;
  int use_fa = expr == EMO_EXPRESSION_FACEAPI || expr == EMO_EXPRESSION_ENSEMBLE;
  if (expr == EMO_EXPRESSION_EMO) /* the head was trained on keypoint-aligned crops */
    rc = expression_head(m, keep->blocks, vec, fer, fa, embed, rgb, w, h, stride, d, a, err);
  if (use_fer) rc = fe_classify(FE_NET_FER, fer, rgb, w, h, stride, &al, a, err);
  if (rc == EMO_OK && use_fa) rc = fe_classify(FE_NET_FACEAPI, fa, rgb, w, h, stride, &al, b, err);
  if (rc != EMO_OK) return rc;
  int best = 0;
  for (int k = 0; k < EMO_EXPR_COUNT; k++) {
    probs[k] = use_fer && use_fa ? 0.5f * (a[k] + b[k]) : (use_fa ? b[k] : a[k]);
    if (probs[k] > probs[best]) best = k;
  }
  *dominant = best;
  return EMO_OK;
}

typedef struct expr_job {
  emo_context *c;
  const uint8_t *rgb;
  int w, h, stride;
  const bf_detection *dets;
  const emo_face_details *const *details;
  size_t details_stride;
  float (*probs)[EMO_EXPR_COUNT];
  int *dominant;
  const vec_rows *keep;
  int rc; /* first failure (written once) */
  emoi_err err;
} expr_job;

/* Face i's details when its landmarks are to align the crop, else NULL. */
static const emo_face_details *align_details(const emo_context *c,
                                             const emo_face_details *const *details, size_t stride,
                                             int i) {
  if (!details || !c->run.landmark_crops) return NULL;
  return *(const emo_face_details *const *)(const void *)((const char *)(const void *)details +
                                                          (size_t)i * stride);
}

/* wk_run task: face i on the worker's own plans. */
static void expr_task(void *arg, int i, int worker) {
  expr_job *j = arg;
  emo_context *c = j->c;
  emoi_err err = {{0}};
  float *vec = j->keep->vecs ? j->keep->vecs + (size_t)i * j->keep->row : NULL;
  int rc = expression_one(c->model, c->expr_plans[worker][0], c->expr_plans[worker][1],
                          c->expr_plans[worker][2], j->keep, vec, j->rgb, j->w, j->h, j->stride,
                          &j->dets[i], align_details(c, j->details, j->details_stride, i),
                          j->probs[i], &j->dominant[i], &err);
  int expected = EMO_OK;
  if (rc != EMO_OK &&
      __atomic_compare_exchange_n(&j->rc, &expected, rc, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    j->err = err;
}

int emoi_expressions(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                     const bf_detection *dets, int n, const emo_face_details *const *details,
                     size_t details_stride, float (*probs)[EMO_EXPR_COUNT], int *dominant,
                     emoi_err *err) {
  const emo_model *m = c->model;
  vec_rows keep = {NULL, m->expr_blocks, 0};
  c->fvec_n = 0;
  if (m->params.expression == EMO_EXPRESSION_EMO && c->run.face_head && n > 0) {
    /* one vector per face for both heads (emoi_face_custom takes the face head's blocks) */
    int dim[FS_N_BLOCKS];
    emoi_features_blocks(m, dim);
    keep.blocks |= c->face_head_blocks;
    if (emoi_face_vectors_reserve(c, keep.blocks, n) != EMO_OK)
      return emoi_fail(err, EMO_ENOMEM, "out of memory for the face vectors");
    keep.vecs = c->fvec;
    keep.row = (size_t)fs_dim(dim, keep.blocks);
  }
  int rc = EMO_OK;
  /* the caller's worker slot has an embedding plan only when the built-in head reads it
     (context.c): a face head that reads it too makes this call serial */
  const int workers_can = !(keep.blocks & FS_BIT(FS_FACE_EMBEDDING)) || c->expr_plans[0][2];
  if (n > 1 && c->workers && workers_can && m->params.expression != EMO_EXPRESSION_NONE) {
    expr_job j = {c,     rgb,      w,     h,      stride, dets, details, details_stride,
                  probs, dominant, &keep, EMO_OK, {{0}}};
    wk_run(c->workers, expr_task, &j, n);
    if (j.rc != EMO_OK) *err = j.err;
    rc = j.rc;
  } else {
    for (int i = 0; i < n && rc == EMO_OK; i++)
      rc = expression_one(
          m, c->plans[EMOI_NET_FER], c->plans[EMOI_NET_FACEAPI], c->plans[EMOI_NET_EMBED], &keep,
          keep.vecs ? keep.vecs + (size_t)i * keep.row : NULL, rgb, w, h, stride, &dets[i],
          align_details(c, details, details_stride, i), probs[i], &dominant[i], err);
  }
  if (rc == EMO_OK && keep.vecs) c->fvec_n = n;
  return rc;
}

/* The three analysis calls share these steps, with c->run already set. */
static int analyze_rgb(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                       const emo_image_result **out) {
  emoi_err err = {{0}};
  if (!rgb || w <= 0 || h <= 0 || stride < 3 * w) return emoi_ctx_fail(c, EMO_EINVAL, &err);
  if ((int64_t)w * h > c->run.max_pixels) {
    emoi_fail(&err, EMO_ELIMIT, "image of %dx%d pixels exceeds max_pixels %lld", w, h,
              (long long)c->run.max_pixels);
    return emoi_ctx_fail(c, EMO_ELIMIT, &err);
  }
  emo_detector used = EMO_DETECTOR_SHORT;
  int n = 1;
  if (c->run.whole_face) { /* the image is the face: BlazeFace's keypoints on a tight crop */
    static const float kp[EMO_KEYPOINT_COUNT][2] = {{0.32f, 0.38f}, {0.68f, 0.38f}, {0.50f, 0.60f},
                                                    {0.50f, 0.78f}, {0.02f, 0.45f}, {0.98f, 0.45f}};
    const float box[4] = {0.0f, 0.0f, (float)w, (float)h};
    float px[EMO_KEYPOINT_COUNT][2];
    for (int k = 0; k < EMO_KEYPOINT_COUNT; k++) px[k][0] = kp[k][0] * w, px[k][1] = kp[k][1] * h;
    bf_detection_from_xywh(box, (const float(*)[2])px, 1.0f, &c->dets[0]);
  } else {
    n = emoi_detect(c, rgb, w, h, stride, 1, 0, &used, &err);
  }
  if (n < 0) return emoi_ctx_fail(c, n, &err);
  for (int i = 0; i < n; i++) {
    const bf_detection *d = &c->dets[i];
    emo_face *f = &c->faces[i];
    memset(f, 0, sizeof *f);
    f->box[0] = d->x0;
    f->box[1] = d->y0;
    f->box[2] = d->x1 - d->x0;
    f->box[3] = d->y1 - d->y0;
    f->score = d->score;
    for (int k = 0; k < EMO_KEYPOINT_COUNT; k++) {
      f->keypoints[k][0] = d->kp[k][0];
      f->keypoints[k][1] = d->kp[k][1];
    }
  }
  for (int i = 0; i < n; i++) c->face_dominant[i] = -1;
  /* details first: their landmarks may align the expression crops */
  int rc = emoi_face_details(c, rgb, w, h, stride, c->dets, n, NULL, &c->faces[0].details,
                             sizeof c->faces[0], &err);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  rc = emoi_expressions(c, rgb, w, h, stride, c->dets, n, &c->faces[0].details, sizeof c->faces[0],
                        c->face_probs, c->face_dominant, &err);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  for (int i = 0; i < n; i++) {
    memcpy(c->faces[i].expression, c->face_probs[i], sizeof c->faces[i].expression);
    c->faces[i].dominant = c->face_dominant[i];
  }
  if (c->run.face_head && n > 0) { /* the head's answer per face (learn/features.c) */
    rc = emoi_face_custom(c, rgb, w, h, stride, c->dets, n, &err);
    if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
    for (int i = 0; i < n; i++) EMOI_SET_CUSTOM(c, &c->faces[i], i);
  }
  c->result.width = w;
  c->result.height = h;
  c->result.face_count = n;
  c->result.faces = c->faces;
  c->result.detector_used = used;
  c->last_error[0] = 0;
  *out = &c->result;
  return EMO_OK;
}

static int analyze_encoded(emo_context *c, const void *data, size_t size,
                           const emo_image_result **out) {
  emoi_err err = {{0}};
  if (!data && size) return emoi_ctx_fail(c, EMO_EINVAL, &err);
  img_rgb img = {0};
  int rc = img_decode(data, size, c->run.max_pixels, &img, &err);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  rc = analyze_rgb(c, img.data, img.width, img.height, img.width * 3, out);
  img_rgb_free(&img);
  return rc;
}

/* Sets the call's options and checks the model can honour them. */
static int begin(emo_context *c, const emo_run_params *rp) {
  int rc = emoi_run_begin(c, rp);
  return rc != EMO_OK ? rc : emoi_run_needs_faces(c);
}

int emo_analyze_rgb(emo_context *c, const emo_run_params *rp, const uint8_t *rgb, int w, int h,
                    int stride, const emo_image_result **out) {
  if (!c || !out) return EMO_EINVAL;
  *out = NULL;
  int rc = begin(c, rp);
  return rc != EMO_OK ? rc : analyze_rgb(c, rgb, w, h, stride, out);
}

int emo_analyze_encoded(emo_context *c, const emo_run_params *rp, const void *data, size_t size,
                        const emo_image_result **out) {
  if (!c || !out) return EMO_EINVAL;
  *out = NULL;
  int rc = begin(c, rp);
  return rc != EMO_OK ? rc : analyze_encoded(c, data, size, out);
}

int emo_analyze_file(emo_context *c, const emo_run_params *rp, const char *path,
                     const emo_image_result **out) {
  if (!c || !out || !path) return EMO_EINVAL;
  *out = NULL;
  int rc = begin(c, rp);
  if (rc != EMO_OK) return rc;
  emoi_err err = {{0}};
  unsigned char *data = NULL;
  size_t size = 0;
  rc = img_read_file(path, c->run.max_file_bytes, &data, &size, &err);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  rc = analyze_encoded(c, data, size, out);
  free(data);
  if (rc == EMO_OK && (*out)->face_count == 0)
    emoi_log(&c->log, EMO_LOG_WARN, "%s: no face found", path);
  if (rc != EMO_OK) {
    /* Name the file in the message. */
    char tmp[sizeof c->last_error];
    memcpy(tmp, c->last_error, sizeof tmp);
    snprintf(c->last_error, sizeof c->last_error, "%.200s: %.300s", path, tmp);
  }
  return rc;
}
