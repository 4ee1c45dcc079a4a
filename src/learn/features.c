/* features.c: emo's feature vectors, what `emo features` writes and what `emo train` heads
 * read (emo.h, "Feature vectors"). One vector per face and one per speech segment, each a
 * concatenation of blocks whose layout is spelled out in a definition string that also
 * carries the hashes of the producing models, so that a head trained on one set of models
 * refuses another (learn/head.c compares the strings).
 *
 * Face, version 1 (emo_model_params.features = 1 loads every network it needs):
 *   fer_penultimate     FER-2013 mini-Xception: input of its last convolution, mean over
 *                       height and width (nn_graph_add_penultimate_output), 256 values
 *   faceapi_penultimate face-api expression net: input of its final dense layer, 256 values
 *   face_embedding      human's faceres descriptor, L2-normalised, 1024 values
 *   fer_probs, faceapi_probs  the two nets' 7 probabilities in emo's class order
 *   pose_au             head pose and action units: 0 values in version 1, a slot kept so a
 *                       later version adds them at the end without moving the blocks above
 * Voice, version 1:
 *   ser_penultimate     emo's speech-emotion CNN, pooled layer averaged over chunks
 *                       (ser_classify_embed), 128 values for emo_ser_v1
 *   ser_probs           its 8 probabilities in emo's speech order
 *   prosody             f0_mean f0_min f0_max energy_db voiced_ratio rate (emo_prosody)
 *   w2v_pooled          only when the model has a user's wav2vec 2.0 model
 *                       (emo_model_params.ser_model): the mean over frames of its last hidden
 *                       state (after its output norm, w2v_classify's `hidden`; segments over
 *                       20 s are pooled in equal chunks, length-weighted), embed_dim values;
 *                       the definition then names the file's sha256, so a head trained with
 *                       one wav2vec 2.0 model refuses another and refuses none.
 * The analysis pipeline applies heads through the same vectors (emoi_face_custom in video,
 * emoi_voice_vector per speech segment), so `emo features` and a head at run time see the same
 * numbers. What it leaves to others: detection and segmentation (the analysis calls it wraps),
 * the heads (learn/head.c), writing files (the CLI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/prosody.h"
#include "core/models.h"
#include "media/audio_decode.h"
#include "media/image_decode.h"
#include "pipeline/internal.h"
#include "vision/face_embed.h"
#include "vision/face_expression.h"

extern const unsigned char emoi_ser_weights[];
extern const unsigned long emoi_ser_weights_size;

#define PROSODY_DIM 6

/* Elements of graph output `out` of net, 0 when the model lacks it. */
static int out_dim(const emo_model *m, emoi_net net, int out) {
  const nn_graph *g = m->graphs[net];
  if (!g || out <= 0 || out >= g->n_outputs) return 0;
  return (int)nn_value_numel(&g->values[g->outputs[out]]);
}

int emo_features_dim(const emo_model *m, emo_modality which) {
  if (!m) return 0;
  if (which == EMO_MODALITY_FACE) {
    int a = out_dim(m, EMOI_NET_FER, m->tap[EMOI_NET_FER]);
    int b = out_dim(m, EMOI_NET_FACEAPI, m->tap[EMOI_NET_FACEAPI]);
    if (!a || !b || !m->graphs[EMOI_NET_EMBED]) return 0;
    return a + b + FEM_DIM + 2 * EMO_EXPR_COUNT;
  }
  if (which == EMO_MODALITY_VOICE) {
    if (!m->ser) return 0;
    return ser_embed_dim(m->ser) + SER_N_LABELS + PROSODY_DIM +
           (m->w2v ? w2v_embed_dim(m->w2v) : 0);
  }
  return 0;
}

/* First 16 hex digits of a manifest file's sha256 ("?" when unknown). */
static const char *short_hash(const char *name) {
  const emoi_manifest_file *f = emoi_manifest_find(name);
  return f && f->sha256 ? f->sha256 : "?";
}

