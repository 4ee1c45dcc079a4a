/* test_learn_head.c: heads trained by emo_head_train (src/learn/head.c) on synthetic data
 * whose answer is known: separable Gaussian classes spread over persons; each kind must learn
 * them, grouped cross-validation must refuse a one-person class, training must be
 * deterministic, and a saved head must load back bit-identical and predict the same. The
 * head file reader must refuse truncations and a flipped header; the CSV and NPY readers
 * must name the line of a bad row and round-trip an array. Multi-label sets (several labels
 * per example, each readable from its own features) must give independent sigmoid outputs,
 * high per-label F1 and AUC in grouped cross-validation, and survive the head file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"

#define N 600
#define D 24
#define C 4
#define P 12

static float x[N * D], inten[N];
static int y[N], person[N];
static const char *names[C] = {"calm", "joy", "rage", "awe"};

static void make_data(void) {
  unsigned s = 7;
  float centre[C][D];
  for (int k = 0; k < C; k++)
    for (int j = 0; j < D; j++) centre[k][j] = th_randf(&s, -2.0f, 2.0f);
  for (int i = 0; i < N; i++) {
    y[i] = i % C;
    person[i] = (i / C) % P;
    inten[i] = (float)((i / 7) % 5) / 4.0f;
    for (int j = 0; j < D; j++)
      x[i * D + j] = centre[y[i]][j] + th_randf(&s, -1.0f, 1.0f) + 0.1f * (float)person[i];
    x[i * D + 0] += 2.0f * inten[i]; /* intensity is readable from feature 0 */
  }
}

static emo_train_set set_of(void) {
  emo_train_set s = {N, D, x, y, C, names, person, inten, EMO_MODALITY_VOICE, "synthetic 1", NULL};
  return s;
}

static void test_kinds(void) {
  emo_train_set s = set_of();
  for (int kind = EMO_HEAD_NCM; kind <= EMO_HEAD_MLP; kind++) {
    emo_train_params p = emo_train_params_default();
    p.kind = (emo_head_kind)kind;
    p.iterations = 150;
    emo_cv_report r;
    int conf[C * C];
    char err[256];
    int rc = emo_head_cross_validate(&s, &p, 4, &r, conf, err, sizeof err);
    CHECK(rc == EMO_OK, "kind %d: %s", kind, err);
    CHECK(r.folds == 4 && (int)r.kind == kind, "folds %d kind %d", r.folds, (int)r.kind);
    CHECK(r.unweighted > 0.95, "kind %d: unweighted accuracy %.3f", kind, r.unweighted);
    CHECK(r.macro_f1 > 0.95, "kind %d: macro F1 %.3f", kind, r.macro_f1);
    CHECK(r.intensity_mae < 0.25, "kind %d: intensity MAE %.3f", kind, r.intensity_mae);
    int total = 0;
    for (int i = 0; i < C * C; i++) total += conf[i];
    CHECK(total == N, "confusion holds %d of %d", total, N);
    printf("kind %d: accuracy %.3f, UA %.3f, F1 %.3f, intensity MAE %.3f\n", kind, r.accuracy,
           r.unweighted, r.macro_f1, r.intensity_mae);
  }
}

