/* test_safetensors.c: nn/safetensors.c on images assembled here (JSON header + data bytes,
 * never real weights): exact F32/F16/BF16/F64 values (F16 subnormals, inf, NaN, -0; BF16),
 * unaligned data, rank 0 and empty tensors, metadata, file order and lookup, st_get_f32 shape
 * checks, st_open_file; and rejection with a message of every malformed header the reader
 * guards against, plus every prefix of a valid file. Set EMO_WRITE_ST_SEEDS=dir to also write
 * the images as fuzz seeds (fuzz/corpus/safetensors). */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nn/safetensors.h"

/* ---- image builder ---------------------------------------------------------------------- */

/* malloc'ed image: 8-byte little-endian length of json, json, then dn bytes of data. */
static uint8_t *image(const char *json, const void *data, size_t dn, size_t *size) {
  size_t jn = strlen(json);
  uint8_t *p = malloc(8 + jn + dn);
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)jn >> (8 * i));
  memcpy(p + 8, json, jn);
  if (dn) memcpy(p + 8 + jn, data, dn);
  *size = 8 + jn + dn;
  return p;
}

static void save_seed(const char *name, const char *json, const void *data, size_t dn) {
  const char *dir = getenv("EMO_WRITE_ST_SEEDS");
  if (!dir) return;
  size_t n;
  uint8_t *p = image(json, data, dn, &n);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
  FILE *f = fopen(path, "wb");
  if (f) {
    fwrite(p, 1, n, f);
    fclose(f);
  }
  free(p);
}

/* Opens json + data (the st_file owns a fresh copy, so ASan sees any over-read). */
static int open_img(const char *json, const void *data, size_t dn, st_file **f, emoi_err *e) {
  size_t n;
  uint8_t *p = image(json, data, dn, &n);
  e->msg[0] = 0;
  return st_open_memory(p, n, 1, f, e);
}

/* Expects json + data to be rejected with code and a message containing want (and want2). */
static void reject(int line, const char *json, const void *data, size_t dn, int code,
                   const char *want, const char *want2) {
  st_file *f = NULL;
  emoi_err e;
  int rc = open_img(json, data, dn, &f, &e);
  CHECK(rc == code && f == NULL, "line %d: rc %d (want %d): %s", line, rc, code, e.msg);
  CHECK(strstr(e.msg, want) && (!want2 || strstr(e.msg, want2)), "line %d: message '%s'", line,
        e.msg);
  st_close(&f);
}
#define REJECT(json, data, dn, code, want, want2) \
  reject(__LINE__, json, data, dn, code, want, want2)

