/* test_track_cluster.c: shot threading and constrained clustering of tracks
 * (pipeline/track_cluster.c, vision/frame_layout.c) on synthetic shots and tracks with known
 * truth: frames of one "camera setup" (a colour layout, people moving in front, a small pan)
 * are close and other setups far; tracks at one place in threaded shots are joined, also
 * without face descriptors; two faces seen in one frame are never joined, however alike their
 * descriptors; tracks at one place in shots of different setups are not joined; descriptors
 * alone join only above face_only; the tracker's identities stay together; clothes join tracks
 * whose faces do not disagree, and a weak face match joins only with alike clothes; a track that
 * starts where another ended just before in one shot continues it. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "pipeline/track_cluster.h"
#include "vision/frame_layout.h"

enum { W = 320, H = 180, DIM = 8 };
static uint8_t img[H][W * 3];

/* Setup `seed`: 20x20-pixel blocks of seed-dependent colours, shifted right by dx pixels,
 * with a "person" (a bright square at px, py) in front. */
static void render(int seed, int dx, int px, int py) {
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int sx = x - dx;
      unsigned hsh = (unsigned)seed * 2654435761u ^ (unsigned)((sx + 400) / 20) * 40503u ^
                     (unsigned)(y / 20) * 9973u;
      hsh ^= hsh >> 13;
      hsh *= 0x5bd1e995u;
      hsh ^= hsh >> 15;
      for (int c = 0; c < 3; c++) img[y][x * 3 + c] = (uint8_t)(30 + ((hsh >> (8 * c)) & 127));
      if (x >= px && x < px + 40 && y >= py && y < py + 40)
        for (int c = 0; c < 3; c++) img[y][x * 3 + c] = 230;
    }
}

static void describe(int seed, int dx, int px, int py, fl_desc *d) {
  static fg_grid g;
  render(seed, dx, px, py);
  fg_compute(&img[0][0], W, H, W * 3, &g);
  const float box[1][4] = {{(float)px, (float)py, 40.0f, 40.0f}};
  fl_describe(&g, box, 1, d);
}

/* Clothes under a face: a shirt of colour (r, g, b) under a face box at (100, 40, 40, 40). */
static float shirt_bc(const uint8_t a[3], const uint8_t b[3]) {
  float box[4] = {100, 40, 40, 40}, ha[FL_BINS], hb[FL_BINS];
  const uint8_t *col[2] = {a, b};
  float *hist[2] = {ha, hb};
  for (int k = 0; k < 2; k++) {
    render(1, 0, 100, 40);
    for (int y = 90; y < 180; y++)
      for (int x = 60; x < 180; x++)
        for (int c = 0; c < 3; c++) img[y][x * 3 + c] = col[k][c];
    if (!fl_clothes(&img[0][0], W, H, W * 3, box, hist[k])) return -1.0f;
  }
  return fl_bhattacharyya(ha, hb, FL_BINS);
}

static void test_clothes(void) {
  const uint8_t red[3] = {120, 30, 30}, dim_red[3] = {80, 20, 20}, blue[3] = {30, 40, 120};
  float same = shirt_bc(red, red), dim = shirt_bc(red, dim_red), other = shirt_bc(red, blue);
  printf("clothes: same %.3f, dimmer %.3f, other colour %.3f\n", same, dim, other);
  CHECK(fabsf(same - 1.0f) < 1e-4f, "same shirt %.3f", same);
  CHECK(other < 0.2f && other >= 0.0f, "red and blue shirts %.3f", other);
  float h[FL_BINS], edge[4] = {100, 170, 40, 40}; /* the clothes below the frame */
  CHECK(!fl_clothes(&img[0][0], W, H, W * 3, edge, h), "clothes outside the frame");
}

