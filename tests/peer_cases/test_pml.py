"""pytorch-metric-learning's own test cases, transcribed and run against losskit.

Source: https://github.com/KevinMusgrave/pytorch-metric-learning at commit 216a792 (the
2.x line; the installed package is 2.9). Each case names the file and test it comes from.
Inputs are transcribed (angles, labels, index lists, margins, temperatures); where a PML
test draws random inputs without a seed, a seed is fixed here. Expected values are the
PML test's own procedure (its loops over pairs and triplets, written out again here) or,
where the PML test compares against PML's functions, those functions called on the same
inputs. PML runs each case in float16/32/64 on CUDA; here float32 and float64 on the CPU.

Every case has an outcome in ``OUTCOMES``:

* ``agree``: losskit's public call gives PML's number (rtol 1e-5, PML's own tolerance);
* ``documented``: a convention difference, described in the loss's card and asserted here
  as such (what losskit gives, and how PML's number follows from it);
* ``cannot run``: losskit lacks the option (none left).

Not transcribed, because batch_triplet has no counterpart to test: the TripletMarginMiner
tests (it filters all triplets by a margin band; batch_triplet's "semihard" is FaceNet's)
and the BatchEasyHardMiner strategies other than hard/hard.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as tF

import losskit.functional as F

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

SRC = "KevinMusgrave/pytorch-metric-learning@216a792"
DTYPES = (torch.float32, torch.float64)
RTOL = 1e-5

OUTCOMES: dict[str, str] = {}


def outcome(case: str, kind: str) -> None:
    assert kind in ("agree", "documented", "cannot run")
    OUTCOMES[case] = kind


def angle_to_coord(angle, normalized=False):
    """tests/zzz_testing_utils/testing_utils.py: angle_to_coord."""
    x, y = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    if not normalized:
        x, y = x * 2, y * 0.5
    return x, y


def _angles(angles, dtype, normalized=False):
    return torch.tensor([angle_to_coord(a, normalized) for a in angles], dtype=dtype,
                        requires_grad=True)


def _close(ours, expected, dtype):
    torch.testing.assert_close(ours, torch.as_tensor(expected, dtype=ours.dtype), rtol=RTOL,
                               atol=1e-7 if dtype == torch.float64 else 1e-6)


# --- tests/losses/test_contrastive_loss.py ---------------------------------------------------

_CONTRASTIVE_POS = [(0, 1), (1, 0), (2, 3), (3, 2)]
_CONTRASTIVE_NEG = [(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1), (2, 4),
                    (3, 0), (3, 1), (3, 4), (4, 0), (4, 1), (4, 2), (4, 3)]


def _pairs(x, pos, neg):
    i = torch.tensor([a for a, _ in pos + neg])
    j = torch.tensor([b for _, b in pos + neg])
    same = torch.tensor([True] * len(pos) + [False] * len(neg))
    return x[i], x[j], same


@pytest.mark.parametrize("dtype", DTYPES)
def test_contrastive_loss(dtype):
    """test_contrastive_loss.py::TestContrastiveLoss::test_contrastive_loss.

    PML: A = ContrastiveLoss(pos_margin=0.25, neg_margin=1.5, LpDistance(power=2)),
    B = ContrastiveLoss(pos_margin=1.5, neg_margin=0.6, CosineSimilarity()), C and D the
    same with MeanReducer, on every pair of a labelled batch. Per pair losskit's margins
    form gives PML's loss exactly. PML then averages the positive and the negative pairs
    separately and adds the two means (C, D: plain means; A, B: over the non-zero ones).
    C and D are a losskit call with per-pair weights 1/#pos and 1/#neg and "sum" (agree);
    A and B divide by counts of non-zero losses, which losskit's "mean" does not do
    (documented in contrastive's card).
    """
    x = _angles([0, 20, 40, 60, 80], dtype)
    xn = tF.normalize(x)  # PML's distances normalize the embeddings; losskit's do not
    a, b, same = _pairs(xn, _CONTRASTIVE_POS, _CONTRASTIVE_NEG)
    # The PML test's expected values, written out: relu(d^2 - 0.25), relu(1.5 - d^2) for A/C;
    # relu(1.5 - cos), relu(cos - 0.6) for B/D (similarity margins).
    sq = (a - b).square().sum(1)
    cos = (a * b).sum(1)
    per_pair = {"A": torch.where(same, torch.relu(sq - 0.25), torch.relu(1.5 - sq)),
                "B": torch.where(same, torch.relu(1.5 - cos), torch.relu(cos - 0.6))}
    ours = {"A": F.contrastive(a, b, same, pos_margin=0.25, neg_margin=1.5,
                               distance="squared_euclidean", reduction="none"),
            # cosine-distance margins: 1 - 1.5 and 1 - 0.6
            "B": F.contrastive(a, b, same, pos_margin=1 - 1.5, neg_margin=1 - 0.6,
                               distance="cosine", reduction="none")}
    n_pos, n_neg = len(_CONTRASTIVE_POS), len(_CONTRASTIVE_NEG)
    for key in ("A", "B"):
        _close(ours[key], per_pair[key], dtype)

        def nonzero_mean(v):
            return v[v > 0].mean() if (v > 0).any() else v.sum() * 0

        expected_avg_nonzero = nonzero_mean(per_pair[key][same]) + nonzero_mean(
            per_pair[key][~same])
        _close(nonzero_mean(ours[key][same]) + nonzero_mean(ours[key][~same]),
               expected_avg_nonzero, dtype)
        outcome(f"test_contrastive_loss::{key}[{dtype}]", "documented")
        # C / D: MeanReducer per group, reproduced with weights
        w = torch.where(same, 1.0 / n_pos, 1.0 / n_neg).to(dtype)
        kw = (dict(pos_margin=0.25, neg_margin=1.5, distance="squared_euclidean") if key == "A"
              else dict(pos_margin=-0.5, neg_margin=0.4, distance="cosine"))
        expected_mean = per_pair[key][same].mean() + per_pair[key][~same].mean()
        _close(F.contrastive(a, b, same, weight=w, reduction="sum", **kw), expected_mean, dtype)
        outcome(f"test_contrastive_loss::{'C' if key == 'A' else 'D'}[{dtype}]", "agree")
    # and PML itself on the same inputs
    pml_a = pml_losses.ContrastiveLoss(pos_margin=0.25, neg_margin=1.5,
                                       distance=pml_distances.LpDistance(power=2))(
        x, torch.tensor([0, 0, 1, 1, 2]))
    _close(pml_a, nonzero_mean(per_pair["A"][same]) + nonzero_mean(per_pair["A"][~same]), dtype)


def test_contrastive_loss_with_no_valid_pairs_and_backward():
    """test_contrastive_loss.py::TestContrastiveLoss::test_with_no_valid_pairs and
    ::test_backward: one embedding, so no pair: the loss is 0 and backward runs."""
    for dtype in DTYPES:
        x = _angles([0], dtype)
        empty = x[:0]
        for kw in ({}, {"distance": "cosine"}):
            loss = F.contrastive(empty, empty, torch.zeros(0, dtype=torch.bool), **kw)
            assert loss.item() == 0
            loss.backward()
            outcome(f"test_with_no_valid_pairs+test_backward::{kw or 'default'}[{dtype}]",
                    "agree")


# --- tests/losses/test_triplet_margin_loss.py ------------------------------------------------

_TRIPLETS = [(0, 1, 2), (0, 1, 3), (0, 1, 4), (1, 0, 2), (1, 0, 3), (1, 0, 4),
             (2, 3, 0), (2, 3, 1), (2, 3, 4), (3, 2, 0), (3, 2, 1), (3, 2, 4)]
# tests/losses/utils.py: get_triplet_embeddings_with_ref
_REF_TRIPLETS = [(0, 0, 1), (0, 0, 2), (1, 0, 1), (1, 0, 2), (2, 1, 0), (2, 1, 2),
                 (3, 1, 0), (3, 1, 2)]


def _triplet_expected(emb, triplets, ref=None, margin=0.2):
    """The PML test's helper loop."""
    correct, correct_cos, smooth, nz, nz_cos = 0, 0, 0, 0, 0
    for a, p, n in triplets:
        anchor = emb[a]
        positive, negative = (emb[p], emb[n]) if ref is None else (ref[p], ref[n])
        ap = torch.sqrt(torch.sum((anchor - positive) ** 2))
        an = torch.sqrt(torch.sum((anchor - negative) ** 2))
        loss = torch.relu(ap - an + margin)
        loss_cos = torch.relu(torch.sum(anchor * negative) - torch.sum(anchor * positive)
                              + margin)
        smooth = smooth + tF.softplus(ap - an + margin)
        nz += int(loss > 0)
        nz_cos += int(loss_cos > 0)
        correct = correct + loss
        correct_cos = correct_cos + loss_cos
    k = len(triplets)
    return {"A": correct / nz, "B": correct / k, "C": correct_cos / nz_cos,
            "D": correct_cos / k, "E": smooth / k}


_TRIPLET_CALLS = {  # PML's A..E and the losskit call for each
    "A": dict(average="nonzero"), "B": dict(average="valid"),
    "C": dict(distance="cosine", average="nonzero"), "D": dict(distance="cosine"),
    "E": dict(smooth_loss=True, average="nonzero"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_ref", [False, True], ids=["batch", "with_ref"])
def test_triplet_margin_loss(dtype, with_ref):
    """test_triplet_margin_loss.py::TestTripletMarginLoss::test_triplet_margin_loss and
    ::test_triplet_margin_loss_with_ref (unseeded torch.randn there; seed 0 and 1 here).
    A: TripletMarginLoss(margin=0.2), B: with MeanReducer, C / D: CosineSimilarity, E:
    smooth_loss=True; embeddings already normalized."""
    torch.manual_seed(1 if with_ref else 0)
    ref = ref_labels = None
    if with_ref:
        emb = tF.normalize(torch.randn(4, 32, dtype=dtype, requires_grad=True))
        labels = torch.tensor([0, 0, 1, 1])
        ref = tF.normalize(torch.randn(3, 32, dtype=dtype, requires_grad=True))
        ref_labels = torch.tensor([0, 1, 2])
        expected = _triplet_expected(emb, _REF_TRIPLETS, ref)
    else:
        emb = tF.normalize(torch.randn(5, 32, dtype=dtype, requires_grad=True))
        labels = torch.tensor([0, 0, 1, 1, 2])
        expected = _triplet_expected(emb, _TRIPLETS)
    for key, kw in _TRIPLET_CALLS.items():
        ours = F.batch_triplet(emb, labels, margin=0.2, ref_emb=ref, ref_labels=ref_labels, **kw)
        _close(ours, expected[key], dtype)
        outcome(f"test_triplet_margin_loss{'_with_ref' if with_ref else ''}::{key}[{dtype}]",
                "agree")


def test_triplet_margin_loss_with_no_valid_triplets_and_backward():
    """test_triplet_margin_loss.py::TestTripletMarginLoss::test_with_no_valid_triplets
    (every label distinct: 0 for A and B) and ::test_backward (labels [0, 0, 1, 1, 2], A, B
    and TripletMarginLoss(smooth_loss=True) with its default margin 0.05: backward runs)."""
    for dtype in DTYPES:
        x = _angles([0, 20, 40, 60, 80], dtype)
        for key in ("A", "B"):
            loss = F.batch_triplet(x, torch.arange(5), margin=0.2, **_TRIPLET_CALLS[key])
            assert loss.item() == 0
            outcome(f"test_with_no_valid_triplets::{key}[{dtype}]", "agree")
        for key, kw in (("A", dict(margin=0.2, average="nonzero")), ("B", dict(margin=0.2)),
                        ("C", dict(margin=0.05, smooth_loss=True, average="nonzero"))):
            x.grad = None
            F.batch_triplet(x, torch.tensor([0, 0, 1, 1, 2]), **kw).backward()
            assert torch.isfinite(x.grad).all()
            outcome(f"test_triplet_margin_loss::test_backward::{key}[{dtype}]", "agree")


# --- tests/losses/test_ntxent_loss.py ----------------------------------------------------------

_NTX_POS = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)]
_NTX_NEG = [(0, 3), (0, 4), (0, 5), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5), (3, 0),
            (3, 1), (3, 2), (3, 5), (4, 0), (4, 1), (4, 2), (4, 5), (5, 0), (5, 1), (5, 2),
            (5, 3), (5, 4)]
