/* face_expression.c: see face_expression.h.
 *
 * Alignment: by default the crop is a square centred on the detector's box, side = margin *
 * the box's longer side, rotated so that the line from the right eye to the left eye (BlazeFace
 * keypoints 0 and 1) is horizontal. The margin follows what each network was trained on:
 * FER-2013 faces are tight crops (1.1 x BlazeFace's box, which is itself tight: brows to
 * chin); face-api's expression net sees its own detectors' boxes, which include forehead
 * and chin margin (about 1.3 x BlazeFace's).
 *
 * Landmark alignment (emo_run_params.landmark_crops, when the face mesh ran): eye centres E_r, E_l
 * (mean of each eye's two corners, MediaPipe mesh points 33/133 and 362/263), mouth centre M (mean
 * of corners 61/291 and inner lip midpoints 13/14), eye midpoint E. The angle is that of E_r ->
 * E_l; with s = (|E_l - E_r| + the distance of M from the eye line) / 2 the crop's centre is E +
 * FE_LM_CENTRE * s along the face's downward axis and its size FE_LM_SIZE * s. The two constants
 * are the means over KDEF's 700 frontal photos of BlazeFace's box centre and longer side in that
 * frame (sd 0.05 and 0.09 of s), so the networks see the framing they were tuned for; what changes
 * is that it follows the face's own points rather than the detector's six keypoints
 * (dev/align_kdef.py measures both: better on KDEF, worse on the Taiwanese set, so it is not the
 * default). The measure of scale averages a horizontal and a vertical distance so that neither a
 * head turn nor an open mouth alone moves it much. This is the usual eyes-and-mouth similarity
 * alignment of face analysis (e.g. the five-point alignment of SphereFace/ArcFace), here with three
 * points.
 *
 * Networks and their inputs:
 *  - FER: oarriaga mini-Xception as shipped by human (emotion.json): 64x64x1, gray
 *    g = 0.2989 R + 0.5870 G + 0.1140 B with R, G, B in [0, 1], then (g - 0.5) * 2; output
 *    softmax in emo's order (angry disgust fear happy sad surprise neutral).
 *  - face-api face_expression_model: 112x112x3 RGB; the normalisation is part of the graph
 *    built by vision/faceapi_expression_net.c, which takes RGB in [0, 255]; output order neutral
 * happy sad angry fearful disgusted surprised, remapped here. */
#include "vision/face_expression.h"

#include <math.h>

#include "vision/image_ops.h"

#define FE_MARGIN_FER 1.1f
#define FE_MARGIN_FACEAPI 1.3f
#define FE_LM_CENTRE 0.562f
#define FE_LM_SIZE 2.424f

void fe_align_from_detection(const bf_detection *d, fe_align *a) {
  float bw = d->x1 - d->x0, bh = d->y1 - d->y0;
  a->cx = 0.5f * (d->x0 + d->x1);
  a->cy = 0.5f * (d->y0 + d->y1);
  a->size = bw > bh ? bw : bh;
  a->angle = atan2f(d->kp[1][1] - d->kp[0][1], d->kp[1][0] - d->kp[0][0]);
}

int fe_align_from_landmarks(const float (*lm)[3], fe_align *a) {
  float rx = 0.5f * (lm[33][0] + lm[133][0]), ry = 0.5f * (lm[33][1] + lm[133][1]);
  float lx = 0.5f * (lm[362][0] + lm[263][0]), ly = 0.5f * (lm[362][1] + lm[263][1]);
  float mx = 0.25f * (lm[61][0] + lm[291][0] + lm[13][0] + lm[14][0]);
  float my = 0.25f * (lm[61][1] + lm[291][1] + lm[13][1] + lm[14][1]);
  float ex = 0.5f * (rx + lx), ey = 0.5f * (ry + ly);
  float dx = lx - rx, dy = ly - ry, de = sqrtf(dx * dx + dy * dy);
  if (!(de > 1e-3f) || !isfinite(de)) return EMO_EINVAL;
  float ux = dx / de, uy = dy / de, vx = -uy, vy = ux; /* v: the face's downward axis */
  float dm = (mx - ex) * vx + (my - ey) * vy;
  float s = 0.5f * (de + dm);
  if (!(s > 1e-3f) || !isfinite(s)) return EMO_EINVAL;
  a->cx = ex + FE_LM_CENTRE * s * vx;
  a->cy = ey + FE_LM_CENTRE * s * vy;
  a->size = FE_LM_SIZE * s;
  a->angle = atan2f(dy, dx);
  return EMO_OK;
}

static const int faceapi_to_emo[EMO_EXPR_COUNT] = {
    EMO_EXPR_NEUTRAL, EMO_EXPR_HAPPY,   EMO_EXPR_SAD,     EMO_EXPR_ANGRY,
    EMO_EXPR_FEAR,    EMO_EXPR_DISGUST, EMO_EXPR_SURPRISE};

int fe_classify(fe_net net, nn_plan *plan, const uint8_t *rgb, int w, int h, int stride,
                const fe_align *a, float probs[EMO_EXPR_COUNT], emoi_err *err) {
  float side = (net == FE_NET_FER ? FE_MARGIN_FER : FE_MARGIN_FACEAPI) * a->size;
  int n = net == FE_NET_FER ? 64 : 112;
  float m[6];
  img_affine_rotated_square(m, a->cx, a->cy, a->angle, side, n);
  img_view view = {rgb, w, h, stride};
  /* FER: gray in [0, 255] -> (g / 255 - 0.5) * 2; face-api: RGB in [0, 255] as is. */
  img_norm norm =
      net == FE_NET_FER ? img_norm_uniform(2.0f / 255.0f, -1.0f) : img_norm_uniform(1.0f, 0.0f);
  if (net == FE_NET_FER)
    for (int k = 0; k < 3; k++) norm.gray[k] = img_gray_tfjs[k];
  /* the crop warp's gray fast path under the plan's isa cap */
  if (img_warp_affine_f32_isa(&view, m, nn_plan_input(plan, 0), n, n, net == FE_NET_FER ? 1 : 3,
                              &norm, IMG_BORDER_REPLICATE, (emo_isa)nn_plan_isa(plan)) != 0)
    return emoi_fail(err, EMO_EINVAL, "face crop failed");
  int rc = nn_plan_run(plan, err);
  if (rc != EMO_OK) return rc;
  const float *o = nn_plan_output(plan, 0);
  float sum = 0.0f;
  for (int k = 0; k < EMO_EXPR_COUNT; k++) {
    float v = o[k];
    if (!(v >= 0.0f)) v = 0.0f; /* NaN or negative: treat as 0 */
    probs[net == FE_NET_FER ? k : faceapi_to_emo[k]] = v;
    sum += v;
  }
  if (sum > 0.0f)
    for (int k = 0; k < EMO_EXPR_COUNT; k++) probs[k] /= sum;
  return EMO_OK;
}
