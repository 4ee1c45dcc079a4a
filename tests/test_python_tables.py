#!/usr/bin/env python3
"""test_python_tables.py: emo.read and the DataFrame conversion (python/emo/_tables.py), with no
C library: a hand-written JSON Lines fixture holding the fields other parts of emo add (persons,
"speaking", "pose", "aus", "intensity", landmarks) must come out as columns and arrays without
code for them; a cut-short last line is dropped with a warning; a damaged middle line, a
non-object record and an over-long line are errors naming the line."""
import io
import json
import os
import tempfile
import warnings

import pyharness as h

a = h.args()
h.need_pandas()
import numpy as np  # noqa: E402

emo = h.import_emo(a, load=False)
fixture = os.path.join(a.source, "tests", "fixtures", "python", "persons.jsonl")

with warnings.catch_warnings():
    warnings.simplefilter("error")  # a whole file reads without a warning
    r = emo.read(fixture)

f = r.faces
h.check(len(f) == 2, "2 face rows, got %d" % len(f))
h.check(len(r.frames) == 2, "2 frame rows (one without faces), got %d" % len(r.frames))
for col in ("t", "frame", "track_id", "person", "x", "y", "w", "h", "score", "detected",
            "expression_happy", "expression_angry", "dominant", "smoothed_neutral", "speaking",
            "pose_pitch", "pose_yaw", "pose_roll", "AU01", "AU06", "AU12", "intensity"):
    h.check(col in f.columns, "faces has column %s (columns: %s)" % (col, list(f.columns)))
h.check("aus_AU12" not in f.columns and "keypoints" not in f.columns, "no aus_ prefix, no keypoint column")
h.check(f["x"].tolist() == [10.5, 200.0] and f["h"].tolist() == [120.0, 110.0], "box columns")
h.check(f["pose_yaw"].tolist() == [12.25, -20.0], "pose_yaw values")
h.check(f["AU12"].tolist() == [0.95, 0.05], "AU12 values")
h.check(f["speaking"].tolist() == [True, False], "speaking values")
h.check(f["person"].tolist() == ["P1", "P2"], "person values")
h.check(f["track_id"].dtype.kind == "i", "track_id is an integer column")

kp = r.keypoints
h.check(isinstance(kp, np.ndarray) and kp.shape == (2, 6, 2), "keypoints (2, 6, 2), got %s" % (
        getattr(kp, "shape", kp),))
h.check(kp[1, 0].tolist() == [220.0, 50.0], "keypoints of the second face")
lm = r.landmarks
h.check(lm.shape == (2, 3, 2) and lm[0, 2].tolist() == [50.0, 71.0] and np.isnan(lm[1]).all(),
        "landmarks: the first face's, NaN for the face without")

ev = r.events
h.check(ev["event"].tolist() == ["track_start", "track_start"] and ev["track_id"].tolist() == [1, 2],
        "events")
sg = r.segments
h.check(len(sg) == 1 and sg["speaker"][0] == "S1" and sg["emotion_calm"][0] == 0.05, "segment")
h.check(sg["prosody_f0_range_0"][0] == 150.0 and sg["prosody_f0_range_1"][0] == 220.5,
        "a short list becomes NAME_0, NAME_1")
p = r.persons
h.check(len(p) == 2 and p["person"].tolist() == ["P1", "P2"], "persons table")
h.check(p["voice_calm"][0] == 0.3 and np.isnan(p["voice_calm"][1]), "person voice columns")
h.check(p["track_ids_0"][0] == 1 and p["track_ids_1"][0] == 3, "track_ids columns")
tu = r.turns
h.check(len(tu) == 2 and tu["person"].tolist() == ["P1", "P2"] and tu["overlap"].tolist() == [True, True],
        "turns table, overlap marked")
h.check(tu["track_id"].tolist() == [1, 2], "turns track_id column")
h.check(r.summary["frames_analysed"] == 2 and not r.interrupted, "summary dict")
h.check(r.tracks["mean_expression_happy"].tolist()[0] == 0.9, "summary tracks table")
h.check("faces" in repr(r), "repr names the tables")
try:
    r.nonexistent
    h.check(False, "an unknown attribute raises AttributeError")
except AttributeError as e:
    h.check("faces" in str(e), "the AttributeError lists the tables")

