"""Classification losses against named independent sources.

Sources: PyTorch builtins (binary_cross_entropy_with_logits, cross_entropy, nll_loss,
multi_margin_loss), MONAI's focal losses and scikit-learn's hinge_loss (peer libraries),
brute-force loops written from the papers' definitions, and limiting cases (focal with
gamma = 0 is cross-entropy, poly1 with epsilon = 0 is cross-entropy, ...).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

import losskit
from losskit import functional as F

D = torch.float64
TOL = {"rtol": 1e-6, "atol": 1e-6}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def leaf(*shape, seed=0, scale=2.0):
    return (torch.randn(*shape, generator=gen(seed), dtype=D) * scale).requires_grad_(True)


def assert_same_value_and_grad(ours_fn, theirs_fn, *leaves):
    """Values and gradients (of the sum, for every reduction) agree to 1e-6 in float64."""
    ours, theirs = ours_fn(), theirs_fn()
    torch.testing.assert_close(ours, theirs, **TOL)
    g1 = torch.autograd.grad(ours.sum(), leaves)
    g2 = torch.autograd.grad(theirs.sum(), leaves)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, **TOL)


REDUCTIONS = ("mean", "sum", "none")


# --- binary_cross_entropy: torch.nn.functional.binary_cross_entropy_with_logits -------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch_with_pos_weight_and_weight(reduction):
    x = leaf(6, 4, seed=1)
    y = (torch.rand(6, 4, generator=gen(2), dtype=D) > 0.5).to(D)
    pos_weight = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=D)
    w = torch.rand(6, 1, generator=gen(3), dtype=D)
    assert_same_value_and_grad(
        lambda: F.binary_cross_entropy(x, y, pos_weight=pos_weight, weight=w, reduction=reduction),
        lambda: TF.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight, weight=w,
                                                    reduction=reduction),
        x,
    )


def test_bce_soft_targets_and_scalar_pos_weight_match_torch():
    x = leaf(5, 3, seed=4)
    y = torch.rand(5, 3, generator=gen(5), dtype=D)
    assert_same_value_and_grad(
        lambda: F.binary_cross_entropy(x, y, pos_weight=3.0),
        lambda: TF.binary_cross_entropy_with_logits(x, y, pos_weight=torch.tensor(3.0, dtype=D)),
        x,
    )


def test_bce_label_smoothing_is_bce_on_smoothed_targets():
    # Source: torch's BCE on targets smoothed by hand, y (1 - eps) + eps / 2.
    x = leaf(5, 3, seed=6)
    y = (torch.rand(5, 3, generator=gen(7), dtype=D) > 0.5).to(D)
    assert_same_value_and_grad(
        lambda: F.binary_cross_entropy(x, y, label_smoothing=0.2),
        lambda: TF.binary_cross_entropy_with_logits(x, y * 0.8 + 0.1),
        x,
    )


def test_bce_soft_target_minimum_is_at_the_target_probability():
    # Closed form: for soft y the minimiser is sigmoid(x) = y, so the gradient p - y is 0 there.
    y = torch.tensor([0.2, 0.5, 0.9], dtype=D)
    x = torch.logit(y).requires_grad_(True)
    (g,) = torch.autograd.grad(F.binary_cross_entropy(x, y, reduction="sum"), x)
    torch.testing.assert_close(g, torch.zeros_like(g), atol=1e-12, rtol=0)


def test_bce_accepts_integer_labels_like_float_labels():
    x = torch.randn(4, 2, generator=gen(8), dtype=D)
    y = torch.tensor([[0, 1], [1, 1], [0, 0], [1, 0]])
    torch.testing.assert_close(F.binary_cross_entropy(x, y), F.binary_cross_entropy(x, y.to(D)))


def test_bce_extreme_logits_with_pos_weight_low_precision():
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        x = torch.tensor([1e4, -1e4, 1e4, -1e4], dtype=dtype, requires_grad=True)
        y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)
        out = F.binary_cross_entropy(x, y, pos_weight=2.0, label_smoothing=0.1)
        (g,) = torch.autograd.grad(out, x)
        assert torch.isfinite(out) and torch.isfinite(g).all()
    # Closed form: confident right answers cost ~0, confident wrong ones |x| (times pos_weight).
    x = torch.tensor([30.0, -30.0, 30.0, -30.0], dtype=D)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=D)
    torch.testing.assert_close(F.binary_cross_entropy(x, y, pos_weight=2.0, reduction="none"),
                               torch.tensor([0.0, 0.0, 30.0, 60.0], dtype=D),
                               atol=1e-11, rtol=1e-12)


# --- cross_entropy: torch.nn.functional.cross_entropy ---------------------------------------


def _targets(shape, classes, seed, ignore_fraction=0.0):
    t = torch.randint(0, classes, shape, generator=gen(seed))
    if ignore_fraction:
        drop = torch.rand(shape, generator=gen(seed + 1)) < ignore_fraction
        t = torch.where(drop, -100, t)
    return t


CE_OPTIONS = [
    {},
    {"class_weight": True},
    {"ignore": True},
    {"label_smoothing": 0.1},
    {"label_smoothing": 0.2, "class_weight": True},
    {"label_smoothing": 0.15, "class_weight": True, "ignore": True},
]


@pytest.mark.parametrize("options", CE_OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5, 6)], ids=["NC", "NCHW"])
def test_cross_entropy_matches_torch(options, reduction, shape):
    classes = shape[1]
    x = leaf(*shape, seed=10)
    target_shape = (shape[0], *shape[2:])
    y = _targets(target_shape, classes, 11, 0.3 if options.get("ignore") else 0.0)
    cw = (torch.rand(classes, generator=gen(12), dtype=D) + 0.1
          if options.get("class_weight") else None)
    eps = options.get("label_smoothing", 0.0)
    assert_same_value_and_grad(
        lambda: F.cross_entropy(x, y, class_weight=cw, label_smoothing=eps, reduction=reduction),
        lambda: TF.cross_entropy(x, y, weight=cw, label_smoothing=eps, reduction=reduction),
        x,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 4, 5)], ids=["NC", "NCHW"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_cross_entropy_probability_targets_match_torch(reduction, shape, eps):
    x = leaf(*shape, seed=13)
    q = torch.softmax(torch.randn(*shape, generator=gen(14), dtype=D), dim=1)
    cw = torch.rand(shape[1], generator=gen(15), dtype=D) + 0.1
    assert_same_value_and_grad(
        lambda: F.cross_entropy(x, q, class_weight=cw, label_smoothing=eps, reduction=reduction),
        lambda: TF.cross_entropy(x, q, weight=cw, label_smoothing=eps, reduction=reduction),
        x,
    )


def test_cross_entropy_int32_targets_and_per_sample_weight():
    # Source: torch on int64 targets; our weight rescales per sample and mean divides by N.
    x = leaf(6, 3, seed=16)
    y = _targets((6,), 3, 17)
    w = torch.rand(6, generator=gen(18), dtype=D)
    ours = F.cross_entropy(x, y.to(torch.int32), weight=w)
    theirs = (TF.cross_entropy(x, y, reduction="none") * w).mean()
    assert_same_value_and_grad(lambda: ours, lambda: theirs, x)


def test_cross_entropy_all_ignored_is_zero_with_zero_grad_where_torch_gives_nan():
    x = leaf(4, 3, seed=19)
    y = torch.full((4,), -100)
    assert torch.isnan(TF.cross_entropy(x, y))  # the behaviour we deliberately differ from
    out = F.cross_entropy(x, y, label_smoothing=0.1, class_weight=torch.ones(3, dtype=D))
    assert out.item() == 0.0 and out.requires_grad
    (g,) = torch.autograd.grad(out, x)
    assert torch.equal(g, torch.zeros_like(g))


def test_cross_entropy_empty_batch_is_zero_with_zero_grad():
    x = torch.zeros(0, 3, dtype=D, requires_grad=True)
    for target in (torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, dtype=D)):
        out = F.cross_entropy(x, target)
        assert out.item() == 0.0
        (g,) = torch.autograd.grad(out, x)
        assert g.shape == (0, 3)


def test_cross_entropy_class_index_out_of_range_names_value_and_range():
    with pytest.raises(losskit.LossInputError, match=r"5.*0\.\.2"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([0, 5]))
    with pytest.raises(losskit.LossInputError, match=r"-3.*0\.\.2"):
        F.cross_entropy(torch.randn(2, 3), torch.tensor([0, -3], dtype=torch.int32))


def test_cross_entropy_label_smoothing_zero_is_plain_cross_entropy():
    # Sources: torch's plain cross_entropy and our nll on an explicit log_softmax.
    x = leaf(8, 6, seed=20)
    y = _targets((8,), 6, 21)
    ours = F.cross_entropy(x, y, label_smoothing=0.0)
    torch.testing.assert_close(ours, TF.cross_entropy(x, y), **TOL)
    torch.testing.assert_close(ours, F.nll(torch.log_softmax(x, 1), y), **TOL)
    # and smoothing is continuous at 0
    torch.testing.assert_close(F.cross_entropy(x, y, label_smoothing=1e-9), ours, **TOL)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_cross_entropy_one_hot_soft_targets_equal_index_targets(eps):
    x = leaf(3, 4, 2, 2, seed=22)
    y = _targets((3, 2, 2), 4, 23)
    one_hot = TF.one_hot(y, 4).movedim(-1, 1).to(D)
    assert_same_value_and_grad(
        lambda: F.cross_entropy(x, one_hot, label_smoothing=eps, reduction="none"),
        lambda: F.cross_entropy(x, y, label_smoothing=eps, reduction="none"),
        x,
    )


def test_cross_entropy_zero_class_weight_drops_the_position():
    # Documented difference: a class of weight 0 removes its positions from the smoothing
    # term too. Source: the same loss computed on the batch without those positions.
    x = leaf(6, 3, seed=24)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    cw = torch.tensor([0.0, 1.0, 2.0], dtype=D)
    keep = y != 0
    ours = F.cross_entropy(x, y, class_weight=cw, label_smoothing=0.2)
    theirs = TF.cross_entropy(x[keep], y[keep], weight=cw, label_smoothing=0.2)
    torch.testing.assert_close(ours, theirs, **TOL)


def test_cross_entropy_extreme_logits_with_options_stay_finite():
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        x = (torch.randn(4, 5, generator=gen(25)) * 1e4).to(dtype).requires_grad_(True)
        y = torch.tensor([0, 1, -100, 4])
        for kwargs in ({"label_smoothing": 0.1}, {"class_weight": torch.rand(5) + 0.5}):
            out = F.cross_entropy(x, y, **kwargs)
            (g,) = torch.autograd.grad(out, x)
            assert out.dtype == torch.float32
            assert torch.isfinite(out) and torch.isfinite(g).all(), (dtype, kwargs)


# --- nll: torch.nn.functional.nll_loss ------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3, 3)], ids=["NC", "NCHW"])
def test_nll_matches_torch_with_class_weight_and_ignore_index(reduction, shape):
    logp = torch.log_softmax(torch.randn(*shape, generator=gen(30), dtype=D), 1)
    logp.requires_grad_(True)
    y = _targets((shape[0], *shape[2:]), shape[1], 31, 0.3)
    cw = torch.rand(shape[1], generator=gen(32), dtype=D) + 0.1
    assert_same_value_and_grad(
        lambda: F.nll(logp, y, class_weight=cw, reduction=reduction),
        lambda: TF.nll_loss(logp, y, weight=cw, reduction=reduction),
        logp,
    )
    y2 = torch.where(y < 0, 2, y)
    assert_same_value_and_grad(
        lambda: F.nll(logp, y2, ignore_index=2, reduction=reduction),
        lambda: TF.nll_loss(logp, y2, ignore_index=2, reduction=reduction),
        logp,
    )


# --- focal losses: MONAI (peer library), torch BCE / CE at gamma = 0 ---------------------


@pytest.mark.parametrize("gamma", [0.5, 2.0, 3.0])
@pytest.mark.parametrize("alpha", [None, 0.25, 0.8])
def test_sigmoid_focal_matches_definition_on_probabilities(gamma, alpha):
    # Lin et al. 2017, eq. 5, on probabilities: -alpha_t (1 - p_t)^gamma log p_t.
    # (MONAI's sigmoid_focal_loss agrees too, but importing MONAI costs ~6 s of CPU here.)
    x = leaf(5, 3, 4, seed=40)
    y = (torch.rand(5, 3, 4, generator=gen(41), dtype=D) > 0.5).to(D)

    def definition():
        p = torch.sigmoid(x)
        p_t = torch.where(y > 0, p, 1 - p)
        a_t = 1.0 if alpha is None else torch.where(y > 0, alpha, 1 - alpha)
        return -a_t * (1 - p_t) ** gamma * torch.log(p_t)

    assert_same_value_and_grad(
        lambda: F.sigmoid_focal(x, y, gamma=gamma, alpha=alpha, reduction="none"), definition, x)


def test_sigmoid_focal_gamma_zero_is_alpha_weighted_bce():
    x = leaf(6, 4, seed=42)
    y = torch.rand(6, 4, generator=gen(43), dtype=D)  # soft targets: alpha_t is linear in y
    alpha_t = 0.3 * y + 0.7 * (1 - y)
    assert_same_value_and_grad(
        lambda: F.sigmoid_focal(x, y, gamma=0.0, alpha=0.3),
        lambda: TF.binary_cross_entropy_with_logits(x, y, weight=alpha_t),
        x,
    )
    torch.testing.assert_close(F.sigmoid_focal(x, y, gamma=0.0, alpha=None),
                               TF.binary_cross_entropy_with_logits(x, y), **TOL)


def test_sigmoid_focal_soft_targets_match_torchvision_formula():
    # torchvision.ops.sigmoid_focal_loss, written out: p_t = p y + (1 - p)(1 - y).
    x = leaf(4, 5, seed=44)
    y = torch.rand(4, 5, generator=gen(45), dtype=D)

    def torchvision_form():
        p = torch.sigmoid(x)
        ce = TF.binary_cross_entropy_with_logits(x, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        return (0.25 * y + 0.75 * (1 - y)) * ce * (1 - p_t) ** 2

    assert_same_value_and_grad(lambda: F.sigmoid_focal(x, y, reduction="none"), torchvision_form, x)


def test_focal_small_gamma_saturated_logits_have_finite_gradients():
    x = torch.tensor([200.0, -200.0, 0.0], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0])
    for loss in (F.sigmoid_focal(x, y, gamma=0.5),
                 F.softmax_focal(torch.stack([x, -x], 1), y.long(), gamma=0.5)):
        (g,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(g).all()


@pytest.mark.parametrize("alpha", [None, [0.2, 0.5, 1.0, 2.0]])
def test_softmax_focal_matches_dense_one_hot_definition(alpha):
    # MONAI's softmax_focal_loss, transcribed: -alpha_c (1 - p_c)^gamma log p_c * onehot_c,
    # summed over classes (dense, unlike ours, which gathers the target column).
    x = leaf(3, 4, 5, seed=46)
    y = _targets((3, 5), 4, 47)
    one_hot = TF.one_hot(y, 4).movedim(-1, 1).to(D)
    a = None if alpha is None else torch.tensor(alpha, dtype=D)

    def dense():
        logp = x.log_softmax(1)
        loss = -(1 - logp.exp()).pow(2.0) * logp * one_hot
        return (loss if a is None else loss * a.view(1, 4, 1)).sum(1)

    assert_same_value_and_grad(
        lambda: F.softmax_focal(x, y, gamma=2.0, alpha=a, reduction="none"), dense, x)
    # soft-target path with the same one-hot target: the same numbers
    torch.testing.assert_close(F.softmax_focal(x, one_hot, alpha=a, reduction="none"), dense(),
                               **TOL)


def test_softmax_focal_gamma_zero_is_alpha_scaled_cross_entropy():
    x = leaf(8, 3, seed=48)
    y = _targets((8,), 3, 49, 0.25)
    alpha = torch.tensor([0.5, 1.0, 2.0], dtype=D)
    # per position: torch's CE with weight=alpha; mean: divided by the counted positions
    assert_same_value_and_grad(
        lambda: F.softmax_focal(x, y, gamma=0.0, alpha=alpha, reduction="none"),
        lambda: TF.cross_entropy(x, y, weight=alpha, reduction="none"),
        x,
    )
    counted = (y != -100).sum()
    torch.testing.assert_close(F.softmax_focal(x, y, gamma=0.0, alpha=alpha),
                               TF.cross_entropy(x, y, weight=alpha, reduction="sum") / counted,
                               **TOL)
    torch.testing.assert_close(F.softmax_focal(x, y, gamma=0.0), TF.cross_entropy(x, y), **TOL)


def test_softmax_focal_all_ignored_is_zero():
    x = leaf(3, 4, seed=50)
    out = F.softmax_focal(x, torch.full((3,), 7), ignore_index=7)
    assert out.item() == 0.0
    assert not torch.autograd.grad(out, x)[0].any()


# --- hinge: scikit-learn hinge_loss, brute force -----------------------------------------


def test_hinge_both_label_conventions_match_brute_force():
    # Brute-force loop of scikit-learn's hinge_loss definition, mean(max(0, 1 - t x)).
    scores = torch.randn(40, generator=gen(60), dtype=D) * 2
    labels01 = (torch.rand(40, generator=gen(61)) > 0.5).long()
    expected = sum(max(0.0, 1 - (2 * int(t) - 1) * float(s)) for s, t in zip(scores, labels01)) / 40
    assert F.hinge(scores, labels01).item() == pytest.approx(expected, rel=1e-12)
    assert F.hinge(scores, labels01 * 2.0 - 1).item() == pytest.approx(expected, rel=1e-12)


def test_hinge_squared_and_margin_closed_form():
    # Worked by hand: margin 2, t x = [3, 1, -1] -> violations [0, 1, 3], squares [0, 1, 9].
    x = torch.tensor([3.0, -1.0, -1.0], dtype=D)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=D)
    torch.testing.assert_close(F.hinge(x, y, margin=2.0, reduction="none"),
                               torch.tensor([0.0, 1.0, 3.0], dtype=D))
    torch.testing.assert_close(F.hinge(x, y, margin=2.0, squared=True, reduction="sum"),
                               torch.tensor(10.0, dtype=D))


# --- multiclass_hinge: torch.nn.functional.multi_margin_loss, brute force ----------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_multiclass_hinge_matches_torch(reduction, squared, margin):
    x = leaf(9, 5, seed=70, scale=1.0)
    y = _targets((9,), 5, 71)
    assert_same_value_and_grad(
        lambda: F.multiclass_hinge(x, y, margin=margin, squared=squared, reduction=reduction),
        lambda: TF.multi_margin_loss(x, y, p=2 if squared else 1, margin=margin,
                                     reduction=reduction),
        x,
    )


def test_multiclass_hinge_class_weight_via_weight_matches_torch():
    x = leaf(9, 4, seed=72, scale=1.0)
    y = _targets((9,), 4, 73)
    cw = torch.rand(4, generator=gen(74), dtype=D)
    assert_same_value_and_grad(
        lambda: F.multiclass_hinge(x, y, weight=cw[y]),
        lambda: TF.multi_margin_loss(x, y, weight=cw),
        x,
    )


@pytest.mark.parametrize("squared", [False, True])
def test_multiclass_hinge_crammer_singer_brute_force(squared):
    x = leaf(6, 4, seed=75, scale=1.0)
    y = _targets((6,), 4, 76)
    ours = F.multiclass_hinge(x, y, form="crammer_singer", squared=squared, reduction="none")
    rows = []
    for row, t in zip(x.detach(), y):
        rival = max(float(row[j]) for j in range(4) if j != int(t))
        v = max(0.0, 1.0 + rival - float(row[t]))
        rows.append(v * v if squared else v)
    torch.testing.assert_close(ours.detach(), torch.tensor(rows, dtype=D), **TOL)


# --- poly1_cross_entropy: the paper's formula, CE at epsilon = 0 ---------------------------


def test_poly1_epsilon_zero_is_cross_entropy():
    x = leaf(7, 5, seed=80)
    y = _targets((7,), 5, 81, 0.2)
    assert_same_value_and_grad(
        lambda: F.poly1_cross_entropy(x, y, epsilon=0.0, label_smoothing=0.1),
        lambda: TF.cross_entropy(x, y, label_smoothing=0.1),
        x,
    )


@pytest.mark.parametrize("eps_ls", [0.0, 0.1])
def test_poly1_matches_paper_listing(eps_ls):
    # Leng et al. 2022, Listing 1 (with smoothed labels): CE(labels, logits) + epsilon (1 - pt),
    # pt = sum(labels * softmax(logits)); CE from torch with dense smoothed probability labels.
    x = leaf(6, 4, seed=82)
    y = _targets((6,), 4, 83)
    labels = TF.one_hot(y, 4).to(D) * (1 - eps_ls) + eps_ls / 4

    def listing():
        pt = (labels * torch.softmax(x, 1)).sum(1)
        return TF.cross_entropy(x, labels, reduction="none") + 2.0 * (1 - pt)

    assert_same_value_and_grad(
        lambda: F.poly1_cross_entropy(x, y, epsilon=2.0, label_smoothing=eps_ls, reduction="none"),
        listing, x)
    # the soft-target path reads the same numbers from the one-hot target
    torch.testing.assert_close(
        F.poly1_cross_entropy(x, TF.one_hot(y, 4).to(D), epsilon=2.0, label_smoothing=eps_ls,
                              reduction="none"), listing(), **TOL)


# --- asymmetric_multilabel: the authors' formula, limiting cases ---------------------------


@pytest.mark.parametrize(("gamma_pos", "gamma_neg", "clip"), [(0.0, 4.0, 0.05), (1.0, 4.0, 0.05),
                                                              (1.0, 2.0, 0.2), (0.0, 0.0, 0.0)])
def test_asymmetric_matches_authors_formula(gamma_pos, gamma_neg, clip):
    # github.com/Alibaba-MIIL/ASL losses.py AsymmetricLoss, reduction left out (it sums).
    x = leaf(5, 6, seed=90)
    y = (torch.rand(5, 6, generator=gen(91), dtype=D) > 0.7).to(D)

    def authors():
        xs_pos = torch.sigmoid(x)
        xs_neg = 1 - xs_pos
        if clip > 0:
            xs_neg = (xs_neg + clip).clamp(max=1)
        loss = y * torch.log(xs_pos.clamp(min=1e-8)) + (1 - y) * torch.log(xs_neg.clamp(min=1e-8))
        pt = xs_pos * y + xs_neg * (1 - y)
        return -loss * torch.pow(1 - pt, gamma_pos * y + gamma_neg * (1 - y))

    assert_same_value_and_grad(
        lambda: F.asymmetric_multilabel(x, y, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip,
                                        reduction="none"),
        authors, x)


def test_asymmetric_symmetric_settings_are_focal_without_alpha():
    # Binary labels: for soft labels ASL mixes its two terms linearly in y, focal does not.
    x = leaf(4, 5, seed=92)
    y = (torch.rand(4, 5, generator=gen(93), dtype=D) > 0.5).to(D)
    torch.testing.assert_close(
        F.asymmetric_multilabel(x, y, gamma_pos=2.0, gamma_neg=2.0, clip=0.0),
        F.sigmoid_focal(x, y, gamma=2.0, alpha=None), **TOL)
    torch.testing.assert_close(
        F.asymmetric_multilabel(x, y, gamma_pos=0.0, gamma_neg=0.0, clip=0.0),
        TF.binary_cross_entropy_with_logits(x, y), **TOL)


def test_asymmetric_easy_negatives_below_clip_get_no_gradient():
    x = torch.tensor([-5.0, -3.5, 3.0], dtype=D, requires_grad=True)  # p = 0.0067, 0.029, 0.95
    y = torch.zeros(3, dtype=D)
    (g,) = torch.autograd.grad(F.asymmetric_multilabel(x, y, clip=0.05, reduction="sum"), x)
    assert g[0] == 0 and g[1] == 0 and g[2] > 0


# --- language-model options on cross_entropy: z_loss, softcap, normalizer -------------------


@pytest.mark.parametrize("mode", ["plain", "auto"])
def test_cross_entropy_z_loss_softcap_normalizer_by_hand(mode):
    from losskit import kernels

    # Written from the formulas: logits -> c tanh(logits / c) (Gemma 2 soft-capping), loss
    # = CE + z * logsumexp^2 per counted token (PaLM's z-loss), "mean" divided by the given
    # normalizer instead of the local count.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 5, generator=g, dtype=torch.float64) * 4
    y = torch.randint(0, 5, (9,), generator=g)
    y[2] = -100
    capped = 3.0 * torch.tanh(x / 3.0)
    lse = torch.logsumexp(capped, 1)
    per = lse - capped.gather(1, y.clamp(min=0)[:, None]).squeeze(1) + 1e-3 * lse ** 2
    per = torch.where(y != -100, per, 0.0)
    with kernels.use(mode):
        out = F.cross_entropy(x, y, z_loss=1e-3, softcap=3.0)
        torch.testing.assert_close(out, per.sum() / 8)
        torch.testing.assert_close(F.cross_entropy(x, y, z_loss=1e-3, softcap=3.0,
                                                   normalizer=20), per.sum() / 20)
        torch.testing.assert_close(F.cross_entropy(x, y, normalizer=torch.tensor(20.0)),
                                   TF.cross_entropy(x, y, reduction="sum") / 20)
        torch.testing.assert_close(F.cross_entropy(x, y, normalizer=0), x.sum() * 0)


# --- options that must never reach an accelerator that does not know them ------------------
# Mutation testing showed these unpinned: each option below changes the formula, and the
# accelerators take only the plain call. At sizes where the native kernels apply, auto mode
# must equal the definition (and the brute-force expectation) for each.


def _big_classes(n=1200, c=33, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=g, dtype=torch.float64) * 3
    t = torch.randint(0, c, (n,), generator=g)
    return x, t


def _big_binary(n=1 << 15, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g, dtype=torch.float64) * 3,
            (torch.rand(n, generator=g) > 0.7).double())


def _both_modes(fn, *args, **kwargs):
    from losskit import kernels

    with kernels.use("plain"):
        plain = fn(*args, **kwargs)
    auto = fn(*args, **kwargs)
    torch.testing.assert_close(auto, plain)
    return plain


def test_weighted_and_ignored_calls_match_the_definition_at_accelerated_sizes():
    x, t = _big_classes()
    w = torch.rand(x.shape[0], dtype=torch.float64) + 0.5
    expected = (TF.cross_entropy(x, t, reduction="none") * w).mean()
    torch.testing.assert_close(_both_modes(F.cross_entropy, x, t, weight=w), expected)
    tz = t.clone()
    tz[::3] = -100
    lse = torch.logsumexp(x, 1)
    per = TF.cross_entropy(x, tz, reduction="none") + 1e-2 * torch.where(tz != -100, lse, 0) ** 2
    torch.testing.assert_close(_both_modes(F.cross_entropy, x, tz, z_loss=1e-2),
                               per.sum() / (tz != -100).sum())
    logp = torch.log_softmax(x, 1)
    torch.testing.assert_close(_both_modes(F.nll, logp, t, weight=w),
                               (TF.nll_loss(logp, t, reduction="none") * w).mean())
    focal = _both_modes(F.softmax_focal, x, t, weight=w, gamma=2.0)
    p_y = torch.softmax(x, 1).gather(1, t[:, None]).squeeze(1)
    torch.testing.assert_close(focal, (-(1 - p_y) ** 2 * torch.log(p_y) * w).mean())
    xb, yb = _big_binary()
    yi = yb.clone()
    yi[::5] = -1
    counted = yi != -1
    bce = TF.binary_cross_entropy_with_logits(xb, yb, reduction="none")
    torch.testing.assert_close(_both_modes(F.binary_cross_entropy, xb, yi, ignore_index=-1),
                               bce[counted].mean())
    # sigmoid focal with pos_weight: gamma = 0 is BCE with pos_weight, times alpha_t
    pw = torch.tensor(3.0, dtype=torch.float64)
    out = _both_modes(F.sigmoid_focal, xb, yb, gamma=0.0, alpha=None, pos_weight=pw)
    torch.testing.assert_close(out, TF.binary_cross_entropy_with_logits(xb, yb, pos_weight=pw))


def test_soft_targets_with_z_loss_by_hand():
    x, _ = _big_classes(n=7, c=5)
    q = torch.softmax(torch.randn(7, 5, dtype=torch.float64), 1)
    lse = torch.logsumexp(x, 1)
    expected = (-(q * torch.log_softmax(x, 1)).sum(1) + 1e-2 * lse ** 2).mean()
    torch.testing.assert_close(F.cross_entropy(x, q, z_loss=1e-2), expected)


def test_per_class_focal_output_with_alpha_and_soft_targets():
    x, _ = _big_classes(n=6, c=4)
    q = torch.softmax(torch.randn(6, 4, dtype=torch.float64), 1)
    alpha = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    p = torch.softmax(x, 1)
    expected = q * (1 - p) ** 2 * -torch.log(p) * alpha
    out = F.softmax_focal(x, q, alpha=alpha, per_class=True, reduction="none")
    torch.testing.assert_close(out, expected)


def test_probability_bounds_and_int_class_weights():
    x, t = _big_classes(n=8, c=3)
    for fn in (F.cross_entropy, F.poly1_cross_entropy):
        with pytest.raises(losskit.LossInputError, match="label_smoothing"):
            fn(x, t, label_smoothing=1.5)
    with pytest.raises(losskit.LossInputError, match="label_smoothing"):
        F.binary_cross_entropy(x[:, 0], t.double().clamp(max=1), label_smoothing=1.5)
    with pytest.raises(losskit.LossInputError, match="alpha"):
        F.sigmoid_focal(x[:, 0], t.double().clamp(max=1), alpha=torch.tensor(1.5))
    with pytest.raises(losskit.LossInputError, match="clip"):
        F.asymmetric_multilabel(x, (x > 0).double(), clip=1.0)
    # integer class weights are weights (cast to the logits' dtype), not an error
    cw = torch.tensor([1, 2, 3])
    torch.testing.assert_close(F.cross_entropy(x, t, class_weight=cw),
                               TF.cross_entropy(x, t, weight=cw.double()))


def test_target_form_errors_name_the_problem():
    x, _ = _big_classes(n=5, c=3)
    q = torch.softmax(x, 1)
    # nll and multiclass_hinge take class indices only: probabilities are refused clearly
    for fn in (F.nll, F.multiclass_hinge):
        with pytest.raises(losskit.LossInputError, match="integer class indices"):
            fn(x, q)
    with pytest.raises(losskit.LossInputError, match="floating point"):
        F.cross_entropy(x, (q > 0.3).long())


def test_asymmetric_loss_without_clip_is_finite_at_large_logits():
    x = torch.tensor([30.0, -30.0, 80.0])
    y = torch.tensor([0.0, 1.0, 0.0])
    out = F.asymmetric_multilabel(x, y, clip=0.0, gamma_neg=0.0)
    assert torch.isfinite(out)
    # with clip = 0 and gamma 0 it is BCE
    torch.testing.assert_close(out, TF.binary_cross_entropy_with_logits(x, y))


def test_learnable_focal_gamma_at_zero_gets_its_gradient():
    # d/dgamma (1 - p)^gamma at gamma = 0 is log(1 - p): not zero, so a learnable gamma
    # starting at 0 must move (a shortcut returning 1 for gamma == 0 would freeze it).
    x, t = _big_classes(n=6, c=4)
    gamma = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.softmax_focal(x, t, gamma=gamma), gamma)
    p_y = torch.softmax(x, 1).gather(1, t[:, None]).squeeze(1)
    torch.testing.assert_close(g, (-torch.log1p(-p_y) * torch.log(p_y)).mean())
    xb, yb = _big_binary(n=10)
    gamma_b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (gb,) = torch.autograd.grad(F.sigmoid_focal(xb, yb, gamma=gamma_b, alpha=None), gamma_b)
    p = torch.sigmoid(xb)
    p_t = p * yb + (1 - p) * (1 - yb)
    bce = TF.binary_cross_entropy_with_logits(xb, yb, reduction="none")
    torch.testing.assert_close(gb, (bce * torch.log1p(-p_t)).mean())


# The second mutation-testing round's survivors (docs/mutation_testing.md).


def test_softcap_reaches_half_precision_logits_on_the_accelerated_path():
    # The accelerators get raw float16 logits only without a softcap: a softcap must be
    # applied first. Large enough for the native row kernel to take the call.
    g = torch.Generator().manual_seed(11)
    x = (20 * torch.randn(64, 600, generator=g)).half()
    t = torch.randint(0, 600, (64,), generator=g)
    with losskit.kernels.use("plain"):
        want = F.cross_entropy(x, t, softcap=5.0)
    with losskit.kernels.use("native"):
        got = F.cross_entropy(x, t, softcap=5.0)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_sigmoid_focal_ignored_targets_on_the_accelerated_path():
    # An accelerator sums every element: a call with ignored targets must stay with the
    # definition, which leaves them out.
    g = torch.Generator().manual_seed(12)
    x = torch.randn(40000, generator=g)
    t = (torch.rand(40000, generator=g) > 0.5).float()
    t[::3] = -1
    with losskit.kernels.use("plain"):
        want = F.sigmoid_focal(x, t, ignore_index=-1)
    with losskit.kernels.use("native"):
        got = F.sigmoid_focal(x, t, ignore_index=-1)
    torch.testing.assert_close(got, want)


def test_numeric_alpha_is_range_checked_without_value_checks():
    # A number is checked always; only tensors wait for a readable call.
    with losskit.value_checks(False), pytest.raises(losskit.LossInputError, match="alpha"):
        F.sigmoid_focal(torch.randn(4), torch.ones(4), alpha=1.5)


def test_integer_target_of_a_wrong_shape_is_described_as_class_indices():
    with pytest.raises(losskit.LossInputError, match="must hold integer class indices of shape"):
        F.cross_entropy(torch.randn(4, 3), torch.randint(0, 3, (5,)))
    with pytest.raises(losskit.LossInputError, match="must hold integer class indices of shape"):
        F.nll(torch.randn(4, 3).log_softmax(1), torch.randint(0, 3, (4, 3)))


def test_one_class_with_ignored_targets_and_class_weight():
    # C = 1: the loss is 0 (log softmax of one logit); ignored positions must not read
    # a class that does not exist. Same as torch.
    x = torch.randn(4, 1, dtype=torch.float64)
    t = torch.tensor([0, -100, 0, -100])
    w = torch.tensor([2.0], dtype=torch.float64)
    for fn, ref in ((F.cross_entropy, TF.cross_entropy),
                    (F.nll, TF.nll_loss)):
        got = fn(x, t, class_weight=w)
        torch.testing.assert_close(got, ref(x, t, weight=w))
    # focal: one class has p = 1, so every term is 0; the split form reads the class too
    torch.testing.assert_close(F.softmax_focal(x, t), x.sum() * 0)
    split = F.softmax_focal(x, t, per_class=True, reduction="none")
    torch.testing.assert_close(split, torch.zeros_like(x))


def test_softcap_bounds():
    x, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(losskit.LossInputError, match="softcap"):
        F.cross_entropy(x, t, softcap=0.0)
    capped = F.cross_entropy(x, t, softcap=0.5)  # any positive cap, also below 1
    torch.testing.assert_close(capped, TF.cross_entropy(0.5 * torch.tanh(x / 0.5), t))


def test_poly1_epsilon_lower_bound():
    x, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    F.poly1_cross_entropy(x, t, epsilon=-1.0)
    with pytest.raises(losskit.LossInputError, match="epsilon"):
        F.poly1_cross_entropy(x, t, epsilon=-1.5)


def test_pos_weight_bounds_of_sigmoid_focal():
    x, t = torch.randn(6), (torch.rand(6) > 0.5).float()
    F.sigmoid_focal(x, t, pos_weight=0.5)  # any non-negative weight, also below 1
    with pytest.raises(losskit.LossInputError, match="pos_weight"):
        F.sigmoid_focal(x, t, pos_weight=-0.5)


def test_ignore_index_that_is_a_class_is_left_out():
    # ignore_index=0 names a real class: its positions must be dropped although every
    # target is a valid class index (the value check cannot skip the mask).
    g = torch.Generator().manual_seed(13)
    x = torch.randn(12, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 4, (12,), generator=g)
    t[:4] = 0
    torch.testing.assert_close(F.cross_entropy(x, t, ignore_index=0),
                               TF.cross_entropy(x, t, ignore_index=0))
    torch.testing.assert_close(F.nll(x.log_softmax(1), t, ignore_index=0),
                               TF.nll_loss(x.log_softmax(1), t, ignore_index=0))


@pytest.mark.parametrize("name", ["cross_entropy", "nll", "multiclass_hinge",
                                  "poly1_cross_entropy", "softmax_focal"])
def test_per_pixel_weight_on_spatial_logits(name):
    # weight is per position: [N, H, W] for [N, C, H, W] logits.
    g = torch.Generator().manual_seed(14)
    x = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    if name == "nll":
        x = x.log_softmax(1)
    t = torch.randint(0, 3, (2, 4, 5), generator=g)
    w = torch.rand(2, 4, 5, generator=g, dtype=torch.float64)
    fn = getattr(F, name)
    torch.testing.assert_close(fn(x, t, weight=w), (fn(x, t, reduction="none") * w).mean())


def test_softmax_focal_per_class_on_spatial_soft_targets_sums_to_the_loss():
    g = torch.Generator().manual_seed(15)
    x = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    q = torch.softmax(torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64), 1)
    w = torch.rand(2, 4, 5, generator=g, dtype=torch.float64)
    alpha = [0.2, 0.5, 0.3]
    split = F.softmax_focal(x, q, alpha=alpha, weight=w, per_class=True, reduction="none")
    whole = F.softmax_focal(x, q, alpha=alpha, weight=w, reduction="none")
    assert split.shape == x.shape
    torch.testing.assert_close(split.sum(1), whole)


def test_hinge_refuses_mixed_label_conventions():
    with pytest.raises(losskit.LossInputError, match="mixes 0 and -1"):
        F.hinge(torch.randn(3), torch.tensor([0.0, 1.0, -1.0]))
