/* test_media_once.c: emo_analyze_media on a source read once (standard input, a pipe), where
 * one demuxer hands the soundtrack's packets over (pipeline/analyze_media.c). A real
 * split-screen interview from ../shared/data/av is remuxed (stream copy) to Matroska and to
 * MPEG-TS in a temporary folder; each is analysed by path and piped into standard input ("-"),
 * and the records emo_analyze_media_lines writes must be the same: every frame line (with its
 * "speaking" and "person"), every segment line (speaker, person, track), every person and turn
 * line. Only the order of the lines differs (a pipe's segments come after its frames) and the
 * run record (a pipe's duration is unknown). Also: a pipe without sound still gives its frames.
 * Skipped with the reason without ../shared/data, the models or ffmpeg. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"
#include "lines.h"

/* A pipe's lines, and the bytes written into the pipe when the first frame line came. */
typedef struct piped_lines {
  th_lines l;
  atomic_llong *written;    /* bytes written into the pipe so far */
  long long at_first_frame; /* ... when the first frame line came (-1: none) */
} piped_lines;

static int add_piped(const char *line, size_t len, void *user) {
  piped_lines *p = user;
  if (p->at_first_frame < 0 && strstr(line, "\"type\":\"frame\""))
    p->at_first_frame = atomic_load(p->written);
  return th_lines_add(line, len, &p->l);
}

typedef struct writer {
  const char *path;
  int fd;
  atomic_llong written;
  long long size;
} writer;

/* Writes the file into the pipe in small blocks, counting the bytes. */
static void *write_main(void *arg) {
  writer *w = arg;
  FILE *f = fopen(w->path, "rb");
  char buf[4096];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (write(w->fd, buf, n) != (ssize_t)n) break;
    atomic_fetch_add(&w->written, (long long)n);
  }
  if (f) fclose(f);
  close(w->fd);
  return NULL;
}

/* Analyses path through standard input, a pipe fed by a thread; *early: the share of the file
 * written into the pipe when the first frame line came. */
static int analyze_piped(emo_context *ctx, const char *path, th_lines *out, double *early) {
  int fds[2];
  if (pipe(fds) != 0) return EMO_EIO;
  writer w = {path, fds[1], 0, 0};
  FILE *f = fopen(path, "rb");
  if (f && fseek(f, 0, SEEK_END) == 0) w.size = ftell(f);
  if (f) fclose(f);
  pthread_t th;
  int saved = dup(0);
  dup2(fds[0], 0);
  close(fds[0]);
  piped_lines pl = {{0}, &w.written, -1};
  pthread_create(&th, NULL, write_main, &w);
  int rc = emo_analyze_media_lines(ctx, NULL, "-", add_piped, &pl);
  *out = pl.l;
  dup2(saved, 0); /* the pipe's reading end closes: a writer still blocked stops */
  close(saved);
  pthread_join(th, NULL);
  if (early) *early = w.size > 0 ? (double)pl.at_first_frame / (double)w.size : -1.0;
  return rc;
}

static void first_difference(const char *a, const char *b, const char *what) {
  size_t i = 0;
  while (a[i] && a[i] == b[i]) i++;
  size_t s = i > 120 ? i - 120 : 0;
  printf("  %s differ at byte %zu:\n  file: %.240s\n  pipe: %.240s\n", what, i, a + s, b + s);
}

