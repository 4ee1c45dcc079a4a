/* image_decode.c: JPEG/PNG/WebP decoding from memory into 8-bit RGB (see image_decode.h).
 *
 * JPEG: libjpeg-turbo with a longjmp error manager; the "premature end of data" warning and
 * the corrupt-entropy-data warnings are promoted to errors so a damaged file never turns
 * into a half-grey image; the number of progressive scans is capped (a known decoder
 * time-bomb). CMYK/YCCK is converted here (libjpeg-turbo cannot output RGB from them), with
 * Adobe's inverted-CMYK convention when an Adobe APP14 marker is present. The EXIF
 * orientation (EXIF 2.3 §4.6.4, tag 0x0112 in IFD0 of the APP1 "Exif" TIFF block) is parsed
 * here, bounds-checked, and applied by rotating/flipping the pixels. A file missing only its
 * EOI marker is also reported as truncated: the entropy decoder reads past the last MCU
 * before the image is complete, so it cannot be told from a cut in the last MCU row.
 * PNG: libpng's classic API with transforms (palette/low-bit gray expansion, 16->8 scaling,
 * alpha stripped, gray->RGB, interlace handling); errors longjmp back here. The image data
 * is complete once the last row is read, so a file lacking only its IEND chunk is accepted.
 * WebP: libwebp's advanced decoder into our buffer; animation is refused.
 * Resampling and normalisation for the networks live in vision/image_ops.c. */
#include "media/image_decode.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
/* after jpeglib.h: its jconfig.h decides which message codes jerror.h declares */
#include <jerror.h>

#include <png.h>
#include <webp/decode.h>

#include "core/file.h"

/* A progressive JPEG may legally hold any number of scans, each re-decoding the whole
 * coefficient buffer; real files have < 20. Cap it so a crafted file cannot take minutes. */
#define IMG_JPEG_MAX_SCANS 256

