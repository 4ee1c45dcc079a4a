/* test_optical_flow.c: checks vision/optical_flow against known motions.
 *
 * Synthetic frames are a smooth random texture: a sum of 32 sinusoids with seeded random
 * directions, wavelengths (14..80 px) and phases, evaluated exactly at every pixel centre
 * under an axis-aligned map (shift, scale about a centre), so the true motion is known to
 * float precision (only the uint8 rounding adds noise). Checked: of_lk_track on single
 * points, of_track_box for integer and sub-pixel shifts at 1280x720 downscaled to 640
 * (k = 2), a 25 px shift at 640 wide that needs the pyramid, scales 1.05 / 0.95, shift +
 * scale about an off-box centre, a 1920x1080 frame (k = 3) with a padded stride, identical
 * frames (zero motion), a flat frame (no confidence), boxes partly / wholly outside the
 * frame, argument errors; then a real photo (faces/misc/single_face.jpg, skipped if absent)
 * shifted by a known sub-pixel amount with bilinear sampling, tracked on the face box and on
 * a large box. Tolerances are stated beside each check; the worst errors are printed.
 *
 * argv[1] (auto, scalar, avx2, avx512; harness.h) caps the pyramids' path, so the checks
 * above run on that path; and the capped path is compared with the scalar one on the same
 * frames (k = 1, 2, 3 downscales, box and point tracks): bit-identical, since every path does
 * the same float operations in the same order. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "media/image_decode.h"
#include "vision/optical_flow.h"

#define NSIN 32
typedef struct texture {
  float fx[NSIN], fy[NSIN], ph[NSIN], amp;
} texture;

static void texture_init(texture *t, unsigned seed) {
  unsigned s = seed;
  for (int k = 0; k < NSIN; k++) {
    float theta = th_randf(&s, 0, 6.2831853f), lambda = th_randf(&s, 14, 80);
    t->fx[k] = 6.2831853f * cosf(theta) / lambda;
    t->fy[k] = 6.2831853f * sinf(theta) / lambda;
    t->ph[k] = th_randf(&s, 0, 6.2831853f);
  }
  t->amp = 35.0f * sqrtf(2.0f / NSIN);
}

/* Renders next(x, y) = tex(ax * (x + 0.5) + bx, ay * (y + 0.5) + by) into rgb (h, stride)
 * with R = G = B; flat (128) when t is NULL. */
static void render(const texture *t, uint8_t *rgb, int w, int h, int stride, double ax, double bx,
                   double ay, double by) {
  float *su = malloc(sizeof(float) * NSIN * (size_t)w),
        *cu = malloc(sizeof(float) * NSIN * (size_t)w);
  float *sv = malloc(sizeof(float) * NSIN * (size_t)h),
        *cv = malloc(sizeof(float) * NSIN * (size_t)h);
  if (!su || !cu || !sv || !cv) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  if (t) {
    for (int k = 0; k < NSIN; k++) {
      for (int x = 0; x < w; x++) {
        double u = ax * (x + 0.5) + bx;
        su[k * w + x] = (float)sin(t->fx[k] * u);
        cu[k * w + x] = (float)cos(t->fx[k] * u);
      }
      for (int y = 0; y < h; y++) {
        double v = ay * (y + 0.5) + by;
        sv[k * h + y] = (float)sin(t->fy[k] * v + t->ph[k]);
        cv[k * h + y] = (float)cos(t->fy[k] * v + t->ph[k]);
      }
    }
  }
  for (int y = 0; y < h; y++) {
    uint8_t *row = rgb + (size_t)y * (size_t)stride;
    for (int x = 0; x < w; x++) {
      float v = 128;
      if (t)
        for (int k = 0; k < NSIN; k++)
          v += t->amp * (su[k * w + x] * cv[k * h + y] + cu[k * w + x] * sv[k * h + y]);
      v = v < 0 ? 0 : (v > 255 ? 255 : v);
      uint8_t b = (uint8_t)(v + 0.5f);
      row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = b;
    }
  }
  free(su);
  free(cu);
  free(sv);
  free(cv);
}

