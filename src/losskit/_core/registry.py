"""The loss registry: one :class:`LossInfo` per loss, read by everything above ``functional``.

Adding a loss means writing one function and decorating it with
:func:`register_loss`; the nn wrapper, ``losskit.get``, the common test suite,
``check``, the CLI, the plots and the advisor all find it here.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import torch

from .validate import LossInputError

__all__ = [
    "HEADS",
    "INPUT_KINDS",
    "PROPERTIES",
    "LossFn",
    "LossInfo",
    "close_names",
    "default_head",
    "get_info",
    "list_losses",
    "register_loss",
]

#: What the first argument of a loss holds.
INPUT_KINDS = ("values", "logits", "probabilities", "log_probs", "embeddings", "boxes",
               "scores", "energies", "hidden_states", "parameters")

#: Prediction heads: what the model's raw output is to the loss, and how it becomes the
#: prediction a metric scores (``losskit.compare`` trains and scores every loss through it).
HEADS = {
    "identity": "one real value per target; the prediction is the output itself",
    "log_rate": "the log of a positive mean; the prediction is exp(output)",
    "log1p": "log1p of a non-negative prediction; the loss sees expm1(output)",
    "logit": "one logit per sample or label; the prediction is sigmoid(output)",
    "softmax": "one logit per class [N, C]; the prediction is softmax(output)",
    "log_softmax": "log-probabilities per class: the model ends in log_softmax",
    "cumulative_logits": "K - 1 logits of P(y > k) (CORAL); the prediction is the median (or "
                         "mean) of the ordinal distribution they define",
    "conditional_logits": "K - 1 logits of P(y > k | y > k - 1) (CORN); the prediction is the "
                          "median (or mean) of the ordinal distribution they define",
    "quantiles": "one value per quantile level; the prediction is the level the metric asks "
                 "for (the median by default)",
    "ensemble": "M values per target, members of an ensemble (samples of the predictive "
                "distribution); the prediction is their median (or the level or mean asked for)",
    "mean_variance": "a mean and a positive variance per target; the prediction is the mean",
    "censored_value": "the latent mean of a censored Gaussian; the prediction is that mean "
                      "clipped to the censoring limits (the median of the observed value)",
    "score": "one real score per item; only the order matters",
    "risk": "a log hazard ratio per subject; higher means an earlier event",
    "hazard_logits": "one logit per time interval of a discrete hazard; the prediction is the "
                     "survival curve",
    "survival_params": "the parameters of a survival-time distribution (log scale, log shape)",
    "energy": "one energy per class; the prediction is softmax(-energy)",
    "embedding": "an embedding vector per sample (no per-sample prediction)",
    "box": "box coordinates x1, y1, x2, y2",
    "hidden_states": "hidden states before the output layer (the loss owns the projection)",
    "none": "not a prediction (penalties, policy and preference objectives)",
}

_HEAD_OF_INPUT = {"values": "identity", "probabilities": "softmax", "log_probs": "log_softmax",
                  "embeddings": "embedding", "boxes": "box", "scores": "score",
                  "energies": "energy", "hidden_states": "hidden_states", "parameters": "none"}


def default_head(input_kind: str, target_kind: str) -> str:
    """The head a loss trains when it declares none: read off its input and target kinds."""
    if input_kind in ("logits", "scores"):
        binary = "binary" in target_kind or target_kind.startswith("+1")
        if binary:
            return "logit" if input_kind == "logits" else "score"
        if "class" in target_kind or "probabilities" in target_kind:
            return "softmax"
    if input_kind == "log_probs" and not ("class" in target_kind or "label" in target_kind):
        return "none"  # log-probabilities of sampled sequences (policy and preference losses)
    return _HEAD_OF_INPUT.get(input_kind, "none")


#: Claims a LossInfo may make; each one is verified by the common test suite.
PROPERTIES = {
    "robust_to_outliers": "the gradient stops growing with the error, so outliers pull no harder "
                          "than ordinary points",
    "bounded_gradient": "the gradient with respect to each input element stays bounded for any "
                        "input",
    "convex": "convex in the input, so a linear model has one optimum",
    "smooth": "differentiable everywhere with a continuous gradient",
    "handles_imbalance": "has a mechanism aimed at rare classes or rare foreground",
    "nonnegative": "never below zero",
    "zero_at_optimum": "exactly zero when the prediction equals the target",
    "proper_scoring": "a proper scoring rule: the expected loss under a Bernoulli or "
                      "categorical target is minimized by predicting the true probability",
}

#: A registered loss function; :func:`register_loss` returns it with its exact type.
LossFn = TypeVar("LossFn", bound=Callable[..., Any])

# Arguments of a loss that are data or reduction controls, not hyperparameters.
_NOT_HYPERPARAMETERS = {"weight", "reduction"}


@dataclass(frozen=True)
class LossInfo:
    """Everything losskit knows about one loss: identity, contract and expert knowledge.

    ``example_inputs(n, seed)`` returns the positional arguments of a valid call with a
    batch of ``n`` (``n = 0`` gives an empty batch); ``grad_args`` are the positions of
    the arguments that receive gradients. ``reference``, when set, computes the same
    value by an independent route (a torch builtin or a brute-force loop) and is called
    exactly like the loss. ``optimum(args)`` returns arguments whose input is the
    perfect prediction for the target, where one exists. ``expected_failures`` maps a
    ``check`` name to the reason that check does not apply to this loss.
    ``learnable`` names the hyperparameters that may be tensors requiring grad (a
    learnable temperature, margin, scale, ...) and then receive exact gradients; the
    common suite and ``check`` gradcheck each of them. ``head`` (one of :data:`HEADS`) says
    what the model's output is to the loss and how it becomes the prediction a metric
    scores; it defaults to :func:`default_head` of the input and target kinds.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    family: str
    tasks: tuple[str, ...]
    input_kind: str
    target_kind: str
    summary: str
    formula: str
    gradient: str
    when_to_use: str
    pitfalls: str
    example_inputs: Callable[[int, int], tuple[Any, ...]]
    aliases: tuple[str, ...] = ()
    properties: frozenset[str] = frozenset()
    references: tuple[str, ...] = ()
    grad_args: tuple[int, ...] = (0,)
    reference: Callable[..., torch.Tensor] | None = None
    optimum: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
    expected_failures: Mapping[str, str] = field(default_factory=dict)
    none_shape: str = "element"
    builtin: bool = True
    learnable: tuple[str, ...] = ()
    head: str = "identity"

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Keyword-only hyperparameters and their defaults, read off the signature."""
        return {
            p.name: p.default
            for p in self.signature.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _NOT_HYPERPARAMETERS
        }

    def accepts(self, argument: str) -> bool:
        return argument in self.signature.parameters

    @property
    def data_arguments(self) -> tuple[str, ...]:
        """Names of the positional (data) arguments, in order."""
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return tuple(p.name for p in self.signature.parameters.values() if p.kind in positional)

    def card(self) -> dict[str, Any]:
        """A JSON-friendly summary (what ``losskit explain`` prints)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "family": self.family,
            "tasks": list(self.tasks),
            "input": self.input_kind,
            "target": self.target_kind,
            "call": f"{self.name}{_plain_signature(self.signature)}",
            "hyperparameters": {k: _jsonable(v) for k, v in self.hyperparameters.items()},
            "properties": sorted(self.properties),
            "summary": self.summary,
            "formula": self.formula,
            "gradient": self.gradient,
            "when_to_use": self.when_to_use,
            "pitfalls": self.pitfalls,
            "references": list(self.references),
            "head": self.head,
        }


