/* fixture.c: bounds-checked reader of emo's fixture files (format in fixture.h). The whole
 * file is read into memory (capped at FX_MAX_FILE_BYTES), parsed in two passes (headers and
 * sizes first, then the data is decoded from little-endian into one aligned allocation).
 * Writing fixtures is left to tools/ref/fixture.cjs. */
#include "fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_REGEN_HINT                                                                        \
  "regenerate the fixtures with tools/ref/setup.sh then `node tools/ref/tfjs_models.cjs && " \
  "node tools/ref/tflite_models.cjs` (see tools/ref/README.md)"

static const unsigned char fx_magic[8] = {'E', 'M', 'O', 'F', 'I', 'X', 0, 0};

static void fx_seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* A cursor over the file's bytes; every read checks the remaining length. */
typedef struct fx_cursor {
  const unsigned char *p;
  size_t len, pos;
} fx_cursor;

static int fx_u32(fx_cursor *c, uint32_t *v) {
  if (c->len - c->pos < 4) return -1;
  const unsigned char *b = c->p + c->pos;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  c->pos += 4;
  return 0;
}

static unsigned char *fx_read_all(const char *path, size_t *size, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fx_seterr(err, errlen, "%s: cannot open (missing fixture? %s)", path, FX_REGEN_HINT);
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    if (n == cap) {
      if (cap >= FX_MAX_FILE_BYTES) {
        fx_seterr(err, errlen, "%s: larger than %d bytes", path, FX_MAX_FILE_BYTES);
        free(buf);
        buf = NULL;
        break;
      }
      unsigned char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (buf && ferror(f)) {
    fx_seterr(err, errlen, "%s: read error", path);
    free(buf);
    buf = NULL;
  } else if (!buf && err && errlen && !err[0]) {
    fx_seterr(err, errlen, "%s: out of memory", path);
  }
  fclose(f);
  *size = n;
  return buf;
}

/* Pass over the tensor headers. With t == NULL only validates and sums the storage bytes;
 * otherwise also fills t[] and copies the data into storage. */
static int fx_parse(const char *path, const unsigned char *bytes, size_t size, uint32_t n,
                    fx_tensor *t, unsigned char *storage, size_t *storage_bytes, char *err,
                    size_t errlen) {
  fx_cursor c = {bytes, size, 16};
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t name_len, dtype, rank;
    if (fx_u32(&c, &name_len) != 0) goto truncated;
    if (name_len == 0 || name_len > 255) {
      fx_seterr(err, errlen, "%s: tensor %u: name_len %u not in 1..255", path, i, name_len);
      return -1;
    }
    if (c.len - c.pos < name_len) goto truncated;
    const unsigned char *name = c.p + c.pos;
    c.pos += name_len;
    if (memchr(name, 0, name_len)) {
      fx_seterr(err, errlen, "%s: tensor %u: NUL byte in name", path, i);
      return -1;
    }
    if (fx_u32(&c, &dtype) != 0 || fx_u32(&c, &rank) != 0) goto truncated;
    if (dtype >= FX_DTYPE_COUNT) {
      fx_seterr(err, errlen, "%s: tensor '%.*s': dtype %u unknown (0 = float32, 1 = uint8)", path,
                (int)name_len, (const char *)name, dtype);
      return -1;
    }
    if (rank > FX_MAX_RANK) {
      fx_seterr(err, errlen, "%s: tensor '%.*s': rank %u > %d", path, (int)name_len,
                (const char *)name, rank, FX_MAX_RANK);
      return -1;
    }
    uint64_t numel = 1;
    int64_t dims[FX_MAX_RANK] = {0};
    for (uint32_t d = 0; d < rank; d++) {
      uint32_t v;
      if (fx_u32(&c, &v) != 0) goto truncated;
      dims[d] = v;
      numel *= v; /* each factor < 2^32; stop before the product can overflow */
      if (numel > (uint64_t)FX_MAX_FILE_BYTES) {
        fx_seterr(err, errlen, "%s: tensor '%.*s': element count exceeds the file size cap", path,
                  (int)name_len, (const char *)name);
        return -1;
      }
    }
    size_t esize = dtype == FX_F32 ? 4 : 1;
    size_t nbytes = (size_t)numel * esize;
    if (c.len - c.pos < nbytes) {
      fx_seterr(err, errlen, "%s: tensor '%.*s': data needs %zu bytes at offset %zu, file has %zu",
                path, (int)name_len, (const char *)name, nbytes, c.pos, c.len);
      return -1;
    }
    size_t aligned = (nbytes + 63) & ~(size_t)63;
    if (t) {
      fx_tensor *x = &t[i];
      memcpy(x->name, name, name_len);
      x->name[name_len] = 0;
      for (uint32_t j = 0; j < i; j++) {
        if (strcmp(t[j].name, x->name) == 0) {
          fx_seterr(err, errlen, "%s: tensor name '%s' appears twice", path, x->name);
          return -1;
        }
      }
      x->dtype = (fx_dtype)dtype;
      x->rank = (int)rank;
      memcpy(x->dims, dims, sizeof dims);
      x->numel = (int64_t)numel;
      unsigned char *dst = storage + total;
      if (dtype == FX_U8) {
        memcpy(dst, c.p + c.pos, nbytes);
        x->u8 = dst;
      } else {
        float *f = (float *)(void *)dst;
        const unsigned char *b = c.p + c.pos;
        for (uint64_t k = 0; k < numel; k++, b += 4) {
          uint32_t u =
              (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
          memcpy(&f[k], &u, 4);
        }
        x->f32 = f;
      }
    }
    c.pos += nbytes;
    total += aligned;
  }
  if (c.pos != c.len) {
    fx_seterr(err, errlen, "%s: %zu unexpected bytes after the last tensor", path, c.len - c.pos);
    return -1;
  }
  *storage_bytes = total;
  return 0;
truncated:
  fx_seterr(err, errlen, "%s: truncated in the tensor headers (at offset %zu of %zu)", path, c.pos,
            c.len);
  return -1;
}

int fx_load(const char *path, fx_file **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!out) return -1;
  *out = NULL;
  if (!path) {
    fx_seterr(err, errlen, "fixture path is NULL");
    return -1;
  }
  size_t size = 0;
  unsigned char *bytes = fx_read_all(path, &size, err, errlen);
  if (!bytes) return -1;
  int rc = fx_load_memory(bytes, size, path, out, err, errlen);
  free(bytes);
  return rc;
}

