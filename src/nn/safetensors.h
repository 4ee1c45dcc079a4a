/* safetensors.h: a bounds-checked reader of the safetensors format (the weights format of
 * Hugging Face and of tools/wav2vec2_convert.py): an 8-byte little-endian header length N,
 * N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "string value", ...}}, then the data buffer; offsets are relative to
 * the start of the data buffer. Spec: huggingface/safetensors README ("Format").
 *
 * The reader checks everything it is given: header length against the file size and
 * ST_MAX_HEADER, JSON syntax (cJSON), every entry's dtype, rank (<= ST_MAX_RANK), shape
 * (non-negative, product without overflow, <= ST_MAX_ELEMS), offsets (begin <= end <= data
 * size, end - begin == elements x dtype size), duplicate names, metadata values being strings.
 * Overlapping tensors are rejected too (the format forbids them); gaps between tensors are
 * accepted. Numbers must be integers up to 2^53 (cJSON reads them as doubles, so 4.0 or 4e0
 * pass as 4), at most ST_MAX_TENSORS tensors. Only JSON whitespace may follow the
 * JSON object inside the header. A failure returns EMO_EMODEL (EMO_EUNSUPPORTED for a dtype
 * other than the four below or a rank above ST_MAX_RANK) with a message naming the tensor or
 * field, never crashes.
 *
 * It leaves to others: what the tensors mean (audio/wav2vec2.c), reading files from disk
 * (st_open_file only maps the file read-only, core/file.h, then calls st_open_memory). */
#ifndef EMO_NN_SAFETENSORS_H
#define EMO_NN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ST_MAX_RANK 6
#define ST_MAX_HEADER ((uint64_t)100 << 20) /* bytes of JSON header (the spec's own limit) */
#define ST_MAX_ELEMS ((int64_t)1 << 31)     /* elements of any one tensor */
#define ST_MAX_TENSORS 100000

typedef enum st_dtype {
  ST_F32 = 0, /* "F32" */
  ST_F16,     /* "F16": IEEE binary16 */
  ST_BF16,    /* "BF16" */
  ST_F64,     /* "F64" */
  ST_DTYPE_COUNT
} st_dtype;

typedef struct st_tensor {
  const char *name; /* owned by the st_file */
  st_dtype dtype;
  int rank;                   /* 0..ST_MAX_RANK */
  int64_t shape[ST_MAX_RANK]; /* shape[0..rank) */
  int64_t numel;              /* product of shape (1 for rank 0) */
  const uint8_t *data;        /* numel x element size bytes inside the file's buffer; may be
                                 unaligned */
} st_tensor;

typedef struct st_file st_file;

/* Parses a safetensors image of size bytes. The st_file keeps a pointer to data (the caller
 * keeps it alive and unchanged until st_close) unless own = 1, in which case the st_file takes
 * ownership of data (which must come from malloc) and frees it in st_close, also on failure;
 * own = 2 likewise for a mapping from emoi_file_map (st_open_file's way).
 * Returns EMO_OK and *out, or EMO_EMODEL/EMO_EUNSUPPORTED/EMO_ENOMEM (EMO_EINVAL for a NULL
 * out) with err filled and *out = NULL. Tensor names and metadata are copied into the st_file;
 * tensor data is not. May run in several threads at once (cJSON's parser also stores a
 * failure position in a global, unread here, which ThreadSanitizer would report). */
int st_open_memory(const uint8_t *data, size_t size, int own, st_file **out, emoi_err *err);

/* Maps the file at path (core/file.h: a regular file of at most max_bytes, 0 = no cap,
 * else EMO_ELIMIT, checked before mapping) and parses it. EMO_EIO when it cannot be read or
 * is not a regular file (a FIFO, /dev/zero); err messages start with path, once. */
int st_open_file(const char *path, size_t max_bytes, st_file **out, emoi_err *err);

/* Frees f and sets *f to NULL; safe on NULL. */
void st_close(st_file **f);

int st_count(const st_file *f);                               /* number of tensors */
const st_tensor *st_at(const st_file *f, int i);              /* 0 <= i < st_count, in file order */
const st_tensor *st_find(const st_file *f, const char *name); /* NULL when absent; O(log n) */

/* The metadata string for key (owned by the st_file), or NULL when absent; the first of
 * repeated keys. */
const char *st_meta(const st_file *f, const char *key);

/* Copies t into dst (numel floats), converting F16/BF16/F64 to float32: exact for F16
 * (subnormals, inf, NaN payloads) and BF16; F64 rounds to nearest (beyond float range: inf). */
void st_to_f32(const st_tensor *t, float *dst);

/* Convenience for model builders: finds name, checks its rank and shape (a negative expected
 * dimension matches anything) and returns a malloc'ed float32 copy (caller frees), or NULL with
 * err filled: "missing tensor 'NAME'", or EMO_EMODEL naming the tensor, its actual and
 * expected shapes (or EMO_ENOMEM). */
float *st_get_f32(const st_file *f, const char *name, int rank, const int64_t *shape,
                  emoi_err *err);

#endif
