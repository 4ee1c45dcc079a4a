/* batch_manifest.c: what `emo batch` works through. Reads the three manifest forms (a folder
 * walked recursively, a file list, a CSV with per-file options; docs/batch.md shows each), gives
 * each input a stable id, keeps the probe cache every shard plans from, and splits the items
 * into shards balanced by media duration. Every reader of outside bytes here is bounds-checked
 * (caps in batch.h), refuses malformed input with a message naming the line, and is fuzzed
 * (fuzz/fuzz_batch.c). Probing and running are batch.c's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "outfile.h"

static int failf(char *err, size_t errn, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int failf(char *err, size_t errn, const char *fmt, ...) {
  if (err && errn) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errn, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void batch_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char md[32];
  unsigned int len = 0;
  if (!EVP_Digest(data, n, md, &len, EVP_sha256(), NULL)) memset(md, 0, sizeof md);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void batch_id_from_path(const char *rel, char out[BATCH_MAX_ID + 1]) {
  char hex[65];
  batch_sha256_hex(rel, strlen(rel), hex);
  int k = 0;
  for (const unsigned char *p = (const unsigned char *)rel; *p && k < 80; p++) {
    int c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == '_';
    if (c == '/') ok = 0;
    if (k == 0 && (c == '.' || c == '/')) continue; /* "./a", "../a", "/abs" */
    out[k++] = ok ? (char)c : '_';
  }
  if (k == 0) out[k++] = 'x';
  snprintf(out + k, (size_t)(BATCH_MAX_ID + 1 - k), "-%.8s", hex);
}

char *batch_escape(const char *s) {
  size_t n = strlen(s);
  char *o = malloc(4 * n + 1);
  if (!o) return NULL;
  char *w = o;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x21 || *p > 0x7e || *p == '\\')
      w += sprintf(w, "\\x%02x", *p);
    else
      *w++ = (char)*p;
  }
  *w = 0;
  return o;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *batch_unescape(const char *s, size_t n) {
  char *o = malloc(n + 1);
  if (!o) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\') {
      if (s[i] == 0) goto bad;
      o[k++] = s[i];
      continue;
    }
    if (n - i < 4 || s[i + 1] != 'x') goto bad;
    int h = hexval((unsigned char)s[i + 2]), l = hexval((unsigned char)s[i + 3]);
    if (h < 0 || l < 0 || (h == 0 && l == 0)) goto bad;
    o[k++] = (char)(h * 16 + l);
    i += 3;
  }
  o[k] = 0;
  return o;
bad:
  free(o);
  return NULL;
}

char *batch_json_string(const char *s) {
  size_t n = strlen(s);
  char *o = malloc(6 * n + 3);
  if (!o) return NULL;
  char *w = o;
  *w++ = '"';
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int valid = len > 0 && i + (size_t)len <= n;
    for (int k = 1; valid && k < len; k++) valid = (p[i + k] & 0xc0) == 0x80;
    if (valid && len == 2 && c < 0xc2) valid = 0;                      /* overlong */
    if (valid && len == 3 && c == 0xe0 && p[i + 1] < 0xa0) valid = 0;  /* overlong */
    if (valid && len == 3 && c == 0xed && p[i + 1] >= 0xa0) valid = 0; /* surrogates */
    if (valid && len == 4 &&
        (c > 0xf4 || (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90)))
      valid = 0;
    if (!valid) {
      w += sprintf(w, "\\u%04x", c); /* a stray byte: its Latin-1 reading */
      i++;
      continue;
    }
    if (len > 1) {
      memcpy(w, p + i, (size_t)len);
      w += len;
      i += (size_t)len;
      continue;
    }
    if (c == '"' || c == '\\') {
      *w++ = '\\';
      *w++ = (char)c;
    } else if (c == '\n') {
      w += sprintf(w, "\\n");
    } else if (c < 0x20 || c == 0x7f) {
      w += sprintf(w, "\\u%04x", c);
    } else {
      *w++ = (char)c;
    }
    i++;
  }
  *w++ = '"';
  *w = 0;
  return o;
}

