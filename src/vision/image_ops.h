/* image_ops.h: the resampling that turns decoded RGB8 images into the float NHWC tensors the
 * networks eat: bilinear resize of a region, MediaPipe-style letterboxing, and affine warps
 * (rotated square crops for face alignment), each with per-channel affine normalisation and
 * optional grayscale output. Decoding is left to media/image_decode.h; running networks and
 * choosing crops (from detections) are left to the callers.
 *
 * Coordinate conventions (used everywhere below):
 *   - "Continuous" pixel coordinates: pixel (col j, row i) covers [j, j+1) x [i, i+1); its
 *     centre is (j + 0.5, i + 0.5); the whole image is [0, w] x [0, h].
 *   - Bilinear sampling at continuous point (x, y) interpolates the four pixels around the
 *     index point (x - 0.5, y - 0.5).
 *   - Normalisation: out[c] = v[c] * norm.scale[c] + norm.offset[c] with v in 0..255
 *     (interpolated, not rounded). A grayscale output (channels == 1) uses
 *     g = norm.gray[0]*R + norm.gray[1]*G + norm.gray[2]*B, then g * scale[0] + offset[0].
 *
 * Outputs are (dh, dw, C) float32, row-major, C fastest (one NHWC image, batch 1). Nothing
 * here allocates; all functions are thread-safe. */
#ifndef EMO_VISION_IMAGE_OPS_H
#define EMO_VISION_IMAGE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "emo.h"

/* A read-only RGB8 image (or part of one): pixel (x, y) channel c is
 * data[y * stride + x * 3 + c], 0 <= x < width, 0 <= y < height. */
typedef struct img_view {
  const uint8_t *data; /* (height, stride) bytes, RGB interleaved */
  int width, height;
  ptrdiff_t stride; /* bytes between rows, >= 3 * width */
} img_view;

/* View of a packed (h, w, 3) buffer such as img_rgb from media/image_decode.h. */
img_view img_view_rgb(const uint8_t *data, int width, int height);

/* Grayscale weights. TF.js's tf.image.rgbToGrayscale and @vladmandic/human's emotion
 * pre-processing use MATLAB rgb2gray's {0.2989, 0.5870, 0.1140}; OpenCV's cvtColor and
 * ITU-R BT.601 luma use {0.299, 0.587, 0.114}. The difference is below 0.03/255. */
extern const float img_gray_tfjs[3];
extern const float img_gray_bt601[3];

typedef struct img_norm {
  float scale[3]; /* per channel (R, G, B); for C = 1 only [0] is used */
  float offset[3];
  float gray[3]; /* RGB weights used when producing one channel */
} img_norm;

/* Same scale and offset for all channels, TF.js grayscale weights. E.g. [-1, 1]:
 * img_norm_uniform(1/127.5f, -1); [0, 1]: img_norm_uniform(1/255.f, 0). */
img_norm img_norm_uniform(float scale, float offset);

/* MediaPipe's ImageToTensorCalculator output_tensor_float_range: maps 0..255 onto
 * [lo, hi] (scale = (hi - lo) / 255, offset = lo). */
img_norm img_norm_range(float lo, float hi);

/* How output pixel centres map into the source for a plain resize of n_in -> n_out:
 *   IMG_SAMPLE_HALF_PIXEL: src_index = (dst_index + 0.5) * n_in / n_out - 0.5, the
 *     convention of the continuous coordinates above; equals TensorFlow's resize_bilinear
 *     with align_corners=false, half_pixel_centers=true, OpenCV's resize(INTER_LINEAR)
 *     and GPU texture sampling.
 *   IMG_SAMPLE_LEGACY: src_index = dst_index * n_in / n_out, TF/TF.js resize_bilinear's
 *     default (align_corners=false, half_pixel_centers=false) as used by @vladmandic/human's
 *     emotion model (tf.image.resizeBilinear(x, size, false)).
 * Taps outside the image are clamped (replicated), as TensorFlow does. No antialiasing. */
typedef enum img_sample {
  IMG_SAMPLE_HALF_PIXEL = 0,
  IMG_SAMPLE_LEGACY = 1,
  IMG_SAMPLE_COUNT
} img_sample;

/* Bilinear resize of the source rectangle [rx, rx+rw) x [ry, ry+rh) (continuous
 * coordinates; it may extend past the image, whose edge pixels are then replicated) into
 * dst (dh, dw, 3), normalised. In legacy mode the region maps as
 * src_index = rx + dst_index * rw / dw (rx, ry then being index coordinates).
 * Returns 0, or EMO_EINVAL (negative) for a bad argument (empty sizes, non-finite region). */
