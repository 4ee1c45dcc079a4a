/* table.c: the two outside formats `emo train` reads and `emo features` writes (emo.h,
 * "Tables and arrays"):
 *   - CSV (RFC 4180): a header row naming the columns, then rows of the same number of fields;
 *     fields separated by commas, optionally in double quotes (a quote inside doubled), lines
 *     ended by LF or CRLF; empty lines skipped; a UTF-8 BOM skipped. Errors name the line.
 *   - NPY version 1.0 / 2.0 (numpy.lib.format): a 2-D little-endian float32 array in C order,
 *     header dict {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), }.
 * Caps: 1 GiB per file, 16 777 216 rows, 256 columns, fields of at most 64 KiB. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/file.h"
#include "emo.h"

#define TABLE_MAX_FILE ((size_t)1 << 30)
#define TABLE_MAX_ROWS (1 << 24)
#define TABLE_MAX_COLS 256
#define TABLE_MAX_FIELD 65536

struct emo_table {
  int rows, cols; /* rows without the header */
  char **cells;   /* ((rows + 1) * cols) NUL-terminated fields, header first */
  int *line;      /* (rows,) source line of each row */
  char *text;     /* one allocation holding every field */
};

void emo_table_destroy(emo_table **pt) {
  if (!pt || !*pt) return;
  free((*pt)->cells);
  free((*pt)->line);
  free((*pt)->text);
  free(*pt);
  *pt = NULL;
}

/* Reads a whole regular file of at most max bytes. */
static int slurp(const char *path, size_t max, unsigned char **data, size_t *size, char *err,
                 size_t en) {
  emoi_err e = {{0}}; /* core/file.h: the one whole-file reader (cap, regular file, NUL-ended) */
  int rc = emoi_file_read(path, (int64_t)max, 0, data, size, &e);
  return rc == EMO_OK ? EMO_OK : emoi_fail_buf(err, en, rc, "%s", e.msg);
}