void batch_manifest_free(batch_manifest *m) {
  for (int i = 0; i < m->n; i++) {
    free(m->items[i].id);
    free(m->items[i].path);
    free(m->items[i].args);
    free(m->items[i].probe_error);
  }
  free(m->items);
  memset(m, 0, sizeof *m);
}

/* Appends an item (strings copied); 0 or -1. */
static int add_item(batch_manifest *m, const char *id, const char *path, const char *args, int kind,
                    char *err, size_t errn) {
  if (m->n >= BATCH_MAX_ITEMS) return failf(err, errn, "more than %d inputs", BATCH_MAX_ITEMS);
  if (m->n == m->cap) {
    int cap = m->cap ? 2 * m->cap : 64;
    batch_item *t = realloc(m->items, (size_t)cap * sizeof *t);
    if (!t) return failf(err, errn, "out of memory");
    m->items = t;
    m->cap = cap;
  }
  batch_item *it = &m->items[m->n];
  memset(it, 0, sizeof *it);
  it->id = strdup(id);
  it->path = strdup(path);
  it->args = strdup(args ? args : "");
  it->kind = kind;
  it->forced = kind != BATCH_UNKNOWN;
  if (!it->id || !it->path || !it->args) {
    free(it->id);
    free(it->path);
    free(it->args);
    return failf(err, errn, "out of memory");
  }
  m->n++;
  return 0;
}

/* base/rel, or rel when absolute or base is empty. */
static int join(const char *base, const char *rel, char *out, size_t n) {
  int k = (rel[0] == '/' || !base[0]) ? snprintf(out, n, "%s", rel)
                                      : snprintf(out, n, "%s/%s", base, rel);
  return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* An input path from a manifest: rel (as written) becomes an item with an id from rel. */
static int add_path(batch_manifest *m, const char *base, const char *rel, const char *id,
                    const char *args, int kind, const char *where, char *err, size_t errn) {
  char path[BATCH_MAX_PATH];
  if (!rel[0]) return failf(err, errn, "%s: empty path", where);
  if (strlen(rel) >= BATCH_MAX_PATH || join(base, rel, path, sizeof path))
    return failf(err, errn, "%s: path longer than %d bytes", where, BATCH_MAX_PATH);
  char gen[BATCH_MAX_ID + 1];
  if (!id || !id[0]) {
    batch_id_from_path(rel, gen);
    id = gen;
  }
  return add_item(m, id, path, args, kind, err, errn);
}

int batch_manifest_parse_list(const char *buf, size_t n, const char *base, batch_manifest *m,
                              char *err, size_t errn) {
  const int nul = memchr(buf, 0, n) != NULL; /* `find -print0` lists: any byte but NUL */
  const char sep = nul ? 0 : '\n';
  size_t line = 0;
  for (size_t i = 0; i < n;) {
    const char *s = buf + i;
    const char *e = memchr(s, sep, n - i);
    size_t len = e ? (size_t)(e - s) : n - i;
    i += len + (e ? 1 : 0);
    line++;
    if (!nul && len && s[len - 1] == '\r') len--;
    if (len == 0 || (!nul && s[0] == '#')) continue;
    if (len >= BATCH_MAX_PATH)
      return failf(err, errn, "line %zu: path longer than %d bytes", line, BATCH_MAX_PATH);
    char rel[BATCH_MAX_PATH];
    memcpy(rel, s, len);
    rel[len] = 0;
    if (!nul && memchr(rel, 0, len))
      return failf(err, errn, "line %zu: a NUL byte inside a path", line);
    char where[48];
    snprintf(where, sizeof where, "line %zu", line);
    if (add_path(m, base, rel, NULL, "", BATCH_UNKNOWN, where, err, errn)) return -1;
  }
  return 0;
}

/* ---- CSV (RFC 4180: quoted fields may hold commas, quotes as "", and newlines) ---- */

typedef struct csv_reader {
  const char *p, *end;
  size_t line;
} csv_reader;

/* Reads one field into out (cap bytes); *last = 1 at the end of a record. 0, or -1. */
static int csv_field(csv_reader *r, char *out, size_t cap, int *last, char *err, size_t errn) {
  size_t k = 0;
  *last = 0;
  if (r->p < r->end && *r->p == '"') {
    r->p++;
    for (;;) {
      if (r->p >= r->end) return failf(err, errn, "line %zu: unterminated quoted field", r->line);
      char c = *r->p++;
      if (c == '"') {
        if (r->p < r->end && *r->p == '"') {
          r->p++;
        } else {
          break;
        }
      }
      if (c == '\n') r->line++;
      if (c == 0) return failf(err, errn, "line %zu: a NUL byte in a field", r->line);
      if (k + 1 >= cap) return failf(err, errn, "line %zu: field too long", r->line);
      out[k++] = c;
    }
  } else {
    while (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
      if (*r->p == '"') return failf(err, errn, "line %zu: a quote inside a field", r->line);
      if (*r->p == 0) return failf(err, errn, "line %zu: a NUL byte in a field", r->line);
      if (k + 1 >= cap) return failf(err, errn, "line %zu: field too long", r->line);
      out[k++] = *r->p++;
    }
  }
  out[k] = 0;
  if (r->p >= r->end) {
    *last = 1;
  } else if (*r->p == ',') {
    r->p++;
  } else if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n') {
    r->p += 2;
    *last = 1;
    r->line++;
  } else if (*r->p == '\n') {
    r->p++;
    *last = 1;
    r->line++;
  } else {
    return failf(err, errn, "line %zu: unexpected character after a field", r->line);
  }
  return 0;
}

