/* tflite_reader.c: reads a TensorFlow Lite model (a FlatBuffer following
 * tensorflow/lite/schema/schema.fbs, identifier "TFL3") into an nn_graph (nn/nn.h).
 *
 * Two layers:
 *   1. a minimal FlatBuffers reader (tables with vtables, scalars with defaults, offsets to
 *      tables, vectors, strings, unions) in which every offset and length is checked against
 *      the buffer before use, in 64-bit arithmetic so nothing wraps (bytes_fits, then the
 *      plain loads of core/bytes.h: FlatBuffers is read by position, not in sequence, so the
 *      byte cursor itself does not fit it). FlatBuffers offsets to tables, vectors and
 *      strings are unsigned and point forward, so references cannot form a cycle; and the
 *      reader walks the fixed schema (Model -> SubGraph -> Operator/Tensor -> options), never
 *      recursing on data, so depth is bounded by the schema itself. Work is bounded by the
 *      counts, which are capped (tensors, operators, elements per tensor, total constant
 *      bytes).
 *   2. the TFLite mapping: tensors become nn values (FLOAT32 / INT32 constants are copied
 *      into the graph's weight blob; FLOAT16 constants read by a DEQUANTIZE op are converted
 *      to FLOAT32 here and the DEQUANTIZE disappears), builtin operators and their options
 *      become nn nodes and nn_attr, and the result is finalized (nn_graph_finalize).
 *
 * Left to others: shape inference and graph checks (nn/graph.c), execution (nn/plan.c).
 * Quantized (int8/uint8) models, sparse tensors, custom ops and control flow are rejected
 * with EMO_EUNSUPPORTED naming what was met. */
#include "nn/tflite_reader.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "nn/half.h"

/* ---- Minimal bounds-checked FlatBuffers reader ------------------------------------------ */

typedef struct fb_reader {
  const uint8_t *p; /* the whole file, n bytes */
  size_t n;
  const char *src; /* file name for messages */
  emoi_err *err;
} fb_reader;

/* A table: its position, its vtable's position and the lengths both claim. A table with
 * vt_len == 0 is "absent": every field reads as its default. */
typedef struct fb_table {
  size_t pos, vt;
  uint32_t vt_len, tab_len;
} fb_table;

/* A vector: position of element 0 and element count (already checked to fit). */
typedef struct fb_vec {
  size_t pos;
  uint32_t len;
} fb_vec;

/* 1 when [pos, pos + len) lies inside the buffer. */
static int fb_in(const fb_reader *r, uint64_t pos, uint64_t len) {
  return bytes_fits(pos, len, r->n);
}

static int fb_bad(const fb_reader *r, const char *what, const char *why) {
  return emoi_fail(r->err, EMO_EMODEL, "%s: malformed TFLite file: %s: %s", r->src, what, why);
}

/* Opens the table at pos. */
static int fb_table_at(const fb_reader *r, uint64_t pos, fb_table *t, const char *what) {
  if (pos % 4 != 0 || !fb_in(r, pos, 4)) return fb_bad(r, what, "table offset out of bounds");
  int32_t so = (int32_t)bytes_le32(r->p + pos);
  int64_t vt = (int64_t)pos - (int64_t)so;
  if (vt < 0 || vt % 2 != 0 || !fb_in(r, (uint64_t)vt, 4))
    return fb_bad(r, what, "vtable offset out of bounds");
  uint32_t vt_len = bytes_le16(r->p + vt), tab_len = bytes_le16(r->p + vt + 2);
  if (vt_len < 4 || vt_len % 2 != 0 || !fb_in(r, (uint64_t)vt, vt_len))
    return fb_bad(r, what, "bad vtable length");
  if (tab_len < 4 || !fb_in(r, pos, tab_len)) return fb_bad(r, what, "bad table length");
  t->pos = (size_t)pos;
  t->vt = (size_t)vt;
  t->vt_len = vt_len;
  t->tab_len = tab_len;
  return EMO_OK;
}

/* Offset of field id inside the table, or 0 when absent; checks the field's size fits. */
static int fb_field(const fb_reader *r, const fb_table *t, int id, uint32_t size, uint32_t *off,
                    const char *what) {
  *off = 0;
  uint32_t slot = 4u + 2u * (uint32_t)id;
  if (t->vt_len == 0 || slot + 2 > t->vt_len) return EMO_OK;
  uint32_t o = bytes_le16(r->p + t->vt + slot);
  if (o == 0) return EMO_OK;
  if (o < 4 || (uint64_t)o + size > t->tab_len) return fb_bad(r, what, "field outside its table");
  *off = o;
  return EMO_OK;
}

static int fb_i32(const fb_reader *r, const fb_table *t, int id, int32_t def, int32_t *v,
                  const char *what) {
  uint32_t off;
  int rc = fb_field(r, t, id, 4, &off, what);
  if (rc) return rc;
  *v = off ? (int32_t)bytes_le32(r->p + t->pos + off) : def;
  return EMO_OK;
}

static int fb_u64(const fb_reader *r, const fb_table *t, int id, uint64_t *v, const char *what) {
  uint32_t off;
  int rc = fb_field(r, t, id, 8, &off, what);
  if (rc) return rc;
  *v = off ? bytes_le64(r->p + t->pos + off) : 0;
  return EMO_OK;
}

static int fb_i8(const fb_reader *r, const fb_table *t, int id, int def, int *v, const char *what) {
  uint32_t off;
  int rc = fb_field(r, t, id, 1, &off, what);
  if (rc) return rc;
  *v = off ? (int)(int8_t)r->p[t->pos + off] : def;
  return EMO_OK;
}

static int fb_u8(const fb_reader *r, const fb_table *t, int id, int def, int *v, const char *what) {
  uint32_t off;
  int rc = fb_field(r, t, id, 1, &off, what);
  if (rc) return rc;
  *v = off ? (int)r->p[t->pos + off] : def;
  return EMO_OK;
}

static int fb_f32(const fb_reader *r, const fb_table *t, int id, float def, float *v,
                  const char *what) {
  uint32_t off;
  int rc = fb_field(r, t, id, 4, &off, what);
  if (rc) return rc;
  if (off) {
    *v = bytes_le_f32(r->p + t->pos + off);
  } else {
    *v = def;
  }
  return EMO_OK;
}

/* Follows the uoffset stored at absolute position at. */
static int fb_deref(const fb_reader *r, uint64_t at, uint64_t *target, const char *what) {
  *target = 0;
  if (!fb_in(r, at, 4)) return fb_bad(r, what, "offset out of bounds");
  uint64_t tg = at + bytes_le32(r->p + at);
  if (tg >= r->n) return fb_bad(r, what, "offset points past the end of the file");
  *target = tg;
  return EMO_OK;
}

/* Reference field id: *present = 0 when absent, else *target = the referenced position. */
static int fb_ref(const fb_reader *r, const fb_table *t, int id, int *present, uint64_t *target,
                  const char *what) {
  uint32_t off;
  int rc = fb_field(r, t, id, 4, &off, what);
  if (rc) return rc;
  *present = off != 0;
  if (!off) return EMO_OK;
  return fb_deref(r, (uint64_t)t->pos + off, target, what);
}

/* Vector at pos with elements of elem_size bytes. */
static int fb_vec_at(const fb_reader *r, uint64_t pos, uint32_t elem_size, fb_vec *v,
                     const char *what) {
  if (pos % 4 != 0 || !fb_in(r, pos, 4)) return fb_bad(r, what, "vector out of bounds");
  uint32_t len = bytes_le32(r->p + pos);
  if (!fb_in(r, pos + 4, (uint64_t)len * elem_size))
    return fb_bad(r, what, "vector length runs past the end of the file");
  v->pos = (size_t)pos + 4;
  v->len = len;
  return EMO_OK;
}

