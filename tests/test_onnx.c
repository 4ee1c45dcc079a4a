/* test_onnx.c: nn/onnx_reader.c on hand-made ONNX models written here with a tiny protobuf
 * writer (never copies of real models): protobuf details (packed and unpacked repeated
 * fields, raw_data and float_data), lowering (Conv1d + bias, Relu, Pow/Sqrt, reflect Pad,
 * Slice, Gather, If on a folded condition, LSTM against a scalar C LSTM), errors
 * (unsupported op names op + node + file, truncation at every length is an error, never a
 * crash). Set EMO_WRITE_ONNX_SEEDS=dir to also write the models as fuzz seeds. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "nn/onnx_reader.h"

/* ---- protobuf writer -------------------------------------------------------------------- */
typedef struct pbw {
  unsigned char *p;
  size_t n, cap;
} pbw;

static void w_bytes(pbw *w, const void *d, size_t n) {
  if (!n) return;
  if (w->n + n > w->cap) {
    w->cap = (w->n + n) * 2 + 64;
    w->p = realloc(w->p, w->cap);
  }
  memcpy(w->p + w->n, d, n);
  w->n += n;
}
static void w_varint(pbw *w, uint64_t v) {
  unsigned char b[10];
  int k = 0;
  do {
    b[k] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v) b[k] |= 0x80;
    k++;
  } while (v);
  w_bytes(w, b, (size_t)k);
}
static void w_key(pbw *w, int field, int wt) {
  w_varint(w, ((uint64_t)field << 3) | (unsigned)wt);
}
static void w_int(pbw *w, int field, int64_t v) {
  w_key(w, field, 0);
  w_varint(w, (uint64_t)v);
}
static void w_len(pbw *w, int field, const void *d, size_t n) {
  w_key(w, field, 2);
  w_varint(w, n);
  w_bytes(w, d, n);
}
static void w_str(pbw *w, int field, const char *s) {
  w_len(w, field, s, strlen(s));
}
static void w_msg(pbw *w, int field, pbw *m) {
  w_len(w, field, m->p, m->n);
  free(m->p);
  memset(m, 0, sizeof *m);
}
static void w_f32(pbw *w, int field, float f) {
  w_key(w, field, 5);
  w_bytes(w, &f, 4);
}

/* TensorProto: float data either raw (raw = 1) or packed float_data */
static void w_tensor_f(pbw *w, int field, const char *name, int rank, const int64_t *dims,
                       const float *d, int raw) {
  pbw t = {0};
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    w_int(&t, 1, dims[i]); /* dims unpacked */
    n *= dims[i];
  }
  w_int(&t, 2, 1);
  w_str(&t, 8, name);
  if (raw)
    w_len(&t, 9, d, (size_t)n * 4);
  else
    w_len(&t, 4, d, (size_t)n * 4); /* packed float_data */
  w_msg(w, field, &t);
}
static void w_tensor_i64(pbw *w, int field, const char *name, int rank, const int64_t *dims,
                         const int64_t *d, int64_t n) {
  pbw t = {0}, pk = {0};
  if (rank == 1) {
    w_varint(&pk, (uint64_t)dims[0]);
    w_len(&t, 1, pk.p, pk.n); /* dims packed */
    free(pk.p);
    memset(&pk, 0, sizeof pk);
  }
  w_int(&t, 2, 7);
  w_str(&t, 8, name);
  for (int64_t i = 0; i < n; i++) w_varint(&pk, (uint64_t)d[i]);
  w_len(&t, 7, pk.p, pk.n);
  free(pk.p);
  w_msg(w, field, &t);
}
static void w_vinfo(pbw *w, int field, const char *name, int elem, int rank, const int64_t *dims) {
  pbw v = {0}, ty = {0}, tt = {0}, sh = {0};
  for (int i = 0; i < rank; i++) {
    pbw d = {0};
    if (dims[i] >= 0)
      w_int(&d, 1, dims[i]);
    else
      w_str(&d, 2, "batch");
    w_msg(&sh, 1, &d);
  }
  w_int(&tt, 1, elem);
  w_msg(&tt, 2, &sh);
  w_msg(&ty, 1, &tt);
  w_str(&v, 1, name);
  w_msg(&v, 2, &ty);
  w_msg(w, field, &v);
}
typedef struct attr_spec {
  const char *name;
  int type; /* 1 float, 2 int, 3 string, 5 graph, 7 ints */
  float f;
  int64_t i;
  const char *s;
  const int64_t *ints;
  int n;
  pbw *g;
} attr_spec;
static void w_node(pbw *w, const char *op, const char *name, const char **in, int nin,
                   const char **out, int nout, const attr_spec *a, int na) {
  pbw n = {0};
  for (int i = 0; i < nin; i++) w_str(&n, 1, in[i]);
  for (int i = 0; i < nout; i++) w_str(&n, 2, out[i]);
  w_str(&n, 3, name);
  w_str(&n, 4, op);
  for (int k = 0; k < na; k++) {
    pbw at = {0};
    w_str(&at, 1, a[k].name);
    w_int(&at, 20, a[k].type);
    if (a[k].type == 1) w_f32(&at, 2, a[k].f);
    if (a[k].type == 2) w_int(&at, 3, a[k].i);
    if (a[k].type == 3) w_str(&at, 4, a[k].s);
    if (a[k].type == 5) w_msg(&at, 6, a[k].g);
    if (a[k].type == 7)
      for (int j = 0; j < a[k].n; j++) w_int(&at, 8, a[k].ints[j]); /* unpacked */
    w_msg(&n, 5, &at);
  }
  w_msg(w, 1, &n);
}
static pbw w_model(pbw *graph) {
  pbw m = {0}, os = {0};
  w_int(&m, 1, 8);
  w_int(&os, 2, 16);
  w_msg(&m, 8, &os);
  w_msg(&m, 7, graph);
  return m;
}

