/* features.c: log-mel and MFCC front end (see features.h for the exact math), with our own
 * radix-2 FFT: an iterative decimation-in-time complex FFT (Cooley & Tukey 1965) and the
 * standard "two for one" real transform, n real samples packed as n/2 complex ones,
 * transformed, then split into even/odd spectra (e.g. Brigham, "The Fast Fourier Transform",
 * ch. 10; Numerical Recipes section 12.3). Tables are computed in double and stored as float.
 *
 * What it leaves to others: decoding/resampling (caller gives 16 kHz float PCM), any model-
 * specific normalization (audio/ser.c). Tested against a naive DFT and the Python twin
 * training/features.py by tests/test_features.c. */
#include "audio/features.h"

#include <math.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

feat_params feat_params_default(void) {
  feat_params p;
  p.sample_rate = 16000;
  p.win_length = 400;
  p.hop_length = 160;
  p.n_fft = 512;
  p.n_mels = 64;
  p.n_mfcc = 13;
  p.f_min = 0.0f;
  p.f_max = 8000.0f;
  p.log_offset = 1e-6f;
  return p;
}

static int is_pow2(int n) {
  return n >= 1 && (n & (n - 1)) == 0;
}

static double hz_to_mel(double f) {
  return 2595.0 * log10(1.0 + f / 700.0);
}
static double mel_to_hz(double m) {
  return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

void feat_fft_twiddles(int n, float *cos_tab, float *sin_tab) {
  for (int k = 0; k < n / 2; k++) {
    double a = 2.0 * M_PI * (double)k / (double)n;
    cos_tab[k] = (float)cos(a);
    sin_tab[k] = (float)sin(a);
  }
}

int feat_fft(float *re, float *im, int n, const float *cos_tab, const float *sin_tab,
             int tw_stride) {
  if (!is_pow2(n) || tw_stride < 1) return EMO_EINVAL;
  /* bit-reversal permutation */
  for (int i = 1, j = 0; i < n; i++) {
    int bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      float t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  /* butterflies: W_len^k = W_n^(k n/len) = cos - j sin of table entry k*(n/len)*stride */
  for (int len = 2; len <= n; len <<= 1) {
    int half = len >> 1, step = (n / len) * tw_stride;
    for (int s = 0; s < n; s += len) {
      for (int k = 0; k < half; k++) {
        float wr = cos_tab[k * step], wi = -sin_tab[k * step];
        float *ar = re + s + k, *ai = im + s + k;
        float *br = re + s + k + half, *bi = im + s + k + half;
        float tr = *br * wr - *bi * wi;
        float ti = *br * wi + *bi * wr;
        *br = *ar - tr;
        *bi = *ai - ti;
        *ar += tr;
        *ai += ti;
      }
    }
  }
  return 0;
}

int feat_rfft(const float *x, int n, const float *cos_tab, const float *sin_tab, float *re,
              float *im) {
  if (!is_pow2(n) || n < 2) return EMO_EINVAL;
  int h = n / 2;
  for (int k = 0; k < h; k++) {
    re[k] = x[2 * k];
    im[k] = x[2 * k + 1];
  }
  /* h-point transform: its twiddles W_h^k = W_n^(2k), so the n-point table with stride 2 */
  int rc = feat_fft(re, im, h, cos_tab, sin_tab, 2);
  if (rc) return rc;
  /* split: E_k = (Z_k + conj Z_{h-k}) / 2, O_k = -j (Z_k - conj Z_{h-k}) / 2,
   * X_k = E_k + W^k O_k, X_{h-k} = conj(E_k - W^k O_k), W = e^{-2 pi j / n} */
  float z0r = re[0], z0i = im[0];
  re[0] = z0r + z0i;
  im[0] = 0.0f;
  re[h] = z0r - z0i;
  im[h] = 0.0f;
  for (int k = 1; k <= h / 2; k++) {
    float ar = re[k], ai = im[k], br = re[h - k], bi = im[h - k];
    float er = 0.5f * (ar + br), ei = 0.5f * (ai - bi);
    /* a - conj b = (ar - br) + j (ai + bi); times -j/2 */
    float or_ = 0.5f * (ai + bi), oi = -0.5f * (ar - br);
    float wr = cos_tab[k], wi = -sin_tab[k];
    float pr = wr * or_ - wi * oi, pi = wr * oi + wi * or_;
    re[k] = er + pr;
    im[k] = ei + pi;
    re[h - k] = er - pr;
    im[h - k] = -(ei - pi);
  }
  return 0;
}

int feat_config_init(feat_config *c, const feat_params *p, emoi_err *err) {
  if (!c || !p) return emoi_fail(err, EMO_EINVAL, "feat_config_init: NULL argument");
  if (p->sample_rate < 1000 || p->sample_rate > 384000)
    return emoi_fail(err, EMO_EINVAL, "feature config: sample_rate %d out of range",
                     p->sample_rate);
  if (!is_pow2(p->n_fft) || p->n_fft < 16 || p->n_fft > FEAT_MAX_NFFT)
    return emoi_fail(err, EMO_EINVAL, "feature config: n_fft %d must be a power of two in [16, %d]",
                     p->n_fft, FEAT_MAX_NFFT);
  if (p->win_length < 2 || p->win_length > p->n_fft)
    return emoi_fail(err, EMO_EINVAL, "feature config: win_length %d must be in [2, n_fft %d]",
                     p->win_length, p->n_fft);
  if (p->hop_length < 1 || p->hop_length > 1 << 20)
    return emoi_fail(err, EMO_EINVAL, "feature config: hop_length %d out of range", p->hop_length);
  if (p->n_mels < 1 || p->n_mels > FEAT_MAX_MELS)
    return emoi_fail(err, EMO_EINVAL, "feature config: n_mels %d must be in [1, %d]", p->n_mels,
                     FEAT_MAX_MELS);
  if (p->n_mfcc < 0 || p->n_mfcc > p->n_mels || p->n_mfcc > FEAT_MAX_MFCC)
    return emoi_fail(err, EMO_EINVAL, "feature config: n_mfcc %d must be in [0, min(n_mels, %d)]",
                     p->n_mfcc, FEAT_MAX_MFCC);
  if (!(p->f_min >= 0.0f) || !(p->f_max > p->f_min) || !(p->f_max <= 0.5f * (float)p->sample_rate))
    return emoi_fail(err, EMO_EINVAL,
                     "feature config: need 0 <= f_min (%g) < f_max (%g) <= sample_rate/2",
                     (double)p->f_min, (double)p->f_max);
  if (!(p->log_offset > 0.0f) || !isfinite(p->log_offset))
    return emoi_fail(err, EMO_EINVAL, "feature config: log_offset must be > 0");

  memset(c, 0, sizeof *c);
  c->p = *p;
  for (int i = 0; i < p->win_length; i++)
    c->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)p->win_length));
  feat_fft_twiddles(p->n_fft, c->tw_cos, c->tw_sin);

  /* HTK mel filter bank (features.h) */
  int n_bins = p->n_fft / 2 + 1, used = 0;
  double mlo = hz_to_mel(p->f_min), mhi = hz_to_mel(p->f_max);
  for (int m = 0; m < p->n_mels; m++) {
    double f0 = mel_to_hz(mlo + (mhi - mlo) * m / (p->n_mels + 1));
    double f1 = mel_to_hz(mlo + (mhi - mlo) * (m + 1) / (p->n_mels + 1));
    double f2 = mel_to_hz(mlo + (mhi - mlo) * (m + 2) / (p->n_mels + 1));
    c->mel_first[m] = 0;
    c->mel_count[m] = 0;
    c->mel_offset[m] = used;
    for (int k = 0; k < n_bins; k++) {
      double f = (double)k * p->sample_rate / p->n_fft;
      double w = fmin((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1));
      if (!(w > 0.0)) {
        if (c->mel_count[m] > 0) break; /* past the triangle */
        continue;
      }
      if (c->mel_count[m] == 0) c->mel_first[m] = k;
      if (used >= (int)(sizeof c->mel_w / sizeof c->mel_w[0]))
        return emoi_fail(err, EMO_EINVAL, "feature config: mel filter bank too dense");
      c->mel_w[used++] = (float)w;
      c->mel_count[m]++;
    }
  }
  for (int q = 0; q < p->n_mfcc; q++) {
    double s = q == 0 ? sqrt(1.0 / p->n_mels) : sqrt(2.0 / p->n_mels);
    for (int m = 0; m < p->n_mels; m++)
      c->dct[q * p->n_mels + m] = (float)(s * cos(M_PI * q * (m + 0.5) / p->n_mels));
  }
  return 0;
}

