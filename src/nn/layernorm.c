/* layernorm.c: TensorFlow Lite's layer-normalisation nodes as one plan step (layernorm.h).
 *
 * The nodes, for x of shape (..., t, c), mean over the last axis keeping it:
 *   k+0  mu   = MEAN(x)              k+6  sd = SQRT(ve)
 *   k+1  nmu  = mu * m1   (m1 = -1)  k+7  rs = one / sd        (one = 1)
 *   k+2  diff = x - mu               k+8  sc = rs * gamma      (gamma: (c))
 *   k+3  sq   = diff * diff          k+9  a  = x * sc
 *   k+4  var  = MEAN(sq)             k+10 b  = nmu * sc
 *   k+5  ve   = var + eps            k+11 y  = a + b
 *   k+12 (optional) TRANSPOSE(y) of the last two axes.
 * The constants are read from the graph, not assumed. */
#include "nn/layernorm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"

struct nn_ln {
  int64_t t, c;  /* rows (every axis but the last, multiplied) and channels */
  int64_t rows;  /* the second-last axis: rows of one (rows, c) matrix */
  int transpose; /* 1: y is (..., c, t) */
  float m1, eps, one;
  float *gamma; /* (c) */
};

/* ---- Matching --------------------------------------------------------------------------- */

static int is_op(const nn_node *n, nn_op op, int n_in) {
  return n->op == op && n->n_in == n_in && n->n_out == 1 && isinf(n->attr.act_min) &&
         n->attr.act_min < 0 && isinf(n->attr.act_max) && n->attr.act_max > 0;
}

/* A constant float32 value of n elements. */
static int const_n(const nn_graph *g, int v, int64_t n) {
  if (v < 0) return 0;
  const nn_value *x = &g->values[v];
  return x->is_const && x->dtype == NN_F32 && nn_value_numel(x) == n;
}

/* Binary node n reads a and b in either order (commutative ops). */
static int reads2(const nn_node *n, int a, int b) {
  return (n->in[0] == a && n->in[1] == b) || (n->in[0] == b && n->in[1] == a);
}

/* The other input of binary node n, given one of them. */
static int other(const nn_node *n, int a) {
  return n->in[0] == a ? n->in[1] : n->in[0];
}

/* A MEAN of x over its last axis, keeping it. */
static int mean_last(const nn_graph *g, const nn_node *n, int x) {
  if (!is_op(n, NN_OP_MEAN, 1) || n->in[0] != x) return 0;
  const nn_value *xv = &g->values[x], *yv = &g->values[n->out[0]];
  const int r = xv->rank;
  if (r < 1 || yv->rank != r || n->attr.n_axes != 1 ||
      (n->attr.axes[0] != r - 1 && n->attr.axes[0] != -1))
    return 0;
  for (int d = 0; d < r - 1; d++)
    if (yv->shape[d] != xv->shape[d]) return 0;
  return yv->shape[r - 1] == 1;
}

/* No node outside [k, e) reads v, and v is not a graph output. */
static int internal(const nn_graph *g, int v, int k, int e) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == v) return 0;
  for (int j = 0; j < g->n_nodes; j++) {
    if (j >= k && j < e) continue;
    for (int s = 0; s < g->nodes[j].n_in; s++)
      if (g->nodes[j].in[s] == v) return 0;
  }
  return 1;
}

