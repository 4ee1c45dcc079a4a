/* batch_merge.c: `emo batch merge OUT`: the archive's results as tables, for R, pandas or a
 * spreadsheet. Every done file's emo.jsonl (in id order) is flattened into one CSV per record
 * type under OUT/merged/: frames.csv, events.csv, segments.csv, summaries.csv, and one per
 * array of objects inside a record (faces.csv from a frame's "faces", tracks.csv,
 * speakers.csv, no_face_spans.csv from a summary), plus files.csv (one row per input: its
 * state and figures) and archive.json (the totals).
 *
 * Flattening: the first column is the file's id; nested objects become dotted columns
 * (emotion.happy, prosody.f0_mean); arrays of numbers stay JSON text in one cell (box); a row
 * of a child table repeats its parent's top-level scalars, prefixed (frame.t, frame.frame), so
 * each table stands alone. Columns are the union over the archive in order of first
 * appearance; a record without a column leaves the cell empty. Numbers are written in the
 * shortest form that reads back as the same double. Nothing here depends on how the archive
 * was sharded or how long it took, so a sharded run merges to the same bytes as a single one
 * (the figures of wall time are `emo batch status`'s). Each line is parsed with cJSON (at most
 * BATCH_MAX_RECORD_BYTES); a line that does not parse is reported and skipped. Two passes
 * (columns, then rows) keep memory bounded whatever the archive's size. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "outfile.h"

#define MAX_TABLES 24
#define MAX_COLUMNS 512

typedef struct table {
  char name[40];
  char *cols[MAX_COLUMNS];
  int ncol;
  int64_t rows;
  outfile *out;
  /* The row being built: a value (malloc'ed) per column. */
  char *cell[MAX_COLUMNS];
} table;

struct merge_tables {
  table t[MAX_TABLES];
  int n;
  int writing; /* pass 2: rows go to the files */
  int64_t skipped_lines;
};

merge_tables *merge_tables_new(void) {
  return calloc(1, sizeof(merge_tables));
}

void merge_tables_free(merge_tables **pt) {
  if (!pt || !*pt) return;
  merge_tables *m = *pt;
  for (int i = 0; i < m->n; i++) {
    for (int c = 0; c < m->t[i].ncol; c++) {
      free(m->t[i].cols[c]);
      free(m->t[i].cell[c]);
    }
    outfile_abort(&m->t[i].out);
  }
  free(m);
  *pt = NULL;
}

static table *table_get(merge_tables *m, const char *name) {
  for (int i = 0; i < m->n; i++)
    if (strcmp(m->t[i].name, name) == 0) return &m->t[i];
  if (m->writing || m->n == MAX_TABLES) return NULL;
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof m->t[0].name) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
          name[i] == '_'))
      return NULL;
  table *t = &m->t[m->n++];
  snprintf(t->name, sizeof t->name, "%s", name);
  return t;
}

/* Sets column col of t's current row to v (taken over). */
static void set_cell(merge_tables *m, table *t, const char *col, char *v) {
  int c = 0;
  while (c < t->ncol && strcmp(t->cols[c], col) != 0) c++;
  if (c == t->ncol) {
    if (m->writing || t->ncol == MAX_COLUMNS || !(t->cols[c] = strdup(col))) {
      free(v);
      return;
    }
    t->ncol++;
  }
  free(t->cell[c]);
  t->cell[c] = v;
}

/* The shortest decimal that reads back as d. */
static char *number_text(double d) {
  char buf[40];
  const double a = d < 0 ? -d : d;
  const int plain = a == 0 || (a >= 1e-4 && a < 1e15); /* written without an exponent */
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*g", p, d);
    if (strtod(buf, NULL) == d && (!plain || !strchr(buf, 'e'))) break;
  }
  return strdup(buf);
}

