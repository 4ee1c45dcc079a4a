#!/usr/bin/env bash
# cli_compare.sh OLD_EMO NEW_EMO: runs two builds of the emo CLI on the shared test media and
# says whether their outputs are the same, for refactors that must not change what users get
# (issue 9 moved emo video's soundtrack into the library). Compared:
#   - emo image on the photos of faces/misc: byte for byte;
#   - emo video --no-voice on every clip of video/ and a few of av/: byte for byte;
#   - emo video with the soundtrack on clips with speech: every line that is not a speech
#     segment byte for byte, and the segment lines as a set (issue 10 moved each segment from
#     before the first frame at its start to after the last frame before its end);
#   - emo audio (and --whole) on meeting and acted speech: byte for byte.
# Prints one line per comparison and exits 1 when any differs. Needs ../shared/data.
set -euo pipefail
old=${1:?usage: dev/cli_compare.sh OLD_EMO NEW_EMO}
new=${2:?usage: dev/cli_compare.sh OLD_EMO NEW_EMO}
data=$(cd "$(dirname "$0")/../../shared/data" 2>/dev/null && pwd) || {
  echo "../shared/data is absent: nothing to compare"
  exit 0
}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
# same LABEL FILTER ARGS...: runs both builds with ARGS, pipes each output through FILTER.
same() {
  local label=$1 filter=$2
  shift 2
  "$old" "$@" 2>/dev/null | $filter >"$out/a" || true
  "$new" "$@" 2>/dev/null | $filter >"$out/b" || true
  if cmp -s "$out/a" "$out/b"; then
    echo "same       $label ($(wc -l <"$out/b") lines)"
  else
    echo "DIFFERENT  $label"
    status=1
  fi
}
not_segments() { grep -v '"type":"segment"' || true; }
segments() { grep '"type":"segment"' | sort || true; }
same "image faces/misc" cat image -q "$data"/faces/misc/*.jpg
for v in "$data"/video/* "$data/av/friends/out1.mp4" "$data/av/scenes/drama_two_shot.mp4"; do
  same "video --no-voice ${v#"$data"/}" cat video -q --no-voice "$v"
done
for v in "$data/av/split_screen/interview_overlap.mp4" "$data/av/scenes/drama_two_shot.mp4" \
  "$data/av/grid/id2_vcd_swwp2s.mpg"; do
  same "video ${v#"$data"/}: frames, events, summary" not_segments video -q "$v"
  same "video ${v#"$data"/}: speech segments" segments video -q "$v"
done
for a in "$data/diarization/ami/trn03.wav" "$data/diarization/sample/sample.wav"; do
  same "audio ${a#"$data"/}" cat audio -q "$a"
done
same "audio --whole ser/ravdess/Actor_01/03-01-05-02-01-01-01.flac" cat audio -q --whole \
  "$data/ser/ravdess/Actor_01/03-01-05-02-01-01-01.flac"
exit $status
