/* outfile.c: the `emo` command's output files. The policy, in the order a run meets it:
 *
 * - Nothing the user had is destroyed by a run. An output that is the same file as an input
 *   (same st_dev and st_ino, so a hard link or a symlink to the input counts too) is refused
 *   before anything is written.
 * - A regular output file (or one that does not exist yet) is written to a temporary
 *   `.NAME.XXXXXX` in the same folder, opened at the start (a permission error shows before
 *   minutes of work) with the mode fopen would give (the old file's mode, else 0666 & ~umask).
 *   It replaces the path, by rename(), only once the run has succeeded or was cleanly
 *   interrupted; on failure (models missing, input missing, a write error) it is removed and
 *   an earlier file at the path is left untouched. A symbolic link is followed: the file it
 *   names is replaced, the link stays.
 * - Paths that are not regular files when the run starts (/dev/null, /dev/full, a FIFO, a
 *   terminal) and paths that name an open descriptor (/dev/stdout, /dev/stderr, /dev/fd/N,
 *   /proc/self/fd/N) are written in place, like "-" (stdout): opened without truncating,
 *   appending when the descriptor is a regular file (so `>>` redirections keep their content).
 * - Records are whole lines: each line (or each batch of complete lines) goes out with one
 *   write(2) and no buffering, so a reader of a running or killed run's output sees only
 *   complete lines (lines past a page may be cut only by SIGKILL in the middle of their write).
 *   Every write, sync and close is checked; the first error is reported once as
 *   `emo: cannot write PATH: REASON`, nothing more is written to that output, a half-written
 *   line is cut off again where the output is a regular file, and the command exits non-zero.
 * - Interruption (the signal handling is in main.c): on SIGINT or SIGTERM the command stops
 *   after the current frame or photo, writes its summary marked "interrupted":true, and
 *   commits the partial output, because a user who presses Ctrl-C expects the file to hold
 *   what was done; the exit status is then 130 or 143. A signal during a step that cannot
 *   stop early (loading models, a whole soundtrack) removes the temporaries and ends the
 *   process at once, leaving earlier outputs untouched. After SIGKILL (or a second Ctrl-C)
 *   the temporary `.NAME.XXXXXX` remains beside the output with complete lines only, and the
 *   earlier output is untouched.
 */
#define _GNU_SOURCE /* realpath with a NULL buffer is POSIX-2008; this also gives O_CLOEXEC */
#include "outfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_TEMPS 32 /* emo batch merge writes one table per record type at once */
#define TMP_CAP 4096

/* Temporaries still open, for outfile_unlink_all_signal_safe (a handler reads them). */
static char g_tmp[MAX_TEMPS][TMP_CAP];
static volatile sig_atomic_t g_tmp_used[MAX_TEMPS];

struct outfile {
  int fd;
  int own;      /* fd was opened here (not stdout) */
  int failed;   /* a write failed: reported, nothing more is written */
  int truncate; /* fd is a regular file at its own offset: a torn line can be cut off */
  int slot;     /* index in g_tmp of the temporary, -1 when written in place */
  char *name;   /* what messages call it */
  char *target; /* the path the temporary replaces */
};

static void fail(outfile *o, int err) {
  if (o->failed) return;
  o->failed = 1;
  fprintf(stderr, "emo: cannot write %s: %s\n", o->name, strerror(err));
}

/* /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N ... */
static int names_descriptor(const char *p) {
  if (strcmp(p, "/dev/stdout") == 0 || strcmp(p, "/dev/stderr") == 0 ||
      strncmp(p, "/dev/fd/", 8) == 0)
    return 1;
  if (strncmp(p, "/proc/", 6) != 0) return 0;
  p += 6;
  if (strncmp(p, "self/", 5) == 0)
    p += 5;
  else if (strncmp(p, "thread-self/", 12) == 0)
    p += 12;
  else {
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    if (*p++ != '/') return 0;
  }
  return strncmp(p, "fd/", 3) == 0;
}

static outfile *new_outfile(const char *name) {
  outfile *o = calloc(1, sizeof *o);
  if (o) o->name = strdup(name);
  if (!o || !o->name) {
    free(o);
    fprintf(stderr, "emo: out of memory\n");
    return NULL;
  }
  o->fd = -1;
  o->slot = -1;
  return o;
}

static void free_outfile(outfile *o) {
  free(o->name);
  free(o->target);
  free(o);
}