/* Same shape. */
static int same_shape(const nn_value *a, const nn_value *b) {
  if (a->rank != b->rank) return 0;
  for (int d = 0; d < a->rank; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

int nn_ln_node_count(const nn_graph *g, int k) {
  if (!g || !g->finalized || k < 0 || k + NN_LN_NODES > g->n_nodes) return 0;
  const nn_node *n = &g->nodes[k];
  if (n->n_in < 1 || n->in[0] < 0) return 0;
  const int x = n->in[0];
  const nn_value *xv = &g->values[x];
  if (xv->is_const || xv->dtype != NN_F32 || xv->rank < 2) return 0;
  const int64_t c = xv->shape[xv->rank - 1];
  if (c < 1 || nn_value_numel(xv) < 1) return 0;
  const nn_node *nm = &g->nodes[k + 1], *sb = &g->nodes[k + 2], *sq = &g->nodes[k + 3],
                *mv = &g->nodes[k + 4], *ad = &g->nodes[k + 5], *sr = &g->nodes[k + 6],
                *dv = &g->nodes[k + 7], *ms = &g->nodes[k + 8], *ma = &g->nodes[k + 9],
                *mb = &g->nodes[k + 10], *ay = &g->nodes[k + 11];
  if (!mean_last(g, n, x)) return 0;
  const int mu = n->out[0];
  if (!is_op(nm, NN_OP_MUL, 2) || (nm->in[0] != mu && nm->in[1] != mu) ||
      !const_n(g, other(nm, mu), 1))
    return 0;
  if (!is_op(sb, NN_OP_SUB, 2) || sb->in[0] != x || sb->in[1] != mu) return 0;
  const int diff = sb->out[0];
  if (!is_op(sq, NN_OP_MUL, 2) || sq->in[0] != diff || sq->in[1] != diff) return 0;
  if (!mean_last(g, mv, sq->out[0])) return 0;
  const int var = mv->out[0];
  if (!is_op(ad, NN_OP_ADD, 2) || (ad->in[0] != var && ad->in[1] != var) ||
      !const_n(g, other(ad, var), 1))
    return 0;
  if (!is_op(sr, NN_OP_SQRT, 1) || sr->in[0] != ad->out[0]) return 0;
  if (!is_op(dv, NN_OP_DIV, 2) || dv->in[1] != sr->out[0] || !const_n(g, dv->in[0], 1)) return 0;
  const int rs = dv->out[0];
  if (!is_op(ms, NN_OP_MUL, 2) || (ms->in[0] != rs && ms->in[1] != rs)) return 0;
  const int gam = other(ms, rs);
  if (!const_n(g, gam, c) || g->values[gam].shape[g->values[gam].rank - 1] != c) return 0;
  const int sc = ms->out[0];
  if (!is_op(ma, NN_OP_MUL, 2) || !reads2(ma, x, sc)) return 0;
  if (!is_op(mb, NN_OP_MUL, 2) || !reads2(mb, nm->out[0], sc)) return 0;
  if (!is_op(ay, NN_OP_ADD, 2) || !reads2(ay, ma->out[0], mb->out[0])) return 0;
  /* the shapes the elementwise nodes produce: (..., t, 1) per row, (..., t, c) per element */
  const nn_value *yv = &g->values[ay->out[0]];
  if (!same_shape(yv, xv) || !same_shape(&g->values[diff], xv) || !same_shape(&g->values[sc], xv) ||
      !same_shape(&g->values[ma->out[0]], xv) || !same_shape(&g->values[mb->out[0]], xv))
    return 0;
  const int row[5] = {nm->out[0], ad->out[0], sr->out[0], rs, var};
  for (int i = 0; i < 5; i++)
    if (!same_shape(&g->values[row[i]], &g->values[mu])) return 0;
  int e = k + NN_LN_NODES;
  /* the transpose of the last two axes, when it is y's only reader */
  if (e < g->n_nodes) {
    const nn_node *tr = &g->nodes[e];
    const int r = xv->rank;
    int ok = is_op(tr, NN_OP_TRANSPOSE, 1) ||
             (tr->op == NN_OP_TRANSPOSE && tr->n_in == 2 && tr->n_out == 1 && tr->in[1] >= 0 &&
              g->values[tr->in[1]].is_const);
    ok = ok && tr->in[0] == ay->out[0] && tr->attr.n_axes == r && internal(g, ay->out[0], k, e + 1);
    for (int d = 0; ok && d < r; d++)
      ok = tr->attr.axes[d] == (d == r - 1 ? r - 2 : d == r - 2 ? r - 1 : d);
    if (ok) e++;
  }
  /* every value made inside is read inside only (y too when the transpose is taken) */
  const int mid[10] = {mu,         nm->out[0], diff, sq->out[0], var,
                       ad->out[0], sr->out[0], rs,   sc,         ma->out[0]};
  for (int i = 0; i < 10; i++)
    if (!internal(g, mid[i], k, e)) return 0;
  if (!internal(g, mb->out[0], k, e)) return 0;
  return e - k;
}

/* ---- The step ----------------------------------------------------------------------------- */

int nn_ln_create_node(const nn_graph *g, int k, nn_ln **out, emoi_err *err) {
  *out = NULL;
  const int cnt = nn_ln_node_count(g, k);
  if (!cnt) return emoi_fail(err, EMO_EINVAL, "layernorm: nodes %d.. are not a layer norm", k);
  const nn_node *n = g->nodes + k;
  const nn_value *xv = &g->values[n->in[0]];
  nn_ln *l = calloc(1, sizeof *l);
  const int64_t c = xv->shape[xv->rank - 1];
  if (l) l->gamma = malloc((size_t)c * sizeof(float));
  if (!l || !l->gamma) {
    nn_ln_destroy(&l);
    return emoi_fail(err, EMO_ENOMEM, "layernorm: out of memory");
  }
  l->c = c;
  l->t = nn_value_numel(xv) / c;
  l->rows = xv->shape[xv->rank - 2];
  l->transpose = cnt == NN_LN_NODES + 1;
  const nn_node *nm = &n[1], *ad = &n[5], *dv = &n[7], *ms = &n[8];
  l->m1 = *(const float *)nn_graph_const_data(g, other(nm, n->out[0]));
  l->eps = *(const float *)nn_graph_const_data(g, other(ad, n[4].out[0]));
  l->one = *(const float *)nn_graph_const_data(g, dv->in[0]);
  memcpy(l->gamma, nn_graph_const_data(g, other(ms, dv->out[0])), (size_t)c * sizeof(float));
  *out = l;
  return EMO_OK;
}

void nn_ln_run(const nn_ln *l, const float *x, float *y) {
  const int64_t t = l->t, c = l->c, rows = l->rows;
  /* transposed, row i is row ii of matrix b, written as column ii of y's (c, rows) matrix b */
  for (int64_t i = 0; i < t; i++) {
    const float *xr = x + i * c;
    float s = 0.0f;
    for (int64_t j = 0; j < c; j++) s += xr[j];
    const float mu = (float)(s / (double)c);
    const float nmu = mu * l->m1;
    float s2 = 0.0f;
    for (int64_t j = 0; j < c; j++) {
      const float d = xr[j] - mu;
      const float q = d * d;
      s2 += q;
    }
    const float var = (float)(s2 / (double)c);
    const float ve = var + l->eps;
    const float sd = sqrtf(ve);
    const float rs = l->one / sd;
    for (int64_t j = 0; j < c; j++) {
      const float sc = rs * l->gamma[j];
      const float a = xr[j] * sc;
      const float b = nmu * sc;
      const float v = a + b;
      if (l->transpose)
        y[((i / rows) * c + j) * rows + i % rows] = v;
      else
        y[i * c + j] = v;
    }
  }
}

void nn_ln_destroy(nn_ln **pl) {
  if (!pl || !*pl) return;
  free((*pl)->gamma);
  free(*pl);
  *pl = NULL;
}
