"""GPU benchmark cases (``--device cuda``): losskit against torch eager, ``torch.compile`` of
the definition, Liger-Kernel, cut-cross-entropy, MONAI and a plain-torch NT-Xent.

Same shape as :mod:`cases` (a side is ``build(size) -> step``), with every tensor on the
current CUDA device. The full sizes are those of the targets of issue 13; ``--quick``
sizes are small enough for a smoke run. A peer library that is not importable makes its
side "not available".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

try:  # run by the benchmark runner, which puts this folder on sys.path
    from cases import COMPILED, Case, NotAvailable, _fwd_bwd, lk
except ImportError:  # imported as losskit._bench.cases_gpu
    from .cases import COMPILED, Case, NotAvailable, _fwd_bwd, lk


#: Where the cases build their tensors: the current CUDA device. Tests set "cpu" to run
#: every side's code at tiny sizes without a GPU (tests/test_bench.py).
DEVICE = "cuda"


def _dtype(size) -> torch.dtype:
    return getattr(torch, size.get("dtype", "float32"))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def compiled_definition(name: str, inputs, **kwargs):
    """The loss's definition compiled by inductor (accelerators off), on the GPU."""
    def build(size):
        import losskit

        losskit.kernels.set_mode("plain")
        args = inputs(size)
        fn = torch.compile(lk(name), backend="inductor")
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        return _fwd_bwd(lambda: fn(*args, **kwargs), leaves)
    return build


def _peer(module: str, attr: str):
    try:
        mod = __import__(module, fromlist=[attr])
        return getattr(mod, attr)
    except Exception as exc:  # ImportError, or a peer built for another torch
        raise NotAvailable(f"{module}: {type(exc).__name__}: {exc}"[:200]) from None


def _loss_only(out):
    """Peers that return (loss, extras) in some versions: the loss."""
    if isinstance(out, tuple):
        return out[0]
    return getattr(out, "loss", out)


# --- fused linear cross entropy ------------------------------------------------------------


def _lce_inputs(size):
    g, dt = _gen(), _dtype(size)
    n, d, v = size["n"], size["d"], size["v"]
    h = torch.randn(n, d, device=DEVICE, generator=g).to(dt).requires_grad_(True)
    w = (torch.randn(v, d, device=DEVICE, generator=g) * d ** -0.5).to(dt).requires_grad_(True)
    t = torch.randint(0, v, (n,), device=DEVICE, generator=g)
    return h, w, t


def _lce_ours(size):
    h, w, t = _lce_inputs(size)
    fn = lk("linear_cross_entropy")
    return _fwd_bwd(lambda: fn(h, w, t), [h, w])


def _lce_liger(accum_dtype=None):
    def build(size):
        fn = _peer("liger_kernel.transformers.functional", "liger_fused_linear_cross_entropy")
        h, w, t = _lce_inputs(size)
        kw = {} if accum_dtype is None else {"accum_dtype": accum_dtype}
        return _fwd_bwd(lambda: _loss_only(fn(h, w, t, **kw)), [h, w])
    return build


def _lce_cce(size):
    fn = _peer("cut_cross_entropy", "linear_cross_entropy")
    h, w, t = _lce_inputs(size)
    return _fwd_bwd(lambda: fn(h, w, t), [h, w])


def _lce_eager(size):
    h, w, t = _lce_inputs(size)
    # What a model does without a fused head: the logits in the model's dtype, the loss
    # computed from them in float32.
    return _fwd_bwd(lambda: F.cross_entropy(F.linear(h, w).float(), t), [h, w])


LIGER_LCE = "Liger-Kernel fused linear CE"
LARGE_VOCAB = [
    Case("linear_cross_entropy", {"n": 8192, "d": 4096, "v": 128256, "dtype": "bfloat16"},
         {"n": 1024, "d": 1024, "v": 32768, "dtype": "bfloat16"},
         {"losskit": _lce_ours, LIGER_LCE: _lce_liger(),
          LIGER_LCE + " (accum_dtype=float32)": _lce_liger(torch.float32),
          "cut-cross-entropy": _lce_cce,
          "torch eager linear + cross_entropy": _lce_eager,
          COMPILED: compiled_definition("linear_cross_entropy", _lce_inputs)},
         {LIGER_LCE: (1.0, 1.0)}),
]


# --- cross entropy and focal on large vocabularies -------------------------------------------


def _logits(size):
    g, dt = _gen(), _dtype(size)
    x = (torch.randn(size["n"], size["c"], device=DEVICE, generator=g) * 2).to(dt)
    t = torch.randint(0, size["c"], (size["n"],), device=DEVICE, generator=g)
    return x.requires_grad_(True), t


