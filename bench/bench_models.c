/* bench_models.c: times each network emo runs, alone, on emo's own engine (nn_plan, XNNPACK
 * backend): BlazeFace short-range (128x128), full-range (192x192), FER mini-Xception (64x64
 * gray) and face-api's expression net (112x112 RGB). For each and each thread count it builds
 * a plan (1 thread = no pool, n threads = a pthreadpool of n), runs a warm-up, then times
 * --runs runs and prints median, p10, p90 and min, plus how many graph nodes run inside
 * XNNPACK and which ops fell back to the reference kernels (a fallback is the first suspect
 * when a model is slow).
 *
 * Then the pieces around the networks on a 1280x720 frame: the detector letterbox, one whole
 * detector pass (letterbox + network + decode + NMS, vision/face_detect.c), the face
 * alignment warp, and one whole expression step per face (warp + network + softmax
 * readback, vision/face_expression.c). The whole per-frame cost through the public API is
 * bench_frames.c's job.
 *
 * The expression networks are timed twice, in float and in int8 (nn_plan_options.int8: their
 * 1x1 convolutions on nn/qconv.c, fused with the 3x3 depthwise convolutions before them on
 * nn/dwq.c, as the pipeline runs them unless emo_context_params.float_expression is set;
 * --no-int8 turns int8 off for an A/B run, --no-dwq only the fusion). --no-winograd keeps every
 * 3x3 convolution on XNNPACK (nn_plan_options.no_winograd) in every plan it builds.
 * --isa scalar|avx2|avx512 caps the int8 kernels (nn_plan_options.isa): the AVX2 path can be
 * timed on an AVX-512 machine (XNNPACK's float kernels are not capped; --xnn-avx2 hides AVX-512
 * from XNNPACK, bench_util.h, so that with --isa avx2 everything runs what an AVX2-only CPU runs).
 * --cpu times on the calling thread's CPU clock instead of the wall clock (a loaded machine's wall
 * time counts the waits for a core; rows with a pool of threads then count the caller's share
 * only), --no-float skips the expression networks' float rows (perf record of the int8 plan).
 *
 * Targets it reports against (never asserts): BlazeFace short-range <= 1 ms and the FER step
 * <= 0.5 ms per face on one thread.
 *
 * Uses the model cache (params.models_dir, $EMO_MODELS or ~/.cache/emo/models); a network
 * whose files are missing or that fails to load is reported and skipped.
 *
 * usage: bench_models [--runs N] [--warmup N] [--threads 1,2] [--models DIR] [--reference]
 *                     [--only NETWORK] [--passes N] [--no-int8] [--no-dwq] [--no-winograd]
 *                     [--no-epilogue] [--no-reuse]
 *                     [--isa scalar|avx2|avx512] [--xnn-avx2] [--cpu] [--no-float] [FRAME.rgb...]
 * With frames (raw 1280x720 RGB24, e.g. from ../shared/peers/scripts/make_media.sh) it also
 * splits the per-frame path (short-range + FER) into its steps on those real frames. */
#define _GNU_SOURCE /* dladdr1, for bu_xnn_hide_avx512 */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "emo.h"
#include "nn/nn.h"
#include "nn/qconv.h"
#include "pipeline/internal.h"
#include "vision/blazeface.h"
#include "vision/face_detect.h"
#include "vision/face_expression.h"
#include "vision/image_ops.h"

#define FRAME_W 1280
#define FRAME_H 720
#define MAX_THREADS 8

typedef struct net_desc {
  emoi_net net;
  const char *name;
  const char *input;
  emo_detector detector; /* params that make emo_model_load load this network */
  emo_expression_model expression;
} net_desc;

static const net_desc nets[EMOI_NET_COUNT] = {
    {EMOI_NET_DET_SHORT, "blazeface_short", "128x128x3", EMO_DETECTOR_SHORT, EMO_EXPRESSION_NONE},
    {EMOI_NET_DET_FULL, "blazeface_full", "192x192x3", EMO_DETECTOR_FULL, EMO_EXPRESSION_NONE},
    {EMOI_NET_FER, "fer_mini_xception", "64x64x1", EMO_DETECTOR_SHORT, EMO_EXPRESSION_FER},
    {EMOI_NET_FACEAPI, "faceapi_expression", "112x112x3", EMO_DETECTOR_SHORT,
     EMO_EXPRESSION_FACEAPI},
    {EMOI_NET_EMBED, "faceres_embedding", "224x224x3", EMO_DETECTOR_SHORT, EMO_EXPRESSION_NONE},
};

static char last_log[512];
static void keep_log(emo_log_level level, const char *msg, void *user) {
  (void)user;
  if (level <= EMO_LOG_WARN) snprintf(last_log, sizeof last_log, "%s", msg);
}

