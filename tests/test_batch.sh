#!/usr/bin/env bash
# test_batch.sh: `emo batch` on real clips from ../shared/data (video with and without faces, a
# sitcom clip, GRID, LRS2, RAVDESS and EmoDB speech; short, so the sanitizer build runs it too):
#   1. a single-process run, merged: the reference;
#   2. three shards as separate processes, one killed with SIGKILL in the middle of a file,
#      `status` showing it unfinished, the shard rerun, merged: byte-identical to 1, each
#      file analysed once, nothing lost; a rerun analyses nothing;
#   3. a corrupt DONE.json is redone (to the same bytes); changed options or a changed input
#      are redone, the rest skipped;
#   4. bad input: a missing file, a duplicate, a file that is not media, paths with spaces,
#      commas, a newline and non-UTF-8 bytes (CSV, NUL-separated list, a folder): exit 3,
#      FAILED.json for the bad ones only, the odd names done;
#   5. two runs on one shard at once: the second refuses (exit 4) and the first completes;
#   6. a full disk (RLIMIT_FSIZE): transient failure (exit 1), FAILED.json, no DONE.json; the
#      rerun without the limit completes;
#   7. SIGTERM mid-file: exit 143, the file not marked done.
# Usage: test_batch.sh EMO_BINARY [SHARED_DATA]. Skips (77) without the data or the models.
set -uo pipefail
emo=${1:?usage: test_batch.sh EMO_BINARY [SHARED_DATA]}
data=${2:-$(dirname "$0")/../../shared/data}
[ -d "$data/video" ] || { echo "skip: no shared data at $data"; exit 77; }
"$emo" models list >/dev/null 2>&1 || { echo "skip: models missing (run emo models fetch)"; exit 77; }
data=$(cd "$data" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

files=(video/single_face.mp4 video/no_face.mp4 av/friends/out1.mp4 av/grid/bbaf2n.mpg
       av/lrs2/00002.mp4 ser/ravdess/Actor_01/03-01-01-01-01-01-01.flac ser/emodb/03a01Fa.flac)
for f in "${files[@]}"; do echo "$data/$f"; done >"$tmp/list.txt"
n=${#files[@]}

# 1. One process.
"$emo" batch "$tmp/list.txt" -o "$tmp/one" --csv --rttm -q || fail "single run exit $?"
[ "$(ls "$tmp"/one/*/DONE.json | wc -l)" = "$n" ] || fail "single run: not $n DONE.json"
"$emo" batch merge "$tmp/one" 2>/dev/null || fail "merge of the single run"
ok "single run: $n files done and merged"

# 2. Three shards; shard 1 killed mid-file.
for i in 0 2; do "$emo" batch "$tmp/list.txt" -o "$tmp/three" --shard $i/3 --csv --rttm -q & done
"$emo" batch "$tmp/list.txt" -o "$tmp/three" --shard 1/3 --csv --rttm -q &
victim=$!
# Wait until the victim's child has written output lines (a temporary in some .run/).
for _ in $(seq 600); do
  compgen -G "$tmp/three/*/.run/.emo.jsonl.*" >/dev/null && [ -n "$(find "$tmp/three" -path '*/.run/.emo.jsonl.*' -size +0 2>/dev/null)" ] && break
  sleep 0.1
done
kill -9 $victim
wait $victim 2>/dev/null
wait
sleep 0.5 # the killed shard's child dies with it (PR_SET_PDEATHSIG)
done_before=$(ls "$tmp"/three/*/DONE.json 2>/dev/null | wc -l)
[ "$done_before" -lt "$n" ] || fail "the kill came after shard 1 had finished"
"$emo" batch status "$tmp/three" >"$tmp/status.txt" || fail "status"
grep -q "pending: [1-9]" "$tmp/status.txt" || fail "status after the kill: $(cat "$tmp/status.txt")"
"$emo" batch "$tmp/list.txt" -o "$tmp/three" --shard 1/3 --csv --rttm -q || fail "rerun of shard 1"
[ "$(ls "$tmp"/three/*/DONE.json | wc -l)" = "$n" ] || fail "after the rerun: not $n DONE.json"
[ -z "$(find "$tmp/three" -path '*/.run/*' -type f)" ] || fail "temporaries left in .run/"
"$emo" batch merge "$tmp/three" 2>/dev/null || fail "merge of the sharded run"
for f in "$tmp"/one/merged/*; do
  cmp "$f" "$tmp/three/merged/$(basename "$f")" || fail "merged $(basename "$f") differs"
done
for d in "$tmp"/one/*/DONE.json; do
  id=$(basename "$(dirname "$d")")
  cmp "$tmp/one/$id/emo.jsonl" "$tmp/three/$id/emo.jsonl" || fail "$id/emo.jsonl differs"
done
attempts=$(cat "$tmp"/three/*/DONE.json | grep -o '"attempts":[0-9]*' | sort | uniq -c | tr -s ' ')
echo "$attempts" | grep -q '"attempts":1' || fail "attempts: $attempts"
ok "3 shards, one killed with SIGKILL ($done_before/$n done then), rerun: merged byte-identical"
"$emo" batch "$tmp/list.txt" -o "$tmp/three" --shard 1/3 --csv --rttm 2>"$tmp/rerun.txt" || fail "rerun"
grep -q " 0 analysed" "$tmp/rerun.txt" || fail "a rerun of a done shard analysed: $(cat "$tmp/rerun.txt")"
ok "a rerun of a done shard analyses nothing"

# 3. A corrupt DONE.json, then changed options and a changed input.
victim_id=$(ls "$tmp/one" | grep single_face)
printf '{"emo_version":"0.1.0","models":' >"$tmp/one/$victim_id/DONE.json"
"$emo" batch "$tmp/list.txt" -o "$tmp/one" --csv --rttm 2>"$tmp/redo.txt" || fail "redo run"
grep -q " 1 analysed" "$tmp/redo.txt" || fail "corrupt DONE.json not redone: $(cat "$tmp/redo.txt")"
cmp "$tmp/one/$victim_id/emo.jsonl" "$tmp/three/$victim_id/emo.jsonl" || fail "redo differs"
ok "a corrupt DONE.json is redone, to the same bytes"
cp "$data/video/single_face.mp4" "$tmp/clip.mp4"
echo "$tmp/clip.mp4" >"$tmp/one.txt"
"$emo" batch "$tmp/one.txt" -o "$tmp/opt" -q || fail "one-file run"
"$emo" batch "$tmp/one.txt" -o "$tmp/opt" --fps 5 2>"$tmp/o.txt" || fail "--fps run"
grep -q " 1 analysed" "$tmp/o.txt" || fail "changed options not redone"
"$emo" batch "$tmp/one.txt" -o "$tmp/opt" --fps 5 2>"$tmp/o.txt" || fail "--fps rerun"
grep -q " 0 analysed" "$tmp/o.txt" || fail "same options redone"
touch -d '2001-01-01' "$tmp/clip.mp4"
"$emo" batch "$tmp/one.txt" -o "$tmp/opt" --fps 5 2>"$tmp/o.txt" || fail "changed input run"
grep -q " 1 analysed" "$tmp/o.txt" || fail "changed input not redone"
grep -q '"frames":12,' "$tmp"/opt/*/DONE.json || fail "--fps 5 did not reach the analysis"
ok "changed options and a changed input are redone; the same are skipped"
"$emo" batch "$tmp/one.txt" -o "$tmp/rep" --report -q || fail "--report run"
page=$(ls "$tmp"/rep/*/report.html) || fail "--report wrote no report.html"
grep -q '"report.html"' "$tmp"/rep/*/DONE.json || fail "DONE.json does not list report.html"
href=$(grep -o '"video":"[^"]*"' "$page" | head -1 | sed 's/"video":"//; s/"$//')
[ -n "$href" ] && [ "$(cd "$(dirname "$page")" && realpath "$href")" = "$(realpath "$tmp/clip.mp4")" ] ||
  fail "the report's video link ($href) does not lead to the input"
ok "--report: OUT/<id>/report.html, its video linked relative to where it stays"

# 4. Bad input.
mkdir -p "$tmp/odd"
cp "$data/video/single_face.mp4" "$tmp/odd/with space, comma.mp4"
cp "$data/video/single_face.mp4" "$tmp/odd/new
line.mp4"
cp "$data/diarization/sample/sample.wav" "$tmp/odd/$(printf 'caf\xe9')_latin1.wav"
echo "not a video" >"$tmp/odd/text.mp4"
{
  echo 'path,id,fps'
  echo '"odd/with space, comma.mp4",spaces,'
  printf '"odd/new\nline.mp4",newline,5\n'
  echo 'odd/missing.mp4,missing,'
  echo 'odd/text.mp4,text,'
  echo '"odd/with space, comma.mp4",,'
} >"$tmp/bad.csv"
"$emo" batch "$tmp/bad.csv" -o "$tmp/bad" -q 2>"$tmp/bad.txt"
rc=$?
[ $rc = 3 ] || fail "bad input: exit $rc, not 3: $(cat "$tmp/bad.txt")"
for id in spaces newline; do [ -f "$tmp/bad/$id/DONE.json" ] || fail "$id not done"; done
for id in missing text; do
  grep -q '"error":"bad_input"' "$tmp/bad/$id/FAILED.json" || fail "$id: no bad_input FAILED.json"
  [ ! -f "$tmp/bad/$id/DONE.json" ] || fail "$id reported done"
done
grep -q 'listed twice' "$tmp/bad.txt" || fail "the duplicate was not reported"
[ "$(ls "$tmp/bad" | grep -vc batch)" = 4 ] || fail "the duplicate got a folder of its own"
grep -q '"frames":12,' "$tmp/bad/newline/DONE.json" || fail "the CSV's fps column was not applied"
printf '%s\0' "$tmp/odd/$(printf 'caf\xe9')_latin1.wav" "$tmp/odd/new
line.mp4" >"$tmp/nul.list"
"$emo" batch "$tmp/nul.list" -o "$tmp/nul" -q || fail "NUL-separated list: exit $?"
[ "$(ls "$tmp"/nul/*/DONE.json | wc -l)" = 2 ] || fail "NUL list: not 2 done"
python3 -c 'import json,sys; [json.load(open(p)) for p in sys.argv[1:]]' "$tmp"/nul/*/DONE.json \
  || fail "DONE.json of a non-UTF-8 path is not valid JSON"
"$emo" batch "$tmp/odd" -o "$tmp/dir" -q
rc=$?
[ $rc = 3 ] || fail "a folder manifest with a non-media file: exit $rc, not 3"
[ "$(ls "$tmp"/dir/*/DONE.json | wc -l)" = 3 ] || fail "folder manifest: not 3 done"
ls "$tmp/dir" | grep -q '^text.mp4-' || fail "folder manifest: ids not from relative paths"
"$emo" batch merge "$tmp/bad" 2>/dev/null || fail "merge with failures"
grep -q '"bad_input":2' "$tmp/bad/merged/archive.json" || fail "archive.json: $(cat "$tmp/bad/merged/archive.json")"
ok "bad input: exit 3, missing and non-media in FAILED.json, odd names done, duplicate once"

# 5. Two runs on one shard at once (the first three files).
head -3 "$tmp/list.txt" >"$tmp/three.txt"
"$emo" batch "$tmp/three.txt" -o "$tmp/conc" -q &
first=$!
for _ in $(seq 300); do [ -d "$tmp/conc/batch" ] && compgen -G "$tmp/conc/*/.run" >/dev/null && break; sleep 0.1; done
"$emo" batch "$tmp/three.txt" -o "$tmp/conc" -q 2>"$tmp/conc.txt"
rc=$?
[ $rc = 4 ] || fail "the second run on a busy shard: exit $rc, not 4"
grep -q "another run" "$tmp/conc.txt" || fail "no message for the busy shard"
wait $first || fail "the first run failed while a second was refused"
[ "$(ls "$tmp"/conc/*/DONE.json | wc -l)" = 3 ] || fail "concurrent: not all done"
ok "a second run on a busy shard refuses with exit 4; the first completes"

# 6. A full disk: files limited to 4 KiB.
( ulimit -f 4; exec "$emo" batch "$tmp/one.txt" -o "$tmp/full" --retries 1 -q ) 2>/dev/null
rc=$?
[ $rc = 1 ] || fail "full disk: exit $rc, not 1"
grep -q '"error":"transient"' "$tmp"/full/*/FAILED.json || fail "full disk: no transient FAILED.json"
grep -q '"attempts":2' "$tmp"/full/*/FAILED.json || fail "full disk: not retried once"
! ls "$tmp"/full/*/DONE.json 2>/dev/null || fail "full disk: DONE.json written"
"$emo" batch "$tmp/one.txt" -o "$tmp/full" -q || fail "after the disk was freed"
ls "$tmp"/full/*/DONE.json >/dev/null || fail "full disk: not done after the rerun"
[ ! -f "$(dirname "$(ls "$tmp"/full/*/DONE.json)")/FAILED.json" ] || fail "FAILED.json stayed"
ok "full disk: transient, retried, FAILED.json, no DONE.json; the rerun completes"
# 7. SIGTERM (scancel, a time limit) mid-file: exit 143, no DONE.json, nothing left in .run/.
"$emo" batch "$tmp/one.txt" -o "$tmp/term" -q &
pid=$!
for _ in $(seq 600); do
  [ -n "$(find "$tmp/term" -path '*/.run/.emo.jsonl.*' 2>/dev/null)" ] && break
  sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 143 ] || fail "SIGTERM: exit $rc, not 143"
! ls "$tmp"/term/*/DONE.json 2>/dev/null || fail "SIGTERM: the interrupted file is marked done"
[ -z "$(find "$tmp/term" -path '*/.run/*' -type f)" ] || fail "SIGTERM: temporaries left"
ok "SIGTERM mid-file: exit 143, not marked done, no temporaries"
echo "all batch tests passed"
