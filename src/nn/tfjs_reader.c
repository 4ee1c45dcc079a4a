/* tfjs_reader.c: TensorFlow.js graph-model reader (see tfjs_reader.h).
 *
 * Follows the formats written by tfjs-converter: model.json = {format: "graph-model",
 * modelTopology: {node: [{name, op, input: ["a", "b:0", "^ctrl"], attr: {...}}]},
 * weightsManifest: [{paths, weights: [{name, shape, dtype, quantization?}]}],
 * signature?}, with attr values in the JSON form of TensorFlow's AttrValue proto (bytes
 * fields base64, int64 fields as decimal strings). The op semantics are TensorFlow's
 * (tensorflow/core/ops/nn_ops.cc, grappler's _FusedConv2D / _FusedMatMul remapper).
 *
 * How it works: the node list is indexed by name; every Const node is matched with its
 * decoded manifest weight; each compute node gets one activation value named after it
 * (Identity nodes are looked through, never materialized); constants enter the graph's
 * blob lazily, converted for the use that needs them (HWIO -> OHWI for Conv2D filters,
 * (Kh,Kw,C,M) -> (1,Kh,Kw,C*M) for depthwise ones, (In,Out) -> (Out,In) for MatMul), once
 * per (constant, layout). Shape inference, topological order and cycle detection are left
 * to nn_graph_finalize (nn/graph.c); this file never recurses over the graph, so a hostile
 * file cannot exhaust the stack here. */
#include "nn/tfjs_reader.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/file.h"
#include "nn/half.h"

/* ---- Small helpers ------------------------------------------------------------------- */

/* Decodes standard base64 (RFC 4648, '=' padding optional) of src into dst (cap bytes).
 * Returns the decoded length, or -1 for a bad character, bad length or overflow. */
static long b64_decode(const char *src, unsigned char *dst, size_t cap) {
  size_t n = strlen(src);
  while (n > 0 && src[n - 1] == '=') n--;
  if (n % 4 == 1) return -1;
  size_t out = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    char c = src[i];
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (out >= cap) return -1;
      dst[out++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return (long)out;
}

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Open-addressing table of n names (names(i) gives name i) into *idx (cap slots). Returns
 * the index of an earlier duplicate of some name via *dup (-1 if none). */
typedef const char *(*name_of_fn)(const void *items, int i);

static int index_build(const void *items, int n, name_of_fn name_of, int **idx, size_t *cap,
                       int *dup) {
  size_t c = 16;
  while (c < (size_t)n * 2) c <<= 1;
  int *t = malloc(c * sizeof *t);
  if (!t) return EMO_ENOMEM;
  for (size_t i = 0; i < c; i++) t[i] = -1;
  *dup = -1;
  for (int i = 0; i < n; i++) {
    const char *nm = name_of(items, i);
    size_t h = name_hash(nm) & (c - 1);
    while (t[h] >= 0) {
      if (strcmp(name_of(items, t[h]), nm) == 0) {
        if (*dup < 0) *dup = i;
        break;
      }
      h = (h + 1) & (c - 1);
    }
    if (t[h] < 0) t[h] = i;
  }
  *idx = t;
  *cap = c;
  return EMO_OK;
}

static int index_find(const void *items, name_of_fn name_of, const int *idx, size_t cap,
                      const char *name) {
  if (!idx || cap == 0) return -1;
  size_t h = name_hash(name) & (cap - 1);
  while (idx[h] >= 0) {
    if (strcmp(name_of(items, idx[h]), name) == 0) return idx[h];
    h = (h + 1) & (cap - 1);
  }
  return -1;
}

/* A JSON integer given as a number or as a decimal string (AttrValue int64 fields). */
static int json_int(const cJSON *j, int64_t *v) {
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (!(d >= -9.0e15 && d <= 9.0e15) || d != floor(d)) return -1;
    *v = (int64_t)d;
    return 0;
  }
  if (cJSON_IsString(j) && j->valuestring) {
    const char *s = j->valuestring;
    int neg = 0;
    if (*s == '-') {
      neg = 1;
      s++;
    }
    if (!*s) return -1;
    int64_t r = 0;
    for (; *s; s++) {
      if (*s < '0' || *s > '9') return -1;
      if (r > (INT64_C(1) << 53)) return -1;
      r = r * 10 + (*s - '0');
    }
    *v = neg ? -r : r;
    return 0;
  }
  return -1;
}

/* ---- Files and shards ------------------------------------------------------------------ */

void nn_tfjs_shards_free(nn_tfjs_shards *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) free(s->data ? s->data[i] : NULL);
  free(s->data);
  free(s->size);
  memset(s, 0, sizeof *s);
}

/* A shard path must stay inside the model's folder. */
static int shard_path_ok(const char *p) {
  if (!*p || *p == '/' || strlen(p) > 1024) return 0;
  const char *s = p;
  while (*s) {
    const char *e = strchr(s, '/');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == 0 || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
    if (!e) break;
    s = e + 1;
  }
  if (p[strlen(p) - 1] == '/') return 0;
  return 1;
}

int nn_tfjs_shards_read(const cJSON *manifest, const char *json_path, int64_t max_bytes,
                        nn_tfjs_shards *out, emoi_err *err) {
  memset(out, 0, sizeof *out);
  if (!cJSON_IsArray(manifest))
    return emoi_fail(err, EMO_EMODEL, "%s: weights manifest is not a JSON array", json_path);
  int n = 0;
  const cJSON *grp;
  cJSON_ArrayForEach(grp, manifest) {
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(grp, "paths");
    if (!cJSON_IsArray(paths))
      return emoi_fail(err, EMO_EMODEL, "%s: weightsManifest group without a paths array",
                       json_path);
    n += cJSON_GetArraySize(paths);
    if (n > NN_TFJS_MAX_SHARDS)
      return emoi_fail(err, EMO_EMODEL, "%s: more than %d shard paths", json_path,
                       NN_TFJS_MAX_SHARDS);
  }
  const char *slash = strrchr(json_path, '/');
  size_t dirlen = slash ? (size_t)(slash - json_path + 1) : 0;
  out->data = calloc((size_t)n + 1, sizeof *out->data);
  out->size = calloc((size_t)n + 1, sizeof *out->size);
  if (!out->data || !out->size) {
    nn_tfjs_shards_free(out);
    return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", json_path);
  }
  int64_t total = 0;
  cJSON_ArrayForEach(grp, manifest) {
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(grp, "paths")) {
      if (!cJSON_IsString(p) || !p->valuestring || !shard_path_ok(p->valuestring)) {
        nn_tfjs_shards_free(out);
        return emoi_fail(err, EMO_EMODEL,
                         "%s: weightsManifest path %d is not a relative path inside the "
                         "model's folder",
                         json_path, out->n);
      }
      size_t plen = strlen(p->valuestring);
      char *full = malloc(dirlen + plen + 1);
      if (!full) {
        nn_tfjs_shards_free(out);
        return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", json_path);
      }
      memcpy(full, json_path, dirlen);
      memcpy(full + dirlen, p->valuestring, plen + 1);
      int64_t left = max_bytes > 0 ? max_bytes - total : 0;
      if (max_bytes > 0 && left <= 0) left = 1; /* so that any non-empty shard is refused */
      int rc = emoi_file_read(full, left, 0, &out->data[out->n], &out->size[out->n], err);
      free(full);
      if (rc != EMO_OK) {
        if (rc == EMO_ELIMIT) emoi_err_prefix(err, "shards exceed the size cap");
        nn_tfjs_shards_free(out);
        return rc;
      }
      total += (int64_t)out->size[out->n];
      out->n++;
      if (max_bytes > 0 && total > max_bytes) {
        nn_tfjs_shards_free(out);
        return emoi_fail(err, EMO_ELIMIT, "%s: weight shards exceed the cap of %lld bytes",
                         json_path, (long long)max_bytes);
      }
    }
  }
  return EMO_OK;
}

/* ---- Weights manifest ------------------------------------------------------------------ */

static const char *weight_name_of(const void *items, int i) {
  return ((const nn_tfjs_weight *)items)[i].name;
}

void nn_tfjs_weights_free(nn_tfjs_weights *ws) {
  if (!ws) return;
  for (int i = 0; i < ws->n; i++) {
    free(ws->w[i].name);
    free(ws->w[i].data);
  }
  free(ws->w);
  free(ws->index);
  memset(ws, 0, sizeof *ws);
}

