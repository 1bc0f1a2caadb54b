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
class_weight, batch, skip_empty, micro / macro, sigmoid, strided logits). The contrastive
log-sum-exp of info_nce, nt_xent and supcon runs on 16 x 16 tiles over row counts that are
not multiples of 16, with a learnable temperature, extra negatives, reference embeddings,
weights, and the own column at an offset (the distributed call).

Only the contrastive kernels call ``tl.dot``; the interpreter computes it wrongly on
bfloat16 operands, so under the interpreter they upcast bfloat16 tiles first (their
bfloat16 tensor-core product is checked by tests/test_cuda.py on a GPU). The matrix
products of linear_cross_entropy are torch's.
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
    _triton_lse,
    _triton_overlap_stats,
    _triton_rows,
    linear_xent,
    triton_contrastive,
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
    """Column blocks of 64, token blocks of 6 rows, weight-gradient blocks of 7 vocabulary
    rows, and a count of kernel launches."""
    monkeypatch.setattr(_triton_rows, "MAX_BLOCK", 64)
    monkeypatch.setattr(linear_xent, "BLOCK_BYTES", 6 * VOCAB * 2)
    monkeypatch.setattr(triton_xent, "GPU_BLOCK_BYTES", 6 * VOCAB * 2)
    # 16-bit weight gradients accumulate in float32 blocks of 7 vocabulary rows (ragged)
    monkeypatch.setattr(triton_xent, "GRAD_W_BLOCK_BYTES", 7 * DIM * 4)
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
                           "jaccard", "tversky", "generalized_dice", "info_nce", "nt_xent",
                           "supcon"}
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


# --- contrastive log-sum-exp: info_nce, nt_xent, supcon --------------------------------------
# Tiles of 16 x 16 (tl.dot's smallest): 38 anchors (nt_xent, 19 pairs) = 2 * 16 + 6, 31 keys
# (info_nce, 21 + 10 negatives) = 16 + 15, 37 supcon rows = 2 * 16 + 5; d = 5 pads to a
# 16-wide tile, d = 40 to 64. Every case runs with reductions none / sum / mean, the
# definition as the reference.


@pytest.fixture
def lse_launches(monkeypatch):
    """16 x 16 tiles, and a record of the kernels' launches ("forward" / "backward")."""
    monkeypatch.setattr(_triton_lse, "BLOCK_X", 16)
    monkeypatch.setattr(_triton_lse, "BLOCK_Y", 16)
    calls = []
    for what in ("forward", "backward"):
        real = getattr(_triton_lse, f"launch_{what}")

        def counted(*args, _real=real, _what=what, **kwargs):
            calls.append(_what)
            return _real(*args, **kwargs)

        monkeypatch.setattr(_triton_lse, f"launch_{what}", counted)
    return calls


def _pairs(n, d, *, negatives=0, weight=False, learnable=None, **kw):
    """Two views ``[n, d]`` (info_nce's query and key, nt_xent's z_a and z_b)."""
    def make(dtype):
        g = _gen(11)
        z = torch.randn(n, d, generator=g)
        args = (z.to(DEVICE, dtype), (z + 0.7 * torch.randn(n, d, generator=g)).to(DEVICE, dtype))
        opts = dict(kw)
        if negatives:
            opts["negatives"] = torch.randn(negatives, d, generator=g).to(DEVICE, dtype)
        if weight:
            opts["weight"] = (torch.rand(n, generator=g) + 0.5).to(DEVICE, dtype)
        if learnable is not None:
            opts["temperature"] = torch.tensor(learnable, device=DEVICE)
        return args, opts
    return make


def _labelled(n, d, classes, *, ref=0, weight=False, learnable=None, **kw):
    """``[n, d]`` embeddings, labels in ``0..classes-1`` plus one singleton label (an anchor
    without positive); ``ref`` reference rows whose labels miss one anchor class."""
    def make(dtype):
        g = _gen(12)
        labels = torch.randint(0, classes, (n,), generator=g)
        labels[-1] = classes  # seen once: no positive
        z = torch.randn(n, d, generator=g) + 0.8 * torch.randn(classes + 1, d, generator=g)[labels]
        opts = dict(kw)
        if ref:
            opts["ref_emb"] = torch.randn(ref, d, generator=g).to(DEVICE, dtype)
            opts["ref_labels"] = torch.randint(1, classes + 1, (ref,), generator=g).to(DEVICE)
        if weight:
            opts["weight"] = (torch.rand(n, generator=g) + 0.5).to(DEVICE, dtype)
        if learnable is not None:
            opts["temperature"] = torch.tensor(learnable, device=DEVICE)
        return (z.to(DEVICE, dtype), labels.to(DEVICE)), opts
    return make


