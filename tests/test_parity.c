/* test_parity.c: every model emo runs, compared with an independent reference runtime.
 * The reference outputs were computed once by tools/ref/ (TFLite's own interpreter for the
 * BlazeFace models, TensorFlow.js 4.22.0 CPU for human's FER model, face-api's own code on
 * TensorFlow.js for face-api's expression net) and committed as tests/fixtures/NAME.fix (format
 * in tests/fixture.h). For each fixture the model is loaded with emo's reader, the stored
 * inputs are fed to plans on the XNNPACK backend, on the plain-C reference backend and on XNNPACK
 * with every matrix product on emo's own GEMM microkernels (nn/sgemm.c, "own-gemm"), and
 * every raw output is compared with the reference: the worst differences are printed per
 * model and backend and must be within PARITY_TOL (below). Models come from the cache
 * ($EMO_MODELS, else ~/.cache/emo/models); a model that is absent is skipped with a message,
 * and the whole test when none is there. What it leaves to others: post-processing (anchors,
 * NMS, boxes) is tested with the detector code. argv[1] (harness.h's th_isa_arg) caps the
 * plans' own kernels (float plans: the Winograd transforms and the GEMM), so the bound holds on
 * each path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "emo.h"
#include "fixture.h"
#include "harness.h"
#include "nn/nn.h"
#include "nn/tfjs_reader.h"
#include "nn/tflite_reader.h"
#include "vision/faceapi_expression_net.h"

/* An output element passes when |got - ref| <= PARITY_TOL * max(1, |ref|): 1e-4 absolute for
 * values up to 1 (probabilities, most regressors), 1e-4 relative above. Relative above 1
 * because float32 cannot do better: BlazeFace's raw logits on random inputs reach |x| ~ 300,
 * where one float32 ulp is 3e-5, and two correct implementations that sum in a different
 * order (TFLite vs emo, over ~30 layers) differ by a few ulps there (measured: 3e-4 absolute,
 * 1.5e-6 relative). A wrong padding, layout or op is an O(1) relative error, far above this. */
#define PARITY_TOL 1e-4

typedef enum model_src { SRC_TFLITE, SRC_TFJS, SRC_FACEAPI } model_src;

typedef struct parity_case {
  const char *name;
  const char *fixture; /* under tests/fixtures/ */
  model_src src;
  const char *model_file; /* under the model cache */
} parity_case;

static nn_isa g_cap = NN_ISA_AUTO; /* argv[1]: cap on the plans' own kernels */
static const parity_case cases[] = {
    {"blazeface_short", "blazeface_short.fix", SRC_TFLITE, "face_detection_short_range.tflite"},
    {"blazeface_full", "blazeface_full.fix", SRC_TFLITE, "face_detection_full_range.tflite"},
    {"fer_emotion", "fer_emotion.fix", SRC_TFJS, "emotion.json"},
    {"faceapi_expression", "faceapi_expression.fix", SRC_FACEAPI,
     "face_expression_model-weights_manifest.json"},
};