int img_resize_bilinear_f32(const img_view *src, float rx, float ry, float rw, float rh,
                            img_sample mode, float *dst, int dw, int dh, const img_norm *norm);

/* Letterbox transform: network pixel = image pixel * scale + pad (continuous coordinates). */
typedef struct img_letterbox {
  float scale;        /* network pixels per image pixel: min(dw / w, dh / h) */
  float pad_x, pad_y; /* padding on the left / top, in network pixels (same on right / bottom) */
  int dst_w, dst_h;   /* network input size */
} img_letterbox;

/* Fits the whole image into dst (dh, dw, 3) keeping its aspect ratio, centred, as MediaPipe's
 * ImageToTensorCalculator with keep_aspect_ratio: true and border_mode: BORDER_ZERO (the face
 * detector graphs): the ROI is the image grown to the tensor's aspect ratio about its centre,
 * sampled bilinearly (half-pixel centres) with a black (0) border, then normalised. So the
 * padding holds normalise(0) = offset, e.g. -1 with img_norm_range(-1, 1), and the image
 * edge pixels blend with that black where a tap falls outside, as in MediaPipe.
 * (MediaPipe's OpenCV CPU path maps dst pixel indices rather than centres through its
 * perspective warp, a shift of (1/scale - 1)/2 source pixels; its GPU path and this code
 * use centres.) The warp's fast paths run up to cap (EMO_ISA_SCALAR: plain C). Fills *lb (may
 * be NULL). Returns 0 or EMO_EINVAL. */
int img_letterbox_f32(const img_view *src, float *dst, int dw, int dh, const img_norm *norm,
                      img_letterbox *lb, emo_isa cap);

/* Maps a point given in normalised network coordinates ([0,1] of the tensor's width and
 * height, as BlazeFace's decoder outputs) to continuous image pixel coordinates. */
void img_letterbox_to_image(const img_letterbox *lb, float u, float v, float *x, float *y);

/* Maps continuous image pixel coordinates to normalised network coordinates. */
void img_letterbox_to_net(const img_letterbox *lb, float x, float y, float *u, float *v);

/* Border handling of img_warp_affine_f32. */
typedef enum img_border {
  IMG_BORDER_ZERO = 0,      /* outside pixels are black (0 before normalisation) */
  IMG_BORDER_REPLICATE = 1, /* outside pixels repeat the nearest edge pixel */
  IMG_BORDER_COUNT
} img_border;

/* Samples dst (dh, dw, channels) through the affine map m (2x3, row-major) that takes
 * continuous dst coordinates to continuous src coordinates:
 *   src_x = m[0]*x + m[1]*y + m[2],  src_y = m[3]*x + m[4]*y + m[5],
 * evaluated at each dst pixel centre (j + 0.5, i + 0.5), bilinearly. channels is 3
 * (normalised RGB) or 1 (normalised gray with norm->gray weights). Non-finite matrices
 * produce border values (never a crash). Returns 0 or EMO_EINVAL. */
int img_warp_affine_f32(const img_view *src, const float m[6], float *dst, int dw, int dh,
                        int channels, const img_norm *norm, img_border border);

/* img_warp_affine_f32 with its gray fast path (channels 1, replicate border) capped at cap
 * (emo_isa_pick): AVX-512, AVX2 or the plain C reference, all bit-identical. */
int img_warp_affine_f32_isa(const img_view *src, const float m[6], float *dst, int dw, int dh,
                            int channels, const img_norm *norm, img_border border, emo_isa cap);

/* img_warp_affine_f32 on the plain C reference path only (never a vector gray path), for
 * tests and benchmarks that compare the two: they give bit-identical results. */
int img_warp_affine_f32_ref(const img_view *src, const float m[6], float *dst, int dw, int dh,
                            int channels, const img_norm *norm, img_border border);

/* Builds m for a rotated square crop: the square of side `side` source pixels centred on
 * (cx, cy) (continuous coordinates), rotated by `angle` radians, resampled to n x n. The
 * crop's x axis points along (cos angle, sin angle) in the image (y down), so passing the
 * angle of the eye line, atan2(right_eye.y - left_eye.y, right_eye.x - left_eye.x), makes
 * the eyes horizontal in the output; angle 0 is an axis-aligned crop. */
void img_affine_rotated_square(float m[6], float cx, float cy, float angle, float side, int n);

/* Applies m to (x, y). */
void img_affine_apply(const float m[6], float x, float y, float *ox, float *oy);

/* Inverts m into inv (e.g. to map crop coordinates back to the image). Returns 0, or
 * EMO_EINVAL when m is singular or not finite (inv then untouched). */
int img_affine_invert(const float m[6], float inv[6]);

#endif
