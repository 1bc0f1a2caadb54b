"""losskit.check: planted bugs are caught by the check meant for them; correct losses pass.

Each planted bug is a small, realistic mistake in a user's loss. The test asserts the
check designed for that mistake fails (with the numbers in its detail), and, where the
bug is narrow, that unrelated checks still pass, so a verdict points at the cause.
"""

from __future__ import annotations

import functools
import json
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import losskit
from losskit.cli import main
from losskit.testing import LossCheck, assert_loss_ok, parametrize_with_checks
from losskit.verify import CHECKS, CheckReport, LossCheckError

# --- planted bugs ----------------------------------------------------------------------------


class _WrongSignSquare(torch.autograd.Function):
    """Mean squared error whose hand-written backward has the sign flipped."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return ((x - y) ** 2).mean()

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return -grad * 2 * (x - y) / x.numel(), None


class _HalfGradientSquare(torch.autograd.Function):
    """Mean squared error whose backward forgot the factor 2 of d(r^2)/dr."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return ((x - y) ** 2).mean()

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * (x - y) / x.numel(), None


def wrong_sign_mse(input, target):
    return _WrongSignSquare.apply(input, target)


def half_gradient_mse(input, target):
    return _HalfGradientSquare.apply(input, target)


def naive_bce(logits, target):
    # log(sigmoid(x)) underflows to log(0) = -inf once |x| is large.
    p = torch.sigmoid(logits)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


def stable_bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target)


def wrong_count_mse(input, target):
    # Divides by (batch - 1) instead of the batch: the mean depends on the batch size.
    return ((input - target) ** 2).sum() / (input.shape[0] - 1) / input[0].numel()


def sum_ignored_mse(input, target, reduction="mean"):
    loss = (input - target) ** 2
    return loss if reduction == "none" else loss.mean()  # "sum" silently gives the mean


def reduction_ignored_mse(input, target, reduction="mean"):
    return ((input - target) ** 2).mean()  # accepts the argument, never reads it


def shifted_mse(input, target):
    # Minimized at input = target + 0.5, not at the target.
    return ((input - target - 0.5) ** 2).mean()


def flipped_bce(logits, target):
    # Trains toward the wrong label: every check of local shape passes, training does not.
    return F.binary_cross_entropy_with_logits(logits, 1 - target)


def textbook_mse(input, target, reduction="mean"):
    loss = (input - target) ** 2
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"unknown reduction {reduction!r}")


class CustomMSELoss(nn.Module):
    """The custom MSE of the seeds, written as a user would."""

    def __init__(self):
        super(CustomMSELoss, self).__init__()  # noqa: UP008  (as written in the wild)

    def forward(self, predictions, targets):
        # predictions and targets are tensors of shape [N, ...]
        return torch.mean((predictions - targets) ** 2)


def simple_supcon(embeddings, labels, temperature=0.5):
    """A compact supervised-contrastive loss, as a user would write for task='embedding'."""
    z = F.normalize(embeddings, dim=1)
    logits = z @ z.T / temperature
    eye = torch.eye(len(labels), dtype=torch.bool)
    logits = logits.masked_fill(eye, float("-inf"))
    positives = (labels[:, None] == labels[None, :]) & ~eye
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    per_anchor = -log_prob.masked_fill(~positives, 0).sum(1) / positives.sum(1).clamp(min=1)
    return per_anchor.mean()


def repelling_supcon(embeddings, labels):
    return -simple_supcon(embeddings, labels)


def status(report: CheckReport) -> dict[str, str]:
    return {r.name: r.status for r in report}


# --- each bug is caught by its check -----------------------------------------------------------


def test_wrong_sign_backward_is_caught_by_gradient_direction():
    report = losskit.check(wrong_sign_mse, task="regression")
    result = report["gradient_direction"]
    assert result.failed
    assert "raised the loss" in result.detail and "wrong way" in result.detail
    assert report["finite_scalar"].passed  # the values are right, only the gradient is wrong
    assert not report.passed


def test_wrong_factor_in_backward_is_caught_by_gradcheck_only():
    report = losskit.check(half_gradient_mse, task="regression")
    assert report["gradcheck"].failed
    # the directional derivative puts numbers on it: autograd gives half of the truth
    assert "autograd" in report["gradcheck"].detail
    # the sign is right, so a step against the gradient still helps, and training still finds
    # the answer (just at half speed): the bug is only visible to gradcheck
    assert report["gradient_direction"].passed
    assert report["convergence"].passed


def test_naive_log_sigmoid_bce_is_caught_at_extreme_logits():
    report = losskit.check(naive_bce, task="binary")
    assert report["extreme_inputs"].failed
    assert "1e+04" in report["extreme_inputs"].detail or "10000" in report["extreme_inputs"].detail
    assert report["finite_scalar"].passed and report["gradcheck"].passed


def test_stable_bce_passes_where_naive_fails():
    report = losskit.check(stable_bce, task="binary")
    assert report.passed, str(report)
    assert report["extreme_inputs"].passed


def test_mean_over_wrong_count_is_caught_by_batch_size():
    report = losskit.check(wrong_count_mse, task="regression")
    result = report["batch_size"]
    assert result.failed
    assert "duplicated" not in result.detail and "ratio" in result.detail
    assert report["batch_order"].passed  # the order does not matter, the count does


def test_sum_that_ignores_the_argument_is_caught_by_reduction_consistency():
    report = losskit.check(sum_ignored_mse, task="regression")
    assert report["reduction_consistency"].failed
    assert 'reduction="sum"' in report["reduction_consistency"].detail


def test_reduction_argument_never_read_is_caught():
    report = losskit.check(reduction_ignored_mse, task="regression",
                           checks=["reduction_consistency"])
    assert report["reduction_consistency"].failed
    assert "ignored" in report["reduction_consistency"].detail


