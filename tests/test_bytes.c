/* test_bytes.c: the byte cursor of core/bytes.h that every model-file reader uses. Each read
 * is tried at the exact end of its buffer (it must succeed and leave nothing), one byte short
 * (it must fail and leave the cursor where it was) and on an empty buffer, from every offset
 * 0..7 of a heap copy so the loads are unaligned. The buffers are malloc'd to their exact size,
 * so under the sanitizer build a read one byte past the end is caught. Varints of 1..10 bytes
 * round-trip, an 11-byte one is refused, and values with the high bit set come back intact. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "harness.h"

/* A malloc'd copy of src[0, n) placed so that the first byte sits at offset `shift` of an
 * allocation of exactly shift + n bytes; *base receives the allocation to free. */
static const uint8_t *copy_at(const uint8_t *src, size_t n, size_t shift, uint8_t **base) {
  *base = malloc(shift + n ? shift + n : 1);
  if (!*base) return NULL;
  memset(*base, 0xee, shift);
  if (n) memcpy(*base + shift, src, n);
  return *base + shift;
}

/* 0x80 0x81 ... : every byte has its high bit set, and each position is distinct. */
static const uint8_t hi[16] = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0xf7,
                               0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0xff};

enum { K_U8, K_U16, K_U32, K_U64, K_I32, K_I64, K_F32, K_F64, K_SPAN, K_COUNT };
static const char *const k_name[K_COUNT] = {"u8",  "u16", "u32", "u64", "i32",
                                            "i64", "f32", "f64", "span"};
static const size_t k_size[K_COUNT] = {1, 2, 4, 8, 4, 8, 4, 8, 5};

/* Reads one value of kind k; the value's bits go to *bits. Returns the read's status. */
static int read_kind(bytes_cur *c, int k, uint64_t *bits) {
  int rc = -1;
  *bits = 0;
  switch (k) {
    case K_U8: {
      uint8_t v = 0;
      rc = bytes_read_u8(c, &v);
      *bits = v;
      break;
    }
    case K_U16: {
      uint16_t v = 0;
      rc = bytes_read_u16(c, &v);
      *bits = v;
      break;
    }
    case K_U32: {
      uint32_t v = 0;
      rc = bytes_read_u32(c, &v);
      *bits = v;
      break;
    }
    case K_U64: rc = bytes_read_u64(c, bits); break;
    case K_I32: {
      int32_t v = 0;
      rc = bytes_read_i32(c, &v);
      *bits = (uint64_t)(uint32_t)v;
      break;
    }
    case K_I64: {
      int64_t v = 0;
      rc = bytes_read_i64(c, &v);
      *bits = (uint64_t)v;
      break;
    }
    case K_F32: {
      float v = 0;
      uint32_t u;
      rc = bytes_read_f32(c, &v);
      memcpy(&u, &v, 4);
      *bits = u;
      break;
    }
    case K_F64: {
      double v = 0;
      rc = bytes_read_f64(c, &v);
      memcpy(bits, &v, 8);
      break;
    }
    case K_SPAN: {
      const uint8_t *s = NULL;
      rc = bytes_read_span(c, k_size[K_SPAN], &s);
      *bits = rc ? 0 : (uint64_t)(uintptr_t)s;
      break;
    }
  }
  return rc;
}

/* The little-endian value of hi[0, n), built the slow way. */
static uint64_t want_bits(size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | hi[i];
  return v;
}

