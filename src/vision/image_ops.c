/* image_ops.c: bilinear resize, letterbox and affine warp of RGB8 images into normalised
 * float NHWC tensors (see image_ops.h for the coordinate conventions).
 *
 * Follows TensorFlow's resize_bilinear (half_pixel_centers and legacy modes) for the resize,
 * and MediaPipe's ImageToTensorCalculator (keep_aspect_ratio, BORDER_ZERO, value range) for
 * the letterbox; the warp is OpenCV warpAffine-style inverse mapping (dst -> src) with
 * pixel-centre coordinates. Plain scalar C: per output pixel one floor, four taps and a few
 * multiply-adds, no divisions; source positions are computed as base + j*step (no error
 * accumulation). Allocation-free. Decoding and crop selection are left to others.
 *
 * One vector fast path, for the hottest call (every face of every video frame goes through
 * the FER crop: gray output, replicate border): warp_gray_avx512 does 16 output pixels at a
 * time (warp_gray_avx2: 8) with one 4-byte gather per tap (R, G, B and a spare byte), chosen
 * at run time under an emo_isa cap (img_warp_affine_f32_isa), and
 * computes exactly the reference's operations in the reference's order (no fused
 * multiply-adds), so its output is bit-identical; test_image checks that. A second one, for the
 * RGB warps (the face-landmark crop and the detector's letterbox, zero border, and the face-api
 * expression crop, replicate border; one path: warp_rgb), does eight pixels at once with four
 * 4-byte gathers where all their taps are inside the image (rgb_blend8_avx2), else one pixel a
 * 128-bit vector from two plain 4-byte loads per source row (no gathers), with a plain C sibling
 * for the scalar cap; bit-identical too. */
#include "vision/image_ops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define IMG_X86 1
#endif

#include "emo.h"

const float img_gray_tfjs[3] = {0.2989f, 0.5870f, 0.1140f};
const float img_gray_bt601[3] = {0.299f, 0.587f, 0.114f};

img_view img_view_rgb(const uint8_t *data, int width, int height) {
  img_view v;
  v.data = data;
  v.width = width;
  v.height = height;
  v.stride = (ptrdiff_t)width * 3;
  return v;
}

img_norm img_norm_uniform(float scale, float offset) {
  img_norm n;
  for (int c = 0; c < 3; c++) {
    n.scale[c] = scale;
    n.offset[c] = offset;
    n.gray[c] = img_gray_tfjs[c];
  }
  return n;
}

img_norm img_norm_range(float lo, float hi) {
  return img_norm_uniform((hi - lo) / 255.0f, lo);
}

static int img_view_ok(const img_view *s) {
  return s && s->data && s->width > 0 && s->height > 0 && s->stride >= (ptrdiff_t)s->width * 3;
}

/* ---------------------------------------------------------------- resize */

/* One column's horizontal taps: byte offsets of the two pixels and the weight of the second. */
typedef struct img_tap {
  ptrdiff_t o0, o1;
  float w;
} img_tap;

/* Clamped (replicate) taps for index coordinate t in a line of n pixels. */
static img_tap img_tap_clamped(float t, int n, int bytes_per_px) {
  img_tap tp;
  float tc = fminf(fmaxf(t, 0.0f), (float)(n - 1)); /* NaN -> 0 */
  int i0 = (int)tc;                                 /* tc >= 0: truncation is floor */
  if (i0 > n - 1) i0 = n - 1;
  int i1 = i0 + 1 < n ? i0 + 1 : n - 1;
  tp.o0 = (ptrdiff_t)i0 * bytes_per_px;
  tp.o1 = (ptrdiff_t)i1 * bytes_per_px;
  tp.w = tc - (float)i0;
  return tp;
}

#define IMG_TAP_CHUNK 256

