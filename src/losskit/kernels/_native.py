"""Build and load the native kernels (``_native.c``) on first use.

The C source has no torch headers: it compiles with the system C compiler in a few
seconds and is called through :mod:`ctypes` with raw data pointers. The shared object
is cached in torch's extensions directory (``$TORCH_EXTENSIONS_DIR`` or
``~/.cache/torch_extensions``) under a name that hashes the source, the flags, the
compiler and the CPU, so later processes load it in milliseconds.

If no compiler is found or the build fails, :func:`library` returns ``None`` once and
for all and every caller takes its plain torch path. ``LOSSKIT_NATIVE=0`` in the
environment (or :func:`set_enabled(False)`) forces the plain paths.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

__all__ = ["build_error", "enabled", "library", "set_enabled"]

_SOURCE = Path(__file__).with_name("_native.c")
_FLAGS = ["-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math",
          "-shared", "-fPIC"]
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False
_error: str | None = None
_enabled = os.environ.get("LOSSKIT_NATIVE", "1") not in ("0", "false", "no", "off")

_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_D = ctypes.c_double
_INT = ctypes.c_int


def set_enabled(on: bool) -> None:
    """Switch the native kernels on or off for this process (tests use this)."""
    global _enabled
    _enabled = bool(on)


def enabled() -> bool:
    return _enabled


def build_error() -> str | None:
    """Why the native kernels are unavailable (``None`` if they loaded or were not tried)."""
    return _error


def _cpu_tag() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "flags")):
                    return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _build_dir() -> Path:
    # torch's own default (cpp_extension.get_default_build_root) without importing
    # cpp_extension, which costs ~0.1 s: $XDG_CACHE_HOME/torch_extensions on Linux.
    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(cache, "torch_extensions")
    return Path(root) / "losskit_native"


def _compile() -> ctypes.CDLL:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc / gcc) on PATH")
    source = _SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([source, " ".join(_FLAGS).encode(), cc.encode(),
                                     _cpu_tag().encode()])).hexdigest()[:16]
    directory = _build_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"losskit_native_{key}.so"
    if not target.exists():
        # Build under a private name, then rename: concurrent first uses (one fresh
        # process per benchmark case, pytest-xdist) never load a half-written file.
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=directory)
        os.close(fd)
        try:
            proc = subprocess.run([cc, *_FLAGS, "-o", tmp, str(_SOURCE), "-lm"],
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"{cc} failed: {proc.stderr.strip()[-2000:]}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    # torch has already loaded libgomp.so.1, so the library shares torch's OpenMP runtime.
    lib = ctypes.CDLL(str(target))
    for suffix in ("f32", "f64"):
        fn = getattr(lib, f"losskit_elementwise_{suffix}")
        fn.restype = _D
        fn.argtypes = [_INT, _I64, _P, _P, _P, _P, _D, _D, _D, _D, _INT]
        fn = getattr(lib, f"losskit_softmax_rows_{suffix}")
        fn.restype = None
        fn.argtypes = [_I64, _I64, _P, _P, _P, _I64, _D, _D, _D, _P, _P, _P, _P, _D, _INT]
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded native library, building it on first call; ``None`` if unavailable."""
    global _lib, _tried, _error
    if not _enabled:
        return None
    if _tried:
        return _lib
    with _lock:
        if not _tried:
            try:
                _lib = _compile()
            except Exception as exc:  # any failure means: use the plain path
                _error = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"losskit: native kernels unavailable, using plain torch paths "
                              f"({_error})", RuntimeWarning, stacklevel=3)
                _lib = None
            _tried = True
    return _lib


def threads(work: int) -> int:
    """OpenMP threads for ``work`` elements: one for small jobs, where waking a team
    costs more than it saves (and much more on a busy machine)."""
    return 1 if work < (1 << 17) else max(1, torch.get_num_threads())


def ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()
