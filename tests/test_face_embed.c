/* test_face_embed.c: the faceres face descriptor (vision/face_embed.c) on real photos of 5
 * public people (../shared/data/faces/identities: train/<name>/ and test/, from the
 * face_recognition project's examples). Faces are found with the public photo API; each
 * test face must be closest (cosine similarity of L2-normalised descriptors, best over the
 * identity's training photos) to the right person. Also reports human's own similarity
 * (Euclidean distance of the raw descriptors, multiplier 25, range 0.2..0.8) for comparison,
 * and checks that same-person similarities exceed different-person ones on average.
 * Skips when the data or the models (detector, faceres.json/.bin) are absent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emo.h"
#include "harness.h"
#include "media/image_decode.h"
#include "nn/tfjs_reader.h"
#include "vision/face_embed.h"

#define N_ID 5
static const char *const id_names[N_ID] = {"alex_lacamoire", "biden", "kit_harington", "obama",
                                           "rose_leslie"};
static const struct {
  const char *file;
  int id;
} train_files[] = {
    {"train/alex_lacamoire/img1.jpg", 0},  {"train/biden/biden.jpg", 1},
    {"train/biden/biden2.jpg", 1},         {"train/kit_harington/john1.jpeg", 2},
    {"train/kit_harington/john2.jpeg", 2}, {"train/obama/obama.jpg", 3},
    {"train/obama/obama2.jpg", 3},         {"train/rose_leslie/img1.jpg", 4},
    {"train/rose_leslie/img2.jpg", 4},
};
/* Test photos: the people in them from left to right (their best-scored faces). */
static const struct {
  const char *file;
  int n;
  int ids[2];
} test_files[] = {
    {"test/alex_lacamoire1.jpg", 1, {0}},  {"test/johnsnow_test1.jpg", 1, {2}},
    {"test/obama1.jpg", 1, {3}},           {"test/obama_and_biden.jpg", 2, {1, 3}},
    {"test/kit_with_rose.jpg", 2, {4, 2}},
};
#define N_TRAIN ((int)(sizeof train_files / sizeof train_files[0]))
#define MAX_TEST_FACES 8

typedef struct face_desc {
  float emb[FEM_DIM]; /* L2-normalised */
  float raw[FEM_DIM]; /* as the network outputs it */
  int id;
  char label[96];
} face_desc;

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* human's match.similarity with its defaults (order 2, multiplier 25, min 0.2, max 0.8). */
static double human_similarity(const float *a, const float *b) {
  double sum = 0.0;
  for (int k = 0; k < FEM_DIM; k++) sum += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
  double dist = round(100.0 * 25.0 * sum) / 100.0;
  if (dist == 0.0) return 1.0;
  double norm = (1.0 - sqrt(dist) / 100.0 - 0.2) / (0.8 - 0.2);
  return round(100.0 * fmax(fmin(norm, 1.0), 0.0)) / 100.0;
}

static int descriptor_index(const nn_graph *g) {
  for (int i = 0; i < g->n_outputs; i++)
    if (nn_value_numel(&g->values[g->outputs[i]]) == FEM_DIM) return i;
  return -1;
}

typedef struct env {
  emo_context *ctx;
  nn_plan *plan;
  nn_graph *g;
  int oi;
} env;

/* Detects faces in rel (under faces/identities), keeps the `want` best-scored, orders them left
 * to right and embeds them into out. Returns how many were embedded, -1 on failure. */
