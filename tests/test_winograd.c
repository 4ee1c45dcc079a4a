/* test_winograd.c: the Winograd 3x3 convolution (src/nn/winograd.c) against the reference
 * CONV2D kernel (ops_ref.c, double accumulation) on random inputs with awkward sizes:
 * spatial 1..127 including sizes that are no multiple of the tile, channels 16, 17, 32, 64,
 * 127, SAME, VALID and explicit padding, with and without bias, with and without a clamp,
 * batch 2, on one thread and on a pool of 2, for both F(2x2,3x3) and F(4x4,3x3). The worst
 * difference relative to max(1, max |reference|) is printed per tile size and must stay
 * within 1e-4 (what test_nn_ops asks of XNNPACK; the FER model's parity with TensorFlow.js
 * is checked by test_parity). Then the plan: an eligible node runs on the Winograd path
 * (nn_plan_stats.n_nodes_winograd) between XNNPACK runs and matches the reference plan,
 * ineligible ones (stride 2, 5x5, few channels, small output) and plans on a pool of threads
 * do not, and nn_plan_options.no_winograd turns it off. WG_VERBOSE=1 prints every kernel case.
 * argv[1] (harness.h's th_isa_arg) caps the tile transforms (nn_winograd_conv.isa and the
 * plans' isa); each kernel case is also run on the scalar transforms and must equal the capped
 * ones bit for bit (the GEMMs are XNNPACK's either way). Each case runs once more with the GEMMs on
 * emo's own kernels (nn_winograd_conv.own_gemm, nn/sgemm.c), within the bound of XNNPACK's, and
 * bit for bit equal at the cap and on the scalar path. */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/nn.h"
#include "nn/winograd.h"

#define TOL 1e-4

static unsigned rng = 4242u;
static double worst[5];            /* by tile edge */
static nn_isa g_cap = NN_ISA_AUTO; /* argv[1] */
static int n_paths, n_paths_differ;

static void fill(float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = th_randf(&rng, lo, hi);
}

typedef struct conv_case {
  int n, h, w, ci, co;
  nn_padding pad; /* EXPLICIT: top 2, bottom 1, left 0, right 2 */
  int bias;
  float lo, hi;
} conv_case;

