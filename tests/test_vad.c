/* test_vad.c: Silero VAD v5 on emo's engine (audio/vad.c over nn/onnx_reader.c):
 *   - per-window speech probabilities and the final LSTM state on a committed utterance
 *     (tests/fixtures/silero_vad.fix, written by tools/ref/silero_vad.cjs with ONNX Runtime)
 *     within 1e-4, on both backends;
 *   - vad_segments on hand-made probability sequences (hysteresis, min speech/silence, pads);
 *   - silence gives no segments;
 *   - segments on ../shared/data/diarization/sample against its RTTM (frame agreement).
 * The model comes from the cache ($EMO_MODELS or ~/.cache/emo/models/silero_vad_v5.onnx);
 * without it the model checks are skipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/vad.h"
#include "fixture.h"
#include "harness.h"
#include "media/audio_decode.h"

#define PROB_TOL 1e-4

static void test_segments_synthetic(void) {
  vad_seg_params p = vad_seg_params_default();
  vad_segment s[8];
  emoi_err e = {{0}};
  /* 10 silent windows, 20 speech windows (640 ms), 10 silent: one segment padded by 480 */
  float pr[40];
  for (int i = 0; i < 40; i++) pr[i] = (i >= 10 && i < 30) ? 0.9f : 0.05f;
  int n = vad_segments(pr, 40, 40 * 512, &p, s, 8, &e);
  CHECK(n == 1 && s[0].start == 10 * 512 - 480 && s[0].end == 30 * 512 + 480, "n %d [%lld, %lld)",
        n, n > 0 ? (long long)s[0].start : -1LL, n > 0 ? (long long)s[0].end : -1LL);
  /* a speech burst of 7 windows (224 ms) is shorter than 250 ms: dropped */
  for (int i = 0; i < 40; i++) pr[i] = (i >= 10 && i < 17) ? 0.9f : 0.05f;
  n = vad_segments(pr, 40, 40 * 512, &p, s, 8, &e);
  CHECK(n == 0, "short burst gave %d segments", n);
  /* a 2-window dip (64 ms < 100 ms) does not split; a value in [0.35, 0.5) keeps speech */
  for (int i = 0; i < 60; i++) pr[i % 40] = 0;
  float q[60];
  for (int i = 0; i < 60; i++) q[i] = (i >= 5 && i < 50) ? 0.9f : 0.01f;
  q[20] = q[21] = 0.1f;
  q[30] = 0.4f;
  n = vad_segments(q, 60, 60 * 512, &p, s, 8, &e);
  CHECK(n == 1 && s[0].start == 5 * 512 - 480 && s[0].end == 50 * 512 + 480, "dip split: n %d", n);
  /* a 10-window gap (320 ms) splits; speech running to the end ends at n_samples */
  for (int i = 0; i < 60; i++) q[i] = (i >= 5 && i < 25) || i >= 35 ? 0.9f : 0.01f;
  n = vad_segments(q, 60, 60 * 512 - 100, &p, s, 8, &e);
  CHECK(n == 2 && s[0].end == 25 * 512 + 480 && s[1].start == 35 * 512 - 480 &&
            s[1].end == 60 * 512 - 100,
        "split: n %d", n);
  /* count beyond max_segs is still returned */
  n = vad_segments(q, 60, 60 * 512, &p, s, 1, &e);
  CHECK(n == 2, "total count %d", n);
  CHECK(vad_segments(NULL, 5, 0, &p, s, 8, &e) < 0, "NULL probs accepted");
  /* long durations: 135 s of padding (16000 * 135000 overflowed an int: "no speech") pads the
     one segment to the whole stream; beyond 600000 ms, or negative, is refused */
  for (int i = 0; i < 40; i++) pr[i] = (i >= 10 && i < 30) ? 0.9f : 0.05f;
  vad_seg_params big = p;
  big.speech_pad_ms = 135000;
  n = vad_segments(pr, 40, 40 * 512, &big, s, 8, &e);
  CHECK(n == 1 && s[0].start == 0 && s[0].end == 40 * 512, "pad 135000 ms: n %d", n);
  big.speech_pad_ms = 600001;
  CHECK(vad_segments(pr, 40, 40 * 512, &big, s, 8, &e) == EMO_EINVAL, "pad 600001 ms accepted");
  big.speech_pad_ms = 0;
  big.min_silence_ms = -1;
  CHECK(vad_segments(pr, 40, 40 * 512, &big, s, 8, &e) == EMO_EINVAL, "negative silence accepted");
}