/* Creates the temporary beside o->target; returns 0 or -1 (reported). */
static int open_temporary(outfile *o, const struct stat *old) {
  int slot = 0;
  while (slot < MAX_TEMPS && g_tmp_used[slot]) slot++;
  const char *slash = strrchr(o->target, '/');
  const char *base = slash ? slash + 1 : o->target;
  int dir_len = slash ? (int)(slash - o->target) : 0;
  char *t = slot < MAX_TEMPS ? g_tmp[slot] : NULL;
  int n =
      t ? snprintf(t, TMP_CAP, "%.*s%s.%s.XXXXXX", dir_len, o->target, slash ? "/" : "", base) : -1;
  if (n < 0 || n >= TMP_CAP) {
    fprintf(stderr, "emo: cannot write %s: %s\n", o->name,
            t ? "path too long" : "too many output files");
    return -1;
  }
  o->fd = mkostemp(t, O_CLOEXEC);
  if (o->fd < 0) {
    fprintf(stderr, "emo: cannot write %s: %s\n", o->name, strerror(errno));
    return -1;
  }
  g_tmp_used[slot] = 1;
  o->slot = slot;
  o->own = 1;
  o->truncate = 1;
  mode_t mode;
  if (old) {
    mode = old->st_mode & 07777;
  } else {
    mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  fchmod(o->fd, mode); /* best effort, as the old file's owner may differ */
  return 0;
}

outfile *outfile_open(const char *path, const char *const *inputs, int n_inputs) {
  if (!path || strcmp(path, "-") == 0) {
    outfile *o = new_outfile("standard output");
    struct stat so;
    if (o) o->fd = 1;
    if (o && fstat(1, &so) == 0 && S_ISREG(so.st_mode) && !(fcntl(1, F_GETFL) & O_APPEND))
      o->truncate = 1; /* `> file`: a torn last line can be cut off */
    return o;
  }
  struct stat st;
  const int exists = stat(path, &st) == 0;
  for (int i = 0; exists && i < n_inputs; i++) {
    struct stat si;
    if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == st.st_dev &&
        si.st_ino == st.st_ino) {
      fprintf(stderr, "emo: cannot write %s: it is the input %s (refusing to overwrite it)\n", path,
              inputs[i]);
      return NULL;
    }
  }
  outfile *o = new_outfile(path);
  if (!o) return NULL;
  if (exists && (!S_ISREG(st.st_mode) || names_descriptor(path))) {
    int flags = O_WRONLY | O_CLOEXEC | (S_ISREG(st.st_mode) ? O_APPEND : 0);
    o->fd = open(path, flags);
    if (o->fd < 0) {
      fprintf(stderr, "emo: cannot write %s: %s\n", path, strerror(errno));
      free_outfile(o);
      return NULL;
    }
    o->own = 1;
    return o;
  }
  o->target = exists ? realpath(path, NULL) : NULL;
  if (!o->target) o->target = strdup(path);
  if (!o->target || open_temporary(o, exists ? &st : NULL) != 0) {
    if (!o->target) fprintf(stderr, "emo: out of memory\n");
    free_outfile(o);
    return NULL;
  }
  return o;
}

/* Writes all of iov or fails the output; cuts a torn line off a regular file. */
static int write_all(outfile *o, struct iovec *iov, int n) {
  if (!o || o->failed) return -1;
  off_t start = o->truncate ? lseek(o->fd, 0, SEEK_CUR) : -1;
  int wrote = 0;
  while (n > 0) {
    ssize_t w = writev(o->fd, iov, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      if (wrote && start >= 0) (void)!ftruncate(o->fd, start);
      fail(o, e);
      return -1;
    }
    wrote = 1;
    size_t left = (size_t)w;
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

int outfile_line(outfile *o, const char *s) {
  if (!s) {
    if (o) fail(o, ENOMEM);
    return -1;
  }
  struct iovec iov[2] = {{(void *)s, strlen(s)}, {"\n", 1}};
  return write_all(o, iov, 2);
}

int outfile_write(outfile *o, const char *buf, size_t len) {
  if (len == 0) return o && !o->failed ? 0 : -1;
  struct iovec iov[1] = {{(void *)buf, len}};
  return write_all(o, iov, 1);
}

int outfile_ok(const outfile *o) {
  return o && !o->failed;
}

static void release(outfile *o) {
  if (o->own && o->fd >= 0) close(o->fd);
  if (o->slot >= 0) {
    unlink(g_tmp[o->slot]);
    g_tmp_used[o->slot] = 0;
  }
  free_outfile(o);
}

void outfile_abort(outfile **po) {
  if (!po || !*po) return;
  release(*po);
  *po = NULL;
}

int outfile_commit(outfile **po) {
  if (!po || !*po) return 0;
  outfile *o = *po;
  *po = NULL;
  if (!o->failed && o->slot >= 0 && fsync(o->fd) != 0) fail(o, errno);
  if (!o->failed && o->own) {
    int fd = o->fd;
    o->fd = -1;
    if (close(fd) != 0) fail(o, errno);
  }
  if (!o->failed && o->slot >= 0) {
    if (rename(g_tmp[o->slot], o->target) != 0) {
      fail(o, errno);
    } else {
      g_tmp_used[o->slot] = 0;
      o->slot = -1;
    }
  }
  const int ok = !o->failed;
  release(o);
  return ok ? 0 : -1;
}

void outfile_unlink_all_signal_safe(void) {
  for (int i = 0; i < MAX_TEMPS; i++)
    if (g_tmp_used[i]) unlink(g_tmp[i]);
}

char *outfile_parent_real(const char *path, const char **base) {
  const char *slash = strrchr(path, '/');
  if (base) *base = slash ? slash + 1 : path;
  char dir[PATH_MAX];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  return realpath(dir, NULL);
}

/* realpath of path's folder joined with its last component, into out (n bytes); 0 on success. */
static int canonical(const char *path, char *out, size_t n) {
  const char *base;
  char *real = outfile_parent_real(path, &base);
  if (!real) return -1;
  int k = snprintf(out, n, "%s/%s", real, base);
  free(real);
  return k < 0 || (size_t)k >= n ? -1 : 0;
}

int outfile_same(const char *a, const char *b) {
  if (!a || !b || strcmp(a, "-") == 0 || strcmp(b, "-") == 0) return 0;
  struct stat sa, sb;
  const int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return 0;
  char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
  return canonical(a, ca, sizeof ca) == 0 && canonical(b, cb, sizeof cb) == 0 &&
         strcmp(ca, cb) == 0;
}
