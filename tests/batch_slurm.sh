#!/usr/bin/env bash
# batch_slurm.sh: `emo batch` under a real Slurm. Starts a one-node cluster in a temporary
# folder (munged, slurmctld -D and slurmd -D in the foreground of this script, no systemd,
# private ports and sockets), submits the manifest as `sbatch --array=0-2` (each task reads its
# shard from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT) and the merge as a job with
# --dependency=afterany, the recipe of docs/batch.md, then checks that the merged tables are
# byte-identical to a single-process run's. Stops the daemons it started on exit.
# Usage: tests/batch_slurm.sh EMO_BINARY [SHARED_DATA [LIST [REFERENCE_OUT]]]
#   (Debian's slurm-wlm and munge, as root). LIST replaces the 7 clips (e.g. bench/batch.sh's
#   archive.txt); REFERENCE_OUT, a finished single-process `emo batch LIST -o REFERENCE_OUT`
#   (merge reads emo.jsonl only, so --csv/--rttm do not matter), replaces the reference run.
# Skips (77) when Slurm, munge, root, the data or the models are absent. .ci/run runs it.
set -uo pipefail
emo=$(realpath "${1:?usage: batch_slurm.sh EMO_BINARY [SHARED_DATA]}")
data=${2:-$(dirname "$0")/../../shared/data}
list=${3:+$(realpath "$3")}
ref=${4:+$(realpath "$4")}
for c in slurmctld slurmd sbatch squeue munged; do
  command -v $c >/dev/null || { echo "skip: $c is not installed (apt-get install slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: slurmd needs root here (run as root, e.g. in the CI container)"; exit 77; }
[ -d "$data/video" ] || { echo "skip: no shared data at $data"; exit 77; }
"$emo" models list >/dev/null 2>&1 || { echo "skip: models missing (run emo models fetch)"; exit 77; }
data=$(cd "$data" && pwd)
tmp=$(mktemp -d /tmp/emo-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/log/*; do echo "--- $f" >&2; tail -20 "$f" >&2; done
  exit 1
}

# munge: a private key and socket.
mkdir -p "$tmp/munge" "$tmp/log" "$tmp/spool/ctld" "$tmp/spool/d"
dd if=/dev/urandom of="$tmp/munge/key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/key"
chmod 700 "$tmp/munge"
munged --force --key-file="$tmp/munge/key" --socket="$tmp/munge/sock" \
  --pid-file="$tmp/munge/pid" --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge/seed" \
  || fail "munged did not start"
for _ in $(seq 50); do [ -f "$tmp/munge/pid" ] && break; sleep 0.1; done
pids+=("$(cat "$tmp/munge/pid")")

host=$(hostname -s)
cpus=$(nproc)
port=$((20000 + RANDOM % 20000))
cat >"$tmp/slurm.conf" <<EOF
ClusterName=emotest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/sock
CredType=cred/munge
StateSaveLocation=$tmp/spool/ctld
SlurmdSpoolDir=$tmp/spool/d
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=batch Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)' && break
  sleep 0.3
done
sinfo -h -o %T | grep -qE '^(idle|mixed)' || fail "the node did not come up: $(sinfo 2>&1)"
echo "ok: one-node Slurm up ($host, $cpus CPUs, port $port)"

files=(video/single_face.mp4 video/no_face.mp4 av/friends/out1.mp4 av/grid/bbaf2n.mpg
       av/lrs2/00002.mp4 ser/ravdess/Actor_01/03-01-01-01-01-01-01.flac ser/emodb/03a01Fa.flac)
if [ -n "$list" ]; then
  cp "$list" "$tmp/list.txt"
else
  for f in "${files[@]}"; do echo "$data/$f"; done >"$tmp/list.txt"
fi

# The recipe (docs/batch.md): an array of 3 shards, then the merge after all of them.
job=$(sbatch --parsable --array=0-2 --cpus-per-task=1 -o "$tmp/log/shard-%a.out" \
  --wrap "exec '$emo' batch '$tmp/list.txt' -o '$tmp/slurm' --csv --rttm") || fail "sbatch"
merge=$(sbatch --parsable --dependency=afterany:$job -o "$tmp/log/merge.out" \
  --wrap "exec '$emo' batch merge '$tmp/slurm'") || fail "sbatch merge"
echo "ok: submitted array job $job and merge job $merge"

# Meanwhile, the reference: one process (or a finished one given as REFERENCE_OUT).
if [ -n "$ref" ]; then
  ln -s "$ref" "$tmp/one"
else
  "$emo" batch "$tmp/list.txt" -o "$tmp/one" --csv --rttm -q || fail "single run"
fi
"$emo" batch merge "$tmp/one" 2>/dev/null || fail "single merge"

for _ in $(seq 1800); do
  [ -z "$(squeue -h -j "$job,$merge" 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$job,$merge" 2>/dev/null)" ] || fail "jobs still queued: $(squeue)"
for i in 0 1 2; do
  grep -q "shard $i/3" "$tmp/log/shard-$i.out" || fail "task $i did not run shard $i/3"
done
"$emo" batch status "$tmp/slurm"
for f in "$tmp"/one/merged/*; do
  cmp "$f" "$tmp/slurm/merged/$(basename "$f")" || fail "merged $(basename "$f") differs"
done
echo "ok: sbatch --array=0-2 + afterany merge: merged tables byte-identical to one process"
