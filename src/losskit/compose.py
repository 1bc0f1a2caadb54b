"""Weighted sums of losses: ``"0.5*dice + 0.5*cross_entropy"`` and ``0.5 * dice + 0.5 * ce``.

Build a composite from a spec string::

    loss = losskit.get("0.5*dice + 0.5*cross_entropy", dice={"include_background": False})
    value = loss(logits, target)
    loss.last_terms      # {"dice": tensor(...), "cross_entropy": tensor(...)}, detached

or from loss modules with ``*`` and ``+`` (weights may be numbers or schedules)::

    from losskit.schedules import LinearWarmup
    loss = losskit.get("mse") + 0.1 * LinearWarmup(1000) * losskit.get("gaussian_kl")

**Hyperparameters.** ``losskit.get(spec, **kw)``: a keyword named like a term (as
written in the spec) takes a dict for that term only; other keywords go to every
term that has a hyperparameter of that name (``reduction="sum"``); ``schedules=``
maps term names to schedules.

**Terms that need other data than (input, target).** Each term receives the data
arguments of its own function: those *bound* at construction (a term's dict may
hold data arguments as well as hyperparameters, e.g. ``l2_penalty={"params":
model}`` binds a model whose parameters are read at every call), then those passed
to the call by keyword (``loss(recon, x, mu=mu, logvar=logvar)`` routes ``mu`` and
``logvar`` to ``gaussian_kl``; ``loss(logits, y, group=g)`` routes ``group`` to a
fairness gap), and finally the call's positional arguments, in order, fill the
remaining *required* data arguments of every term. Any call keyword is given to
every term whose function accepts it; a keyword no term accepts is an error. Model
parameters (``l1_penalty``, ``l2_penalty``) are never taken from positional
arguments. Modules that are not losskit losses receive the call's arguments as they
are.

**Schedules and the step counter.** A term's weight is ``coefficient *
schedule(step)`` (see :mod:`losskit.schedules`). The composite keeps the step:
``composite.step()`` advances it by one (call it once per optimizer step, like a
learning-rate scheduler); ``composite(..., step=k)`` sets it to ``k`` before
computing. Calling the composite never advances it by itself, so evaluation calls
do not move a warm-up. The step is a buffer, saved in ``state_dict``.

**Logging.** After each call ``last_terms`` maps term name -> detached, *unweighted*
value and ``last_weights`` term name -> the weight used.

**Learned task weights.** ``weighting=`` (a keyword of ``losskit.get`` / :func:`parse`
and of :class:`Composite`) replaces the plain sum by a module that combines the terms,
such as :class:`~losskit.weighting.UncertaintyWeighting` or
:class:`~losskit.weighting.GradNorm`: it receives the dict term name -> weighted term
(``coefficient * schedule * value``, still attached to the graph) and returns the total.
It becomes a submodule, so ``composite.parameters()`` holds its learnable weights (give
them to the optimizer); ``last_terms`` and ``last_weights`` are kept as above (the learned
multipliers are the weighting's ``weights``). Adding to such a composite with ``+``
raises, since the weighting was built for its number of terms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ._composite import Composite, _Term, _unique, as_composite
from ._core.registry import LossInfo, close_names, get_info
from ._core.validate import LossInputError
from .nn import Loss, module_class
from .schedules import Constant, as_schedule

__all__ = ["Composite", "as_composite", "bind", "parse"]


def _split_term_options(info: LossInfo, term: str, options: Mapping[str, Any]
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a term's options into constructor hyperparameters and bound data arguments."""
    if not isinstance(options, Mapping):
        raise LossInputError(f"options for term {term!r} must be a dict, got "
                             f"{type(options).__name__}")
    hyper_names = set(info.hyperparameters) | {"reduction"}
    bindable = set(info.signature.parameters) - hyper_names
    hyper, bound = {}, {}
    for key, value in options.items():
        if key in hyper_names:
            hyper[key] = value
        elif key in bindable:
            bound[key] = value
        else:
            raise LossInputError(
                f"term {term!r} ({info.name}) has no option {key!r}; hyperparameters: "
                f"{sorted(hyper_names)}, data arguments to bind: {sorted(bindable)}"
            )
    return hyper, bound


def bind(loss: str | Loss, /, **options: Any) -> Composite:
    """A one-term composite with data arguments bound (and hyperparameters set).

    >>> import torch, losskit
    >>> model = torch.nn.Linear(3, 1)
    >>> objective = losskit.get("mse") + 0.01 * bind("l2_penalty", params=model)
    >>> objective.terms
    ('mse', 'l2_penalty')
    """
    if isinstance(loss, str):
        info = get_info(loss)
        hyper, bound = _split_term_options(info, info.name, options)
        module = module_class(info.name)(**hyper)
    elif isinstance(loss, Loss):
        hyper, bound = _split_term_options(loss.info, loss.info.name, options)
        if hyper:
            raise LossInputError(f"set hyperparameters {sorted(hyper)} when building the loss "
                                 "module, bind() only binds data arguments to an existing one")
        module = loss
    else:
        raise LossInputError(f"bind() takes a loss name or a losskit loss module, got "
                             f"{type(loss).__name__}")
    return Composite._from_terms([_Term(module.info.name, module, bound=bound)])


