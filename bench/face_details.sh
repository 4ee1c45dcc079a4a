#!/bin/sh
# face_details.sh: per-face cost of --face-details pose and full, emo (one core) and MediaPipe's
# own runtime (tasks-vision WASM in Chromium, when $EMO_REF_DIR/tasks-vision and Chromium are
# there), in the same run on the same photo. emo runs twice per round, interleaved, for an A/B on
# a loaded machine: its default path (the landmark network's residual blocks on nn/resblock.c,
# the crop on the vector warp, the blendshape network's layer norms as fused steps) and the plain
# one (every node on XNNPACK or the reference kernels, the plain C warp: --no-resblock
# --no-layernorm --isa scalar), ROUNDS rounds; read the thread CPU time lines.
# Usage: bench/face_details.sh [BUILD_DIR] [IMAGE] [RUNS] [ROUNDS] [EXTRA bench_face_details flags]
set -e
BUILD=${1:-build}
IMAGE=${2:-../shared/data/faces/misc/single_face.jpg}
RUNS=${3:-200}
ROUNDS=${4:-2}
EXTRA=${5:-}
i=1
while [ "$i" -le "$ROUNDS" ]; do
  echo "== emo, round $i: default $EXTRA"
  "$BUILD/bench/bench_face_details" --runs "$RUNS" $EXTRA "$IMAGE"
  echo "== emo, round $i: plain (XNNPACK and reference kernels only, plain C warp)"
  "$BUILD/bench/bench_face_details" --runs "$RUNS" --no-resblock --no-layernorm --isa scalar "$IMAGE"
  i=$((i + 1))
done
echo "== MediaPipe"
if [ -f "${EMO_REF_DIR:-/tmp/emo-ref}/tasks-vision/vision_bundle.mjs" ] && command -v chromium >/dev/null; then
  node "$(dirname "$0")/face_details_mediapipe.cjs" "$IMAGE" "$RUNS"
else
  echo "skipped: no \$EMO_REF_DIR/tasks-vision (tools/ref/setup.sh installs it) or no chromium"
fi
