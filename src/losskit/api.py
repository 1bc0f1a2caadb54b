"""``losskit.get``: a loss module from a name, an alias or a weighted-sum spec."""

from __future__ import annotations

from typing import Any

import torch

from .nn import module_class


def get(spec: str, **hyperparameters: Any) -> torch.nn.Module:
    """Build a loss module.

    ``spec`` is a registered name or alias (``"huber"``, ``"bce"``), or a weighted sum of
    them (``"0.5*dice + 0.5*cross_entropy"``, handled by :mod:`losskit.compose`).
    Hyperparameters are passed to the single loss; for a sum, pass them per term as
    ``{"dice": {...}}`` dictionaries keyed by term name (these may also bind data, e.g.
    ``l2_penalty={"params": model}``), give ``schedules={"term": Schedule}`` for
    warm-ups, and read each term's last value from ``.last_terms``. See
    :mod:`losskit.compose`.
    """
    if any(op in spec for op in "+*"):
        from .compose import parse

        return parse(spec, **hyperparameters)
    return module_class(spec)(**hyperparameters)
