#!/usr/bin/env python3
"""ident_logs.py: runs emo on every labelled identity clip with the clustering's diagnostics
(`-v -v`: threaded shots, links, merges, close pairs left apart, each track's clothes) and keeps
NAME.jsonl and NAME.log in DIR, so that `tools/idscore.py --pred DIR` scores them and
dev/clothes_pairs.py reads the logs.

Usage: python3 dev/ident_logs.py EMO DIR [GT.tsv ...] [-- emo video options]"""
import glob
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tools"))
import idscore  # noqa: E402


def main(argv):
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    emo, out, files = argv[0], argv[1], argv[2:]
    root = os.path.dirname(here)
    data = os.path.join(root, "..", "shared", "data")
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "emo-idscore")
    files = files or sorted(glob.glob(os.path.join(root, "tests", "fixtures", "identity", "*.tsv")))
    os.makedirs(out, exist_ok=True)
    for f in files:
        name = os.path.splitext(os.path.basename(f))[0]
        with open(f, encoding="utf-8") as fh:
            gt = idscore.parse_gt(fh.read(), f)
        path = (os.path.join(data, gt["clip"]) if gt["clip"] else
                idscore.make_reel(data, gt["parts"], work, name))
        with open(os.path.join(out, name + ".jsonl"), "w") as jo, \
                open(os.path.join(out, name + ".log"), "w") as lo:
            subprocess.run([emo, "video", "--no-voice", "-v", "-v"] + extra + [path], stdout=jo,
                           stderr=lo, check=True)
        print(name, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
