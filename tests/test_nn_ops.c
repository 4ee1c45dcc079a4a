/* test_nn_ops.c: the NN runtime core (src/nn/graph.c, ops_ref.c, plan.c, backend_xnn.c).
 * Every op is run as a one-node graph on random inputs with awkward sizes (1, 7, 13, 127),
 * strides 1 and 2, SAME/VALID/explicit padding, dilation, depth multipliers 1 and 2 and
 * broadcasting shapes, with the XNNPACK backend and the reference kernels; outputs must
 * agree within 1e-4 relative to the output's magnitude, and the worst difference of each
 * op is printed. A few ops are also checked against hand-computed values (so the reference
 * itself is pinned), a multi-op graph and a graph with CONCAT in the middle (partitioning)
 * are compared across backends and thread counts, and finalize's errors (mismatched
 * channels, bad reshape, cycle) and SAME padding arithmetic are checked. */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "nn/nn.h"

#define TOL 1e-4

static unsigned rng = 12345u;
static double worst[NN_OP_COUNT];
static int tested[NN_OP_COUNT];

typedef enum { IN_GRAPH = 0, IN_CONST = 1, IN_ABSENT = 2 } in_kind;

typedef struct in_spec {
  in_kind kind;
  int rank;
  int64_t shape[NN_MAX_RANK];
  float lo, hi; /* random range */
} in_spec;

static in_spec S(in_kind kind, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  in_spec s = {kind, rank, {d0, d1, d2, d3, 0, 0}, -1.0f, 1.0f};
  return s;
}

static int64_t numel_of(int rank, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  return n;
}

/* Builds a one-node graph; graph inputs are returned in order of appearance in specs. */
static nn_graph *one_node(const char *label, nn_op op, const nn_attr *attr, int n_in,
                          const in_spec *specs, int out_rank, const int64_t *out_shape,
                          emoi_err *e) {
  nn_graph *g = NULL;
  if (nn_graph_create(label, &g, e)) return NULL;
  int ids[NN_MAX_NODE_IO], gin[NN_MAX_GRAPH_IO], n_gin = 0;
  for (int i = 0; i < n_in; i++) {
    char name[32];
    snprintf(name, sizeof name, "in%d", i);
    if (specs[i].kind == IN_ABSENT) {
      ids[i] = -1;
    } else if (specs[i].kind == IN_CONST) {
      int64_t n = numel_of(specs[i].rank, specs[i].shape);
      float *d = malloc((size_t)(n ? n : 1) * sizeof(float));
      for (int64_t j = 0; j < n; j++) d[j] = th_randf(&rng, specs[i].lo, specs[i].hi);
      ids[i] = nn_graph_add_const(g, name, NN_F32, specs[i].rank, specs[i].shape, d,
                                  (size_t)n * sizeof(float), e);
      free(d);
    } else {
      ids[i] = nn_graph_add_value(g, name, NN_F32, specs[i].rank, specs[i].shape, e);
      gin[n_gin++] = ids[i];
    }
    if (ids[i] < -1) {
      nn_graph_destroy(&g);
      return NULL;
    }
  }
  int64_t unk[NN_MAX_RANK] = {-1, -1, -1, -1, -1, -1};
  int out = nn_graph_add_value(g, "out", NN_F32, out_rank, out_shape ? out_shape : unk, e);
  if (out < 0 || nn_graph_add_node(g, op, ids, n_in, &out, 1, attr, label, e) < 0 ||
      nn_graph_set_io(g, gin, n_gin, &out, 1, e) || nn_graph_finalize(g, e)) {
    nn_graph_destroy(&g);
    return NULL;
  }
  return g;
}

/* Fills the plan's inputs from the specs' ranges with a fixed seed. */
static void fill_inputs(nn_plan *p, const nn_graph *g, const in_spec *specs, int n_in,
                        unsigned seed) {
  unsigned s = seed;
  int k = 0;
  for (int i = 0; i < n_in; i++) {
    if (specs[i].kind != IN_GRAPH) continue;
    float *x = nn_plan_input(p, k);
    int64_t n = nn_value_numel(&g->values[g->inputs[k]]);
    for (int64_t j = 0; j < n; j++) x[j] = th_randf(&s, specs[i].lo, specs[i].hi);
    k++;
  }
}

/* Runs g with both backends (and the XNNPACK one on tp if given); returns the worst
 * difference relative to max(1, max |ref|), or -1 on failure. Copies the reference output
 * into ref_out when non-NULL. */
static double compare_backends(const nn_graph *g, const in_spec *specs, int n_in,
                               int want_xnn_nodes, void *tp, float *ref_out, const char *label) {
  emoi_err e = {{0}};
  nn_plan *pr = NULL, *px = NULL;
  double rel = -1;
  int st = nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &pr, &e);
  CHECK(st == 0, "%s: reference plan: %s", label, e.msg);
  /* XNNPACK's own products: the placement checked below is XNNPACK's on every CPU (without
     AVX-512 the default puts float products on emo's GEMM, test_sgemm's subject) */
  const nn_plan_options xo = {.gemm = NN_GEMM_XNNPACK};
  st = st ? st : nn_plan_create_ex(g, NN_BACKEND_XNNPACK, tp, &xo, &px, &e);
  CHECK(st == 0, "%s: xnnpack plan: %s", label, e.msg);
  if (st) goto done;
  nn_plan_stats ss;
  nn_plan_get_stats(px, &ss);
  CHECK(ss.n_xnn_rejected == 0, "%s: XNNPACK rejected %d nodes", label, ss.n_xnn_rejected);
  if (want_xnn_nodes >= 0)
    CHECK(ss.n_nodes_xnn == want_xnn_nodes, "%s: %d nodes on XNNPACK, expected %d", label,
          ss.n_nodes_xnn, want_xnn_nodes);
  fill_inputs(pr, g, specs, n_in, 777);
  fill_inputs(px, g, specs, n_in, 777);
  st = nn_plan_run(pr, &e);
  CHECK(st == 0, "%s: reference run: %s", label, e.msg);
  if (!st) st = nn_plan_run(px, &e);
  CHECK(st == 0, "%s: xnnpack run: %s", label, e.msg);
  if (st) goto done;
  rel = 0;
  for (int o = 0; o < g->n_outputs; o++) {
    const float *a = nn_plan_output(pr, o), *b = nn_plan_output(px, o);
    int64_t n = nn_value_numel(&g->values[g->outputs[o]]);
    double mx = 1, d = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
      if (fabs(a[i]) > mx) mx = fabs(a[i]);
      if (!isfinite(a[i]) || !isfinite(b[i])) finite = 0;
      if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    }
    CHECK(finite, "%s: non-finite output", label);
    if (d / mx > rel) rel = d / mx;
    if (o == 0 && ref_out) memcpy(ref_out, a, (size_t)n * sizeof(float));
  }
done:
  nn_plan_destroy(&pr);
  nn_plan_destroy(&px);
  return rel;
}

/* One op case: build, compare, record the worst difference. want_xnn: 1 the node must run
 * on XNNPACK, 0 it must run on the reference kernels. */
static void op_case(const char *label, nn_op op, const nn_attr *attr, int n_in,
                    const in_spec *specs, int want_xnn) {
  emoi_err e = {{0}};
  nn_graph *g = one_node(label, op, attr, n_in, specs, 4, NULL, &e);
  CHECK(g != NULL, "%s: build: %s", label, e.msg);
  if (!g) return;
  double rel = compare_backends(g, specs, n_in, want_xnn, NULL, NULL, label);
  CHECK(rel >= 0 && rel <= TOL, "%s: worst relative difference %.3g", label, rel);
  if (rel > worst[op]) worst[op] = rel;
  tested[op]++;
  nn_graph_destroy(&g);
}

