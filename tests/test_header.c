/* test_header.c: the public header on its own, compiled as strict C11 with -pedantic
 * (see tests/CMakeLists.txt), plus the promises it makes without models: defaults, names,
 * status strings and NULL-safe destroy calls. */
#include "emo.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define EXPECT(c)                                             \
  do {                                                        \
    if (!(c)) {                                               \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                             \
    }                                                         \
  } while (0)

int main(void) {
  /* the defaults are the ones emo.h writes beside each field */
  emo_model_params mp = emo_model_params_default();
  EXPECT(mp.models_dir == NULL && mp.faces == 1 && mp.detector == EMO_DETECTOR_AUTO);
  EXPECT(mp.expression == EMO_EXPRESSION_EMO && mp.reid == 1 && mp.voice == 1);
  EXPECT(mp.ser_model == NULL && mp.max_file_bytes == (int64_t)2 << 30);
  EXPECT(mp.log == NULL && mp.log_user == NULL && mp.log_level == EMO_LOG_WARN);
  emo_context_params cp = emo_context_params_default();
  EXPECT(cp.n_threads == 0 && cp.max_faces == 64 && cp.reference_kernels == 0);
  EXPECT(cp.float_expression == 0 && cp.log == NULL && cp.log_level == EMO_LOG_WARN);
  emo_run_params rp = emo_run_params_default();
  EXPECT(rp.detector == EMO_DETECTOR_AUTO && rp.score_threshold == 0.5f);
  EXPECT(rp.nms_iou_threshold == 0.3f && rp.max_pixels == 100000000);
  EXPECT(rp.max_file_bytes == (int64_t)512 << 20 && rp.analysis_fps == 0.0);
  EXPECT(rp.detect_every == 0 && rp.track_timeout == 1.0 && rp.reid_threshold == 0.65f);
  EXPECT(rp.smoothing == 0.5f && rp.annotate_path == NULL && rp.soundtrack == 1);
  EXPECT(rp.audio_whole == 0 && rp.max_audio_seconds == 7200.0 && rp.vad_threshold == 0.2f);
  EXPECT(rp.protocols == NULL && rp.io_timeout == 0.0 && rp.other_hosts == 0);
  EXPECT(rp.vad_min_speech_ms == 250 && rp.vad_min_silence_ms == 100 && rp.vad_pad_ms == 500);
  EXPECT(emo_abi_version() == EMO_ABI_VERSION);
  for (int s = 0; s > -EMO_STATUS_COUNT_; s--)
    EXPECT(strcmp(emo_status_str(s), "unknown status") != 0);
  EXPECT(strcmp(emo_status_str(-1000), "unknown status") == 0);
  const char *names[EMO_EXPR_COUNT] = {"angry", "disgust",  "fear",   "happy",
                                       "sad",   "surprise", "neutral"};
  for (int i = 0; i < EMO_EXPR_COUNT; i++) EXPECT(strcmp(emo_expression_name(i), names[i]) == 0);
  EXPECT(emo_models_count() > 0);
  emo_model_info info;
  EXPECT(emo_models_info(-1, &info) == EMO_EINVAL);
  EXPECT(emo_models_info(0, &info) == EMO_OK && info.sha256 && strlen(info.sha256) == 64);
  emo_model *m = NULL;
  emo_context *c = NULL;
  emo_model_destroy(&m);
  emo_context_destroy(&c);
  EXPECT(strcmp(emo_context_last_error(NULL), "") == 0);
  emo_face f;
  memset(&f, 0, sizeof f);
  f.dominant = -1;
  emo_image_result r = {10, 20, 1, &f, EMO_DETECTOR_SHORT};
  char *json = emo_image_result_json(&r, "a\"b.jpg");
  EXPECT(json && strstr(json, "\"file\":\"a\\\"b.jpg\"") && strstr(json, "\"face_count\":1"));
  EXPECT(json && !strstr(json, "\"expression\"")); /* no expression model -> no field */
  emo_free(json);
  char *err = emo_error_json("x.jpg", EMO_EFORMAT, "bad\nbytes");
  EXPECT(err && strcmp(err,
                       "{\"file\":\"x.jpg\",\"error\":\"malformed or unsupported input\","
                       "\"message\":\"bad\\nbytes\"}") == 0);
  emo_free(err);
  printf("test_header: %d failed\n", failures);
  return failures ? 1 : 0;
}
