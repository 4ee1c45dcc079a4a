/* face_expression.h: facial expression of one detected face: alignment (rotate by the eye
 * line, square crop with margin; from the detector's keypoints or from the face mesh) and the
 * expression networks, mapped to emo's 7 classes. */
#ifndef EMO_VISION_FACE_EXPRESSION_H
#define EMO_VISION_FACE_EXPRESSION_H

#include <stdint.h>

#include "core/err.h"
#include "emo.h"
#include "nn/nn.h"
#include "vision/blazeface.h"

typedef enum fe_net { FE_NET_FER = 0, FE_NET_FACEAPI = 1 } fe_net;

/* Where a face's crop is cut: its centre (image pixels), the angle of the line from the right
 * eye to the left eye (radians) and the longer side of the detector's box it stands for
 * (pixels); each network adds its own margin to that size. */
typedef struct fe_align {
  float cx, cy, angle, size;
} fe_align;

/* The crop from the detector: the box's centre and longer side, the angle of keypoints 0-1. */
void fe_align_from_detection(const bf_detection *d, fe_align *a);

/* The crop from the face mesh (lm: 468 or 478 points, x and y in image pixels): a similarity
 * transform from the eye centres and the mouth centre, scaled so that on KDEF's frontal photos
 * it frames the face as the detector's box does on average (see face_expression.c). Returns
 * EMO_EINVAL (a unchanged) when the points are degenerate. */
int fe_align_from_landmarks(const float (*lm)[3], fe_align *a);

/* Runs network `net` (its plan) on the face cut at a and writes 7 probabilities in emo's class
 * order (emo_expression) to probs. */
int fe_classify(fe_net net, nn_plan *plan, const uint8_t *rgb, int w, int h, int stride,
                const fe_align *a, float probs[EMO_EXPR_COUNT], emoi_err *err);

#endif
