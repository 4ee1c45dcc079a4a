/* test_learn_features.c: emo's feature vectors (src/learn/features.c) on real inputs: KDEF
 * photos and a RAVDESS clip from ../shared/data. Each vector must have the documented layout
 * (blocks of the definition string; probabilities that sum to 1, a unit-length embedding, the
 * SER probabilities equal to what emo_analyze_audio reports), the same photo must give the
 * same vector twice, and a head must be refused by a model whose features differ from the
 * ones it was trained on, and accepted by the right one. Skips without the data or models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"

static float block_sum(const float *v, int a, int n) {
  float s = 0.0f;
  for (int i = a; i < a + n; i++) s += v[i];
  return s;
}

int main(void) {
  const char *root = th_data("faces/labelled/kdef-front/images");
  if (!root) th_skip("../shared/data absent (set EMO_SHARED_DATA)");
  char happy[4096], sad[4096], clip[4096];
  snprintf(happy, sizeof happy, "%s/AF01HAS.jpg", root);
  snprintf(sad, sizeof sad, "%s/AF01SAS.jpg", root);
  snprintf(clip, sizeof clip, "%s", th_data("ser/ravdess/Actor_01/03-01-05-02-01-01-01.flac"));
  if (!th_models_ready()) th_skip("models missing from the cache (run `emo models fetch`)");

  emo_model_params mp = emo_model_params_default();
  mp.features = 1;
  mp.expression = EMO_EXPRESSION_EMO; /* the built-in head, checked against its file below */
  emo_model *m = NULL;
  emo_context *c = NULL;
  CHECK(emo_model_load(&mp, &m) == EMO_OK, "model load");
  emo_context_params cp = emo_context_params_default();
  cp.float_expression = 1;
  CHECK(emo_context_create(m, &cp, &c) == EMO_OK, "context");
  if (!m || !c) return th_finish("test_learn_features");
  int dim = emo_features_dim(m, EMO_MODALITY_FACE);
  char def[1024];
  CHECK(emo_features_definition(m, EMO_MODALITY_FACE, def, sizeof def) == EMO_OK, "definition");
  printf("face: %d features: %s\n", dim, def);
  CHECK(dim == 256 + 256 + 1024 + 14, "face dim %d", dim);
  CHECK(strstr(def, "emo-face-features 1: fer_penultimate 256, faceapi_penultimate 256") != NULL,
        "%s", def);

  const emo_image_result *r = NULL;
  const float *f = NULL;
  float first[2048];
  CHECK(emo_image_features(c, NULL, happy, &r, &f) == EMO_OK, "%s", emo_context_last_error(c));
  if (r && f && r->face_count == 1 && dim <= 2048) {
    memcpy(first, f, sizeof(float) * dim);
    int e = 512, p = e + 1024;
    CHECK(fabsf(block_sum(f, p, 7) - 1.0f) < 1e-3f && fabsf(block_sum(f, p + 7, 7) - 1.0f) < 1e-3f,
          "probabilities sum to %g and %g", block_sum(f, p, 7), block_sum(f, p + 7, 7));
    double n2 = 0;
    for (int i = e; i < e + 1024; i++) n2 += (double)f[i] * f[i];
    CHECK(fabs(n2 - 1.0) < 1e-3, "embedding norm^2 %g", n2);
    CHECK(f[p + EMO_EXPR_HAPPY] > 0.5f, "fer happy %g", f[p + EMO_EXPR_HAPPY]);
    CHECK(f[p + 7 + EMO_EXPR_HAPPY] > 0.5f, "face-api happy %g", f[p + 7 + EMO_EXPR_HAPPY]);
    /* the expression model EMO_EXPRESSION_EMO is the committed head file applied
       to this very vector: the library's built-in copy is that file, checked against these
       models */
    emo_head *kh = NULL;
    char herr[1024];
    CHECK(emo_head_load(EMO_SOURCE_DIR "/models/face_expression/emo_face_kdef_v1.head", m, &kh,
                        herr, sizeof herr) == EMO_OK,
          "%s", herr);
    if (kh) {
      float hp[EMO_EXPR_COUNT];
      int k = emo_head_predict(kh, f, hp, NULL);
      CHECK(k >= 0 && strcmp(emo_head_class_name(kh, k), "happy") == 0, "head says %s",
            k >= 0 ? emo_head_class_name(kh, k) : "?");
      for (int i = 0; i < EMO_EXPR_COUNT; i++) {
        int e = -1;
        for (int q = 0; q < EMO_EXPR_COUNT; q++)
          if (strcmp(emo_head_class_name(kh, i), emo_expression_name(q)) == 0) e = q;
        CHECK(e >= 0 && fabsf(hp[i] - r->faces[0].expression[e]) < 1e-5f, "%s: %g vs %g",
              emo_head_class_name(kh, i), hp[i], e >= 0 ? r->faces[0].expression[e] : -1.0f);
      }
      CHECK(r->faces[0].dominant == EMO_EXPR_HAPPY, "dominant %d", r->faces[0].dominant);
      emo_head_destroy(&kh);
    }
    CHECK(emo_image_features(c, NULL, happy, &r, &f) == EMO_OK && r->face_count == 1 &&
              memcmp(f, first, sizeof(float) * dim) == 0,
          "same photo, same vector");
    CHECK(emo_image_features(c, NULL, sad, &r, &f) == EMO_OK && r->face_count == 1 &&
              memcmp(f, first, sizeof(float) * dim) != 0,
          "another photo, another vector");
  } else {
    CHECK(0, "expected one face in %s", happy);
  }

  /* voice: one whole clip */
  emo_run_params rp = emo_run_params_default();
  rp.audio_whole = 1;
  const emo_audio_result *a = NULL;
  int vd = emo_features_dim(m, EMO_MODALITY_VOICE);
  CHECK(vd == 128 + 8 + 6, "voice dim %d", vd);
  CHECK(emo_audio_features(c, &rp, clip, &a, &f) == EMO_OK, "%s", emo_context_last_error(c));
  if (a && f && a->segment_count == 1) {
    for (int k = 0; k < 8; k++)
      CHECK(fabsf(f[128 + k] - a->segments[0].emotion[k]) < 1e-4f, "ser prob %d: %g vs %g", k,
            f[128 + k], a->segments[0].emotion[k]);
    CHECK(fabsf(f[136] - a->segments[0].prosody.f0_mean) < 1e-3f, "prosody f0");
  } else {
    CHECK(0, "expected one segment");
  }

  /* a head refuses features of another definition, and accepts its own */
  float x[4 * 142];
  int y[4] = {0, 1, 0, 1}, per[4] = {0, 0, 1, 1};
  const char *names[2] = {"a", "b"};
  for (int i = 0; i < 4 * 142; i++) x[i] = (float)((i * 31) % 17) + (float)y[i / 142];
  char vdef[1024];
  emo_features_definition(m, EMO_MODALITY_VOICE, vdef, sizeof vdef);
  const char *defs[2] = {"emo-voice-features 0: another model", vdef};
  for (int k = 0; k < 2; k++) {
    emo_train_set s = {4, 142, x, y, 2, names, per, NULL, EMO_MODALITY_VOICE, defs[k], NULL};
    emo_head *h = NULL, *back = NULL;
    char err[1024], path[] = "/tmp/emo_test_lf_XXXXXX";
    CHECK(emo_head_train(&s, NULL, &h, err, sizeof err) == EMO_OK, "%s", err);
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    CHECK(emo_head_save(h, path, err, sizeof err) == EMO_OK, "%s", err);
    int rc = emo_head_load(path, m, &back, err, sizeof err);
    if (k == 0)
      CHECK(rc == EMO_EMODEL && !back && strstr(err, "retrain"), "foreign head: %d %s", rc, err);
    else
      CHECK(rc == EMO_OK && back, "own head refused: %s", err);
    remove(path);
    emo_head_destroy(&h);
    emo_head_destroy(&back);
  }
  emo_context_destroy(&c);
  emo_model_destroy(&m);
  return th_finish("test_learn_features");
}
