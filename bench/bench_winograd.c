/* bench_winograd.c: times one 3x3 stride-1 CONV2D three ways: XNNPACK's own convolution (a
 * one-node plan with nn_plan_options.no_winograd), the Winograd F(4x4,3x3) path as the plan runs it
 * (nn/winograd.c, GEMMs by XNNPACK), and Winograd F(2x2,3x3) called directly; for each it
 * prints median/p10/min in ms and the direct convolution's GFLOP/s equivalent (the
 * multiplications Winograd saves count as done), so the speed-up reads straight off.
 * Shapes: the FER mini-Xception's only eligible layer (31x31x32 -> 29x29x64 VALID) and a
 * few others around the eligibility rule (nn_winograd_node_eligible). Whole-model times are
 * bench_models.c's job (run it with and without --no-winograd for the A/B).
 *
 * usage: bench_winograd [--runs N (default 300)] [--threads N (default 1)] */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nn/nn.h"
#include "nn/winograd.h"

typedef struct shape {
  const char *what;
  int h, w, ci, co;
  nn_padding pad;
} shape;

static unsigned rng = 99;
static float randf(void) {
  rng = rng * 1664525u + 1013904223u;
  return (float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f;
}

/* A one-node graph x (1,h,w,ci) -> CONV2D 3x3 stride 1 (+bias, ReLU) -> y. */
static nn_graph *conv_graph(const shape *s, float **w_out, float **b_out) {
  emoi_err e = {{0}};
  nn_graph *g = NULL;
  if (nn_graph_create(s->what, &g, &e)) return NULL;
  int64_t xs[4] = {1, s->h, s->w, s->ci}, u[4] = {-1, -1, -1, -1};
  size_t nw = (size_t)s->co * 9 * s->ci;
  float *wd = malloc(nw * sizeof *wd), *bd = malloc((size_t)s->co * sizeof *bd);
  if (!wd || !bd) goto fail;
  for (size_t i = 0; i < nw; i++) wd[i] = 0.1f * randf();
  for (int i = 0; i < s->co; i++) bd[i] = randf();
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, &e);
  int w = nn_graph_add_const(g, "w", NN_F32, 4, (int64_t[]){s->co, 3, 3, s->ci}, wd,
                             nw * sizeof *wd, &e);
  int b =
      nn_graph_add_const(g, "b", NN_F32, 1, (int64_t[]){s->co}, bd, (size_t)s->co * sizeof *bd, &e);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, u, &e);
  nn_attr a = nn_attr_default();
  a.padding = s->pad;
  a.act_min = 0;
  a.act_max = INFINITY;
  if (x < 0 || w < 0 || b < 0 || y < 0 ||
      nn_graph_add_node(g, NN_OP_CONV2D, (int[]){x, w, b}, 3, &y, 1, &a, "conv", &e) < 0 ||
      nn_graph_set_io(g, &x, 1, &y, 1, &e) || nn_graph_finalize(g, &e))
    goto fail;
  *w_out = wd;
  *b_out = bd;
  return g;
fail:
  fprintf(stderr, "bench_winograd: %s: %s\n", s->what, e.msg);
  free(wd);
  free(bd);
  nn_graph_destroy(&g);
  return NULL;
}

static bu_stats time_plan(nn_plan *p, int runs, double *t) {
  emoi_err e = {{0}};
  for (int i = 0; i < 10; i++) nn_plan_run(p, &e);
  for (int i = 0; i < runs; i++) {
    double t0 = bu_now_ms();
    nn_plan_run(p, &e);
    t[i] = bu_now_ms() - t0;
  }
  return bu_summarize(t, runs);
}

static void row(const shape *s, const char *how, bu_stats st, double mflop, const char *note) {
  printf("%-34s %-22s %8.4f %8.4f %8.4f  %6.1f  %s\n", s->what, how, st.median, st.p10, st.min,
         st.median > 0 ? mflop / st.median : 0.0, note);
}