const nn_tfjs_weight *nn_tfjs_weights_find(const nn_tfjs_weights *ws, const char *name) {
  int i = index_find(ws->w, weight_name_of, ws->index, ws->index_cap, name);
  return i >= 0 ? &ws->w[i] : NULL;
}

/* Copies len bytes at offset off of the shards' concatenation into dst. The caller has
 * checked off + len <= total. */
static void shards_copy(const void *const *shards, const size_t *sizes, int n, uint64_t off,
                        size_t len, unsigned char *dst) {
  for (int i = 0; i < n && len > 0; i++) {
    if (off >= sizes[i]) {
      off -= sizes[i];
      continue;
    }
    size_t take = sizes[i] - (size_t)off;
    if (take > len) take = len;
    memcpy(dst, (const unsigned char *)shards[i] + off, take);
    dst += take;
    len -= take;
    off = 0;
  }
}

/* Parses a shape array into shape/rank/numel (capped). Returns 0 or -1. */
static int parse_shape(const cJSON *arr, int64_t *shape, int *rank, int64_t *numel) {
  if (!cJSON_IsArray(arr)) return -1;
  int r = 0;
  int64_t ne = 1;
  const cJSON *d;
  cJSON_ArrayForEach(d, arr) {
    int64_t v;
    if (r >= NN_MAX_RANK || json_int(d, &v) != 0 || v < 0 || v > NN_TFJS_MAX_ELEMS) return -1;
    shape[r++] = v;
    ne *= v;
    if (ne > NN_TFJS_MAX_ELEMS) return -1;
  }
  *rank = r;
  *numel = ne;
  return 0;
}

typedef enum { Q_NONE, Q_F16, Q_U8, Q_U16 } quant_kind;

static int decode_one(const cJSON *jw, int gi, int wi, const void *const *shards,
                      const size_t *sizes, int n_shards, uint64_t *cursor, uint64_t end,
                      const char *src, nn_tfjs_weight *w, emoi_err *err) {
  const cJSON *jn = cJSON_GetObjectItemCaseSensitive(jw, "name");
  const cJSON *js = cJSON_GetObjectItemCaseSensitive(jw, "shape");
  const cJSON *jd = cJSON_GetObjectItemCaseSensitive(jw, "dtype");
  const cJSON *jq = cJSON_GetObjectItemCaseSensitive(jw, "quantization");
  if (!cJSON_IsString(jn) || !jn->valuestring || !jn->valuestring[0])
    return emoi_fail(err, EMO_EMODEL, "%s: weightsManifest[%d].weights[%d].name missing", src, gi,
                     wi);
  const char *name = jn->valuestring;
  if (parse_shape(js, w->shape, &w->rank, &w->numel) != 0)
    return emoi_fail(err, EMO_EMODEL,
                     "%s: weight '%s': shape missing, of rank > %d, or over %lld elements", src,
                     name, NN_MAX_RANK, (long long)NN_TFJS_MAX_ELEMS);
  if (!cJSON_IsString(jd) || !jd->valuestring)
    return emoi_fail(err, EMO_EMODEL, "%s: weight '%s': dtype missing", src, name);
  if (strcmp(jd->valuestring, "float32") == 0)
    w->dtype = NN_F32;
  else if (strcmp(jd->valuestring, "int32") == 0)
    w->dtype = NN_I32;
  else
    return emoi_fail(err, EMO_EUNSUPPORTED, "%s: weight '%s': dtype '%.32s' is not supported", src,
                     name, jd->valuestring);
  quant_kind q = Q_NONE;
  double scale = 1.0, qmin = 0.0;
  if (jq && !cJSON_IsNull(jq)) {
    const cJSON *qd = cJSON_GetObjectItemCaseSensitive(jq, "dtype");
    if (!cJSON_IsString(qd) || !qd->valuestring)
      return emoi_fail(err, EMO_EMODEL, "%s: weight '%s': quantization.dtype missing", src, name);
    if (strcmp(qd->valuestring, "float16") == 0)
      q = Q_F16;
    else if (strcmp(qd->valuestring, "uint8") == 0)
      q = Q_U8;
    else if (strcmp(qd->valuestring, "uint16") == 0)
      q = Q_U16;
    else
      return emoi_fail(err, EMO_EUNSUPPORTED,
                       "%s: weight '%s': quantization dtype '%.32s' is not supported", src, name,
                       qd->valuestring);
    if (q == Q_F16 && w->dtype != NN_F32)
      return emoi_fail(err, EMO_EMODEL, "%s: weight '%s': float16 quantization of an int32", src,
                       name);
    if (q == Q_U8 || q == Q_U16) {
      const cJSON *sc = cJSON_GetObjectItemCaseSensitive(jq, "scale");
      const cJSON *mn = cJSON_GetObjectItemCaseSensitive(jq, "min");
      if (!cJSON_IsNumber(sc) || !cJSON_IsNumber(mn) || !isfinite(sc->valuedouble) ||
          !isfinite(mn->valuedouble))
        return emoi_fail(err, EMO_EMODEL, "%s: weight '%s': quantization.scale/min missing", src,
                         name);
      scale = sc->valuedouble;
      qmin = mn->valuedouble;
    }
  }
  size_t esize = q == Q_NONE ? 4 : q == Q_U8 ? 1 : 2;
  uint64_t nbytes = (uint64_t)w->numel * esize;
  if (*cursor > end || nbytes > end - *cursor)
    return emoi_fail(err, EMO_EMODEL,
                     "%s: weight '%s' needs bytes [%llu, %llu) but its group's shards end at "
                     "byte %llu",
                     src, name, (unsigned long long)*cursor, (unsigned long long)(*cursor + nbytes),
                     (unsigned long long)end);
  w->name = strdup(name);
  if (!w->name) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
  if (w->numel > 0) {
    unsigned char *raw = malloc((size_t)nbytes);
    w->data = malloc((size_t)w->numel * 4);
    if (!raw || !w->data) {
      free(raw);
      return emoi_fail(err, EMO_ENOMEM, "%s: out of memory for weight '%s'", src, name);
    }
    shards_copy(shards, sizes, n_shards, *cursor, (size_t)nbytes, raw);
    float *fo = w->data;
    int32_t *io = w->data;
    for (int64_t i = 0; i < w->numel; i++) {
      const unsigned char *b = raw + i * (int64_t)esize;
      double v;
      switch (q) {
        case Q_NONE: {
          uint32_t u = bytes_le32(b);
          memcpy(&fo[i], &u, 4); /* float32 or int32 bits, stored as they are */
          continue;
        }
        case Q_F16: fo[i] = nn_f16_to_f32(bytes_le16(b)); continue;
        case Q_U8: v = b[0] * scale + qmin; break;
        default: v = (double)bytes_le16(b) * scale + qmin; break;
      }
      if (w->dtype == NN_F32) {
        fo[i] = (float)v;
      } else {
        double r = nearbyint(v);
        io[i] = r < -2147483648.0 ? INT32_MIN : r > 2147483647.0 ? INT32_MAX : (int32_t)r;
      }
    }
    free(raw);
  }
  *cursor += nbytes;
  return EMO_OK;
}