static void test_layout(void) {
  static fl_desc a, b, c, e;
  describe(1, 0, 40, 40, &a);
  describe(1, 3, 200, 60, &b); /* same setup: panned a little, the person elsewhere */
  describe(2, 0, 40, 40, &c);  /* another setup */
  CHECK(a.n_valid > FL_CELLS / 2, "valid cells %d", a.n_valid);
  float same = fl_distance(&a, &b), other = fl_distance(&a, &c);
  float rsame = fl_correlation(&a, &b), rother = fl_correlation(&a, &c);
  printf("layout distance: same setup %.2f (correlation %.3f), other setup %.2f (%.3f)\n", same,
         rsame, other, rother);
  tcl_params p = tcl_params_default();
  CHECK(same >= 0.0f && same <= p.thread_max, "same setup %.2f", same);
  CHECK(rsame >= p.thread_corr, "same setup correlation %.3f", rsame);
  CHECK(other > 2.0f * p.thread_max, "other setup %.2f", other);
  CHECK(rother < 0.5f, "other setup correlation %.3f", rother);
  CHECK(fabsf(fl_correlation(&a, &a) - 1.0f) < 1e-4f, "self correlation");
  memset(&e, 0, sizeof e);
  CHECK(fl_distance(&a, &e) < 0.0f, "nothing to compare must be negative");
  CHECK(fl_correlation(&a, &e) == -2.0f, "nothing to correlate");
  static fg_grid tiny;
  fg_compute(&img[0][0], 4, 4, 12, &tiny);
  fl_describe(&tiny, NULL, 0, &e);
  CHECK(e.n_valid == 0, "tiny frame");
}

/* A shot of setup `seed` from t with faces ids[i] at boxes[i] for 10 frames. */
static void shot(tcl_state *s, double t, int seed, int n, const int *ids, const float (*boxes)[4]) {
  static fg_grid g;
  for (int f = 0; f < 10; f++) {
    render(seed, f, (int)boxes[0][0], (int)boxes[0][1]);
    fg_compute(&img[0][0], W, H, W * 3, &g);
    int rc = tcl_frame(s, t + 0.04 * f, f == 0, &g, NULL, 0, 0, 0, ids, boxes, n);
    CHECK(rc == EMO_OK, "tcl_frame %d", rc);
  }
}

/* Descriptor of "person" p, with some noise k: unit vectors, p's cosine with each other
 * about 0.9, different persons' about 0. */
static void person_emb(float *e, int p, int k) {
  for (int i = 0; i < DIM; i++)
    e[i] = (i == p ? 3.0f : 0.0f) + (i == (p + k + 1) % DIM ? 1.0f : 0.0f);
  float n = 0.0f;
  for (int i = 0; i < DIM; i++) n += e[i] * e[i];
  for (int i = 0; i < DIM; i++) e[i] /= sqrtf(n);
}

