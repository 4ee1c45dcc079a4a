/* test_ser.c: emo's speech-emotion model (src/audio/ser.c, models/ser/emo_ser_v1.bin).
 *   - parity: the C engine's probabilities on a few real clips (tests/fixtures/ser.fix, written
 *     by training/export.py from PyTorch's eval-mode model on the numpy features) within 1e-4,
 *     with the XNNPACK backend and with the reference kernels;
 *   - held-out accuracy: RAVDESS actors 17-20 (never trained on), every second clip, decoded
 *     with the ffmpeg program; the known label must win on a clear majority (>= 50%, the
 *     measured accuracy on all 240 clips is in models/ser/MODEL_CARD.md). Skipped, with the
 *     reason, when ../shared/data/ser or ffmpeg is absent;
 *   - the reader: every truncation, a bad magic, a wrong version, a flipped label, trailing
 *     bytes give EMO_EMODEL with a message; too-short clips give EMO_EINVAL.
 * EMO_SER_MODEL / EMO_SER_FIXTURE override the two file paths (for trying a new export). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/ser.h"
#include "fixture.h"
#include "harness.h"

static const char *path_or(const char *env, const char *rel, char *buf, size_t n) {
  const char *e = getenv(env);
  if (e && *e) return e;
  snprintf(buf, n, "%s/%s", EMO_SOURCE_DIR, rel);
  return buf;
}

static void test_parity(const ser_model *m, const char *fix_path) {
  char msg[256];
  fx_file *fx = NULL;
  if (fx_load(fix_path, &fx, msg, sizeof msg)) {
    CHECK(0, "fixture: %s", msg);
    return;
  }
  for (int be = 0; be < 2; be++) {
    nn_plan *plan = NULL;
    emoi_err e = {{0}};
    nn_backend backend = be ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK;
    CHECK(nn_plan_create(ser_graph(m), backend, NULL, &plan, &e) == 0, "plan: %s", e.msg);
    if (!plan) continue;
    double worst = 0;
    int k = 0;
    for (;; k++) {
      char nm[32];
      snprintf(nm, sizeof nm, "s%d.pcm16", k);
      const fx_tensor *pcm = fx_get(fx, nm);
      snprintf(nm, sizeof nm, "s%d.probs", k);
      const fx_tensor *pr = fx_get(fx, nm);
      if (!pcm || !pr) break;
      CHECK(pcm->u8 && pcm->numel % 2 == 0 && pr->f32 && pr->numel == SER_N_LABELS,
            "fixture sample %d tensors", k);
      if (!(pcm->u8 && pr->f32 && pr->numel == SER_N_LABELS)) break;
      int n = (int)(pcm->numel / 2);
      float *x = malloc(sizeof(float) * (size_t)n);
      for (int i = 0; i < n; i++)
        x[i] = (float)(int16_t)(pcm->u8[2 * i] | pcm->u8[2 * i + 1] << 8) / 32768.0f;
      float probs[SER_N_LABELS];
      CHECK(ser_classify(m, plan, x, n, probs, &e) == 0, "classify: %s", e.msg);
      int best = 0, ref_best = 0;
      for (int i = 0; i < SER_N_LABELS; i++) {
        worst = fmax(worst, fabs(probs[i] - pr->f32[i]));
        if (probs[i] > probs[best]) best = i;
        if (pr->f32[i] > pr->f32[ref_best]) ref_best = i;
      }
      CHECK(best == ref_best, "sample %d: C says %s, PyTorch %s", k, ser_label(m, best),
            ser_label(m, ref_best));
      if (be == 0)
        printf("sample %d (%.2f s): %s %.3f\n", k, n / 16000.0, ser_label(m, best), probs[best]);
      free(x);
    }
    CHECK(k >= 3, "fixture has %d samples", k);
    printf("%s: %d clips, worst |p_C - p_PyTorch| = %.3g\n", be ? "reference" : "XNNPACK", k,
           worst);
    CHECK(worst <= 1e-4, "probability parity %g", worst);
    nn_plan_destroy(&plan);
  }
  fx_free(&fx);
}

static void test_reader(const unsigned char *buf, size_t size) {
  ser_model *m = NULL;
  emoi_err e = {{0}};
  int bad = 0;
  /* every truncation (all short ones, then a stride through the weights) */
  for (size_t k = 0; k < size; k += k < 600 ? 1 : 997) {
    e.msg[0] = '\0';
    int st = ser_load(buf, k, "trunc", &m, &e);
    if (st != EMO_EMODEL || m || !e.msg[0]) bad++;
    ser_destroy(&m);
  }
  CHECK(bad == 0, "%d truncations not rejected cleanly", bad);
  unsigned char *c = malloc(size + 4);
  memcpy(c, buf, size);
  c[0] = 'X';
  CHECK(ser_load(c, size, "x", &m, &e) == EMO_EMODEL && strstr(e.msg, "magic"), "magic: %s", e.msg);
  memcpy(c, buf, size);
  c[8] = 2;
  CHECK(ser_load(c, size, "x", &m, &e) == EMO_EMODEL && strstr(e.msg, "version 2"), "version: %s",
        e.msg);
  memcpy(c, buf, size);
  c[17] = 'b'; /* first label "angry" -> "bngry" */
  CHECK(ser_load(c, size, "x", &m, &e) == EMO_EMODEL && strstr(e.msg, "label 0"), "label: %s",
        e.msg);
  memcpy(c, buf, size);
  memset(c + size, 0, 4);
  CHECK(ser_load(c, size + 4, "x", &m, &e) == EMO_EMODEL && strstr(e.msg, "unexpected"),
        "trailing: %s", e.msg);
  CHECK(m == NULL, "no model on failure");
  free(c);
}

