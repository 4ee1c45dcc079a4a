/* media_io.c: protocol policy, nested-open check, network deadlines and FFmpeg log routing and
 * allocation cap for the media readers and writer (see media_io.h for the rules and why). Follows
 * FFmpeg 5.1's public API: AVFormatContext.io_open / opaque (nested opens keep the opaque),
 * protocol_whitelist (inherited by nested URLContexts), rw_timeout, av_url_split,
 * av_log_set_callback / av_log_format_line2 / av_log_default_callback, av_max_alloc. */
#include "media/media_io.h"

#include <libavutil/mem.h>
#include <libavutil/opt.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avio.h>
#include <libavutil/log.h>
#include <libavutil/time.h>

/* User-level schemes allowed by default, in the order of media_io.h's justification; those
 * the linked FFmpeg lacks are left out. */
static const char *const default_protocols[] = {"file",  "http", "https", "rtsp", "rtmp",
                                                "rtmps", "udp",  "rtp",   "srt"};

void media_url_scheme(const char *url, char *buf, size_t n) {
  static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
  if (!n) return;
  size_t len = strspn(url, chars);
  if (url[len] != ':' && strncmp(url, "subfile,", 8) != 0) {
    snprintf(buf, n, "file");
    return;
  }
  const char *plus = memchr(url, '+', len);
  if (plus) len = (size_t)(plus - url); /* "hls+http": the outer protocol opens the inner */
  if (len >= n) len = n - 1;
  for (size_t i = 0; i < len; i++) buf[i] = (char)tolower((unsigned char)url[i]);
  buf[len] = 0;
}

/* 1 when name is an item of the comma list. */
static int in_list(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k == n && n && strncasecmp(p, name, n) == 0) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

static int ffmpeg_has(const char *proto) {
  void *it = NULL;
  const char *name;
  while ((name = avio_enum_protocols(&it, 0)))
    if (strcmp(name, proto) == 0) return 1;
  return 0;
}

/* Appends ",item" (or "item") to list (size n) unless present. Returns 0, or -1 when full. */
static int list_add(char *list, size_t n, const char *item) {
  if (in_list(list, item)) return 0;
  size_t len = strlen(list);
  int k = snprintf(list + len, n - len, "%s%s", len ? "," : "", item);
  if (k < 0 || (size_t)k >= n - len) {
    list[len] = 0;
    return -1;
  }
  return 0;
}

