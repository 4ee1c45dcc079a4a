/* test_qconv.c: the int8 convolution (src/nn/qconv.c) and its fused depthwise step (dwq.c).
 *   1. the packed scalar GEMM against a naive loop on the unpacked weights, and the
 *      AVX512-VNNI kernel against the scalar one, bit-identical int32, for m, k, n in
 *      {1, 7, 13, 127} and the FER model's sizes, at odd addresses and row strides (the
 *      VNNI part is skipped, with the reason printed, on a CPU without AVX512-VNNI);
 *   2. a whole node against the float CONV2D of ops_ref.c on random data (1x1 kernels and
 *      larger ones gathered im2col: FER's 3x3 dense conv, 2x3, 1x7; stride 1, 2 and 3,
 *      bias or none, clamps, ReLU-like and signed inputs): the worst |difference| relative to
 *      max |reference| is printed and must stay within QC_TOL; the scalar and the VNNI node
 *      must agree bit for bit; weights with inf/NaN or all-zero channels and inputs that are
 *      all zero or hold NaN do not crash;
 *   3. plans (test_qconv_plan below): the option, the size threshold, int8 not asked;
 *   4. the real expression networks (FER mini-Xception, face-api) int8 against float on the
 *      faces found in ../shared/data/faces (skipped, with the reason, without the photos or
 *      the models): worst and mean |delta p| and argmax agreement are printed and bounded;
 *   5. the 3x3 depthwise kernel of the fused step (src/nn/dwq.c): the scalar reference against
 *      ops_ref.c's DEPTHWISE_CONV2D, and the AVX-512 kernel against the scalar one (equal
 *      floats, the same range and NaN flag) on random awkward sizes;
 *   6. the fused depthwise + int8 1x1 step in plans: it is chosen (nn_plan_stats.n_nodes_dwq),
 *      not when the depthwise output has another reader or with no_dwq, and its output
 *      stays within QC_TOL of the float reference plan; the scalar and vector steps agree bit
 *      for bit.
 * argv[1] (harness.h's th_isa_arg) limits the vector kernels compared with the scalar
 * references to one cap: scalar (references only), avx2, avx512 (VNNI; skipped with the
 * reason on a CPU without it); none or auto: every kernel this CPU has. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"
#include "harness.h"
#include "media/image_decode.h"
#include "nn/dwq.h"
#include "nn/nn.h"
#include "nn/qconv.h"
#include "nn/tfjs_reader.h"
#include "vision/blazeface.h"
#include "vision/face_expression.h"
#include "vision/faceapi_expression_net.h"

/* Output error of one int8 1x1 conv, relative to max |reference output|. The input is
 * quantised with (range / 255) / 2 worst-case error per value and each weight with
 * max|w| / 254; over k random terms these add like a random walk: measured worst 0.6% at
 * k = 256 (all cases below), so 2% leaves a margin without hiding an error of layout or
 * zero point (those are O(1)). */
#define QC_TOL 0.02

/* The expression networks int8 vs float on the 36 real faces, per probability: measured
 * worst 0.066 (FER) and 0.075 (face-api), mean 0.0036 and 0.0026, argmax the same on all;
 * the bounds leave a 2x margin. */
#define QC_MEAN_DP 0.01
#define QC_WORST_DP 0.15

static unsigned rng = 777u;

/* ---- 1. the GEMM --------------------------------------------------------------------- */

/* The AVX2 kernel on its own packing of w, against c2 (the scalar reference's sums). */
static int gemm_case_avx2(int m, int n, int k, const uint8_t *a, size_t lda, const int8_t *w,
                          size_t ldw, const int32_t *c2, size_t ldc) {
  int16_t *p16 = malloc(nn_qgemm_avx2_packed_bytes(n, k));
  int32_t *c3 = malloc((size_t)m * ldc * sizeof *c3);
  int bad = 0;
  if (!p16 || !c3) {
    CHECK(0, "out of memory");
    bad = 1;
    goto done;
  }
  nn_qgemm_avx2_pack(w, ldw, n, k, p16);
  memset(c3, 0x55, (size_t)m * ldc * sizeof *c3);
  CHECK(nn_qgemm_avx2(m, n, k, a, lda, p16, c3, ldc) == EMO_OK, "avx2 refused");
  for (int i = 0; i < m && !bad; i++) {
    for (int o = 0; o < n; o++)
      if (c3[(size_t)i * ldc + o] != c2[(size_t)i * ldc + o]) {
        CHECK(0, "avx2 m %d n %d k %d: c[%d][%d] = %d, reference %d", m, n, k, i, o,
              c3[(size_t)i * ldc + o], c2[(size_t)i * ldc + o]);
        bad = 1;
        break;
      }
    for (size_t o = (size_t)n; o < ldc && !bad; o++)
      if (c3[(size_t)i * ldc + o] != 0x55555555) {
        CHECK(0, "avx2 m %d n %d k %d: wrote past row %d", m, n, k, i);
        bad = 1;
      }
  }
done:
  free(p16);
  free(c3);
  return !bad;
}

static int have_avx2, n_avx2;
static nn_isa g_cap = NN_ISA_AUTO; /* argv[1] */

/* 1 when the int8 kernels of cap run on this CPU and the test's cap asks for them. */
static int cap_runs(nn_isa cap) {
  return nn_qconv_isa(cap) == cap && (g_cap == NN_ISA_AUTO || g_cap == cap);
}

