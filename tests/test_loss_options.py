"""Options added for the peers' conventions, against independent values.

* sigmoid_focal(pos_weight=...): torch's BCE with pos_weight (gamma = 0) and the focal
  formula with the positive term scaled, written here;
* softmax_focal(per_class=True): the per-class split kornia returns, from the definition;
* kl_div / js_div(input_kind="probabilities" | "log_probs"): the divergences of
  unnormalised masses written with numpy, and torch's kl_div;
* giou / diou on 3-D boxes: exact voxel counting on integer boxes, MONAI's BoxGIoULoss, and
  the 2-D loss when the z-extents coincide (MONAI's BoxGIoULoss: tests/peer_cases);
* ctc on one unbatched sequence: the batched call.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import functional as F
from losskit.verify import CHECKS

D = torch.float64
TOL = {"rtol": 1e-9, "atol": 1e-10}
TRANSFORMS = ["meta", "vmap", "double_backward", "nan_propagation", "gradcheck", "batch_order"]


def gen(seed):
    return torch.Generator().manual_seed(seed)


def assert_checks_pass(report):
    failed = [(r.name, r.detail) for r in report.results if r.status == "failed"]
    assert not failed, failed


# --- sigmoid_focal(pos_weight) -----------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sigmoid_focal_pos_weight_at_gamma_0_is_torch_bce(reduction):
    x = (torch.randn(5, 3, 2, generator=gen(0), dtype=D)).requires_grad_(True)
    y = torch.rand(5, 3, 2, generator=gen(1), dtype=D)
    pw = torch.tensor([[0.5], [2.0], [4.0]], dtype=D)  # one per channel of dim 1
    ours = F.sigmoid_focal(x, y, gamma=0.0, alpha=None, pos_weight=pw, reduction=reduction)
    theirs = TF.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction=reduction)
    torch.testing.assert_close(ours, theirs, **TOL)
    g1, g2 = (torch.autograd.grad(v.sum(), x)[0] for v in (ours, theirs))
    torch.testing.assert_close(g1, g2, **TOL)


def test_sigmoid_focal_pos_weight_scales_the_positive_term_of_the_focal_formula():
    x = torch.randn(8, 4, generator=gen(2), dtype=D)
    y = (torch.rand(8, 4, generator=gen(3), dtype=D) > 0.5).to(D)
    pw, alpha, gamma = 3.0, 0.25, 2.0
    p = torch.sigmoid(x)
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    bce = -(pw * y * torch.log(p) + (1 - y) * torch.log(1 - p))
    expected = alpha_t * (1 - p_t) ** gamma * bce
    ours = F.sigmoid_focal(x, y, gamma=gamma, alpha=alpha, pos_weight=pw, reduction="none")
    torch.testing.assert_close(ours, expected, **TOL)
    # pos_weight = 1 is the default; a per-label tensor broadcasts like torch's
    torch.testing.assert_close(F.sigmoid_focal(x, y, pos_weight=1.0), F.sigmoid_focal(x, y))
    per_label = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=D)
    torch.testing.assert_close(
        F.sigmoid_focal(x, y, pos_weight=per_label, reduction="none")[:, 2],
        F.sigmoid_focal(x[:, 2], y[:, 2], pos_weight=3.0, reduction="none"))
    with pytest.raises(losskit.LossInputError, match="pos_weight"):
        F.sigmoid_focal(x, y, pos_weight=-1.0)
    with pytest.raises(losskit.LossInputError, match="pos_weight"):
        F.sigmoid_focal(x, y, pos_weight=torch.ones(3, dtype=D))


def test_sigmoid_focal_pos_weight_passes_the_transform_checks():
    report = losskit.check(losskit.get("sigmoid_focal", pos_weight=torch.tensor(2.5, dtype=D)),
                           checks=TRANSFORMS)
    assert_checks_pass(report)


# --- softmax_focal(per_class) ------------------------------------------------------------------


def test_softmax_focal_per_class_splits_the_loss_by_class():
    x = torch.randn(3, 4, 5, 2, generator=gen(4), dtype=D)
    y = torch.randint(0, 4, (3, 5, 2), generator=gen(5))
    y[0, 0, 0] = -100
    alpha = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=D)
    w = torch.rand(3, 5, 2, generator=gen(6), dtype=D)
    split = F.softmax_focal(x, y, alpha=alpha, weight=w, per_class=True, reduction="none")
    assert split.shape == x.shape
    default = F.softmax_focal(x, y, alpha=alpha, weight=w, reduction="none")
    torch.testing.assert_close(split.sum(1), default, **TOL)
    # only the target class holds a value, computed from the definition
    p = torch.softmax(x, 1)
    safe = y.clamp(min=0)
    p_y = p.gather(1, safe[:, None]).squeeze(1)
    value = -alpha[safe] * (1 - p_y) ** 2 * torch.log(p_y) * w * (y != -100)
    expected = torch.zeros_like(x).scatter(1, safe[:, None], value[:, None])
    torch.testing.assert_close(split, expected, **TOL)
    for reduction in ("mean", "sum"):
        torch.testing.assert_close(
            F.softmax_focal(x, y, alpha=alpha, per_class=True, reduction=reduction),
            F.softmax_focal(x, y, alpha=alpha, reduction=reduction))


def test_softmax_focal_per_class_with_probability_targets():
    x = torch.randn(4, 3, generator=gen(7), dtype=D)
    t = torch.softmax(torch.randn(4, 3, generator=gen(8), dtype=D), 1)
    alpha = torch.tensor([1.0, 2.0, 0.5], dtype=D)
    w = torch.rand(4, generator=gen(9), dtype=D)
    p = torch.softmax(x, 1)
    expected = alpha * t * (1 - p) ** 2 * -torch.log(p) * w[:, None]
    split = F.softmax_focal(x, t, alpha=alpha, weight=w, per_class=True, reduction="none")
    torch.testing.assert_close(split, expected, **TOL)
    torch.testing.assert_close(split.sum(1), F.softmax_focal(x, t, alpha=alpha, weight=w,
                                                             reduction="none"), **TOL)


# --- kl_div / js_div(input_kind) ---------------------------------------------------------------


def _kl_masses(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p == 0, 0.0, p * np.log(p / q))
    return terms.sum(1)


def _js_masses(p, q):
    m = 0.5 * (p + q)
    return 0.5 * _kl_masses(p, m) + 0.5 * _kl_masses(q, m)


def test_divergences_of_unnormalised_masses():
    q = torch.rand(3, 6, 2, generator=gen(10), dtype=D)
    p = torch.rand(3, 6, 2, generator=gen(11), dtype=D)
    q[0, :3] = 0.0
    p[0, :4] = 0.0
    p[1, 1] = 0.0
    q[1, 2] = 0.0  # p > 0 = q there: infinite KL for that distribution
    kl = F.kl_div(q, p, input_kind="probabilities", reduction="none").numpy()
    np.testing.assert_allclose(kl, _kl_masses(p.numpy(), q.numpy()), rtol=1e-12)
    assert np.isinf(kl[1]).all() and np.isfinite(kl[[0, 2]]).all()
    js = F.js_div(q, p, input_kind="probabilities", reduction="none").numpy()
    np.testing.assert_allclose(js, _js_masses(p.numpy(), q.numpy()), rtol=1e-12)


def test_divergences_of_masses_have_finite_gradients_where_both_are_zero():
    q = torch.rand(2, 5, generator=gen(12), dtype=D) + 0.1
    p = torch.rand(2, 5, generator=gen(13), dtype=D)
    q[0, 0] = 0.0
    p[0, 0] = 0.0
    q = q.requires_grad_(True)
    for fn in (F.kl_div, F.js_div):
        (g,) = torch.autograd.grad(fn(q, p, input_kind="probabilities"), q)
        assert torch.isfinite(g).all() and g[0, 0] == 0
        torch.autograd.gradcheck(lambda z, f=fn: f(z, p[:, 1:], input_kind="probabilities"),
                                 (q.detach()[:, 1:].clone().requires_grad_(True),))
    nan = q.detach().clone()
    nan[0, 0] = float("nan")
    with losskit._core.validate.value_checks(False):
        assert torch.isnan(F.kl_div(nan, p, input_kind="probabilities", reduction="none")[0])
        assert torch.isnan(F.js_div(nan, p, input_kind="probabilities", reduction="none")[0])
    with pytest.raises(losskit.LossInputError, match="non-negative"):
        F.kl_div(q.detach() - 1, p, input_kind="probabilities")
    with pytest.raises(losskit.LossInputError, match="input_kind"):
        F.kl_div(q, p, input_kind="logprobs")


def test_kl_div_log_probs_is_torchs_kl_div():
    log_q = torch.log_softmax(torch.randn(4, 5, generator=gen(14), dtype=D), 1)
    p = torch.softmax(torch.randn(4, 5, generator=gen(15), dtype=D), 1)
    p[0, 0] = 0.0
    torch.testing.assert_close(F.kl_div(log_q, p, input_kind="log_probs"),
                               TF.kl_div(log_q, p, reduction="batchmean"), **TOL)
    unnormalised = log_q + 0.3
    torch.testing.assert_close(F.kl_div(unnormalised, p, input_kind="log_probs"),
                               TF.kl_div(unnormalised, p, reduction="batchmean"), **TOL)
    masses = torch.exp(log_q)
    torch.testing.assert_close(F.js_div(log_q, p, input_kind="log_probs"),
                               F.js_div(masses, p, input_kind="probabilities"), **TOL)


def test_divergences_of_masses_pass_the_transform_checks():
    def example(n, seed):
        g = gen(seed)
        return (torch.rand(n, 4, generator=g, dtype=D) + 0.05,
                torch.rand(n, 4, generator=g, dtype=D))

    for name in ("kl_div", "js_div"):
        report = losskit.check(losskit.get(name, input_kind="probabilities"), example=example,
                               checks=TRANSFORMS)
        assert_checks_pass(report)


# --- 3-D boxes ---------------------------------------------------------------------------------


def _voxels(box):
    x1, y1, z1, x2, y2, z2 = (int(v) for v in box)
    return {(i, j, k) for i in range(x1, x2) for j in range(y1, y2) for k in range(z1, z2)}


def _brute_force_giou_diou(a, b):
    va, vb = _voxels(a), _voxels(b)
    inter, union = len(va & vb), len(va | vb)
    lo = [min(a[i], b[i]) for i in range(3)]
    hi = [max(a[i + 3], b[i + 3]) for i in range(3)]
    enclosing = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2])
    iou = inter / union
    center = sum(((a[i] + a[i + 3]) / 2 - (b[i] + b[i + 3]) / 2) ** 2 for i in range(3))
    diagonal = sum((hi[i] - lo[i]) ** 2 for i in range(3))
    return 1 - iou + (enclosing - union) / enclosing, 1 - iou + center / diagonal


def _int_boxes(n, seed):
    g = gen(seed)
    lo = torch.randint(0, 6, (n, 3), generator=g)
    return torch.cat([lo, lo + torch.randint(1, 5, (n, 3), generator=g)], 1).to(D)


def test_3d_giou_and_diou_match_voxel_counting():
    a, b = _int_boxes(12, 16), _int_boxes(12, 17)
    expected = [_brute_force_giou_diou(a[i].tolist(), b[i].tolist()) for i in range(12)]
    torch.testing.assert_close(F.giou(a, b, reduction="none"),
                               torch.tensor([e[0] for e in expected], dtype=D), **TOL)
    torch.testing.assert_close(F.diou(a, b, reduction="none"),
                               torch.tensor([e[1] for e in expected], dtype=D), **TOL)


def test_3d_with_equal_z_extent_is_the_2d_loss_and_leading_dimensions():
    g = gen(19)
    lo = torch.rand(2, 3, 2, generator=g, dtype=D) * 4
    a2 = torch.cat([lo, lo + torch.rand(2, 3, 2, generator=g, dtype=D) * 2 + 0.1], -1)
    lo = torch.rand(2, 3, 2, generator=g, dtype=D) * 4
    b2 = torch.cat([lo, lo + torch.rand(2, 3, 2, generator=g, dtype=D) * 2 + 0.1], -1)

    def lift(box):  # z from 1 to 3.5 for both boxes
        z1, z2 = torch.full_like(box[..., :1], 1.0), torch.full_like(box[..., :1], 3.5)
        return torch.cat([box[..., :2], z1, box[..., 2:], z2], -1)

    torch.testing.assert_close(F.giou(lift(a2), lift(b2), reduction="none"),
                               F.giou(a2, b2, reduction="none"), **TOL)
    for fn in (F.giou, F.diou, F.ciou):
        batched = fn(a2, b2, reduction="none")
        assert batched.shape == (2, 3)
        torch.testing.assert_close(batched.reshape(-1),
                                   fn(a2.reshape(-1, 4), b2.reshape(-1, 4), reduction="none"))
        one = fn(a2[0, 0], b2[0, 0], reduction="none")
        assert one.shape == () and torch.isclose(one, batched[0, 0])
    with pytest.raises(losskit.LossInputError, match="2-D boxes only"):
        F.ciou(lift(a2), lift(b2))
    with pytest.raises(losskit.LossInputError, match="depths"):
        bad = lift(a2).clone()
        bad[0, 0, 5] = 0.0
        F.giou(bad, lift(b2))


def test_3d_boxes_pass_the_transform_checks():
    def example(n, seed):
        g = gen(seed)

        def boxes():
            lo = torch.rand(n, 3, generator=g, dtype=D) * 4
            return torch.cat([lo, lo + torch.rand(n, 3, generator=g, dtype=D) * 2 + 0.2], 1)

        return boxes(), boxes()

    for name in ("giou", "diou"):
        assert_checks_pass(losskit.check(name, example=example, checks=TRANSFORMS))


# --- ctc, unbatched ----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_unbatched_equals_the_batch_of_one(reduction):
    lp = torch.randn(12, 1, 4, generator=gen(20), dtype=D).log_softmax(2).requires_grad_(True)
    t = torch.tensor([[1, 2, 2, 3]])
    batched = F.ctc(lp, t, [12], [4], reduction=reduction)
    lp1 = lp.detach().squeeze(1).requires_grad_(True)
    single = F.ctc(lp1, t[0], torch.tensor(12), torch.tensor(4), reduction=reduction)
    assert single.shape == ()
    torch.testing.assert_close(single, batched.reshape(()), **TOL)
    g1 = torch.autograd.grad(batched.sum(), lp)[0].squeeze(1)
    g2 = torch.autograd.grad(single, lp1)[0]
    torch.testing.assert_close(g1, g2, **TOL)
    with pytest.raises(losskit.LossInputError, match="unbatched"):
        F.ctc(lp1, t, torch.tensor(12), torch.tensor(4))


def test_every_check_name_used_here_exists():
    assert set(TRANSFORMS) <= set(CHECKS)
