/* train.c: `emo features` and `emo train`, the CLI side of training your own heads (emo.h,
 * "Feature vectors and heads you train"). Uses only the public API.
 *
 *   emo features [options] INPUT... -o DIR   feature vectors: DIR/features.npy (rows, dim)
 *                                            float32, DIR/index.csv (one row per vector),
 *                                            DIR/definition.txt
 *   emo train [options] INPUT -o HEAD        a head file, and HEAD.md, its model card with
 *                                            person-grouped cross-validation
 * INPUT is a CSV with columns file,label[,person][,intensity] (files relative to the CSV's
 * folder), a folder with one subfolder per label, or (emo train) a DIR written by emo features.
 * Photos give one vector for their most confident face; audio clips one for the whole clip;
 * video clips (by extension: mp4, mov, mkv, ...) the mean of their main face track's per-frame
 * vectors (emo_video_features; --per-frame: one per analysed frame of that track).
 * An input that cannot be read or has no face is listed on stderr, skipped and counted. */
#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "emo.h"

typedef struct item {
  char *file, *label, *person; /* person may be NULL */
  float intensity;             /* NaN when none */
} item;

typedef struct items {
  item *v;
  int n, cap;
  int has_person, has_intensity;
} items;

static void items_free(items *it) {
  for (int i = 0; i < it->n; i++) {
    free(it->v[i].file);
    free(it->v[i].label);
    free(it->v[i].person);
  }
  free(it->v);
  memset(it, 0, sizeof *it);
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int items_add(items *it, const char *file, const char *label, const char *person,
                     float intensity) {
  if (it->n == it->cap) {
    int cap = it->cap ? it->cap * 2 : 256;
    item *v = realloc(it->v, (size_t)cap * sizeof *v);
    if (!v) return -1;
    it->v = v;
    it->cap = cap;
  }
  item *x = &it->v[it->n];
  x->file = dupstr(file);
  x->label = dupstr(label ? label : "");
  x->person = person && *person ? dupstr(person) : NULL;
  x->intensity = intensity;
  if (!x->file || !x->label) return -1;
  it->n++;
  return 0;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a directory's entries (no dot files); NULL when it cannot be read or memory
 * ran out (never a partial list). */
static char **list_dir(const char *dir, int *n) {
  DIR *d = opendir(dir);
  *n = 0;
  if (!d) return NULL;
  char **v = calloc(1, sizeof *v);
  int cap = 1, ok = v != NULL;
  struct dirent *e;
  while (ok && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (*n == cap) {
      cap *= 2;
      char **nv = realloc(v, (size_t)cap * sizeof *nv);
      if (!(ok = nv != NULL)) break;
      v = nv;
    }
    if ((v[*n] = dupstr(e->d_name)))
      ++*n;
    else
      ok = 0;
  }
  closedir(d);
  if (!ok) {
    for (int i = 0; i < *n; i++) free(v[i]);
    free(v);
    *n = 0;
    return NULL;
  }
  qsort(v, (size_t)*n, sizeof *v, cmp_str);
  return v;
}

/* Folder per label: DIR/label/file. */
static int read_folder(const char *dir, items *it) {
  int nl = 0;
  char **labels = list_dir(dir, &nl);
  if (!labels) {
    fprintf(stderr, "emo: %s: cannot read the folder\n", dir);
    return -1;
  }
  char path[4096];
  int rc = 0;
  for (int i = 0; i < nl; i++) { /* a file beside the label folders is not an input */
    snprintf(path, sizeof path, "%s/%s", dir, labels[i]);
    int nf = 0;
    char **files = rc == 0 && is_dir(path) ? list_dir(path, &nf) : NULL;
    if (rc == 0 && is_dir(path) && !files) {
      fprintf(stderr, "emo: %s: cannot read the folder\n", path);
      rc = -1;
    }
    for (int j = 0; files && j < nf; j++) {
      char fp[8200];
      snprintf(fp, sizeof fp, "%s/%s", path, files[j]);
      if (rc == 0 && !is_dir(fp) && items_add(it, fp, labels[i], NULL, NAN) != 0) rc = -1;
      free(files[j]);
    }
    free(files);
    free(labels[i]);
  }
  free(labels);
  return rc;
}

/* CSV list: file,label[,person][,intensity]; files relative to the CSV's folder. */
static int read_list(const char *csv, items *it) {
  char err[512];
  emo_table *t = NULL;
  if (emo_table_read(csv, &t, err, sizeof err) != EMO_OK) {
    fprintf(stderr, "emo: %s\n", err);
    return -1;
  }
  int cf = emo_table_column(t, "file"), cl = emo_table_column(t, "label");
  int cp = emo_table_column(t, "person"), ci = emo_table_column(t, "intensity");
  if (cf < 0 || cl < 0) {
    fprintf(stderr,
            "emo: %s: the header needs columns file and label (and optionally person, "
            "intensity)\n",
            csv);
    emo_table_destroy(&t);
    return -1;
  }
  char base[4096];
  snprintf(base, sizeof base, "%s", csv);
  char *slash = strrchr(base, '/');
  if (slash)
    slash[1] = 0;
  else
    base[0] = 0;
  it->has_person = cp >= 0;
  it->has_intensity = ci >= 0;
  int rc = 0;
  for (int r = 0; r < emo_table_rows(t) && rc == 0; r++) {
    const char *f = emo_table_cell(t, r, cf), *l = emo_table_cell(t, r, cl);
    float in = NAN;
    if (!*f || !*l) {
      fprintf(stderr, "emo: %s:%d: empty file or label\n", csv, emo_table_line(t, r));
      rc = -1;
      break;
    }
    if (ci >= 0 && *emo_table_cell(t, r, ci)) {
      char *end = NULL;
      in = strtof(emo_table_cell(t, r, ci), &end);
      if (*end || !isfinite(in) || in < 0) {
        fprintf(stderr, "emo: %s:%d: intensity \"%s\" is not a number >= 0\n", csv,
                emo_table_line(t, r), emo_table_cell(t, r, ci));
        rc = -1;
        break;
      }
    }
    char fp[8200];
    snprintf(fp, sizeof fp, "%s%s", f[0] == '/' ? "" : base, f);
    rc = items_add(it, fp, l, cp >= 0 ? emo_table_cell(t, r, cp) : NULL, in);
  }
  emo_table_destroy(&t);
  return rc;
}

/* Intensities above 1 are ordinal grades: mapped to (v - min) / (max - min). */
static void normalise_intensity(items *it) {
  float lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < it->n; i++)
    if (!isnan(it->v[i].intensity)) {
      lo = fminf(lo, it->v[i].intensity);
      hi = fmaxf(hi, it->v[i].intensity);
    }
  if (!(hi > 1.0f)) return;
  for (int i = 0; i < it->n; i++)
    if (!isnan(it->v[i].intensity))
      it->v[i].intensity = hi > lo ? (it->v[i].intensity - lo) / (hi - lo) : 0.5f;
}

static int read_inputs(int n, char **argv, items *it) {
  if (n == 1 && is_dir(argv[0])) return read_folder(argv[0], it);
  size_t l = strlen(argv[0]);
  if (n == 1 && l > 4 && strcmp(argv[0] + l - 4, ".csv") == 0) {
    if (read_list(argv[0], it) != 0) return -1;
    normalise_intensity(it);
    return 0;
  }
  for (int i = 0; i < n; i++)
    if (items_add(it, argv[i], "", NULL, NAN) != 0) return -1;
  return 0;
}

static int has_ext(const char *f, const char *const *exts) {
  const char *dot = strrchr(f, '.');
  if (!dot) return 0;
  for (int i = 0; exts[i]; i++)
    if (strcasecmp(dot + 1, exts[i]) == 0) return 1;
  return 0;
}

static int is_video(const char *f) {
  static const char *const video[] = {"mp4", "mov",  "mkv", "avi", "webm", "m4v",
                                      "mpg", "mpeg", "ts",  "wmv", NULL};
  return has_ext(f, video);
}

static int guess_modality(const char *f) {
  static const char *const audio[] = {"wav", "flac", "mp3", "m4a", "ogg", "opus", "aac", NULL};
  return has_ext(f, audio) ? EMO_MODALITY_VOICE : EMO_MODALITY_FACE;
}

/* ---- extraction ---------------------------------------------------------------------- */

typedef struct featset {
  int modality, dim, n, cap;
  float *x;    /* (n, dim) */
  int *src;    /* (n,) index into items */
  float *meta; /* (n, 6): start, end, x, y, w, h */
  char definition[1024];
} featset;

static void featset_free(featset *f) {
  free(f->x);
  free(f->src);
  free(f->meta);
  memset(f, 0, sizeof *f);
}

typedef struct xopts {
  int modality; /* -1 = by the first input's extension */
  int all_faces, segments;
  int per_frame; /* --per-frame: a clip gives one row per analysed frame of its main track */
  const char *models;
  int quiet;
  int whole_face;        /* --whole-face: photos are face crops (no detection) */
  const char *ser_model; /* --ser-model: a wav2vec 2.0 model's pooled states join the vector */
} xopts;

static void log_err(emo_log_level level, const char *message, void *user) {
  (void)user;
  if (level <= EMO_LOG_ERROR) fprintf(stderr, "emo: %s\n", message);
}

/* Appends the n rows x (fs->dim each) of a video clip (items[i]) to fs. */
static int append_rows(featset *fs, int i, const float *x, const emo_video_feature_row *vr, int n) {
  float *nx = realloc(fs->x, (size_t)(fs->n + n) * fs->dim * sizeof(float));
  if (nx) fs->x = nx;
  int *ns = realloc(fs->src, (size_t)(fs->n + n) * sizeof(int));
  if (ns) fs->src = ns;
  float *nm = realloc(fs->meta, (size_t)(fs->n + n) * 6 * sizeof(float));
  if (nm) fs->meta = nm;
  if (!nx || !ns || !nm) return -1;
  memcpy(fs->x + (size_t)fs->n * fs->dim, x, (size_t)n * fs->dim * sizeof(float));
  for (int k = 0; k < n; k++) {
    float *m = fs->meta + (size_t)(fs->n + k) * 6;
    fs->src[fs->n + k] = i;
    m[0] = (float)vr[k].start;
    m[1] = (float)vr[k].end;
    memcpy(&m[2], vr[k].box, 4 * sizeof(float));
  }
  fs->n += n;
  fs->cap = fs->n;
  return 0;
}

static int extract(const items *it, const xopts *o, featset *fs) {
  memset(fs, 0, sizeof *fs);
  if (it->n == 0) {
    fprintf(stderr, "emo: no inputs\n");
    return -1;
  }
  fs->modality = o->modality >= 0 ? o->modality : guess_modality(it->v[0].file);
  emo_model_params mp = emo_model_params_default();
  mp.models_dir = o->models;
  mp.log = log_err;
  mp.features = fs->modality == EMO_MODALITY_FACE;
  mp.voice = fs->modality == EMO_MODALITY_VOICE;
  mp.faces = fs->modality == EMO_MODALITY_FACE;
  mp.reid = fs->modality == EMO_MODALITY_FACE;
  if (fs->modality == EMO_MODALITY_VOICE) mp.ser_model = o->ser_model;
  emo_context_params cp = emo_context_params_default();
  cp.float_expression = 1; /* the same numbers on every CPU */
  cp.log = log_err;
  emo_run_params rp = emo_run_params_default();
  rp.audio_whole = !o->segments;
  rp.whole_face = o->whole_face;
  emo_model *m = NULL;
  emo_context *c = NULL;
  int rc = emo_model_load(&mp, &m);
  if (rc == EMO_OK) rc = emo_context_create(m, &cp, &c);
  if (rc != EMO_OK) {
    fprintf(stderr, "emo: cannot load models (%s)\n", emo_status_str(rc));
    emo_model_destroy(&m);
    return -1;
  }
  fs->dim = emo_features_dim(m, (emo_modality)fs->modality);
  emo_features_definition(m, (emo_modality)fs->modality, fs->definition, sizeof fs->definition);
  int failed = 0, noface = 0;
  fs->cap = it->n;
  fs->x = malloc((size_t)fs->cap * fs->dim * sizeof(float));
  fs->src = malloc((size_t)fs->cap * sizeof(int));
  fs->meta = malloc((size_t)fs->cap * 6 * sizeof(float));
  if (!fs->x || !fs->src || !fs->meta) goto oom;
  for (int i = 0; i < it->n; i++) {
    const float *x = NULL;
    int count = 0;
    float meta[64][6];
    if (fs->modality == EMO_MODALITY_FACE && is_video(it->v[i].file)) {
      const emo_video_feature_row *vr = NULL;
      int nr = 0;
      rc = emo_video_features(c, &rp, it->v[i].file, o->per_frame, &nr, &vr, &x);
      if (rc == EMO_OK && nr == 0) {
        noface++;
        fprintf(stderr, "emo: %s: no face found, skipped\n", it->v[i].file);
      }
      if (rc == EMO_OK && nr > 0) {
        if (append_rows(fs, i, x, vr, nr) != 0) goto oom;
        if (!o->quiet && (i + 1) % 50 == 0) fprintf(stderr, "emo: %d / %d inputs\n", i + 1, it->n);
        continue;
      }
    } else if (fs->modality == EMO_MODALITY_FACE) {
      const emo_image_result *r = NULL;
      rc = emo_image_features(c, &rp, it->v[i].file, &r, &x);
      if (rc == EMO_OK) {
        count = o->all_faces ? r->face_count : (r->face_count > 0);
        if (count > 64) count = 64;
        for (int k = 0; k < count; k++) {
          meta[k][0] = meta[k][1] = NAN;
          memcpy(&meta[k][2], r->faces[k].box, 4 * sizeof(float));
        }
        if (!r->face_count) {
          noface++;
          fprintf(stderr, "emo: %s: no face found, skipped\n", it->v[i].file);
        }
      }
    } else {
      const emo_audio_result *r = NULL;
      rc = emo_audio_features(c, &rp, it->v[i].file, &r, &x);
      if (rc == EMO_OK) {
        count = r->segment_count > 64 ? 64 : r->segment_count;
        for (int k = 0; k < count; k++) {
          meta[k][0] = (float)r->segments[k].start;
          meta[k][1] = (float)r->segments[k].end;
          meta[k][2] = meta[k][3] = meta[k][4] = meta[k][5] = NAN;
        }
        if (!count) {
          noface++;
          fprintf(stderr, "emo: %s: no speech found, skipped\n", it->v[i].file);
        }
      }
    }
    if (rc != EMO_OK) {
      failed++;
      fprintf(stderr, "emo: %s: %s, skipped\n", it->v[i].file, emo_context_last_error(c));
      continue;
    }
    if (fs->n + count > fs->cap) {
      fs->cap = (fs->n + count) * 2;
      float *nx = realloc(fs->x, (size_t)fs->cap * fs->dim * sizeof(float));
      if (nx) fs->x = nx;
      int *ns = realloc(fs->src, (size_t)fs->cap * sizeof(int));
      if (ns) fs->src = ns;
      float *nm = realloc(fs->meta, (size_t)fs->cap * 6 * sizeof(float));
      if (nm) fs->meta = nm;
      if (!nx || !ns || !nm) goto oom;
    }
    memcpy(fs->x + (size_t)fs->n * fs->dim, x, (size_t)count * fs->dim * sizeof(float));
    for (int k = 0; k < count; k++) {
      fs->src[fs->n + k] = i;
      memcpy(fs->meta + (size_t)(fs->n + k) * 6, meta[k], sizeof meta[k]);
    }
    fs->n += count;
    if (!o->quiet && (i + 1) % 50 == 0) fprintf(stderr, "emo: %d / %d inputs\n", i + 1, it->n);
  }
  if (failed || noface)
    fprintf(stderr, "emo: %d of %d inputs unreadable, %d without a %s (skipped)\n", failed, it->n,
            noface, fs->modality == EMO_MODALITY_FACE ? "face" : "speech segment");
  emo_context_destroy(&c);
  emo_model_destroy(&m);
  return 0;
oom:
  fprintf(stderr, "emo: out of memory\n");
  emo_context_destroy(&c);
  emo_model_destroy(&m);
  featset_free(fs);
  return -1;
}

/* ---- emo features -------------------------------------------------------------------- */

static void csv_field(FILE *f, const char *s) {
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void csv_float(FILE *f, float v) {
  if (!isnan(v)) fprintf(f, "%g", v);
}

static int write_featset(const char *dir, const items *it, const featset *fs) {
  char path[4096], err[512];
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "emo: %s: cannot create the folder\n", dir);
    return -1;
  }
  snprintf(path, sizeof path, "%s/features.npy", dir);
  if (emo_npy_write_f32(path, fs->x, fs->n, fs->dim, err, sizeof err) != EMO_OK) {
    fprintf(stderr, "emo: %s\n", err);
    return -1;
  }
  snprintf(path, sizeof path, "%s/definition.txt", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "%s\n", fs->definition);
  fclose(f);
  snprintf(path, sizeof path, "%s/index.csv", dir);
  f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "emo: %s: cannot create\n", path);
    return -1;
  }
  fprintf(f, "row,file,label,person,intensity,start,end,x,y,w,h\n");
  for (int r = 0; r < fs->n; r++) {
    const item *x = &it->v[fs->src[r]];
    fprintf(f, "%d,", r);
    csv_field(f, x->file);
    fputc(',', f);
    csv_field(f, x->label);
    fputc(',', f);
    csv_field(f, x->person);
    fputc(',', f);
    csv_float(f, x->intensity);
    for (int k = 0; k < 6; k++) {
      fputc(',', f);
      csv_float(f, fs->meta[(size_t)r * 6 + k]);
    }
    fputc('\n', f);
  }
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    fprintf(stderr, "emo: %s: write failed\n", path);
    return -1;
  }
  return 0;
}

