/* log.h: internal logging through the application's log callback (emo_model_params.log for
 * a model load and the model cache, emo_context_params.log for calls on a context). */
#ifndef EMO_CORE_LOG_H
#define EMO_CORE_LOG_H

#include <stdarg.h>

#include "emo.h"

/* Where messages go: the callback, its argument and the most verbose level delivered. */
typedef struct emoi_logger {
  emo_log_fn fn; /* NULL: messages are dropped */
  void *user;
  emo_log_level level;
} emoi_logger;

emoi_logger emoi_logger_make(emo_log_fn fn, void *user, emo_log_level level);

/* Formats and delivers one message if l has a callback and level <= l->level. */
void emoi_log(const emoi_logger *l, emo_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The same with a va_list. */
void emoi_vlog(const emoi_logger *l, emo_log_level level, const char *fmt, va_list ap);

#endif