int img_resize_bilinear_f32(const img_view *src, float rx, float ry, float rw, float rh,
                            img_sample mode, float *dst, int dw, int dh, const img_norm *norm) {
  if (!img_view_ok(src) || !dst || !norm || dw <= 0 || dh <= 0 || !isfinite(rx) || !isfinite(ry) ||
      !isfinite(rw) || !isfinite(rh) || rw <= 0 || rh <= 0 ||
      (mode != IMG_SAMPLE_HALF_PIXEL && mode != IMG_SAMPLE_LEGACY))
    return EMO_EINVAL;
  const float c = mode == IMG_SAMPLE_HALF_PIXEL ? 0.5f : 0.0f;
  const float sxs = rw / (float)dw, sys = rh / (float)dh;
  const float bx = rx + c * sxs - c, by = ry + c * sys - c; /* index coordinate of dst 0 */
  const float s0 = norm->scale[0], s1 = norm->scale[1], s2 = norm->scale[2];
  const float f0 = norm->offset[0], f1 = norm->offset[1], f2 = norm->offset[2];
  img_tap taps[IMG_TAP_CHUNK];
  for (int j0 = 0; j0 < dw; j0 += IMG_TAP_CHUNK) {
    const int nj = dw - j0 < IMG_TAP_CHUNK ? dw - j0 : IMG_TAP_CHUNK;
    for (int j = 0; j < nj; j++)
      taps[j] = img_tap_clamped(bx + (float)(j0 + j) * sxs, src->width, 3);
    for (int i = 0; i < dh; i++) {
      const img_tap ty = img_tap_clamped(by + (float)i * sys, src->height, 1);
      const uint8_t *r0 = src->data + ty.o0 * src->stride;
      const uint8_t *r1 = src->data + ty.o1 * src->stride;
      const float wy = ty.w, wy0 = 1.0f - wy;
      float *o = dst + ((size_t)i * (size_t)dw + (size_t)j0) * 3; /* row i of (dh, dw, 3) */
      for (int j = 0; j < nj; j++, o += 3) {
        const uint8_t *a = r0 + taps[j].o0, *b = r0 + taps[j].o1;
        const uint8_t *e = r1 + taps[j].o0, *f = r1 + taps[j].o1;
        const float wx = taps[j].w, wx0 = 1.0f - wx;
        const float v0 = wy0 * (wx0 * a[0] + wx * b[0]) + wy * (wx0 * e[0] + wx * f[0]);
        const float v1 = wy0 * (wx0 * a[1] + wx * b[1]) + wy * (wx0 * e[1] + wx * f[1]);
        const float v2 = wy0 * (wx0 * a[2] + wx * b[2]) + wy * (wx0 * e[2] + wx * f[2]);
        o[0] = v0 * s0 + f0;
        o[1] = v1 * s1 + f1;
        o[2] = v2 * s2 + f2;
      }
    }
  }
  return EMO_OK;
}

/* ---------------------------------------------------------------- affine warp */

void img_affine_apply(const float m[6], float x, float y, float *ox, float *oy) {
  *ox = m[0] * x + m[1] * y + m[2];
  *oy = m[3] * x + m[4] * y + m[5];
}

int img_affine_invert(const float m[6], float inv[6]) {
  const double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5];
  const double det = a * e - b * d;
  if (!isfinite(det) || det == 0.0 || !isfinite(c) || !isfinite(f)) return EMO_EINVAL;
  const double id = 1.0 / det;
  float r[6];
  r[0] = (float)(e * id);
  r[1] = (float)(-b * id);
  r[3] = (float)(-d * id);
  r[4] = (float)(a * id);
  r[2] = (float)(-(e * c - b * f) * id);
  r[5] = (float)(-(-d * c + a * f) * id);
  for (int k = 0; k < 6; k++)
    if (!isfinite(r[k])) return EMO_EINVAL;
  memcpy(inv, r, sizeof r);
  return EMO_OK;
}

void img_affine_rotated_square(float m[6], float cx, float cy, float angle, float side, int n) {
  const double k = n > 0 ? (double)side / n : 0.0, h = 0.5 * n;
  const double co = cos(angle) * k, si = sin(angle) * k;
  /* src = (cx, cy) + R(angle) * k * ((u, v) - (n/2, n/2)) */
  m[0] = (float)co;
  m[1] = (float)-si;
  m[2] = (float)(cx - co * h + si * h);
  m[3] = (float)si;
  m[4] = (float)co;
  m[5] = (float)(cy - si * h - co * h);
}

/* Bilinear RGB at index coordinate (x, y) into v[3] (0..255 scale). */
static void img_sample_rgb(const img_view *s, float x, float y, int replicate, float v[3]) {
  const int w = s->width, h = s->height;
  if (replicate) {
    const img_tap tx = img_tap_clamped(x, w, 3), ty = img_tap_clamped(y, h, 1);
    const uint8_t *r0 = s->data + ty.o0 * s->stride;
    const uint8_t *r1 = s->data + ty.o1 * s->stride;
    const float wx = tx.w, wx0 = 1.0f - wx, wy = ty.w, wy0 = 1.0f - wy;
    for (int c = 0; c < 3; c++)
      v[c] = wy0 * (wx0 * r0[tx.o0 + c] + wx * r0[tx.o1 + c]) +
             wy * (wx0 * r1[tx.o0 + c] + wx * r1[tx.o1 + c]);
    return;
  }
  /* Zero border: every tap is inside [-1, w] x [-1, h]; NaN fails the test. */
  if (!(x > -1.0f && x < (float)w && y > -1.0f && y < (float)h)) {
    v[0] = v[1] = v[2] = 0.0f;
    return;
  }
  const float xf = floorf(x), yf = floorf(y);
  const int x0 = (int)xf, y0 = (int)yf; /* in [-1, w-1] x [-1, h-1] */
  const float wx = x - xf, wy = y - yf;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) { /* all four taps inside: common case */
    const uint8_t *r0 = s->data + (ptrdiff_t)y0 * s->stride + (ptrdiff_t)x0 * 3;
    const uint8_t *r1 = r0 + s->stride;
    const float wx0 = 1.0f - wx, wy0 = 1.0f - wy;
    for (int c = 0; c < 3; c++)
      v[c] = wy0 * (wx0 * r0[c] + wx * r0[3 + c]) + wy * (wx0 * r1[c] + wx * r1[3 + c]);
    return;
  }
  const float wgt[4] = {(1.0f - wx) * (1.0f - wy), wx * (1.0f - wy), (1.0f - wx) * wy, wx * wy};
  v[0] = v[1] = v[2] = 0.0f;
  for (int t = 0; t < 4; t++) {
    const int xx = x0 + (t & 1), yy = y0 + (t >> 1);
    if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
    const uint8_t *p = s->data + (ptrdiff_t)yy * s->stride + (ptrdiff_t)xx * 3;
    v[0] += wgt[t] * p[0];
    v[1] += wgt[t] * p[1];
    v[2] += wgt[t] * p[2];
  }
}

