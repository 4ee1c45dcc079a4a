/* frame_layout.h: a small colour-layout descriptor of a video frame, to tell whether two shots
 * come from the same camera setup (shot threading: shot / reverse-shot editing returns to the
 * same framing again and again). The frame's shared colour grid (vision/frame_grid.h, also the
 * shot-cut detector's) becomes a FL_W x FL_H grid of mean RGB colours, 2 x 2 of its cells each;
 * the caller's face boxes (enlarged) are left out, since the
 * people in front change expression and pose while the room behind them stays. Two
 * descriptors are compared over the cells both have, at the best of small shifts (a camera that
 * panned a little), by the median absolute colour difference and by the correlation of their
 * colour patterns. The thumbnail comparison of
 * shot threading in Everingham, Sivic & Zisserman ("Hello! My name is... Buffy", BMVC 2006)
 * and Tapaswi et al. ("Knock! Knock! Who is it?", CVPR 2012) works the same way. What a match
 * means for the tracks is left to pipeline/track_cluster.c. No allocation. */
#ifndef EMO_VISION_FRAME_LAYOUT_H
#define EMO_VISION_FRAME_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "vision/frame_grid.h"

#define FL_W (FG_W / 2)
#define FL_H (FG_H / 2)
#define FL_CELLS (FL_W * FL_H)

typedef struct fl_desc {
  float rgb[FL_CELLS][3];  /* (FL_H, FL_W, 3) mean colour of each cell, 0..255 */
  uint8_t valid[FL_CELLS]; /* 1: at least half of the cell's grid cells were outside faces */
  int n_valid;
} fl_desc;

/* Describes a frame from its grid (fg_compute) into *out, leaving out the grid cells whose
 * centre lies in one of the n face boxes (x, y, width, height in the frame's pixels; enlarged
 * by half their size on every side). A frame too small (under FG_W x FG_H pixels: its grid
 * cells repeat pixels) or bad arguments give n_valid = 0. About 2,300 operations plus 576 per
 * face: no pixel is read. */
void fl_describe(const fg_grid *g, const float (*boxes)[4], int n, fl_desc *out);

/* Distance between two descriptors, 0..255: the median over the cells valid in both of the
 * mean absolute RGB difference, the smallest over shifts of up to one cell in x and y. Returns
 * a negative value when fewer than a third of the cells can be compared. */
float fl_distance(const fl_desc *a, const fl_desc *b);

#define FL_BINS 64 /* clothing histogram: 4 brightness x 16 chromaticity bins */

/* Colour histogram (FL_BINS, summing to 1) of the clothes under a face box (x, y, width,
 * height): the region 1.5 box widths wide, from 0.25 to 1.75 box heights below the box, sampled
 * on a 12 x 12 lattice (the clothing descriptor of Everingham et al., "Hello! My name is...
 * Buffy", BMVC 2006). Returns 1, or 0 (hist untouched) when less than half the region lies in
 * the frame. */
int fl_clothes(const uint8_t *rgb, int w, int h, ptrdiff_t stride, const float box[4],
               float hist[FL_BINS]);

/* Bhattacharyya coefficient of two histograms summing to 1: 1 = the same, 0 = disjoint. */
float fl_bhattacharyya(const float *a, const float *b, int n);

/* Pearson correlation, -1..1, of the two descriptors' colours over the cells valid in both
 * (each channel centred on its mean over those cells), the largest over the same shifts: the
 * layout's pattern whatever the exposure, what tells two setups of one dim room apart. Returns
 * -2 when fewer than a third of the cells can be compared or either is flat. */
float fl_correlation(const fl_desc *a, const fl_desc *b);

#endif