static int parse_xopt(int argc, char **argv, int *i, xopts *o) {
  const char *a = argv[*i];
  if (strcmp(a, "--face") == 0)
    o->modality = EMO_MODALITY_FACE;
  else if (strcmp(a, "--voice") == 0)
    o->modality = EMO_MODALITY_VOICE;
  else if (strcmp(a, "--all-faces") == 0)
    o->all_faces = 1;
  else if (strcmp(a, "--segments") == 0)
    o->segments = 1;
  else if (strcmp(a, "--per-frame") == 0)
    o->per_frame = 1;
  else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
    o->quiet = 1;
  else if (strcmp(a, "--models") == 0 && *i + 1 < argc)
    o->models = argv[++*i];
  else if (strcmp(a, "--whole-face") == 0)
    o->whole_face = 1;
  else if (strcmp(a, "--ser-model") == 0 && *i + 1 < argc)
    o->ser_model = argv[++*i];
  else
    return 0;
  return 1;
}

int cli_features(int argc, char **argv) {
  xopts o = {-1, 0, 0, 0, NULL, 0, 0, NULL};
  const char *out = NULL;
  char **in = calloc((size_t)argc, sizeof *in);
  int n_in = 0;
  if (!in) return 1;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      out = argv[++i];
    else if (parse_xopt(argc, argv, &i, &o))
      continue;
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "emo features: unknown option %s\n", argv[i]);
      free(in);
      return 2;
    } else
      in[n_in++] = argv[i];
  }
  if (!out || !n_in) {
    fprintf(stderr,
            "usage: emo features [--face|--voice] [--all-faces] [--whole-face] [--segments] "
            "[--per-frame] "
            "[--ser-model FILE] INPUT... -o DIR\n");
    free(in);
    return 2;
  }
  items it = {0};
  featset fs;
  int rc = read_inputs(n_in, in, &it) != 0 || extract(&it, &o, &fs) != 0 ? 1 : 0;
  free(in);
  if (rc == 0) {
    rc = write_featset(out, &it, &fs) != 0;
    if (!rc) fprintf(stderr, "emo: %d vectors of %d features in %s\n", fs.n, fs.dim, out);
    featset_free(&fs);
  }
  items_free(&it);
  return rc;
}

