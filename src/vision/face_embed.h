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

/* Why a face gives no trustworthy descriptor (fem_quality). */
typedef enum fem_reject {
  FEM_OK = 0,
  FEM_TINY,    /* box side below FEM_MIN_SIDE pixels: the crop would be mostly upsampling */
  FEM_PROFILE, /* near profile (keypoint yaw or squeezed eyes): other people look alike there */
  FEM_BLURRED, /* too little detail (motion or focus blur) */
} fem_reject;

#define FEM_MIN_SIDE                                                    \
  56.0f /* least box side (pixels) for a descriptor: on the sitcom reel \
           faces of 41-49 px re-identified the wrong person at 0.68-0.73 */
#define FEM_MAX_YAW                                                   \
  0.9f /* largest |nose offset| along the eye line, in eye distances: \
           KDEF half profiles (45 deg) measure 0.4-0.7 */
#define FEM_MIN_EYES                                                                     \
  0.2f                      /* least eye distance / box width: frontal 0.42-0.47, 45 deg \
                               0.29-0.35, full profiles (90 deg) 0.04-0.14 (KDEF) */
#define FEM_MIN_SHARP 0.08f /* least detail measure (see fem_quality) */

/* Whether face d of the RGB image is fit for a descriptor: not tiny, not near profile, not
 * blurred. Detail: the mean absolute Laplacian of the box's luma (sampled on a 48x48 grid)
 * over its standard deviation; a sharp face scores about 0.2-0.6. *detail (may be NULL)
 * receives it. Allocates nothing; thread-safe. "No descriptor rather than a wrong one":
 * video re-identification asks this first (issue 11). */
fem_reject fem_quality(const uint8_t *rgb, int w, int h, ptrdiff_t stride, const bf_detection *d,
                       float *detail);

#define FEM_POOL_MIN_SIDE                                                                \
  36.0f /* least box side for a descriptor that is only averaged with others of the same \
           track (deferred re-identification, pipeline/tracker.h) */

/* fem_quality with another least box side (e.g. FEM_POOL_MIN_SIDE). */
fem_reject fem_quality_min(const uint8_t *rgb, int w, int h, ptrdiff_t stride,
                           const bf_detection *d, float min_side, float *detail);

/* Cosine similarity of two L2-normalised descriptors (their dot product), in [-1, 1].
 * Same person: typically 0.6-0.9; different people: typically below 0.5 (see the test). */
float fem_similarity(const float *a, const float *b);

#endif
