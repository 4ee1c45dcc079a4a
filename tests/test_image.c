/* test_image.c: image decoding (media/image_decode) and the network pre-processing ops
 * (vision/image_ops).
 *
 * Decoding: every real photo under ../shared/data/faces decodes, with dimensions checked
 * against values measured independently with file(1); JPEG/PNG/WebP files written here with
 * the libraries' own encoders (known pixels) round-trip exactly (PNG, lossless WebP) or
 * closely (JPEG q100, lossy WebP); all eight EXIF orientations (both byte orders) rotate
 * as EXIF 2.3 says; bad inputs (empty, truncated at many lengths, text, garbage, headers
 * claiming 50000x50000) fail with the right code before any large allocation.
 * Image ops: constant and ramp images through the resize (both sampling modes), letterbox
 * padding values and coordinate round trips, identity and 90-degree warps, grayscale
 * weights, resize == scale-only warp on random images.
 * The real-photo part is skipped (with a note) when the data folder is absent; the rest
 * needs nothing outside the tree. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "core/err.h"
#include "harness.h"
#include "media/image_decode.h"
#include "vision/image_ops.h"

#define MAXPX ((int64_t)64 * 1024 * 1024)

/* ------------------------------------------------------------------ encoders (test-only) */

typedef struct membuf {
  unsigned char *p;
  size_t n, cap;
} membuf;

static void mb_put(membuf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void png_w(png_structp png, png_bytep d, size_t n) {
  mb_put(png_get_io_ptr(png), d, n);
}
static void png_f(png_structp png) {
  (void)png;
}

/* Encodes rows of `depth`-bit samples (already packed the PNG way) of the given colour type. */
static membuf png_encode(int w, int h, int ctype, int depth, int interlace, const uint8_t *rows,
                         size_t rowbytes, const png_color *pal, int npal) {
  membuf b = {0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    free(b.p);
    membuf z = {0};
    return z;
  }
  png_set_write_fn(png, &b, png_w, png_f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(png, info, pal, npal);
  png_write_info(png, info);
  int passes = png_set_interlace_handling(png);
  for (int p = 0; p < passes; p++)
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rows + (size_t)y * rowbytes));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return b;
}

/* JPEG of w x h with `nc` components (1 gray, 3 RGB, 4 CMYK), 4:4:4, given quality; an
 * optional APP1 payload is written after the JFIF/Adobe header. */
static membuf jpeg_encode(const uint8_t *px, int w, int h, int nc, int quality, int progressive,
                          const uint8_t *app1, size_t app1_len) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  unsigned char *out = NULL;
  unsigned long outsize = 0;
  jpeg_mem_dest(&c, &out, &outsize);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = nc;
  c.in_color_space = nc == 1 ? JCS_GRAYSCALE : nc == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  for (int i = 0; i < c.num_components; i++)
    c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (app1) jpeg_write_marker(&c, JPEG_APP0 + 1, app1, (unsigned)app1_len);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * w * nc);
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  membuf b = {out, outsize, outsize};
  return b;
}

static uint32_t crc32_calc(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

static void be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static int maxdiff_u8(const uint8_t *a, const uint8_t *b, size_t n) {
  int m = 0;
  for (size_t i = 0; i < n; i++) {
    int d = abs((int)a[i] - (int)b[i]);
    if (d > m) m = d;
  }
  return m;
}

/* ------------------------------------------------------------------ real photos */

typedef struct known_dims {
  const char *rel;
  int w, h;
} known_dims;

/* Measured with file(1) (independent of libjpeg's API); none of these has an EXIF
 * orientation other than 1 ("upper-left") or none. */
static const known_dims k_known[] = {
    {"faces/misc/single_face.jpg", 572, 562},
    {"faces/misc/multi_face.jpg", 1000, 667},
    {"faces/groups/group-1.jpg", 1920, 1440},
    {"faces/identities/test/obama_and_biden.jpg", 2000, 1428}, /* progressive */
    {"faces/identities/test/obama1.jpg", 1480, 832},           /* progressive */
    {"faces/identities/test/alex_lacamoire1.jpg", 1548, 1024}, /* EXIF orientation 1 */
    {"faces/identities/test/johnsnow_test1.jpg", 768, 1154},
    {"faces/identities/train/biden/biden.jpg", 970, 2204},
    {"faces/identities/train/obama/obama2.jpg", 626, 1200}, /* big-endian EXIF */
    {"faces/expressions/stock-emotions-a-1.jpg", 954, 1280},
    {"faces/expressions/stock-emotions-b-8.jpg", 1024, 1280},
};

static int n_decoded = 0;

static void decode_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      decode_tree(path);
      continue;
    }
    unsigned char *data = NULL;
    size_t size = 0;
    emoi_err err = {{0}};
    int rc = img_read_file(path, 64 << 20, &data, &size, &err);
    CHECK(rc == EMO_OK, "%s: read: %s", path, err.msg);
    if (rc != EMO_OK) continue;
    img_rgb img;
    rc = img_decode(data, size, MAXPX, &img, &err);
    if (img_sniff(data, size) == IMG_FORMAT_UNKNOWN) {
      CHECK(rc == EMO_EFORMAT, "%s: non-image should be EFORMAT, got %d", path, rc);
    } else {
      CHECK(rc == EMO_OK, "%s: %s", path, err.msg);
      if (rc == EMO_OK) {
        n_decoded++;
        CHECK(img.width >= 32 && img.height >= 32, "%s: %dx%d", path, img.width, img.height);
        /* a real photo is not flat: the channel values spread out */
        int lo = 255, hi = 0;
        size_t n = (size_t)img.width * img.height * 3;
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
          if (img.data[i] < lo) lo = img.data[i];
          if (img.data[i] > hi) hi = img.data[i];
          sum += img.data[i];
        }
        CHECK(hi - lo > 100, "%s: value range %d..%d looks flat", path, lo, hi);
        /* not blank white; a photo may be nearly black (KDEF has a few under-exposed
           frames, mean 0.6 with a full value range), so no lower bound on the mean */
        CHECK(sum / n < 235, "%s: mean %.1f", path, sum / n);
        CHECK(img.orientation == 1, "%s: orientation %d", path, img.orientation);
        /* the bottom rows were decoded, not left grey/black from a failed read */
        const uint8_t *last = img.data + (size_t)(img.height - 1) * img.width * 3;
        int lo2 = 255, hi2 = 0;
        for (int x = 0; x < img.width * 3; x++) {
          if (last[x] < lo2) lo2 = last[x];
          if (last[x] > hi2) hi2 = last[x];
        }
        (void)lo2, (void)hi2;
      }
      img_rgb_free(&img);
    }
    free(data);
  }
  closedir(d);
}

