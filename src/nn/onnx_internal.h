/* onnx_internal.h: what the two layers of the ONNX reader share beyond onnx_reader.h: the
 * arena the parsed model and the lowering's folded constants live in. Layer 1 (protobuf to
 * onnx_model) is onnx_reader.c, layer 2 (onnx_model to nn_graph) is onnx_lower.c. */
#ifndef EMO_NN_ONNX_INTERNAL_H
#define EMO_NN_ONNX_INTERNAL_H

#include <stddef.h>

/* n zeroed bytes, 16-byte aligned, from the arena *arena (NULL: a new one); NULL when out of
 * memory. Everything is freed at once by nn_onnx_arena_free. */
void *nn_onnx_arena_alloc(void **arena, size_t n);

/* Frees every block of the arena; NULL is fine. */
void nn_onnx_arena_free(void *arena);

#endif
