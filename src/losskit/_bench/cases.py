"""Benchmark cases: each pits a losskit loss against what a user would pick instead.

A case names its sizes (full and ``--quick``) and its sides. A side is a function
``build(size) -> step`` that allocates the inputs once and returns ``step()``, which runs
one forward + backward (or, for the overhead cases, ``calls`` forward calls). Inputs are
leaves; ``step`` clears their ``.grad`` first so repetitions do not accumulate. A side
whose library or losskit function is missing raises :class:`NotAvailable`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F


class NotAvailable(Exception):
    """This side cannot run here (library or losskit function missing)."""


@dataclass
class Case:
    name: str
    full: dict[str, Any]
    quick: dict[str, Any]
    sides: dict[str, Callable[[dict[str, Any]], Callable[[], Any]]]
    #: other side -> (time ratio target, memory ratio target); None = no target
    targets: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    what: str = "forward + backward"
    calls: int = 1  # forward calls per step (overhead cases)


def lk(name: str):
    import losskit.functional as LF

    fn = getattr(LF, name, None)
    if fn is None:
        raise NotAvailable(f"losskit.functional.{name} does not exist yet")
    return fn


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fwd_bwd(loss_fn, leaves):
    def step():
        for t in leaves:
            t.grad = None
        loss_fn().backward()
    step.leaves = leaves  # the runner frees their .grad before measuring memory
    return step


# --- elementwise -----------------------------------------------------------------------------


def _values(size):
    g = _gen()
    x = torch.randn(size["n"], generator=g).requires_grad_(True)
    y = torch.randn(size["n"], generator=g)
    return x, y


def _logits_binary(size):
    g = _gen()
    x = (torch.randn(size["n"], generator=g) * 2).requires_grad_(True)
    y = (torch.rand(size["n"], generator=g) > 0.7).float()
    return x, y


def _sigmoid_focal_plain(x, y, gamma=2.0, alpha=0.25):
    # torchvision.ops.sigmoid_focal_loss, written out (torchvision cannot be installed here)
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return (alpha_t * loss).mean()


COMPILED = "torch.compile(definition)"


def compiled_definition(name: str, inputs, **kwargs):
    """The loss's own definition compiled by inductor (the accelerators switched off): the
    bar every accelerator must clear on the CPU, or decline."""
    def build(size):
        import losskit

        losskit.kernels.set_mode("plain")
        args = inputs(size)
        fn = torch.compile(lk(name), backend="inductor")
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        return _fwd_bwd(lambda: fn(*args, **kwargs), leaves)
    return build


def _elementwise(name, inputs, ours, theirs, label):
    def side_ours(size):
        x, y = inputs(size)
        fn = lk(ours)
        return _fwd_bwd(lambda: fn(x, y), [x])

    def side_theirs(size):
        x, y = inputs(size)
        return _fwd_bwd(lambda: theirs(x, y), [x])

    return Case(name, {"n": 1 << 24}, {"n": 1 << 20},
                {"losskit": side_ours, label: side_theirs,
                 COMPILED: compiled_definition(ours, inputs)},
                {label: (0.65, None), COMPILED: (1.0, None)})


ELEMENTWISE = [
    _elementwise("mse", _values, "mse", F.mse_loss, "torch F.mse_loss"),
    _elementwise("mae", _values, "mae", F.l1_loss, "torch F.l1_loss"),
    _elementwise("huber", _values, "huber", F.huber_loss, "torch F.huber_loss"),
    _elementwise("smooth_l1", _values, "smooth_l1", F.smooth_l1_loss, "torch F.smooth_l1_loss"),
    _elementwise("log_cosh", _values, "log_cosh",
                 lambda x, y: (torch.log(torch.cosh(x - y))).mean(), "torch log(cosh(x - y))"),
    _elementwise("binary_cross_entropy", _logits_binary, "binary_cross_entropy",
                 F.binary_cross_entropy_with_logits, "torch F.binary_cross_entropy_with_logits"),
    _elementwise("sigmoid_focal", _logits_binary, "sigmoid_focal", _sigmoid_focal_plain,
                 "torchvision-style sigmoid_focal_loss"),
]


# --- softmax classification ------------------------------------------------------------------


def _class_inputs(size):
    g = _gen()
    x = (torch.randn(size["n"], size["c"], generator=g) * 2).requires_grad_(True)
    t = torch.randint(0, size["c"], (size["n"],), generator=g)
    return x, t


def _ce_ours(size):
    x, t = _class_inputs(size)
    fn = lk("cross_entropy")
    return _fwd_bwd(lambda: fn(x, t, label_smoothing=size.get("ls", 0.0)), [x])


def _ce_torch(size):
    x, t = _class_inputs(size)
    return _fwd_bwd(lambda: F.cross_entropy(x, t, label_smoothing=size.get("ls", 0.0)), [x])


def _focal_ours(size):
    x, t = _class_inputs(size)
    fn = lk("softmax_focal")
    return _fwd_bwd(lambda: fn(x, t, gamma=2.0), [x])


def _focal_torch(size):
    x, t = _class_inputs(size)

    def loss():
        logp = F.log_softmax(x, 1).gather(1, t[:, None]).squeeze(1)
        return (-(1 - logp.exp()) ** 2 * logp).mean()
    return _fwd_bwd(loss, [x])


CLASSIFICATION = [
    Case("cross_entropy", {"n": 8192, "c": 32768}, {"n": 1024, "c": 4096},
         {"losskit": _ce_ours, "torch F.cross_entropy": _ce_torch,
          COMPILED: compiled_definition("cross_entropy", _class_inputs)},
         {"torch F.cross_entropy": (0.75, None), COMPILED: (1.0, None)}),
    Case("cross_entropy_label_smoothing", {"n": 8192, "c": 32768, "ls": 0.1},
         {"n": 1024, "c": 4096, "ls": 0.1},
         {"losskit": _ce_ours, "torch F.cross_entropy": _ce_torch},
         {"torch F.cross_entropy": (0.75, None)}),
    Case("softmax_focal", {"n": 8192, "c": 8192}, {"n": 1024, "c": 1024},
         {"losskit": _focal_ours, "torch log_softmax focal": _focal_torch,
          COMPILED: compiled_definition("softmax_focal", _class_inputs, gamma=2.0)},
         {COMPILED: (1.0, None)}),
]


# --- large vocabulary ------------------------------------------------------------------------


def _lce_inputs(size):
    g = _gen()
    h = (torch.randn(size["n"], size["d"], generator=g)).requires_grad_(True)
    w = (torch.randn(size["v"], size["d"], generator=g) * size["d"] ** -0.5).requires_grad_(True)
    t = torch.randint(0, size["v"], (size["n"],), generator=g)
    return h, w, t


def _lce_ours(size):
    h, w, t = _lce_inputs(size)
    fn = lk("linear_cross_entropy")
    return _fwd_bwd(lambda: fn(h, w, t), [h, w])


def _lce_torch_chunked(size):
    h, w, t = _lce_inputs(size)
    if not hasattr(torch.nn, "LinearCrossEntropyOptions"):
        raise NotAvailable("this torch has no LinearCrossEntropyOptions")
    options = torch.nn.LinearCrossEntropyOptions()
    return _fwd_bwd(lambda: F.linear_cross_entropy(h, w, t, options=options), [h, w])


def _lce_naive(size):
    h, w, t = _lce_inputs(size)
    return _fwd_bwd(lambda: F.cross_entropy(F.linear(h, w), t), [h, w])


def _distill_inputs(size):
    g = _gen()
    n, d, v = size["n"], size["d"], size["v"]
    h = torch.randn(n, d, generator=g).requires_grad_(True)
    w = (torch.randn(v, d, generator=g) * d ** -0.5).requires_grad_(True)
    ht = torch.randn(n, d, generator=g)
    wt = torch.randn(v, d, generator=g) * d ** -0.5
    return h, w, ht, wt


def _distill_ours(size):
    h, w, ht, wt = _distill_inputs(size)
    fn = lk("linear_distillation")
    return _fwd_bwd(lambda: fn(h, w, ht, wt, temperature=2.0), [h, w])


def _distill_definition(size):
    # the same function with the accelerator switched off: its plain definition
    from losskit import kernels

    kernels.set_mode("plain")
    return _distill_ours(size)


def _distill_naive(size):
    h, w, ht, wt = _distill_inputs(size)

    def loss():
        with torch.no_grad():
            teacher = F.log_softmax(F.linear(ht, wt) / 2.0, -1)
        student = F.log_softmax(F.linear(h, w) / 2.0, -1)
        return 4.0 * F.kl_div(student, teacher, log_target=True, reduction="batchmean")

    return _fwd_bwd(loss, [h, w])


LARGE_VOCAB = [
    Case("linear_cross_entropy", {"n": 2048, "d": 512, "v": 32768},
         {"n": 256, "d": 128, "v": 8192},
         {"losskit": _lce_ours, "torch F.linear_cross_entropy (chunked)": _lce_torch_chunked,
          "torch linear + cross_entropy": _lce_naive,
          COMPILED: compiled_definition("linear_cross_entropy", _lce_inputs)},
         {"torch F.linear_cross_entropy (chunked)": (0.8, 1.0),
          "torch linear + cross_entropy": (1.0, 0.3), COMPILED: (1.0, None)}),
    Case("linear_distillation", {"n": 2048, "d": 512, "v": 32768},
         {"n": 256, "d": 128, "v": 8192},
         {"losskit": _distill_ours,
          "losskit definition (LOSSKIT_KERNELS=plain)": _distill_definition,
          "torch linear + log_softmax + kl_div": _distill_naive},
         {"losskit definition (LOSSKIT_KERNELS=plain)": (None, 0.3),
          "torch linear + log_softmax + kl_div": (None, 0.3)},
         what="forward + backward, forward KL at T = 2, teacher under no_grad"),
]


# --- segmentation ----------------------------------------------------------------------------


def _seg_inputs(size):
    g = _gen()
    x = torch.randn(size["b"], size["c"], *size["spatial"], generator=g).requires_grad_(True)
    t = torch.randint(0, size["c"], (size["b"], *size["spatial"]), generator=g)
    return x, t


def _dice_ours(size):
    x, t = _seg_inputs(size)
    fn = lk("dice")
    return _fwd_bwd(lambda: fn(x, t), [x])


def _dice_monai(size):
    try:
        from monai.losses import DiceLoss
    except ImportError as exc:
        raise NotAvailable(f"monai: {exc}") from None
    x, t = _seg_inputs(size)
    loss = DiceLoss(softmax=True, to_onehot_y=True)
    t1 = t[:, None]
    return _fwd_bwd(lambda: loss(x, t1), [x])


SEGMENTATION = [
    Case("dice", {"b": 2, "c": 4, "spatial": (96, 96, 96)}, {"b": 2, "c": 4, "spatial": (32,) * 3},
         {"losskit": _dice_ours, "MONAI DiceLoss(softmax, to_onehot_y)": _dice_monai,
          COMPILED: compiled_definition("dice", _seg_inputs)},
         {"MONAI DiceLoss(softmax, to_onehot_y)": (0.5, 0.5), COMPILED: (1.0, None)}),
]


# --- metric learning -------------------------------------------------------------------------


def _views(size):
    g = _gen()
    za = torch.randn(size["n"], size["d"], generator=g).requires_grad_(True)
    zb = torch.randn(size["n"], size["d"], generator=g).requires_grad_(True)
    return za, zb


_TAU = 0.1


def _ntx_ours(size):
    za, zb = _views(size)
    fn = lk("nt_xent")
    return _fwd_bwd(lambda: fn(za, zb, temperature=_TAU), [za, zb])


def _ntx_plain(size):
    za, zb = _views(size)
    n = size["n"]

    def loss():
        z = F.normalize(torch.cat([za, zb]), dim=1)
        sim = (z @ z.t()) / _TAU
        sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        return F.cross_entropy(sim, target)
    return _fwd_bwd(loss, [za, zb])


def _ntx_pml(size):
    try:
        from pytorch_metric_learning.losses import NTXentLoss
    except ImportError as exc:
        raise NotAvailable(f"pytorch-metric-learning: {exc}") from None
    n = size["n"]
    if n > 256:
        # NTXentLoss scores every (positive pair, negative pair) combination in one
        # [2N, 2N (2N - 2)] matrix: O(N^3) memory, 10 GB already at N = 512.
        raise NotAvailable(f"PML NTXentLoss needs O(N^3) memory; skipped at N={n} (> 256)")
    za, zb = _views(size)
    labels = torch.cat([torch.arange(n), torch.arange(n)])
    loss = NTXentLoss(temperature=_TAU)
    return _fwd_bwd(lambda: loss(torch.cat([za, zb]), labels), [za, zb])


def _embeddings(size):
    g = _gen()
    e = torch.randn(size["n"], size["d"], generator=g).requires_grad_(True)
    labels = torch.randint(0, size["classes"], (size["n"],), generator=g)
    return e, labels


def _triplet_ours(size):
    e, labels = _embeddings(size)
    fn = lk("batch_triplet")
    return _fwd_bwd(lambda: fn(e, labels, margin=0.2, mining="all"), [e])


def _triplet_pml(size):
    try:
        from pytorch_metric_learning.losses import TripletMarginLoss
    except ImportError as exc:
        raise NotAvailable(f"pytorch-metric-learning: {exc}") from None
    e, labels = _embeddings(size)
    loss = TripletMarginLoss(margin=0.2)
    return _fwd_bwd(lambda: loss(e, labels), [e])


METRIC = [
    Case("nt_xent", {"n": 4096, "d": 128}, {"n": 256, "d": 64},
         {"losskit": _ntx_ours, "plain torch NT-Xent": _ntx_plain,
          "PML NTXentLoss": _ntx_pml,
          COMPILED: compiled_definition("nt_xent", _views, temperature=_TAU)},
         {"plain torch NT-Xent": (0.7, 0.5), COMPILED: (1.0, None)}),
    Case("batch_triplet_all", {"n": 512, "d": 128, "classes": 32},
         {"n": 128, "d": 32, "classes": 8},
         {"losskit": _triplet_ours, "PML TripletMarginLoss (all triplets)": _triplet_pml,
          COMPILED: compiled_definition("batch_triplet", _embeddings, margin=0.2,
                                        mining="all")},
         # batch_triplet has no accelerator: both sides run the same definition (the
         # sorted-prefix-sum batch-all), eager against inductor. No target: the compiled
         # side says what torch.compile gains, not whether a fast path earns its place.
         {"PML TripletMarginLoss (all triplets)": (0.2, 0.25)}),
]


# --- ordinal, sequence -----------------------------------------------------------------------


def _coral_inputs(size):
    g = _gen()
    x = torch.randn(size["n"], size["k"], generator=g).requires_grad_(True)
    t = torch.randint(0, size["k"] + 1, (size["n"],), generator=g)
    return x, t


def _coral_ours(size):
    x, t = _coral_inputs(size)
    fn = lk("coral")
    return _fwd_bwd(lambda: fn(x, t), [x])


def _coral_peer(size):
    try:
        from coral_pytorch.losses import coral_loss
    except ImportError as exc:
        raise NotAvailable(f"coral-pytorch: {exc}") from None
    x, t = _coral_inputs(size)
    # coral-pytorch takes the extended binary levels; they are built once, outside the timing
    levels = (torch.arange(size["k"]) < t[:, None]).float()
    return _fwd_bwd(lambda: coral_loss(x, levels), [x])


def _ctc_inputs(size):
    g = _gen()
    T, B, C, S = size["t"], size["b"], size["c"], size["s"]
    lp = torch.randn(T, B, C, generator=g).log_softmax(2).detach().requires_grad_(True)
    targets = torch.randint(1, C, (B, S), generator=g)
    input_lengths = torch.full((B,), T, dtype=torch.long)
    target_lengths = torch.randint(S // 2, S + 1, (B,), generator=g)
    return lp, targets, input_lengths, target_lengths


def _ctc_ours(size):
    lp, targets, il, tl = _ctc_inputs(size)
    fn = lk("ctc")
    return _fwd_bwd(lambda: fn(lp, targets, il, tl), [lp])


def _ctc_torch(size):
    lp, targets, il, tl = _ctc_inputs(size)
    return _fwd_bwd(lambda: F.ctc_loss(lp, targets, il, tl), [lp])


OTHER = [
    Case("coral", {"n": 1 << 20, "k": 9}, {"n": 1 << 16, "k": 9},
         {"losskit": _coral_ours, "coral-pytorch coral_loss": _coral_peer,
          COMPILED: compiled_definition("coral", _coral_inputs)},
         {"coral-pytorch coral_loss": (0.5, None), COMPILED: (1.0, None)}),
    Case("ctc", {"t": 400, "b": 32, "c": 64, "s": 80}, {"t": 100, "b": 8, "c": 32, "s": 20},
         {"losskit": _ctc_ours, "torch F.ctc_loss": _ctc_torch},
         {"torch F.ctc_loss": (1.1, None)}),
]


# --- per-call overhead -----------------------------------------------------------------------


def _overhead(name, inputs, ours, theirs, label, calls=2000, value_checks=True):
    def side(fn_of):
        def build(size):
            args = inputs(size)
            fn = fn_of()
            if not value_checks:
                import losskit

                losskit.set_value_checks(False)  # the documented hot-loop switch

            def step():
                for _ in range(calls):
                    fn(*args)
            return step
        return build

    suffix = "" if value_checks else "_no_value_checks"
    return Case(f"overhead_{name}{suffix}", {"n": 32}, {"n": 32},
                {"losskit": side(lambda: lk(ours)), label: side(lambda: theirs)},
                {label: (1.5, None)}, what=f"forward call, per call ({calls} calls)",
                calls=calls)


def _tiny_values(size):
    g = _gen()
    return torch.randn(size["n"], generator=g), torch.randn(size["n"], generator=g)


def _tiny_classes(size):
    g = _gen()
    return torch.randn(size["n"], 10, generator=g), torch.randint(0, 10, (size["n"],), generator=g)


def _tiny_binary(size):
    g = _gen()
    return torch.randn(size["n"], generator=g), (torch.rand(size["n"], generator=g) > 0.5).float()


OVERHEAD = [
    _overhead("mse", _tiny_values, "mse", F.mse_loss, "torch F.mse_loss"),
    _overhead("huber", _tiny_values, "huber", F.huber_loss, "torch F.huber_loss"),
    _overhead("cross_entropy", _tiny_classes, "cross_entropy", F.cross_entropy,
              "torch F.cross_entropy"),
    _overhead("binary_cross_entropy", _tiny_binary, "binary_cross_entropy",
              F.binary_cross_entropy_with_logits, "torch F.binary_cross_entropy_with_logits"),
    # losskit.set_value_checks(False) skips the checks that read the data (index and
    # probability ranges: a reduction and a host sync each); shape checks still run.
    _overhead("cross_entropy", _tiny_classes, "cross_entropy", F.cross_entropy,
              "torch F.cross_entropy", value_checks=False),
    _overhead("binary_cross_entropy", _tiny_binary, "binary_cross_entropy",
              F.binary_cross_entropy_with_logits, "torch F.binary_cross_entropy_with_logits",
              value_checks=False),
]

CASES: dict[str, Case] = {c.name: c for c in [*ELEMENTWISE, *CLASSIFICATION, *LARGE_VOCAB,
                                              *SEGMENTATION, *METRIC, *OTHER, *OVERHEAD]}