int fx_load_memory(const void *data, size_t size, const char *source, fx_file **out, char *err,
                   size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!out) return -1;
  *out = NULL;
  const char *path = source ? source : "fixture";
  const unsigned char *bytes = data;
  if (!bytes && size) {
    fx_seterr(err, errlen, "%s: NULL data", path);
    return -1;
  }
  if (size > FX_MAX_FILE_BYTES) {
    fx_seterr(err, errlen, "%s: larger than %d bytes", path, FX_MAX_FILE_BYTES);
    return -1;
  }
  fx_file *f = NULL;
  fx_cursor c = {bytes, size, 0};
  uint32_t version, n;
  if (size < 16 || memcmp(bytes, fx_magic, 8) != 0) {
    fx_seterr(err, errlen, "%s: not an emo fixture (magic \"EMOFIX\" missing)", path);
    goto fail;
  }
  c.pos = 8;
  (void)fx_u32(&c, &version);
  (void)fx_u32(&c, &n);
  if (version != FX_VERSION) {
    fx_seterr(err, errlen, "%s: fixture version %u, this reader wants %d: %s", path, version,
              FX_VERSION, FX_REGEN_HINT);
    goto fail;
  }
  if (n > FX_MAX_TENSORS) {
    fx_seterr(err, errlen, "%s: n_tensors %u > %d", path, n, FX_MAX_TENSORS);
    goto fail;
  }
  size_t storage_bytes = 0;
  if (fx_parse(path, bytes, size, n, NULL, NULL, &storage_bytes, err, errlen) != 0) goto fail;
  f = calloc(1, sizeof *f);
  if (!f) goto oom;
  f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
  f->storage = malloc(storage_bytes ? storage_bytes : 1);
  if (!f->tensors || !f->storage) goto oom;
  f->n_tensors = (int)n;
  if (fx_parse(path, bytes, size, n, f->tensors, f->storage, &storage_bytes, err, errlen) != 0)
    goto fail;
  *out = f;
  return 0;
oom:
  fx_seterr(err, errlen, "%s: out of memory", path);
fail:
  fx_free(&f);
  return -1;
}

const fx_tensor *fx_get(const fx_file *f, const char *name) {
  if (!f || !name) return NULL;
  for (int i = 0; i < f->n_tensors; i++)
    if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
  return NULL;
}

void fx_free(fx_file **f) {
  if (!f || !*f) return;
  free((*f)->tensors);
  free((*f)->storage);
  free(*f);
  *f = NULL;
}
