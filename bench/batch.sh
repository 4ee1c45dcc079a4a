#!/usr/bin/env bash
# batch.sh: the figures of `emo batch` in README.md and docs/batch.md, on the benchmark archive:
# every media file under ../shared/data/{video,av,diarization} (77 files, 10.5 min of video
# and meeting audio). One shard, default options, from an empty output folder:
#   - throughput: hours of media per hour of wall time, and per core (the threads each child
#     was given: SLURM_CPUS_PER_TASK, the cgroup quota or the affinity mask);
#   - bookkeeping overhead: the run's wall time minus the children's (each child is exactly
#     `emo video|audio FILE`, timed in DONE.json), over the run's wall time: manifest, probes,
#     locks, DONE.json, the rerun check; target under 1 %;
#   - the probe pass alone (emo_media_probe on every file, once per manifest), and a rerun of
#     the finished archive (everything skipped).
# usage: bench/batch.sh EMO_BINARY [SHARED_DATA] [OUT]   (OUT default /tmp/emo-batch-bench)
set -euo pipefail
emo=$(realpath "${1:?usage: bench/batch.sh EMO_BINARY [SHARED_DATA] [OUT]}")
data=$(cd "${2:-$(dirname "$0")/../../shared/data}" && pwd)
out=${3:-/tmp/emo-batch-bench}
rm -rf "$out"
mkdir -p "$out"
find "$data/video" "$data/av" "$data/diarization" -type f \
  \( -name '*.mp4' -o -name '*.mov' -o -name '*.avi' -o -name '*.mpg' -o -name '*.wav' \) |
  sort >"$out/archive.txt"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
t0=$(date +%s.%N)
"$emo" batch "$out/archive.txt" -o "$out/run" 2>"$out/run.log" || echo "exit $? (see $out/run.log)"
t1=$(date +%s.%N)
"$emo" batch "$out/archive.txt" -o "$out/run" 2>"$out/rerun.log" || true
t2=$(date +%s.%N)
threads=$(sed -n 's/.*files (.* of media), \([0-9]*\) threads each/\1/p' "$out/run.log" | head -1)
python3 - "$out" "$t0" "$t1" "$t2" "${threads:-1}" <<'EOF'
import glob, json, sys
out, t0, t1, t2, threads = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
done = [json.load(open(p)) for p in glob.glob(out + "/run/*/DONE.json")]
media = sum(d["figures"]["duration"] for d in done)
child = sum(d["figures"]["wall_s"] for d in done)
wall = t1 - t0
print(f"files done: {len(done)}, media {media:.1f} s ({media/3600:.4f} h)")
print(f"wall {wall:.1f} s; children {child:.1f} s; {threads} threads per child")
print(f"throughput: {media/wall:.2f} h of media per hour of wall time, "
      f"{media/wall/threads:.2f} per core")
print(f"bookkeeping overhead: {wall-child:.2f} s = {100*(wall-child)/wall:.2f} % of the run")
print(f"rerun of the finished archive (all skipped): {t2-t1:.2f} s")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