def test_loss_minimized_away_from_target_is_caught_by_optimum():
    report = losskit.check(shifted_mse, task="regression")
    result = report["optimum"]
    assert result.failed
    assert "not a minimum" in result.detail and "0.25" in result.detail
    # training with it lands 0.5 away from the truth, so convergence fails too
    assert report["convergence"].failed


def test_loss_that_trains_toward_the_wrong_label_fails_convergence():
    report = losskit.check(flipped_bce, task="binary",
                           checks=["gradcheck", "gradient_direction", "convergence"])
    assert report["gradcheck"].passed and report["gradient_direction"].passed
    assert report["convergence"].failed
    assert report["convergence"].data == {}  # a failed run keeps no curve
    assert "accuracy" in report["convergence"].detail


def test_embedding_loss_that_repels_same_class_fails_convergence():
    good = losskit.check(simple_supcon, task="embedding", checks=["convergence"])
    bad = losskit.check(repelling_supcon, task="embedding", checks=["convergence"])
    assert good["convergence"].passed, good["convergence"].detail
    assert good["convergence"].data["same_class_distance"] < \
        0.5 * good["convergence"].data["different_class_distance"]
    assert bad["convergence"].failed


# --- correct losses pass -----------------------------------------------------------------------


def test_textbook_custom_mse_module_passes():
    report = losskit.check(CustomMSELoss())
    assert report.passed, str(report)
    assert report.loss == "CustomMSELoss"
    assert report.notes and "assumed regression" in report.notes[0]
    assert report["reduction_consistency"].status == "skipped"  # it takes no reduction
    assert report["convergence"].data["coefficient_error"] < 0.02


def test_reduction_argument_is_detected_and_exercised():
    report = losskit.check(textbook_mse, task="regression", checks=["reduction_consistency"])
    assert report["reduction_consistency"].passed
    assert "21 elements" in report["reduction_consistency"].detail  # 7 x 3 example


@pytest.mark.parametrize("module, task", [
    (nn.MSELoss(), "regression"),
    (nn.L1Loss(), "regression"),
    (nn.BCEWithLogitsLoss(), "multilabel"),
    (nn.CrossEntropyLoss(), "multiclass"),
    (nn.CrossEntropyLoss(), "segmentation"),
])
def test_torch_builtin_modules_pass(module, task):
    report = losskit.check(module, task=task)
    assert report.passed, str(report)
    # torch modules keep reduction as an attribute; the suite varies it
    assert report["reduction_consistency"].passed


def test_registered_name_function_and_module_agree():
    by_name = losskit.check("huber", checks=["reduction_consistency", "reference"])
    by_fn = losskit.check(losskit.F.huber, checks=["reduction_consistency", "reference"])
    by_module = losskit.check(losskit.get("huber", delta=0.5),
                              checks=["reduction_consistency", "reference"])
    for report in (by_name, by_fn, by_module):
        assert report.loss == "huber" and report.passed, str(report)
    assert by_name["reference"].detail == by_fn["reference"].detail


def test_example_tuple_and_factory():
    x, y = torch.randn(5, 2), torch.randn(5, 2)
    fixed = losskit.check(textbook_mse, example=(x, y), checks=["finite_scalar", "batch_size"])
    assert fixed.passed and "batch of 5" in fixed["batch_size"].detail

    def factory(n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)

    made = losskit.check(textbook_mse, example=factory, checks=["reduction_consistency"])
    assert made.passed and "28 elements" in made["reduction_consistency"].detail


def test_reference_agreement_and_disagreement():
    agree = losskit.check(CustomMSELoss(), task="regression", reference=F.mse_loss,
                          checks=["reference"])
    assert agree["reference"].passed

    def doubled(input, target):
        return 2 * F.mse_loss(input, target)

    differ = losskit.check(CustomMSELoss(), task="regression", reference=doubled,
                           checks=["reference"])
    assert differ["reference"].failed and "differs" in differ["reference"].detail


def test_checks_selection_and_unknown_names():
    report = losskit.check("mse", checks="optimum,gradcheck")
    assert [r.name for r in report] == ["gradcheck", "optimum"]  # suite order
    with pytest.raises(losskit.LossInputError, match="did you mean gradcheck"):
        losskit.check("mse", checks=["gradchek"])
    with pytest.raises(losskit.LossInputError, match="task must be one of"):
        losskit.check(textbook_mse, task="regresion")
    assert "compile" not in [r.name for r in losskit.check("mse")]  # slow: opt-in


def test_expected_failures_turn_a_failure_into_a_reasoned_skip():
    reason = "divides by batch - 1 on purpose (unbiased estimate)"
    report = losskit.check(wrong_count_mse, task="regression",
                           expected_failures={"batch_size": reason})
    assert report["batch_size"].status == "skipped" and reason in report["batch_size"].detail
    assert report.passed, str(report)
    with pytest.raises(losskit.LossInputError, match="unknown check"):
        losskit.check(textbook_mse, expected_failures={"batch_sise": "typo"})


def test_exception_in_the_loss_is_a_failed_check_not_a_crash():
    def needs_ints(input, target):
        return input.gather(1, target).mean()  # regression targets are floats: gather raises

    report = losskit.check(needs_ints, checks=["finite_scalar"])
    assert report["finite_scalar"].failed
    assert report["finite_scalar"].detail.startswith("raised ")


def test_detached_loss_fails_differentiable():
    def detached(input, target):
        return ((input - target) ** 2).mean().detach()

    report = losskit.check(detached, task="regression", checks=["differentiable"])
    assert report["differentiable"].failed and "not attached" in report["differentiable"].detail


# --- the report --------------------------------------------------------------------------------


def test_report_forms():
    report = losskit.check(shifted_mse, task="regression", checks=["optimum", "batch_order"])
    assert not report.passed and [r.name for r in report.failures] == ["optimum"]
    data = json.loads(report.to_json())
    assert data["loss"] == "shifted_mse" and data["passed"] is False
    assert {c["name"]: c["status"] for c in data["checks"]} == {"optimum": "failed",
                                                                 "batch_order": "passed"}
    assert all(c["why"] for c in data["checks"])
    text = str(report)
    assert "optimum" in text and "failed" in text and "1 failed" in text
    with pytest.raises(LossCheckError, match="optimum: not a minimum"):
        report.raise_for_failures()
    with pytest.raises(KeyError):
        report["gradcheck"]


