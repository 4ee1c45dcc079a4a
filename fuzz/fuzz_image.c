/* fuzz_image.c: libFuzzer harness for the image decoders (img_decode in
 * src/media/image_decode.c: JPEG, PNG, WebP, EXIF orientation) and, on every image that
 * decodes, the pre-processing ops (src/vision/image_ops.c). Any bytes must give EMO_OK or an
 * error code, never a crash, leak, hang or out-of-bounds access; a decoded image must have
 * sane dimensions within the pixel cap, and its gray crop on each vector path (AVX2, AVX-512
 * where the CPU has them) must equal the scalar reference's bit for bit. Seeds:
 * fuzz/corpus/image/ (tiny images of each format, EXIF-rotated and progressive JPEGs,
 * interlaced/palette PNGs).
 * Building with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION lets PNG data past bad CRCs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "media/image_decode.h"
#include "vision/image_ops.h"

#define FUZZ_MAX_PIXELS ((int64_t)4 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  img_rgb img;
  emoi_err err;
  err.msg[0] = 0;
  int rc = img_decode(data, size, FUZZ_MAX_PIXELS, &img, &err);
  if (rc != EMO_OK) {
    if (img.data || rc >= 0 || !err.msg[0]) abort(); /* failure must be clean and explained */
    return 0;
  }
  if (!img.data || img.width <= 0 || img.height <= 0 ||
      (int64_t)img.width * img.height > FUZZ_MAX_PIXELS || img.orientation < 1 ||
      img.orientation > 8)
    abort();
  /* touch every byte (ASan flags a short buffer) */
  unsigned acc = 0;
  for (size_t i = 0, n = (size_t)img.width * img.height * 3; i < n; i++) acc += img.data[i];

  static float buf[128 * 128 * 3]; /* (128, 128, 3) */
  img_view v = img_view_rgb(img.data, img.width, img.height);
  img_norm nm = img_norm_range(-1.0f, 1.0f);
  img_letterbox lb;
  if (img_letterbox_f32(&v, buf, 128, 128, &nm, &lb, EMO_ISA_AUTO) != EMO_OK) abort();
  /* a crop and angle taken from the input bytes */
  float m[6];
  const float ang = (float)(acc % 628) / 100.0f;
  img_affine_rotated_square(m, (float)(acc % 97), (float)(size % 89), ang,
                            1.0f + (float)(acc % 300), 48);
  if (img_warp_affine_f32(&v, m, buf, 48, 48, 1 + 2 * (int)(acc & 1), &nm,
                          (img_border)((acc >> 1) & 1)) != EMO_OK)
    abort();
  /* the gray crop on every vector path this CPU has: bit-identical to the reference */
  static float ref[48 * 48], vec[48 * 48]; /* (48, 48) */
  if (img_warp_affine_f32_ref(&v, m, ref, 48, 48, 1, &nm, IMG_BORDER_REPLICATE) != EMO_OK) abort();
  for (int cap = EMO_ISA_AVX2; cap <= EMO_ISA_AVX512; cap++)
    if (img_warp_affine_f32_isa(&v, m, vec, 48, 48, 1, &nm, IMG_BORDER_REPLICATE, (emo_isa)cap) !=
            EMO_OK ||
        memcmp(ref, vec, sizeof ref) != 0)
      abort();
  if (img_resize_bilinear_f32(&v, 0, 0, (float)img.width, (float)img.height,
                              (img_sample)((acc >> 2) & 1), buf, 64, 64, &nm) != EMO_OK)
    abort();
  img_rgb_free(&img);
  return 0;
}
