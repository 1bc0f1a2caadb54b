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
from collections.abc import Callable
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


def loaded_library() -> ctypes.CDLL:
    """The library, for a caller whose ``supports`` already found it available."""
    lib = library()
    if lib is None:
        raise RuntimeError(f"losskit native kernels are unavailable ({_error or 'disabled'})")
    return lib


def threads(work: int) -> int:
    """OpenMP threads for ``work`` elements: one for small jobs, where waking a team
    costs more than it saves (and much more on a busy machine)."""
    return 1 if work < (1 << 17) else max(1, torch.get_num_threads())


def ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


# --- overlap statistics (Dice family): softmax over channels, index targets -----------------

OVERLAP_MAX_CLASSES = 16  # OV_MAXC in _native.c
_overlap_ready: set[int] = set()


def _overlap_functions(lib: ctypes.CDLL,
                       suffix: str) -> tuple[Callable[..., int], Callable[..., int]]:
    fwd = getattr(lib, f"losskit_overlap_softmax_fwd_{suffix}")
    bwd = getattr(lib, f"losskit_overlap_softmax_bwd_{suffix}")
    if id(lib) not in _overlap_ready:
        for s in ("f32", "f64"):
            f = getattr(lib, f"losskit_overlap_softmax_fwd_{s}")
            f.restype = _INT
            f.argtypes = [_I64, _I64, _I64, _P, _P, _P, _P, _P, _P, _INT]
            f = getattr(lib, f"losskit_overlap_softmax_bwd_{s}")
            f.restype = _INT
            f.argtypes = [_I64, _I64, _I64, _P, _P, _P, _P, _P, _P, _INT]
        _overlap_ready.add(id(lib))
    return fwd, bwd


def overlap_softmax_forward(x: torch.Tensor, index: torch.Tensor,
                            valid: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Per-(image, class) soft intersection, prediction and target volumes of
    ``softmax(x, dim=1)`` against index targets, in one sweep; ``[N, C]`` each, x's dtype.

    x ``[N, C, S]`` contiguous float32/float64, index ``[N, S]`` int64 in ``0..C-1``,
    valid ``[N, S]`` bool or ``None``. The caller checks these (see :mod:`.overlap`).
    """
    n, c, s = x.shape
    fwd, _ = _overlap_functions(loaded_library(), "f32" if x.dtype == torch.float32 else "f64")
    out = torch.empty(3, n, c, dtype=torch.float64)
    code = fwd(n, c, s, ptr(x), ptr(index), ptr(valid), ptr(out[0]), ptr(out[1]), ptr(out[2]),
               threads(x.numel()))
    if code != 0:
        raise RuntimeError(f"losskit_overlap_softmax_fwd failed ({code})")
    return tuple(out.to(x.dtype).unbind(0))


def overlap_softmax_backward(x: torch.Tensor, index: torch.Tensor, valid: torch.Tensor | None,
                             g_inter: torch.Tensor, g_pred: torch.Tensor) -> torch.Tensor:
    """Gradient wrt ``x`` of ``sum(g_inter * inter + g_pred * pred)`` (see the forward)."""
    n, c, s = x.shape
    _, bwd = _overlap_functions(loaded_library(), "f32" if x.dtype == torch.float32 else "f64")
    g_inter = g_inter.to(x.dtype).contiguous()
    g_pred = g_pred.to(x.dtype).contiguous()
    grad = torch.empty_like(x, memory_format=torch.contiguous_format)
    code = bwd(n, c, s, ptr(x), ptr(index), ptr(valid), ptr(g_inter), ptr(g_pred), ptr(grad),
               threads(x.numel()))
    if code != 0:
        raise RuntimeError(f"losskit_overlap_softmax_bwd failed ({code})")
    return grad


# --- probability range check and CORAL (ordinal) ---------------------------------------------

CORAL_MAX_THRESHOLDS = 2048  # CORAL_BLOCK in _native.c
_coral_ready: set[int] = set()


def _setup_coral(lib: ctypes.CDLL) -> None:
    if id(lib) in _coral_ready:
        return
    for s in ("f32", "f64"):
        f = getattr(lib, f"losskit_unit_range_{s}")
        f.restype = _INT
        f.argtypes = [_I64, _P]
        f = getattr(lib, f"losskit_coral_{s}")
        f.restype = _D
        f.argtypes = [_I64, _I64, _P, _P, _P, _P, _P, _P, _D, _INT]
    _coral_ready.add(id(lib))


_unit_range_fns: dict[torch.dtype, Callable[[int, int], int]] | None = None


def in_unit_range(t: torch.Tensor) -> bool | None:
    """Whether every entry of ``t`` lies in [0, 1] (NaN does not), read in one native pass;
    ``None`` when the native path does not apply (not contiguous float32/float64 on CPU)."""
    global _unit_range_fns
    if not _enabled:
        return None
    fns = _unit_range_fns
    if fns is None:  # first call: load the library and bind the two functions
        lib = library()
        if lib is None:
            return None
        _setup_coral(lib)
        fns = _unit_range_fns = {torch.float32: lib.losskit_unit_range_f32,
                                 torch.float64: lib.losskit_unit_range_f64}
    fn = fns.get(t.dtype)
    if fn is None or not t.is_cpu or not t.is_contiguous():
        return None
    return fn(t.numel(), t.data_ptr()) != 0


def coral_rows(x: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None, *,
               want_rows: bool, want_grad: bool, grad_scale: float | torch.Tensor = 1.0,
               ) -> tuple[float, torch.Tensor | None, torch.Tensor | None]:
    """CORAL's per-row losses, their sum and (optionally) ``grad_scale * dloss/dx`` in one
    sweep. Returns ``(total: float, rows [N] or None, grad [N, K] or None)``."""
    lib = loaded_library()
    _setup_coral(lib)
    n, k = x.shape
    t = target.to(torch.int64).contiguous()
    w = None if weights is None else weights.to(x.dtype).contiguous()
    rows = torch.empty(n, dtype=x.dtype) if want_rows else None
    grad = torch.empty_like(x) if want_grad else None
    gs, gs0 = None, 1.0
    if isinstance(grad_scale, torch.Tensor):
        gs = grad_scale.to(x.dtype).expand(n).contiguous()
    else:
        gs0 = float(grad_scale)
    fn = lib.losskit_coral_f32 if x.dtype == torch.float32 else lib.losskit_coral_f64
    total: float = fn(n, k, x.data_ptr(), t.data_ptr(), ptr(w), ptr(rows), ptr(grad), ptr(gs), gs0,
               threads(x.numel()))
    return total, rows, grad
