/* test_tfjs.c: the TF.js graph-model reader (nn/tfjs_reader.c) and face-api's expression
 * network (vision/faceapi_expression_net.c).
 *  - hand-made models built here check the layout conversions numerically against a naive
 *    TensorFlow-semantics computation (Conv2D HWIO with SAME padding and stride, depthwise
 *    (Kh,Kw,C,M) with M = 2 from float16 weights, MatMul (In,Out) and transpose_b), and the
 *    weights-manifest decoding (float16, uint8/uint16 affine, int32, two groups);
 *  - malformed inputs (invalid JSON, missing weightsManifest, short shard, shape mismatch,
 *    unknown op, bad base64, huge shapes, dangling input, cycles, escaping shard path, size
 *    cap) must fail with the right status and a message, without crashing;
 *  - the real models from the model cache ($EMO_MODELS or ~/.cache/emo/models: emotion,
 *    facemesh, faceres, blazeface .json/.bin, face_expression_model-weights_manifest.json +
 *    .bin) load with the expected input/output shapes, and emotion and face-api's network
 *    run to a probability distribution on both backends. Models absent from the cache are
 *    skipped with a message; numerical parity with TF.js is tests/test_parity.c's job. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "nn/half.h"
#include "nn/nn.h"
#include "nn/tfjs_reader.h"
#include "vision/faceapi_expression_net.h"

#define B64_BIASADD "Qmlhc0FkZA=="
#define B64_RELU "UmVsdQ=="
#define B64_SAME "U0FNRQ=="
#define B64_VALID "VkFMSUQ="
#define B64_NHWC "TkhXQw=="

/* ---- helpers ---- */

static uint16_t float_to_half_exact(float f) { /* for values exactly representable */
  uint32_t u;
  memcpy(&u, &f, 4);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  if ((u & 0x7fffffff) == 0) return sign;
  int e = (int)((u >> 23) & 0xff) - 127 + 15;
  return (uint16_t)(sign | (e << 10) | ((u >> 13) & 0x3ff));
}

static int load_json(const char *json, const void *shard, size_t shard_size, nn_graph **g,
                     emoi_err *err) {
  const void *sh[1] = {shard};
  size_t sz[1] = {shard_size};
  return nn_tfjs_load_memory(json, strlen(json), sh, sz, 1, "test.json", g, err);
}

static int run_ref(nn_graph *g, const float *const *inputs, nn_plan **out_plan) {
  emoi_err err = {{0}};
  nn_plan *p = NULL;
  int rc = nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &p, &err);
  CHECK(rc == EMO_OK, "plan: %s", err.msg);
  if (rc) return rc;
  for (int i = 0; i < g->n_inputs; i++)
    memcpy(nn_plan_input(p, i), inputs[i],
           (size_t)nn_value_numel(&g->values[g->inputs[i]]) * sizeof(float));
  rc = nn_plan_run(p, &err);
  CHECK(rc == EMO_OK, "run: %s", err.msg);
  *out_plan = p;
  return rc;
}

static int shape_is(const nn_value *v, int rank, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t s[4] = {a, b, c, d};
  if (v->rank != rank) return 0;
  for (int i = 0; i < rank; i++)
    if (v->shape[i] != s[i]) return 0;
  return 1;
}

/* ---- half floats ---- */

static void test_half(void) {
  CHECK(nn_f16_to_f32(0x3c00) == 1.0f, "1.0");
  CHECK(nn_f16_to_f32(0xc000) == -2.0f, "-2.0");
  CHECK(nn_f16_to_f32(0x7bff) == 65504.0f, "max half");
  CHECK(nn_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "smallest subnormal");
  CHECK(nn_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24), "largest subnormal");
  CHECK(nn_f16_to_f32(0x0400) == ldexpf(1.0f, -14), "smallest normal");
  CHECK(isinf(nn_f16_to_f32(0x7c00)) && nn_f16_to_f32(0x7c00) > 0, "+inf");
  CHECK(isnan(nn_f16_to_f32(0x7e00)), "nan");
  CHECK(signbit(nn_f16_to_f32(0x8000)) && nn_f16_to_f32(0x8000) == 0.0f, "-0");
  CHECK(nn_f16_to_f32(0x3555) == 0.333251953125f, "1/3 rounded");
}

/* ---- manifest decoding ---- */

