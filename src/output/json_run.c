/* json_run.c: what produced a run, as the {"type":"run"} record that opens emo's JSON Lines
 * (emo_run_json, emo_run_json_kind; emo_analyze_media and emo_analyze_audio deliver it through
 * emo_media_callbacks.on_run): the kind of analysis, the file and its duration, emo's version,
 * the model files the analysis runs with their sha256 (from the committed manifest, which the
 * loader verified; emo's built-in speech-emotion model hashed here), every option that changes
 * the results by its emo_options name, and 16 hex digits of the sha256 of that options object
 * as written, so that two outputs can be told apart by what made them. Options that only change
 * how fast or where output goes (threads, ISA caps, protocols, timeouts, caps) are left out;
 * float_expression and reference_kernels are in (results differ in the last digits). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/models.h"
#include "output/strbuf.h"
#include "pipeline/internal.h"

extern const unsigned char emoi_ser_weights[];
extern const unsigned long emoi_ser_weights_size;

static void put_key(sb *b, int *first, const char *key) {
  sb_printf(b, "%s\"%s\":", *first ? "" : ",", key);
  *first = 0;
}

static void put_model(sb *b, int *first, const char *name) {
  const emoi_manifest_file *f = emoi_manifest_find(name);
  if (!f) return;
  put_key(b, first, name);
  sb_json_string(b, f->sha256);
}

static void put_num(sb *b, int *first, const char *key, double v) {
  put_key(b, first, key);
  if (isfinite(v))
    sb_printf(b, "%.7g", v);
  else
    sb_puts(b, "null");
}

static void put_str(sb *b, int *first, const char *key, const char *v) {
  put_key(b, first, key);
  sb_json_string_or_null(b, v);
}

/* A head you trained, named by its classes (what its answers are called). */
static void put_head(sb *b, int *first, const char *key, const emo_head *h) {
  put_key(b, first, key);
  sb_puts(b, "[");
  for (int i = 0; i < emo_head_classes(h); i++) {
    if (i) sb_puts(b, ",");
    sb_json_string(b, emo_head_class_name(h, i));
  }
  sb_puts(b, "]");
}

static const char *detector_name(emo_detector d) {
  return d == EMO_DETECTOR_SHORT ? "short" : d == EMO_DETECTOR_FULL ? "full" : "auto";
}

static const char *expression_name(emo_expression_model e) {
  static const char *const n[EMO_EXPRESSION_MODEL_COUNT] = {"fer", "faceapi", "ensemble", "none",
                                                            "emo"};
  return (unsigned)e < EMO_EXPRESSION_MODEL_COUNT ? n[e] : "?";
}

static const char *details_name(emo_details d) {
  return d == EMO_DETAILS_POSE ? "pose" : d == EMO_DETAILS_FULL ? "full" : "none";
}

