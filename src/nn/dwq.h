/* dwq.h: a 3x3 depthwise convolution (float32, SAME, stride 1) fused with the int8 pointwise
 * convolution that reads it (qconv.h), as one step of a plan. The depthwise result is computed
 * in float32 into a scratch tensor sized at creation (the FER network's largest, 29x29x128,
 * is 430 KB and stays in L2) while its min and max are tracked, so the int8 step gets its
 * quantisation range without a pass of its own; then it is quantised and multiplied in int8
 * as nn_qconv_run does. Against a depthwise node on XNNPACK followed by an int8 node this saves
 * the min/max pass and the XNNPACK runtime boundaries around the depthwise node.
 *
 * The depthwise kernel is AVX-512, else AVX2 + FMA, where the CPU has it (chosen at run time), with
 * a plain scalar reference beside it that sums in the same order with fmaf, so both give the same
 * floats. Private to src/nn; plan.c builds the step when a plan asks for int8
 * (nn_plan_options). Single-threaded, like qconv. The float reference it is measured against
 * is ops_ref.c's DEPTHWISE_CONV2D and CONV2D (tests/test_qconv.c). */
#ifndef EMO_NN_DWQ_H
#define EMO_NN_DWQ_H

#include "nn/nn.h"
#include "nn/qconv.h"

/* One depthwise 3x3 convolution, depth multiplier 1: x (n,h,w,c) -> y (n,h,w,c), input read
 * as zero outside the image (SAME padding, one pixel each side), weights (3,3,c), bias (c) or
 * NULL, outputs clamped to [act_min, act_max]. */
typedef struct nn_dw3_desc {
  int n, h, w, c;
  float act_min, act_max;
} nn_dw3_desc;

/* y = the convolution of x; x and y dense, not overlapping. *lo = min(0, min y),
 * *hi = max(0, max y), *nan = 1 when some y is NaN (then lo and hi mean nothing). Each output
 * is bias + sum over (ky, kx) in row-major order of x * w, one fmaf per tap, taps outside the
 * image skipped, then clamped (a NaN stays NaN). */
void nn_dw3_ref(const nn_dw3_desc *d, const float *x, const float *w, const float *bias, float *y,
                float *lo, float *hi, int *nan);

/* The same outputs (equal as floats), lo, hi and nan with AVX-512F. Returns EMO_EUNSUPPORTED
 * (and writes nothing) when the CPU lacks AVX-512F or the build is not for x86-64. */
int nn_dw3_avx512(const nn_dw3_desc *d, const float *x, const float *w, const float *bias, float *y,
                  float *lo, float *hi, int *nan);

/* 1 when this CPU can run nn_dw3_avx512. */
int nn_dw3_cpu_has_avx512(void);

/* The same with AVX2 and FMA (8 channels a vector); EMO_EUNSUPPORTED without them. */
int nn_dw3_avx2(const nn_dw3_desc *d, const float *x, const float *w, const float *bias, float *y,
                float *lo, float *hi, int *nan);

/* 1 when this CPU can run nn_dw3_avx2. */
int nn_dw3_cpu_has_avx2(void);

/* The depthwise kernel nn_dwq_create_node takes under cap isa on this CPU: NN_ISA_AVX512,
 * NN_ISA_AVX2 or NN_ISA_SCALAR (a plan does not fuse onto the scalar one). */
nn_isa nn_dw3_isa(nn_isa isa);

typedef struct nn_dwq nn_dwq;

/* 1 when node kd of the finalized graph g is a DEPTHWISE_CONV2D this step takes (float32,
 * constant finite (1,3,3,c) weights, constant finite or absent bias, stride 1, dilation 1,
 * one pixel of padding each side, output the input's shape) and node kc is a 1x1 CONV2D that
 * nn_qconv_node_eligible accepts, stride 1, whose input is kd's output. That kd's output has
 * no other reader is the caller's to check. */
int nn_dwq_nodes_eligible(const nn_graph *g, int kd, int kc);

/* Builds the fused step for nodes kd and kc (eligible); allocates all scratch. isa caps both
 * kernels (nn_dw3_isa, nn_qconv_isa); NN_ISA_SCALAR: the scalar references (tests). */
int nn_dwq_create_node(const nn_graph *g, int kd, int kc, nn_isa isa, nn_dwq **out, emoi_err *err);

/* y (n,h,w,co) = conv1x1(dw3x3(x (n,h,w,c))); x and y dense, not overlapping. One object must
 * not run from two threads at once. */
int nn_dwq_run(nn_dwq *q, const float *x, float *y, emoi_err *err);

/* The pointwise product's epilogue (nn_qconv_set_epilogue). */
void nn_dwq_set_epilogue(nn_dwq *q, const nn_epi *e);
void nn_dwq_destroy(nn_dwq **q);

#endif
