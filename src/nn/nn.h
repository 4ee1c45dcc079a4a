/* nn.h: emo's internal neural-network graph, the one form every model-file reader produces
 * (TFLite flatbuffers, TF.js graph models, face-api weight files) and every backend runs.
 *
 * Layout conventions (fixed, so readers convert once at load time):
 *   - activations are NHWC float32;
 *   - CONV2D weights are (Cout, Kh, Kw, Cin) ("OHWI", TFLite's layout);
 *   - DEPTHWISE_CONV2D weights are (1, Kh, Kw, C*M) with M the depth multiplier (TFLite's);
 *   - FULLY_CONNECTED weights are (Out, In);
 *   - biases are (Cout,).
 * Constants (weights) live in one allocation per graph (the weight blob); a value refers to
 * its bytes by offset so the blob may grow while a reader builds the graph.
 *
 * What this file leaves to others: parsing (nn/tflite_reader.c, nn/tfjs_reader.c,
 * vision/faceapi_expression_net.c), execution (nn/plan.c with nn/ops_ref.c, nn/backend_xnn.c and
 * the fast paths nn/winograd.c and nn/qconv.c). */
#ifndef EMO_NN_H
#define EMO_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define NN_MAX_RANK 6
#define NN_MAX_NODE_IO 8 /* inputs (or outputs) of one node */
#define NN_MAX_GRAPH_IO 8

typedef enum nn_dtype { NN_F32 = 0, NN_I32 = 1, NN_DTYPE_COUNT } nn_dtype;

/* A view of n-dimensional data: shape in elements, strides in bytes. */
typedef struct nn_tensor {
  nn_dtype dtype;
  int rank;
  int64_t shape[NN_MAX_RANK];
  int64_t stride[NN_MAX_RANK];
  void *data;
} nn_tensor;

typedef enum nn_op {
  NN_OP_CONV2D = 0,       /* in: x (N,H,W,Ci), w (Co,Kh,Kw,Ci), [b (Co)] -> (N,Ho,Wo,Co) */
  NN_OP_DEPTHWISE_CONV2D, /* in: x (N,H,W,C), w (1,Kh,Kw,C*M), [b (C*M)] -> (N,Ho,Wo,C*M) */
  NN_OP_FULLY_CONNECTED,  /* in: x (..., In) flattened to (N, In), w (Out,In), [b] -> (N,Out) */
  NN_OP_ADD,              /* in: a, b with numpy broadcasting -> broadcast shape */
  NN_OP_SUB,
  NN_OP_MUL,
  NN_OP_DIV,
  NN_OP_MAXIMUM,
  NN_OP_MINIMUM,
  NN_OP_RELU, /* unary, same shape */
  NN_OP_RELU6,
  NN_OP_SIGMOID,
  NN_OP_TANH,
  NN_OP_LEAKY_RELU,      /* attr.alpha */
  NN_OP_PRELU,           /* in: x (...,C), alpha (C) or broadcastable to x */
  NN_OP_SOFTMAX,         /* over the last axis */
  NN_OP_MAX_POOL2D,      /* attr kernel/stride/padding; NHWC */
  NN_OP_AVG_POOL2D,      /* padding cells are not counted (TF semantics) */
  NN_OP_MEAN,            /* attr.axes/n_axes/keepdims */
  NN_OP_PAD,             /* constant zero padding, attr.pads[dim][0=before,1=after] */
  NN_OP_RESHAPE,         /* output shape = the output value's shape (set by the reader,
                            one -1 allowed, resolved by shape inference) */
  NN_OP_CONCAT,          /* attr.axis (negative counts from the end) */
  NN_OP_RESIZE_BILINEAR, /* in: x (N,H,W,C) [, size (2,) int32 const] -> (N,out_h,out_w,C);
                            attr.out_h/out_w (0 = take them from the size input),
                            attr.align_corners / half_pixel_centers as in TensorFlow */
  NN_OP_SLICE,           /* attr.slice_begin/slice_end per dimension (0 <= begin <= end <=
                            dim, step 1; nn/onnx_reader.c resolves negatives) -> end - begin */
  NN_OP_SQRT,            /* unary, same shape */
  NN_OP_TRANSPOSE,       /* attr.axes[0..n_axes) = the permutation (n_axes = rank):
                            output dimension d is input dimension axes[d] */
  NN_OP_COUNT
} nn_op;

