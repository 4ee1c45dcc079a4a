/* face_mesh.h: MediaPipe's Face Landmarker on one face: reading the .task bundle (a zip of the
 * landmark network, the blendshape network and the geometry metadata; its face detector is not
 * used: emo's BlazeFace runs are the same network), the region of interest from the detector's
 * box and eye keypoints or from the previous frame's landmarks, the 478-point landmark network,
 * and the 52 blendshapes. Each step follows the task graphs of MediaPipe Tasks (face_landmarker:
 * face_detector_graph.cc, face_landmarks_detector_graph.cc, face_blendshapes_graph.cc) and the
 * calculators they configure (DetectionsToRects, RectTransformation, ImageToTensor with
 * keep_aspect_ratio and a zero border, TensorsToLandmarks, LandmarkLetterboxRemoval,
 * LandmarkProjection, LandmarksToTensor). Paper: Kartynnik et al., "Real-time Facial Surface
 * Geometry from Monocular Video on Mobile GPUs", arXiv:1907.06724; Grishchenko et al.,
 * "Blendshapes GHUM: Real-time Monocular Facial Blendshape Prediction", arXiv:2309.05782.
 *
 * Leaves to others: head pose (vision/face_geometry.c), action units (vision/face_aus.c),
 * model files and caches (core/). */
#ifndef EMO_VISION_FACE_MESH_H
#define EMO_VISION_FACE_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "emo.h"
#include "nn/nn.h"
#include "vision/blazeface.h"
#include "vision/face_geometry.h"

#define FM_LANDMARKS 478
#define FM_BLENDSHAPES 52
#define FM_BLEND_INPUTS 146
#define FM_MAX_ENTRY_BYTES ((size_t)64 << 20) /* largest member of a bundle read */

typedef struct fm_bundle {
  nn_graph *mesh;  /* (1, 256, 256, 3) RGB in [0, 1] -> (1434) landmarks, (1) presence logit */
  nn_graph *blend; /* (1, 146, 2) landmark pixels -> (52); NULL when emo cannot run it */
  char blend_error[512]; /* why blend is NULL */
  fg_metadata geometry;
  int mesh_size; /* the landmark network's input side (256) */
} fm_bundle;

/* Reads the bundle in data[0..size) (borrowed during the call). label names the file in every
 * message (its path). Every member is read with a FM_MAX_ENTRY_BYTES cap (core/zip.h stops a
 * zip bomb there), the networks by nn/tflite_reader.c, the geometry by fg_metadata_parse.
 * EMO_EMODEL naming the member when one is missing or malformed. */
int fm_bundle_load(const unsigned char *data, size_t size, const char *label, fm_bundle **out,
                   emoi_err *err);
void fm_bundle_destroy(fm_bundle **b);

/* A rotated rectangle in normalised image coordinates (MediaPipe's NormalizedRect). */
typedef struct fm_roi {
  float cx, cy, w, h; /* centre and size, fractions of the image width / height */
  float angle;        /* radians, clockwise in the image (y down) */
} fm_roi;

/* The landmark network's region for a detection d (image pixels): the box scaled by 1.5 about
 * its centre, rotated by the eye line (keypoints 0 -> 1). */
void fm_roi_from_detection(const bf_detection *d, int w, int h, fm_roi *r);

/* The region for the next frame from landmarks lm (normalised, FM_LANDMARKS): the landmarks'
 * bounding box, rotated by the line from point 33 to point 263, scaled by 1.5, square. */
void fm_roi_from_landmarks(const float (*lm)[3], int w, int h, fm_roi *r);

/* The landmark network's input for roi: dst (n, n, 3) RGB in [0, 1] (n = b->mesh_size), cut as
 * MediaPipe's ImageToTensor does (rotated square about the region, zero border), with the warp's
 * fast path allowed up to cap (emo.h; the output is the same on every path). fm_landmarks does
 * this into its plan's input; exposed for bench_face_details. */
int fm_crop(const fm_bundle *b, const uint8_t *rgb, int w, int h, int stride, const fm_roi *roi,
            emo_isa cap, float *dst, emoi_err *err);

/* Runs the landmark network (plan of b->mesh) on roi of the image (rgb rows `stride` bytes
 * apart) and writes FM_LANDMARKS landmarks, normalised as MediaPipe's NormalizedLandmark (x, y
 * fractions of the image, z in units of the image width, smaller = nearer), and the presence
 * probability. */
int fm_landmarks(const fm_bundle *b, nn_plan *plan, const uint8_t *rgb, int w, int h, int stride,
                 const fm_roi *roi, float (*lm)[3], float *presence, emoi_err *err);

/* Runs the blendshape network (plan of b->blend) on landmarks lm of an image of w x h pixels:
 * 52 coefficients in [0, 1], in MediaPipe's order (fm_blendshape_names). */
int fm_blendshapes(const fm_bundle *b, nn_plan *plan, const float (*lm)[3], int w, int h,
                   float out[FM_BLENDSHAPES], emoi_err *err);

extern const char *const fm_blendshape_names[FM_BLENDSHAPES];

#endif