/* Renders the transform p -> c + s (p - c) + t of the texture (the identity is s = 1, t = 0). */
static void render_motion(const texture *tex, uint8_t *rgb, int w, int h, int stride, double s,
                          double cx, double cy, double tx, double ty) {
  /* next(x) = tex(c + (x - t - c) / s) */
  render(tex, rgb, w, h, stride, 1 / s, cx - (tx + cx) / s, 1 / s, cy - (ty + cy) / s);
}

static of_pyramid *pa, *pb;
static double worst_shift, worst_scale;

static void build2(const uint8_t *a, const uint8_t *b, int w, int h, int stride, int max_side,
                   int levels) {
  emoi_err err = {{0}};
  int rc = of_pyramid_build(pa, a, w, h, stride, max_side, levels, &err);
  CHECK(rc == EMO_OK, "build prev: %s", err.msg);
  rc = of_pyramid_build(pb, b, w, h, stride, max_side, levels, &err);
  CHECK(rc == EMO_OK, "build next: %s", err.msg);
}

/* Tracks box on (pa -> pb) and compares with the expected centre motion and scale. */
static void expect_box(const char *what, const float box[4], double edx, double edy, double es,
                       double tol_px, double tol_scale, float min_conf) {
  of_box_result r;
  int rc = of_track_box(pa, pb, box, &r);
  CHECK(rc == EMO_OK, "%s: rc %d", what, rc);
  double ex = fabs(r.dx - edx), ey = fabs(r.dy - edy), es_ = fabs(r.scale / es - 1);
  printf(
      "  %-34s dx %8.3f (want %7.3f) dy %8.3f (want %7.3f) scale %.4f (want %.4f) good "
      "%d/%d fb %.3f conf %.2f\n",
      what, r.dx, edx, r.dy, edy, r.scale, es, r.n_good, r.n_points, r.fb_median, r.confidence);
  CHECK(ex <= tol_px && ey <= tol_px, "%s: dx %.3f dy %.3f want %.3f %.3f (tol %.2f px)", what,
        r.dx, r.dy, edx, edy, tol_px);
  CHECK(es_ <= tol_scale, "%s: scale %.4f want %.4f (tol %.3f)", what, r.scale, es, tol_scale);
  CHECK(r.confidence >= min_conf, "%s: confidence %.2f < %.2f", what, r.confidence, min_conf);
  /* the returned box is consistent with dx, dy, scale */
  double ocx = box[0] + box[2] / 2.0, ocy = box[1] + box[3] / 2.0;
  double ncx = r.box[0] + r.box[2] / 2.0, ncy = r.box[1] + r.box[3] / 2.0;
  CHECK(fabs(ncx - ocx - r.dx) < 1e-3 && fabs(ncy - ocy - r.dy) < 1e-3 &&
            fabs(r.box[2] - box[2] * r.scale) < 1e-3 && fabs(r.box[3] - box[3] * r.scale) < 1e-3,
        "%s: box inconsistent with motion", what);
  if (ex > worst_shift) worst_shift = ex;
  if (ey > worst_shift) worst_shift = ey;
  if (es_ > worst_scale) worst_scale = es_;
}

