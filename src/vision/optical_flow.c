/* optical_flow.c: image pyramids, pyramidal Lucas-Kanade point tracking and the Median Flow
 * box tracker (see optical_flow.h for the papers followed and the coordinate conventions).
 *
 * Speed notes (the budget is well under 1 ms per frame for ~4 faces): no gradient images are
 * built; for each point and level the previous frame's window is sampled once (bilinear, one
 * set of weights per window since the fractional offset is the same for all its pixels) with a
 * 1-pixel margin and Scharr-differentiated in place, which equals interpolating Scharr
 * gradient images. Windows are stored with rows padded to a multiple of OF_VW = 16 floats
 * (padding has zero gradient, so it adds nothing to the LK sums): the 15-pixel rows of the
 * box tracker's window are one 16-float vector each, and the point solver is compiled once
 * per ISA (AVX-512, AVX2+FMA, baseline) and picked per pyramid under an emo_isa cap. A
 * window fully inside the image is sampled without clamping; otherwise coordinates are
 * clamped to the border (replicate).
 *
 * Left to others: frame decoding, colour handling beyond BT.601 luma, the choice of which
 * boxes to track and when to re-detect (pipeline/). */
#include "vision/optical_flow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OF_MAX_DIM 32768
#define OF_MIN_LEVEL_SIDE 8
#define OF_EPS 0.01f     /* LK stops when the update is shorter than this (pixels) */
#define OF_MIN_EIG 0.01f /* smallest eigenvalue of G / window area, (gray levels / px)^2 */
#define OF_VW 16         /* floats per vector in the window loops */
#define OF_PAD_W(win) (((2 * (win) + 1) + OF_VW - 1) & ~(OF_VW - 1))
/* Largest window buffers: rows 2*win+3, padded columns + OF_VW. */
#define OF_PROWS (2 * OF_MAX_WIN + 3)
#define OF_PCOLS (OF_PAD_W(OF_MAX_WIN) + OF_VW)

struct of_pyramid {
  int built;  /* 1 after a successful build */
  int levels; /* levels built (1..OF_MAX_LEVELS) */
  int w[OF_MAX_LEVELS], h[OF_MAX_LEVELS];
  float *img[OF_MAX_LEVELS]; /* (h[l], w[l]) gray 0..255, row stride w[l] */
  float scale;               /* frame pixels per level-0 pixel (the integer k) */
  int frame_w, frame_h;
  float *buf;     /* all levels, then the (h0, w1) decimation temp */
  size_t buf_cap; /* floats */
  void *acc;      /* gray row accumulator, 12 * w0 bytes + slack */
  emo_isa isa;    /* path of the downscale and of tracks from this pyramid (never AUTO) */
  size_t acc_cap; /* bytes */
};

int of_pyramid_create(of_pyramid **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "of_pyramid_create: NULL out");
  *out = calloc(1, sizeof **out);
  if (!*out) return emoi_fail(err, EMO_ENOMEM, "of_pyramid_create: out of memory");
  (*out)->isa = emo_isa_pick(EMO_ISA_AUTO);
  return EMO_OK;
}

emo_isa of_pyramid_set_isa(of_pyramid *p, emo_isa cap) {
  if (p) p->isa = emo_isa_pick(cap);
  return p ? p->isa : EMO_ISA_SCALAR;
}

void of_pyramid_destroy(of_pyramid **p) {
  if (!p || !*p) return;
  free((*p)->buf);
  free((*p)->acc);
  free(*p);
  *p = NULL;
}

int of_pyramid_info(const of_pyramid *p, int *w0, int *h0, int *levels, float *scale) {
  if (!p || !p->built) return EMO_EINVAL;
  if (w0) *w0 = p->w[0];
  if (h0) *h0 = p->h[0];
  if (levels) *levels = p->levels;
  if (scale) *scale = p->scale;
  return EMO_OK;
}

/* The point solver and the gray downscale are written once (always-inline bodies) and
 * compiled per ISA below: AVX-512F (solver only), AVX2+FMA and the baseline, picked per call
 * from the pyramid's path (of_pyramid_set_isa), so a test or a timing can force each one.
 *
 * Why the AVX2 solver has a body of its own (lk_point_body8): with the 16-float body it gained
 * nothing over the baseline (bench_flow --cpu, track_4_boxes: 0.94-0.97 ms AVX2, 0.87-0.89 ms
 * baseline, 0.27-0.34 ms AVX-512): an of_vf is one zmm register but two ymm ones, and the LK
 * loops keep about ten of them live (four accumulators, four bilinear weights, the loads), more
 * than AVX2's sixteen ymm registers; 45 % of that copy's instructions touched the stack. The
 * 8-float body runs each 16-column chunk as two halves with an accumulator per half and sums the
 * low lanes before the high ones, so every lane does what it did: bit-identical, and measured
 * 0.45-0.46 ms against 1.07-1.12 ms for the baseline and 0.35 ms for AVX-512 in one run
 * (`bench_flow --cpu --runs 300 --isa avx2|scalar|avx512`, interleaved, loaded machine).
 * The file is ISO C (no FP contraction), and every per-ISA copy does the same float operations
 * in the same order, so all paths give bit-identical results (test_optical_flow checks). */
#ifdef __clang__ /* clang contracts a * b + c within an expression even in ISO C mode */
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define OF_X86 1
#endif
#define OF_BODY static inline __attribute__((always_inline))

/* BT.601 luma weights. */
#define OF_WR 0.299f
#define OF_WG 0.587f
#define OF_WB 0.114f

