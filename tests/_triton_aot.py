"""Compile every Triton kernel launch of losskit for a GPU, ahead of time, with no GPU.

Run as a script (``python tests/_triton_aot.py [ARCH]``, ARCH 90 by default); the test
``test_triton.py::test_every_triton_launch_compiles_for_a_gpu`` runs it in a subprocess.

Triton's interpreter (how tests/test_triton.py runs the kernels on the CPU) executes the
kernels' Python with numpy: it never runs Triton's compiler, so a kernel can pass every
interpreter test and still fail to compile on a GPU (a loop-carried value that changes
type, a block shape that is not a power of two, a tile too large for shared memory).
Here the launchers run on ``meta`` tensors at the GPU benchmark's sizes and at small
ones, in every float dtype, with each flag the accelerators pass (alone, and the options
that combine, together); each launch is recorded instead
of run, and each distinct one is compiled with Triton's own compiler for
``GPUTarget("cuda", ARCH, 32)`` (PTX and cubin through Triton's bundled ptxas). The
interpreter-only ``UPCAST`` flag is off, as it is on a GPU: the bfloat16 and float16
tiles go to ``tl.dot`` as they are.

Prints one line per compiled launch: kernel, signature digest, constexprs, shared memory
in bytes, whether the PTX uses Hopper's ``wgmma`` instruction; then ``compiled N``.
"""

from __future__ import annotations

import os
import sys

# Nothing happens on import (pytest's --doctest-modules imports this file): main() leaves
# the interpreter off, imports triton and replaces kernel launches by a recorder.
_LAUNCH_OPTIONS = ("num_warps", "num_stages")
CALLS: list[tuple] = []


def _record_launches() -> None:
    from triton.runtime.jit import JITFunction

    def getitem(self, grid):
        def launch(*args, **kwargs):
            CALLS.append((self, args, kwargs))
        return launch

    JITFunction.__getitem__ = getitem


def _launches() -> None:
    import torch

    from losskit.kernels import _triton_lse as lse
    from losskit.kernels import _triton_overlap_stats as overlap
    from losskit.kernels import _triton_rows as rows
    from losskit.kernels import triton_xent

    meta = torch.device("meta")

    def empty(*shape, dtype=torch.float32):
        return torch.empty(*shape, dtype=dtype, device=meta)

    # Softmax rows (cross_entropy, softmax_focal, and linear_cross_entropy's blocks): the
    # column blocks the launcher picks (64 .. 32768, 4 to 32 warps) in every float dtype,
    # with and without the gradient pass, and each option's flag.
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for c in (50, 4096, 128256):
            x = empty(64, c, dtype=dtype)
            t = empty(64, dtype=torch.int64)
            cw = empty(c)
            for kw in (dict(),
                       dict(grad=False),
                       dict(label_smoothing=0.1, z_loss=1e-4, class_weight=cw, softcap=30.0),
                       dict(gamma=2.0, class_weight=cw),
                       dict(grad_scale=empty(64))):
                grad = kw.pop("grad", True)
                gs = kw.pop("grad_scale", empty(()))
                args = dict(class_weight=None, ignore_index=-100, label_smoothing=0.0,
                            z_loss=0.0, gamma=0.0, softcap=None)
                args.update(kw)
                rows.launch_rows(x, t, **args, grad_scale=gs if grad else None,
                                 grad_out=x if grad else None)
    # The linear cross-entropy walk at the GPU benchmark's size (int32 targets too).
    h = empty(8192, 4096, dtype=torch.bfloat16)
    w = empty(128256, 4096, dtype=torch.bfloat16)
    for target_dtype in (torch.int64, torch.int32):
        triton_xent.walk_linear(h, w, None, empty(8192, dtype=target_dtype),
                                (None, -100, 0.0, 1e-4, None), 1.0, (True, True, False))

    # Overlap statistics (dice, jaccard, tversky, generalized_dice): few and many classes,
    # softmax and sigmoid, with and without a validity mask.
    for dtype, c, sigmoid, valid in ((torch.float32, 4, False, False),
                                     (torch.bfloat16, 4, True, True),
                                     (torch.float16, 150, False, True),
                                     (torch.float32, 2, True, False)):
        x = empty(2, c, 128 ** 3, dtype=dtype)
        index = empty(2, 128 ** 3, dtype=torch.int64)
        mask = empty(2, 128 ** 3, dtype=torch.bool) if valid else None
        overlap.launch_forward(x, index, mask, sigmoid=sigmoid)
        overlap.launch_backward(x, index, mask, empty(2, c), empty(2, c), sigmoid=sigmoid)

    # Blockwise log-sum-exp (info_nce, nt_xent, supcon): narrowest and widest embeddings,
    # with and without the left-out diagonal, both gradient sides.
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for d in (16, 128, 256):
            x = empty(16384, d, dtype=dtype)
            scale = empty(1)
            stats = (empty(16384), empty(16384))
            for shift in (None, 0):
                lse.launch_forward(x, x, scale, shift)
            lse.launch_backward(x, x, scale, stats, stats, 0)
            lse.launch_backward(x, x, scale, stats, None, None)


def _signature(fn, args: tuple, kwargs: dict):
    import torch

    pointee = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16",
               torch.int64: "i64", torch.int32: "i32", torch.uint8: "u8", torch.bool: "i1"}
    bound = dict(zip(fn.arg_names, args))
    bound.update({k: v for k, v in kwargs.items() if k not in _LAUNCH_OPTIONS})
    constexpr_names = {p.name for p in fn.params if p.is_constexpr}
    signature, constexprs = {}, {}
    for name in fn.arg_names:
        value = bound[name]
        if name in constexpr_names or value is None:
            signature[name] = "constexpr"
            constexprs[name] = value
        elif isinstance(value, torch.Tensor):
            signature[name] = "*" + pointee[value.dtype]
        elif isinstance(value, bool):
            signature[name] = "i1"
        elif isinstance(value, int):
            signature[name] = "i32" if -2 ** 31 <= value < 2 ** 31 else "i64"
        elif isinstance(value, float):
            signature[name] = "fp32"
        else:
            raise TypeError(f"{fn.__name__}: argument {name} of type {type(value).__name__}")
    options = {k: kwargs[k] for k in _LAUNCH_OPTIONS if k in kwargs}
    return signature, constexprs, options


def main(arch: int) -> int:
    os.environ.pop("TRITON_INTERPRET", None)  # before losskit's kernels are defined
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    _record_launches()
    _launches()
    seen = set()
    target = GPUTarget("cuda", arch, 32)
    for fn, args, kwargs in CALLS:
        signature, constexprs, options = _signature(fn, args, kwargs)
        key = (fn.__name__, tuple(signature.items()), tuple(sorted(constexprs.items())),
               tuple(sorted(options.items())))
        if key in seen:
            continue
        seen.add(key)
        kernel = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constexprs),
                                target=target, options=options)
        flags = ",".join(f"{k}={v}" for k, v in sorted(constexprs.items()) if v is not None)
        pointers = ",".join(v[1:] for v in signature.values() if v.startswith("*"))
        print(fn.__name__, pointers, flags, options.get("num_warps", 4),
              kernel.metadata.shared, "wgmma" in kernel.asm["ptx"], flush=True)
    print("compiled", len(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 90))