/* ---- emo train ----------------------------------------------------------------------- */

/* Reads a DIR written by emo features back into items and a featset. */
static int read_featdir(const char *dir, items *it, featset *fs) {
  char path[4096], err[512];
  memset(fs, 0, sizeof *fs);
  snprintf(path, sizeof path, "%s/features.npy", dir);
  int rows = 0, cols = 0;
  if (emo_npy_read_f32(path, &fs->x, &rows, &cols, err, sizeof err) != EMO_OK) {
    fprintf(stderr, "emo: %s\n", err);
    return -1;
  }
  fs->n = rows;
  fs->dim = cols;
  snprintf(path, sizeof path, "%s/definition.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f || !fgets(fs->definition, sizeof fs->definition, f)) {
    fprintf(stderr, "emo: %s: missing\n", path);
    if (f) fclose(f);
    return -1;
  }
  fclose(f);
  fs->definition[strcspn(fs->definition, "\r\n")] = 0;
  fs->modality =
      strncmp(fs->definition, "emo-voice", 9) == 0 ? EMO_MODALITY_VOICE : EMO_MODALITY_FACE;
  snprintf(path, sizeof path, "%s/index.csv", dir);
  emo_table *t = NULL;
  if (emo_table_read(path, &t, err, sizeof err) != EMO_OK) {
    fprintf(stderr, "emo: %s\n", err);
    return -1;
  }
  int cf = emo_table_column(t, "file"), cl = emo_table_column(t, "label"),
      cp = emo_table_column(t, "person"), ci = emo_table_column(t, "intensity");
  if (cf < 0 || cl < 0 || emo_table_rows(t) != rows) {
    fprintf(stderr, "emo: %s: needs columns file, label and %d rows (one per vector)\n", path,
            rows);
    emo_table_destroy(&t);
    return -1;
  }
  fs->src = malloc((size_t)(rows ? rows : 1) * sizeof(int));
  int rc = fs->src ? 0 : -1;
  for (int r = 0; r < rows && rc == 0; r++) {
    const char *p = cp >= 0 ? emo_table_cell(t, r, cp) : NULL,
               *s = ci >= 0 ? emo_table_cell(t, r, ci) : "";
    float in = NAN;
    if (*s) {
      char *end = NULL;
      in = strtof(s, &end);
      if (*end || !(in >= 0.0f)) {
        fprintf(stderr, "emo: %s:%d: bad intensity \"%s\"\n", path, emo_table_line(t, r), s);
        rc = -1;
        break;
      }
    }
    if (p && *p) it->has_person = 1;
    if (!isnan(in)) it->has_intensity = 1;
    rc = items_add(it, emo_table_cell(t, r, cf), emo_table_cell(t, r, cl), p, in);
    if (rc == 0) fs->src[r] = r;
  }
  emo_table_destroy(&t);
  if (rc == 0) normalise_intensity(it);
  return rc;
}

