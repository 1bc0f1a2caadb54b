"""Segmentation losses: values against MONAI, brute force and hand-worked cases.

Sources of expected values are named in each test: MONAI 1.x losses (a peer library,
compared directly where the definitions coincide), a brute-force Lovász extension
(maximum over all permutations of the greedy increments), and closed forms worked by hand.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import losskit
from losskit import kernels
from losskit.functional import (
    dice,
    generalized_dice,
    jaccard,
    lovasz_hinge,
    lovasz_softmax,
    tversky,
)
from losskit.functional.segmentation import overlap_stats

monai_losses = pytest.importorskip("monai.losses")

OVERLAP = [dice, jaccard, tversky, generalized_dice]


def _case(n=2, c=3, spatial=(5, 4, 3), seed=0, dtype=torch.float64):
    """Logits ``[n, c, *spatial]`` requiring grad and index targets."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, c, *spatial, generator=g, dtype=dtype) * 2).requires_grad_(True)
    t = torch.randint(0, c, (n, *spatial), generator=g)
    return x, t


def _onehot(t, c):
    return F.one_hot(t, c).movedim(-1, 1).double()


def _grad(loss, x):
    return torch.autograd.grad(loss, x)[0]


# --- MONAI, hard targets ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("batch", [False, True])
def test_dice_matches_monai_index_targets(activation, include_background, batch):
    # Source: monai.losses.DiceLoss with to_onehot_y (one-hot + products) on the same logits.
    x, t = _case()
    ref = monai_losses.DiceLoss(softmax=activation == "softmax", sigmoid=activation == "sigmoid",
                                to_onehot_y=True, include_background=include_background,
                                batch=batch, reduction="none")(x, t.unsqueeze(1))
    ours = dice(x, t, activation=activation, include_background=include_background, batch=batch,
                reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))


def test_dice_ignore_index_matches_monai():
    # Source: MONAI DiceLoss(ignore_index=...) masks prediction and target at ignored voxels.
    x, t = _case(seed=1)
    t = t.clone()
    t[0, :2] = 255
    ref = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, ignore_index=255,
                                reduction="none")(x, t.unsqueeze(1))
    ours = dice(x, t, ignore_index=255, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))


def test_dice_class_weight_matches_monai_unreduced():
    # MONAI multiplies the per-(image, class) loss by class_weight, as our "none" does;
    # our "mean" then divides by the weights (the cross-entropy convention), MONAI's does not.
    x, t = _case(seed=2)
    w = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    ref = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, weight=w,
                                reduction="none")(x, t.unsqueeze(1))
    ours = dice(x, t, class_weight=w, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(dice(x, t, class_weight=w), ours.sum() / (2 * w.sum()))


def test_jaccard_matches_monai_with_half_smooth():
    # MONAI's jaccard writes (2I + s) / (2U + s) = (I + s/2) / (U + s/2).
    x, t = _case(seed=3)
    ref = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, jaccard=True, smooth_nr=0.4,
                                smooth_dr=0.4, reduction="none")(x, t.unsqueeze(1))
    ours = jaccard(x, t, smooth=0.2, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))


@pytest.mark.parametrize("alpha,beta", [(0.3, 0.7), (0.5, 0.5), (0.9, 0.1)])
def test_tversky_matches_monai(alpha, beta):
    # Source: monai.losses.TverskyLoss (product form, equal to the min form for hard targets).
    x, t = _case(seed=4)
    ref = monai_losses.TverskyLoss(softmax=True, to_onehot_y=True, alpha=alpha, beta=beta,
                                   reduction="none")(x, t.unsqueeze(1))
    ours = tversky(x, t, alpha=alpha, beta=beta, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))


def test_focal_tversky_is_power_and_limits():
    x, t = _case(seed=5)
    base = tversky(x, t, reduction="none")
    torch.testing.assert_close(tversky(x, t, gamma=0.75, reduction="none"), base ** 0.75)
    # alpha = beta = 1/2 is Dice and alpha = beta = 1 is Jaccard (closed form, smooth = 0).
    torch.testing.assert_close(tversky(x, t, alpha=0.5, beta=0.5, smooth=0.0),
                               dice(x, t, smooth=0.0))
    torch.testing.assert_close(tversky(x, t, alpha=1.0, beta=1.0, smooth=0.0),
                               jaccard(x, t, smooth=0.0))


@pytest.mark.parametrize("batch", [False, True])
def test_generalized_dice_matches_monai_with_absent_class(batch):
    # Source: monai.losses.GeneralizedDiceLoss, smooth 0 (our weights are normalized, which
    # changes nothing then). Class 2 is absent from image 0: both give it the largest finite
    # weight of that image.
    x, t = _case(seed=6)
    t = t.clone()
    t[0][t[0] == 2] = 0
    ref = monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True, batch=batch,
                                           smooth_nr=0.0, smooth_dr=0.0,
                                           reduction="none")(x, t.unsqueeze(1))
    ours = generalized_dice(x, t, batch=batch, smooth=0.0, reduction="none")
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))


# --- soft labels ---------------------------------------------------------------------------