/* Gray + area downscale by k of the RGB frame into dst (h0, w0). acc: 12*w0 bytes. */
OF_BODY void gray_downscale_body(const uint8_t *rgb, ptrdiff_t stride, int k, int w0, int h0,
                                 float *dst, void *acc) {
  if (k == 1) {
    for (int y = 0; y < h0; y++) {
      const uint8_t *r = rgb + (ptrdiff_t)y * stride;
      float *d = dst + (size_t)y * (size_t)w0;
      for (int x = 0; x < w0; x++)
        d[x] = OF_WR * r[3 * x] + OF_WG * r[3 * x + 1] + OF_WB * r[3 * x + 2];
    }
  } else if (k == 2) {
    uint16_t *s = acc; /* (6 * w0) column sums of two rows */
    const float wr = OF_WR * 0.25f, wg = OF_WG * 0.25f, wb = OF_WB * 0.25f;
    for (int y = 0; y < h0; y++) {
      const uint8_t *r0 = rgb + (ptrdiff_t)(2 * y) * stride, *r1 = r0 + stride;
      float *d = dst + (size_t)y * (size_t)w0;
      for (int j = 0; j < 6 * w0; j++) s[j] = (uint16_t)(r0[j] + r1[j]);
      for (int x = 0; x < w0; x++) {
        const uint16_t *q = s + 6 * x;
        d[x] = wr * (float)(q[0] + q[3]) + wg * (float)(q[1] + q[4]) + wb * (float)(q[2] + q[5]);
      }
    }
  } else {
    uint32_t *s = acc; /* (w0, 3) channel sums of a k x k block */
    const float inv = 1.0f / ((float)k * (float)k);
    for (int y = 0; y < h0; y++) {
      memset(s, 0, (size_t)w0 * 3 * sizeof *s);
      for (int ry = 0; ry < k; ry++) {
        const uint8_t *r = rgb + (ptrdiff_t)(y * k + ry) * stride;
        for (int x = 0; x < w0; x++) {
          const uint8_t *q = r + (size_t)x * (size_t)k * 3;
          uint32_t sr = 0, sg = 0, sb = 0;
          for (int kx = 0; kx < k; kx++) {
            sr += q[3 * kx];
            sg += q[3 * kx + 1];
            sb += q[3 * kx + 2];
          }
          s[3 * x] += sr;
          s[3 * x + 1] += sg;
          s[3 * x + 2] += sb;
        }
      }
      float *d = dst + (size_t)y * (size_t)w0;
      for (int x = 0; x < w0; x++)
        d[x] = inv * (OF_WR * (float)s[3 * x] + OF_WG * (float)s[3 * x + 1] +
                      OF_WB * (float)s[3 * x + 2]);
    }
  }
}

#define OF_GD_ARGS \
  const uint8_t *rgb, ptrdiff_t stride, int k, int w0, int h0, float *dst, void *acc
static void gray_downscale_scalar(OF_GD_ARGS) {
  gray_downscale_body(rgb, stride, k, w0, h0, dst, acc);
}
#ifdef OF_X86
__attribute__((target("avx2,fma"))) static void gray_downscale_avx2(OF_GD_ARGS) {
  gray_downscale_body(rgb, stride, k, w0, h0, dst, acc);
}
#endif

/* The AVX-512 path takes the AVX2 copy: its byte and 16-bit sums need AVX512BW to vectorise at
 * 512 bits, and the AVX512F-only copy measured 2x slower than the AVX2 one (bench_flow
 * pyramid_build, 0.83 against 0.42 ms of CPU time). Every AVX-512 CPU has AVX2 and FMA. */
static void gray_downscale(emo_isa isa, OF_GD_ARGS) {
#ifdef OF_X86
  if (isa == EMO_ISA_AVX512 || isa == EMO_ISA_AVX2)
    return gray_downscale_avx2(rgb, stride, k, w0, h0, dst, acc);
#endif
  (void)isa;
  gray_downscale_scalar(rgb, stride, k, w0, h0, dst, acc);
}

/* [1 2 1]/4 blur and 2x decimation: src (h, w) -> dst ((h+1)/2, (w+1)/2), dst pixel x on src
 * pixel 2x, border replicated. tmp: (h, (w+1)/2). */
static void pyr_down(const float *src, int w, int h, float *dst, float *tmp) {
  const int w1 = (w + 1) / 2, h1 = (h + 1) / 2;
  for (int y = 0; y < h; y++) {
    const float *s = src + (size_t)y * (size_t)w;
    float *t = tmp + (size_t)y * (size_t)w1;
    if (w == 1) {
      t[0] = s[0];
      continue;
    }
    t[0] = 0.75f * s[0] + 0.25f * s[1];
    int x = 1;
    for (; 2 * x + 1 < w; x++) t[x] = 0.25f * (s[2 * x - 1] + s[2 * x + 1]) + 0.5f * s[2 * x];
    for (; x < w1; x++) t[x] = 0.25f * s[2 * x - 1] + 0.75f * s[2 * x]; /* 2x == w-1 */
  }
  for (int y = 0; y < h1; y++) {
    const float *tm = tmp + (size_t)(y > 0 ? 2 * y - 1 : 0) * (size_t)w1;
    const float *t0 = tmp + (size_t)(2 * y) * (size_t)w1;
    const float *tp = tmp + (size_t)(2 * y + 1 < h ? 2 * y + 1 : h - 1) * (size_t)w1;
    float *d = dst + (size_t)y * (size_t)w1;
    for (int x = 0; x < w1; x++) d[x] = 0.25f * (tm[x] + tp[x]) + 0.5f * t0[x];
  }
}

/* Lays out p's levels for a level 0 of w0 x h0 (up to `levels` levels, none smaller than
 * OF_MIN_LEVEL_SIDE), growing its buffers when needed; *tmp gets the decimation scratch. */
static int pyramid_layout(of_pyramid *p, int w0, int h0, int levels, float **tmp, emoi_err *err) {
  int w[OF_MAX_LEVELS], h[OF_MAX_LEVELS], n = 1;
  w[0] = w0;
  h[0] = h0;
  size_t total = (size_t)w0 * (size_t)h0;
  while (n < levels) {
    int wn = (w[n - 1] + 1) / 2, hn = (h[n - 1] + 1) / 2;
    if (wn < OF_MIN_LEVEL_SIDE || hn < OF_MIN_LEVEL_SIDE) break;
    w[n] = wn;
    h[n] = hn;
    total += (size_t)wn * (size_t)hn;
    n++;
  }
  const size_t tmp_n = (size_t)h0 * (size_t)((w0 + 1) / 2);
  const size_t need = total + tmp_n + 16;
  if (need > p->buf_cap) {
    float *b = realloc(p->buf, need * sizeof *b);
    if (!b) return emoi_fail(err, EMO_ENOMEM, "of_pyramid_build: out of memory (%zu floats)", need);
    p->buf = b;
    p->buf_cap = need;
  }
  const size_t acc_need = (size_t)w0 * 12 + 64;
  if (acc_need > p->acc_cap) {
    void *a = realloc(p->acc, acc_need);
    if (!a)
      return emoi_fail(err, EMO_ENOMEM, "of_pyramid_build: out of memory (%zu bytes)", acc_need);
    p->acc = a;
    p->acc_cap = acc_need;
  }
  float *at = p->buf;
  for (int l = 0; l < n; l++) {
    p->w[l] = w[l];
    p->h[l] = h[l];
    p->img[l] = at;
    at += (size_t)w[l] * (size_t)h[l];
  }
  for (int l = n; l < OF_MAX_LEVELS; l++) {
    p->w[l] = p->h[l] = 0;
    p->img[l] = NULL;
  }
  p->levels = n;
  *tmp = at;
  return EMO_OK;
}

/* Builds levels 1.. from level 0 and marks p built for a width x height frame at scale k. */
static void pyramid_finish(of_pyramid *p, float *tmp, int k, int width, int height) {
  for (int l = 1; l < p->levels; l++)
    pyr_down(p->img[l - 1], p->w[l - 1], p->h[l - 1], p->img[l], tmp);
  p->scale = (float)k;
  p->frame_w = width;
  p->frame_h = height;
  p->built = 1;
}

