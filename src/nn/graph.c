/* graph.c: building and checking emo's internal network graph (nn.h): value, constant and
 * node storage, name strings, the 64-byte aligned weight blob, and nn_graph_finalize, which
 * sorts the nodes topologically, drops nodes no graph output depends on, infers every
 * activation shape, resolves TensorFlow SAME padding into explicit pads, normalises
 * negative axes, and checks that shapes and dtypes agree.
 *
 * What it leaves to others: parsing model files (the readers), running nodes (plan.c,
 * ops_ref.c, backend_xnn.c).
 *
 * Shape rules follow TensorFlow/TFLite: conv/pool output sizes as in
 * tensorflow/core/framework/kernel_shape_util (VALID: ceil((in - eff_k + 1) / s), SAME:
 * ceil(in / s), eff_k = (k - 1) * d + 1), numpy broadcasting for binary ops. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

#define NN_MAX_NUMEL ((int64_t)1 << 31) /* largest tensor, in elements */
#define NN_MAX_COUNT (1 << 24)          /* most values / nodes in one graph */
#define NN_BLOB_ALIGN 64
#define NN_BLOB_SLACK 64 /* readable bytes after each constant (XNNPACK reads ahead) */
#define NN_MAX_BLOB ((size_t)1 << 32)

static const char *const op_names[NN_OP_COUNT] = {"CONV2D",
                                                  "DEPTHWISE_CONV2D",
                                                  "FULLY_CONNECTED",
                                                  "ADD",
                                                  "SUB",
                                                  "MUL",
                                                  "DIV",
                                                  "MAXIMUM",
                                                  "MINIMUM",
                                                  "RELU",
                                                  "RELU6",
                                                  "SIGMOID",
                                                  "TANH",
                                                  "LEAKY_RELU",
                                                  "PRELU",
                                                  "SOFTMAX",
                                                  "MAX_POOL2D",
                                                  "AVG_POOL2D",
                                                  "MEAN",
                                                  "PAD",
                                                  "RESHAPE",
                                                  "CONCAT",
                                                  "RESIZE_BILINEAR",
                                                  "SLICE",
                                                  "SQRT",
                                                  "TRANSPOSE"};

const char *nn_op_name(nn_op op) {
  if ((int)op < 0 || op >= NN_OP_COUNT) return "UNKNOWN_OP";
  return op_names[op];
}

nn_attr nn_attr_default(void) {
  nn_attr a;
  memset(&a, 0, sizeof a);
  a.stride_h = a.stride_w = 1;
  a.dilation_h = a.dilation_w = 1;
  a.kernel_h = a.kernel_w = 1;
  a.padding = NN_PAD_VALID;
  a.act_min = -INFINITY;
  a.act_max = INFINITY;
  a.axis = 0;
  a.alpha = 0.2f;
  return a;
}

int64_t nn_value_numel(const nn_value *v) {
  int64_t n = 1;
  for (int i = 0; i < v->rank; i++) n *= v->shape[i];
  return n;
}

static size_t dtype_size(nn_dtype t) {
  (void)t; /* NN_F32 and NN_I32 are both 4 bytes */
  return 4;
}

/* Checks a shape (rank, dims; -1 allowed when allow_unknown) and its element count. */
static int check_shape(const char *source, const char *what, const char *name, int rank,
                       const int64_t *shape, int allow_unknown, emoi_err *err) {
  if (rank < 0 || rank > NN_MAX_RANK)
    return emoi_fail(err, EMO_ELIMIT, "%s: %s '%s': rank %d outside 0..%d", source, what, name,
                     rank, NN_MAX_RANK);
  if (rank > 0 && !shape)
    return emoi_fail(err, EMO_EINVAL, "%s: %s '%s': no shape", source, what, name);
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    int64_t d = shape[i];
    if (d == -1 && allow_unknown) continue;
    if (d < 0)
      return emoi_fail(err, EMO_EMODEL, "%s: %s '%s': dimension %d is %lld", source, what, name, i,
                       (long long)d);
    if (d > NN_MAX_NUMEL || (n *= d) > NN_MAX_NUMEL)
      return emoi_fail(err, EMO_ELIMIT, "%s: %s '%s': more than 2^31 elements", source, what, name);
  }
  return EMO_OK;
}

int nn_graph_create(const char *source, nn_graph **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "nn_graph_create: out is NULL");
  *out = NULL;
  nn_graph *g = calloc(1, sizeof *g);
  if (!g) return emoi_fail(err, EMO_ENOMEM, "nn_graph_create: out of memory");
  snprintf(g->source, sizeof g->source, "%s", source ? source : "(graph)");
  *out = g;
  return EMO_OK;
}

void nn_graph_destroy(nn_graph **pg) {
  if (!pg || !*pg) return;
  nn_graph *g = *pg;
  free(g->values);
  free(g->nodes);
  free(g->blob);
  free(g->strings);
  free(g);
  *pg = NULL;
}

/* Copies name into the string storage and returns a pointer to the copy. When the storage
 * grows, every stored name pointer is moved to the new allocation, so names stay valid for
 * the graph's life. */
static const char *store_name(nn_graph *g, const char *name, emoi_err *err, int *status) {
  if (!name) name = "";
  size_t len = strlen(name);
  if (len > 4096) len = 4096; /* names are for messages and lookups; keep them bounded */
  if (g->strings_size + len + 1 > g->strings_cap) {
    size_t cap = g->strings_cap ? g->strings_cap : 4096;
    while (cap < g->strings_size + len + 1) {
      if (cap > ((size_t)1 << 30)) {
        *status = emoi_fail(err, EMO_ELIMIT, "%s: names take more than 1 GiB", g->source);
        return NULL;
      }
      cap *= 2;
    }
    char *ns = malloc(cap);
    if (!ns) {
      *status = emoi_fail(err, EMO_ENOMEM, "%s: out of memory for names", g->source);
      return NULL;
    }
    if (g->strings_size) memcpy(ns, g->strings, g->strings_size);
    for (int i = 0; i < g->n_values; i++) g->values[i].name = ns + (g->values[i].name - g->strings);
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].name = ns + (g->nodes[i].name - g->strings);
    /* name may point into the old storage: copy before freeing it */
    memcpy(ns + g->strings_size, name, len);
    ns[g->strings_size + len] = 0;
    free(g->strings);
    g->strings = ns;
    g->strings_cap = cap;
  } else {
    memmove(g->strings + g->strings_size, name, len);
    g->strings[g->strings_size + len] = 0;
  }
  const char *s = g->strings + g->strings_size;
  g->strings_size += len + 1;
  *status = EMO_OK;
  return s;
}