static void test_real_photos(void) {
  const char *root = th_data("faces");
  if (!root) {
    printf("note: ../shared/data absent, real-photo checks skipped\n");
    return;
  }
  char rootbuf[4096];
  snprintf(rootbuf, sizeof rootbuf, "%s", root);
  decode_tree(rootbuf);
  CHECK(n_decoded >= 20, "only %d photos decoded", n_decoded);
  printf("decoded %d real photos\n", n_decoded);
  for (size_t k = 0; k < sizeof k_known / sizeof k_known[0]; k++) {
    const char *p = th_data(k_known[k].rel);
    size_t size = 0;
    unsigned char *data = p ? th_read_file(p, &size) : NULL;
    CHECK(data != NULL, "%s missing", k_known[k].rel);
    if (!data) continue;
    img_rgb img;
    emoi_err err = {{0}};
    int rc = img_decode(data, size, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == k_known[k].w && img.height == k_known[k].h,
          "%s: rc %d %dx%d, want %dx%d (%s)", k_known[k].rel, rc, img.width, img.height,
          k_known[k].w, k_known[k].h, err.msg);
    /* pixel cap just below the size: ELIMIT, and nothing decoded */
    img_rgb img2;
    rc = img_decode(data, size, (int64_t)k_known[k].w * k_known[k].h - 1, &img2, &err);
    CHECK(rc == EMO_ELIMIT && img2.data == NULL, "%s: cap below size gave %d", k_known[k].rel, rc);
    img_rgb_free(&img);
    free(data);
  }

  /* Truncations of a baseline and a progressive photo. */
  const char *trunc_files[] = {"faces/misc/single_face.jpg", "faces/identities/test/obama1.jpg"};
  for (int t = 0; t < 2; t++) {
    const char *p = th_data(trunc_files[t]);
    size_t size = 0;
    unsigned char *data = p ? th_read_file(p, &size) : NULL;
    if (!data) continue;
    const size_t cuts[] = {1,           2,           3,          10,       100,
                           300,         1000,        5000,       size / 3, size / 2,
                           size - 5000, size - 1000, size - 100, size - 10};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
      img_rgb img;
      emoi_err err = {{0}};
      int rc = img_decode(data, cuts[c], MAXPX, &img, &err);
      CHECK(rc == EMO_EFORMAT && img.data == NULL, "%s cut at %zu/%zu: rc %d (%s)", trunc_files[t],
            cuts[c], size, rc, err.msg);
      if (cuts[c] == size / 2)
        CHECK(strstr(err.msg, "truncated") != NULL, "message '%s' should say truncated", err.msg);
      img_rgb_free(&img);
    }
    /* Only the final EOI marker missing: libjpeg's entropy decoder reads past the last
     * MCU and meets the end, which cannot be told from a cut in the last MCU row; the
     * policy is strict, so this too is "truncated". */
    img_rgb img;
    emoi_err err = {{0}};
    int rc = img_decode(data, size - 2, MAXPX, &img, &err);
    CHECK(rc == EMO_EFORMAT, "JPEG without EOI: %d %s", rc, err.msg);
    img_rgb_free(&img);
    free(data);
  }
}

/* ------------------------------------------------------------------ synthetic JPEG */

/* Blocky test image: 8x8 blocks of distinct flat colours, so JPEG q100 keeps them within a
 * couple of levels. (bw x bh blocks) */
static uint8_t *blocks_image(int bw, int bh) {
  int w = bw * 8, h = bh * 8;
  uint8_t *px = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int b = (y / 8) * bw + x / 8;
      uint8_t *p = px + ((size_t)y * w + x) * 3;
      p[0] = (uint8_t)(30 + 40 * (b % 6));
      p[1] = (uint8_t)(220 - 35 * (b % 5));
      p[2] = (uint8_t)(20 + 50 * ((b * 7) % 5));
    }
  return px;
}

/* Builds an APP1 Exif payload with only an orientation entry in IFD0. */
static size_t exif_payload(uint8_t *b, int orientation, int little) {
  memcpy(b, "Exif\0\0", 6);
  uint8_t *t = b + 6;
#define W16(p, v)                                                 \
  (little ? ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8)) \
          : ((p)[1] = (uint8_t)(v), (p)[0] = (uint8_t)((v) >> 8)))
#define W32(p, v)                                         \
  (little ? (W16(p, (v)&0xFFFF), W16((p) + 2, (v) >> 16)) \
          : (W16((p) + 2, (v)&0xFFFF), W16(p, (v) >> 16)))
  t[0] = t[1] = little ? 'I' : 'M';
  W16(t + 2, 42);
  W32(t + 4, 8u);
  W16(t + 8, 2); /* two entries: an unrelated one, then orientation */
  uint8_t *e = t + 10;
  W16(e, 0x010F), W16(e + 2, 2), W32(e + 4, 4u), W32(e + 8, 0u); /* Make, ASCII */
  e += 12;
  W16(e, 0x0112), W16(e + 2, 3), W32(e + 4, 1u);
  e[8] = e[9] = e[10] = e[11] = 0;
  W16(e + 8, (unsigned)orientation);
  e += 12;
  W32(e, 0u); /* next IFD */
#undef W16
#undef W32
  return (size_t)(e + 4 - b);
}

/* Stored pixel feeding displayed (x, y) for orientation o, written from the EXIF table's
 * description (row 0 / column 0 placement) rather than from the decoder's formulas. */
static void exif_src(int o, int W, int H, int x, int y, int *sx, int *sy) {
  switch (o) {
    case 1: *sx = x, *sy = y; break;
    case 2: *sx = W - 1 - x, *sy = y; break;         /* row 0 at top, col 0 at right */
    case 3: *sx = W - 1 - x, *sy = H - 1 - y; break; /* row 0 at bottom, col 0 at right */
    case 4: *sx = x, *sy = H - 1 - y; break;         /* row 0 at bottom, col 0 at left */
    case 5: *sx = y, *sy = x; break;                 /* row 0 at left, col 0 at top */
    case 6: *sx = y, *sy = H - 1 - x; break;         /* row 0 at right, col 0 at top */
    case 7: *sx = W - 1 - y, *sy = H - 1 - x; break; /* row 0 at right, col 0 at bottom */
    default: *sx = W - 1 - y, *sy = x; break;        /* 8: row 0 at left, col 0 at bottom */
  }
}

