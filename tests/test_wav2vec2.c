/* test_wav2vec2.c: the wav2vec 2.0 engine (src/audio/wav2vec2.c) against PyTorch.
 *   - parity: every tests/fixtures/wav2vec2_*.fix (tiny random torchaudio 0.13 models, converted
 *     by tools/wav2vec2_convert.py, outputs computed by PyTorch in float64; written by
 *     tools/ref/wav2vec2_fixtures.py): logits and the pooled vector within 1e-4 absolute on both
 *     clips, with OpenBLAS set to 1 and 2 threads (which must agree within 1e-4), on the plain
 *     reference path (w2v_options.reference: naive matmul, erff, expf) and with tiny row blocks
 *     (w2v_options.block), both of which must agree with the fast path within 1e-4;
 *   - concurrency: two threads call w2v_classify on one model at once, several times each,
 *     with OpenBLAS at 1 and at 2 threads; every result must equal, bit for bit, the one call
 *     made alone with the same OpenBLAS setting (the library takes no lock and never changes
 *     OpenBLAS's thread count: the test, as the application, sets it);
 *     label count and names as in the file's metadata, w2v_min_samples = the receptive field;
 *   - the reader: truncations, missing or malformed metadata, unknown modes, wrong shapes,
 *     missing and unexpected tensors, non-finite weights give EMO_EMODEL / EMO_EUNSUPPORTED with
 *     a message naming the problem and no model;
 *   - inputs: too short, too long, NULL, NaN give EMO_EINVAL; the shortest input runs; weights
 *     that overflow float32 give EMO_EMODEL, not NaN logits.
 * Skipped (exit 77) when no fixture exists. EMO_W2V_FIXTURES overrides the fixture folder. */
#include <cblas.h>
#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/wav2vec2.h"
#include "fixture.h"
#include "harness.h"
#include "nn/safetensors.h"

#define TOL_PARITY \
  1e-4 /* the issue asks 1e-3; measured ~6e-7. 1e-4 still catches the tanh form of GELU (~1e-3) */
#define TOL_THREADS 1e-4
#define TOL_REFERENCE 1e-4

static double max_abs_diff(const float *a, const float *b, int n) {
  double w = 0;
  for (int i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= w)) w = d; /* NaN counts as worst */
  }
  return w;
}

/* ---- safetensors image surgery (the converter writes compact JSON) ------------------ */

typedef struct image {
  uint8_t *p;
  size_t n;
} image;

