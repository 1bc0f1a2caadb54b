"""``torch.nn.Module`` forms of the losses: one class per registered loss.

The built-in classes are written out in :mod:`losskit._modules` (generated from the
registry by ``scripts/generate_modules.py``), so each has a real ``__init__`` signature
with typed hyperparameters and defaults, the hyperparameters as attributes
(``HuberLoss().delta == 1.0``), a docstring with a ``Shape:`` section and an
``extra_repr``. Names follow PyTorch: ``mse`` -> ``MSELoss``, ``cross_entropy`` ->
``CrossEntropyLoss``. A loss a user registers gets a class of the same kind on first use
(:func:`module_class`, which ``losskit.get`` calls).

>>> import losskit.nn
>>> losskit.nn.HuberLoss(delta=0.5)
HuberLoss(delta=0.5)
"""

from __future__ import annotations

from . import _modules
from ._core.registry import get_info
from ._modules import *  # noqa: F403  (the generated classes, re-exported under their names)
from ._nn_base import Loss, class_name

__all__ = ["Loss", "class_name", "module_class", *_modules.__all__]

_CLASSES: dict[str, type[Loss]] = {
    cls.info.name: cls for cls in (getattr(_modules, n) for n in _modules.__all__)
}


def module_class(name: str) -> type[Loss]:
    """The module class of a registered loss (built on first use for a user's loss)."""
    info = get_info(name)
    cls = _CLASSES.get(info.name)
    if cls is None or cls.info is not info:  # a user's loss, or a built-in replaced
        cls = type(class_name(info.name), (Loss,), {"info": info, "__module__": __name__})
        names = ", ".join(cls.defaults()) or "none"
        cls.__doc__ = (f"Module form of ``{info.name}``. {info.summary}\n\n"
                       f"Hyperparameters (keyword-only, also attributes): {names}.")
        _CLASSES[info.name] = cls
    return cls


def __getattr__(attr: str) -> type[Loss]:
    from ._core.registry import list_losses

    for name in list_losses():
        if class_name(name) == attr:
            return module_class(name)
    raise AttributeError(f"module 'losskit.nn' has no attribute {attr!r}")
