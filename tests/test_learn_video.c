/* test_learn_video.c: face feature vectors of labelled video clips (emo_video_features,
 * `emo features` on clips) on real GRID clips from ../shared/data/av/grid (one speaker's face,
 * 3 s at 25 frames a second):
 *   - emo_video_features with per_frame = 0 gives one row, non-zero, and it is the mean of the
 *     per_frame = 1 rows (same track, same frames; tolerance 1e-4: float sums in another
 *     order);
 *   - `emo features` on a folder of 2 labels x 2 clips, with a photo and a broken clip mixed in,
 *     writes one row per clip and one for the photo, skips and names the broken file;
 *   - `emo train` on those rows refuses a bad number (--folds abc, --lr 0, ...: exit 2, the flag
 *     named) and trains with good ones.
 * Skips without the data or the models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"

static void check_api(const char *clip) {
  emo_model_params mp = emo_model_params_default();
  mp.features = 1;
  mp.voice = 0;
  emo_model *m = NULL;
  emo_context *c = NULL;
  CHECK(emo_model_load(&mp, &m) == EMO_OK, "model load");
  emo_context_params cp = emo_context_params_default();
  cp.float_expression = 1;
  CHECK(m && emo_context_create(m, &cp, &c) == EMO_OK, "context");
  if (!c) {
    emo_model_destroy(&m);
    return;
  }
  const int dim = emo_features_dim(m, EMO_MODALITY_FACE);
  const emo_video_feature_row *meta = NULL;
  const float *x = NULL;
  int rows = 0;
  CHECK(emo_video_features(c, NULL, clip, 0, &rows, &meta, &x) == EMO_OK, "%s",
        emo_context_last_error(c));
  CHECK(rows == 1 && meta && meta->frames > 10, "pooled: %d rows, %d frames", rows,
        meta ? meta->frames : 0);
  float *pooled = malloc((size_t)dim * sizeof *pooled);
  double norm = 0;
  for (int k = 0; pooled && rows == 1 && k < dim; k++) norm += fabs(pooled[k] = x[k]);
  CHECK(norm > 1.0, "pooled vector non-zero: L1 %g", norm);
  int frames = meta ? meta->frames : 0, track = meta ? meta->track_id : 0;
  CHECK(emo_video_features(c, NULL, clip, 1, &rows, &meta, &x) == EMO_OK, "%s",
        emo_context_last_error(c));
  CHECK(rows == frames, "per frame: %d rows for %d pooled frames", rows, frames);
  double worst = 0;
  for (int k = 0; pooled && rows > 0 && k < dim; k++) {
    double s = 0;
    for (int r = 0; r < rows; r++) s += x[(size_t)r * dim + k];
    worst = fmax(worst, fabs(s / rows - pooled[k]));
  }
  for (int r = 0; r < rows; r++)
    CHECK(meta[r].track_id == track && meta[r].frames == 1, "row %d: track %d", r,
          meta[r].track_id);
  printf("%s: %d frames of track %d, pooled row = mean of the frame rows (worst %.2g)\n", clip,
         frames, track, worst);
  CHECK(worst < 1e-4, "pooled row vs mean of frame rows: %g", worst);
  free(pooled);
  emo_context_destroy(&c);
  emo_model_destroy(&m);
}

/* Lines of a file, -1 when unreadable. */
static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, ch;
  while ((ch = fgetc(f)) != EOF) n += ch == '\n';
  fclose(f);
  return n;
}

