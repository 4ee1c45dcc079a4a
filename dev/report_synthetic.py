#!/usr/bin/env python3
"""report_synthetic.py: writes a synthetic `emo video` JSON Lines run of a given length to
stdout, in the exact shape of the real output (frames with keypoints, expression and smoothed
probabilities, track events, speech segments, a summary), for measuring `emo report` on long
recordings (page size, time, memory) without analysing hours of video.
The scene: 25 analysed frames a second, 3 faces on screen, one of them replaced by a new track
every 2 minutes (a cut), a speech segment of 1-6 s every few seconds from 3 speakers.
Usage: dev/report_synthetic.py HOURS [--persons] > run.jsonl   (--persons adds the fields of
issue 12: "speaking" and "person" per face, "person" per segment, person records)."""
import json
import math
import random
import sys

EXPR = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
VOICE = EXPR + ["calm"]


def probs(rng, bias):
    v = [rng.random() * 0.2 for _ in EXPR]
    v[bias] += 1.0
    s = sum(v)
    return {k: round(x / s, 4) for k, x in zip(EXPR, v)}


def main():
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    persons = "--persons" in sys.argv
    rng = random.Random(1)
    out = sys.stdout
    fps, n = 25.0, int(hours * 3600 * 25)
    slots = [1, 2, 3]
    next_id, seg_t = 4, 0.5
    starts = {1: 0.0, 2: 0.0, 3: 0.0}
    frames_of = {1: 0, 2: 0, 3: 0}
    for f in range(n):
        t = f / fps
        ev = []
        if f and f % int(120 * fps) == 0:  # a cut: slot f's track ends, a new one starts
            k = (f // int(120 * fps)) % 3
            old = slots[k]
            ev.append({"type": "event", "event": "track_end", "track_id": old,
                       "start": round(starts[old], 3), "end": round(t - 1 / fps, 3)})
            slots[k] = next_id
            starts[next_id] = t
            frames_of[next_id] = 0
            ev.append({"type": "event", "event": "track_start", "track_id": next_id, "start": round(t, 3)})
            next_id += 1
        faces = []
        for k, tid in enumerate(slots):
            x = 120 + 400 * k + 20 * math.sin(t / 3 + k)
            y = 200 + 10 * math.cos(t / 5 + k)
            e = probs(rng, (int(t / 7) + k) % 7)
            face = {"track_id": tid, "box": [round(x, 1), round(y, 1), 180.0, 180.0],
                    "score": round(0.8 + 0.15 * rng.random(), 4),
                    "keypoints": [[round(x + 40 + 20 * j, 1), round(y + 60, 1)] for j in range(6)],
                    "detected": f % 6 == 0, "expression": e,
                    "dominant": max(e, key=e.get), "smoothed": e}
            if persons:
                face["speaking"] = round(rng.random(), 3)
                face["person"] = "P%d" % (k + 1)
            faces.append(face)
            frames_of[tid] += 1
        out.write(json.dumps({"type": "frame", "t": round(t, 3), "frame": f, "face_count": 3,
                              "detector_ran": f % 6 == 0, "faces": faces}, separators=(",", ":")) + "\n")
        for e in ev:
            out.write(json.dumps(e, separators=(",", ":")) + "\n")
        if t >= seg_t + 6:
            end = seg_t + 1 + 5 * rng.random()
            spk = rng.randrange(3)
            emo = {k: round(rng.random() / 8, 4) for k in VOICE}
            seg = {"type": "segment", "start": round(seg_t, 3), "end": round(end, 3),
                   "speaker": "S%d" % (spk + 1), "emotion": emo, "dominant": max(emo, key=emo.get),
                   "prosody": {"f0_mean": 150.0, "f0_range": 80.0, "energy_db": -22.0,
                               "voiced_ratio": 0.6, "rate": 4.0}}
            if persons:
                seg["person"], seg["track_id"] = "P%d" % (spk + 1), slots[spk]
            out.write(json.dumps(seg, separators=(",", ":")) + "\n")
            seg_t = end + 0.3 + rng.random()
    if persons:
        for k in range(3):
            out.write(json.dumps({"type": "person", "person": "P%d" % (k + 1), "track_ids": [],
                                  "speaker": "S%d" % (k + 1), "on_screen": True}) + "\n")
    out.write(json.dumps({"type": "summary", "frames_analysed": n, "frames_no_face": 0,
                          "frames_one_face": 0, "frames_multi_face": n, "duration": round((n - 1) / fps, 3),
                          "no_face_spans": [], "track_count": next_id - 1, "tracks": []}) + "\n")


if __name__ == "__main__":
    main()
