/* bench_flow.c: cost of the video box tracker's per-frame work (vision/optical_flow): building
 * a pyramid from a 1280x720 RGB24 frame (gray + 2x area downscale to 640x360 + levels), and
 * of_track_box on 4 face-sized boxes between two such pyramids. Frames are a synthetic smooth
 * texture (sum of sinusoids) and the second is the first shifted by (3.3, -2.2) px, so the LK
 * iterations do real work. Median (p10, p90) of 200 timed runs after 20 warm-up runs, one
 * thread.
 *
 * Output: a table, then machine-readable lines
 *   BENCH_FLOW op=pyramid_build size=1280x720 max_side=640 levels=L median_ms=... p10_ms=...
 *   BENCH_FLOW op=track_4_boxes ... median_ms=... points_per_box=100 isa=avx2 clock=wall
 *
 * --isa caps the downscale and the point solver's path (of_pyramid_set_isa); --cpu times
 * with the thread's CPU clock instead of the wall clock (for a loaded machine).
 *
 * usage: bench_flow [--levels L] [--max-side N] [--runs N] [--isa auto|scalar|avx2|avx512]
 *                   [--cpu] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "vision/optical_flow.h"

#define W 1280
#define H 720

/* next(x, y) = texture(x - tx, y - ty); 24 sinusoids with wavelengths 14..80 px. */
static void render(uint8_t *rgb, double tx, double ty) {
  unsigned s = 7;
  double fx[24], fy[24], ph[24];
  for (int k = 0; k < 24; k++) {
    s = s * 1664525u + 1013904223u;
    double th = (s >> 8) / 16777216.0 * 6.2831853;
    s = s * 1664525u + 1013904223u;
    double lam = 14 + (s >> 8) / 16777216.0 * 66;
    s = s * 1664525u + 1013904223u;
    ph[k] = (s >> 8) / 16777216.0 * 6.2831853;
    fx[k] = 6.2831853 * cos(th) / lam;
    fy[k] = 6.2831853 * sin(th) / lam;
  }
  static float cu[24][W], su[24][W], cv[24][H], sv[24][H];
  for (int k = 0; k < 24; k++) {
    for (int x = 0; x < W; x++) {
      cu[k][x] = (float)cos(fx[k] * (x - tx));
      su[k][x] = (float)sin(fx[k] * (x - tx));
    }
    for (int y = 0; y < H; y++) {
      cv[k][y] = (float)cos(fy[k] * (y - ty) + ph[k]);
      sv[k][y] = (float)sin(fy[k] * (y - ty) + ph[k]);
    }
  }
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      float v = 128;
      for (int k = 0; k < 24; k++) v += 10.0f * (su[k][x] * cv[k][y] + cu[k][x] * sv[k][y]);
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      uint8_t b = (uint8_t)(v + 0.5f);
      uint8_t *p = rgb + ((size_t)y * W + x) * 3;
      p[0] = b;
      p[1] = (uint8_t)(b * 7 / 8);
      p[2] = (uint8_t)(b * 3 / 4);
    }
}

static emo_isa g_isa = EMO_ISA_AUTO; /* the path taken (--isa) */
static int g_cpu;                    /* --cpu */

static double now_ms(void) {
  return g_cpu ? bu_thread_cpu_ms() : bu_now_ms();
}

static void print_stats(const char *op, double *t, int n, int levels, int max_side) {
  bu_stats s = bu_summarize(t, n);
  printf("%-16s median %.4f ms  p10 %.4f  p90 %.4f  min %.4f\n", op, s.median, s.p10, s.p90, s.min);
  printf(
      "BENCH_FLOW op=%s size=%dx%d max_side=%d levels=%d runs=%d median_ms=%.4f p10_ms=%.4f "
      "p90_ms=%.4f isa=%s clock=%s\n",
      op, W, H, max_side, levels, n, s.median, s.p10, s.p90, emo_isa_name(g_isa),
      g_cpu ? "thread_cpu" : "wall");
}

int main(int argc, char **argv) {
  int levels = 4, max_side = 640, runs = 200;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--levels") && i + 1 < argc)
      levels = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max-side") && i + 1 < argc)
      max_side = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--cpu"))
      g_cpu = 1;
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      const char *v = argv[++i];
      int k = 0;
      while (k < EMO_ISA_COUNT && strcmp(v, emo_isa_name((emo_isa)k)) != 0) k++;
      if (k == EMO_ISA_COUNT) goto usage;
      g_isa = (emo_isa)k;
    } else {
    usage:
      fprintf(stderr,
              "usage: bench_flow [--levels L] [--max-side N] [--runs N] "
              "[--isa auto|scalar|avx2|avx512] [--cpu]\n");
      return 2;
    }
  }
  if (runs < 1 || runs > 100000) runs = 200;
  uint8_t *a = malloc((size_t)W * H * 3), *b = malloc((size_t)W * H * 3);
  double *t = malloc(sizeof(double) * (size_t)runs);
  of_pyramid *pa = NULL, *pb = NULL;
  emoi_err err = {{0}};
  if (!a || !b || !t || of_pyramid_create(&pa, &err) || of_pyramid_create(&pb, &err)) {
    fprintf(stderr, "bench_flow: out of memory\n");
    return 1;
  }
  g_isa = of_pyramid_set_isa(pa, g_isa);
  of_pyramid_set_isa(pb, g_isa);
  char cpu[256];
  printf("bench_flow: %s, the %s path, %s clock\n", bu_cpu_model(cpu, sizeof cpu),
         emo_isa_name(g_isa), g_cpu ? "thread CPU" : "wall");
  render(a, 0, 0);
  render(b, 3.3, -2.2);

  for (int i = 0; i < 20 + runs; i++) {
    double t0 = now_ms();
    if (of_pyramid_build(pa, a, W, H, (ptrdiff_t)W * 3, max_side, levels, &err) != EMO_OK) {
      fprintf(stderr, "bench_flow: %s\n", err.msg);
      return 1;
    }
    if (i >= 20) t[i - 20] = now_ms() - t0;
  }
  print_stats("pyramid_build", t, runs, levels, max_side);
  if (of_pyramid_build(pb, b, W, H, (ptrdiff_t)W * 3, max_side, levels, &err) != EMO_OK) {
    fprintf(stderr, "bench_flow: %s\n", err.msg);
    return 1;
  }

  /* four face boxes of typical sizes in a 720p frame */
  const float boxes[4][4] = {
      {200, 150, 180, 200}, {520, 260, 120, 140}, {800, 120, 240, 270}, {1050, 400, 90, 100}};
  of_box_result r[4];
  for (int i = 0; i < 20 + runs; i++) {
    double t0 = now_ms();
    for (int j = 0; j < 4; j++) of_track_box(pa, pb, boxes[j], &r[j]);
    if (i >= 20) t[i - 20] = now_ms() - t0;
  }
  print_stats("track_4_boxes", t, runs, levels, max_side);
  for (int j = 0; j < 4; j++)
    printf("  box %d: dx %.3f dy %.3f (true 3.300 -2.200) scale %.4f good %d/%d conf %.2f\n", j,
           r[j].dx, r[j].dy, r[j].scale, r[j].n_good, r[j].n_points, r[j].confidence);
  of_pyramid_destroy(&pa);
  of_pyramid_destroy(&pb);
  free(a);
  free(b);
  free(t);
  return 0;
}
