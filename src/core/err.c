/* err.c: formatting of internal error messages (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int emoi_fail(emoi_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int emoi_fail_buf(char *buf, size_t n, int code, const char *fmt, ...) {
  if (buf && n) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
  }
  return code;
}

void emoi_err_prefix(emoi_err *err, const char *prefix) {
  if (!err || !prefix) return;
  char old[sizeof err->msg];
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", prefix, old);
}