int nn_tfjs_weights_decode(const cJSON *manifest, const void *const *shards,
                           const size_t *shard_sizes, int n_shards, const char *source,
                           nn_tfjs_weights *out, emoi_err *err) {
  const char *src = source ? source : "(memory)";
  memset(out, 0, sizeof *out);
  if (!cJSON_IsArray(manifest))
    return emoi_fail(err, EMO_EMODEL,
                     "%s: weights manifest missing or not a JSON array of "
                     "groups",
                     src);
  if (n_shards < 0 || (n_shards > 0 && (!shards || !shard_sizes)))
    return emoi_fail(err, EMO_EINVAL, "%s: bad shard list", src);
  /* Count paths and weights first. */
  int n_paths = 0, n_w = 0;
  const cJSON *grp;
  cJSON_ArrayForEach(grp, manifest) {
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(grp, "paths");
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(grp, "weights");
    if (!cJSON_IsObject(grp) || !cJSON_IsArray(paths) || !cJSON_IsArray(ws))
      return emoi_fail(err, EMO_EMODEL,
                       "%s: weightsManifest group without 'paths' and 'weights' arrays", src);
    n_paths += cJSON_GetArraySize(paths);
    n_w += cJSON_GetArraySize(ws);
    if (n_paths > NN_TFJS_MAX_SHARDS || n_w > NN_TFJS_MAX_WEIGHTS)
      return emoi_fail(err, EMO_EMODEL, "%s: weightsManifest lists too many paths or weights", src);
  }
  if (n_shards != n_paths && n_shards != 1)
    return emoi_fail(err, EMO_EMODEL, "%s: weightsManifest lists %d shard paths but %d given", src,
                     n_paths, n_shards);
  uint64_t total = 0;
  for (int i = 0; i < n_shards; i++) total += shard_sizes[i];
  int per_path = n_shards == n_paths;
  out->w = calloc((size_t)n_w + 1, sizeof *out->w);
  if (!out->w) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
  int rc = EMO_OK, gi = 0, path_i = 0;
  uint64_t cursor = 0, group_start = 0;
  cJSON_ArrayForEach(grp, manifest) {
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(grp, "paths");
    uint64_t end = total;
    if (per_path) { /* the group's weights start at its first shard and end with its last */
      int np = cJSON_GetArraySize(paths);
      cursor = group_start;
      end = group_start;
      for (int k = 0; k < np; k++) end += shard_sizes[path_i + k];
      path_i += np;
      group_start = end;
    }
    int wi = 0;
    const cJSON *jw;
    cJSON_ArrayForEach(jw, cJSON_GetObjectItemCaseSensitive(grp, "weights")) {
      rc = decode_one(jw, gi, wi, shards, shard_sizes, n_shards, &cursor, end, src, &out->w[out->n],
                      err);
      if (out->w[out->n].name) out->n++;
      if (rc != EMO_OK) goto fail;
      wi++;
    }
    gi++;
  }
  int dup;
  rc = index_build(out->w, out->n, weight_name_of, &out->index, &out->index_cap, &dup);
  if (rc != EMO_OK) {
    emoi_fail(err, rc, "%s: out of memory", src);
    goto fail;
  }
  if (dup >= 0) {
    rc = emoi_fail(err, EMO_EMODEL, "%s: weightsManifest names weight '%s' twice", src,
                   out->w[dup].name);
    goto fail;
  }
  return EMO_OK;
fail:
  nn_tfjs_weights_free(out);
  return rc;
}

/* ---- Graph building -------------------------------------------------------------------- */

typedef enum {
  K_PLACEHOLDER,
  K_CONST,
  K_IDENTITY,
  K_NOOP,
  K_CONV,
  K_FCONV,
  K_DW,
  K_FDW,
  K_MAXPOOL,
  K_AVGPOOL,
  K_BINARY,
  K_UNARY,
  K_LEAKY,
  K_PRELU,
  K_SOFTMAX,
  K_MEAN,
  K_RESHAPE,
  K_PAD,
  K_CONCAT,
  K_MATMUL,
  K_FMATMUL,
  K_BIASADD
} op_kind;

static const struct {
  const char *name;
  op_kind kind;
  nn_op op;
} op_table[] = {
    {"Placeholder", K_PLACEHOLDER, 0},
    {"Const", K_CONST, 0},
    {"Identity", K_IDENTITY, 0},
    {"NoOp", K_NOOP, 0},
    {"Conv2D", K_CONV, NN_OP_CONV2D},
    {"_FusedConv2D", K_FCONV, NN_OP_CONV2D},
    {"DepthwiseConv2dNative", K_DW, NN_OP_DEPTHWISE_CONV2D},
    {"DepthwiseConv2d", K_DW, NN_OP_DEPTHWISE_CONV2D},
    {"_FusedDepthwiseConv2dNative", K_FDW, NN_OP_DEPTHWISE_CONV2D},
    {"MaxPool", K_MAXPOOL, NN_OP_MAX_POOL2D},
    {"AvgPool", K_AVGPOOL, NN_OP_AVG_POOL2D},
    {"Add", K_BINARY, NN_OP_ADD},
    {"AddV2", K_BINARY, NN_OP_ADD},
    {"Sub", K_BINARY, NN_OP_SUB},
    {"Mul", K_BINARY, NN_OP_MUL},
    {"RealDiv", K_BINARY, NN_OP_DIV},
    {"Minimum", K_BINARY, NN_OP_MINIMUM},
    {"Maximum", K_BINARY, NN_OP_MAXIMUM},
    {"Relu", K_UNARY, NN_OP_RELU},
    {"Relu6", K_UNARY, NN_OP_RELU6},
    {"Sigmoid", K_UNARY, NN_OP_SIGMOID},
    {"Tanh", K_UNARY, NN_OP_TANH},
    {"LeakyRelu", K_LEAKY, NN_OP_LEAKY_RELU},
    {"Prelu", K_PRELU, NN_OP_PRELU},
    {"Softmax", K_SOFTMAX, NN_OP_SOFTMAX},
    {"Mean", K_MEAN, NN_OP_MEAN},
    {"Reshape", K_RESHAPE, NN_OP_RESHAPE},
    {"Pad", K_PAD, NN_OP_PAD},
    {"ConcatV2", K_CONCAT, NN_OP_CONCAT},
    {"MatMul", K_MATMUL, NN_OP_FULLY_CONNECTED},
    {"_FusedMatMul", K_FMATMUL, NN_OP_FULLY_CONNECTED},
    {"BiasAdd", K_BIASADD, NN_OP_ADD},
};

typedef struct tf_node {
  const char *name; /* borrowed from the JSON tree */
  const char *op;
  const cJSON *attr; /* object or NULL */
  op_kind kind;
  nn_op nnop;
  int in_start, n_in;           /* data inputs: ctx.inputs[in_start .. +n_in] (node indices) */
  const nn_tfjs_weight *weight; /* K_CONST */
  int value;                    /* output value id (compute nodes, placeholders), -1 */
  int consumed;
  int cid[NN_TFJS_LAYOUT_COUNT]; /* constant value ids per layout, -1 */
} tf_node;

typedef struct build_ctx {
  const char *src;
  tf_node *nodes;
  int n_nodes;
  int *index;
  size_t index_cap;
  int *inputs; /* (total data inputs) */
  nn_tfjs_weights weights;
  nn_graph *g;
  emoi_err *err;
} build_ctx;

static const char *node_name_of(const void *items, int i) {
  return ((const tf_node *)items)[i].name;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
node_fail(build_ctx *c, int code, const tf_node *n, const char *fmt, ...) {
  char tmp[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  return emoi_fail(c->err, code, "%s: node '%.120s' (op %.40s): %s", c->src, n->name, n->op, tmp);
}

/* ---- Attributes ---- */

static const cJSON *attr_get(const tf_node *n, const char *key) {
  return n->attr ? cJSON_GetObjectItemCaseSensitive(n->attr, key) : NULL;
}

/* Integer attr {"i": "2"}: 1 found, 0 absent, -1 malformed. */
static int attr_int(const tf_node *n, const char *key, int64_t *v) {
  const cJSON *a = attr_get(n, key);
  if (!a) return 0;
  return json_int(cJSON_GetObjectItemCaseSensitive(a, "i"), v) == 0 ? 1 : -1;
}

static int attr_bool(const tf_node *n, const char *key, int *v) {
  const cJSON *a = attr_get(n, key);
  if (!a) return 0;
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(a, "b");
  if (!cJSON_IsBool(b)) return -1;
  *v = cJSON_IsTrue(b);
  return 1;
}

static int attr_float(const tf_node *n, const char *key, float *v) {
  const cJSON *a = attr_get(n, key);
  if (!a) return 0;
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(a, "f");
  if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble)) return -1;
  *v = (float)f->valuedouble;
  return 1;
}

/* Bytes attr {"s": base64} decoded into buf as a C string. */
static int attr_str(const tf_node *n, const char *key, char *buf, size_t cap) {
  const cJSON *a = attr_get(n, key);
  if (!a) return 0;
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "s");
  if (!cJSON_IsString(s) || !s->valuestring) return -1;
  long len = b64_decode(s->valuestring, (unsigned char *)buf, cap - 1);
  if (len < 0) return -1;
  buf[len] = 0;
  if (strlen(buf) != (size_t)len) return -1; /* embedded NUL */
  return 1;
}

/* List of ints {"list": {"i": [...]}} ({"list": {}} is empty). */
static int attr_int_list(const tf_node *n, const char *key, int64_t *v, int max, int *count) {
  const cJSON *a = attr_get(n, key);
  *count = 0;
  if (!a) return 0;
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(a, "list");
  if (!cJSON_IsObject(l)) return -1;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(l, "i");
  if (!arr) return 1;
  if (!cJSON_IsArray(arr)) return -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (*count >= max || json_int(e, &v[*count]) != 0) return -1;
    (*count)++;
  }
  return 1;
}

