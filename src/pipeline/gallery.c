/* gallery.c: named people across files (emo_gallery_*, see emo.h): a folder of photos, one
 * person each, read into face descriptors (vision/face_embed.h), and the matching of a video
 * track's descriptor against them: the best person's name when their closest photo reaches the
 * threshold, "unknown" when none does, and the runner-up's name as well when two people are
 * that close and within GAL_AMBIG of each other (look-alikes: reported, not decided). Photos
 * that cannot serve (unreadable, no face, several faces, a face too small, turned or blurred
 * for a descriptor) are skipped with a warning naming the file and the reason. The gallery can
 * also be an earlier run's JSON Lines (emo video/media output): each track of its summary with
 * a pooled "embedding" is a photo of the person it was (its gallery name, else its person
 * record's "P<n>", else its identity), named "<file>:<who>" unless it had a gallery name, so
 * ids persist across recordings of the same people. Tracking and output are left to
 * analyze_video.c and the JSON writers. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/log.h"
#include "media/image_decode.h"
#include "pipeline/gallery.h"
#include "pipeline/internal.h"

#define GAL_MAX_PHOTOS 4096 /* photos read at most */
#define GAL_NAME 64         /* longest person name kept (bytes, with the terminator) */

struct emo_gallery {
  int n, cap;              /* photos kept */
  int *person;             /* (cap,) person index of each photo */
  float (*emb)[FEM_DIM];   /* (cap, FEM_DIM) descriptors */
  char (*names)[GAL_NAME]; /* (cap,) person names; n_persons used */
  int n_persons;
};

void emo_gallery_destroy(emo_gallery **pg) {
  if (!pg || !*pg) return;
  emo_gallery *g = *pg;
  free(g->person);
  free(g->emb);
  free(g->names);
  free(g);
  *pg = NULL;
}

emo_gallery *emoi_gallery_new(void) {
  return calloc(1, sizeof(emo_gallery));
}

int emo_gallery_count(const emo_gallery *g) {
  return g ? g->n : 0;
}

int emo_gallery_person_count(const emo_gallery *g) {
  return g ? g->n_persons : 0;
}

const char *emo_gallery_person(const emo_gallery *g, int i) {
  return g && i >= 0 && i < g->n_persons ? g->names[i] : NULL;
}

static int is_image(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot) return 0;
  const char *ext[] = {".jpg", ".jpeg", ".png", ".webp", ".JPG", ".JPEG", ".PNG", ".WEBP"};
  for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
    if (strcmp(dot, ext[i]) == 0) return 1;
  return 0;
}

static int grow(emo_gallery *g) {
  if (g->n < g->cap) return EMO_OK;
  int cap = g->cap ? 2 * g->cap : 16;
  int *p = realloc(g->person, (size_t)cap * sizeof *p);
  if (p) g->person = p;
  float(*e)[FEM_DIM] = realloc(g->emb, (size_t)cap * sizeof *e);
  if (e) g->emb = e;
  char(*nm)[GAL_NAME] = realloc(g->names, (size_t)cap * sizeof *nm);
  if (nm) g->names = nm;
  if (!p || !e || !nm) return EMO_ENOMEM;
  g->cap = cap;
  return EMO_OK;
}

/* Index of person name (added when new). */
static int person_index(emo_gallery *g, const char *name) {
  for (int i = 0; i < g->n_persons; i++)
    if (strcmp(g->names[i], name) == 0) return i;
  snprintf(g->names[g->n_persons], GAL_NAME, "%s", name);
  return g->n_persons++;
}

static void name_of(const char *entry, char *out);

/* Reads one photo of person name; a photo that cannot serve is skipped with a warning
 * (returns EMO_OK); returns an error only for out of memory or an embedding failure. */
