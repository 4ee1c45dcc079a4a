/* rttm.c: RTTM writer (format and conventions in rttm.h). */
#include "output/rttm.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int rttm_write(FILE *f, const char *file_id, const emo_audio_result *r, emoi_err *err) {
  if (!f || !r || r->segment_count < 0 || (r->segment_count > 0 && !r->segments))
    return emoi_fail(err, EMO_EINVAL, "rttm: NULL file or result");
  char id[256];
  if (!file_id || !*file_id) file_id = "unknown";
  size_t len = strlen(file_id);
  if (len >= sizeof id) len = sizeof id - 1;
  for (size_t i = 0; i < len; i++) {
    char c = file_id[i];
    id[i] = (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') ? '_' : c;
  }
  id[len] = '\0';
  for (int i = 0; i < r->segment_count; i++) {
    const emo_speech_segment *s = &r->segments[i];
    if (!isfinite(s->start) || !isfinite(s->end) || !(s->end > s->start)) continue;
    if (fprintf(f, "SPEAKER %s 1 %.3f %.3f <NA> <NA> S%d <NA> <NA>\n", id, s->start,
                s->end - s->start, s->speaker) < 0)
      return emoi_fail(err, EMO_EIO, "rttm: write failed: %s", strerror(errno));
  }
  return 0;
}

int rttm_write_path(const char *path, const char *file_id, const emo_audio_result *r,
                    emoi_err *err) {
  if (!path) return emoi_fail(err, EMO_EINVAL, "rttm: NULL path");
  FILE *f = fopen(path, "w");
  if (!f) return emoi_fail(err, EMO_EIO, "rttm: cannot create %s: %s", path, strerror(errno));
  int rc = rttm_write(f, file_id, r, err);
  if (rc) emoi_err_prefix(err, path);
  if (fclose(f) != 0 && rc == 0)
    rc = emoi_fail(err, EMO_EIO, "rttm: cannot write %s: %s", path, strerror(errno));
  return rc;
}