int emo_features_definition(const emo_model *m, emo_modality which, char *buf, size_t size) {
  if (!m || !buf || size == 0) return EMO_EINVAL;
  int n = -1;
  if (emo_features_dim(m, which) == 0) return EMO_EINVAL;
  if (which == EMO_MODALITY_FACE) {
    n = snprintf(buf, size,
                 "emo-face-features 1: fer_penultimate %d, faceapi_penultimate %d, "
                 "face_embedding %d, fer_probs 7, faceapi_probs 7, pose_au 0; models "
                 "fer_emotion_bin %.16s, faceapi_expression_bin %.16s, faceres_bin %.16s",
                 out_dim(m, EMOI_NET_FER, m->tap[EMOI_NET_FER]),
                 out_dim(m, EMOI_NET_FACEAPI, m->tap[EMOI_NET_FACEAPI]), FEM_DIM,
                 short_hash("fer_emotion_bin"), short_hash("faceapi_expression_bin"),
                 short_hash("faceres_bin"));
  } else {
    char hex[65];
    if (emoi_sha256_hex(emoi_ser_weights, (size_t)emoi_ser_weights_size, hex) != EMO_OK)
      return EMO_EINTERNAL;
    if (m->w2v)
      n = snprintf(buf, size,
                   "emo-voice-features 1: ser_penultimate %d, ser_probs 8, prosody 6 (f0_mean "
                   "f0_min f0_max energy_db voiced_ratio rate), w2v_pooled %d; models emo_ser_v1 "
                   "%.16s, wav2vec2 %.16s",
                   ser_embed_dim(m->ser), w2v_embed_dim(m->w2v), hex, m->w2v_sha256);
    else
      n = snprintf(buf, size,
                   "emo-voice-features 1: ser_penultimate %d, ser_probs 8, prosody 6 (f0_mean "
                   "f0_min f0_max energy_db voiced_ratio rate); models emo_ser_v1 %.16s",
                   ser_embed_dim(m->ser), hex);
  }
  return n > 0 && (size_t)n < size ? EMO_OK : EMO_EINVAL;
}

/* Grows ctx->feats to n floats. */
static int reserve(emo_context *c, size_t n) {
  if (n <= c->feats_cap) return EMO_OK;
  float *p = realloc(c->feats, n * sizeof *p);
  if (!p) return EMO_ENOMEM;
  c->feats = p;
  c->feats_cap = n;
  return EMO_OK;
}

int emoi_face_vector(const emo_model *m, nn_plan *fer, nn_plan *fa, nn_plan *embed,
                     const uint8_t *rgb, int w, int h, int stride, const bf_detection *d,
                     float *out, emoi_err *err) {
  float probs[2][EMO_EXPR_COUNT];
  const emoi_net nets[2] = {EMOI_NET_FER, EMOI_NET_FACEAPI};
  const fe_net kinds[2] = {FE_NET_FER, FE_NET_FACEAPI};
  nn_plan *plans[2] = {fer, fa};
  float *o = out;
  for (int i = 0; i < 2; i++) {
    int n = out_dim(m, nets[i], m->tap[nets[i]]);
    if (!plans[i] || n == 0)
      return emoi_fail(err, EMO_EINVAL, "features: expression network not loaded");
    fe_align al;
    fe_align_from_detection(d, &al); /* the heads were trained on keypoint-aligned crops */
    int rc = fe_classify(kinds[i], plans[i], rgb, w, h, stride, &al, probs[i], err);
    if (rc != EMO_OK) return rc;
    memcpy(o, nn_plan_output(plans[i], m->tap[nets[i]]), (size_t)n * sizeof *o);
    o += n;
  }
  if (!embed || !m->graphs[EMOI_NET_EMBED])
    return emoi_fail(err, EMO_EINVAL, "features: face embedding not loaded");
  int rc = fem_embed(embed, m->graphs[EMOI_NET_EMBED], rgb, w, h, (ptrdiff_t)stride, d, o, err);
  if (rc != EMO_OK) return rc;
  o += FEM_DIM;
  for (int i = 0; i < 2; i++, o += EMO_EXPR_COUNT) memcpy(o, probs[i], sizeof probs[i]);
  return EMO_OK;
}

/* The face vector of detection d of an image (rows stride bytes apart) into out. */
static int face_vector_det(emo_context *c, const uint8_t *rgb, int w, int h, ptrdiff_t stride,
                           const bf_detection *d, float *out, emoi_err *err) {
  return emoi_face_vector(c->model, c->plans[EMOI_NET_FER], c->plans[EMOI_NET_FACEAPI],
                          c->plans[EMOI_NET_EMBED], rgb, w, h, (int)stride, d, out, err);
}

/* The face vector of face f of an image (emo_analyze_rgb's result) into out. */
static int face_vector(emo_context *c, const uint8_t *rgb, int w, int h, const emo_face *f,
                       float *out, emoi_err *err) {
  bf_detection d;
  bf_detection_from_xywh(f->box, (const float(*)[2])f->keypoints, f->score, &d);
  return face_vector_det(c, rgb, w, h, (ptrdiff_t)3 * w, &d, out, err);
}

