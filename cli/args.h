/* args.h: the command line's parsers of option values, one per kind of value (a string, one
 * of several names, an integer or a number in a range), shared by every `emo` command so
 * that a bad value is refused the same way everywhere. */
#ifndef EMO_CLI_ARGS_H
#define EMO_CLI_ARGS_H

/* Flag a's value is v (NULL: a was the last argument). Each returns 0 with *out set, or
 * prints why on stderr and returns -1. */
int cli_opt_string(const char *a, const char *v, const char **out);
int cli_opt_choice(const char *a, const char *v, const char *const *names, int n, int *out);
int cli_opt_long(const char *a, const char *v, long long lo, long long hi, long long *out);
int cli_opt_float(const char *a, const char *v, float lo, float hi, float *out);

#endif