static uint32_t bits32(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* ---- valid files ------------------------------------------------------------------------- */

static void test_values(void) {
  /* data: one pad byte so that every tensor starts at an odd address offset */
  uint8_t d[1 + 16 + 24 + 10 + 40 + 4];
  size_t o = 0;
  d[o++] = 0xee;
  float f32[4] = {1.5f, -0.0f, 0x1p-149f, INFINITY};
  memcpy(d + o, f32, sizeof f32); /* the test host is little-endian like the format */
  o += sizeof f32;
  /* 0, -0, smallest and largest subnormal, smallest normal, 1, -2, 65504, inf, -inf, NaN, 1/3 */
  static const uint16_t h[12] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00,
                                 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555};
  const float hf[12] = {0.0f,  -0.0f,   0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 1.0f,
                        -2.0f, 65504.f, INFINITY, -INFINITY,       NAN,      0.333251953125f};
  for (int i = 0; i < 12; i++)
    d[o + 2 * i] = (uint8_t)h[i], d[o + 2 * i + 1] = (uint8_t)(h[i] >> 8);
  o += 24;
  /* BF16: 1, -3.140625, inf, smallest subnormal, -0 */
  static const uint16_t b[5] = {0x3f80, 0xc049, 0x7f80, 0x0001, 0x8000};
  const float bf[5] = {1.0f, -3.140625f, INFINITY, 0x1p-133f, -0.0f};
  for (int i = 0; i < 5; i++) d[o + 2 * i] = (uint8_t)b[i], d[o + 2 * i + 1] = (uint8_t)(b[i] >> 8);
  o += 10;
  const double f64[5] = {1.5, -2.25, 1e-3, 3.0e38, 1e300};
  memcpy(d + o, f64, sizeof f64);
  o += sizeof f64;
  float s = 42.0f;
  memcpy(d + o, &s, 4);
  o += 4;
  const char *json =
      "{\"__metadata__\":{\"format\":\"emo-test\",\"labels\":\"a,b\"},"
      "\"f32\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[1,17]},"
      "\"f16\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[17,41]},"
      "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[41,51]},"
      "\"f64\":{\"dtype\":\"F64\",\"shape\":[5,1,1],\"data_offsets\":[51,91]},"
      "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[91,95]},"
      "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,7],\"data_offsets\":[95,95]}}   ";
  save_seed("all_dtypes", json, d, o);
  st_file *f = NULL;
  emoi_err e;
  int rc = open_img(json, d, o, &f, &e);
  CHECK(rc == EMO_OK && f, "open: %d %s", rc, e.msg);
  if (!f) return;
  CHECK(st_count(f) == 6, "count %d", st_count(f));
  static const char *order[6] = {"f32", "f16", "bf16", "f64", "scalar", "empty"};
  for (int i = 0; i < 6; i++) {
    CHECK(st_at(f, i) && !strcmp(st_at(f, i)->name, order[i]), "st_at(%d)", i);
    CHECK(st_find(f, order[i]) == st_at(f, i), "st_find(%s)", order[i]);
  }
  CHECK(!st_at(f, -1) && !st_at(f, 6) && !st_find(f, "nope") && !st_find(f, "__metadata__"),
        "absent lookups");
  CHECK(st_meta(f, "format") && !strcmp(st_meta(f, "format"), "emo-test"), "meta format");
  CHECK(st_meta(f, "labels") && !strcmp(st_meta(f, "labels"), "a,b"), "meta labels");
  CHECK(!st_meta(f, "nope"), "absent meta");

  float out[12];
  const st_tensor *t = st_find(f, "f32");
  CHECK(t->dtype == ST_F32 && t->rank == 2 && t->shape[0] == 2 && t->numel == 4, "f32 info");
  st_to_f32(t, out);
  for (int i = 0; i < 4; i++) CHECK(bits32(out[i]) == bits32(f32[i]), "f32[%d] %g", i, out[i]);

  t = st_find(f, "f16");
  CHECK(t->dtype == ST_F16 && t->numel == 12, "f16 info");
  st_to_f32(t, out);
  for (int i = 0; i < 12; i++)
    CHECK(bits32(out[i]) == bits32(hf[i]), "f16 0x%04x -> %a (0x%08x), want %a", h[i], out[i],
          bits32(out[i]), hf[i]);
  CHECK(signbit(out[1]) && isnan(out[10]), "f16 -0 and NaN");

  t = st_find(f, "bf16");
  CHECK(t->dtype == ST_BF16 && t->numel == 5, "bf16 info");
  st_to_f32(t, out);
  for (int i = 0; i < 5; i++) CHECK(bits32(out[i]) == bits32(bf[i]), "bf16[%d] %a", i, out[i]);

  t = st_find(f, "f64");
  CHECK(t->dtype == ST_F64 && t->rank == 3 && t->numel == 5, "f64 info");
  st_to_f32(t, out);
  for (int i = 0; i < 5; i++) CHECK(out[i] == (float)f64[i], "f64[%d] %a", i, out[i]);
  CHECK(isinf(out[4]), "1e300 -> inf");

  t = st_find(f, "scalar");
  CHECK(t->rank == 0 && t->numel == 1, "scalar info");
  t = st_find(f, "empty");
  CHECK(t->rank == 2 && t->numel == 0 && t->shape[1] == 7, "empty info");

  /* st_get_f32 */
  int64_t sh[3] = {2, 2, 0};
  float *g = st_get_f32(f, "f32", 2, sh, &e);
  CHECK(g && g[0] == 1.5f && bits32(g[3]) == bits32(INFINITY), "get exact");
  free(g);
  sh[0] = -1;
  g = st_get_f32(f, "f32", 2, sh, &e);
  CHECK(g != NULL, "get wildcard: %s", e.msg);
  free(g);
  g = st_get_f32(f, "scalar", 0, NULL, &e);
  CHECK(g && g[0] == 42.0f, "get scalar");
  free(g);
  g = st_get_f32(f, "empty", 2, (int64_t[]){0, -1}, &e);
  CHECK(g != NULL, "get empty: %s", e.msg);
  free(g);
  e.msg[0] = 0;
  g = st_get_f32(f, "f16", 2, (int64_t[]){3, 5}, &e);
  CHECK(!g && strstr(e.msg, "'f16'") && strstr(e.msg, "[3, 4]") && strstr(e.msg, "[3, 5]"),
        "shape mismatch: %s", e.msg);
  e.msg[0] = 0;
  g = st_get_f32(f, "f16", 3, (int64_t[]){3, -1, 1}, &e);
  CHECK(!g && strstr(e.msg, "[3, ?, 1]"), "rank mismatch: %s", e.msg);
  e.msg[0] = 0;
  g = st_get_f32(f, "enc.missing", 1, sh, &e);
  CHECK(!g && strstr(e.msg, "missing tensor") && strstr(e.msg, "enc.missing"), "missing: %s",
        e.msg);
  st_close(&f);
  CHECK(f == NULL, "st_close sets NULL");
  st_close(&f);
  st_close(NULL);
}

