/* video_decode.c: FFmpeg-based video reader (see video_decode.h for the contract).
 *
 * Pipeline: avformat demux -> avcodec decode (send/receive API) -> swscale to RGB24 at the
 * header size -> own 90/180/270-degree rotation -> a slot buffer handed to the caller. With
 * threaded = 1 a worker pthread runs that pipeline into a ring of VID_SLOTS buffers (one held
 * by the caller, the rest decoded ahead). Leaves to others: analysis, audio decoding,
 * seeking. Follows FFmpeg 5.1's documented API (libavcodec send/receive, display matrix
 * convention of libavutil/display.h: av_display_rotation_get gives the counter-clockwise
 * angle, so the clockwise rotation to display is its negation, as ffmpeg's -autorotate). */
#include "media/video_decode.h"
#include "media/media_io.h"
#include "media/mem_io.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#define VID_SLOTS VID_MAX_SLOTS   /* 1 held by the caller + up to 3 decoded ahead */
#define VID_SWS_SLACK 256         /* bytes after each frame buffer, see finish_open */
#define VID_MAX_CONSEC_ERRORS 100 /* consecutive failed packets before giving up */
#define VID_MAX_READ_RETRIES 16   /* consecutive demuxer errors before giving up */
#define VID_PROBESIZE (5 << 20)   /* bytes read to probe the format */
#define VID_ANALYZE_US (5 * (int64_t)AV_TIME_BASE) /* media time analysed at open */
#define VID_MEM_IO_BUF 4096

enum { SLOT_FREE = 0, SLOT_WRITING, SLOT_QUEUED, SLOT_HELD };

typedef struct vid_slot {
  uint8_t *rgb;  /* (out_h, stride) RGB24 */
  uint8_t *gray; /* (gray_h, gray_stride) luma / gray_k, NULL when not asked for */
  int has_gray;  /* gray holds this frame's luma */
  double t;
  int64_t index;
  int state;
} vid_slot;

struct vid_reader {
  char name[160]; /* url or "<memory>", for messages */
  AVFormatContext *fmt;
  AVIOContext *avio; /* custom memory I/O, NULL for urls */
  mio_src mem;       /* vid/aud_open_memory input */
  AVStream *st;
  int vstream;
  AVCodecContext *dec;
  AVPacket *pkt;
  AVFrame *frame;
  struct SwsContext *sws;
  int sws_cs, sws_range; /* colorspace details last given to sws (-1 = none) */
  int gray_max_side, gray_k, gray_w, gray_h;
  uint32_t *gray_acc; /* (gray_w) block sums, convert_gray's scratch */
  ptrdiff_t gray_stride;
  vid_info info;
  int dec_w, dec_h; /* header size before rotation: frames are scaled to it */
  ptrdiff_t stride; /* of the output slots */
  uint8_t *tmp;     /* (dec_h, tmp_stride) RGB24 before rotation; NULL when rotation 0 */
  ptrdiff_t tmp_stride;
  vid_slot slots[VID_SLOTS];
  double analysis_fps;
  double next_instant; /* next sampling instant in seconds */
  int64_t start_pts;
  int have_start;
  double last_t;
  int have_t;
  int64_t n_decoded;
  int64_t failed_packets, corrupt_frames, corrupt_packets;
  int consec_errors;
  int gave_up;    /* stopped after VID_MAX_CONSEC_ERRORS */
  int read_error; /* AVERROR of the demuxer that ended reading (0 = clean EOF) */
  int read_retries;
  int64_t read_err_pos;
  int eof_sent;
  double last_pkt_t;   /* media time of the end of the latest demuxed video packet */
  double hdr_duration; /* video stream duration stated by the container index, 0 if none */
  media_guard guard;   /* protocols, deadlines, abort flag, log sink (media_io.h) */
  /* media_io.audio_tap: the best audio stream's packets go there (astream -1: none) */
  void (*audio_tap)(const AVPacket *pkt, const AVStream *st, void *user);
  void *audio_tap_user;
  void (*frame_tap)(const vid_frame *f, void *user); /* media_io.frame_tap, NULL none */
  void *frame_tap_user;
  int astream, tap_ended;
  /* Threading (threaded = 1). */
  int threaded, th_started, sync_ready;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int queue[VID_SLOTS]; /* FIFO of slot indices, q_head.. */
  int q_head, q_count;
  int held; /* slot the caller holds, -1 none */
  int end_reached, end_status;
  emoi_err end_err;
  int done; /* the caller saw the end (or an error): further reads return 0 */
};

static pthread_once_t vid_dev_once = PTHREAD_ONCE_INIT;
static void vid_devices(void) {
  avdevice_register_all();
}

static const char *averr(int e, char *buf, size_t n) {
  if (av_strerror(e, buf, n) < 0) snprintf(buf, n, "error %d", e);
  return buf;
}

/* ---- opening ------------------------------------------------------------------------- */

/* Clockwise rotation in {0, 90, 180, 270} from the stream's display matrix (0 if none or not
 * a multiple of 90 degrees). */
