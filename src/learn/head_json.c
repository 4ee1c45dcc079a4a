/* head_json.c: a head's answer in emo's JSON records (emo.h, emo_head_json_members and the
 * *_json_head functions): "custom": {label: p, ...}, "custom_dominant": label and, when the
 * head predicts intensity, "custom_intensity": {label: v, ...}, appended as the last members
 * of each face object (photos) or segment object (speech). The records come from the
 * output/ writers unchanged; this file only finds each object's closing brace (a small
 * scanner aware of JSON strings) and inserts the members before it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"
#include "learn/head.h"
#include "output/strbuf.h"

void head_json_object(sb *b, const emo_head *h, const char *key, const float *v, int decimals) {
  sb_printf(b, ",\"%s\":{", key);
  for (int k = 0; k < emo_head_classes(h); k++) {
    if (k) sb_puts(b, ",");
    sb_json_string(b, emo_head_class_name(h, k));
    sb_puts(b, ":");
    sb_json_float(b, v[k], decimals);
  }
  sb_puts(b, "}");
}

void head_json_answer(sb *b, const emo_head *h, const float *p, const float *it) {
  int best = 0;
  for (int k = 1; k < emo_head_classes(h); k++)
    if (p[k] > p[best]) best = k;
  head_json_object(b, h, "custom", p, 4);
  sb_puts(b, ",\"custom_dominant\":");
  sb_json_string(b, emo_head_class_name(h, best));
  if (it) head_json_object(b, h, "custom_intensity", it, 3);
}

char *emo_head_json_members(const emo_head *h, const float *x) {
  if (!h || !x) return NULL;
  int C = emo_head_classes(h);
  float *p = malloc((size_t)C * 2 * sizeof(float));
  if (!p) return NULL;
  float *it = p + C;
  int best = emo_head_predict(h, x, p, it);
  sb b = {0};
  sb_puts(&b, "\"custom\":{");
  for (int k = 0; k < C; k++) {
    if (k) sb_puts(&b, ",");
    sb_json_string(&b, emo_head_class_name(h, k));
    sb_puts(&b, ":");
    sb_json_float(&b, p[k], 4);
  }
  sb_puts(&b, "},\"custom_dominant\":");
  sb_json_string(&b, emo_head_class_name(h, best < 0 ? 0 : best));
  if (emo_head_has_intensity(h)) {
    sb_puts(&b, ",\"custom_intensity\":{");
    for (int k = 0; k < C; k++) {
      if (k) sb_puts(&b, ",");
      sb_json_string(&b, emo_head_class_name(h, k));
      sb_puts(&b, ":");
      sb_json_float(&b, it[k], 3);
    }
    sb_puts(&b, "}");
  }
  free(p);
  return sb_take(&b);
}

/* Index of the '}' closing the object that starts at s[i] == '{', or 0 when none. */
static size_t object_end(const char *s, size_t i) {
  int depth = 0, in_str = 0;
  for (; s[i]; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\' && s[i + 1])
        i++;
      else if (c == '"')
        in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return c == '}' ? i : 0;
    }
  }
  return 0;
}

/* json with ",members" inserted before each closing brace at ends[0..n) (ascending). */
static char *insert_all(const char *json, const size_t *ends, char *const *members, int n) {
  sb b = {0};
  size_t from = 0;
  for (int i = 0; i < n; i++) {
    sb_printf(&b, "%.*s", (int)(ends[i] - from), json + from);
    sb_puts(&b, ",");
    sb_puts(&b, members[i]);
    from = ends[i];
  }
  sb_puts(&b, json + from);
  return sb_take(&b);
}

char *emo_image_result_json_head(const emo_image_result *r, const char *file, const emo_head *h,
                                 const float *features) {
  char *json = emo_image_result_json(r, file);
  if (!json || !h || !features || r->face_count == 0) return json;
  int n = r->face_count, dim = emo_head_dim(h);
  size_t *ends = calloc((size_t)n, sizeof *ends);
  char **mem = calloc((size_t)n, sizeof *mem);
  char *out = NULL;
  if (!ends || !mem) goto done;
  const char *faces = strstr(json, "\"faces\":[");
  if (!faces) goto done;
  size_t i = (size_t)(faces - json) + 9;
  for (int k = 0; k < n; k++) {
    while (json[i] && json[i] != '{') i++;
    size_t e = json[i] ? object_end(json, i) : 0;
    if (!e) goto done;
    ends[k] = e;
    if (!(mem[k] = emo_head_json_members(h, features + (size_t)k * dim))) goto done;
    i = e + 1;
  }
  out = insert_all(json, ends, mem, n);
done:
  if (mem)
    for (int k = 0; k < n; k++) free(mem[k]);
  free(mem);
  free(ends);
  free(json);
  return out;
}

char *emo_segment_json_head(const emo_speech_segment *s, const emo_head *h, const float *x) {
  char *json = emo_segment_json(s);
  if (!json || !h || !x) return json;
  size_t e = object_end(json, 0);
  char *m = emo_head_json_members(h, x), *out = NULL;
  if (e && m) out = insert_all(json, &e, &m, 1);
  free(m);
  free(json);
  return out;
}