def test_rich_rendering_shows_every_check():
    rich_console = pytest.importorskip("rich.console")
    report = losskit.check("mse", checks=["optimum", "batch_order"])
    console = rich_console.Console(record=True, width=120)
    console.print(report)
    out = console.export_text()
    assert "optimum" in out and "batch_order" in out and "passed" in out


def test_convergence_keeps_a_falling_training_curve():
    report = losskit.check("cross_entropy", checks=["convergence"])
    curve = report.curve
    assert curve is not None and len(curve) > 10
    assert curve[-1] < 0.2 * curve[0]
    assert report["convergence"].data["accuracy"] >= 0.9
    assert json.loads(report.to_json())["checks"][0]["data"]["curve"] == curve


def test_every_check_explains_why_it_matters():
    for spec in CHECKS.values():
        assert len(spec.why) > 30, spec.name


# --- pytest integration ------------------------------------------------------------------------


def test_assert_loss_ok():
    assert assert_loss_ok(CustomMSELoss()).passed
    with pytest.raises(LossCheckError, match="reduction_consistency"):
        assert_loss_ok(sum_ignored_mse, task="regression", checks=["reduction_consistency"])


def test_parametrize_with_checks_makes_one_case_per_loss_and_check():
    mark = parametrize_with_checks([CustomMSELoss(), "huber"], checks=["gradcheck", "optimum"])
    argnames, params = mark.args
    assert argnames == "loss, check"
    assert [p.id for p in params] == ["CustomMSELoss-gradcheck", "CustomMSELoss-optimum",
                                      "huber-gradcheck", "huber-optimum"]
    assert all(isinstance(p.values[1], LossCheck) for p in params)


def test_loss_check_fails_the_test_on_a_bug():
    with pytest.raises(LossCheckError, match="batch_size"):
        LossCheck("batch_size", {"task": "regression"})(wrong_count_mse)


@parametrize_with_checks([CustomMSELoss(), textbook_mse], task="regression")
def test_user_losses_with_parametrize_with_checks(loss, check):
    check(loss)


# --- torch.compile -----------------------------------------------------------------------------


