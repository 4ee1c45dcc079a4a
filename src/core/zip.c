/* zip.c: bounded zip-entry reading over libzip (see zip.h). libzip does the format work (central
 * directory, local headers, deflate, CRC); this file only adds emo's caps and messages. */
#include "core/zip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

struct emoi_zip {
  zip_t *za;
  zip_int64_t n;
  char label[200];
};

int emoi_zip_open(const unsigned char *data, size_t size, const char *label, emoi_zip **out,
                  emoi_err *err) {
  *out = NULL;
  /* libzip opens an empty buffer as an empty archive; for a model file it is a broken one. */
  if (!data || size == 0) return emoi_fail(err, EMO_EMODEL, "%s: empty file, not a zip", label);
  emoi_zip *z = calloc(1, sizeof *z);
  if (!z) return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", label);
  snprintf(z->label, sizeof z->label, "%s", label ? label : "zip");
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
  if (!src) {
    zip_error_fini(&ze);
    free(z);
    return emoi_fail(err, EMO_ENOMEM, "%s: out of memory", label);
  }
  z->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  if (!z->za) {
    int code = zip_error_code_zip(&ze) == ZIP_ER_MEMORY ? EMO_ENOMEM : EMO_EMODEL;
    emoi_fail(err, code, "%s: not a readable zip archive (%s)", label, zip_error_strerror(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    free(z);
    return code;
  }
  zip_error_fini(&ze);
  z->n = zip_get_num_entries(z->za, 0);
  if (z->n < 0 || z->n > INT32_MAX) z->n = 0;
  *out = z;
  return EMO_OK;
}

void emoi_zip_close(emoi_zip *z) {
  if (!z) return;
  zip_discard(z->za); /* read-only: nothing to write; also frees the source */
  free(z);
}

int emoi_zip_count(const emoi_zip *z) {
  return z ? (int)z->n : 0;
}

const char *emoi_zip_name(const emoi_zip *z, int i) {
  if (!z || i < 0 || i >= z->n) return NULL;
  return zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
}

int emoi_zip_find(const emoi_zip *z, const char *name) {
  if (!z || !name) return -1;
  zip_int64_t i = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
  return i < 0 || i >= z->n ? -1 : (int)i;
}

int emoi_zip_read(emoi_zip *z, int i, size_t max_bytes, unsigned char **data, size_t *size,
                  emoi_err *err) {
  *data = NULL;
  *size = 0;
  if (!z || i < 0 || i >= z->n) return emoi_fail(err, EMO_EINVAL, "zip: no entry %d", i);
  const char *name = emoi_zip_name(z, i);
  if (!name) name = "?";
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    return emoi_fail(err, EMO_EMODEL, "%s: %s: unreadable entry (%s)", z->label, name,
                     zip_strerror(z->za));
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    return emoi_fail(err, EMO_EMODEL, "%s: %s: encrypted entry", z->label, name);
  if (st.size > max_bytes)
    return emoi_fail(err, EMO_ELIMIT, "%s: %s: %llu bytes, over the %zu-byte cap", z->label, name,
                     (unsigned long long)st.size, max_bytes);
  size_t want = (size_t)st.size;
  unsigned char *buf = malloc(want + 1);
  if (!buf) return emoi_fail(err, EMO_ENOMEM, "%s: %s: out of memory", z->label, name);
  zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
  if (!f) {
    free(buf);
    return emoi_fail(err, EMO_EMODEL, "%s: %s: cannot open entry (%s)", z->label, name,
                     zip_strerror(z->za));
  }
  size_t got = 0;
  int rc = EMO_OK;
  for (;;) {
    /* One byte of room past the declared size tells an entry that inflates to more. */
    unsigned char extra;
    unsigned char *dst = got < want ? buf + got : &extra;
    size_t room = got < want ? want - got : 1;
    zip_int64_t r = zip_fread(f, dst, room);
    if (r < 0) {
      rc = emoi_fail(err, EMO_EMODEL, "%s: %s: damaged entry (%s)", z->label, name,
                     zip_file_strerror(f));
      break;
    }
    if (r == 0) break;
    if (got >= want) {
      rc = emoi_fail(err, EMO_EMODEL, "%s: %s: inflates past its declared %zu bytes", z->label,
                     name, want);
      break;
    }
    got += (size_t)r;
  }
  zip_fclose(f);
  if (rc == EMO_OK && got != want)
    rc = emoi_fail(err, EMO_EMODEL, "%s: %s: %zu of %zu bytes", z->label, name, got, want);
  if (rc != EMO_OK) {
    free(buf);
    return rc;
  }
  buf[want] = 0;
  *data = buf;
  *size = want;
  return EMO_OK;
}
