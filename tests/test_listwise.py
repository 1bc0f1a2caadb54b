"""Listwise ranking losses against their papers' formulas written out here with Python loops
over lists and items (padded lists with masks), scikit-learn's ndcg_score for the limit of
ApproxNDCG, and the flat ``group=`` layout against the padded one."""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit.functional import approx_ndcg, lambdarank, listmle, listnet

LOSSES = [listnet, listmle, lambdarank, approx_ndcg]


def _padded(q=6, length=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(q, length, generator=g, dtype=torch.float64) * 1.5
    relevance = torch.randint(0, 4, (q, length), generator=g).double()
    lengths = torch.randint(2, length + 1, (q,), generator=g)
    lengths[1] = 0                       # an empty list
    relevance[2] = 0.0                   # a list without relevant items
    lengths[3] = 1                       # a single item
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    scores[~mask] = 1e3                  # padding values must not matter
    relevance[~mask] = 9.0
    return scores, relevance, mask


def _items(scores, relevance, mask):
    """The real items of each list as Python float lists."""
    return [([float(v) for v in s[m]], [float(v) for v in y[m]])
            for s, y, m in zip(scores, relevance, mask)]


def _dcg_parts(y):
    gains = [2.0 ** r - 1.0 for r in y]
    ideal = sum(g / math.log2(2 + k) for k, g in enumerate(sorted(gains, reverse=True)))
    return gains, ideal


# Each formula returns the loss of one list, or None where the list does not count.

def _listnet_formula(s, y):
    # Cao et al. 2007: cross-entropy of the top-one probabilities P(i) = exp(x_i) / sum exp.
    if not s:
        return None
    zs, zy = sum(math.exp(v) for v in s), sum(math.exp(v) for v in y)
    return -sum(math.exp(b) / zy * math.log(math.exp(a) / zs) for a, b in zip(s, y))


def _listmle_formula(s, y):
    # Xia et al. 2008: -log prod_k exp(s_pi(k)) / sum_{m >= k} exp(s_pi(m)), pi by relevance.
    if not s:
        return None
    order = sorted(range(len(y)), key=lambda i: -y[i])
    return sum(math.log(sum(math.exp(s[j]) for j in order[k:])) - s[order[k]]
               for k in range(len(order)))


def _lambdarank_formula(s, y):
    gains, ideal = _dcg_parts(y)
    if ideal <= 0:
        return None
    rank = {i: k + 1 for k, i in enumerate(sorted(range(len(s)), key=lambda i: -s[i]))}
    total = 0.0
    for i in range(len(s)):
        for j in range(len(s)):
            if y[i] > y[j]:
                delta = abs(gains[i] - gains[j]) * abs(1 / math.log2(1 + rank[i])
                                                       - 1 / math.log2(1 + rank[j])) / ideal
                total += delta * math.log1p(math.exp(-(s[i] - s[j])))
    return total


def _approx_ndcg_formula(s, y, temperature=1.0):
    # Qin, Liu & Li 2010: pi(i) = 1 + sum_{j != i} sigmoid(-(s_i - s_j) / T).
    gains, ideal = _dcg_parts(y)
    if ideal <= 0:
        return None
    dcg = 0.0
    for i in range(len(s)):
        rank = 1 + sum(1 / (1 + math.exp((s[i] - s[j]) / temperature))
                       for j in range(len(s)) if j != i)
        dcg += gains[i] / math.log2(1 + rank)
    return 1 - dcg / ideal


FORMULAS = {listnet: _listnet_formula, listmle: _listmle_formula,
            lambdarank: _lambdarank_formula, approx_ndcg: _approx_ndcg_formula}


@pytest.mark.parametrize("fn", LOSSES, ids=lambda f: f.__name__)
def test_padded_lists_with_masks_equal_the_formula(fn):
    scores, relevance, mask = _padded()
    per_list = [FORMULAS[fn](s, y) for s, y in _items(scores, relevance, mask)]
    counted = [v for v in per_list if v is not None]
    none = fn(scores, relevance, mask=mask, reduction="none")
    torch.testing.assert_close(none, torch.tensor([0.0 if v is None else v for v in per_list],
                                                  dtype=torch.float64))
    assert fn(scores, relevance, mask=mask, reduction="sum").item() == pytest.approx(
        sum(counted), rel=1e-12)
    assert fn(scores, relevance, mask=mask).item() == pytest.approx(
        sum(counted) / len(counted), rel=1e-12)


@pytest.mark.parametrize("fn", LOSSES, ids=lambda f: f.__name__)
def test_padding_gets_no_gradient_and_empty_selections_give_zero(fn):
    scores, relevance, mask = _padded(seed=1)
    x = scores.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x, relevance, mask=mask), x)
    assert torch.isfinite(grad).all() and not grad[~mask].any()
    # every item masked, no list at all, and a flat input without rows
    for args, kw in [((x, relevance), {"mask": torch.zeros_like(mask)}),
                     ((torch.zeros(0, 5, dtype=torch.float64, requires_grad=True),
                       torch.zeros(0, 5)), {}),
                     ((torch.zeros(0, dtype=torch.float64, requires_grad=True),
                       torch.zeros(0)), {"group": torch.zeros(0, dtype=torch.long)})]:
        out = fn(*args, **kw)
        assert out.item() == 0.0
        (g,) = torch.autograd.grad(out, args[0])
        assert not g.any()