#ifdef IMG_X86
/* img_warp_affine_f32 for channels 1 and IMG_BORDER_REPLICATE, 16 pixels at a time: the taps of
 * img_tap_clamped, each tap's R, G, B fetched by one 4-byte gather at its byte offset. The
 * gather at the image's very last pixel would read one byte past the data, so offsets are
 * capped 4 bytes before the end and the loaded word shifted instead. Needs offsets that fit
 * int32 and an image of at least 4 bytes (the caller checks). Every arithmetic step is the
 * reference's, in its order, unfused. */
__attribute__((target("avx512f"))) static void warp_gray_avx512(const img_view *s, const float m[6],
                                                                float *dst, int dw, int dh,
                                                                const img_norm *norm) {
  const int w = s->width, h = s->height;
  const int last = (int)((ptrdiff_t)(h - 1) * s->stride + (ptrdiff_t)(w - 1) * 3);
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  const __m512 xmax = _mm512_set1_ps((float)(w - 1)), ymax = _mm512_set1_ps((float)(h - 1));
  const __m512i wm1 = _mm512_set1_epi32(w - 1), hm1 = _mm512_set1_epi32(h - 1);
  const __m512i k1 = _mm512_set1_epi32(1), k3 = _mm512_set1_epi32(3), k8 = _mm512_set1_epi32(8);
  const __m512i stride = _mm512_set1_epi32((int)s->stride), cap = _mm512_set1_epi32(last - 1);
  const __m512i ff = _mm512_set1_epi32(0xff);
  const __m512 g0 = _mm512_set1_ps(norm->gray[0]), g1 = _mm512_set1_ps(norm->gray[1]);
  const __m512 g2 = _mm512_set1_ps(norm->gray[2]);
  const __m512 sc = _mm512_set1_ps(norm->scale[0]), of = _mm512_set1_ps(norm->offset[0]);
  const __m512 m0 = _mm512_set1_ps(m[0]), m3 = _mm512_set1_ps(m[3]);
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int i = 0; i < dh; i++) {
    const float yc = (float)i + 0.5f;
    const __m512 bx = _mm512_set1_ps(m[0] * 0.5f + m[1] * yc + m[2] - 0.5f);
    const __m512 by = _mm512_set1_ps(m[3] * 0.5f + m[4] * yc + m[5] - 0.5f);
    float *o = dst + (size_t)i * (size_t)dw;
    for (int j = 0; j < dw; j += 16) {
      const __m512 jf = _mm512_add_ps(_mm512_set1_ps((float)j), iota); /* exact: small ints */
      const __m512 x = _mm512_add_ps(bx, _mm512_mul_ps(jf, m0));
      const __m512 y = _mm512_add_ps(by, _mm512_mul_ps(jf, m3));
      /* img_tap_clamped: max(t, 0) (NaN -> 0, as maxps returns its second operand), min n-1 */
      const __m512 tx = _mm512_min_ps(_mm512_max_ps(x, zero), xmax);
      const __m512 ty = _mm512_min_ps(_mm512_max_ps(y, zero), ymax);
      const __m512i ix0 = _mm512_min_epi32(_mm512_cvttps_epi32(tx), wm1);
      const __m512i iy0 = _mm512_min_epi32(_mm512_cvttps_epi32(ty), hm1);
      const __m512i ix1 = _mm512_min_epi32(_mm512_add_epi32(ix0, k1), wm1);
      const __m512i iy1 = _mm512_min_epi32(_mm512_add_epi32(iy0, k1), hm1);
      const __m512 wx = _mm512_sub_ps(tx, _mm512_cvtepi32_ps(ix0));
      const __m512 wy = _mm512_sub_ps(ty, _mm512_cvtepi32_ps(iy0));
      const __m512 wx0 = _mm512_sub_ps(one, wx), wy0 = _mm512_sub_ps(one, wy);
      const __m512i r0 = _mm512_mullo_epi32(iy0, stride), r1 = _mm512_mullo_epi32(iy1, stride);
      const __m512i c0 = _mm512_mullo_epi32(ix0, k3), c1 = _mm512_mullo_epi32(ix1, k3);
      const __m512i off[4] = {_mm512_add_epi32(r0, c0), _mm512_add_epi32(r0, c1),
                              _mm512_add_epi32(r1, c0), _mm512_add_epi32(r1, c1)};
      __m512 ch[4][3]; /* [tap a, b, e, f][R, G, B] */
      for (int t = 0; t < 4; t++) {
        const __m512i at = _mm512_min_epi32(off[t], cap);
        __m512i v = _mm512_i32gather_epi32(at, (const void *)s->data, 1);
        v = _mm512_srlv_epi32(v, _mm512_mullo_epi32(_mm512_sub_epi32(off[t], at), k8));
        ch[t][0] = _mm512_cvtepi32_ps(_mm512_and_si512(v, ff));
        ch[t][1] = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8), ff));
        ch[t][2] = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 16), ff));
      }
      __m512 v[3];
      for (int c = 0; c < 3; c++) {
        /* wy0 * (wx0 * a + wx * b) + wy * (wx0 * e + wx * f) */
        const __m512 top = _mm512_add_ps(_mm512_mul_ps(wx0, ch[0][c]), _mm512_mul_ps(wx, ch[1][c]));
        const __m512 bot = _mm512_add_ps(_mm512_mul_ps(wx0, ch[2][c]), _mm512_mul_ps(wx, ch[3][c]));
        v[c] = _mm512_add_ps(_mm512_mul_ps(wy0, top), _mm512_mul_ps(wy, bot));
      }
      /* (g0 * v0 + g1 * v1 + g2 * v2) * scale + offset */
      const __m512 g = _mm512_add_ps(
          _mm512_add_ps(_mm512_mul_ps(g0, v[0]), _mm512_mul_ps(g1, v[1])), _mm512_mul_ps(g2, v[2]));
      const __m512 r = _mm512_add_ps(_mm512_mul_ps(g, sc), of);
      const int left = dw - j;
      const __mmask16 mk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
      _mm512_mask_storeu_ps(o + j, mk, r);
    }
  }
}

