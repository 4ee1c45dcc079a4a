/* test_sgemm.c: emo's own float GEMM microkernels (src/nn/sgemm.c) against their plain C
 * reference (nn_sgemm_ref), bit for bit, on random inputs with awkward sizes: rows 1, 7, 13, 127
 * and 200 (no multiple of the 6- or 8-row tiles), channels 1, 7, 13, 16, 17, 33, 127, depth 1,
 * 7, 13, 127, rows of a and c at unaligned addresses with strides longer than a row, with and
 * without bias and clamp, on one thread and on a pool of 2. Every path computes each element as
 * the same chain of fused multiply-adds (sgemm.h), so any difference is a bug, not rounding.
 * Then the plan: with nn_plan_options.gemm = NN_GEMM_OWN a 1x1 convolution and a dense layer run
 * as steps of their own (nn_plan_stats.n_nodes_gemm) and equal the XNNPACK plan within 1e-5 of
 * max(1, |y|) (XNNPACK's own GEMM starts from the bias too, but may split k differently), and a
 * 3x3 or strided convolution stays on XNNPACK. argv[1] (harness.h's th_isa_arg) caps the
 * kernels: scalar, avx2, avx512. */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/nn.h"
#include "nn/sgemm.h"

static unsigned rng = 1616u;
static nn_isa g_cap = NN_ISA_AUTO;

static void fill(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = th_randf(&rng, -1.0f, 1.0f);
}

static int n_cases;

static void kernel_case(int m, int n, int k, int bias, int clamp, pthreadpool_t pool) {
  size_t lda = (size_t)k + 3, ldc = (size_t)n + 5, ldw = (size_t)k + 1;
  /* one float past an aligned start: every row of a and c unaligned */
  float *abuf = malloc(((size_t)m * lda + 1) * sizeof(float));
  float *w = malloc((size_t)n * ldw * sizeof(float));
  float *b = malloc((size_t)n * sizeof(float));
  float *c = malloc(((size_t)m * ldc + 1) * sizeof(float));
  float *r = malloc((size_t)m * ldc * sizeof(float));
  if (!abuf || !w || !b || !c || !r) {
    CHECK(0, "out of memory");
    goto done;
  }
  float *a = abuf + 1, *cc = c + 1;
  fill(abuf, (size_t)m * lda + 1);
  fill(w, (size_t)n * ldw);
  fill(b, (size_t)n);
  for (size_t i = 0; i < (size_t)m * ldc + 1; i++) c[i] = 1234.5f; /* the gaps must stay */
  float lo = clamp ? -0.25f : -INFINITY, hi = clamp ? 0.5f : INFINITY;
  nn_sgemm_ref(m, n, k, a, lda, w, ldw, bias ? b : NULL, lo, hi, r, ldc);
  nn_sgemm *g = NULL;
  emoi_err err;
  int st = nn_sgemm_create(n, k, w, ldw, bias ? b : NULL, lo, hi, g_cap, &g, &err);
  CHECK(st == EMO_OK, "create: %s", err.msg);
  if (st) goto done;
  nn_sgemm_run(g, m, a, lda, cc, ldc, pool);
  int bad = 0, gap = 0;
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++)
      if (memcmp(&cc[(size_t)i * ldc + j], &r[(size_t)i * ldc + j], sizeof(float)) && !bad++)
        fprintf(stderr, "m %d n %d k %d: c[%d][%d] = %.9g, reference %.9g\n", m, n, k, i, j,
                cc[(size_t)i * ldc + j], r[(size_t)i * ldc + j]);
    for (size_t j = (size_t)n; j < ldc && (size_t)i * ldc + j < (size_t)m * ldc; j++)
      gap += cc[(size_t)i * ldc + j] != 1234.5f;
  }
  gap += c[0] != 1234.5f;
  CHECK(!bad, "m %d n %d k %d bias %d clamp %d pool %d: %d elements differ from the reference", m,
        n, k, bias, clamp, pool != NULL, bad);
  CHECK(!gap, "m %d n %d k %d: %d floats written outside c", m, n, k, gap);
  n_cases++;
  nn_sgemm_destroy(&g);