static void save_seed(const char *name, const pbw *m) {
  const char *dir = getenv("EMO_WRITE_ONNX_SEEDS");
  if (!dir) return;
  char p[1024];
  snprintf(p, sizeof p, "%s/%s.onnx", dir, name);
  FILE *f = fopen(p, "wb");
  if (f) {
    fwrite(m->p, 1, m->n, f);
    fclose(f);
  }
}

/* Loads and runs a one-input one-output graph on the reference backend. */
static int run1(const pbw *m, const char *name, const float *x, float *y, int64_t ny, emoi_err *e) {
  nn_graph *g = NULL;
  int st = nn_onnx_load(m->p, m->n, name, &g, e);
  if (st) return st;
  for (int b = 0; b < 2 && !st; b++) {
    nn_plan *p = NULL;
    if ((st = nn_plan_create(g, b ? NN_BACKEND_REFERENCE : NN_BACKEND_XNNPACK, NULL, &p, e))) break;
    memcpy(nn_plan_input(p, 0), x, (size_t)nn_value_numel(&g->values[g->inputs[0]]) * 4);
    if (!(st = nn_plan_run(p, e))) {
      if (nn_value_numel(&g->values[g->outputs[0]]) != ny)
        st = -100;
      else
        memcpy(y + b * ny, nn_plan_output(p, 0), (size_t)ny * 4);
    }
    nn_plan_destroy(&p);
  }
  nn_graph_destroy(&g);
  return st;
}

/* Reflect Pad of a (1, 1, 9) signal, Conv1d 1 -> 2 channels (k 3, stride 2, pads 1) + bias,
 * Relu, Conv1d 2 -> 1 (k 1, no bias). (A multi-channel graph output would need a transpose
 * back from emo's (N, 1, L, C): EMO_EUNSUPPORTED, checked below.) */
