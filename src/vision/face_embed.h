/* face_embed.h: a face's identity descriptor (embedding) for re-identification in video,
 * from @vladmandic/human's "description" model faceres (HSE-FaceRes, Savchenko; a
 * MobileNet-style network with gender, age and a 1024-d descriptor head). The crop (box
 * enlarged 1.4x, squared, rotated by the eye line) and the input (224x224 RGB in 0..255)
 * follow human's src/face/faceres.ts and its face pipeline. Loading the graph and making
 * the plan are left to the caller (nn_tfjs_load on faceres.json, nn_plan_create). */
#ifndef EMO_VISION_FACE_EMBED_H
#define EMO_VISION_FACE_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"
#include "vision/blazeface.h"

#define FEM_DIM 1024  /* descriptor length (faceres 'global_pooling/Mean') */
#define FEM_INPUT 224 /* network input side */

/* Computes the descriptor of face d (box and keypoints in image pixels) of the RGB image
 * (h rows of w*3 bytes, stride bytes apart; borrowed) with the plan of the faceres graph g
 * (g is the graph the plan was made from; its 1024-wide output is found by shape), and
 * writes it L2-normalised to out (FEM_DIM floats). Allocates nothing.
 * Returns EMO_OK; EMO_EINVAL (NULL or empty arguments, a graph without a (1,224,224,3)
 * input or a 1024-wide output, a degenerate box); EMO_EINTERNAL (the network produced a
 * zero or non-finite descriptor); or an error of nn_plan_run. Not thread-safe on one plan. */
int fem_embed(nn_plan *plan, const nn_graph *g, const uint8_t *rgb, int w, int h, ptrdiff_t stride,
              const bf_detection *d, float *out, emoi_err *err);

/* Cosine similarity of two L2-normalised descriptors (their dot product), in [-1, 1].
 * Same person: typically 0.6-0.9; different people: typically below 0.5 (see the test). */
float fem_similarity(const float *a, const float *b);

#endif
