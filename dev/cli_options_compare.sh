#!/usr/bin/env bash
# cli_options_compare.sh OLD_EMO NEW_EMO: runs two builds of the emo CLI through the same
# fixed list of command lines (help and version, every kind of bad flag value, missing
# values, unknown options and commands, outputs that name the same file, emo image, video
# and audio on a few files of ../shared/data with -o/--csv/--rttm, models, report, features,
# train) and compares, per case, stdout, stderr, the exit status and every file the case
# wrote in its own working folder, byte for byte. For refactors of the option parsing that
# must not change what users see (dev/cli_compare.sh compares the analyses on more media).
# Prints the differing cases and exits 1 when any differs. Needs ../shared/data and the
# model cache for the analysis cases (without them those cases fail the same way in both).
set -uo pipefail
old=${1:?usage: dev/cli_options_compare.sh OLD_EMO NEW_EMO}
new=${2:?usage: dev/cli_options_compare.sh OLD_EMO NEW_EMO}
old=$(realpath "$old")
new=$(realpath "$new")
D=$(cd "$(dirname "$0")/../../shared/data" 2>/dev/null && pwd) || D=../shared/data
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
n=0
# run ARGS...: one case, with each build, in a fresh working folder per build
run() {
  n=$((n + 1))
  local c
  c=$(printf '%02d' $n)
  for side in old new; do
    local emo=$old
    [ $side = new ] && emo=$new
    local w=$top/$side/work$c
    mkdir -p "$w"
    echo "$*" >"$top/$side/$c.cmd"
    (cd "$w" && timeout 600 "$emo" "$@" >"$top/$side/$c.out" 2>"$top/$side/$c.err"
      echo $? >"$top/$side/$c.rc")
  done
}
run
run --help
run help
run -h
run version
run bogus
run image $D/faces/misc/single_face.jpg
run image -q $D/faces/misc/multi_face.jpg $D/faces/groups/group-1.jpg -o res.jsonl
run image --detector full --expression fer --threshold 0.6 --max-faces 3 --threads 1 $D/faces/groups/group-1.jpg
run image --expression none --detector short --max-pixels 1000 $D/faces/misc/single_face.jpg
run image $D/faces/misc/nonexistent.jpg
run image $D/faces/misc/nonexistent.jpg $D/faces/misc/single_face.jpg
run image -- $D/faces/misc/single_face.jpg
run video -q $D/video/single_face.mp4
run video -q --fps 5 --no-voice --csv faces.csv -o t.jsonl $D/video/no_face.mp4
run video -q --detect-every 3 --no-reid --no-persons --rttm r.rttm $D/video/single_face.mp4
run audio $D/ser/emodb/03a01Fa.flac
run audio -q --whole $D/ser/emodb/03a01Nc.flac
run audio -q --vad-threshold 0.5 --vad-pad 200 --vad-min-silence 50 --vad-min-speech 100 --rttm a.rttm $D/ser/emodb/03a01Wa.flac
run image --threshold
run image --threshold 2 x.jpg
run image --threshold abc x.jpg
run image --detector
run image --detector foo x.jpg
run image --expression bar x.jpg
run image --face-details bar x.jpg
run image --max-faces 0 x.jpg
run image --max-faces 99999999999999999999 x.jpg
run image --threads -1 x.jpg
run image --bogus x.jpg
run image
run image -o
run video
run video a.mp4 b.mp4
run video --fps -1 a.mp4
run video --detect-every 0 a.mp4
run video --speaking foo a.mp4
run video --speaking
run video --isa foo a.mp4
run video --isa
run video --io-timeout 0 a.mp4
run video --gallery
run video --csv
run video -o same.jsonl --csv same.jsonl $D/video/single_face.mp4
run audio
run audio --vad-threshold 1 a.wav
run audio --vad-pad -5 a.wav
run audio a.wav b.wav
run audio -o same.txt --rttm same.txt $D/ser/emodb/03a01Fa.flac
run image -o $D/faces/misc/single_face.jpg $D/faces/misc/single_face.jpg
run image --help
run video -h
run models dir
run models list
run models bogus
run models import
run models dir --isa foo
run models list --isa scalar
run report
run report a.jsonl
run report --bogus
run features
run train
run image --face-head /nonexistent.head $D/faces/misc/single_face.jpg
run audio --voice-head /nonexistent.head $D/ser/emodb/03a01Fa.flac
run video -q --models /nonexistent $D/video/single_face.mp4
run image -v -v --reference --isa scalar --float-expression --landmarks --landmark-crops $D/faces/misc/single_face.jpg

if diff -r "$top/old" "$top/new" >"$top/diff"; then
  echo "cli_options_compare: $n cases, all the same"
  exit 0
fi
cat "$top/diff"
echo "cli_options_compare: $n cases, some differ (above)"
exit 1