static nn_attr conv_attr(int stride, nn_padding pad, int dil) {
  nn_attr a = nn_attr_default();
  a.stride_h = a.stride_w = stride;
  a.padding = pad;
  a.dilation_h = a.dilation_w = dil;
  return a;
}

static void test_conv(void) {
  struct {
    int h, w, ci, co, kh, kw, s, d, bias;
    nn_padding pad;
    float lo, hi;
  } cs[] = {
      {13, 7, 3, 5, 3, 3, 1, 1, 1, NN_PAD_SAME, -INFINITY, INFINITY},
      {7, 13, 1, 1, 1, 1, 1, 1, 1, NN_PAD_VALID, -INFINITY, INFINITY},
      {13, 13, 7, 127, 3, 3, 2, 1, 1, NN_PAD_SAME, 0, INFINITY},
      {13, 13, 127, 7, 3, 3, 2, 1, 0, NN_PAD_VALID, -INFINITY, INFINITY},
      {13, 7, 7, 13, 3, 2, 1, 2, 1, NN_PAD_SAME, 0, 6},
      {7, 7, 13, 7, 5, 5, 2, 1, 1, NN_PAD_EXPLICIT, -0.5f, 0.5f},
      {1, 1, 127, 13, 1, 1, 1, 1, 1, NN_PAD_VALID, -INFINITY, INFINITY},
      {16, 16, 3, 24, 5, 5, 2, 1, 1, NN_PAD_SAME, -INFINITY, INFINITY},
      {7, 7, 3, 5, 1, 1, 2, 1, 1, NN_PAD_EXPLICIT, -INFINITY, INFINITY},
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    nn_attr a = conv_attr(cs[i].s, cs[i].pad, cs[i].d);
    if (cs[i].pad == NN_PAD_EXPLICIT) {
      /* the 1x1 case pads wider than its kernel */
      a.pad_top = 1;
      a.pad_bottom = 2;
      a.pad_left = cs[i].kh == 1 ? 3 : 0;
      a.pad_right = 1;
    }
    a.act_min = cs[i].lo;
    a.act_max = cs[i].hi;
    in_spec sp[3] = {S(IN_GRAPH, 4, i == 3 ? 2 : 1, cs[i].h, cs[i].w, cs[i].ci),
                     S(IN_CONST, 4, cs[i].co, cs[i].kh, cs[i].kw, cs[i].ci),
                     S(cs[i].bias ? IN_CONST : IN_ABSENT, 1, cs[i].co, 0, 0, 0)};
    char label[64];
    snprintf(label, sizeof label, "conv%zu", i);
    op_case(label, NN_OP_CONV2D, &a, 3, sp, 1);
  }
}

static void test_depthwise(void) {
  struct {
    int h, w, c, m, k, s, d;
    nn_padding pad;
    int bias;
  } cs[] = {
      {13, 7, 1, 1, 3, 1, 1, NN_PAD_SAME, 1},   {13, 13, 7, 2, 3, 2, 1, NN_PAD_SAME, 1},
      {7, 13, 13, 1, 3, 2, 1, NN_PAD_VALID, 0}, {13, 13, 127, 1, 5, 1, 1, NN_PAD_SAME, 1},
      {13, 13, 7, 1, 3, 1, 2, NN_PAD_SAME, 1},  {7, 7, 13, 2, 3, 1, 1, NN_PAD_EXPLICIT, 1},
      {16, 16, 24, 1, 5, 2, 1, NN_PAD_SAME, 1}, {1, 1, 7, 2, 1, 1, 1, NN_PAD_VALID, 1},
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    nn_attr a = conv_attr(cs[i].s, cs[i].pad, cs[i].d);
    if (cs[i].pad == NN_PAD_EXPLICIT) {
      a.pad_top = 0;
      a.pad_bottom = 2;
      a.pad_left = 1;
      a.pad_right = 1;
    }
    if (i == 1) a.act_min = 0, a.act_max = 6;
    int64_t cm = (int64_t)cs[i].c * cs[i].m;
    in_spec sp[3] = {S(IN_GRAPH, 4, 1, cs[i].h, cs[i].w, cs[i].c),
                     S(IN_CONST, 4, 1, cs[i].k, cs[i].k, cm),
                     S(cs[i].bias ? IN_CONST : IN_ABSENT, 1, cm, 0, 0, 0)};
    char label[64];
    snprintf(label, sizeof label, "depthwise%zu", i);
    op_case(label, NN_OP_DEPTHWISE_CONV2D, &a, 3, sp, 1);
  }
}

static void test_fc(void) {
  nn_attr a = nn_attr_default();
  in_spec s0[3] = {S(IN_GRAPH, 2, 1, 127, 0, 0), S(IN_CONST, 2, 13, 127, 0, 0),
                   S(IN_CONST, 1, 13, 0, 0, 0)};
  op_case("fc_1x127", NN_OP_FULLY_CONNECTED, &a, 3, s0, 1);
  in_spec s1[3] = {S(IN_GRAPH, 2, 3, 7, 0, 0), S(IN_CONST, 2, 1, 7, 0, 0),
                   S(IN_ABSENT, 1, 1, 0, 0, 0)};
  op_case("fc_3x7_nobias", NN_OP_FULLY_CONNECTED, &a, 3, s1, 1);
  /* flattening a (1,2,2,7) input into rows of 28 */
  a.act_min = 0;
  in_spec s2[3] = {S(IN_GRAPH, 4, 1, 2, 2, 7), S(IN_CONST, 2, 7, 28, 0, 0),
                   S(IN_CONST, 1, 7, 0, 0, 0)};
  op_case("fc_flatten_relu", NN_OP_FULLY_CONNECTED, &a, 3, s2, 1);
  /* (1,1,1,13) input, last dim is In */
  in_spec s3[3] = {S(IN_GRAPH, 4, 1, 1, 1, 13), S(IN_CONST, 2, 127, 13, 0, 0),
                   S(IN_CONST, 1, 127, 0, 0, 0)};
  op_case("fc_4d_in", NN_OP_FULLY_CONNECTED, &a, 3, s3, 1);
  /* a declared (1,1,1,Out) output (TFLite keep_num_dims) is kept */
  emoi_err e = {{0}};
  int64_t keep[4] = {1, 1, 1, 127};
  nn_graph *g = one_node("fc_keepdims", NN_OP_FULLY_CONNECTED, &a, 3, s3, 4, keep, &e);
  CHECK(g != NULL, "fc_keepdims: %s", e.msg);
  if (g) {
    CHECK(g->values[g->outputs[0]].rank == 4, "fc keepdims lost");
    double rel = compare_backends(g, s3, 3, 1, NULL, NULL, "fc_keepdims");
    CHECK(rel >= 0 && rel <= TOL, "fc_keepdims: %g", rel);
    nn_graph_destroy(&g);
  }
}

