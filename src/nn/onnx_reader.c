/* onnx_reader.c: reads ONNX models (onnx/onnx.proto3, protobuf wire format per
 * protobuf.dev/programming-guides/encoding) into nn_graph (nn/nn.h).
 *
 * Layer 1 (this file) is a protobuf reader written for untrusted bytes, on core/bytes.h's
 * cursor (one a message): every varint is at most 10 bytes, every length is checked against
 * the enclosing message's end in 64-bit arithmetic, packed and unpacked repeated scalars are
 * both accepted, unknown fields are skipped by wire type (groups rejected), nested graphs are
 * capped at NN_ONNX_MAX_DEPTH, list lengths at NN_ONNX_MAX_ITEMS and tensors at
 * NN_ONNX_MAX_ELEMS.
 * Lists are read in two passes (count, then fill) into one arena freed at once.
 *
 * Layer 2 (onnx_lower.c) maps the parsed model onto nn ops; the two share only the parsed
 * model (onnx_reader.h) and this file's arena (onnx_internal.h).
 *
 * Left to others: running (nn/plan.c), shape inference (nn/graph.c). External data,
 * sparse initializers, strings and float16 tensors are rejected with a clear message. */
#include "nn/onnx_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "nn/onnx_internal.h"

/* ---- arena ------------------------------------------------------------------------------ */

typedef struct arena_blk {
  struct arena_blk *next;
  size_t used, cap;
  max_align_t data[];
} arena_blk;

void *nn_onnx_arena_alloc(void **arena, size_t n) {
  arena_blk *b = *arena;
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    arena_blk *nb = malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->next = b;
    nb->used = 0;
    nb->cap = cap;
    *arena = nb;
    b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

void nn_onnx_arena_free(void *arena) {
  arena_blk *b = arena;
  while (b) {
    arena_blk *n = b->next;
    free(b);
    b = n;
  }
}

/* ---- protobuf wire format --------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

typedef struct pb_ctx {
  const char *src;
  emoi_err *err;
  void **arena;
} pb_ctx;

typedef struct pb_field {
  uint32_t num;
  int wt;
  uint64_t v;       /* VARINT, I64, I32 */
  const uint8_t *p; /* LEN: payload */
  size_t len;
} pb_field;

/* A cursor over the payload of a LEN field (a nested message or a packed list). */
static bytes_cur pb_body(const pb_field *f) {
  return bytes_init(f->p, f->len);
}

/* Reads the next field of message m. Returns 1 with f filled, 0 at the end, or a negative
 * status. */
static int pb_next(pb_ctx *c, const char *msg, bytes_cur *m, pb_field *f) {
  if (!bytes_left(m)) return 0;
  uint64_t key;
  if (bytes_read_varint(m, &key))
    return emoi_fail(c->err, EMO_EMODEL, "%s: %s: truncated field key", c->src, msg);
  f->num = (uint32_t)(key >> 3);
  f->wt = (int)(key & 7);
  if (key >> 3 == 0 || key >> 32)
    return emoi_fail(c->err, EMO_EMODEL, "%s: %s: invalid field number", c->src, msg);
  switch (f->wt) {
    case WT_VARINT:
      if (bytes_read_varint(m, &f->v))
        return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u: truncated varint", c->src, msg,
                         f->num);
      return 1;
    case WT_I64:
      if (bytes_read_u64(m, &f->v))
        return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u: truncated fixed64", c->src, msg,
                         f->num);
      return 1;
    case WT_I32: {
      uint32_t u;
      if (bytes_read_u32(m, &u))
        return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u: truncated fixed32", c->src, msg,
                         f->num);
      f->v = u;
      return 1;
    }
    case WT_LEN: {
      uint64_t n;
      if (bytes_read_varint(m, &n) || bytes_read_span(m, n, &f->p))
        return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u: length runs past the end", c->src,
                         msg, f->num);
      f->len = (size_t)n;
      return 1;
    }
    default:
      return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u: unsupported wire type %d", c->src,
                       msg, f->num, f->wt);
  }
}

static const char *pb_str(pb_ctx *c, const pb_field *f) {
  size_t n = f->len > 4096 ? 4096 : f->len;
  char *s = nn_onnx_arena_alloc(c->arena, n + 1);
  if (!s) return NULL;
  memcpy(s, f->p, n);
  for (size_t i = 0; i < n; i++)
    if (s[i] == 0) s[i] = '?'; /* keep names printable as C strings */
  s[n] = 0;
  return s;
}