img_format img_sniff(const void *data, size_t size) {
  const uint8_t *p = (const uint8_t *)data;
  if (!p) return IMG_FORMAT_UNKNOWN;
  if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return IMG_FORMAT_JPEG;
  if (size >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return IMG_FORMAT_PNG;
  if (size >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
    return IMG_FORMAT_WEBP;
  return IMG_FORMAT_UNKNOWN;
}

void img_rgb_free(img_rgb *img) {
  if (!img) return;
  free(img->data);
  memset(img, 0, sizeof *img);
}

/* Checks w*h against the cap and returns the RGB buffer size, or a negative status. */
static int img_check_dims(int64_t w, int64_t h, int64_t max_pixels, const char *fmt, size_t *bytes,
                          emoi_err *err) {
  if (w <= 0 || h <= 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: invalid dimensions %lldx%lld", fmt, (long long)w,
                     (long long)h);
  if (w > max_pixels || h > max_pixels || w * h > max_pixels)
    return emoi_fail(err, EMO_ELIMIT,
                     "%s: image is %lldx%lld = %lld pixels, over the limit of %lld", fmt,
                     (long long)w, (long long)h, (long long)(w * h), (long long)max_pixels);
  if ((uint64_t)(w * h) > SIZE_MAX / 3)
    return emoi_fail(err, EMO_ELIMIT, "%s: image of %lldx%lld does not fit in memory", fmt,
                     (long long)w, (long long)h);
  *bytes = (size_t)(w * h) * 3;
  return EMO_OK;
}

/* ---------------------------------------------------------------- EXIF orientation */

static uint32_t exif_rd(const uint8_t *p, int nbytes, int le) {
  uint32_t v = 0;
  for (int i = 0; i < nbytes; i++) v |= (uint32_t)p[le ? i : nbytes - 1 - i] << (8 * i);
  return v;
}

/* Orientation (1..8) from an APP1 payload, 1 when absent or malformed. */
static int exif_orientation(const uint8_t *p, size_t n) {
  if (n < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0) return 1;
  p += 6, n -= 6; /* p: TIFF header, offsets below are relative to it */
  int le;
  if (p[0] == 'I' && p[1] == 'I')
    le = 1;
  else if (p[0] == 'M' && p[1] == 'M')
    le = 0;
  else
    return 1;
  if (exif_rd(p + 2, 2, le) != 42) return 1;
  uint32_t ifd = exif_rd(p + 4, 4, le);
  if (ifd > n || n - ifd < 2) return 1;
  uint32_t count = exif_rd(p + ifd, 2, le);
  for (uint32_t i = 0; i < count; i++) {
    size_t off = (size_t)ifd + 2 + (size_t)12 * i; /* one 12-byte IFD entry */
    if (off > n || n - off < 12) break;
    if (exif_rd(p + off, 2, le) != 0x0112) continue;
    uint32_t type = exif_rd(p + off + 2, 2, le), cnt = exif_rd(p + off + 4, 4, le);
    uint32_t v;
    if (type == 3 && cnt >= 1)
      v = exif_rd(p + off + 8, 2, le); /* SHORT, the norm */
    else if (type == 4 && cnt >= 1)
      v = exif_rd(p + off + 8, 4, le); /* LONG, seen in the wild */
    else
      return 1;
    return (v >= 1 && v <= 8) ? (int)v : 1;
  }
  return 1;
}

/* Rewrites img so that it looks as EXIF orientation o says a viewer shows it.
 * Displayed pixel (x, y) of the W'xH' result comes from stored pixel S(sx, sy) of WxH:
 *   2: (W-1-x, y)  3: (W-1-x, H-1-y)  4: (x, H-1-y)  5: (y, x)  6: (y, H-1-x)
 *   7: (W-1-y, H-1-x)  8: (W-1-y, x)      with W'xH' = HxW for 5..8. */
static int img_apply_orientation(img_rgb *img, int o, emoi_err *err) {
  if (o <= 1 || o > 8) return EMO_OK;
  const size_t W = (size_t)img->width, H = (size_t)img->height;
  const int swap = o >= 5;
  const size_t dw = swap ? H : W, dh = swap ? W : H;
  uint8_t *dst = (uint8_t *)malloc(W * H * 3); /* (dh, dw, 3) */
  if (!dst) return emoi_fail(err, EMO_ENOMEM, "JPEG: out of memory applying EXIF orientation");
  const uint8_t *src = img->data; /* (H, W, 3) */
  /* Express the source position as base + x*dx + y*dy (in pixels) to keep the loop simple. */
  ptrdiff_t base, dx, dy;
  const ptrdiff_t sw = (ptrdiff_t)W, sh = (ptrdiff_t)H;
  switch (o) {
    case 2:
      base = sw - 1;
      dx = -1;
      dy = sw;
      break;
    case 3:
      base = (sh - 1) * sw + sw - 1;
      dx = -1;
      dy = -sw;
      break;
    case 4:
      base = (sh - 1) * sw;
      dx = 1;
      dy = -sw;
      break;
    case 5:
      base = 0;
      dx = sw;
      dy = 1;
      break;
    case 6:
      base = (sh - 1) * sw;
      dx = -sw;
      dy = 1;
      break;
    case 7:
      base = (sh - 1) * sw + sw - 1;
      dx = -sw;
      dy = -1;
      break;
    default:
      base = sw - 1;
      dx = sw;
      dy = -1;
      break; /* 8 */
  }
  for (size_t y = 0; y < dh; y++) {
    ptrdiff_t s = base + (ptrdiff_t)y * dy;
    uint8_t *d = dst + y * dw * 3;
    for (size_t x = 0; x < dw; x++, s += dx, d += 3) {
      const uint8_t *q = src + (size_t)s * 3;
      d[0] = q[0], d[1] = q[1], d[2] = q[2];
    }
  }
  free(img->data);
  img->data = dst;
  img->width = (int)dw;
  img->height = (int)dh;
  img->orientation = o;
  return EMO_OK;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jpg_err {
  struct jpeg_error_mgr pub; /* must be first: libjpeg casts cinfo->err to it */
  jmp_buf jb;
  int code; /* EMO status to return after the longjmp */
  int done; /* all scanlines read: a missing EOI no longer matters */
  char msg[JMSG_LENGTH_MAX + 64];
} jpg_err;

typedef struct jpg_progress {
  struct jpeg_progress_mgr pub; /* must be first */
  jpg_err *err;
} jpg_progress;

static void jpg_error_exit(j_common_ptr cinfo) {
  jpg_err *e = (jpg_err *)cinfo->err;
  char buf[JMSG_LENGTH_MAX];
  cinfo->err->format_message(cinfo, buf);
  snprintf(e->msg, sizeof e->msg, "%s", buf);
  e->code = EMO_EFORMAT;
  longjmp(e->jb, 1);
}

static void jpg_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return; /* trace messages */
  jpg_err *e = (jpg_err *)cinfo->err;
  const int c = cinfo->err->msg_code;
  if (c == JWRN_JPEG_EOF) {
    if (e->done) return;
    snprintf(e->msg, sizeof e->msg, "truncated (premature end of JPEG data)");
    e->code = EMO_EFORMAT;
    longjmp(e->jb, 1);
  }
  if (c == JWRN_HIT_MARKER || c == JWRN_HUFF_BAD_CODE || c == JWRN_ARITH_BAD_CODE ||
      c == JWRN_MUST_RESYNC || c == JWRN_BOGUS_PROGRESSION) {
    char buf[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, buf);
    snprintf(e->msg, sizeof e->msg, "%s", buf);
    e->code = EMO_EFORMAT;
    longjmp(e->jb, 1);
  }
  cinfo->err->num_warnings++; /* benign, e.g. extraneous bytes before a marker */
}

static void jpg_output_message(j_common_ptr cinfo) {
  (void)cinfo; /* the library never prints */
}

static void jpg_progress_cb(j_common_ptr cinfo) {
  jpg_progress *p = (jpg_progress *)cinfo->progress;
  if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > IMG_JPEG_MAX_SCANS) {
    snprintf(p->err->msg, sizeof p->err->msg, "more than %d progressive scans", IMG_JPEG_MAX_SCANS);
    p->err->code = EMO_EFORMAT;
    longjmp(p->err->jb, 1);
  }
}

static int img_decode_jpeg(const uint8_t *data, size_t size, int64_t max_pixels, img_rgb *out,
                           emoi_err *err) {
  struct jpeg_decompress_struct cinfo;
  jpg_err jerr;
  jpg_progress prog;
  uint8_t *volatile pix = NULL; /* (h, w, 3) */
  uint8_t *volatile row = NULL; /* (w, 4) CMYK scratch */
  volatile int orientation = 1;

  memset(&cinfo, 0, sizeof cinfo);
  memset(&jerr, 0, sizeof jerr);
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = jpg_error_exit;
  jerr.pub.emit_message = jpg_emit_message;
  jerr.pub.output_message = jpg_output_message;
  if (setjmp(jerr.jb)) {
    jpeg_destroy_decompress(&cinfo);
    free(pix);
    free(row);
    return emoi_fail(err, jerr.code, "JPEG: %s", jerr.msg);
  }
  jpeg_create_decompress(&cinfo);
  memset(&prog, 0, sizeof prog);
  prog.pub.progress_monitor = jpg_progress_cb;
  prog.err = &jerr;
  cinfo.progress = &prog.pub;
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
    snprintf(jerr.msg, sizeof jerr.msg, "no image in the datastream (tables only)");
    jerr.code = EMO_EFORMAT;
    longjmp(jerr.jb, 1);
  }
  size_t bytes = 0;
  int rc = img_check_dims(cinfo.image_width, cinfo.image_height, max_pixels, "JPEG", &bytes, err);
  if (rc != EMO_OK) {
    jpeg_destroy_decompress(&cinfo);
    return rc;
  }
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data) {
      int o = exif_orientation(m->data, m->data_length);
      if (o != 1) {
        orientation = o;
        break;
      }
    }

  const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  cinfo.scale_num = cinfo.scale_denom = 1;
  jpeg_start_decompress(&cinfo);
  const int nc = cmyk ? 4 : 3;
  if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
      cinfo.output_components != nc) {
    snprintf(jerr.msg, sizeof jerr.msg, "unexpected output layout %ux%ux%d", cinfo.output_width,
             cinfo.output_height, cinfo.output_components);
    jerr.code = EMO_EINTERNAL;
    longjmp(jerr.jb, 1);
  }
  const size_t w = cinfo.output_width, h = cinfo.output_height;
  pix = (uint8_t *)malloc(bytes);
  if (cmyk) row = (uint8_t *)malloc(w * 4);
  if (!pix || (cmyk && !row)) {
    snprintf(jerr.msg, sizeof jerr.msg, "out of memory for %zux%zu pixels", w, h);
    jerr.code = EMO_ENOMEM;
    longjmp(jerr.jb, 1);
  }
  /* Adobe writes CMYK inverted (0 = full ink); plain CMYK is the other way round. */
  const int inverted = cinfo.saw_Adobe_marker;
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *dst = pix + (size_t)cinfo.output_scanline * w * 3;
    JSAMPROW rp = cmyk ? row : dst;
    if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) {
      snprintf(jerr.msg, sizeof jerr.msg, "truncated (no scanline %u)", cinfo.output_scanline);
      jerr.code = EMO_EFORMAT;
      longjmp(jerr.jb, 1);
    }
    if (cmyk)
      for (size_t x = 0; x < w; x++) {
        unsigned c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
        if (!inverted) c = 255 - c, m = 255 - m, yy = 255 - yy, k = 255 - k;
        dst[3 * x] = (uint8_t)((c * k + 127) / 255);
        dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
      }
  }
  jerr.done = 1;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(row);
  out->width = (int)w;
  out->height = (int)h;
  out->data = pix;
  out->format = IMG_FORMAT_JPEG;
  out->orientation = 1;
  rc = img_apply_orientation(out, orientation, err);
  if (rc != EMO_OK) img_rgb_free(out);
  return rc;
}

