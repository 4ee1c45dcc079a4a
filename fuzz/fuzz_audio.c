/* fuzz_audio.c: libFuzzer harness for the audio reader (src/media/audio_decode.c) through
 * aud_open_memory: FFmpeg's probing, demuxing and decoding of any bytes, then our resampler
 * setup (rebuilt when a frame's layout/rate/format changes), FIFO and error reporting.
 * Every input must give EMO_OK or an explained error, never a crash, leak, hang or
 * out-of-bounds access; every delivered sample must be finite and is read; at most
 * 16000 * 60 samples are pulled per input. FFmpeg itself is not instrumented. Seeds:
 * fuzz/corpus/audio/ (tiny WAV s16/f32, FLAC, MP3, Opus, AAC-in-M4A clips made with ffmpeg's
 * lavfi sine source). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "media/audio_decode.h"

#define FUZZ_MAX_SAMPLES (16000 * 60)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  aud_reader *r = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc = aud_open_memory(data, size, &r, &err);
  if (rc != EMO_OK) {
    if (r || rc >= 0 || !err.msg[0]) abort();
    return 0;
  }
  aud_info info;
  aud_get_info(r, &info);
  if (!(info.duration >= 0) || info.orig_rate < 0 || info.orig_channels < 0) abort();
  float buf[1237];
  long total = 0;
  int k;
  while (total < FUZZ_MAX_SAMPLES && (k = aud_read(r, buf, 1237, &err)) > 0) {
    if (k > 1237) abort();
    for (int i = 0; i < k; i++)
      if (!isfinite(buf[i])) abort();
    total += k;
  }
  if (total < FUZZ_MAX_SAMPLES && k < 0 && !err.msg[0]) abort();
  aud_close(&r);
  if (r) abort();
  return 0;
}
