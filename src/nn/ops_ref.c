/* ops_ref.c: the plain scalar C reference implementation of every nn_op (nn.h), written to
 * be obviously correct rather than fast: the XNNPACK backend is tested against it, and the
 * plan falls back to it for nodes XNNPACK cannot run (CONCAT, TANH, ...).
 *
 * Semantics follow TensorFlow/TFLite: NHWC activations, OHWI conv weights, (1,Kh,Kw,C*M)
 * depthwise weights (output channel c*M+m reads input channel c), numpy broadcasting,
 * average pooling that does not count padding cells, softmax over the last axis computed
 * as exp(x - max) / sum. Every op applies the node's fused act_min/act_max clamp.
 * Accumulations are in double.
 *
 * What it leaves to others: shape inference and padding resolution (graph.c: the node's
 * pad_* fields are final here), buffers and scheduling (plan.c). Inputs and outputs are
 * dense row-major tensors whose shapes match the finalized graph. */
#include <math.h>
#include <string.h>

#include "nn/nn.h"

static int64_t numel(const nn_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->shape[i];
  return n;
}

static float clampf(float v, float lo, float hi) {
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

/* Applies the fused activation clamp of attr to n floats in place. */
static void apply_clamp(const nn_attr *a, float *y, int64_t n) {
  if (a->act_min == -INFINITY && a->act_max == INFINITY) return;
  for (int64_t i = 0; i < n; i++) y[i] = clampf(y[i], a->act_min, a->act_max);
}

static void conv2d(const nn_attr *a, const nn_tensor *x, const nn_tensor *w, const nn_tensor *b,
                   nn_tensor *y) {
  const float *X = x->data;            /* (N,H,W,Ci) */
  const float *Wt = w->data;           /* (Co,Kh,Kw,Ci) */
  const float *B = b ? b->data : NULL; /* (Co) */
  float *Y = y->data;                  /* (N,Ho,Wo,Co) */
  int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], Ci = x->shape[3];
  int64_t Co = w->shape[0], Kh = w->shape[1], Kw = w->shape[2];
  int64_t Ho = y->shape[1], Wo = y->shape[2];
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < Ho; oy++)
      for (int64_t ox = 0; ox < Wo; ox++)
        for (int64_t co = 0; co < Co; co++) {
          double acc = B ? B[co] : 0.0;
          for (int64_t ky = 0; ky < Kh; ky++) {
            int64_t iy = oy * a->stride_h - a->pad_top + ky * a->dilation_h;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < Kw; kx++) {
              int64_t ix = ox * a->stride_w - a->pad_left + kx * a->dilation_w;
              if (ix < 0 || ix >= W) continue;
              const float *xp = X + ((n * H + iy) * W + ix) * Ci;
              const float *wp = Wt + ((co * Kh + ky) * Kw + kx) * Ci;
              for (int64_t ci = 0; ci < Ci; ci++) acc += (double)xp[ci] * wp[ci];
            }
          }
          Y[((n * Ho + oy) * Wo + ox) * Co + co] = (float)acc;
        }
}

static void depthwise2d(const nn_attr *a, const nn_tensor *x, const nn_tensor *w,
                        const nn_tensor *b, nn_tensor *y) {
  const float *X = x->data;  /* (N,H,W,C) */
  const float *Wt = w->data; /* (1,Kh,Kw,C*M) */
  const float *B = b ? b->data : NULL;
  float *Y = y->data; /* (N,Ho,Wo,C*M) */
  int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
  int64_t Kh = w->shape[1], Kw = w->shape[2], CM = w->shape[3], M = CM / C;
  int64_t Ho = y->shape[1], Wo = y->shape[2];
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < Ho; oy++)
      for (int64_t ox = 0; ox < Wo; ox++)
        for (int64_t oc = 0; oc < CM; oc++) {
          int64_t c = oc / M;
          double acc = B ? B[oc] : 0.0;
          for (int64_t ky = 0; ky < Kh; ky++) {
            int64_t iy = oy * a->stride_h - a->pad_top + ky * a->dilation_h;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < Kw; kx++) {
              int64_t ix = ox * a->stride_w - a->pad_left + kx * a->dilation_w;
              if (ix < 0 || ix >= W) continue;
              acc += (double)X[((n * H + iy) * W + ix) * C + c] * Wt[(ky * Kw + kx) * CM + oc];
            }
          }
          Y[((n * Ho + oy) * Wo + ox) * CM + oc] = (float)acc;
        }
}

