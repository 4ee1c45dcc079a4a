#!/usr/bin/env bash
# video.sh BUILD_DIR [VIDEO]: the video benchmark of issue 3, all in one run on the same file:
#   - ffmpeg decode-only throughput (the ceiling), 2 threads,
#   - emo video with default settings (tracking, expression on every face of every frame,
#     JSON Lines written to a file), with --detect-every 1 (detector on every frame), and
#     with --float-expression (what the int8 expression networks save), each with its peak
#     resident memory,
#   - the human library (TF.js WASM in Node) on the same stream, per-frame latency, when the
#     peer is installed (bench/run.sh installs it into /tmp/peers-build/npm).
# Default video: ../shared/peers/media/test_720p30.mp4 (30 s, 1280x720, 30 fps, 3-4 faces).
# Prints medians of REPEAT runs. A benchmark measures; nothing here asserts a time.
# ISA=auto|scalar|avx2|avx512 (default auto) is passed to emo as --isa; the CPU model and the
# path taken are printed first.
set -euo pipefail
build=${1:?usage: bench/video.sh BUILD_DIR [VIDEO]}
here=$(cd "$(dirname "$0")/.." && pwd)
video=${2:-$here/../shared/peers/media/test_720p30.mp4}
repeat=${REPEAT:-3}
isa=${ISA:-auto}
[ -f "$video" ] || { echo "no video at $video (../shared absent?)"; exit 0; }
command -v ffmpeg >/dev/null || { echo "needs ffmpeg: apt-get install ffmpeg"; exit 1; }
out=$(mktemp -d)
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$video")
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$video")
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_cmd LABEL CMD...: wall seconds and max RSS (KiB) of REPEAT runs; prints the medians.
time_cmd() {
  local label=$1; shift
  : >"$out/$label.t"; : >"$out/$label.m"
  for _ in $(seq "$repeat"); do
    /usr/bin/time -f "%e %M" -o "$out/tm" "$@" >/dev/null 2>"$out/err" || { cat "$out/err"; return 1; }
    awk '{print $1}' "$out/tm" >>"$out/$label.t"; awk '{print $2}' "$out/tm" >>"$out/$label.m"
  done
  local t m; t=$(median <"$out/$label.t"); m=$(median <"$out/$label.m")
  awk -v l="$label" -v t="$t" -v m="$m" -v f="$frames" -v d="$dur" \
    'BEGIN {printf "%-28s %8.2f s  %7.1f fps  %6.1fx real time  peak RSS %6.1f MiB\n", l, t, f/t, d/t, m/1024}'
  echo "$t" >"$out/$label.median"
}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time"; exit 1; }
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) cores)"
echo "emo's $("$build/emo" models list --isa "$isa" 2>/dev/null | sed -n 's/^kernels: //p')"
echo "video: $video ($frames frames, $dur s); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
time_cmd "ffmpeg decode only" ffmpeg -v error -threads 2 -i "$video" -an -f null -
time_cmd "emo default (tracking)" "$build/emo" video -q --isa "$isa" -o "$out/a.jsonl" "$video"
time_cmd "emo --detect-every 1" "$build/emo" video -q --isa "$isa" --detect-every 1 -o "$out/b.jsonl" "$video"
time_cmd "emo --float-expression" "$build/emo" video -q --isa "$isa" --float-expression -o "$out/c.jsonl" "$video"
d=$(cat "$out/ffmpeg decode only.median"); a=$(cat "$out/emo default (tracking).median")
b=$(cat "$out/emo --detect-every 1.median")
awk -v d="$d" -v a="$a" -v b="$b" 'BEGIN {printf "emo default = %.0f%% of decode-only throughput (target >= 50%%); --detect-every 1 = %.0f%% (target >= 35%%)\n", 100*d/a, 100*d/b}'
echo "faces per frame (default): $(grep -c '"type":"frame"' "$out/a.jsonl") frames, tracks: $(grep -o '"track_count":[0-9]*' "$out/a.jsonl")"
npm_dir=/tmp/peers-build/npm
if [ -d "$npm_dir/node_modules/@vladmandic/human" ] && [ -f "$here/../shared/peers/scripts/bench_human_video.cjs" ]; then
  echo "human (TF.js WASM, its default caching) on the same stream:"
  (cd "$npm_dir" && PEERS_NPM="$npm_dir" node "$here/../shared/peers/scripts/bench_human_video.cjs" "$video" wasm default) | tail -1
else
  echo "human peer not installed (run bench/run.sh once): skipped"
fi
rm -rf "$out"
