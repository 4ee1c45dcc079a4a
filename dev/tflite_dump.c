/* tflite_dump.c: developer tool (not built by CMake) that loads a .tflite file with emo's
 * reader (nn/tflite_reader.c) and prints the resulting graph: inputs, outputs, every node
 * with its op, attributes and input/output values (name, shape, const or not), and a count
 * per op. It prints emo's view of the model, not the raw flatbuffer.
 *
 * Build from the repository root, e.g.:
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc dev/tflite_dump.c \
 *       src/nn/tflite_reader.c src/nn/graph.c src/core/file.c src/core/err.c -lm \
 *       -o /tmp/tflite_dump
 * Usage: tflite_dump model.tflite */
#include <stdio.h>
#include <stdlib.h>

#include "core/file.h"
#include "nn/nn.h"
#include "nn/tflite_reader.h"

static void print_value(const nn_graph *g, int id) {
  if (id < 0) {
    printf("(absent)");
    return;
  }
  const nn_value *v = &g->values[id];
  printf("%s%s(", v->is_const ? "const " : "", v->name);
  for (int d = 0; d < v->rank; d++) printf("%s%lld", d ? "," : "", (long long)v->shape[d]);
  printf(")%s", v->dtype == NN_I32 ? " i32" : "");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.tflite\n", argv[0]);
    return 2;
  }
  unsigned char *b = NULL;
  size_t n = 0;
  emoi_err err = {{0}};
  if (emoi_file_read(argv[1], 0, 0, &b, &n, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  nn_graph *g = NULL;
  int rc = nn_tflite_load(b, n, argv[1], &g, &err);
  free(b);
  if (rc) {
    fprintf(stderr, "error %d: %s\n", rc, err.msg);
    return 1;
  }
  int counts[NN_OP_COUNT] = {0};
  printf("inputs:");
  for (int i = 0; i < g->n_inputs; i++) printf(" "), print_value(g, g->inputs[i]);
  printf("\noutputs:");
  for (int i = 0; i < g->n_outputs; i++) printf(" "), print_value(g, g->outputs[i]);
  printf("\nweight blob: %zu bytes\n", g->blob_size);
  for (int k = 0; k < g->n_nodes; k++) {
    const nn_node *nd = &g->nodes[k];
    const nn_attr *a = &nd->attr;
    if ((unsigned)nd->op < NN_OP_COUNT) counts[nd->op]++;
    printf("%3d %-16s", k, nn_op_name(nd->op));
    for (int j = 0; j < nd->n_in; j++) printf(" "), print_value(g, nd->in[j]);
    printf(" ->");
    for (int j = 0; j < nd->n_out; j++) printf(" "), print_value(g, nd->out[j]);
    switch (nd->op) {
      case NN_OP_CONV2D:
      case NN_OP_DEPTHWISE_CONV2D:
      case NN_OP_MAX_POOL2D:
      case NN_OP_AVG_POOL2D:
        printf(" [k %dx%d s %dx%d d %dx%d %s]", a->kernel_h, a->kernel_w, a->stride_h, a->stride_w,
               a->dilation_h, a->dilation_w,
               a->padding == NN_PAD_SAME    ? "SAME"
               : a->padding == NN_PAD_VALID ? "VALID"
                                            : "EXPL");
        break;
      case NN_OP_PAD:
        printf(" [pads");
        for (int d = 0; d < NN_MAX_RANK; d++)
          if (a->pads[d][0] || a->pads[d][1])
            printf(" d%d:%lld/%lld", d, (long long)a->pads[d][0], (long long)a->pads[d][1]);
        printf("]");
        break;
      case NN_OP_CONCAT: printf(" [axis %d]", a->axis); break;
      default: break;
    }
    if (a->act_min > -1e30f || a->act_max < 1e30f)
      printf(" [clamp %g..%g]", (double)a->act_min, (double)a->act_max);
    printf("\n");
  }
  printf("op counts:");
  for (int o = 0; o < NN_OP_COUNT; o++)
    if (counts[o]) printf(" %s=%d", nn_op_name((nn_op)o), counts[o]);
  printf("\n");
  nn_graph_destroy(&g);
  return 0;
}
