"""Classic claims about losses, as experiments you can run: ``losskit compare --scenario NAME``.

Each scenario builds a synthetic data set with a fixed seed, runs the experiment the
claim is about, and says whether the claim held, with the numbers behind the verdict:

* ``outliers``: with gross outliers, MAE and Huber beat MSE on MAE.
* ``imbalance``: on a 1:~45 imbalance, class weights (``pos_weight``) or focal loss beat
  plain cross-entropy on minority recall at the default 0.5 threshold.
* ``vanishing_gradient``: from a confidently wrong start, a sigmoid trained with MSE learns
  far slower than with cross-entropy (its gradient carries a factor sigma'(z) ~ e^-|z|).
* ``interpolation``: Huber and Smooth L1 interpolate between MAE and MSE: as delta (beta)
  grows, the fitted location moves from the median (MAE's optimum) to the mean (MSE's).
* ``misalignment``: training MSE on data judged by MAE, the validation loss keeps falling
  while the validation MAE gets worse, and ``compare`` flags it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._core.validate import LossInputError
from ._compare import Comparison, compare
from ._train import jsonable, single_thread

__all__ = ["SCENARIOS", "Scenario", "ScenarioResult", "list_scenarios", "run_scenario"]


@dataclass
class ScenarioResult:
    """What a scenario found: whether the claim held, a verdict, the numbers."""

    name: str
    claim: str
    holds: bool
    verdict: str
    table: list[dict[str, Any]]
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {"name": self.name, "claim": self.claim, "holds": self.holds,
             "verdict": self.verdict, "table": self.table, "details": self.details,
             "comparisons": {k: c.to_dict() for k, c in self.comparisons.items()}})
        return out


@dataclass(frozen=True)
class Scenario:
    name: str
    claim: str
    run: Callable[[int], ScenarioResult]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _rows(c: Comparison) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "#"} for row in c.rows()]


# -- data ------------------------------------------------------------------------------
def outlier_regression(n: int = 400, seed: int = 0, outlier_fraction: float = 0.1,
                       features: int = 3, signal: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``y = X w + N(0, 1)``; a fraction of rows gets +15..40 added (one-sided gross errors)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    w = np.linspace(1.0, -1.0, features) * 2 * signal
    y = X @ w + rng.normal(size=n)
    hit = rng.random(n) < outlier_fraction
    y[hit] += rng.uniform(15, 40, hit.sum())
    return X, y


def imbalanced_binary(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two informative features, logistic labels, about 1 positive in 45."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    logit = 1.6 * X[:, 0] + 0.8 * X[:, 1] - 5.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


# -- scenarios -------------------------------------------------------------------------
def _outliers(seed: int) -> ScenarioResult:
    X, y = outlier_regression(seed=seed)
    c = compare(X, y, losses=["mse", ("huber", {"delta": 1.345}), "mae"], metric="mae",
                epochs=100, seed=seed)
    robust = [r for r in c.results if not r.baseline]
    winners = [r.loss for r in robust if c.better_than_baseline(r)]
    base = c.result("mse")
    holds = len(winners) == len(robust)
    verdict = (f"{', '.join(winners) or 'no robust loss'} beat mse on held-out MAE "
               f"({', '.join(f'{r.loss} {_fmt(r.mean)}' for r in robust)} vs mse "
               f"{_fmt(base.mean)}; 10% of targets carry +15..40 errors)")
    return ScenarioResult("outliers", SCENARIOS["outliers"].claim, holds, verdict, _rows(c),
                          {"mae": c})


def _imbalance(seed: int) -> ScenarioResult:
    X, y = imbalanced_binary(seed=seed)
    ratio = round(float((y == 0).sum() / max((y == 1).sum(), 1)), 2)
    losses = ["binary_cross_entropy", ("binary_cross_entropy", {"pos_weight": ratio}),
              ("sigmoid_focal", {"gamma": 2.0, "alpha": 0.75})]
    rec = compare(X, y, losses=losses, metric="recall", threshold=0.5, epochs=100, seed=seed,
                  extra_metrics=("f1",))
    winners = [r.loss for r in rec.results if rec.better_than_baseline(r)]
    holds = bool(winners)
    base = rec.result("binary_cross_entropy")
    verdict = ("minority recall at threshold 0.5: "
               + ", ".join(f"{r.loss} {_fmt(r.mean)}" for r in rec.results)
               + f" (1 positive in {ratio + 1:.0f}); "
               + (f"{', '.join(winners)} beat plain cross-entropy ({_fmt(base.mean)})"
                  if winners else "nothing beat plain cross-entropy"))
    table = [{"loss": r.loss, "recall@0.5": f"{r.mean:.3f} ± {r.std:.2f}",
              "F1@0.5": f"{np.mean(r.extra['f1']):.3f} ± {np.std(r.extra['f1'], ddof=1):.2f}",
              "recall vs baseline": "baseline" if r.baseline else f"p={r.p_value:.2g}"}
             for r in rec.results]
    return ScenarioResult("imbalance", SCENARIOS["imbalance"].claim, holds, verdict, table,
                          {"recall": rec},
                          {"note": "the threshold is fixed at 0.5 here because that is the "
                                   "default decision rule; losskit.compare tunes it on the "
                                   "training folds by default, which moves plain "
                                   "cross-entropy's operating point too"})


def _vanishing_gradient(seed: int, steps: int = 600, lr: float = 0.5,
                        target_accuracy: float = 0.9) -> ScenarioResult:
    from .. import functional as F

    g = torch.Generator().manual_seed(seed)
    X = torch.randn(500, 2, generator=g, dtype=torch.float64)
    w_true = torch.tensor([2.0, -1.0], dtype=torch.float64)
    y = (X @ w_true + 0.3 * torch.randn(500, generator=g, dtype=torch.float64) > 0).double()
    losses: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "binary_cross_entropy": lambda z: F.binary_cross_entropy(z, y),
        "mse on sigmoid": lambda z: F.mse(torch.sigmoid(z), y),
    }
    table, curves = [], {}
    for name, loss_fn in losses.items():
        # Confidently wrong: the weights point the opposite way, margins around -7.
        w = (-3.0 * w_true).clone().requires_grad_(True)
        acc, grads = [], []
        for _ in range(steps):
            z = X @ w
            loss = loss_fn(z)
            (grad,) = torch.autograd.grad(loss, w)
            with torch.no_grad():
                acc.append(float(((z > 0).double() == y).double().mean()))
                grads.append(float(grad.norm()))
                w -= lr * grad  # plain gradient descent: Adam would rescale the tiny gradient
        reached = next((i for i, a in enumerate(acc) if a >= target_accuracy), None)
        curves[name] = {"accuracy": acc, "grad_norm": grads}
        table.append({"loss": name, "initial grad norm": f"{grads[0]:.3g}",
                      f"steps to {target_accuracy:.0%} accuracy":
                          str(reached) if reached is not None else f"> {steps}",
                      "accuracy after 50 steps": f"{acc[min(50, steps - 1)]:.3f}",
                      f"accuracy after {steps} steps": f"{acc[-1]:.3f}"})
    ce = next((i for i, a in enumerate(curves["binary_cross_entropy"]["accuracy"])
               if a >= target_accuracy), None)
    ms = next((i for i, a in enumerate(curves["mse on sigmoid"]["accuracy"])
               if a >= target_accuracy), None)
    holds = ce is not None and (ms is None or ms >= 3 * max(ce, 1))
    ratio = (curves["binary_cross_entropy"]["grad_norm"][0]
             / max(curves["mse on sigmoid"]["grad_norm"][0], 1e-300))
    verdict = (f"from margins around -7, cross-entropy reached {target_accuracy:.0%} accuracy in "
               f"{ce} steps, MSE on sigmoid in {ms if ms is not None else f'more than {steps}'}; "
               f"its initial gradient was {ratio:.0f}x smaller (plain gradient descent, lr={lr})")
    return ScenarioResult("vanishing_gradient", SCENARIOS["vanishing_gradient"].claim, holds,
                          verdict, table, details={"curves": curves})


def _interpolation(seed: int) -> ScenarioResult:
    from scipy.optimize import minimize_scalar

    from .. import functional as F

    rng = np.random.default_rng(seed)
    y_np = np.r_[rng.normal(0, 1, 1800), rng.normal(20, 5, 200)]  # 10% far to the right
    y = torch.as_tensor(y_np)
    median, mean = float(np.median(y_np)), float(np.mean(y_np))
    scales = np.logspace(-2, 2.5, 10)

    def fit(loss: Callable[[torch.Tensor], torch.Tensor]) -> float:
        # The location that minimizes the loss: exact 1-D minimization of a convex function.
        res = minimize_scalar(lambda c: float(loss(torch.full_like(y, c))),
                              bounds=(float(y.min()), float(y.max())), method="bounded",
                              options={"xatol": 1e-6})
        return float(res.x)

    def huber_at(d: float) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda p: F.huber(p, y, delta=float(d))

    def smooth_l1_at(b: float) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda p: F.smooth_l1(p, y, beta=float(b))

    est = {
        "huber": [fit(huber_at(d)) for d in scales],
        "smooth_l1": [fit(smooth_l1_at(b)) for b in scales],
    }
    ends = {"mae": fit(lambda p: F.mae(p, y)), "mse": fit(lambda p: F.mse(p, y))}
    tol = 0.02 * (mean - median)
    checks = {}
    for name, values in est.items():
        v = np.asarray(values)
        checks[name] = bool(np.all(np.diff(v) >= -tol) and abs(v[0] - ends["mae"]) <= tol
                            and abs(v[-1] - ends["mse"]) <= tol)
    holds = all(checks.values())
    table = [{"delta / beta": f"{s:.3g}", "huber location": _fmt(h), "smooth_l1 location": _fmt(b)}
             for s, h, b in zip(scales, est["huber"], est["smooth_l1"])]
    for label, key in (("MAE optimum (median)", "mae"), ("MSE optimum (mean)", "mse")):
        table.append({"delta / beta": label, "huber location": _fmt(ends[key]),
                      "smooth_l1 location": _fmt(ends[key])})
    verdict = (f"the fitted location moves (monotonically, within 2% of the gap) from "
               f"{_fmt(est['huber'][0])} "
               f"(MAE's optimum, the median {_fmt(median)}) at delta=0.01 to "
               f"{_fmt(est['huber'][-1])} (MSE's optimum, the mean {_fmt(mean)}) at delta=316; "
               f"smooth_l1 over beta does the same: {'yes' if checks['smooth_l1'] else 'no'}")
    return ScenarioResult("interpolation", SCENARIOS["interpolation"].claim, holds, verdict,
                          table, details={"scales": scales.tolist(), "estimates": est,
                                          "median": median, "mean": mean, "checks": checks})


def misalignment_data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A weak signal plus one-sided gross errors on 15% of rows: mean and median far apart."""
    return outlier_regression(n, seed, outlier_fraction=0.15, features=2, signal=0.25)