static const char *kind_name(emo_head_kind k) {
  static const char *const n[] = {"auto", "ncm", "logreg", "mlp"};
  return (unsigned)k < EMO_HEAD_KIND_COUNT ? n[k] : "?";
}

static int write_card(const char *path, const char *cmdline, const emo_train_set *s,
                      const int *count, const emo_train_params *p, const emo_head *h,
                      const emo_cv_report *cv, const int *conf, const double *ml_f1,
                      const double *ml_auc, const char *cv_err, int n_persons) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int C = s->n_classes;
  time_t now = time(NULL);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
  fprintf(f, "# Model card: %s head (%s)\n\n", s->modality == EMO_MODALITY_FACE ? "face" : "voice",
          kind_name(emo_head_kind_of(h)));
  fprintf(f, "| | |\n|---|---|\n| made | %s by emo %s |\n| command | `%s` |\n", date,
          EMO_VERSION_STRING, cmdline);
  fprintf(f, "| features | %s |\n", s->definition);
  fprintf(f, "| examples | %d, %d classes, %d persons |\n", s->n, C, n_persons);
  fprintf(f, "| head | %s; l2 %g, %d Adam steps, learning rate %g, class weights %s, seed %llu",
          kind_name(emo_head_kind_of(h)), (double)p->l2, p->iterations, (double)p->learning_rate,
          p->class_weights ? "on" : "off", (unsigned long long)p->seed);
  if (emo_head_kind_of(h) == EMO_HEAD_MLP) fprintf(f, ", %d hidden units", p->hidden);
  fprintf(f, " |\n| intensity | %s |\n\n",
          emo_head_has_intensity(h) ? "per-class regression" : "none");
  if (s->targets)
    fprintf(f,
            "Multi-label: an example may carry several classes; one sigmoid per class, "
            "independent probabilities (not summing to 1), a class is present from 0.5.\n\n");
  fprintf(f, "## Classes\n\n| class | examples |\n|---|---|\n");
  for (int k = 0; k < C; k++) fprintf(f, "| %s | %d |\n", s->class_names[k], count[k]);
  fprintf(f, "\n## Cross-validation\n\n");
  if (cv_err) {
    fprintf(f, "Not run: %s\n", cv_err);
  } else if (s->targets) {
    fprintf(f, "%d folds %s; every score is on examples of people the fold's head never saw.\n\n",
            cv->folds,
            s->person ? "grouped by person"
                      : "**by example (no person column: NOT person-independent)**");
    fprintf(f, "Exact label sets right: %.1f%%; macro F1 %.3f; mean ROC AUC %.3f.\n\n",
            100 * cv->accuracy, cv->macro_f1, cv->unweighted);
    fprintf(f, "| class | F1 (at 0.5) | ROC AUC |\n|---|---|---|\n");
    for (int k = 0; k < C; k++) {
      fprintf(f, "| %s | %.3f | ", s->class_names[k], ml_f1[k]);
      if (isnan(ml_auc[k]))
        fprintf(f, "- |\n");
      else
        fprintf(f, "%.3f |\n", ml_auc[k]);
    }
  } else {
    fprintf(f, "%d folds %s; every score is on examples of people the fold's head never saw.\n\n",
            cv->folds,
            s->person ? "grouped by person"
                      : "**by example (no person column: "
                        "NOT person-independent)**");
    fprintf(f,
            "| accuracy | unweighted accuracy | macro F1 | intensity MAE |\n|---|---|---|---|\n");
    fprintf(f, "| %.1f%% | %.1f%% | %.3f | ", 100 * cv->accuracy, 100 * cv->unweighted,
            cv->macro_f1);
    if (isnan(cv->intensity_mae))
      fprintf(f, "- |\n\n");
    else
      fprintf(f, "%.3f |\n\n", cv->intensity_mae);
    fprintf(f, "Confusion (rows true, columns predicted):\n\n| |");
    for (int k = 0; k < C; k++) fprintf(f, " %s |", s->class_names[k]);
    fprintf(f, " recall |\n|---|");
    for (int k = 0; k <= C; k++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int k = 0; k < C; k++) {
      long row = 0;
      fprintf(f, "| %s |", s->class_names[k]);
      for (int j = 0; j < C; j++) {
        fprintf(f, " %d |", conf[(size_t)k * C + j]);
        row += conf[(size_t)k * C + j];
      }
      fprintf(f, " %.1f%% |\n", row ? 100.0 * conf[(size_t)k * C + k] / row : 0.0);
    }
  }
  fprintf(f,
          "\n## Limits\n\nThe head knows only the people, recording conditions and classes "
          "above. Check the licence of the data it was trained on before you share it.\n");
  int bad = ferror(f);
  return fclose(f) != 0 || bad ? -1 : 0;
}