static void test_points(const texture *tex) {
  const int w = 640, h = 360;
  uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
  render_motion(tex, a, w, h, w * 3, 1, 0, 0, 0, 0);
  render_motion(tex, b, w, h, w * 3, 1, 0, 0, 2.5, -1.25);
  build2(a, b, w, h, w * 3, 640, 3);
  float pts[] = {100, 100, 320.5f, 180.25f, 500.7f, 60.1f, 30, 300, 600, 330, 320, 10};
  const int n = 6;
  float out[12];
  uint8_t st[6];
  int rc = of_lk_track(pa, pb, pts, out, st, n, 7, 20);
  CHECK(rc == EMO_OK, "of_lk_track rc %d", rc);
  double worst = 0;
  for (int i = 0; i < n; i++) {
    CHECK(st[i] == 1, "point %d not tracked", i);
    double ex = fabs(out[2 * i] - pts[2 * i] - 2.5),
           ey = fabs(out[2 * i + 1] - pts[2 * i + 1] + 1.25);
    if (ex > worst) worst = ex;
    if (ey > worst) worst = ey;
    /* tolerance 0.1 px per point (single 15x15 window, uint8 rounding) */
    CHECK(ex < 0.1 && ey < 0.1, "point %d: (%.3f, %.3f) -> (%.3f, %.3f)", i, pts[2 * i],
          pts[2 * i + 1], out[2 * i], out[2 * i + 1]);
  }
  printf("of_lk_track: 6 points, shift (2.5, -1.25): worst error %.4f px\n", worst);
  /* a point leaving the image fails; a point far outside is rejected, not crashed on */
  float far[] = {-5e6f, 3, 5, 1e30f, NAN, 4};
  rc = of_lk_track(pa, pb, far, out, st, 3, 7, 10);
  CHECK(rc == EMO_OK && st[0] == 0 && st[1] == 0 && st[2] == 0, "far points: rc %d st %d %d %d", rc,
        st[0], st[1], st[2]);
  float edge[] = {639, 200};
  rc = of_lk_track(pa, pb, edge, out, st, 1, 7, 10);
  CHECK(rc == EMO_OK && st[0] == 0, "a point moved out of the image should fail (st %d, x %.2f)",
        st[0], out[0]);
  /* window sizes: win 1 and OF_MAX_WIN both work on an interior point */
  rc = of_lk_track(pa, pb, pts, out, st, 1, OF_MAX_WIN, 10);
  CHECK(rc == EMO_OK && st[0] && fabs(out[0] - 102.5) < 0.1, "win 15: %.3f", out[0]);
  rc = of_lk_track(pa, pb, pts + 2, out, st, 1, 2, 20);
  CHECK(rc == EMO_OK && st[0] && fabs(out[0] - 323.0) < 0.2, "win 2: %.3f", out[0]);
  CHECK(of_lk_track(pa, pb, pts, out, st, 1, 0, 10) == EMO_EINVAL, "win 0 accepted");
  CHECK(of_lk_track(pa, pb, pts, out, st, 1, OF_MAX_WIN + 1, 10) == EMO_EINVAL, "win 16 accepted");
  CHECK(of_lk_track(pa, pb, pts, out, st, -1, 7, 10) == EMO_EINVAL, "n -1 accepted");
  CHECK(of_lk_track(pa, pb, NULL, NULL, NULL, 0, 7, 10) == EMO_OK, "n 0 refused");
  free(a);
  free(b);
}

