/* test_shot_cut.c: the shot-change detector (vision/shot_cut.c) on synthetic frames with known
 * truth: a hard cut between two dim shots of equal brightness (what the old mean-difference
 * test missed), a dissolve and a fade to black are found once each, near where they are; a
 * camera pan, a brightness change and a person-sized patch moving across a still shot are
 * not; bad arguments are ignored. The labelled real cuts are scored by dev/shot_cut_eval.sh. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "vision/shot_cut.h"

enum { W = 160, H = 90 };
static uint8_t img[H][W * 3];

/* A textured "shot": 8x8-pixel cells of seed-dependent brightness in [0, 1], read shifted
 * right by dx pixels. */
static float shot_val(int seed, int x, int y) {
  unsigned hsh =
      (unsigned)seed * 2654435761u ^ (unsigned)(x / 8) * 40503u ^ (unsigned)(y / 8) * 9973u;
  hsh ^= hsh >> 13;
  hsh *= 0x5bd1e995u;
  hsh ^= hsh >> 15;
  return (float)(hsh & 1023u) / 1023.0f;
}

static void render(int seed_a, int seed_b, float mix, float gain, int dx) {
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int sx = (x - dx + 10 * W) % W;
      float v = (1.0f - mix) * shot_val(seed_a, sx, y) + mix * shot_val(seed_b, sx, y);
      float l = gain * (15.0f + 60.0f * v);
      uint8_t b = (uint8_t)(l > 255.0f ? 255.0f : l);
      for (int c = 0; c < 3; c++) img[y][x * 3 + c] = b;
    }
}

/* Pushes n frames at 25 fps from t0 made by fill(k); counts hard and gradual cuts and the
 * time of the first. */
typedef void (*fill_fn)(int k);
static int run(sc_state *s, double t0, int n, fill_fn fill, int *hard, int *grad, double *first) {
  *hard = *grad = 0;
  *first = -1.0;
  for (int k = 0; k < n; k++) {
    fill(k);
    double t = t0 + k / 25.0;
    sc_kind r = sc_push(s, &img[0][0], W, H, W * 3, t, NULL);
    if (r == SC_HARD) ++*hard;
    if (r == SC_GRADUAL) ++*grad;
    if ((r == SC_HARD || r == SC_GRADUAL) && *first < 0) *first = t;
  }
  return *hard + *grad;
}

static void fill_dim_cut(int k) {
  render(k < 25 ? 1 : 2, 0, 0.0f, 0.6f, 0);
}
static void fill_dissolve(int k) { /* 1 s of shot 3, a 0.8 s dissolve, 1 s of shot 4 */
  float m = k < 25 ? 0.0f : k >= 45 ? 1.0f : (float)(k - 25) / 20.0f;
  render(3, 4, m, 1.0f, 0);
}
static void fill_fade(int k) { /* shot 5 fades to black over 0.6 s, stays black */
  float g = k < 25 ? 1.0f : k >= 40 ? 0.0f : 1.0f - (float)(k - 25) / 15.0f;
  render(5, 5, 0.0f, g, 0);
}
static void fill_pan(int k) {
  render(6, 6, 0.0f, 1.0f, 2 * k);
}
static void fill_light(int k) {
  render(7, 7, 0.0f, 0.7f + 0.01f * k, 0);
}
static void fill_person(int k) { /* a bright patch crossing a still shot */
  render(8, 8, 0.0f, 1.0f, 0);
  for (int y = 30; y < 70; y++)
    for (int x = 2 * k; x < 2 * k + 24 && x < W; x++)
      for (int c = 0; c < 3; c++) img[y][x * 3 + c] = 200;
}

int main(void) {
  static sc_state s;
  int hard, grad;
  double first;
  sc_reset(&s);
  run(&s, 0.0, 50, fill_dim_cut, &hard, &grad, &first);
  CHECK(hard == 1 && grad == 0 && fabs(first - 1.0) < 1e-6,
        "dim hard cut: %d hard, %d gradual, first at %.3f (want 1 at 1.000)", hard, grad, first);
  sc_reset(&s);
  run(&s, 0.0, 70, fill_dissolve, &hard, &grad, &first);
  CHECK(hard + grad == 1 && first >= 1.0 && first <= 2.2,
        "dissolve 1.0-1.8 s: %d hard, %d gradual, at %.3f", hard, grad, first);
  sc_reset(&s);
  run(&s, 0.0, 60, fill_fade, &hard, &grad, &first);
  CHECK(hard + grad == 1 && first >= 1.0 && first <= 2.2,
        "fade 1.0-1.6 s: %d hard, %d gradual, at %.3f", hard, grad, first);
  fill_fn none[] = {fill_pan, fill_light, fill_person};
  const char *what[] = {"camera pan", "brightness change", "a person crossing"};
  for (int i = 0; i < 3; i++) {
    sc_reset(&s);
    run(&s, 0.0, 60, none[i], &hard, &grad, &first);
    CHECK(hard + grad == 0, "%s: %d hard, %d gradual (want none), first at %.3f", what[i], hard,
          grad, first);
  }
  float d = -1.0f;
  CHECK(sc_push(&s, NULL, W, H, W * 3, 1.0, &d) == SC_NONE && d == 0.0f, "NULL image");
  CHECK(sc_push(&s, &img[0][0], W, H, W, 1.0, &d) == SC_NONE, "short stride");
  CHECK(sc_push(&s, &img[0][0], W, H, W * 3, NAN, &d) == SC_NONE, "NaN time");
  sc_reset(NULL);
  return th_finish("test_shot_cut");
}
