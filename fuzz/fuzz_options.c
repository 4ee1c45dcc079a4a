/* fuzz_options.c: libFuzzer harness for emo_options_set (src/api/options.c), which parses the
 * option names and values a binding passes from its user: the input is lines NAME=VALUE (a line
 * without '=' sets NAME to NULL, the default). Any bytes must give EMO_OK or EMO_EINVAL with a
 * message, never a crash or a leak; a string option must read back what was set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  emo_options *o = NULL;
  if (emo_options_create(&o) != EMO_OK) {
    free(text);
    return 0;
  }
  for (char *line = text, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    char *eq = strchr(line, '=');
    if (eq) *eq = 0;
    const char *value = eq ? eq + 1 : NULL;
    int rc = emo_options_set(o, line, value);
    if (rc != EMO_OK && (rc != EMO_EINVAL || !emo_options_last_error(o)[0])) abort();
    if (rc == EMO_OK && strcmp(line, "annotate_path") == 0) {
      const char *got = emo_options_run_params(o)->annotate_path;
      if (value ? !got || strcmp(got, value) != 0 : got != NULL) abort();
    }
  }
  emo_options_destroy(&o);
  free(text);
  return 0;
}
