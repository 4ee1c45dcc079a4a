/* annotate.c: box outlines, bitmap-font text and per-id colours on RGB24 buffers (see
 * annotate.h). The 5x7 font below is emo's own: one byte per glyph row, bit 4 = leftmost
 * pixel, for ASCII 32..126. Every write goes through fill_span, which clips to the image. */
#include "output/annotate.h"

#include "emo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const uint8_t ann_font[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /*   */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* ! */
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0a, 0x1f, 0x0a, 0x0a, 0x0a, 0x1f, 0x0a}, /* # */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* % */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d}, /* & */
    {0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* quote */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ) */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* / */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* 9 */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}, /* : */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* < */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* > */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* ? */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e}, /* @ */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* A */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* B */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* C */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* D */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* E */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* F */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* G */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* H */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* L */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* P */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* Q */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* R */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* S */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* W */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}, /* Y */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* Z */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00}, /* backslash */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}, /* ] */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* _ */
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}, /* b */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}, /* c */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}, /* d */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}, /* e */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}, /* f */
    {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}, /* h */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, /* k */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* l */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}, /* n */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}, /* o */
    {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}, /* r */
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e}, /* s */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a}, /* w */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00}, /* ~ */
};

/* Fills the rectangle [x0, x1) x [y0, y1), clipped to the image. */
static void fill_rect(uint8_t *rgb, int w, int h, ptrdiff_t stride, long x0, long y0, long x1,
                      long y1, const uint8_t c[3]) {
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > w) x1 = w;
  if (y1 > h) y1 = h;
  for (long y = y0; y < y1; y++) {
    uint8_t *p = rgb + (ptrdiff_t)y * stride + (ptrdiff_t)x0 * 3;
    for (long x = x0; x < x1; x++, p += 3) {
      p[0] = c[0];
      p[1] = c[1];
      p[2] = c[2];
    }
  }
}

/* A float coordinate as a long, clamped far outside any image (NaN -> 0). */
static long coord(float v) {
  if (!(v == v)) return 0;
  if (v < -1e7f) return -10000000L;
  if (v > 1e7f) return 10000000L;
  return lroundf(v);
}

void ann_rect(uint8_t *rgb, int w, int h, ptrdiff_t stride, const float box[4],
              const uint8_t color[3], int thickness) {
  if (!rgb || !box || !color || w <= 0 || h <= 0 || stride < (ptrdiff_t)w * 3) return;
  if (!isfinite(box[0]) || !isfinite(box[1]) || !isfinite(box[2]) || !isfinite(box[3])) return;
  if (box[2] <= 0 || box[3] <= 0) return;
  long x0 = coord(box[0]), y0 = coord(box[1]);
  long x1 = coord(box[0] + box[2]), y1 = coord(box[1] + box[3]); /* exclusive */
  if (x1 <= x0 || y1 <= y0) return;
  long t = thickness < 1 ? 1 : thickness > 64 ? 64 : thickness;
  if (2 * t >= x1 - x0 || 2 * t >= y1 - y0) { /* too small for a hollow outline */
    fill_rect(rgb, w, h, stride, x0, y0, x1, y1, color);
    return;
  }
  fill_rect(rgb, w, h, stride, x0, y0, x1, y0 + t, color);         /* top */
  fill_rect(rgb, w, h, stride, x0, y1 - t, x1, y1, color);         /* bottom */
  fill_rect(rgb, w, h, stride, x0, y0 + t, x0 + t, y1 - t, color); /* left */
  fill_rect(rgb, w, h, stride, x1 - t, y0 + t, x1, y1 - t, color); /* right */
}

static int clamp_scale(int scale) {
  return scale < 1 ? 1 : scale > 16 ? 16 : scale;
}

void ann_text_size(const char *text, int scale, int *width, int *height) {
  int s = clamp_scale(scale), cols = 0, maxcols = 0, lines = 1;
  for (const char *p = text ? text : ""; *p; p++) {
    if (*p == '\n') {
      lines++;
      cols = 0;
      continue;
    }
    if (++cols > maxcols) maxcols = cols;
  }
  if (width) *width = maxcols * ANN_CELL_W * s;
  if (height) *height = text && *text ? lines * ANN_CELL_H * s : 0;
}

