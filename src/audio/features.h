/* features.h: audio front end shared by speech models (speech emotion, diarization): framing,
 * Hann window, radix-2 real FFT, power spectrum, HTK mel filter bank, log-mel and MFCC.
 *
 * The math (the Python twin training/features.py computes exactly the same in float64):
 *   frames      frame t covers pcm[t*hop, t*hop + win); frames = 1 + (n - win) / hop when
 *               n >= win, else 0. No centering, no padding of the signal, no pre-emphasis,
 *               no dither. A streaming caller keeps the last (win - hop) samples between calls
 *               (or, more generally, everything from the first sample of the next frame on).
 *   window      periodic Hann, w[i] = 0.5 - 0.5 cos(2 pi i / win), i < win; the windowed frame
 *               is placed at the start of an n_fft buffer, zeros after (zero padding).
 *   spectrum    power |X[k]|^2 of the n_fft-point DFT X[k] = sum_i x[i] e^{-2 pi j i k / n_fft},
 *               k = 0 .. n_fft/2, unnormalized.
 *   mel scale   HTK: mel(f) = 2595 log10(1 + f / 700). n_mels + 2 points equally spaced in
 *               mel between mel(f_min) and mel(f_max), converted back to Hz (f_0 .. f_{M+1});
 *               band m (0-based) has the triangular weight, for bin frequency f = k sr / n_fft,
 *               max(0, min((f - f_m) / (f_{m+1} - f_m), (f_{m+2} - f) / (f_{m+2} - f_{m+1}))).
 *               No area normalization (torchaudio melscale_fbanks(norm=None, mel_scale="htk")).
 *   log-mel     out[t][m] = ln(sum_k weight[m][k] |X_t[k]|^2 + log_offset), log_offset 1e-6.
 *   MFCC        orthonormal DCT-II of the log-mel row: c[q] = s_q sum_m lm[m] cos(pi q (m + 0.5)
 *               / M), s_0 = sqrt(1/M), s_q = sqrt(2/M); q < n_mfcc.
 *
 * A feat_config holds the parameters and every table (window, twiddles, filter bank, DCT), so
 * computing features allocates nothing: per-frame scratch lives on the stack (a few KB).
 * feat_config is read-only after feat_config_init and may be shared by threads.
 *
 * What this file leaves to others: resampling and decoding (the caller gives 16 kHz mono float
 * PCM in [-1, 1]), normalization of features for a particular model (audio/ser.c). */
#ifndef EMO_AUDIO_FEATURES_H
#define EMO_AUDIO_FEATURES_H

#include "core/err.h"

#define FEAT_MAX_NFFT 2048
#define FEAT_MAX_MELS 128
#define FEAT_MAX_MFCC 40

typedef struct feat_params {
  int sample_rate;  /* Hz, 16000 */
  int win_length;   /* samples, 400 (25 ms) */
  int hop_length;   /* samples, 160 (10 ms) */
  int n_fft;        /* power of two in [16, FEAT_MAX_NFFT], >= win_length; 512 */
  int n_mels;       /* 1 .. FEAT_MAX_MELS; 64 */
  int n_mfcc;       /* 0 .. min(n_mels, FEAT_MAX_MFCC); 13 (0: feat_mfcc unavailable) */
  float f_min;      /* Hz, 0 */
  float f_max;      /* Hz, <= sample_rate / 2; 8000 */
  float log_offset; /* added before ln, 1e-6 */
} feat_params;

typedef struct feat_config {
  feat_params p;
  float window[FEAT_MAX_NFFT];              /* (win_length) periodic Hann */
  float tw_cos[FEAT_MAX_NFFT / 2];          /* (n_fft/2) cos(2 pi k / n_fft) */
  float tw_sin[FEAT_MAX_NFFT / 2];          /* (n_fft/2) sin(2 pi k / n_fft) */
  int mel_first[FEAT_MAX_MELS];             /* (n_mels) first FFT bin with a nonzero weight */
  int mel_count[FEAT_MAX_MELS];             /* (n_mels) number of consecutive bins */
  int mel_offset[FEAT_MAX_MELS];            /* (n_mels) index of the first weight in mel_w */
  float mel_w[2 * (FEAT_MAX_NFFT / 2 + 1)]; /* nonzero weights, band after band */
  float dct[FEAT_MAX_MFCC * FEAT_MAX_MELS]; /* (n_mfcc, n_mels) orthonormal DCT-II rows */
} feat_config;

/* 16 kHz, 400/160/512, 64 mels 0..8000 Hz, 13 MFCC, log offset 1e-6. */
feat_params feat_params_default(void);

/* Checks p and fills c (caller-owned, about 45 KB: keep it off small stacks). Returns 0 or
 * EMO_EINVAL with a message naming the bad field. */
int feat_config_init(feat_config *c, const feat_params *p, emoi_err *err);

/* Number of frames n samples give (0 when n < win_length or n < 0). */
int feat_num_frames(const feat_config *c, int n);

/* Log-mel spectrogram of n samples: writes *frames = feat_num_frames(c, n) rows of n_mels
 * floats to out (caller-owned, (frames, n_mels) row-major); out may be NULL to only count.
 * Returns 0, or EMO_EINVAL for NULL config/pcm with n > 0. Thread-safe for a shared c. */
int feat_logmel(const feat_config *c, const float *pcm, int n, float *out, int *frames);

/* MFCC: like feat_logmel, writes (frames, n_mfcc) to out. EMO_EINVAL when n_mfcc is 0. */
int feat_mfcc(const feat_config *c, const float *pcm, int n, float *out, int *frames);

/* ---- FFT building blocks (exposed for tests and other audio code) ------------------- */

/* Fills cos/sin tables for an n-point transform: cos_tab[k] = cos(2 pi k / n),
 * sin_tab[k] = sin(2 pi k / n), k < n/2. */
void feat_fft_twiddles(int n, float *cos_tab, float *sin_tab);

/* In-place complex forward DFT X[k] = sum x[i] e^{-2 pi j i k / n}, radix-2 decimation in
 * time. n a power of two >= 1; tables from feat_fft_twiddles(n * stride_tw ...) are read with
 * stride tw_stride (1 for tables made for n itself). Returns EMO_EINVAL if n is not a power
 * of two. */
int feat_fft(float *re, float *im, int n, const float *cos_tab, const float *sin_tab,
             int tw_stride);

/* Real forward DFT of x (n real samples, n a power of two >= 2, tables made for n):
 * re/im receive bins 0 .. n/2 (n/2 + 1 values each). Works through one n/2-point complex
 * FFT; x is not modified; re/im must not alias x. Returns EMO_EINVAL for a bad n. */
int feat_rfft(const float *x, int n, const float *cos_tab, const float *sin_tab, float *re,
              float *im);

#endif
