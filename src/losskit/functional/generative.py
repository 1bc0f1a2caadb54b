"""Generative-model objectives: the Gaussian KL regularizer and the VAE negative ELBO.

Both are **per sample** losses: the KL is summed over latent dimensions and the
reconstruction over data dimensions, so ``reduction="none"`` gives one value per
sample ``[N]`` and ``"mean"`` averages over the batch. Summing within a sample keeps
the two terms on the same (nats per sample) scale, which is what makes ``beta`` mean
what it says; averaging over latent dimensions instead silently rescales the KL by
``1 / D``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_ndim,
    check_param,
    check_probabilities,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["ELBOParts", "gaussian_kl", "vae_elbo"]

_RECON_LOSSES = ("mse", "mae", "bce")


def _per_dim_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    # KL(N(mu, s^2) || N(0, 1)) = 0.5 (mu^2 + s^2 - 1 - log s^2), written with logvar so
    # the model never takes a log of a variance; exp(logvar) - 1 - logvar >= 0 for all
    # logvar, and expm1 keeps it accurate when logvar is near 0 (a nearly-standard
    # posterior, the posterior-collapse regime we most want to measure).
    return 0.5 * (mu.square() + torch.expm1(logvar) - logvar)


def _check_latents(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    check_floating("mu", mu)
    check_floating("logvar", logvar)
    check_ndim("mu", mu, 2, "[N, D] latent means")
    check_same_shape("mu", mu, "logvar", logvar)


def _latent_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 4, g=g), ex.randn(n, 4, g=g) * 0.5


def _kl_reference(mu: torch.Tensor, logvar: torch.Tensor, *,
                  reduction: str = "mean") -> torch.Tensor:
    # torch.distributions' closed-form Normal-Normal KL, an independent implementation.
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    loss = torch.distributions.kl_divergence(q, p).sum(-1)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _standard_normal(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (torch.zeros_like(args[0]), torch.zeros_like(args[1]), *args[2:])


_HUGE_LOGVAR = ("a log-variance of 1e4 is a variance of e^10000, which no float holds; the KL "
                "is exact wherever the variance is representable")


@register_loss(
    family="generative", tasks=("generative", "vae", "representation"), input_kind="values",
    target_kind="none", aliases=("kl_standard_normal", "vae_kl"),
    properties=("convex", "smooth", "nonnegative", "zero_at_optimum"), grad_args=(0, 1),
    none_shape="sample",
    summary="KL divergence of a diagonal Gaussian posterior N(mu, exp(logvar)) from the "
            "standard normal prior, summed over latent dimensions.",
    formula="L_i = 0.5 sum_j (mu_ij^2 + exp(logvar_ij) - 1 - logvar_ij);  mean over i",
    gradient="dL/dmu = mu (pulls the mean to 0); dL/dlogvar = 0.5 (exp(logvar) - 1) (pulls the "
             "variance to 1). Both grow without bound for large |mu| or logvar.",
    when_to_use="The regularizer of a VAE (with a reconstruction term, see vae_elbo), or any "
                "stochastic bottleneck (information bottleneck, variational dropout) with a "
                "standard-normal prior. Weight it with a warm-up or cyclical schedule "
                "(losskit.schedules) to avoid posterior collapse.",
    pitfalls="Posterior collapse: if the decoder is strong, the cheapest optimum is KL = 0 "
             "(every posterior equals the prior and the latents carry no information); watch "
             "the KL term and use KL annealing or free_bits. Averaging over latent dimensions "
             "instead of summing changes the effective beta by 1/D. The model should output "
             "logvar, not the variance or the standard deviation.",
    references=("Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014 (appendix B).",),
    example_inputs=_latent_examples, reference=_kl_reference, optimum=_standard_normal,
    expected_failures={"extreme_inputs": _HUGE_LOGVAR},
    head="none",
)
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, *, weight: torch.Tensor | None = None,
                reduction: Reduction = "mean") -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample, averaged over the batch.

    The KL is **summed over the latent dimensions** (it is the KL of the joint
    distribution) and, with ``reduction="mean"``, averaged over the batch.

    Shape:
        mu: ``[N, D]`` posterior means; logvar: ``[N, D]`` log-variances; weight: ``[N]``;
        output: scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))
        tensor(0.)
        >>> gaussian_kl(torch.ones(1, 2), torch.zeros(1, 2))
        tensor(1.)
    """
    check_reduction(reduction)
    _check_latents(mu, logvar)
    loss = _per_dim_kl(upcast(mu), upcast(logvar)).sum(-1)
    check_broadcastable("weight", weight, loss.shape)
    return reduce(loss, reduction, weight=weight)