static int add_photo(emo_context *c, emo_gallery *g, const char *path, const char *name) {
  emoi_err err = {{0}};
  unsigned char *data = NULL;
  size_t size = 0;
  img_rgb img = {0};
  int rc = img_read_file(path, c->run.max_file_bytes, &data, &size, &err);
  if (rc == EMO_OK) rc = img_decode(data, size, c->run.max_pixels, &img, &err);
  free(data);
  if (rc != EMO_OK) {
    emoi_log(&c->log, EMO_LOG_WARN, "gallery: %s: cannot read the photo (%s): skipped", path,
             err.msg[0] ? err.msg : emo_status_str(rc));
    return EMO_OK;
  }
  emo_detector used;
  int n = emoi_detect(c, img.data, img.width, img.height, img.width * 3, 1, 0, &used, &err);
  if (n < 0) {
    emoi_log(&c->log, EMO_LOG_WARN, "gallery: %s: face detection failed (%s): skipped", path,
             err.msg);
    img_rgb_free(&img);
    return EMO_OK;
  }
  if (n != 1) {
    emoi_log(&c->log, EMO_LOG_WARN,
             n == 0 ? "gallery: %s: no face found: skipped (a gallery photo shows one person)"
                    : "gallery: %s: %d faces: skipped (a gallery photo shows one person)",
             path, n);
    img_rgb_free(&img);
    return EMO_OK;
  }
  const bf_detection *d = &c->dets[0];
  fem_reject why = fem_quality(img.data, img.width, img.height, img.width * 3, d, NULL);
  if (why != FEM_OK) {
    static const char *what[] = {"", "too small (under 56 pixels)",
                                 "turned too far from the camera", "blurred"};
    emoi_log(&c->log, EMO_LOG_WARN, "gallery: %s: the face is %s for a descriptor: skipped", path,
             what[why]);
    img_rgb_free(&img);
    return EMO_OK;
  }
  if ((rc = grow(g)) != EMO_OK) {
    img_rgb_free(&img);
    return rc;
  }
  rc = fem_embed(c->plans[EMOI_NET_EMBED], c->model->graphs[EMOI_NET_EMBED], img.data, img.width,
                 img.height, img.width * 3, d, g->emb[g->n], &err);
  img_rgb_free(&img);
  if (rc != EMO_OK) return rc;
  g->person[g->n] = person_index(g, name);
  g->n++;
  emoi_log(&c->log, EMO_LOG_INFO, "gallery: %s: %s", path, name);
  return EMO_OK;
}

/* The person record (type "person") that lists track id, as "P<n>", or NULL. */
static const char *person_of_track(cJSON *const *persons, int n_persons, int id) {
  for (int i = 0; i < n_persons; i++) {
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(persons[i], "track_ids");
    const cJSON *who = cJSON_GetObjectItemCaseSensitive(persons[i], "person");
    const cJSON *x;
    if (!cJSON_IsString(who) || !cJSON_IsArray(ids)) continue;
    cJSON_ArrayForEach(x,
                       ids) if (cJSON_IsNumber(x) && x->valuedouble == id) return who->valuestring;
  }
  return NULL;
}

/* One summary track record with an embedding into g, named as the file comment says; a track
 * without one (or with a malformed one) is skipped, counted in *skipped. */