/* Grows *buf to n floats. */
static int grow_floats(float **buf, size_t *cap, size_t n) {
  if (n <= *cap) return EMO_OK;
  float *p = realloc(*buf, n * sizeof *p);
  if (!p) return EMO_ENOMEM;
  *buf = p;
  *cap = n;
  return EMO_OK;
}

int emoi_face_custom(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                     const bf_detection *dets, int n, emoi_err *err) {
  const emo_head *hd = c->run.face_head;
  if (!hd || n <= 0) return EMO_OK;
  int dim = emo_head_dim(hd), C = emo_head_classes(hd);
  if (reserve(c, (size_t)dim) != EMO_OK ||
      grow_floats(&c->custom, &c->custom_cap, (size_t)n * 2 * (size_t)C) != EMO_OK)
    return emoi_fail(err, EMO_ENOMEM, "out of memory for the face head");
  for (int i = 0; i < n; i++) {
    float *p = c->custom + (size_t)i * 2 * C, *it = p + C;
    int rc = face_vector_det(c, rgb, w, h, stride, &dets[i], c->feats, err);
    if (rc != EMO_OK) return rc;
    emo_head_predict(hd, c->feats, p, emo_head_has_intensity(hd) ? it : NULL);
  }
  return EMO_OK;
}

/* wav2vec 2.0 pooled state of n samples into out (embed_dim): chunks of at most W2V_POOL_CHUNK
 * averaged by length; shorter than the conv stack's frame is centred in silence. */
#define W2V_POOL_CHUNK (16000 * 20)
static int w2v_pooled(const w2v_model *m, const float *x, int n, float *out, emoi_err *err) {
  const int need = w2v_min_samples(m), D = w2v_embed_dim(m);
  float logits[W2V_MAX_LABELS];
  float *padded = NULL, *hid = malloc((size_t)D * sizeof *hid);
  if (!hid) return emoi_fail(err, EMO_ENOMEM, "out of memory");
  if (n < need) {
    padded = calloc((size_t)need, sizeof *padded);
    if (!padded) {
      free(hid);
      return emoi_fail(err, EMO_ENOMEM, "out of memory");
    }
    if (n > 0) memcpy(padded + (need - n) / 2, x, (size_t)n * sizeof *x);
    x = padded;
    n = need;
  }
  memset(out, 0, (size_t)D * sizeof *out);
  int chunks = (n + W2V_POOL_CHUNK - 1) / W2V_POOL_CHUNK, rc = EMO_OK;
  for (int k = 0; k < chunks && rc == EMO_OK; k++) {
    int a = (int)((int64_t)n * k / chunks), b = (int)((int64_t)n * (k + 1) / chunks);
    rc = w2v_classify(m, x + a, (size_t)(b - a), NULL, logits, hid, err);
    for (int i = 0; rc == EMO_OK && i < D; i++) out[i] += hid[i] * (float)(b - a) / (float)n;
  }
  free(padded);
  free(hid);
  return rc;
}

int emoi_voice_vector(emo_context *c, const float *x, int n, const emo_prosody *p, float *v,
                      emoi_err *err) {
  const emo_model *m = c->model;
  int dim = emo_features_dim(m, EMO_MODALITY_VOICE), ed = ser_embed_dim(m->ser);
  memset(v, 0, (size_t)dim * sizeof *v);
  if (n < 400) return EMO_OK; /* shorter than one analysis window: zeros */
  if (n > SER_MAX_SAMPLES) n = SER_MAX_SAMPLES;
  float probs[SER_N_LABELS];
  int rc = ser_classify_embed(m->ser, c->ser_plan, x, n, probs, v, err);
  if (rc != EMO_OK) return rc;
  memcpy(v + ed, probs, sizeof probs);
  float pr[PROSODY_DIM] = {p->f0_mean,   p->f0_min,       p->f0_max,
                           p->energy_db, p->voiced_ratio, p->rate};
  memcpy(v + ed + SER_N_LABELS, pr, sizeof pr);
  if (m->w2v) rc = w2v_pooled(m->w2v, x, n, v + ed + SER_N_LABELS + PROSODY_DIM, err);
  return rc;
}

