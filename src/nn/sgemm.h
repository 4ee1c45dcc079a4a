/* sgemm.h: emo's own float32 GEMM microkernels for the products its networks are made of (1x1
 * convolutions and dense layers, where XNNPACK would otherwise run them): c (m,n) =
 * clamp(bias + a (m,k) w (n,k)^T). The weights are packed once, at creation, into panels of 16
 * output channels (k rows of 16 floats, zero beyond n); the kernels keep a tile of the output in
 * registers over the whole of k: AVX2 + FMA 6 rows x 16 channels (12 accumulators, 2 weight
 * registers and a broadcast: 15 of the 16 ymm registers, nothing spilled), AVX-512F 12 rows x 32
 * channels (24 zmm accumulators, broadcasts from memory). Chosen at run time from what the CPU
 * has, under an nn_isa cap. Written for the issue that Debian's XNNPACK FMA3 5x16 kernel spills
 * an accumulator to the stack in its inner loop (issue 16).
 *
 * Every path computes each output element the same way: the accumulator starts at the bias and
 * takes one fused multiply-add per k in increasing k (fmaf in the scalar reference), then the
 * clamp max(lo) then min(hi). So the AVX2, AVX-512 and scalar paths give bit-identical results
 * (tests/test_sgemm.c checks it on awkward sizes), and so does nn_sgemm_ref on unpacked weights.
 *
 * What it leaves to others: deciding which nodes run here (plan.c, nn_plan_options.gemm), the
 * convolution's geometry (only 1x1, stride 1, unpadded convolutions are plain products), and
 * XNNPACK's products (backend_xnn.c), which stay where they are faster (bench/bench_gemm.c). */
#ifndef EMO_NN_SGEMM_H
#define EMO_NN_SGEMM_H

#include <stddef.h>

#include "nn/epilogue.h"
#include "nn/nn.h"

typedef struct nn_sgemm nn_sgemm;

/* The kernels nn_sgemm_create takes under cap isa on this CPU: NN_ISA_AVX512 (AVX-512F),
 * NN_ISA_AVX2 (AVX2 + FMA) or NN_ISA_SCALAR. */
nn_isa nn_sgemm_isa(nn_isa cap);

/* Packs w (n,k), row stride ldw floats (read only during the call), and bias (n) or NULL (zeros)
 * for products clamped to [act_min, act_max] on the kernels isa allows. n, k >= 1. */
int nn_sgemm_create(int n, int k, const float *w, size_t ldw, const float *bias, float act_min,
                    float act_max, nn_isa isa, nn_sgemm **out, emoi_err *err);

/* c (m,n), row stride ldc = clamp(bias + a (m,k), row stride lda, times w^T). a and c may be at
 * any address and must not overlap. threadpool (a pthreadpool_t, or NULL) splits the rows.
 * Allocates nothing; one object may run from several threads at once (it is read only). */
void nn_sgemm_run(const nn_sgemm *g, int m, const float *a, size_t lda, float *c, size_t ldc,
                  void *threadpool);

/* nn_sgemm_run followed, tile by tile as each is stored, by the epilogue e (epilogue.h; NULL:
 * none), whose columns are the n outputs and rows the m rows: c is where the product's tiles go
 * (e->dst itself, or a buffer e reads them from). */
void nn_sgemm_run_epi(const nn_sgemm *g, int m, const float *a, size_t lda, float *c, size_t ldc,
                      const nn_epi *e, void *threadpool);
/* The path the object runs (nn_sgemm_isa at its creation). */
nn_isa nn_sgemm_path(const nn_sgemm *g);

void nn_sgemm_destroy(nn_sgemm **g);

/* The plain C reference on the unpacked weights: what every path above must equal bit for bit. */
void nn_sgemm_ref(int m, int n, int k, const float *a, size_t lda, const float *w, size_t ldw,
                  const float *bias, float act_min, float act_max, float *c, size_t ldc);

/* 1 when node k of the finalized graph g is a product this path can run: a float32 CONV2D 1x1,
 * stride 1, unpadded, or a FULLY_CONNECTED, with constant weights and a constant or absent bias. */
int nn_sgemm_node_eligible(const nn_graph *g, int k);

/* nn_sgemm_create for node k of g (eligible), with its weights, bias and clamp. */
int nn_sgemm_create_node(const nn_graph *g, int k, nn_isa isa, nn_sgemm **out, emoi_err *err);

/* The same with the clamp [act_min, act_max] in place of the node's own (plan.c folds a RELU or
 * RELU6 node that reads the product into it). */
int nn_sgemm_create_node_clamped(const nn_graph *g, int k, float act_min, float act_max, nn_isa isa,
                                 nn_sgemm **out, emoi_err *err);

/* Runs node k of g (the one the object was made for) from x to y, dense buffers of its values,
 * then the epilogue e (NULL: none) on each tile. */
void nn_sgemm_run_node(const nn_sgemm *s, const nn_graph *g, int k, const float *x, float *y,
                       const nn_epi *e, void *threadpool);

#endif
