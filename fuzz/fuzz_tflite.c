/* fuzz_tflite.c: libFuzzer harness for the TFLite reader (nn/tflite_reader.c) and, through
 * it, the graph builder's checks and shape inference (nn/graph.c). Any input must either load
 * into a finalized graph or fail with EMO_EMODEL / EMO_EUNSUPPORTED (or EMO_ELIMIT from a
 * graph cap) and a non-empty message; anything else, or a sanitizer report, is a bug.
 * Seeds: fuzz/corpus/tflite/ (small synthetic models written by tests/test_tflite.c).
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_tflite.c
 *        src/nn/tflite_reader.c src/nn/graph.c src/core/err.c -lm */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "nn/nn.h"
#include "nn/tflite_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc = nn_tflite_load(data, size, "fuzz.tflite", &g, &err);
  if (rc == EMO_OK) {
    /* touch what a plan would read: every constant's bytes and every value's shape */
    volatile float sink = 0;
    for (int i = 0; i < g->n_values; i++) {
      const nn_value *v = &g->values[i];
      if (v->is_const && v->const_bytes >= 4) sink += *(const float *)nn_graph_const_data(g, i);
    }
    (void)sink;
    nn_graph_destroy(&g);
    return 0;
  }
  if (g != NULL) abort();       /* a failed load must not hand out a graph */
  if (err.msg[0] == 0) abort(); /* every failure says why */
  if (rc != EMO_EMODEL && rc != EMO_EUNSUPPORTED && rc != EMO_ELIMIT) abort();
  return 0;
}
