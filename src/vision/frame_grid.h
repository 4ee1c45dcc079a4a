/* frame_grid.h: the coarse colour grid of a video frame, computed once per analysed frame and
 * shared by the shot-cut detector (vision/shot_cut.h: the luma of each cell) and the colour
 * layout of shot threading (vision/frame_layout.h: 2 x 2 cells' mean colour, faces left out).
 * The frame becomes FG_W x FG_H cells, each the mean of 4 x 4 pixels sampled on a regular
 * lattice (9,216 pixel reads a frame, whatever its size). What the grids mean is left to those
 * two. No allocation. */
#ifndef EMO_VISION_FRAME_GRID_H
#define EMO_VISION_FRAME_GRID_H

#include <stddef.h>
#include <stdint.h>

#define FG_W 32
#define FG_H 18
#define FG_CELLS (FG_W * FG_H)

typedef struct fg_grid {
  uint8_t luma[FG_CELLS];   /* (FG_H, FG_W) mean luma (BT.601 weights), 0..255 */
  uint8_t rgb[FG_CELLS][3]; /* (FG_H, FG_W, 3) mean colour */
  int w, h;                 /* the frame's size in pixels; 0 x 0 = no frame (bad arguments) */
} fg_grid;

/* Describes the RGB frame (h rows of w*3 bytes, stride apart) into *out. Bad arguments (NULL,
 * w or h <= 0, a short stride) give w = h = 0 and a zero grid. */
void fg_compute(const uint8_t *rgb, int w, int h, ptrdiff_t stride, fg_grid *out);

#endif