# tests/losses/utils.py: get_pair_embeddings_with_ref
_REF_POS = [(0, 0), (1, 0), (2, 1), (3, 1)]
_REF_NEG = [(0, 1), (0, 2), (1, 1), (1, 2), (2, 0), (2, 2), (3, 0), (3, 2)]


def _ntxent_expected(emb, pos_pairs, neg_pairs, ref, pos_per_anchor, t=0.1):
    """The PML test's helper loop: A/B NT-Xent (cosine / Lp), C per-anchor NT-Xent, D/E SupCon."""
    n = len(pos_per_anchor)
    total_a = total_b = 0
    total_c = torch.zeros(n, dtype=emb.dtype)
    total_d = torch.zeros(n, dtype=emb.dtype)
    total_e = torch.zeros(n, dtype=emb.dtype)
    for a1, p in pos_pairs:
        anchor = emb[a1]
        positive = emb[p] if ref is None else ref[p]
        num_a = torch.exp(torch.matmul(anchor, positive) / t)
        num_b = torch.exp(-torch.sqrt(torch.sum((anchor - positive) ** 2)) / t)
        den_a, den_b, den_d, den_e = num_a.clone(), num_b.clone(), 0, 0
        for a2, other in pos_pairs + neg_pairs:
            if a2 != a1:
                continue
            negative = emb[other] if ref is None else ref[other]
            d_d = torch.exp(torch.matmul(anchor, negative) / t)
            d_e = torch.exp(-torch.sqrt(torch.sum((anchor - negative) ** 2)) / t)
            den_d, den_e = den_d + d_d, den_e + d_e
            if (a2, other) not in pos_pairs:
                den_a, den_b = den_a + d_d, den_b + d_e
        total_a = total_a - torch.log(num_a / den_a)
        total_b = total_b - torch.log(num_b / den_b)
        total_c[a1] += -torch.log(num_a / den_a)
        total_d[a1] += -torch.log(num_a / den_d)
        total_e[a1] += -torch.log(num_b / den_e)
    k = torch.tensor(pos_per_anchor, dtype=emb.dtype)
    return {"A": total_a / len(pos_pairs), "B": total_b / len(pos_pairs),
            "C": torch.mean(total_c / k), "D": torch.mean(total_d / k),
            "E": torch.mean(total_e / k)}