static unsigned char *load_model(size_t *size, char *path, size_t n) {
  const char *dir = getenv("EMO_MODELS");
  const char *home = getenv("HOME");
  if (dir && dir[0])
    snprintf(path, n, "%s/silero_vad_v5.onnx", dir);
  else
    snprintf(path, n, "%s/.cache/emo/models/silero_vad_v5.onnx", home ? home : ".");
  return th_read_file(path, size);
}

/* Runs the VAD over n samples (zero-padding the last window); probs gets ceil(n/512). */
static int run_vad(vad_state *v, const float *x, int64_t n, float *probs) {
  float win[VAD_WINDOW];
  int64_t nw = (n + VAD_WINDOW - 1) / VAD_WINDOW;
  emoi_err e = {{0}};
  vad_reset(v);
  for (int64_t w = 0; w < nw; w++) {
    for (int i = 0; i < VAD_WINDOW; i++) {
      int64_t k = w * VAD_WINDOW + i;
      win[i] = k < n ? x[k] : 0.0f;
    }
    if (vad_process(v, win, &probs[w], &e)) {
      fprintf(stderr, "vad_process: %s\n", e.msg);
      return -1;
    }
  }
  return 0;
}

static void test_parity(const nn_graph *g) {
  char path[1024], ferr[256];
  snprintf(path, sizeof path, "%s/tests/fixtures/silero_vad.fix", EMO_SOURCE_DIR);
  fx_file *f = NULL;
  if (fx_load(path, &f, ferr, sizeof ferr)) {
    CHECK(0, "fixture: %s", ferr);
    return;
  }
  const fx_tensor *au = fx_get(f, "audio.s16le"), *pr = fx_get(f, "probs"),
                  *sl = fx_get(f, "state.last");
  CHECK(au && pr && sl && au->u8 && pr->f32 && sl->f32 && sl->numel == VAD_STATE,
        "fixture tensors");
  if (!au || !pr || !sl || !au->u8 || !pr->f32 || !sl->f32) {
    fx_free(&f);
    return;
  }
  int64_t n = au->numel / 2, nw = pr->numel;
  float *x = malloc((size_t)n * sizeof(float)), *probs = malloc((size_t)nw * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    int16_t s = (int16_t)(uint16_t)(au->u8[2 * i] | (au->u8[2 * i + 1] << 8));
    x[i] = (float)s / 32768.0f;
  }
  CHECK((n + VAD_WINDOW - 1) / VAD_WINDOW == nw, "windows %lld for %lld samples", (long long)nw,
        (long long)n);
  for (int b = 0; b < 2; b++) {
    vad_state *v = NULL;
    emoi_err e = {{0}};
    nn_backend be = b ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK;
    if (vad_create_backend(g, be, NULL, &v, &e)) {
      CHECK(0, "vad_create: %s", e.msg);
      continue;
    }
    double worst = 0;
    int64_t at = 0;
    if (run_vad(v, x, n, probs) == 0) {
      for (int64_t w = 0; w < nw; w++) {
        double d = fabs((double)probs[w] - pr->f32[w]);
        if (d > worst) {
          worst = d;
          at = w;
        }
      }
    }
    CHECK(worst <= PROB_TOL, "%s: worst prob diff %.3g at window %lld", b ? "reference" : "xnnpack",
          worst, (long long)at);
    printf("  parity %-9s: %lld windows, worst |p - onnxruntime| = %.3g (window %lld)\n",
           b ? "reference" : "xnnpack", (long long)nw, worst, (long long)at);
    vad_destroy(&v);
  }
  free(x);
  free(probs);
  fx_free(&f);
}

static void test_silence(const nn_graph *g) {
  vad_state *v = NULL;
  emoi_err e = {{0}};
  if (vad_create(g, NULL, &v, &e)) {
    CHECK(0, "vad_create: %s", e.msg);
    return;
  }
  int64_t n = 3 * VAD_RATE, nw = (n + VAD_WINDOW - 1) / VAD_WINDOW;
  float *x = calloc((size_t)n, sizeof(float)), *probs = malloc((size_t)nw * sizeof(float));
  unsigned seed = 7;
  CHECK(run_vad(v, x, n, probs) == 0, "run");
  float mx = 0;
  for (int64_t w = 0; w < nw; w++) mx = probs[w] > mx ? probs[w] : mx;
  int ns = vad_segments(probs, nw, n, NULL, NULL, 0, &e);
  CHECK(ns == 0 && mx < 0.5f, "digital silence: %d segments, max prob %.3f", ns, mx);
  for (int64_t i = 0; i < n; i++) x[i] = th_randf(&seed, -1e-4f, 1e-4f); /* faint noise */
  CHECK(run_vad(v, x, n, probs) == 0, "run");
  ns = vad_segments(probs, nw, n, NULL, NULL, 0, &e);
  CHECK(ns == 0, "faint noise: %d segments", ns);
  free(x);
  free(probs);
  vad_destroy(&v);
}

