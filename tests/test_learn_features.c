/* test_learn_features.c: emo's feature vectors (src/learn/features.c) on real inputs: KDEF
 * photos and a RAVDESS clip from ../shared/data. Each vector must have the documented layout
 * (blocks of the definition string; probabilities that sum to 1, a unit-length embedding, the
 * SER probabilities equal to what emo_analyze_audio reports), the same photo must give the
 * same vector twice, and a head must be refused by a model whose features differ from the
 * ones it was trained on, and accepted by the right one; subsets of the face vector
 * (emo_features_select) and the built-in head reading only its blocks, computed once when a face
 * head shares the call. Skips without the data or models. */
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

/* The block names of a definition ("a,b" of "emo-face-features 1: a 256, b 7; models ..."). */
static void block_names(const char *def, char *out, size_t size) {
  const char *p = strstr(def, ": "), *end = strstr(def, "; models ");
  size_t n = 0;
  out[0] = 0;
  for (p = p ? p + 2 : def; p && p < end;) {
    const char *sp = strchr(p, ' '), *q = strstr(p, ", ");
    if (!sp || n + (size_t)(sp - p) + 2 > size) break;
    n += (size_t)snprintf(out + n, size - n, "%s%.*s", n ? "," : "", (int)(sp - p), p);
    p = q && q < end ? q + 2 : end;
  }
}

/* The expression of EMO_EXPRESSION_EMO is the committed head file (the library's built-in copy
 * is that file, checked against these models) applied to its blocks of this photo's whole
 * vector f (dim values, definition def), taken out by emo_features_select. */
static void check_builtin_head(const emo_model *m, emo_context *c, const float *f,
                               const emo_image_result *r, int dim, const char *def) {
  emo_head *kh = NULL;
  char herr[1024], names[256], sub[1024];
  CHECK(emo_head_load(EMO_SOURCE_DIR "/models/face_expression/emo_face_kdef_v2.head", m, &kh, herr,
                      sizeof herr) == EMO_OK,
        "%s", herr);
  if (!kh) return;
  block_names(emo_head_definition(kh), names, sizeof names);
  int cols[2048];
  float x[2048], hp[EMO_EXPR_COUNT];
  int n = emo_features_select(def, names, sub, sizeof sub, cols, 2048, herr, sizeof herr);
  printf("built-in head reads %s: %d of %d values\n", names, n, dim);
  CHECK(n == emo_head_dim(kh) && strcmp(sub, emo_head_definition(kh)) == 0 && n < dim,
        "select %s: %d columns, \"%s\" vs the head's \"%s\"", names, n, sub,
        emo_head_definition(kh));
  for (int j = 0; j < n && n == emo_head_dim(kh); j++) x[j] = f[cols[j]];
  int k = n == emo_head_dim(kh) ? emo_head_predict(kh, x, hp, NULL) : -1;
  CHECK(k >= 0 && strcmp(emo_head_class_name(kh, k), "happy") == 0, "head says %s",
        k >= 0 ? emo_head_class_name(kh, k) : "?");
  for (int i = 0; k >= 0 && i < EMO_EXPR_COUNT; i++) {
    int e = -1;
    for (int q = 0; q < EMO_EXPR_COUNT; q++)
      if (strcmp(emo_head_class_name(kh, i), emo_expression_name(q)) == 0) e = q;
    CHECK(e >= 0 && fabsf(hp[i] - r->faces[0].expression[e]) < 1e-5f, "%s: %g vs %g",
          emo_head_class_name(kh, i), hp[i], e >= 0 ? r->faces[0].expression[e] : -1.0f);
  }
  CHECK(r->faces[0].dominant == EMO_EXPR_HAPPY, "dominant %d", r->faces[0].dominant);
  emo_head_destroy(&kh);
  (void)c;
}

/* With the built-in head and a face head on the whole vector in one call, the face vector is
 * computed once for both: the face head's answer must still be the head applied to the whole
 * vector f of the same photo (dim values; emo_image_features rebuilds the detection from the
 * reported box, hence a tolerance far below what a misplaced block would change). */
