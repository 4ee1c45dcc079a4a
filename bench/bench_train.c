/* bench_train.c: how long emo_head_train takes on a synthetic many-class problem, the scale the
 * issue asks for: 44 classes (as label x intensity x corpus would give) and 100 000 rows of
 * emo's voice vector width (142) or the face vector's (1550, fewer rows). Classes are Gaussian
 * clusters with overlap, so the loss does not vanish; the figure printed is wall time per head
 * kind and the training accuracy (a sanity check, not a score). Measures; asserts nothing.
 * Usage: bench_train [ROWS] [DIM] [CLASSES]  (defaults 100000 142 44) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "emo.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float gauss(unsigned long long *s) { /* sum of 4 uniforms, roughly N(0, 1/3) */
  float v = 0.0f;
  for (int i = 0; i < 4; i++) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    v += (float)(*s >> 40) / 16777216.0f - 0.5f;
  }
  return v * 1.7f;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000, d = argc > 2 ? atoi(argv[2]) : 142,
      c = argc > 3 ? atoi(argv[3]) : 44;
  if (n < 2 || d < 1 || c < 2) return 2;
  float *x = malloc(sizeof(float) * (size_t)n * d), *mu = malloc(sizeof(float) * (size_t)c * d);
  int *y = malloc(sizeof(int) * (size_t)n), *per = malloc(sizeof(int) * (size_t)n);
  char(*nm)[16] = malloc(sizeof *nm * (size_t)c);
  const char **names = malloc(sizeof *names * (size_t)c);
  if (!x || !mu || !y || !per || !nm || !names) return 1;
  unsigned long long s = 42;
  for (int i = 0; i < c * d; i++) mu[i] = 0.12f * gauss(&s);
  for (int k = 0; k < c; k++) {
    snprintf(nm[k], sizeof nm[k], "class%02d", k);
    names[k] = nm[k];
  }
  for (int i = 0; i < n; i++) {
    y[i] = i % c;
    per[i] = i % 97;
    for (int j = 0; j < d; j++) x[(size_t)i * d + j] = mu[y[i] * d + j] + gauss(&s);
  }
  emo_train_set set = {n, d, x, y, c, names, per, NULL, EMO_MODALITY_VOICE, "synthetic", NULL};
  printf("rows %d, features %d, classes %d\n", n, d, c);
  for (int kind = EMO_HEAD_NCM; kind <= EMO_HEAD_MLP; kind++) {
    emo_train_params p = emo_train_params_default();
    p.kind = (emo_head_kind)kind;
    emo_head *h = NULL;
    char err[256];
    double t0 = now();
    if (emo_head_train(&set, &p, &h, err, sizeof err) != EMO_OK) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    double t = now() - t0;
    float *pr = malloc(sizeof(float) * (size_t)c);
    int right = 0, m = n < 20000 ? n : 20000;
    for (int i = 0; i < m; i++) right += emo_head_predict(h, x + (size_t)i * d, pr, NULL) == y[i];
    printf("%-6s %.2f s to train (%d Adam steps of %d rows), training accuracy %.1f%% (first %d)\n",
           kind == EMO_HEAD_NCM      ? "ncm"
           : kind == EMO_HEAD_LOGREG ? "logreg"
                                     : "mlp",
           t, p.iterations, n < 2048 ? n : 2048, 100.0 * right / m, m);
    free(pr);
    emo_head_destroy(&h);
  }
  free(x);
  free(mu);
  free(y);
  free(per);
  free(nm);
  free(names);
  return 0;
}
