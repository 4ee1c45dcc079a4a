/* bench_vad.c: Silero VAD v5 speed on emo's engine (audio/vad.c, XNNPACK backend, one
 * thread): decodes a speech file to 16 kHz mono (media/audio_decode.c), then runs every
 * 32 ms window through vad_process, several times; prints the median time per window and
 * the real-time factor (processing time / audio duration) with p10/p90 over runs. The peer
 * figure is ../shared/peers/scripts/bench_vad.cjs (onnxruntime-node, same model and windows).
 * Usage: bench_vad [file.wav] [runs] (defaults: ../shared/peers/media/speech_16k.wav, 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/vad.h"
#include "bench_util.h"
#include "media/audio_decode.h"

static unsigned char *read_file(const char *p, size_t *n) {
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long l = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = l > 0 ? malloc((size_t)l) : NULL;
  if (b && fread(b, 1, (size_t)l, f) != (size_t)l) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *n = b ? (size_t)l : 0;
  return b;
}

int main(int argc, char **argv) {
  const char *wav = argc > 1 ? argv[1] : "../shared/peers/media/speech_16k.wav";
  int runs = argc > 2 ? atoi(argv[2]) : 10;
  if (runs < 1 || runs > 1000) runs = 10;
  char model[1024];
  const char *dir = getenv("EMO_MODELS"), *home = getenv("HOME");
  if (dir && dir[0])
    snprintf(model, sizeof model, "%s/silero_vad_v5.onnx", dir);
  else
    snprintf(model, sizeof model, "%s/.cache/emo/models/silero_vad_v5.onnx", home ? home : ".");
  emoi_err e = {{0}};
  aud_reader *r = NULL;
  if (aud_open(wav, NULL, &r, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  size_t cap = 1 << 20, n = 0;
  float *x = malloc(cap * sizeof(float));
  int k;
  while ((k = aud_read(r, x + n, 4096, &e)) > 0) {
    n += (size_t)k;
    if (n + 4096 > cap) x = realloc(x, (cap *= 2) * sizeof(float));
  }
  aud_close(&r);
  size_t msize;
  unsigned char *mb = read_file(model, &msize);
  nn_graph *g = NULL;
  vad_state *v = NULL;
  if (!mb || vad_load_graph(mb, msize, model, &g, &e) || vad_create(g, NULL, &v, &e)) {
    fprintf(stderr, "%s: %s\n", model, mb ? e.msg : "cannot read (run `emo models fetch`)");
    return 1;
  }
  free(mb);
  size_t nw = n / VAD_WINDOW;
  double *t = malloc((size_t)runs * sizeof(double));
  float p, psum = 0;
  for (int it = -1; it < runs; it++) { /* run -1 warms up */
    vad_reset(v);
    double t0 = bu_now_ms();
    for (size_t w = 0; w < nw; w++) {
      vad_process(v, x + w * VAD_WINDOW, &p, &e);
      psum += p;
    }
    if (it >= 0) t[it] = bu_now_ms() - t0;
  }
  bu_stats s = bu_summarize(t, runs);
  double audio_ms = 1000.0 * (double)(nw * VAD_WINDOW) / VAD_RATE;
  printf("bench_vad: %s, %.1f s audio, %zu windows, %d runs (1 thread, XNNPACK)\n", wav,
         audio_ms / 1000, nw, runs);
  printf("  per window: median %.4f ms (p10 %.4f, p90 %.4f)\n", s.median / nw, s.p10 / nw,
         s.p90 / nw);
  printf("  real-time factor: median %.5f (p10 %.5f, p90 %.5f)   [checksum %.3f]\n",
         s.median / audio_ms, s.p10 / audio_ms, s.p90 / audio_ms, psum);
  free(t);
  free(x);
  vad_destroy(&v);
  nn_graph_destroy(&g);
  return 0;
}
