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
 * Subsets (learn/feature_set.c, emo_features_select): a head trained on some blocks records
 * them in its definition, and the pipeline computes only those blocks for it (a head on
 * face-api's two blocks runs face-api's network alone: no FER, no face embedding).
 * The analysis pipeline applies heads through the same vectors (emoi_face_custom in video,
 * emoi_voice_vector per speech segment), so `emo features` and a head at run time see the same
 * numbers. With the built-in head (EMO_EXPRESSION_EMO) and a face head in one call, each face's
 * vector holds the blocks of both and is computed once (emoi_expressions keeps it in
 * ctx->fvec, emoi_face_custom takes its head's blocks out of it).
 * Video clips (emo_video_features): emo_analyze_media runs with a tap (ctx->vtap.on) through
 * which classify_faces hands every analysed frame's faces to emoi_video_tap; their whole vectors
 * are summed per track (and kept per frame when asked), and the clip's row is the mean over the
 * track seen in the most frames, so a clip goes through the same decoder, detector, tracker and
 * frame sampling as `emo video`. What it leaves to others:
 * detection and segmentation (the analysis calls it wraps), the heads (learn/head.c), writing files
 * (the CLI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/prosody.h"
#include "core/models.h"
#include "learn/feature_set.h"
#include "learn/head.h"
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

unsigned emoi_features_blocks(const emo_model *m, int dim[FS_N_BLOCKS]) {
  unsigned can = 0;
  memset(dim, 0, FS_N_BLOCKS * sizeof *dim);
  if (!m) return 0;
  dim[FS_FER_PENULTIMATE] = out_dim(m, EMOI_NET_FER, m->tap[EMOI_NET_FER]);
  dim[FS_FACEAPI_PENULTIMATE] = out_dim(m, EMOI_NET_FACEAPI, m->tap[EMOI_NET_FACEAPI]);
  dim[FS_FACE_EMBEDDING] = m->graphs[EMOI_NET_EMBED] ? FEM_DIM : 0;
  dim[FS_FER_PROBS] = m->graphs[EMOI_NET_FER] ? EMO_EXPR_COUNT : 0;
  dim[FS_FACEAPI_PROBS] = m->graphs[EMOI_NET_FACEAPI] ? EMO_EXPR_COUNT : 0;
  for (int b = FS_FER_PENULTIMATE; b < FS_POSE_AU; b++)
    if (dim[b]) can |= FS_BIT(b);
  if (m->params.faces) can |= FS_BIT(FS_POSE_AU); /* empty in version 1 */
  if (m->ser) {
    dim[FS_SER_PENULTIMATE] = ser_embed_dim(m->ser);
    dim[FS_SER_PROBS] = SER_N_LABELS;
    dim[FS_PROSODY] = PROSODY_DIM;
    can |= FS_BIT(FS_SER_PENULTIMATE) | FS_BIT(FS_SER_PROBS) | FS_BIT(FS_PROSODY);
    if (m->w2v) dim[FS_W2V_POOLED] = w2v_embed_dim(m->w2v), can |= FS_BIT(FS_W2V_POOLED);
  }
  return can;
}

/* The blocks of the whole vector of modality which, 0 when the model cannot compute it: a face
 * vector needs both expression networks' penultimate layers and the embedding. */
static unsigned whole_vector(const emo_model *m, emo_modality which, int dim[FS_N_BLOCKS]) {
  unsigned can = emoi_features_blocks(m, dim);
  if (which == EMO_MODALITY_FACE) return (can & FS_FACE_ALL) == FS_FACE_ALL ? FS_FACE_ALL : 0;
  if (which == EMO_MODALITY_VOICE) return can & FS_VOICE_ALL;
  return 0;
}

int emo_features_dim(const emo_model *m, emo_modality which) {
  int dim[FS_N_BLOCKS];
  return fs_dim(dim, whole_vector(m, which, dim));
}

/* First 16 hex digits of a manifest file's sha256 ("?" when unknown). */
static const char *short_hash(const char *name) {
  const emoi_manifest_file *f = emoi_manifest_find(name);
  return f && f->sha256 ? f->sha256 : "?";
}

/* The definition of every block the model can compute, of modality which, into *d. */
static int model_definition(const emo_model *m, emo_modality which, fs_def *d) {
  int dim[FS_N_BLOCKS];
  unsigned can = emoi_features_blocks(m, dim);
  memset(d, 0, sizeof *d);
  d->modality = which;
  snprintf(d->header, sizeof d->header, "%s 1",
           which == EMO_MODALITY_FACE ? "emo-face-features" : "emo-voice-features");
  for (int b = 0; b < FS_N_BLOCKS; b++) {
    if (!(can & FS_BIT(b)) || (which == EMO_MODALITY_FACE) != (b < FS_SER_PENULTIMATE)) continue;
    d->block[d->n_blocks] = b;
    d->dim[d->n_blocks] = dim[b];
    snprintf(d->text[d->n_blocks++], FS_MAX_TEXT, "%s %d%s", fs_block_name(b), dim[b],
             b == FS_PROSODY ? " (f0_mean f0_min f0_max energy_db voiced_ratio rate)" : "");
  }
  if (which == EMO_MODALITY_FACE) {
    const char *files[] = {"fer_emotion_bin", "faceapi_expression_bin", "faceres_bin"};
    for (int k = 0; k < 3; k++) {
      snprintf(d->model[k], sizeof d->model[k], "%s", files[k]);
      snprintf(d->hash[k], FS_MAX_HASH, "%.16s", short_hash(files[k]));
    }
    d->n_models = 3;
  } else {
    char hex[65];
    if (emoi_sha256_hex(emoi_ser_weights, (size_t)emoi_ser_weights_size, hex) != EMO_OK)
      return EMO_EINTERNAL;
    snprintf(d->model[0], sizeof d->model[0], "emo_ser_v1");
    snprintf(d->hash[0], FS_MAX_HASH, "%.16s", hex);
    snprintf(d->model[1], sizeof d->model[1], "wav2vec2");
    snprintf(d->hash[1], FS_MAX_HASH, "%.16s", m->w2v ? m->w2v_sha256 : "");
    d->n_models = 2;
  }
  return EMO_OK;
}

int emo_features_definition(const emo_model *m, emo_modality which, char *buf, size_t size) {
  if (!m || !buf || size == 0) return EMO_EINVAL;
  int dim[FS_N_BLOCKS];
  unsigned whole = whole_vector(m, which, dim);
  fs_def d;
  if (!whole || model_definition(m, which, &d) != EMO_OK) return EMO_EINVAL;
  return fs_compose(&d, whole, buf, size);
}

int emoi_head_blocks(const emo_model *m, const emo_head *h, unsigned *mask, emoi_err *err) {
  const char *which = emo_head_modality(h) == EMO_MODALITY_FACE ? "face" : "voice";
  char msg[256], want[HEAD_MAX_DEFINITION];
  fs_def hd, md;
  if (fs_parse(emo_head_definition(h), &hd, msg, sizeof msg) != EMO_OK)
    return emoi_fail(err, EMO_EMODEL,
                     "the head was trained on features this emo does not compute (%s); retrain it "
                     "(emo features, emo train) with these models",
                     msg);
  int dim[FS_N_BLOCKS];
  unsigned need = fs_mask(&hd), can = emoi_features_blocks(m, dim);
  if (hd.modality != emo_head_modality(h))
    return emoi_fail(err, EMO_EMODEL, "the head's feature definition is not of %s features", which);
  if ((need & can) != need) {
    for (int b = 0; b < FS_N_BLOCKS; b++)
      if ((need & ~can) & FS_BIT(b))
        return emoi_fail(err, EMO_EINVAL,
                         "the head reads the %s feature block %s, which the loaded models cannot "
                         "compute (load with emo_model_params.features = 1)",
                         which, fs_block_name(b));
  }
  int rc = model_definition(m, hd.modality, &md);
  if (rc == EMO_OK) rc = fs_compose(&md, need, want, sizeof want);
  if (rc != EMO_OK) return emoi_fail(err, EMO_EINTERNAL, "feature definition too long");
  if (strcmp(want, emo_head_definition(h)) != 0 || fs_dim(dim, need) != emo_head_dim(h))
    return emoi_fail(err, EMO_EMODEL,
                     "the head was trained on other features or models: it reads \"%s\", this "
                     "emo computes \"%s\"; retrain it (emo features, emo train) with these models",
                     emo_head_definition(h), want);
  *mask = need;
  return EMO_OK;
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

int emoi_face_vector(const emo_model *m, unsigned blocks, nn_plan *fer, nn_plan *fa, nn_plan *embed,
                     const uint8_t *rgb, int w, int h, int stride, const bf_detection *d,
                     float *out, emoi_err *err) {
  float probs[2][EMO_EXPR_COUNT], emb[FEM_DIM];
  const float *pen[2] = {NULL, NULL};
  const emoi_net nets[2] = {EMOI_NET_FER, EMOI_NET_FACEAPI};
  const fe_net kinds[2] = {FE_NET_FER, FE_NET_FACEAPI};
  const unsigned uses[2] = {FS_BIT(FS_FER_PENULTIMATE) | FS_BIT(FS_FER_PROBS),
                            FS_BIT(FS_FACEAPI_PENULTIMATE) | FS_BIT(FS_FACEAPI_PROBS)};
  nn_plan *plans[2] = {fer, fa};
  int dim[FS_N_BLOCKS];
  if ((emoi_features_blocks(m, dim) & blocks) != blocks)
    return emoi_fail(err, EMO_EINVAL, "features: a network of the face vector is not loaded");
  fe_align al;
  fe_align_from_detection(d, &al); /* the heads were trained on keypoint-aligned crops */
  for (int i = 0; i < 2; i++) {
    if (!(blocks & uses[i])) continue;
    if (!plans[i]) return emoi_fail(err, EMO_EINVAL, "features: expression network not loaded");
    int rc = fe_classify(kinds[i], plans[i], rgb, w, h, stride, &al, probs[i], err);
    if (rc != EMO_OK) return rc;
    if (m->tap[nets[i]] > 0) pen[i] = nn_plan_output(plans[i], m->tap[nets[i]]);
  }
  if (blocks & FS_BIT(FS_FACE_EMBEDDING)) {
    if (!embed) return emoi_fail(err, EMO_EINVAL, "features: face embedding not loaded");
    int rc = fem_embed(embed, m->graphs[EMOI_NET_EMBED], rgb, w, h, (ptrdiff_t)stride, d, emb, err);
    if (rc != EMO_OK) return rc;
  }
  const float *src[FS_POSE_AU] = {pen[0], pen[1], emb, probs[0], probs[1]};
  for (int b = 0; b < FS_POSE_AU; b++)
    if (blocks & FS_BIT(b)) {
      memcpy(out, src[b], (size_t)dim[b] * sizeof *out);
      out += dim[b];
    }
  return EMO_OK;
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

/* The face vector of blocks of detection d of an image (rows stride bytes apart) into out, on
 * the context's own plans. */
static int face_vector_det(emo_context *c, unsigned blocks, const uint8_t *rgb, int w, int h,
                           ptrdiff_t stride, const bf_detection *d, float *out, emoi_err *err) {
  return emoi_face_vector(c->model, blocks, c->plans[EMOI_NET_FER], c->plans[EMOI_NET_FACEAPI],
                          c->plans[EMOI_NET_EMBED], rgb, w, h, (int)stride, d, out, err);
}

/* The whole face vector of face f of an image (emo_analyze_rgb's result) into out. */
static int face_vector(emo_context *c, const uint8_t *rgb, int w, int h, const emo_face *f,
                       float *out, emoi_err *err) {
  bf_detection d;
  bf_detection_from_xywh(f->box, (const float(*)[2])f->keypoints, f->score, &d);
  return face_vector_det(c, FS_FACE_ALL, rgb, w, h, (ptrdiff_t)3 * w, &d, out, err);
}

int emoi_face_vectors_reserve(emo_context *c, unsigned blocks, int n) {
  int dim[FS_N_BLOCKS];
  emoi_features_blocks(c->model, dim);
  c->fvec_n = 0;
  c->fvec_blocks = blocks;
  return grow_floats(&c->fvec, &c->fvec_cap, (size_t)(n > 0 ? n : 1) * fs_dim(dim, blocks));
}

int emoi_face_custom(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                     const bf_detection *dets, int n, emoi_err *err) {
  const emo_head *hd = c->run.face_head;
  if (!hd || n <= 0) return EMO_OK;
  const unsigned need = c->face_head_blocks;
  int dim = emo_head_dim(hd), C = emo_head_classes(hd), bd[FS_N_BLOCKS];
  emoi_features_blocks(c->model, bd);
  /* the vectors emoi_expressions computed for the built-in head, when they hold these blocks */
  const int shared = c->fvec_n == n && (c->fvec_blocks & need) == need;
  const int row = fs_dim(bd, c->fvec_blocks);
  if (reserve(c, (size_t)dim) != EMO_OK ||
      grow_floats(&c->custom, &c->custom_cap, (size_t)n * 2 * (size_t)C) != EMO_OK)
    return emoi_fail(err, EMO_ENOMEM, "out of memory for the face head");
  for (int i = 0; i < n; i++) {
    float *p = c->custom + (size_t)i * 2 * C, *it = p + C;
    if (shared) {
      fs_gather(bd, c->fvec_blocks, need, c->fvec + (size_t)i * row, c->feats);
    } else {
      int rc = face_vector_det(c, need, rgb, w, h, stride, &dets[i], c->feats, err);
      if (rc != EMO_OK) return rc;
    }
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

int emoi_voice_vector(emo_context *c, unsigned blocks, const float *x, int n, const emo_prosody *p,
                      float *v, emoi_err *err) {
  const emo_model *m = c->model;
  int dim[FS_N_BLOCKS];
  if ((emoi_features_blocks(m, dim) & blocks) != blocks)
    return emoi_fail(err, EMO_EINVAL, "features: a model of the voice vector is not loaded");
  memset(v, 0, (size_t)fs_dim(dim, blocks) * sizeof *v);
  if (n < 400) return EMO_OK; /* shorter than one analysis window: zeros */
  if (n > SER_MAX_SAMPLES) n = SER_MAX_SAMPLES;
  float probs[SER_N_LABELS], embed[SER_MAX_EMBED];
  int rc = EMO_OK;
  if (blocks & (FS_BIT(FS_SER_PENULTIMATE) | FS_BIT(FS_SER_PROBS))) {
    if (dim[FS_SER_PENULTIMATE] > SER_MAX_EMBED)
      return emoi_fail(err, EMO_EINTERNAL, "features: speech model's layer too wide");
    rc = ser_classify_embed(m->ser, c->ser_plan, x, n, probs, embed, err);
    if (rc != EMO_OK) return rc;
  }
  float pr[PROSODY_DIM] = {p->f0_mean,   p->f0_min,       p->f0_max,
                           p->energy_db, p->voiced_ratio, p->rate};
  const float *src[FS_W2V_POOLED] = {
      [FS_SER_PENULTIMATE] = embed, [FS_SER_PROBS] = probs, [FS_PROSODY] = pr};
  for (int b = FS_SER_PENULTIMATE; b < FS_W2V_POOLED; b++)
    if (blocks & FS_BIT(b)) {
      memcpy(v, src[b], (size_t)dim[b] * sizeof *v);
      v += dim[b];
    }
  if (blocks & FS_BIT(FS_W2V_POOLED)) rc = w2v_pooled(m->w2v, x, n, v, err);
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
  int dim = emo_features_dim(c->model, EMO_MODALITY_VOICE), bd[FS_N_BLOCKS];
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
    rc = emoi_voice_vector(c, FS_VOICE_ALL & emoi_features_blocks(c->model, bd), pcm + a,
                           (int)(b - a), &s->prosody, c->feats + (size_t)i * dim, &err);
  }
  free(pcm);
  if (rc != EMO_OK) return emoi_ctx_fail(c, rc, &err);
  *out = r;
  *features = c->feats;
  return EMO_OK;
}

/* ---- video clips (emo_video_features) ------------------------------------------------ */

#define VTAP_MAX_ROWS 100000

/* Grows *p (elements of size bytes, *cap of them) to n, zeroing the new ones. */
static int grow_zero(void *p, size_t size, int cap, int n) {
  void **pp = p;
  void *q = realloc(*pp, (size_t)n * size);
  if (!q) return EMO_ENOMEM;
  memset((char *)q + (size_t)cap * size, 0, (size_t)(n - cap) * size);
  *pp = q;
  return EMO_OK;
}

void emoi_vtap_free(emoi_vtap *t) {
  free(t->sum);
  free(t->cnt);
  free(t->first);
  free(t->last);
  free(t->box);
  free(t->x);
  free(t->rows);
}

int emoi_video_tap(emo_context *c, const uint8_t *rgb, int w, int h, int stride,
                   const emo_track_face *faces, const bf_detection *dets, int n, double t,
                   emoi_err *err) {
  const int dim = emo_features_dim(c->model, EMO_MODALITY_FACE);
  if (reserve(c, (size_t)dim) != EMO_OK) return emoi_fail(err, EMO_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    const int id = faces[i].track_id;
    if (id <= 0) continue;
    if (id > c->vtap.ids) {
      int cap = id * 2;
      if (grow_zero(&c->vtap.sum, (size_t)dim * sizeof *c->vtap.sum, c->vtap.ids, cap) ||
          grow_zero(&c->vtap.cnt, sizeof *c->vtap.cnt, c->vtap.ids, cap) ||
          grow_zero(&c->vtap.first, sizeof *c->vtap.first, c->vtap.ids, cap) ||
          grow_zero(&c->vtap.last, sizeof *c->vtap.last, c->vtap.ids, cap) ||
          grow_zero(&c->vtap.box, sizeof *c->vtap.box, c->vtap.ids, cap))
        return emoi_fail(err, EMO_ENOMEM, "features: out of memory");
      c->vtap.ids = cap;
    }
    if (c->fvec_n == n && (c->fvec_blocks & FS_FACE_ALL) == FS_FACE_ALL) {
      int bd[FS_N_BLOCKS]; /* emoi_expressions kept this face's vector */
      emoi_features_blocks(c->model, bd);
      fs_gather(bd, c->fvec_blocks, FS_FACE_ALL, c->fvec + (size_t)i * fs_dim(bd, c->fvec_blocks),
                c->feats);
    } else {
      int rc = face_vector_det(c, FS_FACE_ALL, rgb, w, h, stride, &dets[i], c->feats, err);
      if (rc != EMO_OK) return rc;
    }
    double *sum = c->vtap.sum + (size_t)(id - 1) * dim;
    for (int k = 0; k < dim; k++) sum[k] += c->feats[k];
    if (c->vtap.cnt[id - 1]++ == 0) c->vtap.first[id - 1] = t;
    c->vtap.last[id - 1] = t;
    memcpy(c->vtap.box[id - 1], faces[i].box, sizeof faces[i].box);
    if (!c->vtap.per_frame) continue;
    if (c->vtap.n == VTAP_MAX_ROWS)
      return emoi_fail(err, EMO_ELIMIT,
                       "features: more than %d face rows; analyse fewer frames "
                       "(emo_run_params.analysis_fps) or pool per clip",
                       VTAP_MAX_ROWS);
    if (c->vtap.n == c->vtap.cap) {
      int cap = c->vtap.cap ? c->vtap.cap * 2 : 256;
      if (grow_zero(&c->vtap.x, (size_t)dim * sizeof *c->vtap.x, c->vtap.cap, cap) ||
          grow_zero(&c->vtap.rows, sizeof *c->vtap.rows, c->vtap.cap, cap))
        return emoi_fail(err, EMO_ENOMEM, "features: out of memory");
      c->vtap.cap = cap;
    }
    memcpy(c->vtap.x + (size_t)c->vtap.n * dim, c->feats, (size_t)dim * sizeof *c->feats);
    emo_video_feature_row *r = &c->vtap.rows[c->vtap.n++];
    r->track_id = id;
    r->frames = 1;
    r->start = r->end = t;
    memcpy(r->box, faces[i].box, sizeof r->box);
  }
  return EMO_OK;
}

int emo_video_features(emo_context *c, const emo_run_params *rp, const char *url, int per_frame,
                       int *rows, const emo_video_feature_row **meta, const float **features) {
  if (!c || !url || !rows || !meta || !features) return EMO_EINVAL;
  *rows = 0;
  *meta = NULL;
  *features = NULL;
  emoi_err err = {{0}};
  const int dim = emo_features_dim(c->model, EMO_MODALITY_FACE);
  if (dim == 0) {
    emoi_fail(&err, EMO_EINVAL,
              "features: the model was loaded without emo_model_params.features = 1");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  emo_run_params run = rp ? *rp : emo_run_params_default();
  run.soundtrack = 0;
  run.persons = 0;
  for (int id = 0; id < c->vtap.ids; id++) c->vtap.cnt[id] = 0;
  if (c->vtap.sum) memset(c->vtap.sum, 0, (size_t)c->vtap.ids * dim * sizeof *c->vtap.sum);
  c->vtap.n = 0;
  c->vtap.on = 1;
  c->vtap.per_frame = per_frame != 0;
  const emo_media_summary *sum = NULL;
  int rc = emo_analyze_media(c, &run, url, NULL, &sum);
  c->vtap.on = 0;
  if (rc != EMO_OK) return rc; /* emo_analyze_media set the context's message */
  int best = 0;                /* the main track: most analysed frames, the first on a tie */
  for (int id = 1; id <= c->vtap.ids; id++)
    if (c->vtap.cnt[id - 1] > (best ? c->vtap.cnt[best - 1] : 0)) best = id;
  if (!best) return EMO_OK;
  if (per_frame) {
    int k = 0;
    for (int r = 0; r < c->vtap.n; r++) {
      if (c->vtap.rows[r].track_id != best) continue;
      if (k != r) {
        c->vtap.rows[k] = c->vtap.rows[r];
        memcpy(c->vtap.x + (size_t)k * dim, c->vtap.x + (size_t)r * dim,
               (size_t)dim * sizeof *c->vtap.x);
      }
      k++;
    }
    *rows = k;
    *meta = c->vtap.rows;
    *features = c->vtap.x;
    return EMO_OK;
  }
  if (reserve(c, (size_t)dim) != EMO_OK) {
    emoi_fail(&err, EMO_ENOMEM, "features: out of memory");
    return emoi_ctx_fail(c, EMO_ENOMEM, &err);
  }
  const double *s = c->vtap.sum + (size_t)(best - 1) * dim;
  const int cnt = c->vtap.cnt[best - 1];
  for (int k = 0; k < dim; k++) c->feats[k] = (float)(s[k] / cnt);
  emo_video_feature_row *o = &c->vtap.out;
  o->track_id = best;
  o->frames = cnt;
  o->start = c->vtap.first[best - 1];
  o->end = c->vtap.last[best - 1];
  memcpy(o->box, c->vtap.box[best - 1], sizeof o->box);
  *rows = 1;
  *meta = o;
  *features = c->feats;
  return EMO_OK;
}
