/* test_ser_model.c: a user's wav2vec2 speech-emotion model in the pipeline (params.ser_model,
 * `emo audio --ser-model`). Takes the converted tiny models of tests/fixtures/wav2vec2_*.fix
 * (random weights, so the labels they give mean nothing, but the numbers are checkable):
 * with --whole, the file's one segment must carry exactly the model's labels, mapped onto
 * emo's names, with the probabilities softmax(w2v_classify(the decoded samples)); the JSON
 * lists only those labels; a model whose label names no emotion is refused at load with a
 * message naming the label. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/wav2vec2.h"
#include "emo.h"
#include "fixture.h"
#include "harness.h"
#include "media/audio_decode.h"

static const char *const fixtures[] = {"wav2vec2_base", "wav2vec2_large"};

/* Decodes url to 16 kHz mono as the pipeline does; returns malloc'ed samples. */
static float *decode(const char *url, size_t *n) {
  emoi_err err = {{0}};
  aud_reader *r = NULL;
  if (aud_open(url, NULL, &r, &err) != EMO_OK) return NULL;
  size_t cap = 1 << 16, len = 0;
  float *x = malloc(cap * sizeof *x);
  int got;
  while (x && (got = aud_read(r, x + len, (int)(cap - len), &err)) > 0) {
    len += (size_t)got;
    if (len == cap) {
      float *y = realloc(x, 2 * cap * sizeof *x);
      if (!y) {
        free(x);
        x = NULL;
      }
      x = y;
      cap *= 2;
    }
  }
  aud_close(&r);
  *n = len;
  return x;
}

static void keep_log(emo_log_level level, const char *message, void *user) {
  (void)level;
  snprintf(user, 1024, "%s", message);
}