int feat_num_frames(const feat_config *c, int n) {
  if (!c || n < c->p.win_length) return 0;
  return 1 + (n - c->p.win_length) / c->p.hop_length;
}

/* One frame's log-mel row: frame (win_length samples) -> lm (n_mels). */
static void logmel_frame(const feat_config *c, const float *frame, float *lm) {
  float buf[FEAT_MAX_NFFT];                                   /* (n_fft) windowed, zero-padded */
  float re[FEAT_MAX_NFFT / 2 + 1], im[FEAT_MAX_NFFT / 2 + 1]; /* (n_fft/2+1) spectrum */
  int nfft = c->p.n_fft, win = c->p.win_length;
  for (int i = 0; i < win; i++) buf[i] = frame[i] * c->window[i];
  for (int i = win; i < nfft; i++) buf[i] = 0.0f;
  feat_rfft(buf, nfft, c->tw_cos, c->tw_sin, re, im);
  for (int k = 0; k <= nfft / 2; k++) re[k] = re[k] * re[k] + im[k] * im[k]; /* power */
  for (int m = 0; m < c->p.n_mels; m++) {
    double acc = 0.0;
    const float *w = c->mel_w + c->mel_offset[m];
    const float *pw = re + c->mel_first[m];
    for (int k = 0; k < c->mel_count[m]; k++) acc += (double)w[k] * (double)pw[k];
    lm[m] = (float)log(acc + (double)c->p.log_offset);
  }
}

int feat_logmel(const feat_config *c, const float *pcm, int n, float *out, int *frames) {
  if (!c || (!pcm && n > 0)) return EMO_EINVAL;
  int nf = feat_num_frames(c, n);
  if (frames) *frames = nf;
  if (!out) return 0;
  for (int t = 0; t < nf; t++)
    logmel_frame(c, pcm + (size_t)t * c->p.hop_length, out + (size_t)t * c->p.n_mels);
  return 0;
}

int feat_mfcc(const feat_config *c, const float *pcm, int n, float *out, int *frames) {
  if (!c || (!pcm && n > 0) || c->p.n_mfcc < 1) return EMO_EINVAL;
  int nf = feat_num_frames(c, n);
  if (frames) *frames = nf;
  if (!out) return 0;
  float lm[FEAT_MAX_MELS]; /* (n_mels) */
  int M = c->p.n_mels, Q = c->p.n_mfcc;
  for (int t = 0; t < nf; t++) {
    logmel_frame(c, pcm + (size_t)t * c->p.hop_length, lm);
    for (int q = 0; q < Q; q++) {
      double acc = 0.0;
      for (int m = 0; m < M; m++) acc += (double)c->dct[q * M + m] * lm[m];
      out[(size_t)t * Q + q] = (float)acc;
    }
  }
  return 0;
}