static void gemm_case(int m, int n, int k, int have_vnni, int *n_vnni) {
  size_t lda = (size_t)k + 3, ldw = (size_t)k + 1, ldc = (size_t)n + 5;
  unsigned char *abuf = malloc((size_t)m * lda + 1), *wbuf = malloc((size_t)n * ldw + 1);
  size_t pb = nn_qgemm_packed_bytes(n, k);
  int8_t *pbuf = malloc(pb + 1);
  int32_t *c0 = malloc((size_t)m * ldc * sizeof *c0),
          *c1 = malloc((size_t)m * ldc * sizeof *c1 + 4),
          *c2 = malloc((size_t)m * ldc * sizeof *c2);
  if (!abuf || !wbuf || !pbuf || !c0 || !c1 || !c2) {
    CHECK(0, "out of memory");
    goto done;
  }
  /* odd addresses: one byte (one int32) past what malloc gives */
  uint8_t *a = abuf + 1;
  int8_t *w = (int8_t *)wbuf + 1, *packed = pbuf + 1;
  int32_t *c1u = c1 + 1;
  for (size_t i = 0; i < (size_t)m * lda; i++) a[i] = (uint8_t)(th_randf(&rng, 0, 256));
  for (size_t i = 0; i < (size_t)n * ldw; i++) w[i] = (int8_t)(th_randf(&rng, -127.99f, 128));
  /* extremes in the first row and column: 255 x -128 and 255 x 127 sums */
  for (int i = 0; i < k; i++) a[i] = 255, w[i] = (int8_t)(i & 1 ? -128 : 127);
  nn_qgemm_pack(w, ldw, n, k, packed);
  for (int i = 0; i < m; i++)
    for (int o = 0; o < n; o++) {
      int32_t s = 0;
      for (int j = 0; j < k; j++) s += (int32_t)a[(size_t)i * lda + j] * w[(size_t)o * ldw + j];
      c0[(size_t)i * ldc + o] = s;
    }
  memset(c2, 0x55, (size_t)m * ldc * sizeof *c2);
  nn_qgemm_ref(m, n, k, a, lda, packed, c2, ldc);
  int bad = 0;
  for (int i = 0; i < m && !bad; i++)
    for (int o = 0; o < n; o++)
      if (c2[(size_t)i * ldc + o] != c0[(size_t)i * ldc + o]) {
        CHECK(0, "ref m %d n %d k %d: c[%d][%d] = %d, naive %d", m, n, k, i, o,
              c2[(size_t)i * ldc + o], c0[(size_t)i * ldc + o]);
        bad = 1;
        break;
      }
  if (have_vnni) {
    memset(c1u, 0x55, (size_t)m * ldc * sizeof *c1u);
    CHECK(nn_qgemm_vnni(m, n, k, a, lda, packed, c1u, ldc) == EMO_OK, "vnni refused");
    for (int i = 0; i < m && !bad; i++) {
      for (int o = 0; o < n; o++)
        if (c1u[(size_t)i * ldc + o] != c2[(size_t)i * ldc + o]) {
          CHECK(0, "vnni m %d n %d k %d: c[%d][%d] = %d, reference %d", m, n, k, i, o,
                c1u[(size_t)i * ldc + o], c2[(size_t)i * ldc + o]);
          bad = 1;
          break;
        }
      /* the padding of each row of c is not written */
      for (size_t o = (size_t)n; o < ldc && !bad && i < m - 1; o++)
        if (c1u[(size_t)i * ldc + o] != 0x55555555) {
          CHECK(0, "vnni m %d n %d k %d: wrote past row %d", m, n, k, i);
          bad = 1;
        }
    }
    (*n_vnni)++;
  }
  if (have_avx2 && !bad) n_avx2 += gemm_case_avx2(m, n, k, a, lda, w, ldw, c2, ldc);
done:
  free(abuf);
  free(wbuf);
  free(pbuf);
  free(c0);
  free(c1);
  free(c2);
}

static void test_gemm(void) {
  int have = nn_qconv_cpu_has_vnni() && cap_runs(NN_ISA_AVX512), n_vnni = 0;
  have_avx2 = nn_qconv_cpu_has_avx2() && (g_cap == NN_ISA_AUTO || g_cap == NN_ISA_AVX2);
  if (!have_avx2)
    printf("  AVX2 kernel not tested: %s\n",
           nn_qconv_cpu_has_avx2() ? "another cap is tested" : "this CPU lacks AVX2");
  if (!have)
    printf("  VNNI kernel not tested: %s\n", nn_qconv_cpu_has_vnni()
                                                 ? "another cap is tested"
                                                 : "this CPU lacks AVX512-VNNI (scalar only)");
  static const int sz[] = {1, 7, 13, 127};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 4; l++) gemm_case(sz[i], sz[j], sz[l], have, &n_vnni);
  static const int fer[][3] = {{841, 128, 64}, {225, 256, 256}, {64, 256, 128}, {29, 64, 4},
                               {6, 48, 8},     {12, 80, 5},     {5, 16, 300}};
  for (size_t i = 0; i < sizeof fer / sizeof fer[0]; i++)
    gemm_case(fer[i][0], fer[i][1], fer[i][2], have, &n_vnni);
  int32_t c = 0;
  uint8_t a[4] = {0};
  int8_t p[64] = {0};
  if (!nn_qconv_cpu_has_vnni())
    CHECK(nn_qgemm_vnni(1, 1, 1, a, 4, p, &c, 1) == EMO_EUNSUPPORTED, "no VNNI: refuse");
  int16_t p16[32] = {0};
  if (!nn_qconv_cpu_has_avx2())
    CHECK(nn_qgemm_avx2(1, 1, 1, a, 4, p16, &c, 1) == EMO_EUNSUPPORTED, "no AVX2: refuse");
  printf("  gemm: %d VNNI and %d AVX2 cases bit-identical to the scalar reference\n", n_vnni,
         n_avx2);
}

/* ---- 2. the node --------------------------------------------------------------------- */

/* Float reference of the conv (ops_ref.c) into y. */
/* Runs node on ops_ref with x, w, optional b and y (rank-4 x, w, y get dense strides). */
static int run_ref(const nn_node *node, nn_tensor *tx, nn_tensor *tw, nn_tensor *tb,
                   nn_tensor *ty) {
  nn_tensor *ts[3] = {tx, tw, ty};
  for (int t = 0; t < 3; t++) {
    int64_t s = 4;
    for (int k = 3; k >= 0; k--) ts[t]->stride[k] = s, s *= ts[t]->shape[k];
  }
  const nn_tensor *ins[3] = {tx, tw, tb};
  nn_tensor *outs[1] = {ty};
  emoi_err e = {{0}};
  int st = nn_ref_run_node(node, ins, outs, &e);
  CHECK(st == 0, "reference %s: %s", node->name, e.msg);
  return st;
}

static int ref_conv(const nn_qconv_desc *d, const float *x, const float *w, const float *b,
                    float *y) {
  nn_node node = {0};
  node.op = NN_OP_CONV2D;
  node.n_in = 3;
  node.n_out = 1;
  node.attr = nn_attr_default();
  node.attr.stride_h = d->stride_h;
  node.attr.stride_w = d->stride_w;
  node.attr.act_min = d->act_min;
  node.attr.act_max = d->act_max;
  /* the bottom/right padding that makes the output size come out (may be negative: the
     last rows are not read) */
  node.attr.padding = NN_PAD_EXPLICIT;
  int kh = d->kh ? d->kh : 1, kw = d->kw ? d->kw : 1;
  node.attr.pad_bottom = (d->ho - 1) * d->stride_h + kh - d->h;
  node.attr.pad_right = (d->wo - 1) * d->stride_w + kw - d->w;
  node.name = "conv";
  nn_tensor tx = {NN_F32, 4, {d->n, d->h, d->w, d->ci}, {0}, (void *)x};
  nn_tensor tw = {NN_F32, 4, {d->co, kh, kw, d->ci}, {0}, (void *)w};
  nn_tensor tb = {NN_F32, 1, {d->co}, {4}, (void *)b};
  nn_tensor ty = {NN_F32, 4, {d->n, d->ho, d->wo, d->co}, {0}, y};
  return run_ref(&node, &tx, &tw, b ? &tb : NULL, &ty);
}

static double worst_rel;

/* One random node with a kh x kw kernel (VALID): float reference, scalar int8, VNNI int8.
 * xlo/xhi: input range. */
