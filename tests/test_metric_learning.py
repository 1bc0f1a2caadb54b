"""Metric-learning losses against brute-force loops, torch builtins and pytorch-metric-learning.

The definitions are tested with ``kernels.use("plain")`` where the point is the formula;
the blockwise accelerator of info_nce / nt_xent / supcon is tested against the definition
(values, gradients, the learnable temperature) at the end, with many blocks forced.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as tF

import losskit
import losskit.functional as F
from losskit import kernels
from losskit.kernels import contrastive as contrastive_kernel

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")


@pytest.fixture
def plain():
    with kernels.use("plain"):
        yield


def _labelled(n=24, d=5, classes=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, d, generator=g, dtype=dtype) + 0.8 * torch.randn(
        classes, d, generator=g, dtype=dtype)[labels]
    return x.requires_grad_(True), labels


def _brute_triplets(x, labels, margin, mining, squared, refs=None, ref_labels=None,
                    distance="euclidean", smooth=False):
    """Explicit loops over (anchor, positive, negative); returns the list of selected losses."""
    refs = x if refs is None else refs
    ref_labels = labels if ref_labels is None else ref_labels
    if distance == "cosine":
        d = 1 - tF.cosine_similarity(x[:, None, :], refs[None, :, :], dim=2)
    else:
        d = torch.cdist(x, refs)
        d = d ** 2 if squared else d
    act = tF.softplus if smooth else torch.relu
    n, r = len(labels), len(ref_labels)
    hinges = []
    for a in range(n):
        pos = [p for p in range(r) if (refs is not x or p != a) and ref_labels[p] == labels[a]]
        neg = [q for q in range(r) if ref_labels[q] != labels[a]]
        if not pos or not neg:
            continue
        if mining == "all":
            hinges += [act(d[a, p] - d[a, q] + margin) for p, q in itertools.product(pos, neg)]
        elif mining == "hard":
            hp = torch.stack([d[a, p] for p in pos]).max()
            hn = torch.stack([d[a, q] for q in neg]).min()
            hinges.append(act(hp - hn + margin))
        else:  # FaceNet semi-hard as in TensorFlow Addons' triplet_semihard_loss
            for p in pos:
                farther = [d[a, q] for q in neg if d[a, q] > d[a, p]]
                dn = min(farther) if farther else max(d[a, q] for q in neg)
                hinges.append(act(d[a, p] - dn + margin))
    return hinges


# --- batch_triplet ---------------------------------------------------------------------------


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("average", ["valid", "nonzero"])
@pytest.mark.parametrize("squared", [False, True])
def test_batch_triplet_matches_brute_force_loops(mining, average, squared):
    x, labels = _labelled(n=14)
    margin = 1.5 if squared else 0.5
    ours = F.batch_triplet(x, labels, margin=margin, mining=mining, squared=squared,
                           average=average)
    every = _brute_triplets(x, labels, margin, mining, squared)
    hinges = [h for h in every if h > 0] if average == "nonzero" else every
    expected = torch.stack(hinges).mean()
    torch.testing.assert_close(ours, expected)
    g_ours, = torch.autograd.grad(ours, x)
    g_ref, = torch.autograd.grad(expected, x)
    torch.testing.assert_close(g_ours, g_ref)
    # sum is the sum of every selected hinge
    torch.testing.assert_close(F.batch_triplet(x, labels, margin=margin, mining=mining,
                                               squared=squared, reduction="sum"),
                               torch.stack(every).sum())


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("option", ["cosine", "smooth", "ref", "ref-cosine-smooth"])
def test_batch_triplet_options_match_brute_force_loops(mining, option):
    x, labels = _labelled(n=13, seed=7)
    g = torch.Generator().manual_seed(8)
    kw, ref = {}, {}
    if "cosine" in option:
        kw["distance"] = "cosine"
    if "smooth" in option:
        kw["smooth_loss"] = True
    if "ref" in option:
        ref = {"ref_emb": torch.randn(9, 5, generator=g, dtype=torch.float64,
                                      requires_grad=True),
               "ref_labels": torch.randint(0, 5, (9,), generator=g)}
    ours = F.batch_triplet(x, labels, margin=0.3, mining=mining, **kw, **ref)
    every = _brute_triplets(x, labels, 0.3, mining, False, ref.get("ref_emb"),
                            ref.get("ref_labels"), kw.get("distance", "euclidean"),
                            kw.get("smooth_loss", False))
    expected = torch.stack(every).mean()
    torch.testing.assert_close(ours, expected)
    leaves = (x,) + ((ref["ref_emb"],) if ref else ())
    for a, b in zip(torch.autograd.grad(ours, leaves), torch.autograd.grad(expected, leaves)):
        torch.testing.assert_close(a, b)


def test_batch_triplet_learnable_margin_gradient_is_exact():
    x, labels = _labelled(n=12, seed=9)
    for mining in ("all", "hard", "semihard"):
        m = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
        (g_ours,) = torch.autograd.grad(F.batch_triplet(x, labels, margin=m, mining=mining), m)
        m2 = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
        (g_ref,) = torch.autograd.grad(torch.stack(_brute_triplets(x, labels, m2, mining,
                                                                   False)).mean(), m2)
        torch.testing.assert_close(g_ours, g_ref)
        # d mean / d margin = fraction of active triplets (all of them for hard mining here).
        assert 0 < g_ours.item() <= 1
    assert torch.autograd.gradcheck(
        lambda m: F.batch_triplet(x.detach(), labels, margin=m),
        (torch.tensor(0.6, dtype=torch.float64, requires_grad=True),))


def test_batch_triplet_all_matches_pml_nonzero_and_mean_reducers():
    x, labels = _labelled(n=32, seed=1)
    dist = pml_distances.LpDistance(normalize_embeddings=False)
    # pytorch-metric-learning's default reducer averages the non-zero triplet losses.
    pml_nonzero = pml_losses.TripletMarginLoss(margin=0.4, distance=dist)(x, labels)
    torch.testing.assert_close(F.batch_triplet(x, labels, margin=0.4, average="nonzero"),
                               pml_nonzero)
    pml_mean = pml_losses.TripletMarginLoss(margin=0.4, distance=dist,
                                            reducer=pml_reducers.MeanReducer())(x, labels)
    torch.testing.assert_close(F.batch_triplet(x, labels, margin=0.4), pml_mean)


def test_batch_triplet_cosine_smooth_and_ref_match_pml():
    x, labels = _labelled(n=20, seed=11)
    g = torch.Generator().manual_seed(12)
    ref = torch.randn(15, 5, generator=g, dtype=torch.float64)
    ref_labels = torch.randint(0, 5, (15,), generator=g)
    mean = pml_reducers.MeanReducer()
    cos = pml_distances.CosineSimilarity()
    raw = pml_distances.LpDistance(normalize_embeddings=False)
    cases = [
        (pml_losses.TripletMarginLoss(margin=0.2, distance=cos, reducer=mean), {},
         dict(distance="cosine")),
        (pml_losses.TripletMarginLoss(margin=0.2, distance=cos), {},
         dict(distance="cosine", average="nonzero")),
        (pml_losses.TripletMarginLoss(margin=0.2, distance=raw, smooth_loss=True), {},
         dict(smooth_loss=True, average="nonzero")),
        (pml_losses.TripletMarginLoss(margin=0.2, distance=raw, reducer=mean),
         dict(ref_emb=ref, ref_labels=ref_labels), {}),
        (pml_losses.TripletMarginLoss(margin=0.2, distance=cos, smooth_loss=True),
         dict(ref_emb=ref, ref_labels=ref_labels), dict(distance="cosine", smooth_loss=True,
                                                        average="nonzero")),
    ]
    for pml_fn, ref_kw, ours_kw in cases:
        expected = pml_fn(x, labels, **ref_kw)
        ours = F.batch_triplet(x, labels, margin=0.2, **ref_kw, **ours_kw)
        torch.testing.assert_close(ours, expected, msg=lambda m, k=ours_kw: f"{k}: {m}")


def test_batch_triplet_hard_matches_pml_batch_hard_miner():
    x, labels = _labelled(n=32, seed=2)
    dist = pml_distances.LpDistance(normalize_embeddings=False)
    miner = pml_miners.BatchHardMiner(distance=dist)
    loss_fn = pml_losses.TripletMarginLoss(margin=0.3, distance=dist,
                                           reducer=pml_reducers.MeanReducer())
    expected = loss_fn(x, labels, miner(x, labels))
    torch.testing.assert_close(F.batch_triplet(x, labels, margin=0.3, mining="hard"), expected)


def test_batch_triplet_without_any_triplet_is_zero_attached():
    x = torch.randn(4, 3, requires_grad=True)
    for labels in (torch.tensor([0, 1, 2, 3]), torch.zeros(4, dtype=torch.long)):
        for mining in ("all", "hard", "semihard"):
            out = F.batch_triplet(x, labels, mining=mining)
            assert out.item() == 0.0
            (g,) = torch.autograd.grad(out, x)
            assert torch.equal(g, torch.zeros_like(g))


def test_batch_triplet_duplicate_embeddings_give_finite_gradients():
    # Coincident points: distance 0, where a naive sqrt has an infinite derivative.
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])
    for mining in ("all", "hard", "semihard"):
        (g,) = torch.autograd.grad(F.batch_triplet(x, labels, mining=mining), x)
        assert torch.isfinite(g).all()


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
@pytest.mark.parametrize("average", ["valid", "nonzero"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_batch_triplet_nan_input_gives_nan(mining, average, distance):
    # Row 5 is a singleton class: never an anchor with a triplet, only someone's negative.
    x, _ = _labelled(n=8, seed=4)
    labels = torch.tensor([0, 0, 1, 1, 2, 3, 2, 0])
    for row in (0, 5):
        bad = x.detach().clone()
        bad[row, 1] = float("nan")
        out = F.batch_triplet(bad, labels, mining=mining, average=average, distance=distance)
        assert torch.isnan(out), (row, out)


def test_batch_triplet_none_is_per_anchor_sum_and_weight_rescales_it():
    x, labels = _labelled(n=10, seed=3)
    none = F.batch_triplet(x, labels, reduction="none")
    d = torch.cdist(x, x)
    for a in range(10):
        expected = sum((torch.relu(d[a, p] - d[a, q] + 0.2)
                        for p in range(10) for q in range(10)
                        if p != a and labels[p] == labels[a] and labels[q] != labels[a]),
                       torch.zeros((), dtype=x.dtype))
        torch.testing.assert_close(none[a], expected)
    w = torch.rand(10, dtype=x.dtype)
    torch.testing.assert_close(F.batch_triplet(x, labels, weight=w, reduction="sum"),
                               (none * w).sum())


def test_batch_triplet_rejects_bad_inputs():
    x = torch.randn(4, 3)
    y = torch.zeros(4, dtype=torch.long)
    with pytest.raises(losskit.LossInputError, match="labels"):
        F.batch_triplet(x, torch.zeros(5, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="labels"):
        F.batch_triplet(x, torch.zeros(4))
    with pytest.raises(losskit.LossInputError, match="mining"):
        F.batch_triplet(x, y, mining="hardest")
    with pytest.raises(losskit.LossInputError, match="embeddings"):
        F.batch_triplet(torch.randn(4), y)
    with pytest.raises(losskit.LossInputError, match="squared"):
        F.batch_triplet(x, y, distance="cosine", squared=True)
    with pytest.raises(losskit.LossInputError, match="ref_labels"):
        F.batch_triplet(x, y, ref_emb=torch.randn(3, 3))
    with pytest.raises(losskit.LossInputError, match="ref_emb"):
        F.batch_triplet(x, y, ref_emb=torch.randn(3, 2), ref_labels=torch.zeros(3).long())


# --- pair and triplet losses -------------------------------------------------------------------


@pytest.mark.parametrize("p,swap", [(2.0, False), (1.0, True), (3.0, True)])
def test_triplet_margin_equals_torch(p, swap):
    g = torch.Generator().manual_seed(0)
    a, pos, neg = (torch.randn(9, 4, generator=g, dtype=torch.float64) for _ in range(3))
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            F.triplet_margin(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction),
            tF.triplet_margin_loss(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction))


def test_triplet_margin_learnable_margin_and_fixed_hyperparameters():
    g = torch.Generator().manual_seed(1)
    a, pos, neg = (torch.randn(9, 4, generator=g, dtype=torch.float64) for _ in range(3))
    m = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(F.triplet_margin(a, pos, neg, margin=m), m)
    # d/dm mean(max(0, m + d_ap - d_an)) = fraction of active triplets
    active = (0.7 + tF.pairwise_distance(a, pos) - tF.pairwise_distance(a, neg)) > 0
    torch.testing.assert_close(grad, active.double().mean())
    for name in ("p", "eps"):
        with pytest.raises(losskit.LossInputError, match=name):
            F.triplet_margin(a, pos, neg, **{name: torch.tensor(2.0)})


def test_contrastive_hand_worked_values():
    a = torch.zeros(3, 2)
    b = torch.tensor([[3.0, 4.0], [0.6, 0.0], [2.0, 0.0]])
    same = torch.tensor([True, False, False])
    # Hadsell et al.: same -> d^2 / 2 = 25 / 2; different -> max(0, 1 - d)^2 / 2 = 0.08 and 0.
    torch.testing.assert_close(F.contrastive(a, b, same, reduction="none"),
                               torch.tensor([12.5, 0.08, 0.0]))
    # cosine distance 1 - cos: orthogonal different pair at margin 1.5 -> (1.5 - 1)^2 / 2
    torch.testing.assert_close(
        F.contrastive(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]),
                      torch.tensor([0]), margin=1.5, distance="cosine"), torch.tensor(0.125))
    # margins form, linear hinges: same d = 5 with pos_margin 1 -> 4; different d = 0.6 and 2
    # with neg_margin 1.5 -> 0.9 and 0; squared distances 25, 0.36, 4 -> 24, 1.14, 0.
    torch.testing.assert_close(
        F.contrastive(a, b, same, pos_margin=1.0, neg_margin=1.5, reduction="none"),
        torch.tensor([4.0, 0.9, 0.0]))
    torch.testing.assert_close(
        F.contrastive(a, b, same, pos_margin=1.0, neg_margin=1.5, distance="squared_euclidean",
                      reduction="none"), torch.tensor([24.0, 1.14, 0.0]))
    # neg_margin defaults to margin, pos_margin to 0
    torch.testing.assert_close(F.contrastive(a, b, same, margin=1.5, pos_margin=0.0,
                                             reduction="none"), torch.tensor([5.0, 0.9, 0.0]))


def test_contrastive_margins_form_matches_pml_on_every_pair_of_a_batch():
    # PML's ContrastiveLoss forms every pair of a labelled batch and averages the positive
    # and the negative pairs separately (MeanReducer here), then adds the two means.
    x, labels = _labelled(n=9, seed=5)
    pairs = [(i, j) for i in range(9) for j in range(9) if i != j]
    i, j = torch.tensor(pairs).T
    same = labels[i] == labels[j]
    mean = pml_reducers.MeanReducer()
    for pml_dist, kw in (
            (pml_distances.LpDistance(power=2), dict(pos_margin=0.25, neg_margin=1.5,
                                                    distance="squared_euclidean")),
            (pml_distances.LpDistance(), dict(pos_margin=0.1, neg_margin=0.9)),
            # similarity margins 0.8 / 0.3 are cosine-distance margins 0.2 / 0.7
            (pml_distances.CosineSimilarity(), dict(pos_margin=0.2, neg_margin=0.7,
                                                   distance="cosine"))):
        pml_kw = ({"pos_margin": 0.8, "neg_margin": 0.3} if kw.get("distance") == "cosine"
                  else {"pos_margin": kw["pos_margin"], "neg_margin": kw["neg_margin"]})
        expected = pml_losses.ContrastiveLoss(distance=pml_dist, reducer=mean, **pml_kw)(x, labels)
        xn = tF.normalize(x, dim=1)  # PML's distances normalize the embeddings
        per_pair = F.contrastive(xn[i], xn[j], same, reduction="none", **kw)
        ours = per_pair[same].mean() + per_pair[~same].mean()
        torch.testing.assert_close(ours, expected)
        torch.testing.assert_close(torch.autograd.grad(ours, x)[0],
                                   torch.autograd.grad(expected, x)[0])


def test_contrastive_learnable_margins_have_exact_gradients():
    g = torch.Generator().manual_seed(6)
    a, b = torch.randn(11, 3, generator=g, dtype=torch.float64), torch.randn(
        11, 3, generator=g, dtype=torch.float64)
    same = torch.rand(11, generator=g) > 0.5
    for kw in ({"margin": 2.0}, {"pos_margin": 0.5}, {"neg_margin": 2.5},
               {"pos_margin": 0.5, "neg_margin": 2.5}):
        names = list(kw)
        ts = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in kw.values())
        assert torch.autograd.gradcheck(
            lambda *t, names=names: F.contrastive(a, b, same, **dict(zip(names, t))), ts)


def test_contrastive_nan_input_gives_nan():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    a[1, 0] = float("nan")
    for same in (torch.tensor([1, 0, 1, 0]), torch.tensor([1, 1, 0, 0])):
        for kw in ({}, {"distance": "cosine"}, {"pos_margin": 0.1}):
            assert torch.isnan(F.contrastive(a, b, same, **kw)), kw


def test_contrastive_coincident_negative_has_finite_gradient():
    a = torch.ones(2, 3, requires_grad=True)
    out = F.contrastive(a, a.detach().clone(), torch.tensor([False, False]))
    assert out.item() == pytest.approx(0.5)
    (g,) = torch.autograd.grad(out, a)
    assert torch.isfinite(g).all()


# --- softmax-contrastive family: the definitions -------------------------------------------


def _grads(out, leaves):
    return torch.autograd.grad(out, leaves, allow_unused=True)


def test_nt_xent_matches_pml_ntxent(plain):
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    # pytorch-metric-learning: both views in one batch, the pair index as the label.
    expected = pml_losses.NTXentLoss(temperature=0.3)(torch.cat([z_a, z_b]),
                                                      torch.arange(10).repeat(2))
    ours = F.nt_xent(z_a, z_b, temperature=0.3)
    torch.testing.assert_close(ours, expected)
    for a, b in zip(_grads(ours, (z_a, z_b)), _grads(expected, (z_a, z_b))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("average", ["pair", "anchor"])
def test_nt_xent_with_labels_matches_pml(plain, distance, average):
    # Several positives per anchor, each positive pair with its own denominator.
    x, labels = _labelled(n=15, classes=4, seed=13)
    pml_dist = (pml_distances.CosineSimilarity() if distance == "cosine"
                else pml_distances.LpDistance())
    reducer = (pml_reducers.PerAnchorReducer(pml_reducers.AvgNonZeroReducer())
               if average == "anchor" else pml_reducers.MeanReducer())
    expected = pml_losses.NTXentLoss(temperature=0.2, distance=pml_dist, reducer=reducer)(
        x, labels)
    ours = F.nt_xent(x, labels=labels, temperature=0.2, distance=distance, average=average)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(_grads(ours, x)[0], _grads(expected, x)[0])


def test_nt_xent_two_views_with_labels_equals_one_batch_form():
    g = torch.Generator().manual_seed(14)
    z_a, z_b = (torch.randn(7, 4, generator=g, dtype=torch.float64) for _ in range(2))
    y = torch.tensor([0, 1, 0, 2, 1, 3, 0])
    both = F.nt_xent(torch.cat([z_a, z_b]), labels=y.repeat(2), temperature=0.4,
                     reduction="none")
    counts = torch.tensor([5, 3, 5, 1, 3, 1, 5], dtype=torch.float64)  # pairs per view
    # per sample: the mean over the pairs its two views anchor
    per_sample = (both[:7] * counts + both[7:] * counts) / (2 * counts)
    torch.testing.assert_close(F.nt_xent(z_a, z_b, labels=y, temperature=0.4, reduction="none"),
                               per_sample)
    torch.testing.assert_close(F.nt_xent(z_a, z_b, labels=y, temperature=0.4),
                               F.nt_xent(torch.cat([z_a, z_b]), labels=y.repeat(2),
                                         temperature=0.4))
    # and the brute-force registry reference agrees on the two-view form with labels
    ref = losskit.info("nt_xent").reference
    torch.testing.assert_close(F.nt_xent(z_a, z_b, labels=y, temperature=0.4),
                               ref(z_a, z_b, labels=y, temperature=0.4))


def test_nt_xent_and_supcon_with_ref_emb_match_pml(plain):
    g = torch.Generator().manual_seed(15)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 0])
    ref = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    ref_y = torch.tensor([0, 1, 2, 4, 0, 1])
    for pml_fn, ours_fn in (
            (pml_losses.NTXentLoss(temperature=0.25),
             lambda: F.nt_xent(x, labels=y, ref_emb=ref, ref_labels=ref_y, temperature=0.25)),
            (pml_losses.SupConLoss(temperature=0.25),
             lambda: F.supcon(x, y, ref_emb=ref, ref_labels=ref_y, temperature=0.25)),
            (pml_losses.SupConLoss(temperature=0.25, distance=pml_distances.LpDistance()),
             lambda: F.supcon(x, y, ref_emb=ref, ref_labels=ref_y, temperature=0.25,
                              distance="euclidean"))):
        expected = pml_fn(x, y, ref_emb=ref, ref_labels=ref_y)
        ours = ours_fn()
        torch.testing.assert_close(ours, expected)
        for a, b in zip(_grads(ours, (x, ref)), _grads(expected, (x, ref))):
            torch.testing.assert_close(a, b)


def test_nt_xent_has_2n_minus_2_negatives():
    # Hand-worked: z = [e0, e1 | e0, e1], t = 1. Anchor e0 sees its partner (cos 1) and the
    # two e1 views (cos 0): -log(e / (e + 2)).
    z = torch.eye(2)
    expected = torch.log1p(2 / torch.exp(torch.tensor(1.0)))
    torch.testing.assert_close(F.nt_xent(z, z, temperature=1.0), expected)


def test_nt_xent_rejects_ambiguous_calls():
    x = torch.randn(4, 3)
    with pytest.raises(losskit.LossInputError, match="z_b"):
        F.nt_xent(x)
    with pytest.raises(losskit.LossInputError, match="not both"):
        F.nt_xent(x, x, labels=torch.zeros(4).long(), ref_emb=x, ref_labels=torch.zeros(4).long())
    with pytest.raises(losskit.LossInputError, match="distance"):
        F.nt_xent(x, x, distance="manhattan")


@pytest.mark.parametrize("distance", ["cosine", "euclidean", "squared_euclidean"])
def test_supcon_matches_pml_including_anchors_without_positives(plain, distance):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(14, 5, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5, 6, 0])  # 2, 4, 6 are singletons
    # PML's SupConLoss uses the L_out form and averages non-zero anchors, which excludes
    # anchors without positives exactly as losskit does; its LpDistance normalizes first.
    pml_dist = {"cosine": pml_distances.CosineSimilarity(),
                "euclidean": pml_distances.LpDistance(),
                "squared_euclidean": pml_distances.LpDistance(power=2)}[distance]
    expected = pml_losses.SupConLoss(temperature=0.2, distance=pml_dist)(x, labels)
    ours = F.supcon(x, labels, temperature=0.2, distance=distance)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(_grads(ours, x)[0], _grads(expected, x)[0])
    none = F.supcon(x, labels, temperature=0.2, distance=distance, reduction="none")
    assert (none[[5, 8, 12]] == 0).all() and (none[[0, 1, 2]] > 0).all()


def test_supcon_without_positive_pairs_is_zero_not_nan():
    for mode in ("auto", "plain"):
        with kernels.use(mode):
            x = torch.randn(5, 3, requires_grad=True)
            out = F.supcon(x, torch.arange(5))
            assert out.item() == 0.0
            (g,) = torch.autograd.grad(out, x)
            assert torch.equal(g, torch.zeros_like(g))
            # a single sample: no candidate at all
            one = torch.randn(1, 3, requires_grad=True)
            out = F.supcon(one, torch.tensor([0]))
            assert out.item() == 0.0 and torch.isfinite(torch.autograd.grad(out, one)[0]).all()


def test_supcon_with_pair_labels_equals_nt_xent():
    # With each sample's two views as the only members of its class, SupCon is NT-Xent.
    g = torch.Generator().manual_seed(3)
    z_a, z_b = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    torch.testing.assert_close(
        F.supcon(torch.cat([z_a, z_b]), torch.arange(6).repeat(2), temperature=0.5),
        F.nt_xent(z_a, z_b, temperature=0.5))


def test_info_nce_with_extra_negatives_matches_cross_entropy(plain):
    g = torch.Generator().manual_seed(4)
    q = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(9, 5, generator=g, dtype=torch.float64, requires_grad=True)
    # Independent route: logits against [keys; bank], target = own key (torch cross_entropy).
    logits = tF.normalize(q, dim=1) @ tF.normalize(torch.cat([k, bank]), dim=1).t() / 0.2
    expected = tF.cross_entropy(logits, torch.arange(7))
    ours = F.info_nce(q, k, temperature=0.2, negatives=bank)
    torch.testing.assert_close(ours, expected)
    for a, b in zip(_grads(ours, (q, k, bank)), _grads(expected, (q, k, bank))):
        torch.testing.assert_close(a, b)
    with pytest.raises(losskit.LossInputError, match="negatives"):
        F.info_nce(q, k, negatives=torch.randn(3, 4, dtype=torch.float64))


def test_contrastive_family_rejects_bad_temperature():
    x = torch.randn(4, 3)
    for call in (lambda: F.info_nce(x, x, temperature=0.0),
                 lambda: F.nt_xent(x, x, temperature=-1.0),
                 lambda: F.supcon(x, torch.zeros(4, dtype=torch.long), temperature=0.0),
                 lambda: F.info_nce(x, x, temperature=torch.tensor(-0.1))):
        with pytest.raises(losskit.LossInputError, match="temperature"):
            call()


@pytest.mark.parametrize("mode", ["auto", "plain"])
def test_contrastive_family_nan_input_gives_nan(mode):
    x, labels = _labelled(n=9, seed=16)
    x = x.detach().clone()
    y = torch.randn(9, 5, dtype=torch.float64)
    x[4, 2] = float("nan")
    with kernels.use(mode):
        assert torch.isnan(F.info_nce(y, x))
        assert torch.isnan(F.info_nce(x, y))
        assert torch.isnan(F.nt_xent(y, x))
        assert torch.isnan(F.nt_xent(x, labels=labels))
        assert torch.isnan(F.supcon(x, labels))
        assert torch.isnan(F.supcon(x, labels, distance="euclidean"))


# --- the blockwise accelerator of info_nce / nt_xent / supcon ---------------------------------


@pytest.fixture(params=["eager", "blockwise"])
def kernel_path(request, monkeypatch):
    """Tiny row blocks; "blockwise" also turns off the gradient-in-forward path."""
    monkeypatch.setattr(contrastive_kernel, "_BLOCK_ELEMENTS", 40)
    if request.param == "blockwise":
        monkeypatch.setattr(contrastive_kernel, "_EAGER_ELEMENTS", 0)
    return request.param


def _calls():
    g = torch.Generator().manual_seed(20)
    x = torch.randn(13, 5, generator=g, dtype=torch.float64)
    y = torch.randn(13, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (13,), generator=g)
    bank = torch.randn(6, 5, generator=g, dtype=torch.float64)
    ref = torch.randn(8, 5, generator=g, dtype=torch.float64)
    ref_labels = torch.randint(0, 4, (8,), generator=g)
    w = torch.rand(13, generator=g, dtype=torch.float64) + 0.5
    return [
        ("info_nce", (x, y), {}),
        ("info_nce", (x, y), {"negatives": bank, "weight": w}),
        ("nt_xent", (x, y), {}),
        ("nt_xent", (x, y), {"weight": w, "normalize": False}),
        ("supcon", (x, labels), {}),
        ("supcon", (x, labels), {"ref_emb": ref, "ref_labels": ref_labels, "weight": w}),
        # labels 0 and 1 have no reference, 4 and 5 no anchor
        ("supcon", (x, labels), {"ref_emb": ref, "ref_labels": ref_labels + 2}),
    ]


def _value_and_grads(name, args, kw, t_value, reduction, mode):
    leaves = [a.clone().requires_grad_(True) if a.is_floating_point() else a for a in args]
    t = torch.tensor(t_value, dtype=torch.float64, requires_grad=True)
    with kernels.use(mode):
        out = losskit.info(name).fn(*leaves, temperature=t, reduction=reduction, **kw)
        up = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
        grads = torch.autograd.grad(out, [a for a in leaves if a.requires_grad] + [t], up)
    return out.detach(), grads


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_accelerator_matches_definition_with_learnable_temperature(kernel_path, reduction):
    for name, args, kw in _calls():
        fast = _value_and_grads(name, args, kw, 0.3, reduction, "torch")
        slow = _value_and_grads(name, args, kw, 0.3, reduction, "plain")
        torch.testing.assert_close(fast[0], slow[0])
        for a, b in zip(fast[1], slow[1]):
            torch.testing.assert_close(a, b, msg=lambda m, n=name, k=kw: f"{n} {list(k)}: {m}")


def test_learnable_temperature_gradient_is_the_formula():
    # The reported bug: d info_nce / d t must be -(1/t) sum_ij G_ij s_ij with s = cos / t and
    # G = dL/ds = (softmax(s) - I) / N, here written out independently.
    g = torch.Generator().manual_seed(21)
    a = torch.randn(64, 16, generator=g, dtype=torch.float64)
    b = torch.randn(64, 16, generator=g, dtype=torch.float64)
    t = torch.tensor(0.07, dtype=torch.float64, requires_grad=True)
    s = tF.normalize(a, dim=1) @ tF.normalize(b, dim=1).t() / 0.07
    big_g = (torch.softmax(s, dim=1) - torch.eye(64, dtype=torch.float64)) / 64
    expected = -(big_g * s).sum() / 0.07
    for mode in ("torch", "plain"):
        with kernels.use(mode):
            (got,) = torch.autograd.grad(F.info_nce(a, b, temperature=t), t)
        torch.testing.assert_close(got, expected)
    assert abs(expected.item()) > 10  # a gradient of the size the formula gives, not ~1


@pytest.mark.parametrize("name", ["info_nce", "nt_xent", "supcon"])
def test_accelerator_temperature_gradcheck(kernel_path, name):
    g = torch.Generator().manual_seed(23)
    x, y = (torch.randn(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
            for _ in range(2))
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 3])
    fn = losskit.info(name).fn
    if name == "supcon":
        def f(t, x, y):
            return fn(x, labels, temperature=t, ref_emb=y, ref_labels=labels.flip(0))
    else:
        def f(t, x, y):
            return fn(x, y, temperature=t)
    t = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    with kernels.use("torch"):
        assert torch.autograd.gradcheck(f, (t, x, y), fast_mode=True)
        assert torch.autograd.gradgradcheck(f, (t, x, y), fast_mode=True)


def test_accelerator_runs_on_meta_and_declines_what_it_does_not_do():
    z = torch.randn(6, 4, device="meta", requires_grad=True)
    y = torch.zeros(6, dtype=torch.long, device="meta")
    with kernels.use("torch"):
        out = F.nt_xent(z, z, temperature=torch.tensor(0.5, device="meta", requires_grad=True))
        out.backward()
        assert out.device.type == "meta" and z.grad.device.type == "meta"
        F.supcon(z, y).backward()
    x = torch.randn(6, 4)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    with kernels.use("torch"):
        for call in (lambda: F.supcon(x, labels, distance="euclidean"),
                     lambda: F.nt_xent(x, labels=labels)):
            with pytest.raises(kernels.AcceleratorDeclined):
                call()
    # The same calls in auto mode run the definition.
    torch.testing.assert_close(F.nt_xent(x, labels=labels),
                               losskit.info("nt_xent").reference(x, labels=labels))


def test_accelerator_symmetry_comes_from_the_call_not_the_data():
    # The same tensor as query and key is not a symmetric problem for info_nce (its row i
    # keeps column i); the accelerator must not guess otherwise.
    g = torch.Generator().manual_seed(22)
    z = torch.randn(9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    with kernels.use("torch"):
        fast = F.info_nce(z, z, temperature=0.5)
        (g_fast,) = torch.autograd.grad(fast, z)
    with kernels.use("plain"):
        slow = F.info_nce(z, z, temperature=0.5)
        (g_slow,) = torch.autograd.grad(slow, z)
    torch.testing.assert_close(fast, slow)
    torch.testing.assert_close(g_fast, g_slow)


# --- memory: what autograd keeps for backward ------------------------------------------------


def _largest_saved_tensor(fn) -> int:
    """Largest number of elements among the tensors autograd saves while ``fn`` runs."""
    sizes = [0]

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn().backward()
    return max(sizes)


def test_contrastive_family_never_saves_the_similarity_matrix():
    n, d = 128, 16
    g = torch.Generator().manual_seed(5)
    z_a = torch.randn(n, d, generator=g, requires_grad=True)
    z_b = torch.randn(n, d, generator=g, requires_grad=True)
    labels = torch.randint(0, 10, (n,), generator=g)
    t = torch.tensor(0.1, requires_grad=True)
    # The 2N x 2N matrix has 65,536 elements; only [2N, d] tensors (4,096) may be kept.
    assert _largest_saved_tensor(lambda: F.nt_xent(z_a, z_b)) <= 2 * n * d
    assert _largest_saved_tensor(lambda: F.nt_xent(z_a, z_b, temperature=t)) <= 2 * n * d
    assert _largest_saved_tensor(lambda: F.supcon(z_a, labels)) <= 2 * n * d
    assert _largest_saved_tensor(lambda: F.info_nce(z_a, z_b)) <= 2 * n * d


def test_batch_triplet_memory_is_quadratic_not_cubic():
    x, labels = _labelled(n=64, classes=8, seed=6)
    for mining in ("all", "hard", "semihard"):
        # An [N, N, N] triplet tensor would have 262,144 elements; [N, N + 1] is the limit.
        assert _largest_saved_tensor(lambda m=mining: F.batch_triplet(x, labels, mining=m)) \
            <= 64 * 65


# --- the second mutation-testing round's survivors (docs/mutation_testing.md) ---------------


@pytest.mark.parametrize("mining", ["all", "semihard", "hard"])
def test_batch_triplet_without_negatives_is_zero_with_zero_gradient(mining):
    # One class only: no triplet exists; the loss is 0, attached, with a zero gradient.
    e = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.zeros(6, dtype=torch.long)
    loss = F.batch_triplet(e, labels, mining=mining)
    (g,) = torch.autograd.grad(loss, e)
    assert float(loss.detach()) == 0.0
    assert torch.equal(g, torch.zeros_like(g))


def test_batch_triplet_all_float32_keeps_float64_prefix_sums():
    # Many negatives at nearly equal distances: the hinge sum count * threshold - prefix
    # cancels; it is accumulated in float64 so float32 embeddings lose nothing.
    g = torch.Generator().manual_seed(21)
    e = torch.randn(1024, 8, generator=g) * 0.01 + 10.0
    labels = torch.randint(0, 4, (1024,), generator=g)
    got = F.batch_triplet(e, labels, mining="all", margin=0.2, reduction="sum")
    want = F.batch_triplet(e.double(), labels, mining="all", margin=0.2, reduction="sum")
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=0.0)


def test_contrastive_refuses_nan_margins_and_misshaped_pair_labels():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    same = torch.tensor([True, False, True, False])
    with pytest.raises(losskit.LossInputError, match="pos_margin"):
        F.contrastive(a, b, same, pos_margin=float("nan"))
    with pytest.raises(losskit.LossInputError, match="neg_margin"):
        F.contrastive(a, b, same, neg_margin=float("nan"))
    for bad in (same[:, None], [True, False, True, False]):
        with pytest.raises(losskit.LossInputError, match="same must be a tensor of shape"):
            F.contrastive(a, b, bad)


def test_contrastive_default_positive_margin_is_zero():
    g = torch.Generator().manual_seed(22)
    a, b = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    same = torch.tensor([True, False, True, True, False, False])
    torch.testing.assert_close(F.contrastive(a, b, same, neg_margin=1.5),
                               F.contrastive(a, b, same, pos_margin=0.0, neg_margin=1.5))


def test_triplet_margin_norm_degree_must_be_positive():
    a, p, n = torch.randn(3, 2), torch.randn(3, 2), torch.randn(3, 2)
    with pytest.raises(losskit.LossInputError, match="p must"):
        F.triplet_margin(a, p, n, p=0.0)
    F.triplet_margin(a, p, n, p=0.5)


@pytest.mark.parametrize("labels", [[0], [0, 0, 1], [0, 0, 1, 1, 2]])
def test_semihard_with_one_sample_or_a_single_negative_matches_the_brute_force(labels):
    from losskit.functional.metric_learning import _batch_triplet_reference

    g = torch.Generator().manual_seed(23)
    y = torch.tensor(labels)
    e = torch.randn(len(labels), 3, generator=g, dtype=torch.float64)
    got = F.batch_triplet(e, y, mining="semihard", margin=0.5)
    want = _batch_triplet_reference(e, y, mining="semihard", margin=0.5)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("mining", ["all", "semihard"])
def test_negatives_at_distance_zero_give_a_finite_loss(mining):
    # Anchor 0's only negative (sample 1) coincides with it: the sum of its negative
    # distances is 0, which must not turn into 0 / 0.
    from losskit.functional.metric_learning import _batch_triplet_reference

    e = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 1, 0])
    got = F.batch_triplet(e, y, mining=mining, margin=0.2)
    assert torch.isfinite(got)
    torch.testing.assert_close(got, _batch_triplet_reference(e, y, mining=mining, margin=0.2))


@pytest.mark.parametrize("mining", ["all", "hard", "semihard"])
def test_batch_triplet_on_an_empty_batch_is_zero_with_a_graph(mining):
    e = torch.zeros(0, 8, dtype=torch.float64, requires_grad=True)
    out = F.batch_triplet(e, torch.zeros(0, dtype=torch.long), mining=mining)
    (g,) = torch.autograd.grad(out, e)
    assert out.item() == 0.0 and g.shape == (0, 8)