static const char *backend_name(nn_backend b) {
  return b == NN_BACKEND_XNNPACK ? "xnnpack" : "reference";
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int load_graph(const parity_case *c, const char *path, nn_graph **g, emoi_err *err) {
  if (c->src == SRC_TFLITE) {
    size_t size = 0;
    unsigned char *data = th_read_file(path, &size);
    if (!data) return emoi_fail(err, EMO_EIO, "%s: cannot read", path);
    int st = nn_tflite_load(data, size, path, g, err);
    free(data);
    return st;
  }
  if (c->src == SRC_TFJS) return nn_tfjs_load(path, 0, g, err);
  return fe_faceapi_net_load(path, 0, g, err);
}

/* Fills the graph input (1, H, W, C) from the fixture's low-resolution uint8 input
 * (1, h, w, C) and map (scale, offset): x = (float)u * scale + offset, block-replicated by
 * f = H / h (fixture.h), the same float32 arithmetic as tools/ref/fixture.cjs. */
static int fill_input(const nn_value *iv, const fx_tensor *in, const fx_tensor *map, float *x) {
  if (iv->rank != 4 || in->rank != 4 || in->dtype != FX_U8 || map->dtype != FX_F32 ||
      map->numel != 2)
    return -1;
  int64_t H = iv->shape[1], W = iv->shape[2], C = iv->shape[3];
  int64_t h = in->dims[1], w = in->dims[2];
  if (iv->shape[0] != 1 || in->dims[0] != 1 || in->dims[3] != C || h <= 0 || w <= 0 || H % h ||
      W % w || H / h != W / w)
    return -1;
  int64_t f = H / h;
  const float scale = map->f32[0], offset = map->f32[1];
  for (int64_t y = 0; y < H; y++)
    for (int64_t xx = 0; xx < W; xx++)
      for (int64_t ch = 0; ch < C; ch++) {
        float prod = (float)in->u8[((y / f) * w + xx / f) * C + ch] * scale;
        x[(y * W + xx) * C + ch] = prod + offset;
      }
  return 0;
}

/* The fixture output a graph output is compared with. Fixtures store the model's outputs in
 * order; face-api's fixture has out0 = logits (runNet) and out1 = softmax (forward), and the
 * graph's output is compared with the one it computes (softmax when its last node is one). */
static int ref_index(const parity_case *c, const nn_graph *g, int i) {
  if (c->src != SRC_FACEAPI) return i;
  int vid = g->outputs[i];
  for (int n = 0; n < g->n_nodes; n++)
    for (int o = 0; o < g->nodes[n].n_out; o++)
      if (g->nodes[n].out[o] == vid) return g->nodes[n].op == NN_OP_SOFTMAX ? 1 : 0;
  return 0;
}

/* Worst element by scaled difference |got - ref| / max(1, |ref|) (see PARITY_TOL). */
typedef struct worst {
  double scaled, abs_diff, ref_max;
  int sample, out;
  int64_t at;
  float ref, got;
} worst;

static void run_case(const parity_case *c, const char *models_dir) {
  char path[4096], fpath[4096], msg[512];
  snprintf(path, sizeof path, "%s/%s", models_dir, c->model_file);
  snprintf(fpath, sizeof fpath, "%s/tests/fixtures/%s", EMO_SOURCE_DIR, c->fixture);
  if (!file_exists(path)) {
    printf("%s: SKIPPED: %s absent (run `emo models fetch`)\n", c->name, path);
    return;
  }
  fx_file *fx = NULL;
  int rc = fx_load(fpath, &fx, msg, sizeof msg);
  CHECK(rc == 0, "%s", msg);
  if (rc != 0) return;
  const fx_tensor *info = fx_get(fx, "info");
  if (info && info->dtype == FX_U8)
    printf("%s: reference: %.*s\n", c->name, (int)info->numel, (const char *)info->u8);

  nn_graph *g = NULL;
  emoi_err err = {{0}};
  rc = load_graph(c, path, &g, &err);
  CHECK(rc == EMO_OK, "%s: load failed (%d): %s", c->name, rc, err.msg);
  if (rc != EMO_OK) {
    fx_free(&fx);
    return;
  }
  CHECK(g->n_inputs == 1, "%s: %d graph inputs", c->name, g->n_inputs);

  /* the third plan: XNNPACK with every product on emo's own GEMM (nn/sgemm.c) at the cap */
  const nn_backend backends[3] = {NN_BACKEND_XNNPACK, NN_BACKEND_REFERENCE, NN_BACKEND_XNNPACK};
  const char *labels[3] = {backend_name(NN_BACKEND_XNNPACK), backend_name(NN_BACKEND_REFERENCE),
                           "own-gemm"};
  for (int b = 0; b < 3 && g->n_inputs == 1; b++) {
    nn_plan *plan = NULL;
    /* float plans: the Winograd transforms and the GEMM at the cap */
    const nn_plan_options opt = {.isa = g_cap, .gemm = b == 2 ? NN_GEMM_OWN : NN_GEMM_AUTO};
    rc = nn_plan_create_ex(g, backends[b], NULL, &opt, &plan, &err);
    CHECK(rc == EMO_OK, "%s/%s: plan failed (%d): %s", c->name, labels[b], rc, err.msg);
    if (rc != EMO_OK) continue;
    worst wst = {0, 0, 0, -1, -1, -1, 0, 0};
    int n_samples = 0, n_compared = 0;
    for (int k = 0;; k++) {
      char name[64];
      snprintf(name, sizeof name, "s%d.input", k);
      const fx_tensor *in = fx_get(fx, name);
      if (!in) break;
      snprintf(name, sizeof name, "s%d.map", k);
      const fx_tensor *map = fx_get(fx, name);
      CHECK(map != NULL, "%s: %s missing", c->fixture, name);
      if (!map) break;
      n_samples++;
      const nn_value *iv = &g->values[g->inputs[0]];
      rc = fill_input(iv, in, map, nn_plan_input(plan, 0));
      CHECK(rc == 0,
            "%s: fixture input s%d (%lldx%lldx%lld) does not fit the graph input "
            "(%lld,%lld,%lld,%lld)",
            c->name, k, (long long)in->dims[1], (long long)in->dims[2], (long long)in->dims[3],
            (long long)iv->shape[0], (long long)iv->shape[1], (long long)iv->shape[2],
            (long long)iv->shape[3]);
      if (rc != 0) break;
      rc = nn_plan_run(plan, &err);
      CHECK(rc == EMO_OK, "%s/%s: run failed (%d): %s", c->name, labels[b], rc, err.msg);
      if (rc != EMO_OK) break;
      for (int i = 0; i < g->n_outputs; i++) {
        int j = ref_index(c, g, i);
        snprintf(name, sizeof name, "s%d.out%d", k, j);
        const fx_tensor *ref = fx_get(fx, name);
        const nn_value *ov = &g->values[g->outputs[i]];
        int64_t n = nn_value_numel(ov);
        CHECK(ref && ref->dtype == FX_F32, "%s: %s missing for graph output %d (%s)", c->fixture,
              name, i, ov->name);
        if (!ref || ref->dtype != FX_F32) continue;
        CHECK(ref->numel == n, "%s: output %d (%s) has %lld elements, reference %s has %lld",
              c->name, i, ov->name, (long long)n, name, (long long)ref->numel);
        if (ref->numel != n) continue;
        const float *got = nn_plan_output(plan, i);
        n_compared++;
        for (int64_t e = 0; e < n; e++) {
          double r = fabs((double)ref->f32[e]);
          double d = fabs((double)got[e] - (double)ref->f32[e]);
          if (isnan(d)) d = INFINITY;
          double sd = d / (r > 1.0 ? r : 1.0);
          if (r > wst.ref_max) wst.ref_max = r;
          if (d > wst.abs_diff) wst.abs_diff = d;
          if (sd > wst.scaled || wst.sample < 0) {
            wst.scaled = sd, wst.sample = k, wst.out = i, wst.at = e;
            wst.ref = ref->f32[e], wst.got = got[e];
          }
        }
      }
    }
    CHECK(n_samples > 0 && n_compared > 0, "%s: nothing compared", c->name);
    printf(
        "%s %-9s: %d samples, worst |diff| %.3g, max |ref| %.4g; worst |diff|/max(1,|ref|) "
        "%.3g at s%d.out%d[%lld] (ref %.7g, got %.7g), tolerance %.0e\n",
        c->name, labels[b], n_samples, wst.abs_diff, wst.ref_max, wst.scaled, wst.sample, wst.out,
        (long long)wst.at, wst.ref, wst.got, PARITY_TOL);
    CHECK(wst.scaled <= PARITY_TOL, "%s/%s: worst |diff|/max(1,|ref|) %.3g > %.0e", c->name,
          labels[b], wst.scaled, PARITY_TOL);
    nn_plan_destroy(&plan);
  }
  nn_graph_destroy(&g);
  fx_free(&fx);
}

int main(int argc, char **argv) {
  g_cap = (nn_isa)th_isa_arg(argc, argv);
  emo_model_params p = emo_model_params_default();
  char models_dir[2048];
  if (emo_models_dir(&p, models_dir, sizeof models_dir) != EMO_OK)
    th_skip("model cache path does not fit");
  int present = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", models_dir, cases[i].model_file);
    present += file_exists(path);
  }
  if (!present) th_skip("no model in %s (run `emo models fetch` or set EMO_MODELS)", models_dir);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], models_dir);
  return th_finish("test_parity");
}
