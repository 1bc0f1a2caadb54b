"""Every Triton kernel against its loss's definition.

Without a GPU the kernels run on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``,
set by ``tests/conftest.py`` before losskit is imported); with a CUDA device they are
compiled and run there. Each case calls the public loss twice: with the Triton backend
forced (``kernels.use("triton")``: a declined call raises, and a counter on the kernel
launcher proves the kernel ran) and with ``plain`` (the definition), and compares values
and gradients under a random upstream gradient, for every reduction, in float32 and
bfloat16, on sizes that are not multiples of the blocks: the column block is lowered to 64
so rows span several blocks with a ragged last one, and the token block of
linear_cross_entropy to a few rows. The overlap statistics of dice, jaccard, tversky and
generalized_dice run on 2-D and 3-D volumes whose voxel counts are not multiples of the
lowered tile, for every option the losses apply (ignore_index, include_background,
class_weight, batch, skip_empty, micro / macro, sigmoid, strided logits).

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
from losskit.kernels import (
    _triton_overlap_stats,
    _triton_rows,
    linear_xent,
    triton_overlap,
    triton_xent,
)

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
    assert set(listed) == {"cross_entropy", "softmax_focal", "linear_cross_entropy", "dice",
                           "jaccard", "tversky", "generalized_dice"}
    for acc in listed.values():
        assert "cuda" in acc.devices and acc.dtypes == frozenset(
            {torch.float32, torch.float16, torch.bfloat16})
        assert acc.double_backward and not acc.traceable
    assert ("cpu" in listed["cross_entropy"].devices) == triton_xent.interpreting()


def test_import_losskit_does_not_import_triton():
    code = ("import sys, torch, losskit, losskit.functional as F\n"
            "F.cross_entropy(torch.randn(4, 5), torch.tensor([0, 1, 2, 3]))\n"
            "F.dice(torch.randn(2, 3, 5, 5), torch.randint(0, 3, (2, 5, 5)))\n"
            "losskit.kernels.accelerators()\n"
            "print('triton' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --- overlap statistics: dice, jaccard, tversky, generalized_dice ---------------------------
# The kernel holds every class of a tile of voxels; MAX_TILE = 128 gives tiles of 16 voxels
# at 5 classes (8 rounded) and of 32 at 4: both volumes below span several tiles per image
# with a ragged last one (63 = 3 * 16 + 15, 105 = 3 * 32 + 9).
VOLUME_2D = (2, 5, (7, 9))
VOLUME_3D = (2, 4, (3, 5, 7))


@pytest.fixture
def overlap_launches(monkeypatch):
    """Small tiles, and a record of the kernels' launches ("forward" / "backward")."""
    monkeypatch.setattr(_triton_overlap_stats, "MAX_TILE", 128)
    calls = []
    for what in ("forward", "backward"):
        real = getattr(_triton_overlap_stats, f"launch_{what}")

        def counted(*args, _real=real, _what=what, **kwargs):
            calls.append(_what)
            return _real(*args, **kwargs)

        monkeypatch.setattr(_triton_overlap_stats, f"launch_{what}", counted)
    return calls


def _volume(shape, *, ignore=False, class_weight=False, absent=False, channels_last=False,
            **kw):
    """Logits ``[N, C, *spatial]`` and index targets; ``ignore`` sets every 7th voxel to
    255 (ignore_index); ``absent`` removes class 2 from image 0, in the target and in the
    hard prediction (its logit below the others' and below 0: neither argmax nor
    sigmoid > 0.5 picks it, while its soft volume stays large), so skip_empty drops that
    pair. ``channels_last`` stores the logits class-innermost (strided voxels)."""
    n, c, spatial = shape

    def make(dtype):
        g = _gen(4)
        x = torch.randn(n, c, *spatial, generator=g) * 2
        t = torch.randint(0, c, (n, *spatial), generator=g)
        opts = dict(kw)
        if absent:
            x[0, 2] = torch.clamp(x[0].amin(0), max=0.0) - 0.5
            t[0][t[0] == 2] = 0
        if ignore:
            t.view(-1)[3::7] = 255
            opts["ignore_index"] = 255
        if class_weight:
            k = c if opts.get("include_background", True) else c - 1
            opts["class_weight"] = (torch.rand(k, generator=g) + 0.5).to(DEVICE)
        x = x.to(DEVICE, dtype)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d if x.dim() == 5
                             else torch.channels_last)
        return (x, t.to(DEVICE)), opts
    return make