/* List of strings {"list": {"s": [base64...]}} decoded into fixed slots. */
#define MAX_FUSED 4
static int attr_str_list(const tf_node *n, const char *key, char out[][32], int max, int *count) {
  const cJSON *a = attr_get(n, key);
  *count = 0;
  if (!a) return 0;
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(a, "list");
  if (!cJSON_IsObject(l)) return -1;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(l, "s");
  if (!arr) return 1;
  if (!cJSON_IsArray(arr)) return -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (*count >= max || !cJSON_IsString(e) || !e->valuestring) return -1;
    long len = b64_decode(e->valuestring, (unsigned char *)out[*count], 31);
    if (len < 0) return -1;
    out[*count][len] = 0;
    (*count)++;
  }
  return 1;
}

/* data_format must be NHWC (or absent). */
static int check_nhwc(build_ctx *c, const tf_node *n) {
  char fmt[16];
  int r = attr_str(n, "data_format", fmt, sizeof fmt);
  if (r < 0) return node_fail(c, EMO_EMODEL, n, "attr 'data_format' is malformed");
  if (r > 0 && strcmp(fmt, "NHWC") != 0)
    return node_fail(c, EMO_EUNSUPPORTED, n, "data_format '%s' is not supported (NHWC only)", fmt);
  return EMO_OK;
}

/* strides / dilations / ksize as [1, h, w, 1] into *h, *w (absent: 1, 1). */
static int attr_hw(build_ctx *c, const tf_node *n, const char *key, int *h, int *w) {
  int64_t v[8];
  int cnt;
  int r = attr_int_list(n, key, v, 8, &cnt);
  *h = *w = 1;
  if (r == 0 || (r > 0 && cnt == 0)) return EMO_OK;
  if (r < 0 || cnt != 4) return node_fail(c, EMO_EMODEL, n, "attr '%s' is not a 4-int list", key);
  if (v[0] != 1 || v[3] != 1)
    return node_fail(c, EMO_EUNSUPPORTED, n, "attr '%s' must be 1 on batch and channels", key);
  if (v[1] < 1 || v[2] < 1 || v[1] > 4096 || v[2] > 4096)
    return node_fail(c, EMO_EMODEL, n, "attr '%s' out of range", key);
  *h = (int)v[1];
  *w = (int)v[2];
  return EMO_OK;
}

static int attr_padding(build_ctx *c, const tf_node *n, nn_attr *a) {
  char pad[16];
  int r = attr_str(n, "padding", pad, sizeof pad);
  if (r == 0) return node_fail(c, EMO_EMODEL, n, "attr 'padding' missing");
  if (r < 0) return node_fail(c, EMO_EMODEL, n, "attr 'padding' is malformed (bad base64?)");
  if (strcmp(pad, "SAME") == 0) {
    a->padding = NN_PAD_SAME;
  } else if (strcmp(pad, "VALID") == 0) {
    a->padding = NN_PAD_VALID;
  } else if (strcmp(pad, "EXPLICIT") == 0) {
    int64_t v[8];
    int cnt;
    if (attr_int_list(n, "explicit_paddings", v, 8, &cnt) <= 0 || cnt != 8)
      return node_fail(c, EMO_EMODEL, n, "EXPLICIT padding without 8 explicit_paddings");
    for (int i = 0; i < 8; i++)
      if (v[i] < 0 || v[i] > 65536)
        return node_fail(c, EMO_EMODEL, n, "explicit_paddings out of range");
    if (v[0] || v[1] || v[6] || v[7])
      return node_fail(c, EMO_EUNSUPPORTED, n, "padding on batch or channels");
    a->padding = NN_PAD_EXPLICIT;
    a->pad_top = (int)v[2];
    a->pad_bottom = (int)v[3];
    a->pad_left = (int)v[4];
    a->pad_right = (int)v[5];
  } else {
    return node_fail(c, EMO_EUNSUPPORTED, n, "padding '%s' is not supported", pad);
  }
  return EMO_OK;
}

/* ---- Values ---- */

/* Follows Identity nodes to the node that computes the value. -1 on a loop (reported). */
static int resolve(build_ctx *c, int idx) {
  int steps = 0;
  while (c->nodes[idx].kind == K_IDENTITY) {
    tf_node *n = &c->nodes[idx];
    if (n->n_in != 1) {
      node_fail(c, EMO_EMODEL, n, "Identity needs exactly 1 input, has %d", n->n_in);
      return -1;
    }
    idx = c->inputs[n->in_start];
    if (++steps > c->n_nodes) {
      node_fail(c, EMO_EMODEL, n, "cycle of Identity nodes");
      return -1;
    }
  }
  return idx;
}

/* The i-th data input of n, resolved through Identity; must be a Const for the callers. */
static int const_input(build_ctx *c, const tf_node *n, int i, const char *what, int *rc) {
  int r = resolve(c, c->inputs[n->in_start + i]);
  if (r < 0) {
    *rc = EMO_EMODEL;
    return -1;
  }
  if (c->nodes[r].kind != K_CONST) {
    *rc = node_fail(c, EMO_EUNSUPPORTED, n, "input %d (%s) must be a constant", i, what);
    return -1;
  }
  *rc = EMO_OK;
  return r;
}

int nn_tfjs_add_weight(nn_graph *g, const nn_tfjs_weight *w, nn_tfjs_layout layout, emoi_err *err) {
  const char *src = g ? g->source : "(graph)";
  int64_t shape[NN_MAX_RANK];
  int rank = w->rank;
  memcpy(shape, w->shape, sizeof shape);
  const void *data = w->data;
  float *tmp = NULL;
  const char *suffix = "";
  if (layout != NN_TFJS_RAW && w->dtype != NN_F32)
    return emoi_fail(err, EMO_EMODEL, "%s: weight '%.200s' must be float32", src, w->name);
  switch (layout) {
    case NN_TFJS_OHWI: { /* (Kh,Kw,Ci,Co) -> (Co,Kh,Kw,Ci) */
      if (rank != 4)
        return emoi_fail(err, EMO_EMODEL, "%s: filter '%.200s' must have rank 4, has %d", src,
                         w->name, rank);
      int64_t kh = shape[0], kw = shape[1], ci = shape[2], co = shape[3];
      tmp = malloc((size_t)(w->numel ? w->numel : 1) * sizeof *tmp);
      if (!tmp) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
      const float *s = w->data;
      for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
          for (int64_t i = 0; i < ci; i++)
            for (int64_t o = 0; o < co; o++)
              tmp[((o * kh + y) * kw + x) * ci + i] = s[((y * kw + x) * ci + i) * co + o];
      shape[0] = co;
      shape[1] = kh;
      shape[2] = kw;
      shape[3] = ci;
      data = tmp;
      suffix = "/ohwi";
      break;
    }
    case NN_TFJS_DEPTHWISE: /* (Kh,Kw,C,M) -> (1,Kh,Kw,C*M): the same bytes */
      if (rank != 4)
        return emoi_fail(err, EMO_EMODEL, "%s: depthwise filter '%.200s' must have rank 4, has %d",
                         src, w->name, rank);
      shape[3] = shape[2] * shape[3];
      shape[2] = shape[1];
      shape[1] = shape[0];
      shape[0] = 1;
      suffix = "/dw";
      break;
    case NN_TFJS_FC: { /* (In,Out) -> (Out,In) */
      if (rank != 2)
        return emoi_fail(err, EMO_EMODEL, "%s: MatMul weight '%.200s' must have rank 2, has %d",
                         src, w->name, rank);
      int64_t in = shape[0], on = shape[1];
      tmp = malloc((size_t)(w->numel ? w->numel : 1) * sizeof *tmp);
      if (!tmp) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
      const float *s = w->data;
      for (int64_t i = 0; i < in; i++)
        for (int64_t o = 0; o < on; o++) tmp[o * in + i] = s[i * on + o];
      shape[0] = on;
      shape[1] = in;
      data = tmp;
      suffix = "/t";
      break;
    }
    case NN_TFJS_VEC: { /* (1,...,1,C) -> (C); other shapes stay as they are */
      int ones = rank > 1;
      for (int i = 0; i + 1 < rank; i++) ones &= shape[i] == 1;
      if (ones) {
        shape[0] = shape[rank - 1];
        rank = 1;
        suffix = "/vec";
      }
      break;
    }
    default: break;
  }
  char name[512];
  snprintf(name, sizeof name, "%s%s", w->name, suffix);
  int id = nn_graph_add_const(g, name, w->dtype, rank, shape, data, (size_t)w->numel * 4, err);
  free(tmp);
  return id;
}

