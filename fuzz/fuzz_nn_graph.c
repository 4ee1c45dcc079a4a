/* fuzz_nn_graph.c: libFuzzer harness for the graph builder and runtime (nn/graph.c,
 * nn/ops_ref.c, nn/plan.c, nn/backend_xnn.c). The bytes are read as a small program of
 * graph-building calls (values with shapes, constants, nodes with arbitrary ops, wiring
 * and attributes, as a hostile model file could make a reader produce); the graph is
 * finalized, and when that succeeds and the graph is small, run on the reference kernels,
 * on XNNPACK, and on XNNPACK with every convolution int8 can take in int8 (nn/qconv.c,
 * nn/dwq.c: needs AVX512-VNNI). Finalize must either succeed or fail with a message; any crash,
 * sanitizer report or hang is a bug. Seeds: fuzz/corpus/nn_graph/. Build: clang
 * -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_nn_graph.c src/nn/graph.c
 * src/nn/ops_ref.c src/nn/plan.c src/nn/backend_xnn.c src/nn/winograd.c src/nn/qconv.c src/nn/dwq.c
 * src/nn/sgemm.c src/nn/resblock.c src/core/isa.c src/core/err.c -lXNNPACK -lpthreadpool -lm
 * -lpthread */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

typedef struct cursor {
  const uint8_t *p;
  size_t n;
} cursor;

static int byte(cursor *c) {
  if (!c->n) return 0;
  c->n--;
  return *c->p++;
}