static int add_track(emo_gallery *g, const cJSON *tr, cJSON *const *persons, int n_persons,
                     const char *stem, int *skipped) {
  const cJSON *emb = cJSON_GetObjectItemCaseSensitive(tr, "embedding");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(tr, "track_id");
  const cJSON *ident = cJSON_GetObjectItemCaseSensitive(tr, "identity");
  const cJSON *gname = cJSON_GetObjectItemCaseSensitive(tr, "gallery");
  if (!emb) return EMO_OK; /* no descriptor: nothing to match against */
  if (!cJSON_IsArray(emb) || cJSON_GetArraySize(emb) != FEM_DIM || !cJSON_IsNumber(id) ||
      !(fabs(id->valuedouble) < 1e9)) {
    (*skipped)++;
    return EMO_OK;
  }
  int rc = grow(g);
  if (rc != EMO_OK) return rc;
  float *e = g->emb[g->n];
  double ss = 0.0;
  int k = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, emb) {
    double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    if (!isfinite(v) || fabs(v) > 1e6) break;
    e[k++] = (float)v;
    ss += v * v;
  }
  if (k != FEM_DIM || !(ss > 0.0) || !isfinite(ss)) {
    (*skipped)++;
    return EMO_OK;
  }
  for (k = 0; k < FEM_DIM; k++) e[k] = (float)(e[k] / sqrt(ss));
  int who = cJSON_IsNumber(ident) && fabs(ident->valuedouble) < 1e9 ? (int)ident->valuedouble
                                                                    : (int)id->valuedouble;
  char name[GAL_NAME], raw[GAL_NAME + 32];
  const char *person = person_of_track(persons, n_persons, (int)id->valuedouble);
  if (cJSON_IsString(gname) && strcmp(gname->valuestring, "unknown") != 0)
    snprintf(raw, sizeof raw, "%s", gname->valuestring);
  else if (person)
    snprintf(raw, sizeof raw, "%s:%s", stem, person);
  else
    snprintf(raw, sizeof raw, "%s:%d", stem, who);
  int n = 0;
  for (; raw[n] && n < GAL_NAME - 1; n++)
    name[n] = (raw[n] > 32 && raw[n] < 127 && raw[n] != '"' && raw[n] != '\\') ? raw[n] : '_';
  name[n] = 0;
  g->person[g->n] = person_index(g, name);
  g->n++;
  return EMO_OK;
}

int emoi_gallery_add_jsonl(emo_gallery *g, const char *text, size_t size, const char *stem,
                           int *skipped, emoi_err *err) {
  *skipped = 0;
  cJSON **persons = NULL, **summaries = NULL;
  int n_persons = 0, n_summaries = 0, cap_p = 0, cap_s = 0, rc = EMO_OK;
  for (size_t at = 0; at < size && rc == EMO_OK;) { /* the person and summary records */
    const char *line = text + at;
    const char *nl = memchr(line, '\n', size - at);
    size_t len = nl ? (size_t)(nl - line) : size - at;
    at += len + 1;
    if (len < 2 || line[0] != '{') continue;
    cJSON *o = cJSON_ParseWithLength(line, len);
    const cJSON *ty = o ? cJSON_GetObjectItemCaseSensitive(o, "type") : NULL;
    int is_p = cJSON_IsString(ty) && strcmp(ty->valuestring, "person") == 0;
    int is_s = cJSON_IsString(ty) && strcmp(ty->valuestring, "summary") == 0;
    if (!is_p && !is_s) {
      cJSON_Delete(o);
      continue;
    }
    cJSON ***v = is_p ? &persons : &summaries;
    int *n = is_p ? &n_persons : &n_summaries, *cap = is_p ? &cap_p : &cap_s;
    if (*n == *cap) {
      int nc = *cap ? 2 * *cap : 8;
      cJSON **nv = realloc(*v, (size_t)nc * sizeof *nv);
      if (!nv) {
        cJSON_Delete(o);
        rc = emoi_fail(err, EMO_ENOMEM, "gallery: out of memory");
        break;
      }
      *v = nv;
      *cap = nc;
    }
    (*v)[(*n)++] = o;
  }
  for (int i = 0; i < n_summaries && rc == EMO_OK; i++) {
    const cJSON *tracks = cJSON_GetObjectItemCaseSensitive(summaries[i], "tracks"), *tr;
    if (!cJSON_IsArray(tracks)) continue;
    cJSON_ArrayForEach(tr, tracks) {
      if (g->n >= GAL_MAX_PHOTOS || rc != EMO_OK) break;
      if (cJSON_IsObject(tr)) rc = add_track(g, tr, persons, n_persons, stem, skipped);
    }
  }
  if (rc == EMO_ENOMEM) emoi_fail(err, rc, "gallery: out of memory");
  for (int i = 0; i < n_persons; i++) cJSON_Delete(persons[i]);
  for (int i = 0; i < n_summaries; i++) cJSON_Delete(summaries[i]);
  free(persons);
  free(summaries);
  return rc;
}

