/* video_encode.c: RGB24 frames -> H.264 (libx264) or MPEG-4 part 2 in a container chosen by
 * file name, with the source's audio remuxed alongside (see video_encode.h for the contract).
 * Follows FFmpeg 5.1's documented muxing API (avformat_write_header /
 * av_interleaved_write_frame / av_write_trailer, avcodec send/receive). Leaves drawing to
 * output/annotate.c and reading to video_decode.c. */
#include "media/video_encode.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define VIDW_TB_DEN                                                       \
  60000 /* encoder time base 1/60000 s: exact for 24/25/30/50/60 and NTSC \
           rates, below MPEG-4 part 2's 16-bit limit */

struct vid_writer {
  char path[160];      /* out_path, for messages */
  char out[PATH_MAX];  /* out_path without "file:" */
  char part[PATH_MAX]; /* the temporary written until vidw_close: ".NAME.XXXXXX.part" */
  media_guard guard;   /* audio source policy and the log sink (media_io.h) */
  AVFormatContext *oc;
  AVStream *vst;
  AVCodecContext *enc;
  AVFrame *yuv; /* (eh, ew) yuv420p, reused for every frame */
  AVPacket *pkt;
  struct SwsContext *sws;
  int w, h;   /* input RGB size */
  int ew, eh; /* encoded size (even) */
  int64_t last_pts;
  int have_pts;
  int header_written;
  int failed; /* first error code, 0 = fine */
  /* Audio copy. */
  AVFormatContext *ain;
  int ain_idx;    /* audio stream index in ain */
  AVStream *ast;  /* output audio stream, NULL when no audio */
  AVPacket *apkt; /* pending input packet (read ahead, not yet written) */
  int a_pending, a_eof;
  int64_t a_shift; /* source video start time in the input audio time base */
};

static void vidw_free(vid_writer *w);
static int write_frame(vid_writer *w, const uint8_t *rgb, ptrdiff_t stride, double t,
                       emoi_err *err);

static const char *averr(int e, char *buf, size_t n) {
  if (av_strerror(e, buf, n) < 0) snprintf(buf, n, "error %d", e);
  return buf;
}

static int fail_w(vid_writer *w, emoi_err *err, int code, const char *what, int averror) {
  char eb[128];
  if (!w->failed) w->failed = code;
  return emoi_fail(err, code, "%s: %s (%s)", w->path, what, averr(averror, eb, sizeof eb));
}

/* Opens audio_src and adds a copy of its first audio stream to w->oc (no-op when it has none
 * or the container cannot hold its codec). */
