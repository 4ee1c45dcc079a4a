/* audio_decode.c: FFmpeg audio reader (see audio_decode.h for the contract).
 *
 * Pipeline: avformat demux (best audio stream, others discarded) -> avcodec decode
 * (send/receive API) -> swr_convert to AV_SAMPLE_FMT_FLT mono at 16 kHz into a small FIFO
 * -> copied out by aud_read. The resampler is (re)built from each frame's own layout, rate
 * and format, so streams that change parameters mid-way still convert; at the end the decoder
 * and the resampler's delay line are drained. Up to AUD_MAX_CONSEC_ERRORS consecutive packets
 * that fail to decode are skipped; a demuxer error other than end-of-file, or too many bad
 * packets, is reported after the samples already decoded. Follows FFmpeg 5.1's documented
 * API (AVChannelLayout, swr_alloc_set_opts2). Leaves to others: what the samples mean. */
#include "media/audio_decode.h"
#include "media/media_io.h"
#include "media/mem_io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#define AUD_MEM_IO_BUF 4096
#define AUD_MAX_CONSEC_ERRORS 100
#define AUD_MAX_FRAME_OUT (1 << 22) /* converted samples one frame may produce */
#define AUD_PROBESIZE (5 << 20)

struct aud_reader {
  char name[160];
  AVFormatContext *fmt;
  AVIOContext *avio;
  mio_src mem; /* vid/aud_open_memory input */
  int astream;
  AVCodecContext *dec;
  AVPacket *pkt;
  AVFrame *frame;
  SwrContext *swr;
  AVChannelLayout swr_layout; /* input parameters swr was built for */
  int swr_rate, swr_fmt;
  float *fifo; /* (fifo_cap) converted samples; [fifo_pos, fifo_len) not yet read */
  int fifo_cap, fifo_len, fifo_pos;
  aud_info info;
  int eof_demux, eof_dec, drained;
  int consec_errors;
  int pending; /* status to return once the FIFO is empty (0 none) */
  emoi_err pending_err;
  media_guard guard; /* protocols, deadlines, log sink (media_io.h) */
};

static const char *averr(int e, char *buf, size_t n) {
  if (av_strerror(e, buf, n) < 0) snprintf(buf, n, "error %d", e);
  return buf;
}

void aud_close(aud_reader **pr) {
  if (!pr || !*pr) return;
  aud_reader *r = *pr;
  media_guard *log_prev = media_log_enter(&r->guard);
  swr_free(&r->swr);
  av_channel_layout_uninit(&r->swr_layout);
  av_frame_free(&r->frame);
  av_packet_free(&r->pkt);
  avcodec_free_context(&r->dec);
  if (r->fmt) avformat_close_input(&r->fmt);
  if (r->avio) {
    av_freep(&r->avio->buffer);
    avio_context_free(&r->avio);
  }
  free(r->fifo);
  media_log_leave(log_prev);
  free(r);
  *pr = NULL;
}

static int open_decoder(aud_reader *r, const AVStream *st, emoi_err *err);

