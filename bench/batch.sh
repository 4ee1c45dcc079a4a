#!/usr/bin/env bash
# batch.sh: the figures of `emo batch` in README.md and docs/batch.md, on the benchmark archive:
# every media file under ../shared/data/{video,av,diarization} (77 files, 10.5 min of video
# and meeting audio; SUBSET=N takes the first N of them). One shard, default options, from an
# empty output folder:
#   - throughput: hours of media per hour of wall time per core (the threads each child was
#     given), and per CPU-hour (the children's user + system time, from DONE.json: what a core
#     of its own would do; on a shared, loaded machine the wall figure is the pessimistic one);
#   - bookkeeping overhead: the run's CPU time (batch and children, from /usr/bin/time) minus
#     the children's, over the run's: manifest, probes, locks, DONE.json, forks; and the same
#     in wall time (run minus children). Each child is exactly `emo video|audio FILE`, so its
#     model loading counts as analysis, as it does for a user running emo per file. Target < 1 %;
#   - a rerun of the finished archive (everything skipped).
# usage: bench/batch.sh EMO_BINARY [SHARED_DATA] [OUT]   (OUT default /tmp/emo-batch-bench)
set -euo pipefail
emo=$(realpath "${1:?usage: bench/batch.sh EMO_BINARY [SHARED_DATA] [OUT]}")
data=$(cd "${2:-$(dirname "$0")/../../shared/data}" && pwd)
out=${3:-/tmp/emo-batch-bench}
rm -rf "$out"
mkdir -p "$out"
find "$data/video" "$data/av" "$data/diarization" -type f \
  \( -name '*.mp4' -o -name '*.mov' -o -name '*.avi' -o -name '*.mpg' -o -name '*.wav' \) |
  sort | head -n "${SUBSET:-100000}" >"$out/archive.txt"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$out/time.txt" "$emo" batch "$out/archive.txt" -o "$out/run" \
  2>"$out/run.log" || echo "exit $? (see $out/run.log)"
t1=$(date +%s.%N)
"$emo" batch "$out/archive.txt" -o "$out/run" 2>"$out/rerun.log" || true
t2=$(date +%s.%N)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
threads=$(sed -n 's/.*files (.* of media), \([0-9]*\) threads each/\1/p' "$out/run.log" | head -1)
python3 - "$out" "$t0" "$t1" "$t2" "${threads:-1}" <<'PY'
import glob, json, sys
out, t0, t1, t2, threads = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
done = [json.load(open(p))["figures"] for p in glob.glob(out + "/run/*/DONE.json")]
media = sum(d["duration"] for d in done)
cwall = sum(d["wall_s"] for d in done)
ccpu = sum(d.get("cpu_s", 0) for d in done)
u, s = map(float, open(out + "/time.txt").read().split()[-2:])
cpu = u + s
wall = t1 - t0
print(f"files done: {len(done)}, media {media:.1f} s ({media/3600:.4f} h)")
print(f"wall {wall:.1f} s (children {cwall:.1f} s); CPU {cpu:.1f} s (children {ccpu:.1f} s); {threads} threads per child")
print(f"throughput: {media/wall/threads:.2f} h of media per hour of wall time per core (under this load), "
      f"{media/ccpu:.2f} h per CPU-hour")
print(f"bookkeeping overhead: CPU {cpu-ccpu:.2f} s = {100*(cpu-ccpu)/cpu:.2f} %; "
      f"wall {wall-cwall:.2f} s = {100*(wall-cwall)/wall:.2f} %")
print(f"rerun of the finished archive (all skipped): {t2-t1:.2f} s")
PY