static float f32_of(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

static double f64_of(uint64_t u) {
  double x;
  memcpy(&x, &u, 8);
  return x;
}

/* Counts the scalars of a repeated field (packed LEN or one unpacked value). elem: 0 varint,
 * 4 fixed32, 8 fixed64. Returns count or -1 if malformed. */
static int64_t count_scalars(const pb_field *f, int elem) {
  if (f->wt != WT_LEN) {
    if (elem == 0 && f->wt == WT_VARINT) return 1;
    if (elem == 4 && f->wt == WT_I32) return 1;
    if (elem == 8 && f->wt == WT_I64) return 1;
    return -1;
  }
  if (elem) return f->len % (size_t)elem ? -1 : (int64_t)(f->len / (size_t)elem);
  int64_t n = 0;
  bytes_cur q = pb_body(f);
  uint64_t v;
  while (bytes_left(&q)) {
    if (bytes_read_varint(&q, &v)) return -1;
    n++;
  }
  return n;
}

/* Appends the scalars of f (checked by count_scalars) to out (as uint64 bit patterns),
 * returns how many. */
static int64_t read_scalars(const pb_field *f, int elem, uint64_t *out) {
  if (f->wt != WT_LEN) {
    out[0] = f->v;
    return 1;
  }
  int64_t n = 0;
  bytes_cur q = pb_body(f);
  while (bytes_left(&q)) {
    uint64_t v = 0;
    uint32_t u = 0;
    int bad = elem == 0   ? bytes_read_varint(&q, &v)
              : elem == 4 ? bytes_read_u32(&q, &u)
                          : bytes_read_u64(&q, &v);
    if (bad) return -1;
    out[n++] = elem == 4 ? u : v;
  }
  return n;
}

/* Reads repeated scalar field `num` of message m (all occurrences) into a new array. */
static int read_repeated(pb_ctx *c, const char *msg, bytes_cur m, uint32_t num, int elem,
                         uint64_t **out, int64_t *n_out) {
  int64_t total = 0;
  pb_field f = {0};
  int r;
  bytes_cur q = m;
  while ((r = pb_next(c, msg, &q, &f)) == 1) {
    if (f.num != num) continue;
    int64_t k = count_scalars(&f, elem);
    if (k < 0)
      return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u: malformed repeated values", c->src,
                       msg, num);
    total += k;
    if (total > NN_ONNX_MAX_ELEMS)
      return emoi_fail(c->err, EMO_ELIMIT, "%s: %s: field %u: more than %lld values", c->src, msg,
                       num, (long long)NN_ONNX_MAX_ELEMS);
  }
  if (r < 0) return r;
  *n_out = total;
  *out = NULL;
  if (!total) return EMO_OK;
  uint64_t *a = malloc((size_t)total * sizeof *a);
  if (!a) return emoi_fail(c->err, EMO_ENOMEM, "%s: %s: out of memory", c->src, msg);
  int64_t k = 0;
  q = m;
  while (pb_next(c, msg, &q, &f) == 1)
    if (f.num == num) k += read_scalars(&f, elem, a + k);
  *out = a;
  return EMO_OK;
}

/* Counts occurrences of field num. */
static int count_field(pb_ctx *c, const char *msg, bytes_cur m, uint32_t num, int *n) {
  pb_field f = {0};
  int r;
  *n = 0;
  while ((r = pb_next(c, msg, &m, &f)) == 1)
    if (f.num == num) {
      if (f.wt != WT_LEN)
        return emoi_fail(c->err, EMO_EMODEL, "%s: %s: field %u is not a message/string", c->src,
                         msg, num);
      if (++*n > NN_ONNX_MAX_ITEMS)
        return emoi_fail(c->err, EMO_ELIMIT, "%s: %s: more than %d items in field %u", c->src, msg,
                         NN_ONNX_MAX_ITEMS, num);
    }
  return r < 0 ? r : EMO_OK;
}

/* ---- ONNX messages ----------------------------------------------------------------------- */

/* TensorProto: dims=1, data_type=2, float_data=4, int32_data=5, string_data=6, int64_data=7,
 * name=8, raw_data=9, double_data=10, uint64_data=11, external_data=13, data_location=14. */
