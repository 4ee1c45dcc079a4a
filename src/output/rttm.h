/* rttm.h: writes diarization results as NIST RTTM (Rich Transcription Time Marked), the text
 * format md-eval, dscore and pyannote read: one line per speaker turn,
 *   SPEAKER <file> 1 <start> <duration> <NA> <NA> S<k> <NA> <NA>
 * with times in seconds (3 decimals) and speakers named S1, S2, ... as in emo's JSON.
 * (NIST RT-09 evaluation plan, appendix A.) It takes the public emo_audio_result, so any
 * producer of one can write RTTM; reading RTTM and scoring are left to tools/der.py. */
#ifndef EMO_OUTPUT_RTTM_H
#define EMO_OUTPUT_RTTM_H

#include <stdio.h>

#include "core/err.h"
#include "emo.h"

/* Writes one SPEAKER line per segment of r (segments with end <= start, or a time that is not
 * finite, are skipped) to f. A segment's speaker is written as given (1 -> "S1").
 * file_id: the recording name; whitespace in it becomes '_' (RTTM fields are
 * space-separated), NULL or empty gives "unknown". Returns 0, EMO_EINVAL (NULL f or r,
 * segment_count > 0 with NULL segments) or EMO_EIO (a write failed). */
int rttm_write(FILE *f, const char *file_id, const emo_audio_result *r, emoi_err *err);

/* Same, to a file at path (created or truncated). On failure the message names the path
 * once. */
int rttm_write_path(const char *path, const char *file_id, const emo_audio_result *r,
                    emoi_err *err);

#endif