static void test_manifest(void) {
  const char *json =
      "[{\"paths\":[\"a.bin\"],\"weights\":["
      "{\"name\":\"q8\",\"shape\":[3],\"dtype\":\"float32\",\"quantization\":"
      "{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}},"
      "{\"name\":\"q16\",\"shape\":[2],\"dtype\":\"float32\",\"quantization\":"
      "{\"dtype\":\"uint16\",\"scale\":0.25,\"min\":1}}]},"
      "{\"paths\":[\"b.bin\"],\"weights\":["
      "{\"name\":\"i\",\"shape\":[2],\"dtype\":\"int32\"},"
      "{\"name\":\"h\",\"shape\":[1,2],\"dtype\":\"float32\",\"quantization\":{\"dtype\":"
      "\"float16\"}},"
      "{\"name\":\"e\",\"shape\":[0,4],\"dtype\":\"float32\"}]}]";
  /* group 1: u8 0, 2, 255; u16 4, 256 (7 bytes) */
  const unsigned char a[] = {0, 2, 255, 4, 0, 0, 1};
  /* group 2: int32 -7, 9; f16 1.5, -0.25 */
  const unsigned char b[] = {0xf9, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0x00, 0x3e, 0x00, 0xb4};
  cJSON *m = cJSON_Parse(json);
  CHECK(m != NULL, "manifest JSON");
  if (!m) return;
  const void *sh[2] = {a, b};
  size_t sz[2] = {sizeof a, sizeof b};
  nn_tfjs_weights ws;
  emoi_err err = {{0}};
  int rc = nn_tfjs_weights_decode(m, sh, sz, 2, "m.json", &ws, &err);
  CHECK(rc == EMO_OK, "decode: %s", err.msg);
  if (rc == EMO_OK) {
    const nn_tfjs_weight *w = nn_tfjs_weights_find(&ws, "q8");
    CHECK(w && w->dtype == NN_F32 && w->numel == 3, "q8");
    if (w) {
      const float *f = w->data;
      CHECK(f[0] == -1.0f && f[1] == 0.0f && f[2] == 126.5f, "u8 dequant %g %g %g", f[0], f[1],
            f[2]);
    }
    w = nn_tfjs_weights_find(&ws, "q16");
    CHECK(w != NULL, "q16");
    if (w) {
      const float *f = w->data;
      CHECK(f[0] == 2.0f && f[1] == 65.0f, "u16 dequant %g %g", f[0], f[1]);
    }
    w = nn_tfjs_weights_find(&ws, "i");
    CHECK(w && w->dtype == NN_I32, "int32");
    if (w) {
      const int32_t *v = w->data;
      CHECK(v[0] == -7 && v[1] == 9, "int32 %d %d", v[0], v[1]);
    }
    w = nn_tfjs_weights_find(&ws, "h");
    CHECK(w && w->rank == 2 && w->shape[1] == 2, "f16 shape");
    if (w) {
      const float *f = w->data;
      CHECK(f[0] == 1.5f && f[1] == -0.25f, "f16 %g %g", f[0], f[1]);
    }
    w = nn_tfjs_weights_find(&ws, "e");
    CHECK(w && w->numel == 0, "empty weight");
    CHECK(nn_tfjs_weights_find(&ws, "nope") == NULL, "absent name");
    nn_tfjs_weights_free(&ws);
  }
  /* one concatenated buffer gives the same */
  unsigned char cat[sizeof a + sizeof b];
  memcpy(cat, a, sizeof a);
  memcpy(cat + sizeof a, b, sizeof b);
  const void *sh1[1] = {cat};
  size_t sz1[1] = {sizeof cat};
  rc = nn_tfjs_weights_decode(m, sh1, sz1, 1, "m.json", &ws, &err);
  CHECK(rc == EMO_OK, "decode concatenated: %s", err.msg);
  if (rc == EMO_OK) {
    const nn_tfjs_weight *w = nn_tfjs_weights_find(&ws, "h");
    CHECK(w && ((const float *)w->data)[0] == 1.5f, "f16 via concatenation");
    nn_tfjs_weights_free(&ws);
  }
  /* group 1's shard one byte short: the u16 weight crosses into group 2 */
  size_t sz_short[2] = {sizeof a - 1, sizeof b};
  rc = nn_tfjs_weights_decode(m, sh, sz_short, 2, "m.json", &ws, &err);
  CHECK(rc == EMO_EMODEL && strstr(err.msg, "q16"), "short group: %d %s", rc, err.msg);
  /* wrong shard count */
  rc = nn_tfjs_weights_decode(m, sh, sz, 0, "m.json", &ws, &err);
  CHECK(rc == EMO_EMODEL, "no shards: %d %s", rc, err.msg);
  cJSON_Delete(m);
}

/* ---- a hand-made conv model, checked numerically ---- */

static const char *conv_json =
    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
    "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},{\"size\":\"5\"},{\"size\":\"4\"},"
    "{\"size\":\"2\"}]}}}},"
    "{\"name\":\"w\",\"op\":\"Const\",\"attr\":{\"value\":{\"tensor\":{\"dtype\":\"DT_FLOAT\","
    "\"tensorShape\":{\"dim\":[{\"size\":\"3\"},{\"size\":\"3\"},{\"size\":\"2\"},"
    "{\"size\":\"3\"}]}}},\"dtype\":{\"type\":\"DT_FLOAT\"}}},"
    "{\"name\":\"b\",\"op\":\"Const\"},"
    "{\"name\":\"conv\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"w\",\"b\"],\"attr\":{"
    "\"fused_ops\":{\"list\":{\"s\":[\"" B64_BIASADD "\",\"" B64_RELU
    "\"]}},"
    "\"padding\":{\"s\":\"" B64_SAME
    "\"},\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"1\","
    "\"1\"]}},\"data_format\":{\"s\":\"" B64_NHWC
    "\"},\"num_args\":{\"i\":\"1\"},"
    "\"dilations\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},\"explicit_paddings\":"
    "{\"list\":{}}}},"
    "{\"name\":\"dw\",\"op\":\"Const\"},"
    "{\"name\":\"dconv\",\"op\":\"DepthwiseConv2dNative\",\"input\":[\"x:0\",\"dw\"],"
    "\"attr\":{\"padding\":{\"s\":\"" B64_VALID
    "\"},\"strides\":{\"list\":{\"i\":[\"1\","
    "\"1\",\"1\",\"1\"]}}}},"
    "{\"name\":\"out_conv\",\"op\":\"Identity\",\"input\":[\"conv\"]},"
    "{\"name\":\"out_dw\",\"op\":\"Identity\",\"input\":[\"dconv\",\"^conv\"]}"
    "]},\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
    "{\"name\":\"w\",\"shape\":[3,3,2,3],\"dtype\":\"float32\"},"
    "{\"name\":\"b\",\"shape\":[3],\"dtype\":\"float32\"},"
    "{\"name\":\"dw\",\"shape\":[3,3,2,2],\"dtype\":\"float32\",\"quantization\":"
    "{\"dtype\":\"float16\",\"original_dtype\":\"float32\"}}]}]}";