static int finish_open(aud_reader *r, emoi_err *err) {
  const char *fname = r->fmt->iformat ? r->fmt->iformat->name : "";
  int ret = avformat_find_stream_info(r->fmt, NULL);
  media_guard_disarm(&r->guard);
  if (ret < 0)
    return media_guard_fail(&r->guard, ret, EMO_EFORMAT, r->name, "cannot read stream info", NULL,
                            err);
  int as = av_find_best_stream(r->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
  if (as < 0) {
    if (as == AVERROR_DECODER_NOT_FOUND)
      return emoi_fail(err, EMO_EFORMAT, "%s: no decoder for the audio codec", r->name);
    return emoi_fail(err, EMO_EFORMAT, "%s: no audio stream (format %s)", r->name, fname);
  }
  r->astream = as;
  for (unsigned i = 0; i < r->fmt->nb_streams; i++)
    if ((int)i != as) r->fmt->streams[i]->discard = AVDISCARD_ALL;
  snprintf(r->info.format, sizeof r->info.format, "%s", fname);
  if (r->fmt->duration > 0) r->info.duration = (double)r->fmt->duration / AV_TIME_BASE;
  return open_decoder(r, r->fmt->streams[as], err);
}

/* The decoder of stream st (and the info it gives), for both kinds of reader. */
static int open_decoder(aud_reader *r, const AVStream *st, emoi_err *err) {
  char eb[128];
  int ret;
  const AVCodecParameters *par = st->codecpar;
  const AVCodec *codec = avcodec_find_decoder(par->codec_id);
  if (!codec)
    return emoi_fail(err, EMO_EFORMAT, "%s: no decoder for audio codec %s", r->name,
                     avcodec_get_name(par->codec_id));
  snprintf(r->info.codec, sizeof r->info.codec, "%s", avcodec_get_name(par->codec_id));
  r->info.orig_rate = par->sample_rate > 0 ? par->sample_rate : 0;
  r->info.orig_channels = par->ch_layout.nb_channels > 0 ? par->ch_layout.nb_channels : 0;
  double dur = r->info.duration; /* the container's, when the stream states none */
  if (st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0)
    dur = (double)st->duration * av_q2d(st->time_base);
  r->info.duration = (isfinite(dur) && dur > 0 && dur < 1e9) ? dur : 0.0;
  r->dec = avcodec_alloc_context3(codec);
  if (!r->dec) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (decoder)", r->name);
  if ((ret = avcodec_parameters_to_context(r->dec, par)) < 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: bad codec parameters (%s)", r->name,
                     averr(ret, eb, sizeof eb));
  r->dec->pkt_timebase = st->time_base;
  r->dec->thread_count = 1;
  if ((ret = avcodec_open2(r->dec, codec, NULL)) < 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: cannot open %s decoder (%s)", r->name,
                     avcodec_get_name(par->codec_id), averr(ret, eb, sizeof eb));
  r->pkt = av_packet_alloc();
  r->frame = av_frame_alloc();
  if (!r->pkt || !r->frame) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);
  return EMO_OK;
}

static int open_common(aud_reader *r, aud_reader **out, emoi_err *err) {
  media_guard *log_prev = media_log_enter(&r->guard);
  AVDictionary *opts = NULL;
  int st;
  r->fmt = avformat_alloc_context();
  if (!r->fmt) {
    st = emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);
    goto fail;
  }
  r->fmt->probesize = AUD_PROBESIZE;
  if (r->avio) {
    r->fmt->pb = r->avio;
    r->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  media_guard_attach(&r->guard, r->fmt, &opts);
  media_guard_arm(&r->guard, 3); /* open + stream analysis: a few round trips */
  int ret = avformat_open_input(&r->fmt, r->avio ? NULL : r->guard.url, NULL, &opts);
  av_dict_free(&opts);
  if (ret < 0) { /* avformat_open_input freed the context */
    media_guard_disarm(&r->guard);
    st = media_guard_fail(&r->guard, ret, EMO_EFORMAT, r->name, "cannot open", NULL, err);
    goto fail;
  }
  st = finish_open(r, err);
  if (st) goto fail;
  media_log_leave(log_prev);
  *out = r;
  return EMO_OK;
fail:
  aud_close(&r);
  media_log_leave(log_prev);
  return st;
}

int aud_open(const char *url, const media_io *io, aud_reader **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "aud_open: out is NULL");
  *out = NULL;
  if (!url || !url[0]) return emoi_fail(err, EMO_EINVAL, "aud_open: empty path");
  aud_reader *r = calloc(1, sizeof *r);
  if (!r) return emoi_fail(err, EMO_ENOMEM, "aud_open: out of memory");
  snprintf(r->name, sizeof r->name, "%s", url);
  int st = media_guard_init(&r->guard, io, url, err);
  if (st) {
    free(r);
    return st;
  }
  return open_common(r, out, err);
}

int aud_open_memory(const void *data, size_t size, aud_reader **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "aud_open_memory: out is NULL");
  *out = NULL;
  if (!data && size) return emoi_fail(err, EMO_EINVAL, "aud_open_memory: data is NULL");
  aud_reader *r = calloc(1, sizeof *r);
  if (!r) return emoi_fail(err, EMO_ENOMEM, "aud_open_memory: out of memory");
  snprintf(r->name, sizeof r->name, "<memory>");
  media_guard_init_memory(&r->guard, NULL);
  r->mem.data = data;
  r->mem.size = size;
  unsigned char *buf = av_malloc(AUD_MEM_IO_BUF);
  if (buf) r->avio = avio_alloc_context(buf, AUD_MEM_IO_BUF, 0, &r->mem, mio_read, NULL, mio_seek);
  if (!r->avio) {
    av_free(buf);
    aud_close(&r);
    return emoi_fail(err, EMO_ENOMEM, "aud_open_memory: out of memory");
  }
  return open_common(r, out, err);
}

