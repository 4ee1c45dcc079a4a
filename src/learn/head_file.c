/* head_file.c: the head file (emo_head_save / emo_head_load), written by `emo train`, read by
 * --face-head / --voice-head. Little-endian, no padding, nothing after the last array:
 *   magic        8 bytes  "EMOHEAD\0"
 *   version      u32      1
 *   modality     u32      emo_modality (0 face, 1 voice)
 *   kind         u32      1 NCM, 2 LOGREG, 3 MLP
 *   dim          u32      1 .. 65536 features
 *   n_classes    u32      2 .. 4096
 *   hidden       u32      MLP hidden units 1 .. 4096, else 0
 *   flags        u32      bit 0: per-class intensity regressors follow; bit 1: multi-label
 *                         (independent sigmoid outputs, not a softmax); other bits 0
 *   tau          f32      NCM temperature (> 0), else 0
 *   definition   u32 length (1 .. 4096) + bytes: emo_features_definition of the vectors, or of
 *                the blocks it reads (emo_features_select, learn/feature_set.c)
 *   class names  per class u8 length (1 .. 255) + bytes (no NUL, no control characters)
 *   mean, std    f32 x dim each (std > 0)
 *   weights      NCM: class means f32 (C, dim), b f32 (C); LOGREG: W (C, dim), b (C);
 *                MLP: W1 (H, dim), b1 (H), W2 (C, H), b2 (C)
 *   intensity    W (C, dim), b (C) when intensity = 1
 * Every float must be finite. The reader checks each length against the bytes left before it
 * allocates, and names the field at fault. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/file.h"
#include "learn/head.h"
#include "pipeline/internal.h"

#define HEAD_MAGIC "EMOHEAD\0"
#define HEAD_VERSION 1u
#define HEAD_MAX_FILE ((size_t)1 << 30)

/* ---- writing ------------------------------------------------------------------------- */

static void put_u32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  fwrite(b, 1, 4, f);
}

static void put_f32s(FILE *f, const float *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &a[i], 4);
    put_u32(f, u);
  }
}

