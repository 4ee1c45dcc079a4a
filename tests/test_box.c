/* test_box.c: vision/box.h's IoU, the one the detector's NMS, the tracker and the video
 * pipeline share, on boxes whose overlap is worked out by hand in the comments, and the
 * detection wrappers of vision/blazeface.h agreeing with it. */
#include <math.h>

#include "harness.h"
#include "vision/blazeface.h"
#include "vision/box.h"

int main(void) {
  const float a[4] = {0, 0, 2, 2}, b[4] = {1, 1, 3, 3}; /* inter 1, union 4 + 4 - 1 */
  CHECK(fabsf(box_iou(a, b) - 1.0f / 7.0f) < 1e-7f, "half-offset squares: %g", box_iou(a, b));
  CHECK(box_iou(a, a) == 1.0f, "a box with itself");
  const float touch[4] = {2, 0, 4, 2}, empty[4] = {0.5f, 0.5f, 0.5f, 1.5f};
  CHECK(box_iou(a, touch) == 0.0f, "touching edges do not overlap");
  CHECK(box_iou(a, empty) == 0.0f, "zero-width box");
  const float nan_box[4] = {NAN, 0, 1, 1};
  CHECK(box_iou(a, nan_box) == 0.0f, "NaN coordinate");
  const float inner[4] = {0.5f, 0.5f, 1.5f, 1.5f}; /* inside a: 1 / 4 */
  CHECK(box_iou(a, inner) == 0.25f && box_iou(inner, a) == 0.25f, "nested, symmetric");
  float c[4];
  const float xywh[4] = {1, 1, 2, 2};
  box_from_xywh(xywh, c);
  CHECK(c[0] == 1 && c[1] == 1 && c[2] == 3 && c[3] == 3, "xywh to corners");
  bf_detection da = {.x0 = 0, .y0 = 0, .x1 = 2, .y1 = 2}, db = {.x0 = 1, .y0 = 1, .x1 = 3, .y1 = 3};
  CHECK(bf_iou(&da, &db) == box_iou(a, b), "bf_iou is box_iou");
  CHECK(bf_iou_xywh(xywh, &da) == box_iou(b, a), "bf_iou_xywh is box_iou");
  return th_finish("test_box");
}
