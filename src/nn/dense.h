/* dense.h: float32 dense-compute kernels for models that emo runs outside its graph engine
 * (nn.h): a row-major matrix product on OpenBLAS's cblas_sgemm and the row-wise passes that sit
 * between products in a transformer (GELU with an optional per-channel scale and shift,
 * LayerNorm with a fused residual add, add + GELU, softmax rows with their sums), plus the
 * per-channel sums of a GroupNorm, a finiteness check and a bump allocator for per-call scratch.
 * Its first user is audio/wav2vec2.c.
 *
 * Two implementations of every kernel, picked per call by an nn_dense_path argument (never a
 * global, nothing read from the environment):
 *   NN_DENSE_FAST       the product on cblas_sgemm; the elementwise passes in GCC vector
 *                       extensions (8 floats), which with GCC on x86-64 are cloned for
 *                       x86-64-v3 (AVX2) beside the baseline and picked at run time by the
 *                       loader (so a binary built here runs on any x86-64; other compilers get
 *                       the portable code). exp is Cephes' expf polynomial (range-reduced,
 *                       within 2 ulp of expf); erf, for GELU, is Eigen's and XLA's rational
 *                       approximation (|error| < 5e-7, exactly +-1 beyond |x/sqrt 2| = 4);
 *                       sums for LayerNorm and softmax are kept in float (8 partial sums).
 *   NN_DENSE_REFERENCE  plain C: the product as naive loops accumulating in double, erff and
 *                       expf from libm, LayerNorm and softmax sums in double. Slow; it is what
 *                       tests compare the fast path with (tests/test_dense.c states the
 *                       tolerances: the approximations above, float vs double sums).
 * A fast kernel's results never depend on the alignment of its pointers, and GELU's and exp's
 * on each element alone, not on the row length or the element's place in it (a tail shorter
 * than 8 floats runs through the same 8-lane code, padded).
 *
 * Threads: only the matrix product uses any, as many as OpenBLAS is set to. That count is
 * process-global (openblas_set_num_threads, OPENBLAS_NUM_THREADS) and belongs to the
 * application, so nothing here changes it or takes a lock. Every function is safe to call from
 * several threads at once on different output buffers: OpenBLAS 0.3.7 and later may be entered
 * concurrently when built with locking (USE_THREAD=1 implies it: the pthread variant that the
 * build links, libopenblas0-pthread 0.3.21 on Debian 12; a serial build needs USE_LOCKING=1).
 * That variant runs the threaded parts of concurrent products one after another on its one pool
 * of workers; an application that runs several models at once sets OpenBLAS to 1 thread to run
 * them fully side by side. (Splitting the elementwise passes over threads with core/workers.h
 * gained nothing measurable for wav2vec2: OpenBLAS's idle workers spin between products.)
 *
 * It leaves to others: the model's structure, weight layouts and fusions (audio/wav2vec2.c),
 * graphs of operators with int8 and XNNPACK paths (nn.h, plan.c). Sizes are ints (rows, columns)
 * and must be >= 1 unless said otherwise; buffers of (T, C) are row-major without padding. */
#ifndef EMO_NN_DENSE_H
#define EMO_NN_DENSE_H

#include <stddef.h>

/* Which implementation a call runs (see the top of the file). */
typedef enum nn_dense_path {
  NN_DENSE_FAST = 0,
  NN_DENSE_REFERENCE = 1,
  NN_DENSE_PATH_COUNT
} nn_dense_path;

/* C (M, N) = A (M, K) op(B) + beta C, row-major with row strides lda, ldb, ldc. B is (N, K) when
 * bt (a weight stored as (out, in): op(B) = B^T), else (K, N). beta 0 ignores C's contents (NaN
 * included). Fast: cblas_sgemm; reference: each element's dot product in double, then beta C
 * added in double and rounded once. */
void nn_dense_gemm(nn_dense_path p, int bt, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

/* y (T, C) = GELU(y * scale + shift) in place, scale and shift (C) per channel, either may be
 * NULL. GELU(x) = x/2 (1 + erf(x/sqrt 2)). The scale and shift are the same float operations in
 * both paths; only GELU differs. */
void nn_dense_gelu_rows(nn_dense_path p, float *y, int T, int C, const float *scale,
                        const float *shift);

/* Per row t of x (T, C): x[t] += add (stored back into x; add (C) may be NULL), then
 * out[t] = (x[t] - mean) / sqrt(var + eps) (population variance over the row), times g plus b
 * (C each) when g is non-NULL (then b must be too), then GELU when gelu. out may be x. */
void nn_dense_layernorm_rows(nn_dense_path p, float *x, int T, int C, const float *add,
                             const float *g, const float *b, float eps, float *out, int gelu);

/* x (T, C) += GELU(y + b), y (T, C) overwritten with GELU(y + b), b (C). */
void nn_dense_add_gelu_rows(nn_dense_path p, float *x, float *y, int T, int C, const float *b);

/* Each row of s (rows, n) becomes exp(s - max(row)), unnormalised; inv[row] = 1 / its sum, so
 * the caller scales whatever the rows multiply (P V) instead of the rows themselves. */
void nn_dense_softmax_rows(nn_dense_path p, float *s, int rows, int n, float *inv);

/* s[c] += sum over t of y[t][c], q[c] += the same of y^2, y (T, C), accumulated in double in
 * row order (one implementation: it is exact enough and not a hot spot). */
void nn_dense_channel_sums(const float *y, int T, int C, double *s, double *q);

/* 1 when every x[0..n) is finite (n may be 0), else 0. */
int nn_dense_all_finite(const float *x, size_t n);

/* Per-call scratch carved from one allocation. Sizes are counted first with nn_scratch_add (in
 * the order the pieces are cut), the block is allocated (64-byte aligned), then nn_scratch_cut
 * hands out the pieces: each a multiple of 16 floats, so every piece is 64-byte aligned too. */
typedef struct nn_scratch {
  float *base;
  size_t used; /* floats handed out so far */
} nn_scratch;

/* *total += a*b floats rounded up to 16. Returns 1, or 0 (leaving *total alone) when a*b
 * overflows or is more than max_floats - *total. */
int nn_scratch_add(size_t *total, size_t a, size_t b, size_t max_floats);

/* The next n floats of s (rounded up to 16). */
float *nn_scratch_cut(nn_scratch *s, size_t n);

#endif