/* warp_gray_avx512 on AVX2, 8 pixels at a time (same operations, same order, unfused: the
 * file is compiled as ISO C, so the compiler does not contract them; target avx2 without fma
 * besides). The last vector of a row goes through a small buffer. */
__attribute__((target("avx2"))) static void warp_gray_avx2(const img_view *s, const float m[6],
                                                           float *dst, int dw, int dh,
                                                           const img_norm *norm) {
  const int w = s->width, h = s->height;
  const int last = (int)((ptrdiff_t)(h - 1) * s->stride + (ptrdiff_t)(w - 1) * 3);
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256 xmax = _mm256_set1_ps((float)(w - 1)), ymax = _mm256_set1_ps((float)(h - 1));
  const __m256i wm1 = _mm256_set1_epi32(w - 1), hm1 = _mm256_set1_epi32(h - 1);
  const __m256i k1 = _mm256_set1_epi32(1), k3 = _mm256_set1_epi32(3), k8 = _mm256_set1_epi32(8);
  const __m256i stride = _mm256_set1_epi32((int)s->stride), cap = _mm256_set1_epi32(last - 1);
  const __m256i ff = _mm256_set1_epi32(0xff);
  const __m256 g0 = _mm256_set1_ps(norm->gray[0]), g1 = _mm256_set1_ps(norm->gray[1]);
  const __m256 g2 = _mm256_set1_ps(norm->gray[2]);
  const __m256 sc = _mm256_set1_ps(norm->scale[0]), of = _mm256_set1_ps(norm->offset[0]);
  const __m256 m0 = _mm256_set1_ps(m[0]), m3 = _mm256_set1_ps(m[3]);
  const __m256 iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  for (int i = 0; i < dh; i++) {
    const float yc = (float)i + 0.5f;
    const __m256 bx = _mm256_set1_ps(m[0] * 0.5f + m[1] * yc + m[2] - 0.5f);
    const __m256 by = _mm256_set1_ps(m[3] * 0.5f + m[4] * yc + m[5] - 0.5f);
    float *o = dst + (size_t)i * (size_t)dw;
    for (int j = 0; j < dw; j += 8) {
      const __m256 jf = _mm256_add_ps(_mm256_set1_ps((float)j), iota);
      const __m256 x = _mm256_add_ps(bx, _mm256_mul_ps(jf, m0));
      const __m256 y = _mm256_add_ps(by, _mm256_mul_ps(jf, m3));
      /* maxps returns its second operand for NaN: NaN -> 0 as in img_tap_clamped */
      const __m256 tx = _mm256_min_ps(_mm256_max_ps(x, zero), xmax);
      const __m256 ty = _mm256_min_ps(_mm256_max_ps(y, zero), ymax);
      const __m256i ix0 = _mm256_min_epi32(_mm256_cvttps_epi32(tx), wm1);
      const __m256i iy0 = _mm256_min_epi32(_mm256_cvttps_epi32(ty), hm1);
      const __m256i ix1 = _mm256_min_epi32(_mm256_add_epi32(ix0, k1), wm1);
      const __m256i iy1 = _mm256_min_epi32(_mm256_add_epi32(iy0, k1), hm1);
      const __m256 wx = _mm256_sub_ps(tx, _mm256_cvtepi32_ps(ix0));
      const __m256 wy = _mm256_sub_ps(ty, _mm256_cvtepi32_ps(iy0));
      const __m256 wx0 = _mm256_sub_ps(one, wx), wy0 = _mm256_sub_ps(one, wy);
      const __m256i r0 = _mm256_mullo_epi32(iy0, stride), r1 = _mm256_mullo_epi32(iy1, stride);
      const __m256i c0 = _mm256_mullo_epi32(ix0, k3), c1 = _mm256_mullo_epi32(ix1, k3);
      const __m256i off[4] = {_mm256_add_epi32(r0, c0), _mm256_add_epi32(r0, c1),
                              _mm256_add_epi32(r1, c0), _mm256_add_epi32(r1, c1)};
      __m256 ch[4][3]; /* [tap a, b, e, f][R, G, B] */
      for (int t = 0; t < 4; t++) {
        const __m256i at = _mm256_min_epi32(off[t], cap);
        __m256i v = _mm256_i32gather_epi32((const int *)(const void *)s->data, at, 1);
        v = _mm256_srlv_epi32(v, _mm256_mullo_epi32(_mm256_sub_epi32(off[t], at), k8));
        ch[t][0] = _mm256_cvtepi32_ps(_mm256_and_si256(v, ff));
        ch[t][1] = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8), ff));
        ch[t][2] = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 16), ff));
      }
      __m256 v[3];
      for (int c = 0; c < 3; c++) {
        const __m256 top = _mm256_add_ps(_mm256_mul_ps(wx0, ch[0][c]), _mm256_mul_ps(wx, ch[1][c]));
        const __m256 bot = _mm256_add_ps(_mm256_mul_ps(wx0, ch[2][c]), _mm256_mul_ps(wx, ch[3][c]));
        v[c] = _mm256_add_ps(_mm256_mul_ps(wy0, top), _mm256_mul_ps(wy, bot));
      }
      const __m256 g = _mm256_add_ps(
          _mm256_add_ps(_mm256_mul_ps(g0, v[0]), _mm256_mul_ps(g1, v[1])), _mm256_mul_ps(g2, v[2]));
      const __m256 r = _mm256_add_ps(_mm256_mul_ps(g, sc), of);
      if (dw - j >= 8) {
        _mm256_storeu_ps(o + j, r);
      } else {
        float tail[8];
        _mm256_storeu_ps(tail, r);
        memcpy(o + j, tail, sizeof(float) * (size_t)(dw - j));
      }
    }
  }
}