OVERLAP_CASES = [
    ("dice", "3d-softmax", _volume(VOLUME_3D)),
    ("dice", "2d-softmax-ignore-no_background-class_weight",
     _volume(VOLUME_2D, ignore=True, class_weight=True, include_background=False)),
    ("dice", "3d-sigmoid-ignore-batch-skip_empty",
     _volume(VOLUME_3D, ignore=True, absent=True, activation="sigmoid", batch=True,
             skip_empty=True)),
    ("dice", "2d-softmax-skip_empty-log", _volume(VOLUME_2D, absent=True, skip_empty=True,
                                                  log_loss=True)),
    ("dice", "2d-softmax-micro-class_weight",
     _volume(VOLUME_2D, class_weight=True, average="micro", smooth_nr=0.0, smooth_dr=1e-3)),
    ("jaccard", "3d-softmax-ignore-channels_last",
     _volume(VOLUME_3D, ignore=True, channels_last=True)),
    ("jaccard", "2d-sigmoid-batch-micro", _volume(VOLUME_2D, activation="sigmoid", batch=True,
                                                  average="micro")),
    ("tversky", "2d-softmax-focal", _volume(VOLUME_2D, alpha=0.2, beta=0.8, gamma=1.5)),
    ("tversky", "3d-sigmoid-ignore-micro",
     _volume(VOLUME_3D, ignore=True, activation="sigmoid", average="micro")),
    ("generalized_dice", "3d-softmax-ignore-class_weight",
     _volume(VOLUME_3D, ignore=True, class_weight=True)),
    ("generalized_dice", "2d-sigmoid-simple-batch-no_background",
     _volume(VOLUME_2D, activation="sigmoid", weight_type="simple", batch=True,
             include_background=False)),
]
# The definitions upcast bfloat16 logits before they dispatch, so the kernel sees float32
# from the public call either way: three bfloat16 cases check that route, and
# test_overlap_kernel_reads_low_precision hands the kernel bfloat16 and float16 directly.
OVERLAP_BF16 = {"3d-softmax", "3d-sigmoid-ignore-batch-skip_empty", "2d-softmax-focal"}
OVERLAP_PARAMS = [pytest.param(*case, dtype, id=f"{case[0]}-{case[1]}-{str(dtype)[6:]}")
                  for case in OVERLAP_CASES for dtype in (torch.float32, torch.bfloat16)
                  if dtype == torch.float32 or case[1] in OVERLAP_BF16]


@pytest.mark.parametrize(("name", "label", "make", "dtype"), OVERLAP_PARAMS)
def test_overlap_kernel_matches_definition(name, label, make, dtype, overlap_launches):
    args, opts = make(dtype)
    for reduction in ("mean", "sum", "none"):
        overlap_launches.clear()
        with kernels.use("triton"):
            fast = _run(name, args, opts, (0,), reduction)
        assert overlap_launches == ["forward", "backward"], \
            f"{name} {label}: the Triton kernels did not both run ({overlap_launches})"
        with kernels.use("plain"):
            plain = _run(name, args, opts, (0,), reduction)
        # Both sides compute in float32 (the kernel reads the bfloat16 logits and sums in
        # float32; the definition upcasts); the values agree to float32 rounding, the
        # bfloat16 gradients to one bfloat16 rounding.
        rtol, atol = TOL[torch.float32]
        torch.testing.assert_close(fast[0], plain[0], rtol=rtol, atol=atol)
        low = TOL[dtype] if dtype == torch.bfloat16 else (rtol, atol)
        for a, b in zip(fast[1], plain[1]):
            torch.testing.assert_close(a, b, rtol=low[0], atol=low[1])


