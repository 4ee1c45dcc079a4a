/* prosody.h: prosodic measures of a speech segment: fundamental frequency (F0) mean and
 * range, energy, voiced ratio and a speaking-rate proxy (syllable nuclei per second).
 * F0 follows YIN (de Cheveigne & Kawahara, "YIN, a fundamental frequency estimator for
 * speech and music", JASA 2002): cumulative-mean-normalised difference function, absolute
 * threshold, parabolic interpolation. The rate proxy counts peaks of the smoothed energy
 * envelope inside voiced stretches (after de Jong & Wempe, "Praat script to detect syllable
 * nuclei", 2009). Input is 16 kHz mono. */
#ifndef EMO_AUDIO_PROSODY_H
#define EMO_AUDIO_PROSODY_H

#include "core/err.h"

typedef struct prosody {
  float f0_mean;        /* Hz over voiced frames; 0 when nothing is voiced */
  float f0_min, f0_max; /* 5th and 95th percentile of voiced F0 (Hz): the range */
  float energy_db;      /* mean RMS level in dBFS over the segment */
  float voiced_ratio;   /* fraction of 10 ms frames that are voiced, 0..1 */
  float rate;           /* syllable-nucleus estimate per second of segment */
} prosody;

/* Measures pcm (n samples at 16 kHz). Needs no allocation for segments up to
 * PROSODY_MAX_SECONDS; longer ones are measured on their first PROSODY_MAX_SECONDS. Returns
 * EMO_OK or EMO_EINVAL. */
#define PROSODY_MAX_SECONDS 60
int prosody_measure(const float *pcm, int n, prosody *out, emoi_err *err);

/* F0 of one frame by YIN (frame of at least 2 * 16000 / f0_min samples); returns the
 * frequency in Hz or 0 when unvoiced. Exposed for tests. */
float prosody_yin(const float *frame, int n, float f0_min, float f0_max, float threshold);

#endif
