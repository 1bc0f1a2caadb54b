"""Self-supervised and vision-language losses against their papers' and official code's formulas.

Sources, written out here independently of losskit: open_clip's ``ClipLoss`` (cross-entropy
of ``logit_scale * img @ txt.T`` in both directions), the SigLIP paper's pseudo-code
(``-sum(log_sigmoid(labels * logits)) / n``), ``VICReg.forward`` of facebookresearch/vicreg
and ``BarlowTwins.forward`` of facebookresearch/barlowtwins (transcribed below, with
``nn.BatchNorm1d(affine=False)`` for Barlow Twins' standardization), SimSiam's
``D(p, z) = -cosine_similarity(p, z.detach())``, and ``DINOLoss.forward`` of
facebookresearch/dino. Distributed runs use real gloo process groups
(``tests/distributed_harness.py``): every rank's loss and DDP-averaged gradient must equal
one process on the concatenated batch.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF

import losskit
import losskit.functional as F
from losskit.modules import DINOLoss

from .distributed_harness import run, shard

D64 = torch.float64


def _pairs(n=8, d=5, seed=0, noise=0.7):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=D64)
    return a, a + noise * torch.randn(n, d, generator=g, dtype=D64)


def _value_and_grads(fn, *tensors):
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    value = fn(*leaves)
    return value, torch.autograd.grad(value, leaves)


def _assert_same(a, b, tol=1e-10):
    torch.testing.assert_close(a[0], b[0], rtol=tol, atol=tol)
    for x, y in zip(a[1], b[1]):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10)


# --- CLIP ----------------------------------------------------------------------------------------


def _open_clip_loss(img, txt, logit_scale):
    img, txt = TF.normalize(img, dim=-1), TF.normalize(txt, dim=-1)
    logits_per_image = logit_scale * img @ txt.T
    labels = torch.arange(img.shape[0])
    return (TF.cross_entropy(logits_per_image, labels)
            + TF.cross_entropy(logits_per_image.T, labels)) / 2


def test_clip_matches_open_clip_formula():
    img, txt = _pairs()
    _assert_same(
        _value_and_grads(lambda a, b: F.clip_contrastive(a, b, temperature=0.07), img, txt),
        _value_and_grads(lambda a, b: _open_clip_loss(a, b, 1 / 0.07), img, txt))


def test_clip_learnable_temperature_gets_exact_gradients():
    img, txt = _pairs(n=5, d=3)
    t = torch.tensor(0.3, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t_, a, b: F.clip_contrastive(a, b, temperature=t_),
                                    (t, img.requires_grad_(True), txt.requires_grad_(True)))
    # The gradient through a log-parameterised scale matches open_clip's formula.
    log_scale = torch.tensor(math.log(1 / 0.3), dtype=D64, requires_grad=True)
    ours = F.clip_contrastive(img, txt, temperature=torch.exp(-log_scale))
    (g_ours,) = torch.autograd.grad(ours, log_scale)
    log_scale2 = log_scale.detach().clone().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(_open_clip_loss(img, txt, log_scale2.exp()), log_scale2)
    torch.testing.assert_close(g_ours, g_ref)


def test_clip_none_is_the_mean_of_both_directions_per_pair():
    img, txt = _pairs()
    logits = TF.normalize(img, dim=1) @ TF.normalize(txt, dim=1).t() / 0.1
    labels = torch.arange(8)
    expected = 0.5 * (TF.cross_entropy(logits, labels, reduction="none")
                      + TF.cross_entropy(logits.t(), labels, reduction="none"))
    torch.testing.assert_close(F.clip_contrastive(img, txt, temperature=0.1, reduction="none"),
                               expected)


def test_clip_perfect_orthogonal_pairs_at_low_temperature_give_zero():
    z = torch.eye(4, dtype=D64)
    assert F.clip_contrastive(z, 3 * z, temperature=0.01).item() == pytest.approx(0, abs=1e-30)


# --- SigLIP --------------------------------------------------------------------------------------


def _siglip_paper(img, txt, t, b):
    # Zhai et al. 2023, Algorithm 1 (t is the scale itself here, not its log).
    zimg, ztxt = TF.normalize(img, dim=1), TF.normalize(txt, dim=1)
    logits = zimg @ ztxt.T * t + b
    n = img.shape[0]
    labels = 2 * torch.eye(n, dtype=img.dtype) - torch.ones(n, n, dtype=img.dtype)
    return -torch.sum(TF.logsigmoid(labels * logits)) / n


def test_siglip_matches_the_paper_pseudocode():
    img, txt = _pairs(seed=1)
    _assert_same(_value_and_grads(lambda a, b: F.siglip(a, b), img, txt),
                 _value_and_grads(lambda a, b: _siglip_paper(a, b, 10.0, -10.0), img, txt))
    _assert_same(_value_and_grads(lambda a, b: F.siglip(a, b, logit_scale=3.0, logit_bias=1.5),
                                  img, txt),
                 _value_and_grads(lambda a, b: _siglip_paper(a, b, 3.0, 1.5), img, txt))


def test_siglip_learnable_scale_and_bias_gradcheck_and_match_paper():
    img, txt = _pairs(n=5, d=3)
    s = torch.tensor(4.0, dtype=D64, requires_grad=True)
    b = torch.tensor(-2.0, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda s_, b_, a: F.siglip(a, txt, logit_scale=s_, logit_bias=b_),
        (s, b, img.requires_grad_(True)))
    ours = torch.autograd.grad(F.siglip(img, txt, logit_scale=s, logit_bias=b), (s, b))
    paper = torch.autograd.grad(_siglip_paper(img, txt, s, b), (s, b))
    for x, y in zip(ours, paper):
        torch.testing.assert_close(x, y)


# --- VICReg --------------------------------------------------------------------------------------


def _off_diagonal(x):
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def _vicreg_official(x, y, sim_coeff, std_coeff, cov_coeff):
    # facebookresearch/vicreg, main_vicreg.py, VICReg.forward (one process).
    batch_size, num_features = x.shape
    repr_loss = TF.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(TF.relu(1 - std_x)) / 2 + torch.mean(TF.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (batch_size - 1)
    cov_y = (y.T @ y) / (batch_size - 1)
    cov_loss = _off_diagonal(cov_x).pow_(2).sum().div(num_features) + _off_diagonal(
        cov_y).pow_(2).sum().div(num_features)
    return sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss


@pytest.mark.parametrize("weights", [(25.0, 25.0, 1.0), (5.0, 2.0, 0.5)])
def test_vicreg_matches_the_official_code(weights):
    # Small spread, so the variance hinge is active on some dimensions.
    a, b = _pairs(n=9, d=6, seed=2)
    a, b = 0.6 * a, 0.6 * b
    sim, var, cov = weights
    _assert_same(
        _value_and_grads(lambda x, y: F.vicreg(x, y, sim_weight=sim, var_weight=var,
                                               cov_weight=cov), a, b),
        _value_and_grads(lambda x, y: _vicreg_official(x, y, sim, var, cov), a, b))


def test_vicreg_single_sample_has_zero_spread_instead_of_nan():
    a, b = _pairs(n=1)
    value = F.vicreg(a, b)
    # Variance 0: each branch's hinge is 1 - sqrt(eps), halved; no covariance.
    expected = 25.0 * TF.mse_loss(a, b) + 25.0 * (1 - math.sqrt(1e-4))
    torch.testing.assert_close(value, expected)


# --- Barlow Twins --------------------------------------------------------------------------------


def _barlow_official(z1, z2, lambd):
    # facebookresearch/barlowtwins, main.py, BarlowTwins.forward (one process).
    bn = torch.nn.BatchNorm1d(z1.shape[1], affine=False).to(z1.dtype)
    c = bn(z1).T @ bn(z2)
    c = c / z1.shape[0]
    on_diag = torch.diagonal(c).add(-1).pow(2).sum()
    off_diag = _off_diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


@pytest.mark.parametrize("lambd", [5.1e-3, 0.5])
def test_barlow_twins_matches_the_official_code(lambd):
    a, b = _pairs(n=10, d=6, seed=3)
    _assert_same(_value_and_grads(lambda x, y: F.barlow_twins(x, y, lambd=lambd), a, b),
                 _value_and_grads(lambda x, y: _barlow_official(x, y, lambd), a, b))


def test_barlow_twins_identical_decorrelated_views_reach_zero():
    # Orthogonal centred columns with equal norms: C is the identity (up to BN's eps).
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=D64)
    assert F.barlow_twins(z, z, eps=0.0).item() == pytest.approx(0.0, abs=1e-24)


# --- SimSiam / BYOL ------------------------------------------------------------------------------


def test_negative_cosine_stops_the_gradient_to_the_target():
    p, z = _pairs(seed=4)
    p, z = p.requires_grad_(True), z.requires_grad_(True)
    loss = F.negative_cosine(p, z)
    loss.backward()
    assert z.grad is None and p.grad is not None
    torch.testing.assert_close(loss, -TF.cosine_similarity(p, z.detach(), dim=-1).mean())
    # SimSiam's gradient: -(z^ - cos p^) / |p| / N per row, nothing to z.
    ph, zh = TF.normalize(p.detach(), dim=1), TF.normalize(z.detach(), dim=1)
    cos = (ph * zh).sum(1, keepdim=True)
    expected = -(zh - cos * ph) / p.detach().norm(dim=1, keepdim=True) / p.shape[0]
    torch.testing.assert_close(p.grad, expected)


def test_negative_cosine_without_stop_gradient_reaches_the_target():
    p, z = _pairs(seed=5)
    z = z.requires_grad_(True)
    F.negative_cosine(p, z, stop_gradient=False).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_byol_loss_is_two_plus_twice_negative_cosine():
    p, z = _pairs(seed=6)
    byol = (TF.normalize(p, dim=1) - TF.normalize(z, dim=1)).square().sum(1).mean()
    torch.testing.assert_close(2 + 2 * F.negative_cosine(p, z), byol)


# --- DINO ----------------------------------------------------------------------------------------


def _dino_official_pair(student_output, teacher_output, center, student_temp, teacher_temp):
    # facebookresearch/dino, main_dino.py, DINOLoss.forward for one (teacher, student) pair.
    student_out = student_output / student_temp
    teacher_out = TF.softmax((teacher_output - center) / teacher_temp, dim=-1).detach()
    return torch.sum(-teacher_out * TF.log_softmax(student_out, dim=-1), dim=-1).mean()


def _dino_data(n=6, k=7, seed=7):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(n, k, generator=g, dtype=D64)
    return (t + torch.randn(n, k, generator=g, dtype=D64), t,
            0.3 * torch.randn(1, k, generator=g, dtype=D64))


def test_dino_matches_the_official_code_and_detaches_the_teacher():
    s, t, c = _dino_data()
    ours = _value_and_grads(lambda a: F.dino(a, t, center=c), s)
    _assert_same(ours, _value_and_grads(lambda a: _dino_official_pair(a, t, c, 0.1, 0.04), s))
    # Closed form of the student gradient: (softmax(s / tau_s) - q) / tau_s / N.
    q = torch.softmax((t - c) / 0.04, dim=1)
    torch.testing.assert_close(ours[1][0], (torch.softmax(s / 0.1, dim=1) - q) / 0.1 / 6)
    teacher = t.clone().requires_grad_(True)
    center = c.clone().requires_grad_(True)
    out = F.dino(s, teacher, center=center)
    assert not out.requires_grad  # nothing flows to the teacher or the center


def test_dino_learnable_student_temperature_gradcheck():
    s, t, c = _dino_data(n=4, k=5)
    tau = torch.tensor(0.2, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda tau_, a: F.dino(a, t, center=c.squeeze(0), student_temperature=tau_),
        (tau, s.requires_grad_(True)))


def test_dino_rejects_a_center_of_the_wrong_size():
    s, t, _ = _dino_data()
    with pytest.raises(losskit.LossInputError, match="center"):
        F.dino(s, t, center=torch.zeros(3, dtype=D64))


# --- distributed: every rank equals one process on the concatenated batch -----------------------


def _clip(img, txt, t, **kw):
    return F.clip_contrastive(img, txt, temperature=t, **kw)


def _siglip(img, txt, s, b, **kw):
    return F.siglip(img, txt, logit_scale=s, logit_bias=b, **kw)


def _circle(e, y, **kw):
    return F.circle(e, y, gamma=32.0, **kw)


def _labelled(n, g):
    return torch.randn(n, 5, dtype=D64, generator=g), torch.randint(0, 3, (n,), generator=g)


def _two_views(n, g):
    a = torch.randn(n, 5, dtype=D64, generator=g)
    return a, a + 0.5 * torch.randn(n, 5, dtype=D64, generator=g)


# name -> (function, make(n, generator), sharded positions, positions with gradients)
CASES = {
    "clip_contrastive": (_clip, lambda n, g: (*_two_views(n, g), torch.tensor(0.2, dtype=D64)),
                         (0, 1), (0, 1, 2)),
    "siglip": (_siglip, lambda n, g: (*_two_views(n, g), torch.tensor(5.0, dtype=D64),
                                      torch.tensor(-3.0, dtype=D64)), (0, 1), (0, 1, 2, 3)),
    "vicreg": (F.vicreg, _two_views, (0, 1), (0, 1)),
    "barlow_twins": (F.barlow_twins, _two_views, (0, 1), (0, 1)),
    "circle": (_circle, _labelled, (0, 1), (0,)),
    "multi_similarity": (F.multi_similarity, _labelled, (0, 1), (0,)),
}
SIZES = [3, 5]


def _inputs(name, seed=11):
    return CASES[name][1](sum(SIZES), torch.Generator().manual_seed(seed))


def _call(name, args, **extra):
    fn, _, _, grads = CASES[name]
    leaves = [a.clone().requires_grad_(True) if i in grads else a for i, a in enumerate(args)]
    loss = fn(*leaves, **extra)
    loss.backward()
    return loss.detach(), [leaves[i].grad for i in grads]


def _teacher(n, seed=12):
    return torch.randn(n, 4, dtype=D64, generator=torch.Generator().manual_seed(seed))


def _rank(rank, world, sizes):
    out = {}
    for name, (_, _, sharded, _) in CASES.items():
        local = [shard(a, sizes, rank) if i in sharded else a
                 for i, a in enumerate(_inputs(name))]
        out[name] = _call(name, local, distributed=True)
    dino = DINOLoss(4, distributed=True).double()
    teacher = shard(_teacher(sum(sizes)), sizes, rank)
    dino(teacher.clone(), teacher)
    out["dino_center"] = dino.center
    return out


def test_distributed_equals_single_process():
    per_rank = run(_rank, len(SIZES), SIZES)
    world = len(SIZES)
    for name, (_, _, sharded, grads) in CASES.items():
        ref_loss, ref_grads = _call(name, _inputs(name))
        for rank, results in enumerate(per_rank):
            loss, rank_grads = results[name]
            torch.testing.assert_close(loss, ref_loss, rtol=1e-9, atol=1e-9,
                                       msg=lambda m, n=name, r=rank: f"{n} rank {r}: {m}")
            for pos, g, ref_g in zip(grads, rank_grads, ref_grads):
                if pos in sharded:  # DDP divides each rank's gradient by the world size
                    torch.testing.assert_close(g / world, shard(ref_g, SIZES, rank),
                                               rtol=1e-8, atol=1e-10)
        for k, pos in enumerate(grads):
            if pos not in sharded:  # replicated (a learnable scalar): DDP averages
                mean = sum(r[name][1][k] for r in per_rank) / world
                torch.testing.assert_close(mean, ref_grads[k], rtol=1e-8, atol=1e-10)
    # DINO's center: the EMA of the global teacher mean on every rank.
    expected = 0.1 * _teacher(sum(SIZES)).mean(dim=0, keepdim=True)
    for results in per_rank:
        torch.testing.assert_close(results["dino_center"], expected)


@pytest.mark.parametrize("name", list(CASES))
def test_distributed_flag_without_process_group_changes_nothing(name):
    args = _inputs(name, seed=13)
    plain, plain_grads = _call(name, args)
    flagged, flagged_grads = _call(name, args, distributed=True)
    torch.testing.assert_close(flagged, plain)
    for a, b in zip(flagged_grads, plain_grads):
        torch.testing.assert_close(a, b)