/* Vector field id; an absent field is an empty vector. */
static int fb_vec_field(const fb_reader *r, const fb_table *t, int id, uint32_t elem_size,
                        fb_vec *v, const char *what) {
  int present;
  uint64_t tg = 0;
  v->pos = 0;
  v->len = 0;
  int rc = fb_ref(r, t, id, &present, &tg, what);
  if (rc || !present) return rc;
  return fb_vec_at(r, tg, elem_size, v, what);
}

/* Table field id; an absent field gives an absent table (all defaults). */
static int fb_table_field(const fb_reader *r, const fb_table *t, int id, fb_table *out,
                          int *present, const char *what) {
  uint64_t tg = 0;
  memset(out, 0, sizeof *out);
  int rc = fb_ref(r, t, id, present, &tg, what);
  if (rc || !*present) return rc;
  return fb_table_at(r, tg, out, what);
}

/* Element i of a vector of tables. */
static int fb_vec_table(const fb_reader *r, const fb_vec *v, uint32_t i, fb_table *out,
                        const char *what) {
  uint64_t tg = 0;
  int rc = fb_deref(r, (uint64_t)v->pos + 4ull * i, &tg, what);
  if (rc) return rc;
  return fb_table_at(r, tg, out, what);
}

static int32_t fb_vec_i32(const fb_reader *r, const fb_vec *v, uint32_t i) {
  return (int32_t)bytes_le32(r->p + v->pos + 4ull * i);
}

/* String field: *s points into the buffer (NUL-terminated, checked) or is NULL if absent. */
static int fb_string(const fb_reader *r, const fb_table *t, int id, const char **s,
                     const char *what) {
  fb_vec v;
  *s = NULL;
  int rc = fb_vec_field(r, t, id, 1, &v, what);
  if (rc) return rc;
  if (v.pos == 0) return EMO_OK;
  if (!fb_in(r, v.pos, (uint64_t)v.len + 1) || r->p[v.pos + v.len] != 0)
    return fb_bad(r, what, "string not NUL-terminated");
  if (memchr(r->p + v.pos, 0, v.len)) return fb_bad(r, what, "string contains a NUL byte");
  *s = (const char *)(r->p + v.pos);
  return EMO_OK;
}

/* ---- TFLite schema constants ------------------------------------------------------------ */

enum { /* TensorType */
       TFL_FLOAT32 = 0,
       TFL_FLOAT16 = 1,
       TFL_INT32 = 2
};

enum { /* BuiltinOperator (the ones mapped) */
       TFL_ADD = 0,
       TFL_AVERAGE_POOL_2D = 1,
       TFL_CONCATENATION = 2,
       TFL_CONV_2D = 3,
       TFL_DEPTHWISE_CONV_2D = 4,
       TFL_DEQUANTIZE = 6,
       TFL_FULLY_CONNECTED = 9,
       TFL_LOGISTIC = 14,
       TFL_MAX_POOL_2D = 17,
       TFL_MUL = 18,
       TFL_RELU = 19,
       TFL_RELU6 = 21,
       TFL_RESHAPE = 22,
       TFL_RESIZE_BILINEAR = 23,
       TFL_SOFTMAX = 25,
       TFL_TANH = 28,
       TFL_PAD = 34,
       TFL_TRANSPOSE = 39,
       TFL_MEAN = 40,
       TFL_SUB = 41,
       TFL_DIV = 42,
       TFL_STRIDED_SLICE = 45,
       TFL_PRELU = 54,
       TFL_MAXIMUM = 55,
       TFL_MINIMUM = 57,
       TFL_NEG = 59,
       TFL_PADV2 = 60,
       TFL_SUM = 74,
       TFL_SQRT = 75,
       TFL_RSQRT = 76,
       TFL_LEAKY_RELU = 98,
       TFL_SQUARED_DIFFERENCE = 99
};

enum { /* BuiltinOptions union tags */
       TFO_NONE = 0,
       TFO_CONV2D = 1,
       TFO_DEPTHWISE = 2,
       TFO_POOL2D = 5,
       TFO_FULLY_CONNECTED = 8,
       TFO_SOFTMAX = 9,
       TFO_CONCATENATION = 10,
       TFO_ADD = 11,
       TFO_RESIZE_BILINEAR = 15,
       TFO_RESHAPE = 17,
       TFO_MUL = 21,
       TFO_REDUCER = 27,
       TFO_SUB = 28,
       TFO_DIV = 29,
       TFO_LEAKY_RELU = 75
};

static const char *const k_op_names[] = {"ADD",
                                         "AVERAGE_POOL_2D",
                                         "CONCATENATION",
                                         "CONV_2D",
                                         "DEPTHWISE_CONV_2D",
                                         "DEPTH_TO_SPACE",
                                         "DEQUANTIZE",
                                         "EMBEDDING_LOOKUP",
                                         "FLOOR",
                                         "FULLY_CONNECTED",
                                         "HASHTABLE_LOOKUP",
                                         "L2_NORMALIZATION",
                                         "L2_POOL_2D",
                                         "LOCAL_RESPONSE_NORMALIZATION",
                                         "LOGISTIC",
                                         "LSH_PROJECTION",
                                         "LSTM",
                                         "MAX_POOL_2D",
                                         "MUL",
                                         "RELU",
                                         "RELU_N1_TO_1",
                                         "RELU6",
                                         "RESHAPE",
                                         "RESIZE_BILINEAR",
                                         "RNN",
                                         "SOFTMAX",
                                         "SPACE_TO_DEPTH",
                                         "SVDF",
                                         "TANH",
                                         "CONCAT_EMBEDDINGS",
                                         "SKIP_GRAM",
                                         "CALL",
                                         "CUSTOM",
                                         "EMBEDDING_LOOKUP_SPARSE",
                                         "PAD",
                                         "UNIDIRECTIONAL_SEQUENCE_RNN",
                                         "GATHER",
                                         "BATCH_TO_SPACE_ND",
                                         "SPACE_TO_BATCH_ND",
                                         "TRANSPOSE",
                                         "MEAN",
                                         "SUB",
                                         "DIV",
                                         "SQUEEZE",
                                         "UNIDIRECTIONAL_SEQUENCE_LSTM",
                                         "STRIDED_SLICE",
                                         "BIDIRECTIONAL_SEQUENCE_RNN",
                                         "EXP",
                                         "TOPK_V2",
                                         "SPLIT",
                                         "LOG_SOFTMAX",
                                         "DELEGATE",
                                         "BIDIRECTIONAL_SEQUENCE_LSTM",
                                         "CAST",
                                         "PRELU",
                                         "MAXIMUM",
                                         "ARG_MAX",
                                         "MINIMUM",
                                         "LESS",
                                         "NEG",
                                         "PADV2",
                                         "GREATER",
                                         "GREATER_EQUAL",
                                         "LESS_EQUAL",
                                         "SELECT",
                                         "SLICE",
                                         "SIN",
                                         "TRANSPOSE_CONV",
                                         "SPARSE_TO_DENSE",
                                         "TILE",
                                         "EXPAND_DIMS",
                                         "EQUAL",
                                         "NOT_EQUAL",
                                         "LOG",
                                         "SUM",
                                         "SQRT",
                                         "RSQRT",
                                         "SHAPE",
                                         "POW",
                                         "ARG_MIN",
                                         "FAKE_QUANT",
                                         "REDUCE_PROD",
                                         "REDUCE_MAX",
                                         "PACK",
                                         "LOGICAL_OR",
                                         "ONE_HOT",
                                         "LOGICAL_AND",
                                         "LOGICAL_NOT",
                                         "UNPACK",
                                         "REDUCE_MIN",
                                         "FLOOR_DIV",
                                         "REDUCE_ANY",
                                         "SQUARE",
                                         "ZEROS_LIKE",
                                         "FILL",
                                         "FLOOR_MOD",
                                         "RANGE",
                                         "RESIZE_NEAREST_NEIGHBOR",
                                         "LEAKY_RELU",
                                         "SQUARED_DIFFERENCE",
                                         "MIRROR_PAD",
                                         "ABS",
                                         "SPLIT_V",
                                         "UNIQUE",
                                         "CEIL",
                                         "REVERSE_V2",
                                         "ADD_N",
                                         "GATHER_ND",
                                         "COS",
                                         "WHERE",
                                         "RANK",
                                         "ELU",
                                         "REVERSE_SEQUENCE",
                                         "MATRIX_DIAG",
                                         "QUANTIZE",
                                         "MATRIX_SET_DIAG",
                                         "ROUND",
                                         "HARD_SWISH",
                                         "IF",
                                         "WHILE",
                                         "NON_MAX_SUPPRESSION_V4",
                                         "NON_MAX_SUPPRESSION_V5",
                                         "SCATTER_ND",
                                         "SELECT_V2",
                                         "DENSIFY",
                                         "SEGMENT_SUM",
                                         "BATCH_MATMUL",
                                         "PLACEHOLDER_FOR_GREATER_OP_CODES",
                                         "CUMSUM",
                                         "CALL_ONCE",
                                         "BROADCAST_TO",
                                         "RFFT2D",
                                         "CONV_3D",
                                         "IMAG",
                                         "REAL",
                                         "COMPLEX_ABS",
                                         "HASHTABLE",
                                         "HASHTABLE_FIND",
                                         "HASHTABLE_IMPORT",
                                         "HASHTABLE_SIZE",
                                         "REDUCE_ALL",
                                         "CONV_3D_TRANSPOSE",
                                         "VAR_HANDLE",
                                         "READ_VARIABLE",
                                         "ASSIGN_VARIABLE",
                                         "BROADCAST_ARGS",
                                         "RANDOM_STANDARD_NORMAL",
                                         "BUCKETIZE",
                                         "RANDOM_UNIFORM",
                                         "MULTINOMIAL",
                                         "GELU",
                                         "DYNAMIC_UPDATE_SLICE",
                                         "RELU_0_TO_1",
                                         "UNSORTED_SEGMENT_PROD",
                                         "UNSORTED_SEGMENT_MAX",
                                         "UNSORTED_SEGMENT_SUM",
                                         "ATAN2",
                                         "UNSORTED_SEGMENT_MIN",
                                         "SIGN",
                                         "BITCAST",
                                         "BITWISE_XOR",
                                         "RIGHT_SHIFT"};

