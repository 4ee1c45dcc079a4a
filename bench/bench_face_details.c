/* bench_face_details.c: per-face cost of each --face-details level on one core: the landmark
 * network with its crop (pose also includes the Procrustes fit), and the blendshape network
 * (full), on the faces of a real photo, after detection (which every level shares). Prints the
 * median of --runs repetitions per face in milliseconds. bench/face_details.sh runs it beside
 * MediaPipe's own runtime (tasks-vision in Chromium, bench/face_details_mediapipe.cjs).
 * Usage: bench_face_details [--runs N] [--reference] IMAGE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "core/models.h"
#include "media/image_decode.h"
#include "nn/tflite_reader.h"
#include "vision/face_detect.h"
#include "vision/face_mesh.h"

/* CPU time of the calling thread in ms: the cost on a loaded machine, where wall time also
 * counts the time other processes had the core. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
  int runs = 200, reference = 0;
  nn_plan_options popt = {0};
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reference"))
      reference = 1;
    else if (!strcmp(argv[i], "--int8"))
      popt.int8 = 1;
    else if (!strcmp(argv[i], "--int8-min") && i + 1 < argc)
      popt.int8_min_macs = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--no-dwq"))
      popt.no_dwq = 1;
    else if (!strcmp(argv[i], "--no-resblock"))
      popt.no_resblock = 1;
    else if (!strcmp(argv[i], "--no-layernorm"))
      popt.no_layernorm = 1;
    else if (!strcmp(argv[i], "--own-gemm"))
      popt.gemm = NN_GEMM_OWN;
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      const char *v = argv[++i];
      popt.isa = !strcmp(v, "scalar")   ? NN_ISA_SCALAR
                 : !strcmp(v, "avx2")   ? NN_ISA_AVX2
                 : !strcmp(v, "avx512") ? NN_ISA_AVX512
                                        : NN_ISA_AUTO;
    } else
      path = argv[i];
  }
  if (!path || runs < 1) {
    fprintf(stderr, "usage: bench_face_details [--runs N] [--reference] IMAGE\n");
    return 2;
  }
  emoi_err err = {{0}};
  emo_model_params mp = emo_model_params_default();
  void *task = NULL, *det = NULL;
  size_t task_size = 0, det_size = 0;
  unsigned char *img_bytes = NULL;
  size_t img_size = 0;
  img_rgb img = {0};
  fm_bundle *b = NULL;
  nn_graph *dg = NULL;
  nn_plan *mesh = NULL, *blend = NULL, *dplan = NULL;
  nn_backend be = reference ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK;
  if (emoi_model_read(&mp, "face_landmarker", &task, &task_size, &err) ||
      fm_bundle_load(task, task_size, "face_landmarker.task", &b, &err) ||
      emoi_model_read(&mp, "blazeface_short", &det, &det_size, &err) ||
      nn_tflite_load(det, det_size, "blazeface_short", &dg, &err) ||
      nn_plan_create_ex(b->mesh, be, NULL, &popt, &mesh, &err) ||
      (b->blend && nn_plan_create_ex(b->blend, be, NULL, &popt, &blend, &err)) ||
      nn_plan_create(dg, be, NULL, &dplan, &err) ||
      img_read_file(path, (int64_t)1 << 30, &img_bytes, &img_size, &err) ||
      img_decode(img_bytes, img_size, (int64_t)1 << 28, &img, &err)) {
    fprintf(stderr, "bench_face_details: %s\n", err.msg);
    return 1;
  }
  nn_plan_stats ps;
  nn_plan_get_stats(mesh, &ps);
  printf(
      "landmark plan: nodes %d: xnn %d (%d runtimes), ref %d, int8 %d (%d fused), gemm %d, in "
      "residual blocks %d\n",
      ps.n_nodes, ps.n_nodes_xnn, ps.n_xnn_runs, ps.n_nodes_ref, ps.n_nodes_qconv, ps.n_nodes_dwq,
      ps.n_nodes_gemm, ps.n_nodes_resblock);
  if (blend) { /* which blendshape nodes fall back to the reference kernels */
    nn_plan_get_stats(blend, &ps);
    int count[NN_OP_COUNT] = {0};
    for (int k = 0; k < b->blend->n_nodes; k++)
      if (nn_plan_node_backend(blend, k) == NN_BACKEND_REFERENCE) count[b->blend->nodes[k].op]++;
    printf("blendshape plan: nodes %d: xnn %d (%d runtimes), in layer-norm steps %d, ref %d:",
           ps.n_nodes, ps.n_nodes_xnn, ps.n_xnn_runs, ps.n_nodes_lnorm, ps.n_nodes_ref);
    for (int op = 0; op < NN_OP_COUNT; op++)
      if (count[op]) printf(" %s x%d", nn_op_name((nn_op)op), count[op]);
    printf("\n");
  }
  bf_anchor anchors[896];
  bf_anchors_generate(&bf_short_range, anchors, 896);
  static bf_detection dets[BF_MAX_ANCHORS];
  int n = fd_detect(dg, dplan, &bf_short_range, anchors, img.data, img.width, img.height,
                    img.width * 3, 0.5f, 0.3f, dets, 64, &err);
  if (n <= 0) {
    fprintf(stderr, "bench_face_details: no face in %s\n", path);
    return 1;
  }
  double *t_mesh = malloc(sizeof(double) * (size_t)runs);
  double *t_pose = malloc(sizeof(double) * (size_t)runs);
  double *t_blend = malloc(sizeof(double) * (size_t)runs);
  double *c_pose = malloc(sizeof(double) * (size_t)runs);
  double *c_full = malloc(sizeof(double) * (size_t)runs);
  static float lm[FM_LANDMARKS][3];
  float presence, bs[FM_BLENDSHAPES];
  emo_head_pose pose;
  for (int f = 0; f < n; f++) {
    fm_roi roi;
    fm_roi_from_detection(&dets[f], img.width, img.height, &roi);
    for (int r = -5; r < runs; r++) { /* 5 warm-up runs */
      double c0 = cpu_ms();
      double t0 = bu_now_ms();
      fm_landmarks(b, mesh, img.data, img.width, img.height, img.width * 3, &roi, lm, &presence,
                   &err);
      double t1 = bu_now_ms();
      fg_estimate_pose(&b->geometry, (const float(*)[3])lm, img.width, img.height, &pose);
      double t2 = bu_now_ms();
      double c2 = cpu_ms();
      if (blend) fm_blendshapes(b, blend, (const float(*)[3])lm, img.width, img.height, bs, &err);
      double t3 = bu_now_ms();
      double c3 = cpu_ms();
      if (r >= 0) {
        c_pose[r] = c2 - c0;
        c_full[r] = c3 - c0;
        t_mesh[r] = t1 - t0;
        t_pose[r] = t2 - t1;
        t_blend[r] = t3 - t2;
      }
    }
    bu_stats sm = bu_summarize(t_mesh, runs), sp = bu_summarize(t_pose, runs),
             sb = bu_summarize(t_blend, runs);
    printf(
        "face %d (%.0f px): landmarks %.3f ms, pose fit %.3f ms, blendshapes %.3f ms => "
        "pose %.3f ms, full %.3f ms per face (median of %d, one core, %s)\n",
        f, dets[f].x1 - dets[f].x0, sm.median, sp.median, sb.median, sm.median + sp.median,
        sm.median + sp.median + sb.median, runs, reference ? "reference kernels" : "XNNPACK");
    /* the crop alone, at the plan's cap and on the plain C warp, interleaved (thread CPU) */
    static float crop[1024 * 1024 * 3];
    for (int r = 0; r < runs; r++) {
      double c0 = cpu_ms();
      fm_crop(b, img.data, img.width, img.height, img.width * 3, &roi, (emo_isa)popt.isa, crop,
              &err);
      double c1 = cpu_ms();
      fm_crop(b, img.data, img.width, img.height, img.width * 3, &roi, EMO_ISA_SCALAR, crop, &err);
      double c2 = cpu_ms();
      t_mesh[r] = c1 - c0;
      t_pose[r] = c2 - c1;
    }
    bu_stats sw = bu_summarize(t_mesh, runs), sr = bu_summarize(t_pose, runs);
    printf("face %d: thread CPU time: crop warp %.3f ms (%s path; plain C %.3f ms)\n", f, sw.median,
           emo_isa_name(emo_isa_pick((emo_isa)popt.isa)), sr.median);
    bu_stats cf = bu_summarize(c_full, runs), cp = bu_summarize(c_pose, runs);
    printf("face %d: thread CPU time: pose %.3f ms, full %.3f ms per face (median)\n", f, cp.median,
           cf.median);
  }
  free(t_mesh);
  free(t_pose);
  free(t_blend);
  free(c_pose);
  free(c_full);
  nn_plan_destroy(&mesh);
  nn_plan_destroy(&blend);
  nn_plan_destroy(&dplan);
  nn_graph_destroy(&dg);
  fm_bundle_destroy(&b);
  img_rgb_free(&img);
  free(img_bytes);
  free(task);
  free(det);
  return 0;
}