int of_pyramid_build(of_pyramid *p, const uint8_t *rgb, int width, int height, ptrdiff_t stride,
                     int max_side, int levels, emoi_err *err) {
  if (!p || !rgb) return emoi_fail(err, EMO_EINVAL, "of_pyramid_build: NULL argument");
  p->built = 0;
  if (width < 1 || height < 1 || width > OF_MAX_DIM || height > OF_MAX_DIM)
    return emoi_fail(err, EMO_EINVAL, "of_pyramid_build: frame %dx%d outside 1..%d", width, height,
                     OF_MAX_DIM);
  if (stride < (ptrdiff_t)width * 3)
    return emoi_fail(err, EMO_EINVAL, "of_pyramid_build: stride %td < 3 * width %d", stride, width);
  if (max_side < 16)
    return emoi_fail(err, EMO_EINVAL, "of_pyramid_build: max_side %d < 16", max_side);
  if (levels < 1 || levels > OF_MAX_LEVELS)
    return emoi_fail(err, EMO_EINVAL, "of_pyramid_build: levels %d outside 1..%d", levels,
                     OF_MAX_LEVELS);
  const int longer = width > height ? width : height;
  const int k = (longer + max_side - 1) / max_side;
  const int w0 = width / k, h0 = height / k;
  if (w0 < 1 || h0 < 1)
    return emoi_fail(err, EMO_EINVAL, "of_pyramid_build: frame %dx%d too elongated for max_side %d",
                     width, height, max_side);
  float *tmp;
  int rc = pyramid_layout(p, w0, h0, levels, &tmp, err);
  if (rc != EMO_OK) return rc;
  gray_downscale(p->isa, rgb, stride, k, w0, h0, p->img[0], p->acc);
  pyramid_finish(p, tmp, k, width, height);
  return EMO_OK;
}

int of_pyramid_build_gray(of_pyramid *p, const uint8_t *gray, int gray_w, int gray_h,
                          ptrdiff_t gray_stride, int k, int width, int height, int levels,
                          emoi_err *err) {
  if (!p || !gray) return emoi_fail(err, EMO_EINVAL, "of_pyramid_build_gray: NULL argument");
  p->built = 0;
  if (width < 1 || height < 1 || width > OF_MAX_DIM || height > OF_MAX_DIM || k < 1 ||
      gray_w != width / k || gray_h != height / k || gray_w < 1 || gray_h < 1 ||
      gray_stride < gray_w)
    return emoi_fail(err, EMO_EINVAL,
                     "of_pyramid_build_gray: %dx%d gray (stride %td) does not match a %dx%d "
                     "frame at 1/%d",
                     gray_w, gray_h, gray_stride, width, height, k);
  if (levels < 1 || levels > OF_MAX_LEVELS)
    return emoi_fail(err, EMO_EINVAL, "of_pyramid_build_gray: levels %d outside 1..%d", levels,
                     OF_MAX_LEVELS);
  float *tmp;
  int rc = pyramid_layout(p, gray_w, gray_h, levels, &tmp, err);
  if (rc != EMO_OK) return rc;
  for (int y = 0; y < gray_h; y++) {
    const uint8_t *g = gray + (ptrdiff_t)y * gray_stride;
    float *d = p->img[0] + (size_t)y * (size_t)gray_w;
    for (int x = 0; x < gray_w; x++) d[x] = (float)g[x];
  }
  pyramid_finish(p, tmp, k, width, height);
  return EMO_OK;
}

/* OF_VW-wide float vectors (GCC/clang vector extension: one AVX-512 register, two AVX2 ones,
 * four SSE ones, or scalar code elsewhere). Unaligned loads/stores go through memcpy. */
#if !defined(__GNUC__)
#error "optical_flow.c needs the GCC/clang vector extension (vector_size)"
#endif
typedef float of_vf __attribute__((vector_size(OF_VW * sizeof(float))));
/* Macros, not functions: a 64-byte vector never crosses a call, so nothing depends on the
 * vector calling convention of the ISA a clone is built for. */
#define vf_set(x) ((of_vf){0} + (float)(x))
#define vf_ld(p)                 \
  __extension__({                \
    of_vf v_;                    \
    memcpy(&v_, (p), sizeof v_); \
    v_;                          \
  })
#define vf_st(p, v)              \
  do {                           \
    const of_vf t_ = (v);        \
    memcpy((p), &t_, sizeof t_); \
  } while (0)
#define vf_sum(v)                                    \
  __extension__({                                    \
    const of_vf u_ = (v);                            \
    float s_ = 0;                                    \
    for (int i_ = 0; i_ < OF_VW; i_++) s_ += u_[i_]; \
    s_;                                              \
  })

/* Bilinear weights and integer origin for sampling at (x0 + c, y0 + r). */
typedef struct bil {
  int ix, iy;
  float w00, w01, w10, w11;
} bil;

static inline bil bil_at(float x0, float y0) {
  bil b;
  const float fx0 = floorf(x0), fy0 = floorf(y0);
  const float ax = x0 - fx0, ay = y0 - fy0;
  /* callers bound |x0|, |y0| < 2^21, so the int conversions are safe */
  b.ix = (int)fx0;
  b.iy = (int)fy0;
  b.w00 = (1 - ax) * (1 - ay);
  b.w01 = ax * (1 - ay);
  b.w10 = (1 - ax) * ay;
  b.w11 = ax * ay;
  return b;
}

/* 1 when sampling cols x rows at b reads only pixels inside (h, w) without clamping. */
static inline int bil_inside(const bil *b, int w, int h, int cols, int rows) {
  return b->ix >= 0 && b->iy >= 0 && b->ix + cols < w && b->iy + rows < h;
}

/* Samples img (h, w) bilinearly at (x0 + c, y0 + r) for r < rows, c < cols (cols a multiple
 * of OF_VW) into dst (rows, dst_stride). Fast path when every pixel read lies inside the image;
 * otherwise sample coordinates are clamped to the image (replicated border). */
