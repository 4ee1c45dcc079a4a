#!/usr/bin/env python3
"""test_identity_clips.py: runs `emo video` on a few labelled sitcom clips with several people,
occlusions and a dissolve (tests/fixtures/identity/) and checks the identity promise: no emo id
ever covers two labelled people (zero cross-person merges), and IDF1 over them at least FLOOR
(README "Identity on real video" has every clip's figures; this is a floor, not the target).
Usage: python3 tools/test_identity_clips.py EMO_BINARY   (skips, exit 77, without
../shared/data or the models)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idscore  # noqa: E402

CLIPS = ["out24", "out28", "out29", "out36", "out41"]
FLOOR = 0.80


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    emo = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    data = os.environ.get("EMO_SHARED_DATA", os.path.join(root, "..", "shared", "data"))
    if not os.path.isdir(os.path.join(data, "av", "friends")):
        print("skipped: %s/av/friends is absent" % data)
        return 77
    models = os.environ.get("EMO_MODELS", os.path.expanduser("~/.cache/emo/models"))
    if not os.path.exists(os.path.join(models, "faceres.json")):
        print("skipped: no models in %s (emo models fetch)" % models)
        return 77
    scores, bad = [], 0
    for name in CLIPS:
        with open(os.path.join(root, "tests", "fixtures", "identity", name + ".tsv")) as f:
            gt = idscore.parse_gt(f.read(), name)
        s = idscore.score(gt, idscore.parse_pred(idscore.run_emo(
            emo, os.path.join(data, gt["clip"]), [])))
        scores.append(s)
        print(idscore.row(name, s))
        if s["merges"]:
            bad += 1
            print("FAIL: %s: %d cross-person merges: %r" % (name, s["merges"], s["merge_detail"]))
    t = idscore.total(scores)
    print(idscore.row("all", t))
    if idscore.idf1(t) < FLOOR:
        bad += 1
        print("FAIL: IDF1 %.3f below the floor %.2f" % (idscore.idf1(t), FLOOR))
    print("test_identity_clips: %d passed, %d failed" % (len(CLIPS) + 1 - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
