"""distillation against the formulas written out here (Hinton et al. 2015; generalized JSD of
Agarwal et al. 2024, GKD) and scipy's Jensen-Shannon distance; linear_distillation against
explicit logits, and its chunked accelerator against the plain definition (values and
gradients, float64 and float32, odd sizes, every option)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.spatial.distance import jensenshannon

import losskit
from losskit import functional as F
from losskit import kernels
from losskit.kernels import linear_distill


def _softmax(row, temperature):
    m = max(row)
    e = [math.exp((x - m) / temperature) for x in row]
    s = sum(e)
    return [x / s for x in e]


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def _expected_row(s, t, y, temperature, alpha, divergence, beta):
    p, q = _softmax(s, temperature), _softmax(t, temperature)
    if divergence == "forward_kl":
        d = _kl(q, p)
    elif divergence == "reverse_kl":
        d = _kl(p, q)
    else:
        m = [beta * a + (1 - beta) * b for a, b in zip(q, p)]
        d = beta * _kl(q, m) + (1 - beta) * _kl(p, m)
    value = alpha * temperature ** 2 * d
    if alpha != 1.0:
        value += (1 - alpha) * -math.log(_softmax(s, 1.0)[y])
    return value


def _logits(shape=(2, 3), vocab=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(*shape, vocab, generator=g, dtype=torch.float64) * 2
    student = (teacher + torch.randn(*shape, vocab, generator=g, dtype=torch.float64))
    target = torch.randint(0, vocab, shape, generator=g)
    target.view(-1)[1] = -100
    return student.requires_grad_(True), teacher, target


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl", "jsd"])
@pytest.mark.parametrize(("temperature", "alpha"), [(1.0, 1.0), (2.5, 1.0), (2.0, 0.3)])
def test_distillation_matches_the_formula(divergence, temperature, alpha):
    student, teacher, target = _logits()
    beta = 0.3
    rows_s = student.detach().reshape(-1, 7).tolist()
    rows_t = teacher.reshape(-1, 7).tolist()
    ys = target.reshape(-1).tolist()
    expected = [0.0 if y == -100 else _expected_row(s, t, y, temperature, alpha, divergence,
                                                    beta)
                for s, t, y in zip(rows_s, rows_t, ys)]
    out = F.distillation(student, teacher, target, temperature=temperature, alpha=alpha,
                         divergence=divergence, beta=beta, reduction="none")
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64).reshape(2, 3))
    mean = F.distillation(student, teacher, target, temperature=temperature, alpha=alpha,
                          divergence=divergence, beta=beta)
    assert mean.item() == pytest.approx(sum(expected) / 5)   # 5 of 6 rows are not ignored


def test_jsd_at_one_half_is_scipys_jensen_shannon():
    student, teacher, _ = _logits(shape=(4,), seed=1)
    out = F.distillation(student, teacher, divergence="jsd", beta=0.5, reduction="none")
    p = torch.softmax(student.detach(), -1).numpy()
    q = torch.softmax(teacher, -1).numpy()
    # scipy returns the distance (square root of the divergence), natural log by default
    expected = [jensenshannon(a, b) ** 2 for a, b in zip(p, q)]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64))


def test_generalized_jsd_tends_to_the_two_kls():
    # GKD: JSD(beta) / beta -> KL(teacher || student) as beta -> 0, and
    # JSD(beta) / (1 - beta) -> KL(student || teacher) as beta -> 1
    student, teacher, _ = _logits(shape=(3,), seed=2)
    forward = F.distillation(student, teacher, reduction="none")
    reverse = F.distillation(student, teacher, divergence="reverse_kl", reduction="none")
    small = 1e-6
    torch.testing.assert_close(
        F.distillation(student, teacher, divergence="jsd", beta=small, reduction="none") / small,
        forward, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        F.distillation(student, teacher, divergence="jsd", beta=1 - small,
                       reduction="none") / small, reverse, rtol=1e-4, atol=1e-6)
    for edge in (0.0, 1.0):
        with pytest.raises(losskit.LossInputError, match="beta"):
            F.distillation(student, teacher, divergence="jsd", beta=edge)


def test_gradient_is_alpha_t_times_p_minus_q_and_teacher_gets_none():
    student, teacher, _ = _logits(shape=(5,), seed=3)
    teacher = teacher.clone().requires_grad_(True)
    loss = F.distillation(student, teacher, temperature=2.0)
    g_s, g_t = torch.autograd.grad(loss, [student, teacher], allow_unused=True)
    assert g_t is None or not g_t.any()
    p = torch.softmax(student.detach() / 2, -1)
    q = torch.softmax(teacher.detach() / 2, -1)
    # d/dz of T^2 KL(q || softmax(z / T)) = T (p - q) (Hinton et al., section 2.1)
    torch.testing.assert_close(g_s, 2.0 * (p - q) / 5)


def test_normalizer_for_gradient_accumulation():
    student, teacher, target = _logits(shape=(6,), seed=4)
    full = F.distillation(student, teacher, target, alpha=0.5)
    counted = int((target != -100).sum())
    parts = [F.distillation(student[s], teacher[s], target[s], alpha=0.5, normalizer=counted)
             for s in (slice(0, 2), slice(2, 6))]
    torch.testing.assert_close(parts[0] + parts[1], full)
    torch.testing.assert_close(torch.autograd.grad(parts[0] + parts[1], student)[0],
                               torch.autograd.grad(full, student)[0])
    as_tensor = F.distillation(student, teacher, target, normalizer=torch.tensor(counted))
    torch.testing.assert_close(as_tensor, F.distillation(student, teacher, target))
    zero = F.distillation(student, teacher, target, normalizer=0)
    assert zero.item() == 0.0 and not torch.autograd.grad(zero, student)[0].any()
    with pytest.raises(losskit.LossInputError, match="normalizer"):
        F.distillation(student, teacher, normalizer=-1)


def test_learnable_temperature_and_beta():
    student, teacher, _ = _logits(shape=(3,), vocab=5, seed=5)
    temperature = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t, b, s: F.distillation(s, teacher, temperature=t, divergence="jsd", beta=b),
        (temperature, beta, student), fast_mode=True)
    with pytest.raises(losskit.LossInputError, match="alpha"):
        F.distillation(student, teacher, torch.zeros(3, dtype=torch.long),
                       alpha=torch.tensor(0.5))


def test_empty_ignored_and_extreme_inputs():
    student, teacher, target = _logits(shape=(4,), seed=6)
    for args in ((student[:0], teacher[:0], target[:0]),
                 (student, teacher, torch.full_like(target, -100))):
        out = F.distillation(*args, alpha=0.5)
        assert out.item() == 0.0 and not torch.autograd.grad(out, student)[0].any()
    for dtype in (torch.float16, torch.bfloat16):
        # logits up to magnitude 1e4 (within float16's range)
        s = (student.detach() / student.detach().abs().max() * 1e4).to(dtype).requires_grad_(True)
        t = (teacher / teacher.abs().max() * -1e4).to(dtype)
        for divergence in ("forward_kl", "reverse_kl", "jsd"):
            out = F.distillation(s, t, target, divergence=divergence, alpha=0.7, temperature=2.0)
            assert out.dtype == torch.float32 and torch.isfinite(out)
            assert torch.isfinite(torch.autograd.grad(out, s)[0].float()).all()
    with pytest.raises(losskit.LossInputError, match="target"):
        F.distillation(student, teacher, alpha=0.5)
    with pytest.raises(losskit.LossInputError, match="teacher_logits"):
        F.distillation(student, teacher[:2])


def test_teacher_with_masked_vocabulary():
    # a teacher that rules tokens out (-inf logits) gives finite values and gradients
    student, teacher, _ = _logits(shape=(3,), seed=7)
    teacher = teacher.clone()
    teacher[:, :2] = float("-inf")
    for divergence in ("forward_kl", "jsd"):
        out = F.distillation(student, teacher, divergence=divergence)
        assert torch.isfinite(out)
        assert torch.isfinite(torch.autograd.grad(out, student)[0]).all()


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl", "jsd"])
def test_a_token_masked_in_both_student_and_teacher_counts_for_nothing(divergence):
    # Padded or banned vocabulary entries are -inf in both models' logits: p = q = 0 there,
    # so every divergence equals the one over the remaining entries, in value and gradient
    # (the masked entry's gradient is 0). reverse_kl and jsd once gave NaN gradients here.
    student, teacher, _ = _logits(shape=(3,), seed=8)
    student, teacher = student.detach().clone(), teacher.clone()
    student[:, -1] = teacher[:, -1] = float("-inf")
    s = student.requires_grad_(True)
    out = F.distillation(s, teacher, divergence=divergence, temperature=2.0)
    (grad,) = torch.autograd.grad(out, s)
    live = student.detach()[:, :-1].clone().requires_grad_(True)
    ref = F.distillation(live, teacher[:, :-1], divergence=divergence, temperature=2.0)
    (ref_grad,) = torch.autograd.grad(ref, live)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(grad[:, :-1], ref_grad)
    assert torch.equal(grad[:, -1], torch.zeros_like(grad[:, -1]))


# --- linear_distillation ---------------------------------------------------------------------


def _hidden(n=19, d=6, dt=5, v=23, dtype=torch.float64, seed=0, leading=None):
    g = torch.Generator().manual_seed(seed)
    shape = (n,) if leading is None else leading
    h = torch.randn(*shape, d, generator=g, dtype=torch.float64).to(dtype)
    w = (torch.randn(v, d, generator=g, dtype=torch.float64) * 0.8).to(dtype)
    ht = torch.randn(*shape, dt, generator=g, dtype=torch.float64).to(dtype)
    wt = (torch.randn(v, dt, generator=g, dtype=torch.float64) * 0.8).to(dtype)
    y = torch.randint(0, v, shape, generator=g)
    if y.numel() > 3:
        y.view(-1)[3] = -100
        y.view(-1)[-1] = -100
    sw = torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)
    return h, w, ht, wt, y, sw


@pytest.fixture
def small_blocks(monkeypatch):
    # four rows per block at V = 23 in float64: several blocks and a ragged last one
    monkeypatch.setattr(linear_distill, "BLOCK_BYTES", 4 * 23 * 8)


@pytest.fixture
def calls(monkeypatch):
    seen = []
    original = linear_distill.LinearDistillation.apply

    def spy(*args):
        seen.append(args[7])
        return original(*args)

    monkeypatch.setattr(linear_distill.LinearDistillation, "apply", spy)
    return seen


OPTIONS = [
    {},
    {"temperature": 2.0},
    {"divergence": "reverse_kl", "temperature": 0.7},
    {"divergence": "jsd", "beta": 0.3},
    {"alpha": 0.4, "target": True},
    {"target": True, "weight": True},
    {"divergence": "jsd", "beta": 0.8, "temperature": 3.0, "alpha": 0.25, "target": True,
     "weight": True},
]


def _run(fn, data, options, reduction, grad_scale=1.0):
    h, w, ht, wt, y, sw = data
    h, w = h.clone().requires_grad_(True), w.clone().requires_grad_(True)
    ht, wt = ht.clone().requires_grad_(True), wt.clone().requires_grad_(True)
    kw = {k: v for k, v in options.items() if k not in ("target", "weight")}
    target = y if options.get("target") else None
    if options.get("weight"):
        kw["weight"] = sw
    out = fn(h, w, ht, wt, target, reduction=reduction, **kw)
    upstream = (torch.linspace(-1, 2, out.numel(), dtype=out.dtype).reshape(out.shape)
                if reduction == "none" else torch.tensor(grad_scale, dtype=out.dtype))
    grads = torch.autograd.grad(out, [h, w, ht, wt], upstream, allow_unused=True)
    return out, grads


def _explicit(h, w, ht, wt, target, **kw):
    # the definition on materialized logits
    return F.distillation(h @ w.T, ht @ wt.T, target, **kw)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(map(str, o.values())) or
                         "default")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_accelerator_equals_explicit_logits(options, reduction, small_blocks, calls):
    data = _hidden()
    out, grads = _run(F.linear_distillation, data, options, reduction, grad_scale=1.7)
    assert calls, "the chunked accelerator did not run"
    ref, ref_grads = _run(_explicit, data, options, reduction, grad_scale=1.7)
    torch.testing.assert_close(out, ref)
    for a, b in zip(grads[:2], ref_grads[:2]):
        torch.testing.assert_close(a, b)
    assert grads[2] is None and grads[3] is None        # the teacher gets no gradient


@pytest.mark.parametrize("options", OPTIONS[:4] + OPTIONS[-1:])
def test_accelerator_float32_and_odd_sizes(options, small_blocks, calls):
    for d in (_hidden(n=1, d=3, dt=9, v=5, dtype=torch.float32, seed=1),
              _hidden(n=33, d=7, dt=2, v=31, dtype=torch.float32, seed=2)):
        out, grads = _run(F.linear_distillation, d, options, "mean")
        d64 = tuple(t.double() if t.is_floating_point() else t for t in d)
        ref, ref_grads = _run(_explicit, d64, options, "mean")
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
        for a, b in zip(grads[:2], ref_grads[:2]):
            torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-6)
    assert len(calls) == 2


def test_accelerator_sequences_retain_graph_no_grad_and_double_backward(small_blocks, calls):
    h, w, ht, wt, y, _ = _hidden(leading=(3, 5), seed=3)
    h.requires_grad_(True)
    w.requires_grad_(True)
    out = F.linear_distillation(h, w, ht, wt, y, alpha=0.5, temperature=2.0)
    ref = _explicit(h, w, ht, wt, y, alpha=0.5, temperature=2.0)
    torch.testing.assert_close(out, ref)
    first = torch.autograd.grad(out, [h, w], retain_graph=True)
    second = torch.autograd.grad(out * 3, [h, w])          # recomputed, scaled by 3
    expected = torch.autograd.grad(ref, [h, w])
    for a, b, c in zip(first, second, expected):
        torch.testing.assert_close(a, c)
        torch.testing.assert_close(b, 3 * c)
    with torch.no_grad():
        torch.testing.assert_close(F.linear_distillation(h, w, ht, wt, y, alpha=0.5,
                                                         temperature=2.0), ref.detach())
    # create_graph: the second derivatives are the definition's
    v = torch.randn_like(h)

    def hvp(fn):
        loss = fn(h, w, ht, wt, y, divergence="jsd", beta=0.4)
        (g,) = torch.autograd.grad(loss, h, create_graph=True)
        return torch.autograd.grad((g * v).sum(), [h, w])

    for a, b in zip(hvp(F.linear_distillation), hvp(_explicit)):
        torch.testing.assert_close(a, b)
    assert len(calls) >= 3


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_accelerator_half_precision(dtype, small_blocks, calls):
    data = _hidden(n=9, v=23, dtype=dtype, seed=4)
    options = {"divergence": "jsd", "temperature": 2.0, "alpha": 0.5, "target": True}
    out, grads = _run(F.linear_distillation, data, options, "mean")
    with kernels.use("plain"):
        ref, ref_grads = _run(F.linear_distillation, data, options, "mean")
    assert len(calls) == 1 and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads[:2], ref_grads[:2]):
        assert a.dtype == dtype
        torch.testing.assert_close(a.float(), b.float(), rtol=2e-2, atol=2e-3)


def test_accelerator_declines_what_it_does_not_do(calls):
    h, w, ht, wt, y, _ = _hidden(n=4, seed=5)
    w.requires_grad_(True)
    temperature = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = F.linear_distillation(h, w, ht, wt, temperature=temperature)
    assert not calls                                       # a learnable temperature
    ref = _explicit(h, w, ht, wt, None, temperature=temperature)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(torch.autograd.grad(out, temperature)[0],
                               torch.autograd.grad(ref, temperature)[0])
    # per-sample gradients under torch.func: the definition runs
    per_sample = torch.func.vmap(torch.func.grad(
        lambda x, a, b: F.linear_distillation(x[None], w.detach(), a[None], wt, b[None],
                                              reduction="sum")))(h, ht, y)
    hh = h.clone().requires_grad_(True)
    full = torch.autograd.grad(F.linear_distillation(hh, w, ht, wt, y, reduction="sum"), hh)[0]
    torch.testing.assert_close(per_sample, full)
    assert [a.name for a in kernels.accelerators("linear_distillation")] == \
        ["chunked_linear_distillation"]


def test_linear_distillation_input_errors():
    h, w, ht, wt, y, _ = _hidden(n=4)
    with pytest.raises(losskit.LossInputError, match="target"):
        F.linear_distillation(h, w, ht, wt, y[:2])
    with pytest.raises(losskit.LossInputError, match="teacher_linear_weight"):
        F.linear_distillation(h, w, ht, wt[:5])
    with pytest.raises(losskit.LossInputError, match="teacher_hidden"):
        F.linear_distillation(h, w, ht[:2], wt)
    with pytest.raises(losskit.LossInputError, match="student_hidden"):
        F.linear_distillation(h[:, :2], w, ht, wt)
