/* options.c: emo_options, the three params structs (emo_model_params, emo_context_params,
 * emo_run_params) behind one opaque handle whose fields are set by name from strings. It is what
 * a binding uses (the Python package: python/emo/) so that it never mirrors a C struct's
 * layout: the names are the struct fields' own, a value is parsed as the field's type, and the
 * handle lends the structs to emo_model_load, emo_context_create and the analysis calls.
 * Ranges are left to those calls, which refuse a value out of range with a message naming the
 * field; this file only parses (a number that is not one, an unknown enum name) and copies the
 * strings it is given. A new params field needs one row in the table below. The heads of
 * emo_run_params (face_head, voice_head) are given as file paths: the handle loads each head
 * (emo_head_load without a model: the analysis call checks it against its model) and owns it. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"

typedef enum opt_type {
  T_BOOL,
  T_INT,
  T_INT64,
  T_FLOAT,
  T_DOUBLE,
  T_STRING,
  T_DETECTOR,
  T_EXPRESSION,
  T_LOG_LEVEL,
  T_DETAILS,
  T_ISA,
  T_HEAD /* a head file's path; the field gets the loaded head */
} opt_type;

enum { IN_MODEL = 1, IN_CONTEXT = 2, IN_RUN = 4 };

typedef struct opt_def {
  const char *name;
  opt_type type;
  int in;              /* which structs hold it (several: set in each, e.g. detector) */
  size_t off[3];       /* offset in the model, context, run params (where `in` says) */
  const char *summary; /* what emo_options_describe returns */
} opt_def;

#define M(f) offsetof(emo_model_params, f)
#define C(f) offsetof(emo_context_params, f)
#define R(f) offsetof(emo_run_params, f)

/* Names are the fields' own; where the model and run params both have a field of one name and
 * different meanings (max_file_bytes), the model's takes the prefix model_. */
