"""_read.py: emo.read, emo's JSON Lines output (`emo image|video|audio -o FILE`) into a Result,
without the C library: for results made on a cluster or by an earlier run.

A killed run's file may end in a partial line (emo writes whole lines, but a copy may be cut):
a last line that does not parse is dropped with a warning and the records before it are used. A
line that does not parse anywhere else (a hand-edited file) is an error naming the file and the
line. Lines longer than max_line_bytes are refused (an emo record is a few kilobytes)."""

import io
import json
import os
import warnings

from ._tables import Builder

MAX_LINE_BYTES = 64 << 20


class ReadError(ValueError):
    """A JSON Lines file that is not emo's output (or was damaged inside, not at its end)."""


def _lines(source):
    """(name, iterator over byte lines) of a path, a binary or text file, or lines."""
    if isinstance(source, (str, bytes, os.PathLike)):
        f = open(source, "rb")
        return os.fsdecode(source), f, True
    if isinstance(source, io.TextIOBase):
        return getattr(source, "name", "<text>"), source, False
    if hasattr(source, "read") or hasattr(source, "__iter__"):
        return getattr(source, "name", "<lines>"), source, False
    raise TypeError("emo.read takes a path, a file or an iterable of lines, not %s" %
                    type(source).__name__)


def iter_records(source, max_line_bytes=MAX_LINE_BYTES):
    """Yields the records (dicts) of emo's JSON Lines output one at a time (the streaming
    counterpart of emo.read, for files too long to hold as tables)."""
    name, f, owned = _lines(source)
    try:
        pending = None  # (line number, error) of a line that did not parse
        n = 0
        for n, line in enumerate(f, 1):
            if pending is not None:
                raise ReadError("%s:%d: not valid JSON (%s); only a last line may be cut short" %
                                (name, pending[0], pending[1]))
            if len(line) > max_line_bytes:
                raise ReadError("%s:%d: line of %d bytes, over max_line_bytes (%d)" %
                                (name, n, len(line), max_line_bytes))
            if isinstance(line, bytes):
                line = line.decode("utf-8", "surrogateescape")
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                pending = (n, e)
                continue
            if not isinstance(rec, dict):
                raise ReadError("%s:%d: an emo record is a JSON object, got %s" %
                                (name, n, type(rec).__name__))
            yield rec
        if pending is not None:
            warnings.warn("%s:%d: the last line is cut short (%s); it was dropped and the %d "
                          "lines before it were read" % (name, pending[0], pending[1],
                                                         pending[0] - 1),
                          RuntimeWarning, stacklevel=3)
    finally:
        if owned:
            f.close()


def read(source, max_line_bytes=MAX_LINE_BYTES):
    """Loads emo's JSON Lines output (a path, a file object, or an iterable of lines) into a
    Result: the same tables and arrays as emo.analyze_image/video/audio give for the run that
    wrote it. Raises ReadError (a ValueError) for a file damaged before its last line or holding
    something else than emo records; warns (RuntimeWarning) and drops a cut-short last line."""
    b = Builder()
    for n, rec in enumerate(iter_records(source, max_line_bytes)):
        try:
            b.add(rec)
        except ValueError as e:
            raise ReadError("record %d: %s" % (n + 1, e)) from None
    return b.result()
