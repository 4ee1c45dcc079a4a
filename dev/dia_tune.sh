#!/bin/sh
# dia_tune.sh: tuning-set DER (trn00..04 only) of `emo audio --rttm`; prints
# "DER MISS FA CONF". For parameter searches, give it a development build whose
# analyze_audio.c reads the VAD / dia_config fields from the environment (the library itself
# never does). Usage: dev/dia_tune.sh [EMO_BINARY]   (run from the repository root)
EMO=${1:-build/emo}
DATA=${EMO_DATA:-../shared/data/diarization}
OUT=$(mktemp -d)
for i in 0 1 2 3 4; do
  "$EMO" audio --rttm "$OUT/r$i" "$DATA/ami/trn0$i.wav" > /dev/null 2>&1
  cat "$OUT/r$i" >> "$OUT/hyp.rttm"
done
python3 tools/der.py --collar 0.25 --uem "$DATA/ami/debug.train.uem" --file trn00 --file trn01 \
  --file trn02 --file trn03 --file trn04 "$DATA/ami/debug.train.rttm" "$OUT/hyp.rttm" |
  awk '/TOTAL/ {print $2, $3, $4, $5}'
rm -rf "$OUT"