static int ffmpeg_pcm(const char *path, float **out, int *n) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "ffmpeg -v error -i '%s' -f f32le -ac 1 -ar 16000 - 2>/dev/null", path);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t cap = 16000 * 8, len = 0;
  float *x = malloc(cap * sizeof(float));
  for (;;) {
    if (len == cap) x = realloc(x, (cap *= 2) * sizeof(float));
    size_t r = fread(x + len, sizeof(float), cap - len, p);
    if (r == 0) break;
    len += r;
  }
  int st = pclose(p);
  if (st != 0 || len == 0) {
    free(x);
    return -1;
  }
  *out = x;
  *n = (int)len;
  return 0;
}

static void test_heldout(const ser_model *m) {
  const char *root = th_data("ser/ravdess");
  if (!root) {
    printf("held-out accuracy: skipped, ../shared/data/ser absent\n");
    return;
  }
  if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
    printf("held-out accuracy: skipped, no ffmpeg program to decode FLAC\n");
    return;
  }
  char rootbuf[512];
  snprintf(rootbuf, sizeof rootbuf, "%s", root);
  static const int code_to_label[9] = {-1, 6, 7, 3, 4, 0, 2, 1, 5};
  nn_plan *plan = NULL;
  emoi_err e = {{0}};
  CHECK(nn_plan_create(ser_graph(m), NN_BACKEND_XNNPACK, NULL, &plan, &e) == 0, "plan %s", e.msg);
  if (!plan) return;
  int total = 0, correct = 0, seen[8] = {0}, hit[8] = {0}, idx = 0;
  for (int actor = 17; actor <= 20; actor++)
    for (int emo = 1; emo <= 8; emo++)
      for (int inten = 1; inten <= 2; inten++)
        for (int stmt = 1; stmt <= 2; stmt++)
          for (int rep = 1; rep <= 2; rep++) {
            if (emo == 1 && inten == 2) continue; /* no strong neutral */
            if (idx++ % 2) continue;
            char path[700];
            snprintf(path, sizeof path, "%s/Actor_%02d/03-01-%02d-%02d-%02d-%02d-%02d.flac",
                     rootbuf, actor, emo, inten, stmt, rep, actor);
            float *x = NULL;
            int n = 0;
            if (ffmpeg_pcm(path, &x, &n)) {
              CHECK(0, "decode %s", path);
              continue;
            }
            float probs[SER_N_LABELS];
            if (ser_classify(m, plan, x, n, probs, &e) == 0) {
              int best = 0;
              for (int i = 1; i < SER_N_LABELS; i++)
                if (probs[i] > probs[best]) best = i;
              int want = code_to_label[emo];
              total++;
              seen[want]++;
              if (best == want) {
                correct++;
                hit[want]++;
              }
            } else {
              CHECK(0, "classify %s: %s", path, e.msg);
            }
            free(x);
          }
  nn_plan_destroy(&plan);
  double ua = 0;
  printf("held-out RAVDESS actors 17-20, %d clips:", total);
  for (int i = 0; i < 8; i++) {
    ua += seen[i] ? (double)hit[i] / seen[i] : 0;
    printf(" %s %d/%d", ser_label(m, i), hit[i], seen[i]);
  }
  printf("\naccuracy %.1f%%, unweighted %.1f%%\n", 100.0 * correct / (total ? total : 1),
         100.0 * ua / 8);
  CHECK(total == 120, "clips evaluated %d", total);
  CHECK(correct * 2 >= total, "known label on %d of %d held-out clips", correct, total);
  CHECK(ua / 8 >= 0.50, "unweighted accuracy %.3f", ua / 8);
}

int main(void) {
  char b1[512], b2[512];
  const char *model_path = path_or("EMO_SER_MODEL", "models/ser/emo_ser_v1.bin", b1, sizeof b1);
  const char *fix_path = path_or("EMO_SER_FIXTURE", "tests/fixtures/ser.fix", b2, sizeof b2);
  size_t size = 0;
  unsigned char *buf = th_read_file(model_path, &size);
  CHECK(buf != NULL, "read %s", model_path);
  if (!buf) return th_finish("test_ser");
  ser_model *m = NULL;
  emoi_err e = {{0}};
  CHECK(ser_load(buf, size, model_path, &m, &e) == 0, "load: %s", e.msg);
  if (m) {
    CHECK(strcmp(ser_label(m, 0), "angry") == 0 && strcmp(ser_label(m, 7), "calm") == 0 &&
              ser_label(m, 8) == NULL,
          "labels");
    const nn_graph *g = ser_graph(m);
    const nn_value *in = &g->values[g->inputs[0]], *out = &g->values[g->outputs[0]];
    CHECK(in->rank == 4 && in->shape[1] == ser_chunk_frames(m) && in->shape[2] == 64 &&
              in->shape[3] == 1 && nn_value_numel(out) == SER_N_LABELS,
          "graph io shapes");
    float probs[SER_N_LABELS], tiny[400] = {0};
    CHECK(ser_classify(m, NULL, tiny, 399, probs, &e) == EMO_EINVAL, "too short: %s", e.msg);
    CHECK(ser_classify(m, NULL, tiny, -1, probs, &e) == EMO_EINVAL, "negative n");
    /* one frame of silence works (own plan), probabilities sum to 1 */
    CHECK(ser_classify(m, NULL, tiny, 400, probs, &e) == 0, "one frame: %s", e.msg);
    double s = 0;
    for (int i = 0; i < SER_N_LABELS; i++) s += probs[i];
    CHECK(fabs(s - 1.0) < 1e-5, "probs sum %g", s);
    test_parity(m, fix_path);
    test_heldout(m);
  }
  test_reader(buf, size);
  ser_destroy(&m);
  free(buf);
  return th_finish("test_ser");
}