def test_soft_dice_matches_monai_soft_label():
    # Source: MONAI DiceLoss(soft_label=True), the L1 form (|p| + |t| - |p - t|) / 2.
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.softmax(torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64) * 2, 1)
    for fn, kw in ((dice, {}), (jaccard, {"jaccard": True})):
        ref = monai_losses.DiceLoss(softmax=True, soft_label=True, smooth_nr=0.0, smooth_dr=0.0,
                                    reduction="none", **kw)(x, t)
        ours = fn(x, t, smooth=0.0, reduction="none")
        torch.testing.assert_close(ours, ref.reshape(ours.shape))
    ref = monai_losses.TverskyLoss(softmax=True, soft_label=True, alpha=0.3, beta=0.7,
                                   reduction="none")(x, t)
    torch.testing.assert_close(tversky(x, t, reduction="none"), ref.reshape(2, 3))


@pytest.mark.parametrize("fn", OVERLAP)
def test_soft_targets_equal_to_input_give_exactly_zero(fn):
    g = torch.Generator().manual_seed(8)
    p = torch.softmax(torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64), 1)
    assert fn(p, p.clone(), activation="none").item() == 0.0
    # The product form would not: sum(p*p) < sum(p) for 0 < p < 1 (the bug the min form fixes).
    product_dice = 1 - 2 * (p * p).sum((2, 3)) / (2 * p.sum((2, 3)))
    assert (product_dice > 0.1).all()


def test_hard_one_hot_targets_equal_index_targets():
    # The index path (gather + scatter_add) against the dense min-form path.
    for activation in ("softmax", "sigmoid", "none"):
        x, t = _case(seed=9)
        for fn in OVERLAP:
            inp = torch.sigmoid(x) if activation == "none" else x
            a = fn(inp, t, activation=activation, reduction="none")
            inp = torch.sigmoid(x) if activation == "none" else x
            b = fn(inp, _onehot(t, 3), activation=activation, reduction="none")
            torch.testing.assert_close(a, b)
            torch.testing.assert_close(_grad(a.sum(), x), _grad(b.sum(), x))


def test_binary_single_channel_index_equals_mask():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(3, 1, 6, 6, generator=g, dtype=torch.float64)
    t = (torch.rand(3, 6, 6, generator=g) > 0.7).long()
    torch.testing.assert_close(dice(x, t, activation="sigmoid"),
                               dice(x, t.unsqueeze(1).double(), activation="sigmoid"))
    ref = monai_losses.DiceLoss(sigmoid=True)(x, t.unsqueeze(1).double())
    torch.testing.assert_close(dice(x, t, activation="sigmoid"), ref)


# --- empty classes -------------------------------------------------------------------------------


def test_class_absent_from_both_is_zero_not_nan():
    # Closed form: with smooth = 0 a class with P = T = 0 counts as perfect (loss 0).
    p = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    p[:, 0] = 1.0
    p.requires_grad_(True)
    t = torch.zeros(1, 2, 2, dtype=torch.long)
    for fn in OVERLAP:
        out = fn(p, t, activation="none", smooth=0.0, reduction="none")
        assert torch.equal(out, torch.zeros_like(out)), fn.__name__
        assert torch.isfinite(_grad(out.sum(), p)).all()


@pytest.mark.parametrize("fn", [*OVERLAP, lovasz_softmax])
def test_all_background_batch_is_finite(fn):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float32, requires_grad=True)
    t = torch.zeros(2, 4, 4, dtype=torch.long)
    for include_background in (True, False):
        kw = {} if fn is lovasz_softmax else {"smooth": 0.0}
        out = fn(x * 100, t, include_background=include_background, **kw)
        assert torch.isfinite(out)
        assert torch.isfinite(_grad(out, x)).all()


def test_skip_empty_leaves_absent_pairs_out():
    # Image 0 has only classes 0/1 in target and prediction; class 2 is absent from both and
    # is left out of the mean: the mean is over the 5 remaining (image, class) pairs.
    x = torch.full((2, 3, 2, 2), -5.0, dtype=torch.float64)
    t = torch.tensor([[[0, 1], [1, 0]], [[2, 1], [0, 2]]])
    x.scatter_(1, t.unsqueeze(1), 5.0)
    x[1, 2, 0, 0] = -1.0  # image 1 is not perfect
    none = dice(x, t, reduction="none")
    expected = (none.sum() - none[0, 2]) / 5
    torch.testing.assert_close(dice(x, t, skip_empty=True), expected)
    assert none[0, 2] > 0  # the excluded pair was not zero (predicted mass 4 sigmoid-ish)


def test_batch_dice_is_one_dice_over_the_batch():
    # Closed form: batch=True equals per-image Dice on the batch concatenated along space.
    x, t = _case(seed=12)
    joined_x = x.movedim(0, 1).reshape(1, 3, -1)
    joined_t = t.reshape(1, -1)
    torch.testing.assert_close(dice(x, t, batch=True, reduction="none"),
                               dice(joined_x, joined_t, reduction="none")[0])


