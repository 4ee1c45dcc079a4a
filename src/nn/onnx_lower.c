/* onnx_lower.c: layer 2 of the ONNX reader: lowers a parsed model (onnx_model, parsed from
 * protobuf by onnx_reader.c) to emo's graph IR (nn_graph, nn/nn.h): constant folding,
 * layouts, and one lowering function per ONNX op. The method is described below.
 *
 * Left to others: the protobuf wire format (onnx_reader.c), running (nn/plan.c), shape
 * inference (nn/graph.c). */
#include "nn/onnx_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/onnx_internal.h"

/* ==== Layer 2: lowering to nn_graph ======================================================
 *
 * Every ONNX value becomes either a constant (an onnx_tensor, folded at load time) or a
 * dynamic nn value with its ONNX shape known. Dynamic 3-D (N, C, L) activations produced by
 * a 1-D convolution live in nn as (N, 1, L, C) (layout LY_NCL, NHWC with H = 1); everything
 * else keeps its ONNX shape (LY_PLAIN). Converting between the two is a RESHAPE when C or L
 * is 1 (same memory order); a real transpose is EMO_EUNSUPPORTED. If nodes whose condition
 * folds to a constant are replaced by the chosen branch (ONNX scoping: a branch sees the
 * enclosing values by name). LSTM (forward, default activations) is expanded per time step
 * into CONCAT([x, h]) -> FULLY_CONNECTED (gates i, o, f, c of ONNX order) -> SLICE ->
 * SIGMOID/TANH -> MUL/ADD. */

enum { LY_PLAIN = 0, LY_NCL = 1 };

typedef struct lo_val {
  const char *name;
  onnx_tensor *c; /* constant, or NULL */
  int id;         /* nn value (dynamic) */
  int rank;       /* ONNX shape (dynamic) */
  int64_t shape[NN_MAX_RANK];
  int layout;
} lo_val;

typedef struct lo_ctx {
  const char *src;
  emoi_err *err;
  void *arena;
  nn_graph *g;
  lo_val *vals;
  int n_vals, cap_vals;
  int tmp; /* counter for generated names */
  int n_nodes_seen;
} lo_ctx;

#define LO_MAX_NODES 200000

static const char *lo_name(lo_ctx *L, const char *base, const char *suffix) {
  char buf[512];
  snprintf(buf, sizeof buf, "%.300s#%s%d", base, suffix, L->tmp++);
  size_t n = strlen(buf);
  char *s = nn_onnx_arena_alloc(&L->arena, n + 1);
  if (s) memcpy(s, buf, n + 1);
  return s;
}

static lo_val *lo_find(lo_ctx *L, const char *name) {
  for (int i = L->n_vals - 1; i >= 0; i--)
    if (!strcmp(L->vals[i].name, name)) return &L->vals[i];
  return NULL;
}

static int lo_bind(lo_ctx *L, const char *name, const lo_val *v) {
  if (L->n_vals >= L->cap_vals) {
    if (L->cap_vals >= NN_ONNX_MAX_ITEMS)
      return emoi_fail(L->err, EMO_ELIMIT, "%s: too many values", L->src);
    int cap = L->cap_vals ? L->cap_vals * 2 : 256;
    lo_val *nv = realloc(L->vals, (size_t)cap * sizeof *nv);
    if (!nv) return emoi_fail(L->err, EMO_ENOMEM, "%s: out of memory", L->src);
    L->vals = nv;
    L->cap_vals = cap;
  }
  lo_val *d = &L->vals[L->n_vals++];
  *d = *v;
  d->name = name;
  return EMO_OK;
}

static onnx_tensor *lo_tensor(lo_ctx *L, int dtype, int rank, const int64_t *dims) {
  onnx_tensor *t = nn_onnx_arena_alloc(&L->arena, sizeof *t);
  if (!t) return NULL;
  t->name = "";
  t->dtype = dtype;
  t->rank = rank;
  t->numel = 1;
  for (int i = 0; i < rank; i++) {
    t->dims[i] = dims[i];
    if (dims[i] < 0 || dims[i] > NN_ONNX_MAX_ELEMS || (t->numel *= dims[i]) > NN_ONNX_MAX_ELEMS)
      return NULL;
  }
  if (dtype == ONNX_FLOAT || dtype == ONNX_DOUBLE)
    t->f = nn_onnx_arena_alloc(&L->arena, (size_t)t->numel * sizeof(float));
  else
    t->i = nn_onnx_arena_alloc(&L->arena, (size_t)t->numel * sizeof(int64_t));
  if (!t->f && !t->i) return NULL;
  return t;
}

static double tget(const onnx_tensor *t, int64_t k) {
  return t->f ? t->f[k] : (double)t->i[k];
}
static void tset(onnx_tensor *t, int64_t k, double v) {
  if (t->f)
    t->f[k] = (float)v;
  else
    t->i[k] = (int64_t)v;
}

