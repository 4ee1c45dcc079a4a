/* test_resblock.c: the streamed residual block (nn/resblock.c) that runs the face-landmark
 * network's 1x1 conv, PReLU, 3x3 depthwise, 1x1 conv, add, PReLU chains.
 *   1. On random blocks of awkward sizes (width 1, 7, 13, 127; channels that are and are not
 *      multiples of 8) the path the cap gives (argv[1]: scalar, avx2, avx512, auto) equals the
 *      plain C path bit for bit, and both are within a stated bound of a double-precision
 *      evaluation of the block written here independently (different summation order: the bound
 *      is the worst case of float rounding: (c + m + 11) 2^-23 times the magnitudes of the terms
 *      summed on the way to each output, as Higham's gamma_n bound for recursive summation).
 *   2. In plans: a graph of exactly that chain is taken as one step (nn_plan_stats) on a vector
 *      path and matches the reference-kernel plan within the same kind of bound; no_resblock,
 *      a threadpool-free plan at the scalar cap, and a chain whose intermediate value is also a
 *      graph output keep the six nodes on XNNPACK. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/nn.h"
#include "nn/resblock.h"
#include "plan_run.h"

static unsigned rng = 12345;
static nn_isa g_cap;

typedef struct block {
  int h, w, c, m;
  float *x, *wa, *ba, *aa, *wd, *bd, *wb, *bb, *ab; /* one allocation at x */
} block;

static int block_make(block *b, int h, int w, int c, int m) {
  size_t nx = (size_t)h * w * c;
  size_t n = nx + (size_t)m * c + m + m + 9 * (size_t)m + m + (size_t)c * m + c + c;
  b->h = h, b->w = w, b->c = c, b->m = m;
  b->x = malloc(n * sizeof(float));
  if (!b->x) return 0;
  for (size_t i = 0; i < n; i++) b->x[i] = th_randf(&rng, -1.0f, 1.0f);
  b->wa = b->x + nx;
  b->ba = b->wa + (size_t)m * c;
  b->aa = b->ba + m;
  b->wd = b->aa + m;
  b->bd = b->wd + 9 * (size_t)m;
  b->wb = b->bd + m;
  b->bb = b->wb + (size_t)c * m;
  b->ab = b->bb + c;
  for (int i = 0; i < m; i++) b->aa[i] = 0.25f * b->aa[i]; /* PReLU slopes in [-0.25, 0.25] */
  for (int i = 0; i < c; i++) b->ab[i] = 0.25f * b->ab[i];
  return 1;
}

/* The block in double; mag (same shape) gets the bound's scale: the magnitudes of the terms
 * (propagated through the depthwise and projection sums). */
static void block_ref(const block *b, double *y, double *mag) {
  const int h = b->h, w = b->w, c = b->c, m = b->m;
  double *t = malloc(sizeof(double) * 2 * (size_t)h * w * m);
  double *tm = t + (size_t)h * w * m;
  for (int p = 0; p < h * w; p++)
    for (int o = 0; o < m; o++) {
      double s = b->ba[o], a = fabs(b->ba[o]);
      for (int k = 0; k < c; k++) {
        s += (double)b->x[(size_t)p * c + k] * b->wa[(size_t)o * c + k];
        a += fabs((double)b->x[(size_t)p * c + k] * b->wa[(size_t)o * c + k]);
      }
      t[(size_t)p * m + o] = s >= 0 ? s : s * b->aa[o];
      tm[(size_t)p * m + o] = a;
    }
  double *d = malloc(sizeof(double) * 2 * (size_t)m);
  double *dm = d + m;
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++) {
      for (int o = 0; o < m; o++) {
        double s = b->bd[o], a = fabs(b->bd[o]);
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++) {
            int sy = yy + ky - 1, sx = xx + kx - 1;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
            size_t q = ((size_t)sy * w + sx) * m + o;
            s += t[q] * b->wd[(ky * 3 + kx) * m + o];
            a += tm[q] * fabs(b->wd[(ky * 3 + kx) * m + o]);
          }
        d[o] = s;
        dm[o] = a;
      }
      size_t p = (size_t)yy * w + xx;
      for (int o = 0; o < c; o++) {
        double s = b->bb[o], a = fabs(b->bb[o]);
        for (int k = 0; k < m; k++) {
          s += d[k] * b->wb[(size_t)o * m + k];
          a += dm[k] * fabs(b->wb[(size_t)o * m + k]);
        }
        double f = b->x[p * c + o] + s;
        y[p * c + o] = f >= 0 ? f : f * b->ab[o];
        mag[p * c + o] = a + fabs(b->x[p * c + o]);
      }
    }
  free(d);
  free(t);
}

/* The rounding bound of output i (see the first comment). */
static double bound_of(const block *b, const double *mag, size_t i) {
  return (b->c + b->m + 11) * ldexp(1.0, -23) * mag[i] + 1e-12;
}

static nn_rb_desc block_desc(const block *b) {
  nn_rb_desc d = {b->h, b->w, b->c, b->m, b->wa, b->ba, b->aa, b->wd, b->bd, b->wb, b->bb, b->ab};
  return d;
}

