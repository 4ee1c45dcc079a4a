/* qconv.h: dynamic-quantised int8 execution of one CONV2D node without padding, pointwise (1x1)
 * or larger (the FER network's 3x3 dense conv: each output pixel's window is gathered, im2col,
 * from the input quantised once). Weights are
 * quantised once, per output channel, symmetric s8 (scale = max|w| / 127); at every run the
 * input is quantised per tensor to u8 with a zero point taken from its min/max (so ReLU
 * outputs and signed depthwise outputs both use the whole range), multiplied in int32 and
 * dequantised, biased and clamped back to float32. The int32 GEMM is AVX512-VNNI (vpdpbusd,
 * 64 u8 x s8 multiply-adds per instruction) where the CPU has it, else AVX2 (operands widened
 * to int16, vpmaddwd: 16 exact multiply-adds per instruction), chosen at run time, with a
 * plain scalar C reference beside them that gives bit-identical int32 sums. Private to src/nn;
 * plan.c runs an eligible node on it as a step of its own between XNNPACK runtimes when a plan
 * asks for int8 (nn_plan_options). Single-threaded: the callers parallelise over faces. The
 * float reference it is measured against is ops_ref.c's CONV2D (tests/test_qconv.c). */
#ifndef EMO_NN_QCONV_H
#define EMO_NN_QCONV_H

#include <stddef.h>
#include <stdint.h>

#include "nn/epilogue.h"
#include "nn/nn.h"

/* One convolution: x (n,h,w,ci) -> y (n,ho,wo,co), output pixel (oy,ox) reads the kh x kw
 * input pixels from (oy*stride_h, ox*stride_w) (no padding, dilation 1), then clamps to
 * [act_min, act_max]. */
typedef struct nn_qconv_desc {
  int n, h, w, ci;
  int co, ho, wo;
  int stride_h, stride_w;
  float act_min, act_max;
  nn_isa isa; /* cap on the kernels (nn.h); 0 = NN_ISA_AUTO: the best this CPU has */
  int kh, kw; /* kernel; 0 means 1 */
} nn_qconv_desc;

typedef struct nn_qconv nn_qconv;

/* 1 when this CPU (and OS) can run the AVX512-VNNI kernel. */
int nn_qconv_cpu_has_vnni(void);

/* 1 when this CPU (and OS) can run the AVX2 kernel. */
int nn_qconv_cpu_has_avx2(void);

/* The kernels nn_qconv_create takes under cap isa on this CPU: NN_ISA_AVX512 (VNNI),
 * NN_ISA_AVX2 or NN_ISA_SCALAR. */
nn_isa nn_qconv_isa(nn_isa isa);

/* 1 when node k of the finalized graph g is a CONV2D this path can take: float32, constant
 * (co,kh,kw,ci) weights that are all finite, constant or absent bias, no padding on the top or
 * left, every output pixel's window inside the input, dilation 1 for kernels larger than 1x1,
 * kh * kw * ci <= 65536 (int32 sums cannot overflow).
 * Whether it is worth it (size, CPU) is the caller's choice. */
int nn_qconv_node_eligible(const nn_graph *g, int k);

/* Quantises and packs the weights (co,kh,kw,ci) (read only during the call; a non-finite weight
 * becomes 0 or +-127, an all-zero channel gets scale 0 and outputs its bias) and the bias (co)
 * or NULL; allocates all scratch, so running allocates nothing. */
int nn_qconv_create(const nn_qconv_desc *d, const float *weights, const float *bias, nn_qconv **out,
                    emoi_err *err);

/* The same for node k of g (the node must be eligible). */
int nn_qconv_create_node(const nn_graph *g, int k, nn_isa isa, nn_qconv **out, emoi_err *err);

/* y (n,ho,wo,co) = conv(x (n,h,w,ci)); x and y dense, not overlapping. An input holding inf
 * or NaN makes every output NaN. One object must not run from two threads at once. */
int nn_qconv_run(nn_qconv *q, const float *x, float *y, emoi_err *err);

/* nn_qconv_run with the range of the input already known (nn_dwq computes it while it
 * writes x): lo = min(0, min x), hi = max(0, max x) over the values the GEMM reads (for a kernel
 * larger than 1x1, over the whole input), and nan = 1
 * when one of them is NaN or infinite (every output is then NaN). */
int nn_qconv_run_range(nn_qconv *q, const float *x, float lo, float hi, int nan, float *y,
                       emoi_err *err);

/* Makes every later run apply e (epilogue.h; borrowed, must outlive the runs; NULL: none) to each
 * tile of y as it is stored: y is then where the product goes (e->dst, or a buffer e reads). */
void nn_qconv_set_epilogue(nn_qconv *q, const nn_epi *e);
void nn_qconv_destroy(nn_qconv **q);

/* ---- The int32 GEMM, exposed for tests ------------------------------------------------
 * c (m,n) = a (m,k) u8 x w (n,k)^T s8, with w packed by nn_qgemm_pack into blocks of 16
 * output channels x 4 k values (64 bytes; zero beyond n and k). Rows of a may be at any
 * address and stride; only k bytes of each are read. */

/* Bytes of the packed form of a (n,k) weight matrix. */
size_t nn_qgemm_packed_bytes(int n, int k);

/* Packs w (n,k) with row stride ldw bytes into packed (nn_qgemm_packed_bytes). */
void nn_qgemm_pack(const int8_t *w, size_t ldw, int n, int k, int8_t *packed);

/* The plain C reference on the packed weights; c has row stride ldc elements. */
void nn_qgemm_ref(int m, int n, int k, const uint8_t *a, size_t lda, const int8_t *packed,
                  int32_t *c, size_t ldc);

/* The AVX512-VNNI kernel: the same sums. Returns EMO_EUNSUPPORTED (and writes nothing) when
 * the CPU lacks AVX512-VNNI or the build is not for x86-64. */
int nn_qgemm_vnni(int m, int n, int k, const uint8_t *a, size_t lda, const int8_t *packed,
                  int32_t *c, size_t ldc);

/* The AVX2 kernel has a packing of its own: blocks of 16 output channels x 2 k values as int16
 * (64 bytes; zero beyond n and k), the pairs that vpmaddwd multiplies and adds. */
size_t nn_qgemm_avx2_packed_bytes(int n, int k);
void nn_qgemm_avx2_pack(const int8_t *w, size_t ldw, int n, int k, int16_t *packed);

/* The AVX2 kernel on nn_qgemm_avx2_pack's packing: the same sums as nn_qgemm_ref. The rows of a
 * are widened to int16 into a buffer allocated for the call (the node path quantises straight
 * to int16 instead). Returns EMO_EUNSUPPORTED (and writes nothing) when the CPU lacks AVX2 or
 * the build is not for x86-64, EMO_ENOMEM when that buffer cannot be had. */
int nn_qgemm_avx2(int m, int n, int k, const uint8_t *a, size_t lda, const int16_t *packed,
                  int32_t *c, size_t ldc);

#endif