/* ---------------------------------------------------------------- PNG */

typedef struct png_src {
  const uint8_t *p;
  size_t n, pos;
  char msg[256];
  int code;
} png_src;

static void png_read_cb(png_structp png, png_bytep dst, size_t len) {
  png_src *s = (png_src *)png_get_io_ptr(png);
  if (len > s->n - s->pos) png_error(png, "truncated (premature end of PNG data)");
  memcpy(dst, s->p + s->pos, len);
  s->pos += len;
}

static void png_error_cb(png_structp png, png_const_charp msg) {
  png_src *s = (png_src *)png_get_error_ptr(png);
  snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "error");
  png_longjmp(png, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg) {
  (void)png, (void)msg;
}

static int img_decode_png(const uint8_t *data, size_t size, int64_t max_pixels, img_rgb *out,
                          emoi_err *err) {
  png_src src = {data, size, 0, {0}, EMO_EFORMAT};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_error_cb, png_warn_cb);
  if (!png) return emoi_fail(err, EMO_ENOMEM, "PNG: cannot create decoder");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return emoi_fail(err, EMO_ENOMEM, "PNG: cannot create decoder");
  }
  uint8_t *volatile pix = NULL; /* (h, w, 3) */
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free(pix);
    return emoi_fail(err, src.code, "PNG: %s", src.msg);
  }
  png_set_read_fn(png, &src, png_read_cb);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* Let the fuzzer reach past checksums, as libpng's own fuzzer does. */
  png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, ctype = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
  size_t bytes = 0;
  int rc = img_check_dims(w, h, max_pixels, "PNG", &bytes, err);
  if (rc != EMO_OK) {
    png_destroy_read_struct(&png, &info, NULL);
    return rc;
  }
  if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_scale_16(png);
  if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != (size_t)w * 3) {
    snprintf(src.msg, sizeof src.msg, "unexpected row layout after conversion (%d channels)",
             (int)png_get_channels(png, info));
    src.code = EMO_EINTERNAL;
    png_longjmp(png, 1);
  }
  /* calloc: interlaced passes read back the row they fill in. */
  pix = (uint8_t *)calloc(bytes, 1);
  if (!pix) {
    snprintf(src.msg, sizeof src.msg, "out of memory for %ux%u pixels", (unsigned)w, (unsigned)h);
    src.code = EMO_ENOMEM;
    png_longjmp(png, 1);
  }
  for (int p = 0; p < passes; p++)
    for (png_uint_32 y = 0; y < h; y++) png_read_row(png, pix + (size_t)y * w * 3, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  out->width = (int)w;
  out->height = (int)h;
  out->data = pix;
  out->format = IMG_FORMAT_PNG;
  out->orientation = 1;
  return EMO_OK;
}

