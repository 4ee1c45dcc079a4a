/* torch_ckpt.c: the restricted PyTorch checkpoint reader (contract in torch_ckpt.h).
 *
 * The pickle machine keeps every value it makes in one array (vals) and refers to values by
 * index: the stack, the memo, tuples (a run of indices in `items`) and dicts (key/value index
 * pairs chained through `pairs`) hold indices only, so nothing is freed before pt_close and a
 * value may be shared (BINGET) without ownership questions. Strings live in one pool. */
#include "nn/torch_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/file.h"
#include "core/zip.h"
#include "nn/half.h"
#include "nn/nn.h"

typedef enum vkind {
  V_NONE,
  V_BOOL,
  V_INT,
  V_STR,
  V_TUPLE,
  V_DICT,
  V_GLOBAL,
  V_STORAGE,
  V_TENSOR
} vkind;

typedef enum gkind {
  G_ORDERED_DICT = 0,
  G_REBUILD_V2,
  G_STORAGE_F32,
  G_STORAGE_F64,
  G_STORAGE_F16,
  G_STORAGE_BF16,
  G_STORAGE_I64,
  G_STORAGE_I32,
  G_COUNT
} gkind;

static const char *const g_names[G_COUNT] = {
    "collections\nOrderedDict", "torch._utils\n_rebuild_tensor_v2",
    "torch\nFloatStorage",      "torch\nDoubleStorage",
    "torch\nHalfStorage",       "torch\nBFloat16Storage",
    "torch\nLongStorage",       "torch\nIntStorage"};

typedef struct value {
  vkind kind;
  int64_t i;    /* V_INT, V_BOOL; V_GLOBAL: gkind; V_STORAGE, V_TENSOR: index */
  size_t off;   /* V_STR: pool offset; V_TUPLE: first item */
  int64_t n;    /* V_STR: length; V_TUPLE: item count */
  int64_t head; /* V_DICT: first pair, -1 when empty */
  int64_t tail;
} value;

typedef struct pair {
  int64_t k, v, next;
} pair;

typedef struct storage {
  size_t key; /* pool offset */
  pt_dtype dtype;
  int64_t numel;
  const uint8_t *data;
  size_t size;
} storage;

struct pt_file {
  pt_tensor *tensors;
  int n_tensors;
  char *names; /* the tensors' names, one allocation */
  /* owned storage bytes of pt_open_memory */
  unsigned char **blobs;
  int n_blobs;
};

typedef struct machine {
  const uint8_t *pkl;
  size_t n;
  value *vals;
  int64_t n_vals, cap_vals;
  int64_t *items; /* tuple items */
  int64_t n_items, cap_items;
  pair *pairs;
  int64_t n_pairs, cap_pairs;
  int64_t *stack;
  int64_t n_stack, cap_stack;
  int64_t *marks;
  int64_t n_marks, cap_marks;
  int64_t *memo; /* value index + 1; 0 = empty */
  int64_t cap_memo;
  char *pool;
  size_t n_pool, cap_pool;
  storage *st;
  int64_t n_st, cap_st;
  pt_tensor *ts; /* names unset until the top dict is read */
  int64_t n_ts, cap_ts;
  pt_storage_fn resolve;
  void *user;
  emoi_err *err;
} machine;

int pt_dtype_size(pt_dtype t) {
  switch (t) {
    case PT_F32: return 4;
    case PT_F64: return 8;
    case PT_F16: return 2;
    case PT_BF16: return 2;
    case PT_I64: return 8;
    case PT_I32: return 4;
    default: return 0;
  }
}

static const char *dtype_name(pt_dtype t) {
  static const char *const n[PT_DTYPE_COUNT] = {"float32",  "float64", "float16",
                                                "bfloat16", "int64",   "int32"};
  return (unsigned)t < PT_DTYPE_COUNT ? n[t] : "?";
}

/* Grows *p (elements of size es) to hold need; 0 or -1 (cap or memory). */
static int grow(void **p, int64_t *cap, int64_t need, size_t es, int64_t limit) {
  if (need <= *cap) return 0;
  if (need > limit) return -1;
  int64_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  if (nc > limit) nc = limit;
  void *q = realloc(*p, (size_t)nc * es);
  if (!q) return -1;
  *p = q;
  *cap = nc;
  return 0;
}

#define GROW(m, arr, n, cap, need) \
  (grow((void **)&(m)->arr, &(m)->cap, (need), sizeof *(m)->arr, PT_MAX_VALUES) ? -1 : 0)

static int fail_at(machine *m, size_t pos, int code, const char *what) {
  return emoi_fail(m->err, code, "pickle offset %zu: %s", pos, what);
}