/* One case through nn_winograd_* and nn_ref_run_node; returns the relative difference. */
static double run_case(const conv_case *cc, nn_winograd_tile tile, pthreadpool_t pool) {
  nn_attr a = nn_attr_default();
  a.padding = cc->pad;
  a.act_min = cc->lo;
  a.act_max = cc->hi;
  if (cc->pad == NN_PAD_SAME) a.pad_top = a.pad_bottom = a.pad_left = a.pad_right = 1;
  if (cc->pad == NN_PAD_EXPLICIT) a.pad_top = 2, a.pad_bottom = 1, a.pad_left = 0, a.pad_right = 2;
  int ho = cc->h + a.pad_top + a.pad_bottom - 2, wo = cc->w + a.pad_left + a.pad_right - 2;
  if (ho < 1 || wo < 1) return 0;
  size_t nx = (size_t)cc->n * cc->h * cc->w * cc->ci, nw = (size_t)cc->co * 9 * cc->ci;
  size_t ny = (size_t)cc->n * ho * wo * cc->co;
  float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
  float *b = malloc((size_t)cc->co * sizeof *b);
  float *yr = malloc(ny * sizeof *yr), *yw = malloc(ny * sizeof *yw);
  double rel = -1;
  nn_winograd *wg = NULL;
  char label[160];
  snprintf(label, sizeof label, "F(%dx%d) %dx%dx%dx%d->%d pad %d bias %d clamp [%g,%g]%s",
           (int)tile, (int)tile, cc->n, cc->h, cc->w, cc->ci, cc->co, (int)cc->pad, cc->bias,
           cc->lo, cc->hi, pool ? " pool" : "");
  if (!x || !w || !b || !yr || !yw) {
    CHECK(0, "%s: out of memory", label);
    goto done;
  }
  fill(x, nx, -1, 1);
  fill(w, nw, -1, 1);
  fill(b, (size_t)cc->co, -1, 1);
  for (size_t i = 0; i < ny; i++) yw[i] = NAN;

  /* reference */
  nn_node node = {0};
  node.op = NN_OP_CONV2D;
  node.n_in = 3;
  node.n_out = 1;
  node.attr = a;
  node.name = "conv";
  nn_tensor tx = {NN_F32, 4, {cc->n, cc->h, cc->w, cc->ci}, {0}, x};
  nn_tensor tw = {NN_F32, 4, {cc->co, 3, 3, cc->ci}, {0}, w};
  nn_tensor tb = {NN_F32, 1, {cc->co}, {4}, b};
  nn_tensor ty = {NN_F32, 4, {cc->n, ho, wo, cc->co}, {0}, yr};
  nn_tensor *ts[3] = {&tx, &tw, &ty};
  for (int t = 0; t < 3; t++) {
    int64_t s = 4;
    for (int d = 3; d >= 0; d--) ts[t]->stride[d] = s, s *= ts[t]->shape[d];
  }
  const nn_tensor *ins[3] = {&tx, &tw, cc->bias ? &tb : NULL};
  nn_tensor *outs[1] = {&ty};
  emoi_err e = {{0}};
  int st = nn_ref_run_node(&node, ins, outs, &e);
  CHECK(st == 0, "%s: reference: %s", label, e.msg);
  if (st) goto done;

  nn_winograd_conv c = {cc->n,     cc->h,      cc->w,  cc->ci, cc->co, ho, wo,
                        a.pad_top, a.pad_left, cc->lo, cc->hi, g_cap,  0};
  st = nn_winograd_create(&c, w, cc->bias ? b : NULL, tile, pool, &wg, &e);
  CHECK(st == 0, "%s: create: %s", label, e.msg);
  if (st) goto done;
  /* run twice: the second run must not depend on what the first left in the scratch */
  for (int r = 0; r < 2 && !st; r++) st = nn_winograd_run(wg, x, yw, &e);
  CHECK(st == 0, "%s: run: %s", label, e.msg);
  if (st) goto done;
  double mx = 1, d = 0;
  int finite = 1;
  for (size_t i = 0; i < ny; i++) {
    if (!isfinite(yw[i])) finite = 0;
    if (fabs(yr[i]) > mx) mx = fabs(yr[i]);
    if (fabs((double)yr[i] - yw[i]) > d) d = fabs((double)yr[i] - yw[i]);
  }
  CHECK(finite, "%s: non-finite output (an output pixel not written?)", label);
  rel = d / mx;
  CHECK(rel <= TOL, "%s: worst relative difference %.3g", label, rel);
  if (rel > worst[tile]) worst[tile] = rel;
  if (getenv("WG_VERBOSE")) printf("    %s: %.3g\n", label, rel);
  if (emo_isa_pick((emo_isa)g_cap) != EMO_ISA_SCALAR) { /* the capped path against scalar */
    nn_winograd_destroy(&wg);
    c.isa = NN_ISA_SCALAR;
    st = nn_winograd_create(&c, w, cc->bias ? b : NULL, tile, pool, &wg, &e);
    if (!st) st = nn_winograd_run(wg, x, yr, &e);
    CHECK(st == 0, "%s: scalar path: %s", label, e.msg);
    n_paths++;
    if (!st && memcmp(yr, yw, ny * sizeof *yr) != 0) {
      n_paths_differ++;
      CHECK(0, "%s: the %s transforms differ from the scalar ones", label,
            emo_isa_name(emo_isa_pick((emo_isa)g_cap)));
    }
  }
  { /* the GEMMs on emo's own kernels (nn/sgemm.c): the bound, and scalar = capped bit for bit */
    float *yo = malloc(ny * sizeof *yo), *ys = malloc(ny * sizeof *ys);
    nn_winograd *wo = NULL;
    nn_winograd_conv co = c;
    co.isa = g_cap;
    co.own_gemm = 1;
    st = yo && ys ? nn_winograd_create(&co, w, cc->bias ? b : NULL, tile, pool, &wo, &e) : -1;
    if (!st) st = nn_winograd_run(wo, x, yo, &e);
    CHECK(st == 0, "%s: own GEMM: %s", label, e.msg);
    nn_winograd_destroy(&wo);
    co.isa = NN_ISA_SCALAR;
    if (!st) st = nn_winograd_create(&co, w, cc->bias ? b : NULL, tile, pool, &wo, &e);
    if (!st) st = nn_winograd_run(wo, x, ys, &e);
    CHECK(st == 0, "%s: own GEMM, scalar: %s", label, e.msg);
    nn_winograd_destroy(&wo);
    if (!st) {
      double dd = 0;
      for (size_t i = 0; i < ny; i++)
        if (fabs((double)yo[i] - yw[i]) > dd) dd = fabs((double)yo[i] - yw[i]);
      CHECK(dd / mx <= TOL, "%s: own GEMM: worst relative difference %.3g from XNNPACK's", label,
            dd / mx);
      CHECK(!memcmp(yo, ys, ny * sizeof *yo), "%s: own GEMM at the cap differs from scalar", label);
    }
    free(yo);
    free(ys);
    st = 0;
  }
done:
  nn_winograd_destroy(&wg);
  free(x);
  free(w);
  free(b);
  free(yr);
  free(yw);
  return rel;
}

