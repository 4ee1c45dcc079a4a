"""_tables.py: emo's JSON Lines records into pandas DataFrames and numpy arrays, without the C
library (emo.read uses it on results made elsewhere; the analysis calls on the records they
stream).

The conversion is generic, so fields that emo adds later appear as columns with no change here:
  - a record's "type" picks its table: frame -> frames (and its faces -> faces), event ->
    events, segment -> segments, person -> persons, turn -> turns, any other X -> "Xs"; a line
    without a type is a photo (`emo image`): images, and its faces -> faces; the summary is kept
    as a dict and its lists of objects become tables too (tracks, speakers, no_face_spans, ...);
  - nested objects are flattened with their key as prefix ("expression": {"happy": p} ->
    expression_happy, "pose": {"yaw": y} -> pose_yaw), except action units ("aus": {"AU12": v}
    -> AU12), whose names already say what they are;
  - "box": [x, y, w, h] -> columns x, y, w, h (as emo's CSV); another short list of numbers ->
    NAME_0, NAME_1, ...; a list of points (keypoints, landmarks) or a long vector (embedding)
    goes to a numpy array, one row per table row (NaN where a row has none), in
    Result.arrays[NAME] and as the attribute result.NAME.
"""

import numpy as np
import pandas as pd

# Objects whose keys become columns as they are (action units are named AU01, AU12, ...).
UNPREFIXED = {"aus"}
# Lists of numbers at most this long become columns; longer ones (embeddings) become arrays.
MAX_LIST_COLUMNS = 8
BOX_COLUMNS = ("x", "y", "w", "h")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flatten(rec, skip=(), prefix="", row=None, arrays=None):
    """Flattens one record (dict) into (row, arrays): row maps column -> scalar, arrays maps
    name -> numpy array for lists of points and long vectors."""
    row = {} if row is None else row
    arrays = {} if arrays is None else arrays
    for k, v in rec.items():
        if k in skip:
            continue
        name = prefix + k
        if isinstance(v, dict):
            flatten(v, (), "" if k in UNPREFIXED else name + "_", row, arrays)
        elif isinstance(v, list):
            if k == "box" and len(v) == 4 and all(_is_number(x) for x in v):
                for c, x in zip(BOX_COLUMNS, v):
                    row[prefix + c] = x
            elif all(_is_number(x) or x is None for x in v) and len(v) <= MAX_LIST_COLUMNS:
                for i, x in enumerate(v):
                    row["%s_%d" % (name, i)] = x
            elif all(isinstance(x, dict) for x in v):
                row[name] = v  # a nested table (kept as it is)
            else:
                try:
                    arrays[name] = np.asarray(v, dtype=np.float64)
                except (TypeError, ValueError):
                    row[name] = v
        else:
            row[name] = v
    return row, arrays


def _stack(per_row, n):
    """Stacks the per-row arrays of one name into one array (rows without one: NaN), or a list
    when their shapes differ."""
    shapes = {a.shape for a in per_row.values()}
    if len(shapes) != 1:
        return [per_row.get(i) for i in range(n)]
    shape = shapes.pop()
    out = np.full((n,) + shape, np.nan)
    for i, a in per_row.items():
        out[i] = a
    return out


class _Table:
    """Rows and arrays of one table while records arrive."""

    def __init__(self):
        self.rows = []
        self.arrays = {}  # name -> {row index: array}

    def add(self, row, arrays):
        i = len(self.rows)
        self.rows.append(row)
        for k, a in arrays.items():
            self.arrays.setdefault(k, {})[i] = a

    def frame(self):
        return pd.DataFrame.from_records(self.rows) if self.rows else pd.DataFrame()


