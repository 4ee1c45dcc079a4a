/* face_expression.c: see face_expression.h.
 *
 * Alignment: the crop is a square centred on the detector's box, side = margin * the box's
 * longer side, rotated so that the line from the right eye to the left eye (BlazeFace
 * keypoints 0 and 1) is horizontal. The margin follows what each network was trained on:
 * FER-2013 faces are tight crops (1.1 x BlazeFace's box, which is itself tight: brows to
 * chin); face-api's expression net sees its own detectors' boxes, which include forehead
 * and chin margin (about 1.3 x BlazeFace's).
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

static const int faceapi_to_emo[EMO_EXPR_COUNT] = {
    EMO_EXPR_NEUTRAL, EMO_EXPR_HAPPY,   EMO_EXPR_SAD,     EMO_EXPR_ANGRY,
    EMO_EXPR_FEAR,    EMO_EXPR_DISGUST, EMO_EXPR_SURPRISE};

int fe_classify(fe_net net, nn_plan *plan, const uint8_t *rgb, int w, int h, int stride,
                const bf_detection *d, float probs[EMO_EXPR_COUNT], emoi_err *err) {
  float cx = 0.5f * (d->x0 + d->x1), cy = 0.5f * (d->y0 + d->y1);
  float bw = d->x1 - d->x0, bh = d->y1 - d->y0;
  float side = (net == FE_NET_FER ? FE_MARGIN_FER : FE_MARGIN_FACEAPI) * (bw > bh ? bw : bh);
  float angle = atan2f(d->kp[1][1] - d->kp[0][1], d->kp[1][0] - d->kp[0][0]);
  int n = net == FE_NET_FER ? 64 : 112;
  float m[6];
  img_affine_rotated_square(m, cx, cy, angle, side, n);
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
