/* model.c: emo_model_load / emo_model_destroy: verifies the model files params needs in the
 * cache (core/models.c), parses them into graphs (nn/ readers) and precomputes the detector
 * anchors. A loaded model is immutable, so any number of contexts may share it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/file.h"
#include "core/log.h"
#include "core/models.h"
#include "learn/feature_set.h"
#include "nn/tfjs_reader.h"
#include "nn/tflite_reader.h"
#include "pipeline/internal.h"
#include "vision/face_mesh.h"
#include "vision/faceapi_expression_net.h"

/* emo's speech-emotion weights (models/ser/emo_ser_v1.bin), linked in by
 * src/audio/ser_weights.S. */
extern const unsigned char emoi_ser_weights[];
extern const unsigned long emoi_ser_weights_size;
/* emo's own face-expression head (models/face_expression/emo_face_kdef_v2.head), linked in by
 * src/vision/face_head_weights.S. */
extern const unsigned char emoi_face_head[];
extern const unsigned long emoi_face_head_size;

/* The face feature blocks the model computes (learn/feature_set.h): every one when asked for,
 * and those the built-in expression head reads (expr_blocks, with EMO_EXPRESSION_EMO). */
static unsigned wanted_blocks(const emo_model_params *p, unsigned expr_blocks) {
  return (p->features ? FS_FACE_ALL : 0) | (p->expression == EMO_EXPRESSION_EMO ? expr_blocks : 0);
}

static int load_tflite(const emo_model_params *p, const char *name, nn_graph **out, emoi_err *err) {
  void *data = NULL;
  size_t size = 0;
  char path[4096];
  int rc = emoi_model_path(p, name, path, sizeof path, err);
  if (rc != EMO_OK) return rc;
  rc = emoi_model_read(p, name, &data, &size, err);
  if (rc != EMO_OK) return rc;
  rc = nn_tflite_load(data, size, path, out, err);
  free(data);
  return rc;
}

/* Verifies every file a multi-file model needs, then returns the path of the first. */
static int verify_all(const emo_model_params *p, const char *const *names, int n, char *path,
                      size_t path_size, emoi_err *err) {
  for (int i = 0; i < n; i++) {
    int rc = emoi_model_verify(p, names[i], err);
    if (rc != EMO_OK) return rc;
  }
  return emoi_model_path(p, names[0], path, path_size, err);
}

static int load_net(const emo_model_params *p, emoi_net net, nn_graph **out, emoi_err *err) {
  char path[4096];
  int rc;
  switch (net) {
    case EMOI_NET_DET_SHORT: return load_tflite(p, "blazeface_short", out, err);
    case EMOI_NET_DET_FULL: return load_tflite(p, "blazeface_full", out, err);
    case EMOI_NET_FER: {
      const char *names[] = {"fer_emotion_json", "fer_emotion_bin"};
      rc = verify_all(p, names, 2, path, sizeof path, err);
      return rc != EMO_OK ? rc : nn_tfjs_load(path, p->max_file_bytes, out, err);
    }
    case EMOI_NET_FACEAPI: {
      const char *names[] = {"faceapi_expression_json", "faceapi_expression_bin"};
      rc = verify_all(p, names, 2, path, sizeof path, err);
      return rc != EMO_OK ? rc : fe_faceapi_net_load(path, p->max_file_bytes, out, err);
    }
    case EMOI_NET_EMBED: {
      const char *names[] = {"faceres_json", "faceres_bin"};
      rc = verify_all(p, names, 2, path, sizeof path, err);
      return rc != EMO_OK ? rc : nn_tfjs_load(path, p->max_file_bytes, out, err);
    }
    default: return emoi_fail(err, EMO_EINTERNAL, "unknown network %d", (int)net);
  }
}

/* Whether net is needed for params p when the model computes the feature blocks `blocks`. */
static int needs_net(const emo_model_params *p, unsigned blocks, emoi_net net) {
  if (!p->faces) return 0;
  switch (net) {
    case EMOI_NET_DET_SHORT: return p->detector != EMO_DETECTOR_FULL;
    case EMOI_NET_DET_FULL: return p->detector != EMO_DETECTOR_SHORT;
    case EMOI_NET_FER:
      if (blocks & (FS_BIT(FS_FER_PENULTIMATE) | FS_BIT(FS_FER_PROBS))) return 1;
      return p->expression == EMO_EXPRESSION_FER || p->expression == EMO_EXPRESSION_ENSEMBLE;
    case EMOI_NET_FACEAPI:
      if (blocks & (FS_BIT(FS_FACEAPI_PENULTIMATE) | FS_BIT(FS_FACEAPI_PROBS))) return 1;
      return p->expression == EMO_EXPRESSION_FACEAPI || p->expression == EMO_EXPRESSION_ENSEMBLE;
    case EMOI_NET_EMBED: return p->reid != 0 || (blocks & FS_BIT(FS_FACE_EMBEDDING)) != 0;
    default: return 0;
  }
}

