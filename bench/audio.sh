#!/usr/bin/env bash
# audio.sh BUILD_DIR: the speech benchmarks of issue 4, in one run on the same files:
#   - Silero VAD v5 on emo's engine (bench_vad) vs ONNX Runtime (onnxruntime-node, the peer a
#     user would pick; installed with --ignore-scripts into /tmp/peers-build/npm, its native
#     library ships inside the package) on ../shared/peers/media/speech_16k.wav;
#   - the whole `emo audio` (decode, VAD, diarization, speech emotion, prosody) real-time
#     factor on a 30 s meeting excerpt (AMI trn05), median of REPEAT runs.
# Measures and prints; asserts nothing.
set -euo pipefail
build=${1:?usage: bench/audio.sh BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
peers=$here/../shared/peers
speech=$peers/media/speech_16k.wav
meeting=$here/../shared/data/diarization/ami/trn05.wav
repeat=${REPEAT:-5}
[ -f "$speech" ] || { echo "../shared absent: nothing to measure"; exit 0; }
echo "== emo: Silero VAD v5 (bench_vad, 1 thread)"
"$build/bench/bench_vad" "$speech" 10
npm_dir=/tmp/peers-build/npm
if [ ! -d "$npm_dir/node_modules/onnxruntime-node" ]; then
  echo "== installing onnxruntime-node@1.30.0 into $npm_dir (peer)"
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null 2>&1) ||
    echo "npm install failed: peer skipped"
fi
model=$("$build/emo" models dir)/silero_vad_v5.onnx
if [ -d "$npm_dir/node_modules/onnxruntime-node" ]; then
  for t in 1 2; do
    echo "== peer: onnxruntime-node, $t thread(s), same model and windows"
    (cd "$npm_dir" && PEERS_NPM="$npm_dir" node "$peers/scripts/bench_vad.cjs" "$model" "$speech" "$t" 10)
  done
fi
if [ -f "$meeting" ]; then
  : >/tmp/emo-audio-bench.t
  for _ in $(seq "$repeat"); do
    /usr/bin/time -f "%e" -o /tmp/emo-audio-bench.one "$build/emo" audio -q -o /dev/null "$meeting"
    cat /tmp/emo-audio-bench.one >>/tmp/emo-audio-bench.t
  done
  sort -n /tmp/emo-audio-bench.t | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "== emo audio on a 30 s meeting excerpt (whole process, incl. model load): median %.2f s, RTF %.4f\n", m, m/30}'
fi