static void node_case_k(int n, int h, int w, int ci, int co, int kh, int kw, int s, int bias,
                        float lo, float hi, float xlo, float xhi) {
  int ho = (h - kh) / s + 1, wo = (w - kw) / s + 1;
  nn_qconv_desc d = {n, h, w, ci, co, ho, wo, s, s, lo, hi, 0, kh, kw};
  size_t nx = (size_t)n * h * w * ci, nw = (size_t)co * kh * kw * ci, ny = (size_t)n * ho * wo * co;
  float *x = malloc(nx * sizeof *x), *wt = malloc(nw * sizeof *wt), *b = malloc(co * sizeof *b);
  float *yr = malloc(ny * sizeof *yr), *ys = malloc(ny * sizeof *ys), *yv = malloc(ny * sizeof *yv);
  nn_qconv *qs = NULL, *qv = NULL;
  emoi_err e = {{0}};
  char label[128];
  snprintf(label, sizeof label, "%dx%dx%dx%d->%d k%dx%d s%d bias %d clamp [%g,%g] x [%g,%g]", n, h,
           w, ci, co, kh, kw, s, bias, lo, hi, xlo, xhi);
  if (!x || !wt || !b || !yr || !ys || !yv) {
    CHECK(0, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < nx; i++) x[i] = th_randf(&rng, xlo, xhi);
  for (size_t i = 0; i < nw; i++) wt[i] = th_randf(&rng, -0.5f, 0.5f);
  for (int i = 0; i < co; i++) b[i] = th_randf(&rng, -1, 1);
  if (ref_conv(&d, x, wt, bias ? b : NULL, yr)) goto done;
  d.isa = NN_ISA_SCALAR;
  int st = nn_qconv_create(&d, wt, bias ? b : NULL, &qs, &e);
  CHECK(st == 0, "%s: create: %s", label, e.msg);
  if (st) goto done;
  for (int r = 0; r < 2 && !st; r++) st = nn_qconv_run(qs, x, ys, &e);
  CHECK(st == 0, "%s: run: %s", label, e.msg);
  double mx = 0, dd = 0;
  for (size_t i = 0; i < ny; i++) {
    if (fabs(yr[i]) > mx) mx = fabs(yr[i]);
    if (fabs((double)yr[i] - ys[i]) > dd || ys[i] != ys[i]) dd = fabs((double)yr[i] - ys[i]);
  }
  double rel = mx > 0 ? dd / mx : dd;
  CHECK(rel <= QC_TOL, "%s: worst |int8 - float| / max|float| = %.4g", label, rel);
  if (rel > worst_rel) worst_rel = rel;
  if (getenv("QC_VERBOSE")) printf("    %s: %.4g\n", label, rel);
  for (nn_isa cap = NN_ISA_AVX2; cap <= NN_ISA_AVX512; cap++) {
    if (!cap_runs(cap)) continue; /* this CPU cannot run it, or another cap is tested */
    d.isa = cap;
    nn_qconv_destroy(&qv);
    st = nn_qconv_create(&d, wt, bias ? b : NULL, &qv, &e);
    for (int r = 0; r < 2 && !st; r++) st = nn_qconv_run(qv, x, yv, &e);
    CHECK(st == 0, "%s: %s: %s", label, cap == NN_ISA_AVX2 ? "avx2" : "vnni", e.msg);
    if (!st)
      CHECK(memcmp(ys, yv, ny * sizeof *ys) == 0, "%s: %s node differs from scalar", label,
            cap == NN_ISA_AVX2 ? "AVX2" : "VNNI");
  }
done:
  nn_qconv_destroy(&qs);
  nn_qconv_destroy(&qv);
  free(x);
  free(wt);
  free(b);
  free(yr);
  free(ys);
  free(yv);
}

static void node_case(int n, int h, int w, int ci, int co, int s, int bias, float lo, float hi,
                      float xlo, float xhi) {
  node_case_k(n, h, w, ci, co, 1, 1, s, bias, lo, hi, xlo, xhi);
}

static void test_node(void) {
  node_case(1, 29, 29, 64, 128, 1, 1, 0, INFINITY, 0, 3);          /* FER after ReLU */
  node_case(1, 29, 29, 64, 128, 2, 1, -INFINITY, INFINITY, -2, 1); /* FER shortcut */
  node_case(1, 15, 15, 256, 256, 1, 1, -INFINITY, INFINITY, -1, 1);
  node_case(1, 7, 13, 7, 13, 1, 0, -INFINITY, INFINITY, -1, 3);
  node_case(2, 13, 7, 13, 7, 2, 1, 0, 6, -1, 1);
  node_case(1, 1, 1, 127, 1, 1, 1, -0.5f, 0.5f, -3, -1); /* negative only: zero point 255 */
  node_case(1, 8, 9, 1, 127, 3, 1, -INFINITY, INFINITY, 0, 1);
  node_case(1, 127, 1, 17, 33, 1, 0, 0, INFINITY, -1, 1);
  node_case_k(1, 31, 31, 32, 64, 3, 3, 1, 1, 0, INFINITY, 0, 2); /* FER's 3x3 dense conv */
  node_case_k(1, 7, 9, 13, 7, 3, 3, 1, 0, -INFINITY, INFINITY, -1, 3);
  node_case_k(2, 9, 8, 5, 17, 2, 3, 2, 1, 0, 6, -1, 1);
  node_case_k(1, 3, 3, 1, 1, 3, 3, 1, 1, -INFINITY, INFINITY, -1, 1);
  node_case_k(1, 5, 13, 127, 13, 1, 7, 3, 1, -INFINITY, INFINITY, -2, 1);
  printf("  node: worst |int8 - float| / max|float| %.4g (bound %g)\n", worst_rel, QC_TOL);
}

/* Weights with inf/NaN and an all-zero channel, inputs all zero or with NaN. */
static void test_edges(void) {
  enum { CI = 20, CO = 18, H = 3 };
  nn_qconv_desc d = {1, H, H, CI, CO, H, H, 1, 1, -INFINITY, INFINITY, 0, 1, 1};
  float w[CO * CI], b[CO], x[H * H * CI], y[H * H * CO];
  for (int i = 0; i < CO * CI; i++) w[i] = th_randf(&rng, -1, 1);
  for (int i = 0; i < CO; i++) b[i] = (float)i;
  for (int c = 0; c < CI; c++) w[3 * CI + c] = 0; /* channel 3: all zero */
  w[5 * CI + 2] = INFINITY;
  w[6 * CI + 1] = NAN;
  for (int c = 0; c < CI; c++) w[7 * CI + c] = NAN; /* channel 7: nothing finite */
  for (int i = 0; i < H * H * CI; i++) x[i] = th_randf(&rng, -1, 1);
  for (nn_isa cap = NN_ISA_AUTO; cap <= NN_ISA_AVX2; cap++) {
    nn_qconv *q = NULL;
    emoi_err e = {{0}};
    d.isa = cap;
    CHECK(nn_qconv_create(&d, w, b, &q, &e) == 0, "create with inf/NaN weights: %s", e.msg);
    if (!q) continue;
    CHECK(nn_qconv_run(q, x, y, &e) == 0, "run: %s", e.msg);
    int finite = 1;
    for (int i = 0; i < H * H * CO; i++) finite &= isfinite(y[i]) != 0;
    CHECK(finite, "non-finite output from finite input");
    CHECK(y[3] == 3.0f && y[7] == 7.0f, "zero channels: %g %g, want their bias 3, 7", y[3], y[7]);
    float z[H * H * CI] = {0};
    CHECK(nn_qconv_run(q, z, y, &e) == 0, "zero input: %s", e.msg);
    CHECK(y[0] == 0.0f && y[CO + 4] == 4.0f, "zero input: %g %g, want the bias", y[0], y[CO + 4]);
    z[5] = NAN;
    CHECK(nn_qconv_run(q, z, y, &e) == 0, "NaN input: %s", e.msg);
    CHECK(isnan(y[0]) && isnan(y[H * H * CO - 1]), "NaN input: output not NaN");
    z[5] = INFINITY;
    CHECK(nn_qconv_run(q, z, y, &e) == 0 && isnan(y[1]), "inf input: output not NaN");
    nn_qconv_destroy(&q);
    nn_qconv_destroy(&q);
  }
  nn_qconv *q = NULL;
  emoi_err e = {{0}};
  d.ho = 4; /* more rows than the input has */
  CHECK(nn_qconv_create(&d, w, b, &q, &e) == EMO_EINVAL && !q, "bad output size accepted");
  CHECK(nn_qconv_run(NULL, x, y, &e) == EMO_EINVAL, "run on NULL");
  nn_qconv_destroy(NULL);
}

/* ---- 3. plans ------------------------------------------------------------------------- */

/* x (1,h,h,ci) -> RELU -> CONV2D 1x1 (co) -> ADD(y, y) -> out: the conv sits between two
 * XNNPACK runs. */
static nn_graph *pw_graph(int h, int ci, int co, emoi_err *e) {
  nn_graph *g = NULL;
  if (nn_graph_create("qconv_graph", &g, e)) return NULL;
  int64_t xs[4] = {1, h, h, ci}, u[4] = {-1, -1, -1, -1};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, e);
  float *wd = malloc((size_t)co * ci * sizeof *wd), *bd = malloc((size_t)co * sizeof *bd);
  if (!wd || !bd) {
    free(wd);
    free(bd);
    nn_graph_destroy(&g);
    return NULL;
  }
  for (int i = 0; i < co * ci; i++) wd[i] = th_randf(&rng, -0.3f, 0.3f);
  for (int i = 0; i < co; i++) bd[i] = th_randf(&rng, -1, 1);
  int w = nn_graph_add_const(g, "w", NN_F32, 4, (int64_t[]){co, 1, 1, ci}, wd,
                             (size_t)co * ci * sizeof *wd, e);
  int b = nn_graph_add_const(g, "b", NN_F32, 1, (int64_t[]){co}, bd, (size_t)co * sizeof *bd, e);
  free(wd);
  free(bd);
  int r = nn_graph_add_value(g, "r", NN_F32, 4, u, e);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, u, e);
  int z = nn_graph_add_value(g, "z", NN_F32, 4, u, e);
  nn_graph_add_node(g, NN_OP_RELU, &x, 1, &r, 1, NULL, "relu", e);
  nn_attr a = nn_attr_default();
  a.padding = NN_PAD_SAME;
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){r, w, b}, 3, &y, 1, &a, "conv", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){y, y}, 2, &z, 1, NULL, "add", e);
  if (nn_graph_set_io(g, &x, 1, &z, 1, e) || nn_graph_finalize(g, e)) nn_graph_destroy(&g);
  return g;
}

