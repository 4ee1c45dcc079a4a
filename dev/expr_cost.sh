#!/usr/bin/env bash
# expr_cost.sh: the CPU cost of each expression model in `emo video`: process CPU time
# (user + sys, /usr/bin/time) of `emo video --no-persons -q -o /dev/null VIDEO` for each
# configuration, the configurations interleaved round after round (a loaded machine slows
# them alike), then the median of each. A configuration is LABEL=BINARY ARGS...
# Usage: REPEAT=3 dev/expr_cost.sh VIDEO... -- "fer=build/emo --expression fer" \
#            "emo=build/emo --expression emo" ...
# Prints one line per run (label video user+sys) and the medians. Measures; asserts nothing.
set -euo pipefail
repeat=${REPEAT:-3}
videos=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do videos+=("$1"); shift; done
shift || true
[ ${#videos[@]} -gt 0 ] && [ $# -gt 0 ] || { sed -n 2,8p "$0"; exit 2; }
out=$(mktemp -d)
for r in $(seq "$repeat"); do
  for v in "${videos[@]}"; do
    for cfg in "$@"; do
      label=${cfg%%=*}
      read -r -a cmd <<<"${cfg#*=}"
      /usr/bin/time -o "$out/t" -f "%U %S" "${cmd[0]}" video "${cmd[@]:1}" --no-persons -q \
        -o /dev/null "$v" || { echo "failed: ${cmd[*]} $v"; exit 1; }
      t=$(awk '{printf "%.2f", $1 + $2}' "$out/t")
      echo "round $r $label $(basename "$v") $t"
      echo "$t" >>"$out/$label.$(basename "$v")"
    done
  done
done
echo "median CPU seconds (user + sys) of $repeat runs:"
for v in "${videos[@]}"; do
  for cfg in "$@"; do
    label=${cfg%%=*}
    printf '%-12s %-28s %s\n' "$label" "$(basename "$v")" \
      "$(sort -n "$out/$label.$(basename "$v")" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  done
done
rm -rf "$out"
