/* test_cli_video.c: `emo video` as a user runs it, on a clip with speech: the soundtrack is
 * analysed on a thread of its own while the frames are (emo_analyze_media), and its speech
 * segments must land on the timeline exactly where emo.h's order puts them. The test writes a 4 s
 * clip (moving synthetic frames, the audio of a RAVDESS sentence from ../shared/data copied in),
 * then runs the CLI three ways and checks:
 *   - `emo video` holds every segment line of `emo audio` on the same file, identical, in order;
 *   - each segment line comes right after the frames before its end, before the first frame
 *     at or after its end;
 *   - without the segment lines, the output equals `emo video --no-voice` line for line.
 * Skips without the shared data, the models or the built CLI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "media/video_encode.h"

#define MAX_LINES 4096

typedef struct lines {
  char *buf;
  char *line[MAX_LINES];
  int n;
} lines;

static int read_lines(const char *path, lines *l) {
  size_t size = 0;
  l->n = 0;
  l->buf = (char *)th_read_file(path, &size);
  if (!l->buf) return -1;
  char *p = l->buf, *end = l->buf + size;
  while (p < end && l->n < MAX_LINES) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    *nl = 0;
    l->line[l->n++] = p;
    p = nl + 1;
  }
  return 0;
}

static int is_type(const char *line, const char *type) {
  char want[64];
  snprintf(want, sizeof want, "{\"type\":\"%s\"", type);
  return strncmp(line, want, strlen(want)) == 0;
}

/* The number after "key": in line (NAN when absent). */
static double number_after(const char *line, const char *key) {
  char want[64];
  snprintf(want, sizeof want, "\"%s\":", key);
  const char *p = strstr(line, want);
  return p ? strtod(p + strlen(want), NULL) : NAN;
}

static int run(const char *cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

/* A 4 s 320x240 clip at 15 fps, a bright square moving over a gradient, with audio's sound. */
static int write_clip(const char *path, const char *audio) {
  const int w = 320, h = 240;
  emoi_err err = {{0}};
  vid_writer *wr = NULL;
  if (vidw_open(path, audio, NULL, w, h, 15.0, &wr, &err) != EMO_OK) {
    fprintf(stderr, "vidw_open: %s\n", err.msg);
    return -1;
  }
  int ok = vidw_has_audio(wr);
  uint8_t *rgb = malloc((size_t)w * h * 3);
  for (int i = 0; ok && rgb && i < 60; i++) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        uint8_t *p = rgb + ((size_t)y * w + x) * 3;
        int in = x >= 20 + 3 * i && x < 80 + 3 * i && y >= 60 && y < 120;
        p[0] = (uint8_t)(in ? 240 : x / 2);
        p[1] = (uint8_t)(in ? 220 : y);
        p[2] = (uint8_t)(in ? 200 : 90);
      }
    if (vidw_write(wr, rgb, w * 3, i / 15.0, &err) != EMO_OK) ok = 0;
  }
  free(rgb);
  if (vidw_close(&wr, &err) != EMO_OK) ok = 0;
  return ok ? 0 : -1;
}