static const onnx_attr *lo_attr(const onnx_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

static int64_t attr_i(const onnx_node *n, const char *name, int64_t def) {
  const onnx_attr *a = lo_attr(n, name);
  return a && a->type == ONNX_ATTR_INT ? a->i : def;
}

#define LO_FAIL(code, ...) lo_fail(L, n, code, __VA_ARGS__)

static int lo_fail(lo_ctx *L, const onnx_node *n, int code, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return emoi_fail(L->err, code, "%s: node '%s' (%s): %s", L->src, n->name, n->op_type, msg);
}

/* Input k of node n, or NULL if absent or unknown (error set). */
static int lo_in(lo_ctx *L, const onnx_node *n, int k, lo_val **out, int required) {
  *out = NULL;
  if (k >= n->n_in || !n->in[k][0]) {
    if (required) return LO_FAIL(EMO_EMODEL, "input %d is missing", k);
    return EMO_OK;
  }
  lo_val *v = lo_find(L, n->in[k]);
  if (!v) return LO_FAIL(EMO_EMODEL, "input '%s' is not defined before use", n->in[k]);
  *out = v;
  return EMO_OK;
}

static int lo_bind_const(lo_ctx *L, const onnx_node *n, int k, onnx_tensor *t) {
  if (!t) return LO_FAIL(EMO_ENOMEM, "out of memory or tensor too large");
  if (k >= n->n_out) return LO_FAIL(EMO_EMODEL, "missing output %d", k);
  lo_val v;
  memset(&v, 0, sizeof v);
  v.c = t;
  v.id = -1;
  return lo_bind(L, n->out[k], &v);
}

/* nn value id of a float constant (added to the blob on first use) with the given shape. */
static int lo_nn_const(lo_ctx *L, const onnx_tensor *t, int rank, const int64_t *shape,
                       const float *data) {
  return nn_graph_add_const(L->g, lo_name(L, t->name[0] ? t->name : "const", "c"), NN_F32, rank,
                            shape, data, (size_t)t->numel * 4, L->err);
}

/* Adds a dynamic value with the given nn shape; returns its id. */
static int lo_nn_value(lo_ctx *L, const char *name, int rank, const int64_t *shape) {
  return nn_graph_add_value(L->g, name, NN_F32, rank, shape, L->err);
}

static int lo_node(lo_ctx *L, const onnx_node *n, nn_op op, const int *in, int n_in, int out,
                   const nn_attr *a) {
  int r = nn_graph_add_node(L->g, op, in, n_in, &out, 1, a, n->name, L->err);
  return r < 0 ? r : EMO_OK;
}

/* nn shape of a dynamic value in its layout. */
static void nn_shape_of(const lo_val *v, int *rank, int64_t *s) {
  if (v->layout == LY_NCL) {
    *rank = 4;
    s[0] = v->shape[0];
    s[1] = 1;
    s[2] = v->shape[2];
    s[3] = v->shape[1];
  } else {
    *rank = v->rank;
    memcpy(s, v->shape, sizeof v->shape);
  }
}

/* A new dynamic value (ONNX shape, layout) produced by node n as nn op output; binds it to
 * ONNX name `name` when non-NULL. Returns id via *id. */
static int lo_new_dyn(lo_ctx *L, const char *name, int rank, const int64_t *shape, int layout,
                      lo_val *out) {
  memset(out, 0, sizeof *out);
  out->rank = rank;
  memcpy(out->shape, shape, (size_t)rank * sizeof(int64_t));
  out->layout = layout;
  int nr;
  int64_t ns[NN_MAX_RANK];
  nn_shape_of(out, &nr, ns);
  int id = lo_nn_value(L, name, nr, ns);
  if (id < 0) return id;
  out->id = id;
  return EMO_OK;
}

/* Makes v a dynamic nn value: constants (float) are added to the blob in plain layout. */
static int lo_dyn(lo_ctx *L, const onnx_node *n, lo_val *v, lo_val *out) {
  if (!v->c) {
    *out = *v;
    return EMO_OK;
  }
  if (!v->c->f) return LO_FAIL(EMO_EUNSUPPORTED, "integer tensor '%s' used as float data", v->name);
  memset(out, 0, sizeof *out);
  out->rank = v->c->rank;
  memcpy(out->shape, v->c->dims, sizeof out->shape);
  out->layout = LY_PLAIN;
  out->id = lo_nn_const(L, v->c, v->c->rank, v->c->dims, v->c->f);
  return out->id < 0 ? out->id : EMO_OK;
}

/* Gives v in layout want (RESHAPE when the memory order agrees). */
static int lo_layout(lo_ctx *L, const onnx_node *n, lo_val *v, int want, lo_val *out) {
  int st;
  if ((st = lo_dyn(L, n, v, out))) return st;
  if (out->layout == want) return EMO_OK;
  if (out->rank != 3 || !(out->shape[1] == 1 || out->shape[2] == 1))
    return LO_FAIL(EMO_EUNSUPPORTED, "needs a channel transpose of '%s' (layout change)", v->name);
  lo_val r;
  if ((st = lo_new_dyn(L, lo_name(L, v->name, "ly"), out->rank, out->shape, want, &r))) return st;
  int in = out->id;
  if ((st = lo_node(L, n, NN_OP_RESHAPE, &in, 1, r.id, NULL))) return st;
  *out = r;
  return EMO_OK;
}

/* ---- constant folding ------------------------------------------------------------------- */

static int64_t clampi(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Resolves a [start, end) range with step 1 over an axis of size d (negatives count from
 * the end, then clamped). */
static void slice_range(int64_t d, int64_t s, int64_t e, int64_t *b, int64_t *en) {
  if (s < 0) s += d;
  if (e < 0) e += d;
  s = clampi(s, 0, d);
  e = clampi(e, 0, d);
  if (e < s) e = s;
  *b = s;
  *en = e;
}

static int fold_const(lo_ctx *L, const onnx_node *n, lo_val **in, int *done) {
  const char *op = n->op_type;
  *done = 1;
  int st;
  onnx_tensor *x = in[0] ? in[0]->c : NULL;
  if (!strcmp(op, "Constant")) {
    const onnx_attr *a = lo_attr(n, "value");
    if (a && a->type == ONNX_ATTR_TENSOR) return lo_bind_const(L, n, 0, a->t);
    if ((a = lo_attr(n, "value_float")) && a->type == ONNX_ATTR_FLOAT) {
      onnx_tensor *t = lo_tensor(L, ONNX_FLOAT, 0, NULL);
      if (t) t->f[0] = a->f;
      return lo_bind_const(L, n, 0, t);
    }
    if ((a = lo_attr(n, "value_int")) && a->type == ONNX_ATTR_INT) {
      onnx_tensor *t = lo_tensor(L, ONNX_INT64, 0, NULL);
      if (t) t->i[0] = a->i;
      return lo_bind_const(L, n, 0, t);
    }
    if ((a = lo_attr(n, "value_ints")) && a->type == ONNX_ATTR_INTS) {
      int64_t d = a->n;
      onnx_tensor *t = lo_tensor(L, ONNX_INT64, 1, &d);
      if (t)
        for (int k = 0; k < a->n; k++) t->i[k] = a->ints[k];
      return lo_bind_const(L, n, 0, t);
    }
    if ((a = lo_attr(n, "value_floats")) && a->type == ONNX_ATTR_FLOATS) {
      int64_t d = a->n;
      onnx_tensor *t = lo_tensor(L, ONNX_FLOAT, 1, &d);
      if (t)
        for (int k = 0; k < a->n; k++) t->f[k] = a->floats[k];
      return lo_bind_const(L, n, 0, t);
    }
    return LO_FAIL(EMO_EUNSUPPORTED, "Constant without a supported value attribute");
  }
  if (!strcmp(op, "Shape") && in[0]) {
    int rank = x ? x->rank : in[0]->rank;
    const int64_t *dims = x ? x->dims : in[0]->shape;
    int64_t s = attr_i(n, "start", 0), e = attr_i(n, "end", rank), b, en;
    slice_range(rank, s, e, &b, &en);
    int64_t d = en - b;
    onnx_tensor *t = lo_tensor(L, ONNX_INT64, 1, &d);
    if (t)
      for (int64_t k = 0; k < d; k++) t->i[k] = dims[b + k];
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "Size") && in[0]) {
    int64_t numel = 1;
    if (x)
      numel = x->numel;
    else
      for (int k = 0; k < in[0]->rank; k++) numel *= in[0]->shape[k];
    onnx_tensor *t = lo_tensor(L, ONNX_INT64, 0, NULL);
    if (t) t->i[0] = numel;
    return lo_bind_const(L, n, 0, t);
  }
  /* the rest needs every present input constant */
  for (int k = 0; k < n->n_in; k++)
    if (in[k] && !in[k]->c) {
      *done = 0;
      return EMO_OK;
    }
  if (!x && strcmp(op, "If") != 0) {
    *done = 0;
    return EMO_OK;
  }
  if (!strcmp(op, "Identity")) return lo_bind_const(L, n, 0, x);
  if (!strcmp(op, "Cast")) {
    int to = (int)attr_i(n, "to", 0);
    if (to != ONNX_FLOAT && to != ONNX_INT64 && to != ONNX_INT32 && to != ONNX_BOOL &&
        to != ONNX_DOUBLE && to != ONNX_INT8 && to != ONNX_UINT8)
      return LO_FAIL(EMO_EUNSUPPORTED, "Cast to type %d", to);
    onnx_tensor *t = lo_tensor(L, to, x->rank, x->dims);
    if (t)
      for (int64_t k = 0; k < x->numel; k++) {
        double v = tget(x, k);
        if (to == ONNX_BOOL)
          v = v != 0;
        else if (!t->f)
          v = v != v ? 0 : v > 9.2e18 ? 9.2e18 : v < -9.2e18 ? -9.2e18 : v;
        tset(t, k, v);
      }
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "Not") || !strcmp(op, "Equal") || !strcmp(op, "Add") || !strcmp(op, "Sub") ||
      !strcmp(op, "Mul")) {
    onnx_tensor *y = n->n_in > 1 && in[1] ? in[1]->c : NULL;
    int unary = !strcmp(op, "Not");
    if (!unary && !y) return LO_FAIL(EMO_EMODEL, "second input missing");
    const onnx_tensor *big = x;
    if (!unary && y->numel > x->numel) big = y;
    if (!unary && !(x->numel == y->numel || x->numel == 1 || y->numel == 1))
      return LO_FAIL(EMO_EUNSUPPORTED, "constant broadcasting beyond scalars");
    int dt = unary || !strcmp(op, "Equal") ? ONNX_BOOL : x->dtype;
    onnx_tensor *t = lo_tensor(L, dt, big->rank, big->dims);
    if (t)
      for (int64_t k = 0; k < big->numel; k++) {
        double a = tget(x, x->numel == 1 ? 0 : k);
        double b = unary ? 0 : tget(y, y->numel == 1 ? 0 : k);
        double v = unary          ? !a
                   : op[0] == 'E' ? a == b
                   : op[0] == 'A' ? a + b
                   : op[0] == 'S' ? a - b
                                  : a * b;
        tset(t, k, v);
      }
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "ConstantOfShape")) {
    if (x->rank != 1 || x->numel > NN_MAX_RANK || !x->i)
      return LO_FAIL(EMO_EMODEL, "shape input must be a 1-D int64 tensor of at most %d",
                     NN_MAX_RANK);
    const onnx_attr *a = lo_attr(n, "value");
    int dt = a && a->type == ONNX_ATTR_TENSOR ? a->t->dtype : ONNX_FLOAT;
    double v = a && a->type == ONNX_ATTR_TENSOR && a->t->numel > 0 ? tget(a->t, 0) : 0;
    onnx_tensor *t = lo_tensor(L, dt, (int)x->numel, x->i);
    if (t)
      for (int64_t k = 0; k < t->numel; k++) tset(t, k, v);
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
      !strcmp(op, "Flatten")) {
    *done = 0; /* shape computed by the shared code below (lower_reshape) */
    return EMO_OK;
  }
  if (!strcmp(op, "Concat")) {
    int r = x->rank;
    int64_t ax = attr_i(n, "axis", 0);
    if (ax < 0) ax += r;
    if (r < 1 || ax < 0 || ax >= r) return LO_FAIL(EMO_EMODEL, "axis out of range");
    int64_t dims[NN_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[ax] = 0;
    for (int k = 0; k < n->n_in; k++) {
      if (!in[k]) continue;
      const onnx_tensor *t = in[k]->c;
      if (t->rank != r || (!t->f) != (!x->f))
        return LO_FAIL(EMO_EMODEL, "input %d: rank or type differs", k);
      for (int d = 0; d < r; d++)
        if (d != ax && t->dims[d] != x->dims[d])
          return LO_FAIL(EMO_EMODEL, "input %d: shape differs", k);
      dims[ax] += t->dims[ax];
    }
    onnx_tensor *t = lo_tensor(L, x->dtype, r, dims);
    if (!t) return LO_FAIL(EMO_ENOMEM, "out of memory");
    int64_t outer = 1, inner = 1, off = 0;
    for (int d = 0; d < ax; d++) outer *= dims[d];
    for (int d = (int)ax + 1; d < r; d++) inner *= dims[d];
    for (int k = 0; k < n->n_in; k++) {
      if (!in[k]) continue;
      const onnx_tensor *s = in[k]->c;
      int64_t row = s->dims[ax] * inner;
      for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < row; j++)
          tset(t, o * dims[ax] * inner + off + j, tget(s, o * row + j));
      off += row;
    }
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "Gather")) {
    const onnx_tensor *idx = in[1] ? in[1]->c : NULL;
    if (!idx || !idx->i) return LO_FAIL(EMO_EMODEL, "indices missing or not integer");
    int r = x->rank;
    int64_t ax = attr_i(n, "axis", 0);
    if (ax < 0) ax += r;
    if (r < 1 || ax < 0 || ax >= r || r - 1 + idx->rank > NN_MAX_RANK)
      return LO_FAIL(EMO_EMODEL, "axis or rank out of range");
    int64_t dims[NN_MAX_RANK];
    int ro = 0;
    for (int d = 0; d < ax; d++) dims[ro++] = x->dims[d];
    for (int d = 0; d < idx->rank; d++) dims[ro++] = idx->dims[d];
    for (int d = (int)ax + 1; d < r; d++) dims[ro++] = x->dims[d];
    onnx_tensor *t = lo_tensor(L, x->dtype, ro, dims);
    if (!t) return LO_FAIL(EMO_ENOMEM, "out of memory");
    int64_t outer = 1, inner = 1, D = x->dims[ax];
    for (int d = 0; d < ax; d++) outer *= x->dims[d];
    for (int d = (int)ax + 1; d < r; d++) inner *= x->dims[d];
    for (int64_t o = 0; o < outer; o++)
      for (int64_t q = 0; q < idx->numel; q++) {
        int64_t ix = idx->i[q];
        if (ix < 0) ix += D;
        if (ix < 0 || ix >= D)
          return LO_FAIL(EMO_EMODEL, "index %lld out of range", (long long)idx->i[q]);
        for (int64_t j = 0; j < inner; j++)
          tset(t, (o * idx->numel + q) * inner + j, tget(x, (o * D + ix) * inner + j));
      }
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "Transpose")) {
    int r = x->rank;
    int64_t perm[NN_MAX_RANK], dims[NN_MAX_RANK], xs[NN_MAX_RANK], s = 1;
    const onnx_attr *a = lo_attr(n, "perm");
    for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
    if (a && a->type == ONNX_ATTR_INTS) {
      if (a->n != r) return LO_FAIL(EMO_EMODEL, "perm has %d entries for rank %d", a->n, r);
      int seen[NN_MAX_RANK] = {0};
      for (int d = 0; d < r; d++) {
        if (a->ints[d] < 0 || a->ints[d] >= r || seen[a->ints[d]]++)
          return LO_FAIL(EMO_EMODEL, "perm is not a permutation");
        perm[d] = a->ints[d];
      }
    }
    for (int d = r - 1; d >= 0; d--) {
      xs[d] = s;
      s *= x->dims[d];
    }
    for (int d = 0; d < r; d++) dims[d] = x->dims[perm[d]];
    onnx_tensor *t = lo_tensor(L, x->dtype, r, dims);
    if (!t) return LO_FAIL(EMO_ENOMEM, "out of memory");
    int64_t idx[NN_MAX_RANK] = {0};
    for (int64_t k = 0; k < t->numel; k++) {
      int64_t o = 0;
      for (int d = 0; d < r; d++) o += idx[d] * xs[perm[d]];
      tset(t, k, tget(x, o));
      for (int d = r - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
    return lo_bind_const(L, n, 0, t);
  }
  if (!strcmp(op, "Slice")) {
    *done = 0; /* shared with the dynamic path (lower_slice) */
    return EMO_OK;
  }
  (void)st;
  *done = 0;
  return EMO_OK;
}

/* ---- shape-only ops, slices (constant or dynamic) ----------------------------------------- */

/* Axes list from input k (int tensor) or attribute "axes"; *has = 0 when neither. */
static int get_axes(lo_ctx *L, const onnx_node *n, lo_val **in, int k, int64_t *axes, int *na,
                    int *has) {
  *has = 0;
  *na = 0;
  if (k < n->n_in && in[k]) {
    if (!in[k]->c || !in[k]->c->i)
      return LO_FAIL(EMO_EUNSUPPORTED, "axes input is not a constant integer tensor");
    if (in[k]->c->numel > NN_MAX_RANK) return LO_FAIL(EMO_EMODEL, "too many axes");
    for (int64_t j = 0; j < in[k]->c->numel; j++) axes[j] = in[k]->c->i[j];
    *na = (int)in[k]->c->numel;
    *has = 1;
    return EMO_OK;
  }
  const onnx_attr *a = lo_attr(n, "axes");
  if (a && a->type == ONNX_ATTR_INTS) {
    if (a->n > NN_MAX_RANK) return LO_FAIL(EMO_EMODEL, "too many axes");
    for (int j = 0; j < a->n; j++) axes[j] = a->ints[j];
    *na = a->n;
    *has = 1;
  }
  return EMO_OK;
}

static int lower_reshape(lo_ctx *L, const onnx_node *n, lo_val **in) {
  const char *op = n->op_type;
  lo_val *x = in[0];
  int r = x->c ? x->c->rank : x->rank;
  const int64_t *xs = x->c ? x->c->dims : x->shape;
  int64_t numel = 1;
  for (int d = 0; d < r; d++) numel *= xs[d];
  int64_t os[NN_MAX_RANK], axes[NN_MAX_RANK];
  int orank = 0, na, has, st;
  if (!strcmp(op, "Reshape")) {
    if (!in[1] || !in[1]->c || !in[1]->c->i || in[1]->c->rank != 1)
      return LO_FAIL(EMO_EUNSUPPORTED, "shape input is not a constant 1-D integer tensor");
    const onnx_tensor *s = in[1]->c;
    if (s->numel > NN_MAX_RANK)
      return LO_FAIL(EMO_EUNSUPPORTED, "target rank %lld", (long long)s->numel);
    int allowzero = (int)attr_i(n, "allowzero", 0), unk = -1;
    int64_t known = 1;
    orank = (int)s->numel;
    for (int d = 0; d < orank; d++) {
      int64_t v = s->i[d];
      if (v == 0 && !allowzero) {
        if (d >= r) return LO_FAIL(EMO_EMODEL, "0 in target shape beyond the input rank");
        v = xs[d];
      }
      if (v == -1) {
        if (unk >= 0) return LO_FAIL(EMO_EMODEL, "two -1 in target shape");
        unk = d;
        v = 1;
      } else if (v < 0 || v > NN_ONNX_MAX_ELEMS) {
        return LO_FAIL(EMO_EMODEL, "target dimension %lld", (long long)v);
      }
      os[d] = v;
      known *= v;
      if (known > NN_ONNX_MAX_ELEMS) return LO_FAIL(EMO_ELIMIT, "target shape too large");
    }
    if (unk >= 0) {
      if (known == 0 || numel % known) return LO_FAIL(EMO_EMODEL, "cannot infer -1");
      os[unk] = numel / known;
    }
  } else if (!strcmp(op, "Squeeze")) {
    if ((st = get_axes(L, n, in, 1, axes, &na, &has))) return st;
    int drop[NN_MAX_RANK] = {0};
    for (int j = 0; j < na; j++) {
      int64_t a = axes[j] < 0 ? axes[j] + r : axes[j];
      if (a < 0 || a >= r || xs[a] != 1)
        return LO_FAIL(EMO_EMODEL, "cannot squeeze axis %lld", (long long)axes[j]);
      drop[a] = 1;
    }
    for (int d = 0; d < r; d++)
      if (!(has ? drop[d] : xs[d] == 1)) os[orank++] = xs[d];
  } else if (!strcmp(op, "Unsqueeze")) {
    if ((st = get_axes(L, n, in, 1, axes, &na, &has))) return st;
    orank = r + na;
    if (!has || orank > NN_MAX_RANK)
      return LO_FAIL(EMO_EUNSUPPORTED, "no axes or rank above %d", NN_MAX_RANK);
    int ins[NN_MAX_RANK] = {0};
    for (int j = 0; j < na; j++) {
      int64_t a = axes[j] < 0 ? axes[j] + orank : axes[j];
      if (a < 0 || a >= orank || ins[a])
        return LO_FAIL(EMO_EMODEL, "bad axis %lld", (long long)axes[j]);
      ins[a] = 1;
    }
    for (int d = 0, k = 0; d < orank; d++) os[d] = ins[d] ? 1 : xs[k++];
  } else { /* Flatten */
    int64_t ax = attr_i(n, "axis", 1);
    if (ax < 0) ax += r;
    if (ax < 0 || ax > r) return LO_FAIL(EMO_EMODEL, "axis out of range");
    os[0] = 1;
    for (int d = 0; d < ax; d++) os[0] *= xs[d];
    os[1] = os[0] ? numel / os[0] : 0;
    orank = 2;
  }
  if (x->c) {
    onnx_tensor *t = nn_onnx_arena_alloc(&L->arena, sizeof *t);
    if (!t) return LO_FAIL(EMO_ENOMEM, "out of memory");
    *t = *x->c;
    t->rank = orank;
    memcpy(t->dims, os, sizeof os);
    return lo_bind_const(L, n, 0, t);
  }
  lo_val p, o;
  if ((st = lo_layout(L, n, x, LY_PLAIN, &p))) return st;
  if ((st = lo_new_dyn(L, n->out[0], orank, os, LY_PLAIN, &o))) return st;
  if ((st = lo_node(L, n, NN_OP_RESHAPE, &p.id, 1, o.id, NULL))) return st;
  return lo_bind(L, n->out[0], &o);
}

/* nn axis of ONNX axis a for a value in layout ly. */
static int nn_axis(int ly, int a) {
  if (ly != LY_NCL) return a;
  return a == 0 ? 0 : a == 1 ? 3 : 2;
}

/* Emits SLICE of dynamic v over ONNX box [b, e); binds to name. */
static int emit_slice(lo_ctx *L, const onnx_node *n, const lo_val *v, const int64_t *b,
                      const int64_t *e, const char *name, lo_val *out) {
  int64_t os[NN_MAX_RANK];
  for (int d = 0; d < v->rank; d++) os[d] = e[d] - b[d];
  int st;
  if ((st = lo_new_dyn(L, name, v->rank, os, v->layout, out))) return st;
  nn_attr a = nn_attr_default();
  int nr;
  int64_t ns[NN_MAX_RANK];
  nn_shape_of(v, &nr, ns);
  for (int d = 0; d < nr; d++) {
    a.slice_begin[d] = 0;
    a.slice_end[d] = ns[d];
  }
  for (int d = 0; d < v->rank; d++) {
    int k = nn_axis(v->layout, d);
    a.slice_begin[k] = b[d];
    a.slice_end[k] = e[d];
  }
  return lo_node(L, n, NN_OP_SLICE, &v->id, 1, out->id, &a);
}

static int lower_slice(lo_ctx *L, const onnx_node *n, lo_val **in) {
  lo_val *x = in[0];
  int r = x->c ? x->c->rank : x->rank;
  const int64_t *xs = x->c ? x->c->dims : x->shape;
  int64_t b[NN_MAX_RANK], e[NN_MAX_RANK], step[NN_MAX_RANK], cnt[NN_MAX_RANK];
  for (int d = 0; d < r; d++) {
    b[d] = 0;
    e[d] = xs[d];
    step[d] = 1;
    cnt[d] = xs[d];
  }
  for (int k = 1; k < 5; k++)
    if (k < n->n_in && in[k] && (!in[k]->c || !in[k]->c->i))
      return LO_FAIL(EMO_EUNSUPPORTED, "starts/ends/axes/steps must be constant integers");
  if (n->n_in < 3 || !in[1] || !in[2])
    return LO_FAIL(EMO_EUNSUPPORTED, "Slice without starts/ends inputs (opset < 10)");
  const onnx_tensor *S = in[1]->c, *E = in[2]->c;
  const onnx_tensor *A = n->n_in > 3 && in[3] ? in[3]->c : NULL;
  const onnx_tensor *P = n->n_in > 4 && in[4] ? in[4]->c : NULL;
  if (S->numel != E->numel || (A && A->numel != S->numel) || (P && P->numel != S->numel) ||
      S->numel > r)
    return LO_FAIL(EMO_EMODEL, "starts/ends/axes/steps lengths disagree");
  int seen[NN_MAX_RANK] = {0};
  for (int64_t j = 0; j < S->numel; j++) {
    int64_t a = A ? A->i[j] : j;
    if (a < 0) a += r;
    if (a < 0 || a >= r || seen[a]++) return LO_FAIL(EMO_EMODEL, "bad axis");
    int64_t st = P ? P->i[j] : 1, d = xs[a], s0 = S->i[j], e0 = E->i[j];
    if (st == 0) return LO_FAIL(EMO_EMODEL, "step 0");
    if (st != 1 && !x->c)
      return LO_FAIL(EMO_EUNSUPPORTED, "step %lld on activations (only 1)", (long long)st);
    if (s0 < 0) s0 = s0 < -d ? 0 : s0 + d;
    if (e0 < 0) e0 = e0 < -d ? -1 : e0 + d;
    if (st > 0) {
      s0 = clampi(s0, 0, d);
      e0 = clampi(e0, 0, d);
      cnt[a] = e0 > s0 ? (e0 - s0 + st - 1) / st : 0;
    } else {
      s0 = clampi(s0, 0, d - 1);
      e0 = clampi(e0, -1, d - 1);
      cnt[a] = s0 > e0 ? (s0 - e0 + (-st) - 1) / (-st) : 0;
    }
    b[a] = s0;
    step[a] = st;
    e[a] = st == 1 ? s0 + cnt[a] : e0;
  }
  if (x->c) {
    int64_t xst[NN_MAX_RANK], s = 1;
    for (int d = r - 1; d >= 0; d--) {
      xst[d] = s;
      s *= xs[d];
    }
    onnx_tensor *t = lo_tensor(L, x->c->dtype, r, cnt);
    if (!t) return LO_FAIL(EMO_ENOMEM, "out of memory");
    int64_t idx[NN_MAX_RANK] = {0};
    for (int64_t k = 0; k < t->numel; k++) {
      int64_t o = 0;
      for (int d = 0; d < r; d++) o += (b[d] + idx[d] * step[d]) * xst[d];
      tset(t, k, tget(x->c, o));
      for (int d = r - 1; d >= 0; d--) {
        if (++idx[d] < cnt[d]) break;
        idx[d] = 0;
      }
    }
    return lo_bind_const(L, n, 0, t);
  }
  int same = 1;
  for (int d = 0; d < r; d++) same &= b[d] == 0 && e[d] == xs[d];
  if (same) return lo_bind(L, n->out[0], x); /* whole tensor: an alias */
  lo_val o;
  int st = emit_slice(L, n, x, b, e, n->out[0], &o);
  return st ? st : lo_bind(L, n->out[0], &o);
}

/* ---- dynamic ops ------------------------------------------------------------------------ */

static int lower_gather(lo_ctx *L, const onnx_node *n, lo_val **in) {
  lo_val *x = in[0];
  const onnx_tensor *idx = in[1] ? in[1]->c : NULL;
  if (!idx || !idx->i || idx->numel != 1)
    return LO_FAIL(EMO_EUNSUPPORTED, "Gather on activations needs one constant index");
  int r = x->rank;
  int64_t ax = attr_i(n, "axis", 0);
  if (ax < 0) ax += r;
  if (ax < 0 || ax >= r) return LO_FAIL(EMO_EMODEL, "axis out of range");
  int64_t ix = idx->i[0];
  if (ix < 0) ix += x->shape[ax];
  if (ix < 0 || ix >= x->shape[ax]) return LO_FAIL(EMO_EMODEL, "index out of range");
  int64_t b[NN_MAX_RANK], e[NN_MAX_RANK];
  for (int d = 0; d < r; d++) {
    b[d] = 0;
    e[d] = x->shape[d];
  }
  b[ax] = ix;
  e[ax] = ix + 1;
  lo_val p, s, o;
  int st;
  if ((st = lo_layout(L, n, x, LY_PLAIN, &p)) ||
      (st = emit_slice(L, n, &p, b, e, lo_name(L, n->out[0], "g"), &s)))
    return st;
  int64_t os[NN_MAX_RANK];
  int orank = 0;
  for (int d = 0; d < r; d++)
    if (d != ax) os[orank++] = x->shape[d];
  if (idx->rank == 1) { /* keeps the axis */
    orank = r;
    memcpy(os, s.shape, sizeof os);
  }
  if ((st = lo_new_dyn(L, n->out[0], orank, os, LY_PLAIN, &o))) return st;
  if ((st = lo_node(L, n, NN_OP_RESHAPE, &s.id, 1, o.id, NULL))) return st;
  return lo_bind(L, n->out[0], &o);
}

static int lower_conv(lo_ctx *L, const onnx_node *n, lo_val **in) {
  lo_val *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
  if (!w || !w->c || !w->c->f || (b && (!b->c || !b->c->f)))
    return LO_FAIL(EMO_EUNSUPPORTED, "weights and bias must be float constants");
  const onnx_tensor *W = w->c;
  if (x->rank != 3 || W->rank != 3)
    return LO_FAIL(EMO_EUNSUPPORTED, "only 1-D convolution (N, C, L) is supported");
  const char *ap = NULL;
  const onnx_attr *a = lo_attr(n, "auto_pad");
  if (a && a->type == ONNX_ATTR_STRING && a->s) ap = a->s;
  if (ap && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
    return LO_FAIL(EMO_EUNSUPPORTED, "auto_pad %s", ap);
  if (attr_i(n, "group", 1) != 1) return LO_FAIL(EMO_EUNSUPPORTED, "group != 1");
  int64_t Co = W->dims[0], Ci = W->dims[1], K = W->dims[2], C = x->shape[1], Lx = x->shape[2];
  if (Ci != C)
    return LO_FAIL(EMO_EMODEL, "weights expect %lld channels, input has %lld", (long long)Ci,
                   (long long)C);
  if (b && (b->c->rank != 1 || b->c->dims[0] != Co)) return LO_FAIL(EMO_EMODEL, "bias shape");
  int64_t stride = 1, dil = 1, p0 = 0, p1 = 0;
  if ((a = lo_attr(n, "strides")) && a->type == ONNX_ATTR_INTS && a->n == 1) stride = a->ints[0];
  if ((a = lo_attr(n, "dilations")) && a->type == ONNX_ATTR_INTS && a->n == 1) dil = a->ints[0];
  if ((a = lo_attr(n, "pads")) && a->type == ONNX_ATTR_INTS && a->n == 2) {
    p0 = a->ints[0];
    p1 = a->ints[1];
  }
  if ((a = lo_attr(n, "kernel_shape")) && a->type == ONNX_ATTR_INTS &&
      (a->n != 1 || a->ints[0] != K))
    return LO_FAIL(EMO_EMODEL, "kernel_shape disagrees with the weights");
  if (stride < 1 || stride > 65536 || dil < 1 || dil > 65536 || p0 < 0 || p1 < 0 || p0 > 65536 ||
      p1 > 65536)
    return LO_FAIL(EMO_EUNSUPPORTED, "strides/dilations/pads out of range");
  int64_t span = (K - 1) * dil + 1, Lo = (Lx + p0 + p1 - span) / stride + 1;
  if (Lx + p0 + p1 < span || Lo < 1) return LO_FAIL(EMO_EMODEL, "input shorter than the kernel");
  /* weights (Co, Ci, K) -> OHWI (Co, 1, K, Ci) */
  int64_t wd[4] = {Co, 1, K, Ci};
  float *wt = malloc((size_t)W->numel * sizeof(float));
  if (!wt) return LO_FAIL(EMO_ENOMEM, "out of memory");
  for (int64_t o = 0; o < Co; o++)
    for (int64_t c = 0; c < Ci; c++)
      for (int64_t k = 0; k < K; k++) wt[(o * K + k) * Ci + c] = W->f[(o * Ci + c) * K + k];
  int wid = lo_nn_const(L, W, 4, wd, wt);
  free(wt);
  if (wid < 0) return wid;
  int bid = -1;
  if (b && (bid = lo_nn_const(L, b->c, 1, b->c->dims, b->c->f)) < 0) return bid;
  lo_val xi, o;
  int st;
  if ((st = lo_layout(L, n, x, LY_NCL, &xi))) return st;
  int64_t os[3] = {x->shape[0], Co, Lo};
  if ((st = lo_new_dyn(L, n->out[0], 3, os, LY_NCL, &o))) return st;
  nn_attr at = nn_attr_default();
  at.stride_w = (int)stride;
  at.dilation_w = (int)dil;
  at.padding = NN_PAD_EXPLICIT;
  at.pad_left = (int)p0;
  at.pad_right = (int)p1;
  int ins[3] = {xi.id, wid, bid};
  if ((st = lo_node(L, n, NN_OP_CONV2D, ins, b ? 3 : 2, o.id, &at))) return st;
  return lo_bind(L, n->out[0], &o);
}

static int lower_unary(lo_ctx *L, const onnx_node *n, lo_val **in, nn_op op) {
  lo_val x, o;
  int st;
  if ((st = lo_dyn(L, n, in[0], &x))) return st;
  if ((st = lo_new_dyn(L, n->out[0], x.rank, x.shape, x.layout, &o))) return st;
  if ((st = lo_node(L, n, op, &x.id, 1, o.id, NULL))) return st;
  return lo_bind(L, n->out[0], &o);
}

static int is_scalar_const(const lo_val *v) {
  return v->c && v->c->numel == 1 && v->c->f;
}

static int lower_binary(lo_ctx *L, const onnx_node *n, lo_val **in, nn_op op) {
  lo_val *p = in[0], *q = in[1];
  if (!q) return LO_FAIL(EMO_EMODEL, "second input missing");
  lo_val a, b, o;
  int st;
  int ly = !p->c ? p->layout : !q->c ? q->layout : LY_PLAIN;
  /* a scalar constant broadcasts in either layout */
  for (int k = 0; k < 2; k++) {
    lo_val *v = k ? q : p, *d = k ? &b : &a;
    if (is_scalar_const(v)) {
      memset(d, 0, sizeof *d);
      d->layout = ly;
      int64_t one = 1;
      if ((d->id = nn_graph_add_const(L->g, lo_name(L, "scalar", "s"), NN_F32, 1, &one, v->c->f, 4,
                                      L->err)) < 0)
        return d->id;
      d->rank = 0;
    } else if ((st = lo_layout(L, n, v, ly == LY_NCL && !v->c ? LY_NCL : LY_PLAIN, d))) {
      return st;
    }
  }
  if (a.rank && b.rank && a.layout != b.layout)
    return LO_FAIL(EMO_EUNSUPPORTED, "operands in different layouts");
  /* broadcast ONNX shapes */
  int r = a.rank > b.rank ? a.rank : b.rank;
  int64_t os[NN_MAX_RANK];
  for (int d = 0; d < r; d++) {
    int ia = d - (r - a.rank), ib = d - (r - b.rank);
    int64_t da = ia >= 0 ? a.shape[ia] : 1, db = ib >= 0 ? b.shape[ib] : 1;
    if (da != db && da != 1 && db != 1) return LO_FAIL(EMO_EMODEL, "shapes do not broadcast");
    os[d] = da == 1 ? db : da;
  }
  if (ly == LY_NCL && ((a.rank && a.rank != 3) || (b.rank && b.rank != 3)))
    return LO_FAIL(EMO_EUNSUPPORTED, "broadcast against a (N, C, L) activation");
  if ((st = lo_new_dyn(L, n->out[0], r, os, ly, &o))) return st;
  int ins[2] = {a.id, b.id};
  if ((st = lo_node(L, n, op, ins, 2, o.id, NULL))) return st;
  return lo_bind(L, n->out[0], &o);
}

static int lower_pow(lo_ctx *L, const onnx_node *n, lo_val **in) {
  if (!in[1] || !is_scalar_const(in[1]))
    return LO_FAIL(EMO_EUNSUPPORTED, "exponent must be a scalar constant");
  float e = in[1]->c->f[0];
  if (e == 0.5f) return lower_unary(L, n, in, NN_OP_SQRT);
  if (e != 2.0f) return LO_FAIL(EMO_EUNSUPPORTED, "exponent %g (only 2 and 0.5)", e);
  lo_val *two[2] = {in[0], in[0]};
  return lower_binary(L, n, two, NN_OP_MUL);
}

/* Pad: constant (zero) mode -> PAD; reflect mode on the last axis -> CONCAT(left, x, right)
 * where each mirrored strip is a SLICE times a reversal matrix (FULLY_CONNECTED, exact). */
static int lower_pad(lo_ctx *L, const onnx_node *n, lo_val **in) {
  const char *mode = "constant";
  const onnx_attr *a = lo_attr(n, "mode");
  if (a && a->type == ONNX_ATTR_STRING && a->s) mode = a->s;
  lo_val x;
  int st;
  if ((st = lo_layout(L, n, in[0], LY_PLAIN, &x))) return st;
  int r = x.rank;
  if (!in[1] || !in[1]->c || !in[1]->c->i || in[1]->c->numel != 2 * r)
    return LO_FAIL(EMO_EUNSUPPORTED, "pads must be a constant of 2 x rank integers");
  if (n->n_in > 2 && in[2] && (!in[2]->c || tget(in[2]->c, 0) != 0))
    return LO_FAIL(EMO_EUNSUPPORTED, "non-zero constant_value");
  if (n->n_in > 3 && in[3]) return LO_FAIL(EMO_EUNSUPPORTED, "axes input");
  const int64_t *pd = in[1]->c->i;
  int64_t os[NN_MAX_RANK];
  for (int d = 0; d < r; d++) {
    if (pd[d] < 0 || pd[d + r] < 0 || pd[d] > 65536 || pd[d + r] > 65536)
      return LO_FAIL(EMO_EUNSUPPORTED, "negative or huge padding");
    os[d] = x.shape[d] + pd[d] + pd[d + r];
  }
  lo_val o;
  if (!strcmp(mode, "constant")) {
    if ((st = lo_new_dyn(L, n->out[0], r, os, LY_PLAIN, &o))) return st;
    nn_attr at = nn_attr_default();
    for (int d = 0; d < r; d++) {
      at.pads[d][0] = pd[d];
      at.pads[d][1] = pd[d + r];
    }
    if ((st = lo_node(L, n, NN_OP_PAD, &x.id, 1, o.id, &at))) return st;
    return lo_bind(L, n->out[0], &o);
  }
  if (strcmp(mode, "reflect")) return LO_FAIL(EMO_EUNSUPPORTED, "mode '%s'", mode);
  for (int d = 0; d < r - 1; d++)
    if (pd[d] || pd[d + r]) return LO_FAIL(EMO_EUNSUPPORTED, "reflect padding off the last axis");
  int64_t Lx = x.shape[r - 1], pl = pd[r - 1], pr = pd[2 * r - 1];
  if (pl >= Lx || pr >= Lx) return LO_FAIL(EMO_EMODEL, "reflect padding not smaller than the axis");
  int parts[3], np = 0;
  for (int side = 0; side < 2; side++) {
    int64_t p = side ? pr : pl;
    if (side == 1) parts[np++] = x.id;
    if (!p) continue;
    /* left strip mirrors x[1..p], right strip mirrors x[L-1-p..L-2] */
    int64_t b[NN_MAX_RANK], e[NN_MAX_RANK];
    for (int d = 0; d < r; d++) {
      b[d] = 0;
      e[d] = x.shape[d];
    }
    b[r - 1] = side ? Lx - 1 - p : 1;
    e[r - 1] = b[r - 1] + p;
    lo_val s, m;
    if ((st = emit_slice(L, n, &x, b, e, lo_name(L, n->out[0], "rs"), &s))) return st;
    float *rev = calloc((size_t)(p * p), sizeof(float));
    if (!rev) return LO_FAIL(EMO_ENOMEM, "out of memory");
    for (int64_t i = 0; i < p; i++) rev[i * p + (p - 1 - i)] = 1.0f;
    int64_t wd[2] = {p, p};
    int wid = nn_graph_add_const(L->g, lo_name(L, n->out[0], "rev"), NN_F32, 2, wd, rev,
                                 (size_t)(p * p) * 4, L->err);
    free(rev);
    if (wid < 0) return wid;
    int64_t ms[2] = {s.shape[0], p};
    int64_t rows = 1;
    for (int d = 0; d < r - 1; d++) rows *= x.shape[d];
    ms[0] = rows;
    if ((st = lo_new_dyn(L, lo_name(L, n->out[0], "rf"), 2, ms, LY_PLAIN, &m))) return st;
    int fin[2] = {s.id, wid};
    if ((st = lo_node(L, n, NN_OP_FULLY_CONNECTED, fin, 2, m.id, NULL))) return st;
    lo_val m2;
    if ((st = lo_new_dyn(L, lo_name(L, n->out[0], "rr"), r, s.shape, LY_PLAIN, &m2))) return st;
    if ((st = lo_node(L, n, NN_OP_RESHAPE, &m.id, 1, m2.id, NULL))) return st;
    parts[np++] = m2.id;
  }
  if (np == 1) parts[np++] = x.id;
  if ((st = lo_new_dyn(L, n->out[0], r, os, LY_PLAIN, &o))) return st;
  nn_attr at = nn_attr_default();
  at.axis = r - 1;
  if ((st = lo_node(L, n, NN_OP_CONCAT, parts, np, o.id, &at))) return st;
  return lo_bind(L, n->out[0], &o);
}

static int lower_concat(lo_ctx *L, const onnx_node *n, lo_val **in) {
  if (n->n_in < 1 || n->n_in > NN_MAX_NODE_IO)
    return LO_FAIL(EMO_EUNSUPPORTED, "%d inputs", n->n_in);
  int ids[NN_MAX_NODE_IO], st;
  lo_val v[NN_MAX_NODE_IO];
  for (int k = 0; k < n->n_in; k++) {
    if (!in[k]) return LO_FAIL(EMO_EMODEL, "input %d missing", k);
    if ((st = lo_layout(L, n, in[k], LY_PLAIN, &v[k]))) return st;
    ids[k] = v[k].id;
  }
  int r = v[0].rank;
  int64_t ax = attr_i(n, "axis", 0);
  if (ax < 0) ax += r;
  if (r < 1 || ax < 0 || ax >= r) return LO_FAIL(EMO_EMODEL, "axis out of range");
  int64_t os[NN_MAX_RANK];
  memcpy(os, v[0].shape, sizeof os);
  for (int k = 1; k < n->n_in; k++) {
    if (v[k].rank != r) return LO_FAIL(EMO_EMODEL, "ranks differ");
    os[ax] += v[k].shape[ax];
  }
  lo_val o;
  if ((st = lo_new_dyn(L, n->out[0], r, os, LY_PLAIN, &o))) return st;
  nn_attr at = nn_attr_default();
  at.axis = (int)ax;
  if ((st = lo_node(L, n, NN_OP_CONCAT, ids, n->n_in, o.id, &at))) return st;
  return lo_bind(L, n->out[0], &o);
}

static int lower_reducemean(lo_ctx *L, const onnx_node *n, lo_val **in) {
  lo_val x, o;
  int st, na, has;
  int64_t axes[NN_MAX_RANK];
  if ((st = lo_layout(L, n, in[0], LY_PLAIN, &x))) return st;
  if ((st = get_axes(L, n, in, 1, axes, &na, &has))) return st;
  int keep = (int)attr_i(n, "keepdims", 1), r = x.rank;
  nn_attr at = nn_attr_default();
  int red[NN_MAX_RANK] = {0};
  if (!has || na == 0) {
    if (attr_i(n, "noop_with_empty_axes", 0)) return lo_bind(L, n->out[0], &x);
    na = r;
    for (int d = 0; d < r; d++) axes[d] = d;
  }
  for (int j = 0; j < na; j++) {
    int64_t a = axes[j] < 0 ? axes[j] + r : axes[j];
    if (a < 0 || a >= r || red[a]) return LO_FAIL(EMO_EMODEL, "bad axis");
    red[a] = 1;
    at.axes[j] = (int)a;
  }
  at.n_axes = na;
  at.keepdims = keep;
  int64_t os[NN_MAX_RANK];
  int orank = 0;
  for (int d = 0; d < r; d++)
    if (!red[d])
      os[orank++] = x.shape[d];
    else if (keep)
      os[orank++] = 1;
  if ((st = lo_new_dyn(L, n->out[0], orank, os, LY_PLAIN, &o))) return st;
  if ((st = lo_node(L, n, NN_OP_MEAN, &x.id, 1, o.id, &at))) return st;
  return lo_bind(L, n->out[0], &o);
}

/* LSTM (ONNX Operators.md#LSTM): forward direction, default activations (sigmoid, tanh,
 * tanh), no peepholes, clip or coupled gates; gate order i, o, f, c. Per time step t:
 *   z = [x_t, h] (B, I+H);  g = z W' + b (B, 4H) with W' = [W; R] rows per gate;
 *   i, o, f = sigmoid(g_i, g_o, g_f); c~ = tanh(g_c); c = f*c + i*c~; h = o*tanh(c). */
static int lower_lstm(lo_ctx *L, const onnx_node *n, lo_val **in) {
  lo_val *X = in[0], *Wv = in[1], *Rv = in[2];
  lo_val *Bv = n->n_in > 3 ? in[3] : NULL, *h0 = n->n_in > 5 ? in[5] : NULL,
         *c0 = n->n_in > 6 ? in[6] : NULL;
  if (!Wv || !Rv || !Wv->c || !Rv->c || !Wv->c->f || !Rv->c->f || (Bv && (!Bv->c || !Bv->c->f)))
    return LO_FAIL(EMO_EUNSUPPORTED, "W, R and B must be float constants");
  if (n->n_in > 4 && in[4]) return LO_FAIL(EMO_EUNSUPPORTED, "sequence_lens input");
  if (n->n_in > 7 && in[7]) return LO_FAIL(EMO_EUNSUPPORTED, "peepholes");
  const onnx_attr *a = lo_attr(n, "direction");
  if (a && a->type == ONNX_ATTR_STRING && a->s && strcmp(a->s, "forward"))
    return LO_FAIL(EMO_EUNSUPPORTED, "direction '%s'", a->s);
  if (lo_attr(n, "activations") || lo_attr(n, "clip") || attr_i(n, "input_forget", 0) ||
      attr_i(n, "layout", 0))
    return LO_FAIL(EMO_EUNSUPPORTED, "non-default activations, clip, input_forget or layout");
  const onnx_tensor *W = Wv->c, *R = Rv->c;
  int64_t H = attr_i(n, "hidden_size", 0);
  if (X->c || X->rank != 3 || W->rank != 3 || R->rank != 3 || W->dims[0] != 1 || R->dims[0] != 1)
    return LO_FAIL(EMO_EUNSUPPORTED, "shapes: X must be (T,B,I), W (1,4H,I), R (1,4H,H)");
  int64_t T = X->shape[0], B = X->shape[1], I = X->shape[2];
  if (H < 1 || H > 65536 || W->dims[1] != 4 * H || W->dims[2] != I || R->dims[1] != 4 * H ||
      R->dims[2] != H || (Bv && Bv->c->numel != 8 * H) || T < 1 || T > 4096)
    return LO_FAIL(EMO_EMODEL, "W/R/B shapes disagree with hidden_size %lld", (long long)H);
  int st;
  /* combined weights (4H, I+H) and bias (4H) */
  int64_t wd[2] = {4 * H, I + H}, bd = 4 * H;
  float *w = malloc((size_t)(4 * H * (I + H)) * sizeof(float));
  float *bias = calloc((size_t)(4 * H), sizeof(float));
  if (!w || !bias) {
    free(w);
    free(bias);
    return LO_FAIL(EMO_ENOMEM, "out of memory");
  }
  for (int64_t r = 0; r < 4 * H; r++) {
    memcpy(w + r * (I + H), W->f + r * I, (size_t)I * 4);
    memcpy(w + r * (I + H) + I, R->f + r * H, (size_t)H * 4);
    if (Bv) bias[r] = Bv->c->f[r] + Bv->c->f[4 * H + r];
  }
  onnx_tensor tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.name = n->name;
  tmp.numel = 4 * H * (I + H);
  int wid = lo_nn_const(L, &tmp, 2, wd, w);
  tmp.numel = 4 * H;
  int bid = wid < 0 ? wid : lo_nn_const(L, &tmp, 1, &bd, bias);
  free(w);
  free(bias);
  if (bid < 0) return bid;
  /* initial state (B, H) */
  int64_t bh[2] = {B, H};
  lo_val hv[2];
  lo_val *init[2] = {h0, c0};
  for (int k = 0; k < 2; k++) {
    if (!init[k]) {
      float *z = calloc((size_t)(B * H), sizeof(float));
      if (!z) return LO_FAIL(EMO_ENOMEM, "out of memory");
      memset(&hv[k], 0, sizeof hv[k]);
      hv[k].id = nn_graph_add_const(L->g, lo_name(L, n->name, "z"), NN_F32, 2, bh, z,
                                    (size_t)(B * H) * 4, L->err);
      free(z);
      if (hv[k].id < 0) return hv[k].id;
      hv[k].rank = 2;
      memcpy(hv[k].shape, bh, sizeof bh);
      continue;
    }
    lo_val p;
    if ((st = lo_layout(L, n, init[k], LY_PLAIN, &p))) return st;
    if (p.rank != 3 || p.shape[0] != 1 || p.shape[1] != B || p.shape[2] != H)
      return LO_FAIL(EMO_EMODEL, "initial state must be (1, %lld, %lld)", (long long)B,
                     (long long)H);
    if ((st = lo_new_dyn(L, lo_name(L, n->name, "s"), 2, bh, LY_PLAIN, &hv[k])) ||
        (st = lo_node(L, n, NN_OP_RESHAPE, &p.id, 1, hv[k].id, NULL)))
      return st;
  }
  lo_val xs, h = hv[0], c = hv[1];
  if ((st = lo_layout(L, n, X, LY_PLAIN, &xs))) return st;
  int ys[NN_MAX_NODE_IO], n_y = 0;
  int64_t y1[4] = {1, 1, B, H};
  for (int64_t t = 0; t < T; t++) {
    lo_val xt, x2, z, g, gate[4], act[4], fc, ic, cn, tc, hn;
    int64_t b[3] = {t, 0, 0}, e[3] = {t + 1, B, I}, bi[2] = {B, I}, bz[2] = {B, I + H},
            bg[2] = {B, 4 * H};
    if ((st = emit_slice(L, n, &xs, b, e, lo_name(L, n->name, "xt"), &xt)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "x2"), 2, bi, LY_PLAIN, &x2)) ||
        (st = lo_node(L, n, NN_OP_RESHAPE, &xt.id, 1, x2.id, NULL)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "z"), 2, bz, LY_PLAIN, &z)))
      return st;
    int cin[2] = {x2.id, h.id};
    nn_attr at = nn_attr_default();
    at.axis = 1;
    if ((st = lo_node(L, n, NN_OP_CONCAT, cin, 2, z.id, &at)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "g"), 2, bg, LY_PLAIN, &g)))
      return st;
    int fin[3] = {z.id, wid, bid};
    if ((st = lo_node(L, n, NN_OP_FULLY_CONNECTED, fin, 3, g.id, NULL))) return st;
    for (int k = 0; k < 4; k++) {
      int64_t gb[2] = {0, k * H}, ge[2] = {B, (k + 1) * H};
      if ((st = emit_slice(L, n, &g, gb, ge, lo_name(L, n->name, "gs"), &gate[k])) ||
          (st = lo_new_dyn(L, lo_name(L, n->name, "ga"), 2, bh, LY_PLAIN, &act[k])) ||
          (st =
               lo_node(L, n, k == 3 ? NN_OP_TANH : NN_OP_SIGMOID, &gate[k].id, 1, act[k].id, NULL)))
        return st;
    }
    /* act: 0 i, 1 o, 2 f, 3 c~ */
    int m1[2] = {act[2].id, c.id}, m2[2] = {act[0].id, act[3].id};
    if ((st = lo_new_dyn(L, lo_name(L, n->name, "fc"), 2, bh, LY_PLAIN, &fc)) ||
        (st = lo_node(L, n, NN_OP_MUL, m1, 2, fc.id, NULL)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "ic"), 2, bh, LY_PLAIN, &ic)) ||
        (st = lo_node(L, n, NN_OP_MUL, m2, 2, ic.id, NULL)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "c"), 2, bh, LY_PLAIN, &cn)))
      return st;
    int ad[2] = {fc.id, ic.id};
    if ((st = lo_node(L, n, NN_OP_ADD, ad, 2, cn.id, NULL)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "tc"), 2, bh, LY_PLAIN, &tc)) ||
        (st = lo_node(L, n, NN_OP_TANH, &cn.id, 1, tc.id, NULL)) ||
        (st = lo_new_dyn(L, lo_name(L, n->name, "h"), 2, bh, LY_PLAIN, &hn)))
      return st;
    int m3[2] = {act[1].id, tc.id};
    if ((st = lo_node(L, n, NN_OP_MUL, m3, 2, hn.id, NULL))) return st;
    h = hn;
    c = cn;
    if (n->n_out > 0 && n->out[0][0] && T <= NN_MAX_NODE_IO) ys[n_y++] = h.id;
  }
  if (n->n_out > 0 && n->out[0][0]) {
    if (T > NN_MAX_NODE_IO)
      return LO_FAIL(EMO_EUNSUPPORTED, "output Y for more than %d steps", NN_MAX_NODE_IO);
    lo_val y;
    int64_t yd[4] = {T, 1, B, H};
    (void)y1;
    if ((st = lo_new_dyn(L, n->out[0], 4, yd, LY_PLAIN, &y))) return st;
    if (T == 1) {
      if ((st = lo_node(L, n, NN_OP_RESHAPE, ys, 1, y.id, NULL))) return st;
    } else {
      nn_attr at = nn_attr_default();
      at.axis = 0; /* (B, H) rows stacked: T*B rows, then viewed as (T, 1, B, H) */
      lo_val cat;
      int64_t cd[2] = {T * B, H};
      if ((st = lo_new_dyn(L, lo_name(L, n->name, "y"), 2, cd, LY_PLAIN, &cat)) ||
          (st = lo_node(L, n, NN_OP_CONCAT, ys, n_y, cat.id, &at)) ||
          (st = lo_node(L, n, NN_OP_RESHAPE, &cat.id, 1, y.id, NULL)))
        return st;
    }
    if ((st = lo_bind(L, n->out[0], &y))) return st;
  }
  lo_val *fin2[2] = {&h, &c};
  for (int k = 1; k < 3 && k < n->n_out; k++) {
    if (!n->out[k][0]) continue;
    lo_val o;
    int64_t od[3] = {1, B, H};
    if ((st = lo_new_dyn(L, n->out[k], 3, od, LY_PLAIN, &o)) ||
        (st = lo_node(L, n, NN_OP_RESHAPE, &fin2[k - 1]->id, 1, o.id, NULL)) ||
        (st = lo_bind(L, n->out[k], &o)))
      return st;
  }
  return EMO_OK;
}