/* The graph constant for Const node k in layout lay; adds it on first use. */
static int const_value(build_ctx *c, const tf_node *user, int k, nn_tfjs_layout lay, int *rc) {
  tf_node *cn = &c->nodes[k];
  if (lay == NN_TFJS_VEC) { /* a vector layout that changes nothing is the raw constant */
    int ones = cn->weight->rank > 1;
    for (int i = 0; i + 1 < cn->weight->rank; i++) ones &= cn->weight->shape[i] == 1;
    if (!ones) lay = NN_TFJS_RAW;
  }
  if (cn->cid[lay] >= 0) return cn->cid[lay];
  int id = nn_tfjs_add_weight(c->g, cn->weight, lay, c->err);
  if (id < 0) {
    char pre[200];
    snprintf(pre, sizeof pre, "node '%.120s' (op %.40s)", user->name, user->op);
    emoi_err_prefix(c->err, pre);
    *rc = id;
    return -1;
  }
  cn->cid[lay] = id;
  *rc = EMO_OK;
  return id;
}

/* Value id of the i-th data input of n as an activation (a Const enters in its own layout). */
static int act_input(build_ctx *c, const tf_node *n, int i, int *rc) {
  int r = resolve(c, c->inputs[n->in_start + i]);
  if (r < 0) {
    *rc = EMO_EMODEL;
    return -1;
  }
  tf_node *in = &c->nodes[r];
  if (in->kind == K_CONST) return const_value(c, n, r, NN_TFJS_RAW, rc);
  if (in->value < 0) {
    *rc = node_fail(c, EMO_EMODEL, n, "input %d ('%s', op %s) produces no value", i, in->name,
                    in->op);
    return -1;
  }
  *rc = EMO_OK;
  return in->value;
}

/* Int32 constant input as a list (rank 0 or 1 unless allow_2d). */
static int const_ints(build_ctx *c, const tf_node *n, int i, const char *what, int64_t *v, int max,
                      int *count, int64_t shape2[2]) {
  int rc;
  int k = const_input(c, n, i, what, &rc);
  if (k < 0) return rc;
  const nn_tfjs_weight *w = c->nodes[k].weight;
  if (w->dtype != NN_I32)
    return node_fail(c, EMO_EMODEL, n, "%s ('%s') must be int32", what, c->nodes[k].name);
  if (shape2) {
    if (w->rank != 2 || w->shape[1] != 2)
      return node_fail(c, EMO_EMODEL, n, "%s must have shape (rank, 2)", what);
    shape2[0] = w->shape[0];
    shape2[1] = 2;
  } else if (w->rank > 1) {
    return node_fail(c, EMO_EMODEL, n, "%s must be a scalar or a vector", what);
  }
  if (w->numel > max)
    return node_fail(c, EMO_EUNSUPPORTED, n, "%s has %lld entries (at most %d)", what,
                     (long long)w->numel, max);
  const int32_t *d = w->data;
  for (int64_t j = 0; j < w->numel; j++) v[j] = d[j];
  *count = (int)w->numel;
  return EMO_OK;
}

static int add_node(build_ctx *c, const tf_node *n, nn_op op, const int *in, int n_in, int out,
                    const nn_attr *a) {
  int r = nn_graph_add_node(c->g, op, in, n_in, &out, 1, a, n->name, c->err);
  return r < 0 ? r : EMO_OK;
}

static int need_inputs(build_ctx *c, const tf_node *n, int lo, int hi) {
  if (n->n_in < lo || n->n_in > hi) {
    if (lo == hi) return node_fail(c, EMO_EMODEL, n, "needs %d inputs, has %d", lo, n->n_in);
    return node_fail(c, EMO_EMODEL, n, "needs %d to %d inputs, has %d", lo, hi, n->n_in);
  }
  return EMO_OK;
}

/* Emits op(ins) followed by the fused tail of a _Fused* node: fused_ops = [BiasAdd?,
 * activation?] with args (n's inputs from first_arg on). Also the plain (unfused) case. */
static int emit_with_tail(build_ctx *c, tf_node *n, nn_op op, int *ins, nn_attr *a, int first_arg,
                          int fused) {
  char ops[MAX_FUSED][32];
  int n_ops = 0, rc;
  if (fused) {
    if (attr_str_list(n, "fused_ops", ops, MAX_FUSED, &n_ops) < 0)
      return node_fail(c, EMO_EMODEL, n, "attr 'fused_ops' is malformed (bad base64?)");
  }
  int argi = first_arg, k = 0;
  ins[2] = -1;
  if (k < n_ops && strcmp(ops[k], "BiasAdd") == 0) {
    if (argi >= n->n_in) return node_fail(c, EMO_EMODEL, n, "BiasAdd without a bias input");
    int r = resolve(c, c->inputs[n->in_start + argi]);
    if (r < 0) return EMO_EMODEL;
    ins[2] = c->nodes[r].kind == K_CONST ? const_value(c, n, r, NN_TFJS_VEC, &rc)
                                         : act_input(c, n, argi, &rc);
    if (ins[2] < 0) return rc;
    argi++;
    k++;
  }
  nn_op post = NN_OP_COUNT;
  int post_in = -1;
  nn_attr pa = nn_attr_default();
  if (k < n_ops) {
    const char *act = ops[k];
    if (strcmp(act, "Relu") == 0) {
      a->act_min = 0.0f;
    } else if (strcmp(act, "Relu6") == 0) {
      a->act_min = 0.0f;
      a->act_max = 6.0f;
    } else if (strcmp(act, "Prelu") == 0) {
      if (argi >= n->n_in) return node_fail(c, EMO_EMODEL, n, "Prelu without an alpha input");
      int r = resolve(c, c->inputs[n->in_start + argi]);
      if (r < 0) return EMO_EMODEL;
      post_in = c->nodes[r].kind == K_CONST ? const_value(c, n, r, NN_TFJS_VEC, &rc)
                                            : act_input(c, n, argi, &rc);
      if (post_in < 0) return rc;
      argi++;
      post = NN_OP_PRELU;
    } else if (strcmp(act, "LeakyRelu") == 0) {
      pa.alpha = 0.2f;
      if (attr_float(n, "leakyrelu_alpha", &pa.alpha) < 0)
        return node_fail(c, EMO_EMODEL, n, "attr 'leakyrelu_alpha' is malformed");
      post = NN_OP_LEAKY_RELU;
    } else if (strcmp(act, "Sigmoid") == 0) {
      post = NN_OP_SIGMOID;
    } else if (strcmp(act, "Tanh") == 0) {
      post = NN_OP_TANH;
    } else {
      return node_fail(c, EMO_EUNSUPPORTED, n, "fused op '%.31s' is not supported", act);
    }
    k++;
  }
  if (k < n_ops)
    return node_fail(c, EMO_EUNSUPPORTED, n,
                     "fused op sequence ending in '%.31s' is not "
                     "supported",
                     ops[k]);
  if (argi < n->n_in)
    return node_fail(c, EMO_EMODEL, n, "%d unused inputs for fused_ops", n->n_in - argi);
  int out = n->value;
  if (post != NN_OP_COUNT) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/pre_activation", n->name);
    out = nn_graph_add_value(c->g, tmp, NN_F32, 0, NULL, c->err);
    if (out < 0) return out;
  }
  int n_in = ins[2] >= 0 ? 3 : 2;
  if ((rc = add_node(c, n, op, ins, n_in, out, a)) != EMO_OK) return rc;
  if (post != NN_OP_COUNT) {
    int pin[2] = {out, post_in};
    rc = add_node(c, n, post, pin, post == NN_OP_PRELU ? 2 : 1, n->value, &pa);
  }
  return rc;
}

static int emit_conv(build_ctx *c, tf_node *n) {
  int dw = n->kind == K_DW || n->kind == K_FDW;
  int fused = n->kind == K_FCONV || n->kind == K_FDW;
  int rc = need_inputs(c, n, 2, fused ? 2 + MAX_FUSED : 2);
  if (rc) return rc;
  if ((rc = check_nhwc(c, n))) return rc;
  nn_attr a = nn_attr_default();
  if ((rc = attr_hw(c, n, "strides", &a.stride_h, &a.stride_w))) return rc;
  if ((rc = attr_hw(c, n, "dilations", &a.dilation_h, &a.dilation_w))) return rc;
  if ((rc = attr_padding(c, n, &a))) return rc;
  int ins[3];
  if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
  int k = const_input(c, n, 1, "filter", &rc);
  if (k < 0) return rc;
  if ((ins[1] = const_value(c, n, k, dw ? NN_TFJS_DEPTHWISE : NN_TFJS_OHWI, &rc)) < 0) return rc;
  return emit_with_tail(c, n, dw ? NN_OP_DEPTHWISE_CONV2D : NN_OP_CONV2D, ins, &a, 2, fused);
}