def _flatten(scores, relevance, mask, seed=0):
    """The real items of padded lists as flat rows with arbitrary group ids, the groups
    interleaved at random but each keeping its items' order (listmle breaks relevance ties
    by position, so the order within a list is part of the input)."""
    ids = torch.tensor([40, 7, 13, 2, 99, 5])[: scores.shape[0]]
    rows = [(float(s), float(y), int(ids[q]), q, k)
            for q in range(scores.shape[0]) for k in range(scores.shape[1])
            if mask[q, k] for s, y in [(scores[q, k], relevance[q, k])]]
    perm = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    slots = [rows[i][3] for i in perm]  # a random interleaving of the lists' rows
    queues = {q: [r for r in rows if r[3] == q] for q in set(slots)}
    rows = [queues[q].pop(0) for q in slots]
    flat = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    rel = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    group = torch.tensor([r[2] for r in rows])
    where = [(r[3], r[4]) for r in rows]
    return flat, rel, group, where


@pytest.mark.parametrize("fn", LOSSES, ids=lambda f: f.__name__)
def test_group_ids_equal_the_padded_lists(fn):
    scores, relevance, mask = _padded(seed=2)
    flat, rel, group, where = _flatten(scores, relevance, mask)
    padded_x = scores.clone().requires_grad_(True)
    flat_x = flat.clone().requires_grad_(True)
    for reduction in ("mean", "sum"):
        for width in (None, 7):
            expected = fn(padded_x, relevance, mask=mask, reduction=reduction)
            got = fn(flat_x, rel, group=group, max_list_size=width, reduction=reduction)
            torch.testing.assert_close(got, expected)
            (g_flat,) = torch.autograd.grad(got, flat_x)
            (g_pad,) = torch.autograd.grad(expected, padded_x)
            torch.testing.assert_close(g_flat, torch.stack([g_pad[q, k] for q, k in where]))
    # "none": one entry per list in increasing group-id order, then empty lists
    none = fn(flat, rel, group=group, reduction="none")
    by_id = fn(scores, relevance, mask=mask, reduction="none")[
        torch.argsort(torch.tensor([40, 7, 13, 2, 99, 5]))]
    present = [i for i in range(6) if mask[torch.argsort(torch.tensor([40, 7, 13, 2, 99, 5]))
                                           [i]].any()]
    torch.testing.assert_close(none[: len(present)], by_id[present])
    assert not none[len(present):].any()


def test_group_ids_with_a_mask_drop_the_masked_rows():
    scores, relevance, mask = _padded(seed=8)
    flat, rel, group, _ = _flatten(scores, relevance, mask)
    keep = torch.rand(len(flat), generator=torch.Generator().manual_seed(9)) > 0.3
    for fn in LOSSES:
        torch.testing.assert_close(fn(flat, rel, group=group, mask=keep),
                                   fn(flat[keep], rel[keep], group=group[keep]))


def test_group_layout_is_sync_free_under_compile_and_checks_the_width():
    scores, relevance, mask = _padded(seed=3)
    flat, rel, group, _ = _flatten(scores, relevance, mask)
    # fullgraph: the conversion to padded lists reads no data (no graph break, no sync)
    compiled = torch.compile(lambda x, y, g: listmle(x, y, group=g, max_list_size=7),
                             backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(flat, rel, group), listmle(scores, relevance, mask=mask))
    with pytest.raises(losskit.LossInputError, match="max_list_size"):
        listnet(flat, rel, group=group, max_list_size=3)
    with pytest.raises(losskit.LossInputError, match="max_list_size"):
        lambdarank(torch.zeros(1000), torch.zeros(1000), group=torch.zeros(1000, dtype=torch.long))