/* Speech regions of the diarization sample vs its RTTM, on 10 ms frames. */
static void test_rttm(const nn_graph *g) {
  const char *wav = th_data("diarization/sample/sample.wav");
  if (!wav) {
    printf("  (diarization sample absent: RTTM agreement skipped)\n");
    return;
  }
  char wavp[1024], rttm[1024];
  snprintf(wavp, sizeof wavp, "%s", wav);
  snprintf(rttm, sizeof rttm, "%s", th_data("diarization/sample/sample.rttm"));
  emoi_err e = {{0}};
  aud_reader *r = NULL;
  if (aud_open(wavp, NULL, &r, &e)) {
    CHECK(0, "aud_open: %s", e.msg);
    return;
  }
  int64_t cap = 16000 * 120, n = 0;
  float *x = malloc((size_t)cap * sizeof(float));
  int k;
  while (n < cap && (k = aud_read(r, x + n, (int)(cap - n > 4096 ? 4096 : cap - n), &e)) > 0)
    n += k;
  aud_close(&r);
  vad_state *v = NULL;
  if (vad_create(g, NULL, &v, &e)) {
    CHECK(0, "vad_create: %s", e.msg);
    free(x);
    return;
  }
  int64_t nw = (n + VAD_WINDOW - 1) / VAD_WINDOW;
  float *probs = malloc((size_t)nw * sizeof(float));
  CHECK(run_vad(v, x, n, probs) == 0, "run");
  vad_segment segs[256];
  int ns = vad_segments(probs, nw, n, NULL, segs, 256, &e);
  int64_t nf = n / 160;
  char *ref = calloc((size_t)nf + 1, 1), *hyp = calloc((size_t)nf + 1, 1);
  FILE *f = fopen(rttm, "r");
  char line[512];
  int nref = 0;
  while (f && fgets(line, sizeof line, f)) {
    double t0, d;
    if (sscanf(line, "SPEAKER %*s %*s %lf %lf", &t0, &d) == 2) {
      nref++;
      for (int64_t i = (int64_t)(t0 * 100 + 0.5); i < (int64_t)((t0 + d) * 100 + 0.5) && i < nf;
           i++)
        if (i >= 0) ref[i] = 1;
    }
  }
  if (f) fclose(f);
  for (int i = 0; i < ns && i < 256; i++)
    for (int64_t j = segs[i].start / 160; j < segs[i].end / 160 && j < nf; j++) hyp[j] = 1;
  int64_t agree = 0, miss = 0, fa = 0, nspeech = 0;
  for (int64_t i = 0; i < nf; i++) {
    agree += ref[i] == hyp[i];
    miss += ref[i] && !hyp[i];
    fa += !ref[i] && hyp[i];
    nspeech += ref[i];
  }
  double acc = nf ? (double)agree / (double)nf : 0;
  printf(
      "  RTTM sample: %.1f s, %d reference turns, %d VAD segments; frame agreement %.1f%% "
      "(missed speech %.1f%%, false alarm %.1f%% of frames; reference speech %.1f%%)\n",
      n / 16000.0, nref, ns, 100 * acc, 100.0 * miss / (double)(nf ? nf : 1),
      100.0 * fa / (double)(nf ? nf : 1), 100.0 * nspeech / (double)(nf ? nf : 1));
  CHECK(ns > 0 && acc > 0.80, "frame agreement %.3f with %d segments", acc, ns);
  free(ref);
  free(hyp);
  free(probs);
  free(x);
  vad_destroy(&v);
}

int main(void) {
  test_segments_synthetic();
  char path[1024];
  size_t size = 0;
  unsigned char *bytes = load_model(&size, path, sizeof path);
  if (!bytes) {
    th_finish("vad (segmentation only)");
    th_skip("%s absent: run `emo models fetch`", path);
  }
  nn_graph *g = NULL;
  emoi_err e = {{0}};
  int st = vad_load_graph(bytes, size, path, &g, &e);
  CHECK(st == 0, "load: %s", e.msg);
  free(bytes);
  if (g) {
    test_parity(g);
    test_silence(g);
    test_rttm(g);
    vad_state *v = NULL;
    CHECK(vad_create(NULL, NULL, &v, &e) < 0 && !v, "NULL graph accepted");
  }
  nn_graph_destroy(&g);
  return th_finish("vad");
}
