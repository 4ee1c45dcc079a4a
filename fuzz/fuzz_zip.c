/* fuzz_zip.c: libFuzzer harness for core/zip.c (bounded zip reading over libzip, used for
 * MediaPipe .task bundles and PyTorch checkpoints). Every input must open or fail with a
 * message; every entry of an opened archive is read under a 1 MiB cap and must give EMO_OK with
 * exactly its bytes, or a negative status with a message: never a crash, a leak, or more memory
 * than the cap. Seeds: fuzz/corpus/zip/ (small archives made with Python's zipfile, stored and
 * deflated). */
#include <stdint.h>
#include <stdlib.h>

#include "core/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emoi_err e;
  e.msg[0] = 0;
  emoi_zip *z = NULL;
  int rc = emoi_zip_open(data, size, "fuzz.zip", &z, &e);
  if (rc != EMO_OK) {
    if (z || rc >= 0 || !e.msg[0]) abort();
    return 0;
  }
  int n = emoi_zip_count(z);
  for (int i = 0; i < n && i < 64; i++) {
    const char *name = emoi_zip_name(z, i);
    (void)emoi_zip_find(z, name); /* a damaged archive's names may not be found again */
    unsigned char *buf = NULL;
    size_t len = 0;
    e.msg[0] = 0;
    rc = emoi_zip_read(z, i, 1 << 20, &buf, &len, &e);
    if (rc == EMO_OK) {
      if (!buf || len > (1 << 20) || buf[len] != 0) abort();
    } else if (buf || rc >= 0 || !e.msg[0]) {
      abort();
    }
    free(buf);
  }
  emoi_zip_close(z);
  return 0;
}