int emo_head_save(const emo_head *h, const char *path, char *err, size_t en) {
  if (!h || !path) return emoi_fail_buf(err, en, EMO_EINVAL, "emo_head_save: NULL argument");
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return emoi_fail_buf(err, en, EMO_EINVAL, "%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return emoi_fail_buf(err, en, EMO_EIO, "%s: cannot create", tmp);
  size_t D = (size_t)h->dim, C = (size_t)h->n_classes, H = (size_t)h->hidden;
  fwrite(HEAD_MAGIC, 1, 8, f);
  put_u32(f, HEAD_VERSION);
  put_u32(f, (uint32_t)h->modality);
  put_u32(f, (uint32_t)h->kind);
  put_u32(f, (uint32_t)h->dim);
  put_u32(f, (uint32_t)h->n_classes);
  put_u32(f, (uint32_t)h->hidden);
  put_u32(f, (uint32_t)(h->has_intensity | (h->multilabel ? 2 : 0)));
  put_f32s(f, &h->tau, 1);
  size_t dl = strlen(h->definition);
  put_u32(f, (uint32_t)dl);
  fwrite(h->definition, 1, dl, f);
  for (size_t k = 0; k < C; k++) {
    size_t l = strlen(h->names[k]);
    fputc((int)l, f);
    fwrite(h->names[k], 1, l, f);
  }
  put_f32s(f, h->mean, D);
  put_f32s(f, h->std, D);
  if (h->kind == EMO_HEAD_MLP) {
    put_f32s(f, h->w1, H * D);
    put_f32s(f, h->b1, H);
    put_f32s(f, h->w2, C * H);
    put_f32s(f, h->b2, C);
  } else {
    put_f32s(f, h->w1, C * D);
    put_f32s(f, h->b1, C);
  }
  if (h->has_intensity) {
    put_f32s(f, h->wi, C * D);
    put_f32s(f, h->bi, C);
  }
  int bad = ferror(f);
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    remove(tmp);
    return emoi_fail_buf(err, en, EMO_EIO, "%s: write failed", path);
  }
  return EMO_OK;
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct rd {
  bytes_cur c;
  char *err;
  size_t en;
} rd;

static int rd_u32(rd *r, const char *what, uint32_t *v) {
  if (bytes_read_u32(&r->c, v) != 0)
    return emoi_fail_buf(r->err, r->en, EMO_EMODEL, "head file: truncated at %s", what);
  return EMO_OK;
}

static int rd_floats(rd *r, const char *what, float *a, size_t n) {
  if (n > bytes_left(&r->c) / 4)
    return emoi_fail_buf(r->err, r->en, EMO_EMODEL, "head file: truncated in %s (%zu floats)", what,
                         n);
  for (size_t i = 0; i < n; i++) {
    uint32_t u = 0;
    bytes_read_u32(&r->c, &u);
    memcpy(&a[i], &u, 4);
    if (!isfinite(a[i]))
      return emoi_fail_buf(r->err, r->en, EMO_EMODEL, "head file: %s[%zu] is not finite", what, i);
  }
  return EMO_OK;
}

int emo_head_load_memory(const void *data, size_t size, const emo_model *m, emo_head **out,
                         char *err, size_t en) {
  if (!out) return EMO_EINVAL;
  *out = NULL;
  if (!data && size) return emoi_fail_buf(err, en, EMO_EINVAL, "head file: NULL data");
  rd r = {bytes_init(data, size), err, en};
  const uint8_t *magic = NULL;
  if (bytes_read_span(&r.c, 8, &magic) != 0 || memcmp(magic, HEAD_MAGIC, 8) != 0)
    return emoi_fail_buf(err, en, EMO_EFORMAT, "not an emo head file (no EMOHEAD magic)");
  uint32_t ver = 0, mod = 0, kind = 0, dim = 0, nc = 0, hid = 0, inten = 0, dl = 0;
  int rc;
  if ((rc = rd_u32(&r, "version", &ver))) return rc;
  if (ver != HEAD_VERSION)
    return emoi_fail_buf(
        err, en, EMO_EMODEL,
        "head file version %u, this emo reads version %u: retrain it with this emo's "
        "`emo train`",
        ver, HEAD_VERSION);
  if ((rc = rd_u32(&r, "modality", &mod)) || (rc = rd_u32(&r, "kind", &kind)) ||
      (rc = rd_u32(&r, "dim", &dim)) || (rc = rd_u32(&r, "n_classes", &nc)) ||
      (rc = rd_u32(&r, "hidden", &hid)) || (rc = rd_u32(&r, "intensity", &inten)))
    return rc;
  const int multilabel = (inten >> 1) & 1;
  if (inten <= 3) inten &= 1;
  if (multilabel && kind == EMO_HEAD_NCM)
    return emoi_fail_buf(err, en, EMO_EMODEL, "head file: a multi-label NCM head");
  if (mod >= EMO_MODALITY_COUNT || kind < EMO_HEAD_NCM || kind > EMO_HEAD_MLP || dim < 1 ||
      dim > HEAD_MAX_DIM || nc < 2 || nc > HEAD_MAX_CLASSES || inten > 1 ||
      (kind == EMO_HEAD_MLP ? (hid < 1 || hid > HEAD_MAX_HIDDEN) : hid != 0))
    return emoi_fail_buf(
        err, en, EMO_EMODEL,
        "head file: header out of range (modality %u, kind %u, dim %u, classes %u, "
        "hidden %u, intensity %u)",
        mod, kind, dim, nc, hid, inten);
  /* every array's size against the bytes left, before allocating anything */
  uint64_t D = dim, C = nc, H = hid;
  uint64_t floats =
      2 * D + (kind == EMO_HEAD_MLP ? H * D + H + C * H + C : C * D + C) + (inten ? C * D + C : 0);
  if (floats > bytes_left(&r.c) / 4)
    return emoi_fail_buf(err, en, EMO_EMODEL, "head file: %llu weights announced, %zu bytes left",
                         (unsigned long long)floats, bytes_left(&r.c));
  float tau;
  if ((rc = rd_floats(&r, "tau", &tau, 1))) return rc;
  if (kind == EMO_HEAD_NCM ? !(tau > 0.0f) : tau != 0.0f)
    return emoi_fail_buf(err, en, EMO_EMODEL, "head file: tau %g out of range", (double)tau);
  if ((rc = rd_u32(&r, "definition length", &dl))) return rc;
  const uint8_t *def = NULL;
  if (dl < 1 || dl > HEAD_MAX_DEFINITION || bytes_read_span(&r.c, dl, &def) != 0)
    return emoi_fail_buf(err, en, EMO_EMODEL,
                         "head file: definition length %u out of range or truncated", dl);
  emo_head *h = head_alloc((emo_head_kind)kind, (int)dim, (int)nc, (int)hid, (int)inten);
  if (!h) return emoi_fail_buf(err, en, EMO_ENOMEM, "head file: out of memory");
  h->modality = (emo_modality)mod;
  h->tau = tau;
  h->multilabel = multilabel;
  rc = EMO_ENOMEM;
  if (!(h->definition = malloc(dl + 1))) goto fail_mem;
  memcpy(h->definition, def, dl);
  h->definition[dl] = 0;
  if (memchr(def, 0, dl)) {
    rc = emoi_fail_buf(err, en, EMO_EMODEL, "head file: NUL inside the definition");
    goto fail;
  }
  for (uint32_t k = 0; k < nc; k++) {
    uint8_t l = 0;
    const uint8_t *nm = NULL;
    if (bytes_read_u8(&r.c, &l) != 0 || l < 1 || bytes_read_span(&r.c, l, &nm) != 0) {
      rc = emoi_fail_buf(err, en, EMO_EMODEL, "head file: class name %u empty or truncated", k);
      goto fail;
    }
    for (int i = 0; i < l; i++)
      if (nm[i] < 0x20 || nm[i] == 0x7f) {
        rc = emoi_fail_buf(err, en, EMO_EMODEL, "head file: class name %u has a control character",
                           k);
        goto fail;
      }
    if (!(h->names[k] = malloc((size_t)l + 1))) goto fail_mem;
    memcpy(h->names[k], nm, l);
    h->names[k][l] = 0;
  }
  if ((rc = rd_floats(&r, "mean", h->mean, D)) || (rc = rd_floats(&r, "std", h->std, D))) goto fail;
  for (uint64_t j = 0; j < D; j++)
    if (!(h->std[j] > 0.0f)) {
      rc = emoi_fail_buf(err, en, EMO_EMODEL, "head file: std[%llu] must be > 0",
                         (unsigned long long)j);
      goto fail;
    }
  if (kind == EMO_HEAD_MLP) {
    if ((rc = rd_floats(&r, "W1", h->w1, H * D)) || (rc = rd_floats(&r, "b1", h->b1, H)) ||
        (rc = rd_floats(&r, "W2", h->w2, C * H)) || (rc = rd_floats(&r, "b2", h->b2, C)))
      goto fail;
  } else if ((rc = rd_floats(&r, "W", h->w1, C * D)) || (rc = rd_floats(&r, "b", h->b1, C))) {
    goto fail;
  }
  if (inten && ((rc = rd_floats(&r, "intensity W", h->wi, C * D)) ||
                (rc = rd_floats(&r, "intensity b", h->bi, C))))
    goto fail;
  if (bytes_left(&r.c)) {
    rc = emoi_fail_buf(err, en, EMO_EMODEL, "head file: %zu unexpected bytes at the end",
                       bytes_left(&r.c));
    goto fail;
  }
  if (m) { /* the blocks it reads, computed by these models (learn/features.c) */
    unsigned blocks = 0;
    emoi_err fe = {{0}};
    if ((rc = emoi_head_blocks(m, h, &blocks, &fe)) != EMO_OK) {
      rc = emoi_fail_buf(err, en, rc, "%s", fe.msg);
      goto fail;
    }
  }
  *out = h;
  return EMO_OK;
fail_mem:
  rc = emoi_fail_buf(err, en, EMO_ENOMEM, "head file: out of memory");
fail:
  emo_head_destroy(&h);
  return rc;
}

int emo_head_load(const char *path, const emo_model *m, emo_head **out, char *err, size_t en) {
  if (!out || !path) return emoi_fail_buf(err, en, EMO_EINVAL, "emo_head_load: NULL argument");
  *out = NULL;
  unsigned char *buf = NULL; /* core/file.h: the one whole-file reader (cap, regular file) */
  size_t n = 0;
  emoi_err fe = {{0}};
  int frc = emoi_file_read(path, (int64_t)HEAD_MAX_FILE, 0, &buf, &n, &fe);
  if (frc != EMO_OK) return emoi_fail_buf(err, en, frc, "%s", fe.msg);
  int rc = emo_head_load_memory(buf, n, m, out, err, en);
  free(buf);
  if (rc != EMO_OK && err && en) { /* prefix the path */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s: %s", path, err);
    snprintf(err, en, "%s", tmp);
  }
  return rc;
}
