/* file.c: see file.h. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for the refusal message. */
static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a pipe (FIFO)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/* Opens path and fstat()s the descriptor: *fd and *st on EMO_OK, else the message (path once)
 * and the descriptor closed. */
static int open_stat(const char *path, int *fd, struct stat *st, emoi_err *err) {
  do *fd = open(path, O_RDONLY | O_CLOEXEC);
  while (*fd < 0 && errno == EINTR);
  if (*fd < 0) return emoi_fail(err, EMO_EIO, "%.300s: cannot open: %s", path, strerror(errno));
  if (fstat(*fd, st) == 0) return EMO_OK;
  int e = errno;
  close(*fd);
  *fd = -1;
  return emoi_fail(err, EMO_EIO, "%.300s: cannot stat: %s", path, strerror(e));
}

int emoi_file_read(const char *path, int64_t max_bytes, unsigned flags, unsigned char **data,
                   size_t *size, emoi_err *err) {
  if (!path || !data || !size) return emoi_fail(err, EMO_EINVAL, "emoi_file_read: NULL argument");
  *data = NULL;
  *size = 0;
  const int streams = (flags & EMOI_FILE_STREAMS) != 0;
  if (streams && max_bytes <= 0)
    return emoi_fail(err, EMO_EINVAL, "%.300s: reading a stream needs a byte cap", path);
  /* The largest byte count we may hold: the cap, or what an allocation can address. */
  const uint64_t cap_bytes = max_bytes > 0 ? (uint64_t)max_bytes : (uint64_t)SIZE_MAX / 4;
  int fd;
  struct stat st;
  int rc = open_stat(path, &fd, &st, err);
  if (rc != EMO_OK) return rc;
  const int regular = S_ISREG(st.st_mode);
  if (!regular && (!streams || S_ISDIR(st.st_mode))) {
    close(fd);
    return emoi_fail(err, EMO_EIO, "%.300s: is %s, not a regular file", path, kind_of(st.st_mode));
  }
  if (regular && st.st_size >= 0 && (uint64_t)st.st_size > cap_bytes) {
    close(fd);
    return emoi_fail(err, EMO_ELIMIT, "%.300s: %lld bytes, over the limit of %llu bytes", path,
                     (long long)st.st_size, (unsigned long long)cap_bytes);
  }
  /* Read at most cap_bytes + 1 (the extra byte shows a file that grew, or a stream that is
   * over the cap), in a buffer sized from fstat for a regular file (+ 1 so that end of file
   * shows without growing it) and grown by doubling otherwise. One more byte holds the NUL. */
  const uint64_t limit = cap_bytes + 1;
  uint64_t want = regular && st.st_size > 0 ? (uint64_t)st.st_size + 1 : (uint64_t)1 << 16;
  size_t cap = (size_t)(want < limit ? want : limit), n = 0;
  unsigned char *buf = malloc(cap + 1);
  rc = buf ? EMO_OK : emoi_fail(err, EMO_ENOMEM, "%.300s: out of memory", path);
  while (rc == EMO_OK) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = emoi_fail(err, EMO_EIO, "%.300s: cannot read: %s", path, strerror(errno));
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n < cap) continue;
    if ((uint64_t)cap >= limit) break; /* read cap_bytes + 1: over the cap */
    size_t nc = (uint64_t)cap * 2 < limit ? cap * 2 : (size_t)limit;
    unsigned char *nb = realloc(buf, nc + 1);
    if (!nb)
      rc = emoi_fail(err, EMO_ENOMEM, "%.300s: out of memory for %zu bytes", path, nc);
    else
      buf = nb, cap = nc;
  }
  close(fd);
  if (rc == EMO_OK && (uint64_t)n > cap_bytes)
    rc = emoi_fail(err, EMO_ELIMIT, "%.300s: %s the limit of %llu bytes", path,
                   regular ? "grew while being read, past" : "stream longer than",
                   (unsigned long long)cap_bytes);
  if (rc != EMO_OK) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *data = buf;
  *size = n;
  return EMO_OK;
}

int emoi_file_map(const char *path, int64_t max_bytes, const unsigned char **data, size_t *size,
                  emoi_err *err) {
  if (!path || !data || !size) return emoi_fail(err, EMO_EINVAL, "emoi_file_map: NULL argument");
  *data = NULL;
  *size = 0;
  const uint64_t cap_bytes = max_bytes > 0 ? (uint64_t)max_bytes : (uint64_t)SIZE_MAX / 4;
  int fd;
  struct stat st;
  int rc = open_stat(path, &fd, &st, err);
  if (rc != EMO_OK) return rc;
  if (!S_ISREG(st.st_mode))
    rc = emoi_fail(err, EMO_EIO, "%.300s: is %s, not a regular file", path, kind_of(st.st_mode));
  else if (st.st_size < 0 || (uint64_t)st.st_size > cap_bytes)
    rc = emoi_fail(err, EMO_ELIMIT, "%.300s: %lld bytes, over the limit of %llu bytes", path,
                   (long long)st.st_size, (unsigned long long)cap_bytes);
  if (rc == EMO_OK && st.st_size == 0) {
    static const unsigned char empty[1];
    *data = empty;
  } else if (rc == EMO_OK) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      rc = emoi_fail(err, EMO_EIO, "%.300s: cannot map: %s", path, strerror(errno));
    else
      *data = p, *size = (size_t)st.st_size;
  }
  close(fd);
  return rc;
}

void emoi_file_unmap(const unsigned char *data, size_t size) {
  if (data && size > 0) munmap((void *)data, size);
}