static int default_port(const char *scheme) {
  static const struct {
    const char *s;
    int port;
  } t[] = {{"http", 80}, {"https", 443}, {"rtsp", 554}, {"rtmp", 1935}, {"rtmps", 443}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (strcmp(scheme, t[i].s) == 0) return t[i].port;
  return -1;
}

/* Host (lower case) and port (default for the scheme when absent) of a network url. */
static void url_origin(const char *url, const char *scheme, char *host, size_t hn, int *port) {
  char proto[32], auth[256], path[8];
  *port = -1;
  av_url_split(proto, sizeof proto, auth, sizeof auth, host, (int)hn, port, path, sizeof path, url);
  for (char *c = host; *c; c++) *c = (char)tolower((unsigned char)*c);
  if (*port < 0) *port = default_port(scheme);
}

/* realpath of the folder of a local path (with or without "file:"), into out (PATH_MAX).
 * Returns 0, -1 when it does not resolve. */
static int file_dir(const char *url, char *out) {
  if (strncmp(url, "file:", 5) == 0) url += 5;
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", url) >= (int)sizeof tmp) return -1;
  char *slash = strrchr(tmp, '/');
  if (!slash)
    snprintf(tmp, sizeof tmp, ".");
  else if (slash == tmp)
    tmp[1] = 0;
  else
    *slash = 0;
  return realpath(tmp, out) ? 0 : -1;
}

static int guard_interrupt(void *opaque) {
  media_guard *g = opaque;
  if (atomic_load(&g->abort)) return 1;
  if (g->interrupt && g->interrupt(g->interrupt_user)) return 1;
  if (g->deadline && av_gettime_relative() > g->deadline) {
    g->timed_out = 1;
    return 1;
  }
  return 0;
}

int media_guard_init(media_guard *g, const media_io *io, const char *url, emoi_err *err) {
  memset(g, 0, sizeof *g);
  atomic_init(&g->abort, 0);
  atomic_init(&g->n_warn, 0);
  g->port = -1;
  double timeout = io && io->timeout_s != 0 ? io->timeout_s : MEDIA_IO_DEFAULT_TIMEOUT_S;
  if (!(timeout > 0) || !isfinite(timeout) || timeout > 86400)
    return emoi_fail(err, EMO_EINVAL, "%s: timeout %g s out of range (0, 86400]", url,
                     io ? io->timeout_s : 0.0);
  g->timeout_us = (int64_t)(timeout * 1e6);
  if (io) {
    g->interrupt = io->interrupt;
    g->interrupt_user = io->interrupt_user;
    g->other_hosts = io->other_hosts ? 1 : 0;
    g->log = io->log;
  }
  if (io && io->protocols) {
    const char *p = io->protocols;
    if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.,") !=
            strlen(p) ||
        strlen(p) >= sizeof g->protocols)
      return emoi_fail(err, EMO_EINVAL,
                       "protocols \"%.100s\": expected a comma list of protocol names (at most "
                       "%zu characters)",
                       p, sizeof g->protocols - 1);
    snprintf(g->protocols, sizeof g->protocols, "%s", p);
  } else {
    for (size_t i = 0; i < sizeof default_protocols / sizeof *default_protocols; i++)
      if (ffmpeg_has(default_protocols[i]))
        list_add(g->protocols, sizeof g->protocols, default_protocols[i]);
  }
  if (strcmp(url, "-") == 0) {
    g->is_stdin = 1;
    snprintf(g->url, sizeof g->url, "pipe:0");
    snprintf(g->scheme, sizeof g->scheme, "pipe");
  } else {
    if (snprintf(g->url, sizeof g->url, "%s", url) >= (int)sizeof g->url)
      return emoi_fail(err, EMO_EINVAL, "%.200s...: url longer than %zu bytes", url,
                       sizeof g->url - 1);
    media_url_scheme(url, g->scheme, sizeof g->scheme);
    if (!in_list(g->protocols, g->scheme))
      return emoi_fail(err, EMO_EINVAL,
                       "%s: protocol '%s' is not allowed (allowed: %s); to open it, add it to "
                       "the params field `protocols` (CLI: --protocols LIST)",
                       url, g->scheme, g->protocols[0] ? g->protocols : "none");
  }
  /* FFmpeg's whitelist: the user list plus what those protocols open underneath. */
  char *wl = g->ff_whitelist;
  size_t wn = sizeof g->ff_whitelist;
  int bad = list_add(wl, wn, g->protocols[0] ? g->protocols : "none");
  if (g->is_stdin) bad |= list_add(wl, wn, "pipe");
  static const char *const under_tcp[] = {"http",  "https", "rtsp",   "rtmp",    "rtmps",
                                          "rtmpt", "ftp",   "gopher", "gophers", "mmsh"};
  for (size_t i = 0; i < sizeof under_tcp / sizeof *under_tcp; i++)
    if (in_list(g->protocols, under_tcp[i])) bad |= list_add(wl, wn, "tcp");
  if (in_list(g->protocols, "https") || in_list(g->protocols, "rtmps") ||
      in_list(g->protocols, "gophers"))
    bad |= list_add(wl, wn, "tls");
  if (in_list(g->protocols, "https")) bad |= list_add(wl, wn, "httpproxy");
  if (in_list(g->protocols, "rtsp")) { /* RTP over UDP for the media */
    bad |= list_add(wl, wn, "udp");
    bad |= list_add(wl, wn, "rtp");
  }
  if (in_list(g->protocols, "rtp")) bad |= list_add(wl, wn, "udp");
  if (bad) return emoi_fail(err, EMO_EINVAL, "protocols: list too long");
  if (!g->is_stdin && strcmp(g->scheme, "file") == 0) {
    if (file_dir(g->url, g->dir) != 0) g->dir[0] = 0; /* missing: FFmpeg will say so */
  } else if (!g->is_stdin) {
    g->network = 1;
    url_origin(g->url, g->scheme, g->host, sizeof g->host, &g->port);
  }
  return EMO_OK;
}

