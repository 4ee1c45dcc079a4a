/* faceapi_recognition_net.c: developer code (compiled into dev/face_embed_eval only) that builds
 * face-api's FaceRecognitionNet (@vladmandic/face-api 1.7.15, model/face_recognition_model-*;
 * a port of dlib's dlib_face_recognition_resnet_model_v1, a ResNet-34-like network with 29
 * conv layers, 128-d descriptor) as an nn_graph from its TF.js weights manifest, following
 * face-api's src/faceRecognitionNet/ sources line for line:
 *   input (1,150,150,3) RGB 0..255; (x - mean RGB (122.782, 117.001, 104.298)) / 255;
 *   convDown 7x7/2 VALID (conv + bias, then the 'scale' layer x*w + b, ReLU); max pool 3x3/2;
 *   residual blocks (two 3x3 SAME convs, add the input, ReLU) and residualDown blocks (3x3/2
 *   VALID conv, 3x3 conv, plus a 2x2/2 average pool of the input zero-padded in channels;
 *   when the conv branch is one row/column short it is zero-padded at the bottom/right);
 *   mean over H, W; matmul by fc (256, 128), no bias.
 * Mirrors vision/faceapi_expression_net.c's use of the TF.js weight reader. Not library code:
 * if emo adopts this network it belongs in src/vision/ with a parity fixture. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "nn/nn.h"
#include "nn/tfjs_reader.h"

typedef struct fr_ctx {
  nn_graph *g;
  const nn_tfjs_weights *ws;
  emoi_err *err;
  int n; /* value counter for unique names */
} fr_ctx;

static int fr_w(fr_ctx *c, const char *name, nn_tfjs_layout layout) {
  const nn_tfjs_weight *w = nn_tfjs_weights_find(c->ws, name);
  if (!w) return emoi_fail(c->err, EMO_EMODEL, "face recognition net: weight '%s' missing", name);
  return nn_tfjs_add_weight(c->g, w, layout, c->err);
}

static int fr_node(fr_ctx *c, nn_op op, int a, int b, int d, const nn_attr *at) {
  char nm[64];
  snprintf(nm, sizeof nm, "v%d", c->n++);
  int out = nn_graph_add_value(c->g, nm, NN_F32, 0, NULL, c->err);
  if (out < 0) return out;
  int in[3] = {a, b, d}, n_in = b < 0 ? 1 : d < 0 ? 2 : 3;
  int r = nn_graph_add_node(c->g, op, in, n_in, &out, 1, at, nm, c->err);
  return r < 0 ? r : out;
}

/* conv (stride s, SAME or VALID) + bias, scale layer, optional ReLU */
static int fr_conv(fr_ctx *c, int x, const char *prefix, int s, nn_padding pad, int relu) {
  char nm[128];
  snprintf(nm, sizeof nm, "%s/conv/filters", prefix);
  int f = fr_w(c, nm, NN_TFJS_OHWI);
  snprintf(nm, sizeof nm, "%s/conv/bias", prefix);
  int b = fr_w(c, nm, NN_TFJS_RAW);
  snprintf(nm, sizeof nm, "%s/scale/weights", prefix);
  int sw = fr_w(c, nm, NN_TFJS_RAW);
  snprintf(nm, sizeof nm, "%s/scale/biases", prefix);
  int sb = fr_w(c, nm, NN_TFJS_RAW);
  if (f < 0 || b < 0 || sw < 0 || sb < 0) return -1;
  nn_attr a = nn_attr_default();
  a.stride_h = a.stride_w = s;
  a.padding = pad;
  int y = fr_node(c, NN_OP_CONV2D, x, f, b, &a);
  if (y >= 0) y = fr_node(c, NN_OP_MUL, y, sw, -1, NULL);
  if (y >= 0) y = fr_node(c, NN_OP_ADD, y, sb, -1, NULL);
  if (y >= 0 && relu) y = fr_node(c, NN_OP_RELU, y, -1, -1, NULL);
  return y;
}

static int fr_residual(fr_ctx *c, int x, const char *blk) {
  char nm[128];
  snprintf(nm, sizeof nm, "%s/conv1", blk);
  int y = fr_conv(c, x, nm, 1, NN_PAD_SAME, 1);
  snprintf(nm, sizeof nm, "%s/conv2", blk);
  if (y >= 0) y = fr_conv(c, y, nm, 1, NN_PAD_SAME, 0);
  if (y >= 0) y = fr_node(c, NN_OP_ADD, y, x, -1, NULL);
  if (y >= 0) y = fr_node(c, NN_OP_RELU, y, -1, -1, NULL);
  return y;
}

/* *hw: spatial side of x, updated; cin/cout channels */
static int fr_residual_down(fr_ctx *c, int x, const char *blk, int *hw, int cin, int cout) {
  char nm[128];
  snprintf(nm, sizeof nm, "%s/conv1", blk);
  int y = fr_conv(c, x, nm, 2, NN_PAD_VALID, 1);
  snprintf(nm, sizeof nm, "%s/conv2", blk);
  if (y >= 0) y = fr_conv(c, y, nm, 1, NN_PAD_SAME, 0);
  if (y < 0) return y;
  int conv_hw = (*hw - 3) / 2 + 1, pool_hw = *hw / 2;
  if (conv_hw != pool_hw) { /* face-api concatenates one zero row and column */
    nn_attr p = nn_attr_default();
    p.pads[1][1] = p.pads[2][1] = pool_hw - conv_hw;
    y = fr_node(c, NN_OP_PAD, y, -1, -1, &p);
  }
  nn_attr pa = nn_attr_default();
  pa.kernel_h = pa.kernel_w = 2;
  pa.stride_h = pa.stride_w = 2;
  pa.padding = NN_PAD_VALID;
  int pooled = fr_node(c, NN_OP_AVG_POOL2D, x, -1, -1, &pa);
  if (pooled >= 0 && cin != cout) {
    nn_attr p = nn_attr_default();
    p.pads[3][1] = cout - cin;
    pooled = fr_node(c, NN_OP_PAD, pooled, -1, -1, &p);
  }
  if (y < 0 || pooled < 0) return -1;
  *hw = pool_hw;
  y = fr_node(c, NN_OP_ADD, pooled, y, -1, NULL);
  if (y >= 0) y = fr_node(c, NN_OP_RELU, y, -1, -1, NULL);
  return y;
}

