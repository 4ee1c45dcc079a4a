/* outfile.h: the `emo` command's output files (-o, --csv, --rttm), written so that a failure
 * never destroys the user's work. The policy is explained at the top of outfile.c. */
#ifndef EMO_CLI_OUTFILE_H
#define EMO_CLI_OUTFILE_H

#include <stddef.h>

typedef struct outfile outfile;

/* Opens the output path ("-" or NULL: stdout) for a command whose inputs are inputs[0..n).
 * Refuses (message on stderr, NULL) a path that is the same file as an input, or that cannot
 * be written. A regular file is written to a temporary beside it, which replaces it only in
 * outfile_commit. Call before any thread starts (it reads the umask). */
outfile *outfile_open(const char *path, const char *const *inputs, int n_inputs);

/* Writes s and a newline with one write, or len bytes of complete lines (ending in '\n').
 * Returns 0, or -1 once the output has failed (the failure is reported on stderr once, and
 * nothing more is written to it). */
int outfile_line(outfile *o, const char *s);
int outfile_write(outfile *o, const char *buf, size_t len);

/* 1 while no write to o has failed. */
int outfile_ok(const outfile *o);

/* Finishes o and frees it (*o set to NULL; NULL is fine): a temporary is synced, closed and
 * renamed over the path. Returns 0, or -1 (reported on stderr; the temporary is removed and
 * any earlier file at the path is left as it was) when anything failed. */
int outfile_commit(outfile **o);

/* Gives o up and frees it: the temporary is removed, an earlier file at the path stays. */
void outfile_abort(outfile **o);

/* Removes every temporary still open. Async-signal-safe: for a signal handler that is about
 * to end the process. */
void outfile_unlink_all_signal_safe(void);

/* 1 when paths a and b (either may be NULL or "-": never the same) name one file: the same
 * device and inode when both exist, else the same canonical folder and name. For refusing two
 * outputs of one run that would overwrite each other. */
int outfile_same(const char *a, const char *b);

/* The canonical (realpath) folder of path's parent, and in *base (may be NULL) path's last
 * component; NULL when the folder does not exist. The caller frees the folder. */
char *outfile_parent_real(const char *path, const char **base);

#endif
