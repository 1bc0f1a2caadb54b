"""Metric-learning losses against brute-force loops, torch builtins and pytorch-metric-learning."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as tF

import losskit
import losskit.functional as F
from losskit.kernels import contrastive as contrastive_kernel
from losskit.kernels.contrastive import similarity_logsumexp

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")


def _labelled(n=24, d=5, classes=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, d, generator=g, dtype=dtype) + 0.8 * torch.randn(
        classes, d, generator=g, dtype=dtype)[labels]
    return x.requires_grad_(True), labels


def _brute_triplets(x, labels, margin, mining, squared):
    """Explicit loops over (anchor, positive, negative); returns the list of selected hinges."""
    d = torch.cdist(x, x)
    d = d ** 2 if squared else d
    n = len(labels)
    hinges = []
    for a in range(n):
        pos = [p for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [q for q in range(n) if labels[q] != labels[a]]
        if not pos or not neg:
            continue
        if mining == "all":
            hinges += [torch.relu(d[a, p] - d[a, q] + margin)
                       for p, q in itertools.product(pos, neg)]
        elif mining == "hard":
            hp = torch.stack([d[a, p] for p in pos]).max()
            hn = torch.stack([d[a, q] for q in neg]).min()
            hinges.append(torch.relu(hp - hn + margin))
        else:  # FaceNet semi-hard as in TensorFlow Addons' triplet_semihard_loss
            for p in pos:
                farther = [d[a, q] for q in neg if d[a, q] > d[a, p]]
                dn = min(farther) if farther else max(d[a, q] for q in neg)
                hinges.append(torch.relu(d[a, p] - dn + margin))
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
    with pytest.raises(losskit.LossInputError, match="labels"):
        F.batch_triplet(x, torch.zeros(5, dtype=torch.long))
    with pytest.raises(losskit.LossInputError, match="labels"):
        F.batch_triplet(x, torch.zeros(4))
    with pytest.raises(losskit.LossInputError, match="mining"):
        F.batch_triplet(x, torch.zeros(4, dtype=torch.long), mining="hardest")
    with pytest.raises(losskit.LossInputError, match="embeddings"):
        F.batch_triplet(torch.randn(4), torch.zeros(4, dtype=torch.long))


# --- pair and triplet losses -------------------------------------------------------------------


@pytest.mark.parametrize("p,swap", [(2.0, False), (1.0, True), (3.0, True)])
def test_triplet_margin_equals_torch(p, swap):
    g = torch.Generator().manual_seed(0)
    a, pos, neg = (torch.randn(9, 4, generator=g, dtype=torch.float64) for _ in range(3))
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            F.triplet_margin(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction),
            tF.triplet_margin_loss(a, pos, neg, margin=0.7, p=p, swap=swap, reduction=reduction))


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


def test_contrastive_coincident_negative_has_finite_gradient():
    a = torch.ones(2, 3, requires_grad=True)
    out = F.contrastive(a, a.detach().clone(), torch.tensor([False, False]))
    assert out.item() == pytest.approx(0.5)
    (g,) = torch.autograd.grad(out, a)
    assert torch.isfinite(g).all()


# --- softmax-contrastive family and its kernel ---------------------------------------------


@pytest.fixture
def small_blocks(monkeypatch):
    """Force many row blocks so the blockwise code paths really split the matrix."""
    monkeypatch.setattr(contrastive_kernel, "_BLOCK_ELEMENTS", 40)


@pytest.mark.parametrize("symmetric", [True, False])
def test_similarity_logsumexp_matches_full_matrix(small_blocks, symmetric):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(11, 3, generator=g, dtype=torch.float64, requires_grad=True)
    k = q if symmetric else torch.randn(13, 3, generator=g, dtype=torch.float64,
                                        requires_grad=True)
    exclude = torch.arange(11) if symmetric else torch.tensor([0, -1, 2, 12, -1, 5, 6, 7, 8,
                                                                 9, 10])
    ours = similarity_logsumexp(q, k, 2.5, exclude)
    s = 2.5 * q @ k.t()
    rows = torch.nonzero(exclude >= 0).squeeze(1)
    s = s.index_put((rows, exclude[rows]), torch.tensor(float("-inf"), dtype=s.dtype))
    expected = torch.logsumexp(s, dim=1)
    torch.testing.assert_close(ours, expected)
    w = torch.rand(11, generator=g, dtype=torch.float64)
    inputs = (q,) if symmetric else (q, k)
    for a, b in zip(torch.autograd.grad((ours * w).sum(), inputs),
                    torch.autograd.grad((expected * w).sum(), inputs)):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(
        lambda *t: similarity_logsumexp(t[0], t[0] if symmetric else t[1], 2.5, exclude),
        inputs)


def test_nt_xent_matches_pml_ntxent(small_blocks):
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(10, 6, generator=g, dtype=torch.float64, requires_grad=True)
    # pytorch-metric-learning: both views in one batch, the pair index as the label.
    expected = pml_losses.NTXentLoss(temperature=0.3)(torch.cat([z_a, z_b]),
                                                      torch.arange(10).repeat(2))
    ours = F.nt_xent(z_a, z_b, temperature=0.3)
    torch.testing.assert_close(ours, expected)
    for a, b in zip(torch.autograd.grad(ours, (z_a, z_b)),
                    torch.autograd.grad(expected, (z_a, z_b))):
        torch.testing.assert_close(a, b)


def test_nt_xent_has_2n_minus_2_negatives():
    # Hand-worked: z = [e0, e1 | e0, e1], t = 1. Anchor e0 sees its partner (cos 1) and the
    # two e1 views (cos 0): -log(e / (e + 2)).
    z = torch.eye(2)
    expected = torch.log1p(2 / torch.exp(torch.tensor(1.0)))
    torch.testing.assert_close(F.nt_xent(z, z, temperature=1.0), expected)


def test_supcon_matches_pml_including_anchors_without_positives(small_blocks):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(14, 5, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5, 6, 0])  # 2, 4, 6 are singletons
    # PML's SupConLoss uses the L_out form and averages non-zero anchors, which excludes
    # anchors without positives exactly as losskit does.
    expected = pml_losses.SupConLoss(temperature=0.2)(x, labels)
    ours = F.supcon(x, labels, temperature=0.2)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(torch.autograd.grad(ours, x)[0],
                               torch.autograd.grad(expected, x)[0])
    none = F.supcon(x, labels, temperature=0.2, reduction="none")
    assert (none[[5, 8, 12]] == 0).all() and (none[[0, 1, 2]] > 0).all()


def test_supcon_without_positive_pairs_is_zero_not_nan():
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


def test_info_nce_with_extra_negatives_matches_cross_entropy():
    g = torch.Generator().manual_seed(4)
    q = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(9, 5, generator=g, dtype=torch.float64, requires_grad=True)
    # Independent route: logits against [keys; bank], target = own key (torch cross_entropy).
    logits = tF.normalize(q, dim=1) @ tF.normalize(torch.cat([k, bank]), dim=1).t() / 0.2
    expected = tF.cross_entropy(logits, torch.arange(7))
    ours = F.info_nce(q, k, temperature=0.2, negatives=bank)
    torch.testing.assert_close(ours, expected)
    for a, b in zip(torch.autograd.grad(ours, (q, k, bank)),
                    torch.autograd.grad(expected, (q, k, bank))):
        torch.testing.assert_close(a, b)
    with pytest.raises(losskit.LossInputError, match="negatives"):
        F.info_nce(q, k, negatives=torch.randn(3, 4, dtype=torch.float64))


def test_contrastive_family_rejects_bad_temperature():
    x = torch.randn(4, 3)
    for call in (lambda: F.info_nce(x, x, temperature=0.0),
                 lambda: F.nt_xent(x, x, temperature=-1.0),
                 lambda: F.supcon(x, torch.zeros(4, dtype=torch.long), temperature=0.0)):
        with pytest.raises(losskit.LossInputError, match="temperature"):
            call()


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
    # The 2N x 2N matrix has 65,536 elements; only [2N, d] tensors (4,096) may be kept.
    assert _largest_saved_tensor(lambda: F.nt_xent(z_a, z_b)) <= 2 * n * d
    assert _largest_saved_tensor(lambda: F.supcon(z_a, labels)) <= 2 * n * d
    assert _largest_saved_tensor(lambda: F.info_nce(z_a, z_b)) <= 2 * n * d


def test_batch_triplet_memory_is_quadratic_not_cubic():
    x, labels = _labelled(n=64, classes=8, seed=6)
    for mining in ("all", "hard", "semihard"):
        # An [N, N, N] triplet tensor would have 262,144 elements; [N, N + 1] is the limit.
        assert _largest_saved_tensor(lambda m=mining: F.batch_triplet(x, labels, mining=m)) \
            <= 64 * 65
