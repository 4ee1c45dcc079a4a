/* safetensors.c: the reader declared in nn/safetensors.h (the format and every check are
 * described there). cJSON parses a NUL-terminated copy of the JSON header; the st_file is one
 * allocation holding the struct, the tensor table (file order), a name-sorted index for
 * st_find, the metadata pointers and every string. Tensor bytes stay in the caller's (or the
 * owned) buffer and are converted on demand with core/bytes.h's loads, so any alignment and
 * any host byte order work. */
#include "nn/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/file.h"
#include "nn/half.h"

struct st_file {
  const uint8_t *buf; /* the whole image */
  size_t size;        /* its bytes */
  int own;            /* 1: free(buf) in st_close; 2: emoi_file_unmap(buf, size) */
  int n, n_meta;
  st_tensor *t;              /* (n) in file order */
  const st_tensor **by_name; /* (n) sorted by name */
  const char **meta;         /* (n_meta, 2): key, value */
};

static const char *const dtype_name[ST_DTYPE_COUNT] = {"F32", "F16", "BF16", "F64"};
static const int dtype_size[ST_DTYPE_COUNT] = {4, 2, 2, 8};

/* Names come from the file: keep the message one printable line. */
static void clean_msg(emoi_err *err) {
  for (char *c = err ? err->msg : NULL; c && *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
}

/* A JSON number that is an integer in [0, 2^53] (so exact in a double), else -1. */
static int64_t json_uint(const cJSON *v) {
  if (!cJSON_IsNumber(v)) return -1;
  double d = v->valuedouble;
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d) return -1;
  return (int64_t)d;
}

#define TNAME "safetensors: tensor '%.100s': " /* message prefix naming the tensor */

/* Fills t (name already set) from its header entry e; data is the data buffer. */
static int parse_entry(const cJSON *e, const uint8_t *data, size_t data_size, st_tensor *t,
                       emoi_err *err) {
  const char *nm = t->name;
  if (!cJSON_IsObject(e)) return emoi_fail(err, EMO_EMODEL, TNAME "entry is not an object", nm);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  if (!cJSON_IsString(dt) || !dt->valuestring)
    return emoi_fail(err, EMO_EMODEL, TNAME "\"dtype\" missing or not a string", nm);
  int k = 0;
  while (k < ST_DTYPE_COUNT && strcmp(dt->valuestring, dtype_name[k])) k++;
  if (k == ST_DTYPE_COUNT)
    return emoi_fail(err, EMO_EUNSUPPORTED,
                     TNAME "dtype \"%.16s\" not supported (F32, F16, BF16, F64 are)", nm,
                     dt->valuestring);
  t->dtype = (st_dtype)k;

  if (!cJSON_IsArray(sh))
    return emoi_fail(err, EMO_EMODEL, TNAME "\"shape\" missing or not an array", nm);
  int rank = cJSON_GetArraySize(sh);
  if (rank > ST_MAX_RANK)
    return emoi_fail(err, EMO_EUNSUPPORTED, TNAME "rank %d > %d", nm, rank, ST_MAX_RANK);
  t->rank = rank;
  t->numel = 1;
  const cJSON *d = sh->child;
  for (int i = 0; i < rank; i++, d = d->next) {
    int64_t v = json_uint(d);
    if (v < 0)
      return emoi_fail(err, EMO_EMODEL, TNAME "shape[%d] is not a non-negative integer", nm, i);
    /* both factors <= 2^31: the product cannot overflow */
    if (v > ST_MAX_ELEMS || (t->numel *= v) > ST_MAX_ELEMS)
      return emoi_fail(err, EMO_EMODEL, TNAME "shape has more than %lld elements", nm,
                       (long long)ST_MAX_ELEMS);
    t->shape[i] = v;
  }

  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
    return emoi_fail(err, EMO_EMODEL, TNAME "\"data_offsets\" missing or not [begin, end]", nm);
  int64_t b = json_uint(off->child), en = json_uint(off->child->next);
  if (b < 0 || en < 0)
    return emoi_fail(err, EMO_EMODEL, TNAME "\"data_offsets\" are not non-negative integers", nm);
  if (b > en || (uint64_t)en > data_size)
    return emoi_fail(err, EMO_EMODEL,
                     TNAME "data_offsets [%lld, %lld] outside the data buffer (%zu bytes)", nm,
                     (long long)b, (long long)en, data_size);
  int64_t need = t->numel * dtype_size[k];
  if (en - b != need)
    return emoi_fail(err, EMO_EMODEL,
                     TNAME "data_offsets span %lld bytes, shape and dtype need %lld", nm,
                     (long long)(en - b), (long long)need);
  t->data = data + b;
  return EMO_OK;
}

