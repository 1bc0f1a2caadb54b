"""The seeds' classic claims run as experiments (fixed seeds); outcomes asserted with margins."""

from __future__ import annotations

import json

import numpy as np

from losskit.cli import main
from losskit.compare.scenarios import SCENARIOS, run_scenario


def test_outliers_mae_and_huber_beat_mse_on_mae():
    r = run_scenario("outliers")
    c = r.comparisons["mae"]
    mse = c.result("mse")
    for res in c.results:
        if not res.baseline:
            assert res.mean < 0.8 * mse.mean  # measured ~3.8 vs ~5.5
            assert res.p_value < 0.01
    assert r.holds


def test_imbalance_class_weights_beat_plain_cross_entropy_on_recall():
    r = run_scenario("imbalance")
    c = r.comparisons["recall"]
    plain = c.result("binary_cross_entropy")
    weighted = next(x for x in c.results if "pos_weight" in x.params)
    assert plain.mean < 0.15  # at threshold 0.5 the plain model almost never says "yes"
    assert weighted.mean > 0.45  # measured ~0.69
    assert weighted.p_value < 0.01
    assert np.mean(weighted.extra["f1"]) > np.mean(plain.extra["f1"])
    assert r.holds


def test_vanishing_gradient_mse_on_sigmoid_learns_slower():
    r = run_scenario("vanishing_gradient")
    acc = {k: np.asarray(v["accuracy"]) for k, v in r.details["curves"].items()}
    grad0 = {k: v["grad_norm"][0] for k, v in r.details["curves"].items()}
    ce, mse = acc["binary_cross_entropy"], acc["mse on sigmoid"]
    assert np.argmax(ce >= 0.9) <= 50  # measured 21 steps
    assert not (mse[:150] >= 0.9).any()  # measured 344 steps
    assert grad0["binary_cross_entropy"] > 10 * grad0["mse on sigmoid"]  # measured 44x
    assert r.holds


def test_huber_and_smooth_l1_interpolate_between_mae_and_mse():
    r = run_scenario("interpolation")
    d = r.details
    gap = d["mean"] - d["median"]
    for name in ("huber", "smooth_l1"):
        est = np.asarray(d["estimates"][name])
        assert abs(est[0] - d["median"]) < 0.02 * gap
        assert abs(est[-1] - d["mean"]) < 0.02 * gap
        assert np.all(np.diff(est) > -0.02 * gap)
        assert d["median"] + 0.2 * gap < est[6] < d["mean"] - 0.2 * gap  # delta = 10: between
    assert r.holds


def test_misalignment_scenario_is_flagged():
    r = run_scenario("misalignment")
    mse = r.comparisons["mae"].result("mse")
    assert mse.misaligned["loss_end"] < mse.misaligned["loss_start"]
    assert mse.misaligned["metric_end"] > 1.15 * mse.misaligned["metric_best"]
    assert r.holds
    json.dumps(r.to_dict())


def test_cli_runs_a_scenario(capsys, tmp_path):
    assert main(["compare", "--scenario", "interpolation", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "holds" in printed and "Huber" in printed
    assert (tmp_path / "scenario_interpolation.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "scenario_interpolation.json").read_text())["holds"] is True
    assert set(SCENARIOS) >= {"outliers", "imbalance", "vanishing_gradient", "interpolation"}
