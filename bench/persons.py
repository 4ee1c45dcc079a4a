#!/usr/bin/env python3
"""persons.py BUILD_DIR [--data DIR] [--keep DIR [--rescore]] [--only NAME] [--speaking mouth|lr_asd]
| BUILD_DIR --timing [VIDEO]:
the persons benchmark of issue 12. Runs `emo video` on labelled audio-visual clips and on
synthetic split screens made here with ffmpeg (exact truth), and scores:

  - frame-level active speaker detection over every (frame, visible face) pair: precision,
    recall and F1 of "speaking" >= 0.5, and the average precision of the scores ("speaking":
    null counts as 0);
  - speaker-to-person assignment, two measures of the final join (the RTTM written with --rttm,
    named by person; its turns may overlap):
    "single": for each true talker (a side of the screen, or the off-screen voice), the person
    that the RTTM gives most of its single-talker time must be that side's face, or an
    off-screen voice (a person without face); the diarization speaker that covered most of it
    is shown. A talker who never talks alone has no such time and counts as wrong, and so does
    one whose single-talker time two persons' overlapping turns cover equally ("tie").
    "overlap": the talkers and the RTTM's persons are matched one to one so that the labelled
    speaking time (overlap included) that the matched persons' turns cover is largest (the
    optimal mapping of DER scoring, md-eval's), and a talker is right when its match is that
    side's face, or a person without face for the off-screen voice. (A plain "the person
    covering most of the talker's time" cannot work with overlap: a co-talker who speaks
    throughout covers all of it.) Its seconds of labelled talk covered by its match are shown;
  - segment links: the share of single-talker speech time whose segment names the right face
    (or says on_screen false for the off-screen voice).

--rescore (with --keep DIR of an earlier run): scores the clips and emo's outputs kept there again
without making or running anything (to apply a new measure to an earlier build's outputs).

--timing: what the persons add to `emo video`'s time on bench/video.sh's 30 s video (or VIDEO):
REPEAT (5) runs of the default and of --no-persons, alternating, medians of the wall time and
of the CPU time (user + system of the process; steadier than the wall time on a busy machine).

Truth: ../shared/data/av/split_screen/*.speakers.tsv and scenes/drama_two_shot.speakers.tsv
(written by ear and eye, +-0.3 s; frames within 0.3 s of a label boundary are not scored), and
for the synthetic clips the turns as built (GRID: the first and last 0.5 s of a 3 s sentence are
not scored, being its silent lead-in and tail; LRS2: its word timings). A face belongs to the
side of the screen its box centre is on. Nothing here asserts anything: it measures.
"""
import json
import os
import subprocess
import sys
import tempfile

FPS = 25.0
SPEAKING = []  # --speaking mouth|lr_asd passed on to emo video (default: emo's own choice)


# ---- truth -----------------------------------------------------------------------------
class Clip:
    def __init__(self, name, path, sides, talk, dontcare=(), skip_before=0.0):
        self.name, self.path = name, path
        self.sides = sides  # side name -> (x0, x1) as fractions of the width
        self.talk = talk  # talker ("LEFT", "RIGHT", "OFF") -> [(start, end)]
        self.dontcare = list(dontcare)  # [(start, end)] not scored
        self.skip_before = skip_before


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = None
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                continue
            rows.append(dict(zip(header, cells)))
    return rows


def boundaries_dontcare(talk, margin):
    out = []
    for spans in talk.values():
        for s, e in spans:
            out += [(s - margin, s + margin), (e - margin, e + margin)]
    return out


def labelled_clips(data):
    clips = []
    p = os.path.join(data, "av/split_screen/interview_overlap")
    if os.path.exists(p + ".mp4"):
        talk = {"LEFT": [], "RIGHT": []}
        for r in read_tsv(p + ".speakers.tsv"):
            if r["label"].startswith("SPEAKING") and r["panel"] in talk:
                talk[r["panel"]].append((float(r["start_s"]), float(r["end_s"])))
        clips.append(Clip("interview_overlap", p + ".mp4", {"LEFT": (0, .5), "RIGHT": (.5, 1)},
                          talk, boundaries_dontcare(talk, 0.3)))
    p = os.path.join(data, "av/split_screen/debate_interview4")
    if os.path.exists(p + ".mp4"):
        talk = {"LEFT": [], "RIGHT": []}
        for r in read_tsv(p + ".speakers.tsv"):
            talk[r["on_screen"]].append((float(r["start_s"]), float(r["end_s"])))
        # the first 2 s are a phone screen recording (the labels say so): not scored
        clips.append(Clip("debate_interview4", p + ".mp4", {"LEFT": (0, .5), "RIGHT": (.5, 1)},
                          talk, boundaries_dontcare(talk, 0.3), skip_before=2.0))
    p = os.path.join(data, "av/scenes/drama_two_shot")
    if os.path.exists(p + ".mp4"):
        talk = {"LEFT": [], "RIGHT": []}
        for r in read_tsv(p + ".speakers.tsv"):
            talk["LEFT" if r["speaker"] == "MAN" else "RIGHT"].append(
                (float(r["start_s"]), float(r["end_s"])))
        clips.append(Clip("drama_two_shot", p + ".mp4", {"LEFT": (0, .5), "RIGHT": (.5, 1)},
                          talk, boundaries_dontcare(talk, 0.3)))
    return clips