static int stream_rotation(AVStream *st) {
  size_t size = 0;
  const uint8_t *dm = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (!dm || size < 9 * sizeof(int32_t)) return 0;
  double a = av_display_rotation_get((const int32_t *)dm);
  if (!isfinite(a)) return 0;
  double cw = -a;
  cw -= 360.0 * floor(cw / 360.0);
  long q = lround(cw / 90.0);
  if (fabs(cw - 90.0 * (double)q) > 1.0) return 0;
  return (int)((q % 4) * 90);
}

static int pick_video_stream(AVFormatContext *fmt) {
  int best = -1;
  int64_t best_area = -1;
  for (unsigned i = 0; i < fmt->nb_streams; i++) {
    AVStream *s = fmt->streams[i];
    if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if (s->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;
    if (!avcodec_find_decoder(s->codecpar->codec_id)) continue;
    int64_t area = (int64_t)s->codecpar->width * s->codecpar->height;
    if (area > best_area) {
      best_area = area;
      best = (int)i;
    }
  }
  return best;
}

static int finish_open(vid_reader *r, int64_t max_pixels, emoi_err *err) {
  char eb[128];
  int ret;
  const char *fname = r->fmt->iformat ? r->fmt->iformat->name : "";
  /* ANSI/text-art "video" demuxers would turn any text file into a video: refuse them. */
  static const char *text_formats[] = {"tty", "bin", "xbin", "adf", "idf"};
  for (size_t i = 0; i < sizeof text_formats / sizeof *text_formats; i++)
    if (strcmp(fname, text_formats[i]) == 0)
      return emoi_fail(err, EMO_EFORMAT, "%s: not a video (detected as text/%s)", r->name, fname);
  /* Index-based containers (MP4/MOV, AVI) state each stream's duration before any
   * estimation: remember it to recognise a file cut short (the demuxer just sees EOF). */
  double hdr_dur[64] = {0};
  for (unsigned i = 0; i < r->fmt->nb_streams && i < 64; i++) {
    AVStream *s = r->fmt->streams[i];
    if (s->duration > 0 && s->time_base.num > 0 && s->time_base.den > 0)
      hdr_dur[i] = (double)s->duration * av_q2d(s->time_base);
  }
  ret = avformat_find_stream_info(r->fmt, NULL);
  media_guard_disarm(&r->guard);
  if (ret < 0)
    return media_guard_fail(&r->guard, ret, EMO_EFORMAT, r->name, "cannot read stream info", NULL,
                            err);
  int vs = pick_video_stream(r->fmt);
  if (vs < 0) {
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
      if (r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
          !(r->fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return emoi_fail(err, EMO_EFORMAT, "%s: no decoder for video codec %s", r->name,
                         avcodec_get_name(r->fmt->streams[i]->codecpar->codec_id));
    return emoi_fail(err, EMO_EFORMAT, "%s: no video stream (format %s)", r->name, fname);
  }
  r->vstream = vs;
  r->st = r->fmt->streams[vs];
  if (vs < 64 && isfinite(hdr_dur[vs]) && hdr_dur[vs] < 1e9) r->hdr_duration = hdr_dur[vs];
  if (r->audio_tap) { /* the same stream the soundtrack's own reader would pick (aud_open) */
    int as = av_find_best_stream(r->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    r->astream = as >= 0 ? as : -1;
  }
  for (unsigned i = 0; i < r->fmt->nb_streams; i++) {
    if (r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) r->info.has_audio = 1;
    if ((int)i != vs && (int)i != r->astream) r->fmt->streams[i]->discard = AVDISCARD_ALL;
  }
  AVCodecParameters *par = r->st->codecpar;
  int w = par->width, h = par->height;
  if (w <= 0 || h <= 0 ||
      av_image_check_size2((unsigned)w, (unsigned)h, INT64_MAX, AV_PIX_FMT_RGB24, 0, NULL) < 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: video stream has invalid dimensions %dx%d", r->name, w,
                     h);
  if ((int64_t)w * h > max_pixels)
    return emoi_fail(err, EMO_ELIMIT, "%s: video %dx%d exceeds max_pixels %lld", r->name, w, h,
                     (long long)max_pixels);
  r->dec_w = w;
  r->dec_h = h;
  r->info.rotation = stream_rotation(r->st);
  int swap = r->info.rotation == 90 || r->info.rotation == 270;
  r->info.width = swap ? h : w;
  r->info.height = swap ? w : h;
  snprintf(r->info.codec, sizeof r->info.codec, "%s", avcodec_get_name(par->codec_id));
  AVRational fr = r->st->avg_frame_rate;
  if (fr.num <= 0 || fr.den <= 0) fr = r->st->r_frame_rate;
  double fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0.0;
  r->info.fps = (isfinite(fps) && fps > 0 && fps <= 1000) ? fps : 0.0;
  double dur = 0;
  if (r->st->duration > 0 && r->st->time_base.num > 0 && r->st->time_base.den > 0)
    dur = (double)r->st->duration * av_q2d(r->st->time_base);
  else if (r->fmt->duration > 0)
    dur = (double)r->fmt->duration / AV_TIME_BASE;
  r->info.duration = (isfinite(dur) && dur > 0 && dur < 1e9) ? dur : 0.0;

  const AVCodec *codec = avcodec_find_decoder(par->codec_id);
  r->dec = avcodec_alloc_context3(codec);
  if (!r->dec) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (decoder)", r->name);
  ret = avcodec_parameters_to_context(r->dec, par);
  if (ret < 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: bad codec parameters (%s)", r->name,
                     averr(ret, eb, sizeof eb));
  r->dec->pkt_timebase = r->st->time_base;
  r->dec->max_pixels = max_pixels;
  r->dec->thread_count = 1; /* the reader thread already overlaps with analysis */
  ret = avcodec_open2(r->dec, codec, NULL);
  if (ret < 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: cannot open %s decoder (%s)", r->name,
                     avcodec_get_name(par->codec_id), averr(ret, eb, sizeof eb));
  r->pkt = av_packet_alloc();
  r->frame = av_frame_alloc();
  if (!r->pkt || !r->frame) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);

  /* Output buffers: fixed for the reader's life. */
  r->stride = FFALIGN((ptrdiff_t)r->info.width * 3, 64);
  /* libswscale's SIMD writers may store up to a vector past the last row's end: slack. */
  size_t slot_bytes = (size_t)r->stride * (size_t)r->info.height + VID_SWS_SLACK;
  int nslots = r->threaded ? VID_SLOTS : 1;
  for (int i = 0; i < nslots; i++) {
    r->slots[i].rgb = av_malloc(slot_bytes);
    if (!r->slots[i].rgb) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (frames)", r->name);
  }
  if (r->gray_max_side > 0 && r->info.rotation == 0) {
    int longer = w > h ? w : h;
    r->gray_k = (longer + r->gray_max_side - 1) / r->gray_max_side;
    r->gray_w = w / r->gray_k;
    r->gray_h = h / r->gray_k;
    r->gray_stride = FFALIGN((ptrdiff_t)r->gray_w, 64);
    r->gray_acc = av_malloc((size_t)(r->gray_w > 0 ? r->gray_w : 1) * sizeof *r->gray_acc);
    if (!r->gray_acc) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (gray)", r->name);
    for (int i = 0; i < nslots && r->gray_w > 0 && r->gray_h > 0; i++) {
      r->slots[i].gray = av_malloc((size_t)r->gray_stride * (size_t)r->gray_h + VID_SWS_SLACK);
      if (!r->slots[i].gray)
        return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (gray frames)", r->name);
    }
  }
  if (r->info.rotation) {
    r->tmp_stride = FFALIGN((ptrdiff_t)w * 3, 64);
    r->tmp = av_malloc((size_t)r->tmp_stride * (size_t)h + VID_SWS_SLACK);
    if (!r->tmp) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (rotation)", r->name);
  }
  if (r->st->start_time != AV_NOPTS_VALUE) {
    r->start_pts = r->st->start_time;
    r->have_start = 1;
  }
  return EMO_OK;
}

static vid_reader *reader_alloc(const char *name) {
  vid_reader *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  snprintf(r->name, sizeof r->name, "%s", name);
  r->vstream = -1;
  r->astream = -1;
  r->held = -1;
  r->sws_cs = r->sws_range = -1;
  return r;
}

static void *worker_main(void *arg);

static int start_thread(vid_reader *r, emoi_err *err) {
  if (pthread_mutex_init(&r->mu, NULL) != 0)
    return emoi_fail(err, EMO_ENOMEM, "%s: cannot create mutex", r->name);
  if (pthread_cond_init(&r->cv, NULL) != 0) {
    pthread_mutex_destroy(&r->mu);
    return emoi_fail(err, EMO_ENOMEM, "%s: cannot create condition variable", r->name);
  }
  r->sync_ready = 1;
  if (pthread_create(&r->th, NULL, worker_main, r) != 0)
    return emoi_fail(err, EMO_ENOMEM, "%s: cannot start the decoding thread", r->name);
  r->th_started = 1;
  return EMO_OK;
}

int vid_open(const char *url, const media_io *io, int64_t max_pixels, double analysis_fps,
             int threaded, int gray_max_side, vid_reader **out, emoi_err *err) {
  if (out) *out = NULL;
  if (!url || !url[0] || !out || max_pixels <= 0 || !(analysis_fps >= 0) ||
      !isfinite(analysis_fps) || gray_max_side < 0)
    return emoi_fail(err, EMO_EINVAL, "vid_open: invalid argument");
  vid_reader *r = reader_alloc(url);
  if (!r) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", url);
  r->analysis_fps = analysis_fps;
  r->threaded = threaded ? 1 : 0;
  r->gray_max_side = gray_max_side;
  if (io) {
    r->audio_tap = io->audio_tap;
    r->audio_tap_user = io->audio_tap_user;
    r->frame_tap = io->frame_tap;
    r->frame_tap_user = io->frame_tap_user;
  }
  int rc = media_guard_init(&r->guard, io, url, err);
  if (rc != EMO_OK) {
    free(r);
    return rc;
  }
  media_guard *log_prev = media_log_enter(&r->guard);
  AVDictionary *opts = NULL;
  const AVInputFormat *ifmt = NULL;
  if (strncmp(url, "/dev/video", 10) == 0) {
    pthread_once(&vid_dev_once, vid_devices);
    ifmt = av_find_input_format("video4linux2");
    if (!ifmt) {
      rc = emoi_fail(err, EMO_EUNSUPPORTED, "%s: this FFmpeg has no video4linux2 input", url);
      goto fail;
    }
  }
  r->fmt = avformat_alloc_context();
  if (!r->fmt) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", url);
    goto fail;
  }
  media_guard_attach(&r->guard, r->fmt, &opts);
  r->fmt->probesize = VID_PROBESIZE;
  r->fmt->max_analyze_duration = VID_ANALYZE_US;
  media_guard_arm(&r->guard, 3); /* open + stream analysis: a few round trips */
  int ret = avformat_open_input(&r->fmt, r->guard.url, ifmt, &opts);
  av_dict_free(&opts);
  if (ret < 0) { /* avformat_open_input freed the context */
    media_guard_disarm(&r->guard);
    rc = media_guard_fail(&r->guard, ret, EMO_EFORMAT, url, "cannot open as video",
                          ": not a media file, or a corrupt/truncated container", err);
    goto fail;
  }
  rc = finish_open(r, max_pixels, err);
  if (rc != EMO_OK) goto fail;
  if (r->audio_tap && r->astream < 0) { /* nothing will come: say so now */
    r->tap_ended = 1;
    r->audio_tap(NULL, NULL, r->audio_tap_user);
  }
  if (r->threaded) {
    rc = start_thread(r, err);
    if (rc != EMO_OK) goto fail;
  }
  media_log_leave(log_prev);
  *out = r;
  return EMO_OK;
fail:
  vid_close(&r);
  media_log_leave(log_prev);
  return rc;
}

int vid_open_memory(const void *data, size_t size, int64_t max_pixels, int gray_max_side,
                    vid_reader **out, emoi_err *err) {
  if (out) *out = NULL;
  if ((!data && size) || !out || max_pixels <= 0 || gray_max_side < 0)
    return emoi_fail(err, EMO_EINVAL, "vid_open_memory: invalid argument");
  vid_reader *r = reader_alloc("<memory>");
  if (!r) return emoi_fail(err, EMO_ENOMEM, "<memory>: out of memory");
  r->mem.data = data;
  r->mem.size = size;
  r->gray_max_side = gray_max_side;
  /* Bytes in memory must not make a playlist demuxer open other files or URLs. */
  media_guard_init_memory(&r->guard, NULL);
  media_guard *log_prev = media_log_enter(&r->guard);
  char eb[128];
  int rc;
  AVDictionary *opts = NULL;
  uint8_t *iobuf = av_malloc(VID_MEM_IO_BUF);
  r->fmt = avformat_alloc_context();
  if (iobuf)
    r->avio = avio_alloc_context(iobuf, VID_MEM_IO_BUF, 0, &r->mem, mio_read, NULL, mio_seek);
  if (!r->fmt || !r->avio) {
    if (!r->avio) av_free(iobuf);
    rc = emoi_fail(err, EMO_ENOMEM, "<memory>: out of memory");
    goto fail;
  }
  r->fmt->pb = r->avio;
  media_guard_attach(&r->guard, r->fmt, &opts);
  r->fmt->probesize = VID_PROBESIZE;
  r->fmt->max_analyze_duration = VID_ANALYZE_US;
  int ret = avformat_open_input(&r->fmt, NULL, NULL, &opts);
  av_dict_free(&opts);
  if (ret < 0) {
    rc = emoi_fail(err, EMO_EFORMAT, "<memory>: cannot open as video (%s)",
                   averr(ret, eb, sizeof eb));
    goto fail;
  }
  rc = finish_open(r, max_pixels, err);
  if (rc != EMO_OK) goto fail;
  media_log_leave(log_prev);
  *out = r;
  return EMO_OK;
fail:
  vid_close(&r);
  media_log_leave(log_prev);
  return rc;
}

void vid_get_info(const vid_reader *r, vid_info *info) {
  if (!info) return;
  if (!r) {
    memset(info, 0, sizeof *info);
    return;
  }
  *info = r->info;
}

void vid_get_damage(const vid_reader *r, int64_t *failed_packets, int64_t *corrupt_frames) {
  if (failed_packets) *failed_packets = r ? r->failed_packets : 0;
  if (corrupt_frames) *corrupt_frames = r ? r->corrupt_frames : 0;
}

/* ---- decoding ------------------------------------------------------------------------ */

/* Copies src (sh rows of sw RGB pixels) rotated clockwise by rot into dst. */
static void rotate_rgb(const uint8_t *src, int sw, int sh, ptrdiff_t ss, uint8_t *dst, ptrdiff_t ds,
                       int rot) {
  if (rot == 180) {
    for (int y = 0; y < sh; y++) {
      const uint8_t *s = src + (ptrdiff_t)(sh - 1 - y) * ss + (ptrdiff_t)(sw - 1) * 3;
      uint8_t *d = dst + (ptrdiff_t)y * ds;
      for (int x = 0; x < sw; x++, s -= 3, d += 3) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
      }
    }
    return;
  }
  /* Output is sh wide and sw tall. 90 cw: out(x, y) = in(col y, row sh-1-x);
   * 270 cw: out(x, y) = in(col sw-1-y, row x). */
  int ow = sh, oh = sw;
  for (int y = 0; y < oh; y++) {
    uint8_t *d = dst + (ptrdiff_t)y * ds;
    if (rot == 90) {
      const uint8_t *s = src + (ptrdiff_t)(sh - 1) * ss + (ptrdiff_t)y * 3;
      for (int x = 0; x < ow; x++, s -= ss, d += 3) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
      }
    } else {
      const uint8_t *s = src + (ptrdiff_t)(sw - 1 - y) * 3;
      for (int x = 0; x < ow; x++, s += ss, d += 3) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
      }
    }
  }
}

