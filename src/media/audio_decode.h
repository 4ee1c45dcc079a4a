/* audio_decode.h: FFmpeg-based audio reader: any audio FFmpeg demuxes and decodes (WAV
 * including float32, FLAC, MP3, AAC/M4A, Opus, ...) or the audio stream of a video file,
 * converted by libswresample to 16 kHz mono float32 (the rate speech models expect) and
 * handed out in caller-sized chunks. Memory stays bounded whatever the file length: at most
 * one decoded frame is buffered. Leaves to others: voice activity and speech models
 * (audio/), video frames (media/video_decode.c). Not thread-safe per reader; separate readers
 * are independent. Never prints: FFmpeg's messages go to media_io's log sink; protocols,
 * nested opens and network timeouts follow media_io.h. */
#ifndef EMO_MEDIA_AUDIO_DECODE_H
#define EMO_MEDIA_AUDIO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "media/media_io.h"

#include <libavformat/avformat.h>

#define AUD_RATE 16000 /* output sample rate */

typedef struct aud_reader aud_reader;

typedef struct aud_info {
  double duration;   /* seconds from the container or stream header; 0 when unknown */
  int orig_rate;     /* the stream's own sample rate (Hz) */
  int orig_channels; /* the stream's own channel count */
  char codec[32];    /* FFmpeg codec name, e.g. "flac", "mp3", "pcm_f32le" */
  char format[32];   /* FFmpeg demuxer name, e.g. "wav", "mov,mp4,m4a,3gp,3g2,mj2" (cut) */
} aud_info;

/* Opens a file path, URL or "-" (standard input) and its best audio stream, under io's policy
 * (NULL = defaults, see media_io.h; io is copied). Returns EMO_OK with *out (close with
 * aud_close); EMO_EINVAL for a protocol io does not allow; EMO_EIO when it cannot be opened
 * ("timed out" for a stalled network, a refused nested open); EMO_EFORMAT when it is not
 * media FFmpeg reads or has no audio stream ("no audio stream"); EMO_ENOMEM. */
int aud_open(const char *url, const media_io *io, aud_reader **out, emoi_err *err);

/* Same from size bytes at data (borrowed: must stay valid until aud_close). */
int aud_open_memory(const void *data, size_t size, aud_reader **out, emoi_err *err);

/* A reader without a demuxer, for packets another reader demuxes (media_io.audio_tap): a
 * decoder for st's codec parameters and time base (st borrowed for the call only). Packets go
 * in with aud_feed; aud_read then hands out their samples, exactly as aud_open's reader of the
 * same stream would, and returns 0 when it has none yet (or at the end, after aud_feed(NULL)).
 * Errors as aud_open's. */
int aud_open_packets(const AVStream *st, aud_reader **out, emoi_err *err);

/* Decodes one packet of a reader from aud_open_packets (pkt borrowed; NULL = the end: drains
 * the decoder and the resampler) into its buffer, which grows until aud_read empties it.
 * Returns EMO_OK; a packet that fails to decode is skipped (EMO_EFORMAT after
 * AUD_MAX_CONSEC_ERRORS in a row); EMO_ENOMEM; EMO_EINVAL for a reader from aud_open. */
int aud_feed(aud_reader *r, const AVPacket *pkt, emoi_err *err);

/* A reader for raw samples a caller pushes (emo_stream_push_audio): no decoder; aud_feed_pcm
 * converts them with the resampler aud_open's reader uses for decoded frames, and aud_read
 * hands them out as for aud_open_packets. Returns EMO_OK or EMO_ENOMEM. */
int aud_open_pcm(aud_reader **out, emoi_err *err);

/* Converts n samples per channel of interleaved float32 pcm (channels 1..64 of the default
 * layout for that count, rate 1..1000000 Hz; may change between calls) into the reader's
 * buffer (pcm NULL: the end, drains the resampler). Returns EMO_OK, EMO_EINVAL (bad
 * arguments, a reader not from aud_open_pcm), EMO_EFORMAT, EMO_ELIMIT or EMO_ENOMEM. */
int aud_feed_pcm(aud_reader *r, const float *pcm, int n, int channels, int rate, emoi_err *err);

/* Reads up to max_samples (>= 1) samples at 16 kHz mono float32 into buf. Returns the number
 * written (> 0), 0 at the end of the stream, or a negative status: a damaged stream yields
 * its decodable samples first, then EMO_EFORMAT naming the problem; a network that stalls
 * for media_io's timeout, EMO_EIO "timed out". */
int aud_read(aud_reader *r, float *buf, int max_samples, emoi_err *err);

/* Fills *info (valid after aud_open). */
void aud_get_info(const aud_reader *r, aud_info *info);

/* Closes and sets *r to NULL; NULL and *r == NULL are fine. */
void aud_close(aud_reader **r);

#endif
