#!/usr/bin/env bash
# run.sh: emo's benchmarks and the peer a user would otherwise pick, in one run on one machine:
#   1. bench_models  (each network alone, 1 and 2 threads, plus letterbox / warp / per-face steps)
#   2. bench_frames  (public API, detection + expression per frame on the 30 peer frames)
#   3. @vladmandic/human 3.3.6 on tfjs-wasm via ../shared/peers/scripts/bench_tfjs.cjs
#   4. a side-by-side table: emo ms/frame (1 and 2 threads) vs human ms/frame, and the ratio.
# Targets are reported, never asserted: BlazeFace short-range <= 1 ms and FER <= 0.5 ms per
# face on one thread; a frame >= 10x faster than human on wasm.
#
# usage: bench/run.sh BUILD_DIR [DATA]
#   BUILD_DIR  a CMake build of emo with EMO_BENCH=ON (holds bench/bench_models, bench/bench_frames)
#   DATA       folder with frames/fNN.rgb (30 frames 1280x720 RGB24); default /tmp/peers-build/media.
#              Built with ../shared/peers/scripts/make_media.sh when missing.
# env: PEERS (default <repo>/../shared/peers), SCRATCH (default /tmp/peers-build: npm packages and
#      media live there, never in the repo), OUT (default $SCRATCH/results-emo), RUNS (bench_models
#      runs, default 300), PASSES (timed passes over the frames, default 3), SKIP_PEER=1.
#
# Priority: when allowed (root), emo and the peer alike run under `nice -n -10`, so that other
# work on a shared 2-core machine disturbs the timings less; the load average is printed at the
# start and the end (the peers' RESULTS.md were measured on an idle machine).
#
# What it installs, only when missing: ffmpeg, espeak-ng, sox (apt; make_media.sh needs all three),
# nodejs/npm (apt), and the face peers' npm packages at pinned versions into $SCRATCH/npm with
# `npm install --ignore-scripts`, as ../shared/peers/README.md describes (the audio peers'
# onnxruntime-node and vad-web are not needed here and are left out).
set -uo pipefail