int main(void) {
  const char *speech = th_data("ser/ravdess/Actor_01/03-01-05-02-01-01-01.flac");
  if (!speech || access(speech, R_OK) != 0)
    th_skip("../shared/data/ser/ravdess is absent: no clip with speech to test with");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  const char *emo = EMO_BINARY_DIR "/emo";
  if (access(emo, X_OK) != 0) th_skip("the CLI is not built at %s", emo);
  char audio_src[512];
  snprintf(audio_src, sizeof audio_src, "%s", speech);

  char dir[] = "/tmp/emo_tcli_XXXXXX";
  if (!mkdtemp(dir)) th_skip("cannot create a temporary folder");
  char clip[600], a[600], b[600], c[600], cmd[4096];
  snprintf(clip, sizeof clip, "%s/speech.mkv", dir);
  snprintf(a, sizeof a, "%s/video.jsonl", dir);
  snprintf(b, sizeof b, "%s/novoice.jsonl", dir);
  snprintf(c, sizeof c, "%s/audio.jsonl", dir);
  CHECK(write_clip(clip, audio_src) == 0, "could not write %s with audio", clip);

  /* persons (on by default) add fields to frames and segments: test_persons checks them */
  snprintf(cmd, sizeof cmd, "'%s' video -q --no-persons -o '%s' '%s'", emo, a, clip);
  CHECK(run(cmd) == 0, "emo video");
  snprintf(cmd, sizeof cmd, "'%s' video -q --no-voice -o '%s' '%s'", emo, b, clip);
  CHECK(run(cmd) == 0, "emo video --no-voice");
  snprintf(cmd, sizeof cmd, "'%s' audio -q -o '%s' '%s'", emo, c, clip);
  CHECK(run(cmd) == 0, "emo audio");

  lines la = {0}, lb = {0}, lc = {0};
  CHECK(read_lines(a, &la) == 0 && read_lines(b, &lb) == 0 && read_lines(c, &lc) == 0,
        "outputs readable");
  /* Each output opens with its run record: what made it (models with their sha256, options) */
  CHECK(la.n > 0 && is_type(la.line[0], "run") && strstr(la.line[0], "\"kind\":\"video\"") &&
            strstr(la.line[0], "\"silero_vad_v5\":\"") && strstr(la.line[0], "\"soundtrack\":1") &&
            fabs(number_after(la.line[0], "duration") - 4.0) < 0.25,
        "emo video's run record (soundtrack, duration 4 s): %.300s", la.n ? la.line[0] : "");
  CHECK(lb.n > 0 && is_type(lb.line[0], "run") && !strstr(lb.line[0], "silero_vad_v5") &&
            strstr(lb.line[0], "\"soundtrack\":0"),
        "--no-voice's run record names no speech model: %.300s", lb.n ? lb.line[0] : "");
  CHECK(lc.n > 0 && is_type(lc.line[0], "run") && strstr(lc.line[0], "\"kind\":\"audio\"") &&
            !strstr(lc.line[0], "blazeface") && strstr(lc.line[0], "\"emo_ser_v1\":\""),
        "emo audio's run record names the speech models only: %.300s", lc.n ? lc.line[0] : "");
  CHECK(la.n > 0 && lb.n > 0 &&
            strcmp(strstr(la.line[0], "\"options_hash\""), strstr(lb.line[0], "\"options_hash\"")),
        "the options hash tells the two video runs apart");
  lines *all[3] = {&la, &lb, &lc};
  for (int k = 0; k < 3; k++) /* the rest is compared below */
    if (all[k]->n > 0 && is_type(all[k]->line[0], "run")) {
      memmove(all[k]->line, all[k]->line + 1, (size_t)(all[k]->n - 1) * sizeof(char *));
      all[k]->n--;
    }
  int n_seg_audio = 0;
  for (int i = 0; i < lc.n; i++) n_seg_audio += is_type(lc.line[i], "segment");
  CHECK(n_seg_audio >= 1, "emo audio found %d speech segments in a spoken sentence", n_seg_audio);

  /* segments of `emo video` = segments of `emo audio`; the rest = `--no-voice` */
  int k_seg = 0, k_rest = 0, frames = 0, misplaced = 0;
  for (int i = 0; i < la.n; i++) {
    const char *l = la.line[i];
    if (is_type(l, "segment")) {
      while (k_seg < lc.n && !is_type(lc.line[k_seg], "segment")) k_seg++;
      CHECK(k_seg < lc.n && strcmp(l, lc.line[k_seg]) == 0,
            "segment line %d differs from emo audio's", i);
      k_seg++;
      /* it follows the frames it covers at once: the frame before it is earlier than its
         end, the next frame is at or after its end */
      const double end = number_after(l, "end");
      for (int j = i - 1; j >= 0; j--)
        if (is_type(la.line[j], "frame")) {
          if (!(number_after(la.line[j], "t") < end)) misplaced++;
          break;
        }
      for (int j = i + 1; j < la.n; j++)
        if (is_type(la.line[j], "frame")) {
          if (!(number_after(la.line[j], "t") >= end)) misplaced++;
          break;
        }
    } else {
      frames += is_type(l, "frame");
      CHECK(k_rest < lb.n && strcmp(l, lb.line[k_rest]) == 0,
            "line %d differs from --no-voice's line %d", i, k_rest);
      k_rest++;
    }
  }
  while (k_seg < lc.n && !is_type(lc.line[k_seg], "segment")) k_seg++;
  CHECK(k_seg == lc.n, "emo video lacks some of emo audio's segments");
  CHECK(k_rest == lb.n, "emo video has %d non-segment lines, --no-voice %d", k_rest, lb.n);
  CHECK(frames == 60, "60 frames analysed, got %d", frames);
  CHECK(misplaced == 0, "%d segment lines out of time order", misplaced);
  printf("emo video on a 4 s spoken clip: %d frames, %d speech segments interleaved by time\n",
         frames, n_seg_audio);

  free(la.buf);
  free(lb.buf);
  free(lc.buf);
  unlink(clip);
  unlink(a);
  unlink(b);
  unlink(c);
  rmdir(dir);
  return th_finish("test_cli_video");
}
