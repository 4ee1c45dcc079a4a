/* test_api.c: the public API and the CLI on bad input: unreadable, empty, truncated and
 * mislabelled files, a 1x1 image, a header claiming 50000x50000 pixels (the max_pixels cap),
 * missing and corrupted model files, and the CLI's per-file errors and exit status. Every
 * case must give the documented status and a message, never a crash (CI runs this under
 * ASan and UBSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"

/* A valid 1x1 RGB PNG and a PNG whose IHDR (valid CRC) claims 50000x50000 pixels. */
static const unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xf8, 0xdf, 0xc0, 0x00, 0x00, 0x04, 0x01, 0x01, 0x80, 0xc5, 0x2a, 0x18,
    0x5d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_huge[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0xc3, 0x50, 0x00, 0x00, 0xc3, 0x50, 0x08, 0x02, 0x00, 0x00,
    0x00, 0xc4, 0xcd, 0xaa, 0x9d, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x60, 0xa0, 0x3d, 0x00, 0x00, 0x00, 0x64, 0x00, 0x01, 0x86, 0x64, 0x3c,
    0x35, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static char g_log[2048];

static void capture_log(emo_log_level level, const char *msg, void *user) {
  (void)user;
  if (level <= EMO_LOG_WARN) snprintf(g_log, sizeof g_log, "%s", msg);
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL, "cannot write %s", path);
  if (!f) return;
  CHECK(fwrite(data, 1, n, f) == n, "short write %s", path);
  fclose(f);
}

static void expect_status(emo_context *ctx, const char *label, const char *path, int want) {
  const emo_image_result *r = NULL;
  int rc = emo_analyze_file(ctx, NULL, path, &r);
  printf("%-28s -> %s: %s\n", label, emo_status_str(rc), emo_context_last_error(ctx));
  CHECK(rc == want, "%s: got %s, want %s", label, emo_status_str(rc), emo_status_str(want));
  if (rc != EMO_OK) {
    CHECK(r == NULL, "%s: result on failure", label);
    CHECK(strlen(emo_context_last_error(ctx)) > 0, "%s: no message", label);
  }
}

/* Copies the model cache into dir (plain copies, so they can be damaged). */
static int copy_cache(const char *from, const char *to) {
  char cmd[9000];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/* '%s'/", to, from, to);
  return system(cmd);
}

/* Damages file in a copy of the cache and loads a model with the given expression model (the
 * networks it reads are verified as they are read). */
static void damage_and_load(const char *cache, const char *file, const char *how, int want,
                            emo_expression_model expression) {
  char dir[256], path[512];
  snprintf(dir, sizeof dir, "/tmp/emo-test-api-%d-%s", (int)getpid(), how);
  CHECK(copy_cache(cache, dir) == 0, "copy cache");
  snprintf(path, sizeof path, "%s/%s", dir, file);
  size_t n = 0;
  unsigned char *d = th_read_file(path, &n);
  CHECK(d != NULL && n > 64, "read %s", path);
  if (!d) return;
  if (strcmp(how, "flip") == 0) {
    d[n / 2] ^= 0x5a;
    write_file(path, d, n);
  } else if (strcmp(how, "truncate") == 0) {
    write_file(path, d, n / 3);
  } else if (strcmp(how, "magic") == 0) {
    memcpy(d + 4, "XXXX", 4); /* TFLite's file identifier lives at bytes 4..7 */
    write_file(path, d, n);
  } else if (strcmp(how, "missing") == 0) {
    unlink(path);
  }
  free(d);
  emo_model_params p = emo_model_params_default();
  p.models_dir = dir;
  p.expression = expression;
  p.log = capture_log;
  g_log[0] = 0;
  emo_model *m = NULL;
  int rc = emo_model_load(&p, &m);
  printf("model %s %-9s -> %s: %s\n", file, how, emo_status_str(rc), g_log);
  CHECK(rc == want, "%s %s: got %s", file, how, emo_status_str(rc));
  CHECK(m == NULL, "model returned on failure");
  CHECK(strstr(g_log, "emo models fetch") != NULL, "message does not say how to fix: %s", g_log);
  emo_model_destroy(&m);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0, "cleanup");
}

