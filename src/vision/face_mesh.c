/* face_mesh.c: see face_mesh.h. */
#include "vision/face_mesh.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/zip.h"
#include "nn/tflite_reader.h"
#include "vision/image_ops.h"

#define ROI_SCALE 1.5f

/* face_blendshapes_graph.cc: kLandmarksSubsetIdxs, the landmarks the blendshape network reads. */
static const short blend_subset[FM_BLEND_INPUTS] = {
    0,   1,   4,   5,   6,   7,   8,   10,  13,  14,  17,  21,  33,  37,  39,  40,  46,  52,  53,
    54,  55,  58,  61,  63,  65,  66,  67,  70,  78,  80,  81,  82,  84,  87,  88,  91,  93,  95,
    103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157,
    158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249,
    251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310,
    311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375,
    377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409,
    415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477};

const char *const fm_blendshape_names[FM_BLENDSHAPES] = {
    "_neutral",         "browDownLeft",      "browDownRight",      "browInnerUp",
    "browOuterUpLeft",  "browOuterUpRight",  "cheekPuff",          "cheekSquintLeft",
    "cheekSquintRight", "eyeBlinkLeft",      "eyeBlinkRight",      "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft",     "eyeLookInRight",     "eyeLookOutLeft",
    "eyeLookOutRight",  "eyeLookUpLeft",     "eyeLookUpRight",     "eyeSquintLeft",
    "eyeSquintRight",   "eyeWideLeft",       "eyeWideRight",       "jawForward",
    "jawLeft",          "jawOpen",           "jawRight",           "mouthClose",
    "mouthDimpleLeft",  "mouthDimpleRight",  "mouthFrownLeft",     "mouthFrownRight",
    "mouthFunnel",      "mouthLeft",         "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft",   "mouthPressRight",   "mouthPucker",        "mouthRight",
    "mouthRollLower",   "mouthRollUpper",    "mouthShrugLower",    "mouthShrugUpper",
    "mouthSmileLeft",   "mouthSmileRight",   "mouthStretchLeft",   "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft",      "noseSneerRight"};

/* ---- Bundle --------------------------------------------------------------------------------- */

static int read_member(emoi_zip *z, const char *name, const char *label, unsigned char **data,
                       size_t *size, emoi_err *err) {
  int i = emoi_zip_find(z, name);
  if (i < 0) return emoi_fail(err, EMO_EMODEL, "%s: the bundle has no %s", label, name);
  int rc = emoi_zip_read(z, i, FM_MAX_ENTRY_BYTES, data, size, err);
  if (rc != EMO_OK) {
    char pre[600];
    snprintf(pre, sizeof pre, "%s: %s", label, name);
    emoi_err_prefix(err, pre);
  }
  return rc;
}

/* Loads member name as a TFLite graph, named "label:name" in messages. */
static int load_net(emoi_zip *z, const char *name, const char *label, nn_graph **g, emoi_err *err) {
  unsigned char *data = NULL;
  size_t size = 0;
  int rc = read_member(z, name, label, &data, &size, err);
  if (rc != EMO_OK) return rc;
  char src[600];
  snprintf(src, sizeof src, "%s:%s", label, name);
  rc = nn_tflite_load(data, size, src, g, err);
  free(data);
  return rc;
}

/* Checks that value id of g has n elements. */
static int check_numel(const nn_graph *g, int id, int64_t n) {
  return nn_value_numel(&g->values[id]) == n;
}

