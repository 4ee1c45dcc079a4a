/* test_prosody.c: prosody on signals with known answers: harmonic tones at known F0 (with
 * vowel-like harmonics), a glide whose range is known, noise (unvoiced), silence, and a
 * syllable-rate pulse train (5 syllables per second). */
#include <math.h>
#include <stdlib.h>

#include "audio/prosody.h"
#include "harness.h"

#define SR 16000

/* A voiced sound: harmonics 1..8 of f0(t) with 1/k amplitudes, phase-continuous. */
static void harmonic(float *x, int n, float f0a, float f0b, float amp) {
  double phase = 0.0;
  for (int i = 0; i < n; i++) {
    double f0 = f0a + (f0b - f0a) * i / (double)n;
    phase += 2.0 * M_PI * f0 / SR;
    double s = 0.0;
    for (int k = 1; k <= 8; k++) s += sin(k * phase) / k;
    x[i] = (float)(amp * s / 2.0);
  }
}

int main(void) {
  static float x[SR * 3];
  prosody p;
  emoi_err err = {{0}};
  for (int t = 0; t < 3; t++) {
    float f0 = (float[]){110.0f, 200.0f, 310.0f}[t];
    harmonic(x, SR, f0, f0, 0.3f);
    CHECK(prosody_measure(x, SR, &p, &err) == EMO_OK, "measure");
    printf("tone %.0f Hz: f0 %.1f (%.1f..%.1f), voiced %.2f, %.1f dB\n", f0, p.f0_mean, p.f0_min,
           p.f0_max, p.voiced_ratio, p.energy_db);
    CHECK(fabsf(p.f0_mean - f0) < 0.01f * f0, "tone %.0f: f0 %.2f", f0, p.f0_mean);
    CHECK(p.voiced_ratio > 0.95f, "tone %.0f: voiced %.2f", f0, p.voiced_ratio);
  }
  harmonic(x, 2 * SR, 120.0f, 240.0f, 0.3f);
  prosody_measure(x, 2 * SR, &p, &err);
  printf("glide 120->240: %.1f..%.1f mean %.1f\n", p.f0_min, p.f0_max, p.f0_mean);
  CHECK(fabsf(p.f0_min - 126.0f) < 6.0f && fabsf(p.f0_max - 234.0f) < 8.0f &&
            fabsf(p.f0_mean - 180.0f) < 6.0f,
        "glide range %.1f..%.1f mean %.1f", p.f0_min, p.f0_max, p.f0_mean);
  unsigned st = 1;
  for (int i = 0; i < SR; i++) x[i] = th_randf(&st, -0.3f, 0.3f);
  prosody_measure(x, SR, &p, &err);
  printf("noise: voiced %.2f\n", p.voiced_ratio);
  CHECK(p.voiced_ratio < 0.1f, "noise voiced %.2f", p.voiced_ratio);
  for (int i = 0; i < SR; i++) x[i] = 0.0f;
  prosody_measure(x, SR, &p, &err);
  CHECK(p.voiced_ratio == 0.0f && p.f0_mean == 0.0f && p.energy_db < -100.0f, "silence");
  /* 5 "syllables" per second: 120 ms voiced bursts every 200 ms, for 3 s. */
  harmonic(x, 3 * SR, 150.0f, 150.0f, 0.3f);
  for (int i = 0; i < 3 * SR; i++)
    if ((i % (SR / 5)) > (int)(0.12 * SR)) x[i] *= 0.02f;
  prosody_measure(x, 3 * SR, &p, &err);
  printf("bursts: rate %.2f/s, voiced %.2f\n", p.rate, p.voiced_ratio);
  CHECK(fabsf(p.rate - 5.0f) < 0.7f, "syllable rate %.2f, want 5", p.rate);
  CHECK(prosody_measure(NULL, 10, &p, &err) == EMO_EINVAL, "NULL");
  CHECK(prosody_measure(x, 100, &p, &err) == EMO_OK && p.voiced_ratio == 0.0f, "too short");
  return th_finish("test_prosody");
}