static void test_deterministic_and_file(void) {
  emo_train_set s = set_of();
  emo_train_params p = emo_train_params_default();
  p.kind = EMO_HEAD_MLP;
  p.hidden = 32;
  p.iterations = 100;
  emo_head *a = NULL, *b = NULL, *c = NULL;
  char err[256];
  CHECK(emo_head_train(&s, &p, &a, err, sizeof err) == EMO_OK, "%s", err);
  CHECK(emo_head_train(&s, &p, &b, err, sizeof err) == EMO_OK, "%s", err);
  if (!a || !b) return;
  char path[] = "/tmp/emo_test_head_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  close(fd);
  CHECK(emo_head_save(a, path, err, sizeof err) == EMO_OK, "%s", err);
  CHECK(emo_head_load(path, NULL, &c, err, sizeof err) == EMO_OK, "%s", err);
  size_t size = 0;
  unsigned char *bytes = th_read_file(path, &size);
  remove(path);
  if (!c || !bytes) return;
  CHECK(emo_head_classes(c) == C && strcmp(emo_head_class_name(c, 2), "rage") == 0, "names");
  CHECK(emo_head_has_intensity(c) && emo_head_kind_of(c) == EMO_HEAD_MLP, "kind/intensity");
  CHECK(strcmp(emo_head_definition(c), "synthetic 1") == 0, "definition");
  int same = 1;
  for (int i = 0; i < 50; i++) {
    float pa[C], pb[C], pc[C], ia[C], ic[C];
    int ka = emo_head_predict(a, x + i * D, pa, ia), kb = emo_head_predict(b, x + i * D, pb, NULL);
    int kc = emo_head_predict(c, x + i * D, pc, ic);
    same &= ka == kb && ka == kc && memcmp(pa, pb, sizeof pa) == 0 &&
            memcmp(pa, pc, sizeof pa) == 0 && memcmp(ia, ic, sizeof ia) == 0;
  }
  CHECK(same, "two trainings, or the saved head, predict differently");
  /* every truncation is refused; so is a wrong version */
  int refused = 0;
  for (size_t n = 0; n < size; n += 1 + n / 8) {
    emo_head *t = NULL;
    refused += emo_head_load_memory(bytes, n, NULL, &t, err, sizeof err) != EMO_OK && !t;
    emo_head_destroy(&t);
  }
  int tried = 0;
  for (size_t n = 0; n < size; n += 1 + n / 8) tried++;
  CHECK(refused == tried, "%d of %d truncations refused", refused, tried);
  bytes[8] = 9;
  emo_head *t = NULL;
  CHECK(emo_head_load_memory(bytes, size, NULL, &t, err, sizeof err) == EMO_EMODEL &&
            strstr(err, "version 9"),
        "version: %s", err);
  free(bytes);
  emo_head_destroy(&a);
  emo_head_destroy(&b);
  emo_head_destroy(&c);
}

static void test_refusals(void) {
  emo_train_set s = set_of();
  int solo[N];
  memcpy(solo, person, sizeof solo);
  for (int i = 0; i < N; i++)
    if (y[i] == 3) solo[i] = 5; /* every "awe" example from one person */
  s.person = solo;
  emo_cv_report r;
  int conf[C * C];
  char err[256] = "";
  CHECK(emo_head_cross_validate(&s, NULL, 4, &r, conf, err, sizeof err) == EMO_EINVAL &&
            strstr(err, "\"awe\"") && strstr(err, "one person"),
        "one-person class: %s", err);
  s = set_of();
  s.n_classes = 1;
  emo_head *h = NULL;
  CHECK(emo_head_train(&s, NULL, &h, err, sizeof err) == EMO_EINVAL && !h, "1 class: %s", err);
}

static void test_table_npy(void) {
  const char good[] = "file,label,person\r\na.jpg,joy,p1\n\n\"b,\"\"q\"\".jpg\",rage,p2\n";
  emo_table *t = NULL;
  char err[256];
  CHECK(emo_table_parse(good, sizeof good - 1, "good.csv", &t, err, sizeof err) == EMO_OK, "%s",
        err);
  CHECK(emo_table_rows(t) == 2 && emo_table_cols(t) == 3, "shape %d x %d", emo_table_rows(t),
        emo_table_cols(t));
  CHECK(strcmp(emo_table_cell(t, 1, 0), "b,\"q\".jpg") == 0, "quoted: %s", emo_table_cell(t, 1, 0));
  CHECK(emo_table_line(t, 1) == 4 && emo_table_column(t, "person") == 2, "line/column");
  emo_table_destroy(&t);
  const char bad[] = "file,label\na,b\nc,d,e\n";
  CHECK(emo_table_parse(bad, sizeof bad - 1, "bad.csv", &t, err, sizeof err) == EMO_EFORMAT &&
            strstr(err, "bad.csv:3:"),
        "bad row: %s", err);
  char path[] = "/tmp/emo_test_npy_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  CHECK(emo_npy_write_f32(path, x, 7, D, err, sizeof err) == EMO_OK, "%s", err);
  float *back = NULL;
  int r = 0, c = 0;
  CHECK(emo_npy_read_f32(path, &back, &r, &c, err, sizeof err) == EMO_OK, "%s", err);
  CHECK(r == 7 && c == D && back && memcmp(back, x, sizeof(float) * 7 * D) == 0, "npy round trip");
  emo_free(back);
  remove(path);
}

