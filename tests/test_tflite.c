/* test_tflite.c: tests of the TFLite reader (nn/tflite_reader.c).
 *   (c) tiny models written here by a small FlatBuffer writer (one CONV_2D; a CONV_2D whose
 *       FLOAT16 weights pass through DEQUANTIZE; an unsupported op) load into graphs with the
 *       right shapes, attributes and constant values;
 *   (b) corrupted variants (truncations, flipped bytes, wrong identifier, empty buffer, a huge
 *       vector length) of the synthetic model and of the real BlazeFace models all fail with
 *       EMO_EMODEL / EMO_EUNSUPPORTED and a message, never crash (CI runs this under ASan/UBSan);
 *   (a) the real BlazeFace models from the model cache load with the expected op counts and
 *       input/output shapes (skipped, with the reason, when the cache lacks them).
 * Setting EMO_WRITE_TFLITE_SEEDS=<dir> also writes the synthetic models there (the fuzz seed
 * corpus fuzz/corpus/tflite/ was made this way). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "nn/nn.h"
#include "nn/tflite_reader.h"

/* ---- A minimal FlatBuffer writer --------------------------------------------------------
 * Objects are written front to back in pre-order (parent before children), so every uoffset
 * points forward as the format requires: a parent reserves its reference slots and children
 * patch them once their position is known. Each table's vtable is written just before it. */

typedef struct wr {
  uint8_t b[1 << 16];
  size_t n;
} wr;

static void w_align(wr *w, size_t a) {
  while (w->n % a) w->b[w->n++] = 0;
}
static void w_u16(wr *w, size_t at, uint16_t v) {
  w->b[at] = (uint8_t)v;
  w->b[at + 1] = (uint8_t)(v >> 8);
}
static void w_u32(wr *w, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) w->b[at + i] = (uint8_t)(v >> (8 * i));
}
/* Points the uoffset slot at `slot` to `target`. */
static void w_patch(wr *w, size_t slot, size_t target) {
  w_u32(w, slot, (uint32_t)(target - slot));
}

/* A field: id, size in bytes (1, 4 or 8), value; ref = 1 for a uoffset to fill later. */
typedef struct wf {
  int id, size;
  uint64_t val;
  int ref;
} wf;

/* Writes a table with fields f[0..nf); slots[i] receives the position of field i. Returns the
 * table's position. */
static size_t w_table(wr *w, const wf *f, int nf, size_t *slots) {
  int maxid = -1;
  for (int i = 0; i < nf; i++)
    if (f[i].id > maxid) maxid = f[i].id;
  w_align(w, 4);
  size_t vt = w->n;
  size_t vt_len = 4 + 2 * (size_t)(maxid + 1);
  memset(w->b + vt, 0, vt_len);
  w->n += vt_len;
  w_align(w, 4);
  size_t t = w->n;
  w_u32(w, t, (uint32_t)(t - vt)); /* soffset: vtable = table - soffset */
  w->n += 4;
  for (int i = 0; i < nf; i++) {
    w_align(w, (size_t)f[i].size);
    size_t at = w->n;
    for (int k = 0; k < f[i].size; k++) w->b[w->n++] = (uint8_t)(f[i].val >> (8 * k));
    w_u16(w, vt + 4 + 2 * (size_t)f[i].id, (uint16_t)(at - t));
    if (slots) slots[i] = at;
  }
  w_u16(w, vt, (uint16_t)vt_len);
  w_u16(w, vt + 2, (uint16_t)(w->n - t));
  return t;
}

/* Vector of n int32 values; returns its position (the length word). */
static size_t w_vec_i32(wr *w, const int32_t *v, int n) {
  w_align(w, 4);
  size_t at = w->n;
  w_u32(w, at, (uint32_t)n);
  w->n += 4;
  for (int i = 0; i < n; i++, w->n += 4) w_u32(w, w->n, (uint32_t)v[i]);
  return at;
}

/* Vector of bytes whose data starts 16-aligned. */
static size_t w_vec_bytes(wr *w, const void *data, size_t n) {
  while ((w->n + 4) % 16) w->b[w->n++] = 0;
  size_t at = w->n;
  w_u32(w, at, (uint32_t)n);
  w->n += 4;
  memcpy(w->b + w->n, data, n);
  w->n += n;
  return at;
}

static size_t w_string(wr *w, const char *s) {
  w_align(w, 4);
  size_t at = w->n, len = strlen(s);
  w_u32(w, at, (uint32_t)len);
  memcpy(w->b + at + 4, s, len + 1);
  w->n += 4 + len + 1;
  return at;
}

/* Vector of n uoffsets (to tables); element i's slot is at pos + 4 + 4i. */
static size_t w_vec_refs(wr *w, int n) {
  w_align(w, 4);
  size_t at = w->n;
  w_u32(w, at, (uint32_t)n);
  memset(w->b + at + 4, 0, 4 * (size_t)n);
  w->n += 4 + 4 * (size_t)n;
  return at;
}

/* A synthetic tensor / operator description. */
typedef struct st_tensor {
  const char *name;
  int type;
  int rank;
  int32_t shape[4];
  int buffer;
} st_tensor;

typedef struct st_op {
  int opcode_index;
  int n_in, n_out;
  int32_t in[4], out[1];
  int opt_type; /* builtin_options union tag, 0 = none */
  wf opt[8];    /* option fields */
  int n_opt;
} st_op;

typedef struct st_model {
  int n_codes;
  int codes[8];
  int n_tensors;
  st_tensor t[16];
  int n_ops;
  st_op ops[8];
  int n_buffers;
  const void *buf_data[8];
  size_t buf_size[8];
  int n_in, n_out;
  int32_t in[2], out[2];
} st_model;