def test_overlap_stats_sum_over_batch_like_a_process_split():
    # Splitting the batch (as processes would), summing statistics, then the loss = batch loss.
    x, t = _case(n=4, seed=13)
    a = overlap_stats(x[:2], t[:2], batch=True)
    b = overlap_stats(x[2:], t[2:], batch=True)
    whole = overlap_stats(x, t, batch=True)
    for u, v, w in zip(a[:3], b[:3], whole[:3]):
        torch.testing.assert_close(u + v, w)


# --- errors --------------------------------------------------------------------------------------


def test_bad_inputs_raise():
    x, t = _case()
    with pytest.raises(losskit.LossInputError, match="activation"):
        dice(x, t, activation="relu")
    with pytest.raises(losskit.LossInputError, match="sigmoid"):
        dice(x[:, :1], t.clamp(max=1), activation="softmax")
    with pytest.raises(losskit.LossInputError, match="class index 3"):
        dice(x, t.clamp(max=2) + (t == 2).long())
    with pytest.raises(losskit.LossInputError, match="ignore_index"):
        dice(x, _onehot(t, 3), ignore_index=0)
    with pytest.raises(losskit.LossInputError, match="shape"):
        dice(x, t[:, :2])
    with pytest.raises(losskit.LossInputError, match="class_weight"):
        dice(x, t, class_weight=torch.ones(5))
    with pytest.raises(losskit.LossInputError, match="hard labels"):
        lovasz_softmax(x, _onehot(t, 3))
    with pytest.raises(losskit.LossInputError, match="probabilities"):
        dice(x, _onehot(t, 3) * 2)


# --- Lovász: brute force -----------------------------------------------------------------------


def _jaccard_set_loss(mispredicted: tuple[int, ...], fg: list[int]) -> float:
    """Berman et al.'s Delta_J(M) = |M| / |{y = 1} ∪ M| (0 for the empty set)."""
    union = set(i for i, f in enumerate(fg) if f) | set(mispredicted)
    return len(mispredicted) / len(union) if union else 0.0


def _brute_lovasz(errors: list[float], fg: list[int]) -> float:
    """Lovász extension at errors >= 0 = max over all orders of the greedy increments (Edmonds:
    the greedy order is optimal for a submodular function)."""
    best = -math.inf
    for order in itertools.permutations(range(len(errors))):
        total, prev = 0.0, 0.0
        for k in range(len(order)):
            cur = _jaccard_set_loss(order[:k + 1], fg)
            total += errors[order[k]] * (cur - prev)
            prev = cur
        best = max(best, total)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_lovasz_hinge_equals_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    n = 5 + seed % 2  # 5 or 6 pixels: 120 / 720 permutations
    x = torch.randn(1, n, generator=g, dtype=torch.float64) * 1.5
    t = (torch.rand(1, n, generator=g) > 0.5).long()
    errors = (1 - x * (2 * t - 1)).clamp(min=0)[0].tolist()
    assert lovasz_hinge(x, t).item() == pytest.approx(_brute_lovasz(errors, t[0].tolist()),
                                                      abs=1e-12)


def test_lovasz_softmax_equals_brute_force_per_class():
    g = torch.Generator().manual_seed(20)
    x = torch.randn(1, 3, 2, 3, generator=g, dtype=torch.float64) * 2
    t = torch.randint(0, 3, (1, 2, 3), generator=g)
    p = torch.softmax(x, 1)
    ours = lovasz_softmax(x, t, reduction="none")[0]
    for c in range(3):
        fg = (t[0] == c).flatten().long()
        errors = (fg - p[0, c].flatten()).abs().tolist()
        assert ours[c].item() == pytest.approx(_brute_lovasz(errors, fg.tolist()), abs=1e-12)


def test_lovasz_hand_checked_cases():
    t = torch.tensor([[1, 0, 1, 0]])
    # margins > 1 on every pixel: all hinge errors are negative -> 0
    assert lovasz_hinge(torch.tensor([[3.0, -2.0, 1.5, -4.0]]), t).item() == 0.0
    # worked by hand: errors [0.5 (bg), -1 (fg)]; increments [0.5, 0.5] -> 0.25
    assert lovasz_hinge(torch.tensor([[2.0, -0.5]]), torch.tensor([[1, 0]])).item() == 0.25
    # one-hot probabilities: every error 0
    x = 1000.0 * _onehot(torch.tensor([[0, 2, 1]]), 3)  # softmax exactly one-hot
    assert lovasz_softmax(x, torch.tensor([[0, 2, 1]])).item() == 0.0


def test_lovasz_ignore_index_equals_dropping_pixels():
    g = torch.Generator().manual_seed(21)
    x = torch.randn(2, 3, 8, generator=g, dtype=torch.float64)
    t = torch.randint(0, 3, (2, 8), generator=g)
    t[0, 1] = t[1, 5] = -1
    keep = t.flatten() != -1
    dropped_x = x.movedim(1, -1).reshape(-1, 3)[keep].T.unsqueeze(0)
    for kw in ({"batch": True},):
        torch.testing.assert_close(
            lovasz_softmax(x, t, ignore_index=-1, **kw),
            lovasz_softmax(dropped_x, t.flatten()[keep].unsqueeze(0)))
    xb = x[:, 0]
    tb = (t == 1).long().masked_fill(t == -1, -1)
    torch.testing.assert_close(lovasz_hinge(xb, tb, ignore_index=-1, batch=True),
                               lovasz_hinge(xb.flatten()[keep][None], tb.flatten()[keep][None]))