@pytest.mark.slow
def test_compile_check_runs_when_asked(monkeypatch):
    # aot_eager traces with dynamo like inductor but generates no C++ (seconds, not a minute)
    monkeypatch.setattr(losskit.verify._transforms, "COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    report = losskit.check(CustomMSELoss(), task="regression", checks=["compile"])
    assert report["compile"].passed, report["compile"].detail
    assert "equal eager" in report["compile"].detail


# --- where users run losses: each transform check catches its planted bug -------------------


def item_reading_mse(input, target, reduction="mean"):
    loss = (input - target) ** 2
    if loss.max().item() > 1e6:  # a data-dependent branch: a GPU sync, a graph break
        loss = loss.clamp(max=1e6)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


class _NoSecondDerivative(torch.autograd.Function):
    """Squared error with a hand-written backward that autograd cannot differentiate again."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return ((x - y) ** 2).mean()

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        g = (2 * (x - y) / x.numel()).detach()  # a constant: the second derivative is lost
        return grad * g, None


def frozen_second_derivative_mse(input, target):
    return _NoSecondDerivative.apply(input, target)


def frozen_temperature_loss(input, target, *, temperature: float = 0.5):
    # float() freezes a learnable temperature: its gradient is silently dropped
    return torch.nn.functional.cross_entropy(input / float(temperature), target)


def nan_hiding_hinge(input, target):
    # relu by comparison: a NaN input fails the comparison and becomes 0
    return torch.where(input * target < 1, 1 - input * target, 0.0).mean()


def graph_breaking_mse(input, target):
    print("tracing")
    return ((input - target) ** 2).mean()


def test_reading_tensor_data_is_caught_by_meta():
    report = losskit.check(item_reading_mse, task="regression", checks=["meta"])
    assert report["meta"].failed and "reading tensor data" in report["meta"].detail
    assert losskit.check(CustomMSELoss(), task="regression", checks=["meta"]).passed


def host_scalar_mse(input, target):
    # torch.tensor of a Python number on the input's device: a blocking copy on CUDA
    half = torch.tensor(0.5, dtype=input.dtype, device=input.device)
    return (half * (input - target) ** 2).mean()


def host_tensor_moved_mse(input, target):
    scale = torch.ones(input.shape[-1], dtype=input.dtype).to(input.device)
    return (scale * (input - target) ** 2).mean()


def host_index_mse(input, target):
    keep = torch.arange(input.shape[0])  # a CPU index tensor into a device tensor
    return ((input[keep] - target[keep]) ** 2).mean()


def list_index_mse(input, target):
    keep = [0, 1]  # a Python list: advanced indexing copies it to the device
    return ((input[keep] - target[keep]) ** 2).mean()


def legacy_new_mse(input, target):
    half = input.new([0.5])  # the legacy constructor copies its list like torch.tensor
    return (half * (input - target) ** 2).mean()


def device_fill_mse(input, target):
    half = torch.full((), 0.5, dtype=input.dtype, device=input.device)
    keep = torch.arange(input.shape[0], device=input.device)
    return (half * (input[keep] - target[keep]) ** 2).mean() + 0.0 * torch.tensor(1.0)


@pytest.mark.parametrize(("loss", "what"), [
    (host_scalar_mse, "tensor() copies host data to meta"),
    (host_tensor_moved_mse, "Tensor.to() moves a CPU tensor to meta"),
    (host_index_mse, "__getitem__ with a CPU index tensor on meta"),
    (list_index_mse, "__getitem__ with a Python list index (copied to meta)"),
    (legacy_new_mse, "new() copies host data to meta"),
])
def test_host_device_copies_are_caught_by_meta(loss, what):
    # On meta tensors nothing is read, but these copies would block on every CUDA call;
    # the report names the copy and the line of the loss that made it.
    report = losskit.check(loss, task="regression", checks=["meta"])
    detail = report["meta"].detail
    assert report["meta"].failed and "copies between the host and the device" in detail
    assert what in detail and "test_verify.py:" in detail, detail


def test_device_fills_and_host_scalars_pass_meta():
    # torch.full is a fill kernel on the device; a 0-dim CPU tensor is read on the host
    # (a CPU value, no device copy); an index built on the device stays there.
    assert losskit.check(device_fill_mse, task="regression", checks=["meta"]).passed


def test_missing_second_derivative_is_caught_by_double_backward():
    report = losskit.check(frozen_second_derivative_mse, task="regression",
                           checks=["double_backward", "gradcheck"])
    assert report["double_backward"].failed
    assert report["gradcheck"].passed  # first derivatives are right: only the second is not


def test_frozen_learnable_temperature_is_caught():
    report = losskit.check(frozen_temperature_loss, task="multiclass", checks=["learnable"])
    assert report["learnable"].failed and "temperature" in report["learnable"].detail

    def learnt(input, target, *, temperature: float = 0.5):
        return torch.nn.functional.cross_entropy(input / temperature, target)

    assert losskit.check(learnt, task="multiclass", checks=["learnable"]).passed


def test_hidden_nan_is_caught_by_nan_propagation():
    def make(n, seed):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(n, generator=g, dtype=torch.float64),
                torch.where(torch.rand(n, generator=g) > 0.5, 1.0, -1.0).double())
    report = losskit.check(nan_hiding_hinge, example=make, checks=["nan_propagation"])
    assert report["nan_propagation"].failed and "finite" in report["nan_propagation"].detail
    assert losskit.check(CustomMSELoss(), task="regression", checks=["nan_propagation"]).passed


def test_vmap_check_catches_a_data_dependent_branch():
    report = losskit.check(item_reading_mse, task="regression", checks=["vmap"])
    assert report["vmap"].failed
    assert losskit.check(CustomMSELoss(), task="regression", checks=["vmap"]).passed


@pytest.mark.slow
def test_graph_break_is_caught_by_compile(monkeypatch):
    monkeypatch.setattr(losskit.verify._transforms, "COMPILE_BACKEND", "aot_eager")
    report = losskit.check(item_reading_mse, task="regression", checks=["compile"])
    assert report["compile"].failed and "fullgraph" in report["compile"].detail


# --- every claimed property is measured: a loss without it fails ----------------------------


def _claiming(properties, fn, *, family="regression", input_kind="values", optimum=True,
              example_inputs=None, name="planted"):
    from losskit._core.registry import _ALIASES, _REGISTRY
    from losskit.functional import _examples as ex

    _REGISTRY.pop(name, None)
    _ALIASES.pop(name, None)
    decorator = losskit.register_loss(
        name=name, family=family, tasks=("regression",), input_kind=input_kind,
        target_kind="values", summary="A planted loss for the property checks.",
        formula="see the test", gradient="see the test", when_to_use="never, it is planted",
        pitfalls="it claims a property it does not have", references=("tests/test_verify.py",),
        example_inputs=example_inputs or ex.regression, properties=properties,
        optimum=(lambda a: (a[1].clone(), *a[1:])) if optimum else None, replace=True)
    decorator(fn)
    try:
        return losskit.check(name, checks=["properties"])["properties"]
    finally:
        _REGISTRY.pop(name, None)


def _reduced(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


PLANTED_PROPERTIES = {
    # each: (claimed property, a loss without it, a correct loss with it)
    "nonnegative": (lambda x, y, *, reduction="mean": _reduced(x - y, reduction),
                    lambda x, y, *, reduction="mean": _reduced((x - y).abs(), reduction)),
    "zero_at_optimum": (lambda x, y, *, reduction="mean": _reduced((x - y) ** 2 + 0.1, reduction),
                        lambda x, y, *, reduction="mean": _reduced((x - y) ** 2, reduction)),
    "bounded_gradient": (lambda x, y, *, reduction="mean": _reduced((x - y) ** 2, reduction),
                         lambda x, y, *, reduction="mean": _reduced((x - y).abs(), reduction)),
    "robust_to_outliers": (lambda x, y, *, reduction="mean": _reduced((x - y) ** 4, reduction),
                           lambda x, y, *, reduction="mean": _reduced(
                               torch.nn.functional.huber_loss(x, y, reduction="none"),
                               reduction)),
    "convex": (lambda x, y, *, reduction="mean": _reduced(torch.sin(3 * (x - y)), reduction),
               lambda x, y, *, reduction="mean": _reduced((x - y) ** 2, reduction)),
    "smooth": (lambda x, y, *, reduction="mean": _reduced((x - y).abs(), reduction),
               lambda x, y, *, reduction="mean": _reduced((x - y) ** 2, reduction)),
}


@pytest.mark.parametrize("prop", sorted(PLANTED_PROPERTIES))
def test_every_elementwise_property_can_fail(prop):
    bad, good = PLANTED_PROPERTIES[prop]
    result = _claiming((prop,), bad)
    assert result.failed, f"{prop}: a loss without it passed ({result.detail})"
    assert _claiming((prop,), good).passed


def test_handles_imbalance_can_fail():
    from losskit.functional import _examples as ex

    def ignores_pos_weight(x, y, *, pos_weight=None, reduction="mean"):
        # claims a rebalancing knob, never uses it
        return _reduced(torch.nn.functional.binary_cross_entropy_with_logits(
            x, y, reduction="none"), reduction)

    def uses_pos_weight(x, y, *, pos_weight=None, reduction="mean"):
        pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=x.dtype)
        return _reduced(torch.nn.functional.binary_cross_entropy_with_logits(
            x, y, pos_weight=pw, reduction="none"), reduction)

    kw = dict(family="classification", input_kind="logits", optimum=False,
              example_inputs=ex.binary_logits)
    assert _claiming(("handles_imbalance",), ignores_pos_weight, **kw).failed
    assert _claiming(("handles_imbalance",), uses_pos_weight, **kw).passed


def test_proper_scoring_can_fail():
    from losskit.functional import _examples as ex

    def focal(x, y, *, reduction="mean"):  # focal loss is not a proper scoring rule
        return _reduced(losskit.F.sigmoid_focal(x, y, alpha=None, reduction="none"), reduction)

    def bce(x, y, *, reduction="mean"):
        return _reduced(torch.nn.functional.binary_cross_entropy_with_logits(
            x, y, reduction="none"), reduction)

    kw = dict(family="classification", input_kind="logits", optimum=False,
              example_inputs=ex.binary_logits)
    assert _claiming(("proper_scoring",), focal, **kw).failed
    assert _claiming(("proper_scoring",), bce, **kw).passed


# --- the command line --------------------------------------------------------------------------


USER_MODULE = '''
import torch
from torch import nn


class CustomMSELoss(nn.Module):
    def forward(self, predictions, targets):
        return torch.mean((predictions - targets) ** 2)


def shifted(input, target):
    return ((input - target - 0.5) ** 2).mean()


def bce(logits, target):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)


NOT_A_LOSS = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    path = tmp_path / "my_losses_for_check.py"
    path.write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def test_cli_passing_loss_exits_0(user_module, capsys):
    assert main(["check", f"{user_module}:CustomMSELoss"]) == 0
    out = capsys.readouterr().out
    assert "CustomMSELoss" in out and "convergence" in out


def test_cli_dotted_module_and_task(user_module, capsys):
    assert main(["check", "my_losses_for_check:bce", "--task", "binary",
                 "--checks", "extreme_inputs,convergence"]) == 0


def test_cli_failing_loss_exits_1_and_json_parses(user_module, capsys):
    code = main(["check", f"{user_module}:shifted", "--json", "--checks", "optimum,batch_order"])
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False
    assert {c["name"]: c["status"] for c in data["checks"]}["optimum"] == "failed"


def test_cli_registered_name(capsys):
    assert main(["check", "mae", "--checks", "optimum", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == "mae"


@pytest.mark.parametrize("target, message", [
    ("no_such_module_xyz:loss", "cannot import no_such_module_xyz"),
    ("missing_file.py:loss", "no such file"),
    ("my_losses_for_check:nope", "has no attribute 'nope'"),
    ("my_losses_for_check:NOT_A_LOSS", "not a callable loss"),
    ("no_such_loss_name", "neither MODULE:OBJECT nor a registered loss"),
])
def test_cli_bad_target_exits_2_with_one_line(user_module, capsys, target, message):
    assert main(["check", target]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_unknown_check_exits_2(user_module, capsys):
    assert main(["check", "mse", "--checks", "gradchek"]) == 2
    assert "unknown check" in capsys.readouterr().err


def test_cli_module_that_raises_on_import_exits_2(tmp_path, capsys):
    bad = tmp_path / "broken_losses.py"
    bad.write_text("raise RuntimeError('boom')\n")
    assert main(["check", f"{bad}:loss"]) == 2
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_empty_batch_check_is_opt_in_and_catches_nan_and_detached_zeros():
    # torch's mean over zero elements is NaN; a loss that returns a constant 0 for an empty
    # batch breaks loss.backward(); sum / max(count, 1) of the inputs is right.
    def nan_mse(input, target, reduction="mean"):
        return F.mse_loss(input, target, reduction=reduction)

    def detached_zero(input, target, reduction="mean"):
        if input.shape[0] == 0:
            return torch.zeros((), dtype=input.dtype)
        return F.mse_loss(input, target, reduction=reduction)

    def safe_mse(input, target, reduction="mean"):
        squared = (input - target) ** 2
        if reduction == "none":
            return squared
        return squared.sum() / (max(squared.numel(), 1) if reduction == "mean" else 1)

    assert "empty_batch" not in [r.name for r in losskit.check(nan_mse, task="regression").results]
    nan = losskit.check(nan_mse, task="regression", checks=["empty_batch"])
    assert nan["empty_batch"].failed and "gives nan" in nan["empty_batch"].detail
    detached = losskit.check(detached_zero, task="regression", checks=["empty_batch"])
    assert detached["empty_batch"].failed and "no graph" in detached["empty_batch"].detail
    assert losskit.check(safe_mse, task="regression", checks=["empty_batch"]).passed


def test_correct_classification_losses_that_once_failed_pass():
    # A class-weighted cross-entropy (torch's mean divides by the targets' summed weights;
    # the weight a float32 buffer beside the float64 inputs of the checks), a temperature,
    # label smoothing: correct losses whose minimizer is not the confident prediction.
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])

    def tempered(input, target, reduction="mean"):
        return F.cross_entropy(input / 4.0, target, reduction=reduction)

    def smoothed_bce(input, target, reduction="mean"):
        return F.binary_cross_entropy_with_logits(input, target * 0.9 + 0.05,
                                                  reduction=reduction)

    for loss, task in ((torch.nn.CrossEntropyLoss(weight=w), "multiclass"),
                       (tempered, "multiclass"),
                       (torch.nn.CrossEntropyLoss(label_smoothing=0.1), "multiclass"),
                       (smoothed_bce, "binary")):
        report = losskit.check(loss, task=task)
        assert report.passed, str(report)
    weighted = losskit.check(torch.nn.CrossEntropyLoss(weight=w), task="multiclass")
    assert "sum / 10.5" in weighted["reduction_consistency"].detail


def test_a_loss_that_rewards_the_wrong_class_fails_optimum():
    def negated(input, target, reduction="mean"):
        return -F.cross_entropy(input, target, reduction=reduction)

    report = losskit.check(negated, task="multiclass", checks=["optimum"])
    assert report["optimum"].failed and "does not reward" in report["optimum"].detail


class _TailHalved(torch.autograd.Function):
    """d/de e^2, halved where |e| > 2.5: right on small errors only."""

    @staticmethod
    def forward(ctx, e):
        ctx.save_for_backward(e)
        return e.square()

    @staticmethod
    def backward(ctx, g):
        (e,) = ctx.saved_tensors
        return g * torch.where(e.abs() > 2.5, e, 2 * e)


def test_bugs_in_one_reduction_or_in_the_tails_are_caught():
    # gradcheck once ran "mean" at one point of small errors, meta "mean" only.
    def tail_bug(input, target, reduction="mean"):
        squared = _TailHalved.apply(input - target)
        return {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]

    def sum_gradient_bug(input, target, reduction="mean"):
        squared = (input - target) ** 2
        if reduction == "sum":  # the value of a sum with the gradient of a mean
            total = squared.sum()
            return total.detach() + squared.mean() - squared.mean().detach()
        return squared.mean() if reduction == "mean" else squared

    def sum_reads_data(input, target, reduction="mean"):
        squared = (input - target) ** 2
        if reduction == "sum":
            assert float(squared.detach().max()) < 1e30
            return squared.sum()
        return squared.mean() if reduction == "mean" else squared

    tail = losskit.check(tail_bug, task="regression", checks=["gradcheck"])
    assert tail["gradcheck"].failed and "inputs x4" in tail["gradcheck"].detail
    total = losskit.check(sum_gradient_bug, task="regression", checks=["gradcheck"])
    assert total["gradcheck"].failed and "(sum)" in total["gradcheck"].detail
    read = losskit.check(sum_reads_data, task="regression", checks=["meta"])
    assert read["meta"].failed and 'reduction="sum"' in read["meta"].detail


class _RunningCentre(torch.nn.Module):
    """A loss that keeps a running mean of the error in a buffer (state between calls)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("centre", torch.zeros(()))
        self.reduction = "mean"

    def forward(self, input, target):
        self.centre.mul_(0.9).add_(0.1 * (input - target).mean().detach())
        squared = (input - target - self.centre) ** 2
        return {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[self.reduction]


def test_pure_catches_random_stateful_and_in_place_losses():
    def in_place(input, target, reduction="mean"):
        input.detach().clamp_(-1.0, 1.0)  # edits the caller's tensor through a view
        return F.mse_loss(input, target, reduction=reduction)

    def noisy(input, target, reduction="mean"):
        return F.mse_loss(input + 0.01 * torch.randn_like(input), target, reduction=reduction)

    cases = {in_place: "was modified", noisy: "random or keeps state",
             _RunningCentre(): "random or keeps state"}
    for loss, message in cases.items():
        report = losskit.check(loss, task="regression", checks=["pure"])
        assert report["pure"].failed and message in report["pure"].detail, str(report)
    assert losskit.check(torch.nn.MSELoss(), task="regression", checks=["pure"]).passed


def test_a_frozen_positional_hyperparameter_is_caught_and_named():
    # def loss(input, target, temperature=0.5): positional hyperparameters are found too,
    # and a float(temperature) is reported as frozen (it read "no float hyperparameters").
    def frozen(input, target, temperature=0.5, reduction="mean"):
        return F.cross_entropy(input / float(temperature.detach() if isinstance(
            temperature, torch.Tensor) else temperature), target, reduction=reduction)

    report = losskit.check(frozen, task="multiclass", checks=["learnable"])
    assert report["learnable"].failed and "frozen" in report["learnable"].detail


def test_a_loss_that_casts_to_float32_is_skipped_by_gradcheck_not_failed():
    # input.float() (a common mixed-precision habit) makes float64 finite differences
    # meaningless: the check says so instead of reporting a wrong gradient.
    def upcast_mse(input, target, reduction="mean"):
        return F.mse_loss(input.float(), target.float(), reduction=reduction)

    result = losskit.check(upcast_mse, task="regression", checks=["gradcheck"])["gradcheck"]
    assert result.status == "skipped" and "returns float32 for float64" in result.detail


# --- losses scored jointly: correct losses the per-sample checks do not apply to ----------------


def _pearson(input, target):
    """1 - Pearson correlation of the batch: scores the predictions jointly."""
    xc, yc = input - input.mean(), target - target.mean()
    return 1 - (xc * yc).sum() / (xc.norm() * yc.norm() + 1e-12)


class _SupConNoReduction(nn.Module):
    """Supervised contrastive loss as the SupContrast code writes it (no reduction argument),
    with two bugs of that code's kind: torch.eye on the default device and a -1e9 mask fill."""

    def forward(self, z, labels):
        z = F.normalize(z, dim=1)
        eye = torch.eye(z.shape[0], dtype=torch.bool)
        sim = (z @ z.T / 0.1).masked_fill(eye, -1e9)
        log_p = sim - torch.logsumexp(sim, dim=1, keepdim=True)
        positive = (labels[:, None] == labels[None, :]) & ~eye
        return -((log_p * positive).sum(1) / positive.sum(1).clamp(min=1)).mean()


def _embeddings(n, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 8, generator=g, dtype=torch.float64),
            torch.randint(0, 3, (n,), generator=g))


def test_a_correlation_loss_is_not_failed_for_what_a_correlation_is():
    # gradient_direction once required each prediction to move toward its own target (19% did
    # not); a correlation scores them jointly. convergence fails, and now says why.
    report = losskit.check(_pearson, task="regression")
    direction = report["gradient_direction"]
    assert direction.passed and "scored jointly" in direction.detail
    assert report["batch_size"].status == "skipped"
    convergence = report["convergence"]
    assert convergence.failed and "blind to the scale and offset" in convergence.detail


def test_a_separable_loss_with_a_flipped_target_still_fails_gradient_direction():
    # Odd rows are pulled toward -target: the total still falls, but those predictions move
    # away from their targets; the loss is a sum of per-prediction terms, so it is judged.
    def flipped(input, target, reduction="mean"):
        sign = torch.ones_like(target)
        sign[1::2] = -1.0
        return F.mse_loss(input, sign * target, reduction=reduction)

    result = losskit.check(flipped, task="regression", checks=["gradient_direction"])
    detail = result["gradient_direction"].detail
    assert result["gradient_direction"].failed and "move away from their targets" in detail


def test_batch_size_tells_a_batch_level_loss_from_a_wrong_count():
    # Without a reduction argument the check cannot read per-sample losses; it tests whether
    # the mean is a per-sample sum over some count (halves, and a half taken twice).
    supcon = losskit.check(_SupConNoReduction(), example=_embeddings, checks=["batch_size"])
    assert supcon["batch_size"].status == "skipped"
    assert "depends on the rest of the batch" in supcon["batch_size"].detail

    def wrong_count(input, target):
        return ((input - target) ** 2).sum() / (input.shape[0] - 1)

    report = losskit.check(wrong_count, task="regression", checks=["batch_size"])
    assert report["batch_size"].failed and "count" in report["batch_size"].detail


def test_host_tensors_and_out_of_range_fills_are_named():
    report = losskit.check(_SupConNoReduction(), example=_embeddings,
                           checks=["meta", "low_precision"])
    assert report["meta"].failed and "device=input.device" in report["meta"].detail
    low = report["low_precision"]
    assert low.failed and "torch.finfo(x.dtype).min" in low.detail


class _Flat(torch.autograd.Function):
    """A constant value with a nonzero gradient: the forward lost its dependence."""

    @staticmethod
    def forward(ctx, x, y):
        return torch.zeros((), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * torch.ones(4, 3, dtype=torch.float64), None


def test_a_loss_that_does_not_move_is_reported_without_a_negative_zero():
    result = losskit.check(lambda x, y: _Flat.apply(x, y), example=(
        torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)),
        checks=["gradient_direction"])["gradient_direction"]
    assert result.failed and "left the loss unchanged" in result.detail
    assert "-0" not in result.detail


def test_batch_size_decides_coupling_even_when_a_half_has_no_positive_pair():
    # Labels [1, 0, 2, ...]: the first half has no positive pair, so a contrastive loss scores
    # 0 there and that split decides nothing; the other splits do (PML's NTXentLoss and
    # SupConLoss were failed as wrong counts).
    labels = torch.tensor([1, 0, 2, 0, 2, 0, 1])

    def example(n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, 8, generator=g, dtype=torch.float64), labels[:n].clone()

    report = losskit.check(_SupConNoReduction(), example=example, checks=["batch_size"])
    assert report["batch_size"].status == "skipped", report["batch_size"].detail


def _soft_dice(detach_denominator):
    def dice(x, y):
        p = F.softmax(x, 1)
        t = F.one_hot(y, x.shape[1]).movedim(-1, 1).to(p.dtype)
        inter, union = (p * t).sum((2, 3)), p.sum((2, 3)) + t.sum((2, 3))
        union = union.detach() if detach_denominator else union
        return (1 - 2 * inter / (union + 1e-6)).mean()
    return dice


def test_gradcheck_sees_a_few_percent_error_in_small_gradients():
    # A Dice denominator detached: gradients of ~3e-3 off by ~6%, inside the old fixed
    # atol=1e-5; the tolerance now follows the loss's size.
    bad = losskit.check(_soft_dice(True), task="segmentation", checks=["gradcheck"])
    assert bad["gradcheck"].failed and "disagree" in bad["gradcheck"].detail
    good = losskit.check(_soft_dice(False), task="segmentation", checks=["gradcheck"])
    assert good["gradcheck"].passed, good["gradcheck"].detail


def test_grad_args_puts_a_predicted_variance_under_gradcheck():
    # Gaussian NLL with the variance detached passed: only the input was differentiated.
    def example(n, seed):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(n, 3, generator=g, dtype=torch.float64),
                torch.randn(n, 3, generator=g, dtype=torch.float64),
                torch.rand(n, 3, generator=g, dtype=torch.float64) + 0.5)

    def detached(mu, y, var):
        return F.gaussian_nll_loss(mu, y, var.detach())

    report = losskit.check(detached, example=example, grad_args=(0, 2), checks=["gradcheck"])
    assert report["gradcheck"].failed
    assert losskit.check(F.gaussian_nll_loss, example=example, grad_args=(0, 2),
                         checks=["gradcheck"])["gradcheck"].passed
    with pytest.raises(losskit.LossInputError, match="grad_args"):
        losskit.check(F.gaussian_nll_loss, example=example, grad_args="02")


