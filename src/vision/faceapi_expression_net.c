/* faceapi_expression_net.c: face-api's face expression network rebuilt as an nn_graph from its
 * weights (see faceapi_expression_net.h for the input and output contract).
 *
 * Architecture, as read in @vladmandic/face-api 1.7.15's src/ (faceExpressionNet/,
 * faceFeatureExtractor/, faceProcessor/, common/; our own C, no code copied):
 *   x (1,112,112,3) RGB in [0,255]
 *   n = (x - [122.782, 117.001, 104.298]) / 255              ops/normalize.ts + .div(255)
 *   dense0..dense3 = denseBlock4 with 32, 64, 128, 256 channels (denseBlock.ts):
 *     out1 = relu(conv0(x))   conv0 stride 2 'same': dense0 a plain 3x3 conv + bias,
 *                             the others a separable conv (depthwise 3x3 + pointwise 1x1 + bias)
 *     out2 = sep(out1)                                   every sep: stride 1, 'same'
 *     out3 = sep(relu(out1 + out2))
 *     out4 = sep(relu(out1 + (out2 + out3)))
 *     out  = relu(out1 + (out2 + (out3 + out4)))
 *   avgPool 7x7 stride 2 'valid'  (7x7x256 -> 1x1x256)        FaceFeatureExtractor.ts
 *   fc: matMul (256 -> 7) + bias, then softmax              fullyConnectedLayer.ts,
 *                                                           FaceExpressionNet.forwardInput
 * separableConv2d = depthwise conv (stride, 'same') then 1x1 conv (stride 1, 'valid'), both
 * without bias; the bias is added after, which equals the pointwise conv's bias here.
 * Weights (uint8-quantized in the .bin) are named dense{i}/conv0/filters|bias (dense0),
 * dense{i}/conv{j}/depthwise_filter|pointwise_filter|bias, fc/weights|bias.
 * Class order: neutral, happy, sad, angry, fearful, disgusted, surprised
 * (faceExpressionNet/FaceExpressions.ts FACE_EXPRESSION_LABELS). */
#include "vision/faceapi_expression_net.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "nn/tfjs_reader.h"

static const float faceapi_mean_rgb[3] = {122.782f, 117.001f, 104.298f};

typedef struct fa_ctx {
  nn_graph *g;
  const nn_tfjs_weights *ws;
  const char *src;
  emoi_err *err;
} fa_ctx;

/* Adds weight `name` (expected shape shape[0..rank)) in the given layout; negative status on
 * absence or mismatch. */
static int fa_weight(fa_ctx *c, const char *name, int rank, const int64_t *shape,
                     nn_tfjs_layout layout) {
  const nn_tfjs_weight *w = nn_tfjs_weights_find(c->ws, name);
  if (!w) return emoi_fail(c->err, EMO_EMODEL, "%s: weight '%s' is missing", c->src, name);
  int ok = w->rank == rank && w->dtype == NN_F32;
  for (int i = 0; ok && i < rank; i++) ok = w->shape[i] == shape[i];
  if (!ok) {
    char want[96], got[96];
    nn_dims_str(want, sizeof want, shape, rank);
    nn_dims_str(got, sizeof got, w->shape, w->rank);
    return emoi_fail(c->err, EMO_EMODEL, "%s: weight '%s' has shape (%s)%s, expected (%s) float32",
                     c->src, name, got, w->dtype == NN_F32 ? "" : " int32", want);
  }
  return nn_tfjs_add_weight(c->g, w, layout, c->err);
}

static int fa_value(fa_ctx *c, const char *name) {
  return nn_graph_add_value(c->g, name, NN_F32, 0, NULL, c->err);
}

static int fa_node(fa_ctx *c, nn_op op, const int *in, int n_in, int out, const nn_attr *a,
                   const char *name) {
  int r = nn_graph_add_node(c->g, op, in, n_in, &out, 1, a, name, c->err);
  return r < 0 ? r : out;
}