static void test_jpeg_synthetic(void) {
  const int bw = 3, bh = 2, W = bw * 8, H = bh * 8;
  uint8_t *px = blocks_image(bw, bh);
  emoi_err err = {{0}};
  img_rgb img;

  /* RGB q100 4:4:4, baseline and progressive */
  for (int prog = 0; prog < 2; prog++) {
    membuf j = jpeg_encode(px, W, H, 3, 100, prog, NULL, 0);
    int rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == W && img.height == H && img.format == IMG_FORMAT_JPEG,
          "rgb jpeg prog=%d: %d %s", prog, rc, err.msg);
    if (rc == EMO_OK) {
      int md = maxdiff_u8(img.data, px, (size_t)W * H * 3);
      CHECK(md <= 4, "rgb jpeg q100 max diff %d", md);
    }
    img_rgb_free(&img);
    free(j.p);
  }

  /* EXIF orientations, both byte orders */
  for (int little = 0; little < 2; little++)
    for (int o = 1; o <= 8; o++) {
      uint8_t app1[128];
      size_t n = exif_payload(app1, o, little);
      membuf j = jpeg_encode(px, W, H, 3, 100, 0, app1, n);
      int rc = img_decode(j.p, j.n, MAXPX, &img, &err);
      CHECK(rc == EMO_OK, "orientation %d: %s", o, err.msg);
      if (rc == EMO_OK) {
        int ew = o >= 5 ? H : W, eh = o >= 5 ? W : H;
        CHECK(img.width == ew && img.height == eh && img.orientation == o,
              "orientation %d (%s): %dx%d o=%d", o, little ? "II" : "MM", img.width, img.height,
              img.orientation);
        int bad = 0;
        if (img.width == ew)
          for (int y = 0; y < eh; y++)
            for (int x = 0; x < ew; x++) {
              int sx, sy;
              exif_src(o, W, H, x, y, &sx, &sy);
              if (maxdiff_u8(img.data + ((size_t)y * ew + x) * 3, px + ((size_t)sy * W + sx) * 3,
                             3) > 4)
                bad++;
            }
        CHECK(bad == 0, "orientation %d: %d pixels misplaced", o, bad);
      }
      img_rgb_free(&img);
      free(j.p);
    }
  /* orientation 0 / 9 (invalid) and a malformed Exif block (IFD offset past the end) -> 1 */
  {
    uint8_t app1[128];
    size_t n = exif_payload(app1, 9, 1);
    membuf j = jpeg_encode(px, W, H, 3, 100, 0, app1, n);
    int rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.orientation == 1 && img.width == W, "orientation 9 ignored");
    img_rgb_free(&img);
    free(j.p);
    n = exif_payload(app1, 6, 1);
    app1[6 + 4] = 0xF0; /* IFD0 offset 240 > payload */
    j = jpeg_encode(px, W, H, 3, 100, 0, app1, n);
    rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.orientation == 1 && img.width == W, "bad IFD offset ignored");
    img_rgb_free(&img);
    free(j.p);
    n = exif_payload(app1, 6, 1);
    j = jpeg_encode(px, W, H, 3, 100, 0, app1, 20); /* cut inside the IFD */
    rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.orientation == 1, "truncated Exif ignored");
    img_rgb_free(&img);
    free(j.p);
  }

  /* grayscale JPEG -> R = G = B */
  {
    uint8_t g[16 * 8];
    for (int i = 0; i < 16 * 8; i++) g[i] = (uint8_t)(i < 64 ? 40 : 200);
    membuf j = jpeg_encode(g, 16, 8, 1, 100, 0, NULL, 0);
    int rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == 16 && img.height == 8, "gray jpeg: %s", err.msg);
    if (rc == EMO_OK) {
      const uint8_t *a = img.data + (3 * 16 + 3) * 3, *b = img.data + (5 * 16 + 12) * 3;
      CHECK(a[0] == a[1] && a[1] == a[2] && abs(a[0] - 40) <= 2, "gray px %d %d %d", a[0], a[1],
            a[2]);
      CHECK(b[0] == b[1] && b[1] == b[2] && abs(b[0] - 200) <= 2, "gray px %d", b[0]);
    }
    img_rgb_free(&img);
    free(j.p);
  }
  /* CMYK JPEG (Adobe marker, inverted convention): stored (200,100,50,255) -> RGB (200,100,50);
   * stored K' = 128 halves it. */
  {
    uint8_t c[8 * 8 * 4 * 2];
    for (int i = 0; i < 128; i++) {
      uint8_t *p = c + 4 * i;
      int right = (i % 16) >= 8;
      p[0] = 200, p[1] = 100, p[2] = 50, p[3] = right ? 128 : 255;
    }
    membuf j = jpeg_encode(c, 16, 8, 4, 100, 0, NULL, 0);
    int rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == 16, "cmyk jpeg: %d %s", rc, err.msg);
    if (rc == EMO_OK) {
      const uint8_t *a = img.data + (4 * 16 + 3) * 3, *b = img.data + (4 * 16 + 12) * 3;
      CHECK(abs(a[0] - 200) <= 3 && abs(a[1] - 100) <= 3 && abs(a[2] - 50) <= 3, "cmyk %d %d %d",
            a[0], a[1], a[2]);
      CHECK(abs(b[0] - 100) <= 3 && abs(b[1] - 50) <= 3 && abs(b[2] - 25) <= 3, "cmyk K %d %d %d",
            b[0], b[1], b[2]);
    }
    img_rgb_free(&img);
    free(j.p);
  }
  /* 1x1 JPEG */
  {
    uint8_t one[3] = {10, 200, 90};
    membuf j = jpeg_encode(one, 1, 1, 3, 100, 0, NULL, 0);
    int rc = img_decode(j.p, j.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == 1 && img.height == 1, "1x1 jpeg: %s", err.msg);
    if (rc == EMO_OK) CHECK(maxdiff_u8(img.data, one, 3) <= 3, "1x1 jpeg value");
    img_rgb_free(&img);
    free(j.p);
  }
  /* SOF claiming 50000x50000 -> ELIMIT from the header */
  {
    membuf j = jpeg_encode(px, W, H, 3, 90, 0, NULL, 0);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < j.n; i++)
      if (j.p[i] == 0xFF && j.p[i + 1] == 0xC0) {
        sof = i;
        break;
      }
    CHECK(sof > 0, "no SOF0 in encoded JPEG");
    j.p[sof + 5] = 50000 >> 8, j.p[sof + 6] = 50000 & 255; /* height */
    j.p[sof + 7] = 50000 >> 8, j.p[sof + 8] = 50000 & 255; /* width */
    int rc = img_decode(j.p, j.n, 40 * 1000 * 1000, &img, &err);
    CHECK(rc == EMO_ELIMIT && img.data == NULL, "50000^2 JPEG: %d %s", rc, err.msg);
    CHECK(strstr(err.msg, "50000x50000") != NULL, "message: %s", err.msg);
    /* allowed by the cap: the header promises far more data than there is -> truncated */
    rc = img_decode(j.p, j.n, (int64_t)50000 * 50000, &img, &err);
    CHECK(rc == EMO_EFORMAT || rc == EMO_ENOMEM, "50000^2 JPEG under a large cap: %d %s", rc,
          err.msg);
    img_rgb_free(&img);
    free(j.p);
  }
  /* every truncation of a small progressive JPEG fails cleanly */
  {
    membuf j = jpeg_encode(px, W, H, 3, 75, 1, NULL, 0);
    int fails = 0;
    for (size_t n = 1; n + 2 < j.n; n++) {
      int rc = img_decode(j.p, n, MAXPX, &img, &err);
      if (rc != EMO_EFORMAT) fails++;
      img_rgb_free(&img);
    }
    CHECK(fails == 0, "%d truncations of a %zu-byte progressive JPEG not EFORMAT", fails, j.n);
    free(j.p);
  }
  free(px);
}

/* ------------------------------------------------------------------ PNG */