static void fully_connected(const nn_tensor *x, const nn_tensor *w, const nn_tensor *b,
                            nn_tensor *y) {
  const float *X = x->data;  /* (Nrows, In) after flattening */
  const float *Wt = w->data; /* (Out, In) */
  const float *B = b ? b->data : NULL;
  float *Y = y->data; /* (Nrows, Out) */
  int64_t Out = w->shape[0], In = w->shape[1], rows = numel(x) / In;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < Out; o++) {
      double acc = B ? B[o] : 0.0;
      for (int64_t i = 0; i < In; i++) acc += (double)X[r * In + i] * Wt[o * In + i];
      Y[r * Out + o] = (float)acc;
    }
}

/* Element strides of t seen as a rank-r tensor broadcast to out's shape (0 on broadcast
 * dimensions); shapes are right-aligned as in numpy. */
static void bcast_strides(const nn_tensor *t, int r, int64_t *st) {
  int64_t s = 1;
  for (int i = r - 1; i >= 0; i--) {
    int ti = i - (r - t->rank);
    int64_t d = ti >= 0 ? t->shape[ti] : 1;
    st[i] = d == 1 ? 0 : s;
    s *= d;
  }
}

static float binop(nn_op op, float p, float q) {
  switch (op) {
    case NN_OP_ADD: return p + q;
    case NN_OP_SUB: return p - q;
    case NN_OP_MUL: return p * q;
    case NN_OP_DIV: return p / q;
    case NN_OP_MAXIMUM: return p > q ? p : q;
    case NN_OP_MINIMUM: return p < q ? p : q;
    case NN_OP_PRELU: return p >= 0 ? p : p * q;
    default: return 0;
  }
}

static void binary(nn_op op, const nn_tensor *x, const nn_tensor *z, nn_tensor *y) {
  int r = y->rank;
  int64_t sx[NN_MAX_RANK], sz[NN_MAX_RANK], idx[NN_MAX_RANK] = {0};
  bcast_strides(x, r, sx);
  bcast_strides(z, r, sz);
  const float *X = x->data, *Z = z->data;
  float *Y = y->data;
  int64_t n = numel(y);
  for (int64_t i = 0; i < n; i++) {
    int64_t ox = 0, oz = 0;
    for (int d = 0; d < r; d++) {
      ox += idx[d] * sx[d];
      oz += idx[d] * sz[d];
    }
    Y[i] = binop(op, X[ox], Z[oz]);
    for (int d = r - 1; d >= 0; d--) { /* next index, last dimension fastest */
      if (++idx[d] < y->shape[d]) break;
      idx[d] = 0;
    }
  }
}

static void unary(const nn_node *node, const nn_tensor *x, nn_tensor *y) {
  const float *X = x->data;
  float *Y = y->data;
  int64_t n = numel(x);
  for (int64_t i = 0; i < n; i++) {
    float v = X[i];
    switch (node->op) {
      case NN_OP_RELU: v = v > 0 ? v : 0; break;
      case NN_OP_RELU6: v = clampf(v, 0, 6); break;
      case NN_OP_SIGMOID: v = (float)(1.0 / (1.0 + exp(-(double)v))); break;
      case NN_OP_TANH: v = (float)tanh((double)v); break;
      case NN_OP_LEAKY_RELU: v = v >= 0 ? v : v * node->attr.alpha; break;
      case NN_OP_SQRT: v = sqrtf(v); break;
      default: break;
    }
    Y[i] = v;
  }
}

