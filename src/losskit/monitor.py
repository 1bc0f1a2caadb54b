"""``LossMonitor``: watch a training loop's loss, term by term, and say what went wrong.

Works in any loop and with composite losses: a module built by ``losskit.get("0.5*dice
+ 0.5*cross_entropy")`` exposes ``last_terms`` (term name -> detached tensor) and the
monitor records every term at every step. It reports

* a non-finite value (NaN/Inf), naming the term and the step where it first appeared;
* divergence: the smoothed loss climbs back above where it started;
* plateaus: the smoothed loss stops improving for ``plateau_steps`` steps;
* gradient-norm explosions (with ``model=``): a norm far above its recent median, or
  non-finite gradients;
* a collapsing KL term in a VAE objective (posterior collapse): the KL term falls to
  almost zero and stays there, so the decoder has stopped using the latent code.

Example::

    monitor = LossMonitor(model=model, loss=criterion)
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        optimizer.zero_grad(); loss.backward()
        monitor.record(loss)          # after backward: gradient norms are read here
        if monitor.should_stop:
            break
        optimizer.step()
    print(monitor.summary()["events"]); monitor.plot("training.png")
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["LossMonitor", "MonitorEvent"]


@dataclass(frozen=True)
class MonitorEvent:
    """Something the monitor noticed: ``kind`` is ``nonfinite``, ``divergence``,
    ``plateau``, ``grad_explosion`` or ``kl_collapse``."""

    kind: str
    step: int
    term: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scalar(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach()
        return float(value.float().mean()) if value.numel() != 1 else float(value)
    return float(value)


class _SlidingMin:
    """Minimum of the last ``size`` values in O(1) amortized per push (a monotonic deque)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: deque[tuple[int, float]] = deque()
        self._count = 0

    def push(self, value: float) -> None:
        while self._items and self._items[-1][1] >= value:
            self._items.pop()
        self._items.append((self._count, value))
        self._count += 1
        while self._items[0][0] <= self._count - 1 - self.size:
            self._items.popleft()

    @property
    def value(self) -> float:
        return self._items[0][1] if self._items else math.nan


