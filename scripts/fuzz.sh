#!/usr/bin/env bash
# fuzz.sh BUILD [SECONDS] [NAME...]: runs the libFuzzer harnesses built in BUILD/fuzz (all of
# them, or fuzz_NAME for each NAME given) for SECONDS each (default 20), one after another,
# starting from the committed seed corpus (fuzz/corpus/NAME) with the harness's dictionary when
# it has one (fuzz/dict/NAME.dict: the keys and tokens its parser looks for), and fails if any
# harness stops on a crash, leak, timeout, out-of-memory or undefined behaviour (the fuzz build
# makes UBSan fatal). Ends with one table: per harness its status, executions, libFuzzer's cov:
# (edges) and ft: (features) of its last stats line, corpus size and executions per second.
#
# What it keeps, under $FUZZ_OUT/NAME/ (FUZZ_OUT defaults to BUILD/fuzz-out):
#   corpus/     the working corpus: the seeds plus what libFuzzer found; kept between runs,
#               so a later run goes on from there (delete it to start from the seeds again)
#   fuzz.log    the last run's libFuzzer output
#   crash-*, leak-*, timeout-*, oom-*, slow-unit-*   inputs a harness stopped on (the
#               artefact prefix), never deleted by this script
#   failed-<UTC time>.log   the log of every failed run, never deleted by this script
# A failing harness's artefact and log paths are printed. Reproduce with
#   BUILD/fuzz/fuzz_NAME FUZZ_OUT/NAME/crash-...
#
# env: FUZZ_SEED (default 1: reproducible CI runs; 0 = libFuzzer seeds from the clock, for
#      exploratory runs), FUZZ_RUNS (stop each harness after that many executions as well),
#      FUZZ_EXTRA_SEEDS (a folder: FUZZ_EXTRA_SEEDS/NAME/, when present, is read as a second
#      seed folder; scripts/fuzz_long.sh puts real media there), FUZZ_RSS_MB (default 2048),
#      FUZZ_TIMEOUT (seconds per input, default 10), FUZZ_OUT (above).
set -uo pipefail
build=${1:?usage: scripts/fuzz.sh BUILD [SECONDS] [NAME...]}
secs=${2:-20}
shift $(($# >= 2 ? 2 : 1))
root=$(cd "$(dirname "$0")/.." && pwd)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} # a UBSan finding shows its stack
out=${FUZZ_OUT:-$build/fuzz-out}
mkdir -p "$out" && out=$(cd "$out" && pwd)

bins=()
if [ $# -gt 0 ]; then
  for n in "$@"; do bins+=("$build/fuzz/fuzz_${n#fuzz_}"); done
else
  for b in "$build"/fuzz/fuzz_*; do bins+=("$b"); done
fi

# artefacts NAME-DIR: the inputs libFuzzer stopped on, one name a line, sorted
artefacts() { find "$1" -maxdepth 1 -type f -regextype egrep -regex '.*/(crash|leak|timeout|oom|slow-unit)-[^/]*' -printf '%f\n' | sort; }

status=0
rows=()
for bin in "${bins[@]}"; do
  name=$(basename "$bin")
  name=${name#fuzz_}
  if [ ! -x "$bin" ] || [ -d "$bin" ]; then
    echo "fuzz: $bin is not a built harness" >&2
    rows+=("$name|not built|-|-|-|-|-")
    status=1
    continue
  fi
  dir=$out/$name
  mkdir -p "$dir/corpus"
  cp -r "$root/fuzz/corpus/$name/." "$dir/corpus/" 2>/dev/null || true
  seeds=()
  [ -n "${FUZZ_EXTRA_SEEDS:-}" ] && [ -d "$FUZZ_EXTRA_SEEDS/$name" ] && seeds+=("$FUZZ_EXTRA_SEEDS/$name")
  dict=()
  [ -f "$root/fuzz/dict/$name.dict" ] && dict+=("-dict=$root/fuzz/dict/$name.dict")
  runs=()
  [ -n "${FUZZ_RUNS:-}" ] && runs+=("-runs=$FUZZ_RUNS")
  before=$(artefacts "$dir")
  echo "fuzz: $name for ${secs}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs} (log $dir/fuzz.log)" >&2
  t0=$(date +%s)
  "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" "${runs[@]}" "${dict[@]}" \
    -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" "${seeds[@]}" >"$dir/fuzz.log" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0))
  # executions: libFuzzer's final stats, else the last "#N" stats line; cov/ft/corp: that line
  last=$(grep -E '^#[0-9]+' "$dir/fuzz.log" | grep 'cov:' | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9A-Za-z]+).*/\1/p' <<<"$last")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    status=1
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    cp "$dir/fuzz.log" "$dir/failed-$stamp.log"
    new=$(comm -13 <(echo "$before") <(artefacts "$dir"))
    echo "fuzz: $name FAILED (exit $rc); log: $dir/failed-$stamp.log" >&2
    for a in $new; do echo "fuzz: $name artefact: $dir/$a" >&2; done
    grep -E 'ERROR:|runtime error:|SUMMARY:|^ *#[0-9]+ 0x' "$dir/fuzz.log" | head -30 >&2
    rows+=("$name|FAILED|${execs:--}|${cov:--}|${ft:--}|${corp:--}|${eps:--}")
  else
    rows+=("$name|ok (${dt}s)|${execs:--}|${cov:--}|${ft:--}|${corp:--}|${eps:--}")
  fi
done

{
  echo
  printf '%-12s %-14s %12s %7s %8s %12s %8s\n' harness status executions cov ft corpus exec/s
  for r in "${rows[@]}"; do
    IFS='|' read -r n s e c f k x <<<"$r"
    printf '%-12s %-14s %12s %7s %8s %12s %8s\n' "$n" "$s" "$e" "$c" "$f" "$k" "$x"
  done
  echo "fuzz: outputs under $out"
} >&2
exit $status
