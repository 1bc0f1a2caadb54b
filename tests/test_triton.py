"""Every Triton kernel against its loss's definition.

Without a GPU the kernels run on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``,
set by ``tests/conftest.py`` before losskit is imported); with a CUDA device they are
compiled and run there. Each case calls the public loss twice: with the Triton backend
forced (``kernels.use("triton")``: a declined call raises, and a counter on the kernel
launcher proves the kernel ran) and with ``plain`` (the definition), and compares values
and gradients under a random upstream gradient, for every reduction, in float32 and
bfloat16, on sizes that are not multiples of the blocks: the column block is lowered to 64
so rows span several blocks with a ragged last one, and the token block of
linear_cross_entropy to a few rows.

No kernel here calls ``tl.dot``, so the interpreter's wrong bfloat16 matrix product does
not enter; the matrix products of linear_cross_entropy are torch's.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

import losskit
import losskit.functional as LF
from losskit import kernels
from losskit.kernels import _triton_rows, linear_xent, triton_xent

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu" and not triton_xent.interpreting():
    pytest.skip("no GPU and TRITON_INTERPRET is not set (tests/conftest.py sets it)",
                allow_module_level=True)

# Tolerances: (rtol, atol). float32 differs from the definition only in summation order.
# bfloat16 linear_cross_entropy stores the logits and their gradient in bfloat16 on both
# sides; the matrix products may round differently (blocked vs whole).
TOL = {torch.float32: (2e-5, 2e-6), torch.bfloat16: (2e-2, 2e-2)}
ROWS, CLASSES = 9, 150        # 150 = 2 * 64 + 22: three column blocks, the last ragged
TOKENS, DIM, VOCAB = 11, 6, 150  # token blocks of 6 rows: 6 + 5


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Column blocks of 64 and token blocks of 6 rows, and a count of kernel launches."""
    monkeypatch.setattr(_triton_rows, "MAX_BLOCK", 64)
    monkeypatch.setattr(linear_xent, "BLOCK_BYTES", 6 * VOCAB * 2)
    monkeypatch.setattr(triton_xent, "GPU_BLOCK_BYTES", 6 * VOCAB * 2)
    calls = []
    real = _triton_rows.launch_rows

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(_triton_rows, "launch_rows", counted)
    return calls


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _classes(*, class_weight=False, zero_weight=False, **kw):
    def make(dtype):
        g = _gen(1)
        x = (torch.randn(ROWS, CLASSES, generator=g) * 3).to(DEVICE, dtype)
        t = torch.randint(0, CLASSES, (ROWS,), generator=g)
        t[::4] = -100
        opts = dict(kw)
        if class_weight:
            w = torch.rand(CLASSES, generator=g) + 0.5
            if zero_weight:  # the target class of row 1 weighs 0: the definition drops it
                w[t[1]] = 0.0
            opts["class_weight" if "gamma" not in kw else "alpha"] = w.to(DEVICE, dtype)
        return (x, t.to(DEVICE)), opts
    return make


def _linear(*, bias=False, class_weight=False, weight=False, **kw):
    def make(dtype):
        g = _gen(2)
        h = torch.randn(TOKENS, DIM, generator=g).to(DEVICE, dtype)
        w = (torch.randn(VOCAB, DIM, generator=g) * 0.7).to(DEVICE, dtype)
        t = torch.randint(0, VOCAB, (TOKENS,), generator=g)
        t[::5] = -100
        opts = dict(kw)
        if bias:
            opts["bias"] = (torch.randn(VOCAB, generator=g) * 0.3).to(DEVICE, dtype)
        if class_weight:
            cw = torch.rand(VOCAB, generator=g) + 0.5
            cw[t[1]] = 0.0
            opts["class_weight"] = cw.to(DEVICE, dtype)
        if weight:
            opts["weight"] = torch.rand(TOKENS, generator=g).to(DEVICE, dtype)
        return (h, w, t.to(DEVICE)), opts
    return make


CASES = [
    ("cross_entropy", "plain", _classes(), (0,)),
    ("cross_entropy", "smoothing-class_weight", _classes(class_weight=True, zero_weight=True,
                                                         label_smoothing=0.1), (0,)),
    ("cross_entropy", "smoothing", _classes(label_smoothing=0.3), (0,)),
    ("softmax_focal", "gamma-alpha", _classes(class_weight=True, gamma=1.5), (0,)),
    ("softmax_focal", "gamma0", _classes(gamma=0.0), (0,)),
    ("softmax_focal", "gamma-half", _classes(gamma=0.5), (0,)),
    ("linear_cross_entropy", "plain", _linear(), (0, 1)),
    ("linear_cross_entropy", "every-option",
     _linear(bias=True, class_weight=True, weight=True, label_smoothing=0.1, z_loss=1e-2,
             softcap=3.0), (0, 1, "bias")),
    ("linear_cross_entropy", "z_loss-class_weight", _linear(class_weight=True, z_loss=1e-2),
     (0, 1)),
]
# The definitions of cross_entropy and softmax_focal upcast bfloat16 logits before they
# dispatch, so their kernel sees float32 either way: one bfloat16 case checks that route,
# and test_rows_kernel_reads_and_writes_low_precision hands the kernel bfloat16 directly.
# linear_cross_entropy's kernel gets bfloat16 logits blocks: every case runs in both.
PARAMS = [pytest.param(*case, dtype, id=f"{case[0]}-{case[1]}-{str(dtype)[6:]}")
          for case in CASES for dtype in (torch.float32, torch.bfloat16)
          if dtype == torch.float32 or case[0] == "linear_cross_entropy"
          or case[1] == "smoothing-class_weight"]