static uint64_t hdr_len(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* A copy of src with the first occurrence of `from` in the JSON header replaced by `to`
 * (header length updated, data unchanged). p = NULL when `from` is absent. */
static image edit_header(const uint8_t *src, size_t n, const char *from, const char *to) {
  image r = {NULL, 0};
  uint64_t h = hdr_len(src);
  char *json = malloc(h + 1);
  memcpy(json, src + 8, h);
  json[h] = '\0';
  char *at = strstr(json, from);
  if (at) {
    size_t fl = strlen(from), tl = strlen(to), nh = h - fl + tl;
    r.n = n - h + nh;
    r.p = malloc(r.n);
    for (int i = 0; i < 8; i++) r.p[i] = (uint8_t)(nh >> (8 * i));
    size_t pre = (size_t)(at - json);
    memcpy(r.p + 8, json, pre);
    memcpy(r.p + 8 + pre, to, tl);
    memcpy(r.p + 8 + pre + tl, at + fl, h - pre - fl);
    memcpy(r.p + 8 + nh, src + 8 + h, n - 8 - h);
  }
  free(json);
  return r;
}

/* Metadata value of key in the image, via the safetensors reader (a static buffer, overwritten
 * by the next call; "" when absent). */
static const char *meta_of(const uint8_t *p, size_t n, const char *key) {
  static char buf[4096];
  st_file *f = NULL;
  emoi_err e = {{0}};
  buf[0] = '\0';
  if (st_open_memory(p, n, 0, &f, &e) == 0) {
    const char *v = st_meta(f, key);
    if (v) snprintf(buf, sizeof buf, "%s", v);
    st_close(&f);
  }
  return buf;
}

/* Loads img expecting failure with status want and a message containing `needle`. */
static void expect_reject(image img, int want, const char *needle, const char *what) {
  if (!img.p) {
    CHECK(0, "%s: could not build the corrupted file", what);
    return;
  }
  w2v_model *m = NULL;
  emoi_err e = {{0}};
  int st = w2v_load_memory(img.p, img.n, &m, &e);
  CHECK(st == want && m == NULL && e.msg[0] && (!needle || strstr(e.msg, needle)),
        "%s: status %d (want %d), message '%s' (want '%s')", what, st, want, e.msg,
        needle ? needle : "");
  w2v_free(&m);
  free(img.p);
}

static void test_reader(const uint8_t *mb, size_t mn) {
  char from[256], to[256];
  /* truncations: every length up to past the header, then a stride through the data */
  size_t h = 8 + hdr_len(mb);
  int bad = 0, tried = 0;
  for (size_t k = 0; k < mn; k += k < h + 64 ? 1 : 4093) {
    w2v_model *m = NULL;
    emoi_err e = {{0}};
    int st = w2v_load_memory(mb, k, &m, &e);
    if (st == 0 || m || !e.msg[0]) bad++;
    tried++;
    w2v_free(&m);
  }
  CHECK(bad == 0, "%d of %d truncations not rejected cleanly", bad, tried);

  expect_reject(edit_header(mb, mn, "\"format\":", "\"formax\":"), EMO_EMODEL, "'format' missing",
                "no format");
  expect_reject(edit_header(mb, mn, "\"version\":\"1\"", "\"version\":\"2\""), EMO_EUNSUPPORTED,
                "version", "version 2");
  const char *head = meta_of(mb, mn, "head");
  snprintf(from, sizeof from, "\"head\":\"%s\"", head);
  expect_reject(edit_header(mb, mn, from, "\"head\":\"mlp\""), EMO_EUNSUPPORTED, "head",
                "unknown head");
  const char *mode = meta_of(mb, mn, "extractor_mode");
  snprintf(from, sizeof from, "\"extractor_mode\":\"%s\"", mode);
  expect_reject(edit_header(mb, mn, from, "\"extractor_mode\":\"batch_norm\""), EMO_EUNSUPPORTED,
                "extractor_mode", "unknown extractor mode");
  expect_reject(edit_header(mb, mn, "\"input_norm\":\"", "\"input_norm\":\"x"), EMO_EUNSUPPORTED,
                "input_norm", "unknown input norm");
  expect_reject(edit_header(mb, mn, "\"layer_norm_first\":\"", "\"layer_norm_first\":\"2"),
                EMO_EUNSUPPORTED, "layer_norm_first", "layer_norm_first not 0/1");
  expect_reject(edit_header(mb, mn, "\"labels\":", "\"labelz\":"), EMO_EMODEL, "'labels' missing",
                "no labels");
  expect_reject(edit_header(mb, mn, "\"labels\":\"", "\"labels\":\",,"), EMO_EMODEL, "labels",
                "empty label");
  expect_reject(edit_header(mb, mn, "\"labels\":\"", "\"labels\":\"extra,"), EMO_EMODEL,
                "head.classifier.weight", "one label too many");

  char dim[32];
  snprintf(dim, sizeof dim, "%s", meta_of(mb, mn, "embed_dim"));
  snprintf(from, sizeof from, "\"embed_dim\":\"%s\"", dim);
  snprintf(to, sizeof to, "\"embed_dim\":\"%d\"", atoi(dim) * 2);
  expect_reject(edit_header(mb, mn, from, to), EMO_EMODEL, "shape", "embed_dim doubled");
  expect_reject(edit_header(mb, mn, from, "\"embed_dim\":\"3x\""), EMO_EMODEL, "embed_dim",
                "embed_dim not a number");
  expect_reject(edit_header(mb, mn, from, "\"embed_dim\":\"0\""), EMO_EMODEL, "embed_dim",
                "embed_dim 0");
  expect_reject(edit_header(mb, mn, from, "\"embed_dim\":\"99999999999999999999\""), EMO_EMODEL,
                "embed_dim", "embed_dim huge");
  const char *heads = meta_of(mb, mn, "num_heads");
  snprintf(from, sizeof from, "\"num_heads\":\"%s\"", heads);
  snprintf(to, sizeof to, "\"num_heads\":\"%d\"", atoi(dim) - 1);
  expect_reject(edit_header(mb, mn, from, to), EMO_EMODEL, "num_heads", "heads do not divide");
  const char *cl = meta_of(mb, mn, "conv_layers");
  snprintf(from, sizeof from, "\"conv_layers\":\"%s\"", cl);
  snprintf(to, sizeof to, "\"conv_layers\":\"%s,\"", cl);
  expect_reject(edit_header(mb, mn, from, to), EMO_EMODEL, "conv_layers", "conv_layers comma");
  snprintf(to, sizeof to, "\"conv_layers\":\"%s,8:2:2\"", cl);
  expect_reject(edit_header(mb, mn, from, to), EMO_EMODEL, "missing tensor", "extra conv layer");
  expect_reject(edit_header(mb, mn, from, "\"conv_layers\":\"8:0:1\""), EMO_EMODEL, "conv_layers",
                "kernel 0");
  /* conv_bias flipped: missing biases, or biases the configuration does not use */
  if (strcmp(meta_of(mb, mn, "conv_bias"), "1") == 0)
    expect_reject(edit_header(mb, mn, "\"conv_bias\":\"1\"", "\"conv_bias\":\"0\""), EMO_EMODEL,
                  "unexpected tensor", "conv_bias 1 -> 0");
  else
    expect_reject(edit_header(mb, mn, "\"conv_bias\":\"0\"", "\"conv_bias\":\"1\""), EMO_EMODEL,
                  "missing tensor 'feature_extractor.conv_layers.0.conv.bias'", "conv_bias 0 -> 1");
  /* a missing tensor (renamed), named in the message */
  expect_reject(edit_header(mb, mn, "\"encoder.transformer.layer_norm.weight\"",
                            "\"encoder.transformer.layer_norm.weighx\""),
                EMO_EMODEL, "missing tensor 'encoder.transformer.layer_norm.weight'",
                "renamed tensor");
  /* a tensor with the right size but the wrong shape: projection (D, C) -> (C, D) */
  {
    st_file *f = NULL;
    emoi_err e = {{0}};
    CHECK(st_open_memory(mb, mn, 0, &f, &e) == 0, "st_open_memory: %s", e.msg);
    const st_tensor *t = f ? st_find(f, "encoder.feature_projection.projection.weight") : NULL;
    CHECK(t && t->rank == 2, "projection weight present");
    if (t && t->rank == 2) {
      snprintf(from, sizeof from, "\"shape\":[%lld,%lld]", (long long)t->shape[0],
               (long long)t->shape[1]);
      snprintf(to, sizeof to, "\"shape\":[%lld,%lld]", (long long)t->shape[1],
               (long long)t->shape[0]);
      char key[512];
      snprintf(key, sizeof key,
               "\"encoder.feature_projection.projection.weight\":{\"dtype\":\"%s\",%s",
               t->dtype == ST_F16 ? "F16" : "F32", from);
      char rep[512];
      snprintf(rep, sizeof rep,
               "\"encoder.feature_projection.projection.weight\":{\"dtype\":\"%s\",%s",
               t->dtype == ST_F16 ? "F16" : "F32", to);
      if (t->shape[0] != t->shape[1])
        expect_reject(edit_header(mb, mn, key, rep), EMO_EMODEL,
                      "'encoder.feature_projection.projection.weight' has shape",
                      "transposed projection");
    }
    /* a NaN weight */
    t = f ? st_find(f, "encoder.transformer.layers.0.feed_forward.intermediate_dense.weight")
          : NULL;
    CHECK(t != NULL, "ffn weight present");
    if (t) {
      image img = {malloc(mn), mn};
      memcpy(img.p, mb, mn);
      size_t off = (size_t)(t->data - mb) + 4 * (t->dtype == ST_F32);
      if (t->dtype == ST_F32) {
        const uint8_t nan32[4] = {0x00, 0x00, 0xc0, 0x7f};
        memcpy(img.p + off, nan32, 4);
      } else {
        img.p[off] = 0x00;
        img.p[off + 1] = 0x7e;
      }
      expect_reject(img, EMO_EMODEL, "not finite", "NaN weight");
    }
    st_close(&f);
  }
  /* not a safetensors file, and a missing file */
  {
    w2v_model *m = NULL;
    emoi_err e = {{0}};
    const char junk[] = "not a model at all, just some bytes";
    CHECK(w2v_load_memory(junk, sizeof junk, &m, &e) != 0 && !m && e.msg[0], "junk: %s", e.msg);
    CHECK(w2v_load("/nonexistent/w2v.safetensors", (int64_t)512 << 20, &m, &e) == EMO_EIO && !m,
          "missing file: %s", e.msg);
    CHECK(w2v_load_memory(NULL, 10, &m, &e) == EMO_EINVAL, "NULL data");
    w2v_free(&m);
    w2v_free(NULL);
  }
}

/* w2v_load reads a file within its byte cap: one byte over is EMO_ELIMIT with a message naming
 * the path and the cap, before anything is parsed; exactly at the cap it loads; a cap <= 0 is
 * EMO_EINVAL (the pipeline always passes max_file_bytes, > 0). */
static void test_file_cap(const uint8_t *mb, size_t mn) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/emo_w2v_cap_%d.safetensors", (int)getpid());
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(mb, 1, mn, f) == mn, "write %s", path);
  if (f) fclose(f);
  w2v_model *m = NULL;
  emoi_err e = {{0}};
  char cap[32];
  snprintf(cap, sizeof cap, "%zu", mn - 1);
  int st = w2v_load(path, (int64_t)mn - 1, &m, &e);
  CHECK(st == EMO_ELIMIT && !m && strstr(e.msg, path) && strstr(e.msg, cap),
        "%zu-byte file, cap %s: status %d, '%s'", mn, cap, st, e.msg);
  st = w2v_load(path, (int64_t)mn, &m, &e);
  CHECK(st == EMO_OK && m, "%zu-byte file at its cap: status %d, '%s'", mn, st, e.msg);
  w2v_free(&m);
  CHECK(w2v_load(path, 0, &m, &e) == EMO_EINVAL && !m, "cap 0: %s", e.msg);
  remove(path);
}

