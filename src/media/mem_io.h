/* mem_io.h: FFmpeg AVIOContext callbacks that read an in-memory buffer (used by
 * vid_open_memory and aud_open_memory, hence by the fuzzers). Bounds-checked seeks. */
#ifndef EMO_MEDIA_MEM_IO_H
#define EMO_MEDIA_MEM_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct mio_src {
  const uint8_t *data; /* borrowed */
  size_t size, pos;
} mio_src;

/* avio_alloc_context read_packet / seek callbacks; opaque is a mio_src *. */
int mio_read(void *opaque, uint8_t *buf, int n);
int64_t mio_seek(void *opaque, int64_t off, int whence);

#endif
