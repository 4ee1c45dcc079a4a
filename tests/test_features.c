/* test_features.c: the audio front end (src/audio/features.c).
 *   - radix-2 complex FFT and the real FFT against a naive double-precision DFT on random
 *     input, sizes 1/2 .. 2048 (real: 2 .. 2048), at unaligned addresses;
 *   - a sine's energy lands in the mel band whose triangle peaks nearest its frequency;
 *   - log-mel and MFCC equal the numpy twin (training/features.py) on the committed fixture
 *     tests/fixtures/features.fix (training/make_feature_fixture.py), max abs diff <= 1e-4;
 *   - streaming: features of a signal computed in two pieces (keeping the overlap) equal the
 *     features of the whole; frame counting and config validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/features.h"
#include "fixture.h"
#include "harness.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static unsigned rng = 777u;

static void naive_dft(const float *xr, const float *xi, int n, double *yr, double *yi) {
  for (int k = 0; k < n; k++) {
    double sr = 0, si = 0;
    for (int i = 0; i < n; i++) {
      double a = -2.0 * M_PI * (double)((long long)i * k % n) / n;
      double r = xr[i], im = xi ? xi[i] : 0.0;
      sr += r * cos(a) - im * sin(a);
      si += r * sin(a) + im * cos(a);
    }
    yr[k] = sr;
    yi[k] = si;
  }
}

static void test_fft(void) {
  static const int sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int n = sizes[s];
    /* +1: unaligned views */
    float *mem = malloc(sizeof(float) * (size_t)(4 * n + 8));
    float *re = mem + 1, *im = re + n + 1, *x = im + n + 1, *x_im = x + n + 1;
    float *ct = malloc(sizeof(float) * (size_t)(n / 2 + 1)),
          *st = malloc(sizeof(float) * (size_t)(n / 2 + 1));
    double *yr = malloc(sizeof(double) * (size_t)n), *yi = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
      x[i] = th_randf(&rng, -1, 1);
      x_im[i] = th_randf(&rng, -1, 1);
      re[i] = x[i];
      im[i] = x_im[i];
    }
    feat_fft_twiddles(n, ct, st);
    CHECK(feat_fft(re, im, n, ct, st, 1) == 0, "fft n=%d", n);
    naive_dft(x, x_im, n, yr, yi);
    double worst = 0, scale = sqrt((double)n);
    for (int k = 0; k < n; k++) {
      worst = fmax(worst, fabs(re[k] - yr[k]));
      worst = fmax(worst, fabs(im[k] - yi[k]));
    }
    CHECK(worst <= 2e-6 * scale * (1 + log2(n)), "complex fft n=%d worst %g", n, worst);
    if (n >= 2) {
      CHECK(feat_rfft(x, n, ct, st, re, im) == 0, "rfft n=%d", n);
      naive_dft(x, NULL, n, yr, yi);
      double w2 = 0;
      for (int k = 0; k <= n / 2; k++) {
        w2 = fmax(w2, fabs(re[k] - yr[k]));
        w2 = fmax(w2, fabs(im[k] - yi[k]));
      }
      CHECK(w2 <= 2e-6 * scale * (1 + log2(n)), "real fft n=%d worst %g", n, w2);
      if (n == 2048 || n == 2)
        printf("fft n=%d: complex worst %.3g, real worst %.3g\n", n, worst, w2);
    }
    free(mem);
    free(ct);
    free(st);
    free(yr);
    free(yi);
  }
  float a[3] = {0}, b[3] = {0}, t[2] = {1, 0};
  CHECK(feat_fft(a, b, 3, t, t, 1) == EMO_EINVAL, "n=3 rejected");
  CHECK(feat_rfft(a, 1, t, t, a, b) == EMO_EINVAL, "real n=1 rejected");
}

static double mel(double f) {
  return 2595.0 * log10(1.0 + f / 700.0);
}

static void test_sine_band(const feat_config *c) {
  static const double freqs[] = {300.0, 1000.0, 2500.0, 5000.0, 7000.0};
  int n = 4000;
  float *pcm = malloc(sizeof(float) * (size_t)n);
  float *out = malloc(sizeof(float) * (size_t)feat_num_frames(c, n) * 64);
  for (size_t fi = 0; fi < sizeof freqs / sizeof freqs[0]; fi++) {
    double f = freqs[fi];
    for (int i = 0; i < n; i++) pcm[i] = (float)(0.5 * sin(2 * M_PI * f * i / 16000.0));
    int frames = 0;
    CHECK(feat_logmel(c, pcm, n, out, &frames) == 0, "logmel");
    const float *row = out + (size_t)(frames / 2) * 64;
    int best = 0;
    for (int m = 1; m < 64; m++)
      if (row[m] > row[best]) best = m;
    /* expected band: the one whose centre mel (m + 1) * step is nearest mel(f) */
    double step = mel(8000.0) / 65.0;
    int expect = (int)lround(mel(f) / step) - 1;
    CHECK(abs(best - expect) <= 0, "sine %g Hz: peak band %d, expected %d", f, best, expect);
    /* and it dominates: far bands are much weaker */
    CHECK(row[best] > row[(best + 32) % 64] + 5.0f, "sine %g Hz: peak not dominant", f);
  }
  free(pcm);
  free(out);
}

