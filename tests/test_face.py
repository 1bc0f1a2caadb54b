"""Face recognition and re-identification losses against independent sources.

Sources: the papers' formulas written out below with explicit loops and ``acos``
(sharing no code with losskit), pytorch-metric-learning 2.x (``ArcFaceLoss`` and
``SubCenterArcFaceLoss`` with the margin in degrees, ``CosFaceLoss``, ``CircleLoss``,
``ProxyAnchorLoss``, ``MultiSimilarityLoss``; their class weights ``W`` are
``[d, C]``, our centers ``[C, d]``), finite differences (gradcheck) and limiting cases.
Everything in float64.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF

import losskit
import losskit.functional as F

pml = pytest.importorskip("pytorch_metric_learning.losses")

D64 = torch.float64


def _data(n=10, d=6, classes=4, subcenters=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes * subcenters, d, generator=g, dtype=D64)
    target = torch.randint(0, classes, (n,), generator=g)
    target[:classes] = torch.arange(classes)  # every class present
    return torch.randn(n, d, generator=g, dtype=D64), centers, target


def _leaves(*tensors):
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def _value_and_grads(fn, *tensors):
    leaves = _leaves(*tensors)
    value = fn(*leaves)
    return value, torch.autograd.grad(value, leaves)


def _assert_same(a, b, tol=1e-10):
    (va, ga), (vb, gb) = a, b
    torch.testing.assert_close(va, vb, rtol=tol, atol=tol)
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10)


# --- ArcFace -------------------------------------------------------------------------------------


def _arcface_formula(e, w, y, margin, scale, k=1):
    """The paper's logits through acos, with insightface's theta + m > pi fallback."""
    cos = (e / e.norm(dim=1, keepdim=True)) @ (w / w.norm(dim=1, keepdim=True)).t()
    cos = cos.view(e.shape[0], -1, k).max(dim=2).values
    rows = torch.arange(e.shape[0])
    theta = torch.acos(cos[rows, y])
    target = torch.where(theta + margin <= math.pi, torch.cos(theta + margin),
                         cos[rows, y] - margin * math.sin(margin))
    logits = cos.clone()
    logits[rows, y] = target
    return TF.cross_entropy(scale * logits, y)


@pytest.mark.parametrize("subcenters", [1, 3])
def test_arcface_matches_the_paper_formula(subcenters):
    e, w, y = _data(subcenters=subcenters)
    _assert_same(
        _value_and_grads(lambda a, b: F.arcface(a, b, y, margin=0.5, scale=64.0,
                                                subcenters=subcenters), e, w),
        _value_and_grads(lambda a, b: _arcface_formula(a, b, y, 0.5, 64.0, subcenters), e, w))


def test_arcface_matches_pytorch_metric_learning_in_degrees():
    e, w, y = _data()
    loss = pml.ArcFaceLoss(num_classes=4, embedding_size=6, margin=math.degrees(0.5), scale=64)
    loss.W.data = w.t().clone()
    ours = _value_and_grads(lambda a, b: F.arcface(a, b, y), e, w)
    leaf = _leaves(e)[0]
    value = loss(leaf, y)
    value.backward()
    torch.testing.assert_close(ours[0], value.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1][0], leaf.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(ours[1][1], loss.W.grad.t(), rtol=1e-8, atol=1e-10)


def test_subcenter_arcface_matches_pytorch_metric_learning():
    e, w, y = _data(subcenters=3, seed=1)
    loss = pml.SubCenterArcFaceLoss(num_classes=4, embedding_size=6, sub_centers=3,
                                    margin=math.degrees(0.3), scale=30)
    loss.W.data = w.t().clone()
    leaf = _leaves(e)[0]
    value = loss(leaf, y)
    value.backward()
    ours = _value_and_grads(lambda a, b: F.arcface(a, b, y, margin=0.3, scale=30.0,
                                                   subcenters=3), e, w)
    torch.testing.assert_close(ours[0], value.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1][0], leaf.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(ours[1][1], loss.W.grad.t(), rtol=1e-8, atol=1e-10)


def _on_center():
    # Embeddings exactly on their (unnormalized) centers: cos is exactly 1.
    w = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype=D64)
    e = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]], dtype=D64)
    return e, w, torch.tensor([0, 2])


def test_arcface_embedding_exactly_on_its_center_has_finite_value_and_gradient():
    e, w, y = _on_center()
    value, (ge, gw) = _value_and_grads(lambda a, b: F.arcface(a, b, y, scale=4.0), e, w)
    # theta = 0: the target logit is s cos(m); the others are s cos to the other centers.
    cos = TF.normalize(e, dim=1) @ TF.normalize(w, dim=1).t()
    logits = 4.0 * cos
    logits[torch.arange(2), y] = 4.0 * math.cos(0.5)
    torch.testing.assert_close(value, TF.cross_entropy(logits, y))
    assert torch.isfinite(ge).all() and torch.isfinite(gw).all()
    # The acos form (pytorch-metric-learning's) gives NaN here: the reason for the sqrt form.
    leaf = _leaves(e)[0]
    _arcface_formula(leaf, w, y, 0.5, 4.0).backward()
    assert torch.isnan(leaf.grad).all()


def test_arcface_gradient_on_the_center_is_a_subgradient():
    # At theta = 0 the loss is a cone in the embedding: every one-sided directional
    # derivative must be at least the returned gradient's slope in that direction.
    e, w, y = _on_center()
    leaf = _leaves(e)[0]
    F.arcface(leaf, w, y, scale=4.0).backward()
    g = torch.Generator().manual_seed(0)
    h = 1e-7
    with torch.no_grad():
        base = F.arcface(e, w, y, scale=4.0)
        for _ in range(20):
            u = torch.randn(e.shape, generator=g, dtype=D64)
            slope = (F.arcface(e + h * u, w, y, scale=4.0) - base) / h
            assert float((leaf.grad * u).sum()) <= float(slope) + 1e-5


def test_arcface_beyond_pi_minus_margin_uses_the_insightface_fallback():
    m = 0.5
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=D64)
    for theta in (math.pi - 0.2, math.pi):  # theta + m > pi, including the antipode
        e = torch.tensor([[math.cos(theta), math.sin(theta)]], dtype=D64)
        value, (ge,) = _value_and_grads(lambda a: F.arcface(a, w, torch.tensor([0]),
                                                            margin=m, scale=2.0), e)
        target = 2.0 * (math.cos(theta) - m * math.sin(m))
        other = 2.0 * math.sin(theta)
        expected = math.log(math.exp(target) + math.exp(other)) - target
        assert value.item() == pytest.approx(expected, rel=1e-12)
        assert torch.isfinite(ge).all()


def test_arcface_margin_zero_is_normalized_softmax_cross_entropy():
    e, w, y = _data()
    cos = TF.normalize(e, dim=1) @ TF.normalize(w, dim=1).t()
    torch.testing.assert_close(F.arcface(e, w, y, margin=0.0, scale=10.0),
                               TF.cross_entropy(10.0 * cos, y))


def test_arcface_learnable_margin_and_scale_gradcheck():
    e, w, y = _data(n=5, classes=3)
    m = torch.tensor(0.4, dtype=D64, requires_grad=True)
    s = torch.tensor(8.0, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m_, s_, e_: F.arcface(e_, w, y, margin=m_, scale=s_, subcenters=1),
        (m, s, e.requires_grad_(True)))


def test_arcface_rejects_bad_inputs():
    e, w, y = _data()
    with pytest.raises(losskit.LossInputError, match="subcenters"):
        F.arcface(e, w, y, subcenters=3)  # 4 rows do not divide into groups of 3
    with pytest.raises(losskit.LossInputError, match="class index"):
        F.arcface(e, w, torch.full_like(y, 4))
    with pytest.raises(losskit.LossInputError, match="margin"):
        F.arcface(e, w, y, margin=4.0)
    with pytest.raises(losskit.LossInputError, match="centers"):
        F.arcface(e, w[:, :3], y)


def test_arcface_mixed_dtypes_and_half_precision():
    e, w, y = _data()
    ours = F.arcface(e, w.float(), y)
    assert ours.dtype == D64
    half = F.arcface(e.half(), w.half(), y)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, F.arcface(e.half().float(), w.half().float(), y))


# --- CosFace -------------------------------------------------------------------------------------


def test_cosface_matches_formula_and_pytorch_metric_learning():
    e, w, y = _data(seed=2)
    loss = pml.CosFaceLoss(num_classes=4, embedding_size=6, margin=0.35, scale=64)
    loss.W.data = w.t().clone()
    leaf = _leaves(e)[0]
    value = loss(leaf, y)
    value.backward()
    ours = _value_and_grads(lambda a, b: F.cosface(a, b, y), e, w)
    torch.testing.assert_close(ours[0], value.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1][0], leaf.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(ours[1][1], loss.W.grad.t(), rtol=1e-8, atol=1e-10)
    # The formula: s (cos - m) on the target logit, written with a one-hot matrix.
    cos = TF.normalize(e, dim=1) @ TF.normalize(w, dim=1).t()
    expected = TF.cross_entropy(64.0 * (cos - 0.35 * TF.one_hot(y, 4)), y)
    torch.testing.assert_close(ours[0], expected)


def test_cosface_learnable_margin_and_scale_gradcheck():
    e, w, y = _data(n=5, classes=3)
    m = torch.tensor(0.2, dtype=D64, requires_grad=True)
    s = torch.tensor(5.0, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m_, s_, w_: F.cosface(e, w_, y, margin=m_, scale=s_),
                                    (m, s, w.requires_grad_(True)))


# --- Circle --------------------------------------------------------------------------------------


def _labelled(n=12, d=5, seed=0, classes=4):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    e = torch.randn(classes, d, generator=g, dtype=D64)[labels] + 0.7 * torch.randn(
        n, d, generator=g, dtype=D64)
    return e, labels


def _circle_formula(e, y, m, gamma, detach=True):
    """Sun et al. eq. 6 per anchor, lists of s_p and s_n built by loops."""
    z = e / e.norm(dim=1, keepdim=True)
    values = []
    for i in range(len(y)):
        sp = [z[i] @ z[j] for j in range(len(y)) if j != i and y[j] == y[i]]
        sn = [z[i] @ z[j] for j in range(len(y)) if y[j] != y[i]]
        if not sp or not sn:
            continue
        sp, sn = torch.stack(sp), torch.stack(sn)
        ap = torch.clamp_min(1 + m - (sp.detach() if detach else sp), 0)
        an = torch.clamp_min((sn.detach() if detach else sn) + m, 0)
        values.append(TF.softplus(torch.logsumexp(-gamma * ap * (sp - 1 + m), 0)
                                  + torch.logsumexp(gamma * an * (sn - m), 0)))
    return torch.stack(values).mean()


def test_circle_matches_formula_and_pytorch_metric_learning():
    e, y = _labelled()
    ours = _value_and_grads(lambda a: F.circle(a, y, margin=0.25, gamma=64.0), e)
    _assert_same(ours, _value_and_grads(lambda a: _circle_formula(a, y, 0.25, 64.0), e))
    leaf = _leaves(e)[0]
    value = pml.CircleLoss(m=0.25, gamma=64)(leaf, y)
    value.backward()
    torch.testing.assert_close(ours[0], value.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1][0], leaf.grad, rtol=1e-8, atol=1e-10)


def test_circle_default_hyperparameters_match_pytorch_metric_learning():
    e, y = _labelled(seed=3)
    value = pml.CircleLoss(m=0.25, gamma=256)(e, y)
    torch.testing.assert_close(F.circle(e, y), value, rtol=1e-10, atol=1e-10)


def test_circle_without_detached_weights_is_the_derivative_of_the_value():
    e, y = _labelled(n=6, d=3)
    assert torch.autograd.gradcheck(
        lambda a: F.circle(a, y, gamma=16.0, detach_weights=False), (e.requires_grad_(True),))
    assert torch.autograd.gradgradcheck(
        lambda a: F.circle(a, y, gamma=16.0, detach_weights=False), (e,))
    torch.testing.assert_close(F.circle(e, y, gamma=16.0, detach_weights=False),
                               F.circle(e, y, gamma=16.0))
    _assert_same(_value_and_grads(lambda a: F.circle(a, y, gamma=16.0, detach_weights=False), e),
                 _value_and_grads(lambda a: _circle_formula(a, y, 0.25, 16.0, detach=False), e))


def test_circle_learnable_margin_and_gamma_gradcheck():
    e, y = _labelled(n=6, d=3)
    m = torch.tensor(0.3, dtype=D64, requires_grad=True)
    gamma = torch.tensor(12.0, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m_, g_: F.circle(e, y, margin=m_, gamma=g_),
                                    (m, gamma))


def test_circle_counts_only_anchors_with_a_positive_and_a_negative():
    e, _ = _labelled(n=5)
    y = torch.tensor([0, 0, 1, 2, 3])  # anchors 2, 3, 4 have no positive
    per = F.circle(e, y, reduction="none")
    assert per[2:].eq(0).all() and (per[:2] > 0).all()
    torch.testing.assert_close(F.circle(e, y), per[:2].mean())
    # No positive pair anywhere: 0, attached, zero gradient.
    leaf = _leaves(e)[0]
    out = F.circle(leaf, torch.arange(5))
    (grad,) = torch.autograd.grad(out, leaf)
    assert out.item() == 0.0 and not grad.any()


# --- Multi-Similarity -----------------------------------------------------------------------------


def _multi_similarity_formula(e, y, alpha, beta, base):
    z = e / e.norm(dim=1, keepdim=True)
    total = z.new_zeros(())
    for i in range(len(y)):
        pos = [z[i] @ z[j] for j in range(len(y)) if j != i and y[j] == y[i]]
        neg = [z[i] @ z[j] for j in range(len(y)) if y[j] != y[i]]
        if pos:
            total = total + torch.log(1 + sum(torch.exp(-alpha * (s - base)) for s in pos)) / alpha
        if neg:
            total = total + torch.log(1 + sum(torch.exp(beta * (s - base)) for s in neg)) / beta
    return total / len(y)


def test_multi_similarity_matches_formula_and_pytorch_metric_learning():
    e, y = _labelled(seed=1)
    y[0] = 9  # an anchor without positives still pays its negative term
    ours = _value_and_grads(lambda a: F.multi_similarity(a, y), e)
    _assert_same(ours, _value_and_grads(lambda a: _multi_similarity_formula(a, y, 2.0, 50.0, 0.5),
                                        e))
    leaf = _leaves(e)[0]
    value = pml.MultiSimilarityLoss(alpha=2, beta=50, base=0.5)(leaf, y)
    value.backward()
    torch.testing.assert_close(ours[0], value.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1][0], leaf.grad, rtol=1e-8, atol=1e-10)


def test_multi_similarity_learnable_hyperparameters_gradcheck():
    e, y = _labelled(n=6, d=3)
    params = [torch.tensor(v, dtype=D64, requires_grad=True) for v in (2.0, 10.0, 0.4)]
    assert torch.autograd.gradcheck(
        lambda a, b, c, x: F.multi_similarity(x, y, alpha=a, beta=b, base=c),
        (*params, e.requires_grad_(True)))


# --- Proxy-Anchor --------------------------------------------------------------------------------


def _proxy_anchor_formula(e, p, y, margin, alpha):
    """Kim et al. eq. 4 with explicit positive and negative sets per proxy."""
    z, q = TF.normalize(e, dim=1), TF.normalize(p, dim=1)
    pos, neg, with_pos = 0.0, 0.0, 0
    for c in range(p.shape[0]):
        members = [i for i in range(len(y)) if y[i] == c]
        others = [i for i in range(len(y)) if y[i] != c]
        if members:
            with_pos += 1
            pos = pos + torch.log(1 + sum(torch.exp(-alpha * (z[i] @ q[c] - margin))
                                          for i in members))
        neg = neg + torch.log(1 + sum((torch.exp(alpha * (z[i] @ q[c] + margin))
                                       for i in others), z.new_zeros(())))
    return pos / with_pos + neg / p.shape[0]


def test_proxy_anchor_matches_formula_and_pytorch_metric_learning():
    e, p, y = _data(n=8, classes=5, seed=4)
    y[y == 4] = 0  # proxy 4 has no positive: it only enters the negative term
    ours = _value_and_grads(lambda a, b: F.proxy_anchor(a, b, y), e, p)
    _assert_same(ours, _value_and_grads(
        lambda a, b: _proxy_anchor_formula(a, b, y, 0.1, 32.0), e, p))
    loss = pml.ProxyAnchorLoss(num_classes=5, embedding_size=6, margin=0.1, alpha=32)
    loss.proxies.data = p.clone()
    leaf = _leaves(e)[0]
    value = loss(leaf, y)
    value.backward()
    torch.testing.assert_close(ours[0], value.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1][0], leaf.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(ours[1][1], loss.proxies.grad, rtol=1e-8, atol=1e-10)


def test_proxy_anchor_learnable_margin_and_alpha_gradcheck():
    e, p, y = _data(n=5, classes=3)
    m = torch.tensor(0.2, dtype=D64, requires_grad=True)
    a = torch.tensor(6.0, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m_, a_, p_: F.proxy_anchor(e, p_, y, margin=m_,
                                                                      alpha=a_),
                                    (m, a, p.requires_grad_(True)))


def test_proxy_anchor_empty_batch_is_zero_with_zero_gradients():
    _, p, _ = _data()
    e = torch.zeros(0, 6, dtype=D64, requires_grad=True)
    proxies = p.clone().requires_grad_(True)
    out = F.proxy_anchor(e, proxies, torch.zeros(0, dtype=torch.long))
    (g,) = torch.autograd.grad(out, proxies)
    assert out.item() == 0.0 and not g.any()


def test_arcface_with_subcenters_on_an_empty_batch_is_zero_with_a_graph():
    centers = torch.randn(4 * 3, 6, dtype=torch.float64, requires_grad=True)
    e = torch.zeros(0, 6, dtype=torch.float64, requires_grad=True)
    out = F.arcface(e, centers, torch.zeros(0, dtype=torch.long), subcenters=3)
    (g,) = torch.autograd.grad(out, centers)
    assert out.item() == 0.0 and not g.any()