static int parse_tensor(pb_ctx *c, bytes_cur m, onnx_tensor *t) {
  pb_field f = {0};
  int r;
  bytes_cur q = m;
  const uint8_t *raw = NULL;
  size_t raw_len = 0;
  int has_raw = 0;
  t->name = "";
  while ((r = pb_next(c, "TensorProto", &q, &f)) == 1) {
    if (f.num == 2 && f.wt == WT_VARINT)
      t->dtype = (int)f.v;
    else if (f.num == 8 && f.wt == WT_LEN) {
      if (!(t->name = pb_str(c, &f)))
        return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
    } else if (f.num == 9 && f.wt == WT_LEN) {
      raw = f.p;
      raw_len = f.len;
      has_raw = 1;
    } else if (f.num == 14 && f.wt == WT_VARINT && f.v == 1)
      return emoi_fail(c->err, EMO_EUNSUPPORTED, "%s: tensor '%s': external data is not supported",
                       c->src, t->name);
  }
  if (r < 0) return r;
  uint64_t *dims = NULL;
  int64_t nd = 0;
  if ((r = read_repeated(c, "TensorProto.dims", m, 1, 0, &dims, &nd))) return r;
  if (nd > NN_MAX_RANK) {
    free(dims);
    return emoi_fail(c->err, EMO_EUNSUPPORTED, "%s: tensor '%s': rank %lld > %d", c->src, t->name,
                     (long long)nd, NN_MAX_RANK);
  }
  t->rank = (int)nd;
  t->numel = 1;
  for (int i = 0; i < t->rank; i++) {
    int64_t d = (int64_t)dims[i];
    t->dims[i] = d;
    if (d < 0 || d > NN_ONNX_MAX_ELEMS || (t->numel *= d) > NN_ONNX_MAX_ELEMS) {
      free(dims);
      return emoi_fail(c->err, EMO_ELIMIT, "%s: tensor '%s': dimension %d invalid or too large",
                       c->src, t->name, i);
    }
  }
  free(dims);
  int esz, is_float;
  switch (t->dtype) {
    case ONNX_FLOAT:
      esz = 4;
      is_float = 1;
      break;
    case ONNX_DOUBLE:
      esz = 8;
      is_float = 1;
      break;
    case ONNX_INT64:
      esz = 8;
      is_float = 0;
      break;
    case ONNX_INT32:
      esz = 4;
      is_float = 0;
      break;
    case ONNX_UINT8:
    case ONNX_INT8:
    case ONNX_BOOL:
      esz = 1;
      is_float = 0;
      break;
    default:
      return emoi_fail(c->err, EMO_EUNSUPPORTED, "%s: tensor '%s': data type %d not supported",
                       c->src, t->name, t->dtype);
  }
  size_t n = (size_t)t->numel;
  if (is_float)
    t->f = nn_onnx_arena_alloc(c->arena, n * sizeof(float));
  else
    t->i = nn_onnx_arena_alloc(c->arena, n * sizeof(int64_t));
  if (!t->f && !t->i)
    return emoi_fail(c->err, EMO_ENOMEM, "%s: tensor '%s': out of memory", c->src, t->name);
  if (has_raw) {
    if (raw_len != n * (size_t)esz)
      return emoi_fail(c->err, EMO_EMODEL, "%s: tensor '%s': raw_data has %zu bytes, expected %zu",
                       c->src, t->name, raw_len, n * (size_t)esz);
    for (size_t k = 0; k < n; k++) {
      const uint8_t *b = raw + k * (size_t)esz; /* raw_len checked above */
      switch (t->dtype) {
        case ONNX_FLOAT: t->f[k] = bytes_le_f32(b); break;
        case ONNX_DOUBLE: t->f[k] = (float)bytes_le_f64(b); break;
        case ONNX_INT64: t->i[k] = (int64_t)bytes_le64(b); break;
        case ONNX_INT32: t->i[k] = (int32_t)bytes_le32(b); break;
        case ONNX_INT8: t->i[k] = (int8_t)b[0]; break;
        default: t->i[k] = b[0]; break; /* uint8, bool */
      }
    }
    return EMO_OK;
  }
  /* typed fields: float_data (4, fixed32), double_data (10, fixed64), int64_data (7),
   * int32_data (5, also for int8/uint8/bool) */
  uint32_t num = t->dtype == ONNX_FLOAT    ? 4
                 : t->dtype == ONNX_DOUBLE ? 10
                 : t->dtype == ONNX_INT64  ? 7
                                           : 5;
  int elem = t->dtype == ONNX_FLOAT ? 4 : t->dtype == ONNX_DOUBLE ? 8 : 0;
  uint64_t *v = NULL;
  int64_t nv = 0;
  if ((r = read_repeated(c, "TensorProto data", m, num, elem, &v, &nv))) return r;
  if (nv != t->numel) {
    free(v);
    return emoi_fail(c->err, EMO_EMODEL, "%s: tensor '%s': %lld data values for %lld elements",
                     c->src, t->name, (long long)nv, (long long)t->numel);
  }
  for (size_t k = 0; k < n; k++) {
    switch (t->dtype) {
      case ONNX_FLOAT: t->f[k] = f32_of((uint32_t)v[k]); break;
      case ONNX_DOUBLE: t->f[k] = (float)f64_of(v[k]); break;
      case ONNX_INT64: t->i[k] = (int64_t)v[k]; break;
      default: t->i[k] = (int32_t)(uint32_t)v[k]; break;
    }
  }
  free(v);
  return EMO_OK;
}