/* Serializes m as a TFLite FlatBuffer into w. */
static void write_model(wr *w, const st_model *m) {
  memset(w, 0, sizeof *w);
  w->n = 8;
  memcpy(w->b + 4, "TFL3", 4);
  size_t s[8];
  wf mf[] = {{0, 4, 3, 0}, {1, 4, 0, 1}, {2, 4, 0, 1}, {4, 4, 0, 1}};
  size_t model = w_table(w, mf, 4, s);
  w_patch(w, 0, model);
  size_t ms_codes = s[1], ms_sg = s[2], ms_buf = s[3];
  /* operator codes */
  size_t v = w_vec_refs(w, m->n_codes);
  w_patch(w, ms_codes, v);
  for (int i = 0; i < m->n_codes; i++) {
    int c = m->codes[i];
    wf cf[] = {{0, 1, (uint64_t)(c < 127 ? c : 127), 0}, {2, 4, 1, 0}, {3, 4, (uint64_t)c, 0}};
    w_patch(w, v + 4 + 4 * (size_t)i, w_table(w, cf, 3, NULL));
  }
  /* subgraphs */
  v = w_vec_refs(w, 1);
  w_patch(w, ms_sg, v);
  wf sf[] = {{0, 4, 0, 1}, {1, 4, 0, 1}, {2, 4, 0, 1}, {3, 4, 0, 1}};
  size_t sg = w_table(w, sf, 4, s);
  w_patch(w, v + 4, sg);
  size_t ss[4] = {s[0], s[1], s[2], s[3]};
  size_t tv = w_vec_refs(w, m->n_tensors);
  w_patch(w, ss[0], tv);
  for (int i = 0; i < m->n_tensors; i++) {
    const st_tensor *t = &m->t[i];
    wf tf[] = {
        {0, 4, 0, 1}, {1, 1, (uint64_t)t->type, 0}, {2, 4, (uint64_t)t->buffer, 0}, {3, 4, 0, 1}};
    size_t ts[4];
    w_patch(w, tv + 4 + 4 * (size_t)i, w_table(w, tf, 4, ts));
    w_patch(w, ts[0], w_vec_i32(w, t->shape, t->rank));
    w_patch(w, ts[3], w_string(w, t->name));
  }
  w_patch(w, ss[1], w_vec_i32(w, m->in, m->n_in));
  w_patch(w, ss[2], w_vec_i32(w, m->out, m->n_out));
  size_t ov = w_vec_refs(w, m->n_ops);
  w_patch(w, ss[3], ov);
  for (int i = 0; i < m->n_ops; i++) {
    const st_op *o = &m->ops[i];
    wf of[] = {{0, 4, (uint64_t)o->opcode_index, 0},
               {1, 4, 0, 1},
               {2, 4, 0, 1},
               {3, 1, (uint64_t)o->opt_type, 0},
               {4, 4, 0, 1}};
    size_t os[5];
    int nf = o->opt_type ? 5 : 3;
    w_patch(w, ov + 4 + 4 * (size_t)i, w_table(w, of, nf, os));
    w_patch(w, os[1], w_vec_i32(w, o->in, o->n_in));
    w_patch(w, os[2], w_vec_i32(w, o->out, o->n_out));
    if (o->opt_type) w_patch(w, os[4], w_table(w, o->opt, o->n_opt, NULL));
  }
  /* buffers (buffer 0 is the empty sentinel) */
  size_t bv = w_vec_refs(w, m->n_buffers);
  w_patch(w, ms_buf, bv);
  for (int i = 0; i < m->n_buffers; i++) {
    if (!m->buf_size[i]) {
      w_patch(w, bv + 4 + 4 * (size_t)i, w_table(w, NULL, 0, NULL));
      continue;
    }
    wf bf[] = {{0, 4, 0, 1}};
    size_t bs;
    w_patch(w, bv + 4 + 4 * (size_t)i, w_table(w, bf, 1, &bs));
    w_patch(w, bs, w_vec_bytes(w, m->buf_data[i], m->buf_size[i]));
  }
}

/* ---- Synthetic models ------------------------------------------------------------------- */

enum {
  ADD = 0,
  CONCATENATION = 2,
  CONV_2D = 3,
  DEPTHWISE_CONV_2D = 4,
  DEQUANTIZE = 6,
  FULLY_CONNECTED = 9,
  MAX_POOL_2D = 17,
  RELU = 19,
  RESHAPE = 22,
  SOFTMAX = 25,
  PAD = 34,
  TRANSPOSE = 39,
  GATHER = 36,
  MEAN = 40,
  STRIDED_SLICE = 45,
  NEG = 59,
  SUM = 74,
  RSQRT = 76,
  SQUARED_DIFFERENCE = 99,
  LEAKY_RELU = 98
};

static uint64_t fbits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float g_w[4 * 3 * 3 * 3]; /* (Cout=4, 3, 3, Cin=3) */
static float g_b[4] = {0.5f, -1.0f, 2.0f, 0.0f};

/* input (1,8,8,3) -> CONV_2D 3x3 stride 2 SAME, fused RELU6 -> "out" (1,4,4,4) */
static st_model conv_model(void) {
  for (int i = 0; i < 108; i++) g_w[i] = (float)(i % 7) - 3.0f;
  st_model m;
  memset(&m, 0, sizeof m);
  m.n_codes = 1;
  m.codes[0] = CONV_2D;
  m.n_tensors = 4;
  m.t[0] = (st_tensor){"input", 0, 4, {-1, 8, 8, 3}, 0};
  m.t[1] = (st_tensor){"conv/w", 0, 4, {4, 3, 3, 3}, 1};
  m.t[2] = (st_tensor){"conv/b", 0, 1, {4}, 2};
  m.t[3] = (st_tensor){"out", 0, 4, {1, 4, 4, 4}, 0};
  m.n_ops = 1;
  m.ops[0] = (st_op){
      0, 3, 1, {0, 1, 2}, {3}, 1, {{0, 1, 0, 0}, {1, 4, 2, 0}, {2, 4, 2, 0}, {3, 1, 3, 0}}, 4};
  m.n_buffers = 3;
  m.buf_data[1] = g_w;
  m.buf_size[1] = sizeof g_w;
  m.buf_data[2] = g_b;
  m.buf_size[2] = sizeof g_b;
  m.n_in = m.n_out = 1;
  m.in[0] = 0;
  m.out[0] = 3;
  return m;
}