# --- options against the peers (issue 15 item 5, issue 19 item 4) ----------------------------

kornia_losses = pytest.importorskip("kornia.losses")


def _soft_case(seed, n=2, c=3, spatial=(4, 5)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *spatial, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.softmax(torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2, 1)
    return x, t


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("jaccard_form", [False, True])
def test_squared_pred_matches_monai(soft, jaccard_form):
    # Source: monai.losses.DiceLoss(squared_pred=True[, jaccard=True]): sum p^2 + sum t^2 in the
    # denominator, intersection sum(p t) (MONAI's ord=2 form, for hard and soft targets).
    x, t = _soft_case(30) if soft else _case(seed=30)
    with kernels.use("plain"):
        kw = dict(activation="softmax", squared_pred=True, reduction="none")
        if jaccard_form:  # MONAI's (2I + s) / (2U + s): half the smoothing here
            ours = jaccard(x, t, smooth_nr=0.5e-4, smooth_dr=1e-4, **kw)
        else:
            ours = dice(x, t, smooth_nr=1e-4, smooth_dr=2e-4, **kw)
    ref = monai_losses.DiceLoss(softmax=True, squared_pred=True, jaccard=jaccard_form,
                                to_onehot_y=not soft, smooth_nr=1e-4, smooth_dr=2e-4,
                                reduction="none")(x, t if soft else t.unsqueeze(1))
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))


@pytest.mark.parametrize("fn", ["dice", "jaccard", "tversky", "generalized_dice"])
def test_soft_label_false_is_monai_default_product(fn):
    # Source: MONAI's losses with soft_label=False (their default): intersection sum(p t).
    x, t = _soft_case(31)
    kw = dict(activation="softmax", soft_label=False, smooth_nr=0.0, smooth_dr=1e-5,
              reduction="none")
    if fn == "tversky":
        kw.update(alpha=0.2, beta=0.8)
    with kernels.use("plain"):
        ours = losskit.info(fn).fn(x, t, **kw)
    if fn == "tversky":
        peer = monai_losses.TverskyLoss(softmax=True, alpha=0.2, beta=0.8, soft_label=False,
                                        smooth_nr=0.0, smooth_dr=1e-5, reduction="none")
    elif fn == "generalized_dice":
        peer = monai_losses.GeneralizedDiceLoss(softmax=True, soft_label=False, smooth_nr=0.0,
                                                smooth_dr=0.0, reduction="none")
        kw.update(smooth_dr=0.0)  # weights normalized here: equal to MONAI's without smoothing
        with kernels.use("plain"):
            ours = generalized_dice(x, t, **kw)
    else:
        peer = monai_losses.DiceLoss(softmax=True, jaccard=fn == "jaccard", soft_label=False,
                                     smooth_nr=0.0, smooth_dr=2e-5 if fn == "jaccard" else 1e-5,
                                     reduction="none")
    ref = peer(x, t)
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))
    # and the default min form differs from it for soft targets
    with kernels.use("plain"):
        default = losskit.info(fn).fn(x, t, **{**kw, "soft_label": True})
    assert (default - ours).abs().max() > 1e-3


@pytest.mark.parametrize("target_kind", ["index", "dense"])
def test_other_act_matches_monai(target_kind):
    # Source: monai.losses.DiceLoss(other_act=...) and TverskyLoss(other_act=...).
    x, t = _case(seed=32)
    act = lambda a: torch.softmax(2.0 * a, dim=1)  # noqa: E731
    target = t if target_kind == "index" else _onehot(t, 3)
    monai_target = t.unsqueeze(1) if target_kind == "index" else target
    with kernels.use("plain"):
        ours = dice(x, target, other_act=act, smooth_nr=1e-4, smooth_dr=1e-3, reduction="none")
        ours_t = tversky(x, target, other_act=act, alpha=0.4, beta=0.6, reduction="none")
    ref = monai_losses.DiceLoss(other_act=act, to_onehot_y=target_kind == "index",
                                smooth_nr=1e-4, smooth_dr=1e-3, reduction="none")(x, monai_target)
    ref_t = monai_losses.TverskyLoss(other_act=act, to_onehot_y=target_kind == "index",
                                     alpha=0.4, beta=0.6, reduction="none")(x, monai_target)
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(ours_t, ref_t.reshape(ours_t.shape))
    torch.testing.assert_close(_grad(ours.sum(), x), _grad(ref.sum(), x))


def test_other_act_with_sigmoid_is_refused():
    x, t = _case()
    with pytest.raises(losskit.LossInputError, match="other_act"):
        dice(x, t, activation="sigmoid", other_act=torch.tanh)
    with pytest.raises(losskit.LossInputError, match="callable"):
        dice(x, t, other_act="tanh")


