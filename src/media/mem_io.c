/* mem_io.c: see mem_io.h. */
#include "media/mem_io.h"

#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <stdio.h>
#include <string.h>

int mio_read(void *opaque, uint8_t *buf, int n) {
  mio_src *m = opaque;
  if (n <= 0) return 0;
  if (m->pos >= m->size) return AVERROR_EOF;
  size_t left = m->size - m->pos, k = (size_t)n < left ? (size_t)n : left;
  memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return (int)k;
}

int64_t mio_seek(void *opaque, int64_t off, int whence) {
  mio_src *m = opaque;
  int64_t base;
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->size; break;
    default: return AVERROR(EINVAL);
  }
  if ((off > 0 && base > INT64_MAX - off) || (off < 0 && base + off < 0)) return AVERROR(EINVAL);
  int64_t pos = base + off;
  if (pos > (int64_t)m->size) return AVERROR(EINVAL);
  m->pos = (size_t)pos;
  return pos;
}