static inline __attribute__((always_inline)) void sample_window(const float *img, int w, int h,
                                                                float x0, float y0, int cols,
                                                                int rows, float *dst,
                                                                int dst_stride) {
  const bil b = bil_at(x0, y0);
  if (bil_inside(&b, w, h, cols, rows)) {
    const of_vf a00 = vf_set(b.w00), a01 = vf_set(b.w01), a10 = vf_set(b.w10), a11 = vf_set(b.w11);
    for (int r = 0; r < rows; r++) {
      const float *s0 = img + (size_t)(b.iy + r) * (size_t)w + b.ix, *s1 = s0 + w;
      float *d = dst + (size_t)r * (size_t)dst_stride;
      for (int c = 0; c < cols; c += OF_VW)
        vf_st(d + c, a00 * vf_ld(s0 + c) + a01 * vf_ld(s0 + c + 1) + a10 * vf_ld(s1 + c) +
                         a11 * vf_ld(s1 + c + 1));
    }
    return;
  }
  for (int r = 0; r < rows; r++) {
    float *d = dst + (size_t)r * (size_t)dst_stride;
    for (int c = 0; c < cols; c++) {
      float x = x0 + (float)c, y = y0 + (float)r;
      x = x < 0 ? 0 : (x > (float)(w - 1) ? (float)(w - 1) : x);
      y = y < 0 ? 0 : (y > (float)(h - 1) ? (float)(h - 1) : y);
      int xi = (int)x, yi = (int)y;
      float fx = x - (float)xi, fy = y - (float)yi;
      int xj = xi + 1 < w ? xi + 1 : xi, yj = yi + 1 < h ? yi + 1 : yi;
      const float *s0 = img + (size_t)yi * (size_t)w, *s1 = img + (size_t)yj * (size_t)w;
      d[c] = (1 - fx) * (1 - fy) * s0[xi] + fx * (1 - fy) * s0[xj] + (1 - fx) * fy * s1[xi] +
             fx * fy * s1[xj];
    }
  }
}

/* LK stops when the update is shorter than OF_EPS on level 0; coarser levels only need to
 * hand a guess to the next finer level, which corrects it, so they stop at OF_EPS_COARSE. */
#define OF_EPS_COARSE 0.05f

/* Pyramidal LK for one point (level-0 coords px, py) over nlev levels, starting from the
 * displacement guess (guess_x, guess_y) in level-0 pixels (0, 0 for none). Writes the tracked
 * point to *ox, *oy (the input point on failure) and, when ncc is non-NULL, the normalized
 * cross-correlation of the level-0 windows at the start and end points. Returns 1 on
 * success, 0 on failure. */
OF_BODY int lk_point_body(const of_pyramid *P, const of_pyramid *Q, int nlev, float px, float py,
                          float guess_x, float guess_y, int win, int max_iter, float *ox, float *oy,
                          float *ncc) {
  const int side = 2 * win + 1, pw = OF_PAD_W(win), pc = pw + OF_VW;
  float patch[OF_PROWS * OF_PCOLS]; /* (side + 2, pc) prev window with 1-px margin */
  float ip[OF_PROWS * OF_PCOLS];    /* (side, pw) prev window, padding columns 0 */
  float gx[OF_PROWS * OF_PCOLS];    /* (side, pw) Scharr d/dx, padding columns 0 */
  float gy[OF_PROWS * OF_PCOLS];    /* (side, pw) Scharr d/dy, padding columns 0 */
  float jp[OF_PROWS * OF_PCOLS];    /* (side, pw) next window (clamped path, NCC) */
  of_vf mask;                       /* lanes of the last OF_VW columns inside the window */
  for (int t = 0; t < OF_VW; t++) mask[t] = pw - OF_VW + t < side ? 1.0f : 0.0f;
  const of_vf c3 = vf_set(3.0f / 32), c10 = vf_set(10.0f / 32);
  /* guess at the current level: the initial displacement (level-0 px) scaled to the top */
  float g_x = guess_x / (float)(1 << (nlev - 1)), g_y = guess_y / (float)(1 << (nlev - 1));
  *ox = px;
  *oy = py;
  if (ncc) *ncc = 0;
  for (int L = nlev - 1; L >= 0; L--) {
    const float *I = P->img[L], *J = Q->img[L];
    const int W = P->w[L], H = P->h[L];
    const float s = 1.0f / (float)(1 << L);
    const float ux = px * s, uy = py * s;
    sample_window(I, W, H, ux - (float)(win + 1), uy - (float)(win + 1), pc, side + 2, patch, pc);
    of_vf vxx = vf_set(0), vxy = vf_set(0), vyy = vf_set(0);
    for (int r = 0; r < side; r++) {
      const float *a = patch + (size_t)r * pc, *b = a + pc, *c = b + pc;
      float *o = ip + (size_t)r * pw, *dx = gx + (size_t)r * pw, *dy = gy + (size_t)r * pw;
      for (int q = 0; q < pw; q += OF_VW) {
        const of_vf m = q + OF_VW < pw ? vf_set(1) : mask;
        const of_vf a0 = vf_ld(a + q), a1 = vf_ld(a + q + 1), a2 = vf_ld(a + q + 2);
        const of_vf c0 = vf_ld(c + q), c1 = vf_ld(c + q + 1), c2 = vf_ld(c + q + 2);
        const of_vf b0 = vf_ld(b + q), b1 = vf_ld(b + q + 1), b2 = vf_ld(b + q + 2);
        const of_vf ddx = m * (c3 * ((a2 - a0) + (c2 - c0)) + c10 * (b2 - b0));
        const of_vf ddy = m * (c3 * ((c0 - a0) + (c2 - a2)) + c10 * (c1 - a1));
        vf_st(o + q, m * b1);
        vf_st(dx + q, ddx);
        vf_st(dy + q, ddy);
        vxx += ddx * ddx;
        vxy += ddx * ddy;
        vyy += ddy * ddy;
      }
    }
    const float gxx = vf_sum(vxx), gxy = vf_sum(vxy), gyy = vf_sum(vyy);
    const float area = (float)(side * side);
    const float tr = gxx + gyy, df = gxx - gyy;
    const float min_eig = 0.5f * (tr - sqrtf(df * df + 4 * gxy * gxy)) / area;
    const float det = gxx * gyy - gxy * gxy;
    if (!(min_eig >= OF_MIN_EIG) || !(det > 0)) return 0;
    const float i11 = gyy / det, i12 = -gxy / det, i22 = gxx / det;
    const float eps = L > 0 ? OF_EPS_COARSE : OF_EPS;
    float v_x = 0, v_y = 0;
    for (int it = 0; it < max_iter; it++) {
      const float cx = ux + g_x + v_x, cy = uy + g_y + v_y;
      if (!(cx > (float)(-win - 1) && cx < (float)(W + win) && cy > (float)(-win - 1) &&
            cy < (float)(H + win)))
        return 0; /* window left the image (or NaN) */
      const bil bl = bil_at(cx - (float)win, cy - (float)win);
      of_vf bx0 = vf_set(0), by0 = vf_set(0), bx1 = vf_set(0), by1 = vf_set(0);
      if (bil_inside(&bl, W, H, pw, side)) {
        /* sample next's window and accumulate b = sum (I - J) grad I in one pass; even and
         * odd rows feed two independent accumulator chains */
        const of_vf a00 = vf_set(bl.w00), a01 = vf_set(bl.w01), a10 = vf_set(bl.w10),
                    a11 = vf_set(bl.w11);
        for (int r = 0; r < side; r++) {
          const float *s0 = J + (size_t)(bl.iy + r) * (size_t)W + bl.ix, *s1 = s0 + W;
          const float *o = ip + (size_t)r * pw, *dx = gx + (size_t)r * pw,
                      *dy = gy + (size_t)r * pw;
          for (int q = 0; q < pw; q += OF_VW) {
            const of_vf jv = a00 * vf_ld(s0 + q) + a01 * vf_ld(s0 + q + 1) + a10 * vf_ld(s1 + q) +
                             a11 * vf_ld(s1 + q + 1);
            const of_vf e = vf_ld(o + q) - jv;
            if (r & 1) {
              bx1 += e * vf_ld(dx + q);
              by1 += e * vf_ld(dy + q);
            } else {
              bx0 += e * vf_ld(dx + q);
              by0 += e * vf_ld(dy + q);
            }
          }
        }
      } else {
        sample_window(J, W, H, cx - (float)win, cy - (float)win, pw, side, jp, pw);
        for (int t = 0; t < side * pw; t += OF_VW) {
          const of_vf e = vf_ld(ip + t) - vf_ld(jp + t);
          bx0 += e * vf_ld(gx + t);
          by0 += e * vf_ld(gy + t);
        }
      }
      const float sbx = vf_sum(bx0 + bx1), sby = vf_sum(by0 + by1);
      const float ex = i11 * sbx + i12 * sby, ey = i12 * sbx + i22 * sby;
      if (!isfinite(ex) || !isfinite(ey)) return 0;
      v_x += ex;
      v_y += ey;
      if (ex * ex + ey * ey < eps * eps) break;
    }
    if (L > 0) {
      g_x = 2 * (g_x + v_x);
      g_y = 2 * (g_y + v_y);
    } else {
      g_x += v_x;
      g_y += v_y;
    }
  }
  const float fx = px + g_x, fy = py + g_y;
  if (!(fx >= -0.5f && fx <= (float)P->w[0] - 0.5f && fy >= -0.5f && fy <= (float)P->h[0] - 0.5f))
    return 0;
  *ox = fx;
  *oy = fy;
  if (ncc) {
    /* ip still holds the level-0 prev window; sample next's at the result. */
    sample_window(Q->img[0], Q->w[0], Q->h[0], fx - (float)win, fy - (float)win, pw, side, jp, pw);
    of_vf sa = vf_set(0), sb = vf_set(0), saa = vf_set(0), sbb = vf_set(0), sab = vf_set(0);
    for (int r = 0; r < side; r++)
      for (int q = 0; q < pw; q += OF_VW) {
        const of_vf m = q + OF_VW < pw ? vf_set(1) : mask;
        const of_vf a = vf_ld(ip + (size_t)r * pw + q), b = m * vf_ld(jp + (size_t)r * pw + q);
        sa += a;
        sb += b;
        saa += a * a;
        sbb += b * b;
        sab += a * b;
      }
    const double n = (double)side * side, A = vf_sum(sa), B = vf_sum(sb);
    const double va = vf_sum(saa) - A * A / n, vb = vf_sum(sbb) - B * B / n,
                 cab = vf_sum(sab) - A * B / n;
    *ncc = (va > 1e-6 * n && vb > 1e-6 * n) ? (float)(cab / sqrt(va * vb)) : 0.0f;
  }
  return 1;
}