static void test_shifts_720p(const texture *tex) {
  const int w = 1280, h = 720;
  uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
  render_motion(tex, a, w, h, w * 3, 1, 0, 0, 0, 0);
  const float box[4] = {500, 220, 240, 260};
  const double shifts[][2] = {{0.3, 0}, {0, 0.3}, {2.5, -2.5}, {7.25, 3.0}, {-11, 0}, {-11, 7.25}};
  printf("of_track_box, 1280x720 -> 640x360 (k = 2), box 240x260, tolerance 0.15 px, 1%%:\n");
  for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
    render_motion(tex, b, w, h, w * 3, 1, 0, 0, shifts[i][0], shifts[i][1]);
    build2(a, b, w, h, w * 3, 640, 4);
    char what[64];
    snprintf(what, sizeof what, "shift (%.2f, %.2f)", shifts[i][0], shifts[i][1]);
    expect_box(what, box, shifts[i][0], shifts[i][1], 1, 0.15, 0.01, 0.8f);
  }
  /* identical frames: exactly no motion */
  build2(a, a, w, h, w * 3, 640, 4);
  of_box_result r;
  CHECK(of_track_box(pa, pa, box, &r) == EMO_OK, "identical rc");
  CHECK(r.dx == 0 && r.dy == 0 && r.scale == 1 && r.fb_median == 0 && r.n_good == 100 &&
            r.confidence > 0.99f,
        "identical frames: dx %g dy %g scale %g fb %g good %d conf %g", r.dx, r.dy, r.scale,
        r.fb_median, r.n_good, r.confidence);
  CHECK(memcmp(r.box, box, sizeof box) == 0, "identical frames moved the box");
  /* scale 1.05 / 0.95 about the box centre, then shift + scale about another centre */
  const double bcx = box[0] + box[2] / 2, bcy = box[1] + box[3] / 2;
  render_motion(tex, b, w, h, w * 3, 1.05, bcx, bcy, 0, 0);
  build2(a, b, w, h, w * 3, 640, 4);
  expect_box("scale 1.05 about centre", box, 0, 0, 1.05, 0.15, 0.01, 0.5f);
  render_motion(tex, b, w, h, w * 3, 0.95, bcx, bcy, 0, 0);
  build2(a, b, w, h, w * 3, 640, 4);
  expect_box("scale 0.95 about centre", box, 0, 0, 0.95, 0.15, 0.01, 0.5f);
  const double cx = 400, cy = 300, s = 1.04, tx = 5.5, ty = -3.25;
  render_motion(tex, b, w, h, w * 3, s, cx, cy, tx, ty);
  build2(a, b, w, h, w * 3, 640, 4);
  /* the box centre moves to c + s (bc - c) + t */
  expect_box("scale 1.04 + shift, off-centre", box, (s - 1) * (bcx - cx) + tx,
             (s - 1) * (bcy - cy) + ty, s, 0.2, 0.01, 0.5f);

  /* boxes partly and wholly outside the frame */
  render_motion(tex, b, w, h, w * 3, 1, 0, 0, 3.5, 2);
  build2(a, b, w, h, w * 3, 640, 4);
  const float left[4] = {-130, 300, 240, 240};
  expect_box("box 54% outside (left)", left, 3.5, 2, 1, 0.2, 0.01, 0.0f);
  const float corner[4] = {1150, 600, 240, 240};
  expect_box("box in the corner", corner, 3.5, 2, 1, 0.2, 0.01, 0.0f);
  const float gone[4] = {2000, 100, 100, 100};
  CHECK(of_track_box(pa, pb, gone, &r) == EMO_OK, "outside rc");
  CHECK(r.n_points == 0 && r.confidence == 0 && memcmp(r.box, gone, sizeof gone) == 0,
        "box outside: %d points conf %g", r.n_points, r.confidence);
  const float tiny[4] = {640, 360, 3, 3};
  /* a 3x3 box: its grid points crowd into ~2 level-0 pixels; still a sane answer */
  CHECK(of_track_box(pa, pb, tiny, &r) == EMO_OK && fabsf(r.dx - 3.5f) < 0.3f &&
            fabsf(r.dy - 2) < 0.3f && r.scale > 0.5f && r.scale < 2,
        "tiny box: dx %g dy %g scale %g", r.dx, r.dy, r.scale);

  /* argument errors */
  const float bad[][4] = {{0, 0, 0, 10}, {0, 0, 10, -1}, {NAN, 0, 10, 10}, {0, INFINITY, 10, 10}};
  for (int i = 0; i < 4; i++)
    CHECK(of_track_box(pa, pb, bad[i], &r) == EMO_EINVAL, "bad box %d", i);
  CHECK(of_track_box(NULL, pb, box, &r) == EMO_EINVAL, "NULL prev");
  CHECK(of_track_box(pa, pb, NULL, &r) == EMO_EINVAL, "NULL box");
  CHECK(of_track_box(pa, pb, box, NULL) == EMO_EINVAL, "NULL out");
  emoi_err err = {{0}};
  CHECK(of_pyramid_build(pb, b, 640, 360, 640 * 3, 640, 4, &err) == EMO_OK, "build 640");
  CHECK(of_track_box(pa, pb, box, &r) == EMO_EINVAL, "mismatched pyramids accepted");
  CHECK(of_pyramid_build(pb, b, 0, 360, 640 * 3, 640, 4, &err) == EMO_EINVAL, "width 0");
  CHECK(of_track_box(pa, pb, box, &r) == EMO_EINVAL, "unbuilt pyramid accepted");
  CHECK(of_pyramid_build(pb, b, 640, 360, 100, 640, 4, &err) == EMO_EINVAL, "short stride");
  CHECK(strstr(err.msg, "stride") != NULL, "message: %s", err.msg);
  CHECK(of_pyramid_build(pb, b, 640, 360, 640 * 3, 640, 0, &err) == EMO_EINVAL, "levels 0");
  CHECK(of_pyramid_build(pb, b, 640, 360, 640 * 3, 640, OF_MAX_LEVELS + 1, &err) == EMO_EINVAL,
        "levels 6");
  CHECK(of_pyramid_build(pb, b, 640, 360, 640 * 3, 8, 3, &err) == EMO_EINVAL, "max_side 8");
  CHECK(of_pyramid_build(pb, NULL, 640, 360, 640 * 3, 640, 3, &err) == EMO_EINVAL, "NULL rgb");
  CHECK(of_pyramid_build(pb, b, 40000, 1, 40000 * 3, 640, 3, &err) == EMO_EINVAL, "too wide");
  CHECK(of_pyramid_build(pb, b, 4000, 1, 4000 * 3, 640, 3, &err) == EMO_EINVAL, "too elongated");
  /* a tiny frame builds (fewer levels), and tracking on it is safe */
  CHECK(of_pyramid_build(pb, b, 5, 3, 5 * 3, 640, 4, &err) == EMO_OK, "5x3: %s", err.msg);
  int lv = 0, w0 = 0;
  of_pyramid_info(pb, &w0, NULL, &lv, NULL);
  CHECK(lv == 1 && w0 == 5, "5x3: levels %d w0 %d", lv, w0);
  CHECK(of_track_box(pb, pb, tiny, &r) == EMO_OK, "track on 5x3");
  free(a);
  free(b);
}

