/* frame_layout.c: colour-layout descriptors of frames and their distance (frame_layout.h). */
#include "vision/frame_layout.h"

#include <math.h>
#include <string.h>

void fl_describe(const fg_grid *g, const float (*boxes)[4], int n, fl_desc *out) {
  memset(out, 0, sizeof *out);
  if (!g || g->w < FG_W || g->h < FG_H || n < 0 || (n > 0 && !boxes)) return;
  float sum[FL_CELLS][3] = {{0}};
  int got[FL_CELLS] = {0};
  for (int gy = 0; gy < FG_H; gy++)
    for (int gx = 0; gx < FG_W; gx++) {
      float fx = ((float)gx + 0.5f) * (float)g->w / FG_W; /* the cell's centre, pixels */
      float fy = ((float)gy + 0.5f) * (float)g->h / FG_H;
      int masked = 0;
      for (int k = 0; k < n && !masked; k++) {
        const float *b = boxes[k];
        masked = fx >= b[0] - 0.5f * b[2] && fx < b[0] + 1.5f * b[2] && fy >= b[1] - 0.5f * b[3] &&
                 fy < b[1] + 1.5f * b[3];
      }
      if (masked) continue;
      int i = (gy / 2) * FL_W + gx / 2;
      const uint8_t *p = g->rgb[gy * FG_W + gx];
      for (int c = 0; c < 3; c++) sum[i][c] += p[c];
      got[i]++;
    }
  for (int i = 0; i < FL_CELLS; i++) {
    if (got[i] < 2) continue; /* at least half of its 4 grid cells outside the faces */
    for (int c = 0; c < 3; c++) out->rgb[i][c] = sum[i][c] / (float)got[i];
    out->valid[i] = 1;
    out->n_valid++;
  }
}

/* Bin of a pixel: 4 brightness levels (dim footage is mostly under 128) x 4 x 4 chromaticity
 * cells (r / (r + g + b) and g / (r + g + b) over 0.2 .. 0.5, clamped), so a shirt's hue
 * counts apart from how much light falls on it. */
static int clothes_bin(const uint8_t *p) {
  int sum = p[0] + p[1] + p[2];
  int lum = sum < 120 ? 0 : sum < 240 ? 1 : sum < 390 ? 2 : 3;
  float rn = (float)p[0] / (float)(sum + 1), gn = (float)p[1] / (float)(sum + 1);
  int r = (int)((rn - 0.2f) / 0.075f), g = (int)((gn - 0.2f) / 0.075f);
  r = r < 0 ? 0 : r > 3 ? 3 : r;
  g = g < 0 ? 0 : g > 3 ? 3 : g;
  return lum << 4 | r << 2 | g;
}

int fl_clothes(const uint8_t *rgb, int w, int h, ptrdiff_t stride, const float box[4],
               float hist[FL_BINS]) {
  enum { S = 12 };
  if (!rgb || !box || !(box[2] > 0.0f) || !(box[3] > 0.0f) || w <= 0 || h <= 0) return 0;
  float x0 = box[0] + 0.5f * box[2] - 0.75f * box[2], y0 = box[1] + 1.25f * box[3];
  float sx = 1.5f * box[2] / S, sy = 1.5f * box[3] / S;
  int cnt[FL_BINS] = {0}, got = 0;
  for (int j = 0; j < S; j++)
    for (int i = 0; i < S; i++) {
      float fx = x0 + ((float)i + 0.5f) * sx, fy = y0 + ((float)j + 0.5f) * sy;
      if (!(fx >= 0.0f && fx < (float)w && fy >= 0.0f && fy < (float)h)) continue;
      const uint8_t *p = rgb + (ptrdiff_t)fy * stride + 3 * (ptrdiff_t)fx;
      cnt[clothes_bin(p)]++;
      got++;
    }
  if (2 * got < S * S) return 0;
  for (int k = 0; k < FL_BINS; k++) hist[k] = (float)cnt[k] / (float)got;
  return 1;
}

float fl_bhattacharyya(const float *a, const float *b, int n) {
  double s = 0.0;
  for (int k = 0; k < n; k++) s += sqrt((double)a[k] * b[k]);
  return (float)s;
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

/* The cells valid in both a and b with b shifted by (ox, oy) cells: ia[k] in a pairs with
 * ib[k] in b. Returns how many. The one offset scan of fl_distance and fl_correlation. */
static int paired_cells(const fl_desc *a, const fl_desc *b, int ox, int oy, int *ia, int *ib) {
  int n = 0;
  for (int y = 0; y < FL_H; y++)
    for (int x = 0; x < FL_W; x++) {
      int x2 = x + ox, y2 = y + oy;
      if (x2 < 0 || x2 >= FL_W || y2 < 0 || y2 >= FL_H) continue;
      int i = y * FL_W + x, j = y2 * FL_W + x2;
      if (!a->valid[i] || !b->valid[j]) continue;
      ia[n] = i;
      ib[n++] = j;
    }
  return n;
}

float fl_correlation(const fl_desc *a, const fl_desc *b) {
  if (!a || !b) return -2.0f;
  float best = -2.0f;
  int ia[FL_CELLS], ib[FL_CELLS];
  for (int oy = -1; oy <= 1; oy++)
    for (int ox = -1; ox <= 1; ox++) {
      int n = paired_cells(a, b, ox, oy, ia, ib);
      if (3 * n < FL_CELLS) continue;
      double sa[3] = {0, 0, 0}, sb[3] = {0, 0, 0}, saa = 0.0, sbb = 0.0, sab = 0.0;
      for (int k = 0; k < n; k++) /* each channel's mean, then the centred products */
        for (int c = 0; c < 3; c++) sa[c] += a->rgb[ia[k]][c], sb[c] += b->rgb[ib[k]][c];
      for (int k = 0; k < n; k++)
        for (int c = 0; c < 3; c++) {
          double u = a->rgb[ia[k]][c] - sa[c] / n, v = b->rgb[ib[k]][c] - sb[c] / n;
          saa += u * u;
          sbb += v * v;
          sab += u * v;
        }
      if (!(saa > 0.0) || !(sbb > 0.0)) continue;
      float r = (float)(sab / sqrt(saa * sbb));
      if (r > best) best = r;
    }
  return best;
}

float fl_distance(const fl_desc *a, const fl_desc *b) {
  if (!a || !b) return -1.0f;
  float best = -1.0f, d[FL_CELLS];
  int ia[FL_CELLS], ib[FL_CELLS];
  for (int oy = -1; oy <= 1; oy++)
    for (int ox = -1; ox <= 1; ox++) {
      int n = paired_cells(a, b, ox, oy, ia, ib);
      if (3 * n < FL_CELLS) continue;
      for (int k = 0; k < n; k++) {
        const float *u = a->rgb[ia[k]], *v = b->rgb[ib[k]];
        d[k] = (fabsf(u[0] - v[0]) + fabsf(u[1] - v[1]) + fabsf(u[2] - v[2])) / 3.0f;
      }
      float m = median(d, n);
      if (best < 0.0f || m < best) best = m;
    }
  return best;
}