def _run(name, args, opts, grad, reduction, **extra):
    """Value and gradients (upstream gradient seeded) of one call."""
    fn = losskit.info(name).fn
    args = [a.detach().clone().requires_grad_(i in grad) if a.is_floating_point() else a
            for i, a in enumerate(args)]
    opts = dict(opts)
    if "bias" in grad:
        opts["bias"] = opts["bias"].detach().clone().requires_grad_(True)
    out = fn(*args, reduction=reduction, **opts, **extra)
    up = (torch.rand(out.shape, generator=_gen(7)) + 0.5).to(out.device, out.dtype)
    leaves = [args[i] for i in grad if isinstance(i, int)] + (
        [opts["bias"]] if "bias" in grad else [])
    grads = torch.autograd.grad(out, leaves, up)
    return out.detach(), [g.detach() for g in grads]


def _compare(fast, plain, dtype, what):
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(fast[0], plain[0], rtol=rtol, atol=atol,
                               msg=lambda m: f"{what} value: {m}")
    for i, (a, b) in enumerate(zip(fast[1], plain[1])):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol,
                                   msg=lambda m, i=i: f"{what} gradient {i}: {m}")


@pytest.mark.parametrize(("name", "label", "make", "grad", "dtype"), PARAMS)
def test_kernel_matches_definition(name, label, make, grad, dtype, small_blocks):
    args, opts = make(dtype)
    for reduction in ("mean", "sum", "none"):
        small_blocks.clear()
        with kernels.use("triton"):
            fast = _run(name, args, opts, grad, reduction)
        assert small_blocks, f"{name}: the Triton kernel did not run"
        with kernels.use("plain"):
            plain = _run(name, args, opts, grad, reduction)
        _compare(fast, plain, dtype, f"{name} {label} {reduction}")


def test_gradient_rescaled_by_a_normalizer_and_a_second_backward():
    # "mean" with a normalizer: the upstream gradient differs from the forward's pre-scale,
    # so backward multiplies; retain_graph=True then recomputes the gradient.
    (x, t), opts = _classes(class_weight=True, label_smoothing=0.2)(torch.float32)
    results = {}
    for mode in ("triton", "plain"):
        xs = x.clone().requires_grad_(True)
        with kernels.use(mode):
            out = LF.cross_entropy(xs, t, normalizer=7.0, **opts)
        (g1,) = torch.autograd.grad(out * 3.0, xs, retain_graph=True)
        (g2,) = torch.autograd.grad(out, xs)
        results[mode] = (out.detach(), [g1, g2])
    _compare(results["triton"], results["plain"], torch.float32, "normalizer")


def test_second_derivatives_are_the_definitions():
    # create_graph=True: backward differentiates the definition, so a Hessian-vector
    # product through the accelerator equals the definition's.
    for name, _, make, grad in (CASES[1], CASES[3], CASES[7]):
        args, opts = make(torch.float32)
        hvps = {}
        for mode in ("triton", "plain"):
            leaves = [a.detach().clone().requires_grad_(i in grad) if a.is_floating_point()
                      else a for i, a in enumerate(args)]
            with kernels.use(mode):
                out = losskit.info(name).fn(*leaves, **opts)
            inputs = [leaves[i] for i in grad if isinstance(i, int)]
            gs = torch.autograd.grad(out, inputs, create_graph=True)
            vs = [torch.randn(x.shape, generator=_gen(5)).to(x) for x in inputs]
            hvps[mode] = torch.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vs)), inputs)
        for a, b in zip(hvps["triton"], hvps["plain"]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
def test_rows_kernel_reads_and_writes_low_precision(dtype):
    # The definition of cross_entropy upcasts before it dispatches, so the public call hands
    # the kernel float32; here the accelerator takes the low-precision logits directly
    # (as linear_cross_entropy's blocks do): loads converted to float32, gradient stored in
    # the input's dtype.
    (x, t), opts = _classes(class_weight=True, label_smoothing=0.1)(dtype)
    acc = next(a for a in kernels.accelerators("cross_entropy") if a.backend == "triton")
    xs = x.clone().requires_grad_(True)
    with kernels.use("triton"):
        assert acc.decline_reason((xs, t), dict(reduction="sum", ignore_index=-100,
                                                **opts)) is None
        out = acc.run(xs, t, ignore_index=-100, reduction="sum", **opts)
    (g,) = torch.autograd.grad(out, xs)
    assert out.dtype == torch.float32 and g.dtype == dtype
    ref_x = x.float().requires_grad_(True)
    with kernels.use("plain"):
        ref = LF.cross_entropy(ref_x, t, reduction="sum", **{k: v.float() if
                               isinstance(v, torch.Tensor) else v for k, v in opts.items()})
    (ref_g,) = torch.autograd.grad(ref, ref_x)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g.float(), ref_g, rtol=1e-2, atol=1e-3)


