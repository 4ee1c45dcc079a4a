/* onnx_dump.c: developer tool (not built by CMake) that parses an .onnx file with emo's
 * protobuf reader (nn/onnx_reader.c, nn_onnx_parse) and prints the graph as ONNX sees it:
 * opset, inputs/outputs with shapes, initializers, every node with op type, inputs, outputs
 * and attributes, recursing into subgraphs (If/Loop), and a count per op type.
 *
 * Build from the repository root:
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc dev/onnx_dump.c \
 *       src/nn/onnx_reader.c src/core/file.c src/core/err.c -lm -o /tmp/onnx_dump
 * Usage: onnx_dump model.onnx */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "nn/onnx_reader.h"

static struct {
  const char *op;
  int n;
} counts[256];
static int n_counts;

static void count(const char *op) {
  for (int i = 0; i < n_counts; i++)
    if (!strcmp(counts[i].op, op)) {
      counts[i].n++;
      return;
    }
  if (n_counts < 256) {
    counts[n_counts].op = op;
    counts[n_counts++].n = 1;
  }
}

static void dims(int rank, const int64_t *d) {
  printf("(");
  for (int i = 0; i < rank; i++) printf("%s%lld", i ? "," : "", (long long)d[i]);
  printf(")");
}

static void dump_graph(const onnx_graph *g, int ind) {
  for (int i = 0; i < g->n_inputs; i++) {
    printf("%*sinput %s type %d ", ind, "", g->inputs[i].name, g->inputs[i].elem_type);
    dims(g->inputs[i].rank, g->inputs[i].dims);
    printf("\n");
  }
  for (int i = 0; i < g->n_outputs; i++) {
    printf("%*soutput %s type %d ", ind, "", g->outputs[i].name, g->outputs[i].elem_type);
    dims(g->outputs[i].rank, g->outputs[i].dims);
    printf("\n");
  }
  for (int i = 0; i < g->n_inits; i++) {
    const onnx_tensor *t = &g->inits[i];
    printf("%*sinit %s type %d ", ind, "", t->name, t->dtype);
    dims(t->rank, t->dims);
    if (t->numel <= 8) {
      printf(" =");
      for (int64_t k = 0; k < t->numel; k++)
        if (t->f)
          printf(" %g", t->f[k]);
        else
          printf(" %lld", (long long)t->i[k]);
    }
    printf("\n");
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const onnx_node *n = &g->nodes[i];
    count(n->op_type);
    printf("%*s%s [%s] (", ind, "", n->op_type, n->name);
    for (int k = 0; k < n->n_in; k++) printf("%s%s", k ? ", " : "", n->in[k]);
    printf(") -> (");
    for (int k = 0; k < n->n_out; k++) printf("%s%s", k ? ", " : "", n->out[k]);
    printf(")");
    for (int k = 0; k < n->n_attrs; k++) {
      const onnx_attr *a = &n->attrs[k];
      printf(" %s=", a->name);
      switch (a->type) {
        case ONNX_ATTR_FLOAT: printf("%g", a->f); break;
        case ONNX_ATTR_INT: printf("%lld", (long long)a->i); break;
        case ONNX_ATTR_STRING: printf("'%s'", a->s); break;
        case ONNX_ATTR_INTS:
          printf("[");
          for (int j = 0; j < a->n; j++) printf("%s%lld", j ? "," : "", (long long)a->ints[j]);
          printf("]");
          break;
        case ONNX_ATTR_FLOATS: printf("[%d floats]", a->n); break;
        case ONNX_ATTR_TENSOR:
          printf("tensor type %d ", a->t->dtype);
          dims(a->t->rank, a->t->dims);
          if (a->t->numel <= 8) {
            printf("=");
            for (int64_t j = 0; j < a->t->numel; j++)
              if (a->t->f)
                printf(" %g", a->t->f[j]);
              else
                printf(" %lld", (long long)a->t->i[j]);
          }
          break;
        case ONNX_ATTR_GRAPH:
          printf("graph {\n");
          dump_graph(a->g, ind + 4);
          printf("%*s}", ind, "");
          break;
        default: printf("?(type %d)", a->type); break;
      }
    }
    printf("\n");
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.onnx\n", argv[0]);
    return 2;
  }
  unsigned char *buf = NULL;
  size_t n = 0;
  emoi_err err = {{0}};
  if (emoi_file_read(argv[1], 0, 0, &buf, &n, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  onnx_model *m = NULL;
  if (nn_onnx_parse(buf, n, argv[1], &m, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    free(buf);
    return 1;
  }
  printf("ir_version %lld opset %lld\n", (long long)m->ir_version, (long long)m->opset);
  dump_graph(m->graph, 0);
  printf("op counts:\n");
  for (int i = 0; i < n_counts; i++) printf("  %-20s %d\n", counts[i].op, counts[i].n);
  nn_onnx_free(&m);
  free(buf);
  return 0;
}
