/* json_details.h: the JSON members of one face's details (emo_face_details), shared by the photo
 * and video writers: ,"pose":{...} or null, ,"landmarks":[[x,y,z],...] (only when the run asked
 * for them), ,"blendshapes":{...}, ,"aus":{"AU1":v,...}, ,"intensity":{...} (FULL level). */
#ifndef EMO_OUTPUT_JSON_DETAILS_H
#define EMO_OUTPUT_JSON_DETAILS_H

#include "emo.h"
#include "output/strbuf.h"

/* Appends the members (each with a leading comma); nothing when d is NULL. */
void emoi_details_json(sb *b, const emo_face_details *d);

#endif
