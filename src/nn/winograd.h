/* winograd.h: a fast path for 3x3, stride-1, dilation-1 CONV2D nodes by Winograd minimal
 * filtering (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016):
 * F(4x4, 3x3) does 36 multiplications per 4x4 output tile and input channel where a direct
 * convolution does 144 (F(2x2, 3x3): 16 for 36). Private to src/nn; plan.c runs an eligible
 * node on it as a step of its own between XNNPACK runtimes. The plain reference is the CONV2D
 * kernel of ops_ref.c, which tests/test_winograd.c compares this path with. */
#ifndef EMO_NN_WINOGRAD_H
#define EMO_NN_WINOGRAD_H

#include "nn/nn.h"

/* Output tile edge m of F(m x m, 3x3); the input tile is (m+2) x (m+2). F(6x6) is left out:
 * its transforms lose too many bits in float32. */
typedef enum nn_winograd_tile { NN_WINOGRAD_F2X2 = 2, NN_WINOGRAD_F4X4 = 4 } nn_winograd_tile;

/* One convolution: x (n,h,w,ci) -> y (n,ho,wo,co), 3x3 kernel, stride 1, dilation 1. The
 * input is read as zero outside [0,h) x [0,w), shifted by pad_top/pad_left (the bottom and
 * right padding follow from ho/wo). Outputs are clamped to [act_min, act_max]. */
typedef struct nn_winograd_conv {
  int n, h, w, ci;
  int co, ho, wo;
  int pad_top, pad_left;
  float act_min, act_max;
  nn_isa isa;   /* cap on the tile transforms' ISA (nn.h); 0 = NN_ISA_AUTO; and on the GEMMs'
                   when own_gemm */
  int own_gemm; /* 1: the a*a GEMMs on emo's microkernels (nn/sgemm.c), else XNNPACK's
                   fully-connected operators (which pick their own ISA) */
} nn_winograd_conv;

typedef struct nn_winograd nn_winograd;

/* 1 when node k of the finalized graph g is a CONV2D this path takes and is worth it for:
 * float32, 3x3 constant weights, constant or absent bias, stride 1, dilation 1, ci >= 16,
 * co >= 16, output at least 16x16. */
int nn_winograd_node_eligible(const nn_graph *g, int k);

/* Transforms the weights (co,3,3,ci) (OHWI, read only during the call) and the bias (co) or
 * NULL into 36 (or 16) GEMM operators and allocates all scratch; running allocates nothing.
 * threadpool (a pthreadpool_t, may be NULL) runs the transforms and GEMMs; it must outlive
 * the object. Needs nn_xnn_init to have succeeded (it is called here). */
int nn_winograd_create(const nn_winograd_conv *c, const float *weights, const float *bias,
                       nn_winograd_tile tile, void *threadpool, nn_winograd **out, emoi_err *err);

/* The same for node k of g (the node must be eligible), with the node's resolved padding,
 * clamp and constants, the transforms capped at isa, the GEMMs own_gemm's. */
int nn_winograd_create_node(const nn_graph *g, int k, nn_winograd_tile tile, nn_isa isa,
                            int own_gemm, void *threadpool, nn_winograd **out, emoi_err *err);

/* y (n,ho,wo,co) = conv(x (n,h,w,ci)); x and y dense, not overlapping. One object must not
 * run from two threads at once (its scratch is shared). */
int nn_winograd_run(nn_winograd *wg, const float *x, float *y, emoi_err *err);

void nn_winograd_destroy(nn_winograd **wg);

#endif