/* A gallery from an earlier run's JSON Lines at path (see the file comment). */
static int load_jsonl(emo_context *c, const char *path, emo_gallery *g, emoi_err *err) {
  unsigned char *data = NULL;
  size_t size = 0;
  int rc = emoi_file_read(path, c->run.max_file_bytes, 0, &data, &size, err);
  if (rc != EMO_OK) return rc;
  const char *base = strrchr(path, '/');
  char stem[GAL_NAME];
  name_of(base ? base + 1 : path, stem);
  int skipped = 0;
  rc = emoi_gallery_add_jsonl(g, (const char *)data, size, stem, &skipped, err);
  free(data);
  if (skipped)
    emoi_log(&c->log, EMO_LOG_WARN,
             "gallery: %s: %d track records with a malformed embedding: skipped", path, skipped);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* The sorted names of dir's entries (malloc'd; *n of them, at most GAL_MAX_PHOTOS), or NULL
 * with *n = -1 when it cannot be opened or memory ran out (never a partial list). */
static char **list_dir(const char *dir, int *n) {
  *n = -1;
  DIR *dp = opendir(dir);
  if (!dp) return NULL;
  char **v = NULL;
  int cnt = 0, cap = 0, ok = 1;
  struct dirent *e;
  while (ok && (e = readdir(dp)) != NULL && cnt < GAL_MAX_PHOTOS) {
    if (e->d_name[0] == '.') continue;
    if (cnt == cap) {
      cap = cap ? 2 * cap : 32;
      char **nv = realloc(v, (size_t)cap * sizeof *nv);
      if (!(ok = nv != NULL)) break;
      v = nv;
    }
    if ((v[cnt] = strdup(e->d_name)))
      cnt++;
    else
      ok = 0;
  }
  closedir(dp);
  if (!ok) {
    free_list(v, cnt);
    return NULL;
  }
  if (cnt) qsort(v, (size_t)cnt, sizeof *v, cmp_str);
  *n = cnt;
  return v;
}

/* A person's name from a file or folder name: up to the first '.', printable, <= 63 bytes. */
static void name_of(const char *entry, char *out) {
  int k = 0;
  for (; entry[k] && entry[k] != '.' && k < GAL_NAME - 1; k++)
    out[k] =
        (entry[k] > 32 && entry[k] < 127 && entry[k] != '"' && entry[k] != '\\') ? entry[k] : '_';
  out[k] = 0;
}