const char *nn_tflite_op_name(int builtin_code) {
  if (builtin_code < 0 || builtin_code >= (int)(sizeof k_op_names / sizeof k_op_names[0]))
    return "UNKNOWN";
  return k_op_names[builtin_code];
}

static const char *type_name(int t) {
  static const char *const names[] = {"FLOAT32", "FLOAT16",    "INT32",  "UINT8",     "INT64",
                                      "STRING",  "BOOL",       "INT16",  "COMPLEX64", "INT8",
                                      "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE",  "VARIANT",
                                      "UINT32",  "UINT16",     "INT4"};
  if (t < 0 || t >= (int)(sizeof names / sizeof names[0])) return "UNKNOWN";
  return names[t];
}

/* ---- TFLite -> nn_graph ----------------------------------------------------------------- */

/* One TFLite tensor as parsed. */
typedef struct tfl_tensor {
  int type; /* TensorType */
  int rank;
  int64_t shape[NN_MAX_RANK];
  int64_t numel;       /* product of shape (>= 0) */
  const char *name;    /* in the file, or NULL */
  const uint8_t *data; /* constant bytes in the file, NULL for activations; nbytes long */
  size_t nbytes;
  int value;    /* nn value id, -1 while not created */
  int dq_src;   /* >= 0: output of a folded DEQUANTIZE of that tensor (a constant) */
  int produced; /* written by a (kept) operator */
  int is_input; /* a subgraph input */
} tfl_tensor;

typedef struct loader {
  fb_reader r;
  nn_graph *g;
  tfl_tensor *t; /* (n_tensors,) */
  uint32_t n_tensors;
  int *codes; /* (n_codes,) builtin code of each operator code */
  uint32_t n_codes;
  fb_vec buffers;
  uint64_t const_bytes; /* constant bytes copied so far, capped */
  uint64_t const_cap;
} loader;

static int elem_size(int type) {
  return type == TFL_FLOAT16 ? 2 : 4; /* FLOAT32 and INT32 are 4 bytes */
}

/* Reads Buffer b of the model into data/nbytes (NULL/0 when empty). */
static int read_buffer(loader *L, uint32_t b, const uint8_t **data, size_t *nbytes) {
  const fb_reader *r = &L->r;
  fb_table bt;
  char what[96];
  *data = NULL;
  *nbytes = 0;
  snprintf(what, sizeof what, "Model.buffers[%u]", b);
  if (b >= L->buffers.len) return fb_bad(r, what, "buffer index out of range");
  int rc = fb_vec_table(r, &L->buffers, b, &bt, what);
  if (rc) return rc;
  fb_vec v;
  if ((rc = fb_vec_field(r, &bt, 0, 1, &v, what))) return rc;
  if (v.len > 0) {
    *data = r->p + v.pos;
    *nbytes = v.len;
    return EMO_OK;
  }
  /* Schema 3c: large buffers may live after the flatbuffer, at (offset, size) in the file;
   * offset 0 or 1 means none. */
  uint64_t off, sz;
  if ((rc = fb_u64(r, &bt, 1, &off, what)) || (rc = fb_u64(r, &bt, 2, &sz, what))) return rc;
  if (off > 1 && sz > 0) {
    if (!fb_in(r, off, sz)) return fb_bad(r, what, "offset/size outside the file");
    *data = r->p + off;
    *nbytes = (size_t)sz;
  }
  return EMO_OK;
}

static int parse_tensor(loader *L, const fb_table *tt, uint32_t i) {
  const fb_reader *r = &L->r;
  tfl_tensor *t = &L->t[i];
  char what[96];
  int rc;
  snprintf(what, sizeof what, "Model.subgraphs[0].tensors[%u]", i);
  t->value = -1;
  t->dq_src = -1;
  fb_vec sh;
  if ((rc = fb_vec_field(r, tt, 0, 4, &sh, what))) return rc;
  if (sh.len > NN_MAX_RANK)
    return emoi_fail(r->err, EMO_EUNSUPPORTED, "%s: %s: rank %u exceeds %d", r->src, what, sh.len,
                     NN_MAX_RANK);
  t->rank = (int)sh.len;
  t->numel = 1;
  for (uint32_t d = 0; d < sh.len; d++) {
    int32_t s = fb_vec_i32(r, &sh, d);
    if (s == -1 && d == 0) s = 1; /* unknown batch: emo runs batch 1 */
    if (s < 0) return fb_bad(r, what, "negative dimension in shape");
    t->shape[d] = s;
    t->numel *= s;
    if (t->numel > NN_TFLITE_MAX_ELEMS) return fb_bad(r, what, "tensor has too many elements");
  }
  if ((rc = fb_i8(r, tt, 1, 0, &t->type, what))) return rc;
  int32_t buf;
  if ((rc = fb_i32(r, tt, 2, 0, &buf, what))) return rc;
  if ((rc = fb_string(r, tt, 3, &t->name, what))) return rc;
  /* field 6: sparsity */
  fb_table sp;
  int has_sparsity;
  if ((rc = fb_table_field(r, tt, 6, &sp, &has_sparsity, what))) return rc;
  if (has_sparsity)
    return emoi_fail(r->err, EMO_EUNSUPPORTED, "%s: tensor '%s': sparse tensors are not supported",
                     r->src, t->name ? t->name : "?");
  if ((rc = read_buffer(L, (uint32_t)buf, &t->data, &t->nbytes))) return rc;
  if (t->data) {
    if (t->type != TFL_FLOAT32 && t->type != TFL_FLOAT16 && t->type != TFL_INT32)
      return emoi_fail(r->err, EMO_EUNSUPPORTED,
                       "%s: tensor '%s': constant of type %s is not supported", r->src,
                       t->name ? t->name : "?", type_name(t->type));
    if ((uint64_t)t->numel * (uint64_t)elem_size(t->type) != t->nbytes)
      return fb_bad(r, what, "buffer size does not match the tensor's shape and type");
  }
  return EMO_OK;
}