static void softmax(const nn_tensor *x, nn_tensor *y) {
  int64_t C = x->shape[x->rank - 1];
  int64_t rows = C ? numel(x) / C : 0;
  const float *X = x->data;
  float *Y = y->data;
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = X + r * C;
    float *yr = Y + r * C;
    float mx = -INFINITY;
    for (int64_t c = 0; c < C; c++) mx = xr[c] > mx ? xr[c] : mx;
    double sum = 0;
    for (int64_t c = 0; c < C; c++) sum += exp((double)xr[c] - mx);
    for (int64_t c = 0; c < C; c++) yr[c] = (float)(exp((double)xr[c] - mx) / sum);
  }
}

static void pool2d(const nn_node *node, const nn_tensor *x, nn_tensor *y) {
  const nn_attr *a = &node->attr;
  const float *X = x->data; /* (N,H,W,C) */
  float *Y = y->data;       /* (N,Ho,Wo,C) */
  int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
  int64_t Ho = y->shape[1], Wo = y->shape[2];
  int is_max = node->op == NN_OP_MAX_POOL2D;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < Ho; oy++)
      for (int64_t ox = 0; ox < Wo; ox++)
        for (int64_t c = 0; c < C; c++) {
          double acc = is_max ? -INFINITY : 0.0;
          int64_t cnt = 0;
          /* the window clipped to the input: rows y0..y1-1, columns x0..x1-1 */
          int64_t y0 = oy * a->stride_h - a->pad_top, y1 = y0 + a->kernel_h;
          int64_t x0 = ox * a->stride_w - a->pad_left, x1 = x0 + a->kernel_w;
          if (y0 < 0) y0 = 0;
          if (y1 > H) y1 = H;
          if (x0 < 0) x0 = 0;
          if (x1 > W) x1 = W;
          for (int64_t iy = y0; iy < y1; iy++) {
            for (int64_t ix = x0; ix < x1; ix++) {
              double v = X[((n * H + iy) * W + ix) * C + c];
              if (is_max)
                acc = v > acc ? v : acc;
              else
                acc += v;
              cnt++;
            }
          }
          if (!is_max) acc = cnt ? acc / (double)cnt : 0.0;
          Y[((n * Ho + oy) * Wo + ox) * C + c] = (float)acc;
        }
}

static void mean(const nn_attr *a, const nn_tensor *x, nn_tensor *y) {
  int red[NN_MAX_RANK] = {0};
  for (int i = 0; i < a->n_axes; i++) red[a->axes[i]] = 1;
  /* output strides over the input's dimensions (0 on reduced ones) */
  int64_t ost[NN_MAX_RANK], s = 1, count = 1, idx[NN_MAX_RANK] = {0};
  for (int d = x->rank - 1; d >= 0; d--) {
    if (red[d]) {
      ost[d] = 0;
      count *= x->shape[d];
    } else {
      ost[d] = s;
      s *= x->shape[d];
    }
  }
  const float *X = x->data;
  float *Y = y->data;
  int64_t no = numel(y), ni = numel(x);
  for (int64_t i = 0; i < no; i++) Y[i] = 0;
  for (int64_t i = 0; i < ni; i++) {
    int64_t o = 0;
    for (int d = 0; d < x->rank; d++) o += idx[d] * ost[d];
    Y[o] += X[i];
    for (int d = x->rank - 1; d >= 0; d--) {
      if (++idx[d] < x->shape[d]) break;
      idx[d] = 0;
    }
  }
  for (int64_t i = 0; i < no; i++) Y[i] = count ? (float)(Y[i] / (double)count) : 0.0f;
}

static void pad(const nn_attr *a, const nn_tensor *x, nn_tensor *y) {
  const float *X = x->data;
  float *Y = y->data;
  int r = x->rank;
  int64_t ostr[NN_MAX_RANK], s = 1, idx[NN_MAX_RANK] = {0};
  for (int d = r - 1; d >= 0; d--) {
    ostr[d] = s;
    s *= y->shape[d];
  }
  memset(Y, 0, (size_t)numel(y) * sizeof(float));
  int64_t n = numel(x);
  for (int64_t i = 0; i < n; i++) {
    int64_t o = 0;
    for (int d = 0; d < r; d++) o += (idx[d] + a->pads[d][0]) * ostr[d];
    Y[o] = X[i];
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < x->shape[d]) break;
      idx[d] = 0;
    }
  }
}