static void test_binary(void) {
  const nn_op ops[] = {NN_OP_ADD, NN_OP_SUB, NN_OP_MUL, NN_OP_DIV, NN_OP_MAXIMUM, NN_OP_MINIMUM};
  in_spec shapes[][2] = {
      {S(IN_GRAPH, 4, 1, 7, 13, 3), S(IN_GRAPH, 4, 1, 7, 13, 3)},
      {S(IN_GRAPH, 4, 1, 7, 13, 3), S(IN_CONST, 1, 3, 0, 0, 0)},
      {S(IN_GRAPH, 4, 1, 7, 1, 3), S(IN_GRAPH, 4, 1, 1, 13, 1)},
      {S(IN_GRAPH, 1, 127, 0, 0, 0), S(IN_CONST, 0, 0, 0, 0, 0)},
      {S(IN_GRAPH, 3, 13, 1, 7, 0), S(IN_GRAPH, 2, 127, 1, 0, 0)},
      {S(IN_CONST, 2, 7, 1, 0, 0), S(IN_GRAPH, 4, 2, 1, 1, 13)},
  };
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      in_spec sp[2] = {shapes[i][0], shapes[i][1]};
      if (ops[o] == NN_OP_DIV) sp[1].lo = 0.5f, sp[1].hi = 2.0f;
      nn_attr a = nn_attr_default();
      if (i == 1) a.act_min = -0.25f, a.act_max = 0.5f;
      char label[64];
      snprintf(label, sizeof label, "%s_%zu", nn_op_name(ops[o]), i);
      /* a constant first operand is left to the reference kernels (no constant folding) */
      op_case(label, ops[o], &a, 2, sp, sp[0].kind == IN_CONST ? 0 : 1);
    }
  /* rank-6 broadcasting */
  in_spec r6[2] = {{IN_GRAPH, 6, {2, 3, 1, 4, 1, 5}, -1, 1}, {IN_GRAPH, 4, {3, 1, 6, 1}, -1, 1}};
  op_case("ADD_rank6", NN_OP_ADD, NULL, 2, r6, 1);
  op_case("MUL_rank6", NN_OP_MUL, NULL, 2, r6, 1);
}

static void test_unary(void) {
  const nn_op ops[] = {NN_OP_RELU, NN_OP_RELU6, NN_OP_SIGMOID, NN_OP_TANH, NN_OP_LEAKY_RELU};
  in_spec shapes[] = {S(IN_GRAPH, 4, 1, 7, 13, 3), S(IN_GRAPH, 1, 127, 0, 0, 0),
                      S(IN_GRAPH, 4, 1, 1, 1, 1)};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      in_spec sp = shapes[i];
      sp.lo = -8;
      sp.hi = 8;
      nn_attr a = nn_attr_default();
      a.alpha = 0.1f;
      if (i == 2) a.act_min = -0.5f, a.act_max = 0.75f;
      char label[64];
      snprintf(label, sizeof label, "%s_%zu", nn_op_name(ops[o]), i);
      op_case(label, ops[o], &a, 1, &sp, ops[o] == NN_OP_TANH ? 0 : 1);
    }
}

static void test_prelu_softmax(void) {
  nn_attr a = nn_attr_default();
  in_spec p0[2] = {S(IN_GRAPH, 4, 1, 7, 13, 5), S(IN_CONST, 1, 5, 0, 0, 0)};
  op_case("prelu_c5", NN_OP_PRELU, &a, 2, p0, 1);
  in_spec p1[2] = {S(IN_GRAPH, 4, 1, 13, 7, 127), S(IN_CONST, 3, 1, 1, 127, 0)};
  op_case("prelu_c127_3d_alpha", NN_OP_PRELU, &a, 2, p1, 1);
  in_spec p2[2] = {S(IN_GRAPH, 4, 1, 7, 13, 3), S(IN_GRAPH, 4, 1, 7, 1, 1)};
  op_case("prelu_broadcast_ref", NN_OP_PRELU, &a, 2, p2, 0);
  a.act_min = -0.1f;
  op_case("prelu_clamped", NN_OP_PRELU, &a, 2, p0, 1);

  nn_attr sa = nn_attr_default();
  sa.axis = -1;
  in_spec s0 = S(IN_GRAPH, 2, 1, 7, 0, 0);
  op_case("softmax_1x7", NN_OP_SOFTMAX, &sa, 1, &s0, 1);
  in_spec s1 = S(IN_GRAPH, 2, 3, 127, 0, 0);
  s1.lo = -50;
  s1.hi = 50;
  op_case("softmax_3x127_big", NN_OP_SOFTMAX, &sa, 1, &s1, 1);
  in_spec s2 = S(IN_GRAPH, 3, 1, 13, 1, 0);
  op_case("softmax_c1", NN_OP_SOFTMAX, &sa, 1, &s2, 1);
}

static void test_pool(void) {
  struct {
    int h, w, c, kh, kw, s;
    nn_padding pad;
    int xnn;
  } cs[] = {
      {13, 7, 3, 2, 2, 2, NN_PAD_VALID, 1}, {13, 13, 7, 3, 3, 2, NN_PAD_SAME, 1},
      {7, 13, 13, 3, 3, 1, NN_PAD_SAME, 1}, {7, 7, 127, 2, 3, 1, NN_PAD_EXPLICIT, 1},
      {7, 7, 1, 1, 1, 2, NN_PAD_VALID, 0},  {1, 1, 13, 1, 1, 1, NN_PAD_SAME, 0},
      {16, 16, 8, 2, 2, 2, NN_PAD_SAME, 1}, {9, 9, 3, 2, 2, 3, NN_PAD_VALID, 1},
  };
  for (int op = NN_OP_MAX_POOL2D; op <= NN_OP_AVG_POOL2D; op++)
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
      nn_attr a = conv_attr(cs[i].s, cs[i].pad, 1);
      a.kernel_h = cs[i].kh;
      a.kernel_w = cs[i].kw;
      if (cs[i].pad == NN_PAD_EXPLICIT) a.pad_top = 1, a.pad_left = 1, a.pad_right = 2;
      if (i == 1) a.act_min = 0;
      in_spec sp = S(IN_GRAPH, 4, 1, cs[i].h, cs[i].w, cs[i].c);
      char label[64];
      snprintf(label, sizeof label, "%s_%zu", nn_op_name((nn_op)op), i);
      op_case(label, (nn_op)op, &a, 1, &sp, cs[i].xnn);
    }
}

static void test_mean_pad_reshape_concat(void) {
  struct {
    int n, axes[4], keep, xnn;
  } ms[] = {
      {2, {1, 2}, 1, 1},       {2, {2, 1}, 0, 1}, {1, {-1}, 1, 0},
      {4, {0, 1, 2, 3}, 0, 0}, {1, {2}, 0, 0},    {0, {0}, 1, 0},
  };
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
    nn_attr a = nn_attr_default();
    a.n_axes = ms[i].n;
    for (int j = 0; j < ms[i].n; j++) a.axes[j] = ms[i].axes[j];
    a.keepdims = ms[i].keep;
    in_spec sp = S(IN_GRAPH, 4, 1, 13, 7, i == 0 ? 127 : 3);
    char label[64];
    snprintf(label, sizeof label, "mean_%zu", i);
    op_case(label, NN_OP_MEAN, &a, 1, &sp, ms[i].xnn);
  }
  nn_attr pa = nn_attr_default();
  pa.pads[1][0] = 1, pa.pads[1][1] = 2, pa.pads[2][0] = 3, pa.pads[3][1] = 1;
  in_spec p0 = S(IN_GRAPH, 4, 1, 7, 13, 3);
  op_case("pad_4d", NN_OP_PAD, &pa, 1, &p0, 1);
  nn_attr pb = nn_attr_default();
  pb.pads[0][1] = 2, pb.pads[1][0] = 1;
  in_spec p1 = S(IN_GRAPH, 2, 7, 13, 0, 0);
  op_case("pad_2d", NN_OP_PAD, &pb, 1, &p1, 1);

  /* reshape: the output value carries the target shape */
  emoi_err e = {{0}};
  in_spec r0 = S(IN_GRAPH, 4, 1, 7, 13, 3);
  int64_t tgt[2] = {1, -1};
  nn_graph *g = one_node("reshape", NN_OP_RESHAPE, NULL, 1, &r0, 2, tgt, &e);
  CHECK(g != NULL, "reshape: %s", e.msg);
  if (g) {
    const nn_value *o = &g->values[g->outputs[0]];
    CHECK(o->rank == 2 && o->shape[0] == 1 && o->shape[1] == 273, "reshape -1 resolved to %lld",
          (long long)o->shape[1]);
    double rel = compare_backends(g, &r0, 1, 1, NULL, NULL, "reshape");
    CHECK(rel == 0, "reshape differs: %g", rel);
    tested[NN_OP_RESHAPE]++;
    nn_graph_destroy(&g);
  }

  nn_attr ca = nn_attr_default();
  ca.axis = -1;
  in_spec c0[2] = {S(IN_GRAPH, 4, 1, 7, 13, 3), S(IN_GRAPH, 4, 1, 7, 13, 5)};
  op_case("concat_last", NN_OP_CONCAT, &ca, 2, c0, 0);
  ca.axis = 1;
  in_spec c1[3] = {S(IN_GRAPH, 4, 1, 7, 13, 3), S(IN_CONST, 4, 1, 1, 13, 3),
                   S(IN_GRAPH, 4, 1, 13, 13, 3)};
  op_case("concat_axis1", NN_OP_CONCAT, &ca, 3, c1, 0);
}

