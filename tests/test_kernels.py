"""The fast paths in losskit.kernels agree with the plain definitions, value and gradient.

Expected values come from the plain definitions written out here or from torch
builtins (F.huber_loss, F.smooth_l1_loss, F.binary_cross_entropy_with_logits,
F.cross_entropy). Every test runs with the native kernels on and, where a plain
torch fallback exists, with them off, so the suite holds with or without a compiler.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losskit
import losskit.functional as LF
from losskit.kernels import _native
from losskit.kernels.elementwise import MIN_NUMEL, elementwise_loss, usable
from losskit.kernels.softmax_xent import SoftmaxCrossEntropy, softmax_rows, softmax_rows_plain

native_available = _native.library() is not None
needs_native = pytest.mark.skipif(not native_available, reason=f"no native kernels: "
                                  f"{_native.build_error()}")

TOL = {torch.float64: (1e-6, 1e-6), torch.float32: (2e-5, 1e-5)}


@pytest.fixture(params=[True, False], ids=["native", "plain"])
def native(request):
    previous = _native.enabled()
    _native.set_enabled(request.param)
    yield request.param
    _native.set_enabled(previous)


def _sigmoid_focal_plain(x, y, gamma, alpha):
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return loss


def _smoothed(y, s):
    return y * (1 - s) + 0.5 * s


#: kind -> (kernel parameters, plain per-element definition, target kind)
PLAIN = {
    "mse": ((), lambda x, y: (x - y).square(), "values"),
    "mae": ((), lambda x, y: (x - y).abs(), "values"),
    "huber": ((0.7,), lambda x, y: F.huber_loss(x, y, delta=0.7, reduction="none"), "values"),
    "smooth_l1": ((0.4,), lambda x, y: F.smooth_l1_loss(x, y, beta=0.4, reduction="none"),
                  "values"),
    "log_cosh": ((), lambda x, y: torch.log(torch.cosh(x - y)), "values"),
    "binary_cross_entropy": (
        (2.5, 0.1),
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, _smoothed(y, 0.1), pos_weight=torch.tensor(2.5, dtype=x.dtype), reduction="none"),
        "probabilities"),
    "sigmoid_focal": ((2.0, 0.25, 0.0), lambda x, y: _sigmoid_focal_plain(x, y, 2.0, 0.25),
                      "binary"),
    "sigmoid_focal_gamma": ((1.5, -1.0, 0.0), lambda x, y: _sigmoid_focal_plain(x, y, 1.5, -1),
                            "probabilities"),
}


def _pair(kind, dtype, n=MIN_NUMEL + 17, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, generator=g, dtype=torch.float64) * 3).to(dtype)
    if kind == "values":
        y = (torch.randn(n, generator=g, dtype=torch.float64) * 3).to(dtype)
    elif kind == "binary":
        y = (torch.rand(n, generator=g, dtype=torch.float64) > 0.7).to(dtype)
    else:
        y = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    return x, y


@needs_native
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", sorted(PLAIN))
def test_elementwise_kernel_matches_plain_definition(case, reduction, dtype):
    kind = "sigmoid_focal" if case.startswith("sigmoid_focal") else case
    params, plain, target_kind = PLAIN[case]
    x, y = _pair(target_kind, dtype)
    assert usable(kind, x, y)
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ours = elementwise_loss(kind, xa, y, reduction, *params)
    ref = plain(xb.double(), y.double())
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    rtol, atol = TOL[dtype]
    assert ours.dtype == dtype
    torch.testing.assert_close(ours.double(), ref, rtol=rtol, atol=atol * max(1, x.numel()
                                                                           if reduction == "sum"
                                                                           else 1))
    upstream = torch.rand_like(ref) if reduction == "none" else torch.tensor(1.7, dtype=ref.dtype)
    (g_ours,) = torch.autograd.grad(ours, xa, upstream.to(dtype))
    (g_ref,) = torch.autograd.grad(ref, xb, upstream)
    torch.testing.assert_close(g_ours.double(), g_ref.double(), rtol=rtol, atol=atol)


@needs_native
def test_elementwise_target_gradient_and_second_backward():
    x, y = _pair("values", torch.float64)
    xa, ya = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    loss = elementwise_loss("huber", xa, ya, "mean", 1.0)
    gx, gy = torch.autograd.grad(loss, (xa, ya), retain_graph=True)
    xb, yb = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    ref = F.huber_loss(xb, yb)
    rx, ry = torch.autograd.grad(ref, (xb, yb))
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gy, ry)
    # the saved gradient buffer was handed out; a second backward recomputes it
    gx2, _ = torch.autograd.grad(loss, (xa, ya))
    torch.testing.assert_close(gx2, rx)


@needs_native
def test_elementwise_no_grad_call_makes_no_gradient(monkeypatch):
    from losskit.kernels import elementwise

    seen = []
    real = elementwise._run
    monkeypatch.setattr(elementwise, "_run", lambda *a: seen.append(a[4]) or real(*a))
    x, y = _pair("values", torch.float32)
    LF.mse(x, y)
    with torch.no_grad():
        LF.mse(x.requires_grad_(True), y)
    assert seen == [False, False]


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "smooth_l1", "log_cosh"])
def test_regression_functional_same_with_and_without_native(name, native):
    x, y = _pair("values", torch.float32, seed=3)
    fn = getattr(LF, name)
    xa = x.clone().requires_grad_(True)
    out = fn(xa, y)
    out.backward()
    xb = x.double().requires_grad_(True)
    ref = getattr(LF, name)(xb, y.double())
    ref.backward()
    torch.testing.assert_close(out.double(), ref, rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(xa.grad.double(), xb.grad, rtol=2e-5, atol=1e-9)


# --- softmax rows ---------------------------------------------------------------------------


def _rows(n=37, c=29, dtype=torch.float64, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, c, generator=g, dtype=torch.float64) * scale).to(dtype)
    t = torch.randint(0, c, (n,), generator=g)
    t[::5] = -100
    w = torch.rand(c, generator=g, dtype=torch.float64).to(dtype) + 0.5
    return x, t, w


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("options", [
    {}, {"label_smoothing": 0.2}, {"class_weight": True}, {"class_weight": True,
                                                            "label_smoothing": 0.1},
    {"z_loss": 1e-2}, {"gamma": 2.0}, {"gamma": 0.5, "class_weight": True},
])
def test_softmax_rows_match_cross_entropy(options, dtype, native):
    x, t, w = _rows(dtype=dtype)
    opts = dict(options)
    cw = w if opts.pop("class_weight", False) else None
    ls, zl, gamma = opts.get("label_smoothing", 0.0), opts.get("z_loss", 0.0), opts.get("gamma", 0)
    xr = x.double().requires_grad_(True)
    valid = t != -100
    if gamma:
        logp = F.log_softmax(xr, 1).gather(1, t.clamp(min=0)[:, None]).squeeze(1)
        wt = cw.double()[t.clamp(min=0)] if cw is not None else 1.0
        ref = torch.where(valid, -wt * (1 - logp.exp()) ** gamma * logp, 0.0)
    else:
        ref = F.cross_entropy(xr, t, weight=None if cw is None else cw.double(),
                              label_smoothing=ls, reduction="none")
        ref = ref + zl * torch.where(valid, torch.logsumexp(xr, 1), 0.0).square()
    scale = torch.rand(x.shape[0], dtype=torch.float64) + 0.5
    (g_ref,) = torch.autograd.grad((ref * scale).sum(), xr)
    loss, lse, grad = softmax_rows(x.clone(), t, class_weight=cw, label_smoothing=ls, z_loss=zl,
                                   gamma=gamma, grad_scale=scale.to(dtype), want_grad=True)
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(loss.double(), ref.detach(), rtol=rtol, atol=atol)
    torch.testing.assert_close(grad.double(), g_ref, rtol=rtol, atol=atol)
    torch.testing.assert_close(lse.double(), torch.where(valid, torch.logsumexp(x.double(), 1),
                                                         0.0), rtol=rtol, atol=atol)


@needs_native
def test_softmax_rows_in_place_and_extreme_logits():
    x, t, w = _rows(dtype=torch.float32, scale=1e4)
    ref_loss, _, ref_grad = softmax_rows_plain(x.double(), t, class_weight=w.double(),
                                               label_smoothing=0.1, want_grad=True)
    buf = x.clone()
    loss, _, grad = softmax_rows(buf, t, class_weight=w, label_smoothing=0.1, want_grad=True,
                                 grad_out=buf)
    assert grad.data_ptr() == buf.data_ptr()
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    torch.testing.assert_close(loss.double(), ref_loss, rtol=1e-5, atol=1e-2)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_function(reduction, native):
    x, t, w = _rows()
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ours = SoftmaxCrossEntropy.apply(xa, t, w, -100, 0.1, 0.0, reduction)
    ref = F.cross_entropy(xb, t, weight=w, label_smoothing=0.1, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    up = torch.rand_like(ref) if reduction == "none" else torch.tensor(0.3, dtype=ref.dtype)
    torch.testing.assert_close(torch.autograd.grad(ours, xa, up)[0],
                               torch.autograd.grad(ref, xb, up)[0])


def test_native_build_is_cached_and_reported():
    if native_available:
        assert _native.build_error() is None
    else:
        assert _native.build_error()


# --- the functional losses that route to the kernels ------------------------------------------


def _large_classes(dtype=torch.float32, n=64, c=1024):
    g = torch.Generator().manual_seed(5)
    x = (torch.randn(n, c, generator=g, dtype=torch.float64) * 3).to(dtype)
    t = torch.randint(0, c, (n,), generator=g)
    t[::7] = -100
    w = torch.rand(c, generator=g, dtype=torch.float64).to(dtype) + 0.1
    return x, t, w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_focal_functional_match_plain(reduction, native):
    x, t, w = _large_classes(torch.float64)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = LF.cross_entropy(xa, t, class_weight=w, label_smoothing=0.1, reduction=reduction)
    ref = F.cross_entropy(xb, t, weight=w, label_smoothing=0.1, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    up = torch.rand_like(ref) if reduction == "none" else torch.tensor(1.3, dtype=ref.dtype)
    torch.testing.assert_close(torch.autograd.grad(ours, xa, up)[0],
                               torch.autograd.grad(ref, xb, up)[0])
    # softmax focal: alpha multiplies, "mean" divides by the counted rows
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ours = LF.softmax_focal(xa, t, gamma=2.0, alpha=w, reduction=reduction)
    valid = t != -100
    logp = F.log_softmax(xb, 1).gather(1, t.clamp(min=0)[:, None]).squeeze(1)
    per = torch.where(valid, -w[t.clamp(min=0)] * (1 - logp.exp()) ** 2 * logp, 0.0)
    ref = {"mean": per.sum() / valid.sum(), "sum": per.sum(), "none": per}[reduction]
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, xa, up)[0],
                               torch.autograd.grad(ref, xb, up)[0])


def test_cross_entropy_all_ignored_is_zero_on_every_path(native):
    for n, c in ((4, 3), (64, 1024)):
        x = torch.randn(n, c, requires_grad=True)
        out = LF.cross_entropy(x, torch.full((n,), -100))
        assert out.item() == 0.0
        (g,) = torch.autograd.grad(out, x)
        assert not g.any()


@pytest.mark.parametrize("name", ["binary_cross_entropy", "sigmoid_focal"])
def test_binary_functional_same_with_and_without_native(name, native):
    x, y = _pair("binary", torch.float32, seed=4)
    kwargs = {"pos_weight": 3.0, "label_smoothing": 0.05} if name == "binary_cross_entropy" \
        else {"gamma": 2.0, "alpha": 0.25}
    xa = x.clone().requires_grad_(True)
    out = getattr(LF, name)(xa, y, **kwargs)
    out.backward()
    xb = x.double().requires_grad_(True)
    if name == "binary_cross_entropy":
        ref = F.binary_cross_entropy_with_logits(
            xb, _smoothed(y.double(), 0.05), pos_weight=torch.tensor(3.0, dtype=torch.float64))
    else:
        ref = _sigmoid_focal_plain(xb, y.double(), 2.0, 0.25).mean()
    ref.backward()
    torch.testing.assert_close(out.double(), ref, rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(xa.grad.double(), xb.grad, rtol=2e-5, atol=1e-9)


def test_benchmark_runner_quick_case_end_to_end(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    runner = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    if not runner.exists():
        pytest.skip("benchmarks/ not in this checkout")
    out = tmp_path / "results.md"
    proc = subprocess.run([sys.executable, str(runner), "--quick", "--cases", "overhead_mse",
                           "--reps", "3", "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "| overhead_mse |" in text and "torch F.mse_loss" in text and "CPU" in text


def test_failed_build_falls_back_to_plain_paths(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import warnings, torch, losskit.functional as LF\n"
        "from losskit.kernels import _native\n"
        "x = torch.randn(1 << 16, requires_grad=True); y = torch.randn(1 << 16)\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    LF.huber(x, y).backward()\n"
        "assert _native.library() is None and 'no-such-cc' in _native.build_error()\n"
        "assert any('native kernels unavailable' in str(m.message) for m in w)\n"
        "h = torch.randn(8, 4, requires_grad=True); W = torch.randn(5, 4)\n"
        "LF.linear_cross_entropy(h, W, torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])).backward()\n"
        "print('ok')\n"
    )
    env = dict(os.environ, CC=str(tmp_path / "no-such-cc"), TORCH_EXTENSIONS_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# --- overlap statistics (Dice family): native softmax kernel vs the plain path --------------


@needs_native
@pytest.mark.parametrize("ignore", [None, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_overlap_softmax_kernel_matches_plain(ignore, dtype):
    from losskit.functional import segmentation as seg

    g = torch.Generator().manual_seed(11)
    # S = 2 * 9000 voxels spans several OV_CHUNK tasks and a partial OV_BV block.
    x = (3 * torch.randn(2, 5, 2, 9000, generator=g, dtype=dtype)).requires_grad_(True)
    t = torch.randint(0, 5, (2, 2, 9000), generator=g)
    w_i = torch.rand(2, 5, generator=g, dtype=dtype)
    w_p = torch.randn(2, 5, generator=g, dtype=dtype)
    results = []
    previous = _native.enabled()
    try:
        for on in (True, False):
            _native.set_enabled(on)
            st = seg.overlap_stats(x, t, ignore_index=ignore)
            value = (st.intersection * w_i).sum() + (st.prediction * w_p).sum()
            total = value + LF.dice(x, t, ignore_index=ignore)
            (grad,) = torch.autograd.grad(total, x, retain_graph=True)
            (again,) = torch.autograd.grad(total, x)  # a retained graph gives the same
            torch.testing.assert_close(again, grad, rtol=0, atol=0)
            results.append((st.intersection, st.prediction, st.target, grad))
    finally:
        _native.set_enabled(previous)
    rtol, atol = (1e-6, 1e-6) if dtype == torch.float64 else (1e-4, 1e-4)
    for ours, plain in zip(*results):
        torch.testing.assert_close(ours, plain, rtol=rtol, atol=atol)


@needs_native
def test_overlap_softmax_kernel_gradcheck():
    from losskit.functional import segmentation as seg

    g = torch.Generator().manual_seed(12)
    x = torch.randn(2, 3, 17, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 3, (2, 17), generator=g)
    valid = torch.rand(2, 17, generator=g) > 0.3
    assert _native.overlap_softmax_supported(x)
    assert torch.autograd.gradcheck(
        lambda v: seg._NativeIndexOverlap.apply(v, t, valid)[:2], (x,))


# --- similarity log-sum-exp: eager gradient (small S) vs blockwise recompute ----------------


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("upstream", ["constant", "weighted"])
def test_similarity_logsumexp_eager_matches_recompute(monkeypatch, symmetric, upstream):
    from losskit.kernels import contrastive

    monkeypatch.setattr(contrastive, "_BLOCK_ELEMENTS", 40)
    g = torch.Generator().manual_seed(13)
    q = torch.randn(11, 3, generator=g, dtype=torch.float64, requires_grad=True)
    k = q if symmetric else torch.randn(13, 3, generator=g, dtype=torch.float64,
                                        requires_grad=True)
    exclude = torch.arange(11) if symmetric else torch.tensor([0, -1, 2, 12, -1, 5, 6, 7, 8,
                                                                 9, 10])
    w = (torch.full((11,), 0.3, dtype=torch.float64) if upstream == "constant"
         else torch.rand(11, generator=g, dtype=torch.float64))
    inputs = (q,) if symmetric else (q, k)
    s = 2.5 * q @ k.t()
    rows = torch.nonzero(exclude >= 0).squeeze(1)
    s = s.index_put((rows, exclude[rows]), torch.tensor(float("-inf"), dtype=s.dtype))
    expected = torch.logsumexp(s, dim=1)
    expected_grads = torch.autograd.grad((expected * w).sum(), inputs)
    for eager_limit in (1 << 26, 0):  # eager path, then the recompute path
        monkeypatch.setattr(contrastive, "_EAGER_ELEMENTS", eager_limit)
        ours = contrastive.similarity_logsumexp(q, k, 2.5, exclude)
        torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-6)
        for a, b in zip(torch.autograd.grad((ours * w).sum(), inputs), expected_grads):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(contrastive, "_EAGER_ELEMENTS", 1 << 26)
    assert torch.autograd.gradcheck(
        lambda *t: contrastive.similarity_logsumexp(t[0], t[0] if symmetric else t[1], 2.5,
                                                    exclude), inputs)


def test_nt_xent_eager_and_recompute_agree(monkeypatch):
    from losskit.kernels import contrastive

    g = torch.Generator().manual_seed(14)
    za = torch.randn(40, 8, generator=g, dtype=torch.float64, requires_grad=True)
    zb = torch.randn(40, 8, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(40, generator=g, dtype=torch.float64)
    results = []
    for eager_limit in (1 << 26, 0):
        monkeypatch.setattr(contrastive, "_EAGER_ELEMENTS", eager_limit)
        for kw in ({}, {"weight": weight}):
            loss = LF.nt_xent(za, zb, temperature=0.1, **kw)
            results.append((loss, *torch.autograd.grad(loss, (za, zb))))
    for eager, recompute in zip(results[:2], results[2:]):
        for a, b in zip(eager, recompute):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


# --- CORAL kernel, probability range check ---------------------------------------------------


def _coral_inputs(dtype, n=257, k=6, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, k, generator=g, dtype=torch.float64) * 4)
    x[0] = torch.tensor([60.0, -60.0, 1e4, -1e4, 0.0, 20.0])  # saturated logits stay finite
    t = torch.randint(0, k + 1, (n,), generator=g)
    return x.to(dtype), t


@needs_native
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_coral_kernel_matches_plain(dtype, reduction, weighted):
    x0, t = _coral_inputs(dtype)
    iw = torch.linspace(0.5, 2.0, x0.shape[1], dtype=dtype) if weighted else None
    results = []
    previous = _native.enabled()
    try:
        for on in (True, False):
            _native.set_enabled(on)
            x = x0.clone().requires_grad_(True)
            out = LF.coral(x, t, importance_weights=iw, reduction=reduction)
            upstream = torch.linspace(-1.0, 2.0, out.numel(), dtype=out.dtype).reshape(out.shape)
            (g,) = torch.autograd.grad(out, x, upstream)
            with torch.no_grad():
                nograd = LF.coral(x0, t, importance_weights=iw, reduction=reduction)
            results.append((out.detach(), g, nograd))
    finally:
        _native.set_enabled(previous)
    rtol, atol = TOL.get(dtype, (2e-2, 2e-2))
    for a, b in zip(results[0], results[1]):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a.double(), b.double(), rtol=rtol, atol=atol)


@needs_native
def test_coral_kernel_second_backward_and_upstream_scale():
    x0, t = _coral_inputs(torch.float64, n=40)
    x = x0.clone().requires_grad_(True)
    out = LF.coral(x, t)
    (g1,) = torch.autograd.grad(3.0 * out, x, retain_graph=True)
    (g2,) = torch.autograd.grad(out, x)
    torch.testing.assert_close(g1, 3.0 * g2)
    levels = (t[:, None] > torch.arange(x0.shape[1])).double()
    expected = (torch.sigmoid(x0) - levels) / x0.shape[0]
    torch.testing.assert_close(g2, expected)


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_unit_range_check(dtype):
    ok = torch.tensor([0.0, 1.0, 0.5, 1e-30], dtype=dtype)
    assert _native.in_unit_range(ok) is True
    for bad in (-1e-30, 1.0000001, float("nan"), float("inf"), -float("inf")):
        t = ok.clone()
        t[2] = bad
        assert _native.in_unit_range(t) is False, bad
    assert _native.in_unit_range(ok[::2]) is None  # not contiguous: the torch path decides
    assert _native.in_unit_range(ok.half()) is None


def test_small_cross_entropy_hot_path_errors_and_empty_selection():
    x = torch.randn(5, 4, requires_grad=True)
    with pytest.raises(losskit.LossInputError, match=r"0\.\.3"):
        LF.cross_entropy(x, torch.tensor([0, 1, 2, 3, 4]))
    with pytest.raises(losskit.LossInputError, match="target"):
        LF.cross_entropy(x, torch.tensor([0, 1, 2]))
    with pytest.raises(losskit.LossInputError, match="label_smoothing"):
        LF.cross_entropy(x, torch.tensor([0, 1, 2, 3, 0]), label_smoothing=2.0)
    out = LF.cross_entropy(x, torch.full((5,), 7), ignore_index=7)
    assert out.item() == 0.0
    (g,) = torch.autograd.grad(out, x)
    assert torch.equal(g, torch.zeros_like(g))
    xn = x.detach().clone()
    xn[1, 2] = float("nan")
    assert torch.isnan(LF.cross_entropy(xn, torch.tensor([0, 1, 2, 3, 0])))
    y = torch.tensor([0, 1, -100, 3, 2])
    torch.testing.assert_close(LF.cross_entropy(x, y), F.cross_entropy(x, y))


@pytest.mark.parametrize("spread", [1.0, 40.0])  # one shared shift, then per-row shifts
def test_similarity_logsumexp_eager_symmetric_shift_choice(spread):
    from losskit.kernels import contrastive

    g = torch.Generator().manual_seed(15)
    # Row norms from 1 to `spread`: with scale 2.5 the row maxima of S differ by far more
    # than _SHARED_SHIFT_SPREAD[float64] when spread = 40.
    norms = torch.linspace(1.0, spread, 12, dtype=torch.float64)[:, None]
    q = (torch.nn.functional.normalize(torch.randn(12, 4, generator=g, dtype=torch.float64),
                                       dim=1) * norms).requires_grad_(True)
    exclude = torch.arange(12)
    ours = contrastive.similarity_logsumexp(q, q, 2.5, exclude)
    s = (2.5 * q @ q.t()).masked_fill(torch.eye(12, dtype=torch.bool), float("-inf"))
    expected = torch.logsumexp(s, dim=1)
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-6)
    (a,) = torch.autograd.grad(ours.sum() * 0.7, q)
    (b,) = torch.autograd.grad(expected.sum() * 0.7, q)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
