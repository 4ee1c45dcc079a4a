/* fuzz_tfjs.c: libFuzzer harness for the TF.js graph-model reader (nn/tfjs_reader.c: JSON,
 * attributes, base64, weights manifest, float16/uint8/uint16 decoding, layout conversion),
 * face-api's expression-net builder (vision/faceapi_expression_net.c) and, through them, the graph
 * builder's checks and shape inference (nn/graph.c).
 * Input layout: model JSON, a 0 byte, then the bytes of the one weight shard (no 0 byte:
 * all JSON, empty shard). The same split is fed to both loaders (a graph model is an object,
 * a face-api manifest an array). Any input must load into a finalized graph or fail with a
 * non-empty message and a status among EMO_EMODEL / EMO_EUNSUPPORTED / EMO_ELIMIT /
 * EMO_ENOMEM; anything else, or a sanitizer report, is a bug.
 * Seeds: fuzz/corpus/tfjs/ (small hand-made models; none taken from real model files).
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_tfjs.c
 *        src/nn/tfjs_reader.c src/vision/faceapi_expression_net.c src/nn/graph.c src/core/err.c
 *        -lcjson -lm */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/tfjs_reader.h"
#include "vision/faceapi_expression_net.h"

static void check(int rc, nn_graph *g, const emoi_err *err) {
  if (rc == EMO_OK) {
    if (!g || !g->finalized) abort();
    /* touch what a plan would read: every constant's bytes and every value's shape */
    volatile float sink = 0;
    for (int i = 0; i < g->n_values; i++) {
      const nn_value *v = &g->values[i];
      if (v->is_const && v->const_bytes >= 4) sink += *(const float *)nn_graph_const_data(g, i);
      if (v->rank < 0 || v->rank > NN_MAX_RANK) abort();
    }
    (void)sink;
    return;
  }
  if (g) abort();
  if (rc != EMO_EMODEL && rc != EMO_EUNSUPPORTED && rc != EMO_ELIMIT && rc != EMO_ENOMEM) abort();
  if (err->msg[0] == 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *zero = memchr(data, 0, size);
  size_t json_len = zero ? (size_t)(zero - data) : size;
  const uint8_t *shard = zero ? zero + 1 : data + size;
  size_t shard_len = zero ? size - json_len - 1 : 0;
  /* a private copy of the shard, so that ASan sees reads past its end */
  uint8_t *sh = malloc(shard_len ? shard_len : 1);
  if (!sh) return 0;
  if (shard_len) memcpy(sh, shard, shard_len);
  const void *shards[1] = {sh};
  size_t sizes[1] = {shard_len};

  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc =
      nn_tfjs_load_memory((const char *)data, json_len, shards, sizes, 1, "fuzz.json", &g, &err);
  check(rc, g, &err);
  nn_graph_destroy(&g);

  err.msg[0] = 0;
  rc = fe_faceapi_net_load_memory((const char *)data, json_len, shards, sizes, 1,
                                  "fuzz-manifest.json", &g, &err);
  check(rc, g, &err);
  nn_graph_destroy(&g);
  free(sh);
  return 0;
}