static char *scalar_text(const cJSON *v) {
  if (cJSON_IsString(v)) return strdup(v->valuestring ? v->valuestring : "");
  if (cJSON_IsNumber(v)) return number_text(v->valuedouble);
  if (cJSON_IsTrue(v)) return strdup("true");
  if (cJSON_IsFalse(v)) return strdup("false");
  if (cJSON_IsNull(v)) return strdup("");
  return cJSON_PrintUnformatted(v); /* an array of scalars: JSON text */
}

static int is_object_array(const cJSON *v) {
  return cJSON_IsArray(v) && v->child && cJSON_IsObject(v->child);
}

/* Flattens object o into t's current row, column names prefixed. Arrays of objects are left
 * to the caller. */
static void flatten(merge_tables *m, table *t, const cJSON *o, const char *prefix, int depth) {
  for (const cJSON *v = o->child; v; v = v->next) {
    if (!v->string || (depth == 0 && !prefix[0] && strcmp(v->string, "type") == 0)) continue;
    char col[256];
    int w = snprintf(col, sizeof col, "%s%s%s", prefix, prefix[0] ? "." : "", v->string);
    if (w < 0 || (size_t)w >= sizeof col) continue; /* a name past 255 bytes: not a column */
    if (cJSON_IsObject(v)) {
      if (depth < 4) flatten(m, t, v, col, depth + 1);
    } else if (cJSON_IsArray(v) && !v->child) {
      continue; /* an empty array: no cell (a list of objects elsewhere is a table) */
    } else if (!is_object_array(v)) {
      set_cell(m, t, col, scalar_text(v));
    }
  }
}

static int csv_needs_quotes(const char *s) {
  for (; *s; s++)
    if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r') return 1;
  return 0;
}

/* Ends t's current row: counted in pass 1, written in pass 2. */
static void end_row(merge_tables *m, table *t) {
  t->rows++;
  if (m->writing && t->out) {
    size_t cap = 64, k = 0;
    for (int c = 0; c < t->ncol; c++) cap += 2 * (t->cell[c] ? strlen(t->cell[c]) : 0) + 3;
    char *line = malloc(cap);
    for (int c = 0; line && c < t->ncol; c++) {
      if (c) line[k++] = ',';
      const char *s = t->cell[c] ? t->cell[c] : "";
      if (csv_needs_quotes(s)) {
        line[k++] = '"';
        for (; *s; s++) {
          if (*s == '"') line[k++] = '"';
          line[k++] = *s;
        }
        line[k++] = '"';
      } else {
        size_t n = strlen(s);
        memcpy(line + k, s, n);
        k += n;
      }
    }
    if (line) line[k] = 0;
    outfile_line(t->out, line);
    free(line);
  }
  for (int c = 0; c < t->ncol; c++) {
    free(t->cell[c]);
    t->cell[c] = NULL;
  }
}

static void plural(const char *type, char *out, size_t n) {
  size_t l = strlen(type);
  if (l > 0 && type[l - 1] == 'y')
    snprintf(out, n, "%.*sies", (int)(l - 1), type);
  else
    snprintf(out, n, "%ss", type);
}

int merge_tables_add_line(merge_tables *m, const char *item_id, const char *line, size_t n) {
  if (n > BATCH_MAX_RECORD_BYTES) return -1;
  cJSON *j = cJSON_ParseWithLength(line, n);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return -1;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
  const char *tn = cJSON_IsString(type) && type->valuestring ? type->valuestring : "record";
  char name[48];
  plural(tn, name, sizeof name);
  table *t = table_get(m, name);
  if (!t) {
    cJSON_Delete(j);
    return -1;
  }
  set_cell(m, t, "id", strdup(item_id));
  flatten(m, t, j, "", 0);
  end_row(m, t);
  /* Each array of objects: rows of its own table with the parent's top-level scalars. */
  for (const cJSON *v = j->child; v; v = v->next) {
    if (!v->string || !is_object_array(v)) continue;
    table *c = table_get(m, v->string);
    if (!c) continue;
    for (const cJSON *e = v->child; e; e = e->next) {
      if (!cJSON_IsObject(e)) continue;
      set_cell(m, c, "id", strdup(item_id));
      for (const cJSON *p = j->child; p; p = p->next) {
        if (!p->string || strcmp(p->string, "type") == 0 || cJSON_IsObject(p) || cJSON_IsArray(p))
          continue;
        char col[256];
        int w = snprintf(col, sizeof col, "%s.%s", tn, p->string);
        if (w < 0 || (size_t)w >= sizeof col) continue;
        set_cell(m, c, col, scalar_text(p));
      }
      flatten(m, c, e, "", 1);
      end_row(m, c);
    }
  }
  cJSON_Delete(j);
  return 0;
}