# ---- synthetic split screens --------------------------------------------------------------
def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", path], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def lrs2_words(path):
    """(first word start, last word end) of an LRS2 clip's transcript."""
    t0, t1 = None, None
    with open(path[:-4] + ".txt", encoding="utf-8") as f:
        words = False
        for line in f:
            cells = line.split()
            if cells[:1] == ["WORD"]:
                words = True
                continue
            if words and len(cells) >= 3:
                s, e = float(cells[1]), float(cells[2])
                t0 = s if t0 is None else min(t0, s)
                t1 = e if t1 is None else max(t1, e)
    return t0, t1


RESCORE = []  # --rescore: [True]


def make_split(out, pieces, offscreen, total, size):
    """pieces: side -> [(clip, start, heard)], played in order from start (frozen on the first
    frame before, on the last frame after); offscreen: [(clip, start)] heard, not seen."""
    if RESCORE and os.path.exists(out):
        return
    w, h = size
    args, filt, n = ["ffmpeg", "-v", "error", "-y"], [], 0
    vlabels, alabels = [], []
    for side in ("LEFT", "RIGHT"):
        parts, t = [], 0.0
        for clip, start, heard in pieces[side]:
            d = duration(clip)
            args += ["-i", clip]
            parts.append((n, start - t, d, heard, start))
            t = start + d
            n += 1
        chain = []
        for k, (i, pre, d, heard, start) in enumerate(parts):
            post = (total - (start + d)) if k == len(parts) - 1 else 0.0
            filt.append(f"[{i}:v]fps={FPS},scale={w}:{h}:force_original_aspect_ratio=decrease,"
                        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,trim=duration={d:.3f},"
                        f"setpts=PTS-STARTPTS,tpad=start_mode=clone:start_duration={pre:.3f}:"
                        f"stop_mode=clone:stop_duration={post:.3f}[v{i}]")
            chain.append(f"[v{i}]")
            if heard:
                ms = int(round(start * 1000))
                filt.append(f"[{i}:a]aresample=16000,pan=mono|c0=c0,atrim=duration={d:.3f},"
                            f"adelay={ms}[a{i}]")
                alabels.append(f"[a{i}]")
        if len(chain) > 1:
            filt.append("".join(chain) + f"concat=n={len(chain)}:v=1:a=0[{side}]")
        else:
            filt.append(f"{chain[0]}null[{side}]")
        vlabels.append(f"[{side}]")
    for clip, start in offscreen:
        args += ["-i", clip]
        ms = int(round(start * 1000))
        filt.append(f"[{n}:a]aresample=16000,pan=mono|c0=c0,adelay={ms}[a{n}]")
        alabels.append(f"[a{n}]")
        n += 1
    filt.append("".join(vlabels) + "hstack=inputs=2[v]")
    filt.append("".join(alabels) + f"amix=inputs={len(alabels)}:normalize=0,"
                f"apad=whole_dur={total:.3f}[a]")
    args += ["-filter_complex", ";".join(filt), "-map", "[v]", "-map", "[a]", "-t", f"{total:.3f}",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-ar", "16000", out]
    subprocess.run(args, check=True)


def synthetic_clips(data, tmp):
    g = lambda n: os.path.join(data, "av/grid", n + ".mpg")
    l2 = lambda n: os.path.join(data, "av/lrs2", n + ".mp4")
    clips = []
    if os.path.exists(g("bbaf2n")):
        # turns: LEFT speaks, RIGHT speaks, an off-screen voice, silence; faces frozen (still)
        # when not speaking
        p = os.path.join(tmp, "grid_turns.mp4")
        make_split(p, {"LEFT": [(g("bbaf2n"), 0.0, True)], "RIGHT": [(g("lbax4n"), 3.0, True)]},
                   [(g("pwij3p"), 6.0)], 12.0, (360, 288))
        talk = {"LEFT": [(0.5, 2.5)], "RIGHT": [(3.5, 5.5)], "OFF": [(6.5, 8.5)]}
        dc = [(-0.1, 0.5), (2.5, 3.5), (5.5, 6.5), (8.5, 9.0)]
        clips.append(Clip("synth_grid_turns", p, {"LEFT": (0, .5), "RIGHT": (.5, 1)}, talk, dc))
        # muted lips: while one side is heard, the other side's lips move without sound
        p = os.path.join(tmp, "grid_muted.mp4")
        make_split(p, {"LEFT": [(g("sbia1a"), 0.0, True), (g("lrwp9a"), 3.0, False)],
                       "RIGHT": [(g("swiz3n"), 0.0, False), (g("lwbsza"), 3.0, True)]},
                   [], 6.0, (360, 288))
        talk = {"LEFT": [(0.5, 2.5)], "RIGHT": [(3.5, 5.5)]}
        dc = [(-0.1, 0.5), (2.5, 3.5), (5.5, 6.1)]
        clips.append(Clip("synth_grid_muted", p, {"LEFT": (0, .5), "RIGHT": (.5, 1)}, talk, dc))
    if os.path.exists(l2("00009")):
        a, b, c = l2("00009"), l2("00024"), l2("00022")
        da, db = duration(a), duration(b)
        p = os.path.join(tmp, "lrs2_turns.mp4")
        total = da + db + duration(c) + 1.0
        make_split(p, {"LEFT": [(a, 0.0, True)], "RIGHT": [(b, da, True)]}, [(c, da + db)],
                   total, (320, 320))
        talk, dc = {}, []
        for side, clip, start in (("LEFT", a, 0.0), ("RIGHT", b, da), ("OFF", c, da + db)):
            w0, w1 = lrs2_words(clip)
            talk[side] = [(start + w0, start + w1)]
            dc += [(start + w0 - 0.2, start + w0 + 0.2), (start + w1 - 0.2, start + w1 + 0.2)]
        clips.append(Clip("synth_lrs2_turns", p, {"LEFT": (0, .5), "RIGHT": (.5, 1)}, talk, dc))
    return clips


# ---- scoring ------------------------------------------------------------------------------
def inside(t, spans):
    return any(s <= t < e for s, e in spans)


def average_precision(pairs):
    pairs = sorted(pairs, key=lambda p: -p[0])
    pos = sum(y for _, y in pairs)
    if pos == 0:
        return float("nan")
    tp, ap = 0, 0.0
    for k, (_, y) in enumerate(pairs, 1):
        if y:
            tp += 1
            ap += tp / k
    return ap / pos


def run_emo(build, clip, out):
    width = int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                                "stream=width", "-of", "csv=p=0", clip.path], capture_output=True,
                               text=True, check=True).stdout.split()[0])
    rttm = out[:-len(".jsonl")] + ".rttm"
    if not RESCORE:
        subprocess.run([os.path.join(build, "emo"), "video", "-q", "-o", out, "--rttm", rttm]
                       + SPEAKING + [clip.path], check=True)
    recs = [json.loads(line) for line in open(out, encoding="utf-8")]
    turns = []  # (start, end, person)
    for line in open(rttm, encoding="utf-8"):
        c = line.split()
        if len(c) >= 8 and c[0] == "SPEAKER":
            turns.append((float(c[3]), float(c[3]) + float(c[4]), c[7]))
    return recs, width, turns


