/* test_video_decode.c: the video reader (media/video_decode.h), writer (media/video_encode.h)
 * and frame annotation (output/annotate.h). Real videos come from ../shared/data/video (the
 * test is skipped without them); damaged copies, round-trip files and a rotated clip
 * (fuzz/corpus/video) exercise the error and rotation paths; media_io.frame_tap sees every
 * delivered frame, in its slot, before vid_read hands it over, threaded or not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "media/media_io.h"
#include "media/video_decode.h"
#include "media/video_encode.h"
#include "output/annotate.h"

#define BIG ((int64_t)100000000)

typedef struct read_result {
  int open_rc, end_rc, n;
  double first_t, last_t, max_dt;
  int monotonic, consecutive_index;
  vid_info info;
  char msg[512];
  double t[512];
  unsigned long long checksum;
} read_result;

static void read_all(const char *path, int64_t max_pixels, double fps, int threaded,
                     read_result *rr) {
  memset(rr, 0, sizeof *rr);
  rr->monotonic = rr->consecutive_index = 1;
  vid_reader *r = NULL;
  emoi_err e = {{0}};
  rr->open_rc = vid_open(path, NULL, max_pixels, fps, threaded, 0, &r, &e);
  if (rr->open_rc != EMO_OK) {
    snprintf(rr->msg, sizeof rr->msg, "%s", e.msg);
    return;
  }
  vid_get_info(r, &rr->info);
  vid_frame f;
  int rc;
  int64_t prev_index = -1;
  while ((rc = vid_read(r, &f, &e)) == 1) {
    if (rr->n < 512) rr->t[rr->n] = f.t;
    if (rr->n == 0)
      rr->first_t = f.t;
    else {
      if (f.t < rr->last_t) rr->monotonic = 0;
      if (f.t - rr->last_t > rr->max_dt) rr->max_dt = f.t - rr->last_t;
    }
    if (fps == 0 && f.index != prev_index + 1) rr->consecutive_index = 0;
    prev_index = f.index;
    rr->last_t = f.t;
    for (int y = 0; y < f.height; y += 7)
      for (int x = 0; x < f.width * 3; x += 5)
        rr->checksum = rr->checksum * 31 + f.rgb[(ptrdiff_t)y * f.stride + x];
    rr->n++;
  }
  rr->end_rc = rc;
  if (rc < 0) snprintf(rr->msg, sizeof rr->msg, "%s", e.msg);
  CHECK(vid_read(r, &f, &e) == 0, "a read after the end returns 0");
  vid_close(&r);
  CHECK(r == NULL, "vid_close sets NULL");
}

static int copy_file(const char *src, const char *dst, size_t keep, size_t garbage_at,
                     size_t garbage_len) {
  size_t n = 0;
  unsigned char *d = th_read_file(src, &n);
  if (!d) return -1;
  if (keep && keep < n) n = keep;
  unsigned st = 12345;
  for (size_t i = garbage_at; garbage_len && i < garbage_at + garbage_len && i < n; i++)
    d[i] = (unsigned char)(th_randf(&st, 0, 256));
  FILE *f = fopen(dst, "wb");
  if (!f) {
    free(d);
    return -1;
  }
  size_t w = fwrite(d, 1, n, f);
  fclose(f);
  free(d);
  return w == n ? (int)0 : -1;
}

static size_t file_size(const char *p) {
  size_t n = 0;
  unsigned char *d = th_read_file(p, &n);
  free(d);
  return d ? n : 0;
}

static void test_real_files(void) {
  read_result *rr = malloc(sizeof *rr), *rt = malloc(sizeof *rt);
  const char *p = th_data("video/single_face.mp4");
  char sf[512];
  snprintf(sf, sizeof sf, "%s", p);

  read_all(sf, BIG, 0, 0, rr);
  CHECK(rr->open_rc == EMO_OK, "open single_face: %s", rr->msg);
  CHECK(rr->info.width == 640 && rr->info.height == 360, "size %dx%d", rr->info.width,
        rr->info.height);
  CHECK(fabs(rr->info.fps - 30) < 0.01, "fps %f", rr->info.fps);
  CHECK(fabs(rr->info.duration - 2.4) < 0.01, "duration %f", rr->info.duration);
  CHECK(rr->info.has_audio == 1 && rr->info.rotation == 0, "audio %d rotation %d",
        rr->info.has_audio, rr->info.rotation);
  CHECK(strcmp(rr->info.codec, "h264") == 0, "codec %s", rr->info.codec);
  CHECK(rr->n == 72, "72 frames, got %d", rr->n);
  CHECK(rr->end_rc == 0, "clean end, got %d %s", rr->end_rc, rr->msg);
  CHECK(rr->monotonic && rr->consecutive_index, "monotonic t and consecutive indices");
  CHECK(fabs(rr->first_t) < 1e-9, "first t %f", rr->first_t);
  CHECK(fabs(rr->last_t - 71.0 / 30) < 1e-3, "last t %f (duration 2.4)", rr->last_t);
  CHECK(fabs(rr->max_dt - 1.0 / 30) < 1e-3, "frame spacing %f", rr->max_dt);

  /* Threaded decoding gives the very same frames. */
  read_all(sf, BIG, 0, 1, rt);
  CHECK(rt->n == 72 && rt->end_rc == 0, "threaded: %d frames rc %d", rt->n, rt->end_rc);
  CHECK(rt->checksum == rr->checksum, "threaded pixels equal inline pixels");
  CHECK(memcmp(rt->t, rr->t, 72 * sizeof(double)) == 0, "threaded t equal inline t");

  /* analysis_fps = 5: one frame per 0.2 s of media time. */
  read_all(sf, BIG, 5, 0, rr);
  CHECK(rr->n == 12, "5 fps over 2.4 s: 12 frames, got %d", rr->n);
  for (int i = 0; i < rr->n && i < 12; i++)
    CHECK(fabs(rr->t[i] - 0.2 * i) < 0.5 / 30, "sample %d at %f", i, rr->t[i]);
  read_all(sf, BIG, 5, 1, rt);
  CHECK(rt->n == 12, "threaded 5 fps: %d", rt->n);

  /* max_pixels from the header. */
  read_all(sf, 640 * 360 - 1, 0, 0, rr);
  CHECK(rr->open_rc == EMO_ELIMIT, "max_pixels: %d %s", rr->open_rc, rr->msg);
  read_all(sf, 640 * 360, 0, 0, rr);
  CHECK(rr->open_rc == EMO_OK && rr->n == 72, "exactly max_pixels is fine");

  /* From memory. */
  size_t n = 0;
  unsigned char *bytes = th_read_file(sf, &n);
  vid_reader *r = NULL;
  emoi_err e = {{0}};
  int rc = vid_open_memory(bytes, n, BIG, 0, &r, &e);
  CHECK(rc == EMO_OK, "open memory: %s", e.msg);
  int frames = 0;
  vid_frame f;
  while (r && (rc = vid_read(r, &f, &e)) == 1) frames++;
  CHECK(frames == 72 && rc == 0, "memory: %d frames rc %d", frames, rc);
  vid_close(&r);
  free(bytes);

  p = th_data("video/no_face.mp4");
  read_all(p, BIG, 0, 1, rr);
  CHECK(rr->open_rc == EMO_OK && rr->info.width == 960 && rr->info.height == 540,
        "no_face: %d %dx%d %s", rr->open_rc, rr->info.width, rr->info.height, rr->msg);
  CHECK(rr->n == 95 && rr->end_rc == 0 && rr->monotonic, "no_face: %d frames rc %d", rr->n,
        rr->end_rc);
  CHECK(fabs(rr->last_t - rr->info.duration) < 0.1, "no_face last t %f vs duration %f", rr->last_t,
        rr->info.duration);

  p = th_data("video/face_noface.mov");
  read_all(p, BIG, 0, 1, rr);
  CHECK(rr->open_rc == EMO_OK && strcmp(rr->info.codec, "hevc") == 0, "mov: %d %s %s", rr->open_rc,
        rr->info.codec, rr->msg);
  CHECK(rr->info.width == 960 && rr->info.height == 540 && rr->info.rotation == 0,
        "mov: %dx%d rot %d", rr->info.width, rr->info.height, rr->info.rotation);
  CHECK(rr->n == 169 && rr->end_rc == 0 && rr->monotonic, "mov: %d frames rc %d %s", rr->n,
        rr->end_rc, rr->msg);
  CHECK(fabs(rr->info.duration - 6.4) < 0.01 && fabs(rr->last_t - 6.36) < 0.05,
        "mov: duration %f last t %f", rr->info.duration, rr->last_t);
  read_all(p, BIG, 5, 0, rt);
  CHECK(rt->n >= 31 && rt->n <= 33, "mov at 5 fps: ~32 frames, got %d", rt->n);

  /* Damage. The original has its index at the end: cut in half, nothing can be opened. */
  char tmp[256];
  snprintf(tmp, sizeof tmp, "/tmp/emo_tvd_%d_cut.mp4", (int)getpid());
  size_t sz = file_size(sf);
  CHECK(copy_file(sf, tmp, sz / 2, 0, 0) == 0, "copy");
  read_all(tmp, BIG, 0, 0, rr);
  CHECK(rr->open_rc == EMO_EFORMAT && strstr(rr->msg, tmp), "cut mp4: %d %s", rr->open_rc, rr->msg);
  /* Garbage in the middle: an error at the end, and frames after the damage still come. */
  snprintf(tmp, sizeof tmp, "/tmp/emo_tvd_%d_garbage.mp4", (int)getpid());
  CHECK(copy_file(sf, tmp, 0, sz / 2, 3000) == 0, "copy");
  read_all(tmp, BIG, 0, 1, rr);
  CHECK(rr->open_rc == EMO_OK, "garbage: opens");
  CHECK(rr->n >= 60 && rr->last_t > 2.3, "garbage: frames after the damage: %d, last %f", rr->n,
        rr->last_t);
  CHECK(rr->end_rc == EMO_EFORMAT && strstr(rr->msg, "damaged"), "garbage: %d %s", rr->end_rc,
        rr->msg);
  unlink(tmp);
  snprintf(tmp, sizeof tmp, "/tmp/emo_tvd_%d_cut.mp4", (int)getpid());
  unlink(tmp);
  free(rr);
  free(rt);
}