static int64_t nbytes(const st_tensor *t) {
  return t->numel * dtype_size[t->dtype];
}

/* qsort orders on arrays of const st_tensor *, ties broken by table position so that error
 * messages do not depend on the qsort implementation. */
static int cmp_pos(const st_tensor *a, const st_tensor *b) {
  return (a > b) - (a < b);
}
static int cmp_offset(const void *pa, const void *pb) {
  const st_tensor *a = *(const st_tensor *const *)pa, *b = *(const st_tensor *const *)pb;
  if (a->data != b->data) return a->data < b->data ? -1 : 1;
  return cmp_pos(a, b);
}
static int cmp_name(const void *pa, const void *pb) {
  const st_tensor *a = *(const st_tensor *const *)pa, *b = *(const st_tensor *const *)pb;
  int c = strcmp(a->name, b->name);
  return c ? c : cmp_pos(a, b);
}

static const char *put_str(char **pool, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = *pool;
  memcpy(d, s, n);
  *pool += n;
  return d;
}

#define ALIGN_UP(x) (((x) + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t))

/* Builds the st_file from the parsed header root; the data buffer is data[0..dsize). */
static int parse_header(const cJSON *root, const uint8_t *data, size_t dsize, st_file **out,
                        emoi_err *err) {
  if (!cJSON_IsObject(root))
    return emoi_fail(err, EMO_EMODEL, "safetensors: header is not a JSON object");
  /* pass 1: count tensors, metadata and string bytes; check the metadata */
  const cJSON *e, *m, *meta = NULL;
  size_t n = 0, n_meta = 0, chars = 0;
  cJSON_ArrayForEach(e, root) {
    const char *key = e->string ? e->string : "";
    if (strcmp(key, "__metadata__")) {
      if (n == ST_MAX_TENSORS)
        return emoi_fail(err, EMO_EMODEL, "safetensors: more than %d tensors", ST_MAX_TENSORS);
      n++;
      chars += strlen(key) + 1;
      continue;
    }
    if (meta) return emoi_fail(err, EMO_EMODEL, "safetensors: \"__metadata__\" appears twice");
    if (!cJSON_IsObject(e))
      return emoi_fail(err, EMO_EMODEL, "safetensors: \"__metadata__\" is not an object");
    meta = e;
    cJSON_ArrayForEach(m, e) {
      const char *mk = m->string ? m->string : "";
      if (!cJSON_IsString(m) || !m->valuestring)
        return emoi_fail(err, EMO_EMODEL, "safetensors: __metadata__ '%.100s' is not a string", mk);
      n_meta++;
      chars += strlen(mk) + strlen(m->valuestring) + 2;
    }
  }
  /* one allocation: struct, tensors, by_name, meta pointers, strings */
  size_t o_t = ALIGN_UP(sizeof(st_file)), o_b = ALIGN_UP(o_t + n * sizeof(st_tensor));
  size_t o_m = ALIGN_UP(o_b + n * sizeof(st_tensor *)), o_s = o_m + 2 * n_meta * sizeof(char *);
  char *mem = calloc(1, o_s + chars);
  if (!mem) return emoi_fail(err, EMO_ENOMEM, "safetensors: out of memory for %zu tensors", n);
  st_file *f = (st_file *)mem;
  f->n = (int)n;
  f->n_meta = (int)n_meta;
  f->t = (st_tensor *)(mem + o_t);
  f->by_name = (const st_tensor **)(mem + o_b);
  f->meta = (const char **)(mem + o_m);
  char *pool = mem + o_s;
  int rc = EMO_OK, i = 0, j = 0;
  /* pass 2: tensors and metadata */
  cJSON_ArrayForEach(e, root) {
    if (e == meta) {
      cJSON_ArrayForEach(m, e) {
        f->meta[j++] = put_str(&pool, m->string ? m->string : "");
        f->meta[j++] = put_str(&pool, m->valuestring);
      }
      continue;
    }
    st_tensor *t = &f->t[i];
    t->name = put_str(&pool, e->string ? e->string : "");
    if ((rc = parse_entry(e, data, dsize, t, err))) goto fail;
    f->by_name[i++] = t;
  }
  /* overlapping byte ranges (empty tensors occupy none) */
  qsort(f->by_name, n, sizeof *f->by_name, cmp_offset);
  const st_tensor *prev = NULL;
  for (size_t k = 0; k < n; k++) {
    const st_tensor *t = f->by_name[k];
    if (!t->numel) continue;
    if (prev && prev->data + nbytes(prev) > t->data) {
      rc = emoi_fail(err, EMO_EMODEL, "safetensors: tensors '%.100s' and '%.100s' overlap",
                     prev->name, t->name);
      goto fail;
    }
    prev = t;
  }
  qsort(f->by_name, n, sizeof *f->by_name, cmp_name);
  for (size_t k = 1; k < n; k++)
    if (!strcmp(f->by_name[k - 1]->name, f->by_name[k]->name)) {
      rc = emoi_fail(err, EMO_EMODEL, "safetensors: duplicate tensor name '%.100s'",
                     f->by_name[k]->name);
      goto fail;
    }
  *out = f;
  return EMO_OK;
fail:
  free(mem);
  return rc;
}