static const opt_def k_opts[] = {
    {"models_dir", T_STRING, IN_MODEL, {M(models_dir), 0, 0}, "model cache folder"},
    {"faces", T_BOOL, IN_MODEL, {M(faces), 0, 0}, "load the face models"},
    {"detector",
     T_DETECTOR,
     IN_MODEL | IN_RUN,
     {M(detector), 0, R(detector)},
     "auto|short|full (loads and runs only that one)"},
    {"expression", T_EXPRESSION, IN_MODEL, {M(expression), 0, 0}, "emo|fer|faceapi|ensemble|none"},
    {"reid", T_BOOL, IN_MODEL, {M(reid), 0, 0}, "load the face-embedding model"},
    {"landmarks", T_BOOL, IN_MODEL, {M(landmarks), 0, 0}, "load the Face Landmarker bundle"},
    {"features", T_BOOL, IN_MODEL, {M(features), 0, 0}, "compute feature vectors (heads)"},
    {"voice", T_BOOL, IN_MODEL, {M(voice), 0, 0}, "load the speech models"},
    {"ser_model", T_STRING, IN_MODEL, {M(ser_model), 0, 0}, "wav2vec2 speech-emotion model"},
    {"model_max_file_bytes",
     T_INT64,
     IN_MODEL,
     {M(max_file_bytes), 0, 0},
     "largest model file read"},
    {"n_threads", T_INT, IN_CONTEXT, {0, C(n_threads), 0}, "threads classifying faces"},
    {"max_faces", T_INT, IN_CONTEXT, {0, C(max_faces), 0}, "most faces per image or frame"},
    {"reference_kernels", T_BOOL, IN_CONTEXT, {0, C(reference_kernels), 0}, "plain C kernels"},
    {"isa", T_ISA, IN_CONTEXT, {0, C(isa), 0}, "auto|scalar|avx2|avx512 kernel cap"},
    {"float_expression", T_BOOL, IN_CONTEXT, {0, C(float_expression), 0}, "float32 expression"},
    {"log_level",
     T_LOG_LEVEL,
     IN_MODEL | IN_CONTEXT,
     {M(log_level), C(log_level), 0},
     "error|warn|info|debug"},
    {"score_threshold", T_FLOAT, IN_RUN, {0, 0, R(score_threshold)}, "detection threshold"},
    {"nms_iou_threshold", T_FLOAT, IN_RUN, {0, 0, R(nms_iou_threshold)}, "NMS overlap"},
    {"max_pixels", T_INT64, IN_RUN, {0, 0, R(max_pixels)}, "largest image or frame (w*h)"},
    {"max_file_bytes", T_INT64, IN_RUN, {0, 0, R(max_file_bytes)}, "largest image file"},
    {"face_details", T_DETAILS, IN_RUN, {0, 0, R(face_details)}, "none|pose|full per face"},
    {"output_landmarks", T_BOOL, IN_RUN, {0, 0, R(output_landmarks)}, "write the 478 landmarks"},
    {"min_mesh_face", T_FLOAT, IN_RUN, {0, 0, R(min_mesh_face)}, "smallest face given details"},
    {"landmark_crops",
     T_BOOL,
     IN_RUN,
     {0, 0, R(landmark_crops)},
     "expression crops aligned by the landmarks"},
    {"analysis_fps", T_DOUBLE, IN_RUN, {0, 0, R(analysis_fps)}, "frames analysed per second"},
    {"detect_every", T_INT, IN_RUN, {0, 0, R(detect_every)}, "detector every K frames"},
    {"track_timeout", T_DOUBLE, IN_RUN, {0, 0, R(track_timeout)}, "seconds a track survives"},
    {"reid_threshold", T_FLOAT, IN_RUN, {0, 0, R(reid_threshold)}, "re-identification cosine"},
    {"smoothing", T_FLOAT, IN_RUN, {0, 0, R(smoothing)}, "smoothed expression time constant"},
    {"annotate_path", T_STRING, IN_RUN, {0, 0, R(annotate_path)}, "annotated video output"},
    {"soundtrack", T_BOOL, IN_RUN, {0, 0, R(soundtrack)}, "analyse a video's soundtrack"},
    {"persons", T_BOOL, IN_RUN, {0, 0, R(persons)}, "speaking scores and persons"},
    {"speaking_model",
     T_STRING,
     IN_RUN,
     {0, 0, R(speaking_model)},
     "speaking scores: mouth, lr_asd or a checkpoint path"},
    {"protocols", T_STRING, IN_RUN, {0, 0, R(protocols)}, "protocols a URL may use"},
    {"io_timeout", T_DOUBLE, IN_RUN, {0, 0, R(io_timeout)}, "network timeout in seconds"},
    {"other_hosts", T_BOOL, IN_RUN, {0, 0, R(other_hosts)}, "playlists may leave their host"},
    {"audio_whole", T_BOOL, IN_RUN, {0, 0, R(audio_whole)}, "the audio is one segment"},
    {"track_clustering",
     T_BOOL,
     IN_RUN,
     {0, 0, R(track_clustering)},
     "final identities joined across shots"},
    {"whole_face", T_BOOL, IN_RUN, {0, 0, R(whole_face)}, "photos are face crops: no detection"},
    {"max_audio_seconds", T_DOUBLE, IN_RUN, {0, 0, R(max_audio_seconds)}, "longest audio"},
    {"vad_threshold", T_FLOAT, IN_RUN, {0, 0, R(vad_threshold)}, "speech probability"},
    {"vad_min_speech_ms", T_INT, IN_RUN, {0, 0, R(vad_min_speech_ms)}, "shortest speech"},
    {"vad_min_silence_ms", T_INT, IN_RUN, {0, 0, R(vad_min_silence_ms)}, "silence ending speech"},
    {"vad_pad_ms", T_INT, IN_RUN, {0, 0, R(vad_pad_ms)}, "padding around speech"},
    {"face_head", T_HEAD, IN_RUN, {0, 0, R(face_head)}, "head file (emo train) for every face"},
    {"voice_head", T_HEAD, IN_RUN, {0, 0, R(voice_head)}, "head file (emo train) per segment"},
};
#define N_OPTS ((int)(sizeof k_opts / sizeof k_opts[0]))

