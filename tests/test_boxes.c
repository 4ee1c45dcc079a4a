/* test_boxes.c: box-level parity of emo's face detector with an independent run of the same
 * BlazeFace models: tools/ref/blazeface_boxes.cjs decoded the face-api demo photos
 * (sample1.jpg .. sample6.jpg, fetched into the model cache with the models) in Chromium,
 * letterboxed them as MediaPipe's ImageToTensorCalculator does, ran the TFLite interpreter
 * and post-processed the outputs with JavaScript written from MediaPipe's calculators (anchors,
 * decoding, weighted NMS, projection), and stored the detections in
 * tests/fixtures/blazeface_boxes.json. This test runs emo on the same photos through the
 * public API with EMO_DETECTOR_SHORT and EMO_DETECTOR_FULL (expression model off), on both
 * backends (XNNPACK and the plain-C reference kernels), matches
 * emo's faces to the reference greedily by IoU and asserts, per photo and model: the same
 * number of faces, IoU >= MIN_IOU for every matched pair, scores within SCORE_TOL, keypoints
 * within KP_TOL of the reference box width. The worst values are printed per model.
 * Tolerances are loose on purpose: the two sides use different JPEG decoders (Chromium vs
 * libjpeg-turbo, which may differ by a level or two per pixel) and emo's own letterbox, so
 * they agree on detections, not on bits (the raw network outputs are compared bit-closely by
 * test_parity.c). What it leaves to others: detector internals (anchors, NMS) are unit-tested
 * with the detector code; photos and models absent from the cache skip the test.
 * EMO_DETECTOR_FULL is a single full-range pass on these photos: emo tiles a large image only
 * when some face is smaller than 8% of its longer side (analyze_image.c, 154 px here), and the
 * smallest reference face is 163 px (sample1). If that rule changes, tiling will show up here as
 * extra or merged faces. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emo.h"
#include "harness.h"

#define MIN_IOU 0.95f
#define SCORE_TOL 0.02f
#define KP_TOL 0.02f /* fraction of the reference box width */
#define MAX_DET 64

#define FIXTURE_FORMAT "emo-blazeface-boxes"
#define FIXTURE_VERSION 1

typedef struct ref_face {
  float box[4]; /* x, y, w, h in image pixels */
  float score;
  float kp[EMO_KEYPOINT_COUNT][2];
} ref_face;

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static float iou(const float *a, const float *b) {
  float x0 = fmaxf(a[0], b[0]), y0 = fmaxf(a[1], b[1]);
  float x1 = fminf(a[0] + a[2], b[0] + b[2]), y1 = fminf(a[1] + a[3], b[1] + b[3]);
  if (x1 <= x0 || y1 <= y0) return 0.0f;
  float inter = (x1 - x0) * (y1 - y0);
  float uni = a[2] * a[3] + b[2] * b[3] - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

/* Reads a JSON array of n numbers into out; returns 0 when the shape is wrong. */
static int read_floats(const cJSON *arr, float *out, int n) {
  if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return 0;
  for (int i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    if (!cJSON_IsNumber(v)) return 0;
    out[i] = (float)v->valuedouble;
  }
  return 1;
}

/* Parses the detections of one photo and model (JSON array) into out; returns the count, or
 * -1 when malformed. */
static int read_faces(const cJSON *arr, ref_face *out, int cap) {
  if (!cJSON_IsArray(arr)) return -1;
  int n = cJSON_GetArraySize(arr);
  if (n > cap) return -1;
  for (int i = 0; i < n; i++) {
    const cJSON *d = cJSON_GetArrayItem(arr, i);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "score");
    const cJSON *kp = cJSON_GetObjectItemCaseSensitive(d, "keypoints");
    if (!read_floats(cJSON_GetObjectItemCaseSensitive(d, "box"), out[i].box, 4) ||
        !cJSON_IsNumber(s) || !cJSON_IsArray(kp) || cJSON_GetArraySize(kp) != EMO_KEYPOINT_COUNT)
      return -1;
    out[i].score = (float)s->valuedouble;
    for (int k = 0; k < EMO_KEYPOINT_COUNT; k++)
      if (!read_floats(cJSON_GetArrayItem(kp, k), out[i].kp[k], 2)) return -1;
  }
  return n;
}

typedef struct model_stats {
  float worst_iou, worst_score, worst_kp; /* kp: fraction of the box width */
  int faces;
} model_stats;

/* Greedy matching by IoU (highest pair first) of emo's faces r to the reference ref[0..n),
 * with the checks described at the top. */
