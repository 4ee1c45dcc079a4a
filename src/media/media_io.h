/* media_io.h: what the FFmpeg readers and the writer (video_decode.c, audio_decode.c,
 * video_encode.c) may reach, how long they wait for the network, and where FFmpeg's own
 * messages go. One place for the policy so that video, audio and the writer's audio source
 * follow the same rules.
 *
 * Protocols. A url's scheme is found the way FFmpeg's url_find_protocol finds it (the
 * letters before ':', the part before '+' for nested schemes such as "hls+http"; a plain
 * path is "file"). By default a url may use:
 *   file         local files (and V4L2 devices, which are files);
 *   http, https  the usual way to fetch a video from a server (progressive MP4, HLS);
 *   rtsp         IP cameras;
 *   rtmp, rtmps  live streams from streaming servers;
 *   udp, rtp     multicast/unicast live streams (MPEG-TS over UDP, RTP from rtsp);
 *   srt          live contribution streams (only when the linked FFmpeg has libsrt).
 * and "-" alone means standard input (FFmpeg's pipe:0); "pipe" is not otherwise allowed.
 * tcp, tls (and httpproxy) are only allowed as the transport FFmpeg opens underneath
 * http(s), rtsp and rtmp(s): a user url "tcp://..." is refused. Everything else (concat,
 * subfile, gopher, ftp, data, crypto, hls as a protocol, async, cache, unix, ...) is refused
 * with a message that names the protocol and says how to allow it: media_io.protocols (the
 * params field `protocols`, the CLI option `--protocols LIST`). FFmpeg's protocol_whitelist
 * (user list + transports) is inherited by every nested open, playlist segments included.
 *
 * Nested opens (playlist segments, keys, sub-files) must stay where the parent url is: the
 * same scheme family, host and port for a network url; for a local file, a file in the same
 * folder or below it (FFmpeg 5.1's hls demuxer only checks file extensions, and its nested
 * opens go through AVFormatContext.io_open, which media_guard_attach wraps to compare each
 * nested url with the parent). media_io.other_hosts = 1 lifts that rule; input from memory
 * or stdin may open nothing else.
 *
 * Timeouts. For a network url every socket operation gets FFmpeg's rw_timeout (and rtsp its
 * socket "timeout"), and an AVIOInterruptCB deadline bounds each whole open (3 x timeout,
 * covering probe and stream analysis) and each packet read (timeout): a server that accepts
 * and never answers, or that sends headers and stalls, ends the call with EMO_EIO "timed
 * out". Default 10 s. Local files and stdin have no deadline (a pipe may be a slow live feed).
 *
 * Logging. The library never prints and never changes FFmpeg's global log level. Once per
 * process an av_log callback is installed: a message emitted on a thread where emo is inside
 * a reader's or writer's FFmpeg call (media_log_enter .. media_log_leave, a thread-local
 * pointer) goes to that reader's media_log sink (or nowhere when it has none); a message on
 * any other thread goes to av_log_default_callback, so an application's own FFmpeg use logs
 * as before. An application that installs its own av_log callback after emo replaces emo's,
 * and then receives emo's FFmpeg messages as well. Level mapping: FFmpeg panic/fatal ->
 * EMO_LOG_ERROR; error -> EMO_LOG_WARN, except from decoders, encoders and parsers (damaged
 * frames: one message per broken slice) -> EMO_LOG_DEBUG; warning -> EMO_LOG_INFO; info and
 * verbose -> EMO_LOG_DEBUG; FFmpeg debug/trace dropped. After MEDIA_LOG_MAX_WARN warnings from
 * one reader the rest go at EMO_LOG_DEBUG, so a damaged file cannot flood a terminal.
 *
 * Allocation cap. With the log callback, once per process, FFmpeg's largest single allocation
 * (av_max_alloc, INT_MAX by default) is lowered to MEDIA_MAX_ALLOC: some demuxers size a buffer
 * from a header field before reading it (the WAV reader's LIST/INFO chunks, ff_read_riff_info,
 * zeroed an allocation of 1.6 GB for a 142-byte file), and the cap turns such a header into
 * an allocation failure, reported like any damaged input. The largest real buffer is a
 * decoded 8K frame (about 130 MB). This is process-wide, so it also applies to an
 * application's own FFmpeg use. */
#ifndef EMO_MEDIA_MEDIA_IO_H
#define EMO_MEDIA_MEDIA_IO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "core/err.h"

#define MEDIA_IO_DEFAULT_TIMEOUT_S 10.0
#define MEDIA_LOG_MAX_WARN 20
#define MEDIA_MAX_ALLOC ((size_t)512 << 20)

/* Where FFmpeg's messages for one reader/writer go: fn(level, msg, user) with level an
 * emo_log_level (EMO_LOG_ERROR..EMO_LOG_DEBUG) no more verbose than .level; msg is one line
 * without a newline, valid during the call. fn NULL: dropped. fn is called on the thread
 * that runs the FFmpeg call (the decoding thread of a threaded video reader). */
typedef struct media_log {
  void (*fn)(int level, const char *msg, void *user);
  void *user;
  int level;
} media_log;

struct vid_frame; /* media/video_decode.h */

