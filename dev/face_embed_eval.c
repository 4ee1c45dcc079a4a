/* face_embed_eval.c: developer tool (not built by CMake; dev/face_embed_eval.sh builds and runs
 * it) that measures face-embedding models for re-identification: face verification on the
 * shared labelled photo sets. Results and their reading: docs/face_embedding.md.
 *
 * Each photo is decoded, optionally given a border (tight crops), and analysed with emo's
 * public photo API (BlazeFace, emo's default detector choice); the best-scored face (or the
 * listed faces, left to right, for faces/identities) is embedded by every model with one of two
 * crops:
 *   box: vision/face_embed.c's crop for faceres (detector box enlarged 1.4x about its centre,
 *        squared, rotated by the eye line), resampled to the model's input side;
 *   arc: the ArcFace / InsightFace 112x112 alignment: the similarity transform (least squares)
 *        taking BlazeFace's eyes, nose tip and mouth centre to the ArcFace 5-point template
 *        (eyes, nose, mouth centre = mean of the two mouth corners), scaled to the input side.
 * Every descriptor is L2-normalised and compared by cosine similarity.
 *
 * Verification pairs: every pair of two faces of one set (all genuine pairs, all impostor
 * pairs; no sampling). Per model and set: TAR at FAR 1 % and 0.1 % (threshold = the impostor
 * score exceeded by that fraction of impostor pairs), EER, pair counts, photos without a
 * detection. Time: median wall time of one embedding (crop + network) on one thread.
 *
 * Usage: face_embed_eval MODELS_DIR EXTRA_MODELS_DIR DATA_DIR [--sets a,b] [--models a,b]
 *   MODELS_DIR: emo's model cache (faceres.json); EXTRA_MODELS_DIR: faceres-deep.json,
 *   mobileface.json, mobilefacenet-emo.json (dev/face_embed_mobilefacenet.py) and face-api's
 *   face_recognition_model-weights_manifest.json (built by dev/faceapi_recognition_net.c);
 *   DATA_DIR: ../shared/data. Sets: identities, kdef, taiwan, pose. --limit N: only the first N
 *   photos of taiwan (its labels.tsv lists subjects in order: 560 = the first 13 people). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "emo.h"
#include "media/image_decode.h"
#include "nn/nn.h"
#include "nn/tfjs_reader.h"
#include "vision/blazeface.h"
#include "vision/image_ops.h"

typedef enum crop_kind { CROP_BOX = 0, CROP_ARC = 1 } crop_kind;

typedef struct model_def {
  const char *name;
  const char *file; /* in MODELS_DIR (extra = 0) or EXTRA_MODELS_DIR (extra = 1) */
  int extra;
  int side; /* network input side */
  crop_kind crop;
  float scale, offset; /* input = pixel * scale + offset (RGB 0..255) */
  int bgr;             /* 1: channels fed B, G, R */
  int faceapi;         /* 1: file is face-api's recognition weights manifest (built in C) */
} model_def;

int dev_faceapi_recognition_load(const char *manifest_path, nn_graph **out, emoi_err *err);

static const model_def model_defs[] = {
    {"faceres", "faceres.json", 0, 224, CROP_BOX, 1.0f, 0.0f},
    {"faceres-deep", "faceres-deep.json", 1, 224, CROP_BOX, 1.0f, 0.0f},
    {"mobileface", "mobileface.json", 1, 112, CROP_ARC, 1.0f, 0.0f},
    {"mobilefacenet", "mobilefacenet-emo.json", 1, 112, CROP_ARC, 1.0f / 128, -127.5f / 128},
    /* the same networks with the other crop, to separate network from alignment */
    {"faceres/arc", "faceres.json", 0, 224, CROP_ARC, 1.0f, 0.0f},
    {"faceres-deep/arc", "faceres-deep.json", 1, 224, CROP_ARC, 1.0f, 0.0f},
    {"mobilefacenet/box", "mobilefacenet-emo.json", 1, 112, CROP_BOX, 1.0f / 128, -127.5f / 128},
    {"mobilefacenet/01", "mobilefacenet-emo.json", 1, 112, CROP_ARC, 1.0f / 255, 0.0f},
    {"mobilefacenet/bgr", "mobilefacenet-emo.json", 1, 112, CROP_ARC, 1.0f / 128, -127.5f / 128, 1},
    {"faceapi-rec", "face_recognition_model-weights_manifest.json", 1, 150, CROP_ARC, 1, 0, 0, 1},
    {"faceapi-rec/box", "face_recognition_model-weights_manifest.json", 1, 150, CROP_BOX, 1, 0, 0,
     1},
    {"mobileface/bgr", "mobileface.json", 1, 112, CROP_ARC, 1.0f, 0.0f, 1},
    {"mobileface/box", "mobileface.json", 1, 112, CROP_BOX, 1.0f, 0.0f},
};
#define N_MODELS ((int)(sizeof model_defs / sizeof model_defs[0]))

