"""torch.compile on a representative subset: values and gradients equal to eager.

Most cases use ``backend="aot_eager"``: it traces the loss with dynamo (``fullgraph=True``
proves there is no graph break, the part that can fail in our code) and runs the
AOTAutograd forward/backward split, without generating C++ kernels. Inductor takes
10-30 s per loss on this shared 2-core machine, so only cross_entropy is also compiled
with inductor, once, in a test marked slow (the aot_eager cases take ~10 s of CPU).
"""

from __future__ import annotations

import pytest
import torch

from losskit import functional as F


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _regression():
    return torch.randn(8, 3, generator=gen(0)), torch.randn(8, 3, generator=gen(1))


def _classes(ignore=False):
    y = torch.randint(0, 5, (8,), generator=gen(3))
    if ignore:
        y[::3] = -100
    return torch.randn(8, 5, generator=gen(2)) * 3, y


CASES = {
    "mse": (F.mse, _regression, {}),
    "huber": (F.huber, _regression, {"delta": 0.5}),
    "cross_entropy": (F.cross_entropy, lambda: _classes(ignore=True), {}),
    "cross_entropy-options": (F.cross_entropy, lambda: _classes(ignore=True),
                              {"label_smoothing": 0.1, "class_weight": torch.rand(5) + 0.5}),
    "cross_entropy-soft": (F.cross_entropy, lambda: (torch.randn(8, 5, generator=gen(4)),
                                                     torch.softmax(torch.randn(8, 5), 1)), {}),
    "binary_cross_entropy": (F.binary_cross_entropy,
                             lambda: (torch.randn(8, 4, generator=gen(5)),
                                      (torch.rand(8, 4, generator=gen(6)) > 0.5).float()),
                             {"pos_weight": torch.tensor([1.0, 2.0, 3.0, 4.0])}),
}


def _value_and_grad(fn, x, y, kwargs):
    x = x.clone().requires_grad_(True)
    out = fn(x, y, **kwargs)
    (g,) = torch.autograd.grad(out, x)
    return out.detach(), g


@pytest.mark.parametrize("case", list(CASES))
def test_compiled_equals_eager_aot_eager(case):
    fn, make, kwargs = CASES[case]
    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=True)
    x, y = make()
    for reduction in ("mean", "none"):
        args = {**kwargs, "reduction": reduction}
        if reduction == "none":
            torch.testing.assert_close(compiled(x, y, **args), fn(x, y, **args))
            continue
        eager = _value_and_grad(fn, x, y, args)
        for ours, theirs in zip(_value_and_grad(compiled, x, y, args), eager):
            torch.testing.assert_close(ours, theirs)


def test_compiled_cross_entropy_all_ignored_is_zero():
    torch._dynamo.reset()
    compiled = torch.compile(F.cross_entropy, backend="aot_eager", fullgraph=True)
    x = torch.randn(4, 3, requires_grad=True)
    out = compiled(x, torch.full((4,), -100))
    assert out.item() == 0.0
    assert not torch.autograd.grad(out, x)[0].any()


@pytest.mark.slow
def test_compiled_cross_entropy_inductor():
    torch._dynamo.reset()
    compiled = torch.compile(F.cross_entropy)  # default backend: inductor
    x, y = _classes(ignore=True)
    kwargs = {"label_smoothing": 0.1}
    for ours, theirs in zip(_value_and_grad(compiled, x, y, kwargs),
                            _value_and_grad(F.cross_entropy, x, y, kwargs)):
        torch.testing.assert_close(ours, theirs)


#: A representative set for inductor (the common suite compiles every loss with aot_eager):
#: a builtin-accelerated elementwise loss, the Dice family's statistics, an in-batch
#: contrastive loss and a composite; each compiled with fullgraph=True, values and
#: gradients against eager.
INDUCTOR_SET = {
    "huber": lambda: (_regression(), {"delta": 0.5}),
    "dice": lambda: ((torch.randn(2, 3, 6, 6, generator=gen(7)),
                      torch.randint(0, 3, (2, 6, 6), generator=gen(8))), {}),
    "nt_xent": lambda: ((torch.randn(6, 4, generator=gen(9)),
                         torch.randn(6, 4, generator=gen(10))), {"temperature": 0.3}),
    # odd sides at every scale: inductor's avg_pool(ceil_mode=True) backward was wrong there
    "ms_ssim": lambda: ((torch.rand(1, 1, 165, 165, generator=gen(11)),
                         torch.rand(1, 1, 165, 165, generator=gen(12))), {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(INDUCTOR_SET))
def test_inductor_fullgraph_equals_eager(name):
    import losskit

    torch._dynamo.reset()
    fn = losskit.info(name).fn
    (x, y), kwargs = INDUCTOR_SET[name]()
    compiled = torch.compile(fn, fullgraph=True)  # default backend: inductor
    for ours, theirs in zip(_value_and_grad(compiled, x, y, kwargs),
                            _value_and_grad(fn, x, y, kwargs)):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_inductor_compiles_a_composite_with_fullgraph():
    import losskit

    torch._dynamo.reset()
    loss = losskit.get("0.5*mse + 0.5*huber")
    compiled = torch.compile(loss, fullgraph=True)
    x, y = _regression()
    for ours, theirs in zip(_value_and_grad(compiled, x, y, {}), _value_and_grad(loss, x, y, {})):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
