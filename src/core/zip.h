/* zip.h: bounded reading of the zip archives models come in (MediaPipe's .task bundles, PyTorch
 * checkpoints), over libzip. The archive is a buffer the caller owns (usually emoi_file_map);
 * every entry is read into memory only after its declared size is checked against the caller's
 * cap, and never more than that cap is inflated (a zip bomb stops at the cap). libzip checks the
 * central directory against the local headers (ZIP_CHECKCONS) and the CRC of every entry read. */
#ifndef EMO_CORE_ZIP_H
#define EMO_CORE_ZIP_H

#include <stddef.h>

#include "core/err.h"

typedef struct emoi_zip emoi_zip;

/* Opens the archive in data[0..size) (kept by the caller until emoi_zip_close). label names it
 * in messages (the file's path). Returns EMO_OK, EMO_EMODEL (not a zip, inconsistent) or
 * EMO_ENOMEM. */
int emoi_zip_open(const unsigned char *data, size_t size, const char *label, emoi_zip **out,
                  emoi_err *err);
void emoi_zip_close(emoi_zip *z);

/* The number of entries, and entry i's name (NULL when i is out of range). */
int emoi_zip_count(const emoi_zip *z);
const char *emoi_zip_name(const emoi_zip *z, int i);

/* The index of the entry called name, or -1. */
int emoi_zip_find(const emoi_zip *z, const char *name);

/* Reads entry i whole into a malloc'd buffer (*data, freed by the caller, with a NUL after the
 * *size bytes). max_bytes caps the entry's size. Returns EMO_OK, EMO_ELIMIT (larger than the cap,
 * declared or found while inflating), EMO_EMODEL (damaged: bad CRC, short data, encrypted,
 * unknown method), EMO_EINVAL (i out of range) or EMO_ENOMEM. */
int emoi_zip_read(emoi_zip *z, int i, size_t max_bytes, unsigned char **data, size_t *size,
                  emoi_err *err);

#endif
