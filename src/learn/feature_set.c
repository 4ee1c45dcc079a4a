/* feature_set.c: the blocks of emo's feature vectors (learn/features.c computes them) and
 * vectors made of some of them (emo train --features, emo_features_select). A definition names
 * its blocks in a fixed order, then the models they come from:
 *   emo-face-features 1: fer_penultimate 256, faceapi_penultimate 256, face_embedding 1024,
 *   fer_probs 7, faceapi_probs 7, pose_au 0; models fer_emotion_bin <sha256 prefix>, ...
 * A subset keeps the version and the order and names only the models its blocks come from:
 *   emo-face-features 1: faceapi_penultimate 256, faceapi_probs 7; models
 *   faceapi_expression_bin <sha256 prefix>
 * A head stores the definition it was trained on, so the library reads from it which blocks
 * to compute, and checks it against the loaded models by writing the models' definition of
 * the same blocks and comparing the two strings (features.c). An emo older than subsets
 * compares the string with its whole vector's definition, so it refuses a subset head with its
 * "retrain" message rather than feeding it the wrong values. What it leaves to others:
 * computing the blocks (features.c), the heads (head.c, head_file.c). */
#include "learn/feature_set.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  emo_modality modality;
  const char *name, *model;
} blocks[FS_N_BLOCKS] = {
    {EMO_MODALITY_FACE, "fer_penultimate", "fer_emotion_bin"},
    {EMO_MODALITY_FACE, "faceapi_penultimate", "faceapi_expression_bin"},
    {EMO_MODALITY_FACE, "face_embedding", "faceres_bin"},
    {EMO_MODALITY_FACE, "fer_probs", "fer_emotion_bin"},
    {EMO_MODALITY_FACE, "faceapi_probs", "faceapi_expression_bin"},
    {EMO_MODALITY_FACE, "pose_au", NULL},
    {EMO_MODALITY_VOICE, "ser_penultimate", "emo_ser_v1"},
    {EMO_MODALITY_VOICE, "ser_probs", "emo_ser_v1"},
    {EMO_MODALITY_VOICE, "prosody", NULL},
    {EMO_MODALITY_VOICE, "w2v_pooled", "wav2vec2"},
};

const char *fs_block_model(int b) {
  return b >= 0 && b < FS_N_BLOCKS ? blocks[b].model : NULL;
}
const char *fs_block_name(int b) {
  return b >= 0 && b < FS_N_BLOCKS ? blocks[b].name : NULL;
}

/* The block of modality m named by the len bytes at s, or -1. */
static int block_named(emo_modality m, const char *s, size_t len) {
  for (int b = 0; b < FS_N_BLOCKS; b++)
    if (blocks[b].modality == m && strlen(blocks[b].name) == len &&
        strncmp(blocks[b].name, s, len) == 0)
      return b;
  return -1;
}

/* Copies the len bytes at s into dst (size bytes) as a string; 0 when they do not fit. */
static int copy_span(char *dst, size_t size, const char *s, size_t len) {
  if (len + 1 > size) return 0;
  memcpy(dst, s, len);
  dst[len] = 0;
  return 1;
}

int fs_parse(const char *def, fs_def *d, char *err, size_t en) {
  memset(d, 0, sizeof *d);
  if (!def) return emoi_fail_buf(err, en, EMO_EINVAL, "no feature definition");
  const char *colon = strstr(def, ": ");
  if (strncmp(def, "emo-face-features ", 18) == 0)
    d->modality = EMO_MODALITY_FACE;
  else if (strncmp(def, "emo-voice-features ", 19) == 0)
    d->modality = EMO_MODALITY_VOICE;
  else
    return emoi_fail_buf(err, en, EMO_EINVAL, "not an emo feature definition: \"%.60s\"", def);
  if (!colon || !copy_span(d->header, sizeof d->header, def, (size_t)(colon - def)))
    return emoi_fail_buf(err, en, EMO_EINVAL, "feature definition without \"NAME VERSION: \"");
  const char *p = colon + 2, *models = strstr(p, "; models ");
  const char *end = models ? models : p + strlen(p);
  int last = -1;
  while (p < end) { /* "name dim[ notes]" items separated by ", " */
    const char *q = strstr(p, ", ");
    if (!q || q > end) q = end;
    const char *sp = memchr(p, ' ', (size_t)(q - p));
    int b = sp ? block_named(d->modality, p, (size_t)(sp - p)) : -1;
    if (b < 0)
      return emoi_fail_buf(err, en, EMO_EINVAL, "unknown feature block \"%.*s\"", (int)(q - p), p);
    if (b <= last)
      return emoi_fail_buf(err, en, EMO_EINVAL, "feature block %s out of order", blocks[b].name);
    char *num_end = NULL;
    long dim = strtol(sp + 1, &num_end, 10);
    if (num_end == sp + 1 || num_end > q || dim < 0 || dim > (1 << 16))
      return emoi_fail_buf(err, en, EMO_EINVAL, "feature block %s without a length",
                           blocks[b].name);
    if (!copy_span(d->text[d->n_blocks], FS_MAX_TEXT, p, (size_t)(q - p)))
      return emoi_fail_buf(err, en, EMO_EINVAL, "feature block %s: description too long",
                           blocks[b].name);
    d->block[d->n_blocks] = b;
    d->dim[d->n_blocks++] = (int)dim;
    last = b;
    p = q < end ? q + 2 : end;
  }
  if (d->n_blocks == 0)
    return emoi_fail_buf(err, en, EMO_EINVAL, "feature definition without blocks");
  for (p = models ? models + 9 : end; *p;) { /* "name hash" items separated by ", " */
    const char *q = strstr(p, ", ");
    if (!q) q = p + strlen(p);
    const char *sp = memchr(p, ' ', (size_t)(q - p));
    if (!sp || d->n_models == FS_N_BLOCKS ||
        !copy_span(d->model[d->n_models], sizeof d->model[0], p, (size_t)(sp - p)) ||
        !copy_span(d->hash[d->n_models], FS_MAX_HASH, sp + 1, (size_t)(q - sp - 1)))
      return emoi_fail_buf(err, en, EMO_EINVAL, "feature definition: bad model \"%.*s\"",
                           (int)(q - p), p);
    d->n_models++;
    p = *q ? q + 2 : q;
  }
  return EMO_OK;
}