/* Returns a static name such as "CONV2D". */
const char *nn_op_name(nn_op op);

/* Writes the rank dimensions of dims as "2,3,4" into buf (cap bytes, always NUL-ended when cap >
 * 0; cut short when it does not fit): the shapes of the readers' "has shape (%s), expected (%s)"
 * messages. */
void nn_dims_str(char *buf, size_t cap, const int64_t *dims, int rank);

typedef enum nn_padding {
  NN_PAD_VALID = 0,   /* no padding */
  NN_PAD_SAME = 1,    /* TensorFlow SAME: total = max((ceil(in/s)-1)*s + (k-1)*d + 1 - in, 0),
                         top/left = total/2, bottom/right = the rest */
  NN_PAD_EXPLICIT = 2 /* pad_top/bottom/left/right as given */
} nn_padding;

/* Per-node attributes; a field is ignored by ops that do not use it. nn_attr_default()
 * gives stride 1, dilation 1, VALID, no activation clamp, axis 0. */
typedef struct nn_attr {
  int stride_h, stride_w;
  int dilation_h, dilation_w;
  int kernel_h, kernel_w; /* pooling window */
  nn_padding padding;
  int pad_top, pad_bottom, pad_left, pad_right; /* filled by shape inference for SAME */
  float act_min, act_max; /* fused output clamp: -INFINITY/+INFINITY when none,
                             0/INF for a fused ReLU, 0/6 for ReLU6 */
  int axis;               /* CONCAT, SOFTMAX (-1) */
  int n_axes;             /* MEAN */
  int axes[NN_MAX_RANK];
  int keepdims;
  int64_t pads[NN_MAX_RANK][2];          /* PAD: before/after per dimension */
  float alpha;                           /* LEAKY_RELU */
  int out_h, out_w;                      /* RESIZE_BILINEAR output size */
  int align_corners, half_pixel_centers; /* RESIZE_BILINEAR sampling (TensorFlow's flags) */
  int64_t slice_begin[NN_MAX_RANK], slice_end[NN_MAX_RANK]; /* SLICE: [begin, end) per dim */
} nn_attr;

nn_attr nn_attr_default(void);

typedef struct nn_value {
  const char *name; /* points into the graph's string storage */
  nn_dtype dtype;
  int rank;
  int64_t shape[NN_MAX_RANK]; /* -1 = unknown until nn_graph_finalize */
  int is_const;               /* 1: bytes at blob + const_offset */
  size_t const_offset;
  size_t const_bytes;
} nn_value;

typedef struct nn_node {
  nn_op op;
  int n_in, n_out;
  int in[NN_MAX_NODE_IO]; /* value ids; -1 = optional input absent (e.g. no bias) */
  int out[NN_MAX_NODE_IO];
  nn_attr attr;
  const char *name;
} nn_node;

typedef struct nn_graph {
  nn_value *values;
  int n_values, cap_values;
  nn_node *nodes; /* in execution order after nn_graph_finalize */
  int n_nodes, cap_nodes;
  int inputs[NN_MAX_GRAPH_IO], n_inputs;
  int outputs[NN_MAX_GRAPH_IO], n_outputs;
  unsigned char *blob; /* the weight blob (64-byte aligned); one allocation */
  size_t blob_size, blob_cap;
  char *strings; /* names, one allocation grown as needed (names stored by offset while
                    building, resolved in finalize) */
  size_t strings_size, strings_cap;
  char source[256]; /* model file path, for error messages */
  int finalized;
} nn_graph;

