/* batch.h: `emo batch`, the archive runner, split by what each part is about:
 *   batch.c          the command: sharding, locks, one child `emo video|audio` per file, retries
 *   batch_manifest.c the manifest (file list, folder, CSV), stable ids, the probe cache, shards
 *   batch_record.c   DONE.json / FAILED.json: written last, read back to decide what is done
 *   batch_merge.c    `emo batch merge`: one CSV per record type across the archive
 * The design and the reasons for it are in batch.c's first comment and docs/batch.md. */
#ifndef EMO_CLI_BATCH_H
#define EMO_CLI_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Caps on outside bytes (manifests, caches, DONE.json): a manifest past them is refused. */
#define BATCH_MAX_ITEMS 1000000
#define BATCH_MAX_MANIFEST_BYTES ((size_t)256 << 20)
#define BATCH_MAX_PATH 4096
#define BATCH_MAX_ID 128
#define BATCH_MAX_ARGS 512 /* bytes of per-file options (escaped) */
#define BATCH_MAX_RECORD_BYTES ((size_t)1 << 20)

typedef enum batch_kind {
  BATCH_UNKNOWN = 0,
  BATCH_VIDEO,
  BATCH_AUDIO,
  BATCH_KIND_COUNT
} batch_kind;

typedef struct batch_item {
  char *id;        /* [A-Za-z0-9._-]{1,128}, not starting with '.': the folder OUT/<id>/ */
  char *path;      /* the input as the child opens it (raw bytes: spaces, newlines, non-UTF-8) */
  char *args;      /* per-file options from a CSV, escaped tokens separated by ' ' ("" none) */
  int kind;        /* batch_kind; forced by a CSV "kind" column, else from the probe */
  int forced;      /* kind came from the manifest */
  double duration; /* seconds (probe), 0 when unknown */
  int probed;      /* the probe ran (duration and kind are known, or probe_error says why) */
  int probe_status;
  char *probe_error; /* NULL, or why the file is not media emo reads */
} batch_item;

typedef struct batch_manifest {
  batch_item *items; /* (n,) sorted by id, ids unique */
  int n, cap;
  char key[65]; /* sha256 hex of what defines the item list */
} batch_manifest;

void batch_manifest_free(batch_manifest *m);

/* Reads a manifest: a folder (walked recursively for media files), a CSV (name ends in .csv:
 * header with a "path" column, optional "id", "kind" and option columns), or a file list (one
 * path per line, or NUL-separated when the file holds a NUL byte). Relative paths are taken
 * from the manifest's folder. Fails (0 on success, -1 with err filled) on unreadable or
 * malformed input, duplicate ids and caps; duplicate paths are dropped with a warning. */
int batch_manifest_read(const char *source, batch_manifest *m, char *err, size_t errn);

/* The parsers behind it, from memory (the fuzz harness calls them). base: the folder
 * relative paths are taken from ("" none). */
int batch_manifest_parse_list(const char *buf, size_t n, const char *base, batch_manifest *m,
                              char *err, size_t errn);
int batch_manifest_parse_csv(const char *buf, size_t n, const char *base, batch_manifest *m,
                             char *err, size_t errn);

/* Sorts by id, refuses duplicate ids, drops duplicate paths; sets m->key from the items. */
int batch_manifest_finish(batch_manifest *m, char *err, size_t errn);

/* The probe cache OUT/batch/manifest.tsv: every item with its kind and duration, so all shards
 * plan from the same numbers. Written atomically; parse refuses anything malformed. */
int batch_cache_write(const batch_manifest *m, const char *path);
int batch_cache_parse(const char *buf, size_t n, batch_manifest *m, char *err, size_t errn);

/* Assigns items to n shards, balanced by duration (longest first onto the least-loaded shard,
 * ties to the lower shard, each file weighing at least 1 s): shard[i] in [0, n). Deterministic
 * for a given manifest and probe cache. */
void batch_shard_assign(const batch_manifest *m, int n, int *shard);

/* A stable id from a manifest path: its safe characters (at most 80) and 8 hex digits of the
 * sha256 of its bytes, e.g. "friends_clip01.mp4-1a2b3c4d". */
void batch_id_from_path(const char *rel, char out[BATCH_MAX_ID + 1]);

/* Escaping of raw bytes for line-based files: bytes outside 0x21..0x7e, and '\', become \xNN. */
char *batch_escape(const char *s);
char *batch_unescape(const char *s, size_t n); /* NULL on a malformed escape */

/* Writes s as a JSON string (quoted) into buf; bytes that are not valid UTF-8 are written as
 * \u00NN (their Latin-1 reading), so the JSON stays valid. Returns a malloc'ed string. */
char *batch_json_string(const char *s);

/* sha256 of n bytes as 64 hex digits + NUL. */
void batch_sha256_hex(const void *data, size_t n, char out[65]);

/* ---- DONE.json / FAILED.json (batch_record.c) ---- */

/* What makes a result current: a DONE.json matches when all of these are equal. */
typedef struct batch_stamp {
  char version[32];
  char models[65];  /* sha256 over the manifest's model checksums */
  char options[65]; /* sha256 over the analysis options that change results */
  int64_t size;     /* the input's size and modification time (ns) */
  int64_t mtime_ns;
} batch_stamp;

/* Figures of a finished item, from its summary record. */
typedef struct batch_figures {
  double duration; /* media seconds analysed */
  int64_t frames;
  int tracks, speakers, segments;
  double wall_s;
  double cpu_s; /* user + system time of the analysis (the child), 0 when unknown */
  int attempts;
} batch_figures;

/* Parses DONE.json bytes into *stamp and *fig: 0, or -1 (err says why) when malformed. */
int batch_done_parse(const char *buf, size_t n, batch_stamp *stamp, batch_figures *fig, char *err,
                     size_t errn);

/* Writes OUT/<id>/DONE.json (temporary + rename). 0 or -1 (reported on stderr). */
int batch_done_write(const char *dir, const batch_item *it, const batch_stamp *st,
                     const batch_figures *fig, const char *const *outputs, int n_outputs);

/* Writes OUT/<id>/FAILED.json: class "bad_input" or "transient", the exit, the last lines of
 * the child's stderr. 0 or -1. */
int batch_failed_write(const char *dir, const batch_item *it, const batch_stamp *st,
                       const char *class_name, const char *message, int attempts);

/* The figures of a run from the item's emo.jsonl (its last line is the summary). */
int batch_figures_from_summary(const char *jsonl_path, int kind, batch_figures *fig);

/* Reads a whole small file (at most cap bytes) into a malloc'ed NUL-terminated buffer. */
char *batch_read_file(const char *path, size_t cap, size_t *n);

/* ---- merge (batch_merge.c) ---- */
int batch_merge(const char *out_dir, const batch_manifest *m);

/* Flattens one JSON Lines record into the merge tables (for the fuzz harness): 0 or -1. */
typedef struct merge_tables merge_tables;
merge_tables *merge_tables_new(void);
int merge_tables_add_line(merge_tables *t, const char *item_id, const char *line, size_t n);
void merge_tables_free(merge_tables **t);

int batch_main(int argc, char **argv);

#endif