/* relu(a + b) or a + b: returns the output value id or a negative status. */
static int fa_add(fa_ctx *c, int a, int b, int relu, const char *name) {
  char nm[128];
  snprintf(nm, sizeof nm, "%s%s", name, relu ? "/sum" : "");
  int s = fa_value(c, nm);
  if (s < 0) return s;
  int in[2] = {a, b};
  if ((s = fa_node(c, NN_OP_ADD, in, 2, s, NULL, nm)) < 0 || !relu) return s;
  int r = fa_value(c, name);
  if (r < 0) return r;
  return fa_node(c, NN_OP_RELU, &s, 1, r, NULL, name);
}

/* Separable conv `prefix` (depthwise 3x3 cin, pointwise cin -> cout, bias), stride s,
 * optionally with a fused ReLU. */
static int fa_sep(fa_ctx *c, int x, const char *prefix, int64_t cin, int64_t cout, int s,
                  int relu) {
  char nm[128];
  const int64_t dws[4] = {3, 3, cin, 1}, pws[4] = {1, 1, cin, cout}, bs[1] = {cout};
  snprintf(nm, sizeof nm, "%s/depthwise_filter", prefix);
  int dw = fa_weight(c, nm, 4, dws, NN_TFJS_DEPTHWISE);
  if (dw < 0) return dw;
  snprintf(nm, sizeof nm, "%s/pointwise_filter", prefix);
  int pw = fa_weight(c, nm, 4, pws, NN_TFJS_OHWI);
  if (pw < 0) return pw;
  snprintf(nm, sizeof nm, "%s/bias", prefix);
  int b = fa_weight(c, nm, 1, bs, NN_TFJS_RAW);
  if (b < 0) return b;

  nn_attr a = nn_attr_default();
  a.stride_h = a.stride_w = s;
  a.padding = NN_PAD_SAME;
  snprintf(nm, sizeof nm, "%s/depthwise", prefix);
  int d = fa_value(c, nm);
  if (d < 0) return d;
  int in[3] = {x, dw, -1};
  if ((d = fa_node(c, NN_OP_DEPTHWISE_CONV2D, in, 2, d, &a, nm)) < 0) return d;

  nn_attr p = nn_attr_default(); /* 1x1, stride 1, VALID */
  if (relu) p.act_min = 0.0f;
  int o = fa_value(c, prefix);
  if (o < 0) return o;
  in[0] = d;
  in[1] = pw;
  in[2] = b;
  return fa_node(c, NN_OP_CONV2D, in, 3, o, &p, prefix);
}

/* denseBlock4 `blk` from cin to cout channels (stride 2 in its first conv). */
static int fa_dense(fa_ctx *c, int x, const char *blk, int64_t cin, int64_t cout, int first) {
  char nm[128], nm2[128];
  int out1;
  snprintf(nm, sizeof nm, "%s/conv0", blk);
  if (first) { /* plain 3x3 conv + bias, ReLU */
    const int64_t fs[4] = {3, 3, cin, cout}, bs[1] = {cout};
    snprintf(nm2, sizeof nm2, "%s/conv0/filters", blk);
    int f = fa_weight(c, nm2, 4, fs, NN_TFJS_OHWI);
    if (f < 0) return f;
    snprintf(nm2, sizeof nm2, "%s/conv0/bias", blk);
    int b = fa_weight(c, nm2, 1, bs, NN_TFJS_RAW);
    if (b < 0) return b;
    nn_attr a = nn_attr_default();
    a.stride_h = a.stride_w = 2;
    a.padding = NN_PAD_SAME;
    a.act_min = 0.0f;
    if ((out1 = fa_value(c, nm)) < 0) return out1;
    int in[3] = {x, f, b};
    out1 = fa_node(c, NN_OP_CONV2D, in, 3, out1, &a, nm);
  } else {
    out1 = fa_sep(c, x, nm, cin, cout, 2, 1);
  }
  if (out1 < 0) return out1;
  snprintf(nm, sizeof nm, "%s/conv1", blk);
  int out2 = fa_sep(c, out1, nm, cout, cout, 1, 0);
  if (out2 < 0) return out2;
  snprintf(nm, sizeof nm, "%s/in3", blk);
  int in3 = fa_add(c, out1, out2, 1, nm);
  if (in3 < 0) return in3;
  snprintf(nm, sizeof nm, "%s/conv2", blk);
  int out3 = fa_sep(c, in3, nm, cout, cout, 1, 0);
  if (out3 < 0) return out3;
  snprintf(nm, sizeof nm, "%s/out2+out3", blk);
  int s23 = fa_add(c, out2, out3, 0, nm);
  if (s23 < 0) return s23;
  snprintf(nm, sizeof nm, "%s/in4", blk);
  int in4 = fa_add(c, out1, s23, 1, nm);
  if (in4 < 0) return in4;
  snprintf(nm, sizeof nm, "%s/conv3", blk);
  int out4 = fa_sep(c, in4, nm, cout, cout, 1, 0);
  if (out4 < 0) return out4;
  snprintf(nm, sizeof nm, "%s/out3+out4", blk);
  int s34 = fa_add(c, out3, out4, 0, nm);
  if (s34 < 0) return s34;
  snprintf(nm, sizeof nm, "%s/out2+out3+out4", blk);
  int s234 = fa_add(c, out2, s34, 0, nm);
  if (s234 < 0) return s234;
  return fa_add(c, out1, s234, 1, blk);
}

