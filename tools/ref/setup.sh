#!/bin/sh
# setup.sh: installs the pinned reference runtimes (TensorFlow.js, face-api, the TFLite WASM
# interpreter, MediaPipe's tasks-vision) into a scratch folder OUTSIDE the repository, so that the
# scripts in tools/ref/ can dump reference outputs into tests/fixtures/. Nothing installed here
# is needed by the build or by CI: only the committed fixtures are.
#
# Usage: tools/ref/setup.sh [DIR]      (default DIR: $EMO_REF_DIR, else /tmp/emo-ref)
# Needs: node >= 18 and npm; for the TFLite reference also a Chromium
# (Debian: apt-get install -y chromium).
set -eu
DIR=${1:-${EMO_REF_DIR:-/tmp/emo-ref}}
# Two projects, because @tensorflow/tfjs-tflite pins its peer tfjs-core to 4.9.0:
#   $DIR/tfjs:   TensorFlow.js 4.22.0 (pure-JS CPU backend) + face-api (tfjs_models.cjs)
#   $DIR/web:    tfjs-tflite (TFLite compiled to WASM) on tfjs-core 4.9.0, run in headless
#                Chromium (tflite_models.cjs, blazeface_boxes.cjs)
#   $DIR/tasks-vision: @mediapipe/tasks-vision 0.10.21 unpacked as is (npm pack: its ES module
#                bundle and WASM files are served to Chromium, no dependencies), for
#                face_landmarker.cjs and bench/face_details_mediapipe.cjs
install() { # install DIR PACKAGES...
  d=$1; shift
  mkdir -p "$d"
  [ -f "$d/package.json" ] || printf '{ "name": "emo-ref", "private": true }\n' > "$d/package.json"
  # --ignore-scripts: no install scripts run; every package here is pure JS or ships its .wasm.
  (cd "$d" && npm install --ignore-scripts --no-audit --no-fund --save-exact "$@")
}
install "$DIR/tfjs" \
  @tensorflow/tfjs@4.22.0 \
  @tensorflow/tfjs-backend-wasm@4.22.0 \
  @vladmandic/face-api@1.7.15
install "$DIR/web" \
  @tensorflow/tfjs-core@4.9.0 \
  @tensorflow/tfjs-backend-cpu@4.9.0 \
  @tensorflow/tfjs-tflite@0.0.1-alpha.10
TV=mediapipe-tasks-vision-0.10.21.tgz
if [ ! -f "$DIR/tasks-vision/vision_bundle.mjs" ]; then
  (cd "$DIR" && npm pack --silent @mediapipe/tasks-vision@0.10.21 >/dev/null &&
    rm -rf package tasks-vision && tar xzf "$TV" && mv package tasks-vision && rm -f "$TV")
fi
echo "reference runtimes installed in $DIR (export EMO_REF_DIR=$DIR for tools/ref/*.cjs)"
