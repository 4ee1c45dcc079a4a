/* face_aus.h: FACS action-unit proxies and expression intensity from MediaPipe's 52 blendshapes.
 *
 * The blendshapes are ARKit's, which Apple defines by the facial movement each describes; the
 * AU correspondence used here is the one commonly tabulated from those definitions (Ekman &
 * Friesen's FACS manual for the AUs; Apple's ARFaceAnchor.BlendShapeLocation documentation for
 * the blendshapes), each AU the mean of the left and right blendshape of its movement, scaled
 * from [0, 1] to OpenFace's AU_r range [0, 5]. They are proxies: the blendshape network was
 * trained to drive an avatar, not against FACS-coded intensities, and no AU here has been
 * validated against human coders.
 *
 * Intensity of an expression E: its raw score r_E is the mean proxy (/ 5) of the AUs of its
 * EMFACS prototype (happy 6+12, sad 1+4+15, surprise 1+2+5+26, fear 1+2+4+5+20+26, angry
 * 4+5+7+23, disgust 9+10+15); the intensity is the logistic 1 / (1 + exp(-(a_E r_E + b_E)))
 * with a_E, b_E fitted (dev/intensity_calib.py) by logistic regression of KDEF's posed E photos
 * against its neutral ones (half the subjects; classes weighted equally). So 0.5 means: on
 * KDEF's posed photos, this AU pattern is as typical of a face posing E as of a neutral face;
 * 0.9, nine to one for posing E. It is evidence of E's muscle pattern, not of the feeling, and
 * expressions sharing AUs (fear and surprise, sad and angry) raise each other's. Neutral's is 1
 * minus the largest of the others. */
#ifndef EMO_VISION_FACE_AUS_H
#define EMO_VISION_FACE_AUS_H

#include "emo.h"

/* Fills aus (EMO_AU_COUNT, [0, 5]) from blendshapes (EMO_BLENDSHAPE_COUNT, [0, 1]). */
void fa_aus_from_blendshapes(const float *blendshapes, float *aus);

/* Fills intensity (EMO_EXPR_COUNT, [0, 1], calibrated as above) from the AU proxies. */
void fa_intensity(const float *aus, float *intensity);

#endif