/* Synthetic frame i: left half (40 + 6i, 200, 30), right half (20, 60, 220 - 5i). */
static void synth(uint8_t *rgb, int w, int h, ptrdiff_t stride, int i) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = rgb + (ptrdiff_t)y * stride + x * 3;
      if (x < w / 2) {
        p[0] = (uint8_t)(40 + 6 * i);
        p[1] = 200;
        p[2] = 30;
      } else {
        p[0] = 20;
        p[1] = 60;
        p[2] = (uint8_t)(220 - 5 * i);
      }
    }
}

static void test_round_trip(const char *audio) {
  char out[256];
  snprintf(out, sizeof out, "/tmp/emo_tvd_%d_rt.mp4", (int)getpid());
  const int W = 96, H = 64, N = 30;
  ptrdiff_t stride = W * 3 + 5;
  uint8_t *buf = malloc((size_t)stride * H);
  vid_writer *w = NULL;
  emoi_err e = {{0}};
  int rc = vidw_open(out, audio, NULL, W, H, 15.0, &w, &e);
  CHECK(rc == EMO_OK, "vidw_open: %s", e.msg);
  if (rc != EMO_OK) {
    free(buf);
    return;
  }
  CHECK(vidw_has_audio(w) == (audio != NULL), "audio copied");
  for (int i = 0; i < N; i++) {
    synth(buf, W, H, stride, i);
    rc = vidw_write(w, buf, stride, i / 15.0, &e);
    CHECK(rc == EMO_OK, "vidw_write %d: %s", i, e.msg);
  }
  rc = vidw_close(&w, &e);
  CHECK(rc == EMO_OK && w == NULL, "vidw_close: %s", e.msg);

  vid_reader *r = NULL;
  rc = vid_open(out, NULL, BIG, 0, 0, 0, &r, &e);
  CHECK(rc == EMO_OK, "reopen: %s", e.msg);
  if (rc != EMO_OK) {
    free(buf);
    return;
  }
  vid_info info;
  vid_get_info(r, &info);
  CHECK(info.width == W && info.height == H, "round trip size %dx%d", info.width, info.height);
  CHECK(info.has_audio == (audio != NULL), "has_audio %d", info.has_audio);
  CHECK(fabs(info.fps - 15) < 0.01, "fps %f", info.fps);
  vid_frame f;
  int n = 0;
  while ((rc = vid_read(r, &f, &e)) == 1) {
    CHECK(fabs(f.t - n / 15.0) < 1e-3, "frame %d at t %f", n, f.t);
    const uint8_t *l = f.rgb + (ptrdiff_t)(H / 2) * f.stride + (W / 4) * 3;
    const uint8_t *rr = f.rgb + (ptrdiff_t)(H / 2) * f.stride + (3 * W / 4) * 3;
    int ok = abs(l[0] - (40 + 6 * n)) <= 12 && abs(l[1] - 200) <= 12 && abs(l[2] - 30) <= 12 &&
             abs(rr[0] - 20) <= 12 && abs(rr[1] - 60) <= 12 && abs(rr[2] - (220 - 5 * n)) <= 12;
    CHECK(ok, "frame %d colours (%d,%d,%d) (%d,%d,%d)", n, l[0], l[1], l[2], rr[0], rr[1], rr[2]);
    n++;
  }
  CHECK(n == N && rc == 0, "read back %d frames, rc %d %s", n, rc, rc ? e.msg : "");
  vid_close(&r);

  /* Cut the (index-first) file in half: frames up to the cut, then a truncation error. */
  if (audio) {
    char cut[300];
    snprintf(cut, sizeof cut, "%s.cut.mp4", out);
    CHECK(copy_file(out, cut, file_size(out) / 2, 0, 0) == 0, "copy");
    read_result *res = malloc(sizeof *res);
    read_all(cut, BIG, 0, 0, res);
    CHECK(res->open_rc == EMO_OK, "cut round trip opens: %s", res->msg);
    CHECK(res->n > 3 && res->n < N, "frames before the cut: %d", res->n);
    CHECK(res->end_rc == EMO_EFORMAT && strstr(res->msg, "truncated"), "cut: %d %s", res->end_rc,
          res->msg);
    free(res);
    unlink(cut);
  }
  unlink(out);

  /* Odd sizes are encoded at the next even size. */
  rc = vidw_open(out, NULL, NULL, 33, 17, 25, &w, &e);
  CHECK(rc == EMO_OK, "odd open: %s", e.msg);
  for (int i = 0; rc == EMO_OK && i < 5; i++) {
    synth(buf, 33, 17, stride, i);
    CHECK(vidw_write(w, buf, stride, i * 0.04, &e) == EMO_OK, "odd write: %s", e.msg);
  }
  CHECK(vidw_close(&w, &e) == EMO_OK, "odd close: %s", e.msg);
  read_result *res = malloc(sizeof *res);
  read_all(out, BIG, 0, 0, res);
  CHECK(res->open_rc == EMO_OK && res->n == 5 && res->info.width == 34 && res->info.height == 18,
        "odd: %d frames %dx%d %s", res->n, res->info.width, res->info.height, res->msg);
  free(res);
  unlink(out);
  free(buf);
}