void ann_text(uint8_t *rgb, int w, int h, ptrdiff_t stride, int x, int y, const char *text,
              const uint8_t color[3], const uint8_t bg[3], int scale) {
  if (!rgb || !text || !color || w <= 0 || h <= 0 || stride < (ptrdiff_t)w * 3) return;
  long s = clamp_scale(scale);
  long cx = x, cy = y;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '\n') {
      cx = x;
      cy += ANN_CELL_H * s;
      continue;
    }
    if (bg) fill_rect(rgb, w, h, stride, cx, cy, cx + ANN_CELL_W * s, cy + ANN_CELL_H * s, bg);
    unsigned c = (*p >= 32 && *p <= 126) ? *p : '?';
    const uint8_t *g = ann_font[c - 32];
    /* Glyph at 1 pixel from the cell's left and top edges. */
    for (int r = 0; r < 7; r++)
      for (int b = 0; b < 5; b++)
        if (g[r] & (0x10 >> b))
          fill_rect(rgb, w, h, stride, cx + (1 + b) * s, cy + (1 + r) * s, cx + (2 + b) * s,
                    cy + (2 + r) * s, color);
    cx += ANN_CELL_W * s;
    if (cx > 10000000L) break; /* far off the image: nothing more can show */
  }
}

void ann_color_for_id(int id, uint8_t out[3]) {
  if (!out) return;
  if (id <= 0) {
    out[0] = out[1] = out[2] = 160;
    return;
  }
  /* Hue in [0, 1): multiples of the golden-ratio conjugate; HSV with S 0.85, V 0.95. */
  double hue = fmod(0.6180339887498949 * (double)id + 0.12, 1.0) * 6.0;
  int sector = (int)hue;
  double f = hue - sector, v = 0.95, s = 0.85;
  double pp = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double rgb[6][3] = {{v, t, pp}, {q, v, pp}, {pp, v, t}, {pp, q, v}, {t, pp, v}, {v, pp, q}};
  for (int i = 0; i < 3; i++) out[i] = (uint8_t)lround(rgb[sector % 6][i] * 255.0);
}

void ann_line(uint8_t *rgb, int w, int h, ptrdiff_t stride, float x0, float y0, float x1, float y1,
              const uint8_t color[3], int thickness) {
  if (!(x0 == x0) || !(y0 == y0) || !(x1 == x1) || !(y1 == y1)) return;
  float dx = x1 - x0, dy = y1 - y0;
  float len = fabsf(dx) > fabsf(dy) ? fabsf(dx) : fabsf(dy);
  if (len > 1e5f) return; /* a degenerate projection: nothing sensible to draw */
  int steps = (int)len + 1;
  long t = thickness < 1 ? 1 : thickness > 16 ? 16 : thickness;
  for (int i = 0; i <= steps; i++) {
    long x = coord(x0 + dx * (float)i / (float)steps), y = coord(y0 + dy * (float)i / (float)steps);
    fill_rect(rgb, w, h, stride, x - t / 2, y - t / 2, x - t / 2 + t, y - t / 2 + t, color);
  }
}

/* The mesh's contours (MediaPipe's FACEMESH_CONTOURS and FACEMESH_IRISES point lists, from
 * mediapipe/python/solutions/face_mesh_connections.py): face oval, lips, eyes, brows, irises,
 * each a closed loop except the brows. */
static const short ann_oval[] = {10,  338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288,
                                 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
                                 172, 58,  132, 93,  234, 127, 162, 21,  54,  103, 67,  109};
static const short ann_lips_out[] = {61,  146, 91,  181, 84,  17, 314, 405, 321, 375,
                                     291, 409, 270, 269, 267, 0,  37,  39,  40,  185};
static const short ann_lips_in[] = {78,  95,  88,  178, 87,  14, 317, 402, 318, 324,
                                    308, 415, 310, 311, 312, 13, 82,  81,  80,  191};
static const short ann_eye_r[] = {33,  7,   163, 144, 145, 153, 154, 155,
                                  133, 173, 157, 158, 159, 160, 161, 246};
static const short ann_eye_l[] = {263, 249, 390, 373, 374, 380, 381, 382,
                                  362, 398, 384, 385, 386, 387, 388, 466};
static const short ann_brow_r[] = {46, 53, 52, 65, 55, 70, 63, 105, 66, 107};
static const short ann_brow_l[] = {276, 283, 282, 295, 285, 300, 293, 334, 296, 336};
static const short ann_iris_r[] = {469, 470, 471, 472};
static const short ann_iris_l[] = {474, 475, 476, 477};