static int open_audio(vid_writer *w, const char *src, emoi_err *err) {
  AVDictionary *opts = NULL;
  w->ain = avformat_alloc_context();
  if (!w->ain) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", src);
  media_guard_attach(&w->guard, w->ain, &opts);
  media_guard_arm(&w->guard, 3);
  int ret = avformat_open_input(&w->ain, w->guard.url, NULL, &opts);
  av_dict_free(&opts);
  if (ret >= 0) ret = avformat_find_stream_info(w->ain, NULL);
  media_guard_disarm(&w->guard);
  if (ret < 0)
    return media_guard_fail(&w->guard, ret, EMO_EFORMAT, src, "cannot open audio source", NULL,
                            err);
  int ai = -1, vi = -1;
  for (unsigned i = 0; i < w->ain->nb_streams; i++) {
    AVStream *s = w->ain->streams[i];
    if (ai < 0 && s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) ai = (int)i;
    if (vi < 0 && s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
      vi = (int)i;
  }
  if (ai < 0) return EMO_OK;
  AVStream *in = w->ain->streams[ai];
  if (avformat_query_codec(w->oc->oformat, in->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1)
    return EMO_OK;
  w->ast = avformat_new_stream(w->oc, NULL);
  w->apkt = av_packet_alloc();
  if (!w->ast || !w->apkt) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", w->path);
  ret = avcodec_parameters_copy(w->ast->codecpar, in->codecpar);
  if (ret < 0) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", w->path);
  w->ast->codecpar->codec_tag = 0;
  w->ast->time_base = in->time_base;
  w->ain_idx = ai;
  /* The reader's t is relative to the source video's start time: shift audio the same. */
  if (vi >= 0) {
    AVStream *vs = w->ain->streams[vi];
    if (vs->start_time != AV_NOPTS_VALUE)
      w->a_shift = av_rescale_q(vs->start_time, vs->time_base, in->time_base);
  }
  for (unsigned i = 0; i < w->ain->nb_streams; i++)
    if ((int)i != ai) w->ain->streams[i]->discard = AVDISCARD_ALL;
  return EMO_OK;
}

/* Writes the source's audio packets up to media time until (seconds; INFINITY = all). */
static int pump_audio(vid_writer *w, double until, emoi_err *err) {
  if (!w->ast) return EMO_OK;
  AVStream *in = w->ain->streams[w->ain_idx];
  while (!w->a_eof) {
    if (!w->a_pending) {
      media_guard_arm(&w->guard, 1);
      int ret = av_read_frame(w->ain, w->apkt);
      media_guard_disarm(&w->guard);
      if (ret < 0) { /* end (or unreadable rest) of the source: the video goes on */
        w->a_eof = 1;
        break;
      }
      if (w->apkt->stream_index != w->ain_idx) {
        av_packet_unref(w->apkt);
        continue;
      }
      w->a_pending = 1;
    }
    AVPacket *p = w->apkt;
    int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    if (ts == AV_NOPTS_VALUE) { /* cannot place it */
      av_packet_unref(p);
      w->a_pending = 0;
      continue;
    }
    double t = (double)(ts - w->a_shift) * av_q2d(in->time_base);
    if (t > until) break;
    if (t < 0) { /* before the first video frame */
      av_packet_unref(p);
      w->a_pending = 0;
      continue;
    }
    if (p->pts != AV_NOPTS_VALUE) p->pts -= w->a_shift;
    if (p->dts != AV_NOPTS_VALUE) p->dts -= w->a_shift;
    av_packet_rescale_ts(p, in->time_base, w->ast->time_base);
    p->stream_index = w->ast->index;
    p->pos = -1;
    int ret = av_interleaved_write_frame(w->oc, p); /* takes the packet's data */
    w->a_pending = 0;
    if (ret < 0) return fail_w(w, err, EMO_EIO, "cannot write audio packet", ret);
  }
  return EMO_OK;
}

/* Drains encoded packets into the file. */
static int drain(vid_writer *w, emoi_err *err) {
  for (;;) {
    int ret = avcodec_receive_packet(w->enc, w->pkt);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return EMO_OK;
    if (ret < 0) return fail_w(w, err, EMO_EIO, "encoding failed", ret);
    av_packet_rescale_ts(w->pkt, w->enc->time_base, w->vst->time_base);
    w->pkt->stream_index = w->vst->index;
    ret = av_interleaved_write_frame(w->oc, w->pkt);
    if (ret < 0) return fail_w(w, err, EMO_EIO, "cannot write video packet", ret);
  }
}

/* Permission bits a plain creat() would give: 0666 less the process umask, read from
 * /proc/self/status (umask() cannot be read without changing it under other threads). */
static mode_t file_mode(void) {
  unsigned mask = 022;
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "Umask: %o", &mask) == 1) break;
    fclose(f);
  }
  return (mode_t)(0666 & ~mask);
}