/* Plans over pw_graph: float, int8 asked (options with .int8 = ask_int8), the reference;
 * want_q: int8 nodes expected. */
static void plan_case(int h, int ci, int co, int ask_int8, nn_isa cap, int want_q,
                      const char *label) {
  emoi_err e = {{0}};
  nn_graph *g = pw_graph(h, ci, co, &e);
  CHECK(g != NULL, "%s: graph: %s", label, e.msg);
  if (!g) return;
  nn_plan *pr = NULL, *pf = NULL, *pq = NULL;
  nn_plan_options on = {.int8 = ask_int8, .isa = cap};
  int st = nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &pr, &e);
  if (!st) st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, NULL, &pf, &e);
  if (!st) st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &on, &pq, &e);
  CHECK(st == 0, "%s: plan: %s", label, e.msg);
  if (!st) {
    nn_plan_stats sr, sf, sq;
    nn_plan_get_stats(pr, &sr);
    nn_plan_get_stats(pf, &sf);
    nn_plan_get_stats(pq, &sq);
    CHECK(sr.n_nodes_qconv == 0 && sf.n_nodes_qconv == 0, "%s: int8 without being asked", label);
    CHECK(sq.n_nodes_qconv == want_q, "%s: %d int8 nodes, expected %d", label, sq.n_nodes_qconv,
          want_q);
    /* every placement counted (the float products go to emo's GEMM on CPUs without AVX-512) */
    CHECK(nn_plan_stats_placed(&sq) == sq.n_nodes, "%s: node counts do not add up", label);
    size_t nx = (size_t)h * h * ci, ny = (size_t)h * h * co;
    for (size_t i = 0; i < nx; i++) {
      float v = th_randf(&rng, -1, 2);
      nn_plan_input(pr, 0)[i] = nn_plan_input(pf, 0)[i] = nn_plan_input(pq, 0)[i] = v;
    }
    st = nn_plan_run(pr, &e);
    if (!st) st = nn_plan_run(pf, &e);
    if (!st) st = nn_plan_run(pq, &e);
    CHECK(st == 0, "%s: run: %s", label, e.msg);
    double mx = 0, df = 0, dq = 0;
    for (size_t i = 0; i < ny && !st; i++) {
      double r = nn_plan_output(pr, 0)[i];
      if (fabs(r) > mx) mx = fabs(r);
      if (fabs(r - nn_plan_output(pf, 0)[i]) > df) df = fabs(r - nn_plan_output(pf, 0)[i]);
      if (fabs(r - nn_plan_output(pq, 0)[i]) > dq) dq = fabs(r - nn_plan_output(pq, 0)[i]);
    }
    printf("  plan %s: int8 nodes %d, worst |float - ref| %.3g, |int8 - ref| %.3g of max %.3g\n",
           label, sq.n_nodes_qconv, df, dq, mx);
    CHECK(df <= 1e-4 * (mx > 1 ? mx : 1), "%s: float plan off the reference", label);
    CHECK(dq <= QC_TOL * mx, "%s: int8 plan off the reference", label);
    if (!want_q) CHECK(dq == df, "%s: no int8 node but a different result", label);
  }
  nn_plan_destroy(&pr);
  nn_plan_destroy(&pf);
  nn_plan_destroy(&pq);
  nn_graph_destroy(&g);
}

