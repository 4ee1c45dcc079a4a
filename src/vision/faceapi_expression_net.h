/* faceapi_expression_net.h: networks of face-api (@vladmandic/face-api 1.7.15, after
 * justadudewhohacks' face-api.js) built in C from their weight files. face-api ships weights only
 * (a TF.js weights manifest + .bin, uint8-quantized); its architecture lives in its TypeScript, so
 * this module rebuilds that architecture as an nn_graph (nn/nn.h) and fills it with the
 * weights by name. Reading and dequantizing the weights is nn/tfjs_reader.c's; running the
 * graph is nn/plan.c's.
 *
 * Face expression network (FaceExpressionNet = FaceFeatureExtractor + FC + softmax):
 *   input  (1, 112, 112, 3) float32, RGB (R, G, B channel order), values in [0, 255]: the
 *          face crop resized to 112x112 (face-api itself pads the crop to a square with black,
 *          centred, then resizes bilinearly). The mean subtraction and /255 of face-api's
 *          normalize() are ops of the graph, so the caller does no normalisation.
 *   output (1, 7) softmax probabilities in face-api's class order:
 *          0 neutral, 1 happy, 2 sad, 3 angry, 4 fearful, 5 disgusted, 6 surprised. */
#ifndef EMO_VISION_FACEAPI_EXPRESSION_NET_H
#define EMO_VISION_FACEAPI_EXPRESSION_NET_H

#include <stdint.h>

#include "core/err.h"
#include "nn/nn.h"

#define FE_FACEAPI_SIZE 112
#define FE_FACEAPI_CLASSES 7

/* Builds the face expression network from manifest_path (face-api's
 * face_expression_model-weights_manifest.json; the .bin shard it names is read from the same
 * folder), each file at most max_bytes (<= 0: no cap). On success *out is a finalized graph
 * the caller owns (nn_graph_destroy), with one input and one output as described above.
 * Returns EMO_OK; EMO_EIO; EMO_EMODEL when a weight is missing or has the wrong shape (the
 * message names it); EMO_ELIMIT; EMO_ENOMEM. Thread-safe. */
int fe_faceapi_net_load(const char *manifest_path, int64_t max_bytes, nn_graph **out,
                        emoi_err *err);

/* Same from memory: manifest JSON (len bytes) and its shards in manifest order (or one
 * buffer holding their concatenation). source names the model in messages (may be NULL). */
int fe_faceapi_net_load_memory(const char *json, size_t json_len, const void *const *shards,
                               const size_t *shard_sizes, int n_shards, const char *source,
                               nn_graph **out, emoi_err *err);

#endif