static double worst_ratio; /* largest |error| / bound seen */
static int n_vec;          /* cases run on a vector path */

static void kernel_case(int h, int w, int c, int m) {
  block b;
  if (!block_make(&b, h, w, c, m)) {
    CHECK(0, "out of memory");
    return;
  }
  size_t n = (size_t)h * w * c;
  float *y0 = malloc(2 * n * sizeof(float)), *y1 = y0 + n;
  double *ref = malloc(2 * n * sizeof(double)), *mag = ref + n;
  block_ref(&b, ref, mag);
  nn_rb_desc d = block_desc(&b);
  nn_rb *rs = NULL, *rv = NULL;
  emoi_err err = {{0}};
  CHECK(nn_rb_create(&d, NN_ISA_SCALAR, &rs, &err) == EMO_OK, "%s", err.msg);
  CHECK(nn_rb_create(&d, g_cap, &rv, &err) == EMO_OK, "%s", err.msg);
  if (!rs || !rv) goto done;
  CHECK(nn_rb_path(rs) == NN_ISA_SCALAR, "scalar cap ran path %d", nn_rb_path(rs));
  nn_isa want = c % 8 == 0 && m % 8 == 0 ? nn_rb_isa(g_cap) : NN_ISA_SCALAR;
  CHECK(nn_rb_path(rv) == want, "%dx%dx%d m %d: path %d, expected %d", h, w, c, m, nn_rb_path(rv),
        want);
  n_vec += nn_rb_path(rv) != NN_ISA_SCALAR;
  nn_rb_run(rs, b.x, y0);
  nn_rb_run(rv, b.x, y1);
  size_t bad = n;
  for (size_t i = 0; i < n && bad == n; i++)
    if (memcmp(&y0[i], &y1[i], sizeof(float))) bad = i;
  CHECK(bad == n, "%dx%dx%d m %d: path %d y[%zu] = %.9g, scalar %.9g", h, w, c, m, nn_rb_path(rv),
        bad, bad < n ? y1[bad] : 0.0, bad < n ? y0[bad] : 0.0);
  for (size_t i = 0; i < n; i++) {
    double bound = bound_of(&b, mag, i), e = fabs(y0[i] - ref[i]);
    if (e / bound > worst_ratio) worst_ratio = e / bound;
    if (e > bound) {
      CHECK(0, "%dx%dx%d m %d: y[%zu] = %.9g, double %.9g (bound %.3g)", h, w, c, m, i, y0[i],
            ref[i], bound);
      break;
    }
  }
done:
  nn_rb_destroy(&rs);
  nn_rb_destroy(&rv);
  free(y0);
  free(ref);
  free(b.x);
}

/* ---- plans ------------------------------------------------------------------------------ */

/* x (1,h,w,c) -> the block -> y; with leak, the depthwise output is a second graph output. */
static nn_graph *block_graph(const block *b, int leak, emoi_err *e) {
  nn_graph *g = NULL;
  if (nn_graph_create("resblock_graph", &g, e)) return NULL;
  const int c = b->c, m = b->m;
  int64_t xs[4] = {1, b->h, b->w, c}, u[4] = {-1, -1, -1, -1};
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, e);
  int wa = nn_graph_add_const(g, "wa", NN_F32, 4, (int64_t[]){m, 1, 1, c}, b->wa,
                              sizeof(float) * m * c, e);
  int ba = nn_graph_add_const(g, "ba", NN_F32, 1, (int64_t[]){m}, b->ba, sizeof(float) * m, e);
  int aa =
      nn_graph_add_const(g, "aa", NN_F32, 3, (int64_t[]){1, 1, m}, b->aa, sizeof(float) * m, e);
  int wd = nn_graph_add_const(g, "wd", NN_F32, 4, (int64_t[]){1, 3, 3, m}, b->wd,
                              sizeof(float) * 9 * m, e);
  int bd = nn_graph_add_const(g, "bd", NN_F32, 1, (int64_t[]){m}, b->bd, sizeof(float) * m, e);
  int wb = nn_graph_add_const(g, "wb", NN_F32, 4, (int64_t[]){c, 1, 1, m}, b->wb,
                              sizeof(float) * m * c, e);
  int bb = nn_graph_add_const(g, "bb", NN_F32, 1, (int64_t[]){c}, b->bb, sizeof(float) * c, e);
  int ab =
      nn_graph_add_const(g, "ab", NN_F32, 3, (int64_t[]){1, 1, c}, b->ab, sizeof(float) * c, e);
  int v[6];
  static const char *names[6] = {"A", "B", "D", "E", "F", "Y"};
  for (int i = 0; i < 6; i++) v[i] = nn_graph_add_value(g, names[i], NN_F32, 4, u, e);
  int r = nn_graph_add_value(g, "R", NN_F32, 4, u, e);
  nn_attr a = nn_attr_default();
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){x, wa, ba}, 3, &v[0], 1, &a, "expand", e);
  nn_graph_add_node(g, NN_OP_PRELU, (int[]){v[0], aa}, 2, &v[1], 1, NULL, "prelu_a", e);
  nn_attr s = nn_attr_default();
  s.padding = NN_PAD_SAME;
  nn_graph_add_node(g, NN_OP_DEPTHWISE_CONV2D, (int[]){v[1], wd, bd}, 3, &v[2], 1, &s, "dw", e);
  nn_graph_add_node(g, NN_OP_CONV2D, (int[]){v[2], wb, bb}, 3, &v[3], 1, &a, "project", e);
  nn_graph_add_node(g, NN_OP_ADD, (int[]){x, v[3]}, 2, &v[4], 1, NULL, "add", e);
  nn_graph_add_node(g, NN_OP_PRELU, (int[]){v[4], ab}, 2, &v[5], 1, NULL, "prelu_b", e);
  if (leak) nn_graph_add_node(g, NN_OP_RELU, &v[2], 1, &r, 1, NULL, "leak", e);
  if (nn_graph_set_io(g, &x, 1, (int[]){v[5], r}, leak ? 2 : 1, e) || nn_graph_finalize(g, e))
    nn_graph_destroy(&g);
  return g;
}