/* 1 when frames of pixel format f carry 8-bit luma as a plane of its own (planar or
 * semi-planar YUV, gray), which convert_gray reads as is. */
static int luma_plane_format(int f) {
  const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f);
  return d &&
         !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BE |
                       AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)) &&
         d->nb_components >= 1 && d->comp[0].plane == 0 && d->comp[0].step == 1 &&
         d->comp[0].depth == 8 && d->comp[0].shift == 0 && d->comp[0].offset == 0;
}

/* Writes r->frame's luma, box-averaged over gray_k x gray_k blocks and brought to full range,
 * into s->gray. Only the top-left gray_k*gray_w x gray_k*gray_h of the picture is read, so
 * that gray pixel i covers exactly frame pixels [gray_k * i, gray_k * (i + 1)). Returns 1, or
 * 0 when the frame goes without gray (no 8-bit luma plane, or a size changed mid-stream).
 * Done here, by hand, because it is one pass over the luma bytes the decoder just wrote;
 * libswscale's area scaler into GRAY8 cost more than the whole RGB conversion. */
/* Compiled per ISA and picked at load time (gcc/clang ifunc; baseline only elsewhere and
 * under the sanitizers): the plain loops below vectorise ~3.5x better with AVX2. */
#if defined(__x86_64__) && defined(__ELF__) && !defined(__SANITIZE_ADDRESS__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define VID_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef VID_CLONES
#define VID_CLONES
#endif