int fm_bundle_load(const unsigned char *data, size_t size, const char *label, fm_bundle **out,
                   emoi_err *err) {
  *out = NULL;
  if (!label) label = "face_landmarker.task";
  fm_bundle *b = calloc(1, sizeof *b);
  if (!b) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", label);
  emoi_zip *z = NULL;
  unsigned char *meta = NULL;
  size_t meta_size = 0;
  int rc = emoi_zip_open(data, size, label, &z, err);
  if (rc != EMO_OK) goto fail;
  if ((rc = load_net(z, "face_landmarks_detector.tflite", label, &b->mesh, err)) != EMO_OK)
    goto fail;
  const nn_graph *g = b->mesh;
  const nn_value *in = g->n_inputs == 1 ? &g->values[g->inputs[0]] : NULL;
  if (!in || in->rank != 4 || in->shape[0] != 1 || in->shape[1] != in->shape[2] ||
      in->shape[3] != 3 || in->shape[1] < 16 || in->shape[1] > 1024 || g->n_outputs < 2 ||
      !check_numel(g, g->outputs[0], FM_LANDMARKS * 3) || !check_numel(g, g->outputs[1], 1)) {
    rc = emoi_fail(err, EMO_EMODEL,
                   "%s: face_landmarks_detector.tflite: not the 478-point landmark network "
                   "(input 1xNxNx3, outputs 1434 landmarks and 1 presence)",
                   label);
    goto fail;
  }
  b->mesh_size = (int)in->shape[1];
  if ((rc = read_member(z, "geometry_pipeline_metadata_landmarks.binarypb", label, &meta,
                        &meta_size, err)) != EMO_OK)
    goto fail;
  char mlabel[600];
  snprintf(mlabel, sizeof mlabel, "%s:geometry_pipeline_metadata_landmarks.binarypb", label);
  if ((rc = fg_metadata_parse(meta, meta_size, mlabel, &b->geometry, err)) != EMO_OK) goto fail;
  /* The blendshape network is optional: without it only the FULL level is unavailable. */
  emoi_err berr = {{0}};
  int brc = load_net(z, "face_blendshapes.tflite", label, &b->blend, &berr);
  if (brc == EMO_OK) {
    const nn_graph *bg = b->blend;
    if (bg->n_inputs != 1 || bg->n_outputs < 1 ||
        !check_numel(bg, bg->inputs[0], FM_BLEND_INPUTS * 2) ||
        !check_numel(bg, bg->outputs[0], FM_BLENDSHAPES)) {
      snprintf(b->blend_error, sizeof b->blend_error,
               "%.300s: face_blendshapes.tflite: not the 146x2 -> 52 blendshape network", label);
      nn_graph_destroy(&b->blend);
    }
  } else if (brc == EMO_EUNSUPPORTED || brc == EMO_EMODEL) {
    memcpy(b->blend_error, berr.msg, sizeof b->blend_error);
    b->blend_error[sizeof b->blend_error - 1] = '\0';
  } else {
    rc = brc;
    *err = berr;
    goto fail;
  }
  free(meta);
  emoi_zip_close(z);
  *out = b;
  return EMO_OK;
fail:
  free(meta);
  emoi_zip_close(z);
  fm_bundle_destroy(&b);
  return rc;
}

void fm_bundle_destroy(fm_bundle **pb) {
  if (!pb || !*pb) return;
  nn_graph_destroy(&(*pb)->mesh);
  nn_graph_destroy(&(*pb)->blend);
  free(*pb);
  *pb = NULL;
}

/* ---- Regions -------------------------------------------------------------------------------- */

void fm_roi_from_detection(const bf_detection *d, int w, int h, fm_roi *r) {
  /* DetectionsToRectsCalculator (rotation from keypoints 0 and 1, target 0) then
   * RectTransformationCalculator (scale 1.5, not squared: ImageToTensor pads it). */
  r->cx = 0.5f * (d->x0 + d->x1) / (float)w;
  r->cy = 0.5f * (d->y0 + d->y1) / (float)h;
  r->w = (d->x1 - d->x0) / (float)w * ROI_SCALE;
  r->h = (d->y1 - d->y0) / (float)h * ROI_SCALE;
  r->angle = atan2f(d->kp[1][1] - d->kp[0][1], d->kp[1][0] - d->kp[0][0]);
}

void fm_roi_from_landmarks(const float (*lm)[3], int w, int h, fm_roi *r) {
  /* LandmarksToDetection (bounding box of all landmarks), DetectionsToRects (rotation 33 ->
   * 263), RectTransformation (scale 1.5, square_long). */
  float x0 = lm[0][0], x1 = lm[0][0], y0 = lm[0][1], y1 = lm[0][1];
  for (int i = 1; i < FM_LANDMARKS; i++) {
    x0 = fminf(x0, lm[i][0]);
    x1 = fmaxf(x1, lm[i][0]);
    y0 = fminf(y0, lm[i][1]);
    y1 = fmaxf(y1, lm[i][1]);
  }
  r->cx = 0.5f * (x0 + x1);
  r->cy = 0.5f * (y0 + y1);
  r->angle = atan2f((lm[263][1] - lm[33][1]) * (float)h, (lm[263][0] - lm[33][0]) * (float)w);
  float wp = (x1 - x0) * (float)w, hp = (y1 - y0) * (float)h;
  float side = fmaxf(wp, hp) * ROI_SCALE;
  r->w = side / (float)w;
  r->h = side / (float)h;
}

/* ---- Landmarks ------------------------------------------------------------------------------ */

/* The crop's affine map m (tensor pixel -> image pixel) and the letterbox padding (fractions of
 * the tensor) for roi; EMO_EINVAL for an empty or non-finite region. */