/* ValueInfoProto: name=1, type=2 -> TypeProto.tensor_type=1 -> elem_type=1, shape=2 ->
 * dim=1 -> dim_value=1 | dim_param=2. */
static int parse_vinfo(pb_ctx *c, bytes_cur m, onnx_vinfo *v) {
  pb_field f = {0}, g = {0}, h = {0}, d = {0}, e = {0};
  int r;
  v->name = "";
  v->rank = -1;
  while ((r = pb_next(c, "ValueInfoProto", &m, &f)) == 1) {
    if (f.num == 1 && f.wt == WT_LEN) {
      if (!(v->name = pb_str(c, &f)))
        return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
    } else if (f.num == 2 && f.wt == WT_LEN) {
      bytes_cur q = pb_body(&f);
      while ((r = pb_next(c, "TypeProto", &q, &g)) == 1) {
        if (g.num != 1 || g.wt != WT_LEN) continue;
        bytes_cur s = pb_body(&g);
        while ((r = pb_next(c, "TypeProto.Tensor", &s, &h)) == 1) {
          if (h.num == 1 && h.wt == WT_VARINT) v->elem_type = (int)h.v;
          if (h.num != 2 || h.wt != WT_LEN) continue;
          v->rank = 0;
          bytes_cur t = pb_body(&h);
          while ((r = pb_next(c, "TensorShapeProto", &t, &d)) == 1) {
            if (d.num != 1 || d.wt != WT_LEN) continue;
            if (v->rank >= NN_MAX_RANK)
              return emoi_fail(c->err, EMO_EUNSUPPORTED, "%s: value '%s': rank > %d", c->src,
                               v->name, NN_MAX_RANK);
            int64_t dim = -1;
            bytes_cur u = pb_body(&d);
            while ((r = pb_next(c, "Dimension", &u, &e)) == 1)
              if (e.num == 1 && e.wt == WT_VARINT) dim = (int64_t)e.v;
            if (r < 0) return r;
            v->dims[v->rank++] = dim;
          }
          if (r < 0) return r;
        }
        if (r < 0) return r;
      }
      if (r < 0) return r;
    }
  }
  return r < 0 ? r : EMO_OK;
}

static int parse_graph(pb_ctx *c, bytes_cur m, int depth, onnx_graph *gr);

