/* backend_xnn.c: runs contiguous runs of graph nodes with XNNPACK's subgraph API (the
 * Debian 2022-02 snapshot, /usr/include/xnnpack.h): one xnn_subgraph per run, turned into
 * an xnn_runtime with the caller's pthreadpool, external values bound once to the plan's
 * buffers, weights given as static data (XNNPACK packs them at runtime creation).
 *
 * Op mapping: CONV2D -> convolution_2d (groups 1, OHWI weights as ours); DEPTHWISE_CONV2D
 * -> depthwise_convolution_2d ((1,Kh,Kw,C*M) weights as ours); FULLY_CONNECTED ->
 * fully_connected (TENSORFLOW_RESHAPE_2D when the input's last dim is not In); ADD, SUB,
 * MUL, DIV, MAXIMUM, MINIMUM -> the broadcasting binary nodes; RELU/RELU6 -> clamp;
 * SIGMOID, LEAKY_RELU, SOFTMAX, PRELU (4-D input, per-channel alpha); MAX/AVG_POOL2D
 * (explicit pads; windows of more than one cell); MEAN over H,W of NHWC ->
 * global_average_pooling_2d (+ static_reshape without keepdims); PAD -> static_constant_pad;
 * RESHAPE -> static_reshape. The fused act_min/act_max go to output_min/output_max, or to an
 * extra clamp node for ops without them.
 *
 * What it leaves to others: deciding runs, buffers and fallbacks (plan.c); TANH, CONCAT
 * and anything rejected here run on the reference kernels (ops_ref.c). */
#include "nn/backend_xnn.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

struct nn_xnn_run {
  xnn_runtime_t rt;
  int first_node;
  size_t n_ext;
  struct xnn_external_value ext[]; /* (n_ext) */
};

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;

static void xnn_init_once(void) {
  xnn_init_status = xnn_initialize(NULL);
}

int nn_xnn_init(emoi_err *err) {
  pthread_once(&xnn_once, xnn_init_once);
  if (xnn_init_status != xnn_status_success)
    return emoi_fail(err, EMO_EUNSUPPORTED, "xnn_initialize failed (status %d): CPU unsupported?",
                     (int)xnn_init_status);
  return EMO_OK;
}

static int has_clamp(const nn_attr *a) {
  return a->act_min != -INFINITY || a->act_max != INFINITY;
}

static int is_const(const nn_graph *g, int v) {
  return v >= 0 && g->values[v].is_const;
}

int nn_xnn_node_supported(const nn_graph *g, int k) {
  const nn_node *n = &g->nodes[k];
  const nn_attr *a = &n->attr;
  /* XNNPACK has no empty tensors and takes rank <= 6 (ours too) */
  for (int i = 0; i < n->n_in; i++)
    if (n->in[i] >= 0 && nn_value_numel(&g->values[n->in[i]]) == 0) return 0;
  if (nn_value_numel(&g->values[n->out[0]]) == 0) return 0;
  const nn_value *x = &g->values[n->in[0]];
  if (x->is_const) return 0; /* constant folding is the reader's job */
  switch (n->op) {
    case NN_OP_CONV2D:
    case NN_OP_DEPTHWISE_CONV2D:
    case NN_OP_FULLY_CONNECTED:
      if (!is_const(g, n->in[1])) return 0;
      if (n->n_in > 2 && n->in[2] >= 0 && !is_const(g, n->in[2])) return 0;
      return 1;
    case NN_OP_ADD:
    case NN_OP_SUB:
    case NN_OP_MUL:
    case NN_OP_DIV:
    case NN_OP_MAXIMUM:
    case NN_OP_MINIMUM:
    case NN_OP_RELU:
    case NN_OP_RELU6:
    case NN_OP_SIGMOID:
    case NN_OP_LEAKY_RELU:
    case NN_OP_SOFTMAX:
    case NN_OP_PAD:
    case NN_OP_RESHAPE: return 1;
    case NN_OP_PRELU: {
      const nn_value *al = &g->values[n->in[1]];
      return x->rank == 4 && al->is_const && nn_value_numel(al) == x->shape[3] &&
             (al->rank == 0 || al->shape[al->rank - 1] == x->shape[3]);
    }
    case NN_OP_MAX_POOL2D:
    case NN_OP_AVG_POOL2D:
      /* XNNPACK refuses 1x1 windows */
      return (int64_t)a->kernel_h * a->kernel_w > 1;
    case NN_OP_MEAN: return x->rank == 4 && a->n_axes == 2 && a->axes[0] == 1 && a->axes[1] == 2;
    case NN_OP_RESIZE_BILINEAR: return !has_clamp(a);
    default: return 0;
  }
}

