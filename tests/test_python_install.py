#!/usr/bin/env python3
"""test_python_install.py: `cmake --install` of the build into a temporary prefix gives a
working installation: libemo.so exporting only the public emo_* API (nm -D), emo.h, an emo.pc
with which a C program compiles, links and runs, the CLI, and the Python package that finds the
installed library by itself. A libemo.so of another ABI version (a stub built here) is refused
with a clear message, at import when it is the one found and by emo.load_library(path)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pyharness as h

a = h.args()
h.need_pandas()  # the package imports them
for tool in ("cmake", "nm", "cc", "pkg-config"):
    if not shutil.which(tool):
        h.skip("%s is not installed" % tool)
with open(os.path.join(a.source, "include", "emo.h")) as f:
    header = f.read()
abi = int(re.search(r"#define EMO_ABI_VERSION (\d+)", header).group(1))
version = re.search(r'#define EMO_VERSION_STRING "([^"]+)"', header).group(1)
sys.path.insert(0, os.path.join(a.source, "python"))
import emo._lib as binding  # noqa: E402

h.check(binding.ABI_VERSION == abi, "python/emo/_lib.py ABI_VERSION (%d) is emo.h's "
        "EMO_ABI_VERSION (%d): update the binding with the header" % (binding.ABI_VERSION, abi))

with tempfile.TemporaryDirectory() as prefix:
    p = subprocess.run(["cmake", "--install", a.build, "--prefix", prefix],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not h.check(p.returncode == 0, "cmake --install: %s" % p.stdout.decode()[-2000:]):
        h.done("test_python_install")
    libdirs = [d for d in ("lib", "lib64", "lib/x86_64-linux-gnu")
               if os.path.exists(os.path.join(prefix, d, "libemo.so.0"))]
    if not h.check(len(libdirs) == 1, "libemo.so.0 installed under lib"):
        h.done("test_python_install")
    libdir = os.path.join(prefix, libdirs[0])
    lib = os.path.join(libdir, "libemo.so")
    h.check(os.path.exists(lib), "libemo.so (for -lemo)")
    h.check(os.path.exists(os.path.join(prefix, "include", "emo.h")), "emo.h installed")
    h.check(os.access(os.path.join(prefix, "bin", "emo"), os.X_OK), "the CLI installed")
    v = subprocess.run([os.path.join(prefix, "bin", "emo"), "version"], stdout=subprocess.PIPE)
    h.check(v.stdout.decode().strip() == "emo " + version, "the installed CLI runs")

    # Only the public API is exported, and all of it.
    nm = subprocess.run(["nm", "-D", "--defined-only", lib], stdout=subprocess.PIPE)
    syms = [ln.split()[-1] for ln in nm.stdout.decode().splitlines() if ln.strip()]
    syms = [s for s in syms if s.split("@")[0] not in ("_init", "_fini")]
    h.check(syms and all(s.startswith("emo_") for s in syms),
            "nm -D: only emo_* exported (others: %s)" % [s for s in syms if not s.startswith("emo_")][:10])
    public = set(re.findall(r"\b(emo_[a-z0-9_]+)\(", re.sub(r"/\*.*?\*/", "", header, flags=re.S)))
    public -= {"emo_log_fn", "emo_line_fn"}
    missing = sorted(public - set(syms))
    h.check(not missing, "every function of emo.h is exported (missing: %s)" % missing)

    # pkg-config and a C program against the installation.
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"))
    pc = subprocess.run(["pkg-config", "--cflags", "--libs", "emo"], env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mv = subprocess.run(["pkg-config", "--modversion", "emo"], env=env, stdout=subprocess.PIPE)
    h.check(pc.returncode == 0 and "-lemo" in pc.stdout.decode(), "pkg-config emo: %s" % pc.stdout)
    h.check(mv.stdout.decode().strip() == version, "emo.pc's version is EMO_VERSION_STRING")
    src = os.path.join(prefix, "t.c")
    with open(src, "w") as f:
        f.write('#include <emo.h>\n#include <stdio.h>\n'
                'int main(void) {\n  emo_options *o = NULL;\n'
                '  if (emo_options_create(&o) != EMO_OK) return 1;\n'
                '  int bad = emo_options_set(o, "detector", "medium");\n'
                '  printf("%d %d %s\\n", emo_abi_version(), bad, emo_options_last_error(o));\n'
                '  emo_options_destroy(&o);\n  return o != NULL;\n}\n')
    exe = os.path.join(prefix, "t")
    cc = subprocess.run(["cc", src, "-o", exe] + pc.stdout.decode().split(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if h.check(cc.returncode == 0, "a C program builds with pkg-config: %s" % cc.stdout.decode()):
        run = subprocess.run([exe], env=dict(env, LD_LIBRARY_PATH=libdir), stdout=subprocess.PIPE)
        h.check(run.returncode == 0 and run.stdout.decode().startswith("%d -1 option detector" % abi),
                "it runs on the installed library: %r" % run.stdout)

    # The installed Python package finds the installed library (no path given).
    pydirs = [os.path.join(r, "") for r, ds, _ in os.walk(prefix) if "emo" in ds and
              os.path.exists(os.path.join(r, "emo", "_installed.py"))]
    if h.check(len(pydirs) == 1, "the Python package installed with _installed.py"):
        code = "import emo._lib as b; print(b.library_path())"
        env_py = dict(os.environ, PYTHONPATH=pydirs[0])
        q = subprocess.run([sys.executable, "-c", code], env=env_py, cwd=prefix,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        h.check(q.returncode == 0 and q.stdout.decode().strip() == os.path.join(libdir, "libemo.so.0"),
                "the installed package loads the installed library: %s %s" % (q.stdout, q.stderr))

        # A libemo.so of another ABI where the package looks: a clear error at import.
        stub_c = os.path.join(prefix, "stub.c")
        with open(stub_c, "w") as f:
            f.write("int emo_abi_version(void) { return %d; }\n" % (abi + 40))
        real = os.path.realpath(os.path.join(libdir, "libemo.so.0"))
        os.remove(os.path.join(libdir, "libemo.so.0"))
        mk = subprocess.run(["cc", "-shared", "-fPIC", stub_c, "-o", os.path.join(libdir, "libemo.so.0")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        h.check(mk.returncode == 0, "stub library builds: %s" % mk.stdout)
        q = subprocess.run([sys.executable, "-c", "import emo"], env=env_py, cwd=prefix,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = q.stderr.decode()
        h.check(q.returncode != 0 and "LibraryError" in err and "ABI version %d" % (abi + 40) in err
                and "written for version %d" % abi in err, "import emo refuses it: %s" % err[-600:])
        try:
            binding.load_library(os.path.join(libdir, "libemo.so.0"))
            h.check(False, "load_library refuses the stub")
        except ImportError as e:
            h.check("ABI version %d" % (abi + 40) in str(e), "load_library's message: %s" % e)
        # A library without the binding's functions (the right ABI, too old): named.
        with open(stub_c, "w") as f:
            f.write("int emo_abi_version(void) { return %d; }\n" % abi)
        stub2 = os.path.join(prefix, "libold.so")
        subprocess.run(["cc", "-shared", "-fPIC", stub_c, "-o", stub2])
        try:
            binding.load_library(stub2)
            h.check(False, "load_library refuses a library without emo_options_*")
        except ImportError as e:
            h.check("lacks emo_" in str(e), "an old library's message: %s" % e)
        try:
            binding.load_library(os.path.join(prefix, "nonexistent.so"))
            h.check(False, "a missing path raises")
        except ImportError as e:
            h.check("cannot load" in str(e), "missing path: %s" % e)
        del real
h.done("test_python_install")