/* CSV columns that set a per-file option: the column name (with '_' for '-'), whether the
 * option takes a value. Options that would change where outputs go are not among them. */
static const struct {
  const char *name;
  int value;
} g_csv_options[] = {
    {"detector", 1},        {"expression", 1},     {"threshold", 1},
    {"max_faces", 1},       {"max_pixels", 1},     {"fps", 1},
    {"detect_every", 1},    {"vad_threshold", 1},  {"vad_pad", 1},
    {"vad_min_silence", 1}, {"vad_min_speech", 1}, {"whole", 0},
    {"no_voice", 0},        {"no_reid", 0},        {"float_expression", 0},
};
enum { N_CSV_OPTIONS = sizeof g_csv_options / sizeof g_csv_options[0], MAX_COLS = 32 };

static int valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > BATCH_MAX_ID || s[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == '_'))
      return 0;
  }
  return 1;
}

/* Appends "--name" (and the escaped value) to args; 0 or -1. */
static int add_arg(char *args, size_t cap, const char *name, const char *value) {
  size_t k = strlen(args);
  char opt[64];
  snprintf(opt, sizeof opt, "--%s", name);
  for (char *c = opt; *c; c++)
    if (*c == '_') *c = '-';
  char *v = value ? batch_escape(value) : NULL;
  if (value && !v) return -1;
  int w = snprintf(args + k, cap - k, "%s%s%s%s", k ? " " : "", opt, v ? " " : "", v ? v : "");
  free(v);
  return w < 0 || (size_t)w >= cap - k ? -1 : 0;
}