typedef struct opts {
  int runs, warmup;
  int threads[MAX_THREADS], n_threads;
  const char *models_dir;
  int reference;
  const char *only;   /* time only this network (for profiling), no steps */
  int no_int8;        /* --no-int8: the int8 rows run in float (A/B timing) */
  int no_float;       /* --no-float: the expression networks only as the pipeline runs them */
  nn_plan_options ab; /* --no-dwq, --no-winograd, --isa: switches for every plan built */
} opts;

/* Options for one plan: the command line's switches, int8 where asked and not --no-int8. */
static nn_plan_options plan_opts(const opts *o, int int8) {
  nn_plan_options p = o->ab;
  p.int8 = int8 && !o->no_int8;
  return p;
}

/* Deterministic fill (xorshift) of n floats in [lo, hi]. */
static void fill(float *x, int64_t n, float lo, float hi, uint32_t seed) {
  uint32_t s = seed ? seed : 1;
  for (int64_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    x[i] = lo + (hi - lo) * (float)(s >> 8) / 16777216.0f;
  }
}

/* One result row; also kept for the summary at the end. */
typedef struct row {
  const char *what;
  int threads;
  bu_stats st;
} row;

static row rows[64];
static int n_rows;

static void print_row(const char *what, const char *input, const char *backend, int threads,
                      bu_stats st, const char *extra) {
  printf("%-30s %-10s %-9s %2d  %9.4f %9.4f %9.4f %9.4f  %s\n", what, input, backend, threads,
         st.median, st.p10, st.p90, st.min, extra ? extra : "");
  if (n_rows < (int)(sizeof rows / sizeof rows[0])) rows[n_rows++] = (row){what, threads, st};
}

static const bu_stats *find_row(const char *what, int threads) {
  for (int i = 0; i < n_rows; i++)
    if (!strcmp(rows[i].what, what) && rows[i].threads == threads) return &rows[i].st;
  return NULL;
}

static int g_cpu; /* --cpu */

/* The clock every row is timed on: wall, or with --cpu the calling thread's CPU time (on a
 * loaded machine the wall clock also counts the time spent waiting for a core; the networks'
 * single-thread rows run on the calling thread alone). */
static double clock_ms(void) {
  return g_cpu ? bu_thread_cpu_ms() : bu_now_ms();
}

/* Times plan runs: warm-up, then runs timings into t. Returns 0 or the failing status. */
static int time_plan(nn_plan *plan, int warmup, int runs, double *t) {
  emoi_err err = {{0}};
  for (int i = 0; i < warmup; i++)
    if (nn_plan_run(plan, &err) != EMO_OK) {
      fprintf(stderr, "bench_models: run failed: %s\n", err.msg);
      return -1;
    }
  for (int i = 0; i < runs; i++) {
    double t0 = clock_ms();
    if (nn_plan_run(plan, &err) != EMO_OK) {
      fprintf(stderr, "bench_models: run failed: %s\n", err.msg);
      return -1;
    }
    t[i] = clock_ms() - t0;
  }
  return 0;
}

/* "CONV2D x3, PAD x1" for the nodes the plan runs on the reference kernels. */
static void ref_ops(const nn_graph *g, const nn_plan *plan, char *buf, size_t size) {
  int count[NN_OP_COUNT] = {0};
  for (int k = 0; k < g->n_nodes; k++)
    if (nn_plan_node_backend(plan, k) == NN_BACKEND_REFERENCE) count[g->nodes[k].op]++;
  size_t len = 0;
  buf[0] = 0;
  for (int op = 0; op < NN_OP_COUNT; op++)
    if (count[op] && len < size) {
      int w = snprintf(buf + len, size - len, "%s%s x%d", len ? ", " : "", nn_op_name((nn_op)op),
                       count[op]);
      if (w > 0) len += (size_t)w;
    }
  if (!len) snprintf(buf, size, "none");
}

/* Multiply-adds x 2 of the convolutions and fully connected layers (the rest is noise), so
 * that a time can be read as GFLOP/s: XNNPACK's f32 kernels reach tens of GFLOP/s per core
 * on AVX-512; a few GFLOP/s means overhead or a slow path. */
static double graph_mflop(const nn_graph *g) {
  double f = 0;
  for (int k = 0; k < g->n_nodes; k++) {
    const nn_node *n = &g->nodes[k];
    if (n->n_in < 2 || n->in[1] < 0 || n->n_out < 1) continue;
    const nn_value *w = &g->values[n->in[1]], *out = &g->values[n->out[0]];
    double on = (double)nn_value_numel(out);
    if (n->op == NN_OP_CONV2D && w->rank == 4)
      f += 2.0 * on * (double)(w->shape[1] * w->shape[2] * w->shape[3]);
    else if (n->op == NN_OP_DEPTHWISE_CONV2D && w->rank == 4)
      f += 2.0 * on * (double)(w->shape[1] * w->shape[2]);
    else if (n->op == NN_OP_FULLY_CONNECTED && w->rank == 2)
      f += 2.0 * on * (double)w->shape[1];
  }
  return f * 1e-6;
}

