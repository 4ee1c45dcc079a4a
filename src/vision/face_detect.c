/* face_detect.c: runs a BlazeFace detector (see face_detect.h). Preprocessing follows
 * MediaPipe's ImageToTensorCalculator with keep_aspect_ratio: the image is scaled to fit the
 * square input, centred, padded with black (which normalises to -1), bilinear sampling,
 * values mapped to [-1, 1]. Detections are mapped back by undoing the letterbox
 * (DetectionLetterboxRemovalCalculator) and scaling to pixels. */
#include "vision/face_detect.h"

#include "vision/image_ops.h"

/* Index of the graph output whose last dimension is `last` (16 for regressors, 1 for
 * scores), or -1. */
static int find_output(const nn_graph *g, int64_t last, int64_t n_anchors) {
  for (int i = 0; i < g->n_outputs; i++) {
    const nn_value *v = &g->values[g->outputs[i]];
    if (v->rank >= 2 && v->shape[v->rank - 1] == last && nn_value_numel(v) == n_anchors * last)
      return i;
  }
  return -1;
}

int fd_detect(const nn_graph *g, nn_plan *plan, const bf_model_config *cfg,
              const bf_anchor *anchors, const uint8_t *rgb, int w, int h, int stride,
              float min_score, float iou_threshold, bf_detection *out, int cap, emoi_err *err) {
  const int S = cfg->input_size;
  int ri = find_output(g, 16, cfg->n_anchors), si = find_output(g, 1, cfg->n_anchors);
  if (g->n_inputs != 1 || ri < 0 || si < 0)
    return emoi_fail(err, EMO_EMODEL, "%s: not a BlazeFace model with %d anchors", g->source,
                     cfg->n_anchors);
  const nn_value *in = &g->values[g->inputs[0]];
  if (in->rank != 4 || in->shape[1] != S || in->shape[2] != S || in->shape[3] != 3)
    return emoi_fail(err, EMO_EMODEL, "%s: input is not 1x%dx%dx3", g->source, S, S);

  img_view view = {rgb, w, h, stride};
  img_norm norm = img_norm_range(-1.0f, 1.0f);
  img_letterbox lb;
  if (img_letterbox_f32(&view, nn_plan_input(plan, 0), S, S, &norm, &lb,
                        (emo_isa)nn_plan_isa(plan)) != 0)
    return emoi_fail(err, EMO_EINVAL, "letterbox of a %dx%d image failed", w, h);
  int rc = nn_plan_run(plan, err);
  if (rc != EMO_OK) return rc;
  int n = bf_decode(cfg, anchors, nn_plan_output(plan, ri), nn_plan_output(plan, si), min_score,
                    out, cfg->n_anchors);
  n = bf_weighted_nms(out, n, iou_threshold, cap);
  /* Back to image pixels (undoes the letterbox). */
  for (int i = 0; i < n; i++) {
    bf_detection *d = &out[i];
    img_letterbox_to_image(&lb, d->x0, d->y0, &d->x0, &d->y0);
    img_letterbox_to_image(&lb, d->x1, d->y1, &d->x1, &d->y1);
    for (int k = 0; k < BF_KEYPOINTS; k++)
      img_letterbox_to_image(&lb, d->kp[k][0], d->kp[k][1], &d->kp[k][0], &d->kp[k][1]);
  }
  return n;
}