@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
def test_generalized_dice_weight_type_matches_monai(weight_type):
    # Source: monai.losses.GeneralizedDiceLoss(w_type=...), no smoothing (weights normalized
    # here, which changes nothing then).
    x, t = _case(seed=33)
    with kernels.use("plain"):
        ours = generalized_dice(x, t, weight_type=weight_type, smooth=0.0, reduction="none")
    ref = monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True, w_type=weight_type,
                                           smooth_nr=0.0, smooth_dr=0.0,
                                           reduction="none")(x, t.unsqueeze(1))
    torch.testing.assert_close(ours, ref.reshape(ours.shape))


@pytest.mark.parametrize("fn", [dice, jaccard, tversky])
def test_log_loss_is_minus_log_score(fn):
    # Source: segmentation_models_pytorch's DiceLoss/JaccardLoss/TverskyLoss(log_loss=True),
    # loss = -log(score), written here from the closed forms of the scores with one-hot
    # products (smooth 1e-3 on both sides, as SMP's smooth).
    x, t = _case(seed=34)
    inter, pred, tgt = (a.detach() for a in _monai_free_stats(x, t))
    s = 1e-3
    score = {dice: (2 * inter + s) / (pred + tgt + s),
             jaccard: (inter + s) / (pred + tgt - inter + s),
             tversky: (inter + s) / (inter + 0.3 * (pred - inter) + 0.7 * (tgt - inter) + s)}[fn]
    with kernels.use("plain"):
        ours = fn(x, t, smooth=s, log_loss=True, reduction="none")
    torch.testing.assert_close(ours.detach(), -torch.log(score))


def _monai_free_stats(x, t):
    p = torch.softmax(x, 1).flatten(2)
    onehot = _onehot(t, x.shape[1]).flatten(2)
    return (p * onehot).sum(-1), p.sum(-1), onehot.sum(-1)


def test_log_loss_gradient_is_dice_gradient_over_score():
    # d(-log D)/dx = -(dD/dx) / D, and d(1 - D)/dx = -(dD/dx): closed form per pair.
    x, t = _case(n=1, c=2, seed=35)
    with kernels.use("plain"):
        log_form = dice(x, t, log_loss=True, reduction="none")[0, 1]
        plain = dice(x, t, reduction="none")[0, 1]
    score = 1 - plain.detach()
    torch.testing.assert_close(_grad(log_form, x), _grad(plain, x) / score)


@pytest.mark.parametrize("ignore_index", [None, 255])
@pytest.mark.parametrize("average", ["micro", "macro"])
def test_average_matches_kornia_dice(average, ignore_index):
    # Source: kornia.losses.dice_loss(average=..., eps, ignore_index): eps only in the
    # denominator, softmax over 4-D logits; class weights 0/1 (kornia squares them in micro).
    x, t = _case(n=3, c=4, spatial=(5, 6), seed=36)
    t = t.clone()
    if ignore_index is not None:
        t[0, :2] = ignore_index
    w = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    with kernels.use("plain"):
        ours = dice(x, t, average=average, smooth_nr=0.0, smooth_dr=1e-8, class_weight=w,
                    ignore_index=ignore_index if ignore_index is not None else -100)
    ref = kornia_losses.dice_loss(x, t, average=average, eps=1e-8, weight=w,
                                  ignore_index=ignore_index if ignore_index is not None else -100)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(_grad(ours, x), _grad(ref, x))


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.3, 0.7), (0.9, 0.2)])
def test_micro_tversky_matches_kornia(alpha, beta):
    # Source: kornia's tversky_loss as written at kornia/kornia b4f5a78 (kornia/losses/
    # tversky.py): one index per image over all classes, I = sum of p at the target class,
    # denominator I + (alpha + beta) (valid pixels - I) + eps. (kornia 0.9.0 on PyPI averages
    # per class over the classes present instead, so the formula is written out here.)
    x, t = _case(n=3, c=4, spatial=(5, 6), seed=37)
    t = t.clone()
    t[1, 0] = -100
    valid = t != -100
    p_true = torch.softmax(x, 1).gather(1, torch.where(valid, t, 0).unsqueeze(1)).squeeze(1)
    inter = (p_true * valid).sum((1, 2))
    total = valid.sum((1, 2)).double()
    expected = 1.0 - (inter / (inter + (alpha + beta) * (total - inter) + 1e-8)).mean()
    with kernels.use("plain"):
        ours = tversky(x, t, alpha=alpha, beta=beta, average="micro", smooth_nr=0.0,
                       smooth_dr=1e-8, ignore_index=-100)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(_grad(ours, x), _grad(expected, x))


def test_micro_is_one_score_per_image_over_summed_statistics():
    # Closed form: micro Dice of an image = 2 sum_c I_c / sum_c (P_c + T_c).
    x, t = _case(seed=38)
    inter, pred, tgt = _monai_free_stats(x, t)
    expected = 1 - 2 * inter.sum(1) / (pred + tgt).sum(1)
    with kernels.use("plain"):
        ours = dice(x, t, average="micro", smooth=0.0, reduction="none")
    torch.testing.assert_close(ours, expected)
    with pytest.raises(losskit.LossInputError, match="average"):
        dice(x, t, average="weighted")