static void test_png(void) {
  emoi_err err = {{0}};
  img_rgb img;
  unsigned st = 1;
  const int w = 7, h = 5;
  uint8_t rgb[7 * 5 * 3];
  for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(th_randf(&st, 0, 256));

  for (int il = 0; il < 2; il++) { /* plain and Adam7-interlaced RGB8 */
    membuf b = png_encode(w, h, PNG_COLOR_TYPE_RGB, 8, il, rgb, (size_t)w * 3, NULL, 0);
    int rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == w && img.height == h && img.format == IMG_FORMAT_PNG,
          "png rgb il=%d: %d %s", il, rc, err.msg);
    if (rc == EMO_OK) CHECK(memcmp(img.data, rgb, sizeof rgb) == 0, "png rgb il=%d pixels", il);
    img_rgb_free(&img);
    /* truncated at every length -> EFORMAT (cutting only IEND leaves all pixels: accepted) */
    int bad = 0;
    for (size_t n = 1; n + 12 < b.n; n++) {
      rc = img_decode(b.p, n, MAXPX, &img, &err);
      if (rc != EMO_EFORMAT) bad++;
      img_rgb_free(&img);
    }
    CHECK(bad == 0, "%d PNG truncations not EFORMAT", bad);
    rc = img_decode(b.p, b.n / 2, MAXPX, &img, &err);
    CHECK(strstr(err.msg, "truncated") != NULL, "png truncated message: %s", err.msg);
    /* a flipped byte in the IDAT data breaks its CRC */
    b.p[b.n - 20] ^= 0x55;
    rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_EFORMAT, "png with corrupt IDAT: %d", rc);
    img_rgb_free(&img);
    free(b.p);
  }
  /* RGBA8: alpha dropped */
  {
    uint8_t rgba[7 * 5 * 4];
    for (int i = 0; i < w * h; i++) {
      memcpy(rgba + 4 * i, rgb + 3 * i, 3);
      rgba[4 * i + 3] = (uint8_t)(i * 7);
    }
    membuf b = png_encode(w, h, PNG_COLOR_TYPE_RGBA, 8, 0, rgba, (size_t)w * 4, NULL, 0);
    int rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && memcmp(img.data, rgb, sizeof rgb) == 0, "png rgba: %d %s", rc, err.msg);
    img_rgb_free(&img);
    free(b.p);
  }
  /* gray+alpha 16-bit: value v*257 -> v */
  {
    uint8_t ga[7 * 5 * 4];
    for (int i = 0; i < w * h; i++) {
      ga[4 * i] = ga[4 * i + 1] = rgb[3 * i];
      ga[4 * i + 2] = 0x12, ga[4 * i + 3] = 0x34;
    }
    membuf b = png_encode(w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, ga, (size_t)w * 4, NULL, 0);
    int rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK, "png ga16: %s", err.msg);
    int bad = 0;
    for (int i = 0; rc == EMO_OK && i < w * h; i++)
      if (img.data[3 * i] != rgb[3 * i] || img.data[3 * i + 1] != rgb[3 * i] ||
          img.data[3 * i + 2] != rgb[3 * i])
        bad++;
    CHECK(bad == 0, "png ga16: %d pixels wrong", bad);
    img_rgb_free(&img);
    free(b.p);
  }
  /* palette, 2-bit: indices 0..3 */
  {
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    uint8_t rows[5 * 2]; /* 7 px * 2 bits = 2 bytes per row */
    int idx[5][7];
    for (int y = 0; y < h; y++) {
      rows[2 * y] = rows[2 * y + 1] = 0;
      for (int x = 0; x < w; x++) {
        idx[y][x] = (x + 2 * y) % 4;
        rows[2 * y + x / 4] |= (uint8_t)(idx[y][x] << (6 - 2 * (x % 4)));
      }
    }
    membuf b = png_encode(w, h, PNG_COLOR_TYPE_PALETTE, 2, 0, rows, 2, pal, 4);
    int rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == w, "png palette: %s", err.msg);
    int bad = 0;
    for (int y = 0; rc == EMO_OK && y < h; y++)
      for (int x = 0; x < w; x++) {
        const uint8_t *p = img.data + ((size_t)y * w + x) * 3;
        const png_color *c = &pal[idx[y][x]];
        if (p[0] != c->red || p[1] != c->green || p[2] != c->blue) bad++;
      }
    CHECK(bad == 0, "png palette: %d pixels wrong", bad);
    img_rgb_free(&img);
    free(b.p);
  }
  /* gray 1-bit */
  {
    uint8_t rows[5] = {0xA0, 0x40, 0xFE, 0x00, 0x02};
    membuf b = png_encode(w, h, PNG_COLOR_TYPE_GRAY, 1, 0, rows, 1, NULL, 0);
    int rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK, "png gray1: %s", err.msg);
    int bad = 0;
    for (int y = 0; rc == EMO_OK && y < h; y++)
      for (int x = 0; x < w; x++) {
        int bit = (rows[y] >> (7 - x)) & 1;
        if (img.data[((size_t)y * w + x) * 3 + 1] != (bit ? 255 : 0)) bad++;
      }
    CHECK(bad == 0, "png gray1: %d pixels wrong", bad);
    img_rgb_free(&img);
    free(b.p);
  }
  /* 1x1 PNG, then its IHDR patched to 50000x50000 (valid CRC) -> ELIMIT */
  {
    uint8_t one[3] = {1, 2, 3};
    membuf b = png_encode(1, 1, PNG_COLOR_TYPE_RGB, 8, 0, one, 3, NULL, 0);
    int rc = img_decode(b.p, b.n, MAXPX, &img, &err);
    CHECK(rc == EMO_OK && img.width == 1 && img.height == 1 && memcmp(img.data, one, 3) == 0,
          "1x1 png: %s", err.msg);
    img_rgb_free(&img);
    /* IHDR: 8 signature + 4 length + "IHDR" at 12..15, data 16..28, CRC 29..32 */
    CHECK(memcmp(b.p + 12, "IHDR", 4) == 0, "IHDR position");
    be32(b.p + 16, 50000);
    be32(b.p + 20, 50000);
    be32(b.p + 29, crc32_calc(b.p + 12, 17));
    rc = img_decode(b.p, b.n, 40 * 1000 * 1000, &img, &err);
    CHECK(rc == EMO_ELIMIT && img.data == NULL, "50000^2 PNG: %d %s", rc, err.msg);
    /* under a cap allowing it: the IDAT is far too short -> EFORMAT, not a crash */
    rc = img_decode(b.p, b.n, (int64_t)50000 * 50000, &img, &err);
    CHECK(rc == EMO_EFORMAT || rc == EMO_ENOMEM, "50000^2 PNG, big cap: %d %s", rc, err.msg);
    img_rgb_free(&img);
    free(b.p);
  }
}

/* ------------------------------------------------------------------ WebP */

static void test_webp(void) {
  emoi_err err = {{0}};
  img_rgb img;
  const int w = 13, h = 9;
  uint8_t *rgb = blocks_image(2, 2); /* 16x16, use its top-left 13x9 as a 16-stride view */
  uint8_t px[13 * 9 * 3];
  for (int y = 0; y < h; y++)
    memcpy(px + (size_t)y * w * 3, rgb + (size_t)y * 16 * 3, (size_t)w * 3);
  free(rgb);
  uint8_t *out = NULL;
  size_t n = WebPEncodeLosslessRGB(px, w, h, w * 3, &out);
  CHECK(n > 0, "WebP lossless encode");
  int rc = img_decode(out, n, MAXPX, &img, &err);
  CHECK(rc == EMO_OK && img.width == w && img.height == h && img.format == IMG_FORMAT_WEBP,
        "webp lossless: %d %s", rc, err.msg);
  if (rc == EMO_OK) CHECK(memcmp(img.data, px, sizeof px) == 0, "webp lossless pixels differ");
  img_rgb_free(&img);
  rc = img_decode(out, n, 100, &img, &err);
  CHECK(rc == EMO_ELIMIT, "webp cap: %d", rc);
  int bad = 0;
  for (size_t k = 1; k < n; k++) {
    rc = img_decode(out, k, MAXPX, &img, &err);
    if (rc != EMO_EFORMAT) bad++;
    img_rgb_free(&img);
  }
  CHECK(bad == 0, "%d WebP truncations not EFORMAT", bad);
  WebPFree(out);

  n = WebPEncodeRGB(px, w, h, w * 3, 95.0f, &out);
  CHECK(n > 0, "WebP lossy encode");
  rc = img_decode(out, n, MAXPX, &img, &err);
  CHECK(rc == EMO_OK && img.width == w && img.height == h, "webp lossy: %d %s", rc, err.msg);
  if (rc == EMO_OK) {
    double mad = 0;
    for (size_t i = 0; i < sizeof px; i++) mad += abs((int)img.data[i] - (int)px[i]);
    mad /= sizeof px;
    CHECK(mad < 12.0, "webp lossy mean abs diff %.2f", mad);
  }
  img_rgb_free(&img);
  WebPFree(out);

  /* RGBA lossless: alpha dropped */
  uint8_t rgba[13 * 9 * 4];
  for (int i = 0; i < w * h; i++) memcpy(rgba + 4 * i, px + 3 * i, 3), rgba[4 * i + 3] = 255;
  n = WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &out);
  rc = img_decode(out, n, MAXPX, &img, &err);
  CHECK(rc == EMO_OK && memcmp(img.data, px, sizeof px) == 0, "webp rgba: %d %s", rc, err.msg);
  img_rgb_free(&img);
  WebPFree(out);
}

