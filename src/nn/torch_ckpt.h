/* torch_ckpt.h: a restricted, bounds-checked reader of PyTorch checkpoints as torch.save writes
 * them since PyTorch 1.6 (a zip archive: ARCHIVE/data.pkl, a pickle of the object, and one entry
 * ARCHIVE/data/KEY per tensor storage, raw little-endian elements), for state_dicts only: an
 * (Ordered)dict from parameter names to tensors. So that a user runs a downloaded .model file
 * (LR-ASD's, av/asd.c) without PyTorch, and without executing a pickle.
 *
 * The pickle is not run as Python would: a small stack machine understands only the opcodes a
 * state_dict written with pickle protocol 2 uses (PROTO, GLOBAL, BINPUT, LONG_BINPUT, BINGET,
 * LONG_BINGET, MARK, EMPTY_TUPLE, TUPLE, TUPLE1..3, BININT, BININT1, BININT2, LONG1, BINUNICODE,
 * NONE, NEWTRUE, NEWFALSE, EMPTY_DICT, SETITEM, SETITEMS, REDUCE, BUILD, BINPERSID, STOP) and
 * only these globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the storage
 * types torch.{Float,Double,Half,BFloat16,Long,Int}Storage. The persistent id of a storage must
 * be ('storage', TYPE, KEY, LOCATION, NUMEL); a tensor is _rebuild_tensor_v2(storage, offset,
 * size, stride, requires_grad, hooks[, metadata]) with every element inside its storage.
 * BUILD on a dict (the state_dict's _metadata) is accepted and ignored. Anything else, any other
 * global (os.system ...), a value of the wrong type, or a top-level object that is not a dict of
 * tensors gives EMO_EUNSUPPORTED or EMO_EMODEL with a message naming the opcode, global or key,
 * never a crash. Caps: PT_MAX_PICKLE bytes of pickle, PT_MAX_VALUES values, PT_MAX_TENSORS
 * tensors, rank PT_MAX_RANK, and a caller's cap on the whole file. A big-endian archive
 * (ARCHIVE/byteorder "big") is refused.
 * Reference: CPython Lib/pickletools.py (opcode table), torch/serialization.py (_save, _load),
 * torch/_utils.py (_rebuild_tensor_v2).
 *
 * It leaves to others: what the tensors mean (av/asd.c), the zip layer (core/zip.h), and the
 * older (pre-1.6) tar/legacy pickle format, which it refuses. */
#ifndef EMO_NN_TORCH_CKPT_H
#define EMO_NN_TORCH_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PT_MAX_RANK 6
#define PT_MAX_PICKLE ((size_t)64 << 20) /* bytes of data.pkl */
#define PT_MAX_VALUES (1 << 20)          /* pickle values (and memo slots) */
#define PT_MAX_TENSORS 65536
#define PT_MAX_ELEMS ((int64_t)1 << 31) /* elements of one storage or tensor */

typedef enum pt_dtype {
  PT_F32 = 0, /* FloatStorage */
  PT_F64,     /* DoubleStorage */
  PT_F16,     /* HalfStorage */
  PT_BF16,    /* BFloat16Storage */
  PT_I64,     /* LongStorage */
  PT_I32,     /* IntStorage */
  PT_DTYPE_COUNT
} pt_dtype;

/* Bytes of one element. */
int pt_dtype_size(pt_dtype t);

typedef struct pt_tensor {
  const char *name; /* the state_dict key, owned by the pt_file */
  pt_dtype dtype;
  int rank;                    /* 0..PT_MAX_RANK */
  int64_t shape[PT_MAX_RANK];  /* shape[0..rank) */
  int64_t stride[PT_MAX_RANK]; /* in elements, >= 0 */
  int64_t numel;               /* product of shape (1 for rank 0) */
  const uint8_t *data;         /* the storage's bytes from the tensor's offset on; every element
                                  (offset + sum (shape-1) * stride) lies inside the storage */
} pt_tensor;

typedef struct pt_file pt_file;

/* Parses a checkpoint (the zip archive torch.save writes) of size bytes at data; data is only
 * read during the call (the pt_file keeps copies of the storages). label names the file in
 * messages. Returns EMO_OK and *out, or EMO_EMODEL (not a zip, damaged, inconsistent),
 * EMO_EUNSUPPORTED (a pickle feature outside the subset above), EMO_ELIMIT, EMO_ENOMEM with err
 * filled and *out = NULL. Thread-safe (nothing global). */
int pt_open_memory(const uint8_t *data, size_t size, const char *label, pt_file **out,
                   emoi_err *err);

/* Maps the regular file at path (at most max_bytes, 0 = no cap: EMO_ELIMIT beyond) and parses
 * it. EMO_EIO when it cannot be read; messages start with the path. */
int pt_open_file(const char *path, size_t max_bytes, pt_file **out, emoi_err *err);

/* The storage resolver of pt_parse_pickle: returns the bytes of storage key (of dtype and numel
 * elements) in *data, *size (owned by the resolver's user, alive until pt_close), or a status
 * with err filled. */
typedef int (*pt_storage_fn)(void *user, const char *key, pt_dtype dtype, int64_t numel,
                             const uint8_t **data, size_t *size, emoi_err *err);

/* The pickle layer alone (for fuzzing and tests): parses n bytes of pickle, asking resolve for
 * each storage. Same results as pt_open_memory. */
int pt_parse_pickle(const uint8_t *pkl, size_t n, pt_storage_fn resolve, void *user, pt_file **out,
                    emoi_err *err);

/* Frees *f and sets it to NULL; safe on NULL. */
void pt_close(pt_file **f);

int pt_count(const pt_file *f);                               /* number of tensors */
const pt_tensor *pt_at(const pt_file *f, int i);              /* in the state_dict's order */
const pt_tensor *pt_find(const pt_file *f, const char *name); /* NULL when absent */

/* Finds name, checks its rank and shape (a negative expected dimension matches anything) and
 * returns a malloc'ed contiguous float32 copy (caller frees; F64 rounds, F16/BF16 exact, integer
 * storages are refused), or NULL with err filled ("missing tensor 'NAME'", the actual and
 * expected shapes, or out of memory). */
float *pt_get_f32(const pt_file *f, const char *name, int rank, const int64_t *shape,
                  emoi_err *err);

#endif
