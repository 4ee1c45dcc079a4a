#!/usr/bin/env bash
# video_ab.sh EMO_A EMO_B [VIDEO]: two builds of `emo video` timed against each other on a loaded
# machine: ROUNDS rounds (default 5), each running ffmpeg decode-only, then A, then B (the order
# alternates between rounds), every run under bench/thread_cpu.py. Prints per build the medians
# of wall time (fps), process CPU, the analysis (main) thread's CPU, and the two CPU-time
# throughputs of the README's issue-16 table against ffmpeg decode-only:
#   (1) ffmpeg's CPU / emo's process CPU;
#   (2) ffmpeg's CPU / 2 over max(emo's analysis-thread CPU, emo's process CPU / 2): the wall time
#       an idle 2-core machine would see (the analysis thread is the critical path when larger).
# ISA=auto|scalar|avx2|avx512 is passed as --isa; EMO_ARGS adds options to both. The outputs of
# A and B are compared on the first round (byte-identical or not). Measures; asserts nothing.
set -euo pipefail
a=${1:?usage: bench/video_ab.sh EMO_A EMO_B [VIDEO]}
b=${2:?usage: bench/video_ab.sh EMO_A EMO_B [VIDEO]}
here=$(cd "$(dirname "$0")/.." && pwd)
video=${3:-$here/../shared/peers/media/test_720p30.mp4}
rounds=${ROUNDS:-5}
isa=${ISA:-auto}
[ -f "$video" ] || { echo "no video at $video (../shared absent?)"; exit 0; }
command -v ffmpeg >/dev/null || { echo "needs ffmpeg: apt-get install ffmpeg"; exit 1; }
out=$(mktemp -d)
tc() { python3 "$here/bench/thread_cpu.py" "$@"; }
# run LABEL CMD...: one timed run; appends "wall process_cpu main_cpu" to $out/LABEL
run() {
  local label=$1; shift
  local t0 t1 rep
  t0=$(date +%s.%N)
  rep=$(tc "$@" 2>/dev/null)
  t1=$(date +%s.%N)
  echo "$rep" | awk -v w="$(echo "$t1 - $t0" | bc)" '
    /^main/ {m = $4} /^process total/ {p = $3} END {print w, p, m}' >>"$out/$label"
  echo "  $label: wall, process CPU, analysis thread CPU (s): $(tail -1 "$out/$label")"
}
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
  -of csv=p=0 "$video")
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) cores)"
echo "A: $a; B: $b; --isa $isa ${EMO_ARGS:-}; $video ($frames frames); $rounds rounds"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  run ffmpeg ffmpeg -v error -threads 2 -i "$video" -an -f null -
  order="A B"
  [ $((r % 2)) -eq 0 ] && order="B A"
  for x in $order; do
    bin=$a
    [ "$x" = B ] && bin=$b
    # shellcheck disable=SC2086
    run "$x" "$bin" video -q --isa "$isa" ${EMO_ARGS:-} -o "$out/$x.jsonl" "$video"
  done
  if [ "$r" -eq 1 ]; then
    if cmp -s "$out/A.jsonl" "$out/B.jsonl"; then echo "outputs: identical"; else echo "outputs: DIFFER"; fi
  fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fw=$(cut -d' ' -f1 "$out/ffmpeg" | med); fc=$(cut -d' ' -f2 "$out/ffmpeg" | med)
printf "%-7s wall %6.2f s (%6.1f fps)  CPU %6.2f s\n" ffmpeg "$fw" "$(echo "$frames / $fw" | bc -l)" "$fc"
for x in A B; do
  w=$(cut -d' ' -f1 "$out/$x" | med); p=$(cut -d' ' -f2 "$out/$x" | med)
  m=$(cut -d' ' -f3 "$out/$x" | med)
  awk -v x="$x" -v w="$w" -v p="$p" -v m="$m" -v f="$frames" -v fc="$fc" -v fw="$fw" 'BEGIN {
    crit = m > p / 2 ? m : p / 2
    printf "emo %s  wall %6.2f s (%6.1f fps, %4.1f %% of ffmpeg wall)  process CPU %6.2f s  " \
           "analysis thread %6.2f s (%4.1f %%)  (1) %4.1f %%  (2) %4.1f %%\n",
           x, w, f / w, 100 * fw / w, p, m, 100 * m / p, 100 * fc / p, 100 * (fc / 2) / crit }'
done
rm -rf "$out"
