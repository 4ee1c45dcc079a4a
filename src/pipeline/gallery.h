/* gallery.h: the library side of emo_gallery (see gallery.c and emo.h): matching a track's face
 * descriptor against the named photos. */
#ifndef EMO_PIPELINE_GALLERY_H
#define EMO_PIPELINE_GALLERY_H

#include "emo.h"
#include "vision/face_embed.h"

#define GAL_AMBIG 0.05f /* two people closer than this to a face are both reported */

/* The person (index for emo_gallery_person) whose closest photo has cosine similarity >=
 * threshold with emb (L2-normalised, FEM_DIM), or -1 (unknown; also for a NULL or empty g).
 * *also: a second person also >= threshold and within GAL_AMBIG of the first (look-alikes),
 * else -1. Thread-safe. */
int emoi_gallery_match(const emo_gallery *g, const float *emb, float threshold, int *also);

#endif