/* gh rows of gw gray pixels (dst, dst_stride) from the k x k blocks of the luma plane (src,
 * src_stride): block sum * scale + offset, clamped; acc: (gw) scratch. */
VID_CLONES static void gray_rows(const uint8_t *src, ptrdiff_t src_stride, int k, int gw, int gh,
                                 float scale, float offset, uint32_t *acc, uint8_t *dst,
                                 ptrdiff_t dst_stride) {
  for (int y = 0; y < gh; y++) {
    const uint8_t *row = src + (ptrdiff_t)y * k * src_stride;
    if (k == 2) {
      const uint8_t *a = row, *b = row + src_stride;
      for (int x = 0; x < gw; x++)
        acc[x] = (uint32_t)(a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]);
    } else {
      memset(acc, 0, (size_t)gw * sizeof *acc);
      for (int ry = 0; ry < k; ry++) {
        const uint8_t *q = row + (ptrdiff_t)ry * src_stride;
        for (int x = 0; x < gw; x++) {
          unsigned t = 0;
          for (int rx = 0; rx < k; rx++) t += q[x * k + rx];
          acc[x] += t;
        }
      }
    }
    uint8_t *d = dst + (ptrdiff_t)y * dst_stride;
    for (int x = 0; x < gw; x++) {
      const float v = (float)acc[x] * scale + offset;
      d[x] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
    }
  }
}