/* Defines an XNNPACK fp32 tensor of the given shape. */
static enum xnn_status define_tensor(xnn_subgraph_t sg, int rank, const int64_t *shape,
                                     const void *data, uint32_t ext_id, uint32_t flags,
                                     uint32_t *id) {
  size_t dims[NN_MAX_RANK];
  for (int i = 0; i < rank; i++) dims[i] = (size_t)shape[i];
  return xnn_define_tensor_value(sg, xnn_datatype_fp32, (size_t)rank, rank ? dims : NULL, data,
                                 ext_id, flags, id);
}

/* Output id for an op without output_min/max: a fresh internal value when the node has a
 * fused clamp (the caller then calls finish_clamp), else the node's output. */
static enum xnn_status clamp_target(xnn_subgraph_t sg, const nn_graph *g, const nn_node *n,
                                    const uint32_t *xid, uint32_t *target) {
  if (!has_clamp(&n->attr)) {
    *target = xid[n->out[0]];
    return xnn_status_success;
  }
  const nn_value *o = &g->values[n->out[0]];
  return define_tensor(sg, o->rank, o->shape, NULL, XNN_INVALID_VALUE_ID, 0, target);
}

static enum xnn_status finish_clamp(xnn_subgraph_t sg, const nn_node *n, const uint32_t *xid,
                                    uint32_t target) {
  if (!has_clamp(&n->attr)) return xnn_status_success;
  return xnn_define_clamp(sg, n->attr.act_min, n->attr.act_max, target, xid[n->out[0]], 0);
}