/* ---------------------------------------------------------------- WebP */

static const char *webp_status_str(VP8StatusCode st) {
  switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated (not enough data)";
    default: return "decoding failed";
  }
}

static int webp_status_code(VP8StatusCode st) {
  if (st == VP8_STATUS_OUT_OF_MEMORY) return EMO_ENOMEM;
  if (st == VP8_STATUS_UNSUPPORTED_FEATURE) return EMO_EUNSUPPORTED;
  return EMO_EFORMAT;
}

static int img_decode_webp(const uint8_t *data, size_t size, int64_t max_pixels, img_rgb *out,
                           emoi_err *err) {
  WebPDecoderConfig cfg;
  if (!WebPInitDecoderConfig(&cfg))
    return emoi_fail(err, EMO_EINTERNAL, "WebP: library version mismatch");
  VP8StatusCode st = WebPGetFeatures(data, size, &cfg.input);
  if (st != VP8_STATUS_OK)
    return emoi_fail(err, webp_status_code(st), "WebP: header: %s", webp_status_str(st));
  if (cfg.input.has_animation)
    return emoi_fail(err, EMO_EUNSUPPORTED, "WebP: animated WebP is not supported");
  size_t bytes = 0;
  int rc = img_check_dims(cfg.input.width, cfg.input.height, max_pixels, "WebP", &bytes, err);
  if (rc != EMO_OK) return rc;
  uint8_t *pix = (uint8_t *)malloc(bytes); /* (h, w, 3) */
  if (!pix)
    return emoi_fail(err, EMO_ENOMEM, "WebP: out of memory for %dx%d pixels", cfg.input.width,
                     cfg.input.height);
  cfg.output.colorspace = MODE_RGB;
  cfg.output.is_external_memory = 1;
  cfg.output.u.RGBA.rgba = pix;
  cfg.output.u.RGBA.stride = cfg.input.width * 3;
  cfg.output.u.RGBA.size = bytes;
  st = WebPDecode(data, size, &cfg);
  WebPFreeDecBuffer(&cfg.output);
  if (st != VP8_STATUS_OK) {
    free(pix);
    return emoi_fail(err, webp_status_code(st), "WebP: %s", webp_status_str(st));
  }
  out->width = cfg.input.width;
  out->height = cfg.input.height;
  out->data = pix;
  out->format = IMG_FORMAT_WEBP;
  out->orientation = 1;
  return EMO_OK;
}

