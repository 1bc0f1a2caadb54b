"""torch's own CTCLoss test cases, run against losskit.ctc.

Sources (pytorch/pytorch):
* torch/testing/_internal/common_modules.py, module_inputs_torch_nn_CTCLoss: the module
  inputs of torch's ModuleInfo tests, checked there against common_nn.ctcloss_reference
  (Graves' recursion in probability space, shipped with torch; used here too when torch's
  test dependencies are installed) and here against ``brute_force_ctc``;
* torch/testing/_internal/common_methods_invocations.py, sample_inputs_ctc_loss: the
  OpInfo samples of nn.functional.ctc_loss;
* test/test_nn.py, TestNN.test_CTCLoss_* and TestNNDeviceType.test_CTCLoss_no_batch_dim;
* test/test_autograd.py, TestAutogradDeviceType.test_ctc_loss and test_ctc_loss_cudnn.
Tests that compare torch's CPU, CUDA and cuDNN kernels run here on CPU against
``brute_force_ctc`` (the forward recursion in log space, written below).

losskit.ctc runs torch's kernel behind its own checks, so the values agree by
construction where both run; what these cases check is the contract around it. Conventions
asserted as such (documented in ctc's card): losskit's default is zero_infinity=True (torch:
False), so torch's cases pass zero_infinity=False; an impossible alignment raises
LossInputError where torch returns inf; invalid lengths raise LossInputError (a
ValueError) where torch raises RuntimeError.
"""

from __future__ import annotations

import zlib
from itertools import pairwise, product

import pytest
import torch
from torch.testing import make_tensor

import losskit
from losskit import functional as F

try:
    from torch.testing._internal.common_nn import ctcloss_reference
except ImportError:  # common_nn imports expecttest, a test-only dependency of torch
    ctcloss_reference = None