def test_a_class_weight_held_by_a_submodule_follows_the_checks_dtype():
    # A wrapper around nn.CrossEntropyLoss(weight=...) (MONAI's DiceCELoss does this) failed
    # every float64 check with "expected scalar type Double".
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.ce = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))

        def forward(self, x, y):
            return self.ce(x, y)

    module = Wrapped()
    report = losskit.check(module, task="multiclass", checks=["finite_scalar", "gradcheck"])
    assert report.passed, str(report)
    assert module.ce.weight.dtype == torch.float32  # the user's module is left as it was


class _Centres(nn.Module):
    """Cosine logits against learned class centres (ArcFace without the margin)."""

    def __init__(self, detach=False):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)))
        self.detach = detach

    def forward(self, embeddings, labels):
        w = (self.w.detach() if self.detach else self.w).to(embeddings.dtype)
        logits = 16 * F.normalize(embeddings, dim=1) @ F.normalize(w, dim=1).T
        return F.cross_entropy(logits, labels % 4)


def test_a_module_parameter_cut_from_the_graph_fails_gradcheck():
    # The class centres of an ArcFace-style loss detached never train; only the inputs
    # were differentiated, so the check passed it.
    bad = losskit.check(_Centres(detach=True), task="embedding", checks=["gradcheck"])
    assert bad["gradcheck"].failed and "module's parameters" in bad["gradcheck"].detail
    good = losskit.check(_Centres(), task="embedding", checks=["gradcheck"])
    assert good["gradcheck"].passed and "parameters agree" in good["gradcheck"].detail


