/* test_layernorm.c: the fused layer-normalisation step (nn/layernorm.c) that runs TFLite's twelve
 * elementwise nodes of a layer norm (and the transpose of its last two axes that may follow) as
 * one plan step. On graphs of exactly those nodes with awkward shapes (1, 7, 13, 127 channels,
 * one row, several leading axes, rank 2 to 4), random inputs (offset, so the mean matters) and
 * random constants, the default XNNPACK plan takes the nodes as one step (nn_plan_stats) and
 * its output equals bit for bit both the same plan node by node (no_layernorm) and the
 * reference-kernel plan: the step performs the nodes' own float operations in their order.
 * Graphs that must stay node by node: an intermediate value that is also a graph output, and a
 * transpose of other axes (the norm is fused, the transpose is not). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/layernorm.h"
#include "nn/nn.h"
#include "plan_run.h"

static unsigned rng = 777;

/* x of shape xs (rank r) -> layer norm over the last axis -> y; transpose: then the last two
 * axes swapped (tperm 1) or the first two (tperm 2); leak: the variance is a second output. */
static nn_graph *ln_graph(int r, const int64_t *xs, int tperm, int leak, const float *gamma,
                          float eps, emoi_err *e) {
  nn_graph *g = NULL;
  if (nn_graph_create("layernorm_graph", &g, e)) return NULL;
  const int64_t c = xs[r - 1];
  int64_t u[NN_MAX_RANK];
  for (int d = 0; d < r; d++) u[d] = -1;
  int x = nn_graph_add_value(g, "x", NN_F32, r, xs, e);
  const float m1 = -1.0f, one = 1.0f;
  int km1 = nn_graph_add_const(g, "minus_one", NN_F32, 1, (int64_t[]){1}, &m1, sizeof m1, e);
  int keps = nn_graph_add_const(g, "eps", NN_F32, 0, NULL, &eps, sizeof eps, e);
  int kone = nn_graph_add_const(g, "one", NN_F32, 1, (int64_t[]){1}, &one, sizeof one, e);
  int kg = nn_graph_add_const(g, "gamma", NN_F32, 1, &c, gamma, sizeof(float) * (size_t)c, e);
  static const char *names[13] = {"mu", "nmu", "diff", "sq", "var", "ve", "sd",
                                  "rs", "sc",  "a",    "b",  "y",   "yt"};
  int v[13];
  for (int i = 0; i < 13; i++) v[i] = nn_graph_add_value(g, names[i], NN_F32, r, u, e);
  int lk = nn_graph_add_value(g, "leak", NN_F32, r, u, e);
  nn_attr mean = nn_attr_default();
  mean.n_axes = 1;
  mean.axes[0] = r - 1;
  mean.keepdims = 1;
  nn_graph_add_node(g, NN_OP_MEAN, &x, 1, &v[0], 1, &mean, "mean", e);
  nn_graph_add_node(g, NN_OP_MUL, (int[]){v[0], km1}, 2, &v[1], 1, NULL, "neg", e);
  nn_graph_add_node(g, NN_OP_SUB, (int[]){x, v[0]}, 2, &v[2], 1, NULL, "diff", e);
  nn_graph_add_node(g, NN_OP_MUL, (int[]){v[2], v[2]}, 2, &v[3], 1, NULL, "sq", e);
  nn_graph_add_node(g, NN_OP_MEAN, &v[3], 1, &v[4], 1, &mean, "var", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){keps, v[4]}, 2, &v[5], 1, NULL, "ve", e);
  nn_graph_add_node(g, NN_OP_SQRT, &v[5], 1, &v[6], 1, NULL, "sd", e);
  nn_graph_add_node(g, NN_OP_DIV, (int[]){kone, v[6]}, 2, &v[7], 1, NULL, "rs", e);
  nn_graph_add_node(g, NN_OP_MUL, (int[]){kg, v[7]}, 2, &v[8], 1, NULL, "sc", e);
  nn_graph_add_node(g, NN_OP_MUL, (int[]){x, v[8]}, 2, &v[9], 1, NULL, "a", e);
  nn_graph_add_node(g, NN_OP_MUL, (int[]){v[8], v[1]}, 2, &v[10], 1, NULL, "b", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){v[9], v[10]}, 2, &v[11], 1, NULL, "y", e);
  int out = v[11];
  if (tperm) {
    nn_attr t = nn_attr_default();
    t.n_axes = r;
    for (int d = 0; d < r; d++) t.axes[d] = d;
    const int p = tperm == 1 ? r - 2 : 0;
    t.axes[p] = p + 1;
    t.axes[p + 1] = p;
    nn_graph_add_node(g, NN_OP_TRANSPOSE, &v[11], 1, &v[12], 1, &t, "transpose", e);
    out = v[12];
  }
  if (leak) nn_graph_add_node(g, NN_OP_RELU, &v[4], 1, &lk, 1, NULL, "leak", e);
  if (nn_graph_set_io(g, &x, 1, (int[]){out, lk}, leak ? 2 : 1, e) || nn_graph_finalize(g, e))
    nn_graph_destroy(&g);
  return g;
}