/* AttributeProto: name=1, f=2, i=3, s=4, t=5, g=6, floats=7, ints=8, strings=9, type=20. */
static int parse_attr(pb_ctx *c, bytes_cur m, int depth, onnx_attr *a) {
  pb_field f = {0};
  int r;
  bytes_cur q = m;
  a->name = "";
  int has_f = 0, has_i = 0, has_s = 0, has_t = 0, has_g = 0;
  while ((r = pb_next(c, "AttributeProto", &q, &f)) == 1) {
    switch (f.num) {
      case 1:
        if (f.wt == WT_LEN && !(a->name = pb_str(c, &f)))
          return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
        break;
      case 2:
        if (f.wt == WT_I32) {
          a->f = f32_of((uint32_t)f.v);
          has_f = 1;
        }
        break;
      case 3:
        if (f.wt == WT_VARINT) {
          a->i = (int64_t)f.v;
          has_i = 1;
        }
        break;
      case 4:
        if (f.wt == WT_LEN) {
          if (!(a->s = pb_str(c, &f)))
            return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
          has_s = 1;
        }
        break;
      case 5:
        if (f.wt == WT_LEN) {
          if (!(a->t = nn_onnx_arena_alloc(c->arena, sizeof *a->t)))
            return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
          if ((r = parse_tensor(c, pb_body(&f), a->t))) return r;
          has_t = 1;
        }
        break;
      case 6:
        if (f.wt == WT_LEN) {
          if (!(a->g = nn_onnx_arena_alloc(c->arena, sizeof *a->g)))
            return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
          if ((r = parse_graph(c, pb_body(&f), depth + 1, a->g))) return r;
          has_g = 1;
        }
        break;
      case 20:
        if (f.wt == WT_VARINT) a->type = (int)f.v;
        break;
      default: break;
    }
  }
  if (r < 0) return r;
  if (a->type == 0) /* IR < 3 files may omit type: infer from the field present */
    a->type = has_g   ? ONNX_ATTR_GRAPH
              : has_t ? ONNX_ATTR_TENSOR
              : has_s ? ONNX_ATTR_STRING
              : has_f ? ONNX_ATTR_FLOAT
              : has_i ? ONNX_ATTR_INT
                      : 0;
  uint64_t *v = NULL;
  int64_t n = 0;
  if (a->type == ONNX_ATTR_FLOATS || (a->type == 0)) {
    if ((r = read_repeated(c, "AttributeProto.floats", m, 7, 4, &v, &n))) return r;
    if (n) {
      a->type = ONNX_ATTR_FLOATS;
      if (!(a->floats = nn_onnx_arena_alloc(c->arena, (size_t)n * sizeof(float)))) {
        free(v);
        return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
      }
      for (int64_t k = 0; k < n; k++) a->floats[k] = f32_of((uint32_t)v[k]);
      a->n = (int)n;
    }
    free(v);
    v = NULL;
  }
  if (a->type == ONNX_ATTR_INTS || (a->type == 0)) {
    if ((r = read_repeated(c, "AttributeProto.ints", m, 8, 0, &v, &n))) return r;
    a->type = ONNX_ATTR_INTS;
    if (n) {
      if (!(a->ints = nn_onnx_arena_alloc(c->arena, (size_t)n * sizeof(int64_t)))) {
        free(v);
        return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
      }
      memcpy(a->ints, v, (size_t)n * sizeof(int64_t));
      a->n = (int)n;
    }
    free(v);
  }
  return EMO_OK;
}

/* NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7. */
static int parse_node(pb_ctx *c, bytes_cur m, int depth, onnx_node *nd) {
  int r, ni, no, na;
  if ((r = count_field(c, "NodeProto", m, 1, &ni)) ||
      (r = count_field(c, "NodeProto", m, 2, &no)) || (r = count_field(c, "NodeProto", m, 5, &na)))
    return r;
  nd->in = nn_onnx_arena_alloc(c->arena, (size_t)ni * sizeof(char *));
  nd->out = nn_onnx_arena_alloc(c->arena, (size_t)no * sizeof(char *));
  nd->attrs = nn_onnx_arena_alloc(c->arena, (size_t)na * sizeof(onnx_attr));
  if (!nd->in || !nd->out || !nd->attrs)
    return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
  nd->name = nd->op_type = nd->domain = "";
  pb_field f = {0};
  while ((r = pb_next(c, "NodeProto", &m, &f)) == 1) {
    if (f.wt != WT_LEN) continue;
    const char *s = NULL;
    if (f.num == 1 || f.num == 2 || f.num == 3 || f.num == 4 || f.num == 7) {
      if (!(s = pb_str(c, &f))) return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
    }
    switch (f.num) {
      case 1: nd->in[nd->n_in++] = s; break;
      case 2: nd->out[nd->n_out++] = s; break;
      case 3: nd->name = s; break;
      case 4: nd->op_type = s; break;
      case 7: nd->domain = s; break;
      case 5:
        if ((r = parse_attr(c, pb_body(&f), depth, &nd->attrs[nd->n_attrs++]))) return r;
        break;
      default: break;
    }
  }
  return r < 0 ? r : EMO_OK;
}