int batch_manifest_parse_csv(const char *buf, size_t n, const char *base, batch_manifest *m,
                             char *err, size_t errn) {
  csv_reader r = {buf, buf + n, 1};
  /* A UTF-8 byte-order mark is what spreadsheets write first. */
  if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) r.p += 3;
  static char cols[MAX_COLS][64];
  int ncol = 0, last = 0, c_path = -1, c_id = -1, c_kind = -1, opt_of[MAX_COLS];
  do {
    if (ncol == MAX_COLS) return failf(err, errn, "line 1: more than %d columns", MAX_COLS);
    if (csv_field(&r, cols[ncol], sizeof cols[ncol], &last, err, errn)) return -1;
    const char *c = cols[ncol];
    opt_of[ncol] = -1;
    for (int j = 0; j < ncol; j++)
      if (strcmp(cols[j], c) == 0) return failf(err, errn, "line 1: column \"%s\" twice", c);
    if (strcmp(c, "path") == 0) {
      c_path = ncol;
    } else if (strcmp(c, "id") == 0) {
      c_id = ncol;
    } else if (strcmp(c, "kind") == 0) {
      c_kind = ncol;
    } else {
      for (int j = 0; j < N_CSV_OPTIONS; j++)
        if (strcmp(c, g_csv_options[j].name) == 0) opt_of[ncol] = j;
      if (opt_of[ncol] < 0)
        return failf(err, errn,
                     "line 1: unknown column \"%s\" (path, id, kind, or an analysis option such "
                     "as fps, detect_every, whole: docs/batch.md)",
                     c);
    }
    ncol++;
  } while (!last);
  if (c_path < 0) return failf(err, errn, "line 1: no \"path\" column");
  char *field = malloc(BATCH_MAX_PATH);
  char *path = malloc(BATCH_MAX_PATH);
  if (!field || !path) {
    free(field);
    free(path);
    return failf(err, errn, "out of memory");
  }
  int rc = 0;
  while (r.p < r.end && rc == 0) {
    const size_t line = r.line;
    char id[BATCH_MAX_ID + 2] = "", args[BATCH_MAX_ARGS] = "";
    int kind = BATCH_UNKNOWN, col = 0, blank = 1;
    path[0] = 0;
    do {
      if (csv_field(&r, field, BATCH_MAX_PATH, &last, err, errn)) {
        rc = -1;
        break;
      }
      if (field[0]) blank = 0;
      if (col >= ncol) {
        rc = failf(err, errn, "line %zu: more fields than the header's %d", line, ncol);
        break;
      }
      if (col == c_path) {
        snprintf(path, BATCH_MAX_PATH, "%s", field);
      } else if (col == c_id) {
        if (field[0] && !valid_id(field)) {
          rc = failf(err, errn,
                     "line %zu: id \"%.40s\" must be 1-%d characters of A-Z a-z 0-9 . _ - "
                     "(not starting with .)",
                     line, field, BATCH_MAX_ID);
          break;
        }
        snprintf(id, sizeof id, "%s", field);
      } else if (col == c_kind) {
        if (strcmp(field, "video") == 0)
          kind = BATCH_VIDEO;
        else if (strcmp(field, "audio") == 0)
          kind = BATCH_AUDIO;
        else if (field[0]) {
          rc = failf(err, errn, "line %zu: kind must be video or audio", line);
          break;
        }
      } else if (field[0]) {
        const int j = opt_of[col];
        int on = 1;
        if (!g_csv_options[j].value) {
          if (!strcmp(field, "0") || !strcmp(field, "false") || !strcmp(field, "no"))
            on = 0;
          else if (strcmp(field, "1") && strcmp(field, "true") && strcmp(field, "yes")) {
            rc =
                failf(err, errn, "line %zu: %s must be 1/0, true/false or yes/no", line, cols[col]);
            break;
          }
        }
        if (on && add_arg(args, sizeof args, g_csv_options[j].name,
                          g_csv_options[j].value ? field : NULL)) {
          rc = failf(err, errn, "line %zu: options longer than %d bytes", line, BATCH_MAX_ARGS);
          break;
        }
      }
      col++;
    } while (!last);
    if (rc || (blank && col <= 1)) continue; /* an empty line */
    if (!path[0]) {
      rc = failf(err, errn, "line %zu: empty path", line);
      break;
    }
    char where[48];
    snprintf(where, sizeof where, "line %zu", line);
    rc = add_path(m, base, path, id, args, kind, where, err, errn);
  }
  free(field);
  free(path);
  return rc;
}

