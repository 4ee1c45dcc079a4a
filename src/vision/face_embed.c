/* face_embed.c: see face_embed.h.
 *
 * What human (3.3.6) feeds faceres, from src/face/facemesh.ts, facemeshutil.ts, faceres.ts
 * and config.ts (defaults):
 *   - the face crop is the detector box enlarged about its centre by detector.scale = 1.4,
 *     squared to the longer side (squarifyBox), cut with tf.image.cropAndResize (bilinear)
 *     to the face mesh's 256x256 input with values / 255, then resized again
 *     (resizeBilinear, legacy sampling) to 224x224 and multiplied by 255: RGB in 0..255, no
 *     mean or standard-deviation normalisation (the graph carries its own).
 *   - human's default detector.rotation is false (no alignment); with rotation it rotates
 *     the image about the box centre by the eye-line angle. Here the crop is always rotated
 *     by the eye line (BlazeFace keypoints 0 and 1), as face_expression.c does: identity
 *     descriptors are sensitive to in-plane rotation, and the alignment costs nothing.
 *     One bilinear warp replaces human's two resamplings.
 *   - outputs: gender (1,1) (<= 0.5 female), age (1,100) and the descriptor
 *     'global_pooling/Mean' (1,1024), not normalised by human.
 * Comparison: human's match.similarity uses the Euclidean distance (order 2) of the raw
 * descriptors, d2 = round(100 * 25 * sum((a - b)^2)) / 100 (multiplier 25), then
 * similarity = clamp(((1 - sqrt(d2) / 100) - 0.2) / (0.8 - 0.2), 0, 1) (min 0.2, max 0.8):
 * a monotonic map of the raw Euclidean distance. emo L2-normalises each descriptor and
 * uses the cosine similarity (for unit vectors |a - b|^2 = 2 - 2 cos, so it is the same
 * ordering as human's measure on normalised vectors, but independent of the descriptor's
 * magnitude, which varies with image contrast). tests/test_face_embed.c compares both. */
#include "vision/face_embed.h"

#include <math.h>

#include "vision/image_ops.h"

#define FEM_MARGIN 1.4f /* human's config.face.detector.scale */

/* Index of the graph output with FEM_DIM elements, or -1. */
static int descriptor_output(const nn_graph *g) {
  for (int i = 0; i < g->n_outputs; i++) {
    int id = g->outputs[i];
    if (id < 0 || id >= g->n_values) continue;
    const nn_value *v = &g->values[id];
    int64_t n = 1;
    for (int k = 0; k < v->rank; k++) n *= v->shape[k];
    if (v->dtype == NN_F32 && n == FEM_DIM) return i;
  }
  return -1;
}

static int input_ok(const nn_graph *g) {
  if (g->n_inputs != 1 || g->inputs[0] < 0 || g->inputs[0] >= g->n_values) return 0;
  const nn_value *v = &g->values[g->inputs[0]];
  return v->dtype == NN_F32 && v->rank == 4 && v->shape[0] == 1 && v->shape[1] == FEM_INPUT &&
         v->shape[2] == FEM_INPUT && v->shape[3] == 3;
}

int fem_embed(nn_plan *plan, const nn_graph *g, const uint8_t *rgb, int w, int h, ptrdiff_t stride,
              const bf_detection *d, float *out, emoi_err *err) {
  if (!plan || !g || !rgb || !d || !out || w <= 0 || h <= 0 || stride < 3 * (ptrdiff_t)w)
    return emoi_fail(err, EMO_EINVAL, "face embedding: invalid argument");
  if (!input_ok(g))
    return emoi_fail(err, EMO_EINVAL, "face embedding: %s: input is not (1,%d,%d,3)", g->source,
                     FEM_INPUT, FEM_INPUT);
  int oi = descriptor_output(g);
  if (oi < 0)
    return emoi_fail(err, EMO_EINVAL, "face embedding: %s: no %d-wide output", g->source, FEM_DIM);
  float bw = d->x1 - d->x0, bh = d->y1 - d->y0;
  float side = FEM_MARGIN * (bw > bh ? bw : bh);
  float cx = 0.5f * (d->x0 + d->x1), cy = 0.5f * (d->y0 + d->y1);
  if (!(side > 0.0f) || !isfinite(side) || !isfinite(cx) || !isfinite(cy))
    return emoi_fail(err, EMO_EINVAL, "face embedding: degenerate box");
  float ex = d->kp[1][0] - d->kp[0][0], ey = d->kp[1][1] - d->kp[0][1];
  float angle = (isfinite(ex) && isfinite(ey)) ? atan2f(ey, ex) : 0.0f;
  float m[6];
  img_affine_rotated_square(m, cx, cy, angle, side, FEM_INPUT);
  img_view view = {rgb, w, h, stride};
  img_norm norm = img_norm_uniform(1.0f, 0.0f); /* RGB 0..255 as is */
  float *in = nn_plan_input(plan, 0);           /* (1, 224, 224, 3) */
  if (img_warp_affine_f32(&view, m, in, FEM_INPUT, FEM_INPUT, 3, &norm, IMG_BORDER_REPLICATE) != 0)
    return emoi_fail(err, EMO_EINVAL, "face embedding: face crop failed");
  int rc = nn_plan_run(plan, err);
  if (rc != EMO_OK) return rc;
  const float *o = nn_plan_output(plan, oi); /* (1, 1024) */
  double ss = 0.0;
  for (int k = 0; k < FEM_DIM; k++) ss += (double)o[k] * o[k];
  if (!(ss > 0.0) || !isfinite(ss))
    return emoi_fail(err, EMO_EINTERNAL, "face embedding: %s: zero or non-finite descriptor",
                     g->source);
  float inv = (float)(1.0 / sqrt(ss));
  for (int k = 0; k < FEM_DIM; k++) out[k] = o[k] * inv;
  return EMO_OK;
}

