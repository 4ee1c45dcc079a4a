/* bench_gemm.c: emo's own float GEMM microkernels (nn/sgemm.c) against XNNPACK's, in the same
 * run, on the products emo's networks are made of. For each network (BlazeFace short and full
 * range, FER mini-Xception, face-api's expression net, the face embedding) it lists the distinct
 * shapes of its 1x1 convolutions and dense layers (rows m = output pixels, n = output channels,
 * depth k), times each as a one-node plan on XNNPACK (nn_plan_options.gemm = NN_GEMM_XNNPACK)
 * and on the own kernels at each ISA cap this CPU has (AVX2 + FMA, AVX-512), then the whole
 * network in float (int8 off) the same ways. Times are thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), the variants interleaved run by run, because the machines it was
 * written on are shared and loaded: wall time there is noise. Medians in microseconds (shapes) or
 * milliseconds (networks), one thread. --xnn-avx2 hides AVX-512 from XNNPACK (bench_util.h's
 * bu_xnn_hide_avx512), so that its AVX2 + FMA3 kernels, the ones an AVX2-only CPU runs, are timed
 * against the own AVX2 kernels on an AVX-512 machine. It measures and prints; it asserts nothing.
 *
 * usage: bench_gemm [--rounds N] [--models DIR] [--only NETWORK] [--networks-only] [--xnn-avx2] */
#define _GNU_SOURCE /* dladdr1, for bu_xnn_hide_avx512 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "emo.h"
#include "nn/nn.h"
#include "nn/sgemm.h"
#include "pipeline/internal.h"

#define N_VAR 3 /* XNNPACK, own AVX2, own AVX-512 */
static const char *var_name[N_VAR] = {"xnnpack", "own-avx2", "own-avx512"};
static const nn_isa var_isa[N_VAR] = {NN_ISA_AUTO, NN_ISA_AVX2, NN_ISA_AVX512};