static int embed_photo(env *e, const char *rel, int want, face_desc *out) {
  char relpath[256];
  snprintf(relpath, sizeof relpath, "faces/identities/%s", rel);
  const char *path = th_data(relpath);
  if (!path) return -1;
  char pathbuf[4096];
  snprintf(pathbuf, sizeof pathbuf, "%s", path);
  const emo_image_result *r = NULL;
  int rc = emo_analyze_file(e->ctx, NULL, pathbuf, &r);
  CHECK(rc == EMO_OK, "%s: %s", rel, emo_context_last_error(e->ctx));
  if (rc != EMO_OK) return -1;
  CHECK(r->face_count >= want, "%s: %d faces found, expected at least %d", rel, r->face_count,
        want);
  if (r->face_count < want) return -1;
  /* the `want` best-scored faces (results are sorted by score), then left to right */
  int pick[MAX_TEST_FACES];
  int n = 0;
  for (int k = 0; k < want && k < MAX_TEST_FACES; k++) pick[n++] = k;
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++)
      if (r->faces[pick[b]].box[0] < r->faces[pick[a]].box[0]) {
        int t = pick[a];
        pick[a] = pick[b];
        pick[b] = t;
      }
  bf_detection dets[MAX_TEST_FACES];
  for (int k = 0; k < n; k++) {
    const emo_face *f = &r->faces[pick[k]];
    bf_detection_from_xywh(f->box, (const float(*)[2])f->keypoints, f->score, &dets[k]);
  }
  /* decode the same pixels the analysis saw */
  unsigned char *bytes = NULL;
  size_t size = 0;
  img_rgb img = {0};
  emoi_err err = {{0}};
  rc = img_read_file(pathbuf, (int64_t)1 << 29, &bytes, &size, &err);
  if (rc == EMO_OK) rc = img_decode(bytes, size, 100000000, &img, &err);
  free(bytes);
  CHECK(rc == EMO_OK, "%s: decode: %s", rel, err.msg);
  if (rc != EMO_OK) return -1;
  CHECK(img.width == r->width && img.height == r->height, "%s: size differs", rel);
  for (int k = 0; k < n; k++) {
    rc = fem_embed(e->plan, e->g, img.data, img.width, img.height, (ptrdiff_t)img.width * 3,
                   &dets[k], out[k].emb, &err);
    CHECK(rc == EMO_OK, "%s: fem_embed: %s", rel, err.msg);
    if (rc != EMO_OK) break;
    memcpy(out[k].raw, nn_plan_output(e->plan, e->oi), sizeof out[k].raw);
    double nn2 = 0.0;
    for (int q = 0; q < FEM_DIM; q++) nn2 += (double)out[k].emb[q] * out[k].emb[q];
    CHECK(fabs(nn2 - 1.0) < 1e-4, "%s: |emb|^2 = %f", rel, nn2);
    snprintf(out[k].label, sizeof out[k].label, "%s#%d", rel, k);
  }
  img_rgb_free(&img);
  return rc == EMO_OK ? n : -1;
}

static void check_args(env *e) {
  uint8_t px[3 * 4 * 4] = {0};
  bf_detection d = {1, 1, 3, 3, {{0}}, 1.0f};
  float out[FEM_DIM];
  emoi_err err = {{0}};
  CHECK(fem_embed(NULL, e->g, px, 4, 4, 12, &d, out, &err) == EMO_EINVAL, "NULL plan");
  CHECK(fem_embed(e->plan, e->g, px, 4, 4, 6, &d, out, &err) == EMO_EINVAL, "short stride");
  bf_detection empty = {2, 2, 2, 2, {{0}}, 1.0f};
  CHECK(fem_embed(e->plan, e->g, px, 4, 4, 12, &empty, out, &err) == EMO_EINVAL, "empty box");
  bf_detection nan = {NAN, 0, 2, 2, {{0}}, 1.0f};
  CHECK(fem_embed(e->plan, e->g, px, 4, 4, 12, &nan, out, &err) == EMO_EINVAL, "NaN box");
  /* a tiny image: the crop replicates the border, the descriptor is still finite */
  CHECK(fem_embed(e->plan, e->g, px, 4, 4, 12, &d, out, &err) == EMO_OK ||
            strstr(err.msg, "zero") != NULL,
        "tiny image: %s", err.msg);
}

/* fem_quality on synthetic faces (no model needed): tiny, profile and flat faces refused, a
 * textured frontal one kept. */