/* emo_speech_emotion named by a model's label (case-insensitive; the usual abbreviations of
 * IEMOCAP-style label sets too), or -1. */
static int speech_label(const char *label) {
  static const struct {
    const char *name;
    int e;
  } names[] = {{"angry", EMO_SPEECH_ANGRY},       {"anger", EMO_SPEECH_ANGRY},
               {"ang", EMO_SPEECH_ANGRY},         {"disgust", EMO_SPEECH_DISGUST},
               {"disgusted", EMO_SPEECH_DISGUST}, {"dis", EMO_SPEECH_DISGUST},
               {"fear", EMO_SPEECH_FEAR},         {"fearful", EMO_SPEECH_FEAR},
               {"fea", EMO_SPEECH_FEAR},          {"happy", EMO_SPEECH_HAPPY},
               {"happiness", EMO_SPEECH_HAPPY},   {"hap", EMO_SPEECH_HAPPY},
               {"sad", EMO_SPEECH_SAD},           {"sadness", EMO_SPEECH_SAD},
               {"surprise", EMO_SPEECH_SURPRISE}, {"surprised", EMO_SPEECH_SURPRISE},
               {"sur", EMO_SPEECH_SURPRISE},      {"neutral", EMO_SPEECH_NEUTRAL},
               {"neu", EMO_SPEECH_NEUTRAL},       {"calm", EMO_SPEECH_CALM}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(label, names[i].name) == 0) return names[i].e;
  return -1;
}

/* Loads emo_model_params.ser_model and maps its labels onto emo's speech emotions. */
static int load_user_ser(emo_model *m, const char *path, emoi_err *err) {
  int rc = w2v_load(path, m->params.max_file_bytes, &m->w2v, err);
  if (rc != EMO_OK) return rc;
  const unsigned char *bytes = NULL; /* its hash names it in the voice feature definition */
  size_t size = 0;
  rc = emoi_file_map(path, m->params.max_file_bytes, &bytes, &size, err);
  if (rc != EMO_OK) return rc;
  rc = emoi_sha256_hex(bytes, size, m->w2v_sha256);
  emoi_file_unmap(bytes, size);
  if (rc != EMO_OK) return emoi_fail(err, rc, "%s: sha256 failed", path);
  unsigned seen = 0;
  for (int i = 0; i < w2v_n_labels(m->w2v); i++) {
    int e = speech_label(w2v_label(m->w2v, i));
    if (e < 0)
      return emoi_fail(err, EMO_EUNSUPPORTED,
                       "%s: label \"%s\" names none of emo's speech emotions (angry disgust fear "
                       "happy sad surprise neutral calm); rename it with the converter's --labels",
                       path, w2v_label(m->w2v, i));
    if (seen & (1u << e))
      return emoi_fail(err, EMO_EUNSUPPORTED, "%s: two labels map to %s", path,
                       emo_speech_emotion_name(e));
    seen |= 1u << e;
    m->w2v_map[i] = e;
  }
  return EMO_OK;
}

/* The built-in expression head, read without the networks (its definition says which feature
 * blocks it reads, so which networks to load: *blocks), its classes mapped onto emo's 7 by
 * name. load_face_head_check then checks it against the networks loaded. */
static int load_face_head(emo_model *m, unsigned *blocks, emoi_err *err) {
  char msg[1024];
  int rc = emo_head_load_memory(emoi_face_head, (size_t)emoi_face_head_size, NULL, &m->expr_head,
                                msg, sizeof msg);
  if (rc != EMO_OK) return emoi_fail(err, rc, "built-in expression head: %s", msg);
  fs_def d;
  if (emo_head_classes(m->expr_head) != EMO_EXPR_COUNT ||
      emo_head_modality(m->expr_head) != EMO_MODALITY_FACE ||
      fs_parse(emo_head_definition(m->expr_head), &d, msg, sizeof msg) != EMO_OK)
    return emoi_fail(err, EMO_EINTERNAL, "built-in expression head: not 7 face classes");
  *blocks = fs_mask(&d);
  unsigned seen = 0;
  for (int i = 0; i < EMO_EXPR_COUNT; i++) {
    const char *name = emo_head_class_name(m->expr_head, i);
    int e = -1;
    for (int k = 0; k < EMO_EXPR_COUNT; k++)
      if (name && strcmp(name, emo_expression_name(k)) == 0) e = k;
    if (e < 0 || (seen & (1u << e)))
      return emoi_fail(err, EMO_EINTERNAL, "built-in expression head: class \"%s\"",
                       name ? name : "?");
    seen |= 1u << e;
    m->expr_map[i] = e;
  }
  return EMO_OK;
}

/* Checks the built-in head against the loaded networks: its feature definition names their
 * sha256 prefixes (and the files themselves were verified against the manifest). */
