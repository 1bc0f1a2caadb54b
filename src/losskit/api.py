"""``losskit.get``: a loss module from a name, an alias or a weighted-sum spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._core.validate import LossInputError

if TYPE_CHECKING:
    from ._nn_base import Loss
    from .compose import Composite


def get(spec: str, **hyperparameters: Any) -> Loss | Composite:
    """Build a loss module.

    ``spec`` is a registered name or alias (``"huber"``, ``"bce"``), or a weighted sum of
    them (``"0.5*dice + 0.5*cross_entropy"``, handled by :mod:`losskit.compose`).
    Hyperparameters are passed to the single loss; for a sum, pass them per term as
    ``{"dice": {...}}`` dictionaries keyed by term name (these may also bind data, e.g.
    ``l2_penalty={"params": model}``), give ``schedules={"term": Schedule}`` for
    warm-ups, and read each term's last value from ``.last_terms``. See
    :mod:`losskit.compose`.
    """
    if not isinstance(spec, str):
        raise LossInputError(f"a loss spec must be a string (a name such as 'huber' or a sum "
                             f"such as '0.5*dice + 0.5*cross_entropy'), got "
                             f"{type(spec).__name__}")
    if any(op in spec for op in "+*"):
        from .compose import parse

        return parse(spec, **hyperparameters)
    from .nn import module_class

    cls = module_class(spec)
    allowed = cls.defaults()
    unknown = sorted(set(hyperparameters) - set(allowed))
    if unknown:
        raise LossInputError(f"{cls.info.name} has no hyperparameter {unknown[0]!r}; it takes "
                             f"{sorted(allowed)}")
    return cls(**hyperparameters)