/* Checks out_path (a plain file: no URL scheme, not "-") and creates w->part beside it. */
static int make_part(vid_writer *w, const char *out_path, const char *audio_src, emoi_err *err) {
  char scheme[32];
  media_url_scheme(out_path, scheme, sizeof scheme);
  if (strcmp(scheme, "file") != 0 || strcmp(out_path, "-") == 0 || !out_path[0])
    return emoi_fail(err, EMO_EINVAL,
                     "%s: the annotated video must be a file path (no URL, no \"-\": standard "
                     "output carries the results)",
                     out_path);
  const char *path = strncmp(out_path, "file:", 5) == 0 ? out_path + 5 : out_path;
  if (snprintf(w->out, sizeof w->out, "%s", path) >= (int)sizeof w->out)
    return emoi_fail(err, EMO_EINVAL, "%s: path too long", w->path);
  struct stat so, sa;
  char ascheme[32] = "";
  if (audio_src) media_url_scheme(audio_src, ascheme, sizeof ascheme);
  if (audio_src && strcmp(ascheme, "file") == 0 && stat(w->out, &so) == 0 &&
      stat(strncmp(audio_src, "file:", 5) == 0 ? audio_src + 5 : audio_src, &sa) == 0 &&
      so.st_dev == sa.st_dev && so.st_ino == sa.st_ino)
    return emoi_fail(err, EMO_EINVAL, "%s: is the input file itself; choose another name", w->path);
  const char *slash = strrchr(w->out, '/');
  int dlen = slash ? (int)(slash - w->out) + 1 : 0;
  if (snprintf(w->part, sizeof w->part, "%.*s.%s.XXXXXX.part", dlen, w->out,
               slash ? slash + 1 : w->out) >= (int)sizeof w->part)
    return emoi_fail(err, EMO_EINVAL, "%s: path too long", w->path);
  int fd = mkstemps(w->part, 5);
  if (fd < 0) {
    int e = errno;
    w->part[0] = 0;
    return emoi_fail(err, EMO_EIO, "%s: cannot create a file in its folder (%s)", w->path,
                     strerror(e));
  }
  (void)fchmod(fd, file_mode()); /* mkstemp's 0600 would leak into the final file */
  close(fd);
  return EMO_OK;
}

