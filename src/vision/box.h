/* box.h: axis-aligned boxes, the one intersection-over-union every stage uses (the
 * detector's NMS, the tracker's matching, the video pipeline's birth filter). Boxes are in
 * corner form (x0, y0, x1, y1) with x0 <= x1, y0 <= y1; the public API's (x, y, width,
 * height) form converts with box_from_xywh. Coordinates may be pixels or normalised: IoU does
 * not care. */
#ifndef EMO_VISION_BOX_H
#define EMO_VISION_BOX_H

#include <math.h>

/* Corners (x0, y0, x1, y1) of an (x, y, width, height) box. */
static inline void box_from_xywh(const float xywh[4], float out[4]) {
  out[0] = xywh[0];
  out[1] = xywh[1];
  out[2] = xywh[0] + xywh[2];
  out[3] = xywh[1] + xywh[3];
}

/* Intersection over union of two corner-form boxes, in [0, 1]: 0 when they do not overlap,
 * when either is empty, or when a coordinate is NaN. */
static inline float box_iou(const float a[4], const float b[4]) {
  float ix0 = fmaxf(a[0], b[0]), iy0 = fmaxf(a[1], b[1]);
  float ix1 = fminf(a[2], b[2]), iy1 = fminf(a[3], b[3]);
  float iw = ix1 - ix0, ih = iy1 - iy0;
  if (!(iw > 0.0f) || !(ih > 0.0f)) return 0.0f;
  float inter = iw * ih;
  float uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

#endif