typedef struct model_rt {
  const model_def *def;
  int on;
  nn_graph *g;
  nn_plan *plan;
  int out_index, dim;
  double *times; /* ms per embedding */
  int n_times, cap_times;
} model_rt;

typedef struct face_rec {
  int set;              /* index into set_names */
  int subject;          /* id within the set */
  int group;            /* pose: yaw in degrees; others 0 */
  float *emb[N_MODELS]; /* L2-normalised, NULL when the model failed on it */
} face_rec;

enum { SET_ID, SET_KDEF, SET_TAIWAN, SET_POSE, SET_COUNT };
static const char *const set_names[SET_COUNT] = {"identities", "kdef", "taiwan", "pose"};

static face_rec *faces;
static int n_faces, cap_faces;
static int photos[SET_COUNT], missed[SET_COUNT];

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* ArcFace template (insightface's arcface_dst, 112x112): left eye, right eye, nose, and the
 * mouth centre (mean of the two mouth corners). */
static const float arc_tpl[4][2] = {
    {38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f}, {56.1396f, 92.2848f}};

/* m takes crop coordinates (side x side) to image coordinates: least-squares similarity from
 * the template (scaled to side, pixel centres at +0.5) to BlazeFace keypoints 0 (eye on the
 * image's left), 1, 2 (nose tip), 3 (mouth centre). */
static void arc_affine(const bf_detection *d, int side, float m[6]) {
  double k = side / 112.0, dx[4], dy[4], sx[4], sy[4], mdx = 0, mdy = 0, msx = 0, msy = 0;
  for (int i = 0; i < 4; i++) {
    dx[i] = (arc_tpl[i][0] + 0.5) * k;
    dy[i] = (arc_tpl[i][1] + 0.5) * k;
    sx[i] = d->kp[i][0];
    sy[i] = d->kp[i][1];
    mdx += dx[i] / 4, mdy += dy[i] / 4, msx += sx[i] / 4, msy += sy[i] / 4;
  }
  double num_a = 0, num_b = 0, den = 0;
  for (int i = 0; i < 4; i++) {
    double ax = dx[i] - mdx, ay = dy[i] - mdy, bx = sx[i] - msx, by = sy[i] - msy;
    num_a += ax * bx + ay * by;
    num_b += ax * by - ay * bx;
    den += ax * ax + ay * ay;
  }
  double a = num_a / den, b = num_b / den;
  m[0] = (float)a, m[1] = (float)-b, m[2] = (float)(msx - (a * mdx - b * mdy));
  m[3] = (float)b, m[4] = (float)a, m[5] = (float)(msy - (b * mdx + a * mdy));
}

static void box_affine(const bf_detection *d, int side, float m[6]) {
  float bw = d->x1 - d->x0, bh = d->y1 - d->y0;
  float s = 1.4f * (bw > bh ? bw : bh);
  float ex = d->kp[1][0] - d->kp[0][0], ey = d->kp[1][1] - d->kp[0][1];
  img_affine_rotated_square(m, 0.5f * (d->x0 + d->x1), 0.5f * (d->y0 + d->y1), atan2f(ey, ex), s,
                            side);
}

/* Embeds face d of img with model r into a new L2-normalised vector, or NULL. */
static float *embed(model_rt *r, const img_rgb *img, const bf_detection *d) {
  const model_def *md = r->def;
  double t0 = now_ms();
  float m[6];
  if (md->crop == CROP_ARC)
    arc_affine(d, md->side, m);
  else
    box_affine(d, md->side, m);
  img_view view = {img->data, img->width, img->height, (ptrdiff_t)img->width * 3};
  img_norm norm = img_norm_uniform(md->scale, md->offset);
  float *in = nn_plan_input(r->plan, 0); /* (1, side, side, 3) */
  if (img_warp_affine_f32(&view, m, in, md->side, md->side, 3, &norm, IMG_BORDER_REPLICATE) != 0)
    return NULL;
  if (md->bgr)
    for (int k = 0; k < md->side * md->side; k++) {
      float t = in[3 * k];
      in[3 * k] = in[3 * k + 2], in[3 * k + 2] = t;
    }
  emoi_err err = {{0}};
  if (nn_plan_run(r->plan, &err) != EMO_OK) {
    fprintf(stderr, "%s: %s\n", md->name, err.msg);
    return NULL;
  }
  const float *o = nn_plan_output(r->plan, r->out_index);
  float *e = malloc(sizeof(float) * r->dim);
  double ss = 0;
  for (int k = 0; k < r->dim; k++) ss += (double)o[k] * o[k];
  if (!e || !(ss > 0) || !isfinite(ss)) {
    free(e);
    return NULL;
  }
  for (int k = 0; k < r->dim; k++) e[k] = (float)(o[k] / sqrt(ss));
  double t1 = now_ms();
  if (r->n_times == r->cap_times) {
    r->cap_times = r->cap_times ? 2 * r->cap_times : 1024;
    r->times = realloc(r->times, sizeof(double) * r->cap_times);
  }
  r->times[r->n_times++] = t1 - t0;
  return e;
}

static emo_context *ctx;
static model_rt rts[N_MODELS];

static face_rec *new_face(int set, int subject, int group) {
  if (n_faces == cap_faces) {
    cap_faces = cap_faces ? 2 * cap_faces : 1024;
    faces = realloc(faces, sizeof(face_rec) * cap_faces);
  }
  face_rec *f = &faces[n_faces++];
  memset(f, 0, sizeof *f);
  f->set = set, f->subject = subject, f->group = group;
  return f;
}

/* Analyses one photo (with a border of `border` pixels of mid-gray when > 0), and embeds its
 * `want` best faces, left to right, with subjects ids[]. */
static void do_photo(const char *path, int set, int border, int want, const int *ids, int group) {
  photos[set]++;
  unsigned char *bytes = NULL;
  size_t size = 0;
  img_rgb img = {0};
  emoi_err err = {{0}};
  int rc = img_read_file(path, (int64_t)1 << 29, &bytes, &size, &err);
  if (rc == EMO_OK) rc = img_decode(bytes, size, 100000000, &img, &err);
  free(bytes);
  if (rc != EMO_OK) {
    fprintf(stderr, "%s: %s\n", path, err.msg);
    missed[set]++;
    return;
  }
  if (border > 0) {
    int w = img.width + 2 * border, h = img.height + 2 * border;
    uint8_t *p = malloc((size_t)w * h * 3);
    memset(p, 128, (size_t)w * h * 3);
    for (int y = 0; y < img.height; y++)
      memcpy(p + ((size_t)(y + border) * w + border) * 3, img.data + (size_t)y * img.width * 3,
             (size_t)img.width * 3);
    free(img.data);
    img.data = p, img.width = w, img.height = h;
  }
  const emo_image_result *r = NULL;
  rc = emo_analyze_rgb(ctx, NULL, img.data, img.width, img.height, img.width * 3, &r);
  if (rc != EMO_OK || r->face_count < want) {
    missed[set]++;
    free(img.data);
    return;
  }
  int pick[4];
  for (int k = 0; k < want; k++) pick[k] = k;
  for (int a = 0; a < want; a++)
    for (int b = a + 1; b < want; b++)
      if (r->faces[pick[b]].box[0] < r->faces[pick[a]].box[0]) {
        int t = pick[a];
        pick[a] = pick[b], pick[b] = t;
      }
  for (int k = 0; k < want; k++) {
    const emo_face *ef = &r->faces[pick[k]];
    bf_detection d;
    bf_detection_from_xywh(ef->box, (const float(*)[2])ef->keypoints, ef->score, &d);
    face_rec *f = new_face(set, ids[k], group);
    for (int i = 0; i < N_MODELS; i++)
      if (rts[i].on) f->emb[i] = embed(&rts[i], &img, &d);
  }
  free(img.data);
}

/* Subject string -> small int (per set, interned). */
static char subj_names[4096][16];
static int n_subj;
static int subject_id(const char *s) {
  for (int i = 0; i < n_subj; i++)
    if (strcmp(subj_names[i], s) == 0) return i;
  snprintf(subj_names[n_subj], sizeof subj_names[0], "%s", s);
  return n_subj++;
}

/* Reads a labels.tsv (header line; columns file, ..., subject at column subj_col, and for
 * pose the yaw at column 1) and runs every photo. */
static void do_tsv(const char *data, const char *folder, int set, int subj_col, int yaw_col,
                   int border, int limit) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/labels.tsv", data, folder);
  FILE *fp = fopen(path, "r");
  if (!fp) {
    fprintf(stderr, "skip %s: %s absent\n", set_names[set], path);
    return;
  }
  char line[1024];
  int n = 0;
  if (!fgets(line, sizeof line, fp)) {
    fclose(fp);
    return;
  }
  while (fgets(line, sizeof line, fp) && (limit <= 0 || n < limit)) {
    line[strcspn(line, "\r\n")] = 0;
    char *col[16];
    int nc = 0;
    for (char *s = line; nc < 16;) {
      col[nc++] = s;
      char *t = strchr(s, '\t');
      if (!t) break;
      *t = 0, s = t + 1;
    }
    if (nc <= subj_col) continue;
    char sub[64];
    snprintf(sub, sizeof sub, "%s/%s", set_names[set], col[subj_col]);
    int id = subject_id(sub);
    int yaw = yaw_col >= 0 ? atoi(col[yaw_col]) : 0;
    snprintf(path, sizeof path, "%s/%s/%s", data, folder, col[0]);
    do_photo(path, set, border, 1, &id, yaw);
    n++;
    if (n % 100 == 0) fprintf(stderr, "%s: %d photos\n", set_names[set], n);
  }
  fclose(fp);
}