static void concat(const nn_node *node, const nn_tensor *const *ins, nn_tensor *y) {
  int ax = node->attr.axis;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; d++) outer *= y->shape[d];
  for (int d = ax + 1; d < y->rank; d++) inner *= y->shape[d];
  float *Y = y->data;
  int64_t yrow = y->shape[ax] * inner, off = 0;
  for (int i = 0; i < node->n_in; i++) {
    const nn_tensor *t = ins[i];
    int64_t row = t->shape[ax] * inner;
    const float *X = t->data;
    for (int64_t o = 0; o < outer; o++)
      memcpy(Y + o * yrow + off, X + o * row, (size_t)row * sizeof(float));
    off += row;
  }
}

/* TensorFlow's ResizeBilinear (NHWC): source coordinate per output index with
 * align_corners ((in-1)/(out-1) scale), half_pixel_centers ((o+0.5)*in/out-0.5, clamped
 * below at 0) or the legacy o*in/out; taps clamped to the edge. */
static void resize_coord(int64_t o, int64_t in, int64_t out, const nn_attr *a, int64_t *i0,
                         int64_t *i1, float *t) {
  float scale =
      (a->align_corners && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
  float src = a->half_pixel_centers ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
  if (src < 0.0f) src = 0.0f;
  float f = floorf(src);
  *i0 = (int64_t)f;
  if (*i0 > in - 1) *i0 = in - 1;
  *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
  *t = src - f;
}

static void resize_bilinear(const nn_attr *a, const nn_tensor *x, nn_tensor *y) {
  int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
  int64_t OH = y->shape[1], OW = y->shape[2];
  const float *X = x->data;
  float *Y = y->data;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oy = 0; oy < OH; oy++) {
      int64_t y0, y1;
      float ty;
      resize_coord(oy, H, OH, a, &y0, &y1, &ty);
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t x0, x1;
        float tx;
        resize_coord(ox, W, OW, a, &x0, &x1, &tx);
        const float *p00 = X + ((n * H + y0) * W + x0) * C, *p01 = X + ((n * H + y0) * W + x1) * C;
        const float *p10 = X + ((n * H + y1) * W + x0) * C, *p11 = X + ((n * H + y1) * W + x1) * C;
        float *q = Y + ((n * OH + oy) * OW + ox) * C;
        for (int64_t c = 0; c < C; c++) {
          float top = p00[c] + (p01[c] - p00[c]) * tx;
          float bot = p10[c] + (p11[c] - p10[c]) * tx;
          q[c] = top + (bot - top) * ty;
        }
      }
    }
}

/* Copies the box [slice_begin, slice_end) of x into y (both dense, row-major). */
static void slice(const nn_attr *a, const nn_tensor *x, nn_tensor *y) {
  int r = x->rank;
  int64_t xst[NN_MAX_RANK], s = 1, idx[NN_MAX_RANK] = {0};
  for (int d = r - 1; d >= 0; d--) {
    xst[d] = s;
    s *= x->shape[d];
  }
  const float *X = x->data;
  float *Y = y->data;
  int64_t n = numel(y);
  for (int64_t i = 0; i < n; i++) {
    int64_t o = 0;
    for (int d = 0; d < r; d++) o += (idx[d] + a->slice_begin[d]) * xst[d];
    Y[i] = X[o];
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < y->shape[d]) break;
      idx[d] = 0;
    }
  }
}

