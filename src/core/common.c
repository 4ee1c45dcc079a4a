/* common.c: the small public helpers every caller needs (status names, class names,
 * default parameters, the ABI version) and the internal logging entry point that routes messages to
 * the application's callback (the library never prints). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "emo.h"

const char *emo_status_str(int status) {
  switch (status) {
    case EMO_OK: return "ok";
    case EMO_EINVAL: return "invalid argument";
    case EMO_ENOMEM: return "out of memory";
    case EMO_EIO: return "input/output error";
    case EMO_EFORMAT: return "malformed or unsupported input";
    case EMO_EMODEL: return "malformed or corrupt model file";
    case EMO_EUNSUPPORTED: return "unsupported feature";
    case EMO_ELIMIT: return "resource limit exceeded";
    case EMO_ENOMODEL: return "model missing";
    case EMO_EEXTERNAL: return "external program failed";
    case EMO_EINTERNAL: return "internal error";
    default: return "unknown status";
  }
}

static const char *const expression_names[EMO_EXPR_COUNT] = {"angry", "disgust",  "fear",   "happy",
                                                             "sad",   "surprise", "neutral"};

const char *emo_expression_name(int expression) {
  if (expression < 0 || expression >= EMO_EXPR_COUNT) return "unknown";
  return expression_names[expression];
}

emo_model_params emo_model_params_default(void) {
  emo_model_params p;
  memset(&p, 0, sizeof p);
  p.models_dir = NULL;
  p.faces = 1;
  p.detector = EMO_DETECTOR_AUTO;
  p.expression = EMO_EXPRESSION_EMO;
  p.reid = 1;
  p.voice = 1;
  p.ser_model = NULL;
  p.max_file_bytes = (int64_t)2 << 30;
  p.log = NULL;
  p.log_user = NULL;
  p.log_level = EMO_LOG_WARN;
  return p;
}

emo_context_params emo_context_params_default(void) {
  emo_context_params p;
  memset(&p, 0, sizeof p);
  p.n_threads = 0;
  p.max_faces = 64;
  p.reference_kernels = 0;
  p.float_expression = 0;
  p.log = NULL;
  p.log_user = NULL;
  p.log_level = EMO_LOG_WARN;
  p.isa = EMO_ISA_AUTO;
  return p;
}

emo_run_params emo_run_params_default(void) {
  emo_run_params p;
  memset(&p, 0, sizeof p);
  p.detector = EMO_DETECTOR_AUTO;
  p.score_threshold = 0.5f;
  p.nms_iou_threshold = 0.3f;
  p.max_pixels = 100000000;
  p.max_file_bytes = (int64_t)512 << 20;
  p.face_details = EMO_DETAILS_NONE;
  p.output_landmarks = 0;
  p.min_mesh_face = 24.0f;
  p.landmark_crops = 0;
  p.analysis_fps = 0.0;
  p.detect_every = 0;
  p.track_timeout = 1.0;
  p.reid_threshold = 0.65f;
  p.smoothing = 0.5f;
  p.annotate_path = NULL;
  p.soundtrack = 1;
  p.persons = 1;
  p.protocols = NULL;
  p.io_timeout = 0.0;
  p.other_hosts = 0;
  p.audio_whole = 0;
  p.max_audio_seconds = 7200.0;
  p.vad_threshold = 0.2f;
  p.vad_min_speech_ms = 250;
  p.vad_min_silence_ms = 100;
  p.vad_pad_ms = 500;
  p.track_clustering = 1;
  return p;
}

int emo_abi_version(void) {
  return EMO_ABI_VERSION;
}

emoi_logger emoi_logger_make(emo_log_fn fn, void *user, emo_log_level level) {
  emoi_logger l = {fn, user, level};
  return l;
}

void emoi_vlog(const emoi_logger *l, emo_log_level level, const char *fmt, va_list ap) {
  if (!l || !l->fn || level > l->level) return;
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  l->fn(level, buf, l->user);
}

void emoi_log(const emoi_logger *l, emo_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emoi_vlog(l, level, fmt, ap);
  va_end(ap);
}