void media_guard_init_memory(media_guard *g, const media_log *log) {
  memset(g, 0, sizeof *g);
  atomic_init(&g->abort, 0);
  atomic_init(&g->n_warn, 0);
  g->port = -1;
  snprintf(g->ff_whitelist, sizeof g->ff_whitelist, "none");
  snprintf(g->scheme, sizeof g->scheme, "memory");
  if (log) g->log = *log;
}

/* Why url may not be opened from inside g's input (into why), or 0 when it may. */
static int nested_refused(const media_guard *g, const char *url, char *why, size_t n) {
  char scheme[32];
  media_url_scheme(url, scheme, sizeof scheme);
  if (!g->url[0] || strcmp(g->scheme, "memory") == 0) {
    snprintf(why, n, "input from memory may not open '%.200s'", url);
    return 1;
  }
  if (!in_list(g->protocols, scheme)) {
    snprintf(why, n,
             "refused to open '%.200s' named inside the input: protocol '%s' is not allowed "
             "(params field `protocols`, CLI --protocols LIST)",
             url, scheme);
    return 1;
  }
  if (g->other_hosts) return 0;
  if (g->is_stdin) {
    snprintf(why, n, "refused to open '%.200s' named inside standard input", url);
    return 1;
  }
  if (strcmp(scheme, g->scheme) != 0) {
    snprintf(why, n, "refused to open '%.200s' named inside the input: not on the same %s", url,
             g->network ? "host (scheme differs)" : "local folder");
    return 1;
  }
  if (!g->network) {
    char dir[PATH_MAX];
    size_t dl = strlen(g->dir);
    if (!dl || file_dir(url, dir) != 0 || strncmp(dir, g->dir, dl) != 0 ||
        (dir[dl] != 0 && dir[dl] != '/' && strcmp(g->dir, "/") != 0)) {
      snprintf(why, n,
               "refused to open '%.200s' named inside the input: outside the input's folder", url);
      return 1;
    }
    return 0;
  }
  char host[256];
  int port;
  url_origin(url, scheme, host, sizeof host, &port);
  if (strcmp(host, g->host) != 0 || port != g->port) {
    snprintf(why, n,
             "refused to open '%.160s' named inside the input: host %.60s:%d is not the input's "
             "%.60s:%d",
             url, host, port, g->host, g->port);
    return 1;
  }
  return 0;
}

static int guard_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                         AVDictionary **opts) {
  media_guard *g = s->opaque;
  if (!g || !g->orig_io_open || !url) return AVERROR(EPERM);
  if (strcmp(url, g->url) != 0) {
    char why[sizeof g->refused];
    if (nested_refused(g, url, why, sizeof why)) {
      if (!g->refused[0]) snprintf(g->refused, sizeof g->refused, "%s", why);
      av_log(s, AV_LOG_ERROR, "emo: %s\n", why);
      return AVERROR(EPERM);
    }
  }
  int ret = g->orig_io_open(s, pb, url, flags, opts);
  if (ret < 0 || !*pb || g->other_hosts) return ret;
  /* FFmpeg's http follows redirects inside the open: where the data came from is its
   * "location". Data from another host than the url's is refused like a nested open there
   * (the request to it was made, but nothing it sends is read). */
  uint8_t *loc = NULL;
  char scheme[32];
  media_url_scheme(url, scheme, sizeof scheme);
  if (strncmp(scheme, "http", 4) == 0 &&
      av_opt_get(*pb, "location", AV_OPT_SEARCH_CHILDREN, &loc) >= 0 && loc &&
      strcmp((const char *)loc, url) != 0) {
    char host[256], lhost[256], lscheme[32];
    int port, lport;
    url_origin(url, scheme, host, sizeof host, &port);
    media_url_scheme((const char *)loc, lscheme, sizeof lscheme);
    url_origin((const char *)loc, lscheme, lhost, sizeof lhost, &lport);
    if (strcmp(host, lhost) != 0 || port != lport) {
      if (!g->refused[0])
        snprintf(g->refused, sizeof g->refused,
                 "refused the data of '%.120s': redirected to host %.60s:%d, not %.60s:%d "
                 "(params field `other_hosts`, CLI --other-hosts)",
                 url, lhost, lport, host, port);
      av_log(s, AV_LOG_ERROR, "emo: %s\n", g->refused);
      avio_closep(pb);
      ret = AVERROR(EPERM);
    }
  }
  av_free(loc);
  return ret;
}