def test_smooth_nr_dr_match_monai():
    # Source: monai.losses.DiceLoss(smooth_nr, smooth_dr) and TverskyLoss.
    x, t = _case(seed=39)
    with kernels.use("plain"):
        ours = dice(x, t, smooth_nr=0.0, smooth_dr=0.3, reduction="none")
        ours_t = tversky(x, t, alpha=0.5, beta=0.5, smooth_nr=0.2, smooth_dr=0.7, reduction="none")
    ref = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=0.0, smooth_dr=0.3,
                                reduction="none")(x, t.unsqueeze(1))
    ref_t = monai_losses.TverskyLoss(softmax=True, to_onehot_y=True, smooth_nr=0.2,
                                     smooth_dr=0.7, reduction="none")(x, t.unsqueeze(1))
    torch.testing.assert_close(ours, ref.reshape(ours.shape))
    torch.testing.assert_close(ours_t, ref_t.reshape(ours_t.shape))


# --- validation of activation="none" (issue 19) -------------------------------------------------


@pytest.mark.parametrize("fn", [*OVERLAP, lovasz_softmax])
def test_activation_none_requires_probabilities(fn):
    x, t = _case(seed=40)
    with pytest.raises(losskit.LossInputError, match=r"probabilities in \[0, 1\]"):
        fn(x.detach() * 3, t, activation="none")  # logits
    with pytest.raises(losskit.LossInputError, match="activation='none'"):
        fn(torch.log_softmax(x.detach(), 1), t, activation="none")  # log-probabilities
    # probabilities pass, and with value checks off (the other devices' behaviour) the
    # call runs unchecked
    fn(torch.softmax(x.detach(), 1), t, activation="none")
    with losskit.value_checks(False):
        fn(x.detach() * 3, t, activation="none")


# --- learnable hyperparameters and transforms ---------------------------------------------------


def test_learnable_smoothing_and_tversky_parameters_gradcheck():
    x, t = _case(n=1, c=2, spatial=(3, 2), seed=41)
    x = x.detach()
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for v in (0.3, 0.6, 1.5, 0.2, 0.4)]

    def f(alpha, beta, gamma, smooth_nr, smooth_dr):
        return tversky(x, t, alpha=alpha, beta=beta, gamma=gamma, smooth_nr=smooth_nr,
                       smooth_dr=smooth_dr)

    assert torch.autograd.gradcheck(f, tuple(params))
    w = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda cw: dice(x, t, class_weight=cw), (w,))
    assert torch.autograd.gradcheck(lambda cw: dice(x, t, class_weight=cw, average="micro"),
                                    (w,))


def test_tversky_gamma_keeps_nan():
    x, t = _case(seed=42)
    x = x.detach().clone()
    x[0, 0, 0, 0, 0] = float("nan")
    assert torch.isnan(tversky(x, t, gamma=0.75))
    assert torch.isnan(tversky(x, t, gamma=torch.tensor(0.75)))


def test_lovasz_hinge_float_target_nan_propagates_without_checks():
    x = torch.randn(2, 5, dtype=torch.float64)
    t = (torch.rand(2, 5) > 0.5).double()
    t[0, 0] = float("nan")
    with losskit.value_checks(False):
        assert torch.isnan(lovasz_hinge(x, t))
    with pytest.raises(losskit.LossInputError):
        lovasz_hinge(x, t)
    with pytest.raises(losskit.LossInputError, match="hard labels"):
        lovasz_hinge(x, torch.full((2, 5), 0.5, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["native", "torch"])
def test_accelerated_statistics_survive_retain_graph(mode):
    # The accelerators keep (or recompute) what a second backward of a retained graph needs.
    g = torch.Generator().manual_seed(43)
    x = torch.randn(2, 4, 20, 20, 42, generator=g, dtype=torch.float32, requires_grad=True)
    t = torch.randint(0, 4, (2, 20, 20, 42), generator=g)
    activation = "softmax" if mode == "native" else "sigmoid"
    with kernels.use(mode):
        loss = dice(x, t, activation=activation)
        g1 = torch.autograd.grad(loss, x, retain_graph=True)[0]
        g2 = torch.autograd.grad(loss, x)[0]
    with kernels.use("plain"):
        expected = _grad(dice(x, t, activation=activation), x)
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(g1, expected, rtol=1e-4, atol=1e-7)


# --- the second mutation-testing round's survivors (docs/mutation_testing.md) ---------------


def test_skip_empty_uses_the_threshold_for_sigmoid_and_probabilities():
    # A class absent from the target and never predicted (p <= 0.5 everywhere) is left
    # out, even where it has the largest logit (argmax is the softmax rule only).
    t = torch.zeros(1, 2, 4)
    t[:, 0] = 1.0
    logits = torch.stack([torch.full((4,), -3.0), torch.full((4,), -1.0)]).unsqueeze(0)
    got = dice(logits, t, activation="sigmoid", skip_empty=True)
    want = dice(logits[:, :1], t[:, :1], activation="sigmoid")
    torch.testing.assert_close(got, want)
    probs = torch.stack([torch.full((4,), 0.9), torch.full((4,), 0.3)]).unsqueeze(0)
    got = dice(probs, t, activation="none", skip_empty=True)
    want = dice(probs[:, :1], t[:, :1], activation="none")
    torch.testing.assert_close(got, want)


def test_generalized_dice_skip_empty_drops_the_absent_class():
    probs = torch.tensor([[[0.8, 0.7, 0.1], [0.2, 0.3, 0.9], [0.0, 0.0, 0.0]]])
    t = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])
    got = generalized_dice(probs, t, activation="none", skip_empty=True)
    want = generalized_dice(probs[:, :2], t[:, :2], activation="none")
    torch.testing.assert_close(got, want)


