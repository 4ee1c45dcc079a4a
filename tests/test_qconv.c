/* test_qconv.c: the int8 pointwise convolution (src/nn/qconv.c).
 *   1. the packed scalar GEMM against a naive loop on the unpacked weights, and the
 *      AVX512-VNNI kernel against the scalar one, bit-identical int32, for m, k, n in
 *      {1, 7, 13, 127} and the FER model's sizes, at odd addresses and row strides (the
 *      VNNI part is skipped, with the reason printed, on a CPU without AVX512-VNNI);
 *   2. a whole node against the float CONV2D of ops_ref.c on random data (stride 1 and 2,
 *      bias or none, clamps, ReLU-like and signed inputs): the worst |difference| relative to
 *      max |reference| is printed and must stay within QC_TOL; the scalar and the VNNI node
 *      must agree bit for bit; weights with inf/NaN or all-zero channels and inputs that are
 *      all zero or hold NaN do not crash;
 *   3. plans (test_qconv_plan below): the option, the size threshold, EMO_NO_INT8=1;
 *   4. the real expression networks (FER mini-Xception, face-api) int8 against float on the
 *      faces found in ../shared/data/faces (skipped, with the reason, without the photos or
 *      the models): worst and mean |delta p| and argmax agreement are printed and bounded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/nn.h"
#include "nn/qconv.h"

/* Output error of one int8 1x1 conv, relative to max |reference output|. The input is
 * quantised with (range / 255) / 2 worst-case error per value and each weight with
 * max|w| / 254; over k random terms these add like a random walk: measured worst 0.6% at
 * k = 256 (all cases below), so 2% leaves a margin without hiding an error of layout or
 * zero point (those are O(1)). */
#define QC_TOL 0.02

static unsigned rng = 777u;

/* ---- 1. the GEMM --------------------------------------------------------------------- */

static void gemm_case(int m, int n, int k, int have_vnni, int *n_vnni) {
  size_t lda = (size_t)k + 3, ldw = (size_t)k + 1, ldc = (size_t)n + 5;
  unsigned char *abuf = malloc((size_t)m * lda + 1), *wbuf = malloc((size_t)n * ldw + 1);
  size_t pb = nn_qgemm_packed_bytes(n, k);
  int8_t *pbuf = malloc(pb + 1);
  int32_t *c0 = malloc((size_t)m * ldc * sizeof *c0), *c1 = malloc((size_t)m * ldc * sizeof *c1 + 4),
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
done:
  free(abuf);
  free(wbuf);
  free(pbuf);
  free(c0);
  free(c1);
  free(c2);
}

static void test_gemm(void) {
  int have = nn_qconv_cpu_has_vnni(), n_vnni = 0;
  if (!have) printf("  VNNI kernel not tested: this CPU lacks AVX512-VNNI (scalar only)\n");
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
  if (!have) CHECK(nn_qgemm_vnni(1, 1, 1, a, 4, p, &c, 1) == EMO_EUNSUPPORTED, "no VNNI: refuse");
  printf("  gemm: %d VNNI cases bit-identical to the scalar reference\n", n_vnni);
}

/* ---- 2. the node --------------------------------------------------------------------- */

/* Float reference of the conv (ops_ref.c) into y. */
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
  node.attr.pad_bottom = (d->ho - 1) * d->stride_h + 1 - d->h;
  node.attr.pad_right = (d->wo - 1) * d->stride_w + 1 - d->w;
  node.name = "conv";
  nn_tensor tx = {NN_F32, 4, {d->n, d->h, d->w, d->ci}, {0}, (void *)x};
  nn_tensor tw = {NN_F32, 4, {d->co, 1, 1, d->ci}, {0}, (void *)w};
  nn_tensor tb = {NN_F32, 1, {d->co}, {4}, (void *)b};
  nn_tensor ty = {NN_F32, 4, {d->n, d->ho, d->wo, d->co}, {0}, y};
  nn_tensor *ts[3] = {&tx, &tw, &ty};
  for (int t = 0; t < 3; t++) {
    int64_t s = 4;
    for (int k = 3; k >= 0; k--) ts[t]->stride[k] = s, s *= ts[t]->shape[k];
  }
  const nn_tensor *ins[3] = {&tx, &tw, b ? &tb : NULL};
  nn_tensor *outs[1] = {&ty};
  emoi_err e = {{0}};
  int st = nn_ref_run_node(&node, ins, outs, &e);
  CHECK(st == 0, "reference conv: %s", e.msg);
  return st;
}

static double worst_rel;