int emo_table_parse(const void *data, size_t size, const char *name, emo_table **out, char *err,
                    size_t en) {
  if (!out) return EMO_EINVAL;
  *out = NULL;
  const char *src = name ? name : "CSV";
  if (!data && size) return emoi_fail_buf(err, en, EMO_EINVAL, "%s: NULL data", src);
  if (size > TABLE_MAX_FILE)
    return emoi_fail_buf(err, en, EMO_ELIMIT, "%s: larger than 1 GiB", src);
  const unsigned char *p = data, *end = p + size;
  if (size >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3;
  emo_table *t = calloc(1, sizeof *t);
  /* fields are unquoted into text: never longer than the input, plus a NUL per field */
  size_t cap_cells = 1024;
  if (t) {
    t->text = malloc(size * 2 + 1);
    t->cells = malloc(cap_cells * sizeof *t->cells);
  }
  if (!t || !t->text || !t->cells) {
    emo_table_destroy(&t);
    return emoi_fail_buf(err, en, EMO_ENOMEM, "%s: out of memory", src);
  }
  char *w = t->text;
  size_t n_cells = 0;
  int line = 1, row = -1, rc = EMO_OK, cap_lines = 0;
  while (p < end) {
    if (*p == '\n' || *p == '\r') { /* empty line */
      if (*p == '\n') line++;
      p++;
      continue;
    }
    int row_line = line, fields = 0;
    for (;;) { /* one field */
      if (fields >= TABLE_MAX_COLS) {
        rc = emoi_fail_buf(err, en, EMO_ELIMIT, "%s:%d: more than %d columns", src, row_line,
                           TABLE_MAX_COLS);
        goto done;
      }
      char *start = w;
      if (p < end && *p == '"') {
        p++;
        for (;;) {
          if (p >= end) {
            rc = emoi_fail_buf(err, en, EMO_EFORMAT, "%s:%d: quoted field not closed", src,
                               row_line);
            goto done;
          }
          if (*p == '"') {
            if (p + 1 < end && p[1] == '"') {
              *w++ = '"';
              p += 2;
              continue;
            }
            p++;
            break;
          }
          if (*p == '\n') line++;
          *w++ = (char)*p++;
        }
        if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
          rc = emoi_fail_buf(err, en, EMO_EFORMAT, "%s:%d: characters after a closing quote", src,
                             line);
          goto done;
        }
      } else {
        while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
          if (*p == '"') {
            rc = emoi_fail_buf(err, en, EMO_EFORMAT, "%s:%d: quote inside an unquoted field", src,
                               line);
            goto done;
          }
          *w++ = (char)*p++;
        }
      }
      if (memchr(start, 0, (size_t)(w - start))) {
        rc = emoi_fail_buf(err, en, EMO_EFORMAT, "%s:%d: NUL byte in a field", src, row_line);
        goto done;
      }
      if (w - start > TABLE_MAX_FIELD) {
        rc = emoi_fail_buf(err, en, EMO_ELIMIT, "%s:%d: field longer than %d bytes", src, row_line,
                           TABLE_MAX_FIELD);
        goto done;
      }
      *w++ = 0;
      if (n_cells == cap_cells) {
        cap_cells *= 2;
        char **nc = realloc(t->cells, cap_cells * sizeof *nc);
        if (!nc) {
          rc = emoi_fail_buf(err, en, EMO_ENOMEM, "%s: out of memory", src);
          goto done;
        }
        t->cells = nc;
      }
      t->cells[n_cells++] = (char *)(uintptr_t)(start - t->text); /* offset; fixed below */
      fields++;
      if (p < end && *p == ',') {
        p++;
        continue;
      }
      break;
    }
    if (p < end && *p == '\r') p++;
    if (p < end && *p == '\n') p++, line++;
    if (row < 0) {
      t->cols = fields;
    } else if (fields != t->cols) {
      rc = emoi_fail_buf(err, en, EMO_EFORMAT, "%s:%d: %d fields, the header has %d", src, row_line,
                         fields, t->cols);
      goto done;
    }
    row++;
    if (row > TABLE_MAX_ROWS) {
      rc = emoi_fail_buf(err, en, EMO_ELIMIT, "%s: more than %d rows", src, TABLE_MAX_ROWS);
      goto done;
    }
    if (row > 0) {
      if (row > cap_lines) {
        cap_lines = cap_lines ? cap_lines * 2 : 1024;
        int *nl = realloc(t->line, (size_t)cap_lines * sizeof *nl);
        if (!nl) {
          rc = emoi_fail_buf(err, en, EMO_ENOMEM, "%s: out of memory", src);
          goto done;
        }
        t->line = nl;
      }
      t->line[row - 1] = row_line;
    }
  }
  if (row < 0) {
    rc = emoi_fail_buf(err, en, EMO_EFORMAT, "%s: empty (no header row)", src);
    goto done;
  }
  t->rows = row;
  for (size_t i = 0; i < n_cells; i++) t->cells[i] = t->text + (uintptr_t)t->cells[i];
done:
  if (rc != EMO_OK) {
    emo_table_destroy(&t);
    return rc;
  }
  *out = t;
  return EMO_OK;
}

int emo_table_read(const char *path, emo_table **out, char *err, size_t en) {
  if (!out || !path) return EMO_EINVAL;
  *out = NULL;
  unsigned char *d = NULL;
  size_t n = 0;
  int rc = slurp(path, TABLE_MAX_FILE, &d, &n, err, en);
  if (rc != EMO_OK) return rc;
  rc = emo_table_parse(d, n, path, out, err, en);
  free(d);
  return rc;
}

int emo_table_rows(const emo_table *t) {
  return t ? t->rows : 0;
}
int emo_table_cols(const emo_table *t) {
  return t ? t->cols : 0;
}
int emo_table_column(const emo_table *t, const char *name) {
  if (!t || !name) return -1;
  for (int c = 0; c < t->cols; c++)
    if (strcmp(t->cells[c], name) == 0) return c;
  return -1;
}
const char *emo_table_header(const emo_table *t, int col) {
  return t && col >= 0 && col < t->cols ? t->cells[col] : NULL;
}
const char *emo_table_cell(const emo_table *t, int row, int col) {
  if (!t || row < 0 || row >= t->rows || col < 0 || col >= t->cols) return NULL;
  return t->cells[(size_t)(row + 1) * t->cols + col];
}
int emo_table_line(const emo_table *t, int row) {
  return t && row >= 0 && row < t->rows ? t->line[row] : 0;
}

/* ---- NPY ----------------------------------------------------------------------------- */