/* lk_point_body in 8-float halves, for AVX2 (the 16-float body keeps about ten 2-ymm vectors
 * live, more than the sixteen ymm registers: every accumulation went through the stack). Each
 * 16-column chunk runs as its low and high 8 lanes with an accumulator per half, and a sum adds
 * the low lanes then the high ones: every lane sees the same float operations in the same order
 * as in the 16-float body, so the results are bit-identical (test_optical_flow checks). */
typedef float of_v8 __attribute__((vector_size(8 * sizeof(float))));
#define v8_set(x) ((of_v8){0} + (float)(x))
#define v8_ld(p)                 \
  __extension__({                \
    of_v8 v_;                    \
    memcpy(&v_, (p), sizeof v_); \
    v_;                          \
  })
#define v8_st(p, v)              \
  do {                           \
    const of_v8 t_ = (v);        \
    memcpy((p), &t_, sizeof t_); \
  } while (0)
/* the 16-lane sum of vf_sum over the halves lo, hi */
#define v8_sum2(lo, hi)                          \
  __extension__({                                \
    const of_v8 l_ = (lo), h_ = (hi);            \
    float s_ = 0;                                \
    for (int i_ = 0; i_ < 8; i_++) s_ += l_[i_]; \
    for (int i_ = 0; i_ < 8; i_++) s_ += h_[i_]; \
    s_;                                          \
  })

/* sample_window's fast path in 8-float steps (elementwise: the same values); the clamped path is
 * sample_window's own. */
static inline __attribute__((always_inline)) void sample_window8(const float *img, int w, int h,
                                                                 float x0, float y0, int cols,
                                                                 int rows, float *dst,
                                                                 int dst_stride) {
  const bil b = bil_at(x0, y0);
  if (bil_inside(&b, w, h, cols, rows)) {
    const of_v8 a00 = v8_set(b.w00), a01 = v8_set(b.w01), a10 = v8_set(b.w10), a11 = v8_set(b.w11);
    for (int r = 0; r < rows; r++) {
      const float *s0 = img + (size_t)(b.iy + r) * (size_t)w + b.ix, *s1 = s0 + w;
      float *d = dst + (size_t)r * (size_t)dst_stride;
      for (int c = 0; c < cols; c += 8)
        v8_st(d + c, a00 * v8_ld(s0 + c) + a01 * v8_ld(s0 + c + 1) + a10 * v8_ld(s1 + c) +
                         a11 * v8_ld(s1 + c + 1));
    }
    return;
  }
  sample_window(img, w, h, x0, y0, cols, rows, dst, dst_stride);
}

