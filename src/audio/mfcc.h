/* mfcc.h: MFCC exactly as python_speech_features.mfcc computes them (James Lyons, version 0.6,
 * the features LR-ASD was trained on: av/asd.c), with that package's defaults, which differ
 * from audio/features.h's (HTK-style, Hann window, float bins) in every step:
 *   - the signal is in 16-bit units (emo's float PCM in [-1, 1] times 32768), 16 kHz;
 *   - pre-emphasis over the whole signal: y[0] = x[0], y[i] = x[i] - 0.97 x[i-1];
 *   - frames of 400 samples every 160 (25 ms, 10 ms), no window (rectangular); the count is
 *     1 + ceil((n - 400) / 160) (1 when n <= 400) and the last frame is padded with zeros;
 *   - power spectrum |rfft(frame, 512)|^2 / 512 (257 bins); energy = its sum (eps = 2^-52 when 0);
 *   - 26 triangular mel filters whose edges are whole FFT bins, b = floor(513 mel2hz(m) / 16000)
 *     for 28 points m equally spaced in HTK mel from 0 to 8000 Hz; weights (i - b[j]) /
 *     (b[j+1] - b[j]) rising, (b[j+2] - i) / (b[j+2] - b[j+1]) falling, unnormalised;
 *   - ln of the filter energies (eps when 0), orthonormal DCT-II, the first 13, times the lifter
 *     1 + 11 sin(pi q / 22); then coefficient 0 is replaced by ln(energy).
 * Sums are in double; the FFT is audio/features.h's float radix-2 (the worst difference to the
 * float64 reference on speech is in tests/test_asd.c).
 *
 * A stream takes PCM in pieces of any size and gives each frame as soon as its 400 samples are
 * in; mfcc_stream_flush gives the zero-padded tail frames, so a whole-buffer run and any split of
 * the same samples give the same frames, bit for bit. Nothing is allocated after creation.
 *
 * It leaves to others: resampling to 16 kHz and decoding (media/), the model (av/asd.c). */
#ifndef EMO_AUDIO_MFCC_H
#define EMO_AUDIO_MFCC_H

#include <stdint.h>

#include "core/err.h"

#define MFCC_RATE 16000
#define MFCC_WIN 400
#define MFCC_HOP 160
#define MFCC_NFFT 512
#define MFCC_NFILT 26
#define MFCC_NCEP 13

typedef struct mfcc_stream mfcc_stream;

/* A new stream (caller frees with mfcc_stream_free). Returns EMO_OK or EMO_ENOMEM. */
int mfcc_stream_new(mfcc_stream **out, emoi_err *err);
void mfcc_stream_free(mfcc_stream **s);

/* Appends n samples (16 kHz mono, [-1, 1]) and writes the frames they complete to out
 * ((max_frames, 13) row-major; a call completes at most n / 160 + 1 frames). Returns the number
 * written, or EMO_ELIMIT when more than max_frames would be (nothing consumed then). Non-finite
 * samples count as 0. */
int mfcc_stream_push(mfcc_stream *s, const float *pcm, int n, float *out, int max_frames);

/* After the last push: writes the remaining zero-padded frame (at most 1; also when no sample
 * was pushed, as python_speech_features gives one frame for an empty signal) and returns their
 * count. The stream takes no more samples after it (EMO_EINVAL). */
int mfcc_stream_flush(mfcc_stream *s, float *out, int max_frames);

/* Frames a whole signal of n samples gives: 1 + ceil((n - 400) / 160), 1 for n <= 400. */
int64_t mfcc_num_frames(int64_t n);

/* The whole signal at once: writes mfcc_num_frames(n) rows of 13 to out. EMO_OK or EMO_ENOMEM. */
int mfcc_compute(const float *pcm, int n, float *out, emoi_err *err);

#endif