static void test_kernel(pthreadpool_t pool) {
  const conv_case cs[] = {
      {1, 1, 1, 16, 16, NN_PAD_SAME, 1, -INFINITY, INFINITY},
      {1, 3, 3, 16, 16, NN_PAD_VALID, 1, -INFINITY, INFINITY},
      {1, 2, 7, 17, 16, NN_PAD_SAME, 0, -INFINITY, INFINITY},
      {1, 5, 6, 16, 17, NN_PAD_EXPLICIT, 1, 0, INFINITY},
      {1, 7, 13, 17, 17, NN_PAD_SAME, 1, 0, 6},
      {2, 13, 7, 32, 16, NN_PAD_VALID, 1, -INFINITY, INFINITY},
      {1, 16, 16, 16, 32, NN_PAD_SAME, 0, -0.5f, 0.5f},
      {1, 17, 18, 127, 17, NN_PAD_SAME, 1, -INFINITY, INFINITY},
      {1, 19, 9, 17, 127, NN_PAD_VALID, 1, 0, INFINITY},
      {1, 31, 33, 64, 64, NN_PAD_SAME, 1, 0, INFINITY},
      {1, 62, 62, 32, 64, NN_PAD_VALID, 1, 0, INFINITY}, /* the FER model's big layer */
      {2, 30, 29, 64, 32, NN_PAD_EXPLICIT, 1, -INFINITY, INFINITY},
      {1, 127, 5, 16, 16, NN_PAD_SAME, 1, -INFINITY, INFINITY},
      {1, 6, 127, 17, 16, NN_PAD_VALID, 0, -INFINITY, INFINITY},
      {1, 127, 127, 16, 16, NN_PAD_SAME, 1, 0, INFINITY},
      {1, 9, 11, 127, 127, NN_PAD_SAME, 1, -INFINITY, INFINITY},
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    run_case(&cs[i], NN_WINOGRAD_F2X2, pool);
    run_case(&cs[i], NN_WINOGRAD_F4X4, pool);
  }
}