/* Returns the nn value id of tensor i, creating it on first use. */
static int tensor_value(loader *L, int i, emoi_err *err) {
  tfl_tensor *t = &L->t[i];
  const char *src = L->r.src;
  if (t->value >= 0) return t->value;
  char namebuf[32];
  const char *name = t->name;
  if (!name || !*name) {
    snprintf(namebuf, sizeof namebuf, "tensor_%d", i);
    name = namebuf;
  }
  int id;
  if (t->dq_src >= 0 || t->data) {
    const tfl_tensor *s = t->dq_src >= 0 ? &L->t[t->dq_src] : t;
    if (s->type == TFL_FLOAT16 && t->dq_src < 0)
      return emoi_fail(err, EMO_EUNSUPPORTED,
                       "%s: tensor '%s': FLOAT16 constant not read through DEQUANTIZE", src, name);
    uint64_t out_bytes = (uint64_t)s->numel * 4;
    if (L->const_bytes + out_bytes > L->const_cap)
      return emoi_fail(err, EMO_EMODEL,
                       "%s: malformed TFLite file: constants exceed %llu bytes (tensor '%s')", src,
                       (unsigned long long)L->const_cap, name);
    L->const_bytes += out_bytes;
    nn_dtype dt = s->type == TFL_INT32 ? NN_I32 : NN_F32;
    if (s->type == TFL_FLOAT16) {
      /* shaped like the DEQUANTIZE output (same element count, checked at the fold) */
      id = nn_graph_add_const(L->g, name, NN_F32, t->rank, t->shape, NULL, (size_t)out_bytes, err);
      if (id < 0) return id;
      float *dst = nn_graph_const_data(L->g, id); /* (numel,) */
      for (int64_t k = 0; k < s->numel; k++) dst[k] = nn_f16_to_f32(bytes_le16(s->data + 2 * k));
    } else {
      id = nn_graph_add_const(L->g, name, dt, s->rank, s->shape, s->data, s->nbytes, err);
      if (id < 0) return id;
    }
  } else {
    if (t->type != TFL_FLOAT32 && t->type != TFL_INT32)
      return emoi_fail(err, EMO_EUNSUPPORTED, "%s: tensor '%s': type %s is not supported", src,
                       name, type_name(t->type));
    id = nn_graph_add_value(L->g, name, t->type == TFL_INT32 ? NN_I32 : NN_F32, t->rank, t->shape,
                            err);
    if (id < 0) return id;
  }
  t->value = id;
  return id;
}

/* Fused activation -> clamp. */
static int set_act(loader *L, int act, nn_attr *a, const char *opname) {
  switch (act) {
    case 0:
      a->act_min = -INFINITY;
      a->act_max = INFINITY;
      return EMO_OK;
    case 1:
      a->act_min = 0.0f;
      a->act_max = INFINITY;
      return EMO_OK;
    case 2:
      a->act_min = -1.0f;
      a->act_max = 1.0f;
      return EMO_OK;
    case 3:
      a->act_min = 0.0f;
      a->act_max = 6.0f;
      return EMO_OK;
    case 4:
    case 5:
      return emoi_fail(L->r.err, EMO_EUNSUPPORTED, "%s: %s: fused activation %s is not supported",
                       L->r.src, opname, act == 4 ? "TANH" : "SIGN_BIT");
    default:
      return emoi_fail(L->r.err, EMO_EMODEL,
                       "%s: malformed TFLite file: %s: fused_activation_function %d unknown",
                       L->r.src, opname, act);
  }
}

static int set_padding(loader *L, int pad, nn_attr *a, const char *what) {
  if (pad == 0)
    a->padding = NN_PAD_SAME;
  else if (pad == 1)
    a->padding = NN_PAD_VALID;
  else
    return fb_bad(&L->r, what, "unknown padding");
  return EMO_OK;
}

static int check_pos(loader *L, int32_t v, const char *what, const char *field) {
  if (v < 1 || v > 65536)
    return emoi_fail(L->r.err, EMO_EMODEL, "%s: malformed TFLite file: %s: %s = %d out of range",
                     L->r.src, what, field, (int)v);
  return EMO_OK;
}

/* Reads a constant INT32 tensor (input slot k of the op) into vals; returns its count in *n. */
static int const_ints(loader *L, int ti, int64_t *vals, int cap, int *n, const char *what,
                      const char *role) {
  if (ti < 0)
    return emoi_fail(L->r.err, EMO_EMODEL, "%s: malformed TFLite file: %s: missing %s input",
                     L->r.src, what, role);
  const tfl_tensor *t = &L->t[ti];
  if (!t->data || t->type != TFL_INT32)
    return emoi_fail(L->r.err, EMO_EUNSUPPORTED, "%s: %s: %s must be a constant INT32 tensor",
                     L->r.src, what, role);
  if (t->numel > cap)
    return emoi_fail(L->r.err, EMO_EUNSUPPORTED, "%s: %s: %s has %lld values (at most %d)",
                     L->r.src, what, role, (long long)t->numel, cap);
  for (int64_t k = 0; k < t->numel; k++) vals[k] = (int32_t)bytes_le32(t->data + 4 * k);
  *n = (int)t->numel;
  return EMO_OK;
}

/* ---- Ops lowered to several nodes ----------------------------------------------------------
 * NEG = x * -1; RSQRT = 1 / SQRT(x); SQUARED_DIFFERENCE = (a - b) * (a - b); SUM = MEAN * count;
 * STRIDED_SLICE with unit strides = SLICE (then RESHAPE for shrunk axes). Intermediate values
 * are named after the TFLite output tensor with a suffix. */

/* A new float value "base/suffix" of the given rank, shape left to inference. */
static int tmp_value(loader *L, const char *base, const char *suffix, int rank) {
  char name[192];
  int64_t shape[NN_MAX_RANK];
  for (int d = 0; d < NN_MAX_RANK; d++) shape[d] = -1;
  snprintf(name, sizeof name, "%.150s/%s", base, suffix);
  return nn_graph_add_value(L->g, name, NN_F32, rank, shape, L->r.err);
}

/* A constant float of shape (1,) named "base/suffix". */
static int scalar_const(loader *L, const char *base, const char *suffix, float v) {
  char name[192];
  int64_t shape[1] = {1};
  snprintf(name, sizeof name, "%.150s/%s", base, suffix);
  return nn_graph_add_const(L->g, name, NN_F32, 1, shape, &v, sizeof v, L->r.err);
}

static int emit(loader *L, nn_op op, int a, int b, int out, const nn_attr *attr, const char *name) {
  int in[2] = {a, b};
  nn_attr d = nn_attr_default();
  int rc =
      nn_graph_add_node(L->g, op, in, b >= 0 ? 2 : 1, &out, 1, attr ? attr : &d, name, L->r.err);
  return rc < 0 ? rc : EMO_OK;
}