static int fa_build(fa_ctx *c) {
  int st;
  const int64_t in_shape[4] = {1, FE_FACEAPI_SIZE, FE_FACEAPI_SIZE, 3};
  int x = nn_graph_add_value(c->g, "input", NN_F32, 4, in_shape, c->err);
  if (x < 0) return x;
  /* normalize(): subtract the mean RGB, then divide by 255 */
  const int64_t s3[1] = {3}, s1[1] = {1};
  const float k255 = 255.0f;
  int mean = nn_graph_add_const(c->g, "mean_rgb", NN_F32, 1, s3, faceapi_mean_rgb,
                                sizeof faceapi_mean_rgb, c->err);
  if (mean < 0) return mean;
  int scale = nn_graph_add_const(c->g, "255", NN_F32, 1, s1, &k255, sizeof k255, c->err);
  if (scale < 0) return scale;
  int centred = fa_value(c, "centred");
  if (centred < 0) return centred;
  int in[3] = {x, mean, -1};
  if ((centred = fa_node(c, NN_OP_SUB, in, 2, centred, NULL, "centred")) < 0) return centred;
  int norm = fa_value(c, "normalized");
  if (norm < 0) return norm;
  in[0] = centred;
  in[1] = scale;
  if ((norm = fa_node(c, NN_OP_DIV, in, 2, norm, NULL, "normalized")) < 0) return norm;

  int h = fa_dense(c, norm, "dense0", 3, 32, 1);
  if (h >= 0) h = fa_dense(c, h, "dense1", 32, 64, 0);
  if (h >= 0) h = fa_dense(c, h, "dense2", 64, 128, 0);
  if (h >= 0) h = fa_dense(c, h, "dense3", 128, 256, 0);
  if (h < 0) return h;

  nn_attr pa = nn_attr_default();
  pa.kernel_h = pa.kernel_w = 7;
  pa.stride_h = pa.stride_w = 2;
  pa.padding = NN_PAD_VALID;
  int pooled = fa_value(c, "avg_pool");
  if (pooled < 0) return pooled;
  if ((pooled = fa_node(c, NN_OP_AVG_POOL2D, &h, 1, pooled, &pa, "avg_pool")) < 0) return pooled;

  const int64_t fw[2] = {256, FE_FACEAPI_CLASSES}, fb[1] = {FE_FACEAPI_CLASSES};
  int w = fa_weight(c, "fc/weights", 2, fw, NN_TFJS_FC);
  if (w < 0) return w;
  int b = fa_weight(c, "fc/bias", 1, fb, NN_TFJS_RAW);
  if (b < 0) return b;
  int logits = fa_value(c, "fc");
  if (logits < 0) return logits;
  in[0] = pooled;
  in[1] = w;
  in[2] = b;
  if ((logits = fa_node(c, NN_OP_FULLY_CONNECTED, in, 3, logits, NULL, "fc")) < 0) return logits;
  nn_attr sa = nn_attr_default();
  sa.axis = -1;
  int probs = fa_value(c, "softmax");
  if (probs < 0) return probs;
  if ((probs = fa_node(c, NN_OP_SOFTMAX, &logits, 1, probs, &sa, "softmax")) < 0) return probs;

  if ((st = nn_graph_set_io(c->g, &x, 1, &probs, 1, c->err))) return st;
  if ((st = nn_graph_finalize(c->g, c->err))) return st;
  /* The contract of faceapi_expression_net.h: (1, 7) out. */
  const nn_value *o = &c->g->values[c->g->outputs[0]];
  if (o->rank != 2 || o->shape[0] != 1 || o->shape[1] != FE_FACEAPI_CLASSES)
    return emoi_fail(c->err, EMO_EINTERNAL, "%s: expression output has an unexpected shape",
                     c->src);
  return EMO_OK;
}