static int lower_graph(lo_ctx *L, const onnx_graph *gr, int depth);

static int lower_if(lo_ctx *L, const onnx_node *n, lo_val **in, int depth) {
  if (!in[0] || !in[0]->c || in[0]->c->numel != 1)
    return LO_FAIL(EMO_EUNSUPPORTED,
                   "condition is not a load-time constant (data-dependent control flow)");
  int cond = tget(in[0]->c, 0) != 0;
  const onnx_attr *a = lo_attr(n, cond ? "then_branch" : "else_branch");
  if (!a || a->type != ONNX_ATTR_GRAPH || !a->g) return LO_FAIL(EMO_EMODEL, "branch graph missing");
  const onnx_graph *b = a->g;
  if (b->n_outputs != n->n_out)
    return LO_FAIL(EMO_EMODEL, "branch has %d outputs for %d", b->n_outputs, n->n_out);
  int st = lower_graph(L, b, depth + 1);
  if (st) return st;
  for (int k = 0; k < n->n_out; k++) {
    lo_val *v = lo_find(L, b->outputs[k].name);
    if (!v) return LO_FAIL(EMO_EMODEL, "branch output '%s' undefined", b->outputs[k].name);
    lo_val copy = *v;
    if ((st = lo_bind(L, n->out[k], &copy))) return st;
  }
  return EMO_OK;
}

