/* batch_record.c: the two files that say what became of one input of `emo batch`:
 *   OUT/<id>/DONE.json   written last, after every output was renamed into place: emo's
 *                        version, the model and options hashes, the input's size and mtime, and
 *                        the run's figures. An item is done only when its DONE.json parses and
 *                        matches the current run (batch.c decides); anything else is redone.
 *   OUT/<id>/FAILED.json why it failed ("bad_input": not retried; "transient"), the child's
 *                        last stderr lines, the attempts.
 * Both go through outfile.c (temporary, fsync, rename), so a kill or a full disk leaves the
 * old file or none, never half a file. DONE.json is read back by a bounds-checked parser
 * (cJSON on at most BATCH_MAX_RECORD_BYTES, every field type-checked; fuzz/fuzz_batch.c). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "outfile.h"

static int failf(char *err, size_t errn, const char *what) {
  if (err && errn) snprintf(err, errn, "%s", what);
  return -1;
}

static int get_str(const cJSON *o, const char *k, char *out, size_t cap) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) >= cap) return -1;
  snprintf(out, cap, "%s", v->valuestring);
  return 0;
}

static int get_num(const cJSON *o, const char *k, double lo, double hi, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return -1;
  *out = v->valuedouble;
  return 0;
}

static int is_hex64(const char *s) {
  if (strlen(s) != 64) return 0;
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

int batch_done_parse(const char *buf, size_t n, batch_stamp *st, batch_figures *fig, char *err,
                     size_t errn) {
  memset(st, 0, sizeof *st);
  memset(fig, 0, sizeof *fig);
  if (n > BATCH_MAX_RECORD_BYTES) return failf(err, errn, "larger than 1 MiB");
  cJSON *j = cJSON_ParseWithLength(buf, n);
  if (!j) return failf(err, errn, "not JSON");
  int rc = -1;
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "figures");
  double size, mtime, v;
  if (!cJSON_IsObject(j) || !cJSON_IsObject(in) || !cJSON_IsObject(f)) {
    failf(err, errn, "not a DONE.json object");
  } else if (get_str(j, "emo_version", st->version, sizeof st->version) ||
             get_str(j, "models", st->models, sizeof st->models) ||
             get_str(j, "options", st->options, sizeof st->options) || !is_hex64(st->models) ||
             !is_hex64(st->options)) {
    failf(err, errn, "emo_version, models or options missing or malformed");
  } else if (get_num(in, "size", 0, 9e15, &size) || get_num(in, "mtime_ns", -9e18, 9e18, &mtime)) {
    failf(err, errn, "input size or mtime_ns missing");
  } else if (get_num(f, "duration", 0, 1e9, &fig->duration) ||
             get_num(f, "wall_s", 0, 1e9, &fig->wall_s)) {
    failf(err, errn, "figures missing");
  } else {
    /* mtime_ns is written as a string-free integer; doubles hold it to about 256 ns, so the
     * exact value travels as "mtime" (seconds.nanoseconds) too. */
    char mt[40];
    long long sec = 0, nsec = 0;
    char *end = NULL;
    if (get_str(in, "mtime", mt, sizeof mt) == 0) {
      sec = strtoll(mt, &end, 10);
      if (*end == '.') nsec = strtoll(end + 1, &end, 10);
    }
    /* |sec| bounded so that sec * 1e9 fits in 64 bits (the year 2262). */
    if (!end || *end || nsec < 0 || nsec > 999999999 || sec < -9000000000LL || sec > 9000000000LL) {
      failf(err, errn, "input mtime missing or malformed");
    } else {
      st->size = (int64_t)size;
      st->mtime_ns = (int64_t)sec * 1000000000 + nsec;
      if (get_num(f, "frames", 0, 9e15, &v) == 0) fig->frames = (int64_t)v;
      if (get_num(f, "tracks", 0, 1e9, &v) == 0) fig->tracks = (int)v;
      if (get_num(f, "speakers", 0, 1e9, &v) == 0) fig->speakers = (int)v;
      if (get_num(f, "segments", 0, 1e9, &v) == 0) fig->segments = (int)v;
      if (get_num(f, "attempts", 0, 1e6, &v) == 0) fig->attempts = (int)v;
      if (get_num(f, "cpu_s", 0, 1e9, &v) == 0) fig->cpu_s = v;
      rc = 0;
    }
  }
  cJSON_Delete(j);
  return rc;
}

