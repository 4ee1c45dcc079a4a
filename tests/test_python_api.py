#!/usr/bin/env python3
"""test_python_api.py: the Python package (python/emo) over libemo.so on real media from
../shared/data, against the CLI built from the same tree: for a video with its soundtrack, a
photo and a meeting recording, the package's raw lines are byte for byte the CLI's output, and
its DataFrames and arrays equal both the CLI's JSON values and emo.read() of the CLI's file.
Also: options (unknown -> TypeError, bad value -> ValueError, out of range -> EmoError with
emo's message), errors as exceptions, leaving a stream early, Ctrl-C (emo.Interrupted with the
partial result), and the README's notebook example, executed."""
import ast
import json
import os
import re
import subprocess
import sys
import tempfile

import pyharness as h

a = h.args()
h.need_pandas()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

video, photo, wav = h.need_data(a, "video/single_face.mp4", "faces/misc/multi_face.jpg",
                                "diarization/sample/sample.wav")
emo = h.import_emo(a)
models = subprocess.run([a.cli, "models", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
if models.returncode != 0:
    h.skip("the model cache is incomplete (emo models fetch)")


def cli(*args):
    """The CLI's JSON Lines output for args (written with -o), as lines of text."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.jsonl")
        p = subprocess.run([a.cli] + list(args[:1]) + ["-q", "-o", out] + list(args[1:]),
                           stderr=subprocess.PIPE)
        with open(out, "rb") as f:
            data = f.read()
    return p.returncode, data


def lines_of(data):
    return data.decode().splitlines()


def same_frame(x, y, what):
    try:
        pd.testing.assert_frame_equal(x, y, check_exact=True)
        return h.check(True, what)
    except AssertionError as e:
        return h.check(False, "%s: %s" % (what, e))


# --- video with its soundtrack ---------------------------------------------------------------
rc, data = cli("video", video)
h.check(rc == 0, "emo video exits 0")
cli_lines = lines_of(data)
raw = list(emo.stream_video(video, raw=True))
h.check(raw == cli_lines, "stream_video(raw=True) is byte for byte `emo video`'s output (%d vs %d "
        "lines)" % (len(raw), len(cli_lines)))
recs = [json.loads(x) for x in cli_lines]
r = emo.analyze_video(video)
with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as f:
    f.write(data)
    f.flush()
    rr = emo.read(f.name)
for t in ("faces", "frames", "events", "segments", "tracks"):
    same_frame(r.tables.get(t, pd.DataFrame()), rr.tables.get(t, pd.DataFrame()),
               "analyze_video().%s equals emo.read(CLI output).%s" % (t, t))
h.check(r.summary == recs[-1] and r.summary["type"] == "summary", "the summary is the CLI's")
h.check(r.run == recs[0] == rr.run and r.run["type"] == "run" and r.run["kind"] == "video" and
        r.run["file"] == video and len(r.run["models"]["blazeface_short"]) == 64 and
        r.run["duration"] > 0, "the run record is the CLI's first line, kept by emo.read")
frames = [x for x in recs if x["type"] == "frame"]
faces = [fc for x in frames for fc in x["faces"]]
h.check(len(r.frames) == len(frames) and len(r.faces) == len(faces) > 0,
        "one row per frame (%d) and per face per frame (%d)" % (len(frames), len(faces)))
h.check(r.faces["t"].tolist() == [x["t"] for x in frames for _ in x["faces"]], "faces t")
h.check(r.faces["track_id"].tolist() == [fc["track_id"] for fc in faces], "faces track_id")
h.check(r.faces["x"].tolist() == [fc["box"][0] for fc in faces] and
        r.faces["h"].tolist() == [fc["box"][3] for fc in faces], "faces box")
h.check(r.faces["score"].tolist() == [fc["score"] for fc in faces], "faces score")
with_expr = [fc for fc in faces if "expression" in fc]
h.check(r.faces["expression_happy"].dropna().tolist() == [fc["expression"]["happy"] for fc in with_expr],
        "faces expression_happy")
h.check(r.faces["dominant"].dropna().tolist() == [fc["dominant"] for fc in with_expr], "dominant")
h.check(np.array_equal(r.keypoints, np.array([fc["keypoints"] for fc in faces], dtype=float)),
        "keypoints array (%s) equals the JSON's" % (r.keypoints.shape,))
segs = [x for x in recs if x["type"] == "segment"]
h.check(len(r.segments) == len(segs), "one row per speech segment (%d)" % len(segs))
events = [x for x in recs if x["type"] == "event"]
h.check(r.events["event"].tolist() == [x["event"] for x in events], "events")

# Leaving a stream early stops the analysis; the next one runs.
got = []
for rec in emo.stream_video(video, soundtrack=False):
    got.append(rec)
    if len(got) == 3:
        break
h.check(len(got) == 3 and got[0]["type"] == "run" and got[1]["type"] == "frame",
        "a stream left after 3 records (the run record, then frames)")
with emo.Analyzer(voice=False) as an:
    it = iter(an.lines("video", video))
    next(it)
    it.close()
    n = sum(1 for _ in an.lines("video", video))
    h.check(n > 3, "an Analyzer runs again after a stream was closed early (%d lines)" % n)
    same_frame(an.video(video).faces, emo.analyze_video(video, voice=False).faces,
               "Analyzer.video = analyze_video with the same options")
    same_frame(an.image(photo).faces, emo.analyze_image(photo).faces,
               "Analyzer.image = analyze_image (a model with more networks gives the same faces)")

# --- a photo, options ------------------------------------------------------------------------
rc, data = cli("image", photo)
h.check(rc == 0, "emo image exits 0")
raw = list(emo.stream_image(photo, raw=True))
h.check(raw == lines_of(data)[1:], "stream_image(raw=True) is `emo image`'s line")
ri = emo.analyze_image(photo)
h.check(ri.run == json.loads(lines_of(data)[0]) and ri.run["kind"] == "image",
        "analyze_image's run record is `emo image`'s first line")
rec = json.loads(lines_of(data)[1])
h.check(len(ri.faces) == rec["face_count"] >= 2, "a row per face (%d)" % rec["face_count"])
h.check(ri.faces["score"].tolist() == [fc["score"] for fc in rec["faces"]], "photo scores")
h.check(ri.faces["expression_neutral"].tolist() ==
        [fc["expression"]["neutral"] for fc in rec["faces"]], "photo expression_neutral")
h.check(ri.images["face_count"].tolist() == [rec["face_count"]], "images row")
same_frame(ri.faces, emo.read(data.decode().splitlines()).faces, "photo faces = emo.read(CLI)")

rc, data = cli("image", "--detector", "full", "--threshold", "0.6", photo)
rf = emo.analyze_image(photo, detector="full", score_threshold=0.6)
same_frame(rf.faces, emo.read(lines_of(data)).faces,
           "detector='full', score_threshold=0.6 give `--detector full --threshold 0.6`")
h.check(rf.images["detector"].tolist() == ["full_range"], "the full-range detector ran")

missing = os.path.join(tempfile.gettempdir(), "emo-no-such-photo.jpg")
rl = emo.analyze_image([photo, missing])
h.check(rl.images["error"].isna().tolist() == [True, False], "a list of photos: an error row")
try:
    emo.analyze_image(missing)
    h.check(False, "a missing photo raises")
except emo.EmoError as e:
    h.check(missing in str(e) and e.status < 0 and e.status_name, "EmoError with emo's message: %s" % e)
try:
    emo.analyze_video(missing + ".mp4", voice=False)
    h.check(False, "a missing video raises")
except emo.EmoError as e:
    h.check(missing in str(e) and e.result is not None and len(e.result.frames) == 0,
            "video EmoError, with the (empty) result before the failure: %s" % e)
try:
    emo.analyze_image(photo, treshold=0.5)
    h.check(False, "an unknown option raises TypeError")
except TypeError as e:
    h.check("'treshold'" in str(e) and "analyze_image" in str(e), "TypeError names it: %s" % e)
try:
    emo.analyze_video(video, detector="medium")
    h.check(False, "a bad enum value raises ValueError")
except ValueError as e:
    h.check("detector" in str(e) and "medium" in str(e), "ValueError: %s" % e)
try:
    emo.analyze_image(photo, score_threshold=2)
    h.check(False, "an out-of-range value raises EmoError")
except emo.EmoError as e:
    h.check("score_threshold" in str(e) and e.status_name == "invalid argument",
            "out of range: %s" % e)
try:
    emo.analyze_image(photo, max_faces=0)
    h.check(False, "a context option out of range raises EmoError")
except emo.EmoError as e:
    h.check("max_faces" in str(e), "context option out of range: %s" % e)
try:
    emo.analyze_image(photo, models_dir="/nonexistent/emo-models")
    h.check(False, "a missing model cache raises EmoError")
except emo.EmoError as e:
    h.check(e.status_name == "model missing" and "/nonexistent/emo-models" in str(e),
            "missing models: %s" % e)
opts = emo.options()
h.check("analysis_fps" in opts and "detector" in opts and "score_threshold" in opts, "options()")

# --- speech ----------------------------------------------------------------------------------
rc, data = cli("audio", wav)
h.check(rc == 0, "emo audio exits 0")
raw = list(emo.stream_audio(wav, raw=True))
h.check(raw == lines_of(data), "stream_audio(raw=True) is `emo audio`'s output")
ra = emo.analyze_audio(wav)
same_frame(ra.segments, emo.read(lines_of(data)).segments, "analyze_audio().segments = emo.read(CLI)")
segs = [json.loads(x) for x in lines_of(data)][1:-1]
h.check(ra.run == json.loads(lines_of(data)[0]) and ra.run["kind"] == "audio" and
        "emo_ser_v1" in ra.run["models"], "analyze_audio's run record is `emo audio`'s")
h.check(len(ra.segments) == len(segs) > 1 and ra.segments["speaker"].tolist() ==
        [s["speaker"] for s in segs], "a row per segment with its speaker (%d)" % len(segs))
h.check(ra.segments["prosody_f0_mean"].tolist() == [s["prosody"]["f0_mean"] for s in segs], "f0")
h.check(len(ra.speakers) >= 2 and "talk_time" in ra.speakers.columns, "speakers table")

# --- Ctrl-C: a SIGINT during the analysis stops it after the current frame --------------------
script = r'''
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
import emo
emo.load_library(sys.argv[2])

class SignalAtFrame2(emo.Builder):  # Ctrl-C while the third frame is read
    def add(self, rec):
        super().add(rec)
        if rec.get("frame") == 2:
            os.kill(os.getpid(), signal.SIGINT)

emo.Builder = SignalAtFrame2
try:
    emo.analyze_video(sys.argv[3], voice=False)
    print(json.dumps({"interrupted": False}))
except emo.Interrupted as e:
    r = e.result
    print(json.dumps({"interrupted": r.interrupted, "summary": r.summary.get("interrupted"),
                      "frames": r.frames["frame"].tolist()}))
    r2 = emo.analyze_image(sys.argv[4])  # the package still works
    print(json.dumps({"after": len(r2.faces)}))
'''
p = subprocess.run([sys.executable, "-c", script, os.path.join(a.source, "python"), a.lib, video,
                    photo], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
out = p.stdout.decode().splitlines()
h.check(p.returncode == 0 and len(out) == 2, "the interrupted run exits cleanly: rc %d, %s %s" %
        (p.returncode, out, p.stderr.decode()[-2000:]))
if out:
    res = json.loads(out[0])
    h.check(res.get("interrupted") is True and res.get("summary") is True,
            "emo.Interrupted, summary says interrupted: %s" % res)
    fr = res.get("frames", [])
    h.check(2 <= len(fr) < len(frames) and fr == list(range(len(fr))),
            "the frames analysed until the signal (%d of %d)" % (len(fr), len(frames)))
h.check(len(out) == 2 and json.loads(out[1])["after"] > 0, "analysis works after an interrupt")

# --- heads: face_head=PATH, voice_head=PATH give the CLI's --face-head / --voice-head ---------
face_head = os.path.join(a.source, "models/face_expression/emo_face_kdef_v1.head")
with tempfile.TemporaryDirectory() as tmp:
    calm, angry = [os.path.join(a.data, "ser/ravdess/Actor_01/03-01-%s-01-01-01.flac" % k)
                   for k in ("01-01", "05-02")]
    vhead = os.path.join(tmp, "voice.head")
    if all(os.path.exists(x) for x in (calm, angry)):
        with open(os.path.join(tmp, "v.csv"), "w") as f:
            f.write("file,label\n%s,neutral\n%s,angry\n" % (calm, angry))
        subprocess.run([a.cli, "train", os.path.join(tmp, "v.csv"), "-o", vhead, "--kind", "ncm",
                        "--no-cv", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rc, data = cli("image", "--face-head", face_head, photo)
    want = [fc["custom"] for fc in json.loads(lines_of(data)[1])["faces"]]
    rh = emo.analyze_image(photo, face_head=face_head)
    h.check(rc == 0 and len(want) >= 2 and
            rh.faces["custom_happy"].tolist() == [c["happy"] for c in want] and
            rh.faces["custom_dominant"].tolist() ==
            [max(c, key=c.get) for c in want], "face_head=PATH gives `--face-head`'s answers "
            "(%d faces)" % len(want))
    if h.check(os.path.exists(vhead), "emo train made a voice head for the test"):
        rc, data = cli("audio", "--whole", "--voice-head", vhead, angry)
        segs = [x for x in map(json.loads, lines_of(data)) if x["type"] == "segment"]
        rv = emo.analyze_audio(angry, audio_whole=True, voice_head=vhead)
        h.check(rc == 0 and len(segs) == 1 and "custom" in segs[0] and
                rv.segments["custom_angry"].tolist() == [segs[0]["custom"]["angry"]] and
                rv.segments["custom_dominant"].tolist() == ["angry"],
                "voice_head=PATH gives `--voice-head`'s answer, angry for its angry clip: %s" %
                (segs[0].get("custom") if segs else None,))
        try:
            emo.analyze_image(photo, face_head=vhead)
            h.check(False, "a voice head as face_head is refused")
        except emo.EmoError as e:
            h.check("face" in str(e), "a voice head as face_head: EmoError %s" % e)
    try:
        emo.analyze_image(photo, face_head=os.path.join(tmp, "none.head"))
        h.check(False, "a missing head file is refused")
    except ValueError as e:
        h.check("none.head" in str(e), "a missing head file: ValueError naming it (%s)" % e)

# --- the README's notebook example -----------------------------------------------------------
with open(os.path.join(a.source, "README.md")) as f:
    readme = f.read()
m = re.search(r"<!-- python example.*?-->\s*```python\n(.*?)```", readme, re.S)
if h.check(m is not None, "README has the Python example"):
    code = m.group(1)
    h.check(len([x for x in code.splitlines() if x.strip() and not x.startswith("#")]) <= 3,
            "three lines to a DataFrame")
    cwd = os.getcwd()
    os.chdir(a.source)  # its paths are relative to the repository, as the README's others
    try:
        ns = {}
        tree = ast.parse(code, "README.md")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "README.md", "exec"), ns)
        shown = eval(compile(ast.Expression(last.value), "README.md", "eval"), ns) if last else None
        h.check(isinstance(shown, pd.DataFrame) and len(shown) > 0,
                "the example shows a non-empty DataFrame: %r" % (shown,))
    finally:
        os.chdir(cwd)
h.done("test_python_api")