/* FLOAT16 weights (1,1,1,C=2 -> Cout 2 ... as CONV (2,1,1,2)) through DEQUANTIZE, then RELU,
 * with the DEQUANTIZE listed after the conv that reads it (TFLite order is not assumed). */
static const uint16_t g_h[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001}; /* 1, -2, 65504, 2^-24 */
static st_model fp16_model(void) {
  st_model m;
  memset(&m, 0, sizeof m);
  m.n_codes = 3;
  m.codes[0] = CONV_2D;
  m.codes[1] = DEQUANTIZE;
  m.codes[2] = RELU;
  m.n_tensors = 5;
  m.t[0] = (st_tensor){"x", 0, 4, {1, 5, 5, 2}, 0};
  m.t[1] = (st_tensor){"w16", 1, 4, {2, 1, 1, 2}, 1};
  m.t[2] = (st_tensor){"w", 0, 4, {2, 1, 1, 2}, 0};
  m.t[3] = (st_tensor){"c", 0, 4, {1, 5, 5, 2}, 0};
  m.t[4] = (st_tensor){"y", 0, 4, {1, 5, 5, 2}, 0};
  m.n_ops = 3;
  m.ops[0] = (st_op){0, 3, 1, {0, 2, -1}, {3}, 1, {{0, 1, 1, 0}, {1, 4, 1, 0}, {2, 4, 1, 0}}, 3};
  m.ops[1] = (st_op){1, 1, 1, {1}, {2}, 0, {{0}}, 0};
  m.ops[2] = (st_op){2, 1, 1, {3}, {4}, 0, {{0}}, 0};
  m.n_buffers = 2;
  m.buf_data[1] = g_h;
  m.buf_size[1] = sizeof g_h;
  m.n_in = m.n_out = 1;
  m.in[0] = 0;
  m.out[0] = 4;
  return m;
}

/* A BlazeFace-like block: x (1,8,8,4) -> DEPTHWISE 3x3 SAME -> ADD x (fused RELU) -> MAX_POOL
 * 2x2/2 VALID -> PAD channels +4 -> RESHAPE (1,16,8); pool -> RESHAPE (1,16,4); CONCAT axis -1
 * -> "cat" (1,16,12); second output "pool" (1,4,4,4). */
static float g_dw[36], g_dwb[4];
static const int32_t g_pads[8] = {0, 0, 0, 0, 0, 0, 0, 4};
static const int32_t g_rs1[3] = {1, 16, 8}, g_rs2[3] = {1, 16, 4};
static st_model block_model(void) {
  st_model m;
  memset(&m, 0, sizeof m);
  m.n_codes = 6;
  int codes[6] = {DEPTHWISE_CONV_2D, ADD, MAX_POOL_2D, PAD, RESHAPE, CONCATENATION};
  memcpy(m.codes, codes, sizeof codes);
  m.n_tensors = 13;
  m.t[0] = (st_tensor){"x", 0, 4, {1, 8, 8, 4}, 0};
  m.t[1] = (st_tensor){"dw_w", 0, 4, {1, 3, 3, 4}, 1};
  m.t[2] = (st_tensor){"dw_b", 0, 1, {4}, 2};
  m.t[3] = (st_tensor){"dw", 0, 4, {1, 8, 8, 4}, 0};
  m.t[4] = (st_tensor){"add", 0, 4, {1, 8, 8, 4}, 0};
  m.t[5] = (st_tensor){"pool", 0, 4, {1, 4, 4, 4}, 0};
  m.t[6] = (st_tensor){"paddings", 2, 2, {4, 2}, 3};
  m.t[7] = (st_tensor){"padded", 0, 4, {1, 4, 4, 8}, 0};
  m.t[8] = (st_tensor){"rs1", 0, 3, {1, 16, 8}, 0};
  m.t[9] = (st_tensor){"rs1_shape", 2, 1, {3}, 4};
  m.t[10] = (st_tensor){"rs2", 0, 3, {1, 16, 4}, 0};
  m.t[11] = (st_tensor){"rs2_shape", 2, 1, {3}, 5};
  m.t[12] = (st_tensor){"cat", 0, 3, {1, 16, 12}, 0};
  m.n_ops = 7;
  m.ops[0] = (st_op){0,
                     3,
                     1,
                     {0, 1, 2},
                     {3},
                     2,
                     {{0, 1, 0, 0}, {1, 4, 1, 0}, {2, 4, 1, 0}, {3, 4, 1, 0}, {4, 1, 0, 0}},
                     5};
  m.ops[1] = (st_op){1, 2, 1, {3, 0}, {4}, 11, {{0, 1, 1, 0}}, 1};
  m.ops[2] = (st_op){
      2, 1, 1, {4}, {5}, 5, {{0, 1, 1, 0}, {1, 4, 2, 0}, {2, 4, 2, 0}, {3, 4, 2, 0}, {4, 4, 2, 0}},
      5};
  m.ops[3] = (st_op){3, 2, 1, {5, 6}, {7}, 0, {{0}}, 0};
  m.ops[4] = (st_op){4, 2, 1, {7, 9}, {8}, 0, {{0}}, 0};
  m.ops[5] = (st_op){4, 2, 1, {5, 11}, {10}, 0, {{0}}, 0};
  m.ops[6] = (st_op){5, 2, 1, {8, 10}, {12}, 10, {{0, 4, 0xFFFFFFFFu, 0}}, 1};
  for (int i = 0; i < 36; i++) g_dw[i] = 0.1f * (float)(i % 5);
  m.n_buffers = 6;
  m.buf_data[1] = g_dw;
  m.buf_size[1] = sizeof g_dw;
  m.buf_data[2] = g_dwb;
  m.buf_size[2] = sizeof g_dwb;
  m.buf_data[3] = g_pads;
  m.buf_size[3] = sizeof g_pads;
  m.buf_data[4] = g_rs1;
  m.buf_size[4] = sizeof g_rs1;
  m.buf_data[5] = g_rs2;
  m.buf_size[5] = sizeof g_rs2;
  m.n_in = 1;
  m.n_out = 2;
  m.in[0] = 0;
  m.out[0] = 12;
  m.out[1] = 5;
  return m;
}