def test_lambdarank_gradient_is_the_lambdas():
    # Burges 2010: lambda_ij = -|delta NDCG_ij| sigmoid(-(s_i - s_j)) for rel_i > rel_j, with
    # lambda_i = sum_j lambda_ij - sum_j lambda_ji; the loss's gradient is exactly that.
    s = torch.tensor([[0.3, 1.2, -0.4, 0.9]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[2.0, 0.0, 1.0, 3.0]], dtype=torch.float64)
    (grad,) = torch.autograd.grad(lambdarank(s, y), s)
    sv, yv = s[0].tolist(), y[0].tolist()
    gains, ideal = _dcg_parts(yv)
    rank = {i: k + 1 for k, i in enumerate(sorted(range(4), key=lambda i: -sv[i]))}
    lam = [0.0] * 4
    for i in range(4):
        for j in range(4):
            if yv[i] > yv[j]:
                delta = abs(gains[i] - gains[j]) * abs(1 / math.log2(1 + rank[i])
                                                       - 1 / math.log2(1 + rank[j])) / ideal
                pull = delta / (1 + math.exp(sv[i] - sv[j]))
                lam[i] -= pull
                lam[j] += pull
    torch.testing.assert_close(grad[0], torch.tensor(lam, dtype=torch.float64))


def test_approx_ndcg_tends_to_one_minus_sklearn_ndcg_as_temperature_shrinks():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(4)
    scores = torch.randn(5, 8, generator=g, dtype=torch.float64) * 3
    relevance = torch.randint(0, 4, (5, 8), generator=g).double()
    relevance[:, 0] = 1.0
    # scikit-learn's DCG takes y_true as the gains, so give it 2^rel - 1.
    gains = (2 ** relevance - 1).numpy()
    for q in range(5):
        ndcg = sklearn_metrics.ndcg_score(gains[q: q + 1], scores[q: q + 1].numpy())
        ours = approx_ndcg(scores[q: q + 1], relevance[q: q + 1], temperature=1e-4).item()
        assert ours == pytest.approx(1 - ndcg, abs=1e-9)


def test_approx_ndcg_learnable_temperature_gradcheck():
    scores, relevance, mask = _padded(q=4, length=4, seed=5)
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    x = scores.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t, x: approx_ndcg(x, relevance, mask=mask, temperature=t), (t, x))


def test_integer_relevance_and_weights_per_list():
    scores, relevance, mask = _padded(seed=6)
    w = torch.rand(6, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    for fn in LOSSES:
        torch.testing.assert_close(fn(scores, relevance.long(), mask=mask),
                                   fn(scores, relevance, mask=mask))
        none = fn(scores, relevance, mask=mask, reduction="none")
        torch.testing.assert_close(fn(scores, relevance, mask=mask, weight=w, reduction="sum"),
                                   (none * w).sum())


def test_listwise_inputs_are_checked():
    x = torch.zeros(2, 3)
    with pytest.raises(losskit.LossInputError, match="mask"):
        listnet(x, x, mask=torch.ones(2, 3))
    with pytest.raises(losskit.LossInputError, match="same shape"):
        listmle(x, torch.zeros(2, 4))
    with pytest.raises(losskit.LossInputError, match="group"):
        lambdarank(torch.zeros(3), torch.zeros(3), group=torch.zeros(3))
    with pytest.raises(losskit.LossInputError, match="max_list_size"):
        approx_ndcg(x, x, max_list_size=3)
    with pytest.raises(losskit.LossInputError, match="temperature"):
        approx_ndcg(x, x, temperature=0.0)


@pytest.mark.parametrize("name", ["listnet", "listmle", "lambdarank", "approx_ndcg"])
def test_negative_grades_are_refused_unless_masked_out(name):
    # allRank pads lists with relevance -1: without mask= such an item would count, with a
    # gain of 2^-1 - 1, and change the loss silently (listnet 1.80 against 0.84 masked).
    fn = losskit.info(name).fn
    scores = torch.tensor([[0.3, -0.2, 1.1, 0.5]], dtype=torch.float64)
    relevance = torch.tensor([[2.0, 0.0, 1.0, -1.0]], dtype=torch.float64)
    with pytest.raises(losskit.LossInputError, match="pass mask= to leave padding"):
        fn(scores, relevance)
    mask = relevance >= 0
    torch.testing.assert_close(fn(scores, relevance, mask=mask),
                               fn(scores[:, :3], relevance[:, :3]))