LSE_CASES = [
    ("info_nce", "plain", _pairs(21, 5, temperature=0.2), (0, 1)),
    ("info_nce", "negatives-weight-learnable", _pairs(21, 5, negatives=10, weight=True,
                                                     learnable=0.07), (0, 1, "temperature")),
    ("info_nce", "unnormalized-wide", _pairs(21, 40, normalize=False, temperature=3.0), (0, 1)),
    ("nt_xent", "plain", _pairs(19, 5, temperature=0.5), (0, 1)),
    ("nt_xent", "weight-learnable", _pairs(19, 5, weight=True, learnable=0.05),
     (0, 1, "temperature")),
    ("nt_xent", "unnormalized-wide", _pairs(19, 40, normalize=False, temperature=3.0), (0, 1)),
    ("supcon", "plain", _labelled(37, 5, 4, temperature=0.1), (0,)),
    ("supcon", "ref-weight-learnable", _labelled(27, 5, 4, ref=19, weight=True, learnable=0.3),
     (0, "ref_emb", "temperature")),
    ("supcon", "unnormalized-wide-learnable", _labelled(37, 40, 5, normalize=False,
                                                       learnable=2.0), (0, "temperature")),
]
# The definitions upcast bfloat16 embeddings (and normalize them) before they dispatch, so
# the kernels see float32 from the public call either way: three bfloat16 cases check that
# route, and test_lse_kernels_take_low_precision hands them bfloat16 and float16 directly.
LSE_BF16 = {"negatives-weight-learnable", "weight-learnable", "ref-weight-learnable"}
LSE_PARAMS = [pytest.param(*case, dtype, id=f"{case[0]}-{case[1]}-{str(dtype)[6:]}")
              for case in LSE_CASES for dtype in (torch.float32, torch.bfloat16)
              if dtype == torch.float32 or case[1] in LSE_BF16]


def _lse_run(name, args, opts, grad, reduction, **extra):
    """Value and gradients (upstream gradient seeded) of one call; ``grad`` names positional
    indices and keyword tensors (a learnable temperature, ref_emb)."""
    fn = losskit.info(name).fn
    args = [a.detach().clone().requires_grad_(i in grad) if a.is_floating_point() else a
            for i, a in enumerate(args)]
    opts = {k: v.detach().clone().requires_grad_(True) if k in grad else v
            for k, v in opts.items()}
    out = fn(*args, reduction=reduction, **opts, **extra)
    up = (torch.rand(out.shape, generator=_gen(7)) + 0.5).to(out.device, out.dtype)
    leaves = [args[i] if isinstance(i, int) else opts[i] for i in grad]
    grads = torch.autograd.grad(out, leaves, up)
    return out.detach(), [g.detach() for g in grads]


@pytest.mark.parametrize(("name", "label", "make", "grad", "dtype"), LSE_PARAMS)
def test_lse_kernels_match_definition(name, label, make, grad, dtype, lse_launches):
    args, opts = make(dtype)
    for reduction in ("mean", "sum", "none"):
        lse_launches.clear()
        with kernels.use("triton"):
            fast = _lse_run(name, args, opts, grad, reduction)
        # symmetric (nt_xent, supcon without ref_emb): one backward launch for G + G^T;
        # otherwise one over the anchors and one over the candidates
        backward = 1 if name == "nt_xent" or (name == "supcon" and "ref_emb" not in opts) else 2
        assert lse_launches == ["forward"] + ["backward"] * backward, \
            f"{name} {label}: the Triton kernels did not run ({lse_launches})"
        with kernels.use("plain"):
            plain = _lse_run(name, args, opts, grad, reduction)
        # Both sides compute in float32 (the definition upcasts): values to float32
        # rounding; gradients of bfloat16 leaves are rounded to bfloat16 on both sides.
        rtol, atol = 1e-5, 1e-5
        torch.testing.assert_close(fast[0], plain[0], rtol=rtol, atol=atol,
                                   msg=lambda m, r=reduction: f"{label} {r} value: {m}")
        for what, a, b in zip(grad, fast[1], plain[1]):
            tol = TOL[a.dtype] if a.dtype == torch.bfloat16 else (rtol, atol)
            torch.testing.assert_close(a, b, rtol=tol[0], atol=tol[1],
                                       msg=lambda m, r=reduction, w=what: f"{label} {r} "
                                                                          f"d/d{w}: {m}")


