/* test_fixture.c: the fixture reader (tests/fixture.c) on the committed fixtures and on
 * damaged copies of one: every truncation, bytes flipped at every header offset, a wrong
 * version (whose message must say how to regenerate), trailing bytes. It must accept the
 * good files and reject the bad ones with a message, never crash or read out of bounds
 * (run it under the sanitizers). Needs only tests/fixtures/, never the models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "harness.h"

static const char *fixtures[] = {"fer_emotion.fix", "faceapi_expression.fix", "blazeface_short.fix",
                                 "blazeface_full.fix"};

/* Loads bytes from memory (an exact-size copy, so ASan sees any overread); returns
 * fx_load_memory's status and the message. */
static int load_bytes(const unsigned char *d, size_t n, char *msg, size_t cap) {
  unsigned char *copy = malloc(n ? n : 1);
  if (!copy) return -2;
  if (n) memcpy(copy, d, n);
  fx_file *f = NULL;
  int rc = fx_load_memory(copy, n, "damaged copy", &f, msg, cap);
  free(copy);
  if (rc == 0) {
    /* touch every element so the sanitizers see any bad pointer */
    volatile double sum = 0;
    for (int i = 0; i < f->n_tensors; i++)
      for (int64_t e = 0; e < f->tensors[i].numel; e++)
        sum += f->tensors[i].dtype == FX_F32 ? f->tensors[i].f32[e] : f->tensors[i].u8[e];
    (void)sum;
  } else {
    CHECK(f == NULL, "failed load left *out set");
    CHECK(msg[0] != 0, "failed load without a message");
  }
  fx_free(&f);
  return rc;
}

int main(void) {
  char path[4096], msg[512];
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", EMO_SOURCE_DIR, fixtures[i]);
    fx_file *f = NULL;
    int rc = fx_load(path, &f, msg, sizeof msg);
    CHECK(rc == 0, "%s", msg);
    if (rc != 0) continue;
    const fx_tensor *in = fx_get(f, "s0.input"), *map = fx_get(f, "s0.map");
    const fx_tensor *out = fx_get(f, "s0.out0"), *info = fx_get(f, "info");
    CHECK(in && in->dtype == FX_U8 && in->rank == 4 && in->dims[0] == 1, "%s: s0.input",
          fixtures[i]);
    CHECK(map && map->dtype == FX_F32 && map->numel == 2, "%s: s0.map", fixtures[i]);
    CHECK(out && out->dtype == FX_F32 && out->numel > 0, "%s: s0.out0", fixtures[i]);
    CHECK(info && info->dtype == FX_U8 && info->numel > 0, "%s: info", fixtures[i]);
    CHECK(fx_get(f, "no such tensor") == NULL, "fx_get of an absent name");
    fx_free(&f);
    CHECK(f == NULL, "fx_free sets NULL");
    fx_free(&f); /* twice is fine */
  }

  /* Damaged copies of the smallest fixture. */
  snprintf(path, sizeof path, "%s/tests/fixtures/fer_emotion.fix", EMO_SOURCE_DIR);
  size_t n = 0;
  unsigned char *good = th_read_file(path, &n);
  if (!good) th_skip("%s absent", path);
  unsigned char *bad = malloc(n + 8);
  CHECK(bad != NULL, "malloc");
  if (!bad) return th_finish("test_fixture");

  int truncated_ok = 1;
  for (size_t len = 0; len < n; len++)
    if (load_bytes(good, len, msg, sizeof msg) != -1) truncated_ok = 0;
  CHECK(truncated_ok, "every truncation of %zu bytes must fail", n);

  /* Set each header byte of the file (magic, counts, names, dtypes, ranks, dims; the data
   * after the last header is skipped) to a few values: must either load or fail cleanly. */
  const unsigned char vals[] = {0x00, 0x07, 0x80, 0xff};
  for (size_t off = 0; off < n && off < 1200; off++)
    for (size_t v = 0; v < sizeof vals; v++) {
      memcpy(bad, good, n);
      bad[off] = vals[v];
      (void)load_bytes(bad, n, msg, sizeof msg);
    }

  memcpy(bad, good, n);
  bad[8] = 2; /* version 2 */
  CHECK(load_bytes(bad, n, msg, sizeof msg) == -1 && strstr(msg, "tools/ref"),
        "version mismatch must name the regeneration command: %s", msg);
  memcpy(bad, good, n);
  memcpy(bad + n, "junk", 4);
  CHECK(load_bytes(bad, n + 4, msg, sizeof msg) == -1, "trailing bytes must fail");
  memcpy(bad, good, n);
  bad[12] = 0xff, bad[13] = 0xff, bad[14] = 0xff, bad[15] = 0x7f; /* huge n_tensors */
  CHECK(load_bytes(bad, n, msg, sizeof msg) == -1, "huge n_tensors must fail");
  CHECK(fx_load("/nonexistent/x.fix", &(fx_file *){NULL}, msg, sizeof msg) == -1, "missing file");

  free(bad);
  free(good);
  return th_finish("test_fixture");
}