static void test_fixed_reads(void) {
  for (int k = 0; k < K_COUNT; k++)
    for (size_t shift = 0; shift < 8; shift++) {
      size_t n = k_size[k];
      uint8_t *base;
      /* exact end: the read succeeds and nothing is left */
      const uint8_t *buf = copy_at(hi, n, shift, &base);
      if (!buf) return;
      bytes_cur c = bytes_init(buf, n);
      uint64_t got;
      int rc = read_kind(&c, k, &got);
      CHECK(rc == 0 && bytes_left(&c) == 0, "%s at the exact end (offset %zu)", k_name[k], shift);
      if (k == K_SPAN)
        CHECK(got == (uint64_t)(uintptr_t)buf, "span points at its bytes");
      else
        CHECK(got == want_bits(n), "%s value 0x%llx, want 0x%llx (offset %zu)", k_name[k],
              (unsigned long long)got, (unsigned long long)want_bits(n), shift);
      /* a second read at the end fails */
      CHECK(read_kind(&c, k, &got) == -1 && c.p == buf + n, "%s past the end", k_name[k]);
      free(base);

      /* one byte short: fails, cursor unchanged */
      buf = copy_at(hi, n - 1, shift, &base);
      if (!buf) return;
      c = bytes_init(buf, n - 1);
      rc = read_kind(&c, k, &got);
      CHECK(rc == -1 && c.p == buf && bytes_left(&c) == n - 1, "%s one byte short (offset %zu)",
            k_name[k], shift);
      free(base);
    }
  /* empty buffers, NULL or not */
  static const uint8_t one[1] = {7};
  bytes_cur e[2] = {bytes_init(NULL, 0), bytes_init(one, 0)};
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < K_COUNT; k++) {
      uint64_t got;
      CHECK(read_kind(&e[i], k, &got) == -1 && bytes_left(&e[i]) == 0, "%s on empty buffer %d",
            k_name[k], i);
    }
  CHECK(bytes_skip(&e[0], 0) == 0 && bytes_skip(&e[0], 1) == -1, "skip on an empty buffer");
  uint64_t v;
  CHECK(bytes_read_varint(&e[0], &v) == -1, "varint on an empty buffer");
}

/* Signed and float reads keep the high bit: -1, INT64_MIN, -0.0f, NaN payloads. */
static void test_high_bits(void) {
  static const uint8_t m1[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t i64min[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
  static const uint8_t negz[4] = {0, 0, 0, 0x80};
  static const uint8_t nan[4] = {0x01, 0x00, 0xc0, 0xff}; /* quiet NaN, sign set, payload 1 */
  bytes_cur c = bytes_init(m1, 8);
  int32_t i32;
  int64_t i64;
  CHECK(bytes_read_i32(&c, &i32) == 0 && i32 == -1, "i32 -1");
  c = bytes_init(m1, 8);
  CHECK(bytes_read_i64(&c, &i64) == 0 && i64 == -1, "i64 -1");
  c = bytes_init(i64min, 8);
  CHECK(bytes_read_i64(&c, &i64) == 0 && i64 == INT64_MIN, "i64 min");
  c = bytes_init(i64min + 4, 4);
  CHECK(bytes_read_i32(&c, &i32) == 0 && i32 == INT32_MIN, "i32 min");
  float f;
  c = bytes_init(negz, 4);
  CHECK(bytes_read_f32(&c, &f) == 0 && f == 0.0f && signbit(f), "f32 -0");
  c = bytes_init(nan, 4);
  uint32_t u;
  CHECK(bytes_read_f32(&c, &f) == 0 && isnan(f), "f32 NaN");
  memcpy(&u, &f, 4);
  CHECK(u == 0xffc00001u, "f32 NaN bits 0x%08x kept", u);
  CHECK(bytes_le16(m1) == 0xffff && bytes_le32(m1) == 0xffffffffu && bytes_le64(m1) == UINT64_MAX,
        "plain loads of all-ones");
  CHECK(isnan(bytes_le_f64(m1)) && isnan(bytes_le_f32(m1)), "all-ones floats are NaNs");
  /* plain loads at every unaligned offset of the high-bit pattern */
  for (size_t o = 0; o < 8; o++) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) w = w << 8 | hi[o + (size_t)i];
    CHECK(bytes_le64(hi + o) == w && bytes_le32(hi + o) == (uint32_t)w &&
              bytes_le16(hi + o) == (uint16_t)w,
          "plain loads at offset %zu", o);
  }
}

