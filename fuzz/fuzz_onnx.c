/* fuzz_onnx.c: libFuzzer harness for the ONNX reader (src/nn/onnx_reader.c and
 * src/nn/onnx_lower.c): the protobuf parser (nn_onnx_parse) and the lowering to nn_graph
 * (nn_onnx_load, and the Silero VAD options of vad_load_graph: fixed input shapes and a
 * frozen integer input). Every input must
 * give EMO_OK or an explained negative status, never a crash, leak, hang or out-of-bounds
 * access; a loaded graph is planned and run once on the reference kernels when small.
 * Seeds: fuzz/corpus/onnx/ (hand-made models written by tests/test_onnx.c with
 * EMO_WRITE_ONNX_SEEDS; no real model weights). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/vad.h"
#include "core/err.h"
#include "nn/nn.h"
#include "nn/onnx_reader.h"

static void check_graph(nn_graph *g) {
  if (!g || !g->finalized) abort();
  int64_t total = 0;
  for (int i = 0; i < g->n_values; i++)
    if (!g->values[i].is_const) total += nn_value_numel(&g->values[i]);
  if (total > (1 << 20) || g->n_nodes > 2000) return;
  nn_plan *p = NULL;
  emoi_err e;
  e.msg[0] = 0;
  if (nn_plan_create(g, NN_BACKEND_REFERENCE, NULL, &p, &e) == EMO_OK) {
    for (int i = 0; i < g->n_inputs; i++)
      memset(nn_plan_input(p, i), 0, (size_t)nn_value_numel(&g->values[g->inputs[i]]) * 4);
    int rc = nn_plan_run(p, &e);
    if (rc < 0 && !e.msg[0]) abort();
    nn_plan_destroy(&p);
  } else if (!e.msg[0]) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emoi_err e;
  e.msg[0] = 0;
  onnx_model *m = NULL;
  int rc = nn_onnx_parse(data, size, "fuzz.onnx", &m, &e);
  if (rc != EMO_OK) {
    if (m || rc >= 0 || !e.msg[0]) abort();
  }
  nn_onnx_free(&m);
  nn_graph *g = NULL;
  e.msg[0] = 0;
  rc = nn_onnx_load(data, size, "fuzz.onnx", &g, &e);
  if (rc != EMO_OK) {
    if (g || rc >= 0 || !e.msg[0]) abort();
  } else {
    check_graph(g);
  }
  nn_graph_destroy(&g);
  e.msg[0] = 0;
  rc = vad_load_graph(data, size, "fuzz.onnx", &g, &e);
  if (rc != EMO_OK) {
    if (g || rc >= 0 || !e.msg[0]) abort();
  } else {
    check_graph(g);
  }
  nn_graph_destroy(&g);
  return 0;
}
