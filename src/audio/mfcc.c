/* mfcc.c: python_speech_features' MFCC (contract in mfcc.h). One frame at a time: the tables
 * (filter bank edges, DCT rows, lifter, FFT twiddles) are built once per stream, the frame's
 * transform is a double-precision radix-2 FFT of 512 points (a 400-sample frame costs ~20 us;
 * 100 frames a second of audio). */
#include "audio/mfcc.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NBIN (MFCC_NFFT / 2 + 1)

typedef struct tables {
  int edge[MFCC_NFILT + 2];          /* filter edges in FFT bins */
  double dct[MFCC_NCEP][MFCC_NFILT]; /* orthonormal DCT-II rows, lifter folded in */
  double cosw[MFCC_NFFT / 2], sinw[MFCC_NFFT / 2];
  int rev[MFCC_NFFT];
} tables;

struct mfcc_stream {
  tables t;
  double buf[MFCC_WIN]; /* pre-emphasised samples from the next frame's first on */
  int n_buf;
  double prev; /* last input sample (16-bit units), for pre-emphasis */
  int64_t n_in, n_out;
  int flushed;
};

static double hz2mel(double hz) {
  return 2595.0 * log10(1.0 + hz / 700.0);
}
static double mel2hz(double mel) {
  return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

static void tables_init(tables *t) {
  double lo = hz2mel(0.0), hi = hz2mel(MFCC_RATE / 2.0);
  for (int j = 0; j < MFCC_NFILT + 2; j++) {
    double m = lo + (hi - lo) * j / (MFCC_NFILT + 1); /* numpy.linspace */
    if (j == MFCC_NFILT + 1) m = hi;
    t->edge[j] = (int)floor((MFCC_NFFT + 1) * mel2hz(m) / MFCC_RATE);
  }
  for (int q = 0; q < MFCC_NCEP; q++) {
    double s = q ? sqrt(2.0 / MFCC_NFILT) : sqrt(1.0 / MFCC_NFILT);
    double lift = 1.0 + 11.0 * sin(M_PI * q / 22.0);
    for (int m = 0; m < MFCC_NFILT; m++)
      t->dct[q][m] = lift * s * cos(M_PI * q * (2 * m + 1) / (2.0 * MFCC_NFILT));
  }
  for (int k = 0; k < MFCC_NFFT / 2; k++) {
    t->cosw[k] = cos(2 * M_PI * k / MFCC_NFFT);
    t->sinw[k] = sin(2 * M_PI * k / MFCC_NFFT);
  }
  for (int i = 0; i < MFCC_NFFT; i++) {
    int r = 0;
    for (int b = 1, v = i; b < MFCC_NFFT; b <<= 1, v >>= 1) r = r << 1 | (v & 1);
    t->rev[i] = r;
  }
}

/* One frame (MFCC_WIN pre-emphasised samples) to 13 coefficients. */
static void frame_mfcc(const tables *t, const double *x, float *out) {
  double re[MFCC_NFFT], im[MFCC_NFFT];
  for (int i = 0; i < MFCC_NFFT; i++) {
    int r = t->rev[i];
    re[i] = r < MFCC_WIN ? x[r] : 0.0;
    im[i] = 0.0;
  }
  for (int len = 2; len <= MFCC_NFFT; len <<= 1) {
    int half = len / 2, step = MFCC_NFFT / len;
    for (int i = 0; i < MFCC_NFFT; i += len)
      for (int k = 0; k < half; k++) {
        double wr = t->cosw[k * step], wi = -t->sinw[k * step];
        double ar = re[i + k + half], ai = im[i + k + half];
        double br = ar * wr - ai * wi, bi = ar * wi + ai * wr;
        re[i + k + half] = re[i + k] - br;
        im[i + k + half] = im[i + k] - bi;
        re[i + k] += br;
        im[i + k] += bi;
      }
  }
  double p[NBIN], energy = 0.0;
  for (int k = 0; k < NBIN; k++) {
    p[k] = (re[k] * re[k] + im[k] * im[k]) / MFCC_NFFT;
    energy += p[k];
  }
  if (energy == 0.0) energy = DBL_EPSILON;
  double lf[MFCC_NFILT];
  for (int j = 0; j < MFCC_NFILT; j++) {
    int a = t->edge[j], b = t->edge[j + 1], c = t->edge[j + 2];
    double acc = 0.0;
    for (int i = a; i < b; i++) acc += p[i] * ((double)(i - a) / (b - a));
    for (int i = b; i < c; i++) acc += p[i] * ((double)(c - i) / (c - b));
    lf[j] = log(acc == 0.0 ? DBL_EPSILON : acc);
  }
  for (int q = 0; q < MFCC_NCEP; q++) {
    double acc = 0.0;
    for (int m = 0; m < MFCC_NFILT; m++) acc += t->dct[q][m] * lf[m];
    out[q] = (float)acc;
  }
  out[0] = (float)log(energy);
}

int mfcc_stream_new(mfcc_stream **out, emoi_err *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return emoi_fail(err, EMO_ENOMEM, "mfcc: out of memory");
  tables_init(&(*out)->t);
  return EMO_OK;
}

void mfcc_stream_free(mfcc_stream **s) {
  if (!s) return;
  free(*s);
  *s = NULL;
}

int64_t mfcc_num_frames(int64_t n) {
  if (n <= MFCC_WIN) return 1;
  return 1 + (n - MFCC_WIN + MFCC_HOP - 1) / MFCC_HOP;
}

int mfcc_stream_push(mfcc_stream *s, const float *pcm, int n, float *out, int max_frames) {
  if (!s || n < 0 || (n && !pcm) || s->flushed) return EMO_EINVAL;
  /* frames this call completes */
  int64_t have = s->n_in + n;
  int64_t full = have >= MFCC_WIN ? 1 + (have - MFCC_WIN) / MFCC_HOP : 0;
  if (full - s->n_out > max_frames) return EMO_ELIMIT;
  int w = 0;
  for (int i = 0; i < n; i++) {
    double x = isfinite(pcm[i]) ? (double)pcm[i] * 32768.0 : 0.0;
    double y = s->n_in ? x - 0.97 * s->prev : x;
    s->prev = x;
    s->n_in++;
    s->buf[s->n_buf++] = y;
    if (s->n_buf == MFCC_WIN) {
      frame_mfcc(&s->t, s->buf, out + (size_t)w * MFCC_NCEP);
      w++;
      s->n_out++;
      memmove(s->buf, s->buf + MFCC_HOP, (MFCC_WIN - MFCC_HOP) * sizeof(double));
      s->n_buf = MFCC_WIN - MFCC_HOP;
    }
  }
  return w;
}

int mfcc_stream_flush(mfcc_stream *s, float *out, int max_frames) {
  if (!s || s->flushed) return EMO_EINVAL;
  int64_t left = mfcc_num_frames(s->n_in) - s->n_out;
  if (left > max_frames) return EMO_ELIMIT;
  s->flushed = 1;
  double x[MFCC_WIN];
  int w = 0;
  for (; w < left; w++) {
    int have = s->n_buf - w * MFCC_HOP;
    if (have < 0) have = 0;
    memset(x, 0, sizeof x);
    if (have) memcpy(x, s->buf + w * MFCC_HOP, (size_t)have * sizeof(double));
    frame_mfcc(&s->t, x, out + (size_t)w * MFCC_NCEP);
  }
  s->n_out += w;
  return w;
}

int mfcc_compute(const float *pcm, int n, float *out, emoi_err *err) {
  mfcc_stream *s = NULL;
  int rc = mfcc_stream_new(&s, err);
  if (rc) return rc;
  int w = mfcc_stream_push(s, pcm, n, out, (int)mfcc_num_frames(n));
  int f = w >= 0 ? mfcc_stream_flush(s, out + (size_t)w * MFCC_NCEP, 3) : w;
  mfcc_stream_free(&s);
  if (w < 0 || f < 0) return emoi_fail(err, EMO_EINVAL, "mfcc: bad input");
  return EMO_OK;
}