/* vid_frame.gray: the luma box-averaged by gray_k, full range, against the BT.601 luma of
 * the same frame's RGB. They differ by rounding, the colour conversion's clipping, and a
 * bias of libswscale's limited-range RGB: on this clip the RGB's luma is 1.33 levels below
 * (Y - 16) * 255 / 219 on average, as the ffmpeg command line's own RGB is. */
static void test_gray(const char *path) {
  vid_reader *r = NULL;
  emoi_err e = {{0}};
  CHECK(vid_open(path, NULL, BIG, 0, 1, 320, &r, &e) == EMO_OK, "open with gray: %s", e.msg);
  if (!r) return;
  vid_frame f;
  int n = 0;
  double sum = 0, worst = 0;
  long cnt = 0;
  while (vid_read(r, &f, &e) == 1 && n < 10) {
    n++;
    CHECK(f.gray != NULL, "frame %d has gray", n);
    if (!f.gray) break;
    CHECK(f.gray_k == 2 && f.gray_w == f.width / 2 && f.gray_h == f.height / 2 &&
              f.gray_stride >= f.gray_w,
          "gray geometry k %d %dx%d stride %td for %dx%d", f.gray_k, f.gray_w, f.gray_h,
          f.gray_stride, f.width, f.height);
    for (int y = 0; y < f.gray_h; y++)
      for (int x = 0; x < f.gray_w; x++) {
        double l = 0;
        for (int d = 0; d < 4; d++) {
          const uint8_t *p = f.rgb + (ptrdiff_t)(2 * y + d / 2) * f.stride + (2 * x + d % 2) * 3;
          l += 0.25 * (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
        }
        double dv = fabs(l - f.gray[(ptrdiff_t)y * f.gray_stride + x]);
        sum += dv;
        cnt++;
        if (dv > worst) worst = dv;
      }
  }
  vid_close(&r);
  double mean = cnt ? sum / (double)cnt : 1e9;
  printf("gray plane vs RGB luma over %d frames: mean |d| %.3f, worst %.1f (0..255)\n", n, mean,
         worst);
  CHECK(n == 10 && mean < 2.5 && worst < 12, "gray vs luma: mean %.3f worst %.1f", mean, worst);
  /* not asked for: none */
  CHECK(vid_open(path, NULL, BIG, 0, 0, 0, &r, &e) == EMO_OK, "open without gray: %s", e.msg);
  if (r && vid_read(r, &f, &e) == 1) CHECK(f.gray == NULL, "gray without asking");
  vid_close(&r);
  CHECK(vid_open(path, NULL, BIG, 0, 0, -1, &r, &e) == EMO_EINVAL, "gray_max_side -1");
}

static void test_errors_and_rotation(void) {
  char txt[256];
  snprintf(txt, sizeof txt, "/tmp/emo_tvd_%d.txt", (int)getpid());
  FILE *f = fopen(txt, "w");
  if (f) {
    fputs("This is a text file, not a video.\nSecond line.\n", f);
    fclose(f);
  }
  vid_reader *r = NULL;
  emoi_err e = {{0}};
  int rc = vid_open(txt, NULL, BIG, 0, 0, 0, &r, &e);
  CHECK(rc == EMO_EFORMAT && r == NULL, "text file: %d %s", rc, e.msg);
  unlink(txt);
  rc = vid_open("/nonexistent/emo.mp4", NULL, BIG, 0, 0, 0, &r, &e);
  CHECK(rc == EMO_EIO && strstr(e.msg, "/nonexistent/emo.mp4"), "missing: %d %s", rc, e.msg);
  CHECK(vid_open(NULL, NULL, BIG, 0, 0, 0, &r, &e) == EMO_EINVAL, "NULL url");
  CHECK(vid_open(txt, NULL, 0, 0, 0, 0, &r, &e) == EMO_EINVAL, "max_pixels 0");
  CHECK(vid_open_memory("abc", 3, BIG, 0, &r, &e) == EMO_EFORMAT, "3 bytes: %s", e.msg);

  /* A clip with a display matrix (rotate=90 tag written by ffmpeg 5.1, i.e. a
   * counter-clockwise 90 degree matrix) and the same clip without: the reader's frame must be
   * the plain frame turned by info.rotation degrees clockwise. */
  const char *dir = EMO_SOURCE_DIR "/fuzz/corpus/video/";
  char a[512], b[512];
  snprintf(a, sizeof a, "%splain.mp4", dir);
  snprintf(b, sizeof b, "%srot90.mp4", dir);
  vid_reader *ra = NULL, *rb = NULL;
  CHECK(vid_open(a, NULL, BIG, 0, 0, 0, &ra, &e) == EMO_OK, "plain: %s", e.msg);
  CHECK(vid_open(b, NULL, BIG, 0, 0, 0, &rb, &e) == EMO_OK, "rot90: %s", e.msg);
  if (!ra || !rb) {
    vid_close(&ra);
    vid_close(&rb);
    return;
  }
  vid_info ia, ib;
  vid_get_info(ra, &ia);
  vid_get_info(rb, &ib);
  CHECK(ia.rotation == 0 && ia.width == 64 && ia.height == 48, "plain %dx%d", ia.width, ia.height);
  CHECK(ib.rotation == 270 && ib.width == 48 && ib.height == 64, "rot90 %dx%d rotation %d",
        ib.width, ib.height, ib.rotation);
  vid_frame fa, fb;
  int worst = 0;
  if (vid_read(ra, &fa, &e) == 1 && vid_read(rb, &fb, &e) == 1 && ib.rotation == 270) {
    /* 270 clockwise: out(x, y) = in(W-1-y, x). */
    for (int y = 0; y < fb.height; y++)
      for (int x = 0; x < fb.width; x++)
        for (int c = 0; c < 3; c++) {
          int d = abs(fb.rgb[(ptrdiff_t)y * fb.stride + x * 3 + c] -
                      fa.rgb[(ptrdiff_t)x * fa.stride + (fa.width - 1 - y) * 3 + c]);
          if (d > worst) worst = d;
        }
    CHECK(worst == 0, "rotated pixels match, worst difference %d", worst);
    CHECK(fa.gray == NULL && fb.gray == NULL, "no gray plane when not asked for");
  } else {
    CHECK(0, "could not read the first frames");
  }
  vid_close(&ra);
  vid_close(&rb);
  /* gray asked for: the plain clip (64x48, under max_side 320: k = 1) has it, the rotated
   * one goes without (the caller falls back to its RGB) */
  CHECK(vid_open(a, NULL, BIG, 0, 0, 320, &ra, &e) == EMO_OK, "plain with gray: %s", e.msg);
  CHECK(vid_open(b, NULL, BIG, 0, 0, 320, &rb, &e) == EMO_OK, "rot90 with gray: %s", e.msg);
  if (ra && vid_read(ra, &fa, &e) == 1)
    CHECK(fa.gray && fa.gray_k == 1 && fa.gray_w == 64 && fa.gray_h == 48, "plain: gray k %d %dx%d",
          fa.gray_k, fa.gray_w, fa.gray_h);
  if (rb && vid_read(rb, &fb, &e) == 1) CHECK(fb.gray == NULL, "rotated stream has gray");
  vid_close(&ra);
  vid_close(&rb);
}

static void test_annotate(void) {
  enum { W = 40, H = 30, PAD = 64 };
  ptrdiff_t stride = W * 3 + 6;
  size_t size = (size_t)stride * H;
  uint8_t *mem = malloc(size + 2 * PAD);
  uint8_t *img = mem + PAD;
  memset(mem, 0xA5, size + 2 * PAD);
  memset(img, 0, size);
  const uint8_t red[3] = {255, 0, 0}, white[3] = {255, 255, 255}, blue[3] = {0, 0, 255};
  const float box[4] = {5, 6, 10, 8}; /* x 5..14, y 6..13 */
  ann_rect(img, W, H, stride, box, red, 2);
#define PX(x, y) (img + (ptrdiff_t)(y)*stride + (x)*3)
  CHECK(PX(5, 6)[0] == 255 && PX(6, 7)[0] == 255 && PX(14, 13)[0] == 255, "rect corners");
  CHECK(PX(9, 9)[0] == 0, "rect inside stays");
  CHECK(PX(4, 6)[0] == 0 && PX(15, 6)[0] == 0 && PX(5, 14)[0] == 0, "rect outside stays");
  CHECK(PX(7, 8)[0] == 0, "thickness 2 leaves (7, 8)");
  int count = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) count += PX(x, y)[0] == 255;
  CHECK(count == 10 * 8 - 6 * 4, "rect pixel count %d", count);
  /* Partly and fully outside, huge and non-finite boxes: clipped, no stray writes. */
  const float boxes[][4] = {{-10, -10, 25, 20}, {30, 20, 50, 50}, {-1e9f, -1e9f, 2e9f, 2e9f},
                            {1e30f, 0, 5, 5},   {NAN, 1, 2, 3},   {3, 3, INFINITY, 4},
                            {-5, 25, 60, 10}};
  for (size_t i = 0; i < sizeof boxes / sizeof *boxes; i++)
    ann_rect(img, W, H, stride, boxes[i], blue, 3);
  /* Box 0 spans x -10..14, y -10..9: its bottom edge (y 7..9) and right edge (x 12..14)
   * show; box 1's top-left corner is at (30, 20); box 6's top edge is y 25..27. */
  CHECK(PX(0, 8)[2] == 255 && PX(14, 9)[2] == 255 && PX(13, 0)[2] == 255,
        "clipped rect edges drawn");
  CHECK(PX(0, 0)[2] == 0 && PX(11, 6)[2] == 0, "clipped rect inside empty");
  CHECK(PX(30, 22)[2] == 255 && PX(39, 20)[2] == 255 && PX(33, 23)[2] == 0, "box 1 corner");
  CHECK(PX(0, 26)[2] == 255 && PX(39, 27)[2] == 255 && PX(20, 28)[2] == 0, "box 6 top edge");
  memset(img, 0, size);
  ann_text(img, W, H, stride, 2, 2, "A", white, NULL, 1);
  /* 'A' row 0 is .###. -> pixels x = 2+1+1..3, y = 2+1. */
  CHECK(PX(4, 3)[0] == 255 && PX(5, 3)[0] == 255 && PX(6, 3)[0] == 255, "A top bar");
  CHECK(PX(3, 3)[0] == 0 && PX(7, 3)[0] == 0, "A top corners empty");
  CHECK(PX(3, 6)[0] == 255 && PX(7, 6)[0] == 255 && PX(5, 6)[0] == 255, "A crossbar");
  memset(img, 0, size);
  ann_text(img, W, H, stride, 0, 0, " ", white, blue, 2);
  CHECK(PX(0, 0)[2] == 255 && PX(11, 17)[2] == 255 && PX(12, 0)[2] == 0 && PX(0, 18)[2] == 0,
        "background cell 12x18 at scale 2");
  int tw = 0, th = 0;
  ann_text_size("ab\ncde", 2, &tw, &th);
  CHECK(tw == 36 && th == 36, "text size %dx%d", tw, th);
  ann_text(img, W, H, stride, -7, -5, "Hello, world! \x01\xff~", white, blue, 3);
  ann_text(img, W, H, stride, W - 4, H - 3, "xyz\nabc", white, blue, 16);
  ann_text(img, W, H, stride, -2147483647, 2147483647, "overflow?", white, blue, 100);
  int stray = 0;
  for (int i = 0; i < PAD; i++) stray += mem[i] != 0xA5;
  for (size_t i = 0; i < PAD; i++) stray += mem[PAD + size + i] != 0xA5;
  /* Row padding bytes (beyond w*3) must stay untouched too. */
  memset(img, 0, size);
  for (int y = 0; y < H; y++) memset(img + (ptrdiff_t)y * stride + W * 3, 0x5A, 6);
  ann_rect(img, W, H, stride, boxes[1], red, 5);
  ann_text(img, W, H, stride, W - 6, 0, "WWWW", white, blue, 2);
  for (int y = 0; y < H; y++)
    for (int k = 0; k < 6; k++) stray += img[(ptrdiff_t)y * stride + W * 3 + k] != 0x5A;
  CHECK(stray == 0, "%d bytes written outside the image", stray);
  uint8_t c1[3], c2[3], c3[3];
  ann_color_for_id(1, c1);
  ann_color_for_id(2, c2);
  ann_color_for_id(3, c3);
  int d12 = abs(c1[0] - c2[0]) + abs(c1[1] - c2[1]) + abs(c1[2] - c2[2]);
  int d23 = abs(c2[0] - c3[0]) + abs(c2[1] - c3[1]) + abs(c2[2] - c3[2]);
  int d13 = abs(c1[0] - c3[0]) + abs(c1[1] - c3[1]) + abs(c1[2] - c3[2]);
  CHECK(d12 > 150 && d23 > 150 && d13 > 150, "distinct colours %d %d %d", d12, d23, d13);
#undef PX
  free(mem);
}