int vidw_open(const char *out_path, const char *audio_src, const media_io *io, int width,
              int height, double fps, vid_writer **out, emoi_err *err) {
  if (out) *out = NULL;
  if (!out_path || !out || width <= 0 || height <= 0 || width > 16384 || height > 16384 ||
      !(fps > 0) || !isfinite(fps) || fps > 1000)
    return emoi_fail(err, EMO_EINVAL, "vidw_open: invalid argument");
  vid_writer *w = calloc(1, sizeof *w);
  if (!w) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", out_path);
  snprintf(w->path, sizeof w->path, "%s", out_path);
  int rc = audio_src ? media_guard_init(&w->guard, io, audio_src, err) : EMO_OK;
  if (rc != EMO_OK) {
    free(w);
    return rc;
  }
  if (!audio_src) media_guard_init_memory(&w->guard, io ? &io->log : NULL);
  media_guard *log_prev = media_log_enter(&w->guard);
  rc = make_part(w, out_path, audio_src, err);
  if (rc != EMO_OK) goto fail;
  w->w = width;
  w->h = height;
  w->ew = (width + 1) & ~1;
  w->eh = (height + 1) & ~1;
  char eb[128];
  int ret;
  AVDictionary *opts = NULL;
  ret = avformat_alloc_output_context2(&w->oc, NULL, NULL, w->out);
  if (ret < 0 || !w->oc) ret = avformat_alloc_output_context2(&w->oc, NULL, "mp4", w->out);
  if (ret < 0 || !w->oc) {
    rc = emoi_fail(err, EMO_EUNSUPPORTED, "%s: no container for this file name", out_path);
    goto fail;
  }
  const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
  if (!codec || avformat_query_codec(w->oc->oformat, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) != 1)
    codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  if (!codec) {
    rc =
        emoi_fail(err, EMO_EUNSUPPORTED, "%s: no H.264 or MPEG-4 encoder in this FFmpeg", out_path);
    goto fail;
  }
  w->vst = avformat_new_stream(w->oc, NULL);
  w->enc = avcodec_alloc_context3(codec);
  w->pkt = av_packet_alloc();
  w->yuv = av_frame_alloc();
  if (!w->vst || !w->enc || !w->pkt || !w->yuv) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", out_path);
    goto fail;
  }
  AVCodecContext *e = w->enc;
  e->width = w->ew;
  e->height = w->eh;
  e->pix_fmt = AV_PIX_FMT_YUV420P;
  e->time_base = (AVRational){1, VIDW_TB_DEN};
  e->framerate = av_d2q(fps, VIDW_TB_DEN);
  e->gop_size = fps * 2 > 1 ? (int)lround(fps * 2) : 1;
  e->sample_aspect_ratio = (AVRational){1, 1};
  e->color_range = AVCOL_RANGE_MPEG; /* swscale's default RGB->YUV: BT.601, limited range */
  e->colorspace = AVCOL_SPC_SMPTE170M;
  if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (codec->id == AV_CODEC_ID_H264) {
    av_opt_set(e->priv_data, "preset", "veryfast", 0);
    av_opt_set(e->priv_data, "crf", "23", 0);
  } else {
    e->flags |= AV_CODEC_FLAG_QSCALE;
    e->global_quality = FF_QP2LAMBDA * 4;
  }
  ret = avcodec_open2(e, codec, NULL);
  if (ret < 0) {
    rc = emoi_fail(err, EMO_EUNSUPPORTED, "%s: cannot open the %s encoder (%s)", out_path,
                   codec->name, averr(ret, eb, sizeof eb));
    goto fail;
  }
  ret = avcodec_parameters_from_context(w->vst->codecpar, e);
  if (ret < 0) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", out_path);
    goto fail;
  }
  w->vst->time_base = e->time_base;
  w->vst->avg_frame_rate = e->framerate;
  w->yuv->format = AV_PIX_FMT_YUV420P;
  w->yuv->width = w->ew;
  w->yuv->height = w->eh;
  if (av_frame_get_buffer(w->yuv, 0) < 0) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: out of memory (frame)", out_path);
    goto fail;
  }
  w->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, w->ew, w->eh, AV_PIX_FMT_YUV420P,
                          SWS_BILINEAR, NULL, NULL, NULL);
  if (!w->sws) {
    rc = emoi_fail(err, EMO_ENOMEM, "%s: cannot create the colour converter", out_path);
    goto fail;
  }
  if (audio_src) {
    rc = open_audio(w, audio_src, err);
    if (rc != EMO_OK) goto fail;
  }
  if (!(w->oc->oformat->flags & AVFMT_NOFILE)) {
    char url[PATH_MAX + 8];
    snprintf(url, sizeof url, "file:%s", w->part);
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    ret = avio_open2(&w->oc->pb, url, AVIO_FLAG_WRITE, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
      rc = emoi_fail(err, EMO_EIO, "%s: cannot create (%s)", out_path, averr(ret, eb, sizeof eb));
      goto fail;
    }
  }
  /* Fragmented MP4/MOV (an empty moov, then a moof+mdat per keyframe interval, each flushed
   * as written): a file cut by a killed run plays up to its last complete fragment. */
  const char *oname = w->oc->oformat->name;
  if (strstr(oname, "mp4") || strstr(oname, "mov"))
    av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  w->oc->flush_packets = 1;
  ret = avformat_write_header(w->oc, &opts);
  av_dict_free(&opts);
  if (ret < 0) {
    rc = emoi_fail(err, EMO_EIO, "%s: cannot write the header (%s)", out_path,
                   averr(ret, eb, sizeof eb));
    goto fail;
  }
  w->header_written = 1;
  media_log_leave(log_prev);
  *out = w;
  return EMO_OK;
fail:
  vidw_free(w);
  media_log_leave(log_prev);
  return rc;
}

const char *vidw_part_path(const vid_writer *w) {
  return w ? w->part : NULL;
}

int vidw_has_audio(const vid_writer *w) {
  return w && w->ast ? 1 : 0;
}

int vidw_write(vid_writer *w, const uint8_t *rgb, ptrdiff_t stride, double t, emoi_err *err) {
  if (!w || !rgb || stride < (ptrdiff_t)w->w * 3 || stride > INT32_MAX || !isfinite(t))
    return emoi_fail(err, EMO_EINVAL, "vidw_write: invalid argument");
  if (w->failed) return emoi_fail(err, w->failed, "%s: writer failed earlier", w->path);
  media_guard *log_prev = media_log_enter(&w->guard);
  int rc = write_frame(w, rgb, stride, t, err);
  media_log_leave(log_prev);
  return rc;
}