static void test_conv(void) {
  pbw g = {0};
  int64_t xin[3] = {-1, 1, 9}, wd[3] = {2, 1, 3}, w2d[3] = {1, 2, 1}, bd = 2, pd = 6;
  float W[6], W2[2], B[2] = {0.1f, -0.2f};
  unsigned seed = 3;
  for (int i = 0; i < 6; i++) W[i] = th_randf(&seed, -1, 1);
  for (int i = 0; i < 2; i++) W2[i] = th_randf(&seed, -1, 1);
  int64_t pads[6] = {0, 0, 2, 0, 0, 1};
  w_vinfo(&g, 11, "x", 1, 3, xin);
  w_vinfo(&g, 12, "y", 1, 3, (int64_t[]){1, 1, 6});
  w_tensor_f(&g, 5, "W", 3, wd, W, 1);
  w_tensor_f(&g, 5, "W2", 3, w2d, W2, 0);
  w_tensor_f(&g, 5, "B", 1, &bd, B, 0);
  w_tensor_i64(&g, 5, "pads", 1, &pd, pads, 6);
  w_node(&g, "Pad", "pad0", (const char *[]){"x", "pads"}, 2, (const char *[]){"xp"}, 1,
         (attr_spec[]){{.name = "mode", .type = 3, .s = "reflect"}}, 1);
  attr_spec ca[3] = {{.name = "strides", .type = 7, .ints = (int64_t[]){2}, .n = 1},
                     {.name = "pads", .type = 7, .ints = (int64_t[]){1, 1}, .n = 2},
                     {.name = "kernel_shape", .type = 7, .ints = (int64_t[]){3}, .n = 1}};
  w_node(&g, "Conv", "conv0", (const char *[]){"xp", "W", "B"}, 3, (const char *[]){"c"}, 1, ca, 3);
  w_node(&g, "Relu", "relu0", (const char *[]){"c"}, 1, (const char *[]){"r"}, 1, NULL, 0);
  w_node(&g, "Conv", "conv1", (const char *[]){"r", "W2"}, 2, (const char *[]){"y"}, 1, NULL, 0);
  pbw m = w_model(&g);
  save_seed("conv1d_reflect", &m);
  float x[9], y[12], xp[12], r[2][6], ref[6];
  for (int i = 0; i < 9; i++) x[i] = th_randf(&seed, -1, 1);
  for (int i = 0; i < 12; i++) { /* reflect pad left 2, right 1 */
    int s = i - 2;
    if (s < 0) s = -s;
    if (s > 8) s = 16 - s;
    xp[i] = x[s];
  }
  for (int o = 0; o < 2; o++)
    for (int t = 0; t < 6; t++) {
      double acc = B[o];
      for (int k = 0; k < 3; k++) {
        int i = t * 2 - 1 + k;
        if (i >= 0 && i < 12) acc += (double)xp[i] * W[o * 3 + k];
      }
      r[o][t] = acc > 0 ? (float)acc : 0;
    }
  for (int t = 0; t < 6; t++) ref[t] = (float)((double)r[0][t] * W2[0] + (double)r[1][t] * W2[1]);
  emoi_err e = {{0}};
  int st = run1(&m, "conv1d.onnx", x, y, 6, &e);
  CHECK(st == 0, "conv: %s", e.msg);
  double worst = 0;
  for (int b = 0; b < 2 && !st; b++)
    for (int t = 0; t < 6; t++) worst = fmax(worst, fabs(y[b * 6 + t] - ref[t]));
  CHECK(worst < 1e-5, "conv worst %.3g", worst);
  /* every truncation fails cleanly */
  int bad = 0;
  for (size_t cut = 0; cut < m.n; cut++) {
    nn_graph *gg = NULL;
    if (nn_onnx_load(m.p, cut, "cut.onnx", &gg, &e) == 0) bad++;
    nn_graph_destroy(&gg);
  }
  CHECK(bad == 0, "%d truncations loaded", bad);
  free(m.p);
}

/* If on Equal(Shape(x)[1], 4) (folds at load), then-branch Sqrt(Pow(x, 2)) = |x|, plus Gather
 * and Slice. */
