/* bytes.h: the one bounds-checked little-endian byte cursor for emo's readers of outside
 * bytes. Every model-file reader uses it: the safetensors header (nn/safetensors.c), the
 * FlatBuffers layer of the TFLite reader (nn/tflite_reader.c), the protobuf wire format of
 * the ONNX reader (nn/onnx_reader.c) and emo's own speech-emotion weights (audio/ser.c).
 *
 * Two kinds of read:
 *  - a cursor (bytes_cur: next byte, end) whose reads (u8 .. u64, i32, i64, f32, f64, a span
 *    of n bytes, skip, and the protobuf base-128 varint of at most 10 bytes) never touch a
 *    byte at or past end: a read that does not fit returns -1 and leaves the cursor where it
 *    was, so the caller can say which field was short and at which offset;
 *  - plain loads (bytes_le16 .. bytes_le_f64) of a range the caller has already checked
 *    (random-access formats such as FlatBuffers, tensor data after a span was taken), and
 *    bytes_fits, the overflow-free range check for them.
 * Values are assembled byte by byte, so any alignment and any host byte order work (compilers
 * turn the pattern into one load).
 *
 * What it leaves to the readers: the structure of each format (headers, FlatBuffers tables
 * and vtables, protobuf keys and wire types, tensor tables), resource caps, and the wording of
 * errors (which field, which tensor, which file). tests/test_bytes.c checks every read at the
 * exact end, one byte short and on an empty buffer. */
#ifndef EMO_CORE_BYTES_H
#define EMO_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Unread bytes [p, end). p == end: nothing left. Both may be NULL for an empty buffer. */
typedef struct bytes_cur {
  const uint8_t *p;
  const uint8_t *end;
} bytes_cur;

/* The most bytes a protobuf varint may take (a 64-bit value, 7 bits a byte). */
#define BYTES_VARINT_MAX 10

/* ---- plain loads of an already checked range -------------------------------------------- */

static inline uint16_t bytes_le16(const uint8_t *b) {
  return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t bytes_le32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t bytes_le64(const uint8_t *b) {
  return (uint64_t)bytes_le32(b) | (uint64_t)bytes_le32(b + 4) << 32;
}
static inline float bytes_le_f32(const uint8_t *b) {
  uint32_t u = bytes_le32(b);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline double bytes_le_f64(const uint8_t *b) {
  uint64_t u = bytes_le64(b);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* 1 when [pos, pos + len) lies inside a buffer of n bytes (no arithmetic can wrap). */
static inline int bytes_fits(uint64_t pos, uint64_t len, size_t n) {
  return pos <= n && len <= (uint64_t)n - pos;
}

/* ---- cursor ------------------------------------------------------------------------------ */

/* A cursor over data[0, n); data may be NULL when n is 0. */
static inline bytes_cur bytes_init(const void *data, size_t n) {
  bytes_cur c;
  c.p = (const uint8_t *)data;
  c.end = n ? c.p + n : c.p;
  return c;
}

/* Bytes left to read. */
static inline size_t bytes_left(const bytes_cur *c) {
  return (size_t)(c->end - c->p);
}

/* Takes the next n bytes: *out points at them (when out is non-NULL) and the cursor moves
 * past them. -1 (cursor unchanged) when fewer than n are left. */
static inline int bytes_read_span(bytes_cur *c, uint64_t n, const uint8_t **out) {
  if (n > bytes_left(c)) return -1;
  if (out) *out = c->p;
  if (n) c->p += n;
  return 0;
}

/* Moves past n bytes; -1 (cursor unchanged) when fewer are left. */
static inline int bytes_skip(bytes_cur *c, uint64_t n) {
  return bytes_read_span(c, n, NULL);
}

static inline int bytes_read_u8(bytes_cur *c, uint8_t *v) {
  if (c->p == c->end) return -1;
  *v = *c->p++;
  return 0;
}
static inline int bytes_read_u16(bytes_cur *c, uint16_t *v) {
  const uint8_t *b;
  if (bytes_read_span(c, 2, &b)) return -1;
  *v = bytes_le16(b);
  return 0;
}
static inline int bytes_read_u32(bytes_cur *c, uint32_t *v) {
  const uint8_t *b;
  if (bytes_read_span(c, 4, &b)) return -1;
  *v = bytes_le32(b);
  return 0;
}
static inline int bytes_read_u64(bytes_cur *c, uint64_t *v) {
  const uint8_t *b;
  if (bytes_read_span(c, 8, &b)) return -1;
  *v = bytes_le64(b);
  return 0;
}
/* Two's complement, as every format emo reads stores it. */
static inline int bytes_read_i32(bytes_cur *c, int32_t *v) {
  uint32_t u;
  if (bytes_read_u32(c, &u)) return -1;
  memcpy(v, &u, sizeof *v);
  return 0;
}
static inline int bytes_read_i64(bytes_cur *c, int64_t *v) {
  uint64_t u;
  if (bytes_read_u64(c, &u)) return -1;
  memcpy(v, &u, sizeof *v);
  return 0;
}
/* IEEE 754 binary32 / binary64, bit pattern kept (NaN payloads, signed zeros). */
static inline int bytes_read_f32(bytes_cur *c, float *v) {
  const uint8_t *b;
  if (bytes_read_span(c, 4, &b)) return -1;
  *v = bytes_le_f32(b);
  return 0;
}
static inline int bytes_read_f64(bytes_cur *c, double *v) {
  const uint8_t *b;
  if (bytes_read_span(c, 8, &b)) return -1;
  *v = bytes_le_f64(b);
  return 0;
}

/* A protobuf base-128 varint (protobuf.dev/programming-guides/encoding): 7 bits a byte, low
 * group first, high bit set on every byte but the last. -1 (cursor unchanged) when it runs
 * past the end or has no last byte within BYTES_VARINT_MAX bytes. Bits above 64 in the tenth
 * byte are dropped, as protobuf's own parsers do. */
static inline int bytes_read_varint(bytes_cur *c, uint64_t *v) {
  uint64_t x = 0;
  const uint8_t *p = c->p;
  for (int i = 0; i < BYTES_VARINT_MAX && p != c->end; i++) {
    uint8_t b = *p++;
    x |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      c->p = p;
      *v = x;
      return 0;
    }
  }
  return -1;
}

#endif