void media_guard_attach(media_guard *g, AVFormatContext *fmt, AVDictionary **opts) {
  fmt->interrupt_callback.callback = guard_interrupt;
  fmt->interrupt_callback.opaque = g;
  fmt->opaque = g;
  if (fmt->io_open != guard_io_open) g->orig_io_open = fmt->io_open;
  fmt->io_open = guard_io_open;
  av_dict_set(opts, "protocol_whitelist", g->ff_whitelist, 0);
  if (g->network) {
    char us[32];
    snprintf(us, sizeof us, "%lld", (long long)g->timeout_us);
    av_dict_set(opts, "rw_timeout", us, 0);
    /* rtsp's "timeout" is its socket timeout; rtmp's would mean "listen", http's is absent. */
    if (strcmp(g->scheme, "rtsp") == 0 || strcmp(g->scheme, "udp") == 0 ||
        strcmp(g->scheme, "srt") == 0)
      av_dict_set(opts, "timeout", us, 0);
  }
}

void media_guard_arm(media_guard *g, int factor) {
  g->timed_out = 0;
  g->deadline = g->network ? av_gettime_relative() + g->timeout_us * (factor > 0 ? factor : 1) : 0;
}

void media_guard_disarm(media_guard *g) {
  g->deadline = 0;
}

int media_io_transport_error(int e) {
  return e == AVERROR_EXIT || e == AVERROR(ETIMEDOUT) || e == AVERROR(EIO) ||
         e == AVERROR(ECONNRESET) || e == AVERROR(ECONNREFUSED) || e == AVERROR(EPIPE) ||
         e == AVERROR(ENETUNREACH) || e == AVERROR(EHOSTUNREACH) || e == AVERROR(EPERM);
}

int media_guard_fail(media_guard *g, int averror, int fallback, const char *name, const char *what,
                     const char *hint, emoi_err *err) {
  char eb[128];
  if (av_strerror(averror, eb, sizeof eb) < 0) snprintf(eb, sizeof eb, "error %d", averror);
  if (g->refused[0]) return emoi_fail(err, EMO_EIO, "%s: %s", name, g->refused);
  if (g->timed_out || averror == AVERROR(ETIMEDOUT))
    return emoi_fail(err, EMO_EIO, "%s: %s: timed out (nothing received for %.1f s)", name, what,
                     (double)g->timeout_us / 1e6);
  if (averror == AVERROR_EXIT) return emoi_fail(err, EMO_EIO, "%s: %s: interrupted", name, what);
  int io = media_io_transport_error(averror) || averror == AVERROR(ENOENT) ||
           averror == AVERROR(EACCES) || averror == AVERROR(EISDIR) ||
           averror == AVERROR_PROTOCOL_NOT_FOUND || averror == AVERROR_HTTP_BAD_REQUEST ||
           averror == AVERROR_HTTP_UNAUTHORIZED || averror == AVERROR_HTTP_FORBIDDEN ||
           averror == AVERROR_HTTP_NOT_FOUND || averror == AVERROR_HTTP_OTHER_4XX ||
           averror == AVERROR_HTTP_SERVER_ERROR;
  int code = io ? EMO_EIO : fallback;
  return emoi_fail(err, code, "%s: %s (%s)%s", name, what, eb,
                   code == fallback && hint ? hint : "");
}

