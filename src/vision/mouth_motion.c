/* mouth_motion.c: the mouth patch and its frame-to-frame change (see mouth_motion.h). */
#include "vision/mouth_motion.h"

#include <math.h>
#include <stddef.h>

/* Patch geometry, in units of the face box width, around the mouth keypoint. */
#define SPAN_U 0.55f  /* half width across the mouth */
#define SPAN_UP 0.22f /* above the mouth keypoint (upper lip, philtrum) */
#define SPAN_DN 0.30f /* below it (lower lip, chin) */
#define SHIFT 2       /* best shift searched in cells, each direction */

static float luma_at(const uint8_t *rgb, int w, int h, int stride, float x, float y) {
  if (x < 0.0f) x = 0.0f;
  if (y < 0.0f) y = 0.0f;
  if (x > (float)(w - 1)) x = (float)(w - 1);
  if (y > (float)(h - 1)) y = (float)(h - 1);
  int x0 = (int)x, y0 = (int)y;
  int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
  float fx = x - (float)x0, fy = y - (float)y0;
  const uint8_t *r0 = rgb + (size_t)y0 * (size_t)stride, *r1 = rgb + (size_t)y1 * (size_t)stride;
  float v00 = 0.299f * r0[3 * x0] + 0.587f * r0[3 * x0 + 1] + 0.114f * r0[3 * x0 + 2];
  float v01 = 0.299f * r0[3 * x1] + 0.587f * r0[3 * x1 + 1] + 0.114f * r0[3 * x1 + 2];
  float v10 = 0.299f * r1[3 * x0] + 0.587f * r1[3 * x0 + 1] + 0.114f * r1[3 * x0 + 2];
  float v11 = 0.299f * r1[3 * x1] + 0.587f * r1[3 * x1 + 1] + 0.114f * r1[3 * x1 + 2];
  return (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
}

int mm_patch(const uint8_t *rgb, int w, int h, int stride, const float box[4], const float kp[6][2],
             float *patch) {
  if (!rgb || w <= 0 || h <= 0 || !box || !kp || !patch) return 0;
  float bw = box[2];
  float mx = kp[3][0], my = kp[3][1];
  float ex = kp[1][0] - kp[0][0], ey = kp[1][1] - kp[0][1];
  if (!isfinite(bw) || !isfinite(mx) || !isfinite(my) || !isfinite(ex) || !isfinite(ey)) return 0;
  if (bw < MM_MIN_FACE) return 0;
  /* Rotation from the eye line when the eyes are apart enough to say (a profile's are not). */
  float el = sqrtf(ex * ex + ey * ey), ux = 1.0f, uy = 0.0f;
  if (el > 0.2f * bw) {
    ux = ex / el;
    uy = ey / el;
  }
  const float vx = -uy, vy = ux; /* down the face */
  int inside = 0;
  for (int r = 0; r < MM_H; r++) {
    float v = -SPAN_UP + (SPAN_UP + SPAN_DN) * ((float)r + 0.5f) / MM_H;
    for (int col = 0; col < MM_W; col++) {
      float u = -SPAN_U + 2.0f * SPAN_U * ((float)col + 0.5f) / MM_W;
      float x = mx + bw * (u * ux + v * vx), y = my + bw * (u * uy + v * vy);
      inside += x >= 0.0f && y >= 0.0f && x <= (float)(w - 1) && y <= (float)(h - 1);
      patch[r * MM_W + col] = luma_at(rgb, w, h, stride, x, y);
    }
  }
  if (inside < MM_W * MM_H / 2) return 0;
  double sum = 0.0, ss = 0.0;
  for (int i = 0; i < MM_W * MM_H; i++) sum += patch[i];
  float mean = (float)(sum / (MM_W * MM_H));
  for (int i = 0; i < MM_W * MM_H; i++) {
    patch[i] -= mean;
    ss += (double)patch[i] * patch[i];
  }
  /* Contrast floor of 4 gray levels: a flat patch (a covered mouth) stays near 0. */
  float sd = (float)sqrt(ss / (MM_W * MM_H));
  float inv = 1.0f / (sd > 4.0f ? sd : 4.0f);
  for (int i = 0; i < MM_W * MM_H; i++) patch[i] *= inv;
  return 1;
}

float mm_motion(const float *prev, const float *cur) {
  float best = INFINITY;
  for (int dy = -SHIFT; dy <= SHIFT; dy++)
    for (int dx = -SHIFT; dx <= SHIFT; dx++) {
      float s = 0.0f;
      for (int r = SHIFT; r < MM_H - SHIFT; r++) {
        const float *a = prev + r * MM_W, *b = cur + (r + dy) * MM_W + dx;
        for (int col = SHIFT; col < MM_W - SHIFT; col++) s += fabsf(a[col] - b[col]);
      }
      if (s < best) best = s;
    }
  return best / (float)((MM_H - 2 * SHIFT) * (MM_W - 2 * SHIFT));
}