/* Hand-computed values pin the reference kernels themselves. */
/* RESIZE_BILINEAR: three sampling modes, up and down, awkward sizes; plus known values of
 * a 2x2 -> 4x4 half-pixel upsampling (TensorFlow's ResizeBilinear with
 * half_pixel_centers=True gives, per row, [a, a+.25d, a+.75d, b] for a row [a, b]). */
static void test_resize(void) {
  const int sizes[3][2] = {{14, 26}, {3, 5}, {1, 1}};
  for (int mode = 0; mode < 3; mode++)
    for (int k = 0; k < 3; k++) {
      nn_attr a = nn_attr_default();
      a.out_h = sizes[k][0];
      a.out_w = sizes[k][1];
      a.align_corners = mode == 1;
      a.half_pixel_centers = mode == 2;
      in_spec x = S(IN_GRAPH, 4, 1, 7, 13, 3);
      char label[64];
      snprintf(label, sizeof label, "resize_mode%d_%dx%d", mode, a.out_h, a.out_w);
      op_case(label, NN_OP_RESIZE_BILINEAR, &a, 1, &x, 1);
    }
  emoi_err e = {{0}};
  nn_graph *g;
  nn_graph_create("resize_known", &g, &e);
  int64_t xs[4] = {1, 2, 2, 1}, u[4] = {-1, -1, -1, -1};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, &e);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, u, &e);
  nn_attr a = nn_attr_default();
  a.out_h = a.out_w = 4;
  a.half_pixel_centers = 1;
  nn_graph_add_node(g, NN_OP_RESIZE_BILINEAR, &x, 1, &y, 1, &a, "resize", &e);
  nn_graph_set_io(g, &x, 1, &y, 1, &e);
  int st = nn_graph_finalize(g, &e);
  CHECK(st == 0, "resize known: %s", e.msg);
  for (int be = 0; be < 2 && !st; be++) {
    nn_plan *p = NULL;
    if (nn_plan_create(g, (nn_backend)be, NULL, &p, &e)) {
      CHECK(0, "resize plan: %s", e.msg);
      break;
    }
    const float in[4] = {0, 4, 8, 12};
    memcpy(nn_plan_input(p, 0), in, sizeof in);
    CHECK(nn_plan_run(p, &e) == 0, "resize run: %s", e.msg);
    const float row[4] = {0, 1, 3, 4}, col[4] = {0, 2, 6, 8};
    const float *o = nn_plan_output(p, 0);
    for (int i = 0; i < 16; i++) {
      float want = col[i / 4] + row[i % 4];
      CHECK(fabsf(o[i] - want) < 1e-5f, "backend %d: resize[%d] = %g, want %g", be, i, o[i], want);
    }
    nn_plan_destroy(&p);
  }
  nn_graph_destroy(&g);
}

static void test_known_values(void) {
  emoi_err e = {{0}};
  /* 3x3 input 1..9, 2x2 all-ones kernel, bias 0.5, SAME stride 1: pads bottom/right only */
  float w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
  nn_graph *g;
  nn_graph_create("known", &g, &e);
  int64_t xs[4] = {1, 3, 3, 1}, ws[4] = {1, 2, 2, 1}, bs[1] = {1}, u[4] = {-1, -1, -1, -1};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, &e);
  int wi = nn_graph_add_const(g, "w", NN_F32, 4, ws, w, sizeof w, &e);
  int bi = nn_graph_add_const(g, "b", NN_F32, 1, bs, b, sizeof b, &e);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, u, &e);
  int z = nn_graph_add_value(g, "z", NN_F32, 4, u, &e);
  nn_attr a = conv_attr(1, NN_PAD_SAME, 1);
  int in[3] = {x, wi, bi};
  nn_graph_add_node(g, NN_OP_CONV2D, in, 3, &y, 1, &a, "conv", &e);
  nn_attr pa = conv_attr(2, NN_PAD_SAME, 1);
  pa.kernel_h = pa.kernel_w = 2;
  nn_graph_add_node(g, NN_OP_AVG_POOL2D, &y, 1, &z, 1, &pa, "avg", &e);
  nn_graph_set_io(g, &x, 1, &z, 1, &e);
  int st = nn_graph_finalize(g, &e);
  CHECK(st == 0, "known: %s", e.msg);
  for (int be = 0; be < 2 && !st; be++) {
    nn_plan *p = NULL;
    if (nn_plan_create(g, (nn_backend)be, NULL, &p, &e)) {
      CHECK(0, "known plan: %s", e.msg);
      break;
    }
    for (int i = 0; i < 9; i++) nn_plan_input(p, 0)[i] = (float)(i + 1);
    CHECK(nn_plan_run(p, &e) == 0, "known run: %s", e.msg);
    /* conv: [[12.5,16.5,9.5],[24.5,28.5,15.5],[15.5,17.5,9.5]]; avg 2x2/2 SAME (out 2x2,
       pad bottom/right 1, padding not counted): [20.5, 12.5, 16.5, 9.5] */
    const float want[4] = {20.5f, 12.5f, 16.5f, 9.5f};
    const float *o = nn_plan_output(p, 0);
    for (int i = 0; i < 4; i++)
      CHECK(fabsf(o[i] - want[i]) < 1e-5f, "backend %d: known[%d] = %g, want %g", be, i, o[i],
            want[i]);
    nn_plan_destroy(&p);
  }
  nn_graph_destroy(&g);

  /* softmax of (0, ln 3) = (0.25, 0.75); depthwise M=2 channel order */
  nn_graph_create("known2", &g, &e);
  int64_t s2[2] = {1, 2};
  x = nn_graph_add_value(g, "x", NN_F32, 2, s2, &e);
  y = nn_graph_add_value(g, "y", NN_F32, 2, s2, &e);
  nn_attr sa = nn_attr_default();
  sa.axis = -1;
  nn_graph_add_node(g, NN_OP_SOFTMAX, &x, 1, &y, 1, &sa, "sm", &e);
  nn_graph_set_io(g, &x, 1, &y, 1, &e);
  CHECK(nn_graph_finalize(g, &e) == 0, "known2: %s", e.msg);
  nn_plan *p = NULL;
  if (nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &p, &e) == 0) {
    nn_plan_input(p, 0)[0] = 0;
    nn_plan_input(p, 0)[1] = logf(3);
    nn_plan_run(p, &e);
    CHECK(fabsf(nn_plan_output(p, 0)[0] - 0.25f) < 1e-6f &&
              fabsf(nn_plan_output(p, 0)[1] - 0.75f) < 1e-6f,
          "softmax known values");
  }
  nn_plan_destroy(&p);
  nn_graph_destroy(&g);

  nn_graph_create("known3", &g, &e);
  int64_t dx[4] = {1, 1, 1, 2}, dw[4] = {1, 1, 1, 4};
  float dwv[4] = {1, 10, 100, 1000};
  x = nn_graph_add_value(g, "x", NN_F32, 4, dx, &e);
  wi = nn_graph_add_const(g, "w", NN_F32, 4, dw, dwv, sizeof dwv, &e);
  y = nn_graph_add_value(g, "y", NN_F32, 4, u, &e);
  int din[2] = {x, wi};
  nn_graph_add_node(g, NN_OP_DEPTHWISE_CONV2D, din, 2, &y, 1, NULL, "dw", &e);
  nn_graph_set_io(g, &x, 1, &y, 1, &e);
  CHECK(nn_graph_finalize(g, &e) == 0, "known3: %s", e.msg);
  for (int be = 0; be < 2; be++) {
    p = NULL;
    if (nn_plan_create(g, (nn_backend)be, NULL, &p, &e) == 0) {
      nn_plan_input(p, 0)[0] = 2;
      nn_plan_input(p, 0)[1] = 3;
      nn_plan_run(p, &e);
      const float *o = nn_plan_output(p, 0);
      /* output channel c*M+m reads input channel c: (2*1, 2*10, 3*100, 3*1000) */
      CHECK(o[0] == 2 && o[1] == 20 && o[2] == 300 && o[3] == 3000,
            "backend %d: depthwise M=2 order: %g %g %g %g", be, o[0], o[1], o[2], o[3]);
    }
    nn_plan_destroy(&p);
  }
  nn_graph_destroy(&g);
}