/* 2x2 box average of the BT.601 luma of an RGB frame, rounded to bytes: what the video
 * decoder hands over as vid_frame.gray for a 1280x720 frame (gray_k = 2). */
static void gray_half(const uint8_t *rgb, int w, int h, uint8_t *g) {
  for (int y = 0; y < h / 2; y++)
    for (int x = 0; x < w / 2; x++) {
      double s = 0;
      for (int d = 0; d < 4; d++) {
        const uint8_t *p = rgb + ((size_t)(2 * y + d / 2) * w + 2 * x + d % 2) * 3;
        s += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      }
      g[(size_t)y * (w / 2) + x] = (uint8_t)(s / 4 + 0.5);
    }
}

/* The pyramid built from an already downscaled 8-bit gray image tracks like the one built
 * from RGB (level 0 equal up to the bytes' rounding), and its arguments are checked. */
static void test_gray_input(const texture *tex) {
  const int w = 1280, h = 720, gw = w / 2, gh = h / 2;
  uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
  uint8_t *ga = malloc((size_t)gw * gh), *gb = malloc((size_t)gw * gh);
  render_motion(tex, a, w, h, w * 3, 1, 0, 0, 0, 0);
  const float box[4] = {500, 220, 240, 260};
  const double shifts[][2] = {{2.5, -2.5}, {-11, 7.25}};
  emoi_err err = {{0}};
  gray_half(a, w, h, ga);
  for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
    render_motion(tex, b, w, h, w * 3, 1, 0, 0, shifts[i][0], shifts[i][1]);
    gray_half(b, w, h, gb);
    CHECK(of_pyramid_build_gray(pa, ga, gw, gh, gw, 2, w, h, 4, &err) == EMO_OK, "gray a: %s",
          err.msg);
    CHECK(of_pyramid_build_gray(pb, gb, gw, gh, gw, 2, w, h, 4, &err) == EMO_OK, "gray b: %s",
          err.msg);
    int w0 = 0, h0 = 0, lv = 0;
    float k = 0;
    of_pyramid_info(pa, &w0, &h0, &lv, &k);
    CHECK(w0 == gw && h0 == gh && lv == 4 && k == 2, "gray pyramid %dx%d levels %d k %g", w0, h0,
          lv, k);
    char what[64];
    snprintf(what, sizeof what, "gray input, shift (%.2f, %.2f)", shifts[i][0], shifts[i][1]);
    expect_box(what, box, shifts[i][0], shifts[i][1], 1, 0.15, 0.01, 0.8f);
  }
  CHECK(of_pyramid_build_gray(pa, NULL, gw, gh, gw, 2, w, h, 4, &err) == EMO_EINVAL, "NULL gray");
  CHECK(of_pyramid_build_gray(pa, ga, gw - 1, gh, gw, 2, w, h, 4, &err) == EMO_EINVAL,
        "width not frame / k");
  CHECK(strstr(err.msg, "does not match") != NULL, "message: %s", err.msg);
  CHECK(of_pyramid_build_gray(pa, ga, gw, gh, gw - 1, 2, w, h, 4, &err) == EMO_EINVAL,
        "stride < width");
  CHECK(of_pyramid_build_gray(pa, ga, gw, gh, gw, 0, w, h, 4, &err) == EMO_EINVAL, "k 0");
  CHECK(of_pyramid_build_gray(pa, ga, gw, gh, gw, 2, w, h, 0, &err) == EMO_EINVAL, "levels 0");
  free(a);
  free(b);
  free(ga);
  free(gb);
}

