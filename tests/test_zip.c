/* test_zip.c: core/zip.h, the bounded zip reader model bundles go through. What must hold:
 *  - stored and deflated entries read back byte for byte, found by name;
 *  - an entry over the caller's cap is EMO_ELIMIT before anything is inflated;
 *  - a damaged entry (a flipped data byte: bad CRC) and a truncated archive are EMO_EMODEL with
 *    a message naming the archive, never a crash or a short read passed off as whole;
 *  - the real MediaPipe bundle (../shared/data/models/face_landmarker.task, when present) lists
 *    its four members and its TFLite models carry the TFL3 identifier.
 * Inputs: the committed seed archives of fuzz/corpus/zip/ and, when present, the shared bundle. */
#include <stdlib.h>
#include <string.h>

#include "core/zip.h"
#include "harness.h"

static unsigned char *load(const char *name, size_t *n) {
  char path[512];
  snprintf(path, sizeof path, "%s/fuzz/corpus/zip/%s", EMO_SOURCE_DIR, name);
  unsigned char *d = th_read_file(path, n);
  CHECK(d != NULL, "cannot read %s", path);
  return d;
}

static void check_entry(emoi_zip *z, const char *name, const void *want, size_t n) {
  int i = emoi_zip_find(z, name);
  CHECK(i >= 0, "%s not found", name);
  if (i < 0) return;
  unsigned char *buf = NULL;
  size_t len = 0;
  emoi_err e = {{0}};
  int rc = emoi_zip_read(z, i, 1 << 20, &buf, &len, &e);
  CHECK(rc == EMO_OK, "%s: %s", name, e.msg);
  CHECK(len == n && (n == 0 || memcmp(buf, want, n) == 0), "%s: %zu bytes, want %zu", name, len, n);
  free(buf);
  if (n > 1) { /* a cap one byte short refuses from the declared size */
    rc = emoi_zip_read(z, i, n - 1, &buf, &len, &e);
    CHECK(rc == EMO_ELIMIT && !buf && strstr(e.msg, "cap"), "%s: cap: rc %d %s", name, rc, e.msg);
  }
}

int main(void) {
  size_t n = 0;
  unsigned char *d = load("stored.zip", &n);
  emoi_zip *z = NULL;
  emoi_err e = {{0}};
  if (d) {
    CHECK(emoi_zip_open(d, n, "stored.zip", &z, &e) == EMO_OK, "%s", e.msg);
    CHECK(emoi_zip_count(z) == 2, "count %d", emoi_zip_count(z));
    check_entry(z, "a.txt", "hello", 5);
    check_entry(z, "archive/data.pkl", "\x80\x02}q\x00.", 6);
    CHECK(emoi_zip_find(z, "missing") == -1, "found a missing entry");
    emoi_zip_close(z);
    /* Flip the first data byte of a.txt ("hello" follows its 30-byte header and 5-byte name). */
    unsigned char *bad = malloc(n);
    memcpy(bad, d, n);
    CHECK(memcmp(bad + 35, "hello", 5) == 0, "layout of stored.zip changed");
    bad[35] ^= 0x20;
    z = NULL;
    if (emoi_zip_open(bad, n, "bad.zip", &z, &e) == EMO_OK) {
      unsigned char *buf = NULL;
      size_t len = 0;
      int rc = emoi_zip_read(z, emoi_zip_find(z, "a.txt"), 64, &buf, &len, &e);
      CHECK(rc == EMO_EMODEL && !buf && strstr(e.msg, "bad.zip"), "bad CRC: rc %d %s", rc, e.msg);
      emoi_zip_close(z);
    }
    /* Truncated: the central directory is gone. */
    z = NULL;
    int rc = emoi_zip_open(d, n - 30, "cut.zip", &z, &e);
    CHECK(rc == EMO_EMODEL && !z && strstr(e.msg, "cut.zip"), "truncated: rc %d %s", rc, e.msg);
    rc = emoi_zip_open(d, 0, "empty.zip", &z, &e);
    CHECK(rc == EMO_EMODEL && !z, "empty: rc %d", rc);
    free(bad);
    free(d);
  }
  d = load("deflated.zip", &n);
  if (d) {
    z = NULL;
    CHECK(emoi_zip_open(d, n, "deflated.zip", &z, &e) == EMO_OK, "%s", e.msg);
    char want[400];
    for (int i = 0; i < 100; i++) memcpy(want + 4 * i, "TFL3", 4);
    check_entry(z, "model.tflite", want, sizeof want);
    check_entry(z, "empty", "", 0);
    emoi_zip_close(z);
    free(d);
  }
  const char *task = th_data("models/face_landmarker.task");
  if (!task) {
    printf("test_zip: shared data absent: the MediaPipe bundle check is skipped\n");
  } else if ((d = th_read_file(task, &n))) {
    z = NULL;
    CHECK(emoi_zip_open(d, n, task, &z, &e) == EMO_OK, "%s", e.msg);
    CHECK(emoi_zip_count(z) == 4, "bundle count %d", emoi_zip_count(z));
    const char *tfl[] = {"face_detector.tflite", "face_landmarks_detector.tflite",
                         "face_blendshapes.tflite"};
    for (int k = 0; k < 3; k++) {
      unsigned char *buf = NULL;
      size_t len = 0;
      int rc = emoi_zip_read(z, emoi_zip_find(z, tfl[k]), 8 << 20, &buf, &len, &e);
      CHECK(rc == EMO_OK && len > 8 && memcmp(buf + 4, "TFL3", 4) == 0, "%s: %s", tfl[k], e.msg);
      free(buf);
    }
    emoi_zip_close(z);
    free(d);
  }
  return th_finish("test_zip");
}