/* Writes v as a minimal varint; returns its length. */
static size_t put_varint(uint8_t *b, uint64_t v) {
  size_t n = 0;
  do {
    b[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  return n;
}

static void test_varints(void) {
  /* 1..10 bytes: the largest value of each length, exact end, one byte short, unaligned */
  for (int len = 1; len <= 10; len++) {
    uint64_t v = len == 10 ? UINT64_MAX : ((uint64_t)1 << (7 * len)) - 1;
    uint8_t enc[16];
    size_t n = put_varint(enc, v);
    CHECK(n == (size_t)len, "encoder: %d bytes, got %zu", len, n);
    for (size_t shift = 0; shift < 4; shift++) {
      uint8_t *base;
      const uint8_t *buf = copy_at(enc, n, shift, &base);
      if (!buf) return;
      bytes_cur c = bytes_init(buf, n);
      uint64_t got = 0;
      CHECK(bytes_read_varint(&c, &got) == 0 && got == v && bytes_left(&c) == 0,
            "%d-byte varint 0x%llx read as 0x%llx", len, (unsigned long long)v,
            (unsigned long long)got);
      c = bytes_init(buf, n - 1);
      CHECK(bytes_read_varint(&c, &got) == -1 && c.p == buf, "%d-byte varint one byte short", len);
      free(base);
    }
  }
  /* small values, one byte each, followed by more data */
  static const uint8_t two[3] = {0x00, 0x7f, 0x96};
  bytes_cur c = bytes_init(two, 3);
  uint64_t v;
  CHECK(bytes_read_varint(&c, &v) == 0 && v == 0 && bytes_left(&c) == 2, "varint 0");
  CHECK(bytes_read_varint(&c, &v) == 0 && v == 127 && bytes_left(&c) == 1, "varint 127");
  CHECK(bytes_read_varint(&c, &v) == -1 && bytes_left(&c) == 1, "dangling continuation byte");
  /* the protobuf spec's example: 150 = 0x96 0x01 */
  static const uint8_t d150[2] = {0x96, 0x01};
  c = bytes_init(d150, 2);
  CHECK(bytes_read_varint(&c, &v) == 0 && v == 150, "varint 150");
  /* a non-minimal 10-byte varint is still 10 bytes: accepted (0 padded with continuations) */
  uint8_t ten[11];
  memset(ten, 0x80, sizeof ten);
  ten[9] = 0x00;
  c = bytes_init(ten, 10);
  CHECK(bytes_read_varint(&c, &v) == 0 && v == 0 && bytes_left(&c) == 0, "padded 10-byte zero");
  /* 11 bytes: refused even though the buffer holds the terminating byte */
  ten[9] = 0x80;
  ten[10] = 0x00;
  c = bytes_init(ten, 11);
  CHECK(bytes_read_varint(&c, &v) == -1 && c.p == ten, "11-byte varint refused");
  /* a tenth byte above bit 63 is dropped (as protobuf does): 0xff.. 0x7f reads as all ones */
  uint8_t big[10];
  memset(big, 0xff, 9);
  big[9] = 0x7f;
  c = bytes_init(big, 10);
  CHECK(bytes_read_varint(&c, &v) == 0 && v == UINT64_MAX, "tenth byte's extra bits dropped");
}

static void test_span_skip_fits(void) {
  static const uint8_t s[6] = {'a', 'b', 'c', 0, 'd', 'e'};
  bytes_cur c = bytes_init(s, 6);
  const uint8_t *p = NULL;
  CHECK(bytes_read_span(&c, 0, &p) == 0 && p == s && bytes_left(&c) == 6, "empty span");
  CHECK(bytes_read_span(&c, 4, &p) == 0 && p == s && !memcmp(p, "abc", 4), "string span");
  CHECK(bytes_skip(&c, 3) == -1 && bytes_left(&c) == 2, "skip one past the end");
  CHECK(bytes_skip(&c, UINT64_MAX) == -1 && bytes_left(&c) == 2, "huge skip");
  CHECK(bytes_read_span(&c, (uint64_t)1 << 40, &p) == -1 && p == s, "huge span leaves *out");
  CHECK(bytes_skip(&c, 2) == 0 && bytes_left(&c) == 0, "skip to the exact end");
  CHECK(bytes_skip(&c, 0) == 0 && bytes_skip(&c, 1) == -1, "skip at the end");

  CHECK(bytes_fits(0, 0, 0) && bytes_fits(0, 6, 6) && bytes_fits(6, 0, 6) && bytes_fits(2, 4, 6),
        "ranges that fit");
  CHECK(!bytes_fits(0, 7, 6) && !bytes_fits(7, 0, 6) && !bytes_fits(3, 4, 6), "ranges that don't");
  CHECK(!bytes_fits(1, UINT64_MAX, 6) && !bytes_fits(UINT64_MAX, 2, 6), "no wrap-around");
}

int main(void) {
  test_fixed_reads();
  test_high_bits();
  test_varints();
  test_span_skip_fits();
  return th_finish("test_bytes");
}