def _ce_ours(size):
    x, t = _logits(size)
    fn = lk("cross_entropy")
    return _fwd_bwd(lambda: fn(x, t), [x])


def _ce_eager(size):
    x, t = _logits(size)
    return _fwd_bwd(lambda: F.cross_entropy(x, t), [x])


def _ce_liger(size):
    fn = _peer("liger_kernel.transformers.functional", "liger_cross_entropy")
    x, t = _logits(size)
    return _fwd_bwd(lambda: _loss_only(fn(x, t)), [x])


def _focal_ours(size):
    x, t = _logits(size)
    fn = lk("softmax_focal")
    return _fwd_bwd(lambda: fn(x, t, gamma=2.0), [x])


def _focal_eager(size):
    x, t = _logits(size)

    def loss():
        logp = F.log_softmax(x.float(), 1).gather(1, t[:, None]).squeeze(1)
        return (-(1 - logp.exp()) ** 2 * logp).mean()
    return _fwd_bwd(loss, [x])


CLASSIFICATION = [
    Case("cross_entropy", {"n": 16384, "c": 128256, "dtype": "bfloat16"},
         {"n": 2048, "c": 32768, "dtype": "bfloat16"},
         {"losskit": _ce_ours, "torch eager F.cross_entropy": _ce_eager,
          "Liger-Kernel cross_entropy": _ce_liger,
          COMPILED: compiled_definition("cross_entropy", _logits)},
         {"torch eager F.cross_entropy": (0.8, None)}),
    Case("softmax_focal", {"n": 8192, "c": 32768}, {"n": 2048, "c": 32768},
         {"losskit": _focal_ours, "torch eager log_softmax focal": _focal_eager,
          COMPILED: compiled_definition("softmax_focal", _logits, gamma=2.0)}),
]


# --- segmentation --------------------------------------------------------------------------


def _seg_inputs(size):
    g = _gen()
    x = torch.randn(size["b"], size["c"], *size["spatial"], device=DEVICE, generator=g)
    t = torch.randint(0, size["c"], (size["b"], *size["spatial"]), device=DEVICE, generator=g)
    return x.requires_grad_(True), t


def _dice_ours(size):
    x, t = _seg_inputs(size)
    fn = lk("dice")
    return _fwd_bwd(lambda: fn(x, t), [x])


def _dice_monai(size):
    cls = _peer("monai.losses", "DiceLoss")
    x, t = _seg_inputs(size)
    loss = cls(softmax=True, to_onehot_y=True)
    t1 = t[:, None]
    return _fwd_bwd(lambda: loss(x, t1), [x])


MONAI_DICE = "MONAI DiceLoss(softmax, to_onehot_y)"
SEGMENTATION = [
    Case("dice", {"b": 2, "c": 4, "spatial": (128, 128, 128)},
         {"b": 2, "c": 4, "spatial": (64, 64, 64)},
         {"losskit": _dice_ours, MONAI_DICE: _dice_monai,
          COMPILED: compiled_definition("dice", _seg_inputs)},
         {MONAI_DICE: (0.5, 0.5)}),
]


# --- contrastive ---------------------------------------------------------------------------

_TAU = 0.1


def _views(size):
    g = _gen()
    za = torch.randn(size["n"], size["d"], device=DEVICE, generator=g).requires_grad_(True)
    zb = torch.randn(size["n"], size["d"], device=DEVICE, generator=g).requires_grad_(True)
    return za, zb


def _ntx_ours(size):
    za, zb = _views(size)
    fn = lk("nt_xent")
    return _fwd_bwd(lambda: fn(za, zb, temperature=_TAU), [za, zb])


def _ntx_plain(size):
    za, zb = _views(size)
    n = size["n"]
    eye = torch.eye(2 * n, dtype=torch.bool, device=DEVICE)
    target = torch.cat([torch.arange(n, 2 * n, device=DEVICE), torch.arange(n, device=DEVICE)])

    def loss():
        z = F.normalize(torch.cat([za, zb]), dim=1)
        sim = (z @ z.t()) / _TAU
        return F.cross_entropy(sim.masked_fill(eye, float("-inf")), target)
    return _fwd_bwd(loss, [za, zb])


PLAIN_NTX = "plain torch NT-Xent"
METRIC = [
    Case("nt_xent", {"n": 16384, "d": 256}, {"n": 2048, "d": 128},
         {"losskit": _ntx_ours, PLAIN_NTX: _ntx_plain,
          COMPILED: compiled_definition("nt_xent", _views, temperature=_TAU)},
         {PLAIN_NTX: (None, 0.2)}),
]

GPU_CASES: dict[str, Case] = {c.name: c for c in [*LARGE_VOCAB, *CLASSIFICATION,
                                                  *SEGMENTATION, *METRIC]}