/* Multi-label: 3 labels, each present with probability ~0.4 independently of the others,
 * label k adds 3 to feature k. */
static void test_multilabel(void) {
  enum { MN = 300, MD = 8, MC = 3 };
  static float mx[MN * MD];
  static unsigned char t[MN * MC];
  static int my[MN], mp[MN];
  static const char *mnames[MC] = {"tense", "smiling", "tired"};
  unsigned sd = 11;
  for (int i = 0; i < MN; i++) {
    mp[i] = i % 10;
    my[i] = 0;
    for (int k = 0; k < MC; k++) {
      t[i * MC + k] = th_randf(&sd, 0.0f, 1.0f) < 0.4f;
      if (t[i * MC + k]) my[i] = k;
    }
    for (int j = 0; j < MD; j++)
      mx[i * MD + j] = th_randf(&sd, -1.0f, 1.0f) + (j < MC && t[i * MC + j] ? 3.0f : 0.0f);
  }
  emo_train_set s = {MN, MD, mx, my, MC, mnames, mp, NULL, EMO_MODALITY_FACE, "synthetic ml", t};
  char err[256];
  for (int kind = EMO_HEAD_LOGREG; kind <= EMO_HEAD_MLP; kind++) {
    emo_train_params p = emo_train_params_default();
    p.kind = (emo_head_kind)kind;
    p.hidden = 32;
    emo_cv_report r;
    double f1[MC], auc[MC];
    int rc = emo_head_cross_validate_multilabel(&s, &p, 5, &r, f1, auc, err, sizeof err);
    CHECK(rc == EMO_OK, "multi-label kind %d: %s", kind, err);
    for (int k = 0; rc == EMO_OK && k < MC; k++) {
      printf("multi-label kind %d, %s: F1 %.3f AUC %.3f\n", kind, mnames[k], f1[k], auc[k]);
      CHECK(f1[k] > 0.9 && auc[k] > 0.97, "kind %d label %d: F1 %.3f AUC %.3f", kind, k, f1[k],
            auc[k]);
    }
    CHECK(rc != EMO_OK || r.accuracy > 0.8, "exact label sets %.3f", r.accuracy);
    int conf[MC * MC];
    CHECK(emo_head_cross_validate(&s, &p, 5, &r, conf, err, sizeof err) == EMO_EINVAL,
          "single-label CV accepted a multi-label set");
    emo_head *h = NULL, *back = NULL;
    CHECK(emo_head_train(&s, &p, &h, err, sizeof err) == EMO_OK, "%s", err);
    CHECK(emo_head_multilabel(h) == 1, "head not multi-label");
    char path[] = "/tmp/emo_test_ml_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    CHECK(emo_head_save(h, path, err, sizeof err) == EMO_OK, "%s", err);
    CHECK(emo_head_load(path, NULL, &back, err, sizeof err) == EMO_OK && emo_head_multilabel(back),
          "load: %s", err);
    remove(path);
    int several = 0, same = 1;
    for (int i = 0; h && back && i < MN; i++) {
      float a[MC], b[MC];
      emo_head_predict(h, mx + i * MD, a, NULL);
      emo_head_predict(back, mx + i * MD, b, NULL);
      same &= memcmp(a, b, sizeof a) == 0;
      several += a[0] > 0.5f && a[1] > 0.5f && t[i * MC] && t[i * MC + 1];
    }
    CHECK(same, "loaded multi-label head predicts differently");
    CHECK(several > 10, "only %d examples with two labels both above 0.5", several);
    emo_head_destroy(&h);
    emo_head_destroy(&back);
  }
  emo_train_params p = emo_train_params_default();
  p.kind = EMO_HEAD_NCM;
  emo_head *h = NULL;
  CHECK(emo_head_train(&s, &p, &h, err, sizeof err) == EMO_EINVAL && strstr(err, "multi-label"),
        "NCM multi-label: %s", err);
}

int main(void) {
  make_data();
  test_multilabel();
  test_kinds();
  test_deterministic_and_file();
  test_refusals();
  test_table_npy();
  return th_finish("test_learn_head");
}