def test_a_sign_bug_inside_an_rmse_is_still_caught():
    # g(sum of terms) rescales every gradient by g' > 0: still per-prediction, still judged.
    def rmse_flipped(input, target):
        d2 = (input - target) ** 2
        sign = torch.ones_like(d2)
        sign[1::2] = -0.1
        return torch.sqrt((sign * d2).mean() + 10)

    result = losskit.check(rmse_flipped, task="regression", checks=["gradient_direction"])
    assert result["gradient_direction"].failed
    assert "move away from their targets" in result["gradient_direction"].detail


def test_a_missing_kernel_is_a_skip_not_a_data_read_or_a_failure():
    # torch's multi_margin_loss has no meta kernel for its backward and no float16 / bfloat16
    # kernel on the CPU: neither says anything about the loss.
    report = losskit.check(nn.MultiMarginLoss(), task="multiclass",
                           checks=["meta", "low_precision"])
    assert report["meta"].status == "skipped" and "no meta implementation" in report["meta"].detail
    low = report["low_precision"]
    assert low.status == "skipped" and "has no kernel here" in low.detail


def _ce_wrong_denominator(input, target, reduction="mean", ignore_index=0):
    per = F.cross_entropy(input, target, reduction="none", ignore_index=ignore_index)
    return {"none": per, "sum": per.sum(), "mean": per.sum() / per.numel()}[reduction]