static const struct {
  const short *idx;
  int n, closed;
} ann_contours[] = {
    {ann_oval, (int)(sizeof ann_oval / sizeof ann_oval[0]), 1},
    {ann_lips_out, (int)(sizeof ann_lips_out / sizeof ann_lips_out[0]), 1},
    {ann_lips_in, (int)(sizeof ann_lips_in / sizeof ann_lips_in[0]), 1},
    {ann_eye_r, (int)(sizeof ann_eye_r / sizeof ann_eye_r[0]), 1},
    {ann_eye_l, (int)(sizeof ann_eye_l / sizeof ann_eye_l[0]), 1},
    {ann_brow_r, (int)(sizeof ann_brow_r / sizeof ann_brow_r[0]), 0},
    {ann_brow_l, (int)(sizeof ann_brow_l / sizeof ann_brow_l[0]), 0},
    {ann_iris_r, (int)(sizeof ann_iris_r / sizeof ann_iris_r[0]), 1},
    {ann_iris_l, (int)(sizeof ann_iris_l / sizeof ann_iris_l[0]), 1},
};

int ann_mesh_point(int i) {
  int k = 0;
  for (size_t c = 0; c < sizeof ann_contours / sizeof ann_contours[0]; c++)
    for (int j = 0; j < ann_contours[c].n; j++, k++)
      if (k == i) return ann_contours[c].idx[j];
  return -1;
}

void ann_mesh(uint8_t *rgb, int w, int h, ptrdiff_t stride, const float (*lm)[3],
              const uint8_t color[3], int thickness) {
  if (!rgb || !lm || !color || w <= 0 || h <= 0 || stride < (ptrdiff_t)w * 3) return;
  for (size_t c = 0; c < sizeof ann_contours / sizeof ann_contours[0]; c++) {
    const short *ix = ann_contours[c].idx;
    int n = ann_contours[c].n;
    for (int j = 0; j + 1 < n + ann_contours[c].closed; j++) {
      const float *a = lm[ix[j]], *b = lm[ix[(j + 1) % n]];
      ann_line(rgb, w, h, stride, a[0], a[1], b[0], b[1], color, thickness);
    }
  }
}

/* The head axes of a face with a pose: the rotation's columns, projected orthographically
 * (image y points down, camera y up). */
static void draw_axes(uint8_t *rgb, int w, int h, ptrdiff_t stride, const emo_track_face *x) {
  const emo_face_details *d = x->details;
  if (!d || d->level == EMO_DETAILS_NONE || !d->has_pose) return;
  static const uint8_t cols[3][3] = {{230, 40, 40}, {40, 210, 40}, {50, 90, 240}};
  const float *m = d->pose.matrix;
  float sc = sqrtf(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
  if (!(sc > 0.0f)) return;
  float len = 0.5f * x->box[2] / sc, ox = d->landmarks[1][0], oy = d->landmarks[1][1];
  for (int a = 0; a < 3; a++)
    ann_line(rgb, w, h, stride, ox, oy, ox + len * m[4 * a], oy - len * m[4 * a + 1], cols[a], 3);
}

void ann_frame(uint8_t *rgb, int w, int h, ptrdiff_t stride, const emo_frame_result *f) {
  for (int i = 0; i < f->face_count; i++) {
    const emo_track_face *x = &f->faces[i];
    uint8_t col[3], black[3] = {0, 0, 0};
    ann_color_for_id(x->track_id, col);
    ann_rect(rgb, w, h, stride, x->box, col, 3);
    char label[64];
    snprintf(label, sizeof label, "#%d %s", x->track_id,
             x->dominant >= 0 ? emo_expression_name(x->dominant) : "");
    int y = (int)x->box[1] - 18;
    ann_text(rgb, w, h, stride, (int)x->box[0], y < 0 ? 0 : y, label, col, black, 2);
    const emo_face_details *d = x->details;
    if (d && d->level != EMO_DETAILS_NONE) {
      static const uint8_t mesh_col[3] = {ANN_MESH_R, ANN_MESH_G, ANN_MESH_B};
      int t = (int)(x->box[2] / 160.0f) + 1; /* 1 px up to a 160 px face */
      ann_mesh(rgb, w, h, stride, (const float(*)[3])d->landmarks, mesh_col, t);
    }
    draw_axes(rgb, w, h, stride, x);
  }
}
