/* video_decode.h: video demuxing and decoding into upright RGB24 frames with media-time
 * stamps, through FFmpeg (libavformat/libavcodec/libswscale, libavdevice for webcams).
 *
 * Inputs: any container and codec the linked FFmpeg supports, network URLs (RTSP, HTTP, ...
 * as avformat_open_input takes them, limited to the protocols media_io.h allows), standard
 * input ("-") and V4L2 webcams (a url starting with "/dev/video"). The best video stream is decoded
 * (cover-art pictures are skipped); other streams are discarded at the demuxer. Audio is
 * reported (vid_info.has_audio), and its packets handed to media_io.audio_tap when the caller
 * sets one (one demuxer for the frames and the soundtrack of a source read once).
 *
 * What a frame is: every output frame is RGB24 with the stream's header dimensions after the
 * display rotation (ISO/IEC 14496-12 display matrix, as FFmpeg exposes it in
 * AV_PKT_DATA_DISPLAYMATRIX) has been applied in multiples of 90 degrees; a mid-stream size
 * change is rescaled to that size so the caller sees one size. Time t is the frame's
 * best-effort presentation timestamp minus the stream start time, in seconds (correct for
 * variable frame rate; frame counting is used only for a frame with no timestamp at all), and
 * is made non-decreasing. analysis_fps > 0 keeps only the first frame at or after each
 * instant k / analysis_fps.
 *
 * Damage: broken packets are skipped and counted, decoding goes on, and after the last good
 * frame vid_read reports EMO_EFORMAT ("stream damaged: ..." / "truncated at ...") so that a
 * caller analyses every decodable frame and still learns the input was broken. Caps:
 * max_pixels (checked on the header and inside the decoder), probe size / analyse duration,
 * a limit on consecutive decode errors, and an interrupt callback that stops blocking network
 * reads when the reader is closed or media_io's timeout passes (media_io.h).
 *
 * Logging: the library never prints; FFmpeg's messages about this reader go to media_io's
 * log sink (media_io.h), on the thread that runs the FFmpeg call.
 *
 * Threads: with threaded = 1 decoding and colour conversion run on a pthread that fills a
 * 3-frame queue ahead of the caller. A vid_reader is used from one thread at a time.
 * Memory: all buffers are allocated at open (or at the first frame) and never grow. */
#ifndef EMO_MEDIA_VIDEO_DECODE_H
#define EMO_MEDIA_VIDEO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "media/media_io.h"

typedef struct vid_reader vid_reader;

#define VID_MAX_SLOTS 4 /* frame buffers of a reader: 1 held by the caller + up to 3 ahead */

typedef struct vid_info {
  int width, height; /* of the output frames, after rotation */
  double fps;        /* nominal frame rate, 0 if unknown */
  double duration;   /* seconds, 0 if unknown (live streams, devices) */
  int rotation;      /* clockwise degrees applied to the decoded picture: 0/90/180/270 */
  int has_audio;     /* 1 if the input has at least one audio stream */
  char codec[32];    /* FFmpeg's short codec name, e.g. "h264" */
} vid_info;

typedef struct vid_frame {
  const uint8_t *rgb; /* (height, stride) bytes, RGB24 rows of width*3 used bytes; owned by the
                         reader, valid until the next vid_read or vid_close */
  int width, height;
  ptrdiff_t stride; /* bytes between rows (>= width*3) */
  double t;         /* seconds since the stream start, from the presentation timestamp */
  int64_t index;    /* index among all decoded frames (before analysis_fps sampling) */
  /* Luma downscaled by gray_k (see vid_open's gray_max_side), made on the decoding thread
   * for optical flow: (gray_h, gray_stride) bytes, gray_w = width / gray_k and gray_h =
   * height / gray_k pixels, full range 0..255; pixel i covers frame pixels
   * [gray_k * i, gray_k * (i + 1)). NULL when not asked for or not available (rotated
   * streams). Owned by the reader, valid as long as rgb. */
  const uint8_t *gray;
  int gray_w, gray_h, gray_k;
  ptrdiff_t gray_stride;
  int slot; /* the reader's buffer holding it, 0..VID_MAX_SLOTS-1 (media_io.frame_tap) */
} vid_frame;

/* Opens url (file path, network URL, "-" for standard input, or "/dev/videoN" for a V4L2
 * device) under io's policy (NULL = defaults: media_io.h; io is copied). max_pixels (> 0)
 * caps width*height; analysis_fps (>= 0, 0 = every frame) picks frames; threaded = 1 decodes
 * on a background thread; gray_max_side > 0 also delivers each frame's luma area-downscaled
 * by the integer gray_k = ceil(longer side / gray_max_side) (vid_frame.gray), 0 none. On success
 * *out is owned by the caller (vid_close). Errors: EMO_EINVAL (arguments, a protocol io does not
 * allow), EMO_EIO (cannot open: missing file, network, "timed out", a nested open refused),
 * EMO_EFORMAT (not a media file, no video stream, no decoder), EMO_ELIMIT (larger than max_pixels),
 * EMO_ENOMEM. err names the url and the cause. */
int vid_open(const char *url, const media_io *io, int64_t max_pixels, double analysis_fps,
             int threaded, int gray_max_side, vid_reader **out, emoi_err *err);

/* Same for an encoded file in memory (size bytes at data, borrowed until vid_close), decoded
 * inline (not threaded), every frame, gray as vid_open's gray_max_side asks; nested URLs
 * (playlists) are refused. For the fuzzer
 * and for callers holding bytes. */
int vid_open_memory(const void *data, size_t size, int64_t max_pixels, int gray_max_side,
                    vid_reader **out, emoi_err *err);

/* Fills *info (valid right after open). */
void vid_get_info(const vid_reader *r, vid_info *info);

/* Next frame: returns 1 and fills *f, 0 at the clean end of the stream, or a negative
 * EMO_E* code with err filled: EMO_EFORMAT when the stream was damaged or truncated (reported
 * once, after every decodable frame was returned; a raw stream cut mid-frame included), EMO_EIO
 * for a read failure ("timed out" when the network stalls), EMO_ENOMEM.
 * After an error the next call returns 0. */
int vid_read(vid_reader *r, vid_frame *f, emoi_err *err);

/* Frees *r (stopping its thread, interrupting a blocked network read) and sets it to NULL.
 * Safe on NULL. */
void vid_close(vid_reader **r);

/* Counters for diagnostics: packets that failed to decode and frames flagged corrupt. With
 * threaded = 1 call it only after vid_read returned 0 or an error (the decoding thread is
 * done then). */
void vid_get_damage(const vid_reader *r, int64_t *failed_packets, int64_t *corrupt_frames);

#endif