# A killed run's copy: a cut-short last line is dropped with a warning.
with open(fixture, "rb") as fh:
    whole = fh.read()
lines = whole.splitlines(keepends=True)
cut = b"".join(lines[:7]) + lines[0][:150]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "cut.jsonl")
    with open(path, "wb") as fh:
        fh.write(cut)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        rc = emo.read(path)
    h.check(len(w) == 1 and "cut short" in str(w[0].message) and ":8:" in str(w[0].message),
            "one warning naming line 8, got %s" % [str(x.message) for x in w])
    h.check(len(rc.faces) == 2 and len(rc.persons) == 2 and rc.summary == {} and rc.turns.empty,
            "the 7 whole lines are read (no turn among them: an empty turns table)")

    # A damaged line inside: an error naming the file and line.
    bad = b"".join(lines[:2]) + b'{"type":"event",\n' + b"".join(lines[2:])
    with open(path, "wb") as fh:
        fh.write(bad)
    try:
        emo.read(path)
        h.check(False, "a damaged middle line raises")
    except emo.ReadError as e:
        h.check("cut.jsonl:3" in str(e), "the error names line 3: %s" % e)

    with open(path, "wb") as fh:
        fh.write(lines[0] + b"[1, 2]\n")
    try:
        emo.read(path)
        h.check(False, "a non-object record raises")
    except emo.ReadError as e:
        h.check(":2:" in str(e) and "object" in str(e), "non-object: %s" % e)
    with open(path, "wb") as fh:
        fh.write(lines[0] + b'{"hello": 1}\n')
    try:
        emo.read(path)
        h.check(False, "a record that is not emo's raises")
    except emo.ReadError as e:
        h.check("record 2" in str(e), "foreign record: %s" % e)
    try:
        emo.read(fixture, max_line_bytes=100)
        h.check(False, "an over-long line raises")
    except emo.ReadError as e:
        h.check("max_line_bytes" in str(e), "over-long: %s" % e)
    with open(path, "wb") as fh:
        fh.write(b"")
    h.check(len(emo.read(path).faces) == 0, "an empty file is an empty result")

# Lines from memory, and streaming records into tables by chunks.
r2 = emo.read(io.StringIO(whole.decode()))
h.check(r2.faces.equals(r.faces), "a text file object reads the same")
recs = list(emo.iter_records(fixture))
h.check(len(recs) == 10 and emo.to_result(recs[:4]).faces.equals(r.faces), "iter_records + to_result")

# Photos: `emo image` lines, with an error line.
photo = ('{"file":"a.jpg","width":640,"height":480,"face_count":1,"detector":"short_range","faces":'
         '[{"box":[1.0,2.0,3.0,4.0],"score":0.9,"keypoints":[[1,1],[2,2],[3,3],[4,4],[5,5],[6,6]],'
         '"expression":{"angry":0.1,"disgust":0,"fear":0,"happy":0.9,"sad":0,"surprise":0,'
         '"neutral":0},"dominant":"happy"}]}\n'
         '{"file":"b.jpg","error":"input/output error","message":"b.jpg: cannot open"}\n')
ri = emo.read(io.StringIO(photo))
h.check(ri.images["file"].tolist() == ["a.jpg", "b.jpg"], "images rows")
h.check(ri.images["error"].isna().tolist() == [True, False], "error column")
h.check(ri.faces["file"].tolist() == ["a.jpg"] and ri.faces["face"].tolist() == [0], "photo faces")
h.check(ri.keypoints.shape == (1, 6, 2), "photo keypoints")

# The run record that opens emo's output is kept as Result.run (not a table); output of an
# emo that wrote none reads as {}.
run = {"type": "run", "kind": "video", "file": "talk.mp4", "emo_version": "0.1.0", "duration": 2.5,
       "models": {"blazeface_short": "3b" * 32}, "options": {"detector": "auto"},
       "options_hash": "0123456789abcdef"}
frame = {"type": "frame", "t": 0.0, "frame": 0, "faces": []}
rr = emo.read([json.dumps(run) + "\n", json.dumps(frame) + "\n"])
h.check(rr.run == run and "runs" not in rr.tables and len(rr.frames) == 1,
        "emo.read keeps the run record as Result.run")
h.check(emo.read([json.dumps(frame) + "\n"]).run == {}, "no run record: Result.run is {}")
h.done("test_python_tables")