/* A classifier head: x (1,4,4,8) -> MEAN axes (1,2) -> FULLY_CONNECTED (3,8) -> LEAKY_RELU 0.2
 * -> SOFTMAX -> "probs" (1,3). */
static float g_fc[24], g_fcb[3] = {0.1f, 0.2f, 0.3f};
static const int32_t g_axes[2] = {1, 2};
static st_model head_model(void) {
  st_model m;
  memset(&m, 0, sizeof m);
  m.n_codes = 4;
  int codes[4] = {MEAN, FULLY_CONNECTED, LEAKY_RELU, SOFTMAX};
  memcpy(m.codes, codes, sizeof codes);
  m.n_tensors = 8;
  m.t[0] = (st_tensor){"x", 0, 4, {1, 4, 4, 8}, 0};
  m.t[1] = (st_tensor){"axes", 2, 1, {2}, 1};
  m.t[2] = (st_tensor){"mean", 0, 2, {1, 8}, 0};
  m.t[3] = (st_tensor){"fc_w", 0, 2, {3, 8}, 2};
  m.t[4] = (st_tensor){"fc_b", 0, 1, {3}, 3};
  m.t[5] = (st_tensor){"fc", 0, 2, {1, 3}, 0};
  m.t[6] = (st_tensor){"lrelu", 0, 2, {1, 3}, 0};
  m.t[7] = (st_tensor){"probs", 0, 2, {1, 3}, 0};
  m.n_ops = 4;
  m.ops[0] = (st_op){0, 2, 1, {0, 1}, {2}, 27, {{0, 1, 0, 0}}, 1};
  m.ops[1] = (st_op){1, 3, 1, {2, 3, 4}, {5}, 8, {{0, 1, 0, 0}}, 1};
  m.ops[2] = (st_op){2, 1, 1, {5}, {6}, 75, {{0, 4, 0, 0}}, 1};
  m.ops[3] = (st_op){3, 1, 1, {6}, {7}, 9, {{0, 4, 0, 0}}, 1};
  m.ops[2].opt[0].val = fbits(0.2f);
  m.ops[3].opt[0].val = fbits(1.0f);
  for (int i = 0; i < 24; i++) g_fc[i] = 0.05f * (float)(i - 12);
  m.n_buffers = 4;
  m.buf_data[1] = g_axes;
  m.buf_size[1] = sizeof g_axes;
  m.buf_data[2] = g_fc;
  m.buf_size[2] = sizeof g_fc;
  m.buf_data[3] = g_fcb;
  m.buf_size[3] = sizeof g_fcb;
  m.n_in = m.n_out = 1;
  m.in[0] = 0;
  m.out[0] = 7;
  return m;
}

/* The ops lowered to several nodes (MediaPipe's blendshape network uses them):
 * x (1,2,3) -> TRANSPOSE [0,2,1] -> (1,3,2) -> STRIDED_SLICE [0:1, 1:3, 0:2] -> (1,2,2)
 * -> SUM axis 2 -> (1,2) -> RSQRT -> r -> NEG -> n; SQUARED_DIFFERENCE(n, r) = 4 r^2 = 4 / sum. */
static const int32_t g_perm[3] = {0, 2, 1}, g_sb[3] = {0, 1, 0}, g_se[3] = {1, 3, 2},
                     g_ss[3] = {1, 1, 1}, g_sax[1] = {2};
static st_model lowered_model(void) {
  st_model m;
  memset(&m, 0, sizeof m);
  m.n_codes = 6;
  int codes[6] = {TRANSPOSE, STRIDED_SLICE, SUM, RSQRT, NEG, SQUARED_DIFFERENCE};
  memcpy(m.codes, codes, sizeof codes);
  m.n_tensors = 12;
  m.t[0] = (st_tensor){"x", 0, 3, {1, 2, 3}, 0};
  m.t[1] = (st_tensor){"perm", 2, 1, {3}, 1};
  m.t[2] = (st_tensor){"t", 0, 3, {1, 3, 2}, 0};
  m.t[3] = (st_tensor){"begin", 2, 1, {3}, 2};
  m.t[4] = (st_tensor){"end", 2, 1, {3}, 3};
  m.t[5] = (st_tensor){"strides", 2, 1, {3}, 4};
  m.t[6] = (st_tensor){"sl", 0, 3, {1, 2, 2}, 0};
  m.t[7] = (st_tensor){"axes", 2, 1, {1}, 5};
  m.t[8] = (st_tensor){"su", 0, 2, {1, 2}, 0};
  m.t[9] = (st_tensor){"rs", 0, 2, {1, 2}, 0};
  m.t[10] = (st_tensor){"ng", 0, 2, {1, 2}, 0};
  m.t[11] = (st_tensor){"out", 0, 2, {1, 2}, 0};
  m.n_ops = 6;
  m.ops[0] = (st_op){0, 2, 1, {0, 1}, {2}, 0, {{0}}, 0};
  m.ops[1] = (st_op){1, 4, 1, {2, 3, 4, 5}, {6}, 0, {{0}}, 0};
  m.ops[2] = (st_op){2, 2, 1, {6, 7}, {8}, 27, {{0, 1, 0, 0}}, 1};
  m.ops[3] = (st_op){3, 1, 1, {8}, {9}, 0, {{0}}, 0};
  m.ops[4] = (st_op){4, 1, 1, {9}, {10}, 0, {{0}}, 0};
  m.ops[5] = (st_op){5, 2, 1, {10, 9}, {11}, 0, {{0}}, 0};
  m.n_buffers = 6;
  m.buf_data[1] = g_perm;
  m.buf_size[1] = sizeof g_perm;
  m.buf_data[2] = g_sb;
  m.buf_size[2] = sizeof g_sb;
  m.buf_data[3] = g_se;
  m.buf_size[3] = sizeof g_se;
  m.buf_data[4] = g_ss;
  m.buf_size[4] = sizeof g_ss;
  m.buf_data[5] = g_sax;
  m.buf_size[5] = sizeof g_sax;
  m.n_in = m.n_out = 1;
  m.in[0] = 0;
  m.out[0] = 11;
  return m;
}