/* Many tensors: st_find (binary search over sorted names) and file order both hold. */
static void test_many(void) {
  enum { N = 300 };
  size_t cap = N * 80 + 64, k = 0;
  char *json = malloc(cap);
  float data[N];
  k += (size_t)snprintf(json + k, cap - k, "{");
  for (int i = 0; i < N; i++) {
    int j = (i * 7919) % N; /* names out of order */
    data[i] = (float)j;
    k += (size_t)snprintf(
        json + k, cap - k,
        "%s\"layer.%d.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}", i ? "," : "",
        j, 4 * i, 4 * i + 4);
  }
  snprintf(json + k, cap - k, "}");
  st_file *f = NULL;
  emoi_err e;
  int rc = open_img(json, data, sizeof data, &f, &e);
  CHECK(rc == EMO_OK && st_count(f) == N, "many: %d %s", rc, e.msg);
  int bad = 0;
  for (int i = 0; f && i < N; i++) {
    char name[32];
    int j = (i * 7919) % N;
    snprintf(name, sizeof name, "layer.%d.w", j);
    const st_tensor *t = st_find(f, name);
    float v = -1;
    if (t) st_to_f32(t, &v);
    bad += v != (float)j || t != st_at(f, i); /* st_at is file order */
  }
  CHECK(!bad, "many lookups: %d wrong", bad);
  st_close(&f);
  free(json);
}