static int rand_const(nn_graph *g, const char *name, int rank, const int64_t *shape, emoi_err *e) {
  int64_t n = numel_of(rank, shape);
  float *d = malloc((size_t)n * sizeof(float));
  for (int64_t j = 0; j < n; j++) d[j] = th_randf(&rng, -0.5f, 0.5f);
  int id = nn_graph_add_const(g, name, NN_F32, rank, shape, d, (size_t)n * sizeof(float), e);
  free(d);
  return id;
}

/* conv -> relu -> depthwise -> add(residual) -> maxpool -> mean -> fc -> softmax; with
 * concat_mid, a CONCAT of the relu output and the input sits before the depthwise. */
static nn_graph *multi_graph(int concat_mid, emoi_err *e) {
  nn_graph *g = NULL;
  nn_graph_create(concat_mid ? "multi_concat" : "multi", &g, e);
  int64_t xs[4] = {1, 16, 16, 3}, u[4] = {-1, -1, -1, -1};
  int C = 8, Cd = concat_mid ? C + 3 : C;
  int x = nn_graph_add_value(g, "input", NN_F32, 4, xs, e);
  int w1 = rand_const(g, "w1", 4, (int64_t[]){C, 3, 3, 3}, e);
  int b1 = rand_const(g, "b1", 1, (int64_t[]){C}, e);
  int wd = rand_const(g, "wd", 4, (int64_t[]){1, 3, 3, Cd * 2}, e);
  int bd = rand_const(g, "bd", 1, (int64_t[]){Cd * 2}, e);
  int wr = rand_const(g, "wr", 4, (int64_t[]){Cd * 2, 1, 1, C}, e);
  int br = rand_const(g, "br", 1, (int64_t[]){Cd * 2}, e);
  int wf = rand_const(g, "wf", 2, (int64_t[]){7, Cd * 2}, e);
  int bf = rand_const(g, "bf", 1, (int64_t[]){7}, e);
  int v[12];
  for (int i = 0; i < 12; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "v%d", i);
    v[i] = nn_graph_add_value(g, nm, NN_F32, 4, u, e);
  }
  nn_attr a = conv_attr(2, NN_PAD_SAME, 1);
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){x, w1, b1}, 3, &v[0], 1, &a, "conv1", e);
  nn_graph_add_node(g, NN_OP_RELU, &v[0], 1, &v[1], 1, NULL, "relu", e);
  int dw_in = v[1];
  if (concat_mid) {
    /* the input, pooled to 8x8 to match, joins the relu output along channels */
    nn_attr pa = conv_attr(2, NN_PAD_VALID, 1);
    pa.kernel_h = pa.kernel_w = 2;
    nn_graph_add_node(g, NN_OP_AVG_POOL2D, &x, 1, &v[9], 1, &pa, "pool_in", e);
    nn_attr ca = nn_attr_default();
    ca.axis = -1;
    nn_graph_add_node(g, NN_OP_CONCAT, (int[]){v[1], v[9]}, 2, &v[10], 1, &ca, "concat", e);
    dw_in = v[10];
  }
  nn_attr da = conv_attr(1, NN_PAD_SAME, 1);
  da.act_min = 0, da.act_max = 6;
  nn_graph_add_node(g, NN_OP_DEPTHWISE_CONV2D, (int[]){dw_in, wd, bd}, 3, &v[2], 1, &da, "dw", e);
  nn_attr r = conv_attr(1, NN_PAD_VALID, 1);
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){v[1], wr, br}, 3, &v[3], 1, &r, "residual", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){v[2], v[3]}, 2, &v[4], 1, NULL, "add", e);
  nn_attr pa = conv_attr(2, NN_PAD_SAME, 1);
  pa.kernel_h = pa.kernel_w = 3;
  nn_graph_add_node(g, NN_OP_MAX_POOL2D, &v[4], 1, &v[5], 1, &pa, "maxpool", e);
  nn_attr ma = nn_attr_default();
  ma.n_axes = 2, ma.axes[0] = 1, ma.axes[1] = 2;
  nn_graph_add_node(g, NN_OP_MEAN, &v[5], 1, &v[6], 1, &ma, "mean", e);
  nn_graph_add_node(g, NN_OP_FULLY_CONNECTED, (int[]){v[6], wf, bf}, 3, &v[7], 1, NULL, "fc", e);
  nn_attr sa = nn_attr_default();
  sa.axis = -1;
  nn_graph_add_node(g, NN_OP_SOFTMAX, &v[7], 1, &v[8], 1, &sa, "softmax", e);
  /* a dead branch that finalize must drop */
  nn_graph_add_node(g, NN_OP_TANH, &v[0], 1, &v[11], 1, NULL, "dead", e);
  nn_graph_set_io(g, &x, 1, &v[8], 1, e);
  if (nn_graph_finalize(g, e)) nn_graph_destroy(&g);
  return g;
}

static int node_index(const nn_graph *g, const char *name) {
  for (int k = 0; k < g->n_nodes; k++)
    if (strcmp(g->nodes[k].name, name) == 0) return k;
  return -1;
}

