#!/usr/bin/env python3
"""identity_label.py: writes the identity ground truth tests/fixtures/identity/*.tsv from emo's
own detections and names given by eye (how: tests/fixtures/identity/README.md).

Step 1 (drafts): for each clip, `emo video --no-voice --no-reid --detect-every 1 --fps F
--annotate NAME.ann.mp4 CLIP > NAME.jsonl` (F = 4 for the sitcom clips, 2 for the others):
the detector's boxes at every analysed frame, with overlap-only ids drawn on the video.
Step 2 (by eye): the annotated frames were looked at (ffmpeg tile mosaics and full-size frames)
and every draft id, or an id over a time range, given the name of the person it shows; false
detections (a window, a picture) are dropped ("-"). Those names are the table NAMES below.
Split screens and the two-shot are named by side (a box centre left or right of a vertical line).
Step 3: this script writes the .tsv files (every analysed frame of the draft is a labelled frame,
so a frame with no labelled face counts emo's faces there as false positives).
Cut times: tests/fixtures/identity/README.md says how they were found; they are in CUTS.
The reel (friends_reel.tsv) is the sitcom clips played one after another in their numbered order
(the scene's own order), so every junction is a real hard cut between two shots of one scene.

Usage: python3 dev/identity_label.py DRAFT_DIR   (DRAFT_DIR holds the NAME.jsonl drafts)"""
import json
import os
import subprocess
import sys

