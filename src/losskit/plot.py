"""Figures: loss and gradient curves, comparison results, training curves (PNG, Agg backend).

* :func:`plot_losses` draws registered losses (and their gradients) against the quantity
  that drives them, picked from each ``LossInfo.input_kind``: the residual
  ``prediction - target`` for losses on values, the margin ``logit x sign`` (the
  true class's logit minus the other's) for losses on logits, the probability of the
  true class for losses on probabilities.
* :func:`plot_comparison` and :func:`plot_curves` draw a :class:`losskit.compare.Comparison`.
* :func:`plot_monitor` draws a :class:`losskit.monitor.LossMonitor`.

Each function writes a PNG to ``out`` and returns the path (or returns the matplotlib
Figure when ``out`` is None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._core.registry import LossInfo, get_info
from ._core.validate import LossInputError

__all__ = ["axis_of", "curve_svg", "loss_curve", "plot_comparison", "plot_curves",
           "plot_losses", "plot_monitor", "plot_scenario"]

#: input kind -> (axis name, axis label, default range)
_AXES = {
    "values": ("residual", "residual: prediction − target", (-3.0, 3.0)),
    "log_rate": ("log_ratio", "log ratio: log(predicted mean / target)", (-3.0, 3.0)),
    "logits": ("margin", "margin: logit × sign (true-class logit − other logit)", (-6.0, 6.0)),
    "probabilities": ("probability", "predicted probability of the true class", (0.001, 0.999)),
}


#: axis name -> (axis label, default range)
_BY_AXIS = {name: (label, default) for name, label, default in _AXES.values()}

_STYLES = ("-", "--", "-.", ":")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: str | Path | None) -> Any:
    if out is None:
        return fig
    path = Path(out)
    if not path.suffix:  # matplotlib would add ".png" itself, and the path returned be wrong
        path = path.with_suffix(".png")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return str(path)


def axis_of(info: LossInfo, params: Mapping[str, Any] | None = None) -> str:
    """``"residual"``, ``"log_ratio"`` (a log-mean input; ``params`` with
    ``log_input=False`` makes it a mean again), ``"margin"`` or ``"probability"``;
    LossInputError for other inputs."""
    kind = "logits" if info.input_kind == "scores" else info.input_kind
    if kind == "values" and info.head == "log_rate" and (params or {}).get("log_input", True):
        kind = "log_rate"
    # A student matched to a teacher has no label to draw a margin against.
    if kind in _AXES and "teacher" in info.target_kind:
        raise LossInputError(
            f"{info.name!r} cannot be drawn against one number: its input ({info.input_kind}) "
            f"is matched to another model's output ({info.target_kind}), not to a label")
    # Without a target there is nothing to pair the one number with (a KL to a prior, a
    # penalty, a GAN player's loss): no curve.
    if len(info.data_arguments) < 2 or info.target_kind == "none":
        kind = "none"
    if kind not in _AXES:
        raise LossInputError(
            f"plot_losses draws losses of values, logits or probabilities against one "
            f"number; {info.name!r} takes {info.input_kind}")
    return _AXES[kind][0]


def _one_point_args(info: LossInfo, axis: str, x: torch.Tensor) -> tuple[Any, ...]:
    """Arguments of a one-sample call whose input is driven by the scalar ``x``."""
    args = list(info.example_inputs(1, 0))
    inp, tgt = args[0], args[1]
    if axis in ("residual", "log_ratio"):
        # Log-based losses need a positive target; the others are drawn around zero.
        positive = tgt[tgt > 0] if tgt.numel() else tgt
        t0 = float(positive.median()) if positive.numel() and (
            axis == "log_ratio" or bool((tgt > 0).all())) else 0.0
        if tgt.is_floating_point():
            tgt = torch.full_like(tgt, t0)
        args[1] = tgt
        # a log-mean input: log(t0) + x, so the curve's minimum is at 0 as for a residual
        start = math.log(t0) if axis == "log_ratio" else t0
        args[0] = torch.full_like(inp, start) + x.to(inp.dtype)
        return tuple(args)
    # A binary head (one logit or score per label) takes a same-shaped 0/1 target; a
    # preference (head "none" on scores) the rejected score 0, so the input is the margin;
    # any other logits input is two classes, class 0 true: an index, or a one-hot
    # distribution where the target is class probabilities.
    if tgt.shape == inp.shape and info.head in ("logit", "score", "none"):
        args[1] = torch.zeros_like(tgt) if info.head == "none" else torch.ones_like(tgt)
        args[0] = torch.zeros_like(inp) + x.to(inp.dtype)
        return tuple(args)
    if info.head in ("cumulative_logits", "conditional_logits"):
        raise _Undrawable(f"{info.name} cannot be drawn against one number: its K - 1 "
                          "threshold logits have no true-class margin")
    if tgt.is_floating_point() and tgt.shape == inp.shape and "probabilit" not in info.target_kind:
        raise _Undrawable(f"{info.name} cannot be drawn against one number: its target "
                          f"({info.target_kind}) is not a class to set a margin for")
    if inp.dim() < 2:
        raise _Undrawable(f"{info.name} cannot be drawn against one number: a one-sample "
                          f"call has no classes to set a margin between (its {info.head} "
                          "head scores pairs, lists or groups of samples)")
    # token losses keep the vocabulary last: [*, V] logits, [*] token ids
    dim = -1 if "token ids" in info.target_kind else 1
    shape = list(inp.shape)
    shape[dim] = 2
    onehot = torch.zeros(shape, dtype=inp.dtype)
    onehot.select(dim, 0).fill_(1)
    if axis == "margin":  # logits (m, 0)
        args[0] = onehot * x.to(inp.dtype)
    else:  # probabilities (p, 1 - p)
        args[0] = onehot * x.to(inp.dtype) + (1 - onehot) * (1 - x.to(inp.dtype))
    if tgt.is_floating_point() and tgt.shape == inp.shape:
        args[1] = onehot.clone()
    else:
        del shape[dim]
        args[1] = torch.zeros(shape, dtype=tgt.dtype)
    return tuple(args)


class _Undrawable(LossInputError):
    """A loss that no one-number curve pictures (raised as is, not as a failed call)."""


def loss_curve(name: str, xs: Sequence[float] | np.ndarray, *,
               params: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Loss and its derivative along the loss's axis: ``(loss[x], dloss/dx[x], axis)``.

    Each point is a one-sample call (so losses whose value depends on the batch are drawn
    correctly); points where the loss rejects its input (a log loss at a negative
    prediction) are NaN. The derivative is taken by autograd with respect to ``x``.
    """
    from .compare._train import single_thread

    info = get_info(name)
    axis = axis_of(info, params)
    with single_thread():
        return (*_pointwise(info, axis, np.asarray(xs, float), dict(params or {})), axis)


