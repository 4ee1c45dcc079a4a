/* test_epilogue.c: the fused epilogue of a product (src/nn/epilogue.c, plan.c's epi_chain_find).
 * First the kernel: nn_epi_apply at the cap against nn_epi_apply_ref on random tiles with awkward
 * sizes (1, 7, 13, 127 columns; unaligned rows), every op kind, bit for bit. Then plans: graphs
 * shaped like BlazeFace's blocks (1x1 product, residual add, ReLU) and face-api's dense blocks
 * (products whose sums feed later products and ReLUs, values read twice), run with the epilogue
 * fused and with no_epilogue (each node a step of its own), on emo's float GEMM and in int8
 * (every convolution, with and without the fused depthwise): the outputs must be equal as floats,
 * since every fused op is the same IEEE operation in the same order. Additions of a tensor and
 * values read twice are never fused (plan.c): those nodes stay steps of their own. The unfused plan
 * also keeps a buffer of its own for every value (no_reuse), so the comparison covers the fused
 * plan's buffers shared by lifetime too. argv[1] caps the ISA (harness.h's th_isa_arg). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/epilogue.h"
#include "nn/nn.h"
#include "nn/qconv.h"

static unsigned rng = 4242u;
static nn_isa g_cap = NN_ISA_AUTO;

static void fill(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = th_randf(&rng, -1.0f, 1.0f);
}

static void kernel_case(int m, int n) {
  size_t lds = (size_t)n + 3, mn = (size_t)m * n;
  float *src = malloc(((size_t)m * lds + 1) * sizeof(float));
  float *b = malloc((size_t)n * sizeof(float)), *al = malloc((size_t)n * sizeof(float));
  float *d1 = malloc(mn * sizeof(float)), *d2 = malloc(mn * sizeof(float));
  if (!src || !b || !al || !d1 || !d2) {
    CHECK(0, "out of memory");
    goto done;
  }
  fill(src, (size_t)m * lds + 1);
  fill(b, (size_t)n);
  fill(al, (size_t)n);
  src[5 % ((size_t)m * lds + 1)] = NAN; /* a NaN goes through the clamp as the reference's */
  float scalar = 0.25f;
  nn_epi e;
  memset(&e, 0, sizeof e);
  e.n = n;
  e.isa = nn_epi_isa(g_cap);
  nn_epi_op *o = e.op;
  o[0] = (nn_epi_op){.kind = NN_EPI_BIAS, .c = b, .c_per_channel = 1};
  o[1] = (nn_epi_op){.kind = NN_EPI_PRELU, .c = al, .c_per_channel = 1};
  o[2] = (nn_epi_op){.kind = NN_EPI_PRELU, .c = &scalar};
  o[3] = (nn_epi_op){.kind = NN_EPI_BIAS, .c = &scalar};
  o[4] = (nn_epi_op){.kind = NN_EPI_CLAMP, .lo = 0.0f, .hi = 0.75f};
  e.n_ops = 5;
  e.dst = d1;
  float *src1 = src + 1; /* unaligned rows */
  nn_epi_apply_ref(&e, src1, lds, 0, m, 0, n);
  e.dst = d2;
  /* in tiles as a kernel calls it: 6 rows x 16 columns, short ones at the edges */
  for (int r = 0; r < m; r += 6)
    for (int c = 0; c < n; c += 16)
      nn_epi_apply(&e, src1, lds, r, m - r < 6 ? m - r : 6, c, n - c < 16 ? n - c : 16);
  CHECK(!memcmp(d1, d2, mn * sizeof(float)), "epilogue %dx%d: the output differs", m, n);
  /* once more over whole rows (the scalar kernels' call) */
  memset(d2, 0, mn * sizeof(float));
  nn_epi_apply(&e, src1, lds, 0, m, 0, n);
  CHECK(!memcmp(d1, d2, mn * sizeof(float)), "epilogue %dx%d rows: the output differs", m, n);
done:
  free(src);
  free(b);
  free(al);
  free(d1);
  free(d2);
}

typedef struct gb {
  nn_graph *g;
  emoi_err err;
  int n_vals;
} gb;

static int val(gb *b, int c) {
  char nm[32];
  snprintf(nm, sizeof nm, "v%d", b->n_vals++);
  int64_t s[4] = {1, -1, -1, c};
  return nn_graph_add_value(b->g, nm, NN_F32, 4, s, &b->err);
}

static int cst(gb *b, int rank, const int64_t *shape) {
  char nm[32];
  snprintf(nm, sizeof nm, "c%d", b->n_vals++);
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)shape[i];
  float *v = malloc(n * sizeof(float));
  fill(v, n);
  int id = nn_graph_add_const(b->g, nm, NN_F32, rank, shape, v, n * sizeof(float), &b->err);
  free(v);
  return id;
}