static int load_face_head_check(emo_model *m, emoi_err *err) {
  emoi_err he = {{0}};
  int rc = emoi_head_blocks(m, m->expr_head, &m->expr_blocks, &he);
  return rc == EMO_OK ? EMO_OK : emoi_fail(err, rc, "built-in expression head: %s", he.msg);
}

int emo_model_load(const emo_model_params *params, emo_model **out) {
  if (!out) return EMO_EINVAL;
  *out = NULL;
  emo_model_params p = params ? *params : emo_model_params_default();
  emoi_logger log = emoi_logger_make(p.log, p.log_user, p.log_level);
  if ((unsigned)p.detector >= EMO_DETECTOR_COUNT ||
      (unsigned)p.expression >= EMO_EXPRESSION_MODEL_COUNT || p.max_file_bytes <= 0) {
    emoi_log(&log, EMO_LOG_ERROR,
             "emo_model_params: detector, expression or max_file_bytes out of range");
    return EMO_EINVAL;
  }
  emo_model *m = calloc(1, sizeof *m);
  if (!m) return EMO_ENOMEM;
  emoi_err err = {{0}};
  int rc = emoi_models_dir(&p, m->models_dir_buf, sizeof m->models_dir_buf, &err);
  if (rc != EMO_OK) goto fail;
  p.models_dir = m->models_dir_buf;
  m->params = p;
  unsigned head_blocks = 0;
  if (p.faces && p.expression == EMO_EXPRESSION_EMO) {
    rc = load_face_head(m, &head_blocks, &err);
    if (rc != EMO_OK) goto fail;
  }
  const unsigned blocks = wanted_blocks(&p, head_blocks);
  for (int net = 0; net < EMOI_NET_COUNT; net++) {
    if (!needs_net(&p, blocks, (emoi_net)net)) continue;
    rc = load_net(&p, (emoi_net)net, &m->graphs[net], &err);
    if (rc == EMO_OK && !m->graphs[net]->finalized) rc = nn_graph_finalize(m->graphs[net], &err);
    if (rc == EMO_OK && blocks && (net == EMOI_NET_FER || net == EMOI_NET_FACEAPI)) {
      rc = nn_graph_add_penultimate_output(m->graphs[net], &err); /* learn/features.c */
      if (rc > 0) m->tap[net] = rc, rc = EMO_OK;
    }
    if (rc != EMO_OK) goto fail;
  }
  if (m->expr_head) {
    rc = load_face_head_check(m, &err);
    if (rc != EMO_OK) goto fail;
  }
  if (p.faces && p.landmarks) {
    void *data = NULL;
    size_t size = 0;
    char path[4096];
    rc = emoi_model_path(&p, "face_landmarker", path, sizeof path, &err);
    if (rc == EMO_OK) rc = emoi_model_read(&p, "face_landmarker", &data, &size, &err);
    if (rc == EMO_OK) rc = fm_bundle_load(data, size, path, &m->landmarker, &err);
    free(data);
    if (rc != EMO_OK) goto fail;
    if (!m->landmarker->blend)
      emoi_log(&log, EMO_LOG_WARN, "blendshapes unavailable (face details up to pose): %s",
               m->landmarker->blend_error);
  }
  if (p.voice) {
    void *data = NULL;
    size_t size = 0;
    char path[4096];
    rc = emoi_model_path(&p, "silero_vad_v5", path, sizeof path, &err);
    if (rc == EMO_OK) rc = emoi_model_read(&p, "silero_vad_v5", &data, &size, &err);
    if (rc == EMO_OK) rc = vad_load_graph(data, size, path, &m->vad_graph, &err);
    free(data);
    if (rc == EMO_OK)
      rc = ser_load(emoi_ser_weights, (size_t)emoi_ser_weights_size, "emo_ser_v1 (built in)",
                    &m->ser, &err);
    if (rc == EMO_OK && p.ser_model) rc = load_user_ser(m, p.ser_model, &err);
    if (rc != EMO_OK) goto fail;
  }
  if (bf_anchors_generate(&bf_short_range, m->anchors_short, 896) != 896 ||
      bf_anchors_generate(&bf_full_range, m->anchors_full, 2304) != 2304) {
    rc = emoi_fail(&err, EMO_EINTERNAL, "anchor generation failed");
    goto fail;
  }
  *out = m;
  return EMO_OK;
fail:
  emoi_log(&log, EMO_LOG_ERROR, "%s", err.msg);
  emo_model_destroy(&m);
  return rc;
}

void emo_model_destroy(emo_model **pm) {
  if (!pm || !*pm) return;
  emo_model *m = *pm;
  for (int i = 0; i < EMOI_NET_COUNT; i++) nn_graph_destroy(&m->graphs[i]);
  nn_graph_destroy(&m->vad_graph);
  fm_bundle_destroy(&m->landmarker);
  ser_destroy(&m->ser);
  w2v_free(&m->w2v);
  emo_head_destroy(&m->expr_head);
  free(m);
  *pm = NULL;
}