static int new_value(machine *m, value v, int64_t *id) {
  if (GROW(m, vals, n_vals, cap_vals, m->n_vals + 1))
    return emoi_fail(m->err, EMO_ELIMIT, "pickle: more than %d values", PT_MAX_VALUES);
  m->vals[m->n_vals] = v;
  *id = m->n_vals++;
  return 0;
}

static int push(machine *m, int64_t id) {
  if (GROW(m, stack, n_stack, cap_stack, m->n_stack + 1))
    return emoi_fail(m->err, EMO_ELIMIT, "pickle: stack deeper than %d", PT_MAX_VALUES);
  m->stack[m->n_stack++] = id;
  return 0;
}

static int push_new(machine *m, value v) {
  int64_t id = 0;
  int rc = new_value(m, v, &id);
  return rc ? rc : push(m, id);
}

/* Pops one value (above the last mark). */
static int pop(machine *m, size_t pos, int64_t *id) {
  int64_t floor = m->n_marks ? m->marks[m->n_marks - 1] : 0;
  if (m->n_stack <= floor) return fail_at(m, pos, EMO_EMODEL, "stack underflow");
  *id = m->stack[--m->n_stack];
  return 0;
}

static int pool_add(machine *m, const uint8_t *s, size_t n, size_t *off) {
  if (n > PT_MAX_PICKLE) return emoi_fail(m->err, EMO_ELIMIT, "pickle: string too long");
  int64_t cap = (int64_t)m->cap_pool;
  if (grow((void **)&m->pool, &cap, (int64_t)(m->n_pool + n + 1), 1, (int64_t)PT_MAX_PICKLE * 2))
    return emoi_fail(m->err, EMO_ELIMIT, "pickle: strings exceed %zu bytes", PT_MAX_PICKLE * 2);
  m->cap_pool = (size_t)cap;
  *off = m->n_pool;
  memcpy(m->pool + m->n_pool, s, n);
  m->pool[m->n_pool + n] = '\0';
  m->n_pool += n + 1;
  return 0;
}

static const char *str_of(const machine *m, const value *v) {
  return m->pool + v->off;
}

/* Makes a tuple of the top k values (k <= stack above the mark). */
static int make_tuple(machine *m, size_t pos, int64_t k) {
  int64_t floor = m->n_marks ? m->marks[m->n_marks - 1] : 0;
  if (m->n_stack - floor < k) return fail_at(m, pos, EMO_EMODEL, "stack underflow");
  if (GROW(m, items, n_items, cap_items, m->n_items + k))
    return emoi_fail(m->err, EMO_ELIMIT, "pickle: more than %d tuple items", PT_MAX_VALUES);
  value t = {V_TUPLE, 0, (size_t)m->n_items, k, -1, -1};
  if (k) /* both arrays may still be NULL for an empty tuple */
    memcpy(m->items + m->n_items, m->stack + m->n_stack - k, (size_t)k * sizeof(int64_t));
  m->n_items += k;
  m->n_stack -= k;
  return push_new(m, t);
}

static int dict_set(machine *m, size_t pos, int64_t d, int64_t k, int64_t v) {
  if (m->vals[d].kind != V_DICT) return fail_at(m, pos, EMO_EUNSUPPORTED, "SETITEM on a non-dict");
  if (m->vals[k].kind != V_STR)
    return fail_at(m, pos, EMO_EUNSUPPORTED, "a dict key that is not a string");
  if (GROW(m, pairs, n_pairs, cap_pairs, m->n_pairs + 1))
    return emoi_fail(m->err, EMO_ELIMIT, "pickle: more than %d dict items", PT_MAX_VALUES);
  m->pairs[m->n_pairs] = (pair){k, v, -1};
  if (m->vals[d].tail >= 0)
    m->pairs[m->vals[d].tail].next = m->n_pairs;
  else
    m->vals[d].head = m->n_pairs;
  m->vals[d].tail = m->n_pairs++;
  return 0;
}

static int64_t tuple_item(const machine *m, const value *t, int64_t i) {
  return (int)m->items[t->off + (size_t)i];
}

/* The int items of tuple t into out (at most PT_MAX_RANK). */
static int int_tuple(machine *m, size_t pos, const value *t, const char *what, int64_t *out,
                     int *n) {
  if (t->kind != V_TUPLE || t->n > PT_MAX_RANK) {
    char msg[96];
    snprintf(msg, sizeof msg, "tensor %s is not a tuple of at most %d ints", what, PT_MAX_RANK);
    return fail_at(m, pos, t->kind == V_TUPLE ? EMO_EUNSUPPORTED : EMO_EMODEL, msg);
  }
  for (int64_t i = 0; i < t->n; i++) {
    const value *e = &m->vals[m->items[t->off + (size_t)i]];
    if (e->kind != V_INT || e->i < 0 || e->i > PT_MAX_ELEMS) {
      char msg[96];
      snprintf(msg, sizeof msg, "tensor %s[%d] is not an int in [0, 2^31]", what, (int)i);
      return fail_at(m, pos, EMO_EMODEL, msg);
    }
    out[i] = e->i;
  }
  *n = (int)t->n;
  return 0;
}