#endif

/* floorf(x) for x in (-1, 2^31) without a libm call (the baseline x86-64 has no rounding
 * instruction): truncate, then step down below zero. The same value as floorf there. */
static inline float img_floor(float x) {
  const float t = (float)(int)x;
  return t > x ? t - 1.0f : t;
}

#ifdef IMG_X86
/* One pixel of the RGB warp whose four taps are inside the image (warp_rgb):
 * a 128-bit vector of R, G, B (and a lane that is never kept) from two 4-byte loads per source
 * row (pixel x0 and the one after it, shifted down a byte, so no byte past pixel x0 + 1 is read)
 * widened to floats, and the reference's bilinear sum and normalisation lane by lane in its
 * order, unfused. The store writes a fourth float that the next pixel overwrites; a row's last
 * pixel (last) stores three. */
__attribute__((target("avx2"))) static void rgb_blend_avx2(const uint8_t *r0, const uint8_t *r1,
                                                           float wx, float wy, __m128 sc, __m128 of,
                                                           float *o, int last) {
  int32_t u[4];
  memcpy(&u[0], r0, 4);
  memcpy(&u[1], r0 + 2, 4);
  memcpy(&u[2], r1, 4);
  memcpy(&u[3], r1 + 2, 4);
  const __m128 a = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(u[0])));
  const __m128 b = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_srli_si128(_mm_cvtsi32_si128(u[1]), 1)));
  const __m128 e = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(u[2])));
  const __m128 f = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_srli_si128(_mm_cvtsi32_si128(u[3]), 1)));
  const __m128 vx = _mm_set1_ps(wx), vx0 = _mm_set1_ps(1.0f - wx);
  const __m128 vy = _mm_set1_ps(wy), vy0 = _mm_set1_ps(1.0f - wy);
  const __m128 top = _mm_add_ps(_mm_mul_ps(vx0, a), _mm_mul_ps(vx, b));
  const __m128 bot = _mm_add_ps(_mm_mul_ps(vx0, e), _mm_mul_ps(vx, f));
  const __m128 v = _mm_add_ps(_mm_mul_ps(vy0, top), _mm_mul_ps(vy, bot));
  const __m128 r = _mm_add_ps(_mm_mul_ps(v, sc), of);
  if (!last) {
    _mm_storeu_ps(o, r);
  } else {
    _mm_storel_pi((__m64 *)o, r);
    _mm_store_ss(o + 2, _mm_movehl_ps(r, r));
  }
}