int emo_npy_write_f32(const char *path, const float *x, int rows, int cols, char *err, size_t en) {
  if (!path || (!x && rows && cols) || rows < 0 || cols < 0)
    return emoi_fail_buf(err, en, EMO_EINVAL, "emo_npy_write_f32: bad argument");
  char hdr[128];
  int hl = snprintf(hdr, sizeof hdr,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
  int total = 10 + hl + 1, pad = (64 - total % 64) % 64; /* header ends on 64 bytes, '\n' last */
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return emoi_fail_buf(err, en, EMO_EINVAL, "%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return emoi_fail_buf(err, en, EMO_EIO, "%s: cannot create", tmp);
  unsigned hlen = (unsigned)(hl + pad + 1);
  unsigned char pre[10] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hlen, (unsigned char)(hlen >> 8)};
  fwrite(pre, 1, 10, f);
  fwrite(hdr, 1, (size_t)hl, f);
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  fwrite(x, sizeof(float), (size_t)rows * (size_t)cols, f); /* x86-64 and arm64: little-endian */
  int bad = ferror(f);
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    remove(tmp);
    return emoi_fail_buf(err, en, EMO_EIO, "%s: write failed", path);
  }
  return EMO_OK;
}

/* Value of key in a numpy header dict, as the text after "'key':" with spaces skipped. */
static const char *dict_value(const char *h, const char *key) {
  char k[32];
  snprintf(k, sizeof k, "'%s'", key);
  const char *p = strstr(h, k);
  if (!p) return NULL;
  p += strlen(k);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

int emo_npy_parse_f32(const void *data, size_t size, float **x, int *rows, int *cols, char *err,
                      size_t en) {
  if (!x || !rows || !cols) return EMO_EINVAL;
  *x = NULL;
  *rows = *cols = 0;
  const unsigned char *b = data;
  if (!b || size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return emoi_fail_buf(err, en, EMO_EFORMAT, "not an NPY file (no \\x93NUMPY magic)");
  size_t hlen, off;
  if (b[6] == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    off = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (size < 12) return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: truncated header");
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    off = 12;
  } else {
    return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: version %d.%d not supported", b[6], b[7]);
  }
  if (hlen > 65536 || hlen > size - off)
    return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: header of %zu bytes runs past the file", hlen);
  char h[65537];
  memcpy(h, b + off, hlen);
  h[hlen] = 0;
  if (strlen(h) != hlen) return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: NUL in the header");
  const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
             *sh = dict_value(h, "shape");
  if (!d || !fo || !sh)
    return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: header lacks descr/order/shape");
  if (strncmp(d, "'<f4'", 5) != 0)
    return emoi_fail_buf(err, en, EMO_EUNSUPPORTED,
                         "NPY: dtype is not little-endian float32 ('<f4')");
  if (strncmp(fo, "False", 5) != 0)
    return emoi_fail_buf(err, en, EMO_EUNSUPPORTED, "NPY: Fortran order is not supported");
  long r = -1, c = -1;
  char tail;
  if (sscanf(sh, "(%ld, %ld%c", &r, &c, &tail) != 3 || tail != ')' || r < 0 || c < 0 ||
      r > TABLE_MAX_ROWS || c > (1 << 16))
    return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: shape is not (rows, cols) within 2^24 x 2^16");
  size_t n = (size_t)r * (size_t)c, body = size - off - hlen;
  if (body != n * 4)
    return emoi_fail_buf(err, en, EMO_EFORMAT, "NPY: %zu data bytes for shape (%ld, %ld)", body, r,
                         c);
  float *a = malloc(n ? n * 4 : 4);
  if (!a) return emoi_fail_buf(err, en, EMO_ENOMEM, "NPY: out of memory");
  memcpy(a, b + off + hlen, n * 4);
  *x = a;
  *rows = (int)r;
  *cols = (int)c;
  return EMO_OK;
}

int emo_npy_read_f32(const char *path, float **x, int *rows, int *cols, char *err, size_t en) {
  unsigned char *d = NULL;
  size_t n = 0;
  if (!path) return EMO_EINVAL;
  int rc = slurp(path, TABLE_MAX_FILE, &d, &n, err, en);
  if (rc != EMO_OK) return rc;
  rc = emo_npy_parse_f32(d, n, x, rows, cols, err, en);
  free(d);
  if (rc != EMO_OK && err && en) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s: %s", path, err);
    snprintf(err, en, "%s", tmp);
  }
  return rc;
}