static int fa_load_parsed(const cJSON *manifest, const void *const *shards, const size_t *sizes,
                          int n_shards, const char *src, nn_graph **out, emoi_err *err) {
  nn_tfjs_weights ws;
  int rc = nn_tfjs_weights_decode(manifest, shards, sizes, n_shards, src, &ws, err);
  if (rc) return rc;
  fa_ctx c = {NULL, &ws, src, err};
  if ((rc = nn_graph_create(src, &c.g, err)) == EMO_OK) rc = fa_build(&c);
  if (rc == EMO_OK)
    *out = c.g;
  else
    nn_graph_destroy(&c.g);
  nn_tfjs_weights_free(&ws);
  return rc;
}

static cJSON *fa_parse(const char *json, size_t len, const char *src, emoi_err *err, int *rc) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root) {
    long off = end && end >= json && end <= json + len ? (long)(end - json) : -1;
    *rc = emoi_fail(err, EMO_EMODEL, "%s: invalid JSON (near byte %ld)", src, off);
  }
  return root;
}

int fe_faceapi_net_load_memory(const char *json, size_t json_len, const void *const *shards,
                               const size_t *shard_sizes, int n_shards, const char *source,
                               nn_graph **out, emoi_err *err) {
  if (!out || (!json && json_len))
    return emoi_fail(err, EMO_EINVAL, "fe_faceapi_net_load_memory: NULL argument");
  *out = NULL;
  const char *src = source ? source : "(memory)";
  int rc = EMO_OK;
  cJSON *root = fa_parse(json ? json : "", json_len, src, err, &rc);
  if (!root) return rc;
  rc = fa_load_parsed(root, shards, shard_sizes, n_shards, src, out, err);
  cJSON_Delete(root);
  return rc;
}

int fe_faceapi_net_load(const char *manifest_path, int64_t max_bytes, nn_graph **out,
                        emoi_err *err) {
  if (!out || !manifest_path)
    return emoi_fail(err, EMO_EINVAL, "fe_faceapi_net_load: NULL argument");
  *out = NULL;
  unsigned char *json = NULL;
  size_t len = 0;
  int rc = emoi_file_read(manifest_path, max_bytes, 0, &json, &len, err);
  if (rc) return rc;
  cJSON *root = fa_parse((const char *)json, len, manifest_path, err, &rc);
  free(json);
  if (!root) return rc;
  nn_tfjs_shards sh;
  if ((rc = nn_tfjs_shards_read(root, manifest_path, max_bytes, &sh, err)) == EMO_OK)
    rc = fa_load_parsed(root, (const void *const *)sh.data, sh.size, sh.n, manifest_path, out, err);
  nn_tfjs_shards_free(&sh);
  cJSON_Delete(root);
  return rc;
}
