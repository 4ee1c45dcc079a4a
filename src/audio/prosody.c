/* prosody.c: see prosody.h. Frames of 40 ms every 10 ms; F0 searched in 60-500 Hz with YIN's
 * threshold 0.15; a frame is voiced when YIN finds a period and its level is within 35 dB
 * of the segment's loudest frame. */
#include "audio/prosody.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SR 16000
#define HOP 160
#define WIN 640 /* 40 ms: two periods of 50 Hz */
#define F0_MIN 60.0f
#define F0_MAX 500.0f
#define YIN_THRESHOLD 0.15f
#define MAX_FRAMES (PROSODY_MAX_SECONDS * SR / HOP)

/* Compiled per ISA and picked at load time (gcc/clang ifunc; baseline only elsewhere and under
 * the sanitizers). */
#if defined(__x86_64__) && defined(__ELF__) && !defined(__SANITIZE_ADDRESS__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define YIN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef YIN_CLONES
#define YIN_CLONES
#endif

/* sum over j < w of (x[j] - y[j])^2 in double, in 8 interleaved partial sums so it vectorises
 * (the order differs from a plain loop by rounding in the last bits of a double). */
YIN_CLONES static double sq_diff(const float *x, const float *y, int w) {
  double acc[8] = {0};
  int j = 0;
  for (; j + 8 <= w; j += 8)
    for (int k = 0; k < 8; k++) {
      const float e = x[j + k] - y[j + k];
      acc[k] += (double)e * e;
    }
  double s = 0.0;
  for (; j < w; j++) {
    const float e = x[j] - y[j];
    s += (double)e * e;
  }
  for (int k = 0; k < 8; k++) s += acc[k];
  return s;
}

float prosody_yin(const float *x, int n, float f0_min, float f0_max, float threshold) {
  int tau_min = (int)(SR / f0_max), tau_max = (int)(SR / f0_min);
  int w = n - tau_max;
  if (tau_min < 2 || w < tau_max / 2 || tau_max >= n) return 0.0f;
  float d[SR / 50 + 2]; /* difference function, tau up to 320 */
  if (tau_max + 1 > (int)(sizeof d / sizeof d[0])) return 0.0f;
  d[0] = 1.0f;
  double running = 0.0;
  int best = -1;
  float prev = 1.0f;
  /* stops once the period is found: d(best + 1) is the last value the interpolation needs */
  for (int tau = 1; tau <= tau_max && best < 0; tau++) {
    const double s = sq_diff(x, x + tau, w);
    running += s;
    /* cumulative mean normalised difference d'(tau) */
    d[tau] = running > 0.0 ? (float)(s * tau / running) : 1.0f;
    if (tau > tau_min && prev < threshold && d[tau] > prev) best = tau - 1;
    prev = d[tau];
  }
  if (best < 0) return 0.0f;
  /* parabolic interpolation around the minimum */
  float a = d[best - 1], b = d[best], c = best + 1 <= tau_max ? d[best + 1] : b;
  float den = a - 2.0f * b + c;
  float t = (float)best + (fabsf(den) > 1e-12f ? 0.5f * (a - c) / den : 0.0f);
  return t > 0.0f ? (float)SR / t : 0.0f;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int prosody_measure(const float *pcm, int n, prosody *out, emoi_err *err) {
  if (!pcm || n < 0 || !out) return emoi_fail(err, EMO_EINVAL, "prosody: bad arguments");
  memset(out, 0, sizeof *out);
  if (n > PROSODY_MAX_SECONDS * SR) n = PROSODY_MAX_SECONDS * SR;
  int frames = n >= WIN ? 1 + (n - WIN) / HOP : 0;
  if (frames == 0) {
    out->energy_db = -120.0f;
    return EMO_OK;
  }
  static _Thread_local float level[MAX_FRAMES], f0[MAX_FRAMES], env[MAX_FRAMES];
  float loudest = -200.0f;
  double energy_sum = 0.0;
  for (int f = 0; f < frames; f++) {
    const float *x = pcm + (size_t)f * HOP;
    double s = 0.0;
    for (int j = 0; j < WIN; j++) s += (double)x[j] * x[j];
    float rms = (float)sqrt(s / WIN);
    level[f] = 20.0f * log10f(rms + 1e-9f);
    energy_sum += s / WIN;
    if (level[f] > loudest) loudest = level[f];
  }
  out->energy_db = (float)(10.0 * log10(energy_sum / frames + 1e-18));
  int voiced = 0;
  float vals[MAX_FRAMES];
  double f0_sum = 0.0;
  for (int f = 0; f < frames; f++) {
    f0[f] = 0.0f;
    if (level[f] < loudest - 35.0f || level[f] < -70.0f) continue;
    f0[f] = prosody_yin(pcm + (size_t)f * HOP, WIN, F0_MIN, F0_MAX, YIN_THRESHOLD);
    if (f0[f] > 0.0f) {
      vals[voiced++] = f0[f];
      f0_sum += f0[f];
    }
  }
  out->voiced_ratio = (float)voiced / (float)frames;
  if (voiced > 0) {
    qsort(vals, (size_t)voiced, sizeof vals[0], cmp_float);
    out->f0_mean = (float)(f0_sum / voiced);
    out->f0_min = vals[(int)(0.05 * (voiced - 1))];
    out->f0_max = vals[(int)(0.95 * (voiced - 1))];
  }
  /* Syllable nuclei: peaks of the level envelope (smoothed over 50 ms) that are voiced,
   * rise at least 2 dB above the preceding dip, and lie within 25 dB of the loudest frame. */
  for (int f = 0; f < frames; f++) {
    double s = 0.0;
    int k = 0;
    for (int j = f - 2; j <= f + 2; j++)
      if (j >= 0 && j < frames) s += level[j], k++;
    env[f] = (float)(s / k);
  }
  int peaks = 0;
  float dip = env[0];
  for (int f = 1; f + 1 < frames; f++) {
    if (env[f] < dip) dip = env[f];
    if (env[f] > env[f - 1] && env[f] >= env[f + 1] && f0[f] > 0.0f && env[f] - dip >= 2.0f &&
        env[f] > loudest - 25.0f) {
      peaks++;
      dip = env[f];
    }
  }
  out->rate = (float)peaks / ((float)n / SR);
  return EMO_OK;
}