def _ce_ignore_forgotten(input, target, reduction="mean", ignore_index=0):
    return F.cross_entropy(input, target, reduction=reduction)


def test_ignore_index_is_checked_where_a_loss_takes_one():
    # torch's own is right, with ignore_index=0 (convergence no longer scores the class it
    # is told to ignore); a mean over every position, or an ignore_index never applied, is not.
    for task in ("multiclass", "segmentation"):
        report = losskit.check(nn.CrossEntropyLoss(ignore_index=0), task=task,
                               checks=["ignore_index", "convergence"])
        assert report.passed, str(report)
    wrong = losskit.check(_ce_wrong_denominator, task="segmentation", checks=["ignore_index"])
    assert wrong["ignore_index"].failed and "are counted" in wrong["ignore_index"].detail
    forgot = losskit.check(_ce_ignore_forgotten, task="multiclass", checks=["ignore_index"])
    assert forgot["ignore_index"].failed and "are counted" in forgot["ignore_index"].detail
    # class weights, and the labels shifted inside for next-token prediction, are fine
    weighted = functools.partial(F.cross_entropy, weight=torch.rand(5, dtype=torch.float64),
                                 ignore_index=0)
    assert losskit.check(weighted, task="multiclass", checks=["ignore_index"]).passed

    def causal(logits, labels, ignore_index=-100):
        return F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(),
                               ignore_index=ignore_index)

    def tokens(n, seed):
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 6, (n, 5), generator=g)
        labels[:, 3:] = -100
        return torch.randn(n, 5, 6, generator=g, dtype=torch.float64), labels

    assert losskit.check(causal, example=tokens, checks=["ignore_index"]).passed
    none = losskit.check(nn.MSELoss(), task="regression", checks=["ignore_index"])
    assert none["ignore_index"].status == "skipped"