static int write_frame(vid_writer *w, const uint8_t *rgb, ptrdiff_t stride, double t,
                       emoi_err *err) {
  int ret = av_frame_make_writable(w->yuv);
  if (ret < 0) return fail_w(w, err, EMO_ENOMEM, "out of memory", ret);
  const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
  int sstr[4] = {(int)stride, 0, 0, 0};
  sws_scale(w->sws, src, sstr, 0, w->h, w->yuv->data, w->yuv->linesize);
  double tt = t < 0 ? 0 : t;
  int64_t pts = tt < 1e9 ? llrint(tt * VIDW_TB_DEN) : (int64_t)1e9 * VIDW_TB_DEN;
  if (w->have_pts && pts <= w->last_pts) pts = w->last_pts + 1;
  w->last_pts = pts;
  w->have_pts = 1;
  w->yuv->pts = pts;
  if (w->enc->flags & AV_CODEC_FLAG_QSCALE) w->yuv->quality = w->enc->global_quality;
  ret = avcodec_send_frame(w->enc, w->yuv);
  if (ret < 0) return fail_w(w, err, EMO_EIO, "encoding failed", ret);
  int rc = drain(w, err);
  if (rc != EMO_OK) return rc;
  return pump_audio(w, tt, err);
}

/* Frees w and removes its temporary file (if still there). */
static void vidw_free(vid_writer *w) {
  if (w->oc && !(w->oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&w->oc->pb);
  avformat_free_context(w->oc);
  avformat_close_input(&w->ain);
  av_packet_free(&w->apkt);
  av_packet_free(&w->pkt);
  av_frame_free(&w->yuv);
  avcodec_free_context(&w->enc);
  sws_freeContext(w->sws);
  if (w->part[0]) unlink(w->part);
  free(w);
}

void vidw_abort(vid_writer **wp) {
  if (!wp || !*wp) return;
  media_guard *log_prev = media_log_enter(&(*wp)->guard);
  vidw_free(*wp);
  media_log_leave(log_prev);
  *wp = NULL;
}

int vidw_close(vid_writer **wp, emoi_err *err) {
  if (!wp || !*wp) return EMO_OK;
  vid_writer *w = *wp;
  media_guard *log_prev = media_log_enter(&w->guard);
  int rc = EMO_OK;
  if (w->header_written) {
    if (!w->failed) {
      int ret = avcodec_send_frame(w->enc, NULL);
      if (ret < 0 && ret != AVERROR_EOF) rc = fail_w(w, err, EMO_EIO, "flushing the encoder", ret);
      if (rc == EMO_OK) rc = drain(w, err);
      if (rc == EMO_OK) rc = pump_audio(w, INFINITY, err);
    }
    int ret = av_write_trailer(w->oc);
    if (ret < 0 && rc == EMO_OK) rc = fail_w(w, err, EMO_EIO, "cannot write the trailer", ret);
    if (rc == EMO_OK && w->failed)
      rc = emoi_fail(err, w->failed, "%s: writer failed earlier", w->path);
  } else if (rc == EMO_OK) {
    rc = emoi_fail(err, EMO_EIO, "%s: nothing was written", w->path);
  }
  if (w->oc && !(w->oc->oformat->flags & AVFMT_NOFILE)) {
    int ret = avio_closep(&w->oc->pb);
    if (ret < 0 && rc == EMO_OK) rc = fail_w(w, err, EMO_EIO, "cannot close", ret);
  }
  if (rc == EMO_OK) {
    if (rename(w->part, w->out) != 0)
      rc = emoi_fail(err, EMO_EIO, "%s: cannot rename %s onto it (%s)", w->path, w->part,
                     strerror(errno));
    else
      w->part[0] = 0; /* it is out_path now */
  }
  vidw_free(w); /* removes the temporary after an error */
  media_log_leave(log_prev);
  *wp = NULL;
  return rc;
}
