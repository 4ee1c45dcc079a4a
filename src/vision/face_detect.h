/* face_detect.h: one BlazeFace detector run over an RGB image: letterbox into the network
 * input, run the plan, decode, weighted NMS, map back to image pixels. */
#ifndef EMO_VISION_FACE_DETECT_H
#define EMO_VISION_FACE_DETECT_H

#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"
#include "vision/blazeface.h"

/* rgb: (h, w, 3) rows `stride` bytes apart. Writes up to cap detections (image pixels, sorted
 * by score) into out and returns their count, or a negative status. out must have room for
 * cfg->n_anchors candidates (it is also the decode scratch). */
int fd_detect(const nn_graph *g, nn_plan *plan, const bf_model_config *cfg,
              const bf_anchor *anchors, const uint8_t *rgb, int w, int h, int stride,
              float min_score, float iou_threshold, bf_detection *out, int cap, emoi_err *err);

#endif