static void test_create_errors(void) {
  emoi_err e = {{0}};
  nn_winograd *wg = NULL;
  float w[16 * 9 * 16] = {0};
  nn_winograd_conv c = {1, 8, 8, 16, 16, 6, 6, 0, 0, -INFINITY, INFINITY, g_cap, 0};
  CHECK(nn_winograd_create(&c, w, NULL, (nn_winograd_tile)3, NULL, &wg, &e) == EMO_EINVAL && !wg,
        "tile 3 accepted");
  c.ho = 20; /* larger than a 3x3 VALID conv of 8 rows gives */
  CHECK(nn_winograd_create(&c, w, NULL, NN_WINOGRAD_F4X4, NULL, &wg, &e) == EMO_EINVAL && !wg,
        "bad output size accepted");
  CHECK(strstr(e.msg, "winograd") != NULL, "message: %s", e.msg);
  CHECK(nn_winograd_run(NULL, w, w, &e) == EMO_EINVAL, "run on NULL");
  nn_winograd_destroy(&wg);
  nn_winograd_destroy(NULL);
}

/* x -> RELU -> CONV2D(k x k, stride s) -> ADD(x') -> out, so an eligible conv sits between
 * two XNNPACK runs. Returns the finalized graph or NULL. */
static nn_graph *conv_graph(int h, int ci, int co, int k, int s, emoi_err *e) {
  nn_graph *g = NULL;
  if (nn_graph_create("winograd_graph", &g, e)) return NULL;
  int64_t xs[4] = {1, h, h, ci}, u[4] = {-1, -1, -1, -1};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, e);
  size_t nw = (size_t)co * k * k * ci;
  float *wd = malloc(nw * sizeof *wd), *bd = malloc((size_t)co * sizeof *bd);
  if (!wd || !bd) {
    free(wd);
    free(bd);
    nn_graph_destroy(&g);
    return NULL;
  }
  fill(wd, nw, -0.3f, 0.3f);
  fill(bd, (size_t)co, -1, 1);
  int w = nn_graph_add_const(g, "w", NN_F32, 4, (int64_t[]){co, k, k, ci}, wd, nw * sizeof *wd, e);
  int b = nn_graph_add_const(g, "b", NN_F32, 1, (int64_t[]){co}, bd, (size_t)co * sizeof *bd, e);
  free(wd);
  free(bd);
  int r = nn_graph_add_value(g, "r", NN_F32, 4, u, e);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, u, e);
  int z = nn_graph_add_value(g, "z", NN_F32, 4, u, e);
  nn_graph_add_node(g, NN_OP_RELU, &x, 1, &r, 1, NULL, "relu", e);
  nn_attr a = nn_attr_default();
  a.padding = NN_PAD_SAME;
  a.stride_h = a.stride_w = s;
  a.act_min = 0;
  a.act_max = 6;
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){r, w, b}, 3, &y, 1, &a, "conv", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){y, y}, 2, &z, 1, NULL, "add", e);
  if (nn_graph_set_io(g, &x, 1, &z, 1, e) || nn_graph_finalize(g, e)) nn_graph_destroy(&g);
  return g;
}

/* Plans g both ways (the XNNPACK plan with opt, may be NULL); checks the Winograd node count
 * and the outputs. */