static int convert_gray(vid_reader *r, vid_slot *s) {
  const AVFrame *fr = r->frame;
  if (fr->width != r->dec_w || fr->height != r->dec_h || !luma_plane_format(fr->format)) return 0;
  const int k = r->gray_k;
  /* block sum -> mean, and limited range (16..235) -> 0..255; + 0.5 rounds */
  const int full = fr->color_range == AVCOL_RANGE_JPEG;
  const float scale = (full ? 1.0f : 255.0f / 219.0f) / (float)(k * k);
  const float offset = (full ? 0.0f : -16.0f * 255.0f / 219.0f) + 0.5f;
  gray_rows(fr->data[0], fr->linesize[0], k, r->gray_w, r->gray_h, scale, offset, r->gray_acc,
            s->gray, r->gray_stride);
  return 1;
}

/* Converts r->frame into slot s. Returns 1 on success, 0 when this frame must be skipped
 * (unsupported pixel format or bad size: counted as corrupt). */
static int convert_frame(vid_reader *r, vid_slot *s) {
  AVFrame *fr = r->frame;
  if (fr->width <= 0 || fr->height <= 0 || fr->format < 0 ||
      !sws_isSupportedInput((enum AVPixelFormat)fr->format))
    return 0;
  r->sws =
      sws_getCachedContext(r->sws, fr->width, fr->height, (enum AVPixelFormat)fr->format, r->dec_w,
                           r->dec_h, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (!r->sws) {
    r->sws_cs = -1;
    return 0;
  }
  int cs = fr->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
  int full = fr->color_range == AVCOL_RANGE_JPEG;
  if (cs != r->sws_cs || full != r->sws_range) {
    int *inv, src_range, *tab, dst_range, bri, con, sat;
    if (sws_getColorspaceDetails(r->sws, &inv, &src_range, &tab, &dst_range, &bri, &con, &sat) >= 0)
      sws_setColorspaceDetails(r->sws, sws_getCoefficients(cs), full, tab, dst_range, bri, con,
                               sat);
    r->sws_cs = cs;
    r->sws_range = full;
  }
  uint8_t *dst = r->info.rotation ? r->tmp : s->rgb;
  int dst_stride = (int)(r->info.rotation ? r->tmp_stride : r->stride);
  uint8_t *dsts[4] = {dst, NULL, NULL, NULL};
  int dstrides[4] = {dst_stride, 0, 0, 0};
  if (sws_scale(r->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dsts,
                dstrides) <= 0)
    return 0;
  if (r->info.rotation)
    rotate_rgb(r->tmp, r->dec_w, r->dec_h, r->tmp_stride, s->rgb, r->stride, r->info.rotation);
  s->has_gray = s->gray && convert_gray(r, s);
  return 1;
}

/* Media time of r->frame in seconds (non-decreasing over the stream). */
static double frame_time(vid_reader *r) {
  int64_t pts = r->frame->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = r->frame->pts;
  AVRational tb = r->st->time_base;
  double t = NAN;
  if (pts != AV_NOPTS_VALUE && tb.num > 0 && tb.den > 0) {
    if (!r->have_start) {
      r->start_pts = pts;
      r->have_start = 1;
    }
    t = ((double)pts - (double)r->start_pts) * av_q2d(tb);
  }
  if (!isfinite(t)) /* no timestamp at all: step by the nominal frame duration */
    t = r->have_t ? r->last_t + 1.0 / (r->info.fps > 0 ? r->info.fps : 25.0) : 0.0;
  if (t < 0) t = 0;
  if (r->have_t && t < r->last_t) t = r->last_t;
  r->last_t = t;
  r->have_t = 1;
  return t;
}

/* 1 when the MP4/MOV sample table names bytes past the end of the file: a file cut
 * short, fragmented MP4 included (its moof lists samples whose mdat bytes never came; the
 * demuxer then just meets end-of-file). Only for the mov demuxer, whose index positions are
 * offsets in this very file. */
static int index_past_eof(vid_reader *r) {
  if (!r->fmt->pb || !r->fmt->iformat || !strstr(r->fmt->iformat->name, "mp4")) return 0;
  int64_t size = avio_size(r->fmt->pb);
  if (size <= 0) return 0;
  for (unsigned k = 0; k < r->fmt->nb_streams; k++) { /* a cut in the audio counts too */
    int n = avformat_index_get_entries_count(r->fmt->streams[k]);
    for (int i = n - 1; i >= 0; i--) {
      const AVIndexEntry *e = avformat_index_get_entry(r->fmt->streams[k], i);
      if (e && e->pos + e->size > size) return 1;
    }
  }
  return 0;
}

static int end_status(vid_reader *r, emoi_err *err) {
  char eb[128];
  if (r->read_error &&
      (media_io_transport_error(r->read_error) || r->guard.timed_out || r->guard.refused[0])) {
    char what[64];
    snprintf(what, sizeof what, "reading stopped at %.2f s", r->last_pkt_t);
    return media_guard_fail(&r->guard, r->read_error, EMO_EIO, r->name, what, NULL, err);
  }
  if (r->read_error || r->corrupt_packets)
    return emoi_fail(err, EMO_EFORMAT,
                     "%s: stream truncated or damaged at %.2f s (%s; %lld packets failed to "
                     "decode)",
                     r->name, r->last_pkt_t,
                     r->read_error ? averr(r->read_error, eb, sizeof eb) : "incomplete packet",
                     (long long)r->failed_packets);
  double gap = r->hdr_duration - r->last_pkt_t;
  if (r->hdr_duration > 0 && gap > 0.5 && gap > 0.05 * r->hdr_duration)
    return emoi_fail(err, EMO_EFORMAT, "%s: stream truncated at %.2f s (the index says %.2f s)",
                     r->name, r->last_pkt_t, r->hdr_duration);
  if (index_past_eof(r))
    return emoi_fail(err, EMO_EFORMAT,
                     "%s: stream truncated at %.2f s (the index names data past the end of "
                     "the file)",
                     r->name, r->last_pkt_t);
  if (r->gave_up)
    return emoi_fail(err, EMO_EFORMAT,
                     "%s: stream damaged: gave up after %d consecutive decode errors at %.2f s",
                     r->name, VID_MAX_CONSEC_ERRORS, r->last_pkt_t);
  if (r->failed_packets || r->corrupt_frames)
    return emoi_fail(err, EMO_EFORMAT,
                     "%s: stream damaged: %lld packets failed to decode, %lld frames decoded "
                     "with errors",
                     r->name, (long long)r->failed_packets, (long long)r->corrupt_frames);
  return 0;
}

/* Decodes until the next frame to deliver, written into slot s. Returns 1, 0 at a clean
 * end, or a negative code (err filled) at the end of a damaged stream. */
/* Tells media_io.audio_tap that no packet follows (once). */
static void tap_end(vid_reader *r) {
  if (r->astream < 0 || r->tap_ended) return;
  r->tap_ended = 1;
  r->audio_tap(NULL, r->fmt->streams[r->astream], r->audio_tap_user);
}

static void fill_frame(const vid_reader *r, const vid_slot *s, vid_frame *f);

static int produce(vid_reader *r, vid_slot *s, emoi_err *err) {
  for (;;) {
    int ret = avcodec_receive_frame(r->dec, r->frame);
    if (ret == 0) {
      int64_t index = r->n_decoded++;
      if (r->frame->decode_error_flags || (r->frame->flags & AV_FRAME_FLAG_CORRUPT))
        r->corrupt_frames++;
      else
        r->consec_errors = 0;
      double t = frame_time(r);
      int keep = 1;
      if (r->analysis_fps > 0) {
        if (t + 1e-6 < r->next_instant)
          keep = 0;
        else
          r->next_instant = (floor(t * r->analysis_fps + 1e-6) + 1.0) / r->analysis_fps;
      }
      if (keep && !convert_frame(r, s)) {
        r->corrupt_frames++;
        keep = 0;
      }
      av_frame_unref(r->frame);
      if (!keep) continue;
      s->t = t;
      s->index = index;
      if (r->frame_tap) {
        vid_frame f;
        fill_frame(r, s, &f);
        r->frame_tap(&f, r->frame_tap_user);
      }
      return 1;
    }
    if (ret == AVERROR_EOF) return end_status(r, err);
    if (ret != AVERROR(EAGAIN)) {
      if (ret == AVERROR(ENOMEM)) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);
      r->failed_packets++;
      if (++r->consec_errors >= VID_MAX_CONSEC_ERRORS) {
        r->gave_up = 1;
        return end_status(r, err);
      }
      continue;
    }
    if (r->eof_sent) return end_status(r, err); /* decoder wants input after a flush */
    media_guard_arm(&r->guard, 1);
    ret = av_read_frame(r->fmt, r->pkt);
    media_guard_disarm(&r->guard);
    if (ret < 0) {
      int64_t pos = r->fmt->pb ? avio_tell(r->fmt->pb) : -1;
      if (ret != AVERROR_EOF && !media_io_transport_error(ret) &&
          !(r->fmt->pb && r->fmt->pb->eof_reached) && ++r->read_retries <= VID_MAX_READ_RETRIES &&
          (r->read_retries == 1 || pos != r->read_err_pos)) {
        r->read_err_pos = pos; /* a demuxer that resyncs: try again */
        continue;
      }
      if (ret != AVERROR_EOF)
        r->read_error = ret;
      else if (r->read_retries)
        r->read_error = AVERROR_INVALIDDATA;
      r->eof_sent = 1;
      tap_end(r);
      ret = avcodec_send_packet(r->dec, NULL);
      if (ret < 0 && ret != AVERROR_EOF) return end_status(r, err);
      continue;
    }
    r->read_retries = 0;
    if (r->pkt->stream_index == r->astream && r->astream >= 0) {
      r->audio_tap(r->pkt, r->fmt->streams[r->astream], r->audio_tap_user);
      av_packet_unref(r->pkt);
      continue;
    }
    if (r->pkt->stream_index != r->vstream) {
      av_packet_unref(r->pkt);
      continue;
    }
    if (r->pkt->flags & AV_PKT_FLAG_CORRUPT) r->corrupt_packets++;
    int64_t pts = r->pkt->pts != AV_NOPTS_VALUE ? r->pkt->pts : r->pkt->dts;
    if (pts != AV_NOPTS_VALUE && r->st->time_base.num > 0 && r->st->time_base.den > 0) {
      double pt = ((double)pts - (double)(r->have_start ? r->start_pts : 0) +
                   (double)(r->pkt->duration > 0 ? r->pkt->duration : 0)) *
                  av_q2d(r->st->time_base);
      if (isfinite(pt) && pt > r->last_pkt_t) r->last_pkt_t = pt;
    }
    ret = avcodec_send_packet(r->dec, r->pkt);
    av_packet_unref(r->pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
      if (ret == AVERROR(ENOMEM)) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);
      r->failed_packets++;
      if (++r->consec_errors >= VID_MAX_CONSEC_ERRORS) {
        r->gave_up = 1;
        return end_status(r, err);
      }
    }
  }
}