/* BINPERSID: ('storage', TYPE, KEY, LOCATION, NUMEL) -> a storage value. */
static int persid(machine *m, size_t pos, int64_t pid) {
  const value *t = &m->vals[pid];
  if (t->kind != V_TUPLE || t->n != 5)
    return fail_at(m, pos, EMO_EUNSUPPORTED, "persistent id is not a 5-tuple ('storage', ...)");
  const value *tag = &m->vals[tuple_item(m, t, 0)], *ty = &m->vals[tuple_item(m, t, 1)];
  const value *key = &m->vals[tuple_item(m, t, 2)], *loc = &m->vals[tuple_item(m, t, 3)];
  const value *num = &m->vals[tuple_item(m, t, 4)];
  if (tag->kind != V_STR || strcmp(str_of(m, tag), "storage"))
    return fail_at(m, pos, EMO_EUNSUPPORTED, "persistent id is not a 'storage'");
  if (ty->kind != V_GLOBAL || ty->i < G_STORAGE_F32)
    return fail_at(m, pos, EMO_EUNSUPPORTED, "storage type is not a torch storage class");
  if (key->kind != V_STR || loc->kind != V_STR)
    return fail_at(m, pos, EMO_EMODEL, "storage key or location is not a string");
  if (num->kind != V_INT || num->i < 0 || num->i > PT_MAX_ELEMS)
    return fail_at(m, pos, EMO_ELIMIT, "storage size is negative or above 2^31 elements");
  const char *k = str_of(m, key);
  for (const char *c = k; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          *c == '_'))
      return fail_at(m, pos, EMO_EMODEL, "storage key has characters other than [0-9A-Za-z_]");
  if (!*k) return fail_at(m, pos, EMO_EMODEL, "empty storage key");
  pt_dtype dt = (pt_dtype)(ty->i - G_STORAGE_F32);
  int64_t si = -1;
  for (int64_t i = 0; i < m->n_st; i++)
    if (!strcmp(m->pool + m->st[i].key, k)) si = i;
  if (si >= 0) {
    if (m->st[si].dtype != dt || m->st[si].numel != num->i)
      return fail_at(m, pos, EMO_EMODEL, "one storage key with two types or sizes");
  } else {
    if (grow((void **)&m->st, &m->cap_st, m->n_st + 1, sizeof *m->st, PT_MAX_TENSORS))
      return emoi_fail(m->err, EMO_ELIMIT, "pickle: more than %d storages", PT_MAX_TENSORS);
    storage s = {key->off, dt, num->i, NULL, 0};
    int rc = m->resolve(m->user, k, dt, num->i, &s.data, &s.size, m->err);
    if (rc) return rc;
    if (s.size != (size_t)num->i * (size_t)pt_dtype_size(dt))
      return emoi_fail(m->err, EMO_EMODEL, "storage %s: %zu bytes, expected %lld %s elements", k,
                       s.size, (long long)num->i, dtype_name(dt));
    si = m->n_st;
    m->st[m->n_st++] = s;
  }
  return push_new(m, (value){V_STORAGE, si, 0, 0, -1, -1});
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static int rebuild(machine *m, size_t pos, const value *args) {
  if (args->kind != V_TUPLE || args->n < 6 || args->n > 7)
    return fail_at(m, pos, EMO_EUNSUPPORTED, "_rebuild_tensor_v2 with other than 6 or 7 args");
  const value *sv = &m->vals[tuple_item(m, args, 0)], *ov = &m->vals[tuple_item(m, args, 1)];
  if (sv->kind != V_STORAGE)
    return fail_at(m, pos, EMO_EMODEL, "_rebuild_tensor_v2: first argument is not a storage");
  if (ov->kind != V_INT || ov->i < 0 || ov->i > PT_MAX_ELEMS)
    return fail_at(m, pos, EMO_EMODEL, "_rebuild_tensor_v2: bad storage offset");
  pt_tensor t;
  memset(&t, 0, sizeof t);
  int rs, rc;
  if ((rc = int_tuple(m, pos, &m->vals[tuple_item(m, args, 2)], "size", t.shape, &t.rank)) ||
      (rc = int_tuple(m, pos, &m->vals[tuple_item(m, args, 3)], "stride", t.stride, &rs)))
    return rc;
  if (rs != t.rank) return fail_at(m, pos, EMO_EMODEL, "tensor size and stride ranks differ");
  const storage *s = &m->st[sv->i];
  t.dtype = s->dtype;
  t.numel = 1;
  int64_t last = ov->i; /* index of the last element */
  for (int d = 0; d < t.rank; d++) {
    if (t.shape[d] == 0) t.numel = 0;
    if (t.numel) {
      if (t.numel > PT_MAX_ELEMS / (t.shape[d] ? t.shape[d] : 1))
        return fail_at(m, pos, EMO_ELIMIT, "tensor larger than 2^31 elements");
      t.numel *= t.shape[d];
    }
  }
  if (t.numel) {
    for (int d = 0; d < t.rank; d++) {
      /* stride <= 2^31 and the shapes sum to at most 2^31 + 5 (their product is <= 2^31): no
       * overflow */
      last += (t.shape[d] - 1) * t.stride[d];
    }
    if (last >= s->numel)
      return fail_at(m, pos, EMO_EMODEL, "tensor reaches past the end of its storage");
  }
  t.data = s->data ? s->data + (size_t)ov->i * (size_t)pt_dtype_size(s->dtype) : NULL;
  if (!t.numel) t.data = s->data;
  if (grow((void **)&m->ts, &m->cap_ts, m->n_ts + 1, sizeof *m->ts, PT_MAX_TENSORS))
    return emoi_fail(m->err, EMO_ELIMIT, "pickle: more than %d tensors", PT_MAX_TENSORS);
  m->ts[m->n_ts] = t;
  return push_new(m, (value){V_TENSOR, m->n_ts++, 0, 0, -1, -1});
}