OF_BODY int lk_point_body8(const of_pyramid *P, const of_pyramid *Q, int nlev, float px, float py,
                           float guess_x, float guess_y, int win, int max_iter, float *ox,
                           float *oy, float *ncc) {
  const int side = 2 * win + 1, pw = OF_PAD_W(win), pc = pw + OF_VW;
  float patch[OF_PROWS * OF_PCOLS]; /* as in lk_point_body */
  float ip[OF_PROWS * OF_PCOLS];
  float gx[OF_PROWS * OF_PCOLS];
  float gy[OF_PROWS * OF_PCOLS];
  float jp[OF_PROWS * OF_PCOLS];
  of_v8 mask_lo, mask_hi; /* lanes of the last OF_VW columns inside the window */
  for (int t = 0; t < 8; t++) {
    mask_lo[t] = pw - OF_VW + t < side ? 1.0f : 0.0f;
    mask_hi[t] = pw - OF_VW + 8 + t < side ? 1.0f : 0.0f;
  }
  const of_v8 c3 = v8_set(3.0f / 32), c10 = v8_set(10.0f / 32), one = v8_set(1);
  float g_x = guess_x / (float)(1 << (nlev - 1)), g_y = guess_y / (float)(1 << (nlev - 1));
  *ox = px;
  *oy = py;
  if (ncc) *ncc = 0;
  for (int L = nlev - 1; L >= 0; L--) {
    const float *I = P->img[L], *J = Q->img[L];
    const int W = P->w[L], H = P->h[L];
    const float s = 1.0f / (float)(1 << L);
    const float ux = px * s, uy = py * s;
    sample_window8(I, W, H, ux - (float)(win + 1), uy - (float)(win + 1), pc, side + 2, patch, pc);
    of_v8 vxx0 = v8_set(0), vxy0 = v8_set(0), vyy0 = v8_set(0);
    of_v8 vxx1 = v8_set(0), vxy1 = v8_set(0), vyy1 = v8_set(0);
    for (int r = 0; r < side; r++) {
      const float *a = patch + (size_t)r * pc, *b = a + pc, *c = b + pc;
      float *o = ip + (size_t)r * pw, *dx = gx + (size_t)r * pw, *dy = gy + (size_t)r * pw;
      for (int q = 0; q < pw; q += OF_VW) {
        const int last = q + OF_VW >= pw;
#define OF_GRAD_HALF(h, m, vxx, vxy, vyy)                                           \
  do {                                                                              \
    const int k_ = q + 8 * (h);                                                     \
    const of_v8 a0 = v8_ld(a + k_), a1 = v8_ld(a + k_ + 1), a2 = v8_ld(a + k_ + 2); \
    const of_v8 c0 = v8_ld(c + k_), c1 = v8_ld(c + k_ + 1), c2 = v8_ld(c + k_ + 2); \
    const of_v8 b0 = v8_ld(b + k_), b1 = v8_ld(b + k_ + 1), b2 = v8_ld(b + k_ + 2); \
    const of_v8 ddx = (m) * (c3 * ((a2 - a0) + (c2 - c0)) + c10 * (b2 - b0));       \
    const of_v8 ddy = (m) * (c3 * ((c0 - a0) + (c2 - a2)) + c10 * (c1 - a1));       \
    v8_st(o + k_, (m)*b1);                                                          \
    v8_st(dx + k_, ddx);                                                            \
    v8_st(dy + k_, ddy);                                                            \
    vxx += ddx * ddx;                                                               \
    vxy += ddx * ddy;                                                               \
    vyy += ddy * ddy;                                                               \
  } while (0)
        OF_GRAD_HALF(0, last ? mask_lo : one, vxx0, vxy0, vyy0);
        OF_GRAD_HALF(1, last ? mask_hi : one, vxx1, vxy1, vyy1);
#undef OF_GRAD_HALF
      }
    }
    const float gxx = v8_sum2(vxx0, vxx1), gxy = v8_sum2(vxy0, vxy1), gyy = v8_sum2(vyy0, vyy1);
    const float area = (float)(side * side);
    const float tr = gxx + gyy, df = gxx - gyy;
    const float min_eig = 0.5f * (tr - sqrtf(df * df + 4 * gxy * gxy)) / area;
    const float det = gxx * gyy - gxy * gxy;
    if (!(min_eig >= OF_MIN_EIG) || !(det > 0)) return 0;
    const float i11 = gyy / det, i12 = -gxy / det, i22 = gxx / det;
    const float eps = L > 0 ? OF_EPS_COARSE : OF_EPS;
    float v_x = 0, v_y = 0;
    for (int it = 0; it < max_iter; it++) {
      const float cx = ux + g_x + v_x, cy = uy + g_y + v_y;
      if (!(cx > (float)(-win - 1) && cx < (float)(W + win) && cy > (float)(-win - 1) &&
            cy < (float)(H + win)))
        return 0;
      const bil bl = bil_at(cx - (float)win, cy - (float)win);
      /* accumulators: x/y, even/odd row, low/high half */
      of_v8 bx00 = v8_set(0), by00 = v8_set(0), bx10 = v8_set(0), by10 = v8_set(0);
      of_v8 bx01 = v8_set(0), by01 = v8_set(0), bx11 = v8_set(0), by11 = v8_set(0);
      if (bil_inside(&bl, W, H, pw, side)) {
        const of_v8 a00 = v8_set(bl.w00), a01 = v8_set(bl.w01), a10 = v8_set(bl.w10),
                    a11 = v8_set(bl.w11);
        for (int r = 0; r < side; r++) {
          const float *s0 = J + (size_t)(bl.iy + r) * (size_t)W + bl.ix, *s1 = s0 + W;
          const float *o = ip + (size_t)r * pw, *dx = gx + (size_t)r * pw,
                      *dy = gy + (size_t)r * pw;
          for (int q = 0; q < pw; q += OF_VW) {
#define OF_B_HALF(k, bx, by)                                                                     \
  do {                                                                                           \
    const of_v8 jv = a00 * v8_ld(s0 + (k)) + a01 * v8_ld(s0 + (k) + 1) + a10 * v8_ld(s1 + (k)) + \
                     a11 * v8_ld(s1 + (k) + 1);                                                  \
    const of_v8 e = v8_ld(o + (k)) - jv;                                                         \
    bx += e * v8_ld(dx + (k));                                                                   \
    by += e * v8_ld(dy + (k));                                                                   \
  } while (0)
            if (r & 1) {
              OF_B_HALF(q, bx10, by10);
              OF_B_HALF(q + 8, bx11, by11);
            } else {
              OF_B_HALF(q, bx00, by00);
              OF_B_HALF(q + 8, bx01, by01);
            }
#undef OF_B_HALF
          }
        }
      } else {
        sample_window8(J, W, H, cx - (float)win, cy - (float)win, pw, side, jp, pw);
        for (int t = 0; t < side * pw; t += OF_VW) {
          const of_v8 e0 = v8_ld(ip + t) - v8_ld(jp + t);
          bx00 += e0 * v8_ld(gx + t);
          by00 += e0 * v8_ld(gy + t);
          const of_v8 e1 = v8_ld(ip + t + 8) - v8_ld(jp + t + 8);
          bx01 += e1 * v8_ld(gx + t + 8);
          by01 += e1 * v8_ld(gy + t + 8);
        }
      }
      const float sbx = v8_sum2(bx00 + bx10, bx01 + bx11), sby = v8_sum2(by00 + by10, by01 + by11);
      const float ex = i11 * sbx + i12 * sby, ey = i12 * sbx + i22 * sby;
      if (!isfinite(ex) || !isfinite(ey)) return 0;
      v_x += ex;
      v_y += ey;
      if (ex * ex + ey * ey < eps * eps) break;
    }
    if (L > 0) {
      g_x = 2 * (g_x + v_x);
      g_y = 2 * (g_y + v_y);
    } else {
      g_x += v_x;
      g_y += v_y;
    }
  }
  const float fx = px + g_x, fy = py + g_y;
  if (!(fx >= -0.5f && fx <= (float)P->w[0] - 0.5f && fy >= -0.5f && fy <= (float)P->h[0] - 0.5f))
    return 0;
  *ox = fx;
  *oy = fy;
  if (ncc) {
    sample_window8(Q->img[0], Q->w[0], Q->h[0], fx - (float)win, fy - (float)win, pw, side, jp, pw);
    of_v8 sa0 = v8_set(0), sb0 = v8_set(0), saa0 = v8_set(0), sbb0 = v8_set(0), sab0 = v8_set(0);
    of_v8 sa1 = v8_set(0), sb1 = v8_set(0), saa1 = v8_set(0), sbb1 = v8_set(0), sab1 = v8_set(0);
    for (int r = 0; r < side; r++)
      for (int q = 0; q < pw; q += OF_VW) {
        const int last = q + OF_VW >= pw;
        const float *ia = ip + (size_t)r * pw + q, *jb = jp + (size_t)r * pw + q;
        const of_v8 a0 = v8_ld(ia), b0 = (last ? mask_lo : one) * v8_ld(jb);
        const of_v8 a1 = v8_ld(ia + 8), b1 = (last ? mask_hi : one) * v8_ld(jb + 8);
        sa0 += a0;
        sb0 += b0;
        saa0 += a0 * a0;
        sbb0 += b0 * b0;
        sab0 += a0 * b0;
        sa1 += a1;
        sb1 += b1;
        saa1 += a1 * a1;
        sbb1 += b1 * b1;
        sab1 += a1 * b1;
      }
    const double n = (double)side * side, A = v8_sum2(sa0, sa1), B = v8_sum2(sb0, sb1);
    const double va = v8_sum2(saa0, saa1) - A * A / n, vb = v8_sum2(sbb0, sbb1) - B * B / n,
                 cab = v8_sum2(sab0, sab1) - A * B / n;
    *ncc = (va > 1e-6 * n && vb > 1e-6 * n) ? (float)(cab / sqrt(va * vb)) : 0.0f;
  }
  return 1;
}