static void test_inputs(const w2v_model *m, const float *pcm, size_t n) {
  float logits[W2V_MAX_LABELS], dummy = 0;
  emoi_err e = {{0}};
  const int mn = w2v_min_samples(m);
  CHECK(mn >= 1 && (size_t)mn <= n, "w2v_min_samples %d", mn);
  CHECK(w2v_classify(m, pcm, (size_t)mn - 1, NULL, logits, NULL, &e) == EMO_EINVAL && e.msg[0],
        "too short: %s", e.msg);
  CHECK(w2v_classify(m, pcm, 0, NULL, logits, NULL, &e) == EMO_EINVAL, "empty");
  CHECK(w2v_classify(m, &dummy, (size_t)W2V_MAX_SAMPLES + 1, NULL, logits, NULL, &e) == EMO_EINVAL,
        "too long");
  CHECK(w2v_classify(m, NULL, n, NULL, logits, NULL, &e) == EMO_EINVAL, "NULL pcm");
  CHECK(w2v_classify(NULL, pcm, n, NULL, logits, NULL, &e) == EMO_EINVAL, "NULL model");
  CHECK(w2v_classify(m, pcm, n, NULL, NULL, NULL, &e) == EMO_EINVAL, "NULL logits");
  float *x = malloc(n * sizeof(float));
  memcpy(x, pcm, n * sizeof(float));
  x[n / 2] = NAN;
  CHECK(w2v_classify(m, x, n, NULL, logits, NULL, &e) == EMO_EINVAL, "NaN input: %s", e.msg);
  free(x);
  int st = w2v_classify(m, pcm, (size_t)mn, NULL, logits, NULL, &e);
  int finite = 1;
  for (int i = 0; st == 0 && i < w2v_n_labels(m); i++) finite &= isfinite(logits[i]) != 0;
  CHECK(st == 0 && finite, "shortest input (%d samples): status %d %s", mn, st, e.msg);
}