static void plan_case(const char *label, int h, int ci, int co, int k, int s, int want_wg,
                      pthreadpool_t pool, const nn_plan_options *opt) {
  emoi_err e = {{0}};
  nn_graph *g = conv_graph(h, ci, co, k, s, &e);
  CHECK(g != NULL, "%s: graph: %s", label, e.msg);
  if (!g) return;
  nn_plan *pr = NULL, *px = NULL;
  nn_plan_options o = {0};
  if (opt) o = *opt;
  o.isa = g_cap;
  int st = nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &pr, &e);
  if (!st) st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, pool, &o, &px, &e);
  CHECK(st == 0, "%s: plan: %s", label, e.msg);
  if (st) goto done;
  nn_plan_stats sr, sx;
  nn_plan_get_stats(pr, &sr);
  nn_plan_get_stats(px, &sx);
  CHECK(sr.n_nodes_winograd == 0, "%s: reference plan used winograd", label);
  CHECK(sx.n_nodes_winograd == want_wg, "%s: %d winograd nodes, expected %d", label,
        sx.n_nodes_winograd, want_wg);
  CHECK(sx.n_nodes_xnn + sx.n_nodes_ref + sx.n_nodes_winograd == sx.n_nodes &&
            sx.n_xnn_runs == (want_wg ? 2 : 1),
        "%s: %d xnn + %d ref + %d winograd of %d nodes, %d runs", label, sx.n_nodes_xnn,
        sx.n_nodes_ref, sx.n_nodes_winograd, sx.n_nodes, sx.n_xnn_runs);
  int conv_k = -1;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op == NN_OP_CONV2D) conv_k = i;
  CHECK(conv_k >= 0 && nn_plan_node_backend(px, conv_k) == NN_BACKEND_XNNPACK,
        "%s: the conv is not reported on XNNPACK", label);
  int64_t n = nn_value_numel(&g->values[g->inputs[0]]);
  float *in = nn_plan_input(pr, 0);
  fill(in, (size_t)n, -1, 1);
  memcpy(nn_plan_input(px, 0), in, (size_t)n * sizeof *in);
  st = nn_plan_run(pr, &e);
  if (!st) st = nn_plan_run(px, &e);
  CHECK(st == 0, "%s: run: %s", label, e.msg);
  if (st) goto done;
  const float *a = nn_plan_output(pr, 0), *b = nn_plan_output(px, 0);
  int64_t no = nn_value_numel(&g->values[g->outputs[0]]);
  double mx = 1, d = 0;
  for (int64_t i = 0; i < no; i++) {
    if (fabs(a[i]) > mx) mx = fabs(a[i]);
    if (!(fabs((double)a[i] - b[i]) <= d)) d = fabs((double)a[i] - b[i]);
  }
  CHECK(d / mx <= TOL, "%s: plan output differs by %.3g (relative)", label, d / mx);
  printf("  plan %-22s winograd nodes %d, worst relative difference %.3g\n", label,
         sx.n_nodes_winograd, d / mx);
done:
  nn_plan_destroy(&pr);
  nn_plan_destroy(&px);
  nn_graph_destroy(&g);
}

static void test_plan(pthreadpool_t pool) {
  plan_case("eligible 24x24 32->48", 24, 32, 48, 3, 1, 1, NULL, NULL);
  plan_case("eligible 21x21 17->16", 21, 17, 16, 3, 1, 1, NULL, NULL);
  plan_case("eligible, pool of 2", 21, 17, 16, 3, 1, 0, pool,
            NULL); /* single-threaded plans only */
  plan_case("stride 2", 40, 32, 32, 3, 2, 0, NULL, NULL);
  plan_case("5x5 kernel", 24, 32, 32, 5, 1, 0, NULL, NULL);
  plan_case("8 input channels", 24, 8, 32, 3, 1, 0, NULL, NULL);
  plan_case("12x12 output", 12, 32, 32, 3, 1, 0, NULL, NULL);
  const nn_plan_options no_wg = {.no_winograd = 1};
  plan_case("no_winograd", 24, 32, 48, 3, 1, 0, NULL, &no_wg);
}

int main(int argc, char **argv) {
  g_cap = (nn_isa)th_isa_arg(argc, argv);
  pthreadpool_t pool = pthreadpool_create(2);
  test_create_errors();
  test_kernel(NULL);
  printf("  worst winograd-vs-reference difference (relative to max(1, |ref|)):\n");
  printf("    F(2x2,3x3) %.3g\n    F(4x4,3x3) %.3g\n", worst[2], worst[4]);
  if (pool) {
    worst[2] = worst[4] = 0;
    test_kernel(pool);
    printf("    on a pool of 2: F(2x2,3x3) %.3g, F(4x4,3x3) %.3g\n", worst[2], worst[4]);
  }
  if (n_paths)
    printf("  %s transforms vs scalar: %d cases, %d differ\n",
           emo_isa_name(emo_isa_pick((emo_isa)g_cap)), n_paths, n_paths_differ);
  test_plan(pool);
  pthreadpool_destroy(pool);
  return th_finish("test_winograd");
}