/* ---- threading ----------------------------------------------------------------------- */

static void *worker_main(void *arg) {
  vid_reader *r = arg;
  media_log_enter(&r->guard); /* this thread only ever works for r */
  for (;;) {
    pthread_mutex_lock(&r->mu);
    int s = -1;
    for (;;) {
      if (atomic_load(&r->guard.abort)) break;
      for (int i = 0; i < VID_SLOTS; i++)
        if (r->slots[i].state == SLOT_FREE) {
          s = i;
          break;
        }
      if (s >= 0) break;
      pthread_cond_wait(&r->cv, &r->mu);
    }
    if (s < 0) {
      r->end_reached = 1;
      r->end_status = EMO_EIO;
      emoi_fail(&r->end_err, EMO_EIO, "%s: reader closed", r->name);
      pthread_cond_broadcast(&r->cv);
      pthread_mutex_unlock(&r->mu);
      media_log_leave(NULL);
      return NULL;
    }
    r->slots[s].state = SLOT_WRITING;
    pthread_mutex_unlock(&r->mu);
    emoi_err e;
    e.msg[0] = 0;
    int rc = produce(r, &r->slots[s], &e);
    pthread_mutex_lock(&r->mu);
    if (rc == 1) {
      r->slots[s].state = SLOT_QUEUED;
      r->queue[(r->q_head + r->q_count) % VID_SLOTS] = s;
      r->q_count++;
    } else {
      r->slots[s].state = SLOT_FREE;
      r->end_reached = 1;
      r->end_status = rc;
      r->end_err = e;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (rc != 1) {
      media_log_leave(NULL);
      return NULL;
    }
  }
}

static void fill_frame(const vid_reader *r, const vid_slot *s, vid_frame *f) {
  f->rgb = s->rgb;
  f->width = r->info.width;
  f->height = r->info.height;
  f->stride = r->stride;
  f->t = s->t;
  f->index = s->index;
  f->gray = s->has_gray ? s->gray : NULL;
  f->gray_w = r->gray_w;
  f->gray_h = r->gray_h;
  f->gray_k = r->gray_k;
  f->gray_stride = r->gray_stride;
  f->slot = (int)(s - r->slots);
}

int vid_read(vid_reader *r, vid_frame *f, emoi_err *err) {
  if (!r || !f) return emoi_fail(err, EMO_EINVAL, "vid_read: invalid argument");
  if (r->done) return 0;
  if (!r->threaded) {
    media_guard *log_prev = media_log_enter(&r->guard);
    int rc = produce(r, &r->slots[0], err);
    media_log_leave(log_prev);
    if (rc != 1) {
      r->done = 1;
      return rc;
    }
    fill_frame(r, &r->slots[0], f);
    return 1;
  }
  pthread_mutex_lock(&r->mu);
  if (r->held >= 0) {
    r->slots[r->held].state = SLOT_FREE;
    r->held = -1;
    pthread_cond_broadcast(&r->cv);
  }
  while (r->q_count == 0 && !r->end_reached) pthread_cond_wait(&r->cv, &r->mu);
  if (r->q_count > 0) {
    int s = r->queue[r->q_head];
    r->q_head = (r->q_head + 1) % VID_SLOTS;
    r->q_count--;
    r->slots[s].state = SLOT_HELD;
    r->held = s;
    fill_frame(r, &r->slots[s], f);
    pthread_mutex_unlock(&r->mu);
    return 1;
  }
  r->done = 1;
  int rc = r->end_status;
  if (rc < 0 && err) *err = r->end_err;
  pthread_mutex_unlock(&r->mu);
  return rc;
}

void vid_close(vid_reader **rp) {
  if (!rp || !*rp) return;
  vid_reader *r = *rp;
  atomic_store(&r->guard.abort, 1);
  media_guard *log_prev = media_log_enter(&r->guard);
  if (r->th_started) {
    pthread_mutex_lock(&r->mu);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
  }
  if (r->sync_ready) {
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
  }
  sws_freeContext(r->sws);
  av_freep(&r->gray_acc);
  av_frame_free(&r->frame);
  av_packet_free(&r->pkt);
  avcodec_free_context(&r->dec);
  avformat_close_input(&r->fmt);
  if (r->avio) {
    av_freep(&r->avio->buffer);
    avio_context_free(&r->avio);
  }
  for (int i = 0; i < VID_SLOTS; i++) {
    av_freep(&r->slots[i].rgb);
    av_freep(&r->slots[i].gray);
  }
  av_freep(&r->tmp);
  media_log_leave(log_prev);
  free(r);
  *rp = NULL;
}