#define JOB_CALLS 3 /* calls per thread, so that the two threads' calls overlap */

typedef struct job {
  const w2v_model *m;
  const float *pcm;
  size_t n;
  int status;
  float logits[JOB_CALLS][W2V_MAX_LABELS];
  float *pooled[JOB_CALLS]; /* (embed_dim) each */
} job;

static void *run_job(void *arg) {
  job *j = arg;
  emoi_err e = {{0}};
  for (int c = 0; c < JOB_CALLS && !j->status; c++)
    j->status = w2v_classify(j->m, j->pcm, j->n, NULL, j->logits[c], j->pooled[c], &e);
  return NULL;
}

/* Two threads at once on one model, OpenBLAS at 1 and 2 threads: every call's logits and
 * pooled vector equal those of one call alone (same OpenBLAS setting), bit for bit. */
static void test_concurrent(const char *name, const w2v_model *m, const float *pcm, size_t n) {
  const int L = w2v_n_labels(m), D = w2v_embed_dim(m);
  const int saved = openblas_get_num_threads();
  for (int bt = 1; bt <= 2; bt++) {
    openblas_set_num_threads(bt);
    float l1[W2V_MAX_LABELS], *p1 = malloc(sizeof(float) * (size_t)D);
    emoi_err e = {{0}};
    int st = p1 ? w2v_classify(m, pcm, n, NULL, l1, p1, &e) : EMO_ENOMEM;
    CHECK(st == 0, "%s: alone, %d BLAS threads: %s", name, bt, e.msg);
    job j[2];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 2; i++) {
      j[i].m = m, j[i].pcm = pcm, j[i].n = n;
      for (int c = 0; c < JOB_CALLS; c++)
        if (!(j[i].pooled[c] = malloc(sizeof(float) * (size_t)D))) j[i].status = EMO_ENOMEM;
    }
    pthread_t th[2];
    int started[2] = {0, 0};
    for (int i = 0; i < 2 && st == 0; i++)
      started[i] = pthread_create(&th[i], NULL, run_job, &j[i]) == 0;
    for (int i = 0; i < 2; i++)
      if (started[i]) pthread_join(th[i], NULL);
    double worst = 0;
    for (int i = 0; i < 2 && st == 0; i++) {
      CHECK(started[i] && j[i].status == 0, "%s: thread %d, %d BLAS threads: status %d", name, i,
            bt, j[i].status);
      for (int c = 0; c < JOB_CALLS && started[i] && j[i].status == 0; c++) {
        worst = fmax(worst, max_abs_diff(j[i].logits[c], l1, L));
        worst = fmax(worst, max_abs_diff(j[i].pooled[c], p1, D));
        CHECK(memcmp(j[i].logits[c], l1, sizeof(float) * (size_t)L) == 0 &&
                  memcmp(j[i].pooled[c], p1, sizeof(float) * (size_t)D) == 0,
              "%s: thread %d call %d, %d BLAS threads: differs from the call alone by %g", name, i,
              c, bt, worst);
      }
    }
    printf(
        "%s: 2 threads x %d calls at once, %d BLAS thread%s: worst difference from one call "
        "alone %g\n",
        name, JOB_CALLS, bt, bt > 1 ? "s" : "", worst);
    for (int i = 0; i < 2; i++)
      for (int c = 0; c < JOB_CALLS; c++) free(j[i].pooled[c]);
    free(p1);
  }
  openblas_set_num_threads(saved);
}