static int lower_composite(loader *L, int code, const int *tin, int n_in, int tout,
                           const fb_table *opt, const char *what) {
  const fb_reader *r = &L->r;
  emoi_err *err = r->err;
  const char *opname = nn_tflite_op_name(code);
  int want = code == TFL_SQUARED_DIFFERENCE                               ? 2
             : (code == TFL_NEG || code == TFL_RSQRT || code == TFL_SQRT) ? 1
             : code == TFL_STRIDED_SLICE                                  ? 4
                                                                          : 2;
  if (n_in != want)
    return emoi_fail(err, EMO_EMODEL, "%s: malformed TFLite file: %s (%s): %d inputs, expected %d",
                     r->src, what, opname, n_in, want);
  if (tin[0] < 0) return fb_bad(r, what, "required input is absent (-1)");
  const tfl_tensor *xt = &L->t[tin[0]];
  int x = tensor_value(L, tin[0], err);
  if (x < 0) return x;
  int y = tensor_value(L, tout, err);
  if (y < 0) return y;
  L->t[tout].produced = 1;
  const char *base = L->t[tout].name ? L->t[tout].name : opname;
  nn_attr a = nn_attr_default();
  int rc, t, c;
  switch (code) {
    case TFL_SQRT: return emit(L, NN_OP_SQRT, x, -1, y, NULL, base);
    case TFL_NEG:
      if ((c = scalar_const(L, base, "minus_one", -1.0f)) < 0) return c;
      return emit(L, NN_OP_MUL, x, c, y, NULL, base);
    case TFL_RSQRT:
      if ((t = tmp_value(L, base, "sqrt", xt->rank)) < 0) return t;
      if ((c = scalar_const(L, base, "one", 1.0f)) < 0) return c;
      if ((rc = emit(L, NN_OP_SQRT, x, -1, t, NULL, base))) return rc;
      return emit(L, NN_OP_DIV, c, t, y, NULL, base);
    case TFL_SQUARED_DIFFERENCE: {
      if (tin[1] < 0) return fb_bad(r, what, "required input is absent (-1)");
      int b = tensor_value(L, tin[1], err);
      if (b < 0) return b;
      int rank = xt->rank > L->t[tin[1]].rank ? xt->rank : L->t[tin[1]].rank;
      if ((t = tmp_value(L, base, "diff", rank)) < 0) return t;
      if ((rc = emit(L, NN_OP_SUB, x, b, t, NULL, base))) return rc;
      return emit(L, NN_OP_MUL, t, t, y, NULL, base);
    }
    case TFL_TRANSPOSE: {
      int64_t perm[NN_MAX_RANK];
      int np;
      if ((rc = const_ints(L, tin[1], perm, NN_MAX_RANK, &np, what, "perm"))) return rc;
      if (np != xt->rank) return fb_bad(r, what, "TRANSPOSE perm does not match the input rank");
      for (int d = 0; d < np; d++) a.axes[d] = (int)(perm[d] >= 0 && perm[d] < np ? perm[d] : -1);
      a.n_axes = np;
      return emit(L, NN_OP_TRANSPOSE, x, -1, y, &a, base);
    }
    case TFL_SUM: {
      int64_t ax[NN_MAX_RANK];
      int na, keep;
      if ((rc = const_ints(L, tin[1], ax, NN_MAX_RANK, &na, what, "axes"))) return rc;
      if ((rc = fb_u8(r, opt, 0, 0, &keep, what))) return rc;
      double count = 1;
      int red[NN_MAX_RANK] = {0};
      for (int d = 0; d < na; d++) {
        int64_t v = ax[d] < 0 ? ax[d] + xt->rank : ax[d];
        if (v < 0 || v >= xt->rank || red[v]++) return fb_bad(r, what, "SUM axis out of range");
        if (xt->shape[v] < 1)
          return emoi_fail(err, EMO_EUNSUPPORTED, "%s: %s: SUM over a dimension of unknown size",
                           r->src, what);
        a.axes[d] = (int)v;
        count *= (double)xt->shape[v];
      }
      a.n_axes = na;
      a.keepdims = keep != 0;
      if ((t = tmp_value(L, base, "mean", keep ? xt->rank : xt->rank - na)) < 0) return t;
      if ((c = scalar_const(L, base, "count", (float)count)) < 0) return c;
      if ((rc = emit(L, NN_OP_MEAN, x, -1, t, &a, base))) return rc;
      return emit(L, NN_OP_MUL, t, c, y, NULL, base);
    }
    case TFL_STRIDED_SLICE: {
      int64_t be[NN_MAX_RANK], en[NN_MAX_RANK], st[NN_MAX_RANK];
      int nb, ne, ns;
      int32_t bmask, emask, ellipsis, newax, shrink;
      int offset;
      if ((rc = const_ints(L, tin[1], be, NN_MAX_RANK, &nb, what, "begin")) ||
          (rc = const_ints(L, tin[2], en, NN_MAX_RANK, &ne, what, "end")) ||
          (rc = const_ints(L, tin[3], st, NN_MAX_RANK, &ns, what, "strides")))
        return rc;
      if ((rc = fb_i32(r, opt, 0, 0, &bmask, what)) || (rc = fb_i32(r, opt, 1, 0, &emask, what)) ||
          (rc = fb_i32(r, opt, 2, 0, &ellipsis, what)) ||
          (rc = fb_i32(r, opt, 3, 0, &newax, what)) || (rc = fb_i32(r, opt, 4, 0, &shrink, what)) ||
          (rc = fb_u8(r, opt, 5, 0, &offset, what)))
        return rc;
      if (nb != ne || nb != ns || nb > xt->rank)
        return fb_bad(r, what, "STRIDED_SLICE begin, end and strides differ in length");
      if (ellipsis || newax)
        return emoi_fail(err, EMO_EUNSUPPORTED,
                         "%s: %s: STRIDED_SLICE with ellipsis or new axes is not supported", r->src,
                         what);
      for (int d = 0; d < xt->rank; d++) {
        int64_t dim = xt->shape[d];
        if (dim < 1) return fb_bad(r, what, "STRIDED_SLICE of a dimension of unknown size");
        int64_t b = 0, e = dim;
        if (d < nb) {
          if (st[d] != 1)
            return emoi_fail(err, EMO_EUNSUPPORTED,
                             "%s: %s: STRIDED_SLICE stride %lld (only 1 is supported)", r->src,
                             what, (long long)st[d]);
          b = (bmask >> d) & 1 ? 0 : be[d];
          e = offset ? b + en[d] : ((emask >> d) & 1 ? dim : en[d]);
          if (b < 0) b += dim;
          if (e < 0) e += dim;
          if ((shrink >> d) & 1) e = b + 1;
          if (b < 0) b = 0;
          if (b > dim) b = dim;
          if (e < b) e = b;
          if (e > dim) e = dim;
        }
        a.slice_begin[d] = b;
        a.slice_end[d] = e;
      }
      if (!shrink && L->t[tout].rank == xt->rank) return emit(L, NN_OP_SLICE, x, -1, y, &a, base);
      if ((t = tmp_value(L, base, "slice", xt->rank)) < 0) return t;
      if ((rc = emit(L, NN_OP_SLICE, x, -1, t, &a, base))) return rc;
      return emit(L, NN_OP_RESHAPE, t, -1, y, NULL, base);
    }
    default: return emoi_fail(err, EMO_EINTERNAL, "%s: %s not lowered", r->src, opname);
  }
}