static void test_plan(void) {
  int v = nn_qconv_isa(NN_ISA_AUTO) >= NN_ISA_AVX2, v2 = nn_qconv_isa(NN_ISA_AVX2) == NN_ISA_AVX2;
  if (!v) printf("  no AVX2: plans asked for int8 must stay float\n");
  plan_case(29, 64, 128, 1, NN_ISA_AUTO, v, "29x29x64->128"); /* 6.9M multiply-adds */
  plan_case(29, 64, 128, 1, NN_ISA_AVX2, v2, "29x29x64->128 at the AVX2 cap");
  plan_case(29, 64, 128, 1, NN_ISA_SCALAR, 0, "29x29x64->128 at the scalar cap (float)");
  plan_case(8, 32, 32, 1, NN_ISA_AUTO, 0, "8x8x32->32 (too small)"); /* 65k */
  plan_case(29, 64, 128, 0, NN_ISA_AUTO, 0, "int8 not asked");
}

/* ---- 4. real faces ---------------------------------------------------------------------- */

static const char *photos[] = {
    "faces/expressions/stock-emotions-a-1.jpg",
    "faces/expressions/stock-emotions-a-2.jpg",
    "faces/expressions/stock-emotions-a-3.jpg",
    "faces/expressions/stock-emotions-a-4.jpg",
    "faces/expressions/stock-emotions-a-5.jpg",
    "faces/expressions/stock-emotions-a-6.jpg",
    "faces/expressions/stock-emotions-a-7.jpg",
    "faces/expressions/stock-emotions-a-8.jpg",
    "faces/expressions/stock-emotions-b-1.jpg",
    "faces/expressions/stock-emotions-b-2.jpg",
    "faces/expressions/stock-emotions-b-3.jpg",
    "faces/expressions/stock-emotions-b-4.jpg",
    "faces/expressions/stock-emotions-b-5.jpg",
    "faces/expressions/stock-emotions-b-6.jpg",
    "faces/expressions/stock-emotions-b-7.jpg",
    "faces/expressions/stock-emotions-b-8.jpg",
    "faces/groups/group-1.jpg",
    "faces/misc/single_face.jpg",
    "faces/misc/multi_face.jpg",
};

typedef struct agree {
  int faces, same;
  double worst, sum;
} agree;

/* Every face the pipeline finds in the photos: net in float and in int8. */
static void compare_net(emo_context *ctx, fe_net net, const nn_graph *g, nn_isa cap, agree *ag) {
  emoi_err e = {{0}};
  nn_plan *pf = NULL, *pq = NULL;
  nn_plan_options on = {.int8 = 1, .isa = cap};
  if (nn_plan_create(g, NN_BACKEND_XNNPACK, NULL, &pf, &e) ||
      nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &on, &pq, &e)) {
    CHECK(0, "plan: %s", e.msg);
    goto done;
  }
  nn_plan_stats sq;
  nn_plan_get_stats(pq, &sq);
  printf("  %s: %d of %d nodes in int8, %d depthwise fused into them\n",
         net == FE_NET_FER ? "FER" : "face-api", sq.n_nodes_qconv, sq.n_nodes, sq.n_nodes_dwq);
  if (nn_dw3_isa(cap) == NN_ISA_SCALAR)
    CHECK(sq.n_nodes_dwq == 0, "fused %d depthwise nodes on the scalar kernel", sq.n_nodes_dwq);
  for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
    const char *path = th_data(photos[i]);
    const emo_image_result *r = NULL;
    unsigned char *bytes = NULL;
    size_t size = 0;
    img_rgb img = {0};
    if (!path || emo_analyze_file(ctx, NULL, path, &r) != EMO_OK || !r) continue;
    if (img_read_file(path, 1 << 28, &bytes, &size, &e) ||
        img_decode(bytes, size, 100000000, &img, &e)) {
      CHECK(0, "%s: %s", path, e.msg);
      free(bytes);
      continue;
    }
    for (int f = 0; f < r->face_count; f++) {
      bf_detection d;
      bf_detection_from_xywh(r->faces[f].box, r->faces[f].keypoints, r->faces[f].score, &d);
      float a[EMO_EXPR_COUNT], b[EMO_EXPR_COUNT];
      fe_align al;
      fe_align_from_detection(&d, &al);
      if (fe_classify(net, pf, img.data, img.width, img.height, img.width * 3, &al, a, &e) ||
          fe_classify(net, pq, img.data, img.width, img.height, img.width * 3, &al, b, &e)) {
        CHECK(0, "%s: classify: %s", path, e.msg);
        continue;
      }
      int ia = 0, ib = 0;
      for (int k = 0; k < EMO_EXPR_COUNT; k++) {
        double dp = fabs((double)a[k] - b[k]);
        if (dp > ag->worst) ag->worst = dp;
        ag->sum += dp;
        if (a[k] > a[ia]) ia = k;
        if (b[k] > b[ib]) ib = k;
      }
      ag->faces++;
      ag->same += ia == ib;
      if (getenv("QC_VERBOSE"))
        printf("    %s face %d: %s %.3f / %s %.3f\n", photos[i], f, emo_expression_name(ia), a[ia],
               emo_expression_name(ib), b[ib]);
    }
    img_rgb_free(&img);
    free(bytes);
  }
done:
  nn_plan_destroy(&pf);
  nn_plan_destroy(&pq);
}