static void test_fixture(const feat_config *c) {
  char path[512], msg[256];
  snprintf(path, sizeof path, "%s/tests/fixtures/features.fix", EMO_SOURCE_DIR);
  fx_file *fx = NULL;
  if (fx_load(path, &fx, msg, sizeof msg)) {
    CHECK(0, "fixture: %s", msg);
    return;
  }
  const fx_tensor *pcm = fx_get(fx, "pcm"), *lm = fx_get(fx, "logmel"), *mf = fx_get(fx, "mfcc");
  CHECK(pcm && lm && mf && pcm->f32 && lm->f32 && mf->f32 && lm->rank == 2 && mf->rank == 2,
        "fixture tensors");
  if (!(pcm && lm && mf && pcm->f32 && lm->f32 && mf->f32 && lm->rank == 2 && mf->rank == 2)) {
    fx_free(&fx);
    return;
  }
  int n = (int)pcm->numel, frames = -1;
  CHECK(feat_num_frames(c, n) == lm->dims[0], "frames %d vs %lld", feat_num_frames(c, n),
        (long long)lm->dims[0]);
  float *out = malloc(sizeof(float) * (size_t)lm->numel);
  float *out2 = malloc(sizeof(float) * (size_t)mf->numel);
  CHECK(feat_logmel(c, pcm->f32, n, out, &frames) == 0 && frames == lm->dims[0], "logmel");
  double worst = 0;
  for (int64_t i = 0; i < lm->numel; i++) worst = fmax(worst, fabs(out[i] - lm->f32[i]));
  printf("log-mel vs numpy twin: %d frames x 64, max abs diff %.3g\n", frames, worst);
  CHECK(worst <= 1e-4, "log-mel max abs diff %g", worst);
  CHECK(feat_mfcc(c, pcm->f32, n, out2, &frames) == 0 && frames == mf->dims[0], "mfcc");
  worst = 0;
  for (int64_t i = 0; i < mf->numel; i++) worst = fmax(worst, fabs(out2[i] - mf->f32[i]));
  printf("MFCC vs numpy twin: max abs diff %.3g\n", worst);
  CHECK(worst <= 1e-4, "mfcc max abs diff %g", worst);

  /* streaming: first piece ends mid-frame; the second starts at the next frame's start */
  int n1 = 4321, f1 = feat_num_frames(c, n1), f2 = 0;
  float *s = malloc(sizeof(float) * (size_t)lm->numel);
  feat_logmel(c, pcm->f32, n1, s, &f1);
  feat_logmel(c, pcm->f32 + (size_t)f1 * 160, n - f1 * 160, s + (size_t)f1 * 64, &f2);
  CHECK(f1 + f2 == frames, "streamed frames %d + %d vs %d", f1, f2, frames);
  CHECK(memcmp(s, out, sizeof(float) * (size_t)lm->numel) == 0, "streamed == whole");
  free(s);
  free(out);
  free(out2);
  fx_free(&fx);
}

int main(void) {
  test_fft();
  feat_config *c = malloc(sizeof *c);
  emoi_err e = {{0}};
  feat_params p = feat_params_default();
  CHECK(feat_config_init(c, &p, &e) == 0, "init: %s", e.msg);
  CHECK(feat_num_frames(c, 399) == 0 && feat_num_frames(c, 400) == 1 &&
            feat_num_frames(c, 559) == 1 && feat_num_frames(c, 560) == 2 &&
            feat_num_frames(c, -5) == 0,
        "frame counting");
  int fr = -1;
  CHECK(feat_logmel(c, NULL, 0, NULL, &fr) == 0 && fr == 0, "empty input");
  test_sine_band(c);
  test_fixture(c);
  feat_params bad = p;
  bad.n_fft = 500;
  CHECK(feat_config_init(c, &bad, &e) == EMO_EINVAL && strstr(e.msg, "n_fft"), "bad n_fft: %s",
        e.msg);
  bad = p;
  bad.f_max = 9000.0f;
  CHECK(feat_config_init(c, &bad, &e) == EMO_EINVAL && strstr(e.msg, "f_max"), "bad f_max: %s",
        e.msg);
  bad = p;
  bad.n_mfcc = 0;
  CHECK(feat_config_init(c, &bad, &e) == 0, "no mfcc ok");
  CHECK(feat_mfcc(c, NULL, 0, NULL, &fr) == EMO_EINVAL, "mfcc disabled");
  free(c);
  return th_finish("test_features");
}
