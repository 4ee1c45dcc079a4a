/* test_ser.c: emo's speech-emotion model (src/audio/ser.c, models/ser/emo_ser_v1.bin).
 *   - parity: the C engine's probabilities on a few real clips (tests/fixtures/ser.fix, written
 *     by training/export.py from PyTorch's eval-mode model on the numpy features) within 1e-4,
 *     with the XNNPACK backend and with the reference kernels;
 *   - held-out accuracy: RAVDESS actors 17-20 (never trained on), every second clip, decoded
 *     with the ffmpeg program; the known label must win on a clear majority (>= 50%, the
 *     measured accuracy on all 240 clips is in models/ser/MODEL_CARD.md). Skipped, with the
 *     reason, when ../shared/data/ser or ffmpeg is absent;
 *   - the reader: every truncation, a bad magic, a wrong version, a flipped label, trailing
 *     bytes give EMO_EMODEL with a message; too-short clips give EMO_EINVAL;
 *   - version 2 (ensembles): a two-member file built here from a version-1 file (the second
 *     member's final layer x3) must give softmax(2 x logits), i.e. p^2 / sum p^2 of the
 *     version-1 probabilities, and the pooled layer twice over; a member count the tensors do
 *     not fill is refused.
 * EMO_SER_MODEL / EMO_SER_FIXTURE override the two file paths (for trying a new export). */
#include <math.h>
#include <stdint.h>
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
  c[8] = 3;
  CHECK(ser_load(c, size, "x", &m, &e) == EMO_EMODEL && strstr(e.msg, "version 3"), "version: %s",
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

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A version-2 file of two members built from a version-1 file: member 0 is the file's network,
 * member 1 the same with its final layer (fc.w, fc.b) times 3. Their mean logits are twice the
 * original's, so the ensemble's probabilities must be p_i^2 / sum_j p_j^2 of the original's p,
 * and its pooled layer the original's twice over. With extra_member, n_members says 3 while
 * the tensors hold 2 (must be refused). Returns a malloc'd buffer or NULL. */
static unsigned char *make_v2(const unsigned char *v1, size_t size, int extra_member,
                              size_t *out_size) {
  size_t o = 16; /* magic, version, n_labels */
  for (int i = 0; i < SER_N_LABELS && o < size; i++) o += 1 + v1[o];
  o += 9 * 4 + 8; /* features, chunk_frames, n_blocks */
  if (o + 4 > size || memcmp(v1, "EMOSER", 6) != 0 || rd32(v1 + 8) != 1) return NULL;
  uint32_t nt = rd32(v1 + o);
  unsigned char *b = malloc(2 * size + 64 * nt + 16);
  if (!b) return NULL;
  memcpy(b, v1, o);
  wr32(b + 8, 2);
  wr32(b + o, extra_member ? 3 : 2);
  wr32(b + o + 4, 2 * nt);
  size_t w = o + 8;
  for (int member = 0; member < 2; member++) {
    size_t r = o + 4;
    for (uint32_t t = 0; t < nt; t++) {
      unsigned len = v1[r];
      char name[80];
      memcpy(name, v1 + r + 1, len);
      name[len] = '\0';
      uint32_t rank = rd32(v1 + r + 1 + len);
      size_t numel = 1, hdr = 1 + len + 4 + 4 * rank;
      for (uint32_t d = 0; d < rank; d++) numel *= rd32(v1 + r + 1 + len + 4 + 4 * d);
      int len2 = snprintf((char *)b + w + 1, 64, "m%d.%s", member, name);
      b[w] = (unsigned char)len2;
      memcpy(b + w + 1 + len2, v1 + r + 1 + len, hdr - 1 - len + 4 * numel);
      if (member == 1 && strncmp(name, "fc.", 3) == 0)
        for (size_t i = 0; i < numel; i++) {
          unsigned char *p = b + w + 1 + len2 + (hdr - 1 - len) + 4 * i;
          float f;
          uint32_t u = rd32(p);
          memcpy(&f, &u, 4);
          f *= 3.0f;
          memcpy(&u, &f, 4);
          wr32(p, u);
        }
      w += 1 + len2 + (hdr - 1 - len) + 4 * numel;
      r += hdr + 4 * numel;
    }
  }
  *out_size = w;
  return b;
}

/* Version 2 (an ensemble): loads, averages its members' logits, concatenates their pooled
 * layers; a member count that disagrees with the tensors is refused. */
static void test_ensemble(const ser_model *m1, const unsigned char *v1, size_t size) {
  size_t n2 = 0;
  unsigned char *b = make_v2(v1, size, 0, &n2);
  if (!b) {
    printf("ensemble: skipped, the model is not a version-1 file\n");
    return;
  }
  ser_model *m2 = NULL;
  emoi_err e = {{0}};
  CHECK(ser_load(b, n2, "v2", &m2, &e) == 0, "v2 load: %s", e.msg);
  if (m2) {
    int d1 = ser_embed_dim(m1);
    CHECK(ser_embed_dim(m2) == 2 * d1, "v2 pooled %d, want %d", ser_embed_dim(m2), 2 * d1);
    float x[24000], p1[SER_N_LABELS], p2[SER_N_LABELS], e1[SER_MAX_EMBED], e2[SER_MAX_EMBED];
    for (int i = 0; i < 24000; i++)
      x[i] = 0.2f * sinf(0.031f * (float)i) * sinf(0.0007f * (float)i) + 0.01f * sinf(1.3f * i);
    CHECK(ser_classify_embed(m1, NULL, x, 24000, p1, e1, &e) == 0, "v1: %s", e.msg);
    CHECK(ser_classify_embed(m2, NULL, x, 24000, p2, e2, &e) == 0, "v2: %s", e.msg);
    double z = 0, worst = 0, worst_e = 0;
    for (int i = 0; i < SER_N_LABELS; i++) z += (double)p1[i] * p1[i];
    for (int i = 0; i < SER_N_LABELS; i++)
      worst = fmax(worst, fabs(p2[i] - (double)p1[i] * p1[i] / z));
    for (int k = 0; k < 2 * d1; k++) worst_e = fmax(worst_e, fabs(e2[k] - e1[k % d1]));
    printf("ensemble of 2: worst |p - p1^2/sum| = %.3g, pooled %.3g\n", worst, worst_e);
    CHECK(worst < 1e-5, "ensemble probabilities off by %g", worst);
    CHECK(worst_e < 1e-5, "ensemble pooled layer off by %g", worst_e);
  }
  ser_destroy(&m2);
  free(b);
  b = make_v2(v1, size, 1, &n2);
  CHECK(b && ser_load(b, n2, "v2", &m2, &e) == EMO_EMODEL && strstr(e.msg, "m2.norm.mean") &&
            m2 == NULL,
        "3 members with 2 members' tensors: %s", e.msg);
  free(b);
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
    test_ensemble(m, buf, size);
    test_heldout(m);
  }
  test_reader(buf, size);
  ser_destroy(&m);
  free(buf);
  return th_finish("test_ser");
}
