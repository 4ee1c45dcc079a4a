/* image_decode.h: still-image decoding from memory into 8-bit interleaved RGB.
 *
 * Formats: JPEG (libjpeg-turbo, baseline/progressive/arithmetic, gray/YCbCr/CMYK/YCCK),
 * PNG (libpng: gray, palette, 1..16-bit, alpha, interlaced) and WebP (libwebp: lossy,
 * lossless, alpha; not animated). The format is sniffed from the magic bytes, never from a
 * file name. Alpha is dropped (not composited); 16-bit samples are scaled to 8 bits; CMYK is
 * converted naively (no colour management); embedded ICC profiles and gamma are ignored.
 * For JPEG the EXIF orientation tag (APP1 "Exif", TIFF IFD0 tag 0x0112, EXIF 2.3 §4.6.4) is
 * applied so that the returned pixels are upright as a viewer shows them. EXIF in PNG/WebP
 * is not read.
 *
 * Safety: the declared dimensions are checked against a pixel cap before any pixel buffer
 * is allocated; a truncated or corrupt file is an error (EMO_EFORMAT), never a partly grey
 * image; libjpeg/libpng errors are caught with longjmp (nothing ever calls exit()).
 * Colour conversion and resampling for the networks are left to vision/image_ops.h. */
#ifndef EMO_MEDIA_IMAGE_DECODE_H
#define EMO_MEDIA_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum img_format {
  IMG_FORMAT_UNKNOWN = 0,
  IMG_FORMAT_JPEG,
  IMG_FORMAT_PNG,
  IMG_FORMAT_WEBP,
  IMG_FORMAT_COUNT
} img_format;

typedef struct img_rgb {
  int width, height;
  uint8_t *data;     /* (height, width, 3) RGB, row stride width*3 bytes; owned, img_rgb_free */
  img_format format; /* what the bytes were */
  int orientation;   /* EXIF orientation that was applied (1..8; 1 = none or absent) */
} img_rgb;

/* Format of the bytes from their magic numbers (IMG_FORMAT_UNKNOWN if none matches). */
img_format img_sniff(const void *data, size_t size);

/* Decodes data (size bytes, not retained) into *out (zeroed first; on success out->data is
 * malloc'd and owned by the caller). max_pixels > 0 caps width*height of the decoded image;
 * it is checked against the header before allocation. Returns EMO_OK, or
 *   EMO_EINVAL   NULL arguments or max_pixels <= 0,
 *   EMO_EFORMAT  empty, unknown format ("not a JPEG, PNG or WebP image"), truncated, corrupt,
 *   EMO_ELIMIT   width*height > max_pixels,
 *   EMO_EUNSUPPORTED  a valid file using something not handled (animated WebP),
 *   EMO_ENOMEM   allocation failure,
 * with a one-line message in err. Thread-safe (no shared state). */
int img_decode(const void *data, size_t size, int64_t max_pixels, img_rgb *out, emoi_err *err);

/* Frees img->data and zeroes *img; NULL or an already-freed image is fine. */
void img_rgb_free(img_rgb *img);

/* Reads a whole file into a malloc'd buffer (*data, *size; caller frees). Returns EMO_EIO
 * if it cannot be opened/read, EMO_ELIMIT if it is larger than max_bytes (checked before
 * reading the bulk), EMO_EFORMAT if it is empty, EMO_EINVAL for bad arguments. Messages
 * name the path. */
int img_read_file(const char *path, int64_t max_bytes, unsigned char **data, size_t *size,
                  emoi_err *err);

#endif
