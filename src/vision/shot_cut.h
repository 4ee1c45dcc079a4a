/* shot_cut.h: shot-change detection for video: hard cuts (also between two dim, similar-looking
 * shots), dissolves and fades, from a coarse luma grid of each analysed frame. Deciding what a
 * cut means for the face tracks is left to the caller (pipeline/analyze_video.c).
 *
 * Each frame becomes a 32x18 grid of cell means (luma, 0..255: vision/frame_grid.h, the grid
 * the shot threading's colour layout is made from too). Between consecutive frames:
 *  - a hard cut is a large change of the grid (mean absolute difference > 35), or a change of
 *    its pattern that brightness does not explain: Pearson correlation of the two grids below
 *    0.5 with a mean absolute difference above 6 (dim shots differ by little in absolute
 *    luma, but their patterns do not correlate), or a difference five times the recent mean;
 *  - a dissolve or fade is a frame (C) whose grid differs from the one ~0.6 s earlier (A), with
 *    the grid between them (M) a blend of the two: M ~ a A + (1 - a) C with 0.15 < a < 0.85
 *    and a small residual (camera motion and people moving do not blend linearly); a fade is a
 *    dissolve from or to black. The cut is reported at C (the transition's end).
 *  - a frame whose change is a third of the hard-cut test's or more, without being a cut, is
 *    "suspect": the caller verifies identities there rather than trusting box overlap.
 * These are the classic pixel/histogram-difference and dissolve-linearity tests of the
 * shot-boundary literature (Lienhart, "Reliable transition detection in videos", 2001; the
 * adaptive threshold as in PySceneDetect's AdaptiveDetector). Thresholds were set on the
 * labelled cuts of tests/fixtures/identity (README "Identity on real video").
 * No allocation: the state is a fixed-size struct. */
#ifndef EMO_VISION_SHOT_CUT_H
#define EMO_VISION_SHOT_CUT_H

#include <stddef.h>
#include <stdint.h>

#include "vision/frame_grid.h"

#define SC_CELLS FG_CELLS
#define SC_HISTORY 48 /* grids kept for the dissolve test (at most ~2 s at 24 fps) */

typedef enum sc_kind { SC_NONE = 0, SC_SUSPECT, SC_HARD, SC_GRADUAL } sc_kind;

typedef struct sc_state {
  uint8_t grid[SC_HISTORY][SC_CELLS]; /* ring of recent grids, newest at head */
  double t[SC_HISTORY];
  int head, n;
  float recent_d[8]; /* mean absolute differences of the last frames (adaptive test) */
  int n_recent;
  double last_cut_t; /* time of the last cut reported (dissolves wait 1 s after one) */
  int have_cut;
} sc_state;

/* Forgets every frame. */
void sc_reset(sc_state *s);

/* Adds the frame at time t (its grid, fg_compute; t non-decreasing) and says whether the shot
 * changed there. *diff (may be NULL) receives the mean absolute grid difference from the
 * previous frame (0 for the first). Returns SC_NONE for the first frame or bad arguments (a
 * grid of no frame among them). */
sc_kind sc_push_grid(sc_state *s, const fg_grid *g, double t, float *diff);

/* sc_push_grid of the RGB frame (h rows of w*3 bytes, stride apart): computes its grid first. */
sc_kind sc_push(sc_state *s, const uint8_t *rgb, int w, int h, ptrdiff_t stride, double t,
                float *diff);

#endif