def side_of(clip, x, width):
    for side, (a, b) in clip.sides.items():
        if a * width <= x < b * width:
            return side
    return None


def score_clip(clip, recs, width, turns):
    pairs = []  # (score, truth)
    track_side, track_votes = {}, {}
    for r in recs:
        if r["type"] != "frame":
            continue
        t = r["t"]
        for f in r["faces"]:
            side = side_of(clip, f["box"][0] + f["box"][2] / 2, width)
            track_votes.setdefault(f["track_id"], {}).setdefault(side, 0)
            track_votes[f["track_id"]][side] += 1
            if side is None or t < clip.skip_before or inside(t, clip.dontcare):
                continue
            s = f.get("speaking")
            pairs.append((s if s is not None else 0.0, inside(t, clip.talk.get(side, []))))
    for tid, v in track_votes.items():
        track_side[tid] = max(v, key=v.get)
    # single-talker time of each true talker, on a 10 ms grid
    segs = [r for r in recs if r["type"] == "segment"]
    persons = [r for r in recs if r["type"] == "person"]
    end = max([e for sp in clip.talk.values() for _, e in sp] + [0])
    overlap = {}  # talker -> {speaker: seconds}
    given = {}  # talker -> {final person: seconds}
    link_ok = link_all = 0.0
    for k in range(int(end * 100)):
        t = k / 100 + 0.005
        if t < clip.skip_before or inside(t, clip.dontcare):
            continue
        talkers = [x for x, sp in clip.talk.items() if inside(t, sp)]
        if len(talkers) != 1:
            continue
        seg = next((s for s in segs if s["start"] <= t < s["end"]), None)
        if seg is None:
            continue
        x = talkers[0]
        overlap.setdefault(x, {}).setdefault(seg["speaker"], 0.0)
        overlap[x][seg["speaker"]] += 0.01
        for who in {p for s0, e0, p in turns if s0 <= t < e0}:  # overlapping turns: each
            given.setdefault(x, {}).setdefault(who, 0.0)
            given[x][who] += 0.01
        link_all += 0.01
        named = track_side.get(seg.get("track_id")) if seg.get("on_screen") else "OFF"
        link_ok += 0.01 * (named == x)
    assign = {}
    for x in clip.talk:
        if x not in overlap:
            assign[x] = None  # no speech segment covers it
            continue
        spk = max(overlap[x], key=overlap[x].get)
        who = max(given[x], key=given[x].get) if x in given else None
        got = person_side(next((p for p in persons if p["person"] == who), None), track_side)
        if who is not None and sum(v > given[x][who] - 0.005 for v in given[x].values()) > 1:
            got = "tie"  # overlapping turns give two persons as much: not right
        assign[x] = (spk, got, got == x)
    return pairs, assign, (link_ok, link_all), overlap_join(clip, turns, persons, track_side)