FRIENDS_FPS = 24000.0 / 1001.0
# clip -> (path under shared/data, {draft id: name} or ("x", split, left name, right name))
NAMES = {
    "out1": ("av/friends/out1.mp4", {1: "red_shirt"}),
    "out2": ("av/friends/out2.mp4", {1: "long_hair", 2: "long_hair", 3: "long_hair"}),
    "out3": ("av/friends/out3.mp4", {1: "yellow", 2: "tux"}),
    "out4": ("av/friends/out4.mp4", {1: "black_top"}),
    "out6": ("av/friends/out6.mp4", {1: "long_hair"}),
    "out7": ("av/friends/out7.mp4", {}),
    "out8": ("av/friends/out8.mp4", {1: "blue_shirt"}),
    "out9": ("av/friends/out9.mp4", {1: "red_shirt"}),
    "out11": ("av/friends/out11.mp4", {1: "red_shirt"}),
    "out12": ("av/friends/out12.mp4", {1: "blue_shirt"}),
    "out13": ("av/friends/out13.mp4", {1: "yellow"}),
    "out14": ("av/friends/out14.mp4", {1: "blue_shirt", 2: "tux"}),
    "out16": ("av/friends/out16.mp4", {1: "tux"}),
    "out17": ("av/friends/out17.mp4", {1: "tux"}),
    "out18": ("av/friends/out18.mp4", {1: "black_top"}),
    "out20": ("av/friends/out20.mp4", {1: "blue_shirt", 2: "yellow"}),
    "out21": ("av/friends/out21.mp4", {1: "black_top"}),
    "out22": ("av/friends/out22.mp4", {1: "tux"}),
    "out23": ("av/friends/out23.mp4", {1: "black_top"}),
    "out24": ("av/friends/out24.mp4", {1: "yellow", 2: "tux", 3: "tux", 4: "blue_shirt"}),
    "out25": ("av/friends/out25.mp4", {1: "black_top", 2: "black_top"}),
    "out27": ("av/friends/out27.mp4", {1: "red_shirt"}),
    "out28": ("av/friends/out28.mp4", {1: "blue_shirt", 2: "blue_shirt", 3: "red_shirt"}),
    "out29": ("av/friends/out29.mp4", {1: "red_shirt", 2: "red_shirt", 3: "red_shirt",
                                       4: "blue_shirt", 5: "blue_shirt"}),
    "out31": ("av/friends/out31.mp4", {1: "blue_shirt"}),
    "out33": ("av/friends/out33.mp4", {1: "blue_shirt", 2: "yellow"}),
    "out34": ("av/friends/out34.mp4", {1: "-", 2: "tux"}),
    "out35": ("av/friends/out35.mp4", {1: "slip_dress", 2: "tux"}),
    "out36": ("av/friends/out36.mp4", {1: "slip_dress", 2: "tux", 3: "tux"}),
    "out37": ("av/friends/out37.mp4", {1: "yellow"}),
    "out38": ("av/friends/out38.mp4", {1: "red_shirt", 2: "blue_shirt", 3: "blue_shirt",
                                       4: "blue_shirt"}),
    "out39": ("av/friends/out39.mp4", {1: "slip_dress", 2: "tux"}),
    "out40": ("av/friends/out40.mp4", {1: "tux"}),
    "out41": ("av/friends/out41.mp4", {1: "blue_shirt", 2: "blue_shirt", 3: "blue_shirt",
                                       4: "red_shirt", 5: "blue_shirt"}),
    "interview_overlap": ("av/split_screen/interview_overlap.mp4", ("x", 640, "left", "right")),
    "debate_interview4": ("av/split_screen/debate_interview4.mp4", ("x", 1080, "left", "right")),
    "cbc_debate_001": ("av/split_screen/cbc_debate_001.avi", ("x", 640, "left", "right")),
    "cbc_debate_002": ("av/split_screen/cbc_debate_002.avi", ("x", 640, "left", "right")),
    "drama_two_shot": ("av/scenes/drama_two_shot.mp4", ("x", 1080, "man", "woman")),
    "pedestrians_no_speech": ("av/scenes/pedestrians_no_speech.mp4",
                              {1: "hoodie_boy", 2: "white_hair_woman", 3: "white_hair_woman",
                               4: "man_behind", 5: "hoodie_boy", 6: "red_hair_man",
                               7: "hoodie_boy"}),
}
# Second pass (by eye, tests/fixtures/identity/README.md): clip -> [(time, (x, y, w, h), name)],
# faces the detector did not find at a labelled time but emo's tracker reported there (its box,
# moved by optical flow from a detection at another frame), which a look at a crop of the frame
# shows to be that person's face (every such face of the two clips that scored below 0.9; a
# tracked box that sat off the face, hoodie_boy's at 1.0 s, is not added). The drafts of the
# first pass are not kept, so these were added to the .tsv files as they were (and are written
# by body() when the script runs on the drafts).
EXTRA = {
    "drama_two_shot": [(t, b, "woman") for t, b in (  # her profile, turned away from the camera
        (5.52, (1276, 444, 226, 226)), (6.0, (1302, 395, 249, 249)), (6.52, (1347, 303, 336, 336)),
        (7.0, (1393, 338, 283, 283)), (9.0, (1259, 377, 303, 303)), (9.52, (1353, 348, 336, 336)),
        (13.52, (1357, 323, 354, 354)), (14.52, (1238, 613, 244, 244)),
        (16.52, (1498, 481, 287, 287)), (17.0, (1401, 550, 264, 264)),
        (18.0, (1450, 329, 343, 343)), (18.52, (1420, 374, 322, 322)),
        (19.0, (1471, 401, 300, 300)))],
    "pedestrians_no_speech": [
        (0.52, (748, 724, 125, 125), "scarf_woman"), (0.52, (714, 555, 94, 94), "red_hair_man"),
        (1.0, (621, 563, 105, 105), "red_hair_man"), (1.52, (630, 630, 89, 89), "red_hair_man"),
        (2.0, (200, 691, 86, 86), "white_hair_woman"), (2.0, (536, 613, 104, 104), "red_hair_man"),
        (2.52, (501, 600, 101, 101), "red_hair_man"), (3.0, (474, 564, 115, 115), "red_hair_man"),
    ],
}
# clip -> [(start, end, kind)] (see the README for how they were found)
CUTS = {
    "out41": [(1.25, 2.0, "dissolve")],
    "debate_interview4": [(1.92, 1.92, "hard"), (8.32, 8.32, "hard")],  # overlay ends; reframing
    "cbc_debate_002": [(5.88, 5.88, "hard")],
}
# the reel: the sitcom clips in their order, without the three whose woman in a slip dress may
# be the woman in the black top (names there are not certain across clips)
REEL = ["out%d" % k for k in (1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 20, 21, 22,
                              23, 24, 25, 27, 28, 29, 31, 33, 34, 37, 38, 40, 41)]