/* What frame_tap saw: per slot, the last frame's time, index and a checksum of its gray. */
typedef struct tap_seen {
  int calls, bad_slot;
  double t[VID_MAX_SLOTS];
  int64_t index[VID_MAX_SLOTS];
  unsigned sum[VID_MAX_SLOTS];
} tap_seen;

static unsigned gray_sum(const vid_frame *f) {
  unsigned h = 0;
  for (int y = 0; f->gray && y < f->gray_h; y++)
    for (int x = 0; x < f->gray_w; x++) h = h * 31u + f->gray[(ptrdiff_t)y * f->gray_stride + x];
  return h;
}

static void tap(const vid_frame *f, void *user) {
  tap_seen *s = user;
  s->calls++;
  if (f->slot < 0 || f->slot >= VID_MAX_SLOTS) {
    s->bad_slot++;
    return;
  }
  s->t[f->slot] = f->t;
  s->index[f->slot] = f->index;
  s->sum[f->slot] = gray_sum(f);
}

/* Every frame vid_read delivers went through the tap first, with the same slot, time, index and
 * pixels, on the decoding thread (threaded) or the caller's. */
static void test_frame_tap(const char *path, int threaded) {
  tap_seen seen = {0};
  media_io io = {0};
  io.frame_tap = tap;
  io.frame_tap_user = &seen;
  vid_reader *r = NULL;
  emoi_err e = {{0}};
  CHECK(vid_open(path, &io, BIG, 0, threaded, 320, &r, &e) == EMO_OK, "open with a tap: %s", e.msg);
  if (!r) return;
  vid_frame f;
  int n = 0, bad = 0;
  while (vid_read(r, &f, &e) == 1) {
    n++;
    if (f.slot < 0 || f.slot >= VID_MAX_SLOTS || seen.t[f.slot] != f.t ||
        seen.index[f.slot] != f.index || seen.sum[f.slot] != gray_sum(&f))
      bad++;
  }
  int calls = seen.calls;
  vid_close(&r);
  printf("frame_tap (threaded %d): %d frames read, %d tap calls, %d mismatches\n", threaded, n,
         calls, bad);
  CHECK(n > 10 && calls == n && bad == 0 && seen.bad_slot == 0,
        "frame_tap: %d frames, %d calls, %d mismatches, %d bad slots", n, calls, bad,
        seen.bad_slot);
}

int main(void) {
  test_annotate();
  test_errors_and_rotation();
  const char *p = th_data("video/single_face.mp4");
  if (!p) {
    test_round_trip(NULL);
    if (th_failures) return th_finish("test_video_decode");
    th_skip(
        "../shared/data/video absent: real-video checks skipped (annotate, rotation and "
        "round trip without audio ran)");
  }
  char audio[512];
  snprintf(audio, sizeof audio, "%s", p);
  test_round_trip(audio);
  test_round_trip(NULL);
  test_real_files();
  test_gray(audio);
  test_frame_tap(audio, 1);
  test_frame_tap(audio, 0);
  return th_finish("test_video_decode");
}
