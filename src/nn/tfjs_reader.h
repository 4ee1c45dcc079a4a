/* tfjs_reader.h: loads a TensorFlow.js graph model (model.json with "format": "graph-model",
 * a GraphDef-like modelTopology.node list plus a weightsManifest pointing at binary shards;
 * see tfjs-converter's docs and tfjs-core's io/types.ts) into emo's internal graph
 * (nn/nn.h), converting weight layouts at load time (HWIO conv filters to OHWI, depthwise
 * (Kh,Kw,C,M) to (1,Kh,Kw,C*M), MatMul (In,Out) to (Out,In)). Also exposes the
 * weights-manifest decoder (shards, float16 and uint8/uint16 affine dequantization) that
 * vision/faceapi_expression_net.c reuses. Running the graph is left to nn/plan.c. */
#ifndef EMO_NN_TFJS_READER_H
#define EMO_NN_TFJS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"

/* Caps on what a file may claim (a larger claim is rejected as EMO_EMODEL). */
#define NN_TFJS_MAX_NODES 65536
#define NN_TFJS_MAX_WEIGHTS 65536
#define NN_TFJS_MAX_SHARDS 4096
#define NN_TFJS_MAX_ELEMS ((int64_t)1 << 28) /* elements of any one weight */

/* Reads the graph model at model_json_path and its weight shards (the manifest's paths,
 * relative to the JSON file's folder; absolute paths and ".." are refused) and builds a
 * finalized graph into *out (caller owns it, frees with nn_graph_destroy). Every file, and
 * the shards together, must be at most max_bytes long (max_bytes <= 0: no cap), else
 * EMO_ELIMIT. The graph's inputs are the Placeholder nodes in file order (batch -1 becomes
 * 1); its outputs are signature.outputs when the file has them, otherwise every non-Const
 * node that no other node consumes, in file order (Identity nodes are looked through, so
 * an output value carries the name of the node that computes it).
 * Returns EMO_OK; EMO_EIO (a file cannot be read); EMO_EMODEL (malformed: the message
 * names the file and the field or node); EMO_EUNSUPPORTED (an op, attribute or dtype emo
 * lacks: the message names the op, node and file); EMO_ELIMIT; EMO_ENOMEM; or an error of
 * nn_graph_finalize. Thread-safe (no shared state). */
int nn_tfjs_load(const char *model_json_path, int64_t max_bytes, nn_graph **out, emoi_err *err);

/* Same from memory: json (json_len bytes, need not be NUL-terminated) and the manifest's
 * shards in manifest order (n_shards buffers, all borrowed, only read during the call).
 * n_shards must equal the number of paths in the manifest, or be 1, in which case the one
 * buffer is the concatenation of all shards. source names the model in messages (may be
 * NULL). Never reads outside the given buffers. */
int nn_tfjs_load_memory(const char *json, size_t json_len, const void *const *shards,
                        const size_t *shard_sizes, int n_shards, const char *source, nn_graph **out,
                        emoi_err *err);

/* ---- Weights manifest (shared with vision/faceapi_expression_net.c) ---------------- */

struct cJSON; /* <cjson/cJSON.h> */

/* One decoded weight: dtype NN_F32 (float32, float16 and dequantized uint8/uint16 entries)
 * or NN_I32. */
typedef struct nn_tfjs_weight {
  char *name; /* owned */
  nn_dtype dtype;
  int rank;
  int64_t shape[NN_MAX_RANK];
  int64_t numel;
  void *data; /* (numel) float or int32_t, owned; NULL when numel is 0 */
} nn_tfjs_weight;

typedef struct nn_tfjs_weights {
  nn_tfjs_weight *w; /* (n) in manifest order */
  int n;
  int *index;       /* (index_cap) open-addressing hash of names to w indices, -1 empty */
  size_t index_cap; /* power of two */
} nn_tfjs_weights;

/* The shard files a manifest names, read into memory. */
typedef struct nn_tfjs_shards {
  unsigned char **data; /* (n) owned buffers */
  size_t *size;         /* (n) */
  int n;
} nn_tfjs_shards;

/* Decodes every weight of manifest (a JSON array of groups {paths: [...], weights: [{name,
 * shape, dtype, quantization?}]}) from the shards. Within a group, weights lie back to
 * back from the group's first byte; groups follow each other in manifest order over the
 * shards concatenated in manifest order. Every byte range is checked against the shards.
 * n_shards is the total number of paths, or 1 (the concatenation). On success *out owns
 * the decoded weights (free with nn_tfjs_weights_free); on failure *out is empty.
 * Returns EMO_OK, EMO_EMODEL (naming source and the field), EMO_EUNSUPPORTED (a dtype or
 * quantization emo lacks) or EMO_ENOMEM. */
int nn_tfjs_weights_decode(const struct cJSON *manifest, const void *const *shards,
                           const size_t *shard_sizes, int n_shards, const char *source,
                           nn_tfjs_weights *out, emoi_err *err);

/* The weight named name, or NULL. */
const nn_tfjs_weight *nn_tfjs_weights_find(const nn_tfjs_weights *ws, const char *name);

/* Layouts a weight may enter a graph in (nn.h's conventions from TF's). */
typedef enum nn_tfjs_layout {
  NN_TFJS_RAW = 0,   /* as stored */
  NN_TFJS_OHWI,      /* Conv2D filter (Kh,Kw,Ci,Co) -> (Co,Kh,Kw,Ci) */
  NN_TFJS_DEPTHWISE, /* depthwise filter (Kh,Kw,C,M) -> (1,Kh,Kw,C*M) */
  NN_TFJS_FC,        /* MatMul weight (In,Out) -> (Out,In) */
  NN_TFJS_VEC,       /* (1,...,1,C) -> (C) (biases, PReLU alphas); other shapes as stored */
  NN_TFJS_LAYOUT_COUNT
} nn_tfjs_layout;

/* Adds weight w to g as a constant in the given layout, named after the weight (plus a
 * suffix such as "/ohwi" when converted). Returns the value id, or a negative status
 * (EMO_EMODEL when w's rank or dtype does not fit the layout, naming the weight). */
int nn_tfjs_add_weight(nn_graph *g, const nn_tfjs_weight *w, nn_tfjs_layout layout, emoi_err *err);

/* Frees what decode allocated and empties *ws (safe on an empty or zeroed struct). */
void nn_tfjs_weights_free(nn_tfjs_weights *ws);

/* Reads the files that manifest's groups name, relative to the folder of json_path, each
 * and all together at most max_bytes (<= 0: no cap). On success *out owns the buffers
 * (free with nn_tfjs_shards_free). Returns EMO_OK, EMO_EMODEL (a bad path entry), EMO_EIO,
 * EMO_ELIMIT or EMO_ENOMEM. */
int nn_tfjs_shards_read(const struct cJSON *manifest, const char *json_path, int64_t max_bytes,
                        nn_tfjs_shards *out, emoi_err *err);
void nn_tfjs_shards_free(nn_tfjs_shards *s);

#endif