def test_focal_tversky_is_zero_with_a_finite_gradient_at_the_optimum():
    t = torch.tensor([[0, 1, 1, 0]])
    p = F.one_hot(t, 2).permute(0, 2, 1).double().requires_grad_()
    gamma = torch.tensor(0.75, dtype=torch.float64, requires_grad=True)
    loss = tversky(p, t, activation="none", gamma=gamma, smooth=0.0)
    assert float(loss.detach()) == 0.0
    grads = torch.autograd.grad(loss, (p, gamma))
    assert all(torch.isfinite(g).all() for g in grads)


def test_lovasz_hinge_target_shape_must_match_per_image():
    with pytest.raises(losskit.LossInputError, match="one label per input pixel"):
        lovasz_hinge(torch.randn(2, 6), torch.randint(0, 2, (3, 4)))


def test_lovasz_hinge_float_labels_equal_integer_labels():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 7, generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (3, 7), generator=g)
    torch.testing.assert_close(lovasz_hinge(x, t.double()), lovasz_hinge(x, t))


def test_lovasz_softmax_single_channel_is_the_foreground_of_two():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 1, 5, generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (2, 5), generator=g)
    p = torch.sigmoid(x)
    two = torch.cat([1 - p, p], dim=1)
    got = lovasz_softmax(x, t, activation="sigmoid")
    want = lovasz_softmax(two, t, activation="none", include_background=False)
    torch.testing.assert_close(got, want)


def test_bool_and_channel_index_targets_equal_int64_index_targets():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 2, 6, generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (2, 6), generator=g)
    want = dice(x, t)
    torch.testing.assert_close(dice(x, t.bool()), want)
    torch.testing.assert_close(dice(x, t.unsqueeze(1)), want)


def test_single_channel_ignored_pixels_are_left_out():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(2, 1, 8, generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (2, 8), generator=g)
    t_ignored = t.clone()
    t_ignored[:, 5:] = -1
    got = dice(x, t_ignored, activation="sigmoid", ignore_index=-1)
    want = dice(x[..., :5], t[:, :5], activation="sigmoid")
    torch.testing.assert_close(got, want)


def _assert_every_class_counts(loss, x, t, **kw):
    """skip_empty=True leaves nothing out: the same value as without it."""
    torch.testing.assert_close(loss(x, t, skip_empty=True, **kw), loss(x, t, **kw))


