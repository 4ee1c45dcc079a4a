/* optical_flow.h: sparse optical flow for moving face boxes between detections in video.
 *
 * Two layers:
 *   - of_lk_track: pyramidal Lucas-Kanade point tracking, after J.-Y. Bouguet, "Pyramidal
 *     Implementation of the Lucas Kanade Feature Tracker" (Intel, 2000): per level, a
 *     translational LK (Newton) iteration on a (2*win+1)^2 window, the guess propagated from
 *     the coarser level (g_{L-1} = 2 (g_L + d_L)), bilinear sub-pixel sampling, Scharr
 *     gradients of the previous frame's window.
 *   - of_track_box: the Median Flow box tracker of Z. Kalal, K. Mikolajczyk, J. Matas,
 *     "Forward-Backward Error: Automatic Detection of Tracking Failures" (ICPR 2010), as used
 *     in TLD: a grid of points in the box, tracked forward and backward, points with a large
 *     forward-backward (FB) error or a poor NCC match dropped, translation and scale taken as
 *     medians.
 *
 * Images: an of_pyramid holds a gray float copy of an RGB24 frame downscaled by an integer
 * factor k (area average) so that its longer side is <= max_side, plus coarser levels
 * ([1 2 1]/4 blur + 2x decimation; level L+1 pixel x sits on level L pixel 2x). Point
 * coordinates given to of_lk_track are level-0 pixel coordinates with pixel centres on
 * integers; boxes given to of_track_box are frame pixels with pixel i covering [i, i+1).
 *
 * Left to the caller: keeping two pyramids and swapping them per frame, deciding when to
 * re-detect (confidence), and threading (functions are reentrant; a pyramid must not be
 * rebuilt while another thread tracks on it). Nothing here prints or allocates per call,
 * except of_pyramid_build when the frame grows. */
#ifndef EMO_VISION_OPTICAL_FLOW_H
#define EMO_VISION_OPTICAL_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "emo.h"

#define OF_MAX_LEVELS 5
#define OF_MAX_WIN 15   /* largest window radius accepted by of_lk_track */
#define OF_GRID 10      /* of_track_box tracks an OF_GRID x OF_GRID grid of points */
#define OF_BOX_WIN 7    /* window radius used by of_track_box (15x15) */
#define OF_BOX_ITERS 10 /* LK iterations per level used by of_track_box */

typedef struct of_pyramid of_pyramid; /* opaque */

/* Allocates an empty pyramid (*out; owned by the caller, of_pyramid_destroy). Buffers are
 * sized by the first of_pyramid_build. Returns EMO_OK, EMO_EINVAL (out NULL) or
 * EMO_ENOMEM. */
int of_pyramid_create(of_pyramid **out, emoi_err *err);

/* Frees *p and sets it to NULL; NULL or *p NULL is fine. */
void of_pyramid_destroy(of_pyramid **p);

/* Rebuilds p from an RGB24 frame (height rows of width*3 bytes, rows stride bytes apart):
 * gray (BT.601 luma, 0..255 floats), area downscale by the integer k = ceil(max(w,h) /
 * max_side) (k = 1 when the frame already fits), then up to `levels` levels (fewer when a
 * level would be smaller than 8 px on a side). Allocates only when the frame (or levels)
 * needs more memory than any earlier build. Returns EMO_OK, EMO_EINVAL (NULL, width or height
 * < 1 or > 32768, stride < 3*width, max_side < 16, levels outside 1..OF_MAX_LEVELS) or
 * EMO_ENOMEM, with a message in err. On failure p holds no valid image (tracking on it
 * returns EMO_EINVAL). */
int of_pyramid_build(of_pyramid *p, const uint8_t *rgb, int width, int height, ptrdiff_t stride,
                     int max_side, int levels, emoi_err *err);