static void cli_mixed_inputs(const char *good, const char *tmp) {
  char bad[512], out[512], cmd[4096];
  snprintf(bad, sizeof bad, "%s/text.jpg", tmp);
  snprintf(out, sizeof out, "%s/out.jsonl", tmp);
  snprintf(cmd, sizeof cmd, "'%s/emo' image -q -o '%s' '%s' '%s/missing.jpg' '%s' 2>/dev/null",
           EMO_BINARY_DIR, out, good, tmp, bad);
  int st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "CLI exit status %d, want 1", WEXITSTATUS(st));
  size_t n = 0;
  char *text = (char *)th_read_file(out, &n);
  CHECK(text != NULL, "no CLI output");
  if (!text) return;
  text[n] = 0;
  int lines = 0;
  for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
  CHECK(lines == 4, "CLI wrote %d lines, want 4 (the run record, one per photo):\n%s", lines, text);
  /* the run record of several photos: no file, the face models with their sha256 */
  const char *run0 = "{\"type\":\"run\",\"kind\":\"image\",\"file\":null,";
  CHECK(strncmp(text, run0, strlen(run0)) == 0 && strstr(text, "\"blazeface_short\":\"") &&
            strstr(text, "\"options_hash\":\""),
        "the first line is the run record: %.200s", text);
  char *nl = strchr(text, '\n');
  if (!nl) return;
  memmove(text, nl + 1, strlen(nl + 1) + 1);
  char *l2 = strchr(text, '\n');
  CHECK(strstr(text, "\"face_count\":1") != NULL && (!l2 || strstr(text, "\"face_count\":1") < l2),
        "first line is not the good photo's result: %s", text);
  CHECK(l2 && strstr(l2, "\"error\":\"input/output error\"") != NULL, "missing file line: %s",
        text);
  CHECK(l2 && strstr(l2, "\"error\":\"malformed or unsupported input\"") != NULL,
        "text file line: %s", text);
  free(text);
}

/* Options out of range, or asking for what the model did not load, are refused with a
 * message naming the field; nothing is silently changed. */
static void params_refused(emo_model *model, emo_context *ctx) {
  const emo_image_result *r = NULL;
  emo_run_params rp = emo_run_params_default();
  rp.score_threshold = 1.5f;
  CHECK(emo_analyze_file(ctx, &rp, "unused.jpg", &r) == EMO_EINVAL &&
            strstr(emo_context_last_error(ctx), "score_threshold"),
        "score_threshold 1.5: %s", emo_context_last_error(ctx));
  rp = emo_run_params_default();
  rp.vad_pad_ms = 600001;
  const emo_audio_result *a = NULL;
  CHECK(emo_analyze_audio(ctx, &rp, "unused.wav", NULL, &a) == EMO_EINVAL &&
            strstr(emo_context_last_error(ctx), "vad_pad_ms"),
        "vad_pad_ms 600001: %s", emo_context_last_error(ctx));
  emo_context_params cp = emo_context_params_default();
  cp.max_faces = 0; /* was silently raised to 1 */
  emo_context *c2 = NULL;
  CHECK(emo_context_create(model, &cp, &c2) == EMO_EINVAL && c2 == NULL, "max_faces 0 accepted");
  /* a model with the short-range detector only cannot run the full-range one */
  emo_model_params mp = emo_model_params_default();
  mp.detector = EMO_DETECTOR_SHORT;
  mp.voice = mp.reid = 0;
  emo_model *m2 = NULL;
  CHECK(emo_model_load(&mp, &m2) == EMO_OK && emo_context_create(m2, NULL, &c2) == EMO_OK,
        "short-range model");
  const char *good = th_data("faces/misc/single_face.jpg");
  if (c2 && good) {
    char path[1024];
    snprintf(path, sizeof path, "%s", good);
    rp = emo_run_params_default(); /* AUTO needs both detectors */
    CHECK(emo_analyze_file(c2, &rp, path, &r) == EMO_EINVAL &&
              strstr(emo_context_last_error(c2), "full-range detector"),
          "AUTO on a short-range model: %s", emo_context_last_error(c2));
    rp.detector = EMO_DETECTOR_SHORT;
    CHECK(emo_analyze_file(c2, &rp, path, &r) == EMO_OK && r->face_count == 1,
          "SHORT on a short-range model: %s", emo_context_last_error(c2));
  }
  emo_context_destroy(&c2);
  emo_model_destroy(&m2);
}