static enum xnn_status define_node(xnn_subgraph_t sg, const nn_graph *g, const nn_node *n,
                                   const uint32_t *xid) {
  const nn_attr *a = &n->attr;
  const nn_value *x = &g->values[n->in[0]];
  const nn_value *y = &g->values[n->out[0]];
  uint32_t X = xid[n->in[0]], Y = xid[n->out[0]], T;
  uint32_t B = n->n_in > 2 && n->in[2] >= 0 ? xid[n->in[2]] : XNN_INVALID_VALUE_ID;
  float lo = a->act_min, hi = a->act_max;
  enum xnn_status s;
  switch (n->op) {
    case NN_OP_CONV2D: {
      const nn_value *w = &g->values[n->in[1]];
      return xnn_define_convolution_2d(
          sg, (uint32_t)a->pad_top, (uint32_t)a->pad_right, (uint32_t)a->pad_bottom,
          (uint32_t)a->pad_left, (uint32_t)w->shape[1], (uint32_t)w->shape[2],
          (uint32_t)a->stride_h, (uint32_t)a->stride_w, (uint32_t)a->dilation_h,
          (uint32_t)a->dilation_w, 1, (size_t)w->shape[3], (size_t)w->shape[0], lo, hi, X,
          xid[n->in[1]], B, Y, 0);
    }
    case NN_OP_DEPTHWISE_CONV2D: {
      const nn_value *w = &g->values[n->in[1]];
      return xnn_define_depthwise_convolution_2d(
          sg, (uint32_t)a->pad_top, (uint32_t)a->pad_right, (uint32_t)a->pad_bottom,
          (uint32_t)a->pad_left, (uint32_t)w->shape[1], (uint32_t)w->shape[2],
          (uint32_t)a->stride_h, (uint32_t)a->stride_w, (uint32_t)a->dilation_h,
          (uint32_t)a->dilation_w, (uint32_t)(w->shape[3] / x->shape[3]), (size_t)x->shape[3], lo,
          hi, X, xid[n->in[1]], B, Y, 0);
    }
    case NN_OP_FULLY_CONNECTED: {
      const nn_value *w = &g->values[n->in[1]];
      uint32_t flags = x->shape[x->rank - 1] != w->shape[1] ? XNN_FLAG_TENSORFLOW_RESHAPE_2D : 0;
      return xnn_define_fully_connected(sg, lo, hi, X, xid[n->in[1]], B, Y, flags);
    }
    case NN_OP_ADD: return xnn_define_add2(sg, lo, hi, X, xid[n->in[1]], Y, 0);
    case NN_OP_SUB: return xnn_define_subtract(sg, lo, hi, X, xid[n->in[1]], Y, 0);
    case NN_OP_MUL: return xnn_define_multiply2(sg, lo, hi, X, xid[n->in[1]], Y, 0);
    case NN_OP_DIV: return xnn_define_divide(sg, lo, hi, X, xid[n->in[1]], Y, 0);
    case NN_OP_MAXIMUM:
    case NN_OP_MINIMUM:
      if ((s = clamp_target(sg, g, n, xid, &T))) return s;
      s = n->op == NN_OP_MAXIMUM ? xnn_define_maximum2(sg, X, xid[n->in[1]], T, 0)
                                 : xnn_define_minimum2(sg, X, xid[n->in[1]], T, 0);
      return s ? s : finish_clamp(sg, n, xid, T);
    case NN_OP_RELU: return xnn_define_clamp(sg, lo > 0 ? lo : 0, hi, X, Y, 0);
    case NN_OP_RELU6: return xnn_define_clamp(sg, lo > 0 ? lo : 0, hi < 6 ? hi : 6, X, Y, 0);
    case NN_OP_SIGMOID:
    case NN_OP_LEAKY_RELU:
    case NN_OP_SOFTMAX:
      if ((s = clamp_target(sg, g, n, xid, &T))) return s;
      s = n->op == NN_OP_SIGMOID      ? xnn_define_sigmoid(sg, X, T, 0)
          : n->op == NN_OP_LEAKY_RELU ? xnn_define_leaky_relu(sg, a->alpha, X, T, 0)
                                      : xnn_define_softmax(sg, X, T, 0);
      return s ? s : finish_clamp(sg, n, xid, T);
    case NN_OP_PRELU: {
      /* XNNPACK wants the slope as a 1-D (C) static tensor: view the constant that way */
      const nn_value *al = &g->values[n->in[1]];
      int64_t c = x->shape[3];
      uint32_t S;
      if ((s = define_tensor(sg, 1, &c, g->blob + al->const_offset, XNN_INVALID_VALUE_ID, 0, &S)))
        return s;
      if ((s = clamp_target(sg, g, n, xid, &T))) return s;
      s = xnn_define_prelu(sg, X, S, T, 0);
      return s ? s : finish_clamp(sg, n, xid, T);
    }
    case NN_OP_MAX_POOL2D:
      return xnn_define_max_pooling_2d(
          sg, (uint32_t)a->pad_top, (uint32_t)a->pad_right, (uint32_t)a->pad_bottom,
          (uint32_t)a->pad_left, (uint32_t)a->kernel_h, (uint32_t)a->kernel_w,
          (uint32_t)a->stride_h, (uint32_t)a->stride_w, 1, 1, lo, hi, X, Y, 0);
    case NN_OP_AVG_POOL2D:
      return xnn_define_average_pooling_2d(
          sg, (uint32_t)a->pad_top, (uint32_t)a->pad_right, (uint32_t)a->pad_bottom,
          (uint32_t)a->pad_left, (uint32_t)a->kernel_h, (uint32_t)a->kernel_w,
          (uint32_t)a->stride_h, (uint32_t)a->stride_w, lo, hi, X, Y, 0);
    case NN_OP_MEAN: {
      if (a->keepdims) return xnn_define_global_average_pooling_2d(sg, lo, hi, X, Y, 0);
      int64_t s4[4] = {x->shape[0], 1, 1, x->shape[3]};
      if ((s = define_tensor(sg, 4, s4, NULL, XNN_INVALID_VALUE_ID, 0, &T))) return s;
      if ((s = xnn_define_global_average_pooling_2d(sg, lo, hi, X, T, 0))) return s;
      size_t d2[NN_MAX_RANK];
      for (int i = 0; i < y->rank; i++) d2[i] = (size_t)y->shape[i];
      return xnn_define_static_reshape(sg, (size_t)y->rank, d2, T, Y, 0);
    }
    case NN_OP_PAD: {
      size_t pre[NN_MAX_RANK], post[NN_MAX_RANK];
      for (int i = 0; i < x->rank; i++) {
        pre[i] = (size_t)a->pads[i][0];
        post[i] = (size_t)a->pads[i][1];
      }
      if ((s = clamp_target(sg, g, n, xid, &T))) return s;
      s = xnn_define_static_constant_pad(sg, pre, post, 0.0f, X, T, 0);
      return s ? s : finish_clamp(sg, n, xid, T);
    }
    case NN_OP_RESHAPE: {
      size_t d[NN_MAX_RANK];
      for (int i = 0; i < y->rank; i++) d[i] = (size_t)y->shape[i];
      if ((s = clamp_target(sg, g, n, xid, &T))) return s;
      s = xnn_define_static_reshape(sg, (size_t)y->rank, d, X, T, 0);
      return s ? s : finish_clamp(sg, n, xid, T);
    }
    case NN_OP_RESIZE_BILINEAR: {
      uint32_t fl = a->align_corners
                        ? XNN_FLAG_ALIGN_CORNERS
                        : (a->half_pixel_centers ? 0 : XNN_FLAG_TENSORFLOW_LEGACY_MODE);
      return xnn_define_static_resize_bilinear_2d(sg, (size_t)a->out_h, (size_t)a->out_w, X, Y, fl);
    }
    default: return xnn_status_unsupported_parameter;
  }
}