static void write_seed(const wr *w, const char *name) {
  const char *seeds = getenv("EMO_WRITE_TFLITE_SEEDS");
  if (!seeds) return;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", seeds, name);
  FILE *f = fopen(path, "wb");
  if (f) fwrite(w->b, 1, w->n, f), fclose(f);
}

static const nn_value *val(const nn_graph *g, const char *name) {
  int id = nn_graph_find(g, name);
  return id >= 0 ? &g->values[id] : NULL;
}

static int shape_is(const nn_value *v, int rank, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t s[4] = {a, b, c, d};
  if (!v || v->rank != rank) return 0;
  for (int i = 0; i < rank; i++)
    if (v->shape[i] != s[i]) return 0;
  return 1;
}

static const nn_node *node_of(const nn_graph *g, nn_op op) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op == op) return &g->nodes[i];
  return NULL;
}

static int corrupt_all(const uint8_t *orig, size_t n, const char *name, int flips);

static void test_more_ops(wr *w) {
  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  st_model m = block_model();
  write_model(w, &m);
  write_seed(w, "block.tflite");
  int rc = nn_tflite_load(w->b, w->n, "block.tflite", &g, &err);
  CHECK(rc == EMO_OK, "block model: %d %s", rc, err.msg);
  if (rc == EMO_OK) {
    CHECK(g->n_nodes == 7 && g->n_outputs == 2, "block nodes %d outputs %d", g->n_nodes,
          g->n_outputs);
    CHECK(shape_is(val(g, "cat"), 3, 1, 16, 12, 0), "cat shape");
    CHECK(shape_is(val(g, "padded"), 4, 1, 4, 4, 8), "padded shape");
    CHECK(g->outputs[0] == nn_graph_find(g, "cat") && g->outputs[1] == nn_graph_find(g, "pool"),
          "output order");
    const nn_node *n = node_of(g, NN_OP_DEPTHWISE_CONV2D);
    CHECK(n && n->attr.padding == NN_PAD_SAME && n->attr.stride_h == 1, "depthwise attr");
    n = node_of(g, NN_OP_ADD);
    CHECK(n && n->attr.act_min == 0.0f && isinf(n->attr.act_max), "ADD fused RELU");
    n = node_of(g, NN_OP_MAX_POOL2D);
    CHECK(n && n->attr.kernel_h == 2 && n->attr.kernel_w == 2 && n->attr.stride_w == 2 &&
              n->attr.padding == NN_PAD_VALID,
          "pool attr");
    n = node_of(g, NN_OP_PAD);
    CHECK(n && n->n_in == 1 && n->attr.pads[3][0] == 0 && n->attr.pads[3][1] == 4 &&
              n->attr.pads[1][0] == 0,
          "pad attr");
    n = node_of(g, NN_OP_CONCAT);
    CHECK(n && (n->attr.axis == -1 || n->attr.axis == 2) && n->n_in == 2,
          "concat attr"); /* finalize may normalize */
    n = node_of(g, NN_OP_RESHAPE);
    CHECK(n && n->n_in == 1, "reshape keeps only the data input");
    nn_graph_destroy(&g);
  }
  corrupt_all(w->b, w->n, "block.tflite", 3000);

  m = head_model();
  write_model(w, &m);
  write_seed(w, "head.tflite");
  rc = nn_tflite_load(w->b, w->n, "head.tflite", &g, &err);
  CHECK(rc == EMO_OK, "head model: %d %s", rc, err.msg);
  if (rc == EMO_OK) {
    CHECK(g->n_nodes == 4, "head nodes %d", g->n_nodes);
    CHECK(shape_is(val(g, "probs"), 2, 1, 3, 0, 0), "probs shape");
    const nn_node *n = node_of(g, NN_OP_MEAN);
    CHECK(n && n->n_in == 1 && n->attr.n_axes == 2 && n->attr.axes[0] == 1 &&
              n->attr.axes[1] == 2 && n->attr.keepdims == 0,
          "mean attr");
    n = node_of(g, NN_OP_LEAKY_RELU);
    CHECK(n && n->attr.alpha == 0.2f, "leaky alpha");
    n = node_of(g, NN_OP_SOFTMAX);
    CHECK(n && (n->attr.axis == -1 || n->attr.axis == 1), "softmax axis");
    n = node_of(g, NN_OP_FULLY_CONNECTED);
    CHECK(n && n->n_in == 3, "fc inputs");
    nn_graph_destroy(&g);
  }
  corrupt_all(w->b, w->n, "head.tflite", 2000);
  /* ops lowered to several nodes, run on both backends against values worked by hand */
  m = lowered_model();
  write_model(w, &m);
  write_seed(w, "lowered.tflite");
  rc = nn_tflite_load(w->b, w->n, "lowered.tflite", &g, &err);
  CHECK(rc == EMO_OK, "lowered model: %d %s", rc, err.msg);
  for (int be = 0; rc == EMO_OK && be < 2; be++) {
    nn_plan *p = NULL;
    CHECK(
        nn_plan_create(g, be ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK, NULL, &p, &err) == EMO_OK,
        "lowered plan: %s", err.msg);
    if (!p) continue;
    float *x = nn_plan_input(p, 0);
    for (int i = 0; i < 6; i++) x[i] = (float)(i + 1);
    CHECK(nn_plan_run(p, &err) == EMO_OK, "lowered run: %s", err.msg);
    const float *y = nn_plan_output(p, 0);
    CHECK(fabsf(y[0] - 4.0f / 7.0f) < 1e-6f && fabsf(y[1] - 4.0f / 9.0f) < 1e-6f,
          "lowered values %g %g (backend %d)", (double)y[0], (double)y[1], be);
    nn_plan_destroy(&p);
  }
  nn_graph_destroy(&g);
  corrupt_all(w->b, w->n, "lowered.tflite", 2000);
  m = head_model();
  /* SOFTMAX beta other than 1 is unsupported */
  m.ops[3].opt[0].val = fbits(2.0f);
  write_model(w, &m);
  rc = nn_tflite_load(w->b, w->n, "beta.tflite", &g, &err);
  CHECK(rc == EMO_EUNSUPPORTED && strstr(err.msg, "beta"), "softmax beta: %d %s", rc, err.msg);
}