static int grow_values(nn_graph *g, emoi_err *err) {
  if (g->n_values < g->cap_values) return EMO_OK;
  if (g->cap_values >= NN_MAX_COUNT)
    return emoi_fail(err, EMO_ELIMIT, "%s: more than %d values", g->source, NN_MAX_COUNT);
  int cap = g->cap_values ? g->cap_values * 2 : 64;
  nn_value *v = realloc(g->values, (size_t)cap * sizeof *v);
  if (!v) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory for values", g->source);
  g->values = v;
  g->cap_values = cap;
  return EMO_OK;
}

static int new_value(nn_graph *g, const char *name, nn_dtype dtype, int rank, const int64_t *shape,
                     int is_const, emoi_err *err) {
  if (!g) return emoi_fail(err, EMO_EINVAL, "nn_graph: graph is NULL");
  const char *what = is_const ? "constant" : "value";
  if (g->finalized)
    return emoi_fail(err, EMO_EINVAL, "%s: %s '%s' added after finalize", g->source, what,
                     name ? name : "");
  if ((int)dtype < 0 || dtype >= NN_DTYPE_COUNT)
    return emoi_fail(err, EMO_EMODEL, "%s: %s '%s': unknown dtype %d", g->source, what,
                     name ? name : "", (int)dtype);
  int st = check_shape(g->source, what, name ? name : "", rank, shape, !is_const, err);
  if (st) return st;
  if ((st = grow_values(g, err))) return st;
  const char *s = store_name(g, name, err, &st);
  if (!s) return st;
  nn_value *v = &g->values[g->n_values];
  memset(v, 0, sizeof *v);
  v->name = s;
  v->dtype = dtype;
  v->rank = rank;
  for (int i = 0; i < NN_MAX_RANK; i++) v->shape[i] = i < rank ? shape[i] : 0;
  v->is_const = is_const;
  return g->n_values++;
}

int nn_graph_add_value(nn_graph *g, const char *name, nn_dtype dtype, int rank,
                       const int64_t *shape, emoi_err *err) {
  return new_value(g, name, dtype, rank, shape, 0, err);
}

int nn_graph_add_const(nn_graph *g, const char *name, nn_dtype dtype, int rank,
                       const int64_t *shape, const void *data, size_t nbytes, emoi_err *err) {
  if (!g) return emoi_fail(err, EMO_EINVAL, "nn_graph_add_const: graph is NULL");
  int st = check_shape(g->source, "constant", name ? name : "", rank, shape, 0, err);
  if (st) return st;
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) numel *= shape[i];
  if ((int)dtype >= 0 && dtype < NN_DTYPE_COUNT && (uint64_t)numel * dtype_size(dtype) != nbytes)
    return emoi_fail(err, EMO_EMODEL, "%s: constant '%s': %zu bytes for %lld elements", g->source,
                     name ? name : "", nbytes, (long long)numel);
  size_t off = (g->blob_size + NN_BLOB_ALIGN - 1) & ~(size_t)(NN_BLOB_ALIGN - 1);
  if (off > NN_MAX_BLOB || nbytes > NN_MAX_BLOB - off)
    return emoi_fail(err, EMO_ELIMIT, "%s: constant '%s': weights exceed 4 GiB", g->source,
                     name ? name : "");
  size_t need = off + nbytes + NN_BLOB_SLACK;
  if (need > g->blob_cap) {
    size_t cap = g->blob_cap ? g->blob_cap : 65536;
    while (cap < need) cap *= 2;
    /* aligned_alloc + copy rather than realloc: realloc would not keep 64-byte alignment */
    unsigned char *nb = aligned_alloc(NN_BLOB_ALIGN, cap);
    if (!nb)
      return emoi_fail(err, EMO_ENOMEM, "%s: constant '%s': out of memory (%zu bytes)", g->source,
                       name ? name : "", cap);
    if (g->blob_size) memcpy(nb, g->blob, g->blob_size);
    free(g->blob);
    g->blob = nb;
    g->blob_cap = cap;
  }
  int id = new_value(g, name, dtype, rank, shape, 1, err);
  if (id < 0) return id;
  if (off > g->blob_size) memset(g->blob + g->blob_size, 0, off - g->blob_size);
  if (data && nbytes)
    memcpy(g->blob + off, data, nbytes);
  else if (nbytes)
    memset(g->blob + off, 0, nbytes);
  memset(g->blob + off + nbytes, 0, NN_BLOB_SLACK);
  g->blob_size = off + nbytes;
  g->values[id].const_offset = off;
  g->values[id].const_bytes = nbytes;
  return id;
}

void *nn_graph_const_data(const nn_graph *g, int value_id) {
  if (!g || value_id < 0 || value_id >= g->n_values || !g->values[value_id].is_const) return NULL;
  return g->blob + g->values[value_id].const_offset;
}

