"""Real-data cases for the advisor, with the expert's pick written before any run.

Every case uses data that ships with scikit-learn (``load_*``) or statsmodels (its bundled
``datasets``); nothing is downloaded. ``expected`` is the loss an expert would train first,
``acceptable`` the alternatives an expert would not argue with, and ``why`` the reason,
written from the data's documentation and the modelling literature, not from the advisor's
output. A few cases derive a variant from a real table (a cap, a subsample, flipped labels)
to exercise a rule; the derivation is part of the case and seeded.

``tests/test_advisor_real_data.py`` runs them and requires the top choice to be the
expected pick or an acceptable alternative in at least 95% of cases;
``python tests/advisor_evaluation.py`` writes the table in ``docs/advisor_evaluation.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    load: Callable[[], tuple[Any, Any, dict[str, Any]]]  # -> (y, X, extra recommend kwargs)
    expected: str
    acceptable: tuple[str, ...] = ()
    why: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)


def _sm(name: str):
    import statsmodels.datasets as datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(datasets, name).load_pandas().data


def _sk(name: str):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _table(name: str, target: str, drop: tuple[str, ...] = (), **extra: Any):
    def load():
        df = _sm(name)
        return df[target], df.drop(columns=[target, *drop]), dict(extra)
    return load


def _sklearn(name: str, **extra: Any):
    def load():
        X, y = _sk(name)
        return y, X, dict(extra)
    return load


def _diabetes_capped():
    X, y = _sk("diabetes")
    cap = np.percentile(y, 75)
    return np.minimum(y, cap), X, {}


def _star98_share():
    df = _sm("star98")
    share = df["NABOVE"] / (df["NABOVE"] + df["NBELOW"])
    return share, df.drop(columns=["NABOVE", "NBELOW"]), {}


def _heart():
    df = _sm("heart")
    return df["survival"], df[["age"]], {"event": df["censors"]}


def _modechoice():
    df = _sm("modechoice")
    X = df.drop(columns=["choice", "individual", "mode"])
    return df["choice"], X, {"group": df["individual"]}


def _grunfeld():
    df = _sm("grunfeld")
    X = df.drop(columns=["invest", "firm"])
    return df["invest"], X, {"group": df["firm"]}


def _longley():
    df = _sm("longley")
    return df["TOTEMP"], df.drop(columns=["TOTEMP"]), {"time": df["YEAR"]}


def _nile():
    df = _sm("nile")
    return df["volume"], None, {"time": df["year"]}


def _sunspots():
    df = _sm("sunspots")
    return df["SUNACTIVITY"], None, {"time": df["YEAR"]}


def _sunspots_lagged():
    df = _sm("sunspots")
    s = df["SUNACTIVITY"].to_numpy()
    lags = np.column_stack([s[2:-1], s[1:-2], s[:-3]])
    return s[3:], lags, {}


def _elnino():
    df = _sm("elnino")
    return df.drop(columns=["YEAR"]), df[["YEAR"]], {}


def _linnerud():
    from sklearn.datasets import load_linnerud

    X, Y = load_linnerud(return_X_y=True)
    return Y, X, {}


def _fertility():
    df = _sm("fertility")
    # 2012 and 2013 are empty in the bundled copy: predict 2011 from the years before
    return df["2011"], df.drop(columns=["2013", "2012", "2011"]), {}


def _macro_inflation():
    df = _sm("macrodata")
    return df["infl"], df[["realgdp", "unemp", "tbilrate", "m1"]], {"time": np.arange(len(df))}


def _co2():
    df = _sm("co2").dropna()
    return df["co2"].to_numpy(), None, {"time": np.arange(len(df))}


def _iris_setosa():
    X, y = _sk("iris")
    return (y == 0).astype(int), X, {}


def _breast_cancer_rare(ratio: int = 50):
    def load():
        X, y = _sk("breast_cancer")
        g = np.random.default_rng(0)
        neg = np.flatnonzero(y == 1)  # benign is the majority: keep every one
        pos = g.choice(np.flatnonzero(y == 0), size=len(neg) // ratio, replace=False)
        idx = np.sort(np.r_[neg, pos])
        return (y[idx] == 0).astype(int), X[idx], {}
    return load


def _digits_noisy():
    X, y = _sk("digits")
    g = np.random.default_rng(0)
    flip = g.random(len(y)) < 0.3
    noisy = y.copy()
    noisy[flip] = g.integers(0, 10, flip.sum())
    return noisy, X, {}


def _wine_long_tail():
    X, y = _sk("wine")
    g = np.random.default_rng(0)
    keep = np.r_[np.flatnonzero(y == 1), np.flatnonzero(y == 0)[:20],
                 g.choice(np.flatnonzero(y == 2), 3, replace=False)]
    idx = np.sort(keep)
    return y[idx], X[idx], {}


def _digits_long_tail():
    X, y = _sk("digits")
    # class k keeps about 180 * 0.6^k rows: a long tail from 178 down to 2
    keep = np.concatenate([np.flatnonzero(y == k)[: max(2, int(180 * 0.6 ** k))]
                           for k in range(10)])
    idx = np.sort(keep)
    return y[idx], X[idx], {}


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ scikit-learn
    Case("iris", "sklearn load_iris", _sklearn("iris"), "cross_entropy",
         why="three balanced species: softmax cross-entropy"),
    Case("iris-accuracy", "sklearn load_iris", _sklearn("iris"), "cross_entropy",
         ("multiclass_hinge",), "accuracy of a 3-class model: cross-entropy still trains it best",
         {"metric": "accuracy"}),
    Case("iris-setosa", "sklearn load_iris (setosa vs rest)", _iris_setosa,
         "binary_cross_entropy", why="a 1:2 binary target"),
    Case("wine-f1", "sklearn load_wine", _sklearn("wine"), "cross_entropy",
         why="three classes, mild imbalance (71/59/48): no reweighting needed",
         kwargs={"metric": "f1"}),
    Case("digits", "sklearn load_digits", _sklearn("digits"), "cross_entropy",
         why="ten balanced digit classes", kwargs={"metric": "accuracy"}),
    Case("breast-cancer", "sklearn load_breast_cancer", _sklearn("breast_cancer"),
         "binary_cross_entropy", why="a 1.7:1 binary target"),
    Case("breast-cancer-auc", "sklearn load_breast_cancer", _sklearn("breast_cancer"),
         "binary_cross_entropy", ("pairwise_logistic",),
         "AUC: cross-entropy ranks well; a pairwise surrogate is a fair alternative",
         {"metric": "roc_auc"}),
    Case("breast-cancer-log-loss", "sklearn load_breast_cancer", _sklearn("breast_cancer"),
         "binary_cross_entropy", why="log-loss is exactly what plain BCE minimizes",
         kwargs={"metric": "log_loss"}),
    Case("breast-cancer-costs", "sklearn load_breast_cancer", _sklearn("breast_cancer"),
         "binary_cross_entropy", why="fn/fp costs: calibrated BCE plus the Bayes threshold",
         kwargs={"costs": {"fn": 5, "fp": 1}}),
    Case("breast-cancer-rare-f1", "sklearn load_breast_cancer (1:50 subsample)",
         _breast_cancer_rare(50), "binary_cross_entropy", ("sigmoid_focal",),
         "a 1:50 imbalance judged by F1: weighted BCE or focal loss",
         {"metric": "f1"}),
    Case("diabetes-rmse", "sklearn load_diabetes", _sklearn("diabetes"), "mse",
         why="RMSE is minimized by the conditional mean", kwargs={"metric": "rmse"}),
    Case("diabetes-mae", "sklearn load_diabetes", _sklearn("diabetes"), "mae", ("huber",),
         "MAE is minimized by the conditional median", {"metric": "mae"}),
    Case("diabetes", "sklearn load_diabetes", _sklearn("diabetes"), "mse", ("huber",),
         "an integer-recorded continuous score (25..346), clean noise"),
    Case("diabetes-costs", "sklearn load_diabetes", _sklearn("diabetes"), "quantile",
         why="under-prediction costs 3x over-prediction: the 0.75 quantile",
         kwargs={"costs": {"under": 3, "over": 1}}),
    Case("diabetes-capped", "sklearn load_diabetes capped at its 75th percentile",
         _diabetes_capped, "tobit", why="25% of rows piled up at a ceiling: a censored likelihood"),
    Case("linnerud", "sklearn load_linnerud (3 targets)", _linnerud, "mse", ("huber", "mae"),
         "three physiological measurements: multi-output regression, never a sequence loss"),
    # ------------------------------------------------------------------ statsmodels
    Case("anes96-vote", "statsmodels anes96", _table("anes96", "vote", drop=("PID",)),
         "binary_cross_entropy", why="a vote for one of two candidates"),
    Case("anes96-pid-mae", "statsmodels anes96", _table("anes96", "PID", drop=("vote",)),
         "corn", ("coral", "mae"),
         "a 7-point party-identification scale judged by MAE: ordinal levels",
         {"metric": "mae"}),
    Case("anes96-pid-ordinal", "statsmodels anes96", _table("anes96", "PID", drop=("vote",)),
         "corn", ("coral",), "declared ordinal", {"task": "ordinal"}),
    Case("cancer", "statsmodels cancer", _table("cancer", "cancer"), "poisson_nll",
         ("negative_binomial_nll", "tweedie"),
         "cancer deaths per county with population: a count model with a log link"),
    Case("ccard", "statsmodels ccard", _table("ccard", "AVGEXP"), "mse",
         ("huber", "gaussian_nll", "msle"),
         "average credit-card spending, 72 rows, heteroscedastic (Greene's WLS example)"),
    Case("committee", "statsmodels committee", _table("committee", "BILLS104"),
         "negative_binomial_nll", ("poisson_nll", "tweedie"),
         "bills per committee: overdispersed counts (statsmodels' negative binomial example)"),
    Case("copper", "statsmodels copper", _table("copper", "WORLDCONSUMPTION"), "mse",
         ("huber",), "world copper consumption, 25 rows, linear"),
    Case("cpunish", "statsmodels cpunish", _table("cpunish", "EXECUTIONS"), "poisson_nll",
         ("negative_binomial_nll", "tweedie"),
         "executions per state: counts (the Poisson example)"),
    Case("engel-q90", "statsmodels engel", _table("engel", "foodexp"), "quantile",
         why="food expenditure's 90th percentile (Koenker's quantile regression example)",
         kwargs={"metric": "pinball@0.9"}),
    Case("engel-mae", "statsmodels engel", _table("engel", "foodexp"), "mae",
         ("huber", "quantile"), "median food expenditure", {"metric": "mae"}),
    Case("fair", "statsmodels fair", _table("fair", "affairs"), "tweedie",
         ("tobit", "poisson_nll"),
         "time in affairs: 68% exact zeros and a positive continuous tail"),
    Case("fair-rating-mae", "statsmodels fair", _table("fair", "rate_marriage", drop=("affairs",)),
         "corn", ("coral", "mae"), "a 5-point marriage rating judged by MAE: ordinal",
         {"metric": "mae"}),
    Case("grunfeld", "statsmodels grunfeld (firm groups)", _grunfeld, "mse",
         ("huber", "gaussian_nll"),
         "investment on value and capital per firm-year (panel; grouped folds)"),
    Case("longley", "statsmodels longley (yearly)", _longley, "mse", ("huber",),
         "total employment, 16 years, nearly collinear but clean"),
    Case("modechoice", "statsmodels modechoice (one choice per traveller)", _modechoice,
         "listnet", ("listmle", "lambdarank", "approx_ndcg"),
         "each traveller chooses one of four modes: a softmax over the group's alternatives"),
    Case("randhie", "statsmodels randhie", _table("randhie", "mdvis"), "negative_binomial_nll",
         ("poisson_nll", "tweedie"),
         "doctor visits: overdispersed counts with many zeros (the classic NB example)"),
    Case("scotland", "statsmodels scotland", _table("scotland", "YES"), "mse",
         ("huber", "gaussian_nll"), "percentage voting yes, 32 regions"),
    Case("spector", "statsmodels spector", _table("spector", "GRADE"), "binary_cross_entropy",
         why="grade improved or not (the logit example)"),
    Case("stackloss-mae", "statsmodels stackloss", _table("stackloss", "STACKLOSS"), "mae",
         ("huber",), "integer-recorded measurements with known outliers, judged by MAE",
         {"metric": "mae"}),
    Case("stackloss", "statsmodels stackloss", _table("stackloss", "STACKLOSS"), "mse",
         ("huber", "mae"), "continuous measurements recorded as integers, 21 rows"),
    Case("statecrime", "statsmodels statecrime", _table("statecrime", "murder",
                                                        drop=("violent",)),
         "mse", ("huber", "mae"), "murder rate per state; DC is extreme"),
    Case("strikes", "statsmodels strikes", _table("strikes", "duration"), "msle",
         ("poisson_nll", "negative_binomial_nll", "tweedie", "mse", "huber"),
         "strike durations in days: positive and right-skewed"),
    Case("heart", "statsmodels heart", _heart, "cox_ph", ("discrete_hazard", "weibull_nll"),
         "survival times with a censoring indicator"),
    Case("star98", "statsmodels star98 (share above the median)", _star98_share,
         "binary_cross_entropy", ("mse",), "a share of students in [0, 1]"),
    Case("sunspots", "statsmodels sunspots (yearly)", _sunspots, "mse", ("huber", "mae"),
         "yearly sunspot activity, time-ordered"),
    Case("sunspots-lagged", "statsmodels sunspots with 3 lags", _sunspots_lagged, "mse",
         ("huber", "mae"), "an autoregression on lagged values"),
    Case("nile", "statsmodels nile (yearly)", _nile, "mse", ("huber",),
         "annual Nile flow, a level shift in 1898"),
    Case("co2", "statsmodels co2 (weekly)", _co2, "mse", ("huber",),
         "weekly CO2 concentration, smooth trend and season"),
    Case("macro-inflation", "statsmodels macrodata (quarterly)", _macro_inflation, "mse",
         ("huber", "mae"), "quarterly inflation on macro indicators, time-ordered"),
    Case("elnino", "statsmodels elnino (12 monthly targets)", _elnino, "mse", ("huber",),
         "twelve monthly temperatures per year: multi-output regression"),
    Case("fertility", "statsmodels fertility", _fertility, "mse", ("huber",),
         "fertility rate in 2011 from earlier years; text id columns and missing values"),
    # ------------------------------------------------------------------ derived variants
    Case("digits-noisy", "sklearn load_digits with 30% of labels redrawn", _digits_noisy,
         "generalized_cross_entropy", ("symmetric_cross_entropy", "cross_entropy"),
         "many wrong labels: a noise-robust loss (or label smoothing)"),
    Case("digits-long-tail", "sklearn load_digits, classes thinned to a long tail",
         _digits_long_tail, "logit_adjusted_cross_entropy", ("balanced_softmax",),
         "a 90:1 long tail judged by balanced accuracy: logit adjustment",
         {"metric": "balanced_accuracy"}),
    Case("wine-long-tail", "sklearn load_wine thinned to 71/20/3", _wine_long_tail,
         "logit_adjusted_cross_entropy", ("balanced_softmax",),
         "a 24:1 imbalance judged by balanced accuracy", {"metric": "balanced_accuracy"}),
)