#define CW_N (3 * 3 * 2 * 3)
#define CDW_N (3 * 3 * 2 * 2)

static void conv_weights(float *w, float *b, float *dw) {
  unsigned st = 7;
  for (int i = 0; i < CW_N; i++) w[i] = th_randf(&st, -1.0f, 1.0f);
  for (int i = 0; i < 3; i++) b[i] = th_randf(&st, -0.5f, 0.5f);
  for (int i = 0; i < CDW_N; i++) dw[i] = (float)((i * 7) % 17 - 8) / 8.0f; /* exact in f16 */
}

static void test_conv_model(void) {
  float w[CW_N], b[3], dw[CDW_N];
  conv_weights(w, b, dw);
  unsigned char shard[CW_N * 4 + 12 + CDW_N * 2];
  memcpy(shard, w, sizeof w); /* little-endian host */
  memcpy(shard + sizeof w, b, sizeof b);
  for (int i = 0; i < CDW_N; i++) {
    uint16_t h = float_to_half_exact(dw[i]);
    shard[sizeof w + sizeof b + 2 * i] = (unsigned char)(h & 0xff);
    shard[sizeof w + sizeof b + 2 * i + 1] = (unsigned char)(h >> 8);
  }
  nn_graph *g = NULL;
  emoi_err err = {{0}};
  int rc = load_json(conv_json, shard, sizeof shard, &g, &err);
  CHECK(rc == EMO_OK, "conv model: %s", err.msg);
  if (rc) return;
  CHECK(g->n_inputs == 1 && shape_is(&g->values[g->inputs[0]], 4, 1, 5, 4, 2), "input shape");
  CHECK(g->n_outputs == 2, "2 outputs, got %d", g->n_outputs);
  if (g->n_outputs == 2) {
    CHECK(shape_is(&g->values[g->outputs[0]], 4, 1, 3, 4, 3), "conv out shape");
    CHECK(shape_is(&g->values[g->outputs[1]], 4, 1, 3, 2, 4), "dw out shape");
    CHECK(strcmp(g->values[g->outputs[0]].name, "conv") == 0, "output named after its node");
  }
  /* weights were converted: OHWI for the conv */
  int wc = nn_graph_find(g, "w/ohwi");
  CHECK(wc >= 0 && shape_is(&g->values[wc], 4, 3, 3, 3, 2), "OHWI filter");
  int wd = nn_graph_find(g, "dw/dw");
  CHECK(wd >= 0 && shape_is(&g->values[wd], 4, 1, 3, 3, 4), "depthwise filter");

  float x[5 * 4 * 2];
  unsigned st = 3;
  for (int i = 0; i < 40; i++) x[i] = th_randf(&st, -1.0f, 1.0f);
  const float *ins[1] = {x};
  nn_plan *p = NULL;
  if (g->n_outputs == 2 && run_ref(g, ins, &p) == EMO_OK) {
    const float *oc = nn_plan_output(p, 0), *od = nn_plan_output(p, 1);
    double worst = 0;
    /* TF SAME, stride (2,1): pad top 1, left 1 */
    for (int oy = 0; oy < 3; oy++)
      for (int ox = 0; ox < 4; ox++)
        for (int o = 0; o < 3; o++) {
          double s = b[o];
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
              int iy = oy * 2 + ky - 1, ix = ox + kx - 1;
              if (iy < 0 || iy >= 5 || ix < 0 || ix >= 4) continue;
              for (int i = 0; i < 2; i++)
                s += x[(iy * 4 + ix) * 2 + i] * w[((ky * 3 + kx) * 2 + i) * 3 + o];
            }
          if (s < 0) s = 0;
          double d = fabs(s - oc[(oy * 4 + ox) * 3 + o]);
          if (d > worst) worst = d;
        }
    CHECK(worst < 1e-5, "conv vs naive: worst %g", worst);
    worst = 0;
    for (int oy = 0; oy < 3; oy++)
      for (int ox = 0; ox < 2; ox++)
        for (int c = 0; c < 2; c++)
          for (int m = 0; m < 2; m++) {
            double s = 0;
            for (int ky = 0; ky < 3; ky++)
              for (int kx = 0; kx < 3; kx++)
                s += x[((oy + ky) * 4 + ox + kx) * 2 + c] * dw[((ky * 3 + kx) * 2 + c) * 2 + m];
            double d = fabs(s - od[(oy * 2 + ox) * 4 + c * 2 + m]);
            if (d > worst) worst = d;
          }
    CHECK(worst < 1e-5, "depthwise vs naive: worst %g", worst);
    printf("conv model: naive comparisons done\n");
  }
  nn_plan_destroy(&p);
  nn_graph_destroy(&g);
}

