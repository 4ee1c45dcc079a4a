/* fuzz_face_bundle.c: libFuzzer harness for the Face Landmarker bundle reader
 * (vision/face_mesh.c fm_bundle_load: the zip through core/zip.h, the TFLite members through
 * nn/tflite_reader.c, the geometry protobuf through vision/face_geometry.c). Any bytes must load
 * or fail with a message naming the bundle, never crash or leak. The input is also parsed
 * directly as geometry metadata, so the protobuf reader is reached without a zip around it.
 * Seeds: fuzz/corpus/face_bundle/ (zips of small synthetic members made by Python's zipfile:
 * tiny TFLite graphs from the tflite corpus, a 468-vertex synthetic geometry protobuf; no real
 * weights). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vision/face_geometry.h"
#include "vision/face_mesh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  emoi_err e;
  e.msg[0] = 0;
  fm_bundle *b = NULL;
  int rc = fm_bundle_load(data, size, "fuzz.task", &b, &e);
  if (rc != EMO_OK) {
    if (b || rc >= 0 || !strstr(e.msg, "fuzz.task")) abort();
  } else {
    if (!b || !b->mesh) abort();
    fm_bundle_destroy(&b);
  }
  static fg_metadata m;
  e.msg[0] = 0;
  rc = fg_metadata_parse(data, size, "fuzz.binarypb", &m, &e);
  if (rc != EMO_OK && (rc >= 0 || !strstr(e.msg, "fuzz.binarypb"))) abort();
  if (rc == EMO_OK && m.n_basis < 3) abort();
  return 0;
}