int emo_image_features(emo_context *c, const emo_run_params *rp, const char *path,
                       const emo_image_result **out, const float **features) {
  if (!c || !path || !out || !features) return EMO_EINVAL;
  *out = NULL;
  *features = NULL;
  emoi_err err = {{0}};
  int dim = emo_features_dim(c->model, EMO_MODALITY_FACE);
  if (dim == 0) {
    emoi_fail(&err, EMO_EINVAL,
              "features: the model was loaded without emo_model_params.features = 1");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  emo_run_params run = rp ? *rp : emo_run_params_default();
  unsigned char *data = NULL;
  size_t size = 0;
  img_rgb img = {0};
  int rc = img_read_file(path, run.max_file_bytes, &data, &size, &err);
  if (rc == EMO_OK) rc = img_decode(data, size, run.max_pixels, &img, &err);
  free(data);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  const emo_image_result *r = NULL;
  rc = emo_analyze_rgb(c, &run, img.data, img.width, img.height, 3 * img.width, &r);
  if (rc == EMO_OK && reserve(c, (size_t)(r->face_count ? r->face_count : 1) * dim) != EMO_OK) {
    emoi_fail(&err, EMO_ENOMEM, "features: out of memory");
    rc = emoi_ctx_fail(c, EMO_ENOMEM, &err);
  }
  for (int i = 0; rc == EMO_OK && i < r->face_count; i++) {
    rc = face_vector(c, img.data, img.width, img.height, &r->faces[i], c->feats + (size_t)i * dim,
                     &err);
    if (rc != EMO_OK) rc = emoi_ctx_fail(c, rc, &err);
  }
  img_rgb_free(&img);
  if (rc != EMO_OK) return rc;
  *out = r;
  *features = c->feats;
  return EMO_OK;
}

/* Reads url whole into *pcm (16 kHz mono), at most max_s seconds. */
static int decode_whole(emo_context *c, const char *url, double max_s, float **pcm, size_t *n,
                        emoi_err *err) {
  media_io io;
  emoi_media_io(c, &io);
  aud_reader *r = NULL;
  int rc = aud_open(url, &io, &r, err);
  if (rc != EMO_OK) return rc;
  size_t cap = 0, len = 0, max = (size_t)(max_s * 16000.0);
  float *buf = NULL;
  for (;;) {
    if (len + 16000 > cap) {
      size_t nc = cap ? cap * 2 : 1 << 18;
      float *nb = realloc(buf, nc * sizeof *nb);
      if (!nb) {
        rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", url);
        break;
      }
      buf = nb;
      cap = nc;
    }
    int got = aud_read(r, buf + len, 16000, err);
    if (got <= 0) {
      rc = got;
      break;
    }
    len += (size_t)got;
    if (len > max) {
      rc = emoi_fail(err, EMO_ELIMIT, "%s: longer than max_audio_seconds (%.0f s)", url, max_s);
      break;
    }
  }
  aud_close(&r);
  if (rc != EMO_OK) {
    free(buf);
    return rc;
  }
  *pcm = buf;
  *n = len;
  return EMO_OK;
}

int emo_audio_features(emo_context *c, const emo_run_params *rp, const char *url,
                       const emo_audio_result **out, const float **features) {
  if (!c || !url || !out || !features) return EMO_EINVAL;
  *out = NULL;
  *features = NULL;
  emoi_err err = {{0}};
  int dim = emo_features_dim(c->model, EMO_MODALITY_VOICE);
  if (dim == 0) {
    emoi_fail(&err, EMO_EINVAL, "features: the model was loaded without the speech models");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  emo_run_params run = rp ? *rp : emo_run_params_default();
  const emo_audio_result *r = NULL;
  int rc = emo_analyze_audio(c, &run, url, NULL, &r);
  if (rc != EMO_OK) return rc;
  float *pcm = NULL;
  size_t n = 0;
  rc = decode_whole(c, url, run.max_audio_seconds, &pcm, &n, &err);
  if (rc == EMO_OK && reserve(c, (size_t)(r->segment_count ? r->segment_count : 1) * dim))
    rc = emoi_fail(&err, EMO_ENOMEM, "features: out of memory");
  for (int i = 0; rc == EMO_OK && i < r->segment_count; i++) {
    const emo_speech_segment *s = &r->segments[i];
    size_t a = (size_t)fmax(0.0, s->start * 16000.0), b = (size_t)fmax(0.0, s->end * 16000.0);
    if (b > n) b = n;
    if (a > b) a = b;
    if (b - a > SER_MAX_SAMPLES) b = a + SER_MAX_SAMPLES;
    rc = emoi_voice_vector(c, pcm + a, (int)(b - a), &s->prosody, c->feats + (size_t)i * dim, &err);
  }
  free(pcm);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  *out = r;
  *features = c->feats;
  return EMO_OK;
}