static void do_identities(const char *data) {
  static const struct {
    const char *file;
    int n;
    const char *who[2];
  } files[] = {
      {"train/alex_lacamoire/img1.jpg", 1, {"alex"}},
      {"train/biden/biden.jpg", 1, {"biden"}},
      {"train/biden/biden2.jpg", 1, {"biden"}},
      {"train/kit_harington/john1.jpeg", 1, {"kit"}},
      {"train/kit_harington/john2.jpeg", 1, {"kit"}},
      {"train/obama/obama.jpg", 1, {"obama"}},
      {"train/obama/obama2.jpg", 1, {"obama"}},
      {"train/rose_leslie/img1.jpg", 1, {"rose"}},
      {"train/rose_leslie/img2.jpg", 1, {"rose"}},
      {"test/alex_lacamoire1.jpg", 1, {"alex"}},
      {"test/johnsnow_test1.jpg", 1, {"kit"}},
      {"test/obama1.jpg", 1, {"obama"}},
      {"test/obama_and_biden.jpg", 2, {"biden", "obama"}},
      {"test/kit_with_rose.jpg", 2, {"rose", "kit"}},
  };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/faces/identities/%s", data, files[i].file);
    int ids[2];
    for (int k = 0; k < files[i].n; k++) {
      char sub[64];
      snprintf(sub, sizeof sub, "id/%s", files[i].who[k]);
      ids[k] = subject_id(sub);
    }
    do_photo(path, SET_ID, 0, files[i].n, ids, 0);
  }
}

