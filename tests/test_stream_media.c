/* test_stream_media.c: a live caller's stream with its sound (emo_stream_begin_media,
 * emo_stream_push, emo_stream_push_audio, emo_stream_end_media). A real split-screen interview
 * from ../shared/data/av is decoded here, its frames by emo's own decoder (media/video_decode.h,
 * as emo_analyze_media reads them) and its sound by the ffmpeg program (float32 at the file's own
 * rate and channel count), and pushed interleaved in time (about 40 ms of sound per frame, in
 * uneven blocks). The records must equal emo_analyze_media's on the file: every segment line
 * (speaker, emotion, person, track), every person and turn line, the summary's tracks. Frames:
 * the file's reader gives the tracker its own luma for optical flow, a pushed frame's is made
 * from its RGB, so frame lines are compared by count and scored faces only. Skipped with the
 * reason without ../shared/data, the models or ffmpeg. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"
#include "lines.h"
#include "media/video_decode.h"
#include "pipeline/internal.h"

static int add_owned(th_lines *l, char *s) {
  int r = s ? th_lines_add(s, strlen(s), l) : 1;
  emo_free(s);
  return r;
}

static int on_frame(const emo_frame_result *f, void *user) {
  return f->frame >= 0 ? add_owned(user, emo_frame_json(f)) : 0;
}
static int on_segment(const emo_speech_segment *s, void *user) {
  return add_owned(user, emo_segment_json(s));
}
static int on_person(const emo_person *p, void *user) {
  return add_owned(user, emo_person_json(p));
}

/* The turns and the summary's tracks as lines, after the rest. */
static void add_summary(th_lines *l, const emo_media_summary *sum) {
  for (int i = 0; sum && i < sum->turn_count; i++) add_owned(l, emo_turn_json(&sum->turns[i]));
}

/* Pushes the clip's frames and its sound (pcm: n samples of ch channels at rate Hz). */
static int push_stream(emo_context *ctx, const char *clip, const float *pcm, long n, int ch,
                       int rate, int luma, th_lines *out) {
  const emo_media_callbacks cb = {on_frame, on_segment, out, on_person, NULL};
  emo_run_params rp = emo_run_params_default();
  int rc = emo_stream_begin_media(ctx, &rp, &cb);
  if (rc != EMO_OK) return rc;
  vid_reader *r = NULL;
  emoi_err err = {{0}};
  rc = vid_open(clip, NULL, rp.max_pixels, rp.analysis_fps, 1, luma ? 640 : 0, &r, &err);
  if (rc != EMO_OK) return rc;
  vid_frame vf;
  long sent = 0;
  int k = 0;
  while (rc == EMO_OK && vid_read(r, &vf, &err) == 1) {
    long until = (long)((vf.t + 0.04) * rate); /* the sound up to the frame's end */
    while (rc == EMO_OK && sent < until && sent < n) {
      long b = 300 + 517 * (k++ % 5); /* uneven blocks */
      if (b > until - sent) b = until - sent;
      if (b > n - sent) b = n - sent;
      rc = emo_stream_push_audio(ctx, pcm + sent * ch, (int)b, ch, rate);
      sent += b;
    }
    const emo_frame_result *fr = NULL;
    const frame_pre g = {
        .data = vf.gray, .w = vf.gray_w, .h = vf.gray_h, .k = vf.gray_k, .stride = vf.gray_stride};
    if (rc == EMO_OK && luma) /* the file reader's luma for optical flow, as the file gets it */
      rc = emoi_stream_push_gray(ctx, vf.rgb, vf.width, vf.height, (int)vf.stride, vf.t, &g, &fr);
    else if (rc == EMO_OK)
      rc = emo_stream_push(ctx, vf.rgb, vf.width, vf.height, (int)vf.stride, vf.t, &fr);
  }
  vid_close(&r);
  if (rc == EMO_OK && sent < n)
    rc = emo_stream_push_audio(ctx, pcm + sent * ch, (int)(n - sent), ch, rate);
  const emo_media_summary *sum = NULL;
  int rc2 = emo_stream_end_media(ctx, &sum);
  if (rc == EMO_OK) rc = rc2;
  CHECK(sum && sum->audio && sum->video, "stream summary with its soundtrack");
  add_summary(out, sum);
  return rc;
}