/* ---- a folder, walked recursively ---- */

static int is_media_name(const char *name) {
  static const char *const ext[] = {"mp4",  "mov", "mkv",  "avi", "webm", "mpg", "mpeg",
                                    "m4v",  "wmv", "flv",  "ts",  "mts",  "3gp", "wav",
                                    "flac", "mp3", "m4a",  "aac", "ogg",  "oga", "opus",
                                    "wma",  "aif", "aiff", "mxf", "vob",  "ogv", NULL};
  const char *dot = strrchr(name, '.');
  if (!dot) return 0;
  for (int i = 0; ext[i]; i++)
    if (strcasecmp(dot + 1, ext[i]) == 0) return 1;
  return 0;
}

typedef struct name_list {
  char **v;
  int n, cap;
} name_list;

static int name_push(name_list *l, const char *s) {
  if (l->n >= BATCH_MAX_ITEMS) return -1;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    char **t = realloc(l->v, (size_t)cap * sizeof *t);
    if (!t) return -1;
    l->v = t;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(s))) return -1;
  l->n++;
  return 0;
}

/* Collects media files under root/rel (hidden entries skipped; symbolic links to folders not
 * followed, so a loop cannot be walked forever). */
static int walk(const char *root, const char *rel, int depth, name_list *out, char *err,
                size_t errn) {
  char dir[BATCH_MAX_PATH];
  if (join(root, rel, dir, sizeof dir)) return failf(err, errn, "%s: path too long", rel);
  if (depth > 64) return failf(err, errn, "%s: folders nested deeper than 64", dir);
  DIR *d = opendir(dir);
  if (!d) return failf(err, errn, "cannot read folder %s: %s", dir, strerror(errno));
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char sub[BATCH_MAX_PATH], full[BATCH_MAX_PATH];
    if (join(rel, e->d_name, sub, sizeof sub) || join(root, sub, full, sizeof full)) {
      rc = failf(err, errn, "%s/%s: path too long", dir, e->d_name);
      break;
    }
    struct stat st;
    if (lstat(full, &st) != 0) continue; /* vanished */
    if (S_ISDIR(st.st_mode)) {
      rc = walk(root, sub, depth + 1, out, err, errn);
    } else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && is_media_name(e->d_name)) {
      if (name_push(out, sub)) rc = failf(err, errn, "too many files or out of memory");
    }
  }
  closedir(d);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- finishing: duplicates, order, key ---- */

static int cmp_item(const void *a, const void *b) {
  return strcmp(((const batch_item *)a)->id, ((const batch_item *)b)->id);
}