/* Feeds every line of one item's emo.jsonl. */
static void add_file(merge_tables *m, const char *out, const char *id) {
  char p[BATCH_MAX_PATH + 64];
  snprintf(p, sizeof p, "%s/%s/emo.jsonl", out, id);
  FILE *f = fopen(p, "rb");
  if (!f) return;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int64_t no = 0;
  while ((len = getline(&line, &cap, f)) > 0) {
    no++;
    if (line[len - 1] == '\n') len--;
    if (len == 0) continue;
    if (merge_tables_add_line(m, id, line, (size_t)len) != 0) {
      if (!m->writing)
        fprintf(stderr, "emo batch merge: %s line %lld: skipped\n", p, (long long)no);
      m->skipped_lines++;
    }
  }
  free(line);
  fclose(f);
}

int batch_merge(const char *out, const batch_manifest *bm) {
  char dir[BATCH_MAX_PATH + 16], p[BATCH_MAX_PATH + 64];
  snprintf(dir, sizeof dir, "%s/merged", out);
  if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0) {
    perror(dir);
    return 1;
  }
  char *state = calloc((size_t)(bm->n ? bm->n : 1), 1); /* 'd' done, 'b'/'t' failed, 'p' */
  batch_figures *fig = calloc((size_t)(bm->n ? bm->n : 1), sizeof *fig);
  merge_tables *m = merge_tables_new();
  if (!state || !fig || !m) {
    free(state);
    free(fig);
    merge_tables_free(&m);
    fprintf(stderr, "emo batch merge: out of memory\n");
    return 1;
  }
  for (int i = 0; i < bm->n; i++) {
    char err[200];
    size_t n = 0;
    snprintf(p, sizeof p, "%s/%s/DONE.json", out, bm->items[i].id);
    char *buf = batch_read_file(p, BATCH_MAX_RECORD_BYTES, &n);
    batch_stamp st;
    if (buf && batch_done_parse(buf, n, &st, &fig[i], err, sizeof err) == 0) {
      state[i] = 'd';
    } else {
      free(buf);
      snprintf(p, sizeof p, "%s/%s/FAILED.json", out, bm->items[i].id);
      buf = batch_read_file(p, BATCH_MAX_RECORD_BYTES, &n);
      state[i] = !buf ? 'p' : strstr(buf, "\"error\":\"bad_input\"") ? 'b' : 't';
    }
    free(buf);
  }
  /* Pass 1: the tables and their columns. */
  for (int i = 0; i < bm->n; i++)
    if (state[i] == 'd') add_file(m, out, bm->items[i].id);
  int rc = 0;
  for (int i = 0; i < m->n && rc == 0; i++) {
    table *t = &m->t[i];
    snprintf(p, sizeof p, "%s/%s.csv", dir, t->name);
    if (!(t->out = outfile_open(p, NULL, 0))) rc = 1;
    for (int c = 0; rc == 0 && c < t->ncol; c++) {
      /* Header cells are column names: never need quoting (no commas in JSON keys here). */
      const char *sep = c ? "," : "";
      outfile_write(t->out, sep, strlen(sep));
      outfile_write(t->out, t->cols[c], strlen(t->cols[c]));
    }
    outfile_write(t->out, "\n", 1);
    t->rows = 0;
  }
  /* Pass 2: the rows. */
  m->writing = 1;
  for (int i = 0; rc == 0 && i < bm->n; i++)
    if (state[i] == 'd') add_file(m, out, bm->items[i].id);
  /* files.csv and archive.json. */
  int counts[4] = {0};
  double media = 0;
  int64_t frames = 0, tracks = 0, speakers = 0, segments = 0;
  snprintf(p, sizeof p, "%s/files.csv", dir);
  outfile *fo = rc == 0 ? outfile_open(p, NULL, 0) : NULL;
  if (!fo) rc = 1;
  outfile_line(fo, "id,path,kind,state,duration,frames,tracks,speakers,segments");
  for (int i = 0; rc == 0 && i < bm->n; i++) {
    const batch_item *it = &bm->items[i];
    const char *sname = state[i] == 'd'   ? "done"
                        : state[i] == 'b' ? "bad_input"
                        : state[i] == 't' ? "failed"
                                          : "pending";
    counts[state[i] == 'd' ? 0 : state[i] == 'p' ? 3 : state[i] == 'b' ? 1 : 2]++;
    char *path = malloc(2 * strlen(it->path) + 3), *dur = number_text(fig[i].duration);
    if (path) {
      size_t k = 0;
      path[k++] = '"';
      for (const char *s = it->path; *s; s++) {
        if (*s == '"') path[k++] = '"';
        path[k++] = *s;
      }
      path[k++] = '"';
      path[k] = 0;
    }
    char *row = NULL;
    if (path && dur &&
        asprintf(&row, "%s,%s,%s,%s,%s,%lld,%d,%d,%d", it->id, path,
                 it->kind == 1   ? "video"
                 : it->kind == 2 ? "audio"
                                 : "",
                 sname, state[i] == 'd' ? dur : "", (long long)fig[i].frames, fig[i].tracks,
                 fig[i].speakers, fig[i].segments) < 0)
      row = NULL;
    outfile_line(fo, row);
    free(row);
    free(path);
    free(dur);
    if (state[i] == 'd') {
      media += fig[i].duration;
      frames += fig[i].frames;
      tracks += fig[i].tracks;
      speakers += fig[i].speakers;
      segments += fig[i].segments;
    }
  }
  if (outfile_commit(&fo) != 0) rc = 1;
  for (int i = 0; i < m->n; i++)
    if (outfile_commit(&m->t[i].out) != 0) rc = 1;
  if (rc == 0) {
    snprintf(p, sizeof p, "%s/archive.json", dir);
    outfile *a = outfile_open(p, NULL, 0);
    char *text = NULL, tables[2048] = "";
    for (int i = 0; i < m->n; i++) {
      size_t k = strlen(tables);
      snprintf(tables + k, sizeof tables - k, "%s\"%s\":%lld", i ? "," : "", m->t[i].name,
               (long long)m->t[i].rows);
    }
    if (asprintf(&text,
                 "{\"files\":%d,\"done\":%d,\"bad_input\":%d,\"failed\":%d,\"pending\":%d,"
                 "\"media_hours\":%.6f,\"frames\":%lld,\"tracks\":%lld,\"speakers\":%lld,"
                 "\"segments\":%lld,\"skipped_lines\":%lld,\"rows\":{%s}}",
                 bm->n, counts[0], counts[1], counts[2], counts[3], media / 3600, (long long)frames,
                 (long long)tracks, (long long)speakers, (long long)segments,
                 (long long)m->skipped_lines, tables) < 0)
      text = NULL;
    outfile_line(a, text);
    free(text);
    if (outfile_commit(&a) != 0) rc = 1;
    if (rc == 0)
      fprintf(stderr,
              "emo batch merge: %d of %d files done (%d bad input, %d failed, %d pending): %d "
              "tables in %s\n",
              counts[0], bm->n, counts[1], counts[2], counts[3], m->n + 1, dir);
  }
  merge_tables_free(&m);
  free(state);
  free(fig);
  return rc;
}
