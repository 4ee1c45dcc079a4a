"""_lib.py: the ctypes binding to libemo.so, and the analysis runs over it.

Why this shape: the binding mirrors no C struct. Options go through emo_options (set by field
name from strings, include/emo.h), the model and context are opaque pointers, and results come
back as the JSON Lines records the CLI prints (emo_analyze_*_lines), one ctypes callback per
line. So a field added to a C struct or to a record needs no change here, the records are byte
for byte the CLI's (tests/test_python_api.py checks), and the only layout this file depends on
is the functions' signatures, which emo_abi_version() guards: the library is refused at load
when its ABI is not ABI_VERSION. Turning records into DataFrames is _tables.py's work; parsing a
JSON line costs far less than analysing the frame it describes.

Where the library is looked for: the path given to emo.load_library(path); else the installed
one (_installed.py, written by `make install`), then the build tree next to this package's source
(build/libemo.so), then the system's loader (libemo.so.0 in /usr/local/lib, ...).

A run executes on a worker thread (ctypes releases the GIL) and hands its lines to the caller's
thread through a bounded queue: the caller's thread stays free to receive Ctrl-C, which asks the
library to stop after the current frame or segment (emo_context_interrupt); the records made
until then, summary included, are still delivered."""

import ctypes
import json
import logging
import os
import queue
import threading

ABI_VERSION = 7  # EMO_ABI_VERSION of the include/emo.h this file was written for

_log = logging.getLogger("emo")

LINE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_S = ctypes.c_char_p
_I = ctypes.c_int

# name: (restype, argtypes) of every function used.
_SIGNATURES = {
    "emo_abi_version": (_I, []),
    "emo_status_str": (_S, [_I]),
    "emo_options_create": (_I, [_PP]),
    "emo_options_destroy": (None, [_PP]),
    "emo_options_set": (_I, [_P, _S, _S]),
    "emo_options_name": (_S, [_I]),
    "emo_options_describe": (_S, [_I]),
    "emo_options_last_error": (_S, [_P]),
    "emo_options_set_log": (None, [_P, LOG_FN, _P]),
    "emo_options_model_params": (_P, [_P]),
    "emo_options_context_params": (_P, [_P]),
    "emo_options_run_params": (_P, [_P]),
    "emo_model_load": (_I, [_P, _PP]),
    "emo_model_destroy": (None, [_PP]),
    "emo_context_create": (_I, [_P, _P, _PP]),
    "emo_context_destroy": (None, [_PP]),
    "emo_context_last_error": (_S, [_P]),
    "emo_context_interrupt": (None, [_P]),
    "emo_analyze_file_lines": (_I, [_P, _P, _S, LINE_FN, _P]),
    "emo_analyze_media_lines": (_I, [_P, _P, _S, LINE_FN, _P]),
    "emo_analyze_audio_lines": (_I, [_P, _P, _S, LINE_FN, _P]),
    "emo_run_json_kind": (_P, [_P, _P, _S, _S, ctypes.c_double]),
    "emo_free": (None, [_P]),
}