/* Runs g on x; y gets output 0 (n floats); returns the nodes in layer-norm steps. */
static int run_plan(const nn_graph *g, nn_backend be, const nn_plan_options *o, const float *x,
                    size_t n, float *y) {
  nn_plan_stats st;
  return th_plan_run(g, be, o, x, n, y, n, &st) ? -1 : st.n_nodes_lnorm;
}

static void ln_case(int r, const int64_t *xs, int tperm, int leak, int want) {
  size_t n = 1;
  for (int d = 0; d < r; d++) n *= (size_t)xs[d];
  const int64_t c = xs[r - 1];
  float *x = malloc(n * sizeof(float)), *gamma = malloc((size_t)c * sizeof(float));
  float *y0 = malloc(3 * n * sizeof(float)), *y1 = y0 + n, *y2 = y1 + n;
  emoi_err err = {{0}};
  const float off = th_randf(&rng, -5.0f, 5.0f);
  for (size_t i = 0; i < n; i++) x[i] = off + th_randf(&rng, -2.0f, 2.0f);
  for (int64_t j = 0; j < c; j++) gamma[j] = th_randf(&rng, -1.5f, 1.5f);
  nn_graph *g = ln_graph(r, xs, tperm, leak, gamma, th_randf(&rng, 1e-6f, 1e-3f), &err);
  CHECK(g != NULL, "graph: %s", err.msg);
  if (g) {
    nn_plan_options def = {0}, nodes = {.no_layernorm = 1};
    int got = run_plan(g, NN_BACKEND_XNNPACK, &def, x, n, y0);
    int none = run_plan(g, NN_BACKEND_XNNPACK, &nodes, x, n, y1);
    run_plan(g, NN_BACKEND_REFERENCE, NULL, x, n, y2);
    const int same1 = memcmp(y0, y1, n * sizeof(float)) == 0;
    const int same2 = memcmp(y0, y2, n * sizeof(float)) == 0;
    float worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmaxf(worst, fabsf(y0[i] - y2[i]));
    printf(
        "layer norm rank %d (c %lld, n %zu) transpose %d leak %d: %d nodes fused (want %d); "
        "vs node by node %s, vs reference %s (worst %g)\n",
        r, (long long)c, n, tperm, leak, got, want, same1 ? "equal" : "DIFFERS",
        same2 ? "equal" : "DIFFERS", worst);
    CHECK(got == want, "%d nodes fused, want %d", got, want);
    CHECK(none == 0, "no_layernorm fused %d nodes", none);
    CHECK(same1 && same2, "fused layer norm differs");
  }
  nn_graph_destroy(&g);
  free(x);
  free(gamma);
  free(y0);
}

int main(void) {
  ln_case(4, (int64_t[]){1, 1, 97, 64}, 1, 0, 13); /* the blendshape network's */
  ln_case(4, (int64_t[]){1, 1, 97, 64}, 0, 0, 12);
  ln_case(3, (int64_t[]){2, 3, 5}, 1, 0, 13); /* several matrices, transposed */
  ln_case(3, (int64_t[]){1, 13, 127}, 0, 0, 12);
  ln_case(2, (int64_t[]){7, 1}, 0, 0, 12);       /* one channel: zero variance */
  ln_case(2, (int64_t[]){1, 13}, 1, 0, 13);      /* one row */
  ln_case(4, (int64_t[]){2, 2, 3, 7}, 2, 0, 12); /* a transpose of other axes: not taken */
  ln_case(3, (int64_t[]){1, 5, 7}, 0, 1, 0);     /* the variance is also an output */
  return th_finish("test_layernorm");
}