def _pointwise(info: LossInfo, axis: str, xs: np.ndarray,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    loss_vals, grad_vals = [], []
    first_error: Exception | None = None
    for x0 in xs:
        x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        try:
            value = info.fn(*_one_point_args(info, axis, x), **params)
            if value.numel() != 1:
                value = value.mean()
            (g,) = torch.autograd.grad(value, x, allow_unused=True)
            loss_vals.append(float(value.detach()))
            grad_vals.append(float(g) if g is not None else 0.0)
        except _Undrawable:
            raise
        except (LossInputError, RuntimeError, ValueError, IndexError) as exc:
            first_error = first_error or exc
            loss_vals.append(math.nan)
            grad_vals.append(math.nan)
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    name = info.name + (f" ({shown})" if shown else "")
    if first_error is not None and not np.isfinite(loss_vals).any():
        # Nothing to draw: a bad hyperparameter, not a loss undefined at some points.
        if isinstance(first_error, LossInputError):
            raise LossInputError(f"{name} cannot be drawn: {first_error}")
        raise LossInputError(f"{name} cannot be drawn against one number: a one-sample "
                             f"call fails ({type(first_error).__name__}: {first_error})")
    if _flat(loss_vals) and _flat([_one_value(info, axis, float(x0), params)
                                   for x0 in _default_range(axis)]):
        # Flat over the whole default range too (a hinge is flat past its margin only): a
        # flat line is no picture of the loss, which scores whole lists, batches or
        # distributions that one number does not move.
        raise LossInputError(f"{name} cannot be drawn against one number: a one-sample call "
                             f"does not change with the {axis} (the loss scores whole lists, "
                             "batches or distributions)")
    return np.asarray(loss_vals), np.asarray(grad_vals)


def _flat(values: Sequence[float]) -> bool:
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    return bool(finite.size > 1 and np.ptp(finite) <= 1e-12 * max(1.0, float(
        np.abs(finite).max())))


def _default_range(axis: str) -> np.ndarray:
    lo, hi = _BY_AXIS[axis][1]
    return np.linspace(lo, hi, 9)


def _one_value(info: LossInfo, axis: str, x0: float, params: dict[str, Any]) -> float:
    try:
        with torch.no_grad():
            value = info.fn(*_one_point_args(info, axis, torch.tensor(x0, dtype=torch.float64)),
                            **params)
        return float(value.mean())
    except (LossInputError, RuntimeError, ValueError, IndexError):
        return math.nan


def plot_losses(names: Sequence[str], grad: bool = False, out: str | Path | None = None, *,
                params: Mapping[str, Mapping[str, Any]] | None = None,
                xlim: tuple[float, float] | None = None, points: int = 241,
                title: str | None = None) -> Any:
    """Draw the losses ``names`` (and with ``grad=True`` their gradients) on one figure.

    Losses on different axes (residual, margin, probability) get separate rows. ``params``
    maps a loss name to its hyperparameters (``{"huber": {"delta": 0.5}}``).

    Example:
        >>> plot_losses(["mse", "mae", "huber"], grad=True, out="losses.png")  # doctest: +SKIP
        'losses.png'
    """
    from . import functional  # noqa: F401  (registers the built-in losses)

    if isinstance(names, str):
        names = [names]
    if not names:
        raise LossInputError("plot_losses needs at least one loss name")
    infos = [get_info(n) for n in names]
    groups: dict[str, list[LossInfo]] = {}
    params = params or {}
    for info in infos:
        groups.setdefault(axis_of(info, params.get(info.name)), []).append(info)
    plt = _pyplot()
    ncols = 2 if grad else 1
    fig, axes = plt.subplots(len(groups), ncols, figsize=(6.2 * ncols, 4.2 * len(groups)),
                             squeeze=False)
    for row, (axis, members) in enumerate(groups.items()):
        axis_label, default = _BY_AXIS[axis]
        lo, hi = xlim or default
        if axis == "probability":
            lo, hi = max(lo, 1e-3), min(hi, 1 - 1e-3)
        xs = np.linspace(lo, hi, points)
        for i, info in enumerate(members):
            style = _STYLES[i % len(_STYLES)]  # dashes keep coinciding curves visible
            hp = dict(params.get(info.name, {}))
            label = info.name + (f" ({', '.join(f'{k}={v}' for k, v in hp.items())})" if hp else "")
            values, grads, _ = loss_curve(info.name, xs, params=hp)
            line, = axes[row][0].plot(xs, values, style, label=label, lw=2)
            if grad:
                axes[row][1].plot(xs, grads, style, label=label, lw=2, color=line.get_color())
        axes[row][0].set_xlabel(axis_label)
        axes[row][0].set_ylabel("loss")
        axes[row][0].set_title(f"Loss vs {axis}")
        if grad:
            axes[row][1].set_xlabel(axis_label)
            axes[row][1].set_ylabel(f"d loss / d {axis}")
            axes[row][1].set_title(f"Gradient vs {axis}")
        for ax in axes[row]:
            ax.axhline(0, color="0.7", lw=0.8)
            ax.axvline(0 if axis != "probability" else 0.5, color="0.85", lw=0.8)
            ax.grid(alpha=0.3)
            ax.legend()
        _clip_ylim(axes[row][0])
        if grad:
            _clip_ylim(axes[row][1])
    fig.suptitle(title or ("Loss and gradient: " if grad else "Loss: ") + ", ".join(names))
    fig.tight_layout()
    return _save(fig, out)


def curve_svg(name: str, *, params: Mapping[str, Any] | None = None,
              xlim: tuple[float, float] | None = None, points: int = 81) -> str:
    """The loss and its gradient as a small self-contained SVG (two panels, no matplotlib).

    The numbers are :func:`loss_curve`'s, on the same axis and default range as
    :func:`plot_losses`; the documentation site draws every loss page's curve with it.
    """
    info = get_info(name)
    axis = axis_of(info, params)
    label, default = _BY_AXIS[axis]
    lo, hi = xlim or default
    xs = np.linspace(lo, hi, points)
    values, grads, _ = loss_curve(info.name, xs, params=params)
    width, height, pad = 330, 230, 44
    panels = []
    for i, (ys, title) in enumerate(((values, "loss"), (grads, f"d loss / d {axis}"))):
        panels.append(_svg_panel(xs, ys, title, label.split(":")[0],
                                 x0=i * width, width=width, height=height, pad=pad))
    label = f"{info.name}: loss and gradient against the {axis}"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {2 * width} {height}" '
            f'role="img" aria-label="{label}" font-family="sans-serif" font-size="11">'
            f"<title>{label}</title>{''.join(panels)}</svg>")