/* ---------------------------------------------------------------- entry points */

int img_decode(const void *data, size_t size, int64_t max_pixels, img_rgb *out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "img_decode: NULL output");
  memset(out, 0, sizeof *out);
  if (!data && size) return emoi_fail(err, EMO_EINVAL, "img_decode: NULL data");
  if (max_pixels <= 0) return emoi_fail(err, EMO_EINVAL, "img_decode: max_pixels must be > 0");
  if (size == 0) return emoi_fail(err, EMO_EFORMAT, "empty image data");
  switch (img_sniff(data, size)) {
    case IMG_FORMAT_JPEG: return img_decode_jpeg((const uint8_t *)data, size, max_pixels, out, err);
    case IMG_FORMAT_PNG: return img_decode_png((const uint8_t *)data, size, max_pixels, out, err);
    case IMG_FORMAT_WEBP: return img_decode_webp((const uint8_t *)data, size, max_pixels, out, err);
    default: return emoi_fail(err, EMO_EFORMAT, "not a JPEG, PNG or WebP image");
  }
}

int img_read_file(const char *path, int64_t max_bytes, unsigned char **data, size_t *size,
                  emoi_err *err) {
  if (!path || !data || !size || max_bytes <= 0)
    return emoi_fail(err, EMO_EINVAL, "img_read_file: invalid arguments");
  /* A pipe or device is read too (emo image /dev/stdin), never past max_bytes + 1 bytes. */
  int rc = emoi_file_read(path, max_bytes, EMOI_FILE_STREAMS, data, size, err);
  if (rc == EMO_OK && *size == 0) {
    free(*data);
    *data = NULL;
    rc = emoi_fail(err, EMO_EFORMAT, "%s: empty file", path);
  }
  return rc;
}