/* Converts operator k of the subgraph into a node (or a DEQUANTIZE fold). */
static int load_operator(loader *L, const fb_vec *ops, uint32_t k) {
  const fb_reader *r = &L->r;
  emoi_err *err = r->err;
  char what[96];
  fb_table ot;
  int rc;
  snprintf(what, sizeof what, "Model.subgraphs[0].operators[%u]", k);
  if ((rc = fb_vec_table(r, ops, k, &ot, what))) return rc;
  int32_t opcode_index;
  if ((rc = fb_i32(r, &ot, 0, 0, &opcode_index, what))) return rc;
  if (opcode_index < 0 || (uint32_t)opcode_index >= L->n_codes)
    return fb_bad(r, what, "opcode_index out of range");
  int code = L->codes[opcode_index];
  const char *opname = nn_tflite_op_name(code);
  fb_vec vin, vout;
  if ((rc = fb_vec_field(r, &ot, 1, 4, &vin, what)) ||
      (rc = fb_vec_field(r, &ot, 2, 4, &vout, what)))
    return rc;
  if (vin.len > NN_MAX_NODE_IO || vout.len > NN_MAX_NODE_IO)
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: %s (%s): more than %d inputs or outputs", r->src,
                     what, opname, NN_MAX_NODE_IO);
  int tin[NN_MAX_NODE_IO], tout[NN_MAX_NODE_IO];
  for (uint32_t j = 0; j < vin.len; j++) {
    int32_t x = fb_vec_i32(r, &vin, j);
    if (x < -1 || (int64_t)x >= (int64_t)L->n_tensors)
      return fb_bad(r, what, "input tensor index out of range");
    tin[j] = x;
  }
  for (uint32_t j = 0; j < vout.len; j++) {
    int32_t x = fb_vec_i32(r, &vout, j);
    if (x < 0 || (int64_t)x >= (int64_t)L->n_tensors)
      return fb_bad(r, what, "output tensor index out of range");
    tout[j] = x;
  }
  int n_in = (int)vin.len, n_out = (int)vout.len;
  if (n_out != 1)
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: %s (%s): %d outputs (1 expected)", r->src, what,
                     opname, n_out);
  if (L->t[tout[0]].data) return fb_bad(r, what, "output tensor is a constant");
  if (L->t[tout[0]].produced || L->t[tout[0]].is_input || L->t[tout[0]].dq_src >= 0)
    return fb_bad(r, what, "output tensor written twice");

  /* builtin_options union: type at field 3, table at field 4 */
  int opt_type;
  fb_table opt;
  int has_opt;
  if ((rc = fb_u8(r, &ot, 3, 0, &opt_type, what))) return rc;
  if ((rc = fb_table_field(r, &ot, 4, &opt, &has_opt, what))) return rc;

  /* Which options table the op expects; options of another type are malformed. */
  int want;
  switch (code) {
    case TFL_CONV_2D: want = TFO_CONV2D; break;
    case TFL_DEPTHWISE_CONV_2D: want = TFO_DEPTHWISE; break;
    case TFL_MAX_POOL_2D:
    case TFL_AVERAGE_POOL_2D: want = TFO_POOL2D; break;
    case TFL_FULLY_CONNECTED: want = TFO_FULLY_CONNECTED; break;
    case TFL_SOFTMAX: want = TFO_SOFTMAX; break;
    case TFL_CONCATENATION: want = TFO_CONCATENATION; break;
    case TFL_ADD: want = TFO_ADD; break;
    case TFL_SUB: want = TFO_SUB; break;
    case TFL_MUL: want = TFO_MUL; break;
    case TFL_DIV: want = TFO_DIV; break;
    case TFL_RESHAPE: want = TFO_RESHAPE; break;
    case TFL_RESIZE_BILINEAR: want = TFO_RESIZE_BILINEAR; break;
    case TFL_MEAN: want = TFO_REDUCER; break;
    case TFL_LEAKY_RELU: want = TFO_LEAKY_RELU; break;
    default: want = -1; break; /* options ignored */
  }
  if (want >= 0 && has_opt && opt_type != want)
    return emoi_fail(err, EMO_EMODEL,
                     "%s: malformed TFLite file: %s (%s): builtin_options type %d, expected %d",
                     r->src, what, opname, opt_type, want);
  if (want >= 0 && !has_opt) memset(&opt, 0, sizeof opt); /* all defaults */
  switch (code) {
    case TFL_NEG:
    case TFL_SQRT:
    case TFL_RSQRT:
    case TFL_SQUARED_DIFFERENCE:
    case TFL_TRANSPOSE:
    case TFL_SUM:
    case TFL_STRIDED_SLICE:
      if (!has_opt) memset(&opt, 0, sizeof opt);
      return lower_composite(L, code, tin, n_in, tout[0], &opt, what);
    default: break;
  }

  nn_attr a = nn_attr_default();
  nn_op op;
  int min_in = 1, max_in = 1; /* TFLite inputs used as node inputs: tin[0..used) */
  int used = 1;
  int act = 0;
  int32_t i32v;
  int u8v;
  switch (code) {
    case TFL_DEQUANTIZE: {
      if (n_in != 1 || tin[0] < 0) return fb_bad(r, what, "DEQUANTIZE needs one input");
      const tfl_tensor *s = &L->t[tin[0]];
      tfl_tensor *d = &L->t[tout[0]];
      if (!s->data || s->type != TFL_FLOAT16)
        return emoi_fail(
            err, EMO_EUNSUPPORTED,
            "%s: %s: DEQUANTIZE of a non-constant or non-FLOAT16 tensor is not supported", r->src,
            what);
      if (d->type != TFL_FLOAT32) return fb_bad(r, what, "DEQUANTIZE output is not FLOAT32");
      if (d->numel != s->numel) return fb_bad(r, what, "DEQUANTIZE changes the element count");
      d->dq_src = tin[0];
      return EMO_OK;
    }
    case TFL_CONV_2D:
    case TFL_DEPTHWISE_CONV_2D: {
      int dw = code == TFL_DEPTHWISE_CONV_2D;
      op = dw ? NN_OP_DEPTHWISE_CONV2D : NN_OP_CONV2D;
      min_in = 2;
      max_in = 3;
      int pad;
      if ((rc = fb_i8(r, &opt, 0, 0, &pad, what)) || (rc = set_padding(L, pad, &a, what)))
        return rc;
      if ((rc = fb_i32(r, &opt, 1, 0, &a.stride_w, what)) ||
          (rc = fb_i32(r, &opt, 2, 0, &a.stride_h, what)))
        return rc;
      int f = dw ? 4 : 3; /* fused_activation_function; depthwise has depth_multiplier at 3 */
      if ((rc = fb_i8(r, &opt, f, 0, &act, what))) return rc;
      if ((rc = fb_i32(r, &opt, f + 1, 1, &a.dilation_w, what)) ||
          (rc = fb_i32(r, &opt, f + 2, 1, &a.dilation_h, what)))
        return rc;
      if ((rc = check_pos(L, a.stride_w, what, "stride_w")) ||
          (rc = check_pos(L, a.stride_h, what, "stride_h")) ||
          (rc = check_pos(L, a.dilation_w, what, "dilation_w_factor")) ||
          (rc = check_pos(L, a.dilation_h, what, "dilation_h_factor")))
        return rc;
      if ((rc = set_act(L, act, &a, opname))) return rc;
      used = n_in;
      break;
    }
    case TFL_MAX_POOL_2D:
    case TFL_AVERAGE_POOL_2D: {
      op = code == TFL_MAX_POOL_2D ? NN_OP_MAX_POOL2D : NN_OP_AVG_POOL2D;
      int pad;
      if ((rc = fb_i8(r, &opt, 0, 0, &pad, what)) || (rc = set_padding(L, pad, &a, what)))
        return rc;
      if ((rc = fb_i32(r, &opt, 1, 0, &a.stride_w, what)) ||
          (rc = fb_i32(r, &opt, 2, 0, &a.stride_h, what)) ||
          (rc = fb_i32(r, &opt, 3, 0, &a.kernel_w, what)) ||
          (rc = fb_i32(r, &opt, 4, 0, &a.kernel_h, what)) ||
          (rc = fb_i8(r, &opt, 5, 0, &act, what)))
        return rc;
      if ((rc = check_pos(L, a.stride_w, what, "stride_w")) ||
          (rc = check_pos(L, a.stride_h, what, "stride_h")) ||
          (rc = check_pos(L, a.kernel_w, what, "filter_width")) ||
          (rc = check_pos(L, a.kernel_h, what, "filter_height")) ||
          (rc = set_act(L, act, &a, opname)))
        return rc;
      break;
    }
    case TFL_FULLY_CONNECTED: {
      op = NN_OP_FULLY_CONNECTED;
      min_in = 2;
      max_in = 3;
      int wf, keep;
      if ((rc = fb_i8(r, &opt, 0, 0, &act, what)) || (rc = fb_i8(r, &opt, 1, 0, &wf, what)) ||
          (rc = fb_u8(r, &opt, 2, 0, &keep, what)))
        return rc;
      if (wf != 0)
        return emoi_fail(err, EMO_EUNSUPPORTED,
                         "%s: %s: shuffled FULLY_CONNECTED weights are not supported", r->src,
                         what);
      if (keep && L->t[tout[0]].rank != 2)
        return emoi_fail(err, EMO_EUNSUPPORTED,
                         "%s: %s: FULLY_CONNECTED keep_num_dims is not supported", r->src, what);
      if ((rc = set_act(L, act, &a, opname))) return rc;
      used = n_in;
      break;
    }
    case TFL_ADD:
    case TFL_SUB:
    case TFL_MUL:
    case TFL_DIV:
      op = code == TFL_ADD   ? NN_OP_ADD
           : code == TFL_SUB ? NN_OP_SUB
           : code == TFL_MUL ? NN_OP_MUL
                             : NN_OP_DIV;
      min_in = max_in = used = 2;
      if ((rc = fb_i8(r, &opt, 0, 0, &act, what)) || (rc = set_act(L, act, &a, opname))) return rc;
      break;
    case TFL_MAXIMUM:
    case TFL_MINIMUM:
    case TFL_PRELU:
      op = code == TFL_MAXIMUM ? NN_OP_MAXIMUM : code == TFL_MINIMUM ? NN_OP_MINIMUM : NN_OP_PRELU;
      min_in = max_in = used = 2;
      break;
    case TFL_RELU: op = NN_OP_RELU; break;
    case TFL_RELU6: op = NN_OP_RELU6; break;
    case TFL_LOGISTIC: op = NN_OP_SIGMOID; break;
    case TFL_TANH: op = NN_OP_TANH; break;
    case TFL_LEAKY_RELU:
      op = NN_OP_LEAKY_RELU;
      if ((rc = fb_f32(r, &opt, 0, 0.0f, &a.alpha, what))) return rc;
      if (!isfinite(a.alpha)) return fb_bad(r, what, "LEAKY_RELU alpha is not finite");
      break;
    case TFL_SOFTMAX: {
      float beta;
      op = NN_OP_SOFTMAX;
      a.axis = -1;
      if ((rc = fb_f32(r, &opt, 0, 0.0f, &beta, what))) return rc;
      if (beta != 1.0f)
        return emoi_fail(err, EMO_EUNSUPPORTED, "%s: %s: SOFTMAX beta %g (only 1 is supported)",
                         r->src, what, (double)beta);
      break;
    }
    case TFL_CONCATENATION:
      op = NN_OP_CONCAT;
      min_in = 1;
      max_in = NN_MAX_NODE_IO;
      used = n_in;
      if ((rc = fb_i32(r, &opt, 0, 0, &i32v, what)) || (rc = fb_i8(r, &opt, 1, 0, &act, what)) ||
          (rc = set_act(L, act, &a, opname)))
        return rc;
      if (i32v < -NN_MAX_RANK || i32v >= NN_MAX_RANK)
        return fb_bad(r, what, "CONCATENATION axis out of range");
      a.axis = i32v;
      break;
    case TFL_RESHAPE:
      /* The target shape is the output tensor's shape (nn.h); the optional shape input and
       * options.new_shape are redundant with it. */
      op = NN_OP_RESHAPE;
      min_in = 1;
      max_in = 2;
      break;
    case TFL_RESIZE_BILINEAR: {
      /* inputs: x, size (int32 [new_height, new_width], constant); options: align_corners
       * (field 2), half_pixel_centers (field 3); fields 0 and 1 are deprecated. */
      op = NN_OP_RESIZE_BILINEAR;
      min_in = max_in = used = 2;
      if (n_in != 2) break; /* reported below */
      int64_t sz[2];
      int ns, ac, hp;
      if ((rc = const_ints(L, tin[1], sz, 2, &ns, what, "size"))) return rc;
      if (ns != 2 || sz[0] <= 0 || sz[1] <= 0 || sz[0] > 65536 || sz[1] > 65536)
        return fb_bad(r, what, "RESIZE_BILINEAR size out of range");
      if ((rc = fb_u8(r, &opt, 2, 0, &ac, what)) || (rc = fb_u8(r, &opt, 3, 0, &hp, what)))
        return rc;
      a.out_h = (int)sz[0];
      a.out_w = (int)sz[1];
      a.align_corners = ac != 0;
      a.half_pixel_centers = hp != 0;
      break;
    }
    case TFL_PAD:
    case TFL_PADV2: {
      op = NN_OP_PAD;
      min_in = max_in = code == TFL_PAD ? 2 : 3;
      if (n_in < min_in || n_in > max_in) break; /* reported below */
      int64_t pv[2 * NN_MAX_RANK];
      int np;
      if ((rc = const_ints(L, tin[1], pv, 2 * NN_MAX_RANK, &np, what, "paddings"))) return rc;
      if (tin[0] < 0 || np != 2 * L->t[tin[0]].rank)
        return fb_bad(r, what, "paddings do not match the input rank");
      for (int d = 0; d < np; d++) {
        if (pv[d] < 0 || pv[d] > 65536) return fb_bad(r, what, "padding out of range");
        a.pads[d / 2][d % 2] = pv[d];
      }
      if (code == TFL_PADV2) {
        const tfl_tensor *cv = tin[2] >= 0 ? &L->t[tin[2]] : NULL;
        if (!cv || !cv->data || cv->type != TFL_FLOAT32 || cv->numel != 1 ||
            bytes_le32(cv->data) != 0)
          return emoi_fail(err, EMO_EUNSUPPORTED,
                           "%s: %s: PADV2 with a non-zero pad value is not supported", r->src,
                           what);
      }
      break;
    }
    case TFL_MEAN: {
      op = NN_OP_MEAN;
      min_in = max_in = 2;
      if (n_in != 2) break;
      int64_t ax[NN_MAX_RANK];
      int na;
      if ((rc = const_ints(L, tin[1], ax, NN_MAX_RANK, &na, what, "axes"))) return rc;
      for (int d = 0; d < na; d++) {
        if (ax[d] < -NN_MAX_RANK || ax[d] >= NN_MAX_RANK)
          return fb_bad(r, what, "MEAN axis out of range");
        a.axes[d] = (int)ax[d];
      }
      a.n_axes = na;
      if ((rc = fb_u8(r, &opt, 0, 0, &u8v, what))) return rc;
      a.keepdims = u8v != 0;
      break;
    }
    default:
      return emoi_fail(err, EMO_EUNSUPPORTED,
                       "%s: operator %u: TFLite op %s (builtin code %d) is not supported", r->src,
                       k, opname, code);
  }
  if (n_in < min_in || n_in > max_in)
    return emoi_fail(err, EMO_EMODEL,
                     "%s: malformed TFLite file: %s (%s): %d inputs, expected %d to %d", r->src,
                     what, opname, n_in, min_in, max_in);
  for (int j = 0; j < min_in && j < used; j++)
    if (tin[j] < 0) return fb_bad(r, what, "required input is absent (-1)");

  int in_ids[NN_MAX_NODE_IO];
  for (int j = 0; j < used; j++) {
    if (tin[j] < 0) {
      in_ids[j] = -1;
      continue;
    }
    int id = tensor_value(L, tin[j], err);
    if (id < 0) return id;
    in_ids[j] = id;
  }
  int out_id = tensor_value(L, tout[0], err);
  if (out_id < 0) return out_id;
  L->t[tout[0]].produced = 1;
  const char *node_name = L->t[tout[0]].name ? L->t[tout[0]].name : opname;
  rc = nn_graph_add_node(L->g, op, in_ids, used, &out_id, 1, &a, node_name, err);
  return rc < 0 ? rc : EMO_OK;
}

