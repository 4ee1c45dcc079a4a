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
  int multilabel;    /* 1: one sigmoid per class (emo_train_set.targets), not a softmax */
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

/* Writes ,"key":{label: v, ...} of the head's classes (decimals digits) into b (an
 * output/strbuf.h sb), for the writers of emo's records (learn/head_json.c). */
struct sb;
void head_json_object(struct sb *b, const emo_head *h, const char *key, const float *v,
                      int decimals);
/* ,"custom":{..},"custom_dominant":label[,"custom_intensity":{..}] of one answer (it may be
 * NULL). */
void head_json_answer(struct sb *b, const emo_head *h, const float *p, const float *it);

/* Copies s (NULL -> "") with malloc. */
char *head_strdup(const char *s);

#endif