/* Input slots of node n that XNNPACK reads as tensors (RESHAPE/PAD/MEAN ignore extras). */
static int n_tensor_inputs(const nn_node *n) {
  switch (n->op) {
    case NN_OP_RESHAPE:
    case NN_OP_PAD:
    case NN_OP_MEAN:
    case NN_OP_RESIZE_BILINEAR: return 1;
    case NN_OP_PRELU: return 1; /* the slope gets its own 1-D view in define_node */
    default: return n->n_in;
  }
}

int nn_xnn_run_create(const nn_graph *g, int begin, int end, const int *producer,
                      const int *last_consumer, const unsigned char *is_output, float *const *bufs,
                      void *threadpool, nn_xnn_run **out, emoi_err *err) {
  *out = NULL;
  int st = nn_xnn_init(err);
  if (st) return st;
  int nv = g->n_values;
  uint32_t *xid = malloc((size_t)nv * sizeof *xid);
  int *ext_of = malloc((size_t)nv * sizeof *ext_of); /* external index or -1, -2 = untouched */
  nn_xnn_run *r = NULL;
  xnn_subgraph_t sg = NULL;
  const char *what = "xnn_create_subgraph";
  enum xnn_status s = xnn_status_success;
  if (!xid || !ext_of) {
    st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory building an XNNPACK runtime", g->source);
    goto done;
  }
  for (int v = 0; v < nv; v++) {
    xid[v] = XNN_INVALID_VALUE_ID;
    ext_of[v] = -2;
  }
  /* which values the run touches, and which of them cross its boundary */
  size_t n_ext = 0;
  for (int k = begin; k < end; k++) {
    const nn_node *n = &g->nodes[k];
    int nt = n_tensor_inputs(n);
    for (int j = 0; j < nt + n->n_out; j++) {
      int v = j < nt ? n->in[j] : n->out[j - nt];
      if (v < 0 || ext_of[v] != -2) continue;
      ext_of[v] = -1;
      if (g->values[v].is_const) continue;
      int inside = producer[v] >= begin && producer[v] < end;
      if (!inside || is_output[v] || last_consumer[v] >= end) ext_of[v] = (int)n_ext++;
    }
  }
  r = calloc(1, sizeof *r + n_ext * sizeof(struct xnn_external_value));
  if (!r) {
    st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory building an XNNPACK runtime", g->source);
    goto done;
  }
  r->n_ext = n_ext;
  r->first_node = begin;
  if ((s = xnn_create_subgraph((uint32_t)n_ext, 0, &sg))) goto xfail;
  what = "xnn_define_tensor_value";
  for (int v = 0; v < nv; v++) {
    if (ext_of[v] == -2) continue;
    const nn_value *val = &g->values[v];
    if (val->is_const) {
      if (val->dtype != NN_F32) continue;
      s = define_tensor(sg, val->rank, val->shape, g->blob + val->const_offset,
                        XNN_INVALID_VALUE_ID, 0, &xid[v]);
    } else if (ext_of[v] >= 0) {
      int inside = producer[v] >= begin && producer[v] < end;
      uint32_t flags = inside ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : XNN_VALUE_FLAG_EXTERNAL_INPUT;
      s = define_tensor(sg, val->rank, val->shape, NULL, (uint32_t)ext_of[v], flags, &xid[v]);
      r->ext[ext_of[v]].id = xid[v];
      r->ext[ext_of[v]].data = bufs[v];
    } else {
      s = define_tensor(sg, val->rank, val->shape, NULL, XNN_INVALID_VALUE_ID, 0, &xid[v]);
    }
    if (s) goto xfail;
  }
  for (int k = begin; k < end; k++) {
    if ((s = define_node(sg, g, &g->nodes[k], xid))) {
      st = emoi_fail(err, EMO_EUNSUPPORTED, "%s: node '%s' (%s): XNNPACK refused it (status %d)",
                     g->source, g->nodes[k].name, nn_op_name(g->nodes[k].op), (int)s);
      goto done;
    }
  }
  what = "xnn_create_runtime_v2";
  if ((s = xnn_create_runtime_v2(sg, (pthreadpool_t)threadpool, 0, &r->rt))) goto xfail;
  what = "xnn_setup_runtime";
  if ((s = xnn_setup_runtime(r->rt, r->n_ext, r->ext))) goto xfail;
  *out = r;
  r = NULL;
  st = EMO_OK;
  goto done;
xfail:
  st = emoi_fail(err, EMO_EUNSUPPORTED, "%s: nodes %d..%d ('%s' first): %s failed (status %d)",
                 g->source, begin, end - 1, g->nodes[begin].name, what, (int)s);
done:
  if (sg) xnn_delete_subgraph(sg);
  nn_xnn_run_destroy(&r);
  free(xid);
  free(ext_of);
  return st;
}