static int crop_geometry(int n, int w, int h, const fm_roi *roi, float m[6], float *pad_x,
                         float *pad_y, emoi_err *err) {
  /* ImageToTensor with keep_aspect_ratio: the rect grows to a square about its centre
   * (PadRoi); the padding is removed from the landmarks afterwards. */
  float wp = roi->w * (float)w, hp = roi->h * (float)h;
  if (!(wp > 0.0f) || !(hp > 0.0f) || !isfinite(roi->cx) || !isfinite(roi->cy) ||
      !isfinite(roi->angle))
    return emoi_fail(err, EMO_EINVAL, "face mesh: empty or non-finite region");
  float side = fmaxf(wp, hp);
  *pad_x = 0.5f * (1.0f - wp / side);
  *pad_y = 0.5f * (1.0f - hp / side);
  img_affine_rotated_square(m, roi->cx * (float)w, roi->cy * (float)h, roi->angle, side, n);
  /* MediaPipe's OpenCV path maps tensor pixel indices (not centres) onto the rect's corners:
   * src_index = corner + j * side / n. In continuous coordinates that is the centred map
   * shifted by half a source pixel minus half a tensor pixel along the crop's axes. */
  float k = side / (float)n;
  float co = cosf(roi->angle), si = sinf(roi->angle);
  float du = -0.5f * k, dv = -0.5f * k;
  m[2] += co * du - si * dv + 0.5f;
  m[5] += si * du + co * dv + 0.5f;
  return EMO_OK;
}

int fm_crop(const fm_bundle *b, const uint8_t *rgb, int w, int h, int stride, const fm_roi *roi,
            emo_isa cap, float *dst, emoi_err *err) {
  float m[6], pad_x, pad_y;
  int rc = crop_geometry(b->mesh_size, w, h, roi, m, &pad_x, &pad_y, err);
  if (rc != EMO_OK) return rc;
  img_view view = {rgb, w, h, stride};
  img_norm norm = img_norm_range(0.0f, 1.0f);
  if (img_warp_affine_f32_isa(&view, m, dst, b->mesh_size, b->mesh_size, 3, &norm, IMG_BORDER_ZERO,
                              cap) != 0)
    return emoi_fail(err, EMO_EINVAL, "face mesh: crop failed");
  return EMO_OK;
}

int fm_landmarks(const fm_bundle *b, nn_plan *plan, const uint8_t *rgb, int w, int h, int stride,
                 const fm_roi *roi, float (*lm)[3], float *presence, emoi_err *err) {
  const int n = b->mesh_size;
  float m[6], pad_x = 0.0f, pad_y = 0.0f;
  int rc = crop_geometry(n, w, h, roi, m, &pad_x, &pad_y, err);
  if (rc == EMO_OK)
    rc =
        fm_crop(b, rgb, w, h, stride, roi, (emo_isa)nn_plan_isa(plan), nn_plan_input(plan, 0), err);
  if (rc != EMO_OK) return rc;
  rc = nn_plan_run(plan, err);
  if (rc != EMO_OK) return rc;
  const float *o = nn_plan_output(plan, 0);
  float logit = nn_plan_output(plan, 1)[0];
  if (logit < -100.0f) logit = -100.0f;
  if (logit > 100.0f) logit = 100.0f;
  *presence = 1.0f / (1.0f + expf(-logit));
  const float co = cosf(roi->angle), si = sinf(roi->angle);
  const float sx = 1.0f / (1.0f - 2.0f * pad_x), sy = 1.0f / (1.0f - 2.0f * pad_y);
  for (int i = 0; i < FM_LANDMARKS; i++) {
    /* TensorsToLandmarks, LandmarkLetterboxRemoval, LandmarkProjection */
    float x = (o[3 * i] / (float)n - pad_x) * sx - 0.5f;
    float y = (o[3 * i + 1] / (float)n - pad_y) * sy - 0.5f;
    float z = o[3 * i + 2] / (float)n * sx;
    lm[i][0] = (co * x - si * y) * roi->w + roi->cx;
    lm[i][1] = (si * x + co * y) * roi->h + roi->cy;
    lm[i][2] = z * roi->w;
  }
  return EMO_OK;
}

int fm_blendshapes(const fm_bundle *b, nn_plan *plan, const float (*lm)[3], int w, int h,
                   float out[FM_BLENDSHAPES], emoi_err *err) {
  if (!b->blend) return emoi_fail(err, EMO_EUNSUPPORTED, "%s", b->blend_error);
  float *in = nn_plan_input(plan, 0);
  for (int i = 0; i < FM_BLEND_INPUTS; i++) {
    in[2 * i] = lm[blend_subset[i]][0] * (float)w;
    in[2 * i + 1] = lm[blend_subset[i]][1] * (float)h;
  }
  int rc = nn_plan_run(plan, err);
  if (rc != EMO_OK) return rc;
  const float *o = nn_plan_output(plan, 0);
  for (int k = 0; k < FM_BLENDSHAPES; k++)
    out[k] = isfinite(o[k]) ? fminf(fmaxf(o[k], 0.0f), 1.0f) : 0.0f;
  return EMO_OK;
}