def test_overlap_skip_empty_case_drops_a_pair():
    # The skip_empty cases above mean something: image 0 has no class 2 in the target and
    # none predicted, so the loss differs from the one without skip_empty.
    (x, t), _ = _volume(VOLUME_2D, absent=True)(torch.float32)
    with kernels.use("plain"):
        kept = LF.dice(x, t, reduction="none")
        skipped = LF.dice(x, t, skip_empty=True, reduction="none")
    assert kept[0, 2] > 0.5 and skipped[0, 2] == 0 and torch.equal(kept[1], skipped[1])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_overlap_kernel_reads_low_precision(dtype, activation, overlap_launches):
    # The accelerator takes low-precision logits directly (a definition that dispatched
    # before upcasting would hand them over): loaded as they are, summed in float32 (the
    # statistics are float32), the gradient stored in the logits' dtype.
    from losskit.functional.segmentation import _index_statistics

    (x, t), _ = _volume(VOLUME_3D)(dtype)
    n, c = x.shape[:2]
    x3, index = x.reshape(n, c, -1), t.reshape(n, -1)
    valid = torch.ones_like(index, dtype=torch.bool)
    valid.view(-1)[::5] = False
    acc = next(a for a in kernels.accelerators("dice") if a.backend == "triton")
    kw = dict(activation=activation, other_act=None, squared_pred=False,
              definition=_index_statistics)
    xs = x3.clone().requires_grad_(True)
    with kernels.use("triton"):
        assert acc.decline_reason((xs, index, valid), kw) is None
        stats = acc.run(xs, index, valid, **kw)
    up = torch.rand(stats.shape, generator=_gen(6)).to(DEVICE)
    (g,) = torch.autograd.grad(stats, xs, up)
    assert overlap_launches == ["forward", "backward"]
    assert stats.dtype == torch.float32 and g.dtype == dtype
    ref_x = x3.float().requires_grad_(True)
    ref = _index_statistics(ref_x, index, valid, activation=activation, other_act=None,
                            squared_pred=False)
    (ref_g,) = torch.autograd.grad(ref, ref_x, up)
    torch.testing.assert_close(stats, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g.float(), ref_g, rtol=1e-2, atol=1e-3)


def test_overlap_second_derivatives_are_the_definitions(overlap_launches):
    # create_graph=True: backward differentiates the definition, so a Hessian-vector
    # product through the accelerator equals the definition's.
    for name, _, make in (OVERLAP_CASES[1], OVERLAP_CASES[8]):
        (x, t), opts = make(torch.float32)
        hvps = {}
        for mode in ("triton", "plain"):
            xs = x.clone().requires_grad_(True)
            with kernels.use(mode):
                out = losskit.info(name).fn(xs, t, **opts)
            (g,) = torch.autograd.grad(out, xs, create_graph=True)
            v = torch.randn(x.shape, generator=_gen(5)).to(x)
            hvps[mode] = torch.autograd.grad((g * v).sum(), xs)[0]
        torch.testing.assert_close(hvps["triton"], hvps["plain"], rtol=1e-4, atol=1e-6)
    assert "forward" in overlap_launches


def test_overlap_learnable_hyperparameters_stay_in_the_definition(overlap_launches):
    # smooth, alpha and beta enter after the statistics: tensors that require grad pass
    # through the accelerated call and get the definition's gradients.
    (x, t), _ = _volume(VOLUME_3D, ignore=True)(torch.float32)
    results = {}
    for mode in ("triton", "plain"):
        xs = x.clone().requires_grad_(True)
        hyper = {k: torch.tensor(v, device=DEVICE, requires_grad=True)
                 for k, v in (("smooth", 0.5), ("alpha", 0.4), ("beta", 0.6))}
        with kernels.use(mode):
            out = LF.tversky(xs, t, ignore_index=255, **hyper)
        grads = torch.autograd.grad(out, [xs, *hyper.values()])
        results[mode] = (out.detach(), list(grads))
    assert overlap_launches == ["forward", "backward"]
    _compare(results["triton"], results["plain"], torch.float32, "learnable tversky")


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_overlap_large_logits_keep_their_precision(activation, overlap_launches):
    # Logits of magnitude 1e4: the softmax relative to each voxel's maximum, the sigmoid
    # from exp(-|x|); values and gradients finite and equal to the definition's (float64).
    (x, t), _ = _volume(VOLUME_3D)(torch.float32)
    x = (x * 5e3).round()  # integers: exact in float32 and float64 alike
    results = {}
    for mode, dtype in (("triton", torch.float32), ("plain", torch.float64)):
        xs = x.to(dtype).requires_grad_(True)
        with kernels.use(mode):
            out = LF.dice(xs, t, activation=activation, reduction="none")
        (g,) = torch.autograd.grad(out, xs, torch.ones_like(out))
        results[mode] = (out.detach().double(), [g.double()])
    assert torch.isfinite(results["triton"][0]).all() and torch.isfinite(
        results["triton"][1][0]).all()
    _compare(results["triton"], results["plain"], torch.float32, f"1e4 logits {activation}")