static int convert(aud_reader *r, const AVFrame *fr, emoi_err *err);

int aud_open_packets(const AVStream *st, aud_reader **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "aud_open_packets: out is NULL");
  *out = NULL;
  if (!st || !st->codecpar || st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
    return emoi_fail(err, EMO_EINVAL, "aud_open_packets: not an audio stream");
  aud_reader *r = calloc(1, sizeof *r);
  if (!r) return emoi_fail(err, EMO_ENOMEM, "aud_open_packets: out of memory");
  snprintf(r->name, sizeof r->name, "<soundtrack>");
  media_guard_init_memory(&r->guard, NULL);
  media_guard *log_prev = media_log_enter(&r->guard);
  int rc = open_decoder(r, st, err);
  media_log_leave(log_prev);
  if (rc != EMO_OK) {
    aud_close(&r);
    return rc;
  }
  *out = r;
  return EMO_OK;
}

int aud_open_pcm(aud_reader **out, emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "aud_open_pcm: out is NULL");
  aud_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->frame = av_frame_alloc())) {
    free(r);
    *out = NULL;
    return emoi_fail(err, EMO_ENOMEM, "aud_open_pcm: out of memory");
  }
  snprintf(r->name, sizeof r->name, "<pushed audio>");
  media_guard_init_memory(&r->guard, NULL);
  *out = r;
  return EMO_OK;
}

int aud_feed_pcm(aud_reader *r, const float *pcm, int n, int channels, int rate, emoi_err *err) {
  if (!r || r->fmt || r->dec) return emoi_fail(err, EMO_EINVAL, "aud_feed_pcm: not a pcm reader");
  if (r->drained) return EMO_OK; /* after the end */
  media_guard *log_prev = media_log_enter(&r->guard);
  int rc;
  if (!pcm) {
    rc = convert(r, NULL, err);
    r->drained = r->eof_demux = r->eof_dec = 1;
  } else if (n < 0 || channels < 1 || channels > 64 || rate < 1 || rate > 1000000) {
    rc = emoi_fail(err, EMO_EINVAL, "%s: %d samples of %d channels at %d Hz", r->name, n, channels,
                   rate);
  } else {
    AVFrame *fr = r->frame; /* a frame header around the caller's samples (not copied) */
    fr->format = AV_SAMPLE_FMT_FLT;
    fr->sample_rate = rate;
    fr->nb_samples = n;
    av_channel_layout_uninit(&fr->ch_layout);
    av_channel_layout_default(&fr->ch_layout, channels);
    fr->data[0] = (uint8_t *)pcm;
    fr->extended_data = fr->data;
    rc = n > 0 ? convert(r, fr, err) : EMO_OK;
    fr->data[0] = NULL;
  }
  media_log_leave(log_prev);
  return rc;
}

int aud_feed(aud_reader *r, const AVPacket *pkt, emoi_err *err) {
  if (!r || r->fmt || !r->dec) return emoi_fail(err, EMO_EINVAL, "aud_feed: not a packet reader");
  if (r->eof_demux) return EMO_OK; /* after the end */
  media_guard *log_prev = media_log_enter(&r->guard);
  char eb[128];
  int rc = EMO_OK;
  if (!pkt) r->eof_demux = 1;
  for (int sent = 0; rc == EMO_OK && !sent;) {
    int ret = avcodec_send_packet(r->dec, pkt);
    sent = ret != AVERROR(EAGAIN); /* EAGAIN: take the decoder's frames first */
    if (ret < 0 && sent && ret != AVERROR_EOF && ++r->consec_errors > AUD_MAX_CONSEC_ERRORS)
      rc = emoi_fail(err, EMO_EFORMAT, "%s: audio stream damaged (%s)", r->name,
                     averr(ret, eb, sizeof eb));
    for (;;) { /* every frame it can give now */
      if (rc != EMO_OK) break;
      ret = avcodec_receive_frame(r->dec, r->frame);
      if (ret == 0) {
        r->consec_errors = 0;
        rc = convert(r, r->frame, err);
        av_frame_unref(r->frame);
        continue;
      }
      if (ret == AVERROR_EOF) {
        r->eof_dec = 1;
        rc = convert(r, NULL, err); /* drain the resampler */
        r->drained = 1;
        break;
      }
      if (ret != AVERROR(EAGAIN) && ++r->consec_errors > AUD_MAX_CONSEC_ERRORS)
        rc = emoi_fail(err, EMO_EFORMAT, "%s: audio stream damaged (%s)", r->name,
                       averr(ret, eb, sizeof eb));
      if (ret == AVERROR(EAGAIN)) break;
    }
  }
  media_log_leave(log_prev);
  return rc;
}