static void test_pyramid_needed(const texture *tex) {
  /* 25 px at 640 wide: beyond one 15x15 window, needs the coarser levels */
  const int w = 640, h = 360;
  uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
  render_motion(tex, a, w, h, w * 3, 1, 0, 0, 0, 0);
  render_motion(tex, b, w, h, w * 3, 1, 0, 0, 25, -18);
  build2(a, b, w, h, w * 3, 640, 4);
  printf("of_track_box, 640x360 (k = 1), 4 levels:\n");
  const float box[4] = {200, 100, 160, 180};
  expect_box("shift (25, -18)", box, 25, -18, 1, 0.1, 0.01, 0.8f);
  /* one level cannot follow 25 px: the tracker must notice (low confidence), not lie */
  build2(a, b, w, h, w * 3, 640, 1);
  of_box_result r;
  CHECK(of_track_box(pa, pb, box, &r) == EMO_OK, "1 level rc");
  printf("  1 level, shift (25, -18): dx %.2f dy %.2f conf %.2f good %d\n", r.dx, r.dy,
         r.confidence, r.n_good);
  CHECK(r.confidence < 0.5f || (fabs(r.dx - 25) < 0.5 && fabs(r.dy + 18) < 0.5),
        "1 level: wrong motion (%.2f, %.2f) with confidence %.2f", r.dx, r.dy, r.confidence);
  /* flat frames: nothing to track */
  render(NULL, a, w, h, w * 3, 1, 0, 1, 0);
  build2(a, a, w, h, w * 3, 640, 4);
  CHECK(of_track_box(pa, pb, box, &r) == EMO_OK, "flat rc");
  CHECK(r.confidence < 0.05f && r.n_good == 0, "flat: confidence %.2f good %d", r.confidence,
        r.n_good);
  CHECK(memcmp(r.box, box, sizeof box) == 0, "flat: box moved");
  free(a);
  free(b);
}

static void test_1080p_padded(const texture *tex) {
  /* 1920x1080 with max_side 640: k = 3 (generic path), rows padded to 5800 bytes */
  const int w = 1920, h = 1080, stride = 5800;
  uint8_t *a = malloc((size_t)stride * h), *b = malloc((size_t)stride * h);
  render_motion(tex, a, w, h, stride, 1, 0, 0, 0, 0);
  render_motion(tex, b, w, h, stride, 1, 0, 0, -4.5, 6.75);
  build2(a, b, w, h, stride, 640, 4);
  float k = 0;
  int w0 = 0, h0 = 0;
  of_pyramid_info(pa, &w0, &h0, NULL, &k);
  CHECK(w0 == 640 && h0 == 360 && k == 3.0f, "1080p: %dx%d k %g", w0, h0, k);
  printf("of_track_box, 1920x1080 -> 640x360 (k = 3), stride 5800:\n");
  const float box[4] = {900, 400, 300, 330};
  expect_box("shift (-4.5, 6.75)", box, -4.5, 6.75, 1, 0.2, 0.01, 0.8f);
  free(a);
  free(b);
}