static void test_real_faces(void) {
  if (!th_data("faces/expressions")) {
    printf("  real faces skipped: ../shared/data/faces is absent\n");
    return;
  }
  if (nn_qconv_isa(g_cap) < NN_ISA_AVX2) {
    printf("  real faces skipped: no AVX2 or a scalar cap, the plans never run int8 here\n");
    return;
  }
  emo_model_params p = emo_model_params_default();
  char dir[1024];
  if (emo_models_dir(&p, dir, sizeof dir) != EMO_OK) {
    printf("  real faces skipped: no model cache\n");
    return;
  }
  char fer_path[1100], fa_path[1100];
  snprintf(fer_path, sizeof fer_path, "%s/emotion.json", dir);
  snprintf(fa_path, sizeof fa_path, "%s/face_expression_model-weights_manifest.json", dir);
  FILE *f1 = fopen(fer_path, "rb"), *f2 = fopen(fa_path, "rb");
  int have = f1 && f2;
  if (f1) fclose(f1);
  if (f2) fclose(f2);
  if (!have || !th_models_ready()) {
    printf(
        "  real faces skipped: the model cache lacks emotion.json or face-api's "
        "expression model (run `emo models fetch`)\n");
    return;
  }
  emo_context_params cp = emo_context_params_default();
  cp.n_threads = 1;
  p.voice = 0;
  p.reid = 0;
  emo_model *model = NULL;
  emo_context *ctx = NULL;
  nn_graph *gf = NULL, *ga = NULL;
  emoi_err e = {{0}};
  int st = emo_model_load(&p, &model);
  if (!st) st = emo_context_create(model, &cp, &ctx);
  CHECK(st == EMO_OK, "model/context: %s", emo_status_str(st));
  if (!st) st = nn_tfjs_load(fer_path, 0, &gf, &e);
  if (!st) st = fe_faceapi_net_load(fa_path, 0, &ga, &e);
  CHECK(st == EMO_OK, "expression graphs: %s", e.msg);
  /* the best path here, then the AVX2 cap where that is another one; argv[1]: that cap only */
  int caps = g_cap != NN_ISA_AUTO || nn_qconv_isa(NN_ISA_AUTO) == NN_ISA_AVX2 ? 2 : 4;
  for (int n = 0; n < caps && !st; n++) {
    agree ag = {0, 0, 0, 0};
    nn_isa cap = g_cap != NN_ISA_AUTO ? g_cap : n < 2 ? NN_ISA_AUTO : NN_ISA_AVX2;
    compare_net(ctx, n % 2 == 0 ? FE_NET_FER : FE_NET_FACEAPI, n % 2 == 0 ? gf : ga, cap, &ag);
    double mean = ag.faces ? ag.sum / (ag.faces * EMO_EXPR_COUNT) : 0;
    printf(
        "  %s int8 (%s) vs float on %d real faces: argmax agrees on %d (%.1f%%), |dp| worst "
        "%.4f, mean %.5f\n",
        n % 2 == 0 ? "FER" : "face-api", nn_qconv_isa(cap) == NN_ISA_AVX2 ? "AVX2" : "VNNI",
        ag.faces, ag.same, ag.faces ? 100.0 * ag.same / ag.faces : 0.0, ag.worst, mean);
    CHECK(ag.faces >= 20, "only %d faces found in the photos", ag.faces);
    CHECK(ag.same >= 0.95 * ag.faces, "argmax agreement %d of %d below 95%%", ag.same, ag.faces);
    CHECK(mean <= QC_MEAN_DP, "mean |dp| %.5f above %g", mean, QC_MEAN_DP);
    CHECK(ag.worst <= QC_WORST_DP, "worst |dp| %.4f above %g", ag.worst, QC_WORST_DP);
  }
  nn_graph_destroy(&gf);
  nn_graph_destroy(&ga);
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
}

/* ---- 5. the depthwise kernel of the fused step ------------------------------------------ */

/* ops_ref.c's DEPTHWISE_CONV2D, SAME 3x3 stride 1, into y. */
static int ref_dw(const nn_dw3_desc *d, const float *x, const float *w, const float *b, float *y) {
  nn_node node = {0};
  node.op = NN_OP_DEPTHWISE_CONV2D;
  node.n_in = 3;
  node.n_out = 1;
  node.attr = nn_attr_default();
  node.attr.padding = NN_PAD_EXPLICIT;
  node.attr.pad_top = node.attr.pad_bottom = node.attr.pad_left = node.attr.pad_right = 1;
  node.attr.act_min = d->act_min;
  node.attr.act_max = d->act_max;
  node.name = "dw";
  nn_tensor tx = {NN_F32, 4, {d->n, d->h, d->w, d->c}, {0}, (void *)x};
  nn_tensor tw = {NN_F32, 4, {1, 3, 3, d->c}, {0}, (void *)w};
  nn_tensor tb = {NN_F32, 1, {d->c}, {4}, (void *)b};
  nn_tensor ty = {NN_F32, 4, {d->n, d->h, d->w, d->c}, {0}, y};
  return run_ref(&node, &tx, &tw, b ? &tb : NULL, &ty);
}

static double dw_worst_ref;
static int dw_n_vec, dw_n_avx2;

/* One random case: scalar reference vs ops_ref (1e-5 of max |output|: fmaf against separate
 * multiply and add), AVX-512 vs scalar (equal floats, same lo, hi, NaN flag). The buffers
 * sit one float past an aligned address. nan_at >= 0 puts a NaN into the input there. */
static void dw_case(int n, int h, int w, int c, int bias, float amin, float amax, long nan_at) {
  nn_dw3_desc d = {n, h, w, c, amin, amax};
  size_t nx = (size_t)n * h * w * c;
  float *xb = malloc((nx + 1) * sizeof *xb), *wt = malloc(9 * (size_t)c * sizeof *wt);
  float *b = malloc((size_t)c * sizeof *b), *y0 = malloc(nx * sizeof *y0);
  float *y1 = malloc(nx * sizeof *y1), *y2b = malloc((nx + 1) * sizeof *y2b);
  char label[128];
  snprintf(label, sizeof label, "dw %dx%dx%dx%d bias %d clamp [%g,%g] nan %ld", n, h, w, c, bias,
           amin, amax, nan_at);
  if (!xb || !wt || !b || !y0 || !y1 || !y2b) {
    CHECK(0, "out of memory");
    goto done;
  }
  float *x = xb + 1, *y2 = y2b + 1;
  for (size_t i = 0; i < nx; i++) x[i] = th_randf(&rng, -2, 2);
  for (int i = 0; i < 9 * c; i++) wt[i] = th_randf(&rng, -1, 1);
  for (int i = 0; i < c; i++) b[i] = th_randf(&rng, -1, 1);
  if (nan_at >= 0) x[nan_at] = NAN;
  float lo1, hi1, lo2, hi2;
  int nan1, nan2;
  nn_dw3_ref(&d, x, wt, bias ? b : NULL, y1, &lo1, &hi1, &nan1);
  if (nan_at < 0) {
    if (ref_dw(&d, x, wt, bias ? b : NULL, y0)) goto done;
    double mx = 0, dd = 0;
    float mn0 = 0, mx0 = 0;
    for (size_t i = 0; i < nx; i++) {
      if (fabs(y0[i]) > mx) mx = fabs(y0[i]);
      if (fabs((double)y0[i] - y1[i]) > dd) dd = fabs((double)y0[i] - y1[i]);
      mn0 = y1[i] < mn0 ? y1[i] : mn0;
      mx0 = y1[i] > mx0 ? y1[i] : mx0;
    }
    double rel = dd / (mx > 1 ? mx : 1);
    if (rel > dw_worst_ref) dw_worst_ref = rel;
    CHECK(rel <= 1e-5, "%s: scalar reference off ops_ref by %.3g", label, rel);
    CHECK(!nan1 && lo1 == mn0 && hi1 == mx0, "%s: range [%g,%g] nan %d, want [%g,%g]", label, lo1,
          hi1, nan1, mn0, mx0);
  } else {
    CHECK(nan1, "%s: NaN input, NaN flag not set", label);
  }
  if (nn_dw3_cpu_has_avx512() && (g_cap == NN_ISA_AUTO || g_cap == NN_ISA_AVX512)) {
    memset(y2, 0, nx * sizeof *y2);
    CHECK(nn_dw3_avx512(&d, x, wt, bias ? b : NULL, y2, &lo2, &hi2, &nan2) == EMO_OK,
          "%s: avx512 refused", label);
    size_t bad = nx;
    for (size_t i = 0; i < nx && bad == nx; i++)
      if (!(y1[i] == y2[i] || (y1[i] != y1[i] && y2[i] != y2[i]))) bad = i;
    CHECK(bad == nx, "%s: avx512 y[%zu] = %.9g, scalar %.9g", label, bad, bad < nx ? y2[bad] : 0,
          bad < nx ? y1[bad] : 0);
    CHECK(nan1 == nan2 && (nan1 || (lo1 == lo2 && hi1 == hi2)),
          "%s: avx512 range [%g,%g] nan %d, scalar [%g,%g] nan %d", label, lo2, hi2, nan2, lo1, hi1,
          nan1);
    dw_n_vec++;
  } else if (!nn_dw3_cpu_has_avx512()) {
    float z;
    int zn;
    CHECK(nn_dw3_avx512(&d, x, wt, b, y2, &z, &z, &zn) == EMO_EUNSUPPORTED, "no AVX-512: refuse");
  }
  if (nn_dw3_cpu_has_avx2() && (g_cap == NN_ISA_AUTO || g_cap == NN_ISA_AVX2)) {
    memset(y2, 0, nx * sizeof *y2);
    CHECK(nn_dw3_avx2(&d, x, wt, bias ? b : NULL, y2, &lo2, &hi2, &nan2) == EMO_OK,
          "%s: avx2 refused", label);
    size_t bad = nx;
    for (size_t i = 0; i < nx && bad == nx; i++)
      if (!(y1[i] == y2[i] || (y1[i] != y1[i] && y2[i] != y2[i]))) bad = i;
    CHECK(bad == nx, "%s: avx2 y[%zu] = %.9g, scalar %.9g", label, bad, bad < nx ? y2[bad] : 0,
          bad < nx ? y1[bad] : 0);
    CHECK(nan1 == nan2 && (nan1 || (lo1 == lo2 && hi1 == hi2)),
          "%s: avx2 range [%g,%g] nan %d, scalar [%g,%g] nan %d", label, lo2, hi2, nan2, lo1, hi1,
          nan1);
    dw_n_avx2++;
  }
done:
  free(xb);
  free(wt);
  free(b);
  free(y0);
  free(y1);
  free(y2b);
}

