"""The common suite: every registered loss runs every test here, parametrized by the registry.

Expected values come from three independent sources: the loss's own ``reference``
(a torch builtin or a brute-force loop, named in its LossInfo), closed-form
identities of the reduction contract (``sum == none.sum()``), and finite differences
(``torch.autograd.gradcheck``).
"""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit._core.registry import PROPERTIES

from .common import (
    ALL_LOSSES,
    LOW_PRECISION_TOL,
    SCALABLE,
    example,
    grad_tensors,
    scaled,
    skip_if_expected,
)

pytestmark = pytest.mark.parametrize("name", ALL_LOSSES)


def test_card_is_complete(name):
    info = losskit.info(name)
    card = info.card()
    for field in ("summary", "formula", "gradient", "when_to_use", "pitfalls"):
        assert len(card[field]) > 20, f"{name}.{field} is too thin to help a user"
    assert info.references, f"{name} names no reference"
    assert set(info.properties) <= set(PROPERTIES)
    for alias in info.aliases:
        assert losskit.info(alias) is info
    # the generated module forwards to the function
    module = losskit.get(name)
    args = example(info, requires_grad=False)
    torch.testing.assert_close(module(*args), info.fn(*args))


def test_mean_is_finite_scalar(name):
    info = losskit.info(name)
    out = info.fn(*example(info))
    assert out.dim() == 0 and torch.isfinite(out)


def test_gradcheck_float64(name):
    info = losskit.info(name)
    skip_if_expected(info, "gradcheck")
    args = example(info, n=3, seed=1)
    inputs = grad_tensors(info, args)

    def fn(*diff):
        call = list(args)
        for pos, t in zip(info.grad_args, diff):
            call[pos] = t
        return info.fn(*call)

    # fast_mode compares random projections of the Jacobian with finite differences:
    # the same test of the backward, without building the full Jacobian of dense losses.
    assert torch.autograd.gradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-4,
                                    fast_mode=True)


def test_reference_values_and_gradients(name):
    info = losskit.info(name)
    if info.reference is None:
        pytest.skip(f"{name} has no independent reference; its family test pins its values")
    # A loss without a reduction argument (a batch statistic) is compared once, as called.
    reductions = ("mean", "sum", "none") if info.accepts("reduction") else (None,)
    for reduction in reductions:
        kw = {} if reduction is None else {"reduction": reduction}
        args = example(info, n=5, seed=2)
        ours = info.fn(*args, **kw)
        ref_args = tuple(a.detach().requires_grad_(True) if isinstance(a, torch.Tensor)
                         and a.requires_grad else a for a in args)
        theirs = info.reference(*ref_args, **kw)
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
        if reduction != "none":
            g1 = torch.autograd.grad(ours, grad_tensors(info, args))
            g2 = torch.autograd.grad(theirs, grad_tensors(info, ref_args))
            for a, b in zip(g1, g2):
                torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_reduction_consistency(name):
    info = losskit.info(name)
    if not info.accepts("reduction"):
        pytest.skip(f"{name} takes no reduction argument")
    skip_if_expected(info, "reduction_consistency")
    args = example(info, requires_grad=False)
    none = info.fn(*args, reduction="none")
    torch.testing.assert_close(info.fn(*args, reduction="sum"), none.sum())
    torch.testing.assert_close(info.fn(*args, reduction="mean"), none.mean())
    with pytest.raises(losskit.LossInputError, match="reduction"):
        info.fn(*args, reduction="average")