def person_side(p, track_side):
    """LEFT/RIGHT for a face person, OFF for a person without face, None if unclear."""
    if p is None:
        return None
    if not p["on_screen"]:
        return "OFF"
    sides = {track_side.get(t) for t in p["track_ids"]}
    return sides.pop() if len(sides) == 1 else None


def overlap_join(clip, turns, persons, track_side):
    """The "overlap" measure: talker -> (matched person's side or None, seconds of the talker's
    labelled time the match covers, its labelled seconds), by the one-to-one mapping of talkers
    to RTTM persons that covers the most labelled speaking time (overlap included)."""
    import itertools
    end = max([e for sp in clip.talk.values() for _, e in sp] + [0])
    talkers = list(clip.talk)
    names = sorted({p for _, _, p in turns})
    cover = {x: {p: 0.0 for p in names} for x in talkers}
    total = {x: 0.0 for x in talkers}
    for k in range(int(end * 100)):
        t = k / 100 + 0.005
        if t < clip.skip_before or inside(t, clip.dontcare):
            continue
        active = {p for s0, e0, p in turns if s0 <= t < e0}
        for x in talkers:
            if inside(t, clip.talk[x]):
                total[x] += 0.01
                for p in active:
                    cover[x][p] += 0.01
    maps = []  # (covered seconds, talker -> person)
    for perm in itertools.permutations(names + [None] * len(talkers), len(talkers)):
        v = sum(cover[x][p] for x, p in zip(talkers, perm) if p is not None)
        maps.append((v, dict(zip(talkers, perm))))
    best = max(v for v, _ in maps)
    optimal = [m for v, m in maps if v > best - 0.005]  # ties within half a grid step
    side = lambda p: person_side(next((q for q in persons if q["person"] == p), None), track_side)
    out = {}
    for x in talkers:
        p = optimal[0].get(x)
        # a tie that could give x another person's side does not count as right
        sides = {side(m.get(x)) for m in optimal}
        out[x] = (side(p) if len(sides) == 1 else "tie", cover[x][p] if p else 0.0, total[x])
    return out


def pos_share(pairs):
    return sum(1 for _, y in pairs if y) / len(pairs) if pairs else 0.0