void aud_get_info(const aud_reader *r, aud_info *info) {
  if (!info) return;
  if (!r) {
    memset(info, 0, sizeof *info);
    return;
  }
  *info = r->info;
}

/* Makes room for n more samples at the FIFO's end (compacting first). */
static int fifo_reserve(aud_reader *r, int n, emoi_err *err) {
  if (r->fifo_pos > 0) {
    memmove(r->fifo, r->fifo + r->fifo_pos, (size_t)(r->fifo_len - r->fifo_pos) * sizeof(float));
    r->fifo_len -= r->fifo_pos;
    r->fifo_pos = 0;
  }
  if (n > AUD_MAX_FRAME_OUT || r->fifo_len > AUD_MAX_FRAME_OUT)
    return emoi_fail(err, EMO_ELIMIT, "%s: a frame holds too many samples", r->name);
  if (r->fifo_len + n <= r->fifo_cap) return EMO_OK;
  int cap = r->fifo_cap ? r->fifo_cap : 8192;
  while (cap < r->fifo_len + n) cap *= 2;
  float *f = realloc(r->fifo, (size_t)cap * sizeof(float));
  if (!f) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory (audio buffer)", r->name);
  r->fifo = f;
  r->fifo_cap = cap;
  return EMO_OK;
}

/* Converts frame (or drains swr when frame is NULL) into the FIFO. */
static int convert(aud_reader *r, const AVFrame *fr, emoi_err *err) {
  char eb[128];
  int ret;
  if (fr) {
    if (fr->sample_rate <= 0 || fr->sample_rate > 1000000 || fr->nb_samples < 0 ||
        fr->ch_layout.nb_channels <= 0 || fr->ch_layout.nb_channels > 64)
      return emoi_fail(err, EMO_EFORMAT, "%s: decoded frame with invalid parameters", r->name);
    if (!r->swr || r->swr_rate != fr->sample_rate || r->swr_fmt != fr->format ||
        av_channel_layout_compare(&r->swr_layout, &fr->ch_layout) != 0) {
      swr_free(&r->swr);
      av_channel_layout_uninit(&r->swr_layout);
      AVChannelLayout in;
      if (fr->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&in, fr->ch_layout.nb_channels);
      else if (av_channel_layout_copy(&in, &fr->ch_layout) < 0)
        return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);
      AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
      ret = swr_alloc_set_opts2(&r->swr, &mono, AV_SAMPLE_FMT_FLT, AUD_RATE, &in, fr->format,
                                fr->sample_rate, 0, NULL);
      /* Mono is the plain average of the channels (swr's default mix gains ~1.41 for stereo,
       * which could clip loud recordings). */
      int nch = in.nb_channels > 0 && in.nb_channels <= 64 ? in.nb_channels : 1;
      double avg[64];
      for (int k = 0; k < nch; k++) avg[k] = 1.0 / nch;
      if (ret >= 0 && r->swr && nch > 1) ret = swr_set_matrix(r->swr, avg, nch);
      av_channel_layout_uninit(&in);
      if (ret < 0 || !r->swr || (ret = swr_init(r->swr)) < 0) {
        swr_free(&r->swr);
        return emoi_fail(
            err, EMO_EFORMAT, "%s: cannot convert %d Hz %d-channel %s audio (%s)", r->name,
            fr->sample_rate, fr->ch_layout.nb_channels,
            av_get_sample_fmt_name(fr->format) ? av_get_sample_fmt_name(fr->format) : "?",
            averr(ret, eb, sizeof eb));
      }
      if (av_channel_layout_copy(&r->swr_layout, &fr->ch_layout) < 0)
        return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", r->name);
      r->swr_rate = fr->sample_rate;
      r->swr_fmt = fr->format;
    }
  } else if (!r->swr) {
    return EMO_OK;
  }
  int in_n = fr ? fr->nb_samples : 0;
  int64_t out_max = swr_get_out_samples(r->swr, in_n);
  if (out_max < 0) return emoi_fail(err, EMO_EFORMAT, "%s: resampler error", r->name);
  if (out_max == 0) return EMO_OK;
  if (out_max > AUD_MAX_FRAME_OUT)
    return emoi_fail(err, EMO_ELIMIT, "%s: a frame holds too many samples", r->name);
  int st = fifo_reserve(r, (int)out_max, err);
  if (st) return st;
  uint8_t *outp = (uint8_t *)(r->fifo + r->fifo_len);
  ret = swr_convert(r->swr, &outp, (int)out_max, fr ? (const uint8_t **)fr->extended_data : NULL,
                    in_n);
  if (ret < 0)
    return emoi_fail(err, EMO_EFORMAT, "%s: resampling failed (%s)", r->name,
                     averr(ret, eb, sizeof eb));
  for (int i = 0; i < ret; i++) /* non-finite samples (float files) read as silence */
    if (!isfinite(r->fifo[r->fifo_len + i])) r->fifo[r->fifo_len + i] = 0.0f;
  r->fifo_len += ret;
  return EMO_OK;
}

