"""Post-hoc calibration of a trained classifier's probabilities.

:func:`temperature_scale` fits one temperature T > 0 on held-out logits by minimizing the
negative log-likelihood of ``softmax(logits / T)`` (Guo, Pleiss, Sun & Weinberger, On
Calibration of Modern Neural Networks, ICML 2017). Dividing every logit by the same
positive number never changes the argmax or the ranking, so accuracy and AUC stay as they
are while over- (T > 1) or under-confidence (T < 1) is corrected.

Temperature fixes a scale, not a shift: the bias a ``pos_weight`` or class weights add to
the logits needs a bias term (Platt scaling) or subtracting log(weight), not a temperature.
"""

from __future__ import annotations

import torch

from ._core.validate import LossInputError, check_class_indices, check_floating

__all__ = ["temperature_scale"]


def _nll(logits: torch.Tensor, target: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    z = logits / temperature
    if z.ndim == 1:  # binary: one logit per sample, 0/1 targets
        return torch.nn.functional.binary_cross_entropy_with_logits(z, target)
    return torch.nn.functional.cross_entropy(z, target)


def temperature_scale(logits: torch.Tensor, target: torch.Tensor, *, max_iter: int = 100,
                      init: float = 1.0) -> torch.Tensor:
    """The temperature that calibrates held-out ``logits`` against ``target``.

    Fits log T with L-BFGS (strong-Wolfe line search) on the mean negative log-likelihood;
    optimizing the log keeps T positive. Use logits the model did not train on (a
    validation split), then predict with ``softmax(logits / T)`` (``sigmoid`` for one logit).

    Shape:
        logits: ``[N, C]`` class logits with ``target [N]`` class indices, or ``[N]``
        binary logits with ``target [N]`` in {0, 1}. Returns a 0-dim float tensor T.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> true = torch.randn(2000, 3, generator=g) * 2
        >>> y = torch.multinomial(torch.softmax(true, 1), 1, generator=g)[:, 0]
        >>> T = temperature_scale(3 * true, y)   # logits 3x too confident
        >>> round(float(T), 1)
        3.0
    """
    check_floating("logits", logits)
    if not isinstance(target, torch.Tensor):
        raise LossInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if logits.ndim not in (1, 2):
        raise LossInputError(f"logits must be [N] (binary) or [N, C], got shape "
                             f"{tuple(logits.shape)}")
    if target.shape != logits.shape[:1]:
        raise LossInputError(f"target must be [N] = [{logits.shape[0]}], got shape "
                             f"{tuple(target.shape)}")
    if logits.shape[0] == 0:
        raise LossInputError("logits are empty: a temperature needs held-out samples")
    if not (isinstance(init, (int, float)) and init > 0):
        raise LossInputError(f"init must be a positive temperature, got {init!r}")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise LossInputError(f"max_iter must be a positive integer, got {max_iter!r}")
    x = logits.detach().to(torch.float64)
    if not torch.isfinite(x).all():
        raise LossInputError("logits must be finite")
    if x.ndim == 2:
        check_class_indices("target", target, x.shape[1])
        t = target.detach().to(torch.long)
    else:
        t = target.detach().to(torch.float64)
        if not bool(((t == 0) | (t == 1)).all()):
            raise LossInputError("with [N] binary logits the target must hold 0 and 1")
    log_t = torch.tensor(float(torch.log(torch.tensor(init))), dtype=torch.float64,
                         requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _nll(x, t, log_t.exp())
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return log_t.detach().exp().to(logits.dtype)