def test_overlap_nan_and_bad_indices_are_visible(overlap_launches):
    (x, t), _ = _volume(VOLUME_2D)(torch.float32)
    x_nan = x.clone()
    x_nan[1, 3, 2, 4] = float("nan")
    with kernels.use("triton"):
        for activation in ("softmax", "sigmoid"):
            out = LF.dice(x_nan, t, activation=activation, reduction="none")
            assert torch.isnan(out[1]).any() and torch.isfinite(out[0]).all()
        # On CUDA the value checks are off (they would sync): a class index out of range
        # makes its image's loss NaN rather than a silent value.
        bad = t.clone()
        bad[0, 1, 1] = 7
        with losskit.value_checks(False):
            out = LF.dice(x, bad, reduction="none")
    assert torch.isnan(out[0]).all() and torch.isfinite(out[1]).all()


def test_overlap_empty_selection_gives_zero_and_zero_gradients(overlap_launches):
    (x, t), _ = _volume(VOLUME_3D)(torch.float32)
    with kernels.use("triton"):
        xs = x.clone().requires_grad_(True)
        out = LF.dice(xs, torch.full_like(t, 255), ignore_index=255, smooth=1e-5)
        (g,) = torch.autograd.grad(out, xs)
        empty = x[:0].clone().requires_grad_(True)
        out_empty = LF.jaccard(empty, t[:0])
        (g_empty,) = torch.autograd.grad(out_empty, empty)
    assert out.item() == 0.0 and not g.any()
    assert out_empty.item() == 0.0 and g_empty.shape == empty.shape
    assert "forward" in overlap_launches


def test_overlap_declines_what_it_does_not_do(overlap_launches):
    (x, t), _ = _volume(VOLUME_2D)(torch.float32)
    with kernels.use("triton"):
        for kwargs, match in ((dict(other_act=torch.tanh, activation="none"), "other_act"),
                              (dict(squared_pred=True), "squared_pred"),
                              (dict(activation="none"), "activation='none'")):
            xs = torch.softmax(x, 1) if kwargs.get("activation") == "none" else x
            with pytest.raises(kernels.AcceleratorDeclined, match=match):
                LF.dice(xs, t, **kwargs)
        with pytest.raises(kernels.AcceleratorDeclined, match="float64"):
            LF.dice(x.double(), t)
        many = triton_overlap.MAX_CLASSES + 1
        with pytest.raises(kernels.AcceleratorDeclined, match="classes"):
            LF.dice(torch.zeros(1, many, 2, device=DEVICE),
                    torch.zeros(1, 2, dtype=torch.long, device=DEVICE))
        # Probability targets are summed densely by the definition: no dispatch, no kernel.
        soft = torch.softmax(torch.randn(x.shape, generator=_gen(8)), 1).to(DEVICE)
        forced = LF.dice(x, soft)
    assert not overlap_launches
    with kernels.use("plain"):
        torch.testing.assert_close(forced, LF.dice(x, soft))


@pytest.mark.skipif(DEVICE != "cpu", reason="the interpreter's CPU routing")
def test_overlap_auto_mode_keeps_the_cpu_off_the_interpreter(overlap_launches):
    x = torch.randn(2, 4, 96, 96, requires_grad=True)  # above MIN_NUMEL
    assert x.numel() >= triton_overlap.MIN_NUMEL
    LF.dice(x, torch.randint(0, 4, (2, 96, 96))).backward()
    assert not overlap_launches


def test_overlap_takes_the_gpu_benchmark_call(monkeypatch):
    # The GPU benchmark's dice case ([2, 4, 128, 128, 128] float32 logits, index targets,
    # default options, auto mode): the arguments the definition dispatches, captured on the
    # meta device, are ones the Triton accelerator takes, and it is the first one tried.
    from losskit.functional import segmentation

    seen = []
    monkeypatch.setattr(segmentation, "dispatch",
                        lambda loss, *a, **k: seen.append((loss, a, k)))
    x = torch.empty(2, 4, 128, 128, 128, device="meta", requires_grad=True)
    t = torch.empty(2, 128, 128, 128, dtype=torch.long, device="meta")
    LF.dice(x, t)
    ((loss, args, kwargs),) = seen
    first = kernels.accelerators("dice")[0]
    assert loss == "dice" and first.backend == "triton"
    assert "cuda" in first.devices and args[0].dtype in first.dtypes
    with kernels.use("auto"):
        assert first.supports(*args, **kwargs) is None