def test_weight_rescales_unreduced_loss(name):
    info = losskit.info(name)
    if not info.accepts("weight"):
        pytest.skip(f"{name} takes no weight")
    skip_if_expected(info, "weight")
    args = example(info, requires_grad=False)
    none = info.fn(*args, reduction="none")
    w = torch.rand(none.shape, dtype=none.dtype, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(info.fn(*args, weight=w, reduction="none"), none * w)
    torch.testing.assert_close(info.fn(*args, weight=w, reduction="sum"), (none * w).sum())
    torch.testing.assert_close(info.fn(*args, weight=torch.ones_like(w)), info.fn(*args))


def test_empty_batch_gives_zero_attached(name):
    info = losskit.info(name)
    skip_if_expected(info, "empty_batch")
    args = example(info, n=0)
    out = info.fn(*args)
    assert out.dim() == 0 and out.item() == 0.0
    inputs = grad_tensors(info, args)
    if inputs:
        grads = torch.autograd.grad(out, inputs, allow_unused=True)
        assert all(g is None or not g.any() for g in grads)


def test_all_ignored_gives_zero_and_zero_gradients(name):
    info = losskit.info(name)
    if not info.accepts("ignore_index"):
        pytest.skip(f"{name} takes no ignore_index")
    args = list(example(info))
    target_pos = info.data_arguments.index("target")
    args[target_pos] = torch.full_like(args[target_pos], -100)
    out = info.fn(*args, ignore_index=-100)
    assert out.item() == 0.0
    for g in torch.autograd.grad(out, grad_tensors(info, tuple(args))):
        assert torch.equal(g, torch.zeros_like(g))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_extreme_inputs_stay_finite(name, dtype):
    info = losskit.info(name)
    if info.input_kind not in SCALABLE:
        pytest.skip(f"{info.input_kind} inputs cannot be scaled freely")
    skip_if_expected(info, "extreme_inputs")
    args = scaled(info, example(info, dtype=dtype), 1e4)
    out = info.fn(*args)
    assert torch.isfinite(out), f"{name} gave {out} at magnitude 1e4 in {dtype}"
    for g in torch.autograd.grad(out, grad_tensors(info, args), allow_unused=True):
        assert g is None or torch.isfinite(g).all(), f"{name} gradient not finite in {dtype}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_close_to_float32(name, dtype):
    info = losskit.info(name)
    skip_if_expected(info, "low_precision")
    low = example(info, dtype=dtype, requires_grad=False)
    same_values = tuple(a.float() if isinstance(a, torch.Tensor) and a.dtype == dtype else a
                        for a in low)
    out_low, out_32 = info.fn(*low), info.fn(*same_values)
    assert out_low.dtype == torch.float32, "low-precision inputs accumulate in float32"
    rtol, atol = LOW_PRECISION_TOL[dtype]
    torch.testing.assert_close(out_low, out_32, rtol=rtol, atol=atol)


def test_mean_invariant_to_batch_order(name):
    info = losskit.info(name)
    skip_if_expected(info, "batch_order")
    n = 7
    args = example(info, n=n, requires_grad=False)
    first = args[0]
    if not isinstance(first, torch.Tensor) or first.dim() == 0 or first.shape[0] != n:
        pytest.skip(f"{name}'s first argument is not batch-first")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(4))
    permuted = tuple(a[perm] if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == n
                     else a for a in args)
    torch.testing.assert_close(info.fn(*permuted), info.fn(*args))


# --- every property a LossInfo claims is checked here --------------------------------------


def _grad_max(info, args):
    out = info.fn(*args, reduction="sum") if info.accepts("reduction") else info.fn(*args)
    return max(float(g.abs().max()) for g in torch.autograd.grad(out, grad_tensors(info, args))
               if g.numel())


def test_claimed_properties_hold(name):
    info = losskit.info(name)
    props = info.properties
    if not props:
        pytest.skip(f"{name} claims no properties")
    for seed in range(3):
        args = example(info, seed=seed)
        if "nonnegative" in props:
            values = (info.fn(*args, reduction="none") if info.accepts("reduction")
                      else info.fn(*args))
            assert (values >= -1e-12).all(), f"{name} claims nonnegative"
        if "zero_at_optimum" in props:
            assert info.optimum is not None, f"{name} claims zero_at_optimum but has no optimum"
            assert info.fn(*info.optimum(args)).item() == pytest.approx(0.0, abs=1e-10)
        if {"bounded_gradient", "robust_to_outliers"} & props:
            small = _grad_max(info, args)
            big = _grad_max(info, scaled(info, args, 1e3))
            assert big <= 10 * max(small, 1.0), f"{name} gradient grows with the input"
        if "convex" in props:
            other = example(info, seed=seed + 10)
            a, b = args[0].detach(), other[0].detach()
            mid = list(args)
            mid[0] = 0.5 * (a + b)
            ends = [list(args), list(args)]
            ends[0][0], ends[1][0] = a, b
            lhs = info.fn(*mid).item()
            rhs = 0.5 * (info.fn(*ends[0]).item() + info.fn(*ends[1]).item())
            assert lhs <= rhs + 1e-9, f"{name} claims convexity in the input"
        if "smooth" in props and info.optimum is not None:
            # No kink at the optimum: gradients just either side of it nearly agree.
            opt = info.optimum(args)
            sides = []
            for eps in (1e-4, -1e-4):
                call = list(opt)
                call[0] = (opt[0].detach() + eps).requires_grad_(True)
                sides.append(torch.autograd.grad(info.fn(*call), call[0])[0])
            assert (sides[0] - sides[1]).abs().max() < 1e-2, f"{name} claims smoothness"
        if "handles_imbalance" in props:
            knobs = {"class_weight", "pos_weight", "alpha", "gamma", "beta", "weight"}
            assert knobs & set(info.signature.parameters), f"{name} has no imbalance knob"