/* Pair filter for a report row: 0 = all pairs of the set; for pose, 1 = frontal vs +-45,
 * 2 = frontal vs +-90. */
static int pair_in(const face_rec *a, const face_rec *b, int filter) {
  if (filter == 0) return 1;
  int ya = abs(a->group), yb = abs(b->group);
  int want = filter == 1 ? 45 : 90;
  return (ya == 0 && yb == want) || (yb == 0 && ya == want);
}

static void report(int set, int filter, const char *label, int mi) {
  int G = 0, I = 0, capG = 1024, capI = 1 << 16;
  float *gen = malloc(sizeof(float) * capG), *imp = malloc(sizeof(float) * capI);
  int nf = 0, dim = rts[mi].dim;
  for (int i = 0; i < n_faces; i++) {
    const face_rec *a = &faces[i];
    if (a->set != set) continue;
    nf++;
    if (!a->emb[mi]) continue;
    for (int j = i + 1; j < n_faces; j++) {
      const face_rec *b = &faces[j];
      if (b->set != set || !b->emb[mi] || !pair_in(a, b, filter)) continue;
      double s = 0;
      for (int k = 0; k < dim; k++) s += (double)a->emb[mi][k] * b->emb[mi][k];
      if (a->subject == b->subject) {
        if (G == capG) gen = realloc(gen, sizeof(float) * (capG *= 2));
        gen[G++] = (float)s;
      } else {
        if (I == capI) imp = realloc(imp, sizeof(float) * (capI *= 2));
        imp[I++] = (float)s;
      }
    }
  }
  if (G == 0 || I == 0) {
    free(gen), free(imp);
    return;
  }
  qsort(gen, G, sizeof(float), cmp_float);
  qsort(imp, I, sizeof(float), cmp_float);
  double tar[2], thr[2];
  const double fars[2] = {0.01, 0.001};
  for (int q = 0; q < 2; q++) {
    /* threshold: the smallest t with #(imp > t) <= far * I */
    long allowed = (long)floor(fars[q] * I);
    float t = imp[I - 1 - allowed < 0 ? 0 : I - 1 - allowed];
    thr[q] = t;
    long acc = 0;
    for (int k = 0; k < G; k++) acc += gen[k] > t;
    tar[q] = (double)acc / G;
  }
  /* EER: sweep the threshold over the genuine scores (accept s >= t) */
  double eer = 1.0, best = 2.0;
  int ii = 0;
  for (int k = 0; k < G; k++) {
    float t = gen[k];
    while (ii < I && imp[ii] < t) ii++;
    double frr = (double)k / G, far = (double)(I - ii) / I;
    if (fabs(frr - far) < best) best = fabs(frr - far), eer = 0.5 * (frr + far);
  }
  printf("| %s | %s | %d | %d | %d | %d | %.1f | %.1f | %.2f | %.3f / %.3f |\n", label,
         rts[mi].def->name, nf, missed[set], G, I, 100 * tar[0], 100 * tar[1], 100 * eer, thr[0],
         thr[1]);
  free(gen), free(imp);
}