def test_lse_temperature_gradient_is_the_formula(lse_launches):
    # dL/dt of nt_xent ("mean" over the 2N anchors) written out independently: with
    # s = cos / t and G = dL/ds = (softmax(s without the diagonal) - onehot(partner)) / 2N,
    # dL/dt = -(1/t) sum_ij G_ij s_ij.
    g = _gen(13)
    n, t0 = 19, 0.05
    za, zb = torch.randn(n, 6, generator=g), torch.randn(n, 6, generator=g)
    z = torch.nn.functional.normalize(torch.cat([za, zb]).double(), dim=1)
    s = (z @ z.t() / t0).fill_diagonal_(float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    big_g = (torch.softmax(s, 1) - torch.nn.functional.one_hot(partner, 2 * n)) / (2 * n)
    expected = -(big_g * s.nan_to_num(neginf=0.0)).sum() / t0
    t = torch.tensor(t0, requires_grad=True)
    with kernels.use("triton"):
        (got,) = torch.autograd.grad(LF.nt_xent(za.to(DEVICE), zb.to(DEVICE),
                                                temperature=t.to(DEVICE)), t)
    assert lse_launches == ["forward", "backward"]
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-5)
    assert abs(expected.item()) > 1


@pytest.mark.filterwarnings("ignore:Input #.* is not a double precision:UserWarning")
@pytest.mark.parametrize("name", ["info_nce", "nt_xent", "supcon"])
def test_lse_gradcheck_float32(name, lse_launches):
    # The autograd Function against finite differences of its own forward, float32 (the
    # kernels take no float64): a tiny case, central differences of step 1e-3.
    g = _gen(14)
    x = torch.randn(5, 3, generator=g).to(DEVICE).requires_grad_(True)
    y = torch.randn(5, 3, generator=g).to(DEVICE).requires_grad_(True)
    t = torch.tensor(0.5, device=DEVICE, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1, 1], device=DEVICE)
    fn = losskit.info(name).fn
    if name == "supcon":
        def f(t, x, y):
            return fn(x, labels, temperature=t, ref_emb=y, ref_labels=labels.flip(0))
    else:
        def f(t, x, y):
            return fn(x, y, temperature=t)
    with kernels.use("triton"):
        assert torch.autograd.gradcheck(f, (t, x, y), eps=1e-3, atol=2e-3, rtol=1e-2,
                                        nondet_tol=1e-6)
    assert "backward" in lse_launches


def test_lse_second_derivatives_are_the_definitions(lse_launches):
    # create_graph=True: backward differentiates the definition, so a Hessian-vector
    # product through the accelerator (the temperature included) equals the definition's.
    args, opts = _pairs(19, 5, negatives=10, learnable=0.2)(torch.float32)
    hvps = {}
    for mode in ("triton", "plain"):
        q, k = (a.clone().requires_grad_(True) for a in args)
        t = opts["temperature"].clone().requires_grad_(True)
        with kernels.use(mode):
            out = LF.info_nce(q, k, negatives=opts["negatives"], temperature=t)
        gs = torch.autograd.grad(out, [q, k, t], create_graph=True)
        vs = [torch.randn(x.shape, generator=_gen(5)).to(x) for x in (q, k, t)]
        hvps[mode] = torch.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vs)), [q, k, t])
    assert lse_launches == ["forward"]
    for a, b in zip(hvps["triton"], hvps["plain"]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["supcon", "nt_xent"])