/* Decodes until the FIFO gains samples or the stream ends. Returns EMO_OK (check the FIFO
 * and r->drained) or a status (stored as pending by the caller). */
static int refill(aud_reader *r, emoi_err *err) {
  char eb[128];
  while (r->fifo_len == r->fifo_pos && !r->drained) {
    if (!r->dec) break; /* samples come from aud_feed_pcm */
    int ret = avcodec_receive_frame(r->dec, r->frame);
    if (ret == 0) {
      r->consec_errors = 0;
      int st = convert(r, r->frame, err);
      av_frame_unref(r->frame);
      if (st) return st;
      continue;
    }
    if (ret == AVERROR_EOF) {
      r->eof_dec = 1;
      int st = convert(r, NULL, err); /* drain the resampler */
      r->drained = 1;
      if (st) return st;
      break;
    }
    if (ret != AVERROR(EAGAIN)) {
      if (++r->consec_errors > AUD_MAX_CONSEC_ERRORS)
        return emoi_fail(err, EMO_EFORMAT, "%s: audio stream damaged (%s)", r->name,
                         averr(ret, eb, sizeof eb));
      continue;
    }
    /* the decoder wants input */
    if (!r->fmt) break; /* packets come from aud_feed */
    if (r->eof_demux) {
      avcodec_send_packet(r->dec, NULL);
      continue;
    }
    media_guard_arm(&r->guard, 1);
    ret = av_read_frame(r->fmt, r->pkt);
    media_guard_disarm(&r->guard);
    if (ret == AVERROR_EOF) {
      r->eof_demux = 1;
      avcodec_send_packet(r->dec, NULL);
      continue;
    }
    if (ret < 0) {
      r->eof_demux = 1;
      avcodec_send_packet(r->dec, NULL);
      /* report after what is already decoded */
      r->pending = media_guard_fail(&r->guard, ret, EMO_EFORMAT, r->name, "read error", NULL,
                                    &r->pending_err);
      continue;
    }
    if (r->pkt->stream_index == r->astream) {
      ret = avcodec_send_packet(r->dec, r->pkt);
      if (ret < 0 && ret != AVERROR(EAGAIN) && ++r->consec_errors > AUD_MAX_CONSEC_ERRORS) {
        av_packet_unref(r->pkt);
        return emoi_fail(err, EMO_EFORMAT, "%s: audio stream damaged (%s)", r->name,
                         averr(ret, eb, sizeof eb));
      }
    }
    av_packet_unref(r->pkt);
  }
  return EMO_OK;
}

int aud_read(aud_reader *r, float *buf, int max_samples, emoi_err *err) {
  if (!r || !buf || max_samples < 1)
    return emoi_fail(err, EMO_EINVAL, "aud_read: invalid arguments");
  if (r->fifo_len == r->fifo_pos && !r->drained) {
    media_guard *log_prev = media_log_enter(&r->guard);
    int st = refill(r, err);
    media_log_leave(log_prev);
    if (st) {
      r->pending = st;
      r->pending_err = *(err ? err : &r->pending_err);
      r->drained = 1;
    }
  }
  int avail = r->fifo_len - r->fifo_pos;
  if (avail > 0) {
    int k = avail < max_samples ? avail : max_samples;
    memcpy(buf, r->fifo + r->fifo_pos, (size_t)k * sizeof(float));
    r->fifo_pos += k;
    return k;
  }
  if (r->pending) {
    if (err) *err = r->pending_err;
    return r->pending;
  }
  return 0;
}
