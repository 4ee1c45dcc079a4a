/* test_probe.c: emo_media_probe (src/media/probe.c) on real files: a video with sound, an
 * audio-only WAV and FLAC, a missing file, a file that is not media, and a network URL (refused:
 * a probe reads local files only). emo batch plans its shards from these numbers. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emo.h"
#include "harness.h"

int main(void) {
  const char *video = th_data("video/single_face.mp4");
  if (!video || access(video, R_OK) != 0) th_skip("no shared data (../shared/data/video)");
  emo_media_info info;
  char msg[256];
  int rc = emo_media_probe(video, &info, msg, sizeof msg);
  CHECK(rc == EMO_OK, "single_face.mp4: %s", msg);
  CHECK(info.has_video && info.has_audio, "video %d audio %d", info.has_video, info.has_audio);
  CHECK(fabs(info.duration - 2.4) < 0.05, "duration %.3f, not 2.4", info.duration);
  CHECK(info.width == 640 && info.height == 360, "%dx%d", info.width, info.height);

  rc = emo_media_probe(th_data("diarization/sample/sample.wav"), &info, msg, sizeof msg);
  CHECK(rc == EMO_OK && !info.has_video && info.has_audio, "sample.wav: %d %s", rc, msg);
  CHECK(fabs(info.duration - 30.0) < 0.05, "sample.wav duration %.3f", info.duration);
  rc = emo_media_probe(th_data("ser/emodb/03a01Fa.flac"), &info, msg, sizeof msg);
  CHECK(rc == EMO_OK && !info.has_video && info.has_audio && info.duration > 1,
        "emodb flac: %d %s %.3f", rc, msg, info.duration);

  rc = emo_media_probe("/nonexistent/clip.mp4", &info, msg, sizeof msg);
  CHECK(rc == EMO_EIO, "missing file: %d (%s)", rc, msg);
  CHECK(strstr(msg, "clip.mp4") != NULL, "the message does not name the file: %s", msg);
  rc = emo_media_probe(th_data("README.md"), &info, msg, sizeof msg);
  CHECK(rc == EMO_EFORMAT, "a text file: %d (%s)", rc, msg);
  CHECK(!info.has_video && !info.has_audio, "a failed probe leaves info zeroed");
  rc = emo_media_probe("http://127.0.0.1:9/clip.mp4", &info, NULL, 0);
  CHECK(rc != EMO_OK, "a URL was probed");
  CHECK(emo_media_probe(NULL, &info, NULL, 0) == EMO_EINVAL, "NULL url");
  return th_finish("test_probe");
}
