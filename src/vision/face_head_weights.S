/* face_head_weights.S: links emo's own face-expression head (models/face_expression/
 * emo_face_kdef_v2.head, a logistic regression on face-api's penultimate layer and
 * probabilities, trained by `emo train --kind logreg --features
 * faceapi_penultimate,faceapi_probs` on KDEF, see models/face_expression/MODEL_CARD.md) into the
 * library as read-only data, so the default expression model needs no extra file in the
 * repository or when installed. EMO_FACE_HEAD_FILE is set by CMake. */
  .section .rodata
  .balign 64
  .global emoi_face_head
  .type emoi_face_head, @object
emoi_face_head:
  .incbin EMO_FACE_HEAD_FILE
emoi_face_head_end:
  .balign 8
  .global emoi_face_head_size
  .type emoi_face_head_size, @object
emoi_face_head_size:
  .quad emoi_face_head_end - emoi_face_head
  .section .note.GNU-stack,"",@progbits