int emo_gallery_load(emo_context *c, const char *dir, emo_gallery **out) {
  if (!c || !dir || !out) return EMO_EINVAL;
  *out = NULL;
  emoi_err err = {{0}};
  int rc = emoi_run_begin(c, NULL);
  if (rc == EMO_OK) rc = emoi_run_needs_faces(c);
  if (rc != EMO_OK) return rc;
  if (!c->plans[EMOI_NET_EMBED]) {
    emoi_fail(&err, EMO_EINVAL,
              "gallery: the model was loaded without the face-embedding "
              "network (emo_model_params.reid = 1)");
    return emoi_ctx_fail(c, EMO_EINVAL, &err);
  }
  struct stat st0;
  if (stat(dir, &st0) == 0 && S_ISREG(st0.st_mode)) { /* an earlier run's JSON Lines */
    emo_gallery *g = calloc(1, sizeof *g);
    if (!g) return emoi_ctx_fail(c, EMO_ENOMEM, &err);
    rc = load_jsonl(c, dir, g, &err);
    if (rc == EMO_OK && g->n == 0)
      rc = emoi_fail(&err, EMO_EINVAL,
                     "gallery: %.300s: no track with an \"embedding\" in its summary (an emo "
                     "video run's JSON Lines, or a folder of photos)",
                     dir);
    if (rc != EMO_OK) {
      emo_gallery_destroy(&g);
      return emoi_ctx_fail(c, rc, &err);
    }
    emoi_log(&c->log, EMO_LOG_INFO, "gallery: %d tracks of %d people from %s", g->n, g->n_persons,
             dir);
    *out = g;
    return EMO_OK;
  }
  int n = 0;
  char **ents = list_dir(dir, &n);
  if (n < 0) {
    emoi_fail(&err, EMO_EIO, "gallery: %.300s: cannot open the folder", dir);
    return emoi_ctx_fail(c, EMO_EIO, &err);
  }
  emo_gallery *g = calloc(1, sizeof *g);
  if (!g) {
    free_list(ents, n);
    return emoi_ctx_fail(c, EMO_ENOMEM, &err);
  }
  char path[4096], sub[4096], name[GAL_NAME];
  for (int i = 0; i < n && rc == EMO_OK && g->n < GAL_MAX_PHOTOS; i++) {
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, ents[i]) >= (int)sizeof path ||
        stat(path, &st) != 0)
      continue;
    name_of(ents[i], name);
    if (S_ISREG(st.st_mode) && is_image(ents[i])) {
      rc = add_photo(c, g, path, name);
    } else if (S_ISDIR(st.st_mode)) { /* DIR/NAME/photo.jpg: every photo is NAME */
      int m = 0;
      char **inner = list_dir(path, &m);
      if (m < 0) rc = emoi_fail(&err, EMO_EIO, "gallery: %.300s: cannot read the folder", path);
      for (int j = 0; j < m && rc == EMO_OK && g->n < GAL_MAX_PHOTOS; j++) {
        if (snprintf(sub, sizeof sub, "%s/%s", path, inner[j]) < (int)sizeof sub &&
            stat(sub, &st) == 0 && S_ISREG(st.st_mode) && is_image(inner[j]))
          rc = add_photo(c, g, sub, name);
      }
      free_list(inner, m > 0 ? m : 0);
    }
  }
  free_list(ents, n);
  if (rc == EMO_OK && g->n == 0)
    rc = emoi_fail(&err, EMO_EINVAL,
                   "gallery: %.300s: no usable photo (one face per photo: "
                   "NAME.jpg, or NAME/ folders of photos)",
                   dir);
  if (rc != EMO_OK) {
    emo_gallery_destroy(&g);
    if (!err.msg[0]) emoi_fail(&err, rc, "gallery: %.300s: failed", dir);
    return emoi_ctx_fail(c, rc, &err);
  }
  emoi_log(&c->log, EMO_LOG_INFO, "gallery: %d photos of %d people", g->n, g->n_persons);
  *out = g;
  return EMO_OK;
}

int emoi_gallery_match(const emo_gallery *g, const float *emb, float threshold, int *also) {
  *also = -1;
  if (!g || !g->n) return -1;
  float best[2] = {-2.0f, -2.0f};
  int who[2] = {-1, -1};
  float per[GAL_MAX_PHOTOS]; /* best similarity per person (n_persons <= photos) */
  for (int p = 0; p < g->n_persons; p++) per[p] = -2.0f;
  for (int i = 0; i < g->n; i++) {
    float s = fem_similarity(emb, g->emb[i]);
    if (s > per[g->person[i]]) per[g->person[i]] = s;
  }
  for (int p = 0; p < g->n_persons; p++) {
    if (per[p] > best[0]) {
      best[1] = best[0], who[1] = who[0];
      best[0] = per[p], who[0] = p;
    } else if (per[p] > best[1]) {
      best[1] = per[p], who[1] = p;
    }
  }
  if (best[0] < threshold) return -1;
  if (who[1] >= 0 && best[1] >= threshold && best[0] - best[1] < GAL_AMBIG) *also = who[1];
  return who[0];
}