class EmoError(RuntimeError):
    """An analysis, a model load or an option that emo refused, with emo's message.
    status: emo's status code (negative int); status_name: its name ("malformed input", ...);
    result: for an analysis, the Result of what was analysed before the failure (a video stream
    that broke mid-way), else None."""

    def __init__(self, message, status=None, status_name=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name
        self.result = None


class LibraryError(ImportError):
    """libemo.so is missing, or is not the one this package was written for."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped an analysis. .result holds what was analysed until then (its summary says
    "interrupted": true)."""

    def __init__(self, result=None):
        super().__init__("emo: analysis interrupted")
        self.result = result


_lib = None
_lib_path = None


def _search_paths():
    paths = []
    try:
        from . import _installed  # written by `make install`
        paths.append(_installed.LIBRARY)
    except ImportError:
        pass
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths.append(os.path.join(src, "build", "libemo.so"))
    paths.append("libemo.so.0")  # the system's loader
    return paths


def _open(path):
    """Loads path and checks its ABI; raises LibraryError."""
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise LibraryError("cannot load %s: %s" % (path, e)) from None
    try:
        abi = lib.emo_abi_version
    except AttributeError:
        raise LibraryError("%s is not libemo (no emo_abi_version)" % path) from None
    abi.restype, abi.argtypes = ctypes.c_int, []
    got = abi()
    if got != ABI_VERSION:
        raise LibraryError(
            "%s has emo ABI version %d, but this Python package was written for version %d: "
            "use the libemo.so built from the same emo source as the package (make; make install)"
            % (path, got, ABI_VERSION))
    for name, (res, args) in _SIGNATURES.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise LibraryError("%s lacks %s: it is older than this Python package (rebuild and "
                               "reinstall emo)" % (path, name)) from None
        f.restype, f.argtypes = res, args
    return lib


def load_library(path=None):
    """Loads libemo.so from path, or when path is None from the places listed in this module's
    comment, and checks its ABI version. Returns the path loaded. Raises LibraryError when it is
    missing or was built for another ABI."""
    global _lib, _lib_path
    if path is not None:
        _lib, _lib_path = _open(os.fspath(path)), os.fspath(path)
        return _lib_path
    tried = []
    for p in _search_paths():
        if os.sep in p and not os.path.exists(p):
            tried.append(p + " (absent)")
            continue
        try:
            _lib = _open(p)
        except LibraryError as e:
            if os.sep in p:  # a library that exists but is wrong is an error, not a miss
                raise
            tried.append("%s (%s)" % (p, e))
            continue
        _lib_path = p
        return p
    e = LibraryError("libemo.so not found; tried: %s. Build it (make) or install it (make "
                     "install), or call emo.load_library(PATH)" % "; ".join(tried))
    e.missing = True
    raise e


def lib():
    if _lib is None:
        load_library()
    return _lib


def library_path():
    """The path of the loaded libemo.so (loading it if needed)."""
    lib()
    return _lib_path


def option_names():
    """{name: description} of every option the analysis calls accept (from the library)."""
    L, out, i = lib(), {}, 0
    while True:
        n = L.emo_options_name(i)
        if n is None:
            return out
        out[n.decode()] = (L.emo_options_describe(i) or b"").decode()
        i += 1


def _value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return b"1" if v else b"0"
    if isinstance(v, (str, bytes, os.PathLike)):
        return os.fsencode(v)
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    return repr(v).encode() if isinstance(v, float) else str(v).encode()


_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


class Analyzer:
    """A loaded model and a context with fixed options: use one to analyse many files without
    loading the networks each time. Options are the fields of emo's params structs (emo.options()
    lists them); an unknown one is a TypeError naming it. Not for use by two threads at once."""

    def __init__(self, _caller="Analyzer", **options):
        L = self._L = lib()  # this library for the Analyzer's life, whatever load_library does
        self._run = None  # the Run in progress, if any
        self._opts = ctypes.c_void_p()
        self._model = ctypes.c_void_p()
        self._ctx = ctypes.c_void_p()
        self._busy = threading.Lock()
        self._errors = []
        if options.get("face_head") is not None and "features" not in options:
            # as the CLI's --face-head: a head may read the whole face vector
            options = dict(options, features=True)
        known = option_names()
        for k in options:
            if k not in known:
                raise TypeError("%s() got an unknown option %r (options: %s)" %
                                (_caller, k, ", ".join(sorted(known))))
        if L.emo_options_create(ctypes.byref(self._opts)) != 0:
            raise MemoryError("emo_options_create")
        self._log_fn = LOG_FN(self._on_log)  # kept alive while the library may call it
        L.emo_options_set_log(self._opts, self._log_fn, None)
        for k, v in options.items():
            if L.emo_options_set(self._opts, k.encode(), _value(v)) != 0:
                msg = L.emo_options_last_error(self._opts).decode(errors="replace")
                self.close()
                raise ValueError(msg)
        self._check(L.emo_model_load(L.emo_options_model_params(self._opts),
                                     ctypes.byref(self._model)), "cannot load the models")
        self._check(L.emo_context_create(self._model, L.emo_options_context_params(self._opts),
                                         ctypes.byref(self._ctx)), "cannot create a context")

    def _on_log(self, level, message, user):
        try:
            text = message.decode("utf-8", "replace")
            if level == 0:
                self._errors.append(text)
            _log.log(_LEVELS.get(level, logging.DEBUG), "%s", text)
        except BaseException:  # never let an exception cross into C
            pass

    def _check(self, rc, what):
        if rc == 0:
            return
        L = self._L
        name = L.emo_status_str(rc).decode()
        detail = ""
        if self._ctx:
            detail = (L.emo_context_last_error(self._ctx) or b"").decode("utf-8", "replace")
        if not detail and self._errors:
            detail = "; ".join(self._errors[-3:])
        self._errors = []
        if not self._ctx:
            self.close()
        raise EmoError("%s (%s)%s" % (what, name, ": " + detail if detail else ""), rc, name)

    def close(self):
        """Stops a run in progress, frees the context and the model (also done when the Analyzer
        is collected)."""
        L = getattr(self, "_L", None)
        if L is None:
            return
        run = getattr(self, "_run", None)
        if run is not None:
            run.close()
        if getattr(self, "_ctx", None):
            L.emo_context_destroy(ctypes.byref(self._ctx))
        if getattr(self, "_model", None):
            L.emo_model_destroy(ctypes.byref(self._model))
        if getattr(self, "_opts", None):
            L.emo_options_destroy(ctypes.byref(self._opts))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def run_line(self, kind, path=None):
        """The run record (str) that opens `emo image|video|audio`'s output for this Analyzer's
        model and options: kind, file (path, or null), emo's version, the models with their
        sha256, the options and their hash (duration null: the analysis calls give it)."""
        L = self._L
        p = L.emo_run_json_kind(self._ctx, L.emo_options_run_params(self._opts), kind.encode(),
                                None if path is None else os.fsencode(path), -1.0)
        if not p:
            raise MemoryError("emo_run_json_kind")
        try:
            return ctypes.string_at(p).decode("utf-8", "surrogateescape")
        finally:
            L.emo_free(p)

    def image(self, paths):
        """As emo.analyze_image, with this Analyzer's model and options."""
        from . import _collect
        one = isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__")
        return _collect(self, "image", [paths] if one else list(paths), keep_going=not one)

    def video(self, path):
        """As emo.analyze_video, with this Analyzer's model and options."""
        from . import _collect
        return _collect(self, "video", [path])

    def audio(self, path):
        """As emo.analyze_audio, with this Analyzer's model and options."""
        from . import _collect
        return _collect(self, "audio", [path])

    def lines(self, kind, path):
        """A Run: an iterator over the JSON Lines records (str) of analysing path, kind "image",
        "video" or "audio"; exactly the lines the CLI writes."""
        if not self._ctx:
            raise EmoError("this Analyzer was closed")
        return Run(self, kind, path)


_FUNCS = {"image": "emo_analyze_file_lines", "video": "emo_analyze_media_lines",
          "audio": "emo_analyze_audio_lines"}
_DONE = object()


class Run:
    """One analysis on a worker thread, its lines read from a bounded queue (so a slow reader
    holds the analysis back instead of piling lines up). Iterating yields each line (str) as
    soon as the library writes it. Closing the iterator before the end (break, an exception,
    garbage collection) or Ctrl-C stops the analysis after the current frame; rest() then
    returns the lines written until it stopped."""

    def __init__(self, analyzer, kind, path):
        if kind not in _FUNCS:
            raise ValueError("kind must be image, video or audio, not %r" % kind)
        self._a = analyzer
        self._path = os.fsencode(path)
        self._fn = getattr(analyzer._L, _FUNCS[kind])
        self._q = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._rc = None
        self._exc = None
        self._thread = None
        self._cb = LINE_FN(self._on_line)
        self.stopped = False

    def _on_line(self, ptr, n, user):
        if self._stop.is_set():
            return 1
        try:
            line = ctypes.string_at(ptr, n).decode("utf-8", "surrogateescape")
            while not self._stop.is_set():  # a full queue waits for the reader, or close()
                try:
                    self._q.put(line, timeout=0.2)
                    break
                except queue.Full:
                    pass
        except BaseException:  # never let an exception cross into C
            return 1
        return 1 if self._stop.is_set() else 0

    def _work(self):
        try:
            self._rc = self._fn(self._a._ctx, self._a._L.emo_options_run_params(self._a._opts),
                                self._path, self._cb, None)
        except BaseException as e:  # pragma: no cover (ctypes errors)
            self._exc = e
        finally:
            self._a._busy.release()  # the context is free again
            self._q.put(_DONE)

    def start(self):
        if not self._a._busy.acquire(blocking=False):
            raise RuntimeError("this Analyzer is already running an analysis (one at a time: "
                               "make another Analyzer for a parallel one)")
        self._a._errors = []
        self._a._run = self
        self._thread = threading.Thread(target=self._work, name="emo-analysis", daemon=True)
        self._thread.start()

    def __iter__(self):
        if self._thread is None:
            self.start()
        try:
            while True:
                item = self._q.get()
                if item is _DONE:
                    break
                yield item
        except GeneratorExit:  # the reader left early: stop, drop the rest
            self.close()
            raise
        except BaseException:  # Ctrl-C while waiting: stop; the caller may read rest()
            self.stop()
            raise
        self._finish()

    def stop(self):
        """Asks the analysis to stop after the current frame (emo_context_interrupt); the lines
        that follow (the summary) are kept for rest()."""
        if self._thread is None or self._stop.is_set():
            return
        self.stopped = True
        self._a._L.emo_context_interrupt(self._a._ctx)

    def rest(self):
        """After stop(): waits for the analysis to end and returns its remaining lines."""
        out = []
        if self._thread is None:
            return out
        while True:
            item = self._q.get()
            if item is _DONE:
                break
            out.append(item)
        self._finish(raise_errors=False)
        return out

    def _finish(self, raise_errors=True):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._a._run is self:
                self._a._run = None
        if not raise_errors:
            return
        if self._exc is not None:
            raise self._exc
        if self._rc:
            self._a._check(self._rc, os.fsdecode(self._path))

    def close(self):
        """Stops the analysis if it is running and waits for it, dropping what is left."""
        if self._thread is not None:
            self.stop()
            self._stop.set()
            self.rest()


def parse(line):
    return json.loads(line)