/* ---- MatMul (In,Out) and transpose_b, with Mean, Reshape, Prelu, Pad, ConcatV2 ---- */

static const char *ops_json_fmt =
    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["
    "{\"size\":\"-1\"},{\"size\":\"2\"},{\"size\":\"1\"},{\"size\":\"3\"}]}}}},"
    "{\"name\":\"axes\",\"op\":\"Const\"},{\"name\":\"shp\",\"op\":\"Const\"},"
    "{\"name\":\"pads\",\"op\":\"Const\"},{\"name\":\"cax\",\"op\":\"Const\"},"
    "{\"name\":\"alpha\",\"op\":\"Const\"},"
    "{\"name\":\"mw\",\"op\":\"Const\"},{\"name\":\"mb\",\"op\":\"Const\"},"
    /* mean over H and W with keep_dims: (1,1,1,3) -> reshape (-1, 3) */
    "{\"name\":\"mean\",\"op\":\"Mean\",\"input\":[\"x\",\"axes\"],\"attr\":{\"keep_dims\":"
    "{\"b\":true}}},"
    "{\"name\":\"flat\",\"op\":\"Reshape\",\"input\":[\"mean\",\"shp\"]},"
    "{\"name\":\"pr\",\"op\":\"Prelu\",\"input\":[\"flat\",\"alpha\"]},"
    /* pad (0,0),(1,0): (1,3) -> (1,4) */
    "{\"name\":\"padded\",\"op\":\"Pad\",\"input\":[\"pr\",\"pads\"]},"
    /* concat [(1,3), (1,4)] on axis -1 -> (1,7) */
    "{\"name\":\"cat\",\"op\":\"ConcatV2\",\"input\":[\"pr\",\"padded\",\"cax\"],\"attr\":"
    "{\"N\":{\"i\":\"2\"}}},"
    "{\"name\":\"fc\",\"op\":\"_FusedMatMul\",\"input\":[\"cat\",\"mw\",\"mb\"],\"attr\":{"
    "\"fused_ops\":{\"list\":{\"s\":[\"" B64_BIASADD
    "\"]}},\"transpose_a\":{\"b\":false},"
    "\"transpose_b\":{\"b\":%s}}},"
    "{\"name\":\"sm\",\"op\":\"Softmax\",\"input\":[\"fc\"]}"
    "]},\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
    "{\"name\":\"axes\",\"shape\":[2],\"dtype\":\"int32\"},"
    "{\"name\":\"shp\",\"shape\":[2],\"dtype\":\"int32\"},"
    "{\"name\":\"pads\",\"shape\":[2,2],\"dtype\":\"int32\"},"
    "{\"name\":\"cax\",\"shape\":[],\"dtype\":\"int32\"},"
    "{\"name\":\"alpha\",\"shape\":[1,3],\"dtype\":\"float32\"},"
    "{\"name\":\"mw\",\"shape\":[%s],\"dtype\":\"float32\"},"
    "{\"name\":\"mb\",\"shape\":[2],\"dtype\":\"float32\"}]}],"
    "\"signature\":{\"outputs\":{\"probs\":{\"name\":\"sm:0\"},\"logits\":{\"name\":\"fc\"}}}}";

/* ---- No signature: the outputs are the unconsumed nodes, in file order ---- */

static void test_no_signature(void) {
  static const char *json =
      "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
      "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["
      "{\"size\":\"1\"},{\"size\":\"3\"}]}}}},"
      "{\"name\":\"r\",\"op\":\"Relu\",\"input\":[\"x\"]},"
      "{\"name\":\"s\",\"op\":\"Sigmoid\",\"input\":[\"x\"]},"
      "{\"name\":\"rs\",\"op\":\"Softmax\",\"input\":[\"r\"]}"
      "]},\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":[]}]}";
  nn_graph *g = NULL;
  emoi_err err = {{0}};
  int rc = load_json(json, "", 0, &g, &err);
  CHECK(rc == EMO_OK, "no-signature model: %s", err.msg);
  if (rc) return;
  /* r is consumed by rs: the outputs are s and rs, in the order of the file */
  CHECK(g->n_outputs == 2, "no-signature model: %d outputs, expected 2", g->n_outputs);
  if (g->n_outputs == 2) {
    const nn_value *a = &g->values[g->outputs[0]], *b = &g->values[g->outputs[1]];
    CHECK(a->name && strcmp(a->name, "s") == 0, "output 0 is '%s', expected 's'", a->name);
    CHECK(b->name && strcmp(b->name, "rs") == 0, "output 1 is '%s', expected 'rs'", b->name);
    const float x[3] = {-1.0f, 0.0f, 2.0f};
    const float *ins[1] = {x};
    nn_plan *p = NULL;
    if (run_ref(g, ins, &p) == EMO_OK) {
      const float *o0 = nn_plan_output(p, 0), *o1 = nn_plan_output(p, 1);
      double e = exp(2.0), worst = 0;
      const double want0[3] = {1 / (1 + exp(1.0)), 0.5, 1 / (1 + exp(-2.0))};
      const double want1[3] = {1 / (2 + e), 1 / (2 + e), e / (2 + e)};
      for (int i = 0; i < 3; i++)
        worst = fmax(worst, fmax(fabs(o0[i] - want0[i]), fabs(o1[i] - want1[i])));
      CHECK(worst < 1e-6, "no-signature model: worst difference %g", worst);
    }
    nn_plan_destroy(&p);
  }
  nn_graph_destroy(&g);
}