/* Creates an empty graph; source names the model file for error messages (copied). */
int nn_graph_create(const char *source, nn_graph **out, emoi_err *err);
void nn_graph_destroy(nn_graph **g);

/* Adds an activation value (no data). shape may contain -1 (unknown). Returns the value id
 * (>= 0) or a negative status. */
int nn_graph_add_value(nn_graph *g, const char *name, nn_dtype dtype, int rank,
                       const int64_t *shape, emoi_err *err);

/* Adds a constant, copying nbytes from data (may be NULL: zero-filled) into the blob. nbytes
 * must equal the element count times the dtype size. Returns the id or a negative status. */
int nn_graph_add_const(nn_graph *g, const char *name, nn_dtype dtype, int rank,
                       const int64_t *shape, const void *data, size_t nbytes, emoi_err *err);

/* Pointer to a constant's bytes. Valid until the next add_const (the blob may move). */
void *nn_graph_const_data(const nn_graph *g, int value_id);

/* Appends a node; in/out are value ids (-1 allowed for absent optional inputs). Returns the
 * node index or a negative status. */
int nn_graph_add_node(nn_graph *g, nn_op op, const int *in, int n_in, const int *out, int n_out,
                      const nn_attr *attr, const char *name, emoi_err *err);

/* Marks graph inputs/outputs (value ids, in order). */
int nn_graph_set_io(nn_graph *g, const int *inputs, int n_inputs, const int *outputs, int n_outputs,
                    emoi_err *err);

/* Sorts nodes topologically, drops nodes that no output depends on, infers every shape
 * from the input shapes (the input values' shapes must be fully known: a reader sets a
 * batch of 1 for a -1 batch), resolves SAME padding, checks that every node's inputs have
 * consistent shapes and dtypes. On failure names the node and op. */
int nn_graph_finalize(nn_graph *g, emoi_err *err);

/* Adds a graph output to a finalized graph: the penultimate activation, i.e. the input of the
 * last CONV2D or FULLY_CONNECTED before output 0 (through softmax, pooling, reshape and
 * activations), averaged over height and width when it is NHWC, so (1, C). Finalizes again.
 * Returns the new output's index, or a negative status when the graph has no such layer. Used
 * for emo's feature vectors (learn/features.c). */
int nn_graph_add_penultimate_output(nn_graph *g, emoi_err *err);

/* Number of elements of a value (product of its shape; 1 for rank 0). */
int64_t nn_value_numel(const nn_value *v);

/* Finds a value by name, -1 if none. */
int nn_graph_find(const nn_graph *g, const char *name);

/* ---- Execution ---------------------------------------------------------------------- */

typedef enum nn_backend { NN_BACKEND_XNNPACK = 0, NN_BACKEND_REFERENCE = 1 } nn_backend;

/* A plan binds a finalized graph (borrowed, must outlive the plan) to buffers for every
 * activation and, for the XNNPACK backend, to XNNPACK runtimes over the runs of supported
 * nodes (unsupported nodes fall back to the reference kernels). Per-thread; running it
 * allocates nothing. threadpool may be NULL (single thread); it is a pthreadpool_t. */
typedef struct nn_plan nn_plan;

int nn_plan_create(const nn_graph *g, nn_backend backend, void *threadpool, nn_plan **out,
                   emoi_err *err);

/* A cap on the instruction sets a kernel of this library's own may use (the int8 path,
 * nn/qconv.c and nn/dwq.c, and the float GEMM, nn/sgemm.c): the best path the CPU has that is not
 * above the cap is taken, so tests and timings can run the AVX2 or scalar kernels on a machine with
 * AVX-512. NN_ISA_AVX512 means AVX512-VNNI for the int8 GEMM and AVX-512F for the fused depthwise.
 * XNNPACK chooses its own kernels and is not capped. */
