/* fuzz_gallery_jsonl.c: libFuzzer harness for the gallery's reader of an earlier run's JSON Lines
 * (emoi_gallery_add_jsonl in src/pipeline/gallery.c): any bytes must give a gallery (possibly
 * empty) whose every descriptor is unit length, or EMO_ENOMEM; never a crash, a leak or an
 * out-of-bounds access. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "emo.h"
#include "pipeline/gallery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emo_gallery *g = emoi_gallery_new();
  if (!g) return 0;
  int skipped = 0;
  emoi_err err = {{0}};
  int rc = emoi_gallery_add_jsonl(g, (const char *)data, size, "fuzz", &skipped, &err);
  if (rc != EMO_OK && rc != EMO_ENOMEM) abort();
  int n = emo_gallery_count(g), np = emo_gallery_person_count(g);
  if (n < 0 || np < 0 || np > n || skipped < 0) abort();
  for (int i = 0; i < np; i++)
    if (!emo_gallery_person(g, i)) abort();
  emo_gallery_destroy(&g);
  return 0;
}