static void one_model(const char *name, const char *clip) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/fixtures/%s.fix", EMO_SOURCE_DIR, name);
  fx_file *fx = NULL;
  char msg[256];
  if (fx_load(path, &fx, msg, sizeof msg) != 0) {
    printf("%s: no fixture (%s)\n", name, msg);
    return;
  }
  const fx_tensor *mt = fx_get(fx, "model");
  CHECK(mt != NULL, "%s: no model tensor", name);
  if (!mt) {
    fx_free(&fx);
    return;
  }
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/emo_sermodel_%d.safetensors", (int)getpid());
  FILE *f = fopen(tmp, "wb");
  CHECK(f && fwrite(mt->u8, 1, (size_t)mt->numel, f) == (size_t)mt->numel, "write %s", tmp);
  if (f) fclose(f);

  emo_model_params p = emo_model_params_default();
  p.faces = 0;
  p.reid = 0;
  p.ser_model = tmp;
  emo_run_params whole = emo_run_params_default();
  whole.audio_whole = 1;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  int rc = emo_model_load(&p, &model);
  CHECK(rc == EMO_OK, "%s: load: %s", name, emo_status_str(rc));
  if (rc == EMO_OK) rc = emo_context_create(model, NULL, &ctx);
  const emo_audio_result *r = NULL;
  if (ctx) rc = emo_analyze_audio(ctx, &whole, clip, NULL, &r);
  CHECK(rc == EMO_OK && r && r->segment_count == 1, "%s: analyze: %s", name,
        ctx ? emo_context_last_error(ctx) : "");
  if (rc == EMO_OK && r && r->segment_count == 1) {
    /* the reference: the model run directly on the same samples */
    emoi_err err = {{0}};
    w2v_model *w = NULL;
    CHECK(w2v_load(tmp, p.max_file_bytes, &w, &err) == EMO_OK, "%s: w2v_load: %s", name, err.msg);
    size_t n = 0;
    float *x = decode(clip, &n);
    const emo_speech_segment *s = &r->segments[0];
    size_t a = (size_t)(s->start * 16000), b = (size_t)(s->end * 16000);
    if (b > n) b = n;
    float logits[W2V_MAX_LABELS];
    if (w && x && a < b && w2v_classify(w, x + a, b - a, NULL, logits, NULL, &err) == EMO_OK) {
      int nl = w2v_n_labels(w);
      float mx = logits[0], z = 0, worst = 0;
      for (int i = 1; i < nl; i++) mx = fmaxf(mx, logits[i]);
      for (int i = 0; i < nl; i++) z += expf(logits[i] - mx);
      unsigned mask = 0;
      for (int i = 0; i < nl; i++) {
        const char *l = w2v_label(w, i);
        int e = -1;
        for (int k = 0; k < EMO_SPEECH_EMOTION_COUNT; k++)
          if (strncmp(emo_speech_emotion_name(k), l, 3) == 0) e = k;
        CHECK(e >= 0, "%s: label %s unmapped", name, l);
        if (e < 0) continue;
        mask |= 1u << e;
        worst = fmaxf(worst, fabsf(s->emotion[e] - expf(logits[i] - mx) / z));
      }
      printf("%s: %d labels, segment [%.2f, %.2f] s, worst |p - softmax(w2v)| %.2e\n", name, nl,
             s->start, s->end, worst);
      CHECK(s->labels == mask && r->labels == mask, "%s: labels 0x%x, want 0x%x", name, s->labels,
            mask);
      CHECK(worst < 1e-5f, "%s: probabilities differ from the model's by %.2e", name, worst);
      char *js = emo_segment_json(s);
      int listed = 0;
      for (int k = 0; js && k < EMO_SPEECH_EMOTION_COUNT; k++) {
        char key[32];
        snprintf(key, sizeof key, "\"%s\":", emo_speech_emotion_name(k));
        int in = strstr(js, key) != NULL;
        listed += in;
        CHECK(in == !!(mask & (1u << k)), "%s: JSON lists %s: %d", name, key, in);
      }
      CHECK(listed == nl, "%s: JSON lists %d labels, want %d", name, listed, nl);
      emo_free(js);
    } else {
      CHECK(0, "%s: reference run failed: %s", name, err.msg);
    }
    free(x);
    w2v_free(&w);
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);

  /* The same file with its first label renamed "xxx...": refused at load, naming it. */
  unsigned char *bad = malloc((size_t)mt->numel);
  const char key[] = "\"labels\":\"";
  unsigned char *at = NULL;
  if (bad) {
    memcpy(bad, mt->u8, (size_t)mt->numel);
    for (size_t i = 0; i + sizeof key < (size_t)mt->numel && !at; i++)
      if (memcmp(bad + i, key, sizeof key - 1) == 0) at = bad + i + sizeof key - 1;
  }
  CHECK(at != NULL, "%s: no labels metadata in the file", name);
  if (at) {
    for (; *at && *at != ',' && *at != '"'; at++) *at = 'x';
    f = fopen(tmp, "wb");
    CHECK(f && fwrite(bad, 1, (size_t)mt->numel, f) == (size_t)mt->numel, "write %s", tmp);
    if (f) fclose(f);
    char log[1024] = "";
    p.log = keep_log;
    p.log_user = log;
    p.log_level = EMO_LOG_ERROR;
    rc = emo_model_load(&p, &model);
    CHECK(rc == EMO_EUNSUPPORTED && strstr(log, "\"xxx"), "%s: renamed label: %s, log: %s", name,
          emo_status_str(rc), log);
    emo_model_destroy(&model);
  }
  free(bad);
  remove(tmp);
  fx_free(&fx);
}

int main(void) {
  const char *clip = th_data("ser/ravdess/Actor_20/03-01-05-02-01-01-20.flac");
  if (!clip || access(clip, R_OK) != 0) th_skip("../shared/data/ser is absent");
  if (!th_models_ready()) th_skip("models are not in the cache: run `emo models fetch`");
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) one_model(fixtures[i], clip);
  return th_finish("test_ser_model");
}