/* Eight consecutive pixels j .. j + 7 of a row of warp_rgb at once, when all their four
 * taps are inside the image (else 0: the caller does them one by one): the reference's source
 * positions (bx + j * m0, by + j * m3 or the flat row's y), floors and bilinear sums lane by
 * lane in its order, unfused, the source bytes by gathers of four bytes at pixel x0 and at x0's
 * third byte (so no byte past pixel x0 + 1 is read, as rgb_blend_avx2), one channel a vector;
 * then the 24 floats interleaved. Offsets in 32 bits: the caller checks that the image fits. */
__attribute__((target("avx2"))) static int rgb_blend8_avx2(const img_view *s, float bx, float by,
                                                           float y_row, const float m[6], int flat,
                                                           int j, const img_norm *norm, float *o) {
  const __m256 jv = _mm256_cvtepi32_ps(
      _mm256_add_epi32(_mm256_set1_epi32(j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  const __m256 x = _mm256_add_ps(_mm256_set1_ps(bx), _mm256_mul_ps(jv, _mm256_set1_ps(m[0])));
  const __m256 y = flat
                       ? _mm256_set1_ps(y_row)
                       : _mm256_add_ps(_mm256_set1_ps(by), _mm256_mul_ps(jv, _mm256_set1_ps(m[3])));
  const __m256 xf = _mm256_floor_ps(x), yf = _mm256_floor_ps(y);
  /* NaN or out of int range converts to INT_MIN, which fails x0 >= 0 */
  const __m256i x0 = _mm256_cvttps_epi32(xf), y0 = _mm256_cvttps_epi32(yf);
  const __m256i neg = _mm256_or_si256(x0, y0);
  const __m256i out = _mm256_or_si256(
      _mm256_cmpgt_epi32(_mm256_add_epi32(x0, _mm256_set1_epi32(2)), _mm256_set1_epi32(s->width)),
      _mm256_cmpgt_epi32(_mm256_add_epi32(y0, _mm256_set1_epi32(2)), _mm256_set1_epi32(s->height)));
  if (_mm256_movemask_ps(_mm256_castsi256_ps(neg)) || _mm256_movemask_epi8(out)) return 0;
  const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(y0, _mm256_set1_epi32(s->stride)),
                                       _mm256_mullo_epi32(x0, _mm256_set1_epi32(3)));
  const __m256i off1 = _mm256_add_epi32(off, _mm256_set1_epi32(s->stride));
  const __m256i two = _mm256_set1_epi32(2);
  const int *base = (const int *)(const void *)s->data;
  const __m256i g00 = _mm256_i32gather_epi32(base, off, 1);
  const __m256i g01 = _mm256_i32gather_epi32(base, _mm256_add_epi32(off, two), 1);
  const __m256i g10 = _mm256_i32gather_epi32(base, off1, 1);
  const __m256i g11 = _mm256_i32gather_epi32(base, _mm256_add_epi32(off1, two), 1);
  const __m256 wx = _mm256_sub_ps(x, xf), wy = _mm256_sub_ps(y, yf);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 wx0 = _mm256_sub_ps(one, wx), wy0 = _mm256_sub_ps(one, wy);
  const __m256i ff = _mm256_set1_epi32(0xff);
  float ch[3][8];
  for (int c = 0; c < 3; c++) {
    /* pixel x0's channel c is byte c of the first gather, pixel x0 + 1's byte c + 1 of the
       second */
    const __m256 a = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g00, 8 * c), ff));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g01, 8 * c + 8), ff));
    const __m256 e = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g10, 8 * c), ff));
    const __m256 f = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g11, 8 * c + 8), ff));
    const __m256 top = _mm256_add_ps(_mm256_mul_ps(wx0, a), _mm256_mul_ps(wx, b));
    const __m256 bot = _mm256_add_ps(_mm256_mul_ps(wx0, e), _mm256_mul_ps(wx, f));
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(wy0, top), _mm256_mul_ps(wy, bot));
    _mm256_storeu_ps(ch[c], _mm256_add_ps(_mm256_mul_ps(v, _mm256_set1_ps(norm->scale[c])),
                                          _mm256_set1_ps(norm->offset[c])));
  }
  for (int p = 0; p < 8; p++) {
    o[3 * p] = ch[0][p];
    o[3 * p + 1] = ch[1][p];
    o[3 * p + 2] = ch[2][p];
  }
  return 1;
}
#endif

/* img_warp_affine_f32 for channels 3, either border: the face-landmark crop (rotated, zero), the
 * face-api expression crop (replicate) and the detector's letterbox (axis-aligned, zero), one
 * path. Per output pixel: the reference's source position and border tests, its floor
 * (img_floor in plain C: no libm call), and where all four taps are inside the image, the
 * reference's bilinear sum and normalisation in its order, unfused: rgb_blend_avx2 with vec
 * (x86-64, instantiated for AVX2), else channel by channel (the portable sibling, for every ISA);
 * other pixels (border taps, outside, NaN) go through img_sample_rgb with the border, as in the
 * reference. Inside the image both borders' taps are the same (img_tap_clamped of an x in
 * [0, w - 1) is floor(x) and x - floor(x)), so the output is bit-identical to the reference
 * (test_image checks it for both). flat: m[3] is zero (the letterbox), so y is the row's (a zero
 * step changes no sum) and its tests and floor leave the pixel loop. */
