"""cv_ser.py: grouped cross-validation of whole training runs of train_ser.py, so that a recipe
is chosen on more than two validation actors (the README's retraining notes: actors 15-16 did
not predict actors 17-20). Each fold is one full run with --val-actors set to that fold's
RAVDESS actors (the other actors of 1-16, EmoDB and EMOVO training speakers train); actors
17-20 and the EmoDB/EMOVO test speakers stay out of every fold. The recipe's score is the mean
validation UA over folds (each run picks its epoch on its own fold, so the figure is slightly
optimistic alike for every recipe).

Everything after "--" goes to train_ser.py unchanged (the recipe), e.g.
  /usr/bin/python3 training/cv_ser.py --out /tmp/ser_voice/cv_base -- --cpu-minutes 20 --threads 1
  /usr/bin/python3 training/cv_ser.py --out /tmp/ser_voice/cv_spk10 -- --cpu-minutes 20 \
      --threads 1 --speaker-norm 10
Writes OUT/fold_N/ (each run) and OUT/cv.json (per-fold and mean validation UA, commands).
"""
import argparse
import json
import os
import subprocess
import sys

FOLDS = ["1,2,3,4", "5,6,7,8", "9,10,11,12", "13,14,15,16"]


def main():
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", default=";".join(FOLDS),
                    help="';'-separated folds of RAVDESS actors (default: 4 folds of 1-16)")
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    here = os.path.dirname(os.path.abspath(__file__))
    res = dict(folds=[], recipe=rest, command=" ".join(["/usr/bin/python3"] + sys.argv))
    for n, fold in enumerate(args.folds.split(";")):
        out = os.path.join(args.out, "fold_%d" % n)
        cmd = [sys.executable, os.path.join(here, "train_ser.py"), "--out", out,
               "--val-actors", fold] + rest
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        r = json.load(open(os.path.join(out, "results.json")))
        res["folds"].append(dict(actors=fold, val_ua=r["val"]["ua"], best_epoch=r["best_epoch"],
                                 cpu_seconds=r["cpu_seconds"]))
        print("fold %s: val UA %.1f%%" % (fold, 100 * r["val"]["ua"]), flush=True)
    uas = [f["val_ua"] for f in res["folds"]]
    res["mean_val_ua"] = sum(uas) / len(uas)
    print("mean over %d folds: UA %.1f%% (%s)" % (len(uas), 100 * res["mean_val_ua"], ", ".join(
        "%.1f" % (100 * u) for u in uas)))
    with open(os.path.join(args.out, "cv.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