static float *read_pcm(const char *path, long *n, int ch) {
  FILE *f = fopen(path, "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) return NULL;
  long bytes = ftell(f);
  rewind(f);
  float *x = malloc((size_t)bytes + 4);
  if (x && fread(x, 1, (size_t)bytes, f) != (size_t)bytes) {
    free(x);
    x = NULL;
  }
  fclose(f);
  *n = bytes / (long)(sizeof(float) * (size_t)ch);
  return x;
}

/* The file by emo_analyze_media, then pushed twice: with the decoder's luma (every line must be
 * the same) and through the public emo_stream_push alone (segments and turns the same, persons
 * too up to the faces' expressions: optical flow on luma made from RGB moves boxes a little). */
static void compare(emo_context *ctx, const char *clip, const char *raw, int ch, int rate) {
  th_lines f = {0};
  int rc1 = emo_analyze_media_lines(ctx, NULL, clip, th_lines_add, &f);
  CHECK(rc1 == EMO_OK, "file: %d", rc1);
  long n = 0;
  float *pcm = read_pcm(raw, &n, ch);
  CHECK(pcm && n > rate, "decoded sound: %ld samples", n);
  if (!pcm) return;
  static const char *types[] = {"\"type\":\"segment\"", "\"type\":\"turn\"", "\"type\":\"person\"",
                                "\"type\":\"frame\""};
  static const char *names[] = {"segments", "turns", "persons", "frames"};
  for (int luma = 1; luma >= 0; luma--) {
    th_lines s = {0};
    const char *how = luma ? "pushed with the decoder's luma" : "pushed (emo_stream_push)";
    int rc2 = push_stream(ctx, clip, pcm, n, ch, rate, luma, &s);
    CHECK(rc2 == EMO_OK, "%s: %d (%s)", how, rc2, emo_context_last_error(ctx));
    for (int k = 0; k < 4; k++) {
      char *a = th_lines_of_type(&f, types[k]), *b = th_lines_of_type(&s, types[k]);
      int na = a ? th_count(a, "\n") : -1, nb = b ? th_count(b, "\n") : -1;
      int same = a && b && strcmp(a, b) == 0;
      if (luma || k < 2)
        CHECK(same && na >= 1, "%s: the %s equal the file's (%d, %d lines)", how, names[k], na, nb);
      else
        CHECK(na == nb, "%s: as many %s as the file's (%d, %d)", how, names[k], na, nb);
      if (k == 3)
        CHECK(b && th_count(b, "\"speaking\":0.") + th_count(b, "\"speaking\":1") > 0,
              "%s: the frames carry speaking scores", how);
      printf("%s: %s file %d, stream %d lines, identical: %s\n", how, names[k], na, nb,
             same ? "yes" : "no");
      if (a && b && !same) {
        size_t i = 0;
        while (a[i] && a[i] == b[i]) i++;
        size_t st = i > 120 ? i - 120 : 0;
        printf("  file:   %.240s\n  stream: %.240s\n", a + st, b + st);
      }
      free(a);
      free(b);
    }
    th_lines_free(&s);
  }
  free(pcm);
  th_lines_free(&f);
}

int main(void) {
  const char *av = th_data("av");
  if (!av || access(av, R_OK) != 0) th_skip("../shared/data/av is absent");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  if (system("ffmpeg -version >/dev/null 2>&1") != 0) th_skip("no ffmpeg to decode the sound");
  char src[800], dir[] = "/tmp/emo_stream_XXXXXX", cmd[8192], raw[600], info[600];
  snprintf(src, sizeof src, "%s/split_screen/debate_interview4.mp4", av);
  if (access(src, R_OK) != 0) th_skip("%s is absent", src);
  CHECK(mkdtemp(dir) != NULL, "temporary folder");
  snprintf(raw, sizeof raw, "%s/sound.f32", dir);
  snprintf(info, sizeof info, "%s/sound.txt", dir);
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate,channels "
           "-of csv=p=0 '%s' > '%s' && ffmpeg -v error -i '%s' -vn -f f32le -c:a pcm_f32le '%s'",
           src, info, src, raw);
  CHECK(system(cmd) == 0, "decode the sound with ffmpeg");
  int rate = 0, ch = 0;
  FILE *fi = fopen(info, "r");
  CHECK(fi && fscanf(fi, "%d,%d", &rate, &ch) == 2 && rate > 0 && ch > 0, "sound: %d Hz, %d ch",
        rate, ch);
  if (fi) fclose(fi);
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(NULL, &model) == EMO_OK, "model");
  CHECK(model && emo_context_create(model, NULL, &ctx) == EMO_OK, "context");
  if (ctx && rate > 0 && ch > 0) {
    compare(ctx, src, raw, ch, rate);
    /* a stream that is not media: push_audio refuses, emo_stream_end_media too */
    CHECK(emo_stream_begin(ctx, NULL) == EMO_OK, "plain stream");
    float z[16] = {0};
    CHECK(emo_stream_push_audio(ctx, z, 16, 1, 16000) == EMO_EINVAL, "push_audio needs media");
    CHECK(emo_stream_end_media(ctx, NULL) == EMO_EINVAL, "end_media needs media");
    /* a media stream left open is ended by the context's destruction (ASan: nothing leaks) */
    CHECK(emo_stream_begin_media(ctx, NULL, NULL) == EMO_OK, "media stream");
    CHECK(emo_stream_push_audio(ctx, z, 16, 1, 16000) == EMO_OK, "push_audio");
    CHECK(emo_stream_push_audio(ctx, z, 16, 0, 16000) == EMO_EINVAL, "0 channels refused");
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
  return th_finish("test_stream_media");
}