static inline __attribute__((always_inline)) void warp_rgb(const img_view *s, const float m[6],
                                                           float *dst, int dw, int dh,
                                                           const img_norm *norm, const int rep,
                                                           const int vec, const int flat) {
  const int w = s->width, h = s->height;
  const float wf = (float)w, hf = (float)h;
#ifdef IMG_X86
  const __m128 sc = _mm_setr_ps(norm->scale[0], norm->scale[1], norm->scale[2], 0.0f);
  const __m128 of = _mm_setr_ps(norm->offset[0], norm->offset[1], norm->offset[2], 0.0f);
  /* the gathers' 32-bit offsets reach the last row's pixels */
  const int gather_ok = s->stride >= 0 && (int64_t)(h + 1) * s->stride < INT32_MAX;
#else
  (void)vec;
#endif
  for (int i = 0; i < dh; i++) {
    const float yc = (float)i + 0.5f;
    const float bx = m[0] * 0.5f + m[1] * yc + m[2] - 0.5f;
    const float by = m[3] * 0.5f + m[4] * yc + m[5] - 0.5f;
    const float y_row = by + 0.0f * m[3];        /* every pixel's y when flat */
    float *o = dst + (size_t)i * (size_t)dw * 3; /* row i of (dh, dw, 3) */
#ifdef IMG_X86
    int single_until = 0; /* pixels before it go one by one (a block of eight failed) */
#endif
    for (int j = 0; j < dw; j++, o += 3) {
#ifdef IMG_X86
      if (vec && gather_ok && j >= single_until && j + 8 <= dw) {
        if (rgb_blend8_avx2(s, bx, by, y_row, m, flat, j, norm, o)) {
          j += 7, o += 21;
          continue;
        }
        single_until = j + 8;
      }
#endif
      const float x = bx + (float)j * m[0], y = flat ? y_row : by + (float)j * m[3];
      if (x > -1.0f && x < wf && y > -1.0f && y < hf) {
        const float xf = vec ? floorf(x) : img_floor(x), yf = vec ? floorf(y) : img_floor(y);
        const int x0 = (int)xf, y0 = (int)yf;
        if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
          const uint8_t *r0 = s->data + (ptrdiff_t)y0 * s->stride + (ptrdiff_t)x0 * 3;
          const uint8_t *r1 = r0 + s->stride;
          const float wx = x - xf, wy = y - yf;
#ifdef IMG_X86
          if (vec) {
            rgb_blend_avx2(r0, r1, wx, wy, sc, of, o, j + 1 == dw);
            continue;
          }
#endif
          const float wx0 = 1.0f - wx, wy0 = 1.0f - wy;
          for (int c = 0; c < 3; c++) {
            const float v =
                wy0 * (wx0 * r0[c] + wx * r0[3 + c]) + wy * (wx0 * r1[c] + wx * r1[3 + c]);
            o[c] = v * norm->scale[c] + norm->offset[c];
          }
          continue;
        }
      }
      float v[3];
      img_sample_rgb(s, x, y, rep, v);
      o[0] = v[0] * norm->scale[0] + norm->offset[0];
      o[1] = v[1] * norm->scale[1] + norm->offset[1];
      o[2] = v[2] * norm->scale[2] + norm->offset[2];
    }
  }
}

static void warp_rgb_c(const img_view *s, const float m[6], float *dst, int dw, int dh,
                       const img_norm *norm, int rep) {
  if (rep)
    warp_rgb(s, m, dst, dw, dh, norm, 1, 0, 0);
  else if (m[3] == 0.0f)
    warp_rgb(s, m, dst, dw, dh, norm, 0, 0, 1);
  else
    warp_rgb(s, m, dst, dw, dh, norm, 0, 0, 0);
}

#ifdef IMG_X86
/* flatten: rgb_blend_avx2, which warp_rgb cannot inline (it has no target), is inlined here. */
__attribute__((target("avx2"), flatten)) static void warp_rgb_avx2(const img_view *s,
                                                                   const float m[6], float *dst,
                                                                   int dw, int dh,
                                                                   const img_norm *norm, int rep) {
  if (rep)
    warp_rgb(s, m, dst, dw, dh, norm, 1, 1, 0);
  else if (m[3] == 0.0f)
    warp_rgb(s, m, dst, dw, dh, norm, 0, 1, 1);
  else
    warp_rgb(s, m, dst, dw, dh, norm, 0, 1, 0);
}
#endif

/* img_warp_affine_f32 with the fast paths (the RGB warp, vector or plain C, and the gray
 * replicate warps) allowed up to cap; ref: the plain per-pixel loop only
 * (img_warp_affine_f32_ref). */
