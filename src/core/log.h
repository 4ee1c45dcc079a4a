/* log.h: internal logging through the application's emo_params.log callback. */
#ifndef EMO_CORE_LOG_H
#define EMO_CORE_LOG_H

#include "emo.h"

/* Formats and delivers one message if p has a callback and level <= p->log_level. */
void emoi_log(const emo_params *p, emo_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