def test_lse_candidates_with_own_rows_at_an_offset(name, lse_launches):
    # With distributed=True the candidates are the gathered batch and the anchors sit at
    # this rank's offset in it: not symmetric, and the own column is skipped at i + offset
    # (and at j - offset in the candidates' launch). Called at the dispatch point itself.
    from losskit.functional import metric_learning as ml

    g = _gen(15)
    batch, offset, m = 35, 17, 13
    z = torch.nn.functional.normalize(torch.randn(batch, 6, generator=g), dim=1).to(DEVICE)
    labels = torch.randint(0, 4, (batch,), generator=g).to(DEVICE)
    if name == "supcon":
        opts = dict(anchor_labels=labels[offset:offset + m], candidate_labels=labels,
                    positive_index=None, pair_form=False)
    else:
        opts = dict(anchor_labels=None, candidate_labels=None, pair_form=True,
                    positive_index=(torch.arange(m) * 2 % batch).to(DEVICE))
    results = {}
    for mode in ("triton", "plain"):
        anchors = z[offset:offset + m].clone().requires_grad_(True)
        cands = z.clone().requires_grad_(True)
        t = torch.tensor(0.2, device=DEVICE, requires_grad=True)
        weight = torch.linspace(0.5, 1.5, m, device=DEVICE)
        with kernels.use(mode):
            out = ml._softmax_contrast(name, anchors, cands, t, weight, "none", unit_norm=True,
                                       exclude_offset=offset, distance="cosine", **opts)
        up = torch.rand(out.shape, generator=_gen(7)).to(out)
        results[mode] = (out.detach(), list(torch.autograd.grad(out, [anchors, cands, t], up)))
    assert lse_launches == ["forward", "backward", "backward"]
    _compare(results["triton"], results["plain"], torch.float32, f"{name} at an offset")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["nt_xent", "info_nce"])
def test_lse_kernels_take_low_precision(name, dtype, lse_launches, monkeypatch):
    # The public call hands the kernels float32 (the definition upcasts); here the
    # accelerator takes low-precision embeddings directly, as captured at the dispatch
    # point: loaded as they are (bfloat16 upcast per tile in the interpreter, whose bfloat16
    # tl.dot is wrong), statistics and accumulation in float32, the loss float32 and the
    # gradients in the embeddings' dtype.
    from losskit.functional import metric_learning as ml

    seen = []
    monkeypatch.setattr(ml, "dispatch", lambda loss, *a, **k: seen.append((a, k)))
    args, opts = _pairs(19, 24, negatives=10 if name == "info_nce" else 0,
                        learnable=0.1)(torch.float32)
    losskit.info(name).fn(*args, **opts)
    ((call_args, kw),) = seen
    acc = next(a for a in kernels.accelerators(name) if a.backend == "triton")
    anchors, candidates = call_args
    low = [None if c is None else c.detach().to(dtype).requires_grad_(True)
           for c in (anchors, candidates)]
    t = kw["temperature"].clone().requires_grad_(True)
    kw = dict(kw, temperature=t)
    with kernels.use("triton"):
        assert acc.decline_reason(tuple(low), kw) is None
        out = acc.run(*low, **kw)
    leaves = [x for x in low if x is not None] + [t]
    grads = torch.autograd.grad(out, leaves)
    assert lse_launches[0] == "forward" and "backward" in lse_launches
    assert out.dtype == torch.float32 and all(g.dtype == dtype for g in grads[:-1])
    ref_leaves = [None if x is None else x.detach().float().requires_grad_(True) for x in low]
    t_ref = t.detach().clone().requires_grad_(True)
    ref = kw["definition"](*ref_leaves, t_ref)
    ref_grads = torch.autograd.grad(ref, [x for x in ref_leaves if x is not None] + [t_ref])
    # The same rounded inputs on both sides: the value to float32 rounding (float16 tiles
    # are multiplied as float16 with a float32 accumulator); the gradients to one rounding of
    # the weight tile and of the result in the low-precision dtype.
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    for a, b in zip(grads, ref_grads):
        scale = b.abs().max().clamp(min=1e-12)
        torch.testing.assert_close(a.float() / scale, b / scale, rtol=2e-2, atol=1e-2)