static void check_cli(const char *grid, const char *photo) {
  char dir[] = "/tmp/emo_test_learn_video_XXXXXX", p[8192], q[8192], cmd[16384];
  if (!mkdtemp(dir)) {
    CHECK(0, "mkdtemp");
    return;
  }
  const char *clips[2][2] = {{"bbaf2n.mpg", "brbk7n.mpg"}, {"lbax4n.mpg", "lbbc2a.mpg"}};
  for (int l = 0; l < 2; l++) {
    snprintf(p, sizeof p, "%s/%s", dir, l ? "b" : "a");
    mkdir(p, 0777);
    for (int k = 0; k < 2; k++) { /* links: the shared media are never copied */
      snprintf(p, sizeof p, "%s/%s", grid, clips[l][k]);
      snprintf(q, sizeof q, "%s/%s/%s", dir, l ? "b" : "a", clips[l][k]);
      CHECK(symlink(p, q) == 0, "symlink %s", q);
    }
  }
  snprintf(q, sizeof q, "%s/a/photo.jpg", dir);
  CHECK(symlink(photo, q) == 0, "symlink %s", q);
  snprintf(q, sizeof q, "%s/b/broken.mp4", dir);
  FILE *f = fopen(q, "w");
  if (f) fputs("not a video", f), fclose(f);
  snprintf(cmd, sizeof cmd, "%s/emo features -q %s -o %s/out 2> %s/err.txt", EMO_BINARY_DIR, dir,
           dir, dir);
  CHECK(system(cmd) == 0, "%s", cmd);
  snprintf(p, sizeof p, "%s/out/index.csv", dir);
  CHECK(count_lines(p) == 6, "index.csv: header and 5 rows, has %d lines", count_lines(p));
  snprintf(p, sizeof p, "%s/err.txt", dir);
  size_t n = 0;
  char *err = (char *)th_read_file(p, &n);
  CHECK(err && strstr(err, "broken.mp4") && strstr(err, "1 of 6 inputs unreadable"),
        "the broken clip named and counted: %s", err ? err : "");
  free(err);
  snprintf(p, sizeof p, "%s/out/features.npy", dir);
  float *x = NULL;
  int rows = 0, cols = 0;
  char e[512];
  CHECK(emo_npy_read_f32(p, &x, &rows, &cols, e, sizeof e) == EMO_OK, "%s", e);
  for (int r = 0; x && r < rows; r++) {
    double s = 0;
    for (int k = 0; k < cols; k++) s += fabs(x[(size_t)r * cols + k]);
    CHECK(s > 1.0, "row %d: L1 %g", r, s);
  }
  printf("emo features on 2 labels x 2 clips + a photo + a broken clip: %d rows of %d\n", rows,
         cols);
  CHECK(rows == 5, "%d rows", rows);
  free(x);
  /* emo train on them: a bad number is refused with exit 2 and named, never read as 0 */
  const char *bad[][2] = {{"--folds abc", "--folds"}, {"--folds 1", "--folds"},
                          {"--lr 0", "--lr"},         {"--l2 0.5x", "--l2"},
                          {"--seed -3", "--seed"},    {"--iterations 0", "--iterations"}};
  for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
    snprintf(cmd, sizeof cmd, "%s/emo train %s/out %s -o %s/h.head 2> %s/err2.txt", EMO_BINARY_DIR,
             dir, bad[b][0], dir, dir);
    int st = system(cmd);
    snprintf(p, sizeof p, "%s/err2.txt", dir);
    char *msg = (char *)th_read_file(p, &n);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2 && msg && strstr(msg, "invalid value for") &&
              strstr(msg, bad[b][1]),
          "emo train %s: exit %d, %s", bad[b][0], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
          msg ? msg : "");
    free(msg);
  }
  /* a number option with no value says so, rather than calling the value invalid */
  snprintf(cmd, sizeof cmd, "%s/emo train %s/out -o %s/h.head --folds 2> %s/err2.txt",
           EMO_BINARY_DIR, dir, dir, dir);
  int st = system(cmd);
  snprintf(p, sizeof p, "%s/err2.txt", dir);
  char *msg = (char *)th_read_file(p, &n);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2 && msg && strstr(msg, "--folds needs a value"),
        "emo train ... --folds: exit %d, %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, msg ? msg : "");
  free(msg);
  snprintf(cmd, sizeof cmd, "%s/emo train -q %s/out --kind ncm --no-cv -o %s/h.head",
           EMO_BINARY_DIR, dir, dir);
  CHECK(system(cmd) == 0, "%s", cmd);
  snprintf(p, sizeof p, "%s/h.head", dir);
  CHECK(access(p, R_OK) == 0, "emo train wrote %s", p);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
  const char *g = th_data("av/grid");
  if (!g) th_skip("../shared/data absent (set EMO_SHARED_DATA)");
  char grid[4096], clip[4200], photo[4096];
  snprintf(grid, sizeof grid, "%s", g);
  snprintf(clip, sizeof clip, "%s/bbaf2n.mpg", grid);
  snprintf(photo, sizeof photo, "%s", th_data("faces/labelled/kdef-front/images/AF01HAS.jpg"));
  if (access(clip, R_OK) != 0 || access(photo, R_OK) != 0)
    th_skip("%s or %s absent (GRID clips, KDEF photos of ../shared/data)", clip, photo);
  if (!th_models_ready()) th_skip("models missing from the cache (run `emo models fetch`)");
  if (grid[0] != '/') { /* the links in the temporary folder need absolute targets */
    char *r = realpath(grid, NULL), *rp = realpath(photo, NULL);
    if (r) snprintf(grid, sizeof grid, "%s", r);
    if (rp) snprintf(photo, sizeof photo, "%s", rp);
    free(r);
    free(rp);
  }
  check_api(clip);
  check_cli(grid, photo);
  return th_finish("test_learn_video");
}