static int is_error(int rc) {
  return rc == EMO_EMODEL || rc == EMO_EUNSUPPORTED;
}

/* Loads bytes that must fail; checks the status and message. Returns 1 if it failed well. */
static int expect_fail(const void *p, size_t n, const char *what) {
  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc = nn_tflite_load(p, n, "corrupt.tflite", &g, &err);
  if (rc == EMO_OK) {
    nn_graph_destroy(&g);
    return 0;
  }
  CHECK(is_error(rc), "%s: status %d (%s)", what, rc, err.msg);
  CHECK(err.msg[0] != 0, "%s: empty message", what);
  CHECK(g == NULL, "%s: graph left behind", what);
  return 1;
}

/* Truncations and byte flips of a valid file; returns the number that still loaded. */
static int corrupt_all(const uint8_t *orig, size_t n, const char *name, int flips) {
  uint8_t *b = malloc(n);
  int loaded = 0, count = 0;
  /* truncations: every length for small files, ~600 spread lengths for big ones */
  size_t step = n < 2048 ? 1 : n / 600;
  for (size_t len = 0; len < n; len += step) {
    memcpy(b, orig, len);
    nn_graph *g = NULL;
    emoi_err err;
    int rc = nn_tflite_load(b, len, name, &g, &err);
    /* a truncated file can only load if the cut lies in trailing bytes nothing refers to */
    if (rc == EMO_OK)
      loaded++, nn_graph_destroy(&g);
    else
      CHECK(is_error(rc) && err.msg[0], "%s truncated at %zu: %d '%s'", name, len, rc, err.msg);
    count++;
  }
  /* byte flips at deterministic positions with deterministic values */
  unsigned st = 12345;
  for (int k = 0; k < flips; k++) {
    memcpy(b, orig, n);
    st = st * 1664525u + 1013904223u;
    size_t pos = (st >> 4) % n;
    st = st * 1664525u + 1013904223u;
    int nb = 1 + (int)((st >> 8) % 4);
    for (int j = 0; j < nb && pos + (size_t)j < n; j++)
      b[pos + (size_t)j] ^= (uint8_t)(1u + ((st >> (8 * j)) % 255u));
    nn_graph *g = NULL;
    emoi_err err;
    err.msg[0] = 0;
    int rc = nn_tflite_load(b, n, name, &g, &err);
    if (rc == EMO_OK)
      loaded++, nn_graph_destroy(&g); /* flips in weights or names are harmless */
    else
      CHECK(is_error(rc) && err.msg[0], "%s flip at %zu: %d '%s'", name, pos, rc, err.msg);
    count++;
  }
  printf("%s: %d corrupted variants, %d still loaded (changes in unused bytes or weights)\n", name,
         count, loaded);
  free(b);
  return loaded;
}