static void test_graphs(void) {
  emoi_err e = {{0}};
  in_spec in = S(IN_GRAPH, 4, 1, 16, 16, 3);
  nn_graph *g = multi_graph(0, &e);
  CHECK(g != NULL, "multi: %s", e.msg);
  if (g) {
    CHECK(g->n_nodes == 9 && node_index(g, "dead") < 0, "dead branch kept (%d nodes)", g->n_nodes);
    float r1[7], r2[7];
    double rel = compare_backends(g, &in, 1, 9, NULL, r1, "multi");
    CHECK(rel >= 0 && rel <= TOL, "multi: %g", rel);
    double sum = 0;
    for (int i = 0; i < 7; i++) sum += r1[i];
    CHECK(fabs(sum - 1) < 1e-5, "multi: softmax sums to %g", sum);
    printf("  multi-op graph (9 nodes, all XNNPACK): worst rel diff %.3g\n", rel);
    nn_plan *p = NULL;
    const nn_plan_options xo = {.gemm = NN_GEMM_XNNPACK}; /* as compare_backends */
    if (nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &xo, &p, &e) == 0) {
      int kc = node_index(g, "conv1"), kd = node_index(g, "dw");
      CHECK(nn_plan_node_backend(p, kc) == NN_BACKEND_XNNPACK, "conv1 not on XNNPACK");
      CHECK(nn_plan_node_backend(p, kd) == NN_BACKEND_XNNPACK, "dw not on XNNPACK");
      nn_plan_stats s;
      nn_plan_get_stats(p, &s);
      CHECK(s.n_xnn_runs == 1, "multi: %d runs", s.n_xnn_runs);
    }
    nn_plan_destroy(&p);
    /* 1 vs 2 threads */
    pthreadpool_t tp = pthreadpool_create(2);
    CHECK(tp != NULL, "pthreadpool_create(2)");
    double rel2 = compare_backends(g, &in, 1, 9, tp, r2, "multi_2threads");
    CHECK(rel2 >= 0 && rel2 <= TOL, "multi 2 threads: %g", rel2);
    nn_plan *p1 = NULL, *p2 = NULL;
    if (nn_plan_create(g, NN_BACKEND_XNNPACK, NULL, &p1, &e) == 0 &&
        nn_plan_create(g, NN_BACKEND_XNNPACK, tp, &p2, &e) == 0) {
      unsigned s = 99;
      for (int i = 0; i < 16 * 16 * 3; i++)
        nn_plan_input(p1, 0)[i] = nn_plan_input(p2, 0)[i] = th_randf(&s, -1, 1);
      nn_plan_run(p1, &e);
      nn_plan_run(p2, &e);
      nn_plan_run(p2, &e); /* running twice gives the same */
      double d = 0;
      for (int i = 0; i < 7; i++)
        d = fmax(d, fabs(nn_plan_output(p1, 0)[i] - nn_plan_output(p2, 0)[i]));
      CHECK(d <= 1e-6, "1 vs 2 threads differ by %g", d);
      printf("  multi-op graph, 1 vs 2 threads: worst abs diff %.3g\n", d);
    }
    nn_plan_destroy(&p1);
    nn_plan_destroy(&p2);
    if (tp) pthreadpool_destroy(tp);
    nn_graph_destroy(&g);
  }
  g = multi_graph(1, &e);
  CHECK(g != NULL, "multi_concat: %s", e.msg);
  if (g) {
    double rel = compare_backends(g, &in, 1, 10, NULL, NULL, "multi_concat");
    CHECK(rel >= 0 && rel <= TOL, "multi_concat: %g", rel);
    nn_plan *p = NULL;
    const nn_plan_options xo = {.gemm = NN_GEMM_XNNPACK}; /* as compare_backends */
    if (nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &xo, &p, &e) == 0) {
      nn_plan_stats s;
      nn_plan_get_stats(p, &s);
      int kc = node_index(g, "concat");
      CHECK(nn_plan_node_backend(p, kc) == NN_BACKEND_REFERENCE, "concat not on reference");
      CHECK(s.n_nodes_ref == 1 && s.n_xnn_runs == 2, "multi_concat: %d ref nodes, %d runs",
            s.n_nodes_ref, s.n_xnn_runs);
      printf(
          "  graph with CONCAT in the middle: %d XNNPACK runs, %d ref node, worst rel diff %.3g\n",
          s.n_xnn_runs, s.n_nodes_ref, rel);
    }
    nn_plan_destroy(&p);
    nn_graph_destroy(&g);
  }
}

/* relu -> add with an empty clamp range [1,1] (XNNPACK refuses output_min == output_max)
 * -> relu: the add must fall back to the reference kernels, the rest stay on XNNPACK. */
static void test_fallback(void) {
  emoi_err e = {{0}};
  nn_graph *g;
  nn_graph_create("fallback", &g, &e);
  int64_t s[4] = {1, 7, 13, 3};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, s, &e);
  int v0 = nn_graph_add_value(g, "v0", NN_F32, 4, s, &e);
  int v1 = nn_graph_add_value(g, "v1", NN_F32, 4, s, &e);
  int v2 = nn_graph_add_value(g, "v2", NN_F32, 4, s, &e);
  nn_graph_add_node(g, NN_OP_RELU, &x, 1, &v0, 1, NULL, "relu0", &e);
  nn_attr a = nn_attr_default();
  a.act_min = a.act_max = 1;
  nn_graph_add_node(g, NN_OP_ADD, (int[]){v0, x}, 2, &v1, 1, &a, "add_flat", &e);
  nn_graph_add_node(g, NN_OP_SIGMOID, &v1, 1, &v2, 1, NULL, "sigmoid", &e);
  nn_graph_set_io(g, &x, 1, &v2, 1, &e);
  CHECK(nn_graph_finalize(g, &e) == 0, "fallback: %s", e.msg);
  nn_plan *p = NULL;
  if (nn_plan_create(g, NN_BACKEND_XNNPACK, NULL, &p, &e) == 0) {
    nn_plan_stats st;
    nn_plan_get_stats(p, &st);
    CHECK(
        st.n_xnn_rejected == 1 && st.n_nodes_xnn == 2 && st.n_nodes_ref == 1 && st.n_xnn_runs == 2,
        "fallback stats: rejected %d, xnn %d, ref %d, runs %d", st.n_xnn_rejected, st.n_nodes_xnn,
        st.n_nodes_ref, st.n_xnn_runs);
    CHECK(nn_plan_node_backend(p, 1) == NN_BACKEND_REFERENCE, "add_flat not on reference");
    for (int i = 0; i < 7 * 13 * 3; i++) nn_plan_input(p, 0)[i] = (float)(i % 5) - 2;
    CHECK(nn_plan_run(p, &e) == 0, "fallback run: %s", e.msg);
    float want = (float)(1 / (1 + exp(-1.0)));
    double d = 0;
    for (int i = 0; i < 7 * 13 * 3; i++) d = fmax(d, fabs(nn_plan_output(p, 0)[i] - want));
    CHECK(d < 1e-6, "fallback output off by %g", d);
    printf("  fallback: XNNPACK refused %d node, %d runs around it, output off by %.3g\n",
           st.n_xnn_rejected, st.n_xnn_runs, d);
  } else {
    CHECK(0, "fallback plan: %s", e.msg);
  }
  nn_plan_destroy(&p);
  nn_graph_destroy(&g);
}

static int contains(const char *s, const char *sub) {
  return strstr(s, sub) != NULL;
}