static int append_test(const char *path, const char *persons, int n, double acc, double ua) {
  FILE *f = fopen(path, "a");
  if (!f) return -1;
  fprintf(f,
          "\n## Held-out persons\n\nTrained without persons %s; on their %d examples: "
          "accuracy %.1f%%, unweighted accuracy %.1f%%.\n",
          persons, n, 100 * acc, 100 * ua);
  return fclose(f);
}

/* Keeps only the feature blocks named in `names` (emo train --features): fs's columns and
 * definition become those of the smaller vector (emo_features_select). */
static int select_blocks(featset *fs, const char *names) {
  char def[sizeof fs->definition], err[512];
  int *cols = malloc((size_t)(fs->dim > 0 ? fs->dim : 1) * sizeof *cols);
  int k = cols ? emo_features_select(fs->definition, names, def, sizeof def, cols, fs->dim, err,
                                     sizeof err)
               : EMO_ENOMEM;
  if (k <= 0) {
    fprintf(stderr, "emo train: --features %s: %s\n", names,
            k == 0 ? "no values in these blocks" : err);
    free(cols);
    return -1;
  }
  for (int r = 0; r < fs->n; r++) /* in place: row r's columns never pass its start */
    for (int j = 0; j < k; j++) fs->x[(size_t)r * k + j] = fs->x[(size_t)r * fs->dim + cols[j]];
  free(cols);
  fs->dim = k;
  snprintf(fs->definition, sizeof fs->definition, "%s", def);
  return 0;
}