/* Plan variants timed per network: float on XNNPACK, int8 (nn_plan_options.int8: the 1x1
 * convolutions on nn/qconv.c) for the expression networks, which the pipeline runs in int8,
 * and the reference kernels with --reference. */
enum { V_FLOAT, V_INT8, V_REF, V_COUNT };

static void bench_net(const opts *o, const net_desc *d, emo_model *m, pthreadpool_t *pools,
                      double *t) {
  const nn_graph *g = m->graphs[d->net];
  static const char *suffix[V_COUNT] = {"", "(int8)", "(ref)"};
  static char names[EMOI_NET_COUNT][V_COUNT][64];
  int expr = d->net == EMOI_NET_FER || d->net == EMOI_NET_FACEAPI;
  for (int v = 0; v < V_COUNT; v++) {
    if ((v == V_INT8 && !expr) || (v == V_REF && !o->reference) ||
        (v == V_FLOAT && expr && o->no_float))
      continue;
    nn_backend backend = v == V_REF ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK;
    nn_plan_options popt = plan_opts(o, v == V_INT8);
    for (int ti = 0; ti < o->n_threads; ti++) {
      int threads = o->threads[ti];
      /* the reference kernels are single-threaded: time them once */
      if (v == V_REF && ti > 0) break;
      nn_plan *plan = NULL;
      emoi_err err = {{0}};
      if (nn_plan_create_ex(g, backend, pools[ti], &popt, &plan, &err) != EMO_OK) {
        printf("%-30s plan failed: %s\n", d->name, err.msg);
        continue;
      }
      const nn_value *in = &g->values[g->inputs[0]];
      int64_t n = nn_value_numel(in);
      if (d->net == EMOI_NET_FACEAPI)
        fill(nn_plan_input(plan, 0), n, 0.0f, 255.0f, 7);
      else
        fill(nn_plan_input(plan, 0), n, -1.0f, 1.0f, 7);
      int runs = v == V_REF ? (o->runs + 9) / 10 : o->runs;
      int warmup = v == V_REF ? 2 : o->warmup;
      if (time_plan(plan, warmup, runs, t) == 0) {
        nn_plan_stats ps;
        nn_plan_get_stats(plan, &ps);
        char extra[460], refs[300], i8[96] = "";
        ref_ops(g, plan, refs, sizeof refs);
        bu_stats st = bu_summarize(t, runs);
        double mflop = graph_mflop(g);
        if (v == V_INT8)
          snprintf(i8, sizeof i8, ", int8 %d %s (%d with their depthwise)", ps.n_nodes_qconv,
                   !ps.n_nodes_qconv                          ? "(no AVX2, or --no-int8)"
                   : nn_qconv_isa(o->ab.isa) == NN_ISA_AVX512 ? "VNNI"
                                                              : "AVX2",
                   ps.n_nodes_dwq);
        snprintf(extra, sizeof extra,
                 "%.1f MFLOP, %.1f GFLOP/s; nodes %d: xnn %d (%d runtimes), ref %d [%s]%s", mflop,
                 st.median > 0 ? mflop / st.median : 0.0, ps.n_nodes, ps.n_nodes_xnn, ps.n_xnn_runs,
                 ps.n_nodes_ref, refs, i8);
        snprintf(names[d->net][v], sizeof names[d->net][v], "%s%s", d->name, suffix[v]);
        print_row(names[d->net][v], d->input,
                  v == V_REF    ? "reference"
                  : v == V_INT8 ? "int8"
                                : "xnnpack",
                  threads, st, extra);
      }
      nn_plan_destroy(&plan);
    }
  }
}

/* A synthetic 1280x720 frame: smooth gradients plus noise (content does not change the cost of
 * any step timed here except decode/NMS, which see few candidates on it). */
static uint8_t *make_frame(void) {
  uint8_t *rgb = malloc((size_t)FRAME_W * FRAME_H * 3);
  if (!rgb) return NULL;
  uint32_t s = 12345;
  for (int y = 0; y < FRAME_H; y++)
    for (int x = 0; x < FRAME_W; x++) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      uint8_t *p = rgb + ((size_t)y * FRAME_W + x) * 3;
      p[0] = (uint8_t)((x * 255 / FRAME_W + (s & 15)) & 255);
      p[1] = (uint8_t)((y * 255 / FRAME_H + ((s >> 4) & 15)) & 255);
      p[2] = (uint8_t)(((x + y) & 255) ^ ((s >> 8) & 31));
    }
  return rgb;
}