struct emo_options {
  emo_model_params mp;
  emo_context_params cp;
  emo_run_params rp;
  char *strings[N_OPTS];   /* the copies that string fields point to */
  emo_head *heads[N_OPTS]; /* the heads that head fields point to */
  char error[256];
};

int emo_options_create(emo_options **out) {
  if (!out) return EMO_EINVAL;
  *out = NULL;
  emo_options *o = calloc(1, sizeof *o);
  if (!o) return EMO_ENOMEM;
  o->mp = emo_model_params_default();
  o->cp = emo_context_params_default();
  o->rp = emo_run_params_default();
  *out = o;
  return EMO_OK;
}

void emo_options_destroy(emo_options **p) {
  if (!p || !*p) return;
  for (int i = 0; i < N_OPTS; i++) {
    free((*p)->strings[i]);
    emo_head_destroy(&(*p)->heads[i]);
  }
  free(*p);
  *p = NULL;
}

const char *emo_options_name(int i) {
  return i >= 0 && i < N_OPTS ? k_opts[i].name : NULL;
}

const char *emo_options_describe(int i) {
  return i >= 0 && i < N_OPTS ? k_opts[i].summary : NULL;
}

const char *emo_options_last_error(const emo_options *o) {
  return o ? o->error : "";
}

static int fail(emo_options *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int fail(emo_options *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->error, sizeof o->error, fmt, ap);
  va_end(ap);
  return EMO_EINVAL;
}

static int parse_enum(const char *v, const char *const *names, int n, int *out) {
  for (int i = 0; i < n; i++)
    if (strcmp(v, names[i]) == 0) {
      *out = i;
      return 0;
    }
  return -1;
}

static int parse_int64(const char *v, int64_t lo, int64_t hi, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return -1;
  *out = x;
  return 0;
}

static int parse_double(const char *v, double *out) {
  char *end = NULL;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !isfinite(x)) return -1;
  *out = x;
  return 0;
}

/* Writes the parsed value of d into the struct at base + off. */
static int store(emo_options *o, int idx, void *field, const char *v) {
  const opt_def *d = &k_opts[idx];
  static const char *const bools[] = {"0", "1", "false", "true", "no", "yes"};
  static const char *const detectors[] = {"auto", "short", "full"};
  static const char *const expressions[] = {"fer", "faceapi", "ensemble", "none", "emo"};
  static const char *const levels[] = {"error", "warn", "info", "debug"};
  static const char *const details[] = {"none", "pose", "full"};
  static const char *const isas[] = {"auto", "scalar", "avx2", "avx512"};
  int e;
  int64_t n;
  double x;
  switch (d->type) {
    case T_BOOL:
      if (parse_enum(v, bools, 6, &e))
        return fail(o, "option %s: expected 0 or 1, got \"%s\"", d->name, v);
      *(int *)field = e & 1;
      return EMO_OK;
    case T_INT:
      if (parse_int64(v, -2147483647 - 1, 2147483647, &n))
        return fail(o, "option %s: expected an integer, got \"%s\"", d->name, v);
      *(int *)field = (int)n;
      return EMO_OK;
    case T_INT64:
      if (parse_int64(v, INT64_MIN, INT64_MAX, &n))
        return fail(o, "option %s: expected an integer, got \"%s\"", d->name, v);
      *(int64_t *)field = n;
      return EMO_OK;
    case T_FLOAT:
    case T_DOUBLE:
      if (parse_double(v, &x))
        return fail(o, "option %s: expected a number, got \"%s\"", d->name, v);
      if (d->type == T_FLOAT)
        *(float *)field = (float)x;
      else
        *(double *)field = x;
      return EMO_OK;
    case T_STRING: *(const char **)field = o->strings[idx]; return EMO_OK;
    case T_HEAD: *(const emo_head **)field = o->heads[idx]; return EMO_OK;
    case T_DETECTOR:
      if (parse_enum(v, detectors, 3, &e))
        return fail(o, "option %s: expected auto, short or full, got \"%s\"", d->name, v);
      *(emo_detector *)field = (emo_detector)e;
      return EMO_OK;
    case T_EXPRESSION:
      if (parse_enum(v, expressions, 5, &e))
        return fail(o, "option %s: expected emo, fer, faceapi, ensemble or none, got \"%s\"",
                    d->name, v);
      *(emo_expression_model *)field = (emo_expression_model)e;
      return EMO_OK;
    case T_LOG_LEVEL:
      if (parse_enum(v, levels, 4, &e))
        return fail(o, "option %s: expected error, warn, info or debug, got \"%s\"", d->name, v);
      *(emo_log_level *)field = (emo_log_level)e;
      return EMO_OK;
    case T_DETAILS:
      if (parse_enum(v, details, 3, &e))
        return fail(o, "option %s: expected none, pose or full, got \"%s\"", d->name, v);
      *(emo_details *)field = (emo_details)e;
      return EMO_OK;
    case T_ISA:
      if (parse_enum(v, isas, 4, &e))
        return fail(o, "option %s: expected auto, scalar, avx2 or avx512, got \"%s\"", d->name, v);
      *(emo_isa *)field = (emo_isa)e;
      return EMO_OK;
  }
  return fail(o, "option %s: unknown type", d->name);
}

