"""The base of every loss module: hyperparameters as attributes, a one-line forward.

The explicit classes in :mod:`losskit._modules` (generated from the registry by
``scripts/generate_modules.py``) and the classes built on first use for a user's
registered loss (:func:`losskit.nn.module_class`) all derive from :class:`Loss`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from ._composite import as_composite
from ._core.registry import LossInfo
from ._core.validate import LossInputError, check_reduction

__all__ = ["Loss", "class_name"]

_ACRONYMS = {"mse": "MSE", "mae": "MAE", "msle": "MSLE", "nll": "NLL", "kl": "KL", "js": "JS",
             "ctc": "CTC", "giou": "GIoU", "diou": "DIoU", "ciou": "CIoU", "nce": "NCE",
             "nt": "NT", "vae": "VAE", "elbo": "ELBO", "f1": "F1", "supcon": "SupCon",
             "xent": "Xent", "l1": "L1", "l2": "L2",
             # survival, ranking, forecasting
             "ph": "PH", "deephit": "DeepHit", "ndcg": "NDCG", "listnet": "ListNet",
             "listmle": "ListMLE", "lambdarank": "LambdaRank", "mape": "MAPE", "smape": "SMAPE",
             "mase": "MASE",
             # alignment and RL fine-tuning
             "dpo": "DPO", "simpo": "SimPO", "orpo": "ORPO", "kto": "KTO", "ppo": "PPO",
             "grpo": "GRPO"}


def class_name(name: str) -> str:
    """The module class name of a loss, PyTorch style: ``mse`` -> ``MSELoss``."""
    return "".join(_ACRONYMS.get(p, p.capitalize()) for p in name.split("_")) + "Loss"


def _tensor_annotation(parameter: inspect.Parameter) -> bool:
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return "Tensor" in str(text)


class Loss(torch.nn.Module):
    """A loss as a module: holds the hyperparameters, forwards to the registered function.

    Every hyperparameter of the function (and ``reduction``) is an attribute, set to its
    default unless given: ``losskit.nn.HuberLoss().delta == 1.0``. Tensors become buffers
    (so ``.to(device)`` moves them) and an ``nn.Parameter`` (a learnable temperature or
    margin) becomes a parameter of the module, so the optimizer sees it. Assigning an
    attribute later changes the next call. Keywords given to a call (``weight=``,
    ``mask=``) are passed to the function and take precedence over the attributes.
    """

    info: ClassVar[LossInfo]

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__()
        defaults = self.defaults()
        unknown = sorted(set(hyperparameters) - set(defaults))
        if unknown:
            raise LossInputError(
                f"{self.info.name} has no hyperparameter {unknown[0]!r}; "
                f"it takes {sorted(defaults)}"
            )
        reduction = hyperparameters.get("reduction", defaults.get("reduction"))
        if "reduction" in defaults and isinstance(reduction, str):
            check_reduction(reduction)
        parameters = self.info.signature.parameters
        for key, default in defaults.items():
            value = hyperparameters.get(key, default)
            if isinstance(value, torch.nn.Parameter):
                self.register_parameter(key, value)
            elif isinstance(value, torch.Tensor) or (
                    value is None and key in parameters and _tensor_annotation(parameters[key])):
                self.register_buffer(key, value)  # None stays a slot that .to() will move
            else:
                setattr(self, key, value)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Hyperparameter name -> default, with ``reduction`` where the function has one."""
        out = dict(cls.info.hyperparameters)
        reduction = cls.info.signature.parameters.get("reduction")
        if reduction is not None:
            out["reduction"] = reduction.default
        return out

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The current value of every hyperparameter (attributes, buffers, parameters)."""
        return {key: getattr(self, key) for key in self.defaults()}

    def _arguments(self, call: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of one call: the hyperparameters, overridden by ``call``."""
        return {**self.hyperparameters, **call}

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.info.fn(*args, **self._arguments(kwargs))

    def extra_repr(self) -> str:
        """The hyperparameters that differ from their defaults (tensors by shape)."""
        parts = []
        for key, default in self.defaults().items():
            value = getattr(self, key)
            if isinstance(value, torch.Tensor):
                parts.append(f"{key}=<tensor {list(value.shape)}>")
            elif value is not default and value != default:
                parts.append(f"{key}={value!r}")
        return ", ".join(parts)

    # Arithmetic builds weighted sums (losskit.compose): 0.5 * dice + 0.5 * ce.
    def __add__(self, other: Any) -> Any:
        return as_composite(self).__add__(other)

    def __radd__(self, other: Any) -> Any:
        return as_composite(self).__radd__(other)

    def __mul__(self, factor: Any) -> Any:
        return as_composite(self).__mul__(factor)

    __rmul__ = __mul__