static void test_ops_model(int transpose_b) {
  char json[6000];
  snprintf(json, sizeof json, ops_json_fmt, transpose_b ? "true" : "false",
           transpose_b ? "2,7" : "7,2");
  const int32_t axes[2] = {1, 2}, shp[2] = {-1, 3}, pads[4] = {0, 0, 1, 0}, cax = -1;
  const float alpha[3] = {0.5f, -1.0f, 2.0f}, mb[2] = {0.25f, -0.5f};
  float mw[14]; /* logical W[i][o], i < 7, o < 2 */
  for (int i = 0; i < 7; i++)
    for (int o = 0; o < 2; o++) mw[transpose_b ? o * 7 + i : i * 2 + o] = (float)(i - 3 * o) / 4.f;
  unsigned char shard[8 + 8 + 16 + 4 + 12 + 56 + 8];
  size_t off = 0;
#define PUT(p, n) (memcpy(shard + off, (p), (n)), off += (n))
  PUT(axes, 8);
  PUT(shp, 8);
  PUT(pads, 16);
  PUT(&cax, 4);
  PUT(alpha, 12);
  PUT(mw, 56);
  PUT(mb, 8);
#undef PUT
  nn_graph *g = NULL;
  emoi_err err = {{0}};
  int rc = load_json(json, shard, off, &g, &err);
  CHECK(rc == EMO_OK, "ops model (transpose_b %d): %s", transpose_b, err.msg);
  if (rc) return;
  CHECK(g->n_outputs == 2, "signature outputs");
  CHECK(shape_is(&g->values[g->outputs[0]], 2, 1, 2, 0, 0), "probs shape");
  CHECK(shape_is(&g->values[g->outputs[1]], 2, 1, 2, 0, 0), "logits shape");
  const float x[6] = {1, -2, 3, 3, 2, -5}; /* (1,2,1,3) */
  const float *ins[1] = {x};
  nn_plan *p = NULL;
  if (run_ref(g, ins, &p) == EMO_OK) {
    /* mean over H: (2, 0, -1); prelu: (2, 0, -1*2 = -2); cat = (2,0,-2, 0,2,0,-2) */
    const float cat[7] = {2, 0, -2, 0, 2, 0, -2};
    float logit[2];
    for (int o = 0; o < 2; o++) {
      double s = mb[o];
      for (int i = 0; i < 7; i++) s += cat[i] * (double)(i - 3 * o) / 4.0;
      logit[o] = (float)s;
    }
    const float *pl = nn_plan_output(p, 1), *pp = nn_plan_output(p, 0);
    CHECK(fabsf(pl[0] - logit[0]) < 1e-5f && fabsf(pl[1] - logit[1]) < 1e-5f,
          "logits %g %g, expected %g %g", pl[0], pl[1], logit[0], logit[1]);
    float e0 = expf(logit[0]), e1 = expf(logit[1]);
    CHECK(fabsf(pp[0] - e0 / (e0 + e1)) < 1e-6f && fabsf(pp[0] + pp[1] - 1.0f) < 1e-6f,
          "softmax %g %g", pp[0], pp[1]);
  }
  nn_plan_destroy(&p);
  nn_graph_destroy(&g);
}

/* ---- malformed models ---- */

