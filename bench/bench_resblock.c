/* bench_resblock.c: thread CPU time of one residual-block step (nn/resblock.c) at each of the
 * face-landmark network's four block shapes (128x128 16/8, 64x64 32/16, 32x32 64/32, 16x16
 * 128/64; synthetic weights and input: the kernels' cost does not depend on the values), median
 * of --reps repetitions of 5 calls, under an --isa cap. For A/B of kernel changes: build both
 * commits and run the two binaries alternately (the machine's load moves figures between runs).
 * Usage: bench_resblock [--isa scalar|avx2|avx512] [--reps N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nn/resblock.h"

int main(int argc, char **argv) {
  nn_isa isa = NN_ISA_AUTO;
  int reps = 30;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      const char *v = argv[++i];
      isa = !strcmp(v, "scalar") ? NN_ISA_SCALAR : !strcmp(v, "avx2") ? NN_ISA_AVX2 : NN_ISA_AVX512;
    } else {
      fprintf(stderr, "usage: bench_resblock [--isa scalar|avx2|avx512] [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  static const int shapes[4][3] = {{128, 16, 8}, {64, 32, 16}, {32, 64, 32}, {16, 128, 64}};
  double *t = malloc(sizeof(double) * (size_t)reps);
  if (!t) return 1;
  for (int s = 0; s < 4; s++) {
    const int h = shapes[s][0], c = shapes[s][1], m = shapes[s][2];
    const size_t nw = (size_t)(2 * c * m + 12 * m + 2 * c), nx = (size_t)h * h * c;
    float *w = malloc(nw * sizeof(float)), *x = malloc(nx * sizeof(float)),
          *y = malloc(nx * sizeof(float));
    if (!w || !x || !y) return 1;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((int)((i * 7919) % 200) - 100) / 400.0f;
    for (size_t i = 0; i < nx; i++) x[i] = (float)((int)((i * 31) % 100) - 50) / 50.0f;
    const float *wa = w, *ba = wa + c * m, *aa = ba + m, *wd = aa + m, *bd = wd + 9 * m,
                *wb = bd + m, *bb = wb + c * m, *ab = bb + c;
    nn_rb_desc d = {h, h, c, m, wa, ba, aa, wd, bd, wb, bb, ab};
    nn_rb *rb = NULL;
    emoi_err err = {{0}};
    if (nn_rb_create(&d, isa, &rb, &err)) {
      fprintf(stderr, "bench_resblock: %s\n", err.msg);
      return 1;
    }
    for (int r = -3; r < reps; r++) { /* 3 warm-up repetitions */
      const double t0 = bu_thread_cpu_ms();
      for (int k = 0; k < 5; k++) nn_rb_run(rb, x, y);
      if (r >= 0) t[r] = (bu_thread_cpu_ms() - t0) / 5;
    }
    bu_stats st = bu_summarize(t, reps);
    printf("%dx%d %d/%d (%s path): %.4f ms per block (median of %d, thread CPU)\n", h, h, c, m,
           emo_isa_name((emo_isa)nn_rb_path(rb)), st.median, reps);
    nn_rb_destroy(&rb);
    free(w);
    free(x);
    free(y);
  }
  free(t);
  return 0;
}
