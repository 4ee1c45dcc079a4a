/* test_options.c: emo_options (src/api/options.c), the params set by name for bindings: every
 * listed name is settable and lands in the right struct field, values parse as their type (and
 * bad ones are refused with a message naming the option), NULL restores the default and strings
 * are copied; and emo_analyze_file_lines gives emo_image_result_json's line for a real photo, and
 * the error line for a missing one (the video and audio lines are compared with the CLI's output
 * by tests/test_python_api.py). */
#include <string.h>

#include "emo.h"
#include "harness.h"

static int n_lines;
static char last_line[1 << 16];

static int keep_line(const char *line, size_t len, void *user) {
  (void)user;
  n_lines++;
  if (len < sizeof last_line && strlen(line) == len) memcpy(last_line, line, len + 1);
  return 0;
}

int main(void) {
  emo_options *o = NULL;
  CHECK(emo_options_create(&o) == EMO_OK && o, "create");
  emo_run_params dr = emo_run_params_default();
  const emo_run_params *rp = emo_options_run_params(o);
  const emo_model_params *mp = emo_options_model_params(o);
  const emo_context_params *cp = emo_options_context_params(o);
  CHECK(memcmp(rp, &dr, sizeof dr) == 0, "run params start as the defaults");

  int n = 0;
  while (emo_options_name(n)) {
    CHECK(emo_options_describe(n) && *emo_options_describe(n), "option %d has a description", n);
    n++;
  }
  CHECK(n >= 30 && !emo_options_describe(n) && !emo_options_name(-1), "%d options listed", n);

  CHECK(emo_options_set(o, "detector", "full") == EMO_OK, "detector");
  CHECK(rp->detector == EMO_DETECTOR_FULL && mp->detector == EMO_DETECTOR_FULL, "both detectors");
  CHECK(emo_options_set(o, "expression", "ensemble") == EMO_OK &&
            mp->expression == EMO_EXPRESSION_ENSEMBLE,
        "expression");
  CHECK(emo_options_set(o, "score_threshold", "0.7") == EMO_OK && rp->score_threshold == 0.7f,
        "float");
  CHECK(emo_options_set(o, "analysis_fps", "2.5") == EMO_OK && rp->analysis_fps == 2.5, "double");
  CHECK(
      emo_options_set(o, "max_pixels", "12345678901") == EMO_OK && rp->max_pixels == 12345678901LL,
      "int64");
  CHECK(emo_options_set(o, "model_max_file_bytes", "1000") == EMO_OK &&
            mp->max_file_bytes == 1000 && rp->max_file_bytes == dr.max_file_bytes,
        "model_max_file_bytes is the model's");
  CHECK(emo_options_set(o, "max_faces", "7") == EMO_OK && cp->max_faces == 7, "context int");
  CHECK(emo_options_set(o, "soundtrack", "false") == EMO_OK && rp->soundtrack == 0, "bool false");
  CHECK(emo_options_set(o, "other_hosts", "1") == EMO_OK && rp->other_hosts == 1, "bool 1");
  CHECK(emo_options_set(o, "log_level", "debug") == EMO_OK && mp->log_level == EMO_LOG_DEBUG &&
            cp->log_level == EMO_LOG_DEBUG,
        "log level");
  char path[32] = "out.mp4";
  CHECK(emo_options_set(o, "annotate_path", path) == EMO_OK, "string");
  path[0] = 'X';
  CHECK(rp->annotate_path && strcmp(rp->annotate_path, "out.mp4") == 0, "the string is copied");
  CHECK(emo_options_set(o, "annotate_path", NULL) == EMO_OK && !rp->annotate_path, "NULL string");
  CHECK(emo_options_set(o, "score_threshold", NULL) == EMO_OK && rp->score_threshold == 0.5f,
        "NULL restores the default");
  CHECK(emo_options_set(o, "detector", NULL) == EMO_OK && rp->detector == EMO_DETECTOR_AUTO,
        "NULL restores an enum");

  static const char *const bad[][2] = {
      {"detector", "medium"},  {"score_threshold", "abc"},   {"score_threshold", ""},
      {"max_faces", "7.5"},    {"max_faces", "99999999999"}, {"soundtrack", "maybe"},
      {"analysis_fps", "nan"}, {"expression", "FER"},        {"log_level", "loud"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(emo_options_set(o, bad[i][0], bad[i][1]) == EMO_EINVAL, "%s=%s refused", bad[i][0],
          bad[i][1]);
    CHECK(strstr(emo_options_last_error(o), bad[i][0]) != NULL, "message names %s: %s", bad[i][0],
          emo_options_last_error(o));
  }
  CHECK(emo_options_set(o, "treshold", "0.5") == EMO_EINVAL &&
            strstr(emo_options_last_error(o), "unknown option treshold"),
        "unknown name: %s", emo_options_last_error(o));
  CHECK(emo_options_set(NULL, "detector", "full") == EMO_EINVAL, "NULL options");
  emo_options_destroy(&o);
  CHECK(o == NULL, "destroy sets NULL");
  emo_options_destroy(&o);

  /* The photo line, through a model loaded with the options' structs. */
  const char *photo = th_data("faces/misc/multi_face.jpg");
  if (!photo || !th_models_ready()) {
    fprintf(stderr, "test_options: no real photo or models: the line checks are skipped\n");
    return th_finish("test_options");
  }
  emo_options_create(&o);
  emo_options_set(o, "reid", "0");
  emo_options_set(o, "voice", "0");
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  CHECK(emo_model_load(emo_options_model_params(o), &model) == EMO_OK, "model");
  CHECK(emo_context_create(model, emo_options_context_params(o), &ctx) == EMO_OK, "context");
  if (ctx) {
    const emo_image_result *r = NULL;
    CHECK(emo_analyze_file(ctx, emo_options_run_params(o), photo, &r) == EMO_OK, "analyse");
    char *want = r ? emo_image_result_json(r, photo) : NULL;
    CHECK(emo_analyze_file_lines(ctx, emo_options_run_params(o), photo, keep_line, NULL) == EMO_OK,
          "lines");
    CHECK(n_lines == 1 && want && strcmp(last_line, want) == 0, "the line is the JSON: %s",
          last_line);
    emo_free(want);
    int rc = emo_analyze_file_lines(ctx, NULL, "/nonexistent/photo.jpg", keep_line, NULL);
    CHECK(rc == EMO_EIO && n_lines == 2 && strstr(last_line, "\"error\":") &&
              strstr(last_line, "/nonexistent/photo.jpg"),
          "a missing photo: %d %s", rc, last_line);
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  emo_options_destroy(&o);
  return th_finish("test_options");
}