int cli_train(int argc, char **argv) {
  xopts o = {-1, 0, 0, 0, NULL, 0, 0, NULL};
  emo_train_params p = emo_train_params_default();
  const char *out = NULL, *card = NULL, *input = NULL;
  int folds = 5, no_cv = 0;
  long long num;                   /* a numeric option's value */
  const char *test_persons = NULL; /* comma-separated: held out of training, scored at the end */
  const char *blocks = NULL;       /* --features: comma-separated blocks the head reads */
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-o") == 0 && v)
      out = argv[++i];
    else if (strcmp(a, "--card") == 0 && v)
      card = argv[++i];
    else if (strcmp(a, "--kind") == 0 && v) {
      i++;
      if (strcmp(v, "auto") == 0)
        p.kind = EMO_HEAD_AUTO;
      else if (strcmp(v, "ncm") == 0)
        p.kind = EMO_HEAD_NCM;
      else if (strcmp(v, "logreg") == 0)
        p.kind = EMO_HEAD_LOGREG;
      else if (strcmp(v, "mlp") == 0)
        p.kind = EMO_HEAD_MLP;
      else {
        fprintf(stderr, "emo train: --kind auto|ncm|logreg|mlp\n");
        return 2;
      }
    } else if (strcmp(a, "--folds") == 0) {
      if (cli_opt_long(a, v, 2, 1000, &num)) return 2;
      folds = (int)num;
      i++;
    } else if (strcmp(a, "--l2") == 0) {
      if (cli_opt_float(a, v, 0.0f, 1e6f, &p.l2)) return 2;
      i++;
    } else if (strcmp(a, "--hidden") == 0) {
      if (cli_opt_long(a, v, 1, 65536, &num)) return 2;
      p.hidden = (int)num;
      i++;
    } else if (strcmp(a, "--iterations") == 0) {
      if (cli_opt_long(a, v, 1, 10000000, &num)) return 2;
      p.iterations = (int)num;
      i++;
    } else if (strcmp(a, "--lr") == 0) {
      if (cli_opt_float(a, v, 1e-9f, 10.0f, &p.learning_rate)) return 2;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (cli_opt_long(a, v, 0, INT64_MAX, &num)) return 2;
      p.seed = (uint64_t)num;
      i++;
    } else if (strcmp(a, "--no-class-weights") == 0)
      p.class_weights = 0;
    else if (strcmp(a, "--no-cv") == 0)
      no_cv = 1;
    else if (strcmp(a, "--test-persons") == 0 && v)
      test_persons = argv[++i];
    else if (strcmp(a, "--features") == 0 && v)
      blocks = argv[++i];
    else if (parse_xopt(argc, argv, &i, &o))
      continue;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "emo train: unknown option %s\n", a);
      return 2;
    } else if (!input)
      input = a;
    else {
      fprintf(stderr, "emo train: one INPUT only\n");
      return 2;
    }
  }
  if (!out || !input) {
    fprintf(stderr,
            "usage: emo train [--kind auto|ncm|logreg|mlp] [--folds K] [--l2 X] "
            "[--hidden N] [--iterations N] [--lr X] [--no-class-weights] [--seed N] "
            "[--no-cv] [--test-persons A,B] [--features BLOCK,BLOCK] [--card FILE] "
            "[--whole-face] [--ser-model FILE] INPUT -o HEAD\n");
    return 2;
  }
  char cmdline[2048] = "emo";
  for (int i = 1; i < argc; i++) {
    size_t l = strlen(cmdline);
    snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
  }
  items it = {0};
  featset fs;
  char path[4096];
  snprintf(path, sizeof path, "%s/features.npy", input);
  int rc;
  struct stat st;
  if (is_dir(input) && stat(path, &st) == 0)
    rc = read_featdir(input, &it, &fs);
  else
    rc = read_inputs(1, (char **)&input, &it) != 0 || extract(&it, &o, &fs) != 0 ? -1 : 0;
  if (rc == 0 && blocks && select_blocks(&fs, blocks) != 0) {
    featset_free(&fs);
    rc = -1;
  }
  if (rc != 0) {
    items_free(&it);
    return 1;
  }
  /* classes and persons: sorted unique strings. A label "a;b" carries several classes: the
   * set is then multi-label (one sigmoid per class). */
  int n = fs.n, C = 0, P = 0, multi = 0, n_tok = 0;
  for (int r = 0; r < n; r++) {
    multi |= strchr(it.v[fs.src[r]].label, ';') != NULL;
    n_tok++;
    for (const char *q = it.v[fs.src[r]].label; *q; q++) n_tok += *q == ';';
  }
  char **cls = malloc((size_t)(n_tok ? n_tok : 1) * sizeof *cls),
       **per = malloc((size_t)(n ? n : 1) * sizeof *per);
  char **copies = calloc((size_t)(n ? n : 1), sizeof *copies); /* labels split in place */
  int *label = malloc((size_t)(n ? n : 1) * sizeof(int)),
      *person = malloc((size_t)(n ? n : 1) * sizeof(int));
  float *inten = malloc((size_t)(n ? n : 1) * sizeof(float));
  int *count = NULL, *conf = NULL;
  unsigned char *targets = NULL; /* (n, C) with multi */
  double *ml_f1 = NULL, *ml_auc = NULL;
  emo_head *h = NULL;
  rc = 1;
  if (!cls || !per || !copies || !label || !person || !inten) goto done;
  n_tok = 0;
  for (int r = 0; r < n; r++) {
    const item *x = &it.v[fs.src[r]];
    if (!*x->label) {
      fprintf(stderr, "emo: %s: no label (give a CSV with a label column or a folder per label)\n",
              x->file);
      goto done;
    }
    if (!(copies[r] = dupstr(x->label))) goto done;
    for (char *tok = copies[r], *next; tok; tok = next) {
      next = strchr(tok, ';');
      if (next) *next++ = 0;
      if (!*tok) {
        fprintf(stderr, "emo: %s: empty class in label \"%s\"\n", x->file, x->label);
        goto done;
      }
      cls[n_tok++] = tok;
      if (!multi) break;
    }
    per[r] = x->person ? x->person : "";
  }
  qsort(cls, (size_t)n_tok, sizeof *cls, cmp_str);
  qsort(per, (size_t)n, sizeof *per, cmp_str);
  for (int r = 0; r < n_tok; r++)
    if (r == 0 || strcmp(cls[r], cls[C - 1]) != 0) cls[C++] = cls[r];
  for (int r = 0; r < n; r++)
    if (r == 0 || strcmp(per[r], per[P - 1]) != 0) per[P++] = per[r];
  if (multi && !(targets = calloc((size_t)(n > 0 ? n : 1) * (size_t)(C > 0 ? C : 1), 1))) goto done;
  for (int r = 0; r < n; r++) {
    const item *x = &it.v[fs.src[r]];
    const char *tok = copies[r];
    char **c = bsearch(&tok, cls, (size_t)C, sizeof *cls, cmp_str);
    const char *pk = x->person ? x->person : "";
    char **q = bsearch(&pk, per, (size_t)P, sizeof *per, cmp_str);
    label[r] = (int)(c - cls);
    person[r] = (int)(q - per);
    inten[r] = x->intensity;
    for (const char *t = copies[r]; multi && t < copies[r] + strlen(x->label); t += strlen(t) + 1) {
      char **k = bsearch(&t, cls, (size_t)C, sizeof *cls, cmp_str);
      targets[(size_t)r * C + (k - cls)] = 1;
    }
  }
  count = calloc((size_t)(C ? C : 1), sizeof(int));
  conf = calloc((size_t)(C ? C : 1) * (C ? C : 1), sizeof(int));
  ml_f1 = calloc((size_t)(C ? C : 1), sizeof *ml_f1);
  ml_auc = calloc((size_t)(C ? C : 1), sizeof *ml_auc);
  if (!count || !conf || !ml_f1 || !ml_auc) goto done;
  /* --test-persons: those rows move to the end, out of training and cross-validation */
  int n_test = 0;
  if (test_persons) {
    float *tx = malloc((size_t)n * fs.dim * sizeof(float));
    int *tl = malloc((size_t)n * sizeof(int));
    unsigned char *tt = multi ? malloc((size_t)n * C) : NULL;
    if (!tx || !tl || (multi && !tt)) {
      free(tx);
      free(tl);
      free(tt);
      goto done;
    }
    int m = 0;
    for (int r = 0; r < n; r++) {
      const char *pk = it.v[fs.src[r]].person;
      size_t pl = pk ? strlen(pk) : 0;
      const char *q = pk && pl ? strstr(test_persons, pk) : NULL;
      int held = q && (q == test_persons || q[-1] == ',') && (q[pl] == ',' || q[pl] == 0);
      if (held) {
        memcpy(tx + (size_t)n_test * fs.dim, fs.x + (size_t)r * fs.dim, sizeof(float) * fs.dim);
        if (tt) memcpy(tt + (size_t)n_test * C, targets + (size_t)r * C, (size_t)C);
        tl[n_test++] = label[r];
      } else {
        memmove(fs.x + (size_t)m * fs.dim, fs.x + (size_t)r * fs.dim, sizeof(float) * fs.dim);
        if (tt) memmove(targets + (size_t)m * C, targets + (size_t)r * C, (size_t)C);
        label[m] = label[r];
        person[m] = person[r];
        inten[m] = inten[r];
        m++;
      }
    }
    memcpy(fs.x + (size_t)m * fs.dim, tx, sizeof(float) * fs.dim * n_test);
    memcpy(label + m, tl, sizeof(int) * n_test);
    if (tt) memcpy(targets + (size_t)m * C, tt, (size_t)C * n_test);
    free(tx);
    free(tl);
    free(tt);
    n = m;
    fprintf(stderr, "emo: %d examples of persons %s held out for testing\n", n_test, test_persons);
  }
  for (int r = 0; r < n; r++)
    for (int k = 0; k < C; k++) count[k] += multi ? targets[(size_t)r * C + k] : label[r] == k;
  emo_train_set s = {n,
                     fs.dim,
                     fs.x,
                     label,
                     C,
                     (const char *const *)cls,
                     it.has_person ? person : NULL,
                     it.has_intensity ? inten : NULL,
                     (emo_modality)fs.modality,
                     fs.definition,
                     targets};
  char err[512];
  emo_cv_report cv;
  const char *cv_err = no_cv ? "skipped (--no-cv)" : NULL;
  if (!no_cv && multi) {
    if (emo_head_cross_validate_multilabel(&s, &p, folds, &cv, ml_f1, ml_auc, err, sizeof err) !=
        EMO_OK) {
      fprintf(stderr, "emo: cross-validation: %s\n", err);
      goto done;
    }
    fprintf(stderr,
            "emo: %d-fold multi-label cross-validation %s: exact-set accuracy %.1f%%, macro F1 "
            "%.3f, mean AUC %.3f\n",
            cv.folds, s.person ? "grouped by person" : "by example (no person column)",
            100 * cv.accuracy, cv.macro_f1, cv.unweighted);
  } else if (!no_cv) {
    if (emo_head_cross_validate(&s, &p, folds, &cv, conf, err, sizeof err) != EMO_OK) {
      fprintf(stderr, "emo: cross-validation: %s\n", err);
      goto done;
    }
    fprintf(stderr,
            "emo: %d-fold cross-validation %s: accuracy %.1f%%, unweighted %.1f%%, macro F1 %.3f",
            cv.folds, s.person ? "grouped by person" : "by example (no person column)",
            100 * cv.accuracy, 100 * cv.unweighted, cv.macro_f1);
    if (!isnan(cv.intensity_mae)) fprintf(stderr, ", intensity MAE %.3f", cv.intensity_mae);
    fprintf(stderr, "\n");
  }
  if (emo_head_train(&s, &p, &h, err, sizeof err) != EMO_OK) {
    fprintf(stderr, "emo: training: %s\n", err);
    goto done;
  }
  if (emo_head_save(h, out, err, sizeof err) != EMO_OK) {
    fprintf(stderr, "emo: %s\n", err);
    goto done;
  }
  double test_acc = NAN, test_ua = NAN;
  if (n_test && multi) { /* multi-label: exact-set accuracy on the held-out persons */
    float *pr = malloc((size_t)C * sizeof(float));
    int right = 0;
    for (int r = n; pr && r < n + n_test; r++) {
      emo_head_predict(h, fs.x + (size_t)r * fs.dim, pr, NULL);
      int all = 1;
      for (int k = 0; k < C; k++) all &= (pr[k] >= 0.5f) == (targets[(size_t)r * C + k] != 0);
      right += all;
    }
    free(pr);
    test_acc = test_ua = (double)right / n_test;
    fprintf(stderr, "emo: held-out persons %s: exact label sets %.1f%% (%d examples)\n",
            test_persons, 100 * test_acc, n_test);
  } else if (n_test) {
    int *tc = calloc((size_t)C, sizeof(int)), *tr = calloc((size_t)C, sizeof(int));
    float *pr = malloc((size_t)C * sizeof(float));
    int right = 0;
    for (int r = n; tc && tr && pr && r < n + n_test; r++) {
      int k = emo_head_predict(h, fs.x + (size_t)r * fs.dim, pr, NULL);
      tc[label[r]]++;
      if (k == label[r]) tr[label[r]]++, right++;
    }
    double ua = 0.0;
    int present = 0;
    for (int k = 0; tc && k < C; k++)
      if (tc[k]) ua += (double)tr[k] / tc[k], present++;
    test_acc = (double)right / n_test;
    test_ua = present ? ua / present : 0.0;
    fprintf(stderr, "emo: held-out persons %s: accuracy %.1f%%, unweighted %.1f%% (%d examples)\n",
            test_persons, 100 * test_acc, 100 * test_ua, n_test);
    free(tc);
    free(tr);
    free(pr);
  }
  char card_path[4096];
  snprintf(card_path, sizeof card_path, "%s.md", out);
  if (!card) card = card_path;
  if (write_card(card, cmdline, &s, count, &p, h, &cv, conf, ml_f1, ml_auc, cv_err,
                 it.has_person ? P : 0) != 0 ||
      (n_test && append_test(card, test_persons, n_test, test_acc, test_ua) != 0)) {
    fprintf(stderr, "emo: %s: cannot write the model card\n", card);
    goto done;
  }
  fprintf(stderr, "emo: %s head (%d classes, %d examples) in %s, model card %s\n",
          kind_name(emo_head_kind_of(h)), C, n, out, card);
  rc = 0;
done:
  emo_head_destroy(&h);
  free(cls);
  free(per);
  free(label);
  free(person);
  free(inten);
  free(count);
  free(conf);
  free(targets);
  free(ml_f1);
  free(ml_auc);
  for (int r = 0; copies && r < fs.n; r++) free(copies[r]);
  free(copies);
  featset_free(&fs);
  items_free(&it);
  return rc;
}