static void test_synthetic(void) {
  wr *w = malloc(sizeof *w);
  st_model m = conv_model();
  write_model(w, &m);
  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc = nn_tflite_load(w->b, w->n, "conv.tflite", &g, &err);
  CHECK(rc == EMO_OK, "conv model: %d %s", rc, err.msg);
  if (rc == EMO_OK) {
    CHECK(g->n_nodes == 1, "nodes %d", g->n_nodes);
    CHECK(g->n_inputs == 1 && g->n_outputs == 1, "io %d %d", g->n_inputs, g->n_outputs);
    const nn_value *in = &g->values[g->inputs[0]], *out = &g->values[g->outputs[0]];
    CHECK(strcmp(in->name, "input") == 0 && strcmp(out->name, "out") == 0, "names %s %s", in->name,
          out->name);
    CHECK(in->rank == 4 && in->shape[0] == 1 && in->shape[1] == 8 && in->shape[3] == 3,
          "input shape (batch -1 -> 1): %lld %lld", (long long)in->shape[0],
          (long long)in->shape[1]);
    CHECK(out->rank == 4 && out->shape[0] == 1 && out->shape[1] == 4 && out->shape[2] == 4 &&
              out->shape[3] == 4,
          "output shape %lld,%lld,%lld,%lld", (long long)out->shape[0], (long long)out->shape[1],
          (long long)out->shape[2], (long long)out->shape[3]);
    const nn_node *nd = &g->nodes[0];
    CHECK(nd->op == NN_OP_CONV2D && nd->n_in == 3, "op %d n_in %d", nd->op, nd->n_in);
    CHECK(nd->attr.stride_h == 2 && nd->attr.stride_w == 2 && nd->attr.padding == NN_PAD_SAME &&
              nd->attr.dilation_h == 1,
          "attr stride %d %d pad %d", nd->attr.stride_h, nd->attr.stride_w, nd->attr.padding);
    CHECK(nd->attr.act_min == 0.0f && nd->attr.act_max == 6.0f, "RELU6 clamp %g %g",
          (double)nd->attr.act_min, (double)nd->attr.act_max);
    const nn_value *wv = &g->values[nd->in[1]];
    CHECK(wv->is_const && wv->rank == 4 && wv->shape[0] == 4 && wv->shape[3] == 3, "weight value");
    const float *wd = nn_graph_const_data(g, nd->in[1]);
    CHECK(wd && memcmp(wd, g_w, sizeof g_w) == 0, "weights copied");
    const float *bd = nn_graph_const_data(g, nd->in[2]);
    CHECK(bd && bd[0] == 0.5f && bd[1] == -1.0f && bd[2] == 2.0f, "bias copied");
    CHECK(nn_graph_find(g, "conv/w") == nd->in[1], "find weight by name");
    nn_graph_destroy(&g);
  }
  write_seed(w, "conv.tflite");

  /* corruptions of the synthetic file */
  uint8_t bad[64] = {0};
  CHECK(expect_fail(w->b, 0, "empty"), "empty buffer loaded");
  CHECK(expect_fail(NULL, 0, "NULL"), "NULL buffer loaded");
  CHECK(expect_fail(bad, sizeof bad, "zeros"), "zeros loaded");
  memcpy(bad, w->b, sizeof bad);
  memcpy(bad + 4, "TFL2", 4);
  CHECK(expect_fail(bad, sizeof bad, "magic"), "wrong magic loaded");
  {
    wr *c = malloc(sizeof *c);
    memcpy(c, w, sizeof *w);
    memcpy(c->b + 4, "XXXX", 4);
    CHECK(expect_fail(c->b, c->n, "magic full"), "wrong magic on full file loaded");
    free(c);
  }
  /* a huge claimed vector length: the tensors vector's length word */
  {
    wr *c = malloc(sizeof *c);
    int hits = 0;
    /* every 4-byte word that equals the tensor count (4) or byte count of the weights gets
     * 0x7FFFFFF0 / 0xFFFFFFFF in turn; each variant must fail or still load */
    for (size_t at = 8; at + 4 <= w->n; at += 4) {
      uint32_t v = (uint32_t)w->b[at] | ((uint32_t)w->b[at + 1] << 8) |
                   ((uint32_t)w->b[at + 2] << 16) | ((uint32_t)w->b[at + 3] << 24);
      if (v != 4 && v != sizeof g_w && v != 3) continue;
      for (int k = 0; k < 2; k++) {
        memcpy(c, w, sizeof *w);
        w_u32(c, at, k ? 0xFFFFFFFFu : 0x7FFFFFF0u);
        hits += expect_fail(c->b, c->n, "huge length");
      }
    }
    CHECK(hits >= 4, "huge vector lengths: only %d variants failed", hits);
    free(c);
  }
  corrupt_all(w->b, w->n, "conv.tflite", 4000);

  /* FLOAT16 through DEQUANTIZE */
  m = fp16_model();
  write_model(w, &m);
  err.msg[0] = 0;
  rc = nn_tflite_load(w->b, w->n, "fp16.tflite", &g, &err);
  CHECK(rc == EMO_OK, "fp16 model: %d %s", rc, err.msg);
  if (rc == EMO_OK) {
    CHECK(g->n_nodes == 2, "fp16 nodes %d (DEQUANTIZE folded)", g->n_nodes);
    int conv = g->nodes[0].op == NN_OP_CONV2D ? 0 : 1;
    CHECK(g->nodes[conv].op == NN_OP_CONV2D && g->nodes[1 - conv].op == NN_OP_RELU, "ops");
    CHECK(g->nodes[conv].attr.padding == NN_PAD_VALID, "VALID padding");
    CHECK(g->nodes[conv].n_in == 3 && g->nodes[conv].in[2] == -1, "absent bias kept as -1");
    int wid = g->nodes[conv].in[1];
    CHECK(g->values[wid].is_const && g->values[wid].dtype == NN_F32, "dequantized const");
    CHECK(strcmp(g->values[wid].name, "w") == 0, "const named after DEQUANTIZE output: %s",
          g->values[wid].name);
    const float *f = nn_graph_const_data(g, wid);
    CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 65504.0f && f[3] == ldexpf(1.0f, -24),
          "half->float %g %g %g %g", (double)f[0], (double)f[1], (double)f[2], (double)f[3]);
    nn_graph_destroy(&g);
  }
  write_seed(w, "fp16_dequantize.tflite");
  corrupt_all(w->b, w->n, "fp16.tflite", 2000);

  /* an unsupported op is named */
  m.codes[2] = GATHER;
  write_model(w, &m);
  rc = nn_tflite_load(w->b, w->n, "gather.tflite", &g, &err);
  CHECK(rc == EMO_EUNSUPPORTED, "GATHER: %d", rc);
  CHECK(strstr(err.msg, "GATHER") && strstr(err.msg, "gather.tflite"), "message: %s", err.msg);
  /* a FLOAT16 constant read directly (no DEQUANTIZE) is unsupported, an INT8 one too */
  m = fp16_model();
  m.ops[0].in[1] = 1;
  write_model(w, &m);
  rc = nn_tflite_load(w->b, w->n, "f16direct.tflite", &g, &err);
  CHECK(rc == EMO_EUNSUPPORTED && strstr(err.msg, "FLOAT16"), "FLOAT16 direct: %d %s", rc, err.msg);
  m = fp16_model();
  m.t[1].type = 9; /* INT8 */
  write_model(w, &m);
  rc = nn_tflite_load(w->b, w->n, "int8.tflite", &g, &err);
  CHECK(rc == EMO_EUNSUPPORTED && strstr(err.msg, "INT8"), "INT8: %d %s", rc, err.msg);
  /* a buffer whose size does not match the shape */
  m = conv_model();
  m.buf_size[2] = 12;
  write_model(w, &m);
  rc = nn_tflite_load(w->b, w->n, "badbias.tflite", &g, &err);
  CHECK(rc == EMO_EMODEL && strstr(err.msg, "tensors[2]"), "bias size: %d %s", rc, err.msg);
  /* stride 0 */
  m = conv_model();
  m.ops[0].opt[1].val = 0;
  write_model(w, &m);
  rc = nn_tflite_load(w->b, w->n, "stride0.tflite", &g, &err);
  CHECK(rc == EMO_EMODEL && strstr(err.msg, "stride_w"), "stride 0: %d %s", rc, err.msg);
  test_more_ops(w);
  free(w);
}