def test_large_logits_keep_their_precision():
    # Logits of magnitude 1e4 (the definition's finite-values promise): log p_t is formed
    # as (x_t - m) - log s and the smoothing sum relative to the running maximum.
    g = _gen(3)
    x = torch.randn(ROWS, CLASSES, generator=g, dtype=torch.float64) * 1e4
    t = torch.randint(0, CLASSES, (ROWS,), generator=g)
    for name, kw in (("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
                     ("softmax_focal", {"gamma": 2.0})):
        fn = losskit.info(name).fn
        with kernels.use("triton"):
            ours = fn(x.float().to(DEVICE), t.to(DEVICE), reduction="none", **kw).cpu().double()
        with kernels.use("plain"):
            plain = fn(x.float().double(), t, reduction="none", **kw)
        rel = ((ours - plain).abs() / plain.abs().clamp(min=1e-30)).max().item()
        assert rel <= 1e-5, f"{name} {kw}: relative error {rel:g}"


def test_empty_selection_gives_zero_and_zero_gradients():
    (x, t), _ = _classes()(torch.float32)
    t = torch.full_like(t, -100)
    (h, w, tt), _ = _linear()(torch.float32)
    tt = torch.full_like(tt, -100)
    with kernels.use("triton"):
        xs = x.clone().requires_grad_(True)
        out = LF.cross_entropy(xs, t)
        (g,) = torch.autograd.grad(out, xs)
        hs = h.clone().requires_grad_(True)
        out2 = LF.linear_cross_entropy(hs, w, tt)
        (g2,) = torch.autograd.grad(out2, hs)
        empty = LF.cross_entropy(x[:0].clone().requires_grad_(True), t[:0])
    assert out.item() == 0.0 and not g.any() and out2.item() == 0.0 and not g2.any()
    assert empty.item() == 0.0


def test_target_out_of_range_gives_nan_not_a_silent_value():
    # On CUDA the definition's value checks are off (they would sync); the kernel marks a
    # target outside 0..C-1 (other than ignore_index) with NaN instead of ignoring it.
    (x, t), _ = _classes()(torch.float32)
    t = t.clone()
    t[2] = CLASSES + 5
    with losskit.value_checks(False), kernels.use("triton"):
        out = LF.cross_entropy(x, t, reduction="none")
    assert torch.isnan(out[2]) and torch.isfinite(out[3])


def test_declines_what_it_does_not_do():
    (x, t), _ = _classes()(torch.float32)
    with kernels.use("triton"):
        with pytest.raises(kernels.AcceleratorDeclined, match="float64"):
            LF.cross_entropy(x.double(), t)
        with pytest.raises(kernels.AcceleratorDeclined, match=r"\[N, C\]"):
            LF.cross_entropy(x.reshape(ROWS, CLASSES, 1), t.reshape(ROWS, 1))
        with pytest.raises(kernels.AcceleratorDeclined, match="gamma"):
            LF.softmax_focal(x, t, gamma=torch.tensor(2.0, device=DEVICE))
        with pytest.raises(kernels.AcceleratorDeclined, match="requires grad"):
            LF.cross_entropy(x, t, class_weight=torch.ones(CLASSES, device=DEVICE,
                                                           requires_grad=True))
    (h, w, tt), _ = _linear()(torch.float32)
    with kernels.use("triton"), pytest.raises(kernels.AcceleratorDeclined, match="share"):
        LF.linear_cross_entropy(h, w.bfloat16(), tt)


@pytest.mark.skipif(DEVICE != "cpu", reason="the interpreter's CPU routing")
def test_auto_mode_keeps_the_cpu_off_the_interpreter(small_blocks):
    x = torch.randn(8, triton_xent.MIN_CLASSES + 3, requires_grad=True)
    t = torch.randint(0, x.shape[1], (8,))
    LF.cross_entropy(x, t).backward()
    assert not small_blocks


def test_accelerators_are_listed():
    listed = {a.loss: a for a in kernels.accelerators() if a.backend == "triton"}
    assert set(listed) == {"cross_entropy", "softmax_focal", "linear_cross_entropy"}
    for acc in listed.values():
        assert "cuda" in acc.devices and acc.dtypes == frozenset(
            {torch.float32, torch.float16, torch.bfloat16})
        assert acc.double_backward and not acc.traceable
    assert ("cpu" in listed["cross_entropy"].devices) == triton_xent.interpreting()


def test_import_losskit_does_not_import_triton():
    code = ("import sys, torch, losskit, losskit.functional as F\n"
            "F.cross_entropy(torch.randn(4, 5), torch.tensor([0, 1, 2, 3]))\n"
            "losskit.kernels.accelerators()\n"
            "print('triton' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