static void test_fixture(const char *path, int *reader_done) {
  char msg[256];
  fx_file *fx = NULL;
  if (fx_load(path, &fx, msg, sizeof msg)) {
    CHECK(0, "fixture: %s", msg);
    return;
  }
  const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  const fx_tensor *model = fx_get(fx, "model");
  CHECK(model && model->u8, "%s: no 'model' tensor", name);
  if (!model || !model->u8) {
    fx_free(&fx);
    return;
  }
  w2v_model *m = NULL;
  emoi_err e = {{0}};
  int st = w2v_load_memory(model->u8, (size_t)model->numel, &m, &e);
  CHECK(st == 0 && m, "%s: load: %s", name, e.msg);
  if (!m) {
    fx_free(&fx);
    return;
  }
  /* labels as the metadata lists them */
  char labels[4096];
  snprintf(labels, sizeof labels, "%s", meta_of(model->u8, (size_t)model->numel, "labels"));
  int nl = 0;
  for (char *tok = strtok(labels, ","); tok; tok = strtok(NULL, ","), nl++)
    CHECK(w2v_label(m, nl) && strcmp(w2v_label(m, nl), tok) == 0, "%s: label %d '%s' vs '%s'", name,
          nl, w2v_label(m, nl) ? w2v_label(m, nl) : "(null)", tok);
  CHECK(nl == w2v_n_labels(m) && w2v_label(m, nl) == NULL && w2v_label(m, -1) == NULL,
        "%s: %d labels, model says %d", name, nl, w2v_n_labels(m));
  const int D = w2v_embed_dim(m), L = w2v_n_labels(m);
  /* receptive field from the metadata, walked back from one output frame */
  {
    int ck[16][3], nc = 0, rf = 1;
    const char *p = meta_of(model->u8, (size_t)model->numel, "conv_layers");
    for (int used;
         nc < 16 && sscanf(p, "%d:%d:%d%n", &ck[nc][0], &ck[nc][1], &ck[nc][2], &used) == 3; nc++) {
      p += used;
      if (*p == ',') p++;
    }
    for (int i = nc - 1; i >= 0; i--) rf = (rf - 1) * ck[i][2] + ck[i][1];
    CHECK(nc >= 1 && w2v_min_samples(m) == rf, "%s: w2v_min_samples %d, receptive field %d", name,
          w2v_min_samples(m), rf);
  }

  double worst_l = 0, worst_p = 0, worst_t = 0, worst_r = 0, worst_rl = 0, worst_b = 0;
  int k = 0;
  for (;; k++) {
    char nm[32];
    snprintf(nm, sizeof nm, "s%d.input", k);
    const fx_tensor *in = fx_get(fx, nm);
    snprintf(nm, sizeof nm, "s%d.logits", k);
    const fx_tensor *lg = fx_get(fx, nm);
    snprintf(nm, sizeof nm, "s%d.pooled", k);
    const fx_tensor *pl = fx_get(fx, nm);
    if (!in || !lg || !pl) break;
    CHECK(in->f32 && lg->f32 && pl->f32 && lg->numel == L && pl->numel == D,
          "%s: sample %d tensors (%lld logits for %d labels, %lld pooled for D %d)", name, k,
          (long long)lg->numel, L, (long long)pl->numel, D);
    if (!(in->f32 && lg->f32 && pl->f32 && lg->numel == L && pl->numel == D)) break;
    size_t n = (size_t)in->numel;
    float l1[W2V_MAX_LABELS], l2[W2V_MAX_LABELS], lr[W2V_MAX_LABELS];
    float *p1 = malloc(sizeof(float) * (size_t)D), *pr = malloc(sizeof(float) * (size_t)D);
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    st = w2v_classify(m, in->f32, n, NULL, l1, p1, &e);
    CHECK(st == 0, "%s: sample %d: %s", name, k, e.msg);
    openblas_set_num_threads(2);
    st = w2v_classify(m, in->f32, n, NULL, l2, NULL, &e);
    CHECK(st == 0, "%s: sample %d, 2 BLAS threads: %s", name, k, e.msg);
    const w2v_options reference = {.reference = 1};
    st = w2v_classify(m, in->f32, n, &reference, lr, pr, &e);
    CHECK(st == 0, "%s: sample %d, reference path: %s", name, k, e.msg);
    /* row blocks of scores and im2col far smaller than T (ragged last blocks) */
    float lb[W2V_MAX_LABELS];
    const w2v_options small_blocks = {.block = 700};
    st = w2v_classify(m, in->f32, n, &small_blocks, lb, NULL, &e);
    CHECK(st == 0, "%s: sample %d, small blocks: %s", name, k, e.msg);
    openblas_set_num_threads(saved);
    worst_b = fmax(worst_b, max_abs_diff(l1, lb, L));
    worst_l = fmax(worst_l, max_abs_diff(l1, lg->f32, L));
    worst_p = fmax(worst_p, max_abs_diff(p1, pl->f32, D));
    worst_t = fmax(worst_t, max_abs_diff(l1, l2, L));
    worst_r = fmax(worst_r, fmax(max_abs_diff(l1, lr, L), max_abs_diff(p1, pr, D)));
    worst_rl = fmax(worst_rl, fmax(max_abs_diff(lr, lg->f32, L), max_abs_diff(pr, pl->f32, D)));
    if (k == 0) {
      test_concurrent(name, m, in->f32, n);
      test_inputs(m, in->f32, n);
    }
    free(p1);
    free(pr);
  }
  CHECK(k >= 2, "%s: %d samples in the fixture", name, k);
  printf(
      "%s: %d samples, worst |C - PyTorch|: logits %.3g, pooled %.3g; 1 vs 2 threads %.3g; "
      "fast vs reference path %.3g (reference vs PyTorch %.3g); small row blocks %.3g\n",
      name, k, worst_l, worst_p, worst_t, worst_r, worst_rl, worst_b);
  CHECK(worst_l <= TOL_PARITY, "%s: logits differ from PyTorch by %g", name, worst_l);
  CHECK(worst_p <= TOL_PARITY, "%s: pooled differs from PyTorch by %g", name, worst_p);
  CHECK(worst_t <= TOL_THREADS, "%s: 1 vs 2 threads differ by %g", name, worst_t);
  CHECK(worst_r <= TOL_REFERENCE, "%s: fast vs reference path differ by %g", name, worst_r);
  CHECK(worst_rl <= TOL_PARITY, "%s: reference path vs PyTorch %g", name, worst_rl);
  CHECK(worst_b <= TOL_THREADS, "%s: small row blocks differ by %g", name, worst_b);
  /* weights that overflow float32 (sb_linear, float32 files): classifier row 0 = +-3e38 with
   * the signs of s0's pooled vector, so logit 0 is ~3e38 * sum |pooled|: EMO_EMODEL, no NaN */
  const fx_tensor *in0 = fx_get(fx, "s0.input"), *pl0 = fx_get(fx, "s0.pooled");
  st_file *sf = NULL;
  if (in0 && in0->f32 && pl0 && pl0->f32 && pl0->numel == D &&
      strcmp(meta_of(model->u8, (size_t)model->numel, "head"), "sb_linear") == 0 &&
      st_open_memory(model->u8, (size_t)model->numel, 0, &sf, &e) == 0) {
    const st_tensor *t = st_find(sf, "head.classifier.weight");
    if (t && t->dtype == ST_F32) {
      image img = {malloc((size_t)model->numel), (size_t)model->numel};
      memcpy(img.p, model->u8, img.n);
      size_t off = (size_t)(t->data - model->u8);
      for (int j = 0; j < D; j++) {
        float v = pl0->f32[j] >= 0 ? 3e38f : -3e38f;
        uint32_t u;
        memcpy(&u, &v, 4);
        for (int b = 0; b < 4; b++) img.p[off + 4 * (size_t)j + b] = (uint8_t)(u >> (8 * b));
      }
      w2v_model *bm = NULL;
      CHECK(w2v_load_memory(img.p, img.n, &bm, &e) == 0, "%s: huge classifier: %s", name, e.msg);
      if (bm) {
        float lo[W2V_MAX_LABELS];
        st = w2v_classify(bm, in0->f32, (size_t)in0->numel, NULL, lo, NULL, &e);
        CHECK(st == EMO_EMODEL && strstr(e.msg, "not finite"),
              "%s: overflowing logits: status %d, '%s'", name, st, e.msg);
      }
      w2v_free(&bm);
      free(img.p);
    }
  }
  st_close(&sf);
  if (!*reader_done || strstr(name, "f16") || strstr(name, "large")) {
    test_reader(model->u8, (size_t)model->numel);
    test_file_cap(model->u8, (size_t)model->numel);
    *reader_done = 1;
  }
  w2v_free(&m);
  CHECK(m == NULL, "w2v_free sets NULL");
  fx_free(&fx);
}

int main(void) {
  char pattern[2048];
  const char *dir = getenv("EMO_W2V_FIXTURES");
  snprintf(pattern, sizeof pattern, "%s/wav2vec2_*.fix",
           dir && *dir ? dir : EMO_SOURCE_DIR "/tests/fixtures");
  glob_t g;
  if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0)
    th_skip("no wav2vec2 fixtures match %s (write them with tools/ref/wav2vec2_fixtures.py)",
            pattern);
  int reader_done = 0;
  for (size_t i = 0; i < g.gl_pathc; i++) test_fixture(g.gl_pathv[i], &reader_done);
  printf("%zu fixture files\n", g.gl_pathc);
  globfree(&g);
  return th_finish("test_wav2vec2");
}
