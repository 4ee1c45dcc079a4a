/* cli.h: what the `emo` command's files share (cli/main.c dispatches): the option set of
 * the analysis commands (cli/run_options.c), signals and exit status, messages, and the
 * commands themselves (cli/image.c, cli/video.c, cli/audio.c). */
#ifndef EMO_CLI_CLI_H
#define EMO_CLI_CLI_H

#include <stdio.h>

#include "emo.h"

/* What one run of an analysis command (image, video, audio, models) takes from its command
 * line: the library's three params structs as the options set them, and what the CLI itself
 * does with the results. parse_options fills it; the command reads it. The commands share one
 * option set (each ignores what it does not use), so they share this struct. */
typedef struct cli_options {
  emo_model_params mp;
  emo_context_params cp;
  emo_run_params rp;
  int verbosity;           /* -q / -v: the most verbose emo_log_level that reaches stderr */
  const char *out_path;    /* -o: JSON Lines (NULL: stdout) */
  const char *csv_path;    /* --csv (video) */
  const char *report_path; /* --report (video) */
  const char *rttm_path;   /* --rttm (video, audio) */
  const char *face_head;   /* --face-head, --voice-head: emo train's heads */
  const char *voice_head;
  const char *gallery; /* --gallery DIR|RUN.jsonl (video) */
} cli_options;

/* cli/run_options.c */
cli_options cli_options_default(void);
/* Routes the library's messages to stderr at the verbosity the options chose. */
void cli_options_log(cli_options *c);
/* Parses the options shared by the analysis commands from argv[i] on into *o; returns the
 * index of the first operand, or -1 after printing an error. */
int cli_parse_options(int argc, char **argv, int i, cli_options *o);

/* cli/main.c */
void cli_usage(FILE *f);
void cli_log_to_stderr(emo_log_level level, const char *message, void *user);
/* From here a signal stops ctx's analysis (NULL: the command checks cli_signal itself). */
void cli_stoppable(emo_context *ctx);
/* The signal that asked to stop, 0: none. */
int cli_signal(void);
/* The analysis returned: the signal that stopped it, 0 when none. */
int cli_stopped_by(void);
/* The exit status: 128 + the signal when one stopped the work, else status. */
int cli_exit_status(int stopped, int status);
/* 1 (after a message) when two of a run's outputs name the same file. */
int cli_refuse_same_outputs(const char *const *paths, int n);
/* Prints the library's message about input path; alone when it already names the path. */
void cli_report(const char *path, const char *message);

/* The analysis commands: argv as main got it; the exit status. */
int cli_image(int argc, char **argv);
int cli_video(int argc, char **argv);
int cli_audio(int argc, char **argv);

#endif