/* ---- Real models ------------------------------------------------------------------------ */

static unsigned char *read_model(const char *file, size_t *n, char *path, size_t path_size) {
  const char *dir = getenv("EMO_MODELS");
  const char *home = getenv("HOME");
  if (dir && *dir)
    snprintf(path, path_size, "%s/%s", dir, file);
  else if (home)
    snprintf(path, path_size, "%s/.cache/emo/models/%s", home, file);
  else
    return NULL;
  return th_read_file(path, n);
}

static int count_op(const nn_graph *g, nn_op op) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op;
  return c;
}

/* Returns 1 if the model was found. */
static int test_real(const char *file, const char *reg_name, const char *cls_name, int anchors,
                     int convs, int dws, int adds, int pads, int pools, int relus, int resizes,
                     int concats) {
  char path[2048];
  size_t n = 0;
  unsigned char *b = read_model(file, &n, path, sizeof path);
  if (!b) return 0;
  nn_graph *g = NULL;
  emoi_err err;
  err.msg[0] = 0;
  int rc = nn_tflite_load(b, n, path, &g, &err);
  CHECK(rc == EMO_OK, "%s: %d %s", file, rc, err.msg);
  if (rc == EMO_OK) {
    CHECK(g->n_inputs == 1 && g->n_outputs == 2, "%s io %d %d", file, g->n_inputs, g->n_outputs);
    const nn_value *in = &g->values[g->inputs[0]];
    int side = anchors == 896 ? 128 : 192;
    CHECK(in->rank == 4 && in->shape[0] == 1 && in->shape[1] == side && in->shape[2] == side &&
              in->shape[3] == 3,
          "%s input shape", file);
    int r = nn_graph_find(g, reg_name), c = nn_graph_find(g, cls_name);
    CHECK(r >= 0 && c >= 0, "%s output names", file);
    if (r >= 0 && c >= 0) {
      const nn_value *rv = &g->values[r], *cv = &g->values[c];
      CHECK(rv->rank == 3 && rv->shape[0] == 1 && rv->shape[1] == anchors && rv->shape[2] == 16,
            "%s regressors shape %lld,%lld", file, (long long)rv->shape[1],
            (long long)rv->shape[2]);
      CHECK(cv->rank == 3 && cv->shape[1] == anchors && cv->shape[2] == 1,
            "%s classificators shape", file);
      CHECK(g->outputs[0] == r && g->outputs[1] == c, "%s outputs: regressors, then scores", file);
    }
    CHECK(count_op(g, NN_OP_CONV2D) == convs, "%s CONV2D %d", file, count_op(g, NN_OP_CONV2D));
    CHECK(count_op(g, NN_OP_DEPTHWISE_CONV2D) == dws, "%s DW %d", file,
          count_op(g, NN_OP_DEPTHWISE_CONV2D));
    CHECK(count_op(g, NN_OP_ADD) == adds, "%s ADD %d", file, count_op(g, NN_OP_ADD));
    CHECK(count_op(g, NN_OP_PAD) == pads, "%s PAD %d", file, count_op(g, NN_OP_PAD));
    CHECK(count_op(g, NN_OP_MAX_POOL2D) == pools, "%s MAXPOOL %d", file,
          count_op(g, NN_OP_MAX_POOL2D));
    CHECK(count_op(g, NN_OP_RELU) == relus, "%s RELU %d", file, count_op(g, NN_OP_RELU));
    CHECK(count_op(g, NN_OP_RESIZE_BILINEAR) == resizes, "%s RESIZE %d", file,
          count_op(g, NN_OP_RESIZE_BILINEAR));
    CHECK(count_op(g, NN_OP_CONCAT) == concats, "%s CONCAT %d", file, count_op(g, NN_OP_CONCAT));
    for (int k = 0; k < g->n_nodes; k++) {
      const nn_node *nd = &g->nodes[k];
      if (nd->op != NN_OP_RESIZE_BILINEAR) continue;
      CHECK(nd->attr.half_pixel_centers == 1 && nd->attr.align_corners == 0, "%s resize flags",
            file);
      const nn_value *x = &g->values[nd->in[0]], *y = &g->values[nd->out[0]];
      CHECK(y->shape[1] == 2 * x->shape[1] && y->shape[2] == 2 * x->shape[2] &&
                nd->attr.out_h == y->shape[1],
            "%s resize is 2x", file);
    }
    nn_graph_destroy(&g);
  }
  /* corruptions of the real file (weights included, so many flips still load) */
  if (rc == EMO_OK) {
    corrupt_all(b, n, file, 1000);
    CHECK(expect_fail(b, n / 2, "half file"), "%s half loaded", file);
    unsigned char save[4];
    memcpy(save, b + 4, 4);
    memcpy(b + 4, "TFL2", 4);
    CHECK(expect_fail(b, n, "real magic"), "%s with wrong magic loaded", file);
    memcpy(b + 4, save, 4);
  }
  free(b);
  return 1;
}

int main(void) {
  test_synthetic();
  int found = 0;
  found += test_real("face_detection_short_range.tflite", "regressors", "classificators", 896, 21,
                     16, 16, 11, 3, 17, 0, 2);
  found += test_real("face_detection_full_range.tflite", "reshaped_regressor_face_4",
                     "reshaped_classifier_face_4", 2304, 49, 40, 23, 8, 4, 47, 3, 0);
  if (found < 2 && th_failures == 0)
    th_skip(
        "synthetic checks passed (%d); real-model checks need "
        "face_detection_{short,full}_range.tflite in $EMO_MODELS or ~/.cache/emo/models "
        "(run `emo models fetch`)",
        th_checks);
  return th_finish("test_tflite");
}