int batch_manifest_finish(batch_manifest *m, char *err, size_t errn) {
  /* Duplicate inputs (the same path, or the same file by device and inode) are analysed once:
   * the first mention is kept. */
  struct stat *st = calloc((size_t)(m->n ? m->n : 1), sizeof *st);
  char *have = calloc((size_t)(m->n ? m->n : 1), 1);
  if (!st || !have) {
    free(st);
    free(have);
    return failf(err, errn, "out of memory");
  }
  int k = 0;
  for (int i = 0; i < m->n; i++) {
    batch_item *it = &m->items[i];
    have[k] = stat(it->path, &st[k]) == 0;
    int dup = -1;
    for (int j = 0; j < k && dup < 0; j++) {
      if (strcmp(m->items[j].path, it->path) == 0 ||
          (have[k] && have[j] && st[j].st_dev == st[k].st_dev && st[j].st_ino == st[k].st_ino))
        dup = j;
    }
    if (dup >= 0 && strcmp(m->items[dup].args, it->args) == 0) {
      char *a = batch_escape(it->path);
      fprintf(stderr, "emo batch: %s is listed twice: analysed once, as %s\n", a ? a : "?",
              m->items[dup].id);
      free(a);
    }
    if (dup >= 0 && strcmp(m->items[dup].args, it->args) == 0) {
      free(it->id);
      free(it->path);
      free(it->args);
      free(it->probe_error);
      continue;
    }
    m->items[k] = *it;
    k++;
  }
  m->n = k;
  free(st);
  free(have);
  if (m->n > 1) qsort(m->items, (size_t)m->n, sizeof *m->items, cmp_item);
  for (int i = 1; i < m->n; i++)
    if (strcmp(m->items[i - 1].id, m->items[i].id) == 0)
      return failf(err, errn, "id %s names two different inputs (or one with two option sets)",
                   m->items[i].id);
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  unsigned char md[32];
  unsigned int len = 0;
  if (!h || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
    EVP_MD_CTX_free(h);
    return failf(err, errn, "out of memory");
  }
  for (int i = 0; i < m->n; i++) {
    const batch_item *it = &m->items[i];
    char kind = (char)('0' + (it->forced ? it->kind : 0));
    EVP_DigestUpdate(h, it->id, strlen(it->id) + 1);
    EVP_DigestUpdate(h, it->path, strlen(it->path) + 1);
    EVP_DigestUpdate(h, it->args, strlen(it->args) + 1);
    EVP_DigestUpdate(h, &kind, 1);
  }
  EVP_DigestFinal_ex(h, md, &len);
  EVP_MD_CTX_free(h);
  for (int i = 0; i < 32; i++) snprintf(m->key + 2 * i, 3, "%02x", md[i]);
  return 0;
}

char *batch_read_file(const char *path, size_t cap, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t size = 0, alloc = 4096;
  char *buf = malloc(alloc + 1);
  while (buf) {
    if (size == alloc) {
      if (alloc >= cap) {
        free(buf);
        buf = NULL;
        errno = EFBIG;
        break;
      }
      alloc = alloc * 2 > cap ? cap : alloc * 2;
      char *t = realloc(buf, alloc + 1);
      if (!t) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = t;
    }
    size_t r = fread(buf + size, 1, alloc - size, f);
    size += r;
    if (r == 0) {
      if (ferror(f)) {
        free(buf);
        buf = NULL;
      }
      break;
    }
  }
  fclose(f);
  if (buf) {
    buf[size] = 0;
    if (n) *n = size;
  }
  return buf;
}

int batch_manifest_read(const char *source, batch_manifest *m, char *err, size_t errn) {
  memset(m, 0, sizeof *m);
  struct stat st;
  if (stat(source, &st) != 0)
    return failf(err, errn, "cannot read manifest %s: %s", source, strerror(errno));
  int rc;
  if (S_ISDIR(st.st_mode)) {
    char *root = realpath(source, NULL);
    if (!root) return failf(err, errn, "%s: %s", source, strerror(errno));
    name_list l = {0};
    rc = walk(root, "", 0, &l, err, errn);
    if (rc == 0 && l.n > 1) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    for (int i = 0; rc == 0 && i < l.n; i++)
      rc = add_path(m, root, l.v[i], NULL, "", BATCH_UNKNOWN, l.v[i], err, errn);
    for (int i = 0; i < l.n; i++) free(l.v[i]);
    free(l.v);
    free(root);
  } else {
    size_t n = 0;
    char *buf = batch_read_file(source, BATCH_MAX_MANIFEST_BYTES, &n);
    if (!buf)
      return failf(err, errn, "cannot read manifest %s: %s", source,
                   errno == EFBIG ? "larger than 256 MiB" : strerror(errno));
    /* Relative paths are taken from the manifest's folder. */
    char *real = realpath(source, NULL);
    char *slash = real ? strrchr(real, '/') : NULL;
    if (slash) *slash = 0;
    const char *base = real ? (real[0] ? real : "/") : "";
    size_t sl = strlen(source);
    const int csv = sl > 4 && strcasecmp(source + sl - 4, ".csv") == 0;
    char sub[400];
    rc = csv ? batch_manifest_parse_csv(buf, n, base, m, sub, sizeof sub)
             : batch_manifest_parse_list(buf, n, base, m, sub, sizeof sub);
    if (rc) failf(err, errn, "%s: %s", source, sub);
    free(real);
    free(buf);
  }
  if (rc == 0) rc = batch_manifest_finish(m, err, errn);
  if (rc) batch_manifest_free(m);
  return rc;
}