/* A face of ~200 px in the middle of the frame, eyes tilted by ~5 degrees. */
static bf_detection synthetic_face(void) {
  bf_detection d;
  memset(&d, 0, sizeof d);
  d.x0 = 540;
  d.y0 = 260;
  d.x1 = 740;
  d.y1 = 460;
  d.kp[0][0] = 600;
  d.kp[0][1] = 330;
  d.kp[1][0] = 680;
  d.kp[1][1] = 337;
  d.score = 0.9f;
  return d;
}

/* The pre/post-processing and whole per-face/per-detector steps. */
static void bench_steps(const opts *o, emo_model *const *models, pthreadpool_t *pools, double *t) {
  uint8_t *rgb = make_frame();
  float *buf = malloc(sizeof(float) * 192 * 192 * 3);
  bf_detection *dets = malloc(sizeof(bf_detection) * BF_MAX_ANCHORS);
  if (!rgb || !buf || !dets) {
    fprintf(stderr, "bench_models: out of memory\n");
    goto done;
  }
  img_view view = {rgb, FRAME_W, FRAME_H, FRAME_W * 3};
  img_norm det_norm = img_norm_range(-1.0f, 1.0f);
  int warmup = o->warmup, runs = o->runs;

  /* Letterbox alone (single-threaded by design). */
  static const int sizes[2] = {128, 192};
  static const char *lb_names[2] = {"letterbox 1280x720->128", "letterbox 1280x720->192"};
  for (int k = 0; k < 2; k++) {
    img_letterbox lb;
    for (int i = 0; i < warmup + runs; i++) {
      double t0 = clock_ms();
      img_letterbox_f32(&view, buf, sizes[k], sizes[k], &det_norm, &lb, (emo_isa)o->ab.isa);
      if (i >= warmup) t[i - warmup] = clock_ms() - t0;
    }
    print_row(lb_names[k], "1280x720", "C", 1, bu_summarize(t, runs), "");
  }

  /* Alignment warp alone: FER (64x64 gray) and face-api (112x112 RGB). */
  bf_detection face = synthetic_face();
  {
    float m[6];
    float cx = 0.5f * (face.x0 + face.x1), cy = 0.5f * (face.y0 + face.y1);
    float angle = atan2f(face.kp[1][1] - face.kp[0][1], face.kp[1][0] - face.kp[0][0]);
    img_norm fer_norm = img_norm_uniform(2.0f / 255.0f, -1.0f);
    img_norm fa_norm = img_norm_uniform(1.0f, 0.0f);
    static const char *w_names[2] = {"warp face->64x64x1", "warp face->112x112x3"};
    for (int k = 0; k < 2; k++) {
      int n = k == 0 ? 64 : 112;
      img_affine_rotated_square(m, cx, cy, angle, 1.1f * 200.0f, n);
      for (int i = 0; i < warmup + runs; i++) {
        double t0 = clock_ms();
        img_warp_affine_f32(&view, m, buf, n, n, k == 0 ? 1 : 3, k == 0 ? &fer_norm : &fa_norm,
                            IMG_BORDER_REPLICATE);
        if (i >= warmup) t[i - warmup] = clock_ms() - t0;
      }
      print_row(w_names[k], "200px face", "C", 1, bu_summarize(t, runs), "");
    }
  }

  /* Whole detector pass and whole expression step, per thread count. */
  for (int ti = 0; ti < o->n_threads; ti++) {
    int threads = o->threads[ti];
    for (int k = 0; k < 2; k++) {
      emoi_net net = k == 0 ? EMOI_NET_DET_SHORT : EMOI_NET_DET_FULL;
      emo_model *m = models[net];
      if (!m) continue;
      nn_plan *plan = NULL;
      emoi_err err = {{0}};
      nn_plan_options popt = plan_opts(o, 0);
      if (nn_plan_create_ex(m->graphs[net], NN_BACKEND_XNNPACK, pools[ti], &popt, &plan, &err) !=
          EMO_OK)
        continue;
      const bf_model_config *cfg = k == 0 ? &bf_short_range : &bf_full_range;
      const bf_anchor *anchors = k == 0 ? m->anchors_short : m->anchors_full;
      int ok = 1;
      for (int i = 0; i < warmup + runs && ok; i++) {
        double t0 = clock_ms();
        int n = fd_detect(m->graphs[net], plan, cfg, anchors, rgb, FRAME_W, FRAME_H, FRAME_W * 3,
                          0.5f, 0.3f, dets, 64, &err);
        if (n < 0) {
          fprintf(stderr, "bench_models: fd_detect: %s\n", err.msg);
          ok = 0;
        }
        if (i >= warmup) t[i - warmup] = clock_ms() - t0;
      }
      if (ok)
        print_row(k == 0 ? "detect short (lb+nn+nms)" : "detect full (lb+nn+nms)", "1280x720",
                  "xnnpack", threads, bu_summarize(t, runs), "");
      nn_plan_destroy(&plan);
    }
    for (int k = 0; k < 4; k++) {
      emoi_net net = k % 2 == 0 ? EMOI_NET_FER : EMOI_NET_FACEAPI;
      emo_model *m = models[net];
      if (!m) continue;
      nn_plan *plan = NULL;
      emoi_err err = {{0}};
      nn_plan_options popt = plan_opts(o, k >= 2); /* int8, as the pipeline runs them */
      if (nn_plan_create_ex(m->graphs[net], NN_BACKEND_XNNPACK, pools[ti], &popt, &plan, &err) !=
          EMO_OK)
        continue;
      float probs[EMO_EXPR_COUNT];
      fe_align al;
      fe_align_from_detection(&face, &al);
      int ok = 1;
      for (int i = 0; i < warmup + runs && ok; i++) {
        double t0 = clock_ms();
        if (fe_classify(k % 2 == 0 ? FE_NET_FER : FE_NET_FACEAPI, plan, rgb, FRAME_W, FRAME_H,
                        FRAME_W * 3, &al, probs, &err) != EMO_OK) {
          fprintf(stderr, "bench_models: fe_classify: %s\n", err.msg);
          ok = 0;
        }
        if (i >= warmup) t[i - warmup] = clock_ms() - t0;
      }
      static const char *step_names[4] = {"FER step/face (warp+nn)", "faceapi step/face (warp+nn)",
                                          "FER int8 step/face", "faceapi int8 step/face"};
      if (ok)
        print_row(step_names[k], "200px face", k >= 2 ? "int8" : "xnnpack", threads,
                  bu_summarize(t, runs), "");
      nn_plan_destroy(&plan);
    }
  }
done:
  free(rgb);
  free(buf);
  free(dets);
}