int nn_graph_add_node(nn_graph *g, nn_op op, const int *in, int n_in, const int *out, int n_out,
                      const nn_attr *attr, const char *name, emoi_err *err) {
  if (!g) return emoi_fail(err, EMO_EINVAL, "nn_graph_add_node: graph is NULL");
  const char *nm = name ? name : "";
  if (g->finalized)
    return emoi_fail(err, EMO_EINVAL, "%s: node '%s' added after finalize", g->source, nm);
  if ((int)op < 0 || op >= NN_OP_COUNT)
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: node '%s': unknown op %d", g->source, nm, (int)op);
  if (n_in < 0 || n_in > NN_MAX_NODE_IO || n_out < 1 || n_out > NN_MAX_NODE_IO || (n_in && !in) ||
      !out)
    return emoi_fail(err, EMO_EMODEL, "%s: node '%s' (%s): %d inputs, %d outputs", g->source, nm,
                     nn_op_name(op), n_in, n_out);
  for (int i = 0; i < n_in; i++)
    if (in[i] < -1 || in[i] >= g->n_values)
      return emoi_fail(err, EMO_EMODEL, "%s: node '%s' (%s): input %d is value %d of %d", g->source,
                       nm, nn_op_name(op), i, in[i], g->n_values);
  for (int i = 0; i < n_out; i++)
    if (out[i] < 0 || out[i] >= g->n_values)
      return emoi_fail(err, EMO_EMODEL, "%s: node '%s' (%s): output %d is value %d of %d",
                       g->source, nm, nn_op_name(op), i, out[i], g->n_values);
  if (g->n_nodes >= g->cap_nodes) {
    if (g->cap_nodes >= NN_MAX_COUNT)
      return emoi_fail(err, EMO_ELIMIT, "%s: more than %d nodes", g->source, NN_MAX_COUNT);
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
    nn_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
    if (!nn) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory for nodes", g->source);
    g->nodes = nn;
    g->cap_nodes = cap;
  }
  int st;
  const char *s = store_name(g, nm, err, &st);
  if (!s) return st;
  nn_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->n_in = n_in;
  n->n_out = n_out;
  for (int i = 0; i < NN_MAX_NODE_IO; i++) {
    n->in[i] = i < n_in ? in[i] : -1;
    n->out[i] = i < n_out ? out[i] : -1;
  }
  n->attr = attr ? *attr : nn_attr_default();
  n->name = s;
  return g->n_nodes++;
}

int nn_graph_set_io(nn_graph *g, const int *inputs, int n_inputs, const int *outputs, int n_outputs,
                    emoi_err *err) {
  if (!g) return emoi_fail(err, EMO_EINVAL, "nn_graph_set_io: graph is NULL");
  if (n_inputs < 0 || n_inputs > NN_MAX_GRAPH_IO || n_outputs < 1 || n_outputs > NN_MAX_GRAPH_IO ||
      (n_inputs && !inputs) || !outputs)
    return emoi_fail(err, EMO_EMODEL, "%s: %d graph inputs, %d outputs (at most %d each)",
                     g->source, n_inputs, n_outputs, NN_MAX_GRAPH_IO);
  for (int i = 0; i < n_inputs; i++)
    if (inputs[i] < 0 || inputs[i] >= g->n_values || g->values[inputs[i]].is_const)
      return emoi_fail(err, EMO_EMODEL, "%s: graph input %d is not an activation value", g->source,
                       i);
  for (int i = 0; i < n_outputs; i++)
    if (outputs[i] < 0 || outputs[i] >= g->n_values || g->values[outputs[i]].is_const)
      return emoi_fail(err, EMO_EMODEL, "%s: graph output %d is not an activation value", g->source,
                       i);
  g->n_inputs = n_inputs;
  g->n_outputs = n_outputs;
  for (int i = 0; i < n_inputs; i++) g->inputs[i] = inputs[i];
  for (int i = 0; i < n_outputs; i++) g->outputs[i] = outputs[i];
  return EMO_OK;
}

int nn_graph_find(const nn_graph *g, const char *name) {
  if (!g || !name) return -1;
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].name && strcmp(g->values[i].name, name) == 0) return i;
  return -1;
}

/* ---- finalize ------------------------------------------------------------------------ */

/* Min-heap of node indices, so that a graph already in order keeps its order. */
static void heap_push(int *h, int *n, int x) {
  int i = (*n)++;
  h[i] = x;
  while (i > 0 && h[(i - 1) / 2] > h[i]) {
    int p = (i - 1) / 2, t = h[p];
    h[p] = h[i];
    h[i] = t;
    i = p;
  }
}

static int heap_pop(int *h, int *n) {
  int top = h[0];
  h[0] = h[--(*n)];
  int i = 0;
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < *n && h[l] < h[m]) m = l;
    if (r < *n && h[r] < h[m]) m = r;
    if (m == i) break;
    int t = h[m];
    h[m] = h[i];
    h[i] = t;
    i = m;
  }
  return top;
}