int nn_xnn_run_invoke(nn_xnn_run *r, emoi_err *err) {
  enum xnn_status s = xnn_invoke_runtime(r->rt);
  if (s != xnn_status_success)
    return emoi_fail(err, EMO_EINTERNAL,
                     "xnn_invoke_runtime failed (status %d) for the run "
                     "starting at node %d",
                     (int)s, r->first_node);
  return EMO_OK;
}

int nn_xnn_run_rebind(nn_xnn_run *r, float *(*remap)(void *ctx, const void *old), void *ctx,
                      emoi_err *err) {
  for (size_t i = 0; i < r->n_ext; i++) {
    float *to = remap(ctx, r->ext[i].data);
    if (!to)
      return emoi_fail(err, EMO_EINTERNAL, "run at node %d: a boundary value has no new buffer",
                       r->first_node);
    r->ext[i].data = to;
  }
  enum xnn_status s = xnn_setup_runtime(r->rt, r->n_ext, r->ext);
  if (s != xnn_status_success)
    return emoi_fail(err, EMO_EINTERNAL, "run at node %d: xnn_setup_runtime failed (status %d)",
                     r->first_node, (int)s);
  return EMO_OK;
}

void nn_xnn_run_destroy(nn_xnn_run **pr) {
  if (!pr || !*pr) return;
  if ((*pr)->rt) xnn_delete_runtime((*pr)->rt);
  free(*pr);
  *pr = NULL;
}