static void test_dw(void) {
  if (!nn_dw3_cpu_has_avx512()) printf("  AVX-512 depthwise not tested: this CPU lacks AVX-512F\n");
  static const int hw[] = {1, 2, 3, 5, 6, 13};
  static const int cs[] = {1, 7, 13, 16, 17, 127};
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++)
      for (int l = 0; l < 6; l++)
        dw_case(1 + ((i + j + l) % 2), hw[i], hw[j], cs[l], (i + l) % 2, -INFINITY, INFINITY, -1);
  dw_case(1, 29, 29, 64, 0, -INFINITY, INFINITY, -1); /* the FER sizes */
  dw_case(1, 29, 29, 128, 0, -INFINITY, INFINITY, -1);
  dw_case(1, 15, 15, 128, 1, -INFINITY, INFINITY, -1);
  dw_case(1, 15, 15, 256, 1, -INFINITY, INFINITY, -1);
  dw_case(1, 9, 10, 33, 1, 0, 6, -1); /* clamps */
  dw_case(1, 9, 10, 33, 1, -0.5f, INFINITY, -1);
  dw_case(1, 9, 10, 33, 1, 0, INFINITY, 9 * 10 * 33 - 1); /* a NaN through a ReLU clamp */
  dw_case(2, 4, 7, 20, 0, -INFINITY, INFINITY, 5);
  printf(
      "  depthwise: scalar vs ops_ref worst %.3g; %d AVX-512 and %d AVX2 cases equal to the "
      "scalar\n",
      dw_worst_ref, dw_n_vec, dw_n_avx2);
}

/* ---- 6. the fused step in plans --------------------------------------------------------- */

/* x (1,h,h,c) -> DEPTHWISE 3x3 SAME (bias) -> CONV2D 1x1 (co, ReLU) -> ADD(y, y) -> out; with
 * second_reader, RELU(t) of the depthwise output is a second graph output. */
static nn_graph *dw_graph(int h, int c, int co, int second_reader, emoi_err *e) {
  nn_graph *g = NULL;
  if (nn_graph_create("dwq_graph", &g, e)) return NULL;
  int64_t xs[4] = {1, h, h, c}, u[4] = {-1, -1, -1, -1};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, e);
  size_t nw = (size_t)co * c + 9 * (size_t)c + c + co;
  float *wd = malloc(nw * sizeof *wd);
  if (!wd) {
    nn_graph_destroy(&g);
    return NULL;
  }
  for (size_t i = 0; i < nw; i++) wd[i] = th_randf(&rng, -0.5f, 0.5f);
  float *dwd = wd + (size_t)co * c, *dbd = dwd + 9 * c, *bd = dbd + c;
  int dw = nn_graph_add_const(g, "dw_w", NN_F32, 4, (int64_t[]){1, 3, 3, c}, dwd,
                              9 * (size_t)c * sizeof *wd, e);
  int db = nn_graph_add_const(g, "dw_b", NN_F32, 1, (int64_t[]){c}, dbd, (size_t)c * sizeof *wd, e);
  int w = nn_graph_add_const(g, "w", NN_F32, 4, (int64_t[]){co, 1, 1, c}, wd,
                             (size_t)co * c * sizeof *wd, e);
  int b = nn_graph_add_const(g, "b", NN_F32, 1, (int64_t[]){co}, bd, (size_t)co * sizeof *wd, e);
  free(wd);
  int t = nn_graph_add_value(g, "t", NN_F32, 4, u, e);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, u, e);
  int z = nn_graph_add_value(g, "z", NN_F32, 4, u, e);
  int r = nn_graph_add_value(g, "r", NN_F32, 4, u, e);
  nn_attr a = nn_attr_default();
  a.padding = NN_PAD_SAME;
  nn_graph_add_node(g, NN_OP_DEPTHWISE_CONV2D, (int[]){x, dw, db}, 3, &t, 1, &a, "dw", e);
  a.act_min = 0;
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){t, w, b}, 3, &y, 1, &a, "conv", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){y, y}, 2, &z, 1, NULL, "add", e);
  if (second_reader) nn_graph_add_node(g, NN_OP_RELU, &t, 1, &r, 1, NULL, "relu", e);
  if (nn_graph_set_io(g, &x, 1, (int[]){z, r}, second_reader ? 2 : 1, e) || nn_graph_finalize(g, e))
    nn_graph_destroy(&g);
  return g;
}

static int find_op(const nn_graph *g, nn_op op) {
  for (int k = 0; k < g->n_nodes; k++)
    if (g->nodes[k].op == op) return k;
  return -1;
}

/* Reference plan, int8 plan (fused where want_dwq), int8 with no_dwq; the fused step
 * scalar vs vector. */
