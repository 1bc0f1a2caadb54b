"""MONAI's own test cases of DiceLoss, GeneralizedDiceLoss and TverskyLoss, run against
losskit's dice, jaccard, generalized_dice and tversky.

The cases (inputs, MONAI arguments, expected numbers) are transcribed in
``_monai_cases.py`` with their repository, file and test. MONAI's arguments are mapped to
losskit's: ``sigmoid``/``softmax``/``other_act`` to ``activation``/``other_act``,
``to_onehot_y`` to an integer class-index target, MONAI's ``soft_label`` default (False)
passed explicitly, ``smooth_nr``/``smooth_dr`` (default 1e-5), ``w_type`` to
``weight_type``, ``weight`` to ``class_weight`` and TverskyLoss's defaults
alpha = beta = 0.5. Computations run
in float32 as MONAI's do, at MONAI's own tolerance (rtol 1e-5; 1e-4 for Tversky).

Each case is one of:

* ``agree``: losskit gives MONAI's number;
* ``documented``: the numbers differ by a convention written in the loss's card (the test
  checks the card says so), and the test asserts the convention itself: losskit's value
  equals the formula under losskit's convention and MONAI's number equals the same formula
  under MONAI's, computed here by hand.

Counts (``test_counts``): 48 cases, 42 agree, 6 documented differences, 0 cannot run.
MaskedDiceLoss's cases are not transcribed: at this commit MONAI masks the logits before
the activation (a masked voxel still predicts sigmoid(0) = 0.5) while MONAI 1.6 masks
after it, so their expected numbers belong to one MONAI version; losskit's counterpart,
``ignore_index``, is checked against MONAI's ``ignore_index`` in tests/test_segmentation.py.
"""

from __future__ import annotations

import pytest
import torch

import losskit
import losskit.functional as LF

from . import _monai_cases as mc

AGREE, DOCUMENTED = "agree", "documented"