def test_lse_large_logits_stay_finite_and_exact(lse_launches):
    # Unnormalized embeddings with logits of order 1e4: the online log-sum-exp shifts by
    # the running maximum; values and gradients finite and equal to the float64 definition.
    g = _gen(16)
    za = (torch.randn(19, 5, generator=g) * 45).round()
    zb = (torch.randn(19, 5, generator=g) * 45).round()  # integers: exact in both dtypes
    results = {}
    for mode, dtype in (("triton", torch.float32), ("plain", torch.float64)):
        a, b = (x.to(DEVICE, dtype).requires_grad_(True) for x in (za, zb))
        with kernels.use(mode):
            out = LF.nt_xent(a, b, normalize=False, temperature=1.0, reduction="none")
        grads = torch.autograd.grad(out, [a, b], torch.ones_like(out))
        results[mode] = (out.detach().double(), [x.double() for x in grads])
    assert results["plain"][0].abs().max() > 1e3
    assert torch.isfinite(results["triton"][0]).all()
    assert all(torch.isfinite(x).all() for x in results["triton"][1])
    # float32 logits of 1e4 carry an absolute rounding of ~1e-3
    torch.testing.assert_close(results["triton"][0], results["plain"][0], rtol=1e-5, atol=5e-3)
    for x, y in zip(results["triton"][1], results["plain"][1]):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-3)


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # the interpreter's numpy
def test_lse_nan_empty_and_no_positive(lse_launches):
    args, _ = _pairs(19, 5)(torch.float32)
    (z, labels), _ = _labelled(37, 5, 4)(torch.float32)
    bad = args[1].clone()
    bad[3, 2] = float("nan")
    with kernels.use("triton"):
        assert torch.isnan(LF.nt_xent(args[0], bad))
        assert torch.isnan(LF.info_nce(bad, args[0]))
        assert torch.isnan(LF.supcon(bad, labels[:19]))
        # an empty batch: 0 attached to the graph
        empty = args[0][:0].clone().requires_grad_(True)
        out = LF.info_nce(empty, empty.detach())
        (g_empty,) = torch.autograd.grad(out, empty)
        # every label distinct: no anchor has a positive, 0 with zero gradients
        zs = z.clone().requires_grad_(True)
        none = LF.supcon(zs, torch.arange(37, device=DEVICE))
        (g_none,) = torch.autograd.grad(none, zs)
    assert out.item() == 0.0 and g_empty.shape == empty.shape
    assert none.item() == 0.0 and not g_none.any()
    assert lse_launches.count("forward") == 3 + 1 + 1


def test_lse_never_makes_the_matrix(lse_launches):
    # No torch op of the accelerated call (forward and backward) makes a tensor larger than
    # the [2N, d] embeddings, let alone the 2N x 2N similarity matrix: the kernels keep its
    # tiles in registers. Sizes in bytes (the interpreter copies arguments as bytes).
    from torch.utils._python_dispatch import TorchDispatchMode

    class Largest(TorchDispatchMode):
        size = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor):
                    Largest.size = max(Largest.size, t.numel() * t.element_size())
            return out

    n, d = 48, 4
    g = _gen(17)
    za, zb = (torch.randn(n, d, generator=g).to(DEVICE).requires_grad_(True) for _ in "ab")
    t = torch.tensor(0.2, device=DEVICE, requires_grad=True)
    with kernels.use("triton"), Largest():
        LF.nt_xent(za, zb, temperature=t).backward()
        LF.info_nce(za, zb, temperature=t).backward()
    assert lse_launches == ["forward", "backward"] + ["forward"] + ["backward"] * 2
    assert 0 < Largest.size <= 2 * n * d * 4 < (2 * n) ** 2 * 4 // 20


def test_lse_declines_what_it_does_not_do(lse_launches, monkeypatch):
    args, _ = _pairs(19, 5)(torch.float32)
    (z, labels), _ = _labelled(37, 5, 4)(torch.float32)
    with kernels.use("triton"):
        with pytest.raises(kernels.AcceleratorDeclined, match="float64"):
            LF.nt_xent(args[0].double(), args[1].double())
        with pytest.raises(kernels.AcceleratorDeclined, match="own denominator"):
            LF.nt_xent(args[0], args[1], labels=labels[:19])
        with pytest.raises(kernels.AcceleratorDeclined, match="distance"):
            LF.supcon(z, labels, distance="euclidean")
        with pytest.raises(kernels.AcceleratorDeclined, match="wider"):
            wide = torch.randn(3, triton_contrastive.MAX_DIM + 1, device=DEVICE)
            LF.info_nce(wide, wide)
    assert not lse_launches
    # A tensor of the call on another device than the anchors (checked before a launch).
    from losskit.functional import metric_learning as ml

    seen = []
    monkeypatch.setattr(ml, "dispatch", lambda loss, *a, **k: seen.append((a, k)))
    LF.supcon(z, labels, temperature=torch.tensor(0.1, device=DEVICE))
    ((call_args, kw),) = seen
    acc = next(a for a in kernels.accelerators("supcon") if a.backend == "triton")
    with kernels.use("triton"):
        assert acc.supports(*call_args, **kw) is None
        for key in ("row_weight", "temperature", "anchor_labels"):
            moved = dict(kw, **{key: kw[key].to("meta")})
            assert key in acc.supports(*call_args, **moved)