static int emit_matmul(build_ctx *c, tf_node *n) {
  int fused = n->kind == K_FMATMUL;
  int rc = need_inputs(c, n, 2, fused ? 2 + MAX_FUSED : 2);
  if (rc) return rc;
  int ta = 0, tb = 0;
  if (attr_bool(n, "transpose_a", &ta) < 0 || attr_bool(n, "transpose_b", &tb) < 0)
    return node_fail(c, EMO_EMODEL, n, "attr transpose_a/transpose_b is malformed");
  if (ta) return node_fail(c, EMO_EUNSUPPORTED, n, "transpose_a is not supported");
  nn_attr a = nn_attr_default();
  int ins[3];
  if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
  int k = const_input(c, n, 1, "weight", &rc);
  if (k < 0) return rc;
  if (tb && c->nodes[k].weight->rank != 2)
    return node_fail(c, EMO_EMODEL, n, "MatMul weight must have rank 2");
  if ((ins[1] = const_value(c, n, k, tb ? NN_TFJS_RAW : NN_TFJS_FC, &rc)) < 0) return rc;
  return emit_with_tail(c, n, NN_OP_FULLY_CONNECTED, ins, &a, 2, fused);
}

static int emit_pool(build_ctx *c, tf_node *n) {
  int rc = need_inputs(c, n, 1, 1);
  if (rc) return rc;
  if ((rc = check_nhwc(c, n))) return rc;
  nn_attr a = nn_attr_default();
  if (!attr_get(n, "ksize")) return node_fail(c, EMO_EMODEL, n, "attr 'ksize' missing");
  if ((rc = attr_hw(c, n, "ksize", &a.kernel_h, &a.kernel_w))) return rc;
  if ((rc = attr_hw(c, n, "strides", &a.stride_h, &a.stride_w))) return rc;
  if ((rc = attr_padding(c, n, &a))) return rc;
  int x = act_input(c, n, 0, &rc);
  if (x < 0) return rc;
  return add_node(c, n, n->nnop, &x, 1, n->value, &a);
}

static int emit_node(build_ctx *c, tf_node *n) {
  nn_attr a = nn_attr_default();
  int rc, ins[NN_MAX_NODE_IO];
  switch (n->kind) {
    case K_CONV:
    case K_FCONV:
    case K_DW:
    case K_FDW: return emit_conv(c, n);
    case K_MATMUL:
    case K_FMATMUL: return emit_matmul(c, n);
    case K_MAXPOOL:
    case K_AVGPOOL: return emit_pool(c, n);
    case K_BINARY:
    case K_PRELU:
    case K_BIASADD:
      if ((rc = need_inputs(c, n, 2, 2))) return rc;
      if (n->kind == K_BIASADD && (rc = check_nhwc(c, n))) return rc;
      if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
      if (n->kind != K_BINARY) {
        int r = resolve(c, c->inputs[n->in_start + 1]);
        if (r < 0) return EMO_EMODEL;
        ins[1] = c->nodes[r].kind == K_CONST ? const_value(c, n, r, NN_TFJS_VEC, &rc)
                                             : act_input(c, n, 1, &rc);
      } else {
        ins[1] = act_input(c, n, 1, &rc);
      }
      if (ins[1] < 0) return rc;
      return add_node(c, n, n->nnop, ins, 2, n->value, &a);
    case K_UNARY:
    case K_LEAKY:
    case K_SOFTMAX:
      if ((rc = need_inputs(c, n, 1, 1))) return rc;
      if (n->kind == K_LEAKY) {
        a.alpha = 0.2f;
        if (attr_float(n, "alpha", &a.alpha) < 0)
          return node_fail(c, EMO_EMODEL, n, "attr 'alpha' is malformed");
      }
      if (n->kind == K_SOFTMAX) a.axis = -1;
      if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
      return add_node(c, n, n->nnop, ins, 1, n->value, &a);
    case K_MEAN: {
      if ((rc = need_inputs(c, n, 2, 2))) return rc;
      int64_t ax[NN_MAX_RANK];
      int cnt;
      if ((rc = const_ints(c, n, 1, "reduction_indices", ax, NN_MAX_RANK, &cnt, NULL))) return rc;
      for (int i = 0; i < cnt; i++) {
        if (ax[i] < -NN_MAX_RANK || ax[i] >= NN_MAX_RANK)
          return node_fail(c, EMO_EMODEL, n, "reduction index %lld out of range", (long long)ax[i]);
        a.axes[i] = (int)ax[i];
      }
      a.n_axes = cnt;
      int kd = 0;
      if (attr_bool(n, "keep_dims", &kd) < 0)
        return node_fail(c, EMO_EMODEL, n, "attr 'keep_dims' is malformed");
      a.keepdims = kd;
      if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
      return add_node(c, n, NN_OP_MEAN, ins, 1, n->value, &a);
    }
    case K_RESHAPE: /* target shape already set on the output value */
      if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
      return add_node(c, n, NN_OP_RESHAPE, ins, 1, n->value, &a);
    case K_PAD: {
      if ((rc = need_inputs(c, n, 2, 2))) return rc;
      int64_t p[NN_MAX_RANK * 2], sh[2];
      int cnt;
      if ((rc = const_ints(c, n, 1, "paddings", p, NN_MAX_RANK * 2, &cnt, sh))) return rc;
      for (int i = 0; i < cnt; i++)
        if (p[i] < 0 || p[i] > 65536)
          return node_fail(c, EMO_EUNSUPPORTED, n, "padding %lld out of range [0, 65536]",
                           (long long)p[i]);
      for (int d = 0; d < (int)sh[0]; d++) {
        a.pads[d][0] = p[2 * d];
        a.pads[d][1] = p[2 * d + 1];
      }
      if ((ins[0] = act_input(c, n, 0, &rc)) < 0) return rc;
      return add_node(c, n, NN_OP_PAD, ins, 1, n->value, &a);
    }
    case K_CONCAT: {
      if ((rc = need_inputs(c, n, 2, NN_MAX_NODE_IO + 1))) return rc;
      int64_t ax;
      int cnt;
      if ((rc = const_ints(c, n, n->n_in - 1, "axis", &ax, 1, &cnt, NULL))) return rc;
      if (cnt != 1 || ax < -NN_MAX_RANK || ax >= NN_MAX_RANK)
        return node_fail(c, EMO_EMODEL, n, "axis must be one int in range");
      a.axis = (int)ax;
      int64_t nattr;
      int has_n = attr_int(n, "N", &nattr);
      if (has_n < 0 || (has_n > 0 && nattr != n->n_in - 1))
        return node_fail(c, EMO_EMODEL, n, "attr 'N' disagrees with the %d inputs", n->n_in - 1);
      for (int i = 0; i < n->n_in - 1; i++)
        if ((ins[i] = act_input(c, n, i, &rc)) < 0) return rc;
      return add_node(c, n, NN_OP_CONCAT, ins, n->n_in - 1, n->value, &a);
    }
    default: return EMO_OK; /* Placeholder, Const, Identity, NoOp: nothing to emit */
  }
}