int st_open_memory(const uint8_t *data, size_t size, int own, st_file **out, emoi_err *err) {
  int rc;
  char *json = NULL;
  cJSON *root = NULL;
  st_file *f = NULL;
  if (!out) {
    rc = emoi_fail(err, EMO_EINVAL, "safetensors: NULL argument");
    goto done;
  }
  *out = NULL;
  bytes_cur c = bytes_init(data, data ? size : 0);
  uint64_t hlen;
  if (bytes_read_u64(&c, &hlen)) {
    rc = emoi_fail(err, EMO_EMODEL, "safetensors: %zu bytes is too short for a header", size);
    goto done;
  }
  if (hlen > ST_MAX_HEADER) {
    rc = emoi_fail(err, EMO_EMODEL, "safetensors: header length %llu exceeds the limit of %llu",
                   (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    goto done;
  }
  const uint8_t *header;
  if (bytes_read_span(&c, hlen, &header)) {
    rc = emoi_fail(err, EMO_EMODEL, "safetensors: header length %llu runs past the end (%zu bytes)",
                   (unsigned long long)hlen, size);
    goto done;
  }
  /* cJSON gets a NUL-padded copy so that no cJSON version can read past the header */
  if (!(json = calloc(1, (size_t)hlen + 16))) {
    rc = emoi_fail(err, EMO_ENOMEM, "safetensors: out of memory for a %llu-byte header",
                   (unsigned long long)hlen);
    goto done;
  }
  memcpy(json, header, (size_t)hlen);
  const char *end = NULL;
  root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &end, 0);
  if (!root) {
    long at = end && end >= json && end <= json + hlen ? (long)(end - json) : -1;
    rc = emoi_fail(err, EMO_EMODEL, "safetensors: header is not valid JSON (near byte %ld)", at);
    goto done;
  }
  for (const char *p = end; p < json + hlen; p++) /* the spec pads with spaces */
    if (!strchr(" \t\r\n", *p) || !*p) {
      rc = emoi_fail(err, EMO_EMODEL, "safetensors: bytes after the JSON header (at byte %ld)",
                     (long)(p - json));
      goto done;
    }
  rc = parse_header(root, c.p, bytes_left(&c), &f, err);
  if (rc == EMO_OK) {
    f->buf = data;
    f->size = size;
    f->own = own;
    *out = f;
  }
done:
  cJSON_Delete(root);
  free(json);
  if (rc != EMO_OK && own == 1) free((void *)data);
  if (rc != EMO_OK && own == 2) emoi_file_unmap(data, size);
  if (rc != EMO_OK) clean_msg(err);
  return rc;
}

int st_open_file(const char *path, size_t max_bytes, st_file **out, emoi_err *err) {
  if (!path || !out) return emoi_fail(err, EMO_EINVAL, "safetensors: NULL argument");
  *out = NULL;
  const unsigned char *buf = NULL;
  size_t n = 0;
  int64_t cap = max_bytes > 0 && max_bytes <= (size_t)INT64_MAX ? (int64_t)max_bytes : 0;
  int rc = emoi_file_map(path, cap, &buf, &n, err); /* messages name the path */
  if (rc != EMO_OK) return rc;
  rc = st_open_memory(buf, n, 2, out, err);
  if (rc != EMO_OK) emoi_err_prefix(err, path);
  return rc;
}

void st_close(st_file **f) {
  if (!f || !*f) return;
  if ((*f)->own == 1) free((void *)(*f)->buf);
  if ((*f)->own == 2) emoi_file_unmap((*f)->buf, (*f)->size);
  free(*f);
  *f = NULL;
}

int st_count(const st_file *f) {
  return f ? f->n : 0;
}

const st_tensor *st_at(const st_file *f, int i) {
  return f && i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const st_tensor *st_find(const st_file *f, const char *name) {
  if (!f || !name) return NULL;
  int lo = 0, hi = f->n; /* binary search of by_name */
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2, c = strcmp(f->by_name[mid]->name, name);
    if (!c) return f->by_name[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
  if (!f || !key) return NULL;
  for (int i = 0; i < f->n_meta; i++)
    if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
  return NULL;
}

void st_to_f32(const st_tensor *t, float *dst) {
  const uint8_t *p = t->data;
  size_t n = (size_t)t->numel;
  switch (t->dtype) {
    case ST_F32:
      for (size_t i = 0; i < n; i++) dst[i] = bytes_le_f32(p + 4 * i);
      break;
    case ST_F16:
      for (size_t i = 0; i < n; i++) dst[i] = nn_f16_to_f32(bytes_le16(p + 2 * i));
      break;
    case ST_BF16:
      for (size_t i = 0; i < n; i++) dst[i] = nn_bf16_to_f32(bytes_le16(p + 2 * i));
      break;
    case ST_F64:
      for (size_t i = 0; i < n; i++) dst[i] = (float)bytes_le_f64(p + 8 * i);
      break;
    default: break;
  }
}

/* "[3, 4, ?]" (a negative dimension prints as ?) */
static void shape_str(char *s, size_t cap, const int64_t *shape, int rank) {
  size_t k = (size_t)snprintf(s, cap, "[");
  for (int i = 0; i < rank && k < cap; i++) {
    if (shape[i] < 0)
      k += (size_t)snprintf(s + k, cap - k, "%s?", i ? ", " : "");
    else
      k += (size_t)snprintf(s + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
  }
  if (k < cap) snprintf(s + k, cap - k, "]");
}

float *st_get_f32(const st_file *f, const char *name, int rank, const int64_t *shape,
                  emoi_err *err) {
  const st_tensor *t = st_find(f, name);
  if (!t) {
    emoi_fail(err, EMO_EMODEL, "safetensors: missing tensor '%.100s'", name ? name : "(null)");
    clean_msg(err);
    return NULL;
  }
  int ok = t->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
  if (!ok) {
    char a[160], b[160];
    shape_str(a, sizeof a, t->shape, t->rank);
    shape_str(b, sizeof b, shape, rank > 0 && rank <= ST_MAX_RANK ? rank : 0);
    if (rank < 0 || rank > ST_MAX_RANK) snprintf(b, sizeof b, "rank %d", rank);
    emoi_fail(err, EMO_EMODEL, "safetensors: tensor '%.100s' has shape %s, expected %s", t->name, a,
              b);
    clean_msg(err);
    return NULL;
  }
  float *dst = malloc(t->numel ? (size_t)t->numel * sizeof(float) : 1);
  if (!dst) {
    emoi_fail(err, EMO_ENOMEM, "safetensors: tensor '%.100s': out of memory", t->name);
    return NULL;
  }
  st_to_f32(t, dst);
  return dst;
}