static const char *tiny_fmt =
    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["
    "{\"size\":\"1\"},{\"size\":\"4\"}]}}}},"
    "{\"name\":\"c\",\"op\":\"Const\"%s},"
    "%s"
    "]}%s}";
static const char *tiny_manifest =
    ",\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
    "{\"name\":\"c\",\"shape\":[4],\"dtype\":\"float32\"}]}]";

static void expect_fail(const char *what, const char *json, size_t shard_size, int code,
                        const char *needle) {
  static const unsigned char zeros[64];
  nn_graph *g = NULL;
  emoi_err err = {{0}};
  int rc = load_json(json, zeros, shard_size, &g, &err);
  CHECK(rc == code, "%s: status %d, expected %d (%s)", what, rc, code, err.msg);
  CHECK(g == NULL, "%s: no graph on failure", what);
  CHECK(err.msg[0] != 0, "%s: a message", what);
  CHECK(!needle || strstr(err.msg, needle), "%s: message '%s' lacks '%s'", what, err.msg, needle);
  nn_graph_destroy(&g);
}

static void test_malformed(void) {
  char j[4096];
  /* the well-formed baseline */
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           tiny_manifest);
  {
    static const unsigned char zeros[16];
    nn_graph *g = NULL;
    emoi_err err = {{0}};
    int rc = load_json(j, zeros, 16, &g, &err);
    CHECK(rc == EMO_OK, "baseline: %s", err.msg);
    CHECK(g && g->n_outputs == 1 && shape_is(&g->values[g->outputs[0]], 2, 1, 4, 0, 0),
          "baseline output");
    nn_graph_destroy(&g);
  }
  expect_fail("invalid JSON", "{\"format\": \"graph-model\", ", 16, EMO_EMODEL, "JSON");
  expect_fail("not an object", "[1,2]", 16, EMO_EMODEL, NULL);
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           "");
  expect_fail("missing weightsManifest", j, 16, EMO_EMODEL, "weightsManifest");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           tiny_manifest);
  expect_fail("shard too short", j, 15, EMO_EMODEL, "'c'");
  snprintf(j, sizeof j, tiny_fmt,
           ",\"attr\":{\"value\":{\"tensor\":{\"dtype\":\"DT_FLOAT\",\"tensorShape\":{\"dim\":"
           "[{\"size\":\"5\"}]}}}}",
           "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}", tiny_manifest);
  expect_fail("weight shape mismatch", j, 16, EMO_EMODEL, "tensorShape");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"y\",\"op\":\"FancyNewOp\",\"input\":[\"x\",\"c\"]}", tiny_manifest);
  expect_fail("unknown op", j, 16, EMO_EUNSUPPORTED, "FancyNewOp");
  CHECK(strstr(j, "FancyNewOp") != NULL, "setup");
  {
    nn_graph *g = NULL;
    emoi_err err = {{0}};
    static const unsigned char zeros[16];
    load_json(j, zeros, 16, &g, &err);
    CHECK(strstr(err.msg, "'y'") && strstr(err.msg, "test.json"),
          "unknown op names node and file: %s", err.msg);
  }
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"y\",\"op\":\"MaxPool\",\"input\":[\"x\"],\"attr\":{\"padding\":"
           "{\"s\":\"U0F!RQ==\"},\"ksize\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}}}}",
           tiny_manifest);
  expect_fail("bad base64", j, 16, EMO_EMODEL, "padding");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
           "{\"name\":\"c\",\"shape\":[100000,100000,100000],\"dtype\":\"float32\"}]}]");
  expect_fail("huge shape", j, 16, EMO_EMODEL, "shape");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
           "{\"name\":\"c\",\"shape\":[4, -1],\"dtype\":\"float32\"}]}]");
  expect_fail("negative dim", j, 16, EMO_EMODEL, "shape");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"ghost\"]}", tiny_manifest);
  expect_fail("input names a missing node", j, 16, EMO_EMODEL, "ghost");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"a\",\"op\":\"AddV2\",\"input\":[\"x\",\"b\"]},"
           "{\"name\":\"b\",\"op\":\"Relu\",\"input\":[\"a\"]},"
           "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"a\"]}",
           tiny_manifest);
  expect_fail("cycle", j, 16, EMO_EMODEL, "cycle");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"i1\",\"op\":\"Identity\",\"input\":[\"i2\"]},"
           "{\"name\":\"i2\",\"op\":\"Identity\",\"input\":[\"i1\"]},"
           "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"i1\"]}",
           tiny_manifest);
  expect_fail("Identity cycle", j, 16, EMO_EMODEL, "cycle");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x:1\",\"c\"]}",
           tiny_manifest);
  expect_fail("output index 1", j, 16, EMO_EUNSUPPORTED, "x:1");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]},"
           "{\"name\":\"y\",\"op\":\"Relu\",\"input\":[\"x\"]}",
           tiny_manifest);
  expect_fail("duplicate node", j, 16, EMO_EMODEL, "duplicate");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"y\",\"op\":\"Conv2D\",\"input\":[\"x\",\"x\"],\"attr\":{\"padding\":"
           "{\"s\":\"" B64_SAME "\"}}}",
           tiny_manifest);
  expect_fail("non-constant filter", j, 16, EMO_EUNSUPPORTED, "constant");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
           "{\"name\":\"c\",\"shape\":[4],\"dtype\":\"float32\",\"quantization\":{\"dtype\":"
           "\"uint8\"}}]}]");
  expect_fail("uint8 without scale", j, 16, EMO_EMODEL, "scale");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
           "{\"name\":\"c\",\"shape\":[4],\"dtype\":\"complex64\"}]}]");
  expect_fail("bad dtype", j, 16, EMO_EUNSUPPORTED, "complex64");
  expect_fail("layers-model", "{\"format\":\"layers-model\"}", 16, EMO_EUNSUPPORTED, "format");
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":[]}]");
  expect_fail("Const without weight", j, 16, EMO_EMODEL, "weightsManifest");
  snprintf(j, sizeof j, tiny_fmt, "",
           "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}],\"extra\":[[[[[[[[",
           tiny_manifest);
  expect_fail("truncated nesting", j, 16, EMO_EMODEL, "JSON");
  /* NULL / empty arguments */
  {
    nn_graph *g = NULL;
    emoi_err err = {{0}};
    CHECK(nn_tfjs_load_memory(NULL, 0, NULL, NULL, 0, NULL, &g, &err) == EMO_EMODEL && !g,
          "empty input: %s", err.msg);
  }
}

/* ---- files: relative shards, escaping paths, size caps ---- */

static int write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  return fclose(f) == 0 && w == n ? 0 : -1;
}