static void check_quality(void) {
  enum { W = 200, H = 200 };
  static uint8_t img[H * W * 3];
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++)
        img[(y * W + x) * 3 + c] = (uint8_t)(((x / 4 + y / 4) % 2) * 120 + 60);
  bf_detection d;
  memset(&d, 0, sizeof d);
  d.x0 = 50, d.y0 = 50, d.x1 = 150, d.y1 = 150;
  d.kp[0][0] = 80, d.kp[0][1] = 85, d.kp[1][0] = 120, d.kp[1][1] = 85; /* eyes 0.4 box apart */
  d.kp[2][0] = 100, d.kp[2][1] = 105;                                  /* nose in the middle */
  float q = 0.0f;
  CHECK(fem_quality(img, W, H, W * 3, &d, &q) == FEM_OK && q > FEM_MIN_SHARP,
        "textured frontal face refused (detail %.3f)", q);
  bf_detection t = d;
  t.x1 = t.x0 + 30, t.y1 = t.y0 + 30;
  CHECK(fem_quality(img, W, H, W * 3, &t, NULL) == FEM_TINY, "30-pixel face not tiny");
  bf_detection p = d;
  p.kp[2][0] = 140; /* nose 1 eye distance right of the eyes' midpoint */
  CHECK(fem_quality(img, W, H, W * 3, &p, NULL) == FEM_PROFILE, "turned face not profile");
  p = d;
  p.kp[1][0] = 90; /* eyes 0.1 box apart */
  CHECK(fem_quality(img, W, H, W * 3, &p, NULL) == FEM_PROFILE, "squeezed eyes not profile");
  memset(img, 90, sizeof img);
  CHECK(fem_quality(img, W, H, W * 3, &d, NULL) == FEM_BLURRED, "flat face not blurred");
}

