"""``torch.nn.Module`` wrappers, generated from the registry: one class per loss.

A wrapper holds only the hyperparameters (tensors such as ``class_weight`` become
buffers, so ``.to(device)`` moves them) and its ``forward`` is one line. Names follow
PyTorch: ``mse`` -> ``MSELoss``, ``cross_entropy`` -> ``CrossEntropyLoss``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from . import functional as _functional  # noqa: F401  (registers the built-in losses)
from ._core.registry import LossInfo, get_info, list_losses
from ._core.validate import LossInputError

__all__ = ["Loss", "class_name", "module_class"]

_ACRONYMS = {"mse": "MSE", "mae": "MAE", "msle": "MSLE", "nll": "NLL", "kl": "KL", "js": "JS",
             "ctc": "CTC", "giou": "GIoU", "diou": "DIoU", "ciou": "CIoU", "nce": "NCE",
             "nt": "NT", "vae": "VAE", "elbo": "ELBO", "f1": "F1", "supcon": "SupCon",
             "xent": "Xent", "l1": "L1", "l2": "L2"}


class Loss(torch.nn.Module):
    """Base of the generated wrappers: stores hyperparameters, forwards to the function."""

    info: ClassVar[LossInfo]

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__()
        allowed = set(self.info.hyperparameters) | {"reduction"}
        unknown = sorted(set(hyperparameters) - allowed)
        if unknown:
            raise LossInputError(
                f"{self.info.name} has no hyperparameter {unknown[0]!r}; "
                f"it takes {sorted(allowed)}"
            )
        self._plain: dict[str, Any] = {}
        for key, value in hyperparameters.items():
            if isinstance(value, torch.Tensor):
                self.register_buffer(key, value)
            else:
                self._plain[key] = value

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return {**self._plain, **dict(self.named_buffers(recurse=False))}

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.info.fn(*args, **self.hyperparameters, **kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._plain.items())

    # Arithmetic builds weighted sums (losskit.compose): 0.5 * dice + 0.5 * ce.
    def __add__(self, other: Any) -> Any:
        from .compose import as_composite

        return as_composite(self).__add__(other)

    def __radd__(self, other: Any) -> Any:
        from .compose import as_composite

        return as_composite(self).__radd__(other)

    def __mul__(self, factor: Any) -> Any:
        from .compose import as_composite

        return as_composite(self).__mul__(factor)

    __rmul__ = __mul__


def class_name(name: str) -> str:
    return "".join(_ACRONYMS.get(p, p.capitalize()) for p in name.split("_")) + "Loss"


_CLASSES: dict[str, type[Loss]] = {}


def module_class(name: str) -> type[Loss]:
    """The wrapper class of a registered loss (built on first use for user losses)."""
    info = get_info(name)
    cls = _CLASSES.get(info.name)
    if cls is None or cls.info is not info:
        doc = f"Module form of :func:`losskit.functional.{info.name}`. {info.summary}"
        cls = type(class_name(info.name), (Loss,), {"info": info, "__doc__": doc,
                                                     "__module__": __name__})
        _CLASSES[info.name] = cls
    return cls


for _name in list_losses():
    globals()[class_name(_name)] = module_class(_name)
    __all__.append(class_name(_name))


def __getattr__(attr: str) -> type[Loss]:
    for name in list_losses():
        if class_name(name) == attr:
            return module_class(name)
    raise AttributeError(f"module 'losskit.nn' has no attribute {attr!r}")