/* Placeholder shape {"shape": {"dim": [{"size": "-1"}, ...]}}; batch -1 becomes 1. */
static int placeholder_value(build_ctx *c, tf_node *n) {
  const cJSON *a = attr_get(n, "dtype");
  const cJSON *t = a ? cJSON_GetObjectItemCaseSensitive(a, "type") : NULL;
  if (t && (!cJSON_IsString(t) || !t->valuestring || strcmp(t->valuestring, "DT_FLOAT") != 0))
    return node_fail(c, EMO_EUNSUPPORTED, n, "only DT_FLOAT inputs are supported");
  a = attr_get(n, "shape");
  const cJSON *s = a ? cJSON_GetObjectItemCaseSensitive(a, "shape") : NULL;
  const cJSON *dims = s ? cJSON_GetObjectItemCaseSensitive(s, "dim") : NULL;
  if (!cJSON_IsArray(dims)) return node_fail(c, EMO_EUNSUPPORTED, n, "input of unknown shape");
  int64_t shape[NN_MAX_RANK], ne = 1;
  int rank = 0;
  const cJSON *d;
  cJSON_ArrayForEach(d, dims) {
    int64_t v;
    if (rank >= NN_MAX_RANK)
      return node_fail(c, EMO_EUNSUPPORTED, n, "input of rank > %d", NN_MAX_RANK);
    if (json_int(cJSON_GetObjectItemCaseSensitive(d, "size"), &v) != 0)
      return node_fail(c, EMO_EMODEL, n, "input dim %d is malformed", rank);
    if (v == -1 && rank == 0) v = 1;
    if (v < 1) return node_fail(c, EMO_EUNSUPPORTED, n, "input dim %d is unknown", rank);
    if (v > NN_TFJS_MAX_ELEMS || (ne *= v) > NN_TFJS_MAX_ELEMS)
      return node_fail(c, EMO_EMODEL, n, "input shape too large");
    shape[rank++] = v;
  }
  n->value = nn_graph_add_value(c->g, n->name, NN_F32, rank, shape, c->err);
  return n->value < 0 ? n->value : EMO_OK;
}

static int reshape_value(build_ctx *c, tf_node *n) {
  int rc = need_inputs(c, n, 2, 2);
  if (rc) return rc;
  int64_t shape[NN_MAX_RANK];
  int cnt, unknown = 0;
  if ((rc = const_ints(c, n, 1, "shape", shape, NN_MAX_RANK, &cnt, NULL))) return rc;
  for (int i = 0; i < cnt; i++) {
    if (shape[i] == -1)
      unknown++;
    else if (shape[i] < 0 || shape[i] > NN_TFJS_MAX_ELEMS)
      return node_fail(c, EMO_EMODEL, n, "target dim %d is %lld", i, (long long)shape[i]);
  }
  if (unknown > 1 && shape[0] == -1) { /* batch -1 and another -1: batch is 1 */
    shape[0] = 1;
    unknown--;
  }
  if (unknown > 1) return node_fail(c, EMO_EMODEL, n, "more than one -1 in target shape");
  n->value = nn_graph_add_value(c->g, n->name, NN_F32, cnt, shape, c->err);
  return n->value < 0 ? n->value : EMO_OK;
}

/* Splits "name:0" / "^name" into a lookup name; returns 0 data, 1 control, -1 an output
 * index other than 0, -2 a name longer than cap. */
static int input_ref(const char *s, char *buf, size_t cap) {
  int ctrl = s[0] == '^';
  if (ctrl) s++;
  size_t len = strlen(s);
  const char *colon = strrchr(s, ':');
  if (colon && colon[1]) {
    const char *p = colon + 1;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == 0) { /* numeric output suffix */
      if (!(colon[1] == '0' && colon[2] == 0) && !ctrl) return -1;
      len = (size_t)(colon - s);
    }
  }
  if (len >= cap) return -2;
  memcpy(buf, s, len);
  buf[len] = 0;
  return ctrl;
}

static int check_const(build_ctx *c, tf_node *n) {
  n->weight = nn_tfjs_weights_find(&c->weights, n->name);
  if (!n->weight) return node_fail(c, EMO_EMODEL, n, "no weight of this name in weightsManifest");
  /* The node's own description of its tensor, when present, must agree with the manifest. */
  const cJSON *v = attr_get(n, "value");
  const cJSON *t = v ? cJSON_GetObjectItemCaseSensitive(v, "tensor") : NULL;
  const cJSON *ts = t ? cJSON_GetObjectItemCaseSensitive(t, "tensorShape") : NULL;
  if (ts) {
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(ts, "dim");
    int rank = 0, bad = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, dims) {
      int64_t s;
      if (rank >= n->weight->rank ||
          json_int(cJSON_GetObjectItemCaseSensitive(d, "size"), &s) != 0 ||
          s != n->weight->shape[rank]) {
        bad = 1;
        break;
      }
      rank++;
    }
    if (bad || rank != n->weight->rank || (dims && !cJSON_IsArray(dims)))
      return node_fail(c, EMO_EMODEL, n, "tensorShape disagrees with the weightsManifest shape");
  }
  const cJSON *dt = t ? cJSON_GetObjectItemCaseSensitive(t, "dtype") : NULL;
  if (cJSON_IsString(dt) && dt->valuestring) {
    int want = n->weight->dtype == NN_F32 ? strcmp(dt->valuestring, "DT_FLOAT") == 0
                                          : strcmp(dt->valuestring, "DT_INT32") == 0;
    if (!want) return node_fail(c, EMO_EMODEL, n, "dtype disagrees with the weightsManifest");
  }
  return EMO_OK;
}

static int add_output(build_ctx *c, int *outs, int *n_out, int v, const char *what) {
  for (int i = 0; i < *n_out; i++)
    if (outs[i] == v) return EMO_OK;
  if (*n_out >= NN_MAX_GRAPH_IO)
    return emoi_fail(c->err, EMO_EUNSUPPORTED, "%s: more than %d outputs (at '%.200s')", c->src,
                     NN_MAX_GRAPH_IO, what);
  outs[(*n_out)++] = v;
  return EMO_OK;
}

/* Output value of node index r (resolved), or a negative status. */
static int output_value(build_ctx *c, int r, const char *what) {
  if (r < 0) return EMO_EMODEL;
  if (c->nodes[r].value < 0)
    return emoi_fail(c->err, EMO_EUNSUPPORTED, "%s: output '%.200s' is not computed (op %s)",
                     c->src, what, c->nodes[r].op);
  return c->nodes[r].value;
}