def test_skip_empty_counts_a_class_of_one_voxel():
    # Present in one target voxel, or predicted in one voxel: the class counts.
    probs = torch.tensor([[[0.9, 0.9, 0.9, 0.2], [0.1, 0.1, 0.1, 0.8]]])
    one_target = torch.tensor([[[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]])
    _assert_every_class_counts(dice, probs, one_target, activation="none")
    none_target = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    _assert_every_class_counts(dice, probs, none_target, activation="none")


def test_tversky_gamma_must_be_positive():
    x, t = torch.randn(1, 2, 4), torch.tensor([[0, 1, 1, 0]])
    with pytest.raises(losskit.LossInputError, match="gamma"):
        tversky(x, t, gamma=0.0)
    tversky(x, t, gamma=0.5)


@pytest.mark.parametrize("batch", [False, True])
def test_lovasz_softmax_skip_empty_averages_the_present_or_predicted_classes(batch):
    # Class 1 is in one target pixel and never predicted; class 2 is neither in the target
    # nor predicted: only classes 0 and 1 count.
    x = torch.zeros(2, 3, 5, dtype=torch.float64)
    x[:, 0] = 3.0
    x[:, 2] = -5.0
    t = torch.zeros(2, 5, dtype=torch.long)
    t[0, 2] = 1
    per_class = lovasz_softmax(x, t, batch=batch, reduction="none")
    got = lovasz_softmax(x, t, batch=batch, skip_empty=True)
    want = per_class[:2].mean() if batch else None
    if not batch:  # image 1 has no class-1 pixel: it counts class 0 only
        want = (per_class[0, 0] + per_class[0, 1] + per_class[1, 0]) / 3
    torch.testing.assert_close(got, want)


def test_micro_average_with_skip_empty():
    probs = torch.tensor([[[0.9, 0.8, 0.2], [0.1, 0.2, 0.8]]])
    t = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    torch.testing.assert_close(dice(probs, t, activation="none", average="micro",
                                    skip_empty=True),
                               dice(probs, t, activation="none", average="micro"))


def test_input_dimension_bounds():
    with pytest.raises(losskit.LossInputError, match="dimensions"):
        dice(torch.randn([1] * 9), torch.zeros([1] * 8, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="dimensions"):
        lovasz_hinge(torch.randn([1] * 9), torch.zeros([1] * 9, dtype=torch.long))
    x = torch.tensor([2.0, -0.5, 0.3])  # one image of three pixels, unbatched [N] form
    torch.testing.assert_close(lovasz_hinge(x, torch.tensor([1, 0, 1])),
                               lovasz_hinge(x[:, None], torch.tensor([[1], [0], [1]])))


def test_lovasz_hinge_refuses_labels_beyond_one():
    with pytest.raises(losskit.LossInputError, match="class index 2"):
        lovasz_hinge(torch.randn(2, 3), torch.tensor([[0, 1, 2], [1, 0, 1]]))


def test_ignore_index_that_is_a_class_is_left_out_of_the_overlap():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(1, 3, 8, generator=g, dtype=torch.float64)
    t = torch.randint(1, 3, (1, 8), generator=g)
    t[0, 5:] = 0  # class 0 pixels, ignored
    got = dice(x, t, ignore_index=0, include_background=False)
    keep = torch.arange(8) < 5
    want = dice(x[..., keep], t[:, keep], include_background=False)
    torch.testing.assert_close(got, want)


def test_bool_one_hot_target_equals_float_one_hot():
    g = torch.Generator().manual_seed(10)
    x = torch.randn(2, 2, 6, generator=g, dtype=torch.float64)
    t = F.one_hot(torch.randint(0, 2, (2, 6), generator=g), 2).permute(0, 2, 1)
    torch.testing.assert_close(dice(x, t.bool()), dice(x, t.double()))


def test_skip_empty_softmax_counts_the_argmax_class_below_one_half():
    # Class 2 is absent from the target but is the argmax of pixel 2 (p = 0.38): predicted,
    # so it counts.
    x = torch.tensor([[[2.0, 0.0, 0.5, 0.0], [0.0, 2.0, 0.3, 2.0], [0.0, 0.0, 0.6, 0.0]]])
    t = torch.tensor([[0, 1, 0, 1]])
    _assert_every_class_counts(dice, x, t)


def test_skip_empty_predicted_by_threshold_alone():
    # The absent class 1 is predicted at one pixel: sigmoid logit 0.5 (p = 0.62 > 0.5), or
    # probability 0.6 with activation="none". Predicted classes count.
    t = torch.zeros(1, 2, 4)
    t[:, 0] = 1.0
    logits = torch.tensor([[[2.0, 2.0, 2.0, 2.0], [-3.0, -3.0, 0.5, -3.0]]])
    _assert_every_class_counts(dice, logits, t, activation="sigmoid")
    probs = torch.tensor([[[0.9, 0.9, 0.9, 0.9], [0.1, 0.1, 0.6, 0.1]]])
    _assert_every_class_counts(dice, probs, t, activation="none")


def test_skip_empty_with_whole_batch_statistics():
    # Class 2 is absent from both images' targets and never the argmax: left out of the
    # batch statistics' mean.
    x = torch.zeros(2, 3, 4, dtype=torch.float64)
    x[:, 0, :2] = 3.0
    x[:, 1, 2:] = 3.0
    x[:, 2] = -4.0
    t = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    per_class = dice(x, t, batch=True, reduction="none")
    torch.testing.assert_close(dice(x, t, batch=True, skip_empty=True), per_class[:2].mean())


def test_skip_empty_edge_counts():
    # A class in exactly one target voxel and never predicted counts (dice).
    probs = torch.tensor([[[0.9, 0.9, 0.9, 0.9], [0.1, 0.1, 0.3, 0.1]]])
    t = torch.tensor([[[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]])
    _assert_every_class_counts(dice, probs, t, activation="none")
    # generalized Dice: a class predicted in exactly one voxel and absent from the target
    # counts; a class neither in the target nor predicted (soft mass 0.2 everywhere) does
    # not, although its soft prediction would enter the denominator.
    probs = torch.tensor([[[0.7, 0.7, 0.1, 0.1], [0.2, 0.2, 0.8, 0.2], [0.1, 0.1, 0.1, 0.7]]])
    t = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    _assert_every_class_counts(generalized_dice, probs, t, activation="none")
    probs[:, 2] = 0.2
    torch.testing.assert_close(generalized_dice(probs, t, activation="none", skip_empty=True),
                               generalized_dice(probs[:, :2], t[:, :2], activation="none"))
    # generalized Dice: a class in exactly one target voxel and never predicted counts
    probs = torch.tensor([[[0.7, 0.7, 0.6, 0.6], [0.3, 0.3, 0.4, 0.4]]])
    t = torch.tensor([[[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]])
    _assert_every_class_counts(generalized_dice, probs, t, activation="none")


def test_lovasz_skip_empty_counts_a_class_predicted_once():
    # Class 2 is absent from the target and the argmax of exactly one pixel: it counts.
    x = torch.zeros(1, 3, 5, dtype=torch.float64)
    x[:, 0] = 3.0
    x[0, 2, 4] = 6.0
    t = torch.zeros(1, 5, dtype=torch.long)
    t[0, 1] = 1
    _assert_every_class_counts(lovasz_softmax, x, t)
