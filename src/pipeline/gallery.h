/* gallery.h: the library side of emo_gallery (see gallery.c and emo.h): matching a track's face
 * descriptor against the named photos. */
#ifndef EMO_PIPELINE_GALLERY_H
#define EMO_PIPELINE_GALLERY_H

#include "core/err.h"
#include "emo.h"
#include "vision/face_embed.h"

#define GAL_AMBIG 0.05f /* two people closer than this to a face are both reported */

/* The person (index for emo_gallery_person) whose closest photo has cosine similarity >=
 * threshold with emb (L2-normalised, FEM_DIM), or -1 (unknown; also for a NULL or empty g).
 * *also: a second person also >= threshold and within GAL_AMBIG of the first (look-alikes),
 * else -1. Thread-safe. */
int emoi_gallery_match(const emo_gallery *g, const float *emb, float threshold, int *also);

/* Adds the tracks of an earlier run's JSON Lines (text, size bytes; borrowed) to g: every
 * summary track with a 1024-number "embedding", named "<stem>:<who>" (gallery.c). Malformed
 * records are skipped and counted in *skipped. Returns EMO_OK or EMO_ENOMEM. */
int emoi_gallery_add_jsonl(emo_gallery *g, const char *text, size_t size, const char *stem,
                           int *skipped, emoi_err *err);

/* An empty gallery for emoi_gallery_add_jsonl (free with emo_gallery_destroy), or NULL. */
emo_gallery *emoi_gallery_new(void);

#endif
