/* err.h: internal status codes and the error-message buffer every fallible internal
 * function fills. Codes are the public EMO_E* values (include/emo.h); this header only adds
 * the formatted-message helper so that a failure deep in a reader can say which file, field
 * or op was wrong without printing anything (the library never prints). */
#ifndef EMO_CORE_ERR_H
#define EMO_CORE_ERR_H

#include <stddef.h>

#include "emo.h"

/* A caller-owned message buffer. Functions that fail write one line into it (no newline). */
typedef struct emoi_err {
  char msg[512];
} emoi_err;

/* Formats a message into err (if non-NULL) and returns code, so a failure reads
 * `return emoi_fail(err, EMO_EMODEL, "%s: bad tensor %d", path, i);`. */
int emoi_fail(emoi_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The same for a caller's buffer of n bytes (the public functions that take `char *err,
 * size_t err_size`, such as emo_head_train): formats into buf when buf is non-NULL and n > 0,
 * and returns code. */
int emoi_fail_buf(char *buf, size_t n, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Prepends "prefix: " to an existing message (e.g. the model file name). */
void emoi_err_prefix(emoi_err *err, const char *prefix);

#endif