typedef enum nn_isa {
  NN_ISA_AUTO = 0, /* no cap */
  NN_ISA_SCALAR = 1,
  NN_ISA_AVX2 = 2,
  NN_ISA_AVX512 = 3,
  NN_ISA_COUNT
} nn_isa;

/* Which kernels run a plan's float matrix products (nn_plan_options.gemm). */
typedef enum nn_gemm {
  NN_GEMM_AUTO = 0,
  NN_GEMM_XNNPACK = 1, /* XNNPACK's own GEMM inside its runtimes */
  NN_GEMM_OWN = 2,     /* nn/sgemm.c's microkernels, each node a step of its own */
  NN_GEMM_COUNT
} nn_gemm;

/* What a plan may do beyond the exact float path; nn_plan_create is nn_plan_create_ex with
 * every field 0 (or opt NULL). */
typedef struct nn_plan_options {
  int int8;              /* 1: run CONV2D nodes of at least 1M multiply-adds (1x1, or larger
                            without padding) in dynamic-quantised int8 (nn/qconv.c), each fused
                            with the 3x3 depthwise convolution it reads where there is one and
                            a vector depthwise kernel (AVX2 + FMA or AVX-512F) is allowed
                            (nn/dwq.c; not with no_dwq): XNNPACK backend
                            only, on CPUs with AVX2 or AVX512-VNNI, not above isa (the scalar
                            int8 path is slower than XNNPACK's float: without AVX2 the plan stays
                            float). The outputs then differ from float by quantisation noise
                            (about 1% of a layer's range); for networks whose callers accept
                            that (the expression classifiers), never for parity tests. */
  int64_t int8_min_macs; /* the "1M" above: 0 = 2^20; 1 puts every eligible convolution in
                            int8 (the graph fuzzer's setting) */
  int no_dwq;            /* 1: with int8, run each int8 convolution and the depthwise convolution it
                            reads as two steps (qconv, then XNNPACK or reference) instead of the
                            fused nn/dwq.c step: A/B timing and tests of the fusion */
  int no_winograd;       /* 1: 3x3 convolutions that the Winograd path (nn/winograd.c) would take
                            run on XNNPACK instead: A/B timing and tests of that path. Winograd is
                            used only on single-threaded XNNPACK plans in any case */
  nn_isa isa;            /* cap on the int8 kernels (above); 0 = NN_ISA_AUTO: the best this CPU
                            has. A/B timing and tests of the AVX2 path on an AVX-512 machine */
  int no_resblock;       /* 1: residual blocks (1x1 conv, PReLU, 3x3 depthwise, 1x1 conv, add,
                            PReLU: nn/resblock.c) stay six XNNPACK operators: A/B timing and
                            tests. Otherwise such a block runs as one streamed step on
                            single-threaded plans, on its vector paths (AVX2, AVX-512 under
                            isa; float32, outputs within rounding of XNNPACK's) */
  nn_gemm gemm;          /* who runs the float products (1x1 stride-1 unpadded CONV2D,
                            FULLY_CONNECTED): 0 = NN_GEMM_AUTO, the faster one as measured by
                            bench/bench_gemm.c (see plan.c); NN_GEMM_XNNPACK or NN_GEMM_OWN
                            (nn/sgemm.c, at the isa cap, scalar included): A/B timing and tests */
  int no_epilogue;       /* 1: the nodes after a product on emo's own kernels (sgemm, qconv, dwq)
                            stay nodes of their own instead of being fused into the product's
                            store (nn/epilogue.h: additions of a tensor or per-channel constant,
                            ReLU, ReLU6, leaky ReLU, PReLU, clamps): A/B timing and tests */
  int no_layernorm;      /* 1: layer normalisations written as TFLite's twelve elementwise nodes
                            (nn/layernorm.c) run node by node: A/B timing and tests. Otherwise each
                            (with the transpose of its last two axes that may follow) runs as one
                            step on XNNPACK plans, with the nodes' results bit for bit */
  int no_reuse;          /* 1: every activation value keeps a buffer of its own in the arena
                            instead of sharing bytes with values whose lifetimes do not overlap
                            (plan.c's plan_relayout): A/B timing and tests */
} nn_plan_options;

