#!/bin/sh
# dia_pipeline_eval.sh: DER of the full audio pipeline (Silero VAD + audio/diarize.c, i.e.
# `emo audio --rttm`) on ../shared/data/diarization: the AMI excerpts trn00..09 scored under
# debug.train.uem, and pyannote's sample scored over its whole length.
# Usage: dev/dia_pipeline_eval.sh [EMO_BINARY] [OUTDIR]   (run from the repository root)
# Prints der.py's per-file lines for AMI, then the tuning-set (trn00..04), held-out
# (trn05..09) and sample totals. Environment variables are passed through to emo.
set -e
EMO=${1:-build/emo}
OUT=${2:-/tmp/emo_dia_pipeline}
DATA=${EMO_DATA:-../shared/data/diarization}
mkdir -p "$OUT"
: > "$OUT/hyp.rttm"
for i in 0 1 2 3 4 5 6 7 8 9; do
  "$EMO" audio --rttm "$OUT/trn0$i.rttm" "$DATA/ami/trn0$i.wav" > /dev/null
  cat "$OUT/trn0$i.rttm" >> "$OUT/hyp.rttm"
done
"$EMO" audio --rttm "$OUT/sample.rttm" "$DATA/sample/sample.wav" > /dev/null
UEM="$DATA/ami/debug.train.uem"
REF="$DATA/ami/debug.train.rttm"
echo "== AMI trn00..09 (collar 0.25, UEM)"
python3 tools/der.py --collar 0.25 --uem "$UEM" "$REF" "$OUT/hyp.rttm"
echo "== tuning set trn00..04"
python3 tools/der.py --collar 0.25 --uem "$UEM" --file trn00 --file trn01 --file trn02 \
  --file trn03 --file trn04 "$REF" "$OUT/hyp.rttm" | grep TOTAL
echo "== held-out trn05..09"
python3 tools/der.py --collar 0.25 --uem "$UEM" --file trn05 --file trn06 --file trn07 \
  --file trn08 --file trn09 "$REF" "$OUT/hyp.rttm" | grep TOTAL
echo "== held-out sample (no UEM: scored to the last turn)"
python3 tools/der.py --collar 0.25 "$DATA/sample/sample.rttm" "$OUT/sample.rttm" | grep -v TOTAL