@pytest.fixture(autouse=True)
def _one_thread():
    # Many small CTC problems: on a shared machine extra intra-op threads only add overhead.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def brute_force_ctc(log_probs, targets, input_lengths, target_lengths, blank=0):
    """Per-sample -log p(target | input) by the CTC forward recursion in log space.

    ``log_probs`` ``[T, N, C]``; ``targets`` padded ``[N, S]`` or concatenated; lengths
    sequences of ints. Samples are processed together, each frozen after its own length.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of small steps: threads only add overhead
    try:
        return _brute_force_ctc(log_probs, targets, input_lengths, target_lengths, blank)
    finally:
        torch.set_num_threads(threads)


def _brute_force_ctc(log_probs, targets, input_lengths, target_lengths, blank):
    log_probs = log_probs.detach().double()
    frames, batch, _ = log_probs.shape
    input_lengths = [int(v) for v in input_lengths]
    target_lengths = [int(v) for v in target_lengths]
    if targets.dim() == 1:
        starts = [sum(target_lengths[:i]) for i in range(batch)]
        rows = [targets[s:s + n].tolist() for s, n in zip(starts, target_lengths)]
    else:
        rows = [targets[i, :n].tolist() for i, n in enumerate(target_lengths)]
    states = 2 * max([*target_lengths, 0]) + 1
    ext = torch.full((batch, states), blank, dtype=torch.long)
    for i, row in enumerate(rows):
        for k, label in enumerate(row):
            ext[i, 2 * k + 1] = label
    skip = torch.zeros(batch, states, dtype=torch.bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    neg = torch.tensor(float("-inf"), dtype=torch.float64)
    emit = log_probs.gather(2, ext.unsqueeze(0).expand(frames, batch, states))  # [T, N, S]
    alpha = torch.full((batch, states), float("-inf"), dtype=torch.float64)
    alpha[:, 0] = emit[0, :, 0]
    if states > 1:
        alpha[:, 1] = emit[0, :, 1]
    lengths = torch.tensor(input_lengths)
    for t in range(1, frames):
        one = torch.cat([neg.expand(batch, 1), alpha[:, :-1]], 1)
        two = torch.cat([neg.expand(batch, 2), alpha[:, :-2]], 1)[:, :states]
        two = torch.where(skip, two, neg)
        new = torch.logsumexp(torch.stack([alpha, one, two]), 0) + emit[t]
        alpha = torch.where((t < lengths).unsqueeze(1), new, alpha)
    out = []
    for i, (n_in, n_out) in enumerate(zip(input_lengths, target_lengths)):
        if n_in == 0:
            out.append(0.0 if n_out == 0 else float("inf"))
            continue
        last = alpha[i, 2 * n_out]
        if n_out:
            last = torch.logaddexp(last, alpha[i, 2 * n_out - 1])
        out.append(-float(last))
    return torch.tensor(out, dtype=torch.float64)


def needed_frames(targets, target_lengths):
    """Frames each target needs: its length plus one per repeated neighbour."""
    rows = []
    if targets.dim() == 1:
        start = 0
        for n in target_lengths:
            rows.append(targets[start:start + int(n)].tolist())
            start += int(n)
    else:
        rows = [targets[i, :int(n)].tolist() for i, n in enumerate(target_lengths)]
    return [len(r) + sum(a == b for a, b in pairwise(r)) for r in rows]


def reduce_like_torch(per_sample, target_lengths, reduction):
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    lengths = torch.as_tensor(target_lengths, dtype=per_sample.dtype).clamp(min=1)
    return (per_sample / lengths).mean()


# --- common_modules.module_inputs_torch_nn_CTCLoss --------------------------------------------

MODULE_CASES = [("", {}), ("reduction_sum", {"reduction": "sum"}),
                ("reduction_mean", {"reduction": "mean"}),
                ("reduction_none", {"reduction": "none"}), ("blank", {"blank": 14})]
FORMS = ["lengths_intlists", "lengths_tensors", "1d_target_lengths_intlists",
         "1d_target_lengths_tensors"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("desc, kwargs", MODULE_CASES, ids=[c[0] or "default"
                                                            for c in MODULE_CASES])
@pytest.mark.parametrize("target_dtype", [torch.int, torch.long])
def test_module_inputs(target_dtype, desc, kwargs, form, dtype):
    """module_inputs_torch_nn_CTCLoss, checked against common_nn.ctcloss_reference."""
    torch.manual_seed(zlib.crc32(f"{target_dtype}{desc}{form}{dtype}".encode()))
    blank = kwargs.get("blank", 0)
    low, high = (0, 14) if blank == 14 else (1, 15)
    log_probs = make_tensor((50, 3, 15), device="cpu", dtype=dtype).log_softmax(2)
    if form.startswith("1d"):
        targets = make_tensor((30 + 25 + 20,), device="cpu", dtype=target_dtype, low=low,
                              high=high)
    else:
        targets = make_tensor((3, 30), device="cpu", dtype=target_dtype, low=low, high=high)
    input_lengths, target_lengths = (50, 50, 50), (30, 25, 20)
    if form.endswith("tensors"):
        input_lengths, target_lengths = torch.tensor(input_lengths), torch.tensor(target_lengths)
    per_sample = brute_force_ctc(log_probs, targets, input_lengths, target_lengths,
                                 blank=blank)
    expected = reduce_like_torch(per_sample, target_lengths,
                                 kwargs.get("reduction", "mean")).to(dtype)
    if ctcloss_reference is not None:
        torch.testing.assert_close(
            expected, ctcloss_reference(log_probs, targets, input_lengths, target_lengths,
                                        **kwargs), equal_nan=True)
    if max(n - 50 for n in needed_frames(targets, target_lengths)) > 0:
        # torch's reference (and kernel) return inf for a sample whose repeats do not fit;
        # losskit raises a LossInputError naming it (ctc's card).
        assert torch.isinf(expected).any()
        with pytest.raises(losskit.LossInputError, match="cannot be aligned"):
            F.ctc(log_probs, targets, input_lengths, target_lengths, zero_infinity=False,
                  **kwargs)
        return
    actual = F.ctc(log_probs, targets, input_lengths, target_lengths, zero_infinity=False,
                   **kwargs)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {}
    torch.testing.assert_close(actual, expected, **tol)


# --- common_methods_invocations.sample_inputs_ctc_loss -----------------------------------------


@pytest.mark.parametrize("reduction, zero_infinity, lengths_type",
                         list(product(("none", "mean", "sum"), (True, False), (list, "tensor"))))
def test_opinfo_samples(reduction, zero_infinity, lengths_type):
    """sample_inputs_ctc_loss: T=50, N=16, C=20, targets [16, 30] with lengths 10..29."""
    torch.manual_seed(zlib.crc32(f"{reduction}{zero_infinity}{lengths_type}".encode()))
    log_probs = make_tensor((50, 16, 20), device="cpu", dtype=torch.float64).log_softmax(2)
    targets = torch.randint(1, 20, (16, 30), dtype=torch.long)
    input_lengths = torch.full((16,), 50, dtype=torch.long)
    target_lengths = torch.randint(10, 30, (16,), dtype=torch.long)
    if lengths_type is list and reduction in ["none", "sum"]:
        input_lengths, target_lengths = input_lengths.tolist(), target_lengths.tolist()
    actual = F.ctc(log_probs, targets, input_lengths, target_lengths, reduction=reduction,
                   zero_infinity=zero_infinity)
    per_sample = brute_force_ctc(log_probs, targets, input_lengths, target_lengths)
    assert torch.isfinite(per_sample).all()  # every sample alignable with these lengths
    expected = reduce_like_torch(per_sample, target_lengths, reduction)
    torch.testing.assert_close(actual, expected, rtol=1e-9, atol=1e-9)


# --- test/test_nn.py, TestNN -------------------------------------------------------------------


def test_CTCLoss_typechecks():
    """Float lengths are refused (torch: RuntimeError; losskit: LossInputError)."""
    target_lengths = torch.tensor([30, 25, 20])
    input_lengths = torch.tensor([50, 50, 50])
    targets = torch.randint(1, 15, (sum(target_lengths),), dtype=torch.int)
    log_probs = torch.randn(50, 3, 15, dtype=torch.float).log_softmax(2)
    with pytest.raises(losskit.LossInputError, match="input_lengths"):
        F.ctc(log_probs, targets, input_lengths.to(dtype=torch.float), target_lengths)
    with pytest.raises(losskit.LossInputError, match="target_lengths"):
        F.ctc(log_probs, targets, input_lengths, target_lengths.to(dtype=torch.float))


def test_CTCLoss_lengthchecks_cpu():
    """Every combination of a too-long target width or negative lengths is refused."""
    for target_lengths in [[30, 25, 20], [-1, -1, -1]]:
        for input_lengths in [[50, 50, 50], [-1, -1, -1]]:
            targets = torch.randint(1, 15, (3, 29), dtype=torch.int)
            log_probs = torch.randn(50, 3, 15, dtype=torch.float).log_softmax(2)
            with pytest.raises(losskit.LossInputError):
                F.ctc(log_probs, targets, input_lengths, target_lengths)


@pytest.mark.skip(reason="TestNN.test_CTCLoss_lengthchecks_cuda: the same inputs on CUDA; "
                         "no GPU here (the CPU variant above runs them), and on CUDA "
                         "losskit's value checks are skipped by design (no host sync)")
def test_CTCLoss_lengthchecks_cuda():
    """Cannot run: CUDA."""


@pytest.mark.slow
def test_CTCLoss_long_targets():
    """T=4000, N=4, C=3, targets of 1200 repeated labels (CPU vs CUDA in torch): the value
    against the brute force, the gradient (through log_softmax) along a random direction."""
    torch.manual_seed(0)
    input_length, vocab_size, batch_size, target_length = 4000, 3, 4, 1200
    logits = torch.randn(input_length, batch_size, vocab_size, dtype=torch.double)
    targets = torch.randint(low=1, high=vocab_size - 1, size=(batch_size, target_length),
                            dtype=torch.long)
    input_lengths = batch_size * [input_length]
    target_lengths = batch_size * [target_length]

    def loss(z):
        return F.ctc(z.log_softmax(2), targets, input_lengths, target_lengths,
                     reduction="sum", zero_infinity=True)

    expected = brute_force_ctc(logits.log_softmax(2), targets, input_lengths,
                               target_lengths).sum()
    z = logits.clone().requires_grad_(True)
    value = loss(z)
    torch.testing.assert_close(value.detach(), expected, rtol=1e-10, atol=1e-8)
    (grad,) = torch.autograd.grad(value, z)
    direction = torch.randn_like(logits)
    h = 1e-5
    numeric = (loss(logits + h * direction) - loss(logits - h * direction)) / (2 * h)
    torch.testing.assert_close((grad * direction).sum(), numeric, rtol=1e-6, atol=1e-6)


def test_CTCLoss_critical_target_len():
    """S=256, T=500, C=10 (cuDNN vs CPU in torch): value against the brute force."""
    torch.manual_seed(1)
    n, s, c, t = 1, 256, 10, 500
    target = torch.randint(low=1, high=c, size=(s,), dtype=torch.int)
    input_lengths = torch.full(size=(n,), fill_value=t, dtype=torch.int)
    target_lengths = torch.tensor([s], dtype=torch.int)
    inp = torch.randn(t, n, c, dtype=torch.double).log_softmax(2)
    res = F.ctc(inp, target, input_lengths, target_lengths, reduction="none")
    torch.testing.assert_close(res, brute_force_ctc(inp, target, [t], [s]), rtol=1e-10,
                               atol=1e-8)


def test_CTCLoss_zero_lengths():
    """Part 1: input and target lengths 0 give 0 with zero gradients (as torch)."""
    n, s, c, t = 3, 2, 200, 1
    target = torch.randint(low=1, high=c, size=(n, s), dtype=torch.int)
    input_lengths = torch.full(size=(n,), fill_value=0, dtype=torch.int)
    target_lengths = torch.full(size=(n,), fill_value=0, dtype=torch.int)
    inp = torch.randn(t, n, c, dtype=torch.float).log_softmax(2).requires_grad_()
    res = F.ctc(inp, target, input_lengths, target_lengths, reduction="none")
    assert (res == 0).all()
    res.sum().backward()
    assert (inp.grad == 0).all()


def test_CTCLoss_zero_lengths_target_longer_than_input():
    """Part 2: target length 1 with input length 0 gives inf in torch; losskit raises
    (a target longer than its input: ctc's card), with or without zero_infinity."""
    n, s, c, t = 3, 2, 200, 1
    target = torch.randint(low=1, high=c, size=(n, s), dtype=torch.int)
    input_lengths = torch.full(size=(n,), fill_value=0, dtype=torch.int)
    target_lengths = torch.full(size=(n,), fill_value=1, dtype=torch.int)
    inp = torch.randn(t, n, c, dtype=torch.float).log_softmax(2).requires_grad_()
    for zero_infinity in (False, True):
        with pytest.raises(losskit.LossInputError, match="never be longer than its input"):
            F.ctc(inp, target, input_lengths, target_lengths, reduction="none",
                  zero_infinity=zero_infinity)
    assert "raises whatever zero_infinity says" in losskit.info("ctc").pitfalls


def test_CTCLoss_zero_infinity():
    """target_lengths [60, 25, 20] with 50 frames: torch zeroes the first sample (CUDA,
    cuDNN and CPU agree there); losskit raises because 60 labels can never fit 50 frames."""
    target_lengths = [60, 25, 20]
    input_lengths = [50, 50, 50]
    targets = torch.randint(1, 15, (sum(target_lengths),), dtype=torch.int)
    log_probs = torch.randn(50, 3, 15, dtype=torch.float).log_softmax(2).requires_grad_()
    with pytest.raises(losskit.LossInputError, match=r"targets\[0\] has 60 labels"):
        F.ctc(log_probs, targets, input_lengths, target_lengths, reduction="sum",
              zero_infinity=True)
    # the two alignable samples agree with the brute force
    res = F.ctc(log_probs[:, 1:], targets[60:], input_lengths[1:], target_lengths[1:],
                reduction="sum", zero_infinity=True)
    expected = brute_force_ctc(log_probs[:, 1:], targets[60:], input_lengths[1:],
                               target_lengths[1:]).sum()
    torch.testing.assert_close(res.double(), expected, rtol=1e-5, atol=1e-4)
    (g,) = torch.autograd.grad(res, log_probs)
    assert (g == g).all()


# --- test/test_nn.py, TestNNDeviceType.test_CTCLoss_no_batch_dim -----------------------------


@pytest.mark.parametrize("use_module_form", [True, False])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_CTCLoss_no_batch_dim(reduction, use_module_form):
    """The batched [T, 1, C], batched with 1-D targets, and unbatched [T, C] calls agree."""
    input_length, vocab_size, target_length = 40, 3, 12
    log_probs = torch.randn(input_length, 1, vocab_size, dtype=torch.float) \
        .log_softmax(2).requires_grad_()
    targets = torch.randint(low=1, high=vocab_size - 1, size=(1, target_length),
                            dtype=torch.int)
    input_lengths, target_lengths = [input_length], [target_length]
    log_probs_no_bd = log_probs.squeeze(1).detach().clone().requires_grad_()
    targets_no_bd = targets.squeeze(0).detach().clone()
    refs = [log_probs.detach().clone().requires_grad_() for _ in range(2)]
    ctc_loss = (losskit.get("ctc", reduction=reduction, zero_infinity=True) if use_module_form
                else lambda *a: F.ctc(*a, reduction=reduction, zero_infinity=True))
    losses = [ctc_loss(refs[0], targets, input_lengths, target_lengths),
              ctc_loss(refs[1], targets_no_bd, input_lengths, target_lengths)]
    loss_no_bd = ctc_loss(log_probs_no_bd, targets_no_bd, torch.tensor(input_length),
                          torch.tensor(target_length))
    for loss in [*losses, loss_no_bd]:
        loss.sum().backward()
    torch.testing.assert_close(losses[0], losses[1], atol=1e-4, rtol=0)
    torch.testing.assert_close(losses[0].squeeze(0), loss_no_bd, atol=1e-4, rtol=0)
    torch.testing.assert_close(refs[0].grad, refs[1].grad, atol=1e-4, rtol=0)
    torch.testing.assert_close(refs[0].grad.squeeze(1), log_probs_no_bd.grad, atol=1e-4, rtol=0)
    assert all(loss.shape == ((1,) if reduction == "none" else ()) for loss in losses)
    assert loss_no_bd.shape == ()
    assert log_probs_no_bd.grad.shape == (input_length, vocab_size)


# --- test/test_autograd.py, TestAutogradDeviceType -------------------------------------------

ZERO_NONE, ZERO_SOME, ZERO_ALL = 0, 1, 2
# (input_length, vary_lengths, zero_mode); the last four are torch's CUDA-only additions,
# run here on CPU.
AUTOGRAD_CASES = [(150, False, ZERO_NONE), (150, True, ZERO_NONE), (50, True, ZERO_SOME),
                  (50, True, ZERO_ALL), (50, False, ZERO_NONE), (50, True, ZERO_NONE),
                  (150, True, ZERO_SOME), (150, True, ZERO_ALL)]


@pytest.mark.parametrize("input_length, vary_lengths, zero_mode", AUTOGRAD_CASES)
def test_ctc_loss_gradcheck(input_length, vary_lengths, zero_mode):
    """test_ctc_loss: gradcheck through log_softmax of tiled parameters."""
    torch.manual_seed(input_length + 10 * vary_lengths + 100 * zero_mode)
    batch_size, num_labels, target_length, gradcheck_input_size = 64, 101, 15, 10
    targets = torch.randint(1, num_labels, (batch_size, target_length), dtype=torch.long)
    x = torch.randn(gradcheck_input_size, dtype=torch.double, requires_grad=True)
    tile_factors = torch.randn(input_length * batch_size * num_labels // gradcheck_input_size
                               + 1)
    input_lengths = [(torch.randint(input_length // 2, input_length + 1, ()).item()
                      if vary_lengths or i == 0 else input_length) for i in range(batch_size)]
    if zero_mode == ZERO_ALL:
        target_lengths = [0 for _ in range(batch_size)]
    else:
        target_lengths = [(torch.randint(target_length // 2, target_length + 1, ()).item()
                           if vary_lengths else target_length) for _ in range(batch_size)]
        if zero_mode == ZERO_SOME:
            for i in torch.randint(0, batch_size, (10,)):
                target_lengths[i] = 0

    def ctc_after_softmax(x):
        x_full = ((x[:, None] * tile_factors[None, :]).view(-1)
                  [:input_length * batch_size * num_labels]
                  .view(input_length, batch_size, num_labels))
        log_probs = torch.log_softmax(x_full, 2)
        return F.ctc(log_probs, targets, input_lengths, target_lengths, zero_infinity=False)

    # fast_mode: one random direction of the 10-parameter Jacobian (torch's test checks all)
    assert torch.autograd.gradcheck(ctc_after_softmax, [x], fast_mode=True)


def test_ctc_loss_cudnn():
    """test_ctc_loss_cudnn (native vs cuDNN in torch): 1-D int32 targets, per-sample values
    against the brute force and the gradient along grad_out by finite differences."""
    torch.manual_seed(2)
    batch_size, input_length, num_labels, target_length = 16, 30, 101, 15
    targets = torch.randint(1, num_labels, (batch_size * target_length,), dtype=torch.long)
    logits = torch.randn(input_length, batch_size, num_labels, dtype=torch.double)
    input_lengths = batch_size * [input_length]
    target_lengths = batch_size * [target_length]
    grad_out = torch.randn(batch_size, dtype=torch.double)

    def loss(z):
        return F.ctc(z.log_softmax(2), targets.to(torch.int32), input_lengths, target_lengths,
                     reduction="none")

    torch.testing.assert_close(loss(logits), brute_force_ctc(logits.log_softmax(2), targets,
                                                             input_lengths, target_lengths),
                               rtol=1e-10, atol=1e-9)
    z = logits.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(z), z, grad_out)
    direction = torch.randn_like(logits)
    h = 1e-6
    numeric = ((loss(logits + h * direction) - loss(logits - h * direction)) * grad_out).sum()
    torch.testing.assert_close((grad * direction).sum(), numeric / (2 * h), rtol=1e-6,
                               atol=1e-6)
