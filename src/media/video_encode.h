/* video_encode.h: writes RGB24 frames to a video file (for `emo video --annotate OUT`),
 * optionally carrying over the audio of the source file untouched.
 *
 * Output: a plain file path only (no URL scheme, no tcp://...; not "-": the CLI's standard
 * output carries the results). Frames go to a temporary ".NAME.XXXXXX.part" in out_path's
 * folder, renamed onto out_path when vidw_close succeeds (an error or vidw_abort removes it),
 * so a failed run never leaves a half file under the name asked for. MP4/MOV are written
 * fragmented (empty moov, one fragment per keyframe interval, flushed as written): the
 * temporary of a killed run plays up to its last complete fragment.
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
 * written). audio_src is opened under media_io's policy (media_io.h); FFmpeg's messages go
 * to its log sink (the library never prints). Leaves to others: drawing (output/annotate.h),
 * audio re-encoding. */
#ifndef EMO_MEDIA_VIDEO_ENCODE_H
#define EMO_MEDIA_VIDEO_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "media/media_io.h"

typedef struct vid_writer vid_writer;

/* Starts out_path (replaced at vidw_close) for width x height frames at nominal fps (> 0).
 * audio_src may be NULL; io (NULL = defaults) is its policy and gives the log sink. On
 * success *out is owned by the caller, who must call vidw_close or vidw_abort. Errors:
 * EMO_EINVAL (arguments; out_path a URL or "-", or the same file as audio_src), EMO_EIO
 * (cannot create a file in out_path's folder, cannot read audio_src), EMO_EFORMAT (audio_src
 * not a media file), EMO_EUNSUPPORTED (no usable encoder or container), EMO_ENOMEM. */
int vidw_open(const char *out_path, const char *audio_src, const media_io *io, int width,
              int height, double fps, vid_writer **out, emoi_err *err);

/* Encodes one frame: rgb is height rows of width*3 bytes, stride bytes apart (borrowed), t its
 * time in seconds (non-decreasing; equal or earlier times are nudged forward by one tick).
 * Errors: EMO_EIO (write failed), EMO_EINVAL; after an error further writes fail. */
int vidw_write(vid_writer *w, const uint8_t *rgb, ptrdiff_t stride, double t, emoi_err *err);

/* 1 when the audio of audio_src is being copied. */
int vidw_has_audio(const vid_writer *w);

/* Flushes the encoder, copies the remaining audio packets, writes the trailer, renames the
 * temporary onto out_path and frees *w (set to NULL, also on error; after an error the
 * temporary is removed and out_path untouched). Returns EMO_OK or the first error (EMO_EIO). */
int vidw_close(vid_writer **w, emoi_err *err);

/* Frees *w (set to NULL) without finishing: the temporary is removed, out_path untouched.
 * NULL and *w == NULL are fine. */
void vidw_abort(vid_writer **w);

/* The temporary file being written (valid until vidw_close/vidw_abort). */
const char *vidw_part_path(const vid_writer *w);

#endif