/* ---- the probe cache ---- */

#define CACHE_MAGIC "emo-batch-manifest 1 "
static const char *const g_kind_names[BATCH_KIND_COUNT] = {"unknown", "video", "audio"};

int batch_cache_write(const batch_manifest *m, const char *path) {
  outfile *o = outfile_open(path, NULL, 0);
  if (!o) return -1;
  char head[128];
  snprintf(head, sizeof head, "%s%s", CACHE_MAGIC, m->key);
  outfile_line(o, head);
  for (int i = 0; i < m->n && outfile_ok(o); i++) {
    const batch_item *it = &m->items[i];
    char *p = batch_escape(it->path), *a = batch_escape(it->args),
         *e = batch_escape(it->probe_error ? it->probe_error : "");
    char *line = NULL;
    if (p && a && e &&
        asprintf(&line, "%s\t%s\t%d\t%.6f\t%d\t%s\t%s\t%s", it->id, g_kind_names[it->kind],
                 it->forced, it->duration, it->probe_status, p, a, e) < 0)
      line = NULL;
    outfile_line(o, line); /* NULL: fails the output (out of memory) */
    free(line);
    free(p);
    free(a);
    free(e);
  }
  return outfile_commit(&o);
}

static int cache_parse(const char *buf, size_t n, batch_manifest *m, char *err, size_t errn);

int batch_cache_parse(const char *buf, size_t n, batch_manifest *m, char *err, size_t errn) {
  memset(m, 0, sizeof *m);
  if (cache_parse(buf, n, m, err, errn) == 0) return 0;
  batch_manifest_free(m);
  return -1;
}