static void fill(float *x, int64_t n, uint32_t seed) {
  uint32_t s = seed ? seed : 1;
  for (int64_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    x[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
  }
}

static void quiet(emo_log_level level, const char *msg, void *user) {
  (void)level, (void)msg, (void)user;
}

/* The options of variant v: which GEMM, at which cap; int8 off. */
static nn_plan_options var_opts(int v) {
  nn_plan_options o = {0};
  o.gemm = v == 0 ? NN_GEMM_XNNPACK : NN_GEMM_OWN;
  o.isa = var_isa[v];
  return o;
}

/* Which variants this CPU can run (the own kernels only at a cap it has). */
static int var_ok(int v) {
  return v == 0 || nn_sgemm_isa(var_isa[v]) == var_isa[v];
}

/* Times the plans interleaved: rounds x (each variant reps runs), CPU ms per run into t[v]. */
static void time_plans(nn_plan **plans, int rounds, int reps, double t[N_VAR][256]) {
  emoi_err err;
  for (int v = 0; v < N_VAR; v++)
    if (plans[v]) nn_plan_run(plans[v], &err); /* warm-up */
  for (int r = 0; r < rounds; r++)
    for (int v = 0; v < N_VAR; v++) {
      if (!plans[v]) continue;
      double t0 = bu_thread_cpu_ms();
      for (int i = 0; i < reps; i++) nn_plan_run(plans[v], &err);
      t[v][r] = (bu_thread_cpu_ms() - t0) / reps;
    }
}

/* A one-node graph: x (1, m, 1, k) -> 1x1 conv to n channels, bias, clamp as given. */
static nn_graph *gemm_graph(int m, int n, int k, float lo, float hi) {
  emoi_err err;
  nn_graph *g = NULL;
  if (nn_graph_create("bench_gemm", &g, &err)) return NULL;
  int64_t xs[4] = {1, m, 1, k}, ws[4] = {n, 1, 1, k}, bs[1] = {n}, ys[4] = {1, m, 1, n};
  float *w = malloc((size_t)n * k * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
  if (!w || !b) {
    free(w);
    free(b);
    nn_graph_destroy(&g);
    return NULL;
  }
  fill(w, (int64_t)n * k, 7);
  fill(b, n, 9);
  int x = nn_graph_add_value(g, "x", NN_F32, 4, xs, &err);
  int wi = nn_graph_add_const(g, "w", NN_F32, 4, ws, w, (size_t)n * k * sizeof(float), &err);
  int bi = nn_graph_add_const(g, "b", NN_F32, 1, bs, b, (size_t)n * sizeof(float), &err);
  int y = nn_graph_add_value(g, "y", NN_F32, 4, ys, &err);
  nn_attr a = nn_attr_default();
  a.act_min = lo;
  a.act_max = hi;
  int in[3] = {x, wi, bi};
  free(w);
  free(b);
  if (nn_graph_add_node(g, NN_OP_CONV2D, in, 3, &y, 1, &a, "conv", &err) < 0 ||
      nn_graph_set_io(g, &x, 1, &y, 1, &err) || nn_graph_finalize(g, &err))
    nn_graph_destroy(&g);
  return g;
}

typedef struct shape {
  int m, n, k, count;
  float lo, hi;
} shape;

static void bench_shapes(const nn_graph *net, int rounds, double *sum_med) {
  shape sh[128];
  int ns = 0;
  for (int k = 0; k < net->n_nodes; k++) {
    if (!nn_sgemm_node_eligible(net, k)) continue;
    const nn_node *nd = &net->nodes[k];
    const nn_value *w = &net->values[nd->in[1]];
    int kk = (int)(nd->op == NN_OP_CONV2D ? w->shape[3] : w->shape[1]), n = (int)w->shape[0];
    int m = (int)(nn_value_numel(&net->values[nd->in[0]]) / kk);
    int j = 0;
    while (j < ns && !(sh[j].m == m && sh[j].n == n && sh[j].k == kk)) j++;
    if (j == ns && ns < 128) sh[ns++] = (shape){m, n, kk, 0, nd->attr.act_min, nd->attr.act_max};
    if (j < ns) sh[j].count++;
  }
  printf("  %-22s %5s  %10s %10s %10s  %s\n", "product m x n x k", "nodes", var_name[0],
         var_name[1], var_name[2], "(median us of CPU per product)");
  for (int i = 0; i < ns; i++) {
    nn_graph *g = gemm_graph(sh[i].m, sh[i].n, sh[i].k, sh[i].lo, sh[i].hi);
    if (!g) continue;
    nn_plan *plans[N_VAR] = {0};
    emoi_err err;
    for (int v = 0; v < N_VAR; v++) {
      nn_plan_options o = var_opts(v);
      if (var_ok(v) && nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &o, &plans[v], &err) == 0)
        fill(nn_plan_input(plans[v], 0), (int64_t)sh[i].m * sh[i].k, 3);
    }
    double flop = 2.0 * sh[i].m * sh[i].n * sh[i].k;
    int reps = (int)(2e6 / flop) + 1; /* ~0.1 ms a sample */
    static double t[N_VAR][256];
    time_plans(plans, rounds, reps, t);
    char name[64];
    snprintf(name, sizeof name, "%d x %d x %d", sh[i].m, sh[i].n, sh[i].k);
    printf("  %-22s %5d ", name, sh[i].count);
    for (int v = 0; v < N_VAR; v++) {
      if (!plans[v]) {
        printf(" %10s", "-");
        continue;
      }
      bu_stats s = bu_summarize(t[v], rounds);
      sum_med[v] += s.median * sh[i].count;
      printf(" %10.2f", s.median * 1e3);
    }
    printf("\n");
    for (int v = 0; v < N_VAR; v++) nn_plan_destroy(&plans[v]);
    nn_graph_destroy(&g);
  }
}

int main(int argc, char **argv) {
  int rounds = 31;
  const char *models_dir = NULL, *only = NULL;
  int no_shapes = 0, xnn_avx2 = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--models") && i + 1 < argc)
      models_dir = argv[++i];
    else if (!strcmp(argv[i], "--xnn-avx2"))
      xnn_avx2 = 1;
    else if (!strcmp(argv[i], "--networks-only"))
      no_shapes = 1;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else {
      fprintf(stderr,
              "usage: bench_gemm [--rounds N] [--models DIR] [--only NETWORK] [--networks-only]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 256) rounds = 31;
  const char *why = "";
  if (xnn_avx2 && !bu_xnn_hide_avx512(&why)) {
    fprintf(stderr, "bench_gemm: --xnn-avx2: %s\n", why);
    return 1;
  }
  static const struct {
    emoi_net net;
    const char *name;
    emo_detector det;
    emo_expression_model expr;
  } nets[] = {
      {EMOI_NET_DET_SHORT, "blazeface_short", EMO_DETECTOR_SHORT, EMO_EXPRESSION_NONE},
      {EMOI_NET_DET_FULL, "blazeface_full", EMO_DETECTOR_FULL, EMO_EXPRESSION_NONE},
      {EMOI_NET_FER, "fer_mini_xception", EMO_DETECTOR_SHORT, EMO_EXPRESSION_FER},
      {EMOI_NET_FACEAPI, "faceapi_expression", EMO_DETECTOR_SHORT, EMO_EXPRESSION_FACEAPI},
      {EMOI_NET_EMBED, "faceres_embedding", EMO_DETECTOR_SHORT, EMO_EXPRESSION_NONE},
  };
  char cpu[256];
  printf(
      "# bench_gemm: cpu %s; own kernels available: avx2 %s, avx512 %s; %d interleaved rounds, "
      "thread CPU time, 1 thread; XNNPACK's kernels: %s\n",
      bu_cpu_model(cpu, sizeof cpu), var_ok(1) ? "yes" : "no", var_ok(2) ? "yes" : "no", rounds,
      xnn_avx2 ? "AVX2 + FMA3 (--xnn-avx2: AVX-512 hidden from it)" : "its own pick");
  for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
    if (only && strcmp(only, nets[i].name)) continue;
    emo_model_params p = emo_model_params_default();
    p.models_dir = models_dir;
    p.detector = nets[i].det;
    p.expression = nets[i].expr;
    p.reid = nets[i].net == EMOI_NET_EMBED;
    p.voice = 0;
    p.log = quiet;
    emo_model *m = NULL;
    if (emo_model_load(&p, &m) != EMO_OK || !m->graphs[nets[i].net]) {
      printf("# %s: not loaded\n", nets[i].name);
      emo_model_destroy(&m);
      continue;
    }
    const nn_graph *g = m->graphs[nets[i].net];
    printf("\n%s:\n", nets[i].name);
    double sum[N_VAR] = {0};
    if (!no_shapes) {
      bench_shapes(g, rounds, sum);
      printf("  %-22s %5s ", "sum over its products", "");
      for (int v = 0; v < N_VAR; v++) printf(" %10.2f", var_ok(v) ? sum[v] * 1e3 : NAN);
      printf("\n");
    }
    nn_plan *plans[N_VAR] = {0};
    emoi_err err;
    int64_t nin = nn_value_numel(&g->values[g->inputs[0]]);
    for (int v = 0; v < N_VAR; v++) {
      nn_plan_options o = var_opts(v);
      if (var_ok(v) && nn_plan_create_ex(g, NN_BACKEND_XNNPACK, NULL, &o, &plans[v], &err) == 0)
        fill(nn_plan_input(plans[v], 0), nin, 5);
    }
    static double t[N_VAR][256];
    time_plans(plans, rounds, 3, t);
    printf("  %-28s ", "whole network, float (ms)");
    for (int v = 0; v < N_VAR; v++) {
      bu_stats s = bu_summarize(t[v], rounds);
      if (plans[v])
        printf(" %10.4f", s.median);
      else
        printf(" %10s", "-");
    }
    printf("\n");
    for (int v = 0; v < N_VAR; v++) nn_plan_destroy(&plans[v]);
    emo_model_destroy(&m);
  }
  return 0;
}