/* One random node: float reference, scalar int8, VNNI int8. xlo/xhi: input range. */
static void node_case(int n, int h, int w, int ci, int co, int s, int bias, float lo, float hi,
                      float xlo, float xhi) {
  int ho = (h - 1) / s + 1, wo = (w - 1) / s + 1;
  nn_qconv_desc d = {n, h, w, ci, co, ho, wo, s, s, lo, hi, 0};
  size_t nx = (size_t)n * h * w * ci, nw = (size_t)co * ci, ny = (size_t)n * ho * wo * co;
  float *x = malloc(nx * sizeof *x), *wt = malloc(nw * sizeof *wt), *b = malloc(co * sizeof *b);
  float *yr = malloc(ny * sizeof *yr), *ys = malloc(ny * sizeof *ys), *yv = malloc(ny * sizeof *yv);
  nn_qconv *qs = NULL, *qv = NULL;
  emoi_err e = {{0}};
  char label[128];
  snprintf(label, sizeof label, "%dx%dx%dx%d->%d s%d bias %d clamp [%g,%g] x [%g,%g]", n, h, w,
           ci, co, s, bias, lo, hi, xlo, xhi);
  if (!x || !wt || !b || !yr || !ys || !yv) {
    CHECK(0, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < nx; i++) x[i] = th_randf(&rng, xlo, xhi);
  for (size_t i = 0; i < nw; i++) wt[i] = th_randf(&rng, -0.5f, 0.5f);
  for (int i = 0; i < co; i++) b[i] = th_randf(&rng, -1, 1);
  if (ref_conv(&d, x, wt, bias ? b : NULL, yr)) goto done;
  d.force_scalar = 1;
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
  if (nn_qconv_cpu_has_vnni()) {
    d.force_scalar = 0;
    st = nn_qconv_create(&d, wt, bias ? b : NULL, &qv, &e);
    for (int r = 0; r < 2 && !st; r++) st = nn_qconv_run(qv, x, yv, &e);
    CHECK(st == 0, "%s: vnni: %s", label, e.msg);
    if (!st) CHECK(memcmp(ys, yv, ny * sizeof *ys) == 0, "%s: VNNI node differs from scalar", label);
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

static void test_node(void) {
  node_case(1, 29, 29, 64, 128, 1, 1, 0, INFINITY, 0, 3);          /* FER after ReLU */
  node_case(1, 29, 29, 64, 128, 2, 1, -INFINITY, INFINITY, -2, 1); /* FER shortcut */
  node_case(1, 15, 15, 256, 256, 1, 1, -INFINITY, INFINITY, -1, 1);
  node_case(1, 7, 13, 7, 13, 1, 0, -INFINITY, INFINITY, -1, 3);
  node_case(2, 13, 7, 13, 7, 2, 1, 0, 6, -1, 1);
  node_case(1, 1, 1, 127, 1, 1, 1, -0.5f, 0.5f, -3, -1); /* negative only: zero point 255 */
  node_case(1, 8, 9, 1, 127, 3, 1, -INFINITY, INFINITY, 0, 1);
  node_case(1, 127, 1, 17, 33, 1, 0, 0, INFINITY, -1, 1);
  printf("  node: worst |int8 - float| / max|float| %.4g (bound %g)\n", worst_rel, QC_TOL);
}

/* Weights with inf/NaN and an all-zero channel, inputs all zero or with NaN. */
static void test_edges(void) {
  enum { CI = 20, CO = 18, H = 3 };
  nn_qconv_desc d = {1, H, H, CI, CO, H, H, 1, 1, -INFINITY, INFINITY, 0};
  float w[CO * CI], b[CO], x[H * H * CI], y[H * H * CO];
  for (int i = 0; i < CO * CI; i++) w[i] = th_randf(&rng, -1, 1);
  for (int i = 0; i < CO; i++) b[i] = (float)i;
  for (int c = 0; c < CI; c++) w[3 * CI + c] = 0; /* channel 3: all zero */
  w[5 * CI + 2] = INFINITY;
  w[6 * CI + 1] = NAN;
  for (int c = 0; c < CI; c++) w[7 * CI + c] = NAN; /* channel 7: nothing finite */
  for (int i = 0; i < H * H * CI; i++) x[i] = th_randf(&rng, -1, 1);
  for (int sc = 0; sc < 2; sc++) {
    nn_qconv *q = NULL;
    emoi_err e = {{0}};
    d.force_scalar = sc;
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

int main(void) {
  printf("test_qconv: gemm\n");
  test_gemm();
  printf("test_qconv: node\n");
  test_node();
  test_edges();
  return th_finish("test_qconv");
}
