/* video_encode.h: writes RGB24 frames to a video file (for `emo video --annotate OUT`),
 * optionally carrying over the audio of the source file untouched.
 *
 * Video: H.264 through libx264 (yuv420p, preset veryfast, CRF 23) when the linked
 * libavcodec has it, else FFmpeg's MPEG-4 part 2 encoder. The container is chosen from
 * out_path's extension (MP4 when unknown); MP4/MOV get the index at the front ("faststart").
 * Timestamps come from each frame's t (variable frame rate is kept); fps is the nominal rate
 * given to the encoder. Odd sizes are scaled to the next even size (yuv420p needs it).
 * Audio: audio_src's first audio stream is remuxed packet by packet (no re-encode), its
 * timestamps shifted by the source's video start time so that it stays in sync with frames
 * whose t came from video_decode.h; packets are interleaved as frames are written. A codec
 * the output container cannot hold is left out (vidw_has_audio says whether audio is
 * written). Like vid_open, vidw_open sets FFmpeg's log level to AV_LOG_QUIET (the library
 * never prints; an application's av_log callback is left alone). Leaves to others: drawing (output/annotate.h), audio re-encoding. */
#ifndef EMO_MEDIA_VIDEO_ENCODE_H
#define EMO_MEDIA_VIDEO_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct vid_writer vid_writer;

/* Creates out_path (overwritten) for width x height frames at nominal fps (> 0). audio_src
 * may be NULL. On success *out is owned by the caller, who must call vidw_close. Errors:
 * EMO_EINVAL, EMO_EIO (cannot create the file, cannot read audio_src), EMO_EFORMAT (audio_src
 * not a media file), EMO_EUNSUPPORTED (no usable encoder or container), EMO_ENOMEM. */
int vidw_open(const char *out_path, const char *audio_src, int width, int height, double fps,
              vid_writer **out, emoi_err *err);

/* Encodes one frame: rgb is height rows of width*3 bytes, stride bytes apart (borrowed), t its
 * time in seconds (non-decreasing; equal or earlier times are nudged forward by one tick).
 * Errors: EMO_EIO (write failed), EMO_EINVAL; after an error further writes fail. */
int vidw_write(vid_writer *w, const uint8_t *rgb, ptrdiff_t stride, double t, emoi_err *err);

/* 1 when the audio of audio_src is being copied. */
int vidw_has_audio(const vid_writer *w);

/* Flushes the encoder, copies the remaining audio packets, writes the trailer and frees *w
 * (set to NULL, also on error). Returns EMO_OK or the first error (EMO_EIO). */
int vidw_close(vid_writer **w, emoi_err *err);

#endif