static void test_if_and_shapes(void) {
  pbw g = {0}, then_g = {0}, else_g = {0};
  int64_t xd[2] = {1, 4}, one = 1, k4 = 4, z = 0;
  w_vinfo(&g, 11, "x", 1, 2, xd);
  w_vinfo(&g, 12, "y", 1, 2, (int64_t[]){1, 2});
  w_tensor_i64(&g, 5, "idx", 1, &one, &one, 1);
  w_tensor_i64(&g, 5, "four", 1, &one, &k4, 1);
  w_node(&g, "Shape", "sh", (const char *[]){"x"}, 1, (const char *[]){"s"}, 1, NULL, 0);
  w_node(&g, "Gather", "ga", (const char *[]){"s", "idx"}, 2, (const char *[]){"s1"}, 1, NULL, 0);
  w_node(&g, "Equal", "eq", (const char *[]){"s1", "four"}, 2, (const char *[]){"cond1"}, 1, NULL,
         0);
  w_node(&g, "Squeeze", "sq", (const char *[]){"cond1"}, 1, (const char *[]){"cond"}, 1, NULL, 0);
  float two = 2.0f;
  w_tensor_f(&then_g, 5, "two", 0, NULL, &two, 1);
  w_vinfo(&then_g, 12, "t_out", 1, 2, xd);
  w_node(&then_g, "Pow", "pw", (const char *[]){"x", "two"}, 2, (const char *[]){"x2"}, 1, NULL, 0);
  w_node(&then_g, "Sqrt", "sqrt", (const char *[]){"x2"}, 1, (const char *[]){"t_out"}, 1, NULL, 0);
  w_vinfo(&else_g, 12, "e_out", 1, 2, xd);
  w_node(&else_g, "Identity", "id", (const char *[]){"x"}, 1, (const char *[]){"e_out"}, 1, NULL,
         0);
  attr_spec ia[2] = {{.name = "then_branch", .type = 5, .g = &then_g},
                     {.name = "else_branch", .type = 5, .g = &else_g}};
  w_node(&g, "If", "if0", (const char *[]){"cond"}, 1, (const char *[]){"a"}, 1, ia, 2);
  int64_t st1 = 1, en = 3, ax = 1;
  w_tensor_i64(&g, 5, "st", 1, &one, &st1, 1);
  w_tensor_i64(&g, 5, "en", 1, &one, &en, 1);
  w_tensor_i64(&g, 5, "ax", 1, &one, &ax, 1);
  (void)z;
  w_node(&g, "Slice", "sl", (const char *[]){"a", "st", "en", "ax"}, 4, (const char *[]){"y"}, 1,
         NULL, 0);
  pbw m = w_model(&g);
  save_seed("if_shape_slice", &m);
  float x[4] = {-1.5f, 2.0f, -3.0f, 4.0f}, y[4];
  emoi_err e = {{0}};
  int st = run1(&m, "if.onnx", x, y, 2, &e);
  CHECK(st == 0 && fabsf(y[0] - 2) < 1e-6f && fabsf(y[1] - 3) < 1e-6f && fabsf(y[2] - 2) < 1e-6f,
        "if/slice: st %d (%s) y %g %g", st, e.msg, y[0], y[1]);
  free(m.p);
}

/* LSTM (I 3, H 2, T 2, with B and initial states) vs a scalar implementation. */
static void test_lstm(void) {
  const int I = 3, H = 2, T = 2;
  float W[4 * 2 * 3], R[4 * 2 * 2], Bb[16], h0[2] = {0.1f, -0.2f}, c0[2] = {0.3f, 0.05f};
  unsigned seed = 11;
  for (int i = 0; i < 24; i++) W[i] = th_randf(&seed, -1, 1);
  for (int i = 0; i < 16; i++) R[i] = th_randf(&seed, -1, 1);
  for (int i = 0; i < 16; i++) Bb[i] = th_randf(&seed, -0.5f, 0.5f);
  pbw g = {0};
  w_vinfo(&g, 11, "x", 1, 3, (int64_t[]){T, 1, I});
  w_vinfo(&g, 12, "yh", 1, 3, (int64_t[]){1, 1, H});
  w_tensor_f(&g, 5, "W", 3, (int64_t[]){1, 4 * H, I}, W, 1);
  w_tensor_f(&g, 5, "R", 3, (int64_t[]){1, 4 * H, H}, R, 0);
  w_tensor_f(&g, 5, "B", 2, (int64_t[]){1, 8 * H}, Bb, 1);
  w_tensor_f(&g, 5, "h0", 3, (int64_t[]){1, 1, H}, h0, 1);
  w_tensor_f(&g, 5, "c0", 3, (int64_t[]){1, 1, H}, c0, 1);
  w_node(&g, "LSTM", "lstm0", (const char *[]){"x", "W", "R", "B", "", "h0", "c0"}, 7,
         (const char *[]){"", "yh", ""}, 3,
         (attr_spec[]){{.name = "hidden_size", .type = 2, .i = H}}, 1);
  pbw m = w_model(&g);
  save_seed("lstm", &m);
  float x[6], y[4];
  for (int i = 0; i < 6; i++) x[i] = th_randf(&seed, -1, 1);
  double h[2] = {h0[0], h0[1]}, c[2] = {c0[0], c0[1]};
  for (int t = 0; t < T; t++) {
    double gte[4][2];
    for (int gi = 0; gi < 4; gi++)
      for (int j = 0; j < H; j++) {
        int r = gi * H + j;
        double a = Bb[r] + Bb[8 + r];
        for (int k = 0; k < I; k++) a += W[r * I + k] * x[t * I + k];
        for (int k = 0; k < H; k++) a += R[r * H + k] * h[k];
        gte[gi][j] = a;
      }
    for (int j = 0; j < H; j++) {
      double ig = 1 / (1 + exp(-gte[0][j])), og = 1 / (1 + exp(-gte[1][j])),
             fg = 1 / (1 + exp(-gte[2][j])), cc = tanh(gte[3][j]);
      c[j] = fg * c[j] + ig * cc;
      h[j] = og * tanh(c[j]);
    }
  }
  emoi_err e = {{0}};
  int st = run1(&m, "lstm.onnx", x, y, 2, &e);
  double worst = 0;
  for (int b = 0; b < 2 && !st; b++)
    for (int j = 0; j < 2; j++) worst = fmax(worst, fabs(y[b * 2 + j] - h[j]));
  CHECK(st == 0 && worst < 1e-5, "lstm: st %d (%s) worst %.3g", st, e.msg, worst);
  free(m.p);
}