static int write_record(const char *dir, const char *name, const char *text) {
  char path[BATCH_MAX_PATH + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  outfile *o = outfile_open(path, NULL, 0);
  if (!o) return -1;
  outfile_write(o, text, strlen(text));
  return outfile_commit(&o);
}

static char *input_json(const batch_item *it, const batch_stamp *st) {
  char *p = batch_json_string(it->path), *out = NULL;
  if (p && asprintf(&out, "{\"path\":%s,\"size\":%lld,\"mtime\":\"%lld.%09lld\",\"mtime_ns\":%lld}",
                    p, (long long)st->size, (long long)(st->mtime_ns / 1000000000),
                    (long long)(st->mtime_ns % 1000000000), (long long)st->mtime_ns) < 0)
    out = NULL;
  free(p);
  return out;
}

int batch_done_write(const char *dir, const batch_item *it, const batch_stamp *st,
                     const batch_figures *fig, const char *const *outputs, int n_outputs) {
  char *in = input_json(it, st), *text = NULL;
  char outs[512] = "";
  for (int i = 0; i < n_outputs; i++) {
    size_t k = strlen(outs);
    snprintf(outs + k, sizeof outs - k, "%s\"%s\"", i ? "," : "", outputs[i]);
  }
  static const char *const kinds[] = {"unknown", "video", "audio"};
  if (in && asprintf(&text,
                     "{\"id\":\"%s\",\"kind\":\"%s\",\"emo_version\":\"%s\",\"models\":\"%s\","
                     "\"options\":\"%s\",\"input\":%s,\"outputs\":[%s],\"figures\":{"
                     "\"duration\":%.3f,\"frames\":%lld,\"tracks\":%d,\"speakers\":%d,"
                     "\"segments\":%d,\"wall_s\":%.3f,\"cpu_s\":%.3f,\"attempts\":%d}}\n",
                     it->id, kinds[it->kind], st->version, st->models, st->options, in, outs,
                     fig->duration, (long long)fig->frames, fig->tracks, fig->speakers,
                     fig->segments, fig->wall_s, fig->cpu_s, fig->attempts) < 0)
    text = NULL;
  free(in);
  if (!text) {
    fprintf(stderr, "emo batch: out of memory\n");
    return -1;
  }
  int rc = write_record(dir, "DONE.json", text);
  free(text);
  return rc;
}

int batch_failed_write(const char *dir, const batch_item *it, const batch_stamp *st,
                       const char *class_name, const char *message, int attempts) {
  char *in = input_json(it, st), *msg = batch_json_string(message ? message : ""), *text = NULL;
  if (in && msg &&
      asprintf(&text,
               "{\"id\":\"%s\",\"error\":\"%s\",\"message\":%s,\"attempts\":%d,"
               "\"emo_version\":\"%s\",\"options\":\"%s\",\"input\":%s}\n",
               it->id, class_name, msg, attempts, st->version, st->options, in) < 0)
    text = NULL;
  free(in);
  free(msg);
  if (!text) {
    fprintf(stderr, "emo batch: out of memory\n");
    return -1;
  }
  int rc = write_record(dir, "FAILED.json", text);
  free(text);
  return rc;
}

int batch_figures_from_summary(const char *jsonl_path, int kind, batch_figures *fig) {
  FILE *f = fopen(jsonl_path, "rb");
  if (!f) return -1;
  /* One pass, one line in memory: segments and their speakers are counted over the whole file
   * (emo video's summary line describes the frames; the soundtrack's segments are lines of
   * their own), the last line is the summary. */
  int speakers_seen[64] = {0};
  char *line = NULL, *last = NULL;
  size_t cap = 0, last_cap = 0;
  ssize_t len, last_len = 0;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (len > 20 && memcmp(line, "{\"type\":\"segment\"", 17) == 0) {
      fig->segments++;
      const char *sp = memmem(line, (size_t)len, "\"speaker\":\"S", 12);
      if (sp) {
        int s = atoi(sp + 12);
        if (s > 0 && s < 64 && !speakers_seen[s]) {
          speakers_seen[s] = 1;
          fig->speakers++;
        }
      }
    }
    if ((size_t)len + 1 > last_cap) {
      char *t = realloc(last, (size_t)len + 1);
      if (!t) break;
      last = t;
      last_cap = (size_t)len + 1;
    }
    memcpy(last, line, (size_t)len + 1);
    last_len = len;
  }
  free(line);
  fclose(f);
  cJSON *j = last && (size_t)last_len <= BATCH_MAX_RECORD_BYTES
                 ? cJSON_ParseWithLength(last, (size_t)last_len)
                 : NULL;
  free(last);
  double v;
  const cJSON *type = j ? cJSON_GetObjectItemCaseSensitive(j, "type") : NULL;
  int rc = -1;
  if (cJSON_IsString(type) && strcmp(type->valuestring, "summary") == 0) {
    if (get_num(j, "duration", 0, 1e9, &v) == 0) fig->duration = v;
    if (kind == BATCH_VIDEO) {
      if (get_num(j, "frames_analysed", 0, 9e15, &v) == 0) fig->frames = (int64_t)v;
      if (get_num(j, "track_count", 0, 1e9, &v) == 0) fig->tracks = (int)v;
    } else {
      const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "speakers");
      if (cJSON_IsArray(sp)) fig->speakers = cJSON_GetArraySize(sp);
    }
    rc = 0;
  }
  cJSON_Delete(j);
  return rc;
}
