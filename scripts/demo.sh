#!/usr/bin/env bash
# demo.sh: runs emo on real photos: the shared test photos when ../shared/data is present,
# else the face-api demo photos that `emo models fetch` put in the model cache. stdout is the
# JSON Lines of `emo image` and nothing else (what is run, and any chatter, goes to stderr).
set -euo pipefail
emo=$1 data=$2
photos=()
if [ -d "$data/faces" ]; then
  photos=("$data/faces/misc/single_face.jpg" "$data/faces/misc/multi_face.jpg" "$data/faces/groups/group-1.jpg"
          "$data/faces/expressions/stock-emotions-a-1.jpg" "$data/faces/expressions/stock-emotions-b-3.jpg")
else
  dir=$("$emo" models dir)
  photos=("$dir"/sample*.jpg)
fi
echo "emo image ${photos[*]}" >&2
"$emo" image "${photos[@]}"