int nn_plan_create_ex(const nn_graph *g, nn_backend backend, void *threadpool,
                      const nn_plan_options *opt, nn_plan **out, emoi_err *err);
void nn_plan_destroy(nn_plan **p);

/* Buffer of graph input i (dense, shape of the input value), to be filled before run. */
float *nn_plan_input(nn_plan *p, int i);

/* Buffer of graph output i (dense, shape of the output value), valid after run. */
const float *nn_plan_output(const nn_plan *p, int i);

/* The isa cap the plan was made with (nn_plan_options.isa; NN_ISA_AUTO without options), for
 * the steps around a run that dispatch too (the crop warp feeding it). */
nn_isa nn_plan_isa(const nn_plan *p);

/* Runs the graph. */
int nn_plan_run(nn_plan *p, emoi_err *err);

/* How a plan ran its nodes (for tests and logs). */
typedef struct nn_plan_stats {
  int n_nodes;          /* nodes in the finalized graph */
  int n_nodes_xnn;      /* nodes inside XNNPACK runtimes */
  int n_nodes_ref;      /* nodes run by the reference kernels */
  int n_xnn_runs;       /* XNNPACK runtimes (maximal runs of supported nodes) */
  int n_xnn_rejected;   /* nodes mapped to XNNPACK that XNNPACK refused (now on reference) */
  int xnn_unavailable;  /* 1 when xnn_initialize failed (everything on reference) */
  int n_nodes_winograd; /* 3x3 convolutions on the Winograd path (nn/winograd.c), each a
                           step of its own */
  int n_nodes_qconv;    /* convolutions in int8 (nn/qconv.c, nn_plan_options.int8),
                           each a step of its own (or fused, below) */
  int n_nodes_dwq;      /* 3x3 depthwise convolutions run inside the int8 step of the 1x1
                           convolution that reads them (nn/dwq.c); n_nodes = xnn + ref +
                           winograd + qconv + dwq + gemm + resblock + fused + lnorm */
  int n_nodes_gemm;     /* products on emo's own float GEMM (nn/sgemm.c), each a step */
  int n_nodes_resblock; /* nodes inside residual-block steps (nn/resblock.c), NN_RB_NODES a
                           step; counted in n_nodes beside the others above */
  int n_nodes_fused;  /* per-channel additions and activations fused into the epilogue of a product
                         on  sgemm, qconv or dwq (nn/epilogue.h), no step of their own; counted in
                         n_nodes beside the others above */
  int n_nodes_lnorm;  /* nodes inside layer-normalisation steps (nn/layernorm.c), 12 or 13 a
                         step; counted in n_nodes beside the others above */
  size_t arena_bytes; /* the activation buffers' arena, laid out by lifetime (plan.c) */
  size_t arena_bytes_unshared; /* what it would be with a buffer of its own for every value */
} nn_plan_stats;

void nn_plan_get_stats(const nn_plan *p, nn_plan_stats *s);
/* The nodes s counts by where they run (xnn + ref + winograd + ... + lnorm): equals s->n_nodes
   when every node is accounted for once (tests check it). */
int nn_plan_stats_placed(const nn_plan_stats *s);

/* Backend that runs node k (index into the finalized graph's nodes). */
nn_backend nn_plan_node_backend(const nn_plan *p, int node);

/* ---- Reference kernels (nn/ops_ref.c) ----------------------------------------------- */

/* Runs one node with the plain C reference implementation. ins/outs are dense tensors whose
 * shapes match the node's values (absent optional inputs are NULL). */
int nn_ref_run_node(const nn_node *node, const nn_tensor *const *ins, nn_tensor *const *outs,
                    emoi_err *err);

#endif