static int listed(const char *list, const char *name) {
  if (!list) return 1;
  size_t n = strlen(name);
  for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
    if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr,
            "usage: %s MODELS_DIR EXTRA_MODELS_DIR DATA_DIR [--sets a,b] [--models a,b] "
            "[--limit N]\n",
            argv[0]);
    return 2;
  }
  const char *mdir = argv[1], *xdir = argv[2], *data = argv[3], *sets = NULL, *mlist = NULL;
  int limit = 0;
  for (int i = 4; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--sets") == 0) sets = argv[i + 1];
    if (strcmp(argv[i], "--models") == 0) mlist = argv[i + 1];
    if (strcmp(argv[i], "--limit") == 0) limit = atoi(argv[i + 1]);
  }
  for (int i = 0; i < N_MODELS; i++) {
    model_rt *r = &rts[i];
    r->def = &model_defs[i];
    if (!listed(mlist, r->def->name)) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->def->extra ? xdir : mdir, r->def->file);
    emoi_err err = {{0}};
    if ((r->def->faceapi ? dev_faceapi_recognition_load(path, &r->g, &err)
                         : nn_tfjs_load(path, 256 << 20, &r->g, &err)) != EMO_OK ||
        nn_plan_create(r->g, NN_BACKEND_XNNPACK, NULL, &r->plan, &err) != EMO_OK) {
      fprintf(stderr, "%s: %s: %s (skipped)\n", r->def->name, path, err.msg);
      continue;
    }
    /* the descriptor: the widest output (faceres: 1024 beside age 100 and gender 1) */
    r->out_index = -1;
    for (int k = 0; k < r->g->n_outputs; k++) {
      int n = (int)nn_value_numel(&r->g->values[r->g->outputs[k]]);
      if (n > r->dim) r->dim = n, r->out_index = k;
    }
    r->on = r->out_index >= 0;
    fprintf(stderr, "%s: %d-d descriptor\n", r->def->name, r->dim);
  }
  emo_model_params p = emo_model_params_default();
  p.expression = EMO_EXPRESSION_NONE;
  p.voice = 0;
  emo_context_params cp = emo_context_params_default();
  cp.n_threads = 1;
  emo_model *model = NULL;
  if (emo_model_load(&p, &model) != EMO_OK || emo_context_create(model, &cp, &ctx) != EMO_OK) {
    fprintf(stderr, "cannot load emo's detector (run `emo models fetch`)\n");
    return 1;
  }
  if (listed(sets, "identities")) do_identities(data);
  if (listed(sets, "kdef")) do_tsv(data, "faces/labelled/kdef-front", SET_KDEF, 2, -1, 0, 0);
  if (listed(sets, "taiwan"))
    do_tsv(data, "faces/labelled/taiwan-performer", SET_TAIWAN, 2, -1, 96, limit);
  if (listed(sets, "pose")) do_tsv(data, "faces/pose_kdef", SET_POSE, 2, 1, 0, 0);

  printf(
      "| set | model | faces | photos without a detection | genuine pairs | impostor pairs | "
      "TAR@FAR1%% | TAR@FAR0.1%% | EER %% | cosine threshold at FAR 1%% / 0.1%% |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (int s = 0; s < SET_COUNT; s++)
    for (int i = 0; i < N_MODELS; i++) {
      if (!rts[i].on) continue;
      report(s, 0, set_names[s], i);
      if (s == SET_POSE) {
        report(s, 1, "pose 0 vs 45", i);
        report(s, 2, "pose 0 vs 90", i);
      }
    }
  printf("\n| model | input | dim | median ms per embedding (1 thread) |\n|---|---|---|---|\n");
  for (int i = 0; i < N_MODELS; i++) {
    model_rt *r = &rts[i];
    if (!r->on || r->n_times == 0) continue;
    qsort(r->times, r->n_times, sizeof(double), cmp_double);
    printf("| %s | %dx%d %s | %d | %.2f |\n", r->def->name, r->def->side, r->def->side,
           r->def->crop == CROP_ARC ? "arc" : "box", r->dim, r->times[r->n_times / 2]);
  }
  for (int s = 0; s < SET_COUNT; s++)
    if (photos[s])
      fprintf(stderr, "%s: %d photos, %d without the faces\n", set_names[s], photos[s], missed[s]);
  for (int i = 0; i < n_faces; i++)
    for (int k = 0; k < N_MODELS; k++) free(faces[i].emb[k]);
  free(faces);
  for (int i = 0; i < N_MODELS; i++) {
    nn_plan_destroy(&rts[i].plan);
    nn_graph_destroy(&rts[i].g);
    free(rts[i].times);
  }
  emo_context_destroy(&ctx);
  emo_model_destroy(&model);
  return 0;
}