static void test_files(void) {
  char dir[] = "/tmp/emo_test_tfjs_XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(0, "mkdtemp failed");
    return;
  }
  char jp[256], bp[256], sub[256], ep[256];
  snprintf(sub, sizeof sub, "%s/w", dir);
  mkdir(sub, 0700);
  snprintf(jp, sizeof jp, "%s/model.json", dir);
  snprintf(bp, sizeof bp, "%s/w/m.bin", dir);
  snprintf(ep, sizeof ep, "%s/evil.json", dir);
  char j[4096];
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"w/m.bin\"],\"weights\":["
           "{\"name\":\"c\",\"shape\":[4],\"dtype\":\"float32\"}]}]");
  const float c[4] = {1, 2, 3, 4};
  CHECK(write_file(jp, j, strlen(j)) == 0 && write_file(bp, c, sizeof c) == 0, "write files");
  nn_graph *g = NULL;
  emoi_err err = {{0}};
  int rc = nn_tfjs_load(jp, 1 << 20, &g, &err);
  CHECK(rc == EMO_OK, "load from files: %s", err.msg);
  if (g) {
    int id = nn_graph_find(g, "c");
    const float *d = id >= 0 ? nn_graph_const_data(g, id) : NULL;
    CHECK(d && d[0] == 1 && d[3] == 4, "constant bytes from the shard file");
  }
  nn_graph_destroy(&g);
  rc = nn_tfjs_load(jp, 100, &g, &err);
  CHECK(rc == EMO_ELIMIT && !g, "json over the cap: %d %s", rc, err.msg);
  nn_graph_destroy(&g);
  float big[1024] = {1, 2, 3, 4}; /* a 4 KiB shard: only its first 16 bytes are used */
  CHECK(write_file(bp, big, sizeof big) == 0, "write big shard");
  rc = nn_tfjs_load(jp, 2048, &g, &err);
  CHECK(rc == EMO_ELIMIT && !g, "shard over the cap: %d %s", rc, err.msg);
  nn_graph_destroy(&g);
  rc = nn_tfjs_load(jp, 8192, &g, &err);
  CHECK(rc == EMO_OK, "shard with unused tail: %d %s", rc, err.msg);
  nn_graph_destroy(&g);
  snprintf(j, sizeof j, tiny_fmt, "", "{\"name\":\"y\",\"op\":\"AddV2\",\"input\":[\"x\",\"c\"]}",
           ",\"weightsManifest\":[{\"paths\":[\"../etc/passwd\"],\"weights\":["
           "{\"name\":\"c\",\"shape\":[4],\"dtype\":\"float32\"}]}]");
  CHECK(write_file(ep, j, strlen(j)) == 0, "write evil");
  rc = nn_tfjs_load(ep, 0, &g, &err);
  CHECK(rc == EMO_EMODEL && !g, "escaping shard path: %d %s", rc, err.msg);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/none.json", dir);
  rc = nn_tfjs_load(missing, 0, &g, &err);
  CHECK(rc == EMO_EIO && !g, "missing file: %d %s", rc, err.msg);
  rc = fe_faceapi_net_load(jp, 0, &g, &err);
  CHECK(rc == EMO_EMODEL && !g && strstr(err.msg, "manifest"),
        "face-api loader on a graph model: %d %s", rc, err.msg);
  remove(jp);
  remove(bp);
  remove(ep);
  rmdir(sub);
  rmdir(dir);
}

/* ---- real models ---- */

