"""emo: faces, expressions, voices and speakers in photos, video and audio, from Python.

    import emo
    r = emo.analyze_video("talk.mp4")
    r.faces            # pandas DataFrame: one row per face per frame

The analysis runs in emo's C library (libemo.so, found as _lib.py says; its ABI version is
checked when it is loaded, at import when one is found); results come as pandas DataFrames and
numpy arrays (_tables.py says which columns), built from the same JSON Lines records the `emo`
command writes, so emo.read() of a CLI output file gives the same tables without the library.

    analyze_image(paths, **options)   photos: images, faces (+ keypoints)
    analyze_video(path, **options)    frames, faces, events, segments, tracks, summary
    analyze_audio(path, **options)    segments, speakers, summary
    stream_video(path, **options)     the records one at a time (long files), also
                                      stream_audio / stream_image; to_result(records)
    read(path)                        emo's JSON Lines output -> the same Result, no library
    Analyzer(**options)               a loaded model for many calls: .image(paths),
                                      .video(path), .audio(path), .lines(kind, path)
    options()                         the option names and what they do

Options are the fields of emo's params structs (include/emo.h), e.g. detector="full",
expression="ensemble", analysis_fps=5, soundtrack=False, n_threads=2, face_head="mine.head"
(a head file of `emo train`: its labels come as custom_* columns; voice_head likewise, per speech
segment; face_head also sets features=True unless given, as the CLI does); an unknown one raises
TypeError naming it, a bad value ValueError, a value out of range or a failed analysis
emo.EmoError with emo's message. Ctrl-C stops an analysis after the current frame and raises
emo.Interrupted, whose .result holds what was analysed until then.
"""

import json

from ._lib import (ABI_VERSION, Analyzer, EmoError, Interrupted, LibraryError, library_path,
                   load_library, option_names)
from ._read import ReadError, iter_records, read
from ._tables import Builder, Result, to_result

__all__ = ["ABI_VERSION", "Analyzer", "EmoError", "Interrupted", "LibraryError", "ReadError",
           "Result", "analyze_audio", "analyze_image", "analyze_video", "iter_records",
           "library_path", "load_library", "options", "read", "stream_audio", "stream_image",
           "stream_video", "to_result"]
__version__ = "0.1.0"

# Model options each command sets unless told otherwise, as the CLI does: photos need neither
# the face-embedding nor the speech models, audio no face model.
_DEFAULTS = {
    "image": {"reid": False, "voice": False},
    "video": {},
    "audio": {"faces": False, "reid": False},
}


def options():
    """{name: description} of the options the analysis calls accept."""
    return option_names()


def _analyzer(kind, caller, options):
    opts = dict(_DEFAULTS[kind])
    opts.update(options)
    return Analyzer(_caller=caller, **opts)


def _collect(analyzer, kind, paths, keep_going=False):
    """Runs kind on each path and builds one Result; Ctrl-C raises Interrupted with the
    partial result. keep_going: a failed path is an error row (a list of photos, as the CLI
    does), else an EmoError."""
    b = Builder()
    if kind == "image":  # `emo image` opens with one run record; video and audio lines carry it
        b.add(json.loads(analyzer.run_line("image", paths[0] if len(paths) == 1 else None)))
    for path in paths:
        run = analyzer.lines(kind, path)
        it = iter(run)  # held, so that leaving the loop does not close it
        try:
            for line in it:
                b.add(json.loads(line))
        except KeyboardInterrupt:
            run.stop()
            for line in run.rest():  # the frames analysed until it stopped, and the summary
                b.add(json.loads(line))
            raise Interrupted(b.result(interrupted=True)) from None
        except EmoError as e:
            if not keep_going:
                e.result = b.result()  # a stream that broke mid-way: the frames before the break
                raise
    return b.result()


def analyze_image(paths, **options):
    """Analyses photos (a path or a list of paths; JPEG, PNG, WebP). Returns a Result with
    images (one row per photo: file, width, height, face_count, detector; error and message
    for a photo that failed, as the CLI writes it, when paths is a list; a single path that
    fails raises EmoError) and faces (one row per face: file, face,
    x, y, w, h, score, expression_*, dominant, ...), keypoints (n_faces, 6, 2)."""
    with _analyzer("image", "analyze_image", options) as a:
        return a.image(paths)


def analyze_video(path, **options):
    """Analyses a video file or URL: frames (one row per analysed frame), faces (one row per
    face per frame: t, frame, track_id, x, y, w, h, score, keypoints in .keypoints, detected,
    expression_*, dominant, smoothed_*, and whatever emo adds: pose, action units, ...), events,
    segments (the soundtrack's speech), tracks (from the summary), summary (dict)."""
    with _analyzer("video", "analyze_video", options) as a:
        return _collect(a, "video", [path])


def analyze_audio(path, **options):
    """Analyses the speech of an audio file (or a video's soundtrack): segments (start, end,
    speaker, emotion_*, dominant, prosody_*), speakers (from the summary), summary (dict)."""
    with _analyzer("audio", "analyze_audio", options) as a:
        return _collect(a, "audio", [path])


def _stream(kind, caller, path, raw, options):
    a = _analyzer(kind, caller, options)  # option errors now, not at the first next()

    def records():
        with a:
            run = a.lines(kind, path)
            try:
                for line in run:
                    yield line if raw else json.loads(line)
            finally:
                run.close()

    return records()


def stream_video(path, raw=False, **options):
    """A generator over the records of analysing a video, each as soon as it is known: dicts
    ({"type": "frame", ...}, "event", "segment", and last "summary"), or with raw=True the JSON
    lines themselves, byte for byte what `emo video` writes. Memory stays flat for any length;
    emo.to_result(records) makes tables of a chunk. Leaving the loop early stops the analysis."""
    return _stream("video", "stream_video", path, raw, options)


def stream_audio(path, raw=False, **options):
    """As stream_video, for the speech segments of an audio file (`emo audio`'s records)."""
    return _stream("audio", "stream_audio", path, raw, options)


def stream_image(path, raw=False, **options):
    """As stream_video, for one photo: its one record (`emo image`'s line, or its error line)."""
    return _stream("image", "stream_image", path, raw, options)


# Load and check the library now when one is found, so that a mismatched libemo.so is an
# ImportError at once; when none is found, emo.read still works and the analysis calls say
# where they looked.
try:
    load_library()
except LibraryError as _e:
    if not getattr(_e, "missing", False):
        raise