float fem_similarity(const float *a, const float *b) {
  double s = 0.0;
  for (int k = 0; k < FEM_DIM; k++) s += (double)a[k] * b[k];
  if (s > 1.0) s = 1.0;
  if (s < -1.0) s = -1.0;
  return (float)s;
}

fem_reject fem_quality(const uint8_t *rgb, int w, int h, ptrdiff_t stride, const bf_detection *d,
                       float *detail) {
  return fem_quality_min(rgb, w, h, stride, d, FEM_MIN_SIDE, detail);
}

fem_reject fem_quality_min(const uint8_t *rgb, int w, int h, ptrdiff_t stride,
                           const bf_detection *d, float min_side, float *detail) {
  if (detail) *detail = 0.0f;
  float bw = d->x1 - d->x0, bh = d->y1 - d->y0;
  if (!(bw >= min_side && bh >= min_side) || !isfinite(bw) || !isfinite(bh)) return FEM_TINY;
  float ex = d->kp[1][0] - d->kp[0][0], ey = d->kp[1][1] - d->kp[0][1];
  float eyes = sqrtf(ex * ex + ey * ey);
  if (!(eyes >= FEM_MIN_EYES * bw)) return FEM_PROFILE;
  float mx = 0.5f * (d->kp[0][0] + d->kp[1][0]), my = 0.5f * (d->kp[0][1] + d->kp[1][1]);
  float yaw = ((d->kp[2][0] - mx) * ex + (d->kp[2][1] - my) * ey) / (eyes * eyes);
  if (!(fabsf(yaw) <= FEM_MAX_YAW)) return FEM_PROFILE;
  enum { G = 48 };
  static const int lap_n = G - 2;
  float lum[G][G]; /* the box's luma on a G x G grid (nearest samples) */
  double sum = 0.0, sum2 = 0.0;
  for (int gy = 0; gy < G; gy++)
    for (int gx = 0; gx < G; gx++) {
      long x = (long)(d->x0 + (gx + 0.5f) * bw / G), y = (long)(d->y0 + (gy + 0.5f) * bh / G);
      x = x < 0 ? 0 : x >= w ? w - 1 : x;
      y = y < 0 ? 0 : y >= h ? h - 1 : y;
      const uint8_t *p = rgb + (size_t)y * (size_t)stride + (size_t)x * 3;
      float v = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
      lum[gy][gx] = v;
      sum += v;
      sum2 += (double)v * v;
    }
  double mean = sum / (G * G), var = sum2 / (G * G) - mean * mean;
  if (!(var > 1.0)) return FEM_BLURRED; /* a flat patch */
  double lap = 0.0;
  for (int y = 1; y < G - 1; y++)
    for (int x = 1; x < G - 1; x++)
      lap +=
          fabsf(4.0f * lum[y][x] - lum[y - 1][x] - lum[y + 1][x] - lum[y][x - 1] - lum[y][x + 1]);
  float q = (float)(lap / ((double)lap_n * lap_n) / sqrt(var));
  if (detail) *detail = q;
  return q < FEM_MIN_SHARP ? FEM_BLURRED : FEM_OK;
}
