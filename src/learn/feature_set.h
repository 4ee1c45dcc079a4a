/* feature_set.h: the blocks of emo's feature vectors and vectors made of some of them
 * (learn/feature_set.c). A block is named by its bit in a mask (FS_*); a vector of a mask holds
 * the blocks of the mask in the order below, packed. */
#ifndef EMO_LEARN_FEATURE_SET_H
#define EMO_LEARN_FEATURE_SET_H

#include <stddef.h>

#include "emo.h"

/* Every block of every modality, in vector order within a modality. */
enum {
  FS_FER_PENULTIMATE = 0, /* face */
  FS_FACEAPI_PENULTIMATE,
  FS_FACE_EMBEDDING,
  FS_FER_PROBS,
  FS_FACEAPI_PROBS,
  FS_POSE_AU,
  FS_SER_PENULTIMATE, /* voice */
  FS_SER_PROBS,
  FS_PROSODY,
  FS_W2V_POOLED,
  FS_N_BLOCKS
};
#define FS_BIT(b) (1u << (b))
#define FS_FACE_ALL 0x3Fu   /* the six face blocks */
#define FS_VOICE_ALL 0x3C0u /* the four voice blocks */

#define FS_MAX_TEXT 160 /* one block as written ("prosody 6 (f0_mean ... rate)") */
#define FS_MAX_HASH 72

/* A definition taken apart (fs_parse) or made for a model (features.c). */
typedef struct fs_def {
  emo_modality modality;
  char header[64]; /* "emo-face-features 1" */
  int n_blocks;
  int block[FS_N_BLOCKS];              /* FS_* of each block, in order */
  int dim[FS_N_BLOCKS];                /* its values */
  char text[FS_N_BLOCKS][FS_MAX_TEXT]; /* as written: "name dim[ (notes)]" */
  int n_models;
  char model[FS_N_BLOCKS][32];         /* manifest name ("fer_emotion_bin") */
  char hash[FS_N_BLOCKS][FS_MAX_HASH]; /* its sha256 prefix */
} fs_def;

/* The model file block b comes from (manifest name), or NULL (pose_au, prosody). */
const char *fs_block_model(int b);
/* The name of block b ("fer_penultimate"). */
const char *fs_block_name(int b);

/* Takes definition apart into *d. EMO_EINVAL (err says why) for a malformed string or an
 * unknown block. */
int fs_parse(const char *definition, fs_def *d, char *err, size_t err_size);

/* The mask of d's blocks. */
unsigned fs_mask(const fs_def *d);

/* Writes the definition of the blocks of d that are in mask (d's order), naming only the
 * models those blocks come from. EMO_EINVAL when buf is too small. */
int fs_compose(const fs_def *d, unsigned mask, char *buf, size_t size);

/* Copies the blocks of `to` (a subset of `from`) out of a vector of `from` into out; dim[b]
 * is block b's length. */
void fs_gather(const int dim[FS_N_BLOCKS], unsigned from, unsigned to, const float *in, float *out);

/* Values of a vector of mask. */
int fs_dim(const int dim[FS_N_BLOCKS], unsigned mask);

#endif
