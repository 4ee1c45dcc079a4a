/* bench_wav2vec2.c: speed of emo's wav2vec 2.0 engine (audio/wav2vec2.c on nn/dense.c's
 * kernels, OpenBLAS) on one utterance: loads a converted model file (tools/wav2vec2_convert.py;
 * up to 16 GiB here, far above the pipeline's max_file_bytes default, since the bench's "large"
 * model is 1.3 GB), then times w2v_classify
 * on the same input for each OpenBLAS thread count (set here, by the application, with
 * openblas_set_num_threads: the library never changes it), after one warm-up call, and prints the
 * median, p10 and p90 per call and the real-time factor. The input is a raw little-endian float32
 * file of 16 kHz samples (bench/wav2vec2.sh writes the one it also feeds PyTorch) or, without -i, a
 * deterministic 10 s speech-like signal (harmonics of a wandering pitch plus noise).
 * The logits of the first timed call are printed ("logits: ...") so scripts can compare them
 * with another runtime's.
 * Usage: bench_wav2vec2 MODEL.safetensors [-i input.f32] [-s seconds] [-r runs] [-t 1,2] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/wav2vec2.h"
#include "bench_util.h"

static float *read_f32(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long l = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *x = l >= 4 ? malloc((size_t)l) : NULL;
  if (x && fread(x, 1, (size_t)l, f) != (size_t)l) {
    free(x);
    x = NULL;
  }
  fclose(f);
  *n = x ? (size_t)l / 4 : 0;
  return x;
}

static float *synth(size_t n) {
  float *x = malloc(n * sizeof(float));
  unsigned s = 12345;
  double ph = 0;
  for (size_t i = 0; i < n; i++) {
    double t = (double)i / 16000.0, f0 = 140 + 40 * sin(2 * M_PI * 0.7 * t);
    ph += 2 * M_PI * f0 / 16000.0;
    double v = 0;
    for (int h = 1; h <= 8; h++) v += sin(h * ph) / h;
    s = s * 1664525u + 1013904223u;
    x[i] = (float)(0.1 * v * (0.6 + 0.4 * sin(2 * M_PI * 3 * t)) +
                   0.01 * ((s >> 8) / 16777216.0 - 0.5));
  }
  return x;
}

int main(int argc, char **argv) {
  const char *model = NULL, *input = NULL, *tl = "1,2";
  double seconds = 10;
  int runs = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-i") && i + 1 < argc)
      input = argv[++i];
    else if (!strcmp(argv[i], "-s") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-t") && i + 1 < argc)
      tl = argv[++i];
    else if (argv[i][0] != '-' && !model)
      model = argv[i];
    else
      model = NULL, i = argc;
  }
  int threads[16], nt = bu_parse_list(tl, threads, 16);
  if (!model || nt < 1 || runs < 1 || runs > 1000 || !(seconds >= 0.025 && seconds <= 60)) {
    fprintf(stderr,
            "usage: bench_wav2vec2 MODEL.safetensors [-i input.f32] [-s seconds] "
            "[-r runs] [-t 1,2]\n");
    return 2;
  }
  size_t n;
  float *x = input ? read_f32(input, &n) : synth(n = (size_t)(seconds * 16000));
  if (!x) {
    fprintf(stderr, "bench_wav2vec2: cannot read %s\n", input);
    return 1;
  }
  emoi_err e = {{0}};
  w2v_model *m = NULL;
  double t0 = bu_now_ms();
  if (w2v_load(model, (int64_t)16 << 30, &m, &e)) {
    fprintf(stderr, "bench_wav2vec2: %s\n", e.msg);
    return 1;
  }
  double load_ms = bu_now_ms() - t0;
  int nl = w2v_n_labels(m);
  float logits[W2V_MAX_LABELS];
  double *t = malloc((size_t)runs * sizeof(double));
  printf("bench_wav2vec2: %s (D %d, %d labels, loaded in %.0f ms), %.2f s of audio, %d runs\n",
         model, w2v_embed_dim(m), nl, load_ms, n / 16000.0, runs);
  for (int k = 0; k < nt; k++) {
    openblas_set_num_threads(threads[k]);
    for (int it = -1; it < runs; it++) { /* run -1 warms up */
      double a = bu_now_ms();
      if (w2v_classify(m, x, n, NULL, logits, NULL, &e)) {
        fprintf(stderr, "bench_wav2vec2: %s\n", e.msg);
        return 1;
      }
      if (it >= 0) t[it] = bu_now_ms() - a;
      if (it == 0 && k == 0) {
        printf("logits:");
        for (int i = 0; i < nl; i++) printf(" %.8g", logits[i]);
        printf("\n");
      }
    }
    bu_stats s = bu_summarize(t, runs);
    printf("  %d thread%s: median %.1f ms (p10 %.1f, p90 %.1f), real-time factor %.4f\n",
           threads[k], threads[k] > 1 ? "s" : "", s.median, s.p10, s.p90,
           s.median / (1000.0 * n / 16000.0));
  }
  w2v_free(&m);
  free(t);
  free(x);
  return 0;
}
