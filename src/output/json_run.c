/* json_run.c: what produced a run (emo_run_json): the file, emo's version, the model files the
 * context runs with their sha256 (from the committed manifest, which the loader verified; emo's
 * built-in speech-emotion model hashed here), and one hash of every option that changes the
 * results. The report's header shows it, so two pages can be told apart by what made them.
 * Options that only change how fast or where output goes (threads, protocols, timeouts, caps)
 * are left out of the hash; float_expression and reference_kernels are in (results differ in
 * the last digits). */
#include <stdint.h>
#include <string.h>

#include "core/models.h"
#include "output/strbuf.h"
#include "pipeline/internal.h"

extern const unsigned char emoi_ser_weights[];
extern const unsigned long emoi_ser_weights_size;

static void put_model(sb *b, int *first, const char *name) {
  const emoi_manifest_file *f = emoi_manifest_find(name);
  if (!f) return;
  sb_printf(b, "%s\"%s\":\"%.16s\"", *first ? "" : ",", name, f->sha256);
  *first = 0;
}

char *emo_run_json(const emo_context *ctx, const emo_run_params *rp, const char *file) {
  if (!ctx) return NULL;
  const emo_model *m = ctx->model;
  const emo_run_params d = rp ? *rp : emo_run_params_default();
  sb b = {0};
  sb_puts(&b, "{\"type\":\"run\",\"file\":");
  sb_json_string(&b, file ? file : "");
  sb_printf(&b, ",\"emo_version\":\"%s\",\"models\":{", EMO_VERSION_STRING);
  int first = 1;
  if (m->graphs[EMOI_NET_DET_SHORT]) put_model(&b, &first, "blazeface_short");
  if (m->graphs[EMOI_NET_DET_FULL]) put_model(&b, &first, "blazeface_full");
  if (m->graphs[EMOI_NET_FER]) put_model(&b, &first, "fer_emotion_bin");
  if (m->graphs[EMOI_NET_FACEAPI]) put_model(&b, &first, "faceapi_expression_bin");
  if (m->graphs[EMOI_NET_EMBED]) put_model(&b, &first, "faceres_bin");
  if (m->vad_graph && d.soundtrack) put_model(&b, &first, "silero_vad_v5");
  char hex[65];
  if (m->vad_graph && d.soundtrack && !m->w2v &&
      emoi_sha256_hex(emoi_ser_weights, (size_t)emoi_ser_weights_size, hex) == EMO_OK) {
    sb_printf(&b, "%s\"emo_ser_v1\":\"%.16s\"", first ? "" : ",", hex);
    first = 0;
  }
  if (m->w2v && d.soundtrack) {
    sb_puts(&b, first ? "\"ser_model\":" : ",\"ser_model\":");
    sb_json_string(&b, m->params.ser_model ? m->params.ser_model : "");
  }
  sb_puts(&b, "},\"options\":\"");
  sb o = {0};
  sb_printf(&o,
            "detector=%d expression=%d reid=%d threshold=%.6g nms=%.6g fps=%.6g detect_every=%d "
            "track_timeout=%.6g reid_threshold=%.6g smoothing=%.6g soundtrack=%d whole=%d "
            "vad=%.6g/%d/%d/%d float_expression=%d reference=%d ser=%s",
            (int)d.detector, (int)m->params.expression, m->graphs[EMOI_NET_EMBED] != NULL,
            d.score_threshold, d.nms_iou_threshold, d.analysis_fps, d.detect_every, d.track_timeout,
            d.reid_threshold, d.smoothing, d.soundtrack, d.audio_whole, d.vad_threshold,
            d.vad_pad_ms, d.vad_min_silence_ms, d.vad_min_speech_ms, ctx->params.float_expression,
            ctx->params.reference_kernels, m->params.ser_model ? m->params.ser_model : "built-in");
  if (d.whole_face) sb_puts(&o, " whole_face=1"); /* appended only when set: old hashes stay */
  char *opts = sb_take(&o);
  if (opts && emoi_sha256_hex(opts, strlen(opts), hex) == EMO_OK) sb_printf(&b, "%.16s", hex);
  free(opts);
  sb_puts(&b, "\"}");
  return sb_take(&b);
}
