/* epilogue.h: the element-wise nodes that follow a product (a per-channel bias, ReLU, ReLU6,
 * clamps, PReLU, leaky ReLU) applied by the kernel that computes the product, tile by tile right
 * after it stores the tile (the tile is still in L1), instead of as nodes of their own, each a
 * pass over the whole tensor and, on XNNPACK, a runtime boundary. plan.c finds the chains (a
 * product, then nodes each of which alone reads the value before it) and builds one nn_epi per
 * fused step; nn/sgemm.c, nn/qconv.c and nn/dwq.c call nn_epi_apply on every
 * tile they store.
 *
 * Every op is one IEEE operation per element (an add, a max and a min, a compare and a multiply),
 * done in the order of the graph's nodes, so the fused plan's outputs equal the unfused plan's
 * bit for bit (up to the sign of a zero, which x + 0 and PReLU's multiply may flip and which no
 * later op can tell) on every path; tests/test_epilogue.c checks that at each ISA cap. The AVX2
 * and AVX-512 paths (intrinsics, chosen at run time under the plan's nn_isa cap) do the same
 * operations as the portable C one, without FMA.
 *
 * Additions of a tensor (residual and dense-block sums) are not fused: they measured slower than
 * XNNPACK's own additions at the AVX2 cap and mixed on AVX-512 (the added tensors' loads dominate;
 * README, speed section); commit 4e5368b removed that experiment (`git revert 4e5368b`).
 *
 * What it leaves to others: deciding what to fuse (plan.c), the products themselves. */
#ifndef EMO_NN_EPILOGUE_H
#define EMO_NN_EPILOGUE_H

#include <stddef.h>

#include "nn/nn.h"

#define NN_EPI_MAX_OPS 16

typedef enum nn_epi_kind {
  NN_EPI_BIAS = 0, /* v += c[col] (c_per_channel) or c[0] */
  NN_EPI_CLAMP,    /* v = min(max(v, lo), hi), as the reference's clamp (a NaN becomes lo) */
  NN_EPI_PRELU,    /* v = v >= 0 ? v : v * c[col] (or c[0]): PReLU, leaky ReLU (c = &alpha) */
  NN_EPI_KIND_COUNT
} nn_epi_kind;

typedef struct nn_epi_op {
  nn_epi_kind kind;
  const float *c; /* BIAS, PRELU: (n) or (1) */
  int c_per_channel;
  float lo, hi; /* CLAMP */
} nn_epi_op;

/* The ops in order; the result goes to dst (m, n), dense. */
typedef struct nn_epi {
  int n_ops;
  nn_epi_op op[NN_EPI_MAX_OPS];
  int n;      /* columns (output channels) */
  float *dst; /* (m, n): the chain's last value */
  nn_isa isa; /* the path nn_epi_apply takes (nn_epi_isa of the plan's cap) */
} nn_epi;

/* The path nn_epi_apply takes under cap on this CPU: NN_ISA_AVX512, NN_ISA_AVX2 or NN_ISA_SCALAR.
 */
nn_isa nn_epi_isa(nn_isa cap);

/* Applies e to rows [r0, r0 + mr), columns [c0, c0 + nc) of the product as the kernel stored it in
 * src (row stride lds floats, indexed by the same row and column) and writes them to e->dst
 * (src may be e->dst: in place). Allocates nothing; e is read only, so several threads may apply
 * it to different tiles at once. nc <= 64 per call is fastest (the tile stays in registers/L1). */
void nn_epi_apply(const nn_epi *e, const float *src, size_t lds, int r0, int mr, int c0, int nc);

/* The plain C reference, one element at a time: what every path must equal. */
void nn_epi_apply_ref(const nn_epi *e, const float *src, size_t lds, int r0, int mr, int c0,
                      int nc);

#endif
