#!/bin/sh
# face_details.sh: per-face cost of --face-details pose and full, emo (one core, XNNPACK) and
# MediaPipe's own runtime (tasks-vision WASM in Chromium, when $EMO_REF_DIR/tasks-vision and
# Chromium are there), in the same run on the same photo.
# Usage: bench/face_details.sh [BUILD_DIR] [IMAGE] [RUNS]
set -e
BUILD=${1:-build}
IMAGE=${2:-../shared/data/faces/misc/single_face.jpg}
RUNS=${3:-200}
echo "== emo"
"$BUILD/bench/bench_face_details" --runs "$RUNS" "$IMAGE"
echo "== MediaPipe"
if [ -f "${EMO_REF_DIR:-/tmp/emo-ref}/tasks-vision/vision_bundle.mjs" ] && command -v chromium >/dev/null; then
  node "$(dirname "$0")/face_details_mediapipe.cjs" "$IMAGE" "$RUNS"
else
  echo "skipped: no \$EMO_REF_DIR/tasks-vision or chromium (see tools/ref/face_landmarker.cjs)"
fi