static void test_file(void) {
  char path[] = "/tmp/test_safetensors_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  if (fd < 0) return;
  float v[2] = {3.0f, -4.0f};
  size_t n;
  uint8_t *p = image("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, 8, &n);
  CHECK(write(fd, p, n) == (ssize_t)n, "write");
  close(fd);
  st_file *f = NULL;
  emoi_err e;
  int rc = st_open_file(path, 1 << 20, &f, &e);
  float *g = st_get_f32(f, "w", 1, (int64_t[]){2}, &e);
  CHECK(rc == EMO_OK && g && g[1] == -4.0f, "open_file: %d %s", rc, e.msg);
  free(g);
  st_close(&f);
  rc = st_open_file(path, n, &f, &e);
  CHECK(rc == EMO_OK, "open_file at exactly max_bytes: %s", e.msg);
  st_close(&f);
  e.msg[0] = 0;
  rc = st_open_file(path, n - 1, &f, &e);
  CHECK(rc == EMO_ELIMIT && !f && strstr(e.msg, path), "max_bytes: %d %s", rc, e.msg);
  /* a corrupt file: the message starts with the path */
  fd = open(path, O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && write(fd, p, n - 1) == (ssize_t)(n - 1), "rewrite");
  if (fd >= 0) close(fd);
  e.msg[0] = 0;
  rc = st_open_file(path, 1 << 20, &f, &e);
  CHECK(rc == EMO_EMODEL && !f && !strncmp(e.msg, path, strlen(path)), "corrupt: %s", e.msg);
  unlink(path);
  e.msg[0] = 0;
  rc = st_open_file(path, 1 << 20, &f, &e);
  CHECK(rc == EMO_EIO && !f && strstr(e.msg, "No such file"), "absent: %d %s", rc, e.msg);
  free(p);
}

/* ---- malformed files --------------------------------------------------------------------- */

static void test_reject(void) {
  float z[4] = {0};
  /* too short for the length, length past the end, length over the limit */
  for (size_t n = 0; n < 8; n++) {
    st_file *f = NULL;
    emoi_err e = {{0}};
    uint8_t *p = malloc(n ? n : 1);
    memset(p, 0, n ? n : 1);
    CHECK(st_open_memory(p, n, 1, &f, &e) == EMO_EMODEL && !f && strstr(e.msg, "too short"),
          "%zu bytes: %s", n, e.msg);
  }
  {
    uint8_t p[16] = {0xe8, 0x03}; /* 1000 */
    st_file *f = NULL;
    emoi_err e = {{0}};
    CHECK(st_open_memory(p, sizeof p, 0, &f, &e) == EMO_EMODEL && strstr(e.msg, "runs past"),
          "length past end: %s", e.msg);
    p[0] = 0, p[1] = 0, p[5] = 1; /* 2^40 */
    CHECK(st_open_memory(p, sizeof p, 0, &f, &e) == EMO_EMODEL && strstr(e.msg, "limit"),
          "length over limit: %s", e.msg);
    p[5] = 0xff, p[7] = 0xff; /* huge: no overflow in the comparison */
    CHECK(st_open_memory(p, sizeof p, 0, &f, &e) == EMO_EMODEL, "huge length: %s", e.msg);
  }
  REJECT("", NULL, 0, EMO_EMODEL, "not valid JSON", NULL);
  REJECT("{\"a\": ", NULL, 0, EMO_EMODEL, "not valid JSON", NULL);
  REJECT("{\"a\":{}} x", NULL, 0, EMO_EMODEL, "after the JSON", NULL);
  REJECT("[1,2]", NULL, 0, EMO_EMODEL, "not a JSON object", NULL);
  REJECT("{\"a\":5}", NULL, 0, EMO_EMODEL, "'a'", "not an object");
  REJECT("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL, "'w'", "dtype");
  REJECT("{\"w\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL, "dtype",
         NULL);
  REJECT("{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", z, 8, EMO_EUNSUPPORTED,
         "'w'", "\"I64\"");
  REJECT("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", z, 4, EMO_EUNSUPPORTED,
         "\"f32\"", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL, "shape", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL,
         "'w'", "shape[0]");
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1.5],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL,
         "shape[1]", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL,
         "shape[0]", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e16],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL,
         "shape[0]", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", z, 4,
         EMO_EUNSUPPORTED, "rank 7", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", z,
         0, EMO_EMODEL, "'w'", "elements");
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536,0],\"data_offsets\":[0,0]}}", z, 0,
         EMO_EMODEL, "elements", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,400]}}", z, 4, EMO_EMODEL,
         "'w'", "outside");
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", z, 4, EMO_EMODEL,
         "outside", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", z, 4, EMO_EMODEL,
         "data_offsets", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", z, 8, EMO_EMODEL,
         "data_offsets", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", z, 4, EMO_EMODEL,
         "data_offsets", NULL);
  REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", z, 4, EMO_EMODEL,
         "'w'", "need 8");
  REJECT("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, EMO_EMODEL,
         "need 4", NULL);
  REJECT(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      z, 12, EMO_EMODEL, "'a' and 'b' overlap", NULL);
  REJECT(
      "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
      z, 12, EMO_EMODEL, "'a' and 'b' overlap", NULL);
  REJECT(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
      z, 8, EMO_EMODEL, "duplicate tensor name 'a'", NULL);
  REJECT("{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", NULL, 0, EMO_EMODEL, "'n'",
         "not a string");
  REJECT("{\"__metadata__\":{\"n\":null}}", NULL, 0, EMO_EMODEL, "'n'", NULL);
  REJECT("{\"__metadata__\":[\"x\"]}", NULL, 0, EMO_EMODEL, "__metadata__", NULL);
  REJECT("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0, EMO_EMODEL, "twice", NULL);

  /* an empty tensor inside another one's bytes does not overlap it; no tensors is valid */
  st_file *f = NULL;
  emoi_err e;
  int rc = open_img(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
      z, 8, &f, &e);
  CHECK(rc == EMO_OK, "empty inside: %s", e.msg);
  st_close(&f);
  rc = open_img("{}", NULL, 0, &f, &e);
  CHECK(rc == EMO_OK && st_count(f) == 0, "no tensors: %s", e.msg);
  st_close(&f);

  /* too many tensors */
  size_t cap = (size_t)(ST_MAX_TENSORS + 1) * 64 + 16, k = 0;
  char *json = malloc(cap);
  k += (size_t)snprintf(json, cap, "{");
  for (int i = 0; i <= ST_MAX_TENSORS; i++)
    k += (size_t)snprintf(json + k, cap - k,
                          "%s\"%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                          i ? "," : "", i);
  snprintf(json + k, cap - k, "}");
  REJECT(json, NULL, 0, EMO_EMODEL, "more than", NULL);
  free(json);
}

/* Every proper prefix of a valid file is an error, never a crash or an over-read. */
static void test_truncation(void) {
  float d[6] = {1, 2, 3, 4, 5, 6};
  const char *json =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]}}";
  save_seed("two_tensors", json, d, sizeof d);
  size_t n;
  uint8_t *full = image(json, d, sizeof d, &n);
  int bad = 0;
  for (size_t len = 0; len < n; len++) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, full, len);
    st_file *f = NULL;
    emoi_err e = {{0}};
    int rc = st_open_memory(p, len, 1, &f, &e);
    bad += rc >= 0 || f || !e.msg[0];
    st_close(&f);
  }
  CHECK(!bad, "%d of %zu prefixes accepted", bad, n);
  st_file *f = NULL;
  emoi_err e;
  CHECK(st_open_memory(full, n, 1, &f, &e) == EMO_OK, "full file: %s", e.msg);
  st_close(&f);
}

static void write_seeds(void) {
  float w[6] = {0.5f, -1.0f, 2.0f, 0.25f, 8.0f, -0.125f};
  save_seed(
      "f32_labels",
      "{\"__metadata__\":{\"format\":\"emo-wav2vec2\",\"labels\":\"neu,hap,ang,sad\"},"
      "\"head.classifier.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
      w, sizeof w);
  uint16_t h[4] = {0x3c00, 0x0001, 0x7c00, 0x8000};
  save_seed("f16", "{\"x\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", h, 8);
  save_seed("bad_overlap",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            w, 12);
}

int main(void) {
  test_values();
  test_many();
  test_file();
  test_reject();
  test_truncation();
  write_seeds();
  return th_finish("test_safetensors");
}
