#!/usr/bin/env bash
# shot_cut_eval.sh: precision and recall of vision/shot_cut.c against the labelled cuts of
# tests/fixtures/identity/*.tsv (a cut found within 0.15 s of a labelled hard cut, or inside a
# labelled dissolve's span, is a hit), without the face pipeline. Needs build/libemo.a, ffmpeg
# (for the reel) and ../shared/data. Usage: dev/shot_cut_eval.sh
set -e
cd "$(dirname "$0")/.."
DATA=${EMO_SHARED_DATA:-../shared/data}
XNN=$(dirname "$(find /usr/include /usr/local/include -name xnnpack.h 2>/dev/null | head -1)")
nice cc -std=c11 -O2 -Wall -Wextra -Iinclude -Isrc -I"$XNN" dev/shot_cut_eval.c build/libemo.a \
  $(pkg-config --libs libcjson libpng libjpeg libwebp libcrypto libavformat libavcodec libavutil \
    libswscale libswresample libavdevice openblas libzip) -lXNNPACK -lpthreadpool -lpthread -lm \
  -o build/shot_cut_eval
exec python3 - "$DATA" <<'PY'
import glob, os, subprocess, sys
sys.path.insert(0, "tools")
import idscore
data = sys.argv[1]
work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "emo-idscore")
tot = [0, 0, 0]
for f in sorted(glob.glob("tests/fixtures/identity/*.tsv")):
    name = os.path.splitext(os.path.basename(f))[0]
    gt = idscore.parse_gt(open(f).read(), f)
    path = os.path.join(data, gt["clip"]) if gt["clip"] else idscore.make_reel(data, gt["parts"], work, name)
    out = subprocess.run(["nice", "build/shot_cut_eval", path], stdout=subprocess.PIPE, text=True,
                         check=True).stdout.rstrip("\n").split("\t")
    found = [float(x) for x in (out[1].split(",") if out[1] else []) + (out[2].split(",") if out[2] else [])]
    hits, used = 0, set()
    for a, b, kind in gt["cuts"]:
        for k, c in enumerate(found):
            if k not in used and a - idscore.CUT_TOL <= c <= b + idscore.CUT_TOL:
                used.add(k); hits += 1; break
    extra = [round(c, 3) for k, c in enumerate(found) if k not in used]
    missed = [a for a, b, kind in gt["cuts"] if not any(a - idscore.CUT_TOL <= c <= b + idscore.CUT_TOL for c in found)]
    if gt["cuts"] or found:
        print("%-24s labelled %2d found %2d hit %2d  false %s  missed %s" % (name, len(gt["cuts"]), len(found), hits, extra, missed))
    tot[0] += len(gt["cuts"]); tot[1] += len(found); tot[2] += hits
p = tot[2] / tot[1] if tot[1] else 1.0
r = tot[2] / tot[0] if tot[0] else 1.0
print("all: labelled %d found %d hit %d  precision %.3f recall %.3f" % (tot[0], tot[1], tot[2], p, r))
PY