int main(void) {
  check_quality();
  if (!th_data("faces/identities/train"))
    th_skip("faces/identities absent from ../shared/data (set EMO_SHARED_DATA)");
  emo_model_params p = emo_model_params_default();
  p.expression = EMO_EXPRESSION_NONE;
  p.voice = 0;
  emo_context_params cp = emo_context_params_default();
  cp.n_threads = 2;
  char dir[4096], json[4200], bin[4200];
  if (emo_models_dir(&p, dir, sizeof dir) != EMO_OK) th_skip("no model cache directory");
  snprintf(json, sizeof json, "%s/faceres.json", dir);
  snprintf(bin, sizeof bin, "%s/faceres.bin", dir);
  if (!file_exists(json) || !file_exists(bin))
    th_skip("faceres.json/faceres.bin absent from %s (run `emo models fetch`)", dir);
  env e = {0};
  emo_model *model = NULL;
  int rc = emo_model_load(&p, &model);
  if (rc == EMO_ENOMODEL) th_skip("detector models absent from %s (run `emo models fetch`)", dir);
  CHECK(rc == EMO_OK, "emo_model_load: %s", emo_status_str(rc));
  if (rc != EMO_OK) return th_finish("test_face_embed");
  rc = emo_context_create(model, &cp, &e.ctx);
  CHECK(rc == EMO_OK, "context: %s", emo_status_str(rc));
  emoi_err err = {{0}};
  rc = nn_tfjs_load(json, 64 << 20, &e.g, &err);
  CHECK(rc == EMO_OK, "faceres load: %s", err.msg);
  if (rc == EMO_OK) rc = nn_plan_create(e.g, NN_BACKEND_XNNPACK, NULL, &e.plan, &err);
  CHECK(rc == EMO_OK, "faceres plan: %s", err.msg);
  if (rc != EMO_OK || !e.ctx) goto done;
  e.oi = descriptor_index(e.g);
  CHECK(e.oi >= 0, "faceres has no 1024-wide output");
  if (e.oi < 0) goto done;
  check_args(&e);

  static face_desc train[N_TRAIN], test[MAX_TEST_FACES * 5];
  int n_train = 0, n_test = 0;
  for (int i = 0; i < N_TRAIN; i++) {
    if (embed_photo(&e, train_files[i].file, 1, &train[n_train]) != 1) continue;
    train[n_train++].id = train_files[i].id;
  }
  for (size_t i = 0; i < sizeof test_files / sizeof test_files[0]; i++) {
    int n = embed_photo(&e, test_files[i].file, test_files[i].n, &test[n_test]);
    if (n != test_files[i].n) continue;
    for (int k = 0; k < n; k++) test[n_test + k].id = test_files[i].ids[k];
    n_test += n;
  }
  CHECK(n_train == N_TRAIN && n_test == 7, "embedded %d train, %d test faces", n_train, n_test);

  /* identification: best similarity over each identity's training photos */
  int correct = 0, correct_h = 0;
  double same_sum = 0, diff_sum = 0, min_margin = 1e9;
  int same_n = 0, diff_n = 0;
  double worst_same = 1e9, best_diff = -1e9;
  printf("%-34s %-15s %s\n", "test face", "truth", "cosine per identity (best over train) | human");
  for (int t = 0; t < n_test; t++) {
    double s[N_ID], hs[N_ID];
    for (int k = 0; k < N_ID; k++) s[k] = hs[k] = -2.0;
    for (int r = 0; r < n_train; r++) {
      double c = fem_similarity(test[t].emb, train[r].emb);
      double h = human_similarity(test[t].raw, train[r].raw);
      int id = train[r].id;
      if (c > s[id]) s[id] = c;
      if (h > hs[id]) hs[id] = h;
      if (id == test[t].id) {
        same_sum += c;
        same_n++;
        if (c < worst_same) worst_same = c;
      } else {
        diff_sum += c;
        diff_n++;
        if (c > best_diff) best_diff = c;
      }
    }
    int best = 0, best_h = 0;
    for (int k = 1; k < N_ID; k++) {
      if (s[k] > s[best]) best = k;
      if (hs[k] > hs[best_h]) best_h = k;
    }
    double other = -2.0;
    for (int k = 0; k < N_ID; k++)
      if (k != test[t].id && s[k] > other) other = s[k];
    double margin = s[test[t].id] - other;
    if (margin < min_margin) min_margin = margin;
    correct += best == test[t].id;
    correct_h += best_h == test[t].id;
    printf("%-34s %-15s", test[t].label, id_names[test[t].id]);
    for (int k = 0; k < N_ID; k++) printf(" %.3f", s[k]);
    printf(" |");
    for (int k = 0; k < N_ID; k++) printf(" %.2f", hs[k]);
    printf("  -> %s (margin %+.3f)%s\n", id_names[best], margin,
           best == test[t].id ? "" : "  WRONG");
  }
  double same_mean = same_n ? same_sum / same_n : 0, diff_mean = diff_n ? diff_sum / diff_n : 0;
  printf("cosine: %d/%d correct, human's measure: %d/%d correct\n", correct, n_test, correct_h,
         n_test);
  printf(
      "same-person cosine mean %.3f (min %.3f, %d pairs), different-person mean %.3f "
      "(max %.3f, %d pairs), smallest identification margin %+.3f\n",
      same_mean, worst_same, same_n, diff_mean, best_diff, diff_n, min_margin);
  /* measured: 7/7, smallest margin +0.21, means 0.67 vs 0.38 (XNNPACK, 2 threads) */
  CHECK(correct == n_test && n_test == 7, "%d/%d test faces identified", correct, n_test);
  CHECK(min_margin > 0.1, "smallest identification margin %.3f", min_margin);
  CHECK(same_mean > diff_mean + 0.2, "same-person mean %.3f vs different %.3f", same_mean,
        diff_mean);
done:
  nn_plan_destroy(&e.plan);
  nn_graph_destroy(&e.g);
  emo_context_destroy(&e.ctx);
  emo_model_destroy(&model);
  return th_finish("test_face_embed");
}
