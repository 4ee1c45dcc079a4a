/* fuzz_manifest.c: libFuzzer harness for the model-manifest parser (emoi_manifest_parse in
 * src/core/models.c): any bytes must give EMO_OK or an error code, never a crash, a leak or an
 * out-of-bounds access; an accepted manifest must satisfy the invariants the fetcher relies on
 * (safe member paths and cache names, 64-hex sha256, unique names). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/models.h"

/* 1 when a '/'-separated component of s is "..", "." or empty. */
static int has_bad_component(const char *s) {
  for (const char *c = s;;) {
    size_t len = strcspn(c, "/");
    if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return 1;
    if (!c[len]) return 0;
    c += len + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static emoi_manifest m; /* ~40 KB */
  emoi_err err;
  if (emoi_manifest_parse((const char *)data, size, &m, &err) != EMO_OK) return 0;
  for (int i = 0; i < m.n_files; i++) {
    const emoi_manifest_file *f = &m.files[i];
    if (strncmp(f->path, "package/", 8) != 0 || has_bad_component(f->path) ||
        strchr(f->file, '/') || f->file[0] == '.' || strlen(f->sha256) != 64 || f->size <= 0 ||
        f->package < 0 || f->package >= m.n_packages || !f->license)
      abort();
    for (int j = 0; j < i; j++)
      if (!strcmp(f->name, m.files[j].name) || !strcmp(f->file, m.files[j].file)) abort();
  }
  for (int k = 0; k < m.n_packages; k++)
    if (m.packages[k].name[0] == '-' || strncmp(m.packages[k].integrity, "sha512-", 7) != 0)
      abort();
  return 0;
}