/* y[i0..] = x[...] with output dimension d taken from input dimension perm[d]. */
static void transpose(const nn_attr *a, const nn_tensor *x, nn_tensor *y) {
  int r = x->rank;
  int64_t xst[NN_MAX_RANK], s = 1, idx[NN_MAX_RANK] = {0};
  for (int d = r - 1; d >= 0; d--) {
    xst[d] = s;
    s *= x->shape[d];
  }
  const float *X = x->data;
  float *Y = y->data;
  int64_t n = numel(y);
  for (int64_t i = 0; i < n; i++) {
    int64_t o = 0;
    for (int d = 0; d < r; d++) o += idx[d] * xst[a->axes[d]];
    Y[i] = X[o];
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < y->shape[d]) break;
      idx[d] = 0;
    }
  }
}

static int is_dense(const nn_tensor *t) {
  int64_t s = 4;
  for (int d = t->rank - 1; d >= 0; d--) {
    if (t->shape[d] > 1 && t->stride[d] != s) return 0;
    s *= t->shape[d];
  }
  return 1;
}

int nn_ref_run_node(const nn_node *node, const nn_tensor *const *ins, nn_tensor *const *outs,
                    emoi_err *err) {
  if (!node || !ins || !outs || !outs[0] || !outs[0]->data)
    return emoi_fail(err, EMO_EINVAL, "nn_ref_run_node: NULL argument");
  const char *opn = nn_op_name(node->op);
  int n_req = node->op == NN_OP_CONCAT ? node->n_in : 1;
  if (node->op <= NN_OP_MINIMUM || node->op == NN_OP_PRELU) n_req = 2;
  for (int i = 0; i < n_req; i++)
    if (!ins[i] || !ins[i]->data || ins[i]->dtype != NN_F32 || !is_dense(ins[i]))
      return emoi_fail(err, EMO_EINVAL,
                       "node '%s' (%s): input %d missing, not float32 or not dense", node->name,
                       opn, i);
  if (outs[0]->dtype != NN_F32 || !is_dense(outs[0]))
    return emoi_fail(err, EMO_EINVAL, "node '%s' (%s): output not dense float32", node->name, opn);
  const nn_tensor *x = ins[0];
  nn_tensor *y = outs[0];
  const nn_tensor *b = node->n_in > 2 ? ins[2] : NULL;
  if (b && !b->data) b = NULL;
  switch (node->op) {
    case NN_OP_CONV2D: conv2d(&node->attr, x, ins[1], b, y); break;
    case NN_OP_DEPTHWISE_CONV2D: depthwise2d(&node->attr, x, ins[1], b, y); break;
    case NN_OP_FULLY_CONNECTED: fully_connected(x, ins[1], b, y); break;
    case NN_OP_ADD:
    case NN_OP_SUB:
    case NN_OP_MUL:
    case NN_OP_DIV:
    case NN_OP_MAXIMUM:
    case NN_OP_MINIMUM:
    case NN_OP_PRELU: binary(node->op, x, ins[1], y); break;
    case NN_OP_RELU:
    case NN_OP_RELU6:
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_LEAKY_RELU:
    case NN_OP_SQRT: unary(node, x, y); break;
    case NN_OP_SLICE: slice(&node->attr, x, y); break;
    case NN_OP_TRANSPOSE: transpose(&node->attr, x, y); break;
    case NN_OP_SOFTMAX: softmax(x, y); break;
    case NN_OP_MAX_POOL2D:
    case NN_OP_AVG_POOL2D: pool2d(node, x, y); break;
    case NN_OP_MEAN: mean(&node->attr, x, y); break;
    case NN_OP_PAD: pad(&node->attr, x, y); break;
    case NN_OP_RESHAPE:
      if (y->data != x->data) memmove(y->data, x->data, (size_t)numel(x) * sizeof(float));
      break;
    case NN_OP_CONCAT: concat(node, ins, y); break;
    case NN_OP_RESIZE_BILINEAR: resize_bilinear(&node->attr, x, y); break;
    default:
      return emoi_fail(err, EMO_EUNSUPPORTED, "node '%s': op %s has no reference kernel",
                       node->name, opn);
  }
  apply_clamp(&node->attr, y->data, numel(y));
  return EMO_OK;
}
