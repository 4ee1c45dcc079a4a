/* tflite_reader.h: loads a TensorFlow Lite flatbuffer (schema tensorflow/lite/schema/schema.fbs,
 * file identifier "TFL3") into emo's internal graph (nn/nn.h). Only float models are read:
 * FLOAT32 activations, FLOAT32 / INT32 constants, and FLOAT16 constants that feed a
 * DEQUANTIZE op (folded into FLOAT32 constants at load). Running the graph is left to
 * nn/plan.c; the ops a backend must implement are those of nn.h. */
#ifndef EMO_NN_TFLITE_READER_H
#define EMO_NN_TFLITE_READER_H

#include <stddef.h>

#include "core/err.h"
#include "nn/nn.h"

/* Caps on what a file may claim (a larger claim is rejected as EMO_EMODEL). */
#define NN_TFLITE_MAX_TENSORS 65536
#define NN_TFLITE_MAX_OPERATORS 65536
#define NN_TFLITE_MAX_ELEMS ((int64_t)1 << 26) /* elements of any one tensor */

/* Parses size bytes at data (borrowed; only read during the call: constants are copied into
 * the graph's weight blob) and builds a finalized graph into *out (caller owns it, frees with
 * nn_graph_destroy). Subgraph 0 is loaded; the graph's inputs and outputs are the subgraph's,
 * in order, and every value is named after its TFLite tensor. A batch dimension of -1 on an
 * input becomes 1. source names the file in error messages (may be NULL).
 * Returns EMO_OK; EMO_EMODEL when the bytes are malformed (the message names the field);
 * EMO_EUNSUPPORTED for a valid file that uses an op, option or tensor type emo lacks (the
 * message names it); EMO_ENOMEM; or an error of nn_graph_finalize. Never reads outside
 * [data, data + size). Thread-safe (no shared state). */
int nn_tflite_load(const void *data, size_t size, const char *source, nn_graph **out,
                   emoi_err *err);

/* Static name of a TFLite BuiltinOperator code, e.g. "CONV_2D"; "UNKNOWN" when unknown. */
const char *nn_tflite_op_name(int builtin_code);

#endif