done:
  free(abuf);
  free(w);
  free(b);
  free(c);
  free(r);
}

/* x (1,h,w,ci) -> conv (co,kh,kw,ci) stride s -> FC over the flattened result (fc outputs). The
 * conv's ReLU: act 0, its own clamp; 1, a RELU node after it; 2, a RELU6 node after it. */
static nn_graph *build_graph(int h, int wd, int ci, int co, int kh, int stride, int fc, int act) {
  emoi_err err;
  nn_graph *g = NULL;
  if (nn_graph_create("test_sgemm", &g, &err)) return NULL;
  int64_t xs[4] = {1, h, wd, ci}, ws[4] = {co, kh, kh, ci}, bs[1] = {co};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, &err);
  size_t nw = (size_t)co * kh * kh * ci;
  float *wv = malloc(nw * sizeof(float)), *bv = malloc((size_t)co * sizeof(float));
  fill(wv, nw);
  fill(bv, (size_t)co);
  int w = nn_graph_add_const(g, "w", NN_F32, 4, ws, wv, nw * sizeof(float), &err);
  int b = nn_graph_add_const(g, "b", NN_F32, 1, bs, bv, (size_t)co * sizeof(float), &err);
  int64_t ys[4] = {1, -1, -1, co};
  int y = nn_graph_add_value(g, "y", NN_F32, 4, ys, &err);
  nn_attr a = nn_attr_default();
  a.stride_h = a.stride_w = stride;
  if (!act) a.act_min = 0.0f;
  int in[3] = {x, w, b};
  nn_graph_add_node(g, NN_OP_CONV2D, in, 3, &y, 1, &a, "conv", &err);
  if (act) {
    int r = nn_graph_add_value(g, "relu", NN_F32, 4, ys, &err);
    nn_attr ra = nn_attr_default();
    nn_graph_add_node(g, act == 2 ? NN_OP_RELU6 : NN_OP_RELU, &y, 1, &r, 1, &ra, "relu", &err);
    y = r;
  }
  int ho = (h - kh) / stride + 1, wo = (wd - kh) / stride + 1;
  int64_t fs[2] = {fc, (int64_t)ho * wo * co}, os[2] = {1, fc};
  size_t nf = (size_t)fc * ho * wo * co;
  float *fv = malloc(nf * sizeof(float));
  fill(fv, nf);
  int f = nn_graph_add_const(g, "fw", NN_F32, 2, fs, fv, nf * sizeof(float), &err);
  int o = nn_graph_add_value(g, "o", NN_F32, 2, os, &err);
  nn_attr fa = nn_attr_default();
  int fin[2] = {y, f};
  nn_graph_add_node(g, NN_OP_FULLY_CONNECTED, fin, 2, &o, 1, &fa, "fc", &err);
  free(wv);
  free(bv);
  free(fv);
  if (nn_graph_set_io(g, &x, 1, &o, 1, &err) || nn_graph_finalize(g, &err)) {
    fprintf(stderr, "graph: %s\n", err.msg);
    nn_graph_destroy(&g);
  }
  return g;
}