static void check_shared_vector(const emo_model *m, emo_context *c, const char *photo,
                                const float *f, int dim, const float expression[EMO_EXPR_COUNT]) {
  emo_head *fh = NULL;
  char herr[1024];
  CHECK(emo_head_load(EMO_SOURCE_DIR "/models/face_expression/emo_face_kdef_v1.head", m, &fh, herr,
                      sizeof herr) == EMO_OK &&
            emo_head_dim(fh) == dim,
        "%s", herr);
  if (!fh) return;
  float want[EMO_EXPR_COUNT], saved[2048];
  memcpy(saved, f, sizeof(float) * (size_t)dim); /* f is the context's: the next call reuses it */
  emo_head_predict(fh, saved, want, NULL);
  emo_run_params rp = emo_run_params_default();
  rp.face_head = fh;
  const emo_image_result *r = NULL;
  CHECK(emo_analyze_file(c, &rp, photo, &r) == EMO_OK && r->face_count == 1 && r->faces[0].custom,
        "%s", emo_context_last_error(c));
  /* the built-in head takes its blocks out of the shared vector: its answer is unchanged */
  for (int i = 0; r && r->face_count == 1 && i < EMO_EXPR_COUNT; i++)
    CHECK(r->faces[0].expression[i] == expression[i], "expression %d with a face head: %g vs %g", i,
          r->faces[0].expression[i], expression[i]);
  for (int i = 0; r && r->face_count == 1 && r->faces[0].custom && i < EMO_EXPR_COUNT; i++)
    CHECK(fabsf(r->faces[0].custom[i] - want[i]) < 1e-5f, "shared vector, class %d: %g vs %g", i,
          r->faces[0].custom[i], want[i]);
  emo_head_destroy(&fh);
}

/* Subsets of the face vector: emo_features_select's columns and definition, and the default
 * model (EMO_EXPRESSION_EMO, no features = 1) computing only what its head reads: it loads the
 * built-in head's blocks and refuses a head on the whole vector, naming a block it lacks. */
static void check_subsets(const char *def) {
  char sub[1024], err[512];
  int cols[300];
  int n = emo_features_select(def, "faceapi_probs,faceapi_penultimate", sub, sizeof sub, cols, 300,
                              err, sizeof err);
  CHECK(n == 263 && cols[0] == 256 && cols[255] == 511 && cols[256] == 256 + 256 + 1024 + 7 &&
            cols[262] == 1549,
        "faceapi blocks: %d columns (%s)", n, n < 0 ? err : "");
  CHECK(n > 0 &&
            strncmp(sub,
                    "emo-face-features 1: faceapi_penultimate 256, faceapi_probs 7; "
                    "models faceapi_expression_bin ",
                    93) == 0 &&
            !strstr(sub, "fer_emotion_bin") && !strstr(sub, "faceres"),
        "subset definition: %s", sub);
  CHECK(emo_features_select(def, "faceapi_probs,smile", sub, sizeof sub, cols, 300, err,
                            sizeof err) == EMO_EINVAL &&
            strstr(err, "\"smile\"") && strstr(err, "face_embedding"),
        "unknown block refused, naming it and the blocks there are: %s", err);
  CHECK(emo_features_select(def, "face_embedding", sub, sizeof sub, cols, 10, err, sizeof err) ==
            EMO_EINVAL,
        "columns beyond max_columns refused");
  emo_model_params mp = emo_model_params_default();
  mp.voice = 0;
  emo_model *m = NULL;
  CHECK(mp.expression == EMO_EXPRESSION_EMO && emo_model_load(&mp, &m) == EMO_OK,
        "default model (emo's head)");
  if (!m) return;
  emo_head *h = NULL;
  CHECK(emo_features_dim(m, EMO_MODALITY_FACE) == 0, "the default model computes no whole vector");
  CHECK(emo_head_load(EMO_SOURCE_DIR "/models/face_expression/emo_face_kdef_v2.head", m, &h, err,
                      sizeof err) == EMO_OK,
        "the built-in head's file on the default model: %s", err);
  emo_head_destroy(&h);
  CHECK(emo_head_load(EMO_SOURCE_DIR "/models/face_expression/emo_face_kdef_v1.head", m, &h, err,
                      sizeof err) == EMO_EINVAL &&
            !h && strstr(err, "fer_penultimate") && strstr(err, "features = 1"),
        "a head on the whole vector refused by the default model: %s", err);
  emo_model_destroy(&m);
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
    check_builtin_head(m, c, f, r, dim, def);
    float expr[EMO_EXPR_COUNT];
    memcpy(expr, r->faces[0].expression, sizeof expr);
    check_shared_vector(m, c, happy, f, dim, expr);
    CHECK(emo_image_features(c, NULL, happy, &r, &f) == EMO_OK && r->face_count == 1 &&
              memcmp(f, first, sizeof(float) * dim) == 0,
          "same photo, same vector");
    CHECK(emo_image_features(c, NULL, sad, &r, &f) == EMO_OK && r->face_count == 1 &&
              memcmp(f, first, sizeof(float) * dim) != 0,
          "another photo, another vector");
  } else {
    CHECK(0, "expected one face in %s", happy);
  }

  check_subsets(def);

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