static void test_errors(void) {
  emoi_err e = {{0}};
  /* conv weights with 4 input channels on a 3-channel input */
  in_spec c[2] = {S(IN_GRAPH, 4, 1, 7, 7, 3), S(IN_CONST, 4, 5, 3, 3, 4)};
  nn_graph *g = one_node("bad_conv.tflite", NN_OP_CONV2D, NULL, 2, c, 4, NULL, &e);
  CHECK(g == NULL, "mismatched channels accepted");
  CHECK(contains(e.msg, "CONV2D") && contains(e.msg, "bad_conv.tflite") &&
            contains(e.msg, "input channels"),
        "message: %s", e.msg);
  printf("  error (channels): %s\n", e.msg);
  in_spec d[2] = {S(IN_GRAPH, 4, 1, 7, 7, 3), S(IN_CONST, 4, 1, 3, 3, 4)};
  g = one_node("bad_dw", NN_OP_DEPTHWISE_CONV2D, NULL, 2, d, 4, NULL, &e);
  CHECK(g == NULL && contains(e.msg, "DEPTHWISE_CONV2D"), "depthwise: %s", e.msg);
  in_spec f[2] = {S(IN_GRAPH, 2, 1, 10, 0, 0), S(IN_CONST, 2, 4, 3, 0, 0)};
  g = one_node("bad_fc", NN_OP_FULLY_CONNECTED, NULL, 2, f, 2, NULL, &e);
  CHECK(g == NULL && contains(e.msg, "FULLY_CONNECTED"), "fc: %s", e.msg);
  in_spec b[2] = {S(IN_GRAPH, 2, 3, 4, 0, 0), S(IN_GRAPH, 2, 2, 4, 0, 0)};
  g = one_node("bad_add", NN_OP_ADD, NULL, 2, b, 2, NULL, &e);
  CHECK(g == NULL && contains(e.msg, "broadcast"), "add: %s", e.msg);

  /* inconsistent reshape: 273 elements into rows of 5 */
  in_spec r = S(IN_GRAPH, 4, 1, 7, 13, 3);
  int64_t t[2] = {5, -1};
  g = one_node("bad_reshape", NN_OP_RESHAPE, NULL, 1, &r, 2, t, &e);
  CHECK(g == NULL && contains(e.msg, "RESHAPE") && contains(e.msg, "cannot reshape"), "reshape: %s",
        e.msg);
  printf("  error (reshape): %s\n", e.msg);
  int64_t t2[3] = {-1, 3, -1};
  g = one_node("bad_reshape2", NN_OP_RESHAPE, NULL, 1, &r, 3, t2, &e);
  CHECK(g == NULL && contains(e.msg, "-1"), "reshape two -1: %s", e.msg);

  /* a cycle: a = relu(b), b = relu(a), out = relu(a) */
  nn_graph_create("cycle", &g, &e);
  int64_t s[1] = {4};
  int x = nn_graph_add_value(g, "x", NN_F32, 1, s, &e);
  int va = nn_graph_add_value(g, "a", NN_F32, 1, s, &e);
  int vb = nn_graph_add_value(g, "b", NN_F32, 1, s, &e);
  int vo = nn_graph_add_value(g, "o", NN_F32, 1, s, &e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){x, vb}, 2, &va, 1, NULL, "n_a", &e);
  nn_graph_add_node(g, NN_OP_RELU, &va, 1, &vb, 1, NULL, "n_b", &e);
  nn_graph_add_node(g, NN_OP_RELU, &va, 1, &vo, 1, NULL, "n_o", &e);
  nn_graph_set_io(g, &x, 1, &vo, 1, &e);
  CHECK(nn_graph_finalize(g, &e) != 0 && contains(e.msg, "cycle"), "cycle: %s", e.msg);
  printf("  error (cycle): %s\n", e.msg);
  nn_graph_destroy(&g);

  /* two producers; an undefined value; caps */
  nn_graph_create("misc", &g, &e);
  x = nn_graph_add_value(g, "x", NN_F32, 1, s, &e);
  va = nn_graph_add_value(g, "a", NN_F32, 1, s, &e);
  vb = nn_graph_add_value(g, "never", NN_F32, 1, s, &e);
  nn_graph_add_node(g, NN_OP_RELU, &x, 1, &va, 1, NULL, "p1", &e);
  nn_graph_add_node(g, NN_OP_RELU, &x, 1, &va, 1, NULL, "p2", &e);
  nn_graph_set_io(g, &x, 1, &va, 1, &e);
  CHECK(nn_graph_finalize(g, &e) != 0 && contains(e.msg, "also written"), "producers: %s", e.msg);
  nn_graph_destroy(&g);
  nn_graph_create("misc2", &g, &e);
  x = nn_graph_add_value(g, "x", NN_F32, 1, s, &e);
  vb = nn_graph_add_value(g, "never", NN_F32, 1, s, &e);
  va = nn_graph_add_value(g, "a", NN_F32, 1, s, &e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){x, vb}, 2, &va, 1, NULL, "uses_never", &e);
  nn_graph_set_io(g, &x, 1, &va, 1, &e);
  CHECK(nn_graph_finalize(g, &e) != 0 && contains(e.msg, "never"), "undefined: %s", e.msg);
  int64_t huge[3] = {65536, 65536, 2};
  CHECK(nn_graph_add_value(g, "huge", NN_F32, 3, huge, &e) < 0 && contains(e.msg, "2^31"),
        "cap: %s", e.msg);
  int64_t r7[7] = {1, 1, 1, 1, 1, 1, 1};
  CHECK(nn_graph_add_value(g, "r7", NN_F32, 7, r7, &e) < 0, "rank 7 accepted");
  CHECK(nn_graph_add_const(g, "c", NN_F32, 1, s, NULL, 15, &e) < 0, "bad const size accepted");
  nn_graph_destroy(&g);
}

/* SAME padding against hand-computed values: total = max((ceil(in/s)-1)*s + (k-1)*d+1 - in, 0) */
static void test_same_padding(void) {
  struct {
    int in, k, s, d, out, p0, p1;
  } cs[] = {
      {13, 3, 2, 1, 7, 1, 1}, {7, 3, 2, 1, 4, 1, 1},    {8, 3, 2, 1, 4, 0, 1},
      {5, 5, 1, 2, 5, 4, 4},  {4, 1, 2, 1, 2, 0, 0},    {128, 5, 2, 1, 64, 1, 2},
      {1, 3, 1, 1, 1, 1, 1},  {127, 7, 3, 1, 43, 3, 3},
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    emoi_err e = {{0}};
    nn_attr a = conv_attr(cs[i].s, NN_PAD_SAME, cs[i].d);
    in_spec sp[2] = {S(IN_GRAPH, 4, 1, cs[i].in, 3, 1), S(IN_CONST, 4, 2, cs[i].k, 1, 1)};
    nn_graph *g = one_node("same", NN_OP_CONV2D, &a, 2, sp, 4, NULL, &e);
    CHECK(g != NULL, "same %zu: %s", i, e.msg);
    if (!g) continue;
    const nn_attr *r = &g->nodes[0].attr;
    const nn_value *o = &g->values[g->outputs[0]];
    CHECK(o->shape[1] == cs[i].out && r->pad_top == cs[i].p0 && r->pad_bottom == cs[i].p1,
          "same in=%d k=%d s=%d d=%d: out %lld pads %d/%d, want %d %d/%d", cs[i].in, cs[i].k,
          cs[i].s, cs[i].d, (long long)o->shape[1], r->pad_top, r->pad_bottom, cs[i].out, cs[i].p0,
          cs[i].p1);
    /* width 3 with a 1-wide kernel never pads: out = ceil(3 / s) */
    CHECK(o->shape[2] == (3 + cs[i].s - 1) / cs[i].s && r->pad_left == 0 && r->pad_right == 0,
          "same width: %lld pads %d/%d", (long long)o->shape[2], r->pad_left, r->pad_right);
    nn_graph_destroy(&g);
  }
  /* pooling: in 7, window 2, stride 2 -> out 4, pads 0/1 */
  emoi_err e = {{0}};
  nn_attr pa = conv_attr(2, NN_PAD_SAME, 1);
  pa.kernel_h = pa.kernel_w = 2;
  in_spec sp = S(IN_GRAPH, 4, 1, 7, 7, 1);
  nn_graph *g = one_node("same_pool", NN_OP_MAX_POOL2D, &pa, 1, &sp, 4, NULL, &e);
  CHECK(g && g->values[g->outputs[0]].shape[1] == 4 && g->nodes[0].attr.pad_top == 0 &&
            g->nodes[0].attr.pad_bottom == 1,
        "same pool");
  nn_graph_destroy(&g);
}

