/* blazeface.c: BlazeFace post-processing (see blazeface.h). The anchor scheme and decoding
 * follow MediaPipe's face_detection graphs: short range = 4 SSD layers with strides
 * 8,16,16,16 (2 anchors per cell at stride 8, 6 per cell at stride 16: 16*16*2 + 8*8*6 = 896),
 * full range = 1 layer with stride 4 (48*48*1 = 2304, interpolated_scale_aspect_ratio 0);
 * anchors have a fixed size of 1 and centres at (x + 0.5) / feature_map_size. Paper:
 * Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs",
 * arXiv:1907.05047. */
#include "vision/blazeface.h"

#include <math.h>
#include <string.h>

#include "vision/box.h"

const bf_model_config bf_short_range = {128, 896, 4, {8, 16, 16, 16}, 1};
const bf_model_config bf_full_range = {192, 2304, 1, {4, 0, 0, 0}, 0};

int bf_anchors_generate(const bf_model_config *cfg, bf_anchor *anchors, int cap) {
  int n = 0;
  int layer = 0;
  while (layer < cfg->num_layers) {
    /* Layers sharing a stride share a feature map: each contributes one anchor for aspect
     * ratio 1 plus, when interpolated, one more: 2 anchors per layer per cell for short
     * range, 1 for full range. With fixed-size anchors all of them are (cx, cy, 1, 1). */
    int stride = cfg->strides[layer];
    if (stride <= 0) return -1;
    int per_layer = cfg->interpolated ? 2 : 1;
    int per_cell = 0;
    int last = layer;
    while (last < cfg->num_layers && cfg->strides[last] == stride) {
      per_cell += per_layer;
      last++;
    }
    int fm = (cfg->input_size + stride - 1) / stride;
    for (int y = 0; y < fm; y++)
      for (int x = 0; x < fm; x++)
        for (int k = 0; k < per_cell; k++) {
          if (n >= cap) return -1;
          anchors[n].cx = ((float)x + 0.5f) / (float)fm;
          anchors[n].cy = ((float)y + 0.5f) / (float)fm;
          n++;
        }
    layer = last;
  }
  return n == cfg->n_anchors ? n : -1;
}

static float sigmoid_clipped(float x) {
  if (x < -100.0f) x = -100.0f;
  if (x > 100.0f) x = 100.0f;
  return 1.0f / (1.0f + expf(-x));
}

int bf_decode(const bf_model_config *cfg, const bf_anchor *anchors, const float *regressors,
              const float *logits, float min_score, bf_detection *out, int cap) {
  const float inv = 1.0f / (float)cfg->input_size;
  int n = 0;
  for (int i = 0; i < cfg->n_anchors; i++) {
    float score = sigmoid_clipped(logits[i]);
    if (!(score >= min_score)) continue; /* also rejects NaN */
    const float *r = regressors + (size_t)i * 16;
    float cx = r[0] * inv + anchors[i].cx;
    float cy = r[1] * inv + anchors[i].cy;
    float w = r[2] * inv, h = r[3] * inv;
    if (!(w > 0.0f) || !(h > 0.0f) || !isfinite(cx) || !isfinite(cy)) continue;
    bf_detection d;
    d.x0 = cx - 0.5f * w;
    d.y0 = cy - 0.5f * h;
    d.x1 = cx + 0.5f * w;
    d.y1 = cy + 0.5f * h;
    for (int k = 0; k < BF_KEYPOINTS; k++) {
      d.kp[k][0] = r[4 + 2 * k] * inv + anchors[i].cx;
      d.kp[k][1] = r[5 + 2 * k] * inv + anchors[i].cy;
    }
    d.score = score;
    if (n < cap) {
      out[n++] = d;
    } else {
      /* Full: replace the weakest kept detection if this one is better. */
      int worst = 0;
      for (int j = 1; j < n; j++)
        if (out[j].score < out[worst].score) worst = j;
      if (cap > 0 && d.score > out[worst].score) out[worst] = d;
    }
  }
  return n;
}

void bf_detection_from_xywh(const float box[4], const float kp[BF_KEYPOINTS][2], float score,
                            bf_detection *d) {
  d->x0 = box[0];
  d->y0 = box[1];
  d->x1 = box[0] + box[2];
  d->y1 = box[1] + box[3];
  memcpy(d->kp, kp, sizeof d->kp);
  d->score = score;
}

float bf_iou(const bf_detection *a, const bf_detection *b) {
  const float ca[4] = {a->x0, a->y0, a->x1, a->y1}, cb[4] = {b->x0, b->y0, b->x1, b->y1};
  return box_iou(ca, cb);
}

float bf_iou_xywh(const float box[4], const bf_detection *d) {
  float c[4];
  box_from_xywh(box, c);
  const float cd[4] = {d->x0, d->y0, d->x1, d->y1};
  return box_iou(c, cd);
}

int bf_weighted_nms(bf_detection *dets, int n, float iou_threshold, int max_out) {
  /* Sort by score, descending (insertion sort: n is at most a few hundred after the score
   * threshold, and the sort must be stable for reproducible output). */
  for (int i = 1; i < n; i++) {
    bf_detection t = dets[i];
    int j = i - 1;
    while (j >= 0 && dets[j].score < t.score) {
      dets[j + 1] = dets[j];
      j--;
    }
    dets[j + 1] = t;
  }
  int n_out = 0;
  int remaining = n;
  /* dets[n_out .. n_out+remaining) holds the candidates, still sorted. */
  while (remaining > 0 && n_out < max_out) {
    bf_detection best = dets[n_out];
    double wsum = 0.0, box[4] = {0}, kp[BF_KEYPOINTS][2] = {{0}};
    int keep = 0;
    for (int i = 0; i < remaining; i++) {
      bf_detection *c = &dets[n_out + i];
      if (i == 0 || bf_iou(&best, c) > iou_threshold) {
        double w = c->score;
        wsum += w;
        box[0] += w * c->x0;
        box[1] += w * c->y0;
        box[2] += w * c->x1;
        box[3] += w * c->y1;
        for (int k = 0; k < BF_KEYPOINTS; k++) {
          kp[k][0] += w * c->kp[k][0];
          kp[k][1] += w * c->kp[k][1];
        }
      } else {
        dets[n_out + 1 + keep++] = *c; /* survivor, compacted after the output slot */
      }
    }
    bf_detection merged = best;
    if (wsum > 0.0) {
      merged.x0 = (float)(box[0] / wsum);
      merged.y0 = (float)(box[1] / wsum);
      merged.x1 = (float)(box[2] / wsum);
      merged.y1 = (float)(box[3] / wsum);
      for (int k = 0; k < BF_KEYPOINTS; k++) {
        merged.kp[k][0] = (float)(kp[k][0] / wsum);
        merged.kp[k][1] = (float)(kp[k][1] / wsum);
      }
    }
    dets[n_out++] = merged;
    remaining = keep;
  }
  return n_out;
}