int main(int argc, char **argv) {
  int runs = 300, threads = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_winograd [--runs N] [--threads N]\n");
      return 2;
    }
  }
  if (runs < 1 || runs > 100000 || threads < 1 || threads > 64) return 2;
  pthreadpool_t pool = threads > 1 ? pthreadpool_create((size_t)threads) : NULL;
  double *t = malloc(sizeof(double) * (size_t)runs);
  if (!t) return 1;
  static const shape shapes[] = {
      {"FER layer 31x31x32->29x29x64 VALID", 31, 31, 32, 64, NN_PAD_VALID},
      {"62x62x32->60x60x64 VALID", 62, 62, 32, 64, NN_PAD_VALID},
      {"16x16x16->16 SAME", 16, 16, 16, 16, NN_PAD_SAME},
      {"32x32x64->64 SAME", 32, 32, 64, 64, NN_PAD_SAME},
      {"24x24x128->128 SAME", 24, 24, 128, 128, NN_PAD_SAME},
      {"56x56x64->64 SAME", 56, 56, 64, 64, NN_PAD_SAME},
  };
  printf("# bench_winograd: %d runs, %d thread(s); ms; GFLOP/s counts direct-conv FLOPs\n", runs,
         threads);
  printf("%-34s %-22s %8s %8s %8s  %6s\n", "conv", "path", "median", "p10", "min", "GF/s");
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    const shape *s = &shapes[k];
    float *w = NULL, *b = NULL;
    nn_graph *g = conv_graph(s, &w, &b);
    if (!g) continue;
    const nn_value *yv = &g->values[g->outputs[0]];
    double mflop = 2.0 * (double)nn_value_numel(yv) * 9.0 * s->ci * 1e-6;
    emoi_err e = {{0}};
    for (int wg_on = 0; wg_on < 2; wg_on++) {
      const nn_plan_options popt = {.no_winograd = !wg_on};
      nn_plan *p = NULL;
      if (nn_plan_create_ex(g, NN_BACKEND_XNNPACK, pool, &popt, &p, &e)) {
        fprintf(stderr, "bench_winograd: plan: %s\n", e.msg);
        continue;
      }
      float *in = nn_plan_input(p, 0);
      for (int64_t i = 0; i < nn_value_numel(&g->values[g->inputs[0]]); i++) in[i] = randf();
      nn_plan_stats ps;
      nn_plan_get_stats(p, &ps);
      /* plans on a pool keep XNNPACK's convolution (plan.c) */
      row(s, ps.n_nodes_winograd ? "plan, winograd F(4,3)" : "plan, XNNPACK conv",
          time_plan(p, runs, t), mflop, wg_on ? "" : "no_winograd");
      nn_plan_destroy(&p);
    }
    /* F(2x2,3x3) through the kernel API */
    const nn_node *n = &g->nodes[0];
    nn_winograd_conv c = {1,
                          s->h,
                          s->w,
                          s->ci,
                          s->co,
                          (int)yv->shape[1],
                          (int)yv->shape[2],
                          n->attr.pad_top,
                          n->attr.pad_left,
                          0,
                          INFINITY,
                          NN_ISA_AUTO,
                          0};
    nn_winograd *wg = NULL;
    size_t nx = (size_t)s->h * s->w * s->ci;
    float *x = malloc(nx * sizeof *x), *y = malloc((size_t)nn_value_numel(yv) * sizeof *y);
    if (x && y && !nn_winograd_create(&c, w, b, NN_WINOGRAD_F2X2, pool, &wg, &e)) {
      for (size_t i = 0; i < nx; i++) x[i] = randf();
      for (int i = 0; i < 10; i++) nn_winograd_run(wg, x, y, &e);
      for (int i = 0; i < runs; i++) {
        double t0 = bu_now_ms();
        nn_winograd_run(wg, x, y, &e);
        t[i] = bu_now_ms() - t0;
      }
      row(s, "kernel, winograd F(2,3)", bu_summarize(t, runs), mflop, "");
    }
    nn_winograd_destroy(&wg);
    free(x);
    free(y);
    free(w);
    free(b);
    nn_graph_destroy(&g);
  }
  free(t);
  if (pool) pthreadpool_destroy(pool);
  return 0;
}