die() { echo "run.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: bench/run.sh BUILD_DIR [DATA]"
BUILD="$(cd "$1" 2>/dev/null && pwd)" || die "no build directory $1"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SCRATCH="${SCRATCH:-/tmp/peers-build}"
DATA="${2:-$SCRATCH/media}"
PEERS="${PEERS:-$ROOT/../shared/peers}"
OUT="${OUT:-$SCRATCH/results-emo}"
RUNS="${RUNS:-300}"
PASSES="${PASSES:-3}"
NPMDIR="$SCRATCH/npm"
W=1280 H=720
mkdir -p "$OUT" || die "cannot create $OUT"

find_bin() {
  for p in "$BUILD/bench/$1" "$BUILD/$1"; do [ -x "$p" ] && { echo "$p"; return 0; }; done
  return 1
}
BM="$(find_bin bench_models)" && BF="$(find_bin bench_frames)" ||
  die "bench_models / bench_frames not found under $BUILD; build them first:
  cmake -S $ROOT -B $BUILD -DCMAKE_BUILD_TYPE=Release -DEMO_BENCH=ON && cmake --build $BUILD -j2"

apt_missing() { # installs the Debian packages whose command (pkg:cmd) is missing
  local want=()
  for pc in "$@"; do command -v "${pc#*:}" >/dev/null 2>&1 || want+=("${pc%%:*}"); done
  [ ${#want[@]} -eq 0 ] && return 0
  echo "== installing with apt: ${want[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}"; } \
    >"$OUT/apt.log" 2>&1 || { echo "apt-get failed, see $OUT/apt.log" >&2; return 1; }
}

HAVE_PEERS=1
if [ ! -d "$PEERS/scripts" ]; then
  echo "== $PEERS is absent: skipping the peer (human) and the peer frames; only emo's own numbers"
  HAVE_PEERS=0
fi
[ "${SKIP_PEER:-0}" = 1 ] && HAVE_PEERS=0

# ---- inputs: the 30 fixed frames of the peer video -----------------------------------------
FRAMES=()
shopt -s nullglob
FRAMES=("$DATA"/frames/f*.rgb)
if [ ${#FRAMES[@]} -eq 0 ] && [ -d "$PEERS/scripts" ]; then
  echo "== no frames in $DATA/frames: building them with make_media.sh"
  apt_missing ffmpeg:ffmpeg espeak-ng:espeak-ng sox:sox nodejs:node npm:npm || die "cannot install ffmpeg/espeak-ng/sox"
  # make_media.sh writes the video and speech to $MEDIA (default: the read-only shared folder)
  WORK="$DATA" MEDIA="$SCRATCH/media-gen" NPMDIR="$NPMDIR" bash "$PEERS/scripts/make_media.sh" \
    >"$OUT/make_media.log" 2>&1 || die "make_media.sh failed, see $OUT/make_media.log"
  FRAMES=("$DATA"/frames/f*.rgb)
fi

# ---- the peer's packages ---------------------------------------------------------------------
if [ $HAVE_PEERS = 1 ]; then
  apt_missing nodejs:node npm:npm || HAVE_PEERS=0
fi
if [ $HAVE_PEERS = 1 ] &&
   ! grep -q '"version": "3.3.6"' "$NPMDIR/node_modules/@vladmandic/human/package.json" 2>/dev/null; then
  echo "== installing the peer npm packages into $NPMDIR"
  mkdir -p "$NPMDIR"
  ( cd "$NPMDIR" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --ignore-scripts --no-audit --no-fund @vladmandic/human@3.3.6 \
      @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 ) \
    >"$OUT/npm.log" 2>&1 || { echo "npm install failed (see $OUT/npm.log): skipping the peer"; HAVE_PEERS=0; }
fi

NICE=()
if nice -n -10 true 2>/dev/null; then NICE=(nice -n -10); fi
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk '{ if ($1 > 0.5) print "== WARNING: the machine is busy (load " $1 "): timings will be noisy" }' /proc/loadavg
echo "== emo $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (work tree may differ), build $BUILD"

# ---- 1. each network ----------------------------------------------------------------------
echo; echo "== bench_models --runs $RUNS ${NICE[*]}"
"${NICE[@]}" "$BM" --runs "$RUNS" --threads 1,2 --passes "$PASSES" "${FRAMES[@]}" | tee "$OUT/bench_models.txt"

# ---- 2. frames through the public API -------------------------------------------------------
if [ ${#FRAMES[@]} -eq 0 ]; then
  echo "== no frames (give DATA with frames/f*.rgb): skipping bench_frames"
else
  echo; echo "== bench_frames --passes $PASSES (${#FRAMES[@]} frames from $DATA/frames)"
  "${NICE[@]}" "$BF" --threads 1,2 --passes "$PASSES" --size ${W}x$H "${FRAMES[@]}" | tee "$OUT/bench_frames.txt"
fi

# ---- 3. the peer ----------------------------------------------------------------------------
: >"$OUT/human.json"
if [ $HAVE_PEERS = 1 ] && [ ${#FRAMES[@]} -gt 0 ]; then
  echo; echo "== peer: node bench_tfjs.cjs human wasm 1 $PASSES $W $H (${#FRAMES[@]} frames)"
  ( cd "$NPMDIR" && PEERS_NPM="$NPMDIR" "${NICE[@]}" node "$PEERS/scripts/bench_tfjs.cjs" human wasm 1 "$PASSES" $W $H "${FRAMES[@]}" ) \
    2>"$OUT/human.err" | grep '^{' | tee "$OUT/human.json"
  [ -s "$OUT/human.json" ] || echo "peer failed: see $OUT/human.err"
fi

# ---- 4. side by side ------------------------------------------------------------------------
echo; echo "== summary (ms per 1280x720 frame, median; detection + expression of every face)"
HUMAN_MS="$(grep -o '"median_ms":[0-9.]*' "$OUT/human.json" 2>/dev/null | head -1 | cut -d: -f2)"
HUMAN_FACES="$(grep -o '"faces_pass1":[0-9]*' "$OUT/human.json" 2>/dev/null | head -1 | cut -d: -f2)"
grep -h '^BENCH_FRAMES' "$OUT/bench_frames.txt" 2>/dev/null |
awk -v hms="${HUMAN_MS:-}" -v hfaces="${HUMAN_FACES:-}" '
  function val(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  { d = val("detector"); t = val("threads"); ms[d, t] = val("median_ms"); faces[d] = val("faces")
    if (!(d in seen)) { seen[d] = 1; order[++n] = d } }
  END {
    printf "%-22s %12s %12s %7s %14s %10s\n", "engine", "1 thread", "2 threads", "faces", "human wasm", "speed-up"
    for (i = 1; i <= n; i++) {
      d = order[i]; a = ms[d, 1]; b = ms[d, 2]; best = (b != "" && b + 0 < a + 0) ? b : a
      r = (hms != "" && best + 0 > 0) ? sprintf("%.2fx", hms / best) : "n/a"
      printf "%-22s %12s %12s %7s %14s %10s\n", "emo " d " + fer", a, (b == "" ? "-" : b), faces[d], (hms == "" ? "n/a" : hms), r
    }
    if (hms != "") printf "%-22s %12s %12s %7s\n", "human 3.3.6 tfjs-wasm", hms, "(1 only)", hfaces
    if (n == 0) print "(no emo frame results)"
    if (hms != "") for (i = 1; i <= n; i++) { d = order[i]; a = ms[d, 1]; if (a + 0 <= 0) continue
      printf "target: emo %s 1 thread >= 10x faster than human wasm: %.2fx  %s\n", d, hms / a, (hms / a >= 10 ? "MET" : "MISSED") }
  }'
grep -h '^target' "$OUT/bench_models.txt" 2>/dev/null
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); raw outputs in $OUT"