static int node(gb *b, nn_op op, int i0, int i1, int i2, int out_c, const nn_attr *a) {
  int in[3] = {i0, i1, i2}, n_in = i2 >= 0 ? 3 : i1 >= 0 ? 2 : 1;
  int y = val(b, out_c);
  nn_attr d = nn_attr_default();
  nn_graph_add_node(b->g, op, in, n_in, &y, 1, a ? a : &d, "n", &b->err);
  return y;
}

/* 1x1 conv ci -> co with bias (kh 3: a 3x3 depthwise before it, SAME). */
static int pw(gb *b, int x, int ci, int co, int dw, int relu) {
  if (dw) {
    int64_t ds[4] = {1, 3, 3, ci};
    nn_attr a = nn_attr_default();
    a.padding = NN_PAD_SAME;
    x = node(b, NN_OP_DEPTHWISE_CONV2D, x, cst(b, 4, ds), -1, ci, &a);
  }
  int64_t ws[4] = {co, 1, 1, ci}, bs[1] = {co};
  nn_attr a = nn_attr_default();
  if (relu) a.act_min = 0.0f;
  return node(b, NN_OP_CONV2D, x, cst(b, 4, ws), cst(b, 1, bs), co, &a);
}

/* A BlazeFace block (conv, + skip, RELU), a face-api dense block (dw: separable convs), a
 * product with a PReLU, a leaky ReLU and a per-channel bias, a RELU6; then a dense layer. */
static nn_graph *build(int h, int w, int c, int dw) {
  gb b = {0};
  if (nn_graph_create("test_epilogue", &b.g, &b.err)) return NULL;
  int64_t xs[4] = {1, h, w, c};
  int x = nn_graph_add_value(b.g, "x", NN_F32, 4, xs, &b.err);
  nn_attr relu = nn_attr_default();
  /* BlazeFace: y = relu(conv(x) + x) */
  int y = pw(&b, x, c, c, dw, 0);
  y = node(&b, NN_OP_ADD, y, x, -1, c, NULL);
  y = node(&b, NN_OP_RELU, y, -1, -1, c, &relu);
  /* face-api's dense block: out1..out4, sums read twice */
  int o1 = pw(&b, y, c, c, dw, 1);
  int o2 = pw(&b, o1, c, c, dw, 0);
  int s = node(&b, NN_OP_ADD, o1, o2, -1, c, NULL);
  int in3 = node(&b, NN_OP_RELU, s, -1, -1, c, &relu);
  int o3 = pw(&b, in3, c, c, dw, 0);
  int s23 = node(&b, NN_OP_ADD, o2, o3, -1, c, NULL);
  s = node(&b, NN_OP_ADD, o1, s23, -1, c, NULL);
  int in4 = node(&b, NN_OP_RELU, s, -1, -1, c, &relu);
  int o4 = pw(&b, in4, c, c, dw, 0);
  int s34 = node(&b, NN_OP_ADD, o3, o4, -1, c, NULL);
  int s234 = node(&b, NN_OP_ADD, o2, s34, -1, c, NULL);
  s = node(&b, NN_OP_ADD, o1, s234, -1, c, NULL);
  y = node(&b, NN_OP_RELU, s, -1, -1, c, &relu);
  /* PReLU, leaky ReLU, a per-channel bias, RELU6 */
  int64_t cs[1] = {c}, c4[4] = {1, 1, 1, c};
  y = pw(&b, y, c, c, 0, 0);
  y = node(&b, NN_OP_PRELU, y, cst(&b, 1, cs), -1, c, NULL);
  nn_attr lk = nn_attr_default();
  lk.alpha = 0.1f;
  y = node(&b, NN_OP_LEAKY_RELU, y, -1, -1, c, &lk);
  y = pw(&b, y, c, c, 0, 0);
  y = node(&b, NN_OP_ADD, cst(&b, 4, c4), y, -1, c, NULL);
  y = node(&b, NN_OP_RELU6, y, -1, -1, c, &relu);
  int64_t fs[2] = {5, (int64_t)h * w * c}, os[2] = {1, 5};
  int o = nn_graph_add_value(b.g, "o", NN_F32, 2, os, &b.err);
  int fin[2] = {y, cst(&b, 2, fs)};
  nn_attr fa = nn_attr_default();
  nn_graph_add_node(b.g, NN_OP_FULLY_CONNECTED, fin, 2, &o, 1, &fa, "fc", &b.err);
  /* a second output: the dense block's out2 (a kept value is also a graph output) */
  int outs[2] = {o, o2};
  if (nn_graph_set_io(b.g, &x, 1, outs, 2, &b.err) || nn_graph_finalize(b.g, &b.err)) {
    fprintf(stderr, "graph: %s\n", b.err.msg);
    nn_graph_destroy(&b.g);
  }
  return b.g;
}

