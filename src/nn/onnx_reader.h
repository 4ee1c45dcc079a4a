/* onnx_reader.h: loads an ONNX model (onnx/onnx.proto, protobuf wire format) into emo's
 * internal graph (nn/nn.h). Two layers:
 *   1. nn_onnx_parse: a bounds-checked protobuf reader for the ModelProto subset emo needs
 *      (graph nodes, initializers with raw_data or typed data, graph inputs/outputs with
 *      shapes, attributes including subgraphs for If/Loop) into a plain in-memory form
 *      (onnx_model below). Exposed for dev/onnx_dump.c and tests.
 *   2. nn_onnx_load: lowering to nn_graph. Graph inputs get fixed shapes (unknown dims = 1,
 *      or the caller's), integer inputs may be frozen to constants (e.g. Silero's sample
 *      rate), and every node whose inputs are all known constants is evaluated at load time
 *      (shape arithmetic, If with a constant condition is replaced by its branch). What is left
 *      is mapped onto nn ops; anything else is EMO_EUNSUPPORTED naming op, node and file.
 * Running is left to nn/plan.c. Follows the ONNX IR spec (onnx/docs/IR.md, Operators.md). */
#ifndef EMO_NN_ONNX_READER_H
#define EMO_NN_ONNX_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"

#define NN_ONNX_MAX_DEPTH 8                  /* nested subgraphs (If/Loop bodies) */
#define NN_ONNX_MAX_ELEMS ((int64_t)1 << 26) /* elements of any one tensor */
#define NN_ONNX_MAX_ITEMS (1 << 20)          /* nodes, initializers, attributes ... per list */

/* ONNX TensorProto.DataType values used here. */
enum {
  ONNX_FLOAT = 1,
  ONNX_UINT8 = 2,
  ONNX_INT8 = 3,
  ONNX_INT32 = 6,
  ONNX_INT64 = 7,
  ONNX_BOOL = 9,
  ONNX_DOUBLE = 11
};

typedef struct onnx_tensor {
  const char *name;
  int dtype; /* ONNX data type */
  int rank;
  int64_t dims[NN_MAX_RANK];
  int64_t numel;
  float *f;   /* (numel) when dtype is FLOAT or DOUBLE (converted), else NULL */
  int64_t *i; /* (numel) for integer and bool types (widened), else NULL */
} onnx_tensor;

struct onnx_graph;

enum {
  ONNX_ATTR_FLOAT = 1,
  ONNX_ATTR_INT = 2,
  ONNX_ATTR_STRING = 3,
  ONNX_ATTR_TENSOR = 4,
  ONNX_ATTR_GRAPH = 5,
  ONNX_ATTR_FLOATS = 6,
  ONNX_ATTR_INTS = 7,
  ONNX_ATTR_STRINGS = 8
};

typedef struct onnx_attr {
  const char *name;
  int type; /* ONNX_ATTR_*, or 0 when unknown */
  float f;
  int64_t i;
  const char *s;
  onnx_tensor *t;
  struct onnx_graph *g;
  float *floats; /* (n) */
  int64_t *ints; /* (n) */
  int n;
} onnx_attr;

typedef struct onnx_node {
  const char *name, *op_type, *domain;
  const char **in; /* (n_in); "" = optional input absent */
  int n_in;
  const char **out; /* (n_out) */
  int n_out;
  onnx_attr *attrs; /* (n_attrs) */
  int n_attrs;
} onnx_node;

typedef struct onnx_vinfo {
  const char *name;
  int elem_type;             /* 0 when not given */
  int rank;                  /* -1 when no shape is given */
  int64_t dims[NN_MAX_RANK]; /* -1 = symbolic or unknown */
} onnx_vinfo;

typedef struct onnx_graph {
  const char *name;
  onnx_node *nodes;
  int n_nodes;
  onnx_tensor *inits;
  int n_inits;
  onnx_vinfo *inputs, *outputs;
  int n_inputs, n_outputs;
} onnx_graph;

typedef struct onnx_model {
  int64_t ir_version;
  int64_t opset; /* of the default domain, 0 when absent */
  onnx_graph *graph;
  void *arena; /* owns everything above */
} onnx_model;

/* Parses size bytes at data (borrowed; only read during the call: everything is copied).
 * Returns EMO_OK and *out (free with nn_onnx_free), or EMO_EMODEL naming the field at fault,
 * EMO_ELIMIT, EMO_ENOMEM. Never reads outside the buffer; nesting is capped. */
int nn_onnx_parse(const void *data, size_t size, const char *source, onnx_model **out,
                  emoi_err *err);
void nn_onnx_free(onnx_model **m);

/* Load options: fixed shapes for graph inputs and integer inputs frozen to a value. */
typedef struct nn_onnx_options {
  struct {
    const char *name;
    int rank;
    int64_t dims[NN_MAX_RANK];
  } shapes[NN_MAX_GRAPH_IO];
  int n_shapes;
  struct {
    const char *name;
    int64_t value; /* the input becomes a scalar (or its declared shape filled) constant */
  } consts[NN_MAX_GRAPH_IO];
  int n_consts;
} nn_onnx_options;

/* Builds a finalized nn_graph from ONNX bytes (borrowed during the call). Graph inputs that
 * are not frozen must be float32; unknown dimensions become 1 unless opt gives the shape.
 * Value names are the ONNX names. opt may be NULL. Returns EMO_OK; EMO_EMODEL (malformed);
 * EMO_EUNSUPPORTED naming op, node and file; EMO_ENOMEM; EMO_ELIMIT. Thread-safe. */
int nn_onnx_load_ex(const void *data, size_t size, const char *source, const nn_onnx_options *opt,
                    nn_graph **out, emoi_err *err);
int nn_onnx_load(const void *data, size_t size, const char *source, nn_graph **out, emoi_err *err);

#endif