def _svg_panel(xs: np.ndarray, ys: np.ndarray, title: str, xlabel: str, *, x0: float,
               width: float, height: float, pad: float) -> str:
    finite = ys[np.isfinite(ys)]
    if finite.size:
        y_lo, y_hi = np.percentile(finite, 1), np.percentile(finite, 99)
        y_lo, y_hi = min(y_lo, 0.0), max(y_hi, 0.0)
    else:
        y_lo, y_hi = 0.0, 1.0
    span = max(y_hi - y_lo, 1e-9)
    y_lo, y_hi = y_lo - 0.06 * span, y_hi + 0.06 * span
    left, right, top, bottom = x0 + pad, x0 + width - 12, 22.0, height - 34.0

    def px(x: float) -> float:
        return float(left + (x - xs[0]) / (xs[-1] - xs[0]) * (right - left))

    def py(y: float) -> float:
        return float(bottom - (min(max(y, y_lo), y_hi) - y_lo) / (y_hi - y_lo) * (bottom - top))

    segments, current = [], []
    for x, y in zip(xs, ys):
        if np.isfinite(y):
            current.append(f"{px(x):.1f},{py(y):.1f}")
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    parts = [f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
             f'fill="none" stroke="#999"/>']
    if y_lo < 0 < y_hi:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{py(0):.1f}" y2="{py(0):.1f}" '
                     f'stroke="#ccc"/>')
    parts += [f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" '
              f'points="{" ".join(seg)}"/>' for seg in segments]
    parts += [
        f'<text x="{(left + right) / 2}" y="14" text-anchor="middle">{title}</text>',
        f'<text x="{(left + right) / 2}" y="{height - 6}" text-anchor="middle">{xlabel}</text>',
        f'<text x="{left}" y="{bottom + 14}" text-anchor="start">{xs[0]:g}</text>',
        f'<text x="{right}" y="{bottom + 14}" text-anchor="end">{xs[-1]:g}</text>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{y_hi:.3g}</text>',
        f'<text x="{left - 4}" y="{bottom}" text-anchor="end">{y_lo:.3g}</text>',
    ]
    return "".join(parts)