static void test_errors(void) {
  pbw g = {0};
  w_vinfo(&g, 11, "x", 1, 2, (int64_t[]){1, 4});
  w_vinfo(&g, 12, "y", 1, 2, (int64_t[]){1, 4});
  w_node(&g, "Erf", "my_erf", (const char *[]){"x"}, 1, (const char *[]){"y"}, 1, NULL, 0);
  pbw m = w_model(&g);
  save_seed("unsupported", &m);
  nn_graph *gg = NULL;
  emoi_err e = {{0}};
  int st = nn_onnx_load(m.p, m.n, "erf.onnx", &gg, &e);
  CHECK(st == EMO_EUNSUPPORTED && strstr(e.msg, "Erf") && strstr(e.msg, "my_erf") &&
            strstr(e.msg, "erf.onnx"),
        "unsupported: %d %s", st, e.msg);
  free(m.p);
  /* garbage, a varint longer than 10 bytes, a length past the end, a group wire type */
  const unsigned char bad1[] = {0x3a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  const unsigned char bad2[] = {0x3a, 0x10, 0x0a};
  const unsigned char bad3[] = {0x3b, 0x00};
  const unsigned char *bads[3] = {bad1, bad2, bad3};
  size_t lens[3] = {sizeof bad1, sizeof bad2, sizeof bad3};
  for (int i = 0; i < 3; i++) {
    st = nn_onnx_load(bads[i], lens[i], "bad.onnx", &gg, &e);
    CHECK(st == EMO_EMODEL && !gg, "bad %d: %d %s", i, st, e.msg);
  }
  st = nn_onnx_load("", 0, "empty.onnx", &gg, &e);
  CHECK(st == EMO_EMODEL, "empty: %d", st);
  /* deep If nesting is capped */
  pbw inner = {0};
  w_vinfo(&inner, 12, "o", 1, 0, NULL);
  for (int d = 0; d < NN_ONNX_MAX_DEPTH + 3; d++) {
    pbw outer = {0};
    w_node(&outer, "If", "deep", (const char *[]){"c"}, 1, (const char *[]){"o"}, 1,
           (attr_spec[]){{.name = "then_branch", .type = 5, .g = &inner}}, 1);
    inner = outer;
  }
  m = w_model(&inner);
  st = nn_onnx_load(m.p, m.n, "deep.onnx", &gg, &e);
  CHECK(st == EMO_ELIMIT, "deep nesting: %d %s", st, e.msg);
  free(m.p);
}

int main(void) {
  test_conv();
  test_if_and_shapes();
  test_lstm();
  test_errors();
  return th_finish("onnx");
}
