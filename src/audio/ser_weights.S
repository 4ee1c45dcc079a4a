/* ser_weights.S: links emo's own speech-emotion model (models/ser/emo_ser_v1.bin, trained by
 * training/train_ser.py, see models/ser/MODEL_CARD.md) into the library as read-only data,
 * so the CLI and library users need no extra file. EMO_SER_WEIGHTS_FILE is set by CMake. */
  .section .rodata
  .balign 64
  .global emoi_ser_weights
  .type emoi_ser_weights, @object
emoi_ser_weights:
  .incbin EMO_SER_WEIGHTS_FILE
emoi_ser_weights_end:
  .balign 8
  .global emoi_ser_weights_size
  .type emoi_ser_weights_size, @object
emoi_ser_weights_size:
  .quad emoi_ser_weights_end - emoi_ser_weights
  .section .note.GNU-stack,"",@progbits