static const char *models_dir(void) {
  static char buf[2048];
  const char *e = getenv("EMO_MODELS");
  if (e && *e) return e;
  const char *h = getenv("HOME");
  if (!h) return NULL;
  snprintf(buf, sizeof buf, "%s/.cache/emo/models", h);
  return buf;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct io_spec {
  int rank;
  int64_t s[4];
} io_spec;

static int check_probs(const float *o, int n, const char *what) {
  double sum = 0;
  int ok = 1;
  for (int i = 0; i < n; i++) {
    if (!(o[i] >= 0.0f && o[i] <= 1.0f)) ok = 0;
    sum += o[i];
  }
  CHECK(ok && fabs(sum - 1.0) < 1e-5, "%s: probabilities sum to %.7f", what, sum);
  return ok;
}

/* Runs g on a constant input with both backends; checks a distribution over n classes and
 * that the two backends agree. */
static void run_both(nn_graph *g, float value, int n, const char *what) {
  float ref[64], xnn[64];
  for (int b = 0; b < 2; b++) {
    nn_backend be = b ? NN_BACKEND_XNNPACK : NN_BACKEND_REFERENCE;
    emoi_err err = {{0}};
    nn_plan *p = NULL;
    int rc = nn_plan_create(g, be, NULL, &p, &err);
    CHECK(rc == EMO_OK, "%s: plan %d: %s", what, b, err.msg);
    if (rc) continue;
    float *in = nn_plan_input(p, 0);
    int64_t ne = nn_value_numel(&g->values[g->inputs[0]]);
    for (int64_t i = 0; i < ne; i++) in[i] = value;
    rc = nn_plan_run(p, &err);
    CHECK(rc == EMO_OK, "%s: run %d: %s", what, b, err.msg);
    if (rc == EMO_OK) {
      const float *o = nn_plan_output(p, 0);
      memcpy(b ? xnn : ref, o, (size_t)n * sizeof(float));
      check_probs(o, n, what);
    }
    nn_plan_destroy(&p);
  }
  double worst = 0;
  for (int i = 0; i < n; i++) { /* not fmax: that reduction crashes GCC 12's aarch64 vectoriser */
    double d = fabs(ref[i] - xnn[i]);
    if (d > worst) worst = d;
  }
  CHECK(worst < 1e-4, "%s: reference vs XNNPACK worst %g", what, worst);
  printf("%s: probs", what);
  for (int i = 0; i < n; i++) printf(" %.4f", ref[i]);
  printf(" (xnnpack worst diff %.2g)\n", worst);
}

static void test_real_models(int *loaded) {
  const char *dir = models_dir();
  static const struct {
    const char *file;
    io_spec in;
    int n_out;
    io_spec out[4];
  } cases[] = {
      {"emotion.json", {4, {1, 64, 64, 1}}, 1, {{2, {1, 7}}}},
      /* signature order: output_mesh, output_faceflag, output_contours */
      {"facemesh.json", {4, {1, 192, 192, 3}}, 3, {{2, {1, 1404}}, {2, {1, 1}}, {2, {1, 266}}}},
      /* signature order: gender, global_pooling, age */
      {"faceres.json", {4, {1, 224, 224, 3}}, 3, {{2, {1, 1}}, {2, {1, 1024}}, {2, {1, 100}}}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", cases[k].file);
    if (!dir || !exists(path)) {
      printf("%s: SKIPPED: %s absent from the model cache (run `emo models fetch`)\n",
             cases[k].file, path);
      continue;
    }
    nn_graph *g = NULL;
    emoi_err err = {{0}};
    int rc = nn_tfjs_load(path, 64 << 20, &g, &err);
    CHECK(rc == EMO_OK, "%s: %s", cases[k].file, err.msg);
    if (rc) continue;
    (*loaded)++;
    const io_spec *is = &cases[k].in;
    CHECK(g->n_inputs == 1 &&
              shape_is(&g->values[g->inputs[0]], is->rank, is->s[0], is->s[1], is->s[2], is->s[3]),
          "%s: input shape", cases[k].file);
    CHECK(g->n_outputs == cases[k].n_out, "%s: %d outputs, expected %d", cases[k].file,
          g->n_outputs, cases[k].n_out);
    for (int i = 0; i < g->n_outputs && i < cases[k].n_out; i++) {
      const io_spec *os = &cases[k].out[i];
      const nn_value *v = &g->values[g->outputs[i]];
      int ok = shape_is(v, os->rank, os->s[0], os->s[1], os->s[2], os->s[3]);
      CHECK(ok, "%s: output %d '%s' has rank %d shape (%lld,%lld,%lld)", cases[k].file, i, v->name,
            v->rank, (long long)v->shape[0], (long long)v->shape[1],
            (long long)(v->rank > 2 ? v->shape[2] : 0));
    }
    printf("%s: %d nodes, %d values, %zu weight bytes\n", cases[k].file, g->n_nodes, g->n_values,
           g->blob_size);
    if (k == 0) run_both(g, 0.25f, 7, "emotion (constant 0.25)");
    nn_graph_destroy(&g);
  }

  char path[4096];
  snprintf(path, sizeof path, "%s/face_expression_model-weights_manifest.json", dir ? dir : ".");
  if (!dir || !exists(path)) {
    printf("face-api expression: SKIPPED: %s absent from the model cache\n", path);
    return;
  }
  nn_graph *g = NULL;
  emoi_err err = {{0}};
  int rc = fe_faceapi_net_load(path, 64 << 20, &g, &err);
  CHECK(rc == EMO_OK, "face-api expression: %s", err.msg);
  if (rc) return;
  (*loaded)++;
  CHECK(g->n_inputs == 1 && shape_is(&g->values[g->inputs[0]], 4, 1, 112, 112, 3),
        "face-api input");
  CHECK(g->n_outputs == 1 && shape_is(&g->values[g->outputs[0]], 2, 1, 7, 0, 0), "face-api output");
  printf("face-api expression: %d nodes, %zu weight bytes\n", g->n_nodes, g->blob_size);
  run_both(g, 128.0f, 7, "face-api expression (constant 128)");
  nn_graph_destroy(&g);

  /* A truncated .bin must fail cleanly. */
  size_t jn = 0, bn = 0;
  unsigned char *js = th_read_file(path, &jn);
  char bpath[4096];
  snprintf(bpath, sizeof bpath, "%s/face_expression_model.bin", dir);
  unsigned char *bin = th_read_file(bpath, &bn);
  if (js && bin && bn > 100) {
    const void *sh[1] = {bin};
    size_t sz[1] = {bn - 100};
    rc = fe_faceapi_net_load_memory((const char *)js, jn, sh, sz, 1, "fa", &g, &err);
    CHECK(rc == EMO_EMODEL && !g, "face-api truncated: %d %s", rc, err.msg);
  }
  free(js);
  free(bin);
}

int main(void) {
  test_half();
  test_manifest();
  test_conv_model();
  test_ops_model(0);
  test_ops_model(1);
  test_no_signature();
  test_malformed();
  test_files();
  int loaded = 0;
  test_real_models(&loaded);
  printf("real models loaded: %d\n", loaded);
  return th_finish("test_tfjs");
}