class LossMonitor:
    """Record a loss (and its terms, and the gradient norm) per step; detect trouble.

    Every :meth:`record` costs O(1) in the length of the run: the detectors read streaming
    statistics, not the history. The smoothed loss is the median of the last ``window``
    values (a fixed window: the median of a run of minibatch losses shrugs off single
    outliers, which a running mean does not, and a window of 20 sorts in microseconds);
    the best smoothed value so far and the start are kept as numbers, and the best value
    over the last ``plateau_steps`` steps comes from a monotonic deque. The history itself
    is kept (appending is O(1)) for :meth:`summary` and :meth:`plot`.

    Args:
        model: if given, the total gradient norm of its parameters is recorded at every
            :meth:`record` (call it after ``backward()``).
        loss: a loss module; if it has ``last_terms``, its terms are recorded automatically.
        window: steps in the running median used by divergence and plateau checks.
        plateau_steps: a plateau is reported when the running median improved by less
            than ``plateau_tol`` (relative to the total improvement so far) over this many
            steps.
        grad_factor: a gradient norm more than this many times its recent median is an
            explosion.
        kl_terms: substrings that mark a KL term (case-insensitive).
        kl_floor: a KL term below this (nats, as the loss reports it) for ``window`` steps
            after having been at least 10x larger has collapsed.
    """

    TOTAL = "total"

    def __init__(self, model: torch.nn.Module | None = None, *, loss: Any = None,
                 window: int = 20, plateau_steps: int = 200, plateau_tol: float = 1e-3,
                 grad_factor: float = 10.0, kl_terms: tuple[str, ...] = ("kl",),
                 kl_floor: float = 1e-2) -> None:
        self.model = model
        self.loss = loss
        self.window = int(window)
        self.plateau_steps = int(plateau_steps)
        self.plateau_tol = float(plateau_tol)
        self.grad_factor = float(grad_factor)
        self.kl_terms = tuple(k.lower() for k in kl_terms)
        self.kl_floor = float(kl_floor)
        self.history: dict[str, list[float]] = {self.TOTAL: []}
        self.steps: list[int] = []
        self.grad_norms: list[float] = []
        self.events: list[MonitorEvent] = []
        self._reported: set[tuple[str, str]] = set()
        self._kl_peak: dict[str, float] = {}
        self._kl_low: dict[str, int] = {}
        # Streaming state of the smoothed total loss (see the class docstring).
        self._recent: deque[float] = deque(maxlen=self.window)
        self._nonfinite_recent = 0
        self._smoothed_history: list[float] = []
        self._smoothed_start = math.nan
        self._smoothed_best = math.inf
        self._plateau_window = _SlidingMin(max(self.plateau_steps, 1))
        self._plateau_level: float | None = None  # the best value when a plateau was reported
        self._recent_grads: deque[float] = deque(maxlen=self.window)

    # -- recording ---------------------------------------------------------------------
    def record(self, loss: Any, terms: Mapping[str, Any] | None = None,
               step: int | None = None) -> list[MonitorEvent]:
        """Record one step; returns the events first noticed at this step."""
        step = (self.steps[-1] + 1 if self.steps else 0) if step is None else int(step)
        if terms is None and self.loss is not None:
            terms = getattr(self.loss, "last_terms", None)
        values = {self.TOTAL: _scalar(loss)}
        for name, value in (terms or {}).items():
            if name != self.TOTAL:
                values[str(name)] = _scalar(value)
        n_before = len(self.steps)
        for name, value in values.items():
            if name not in self.history:  # a term first seen now: NaN for the earlier steps
                self.history[name] = [math.nan] * n_before
            self.history[name].append(value)
        for name, series in self.history.items():
            if name not in values:
                series.append(math.nan)
        self.steps.append(step)
        self._update_smoothed(values[self.TOTAL])
        new = len(self.events)
        self._check_nonfinite(step, values)
        if self.model is not None:
            self._check_gradients(step)
        self._check_divergence(step)
        self._check_plateau(step)
        self._check_kl(step, values)
        return self.events[new:]

    def _emit(self, kind: str, step: int, term: str, message: str, once: bool = True) -> None:
        if once and (kind, term) in self._reported:
            return
        self._reported.add((kind, term))
        self.events.append(MonitorEvent(kind, step, term, message))

    def _check_nonfinite(self, step: int, values: Mapping[str, float]) -> None:
        bad = [n for n, v in values.items() if not math.isfinite(v)]
        # Name the term that caused it rather than the total it contaminated.
        for name in [n for n in bad if n != self.TOTAL] or bad:
            value = values[name]
            self._emit("nonfinite", step, name,
                       f"term {name!r} is {value} at step {step}" if name != self.TOTAL
                       else f"the loss is {value} at step {step}")

    def _update_smoothed(self, value: float) -> None:
        if len(self._recent) == self.window and not math.isfinite(self._recent[0]):
            self._nonfinite_recent -= 1
        self._recent.append(value)
        if not math.isfinite(value):
            self._nonfinite_recent += 1
        if len(self._recent) < self.window or self._nonfinite_recent:
            smoothed = math.nan
        else:
            smoothed = float(statistics.median(self._recent))
        self._smoothed_history.append(smoothed)
        if math.isfinite(smoothed):
            if math.isnan(self._smoothed_start):
                self._smoothed_start = smoothed
            self._smoothed_best = min(self._smoothed_best, smoothed)
        self._plateau_window.push(smoothed if math.isfinite(smoothed) else math.inf)

    def _check_gradients(self, step: int) -> None:
        assert self.model is not None
        grads = [p.grad.detach() for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return
        norm = float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g.float()) for g in grads])))
        self.grad_norms.append(norm)
        past = [g for g in self._recent_grads if math.isfinite(g)]
        self._recent_grads.append(norm)
        if not math.isfinite(norm):
            self._emit("grad_explosion", step, "gradient",
                       f"the gradient norm is {norm} at step {step}")
            return
        if len(past) >= min(10, self.window):
            median = float(statistics.median(past))
            if median > 0 and norm > self.grad_factor * median:
                self._emit("grad_explosion", step, "gradient",
                           f"gradient norm {norm:.3g} at step {step} is {norm / median:.0f}x "
                           f"its recent median {median:.3g}; lower the learning rate or clip "
                           f"gradients")

    def _smoothed(self, name: str = TOTAL) -> np.ndarray:
        """The running median of a term over ``window`` steps (NaN until it is full)."""
        if name == self.TOTAL:
            return np.asarray(self._smoothed_history, float)
        x = np.asarray(self.history[name], float)
        w = min(self.window, len(x))
        if w == 0:
            return x
        view = np.lib.stride_tricks.sliding_window_view(x, w)
        return np.concatenate([np.full(w - 1, np.nan), np.median(view, axis=1)])

    def _check_divergence(self, step: int) -> None:
        if len(self.steps) < 2 * self.window or self._nonfinite_recent:
            return
        start, best, now = self._smoothed_start, self._smoothed_best, self._smoothed_history[-1]
        margin = max(start - best, abs(best), 1e-12)
        if now > best + margin and now > start:
            self._emit("divergence", step, self.TOTAL,
                       f"loss diverging: smoothed loss {now:.4g} at step {step} is back above "
                       f"its start {start:.4g} (best {best:.4g}); lower the learning rate")

    def _check_plateau(self, step: int) -> None:
        """A plateau is reported once. It ends (and a later stall is reported again) only when
        the smoothed loss has fallen below the level where the plateau was reported by ten
        times the tolerance (1% of the loss's scale by default): a hysteresis, so that noise
        or a loss creeping down at about the tolerance's rate does not turn one long plateau
        into a stream of events."""
        n = len(self.steps)
        if n < self.plateau_steps + self.window:
            return
        start, best = self._smoothed_start, self._smoothed_best
        scale = max(abs(start - best), abs(start), 1e-12)
        tolerance = self.plateau_tol * scale
        before = self._smoothed_history[-self.plateau_steps - 1]
        recent = before - self._plateau_window.value
        if self._plateau_level is not None:
            if best < self._plateau_level - 10 * tolerance:  # training clearly resumed
                self._plateau_level = None
            return
        if math.isfinite(recent) and recent <= tolerance:
            self._plateau_level = best
            since = self.steps[-self.plateau_steps - 1]
            self._emit("plateau", step, self.TOTAL,
                       f"plateau: the loss improved by less than {self.plateau_tol:.1%} "
                       f"from step {since} to {step} (smoothed "
                       f"{self._smoothed_history[-1]:.4g})", once=False)

    def _check_kl(self, step: int, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            if name == self.TOTAL or not any(k in name.lower() for k in self.kl_terms):
                continue
            if not math.isfinite(value):
                continue
            self._kl_peak[name] = max(self._kl_peak.get(name, value), value)
            if value < self.kl_floor and self._kl_peak[name] >= 10 * self.kl_floor:
                self._kl_low[name] = self._kl_low.get(name, 0) + 1
            else:
                self._kl_low[name] = 0
            if self._kl_low[name] == self.window:
                self._emit("kl_collapse", step, name,
                           f"KL term {name!r} collapsed: below {self.kl_floor:g} for "
                           f"{self.window} steps by step {step} (peak "
                           f"{self._kl_peak[name]:.3g}); the decoder ignores the latent code "
                           f"(posterior collapse). Try KL annealing, free bits or a weaker "
                           f"decoder")

    # -- reading -----------------------------------------------------------------------
    @property
    def should_stop(self) -> bool:
        """True once the loss is non-finite or diverging: further steps are wasted."""
        return any(e.kind in ("nonfinite", "divergence") for e in self.events)

    @property
    def terms(self) -> list[str]:
        return [n for n in self.history if n != self.TOTAL]

    def summary(self) -> dict[str, Any]:
        """Per-term first/last/min values, gradient norms, events and an overall status."""
        out_terms = {}
        for name, series in self.history.items():
            x = np.asarray(series, float)
            finite = x[np.isfinite(x)]
            tail = x[-self.window:]
            tail = tail[np.isfinite(tail)]
            out_terms[name] = {
                "first": float(finite[0]) if finite.size else None,
                "last": float(x[-1]) if x.size and math.isfinite(x[-1]) else None,
                "min": float(finite.min()) if finite.size else None,
                "recent_mean": float(tail.mean()) if tail.size else None,
            }
        severe = {"nonfinite", "divergence", "grad_explosion"}
        status = ("failed" if any(e.kind in severe for e in self.events)
                  else "warning" if self.events else "ok")
        grads = np.asarray(self.grad_norms, float)
        return {
            "steps": len(self.steps), "status": status, "terms": out_terms,
            "grad_norm": ({"last": float(grads[-1]), "max": float(np.nanmax(grads))}
                          if grads.size else None),
            "events": [e.to_dict() for e in self.events],
        }

    def __str__(self) -> str:
        s = self.summary()
        lines = [f"{s['steps']} steps, status {s['status']}"]
        for name, t in s["terms"].items():
            if t["first"] is not None:
                last = "nan" if t["last"] is None else f"{t['last']:.4g}"
                lines.append(f"  {name}: {t['first']:.4g} -> {last} (min {t['min']:.4g})")
        lines += [f"  [{e.kind}] {e.message}" for e in self.events]
        return "\n".join(lines)

    def plot(self, path: str) -> str:
        """Write a PNG of every term (and the gradient norm) against the step."""
        from .plot import plot_monitor

        return str(plot_monitor(self, out=path))