# --- spec strings -------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<op>[+*])
  | (?P<bad>\S)
)""", re.VERBOSE)


def _tokens(spec: str) -> list[tuple[str, str, int]]:
    out = []
    for m in _TOKEN.finditer(spec):
        kind = m.lastgroup
        if kind is None:
            continue
        out.append((kind, m.group(kind), m.start(kind)))
    return out


def _shown(text: str, limit: int = 60) -> str:
    """``text`` quoted, shortened to about ``limit`` characters for an error message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def _syntax_error(spec: str, pos: int, what: str) -> LossInputError:
    before = spec[max(0, pos - 30):pos]
    return LossInputError(f"cannot parse loss spec {_shown(spec)}: {what} at position {pos} "
                          f"({'...' if pos > 30 else ''}{before!r} <- here); write a weighted "
                          "sum such as '0.5*dice + 0.5*cross_entropy'")


def _parse_terms(spec: str) -> list[tuple[float, str]]:
    """``[(coefficient, name as written), ...]`` from ``'w1*name1 + name2*w2 + ...'``."""
    terms: list[tuple[float, str]] = []
    coefficient, name, expect_operand, last_pos = 1.0, None, True, 0
    for kind, text, pos in [*_tokens(spec), ("end", "", len(spec))]:
        last_pos = pos
        if kind == "bad":
            raise _syntax_error(spec, pos, f"unexpected character {text!r}")
        if expect_operand:
            if kind == "number":
                coefficient *= float(text)
                if not math.isfinite(coefficient):
                    raise _syntax_error(spec, pos, f"the weight {text[:30]} is not finite")
            elif kind == "name":
                if name is not None:
                    raise _syntax_error(spec, pos, f"two loss names multiplied ({name!r} * "
                                                   f"{text!r})")
                name = text
            else:
                raise _syntax_error(spec, pos, "expected a number or a loss name")
            expect_operand = False
        elif kind == "op" and text == "*":
            expect_operand = True
        elif kind in ("op", "end"):
            if name is None:
                raise _syntax_error(spec, pos, "a term without a loss name")
            terms.append((coefficient, name.lower().replace("-", "_")))
            coefficient, name, expect_operand = 1.0, None, True
            if kind == "end":
                return terms
        else:
            raise _syntax_error(spec, pos, f"expected '+' or '*' before {text!r}")
    raise _syntax_error(spec, last_pos, "unexpected end")  # pragma: no cover


def parse(spec: str, **hyperparameters: Any) -> Composite:
    """Build a :class:`Composite` from a spec such as ``"0.5*dice + 0.5*cross_entropy"``.

    Args:
        spec: terms joined by ``+``; each is a registered loss name or alias, optionally
            multiplied by numbers (``0.5*dice``, ``dice*0.5``, ``1e-3*l2_penalty``).
            Repeating a loss gives terms ``huber``, ``huber_2``, ...
        **hyperparameters: ``<term>={...}`` options for one term (hyperparameters and
            data arguments to bind, e.g. ``l2_penalty={"params": model}``);
            ``schedules={<term>: Schedule}`` multiplies a term's coefficient by a
            schedule; ``weighting=`` a module that combines the weighted terms instead
            of summing them (learned task weights, see the module docstring); any other
            keyword is a hyperparameter for every term that has it.

    Raises:
        LossInputError: the spec does not parse, names an unknown loss (the message lists
            close names), or an option fits no term.
    """
    if not isinstance(spec, str):
        raise LossInputError(f"spec must be a string, got {type(spec).__name__}")
    parsed = _parse_terms(spec)
    infos, unknown = [], []
    for _, written in parsed:
        try:
            infos.append(get_info(written))
        except LossInputError:
            unknown.append(written)
    if unknown:
        hints = []
        for u in unknown[:3]:
            near = close_names(u) if len(u) <= 60 else []
            hints.append(_shown(u) + (f" (did you mean {', '.join(near)}?)" if near else ""))
        raise LossInputError(f"unknown loss {', '.join(hints)} in spec {_shown(spec)}; see "
                             "losskit.list_losses()")

    names: list[str] = []
    for _, written in parsed:
        names.append(_unique(written, set(names)))
    canonical: dict[str, str] = {}
    for n, info in zip(names, infos):
        canonical.setdefault(info.name, n)

    schedules = dict(hyperparameters.pop("schedules", None) or {})
    weighting = hyperparameters.pop("weighting", None)
    per_term: dict[str, Mapping[str, Any]] = {}
    shared: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        target = key if key in names else canonical.get(key)
        if target is not None and isinstance(value, Mapping):
            per_term[target] = value
        elif target is not None:
            raise LossInputError(f"options for term {key!r} must be a dict, e.g. "
                                 f"{key}={{...}}; got {type(value).__name__}")
        else:
            shared[key] = value
    for key in shared:
        if not any(key in info.hyperparameters or key == "reduction" for info in infos):
            raise LossInputError(f"{key!r} is neither a term of {tuple(names)} nor a "
                                 "hyperparameter of any of them")

    terms = []
    for (coefficient, _), name, info in zip(parsed, names, infos):
        hyper = {k: v for k, v in shared.items()
                 if k in info.hyperparameters or k == "reduction"}
        own_hyper, bound = _split_term_options(info, name, per_term.get(name, {}))
        module = module_class(info.name)(**{**hyper, **own_hyper})
        sched_key = name if name in schedules else info.name if info.name in schedules else None
        schedule = as_schedule(schedules.pop(sched_key)) if sched_key is not None else None
        if isinstance(schedule, Constant):
            coefficient, schedule = coefficient * schedule.constant, None
        terms.append(_Term(name, module, coefficient, schedule, bound))
    if schedules:
        raise LossInputError(f"schedules name terms {sorted(schedules)} that are not in "
                             f"{tuple(names)}")
    return Composite._from_terms(terms, weighting)
