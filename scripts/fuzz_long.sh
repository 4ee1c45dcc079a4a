#!/usr/bin/env bash
# fuzz_long.sh [BUILD] [SECONDS] [NAME...]: the long fuzz run, for a quiet machine and a free
# afternoon, not for CI (CI runs scripts/fuzz.sh for 30 s a harness). Runs the chosen harnesses
# (default: the model-file readers tflite tfjs onnx safetensors fixture manifest, then image,
# video and audio) one after another through scripts/fuzz.sh, each until it has done FUZZ_RUNS
# executions (default 10000000) or SECONDS have passed (default 3600), with a clock seed
# (FUZZ_SEED=0) and at nice 10 (NICE=0 to not). It keeps everything fuzz.sh keeps, under
# FUZZ_OUT (default BUILD/fuzz-out-long/NAME/: the grown corpus, the logs, every crash input),
# so a second run goes on from where the first stopped, and prints fuzz.sh's table of
# executions, cov: and ft: per harness at the end. Exits non-zero when a harness failed.
#
# The image, video and audio harnesses also start from a few small real files out of the
# shared data folder (DATA, default ../shared/data next to the repository): JPEG and PNG faces,
# the smallest MP4 clips, a few FLAC utterances. They are copied into a temporary folder at run
# time (removed at exit), never into the repository, and read by libFuzzer as a second seed
# folder (fuzz.sh's FUZZ_EXTRA_SEEDS); without DATA the committed seeds alone are used.
#
# BUILD (default build-fuzz) must be a fuzz build:
#   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMO_FUZZ=ON \
#     -DEMO_BENCH=OFF && cmake --build build-fuzz
# (RelWithDebInfo runs several times faster than make fuzz-smoke's Debug build.)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-fuzz}
secs=${2:-3600}
shift $(($# >= 2 ? 2 : $#))
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(tflite tfjs onnx safetensors fixture manifest image video audio)
[ -d "$build/fuzz" ] || {
  echo "fuzz_long.sh: $build/fuzz not found: make a fuzz build first (see the top of $0)" >&2
  exit 2
}
data=${DATA:-$root/../shared/data}

seeds=$(mktemp -d "${TMPDIR:-/tmp}/emo-fuzz-seeds.XXXXXX")
trap 'rm -rf "$seeds"' EXIT
# copy_seeds NAME COUNT MAXBYTES FIND-ARGS...: the COUNT smallest matching files up to MAXBYTES
copy_seeds() {
  local name=$1 count=$2 max=$3
  shift 3
  mkdir -p "$seeds/$name"
  find "$data" -type f -size -"$max"c "$@" -printf '%s %p\n' 2>/dev/null | sort -n |
    head -n "$count" | while read -r _ f; do
    cp "$f" "$seeds/$name/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
}
if [ -d "$data" ]; then
  copy_seeds image 6 200000 -path '*/faces/*' \( -name '*.jpg' -o -name '*.png' -o -name '*.webp' \)
  copy_seeds image 4 200000 -path '*/faces/expressions/*' -name '*.jpg'
  copy_seeds video 4 120000 \( -name '*.mp4' -o -name '*.mkv' -o -name '*.webm' -o -name '*.mov' \)
  copy_seeds audio 4 60000 \( -name '*.flac' -o -name '*.wav' -o -name '*.mp3' -o -name '*.m4a' \)
  echo "fuzz_long.sh: real seeds from $data: $(find "$seeds" -type f | wc -l) files" >&2
else
  echo "fuzz_long.sh: no $data: committed seeds only" >&2
fi

nice_cmd=()
[ "${NICE:-10}" != 0 ] && nice_cmd=(nice -n "${NICE:-10}")
FUZZ_OUT=${FUZZ_OUT:-$build/fuzz-out-long} FUZZ_SEED=${FUZZ_SEED:-0} \
  FUZZ_RUNS=${FUZZ_RUNS:-10000000} FUZZ_EXTRA_SEEDS=$seeds \
  "${nice_cmd[@]}" "$root/scripts/fuzz.sh" "$build" "$secs" "${names[@]}"