/* GraphProto: node=1, name=2, initializer=5, input=11, output=12. */
static int parse_graph(pb_ctx *c, bytes_cur m, int depth, onnx_graph *gr) {
  if (depth > NN_ONNX_MAX_DEPTH)
    return emoi_fail(c->err, EMO_ELIMIT, "%s: subgraphs nested deeper than %d", c->src,
                     NN_ONNX_MAX_DEPTH);
  int r, nn, ni, nin, nout;
  if ((r = count_field(c, "GraphProto", m, 1, &nn)) ||
      (r = count_field(c, "GraphProto", m, 5, &ni)) ||
      (r = count_field(c, "GraphProto", m, 11, &nin)) ||
      (r = count_field(c, "GraphProto", m, 12, &nout)))
    return r;
  gr->nodes = nn_onnx_arena_alloc(c->arena, (size_t)nn * sizeof(onnx_node));
  gr->inits = nn_onnx_arena_alloc(c->arena, (size_t)ni * sizeof(onnx_tensor));
  gr->inputs = nn_onnx_arena_alloc(c->arena, (size_t)nin * sizeof(onnx_vinfo));
  gr->outputs = nn_onnx_arena_alloc(c->arena, (size_t)nout * sizeof(onnx_vinfo));
  if (!gr->nodes || !gr->inits || !gr->inputs || !gr->outputs)
    return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
  gr->name = "";
  pb_field f = {0};
  while ((r = pb_next(c, "GraphProto", &m, &f)) == 1) {
    if (f.wt != WT_LEN) continue;
    bytes_cur q = pb_body(&f);
    switch (f.num) {
      case 1:
        if ((r = parse_node(c, q, depth, &gr->nodes[gr->n_nodes++]))) return r;
        break;
      case 2:
        if (!(gr->name = pb_str(c, &f)))
          return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", c->src);
        break;
      case 5:
        if ((r = parse_tensor(c, q, &gr->inits[gr->n_inits++]))) return r;
        break;
      case 11:
        if ((r = parse_vinfo(c, q, &gr->inputs[gr->n_inputs++]))) return r;
        break;
      case 12:
        if ((r = parse_vinfo(c, q, &gr->outputs[gr->n_outputs++]))) return r;
        break;
      default: break;
    }
  }
  return r < 0 ? r : EMO_OK;
}

void nn_onnx_free(onnx_model **m) {
  if (!m || !*m) return;
  void *arena = (*m)->arena;
  nn_onnx_arena_free(arena);
  *m = NULL;
}

/* ModelProto: ir_version=1, graph=7, opset_import=8 (OperatorSetIdProto domain=1 version=2). */
int nn_onnx_parse(const void *data, size_t size, const char *source, onnx_model **out,
                  emoi_err *err) {
  const char *src = source ? source : "(onnx)";
  if (!out) return emoi_fail(err, EMO_EINVAL, "nn_onnx_parse: out is NULL");
  *out = NULL;
  if (!data && size) return emoi_fail(err, EMO_EINVAL, "nn_onnx_parse: data is NULL");
  void *arena = NULL;
  pb_ctx c = {src, err, &arena};
  onnx_model *m = nn_onnx_arena_alloc(&arena, sizeof *m);
  if (!m) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
  bytes_cur mc = bytes_init(data, size);
  pb_field f = {0}, g = {0};
  int r, have_graph = 0;
  while ((r = pb_next(&c, "ModelProto", &mc, &f)) == 1) {
    if (f.num == 1 && f.wt == WT_VARINT)
      m->ir_version = (int64_t)f.v;
    else if (f.num == 8 && f.wt == WT_LEN) {
      bytes_cur q = pb_body(&f);
      int default_domain = 1;
      int64_t ver = 0;
      while ((r = pb_next(&c, "OperatorSetIdProto", &q, &g)) == 1) {
        if (g.num == 1 && g.wt == WT_LEN && g.len > 0 &&
            !(g.len == 7 && !memcmp(g.p, "ai.onnx", 7)))
          default_domain = 0;
        if (g.num == 2 && g.wt == WT_VARINT) ver = (int64_t)g.v;
      }
      if (r < 0) goto fail;
      if (default_domain) m->opset = ver;
    } else if (f.num == 7 && f.wt == WT_LEN) {
      if (have_graph) {
        r = emoi_fail(err, EMO_EMODEL, "%s: two graphs in ModelProto", src);
        goto fail;
      }
      if (!(m->graph = nn_onnx_arena_alloc(&arena, sizeof *m->graph))) {
        r = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
        goto fail;
      }
      if ((r = parse_graph(&c, pb_body(&f), 0, m->graph))) goto fail;
      have_graph = 1;
    }
  }
  if (r < 0) goto fail;
  if (!have_graph) {
    r = emoi_fail(err, EMO_EMODEL, "%s: not an ONNX model (no graph in ModelProto)", src);
    goto fail;
  }
  m->arena = arena;
  *out = m;
  return EMO_OK;
fail:
  nn_onnx_arena_free(arena);
  return r;
}