static int lower_node(lo_ctx *L, const onnx_node *n, int depth) {
  if (++L->n_nodes_seen > LO_MAX_NODES)
    return emoi_fail(L->err, EMO_ELIMIT, "%s: more than %d nodes after inlining", L->src,
                     LO_MAX_NODES);
  if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
    return LO_FAIL(EMO_EUNSUPPORTED, "op domain '%s'", n->domain);
  lo_val *in[NN_MAX_NODE_IO] = {0};
  if (n->n_in > NN_MAX_NODE_IO) return LO_FAIL(EMO_EUNSUPPORTED, "%d inputs", n->n_in);
  int st;
  for (int k = 0; k < n->n_in; k++)
    if ((st = lo_in(L, n, k, &in[k], 0))) return st;
  const char *op = n->op_type;
  if (!strcmp(op, "If")) return lower_if(L, n, in, depth);
  if (n->n_out < 1 || (!n->out[0][0] && strcmp(op, "LSTM")))
    return LO_FAIL(EMO_EMODEL, "no output");
  int done;
  if ((st = fold_const(L, n, in, &done)) || done) return st;
  if (!in[0] && strcmp(op, "Constant")) return LO_FAIL(EMO_EMODEL, "input 0 missing");
  if (!strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
      !strcmp(op, "Flatten"))
    return lower_reshape(L, n, in);
  if (!strcmp(op, "Slice")) return lower_slice(L, n, in);
  if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) return lo_bind(L, n->out[0], in[0]);
  if (!strcmp(op, "Cast")) {
    if (attr_i(n, "to", 0) != ONNX_FLOAT)
      return LO_FAIL(EMO_EUNSUPPORTED, "Cast of activations to a non-float type");
    return lo_bind(L, n->out[0], in[0]);
  }
  if (!strcmp(op, "Gather")) return lower_gather(L, n, in);
  if (!strcmp(op, "Conv")) return lower_conv(L, n, in);
  if (!strcmp(op, "Relu")) return lower_unary(L, n, in, NN_OP_RELU);
  if (!strcmp(op, "Sigmoid")) return lower_unary(L, n, in, NN_OP_SIGMOID);
  if (!strcmp(op, "Tanh")) return lower_unary(L, n, in, NN_OP_TANH);
  if (!strcmp(op, "Sqrt")) return lower_unary(L, n, in, NN_OP_SQRT);
  if (!strcmp(op, "Add")) return lower_binary(L, n, in, NN_OP_ADD);
  if (!strcmp(op, "Sub")) return lower_binary(L, n, in, NN_OP_SUB);
  if (!strcmp(op, "Mul")) return lower_binary(L, n, in, NN_OP_MUL);
  if (!strcmp(op, "Div")) return lower_binary(L, n, in, NN_OP_DIV);
  if (!strcmp(op, "Max"))
    return n->n_in == 2 ? lower_binary(L, n, in, NN_OP_MAXIMUM)
                        : LO_FAIL(EMO_EUNSUPPORTED, "Max of %d inputs", n->n_in);
  if (!strcmp(op, "Min"))
    return n->n_in == 2 ? lower_binary(L, n, in, NN_OP_MINIMUM)
                        : LO_FAIL(EMO_EUNSUPPORTED, "Min of %d inputs", n->n_in);
  if (!strcmp(op, "Pow")) return lower_pow(L, n, in);
  if (!strcmp(op, "Pad")) return lower_pad(L, n, in);
  if (!strcmp(op, "Concat")) return lower_concat(L, n, in);
  if (!strcmp(op, "ReduceMean")) return lower_reducemean(L, n, in);
  if (!strcmp(op, "LSTM")) return lower_lstm(L, n, in);
  return LO_FAIL(EMO_EUNSUPPORTED, "op %s is not supported", op);
}