/* Bilinear shift of an RGB image: out(x) = in(x - t), border replicated. */
static void shift_rgb(const uint8_t *in, uint8_t *out, int w, int h, double tx, double ty) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double sx = x - tx, sy = y - ty;
      sx = sx < 0 ? 0 : (sx > w - 1 ? w - 1 : sx);
      sy = sy < 0 ? 0 : (sy > h - 1 ? h - 1 : sy);
      int x0 = (int)sx, y0 = (int)sy;
      int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
      double fx = sx - x0, fy = sy - y0;
      for (int c = 0; c < 3; c++) {
        double v = (1 - fx) * (1 - fy) * in[(y0 * w + x0) * 3 + c] +
                   fx * (1 - fy) * in[(y0 * w + x1) * 3 + c] +
                   (1 - fx) * fy * in[(y1 * w + x0) * 3 + c] + fx * fy * in[(y1 * w + x1) * 3 + c];
        out[(y * w + x) * 3 + c] = (uint8_t)(v + 0.5);
      }
    }
}

static void test_photo(void) {
  const char *path = th_data("faces/misc/single_face.jpg");
  unsigned char *bytes = NULL;
  size_t size = 0;
  emoi_err err = {{0}};
  img_rgb img;
  memset(&img, 0, sizeof img);
  if (!path || img_read_file(path, 1 << 26, &bytes, &size, &err) != EMO_OK ||
      img_decode(bytes, size, 1 << 24, &img, &err) != EMO_OK) {
    printf("photo part skipped: faces/misc/single_face.jpg absent or unreadable (%s)\n", err.msg);
    free(bytes);
    return;
  }
  free(bytes);
  const int w = img.width, h = img.height;
  uint8_t *ref = malloc((size_t)w * h * 3), *sh = malloc((size_t)w * h * 3);
  /* Both frames are resampled with the same fractional part where possible would hide
   * sub-pixel bias; here prev is the photo and next is bilinearly shifted by (3.4, -2.7),
   * which also blurs next a little, hence the 0.2 px tolerance. */
  memcpy(ref, img.data, (size_t)w * h * 3);
  const double tx = 3.4, ty = -2.7;
  shift_rgb(ref, sh, w, h, tx, ty);
  build2(ref, sh, w, h, w * 3, 640, 4);
  printf("photo %dx%d shifted by (%.2f, %.2f):\n", w, h, tx, ty);
  const float face[4] = {185, 150, 210, 240};
  expect_box("face box", face, tx, ty, 1, 0.2, 0.01, 0.5f);
  const float big[4] = {40, 40, (float)w - 80, (float)h - 80};
  expect_box("large box", big, tx, ty, 1, 0.2, 0.01, 0.5f);
  /* integer shift with a 2x downscale (max_side 286 -> k = 2) */
  shift_rgb(ref, sh, w, h, -6, 4);
  build2(ref, sh, w, h, w * 3, 286, 4);
  expect_box("face box, k = 2, shift (-6, 4)", face, -6, 4, 1, 0.2, 0.01, 0.5f);
  free(ref);
  free(sh);
  img_rgb_free(&img);
}

/* The capped path (pa, pb) against the scalar path on the same frames: bit-identical box and
 * point tracks for the three downscales (k = 1, 2, 3) and an odd frame size. */
