/* dev/models_fetch.c: tiny driver for emo_models_fetch and emo_models_check (the CLI's
 * `emo models fetch` does the same through the public API). Usage: models_fetch [DIR]. */
#include <stdio.h>

#include "emo.h"

static void log_cb(emo_log_level level, const char *msg, void *user) {
  (void)user;
  fprintf(stderr, "[%d] %s\n", (int)level, msg);
}

int main(int argc, char **argv) {
  emo_model_params p = emo_model_params_default();
  p.log = log_cb;
  p.log_level = EMO_LOG_DEBUG;
  if (argc > 1) p.models_dir = argv[1];
  int rc = emo_models_fetch(&p);
  printf("fetch: %d (%s)\n", rc, emo_status_str(rc));
  char dir[4096];
  emo_models_dir(&p, dir, sizeof dir);
  printf("cache: %s\n", dir);
  for (int i = 0; i < emo_models_count(); i++) {
    emo_model_info info;
    emo_models_info(i, &info);
    int c = emo_models_check(&p, i);
    printf("%-24s %-45s %9lld %s %s\n", info.name, info.file, (long long)info.size,
           emo_status_str(c), info.package);
  }
  return rc == EMO_OK ? 0 : 1;
}
