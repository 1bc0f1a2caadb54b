"""The common suite: every registered loss runs every check of ``losskit.check``, plus the
cases that only a test suite needs. One conformance engine: the checks are the ones users
run on their own losses (``losskit.verify``); nothing here re-implements them.

Parametrized by the registry, so a new loss is covered by adding it. A built-in that
cannot meet a check says why in its ``LossInfo.expected_failures`` (the check is then
skipped with that reason).

Expected values come from independent sources: each loss's ``reference`` (a brute-force
loop, a closed form or a peer library, named in its LossInfo), run against the
definition alone (``LOSSKIT_KERNELS=plain``) and against the accelerated path; identities
of the reduction contract; finite differences (gradcheck, gradgradcheck); and the
properties each loss claims, each measured by a check that a planted bad loss fails
(tests/test_verify.py).
"""

from __future__ import annotations

import pytest
import torch

import losskit
from losskit import kernels
from losskit._core.registry import PROPERTIES
from losskit.verify import CHECKS
from losskit.verify import _transforms as transforms
from losskit.verify._api import run_check
from losskit.verify._subject import build_subject

from .common import ALL_LOSSES, example, grad_tensors, skip_if_expected

#: (loss, check) pairs still being brought to the one-definition design. Strict: a pair
#: that starts passing fails here until it is removed from this table.
PENDING: dict[str, tuple[str, ...]] = {}


#: expected_failures keys that only this suite reads (not check names).
COMMON_ONLY = {"weight", "empty_batch"}


@pytest.fixture(autouse=True)
def _compile_with_aot_eager(monkeypatch):
    # aot_eager traces with dynamo (fullgraph proves there is no graph break, the part that
    # can fail in our code) and runs AOTAutograd's forward/backward split without
    # generating C++; inductor runs on a representative set in tests/test_compile.py.
    monkeypatch.setattr(transforms, "COMPILE_BACKEND", "aot_eager")


def _assert_passes(name: str, check: str) -> None:
    subject = build_subject(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_check(subject, check)
    finally:
        torch.set_num_threads(threads)
    if result.status == "skipped":
        pytest.skip(result.detail)
    assert result.status == "passed", f"{name} / {check}: {result.detail}"


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", ALL_LOSSES)
def test_check(name, check, request):
    if check in PENDING.get(name, ()):
        request.applymarker(pytest.mark.xfail(strict=True, reason="pending refactor"))
    _assert_passes(name, check)


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_definition_matches_reference(name):
    """The definition alone (no accelerator) against the independent reference."""
    if losskit.info(name).reference is None:
        pytest.skip(f"{name} has no independent reference; its family test pins its values")
    with kernels.use("plain"):
        _assert_passes(name, "reference")


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_card_is_complete(name):
    info = losskit.info(name)
    card = info.card()
    for field in ("summary", "formula", "gradient", "when_to_use", "pitfalls"):
        assert len(card[field]) > 20, f"{name}.{field} is too thin to help a user"
    assert info.references, f"{name} names no reference"
    assert set(info.properties) <= set(PROPERTIES)
    for alias in info.aliases:
        assert losskit.info(alias) is info
    unknown = set(info.expected_failures) - set(CHECKS) - COMMON_ONLY
    assert not unknown, f"{name}: expected_failures names no check: {sorted(unknown)}"
    # the generated module forwards to the function
    module = losskit.get(name)
    args = example(info, requires_grad=False)
    torch.testing.assert_close(module(*args), info.fn(*args))


@pytest.mark.parametrize("name", ALL_LOSSES)
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


@pytest.mark.parametrize("name", ALL_LOSSES)
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


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_all_ignored_gives_zero_and_zero_gradients(name):
    info = losskit.info(name)
    if not info.accepts("ignore_index") or "target" not in info.data_arguments:
        pytest.skip(f"{name} takes no ignore_index")
    args = list(example(info))
    target_pos = info.data_arguments.index("target")
    args[target_pos] = torch.full_like(args[target_pos], -100)
    out = info.fn(*args, ignore_index=-100)
    assert out.item() == 0.0
    for g in torch.autograd.grad(out, grad_tensors(info, tuple(args)), allow_unused=True):
        assert g is None or torch.equal(g, torch.zeros_like(g))


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_plain_and_accelerated_paths_agree(name):
    """Whatever accelerator ``auto`` picks for the example gives the definition's value."""
    info = losskit.info(name)
    args = example(info, requires_grad=False)
    with kernels.use("plain"):
        plain = info.fn(*args)
    torch.testing.assert_close(info.fn(*args), plain, rtol=1e-6, atol=1e-8)