static void test_names_blob(void) {
  emoi_err e = {{0}};
  nn_graph *g;
  nn_graph_create("names", &g, &e);
  int64_t s[1] = {3};
  float d[3] = {1, 2, 3};
  int first = nn_graph_add_const(g, "first_const", NN_F32, 1, s, d, sizeof d, &e);
  for (int i = 0; i < 3000; i++) {
    char nm[64];
    snprintf(nm, sizeof nm, "a_rather_long_value_name_number_%d", i);
    CHECK(nn_graph_add_const(g, nm, NN_F32, 1, s, d, sizeof d, &e) == i + 1, "add %d", i);
  }
  CHECK(strcmp(g->values[first].name, "first_const") == 0, "name moved: %s", g->values[first].name);
  CHECK(nn_graph_find(g, "a_rather_long_value_name_number_2999") == 3000, "find");
  CHECK(nn_graph_find(g, "missing") == -1, "find missing");
  const float *c = nn_graph_const_data(g, 2999);
  CHECK(c && c[0] == 1 && c[2] == 3 && ((uintptr_t)c % 64) == 0, "const data/alignment");
  CHECK(nn_graph_const_data(g, -1) == NULL && nn_graph_const_data(g, 5000) == NULL, "bad ids");
  nn_graph_destroy(&g);
  CHECK(g == NULL, "destroy sets NULL");
  CHECK(strcmp(nn_op_name(NN_OP_DEPTHWISE_CONV2D), "DEPTHWISE_CONV2D") == 0 &&
            strcmp(nn_op_name(NN_OP_COUNT), "UNKNOWN_OP") == 0,
        "op names");
  nn_attr a = nn_attr_default();
  CHECK(a.stride_h == 1 && a.dilation_w == 1 && a.padding == NN_PAD_VALID &&
            a.act_min == -INFINITY && a.act_max == INFINITY && a.axis == 0,
        "attr default");
}

/* SLICE and SQRT (added for the ONNX reader): backend comparison on awkward shapes, plus
 * known values through the reference kernel directly. */
static void test_slice_sqrt(void) {
  in_spec sp = S(IN_GRAPH, 4, 1, 7, 13, 3);
  nn_attr a = nn_attr_default();
  int64_t b[4] = {0, 2, 1, 1}, en[4] = {1, 7, 12, 3};
  for (int d = 0; d < 4; d++) a.slice_begin[d] = b[d], a.slice_end[d] = en[d];
  op_case("slice_4d", NN_OP_SLICE, &a, 1, &sp, 0);
  in_spec s1 = S(IN_GRAPH, 1, 127, 0, 0, 0);
  nn_attr a1 = nn_attr_default();
  a1.slice_begin[0] = 126;
  a1.slice_end[0] = 127;
  op_case("slice_last1", NN_OP_SLICE, &a1, 1, &s1, 0);
  in_spec q = S(IN_GRAPH, 2, 7, 13, 0, 0);
  q.lo = 0;
  q.hi = 9;
  op_case("sqrt_7x13", NN_OP_SQRT, &a, 1, &q, 0);
  /* TRANSPOSE (added for the TFLite reader: MediaPipe's blendshape network) */
  nn_attr tp = nn_attr_default();
  tp.n_axes = 4;
  tp.axes[0] = 0, tp.axes[1] = 2, tp.axes[2] = 3, tp.axes[3] = 1;
  op_case("transpose_0231", NN_OP_TRANSPOSE, &tp, 1, &sp, 0);
  nn_attr t2 = nn_attr_default();
  t2.n_axes = 2;
  t2.axes[0] = 1, t2.axes[1] = 0;
  op_case("transpose_7x13", NN_OP_TRANSPOSE, &t2, 1, &q, 0);
  /* known values */
  float xv[6] = {0, 1, 2, 3, 4, 5}, yv[2] = {0}, sv[3] = {0};
  nn_tensor x = {NN_F32, 2, {2, 3}, {12, 4}, xv}, y = {NN_F32, 2, {2, 1}, {4, 4}, yv};
  nn_node nd;
  memset(&nd, 0, sizeof nd);
  nd.op = NN_OP_SLICE;
  nd.n_in = nd.n_out = 1;
  nd.attr = nn_attr_default();
  nd.attr.slice_begin[0] = 0, nd.attr.slice_end[0] = 2, nd.attr.slice_begin[1] = 2,
  nd.attr.slice_end[1] = 3;
  nd.name = "slice";
  const nn_tensor *ins[1] = {&x};
  nn_tensor *outs[1] = {&y};
  emoi_err e = {{0}};
  CHECK(nn_ref_run_node(&nd, ins, outs, &e) == 0 && yv[0] == 2 && yv[1] == 5, "slice values %g %g",
        yv[0], yv[1]);
  float qv[3] = {0, 4, 2.25f};
  nn_tensor qx = {NN_F32, 1, {3}, {4}, qv}, qy = {NN_F32, 1, {3}, {4}, sv};
  nd.op = NN_OP_SQRT;
  nd.attr = nn_attr_default();
  ins[0] = &qx;
  outs[0] = &qy;
  CHECK(nn_ref_run_node(&nd, ins, outs, &e) == 0 && sv[0] == 0 && sv[1] == 2 && sv[2] == 1.5f,
        "sqrt values");
  float tv[6] = {0};
  nn_tensor ty = {NN_F32, 2, {3, 2}, {8, 4}, tv};
  nd.op = NN_OP_TRANSPOSE;
  nd.attr = nn_attr_default();
  nd.attr.n_axes = 2;
  nd.attr.axes[0] = 1, nd.attr.axes[1] = 0;
  ins[0] = &x;
  outs[0] = &ty;
  CHECK(nn_ref_run_node(&nd, ins, outs, &e) == 0 && tv[0] == 0 && tv[1] == 3 && tv[2] == 1 &&
            tv[5] == 5,
        "transpose values %g %g %g %g", tv[0], tv[1], tv[2], tv[5]);
}

int main(void) {
  test_names_blob();
  test_slice_sqrt();
  test_same_padding();
  test_known_values();
  test_conv();
  test_depthwise();
  test_fc();
  test_binary();
  test_unary();
  test_prelu_softmax();
  test_pool();
  test_mean_pad_reshape_concat();
  test_resize();
  printf("  worst XNNPACK-vs-reference difference per op (relative to max(1, |ref|)):\n");
  for (int op = 0; op < NN_OP_COUNT; op++) {
    CHECK(tested[op] > 0, "op %s not tested", nn_op_name((nn_op)op));
    printf("    %-18s %2d cases  %.3g\n", nn_op_name((nn_op)op), tested[op], worst[op]);
  }
  test_graphs();
  test_fallback();
  test_errors();
  return th_finish("test_nn_ops");
}