def _tensor(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


def _call(loss, monai_args, x, t, **override):
    """losskit's value for MONAI's arguments and inputs (see the module docstring)."""
    kw = dict(monai_args)
    x = _tensor(x)
    t = _tensor(t)
    other_act = kw.pop("other_act", None)
    activation = ("sigmoid" if kw.pop("sigmoid", False) else
                  "softmax" if kw.pop("softmax", False) else "none")
    opts = {"activation": activation, "other_act": other_act,
            "soft_label": kw.pop("soft_label", False),
            "smooth_nr": kw.pop("smooth_nr", 1e-5), "smooth_dr": kw.pop("smooth_dr", 1e-5)}
    fn = getattr(LF, loss)
    if kw.pop("jaccard", False):
        fn = LF.jaccard
    if loss == "tversky":
        opts["alpha"], opts["beta"] = kw.pop("alpha", 0.5), kw.pop("beta", 0.5)
    if "w_type" in kw:
        opts["weight_type"] = kw.pop("w_type")
    if "weight" in kw:
        opts["class_weight"] = _tensor(kw.pop("weight"))
    for key in ("include_background", "batch", "reduction", "squared_pred"):
        if key in kw:
            opts[key] = kw.pop(key)
    if kw.pop("to_onehot_y", False):
        t = t[:, 0].long()
    assert not kw, f"unmapped MONAI arguments {kw}"
    opts.update(override)
    return fn(x, t, **opts)


def _close(actual, expected, rtol):
    expected = torch.tensor(expected, dtype=torch.float64).reshape(-1)
    actual = actual.detach().double().reshape(-1)
    return actual.shape == expected.shape and bool(
        torch.allclose(actual, expected, rtol=rtol, atol=0.0 if expected.abs().min() > 0
                       else 1e-7))


def _card(name):
    info = losskit.info(name)
    return info.pitfalls + " " + info.when_to_use


# --- conventions, each asserted by hand -----------------------------------------------------


def _gdl_by_hand(p, t, smooth_nr, smooth_dr, normalized, soft_label=False):
    """Generalized Dice with weights 1 / T^2 (absent classes: the row's largest weight),
    normalized to sum 1 per image (losskit) or not (MONAI)."""
    dims = tuple(range(2, p.dim()))
    inter = (torch.minimum(p, t) if soft_label else p * t).sum(dims)
    pred, tgt = p.sum(dims), t.sum(dims)
    w = torch.where(tgt > 0, 1.0 / tgt.clamp(min=1e-30) ** 2, 0.0)
    w = torch.where(tgt > 0, w, w.amax(1, keepdim=True))
    if normalized:
        w = w / w.sum(1, keepdim=True)
    loss = 1 - (2 * (w * inter).sum(1) + smooth_nr) / ((w * (pred + tgt)).sum(1) + smooth_dr)
    return loss.mean()


def _gdl_convention(case):
    _, args, x, t, expected = case
    p = _tensor(x, torch.float64)
    if args.get("sigmoid"):
        p = torch.sigmoid(p)
    if args.get("other_act") is not None:
        p = args["other_act"](p)
    if args.get("to_onehot_y"):
        target = torch.nn.functional.one_hot(_tensor(t).long()[:, 0], p.shape[1])
        target = target.movedim(-1, 1).double()
    else:
        target = _tensor(t, torch.float64)
    nr, dr = args.get("smooth_nr", 1e-5), args.get("smooth_dr", 1e-5)
    ours = _call("generalized_dice", args, x, t)
    assert _close(ours, _gdl_by_hand(p, target, nr, dr, normalized=True).item(), 1e-5)
    assert _close(_gdl_by_hand(p, target, nr, dr, normalized=False), expected, 1e-5)
    assert not _close(ours, expected, 1e-5)
    assert "normalized to sum 1 per image" in _card("generalized_dice")


def _class_weight_mean(case):
    _, args, x, t, expected = case
    w = _tensor(args["weight"])
    per_pair = _call("dice", args, x, t, reduction="none")  # MONAI's f * w, pair by pair
    ours = _call("dice", args, x, t)
    assert _close(per_pair.sum() / per_pair.numel(), expected, 1e-5)  # MONAI: / pairs
    assert _close(ours, (per_pair.sum() / (w.sum() * per_pair.shape[0])).item(), 1e-6)
    assert "MONAI's mean divides by the number of pairs" in _card("dice")


def _jaccard_half_smoothing(case):
    _, args, x, t, expected = case
    nr, dr = args.get("smooth_nr", 1e-5), args.get("smooth_dr", 1e-5)
    ours = _call("dice", args, x, t, smooth_nr=nr / 2, smooth_dr=dr / 2)
    assert _close(ours, expected, 1e-5)
    assert "half its smoothing terms" in _card("jaccard")


DOCUMENTED_CASES = {
    ("dice", 11): _jaccard_half_smoothing,
    ("dice", 17): _class_weight_mean,
    ("generalized_dice", 1): _gdl_convention,
    ("generalized_dice", 3): _gdl_convention,
    ("generalized_dice", 12): _gdl_convention,
    ("generalized_dice", 13): _gdl_convention,
}


def _params():
    params = []
    for loss, _source, cases, rtol in (("dice", mc.DICE_FILE, mc.DICE, 1e-5),
                                      ("generalized_dice", mc.GDL_FILE, mc.GENERALIZED_DICE, 1e-5),
                                      ("tversky", mc.TVERSKY_FILE, mc.TVERSKY, 1e-4)):
        for case in cases:
            kind = DOCUMENTED if (loss, case[0]) in DOCUMENTED_CASES else AGREE
            params.append(pytest.param(loss, case, rtol, kind, id=f"{loss}-{case[0]}-{kind}"))
    return params


PARAMS = _params()


@pytest.mark.parametrize(("loss", "case", "rtol", "kind"), PARAMS)
def test_monai_case(loss, case, rtol, kind):
    if kind == DOCUMENTED:
        DOCUMENTED_CASES[(loss, case[0])](case)
        return
    _, args, x, t, expected = case
    ours = _call(loss, args, x, t)
    assert _close(ours, expected, rtol), f"losskit {ours.tolist()} vs MONAI {expected}"


def test_counts():
    kinds = [p.values[3] for p in PARAMS]
    assert (len(kinds), kinds.count(AGREE), kinds.count(DOCUMENTED)) == (48, 42, 6)
