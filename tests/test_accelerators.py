"""Every registered accelerator agrees with its loss's definition.

For each accelerator in ``losskit.kernels.accelerators()`` the cases below call the
public loss twice: with the accelerator's backend forced (``kernels.use(backend)``,
which raises if it declines, so the test proves it ran) and with ``plain`` (the
definition). Values, first derivatives under a random upstream gradient, and second
derivatives (a Hessian-vector product through ``create_graph=True``) must agree, in
float64 and float32, on sizes that are not multiples of any block, for every option the
accelerator claims. A test fails when an accelerator has no case here, so a new one
cannot land untested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import losskit
import losskit.functional as LF
from losskit import kernels
from losskit.kernels import _native
from losskit.kernels import coral as coral_kernels
from losskit.kernels import overlap as overlap_kernels
from losskit.kernels.elementwise import MIN_NUMEL
from losskit.kernels.softmax_xent import NATIVE_MIN_NUMEL

TOL = {torch.float64: (1e-7, 1e-9), torch.float32: (3e-5, 1e-6)}
native_available = _native.library() is not None


@dataclass
class Case:
    """Inputs for one call: ``make(dtype, generator) -> (args, kwargs)``; ``grad`` are the
    positions of the arguments to differentiate; ``second`` whether to compare a
    Hessian-vector product too (skipped where the definition is linear, say)."""

    label: str
    make: Callable[[torch.dtype, torch.Generator], tuple[tuple[Any, ...], dict[str, Any]]]
    grad: tuple[int, ...] = (0,)
    second: bool = True
    backends: tuple[str, ...] = ("torch", "native", "triton")
    reductions: tuple[str, ...] = ("mean", "sum", "none")
    extra: dict[str, Any] = field(default_factory=dict)


def _randn(g, *shape, scale=1.0, dtype=torch.float64):
    return (torch.randn(tuple(shape), generator=g, dtype=torch.float64) * scale).to(dtype)


def _rand(g, *shape, dtype=torch.float64):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64).to(dtype)


def _values(n, **kw):
    def make(dtype, g):
        return (_randn(g, n, scale=3, dtype=dtype), _randn(g, n, scale=3, dtype=dtype)), kw
    return make


def _binary(n, soft=False, **kw):
    def make(dtype, g):
        y = _rand(g, n, dtype=dtype) if soft else (_rand(g, n) > 0.7).to(dtype)
        return (_randn(g, n, scale=3, dtype=dtype), y), dict(kw)
    return make


def _classes(n, c, **kw):
    def make(dtype, g):
        x = _randn(g, n, c, scale=3, dtype=dtype)
        t = torch.randint(0, c, (n,), generator=g)
        t[::7] = -100
        opts = dict(kw)
        for key in ("class_weight", "alpha"):
            if opts.get(key) in (True, "with_zero"):
                w = _rand(g, c) + 0.5
                if opts[key] == "with_zero":  # the target class of rows 1 and 2 weighs 0
                    w[t[1:3]] = 0.0
                opts[key] = w.to(dtype)
        return (x, t), opts
    return make


def _log_probs(n, c, **kw):
    def make(dtype, g):
        (x, t), opts = _classes(n, c, **kw)(dtype, g)
        return (torch.log_softmax(x, 1), t), opts
    return make


def _linear(n, d, v, **kw):
    def make(dtype, g):
        h = _randn(g, n, d, dtype=dtype)
        w = _randn(g, v, d, scale=0.7, dtype=dtype)
        t = torch.randint(0, v, (n,), generator=g)
        t[::5] = -100
        opts = dict(kw)
        if opts.get("bias") is True:
            opts["bias"] = _randn(g, v, scale=0.3, dtype=dtype)
        if opts.get("class_weight") in (True, "with_zero"):
            cw = _rand(g, v) + 0.5
            if opts["class_weight"] == "with_zero":
                cw[t[1:3]] = 0.0
            opts["class_weight"] = cw.to(dtype)
        if opts.get("weight") is True:
            opts["weight"] = _rand(g, n, dtype=dtype)
        return (h, w, t), opts
    return make


def _views(n, d, negatives=0, weight=False, **kw):
    def make(dtype, g):
        opts = dict(kw)
        if negatives:
            opts["negatives"] = _randn(g, negatives, d, dtype=dtype)
        if weight:
            opts["weight"] = _rand(g, n, dtype=dtype) + 0.5
        return (_randn(g, n, d, dtype=dtype), _randn(g, n, d, dtype=dtype)), opts
    return make


def _labelled_embeddings(n, d, classes, ref=0, weight=False, **kw):
    def make(dtype, g):
        x = _randn(g, n, d, dtype=dtype)
        y = torch.randint(0, classes, (n,), generator=g)
        opts = dict(kw)
        if ref:
            opts["ref_emb"] = _randn(g, ref, d, dtype=dtype)
            opts["ref_labels"] = torch.randint(0, classes, (ref,), generator=g)
        if weight:
            opts["weight"] = _rand(g, n, dtype=dtype) + 0.5
        return (x, y), opts
    return make


def _segmentation(n, c, spatial, *, ignore=False, probabilities=False, **kw):
    """Logits (or softmax probabilities for activation="none") ``[n, c, *spatial]`` and
    index targets, a few set to 255 with ``ignore``."""
    def make(dtype, g):
        x = _randn(g, n, c, *spatial, scale=2, dtype=dtype)
        if probabilities:
            x = torch.softmax(x, 1)
        t = torch.randint(0, c, (n, *spatial), generator=g)
        opts = dict(kw)
        if ignore:
            t.view(-1)[::11] = 255
            opts["ignore_index"] = 255
        if opts.get("class_weight") is True:
            opts["class_weight"] = (_rand(g, c) + 0.5).to(dtype)
        return (x, t), opts
    return make


def _ranks(n, k, **kw):
    def make(dtype, g):
        opts = dict(kw)
        if opts.get("importance_weights") is True:
            opts["importance_weights"] = (_rand(g, k) + 0.5).to(dtype)
        return (_randn(g, n, k, scale=3, dtype=dtype), torch.randint(0, k + 1, (n,),
                                                                      generator=g)), opts
    return make


# Above the overlap accelerators' thresholds (native, and the in-place torch Function),
# not multiples of any block.
SEG = (3, 5, (11, 13, 9))
SEG_BIG = (2, 5, (17, 19, 21))
assert overlap_kernels.MIN_NUMEL <= 3 * 5 * 11 * 13 * 9
assert overlap_kernels.TORCH_MIN_NUMEL <= 2 * 5 * 17 * 19 * 21
CORAL_ROWS = coral_kernels.MIN_NUMEL // 7 + 13  # [CORAL_ROWS, 7] logits

def _distill(n, d, dt, v, **kw):
    def make(dtype, g):
        h = _randn(g, n, d, dtype=dtype)
        w = _randn(g, v, d, scale=0.7, dtype=dtype)
        ht = _randn(g, n, dt, dtype=dtype)
        wt = _randn(g, v, dt, scale=0.7, dtype=dtype)
        t = torch.randint(0, v, (n,), generator=g)
        t[::5] = -100
        opts = dict(kw)
        target = t if opts.pop("target", False) else None
        if opts.get("weight") is True:
            opts["weight"] = _rand(g, n, dtype=dtype)
        return (h, w, ht, wt, target), opts
    return make


def _ctc(frames, n, c, s, *, concatenated=False, blank=0, impossible=False, **kw):
    """Time-first log-probabilities [frames, n, c] and label sequences without ``blank``:
    one empty target, one input shorter than ``frames`` and, with ``impossible``, one
    target whose repeated labels do not fit its input (an infinite loss, 0 with
    zero_infinity)."""
    def make(dtype, g):
        lp = torch.log_softmax(_randn(g, frames, n, c, scale=2, dtype=dtype), 2)
        labels = torch.randint(1, c, (n, s), generator=g)
        labels = torch.where(labels == blank, 0, labels)  # never the blank
        tl = torch.randint(1, s + 1, (n,), generator=g)
        il = torch.full((n,), frames)
        tl[1], il[2] = 0, frames - 3
        if impossible:
            labels[3] = labels[3, 0]  # all repeats: needs 2 s - 1 frames
            tl[3], il[3] = s, 2 * s - 2
        targets = torch.cat([labels[i, :tl[i]] for i in range(n)]) if concatenated else labels
        return (lp, targets, il, tl), dict(kw, blank=blank)
    return make


BIG = MIN_NUMEL + 17  # above the native elementwise threshold, not a block multiple
SMALL = 37
ROWS = NATIVE_MIN_NUMEL // 33 + 5  # [ROWS, 33] logits: above the native row threshold

CASES: dict[str, list[Case]] = {
    "mse": [Case("big", _values(BIG), grad=(0, 1)), Case("small", _values(SMALL), grad=(0, 1))],
    "mae": [Case("big", _values(BIG), grad=(0, 1), second=False),
            Case("small", _values(SMALL), grad=(0, 1), second=False)],
    "huber": [Case("big", _values(BIG, delta=0.7), grad=(0, 1)),
              Case("small", _values(SMALL, delta=2.5), grad=(0, 1))],
    "smooth_l1": [Case("big", _values(BIG, beta=0.4), grad=(0, 1)),
                  Case("small", _values(SMALL, beta=1.5), grad=(0, 1))],
    "log_cosh": [Case("big", _values(BIG), grad=(0, 1))],
    "binary_cross_entropy": [
        Case("big", _binary(BIG)), Case("big-soft-pos_weight", _binary(BIG, True, pos_weight=2.5)),
        Case("big-smoothing", _binary(BIG, label_smoothing=0.1)),
        Case("small-pos_weight", _binary(SMALL, True, pos_weight=0.3)),
        Case("small-smoothing", _binary(SMALL, label_smoothing=0.2)),
    ],
    "sigmoid_focal": [
        Case("big", _binary(BIG)),
        Case("big-soft-gamma", _binary(BIG, True, gamma=1.5, alpha=None)),
        Case("big-gamma0", _binary(BIG, gamma=0.0, alpha=0.6)),
    ],
    "cross_entropy": [
        Case("rows", _classes(ROWS, 33)),
        Case("rows-options", _classes(ROWS, 33, class_weight=True, label_smoothing=0.1),
             backends=("native", "triton")),
        # A target class of weight 0 removes the position, its smoothing term included.
        Case("rows-zero-class-weight", _classes(ROWS, 33, class_weight="with_zero",
                                                label_smoothing=0.1),
             backends=("native", "triton")),
        Case("rows-smoothing", _classes(ROWS, 33, label_smoothing=0.2)),
        Case("rows-weights", _classes(ROWS, 33, class_weight=True)),
        Case("small", _classes(SMALL, 5)),
        Case("small-weights", _classes(SMALL, 5, class_weight=True)),
        Case("small-smoothing", _classes(SMALL, 5, label_smoothing=0.3)),
    ],
    "softmax_focal": [
        Case("rows", _classes(ROWS, 33)),
        Case("rows-alpha-gamma", _classes(ROWS, 33, alpha=True, gamma=1.5)),
        Case("rows-gamma0", _classes(ROWS, 33, gamma=0.0)),
    ],
    "nll": [Case("small", _log_probs(SMALL, 5), second=False),
            Case("small-weights", _log_probs(SMALL, 5, class_weight=True), second=False)],
    "linear_cross_entropy": [
        Case("plain", _linear(29, 6, 41), grad=(0, 1)),
        Case("options", _linear(29, 6, 41, bias=True, class_weight=True, weight=True,
                                label_smoothing=0.1, z_loss=1e-2, softcap=3.0), grad=(0, 1)),
        Case("z_loss", _linear(23, 5, 37, z_loss=1e-2), grad=(0, 1)),
        Case("zero-class-weight", _linear(23, 5, 37, class_weight="with_zero",
                                          label_smoothing=0.2), grad=(0, 1)),
    ],
    "dice": [
        Case("softmax", _segmentation(*SEG)),
        Case("softmax-ignore-weights", _segmentation(*SEG, ignore=True, class_weight=True,
                                                     include_background=False)),
        Case("softmax-batch-skip_empty-log", _segmentation(*SEG, batch=True, skip_empty=True,
                                                           log_loss=True)),
        Case("softmax-micro", _segmentation(*SEG, average="micro", smooth_nr=0.0,
                                            smooth_dr=1e-3)),
        Case("big-softmax-ignore", _segmentation(*SEG_BIG, ignore=True)),
        Case("big-sigmoid-ignore", _segmentation(*SEG_BIG, ignore=True, activation="sigmoid")),
        Case("big-probabilities", _segmentation(*SEG_BIG, probabilities=True,
                                                activation="none")),
    ],
    "jaccard": [
        Case("softmax-ignore", _segmentation(*SEG, ignore=True)),
        Case("big-sigmoid-batch", _segmentation(*SEG_BIG, activation="sigmoid", batch=True)),
    ],
    "tversky": [
        Case("softmax-focal", _segmentation(*SEG, gamma=1.5, alpha=0.2, beta=0.8)),
        Case("big-sigmoid-ignore-micro", _segmentation(*SEG_BIG, ignore=True,
                                                       activation="sigmoid", average="micro")),
    ],
    "generalized_dice": [
        Case("softmax-ignore", _segmentation(*SEG, ignore=True)),
        Case("big-sigmoid-simple-batch", _segmentation(*SEG_BIG, activation="sigmoid",
                                                       weight_type="simple", batch=True)),
    ],
    # torch's kernel with the definition's gradient (its exp(log_probs) term removed),
    # and the definition's second derivatives under create_graph.
    "ctc": [
        Case("padded-impossible", _ctc(13, 6, 7, 5, impossible=True)),
        Case("concatenated-blank3", _ctc(11, 5, 6, 4, concatenated=True, blank=3,
                                         zero_infinity=False)),
    ],
    "coral": [
        Case("rows", _ranks(CORAL_ROWS, 7)),
        Case("rows-importance", _ranks(CORAL_ROWS, 7, importance_weights=True)),
    ],
    "linear_distillation": [
        Case("forward_kl", _distill(29, 6, 5, 41, temperature=2.0), grad=(0, 1)),
        Case("reverse_kl-options", _distill(29, 6, 5, 41, divergence="reverse_kl", alpha=0.4,
                                            target=True, weight=True), grad=(0, 1)),
        Case("jsd", _distill(23, 5, 7, 37, divergence="jsd", beta=0.3, temperature=0.8,
                             target=True), grad=(0, 1)),
    ],
    # Small odd sizes: "mean" / "sum" take the gradient-in-forward path, "none" the blockwise
    # one (tests/test_metric_learning.py forces many blocks and checks the temperature).
    "info_nce": [
        Case("plain", _views(29, 7, temperature=0.2), grad=(0, 1)),
        Case("negatives-weight", _views(23, 5, negatives=11, weight=True, temperature=0.07),
             grad=(0, 1)),
        Case("unnormalized", _views(17, 6, normalize=False, temperature=3.0), grad=(0, 1)),
    ],
    "nt_xent": [
        Case("plain", _views(29, 7, temperature=0.5), grad=(0, 1)),
        # 2 / t = 100: one shared shift in float64, a shift per row in float32.
        Case("weight-low-t", _views(19, 5, weight=True, temperature=0.02), grad=(0, 1)),
        Case("unnormalized", _views(17, 6, normalize=False, temperature=3.0), grad=(0, 1)),
    ],
    "supcon": [
        Case("plain", _labelled_embeddings(31, 6, 5, temperature=0.1)),
        Case("ref-weight", _labelled_embeddings(27, 5, 4, ref=13, weight=True, temperature=0.3)),
        Case("unnormalized", _labelled_embeddings(21, 4, 3, normalize=False, temperature=2.0)),
    ],
}


def _leaves(args, grad, strided=False):
    """Fresh copies of the float arguments, those in ``grad`` requiring grad; ``strided``
    gives views with a stride of 2 in the last axis (a permuted or sliced network output)."""
    out = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            if strided and a.dim():
                base = torch.stack([a, torch.full_like(a, float("nan"))], -1)
                a = base.detach().requires_grad_(i in grad)[..., 0]
            else:
                a = a.detach().clone().requires_grad_(i in grad)
        out.append(a)
    return out


def _run(fn, args, kwargs, grad, reduction, upstream_seed, second, strided=False):
    leaves = _leaves(args, grad, strided)
    out = fn(*leaves, reduction=reduction, **kwargs)
    g = torch.Generator().manual_seed(upstream_seed)
    up = _rand(g, *out.shape, dtype=out.dtype) + 0.5
    inputs = [leaves[i] for i in grad]
    # The accelerator's own backward first (create_graph=True would take the definition's
    # path in accelerators that differentiate it for higher derivatives), then, with
    # ``second``, a create_graph pass for a Hessian-vector product.
    grads = torch.autograd.grad(out, inputs, up, retain_graph=second)
    hvp = None
    if second:
        graded = torch.autograd.grad(out, inputs, up, create_graph=True)
        vs = [_randn(g, *x.shape, dtype=x.dtype) for x in inputs]
        dot = sum((gr * v).sum() for gr, v in zip(graded, vs))
        hvp = torch.autograd.grad(dot, inputs, allow_unused=True)
        hvp = [torch.zeros_like(x) if h is None else h for x, h in zip(inputs, hvp)]
    return out.detach(), [gr.detach() for gr in grads], hvp


def _params():
    params = []
    for acc in kernels.accelerators():
        if acc.backend == "triton":
            # tests/test_triton.py: sizes the interpreter runs in seconds (these rows would
            # take minutes there), every option, float32 and bfloat16.
            continue
        for case in CASES.get(acc.loss, []):
            if acc.backend not in case.backends:
                continue
            for dtype in (torch.float64, torch.float32):
                if acc.dtypes and dtype not in acc.dtypes:
                    continue
                params.append(pytest.param(acc, case, dtype,
                                           id=f"{acc.loss}:{acc.name}-{case.label}-{str(dtype)[6:]}"))
    return params


def _applies(acc, case, dtype) -> bool:
    """Whether the forced backend takes this case (checked by the dispatch itself)."""
    args, kwargs = case.make(dtype, torch.Generator().manual_seed(0))
    fn = losskit.info(acc.loss).fn
    try:
        with kernels.use(acc.backend):
            fn(*args, reduction="mean", **kwargs)
    except kernels.AcceleratorDeclined:
        return False
    return True


def _skip_unless_taken(acc, case, dtype):
    if acc.backend == "native" and not native_available:
        pytest.skip(f"no native kernels: {_native.build_error()}")
    if not _applies(acc, case, dtype):
        # Size thresholds decide between the accelerators of a loss: small cases are for
        # the builtins, big ones for the native kernels. Every accelerator must take at
        # least one case (test_every_accelerator_has_a_case).
        pytest.skip(f"{acc.name} declines {case.label} by design")


@pytest.mark.parametrize(("acc", "case", "dtype"), _params())
def test_accelerator_matches_definition(acc, case, dtype):
    _skip_unless_taken(acc, case, dtype)
    fn = losskit.info(acc.loss).fn
    rtol, atol = TOL[dtype]
    for reduction in case.reductions:
        args, kwargs = case.make(dtype, torch.Generator().manual_seed(1))
        with kernels.use(acc.backend):
            fast = _run(fn, args, kwargs, case.grad, reduction, 7, case.second)
        with kernels.use("plain"):
            plain = _run(fn, args, kwargs, case.grad, reduction, 7, case.second)
        def label(what, _reduction=reduction):
            return lambda m: f"{what} ({_reduction}): {m}"

        torch.testing.assert_close(fast[0], plain[0], rtol=rtol, atol=atol, msg=label("value"))
        for a, b in zip(fast[1], plain[1]):
            # In float32 an entry far below the gradient's scale carries the rounding of
            # the large ones (both sides sum in different orders): a floor relative to
            # the scale, about 80 units in the last place of the largest entry.
            floor = 1e-5 * float(b.abs().max()) if dtype == torch.float32 else 0.0
            torch.testing.assert_close(a, b, rtol=rtol, atol=max(atol, floor),
                                       msg=label("gradient"))
        if case.second:
            for a, b in zip(fast[2], plain[2]):
                torch.testing.assert_close(a, b, rtol=rtol * 10, atol=atol * 10,
                                           msg=label("second derivative"))


@pytest.mark.parametrize(("acc", "case", "dtype"), [
    p for p in _params() if p.values[2] == torch.float64])
def test_accelerator_takes_strided_inputs(acc, case, dtype):
    # Views that are not contiguous (a permuted NHWC output, a slice): the accelerator
    # either declines them or gives the definition's values and first and second
    # derivatives. A kernel that saves a contiguous copy for backward once cut the second
    # derivative's graph (dice on a permuted input raised under create_graph=True).
    _skip_unless_taken(acc, case, dtype)
    fn = losskit.info(acc.loss).fn
    args, kwargs = case.make(dtype, torch.Generator().manual_seed(1))
    try:
        with kernels.use(acc.backend):
            fast = _run(fn, args, kwargs, case.grad, "mean", 7, case.second, strided=True)
    except kernels.AcceleratorDeclined:
        pytest.skip(f"{acc.name} declines strided inputs")
    with kernels.use("plain"):
        plain = _run(fn, args, kwargs, case.grad, "mean", 7, case.second)
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(fast[0], plain[0], rtol=rtol, atol=atol)
    for a, b in zip(fast[1], plain[1]):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
    for a, b in zip(fast[2] or (), plain[2] or ()):
        torch.testing.assert_close(a, b, rtol=rtol * 10, atol=atol * 10)


def test_every_accelerator_has_a_case():
    missing = []
    for acc in kernels.accelerators():
        if acc.backend == "native" and not native_available:
            continue
        if acc.backend == "triton":
            continue  # exercised in the interpreter by tests/test_triton.py
        taken = any(_applies(acc, case, dtype) for case in CASES.get(acc.loss, [])
                    if acc.backend in case.backends
                    for dtype in (torch.float64, torch.float32)
                    if not acc.dtypes or dtype in acc.dtypes)
        if not taken:
            missing.append(acc.name)
    assert not missing, f"accelerators with no test case that they take: {missing}"


def test_accelerators_are_listed_with_loss_and_backend():
    records = kernels.accelerators()
    assert records and all(r.backend in kernels.BACKENDS for r in records)
    names = {r.loss for r in records}
    assert {"mse", "cross_entropy", "linear_cross_entropy"} <= names
    assert all(r.loss in losskit.list_losses() for r in records)


def test_forced_backend_raises_when_it_declines():
    x, y = torch.randn(10), torch.randn(10)  # below the native threshold
    with kernels.use("native"), pytest.raises(kernels.AcceleratorDeclined, match="native"):
        LF.mse(x, y)
    with kernels.use("native"):  # no native accelerator for msle: the definition runs
        LF.msle(x.abs(), y.abs())


def test_tracing_declines_opaque_accelerators_before_asking_them(monkeypatch):
    # Under torch.compile an accelerator that cannot be traced is declined before its
    # supports() runs: dynamo would have to trace it (the native library's first build
    # takes a lock, which is a graph break under fullgraph=True).
    asked = []
    acc = kernels.Accelerator(loss="mse", backend="native", name="probe", run=lambda *a: None,
                              supports=lambda *a, **k: asked.append(1), devices=frozenset({"cpu"}),
                              traceable=False)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert "torch.compile" in acc.decline_reason((torch.zeros(2),), {})
    assert not asked


def test_plain_mode_never_accelerates():
    x, y = torch.randn(4), torch.randn(4)
    with kernels.use("plain"):
        assert kernels.dispatch("mse", x, y, reduction="sum") is None
    with kernels.use("auto"):
        assert kernels.dispatch("mse", x, y, reduction="sum") is not None


def test_mode_is_thread_local():
    import threading

    outer = kernels.mode()
    seen = {}
    with kernels.use("plain"):
        t = threading.Thread(target=lambda: seen.setdefault("mode", kernels.mode()))
        t.start()
        t.join()
        assert kernels.mode() == "plain"
    assert seen["mode"] == outer  # the other thread kept the process-wide mode


def test_environment_variable_selects_the_mode(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import losskit.kernels as k; print(k.mode())")
    for env_value, expected in (("native", "native"),):
        env = dict(os.environ, LOSSKIT_KERNELS=env_value)
        env.pop("LOSSKIT_NATIVE", None)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=60)
        assert out.stdout.strip() == expected, out.stderr
    env = dict(os.environ, LOSSKIT_NATIVE="0")
    env.pop("LOSSKIT_KERNELS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.stdout.strip() == "plain"


def test_learnable_hyperparameter_declines_the_accelerator():
    # A tensor delta that requires grad: the builtin and native paths take numbers only, so
    # the definition runs and the gradient reaches delta.
    x, y = torch.randn(BIG), torch.randn(BIG)
    delta = torch.tensor(0.8, requires_grad=True)
    out = LF.huber(x, y, delta=delta)
    (g,) = torch.autograd.grad(out, delta)
    r = (x - y).abs()
    expected = torch.where(r > 0.8, r - 0.8, 0.0).mean()  # d/d delta of delta (r - delta / 2)
    torch.testing.assert_close(g, expected)


@pytest.mark.skipif(not native_available, reason="no native kernels")
def test_native_softmax_rows_precision_at_large_logits():
    # Rows with logits of magnitude 1e4: log p_t must be formed as (x_t - m) - log s.
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(2048, 50, generator=g, dtype=torch.float64) * 1e4)
    t = torch.randint(0, 50, (2048,), generator=g)
    exact = torch.nn.functional.cross_entropy(x, t, reduction="none")
    for name, kw in (("cross_entropy", {}), ("softmax_focal", {"gamma": 2.0})):
        fn = losskit.info(name).fn
        with kernels.use("native"):
            ours = fn(x.float(), t, reduction="none", **kw).double()
        with kernels.use("plain"):
            plain = fn(x, t, reduction="none", **kw)
        rel = ((ours - plain).abs() / plain.abs().clamp(min=1e-30)).max().item()
        assert rel <= 1e-5, f"{name}: relative error {rel:g}"
    assert exact.isfinite().all()


@pytest.mark.skipif(not native_available, reason="no native kernels")
def test_native_cross_entropy_no_nan_near_float_max():
    big = torch.finfo(torch.float32).max / 4
    x = torch.full((ROWS, 33), -big)
    x[:, 0] = big
    t = torch.ones(ROWS, dtype=torch.long)
    for kw in ({}, {"label_smoothing": 0.1}):
        with kernels.use("native"):
            out = LF.cross_entropy(x.clone().requires_grad_(True), t, **kw)
        assert not torch.isnan(out), kw
    with kernels.use("native"):
        xs = x.clone().requires_grad_(True)
        out = LF.softmax_focal(xs, t)
        (g,) = torch.autograd.grad(out, xs)
    assert not torch.isnan(out) and not torch.isnan(g).any()


def test_failed_build_falls_back_to_the_definition(tmp_path):
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


@pytest.mark.parametrize("name, make", [
    ("mse", lambda g: (torch.randn(7, 3, generator=g, dtype=torch.float64),
                       torch.randn(7, 3, generator=g, dtype=torch.float64))),
    ("huber", lambda g: (3 * torch.randn(9, generator=g, dtype=torch.float64),
                         torch.randn(9, generator=g, dtype=torch.float64))),
    ("binary_cross_entropy", lambda g: (torch.randn(5, 4, generator=g, dtype=torch.float64),
                                        torch.rand(5, 4, generator=g, dtype=torch.float64))),
    ("cross_entropy", lambda g: (torch.randn(6, 5, generator=g, dtype=torch.float64),
                                 torch.randint(0, 5, (6,), generator=g))),
])
def test_fused_mean_equals_the_definitions_mean(name, make, monkeypatch):
    # torch's builtins divide inside their kernel when _core.reduce certifies the mean as
    # sum / element count; the value and gradient must be the definition's.
    from losskit.kernels import _dispatch

    fused = []
    original = _dispatch.dispatch_mean

    def spy(*args, **kwargs):
        found = original(*args, **kwargs)
        fused.append(None if found is None else found[1])
        return found

    for module in (LF.regression, LF.classification):
        monkeypatch.setattr(module, "dispatch_mean", spy)
    x, y = make(torch.Generator().manual_seed(3))
    fn = getattr(LF, name)
    x1 = x.clone().requires_grad_()
    with kernels.use("torch"):
        got = fn(x1, y)
    (g1,) = torch.autograd.grad(got, x1)
    x2 = x.clone().requires_grad_()
    with kernels.use("plain"):
        want = fn(x2, y)
    (g2,) = torch.autograd.grad(want, x2)
    assert fused == [True, None]  # the builtin fused the mean; plain mode took none
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


def test_fused_mean_is_not_used_where_the_mean_has_another_denominator():
    from losskit._core.reduce import fused_mean_ok

    mask = torch.ones(3, dtype=torch.bool)
    assert fused_mean_ok("mean", (3, 2))
    assert not fused_mean_ok("mean", (0, 2))  # empty: the definition's 0, not torch's NaN
    assert not fused_mean_ok("sum", (3,)) and not fused_mean_ok("none", (3,))
    assert not fused_mean_ok("mean", (3,), mask=mask)
    assert not fused_mean_ok("mean", (3,), class_weight=torch.ones(3))
    assert not fused_mean_ok("mean", (3,), normalizer=5)
    assert not fused_mean_ok("mean", (3,), distributed=True)
    # cross_entropy with ignored targets divides by the counted positions
    x = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0, -100, 2, -100])
    with kernels.use("torch"):
        got = LF.cross_entropy(x, t)
    want = torch.nn.functional.cross_entropy(x, t)
    torch.testing.assert_close(got, want)


def test_an_option_an_accelerator_does_not_declare_makes_it_decline():
    # The dispatch passes a definition's keywords through; an accelerator that has never
    # heard of one (its `options` do not name it) would drop it silently. The native BCE
    # sweep once took calls with a per-element weight and computed them unweighted.
    x, y = torch.randn(64), torch.rand(64)
    for acc in kernels.accelerators():
        # (after the size, device and dtype checks, which would decline these tensors first)
        reason = acc.dynamic_reason((x, y), {"not_an_option": 1.0})
        assert reason is not None and "not_an_option" in reason, acc.name
        assert "definition" not in acc.options


@pytest.mark.parametrize("name", ["binary_cross_entropy", "sigmoid_focal", "mse", "huber"])
def test_a_weight_is_applied_on_every_path(name):
    # Sizes where auto takes the native sweep (>= 32768 elements) when there is no weight.
    g = torch.Generator().manual_seed(4)
    x = torch.randn(256, 160, generator=g, dtype=torch.float64)
    y = (torch.rand(256, 160, generator=g, dtype=torch.float64) > 0.5).double()
    w = torch.rand(256, 160, generator=g, dtype=torch.float64)
    fn = losskit.info(name).fn
    results = []
    for mode in ("auto", "plain"):
        leaf = x.clone().requires_grad_(True)
        with kernels.use(mode):
            out = fn(leaf, y, weight=w)
        results.append((out.detach(), torch.autograd.grad(out, leaf)[0]))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