unsigned fs_mask(const fs_def *d) {
  unsigned m = 0;
  for (int i = 0; i < d->n_blocks; i++) m |= FS_BIT(d->block[i]);
  return m;
}

/* Appends s to buf (size bytes, *len used); 0 when it does not fit. */
static int put(char *buf, size_t size, size_t *len, const char *s) {
  size_t l = strlen(s);
  if (*len + l + 1 > size) return 0;
  memcpy(buf + *len, s, l + 1);
  *len += l;
  return 1;
}

int fs_compose(const fs_def *d, unsigned mask, char *buf, size_t size) {
  size_t len = 0;
  int first = 1, ok = buf && size && put(buf, size, &len, d->header) && put(buf, size, &len, ": ");
  unsigned used = 0; /* the models of the kept blocks */
  for (int i = 0; ok && i < d->n_blocks; i++) {
    if (!(mask & FS_BIT(d->block[i]))) continue;
    ok = (first || put(buf, size, &len, ", ")) && put(buf, size, &len, d->text[i]);
    first = 0;
    for (int k = 0; k < d->n_models; k++)
      if (blocks[d->block[i]].model && strcmp(blocks[d->block[i]].model, d->model[k]) == 0)
        used |= 1u << k;
  }
  first = 1;
  for (int k = 0; ok && k < d->n_models; k++) {
    if (!(used & (1u << k))) continue;
    ok = put(buf, size, &len, first ? "; models " : ", ") && put(buf, size, &len, d->model[k]) &&
         put(buf, size, &len, " ") && put(buf, size, &len, d->hash[k]);
    first = 0;
  }
  return ok ? EMO_OK : EMO_EINVAL;
}

int fs_dim(const int dim[FS_N_BLOCKS], unsigned mask) {
  int n = 0;
  for (int b = 0; b < FS_N_BLOCKS; b++)
    if (mask & FS_BIT(b)) n += dim[b];
  return n;
}

void fs_gather(const int dim[FS_N_BLOCKS], unsigned from, unsigned to, const float *in,
               float *out) {
  for (int b = 0; b < FS_N_BLOCKS; b++) {
    if (!(from & FS_BIT(b))) continue;
    if (to & FS_BIT(b)) {
      memcpy(out, in, (size_t)dim[b] * sizeof *out);
      out += dim[b];
    }
    in += dim[b];
  }
}

int emo_features_select(const char *definition, const char *names, char *out, size_t out_size,
                        int *columns, int max_columns, char *err, size_t err_size) {
  fs_def d;
  int rc = fs_parse(definition, &d, err, err_size);
  if (rc != EMO_OK) return rc;
  if (!names || !out)
    return emoi_fail_buf(err, err_size, EMO_EINVAL, "emo_features_select: NULL argument");
  unsigned mask = 0;
  for (const char *p = names; *p;) { /* comma-separated block names */
    const char *q = strchr(p, ',');
    if (!q) q = p + strlen(p);
    int b = block_named(d.modality, p, (size_t)(q - p));
    if (b < 0 || !(fs_mask(&d) & FS_BIT(b))) {
      char list[512] = "";
      size_t len = 0;
      for (int i = 0; i < d.n_blocks; i++) {
        const char *s = fs_block_name(d.block[i]);
        if (!(i == 0 || put(list, sizeof list, &len, ",")) || !put(list, sizeof list, &len, s))
          break;
      }
      return emoi_fail_buf(err, err_size, EMO_EINVAL,
                           "no feature block \"%.*s\" in these vectors (they have %s)",
                           (int)(q - p), p, list);
    }
    mask |= FS_BIT(b);
    p = *q ? q + 1 : q;
  }
  if (!mask) return emoi_fail_buf(err, err_size, EMO_EINVAL, "no feature block named");
  int n = 0, col = 0;
  for (int i = 0; i < d.n_blocks; i++) {
    for (int j = 0; j < d.dim[i]; j++, col++) {
      if (!(mask & FS_BIT(d.block[i]))) continue;
      if (columns && n >= max_columns)
        return emoi_fail_buf(err, err_size, EMO_EINVAL, "too many columns");
      if (columns) columns[n] = col;
      n++;
    }
  }
  if (fs_compose(&d, mask, out, out_size) != EMO_OK)
    return emoi_fail_buf(err, err_size, EMO_EINVAL, "definition buffer too small");
  return n;
}