static int load_model(loader *L) {
  const fb_reader *r = &L->r;
  emoi_err *err = r->err;
  int rc;
  if (r->n < 8) return fb_bad(r, "header", "file shorter than a FlatBuffer header");
  if (memcmp(r->p + 4, "TFL3", 4) != 0)
    return fb_bad(r, "file_identifier", "not a TFLite model (identifier is not \"TFL3\")");
  uint64_t root;
  fb_table mt, sg;
  if ((rc = fb_deref(r, 0, &root, "root")) || (rc = fb_table_at(r, root, &mt, "Model"))) return rc;
  int32_t version;
  if ((rc = fb_i32(r, &mt, 0, 0, &version, "Model.version"))) return rc;
  if (version != 3)
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: TFLite schema version %d (3 expected)", r->src,
                     (int)version);

  /* operator codes */
  fb_vec oc, sgs, tens, ops, gin, gout;
  if ((rc = fb_vec_field(r, &mt, 1, 4, &oc, "Model.operator_codes"))) return rc;
  if (oc.len > 4096) return fb_bad(r, "Model.operator_codes", "too many operator codes");
  L->n_codes = oc.len;
  L->codes = calloc(oc.len ? oc.len : 1, sizeof *L->codes);
  if (!L->codes) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->src);
  for (uint32_t i = 0; i < oc.len; i++) {
    char what[64];
    fb_table ct;
    int dep;
    int32_t bc;
    snprintf(what, sizeof what, "Model.operator_codes[%u]", i);
    if ((rc = fb_vec_table(r, &oc, i, &ct, what)) || (rc = fb_i8(r, &ct, 0, 0, &dep, what)) ||
        (rc = fb_i32(r, &ct, 3, 0, &bc, what)))
      return rc;
    /* Files from before schema 3a only set the int8 code; newer ones set both (the int8 one
     * saturating at 127 = PLACEHOLDER_FOR_GREATER_OP_CODES). The larger is the real one. */
    int code = bc > dep ? bc : dep;
    if (code < 0) return fb_bad(r, what, "negative builtin code");
    L->codes[i] = code;
  }

  if ((rc = fb_vec_field(r, &mt, 2, 4, &sgs, "Model.subgraphs"))) return rc;
  if (sgs.len < 1) return fb_bad(r, "Model.subgraphs", "no subgraph");
  if ((rc = fb_vec_field(r, &mt, 4, 4, &L->buffers, "Model.buffers"))) return rc;
  if ((rc = fb_vec_table(r, &sgs, 0, &sg, "Model.subgraphs[0]"))) return rc;

  if ((rc = fb_vec_field(r, &sg, 0, 4, &tens, "Model.subgraphs[0].tensors"))) return rc;
  if (tens.len > NN_TFLITE_MAX_TENSORS)
    return fb_bad(r, "Model.subgraphs[0].tensors", "too many tensors");
  L->n_tensors = tens.len;
  L->t = calloc(tens.len ? tens.len : 1, sizeof *L->t);
  if (!L->t) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->src);
  for (uint32_t i = 0; i < tens.len; i++) {
    fb_table tt;
    char what[64];
    snprintf(what, sizeof what, "Model.subgraphs[0].tensors[%u]", i);
    if ((rc = fb_vec_table(r, &tens, i, &tt, what)) || (rc = parse_tensor(L, &tt, i))) return rc;
  }

  if ((rc = fb_vec_field(r, &sg, 1, 4, &gin, "Model.subgraphs[0].inputs")) ||
      (rc = fb_vec_field(r, &sg, 2, 4, &gout, "Model.subgraphs[0].outputs")) ||
      (rc = fb_vec_field(r, &sg, 3, 4, &ops, "Model.subgraphs[0].operators")))
    return rc;
  if (gin.len < 1 || gout.len < 1)
    return fb_bad(r, "Model.subgraphs[0]", "no inputs or no outputs");
  if (gin.len > NN_MAX_GRAPH_IO || gout.len > NN_MAX_GRAPH_IO)
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: more than %d graph inputs or outputs", r->src,
                     NN_MAX_GRAPH_IO);
  if (ops.len > NN_TFLITE_MAX_OPERATORS)
    return fb_bad(r, "Model.subgraphs[0].operators", "too many operators");

  /* graph inputs first, so they get the first value ids */
  int in_ids[NN_MAX_GRAPH_IO], out_ids[NN_MAX_GRAPH_IO];
  for (uint32_t i = 0; i < gin.len; i++) {
    int32_t ti = fb_vec_i32(r, &gin, i);
    if (ti < 0 || (uint32_t)ti >= L->n_tensors)
      return fb_bad(r, "Model.subgraphs[0].inputs", "tensor index out of range");
    tfl_tensor *t = &L->t[ti];
    if (t->data || t->is_input)
      return fb_bad(r, "Model.subgraphs[0].inputs", "input is a constant or listed twice");
    if (t->type != TFL_FLOAT32)
      return emoi_fail(err, EMO_EUNSUPPORTED, "%s: input '%s' has type %s (FLOAT32 expected)",
                       r->src, t->name ? t->name : "?", type_name(t->type));
    t->is_input = 1;
    if ((in_ids[i] = tensor_value(L, ti, err)) < 0) return in_ids[i];
  }
  /* DEQUANTIZE folds first (their outputs may be read by earlier-listed operators in a
   * malformed but harmless order), then the other operators in file order. */
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t k = 0; k < ops.len; k++) {
      fb_table ot;
      char what[64];
      int32_t oi;
      snprintf(what, sizeof what, "Model.subgraphs[0].operators[%u]", k);
      if ((rc = fb_vec_table(r, &ops, k, &ot, what)) || (rc = fb_i32(r, &ot, 0, 0, &oi, what)))
        return rc;
      if (oi < 0 || (uint32_t)oi >= L->n_codes) return fb_bad(r, what, "opcode_index out of range");
      int is_dq = L->codes[oi] == TFL_DEQUANTIZE;
      if (is_dq != (pass == 0)) continue;
      if ((rc = load_operator(L, &ops, k))) return rc;
    }
  }
  for (uint32_t i = 0; i < gout.len; i++) {
    int32_t ti = fb_vec_i32(r, &gout, i);
    if (ti < 0 || (uint32_t)ti >= L->n_tensors)
      return fb_bad(r, "Model.subgraphs[0].outputs", "tensor index out of range");
    if (!L->t[ti].produced)
      return fb_bad(r, "Model.subgraphs[0].outputs", "output not written by any operator");
    out_ids[i] = L->t[ti].value;
  }
  /* every activation read must be written by an operator or be a graph input */
  for (uint32_t i = 0; i < L->n_tensors; i++) {
    const tfl_tensor *t = &L->t[i];
    if (t->value >= 0 && !t->data && t->dq_src < 0 && !t->produced && !t->is_input)
      return emoi_fail(err, EMO_EMODEL,
                       "%s: malformed TFLite file: tensor %u ('%s') is read but never written",
                       r->src, i, t->name ? t->name : "?");
  }
  if ((rc = nn_graph_set_io(L->g, in_ids, (int)gin.len, out_ids, (int)gout.len, err))) return rc;
  rc = nn_graph_finalize(L->g, err);
  /* a graph over the builder's caps comes from a bad file: report it as a model error */
  return rc == EMO_ELIMIT ? EMO_EMODEL : rc;
}

int nn_tflite_load(const void *data, size_t size, const char *source, nn_graph **out,
                   emoi_err *err) {
  const char *src = source ? source : "<memory>";
  if (!out) return emoi_fail(err, EMO_EINVAL, "%s: nn_tflite_load: out is NULL", src);
  *out = NULL;
  if (!data && size) return emoi_fail(err, EMO_EINVAL, "%s: nn_tflite_load: data is NULL", src);
  loader L;
  memset(&L, 0, sizeof L);
  L.r.p = data;
  L.r.n = data ? size : 0;
  L.r.src = src;
  L.r.err = err;
  /* Constants never legitimately exceed twice the file (FLOAT16 doubles) plus slack; a file
   * that points many tensors at one big buffer is refused rather than amplified. */
  L.const_cap = 2ull * (uint64_t)L.r.n + (1u << 20);
  int rc = nn_graph_create(source, &L.g, err);
  if (rc == EMO_OK) rc = load_model(&L);
  free(L.t);
  free(L.codes);
  if (rc != EMO_OK) {
    nn_graph_destroy(&L.g);
    return rc;
  }
  *out = L.g;
  return EMO_OK;
}
