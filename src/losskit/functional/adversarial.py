"""Adversarial and diffusion objectives: GAN losses, gradient penalties, min-SNR diffusion.

* ``gan_generator`` / ``gan_discriminator`` take the discriminator's raw outputs (logits,
  or critic scores for the Wasserstein kind), any shape ``[N, *]`` (a PatchGAN's map too);
  ``reduction="none"`` returns the per-element loss and ``"mean"`` averages it.
* ``gradient_penalty`` and ``r1_penalty`` differentiate the discriminator inside the loss
  (``torch.autograd.grad`` with ``create_graph=True``, so the penalty itself trains the
  discriminator); they are per-sample losses, ``"none"`` gives ``[N]``.
* ``diffusion`` is the per-sample mean squared error of a denoiser with optional min-SNR
  weighting; ``"none"`` gives ``[N]``.

float16/bfloat16 inputs are accumulated in float32 and the result is float32.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal, get_args

import torch
import torch.nn.functional as F

from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_in_range,
    check_integer,
    check_ndim,
    check_param,
    check_reduction,
    check_same_shape,
    readable,
)
from . import _examples as ex

__all__ = ["diffusion", "gan_discriminator", "gan_generator", "gradient_penalty", "r1_penalty"]

#: The GAN objectives ``gan_generator`` and ``gan_discriminator`` offer.
GanKind = Literal["non_saturating", "hinge", "lsgan", "wasserstein"]
GAN_KINDS: tuple[str, ...] = get_args(GanKind)
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


def _check_kind(kind: str) -> None:
    if kind not in GAN_KINDS:
        raise LossInputError(f"kind must be one of {GAN_KINDS}, got {kind!r}")


def _reduced(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


_GAN_REFS = (
    "Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio, "
    "Generative Adversarial Nets, NeurIPS 2014 (non-saturating generator loss).",
    "Lim & Ye, Geometric GAN, arXiv:1705.02894, 2017 (hinge loss).",
    "Miyato, Kataoka, Koyama & Yoshida, Spectral Normalization for Generative Adversarial "
    "Networks, ICLR 2018 (hinge loss).",
    "Mao, Li, Xie, Lau, Wang & Smolley, Least Squares Generative Adversarial Networks, "
    "ICCV 2017.",
    "Arjovsky, Chintala & Bottou, Wasserstein Generative Adversarial Networks, ICML 2017.",
)

_KIND_TRADEOFFS = (
    "non_saturating (the default of DCGAN/StyleGAN) is the standard cross-entropy game with "
    "the generator maximizing log D(G(z)) so its gradient does not vanish when the "
    "discriminator wins; hinge (SNGAN, BigGAN, SAGAN) stops pushing the discriminator once "
    "a sample is beyond the margin, which with spectral normalization is the most common "
    "choice for large image GANs; lsgan penalizes distance to the targets 1 / 0 and keeps "
    "gradients for samples far on the right side of the boundary, often more stable than "
    "the cross-entropy game; wasserstein needs a 1-Lipschitz critic (gradient_penalty or "
    "weight clipping) and gives a loss that tracks sample quality.")


def _gan_examples(n: int, seed: int) -> tuple[torch.Tensor]:
    g = ex.generator(seed)
    return (ex.randn(n, 1, g=g) * 2,)


def _gan_pair_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return ex.randn(n, 1, g=g) * 2 + 1, ex.randn(n, 1, g=g) * 2 - 1


def _generator_reference(fake_logits: torch.Tensor, *, kind: str = "non_saturating",
                         reduction: str = "mean") -> torch.Tensor:
    if kind == "non_saturating":  # -log sigmoid(f): cross-entropy against the label "real"
        loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits),
                                                  reduction="none")
    elif kind == "lsgan":
        loss = 0.5 * F.mse_loss(fake_logits, torch.ones_like(fake_logits), reduction="none")
    else:
        loss = -fake_logits
    return _reduced(loss, reduction)


@register_loss(
    family="generative", tasks=("generative", "gan"), input_kind="logits",
    target_kind="none",
    aliases=("gan_g", "generator_loss"), properties=("convex", "smooth"),
    summary="The generator's side of a GAN objective, from the discriminator's raw outputs on "
            "generated samples: non-saturating, hinge, least-squares or Wasserstein.",
    formula="f = D(G(z)) raw outputs; non_saturating: L = softplus(-f) = -log sigmoid(f); "
            "hinge and wasserstein: L = -f; lsgan: L = 0.5 (f - 1)^2; mean over elements.",
    gradient="dL/df = -sigmoid(-f) (non_saturating: large while the discriminator rejects "
             "the sample, the reason it is used instead of minimizing log(1 - D)), -1 "
             "(hinge, wasserstein: constant), f - 1 (lsgan: proportional to the distance "
             "to 'real').",
    when_to_use="Training a GAN generator; pick kind to match gan_discriminator. " +
                _KIND_TRADEOFFS,
    pitfalls="Use the same kind for both players. The saturating minimax form log(1 - D(G(z))) "
             "is not offered: its gradient vanishes exactly when the generator is bad. "
             "Generator loss values are not comparable across kinds and do not measure "
             "sample quality (except roughly for wasserstein with a Lipschitz critic); "
             "monitor FID or similar. hinge and wasserstein are unbounded below and lsgan "
             "is unbounded in the input. Pass raw outputs, not sigmoid probabilities.",
    references=_GAN_REFS,
    example_inputs=_gan_examples, reference=_generator_reference,
)
def gan_generator(fake_logits: torch.Tensor, *,
                  kind: GanKind = "non_saturating", weight: torch.Tensor | None = None,
                  reduction: Reduction = "mean") -> torch.Tensor:
    """Generator loss on the discriminator's raw outputs ``f = D(G(z))``.

    ``non_saturating``: ``softplus(-f)``; ``hinge``: ``-f``; ``lsgan``: ``0.5 (f - 1)^2``;
    ``wasserstein``: ``-f``.

    Shape:
        fake_logits: ``[N, *]``; weight: broadcastable to it; output: scalar, or ``[N, *]``
        with ``reduction="none"``.

    Example:
        >>> f = torch.tensor([0.0, 2.0])
        >>> round(float(gan_generator(f)), 4)  # (log 2 + softplus(-2)) / 2
        0.41
        >>> float(gan_generator(f, kind="lsgan"))  # (0.5 + 0.5) / 2
        0.5
    """
    check_reduction(reduction)
    _check_kind(kind)
    check_floating("fake_logits", fake_logits)
    check_broadcastable("weight", weight, fake_logits.shape)
    f = upcast(fake_logits)
    if kind == "non_saturating":
        loss = F.softplus(-f)  # -log sigmoid(f) without overflow for any logit
    elif kind == "lsgan":
        loss = 0.5 * (f - 1).square()
    else:  # hinge and wasserstein: the generator raises the critic's score
        loss = -f
    return reduce(loss, reduction, weight=weight)


def _discriminator_terms(real: torch.Tensor, fake: torch.Tensor,
                         kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "non_saturating":
        # -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f), finite for any logit
        return F.softplus(-real), F.softplus(fake)
    if kind == "hinge":
        return torch.relu(1 - real), torch.relu(1 + fake)
    if kind == "lsgan":
        return 0.5 * (real - 1).square(), 0.5 * fake.square()
    return -real, fake  # wasserstein: the critic lowers f - r


def _discriminator_reference(real_logits: torch.Tensor, fake_logits: torch.Tensor, *,
                             kind: str = "non_saturating",
                             reduction: str = "mean") -> torch.Tensor:
    if kind == "non_saturating":
        loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits),
                                                   reduction="none")
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits),
                                                     reduction="none"))
    elif kind == "hinge":
        loss = torch.clamp(1 - real_logits, min=0) + torch.clamp(1 + fake_logits, min=0)
    elif kind == "lsgan":
        loss = 0.5 * (real_logits - 1) ** 2 + 0.5 * fake_logits ** 2
    else:
        loss = fake_logits - real_logits
    return _reduced(loss, reduction)


@register_loss(
    family="generative", tasks=("generative", "gan"), input_kind="logits",
    target_kind="none",
    aliases=("gan_d", "discriminator_loss"), properties=("convex",), grad_args=(0, 1),
    summary="The discriminator's (critic's) side of a GAN objective, from its raw outputs on "
            "real and on generated samples: non-saturating (cross-entropy), hinge, "
            "least-squares or Wasserstein.",
    formula="r = D(x), f = D(G(z)); non_saturating: L = softplus(-r) + softplus(f); hinge: "
            "L = relu(1 - r) + relu(1 + f); lsgan: L = 0.5 (r - 1)^2 + 0.5 f^2; wasserstein: "
            "L = f - r. Same shapes: mean over elements of the sum; different batch sizes: "
            "mean over real elements + mean over fake elements.",
    gradient="non_saturating: dL/dr = -sigmoid(-r), dL/df = sigmoid(f) (bounded); hinge: -1 / "
             "+1 inside the margin and 0 beyond it; lsgan: r - 1 and f (grow with the error); "
             "wasserstein: -1 and +1 everywhere.",
    when_to_use="Training a GAN discriminator / critic, with the matching gan_generator kind. "
                + _KIND_TRADEOFFS,
    pitfalls="wasserstein is unbounded below and meaningless without a Lipschitz constraint "
             "on the critic: add gradient_penalty (WGAN-GP) or use weight clipping / "
             "spectral normalization. For non_saturating, hinge and lsgan a discriminator "
             "that wins too easily starves the generator of signal; R1 (r1_penalty) or "
             "instance noise help. Pass raw outputs, not probabilities. Generated samples "
             "should be detached in the discriminator step (fake = G(z).detach()), or the "
             "generator receives the discriminator's gradient.",
    references=_GAN_REFS,
    example_inputs=_gan_pair_examples, reference=_discriminator_reference,
)
def gan_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor, *,
                      kind: GanKind = "non_saturating", weight: torch.Tensor | None = None,
                      reduction: Reduction = "mean") -> torch.Tensor:
    """Discriminator loss on raw outputs ``r = D(x)`` (real) and ``f = D(G(z))`` (generated).

    ``non_saturating``: ``softplus(-r) + softplus(f)``; ``hinge``:
    ``relu(1 - r) + relu(1 + f)``; ``lsgan``: ``0.5 (r - 1)^2 + 0.5 f^2``;
    ``wasserstein``: ``f - r``.

    With equal shapes the two terms are added element by element (``"none"`` returns
    that sum, ``weight`` pairs with it). With different batch sizes, ``"mean"`` is the mean
    over real elements plus the mean over generated ones and ``"sum"`` the sum of both;
    ``"none"`` and ``weight`` then need equal shapes.

    Shape:
        real_logits: ``[N, *]``; fake_logits: ``[M, *]``; output: scalar, or ``[N, *]`` with
        ``reduction="none"`` (N = M).

    Example:
        >>> r, f = torch.tensor([2.0]), torch.tensor([-0.5])
        >>> float(gan_discriminator(r, f, kind="hinge"))  # relu(-1) + relu(0.5)
        0.5
        >>> float(gan_discriminator(r, f, kind="wasserstein"))
        -2.5
    """
    check_reduction(reduction)
    _check_kind(kind)
    check_floating("real_logits", real_logits)
    check_floating("fake_logits", fake_logits)
    real_term, fake_term = _discriminator_terms(upcast(real_logits), upcast(fake_logits), kind)
    if real_logits.shape == fake_logits.shape:
        check_broadcastable("weight", weight, real_logits.shape)
        return reduce(real_term + fake_term, reduction, weight=weight)
    if real_logits.shape[1:] != fake_logits.shape[1:]:
        raise LossInputError(f"real_logits and fake_logits must agree after the batch axis, got "
                             f"{tuple(real_logits.shape)} and {tuple(fake_logits.shape)}")
    if reduction == "none" or weight is not None:
        raise LossInputError(f"reduction='none' and weight need real_logits and fake_logits of "
                             f"the same shape, got {tuple(real_logits.shape)} and "
                             f"{tuple(fake_logits.shape)}")
    return reduce(real_term, reduction) + reduce(fake_term, reduction)


# --- gradient penalties ----------------------------------------------------------------------


def _nan_guard(n: int, *tensors: torch.Tensor) -> torch.Tensor:
    """Per sample ``0 * sum(t)``: 0 with zero gradient, NaN where a sample holds a NaN.

    A penalty reads its inputs only through the discriminator's gradient, which for a
    (locally) linear discriminator does not depend on them; without this a NaN sample
    could give a finite penalty.
    """
    return functools.reduce(torch.add, [0.0 * upcast(t).reshape(n, math.prod(t.shape[1:])).sum(-1)
                                        for t in tensors])


def _safe_norm(squared: torch.Tensor) -> torch.Tensor:
    """``sqrt(squared)`` whose first and second derivatives are 0, not NaN, at 0.

    ``!= 0`` rather than ``> 0`` keeps a NaN input NaN.
    """
    nonzero = squared != 0
    return torch.where(nonzero, torch.where(nonzero, squared, 1.0).sqrt(), 0.0)


def _linear_critic(x: torch.Tensor) -> torch.Tensor:
    """``w . x`` with ``||w|| = sqrt(2.44)``: its input gradient is w at every point.

    The registry's example uses it because the penalty is then the same for every draw of
    the random interpolation, so the common checks can compare calls.
    """
    # Python numbers, not a host tensor moved to x's device (a copy, a sync on CUDA).
    return 0.6 * x[..., 0] - 0.8 * x[..., 1] + 1.2 * x[..., 2]


def _penalty_examples(n: int, seed: int) -> tuple[Callable[[torch.Tensor], torch.Tensor],
                                                  torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return _linear_critic, ex.randn(n, 3, g=g) + 1, ex.randn(n, 3, g=g) - 1


def _penalty_reference(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                       fake: torch.Tensor, *, target: float = 1.0,
                       reduction: str = "mean") -> torch.Tensor:
    """The closed form for a linear critic w . x: (||w|| - target)^2 for every sample (whose
    derivative with respect to real and fake is exactly 0)."""
    # torch.autograd.functional.jacobian is unannotated in torch's source
    w = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]
        critic, real[:1].detach())[0, 0]
    loss = (torch.sqrt((w * w).sum()) - target) ** 2 + 0 * (real + fake).sum(-1)
    return _reduced(loss, reduction)


_AUTOGRAD_COMPILE_WHY = ("the penalty calls torch.autograd.grad, which dynamo does not trace "
                         "under its default configuration (torch._dynamo.config."
                         "trace_autograd_ops=False), so fullgraph=True cannot hold; compile the "
                         "discriminator inside it instead")

_LINEAR_WHY = ("the example's critic is linear (w . x), the one critic whose penalty does not "
               "change with the random interpolation points, so the common checks can compare "
               "calls; its penalty is constant in real and fake, so there is no gradient to "
               "see or descend. What the penalty trains is the critic: "
               "tests/test_adversarial.py checks its gradients with nonlinear critics and a "
               "seeded generator")


@register_loss(
    family="generative", tasks=("generative", "gan", "regularization"), input_kind="values",
    target_kind="none",
    aliases=("wgan_gp", "gp"), properties=("nonnegative",), grad_args=(1, 2),
    none_shape="sample",
    summary="WGAN-GP gradient penalty: the critic's input-gradient norm pushed to 1 on random "
            "points between real and generated samples.",
    formula="x_hat_i = eps_i x_i + (1 - eps_i) x~_i, eps_i ~ U[0, 1] per sample; g_i = "
            "d sum_j D(x_hat_j) / d x_hat_i; L_i = (||g_i||_2 - target)^2; mean over i.",
    gradient="Computed with create_graph=True, so dL/dtheta of the critic's parameters exists "
             "(it involves the critic's second derivatives): the penalty pulls the critic's "
             "slope toward target along real-fake lines, a soft 1-Lipschitz constraint.",
    when_to_use="With gan_discriminator(kind='wasserstein') as WGAN-GP (lambda = 10 in "
                "Gulrajani et al.), or as a Lipschitz regularizer for other critics. It "
                "replaces weight clipping.",
    pitfalls="Do not use batch normalization in the critic (the per-sample gradient norm then "
             "mixes samples); use layer norm or none. The interpolation is random: pass "
             "generator=torch.Generator(device).manual_seed(s) for reproducible values, or "
             "seed the global RNG. Detach generated samples in the critic step. It doubles "
             "the backward cost (a gradient of a gradient). torch.compile(fullgraph=True) "
             "cannot trace torch.autograd.grad under the default dynamo settings: compile "
             "the critic, not the penalty. Multiply by lambda yourself.",
    references=("Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, Improved Training of "
                "Wasserstein GANs, NeurIPS 2017.",),
    example_inputs=_penalty_examples, reference=_penalty_reference,
    expected_failures={"differentiable": _LINEAR_WHY, "convergence": _LINEAR_WHY,
                       "compile": _AUTOGRAD_COMPILE_WHY},
)
def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, *, target: float = 1.0,
                     generator: torch.Generator | None = None,
                     weight: torch.Tensor | None = None,
                     reduction: Reduction = "mean") -> torch.Tensor:
    """WGAN-GP penalty ``(||d critic(x_hat) / d x_hat|| - target)^2`` per sample.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample, drawn
    from ``generator`` (a ``torch.Generator`` on ``real``'s device) or the global RNG. The
    input gradient is taken with ``create_graph=True``, so ``backward()`` reaches the
    critic's parameters. The critic is called once on the ``[N, *]`` interpolates and may
    return ``[N]`` or ``[N, *]`` scores (summed per sample).

    Shape:
        real: ``[N, *]``; fake: same; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.

    Example:
        >>> w = torch.tensor([3.0, 4.0])
        >>> float(gradient_penalty(lambda x: x @ w, torch.ones(2, 2), torch.zeros(2, 2)))
        16.0
    """
    check_reduction(reduction)
    if not callable(critic):
        raise LossInputError(f"critic must be callable (the discriminator), got "
                             f"{type(critic).__name__}")
    check_floating("real", real)
    check_floating("fake", fake)
    check_same_shape("real", real, "fake", fake)
    check_ndim("real", real, tuple(range(1, 9)), "N, *")
    check_param("target", target, low=0.0)
    check_broadcastable("weight", weight, real.shape[:1])
    n = real.shape[0]
    eps = torch.rand((n,) + (1,) * (real.dim() - 1), generator=generator, device=real.device,
                     dtype=torch.float32).to(real.dtype)
    with torch.enable_grad():
        x_hat = fake + eps * (real - fake)
        if not x_hat.requires_grad:  # real and fake are data: differentiate at a fresh leaf
            x_hat.requires_grad_(True)
        scores = critic(x_hat)
        if not isinstance(scores, torch.Tensor) or not scores.is_floating_point():
            raise LossInputError("critic must return a floating-point tensor of scores")
        if not scores.requires_grad:  # a constant or detached output: no graph at all
            raise LossInputError("the critic's output does not depend on its input (it has "
                                 "no autograd graph: is the critic run under no_grad or "
                                 "detached?)")
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True, allow_unused=True)
    if grad is None:
        raise LossInputError("the critic's output does not depend on its input")
    squared = upcast(grad).reshape(n, math.prod(grad.shape[1:])).square().sum(-1)
    loss = (_safe_norm(squared) - target).square() + _nan_guard(n, x_hat)
    return reduce(loss, reduction, weight=weight)


def _r1_discriminator(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8]], dtype=x.dtype, device=x.device)
    return torch.tanh(x @ w).sum(-1)


def _r1_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    inputs = ex.randn(n, 3, g=g).requires_grad_(True)
    return _r1_discriminator(inputs), inputs


_R1_WHY = ("r1_penalty differentiates real_logits with respect to real_inputs, so the two must "
           "stay linked by the discriminator's graph; this check re-creates the arguments as "
           "separate tensors (detached copies, casts, permutations or meta copies), which cuts "
           "that link. tests/test_adversarial.py runs the same checks with the discriminator "
           "in the loop")


@register_loss(
    family="generative", tasks=("generative", "gan", "regularization"), input_kind="logits",
    target_kind="none",
    aliases=("r1", "r1_regularization"), properties=("nonnegative",), grad_args=(),
    none_shape="sample",
    summary="R1 regularization: the squared norm of the discriminator's gradient with respect "
            "to real inputs, which keeps the discriminator flat on the data.",
    formula="g_i = d sum_j D(x_j) / d x_i (over real samples); L_i = ||g_i||_2^2; mean over i. "
            "Usually added as (gamma / 2) L.",
    gradient="Computed with create_graph=True, so the penalty's gradient reaches the "
             "discriminator's parameters through its second derivatives; it is zero only "
             "where the discriminator is locally constant on the real data.",
    when_to_use="Regularizing the discriminator of a non-saturating GAN: the StyleGAN "
                "family uses it with gamma tuned per dataset and resolution (10 for FFHQ), "
                "applied every 16 steps in StyleGAN2 ('lazy regularization'). Mescheder et al. "
                "show it makes the game locally convergent where unregularized GAN training "
                "need not converge.",
    pitfalls="real_inputs must require grad before the discriminator is called "
             "(x.requires_grad_(True); logits = D(x)), or there is no graph to differentiate. "
             "Batch normalization in the discriminator mixes samples' gradients. It costs a "
             "second backward pass; lazy regularization amortizes it. torch.compile "
             "(fullgraph=True) cannot trace torch.autograd.grad under default settings. "
             "Multiply by gamma / 2 yourself.",
    references=("Mescheder, Geiger & Nowozin, Which Training Methods for GANs do actually "
                "Converge?, ICML 2018.",
                "Karras, Laine, Aittala, Hellsten, Lehtinen & Aila, Analyzing and Improving the "
                "Image Quality of StyleGAN, CVPR 2020 (lazy regularization)."),
    example_inputs=_r1_examples,
    expected_failures={
        **{c: _R1_WHY for c in ("finite_scalar", "pure", "gradcheck", "reduction_consistency",
                                "batch_size", "batch_order", "empty_batch", "extreme_inputs",
                                "low_precision", "properties", "meta")},
        "compile": _R1_WHY + "; and " + _AUTOGRAD_COMPILE_WHY},
)
def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor, *,
               weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """R1 penalty ``||d D(x) / d x||^2`` per real sample, averaged over the batch.

    ``real_logits`` must be computed from ``real_inputs`` (which must require grad); the
    gradient of their sum is taken with ``create_graph=True``.

    Shape:
        real_logits: ``[N]`` or ``[N, *]`` (a patch discriminator's map is summed per
        sample); real_inputs: ``[N, *]``; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.

    Example:
        >>> x = torch.ones(2, 2, requires_grad=True)
        >>> float(r1_penalty(x @ torch.tensor([3.0, 4.0]), x))  # ||(3, 4)||^2
        25.0
    """
    check_reduction(reduction)
    check_floating("real_logits", real_logits)
    check_floating("real_inputs", real_inputs)
    check_ndim("real_inputs", real_inputs, tuple(range(1, 9)), "N, *")
    if real_logits.dim() == 0 or real_logits.shape[0] != real_inputs.shape[0]:
        raise LossInputError(f"real_logits must have one row per real input ([N] or [N, *] with "
                             f"N = {real_inputs.shape[0]}), got shape {tuple(real_logits.shape)}")
    check_broadcastable("weight", weight, real_inputs.shape[:1])
    if not (real_inputs.requires_grad and real_logits.requires_grad):
        raise LossInputError(
            "r1_penalty needs real_logits computed from real_inputs with gradients on: call "
            "real_inputs.requires_grad_(True) before the discriminator, outside torch.no_grad()")
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True,
                                      allow_unused=True)
    if grad is None:
        raise LossInputError("real_logits do not depend on real_inputs: pass the inputs the "
                             "discriminator was called on")
    n = grad.shape[0]
    penalty = upcast(grad).reshape(n, math.prod(grad.shape[1:])).square().sum(-1)
    penalty = penalty + _nan_guard(n, real_logits, real_inputs)
    return reduce(penalty, reduction, weight=weight)


# --- diffusion --------------------------------------------------------------------------------


def _min_snr_weight(alpha_bar: torch.Tensor, gamma: float, prediction_type: str) -> torch.Tensor:
    """Hang et al.'s min-SNR-gamma weight for snr = a / (1 - a), a = alphas_cumprod[t].

    Written in ``a`` so the ends of a schedule give the limits, not 0/0: for epsilon
    min(snr, g) / snr = min(1, g (1 - a) / a) (1 at a = 0, zero-terminal-SNR schedules);
    for v_prediction min(snr, g) / (snr + 1) = min(a, g (1 - a)); for sample
    min(snr, g) = min(a / (1 - a), g) (g at a = 1). minimum/clamp keep a NaN NaN.
    """
    if prediction_type == "epsilon":
        return (gamma * (1 - alpha_bar) / alpha_bar).clamp(max=1.0)
    if prediction_type == "v_prediction":
        return torch.minimum(alpha_bar, gamma * (1 - alpha_bar))
    return (alpha_bar / (1 - alpha_bar)).clamp(max=gamma)


def _diffusion_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    return (ex.randn(n, 2, 4, 4, g=g), ex.randn(n, 2, 4, 4, g=g),
            torch.randint(0, 1000, (n,), generator=g))


def _diffusion_reference(prediction: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor,
                         *, alphas_cumprod: torch.Tensor | None = None,
                         prediction_type: str = "epsilon", snr_gamma: float | None = None,
                         reduction: str = "mean") -> torch.Tensor:
    """diffusers' training-script recipe: compute_snr, then stack / min / divide."""
    loss = ((prediction - target) ** 2).mean(dim=list(range(1, prediction.dim())))
    if snr_gamma is not None:
        assert alphas_cumprod is not None, "snr_gamma needs alphas_cumprod"
        alpha = alphas_cumprod[timesteps] ** 0.5
        sigma = (1.0 - alphas_cumprod[timesteps]) ** 0.5
        snr = (alpha / sigma) ** 2
        weights = torch.stack([snr, snr_gamma * torch.ones_like(snr)], dim=1).min(dim=1)[0]
        if prediction_type == "epsilon":
            weights = weights / snr
        elif prediction_type == "v_prediction":
            weights = weights / (snr + 1)
        loss = loss * weights
    return _reduced(loss, reduction)


@register_loss(
    family="generative", tasks=("generative", "diffusion", "denoising"), input_kind="values",
    target_kind="values", aliases=("diffusion_mse", "min_snr", "ddpm"),
    properties=("convex", "smooth", "nonnegative", "zero_at_optimum"), grad_args=(0,),
    none_shape="sample",
    summary="Denoising diffusion training loss: per-sample mean squared error of the "
            "network's prediction (noise, velocity or clean sample), optionally weighted by "
            "min-SNR-gamma.",
    formula="L_i = w(t_i) mean_j (prediction_ij - target_ij)^2; mean over i. With snr = "
            "a_t / (1 - a_t), a = alphas_cumprod: w = min(snr, gamma) / snr (epsilon), "
            "min(snr, gamma) / (snr + 1) (v_prediction), min(snr, gamma) (sample); w = 1 "
            "when snr_gamma is None.",
    gradient="dL/dprediction = 2 w(t) (prediction - target) / (D N): the weight rescales each "
             "timestep's gradient; min-SNR caps the weight of low-noise (high-SNR) timesteps, "
             "whose easy denoising tasks otherwise dominate and conflict with the others.",
    when_to_use="Training DDPM / latent-diffusion denoisers. snr_gamma = 5 (Hang et al.) "
                "speeds up convergence (about 3.4x in their experiments) for epsilon, v and "
                "x0 prediction alike; set prediction_type to what the network outputs (the "
                "scheduler's prediction_type) so the weight is the x0-space min-SNR weight "
                "expressed in that parametrization.",
    pitfalls="alphas_cumprod must be the training scheduler's cumulative product of "
             "(1 - beta_t), indexed by the same integer timesteps; a mismatched schedule "
             "gives wrong weights silently. The target depends on prediction_type (the noise, "
             "v = sqrt(a) eps - sqrt(1 - a) x0, or x0); this loss does not build it. Weights "
             "are finite at the ends of a schedule (zero-terminal-SNR a = 0 gives weight 1 "
             "for epsilon, 0 for v, 0 for sample), where a naive min(snr, g) / snr is 0/0. "
             "Without snr_gamma the loss equals diffusers' F.mse_loss(pred, target) for "
             "equal-size samples.",
    references=("Ho, Jain & Abbeel, Denoising Diffusion Probabilistic Models, NeurIPS 2020.",
                "Salimans & Ho, Progressive Distillation for Fast Sampling of Diffusion "
                "Models, ICLR 2022 (v-prediction).",
                "Hang, Gu, Li, Bao, Chen, Hu, Geng & Guo, Efficient Diffusion Training via "
                "Min-SNR Weighting Strategy, ICCV 2023."),
    example_inputs=_diffusion_examples, reference=_diffusion_reference,
    optimum=lambda args: (args[1].clone(), *args[1:]),
)
def diffusion(prediction: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor, *,
              alphas_cumprod: torch.Tensor | None = None,
              prediction_type: Literal["epsilon", "v_prediction", "sample"] = "epsilon",
              snr_gamma: float | None = None, weight: torch.Tensor | None = None,
              reduction: Reduction = "mean") -> torch.Tensor:
    """Per-sample MSE of a diffusion model, weighted by min-SNR-gamma when ``snr_gamma`` is set.

    ``L_i = w_i * mean((prediction_i - target_i)^2)`` with, for ``snr = a / (1 - a)`` and
    ``a = alphas_cumprod[timesteps_i]``: ``min(snr, gamma) / snr`` (``"epsilon"``),
    ``min(snr, gamma) / (snr + 1)`` (``"v_prediction"``), ``min(snr, gamma)``
    (``"sample"``), and ``w = 1`` when ``snr_gamma`` is None (``alphas_cumprod`` is then
    not needed).

    Shape:
        prediction: ``[N, *]``; target: same; timesteps: ``[N]`` integer indices into
        alphas_cumprod ``[T]``; weight: ``[N]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.

    Example:
        >>> ac = torch.tensor([0.9, 0.5, 0.1])  # snr = 9, 1, 1/9
        >>> p, y, t = torch.ones(3, 2), torch.zeros(3, 2), torch.tensor([0, 1, 2])
        >>> diffusion(p, y, t, alphas_cumprod=ac, snr_gamma=5.0, reduction="none")
        tensor([0.5556, 1.0000, 1.0000])
    """
    check_reduction(reduction)
    check_floating("prediction", prediction)
    check_floating("target", target)
    check_same_shape("prediction", prediction, "target", target)
    check_ndim("prediction", prediction, tuple(range(1, 9)), "N, *")
    n = prediction.shape[0]
    check_integer("timesteps", timesteps)
    if timesteps.shape != (n,):
        raise LossInputError(f"timesteps must hold one integer per sample, shape ({n},), got "
                             f"{tuple(timesteps.shape)}")
    if prediction_type not in PREDICTION_TYPES:
        raise LossInputError(f"prediction_type must be one of {PREDICTION_TYPES}, got "
                             f"{prediction_type!r}")
    check_broadcastable("weight", weight, prediction.shape[:1])
    per_sample = (upcast(prediction) - upcast(target)).square().reshape(
        n, math.prod(prediction.shape[1:])).mean(-1)
    if snr_gamma is None:
        return reduce(per_sample, reduction, weight=weight)
    check_param("snr_gamma", snr_gamma, low=0.0, low_inclusive=False)
    if alphas_cumprod is None:
        raise LossInputError("snr_gamma needs alphas_cumprod, the scheduler's cumulative "
                             "product of (1 - beta_t), shape [T]")
    check_floating("alphas_cumprod", alphas_cumprod)
    check_ndim("alphas_cumprod", alphas_cumprod, 1, "T timesteps")
    check_in_range("alphas_cumprod", alphas_cumprod, 0.0, 1.0)
    if timesteps.numel() and readable(timesteps):
        lo, hi = int(timesteps.min()), int(timesteps.max())
        if lo < 0 or hi >= alphas_cumprod.shape[0]:
            raise LossInputError(f"timesteps must index alphas_cumprod (0..."
                                 f"{alphas_cumprod.shape[0] - 1}), found {lo if lo < 0 else hi}")
    alpha_bar = upcast(alphas_cumprod)[timesteps]
    weights = _min_snr_weight(alpha_bar, snr_gamma, prediction_type).to(per_sample.dtype)
    return reduce(per_sample * weights, reduction, weight=weight)
