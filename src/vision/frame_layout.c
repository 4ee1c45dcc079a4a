/* frame_layout.c: colour-layout descriptors of frames and their distance (frame_layout.h). */
#include "vision/frame_layout.h"

#include <math.h>
#include <string.h>

#define FL_SAMPLES 6 /* samples per cell side */

void fl_describe(const uint8_t *rgb, int w, int h, ptrdiff_t stride, const float (*boxes)[4], int n,
                 fl_desc *out) {
  memset(out, 0, sizeof *out);
  if (!rgb || w < FL_W || h < FL_H || stride < 3 * (ptrdiff_t)w || n < 0 || (n > 0 && !boxes))
    return;
  for (int cy = 0; cy < FL_H; cy++)
    for (int cx = 0; cx < FL_W; cx++) {
      double sum[3] = {0.0, 0.0, 0.0};
      int got = 0;
      for (int sy = 0; sy < FL_SAMPLES; sy++)
        for (int sx = 0; sx < FL_SAMPLES; sx++) {
          float fx = ((float)cx + ((float)sx + 0.5f) / FL_SAMPLES) * (float)w / FL_W;
          float fy = ((float)cy + ((float)sy + 0.5f) / FL_SAMPLES) * (float)h / FL_H;
          int masked = 0;
          for (int k = 0; k < n && !masked; k++) {
            const float *b = boxes[k];
            masked = fx >= b[0] - 0.5f * b[2] && fx < b[0] + 1.5f * b[2] &&
                     fy >= b[1] - 0.5f * b[3] && fy < b[1] + 1.5f * b[3];
          }
          if (masked) continue;
          int x = (int)fx, y = (int)fy;
          if (x >= w) x = w - 1;
          if (y >= h) y = h - 1;
          const uint8_t *p = rgb + (ptrdiff_t)y * stride + 3 * (ptrdiff_t)x;
          for (int c = 0; c < 3; c++) sum[c] += p[c];
          got++;
        }
      int i = cy * FL_W + cx;
      if (2 * got < FL_SAMPLES * FL_SAMPLES) continue;
      for (int c = 0; c < 3; c++) out->rgb[i][c] = (float)(sum[c] / got);
      out->valid[i] = 1;
      out->n_valid++;
    }
}

/* Median of d[0..n) (n > 0), partially reordering d. */
static float median(float *d, int n) {
  int k = n / 2, lo = 0, hi = n - 1;
  while (lo < hi) { /* quickselect */
    float pivot = d[(lo + hi) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (d[i] < pivot) i++;
      while (d[j] > pivot) j--;
      if (i <= j) {
        float t = d[i];
        d[i++] = d[j];
        d[j--] = t;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      break;
  }
  return d[k];
}

float fl_correlation(const fl_desc *a, const fl_desc *b) {
  if (!a || !b) return -2.0f;
  float best = -2.0f;
  for (int oy = -1; oy <= 1; oy++)
    for (int ox = -1; ox <= 1; ox++) {
      double sa[3] = {0, 0, 0}, sb[3] = {0, 0, 0}, saa = 0.0, sbb = 0.0, sab = 0.0;
      int n = 0;
      for (int pass = 0; pass < 2; pass++) /* the means, then the centred products */
        for (int y = 0; y < FL_H; y++)
          for (int x = 0; x < FL_W; x++) {
            int x2 = x + ox, y2 = y + oy;
            if (x2 < 0 || x2 >= FL_W || y2 < 0 || y2 >= FL_H) continue;
            int i = y * FL_W + x, j = y2 * FL_W + x2;
            if (!a->valid[i] || !b->valid[j]) continue;
            for (int c = 0; c < 3; c++) {
              if (pass == 0) {
                sa[c] += a->rgb[i][c];
                sb[c] += b->rgb[j][c];
                if (c == 0) n++;
              } else {
                double u = a->rgb[i][c] - sa[c] / n, v = b->rgb[j][c] - sb[c] / n;
                saa += u * u;
                sbb += v * v;
                sab += u * v;
              }
            }
          }
      if (3 * n < FL_CELLS || !(saa > 0.0) || !(sbb > 0.0)) continue;
      float r = (float)(sab / sqrt(saa * sbb));
      if (r > best) best = r;
    }
  return best;
}

float fl_distance(const fl_desc *a, const fl_desc *b) {
  if (!a || !b) return -1.0f;
  float best = -1.0f, d[FL_CELLS];
  for (int oy = -1; oy <= 1; oy++)
    for (int ox = -1; ox <= 1; ox++) {
      int n = 0;
      for (int y = 0; y < FL_H; y++)
        for (int x = 0; x < FL_W; x++) {
          int x2 = x + ox, y2 = y + oy;
          if (x2 < 0 || x2 >= FL_W || y2 < 0 || y2 >= FL_H) continue;
          int i = y * FL_W + x, j = y2 * FL_W + x2;
          if (!a->valid[i] || !b->valid[j]) continue;
          d[n++] = (fabsf(a->rgb[i][0] - b->rgb[j][0]) + fabsf(a->rgb[i][1] - b->rgb[j][1]) +
                    fabsf(a->rgb[i][2] - b->rgb[j][2])) /
                   3.0f;
        }
      if (3 * n < FL_CELLS) continue;
      float m = median(d, n);
      if (best < 0.0f || m < best) best = m;
    }
  return best;
}