static void plan_case(int h, int wd, int ci, int co, int kh, int stride, int fc, int act,
                      int want_gemm) {
  nn_graph *g = build_graph(h, wd, ci, co, kh, stride, fc, act);
  CHECK(g != NULL, "graph %dx%dx%d", h, wd, ci);
  if (!g) return;
  emoi_err err;
  nn_plan *px = NULL, *po = NULL;
  nn_plan_options ox = {0}, oo = {0};
  ox.gemm = NN_GEMM_XNNPACK;
  oo.gemm = NN_GEMM_OWN;
  ox.isa = oo.isa = g_cap;
  int st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &ox, &px, &err);
  CHECK(st == EMO_OK, "plan: %s", err.msg);
  st = st ? st : nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &oo, &po, &err);
  CHECK(st == EMO_OK, "plan: %s", err.msg);
  if (!st) {
    nn_plan_stats s;
    nn_plan_get_stats(po, &s);
    /* a RELU node folded into the product's clamp counts as fused (nn_plan_stats) */
    CHECK(s.n_nodes_gemm + s.n_nodes_fused == want_gemm,
          "%dx%d conv %dx%d stride %d: %d nodes on the GEMM and %d fused, want %d in all", h, wd,
          kh, kh, stride, s.n_nodes_gemm, s.n_nodes_fused, want_gemm);
    nn_plan_get_stats(px, &s);
    CHECK(s.n_nodes_gemm == 0, "NN_GEMM_XNNPACK: %d nodes on the GEMM", s.n_nodes_gemm);
    size_t nx = (size_t)h * wd * ci;
    fill(nn_plan_input(px, 0), nx);
    if (act == 2) /* inputs large enough that the conv reaches past 6 */
      for (size_t i = 0; i < nx; i++) nn_plan_input(px, 0)[i] *= 8.0f;
    memcpy(nn_plan_input(po, 0), nn_plan_input(px, 0), nx * sizeof(float));
    CHECK(nn_plan_run(px, &err) == EMO_OK, "run: %s", err.msg);
    CHECK(nn_plan_run(po, &err) == EMO_OK, "run: %s", err.msg);
    const float *yx = nn_plan_output(px, 0), *yo = nn_plan_output(po, 0);
    double worst = 0, big = 1;
    for (int i = 0; i < fc; i++) big = fmax(big, fabs(yx[i]));
    for (int i = 0; i < fc; i++) worst = fmax(worst, fabs(yx[i] - yo[i]) / big);
    printf("plan %dx%dx%d conv %dx%d/%d -> %d%s, fc %d: worst relative difference %.3g\n", h, wd,
           ci, kh, kh, stride, co,
           act == 2 ? " + RELU6 node"
           : act    ? " + RELU node"
                    : "",
           fc, worst);
    CHECK(worst <= 1e-5, "plan: own GEMM differs from XNNPACK by %g", worst);
  }
  nn_plan_destroy(&px);
  nn_plan_destroy(&po);
  nn_graph_destroy(&g);
}

int main(int argc, char **argv) {
  g_cap = (nn_isa)th_isa_arg(argc, argv);
  printf("kernels: the %s path\n", nn_sgemm_isa(g_cap) == NN_ISA_AVX512 ? "AVX-512"
                                   : nn_sgemm_isa(g_cap) == NN_ISA_AVX2 ? "AVX2 + FMA"
                                                                        : "scalar");
  pthreadpool_t pool = pthreadpool_create(2);
  static const int ms[] = {1, 7, 13, 127, 200}, ns[] = {1, 7, 13, 16, 17, 33, 127},
                   ks[] = {1, 7, 13, 127};
  for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
    for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
      for (size_t q = 0; q < sizeof ks / sizeof *ks; q++)
        kernel_case(ms[i], ns[j], ks[q], (int)((i + j + q) & 1), (int)((i + q) % 3 == 0),
                    (i + j) % 4 == 3 ? pool : NULL);
  kernel_case(4096, 64, 32, 1, 1, pool); /* several row chunks on the pool */
  printf("%d kernel cases bit-identical to the reference\n", n_cases);
  plan_case(9, 11, 13, 33, 1, 1, 7, 0, 2);   /* 1x1 conv and FC on the GEMM */
  plan_case(16, 16, 32, 64, 3, 1, 10, 0, 1); /* 3x3: only the FC */
  plan_case(15, 15, 16, 17, 1, 2, 3, 0, 1);  /* strided 1x1: only the FC */
  plan_case(9, 11, 13, 33, 1, 1, 7, 1, 3);   /* the RELU node folded into the conv's clamp */
  plan_case(9, 11, 13, 33, 1, 1, 7, 2, 3);   /* and a RELU6 node */
  plan_case(15, 15, 16, 17, 1, 2, 3, 1, 1);  /* strided: the RELU stays on XNNPACK */
  pthreadpool_destroy(pool);
  return th_finish("test_sgemm");
}