/* Sorts nodes topologically and drops those no graph output needs. */
static int sort_nodes(nn_graph *g, emoi_err *err) {
  int nv = g->n_values, nn = g->n_nodes, st = EMO_OK;
  int *producer = malloc((size_t)(nv ? nv : 1) * sizeof(int));
  char *needed_v = calloc((size_t)(nv ? nv : 1), 1);
  char *needed_n = calloc((size_t)(nn ? nn : 1), 1);
  char *is_input = calloc((size_t)(nv ? nv : 1), 1);
  int *stack = malloc((size_t)(nv ? nv : 1) * sizeof(int));
  int *cons_start = calloc((size_t)nv + 1, sizeof(int));
  int *cons = NULL, *indeg = NULL, *heap = NULL, *order = NULL;
  if (!producer || !needed_v || !needed_n || !is_input || !stack || !cons_start) goto oom;
  for (int i = 0; i < nv; i++) producer[i] = -1;
  for (int i = 0; i < g->n_inputs; i++) is_input[g->inputs[i]] = 1;
  for (int k = 0; k < nn; k++) {
    const nn_node *n = &g->nodes[k];
    for (int j = 0; j < n->n_out; j++) {
      int v = n->out[j];
      if (g->values[v].is_const || is_input[v]) {
        st = emoi_fail(err, EMO_EMODEL, "%s: node '%s' (%s): writes %s '%s'", g->source, n->name,
                       nn_op_name(n->op), g->values[v].is_const ? "constant" : "graph input",
                       g->values[v].name);
        goto done;
      }
      if (producer[v] >= 0) {
        st = emoi_fail(err, EMO_EMODEL, "%s: node '%s' (%s): value '%s' is also written by '%s'",
                       g->source, n->name, nn_op_name(n->op), g->values[v].name,
                       g->nodes[producer[v]].name);
        goto done;
      }
      producer[v] = k;
    }
  }
  /* walk back from the outputs */
  int sp = 0;
  for (int i = 0; i < g->n_outputs; i++) {
    int v = g->outputs[i];
    if (!needed_v[v]) {
      needed_v[v] = 1;
      stack[sp++] = v;
    }
  }
  while (sp > 0) {
    int v = stack[--sp];
    int k = producer[v];
    if (k < 0) {
      if (!g->values[v].is_const && !is_input[v]) {
        st = emoi_fail(err, EMO_EMODEL, "%s: value '%s' is needed but no node computes it",
                       g->source, g->values[v].name);
        goto done;
      }
      continue;
    }
    if (needed_n[k]) continue;
    needed_n[k] = 1;
    const nn_node *n = &g->nodes[k];
    for (int j = 0; j < n->n_in; j++) {
      int u = n->in[j];
      if (u >= 0 && !needed_v[u]) {
        needed_v[u] = 1;
        stack[sp++] = u;
      }
    }
  }
  /* consumers of each value (CSR), among needed nodes */
  int total = 0;
  for (int k = 0; k < nn; k++)
    if (needed_n[k])
      for (int j = 0; j < g->nodes[k].n_in; j++)
        if (g->nodes[k].in[j] >= 0) {
          cons_start[g->nodes[k].in[j] + 1]++;
          total++;
        }
  for (int i = 0; i < nv; i++) cons_start[i + 1] += cons_start[i];
  cons = malloc((size_t)(total ? total : 1) * sizeof(int));
  indeg = calloc((size_t)(nn ? nn : 1), sizeof(int));
  heap = malloc((size_t)(nn ? nn : 1) * sizeof(int));
  order = malloc((size_t)(nn ? nn : 1) * sizeof(int));
  int *fill = stack; /* reuse: per-value fill position */
  if (!cons || !indeg || !heap || !order) goto oom;
  for (int i = 0; i < nv; i++) fill[i] = cons_start[i];
  for (int k = 0; k < nn; k++) {
    if (!needed_n[k]) continue;
    for (int j = 0; j < g->nodes[k].n_in; j++) {
      int u = g->nodes[k].in[j];
      if (u < 0) continue;
      cons[fill[u]++] = k;
      if (producer[u] >= 0) indeg[k]++;
    }
  }
  int hn = 0, n_needed = 0, n_order = 0;
  for (int k = 0; k < nn; k++)
    if (needed_n[k]) {
      n_needed++;
      if (indeg[k] == 0) heap_push(heap, &hn, k);
    }
  while (hn > 0) {
    int k = heap_pop(heap, &hn);
    order[n_order++] = k;
    const nn_node *n = &g->nodes[k];
    for (int j = 0; j < n->n_out; j++) {
      int v = n->out[j];
      for (int c = cons_start[v]; c < cons_start[v + 1]; c++)
        if (--indeg[cons[c]] == 0) heap_push(heap, &hn, cons[c]);
    }
  }
  if (n_order != n_needed) {
    for (int k = 0; k < nn; k++)
      if (needed_n[k] && indeg[k] > 0) {
        st = emoi_fail(err, EMO_EMODEL, "%s: node '%s' (%s) is part of a cycle", g->source,
                       g->nodes[k].name, nn_op_name(g->nodes[k].op));
        goto done;
      }
    st = emoi_fail(err, EMO_EINTERNAL, "%s: topological sort failed", g->source);
    goto done;
  }
  {
    nn_node *sorted = malloc((size_t)(n_order ? n_order : 1) * sizeof *sorted);
    if (!sorted) goto oom;
    for (int i = 0; i < n_order; i++) sorted[i] = g->nodes[order[i]];
    free(g->nodes);
    g->nodes = sorted;
    g->n_nodes = n_order;
    g->cap_nodes = n_order ? n_order : 1;
  }
  goto done;
oom:
  st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory in finalize", g->source);
done:
  free(producer);
  free(needed_v);
  free(needed_n);
  free(is_input);
  free(stack);
  free(cons_start);
  free(cons);
  free(indeg);
  free(heap);
  free(order);
  return st;
}

