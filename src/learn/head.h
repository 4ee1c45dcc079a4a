/* head.h: the insides of emo_head (emo.h), shared by learn/head.c (training, prediction,
 * cross-validation) and learn/head_file.c (the file format). */
#ifndef EMO_LEARN_HEAD_H
#define EMO_LEARN_HEAD_H

#include "emo.h"

#define HEAD_MAX_DIM (1 << 16)
#define HEAD_MAX_CLASSES 4096
#define HEAD_MAX_HIDDEN 4096
#define HEAD_MAX_DEFINITION 4096
#define HEAD_MAX_NAME 255

struct emo_head {
  emo_head_kind kind; /* NCM, LOGREG or MLP (never AUTO) */
  emo_modality modality;
  int dim, n_classes, hidden, has_intensity;
  float tau;         /* NCM: logits are -|x - mean_c|^2 / tau */
  char *definition;  /* emo_features_definition of the vectors it reads */
  char **names;      /* (n_classes,) */
  float *mean, *std; /* (dim,) standardisation: z = (x - mean) / std */
  float *w1, *b1;    /* NCM: class means (C, dim), b1 unused; LOGREG: (C, dim), (C);
                        MLP: hidden layer (H, dim), (H) */
  float *w2, *b2;    /* MLP output layer (C, H), (C); else NULL */
  float *wi, *bi;    /* intensity per class (C, dim), (C) when has_intensity */
};

/* Allocates a head with every array for its sizes (zeroed); names and definition NULL. */
emo_head *head_alloc(emo_head_kind kind, int dim, int n_classes, int hidden, int has_intensity);

/* Copies s (NULL -> "") with malloc. */
char *head_strdup(const char *s);

#endif