static void test_paths_equal(const texture *tex, emo_isa cap) {
  emoi_err err = {{0}};
  of_pyramid *sa = NULL, *sb = NULL;
  CHECK(of_pyramid_create(&sa, &err) == EMO_OK && of_pyramid_create(&sb, &err) == EMO_OK,
        "create: %s", err.msg);
  if (!sa || !sb) return;
  of_pyramid_set_isa(sa, EMO_ISA_SCALAR);
  of_pyramid_set_isa(sb, EMO_ISA_SCALAR);
  const int sizes[][2] = {{640, 360}, {1280, 720}, {1917, 1077}, {333, 97}};
  int cases = 0, differ = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const int w = sizes[i][0], h = sizes[i][1], stride = w * 3 + 7;
    uint8_t *a = malloc((size_t)stride * h), *b = malloc((size_t)stride * h);
    render_motion(tex, a, w, h, stride, 1, 0, 0, 0, 0);
    render_motion(tex, b, w, h, stride, 1.03, 0.4 * w, 0.5 * h, 3.3, -1.7);
    build2(a, b, w, h, stride, 640, 4);
    CHECK(of_pyramid_build(sa, a, w, h, stride, 640, 4, &err) == EMO_OK &&
              of_pyramid_build(sb, b, w, h, stride, 640, 4, &err) == EMO_OK,
          "scalar build: %s", err.msg);
    const float box[4] = {0.3f * w, 0.25f * h, 0.35f * w, 0.5f * h};
    of_box_result r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    CHECK(of_track_box(pa, pb, box, &r1) == EMO_OK && of_track_box(sa, sb, box, &r2) == EMO_OK,
          "track rc");
    cases++;
    differ += memcmp(&r1, &r2, sizeof r1) != 0;
    float pts[6] = {0.5f * w, 0.5f * h, 3, 3, w - 2.5f, h - 1.5f}, o1[6], o2[6];
    uint8_t s1[3], s2[3];
    CHECK(of_lk_track(pa, pb, pts, o1, s1, 3, 7, 20) == EMO_OK &&
              of_lk_track(sa, sb, pts, o2, s2, 3, 7, 20) == EMO_OK,
          "lk rc");
    cases++;
    differ += memcmp(o1, o2, sizeof o1) != 0 || memcmp(s1, s2, sizeof s1) != 0;
    free(a);
    free(b);
  }
  printf("%s path vs scalar path: %d tracks, %d differ\n", emo_isa_name(emo_isa_pick(cap)), cases,
         differ);
  CHECK(differ == 0, "the %s path differs from the scalar one in %d of %d tracks",
        emo_isa_name(emo_isa_pick(cap)), differ, cases);
  of_pyramid_destroy(&sa);
  of_pyramid_destroy(&sb);
}

int main(int argc, char **argv) {
  const emo_isa cap = (emo_isa)th_isa_arg(argc, argv);
  emoi_err err = {{0}};
  CHECK(of_pyramid_create(&pa, &err) == EMO_OK && of_pyramid_create(&pb, &err) == EMO_OK,
        "create: %s", err.msg);
  CHECK(of_pyramid_create(NULL, &err) == EMO_EINVAL, "create NULL");
  if (!pa || !pb) return th_finish("test_optical_flow");
  CHECK(of_pyramid_set_isa(pa, cap) == emo_isa_pick(cap) &&
            of_pyramid_set_isa(pb, cap) == emo_isa_pick(cap),
        "set_isa");
  {
    int lv;
    CHECK(of_pyramid_info(pa, NULL, NULL, &lv, NULL) == EMO_EINVAL, "info on unbuilt");
  }
  texture tex;
  texture_init(&tex, 12345u);
  test_points(&tex);
  test_shifts_720p(&tex);
  test_gray_input(&tex);
  test_pyramid_needed(&tex);
  test_1080p_padded(&tex);
  test_photo();
  test_paths_equal(&tex, cap);
  printf("worst centre error %.4f px, worst scale error %.4f%%\n", worst_shift, 100 * worst_scale);
  of_pyramid_destroy(&pa);
  of_pyramid_destroy(&pb);
  of_pyramid_destroy(&pb); /* NULL is fine */
  of_pyramid_destroy(NULL);
  return th_finish("test_optical_flow");
}