def _ntxent_calls(emb, labels, ref, ref_labels):
    r = dict(ref_emb=ref, ref_labels=ref_labels)
    return {
        "A": lambda: F.nt_xent(emb, labels=labels, temperature=0.1, **r),
        "B": lambda: F.nt_xent(emb, labels=labels, temperature=0.1, distance="euclidean", **r),
        "C": lambda: F.nt_xent(emb, labels=labels, temperature=0.1, average="anchor", **r),
        "D": lambda: F.supcon(emb, labels, temperature=0.1, **r),
        "E": lambda: F.supcon(emb, labels, temperature=0.1, distance="euclidean", **r),
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_ntxent_loss(dtype):
    """test_ntxent_loss.py::TestNTXentLoss::test_ntxent_loss: normalized 2-D embeddings at
    angles [0, 10, 20, 50, 60, 80], labels [0, 0, 0, 1, 1, 2], temperature 0.1. A:
    NTXentLoss, B: NTXentLoss(LpDistance()), C: NTXentLoss(PerAnchorReducer(
    AvgNonZeroReducer())), D: SupConLoss, E: SupConLoss(LpDistance())."""
    emb = _angles([0, 10, 20, 50, 60, 80], dtype, normalized=True)
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    expected = _ntxent_expected(emb, _NTX_POS, _NTX_NEG, None, [2, 2, 2, 1, 1])
    # PML's per-anchor arrays have 5 entries (anchor 5 has no positive, and is dropped).
    for key, call in _ntxent_calls(emb, labels, None, None).items():
        _close(call(), expected[key], dtype)
        outcome(f"test_ntxent_loss::{key}[{dtype}]", "agree")


@pytest.mark.parametrize("dtype", DTYPES)
def test_ntxent_loss_with_ref(dtype):
    """test_ntxent_loss.py::TestNTXentLoss::test_ntxent_loss_with_ref (torch.manual_seed(139),
    inputs of tests/losses/utils.py: get_pair_embeddings_with_ref)."""
    torch.manual_seed(139)
    emb = tF.normalize(torch.randn(4, 32, dtype=dtype, requires_grad=True))
    labels = torch.tensor([0, 0, 1, 1])
    ref = tF.normalize(torch.randn(3, 32, dtype=dtype, requires_grad=True))
    ref_labels = torch.tensor([0, 1, 2])
    expected = _ntxent_expected(emb, _REF_POS, _REF_NEG, ref, [1, 1, 1, 1])
    for key, call in _ntxent_calls(emb, labels, ref, ref_labels).items():
        _close(call(), expected[key], dtype)
        outcome(f"test_ntxent_loss_with_ref::{key}[{dtype}]", "agree")


@pytest.mark.parametrize("dtype", DTYPES)
def test_ntxent_supcon_with_no_valid_pairs_and_backward(dtype):
    """test_ntxent_loss.py::TestNTXentLoss::test_with_no_valid_pairs (expected 0) and
    ::test_backward (angles [0, 20, 40, 60, 80], labels [0, 0, 1, 1, 2]: backward runs),
    for NTXentLoss and SupConLoss, with CosineSimilarity and LpDistance, temperature 0.1.

    One configuration differs by convention: a batch of one class ([0, 0, 0], no negative
    at all). PML returns 0 for any batch without a negative pair; losskit's supcon computes
    Khosla et al.'s L_out, which is log 2 per anchor when the two positives are equally
    similar and is not 0 here (documented in supcon's card). nt_xent is 0 there (each
    positive pair's denominator holds only itself).
    """
    cases = [([0], [0]), ([0, 10, 20], [0, 0, 0]), ([0, 40, 60], [1, 2, 3])]
    for name in ("nt_xent", "supcon"):
        for distance in ("cosine", "euclidean"):
            for angles, labels in cases:
                emb = _angles(angles, dtype)
                y = torch.tensor(labels)
                if name == "nt_xent":
                    loss = F.nt_xent(emb, labels=y, temperature=0.1, distance=distance)
                else:
                    loss = F.supcon(emb, y, temperature=0.1, distance=distance)
                loss.backward()
                case = f"test_with_no_valid_pairs::{name}-{distance}-{labels}[{dtype}]"
                if name == "supcon" and labels == [0, 0, 0]:
                    # L_out over three positives and no negative: > 0, where PML gives 0.
                    assert loss.item() > 0.5
                    pml = pml_losses.SupConLoss(0.1, **(
                        {} if distance == "cosine" else {"distance": pml_distances.LpDistance()})
                                                )(emb, y)
                    assert pml.item() == 0
                    outcome(case, "documented")
                else:
                    assert loss.item() == 0
                    outcome(case, "agree")
            emb = _angles([0, 20, 40, 60, 80], dtype)
            fn = F.nt_xent if name == "nt_xent" else F.supcon
            y = torch.tensor([0, 0, 1, 1, 2])
            (fn(emb, labels=y, temperature=0.1, distance=distance) if name == "nt_xent"
             else fn(emb, y, temperature=0.1, distance=distance)).backward()
            assert torch.isfinite(emb.grad).all()
            outcome(f"test_ntxent_loss::test_backward::{name}-{distance}[{dtype}]", "agree")


# --- tests/losses/test_self_supervised_loss.py ---------------------------------------------


@pytest.mark.parametrize("symmetric", [True, False], ids=["symmetric", "asymmetric"])
def test_ssl_wrapper_all(symmetric):
    """test_self_supervised_loss.py::TestSelfSupervisedLoss::test_ssl_wrapper_all, for the
    losses losskit has: NTXentLoss(), SupConLoss(), TripletMarginLoss(), ContrastiveLoss()
    with their defaults, on 100 normalized 256-d embeddings and their references, labels
    arange(100). The PML test's expectation is PML's loss called on the concatenated views
    (symmetric) or with ref_emb / ref_labels; that is called here too (float32, seed 0)."""
    torch.manual_seed(0)
    emb = tF.normalize(torch.randn(100, 256, requires_grad=True))
    ref = tF.normalize(torch.randn(100, 256, requires_grad=True))
    labels = torch.arange(100)
    if symmetric:
        pml_args, pml_kw = (torch.cat([emb, ref]), torch.cat([labels, labels])), {}
    else:
        # labels.clone() as in the PML test: PML drops the diagonal when ref_labels is labels
        pml_args, pml_kw = (emb, labels), dict(ref_emb=ref, ref_labels=labels.clone())
    both, y2 = torch.cat([emb, ref]), labels.repeat(2)
    r = {} if symmetric else dict(ref_emb=ref, ref_labels=labels)
    ours = {
        "NTXentLoss": (F.nt_xent(emb, ref, temperature=0.07) if symmetric
                       else F.nt_xent(emb, labels=labels, temperature=0.07, **r)),
        "SupConLoss": (F.supcon(both, y2, temperature=0.1) if symmetric
                       else F.supcon(emb, labels, temperature=0.1, **r)),
        "TripletMarginLoss": (F.batch_triplet(both, y2, margin=0.05, average="nonzero")
                              if symmetric else
                              F.batch_triplet(emb, labels, margin=0.05, average="nonzero", **r)),
    }
    for name, value in ours.items():
        expected = getattr(pml_losses, name)()(*pml_args, **pml_kw)
        _close(value, expected, torch.float32)
        outcome(f"test_ssl_wrapper_all::{name}-{'sym' if symmetric else 'asym'}", "agree")
    if not symmetric:  # the asymmetric NT-Xent is InfoNCE (key i is query i's positive)
        _close(F.info_nce(emb, ref, temperature=0.07),
               pml_losses.NTXentLoss()(*pml_args, **pml_kw), torch.float32)
    # ContrastiveLoss(): every pair of the batch (or against the references), linear hinges
    # with pos_margin 0 and neg_margin 1 on Euclidean distances, positive and negative pairs
    # averaged separately over the non-zero losses and added: a documented difference.
    q, refs = (both, both) if symmetric else (emb, ref)
    ql, rl = (y2, y2) if symmetric else (labels, labels)
    i, j = torch.meshgrid(torch.arange(len(q)), torch.arange(len(refs)), indexing="ij")
    keep = (i != j) if symmetric else torch.ones_like(i, dtype=torch.bool)
    i, j = i[keep], j[keep]
    same = ql[i] == rl[j]
    per_pair = F.contrastive(q[i], refs[j], same, pos_margin=0.0, neg_margin=1.0,
                             reduction="none")

    def nonzero_mean(v):
        return v[v > 0].mean() if (v > 0).any() else v.sum() * 0

    _close(nonzero_mean(per_pair[same]) + nonzero_mean(per_pair[~same]),
           pml_losses.ContrastiveLoss()(*pml_args, **pml_kw), torch.float32)
    outcome(f"test_ssl_wrapper_all::ContrastiveLoss-{'sym' if symmetric else 'asym'}",
            "documented")


# --- tests/miners/test_batch_hard_miner.py, test_batch_easy_hard_miner.py -----------------

_MINER_LABELS = torch.tensor([0, 0, 1, 1, 0, 2, 1, 1, 1])
_HARD_A = [0, 1, 2, 3, 4, 6, 7, 8]
_HARD_P = [4, 4, 8, 8, 0, 2, 2, 2]
_HARD_N = [2, 2, 1, 4, 3, 5, 5, 5]  # (the PML test also accepts a tie: 5 for anchor 4)
_MINER_CASES = {
    # case: (embeddings, batch_triplet options, the test's distance between rows)
    "test_batch_hard_miner.py::test_dist_mining":
        ("arange", {}, lambda u, v: (u - v).norm()),
    "test_batch_easy_hard_miner.py::test_dist_mining[batch_hard_hard]":
        ("arange", {}, lambda u, v: (u - v).norm()),
    "test_batch_hard_miner.py::test_normalized_dist_mining":
        ("angles", {}, lambda u, v: (u - v).norm()),
    "test_batch_hard_miner.py::test_normalized_dist_squared_mining":
        ("angles", {"squared": True}, lambda u, v: (u - v).square().sum()),
    "test_batch_hard_miner.py::test_sim_mining":
        ("angles", {"distance": "cosine"}, lambda u, v: 1 - u @ v),
}


@pytest.mark.parametrize("case", list(_MINER_CASES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_miner(case, dtype):
    """BatchHardMiner (and BatchEasyHardMiner(HARD, HARD)) mine, per anchor with a positive,
    the farthest positive and the nearest negative: batch_triplet(mining="hard"). With a
    margin of 10 every hinge is active, so each anchor's loss is D[a, p] - D[a, n] + 10 for
    the test's expected (a, p, n); anchor 5 (alone in its class) has none. LpDistance
    (normalize_embeddings=True) and CosineSimilarity normalize: the embeddings are the
    normalized coordinates, as in those tests."""
    kind, kw, dist = _MINER_CASES[case]
    if kind == "arange":
        emb = torch.arange(9, dtype=dtype).unsqueeze(1)
    else:
        emb = _angles([0, 20, 40, 60, 80, 100, 120, 140, 160], dtype, normalized=True).detach()
    per_anchor = F.batch_triplet(emb, _MINER_LABELS, mining="hard", margin=10.0,
                                 reduction="none", **kw)
    expected = torch.zeros(9, dtype=dtype)
    for a, p, n in zip(_HARD_A, _HARD_P, _HARD_N):
        expected[a] = dist(emb[a], emb[p]) - dist(emb[a], emb[n]) + 10.0
    _close(per_anchor, expected, dtype)
    outcome(f"{case}[{dtype}]", "agree")


def test_batch_hard_miner_empty_output():
    """test_batch_hard_miner.py::TestBatchHardMiner::test_empty_output: labels arange(32),
    no triplet for any of the four distances: losskit's loss is 0 (and so is every anchor)."""
    torch.manual_seed(0)
    for dtype in DTYPES:
        emb = torch.randn(32, 64, dtype=dtype)
        for kw in ({}, {"squared": True}, {"distance": "cosine"}):
            none = F.batch_triplet(emb, torch.arange(32), mining="hard", reduction="none", **kw)
            assert (none == 0).all()
            assert F.batch_triplet(emb, torch.arange(32), mining="hard", **kw).item() == 0
            outcome(f"test_batch_hard_miner.py::test_empty_output::{kw or 'dist'}[{dtype}]",
                    "agree")


def test_outcome_counts():
    """Runs last (pytest keeps file order): every case above reported its outcome."""
    if len(OUTCOMES) < 118:
        pytest.skip("the outcomes are counted when the whole module runs")
    counts = Counter(OUTCOMES.values())
    assert counts["cannot run"] == 0
    assert counts == {"agree": 108, "documented": 10}, counts