static void compare(emo_context *ctx, const char *path, const char *label) {
  th_lines f = {0}, p = {0};
  int rc1 = emo_analyze_media_lines(ctx, NULL, path, th_lines_add, &f);
  double early = -1;
  int rc2 = analyze_piped(ctx, path, &p, &early);
  CHECK(rc1 == EMO_OK && rc2 == EMO_OK, "%s: by path %d, piped %d", label, rc1, rc2);
  static const char *types[] = {"\"type\":\"frame\"", "\"type\":\"segment\"", "\"type\":\"person\"",
                                "\"type\":\"turn\""};
  static const char *names[] = {"frames", "segments", "persons", "turns"};
  for (int k = 0; k < 4; k++) {
    char *a = th_lines_of_type(&f, types[k]), *b = th_lines_of_type(&p, types[k]);
    int n = a ? th_count(a, "\n") : -1;
    CHECK(a && b && strcmp(a, b) == 0, "%s: the piped %s equal the file's (%d lines)", label,
          names[k], n);
    if (a && b && strcmp(a, b) != 0) first_difference(a, b, names[k]);
    if (k == 0) { /* the frames are scored: someone speaks, someone listens */
      CHECK(a && th_count(a, "\"speaking\":0.") + th_count(a, "\"speaking\":1") > 0,
            "%s: frames carry speaking scores", label);
    }
    if (k >= 1 && k <= 2) CHECK(n >= (k == 1 ? 2 : 2), "%s: %d %s", label, n, names[k]);
    printf("%s: %d %s lines, piped == by path: %s\n", label, n, names[k],
           a && b && strcmp(a, b) == 0 ? "yes" : "NO");
    free(a);
    free(b);
  }
  /* the segment lines of the pipe come after its last frame, before the persons */
  int last_frame = -1, first_seg = -1;
  for (int i = 0; i < p.n; i++) {
    if (strstr(p.v[i], types[0])) last_frame = i;
    if (first_seg < 0 && strstr(p.v[i], types[1])) first_seg = i;
  }
  CHECK(first_seg > last_frame, "%s: a pipe's segments follow its frames", label);
  /* The frames do not wait for the end of the sound: the first one comes while most of the
   * file is still to be written into the pipe (its voice activity is final ~2 s later). */
  CHECK(early >= 0 && early < 0.6, "%s: first frame after %.0f %% of the pipe's bytes", label,
        100 * early);
  printf("%s: first frame line after %.0f %% of the piped bytes\n", label, 100 * early);
  th_lines_free(&f);
  th_lines_free(&p);
}

/* A pipe without an audio stream: frames come (bounded hold: none waits for sound), no segment,
 * "speaking" null. */
static void silent_pipe(emo_context *ctx, const char *path, const char *label) {
  th_lines p = {0};
  int rc = analyze_piped(ctx, path, &p, NULL);
  char *fr = th_lines_of_type(&p, "\"type\":\"frame\""),
       *sg = th_lines_of_type(&p, "\"type\":\"segment\"");
  CHECK(rc == EMO_OK && fr && th_count(fr, "\n") > 10, "%s: frames without sound (%d)", label, rc);
  CHECK(sg && th_count(sg, "\n") == 0, "%s: no segment", label);
  CHECK(fr && th_count(fr, "\"speaking\":null") > 0 && th_count(fr, "\"speaking\":0.") == 0,
        "%s: speaking null without sound", label);
  printf("%s: %d frame lines, none scored\n", label, fr ? th_count(fr, "\n") : -1);
  free(fr);
  free(sg);
  th_lines_free(&p);
}

int main(void) {
  const char *av = th_data("av");
  if (!av || access(av, R_OK) != 0) th_skip("../shared/data/av is absent");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  if (system("ffmpeg -version >/dev/null 2>&1") != 0) th_skip("no ffmpeg to remux the clip");
  signal(SIGPIPE, SIG_IGN); /* a pipe whose reader stopped early ends its writer quietly */
  char src[800], dir[] = "/tmp/emo_once_XXXXXX", cmd[8192], mkv[600], ts[600], mute[600];
  snprintf(src, sizeof src, "%s/split_screen/debate_interview4.mp4", av);
  if (access(src, R_OK) != 0) th_skip("%s is absent", src);
  CHECK(mkdtemp(dir) != NULL, "temporary folder");
  snprintf(mkv, sizeof mkv, "%s/clip.mkv", dir);
  snprintf(ts, sizeof ts, "%s/clip.ts", dir);
  snprintf(mute, sizeof mute, "%s/mute.mkv", dir);
  snprintf(cmd, sizeof cmd,
           "ffmpeg -v error -i '%s' -c copy '%s' && ffmpeg -v error -i '%s' -c copy '%s' && "
           "ffmpeg -v error -i '%s' -t 2 -an -c copy '%s'",
           src, mkv, src, ts, src, mute);
  CHECK(system(cmd) == 0, "remux with ffmpeg");
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(NULL, &model) == EMO_OK, "model");
  CHECK(model && emo_context_create(model, NULL, &ctx) == EMO_OK, "context");
  if (ctx) {
    compare(ctx, mkv, "Matroska");
    compare(ctx, ts, "MPEG-TS");
    silent_pipe(ctx, mute, "Matroska without sound");
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
  return th_finish("test_media_once");
}
