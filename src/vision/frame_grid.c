/* frame_grid.c: the shared per-frame colour grid (frame_grid.h). */
#include "vision/frame_grid.h"

#include <string.h>

void fg_compute(const uint8_t *rgb, int w, int h, ptrdiff_t stride, fg_grid *out) {
  if (!out) return;
  if (!rgb || w <= 0 || h <= 0 || stride < 3 * (ptrdiff_t)w) {
    memset(out, 0, sizeof *out);
    return;
  }
  out->w = w;
  out->h = h;
  for (int gy = 0; gy < FG_H; gy++)
    for (int gx = 0; gx < FG_W; gx++) {
      int sum = 0, sr = 0, sg = 0, sb = 0;
      for (int sy = 0; sy < 4; sy++)
        for (int sx = 0; sx < 4; sx++) {
          long x = ((long)gx * 8 + 2 * sx + 1) * w / (8 * FG_W);
          long y = ((long)gy * 8 + 2 * sy + 1) * h / (8 * FG_H);
          const uint8_t *p = rgb + (size_t)y * (size_t)stride + (size_t)x * 3;
          sum += (77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8;
          sr += p[0];
          sg += p[1];
          sb += p[2];
        }
      int i = gy * FG_W + gx;
      out->luma[i] = (uint8_t)(sum / 16);
      out->rgb[i][0] = (uint8_t)((sr + 8) / 16);
      out->rgb[i][1] = (uint8_t)((sg + 8) / 16);
      out->rgb[i][2] = (uint8_t)((sb + 8) / 16);
    }
}
