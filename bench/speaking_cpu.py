#!/usr/bin/env python3
"""speaking_cpu.py BUILD_DIR [--repeat N] [--modes plain,mouth,lr_asd] [--base BUILD_DIR2] [CLIP...]: what each speaking source adds to `emo video`.

For each clip (default: the split-screen interviews and one sitcom clip of ../shared/data/av),
runs `emo video -q -o /dev/null` REPEAT (3) times each with --no-persons (the plain run),
--speaking mouth (the default) and --speaking lr_asd, interleaved, and prints the median process
CPU time (user + system of the child, from getrusage; on a shared machine it is far steadier than
the wall time, which is not reported) and each source's overhead over the plain run. It measures;
it asserts nothing. --base adds a mode "lr_asd@base": --speaking lr_asd on BUILD_DIR2's emo, in
the same interleaving (a before/after of a change on the same load).
"""
import os
import resource
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "..", "shared", "data", "av")
CLIPS = ["split_screen/interview_overlap.mp4", "split_screen/debate_interview4.mp4",
         "friends/out12.mp4"]
MODES = [("plain", ["--no-persons"]), ("mouth", ["--speaking", "mouth"]),
         ("lr_asd", ["--speaking", "lr_asd"])]


def cpu_of(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    build, repeat, clips, modes, base = args[0], 3, [], ["plain", "mouth", "lr_asd"], None
    i = 1
    while i < len(args):
        if args[i] == "--modes":
            modes = args[i + 1].split(",")
            i += 2
        elif args[i] == "--base":
            base = args[i + 1]
            i += 2
        elif args[i] == "--repeat":
            repeat = int(args[i + 1])
            i += 2
        else:
            clips.append(args[i])
            i += 1
    clips = clips or [os.path.join(data, c) for c in CLIPS]
    emo = os.path.join(build, "emo")
    for clip in clips:
        if not os.path.exists(clip):
            print(f"{clip}: absent, skipped")
            continue
        use = [(m, emo, o) for m, o in MODES if m in modes]
        if base:
            use.append(("lr_asd@base", os.path.join(base, "emo"), ["--speaking", "lr_asd"]))
        t = {m: [] for m, _, _ in use}
        for _ in range(repeat):
            for m, exe, opt in use:
                t[m].append(cpu_of([exe, "video", "-q", "-o", os.devnull] + opt + [clip]))
        med = {m: sorted(v)[len(v) // 2] for m, v in t.items()}
        runs = ", ".join(f"{m} " + " ".join(f"{x:.2f}" for x in v) for m, v in t.items())
        base = med.get("plain")
        figs = ", ".join(f"{m} {v:.2f}" + (f" ({100 * (v / base - 1):+.1f} %)" if base and m != "plain" else "")
                         for m, v in med.items())
        print(f"{os.path.basename(clip)}: CPU s, median of {repeat}: {figs}  [runs: {runs}]",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