static int warp_affine(const img_view *src, const float m[6], float *dst, int dw, int dh,
                       int channels, const img_norm *norm, img_border border, emo_isa cap,
                       int ref) {
  if (!img_view_ok(src) || !m || !dst || !norm || dw <= 0 || dh <= 0 ||
      (channels != 1 && channels != 3) ||
      (border != IMG_BORDER_ZERO && border != IMG_BORDER_REPLICATE))
    return EMO_EINVAL;
  const int rep = border == IMG_BORDER_REPLICATE;
#ifdef IMG_X86
  const emo_isa isa = emo_isa_pick(cap);
#endif
  if (!ref && channels == 3) {
#ifdef IMG_X86
    if (isa != EMO_ISA_SCALAR) {
      warp_rgb_avx2(src, m, dst, dw, dh, norm, rep);
      return EMO_OK;
    }
#endif
    warp_rgb_c(src, m, dst, dw, dh, norm, rep);
    return EMO_OK;
  }
#ifdef IMG_X86
  if (isa != EMO_ISA_SCALAR && channels == 1 && rep) {
    const ptrdiff_t end = (ptrdiff_t)(src->height - 1) * src->stride + (ptrdiff_t)src->width * 3;
    if (end >= 4 && end <= INT32_MAX) {
      if (isa == EMO_ISA_AVX512)
        warp_gray_avx512(src, m, dst, dw, dh, norm);
      else
        warp_gray_avx2(src, m, dst, dw, dh, norm);
      return EMO_OK;
    }
  }
#else
  (void)cap;
#endif
  const float g0 = norm->gray[0], g1 = norm->gray[1], g2 = norm->gray[2];
  for (int i = 0; i < dh; i++) {
    /* index coordinate of dst pixel (j, i) = M * (j + 0.5, i + 0.5) - 0.5 = b + j * step */
    const float yc = (float)i + 0.5f;
    const float bx = m[0] * 0.5f + m[1] * yc + m[2] - 0.5f;
    const float by = m[3] * 0.5f + m[4] * yc + m[5] - 0.5f;
    float *o = dst + (size_t)i * (size_t)dw * (size_t)channels; /* row i of (dh, dw, C) */
    for (int j = 0; j < dw; j++) {
      float v[3];
      img_sample_rgb(src, bx + (float)j * m[0], by + (float)j * m[3], rep, v);
      if (channels == 3) {
        o[0] = v[0] * norm->scale[0] + norm->offset[0];
        o[1] = v[1] * norm->scale[1] + norm->offset[1];
        o[2] = v[2] * norm->scale[2] + norm->offset[2];
        o += 3;
      } else {
        *o++ = (g0 * v[0] + g1 * v[1] + g2 * v[2]) * norm->scale[0] + norm->offset[0];
      }
    }
  }
  return EMO_OK;
}

int img_warp_affine_f32(const img_view *src, const float m[6], float *dst, int dw, int dh,
                        int channels, const img_norm *norm, img_border border) {
  return warp_affine(src, m, dst, dw, dh, channels, norm, border, EMO_ISA_AUTO, 0);
}

int img_warp_affine_f32_isa(const img_view *src, const float m[6], float *dst, int dw, int dh,
                            int channels, const img_norm *norm, img_border border, emo_isa cap) {
  return warp_affine(src, m, dst, dw, dh, channels, norm, border, cap, 0);
}

int img_warp_affine_f32_ref(const img_view *src, const float m[6], float *dst, int dw, int dh,
                            int channels, const img_norm *norm, img_border border) {
  return warp_affine(src, m, dst, dw, dh, channels, norm, border, EMO_ISA_SCALAR, 1);
}

/* ---------------------------------------------------------------- letterbox */

int img_letterbox_f32(const img_view *src, float *dst, int dw, int dh, const img_norm *norm,
                      img_letterbox *lb, emo_isa cap) {
  if (!img_view_ok(src) || !dst || !norm || dw <= 0 || dh <= 0) return EMO_EINVAL;
  img_letterbox t;
  const float sx = (float)dw / (float)src->width, sy = (float)dh / (float)src->height;
  t.scale = sx < sy ? sx : sy;
  t.pad_x = 0.5f * ((float)dw - (float)src->width * t.scale);
  t.pad_y = 0.5f * ((float)dh - (float)src->height * t.scale);
  t.dst_w = dw;
  t.dst_h = dh;
  /* dst -> src: (p - pad) / scale */
  const float inv = 1.0f / t.scale;
  const float m[6] = {inv, 0.0f, -t.pad_x * inv, 0.0f, inv, -t.pad_y * inv};
  if (lb) *lb = t;
  return warp_affine(src, m, dst, dw, dh, 3, norm, IMG_BORDER_ZERO, cap, 0);
}

void img_letterbox_to_image(const img_letterbox *lb, float u, float v, float *x, float *y) {
  *x = (u * (float)lb->dst_w - lb->pad_x) / lb->scale;
  *y = (v * (float)lb->dst_h - lb->pad_y) / lb->scale;
}

void img_letterbox_to_net(const img_letterbox *lb, float x, float y, float *u, float *v) {
  *u = (x * lb->scale + lb->pad_x) / (float)lb->dst_w;
  *v = (y * lb->scale + lb->pad_y) / (float)lb->dst_h;
}