static int lower_graph(lo_ctx *L, const onnx_graph *gr, int depth) {
  if (depth > NN_ONNX_MAX_DEPTH)
    return emoi_fail(L->err, EMO_ELIMIT, "%s: subgraphs too deep", L->src);
  int st;
  for (int i = 0; i < gr->n_inits; i++) {
    lo_val v;
    memset(&v, 0, sizeof v);
    v.c = &gr->inits[i];
    v.id = -1;
    if ((st = lo_bind(L, gr->inits[i].name, &v))) return st;
  }
  for (int i = 0; i < gr->n_nodes; i++)
    if ((st = lower_node(L, &gr->nodes[i], depth))) return st;
  return EMO_OK;
}

int nn_onnx_load_ex(const void *data, size_t size, const char *source, const nn_onnx_options *opt,
                    nn_graph **out, emoi_err *err) {
  const char *src = source ? source : "(onnx)";
  if (!out) return emoi_fail(err, EMO_EINVAL, "nn_onnx_load: out is NULL");
  *out = NULL;
  onnx_model *m = NULL;
  int st = nn_onnx_parse(data, size, src, &m, err);
  if (st) return st;
  lo_ctx L;
  memset(&L, 0, sizeof L);
  L.src = src;
  L.err = err;
  const onnx_graph *gr = m->graph;
  int ins[NN_MAX_GRAPH_IO], n_ins = 0, outs[NN_MAX_GRAPH_IO], n_outs = 0;
  if ((st = nn_graph_create(src, &L.g, err))) goto done;
  /* graph inputs (those not given by an initializer) */
  for (int i = 0; i < gr->n_inputs; i++) {
    const onnx_vinfo *vi = &gr->inputs[i];
    int is_init = 0;
    for (int k = 0; k < gr->n_inits && !is_init; k++)
      is_init = !strcmp(gr->inits[k].name, vi->name);
    if (is_init) continue;
    lo_val v;
    memset(&v, 0, sizeof v);
    v.id = -1;
    int frozen = 0;
    for (int k = 0; opt && k < opt->n_consts && k < NN_MAX_GRAPH_IO; k++)
      if (opt->consts[k].name && !strcmp(opt->consts[k].name, vi->name)) {
        v.c = lo_tensor(&L, ONNX_INT64, 0, NULL);
        if (!v.c) {
          st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
          goto done;
        }
        v.c->i[0] = opt->consts[k].value;
        frozen = 1;
      }
    if (!frozen) {
      if (vi->elem_type != ONNX_FLOAT) {
        st = emoi_fail(err, EMO_EUNSUPPORTED,
                       "%s: input '%s' has type %d (only float32 inputs; freeze integer inputs "
                       "with nn_onnx_options)",
                       src, vi->name, vi->elem_type);
        goto done;
      }
      if (vi->rank < 0) {
        st = emoi_fail(err, EMO_EUNSUPPORTED, "%s: input '%s' has no shape", src, vi->name);
        goto done;
      }
      v.rank = vi->rank;
      for (int d = 0; d < vi->rank; d++) v.shape[d] = vi->dims[d] > 0 ? vi->dims[d] : 1;
      for (int k = 0; opt && k < opt->n_shapes && k < NN_MAX_GRAPH_IO; k++)
        if (opt->shapes[k].name && !strcmp(opt->shapes[k].name, vi->name)) {
          if (opt->shapes[k].rank != vi->rank) {
            st = emoi_fail(err, EMO_EINVAL, "%s: input '%s' has rank %d, option gives %d", src,
                           vi->name, vi->rank, opt->shapes[k].rank);
            goto done;
          }
          memcpy(v.shape, opt->shapes[k].dims, sizeof v.shape);
        }
      if (n_ins >= NN_MAX_GRAPH_IO) {
        st = emoi_fail(err, EMO_EUNSUPPORTED, "%s: more than %d inputs", src, NN_MAX_GRAPH_IO);
        goto done;
      }
      if ((v.id = nn_graph_add_value(L.g, vi->name, NN_F32, v.rank, v.shape, err)) < 0) {
        st = v.id;
        goto done;
      }
      ins[n_ins++] = v.id;
    }
    if ((st = lo_bind(&L, vi->name, &v))) goto done;
  }
  if ((st = lower_graph(&L, gr, 0))) goto done;
  if (gr->n_outputs < 1 || gr->n_outputs > NN_MAX_GRAPH_IO) {
    st = emoi_fail(err, EMO_EUNSUPPORTED, "%s: %d outputs (1..%d)", src, gr->n_outputs,
                   NN_MAX_GRAPH_IO);
    goto done;
  }
  for (int i = 0; i < gr->n_outputs; i++) {
    lo_val *v = lo_find(&L, gr->outputs[i].name);
    if (!v) {
      st =
          emoi_fail(err, EMO_EMODEL, "%s: output '%s' is never computed", src, gr->outputs[i].name);
      goto done;
    }
    if (v->c) {
      st = emoi_fail(err, EMO_EUNSUPPORTED, "%s: output '%s' is a constant", src,
                     gr->outputs[i].name);
      goto done;
    }
    lo_val p = *v;
    onnx_node fake;
    memset(&fake, 0, sizeof fake);
    fake.name = gr->outputs[i].name;
    fake.op_type = "output";
    if ((st = lo_layout(&L, &fake, v, LY_PLAIN, &p))) goto done;
    /* a value already used as an input or output gets a copy so ids stay distinct */
    int dup = 0;
    for (int k = 0; k < n_ins; k++) dup |= ins[k] == p.id;
    for (int k = 0; k < n_outs; k++) dup |= outs[k] == p.id;
    if (dup) {
      lo_val c;
      if ((st = lo_new_dyn(&L, lo_name(&L, gr->outputs[i].name, "o"), p.rank, p.shape, LY_PLAIN,
                           &c)) ||
          (st = lo_node(&L, &fake, NN_OP_RESHAPE, &p.id, 1, c.id, NULL)))
        goto done;
      p = c;
    }
    outs[n_outs++] = p.id;
  }
  if ((st = nn_graph_set_io(L.g, ins, n_ins, outs, n_outs, err))) goto done;
  if ((st = nn_graph_finalize(L.g, err))) goto done;
  *out = L.g;
  L.g = NULL;
done:
  nn_graph_destroy(&L.g);
  free(L.vals);
  nn_onnx_arena_free(L.arena);
  nn_onnx_free(&m);
  return st;
}

int nn_onnx_load(const void *data, size_t size, const char *source, nn_graph **out, emoi_err *err) {
  return nn_onnx_load_ex(data, size, source, NULL, out, err);
}