static void dwq_case(int h, int c, int co, int second_reader, int want_dwq, const char *label) {
  emoi_err e = {{0}};
  nn_graph *g = dw_graph(h, c, co, second_reader, &e);
  CHECK(g != NULL, "%s: graph: %s", label, e.msg);
  if (!g) return;
  nn_plan *pr = NULL, *pq = NULL, *pu = NULL;
  nn_dwq *fs = NULL, *fv = NULL;
  float *ys = NULL, *yv = NULL;
  nn_plan_options on = {.int8 = 1}, unfused = {.int8 = 1, .no_dwq = 1};
  int st = nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &pr, &e);
  if (!st) st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &on, &pq, &e);
  if (!st) st = nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &unfused, &pu, &e);
  CHECK(st == 0, "%s: plan: %s", label, e.msg);
  if (st) goto done;
  nn_plan_stats sq, su;
  nn_plan_get_stats(pq, &sq);
  nn_plan_get_stats(pu, &su);
  CHECK(sq.n_nodes_dwq == want_dwq, "%s: %d fused depthwise nodes, expected %d", label,
        sq.n_nodes_dwq, want_dwq);
  CHECK(su.n_nodes_dwq == 0, "%s: fused with no_dwq", label);
  CHECK(sq.n_nodes_xnn + sq.n_nodes_ref + sq.n_nodes_winograd + sq.n_nodes_qconv + sq.n_nodes_dwq ==
            sq.n_nodes,
        "%s: node counts do not add up", label);
  size_t nx = (size_t)h * h * c, ny = (size_t)h * h * co;
  for (size_t i = 0; i < nx; i++)
    nn_plan_input(pr, 0)[i] = nn_plan_input(pq, 0)[i] = nn_plan_input(pu, 0)[i] =
        th_randf(&rng, -1, 2);
  st = nn_plan_run(pr, &e);
  if (!st) st = nn_plan_run(pq, &e);
  if (!st) st = nn_plan_run(pu, &e);
  CHECK(st == 0, "%s: run: %s", label, e.msg);
  if (st) goto done;
  double mx = 0, dq = 0, du = 0;
  for (size_t i = 0; i < ny; i++) {
    double r = nn_plan_output(pr, 0)[i];
    if (fabs(r) > mx) mx = fabs(r);
    if (!(fabs(r - nn_plan_output(pq, 0)[i]) <= dq)) dq = fabs(r - nn_plan_output(pq, 0)[i]);
    if (!(fabs(r - nn_plan_output(pu, 0)[i]) <= du)) du = fabs(r - nn_plan_output(pu, 0)[i]);
  }
  printf("  dwq %s: fused %d, worst |int8 - ref| / max: fused %.4g, unfused %.4g (bound %g)\n",
         label, sq.n_nodes_dwq, dq / mx, du / mx, QC_TOL);
  CHECK(dq <= QC_TOL * mx, "%s: fused int8 plan off the reference", label);
  CHECK(du <= QC_TOL * mx, "%s: unfused int8 plan off the reference", label);
  if (second_reader) {
    const float *r0 = nn_plan_output(pr, 1), *r1 = nn_plan_output(pq, 1);
    double d1 = 0;
    for (size_t i = 0; i < nx; i++)
      if (fabs((double)r0[i] - r1[i]) > d1) d1 = fabs((double)r0[i] - r1[i]);
    CHECK(d1 <= 1e-4, "%s: second reader of the depthwise output off by %g", label, d1);
  }
  int kd = find_op(g, NN_OP_DEPTHWISE_CONV2D), kc = find_op(g, NN_OP_CONV2D);
  if (nn_qconv_isa(NN_ISA_AUTO) < NN_ISA_AVX2 || !nn_dwq_nodes_eligible(g, kd, kc)) goto done;
  ys = malloc(ny * sizeof *ys);
  yv = malloc(ny * sizeof *yv);
  st = !ys || !yv ? EMO_ENOMEM : nn_dwq_create_node(g, kd, kc, NN_ISA_SCALAR, &fs, &e);
  for (int rep = 0; rep < 2 && !st; rep++) st = nn_dwq_run(fs, nn_plan_input(pr, 0), ys, &e);
  /* every cap above scalar: AVX-512 depthwise + VNNI, scalar depthwise + AVX2 GEMM */
  for (nn_isa cap = NN_ISA_AVX2; cap <= NN_ISA_AVX512 && !st; cap++) {
    if (!cap_runs(cap)) continue;
    nn_dwq_destroy(&fv);
    st = nn_dwq_create_node(g, kd, kc, cap, &fv, &e);
    for (int rep = 0; rep < 2 && !st; rep++) st = nn_dwq_run(fv, nn_plan_input(pr, 0), yv, &e);
    if (!st)
      CHECK(memcmp(ys, yv, ny * sizeof *ys) == 0, "%s: vector step (cap %d) differs from scalar",
            label, (int)cap);
  }
  CHECK(st == 0, "%s: fused step: %s", label, e.msg);
done:
  nn_dwq_destroy(&fs);
  nn_dwq_destroy(&fv);
  free(ys);
  free(yv);
  nn_plan_destroy(&pr);
  nn_plan_destroy(&pq);
  nn_plan_destroy(&pu);
  nn_graph_destroy(&g);
}

static void test_dwq(void) {
  /* fused only where int8 runs and the depthwise kernel is AVX-512 */
  int v = nn_qconv_isa(NN_ISA_AUTO) >= NN_ISA_AVX2 && nn_dw3_isa(NN_ISA_AUTO) >= NN_ISA_AVX2;
  dwq_case(29, 64, 128, 0, v, "29x29x64->128");
  dwq_case(23, 37, 67, 0, v, "23x23x37->67");
  dwq_case(29, 64, 128, 1, 0, "29x29x64->128, depthwise read twice");
  nn_dwq *q = NULL;
  emoi_err e = {{0}};
  CHECK(nn_dwq_create_node(NULL, 0, 1, NN_ISA_AUTO, &q, &e) == EMO_EINVAL && !q,
        "NULL graph accepted");
  CHECK(nn_dwq_run(NULL, NULL, NULL, &e) == EMO_EINVAL, "run on NULL");
  nn_dwq_destroy(NULL);
}

int main(int argc, char **argv) {
  g_cap = (nn_isa)th_isa_arg(argc, argv);
  if (g_cap == NN_ISA_AVX512 && nn_qconv_isa(g_cap) != NN_ISA_AVX512)
    th_skip("the avx512 int8 kernels need AVX512-VNNI, which this CPU lacks");
  printf("test_qconv: gemm\n");
  test_gemm();
  printf("test_qconv: node\n");
  test_node();
  test_edges();
  printf("test_qconv: plans\n");
  test_plan();
  printf("test_qconv: depthwise\n");
  test_dw();
  printf("test_qconv: fused depthwise + int8\n");
  test_dwq();
  printf("test_qconv: real faces\n");
  test_real_faces();
  return th_finish("test_qconv");
}