static int reduce(machine *m, size_t pos) {
  int64_t a = 0, f = 0;
  int rc;
  if ((rc = pop(m, pos, &a)) || (rc = pop(m, pos, &f))) return rc;
  const value *fv = &m->vals[f], *av = &m->vals[a];
  if (fv->kind != V_GLOBAL) return fail_at(m, pos, EMO_EUNSUPPORTED, "REDUCE of a non-global");
  if (fv->i == G_ORDERED_DICT) {
    if (av->kind != V_TUPLE || av->n != 0)
      return fail_at(m, pos, EMO_EUNSUPPORTED, "OrderedDict with arguments");
    return push_new(m, (value){V_DICT, 0, 0, 0, -1, -1});
  }
  if (fv->i == G_REBUILD_V2) return rebuild(m, pos, av);
  return fail_at(m, pos, EMO_EUNSUPPORTED, "REDUCE of a storage class");
}

static int run(machine *m, int64_t *result) {
  bytes_cur c = bytes_init(m->pkl, m->n);
  int rc;
  for (;;) {
    size_t pos = (size_t)(c.p - m->pkl);
    uint8_t op;
    if (bytes_read_u8(&c, &op)) return fail_at(m, pos, EMO_EMODEL, "ends without STOP");
    switch (op) {
      case 0x80: { /* PROTO */
        uint8_t v;
        if (bytes_read_u8(&c, &v)) return fail_at(m, pos, EMO_EMODEL, "truncated PROTO");
        if (v != 2) return fail_at(m, pos, EMO_EUNSUPPORTED, "pickle protocol other than 2");
        break;
      }
      case 'c': { /* GLOBAL module\nname\n */
        const uint8_t *s = c.p, *nl1 = memchr(s, '\n', bytes_left(&c));
        const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(c.end - nl1 - 1)) : NULL;
        if (!nl2) return fail_at(m, pos, EMO_EMODEL, "truncated GLOBAL");
        size_t len = (size_t)(nl2 - s);
        int g = -1;
        for (int i = 0; i < G_COUNT; i++)
          if (strlen(g_names[i]) == len && !memcmp(g_names[i], s, len)) g = i;
        if (g < 0) {
          char name[120];
          size_t k = len < sizeof name - 1 ? len : sizeof name - 1;
          for (size_t i = 0; i < k; i++)
            name[i] = s[i] == '\n' ? '.' : (s[i] >= 32 && s[i] < 127 ? (char)s[i] : '?');
          name[k] = '\0';
          return emoi_fail(m->err, EMO_EUNSUPPORTED,
                           "pickle offset %zu: global '%s' is not allowed (only a state_dict of "
                           "tensors is read)",
                           pos, name);
        }
        c.p = nl2 + 1;
        if ((rc = push_new(m, (value){V_GLOBAL, g, 0, 0, -1, -1}))) return rc;
        break;
      }
      case 'q':   /* BINPUT */
      case 'r': { /* LONG_BINPUT */
        uint32_t idx;
        uint8_t b;
        if (op == 'q' ? bytes_read_u8(&c, &b) : bytes_read_u32(&c, &idx))
          return fail_at(m, pos, EMO_EMODEL, "truncated PUT");
        if (op == 'q') idx = b;
        if (!m->n_stack) return fail_at(m, pos, EMO_EMODEL, "PUT on an empty stack");
        int64_t old_cap = m->cap_memo;
        if (grow((void **)&m->memo, &m->cap_memo, (int64_t)idx + 1, sizeof *m->memo, PT_MAX_VALUES))
          return fail_at(m, pos, EMO_ELIMIT, "memo index too large");
        if (m->cap_memo > old_cap) /* new slots are empty */
          memset(m->memo + old_cap, 0, (size_t)(m->cap_memo - old_cap) * sizeof *m->memo);
        m->memo[idx] = m->stack[m->n_stack - 1] + 1;
        break;
      }
      case 'h':   /* BINGET */
      case 'j': { /* LONG_BINGET */
        uint32_t idx;
        uint8_t b;
        if (op == 'h' ? bytes_read_u8(&c, &b) : bytes_read_u32(&c, &idx))
          return fail_at(m, pos, EMO_EMODEL, "truncated GET");
        if (op == 'h') idx = b;
        if ((int64_t)idx >= m->cap_memo || !m->memo[idx])
          return fail_at(m, pos, EMO_EMODEL, "GET of an empty memo slot");
        if ((rc = push(m, m->memo[idx] - 1))) return rc;
        break;
      }
      case '(': /* MARK */
        if (grow((void **)&m->marks, &m->cap_marks, m->n_marks + 1, sizeof *m->marks,
                 PT_MAX_VALUES))
          return fail_at(m, pos, EMO_ELIMIT, "too many marks");
        m->marks[m->n_marks++] = m->n_stack;
        break;
      case ')': /* EMPTY_TUPLE */
        if ((rc = make_tuple(m, pos, 0))) return rc;
        break;
      case 0x85: /* TUPLE1..3 */
      case 0x86:
      case 0x87:
        if ((rc = make_tuple(m, pos, op - 0x84))) return rc;
        break;
      case 't': { /* TUPLE: everything above the last mark */
        if (!m->n_marks) return fail_at(m, pos, EMO_EMODEL, "TUPLE without MARK");
        int64_t k = m->n_stack - m->marks[m->n_marks - 1];
        if ((rc = make_tuple(m, pos, k))) return rc;
        m->n_marks--;
        break;
      }
      case 'J': { /* BININT */
        int32_t v;
        if (bytes_read_i32(&c, &v)) return fail_at(m, pos, EMO_EMODEL, "truncated BININT");
        if ((rc = push_new(m, (value){V_INT, v, 0, 0, -1, -1}))) return rc;
        break;
      }
      case 'K': { /* BININT1 */
        uint8_t v;
        if (bytes_read_u8(&c, &v)) return fail_at(m, pos, EMO_EMODEL, "truncated BININT1");
        if ((rc = push_new(m, (value){V_INT, v, 0, 0, -1, -1}))) return rc;
        break;
      }
      case 'M': { /* BININT2 */
        uint16_t v;
        if (bytes_read_u16(&c, &v)) return fail_at(m, pos, EMO_EMODEL, "truncated BININT2");
        if ((rc = push_new(m, (value){V_INT, v, 0, 0, -1, -1}))) return rc;
        break;
      }
      case 0x8a: { /* LONG1: n-byte little-endian two's complement */
        uint8_t n;
        const uint8_t *b;
        if (bytes_read_u8(&c, &n) || bytes_read_span(&c, n, &b))
          return fail_at(m, pos, EMO_EMODEL, "truncated LONG1");
        if (n > 8) return fail_at(m, pos, EMO_EUNSUPPORTED, "integer wider than 64 bits");
        uint64_t u = 0;
        for (int i = n - 1; i >= 0; i--) u = u << 8 | b[i];
        if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        int64_t v;
        memcpy(&v, &u, sizeof v);
        if ((rc = push_new(m, (value){V_INT, v, 0, 0, -1, -1}))) return rc;
        break;
      }
      case 'X': { /* BINUNICODE */
        uint32_t n;
        const uint8_t *b;
        size_t off = 0;
        if (bytes_read_u32(&c, &n) || bytes_read_span(&c, n, &b))
          return fail_at(m, pos, EMO_EMODEL, "truncated BINUNICODE");
        if (memchr(b, '\0', n)) return fail_at(m, pos, EMO_EUNSUPPORTED, "string with a NUL byte");
        if ((rc = pool_add(m, b, n, &off))) return rc;
        if ((rc = push_new(m, (value){V_STR, 0, off, n, -1, -1}))) return rc;
        break;
      }
      case 'N': /* NONE */
        if ((rc = push_new(m, (value){V_NONE, 0, 0, 0, -1, -1}))) return rc;
        break;
      case 0x88: /* NEWTRUE */
      case 0x89: /* NEWFALSE */
        if ((rc = push_new(m, (value){V_BOOL, op == 0x88, 0, 0, -1, -1}))) return rc;
        break;
      case '}': /* EMPTY_DICT */
        if ((rc = push_new(m, (value){V_DICT, 0, 0, 0, -1, -1}))) return rc;
        break;
      case 's': { /* SETITEM */
        int64_t k = 0, v = 0;
        if ((rc = pop(m, pos, &v)) || (rc = pop(m, pos, &k))) return rc;
        if (!m->n_stack) return fail_at(m, pos, EMO_EMODEL, "SETITEM without a dict");
        if ((rc = dict_set(m, pos, m->stack[m->n_stack - 1], k, v))) return rc;
        break;
      }
      case 'u': { /* SETITEMS: pairs above the mark into the dict below it */
        if (!m->n_marks) return fail_at(m, pos, EMO_EMODEL, "SETITEMS without MARK");
        int64_t mk = m->marks[--m->n_marks];
        if ((m->n_stack - mk) % 2 || mk < 1)
          return fail_at(m, pos, EMO_EMODEL, "SETITEMS with an odd item count or no dict");
        for (int64_t i = mk; i < m->n_stack; i += 2)
          if ((rc = dict_set(m, pos, m->stack[mk - 1], m->stack[i], m->stack[i + 1]))) return rc;
        m->n_stack = mk;
        break;
      }
      case 'R': /* REDUCE */
        if ((rc = reduce(m, pos))) return rc;
        break;
      case 'b': { /* BUILD: only a dict's state (a state_dict's _metadata), ignored */
        int64_t st = 0;
        if ((rc = pop(m, pos, &st))) return rc;
        if (!m->n_stack || m->vals[m->stack[m->n_stack - 1]].kind != V_DICT)
          return fail_at(m, pos, EMO_EUNSUPPORTED, "BUILD on something other than a dict");
        break;
      }
      case 'Q': { /* BINPERSID */
        int64_t pid = 0;
        if ((rc = pop(m, pos, &pid)) || (rc = persid(m, pos, pid))) return rc;
        break;
      }
      case '.': /* STOP */
        if (m->n_stack != 1 || m->n_marks)
          return fail_at(m, pos, EMO_EMODEL, "STOP with other than one value on the stack");
        if (bytes_left(&c)) return fail_at(m, pos, EMO_EMODEL, "bytes after STOP");
        *result = m->stack[0];
        return 0;
      default: {
        char msg[80];
        snprintf(msg, sizeof msg, "opcode 0x%02x is not in the state_dict subset", op);
        return fail_at(m, pos, EMO_EUNSUPPORTED, msg);
      }
    }
  }
}