static int build(build_ctx *c, const cJSON *root, const void *const *shards, const size_t *sizes,
                 int n_shards) {
  const char *src = c->src;
  int rc;
  if (!cJSON_IsObject(root)) return emoi_fail(c->err, EMO_EMODEL, "%s: not a JSON object", src);
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (fmt &&
      (!cJSON_IsString(fmt) || !fmt->valuestring || strcmp(fmt->valuestring, "graph-model") != 0))
    return emoi_fail(c->err, EMO_EUNSUPPORTED,
                     "%s: format '%.40s' is not supported (graph-model only)", src,
                     cJSON_IsString(fmt) && fmt->valuestring ? fmt->valuestring : "?");
  const cJSON *topo = cJSON_GetObjectItemCaseSensitive(root, "modelTopology");
  const cJSON *jnodes = topo ? cJSON_GetObjectItemCaseSensitive(topo, "node") : NULL;
  if (!cJSON_IsArray(jnodes))
    return emoi_fail(c->err, EMO_EMODEL, "%s: modelTopology.node missing or not an array", src);
  const cJSON *manifest = cJSON_GetObjectItemCaseSensitive(root, "weightsManifest");
  if (!manifest) return emoi_fail(c->err, EMO_EMODEL, "%s: weightsManifest missing", src);
  if ((rc = nn_tfjs_weights_decode(manifest, shards, sizes, n_shards, src, &c->weights, c->err)))
    return rc;

  /* Nodes. */
  int n = cJSON_GetArraySize(jnodes);
  if (n > NN_TFJS_MAX_NODES)
    return emoi_fail(c->err, EMO_EMODEL, "%s: more than %d nodes", src, NN_TFJS_MAX_NODES);
  c->nodes = calloc((size_t)n + 1, sizeof *c->nodes);
  if (!c->nodes) return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", src);
  int total_in = 0;
  const cJSON *jn;
  cJSON_ArrayForEach(jn, jnodes) {
    tf_node *t = &c->nodes[c->n_nodes];
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(jn, "name");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(jn, "op");
    if (!cJSON_IsString(nm) || !nm->valuestring || !nm->valuestring[0] || !cJSON_IsString(op) ||
        !op->valuestring)
      return emoi_fail(c->err, EMO_EMODEL, "%s: modelTopology.node[%d] needs 'name' and 'op'", src,
                       c->n_nodes);
    t->name = nm->valuestring;
    t->op = op->valuestring;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(jn, "attr");
    if (at && !cJSON_IsObject(at)) return node_fail(c, EMO_EMODEL, t, "'attr' is not an object");
    t->attr = at;
    t->value = -1;
    for (int l = 0; l < NN_TFJS_LAYOUT_COUNT; l++) t->cid[l] = -1;
    size_t k = 0;
    for (; k < sizeof op_table / sizeof op_table[0]; k++)
      if (strcmp(op_table[k].name, t->op) == 0) break;
    if (k == sizeof op_table / sizeof op_table[0])
      return node_fail(c, EMO_EUNSUPPORTED, t, "op '%.60s' is not supported", t->op);
    t->kind = op_table[k].kind;
    t->nnop = op_table[k].op;
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(jn, "input");
    if (ins && !cJSON_IsArray(ins)) return node_fail(c, EMO_EMODEL, t, "'input' is not a list");
    int ni = cJSON_GetArraySize(ins);
    if (ni > 64) return node_fail(c, EMO_EUNSUPPORTED, t, "%d inputs", ni);
    total_in += ni;
    c->n_nodes++;
  }
  int dup;
  if ((rc = index_build(c->nodes, c->n_nodes, node_name_of, &c->index, &c->index_cap, &dup)))
    return emoi_fail(c->err, rc, "%s: out of memory", src);
  if (dup >= 0) return node_fail(c, EMO_EMODEL, &c->nodes[dup], "duplicate node name");

  /* Inputs, by node index. */
  c->inputs = malloc(((size_t)total_in + 1) * sizeof *c->inputs);
  if (!c->inputs) return emoi_fail(c->err, EMO_ENOMEM, "%s: out of memory", src);
  int pos = 0, ni = 0;
  cJSON_ArrayForEach(jn, jnodes) {
    tf_node *t = &c->nodes[ni++];
    t->in_start = pos;
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(jn, "input")) {
      char ref[512];
      if (!cJSON_IsString(in) || !in->valuestring)
        return node_fail(c, EMO_EMODEL, t, "input %d is not a string", t->n_in);
      int kind = input_ref(in->valuestring, ref, sizeof ref);
      if (kind == -2) return node_fail(c, EMO_EMODEL, t, "input %d: name too long", t->n_in);
      if (kind < 0)
        return node_fail(c, EMO_EUNSUPPORTED, t, "input '%.200s' uses an output index > 0",
                         in->valuestring);
      int k = index_find(c->nodes, node_name_of, c->index, c->index_cap, ref);
      if (k < 0)
        return node_fail(c, EMO_EMODEL, t, "input '%.200s' names no node", in->valuestring);
      if (kind == 1) continue; /* control dependency: order only */
      c->inputs[pos++] = k;
      t->n_in++;
      c->nodes[k].consumed = 1;
    }
  }

  if ((rc = nn_graph_create(src, &c->g, c->err))) return rc;
  /* Constants, placeholders and compute values first, so nodes may refer forward. */
  int in_ids[NN_MAX_GRAPH_IO], n_inputs = 0;
  for (int i = 0; i < c->n_nodes; i++) {
    tf_node *t = &c->nodes[i];
    switch (t->kind) {
      case K_CONST:
        if ((rc = need_inputs(c, t, 0, 0)) || (rc = check_const(c, t))) return rc;
        break;
      case K_IDENTITY:
        if ((rc = need_inputs(c, t, 1, 1))) return rc;
        break;
      case K_NOOP: break;
      case K_PLACEHOLDER:
        if ((rc = placeholder_value(c, t))) return rc;
        if (n_inputs >= NN_MAX_GRAPH_IO)
          return node_fail(c, EMO_EUNSUPPORTED, t, "more than %d inputs", NN_MAX_GRAPH_IO);
        in_ids[n_inputs++] = t->value;
        break;
      case K_RESHAPE: break; /* needs its shape constant: after all constants are known */
      default:
        t->value = nn_graph_add_value(c->g, t->name, NN_F32, 0, NULL, c->err);
        if (t->value < 0) return t->value;
    }
  }
  for (int i = 0; i < c->n_nodes; i++)
    if (c->nodes[i].kind == K_RESHAPE && (rc = reshape_value(c, &c->nodes[i]))) return rc;
  for (int i = 0; i < c->n_nodes; i++)
    if ((rc = emit_node(c, &c->nodes[i]))) return rc;

  /* Outputs. */
  int outs[NN_MAX_GRAPH_IO], n_out = 0;
  const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "signature");
  const cJSON *souts = sig ? cJSON_GetObjectItemCaseSensitive(sig, "outputs") : NULL;
  if (cJSON_IsObject(souts) && souts->child) {
    const cJSON *o;
    cJSON_ArrayForEach(o, souts) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
      char ref[512];
      if (!cJSON_IsString(nm) || !nm->valuestring || input_ref(nm->valuestring, ref, sizeof ref))
        return emoi_fail(c->err, EMO_EMODEL, "%s: signature.outputs entry without a valid name",
                         src);
      int k = index_find(c->nodes, node_name_of, c->index, c->index_cap, ref);
      if (k < 0)
        return emoi_fail(c->err, EMO_EMODEL, "%s: signature output '%.200s' names no node", src,
                         ref);
      int v = output_value(c, resolve(c, k), ref);
      if (v < 0) return v;
      if ((rc = add_output(c, outs, &n_out, v, ref))) return rc;
    }
  } else {
    for (int i = 0; i < c->n_nodes; i++) {
      tf_node *t = &c->nodes[i];
      if (t->consumed || t->kind == K_CONST || t->kind == K_PLACEHOLDER || t->kind == K_NOOP)
        continue;
      int v = output_value(c, resolve(c, i), t->name);
      if (v < 0) return v;
      if ((rc = add_output(c, outs, &n_out, v, t->name))) return rc;
    }
  }
  if (n_inputs == 0) return emoi_fail(c->err, EMO_EMODEL, "%s: graph has no Placeholder", src);
  if (n_out == 0) return emoi_fail(c->err, EMO_EMODEL, "%s: graph has no outputs", src);
  if ((rc = nn_graph_set_io(c->g, in_ids, n_inputs, outs, n_out, c->err))) return rc;
  return nn_graph_finalize(c->g, c->err);
}

static int load_parsed(const cJSON *root, const void *const *shards, const size_t *sizes,
                       int n_shards, const char *source, nn_graph **out, emoi_err *err) {
  build_ctx c;
  memset(&c, 0, sizeof c);
  c.src = source ? source : "(memory)";
  c.err = err;
  int rc = build(&c, root, shards, sizes, n_shards);
  if (rc == EMO_OK) {
    *out = c.g;
    c.g = NULL;
  } else {
    nn_graph_destroy(&c.g);
  }
  nn_tfjs_weights_free(&c.weights);
  free(c.nodes);
  free(c.index);
  free(c.inputs);
  return rc;
}

static cJSON *parse_json(const char *json, size_t len, const char *src, emoi_err *err, int *rc) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root) {
    long off = end && end >= json && end <= json + len ? (long)(end - json) : -1;
    *rc = emoi_fail(err, EMO_EMODEL, "%s: invalid JSON (near byte %ld)", src, off);
  }
  return root;
}

int nn_tfjs_load_memory(const char *json, size_t json_len, const void *const *shards,
                        const size_t *shard_sizes, int n_shards, const char *source, nn_graph **out,
                        emoi_err *err) {
  if (!out || (!json && json_len)) return emoi_fail(err, EMO_EINVAL, "nn_tfjs_load_memory: NULL");
  *out = NULL;
  const char *src = source ? source : "(memory)";
  int rc = EMO_OK;
  cJSON *root = parse_json(json ? json : "", json_len, src, err, &rc);
  if (!root) return rc;
  rc = load_parsed(root, shards, shard_sizes, n_shards, src, out, err);
  cJSON_Delete(root);
  return rc;
}

int nn_tfjs_load(const char *model_json_path, int64_t max_bytes, nn_graph **out, emoi_err *err) {
  if (!out || !model_json_path) return emoi_fail(err, EMO_EINVAL, "nn_tfjs_load: NULL argument");
  *out = NULL;
  unsigned char *json = NULL;
  size_t len = 0;
  int rc = emoi_file_read(model_json_path, max_bytes, 0, &json, &len, err);
  if (rc) return rc;
  cJSON *root = parse_json((const char *)json, len, model_json_path, err, &rc);
  free(json);
  if (!root) return rc;
  const cJSON *manifest = cJSON_GetObjectItemCaseSensitive(root, "weightsManifest");
  nn_tfjs_shards sh;
  memset(&sh, 0, sizeof sh);
  if (!manifest) {
    rc = emoi_fail(err, EMO_EMODEL, "%s: weightsManifest missing", model_json_path);
  } else if ((rc = nn_tfjs_shards_read(manifest, model_json_path, max_bytes, &sh, err)) == EMO_OK) {
    rc = load_parsed(root, (const void *const *)sh.data, sh.size, sh.n, model_json_path, out, err);
  }
  nn_tfjs_shards_free(&sh);
  cJSON_Delete(root);
  return rc;
}