/* Index of the graph output whose last dimension is `last` (16: regressors, 1: scores). */
static int det_output(const nn_graph *g, int64_t last, int n_anchors) {
  for (int i = 0; i < g->n_outputs; i++) {
    const nn_value *v = &g->values[g->outputs[i]];
    if (v->rank >= 2 && v->shape[v->rank - 1] == last && nn_value_numel(v) == n_anchors * last)
      return i;
  }
  return -1;
}

/* Reads raw frames of FRAME_W x FRAME_H RGB24. Returns the count loaded (0 on error). */
static int load_frames(char **paths, int n, uint8_t **out) {
  size_t size = (size_t)FRAME_W * FRAME_H * 3;
  for (int i = 0; i < n; i++) {
    FILE *fp = fopen(paths[i], "rb");
    out[i] = malloc(size + 1);
    size_t got = fp && out[i] ? fread(out[i], 1, size + 1, fp) : 0;
    if (fp) fclose(fp);
    if (got != size) {
      fprintf(stderr, "bench_models: %s is not a %dx%d RGB24 frame\n", paths[i], FRAME_W, FRAME_H);
      for (int k = 0; k <= i; k++) free(out[k]);
      return 0;
    }
  }
  return n;
}

/* The per-frame path split into its steps, on real frames (each cold in cache when its turn
 * comes, as in a video): letterbox, detector network, decode + NMS, then for every face the
 * alignment warp and the FER network, in the order emo_analyze_rgb runs them. Each step's
 * median over all frames (or faces) and passes. */