def _plain_signature(sig: inspect.Signature) -> str:
    """The signature without annotations: ``(input, target, *, delta=1.0, ...)``."""
    return str(sig.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()],
        return_annotation=inspect.Signature.empty,
    ))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return repr(value)


_REGISTRY: dict[str, LossInfo] = {}
_ALIASES: dict[str, str] = {}


def register_loss(
    *,
    family: str,
    tasks: Iterable[str],
    input_kind: str,
    target_kind: str,
    summary: str,
    formula: str,
    gradient: str,
    when_to_use: str,
    pitfalls: str,
    example_inputs: Callable[[int, int], tuple[Any, ...]],
    name: str | None = None,
    aliases: Iterable[str] = (),
    properties: Iterable[str] = (),
    references: Iterable[str] = (),
    grad_args: Iterable[int] = (0,),
    reference: Callable[..., torch.Tensor] | None = None,
    optimum: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    expected_failures: Mapping[str, str] | None = None,
    none_shape: str = "element",
    learnable: Iterable[str] = (),
    head: str | None = None,
    replace: bool = False,
) -> Callable[[LossFn], LossFn]:
    """Decorator that registers a loss function with its :class:`LossInfo`.

    Works the same for losskit's own losses and for a user's: once registered, a loss
    is available to ``losskit.get``, ``losskit.check``, the CLI, plots and comparisons.
    The function is returned unchanged, with its ``LossInfo`` as ``fn.info``, and keeps its
    exact type: type checkers and IDEs see the decorated function's own signature, so a
    misspelt keyword (``huber(x, y, delat=0.5)``) is flagged.

    Example::

        @losskit.register_loss(family="regression", tasks=["regression"],
                               input_kind="values", target_kind="values",
                               summary="Cubed error.", formula="mean(|x - y|^3)",
                               gradient="3 (x - y)|x - y|", when_to_use="...",
                               pitfalls="...", example_inputs=my_factory)
        def cubic(input, target, *, weight=None, reduction="mean"):
            ...
    """
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise LossInputError(f"unknown properties {sorted(unknown)}; known: {sorted(PROPERTIES)}")
    if input_kind not in INPUT_KINDS:
        raise LossInputError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
    if head is not None and head not in HEADS:
        raise LossInputError(f"head must be one of {sorted(HEADS)}, got {head!r}")

    def decorator(fn: LossFn) -> LossFn:
        loss_name = name or fn.__name__
        info = LossInfo(
            name=loss_name, fn=fn, family=family, tasks=tuple(tasks), input_kind=input_kind,
            target_kind=target_kind, summary=summary.strip(), formula=formula.strip(),
            gradient=gradient.strip(), when_to_use=when_to_use.strip(), pitfalls=pitfalls.strip(),
            example_inputs=example_inputs, aliases=tuple(aliases),
            properties=frozenset(properties), references=tuple(references),
            grad_args=tuple(grad_args), reference=reference, optimum=optimum,
            expected_failures=MappingProxyType(dict(expected_failures or {})),
            none_shape=none_shape, builtin=fn.__module__.startswith("losskit."),
            learnable=tuple(learnable), head=head or default_head(input_kind, target_kind),
        )
        missing = [p for p in info.learnable if p not in info.signature.parameters]
        if missing:
            raise LossInputError(f"learnable names {missing[0]!r}, which {loss_name} does not take")
        taken = [n for n in (loss_name, *info.aliases) if n in _REGISTRY or n in _ALIASES]
        if taken and not replace:
            raise LossInputError(
                f"loss name or alias {taken[0]!r} is already registered; pass replace=True "
                "to override it"
            )
        _REGISTRY[loss_name] = info
        for alias in info.aliases:
            _ALIASES[alias] = loss_name
        setattr(fn, "info", info)  # noqa: B010  (a function attribute the type does not declare)
        return fn

    return decorator


def close_names(name: str, n: int = 5) -> list[str]:
    return difflib.get_close_matches(name, [*_REGISTRY, *_ALIASES], n=n, cutoff=0.5)


def get_info(name: str) -> LossInfo:
    """The :class:`LossInfo` of a registered loss, by name or alias."""
    if not isinstance(name, str):
        raise LossInputError(f"a loss name must be a string such as 'huber', got "
                             f"{type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        near = close_names(key) if len(key) <= 60 else []
        hint = f"; did you mean {', '.join(near)}?" if near else "; see losskit.list_losses()"
        shown = repr(name) if len(name) <= 60 else f"{name[:60]!r}... ({len(name)} chars)"
        raise LossInputError(f"unknown loss {shown}{hint}")
    return _REGISTRY[key]


def list_losses(task: str | None = None, family: str | None = None) -> list[str]:
    """Names of registered losses, optionally only those for a task or of a family."""
    return sorted(
        n for n, info in _REGISTRY.items()
        if (task is None or task in info.tasks) and (family is None or family == info.family)
    )