/* Same from a gray image already downscaled by the integer k (the decoder's luma, see
 * media/video_decode.h: gray_w = frame width / k, gray_h = frame height / k, pixel i covering
 * frame pixels [k i, k (i + 1)), full range 0..255) of a width x height frame. The pyramid is
 * the one of_pyramid_build would make with a max_side giving the same k, up to the
 * difference between the gray image's and BT.601 luma of the RGB frame. Returns EMO_OK,
 * EMO_EINVAL (NULL, k < 1, sizes that do not match width / k, height / k, gray_stride <
 * gray_w, levels outside 1..OF_MAX_LEVELS) or EMO_ENOMEM. */
int of_pyramid_build_gray(of_pyramid *p, const uint8_t *gray, int gray_w, int gray_h,
                          ptrdiff_t gray_stride, int k, int width, int height, int levels,
                          emoi_err *err);

/* Caps the instruction-set path (emo.h's emo_isa) of this pyramid's gray downscale and of the
 * point solver when it is the previous frame of a track; returns the path taken
 * (emo_isa_pick). A new pyramid has the best this CPU has. All paths are bit-identical. */
emo_isa of_pyramid_set_isa(of_pyramid *p, emo_isa cap);

/* Geometry of a built pyramid (any pointer may be NULL): level-0 size, number of levels and
 * the frame-pixels-per-level-0-pixel factor k. Returns EMO_OK or EMO_EINVAL (not built). */
int of_pyramid_info(const of_pyramid *p, int *w0, int *h0, int *levels, float *scale);

typedef struct of_box_result {
  float box[4];         /* new x, y, w, h in frame pixels (the input box when nothing moved) */
  int n_points, n_good; /* grid points inside the frame and tracked / points that passed the
                           checks: LK converged both ways, FB error <= OF_FB_CAP, NCC >=
                           OF_NCC_MIN. Motion is estimated from the good points whose FB error
                           is <= the median and NCC >= the median of the good ones (TLD). */
  float fb_median;      /* median FB error of the good points (level-0 pixels); -1 if none */
  float confidence;     /* 0..1: (n_good / n_points) * 1 / (1 + (fb_median / 0.5)^2), times
                           min(1, n_points / 25) so a box mostly outside the frame is weak.
                           The caller re-detects when it is low (e.g. < 0.5). */
  float dx, dy, scale;  /* motion of the box centre in frame pixels; size ratio next/prev */
} of_box_result;

#define OF_FB_CAP 2.0f  /* absolute FB error cap, level-0 pixels */
#define OF_NCC_MIN 0.3f /* minimum normalized cross-correlation of the 15x15 windows */

/* Tracks box (x, y, w, h in frame pixels) from prev to next (built from frames of the same
 * size with the same max_side; levels = the smaller of the two): Median Flow as described
 * above. Scale = median over pairs of good points of (distance in next / distance in prev);
 * translation = median over good points of the centre displacement each implies given that
 * scale. Speed: 5 probe points go through the whole pyramid and their median motion seeds
 * the grid, which then uses only the 2 finest levels (both directions); without a usable
 * probe every point runs the whole pyramid from zero. Uses only stack memory. Returns EMO_OK (low
 * confidence is still EMO_OK: *out then holds the best estimate, or the unchanged box with
 * confidence 0), or EMO_EINVAL on NULL arguments, unbuilt or mismatched pyramids, or a non-finite
 * or non-positive-size box. */
int of_track_box(const of_pyramid *prev, const of_pyramid *next, const float box[4],
                 of_box_result *out);

/* Tracks n points pts (n, 2) (level-0 pixel coordinates) from prev to next with pyramidal
 * LK; writes out (n, 2) and status (n): 1 when the point converged to a location inside the
 * image on every level, 0 when the window was too flat (smallest eigenvalue of the gradient
 * matrix too small), the point left the image, or the numbers went non-finite (out then
 * holds the input point). win is the window radius (1..OF_MAX_WIN; 7 gives 15x15), max_iter
 * the iterations per level (1..100; stops earlier once the update is < 0.01 px). Returns
 * EMO_OK or EMO_EINVAL (bad arguments, n < 0, unbuilt or mismatched pyramids). */
int of_lk_track(const of_pyramid *prev, const of_pyramid *next, const float *pts, float *out,
                uint8_t *status, int n, int win, int max_iter);

#endif