def prf(pairs):
    tp = sum(1 for s, y in pairs if s >= 0.5 and y)
    fp = sum(1 for s, y in pairs if s >= 0.5 and not y)
    fn = sum(1 for s, y in pairs if s < 0.5 and y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, average_precision(pairs)


def timing(build, video):
    import resource
    import time
    if not os.path.exists(video):
        print(f"no video at {video} (../shared absent?): nothing measured")
        return 0
    repeat = int(os.environ.get("REPEAT", "5"))
    times = {"default": [], "--no-persons": []}
    cpu = {"default": [], "--no-persons": []}
    for _ in range(repeat):
        for label in times:
            extra = [] if label == "default" else [label]
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            subprocess.run([os.path.join(build, "emo"), "video", "-q", "-o", "/dev/null"] + extra
                           + [video], check=True)
            times[label].append(time.monotonic() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[label].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    mcpu = {k: sorted(v)[len(v) // 2] for k, v in cpu.items()}
    print(f"video: {video}; load average: {open('/proc/loadavg').read().split()[:3]}")
    for k in med:
        print(f"emo video {k:14} wall median {med[k]:7.2f} s ("
              + " ".join(f"{x:.2f}" for x in sorted(times[k])) + f"), CPU median {mcpu[k]:7.2f} s ("
              + " ".join(f"{x:.2f}" for x in sorted(cpu[k])) + ")")
    print(f"persons add {100 * (med['default'] / med['--no-persons'] - 1):+.1f} % wall time, "
          f"{100 * (mcpu['default'] / mcpu['--no-persons'] - 1):+.1f} % CPU time (target <= 15 %)")
    return 0


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    build = args[0]
    here = os.path.dirname(os.path.abspath(__file__))
    if "--timing" in args:
        k = args.index("--timing")
        video = args[k + 1] if len(args) > k + 1 else os.path.join(
            here, "..", "..", "shared", "peers", "media", "test_720p30.mp4")
        return timing(build, video)
    data = os.path.join(here, "..", "..", "shared", "data")
    keep, only = None, None
    for i, a in enumerate(args):
        if a == "--data":
            data = args[i + 1]
        if a == "--keep":
            keep = args[i + 1]
        if a == "--only":
            only = args[i + 1]
        if a == "--rescore":
            RESCORE[:] = [True]
        if a == "--speaking":
            SPEAKING[:] = ["--speaking", args[i + 1]]
    if not os.path.isdir(os.path.join(data, "av")):
        print(f"no audio-visual data at {data}/av: nothing measured")
        return 0
    if RESCORE and not (keep and os.path.isdir(keep)):
        print("--rescore needs --keep DIR of an earlier run")
        return 2
    tmp = keep or tempfile.mkdtemp(prefix="emo_persons_")
    os.makedirs(tmp, exist_ok=True)
    clips = labelled_clips(data) + synthetic_clips(data, tmp)
    all_pairs, groups = [], {"labelled": [], "synthetic": []}
    n_ok = n_all = n_ov = 0
    link_ok = link_all = 0.0
    print(f"{'clip':22} {'pairs':>6} {'pos':>4} {'P':>6} {'R':>6} {'F1':>6} {'AP':>6}  link  "
          "single: talker->speaker->person's side; overlap: talker->matched person's side "
          "(seconds of its talk covered / labelled)")
    for c in clips:
        if only and only not in c.name:
            continue
        out = os.path.join(tmp, c.name + ".jsonl")
        recs, width, turns = run_emo(build, c, out)
        pairs, assign, (lo, la), ovj = score_clip(c, recs, width, turns)
        all_pairs += pairs
        groups["synthetic" if c.name.startswith("synth") else "labelled"] += pairs
        p, r, f, ap = prf(pairs)
        desc = []
        for x, a in assign.items():
            n_all += 1
            if a is None:
                desc.append(f"{x}:no segment")
                continue
            n_ok += a[2]
            desc.append(f"{x}->{a[0]}->{a[1] or 'none'}{'' if a[2] else ' WRONG'}")
        for x, (got, cov, tot) in ovj.items():
            n_ov += got == x
            desc.append(f"| {x}->{got or 'none'} {cov:.1f}/{tot:.1f}s{'' if got == x else ' WRONG'}")
        link_ok += lo
        link_all += la
        link = f"{100 * lo / la:4.0f}%" if la else "   -"
        print(f"{c.name:22} {len(pairs):6d} {pos_share(pairs):4.0%} {p:6.3f} {r:6.3f} {f:6.3f} "
              f"{ap:6.3f} {link}  "
              + ", ".join(desc))
    for name, pairs in groups.items():
        if pairs:
            p, r, f, ap = prf(pairs)
            print(f"{'all ' + name:22} {len(pairs):6d} {pos_share(pairs):4.0%} {p:6.3f} {r:6.3f} "
                  f"{f:6.3f} {ap:6.3f}")
    if link_all:
        print(f"segment links right: {100 * link_ok / link_all:.1f}% of single-talker speech time")
    print(f"talkers joined to the right person: {n_ok} of {n_all} (single-talker time), "
          f"{n_ov} of {n_all} (overlap included, one-to-one mapping)")
    if not keep:
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
