"""pyharness.py: what the Python tests (test_python_*.py) share: their arguments from CMake
(--source, --build, --lib, --cli), checks that count failures (also used by the tools' own
tests, tools/test_der.py, test_hungarian.py and test_idscore.py), skipping with exit status 77 and
the reason (numpy or pandas missing, ../shared/data or the models absent), and the import of the
package from the source tree (python/emo) with the library given."""
import argparse
import os
import sys

SKIP = 77
failures = 0
checks = 0


def args():
    p = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--source", default=os.path.dirname(here))
    p.add_argument("--build", default=os.path.join(os.path.dirname(here), "build"))
    p.add_argument("--lib", default=None)
    p.add_argument("--cli", default=None)
    a = p.parse_args()
    a.lib = a.lib or os.path.join(a.build, "libemo.so")
    a.cli = a.cli or os.path.join(a.build, "emo")
    a.data = os.environ.get("EMO_SHARED_DATA") or os.path.join(a.source, "..", "shared", "data")
    return a


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def need_pandas():
    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    except ImportError as e:
        skip("numpy and pandas are needed (Debian: python3-numpy python3-pandas): %s" % e)


def import_emo(a, load=True):
    """The package from the source tree; with load, the library a.lib loaded and checked."""
    sys.path.insert(0, os.path.join(a.source, "python"))
    import emo
    if load:
        emo.load_library(a.lib)
    return emo


def need_data(a, *rel):
    for r in rel:
        if not os.path.exists(os.path.join(a.data, r)):
            skip("%s is absent (real test media live in ../shared/data)" % os.path.join(a.data, r))
    return [os.path.join(a.data, r) for r in rel]


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL: " + what)
    return cond


def done(name):
    print("%s: %d checks, %d failures" % (name, checks, failures))
    sys.exit(1 if failures else 0)
