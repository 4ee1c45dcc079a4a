/* blazeface.h: post-processing of MediaPipe's BlazeFace detectors: SSD anchors, box and
 * keypoint decoding, and weighted non-maximum suppression, following MediaPipe's
 * face_detection_{short,full}_range graphs (SsdAnchorsCalculator,
 * TensorsToDetectionsCalculator, NonMaxSuppressionCalculator with WEIGHTED algorithm).
 * Running the network and mapping coordinates back to the image are left to the caller. */
#ifndef EMO_VISION_BLAZEFACE_H
#define EMO_VISION_BLAZEFACE_H

#define BF_KEYPOINTS 6
#define BF_MAX_ANCHORS 2304

typedef struct bf_model_config {
  int input_size; /* network input side in pixels: 128 (short) or 192 (full) */
  int n_anchors;  /* 896 or 2304 */
  int num_layers; /* SSD layers */
  int strides[4];
  int interpolated; /* 1: each layer adds an interpolated-scale anchor besides aspect 1
                       (MediaPipe's interpolated_scale_aspect_ratio 1.0); 0 for full range */
} bf_model_config;

/* The two MediaPipe configurations. */
extern const bf_model_config bf_short_range;
extern const bf_model_config bf_full_range;

typedef struct bf_anchor {
  float cx, cy; /* centre in [0,1] of the network input; width = height = 1 (fixed size) */
} bf_anchor;

/* Fills anchors (capacity cap) and returns their count, or -1 if cap is too small or the
 * config inconsistent. */
int bf_anchors_generate(const bf_model_config *cfg, bf_anchor *anchors, int cap);

typedef struct bf_detection {
  float x0, y0, x1, y1;      /* box corners, network-input-normalised or pixels */
  float kp[BF_KEYPOINTS][2]; /* keypoints, same space as the box */
  float score;               /* sigmoid probability */
} bf_detection;

/* Decodes raw outputs: regressors (n_anchors, 16) = [dx, dy, w, h, 6 x (kx, ky)] in network
 * pixels relative to the anchor; logits (n_anchors,) clipped to +-100 before the sigmoid.
 * Keeps detections with score >= min_score, writes at most cap of them to out (highest
 * scores win if there are more) and returns the count. Coordinates are normalised to [0,1]
 * of the network input. */
int bf_decode(const bf_model_config *cfg, const bf_anchor *anchors, const float *regressors,
              const float *logits, float min_score, bf_detection *out, int cap);

/* Fills d from an (x, y, width, height) box, keypoints (BF_KEYPOINTS, 2) and a score: the
 * public emo_face / emo_track_face form back to the corner form the vision code uses. */
void bf_detection_from_xywh(const float box[4], const float kp[BF_KEYPOINTS][2], float score,
                            bf_detection *d);

/* Intersection over union of two detections' boxes (vision/box.h's box_iou). */
float bf_iou(const bf_detection *a, const bf_detection *b);

/* The same for an (x, y, width, height) box (a track's, emo_face's) and a detection. */
float bf_iou_xywh(const float box[4], const bf_detection *d);

/* MediaPipe's weighted NMS: repeatedly takes the best remaining detection, merges every
 * remaining detection overlapping it by IoU > iou_threshold into a score-weighted mean of
 * boxes and keypoints (keeping the best score), and drops them. dets (n) is reordered in
 * place; the merged detections are written back to dets and their count returned (at most
 * max_out). */
int bf_weighted_nms(bf_detection *dets, int n, float iou_threshold, int max_out);

#endif