typedef struct media_io {
  const char *protocols;        /* comma list of schemes a url may use (copied at open); NULL = the
                                   default list above; "" refuses every url except "-" */
  double timeout_s;             /* every network open and read; 0 = MEDIA_IO_DEFAULT_TIMEOUT_S */
  int (*interrupt)(void *user); /* optional: returns non-zero to stop a blocking call */
  void *interrupt_user;
  int other_hosts; /* 1: nested opens (playlist segments) may go to other hosts/folders */
  media_log log;
  /* Optional, video readers only (vid_open): the one demuxer of a source that cannot be opened
   * twice (standard input, a pipe, a network url). The packets of the input's best audio stream
   * st are handed to audio_tap as they are demuxed, on the thread that demuxes (the decoding
   * thread of a threaded reader), in demux order, pkt borrowed for the call; once after the last
   * one with pkt NULL (the end of the input or a read error); when the input has no audio
   * stream, once at open with pkt and st NULL. The callback must not block for long: the frames
   * wait behind it. */
  void (*audio_tap)(const AVPacket *pkt, const AVStream *st, void *user);
  void *audio_tap_user;
  /* Optional, video readers only (vid_open): the caller's own per-frame work that needs only
   * the frame (media/ knows nothing of it), done on the decoding thread of a threaded reader
   * (the caller's otherwise) as soon as a delivered frame is converted, before it is queued:
   * f is the frame vid_read will hand over (struct vid_frame, media/video_decode.h), its slot
   * (0..VID_MAX_SLOTS-1) the buffer it lives in, so that frame_tap can keep what it makes per
   * slot for the caller to take when vid_read delivers that frame (vid_frame.slot); a slot is
   * not written again before the caller's next vid_read. Must not block for long. */
  void (*frame_tap)(const struct vid_frame *f, void *user);
  void *frame_tap_user;
} media_io;

/* Per-reader state: the policy (copied from a media_io), the url FFmpeg is given, the open
 * deadline and what was refused. Embedded in the reader/writer (no allocation). */
typedef struct media_guard {
  char url[1024];         /* what FFmpeg opens ("pipe:0" for "-") */
  char protocols[256];    /* user-level schemes */
  char ff_whitelist[320]; /* protocols + transports, FFmpeg's protocol_whitelist */
  char scheme[32];        /* of url */
  char host[256];         /* of url (network), lower case */
  int port;               /* of url, -1 when none */
  char dir[1024];         /* folder of a local file url (realpath), "" otherwise */
  int network, is_stdin, other_hosts;
  int64_t timeout_us;
  int64_t deadline; /* av_gettime_relative() limit, 0 = none */
  int timed_out;    /* the interrupt callback fired on the deadline */
  atomic_int abort; /* set by the owner's close: stop blocking calls */
  int (*interrupt)(void *);
  void *interrupt_user;
  int (*orig_io_open)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                      AVDictionary **opts); /* FFmpeg's own, called once a url is allowed */
  char refused[384];                        /* first refused nested open, "" none */
  media_log log;
  atomic_int n_warn; /* warnings delivered so far (MEDIA_LOG_MAX_WARN) */
} media_guard;

/* Checks url against io's policy and fills *g (io NULL = defaults). Returns EMO_OK, or
 * EMO_EINVAL with a message naming the protocol and `protocols` / `--protocols LIST` when the
 * scheme is not allowed, or for bad io fields (negative or non-finite timeout, a list that
 * does not fit). Thread-safe. */
int media_guard_init(media_guard *g, const media_io *io, const char *url, emoi_err *err);

/* Sets up fmt (from avformat_alloc_context, before avformat_open_input) and *opts for g:
 * interrupt callback, io_open wrapper checking nested urls, protocol_whitelist, socket
 * timeouts. fmt->opaque becomes g: g must outlive fmt and must not move. */
void media_guard_attach(media_guard *g, AVFormatContext *fmt, AVDictionary **opts);

/* A guard for input from memory: no url, nested opens refused, no timeout. */
void media_guard_init_memory(media_guard *g, const media_log *log);

/* Starts the deadline for one blocking call: factor x timeout from now (network urls only). */
void media_guard_arm(media_guard *g, int factor);
void media_guard_disarm(media_guard *g);

/* Status and message "name: what (FFmpeg's reason)" for an FFmpeg error averror: EMO_EIO
 * "timed out" when the deadline or a socket timeout fired, EMO_EIO with the refusal when a
 * nested open was refused, EMO_EIO for failures of the file or transport, else fallback
 * (e.g. EMO_EFORMAT for a demuxer's error), then with hint (may be NULL) appended. */
int media_guard_fail(media_guard *g, int averror, int fallback, const char *name, const char *what,
                     const char *hint, emoi_err *err);

/* 1 when averror ended a read because of time, interruption or the transport (not bytes). */
int media_io_transport_error(int averror);

/* Thread-local FFmpeg log routing (see above). enter returns the previous guard of this
 * thread, which leave restores: calls nest. Installs the av_log callback and the allocation cap
 * on first use. */
media_guard *media_log_enter(media_guard *g);
void media_log_leave(media_guard *prev);

/* Scheme of url as FFmpeg would pick the protocol ("file" for a path), into buf. */
void media_url_scheme(const char *url, char *buf, size_t n);

#endif
