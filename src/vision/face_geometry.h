/* face_geometry.h: head pose from face-mesh landmarks, following MediaPipe's face geometry
 * pipeline (mediapipe/modules/face_geometry: geometry_pipeline.cc, procrustes_solver.cc): the
 * canonical face mesh and the weighted landmark basis come from the bundle's
 * geometry_pipeline_metadata_landmarks.binarypb; screen landmarks are lifted into metric space
 * under a perspective camera (vertical field of view 63 degrees, near plane 1, origin at the top
 * left, MediaPipe's face landmarker environment) in two scale-estimation passes, and the
 * canonical face is fitted to them by weighted orthogonal Procrustes with scale (Umeyama's
 * solution, Gower & Dijksterhuis, "Procrustes Problems", 2004, sections 4.6 and 7).
 *
 * What it leaves to others: running the landmark network (vision/face_mesh.c), reading the zip
 * bundle (vision/face_mesh.c with core/zip.h). */
#ifndef EMO_VISION_FACE_GEOMETRY_H
#define EMO_VISION_FACE_GEOMETRY_H

#include <stddef.h>

#include "core/err.h"
#include "emo.h"

#define FG_MESH_POINTS 468 /* canonical mesh vertices = the mesh landmarks without the iris */
#define FG_MAX_BASIS 468
#define FG_VFOV_DEGREES 63.0
#define FG_NEAR 1.0

typedef struct fg_metadata {
  float canonical[FG_MESH_POINTS][3]; /* canonical face, cm (x right, y up, z to the viewer) */
  float weight[FG_MESH_POINTS];       /* Procrustes weight of each landmark (0 = unused) */
  int n_basis;                        /* landmarks with a non-zero weight */
} fg_metadata;

/* Parses the GeometryPipelineMetadata protobuf (wire format, bounds-checked: a Mesh3d with
 * VERTEX_PT vertices, 5 floats each, and WeightedLandmarkRef entries) in data[0..size) into *m.
 * label names the file in messages. EMO_EMODEL when malformed or not 468 vertices, or when a
 * basis landmark id is out of range. Never reads outside the buffer. */
int fg_metadata_parse(const unsigned char *data, size_t size, const char *label, fg_metadata *m,
                      emoi_err *err);

/* Fits the canonical face to landmarks lm (FG_MESH_POINTS or more points; x, y normalised to
 * [0, 1] of an image of w x h pixels, z in the same scale as x, as MediaPipe's
 * NormalizedLandmark) and fills *pose. Returns EMO_OK, or EMO_EINVAL when the landmarks are
 * degenerate (all within 1e-3 of their mean, MediaPipe's "too compact" rule, or no fit). */
int fg_estimate_pose(const fg_metadata *m, const float (*lm)[3], int w, int h, emo_head_pose *pose);

#endif
