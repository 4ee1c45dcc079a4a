/* rttm.h: writes diarization results as NIST RTTM (Rich Transcription Time Marked), the text
 * format md-eval, dscore and pyannote read: one line per speaker turn,
 *   SPEAKER <file> 1 <start> <duration> <NA> <NA> S<k> <NA> <NA>
 * with times in seconds (3 decimals) and speakers named S1, S2, ... (index + 1, as in emo's JSON).
 * (NIST RT-09 evaluation plan, appendix A.) Reading RTTM and scoring are left to tools/der.py. */
#ifndef EMO_OUTPUT_RTTM_H
#define EMO_OUTPUT_RTTM_H

#include <stdio.h>

#include "audio/diarize.h"
#include "core/err.h"

/* Writes one SPEAKER line per segment of r (segments with end <= start are skipped) to f.
 * file_id: the recording name; whitespace in it becomes '_' (RTTM fields are
 * space-separated), NULL or empty gives "unknown". Returns 0, EMO_EINVAL (NULL f or r,
 * r->n > 0 with NULL segs) or EMO_EIO (a write failed). */
int rttm_write(FILE *f, const char *file_id, const dia_result *r, emoi_err *err);

/* Same, to a file at path (created or truncated). EMO_EIO names the path on failure. */
int rttm_write_path(const char *path, const char *file_id, const dia_result *r, emoi_err *err);

#endif