@pytest.mark.skipif(DEVICE != "cpu", reason="the interpreter's CPU routing")
def test_lse_auto_mode_keeps_the_cpu_off_the_interpreter(lse_launches):
    za, zb = torch.randn(512, 8, requires_grad=True), torch.randn(512, 8)
    assert triton_contrastive.MIN_PAIRS <= (2 * 512) ** 2
    LF.nt_xent(za, zb).backward()
    assert not lse_launches


def test_lse_takes_the_gpu_benchmark_call(monkeypatch):
    # The GPU benchmark's nt_xent case (N = 16384, d = 256 float32 views that require grad,
    # temperature 0.1, auto mode): the arguments the definition dispatches, captured on the
    # meta device, are ones the Triton accelerator takes, it is the first one tried, and the
    # call is the symmetric one (a single backward launch per row block).
    from losskit.functional import metric_learning as ml

    seen = []
    monkeypatch.setattr(ml, "dispatch", lambda loss, *a, **k: seen.append((loss, a, k)))
    za = torch.empty(16384, 256, device="meta", requires_grad=True)
    zb = torch.empty(16384, 256, device="meta", requires_grad=True)
    LF.nt_xent(za, zb, temperature=0.1)
    ((loss, args, kwargs),) = seen
    first = kernels.accelerators("nt_xent")[0]
    assert loss == "nt_xent" and first.backend == "triton"
    assert "cuda" in first.devices and args[0].dtype in first.dtypes
    assert args[0].shape == (32768, 256) and args[1] is None
    with kernels.use("auto"):
        assert first.supports(*args, **kwargs) is None


_KERNELS = {"_softmax_rows_kernel", "_overlap_forward_kernel", "_overlap_backward_kernel",
            "_lse_kernel", "_grad_kernel"}


@pytest.mark.slow
@pytest.mark.parametrize("arch", [90, 80])
def test_every_triton_launch_compiles_for_a_gpu(arch):
    # The interpreter runs the kernels' Python, never Triton's compiler. tests/_triton_aot.py
    # runs every launcher on meta tensors (the GPU benchmark's sizes and small ones, every
    # dtype and flag the accelerators pass), records the launches and compiles each for
    # sm_90 (H100 / H200) and sm_80 (A100) without a GPU: each must compile, fit the 99 KB
    # of shared memory of the smallest GPUs (sm_86 / sm_89), and the 16-bit contrastive
    # tiles must take the tensor cores (wgmma on sm_90). Compilation only: nothing runs.
    if torch.cuda.is_available():
        pytest.skip("with a GPU the other tests compile and run every kernel on it")
    pytest.importorskip("triton.backends.nvidia")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    script = os.path.join(os.path.dirname(__file__), "_triton_aot.py")
    out = subprocess.run([sys.executable, script, str(arch)], capture_output=True, text=True,
                         env=env, timeout=600)
    if out.returncode != 0 and "ptxas" in out.stderr.lower() and "not found" in out.stderr.lower():
        pytest.skip("Triton's bundled ptxas is not available here")
    assert out.returncode == 0, out.stderr[-3000:]
    *lines, last = out.stdout.strip().splitlines()
    rows = [line.split() for line in lines]
    assert last == f"compiled {len(rows)}" and len(rows) >= 60
    assert {row[0] for row in rows} == _KERNELS
    for kernel, pointers, flags, warps, shared, wgmma in rows:
        where = f"{kernel} ({pointers}; {flags}; {warps} warps)"
        assert int(shared) <= 99 * 1024, f"{where}: {shared} bytes of shared memory"
        tensor_cores = kernel in ("_lse_kernel", "_grad_kernel") and \
            pointers.split(",")[0] in ("bf16", "fp16")
        assert (wgmma == "True") == (tensor_cores and arch == 90), f"{where}: tensor cores?"
