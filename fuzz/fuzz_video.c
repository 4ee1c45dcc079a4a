/* fuzz_video.c: libFuzzer harness for the video reader (src/media/video_decode.c) through
 * vid_open_memory: FFmpeg's probing, demuxing and decoding of any bytes, then our timestamp,
 * sampling, colour conversion, luma downscale (gray_max_side 24, so most seeds have gray_k > 1),
 * rotation and damage-reporting code. Every input must give
 * EMO_OK or an explained error code, never a crash, leak, hang or out-of-bounds access;
 * delivered frames must have the advertised size and non-decreasing times, and every pixel
 * of each frame is read (so a short buffer would show). Caps: ~1 Mpixel, 50 frames per input.
 * FFmpeg itself is not instrumented: coverage guides only through our code. Seeds:
 * fuzz/corpus/video/ (tiny testsrc clips in MP4, MOV, MKV, AVI, MPEG-TS; a rotated MP4; one
 * with AAC audio; an odd-sized MJPEG MOV). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/video_decode.h"

#define FUZZ_MAX_PIXELS ((int64_t)1024 * 1024)
#define FUZZ_MAX_FRAMES 50
#define FUZZ_GRAY_SIDE 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vid_reader *r = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc = vid_open_memory(data, size, FUZZ_MAX_PIXELS, FUZZ_GRAY_SIDE, &r, &err);
  if (rc != EMO_OK) {
    if (r || rc >= 0 || !err.msg[0]) abort();
    return 0;
  }
  vid_info info;
  vid_get_info(r, &info);
  if (info.width <= 0 || info.height <= 0 || (int64_t)info.width * info.height > FUZZ_MAX_PIXELS ||
      (info.rotation != 0 && info.rotation != 90 && info.rotation != 180 && info.rotation != 270) ||
      !(info.fps >= 0) || !(info.duration >= 0) || memchr(info.codec, 0, sizeof info.codec) == NULL)
    abort();
  vid_frame f;
  double last = -1;
  unsigned sum = 0;
  int n = 0;
  while (n < FUZZ_MAX_FRAMES && (rc = vid_read(r, &f, &err)) == 1) {
    if (f.width != info.width || f.height != info.height || f.stride < (ptrdiff_t)f.width * 3 ||
        !isfinite(f.t) || f.t < 0 || f.t < last || f.index < n)
      abort();
    last = f.t;
    for (int y = 0; y < f.height; y++)
      for (int x = 0; x < f.width * 3; x++) sum += f.rgb[(ptrdiff_t)y * f.stride + x];
    if (f.gray) {
      if (f.gray_k < 1 || f.gray_w != f.width / f.gray_k || f.gray_h != f.height / f.gray_k ||
          f.gray_stride < f.gray_w || info.rotation != 0)
        abort();
      for (int y = 0; y < f.gray_h; y++)
        for (int x = 0; x < f.gray_w; x++) sum += f.gray[(ptrdiff_t)y * f.gray_stride + x];
    }
    n++;
  }
  if (rc < 0 && !err.msg[0]) abort();
  vid_close(&r);
  if (r) abort();
  return (int)(sum & 0); /* keep the pixel reads */
}