static void machine_free(machine *m) {
  free(m->vals);
  free(m->items);
  free(m->pairs);
  free(m->stack);
  free(m->marks);
  free(m->memo);
  free(m->pool);
  free(m->st);
  free(m->ts);
}

int pt_parse_pickle(const uint8_t *pkl, size_t n, pt_storage_fn resolve, void *user, pt_file **out,
                    emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "pt_parse_pickle: NULL out");
  *out = NULL;
  if (!resolve || (!pkl && n)) return emoi_fail(err, EMO_EINVAL, "pt_parse_pickle: NULL input");
  if (n > PT_MAX_PICKLE)
    return emoi_fail(err, EMO_ELIMIT, "pickle of %zu bytes (cap %zu)", n, PT_MAX_PICKLE);
  machine m;
  memset(&m, 0, sizeof m);
  m.pkl = pkl;
  m.n = n;
  m.resolve = resolve;
  m.user = user;
  m.err = err;
  int64_t top = 0;
  int rc = run(&m, &top);
  pt_file *f = NULL;
  if (rc) goto done;
  const value *d = &m.vals[top];
  if (d->kind != V_DICT) {
    rc = emoi_fail(err, EMO_EUNSUPPORTED, "the checkpoint is not a state_dict (a dict of tensors)");
    goto done;
  }
  /* count, check and name the tensors */
  int64_t count = 0;
  size_t name_bytes = 0;
  for (int64_t p = d->head; p >= 0; p = m.pairs[p].next) {
    const value *k = &m.vals[m.pairs[p].k], *v = &m.vals[m.pairs[p].v];
    if (v->kind != V_TENSOR) {
      rc = emoi_fail(err, EMO_EUNSUPPORTED, "state_dict entry '%.100s' is not a tensor",
                     str_of(&m, k));
      goto done;
    }
    count++;
    name_bytes += (size_t)k->n + 1;
  }
  if (count > PT_MAX_TENSORS) {
    rc = emoi_fail(err, EMO_ELIMIT, "more than %d tensors", PT_MAX_TENSORS);
    goto done;
  }
  f = calloc(1, sizeof *f);
  if (f) {
    f->tensors = calloc((size_t)count + 1, sizeof *f->tensors);
    f->names = malloc(name_bytes + 1);
  }
  if (!f || !f->tensors || !f->names) {
    rc = emoi_fail(err, EMO_ENOMEM, "out of memory");
    goto done;
  }
  size_t at = 0;
  for (int64_t p = d->head; p >= 0; p = m.pairs[p].next) {
    const value *k = &m.vals[m.pairs[p].k], *v = &m.vals[m.pairs[p].v];
    const char *name = str_of(&m, k);
    for (int i = 0; i < f->n_tensors; i++)
      if (!strcmp(f->tensors[i].name, name)) {
        rc = emoi_fail(err, EMO_EMODEL, "tensor '%.100s' appears twice", name);
        goto done;
      }
    memcpy(f->names + at, name, (size_t)k->n + 1);
    f->tensors[f->n_tensors] = m.ts[v->i];
    f->tensors[f->n_tensors++].name = f->names + at;
    at += (size_t)k->n + 1;
  }