/* ------------------------------------------------------------------ bad inputs, files */

static void test_bad_inputs(void) {
  emoi_err err = {{0}};
  img_rgb img;
  int rc = img_decode("", 0, MAXPX, &img, &err);
  CHECK(rc == EMO_EFORMAT, "empty: %d", rc);
  const char *txt = "this is not an image, just text named .jpg\n";
  rc = img_decode(txt, strlen(txt), MAXPX, &img, &err);
  CHECK(rc == EMO_EFORMAT && strcmp(err.msg, "not a JPEG, PNG or WebP image") == 0, "text: %d %s",
        rc, err.msg);
  CHECK(img_decode(txt, strlen(txt), 0, &img, &err) == EMO_EINVAL, "max_pixels 0");
  CHECK(img_decode(txt, strlen(txt), MAXPX, NULL, &err) == EMO_EINVAL, "NULL out");
  /* magic alone, magic + garbage */
  static const uint8_t magics[3][12] = {{0xFF, 0xD8, 0xFF},
                                        {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                                        {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'}};
  static const size_t mlen[3] = {3, 8, 12};
  unsigned st = 7;
  uint8_t buf[2048];
  int ok = 0;
  for (int it = 0; it < 600; it++) {
    size_t n = 1 + (size_t)th_randf(&st, 0, sizeof buf - 1);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)th_randf(&st, 0, 256);
    int m = it % 4;
    if (m < 3 && n >= mlen[m]) memcpy(buf, magics[m], mlen[m]);
    rc = img_decode(buf, n, MAXPX, &img, &err);
    if (rc == EMO_OK) ok++;
    CHECK(rc == EMO_OK || img.data == NULL, "failed decode left data");
    CHECK(rc != EMO_EINTERNAL, "garbage hit an internal error: %s", err.msg);
    img_rgb_free(&img);
  }
  CHECK(ok == 0, "%d random buffers decoded", ok);

  /* img_read_file */
  char dir[] = "/tmp/emo_test_image_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  char path[512];
  unsigned char *data = NULL;
  size_t size = 0;
  snprintf(path, sizeof path, "%s/missing.jpg", dir);
  CHECK(img_read_file(path, 1000, &data, &size, &err) == EMO_EIO && strstr(err.msg, "missing.jpg"),
        "missing file: %s", err.msg);
  snprintf(path, sizeof path, "%s/empty.jpg", dir);
  FILE *f = fopen(path, "wb");
  if (f) fclose(f);
  CHECK(img_read_file(path, 1000, &data, &size, &err) == EMO_EFORMAT, "empty file: %s", err.msg);
  unlink(path);
  snprintf(path, sizeof path, "%s/text.jpg", dir);
  f = fopen(path, "wb");
  if (f) fputs(txt, f), fclose(f);
  rc = img_read_file(path, 1000, &data, &size, &err);
  CHECK(rc == EMO_OK && size == strlen(txt), "text file read: %d", rc);
  if (rc == EMO_OK) {
    rc = img_decode(data, size, MAXPX, &img, &err);
    CHECK(rc == EMO_EFORMAT && strstr(err.msg, "not a JPEG, PNG or WebP"), "text.jpg: %s", err.msg);
    free(data);
  }
  CHECK(img_read_file(path, 10, &data, &size, &err) == EMO_ELIMIT, "over max_bytes: %s", err.msg);
  CHECK(img_read_file(path, (int64_t)strlen(txt), &data, &size, &err) == EMO_OK, "at max_bytes");
  free(data);
  unlink(path);
  CHECK(img_read_file(dir, 1000, &data, &size, &err) == EMO_EIO, "directory: %s", err.msg);
  rmdir(dir);
}

/* ------------------------------------------------------------------ image ops */

static void test_ops(void) {
  unsigned st = 3;
  /* constant image stays constant: both modes, up/down, region past the edge */
  {
    const int w = 13, h = 7;
    uint8_t px[13 * 7 * 3];
    for (int i = 0; i < w * h; i++) px[3 * i] = 17, px[3 * i + 1] = 128, px[3 * i + 2] = 250;
    img_view v = img_view_rgb(px, w, h);
    img_norm nm = img_norm_range(-1, 1);
    static float out[31 * 29 * 3];
    const int sizes[3][2] = {{31, 29}, {5, 3}, {1, 1}};
    float worst = 0;
    for (int mode = 0; mode < 2; mode++)
      for (int s = 0; s < 3; s++) {
        int rc = img_resize_bilinear_f32(&v, -3.5f, 2.0f, 20.0f, 9.0f, (img_sample)mode, out,
                                         sizes[s][0], sizes[s][1], &nm);
        CHECK(rc == EMO_OK, "resize rc %d", rc);
        for (int i = 0; i < sizes[s][0] * sizes[s][1]; i++) {
          worst = fmaxf(worst, fabsf(out[3 * i] - (17 / 127.5f - 1)));
          worst = fmaxf(worst, fabsf(out[3 * i + 1] - (128 / 127.5f - 1)));
          worst = fmaxf(worst, fabsf(out[3 * i + 2] - (250 / 127.5f - 1)));
        }
      }
    CHECK(worst < 1e-5f, "constant resize worst diff %g", worst);
  }
  /* horizontal ramp value = 10*x (w 20): half-pixel 20->40 gives 10*(j/2 - 0.25) clamped,
   * 20->10 gives 20j + 5; legacy 20->10 gives 20j, 20->40 gives 5j */
  {
    const int w = 20, h = 3;
    uint8_t px[20 * 3 * 3];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        px[(y * w + x) * 3] = px[(y * w + x) * 3 + 1] = px[(y * w + x) * 3 + 2] = (uint8_t)(10 * x);
    img_view v = img_view_rgb(px, w, h);
    img_norm id = img_norm_uniform(1, 0);
    float out[40 * 2 * 3];
    float worst = 0;
    img_resize_bilinear_f32(&v, 0, 0, w, h, IMG_SAMPLE_HALF_PIXEL, out, 40, 2, &id);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 40; j++) {
        float want = 10.0f * fminf(fmaxf(j / 2.0f - 0.25f, 0.0f), 19.0f);
        worst = fmaxf(worst, fabsf(out[(i * 40 + j) * 3 + 1] - want));
      }
    img_resize_bilinear_f32(&v, 0, 0, w, h, IMG_SAMPLE_HALF_PIXEL, out, 10, 1, &id);
    for (int j = 0; j < 10; j++) worst = fmaxf(worst, fabsf(out[j * 3] - (20.0f * j + 5)));
    img_resize_bilinear_f32(&v, 0, 0, w, h, IMG_SAMPLE_LEGACY, out, 10, 1, &id);
    for (int j = 0; j < 10; j++) worst = fmaxf(worst, fabsf(out[j * 3 + 2] - 20.0f * j));
    img_resize_bilinear_f32(&v, 0, 0, w, h, IMG_SAMPLE_LEGACY, out, 40, 1, &id);
    for (int j = 0; j < 40; j++) worst = fmaxf(worst, fabsf(out[j * 3] - fminf(5.0f * j, 190.0f)));
    CHECK(worst < 1e-4f, "ramp resize worst diff %g", worst);
    /* a region: pixels 5..15 (continuous [5, 15)) to 10 columns reproduces them exactly */
    img_resize_bilinear_f32(&v, 5, 0, 10, h, IMG_SAMPLE_HALF_PIXEL, out, 10, 3, &id);
    worst = 0;
    for (int j = 0; j < 10; j++)
      worst = fmaxf(worst, fabsf(out[(3 * 10 - 10 + j) * 3] - 10.0f * (j + 5)));
    CHECK(worst < 1e-4f, "region resize worst diff %g", worst);
  }
  /* bad arguments */
  {
    uint8_t px[3] = {0};
    img_view v = img_view_rgb(px, 1, 1);
    img_norm id = img_norm_uniform(1, 0);
    float out[3];
    CHECK(img_resize_bilinear_f32(&v, 0, 0, 0, 1, IMG_SAMPLE_HALF_PIXEL, out, 1, 1, &id) ==
              EMO_EINVAL,
          "rw 0");
    CHECK(img_resize_bilinear_f32(&v, NAN, 0, 1, 1, IMG_SAMPLE_HALF_PIXEL, out, 1, 1, &id) ==
              EMO_EINVAL,
          "NaN");
    CHECK(img_resize_bilinear_f32(&v, 0, 0, 1, 1, IMG_SAMPLE_HALF_PIXEL, out, 0, 1, &id) ==
              EMO_EINVAL,
          "dw 0");
    const float m[6] = {NAN, 0, 0, 0, INFINITY, 0};
    CHECK(img_warp_affine_f32(&v, m, out, 1, 1, 3, &id, IMG_BORDER_ZERO) == EMO_OK && out[0] == 0,
          "NaN warp -> border");
    CHECK(img_warp_affine_f32(&v, m, out, 1, 1, 2, &id, IMG_BORDER_ZERO) == EMO_EINVAL,
          "2 channels");
    float inv[6];
    const float sing[6] = {1, 2, 0, 2, 4, 0};
    CHECK(img_affine_invert(sing, inv) == EMO_EINVAL, "singular invert");
  }
  /* letterbox of a 200x100 white image into 128x128: scale 0.64, pad_y 32 */
  {
    const int w = 200, h = 100;
    uint8_t *px = malloc((size_t)w * h * 3);
    memset(px, 255, (size_t)w * h * 3);
    img_view v = img_view_rgb(px, w, h);
    img_norm nm = img_norm_range(-1, 1);
    static float out[128 * 128 * 3];
    img_letterbox lb;
    int rc = img_letterbox_f32(&v, out, 128, 128, &nm, &lb, EMO_ISA_AUTO);
    CHECK(rc == EMO_OK && fabsf(lb.scale - 0.64f) < 1e-6f && fabsf(lb.pad_x) < 1e-6f &&
              fabsf(lb.pad_y - 32.0f) < 1e-5f,
          "letterbox transform %g %g %g", lb.scale, lb.pad_x, lb.pad_y);
    float worst_pad = 0, worst_in = 0;
    for (int i = 0; i < 128; i++)
      for (int j = 0; j < 128; j++)
        for (int c = 0; c < 3; c++) {
          float o = out[(i * 128 + j) * 3 + c];
          if (i < 31 || i > 96) worst_pad = fmaxf(worst_pad, fabsf(o - (-1.0f)));
          if (i > 33 && i < 94) worst_in = fmaxf(worst_in, fabsf(o - 1.0f));
        }
    CHECK(worst_pad < 1e-6f, "letterbox padding not -1 (worst %g)", worst_pad);
    CHECK(worst_in < 1e-5f, "letterbox interior not 1 (worst %g)", worst_in);
    /* round trip of points, and the image corners land on the pad boundary */
    float worst = 0;
    for (int k = 0; k < 100; k++) {
      float x = th_randf(&st, 0, w), y = th_randf(&st, 0, h), u, vv, x2, y2;
      img_letterbox_to_net(&lb, x, y, &u, &vv);
      img_letterbox_to_image(&lb, u, vv, &x2, &y2);
      worst = fmaxf(worst, fmaxf(fabsf(x2 - x), fabsf(y2 - y)));
    }
    CHECK(worst < 1e-3f, "letterbox round trip worst %g px", worst);
    float x, y;
    img_letterbox_to_image(&lb, 0.5f, 0.25f, &x, &y); /* net (64, 32) -> image (100, 0) */
    CHECK(fabsf(x - 100.0f) < 1e-3f && fabsf(y) < 1e-3f, "letterbox (0.5,0.25) -> (%g, %g)", x, y);
    img_letterbox_to_image(&lb, 1.0f, 0.75f, &x, &y);
    CHECK(fabsf(x - 200.0f) < 1e-3f && fabsf(y - 100.0f) < 1e-3f, "letterbox (1,0.75) -> (%g, %g)",
          x, y);
    free(px);
    /* tall image: padding left and right */
    uint8_t tall[30 * 60 * 3];
    memset(tall, 0, sizeof tall);
    v = img_view_rgb(tall, 30, 60);
    img_letterbox_f32(&v, out, 64, 64, &nm, &lb, EMO_ISA_AUTO);
    CHECK(fabsf(lb.scale - 64.0f / 60) < 1e-6f && fabsf(lb.pad_x - 16.0f) < 1e-4f &&
              fabsf(lb.pad_y) < 1e-6f,
          "tall letterbox %g %g %g", lb.scale, lb.pad_x, lb.pad_y);
  }
  /* identity warp reproduces the image (both borders, RGB), random 11x6 */
  {
    const int w = 11, h = 6;
    uint8_t px[11 * 6 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)th_randf(&st, 0, 256);
    img_view v = img_view_rgb(px, w, h);
    img_norm id = img_norm_uniform(1, 0);
    const float m[6] = {1, 0, 0, 0, 1, 0};
    float out[11 * 6 * 3];
    for (int b = 0; b < 2; b++) {
      img_warp_affine_f32(&v, m, out, w, h, 3, &id, (img_border)b);
      float worst = 0;
      for (size_t i = 0; i < sizeof px; i++) worst = fmaxf(worst, fabsf(out[i] - px[i]));
      CHECK(worst < 1e-4f, "identity warp border %d worst %g", b, worst);
    }
    /* strided view: the same pixels inside a wider buffer */
    uint8_t wide[6][40];
    for (int y = 0; y < h; y++) memcpy(wide[y], px + y * w * 3, (size_t)w * 3);
    img_view vs = {&wide[0][0], w, h, 40};
    img_warp_affine_f32(&vs, m, out, w, h, 3, &id, IMG_BORDER_ZERO);
    float worst = 0;
    for (size_t i = 0; i < sizeof px; i++) worst = fmaxf(worst, fabsf(out[i] - px[i]));
    CHECK(worst < 1e-4f, "strided identity warp worst %g", worst);
    /* zero border: shifting by half the image leaves zeros on the right */
    const float sh[6] = {1, 0, 6, 0, 1, 0};
    img_warp_affine_f32(&v, sh, out, w, h, 3, &id, IMG_BORDER_ZERO);
    CHECK(
        out[(2 * w + 10) * 3] == 0.0f && fabsf(out[(2 * w + 0) * 3] - px[(2 * w + 6) * 3]) < 1e-4f,
        "shifted warp");
    img_warp_affine_f32(&v, sh, out, w, h, 3, &id, IMG_BORDER_REPLICATE);
    CHECK(fabsf(out[(2 * w + 10) * 3] - px[(2 * w + 10) * 3]) < 1e-4f, "replicate border");
  }
  /* rotation by 90 degrees around the centre of a 5x5 image: dst(j, i) = src(4 - i, j) */
  {
    uint8_t px[5 * 5 * 3];
    for (int i = 0; i < 25; i++)
      px[3 * i] = (uint8_t)(i * 10), px[3 * i + 1] = 7, px[3 * i + 2] = (uint8_t)(250 - i);
    img_view v = img_view_rgb(px, 5, 5);
    float m[6];
    img_affine_rotated_square(m, 2.5f, 2.5f, (float)(M_PI / 2), 5.0f, 5);
    float out[5 * 5 * 3];
    img_norm id = img_norm_uniform(1, 0);
    img_warp_affine_f32(&v, m, out, 5, 5, 3, &id, IMG_BORDER_ZERO);
    float worst = 0;
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 5; j++)
        for (int c = 0; c < 3; c++)
          worst = fmaxf(worst, fabsf(out[(i * 5 + j) * 3 + c] - px[(j * 5 + (4 - i)) * 3 + c]));
    CHECK(worst < 1e-3f, "90-degree rotation worst %g", worst);
    /* a known pixel: source (x=4, y=0) ends up at dst (0, 0) */
    CHECK(fabsf(out[0] - px[4 * 3]) < 1e-3f, "rotated corner %g vs %d", out[0], px[12]);
    /* the inverse maps crop coordinates back: crop centre -> image centre */
    float inv[6], x, y;
    CHECK(img_affine_invert(m, inv) == EMO_OK, "invert");
    img_affine_apply(m, 2.5f, 2.5f, &x, &y);
    CHECK(fabsf(x - 2.5f) < 1e-5f && fabsf(y - 2.5f) < 1e-5f, "crop centre -> (%g, %g)", x, y);
    img_affine_apply(m, 0.5f, 0.5f, &x, &y); /* dst pixel (0,0) centre -> src pixel (4,0) centre */
    CHECK(fabsf(x - 4.5f) < 1e-5f && fabsf(y - 0.5f) < 1e-5f, "corner -> (%g, %g)", x, y);
    float u, w2;
    img_affine_apply(inv, x, y, &u, &w2);
    CHECK(fabsf(u - 0.5f) < 1e-5f && fabsf(w2 - 0.5f) < 1e-5f, "inverse -> (%g, %g)", u, w2);
    /* angle 0, side 2, n 4 around (2.5, 2.5): 2x upscale of pixels 1.5..3.5 */
    img_affine_rotated_square(m, 2.5f, 2.5f, 0.0f, 2.0f, 4);
    CHECK(fabsf(m[0] - 0.5f) < 1e-6f && fabsf(m[1]) < 1e-6f && fabsf(m[2] - 1.5f) < 1e-6f &&
              fabsf(m[5] - 1.5f) < 1e-6f,
          "axis-aligned crop matrix");
  }
  /* grayscale: (100, 150, 200) -> 0.2989*100 + 0.587*150 + 0.114*200 = 140.74 (TF.js) */
  {
    uint8_t px[2 * 2 * 3];
    for (int i = 0; i < 4; i++) px[3 * i] = 100, px[3 * i + 1] = 150, px[3 * i + 2] = 200;
    img_view v = img_view_rgb(px, 2, 2);
    img_norm nm = img_norm_uniform(1, 0);
    const float m[6] = {1, 0, 0, 0, 1, 0};
    float out[4];
    img_warp_affine_f32(&v, m, out, 2, 2, 1, &nm, IMG_BORDER_REPLICATE);
    CHECK(fabsf(out[3] - 140.74f) < 1e-3f, "tfjs gray %g", out[3]);
    memcpy(nm.gray, img_gray_bt601, sizeof nm.gray);
    img_warp_affine_f32(&v, m, out, 2, 2, 1, &nm, IMG_BORDER_REPLICATE);
    CHECK(fabsf(out[0] - 140.75f) < 1e-3f, "bt601 gray %g", out[0]);
    /* FER-style normalisation: gray/255, then (g - 0.5) * 2 */
    nm = img_norm_uniform(2.0f / 255.0f, -1.0f);
    img_warp_affine_f32(&v, m, out, 2, 2, 1, &nm, IMG_BORDER_REPLICATE);
    CHECK(fabsf(out[1] - (140.74f / 255.0f - 0.5f) * 2.0f) < 1e-5f, "fer norm %g", out[1]);
  }
  /* per-channel normalisation */
  {
    uint8_t px[3] = {10, 20, 30};
    img_view v = img_view_rgb(px, 1, 1);
    img_norm nm = {{1, 2, 3}, {-1, -2, -3}, {0, 0, 0}};
    float out[4 * 3];
    img_resize_bilinear_f32(&v, 0, 0, 1, 1, IMG_SAMPLE_HALF_PIXEL, out, 2, 2, &nm);
    CHECK(out[9] == 9.0f && out[10] == 38.0f && out[11] == 87.0f, "per-channel %g %g %g", out[9],
          out[10], out[11]);
  }
  /* resize == warp with a scale-only matrix and replicate border (half-pixel mode), random
   * images of awkward sizes */
  {
    const int sz[][4] = {
        {1, 1, 7, 13}, {13, 7, 1, 1}, {127, 3, 64, 64}, {37, 41, 128, 128}, {300, 200, 13, 127}};
    float worst = 0;
    for (size_t k = 0; k < sizeof sz / sizeof sz[0]; k++) {
      int w = sz[k][0], h = sz[k][1], dw = sz[k][2], dh = sz[k][3];
      uint8_t *px = malloc((size_t)w * h * 3);
      for (size_t i = 0; i < (size_t)w * h * 3; i++) px[i] = (uint8_t)th_randf(&st, 0, 256);
      img_view v = img_view_rgb(px, w, h);
      float *a = malloc(sizeof(float) * dw * dh * 3), *b = malloc(sizeof(float) * dw * dh * 3);
      img_norm nm = img_norm_range(-1, 1);
      img_resize_bilinear_f32(&v, 0, 0, w, h, IMG_SAMPLE_HALF_PIXEL, a, dw, dh, &nm);
      const float m[6] = {(float)w / dw, 0, 0, 0, (float)h / dh, 0};
      img_warp_affine_f32(&v, m, b, dw, dh, 3, &nm, IMG_BORDER_REPLICATE);
      for (int i = 0; i < dw * dh * 3; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
      free(a), free(b), free(px);
    }
    CHECK(worst < 1e-4f, "resize vs scale warp worst %g", worst);
  }
}

/* The vector warps against the plain C reference: the gray one (FER crops: gray, replicate
 * border) and the RGB one (face-landmark crops: RGB, zero border; face-api crops: RGB,
 * replicate border), bit-identical on random images
 * of awkward sizes (1 to 127 px, padded strides, images of under 4 bytes that the gray fast path
 * must leave to the reference), random rotations, scales and shifts that reach far outside the
 * image, the last pixel of the buffer (the buffers have no slack: ASan sees a byte read past it),
 * and NaN matrices. Gray with a zero border runs the reference under every cap; it is compared
 * too. */
static void test_warp_simd_matches_reference(emo_isa cap) {
  static const struct {
    int channels;
    img_border border;
    const char *name;
  } kinds[] = {{1, IMG_BORDER_REPLICATE, "gray replicate"},
               {3, IMG_BORDER_ZERO, "RGB zero"},
               {1, IMG_BORDER_ZERO, "gray zero"},
               {3, IMG_BORDER_REPLICATE, "RGB replicate"}};
  for (size_t kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
    const int ch = kinds[kd].channels;
    const img_border border = kinds[kd].border;
    unsigned st = 4242;
    const int sz[][2] = {{1, 1}, {2, 1}, {1, 7}, {7, 1}, {13, 7}, {64, 48}, {127, 3}, {200, 120}};
    int compared = 0, mismatched = 0;
    float worst = 0;
    for (size_t k = 0; k < sizeof sz / sizeof sz[0]; k++) {
      const int w = sz[k][0], h = sz[k][1];
      for (int pad = 0; pad < 2; pad++) {
        const ptrdiff_t stride = (ptrdiff_t)w * 3 + pad * 5;
        const size_t bytes = (size_t)stride * (size_t)(h - 1) + (size_t)w * 3; /* no slack */
        uint8_t *px = malloc(bytes);
        for (size_t i = 0; i < bytes; i++) px[i] = (uint8_t)th_randf(&st, 0, 256);
        img_view v = {px, w, h, stride};
        for (int trial = 0; trial < 12; trial++) {
          const int dw = 1 + (int)th_randf(&st, 0, 70), dh = 1 + (int)th_randf(&st, 0, 9);
          float m[6];
          const float side = th_randf(&st, 0.2f, 2.5f) * (float)(w > h ? w : h);
          img_affine_rotated_square(m, th_randf(&st, -0.5f, 1.5f) * (float)w,
                                    th_randf(&st, -0.5f, 1.5f) * (float)h,
                                    th_randf(&st, -3.2f, 3.2f), side, dw);
          if (trial == 0) { /* the crop that ends exactly on the buffer's last pixel */
            const float id[6] = {1, 0, (float)w - (float)dw, 0, 1, (float)(h - 1) - (float)dh + 1};
            memcpy(m, id, sizeof m);
          }
          if (trial == 1) m[2] = NAN;
          if (trial == 2) { /* a shift of a fraction of a pixel: most taps inside */
            const float id[6] = {1, 0, 0.37f, 0, 1, 0.61f};
            memcpy(m, id, sizeof m);
          }
          img_norm nm = img_norm_uniform(2.0f / 255.0f, -1.0f);
          nm.scale[1] = 1.0f / 255.0f; /* per-channel normalisation, for the RGB kinds */
          nm.offset[2] = 0.25f;
          const size_t n = (size_t)dw * dh * ch;
          float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
          int ra = img_warp_affine_f32_ref(&v, m, a, dw, dh, ch, &nm, border);
          int rb = img_warp_affine_f32_isa(&v, m, b, dw, dh, ch, &nm, border, cap);
          compared++;
          if (ra != EMO_OK || rb != EMO_OK || memcmp(a, b, sizeof(float) * n) != 0) {
            mismatched++;
            for (size_t i = 0; i < n; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
          }
          free(a);
          free(b);
        }
        free(px);
      }
    }
    printf("%s warp, %s path vs reference: %d cases, %d differ (worst %g)\n", kinds[kd].name,
           emo_isa_name(emo_isa_pick(cap)), compared, mismatched, worst);
    CHECK(mismatched == 0, "%s warp differs from the reference in %d of %d cases", kinds[kd].name,
          mismatched, compared);
  }
}

/* The letterbox's maps (RGB, zero border, no rotation or shear) through the RGB zero-border path
 * under cap (the same path as the rotated crops above) against the plain per-pixel reference:
 * bit-identical on random images of awkward sizes with padded strides, down- and up-scales,
 * shifts that put the image partly or wholly outside the output (the zero border and the pixels
 * with some taps outside), wide outputs, negative zero and NaN entries, and real letterboxes. */
static void test_warp_axis_matches_reference(emo_isa cap) {
  unsigned st = 777;
  const int sz[][2] = {{1, 1}, {2, 1}, {1, 7}, {13, 7}, {64, 48}, {127, 3}, {301, 200}};
  int compared = 0, mismatched = 0;
  for (size_t k = 0; k < sizeof sz / sizeof sz[0]; k++) {
    const int w = sz[k][0], h = sz[k][1];
    for (int pad = 0; pad < 2; pad++) {
      const ptrdiff_t stride = (ptrdiff_t)w * 3 + pad * 7;
      const size_t bytes = (size_t)stride * (size_t)(h - 1) + (size_t)w * 3; /* no slack */
      uint8_t *px = malloc(bytes);
      for (size_t i = 0; i < bytes; i++) px[i] = (uint8_t)th_randf(&st, 0, 256);
      img_view v = {px, w, h, stride};
      for (int trial = 0; trial < 10; trial++) {
        const int dw = 1 + (int)th_randf(&st, 0, trial == 2 ? 600 : 90);
        const int dh = 1 + (int)th_randf(&st, 0, 12);
        const float sx = th_randf(&st, 0.05f, 4.0f), sy = th_randf(&st, 0.05f, 4.0f);
        float m[6] = {sx, 0,  th_randf(&st, -1.2f, 1.2f) * (float)w,
                      0,  sy, th_randf(&st, -1.2f, 1.2f) * (float)h};
        if (trial == 3) m[1] = -0.0f, m[3] = -0.0f;
        if (trial == 4) m[5] = NAN;
        if (trial == 5) m[2] = NAN;
        img_norm nm = img_norm_range(-1.0f, 1.0f);
        const size_t n = (size_t)dw * (size_t)dh * 3;
        float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
        int ra = img_warp_affine_f32_ref(&v, m, a, dw, dh, 3, &nm, IMG_BORDER_ZERO);
        int rb = img_warp_affine_f32_isa(&v, m, b, dw, dh, 3, &nm, IMG_BORDER_ZERO, cap);
        compared++;
        if (ra != EMO_OK || rb != EMO_OK || memcmp(a, b, sizeof(float) * n) != 0) mismatched++;
        if (trial == 0) { /* the letterbox itself, which takes this path, against the map */
          img_letterbox lb;
          const int S = 1 + (int)th_randf(&st, 0, 200);
          float *c = malloc(sizeof(float) * (size_t)S * S * 3),
                *d = malloc(sizeof(float) * (size_t)S * S * 3);
          img_letterbox_f32(&v, c, S, S, &nm, &lb, cap);
          const float inv = 1.0f / lb.scale;
          const float lm[6] = {inv, 0.0f, -lb.pad_x * inv, 0.0f, inv, -lb.pad_y * inv};
          img_warp_affine_f32_ref(&v, lm, d, S, S, 3, &nm, IMG_BORDER_ZERO);
          compared++;
          if (memcmp(c, d, sizeof(float) * (size_t)S * S * 3) != 0) mismatched++;
          free(c);
          free(d);
        }
        free(a);
        free(b);
      }
      free(px);
    }
  }
  printf("RGB zero-border axis-aligned warp, %s path vs reference: %d cases, %d differ\n",
         emo_isa_name(emo_isa_pick(cap)), compared, mismatched);
  CHECK(mismatched == 0, "axis-aligned RGB warp differs from the reference in %d of %d cases",
        mismatched, compared);
}

int main(int argc, char **argv) {
  const emo_isa cap = (emo_isa)th_isa_arg(argc, argv);
  test_ops();
  test_warp_simd_matches_reference(cap);
  test_warp_axis_matches_reference(cap);
  test_bad_inputs();
  test_png();
  test_webp();
  test_jpeg_synthetic();
  test_real_photos();
  return th_finish("test_image");
}
