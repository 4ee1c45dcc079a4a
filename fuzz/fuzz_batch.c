/* fuzz_batch.c: libFuzzer harness for the readers of outside bytes in `emo batch`
 * (cli/batch_manifest.c, cli/batch_record.c, cli/batch_merge.c). The first byte picks the
 * reader: 0 a file list, 1 a CSV manifest, 2 the probe cache, 3 a DONE.json, 4 a JSON Lines
 * record for merge; the rest is its input. Any bytes must give success or a clean error,
 * never a crash, a leak or an out-of-bounds access; what is accepted must satisfy what the
 * runner relies on: ids safe as folder names and unique, paths and per-file options that
 * survive the cache's escaping unchanged, DONE.json hashes of 64 hex digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

static int safe_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > BATCH_MAX_ID || s[0] == '.') return 0;
  return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void check_manifest(const batch_manifest *m) {
  for (int i = 0; i < m->n; i++) {
    const batch_item *it = &m->items[i];
    if (!safe_id(it->id) || !it->path[0] || strlen(it->path) >= BATCH_MAX_PATH) abort();
    if (i > 0 && strcmp(m->items[i - 1].id, it->id) >= 0) abort(); /* sorted, unique */
    char *e = batch_escape(it->path);
    char *u = e ? batch_unescape(e, strlen(e)) : NULL;
    if (!u || strcmp(u, it->path) != 0) abort(); /* the cache keeps every byte */
    free(e);
    free(u);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *buf = (const char *)data + 1;
  const size_t n = size - 1;
  char err[256];
  batch_manifest m;
  memset(&m, 0, sizeof m);
  switch (data[0] % 5) {
    case 0:
    case 1: {
      int rc = data[0] % 5 == 0
                   ? batch_manifest_parse_list(buf, n, "/nonexistent", &m, err, sizeof err)
                   : batch_manifest_parse_csv(buf, n, "/nonexistent", &m, err, sizeof err);
      if (rc == 0 && batch_manifest_finish(&m, err, sizeof err) == 0) check_manifest(&m);
      batch_manifest_free(&m);
      break;
    }
    case 2:
      if (batch_cache_parse(buf, n, &m, err, sizeof err) == 0) {
        check_manifest(&m);
        int *shard = malloc((size_t)(m.n ? m.n : 1) * sizeof *shard);
        if (shard) {
          batch_shard_assign(&m, 3, shard);
          for (int i = 0; i < m.n; i++)
            if (shard[i] < 0 || shard[i] >= 3) abort();
        }
        free(shard);
        batch_manifest_free(&m);
      }
      break;
    case 3: {
      batch_stamp st;
      batch_figures fig;
      if (batch_done_parse(buf, n, &st, &fig, err, sizeof err) == 0 &&
          (strlen(st.models) != 64 || strlen(st.options) != 64 || st.size < 0))
        abort();
      break;
    }
    case 4: {
      merge_tables *t = merge_tables_new();
      if (t) merge_tables_add_line(t, "id", buf, n);
      merge_tables_free(&t);
      break;
    }
  }
  return 0;
}