static void compare(const char *label, const emo_image_result *r, const ref_face *ref, int n,
                    model_stats *st) {
  int m = r->face_count;
  CHECK(m == n, "%s: emo found %d faces, the reference %d", label, m, n);
  int emo_of[MAX_DET], ref_of[MAX_DET];
  for (int i = 0; i < MAX_DET; i++) emo_of[i] = ref_of[i] = -1;
  if (m > MAX_DET) m = MAX_DET;
  for (;;) {
    float best = 0.0f;
    int bi = -1, bj = -1;
    for (int i = 0; i < m; i++) {
      if (ref_of[i] >= 0) continue;
      for (int j = 0; j < n; j++) {
        if (emo_of[j] >= 0) continue;
        float v = iou(r->faces[i].box, ref[j].box);
        if (v > best) best = v, bi = i, bj = j;
      }
    }
    if (bi < 0) break;
    ref_of[bi] = bj;
    emo_of[bj] = bi;
  }
  for (int i = 0; i < m; i++) {
    const emo_face *f = &r->faces[i];
    int j = ref_of[i];
    CHECK(j >= 0, "%s: emo face [%.1f %.1f %.1f %.1f] score %.4f has no reference match", label,
          f->box[0], f->box[1], f->box[2], f->box[3], f->score);
    if (j < 0) continue;
    const ref_face *g = &ref[j];
    float v = iou(f->box, g->box), ds = fabsf(f->score - g->score), dk = 0.0f;
    for (int k = 0; k < EMO_KEYPOINT_COUNT; k++) {
      float d = hypotf(f->keypoints[k][0] - g->kp[k][0], f->keypoints[k][1] - g->kp[k][1]);
      if (d > dk) dk = d;
    }
    dk /= g->box[2] > 1.0f ? g->box[2] : 1.0f;
    printf(
        "  %s: emo [%7.1f %7.1f %6.1f %6.1f] %.4f  ref [%7.1f %7.1f %6.1f %6.1f] %.4f  "
        "IoU %.4f  kp %.4f\n",
        label, f->box[0], f->box[1], f->box[2], f->box[3], f->score, g->box[0], g->box[1],
        g->box[2], g->box[3], g->score, v, dk);
    CHECK(v >= MIN_IOU, "%s face %d: IoU %.4f < %.2f", label, i, v, MIN_IOU);
    CHECK(ds <= SCORE_TOL, "%s face %d: score %.4f vs reference %.4f", label, i, f->score,
          g->score);
    CHECK(dk <= KP_TOL, "%s face %d: keypoint off by %.4f of the box width", label, i, dk);
    if (v < st->worst_iou) st->worst_iou = v;
    if (ds > st->worst_score) st->worst_score = ds;
    if (dk > st->worst_kp) st->worst_kp = dk;
    st->faces++;
  }
  for (int j = 0; j < n; j++)
    CHECK(emo_of[j] >= 0, "%s: reference face [%.1f %.1f %.1f %.1f] score %.4f not found by emo",
          label, ref[j].box[0], ref[j].box[1], ref[j].box[2], ref[j].box[3], ref[j].score);
}

static void quiet_log(emo_log_level level, const char *msg, void *user) {
  (void)user;
  if (level <= EMO_LOG_ERROR) fprintf(stderr, "log: %s\n", msg);
}