static int fr_build(fr_ctx *c) {
  const int64_t in_shape[4] = {1, 150, 150, 3}, s3[1] = {3}, s1[1] = {1};
  static const float mean[3] = {122.782f, 117.001f, 104.298f}, k255 = 255.0f;
  int x = nn_graph_add_value(c->g, "input", NN_F32, 4, in_shape, c->err);
  int m = nn_graph_add_const(c->g, "mean_rgb", NN_F32, 1, s3, mean, sizeof mean, c->err);
  int d = nn_graph_add_const(c->g, "255", NN_F32, 1, s1, &k255, sizeof k255, c->err);
  if (x < 0 || m < 0 || d < 0) return -1;
  int y = fr_node(c, NN_OP_SUB, x, m, -1, NULL);
  if (y >= 0) y = fr_node(c, NN_OP_DIV, y, d, -1, NULL);
  if (y >= 0) y = fr_conv(c, y, "conv32_down", 2, NN_PAD_VALID, 1);
  nn_attr mp = nn_attr_default();
  mp.kernel_h = mp.kernel_w = 3;
  mp.stride_h = mp.stride_w = 2;
  mp.padding = NN_PAD_VALID;
  if (y >= 0) y = fr_node(c, NN_OP_MAX_POOL2D, y, -1, -1, &mp);
  int hw = ((150 - 7) / 2 + 1 - 3) / 2 + 1; /* 35 */
  if (y >= 0) y = fr_residual(c, y, "conv32_1");
  if (y >= 0) y = fr_residual(c, y, "conv32_2");
  if (y >= 0) y = fr_residual(c, y, "conv32_3");
  if (y >= 0) y = fr_residual_down(c, y, "conv64_down", &hw, 32, 64);
  if (y >= 0) y = fr_residual(c, y, "conv64_1");
  if (y >= 0) y = fr_residual(c, y, "conv64_2");
  if (y >= 0) y = fr_residual(c, y, "conv64_3");
  if (y >= 0) y = fr_residual_down(c, y, "conv128_down", &hw, 64, 128);
  if (y >= 0) y = fr_residual(c, y, "conv128_1");
  if (y >= 0) y = fr_residual(c, y, "conv128_2");
  if (y >= 0) y = fr_residual_down(c, y, "conv256_down", &hw, 128, 256);
  if (y >= 0) y = fr_residual(c, y, "conv256_1");
  if (y >= 0) y = fr_residual(c, y, "conv256_2");
  if (y >= 0) y = fr_residual_down(c, y, "conv256_down_out", &hw, 256, 256);
  nn_attr ma = nn_attr_default();
  ma.n_axes = 2, ma.axes[0] = 1, ma.axes[1] = 2, ma.keepdims = 0;
  if (y >= 0) y = fr_node(c, NN_OP_MEAN, y, -1, -1, &ma);
  int fc = fr_w(c, "fc", NN_TFJS_FC);
  if (y < 0 || fc < 0) return -1;
  y = fr_node(c, NN_OP_FULLY_CONNECTED, y, fc, -1, NULL);
  if (y < 0) return y;
  int st = nn_graph_set_io(c->g, &x, 1, &y, 1, c->err);
  return st ? st : nn_graph_finalize(c->g, c->err);
}

int dev_faceapi_recognition_load(const char *manifest_path, nn_graph **out, emoi_err *err) {
  unsigned char *json = NULL;
  size_t len = 0;
  int rc = emoi_file_read(manifest_path, 1 << 20, 0, &json, &len, err);
  if (rc) return rc;
  cJSON *root = cJSON_ParseWithLength((const char *)json, len);
  free(json);
  if (!root) return emoi_fail(err, EMO_EMODEL, "%s: invalid JSON", manifest_path);
  nn_tfjs_shards sh;
  nn_tfjs_weights ws;
  memset(&ws, 0, sizeof ws);
  rc = nn_tfjs_shards_read(root, manifest_path, 64 << 20, &sh, err);
  if (rc == EMO_OK) {
    rc = nn_tfjs_weights_decode(root, (const void *const *)sh.data, sh.size, sh.n, manifest_path,
                                &ws, err);
    nn_tfjs_shards_free(&sh);
  }
  fr_ctx c = {NULL, &ws, err, 0};
  if (rc == EMO_OK && (rc = nn_graph_create(manifest_path, &c.g, err)) == EMO_OK) {
    rc = fr_build(&c); /* 0 or a negative status */
  }
  if (rc == EMO_OK)
    *out = c.g;
  else
    nn_graph_destroy(&c.g);
  nn_tfjs_weights_free(&ws);
  cJSON_Delete(root);
  return rc;
}