/* Runs g on b's input with backend/options; y gets output 0; returns the residual-block nodes. */
static int run_plan(const nn_graph *g, const block *b, nn_backend be, const nn_plan_options *o,
                    float *y) {
  size_t n = (size_t)b->h * b->w * b->c;
  nn_plan_stats st;
  return th_plan_run(g, be, o, b->x, n, y, n, &st) ? -1 : st.n_nodes_resblock;
}

static void plan_case(int h, int w, int c, int m, int leak) {
  block b;
  if (!block_make(&b, h, w, c, m)) return;
  emoi_err err = {{0}};
  nn_graph *g = block_graph(&b, leak, &err);
  CHECK(g != NULL, "graph: %s", err.msg);
  size_t n = (size_t)h * w * c;
  float *y0 = malloc(3 * n * sizeof(float)), *y1 = y0 + n, *y2 = y1 + n;
  double *ref = malloc(2 * n * sizeof(double)), *mag = ref + n;
  if (!g || !y0 || !ref) goto done;
  block_ref(&b, ref, mag);
  nn_plan_options o = {0}, off = {0};
  o.isa = g_cap;
  off.isa = g_cap;
  off.no_resblock = 1;
  int want = !leak && c % 8 == 0 && m % 8 == 0 && nn_rb_isa(g_cap) != NN_ISA_SCALAR;
  int got = run_plan(g, &b, NN_BACKEND_XNNPACK, &o, y1);
  CHECK(got == (want ? NN_RB_NODES : 0), "%dx%dx%d m %d leak %d: %d nodes in residual blocks", h, w,
        c, m, leak, got);
  CHECK(run_plan(g, &b, NN_BACKEND_XNNPACK, &off, y2) == 0, "no_resblock ignored");
  run_plan(g, &b, NN_BACKEND_REFERENCE, NULL, y0);
  const float *outs[3] = {y0, y1, y2};
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i < n; i++) {
      double bound = bound_of(&b, mag, i);
      if (fabs(outs[k][i] - ref[i]) > bound) {
        CHECK(0, "plan %d (%dx%dx%d m %d): y[%zu] = %.9g, double %.9g", k, h, w, c, m, i,
              outs[k][i], ref[i]);
        break;
      }
    }
done:
  nn_graph_destroy(&g);
  free(y0);
  free(ref);
  free(b.x);
}

int main(int argc, char **argv) {
  g_cap = (nn_isa)th_isa_arg(argc, argv);
  printf("test_resblock: kernels at path %d\n", (int)nn_rb_isa(g_cap));
  static const int ws[] = {1, 2, 7, 13, 17, 127};
  static const int cm[][2] = {{8, 8},   {16, 8}, {32, 16}, {64, 32}, {128, 64},
                              {24, 40}, {7, 3},  {16, 5},  {1, 1}};
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 9; j++) kernel_case(1 + (i + j) % 4, ws[i], cm[j][0], cm[j][1]);
  kernel_case(128, 128, 16, 8); /* the landmark network's first stage */
  kernel_case(2, 2, 128, 64);   /* and its last */
  kernel_case(3, 19, 48, 32);   /* multiples of 16 outside the network's shapes */
  kernel_case(2, 21, 16, 16);
  kernel_case(3, 9, 32, 8); /* c a multiple of 16, m of 8 only */
  printf("  %d cases on a vector path equal to the plain C one; worst error / bound %.3f\n", n_vec,
         worst_ratio);
  printf("test_resblock: plans\n");
  plan_case(9, 13, 16, 8, 0);
  plan_case(4, 4, 128, 64, 0);
  plan_case(5, 7, 7, 3, 0);  /* channels not multiples of 8: XNNPACK */
  plan_case(6, 6, 16, 8, 1); /* the depthwise output also a graph output: XNNPACK */
  return th_finish("test_resblock");
}