int main(void) {
  /* No models needed: argument checks and the status table. */
  CHECK(strcmp(emo_status_str(EMO_OK), "ok") == 0, "status str");
  CHECK(strcmp(emo_expression_name(EMO_EXPR_HAPPY), "happy") == 0, "expression name");
  CHECK(strcmp(emo_expression_name(99), "unknown") == 0, "expression name out of range");
  CHECK(emo_model_load(NULL, NULL) == EMO_EINVAL, "NULL out");
  emo_model_destroy(NULL);
  emo_context_destroy(NULL);

  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  emo_model_params p = emo_model_params_default();
  p.log = capture_log;
  emo_context_params cp = emo_context_params_default();
  cp.log = capture_log;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(&p, &model) == EMO_OK, "model load");
  CHECK(emo_context_create(model, &cp, &ctx) == EMO_OK, "context");
  if (!ctx) return th_finish("test_api");
  params_refused(model, ctx);

  char tmp[128];
  snprintf(tmp, sizeof tmp, "/tmp/emo-test-api-%d", (int)getpid());
  mkdir(tmp, 0700);
  char path[512];

  snprintf(path, sizeof path, "%s/does-not-exist.jpg", tmp);
  expect_status(ctx, "missing file", path, EMO_EIO);
  snprintf(path, sizeof path, "%s/empty.jpg", tmp);
  write_file(path, "", 0);
  expect_status(ctx, "empty file", path, EMO_EFORMAT);
  snprintf(path, sizeof path, "%s/text.jpg", tmp);
  const char *text = "this is a text file that pretends to be a JPEG\n";
  write_file(path, text, strlen(text));
  expect_status(ctx, "text named .jpg", path, EMO_EFORMAT);
  snprintf(path, sizeof path, "%s/one.png", tmp);
  write_file(path, png_1x1, sizeof png_1x1);
  expect_status(ctx, "1x1 image", path, EMO_OK);
  const emo_image_result *r = NULL;
  if (emo_analyze_file(ctx, NULL, path, &r) == EMO_OK)
    CHECK(r->width == 1 && r->height == 1 && r->face_count == 0, "1x1 result");
  snprintf(path, sizeof path, "%s/huge.png", tmp);
  write_file(path, png_huge, sizeof png_huge);
  expect_status(ctx, "50000x50000 header", path, EMO_ELIMIT);

  const char *good = th_data("faces/misc/single_face.jpg");
  if (good) {
    char goodp[1024];
    snprintf(goodp, sizeof goodp, "%s", good);
    size_t n = 0;
    unsigned char *jpg = th_read_file(goodp, &n);
    CHECK(jpg != NULL, "read %s", goodp);
    if (jpg) {
      for (int cut = 1; cut <= 3; cut++) { /* truncated at 1/4, 2/4, 3/4 */
        snprintf(path, sizeof path, "%s/cut%d.jpg", tmp, cut);
        write_file(path, jpg, n * (size_t)cut / 4);
        expect_status(ctx, "truncated JPEG", path, EMO_EFORMAT);
      }
      /* The same bytes from memory; and a cap on pixels. */
      CHECK(emo_analyze_encoded(ctx, NULL, jpg, n, &r) == EMO_OK, "encoded");
      free(jpg);
    }
    emo_run_params small = emo_run_params_default();
    small.max_pixels = 1000;
    CHECK(emo_analyze_file(ctx, &small, goodp, &r) == EMO_ELIMIT, "over max_pixels: %s",
          emo_context_last_error(ctx));
    snprintf(path, sizeof path, "%s/text.jpg", tmp);
    cli_mixed_inputs(goodp, tmp);
  } else {
    printf("SKIPPED part: ../shared/data absent, truncated-JPEG and CLI cases not run\n");
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);

  /* Damaged model files: each must be refused with the fix in the message. */
  char cache[4096];
  CHECK(emo_models_dir(&p, cache, sizeof cache) == EMO_OK, "dir");
  const emo_expression_model dflt = emo_model_params_default().expression;
  damage_and_load(cache, "face_detection_short_range.tflite", "flip", EMO_EMODEL, dflt);
  damage_and_load(cache, "face_detection_short_range.tflite", "truncate", EMO_EMODEL, dflt);
  damage_and_load(cache, "face_detection_short_range.tflite", "magic", EMO_EMODEL, dflt);
  /* the default (emo's head) reads face-api's network; FER's files matter to FER */
  damage_and_load(cache, "face_expression_model.bin", "truncate", EMO_EMODEL, dflt);
  damage_and_load(cache, "face_expression_model-weights_manifest.json", "flip", EMO_EMODEL, dflt);
  damage_and_load(cache, "emotion.bin", "truncate", EMO_EMODEL, EMO_EXPRESSION_FER);
  damage_and_load(cache, "emotion.json", "flip", EMO_EMODEL, EMO_EXPRESSION_FER);
  damage_and_load(cache, "face_detection_full_range.tflite", "missing", EMO_ENOMODEL, dflt);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  CHECK(system(cmd) == 0, "cleanup");
  return th_finish("test_api");
}