def _clip_ylim(ax: Any) -> None:
    """Keep a loss that explodes at the edge (a log at p -> 0) from flattening the others."""
    ys = np.concatenate([ln.get_ydata() for ln in ax.get_lines() if len(ln.get_ydata()) > 2])
    ys = ys[np.isfinite(ys)]
    if ys.size:
        lo, hi = np.percentile(ys, 1), np.percentile(ys, 99)
        pad = 0.08 * max(hi - lo, 1e-9)
        ax.set_ylim(min(lo, 0) - pad, hi + pad)


def _color(comparison: Any, r: Any) -> str:
    if r.baseline:
        return "tab:gray"
    if comparison.better_than_baseline(r):
        return "tab:green"
    return "tab:red" if comparison.significant(r) else "tab:blue"


def plot_comparison(comparison: Any, out: str | Path | None = None) -> Any:
    """Left: each loss's metric, mean ± std over folds, with the fold scores. Right: the
    per-fold difference to the baseline (what the paired test sees: folds differ a lot
    in difficulty, so overlapping bars on the left can still hide a consistent win)."""
    plt = _pyplot()
    results = comparison.results
    base = next((r for r in results if r.baseline), None)
    fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(13, 0.7 * len(results) + 2.0), sharey=True,
                                   gridspec_kw={"width_ratios": [3, 2]})
    ys = np.arange(len(results))[::-1]
    for y, r in zip(ys, results):
        color = _color(comparison, r)
        scores = np.asarray(r.scores, float)
        jitter = np.linspace(-0.12, 0.12, len(scores))
        ax.scatter(scores, y + jitter, s=14, color=color, alpha=0.45, zorder=2)
        ax.errorbar(r.mean, y, xerr=r.std if np.isfinite(r.std) else None, fmt="o", ms=8,
                    color=color, capsize=5, lw=2, zorder=3)
        tag = "baseline" if r.baseline else (f"p={r.p_value:.2g}" if r.p_value is not None
                                             and np.isfinite(r.p_value) else "")
        if r.misaligned:
            tag += "  (misaligned)"
        ax.annotate(f"{r.mean:.4g}  {tag}", (r.mean, y), xytext=(0, 11),
                    textcoords="offset points", ha="center", fontsize=8)
        if base is not None and not r.baseline and len(r.scores) == len(base.scores):
            diff = scores - np.asarray(base.scores, float)
            ax_d.scatter(diff, y + jitter, s=14, color=color, alpha=0.6, zorder=2)
            ax_d.errorbar(diff.mean(), y, xerr=diff.std(ddof=1) if len(diff) > 1 else None,
                          fmt="o", ms=8, color=color, capsize=5, lw=2, zorder=3)
    ax.set_yticks(ys, [r.loss for r in results])
    ax.set_ylim(-0.7, len(results) - 0.3)
    better = "higher" if comparison.higher_is_better else "lower"
    ax.set_xlabel(f"{comparison.metric_label} on held-out folds ({better} is better); "
                  f"dots = folds, bars = ± 1 std")
    ax.set_title(f"{comparison.metric_label} per loss, {comparison.folds}-fold CV "
                 f"(green: better than {comparison.baseline}, red: worse)")
    ax_d.axvline(0, color="0.4", lw=1)
    ax_d.set_xlabel(f"{comparison.metric_label} minus {comparison.baseline}'s, same fold "
                    f"({better} is better)")
    ax_d.set_title("Paired difference to the baseline, per fold")
    for a in (ax, ax_d):
        a.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def plot_curves(comparison: Any, out: str | Path | None = None) -> Any:
    """Held-out loss (relative to its start) and metric over training, mean ± std over folds."""
    plt = _pyplot()
    fig, (ax_l, ax_m) = plt.subplots(1, 2, figsize=(12.5, 4.5))
    for i, r in enumerate(comparison.results):
        c = r.curves
        if not c:
            continue
        epochs = np.asarray(c["epoch"])
        loss = np.asarray(c["val_loss"], float)
        ref = loss[0] if loss[0] not in (0.0,) and np.isfinite(loss[0]) else 1.0
        style = "--" if r.misaligned else ("-", "-.", ":")[i % 3]
        label = r.loss + ("  (misaligned)" if r.misaligned else "")
        line, = ax_l.plot(epochs, loss / ref, style, lw=2, label=label)
        mean, std = np.asarray(c["val_metric"], float), np.asarray(c["val_metric_std"], float)
        ax_m.plot(epochs, mean, style, lw=2, color=line.get_color(), label=label)
        ax_m.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.12)
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("held-out loss / its value at epoch 0")
    ax_l.set_title("Each loss on held-out folds (its own scale)")
    ax_m.set_xlabel("epoch")
    better = "higher" if comparison.higher_is_better else "lower"
    ax_m.set_ylabel(f"held-out {comparison.metric_label} ({better} is better)")
    ax_m.set_title(f"{comparison.metric_label} during training (band: ± 1 std over folds)")
    for ax in (ax_l, ax_m):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Training curves: a dashed loss kept falling while the metric got worse"
                 if any(r.misaligned for r in comparison.results) else "Training curves")
    fig.tight_layout()
    return _save(fig, out)


