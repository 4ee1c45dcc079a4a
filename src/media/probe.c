/* probe.c: emo_media_probe: what a media file holds (video, audio, duration) from its header,
 * without decoding it, through the same readers the analyses use (video_decode.c,
 * audio_decode.c), so a file that probes as video is one emo_analyze_media opens. For callers
 * that plan work over many files (emo batch balances shards by duration); the analyses
 * themselves do not need it. */
#include <string.h>

#include "emo.h"
#include "media/audio_decode.h"
#include "media/video_decode.h"

int emo_media_probe(const char *url, emo_media_info *info, char *message, size_t message_size) {
  if (!url || !info) return EMO_EINVAL;
  memset(info, 0, sizeof *info);
  if (message && message_size) message[0] = 0;
  const media_io io = {.protocols = "file"}; /* a probe reads local files only */
  emoi_err err = {{0}};
  vid_reader *v = NULL;
  int rc = vid_open(url, &io, (int64_t)1 << 40, 0, 0, 0, &v, &err);
  if (rc == EMO_OK) {
    vid_info vi;
    vid_get_info(v, &vi);
    info->has_video = 1;
    info->has_audio = vi.has_audio;
    info->duration = vi.duration;
    info->width = vi.width;
    info->height = vi.height;
    vid_close(&v);
    return EMO_OK;
  }
  /* Not a video (or no video stream): an audio file? */
  aud_reader *a = NULL;
  emoi_err aerr = {{0}};
  int arc = aud_open(url, &io, &a, &aerr);
  if (arc == EMO_OK) {
    aud_info ai;
    aud_get_info(a, &ai);
    info->has_audio = 1;
    info->duration = ai.duration;
    aud_close(&a);
    return EMO_OK;
  }
  /* The video reader's message is the more telling one, unless it only lacked a video stream. */
  const int use_audio = rc == EMO_EFORMAT && arc != EMO_EFORMAT;
  if (message && message_size) {
    const char *m = use_audio ? aerr.msg : err.msg;
    size_t n = strlen(m);
    if (n >= message_size) n = message_size - 1;
    memcpy(message, m, n);
    message[n] = 0;
  }
  return use_audio ? arc : rc;
}
