/* annotate.h: drawing of face boxes and labels onto RGB24 frames (for `emo video --annotate`
 * and annotated photos): rectangle outlines, text in a built-in 5x7 bitmap font (printable
 * ASCII; other bytes draw as '?'), and a distinct colour per track id. Everything is clipped
 * to the image: any coordinates (negative, huge, NaN) are safe and nothing is written outside
 * the (h, stride) buffer. No anti-aliasing, no Unicode; encoding the frames is
 * media/video_encode.h's job. */
#ifndef EMO_OUTPUT_ANNOTATE_H
#define EMO_OUTPUT_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

/* Width and height in pixels of one character cell at scale 1 (glyph 5x7 plus spacing). */
#define ANN_CELL_W 6
#define ANN_CELL_H 9

/* Outlines box = {x, y, width, height} (pixels, as emo_face.box) with lines thickness pixels
 * wide drawn inside the box edge. rgb is (h, stride) RGB24 with w pixels a row. */
void ann_rect(uint8_t *rgb, int w, int h, ptrdiff_t stride, const float box[4],
              const uint8_t color[3], int thickness);

/* Draws text with its cell box's top-left corner at (x, y), each glyph pixel scale x scale
 * (scale < 1 counts as 1, capped at 16). '\n' starts a new line. bg (may be NULL = none)
 * fills the cells behind the text. */
void ann_text(uint8_t *rgb, int w, int h, ptrdiff_t stride, int x, int y, const char *text,
              const uint8_t color[3], const uint8_t bg[3], int scale);

/* Size in pixels of text drawn by ann_text at scale (for placing labels). */
void ann_text_size(const char *text, int scale, int *width, int *height);

/* Draws a line from (x0, y0) to (x1, y1), thickness pixels wide, clipped to the image. */
void ann_line(uint8_t *rgb, int w, int h, ptrdiff_t stride, float x0, float y0, float x1, float y1,
              const uint8_t color[3], int thickness);

/* The colour of the mesh contours ann_frame draws (light cyan). */
#define ANN_MESH_R 90
#define ANN_MESH_G 230
#define ANN_MESH_B 230

/* Draws the face mesh's contours (face oval, lips, eyes, brows, irises: about 170 of the 478
 * landmarks, joined by lines) of lm (478 points, x and y in image pixels, as
 * emo_face_details.landmarks) in color, clipped to the image. */
void ann_mesh(uint8_t *rgb, int w, int h, ptrdiff_t stride, const float (*lm)[3],
              const uint8_t color[3], int thickness);

/* The landmark index of the i-th point ann_mesh draws through, or -1 past the last (tests). */
int ann_mesh_point(int i);

/* Draws a video frame's faces onto rgb: each face's box in its track's colour, and above it
 * "#id expression" (the dominant one, if any) on black; a face with landmarks
 * (emo_face_details) also gets the mesh's contours (ann_mesh, ANN_MESH_* colour, 1 px per
 * 160 px of face width) and, with a head pose, its head axes from the nose tip: x (the
 * subject's left) red, y (up) green, z (out of the face) blue, each half the box's width long
 * in 3-D. */
struct emo_frame_result;
void ann_frame(uint8_t *rgb, int w, int h, ptrdiff_t stride, const struct emo_frame_result *f);

/* A saturated colour for track id (golden-ratio hue steps, so ids 1, 2, 3 ... are far apart
 * on the colour wheel; id <= 0 gives grey). */
void ann_color_for_id(int id, uint8_t out[3]);

#endif