static void plan_case(int h, int w, int c, int dw, int int8) {
  nn_graph *g = build(h, w, c, dw);
  CHECK(g != NULL, "graph %dx%dx%d", h, w, c);
  if (!g) return;
  emoi_err err;
  nn_plan *pf = NULL, *pu = NULL;
  nn_plan_options of = {0}, ou;
  of.isa = g_cap;
  of.gemm = NN_GEMM_OWN;
  of.int8 = int8;
  of.int8_min_macs = 1;
  ou = of;
  ou.no_epilogue = 1;
  ou.no_reuse = 1; /* and a buffer of its own for every value (plan.c's plan_relayout) */
  int st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &of, &pf, &err);
  CHECK(st == EMO_OK, "plan: %s", err.msg);
  st = st ? st : nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &ou, &pu, &err);
  CHECK(st == EMO_OK, "plan: %s", err.msg);
  if (!st) {
    nn_plan_stats sf, su;
    nn_plan_get_stats(pf, &sf);
    nn_plan_get_stats(pu, &su);
    int sum = nn_plan_stats_placed(&sf);
    CHECK(sum == sf.n_nodes, "stats: %d nodes counted, %d in the graph", sum, sf.n_nodes);
    CHECK(su.n_nodes_fused == 0, "no_epilogue: %d nodes fused", su.n_nodes_fused);
    /* in int8 without VNNI or AVX2 under the cap the plan stays float on XNNPACK's GEMM */
    int own = sf.n_nodes_gemm + sf.n_nodes_qconv > 0;
    int want = 4; /* PReLU, leaky ReLU; the bias, RELU6 (no addition of a tensor) */
    CHECK(!own || sf.n_nodes_fused >= want, "%d nodes fused, want at least %d", sf.n_nodes_fused,
          want);
    size_t nx = (size_t)h * w * c;
    fill(nn_plan_input(pf, 0), nx);
    memcpy(nn_plan_input(pu, 0), nn_plan_input(pf, 0), nx * sizeof(float));
    CHECK(su.arena_bytes == su.arena_bytes_unshared, "no_reuse: arena %zu bytes, unshared %zu",
          su.arena_bytes, su.arena_bytes_unshared);
    CHECK(sf.arena_bytes < sf.arena_bytes_unshared, "arena %zu bytes, unshared %zu: nothing shared",
          sf.arena_bytes, sf.arena_bytes_unshared);
    /* twice: the input must survive a run (a caller may run a plan again on it) */
    CHECK(nn_plan_run(pf, &err) == EMO_OK, "run: %s", err.msg);
    CHECK(nn_plan_run(pf, &err) == EMO_OK, "run: %s", err.msg);
    CHECK(nn_plan_run(pu, &err) == EMO_OK, "run: %s", err.msg);
    int diff = 0;
    for (int i = 0; i < 5; i++) diff += nn_plan_output(pf, 0)[i] != nn_plan_output(pu, 0)[i];
    for (size_t i = 0; i < nx; i++) diff += nn_plan_output(pf, 1)[i] != nn_plan_output(pu, 1)[i];
    printf(
        "plan %dx%dx%d%s%s: %d nodes fused (%d gemm, %d int8, %d xnn), arena %zu of %zu "
        "bytes, %d outputs differ\n",
        h, w, c, dw ? " separable" : "", int8 ? " int8" : " float", sf.n_nodes_fused,
        sf.n_nodes_gemm, sf.n_nodes_qconv, sf.n_nodes_xnn, sf.arena_bytes, sf.arena_bytes_unshared,
        diff);
    CHECK(diff == 0, "fused and unfused plans differ in %d outputs", diff);
  }
  nn_plan_destroy(&pf);
  nn_plan_destroy(&pu);
  nn_graph_destroy(&g);
}

int main(int argc, char **argv) {
  g_cap = (nn_isa)th_isa_arg(argc, argv);
  nn_isa e = nn_epi_isa(g_cap);
  printf("epilogue: the %s path\n", e == NN_ISA_AVX512 ? "AVX-512"
                                    : e == NN_ISA_AVX2 ? "AVX2"
                                                       : "scalar");
  static const int ms[] = {1, 7, 13, 127}, ns[] = {1, 7, 13, 16, 33, 127};
  for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
    for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) kernel_case(ms[i], ns[j]);
  plan_case(9, 11, 13, 0, 0);
  plan_case(8, 8, 32, 1, 0);
  plan_case(9, 11, 13, 0, 1);
  plan_case(12, 12, 32, 1, 1);
  plan_case(7, 5, 17, 1, 1);
  return th_finish("test_epilogue");
}