/* small signed values, mostly in range, sometimes hostile */
static int small(cursor *c) {
  int b = byte(c);
  if (b == 255) return -1 - byte(c);
  if (b == 254) return 1 << (byte(c) % 31);
  return b % 9;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cursor c = {data, size};
  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  if (nn_graph_create("fuzz", &g, &err)) return 0;
  int n_values = 1 + byte(&c) % 12;
  int ids[16], n_ids = 0, first_act = -1;
  float buf[512];
  for (int i = 0; i < 512; i++) buf[i] = (float)((i * 37) % 19) / 7.0f - 1.0f;
  for (int i = 0; i < n_values; i++) {
    int rank = byte(&c) % 6;
    int64_t shape[NN_MAX_RANK];
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) {
      int b = byte(&c);
      shape[d] = b == 255 ? -1 : b == 254 ? ((int64_t)1 << 20) : b % 14;
      if (shape[d] > 0 && numel <= 512) numel *= shape[d]; /* only compared with 512 */
    }
    int kind = byte(&c) % 3; /* 0 activation, 1 constant, 2 activation with unknown dims */
    int id;
    if (kind == 1 && numel <= 512) {
      int ok = 1;
      for (int d = 0; d < rank; d++) ok &= shape[d] >= 0;
      id = ok ? nn_graph_add_const(g, "c", NN_F32, rank, shape, buf, (size_t)numel * 4, &err) : -1;
    } else {
      if (kind == 2)
        for (int d = 0; d < rank; d++) shape[d] = -1;
      id = nn_graph_add_value(g, "v", NN_F32, rank, shape, &err);
      if (id >= 0 && first_act < 0) first_act = id;
    }
    if (id >= 0) ids[n_ids++] = id;
  }
  if (n_ids == 0 || first_act < 0) goto done;
  int n_nodes = 1 + byte(&c) % 8, last_out = -1;
  for (int k = 0; k < n_nodes && c.n; k++) {
    nn_op op = (nn_op)(byte(&c) % (NN_OP_COUNT + 1));
    int n_in = byte(&c) % 4, in[NN_MAX_NODE_IO];
    for (int i = 0; i < n_in; i++) {
      int b = byte(&c);
      in[i] = b == 255 ? -1 : ids[b % n_ids];
    }
    int out = ids[byte(&c) % n_ids];
    nn_attr a = nn_attr_default();
    a.stride_h = small(&c);
    a.stride_w = small(&c);
    a.dilation_h = small(&c);
    a.dilation_w = small(&c);
    a.kernel_h = small(&c);
    a.kernel_w = small(&c);
    a.padding = (nn_padding)(byte(&c) % 4);
    a.pad_top = small(&c);
    a.pad_bottom = small(&c);
    a.pad_left = small(&c);
    a.pad_right = small(&c);
    int act = byte(&c) % 4;
    if (act == 1) a.act_min = 0;
    if (act == 2) a.act_min = 0, a.act_max = 6;
    if (act == 3) a.act_min = 1, a.act_max = 1;
    a.axis = (int)(int8_t)byte(&c);
    a.n_axes = (int)(int8_t)byte(&c) % 8;
    for (int i = 0; i < NN_MAX_RANK; i++) a.axes[i] = (int)(int8_t)byte(&c) % 8;
    a.keepdims = byte(&c) & 1;
    for (int i = 0; i < NN_MAX_RANK; i++) a.pads[i][0] = small(&c), a.pads[i][1] = small(&c);
    a.alpha = 0.1f;
    if (nn_graph_add_node(g, op, in, n_in, &out, 1, &a, "n", &err) >= 0) last_out = out;
  }
  if (last_out < 0) goto done;
  int outs[1] = {last_out};
  if (nn_graph_set_io(g, &first_act, 1, outs, 1, &err)) goto done;
  int rc = nn_graph_finalize(g, &err);
  if (rc != EMO_OK) {
    if (!err.msg[0]) abort(); /* a failure must say why */
    goto done;
  }
  /* run small graphs; every activation was shape-checked by finalize */
  int64_t total = 0;
  for (int i = 0; i < g->n_values; i++)
    if (!g->values[i].is_const) {
      for (int d = 0; d < g->values[i].rank; d++)
        if (g->values[i].shape[d] < 0) total = INT64_MAX / 2; /* unused value, never shaped */
      if (total < INT64_MAX / 4) total += nn_value_numel(&g->values[i]);
    }
  if (total > 20000) goto done;
  /* Bound the arithmetic too (the fuzzer looks for crashes, not slow legal graphs): output
   * elements times window size (pooling, convolution) summed over the nodes. */
  int64_t work = 0;
  for (int k = 0; k < g->n_nodes; k++) {
    const nn_node *nd = &g->nodes[k];
    int64_t win = (int64_t)nd->attr.kernel_h * nd->attr.kernel_w;
    if ((nd->op == NN_OP_CONV2D || nd->op == NN_OP_DEPTHWISE_CONV2D ||
         nd->op == NN_OP_FULLY_CONNECTED) &&
        nd->n_in > 1 && nd->in[1] >= 0) {
      /* loop trips over the weights: a zero-sized dimension (no channels) still leaves the
       * kernel's window loops to run, so it counts as 1 */
      const nn_value *wv = &g->values[nd->in[1]];
      win = 1;
      for (int d = 0; d < wv->rank && win < ((int64_t)1 << 40); d++)
        win *= wv->shape[d] > 1 ? wv->shape[d] : 1;
    }
    if (nd->op == NN_OP_MEAN || nd->op == NN_OP_SOFTMAX) win = total;
    work += nn_value_numel(&g->values[nd->out[0]]) * (win > 0 ? win : 1);
    if (work > 4000000) goto done;
  }
  /* reference kernels, XNNPACK, XNNPACK with every eligible convolution in int8, on the best
     kernels this CPU has and on the AVX2 ones (whose float products run on nn/sgemm.c), and
     XNNPACK with every product on nn/sgemm.c's best kernels */
  const nn_plan_options int8_all[3] = {{.int8 = 1, .int8_min_macs = 1},
                                       {.int8 = 1, .int8_min_macs = 1, .isa = NN_ISA_AVX2},
                                       {.gemm = NN_GEMM_OWN}};
  for (int be = 0; be < 5; be++) {
    nn_plan *p = NULL;
    if (nn_plan_create_ex(g, be == 0 ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK, NULL,
                          be >= 2 ? &int8_all[be - 2] : NULL, &p, &err) != EMO_OK)
      continue;
    float *x = nn_plan_input(p, 0);
    int64_t n = nn_value_numel(&g->values[g->inputs[0]]);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 7) - 3.0f;
    nn_plan_run(p, &err);
    nn_plan_destroy(&p);
  }
done:
  nn_graph_destroy(&g);
  return 0;
}
