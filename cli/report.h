/* report.h: the `emo report` command and the page `emo video --report` writes (report.c). */
#ifndef EMO_CLI_REPORT_H
#define EMO_CLI_REPORT_H

#include <stddef.h>

#include "emo.h"
#include "outfile.h"

/* `emo report RUN.jsonl -o OUT.html [--video FILE] [--title TEXT]`; returns the exit status. */
int cmd_report(int argc, char **argv);

/* The URL of file video relative to the page html_path (percent-encoded) into href; -1 when
 * there is none (a URL, standard input, a missing file, too long). */
int report_video_href(const char *video, const char *html_path, char *href, size_t cap);

/* For `emo video --report html_path`: opens the page's output (refusing the input) into *out
 * and an empty report into *r whose page plays the input video, else the annotated one
 * (may be NULL). Returns 0, or 1 after a message (nothing left open). */
int report_open(outfile **out, emo_report **r, const char *html_path, const char *input,
                const char *annotated, const char *const *inputs);

/* Writes r's page into *out and commits it (*out set to NULL), or aborts it when there is no
 * page; warnings go to stderr. Returns 0, or 1 after a message. */
int report_write(const emo_report *r, outfile **out);

#endif