static void bench_real(const opts *o, emo_model *const *models, pthreadpool_t *pools,
                       uint8_t **frames, int n_frames, int passes) {
  emo_model *ms = models[EMOI_NET_DET_SHORT], *mf = models[EMOI_NET_FER];
  if (!ms || !mf) return;
  const nn_graph *gd = ms->graphs[EMOI_NET_DET_SHORT], *gf = mf->graphs[EMOI_NET_FER];
  int ri = det_output(gd, 16, bf_short_range.n_anchors),
      si = det_output(gd, 1, bf_short_range.n_anchors);
  if (ri < 0 || si < 0) return;
  size_t cap = (size_t)n_frames * passes;
  double *t_lb = malloc(sizeof(double) * cap), *t_net = malloc(sizeof(double) * cap),
         *t_dec = malloc(sizeof(double) * cap), *t_frame = malloc(sizeof(double) * cap);
  double *t_warp = malloc(sizeof(double) * cap * 64), *t_fer = malloc(sizeof(double) * cap * 64);
  bf_detection *dets = malloc(sizeof(bf_detection) * BF_MAX_ANCHORS);
  if (!t_lb || !t_net || !t_dec || !t_frame || !t_warp || !t_fer || !dets) goto done;
  for (int ti = 0; ti < o->n_threads; ti++) {
    nn_plan *pd = NULL, *pf = NULL;
    emoi_err err = {{0}};
    nn_plan_options popt = plan_opts(o, 0);
    if (nn_plan_create_ex(gd, NN_BACKEND_XNNPACK, pools[ti], &popt, &pd, &err) != EMO_OK ||
        nn_plan_create_ex(gf, NN_BACKEND_XNNPACK, pools[ti], &popt, &pf, &err) != EMO_OK) {
      fprintf(stderr, "bench_models: %s\n", err.msg);
      nn_plan_destroy(&pd);
      continue;
    }
    int nk = 0, nface = 0, faces_pass = 0;
    img_norm dn = img_norm_range(-1.0f, 1.0f);
    img_norm fn = img_norm_uniform(2.0f / 255.0f, -1.0f);
    for (int k = 0; k < 3; k++) fn.gray[k] = img_gray_tfjs[k];
    for (int pass = -1; pass < passes; pass++) /* pass -1: warm-up */
      for (int f = 0; f < n_frames; f++) {
        img_view view = {frames[f], FRAME_W, FRAME_H, FRAME_W * 3};
        img_letterbox lb;
        double t0 = clock_ms();
        img_letterbox_f32(&view, nn_plan_input(pd, 0), 128, 128, &dn, &lb,
                          (emo_isa)nn_plan_isa(pd));
        double t1 = clock_ms();
        if (nn_plan_run(pd, &err) != EMO_OK) goto fail;
        double t2 = clock_ms();
        int n = bf_decode(&bf_short_range, ms->anchors_short, nn_plan_output(pd, ri),
                          nn_plan_output(pd, si), 0.5f, dets, bf_short_range.n_anchors);
        n = bf_weighted_nms(dets, n, 0.3f, 64);
        for (int i = 0; i < n; i++) {
          bf_detection *d = &dets[i];
          img_letterbox_to_image(&lb, d->x0, d->y0, &d->x0, &d->y0);
          img_letterbox_to_image(&lb, d->x1, d->y1, &d->x1, &d->y1);
          for (int k = 0; k < BF_KEYPOINTS; k++)
            img_letterbox_to_image(&lb, d->kp[k][0], d->kp[k][1], &d->kp[k][0], &d->kp[k][1]);
        }
        double t3 = clock_ms();
        for (int i = 0; i < n; i++) {
          const bf_detection *d = &dets[i];
          /* the crop of vision/face_expression.c */
          float cx = 0.5f * (d->x0 + d->x1), cy = 0.5f * (d->y0 + d->y1);
          float bw = d->x1 - d->x0, bh = d->y1 - d->y0, m[6];
          float angle = atan2f(d->kp[1][1] - d->kp[0][1], d->kp[1][0] - d->kp[0][0]);
          img_affine_rotated_square(m, cx, cy, angle, 1.1f * (bw > bh ? bw : bh), 64);
          double u0 = clock_ms();
          img_warp_affine_f32(&view, m, nn_plan_input(pf, 0), 64, 64, 1, &fn, IMG_BORDER_REPLICATE);
          double u1 = clock_ms();
          if (nn_plan_run(pf, &err) != EMO_OK) goto fail;
          double u2 = clock_ms();
          if (pass >= 0 && nface < (int)cap * 64) {
            t_warp[nface] = u1 - u0;
            t_fer[nface++] = u2 - u1;
          }
        }
        double t4 = clock_ms();
        if (pass >= 0) {
          t_lb[nk] = t1 - t0;
          t_net[nk] = t2 - t1;
          t_dec[nk] = t3 - t2;
          t_frame[nk++] = t4 - t0;
          if (pass == 0) faces_pass += n;
        }
      }
    char what[64];
    snprintf(what, sizeof what, "%d real frames, %d faces", n_frames, faces_pass);
    printf("%s (%d thread%s, short-range + FER, %d passes):\n", what, o->threads[ti],
           o->threads[ti] > 1 ? "s" : "", passes);
    print_row("  letterbox ->128 (cold frame)", "frame", "C", o->threads[ti],
              bu_summarize(t_lb, nk), "");
    print_row("  blazeface_short network", "frame", "xnnpack", o->threads[ti],
              bu_summarize(t_net, nk), "");
    print_row("  decode + NMS + unletterbox", "frame", "C", o->threads[ti], bu_summarize(t_dec, nk),
              "");
    print_row("  warp face->64x64 (per face)", "face", "C", o->threads[ti],
              bu_summarize(t_warp, nface), "");
    print_row("  FER network (per face)", "face", "xnnpack", o->threads[ti],
              bu_summarize(t_fer, nface), "");
    print_row("  whole frame (sum of steps)", "frame", "-", o->threads[ti],
              bu_summarize(t_frame, nk), "");
  fail:
    if (err.msg[0]) fprintf(stderr, "bench_models: %s\n", err.msg);
    nn_plan_destroy(&pd);
    nn_plan_destroy(&pf);
  }
done:
  free(t_lb);
  free(t_net);
  free(t_dec);
  free(t_frame);
  free(t_warp);
  free(t_fer);
  free(dets);
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_models [--runs N (default 300)] [--warmup N (default 30)]\n"
          "                    [--threads LIST (default 1,2)] [--models DIR] [--reference]\n"
          "                    [--only blazeface_short|blazeface_full|fer_mini_xception|"
          "faceapi_expression]\n"
          "                    [--passes N (default 3)] [--no-int8] [--no-dwq] [--no-winograd]\n"
          "                    [--no-float] [--cpu]\n"
          "                    [--isa scalar|avx2|avx512] [--xnn-avx2] [FRAME.rgb... (1280x720 "
          "RGB24)]\n"
          "  --reference  also time the plain C reference kernels (runs/10, 1 thread)\n"
          "  --only NAME  time one network and nothing else (for perf record)\n"
          "  --no-int8, --no-dwq, --no-winograd  switch that fast path off in every plan (A/B)\n"
          "  --no-epilogue  no additions or activations fused into products' stores (A/B)\n"
          "  --no-reuse   a buffer of its own for every activation, no sharing by lifetime (A/B)\n"
          "  --no-float   time the expression networks only as the pipeline runs them (int8)\n"
          "  --cpu        thread CPU time instead of wall time (loaded machines; 1-thread rows)\n"
          "  --isa CAP    the best int8 kernels not above CAP (default: the best this CPU has)\n"
          "  --xnn-avx2   hide AVX-512 from XNNPACK: its AVX2 + FMA3 kernels, as on an AVX2 CPU\n");
}