class Result:
    """What an analysis (or emo.read) gives: tables (pandas DataFrames) by name, arrays (numpy)
    aligned with the faces table's rows, and the summary record as a dict.

    result.faces      one row per face per frame (video) or per face per photo (image)
    result.frames     one row per analysed frame (video)
    result.events     track_start / track_end / no_face events (video)
    result.segments   one row per speech segment (audio, or a video's soundtrack)
    result.persons    one row per person record, when emo writes them
    result.images     one row per photo (image), with error and message for failures
    result.tracks, result.speakers, ...  the summary's lists
    result.keypoints  (n_faces, 6, 2) array aligned with result.faces; also landmarks, ...
    result.summary    the summary record (dict), {} when there was none
    result.run        the run record that opens emo's output (dict: kind, file, duration,
                      emo_version, models with their sha256, options, options_hash), {} when
                      there was none (output of emo before it wrote one)
    Tables that a run did not produce are empty DataFrames.
    """

    def __init__(self, tables, arrays, summary, interrupted=False, run=None):
        self.tables = tables
        self.arrays = arrays
        self.summary = summary
        self.interrupted = interrupted
        self.run = run if run is not None else {}

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        tables = self.__dict__.get("tables", {})
        arrays = self.__dict__.get("arrays", {})
        if name in tables:
            return tables[name]
        if name in arrays:
            return arrays[name]
        if name in ("faces", "frames", "events", "segments", "persons", "turns", "images"):
            return pd.DataFrame()
        raise AttributeError("emo.Result has no table or array %r (tables: %s; arrays: %s)" %
                             (name, ", ".join(sorted(tables)), ", ".join(sorted(arrays))))

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.tables) | set(self.arrays))

    def __repr__(self):
        parts = ["%s: %d rows" % (k, len(v)) for k, v in self.tables.items()]
        parts += ["%s: %s" % (k, getattr(v, "shape", len(v))) for k, v in self.arrays.items()]
        if self.interrupted:
            parts.append("interrupted")
        return "<emo.Result %s>" % ("; ".join(parts) or "empty")


class Builder:
    """Turns records (dicts, in file order) into a Result."""

    def __init__(self):
        self.tables = {}
        self.summary = {}
        self.run = {}

    def _table(self, name):
        t = self.tables.get(name)
        if t is None:
            t = self.tables[name] = _Table()
        return t

    def add(self, rec):
        if not isinstance(rec, dict):
            raise ValueError("an emo record is a JSON object, got %s" % type(rec).__name__)
        kind = rec.get("type")
        if kind == "summary":
            self.summary = rec
            return
        if kind == "run":  # what made the output: the first run record is kept
            if not self.run:
                self.run = rec
            return
        if kind is None and "faces" not in rec and "error" not in rec:
            raise ValueError("not an emo record (no \"type\", no \"faces\"): %.80s" % rec)
        if kind is None or kind == "frame":  # a photo, or a video frame, with its faces
            keys = ("file",) if kind is None else ("t", "frame")
            head, arrays = flatten(rec, skip=("faces", "type"))
            if kind is None:
                self._table("images").add(head, arrays)
            else:
                self._table("frames").add(head, arrays)
            faces = self._table("faces")
            for i, face in enumerate(rec.get("faces") or []):
                if not isinstance(face, dict):
                    raise ValueError("a face is a JSON object, got %.80s" % face)
                row = {k: rec[k] for k in keys if k in rec}
                if kind is None:
                    row["face"] = i
                row, arrays = flatten(face, row=row)
                faces.add(row, arrays)
            return
        name = kind if str(kind).endswith("s") else "%ss" % kind
        row, arrays = flatten(rec, skip=("type",))
        self._table(name).add(row, arrays)

    def result(self, interrupted=None):
        tables, arrays = {}, {}
        for name, t in self.tables.items():
            tables[name] = t.frame()
            for k, per_row in t.arrays.items():
                key = k if k not in arrays else "%s_%s" % (name, k)
                arrays[key] = _stack(per_row, len(t.rows))
        for k, v in self.summary.items():
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and k not in tables:
                tables[k] = pd.DataFrame.from_records([flatten(x)[0] for x in v])
        if interrupted is None:
            interrupted = bool(self.summary.get("interrupted", False))
        return Result(tables, arrays, self.summary, interrupted, self.run)


def to_result(records):
    """A Result from records (dicts as emo writes them, e.g. a chunk of emo.stream_video)."""
    b = Builder()
    for r in records:
        b.add(r)
    return b.result()