static int cache_parse(const char *buf, size_t n, batch_manifest *m, char *err, size_t errn) {
  const size_t ml = strlen(CACHE_MAGIC);
  if (n < ml + 65 || memcmp(buf, CACHE_MAGIC, ml) != 0 || buf[ml + 64] != '\n')
    return failf(err, errn, "not an emo batch manifest cache (version 1)");
  memcpy(m->key, buf + ml, 64);
  m->key[64] = 0;
  for (int i = 0; i < 64; i++)
    if (hexval((unsigned char)m->key[i]) < 0) return failf(err, errn, "line 1: bad key");
  size_t line = 1;
  for (size_t i = ml + 65; i < n;) {
    const char *s = buf + i;
    const char *e = memchr(s, '\n', n - i);
    if (!e) return failf(err, errn, "line %zu: not terminated (a cut file)", line + 1);
    size_t len = (size_t)(e - s);
    i += len + 1;
    line++;
    const char *f[8];
    size_t fl[8];
    int nf = 0;
    for (size_t a = 0, start = 0; a <= len; a++) {
      if (a == len || s[a] == '\t') {
        if (nf == 8) return failf(err, errn, "line %zu: more than 8 fields", line);
        f[nf] = s + start;
        fl[nf++] = a - start;
        start = a + 1;
      }
    }
    if (nf != 8) return failf(err, errn, "line %zu: %d fields, not 8", line, nf);
    char id[BATCH_MAX_ID + 1], num[4][40];
    if (fl[0] > BATCH_MAX_ID) return failf(err, errn, "line %zu: bad id", line);
    memcpy(id, f[0], fl[0]);
    id[fl[0]] = 0;
    if (!valid_id(id)) return failf(err, errn, "line %zu: bad id", line);
    int kind = -1;
    for (int k = 0; k < BATCH_KIND_COUNT; k++)
      if (fl[1] == strlen(g_kind_names[k]) && memcmp(f[1], g_kind_names[k], fl[1]) == 0) kind = k;
    if (kind < 0) return failf(err, errn, "line %zu: bad kind", line);
    for (int k = 0; k < 3; k++) {
      if (fl[2 + k] == 0 || fl[2 + k] >= sizeof num[k])
        return failf(err, errn, "line %zu: bad number", line);
      memcpy(num[k], f[2 + k], fl[2 + k]);
      num[k][fl[2 + k]] = 0;
    }
    char *end;
    long forced = strtol(num[0], &end, 10);
    if (*end || (forced != 0 && forced != 1)) return failf(err, errn, "line %zu: bad flag", line);
    double dur = strtod(num[1], &end);
    if (*end || !(dur >= 0 && dur < 1e9)) return failf(err, errn, "line %zu: bad duration", line);
    long status = strtol(num[2], &end, 10);
    if (*end || status < -100 || status > 0) return failf(err, errn, "line %zu: bad status", line);
    if (fl[5] == 0 || fl[5] >= 4 * BATCH_MAX_PATH || fl[6] >= 4 * BATCH_MAX_ARGS || fl[7] >= 4096)
      return failf(err, errn, "line %zu: field too long", line);
    char *path = batch_unescape(f[5], fl[5]), *args = batch_unescape(f[6], fl[6]),
         *perr = batch_unescape(f[7], fl[7]);
    int rc = (!path || !args || !perr) ? failf(err, errn, "line %zu: bad escape", line)
             : strlen(path) >= BATCH_MAX_PATH || strlen(args) >= BATCH_MAX_ARGS
                 ? failf(err, errn, "line %zu: field too long", line)
                 : add_item(m, id, path, args, kind, err, errn);
    if (rc == 0) {
      batch_item *it = &m->items[m->n - 1];
      it->forced = (int)forced;
      it->duration = dur;
      it->probed = 1;
      it->probe_status = (int)status;
      if (perr[0]) {
        it->probe_error = perr;
        perr = NULL;
      }
      if (m->n > 1 && strcmp(m->items[m->n - 2].id, id) >= 0)
        rc = failf(err, errn, "line %zu: ids out of order", line);
    }
    free(path);
    free(args);
    free(perr);
    if (rc) return -1;
  }
  return 0;
}

/* ---- shards ---- */

static const batch_manifest *g_sort_m;
static int cmp_longest(const void *a, const void *b) {
  const batch_item *x = &g_sort_m->items[*(const int *)a], *y = &g_sort_m->items[*(const int *)b];
  if (x->duration != y->duration) return x->duration > y->duration ? -1 : 1;
  return strcmp(x->id, y->id);
}

void batch_shard_assign(const batch_manifest *m, int n, int *shard) {
  int *order = malloc((size_t)(m->n ? m->n : 1) * sizeof *order);
  double *load = calloc((size_t)n, sizeof *load);
  if (!order || !load) { /* round robin: still deterministic */
    for (int i = 0; i < m->n; i++) shard[i] = i % n;
    free(order);
    free(load);
    return;
  }
  for (int i = 0; i < m->n; i++) order[i] = i;
  g_sort_m = m;
  qsort(order, (size_t)m->n, sizeof *order, cmp_longest);
  for (int k = 0; k < m->n; k++) {
    int best = 0;
    for (int s = 1; s < n; s++)
      if (load[s] < load[best]) best = s;
    const double d = m->items[order[k]].duration;
    load[best] += d > 1 ? d : 1;
    shard[order[k]] = best;
  }
  free(order);
  free(load);
}