def _misalignment(seed: int) -> ScenarioResult:
    X, y = misalignment_data(seed=seed)
    c = compare(X, y, losses=["mse", "mae"], metric="mae", epochs=120, seed=seed)
    mse, mae = c.result("mse"), c.result("mae")
    holds = mse.misaligned is not None and mae.misaligned is None
    if mse.misaligned:
        f = mse.misaligned
        verdict = (f"mse's held-out loss fell {f['loss_start']:.4g} -> {f['loss_end']:.4g} after "
                   f"epoch {f['from_epoch']} while held-out MAE rose {f['metric_best']:.4g} -> "
                   f"{f['metric_end']:.4g} ({f['folds_worse']}/{f['folds']} folds): flagged; "
                   f"mae: {'flagged' if mae.misaligned else 'not flagged'}")
    else:
        verdict = "mse was not flagged"
    return ScenarioResult("misalignment", SCENARIOS["misalignment"].claim, holds, verdict,
                          _rows(c), {"mae": c})


SCENARIOS: dict[str, Scenario] = {
    "outliers": Scenario("outliers", "With gross outliers, MAE and Huber beat MSE on MAE.",
                         _outliers),
    "imbalance": Scenario("imbalance", "On heavy class imbalance, class weights (pos_weight) or "
                          "focal loss beat plain cross-entropy on minority recall.", _imbalance),
    "vanishing_gradient": Scenario("vanishing_gradient", "A sigmoid trained with MSE learns "
                                   "slower than with cross-entropy from a confidently wrong "
                                   "start (vanishing gradient).", _vanishing_gradient),
    "interpolation": Scenario("interpolation", "Huber and Smooth L1 interpolate between MAE "
                              "(small delta/beta) and MSE (large delta/beta).", _interpolation),
    "misalignment": Scenario("misalignment", "A loss can keep falling while the metric you care "
                             "about gets worse; compare flags it.", _misalignment),
}


def list_scenarios() -> list[dict[str, str]]:
    return [{"name": s.name, "claim": s.claim} for s in SCENARIOS.values()]


def run_scenario(name: str, seed: int = 0) -> ScenarioResult:
    """Run one scenario by name (see :data:`SCENARIOS`)."""
    if name not in SCENARIOS:
        raise LossInputError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    with torch.random.fork_rng(), single_thread():
        return SCENARIOS[name].run(seed)
