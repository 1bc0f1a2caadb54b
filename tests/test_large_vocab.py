"""linear_cross_entropy equals linear + cross entropy (values and gradients, every option),
and torch's own F.linear_cross_entropy where the options coincide.

Expected values: the plain definition (F.linear then F.cross_entropy, plus the z-loss and
soft-cap formulas written out in the loss's ``_reference``) and torch's
``F.linear_cross_entropy`` with its chunked options.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losskit
from losskit import kernels
from losskit.functional import linear_cross_entropy
from losskit.functional._large_vocab import _reference
from losskit.kernels import _native, linear_xent


@pytest.fixture(params=["native", "torch", "plain"])
def native(request):
    """Each test runs through the C chunked path, the torch chunked path and the
    definition (the forced backends raise if their accelerator declines)."""
    if request.param == "native" and _native.library() is None:
        pytest.skip(f"no native kernels: {_native.build_error()}")
    with kernels.use(request.param):
        yield request.param


@pytest.fixture
def small_blocks(monkeypatch):
    # a few tokens per block, so every test walks several blocks and a ragged last one
    monkeypatch.setattr(linear_xent, "BLOCK_BYTES", 3 * 23 * 8)


def _data(n=19, d=6, v=23, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype)
    w = (torch.randn(v, d, generator=g, dtype=torch.float64) * 0.8).to(dtype)
    b = (torch.randn(v, generator=g, dtype=torch.float64) * 0.3).to(dtype)
    t = torch.randint(0, v, (n,), generator=g)
    t[3] = t[11] = -100
    cw = torch.rand(v, generator=g, dtype=torch.float64).to(dtype) + 0.5
    sw = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    return h, w, b, t, cw, sw


OPTIONS = [
    {},
    {"bias": True},
    {"label_smoothing": 0.15},
    {"z_loss": 1e-2},
    {"softcap": 2.0},
    {"class_weight": True},
    {"weight": True},
    {"bias": True, "label_smoothing": 0.1, "z_loss": 1e-3, "softcap": 3.0, "class_weight": True,
     "weight": True},
]


def _call(fn, h, w, b, t, cw, sw, options, reduction):
    kw = dict(options)
    if kw.pop("bias", False):
        kw["bias"] = b
    if kw.pop("class_weight", False):
        kw["class_weight"] = cw
    if kw.pop("weight", False):
        kw["weight"] = sw
    return fn(h, w, t, reduction=reduction, **kw)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_matches_linear_plus_cross_entropy(options, reduction, native):
    h, w, b, t, cw, sw = _data()
    leaves = [x.clone().requires_grad_(True) for x in (h, w, b)]
    refs = [x.clone().requires_grad_(True) for x in (h, w, b)]
    ours = _call(linear_cross_entropy, *leaves, t, cw, sw, options, reduction)
    ref = _call(_reference, *refs, t, cw, sw, options, reduction)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    up = torch.rand_like(ref) if reduction == "none" else torch.tensor(0.7, dtype=ref.dtype)
    diff = [0, 1] + ([2] if options.get("bias") else [])
    g1 = torch.autograd.grad(ours, [leaves[i] for i in diff], up)
    g2 = torch.autograd.grad(ref, [refs[i] for i in diff], up)
    for a, c in zip(g1, g2):
        torch.testing.assert_close(a, c, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("options", [{}, {"class_weight": True}, {"bias": True}],
                         ids=["plain", "class_weight", "bias"])
@pytest.mark.skipif(not hasattr(F, "linear_cross_entropy"),
                    reason="torch.nn.functional.linear_cross_entropy is new in torch 2.13")
def test_matches_torch_linear_cross_entropy(options, reduction):
    h, w, b, t, cw, _ = _data(n=64, d=16, v=300, dtype=torch.float32)
    leaves = [x.clone().requires_grad_(True) for x in (h, w, b)]
    refs = [x.clone().requires_grad_(True) for x in (h, w, b)]
    ours = _call(linear_cross_entropy, *leaves, t, cw, None, options, reduction)
    ref = F.linear_cross_entropy(
        refs[0], refs[1], t, linear_bias=refs[2] if options.get("bias") else None,
        weight=cw if options.get("class_weight") else None, reduction=reduction,
        ignore_index=-100, options=torch.nn.LinearCrossEntropyOptions())
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    diff = [0, 1] + ([2] if options.get("bias") else [])
    g1 = torch.autograd.grad(ours, [leaves[i] for i in diff])
    g2 = torch.autograd.grad(ref, [refs[i] for i in diff])
    for a, c in zip(g1, g2):
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-6)


def test_sequence_shape_and_none_reduction():
    h, w, _, t, _, _ = _data(n=12)
    out = linear_cross_entropy(h.reshape(3, 4, -1), w, t.reshape(3, 4), reduction="none")
    assert out.shape == (3, 4)
    torch.testing.assert_close(out.reshape(-1), _reference(h, w, t, reduction="none"))
    assert out.reshape(-1)[3] == 0.0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_accumulates_in_float32(dtype, native):
    # every path, the definition too: its logits were once float16 / bfloat16 (rounded to
    # 8 bits, or inf past 65504) while the accelerators' are float32
    h, w, b, t, _, _ = _data(dtype=dtype)
    hl, wl = h.clone().requires_grad_(True), w.clone().requires_grad_(True)
    out = linear_cross_entropy(hl, wl, t, bias=b, z_loss=1e-3)
    assert out.dtype == torch.float32
    h32, w32 = h.float().requires_grad_(True), w.float().requires_grad_(True)
    ref = linear_cross_entropy(h32, w32, t, bias=b.float(), z_loss=1e-3)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    out.backward()
    ref.backward()
    assert hl.grad.dtype == dtype and wl.grad.dtype == dtype
    torch.testing.assert_close(hl.grad.float(), h32.grad, rtol=2e-2, atol=2e-3)


def test_float16_logits_past_65504_on_every_path(native):
    # Source: float64 on the same float16 inputs.
    h, w, _, t, _, _ = _data()
    h16, w16 = (h * 100).half(), (w * 100).half()
    assert (h16.double() @ w16.double().T).abs().max() > 65504
    hl = h16.clone().requires_grad_(True)
    out = linear_cross_entropy(hl, w16, t)
    h64 = h16.double().requires_grad_(True)
    want = F.cross_entropy(h64 @ w16.double().T, t)
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-3)
    (g,) = torch.autograd.grad(out, hl)
    (g64,) = torch.autograd.grad(want, h64)
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g.double(), g64, rtol=2e-2, atol=2e-2)


def test_all_ignored_and_second_backward():
    h, w, _, t, _, _ = _data()
    hl, wl = h.clone().requires_grad_(True), w.clone().requires_grad_(True)
    out = linear_cross_entropy(hl, wl, torch.full_like(t, -100))
    assert out.item() == 0.0
    gh, gw = torch.autograd.grad(out, (hl, wl))
    assert not gh.any() and not gw.any()
    out = linear_cross_entropy(hl, wl, t)
    first = torch.autograd.grad(out, (hl, wl), retain_graph=True)
    second = torch.autograd.grad(out, (hl, wl))
    for a, c in zip(first, second):
        torch.testing.assert_close(a, c)


def test_no_grad_call_computes_no_gradients(monkeypatch):
    seen = []
    real = linear_xent._walk
    monkeypatch.setattr(linear_xent, "_walk", lambda *a: seen.append(a[-2]) or real(*a))
    h, w, _, t, _, _ = _data()
    with torch.no_grad():
        linear_cross_entropy(h.requires_grad_(True), w, t)
    linear_cross_entropy(h.detach(), w, t)
    assert all(not any(want) for want in seen if want)


def test_bad_inputs_raise():
    h, w, _, t, _, _ = _data()
    with pytest.raises(losskit.LossInputError, match="hidden"):
        linear_cross_entropy(h[:, :3], w, t)
    with pytest.raises(losskit.LossInputError, match="target"):
        linear_cross_entropy(h, w, t[:-1])
    with pytest.raises(losskit.LossInputError, match="class index"):
        linear_cross_entropy(h, w, torch.full_like(t, 99))
    with pytest.raises(losskit.LossInputError, match="bias"):
        linear_cross_entropy(h, w, t, bias=torch.zeros(3, dtype=h.dtype))