class _Float32Centres(nn.Module):
    """Learned class centres and temperature left in float32 (the usual module), no casts."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 8, generator=torch.Generator().manual_seed(1)))
        self.t = nn.Parameter(torch.tensor(0.1))

    def forward(self, embeddings, labels):
        logits = F.normalize(embeddings, dim=1) @ F.normalize(self.w, dim=1).T / self.t
        return F.cross_entropy(logits, labels % 4)


def test_a_module_with_float32_parameters_is_checked_in_float64_and_trains_them():
    # Every float64 check once raised "expected m1 and m2 to have the same dtype"; and
    # convergence left the centres where they started (a margin loss then fails the cluster
    # test; it is judged on nearest-neighbour retrieval too).
    module = _Float32Centres()
    report = losskit.check(module, task="embedding")
    assert report.passed, str(report)
    assert module.w.dtype == torch.float32 and module.w.grad is None
    assert "nearest-neighbour accuracy" in report["convergence"].detail


class _UpcastCentres(_Float32Centres):
    """The mixed-precision habit: the input cast to the parameters' float32."""

    def forward(self, embeddings, labels):
        logits = F.normalize(embeddings.float(), dim=1) @ F.normalize(self.w, dim=1).T / self.t
        return F.cross_entropy(logits, labels % 4)


class _ProjectedCentres(_Float32Centres):
    """Centres renormalized in place in forward (PML's P2SGrad), and a non-leaf attribute."""

    def forward(self, embeddings, labels):
        with torch.no_grad():
            self.w.data = F.normalize(self.w.data, dim=1)
        logits = 16 * F.normalize(embeddings, dim=1) @ self.w.to(embeddings.dtype).T
        self.last_logits = logits  # a non-leaf tensor kept on the module: no deepcopy
        return F.cross_entropy(logits, labels % 4)


def test_module_dtypes_copies_and_in_place_parameters_are_handled():
    # A module casting its input to float32 runs as it is (the parameter cast is only a
    # fallback); one that cannot be deep-copied, or rewrites its parameters in forward, is
    # not failed for it.
    upcast = losskit.check(_UpcastCentres(), task="embedding",
                           checks=["finite_scalar", "gradient_direction", "pure"])
    assert upcast.passed, str(upcast)
    projected = losskit.check(_ProjectedCentres(), task="embedding",
                              checks=["gradcheck", "convergence"])
    assert projected["gradcheck"].passed, projected["gradcheck"].detail
    assert "not checked" in projected["gradcheck"].detail
    assert "raised" not in projected["convergence"].detail  # deepcopy once raised here