def plot_monitor(monitor: Any, out: str | Path | None = None) -> Any:
    """Every recorded term against the step, events marked; the gradient norm if recorded."""
    plt = _pyplot()
    has_grad = bool(monitor.grad_norms)
    fig, axes = plt.subplots(1 + has_grad, 1, figsize=(9, 3.6 * (1 + has_grad)), squeeze=False)
    ax = axes[0][0]
    steps = np.asarray(monitor.steps)
    positive = True
    for name, series in monitor.history.items():
        ys = np.asarray(series, float)
        if np.all(np.isnan(ys)):
            continue
        positive &= bool(np.all(ys[np.isfinite(ys)] > 0))
        ax.plot(steps, ys, lw=2.2 if name == monitor.TOTAL else 1.4, label=name)
    if positive:
        ax.set_yscale("log")
    colors = {"nonfinite": "black", "divergence": "tab:red", "plateau": "tab:orange",
              "grad_explosion": "tab:purple", "kl_collapse": "tab:brown"}
    for e in monitor.events:
        for a in (row[0] for row in axes):
            a.axvline(e.step, color=colors.get(e.kind, "k"), ls=":", lw=1.2)
        ax.annotate(f"{e.kind} ({e.term})", (e.step, 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7, color=colors.get(e.kind, "k"))
    ax.set_xlabel("step")
    ax.set_ylabel("value" + (" (log scale)" if positive else ""))
    ax.set_title("Loss terms per step" + (f" — {len(monitor.events)} event(s)"
                                          if monitor.events else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if has_grad:
        g = axes[1][0]
        norms = np.asarray(monitor.grad_norms, float)
        g.plot(steps[-len(norms):], norms, color="tab:purple", lw=1.4)
        if np.all(norms[np.isfinite(norms)] > 0):
            g.set_yscale("log")
        g.set_xlabel("step")
        g.set_ylabel("gradient norm")
        g.set_title("Total gradient norm")
        g.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def plot_scenario(result: Any, out: str | Path | None = None) -> Any:
    """The figure that shows a scenario's claim (see :mod:`losskit.compare.scenarios`)."""
    plt = _pyplot()
    d = result.details
    if result.name == "misalignment":
        return plot_curves(next(iter(result.comparisons.values())), out=out)
    if result.comparisons:
        return plot_comparison(next(iter(result.comparisons.values())), out=out)
    if result.name == "vanishing_gradient":
        fig, (ax_a, ax_g) = plt.subplots(1, 2, figsize=(12, 4.2))
        for (name, c), style in zip(d["curves"].items(), _STYLES):
            ax_a.plot(c["accuracy"], style, lw=2, label=name)
            ax_g.plot(c["grad_norm"], style, lw=2, label=name)
        ax_a.set_xlabel("gradient-descent step")
        ax_a.set_ylabel("training accuracy")
        ax_a.set_title("From a confidently wrong start")
        ax_g.set_yscale("log")
        ax_g.set_xlabel("gradient-descent step")
        ax_g.set_ylabel("gradient norm (log scale)")
        ax_g.set_title("MSE on a sigmoid: the gradient vanishes where the model is most wrong")
        for ax in (ax_a, ax_g):
            ax.grid(alpha=0.3)
            ax.legend()
    elif result.name == "interpolation":
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for (name, values), style in zip(d["estimates"].items(), ("-o", "--s")):
            ax.plot(d["scales"], values, style, lw=2, ms=5,
                    label=f"{name} (delta)" if name == "huber" else f"{name} (beta)")
        ax.axhline(d["median"], color="tab:green", ls=":", label="median = MAE's optimum")
        ax.axhline(d["mean"], color="tab:red", ls=":", label="mean = MSE's optimum")
        ax.set_xscale("log")
        ax.set_xlabel("delta (Huber) / beta (Smooth L1), log scale")
        ax.set_ylabel("fitted location")
        ax.set_title("Huber and Smooth L1 move from the median to the mean as delta grows")
        ax.grid(alpha=0.3)
        ax.legend()
    else:
        raise LossInputError(f"no figure for scenario {result.name!r}")
    fig.suptitle(result.claim, fontsize=10)
    fig.tight_layout()
    return _save(fig, out)