/* ---- logging --------------------------------------------------------------------------- */

static _Thread_local media_guard *tls_guard;
static _Thread_local char tls_line[1024];
static _Thread_local size_t tls_len;
static _Thread_local int tls_level, tls_prefix = 1;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* emo level for an FFmpeg message from avcl at level, -1 to drop. */
static int map_level(void *avcl, int level) {
  int quiet_source = 0;
  if (avcl) {
    const AVClass *c = *(const AVClass **)avcl;
    if (c) {
      AVClassCategory cat = c->get_category ? c->get_category(avcl) : c->category;
      quiet_source = cat == AV_CLASS_CATEGORY_DECODER || cat == AV_CLASS_CATEGORY_ENCODER ||
                     cat == AV_CLASS_CATEGORY_BITSTREAM_FILTER ||
                     cat == AV_CLASS_CATEGORY_SWSCALER || cat == AV_CLASS_CATEGORY_SWRESAMPLER;
    }
  }
  if (level <= AV_LOG_FATAL) return EMO_LOG_ERROR;
  if (level <= AV_LOG_ERROR) return quiet_source ? EMO_LOG_DEBUG : EMO_LOG_WARN;
  if (level <= AV_LOG_WARNING) return quiet_source ? EMO_LOG_DEBUG : EMO_LOG_INFO;
  if (level <= AV_LOG_VERBOSE) return EMO_LOG_DEBUG;
  return -1;
}

static void deliver(media_guard *g) {
  while (tls_len && (tls_line[tls_len - 1] == '\n' || tls_line[tls_len - 1] == '\r'))
    tls_line[--tls_len] = 0;
  int level = tls_level;
  if (level == EMO_LOG_WARN && atomic_fetch_add(&g->n_warn, 1) >= MEDIA_LOG_MAX_WARN)
    level = EMO_LOG_DEBUG;
  if (tls_len && g->log.fn && level <= g->log.level) g->log.fn(level, tls_line, g->log.user);
  tls_len = 0;
  tls_line[0] = 0;
}

static void media_av_log(void *avcl, int level, const char *fmt, va_list vl) {
  media_guard *g = tls_guard;
  if (!g) {
    av_log_default_callback(avcl, level, fmt, vl);
    return;
  }
  int el = map_level(avcl, level & 0xff);
  if (el < 0 || !g->log.fn || el > g->log.level) return; /* nothing is formatted for nobody */
  char part[1024];
  if (tls_len == 0) tls_level = el;
  av_log_format_line2(avcl, level & 0xff, fmt, vl, part, sizeof part, &tls_prefix);
  size_t k = strlen(part), room = sizeof tls_line - 1 - tls_len;
  if (k > room) k = room;
  memcpy(tls_line + tls_len, part, k);
  tls_len += k;
  tls_line[tls_len] = 0;
  if (tls_len && (tls_line[tls_len - 1] == '\n' || tls_len == sizeof tls_line - 1)) deliver(g);
}

static void ffmpeg_setup(void) {
  av_log_set_callback(media_av_log);
  av_max_alloc(MEDIA_MAX_ALLOC);
}

media_guard *media_log_enter(media_guard *g) {
  pthread_once(&setup_once, ffmpeg_setup);
  media_guard *prev = tls_guard;
  if (prev != g && tls_len && prev) deliver(prev);
  tls_guard = g;
  return prev;
}

void media_log_leave(media_guard *prev) {
  media_guard *g = tls_guard;
  if (g && g != prev && tls_len) deliver(g); /* a line FFmpeg left without its newline */
  tls_len = 0;
  tls_prefix = 1;
  tls_guard = prev;
}
