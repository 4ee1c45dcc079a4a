/* import.c: `emo models import FILE...`: installs model files that no package registry ships
 * (the manifest's "imports", e.g. MediaPipe's face_landmarker.task, which users download from
 * MediaPipe's model page) into the cache. A file is recognised by its size and sha256 alone,
 * never by its name, so a renamed download is still found and a wrong or damaged one is
 * refused with a message naming it. The copy goes to a temporary file in the cache, is synced
 * and renamed over the cache name, so the cache never holds a partial file.
 *
 * Leaves to others: the manifest (core/models.c), fetching from registries (core/fetch.c). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/models.h"

#define CHUNK ((size_t)1 << 20)

static void to_hex32(const unsigned char *d, char *hex) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[64] = '\0';
}

/* sha256 of the open file fd (size bytes expected) into hex. */
static int hash_fd(int fd, int64_t size, const char *path, char hex[65], emoi_err *err) {
  unsigned char *buf = malloc(CHUNK);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = EMO_OK;
  int64_t total = 0;
  if (!buf || !md) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
    rc = emoi_fail(err, EMO_EINTERNAL, "sha256 unavailable in libcrypto");
    goto done;
  }
  for (;;) {
    ssize_t r = emoi_read_full(fd, buf, CHUNK);
    if (r < 0) {
      rc = emoi_fail(err, EMO_EIO, "cannot read %s: %s", path, strerror(errno));
      goto done;
    }
    if (r == 0) break;
    total += r;
    EVP_DigestUpdate(md, buf, (size_t)r);
  }
  unsigned char dg[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (total != size || !EVP_DigestFinal_ex(md, dg, &n) || n != 32) {
    rc = emoi_fail(err, EMO_EIO, "%s changed while being read", path);
    goto done;
  }
  to_hex32(dg, hex);
done:
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

/* Lists the importable files into buf ("a (what), b (what)"). */
static void list_imports(const emoi_manifest *m, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < m->n_imports && used < n; i++) {
    int k = snprintf(buf + used, n - used, "%s%s (%s)", i ? ", " : "", m->imports[i].file,
                     m->imports[i].task);
    if (k < 0) break;
    used += (size_t)k;
  }
}

/* Opens path read-only as a regular file; *size its size. Returns the fd or -1 (err set). */
static int open_regular(const char *path, int64_t *size, int *status, emoi_err *err) {
  int fd;
  do fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    *status = emoi_fail(err, EMO_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *status = emoi_fail(err, EMO_EIO, "%s is not a regular file", path);
    close(fd);
    return -1;
  }
  *size = (int64_t)st.st_size;
  return fd;
}

const emoi_manifest_file *emoi_import_match(const char *path, char hex[65], int *status,
                                            emoi_err *err) {
  int st_dummy;
  if (!status) status = &st_dummy;
  *status = EMO_OK;
  const emoi_manifest *m = emoi_manifest_get(err);
  if (!m) {
    *status = EMO_EINTERNAL;
    return NULL;
  }
  char known[1024];
  list_imports(m, known, sizeof known);
  int64_t size = 0;
  int fd = open_regular(path, &size, status, err);
  if (fd < 0) return NULL;
  const emoi_manifest_file *hit = NULL;
  int sized = 0;
  for (int i = 0; i < m->n_imports; i++) sized |= m->imports[i].size == size;
  if (!sized) {
    *status = emoi_fail(err, EMO_EMODEL,
                        "%s (%lld bytes) is not a file emo imports (none has this size); emo "
                        "imports: %s",
                        path, (long long)size, known);
    close(fd);
    return NULL;
  }
  int rc = hash_fd(fd, size, path, hex, err);
  close(fd);
  if (rc != EMO_OK) {
    *status = rc;
    return NULL;
  }
  for (int i = 0; i < m->n_imports && !hit; i++)
    if (m->imports[i].size == size && strcmp(m->imports[i].sha256, hex) == 0) hit = &m->imports[i];
  if (!hit)
    *status = emoi_fail(err, EMO_EMODEL,
                        "%s: sha256 %s matches no file emo imports (a damaged or different "
                        "download?); emo imports: %s",
                        path, hex, known);
  return hit;
}

/* Copies src (an open fd at offset 0) to dst_tmp, synced. */
static int copy_fd(int in, const char *dst, emoi_err *err) {
  int out;
  do out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  while (out < 0 && errno == EINTR);
  if (out < 0) return emoi_fail(err, EMO_EIO, "cannot create %s: %s", dst, strerror(errno));
  unsigned char *buf = malloc(CHUNK);
  int rc = buf ? EMO_OK : emoi_fail(err, EMO_ENOMEM, "out of memory");
  while (rc == EMO_OK) {
    ssize_t r = emoi_read_full(in, buf, CHUNK);
    if (r < 0) rc = emoi_fail(err, EMO_EIO, "read failed: %s", strerror(errno));
    if (r <= 0) break;
    for (ssize_t off = 0; off < r && rc == EMO_OK;) {
      ssize_t w = write(out, buf + off, (size_t)(r - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0)
        rc = emoi_fail(err, EMO_EIO, "cannot write %s: %s", dst, strerror(errno));
      else
        off += w;
    }
  }
  if (rc == EMO_OK && fsync(out) != 0)
    rc = emoi_fail(err, EMO_EIO, "cannot write %s: %s", dst, strerror(errno));
  if (close(out) != 0 && rc == EMO_OK)
    rc = emoi_fail(err, EMO_EIO, "cannot write %s: %s", dst, strerror(errno));
  free(buf);
  if (rc != EMO_OK) unlink(dst);
  return rc;
}

static int import_one(const emo_model_params *p, const char *path, emoi_err *err) {
  char hex[65];
  int rc = EMO_OK;
  const emoi_manifest_file *f = emoi_import_match(path, hex, &rc, err);
  if (!f) return rc;
  char dir[4096], dst[4096 + 256], tmp[4096 + 256];
  if ((rc = emoi_models_dir(p, dir, sizeof dir, err)) != EMO_OK) return rc;
  if ((rc = emoi_mkdir_p(dir, err)) != EMO_OK) return rc;
  snprintf(dst, sizeof dst, "%s/%s", dir, f->file);
  snprintf(tmp, sizeof tmp, "%s/.import-%ld-%s", dir, (long)getpid(), f->file);
  int64_t size = 0;
  int fd = open_regular(path, &size, &rc, err);
  if (fd < 0) return rc;
  rc = copy_fd(fd, tmp, err);
  close(fd);
  if (rc != EMO_OK) return rc;
  if (rename(tmp, dst) != 0) {
    rc = emoi_fail(err, EMO_EIO, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
    unlink(tmp);
    return rc;
  }
  /* The copy is checked like any cached file (size, sha256): a file changed between the hash
   * and the copy is caught here. */
  if ((rc = emoi_verify_named(p, f, NULL, NULL, err)) != EMO_OK) {
    unlink(dst);
    return rc;
  }
  if (p) {
    emoi_logger l = emoi_logger_make(p->log, p->log_user, p->log_level);
    emoi_log(&l, EMO_LOG_INFO, "%s: verified (sha256 %.16s...), installed as %s", path, hex, dst);
  }
  return EMO_OK;
}

int emo_models_import(const emo_model_params *p, const char *path) {
  emoi_err err = {{0}};
  if (!path) return EMO_EINVAL;
  int rc = import_one(p, path, &err);
  if (rc != EMO_OK && p) {
    emoi_logger l = emoi_logger_make(p->log, p->log_user, p->log_level);
    emoi_log(&l, EMO_LOG_ERROR, "%s", err.msg);
  }
  return rc;
}
