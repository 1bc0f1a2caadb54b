"""Plots: the curves are the right functions on the right axis, and the PNGs get written."""

from __future__ import annotations

import numpy as np
import pytest

import losskit
from losskit.cli import main
from losskit.plot import loss_curve, plot_comparison, plot_curves, plot_losses

PNG = b"\x89PNG\r\n\x1a\n"


def test_regression_curves_against_the_residual():
    r = np.linspace(-3, 3, 13)
    values, grads, axis = loss_curve("mse", r)
    assert axis == "residual"
    np.testing.assert_allclose(values, r ** 2, atol=1e-12)  # closed form
    np.testing.assert_allclose(grads, 2 * r, atol=1e-12)
    _, g, _ = loss_curve("huber", r, params={"delta": 1.0})
    np.testing.assert_allclose(g, np.clip(r, -1, 1), atol=1e-12)
    _, g_mae, _ = loss_curve("mae", r[r != 0])
    np.testing.assert_allclose(g_mae, np.sign(r[r != 0]))


def test_classification_curves_against_the_margin():
    m = np.linspace(-6, 6, 25)
    bce, g_bce, axis = loss_curve("binary_cross_entropy", m)
    assert axis == "margin"
    np.testing.assert_allclose(bce, np.log1p(np.exp(-m)), rtol=1e-10)  # softplus(-m)
    np.testing.assert_allclose(g_bce, -1 / (1 + np.exp(m)), rtol=1e-10)
    # Softmax CE with logits (m, 0) is the same function of the margin: the axis is shared.
    ce, g_ce, _ = loss_curve("cross_entropy", m)
    np.testing.assert_allclose(ce, bce, rtol=1e-10)
    np.testing.assert_allclose(g_ce, g_bce, rtol=1e-8)


def test_distribution_and_token_losses_share_the_margin_axis():
    # kl_div / js_div once got an all-ones "distribution" and drew a flat line; token losses
    # (vocabulary last) failed. With the one-hot target (1, 0) KL is cross-entropy, softplus(-m).
    m = np.linspace(-6, 6, 25)
    softplus = np.log1p(np.exp(-m))
    for name in ("kl_div", "sequence_cross_entropy", "bradley_terry"):
        values, _, axis = loss_curve(name, m)
        assert axis == "margin"
        np.testing.assert_allclose(values, softplus, rtol=1e-10, err_msg=name)
    js, _, _ = loss_curve("js_div", m)
    assert np.all(np.diff(js) < 0) and js[-1] < 0.01 < js[0] < np.log(2)


def test_log_mean_losses_are_drawn_against_the_log_ratio():
    # Their input is a log-mean: against "prediction - target" the minimum sat at -1.3.
    r = np.linspace(-3, 3, 25)
    for name in ("poisson_nll", "tweedie", "negative_binomial_nll"):
        values, grads, axis = loss_curve(name, r)
        assert axis == "log_ratio"
        assert r[np.argmin(values)] == 0.0 and abs(grads[12]) < 1e-9, name


@pytest.mark.parametrize("name", ["listnet", "lambdarank", "cox_ph", "pairwise_logistic",
                                  "coral", "boundary", "distillation", "dino",
                                  "demographic_parity_gap"])
def test_losses_one_number_cannot_picture_are_refused_not_drawn_flat(name):
    with pytest.raises(losskit.LossInputError, match="cannot be drawn against one number"):
        loss_curve(name, np.linspace(-3, 3, 7))


def test_unsupported_input_kind_is_a_clear_error():
    with pytest.raises(losskit.LossInputError, match="embeddings"):
        plot_losses(["triplet_margin"] if "triplet_margin" in losskit.list_losses()
                    else ["gaussian_kl"], out=None)


def test_plot_losses_writes_png_with_mixed_axes(tmp_path):
    out = tmp_path / "f.png"
    path = plot_losses(["mse", "mae", "huber", "binary_cross_entropy"], grad=True, out=out)
    assert path == str(out) and out.read_bytes()[:8] == PNG
    fig = plot_losses(["mse", "smooth_l1"], grad=True, out=None)
    assert len(fig.axes) == 2
    labels = {ax.get_xlabel() for ax in fig.axes}
    assert labels == {"residual: prediction − target"}
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"mse", "smooth_l1"}


def test_cli_plot_and_explain_plot(tmp_path, capsys):
    out = tmp_path / "f.png"
    assert main(["plot", "mse", "mae", "huber", "--grad", "--out", str(out),
                 "--param", "huber.delta=0.5"]) == 0
    assert out.read_bytes()[:8] == PNG
    card = tmp_path / "huber.png"
    assert main(["explain", "huber", "--plot", str(card)]) == 0
    assert card.read_bytes()[:8] == PNG
    assert main(["plot", "no_such_loss", "--out", str(out)]) == 2
    assert main(["plot", "mse", "--param", "delta", "--out", str(out)]) == 2


def test_comparison_figures(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = X[:, 0] + rng.normal(size=80)
    c = losskit.compare(X, y, losses=["mse", "mae"], folds=3, epochs=10)
    for fn, name in ((plot_comparison, "c.png"), (plot_curves, "k.png")):
        assert (tmp_path / name).exists() is False
        fn(c, out=tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_a_path_without_extension_gets_png_and_the_returned_path_exists(tmp_path):
    path = plot_losses(["mse"], out=tmp_path / "losses")
    assert path == str(tmp_path / "losses.png")
    with open(path, "rb") as f:
        assert f.read(8) == PNG


def test_a_flat_stretch_of_a_user_range_and_a_mean_input_are_drawn():
    # hinge is 0 past its margin: a range there is flat but drawable (it is not flat over
    # the default range); with log_input=False a log-mean loss takes the mean itself.
    values, _, axis = loss_curve("hinge", np.linspace(1.5, 5, 20))
    assert axis == "margin" and np.all(values == 0)
    r = np.linspace(-3, 3, 61)
    values, _, axis = loss_curve("poisson_nll", r, params={"log_input": False})
    assert axis == "residual" and r[np.nanargmin(values)] == 0.0
    values, _, _ = loss_curve("ppo_value", r)  # drawn again (a head-"none" rule refused it)
    assert np.isfinite(values).all() and np.ptp(values) > 0