#define OF_LK_ARGS                                                                       \
  const of_pyramid *P, const of_pyramid *Q, int nlev, float px, float py, float guess_x, \
      float guess_y, int win, int max_iter, float *ox, float *oy, float *ncc
#define OF_LK_CALL(f) f(P, Q, nlev, px, py, guess_x, guess_y, win, max_iter, ox, oy, ncc)
static int lk_point_scalar(OF_LK_ARGS) {
  return OF_LK_CALL(lk_point_body);
}
#ifdef OF_X86
__attribute__((target("avx2,fma"))) static int lk_point_avx2(OF_LK_ARGS) {
  return OF_LK_CALL(lk_point_body8);
}
__attribute__((target("avx512f"))) static int lk_point_avx512(OF_LK_ARGS) {
  return OF_LK_CALL(lk_point_body);
}
#endif

/* lk_point_body on the path of the previous frame's pyramid (of_pyramid_set_isa). */
static int lk_point(OF_LK_ARGS) {
#ifdef OF_X86
  if (P->isa == EMO_ISA_AVX512) return OF_LK_CALL(lk_point_avx512);
  if (P->isa == EMO_ISA_AVX2) return OF_LK_CALL(lk_point_avx2);
#endif
  return OF_LK_CALL(lk_point_scalar);
}

static int pyramids_ok(const of_pyramid *a, const of_pyramid *b) {
  return a && b && a->built && b->built && a->w[0] == b->w[0] && a->h[0] == b->h[0] &&
         a->scale == b->scale;
}

/* Points farther than this outside the image are not tracked (keeps float->int safe). */
#define OF_COORD_LIMIT 1e6f

int of_lk_track(const of_pyramid *prev, const of_pyramid *next, const float *pts, float *out,
                uint8_t *status, int n, int win, int max_iter) {
  if (!pyramids_ok(prev, next) || n < 0 || (n > 0 && (!pts || !out || !status)) || win < 1 ||
      win > OF_MAX_WIN || max_iter < 1 || max_iter > 100)
    return EMO_EINVAL;
  const int nlev = prev->levels < next->levels ? prev->levels : next->levels;
  for (int i = 0; i < n; i++) {
    const float x = pts[2 * i], y = pts[2 * i + 1];
    if (!(fabsf(x) < OF_COORD_LIMIT && fabsf(y) < OF_COORD_LIMIT)) {
      out[2 * i] = x;
      out[2 * i + 1] = y;
      status[i] = 0;
      continue;
    }
    status[i] = (uint8_t)lk_point(prev, next, nlev, x, y, 0, 0, win, max_iter, &out[2 * i],
                                  &out[2 * i + 1], NULL);
  }
  return EMO_OK;
}

