#!/usr/bin/env bash
# fuzz.sh: runs every libFuzzer harness built in BUILD/fuzz for SECONDS each, starting from
# its committed seed corpus (fuzz/corpus/NAME), and fails if any harness finds a crash.
# The random seed is fixed (FUZZ_SEED, default 1) so a CI run is reproducible; long
# exploratory runs should set FUZZ_SEED=0 (libFuzzer then seeds from the clock).
set -euo pipefail
build=$1 secs=${2:-20}
status=0
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=$(mktemp -d)
  cp -r fuzz/corpus/"$name"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s" >&2
  if ! "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$work/" "$work" 2>"$work.log"; then
    echo "fuzz: $name FAILED; log:" >&2; tail -40 "$work.log" >&2; status=1
  else
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work.log" | tail -1 >&2 || true
  fi
  rm -rf "$work" "$work.log"
done
exit $status