class ELBOParts(NamedTuple):
    """The negative ELBO and its parts, each reduced as asked.

    ``total = reconstruction + beta * kl_used``, where ``kl_used`` is the KL after the
    free-bits floor; ``kl`` is the plain KL (what to log to spot posterior collapse).
    """

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def _reconstruction(recon: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample reconstruction loss, summed over every non-batch dimension."""
    if kind == "mse":
        per = (recon - x).square()
    elif kind == "mae":
        per = (recon - x).abs()
    else:
        # recon holds logits: the fused log-sigmoid form is finite for any logit.
        per = F.binary_cross_entropy_with_logits(recon, x, reduction="none")
    return per.flatten(1).sum(-1) if per.dim() > 1 else per


def _elbo_examples(n: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = ex.generator(seed)
    return (ex.randn(n, 5, g=g), ex.randn(n, 5, g=g), ex.randn(n, 3, g=g),
            ex.randn(n, 3, g=g) * 0.5)


def _elbo_reference(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
                    logvar: torch.Tensor, *, beta: float = 1.0, recon_loss: str = "mse",
                    reduction: str = "mean") -> torch.Tensor:
    # torch builtins for the reconstruction, torch.distributions for the KL.
    builtins: dict[str, Callable[..., torch.Tensor]] = {
        "mse": F.mse_loss, "mae": F.l1_loss, "bce": F.binary_cross_entropy_with_logits}
    rec = builtins[recon_loss](recon, x, reduction="none").flatten(1).sum(-1)
    loss = rec + beta * _kl_reference(mu, logvar, reduction="none")
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _perfect_elbo(args: tuple[Any, ...]) -> tuple[Any, ...]:
    x, mu, logvar = args[1:4]
    return (x.clone(), x, torch.zeros_like(mu), torch.zeros_like(logvar), *args[4:])


@register_loss(
    family="generative", tasks=("generative", "vae"), input_kind="values",
    target_kind="values", aliases=("elbo", "vae_loss", "negative_elbo"),
    properties=("nonnegative",), grad_args=(0, 2, 3), none_shape="sample",
    summary="Negative evidence lower bound of a Gaussian-latent VAE: reconstruction error plus "
            "beta times the KL of the posterior from the standard normal prior.",
    formula="L_i = rec(recon_i, x_i) + beta * sum_j max_free(KL_ij);  rec = sum over data "
            "dims of (recon - x)^2 | |recon - x| | BCE(logits recon, x);  free bits: a latent "
            "dimension whose batch-mean KL is below free_bits counts as free_bits, without "
            "gradient",
    gradient="The reconstruction gradient pulls the decoder output to x; the KL gradient pulls "
             "mu to 0 and logvar to 0. beta trades the two: beta > 1 favours disentangled, "
             "blurrier codes (beta-VAE), beta < 1 sharper reconstructions; a dimension below "
             "the free-bits floor gets no KL gradient, so it is free to carry information.",
    when_to_use="Training a VAE; beta-VAE for disentanglement; free_bits or a KL warm-up "
                "schedule (losskit.schedules on the KL term of a composite) when the KL "
                "collapses to zero. recon_loss='bce' for binary data (binarized MNIST, "
                "presence/absence), where it is the Bernoulli likelihood; 'mse' for "
                "real-valued data, including images scaled to [0, 1] (a Gaussian decoder "
                "with variance 1/2: the likelihood up to a constant), 'mae' for a Laplace "
                "decoder.",
    pitfalls="BCE is not a likelihood for non-binary data: on grey levels in [0, 1] the "
             "Bernoulli is not normalised over [0, 1], its minimum over recon is the binary "
             "entropy of x (not 0: a perfect reconstruction of x = 0.5 costs log 2 per value, "
             "2.77 for four values) and it biases reconstructions (Loaiza-Ganem & "
             "Cunningham 2019). For continuous data use 'mse' / 'mae', a Beta decoder, or "
             "the continuous Bernoulli (BCE plus the log-normaliser log C(lambda), lambda = "
             "sigmoid(recon)). The loss is 0 at a perfect reconstruction with the posterior "
             "equal to the prior only for 'mse' and 'mae' (and 'bce' on binary x, in the "
             "limit of infinite logits). Posterior collapse: with a powerful decoder the KL "
             "drops to 0 and the latents carry nothing (watch ELBOParts.kl). The "
             "reconstruction is summed over data "
             "dimensions; averaging it instead shrinks it by the number of pixels and makes "
             "the KL dominate. With recon_loss='bce' the recon argument is logits, not "
             "probabilities. The MSE form is a Gaussian likelihood only up to scale: the "
             "decoder variance is implicitly fixed."
             " The opposite failure: with too little KL weight the posterior drifts away from "
             "N(0, I), and samples drawn from the prior decode poorly.",
    references=("Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014.",
                "Higgins et al., beta-VAE, ICLR 2017.",
                "Kingma et al., Improved Variational Inference with Inverse Autoregressive "
                "Flow, NeurIPS 2016 (free bits).",
                "Bowman et al., Generating Sentences from a Continuous Space, CoNLL 2016 "
                "(KL annealing).",
                "Loaiza-Ganem & Cunningham, The continuous Bernoulli: fixing a pervasive error "
                "in variational autoencoders, NeurIPS 2019."),
    example_inputs=_elbo_examples, reference=_elbo_reference, optimum=_perfect_elbo,
    expected_failures={"extreme_inputs": _HUGE_LOGVAR},
)
def vae_elbo(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, *,
             beta: float = 1.0, recon_loss: Literal["mse", "mae", "bce"] = "mse",
             free_bits: float = 0.0, return_parts: bool = False, weight: torch.Tensor | None = None,
             reduction: Reduction = "mean") -> torch.Tensor | ELBOParts:
    """Negative ELBO ``reconstruction + beta * KL``; with ``return_parts=True`` an ELBOParts.

    ``reconstruction`` is summed over every data dimension of a sample and the KL over
    the latent dimensions, so both are in nats per sample; ``reduction`` then acts over
    the batch. ``free_bits`` (nats per latent dimension) is the floor of Kingma et al.
    2016: a dimension whose KL, averaged over the batch, is below the floor contributes
    the floor (a constant) instead, so the optimizer has no reason to close it.

    Shape:
        recon: ``[N, *]`` reconstructions (logits when ``recon_loss="bce"``); x: ``[N, *]``
        data (in [0, 1] for ``"bce"``); mu, logvar: ``[N, D]``; weight: ``[N]``;
        output: scalar, or ``[N]`` with ``reduction="none"``.

    Example:
        >>> x = torch.zeros(2, 3)
        >>> vae_elbo(x + 1, x, torch.zeros(2, 2), torch.zeros(2, 2), return_parts=True).total
        tensor(3.)
    """
    check_reduction(reduction)
    check_param("beta", beta, low=0.0)
    check_param("free_bits", free_bits, low=0.0)
    if recon_loss not in _RECON_LOSSES:
        raise LossInputError(f"recon_loss must be one of {_RECON_LOSSES}, got {recon_loss!r}")
    check_floating("recon", recon)
    check_floating("x", x)
    check_same_shape("recon", recon, "x", x)
    _check_latents(mu, logvar)
    if recon.dim() == 0 or recon.shape[0] != mu.shape[0]:
        raise LossInputError(f"recon {tuple(recon.shape)} and mu {tuple(mu.shape)} must share "
                             "the batch dimension N")
    if recon_loss == "bce":
        check_probabilities("x", x)
    rec = _reconstruction(upcast(recon), upcast(x), recon_loss)
    kl_dims = _per_dim_kl(upcast(mu), upcast(logvar))
    kl = kl_dims.sum(-1)
    if free_bits > 0:
        # Per-sample form of sum_j max(free_bits, mean_i KL_ij): below the floor a dimension
        # contributes the constant floor for every sample, so the batch mean is exactly the
        # floored objective and the dimension receives no KL gradient.
        open_dims = kl_dims.detach().mean(0, keepdim=True) >= free_bits
        kl_used = torch.where(open_dims, kl_dims, free_bits).sum(-1)
    else:
        kl_used = kl
    check_broadcastable("weight", weight, rec.shape)
    total = reduce(rec + beta * kl_used, reduction, weight=weight)
    if not return_parts:
        return total
    return ELBOParts(total, reduce(rec, reduction, weight=weight),
                     reduce(kl, reduction, weight=weight))