HEAD = "emo-identity-gt\t1\n"
NOTE = ("# Identity ground truth (format and how it was made: README.md beside this file).\n"
        "# frame T: a labelled time (s); face X Y W H NAME: a face there (pixels, x y width "
        "height)\n")


def frames_of(draft_dir, name):
    out = []
    with open(os.path.join(draft_dir, name + ".jsonl")) as f:
        for line in f:
            o = json.loads(line)
            if o["type"] == "frame":
                out.append((o["t"], o["faces"]))
    return out


def named(rule, faces):
    res = []
    for f in faces:
        b = f["box"]
        if isinstance(rule, tuple):
            nm = rule[2] if b[0] + b[2] / 2 < rule[1] else rule[3]
        else:
            nm = rule.get(f["track_id"])
            if nm is None:
                raise SystemExit("no name for id %d" % f["track_id"])
        if nm != "-":
            res.append((b, nm))
    return res


def body(frames, rule, offset=0.0, extra=()):
    s = []
    for t, faces in frames:
        s.append("frame\t%.3f\n" % (t + offset))
        for b, nm in named(rule, faces) + [(b, nm) for te, b, nm in extra if abs(te - t) < 0.01]:
            s.append("face\t%.0f\t%.0f\t%.0f\t%.0f\t%s\n" % (b[0], b[1], b[2], b[3], nm))
    return "".join(s)


def frames_start(path):
    """(frame count, first frame's time) of a clip's video: a part of the reel starts where the
    previous one ended (idscore.make_reel sets each part's first frame to 0, and emo's times
    of a clip start at its first frame too)."""
    r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_frames,start_time", "-of", "csv=p=0",
                        path], stdout=subprocess.PIPE, text=True, check=True)
    start, n = r.stdout.strip().split(",")
    return int(n), float(start)


def main(draft_dir, data, out_dir):
    for name, (clip, rule) in NAMES.items():
        with open(os.path.join(out_dir, name + ".tsv"), "w") as f:
            f.write(HEAD + NOTE + "clip\t%s\n" % clip)
            for a, b, kind in CUTS.get(name, []):
                f.write("cut\t%.3f\t%.3f\t%s\n" % (a, b, kind))
            f.write(body(frames_of(draft_dir, name), rule, extra=EXTRA.get(name, ())))
    with open(os.path.join(out_dir, "friends_reel.tsv"), "w") as f:
        f.write(HEAD + NOTE + "# The clips below played one after another (part lines, in "
                "order); times are the reel's.\n")
        offset, parts, cuts, text = 0.0, [], [], []
        for k, name in enumerate(REEL):
            clip, rule = NAMES[name]
            n, start = frames_start(os.path.join(data, clip))
            parts.append("part\t%s\n" % clip)
            if k:
                cuts.append("cut\t%.3f\t%.3f\thard\n" % (offset, offset))
            for a, b, kind in CUTS.get(name, []):
                cuts.append("cut\t%.3f\t%.3f\t%s\n" % (a + offset, b + offset, kind))
            text.append(body(frames_of(draft_dir, name), rule, offset))
            offset += n / FRIENDS_FPS
        f.write("".join(parts) + "".join(cuts) + "".join(text))


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1], os.path.join(here, "..", "..", "shared", "data"),
         os.path.join(here, "..", "tests", "fixtures", "identity"))