/* k-th smallest of a (n) by Wirth's selection; reorders a. Robust to many equal values. */
static float select_kth(float *a, int n, int k) {
  int l = 0, r = n - 1;
  while (l < r) {
    const float x = a[k];
    int i = l, j = r;
    do {
      while (a[i] < x) i++;
      while (x < a[j]) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
  }
  return a[k];
}

/* Median of a (n >= 1; reorders a): the mean of the two middle values when n is even. */
static float median_of(float *a, int n) {
  const int k = n / 2;
  const float hi = select_kth(a, n, k);
  if (n % 2) return hi;
  float lo = a[0];
  for (int i = 1; i < k; i++) lo = a[i] > lo ? a[i] : lo; /* a[0..k) <= a[k] after select */
  return 0.5f * (lo + hi);
}

#define OF_NPTS (OF_GRID * OF_GRID)
#define OF_PROBES 5      /* points tracked through the whole pyramid to seed the grid */
#define OF_FINE_LEVELS 1 /* levels the grid points use after seeding */

int of_track_box(const of_pyramid *prev, const of_pyramid *next, const float box[4],
                 of_box_result *out) {
  if (!out) return EMO_EINVAL;
  memset(out, 0, sizeof *out);
  out->fb_median = -1;
  out->scale = 1;
  if (!pyramids_ok(prev, next) || !box) return EMO_EINVAL;
  for (int i = 0; i < 4; i++)
    if (!isfinite(box[i]) || fabsf(box[i]) > OF_COORD_LIMIT) return EMO_EINVAL;
  if (!(box[2] > 0 && box[3] > 0)) return EMO_EINVAL;
  memcpy(out->box, box, sizeof out->box);
  const int nlev = prev->levels < next->levels ? prev->levels : next->levels;
  const float k = prev->scale, W = (float)prev->w[0], H = (float)prev->h[0];

  float p[OF_NPTS][2], q[OF_NPTS][2], b[OF_NPTS][2]; /* prev, forward, backward (level 0) */
  float fb[OF_NPTS], nc[OF_NPTS], tmp[OF_NPTS];
  int good[OF_NPTS]; /* indices of good points */
  int np = 0, ng = 0;
  for (int gy = 0; gy < OF_GRID; gy++)
    for (int gx = 0; gx < OF_GRID; gx++) {
      /* grid over the central 80% of the box, frame coords -> level-0 pixel centres */
      const float fx = 0.1f + 0.8f * (float)gx / (OF_GRID - 1);
      const float fy = 0.1f + 0.8f * (float)gy / (OF_GRID - 1);
      const float x = (box[0] + fx * box[2]) / k - 0.5f, y = (box[1] + fy * box[3]) / k - 0.5f;
      if (x < 0 || y < 0 || x > W - 1 || y > H - 1) continue;
      p[np][0] = x;
      p[np][1] = y;
      np++;
    }
  out->n_points = np;
  if (np == 0) return EMO_OK;

  /* Coarse-to-fine on every grid point through every level costs ~nlev window solves per
   * point and direction. Instead a few probe points go through the whole pyramid; their
   * median motion seeds all grid points, which then only use the finest OF_FINE_LEVELS
   * levels (forward with +guess, backward with -guess: the guess is shared by the box, so the
   * forward-backward check stays a per-point test). Without a usable probe, every point runs
   * through the whole pyramid from zero. */
  float gdx = 0, gdy = 0;
  int fine = nlev;
  if (nlev > OF_FINE_LEVELS) {
    static const float probe_f[OF_PROBES][2] = {
        {0.5f, 0.5f}, {0.3f, 0.3f}, {0.7f, 0.3f}, {0.3f, 0.7f}, {0.7f, 0.7f}};
    float mx[OF_PROBES], my[OF_PROBES];
    int nm = 0;
    for (int t = 0; t < OF_PROBES; t++) {
      const float x = (box[0] + probe_f[t][0] * box[2]) / k - 0.5f;
      const float y = (box[1] + probe_f[t][1] * box[3]) / k - 0.5f;
      float ox, oy, c;
      if (x < 0 || y < 0 || x > W - 1 || y > H - 1) continue;
      if (lk_point(prev, next, nlev, x, y, 0, 0, OF_BOX_WIN, OF_BOX_ITERS, &ox, &oy, &c) &&
          c >= OF_NCC_MIN) {
        mx[nm] = ox - x;
        my[nm] = oy - y;
        nm++;
      }
    }
    if (nm > 0) {
      gdx = median_of(mx, nm);
      gdy = median_of(my, nm);
      fine = OF_FINE_LEVELS;
    }
  }
  for (int i = 0; i < np; i++) {
    if (!lk_point(prev, next, fine, p[i][0], p[i][1], gdx, gdy, OF_BOX_WIN, OF_BOX_ITERS, &q[i][0],
                  &q[i][1], &nc[i]))
      continue;
    if (!lk_point(next, prev, fine, q[i][0], q[i][1], -gdx, -gdy, OF_BOX_WIN, OF_BOX_ITERS,
                  &b[i][0], &b[i][1], NULL))
      continue;
    const float ex = b[i][0] - p[i][0], ey = b[i][1] - p[i][1];
    fb[i] = sqrtf(ex * ex + ey * ey);
    if (fb[i] <= OF_FB_CAP && nc[i] >= OF_NCC_MIN) good[ng++] = i;
  }
  out->n_good = ng;
  if (ng == 0) return EMO_OK;

  /* TLD selection among the good points: FB <= median and NCC >= median. */
  for (int t = 0; t < ng; t++) tmp[t] = fb[good[t]];
  const float fb_med = median_of(tmp, ng);
  for (int t = 0; t < ng; t++) tmp[t] = nc[good[t]];
  const float nc_med = median_of(tmp, ng);
  int sel[OF_NPTS], ns = 0;
  for (int t = 0; t < ng; t++)
    if (fb[good[t]] <= fb_med && nc[good[t]] >= nc_med) sel[ns++] = good[t];
  if (ns == 0) { /* cannot happen with exact medians, but stay safe */
    memcpy(sel, good, (size_t)ng * sizeof *sel);
    ns = ng;
  }

  /* Scale: median ratio of pairwise distances (squared, sqrt of the median). */
  float s = 1.0f;
  if (ns >= 2) {
    float ratio[OF_NPTS * (OF_NPTS - 1) / 2];
    int nr = 0;
    for (int a = 0; a < ns; a++)
      for (int c = a + 1; c < ns; c++) {
        const int i = sel[a], j = sel[c];
        const float px = p[i][0] - p[j][0], py = p[i][1] - p[j][1];
        const float qx = q[i][0] - q[j][0], qy = q[i][1] - q[j][1];
        const float dp = px * px + py * py;
        if (dp >= 1.0f) ratio[nr++] = (qx * qx + qy * qy) / dp;
      }
    if (nr > 0) s = sqrtf(median_of(ratio, nr));
  }
  /* Translation of the box centre implied by each point given the scale. */
  const float cx = (box[0] + 0.5f * box[2]) / k - 0.5f, cy = (box[1] + 0.5f * box[3]) / k - 0.5f;
  for (int t = 0; t < ns; t++) {
    const int i = sel[t];
    tmp[t] = q[i][0] - cx - s * (p[i][0] - cx);
  }
  const float dx = median_of(tmp, ns) * k;
  for (int t = 0; t < ns; t++) {
    const int i = sel[t];
    tmp[t] = q[i][1] - cy - s * (p[i][1] - cy);
  }
  const float dy = median_of(tmp, ns) * k;

  out->dx = dx;
  out->dy = dy;
  out->scale = s;
  out->fb_median = fb_med;
  const float bw = box[2] * s, bh = box[3] * s;
  out->box[0] = box[0] + 0.5f * box[2] + dx - 0.5f * bw;
  out->box[1] = box[1] + 0.5f * box[3] + dy - 0.5f * bh;
  out->box[2] = bw;
  out->box[3] = bh;
  const float r = fb_med / 0.5f;
  float conf = ((float)ng / (float)np) / (1.0f + r * r);
  if (np < 25) conf *= (float)np / 25.0f;
  out->confidence = conf;
  return EMO_OK;
}