static void test_cluster(void) {
  tcl_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(tcl_create(&s, &err) == EMO_OK, "create");
  const float left[4] = {40, 40, 40, 40}, right[4] = {220, 50, 40, 40};
  /* shot / reverse-shot: setup 1 (A left, B right), setup 2 (C left), setup 1 again
   * (tracks 4 and 5 where A and B were), setup 3 (track 6 left, where A sat in setup 1) */
  const float two[2][4] = {{40, 40, 40, 40}, {220, 50, 40, 40}};
  int ids1[2] = {1, 2}, ids2[1] = {3}, ids3[2] = {4, 5}, ids4[1] = {6};
  shot(s, 0.0, 1, 2, ids1, two);
  shot(s, 1.0, 2, 1, ids2, (const float(*)[4]) & left);
  shot(s, 2.0, 1, 2, ids3, two);
  shot(s, 3.0, 3, 1, ids4, (const float(*)[4]) & left);
  (void)right;
  CHECK(tcl_shot_count(s) == 4, "shots %d", tcl_shot_count(s));
  static float e[6][DIM];
  person_emb(e[0], 0, 0);
  person_emb(e[2], 2, 0);
  person_emb(e[4], 1, 1);
  const float *emb[6] = {e[0], NULL, e[2], NULL, e[4], NULL}; /* 2, 4, 6: no descriptor */
  tcl_params p = tcl_params_default();
  int ident[6] = {1, 2, 3, 4, 5, 6}, links = -1, merges = -1;
  CHECK(tcl_cluster(s, &p, 6, emb, DIM, ident, &links, &merges, NULL, &err) == EMO_OK, "cluster");
  printf("links %d, merges %d, identities %d %d %d %d %d %d\n", links, merges, ident[0], ident[1],
         ident[2], ident[3], ident[4], ident[5]);
  CHECK(ident[3] == 1, "track 4 sits where 1 sat in the same setup: %d", ident[3]);
  CHECK(ident[4] == 2, "track 5 sits where 2 sat, no descriptors: %d", ident[4]);
  CHECK(ident[2] == 3 && ident[5] == 6, "other setups stay apart: %d %d", ident[2], ident[5]);
  CHECK(ident[0] != ident[1], "1 and 2 were seen together");
  CHECK(links == 2, "links %d", links);

  /* the same with identical descriptors for everyone: co-visible tracks still never join */
  const float *same[6] = {e[0], e[0], e[0], e[0], e[0], e[0]};
  int id2[6] = {1, 2, 3, 4, 5, 6};
  CHECK(tcl_cluster(s, &p, 6, same, DIM, id2, NULL, NULL, NULL, &err) == EMO_OK, "cluster");
  CHECK(id2[0] != id2[1] && id2[3] != id2[4], "cannot-link broken: %d %d %d %d", id2[0], id2[1],
        id2[3], id2[4]);
  CHECK(id2[2] == id2[0] || id2[2] == id2[1], "alike descriptors join across setups: %d", id2[2]);

  /* descriptors of different persons and no link: nobody joins; the tracker's identity holds */
  int id3[6] = {1, 2, 3, 4, 5, 3};
  static float f[6][DIM];
  for (int i = 0; i < 6; i++) person_emb(f[i], i, 0);
  const float *diff[6] = {f[0], f[1], f[2], f[3], f[4], f[5]};
  p.link_alone = 0;
  p.face_linked = 2.0f;
  CHECK(tcl_cluster(s, &p, 6, diff, DIM, id3, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  CHECK(merges == 0, "merges %d", merges);
  CHECK(id3[0] == 1 && id3[1] == 2 && id3[2] == 3 && id3[3] == 4 && id3[4] == 5 && id3[5] == 3,
        "identities changed: %d %d %d %d %d %d", id3[0], id3[1], id3[2], id3[3], id3[4], id3[5]);
  int bad[2] = {3, 1};
  CHECK(tcl_cluster(s, &p, 2, diff, DIM, bad, NULL, NULL, NULL, &err) == EMO_EINVAL,
        "bad identity");
  tcl_destroy(&s);
  CHECK(s == NULL, "destroy sets NULL");
  tcl_destroy(&s);
}

/* A shot of setup `seed` with n people at x = 20 + 100 k, their shirts of colours col[k], for
 * nf frames. */
static void shirt_shot_n(tcl_state *s, double t, int seed, int n, const int *ids,
                         const uint8_t (*col)[3], int nf) {
  static fg_grid g;
  float boxes[3][4];
  for (int f = 0; f < nf; f++) {
    render(seed, f, -100, -100);
    for (int k = 0; k < n; k++) {
      float *b = boxes[k];
      b[0] = 20.0f + 100.0f * (float)k, b[1] = 20.0f, b[2] = 40.0f, b[3] = 40.0f;
      for (int y = 65; y < 130; y++)
        for (int x = (int)b[0] - 10; x < (int)b[0] + 50; x++)
          for (int c = 0; c < 3; c++) img[y][x * 3 + c] = col[k][c];
    }
    fg_compute(&img[0][0], W, H, W * 3, &g);
    int rc = tcl_frame(s, t + 0.04 * f, f == 0, &g, &img[0][0], W, H, W * 3, ids,
                       (const float(*)[4])boxes, n);
    CHECK(rc == EMO_OK, "tcl_frame %d", rc);
  }
}

static void shirt_shot(tcl_state *s, double t, int seed, int n, const int *ids,
                       const uint8_t (*col)[3]) {
  shirt_shot_n(s, t, seed, n, ids, col, 5);
}

/* Clothes join tracks of different setups unless they were seen together or their faces
 * disagree. */
static void test_cluster_clothes(void) {
  tcl_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(tcl_create(&s, &err) == EMO_OK, "create");
  const uint8_t c1[1][3] = {{150, 30, 30}}, c23[2][3] = {{150, 30, 30}, {150, 30, 30}};
  const uint8_t c4[1][3] = {{30, 40, 150}}, c5[1][3] = {{150, 30, 30}};
  int i1[1] = {1}, i23[2] = {2, 3}, i4[1] = {4}, i5[1] = {5};
  shirt_shot(s, 0.0, 4, 1, i1, c1);   /* 1: red shirt */
  shirt_shot(s, 1.0, 5, 2, i23, c23); /* 2 and 3: red shirts, seen together */
  shirt_shot(s, 2.0, 6, 1, i4, c4);   /* 4: blue shirt */
  shirt_shot(s, 3.0, 7, 1, i5, c5);   /* 5: red shirt, a face unlike 1's */
  static float e[5][DIM];
  for (int i = 0; i < 5; i++) person_emb(e[i], i, 0);
  const float *emb[5] = {e[0], NULL, NULL, NULL, e[4]};
  tcl_params p = tcl_params_default();
  int ident[5] = {1, 2, 3, 4, 5}, links = -1, merges = -1;
  CHECK(tcl_cluster(s, &p, 5, emb, DIM, ident, &links, &merges, NULL, &err) == EMO_OK, "cluster");
  printf("clothes: links %d, merges %d, identities %d %d %d %d %d\n", links, merges, ident[0],
         ident[1], ident[2], ident[3], ident[4]);
  CHECK(links == 0, "no setup recurs: links %d", links);
  CHECK(ident[1] == 1 || ident[2] == 1, "a red shirt without a face joins 1: %d %d", ident[1],
        ident[2]);
  CHECK(ident[1] != ident[2], "2 and 3 were seen together");
  CHECK(ident[3] == 4, "the blue shirt stays apart: %d", ident[3]);
  CHECK(ident[4] != ident[0], "a face unlike 1's never joins 1 despite the shirt: %d", ident[4]);
  p.clothes = p.clothes_track = 2.0f;
  int off[5] = {1, 2, 3, 4, 5};
  CHECK(tcl_cluster(s, &p, 5, emb, DIM, off, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  CHECK(merges == 0, "clothes off: merges %d", merges);
  tcl_destroy(&s);
}

/* One identity seen in two lights (tracks 1 and 2, joined by the tracker), and a track of the
 * second light alone (3): the identity's summed clothes are a mix that matches 3 only half,
 * but its track 2 matches 3 exactly (clothes_track). A short track (4, too few samples) of
 * the same shirt does not count. */
static void test_cluster_track_clothes(void) {
  tcl_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(tcl_create(&s, &err) == EMO_OK, "create");
  const uint8_t lit[1][3] = {{150, 30, 30}}, dim[1][3] = {{30, 60, 40}};
  int i1[1] = {1}, i2[1] = {2}, i3[1] = {3}, i4[1] = {4};
  shirt_shot_n(s, 0.0, 4, 1, i1, lit, 20);
  shirt_shot_n(s, 1.0, 5, 1, i2, dim, 20);
  shirt_shot_n(s, 2.0, 6, 1, i3, dim, 20);
  const float *emb[3] = {NULL, NULL, NULL};
  tcl_params p = tcl_params_default();
  int ident[3] = {1, 1, 3}, merges = -1;
  CHECK(tcl_cluster(s, &p, 3, emb, DIM, ident, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  printf("tracks' clothes: merges %d, identities %d %d %d\n", merges, ident[0], ident[1], ident[2]);
  CHECK(ident[2] == 1, "3 joins the identity of its light's track 2: %d", ident[2]);
  int off[3] = {1, 1, 3};
  p.clothes_track = 2.0f;
  CHECK(tcl_cluster(s, &p, 3, emb, DIM, off, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  CHECK(off[2] == 3 && merges == 0, "the mix alone stays apart: %d, merges %d", off[2], merges);
  tcl_reset(s);
  shirt_shot_n(s, 0.0, 4, 1, i1, lit, 20);
  shirt_shot_n(s, 1.0, 5, 1, i2, dim, 20);
  shirt_shot_n(s, 2.0, 6, 1, i4, dim, 9); /* 3 samples */
  const float *emb4[4] = {NULL, NULL, NULL, NULL};
  int short4[4] = {1, 1, 3, 4};
  p = tcl_params_default();
  CHECK(tcl_cluster(s, &p, 4, emb4, DIM, short4, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  CHECK(short4[3] == 4, "a track of 3 clothes samples stays apart: %d", short4[3]);
  tcl_destroy(&s);
}

/* Two weak cues that agree (both_face, both_clothes): with the clothes rules off, a face match
 * of 0.6 (below face_only) and one shirt join tracks 1 and 2; a face match of 0.4 in that
 * shirt (3) or of 0.6 in another shirt (4) stays apart, and nothing joins with the rule off. */
static void test_cluster_both(void) {
  tcl_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(tcl_create(&s, &err) == EMO_OK, "create");
  const uint8_t red[1][3] = {{150, 30, 30}}, blue[1][3] = {{30, 40, 150}};
  int i1[1] = {1}, i2[1] = {2}, i3[1] = {3}, i4[1] = {4};
  shirt_shot_n(s, 0.0, 4, 1, i1, red, 20);
  shirt_shot_n(s, 1.0, 5, 1, i2, red, 20);
  shirt_shot_n(s, 2.0, 6, 1, i3, red, 20);
  shirt_shot_n(s, 3.0, 7, 1, i4, blue, 20);
  static float e[4][DIM]; /* cosines with 1: 0.6, 0.4, 0.6; 3 and 2 disagree (-0.49) */
  memset(e, 0, sizeof e);
  e[0][0] = 1.0f;
  e[1][0] = 0.6f, e[1][1] = 0.8f;
  e[2][0] = 0.4f, e[2][1] = -sqrtf(1.0f - 0.16f);
  e[3][0] = 0.6f, e[3][2] = 0.8f;
  const float *emb[4] = {e[0], e[1], e[2], e[3]};
  tcl_params p = tcl_params_default();
  p.clothes = p.clothes_track = 2.0f;
  CHECK(p.both_face < 0.6f && p.both_face > 0.4f && p.both_face < p.face_only, "both_face %.2f",
        p.both_face);
  int ident[4] = {1, 2, 3, 4}, merges = -1;
  CHECK(tcl_cluster(s, &p, 4, emb, DIM, ident, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  printf("faces and clothes: merges %d, identities %d %d %d %d\n", merges, ident[0], ident[1],
         ident[2], ident[3]);
  CHECK(ident[1] == 1, "a weak face in the same shirt joins 1: %d", ident[1]);
  CHECK(ident[2] == 3, "a weaker face in the same shirt stays apart: %d", ident[2]);
  CHECK(ident[3] == 4, "a weak face in another shirt stays apart: %d", ident[3]);
  int off[4] = {1, 2, 3, 4};
  p.both_face = 2.0f;
  CHECK(tcl_cluster(s, &p, 4, emb, DIM, off, NULL, &merges, NULL, &err) == EMO_OK, "cluster");
  CHECK(merges == 0 && off[1] == 2, "the rule off: merges %d", merges);
  tcl_destroy(&s);
}

/* Frames t0, t0 + 0.04, ... (n of them) of one face, id at (x, 40), side 40; cut at the first
 * when asked. */
static void face_run(tcl_state *s, double t0, int n, int id, float x, int cut) {
  const float box[1][4] = {{x, 40.0f, 40.0f, 40.0f}};
  for (int f = 0; f < n; f++)
    CHECK(tcl_frame(s, t0 + 0.04 * f, cut && f == 0, NULL, NULL, 0, 0, 0, &id, box, 1) == EMO_OK,
          "tcl_frame");
}

/* Continuation links (cont_gap): a track that starts where another ended just before, in one
 * shot, joins it without descriptors; not after a longer gap, not elsewhere, not across a cut,
 * not when two tracks ended there, not when the descriptors disagree, not with the rule off. */
static void test_continuation(void) {
  tcl_state *s = NULL;
  emoi_err err = {{0}};
  CHECK(tcl_create(&s, &err) == EMO_OK, "create");
  tcl_params p = tcl_params_default();
  CHECK(p.cont_gap > 0.0f && p.cont_gap < 5.0f, "cont_gap %.2f", p.cont_gap);
  const double gap = 0.5 * p.cont_gap;
  face_run(s, 0.0, 10, 1, 100.0f, 1);                  /* 1 ends at 0.36 s */
  face_run(s, 0.36 + gap, 10, 2, 108.0f, 0);           /* 2 starts there: joins 1 */
  double t = 0.36 + gap + 0.36;                        /* 2 ends here */
  face_run(s, t + 2.0 * p.cont_gap, 10, 3, 108.0f, 0); /* 3: too long after */
  t += 2.0 * p.cont_gap + 0.36;
  face_run(s, t + gap, 10, 4, 250.0f, 0); /* 4: elsewhere */
  face_run(s, t + 0.5, 10, 5, 250.0f, 1); /* 5: after a cut, where 4 was */
  const float *none[5] = {NULL, NULL, NULL, NULL, NULL};
  int ident[5] = {1, 2, 3, 4, 5}, links = -1, merges = -1;
  CHECK(tcl_cluster(s, &p, 5, none, DIM, ident, &links, &merges, NULL, &err) == EMO_OK, "cluster");
  printf("continuation: links %d, merges %d, identities %d %d %d %d %d\n", links, merges, ident[0],
         ident[1], ident[2], ident[3], ident[4]);
  CHECK(ident[1] == 1, "2 continues 1: %d", ident[1]);
  CHECK(ident[2] == 3, "3 came too late: %d", ident[2]);
  CHECK(ident[3] == 4, "4 is elsewhere: %d", ident[3]);
  CHECK(ident[4] == 5, "5 is after a cut: %d", ident[4]);
  CHECK(links == 1, "links %d", links);
  static float e[2][DIM]; /* descriptors that disagree keep 1 and 2 apart */
  person_emb(e[0], 0, 0);
  person_emb(e[1], 1, 0);
  const float *diff[5] = {e[0], e[1], NULL, NULL, NULL};
  int apart[5] = {1, 2, 3, 4, 5};
  CHECK(tcl_cluster(s, &p, 5, diff, DIM, apart, NULL, NULL, NULL, &err) == EMO_OK, "cluster");
  CHECK(apart[1] == 2, "descriptors that disagree: %d", apart[1]);
  int off[5] = {1, 2, 3, 4, 5};
  tcl_params q = p;
  q.cont_gap = 0.0f;
  CHECK(tcl_cluster(s, &q, 5, none, DIM, off, &links, &merges, NULL, &err) == EMO_OK, "cluster");
  CHECK(off[1] == 2 && links == 0 && merges == 0, "the rule off: %d, links %d", off[1], links);
  /* two tracks end where a third starts: which one it continues is unknown, so none */
  tcl_reset(s);
  const float two[2][4] = {{100, 40, 40, 40}, {110, 44, 40, 40}};
  const int ids12[2] = {1, 2};
  for (int f = 0; f < 10; f++)
    CHECK(tcl_frame(s, 0.04 * f, f == 0, NULL, NULL, 0, 0, 0, ids12, two, 2) == EMO_OK, "frame");
  face_run(s, 0.36 + gap, 10, 3, 104.0f, 0);
  int amb[3] = {1, 2, 3};
  CHECK(tcl_cluster(s, &p, 3, none, DIM, amb, &links, NULL, NULL, &err) == EMO_OK, "cluster");
  CHECK(amb[2] == 3 && links == 0, "ambiguous continuation joined: %d, links %d", amb[2], links);
  tcl_destroy(&s);
}

int main(void) {
  test_layout();
  test_clothes();
  test_cluster();
  test_cluster_clothes();
  test_cluster_track_clothes();
  test_cluster_both();
  test_continuation();
  return th_finish("test_track_cluster");
}
