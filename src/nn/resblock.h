/* resblock.h: one residual block of MediaPipe's face-landmark network as a single plan step,
 * streamed row by row so that nothing but the block's input and output leaves the L1 cache:
 *
 *   x (1,h,w,c) -> 1x1 conv (c -> m) + bias -> PReLU -> 3x3 depthwise (SAME, stride 1) + bias
 *               -> 1x1 conv (m -> c) + bias -> + x -> PReLU -> y (1,h,w,c)
 *
 * (the "expand, depthwise, project, add" block of BlazeFace-style networks with PReLU, 30 of the
 * 34 blocks of face_landmarker.task's landmark network). On XNNPACK these are six operators that
 * each stream a whole tensor through memory: at 128x128x16 one block measured 0.6-0.75 ms of
 * thread CPU time for 5.5M multiply-adds. Here a ring of three rows of the expanded tensor is
 * kept; each output row is the depthwise row, the projection, the residual add and the PReLU
 * of one pass.
 *
 * Arithmetic: float32, every product and sum a separate IEEE operation (no fused multiply-add),
 * in one fixed order per output element: a convolution starts at its bias and adds the products
 * in increasing input channel (the depthwise one in row-major tap order, taps outside the image
 * read as zero); PReLU is v >= 0 ? v : v * alpha. The vector paths (AVX2: eight channels a
 * vector; AVX-512: sixteen where c and m are multiples of 16; vectorised across channels only)
 * therefore give bit-identical results to the plain C path, chosen at run time under an nn_isa cap;
 * tests/test_resblock.c checks both, and the chain of reference kernels (ops_ref.c) within a bound
 * (their sums run in another order).
 *
 * What it leaves to others: choosing the nodes (plan.c), the other blocks of the network (the
 * downsampling ones, the heads: XNNPACK), threads (the callers parallelise over faces). */
#ifndef EMO_NN_RESBLOCK_H
#define EMO_NN_RESBLOCK_H

#include "nn/nn.h"

/* The block's parameters; every pointer is read during nn_rb_create only. */
typedef struct nn_rb_desc {
  int h, w, c, m;       /* input/output (1,h,w,c), expanded (1,h,w,m) */
  const float *wa;      /* (m,c): the expanding 1x1 conv (OHWI with h = w = 1) */
  const float *ba;      /* (m) or NULL */
  const float *alpha_a; /* (m): PReLU after it */
  const float *wd;      /* (3,3,m): the depthwise conv */
  const float *bd;      /* (m) or NULL */
  const float *wb;      /* (c,m): the projecting 1x1 conv */
  const float *bb;      /* (c) or NULL */
  const float *alpha_b; /* (c): PReLU after the residual add */
} nn_rb_desc;

typedef struct nn_rb nn_rb;

/* The best path under cap isa on this CPU: NN_ISA_AVX512, NN_ISA_AVX2 or NN_ISA_SCALAR. A block
 * takes it when c and m are multiples of 8, else the plain C path (nn_rb_path says which). */
nn_isa nn_rb_isa(nn_isa cap);

/* Copies and lays out the weights, allocates the row ring. h, w, c, m >= 1, c and m at most
 * NN_RB_MAX_CH. */
#define NN_RB_MAX_CH 1024
int nn_rb_create(const nn_rb_desc *d, nn_isa cap, nn_rb **out, emoi_err *err);

/* y = block(x); x and y dense (1,h,w,c), not overlapping. Allocates nothing; one object must not
 * run from two threads at once. */
void nn_rb_run(nn_rb *r, const float *x, float *y);

/* The path the object runs. */
nn_isa nn_rb_path(const nn_rb *r);

void nn_rb_destroy(nn_rb **r);

/* Node k of the finalized graph g is the first of six consecutive nodes forming the block above:
 * CONV2D 1x1 stride 1 VALID, PRELU, DEPTHWISE_CONV2D 3x3 stride 1 dilation 1 padding 1 depth
 * multiplier 1, CONV2D 1x1, ADD of the block input (no broadcast), PRELU; constant finite weights,
 * biases and slopes (one per channel), no fused clamp, batch 1, each intermediate value read by
 * the next node only and not a graph output. Returns 1 when so. */
int nn_rb_node_eligible(const nn_graph *g, int k);

/* The path the block at node k (eligible) would run under cap (nn_rb_path of its object). */
nn_isa nn_rb_node_isa(const nn_graph *g, int k, nn_isa cap);

/* nn_rb_create for the block that starts at node k (eligible). */
int nn_rb_create_node(const nn_graph *g, int k, nn_isa cap, nn_rb **out, emoi_err *err);

#define NN_RB_NODES 6 /* nodes one block replaces */

#endif