done:
  machine_free(&m);
  if (rc) {
    pt_close(&f);
    return rc;
  }
  *out = f;
  return EMO_OK;
}

void pt_close(pt_file **f) {
  if (!f || !*f) return;
  for (int i = 0; i < (*f)->n_blobs; i++) free((*f)->blobs[i]);
  free((*f)->blobs);
  free((*f)->tensors);
  free((*f)->names);
  free(*f);
  *f = NULL;
}

int pt_count(const pt_file *f) {
  return f ? f->n_tensors : 0;
}

const pt_tensor *pt_at(const pt_file *f, int i) {
  return f && i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const pt_tensor *pt_find(const pt_file *f, const char *name) {
  if (!f || !name) return NULL;
  for (int i = 0; i < f->n_tensors; i++)
    if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
  return NULL;
}

/* ---- the zip layer ----------------------------------------------------------------------- */

typedef struct zip_ctx {
  emoi_zip *z;
  const char *prefix; /* "archive/" */
  size_t prefix_len;
  unsigned char **blobs;
  int n_blobs, cap_blobs;
} zip_ctx;

static int zip_resolve(void *user, const char *key, pt_dtype dtype, int64_t numel,
                       const uint8_t **data, size_t *size, emoi_err *err) {
  zip_ctx *zc = user;
  char name[512];
  int n = snprintf(name, sizeof name, "%.*sdata/%s", (int)zc->prefix_len, zc->prefix, key);
  if (n < 0 || (size_t)n >= sizeof name) return emoi_fail(err, EMO_EMODEL, "storage key too long");
  int i = emoi_zip_find(zc->z, name);
  if (i < 0) return emoi_fail(err, EMO_EMODEL, "storage entry '%s' is missing", name);
  size_t want = (size_t)numel * (size_t)pt_dtype_size(dtype);
  if (zc->n_blobs == zc->cap_blobs) {
    int nc = zc->cap_blobs ? zc->cap_blobs * 2 : 64;
    if (nc > PT_MAX_TENSORS) return emoi_fail(err, EMO_ELIMIT, "too many storages");
    unsigned char **b = realloc(zc->blobs, (size_t)nc * sizeof *b);
    if (!b) return emoi_fail(err, EMO_ENOMEM, "out of memory");
    zc->blobs = b;
    zc->cap_blobs = nc;
  }
  unsigned char *buf = NULL;
  size_t got = 0;
  int rc = emoi_zip_read(zc->z, i, want, &buf, &got, err);
  if (rc == EMO_ELIMIT)
    return emoi_fail(err, EMO_EMODEL, "storage '%s' is larger than its %lld %s elements", name,
                     (long long)numel, dtype_name(dtype));
  if (rc) return rc;
  zc->blobs[zc->n_blobs++] = buf;
  *data = buf;
  *size = got;
  return 0;
}

int pt_open_memory(const uint8_t *data, size_t size, const char *label, pt_file **out,
                   emoi_err *err) {
  if (!out) return emoi_fail(err, EMO_EINVAL, "pt_open_memory: NULL out");
  *out = NULL;
  if (!label) label = "checkpoint";
  zip_ctx zc;
  memset(&zc, 0, sizeof zc);
  unsigned char *pkl = NULL;
  size_t pkl_n = 0;
  int rc = emoi_zip_open(data, size, label, &zc.z, err);
  if (rc) return rc;
  /* the one ARCHIVE/data.pkl entry, ARCHIVE without '/' */
  int pi = -1;
  for (int i = 0; i < emoi_zip_count(zc.z); i++) {
    const char *nm = emoi_zip_name(zc.z, i), *sl = nm ? strchr(nm, '/') : NULL;
    if (sl && !strcmp(sl, "/data.pkl")) {
      if (pi >= 0) {
        rc = emoi_fail(err, EMO_EMODEL, "%s: two data.pkl entries", label);
        goto fail;
      }
      pi = i;
      zc.prefix = nm;
      zc.prefix_len = (size_t)(sl - nm) + 1;
    }
  }
  if (pi < 0) {
    rc = emoi_fail(err, EMO_EMODEL,
                   "%s: no ARCHIVE/data.pkl entry: not a PyTorch checkpoint (torch.save >= 1.6)",
                   label);
    goto fail;
  }
  char bo[512];
  snprintf(bo, sizeof bo, "%.*sbyteorder", (int)zc.prefix_len, zc.prefix);
  int bi = emoi_zip_find(zc.z, bo);
  if (bi >= 0) {
    unsigned char *b = NULL;
    size_t bn = 0;
    if ((rc = emoi_zip_read(zc.z, bi, 16, &b, &bn, err))) goto fail;
    int little = bn == 6 && !memcmp(b, "little", 6);
    free(b);
    if (!little) {
      rc = emoi_fail(err, EMO_EUNSUPPORTED, "%s: byte order is not little-endian", label);
      goto fail;
    }
  }
  if ((rc = emoi_zip_read(zc.z, pi, PT_MAX_PICKLE, &pkl, &pkl_n, err))) goto fail;
  rc = pt_parse_pickle(pkl, pkl_n, zip_resolve, &zc, out, err);
  if (rc) {
    emoi_err_prefix(err, label);
    goto fail;
  }
  (*out)->blobs = zc.blobs;
  (*out)->n_blobs = zc.n_blobs;
  zc.blobs = NULL;
  zc.n_blobs = 0;
fail:
  free(pkl);
  for (int i = 0; i < zc.n_blobs; i++) free(zc.blobs[i]);
  free(zc.blobs);
  emoi_zip_close(zc.z);
  return rc;
}

int pt_open_file(const char *path, size_t max_bytes, pt_file **out, emoi_err *err) {
  if (!out || !path) return emoi_fail(err, EMO_EINVAL, "pt_open_file: NULL argument");
  *out = NULL;
  const unsigned char *data = NULL;
  size_t size = 0;
  int rc = emoi_file_map(path, (int64_t)max_bytes, &data, &size, err);
  if (rc) return rc;
  rc = pt_open_memory(data, size, path, out, err);
  emoi_file_unmap(data, size);
  return rc;
}

float *pt_get_f32(const pt_file *f, const char *name, int rank, const int64_t *shape,
                  emoi_err *err) {
  const pt_tensor *t = pt_find(f, name);
  if (!t) {
    emoi_fail(err, EMO_EMODEL, "missing tensor '%s'", name);
    return NULL;
  }
  int ok = t->rank == rank;
  for (int d = 0; ok && d < rank; d++) ok = shape[d] < 0 || shape[d] == t->shape[d];
  if (!ok) {
    char a[128], b[128];
    nn_dims_str(a, sizeof a, t->shape, t->rank);
    nn_dims_str(b, sizeof b, shape, rank);
    emoi_fail(err, EMO_EMODEL, "tensor '%s' has shape (%s), expected (%s)", name, a, b);
    return NULL;
  }
  if (t->dtype == PT_I64 || t->dtype == PT_I32) {
    emoi_fail(err, EMO_EMODEL, "tensor '%s' is %s, expected a float tensor", name,
              dtype_name(t->dtype));
    return NULL;
  }
  float *o = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
  if (!o) {
    emoi_fail(err, EMO_ENOMEM, "out of memory for tensor '%s'", name);
    return NULL;
  }
  int64_t idx[PT_MAX_RANK] = {0};
  int es = pt_dtype_size(t->dtype);
  for (int64_t i = 0; i < t->numel; i++) {
    int64_t e = 0;
    for (int d = 0; d < t->rank; d++) e += idx[d] * t->stride[d];
    const uint8_t *p = t->data + (size_t)e * (size_t)es;
    switch (t->dtype) {
      case PT_F32: o[i] = bytes_le_f32(p); break;
      case PT_F64: o[i] = (float)bytes_le_f64(p); break;
      case PT_F16: o[i] = nn_f16_to_f32(bytes_le16(p)); break;
      default: o[i] = nn_bf16_to_f32(bytes_le16(p)); break;
    }
    for (int d = t->rank - 1; d >= 0; d--) {
      if (++idx[d] < t->shape[d]) break;
      idx[d] = 0;
    }
  }
  return o;
}
