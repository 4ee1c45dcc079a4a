/* face_expression.h: facial expression of one detected face: alignment (rotate by the eye
 * line, square crop with margin) and the expression networks, mapped to emo's 7 classes. */
#ifndef EMO_VISION_FACE_EXPRESSION_H
#define EMO_VISION_FACE_EXPRESSION_H

#include <stdint.h>

#include "core/err.h"
#include "emo.h"
#include "nn/nn.h"
#include "vision/blazeface.h"

typedef enum fe_net { FE_NET_FER = 0, FE_NET_FACEAPI = 1 } fe_net;

/* Runs network `net` (its plan) on face d of the image and writes 7 probabilities in emo's
 * class order (emo_expression) to probs. */
int fe_classify(fe_net net, nn_plan *plan, const uint8_t *rgb, int w, int h, int stride,
                const bf_detection *d, float probs[EMO_EXPR_COUNT], emoi_err *err);

#endif