int main(int argc, char **argv) {
  opts o = {.runs = 300, .warmup = 30, .threads = {1, 2}, .n_threads = 2};
  int passes = 3;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--runs") && i + 1 < argc)
      o.runs = atoi(argv[++i]);
    else if (!strcmp(a, "--warmup") && i + 1 < argc)
      o.warmup = atoi(argv[++i]);
    else if (!strcmp(a, "--threads") && i + 1 < argc) {
      o.n_threads = bu_parse_list(argv[++i], o.threads, MAX_THREADS);
      if (o.n_threads < 1) {
        usage();
        return 2;
      }
    } else if (!strcmp(a, "--models") && i + 1 < argc)
      o.models_dir = argv[++i];
    else if (!strcmp(a, "--reference"))
      o.reference = 1;
    else if (!strcmp(a, "--only") && i + 1 < argc)
      o.only = argv[++i];
    else if (!strcmp(a, "--passes") && i + 1 < argc)
      passes = atoi(argv[++i]);
    else if (!strcmp(a, "--no-int8"))
      o.no_int8 = 1;
    else if (!strcmp(a, "--no-epilogue"))
      o.ab.no_epilogue = 1;
    else if (!strcmp(a, "--no-reuse"))
      o.ab.no_reuse = 1;
    else if (!strcmp(a, "--no-float"))
      o.no_float = 1;
    else if (!strcmp(a, "--cpu"))
      g_cpu = 1;
    else if (!strcmp(a, "--no-dwq"))
      o.ab.no_dwq = 1;
    else if (!strcmp(a, "--no-winograd"))
      o.ab.no_winograd = 1;
    else if (!strcmp(a, "--xnn-avx2")) {
      const char *why = "";
      if (!bu_xnn_hide_avx512(&why)) {
        fprintf(stderr, "bench_models: --xnn-avx2: %s\n", why);
        return 1;
      }
    } else if (!strcmp(a, "--isa") && i + 1 < argc) {
      const char *v = argv[++i];
      o.ab.isa = !strcmp(v, "scalar")   ? NN_ISA_SCALAR
                 : !strcmp(v, "avx2")   ? NN_ISA_AVX2
                 : !strcmp(v, "avx512") ? NN_ISA_AVX512
                                        : NN_ISA_COUNT;
      if (o.ab.isa == NN_ISA_COUNT) {
        usage();
        return 2;
      }
    } else {
      usage();
      return 2;
    }
  }
  if (o.runs < 1 || o.runs > 1000000 || o.warmup < 0 || passes < 1 || passes > 1000) {
    usage();
    return 2;
  }
  double *t = malloc(sizeof(double) * (size_t)o.runs);
  if (!t) return 1;

  /* One model per network, so that a network that fails to load only skips its own rows. */
  emo_model *models[EMOI_NET_COUNT] = {0};
  char dir[4096] = "";
  for (int k = 0; k < EMOI_NET_COUNT; k++) {
    if (o.only && strcmp(o.only, nets[k].name)) continue;
    emo_model_params p = emo_model_params_default();
    p.models_dir = o.models_dir;
    p.detector = nets[k].detector;
    p.expression = nets[k].expression;
    p.reid = nets[k].net == EMOI_NET_EMBED;
    p.voice = 0;
    p.log = keep_log;
    if (!dir[0]) emo_models_dir(&p, dir, sizeof dir);
    last_log[0] = 0;
    int rc = emo_model_load(&p, &models[k]);
    if (rc != EMO_OK || !models[k]->graphs[nets[k].net]) {
      printf("# %s: not loaded (%s): %s\n", nets[k].name, emo_status_str(rc), last_log);
      emo_model_destroy(&models[k]);
    }
  }
  pthreadpool_t pools[MAX_THREADS] = {0};
  for (int ti = 0; ti < o.n_threads; ti++)
    if (o.threads[ti] > 1) {
      pools[ti] = pthreadpool_create((size_t)o.threads[ti]);
      if (!pools[ti]) {
        fprintf(stderr, "bench_models: cannot create a pool of %d threads\n", o.threads[ti]);
        return 1;
      }
    }

  printf("# emo %s bench_models: models %s, %d runs after %d warm-up, times in ms (%s)\n",
         EMO_VERSION_STRING, dir, o.runs, o.warmup, g_cpu ? "thread CPU time" : "wall time");
  char cpu[256];
  printf("# cpu: %s; emo's kernels: the %s path (--isa %s), int8 GEMM %s\n",
         bu_cpu_model(cpu, sizeof cpu), emo_isa_name(emo_isa_pick((emo_isa)o.ab.isa)),
         emo_isa_name((emo_isa)o.ab.isa),
         nn_qconv_isa(o.ab.isa) == NN_ISA_AVX512 ? "VNNI"
         : nn_qconv_isa(o.ab.isa) == NN_ISA_AVX2 ? "AVX2"
                                                 : "scalar");
  printf("%-30s %-10s %-9s %2s  %9s %9s %9s %9s  %s\n", "network / step", "input", "backend", "th",
         "median", "p10", "p90", "min", "plan");
  for (int k = 0; k < EMOI_NET_COUNT; k++)
    if (models[k]) bench_net(&o, &nets[k], models[k], pools, t);
  if (!o.only) {
    printf("\n# pre/post-processing and whole steps (synthetic 1280x720 frame, 200 px face)\n");
    bench_steps(&o, models, pools, t);
    int n_frames = argc - i;
    uint8_t **frames = n_frames > 0 ? calloc((size_t)n_frames, sizeof *frames) : NULL;
    if (frames && load_frames(argv + i, n_frames, frames) == n_frames) {
      printf("\n# the frame path step by step on real frames (each step's median)\n");
      bench_real(&o, models, pools, frames, n_frames, passes);
      for (int k = 0; k < n_frames; k++) free(frames[k]);
    }
    free(frames);
  }

  /* Targets (reported, not asserted). */
  printf("\n# targets (1 thread)\n");
  const bu_stats *s = find_row("blazeface_short", 1);
  if (s)
    printf("target blazeface_short network <= 1.000 ms: %.4f ms  %s\n", s->median,
           s->median <= 1.0 ? "MET" : "MISSED");
  s = find_row("FER step/face (warp+nn)", 1);
  if (s)
    printf("target FER per face (warp+nn) <= 0.500 ms: %.4f ms  %s\n", s->median,
           s->median <= 0.5 ? "MET" : "MISSED");
  s = find_row("FER int8 step/face", 1);
  if (s)
    printf("target FER per face in int8, as the pipeline runs it <= 0.500 ms: %.4f ms  %s\n",
           s->median, s->median <= 0.5 ? "MET" : "MISSED");
  s = find_row("fer_mini_xception(int8)", 1);
  if (s)
    printf("target FER network alone in int8 <= 0.500 ms: %.4f ms  %s\n", s->median,
           s->median <= 0.5 ? "MET" : "MISSED");
  /* machine-readable: one token per row and thread count, NAME@THREADS=median_ms */
  printf("BENCH_MODELS");
  for (int i = 0; i < n_rows; i++) {
    char key[64];
    snprintf(key, sizeof key, "%s", rows[i].what);
    for (char *c = key; *c; c++)
      if (*c == ' ' || *c == '=' || *c == '/' || *c == '(' || *c == ')' || *c == '+' || *c == '>' ||
          *c == '-')
        *c = '_';
    const char *k = key;
    while (*k == '_') k++;
    printf(" %s@%d=%.4f", k, rows[i].threads, rows[i].st.median);
  }
  printf("\n");

  for (int ti = 0; ti < o.n_threads; ti++)
    if (pools[ti]) pthreadpool_destroy(pools[ti]);
  for (int k = 0; k < EMOI_NET_COUNT; k++) emo_model_destroy(&models[k]);
  free(t);
  return 0;
}
