/* file.h: the one way emo reads a whole file named by a user or a model manifest into memory.
 * The file is opened once and the open descriptor is fstat()ed (no stat-then-open race).
 * A regular file larger than the cap is refused from its size, before a byte is read.
 * Anything else (a FIFO, a character device such as /dev/zero, a socket) is refused with a
 * message saying so, unless the caller accepts a bounded stream: then at most max_bytes + 1
 * bytes are read, the extra byte telling that the stream is over the cap. So no input makes
 * emo read more than the cap, and a model file is always a regular file.
 * Streaming readers that hash a file as they go (core/models.c, core/fetch.c) keep their own
 * loops; they only share the fstat()-the-descriptor rule. */
#ifndef EMO_CORE_FILE_H
#define EMO_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* emoi_file_read flags. */
enum {
  EMOI_FILE_STREAMS = 1 /* also read a non-regular file (pipe, device), bounded by the cap */
};

/* Reads the file at path into a malloc'd buffer (*data, freed by the caller) with a trailing
 * NUL byte not counted in *size. max_bytes: the cap (> 0); <= 0 means no cap, and is only
 * accepted without EMOI_FILE_STREAMS (a stream needs a bound). Returns EMO_OK; EMO_EIO
 * (cannot open or read, not a regular file, a directory); EMO_ELIMIT (over the cap);
 * EMO_ENOMEM; EMO_EINVAL (NULL argument, or a stream without a cap). Every message starts
 * with the path, once. Thread-safe. */
int emoi_file_read(const char *path, int64_t max_bytes, unsigned flags, unsigned char **data,
                   size_t *size, emoi_err *err);

/* Maps the regular file at path read-only (the same open, fstat and cap rules as
 * emoi_file_read, never a stream) into *data, *size: for large model files, whose pages the
 * kernel can then share and drop. An empty file maps to a non-NULL empty buffer. Release it
 * with emoi_file_unmap. Same errors as emoi_file_read. Thread-safe. */
int emoi_file_map(const char *path, int64_t max_bytes, const unsigned char **data, size_t *size,
                  emoi_err *err);
void emoi_file_unmap(const unsigned char *data, size_t size);

#endif