int main(void) {
  static const struct {
    const char *key; /* in the fixture */
    emo_detector det;
    const char *file; /* model file in the cache */
  } models[2] = {{"short", EMO_DETECTOR_SHORT, "face_detection_short_range.tflite"},
                 {"full", EMO_DETECTOR_FULL, "face_detection_full_range.tflite"}};
  const char *fixture = EMO_SOURCE_DIR "/tests/fixtures/blazeface_boxes.json";
  size_t size = 0;
  unsigned char *text = th_read_file(fixture, &size);
  CHECK(text != NULL, "cannot read %s", fixture);
  if (!text) return th_finish("test_boxes");
  cJSON *doc = cJSON_ParseWithLength((const char *)text, size);
  free(text);
  CHECK(doc != NULL, "%s: not valid JSON", fixture);
  if (!doc) return th_finish("test_boxes");
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "format");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "version");
  const cJSON *photos = cJSON_GetObjectItemCaseSensitive(doc, "photos");
  const cJSON *thr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "info"),
                                                      "score_threshold");
  int ok = cJSON_IsString(fmt) && strcmp(fmt->valuestring, FIXTURE_FORMAT) == 0 &&
           cJSON_IsNumber(ver) && ver->valueint == FIXTURE_VERSION && cJSON_IsArray(photos) &&
           cJSON_IsNumber(thr);
  CHECK(ok,
        "%s: not a version %d %s file: regenerate it with "
        "`node tools/ref/blazeface_boxes.cjs` (tools/ref/README.md)",
        fixture, FIXTURE_VERSION, FIXTURE_FORMAT);
  if (!ok) {
    cJSON_Delete(doc);
    return th_finish("test_boxes");
  }

  emo_model_params p = emo_model_params_default();
  p.log = quiet_log;
  p.expression = EMO_EXPRESSION_NONE;
  p.voice = p.reid = 0;
  emo_run_params rp = emo_run_params_default();
  rp.score_threshold = (float)thr->valuedouble;
  char dir[4096], path[4200];
  if (emo_models_dir(&p, dir, sizeof dir) != EMO_OK) th_skip("model cache path too long");
  for (int mi = 0; mi < 2; mi++) {
    snprintf(path, sizeof path, "%s/%s", dir, models[mi].file);
    if (!file_exists(path)) {
      cJSON_Delete(doc);
      th_skip("%s is absent: run `emo models fetch`", path);
    }
  }
  for (int i = 0; i < cJSON_GetArraySize(photos); i++) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(photos, i), "name");
    snprintf(path, sizeof path, "%s/%s", dir, cJSON_IsString(name) ? name->valuestring : "?");
    if (!file_exists(path)) {
      cJSON_Delete(doc);
      th_skip("%s is absent: the face-api demo photos come with `emo models fetch`", path);
    }
  }

  for (int run = 0; run < 4; run++) {
    const int mi = run % 2, rk = run / 2; /* model; rk: 0 = XNNPACK, 1 = reference kernels */
    emo_model_params pm = p;
    pm.detector = rp.detector = models[mi].det;
    emo_context_params pc = emo_context_params_default();
    pc.log = quiet_log;
    pc.reference_kernels = rk;
    emo_model *model = NULL;
    emo_context *ctx = NULL;
    int rc = emo_model_load(&pm, &model);
    CHECK(rc == EMO_OK, "%s: model load: %s", models[mi].key, emo_status_str(rc));
    if (rc == EMO_OK) {
      rc = emo_context_create(model, &pc, &ctx);
      CHECK(rc == EMO_OK, "%s: context: %s", models[mi].key, emo_status_str(rc));
    }
    model_stats st = {1.0f, 0.0f, 0.0f, 0};
    for (int i = 0; ctx && i < cJSON_GetArraySize(photos); i++) {
      const cJSON *ph = cJSON_GetArrayItem(photos, i);
      const cJSON *name = cJSON_GetObjectItemCaseSensitive(ph, "name");
      const cJSON *w = cJSON_GetObjectItemCaseSensitive(ph, "width");
      const cJSON *h = cJSON_GetObjectItemCaseSensitive(ph, "height");
      ref_face ref[MAX_DET];
      int n = read_faces(cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetObjectItemCaseSensitive(ph, "models"), models[mi].key),
                         ref, MAX_DET);
      CHECK(cJSON_IsString(name) && cJSON_IsNumber(w) && cJSON_IsNumber(h) && n >= 0,
            "%s: photo %d is malformed", fixture, i);
      if (!cJSON_IsString(name) || !cJSON_IsNumber(w) || !cJSON_IsNumber(h) || n < 0) continue;
      snprintf(path, sizeof path, "%s/%s", dir, name->valuestring);
      const emo_image_result *r = NULL;
      rc = emo_analyze_file(ctx, &rp, path, &r);
      CHECK(rc == EMO_OK, "%s: %s (%s)", path, emo_status_str(rc), emo_context_last_error(ctx));
      if (rc != EMO_OK) continue;
      CHECK(r->width == w->valueint && r->height == h->valueint,
            "%s: emo decodes %dx%d, the reference %dx%d", name->valuestring, r->width, r->height,
            w->valueint, h->valueint);
      char label[256];
      snprintf(label, sizeof label, "%s%s %s", models[mi].key, rk ? "/ref" : "", name->valuestring);
      compare(label, r, ref, n, &st);
    }
    printf(
        "%s range (%s): %d matched faces, worst IoU %.6f, worst score difference %.6f, "
        "worst keypoint error %.6f of the box width\n",
        models[mi].key, rk ? "reference kernels" : "XNNPACK", st.faces, st.worst_iou,
        st.worst_score, st.worst_kp);
    emo_context_destroy(&ctx);
    emo_model_destroy(&model);
  }
  cJSON_Delete(doc);
  return th_finish("test_boxes");
}
