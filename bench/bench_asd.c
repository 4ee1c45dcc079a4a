/* bench_asd.c: speed of emo's LR-ASD (av/asd.c on nn/dense.c's sgemm) for one face track:
 * asd_forward on windows of 25, 50 and 100 ticks (1, 2, 4 s of 25 fps video), and a stream over
 * 20 s of video with the default windowing (windows of 100 ticks every 50: every tick is computed
 * twice), for each OpenBLAS thread count (set here, by the application). Inputs are deterministic
 * synthetic crops and MFCC (the speed does not depend on the values). Prints the median of the runs
 * in ms per call and in ms per second of video per face track.
 * Usage: bench_asd CHECKPOINT.model [-r runs] [-t 1,2] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av/asd.h"
#include "bench_util.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_asd CHECKPOINT.model [-r runs] [-t 1,2]\n");
    return 2;
  }
  int runs = 5, threads[8] = {1, 2}, nt = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-r")) runs = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "-t")) nt = bu_parse_list(argv[i + 1], threads, 8);
  }
  if (runs < 1 || runs > 100 || nt < 1) return 2;
  emoi_err err = {{0}};
  asd_model *m = NULL;
  asd_work *w = NULL;
  if (asd_load(argv[1], &m, &err) || asd_work_new(m, 100, NN_ISA_AUTO, &w, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int secs = 20, T = secs * ASD_FPS;
  uint8_t *crops = malloc((size_t)T * ASD_CROP * ASD_CROP);
  float *pcm = malloc((size_t)secs * 16000 * sizeof(float));
  float *mfcc = malloc((size_t)400 * 13 * sizeof(float)), logits[200];
  unsigned s = 1;
  for (size_t i = 0; i < (size_t)T * ASD_CROP * ASD_CROP; i++) {
    s = s * 1664525u + 1013904223u;
    crops[i] = (uint8_t)(100 + 50 * sin(i * 0.001) + (s >> 28));
  }
  for (int i = 0; i < secs * 16000; i++) pcm[i] = (float)(0.1 * sin(i * 0.05) * sin(i * 0.0003));
  for (int i = 0; i < 400 * 13; i++) mfcc[i] = (float)(5 * sin(i * 0.37));
  for (int ti = 0; ti < nt; ti++) {
    openblas_set_num_threads(threads[ti]);
    int lens[3] = {25, 50, 100};
    for (int li = 0; li < 3; li++) {
      double t[100];
      asd_forward(m, w, NN_DENSE_FAST, crops, lens[li], mfcc, logits, NULL, NULL, &err);
      for (int r = 0; r < runs; r++) {
        double t0 = bu_now_ms();
        asd_forward(m, w, NN_DENSE_FAST, crops, lens[li], mfcc, logits, NULL, NULL, &err);
        t[r] = bu_now_ms() - t0;
      }
      bu_stats st = bu_summarize(t, runs);
      printf("threads %d forward %3d ticks: %.1f ms (%.1f ms per s of video)\n", threads[ti],
             lens[li], st.median, st.median * ASD_FPS / lens[li]);
    }
    double t[100];
    for (int r = 0; r < (runs < 3 ? runs : 3); r++) {
      asd_stream *st = NULL;
      asd_stream_new(m, NULL, 0.0, &st, &err);
      asd_score sc[64];
      double t0 = bu_now_ms();
      for (int k = 0; k < T; k++) {
        asd_stream_push_frame(st, crops + (size_t)k * ASD_CROP * ASD_CROP, k * 0.04, &err);
        asd_stream_push_audio(st, pcm + k * 640, 640, &err);
        while (asd_stream_pop(st, w, sc, 64, &err) > 0) {
        }
      }
      asd_stream_finish(st, &err);
      while (asd_stream_pop(st, w, sc, 64, &err) > 0) {
      }
      t[r] = bu_now_ms() - t0;
      asd_stream_free(&st);
    }
    bu_stats st = bu_summarize(t, runs < 3 ? runs : 3);
    printf("threads %d stream (window 100, hop 50) over %d s: %.0f ms (%.1f ms per s of video)\n",
           threads[ti], secs, st.median, st.median / secs);
  }
  free(crops);
  free(pcm);
  free(mfcc);
  asd_work_free(&w);
  asd_free(&m);
  return 0;
}