char *emoi_run_json(const emo_context *ctx, const emo_run_params *rp, const char *kind,
                    const char *file, double duration, int soundtrack) {
  if (!ctx || !kind) return NULL;
  const emo_model *m = ctx->model;
  const emo_run_params d = rp ? *rp : emo_run_params_default();
  const int image = strcmp(kind, "image") == 0, audio = strcmp(kind, "audio") == 0;
  const int faces = !audio, speech = audio || (!image && soundtrack);
  /* persons as emo_analyze_media decides: asked for with the soundtrack and the speech models
   * (a file without sound still gets its face persons) */
  const int persons = !image && !audio && d.persons && d.soundtrack && m->vad_graph && m->ser;
  const int details = faces && m->landmarker && d.face_details != EMO_DETAILS_NONE;
  const char *spk = d.speaking_model;
  const int asd = persons && spk && strcmp(spk, "mouth") != 0;
  sb b = {0};
  sb_puts(&b, "{\"type\":\"run\",\"kind\":");
  sb_json_string(&b, kind);
  sb_puts(&b, ",\"file\":");
  sb_json_string_or_null(&b, file);
  sb_printf(&b, ",\"emo_version\":\"%s\",\"duration\":", EMO_VERSION_STRING);
  if (duration >= 0 && isfinite(duration))
    sb_printf(&b, "%.3f", duration);
  else
    sb_puts(&b, "null");
  sb_puts(&b, ",\"models\":{");
  int first = 1;
  if (faces) {
    if (m->graphs[EMOI_NET_DET_SHORT]) put_model(&b, &first, "blazeface_short");
    if (m->graphs[EMOI_NET_DET_FULL]) put_model(&b, &first, "blazeface_full");
    if (m->graphs[EMOI_NET_FER]) put_model(&b, &first, "fer_emotion_bin");
    if (m->graphs[EMOI_NET_FACEAPI]) put_model(&b, &first, "faceapi_expression_bin");
    if (!image && m->graphs[EMOI_NET_EMBED]) put_model(&b, &first, "faceres_bin");
    if (details) put_model(&b, &first, "face_landmarker");
  }
  char hex[65];
  if (speech && m->vad_graph) put_model(&b, &first, "silero_vad_v5");
  if (speech && m->vad_graph && !m->w2v &&
      emoi_sha256_hex(emoi_ser_weights, (size_t)emoi_ser_weights_size, hex) == EMO_OK) {
    put_key(&b, &first, "emo_ser_v1");
    sb_json_string(&b, hex);
  }
  if (speech && m->w2v) put_str(&b, &first, "ser_model", m->params.ser_model);
  if (asd && strcmp(spk, "lr_asd") == 0)
    put_model(&b, &first, "lr_asd_talkset");
  else if (asd)
    put_str(&b, &first, "speaking_model", spk);
  sb_puts(&b, "},\"options\":");
  /* the options object, hashed as written */
  sb o = {0};
  sb_puts(&o, "{");
  first = 1;
  if (faces) {
    put_str(&o, &first, "detector", detector_name(d.detector));
    put_str(&o, &first, "expression", expression_name(m->params.expression));
    put_num(&o, &first, "score_threshold", d.score_threshold);
    put_num(&o, &first, "nms_iou_threshold", d.nms_iou_threshold);
    put_str(&o, &first, "face_details", details_name(d.face_details));
    if (d.face_details != EMO_DETAILS_NONE) put_num(&o, &first, "min_mesh_face", d.min_mesh_face);
    put_num(&o, &first, "float_expression", ctx->params.float_expression);
    put_num(&o, &first, "reference_kernels", ctx->params.reference_kernels);
    if (d.landmark_crops) put_num(&o, &first, "landmark_crops", 1); /* only when set: */
    if (d.whole_face) put_num(&o, &first, "whole_face", 1);         /* older hashes stay */
    if (d.face_head) put_head(&o, &first, "face_head", d.face_head);
  }
  if (faces && !image) {
    put_num(&o, &first, "reid", m->graphs[EMOI_NET_EMBED] != NULL);
    put_num(&o, &first, "analysis_fps", d.analysis_fps);
    put_num(&o, &first, "detect_every", d.detect_every);
    put_num(&o, &first, "track_timeout", d.track_timeout);
    put_num(&o, &first, "reid_threshold", d.reid_threshold);
    put_num(&o, &first, "smoothing", d.smoothing);
    if (!d.track_clustering) put_num(&o, &first, "track_clustering", 0); /* older hashes stay */
    put_num(&o, &first, "gallery", d.gallery ? emo_gallery_count(d.gallery) : 0);
    put_num(&o, &first, "soundtrack", speech);
  }
  if (speech) {
    put_num(&o, &first, "audio_whole", audio ? d.audio_whole : 0);
    put_num(&o, &first, "vad_threshold", d.vad_threshold);
    put_num(&o, &first, "vad_min_speech_ms", d.vad_min_speech_ms);
    put_num(&o, &first, "vad_min_silence_ms", d.vad_min_silence_ms);
    put_num(&o, &first, "vad_pad_ms", d.vad_pad_ms);
    put_str(&o, &first, "ser_model", m->params.ser_model ? m->params.ser_model : "built-in");
    if (d.voice_head) put_head(&o, &first, "voice_head", d.voice_head);
  }
  if (!image && !audio) {
    put_num(&o, &first, "persons", persons);
    if (persons) put_str(&o, &first, "speaking_model", asd ? spk : "mouth");
  }
  sb_puts(&o, "}");
  char *opts = sb_take(&o);
  if (!opts) {
    free(sb_take(&b));
    return NULL;
  }
  sb_puts(&b, opts);
  sb_puts(&b, ",\"options_hash\":\"");
  if (emoi_sha256_hex(opts, strlen(opts), hex) == EMO_OK) sb_printf(&b, "%.16s", hex);
  free(opts);
  sb_puts(&b, "\"}");
  return sb_take(&b);
}

char *emo_run_json_kind(const emo_context *ctx, const emo_run_params *rp, const char *kind,
                        const char *file, double duration) {
  if (!ctx || !kind ||
      (strcmp(kind, "image") != 0 && strcmp(kind, "video") != 0 && strcmp(kind, "audio") != 0))
    return NULL;
  const int soundtrack = (rp ? rp->soundtrack : 1) && ctx->model->vad_graph;
  return emoi_run_json(ctx, rp, kind, file, duration, soundtrack);
}

char *emo_run_json(const emo_context *ctx, const emo_run_params *rp, const char *file) {
  return emo_run_json_kind(ctx, rp, "video", file, -1.0);
}

int emoi_run_deliver(const emo_context *c, const emo_media_callbacks *cb, const char *kind,
                     const char *url, double duration, int soundtrack) {
  if (!cb || !cb->on_run) return 0;
  char *line = emoi_run_json(c, &c->run, kind, url, duration, soundtrack);
  if (!line) return 0; /* out of memory: the analysis goes on without it */
  int stop = cb->on_run(line, strlen(line), cb->user);
  free(line);
  return stop;
}