int emo_options_set(emo_options *o, const char *name, const char *value) {
  if (!o) return EMO_EINVAL;
  o->error[0] = 0;
  if (!name) return fail(o, "option name is NULL");
  int idx = -1;
  for (int i = 0; i < N_OPTS && idx < 0; i++)
    if (strcmp(k_opts[i].name, name) == 0) idx = i;
  if (idx < 0) return fail(o, "unknown option %.200s", name);
  const opt_def *d = &k_opts[idx];
  /* NULL restores the default; a string field's default is NULL. */
  emo_model_params dm = emo_model_params_default();
  emo_context_params dc = emo_context_params_default();
  emo_run_params dr = emo_run_params_default();
  char *base[3] = {(char *)&o->mp, (char *)&o->cp, (char *)&o->rp};
  const char *defs[3] = {(const char *)&dm, (const char *)&dc, (const char *)&dr};
  static const size_t sizes[] = {sizeof(int),           sizeof(int),
                                 sizeof(int64_t),       sizeof(float),
                                 sizeof(double),        sizeof(const char *),
                                 sizeof(emo_detector),  sizeof(emo_expression_model),
                                 sizeof(emo_log_level), sizeof(emo_details),
                                 sizeof(emo_isa),       sizeof(const emo_head *)};
  _Static_assert(sizeof sizes / sizeof sizes[0] == T_HEAD + 1, "a size for every option type");
  if (d->type == T_STRING) {
    char *copy = NULL;
    if (value && !(copy = strdup(value))) return EMO_ENOMEM;
    free(o->strings[idx]);
    o->strings[idx] = copy;
  }
  if (d->type == T_HEAD) { /* NULL: no head */
    emo_head *h = NULL;
    char err[200];
    if (value && emo_head_load(value, NULL, &h, err, sizeof err) != EMO_OK)
      return fail(o, "option %s: %s", d->name, err);
    emo_head_destroy(&o->heads[idx]);
    o->heads[idx] = h;
  }
  for (int s = 0; s < 3; s++) {
    if (!(d->in & (1 << s))) continue;
    void *field = base[s] + d->off[s];
    if (!value && d->type != T_STRING && d->type != T_HEAD) {
      memcpy(field, defs[s] + d->off[s], sizes[d->type]);
      continue;
    }
    int rc = store(o, idx, field, value ? value : "");
    if (rc != EMO_OK) return rc;
  }
  return EMO_OK;
}

void emo_options_set_log(emo_options *o, emo_log_fn fn, void *user) {
  if (!o) return;
  o->mp.log = o->cp.log = fn;
  o->mp.log_user = o->cp.log_user = user;
}

const emo_model_params *emo_options_model_params(const emo_options *o) {
  return o ? &o->mp : NULL;
}

const emo_context_params *emo_options_context_params(const emo_options *o) {
  return o ? &o->cp : NULL;
}

const emo_run_params *emo_options_run_params(const emo_options *o) {
  return o ? &o->rp : NULL;
}