/* Formats "source: node 'name' (OP): " errors. */
#define NODE_FAIL(code, ...) node_fail(g, n, err, code, __VA_ARGS__)
static int node_fail(const nn_graph *g, const nn_node *n, emoi_err *err, int code, const char *fmt,
                     ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int node_fail(const nn_graph *g, const nn_node *n, emoi_err *err, int code, const char *fmt,
                     ...) {
  char what[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return emoi_fail(err, code, "%s: node '%s' (%s): %s", g->source, n->name, nn_op_name(n->op),
                   what);
}

void nn_dims_str(char *buf, size_t cap, const int64_t *dims, int rank) {
  size_t k = 0;
  if (cap) buf[0] = 0;
  for (int i = 0; i < rank && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, i ? ",%lld" : "%lld", (long long)dims[i]);
}

static void shape_str(const int64_t *s, int rank, char *buf, size_t cap) {
  char d[NN_MAX_RANK * 21]; /* 20 characters and a comma a dimension */
  nn_dims_str(d, sizeof d, s, rank);
  snprintf(buf, cap, "(%s)", d);
}

/* Output size of a convolution/pooling window along one axis; fills the pads. */
static int window_out(const nn_graph *g, const nn_node *n, emoi_err *err, const char *axis,
                      int64_t in, int64_t k, int s, int d, nn_padding pad, int *p0, int *p1,
                      int64_t *out) {
  if (k < 1 || s < 1 || d < 1)
    return NODE_FAIL(EMO_EMODEL, "%s: kernel %lld, stride %d, dilation %d must be >= 1", axis,
                     (long long)k, s, d);
  int64_t ek = (k - 1) * (int64_t)d + 1;
  if (ek > INT_MAX)
    return NODE_FAIL(EMO_ELIMIT, "%s: dilated kernel %lld too large", axis, (long long)ek);
  int64_t o;
  if (pad == NN_PAD_SAME) {
    o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + ek - in;
    if (total < 0) total = 0;
    if (total > INT_MAX) return NODE_FAIL(EMO_ELIMIT, "%s: padding too large", axis);
    *p0 = (int)(total / 2);
    *p1 = (int)(total - total / 2);
  } else {
    if (pad == NN_PAD_VALID) {
      *p0 = *p1 = 0;
    } else if (pad != NN_PAD_EXPLICIT) {
      return NODE_FAIL(EMO_EMODEL, "unknown padding mode %d", (int)pad);
    }
    if (*p0 < 0 || *p1 < 0)
      return NODE_FAIL(EMO_EMODEL, "%s: negative padding %d/%d", axis, *p0, *p1);
    int64_t span = in + *p0 + *p1;
    if (span < ek)
      return NODE_FAIL(EMO_EMODEL, "%s: kernel %lld (dilated %lld) larger than padded input %lld",
                       axis, (long long)k, (long long)ek, (long long)span);
    o = (span - ek) / s + 1;
  }
  if (o < 1) return NODE_FAIL(EMO_EMODEL, "%s: empty output", axis);
  *out = o;
  return EMO_OK;
}

/* numpy broadcasting of a and b into out; returns nonzero when incompatible. */
static int broadcast(const nn_value *a, const nn_value *b, int *rank, int64_t *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  for (int i = 0; i < r; i++) {
    int ia = i - (r - a->rank), ib = i - (r - b->rank);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      return 1;
  }
  *rank = r;
  return 0;
}

static int need_f32(const nn_graph *g, const nn_node *n, int slot, emoi_err *err) {
  const nn_value *v = &g->values[n->in[slot]];
  if (v->dtype != NN_F32)
    return NODE_FAIL(EMO_EUNSUPPORTED, "input %d '%s' is not float32", slot, v->name);
  return EMO_OK;
}

/* Infers the output shape of node n into (rank, shape). */
static int infer_node(nn_graph *g, nn_node *n, int *orank, int64_t *oshape, emoi_err *err) {
  nn_attr *a = &n->attr;
  const nn_value *x = n->n_in > 0 && n->in[0] >= 0 ? &g->values[n->in[0]] : NULL;
  int min_in = 1, max_in = 1;
  switch (n->op) {
    case NN_OP_CONV2D:
    case NN_OP_DEPTHWISE_CONV2D:
    case NN_OP_FULLY_CONNECTED:
      min_in = 2;
      max_in = 3;
      break;
    case NN_OP_ADD:
    case NN_OP_SUB:
    case NN_OP_MUL:
    case NN_OP_DIV:
    case NN_OP_MAXIMUM:
    case NN_OP_MINIMUM:
    case NN_OP_PRELU: min_in = max_in = 2; break;
    case NN_OP_MEAN:
    case NN_OP_PAD:
    case NN_OP_RESHAPE:
    case NN_OP_RESIZE_BILINEAR: max_in = 2; break;
    case NN_OP_CONCAT: max_in = NN_MAX_NODE_IO; break;
    default: break;
  }
  if (n->n_in < min_in || n->n_in > max_in)
    return NODE_FAIL(EMO_EMODEL, "%d inputs (expects %d..%d)", n->n_in, min_in, max_in);
  if (n->n_out != 1) return NODE_FAIL(EMO_EMODEL, "%d outputs (expects 1)", n->n_out);
  for (int i = 0; i < min_in; i++)
    if (n->in[i] < 0) return NODE_FAIL(EMO_EMODEL, "required input %d is missing", i);
  if (n->op == NN_OP_CONCAT)
    for (int i = 0; i < n->n_in; i++)
      if (n->in[i] < 0) return NODE_FAIL(EMO_EMODEL, "input %d is missing", i);
  int st;
  if ((st = need_f32(g, n, 0, err))) return st;
  char s1[128], s2[128];

  switch (n->op) {
    case NN_OP_CONV2D:
    case NN_OP_DEPTHWISE_CONV2D: {
      const nn_value *w = &g->values[n->in[1]];
      const nn_value *b = n->n_in > 2 && n->in[2] >= 0 ? &g->values[n->in[2]] : NULL;
      if ((st = need_f32(g, n, 1, err))) return st;
      if (b && (st = need_f32(g, n, 2, err))) return st;
      if (x->rank != 4 || w->rank != 4) {
        shape_str(x->shape, x->rank, s1, sizeof s1);
        shape_str(w->shape, w->rank, s2, sizeof s2);
        return NODE_FAIL(EMO_EMODEL, "input %s and weights %s must both be 4-D", s1, s2);
      }
      int64_t C = x->shape[3], Co;
      if (n->op == NN_OP_CONV2D) {
        if (w->shape[3] != C)
          return NODE_FAIL(EMO_EMODEL, "weights have %lld input channels, input has %lld",
                           (long long)w->shape[3], (long long)C);
        Co = w->shape[0];
      } else {
        if (w->shape[0] != 1)
          return NODE_FAIL(EMO_EMODEL, "depthwise weights must be (1,Kh,Kw,C*M), dim 0 is %lld",
                           (long long)w->shape[0]);
        if (C < 1 || w->shape[3] % C != 0 || w->shape[3] < C)
          return NODE_FAIL(EMO_EMODEL, "weights have %lld channels, not a multiple of input's %lld",
                           (long long)w->shape[3], (long long)C);
        Co = w->shape[3];
      }
      if (Co < 1) return NODE_FAIL(EMO_EMODEL, "no output channels");
      if (b && (b->rank != 1 || b->shape[0] != Co)) {
        shape_str(b->shape, b->rank, s1, sizeof s1);
        return NODE_FAIL(EMO_EMODEL, "bias %s, expected (%lld)", s1, (long long)Co);
      }
      int64_t oh, ow;
      if ((st = window_out(g, n, err, "height", x->shape[1], w->shape[1], a->stride_h,
                           a->dilation_h, a->padding, &a->pad_top, &a->pad_bottom, &oh)))
        return st;
      if ((st = window_out(g, n, err, "width", x->shape[2], w->shape[2], a->stride_w, a->dilation_w,
                           a->padding, &a->pad_left, &a->pad_right, &ow)))
        return st;
      *orank = 4;
      oshape[0] = x->shape[0];
      oshape[1] = oh;
      oshape[2] = ow;
      oshape[3] = Co;
      return EMO_OK;
    }
    case NN_OP_FULLY_CONNECTED: {
      const nn_value *w = &g->values[n->in[1]];
      const nn_value *b = n->n_in > 2 && n->in[2] >= 0 ? &g->values[n->in[2]] : NULL;
      if ((st = need_f32(g, n, 1, err))) return st;
      if (b && (st = need_f32(g, n, 2, err))) return st;
      if (w->rank != 2 || w->shape[0] < 1 || w->shape[1] < 1) {
        shape_str(w->shape, w->rank, s1, sizeof s1);
        return NODE_FAIL(EMO_EMODEL, "weights %s must be (Out,In)", s1);
      }
      int64_t numel = nn_value_numel(x), In = w->shape[1], Out = w->shape[0];
      if (x->rank < 1 || numel % In != 0) {
        shape_str(x->shape, x->rank, s1, sizeof s1);
        return NODE_FAIL(EMO_EMODEL, "input %s does not flatten to rows of %lld (weights' In)", s1,
                         (long long)In);
      }
      if (b && (b->rank != 1 || b->shape[0] != Out)) {
        shape_str(b->shape, b->rank, s1, sizeof s1);
        return NODE_FAIL(EMO_EMODEL, "bias %s, expected (%lld)", s1, (long long)Out);
      }
      *orank = 2;
      oshape[0] = numel / In;
      oshape[1] = Out;
      return EMO_OK;
    }
    case NN_OP_ADD:
    case NN_OP_SUB:
    case NN_OP_MUL:
    case NN_OP_DIV:
    case NN_OP_MAXIMUM:
    case NN_OP_MINIMUM:
    case NN_OP_PRELU: {
      const nn_value *y = &g->values[n->in[1]];
      if ((st = need_f32(g, n, 1, err))) return st;
      if (broadcast(x, y, orank, oshape)) {
        shape_str(x->shape, x->rank, s1, sizeof s1);
        shape_str(y->shape, y->rank, s2, sizeof s2);
        return NODE_FAIL(EMO_EMODEL, "shapes %s and %s do not broadcast", s1, s2);
      }
      if (n->op == NN_OP_PRELU) {
        int same = *orank == x->rank;
        for (int i = 0; same && i < x->rank; i++) same = oshape[i] == x->shape[i];
        if (!same) {
          shape_str(x->shape, x->rank, s1, sizeof s1);
          shape_str(y->shape, y->rank, s2, sizeof s2);
          return NODE_FAIL(EMO_EMODEL, "alpha %s does not broadcast to input %s", s2, s1);
        }
      }
      return EMO_OK;
    }
    case NN_OP_RELU:
    case NN_OP_RELU6:
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_LEAKY_RELU:
    case NN_OP_SQRT:
      *orank = x->rank;
      memcpy(oshape, x->shape, sizeof x->shape);
      return EMO_OK;
    case NN_OP_SOFTMAX:
      if (x->rank < 1) return NODE_FAIL(EMO_EMODEL, "input is a scalar");
      if (!(a->axis == -1 || a->axis == 0 || a->axis == x->rank - 1))
        return NODE_FAIL(EMO_EUNSUPPORTED, "axis %d (only the last axis is supported)", a->axis);
      a->axis = x->rank - 1;
      *orank = x->rank;
      memcpy(oshape, x->shape, sizeof x->shape);
      return EMO_OK;
    case NN_OP_MAX_POOL2D:
    case NN_OP_AVG_POOL2D: {
      if (x->rank != 4) {
        shape_str(x->shape, x->rank, s1, sizeof s1);
        return NODE_FAIL(EMO_EMODEL, "input %s must be 4-D (NHWC)", s1);
      }
      int64_t oh, ow;
      if ((st = window_out(g, n, err, "height", x->shape[1], a->kernel_h, a->stride_h, 1,
                           a->padding, &a->pad_top, &a->pad_bottom, &oh)))
        return st;
      if ((st = window_out(g, n, err, "width", x->shape[2], a->kernel_w, a->stride_w, 1, a->padding,
                           &a->pad_left, &a->pad_right, &ow)))
        return st;
      if (a->pad_top >= a->kernel_h || a->pad_bottom >= a->kernel_h || a->pad_left >= a->kernel_w ||
          a->pad_right >= a->kernel_w)
        return NODE_FAIL(EMO_EUNSUPPORTED, "padding as large as the pooling window");
      *orank = 4;
      oshape[0] = x->shape[0];
      oshape[1] = oh;
      oshape[2] = ow;
      oshape[3] = x->shape[3];
      return EMO_OK;
    }
    case NN_OP_MEAN: {
      if (a->n_axes < 0 || a->n_axes > x->rank)
        return NODE_FAIL(EMO_EMODEL, "%d axes for a rank-%d input", a->n_axes, x->rank);
      int red[NN_MAX_RANK] = {0};
      for (int i = 0; i < a->n_axes; i++) {
        int ax = a->axes[i];
        if (ax < -x->rank || ax >= x->rank)
          return NODE_FAIL(EMO_EMODEL, "axis %d out of range for rank %d", ax, x->rank);
        if (ax < 0) ax += x->rank;
        if (red[ax]) return NODE_FAIL(EMO_EMODEL, "axis %d repeated", ax);
        red[ax] = 1;
      }
      /* normalise: axes ascending, non-negative */
      int k = 0;
      for (int i = 0; i < x->rank; i++)
        if (red[i]) a->axes[k++] = i;
      for (int i = k; i < NN_MAX_RANK; i++) a->axes[i] = 0;
      a->keepdims = a->keepdims ? 1 : 0;
      int r = 0;
      for (int i = 0; i < x->rank; i++) {
        if (!red[i])
          oshape[r++] = x->shape[i];
        else if (a->keepdims)
          oshape[r++] = 1;
        else if (x->shape[i] == 0)
          return NODE_FAIL(EMO_EMODEL, "mean over an empty axis %d", i);
      }
      *orank = r;
      return EMO_OK;
    }
    case NN_OP_PAD: {
      for (int i = 0; i < x->rank; i++) {
        if (a->pads[i][0] < 0 || a->pads[i][1] < 0)
          return NODE_FAIL(EMO_EUNSUPPORTED, "negative padding on dimension %d", i);
        if (a->pads[i][0] > NN_MAX_NUMEL || a->pads[i][1] > NN_MAX_NUMEL)
          return NODE_FAIL(EMO_ELIMIT, "padding on dimension %d too large", i);
        oshape[i] = x->shape[i] + a->pads[i][0] + a->pads[i][1];
      }
      for (int i = x->rank; i < NN_MAX_RANK; i++)
        if (a->pads[i][0] || a->pads[i][1])
          return NODE_FAIL(EMO_EMODEL, "padding on dimension %d of a rank-%d input", i, x->rank);
      *orank = x->rank;
      return EMO_OK;
    }
    case NN_OP_RESHAPE: {
      const nn_value *o = &g->values[n->out[0]];
      int r = o->rank;
      int64_t s[NN_MAX_RANK];
      memcpy(s, o->shape, sizeof s);
      if (r == 0 && n->n_in > 1 && n->in[1] >= 0) {
        /* the reader left the output shape empty: take it from a constant shape input */
        const nn_value *sv = &g->values[n->in[1]];
        if (sv->is_const && sv->dtype == NN_I32 && sv->rank == 1 && sv->shape[0] <= NN_MAX_RANK) {
          const int32_t *d = (const int32_t *)(g->blob + sv->const_offset);
          r = (int)sv->shape[0];
          for (int i = 0; i < r; i++) s[i] = d[i];
        }
      }
      int64_t known = 1, numel = nn_value_numel(x);
      int unk = -1;
      for (int i = 0; i < r; i++) {
        if (s[i] == -1) {
          if (unk >= 0) return NODE_FAIL(EMO_EMODEL, "more than one -1 in the target shape");
          unk = i;
        } else if (s[i] < 0) {
          return NODE_FAIL(EMO_EMODEL, "target dimension %d is %lld", i, (long long)s[i]);
        } else {
          if (s[i] > NN_MAX_NUMEL) return NODE_FAIL(EMO_ELIMIT, "target dimension too large");
          known *= s[i];
          if (known > NN_MAX_NUMEL) return NODE_FAIL(EMO_ELIMIT, "target shape too large");
        }
      }
      if (unk >= 0) {
        if (known == 0 || numel % known != 0) {
          shape_str(x->shape, x->rank, s1, sizeof s1);
          shape_str(s, r, s2, sizeof s2);
          return NODE_FAIL(EMO_EMODEL, "cannot reshape %s to %s", s1, s2);
        }
        s[unk] = numel / known;
      } else if (known != numel) {
        shape_str(x->shape, x->rank, s1, sizeof s1);
        shape_str(s, r, s2, sizeof s2);
        return NODE_FAIL(EMO_EMODEL, "cannot reshape %s (%lld elements) to %s", s1,
                         (long long)numel, s2);
      }
      *orank = r;
      memcpy(oshape, s, sizeof s);
      return EMO_OK;
    }
    case NN_OP_CONCAT: {
      int r = x->rank, ax = a->axis;
      if (r < 1) return NODE_FAIL(EMO_EMODEL, "cannot concatenate scalars");
      if (ax < -r || ax >= r)
        return NODE_FAIL(EMO_EMODEL, "axis %d out of range for rank %d", ax, r);
      if (ax < 0) ax += r;
      a->axis = ax;
      memcpy(oshape, x->shape, sizeof x->shape);
      for (int i = 1; i < n->n_in; i++) {
        const nn_value *y = &g->values[n->in[i]];
        if ((st = need_f32(g, n, i, err))) return st;
        int ok = y->rank == r;
        for (int d = 0; ok && d < r; d++) ok = d == ax || y->shape[d] == x->shape[d];
        if (!ok) {
          shape_str(x->shape, x->rank, s1, sizeof s1);
          shape_str(y->shape, y->rank, s2, sizeof s2);
          return NODE_FAIL(EMO_EMODEL, "input %d %s does not match input 0 %s outside axis %d", i,
                           s2, s1, ax);
        }
        oshape[ax] += y->shape[ax];
        if (oshape[ax] > NN_MAX_NUMEL) return NODE_FAIL(EMO_ELIMIT, "output too large");
      }
      *orank = r;
      return EMO_OK;
    }
    case NN_OP_RESIZE_BILINEAR: {
      if (a->out_h <= 0 && n->n_in > 1 && n->in[1] >= 0) {
        const nn_value *sv = &g->values[n->in[1]];
        if (sv->is_const && sv->dtype == NN_I32 && nn_value_numel(sv) == 2) {
          const int32_t *d = (const int32_t *)(g->blob + sv->const_offset);
          a->out_h = d[0];
          a->out_w = d[1];
        }
      }
      if (x->rank != 4) return NODE_FAIL(EMO_EMODEL, "input must be 4-D (NHWC)");
      if (a->out_h <= 0 || a->out_w <= 0 || a->out_h > 65536 || a->out_w > 65536)
        return NODE_FAIL(EMO_EMODEL, "output size %dx%d is invalid", a->out_h, a->out_w);
      if (a->align_corners && a->half_pixel_centers)
        return NODE_FAIL(EMO_EMODEL, "align_corners and half_pixel_centers both set");
      oshape[0] = x->shape[0];
      oshape[1] = a->out_h;
      oshape[2] = a->out_w;
      oshape[3] = x->shape[3];
      if (oshape[0] * oshape[1] * oshape[2] * oshape[3] > NN_MAX_NUMEL)
        return NODE_FAIL(EMO_ELIMIT, "output too large");
      *orank = 4;
      return EMO_OK;
    }
    case NN_OP_TRANSPOSE: {
      if (a->n_axes != x->rank)
        return NODE_FAIL(EMO_EMODEL, "permutation of %d axes for a rank-%d input", a->n_axes,
                         x->rank);
      int seen[NN_MAX_RANK] = {0};
      for (int i = 0; i < x->rank; i++) {
        if (a->axes[i] < 0 || a->axes[i] >= x->rank || seen[a->axes[i]]++)
          return NODE_FAIL(EMO_EMODEL, "axes are not a permutation");
        oshape[i] = x->shape[a->axes[i]];
      }
      *orank = x->rank;
      return EMO_OK;
    }
    case NN_OP_SLICE: {
      if (x->rank < 1) return NODE_FAIL(EMO_EMODEL, "cannot slice a scalar");
      for (int i = 0; i < x->rank; i++) {
        if (a->slice_begin[i] < 0 || a->slice_end[i] < a->slice_begin[i] ||
            a->slice_end[i] > x->shape[i])
          return NODE_FAIL(EMO_EMODEL, "slice [%lld, %lld) outside dimension %d of size %lld",
                           (long long)a->slice_begin[i], (long long)a->slice_end[i], i,
                           (long long)x->shape[i]);
        oshape[i] = a->slice_end[i] - a->slice_begin[i];
      }
      *orank = x->rank;
      return EMO_OK;
    }
    default: break;
  }
  return NODE_FAIL(EMO_EUNSUPPORTED, "op not handled by shape inference");
}

int nn_graph_finalize(nn_graph *g, emoi_err *err) {
  if (!g) return emoi_fail(err, EMO_EINVAL, "nn_graph_finalize: graph is NULL");
  if (g->finalized) return EMO_OK;
  if (g->n_outputs < 1) return emoi_fail(err, EMO_EMODEL, "%s: graph has no outputs", g->source);
  for (int i = 0; i < g->n_inputs; i++) {
    const nn_value *v = &g->values[g->inputs[i]];
    for (int d = 0; d < v->rank; d++)
      if (v->shape[d] < 0)
        return emoi_fail(err, EMO_EMODEL, "%s: graph input '%s' has unknown dimension %d",
                         g->source, v->name, d);
    if (v->dtype != NN_F32)
      return emoi_fail(err, EMO_EUNSUPPORTED, "%s: graph input '%s' is not float32", g->source,
                       v->name);
  }
  /* PAD, MEAN, RESHAPE and RESIZE_BILINEAR read their parameters from attributes (or a
   * constant second input); a computed second input carries nothing they use, so it is
   * dropped here: no backend then sees a value produced for nobody (found by fuzzing:
   * XNNPACK leaves such a value unallocated). */
  for (int k = 0; k < g->n_nodes; k++) {
    nn_node *n = &g->nodes[k];
    if ((n->op == NN_OP_PAD || n->op == NN_OP_MEAN || n->op == NN_OP_RESHAPE ||
         n->op == NN_OP_RESIZE_BILINEAR) &&
        n->n_in > 1 && n->in[1] >= 0 && n->in[1] < g->n_values && !g->values[n->in[1]].is_const)
      n->n_in = 1;
  }
  int st = sort_nodes(g, err);
  if (st) return st;
  for (int k = 0; k < g->n_nodes; k++) {
    nn_node *n = &g->nodes[k];
    int64_t os[NN_MAX_RANK] = {0};
    int orank = 0;
    if ((st = infer_node(g, n, &orank, os, err))) return st;
    if ((st = check_shape(g->source, "value", "", orank, os, 0, err))) {
      return node_fail(g, n, err, st, "output has more than 2^31 elements or rank > %d",
                       NN_MAX_RANK);
    }
    nn_value *o = &g->values[n->out[0]];
    if (o->dtype != NN_F32)
      return NODE_FAIL(EMO_EUNSUPPORTED, "output '%s' is not float32", o->name);
    /* compare with the shape the reader declared, where it declared one */
    int declared = o->rank > 0;
    for (int d = 0; d < o->rank; d++)
      if (o->shape[d] < 0) declared = 0;
    int64_t onumel = 1;
    for (int d = 0; d < orank; d++) onumel *= os[d];
    if (declared && n->op == NN_OP_FULLY_CONNECTED && nn_value_numel(o) == onumel &&
        o->shape[o->rank - 1] == os[1]) {
      continue; /* keep the reader's (..., Out) form (TFLite keep_num_dims) */
    }
    int same = o->rank == orank;
    for (int d = 0; same && d < orank; d++) same = o->shape[d] < 0 || o->shape[d] == os[d];
    if (o->rank > 0 && !same) {
      char s1[128], s2[128];
      shape_str(o->shape, o->rank, s1, sizeof s1);
      shape_str(os, orank, s2, sizeof s2);
      if (declared)
        return NODE_FAIL(EMO_EMODEL, "output '%s' declared %s but computes %s", o->name, s1, s2);
    }
    o->rank = orank;
    memcpy(o->shape, os, sizeof os);
  }
  g->finalized = 1;
  return EMO_OK;
}

/* The feature tap: walks back from output 0 through the ops that only pool, reshape or squash
 * (softmax, mean, average pool, reshape, elementwise activations) to the last CONV2D or
 * FULLY_CONNECTED, whose input x is the penultimate activation. */
int nn_graph_add_penultimate_output(nn_graph *g, emoi_err *err) {
  if (!g || !g->finalized || g->n_outputs < 1)
    return emoi_fail(err, EMO_EINVAL, "nn_graph_add_penultimate_output: graph not finalized");
  if (g->n_outputs >= NN_MAX_GRAPH_IO)
    return emoi_fail(err, EMO_ELIMIT, "%s: no room for another output", g->source);
  int v = g->outputs[0], x = -1;
  for (int steps = 0; steps < 16 && x < 0; steps++) {
    const nn_node *p = NULL;
    for (int k = 0; k < g->n_nodes && !p; k++)
      if (g->nodes[k].out[0] == v) p = &g->nodes[k];
    if (!p || p->n_in < 1 || p->in[0] < 0) break;
    switch (p->op) {
      case NN_OP_CONV2D:
      case NN_OP_FULLY_CONNECTED: x = p->in[0]; break;
      case NN_OP_SOFTMAX:
      case NN_OP_MEAN:
      case NN_OP_AVG_POOL2D:
      case NN_OP_RESHAPE:
      case NN_OP_RELU:
      case NN_OP_SIGMOID: v = p->in[0]; break;
      default: steps = 16; break;
    }
  }
  if (x < 0 || g->values[x].is_const)
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: no convolution or dense layer before the output",
                     g->source);
  const nn_value *xv = &g->values[x];
  int tap = x, st = 0;
  g->finalized = 0; /* names are pointers fixed up on growth, sorted nodes stay sorted */
  if (xv->rank == 4) {
    int64_t shape[2] = {xv->shape[0], xv->shape[3]};
    st = nn_graph_add_value(g, "emo_penultimate", NN_F32, 2, shape, err);
    if (st < 0) goto fail_st;
    tap = st;
    nn_attr a = nn_attr_default();
    a.n_axes = 2;
    a.axes[0] = 1;
    a.axes[1] = 2;
    a.keepdims = 0;
    st = nn_graph_add_node(g, NN_OP_MEAN, &x, 1, &tap, 1, &a, "emo_penultimate_mean", err);
    if (st < 0) goto fail_st;
  } else if (xv->rank != 2) {
    g->finalized = 1;
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: penultimate value has rank %d", g->source,
                     xv->rank);
  }
  int outs[NN_MAX_GRAPH_IO];
  for (int i = 0; i < g->n_outputs; i++) outs[i] = g->outputs[i];
  outs[g->n_outputs] = tap;
  st = nn_graph_set_io(g, g->inputs, g->n_inputs, outs, g->n_outputs + 1, err);
  if (st) goto fail_st;
  st = nn_graph_finalize(g, err);
  if (st) return st;
  return g->n_outputs - 1;
fail_st:
  g->finalized = 1;
  return st;
}
