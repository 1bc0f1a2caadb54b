"""Self-supervised and vision-language losses: learning from paired views or modalities.

* **Contrastive, vision-language**: ``clip_contrastive`` (symmetric softmax over the
  batch's image-text pairs) and ``siglip`` (an independent sigmoid per pair).
* **Non-contrastive, batch statistics**: ``vicreg`` and ``barlow_twins`` regularize the
  variance and covariance (or cross-correlation) of the batch's embeddings, so they
  have no per-sample reduction.
* **Self-distillation**: ``negative_cosine`` (SimSiam / BYOL, stop-gradient on the
  target) and ``dino`` (cross-entropy to a centered, sharpened, detached teacher).

The batch-dependent losses take ``distributed=True``: with a process group, each
rank's embeddings are all-gathered with gradients (:func:`losskit.distributed.gather`)
and the reduction is global, so every rank's loss equals the single-process loss on
the concatenated batch and DDP's averaged gradients equal the single-process
gradients. Without a process group the flag changes nothing.

Memory: the contrastive losses form one ``[n, N]`` similarity matrix (``n`` local
rows, ``N`` global columns); vicreg and barlow_twins a ``[d, d]`` matrix. Inputs are
float tensors; float16/bfloat16 are computed in float32. Learnable modules (a CLIP
logit scale, SigLIP scale and bias, the DINO center) are in :mod:`losskit.modules`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import distributed as _dist
from .._core.reduce import reduce, upcast
from .._core.registry import register_loss
from .._core.types import Reduction
from .._core.validate import (
    LossInputError,
    check_broadcastable,
    check_floating,
    check_ndim,
    check_param,
    check_reduction,
    check_same_shape,
)
from . import _examples as ex

__all__ = ["barlow_twins", "clip_contrastive", "dino", "negative_cosine", "siglip", "vicreg"]


# --- shared pieces -----------------------------------------------------------------------------


def _check_pair(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    for name, t in ((name_a, a), (name_b, b)):
        check_floating(name, t)
        check_ndim(name, t, 2, "[N, d]")
    check_same_shape(name_a, a, name_b, b)


def _whole_batch(x: torch.Tensor, distributed: bool, group: Any) -> tuple[int, torch.Tensor]:
    """This rank's first row in the global batch, and the global batch (gathered with
    gradients); ``(0, x)`` in one process or with ``distributed=False``."""
    if not (distributed and _dist.is_active(group)):
        return 0, x
    return _dist.rank_offset(x.shape[0], x.device, group), _dist.gather(x, group)


def _paired_views(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    z = ex.randn(n, 4, g=g)
    return z, z + 0.6 * ex.randn(n, 4, g=g)


def _zero(first: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    """0.0 attached to the inputs' graph (an empty batch's loss; its gradients are 0)."""
    return sum((t.sum() for t in rest), first.sum()) * 0.0


# --- CLIP ---------------------------------------------------------------------------------------


def _clip_reference(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, *,
                    temperature: float = 0.07, reduction: str = "mean") -> torch.Tensor:
    img = F.normalize(image_embeddings, dim=1)
    txt = F.normalize(text_embeddings, dim=1)
    logits = img @ txt.t() / temperature
    labels = torch.arange(img.shape[0])
    if img.shape[0] == 0:
        return logits.sum() * 0 if reduction != "none" else logits.sum(1)
    per = 0.5 * (F.cross_entropy(logits, labels, reduction="none")
                 + F.cross_entropy(logits.t(), labels, reduction="none"))
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


@register_loss(
    family="self_supervised", tasks=("vision_language", "self_supervised", "retrieval"),
    input_kind="embeddings", target_kind="implicit (row i of each modality is a pair)",
    aliases=("clip", "clip_loss", "image_text_contrastive"), properties=("nonnegative",),
    grad_args=(0, 1), none_shape="sample", learnable=("temperature",),
    summary="CLIP's symmetric contrastive loss: each image must pick its caption among the "
            "batch's texts and each text its image, softmax over cosine similarities.",
    formula="l_ij = cos(img_i, txt_j) / t;  L_i = ( -log softmax_j(l_i.)[i] - log "
            "softmax_j(l_.i)[i] ) / 2;  mean over pairs",
    gradient="dL/dl_ij = (softmax over row i + softmax over column j) / 2 - [i = j], times "
             "1/t: every wrong pair is pushed apart in proportion to how likely it looks in "
             "either direction. d/dt is the (negated, 1/t-scaled) gap between the positive "
             "and the softmax-weighted mean logit, so a learnable temperature sharpens as "
             "pairs separate.",
    when_to_use="Image-text (or any two-modality) pre-training with paired data and large "
                "batches: the batch is the negative set and the softmax normalizes over all "
                "of it, so quality grows with batch size (CLIP used 32k, gathered across "
                "GPUs with distributed=True); below ~16k siglip is usually better. Learn the "
                "temperature (losskit.modules.CLIPLoss keeps log(1/t) as a parameter, "
                "initialised at t = 0.07 and capped at a logit scale of 100, like open_clip).",
    pitfalls="Small batches give few negatives and a weak signal; prefer siglip there. "
             "Duplicate captions or images in a batch are false negatives. A fixed "
             "temperature that is too low is unstable, too high gives weak gradients; an "
             "unbounded learnable scale can blow up (cap it at 100). With "
             "distributed=False under DDP each rank only sees its own negatives.",
    references=("Radford, Kim, Hallacy, Ramesh, Goh, Agarwal, Sastry, Askell, Mishkin, Clark, "
                "Krueger & Sutskever, Learning Transferable Visual Models From Natural "
                "Language Supervision, ICML 2021.",),
    example_inputs=_paired_views, reference=_clip_reference,
)
def clip_contrastive(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, *,
                     temperature: float | torch.Tensor = 0.07, distributed: bool = False,
                     group: Any = None, weight: torch.Tensor | None = None,
                     reduction: Reduction = "mean") -> torch.Tensor:
    """Symmetric image-text contrastive loss of CLIP (Radford et al. 2021).

    ``(CE(logits, i) + CE(logits^T, i)) / 2`` with ``logits = cos / temperature``.
    ``temperature`` may be a learnable tensor (its gradient is exact). With
    ``distributed=True`` each rank's images are contrasted with every rank's texts and
    vice versa (gathered with gradients), as open_clip's ``gather_with_grad``.

    Shape:
        image_embeddings, text_embeddings: ``[N, d]``; output: scalar, or ``[N]`` per
        pair (the mean of its two directions) with ``reduction="none"``.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> clip_contrastive(z, z, temperature=1.0)
        tensor(0.3133)
    """
    check_reduction(reduction)
    check_param("temperature", temperature, low=0.0, low_inclusive=False, learnable=True)
    _check_pair("image_embeddings", image_embeddings, "text_embeddings", text_embeddings)
    check_broadcastable("weight", weight, torch.Size([image_embeddings.shape[0]]))
    img = F.normalize(upcast(image_embeddings), dim=1)
    txt = F.normalize(upcast(text_embeddings), dim=1)
    positive = (img * txt).sum(dim=1) / temperature
    _, all_txt = _whole_batch(txt, distributed, group)
    image_to_text = img @ all_txt.t() / temperature  # [n, N]
    if all_txt is txt:
        # One process: the text-to-image logits are the transpose; no second product.
        text_to_image_lse = torch.logsumexp(image_to_text, dim=0)
    else:
        _, all_img = _whole_batch(img, distributed, group)
        text_to_image_lse = torch.logsumexp(txt @ all_img.t() / temperature, dim=1)
    # Cross-entropy as logsumexp - positive logit: stable for any temperature.
    loss = 0.5 * (torch.logsumexp(image_to_text, dim=1) + text_to_image_lse) - positive
    return reduce(loss, reduction, weight=weight, distributed=distributed, group=group)


# --- SigLIP -------------------------------------------------------------------------------------


def _siglip_reference(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, *,
                      logit_scale: float = 10.0, logit_bias: float = -10.0,
                      reduction: str = "mean") -> torch.Tensor:
    img = F.normalize(image_embeddings, dim=1)
    txt = F.normalize(text_embeddings, dim=1)
    n = img.shape[0]
    labels = 2 * torch.eye(n, dtype=img.dtype) - 1
    logits = logit_scale * img @ txt.t() + logit_bias
    per = -F.logsigmoid(labels * logits).sum(dim=1)
    return {"mean": per.mean() if n else per.sum(), "sum": per.sum(), "none": per}[reduction]


@register_loss(
    family="self_supervised", tasks=("vision_language", "self_supervised", "retrieval"),
    input_kind="embeddings", target_kind="implicit (row i of each modality is a pair)",
    aliases=("sigmoid_contrastive", "siglip_loss"), properties=("nonnegative",),
    grad_args=(0, 1), none_shape="sample", learnable=("logit_scale", "logit_bias"),
    summary="SigLIP: every image-text pair of the batch is an independent binary "
            "classification (match or not) with a sigmoid, no softmax over the batch.",
    formula="l_ij = logit_scale cos(img_i, txt_j) + logit_bias;  z_ij = +1 if i = j else -1;  "
            "L = -(1/N) sum_i sum_j log sigmoid(z_ij l_ij)",
    gradient="dL/dl_ij = (sigmoid(l_ij) - [i = j]) / N per pair: each pair's push depends "
             "only on itself, not on a normalization over the batch. The bias starts at -10 "
             "so the many negatives (N^2 - N of them) do not swamp the first steps.",
    when_to_use="Image-text pre-training, especially with small or moderate batches (SigLIP "
                "matches or beats CLIP below ~16k and saturates around 32k) or little memory: "
                "no global softmax, so no all-gathered normalization is needed for the value. "
                "Learn both parameters (losskit.modules.SigLIPLoss: scale = exp(t'), t' = "
                "log 10, bias = -10 at start, the paper's initialization).",
    pitfalls="Initialize the bias very negative (-10) or the N^2 - N negatives dominate early "
             "training. The loss sums over the N columns per image, so its scale grows with "
             "the batch (not a mean over pairs). logit_scale here is the multiplier itself; "
             "the module keeps its log. Duplicate pairs in a batch are false negatives.",
    references=("Zhai, Mustafa, Kolesnikov & Beyer, Sigmoid Loss for Language Image "
                "Pre-Training, ICCV 2023.",),
    example_inputs=_paired_views, reference=_siglip_reference,
)
def siglip(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, *,
           logit_scale: float | torch.Tensor = 10.0, logit_bias: float | torch.Tensor = -10.0,
           distributed: bool = False, group: Any = None, weight: torch.Tensor | None = None,
           reduction: Reduction = "mean") -> torch.Tensor:
    """Pairwise sigmoid loss of SigLIP (Zhai et al. 2023).

    ``-log sigmoid(z l) = softplus(-z l)`` is used for stability. Both ``logit_scale``
    (the multiplier, not its log) and ``logit_bias`` may be learnable tensors. With
    ``distributed=True`` each rank's images meet every rank's texts (gathered with
    gradients) and the mean runs over the global batch.

    Shape:
        image_embeddings, text_embeddings: ``[N, d]``; output: scalar, or ``[N]`` (each
        image's sum over all texts) with ``reduction="none"``.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> siglip(z, z, logit_scale=10.0, logit_bias=-5.0)
        tensor(0.0134)
    """
    check_reduction(reduction)
    check_param("logit_scale", logit_scale, low=0.0, learnable=True)
    check_param("logit_bias", logit_bias, low=None, learnable=True)
    _check_pair("image_embeddings", image_embeddings, "text_embeddings", text_embeddings)
    check_broadcastable("weight", weight, torch.Size([image_embeddings.shape[0]]))
    img = F.normalize(upcast(image_embeddings), dim=1)
    txt = F.normalize(upcast(text_embeddings), dim=1)
    offset, all_txt = _whole_batch(txt, distributed, group)
    logits = logit_scale * (img @ all_txt.t()) + logit_bias  # [n, N]
    rows = torch.arange(img.shape[0], device=img.device)[:, None] + offset
    matches = rows == torch.arange(all_txt.shape[0], device=img.device)[None, :]
    sign = torch.where(matches, 1.0, -1.0).to(logits.dtype)
    loss = F.softplus(-sign * logits).sum(dim=1)
    return reduce(loss, reduction, weight=weight, distributed=distributed, group=group)


# --- VICReg --------------------------------------------------------------------------------------


def _off_diagonal_square_sum(m: torch.Tensor) -> torch.Tensor:
    """Sum of the squared off-diagonal entries of a square matrix."""
    eye = torch.eye(m.shape[0], dtype=torch.bool, device=m.device)
    return torch.where(eye, 0.0, m.square()).sum()


def _vicreg_reference(z_a: torch.Tensor, z_b: torch.Tensor, *, sim_weight: float = 25.0,
                      var_weight: float = 25.0, cov_weight: float = 1.0,
                      eps: float = 1e-4) -> torch.Tensor:
    # facebookresearch/vicreg main_vicreg.py VICReg.forward, one process.
    def off_diagonal(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    batch_size, num_features = z_a.shape
    repr_loss = F.mse_loss(z_a, z_b)
    x, y = z_a - z_a.mean(dim=0), z_b - z_b.mean(dim=0)
    std_x, std_y = torch.sqrt(x.var(dim=0) + eps), torch.sqrt(y.var(dim=0) + eps)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x, cov_y = (x.T @ x) / (batch_size - 1), (y.T @ y) / (batch_size - 1)
    cov_loss = (off_diagonal(cov_x).pow(2).sum().div(num_features)
                + off_diagonal(cov_y).pow(2).sum().div(num_features))
    return sim_weight * repr_loss + var_weight * std_loss + cov_weight * cov_loss


@register_loss(
    family="self_supervised", tasks=("self_supervised",),
    input_kind="embeddings", target_kind="implicit (z_a[i] and z_b[i] are two views)",
    aliases=("vicreg_loss", "variance_invariance_covariance"), properties=("nonnegative",),
    grad_args=(0, 1),
    summary="VICReg: invariance (MSE between the two views' embeddings) plus variance and "
            "covariance regularizers that keep every dimension alive and decorrelated.",
    formula="sim = mean (z_a - z_b)^2;  var = sum over branches mean_k relu(1 - sqrt(Var(z_k) + "
            "eps)) / 2;  cov = sum over branches sum_{k != l} C_kl^2 / d, C = centered z^T z / "
            "(N - 1);  L = 25 sim + 25 var + 1 cov (defaults)",
    gradient="The invariance term pulls the two views together; the hinge on each "
             "dimension's standard deviation pushes only dimensions whose std is below 1 "
             "(collapse), and the covariance term decorrelates dimensions; no negatives and "
             "no stop-gradient are needed.",
    when_to_use="Non-contrastive self-supervised pre-training (two augmented views per "
                "image, an expander head of a few thousand dimensions). Against the other "
                "methods: no negatives, so no need for the large batches of clip_contrastive "
                "or nt_xent; no momentum teacher or stop-gradient as in BYOL, SimSiam "
                "(negative_cosine) or dino; collapse is prevented by explicit terms you can "
                "log; and each branch is regularized on its own, so the two branches may use "
                "different encoders or modalities (Barlow Twins' cross-correlation ties "
                "them). Defaults follow the paper (lambda = mu = 25, nu = 1).",
    pitfalls="The variance and covariance terms are batch statistics: tiny batches estimate "
             "them badly (use distributed=True under DDP so they use the global batch, as "
             "the official code does). A batch of one sample has no spread; its variance is "
             "taken as 0 here (the official code divides 0 by 0). The covariance term costs "
             "O(d^2) memory. The three weights matter: with a low variance weight the "
             "embeddings can still collapse.",
    references=("Bardes, Ponce & LeCun, VICReg: Variance-Invariance-Covariance Regularization "
                "for Self-Supervised Learning, ICLR 2022.",),
    example_inputs=_paired_views, reference=_vicreg_reference,
    expected_failures={
        "batch_size": "the variance and covariance are unbiased batch estimates (divided by "
                      "N - 1, as in the official code), so duplicating the batch changes them",
        "extreme_inputs": "the covariance term is quartic in the embeddings: at 1e4 its "
                          "gradient is ~1e12, beyond float16's range (65504) once cast back "
                          "to a float16 input; float32 and bfloat16 inputs stay finite",
    },
)
def vicreg(z_a: torch.Tensor, z_b: torch.Tensor, *, sim_weight: float = 25.0,
           var_weight: float = 25.0, cov_weight: float = 1.0, eps: float = 1e-4,
           distributed: bool = False, group: Any = None) -> torch.Tensor:
    """VICReg loss, term for term as the official code (facebookresearch/vicreg).

    Unbiased variances and covariances (divided by ``N - 1``), the standard deviation
    hinge averaged over dimensions and halved per branch, the squared off-diagonal
    covariance divided by ``d`` per branch. With ``distributed=True`` the variance and
    covariance use every rank's embeddings (gathered with gradients, like the official
    ``FullGatherLayer``) and the invariance MSE is the global mean, so each rank's value
    is the single-process value on the concatenated batch.

    Shape:
        z_a, z_b: ``[N, d]``; output: scalar.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
        >>> vicreg(z, z)
        tensor(4.5861)
    """
    for name, value in (("sim_weight", sim_weight), ("var_weight", var_weight),
                        ("cov_weight", cov_weight)):
        check_param(name, value, low=0.0)
    check_param("eps", eps, low=0.0)
    _check_pair("z_a", z_a, "z_b", z_b)
    x, y = upcast(z_a), upcast(z_b)
    squared_error = (x - y).square()
    if distributed:
        invariance = _dist.global_mean(squared_error.sum(), squared_error.numel(), group)
    else:
        invariance = squared_error.mean() if squared_error.numel() else squared_error.sum()
    _, x = _whole_batch(x, distributed, group)
    _, y = _whole_batch(y, distributed, group)
    n, d = x.shape
    if n == 0:
        return _zero(x, y)
    # A single sample has no spread: its variance is 0 (the official N - 1 would give 0/0).
    denominator = max(n - 1, 1)
    variance_term = x.new_zeros(())
    covariance_term = x.new_zeros(())
    for z in (x, y):
        centered = z - z.mean(dim=0)
        std = torch.sqrt(centered.square().sum(dim=0) / denominator + eps)
        variance_term = variance_term + F.relu(1.0 - std).mean() / 2
        covariance_term = covariance_term + _off_diagonal_square_sum(
            centered.t() @ centered / denominator) / d
    return sim_weight * invariance + var_weight * variance_term + cov_weight * covariance_term


# --- Barlow Twins -------------------------------------------------------------------------------


def _barlow_reference(z_a: torch.Tensor, z_b: torch.Tensor, *, lambd: float = 5.1e-3,
                      eps: float = 1e-5) -> torch.Tensor:
    # facebookresearch/barlowtwins main.py BarlowTwins.forward, one process.
    def off_diagonal(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    def bn(z: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(z, None, None, training=True, eps=eps)

    c = bn(z_a).T @ bn(z_b) / z_a.shape[0]
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = off_diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


@register_loss(
    family="self_supervised", tasks=("self_supervised",),
    input_kind="embeddings", target_kind="implicit (z_a[i] and z_b[i] are two views)",
    aliases=("barlow_twins_loss", "redundancy_reduction"), properties=("nonnegative",),
    grad_args=(0, 1),
    summary="Barlow Twins: drive the cross-correlation matrix of the two views' "
            "batch-standardized embeddings to the identity.",
    formula="z~ = (z - mean_batch) / sqrt(Var_batch + eps) per dimension (biased variance);  "
            "C = z~_a^T z~_b / N;  L = sum_k (1 - C_kk)^2 + lambd sum_{k != l} C_kl^2",
    gradient="The diagonal term makes each dimension invariant to the augmentation (C_kk -> "
             "1); the off-diagonal term, weighted by lambd, decorrelates dimensions "
             "(redundancy reduction). Standardization over the batch is differentiated "
             "through, which is what prevents collapse.",
    when_to_use="Non-contrastive self-supervised pre-training with two views per image and a "
                "wide projector (8192 dims in the paper; accuracy kept rising with the "
                "projector's width); works with moderate batches (256 in the paper's "
                "ablation was close to the best) and needs no negatives, momentum encoder or "
                "stop-gradient. Close to vicreg, with one hyperparameter instead of three. "
                "lambd = 5.1e-3 is the paper's value for 8192 dimensions.",
    pitfalls="lambd must scale with the dimension (about 1/d): the off-diagonal sum has d^2 "
             "terms. The cross-correlation is a batch statistic: use distributed=True under "
             "DDP (the official code all-reduces C and uses SyncBatchNorm). O(d^2) memory. "
             "Standardization uses the biased variance plus eps, exactly as BatchNorm1d("
             "affine=False) in training mode.",
    references=("Zbontar, Jing, Misra, LeCun & Deny, Barlow Twins: Self-Supervised Learning "
                "via Redundancy Reduction, ICML 2021.",),
    example_inputs=_paired_views, reference=_barlow_reference,
)
def barlow_twins(z_a: torch.Tensor, z_b: torch.Tensor, *, lambd: float = 5.1e-3,
                 eps: float = 1e-5, distributed: bool = False, group: Any = None) -> torch.Tensor:
    """Barlow Twins loss, as the official code (facebookresearch/barlowtwins).

    Each view is standardized per dimension over the batch as ``BatchNorm1d(d,
    affine=False)`` in training mode (biased variance, ``eps``); the cross-correlation
    is divided by the (global) batch size. With ``distributed=True`` the statistics
    and ``C`` use every rank's embeddings (the official code's SyncBatchNorm and
    all-reduce of ``C``), gathered with gradients.

    Shape:
        z_a, z_b: ``[N, d]``; output: scalar.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
        >>> barlow_twins(z, z[:, [1, 0]])
        tensor(2.0102)
    """
    check_param("lambd", lambd, low=0.0)
    check_param("eps", eps, low=0.0)
    _check_pair("z_a", z_a, "z_b", z_b)
    _, x = _whole_batch(upcast(z_a), distributed, group)
    _, y = _whole_batch(upcast(z_b), distributed, group)
    n = x.shape[0]
    if n == 0:
        return _zero(x, y)

    def standardize(z: torch.Tensor) -> torch.Tensor:
        centered = z - z.mean(dim=0)
        return centered / torch.sqrt(centered.square().mean(dim=0) + eps)

    c = standardize(x).t() @ standardize(y) / n
    return (torch.diagonal(c) - 1.0).square().sum() + lambd * _off_diagonal_square_sum(c)


# --- SimSiam / BYOL -----------------------------------------------------------------------------


def _negative_cosine_reference(prediction: torch.Tensor, target: torch.Tensor, *,
                               stop_gradient: bool = True,
                               reduction: str = "mean") -> torch.Tensor:
    per = torch.stack([-(p @ t) / (p.norm() * t.norm())
                       for p, t in zip(prediction, target.detach() if stop_gradient else target)]
                      ) if prediction.shape[0] else prediction.sum(1)
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" or prediction.shape[0] == 0 else per.mean()


def _aligned(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return (args[1].detach().clone() * 2.0, *args[1:])


@register_loss(
    family="self_supervised", tasks=("self_supervised",),
    input_kind="embeddings", target_kind="embeddings of the other view (no gradient)",
    aliases=("simsiam", "byol", "negative_cosine_similarity"), grad_args=(0,),
    none_shape="sample",
    summary="SimSiam / BYOL objective: negative cosine similarity between a predictor's "
            "output and the other view's embedding, with a stop-gradient on the target.",
    formula="L_i = -cos(p_i, stopgrad(z_i));  mean over the batch (SimSiam symmetrizes: "
            "L = L(p1, z2) / 2 + L(p2, z1) / 2; BYOL's 2 - 2 cos = 2 + 2 L)",
    gradient="dL/dp = -(z^ - cos p^) / |p|: only the component of the target direction "
             "orthogonal to p, scaled by 1/|p|; nothing flows into the target branch, which "
             "is what keeps SimSiam from collapsing.",
    when_to_use="SimSiam (shared encoder, predictor head, stop-gradient) and BYOL (momentum "
                "target encoder) pre-training: the simplest and cheapest self-supervised "
                "objective, with no negatives, no batch statistics in the loss and modest "
                "batches (SimSiam: 256). Call it twice with the views swapped and average "
                "(SimSiam's symmetric loss). For ViTs dino usually learns better features; "
                "vicreg or barlow_twins avoid the reliance on the predictor and stop-gradient.",
    pitfalls="Without stop_gradient (or a predictor head) the trivial constant solution "
             "collapses the representation; stop_gradient=False is only for experiments. "
             "The minimum is -1, not 0. Watch the per-dimension std of the normalized "
             "embeddings: near 0 means collapse.",
    references=("Chen & He, Exploring Simple Siamese Representation Learning, CVPR 2021.",
                "Grill, Strub, Altche, Tallec, Richemond, Buchatskaya, Doersch, Avila Pires, "
                "Guo, Gheshlaghi Azar, Piot, Kavukcuoglu, Munos & Valko, Bootstrap Your Own "
                "Latent: A New Approach to Self-Supervised Learning, NeurIPS 2020.",),
    example_inputs=_paired_views, reference=_negative_cosine_reference, optimum=_aligned,
)
def negative_cosine(prediction: torch.Tensor, target: torch.Tensor, *,
                    stop_gradient: bool = True, weight: torch.Tensor | None = None,
                    reduction: Reduction = "mean") -> torch.Tensor:
    """Negative cosine similarity with a stop-gradient on the target (SimSiam's D).

    Shape:
        prediction, target: ``[N, d]``; output: scalar, or ``[N]`` with
        ``reduction="none"``.

    Example:
        >>> negative_cosine(torch.tensor([[1.0, 0.0], [1.0, 1.0]]),
        ...                 torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
        tensor(-0.8536)
    """
    check_reduction(reduction)
    _check_pair("prediction", prediction, "target", target)
    check_broadcastable("weight", weight, torch.Size([prediction.shape[0]]))
    z = upcast(target)
    loss = -F.cosine_similarity(upcast(prediction), z.detach() if stop_gradient else z, dim=1)
    return reduce(loss, reduction, weight=weight)


# --- DINO ---------------------------------------------------------------------------------------


def _dino_examples(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = ex.generator(seed)
    teacher = ex.randn(n, 5, g=g)
    return teacher + 0.8 * ex.randn(n, 5, g=g), teacher


def _dino_reference(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *,
                    center: torch.Tensor | None = None, student_temperature: float = 0.1,
                    teacher_temperature: float = 0.04, reduction: str = "mean") -> torch.Tensor:
    # facebookresearch/dino main_dino.py DINOLoss.forward, one (teacher, student) view pair.
    c: torch.Tensor | float = 0.0 if center is None else center
    q = F.softmax((teacher_logits - c) / teacher_temperature, dim=-1).detach()
    per = torch.sum(-q * F.log_softmax(student_logits / student_temperature, dim=-1), dim=-1)
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" or per.numel() == 0 else per.mean()


def _dino_optimum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    # The student distribution equals the sharpened teacher's (default temperatures).
    return (args[1].detach() * (0.1 / 0.04), *args[1:])


@register_loss(
    family="self_supervised", tasks=("self_supervised", "distillation"),
    input_kind="logits", target_kind="teacher logits (no gradient)",
    aliases=("dino_loss", "self_distillation"), properties=("nonnegative",), grad_args=(0,),
    none_shape="sample", learnable=("student_temperature",),
    summary="DINO self-distillation: cross-entropy from a centered, sharpened, detached "
            "teacher distribution to the student's softmax.",
    formula="q = softmax((t - center) / tau_t) (no gradient);  L_i = -sum_k q_ik log "
            "softmax(s_i / tau_s)_k;  mean over rows",
    gradient="dL/ds_i = (softmax(s_i / tau_s) - q_i) / tau_s: the student moves toward the "
             "teacher's sharpened distribution; nothing flows to the teacher (updated by EMA "
             "of the student outside the loss) or to the center.",
    when_to_use="DINO-style self-supervised training of ViTs (its strongest use) or CNNs: "
                "student and momentum teacher see different crops, multi-crop adds cheap "
                "local views. Costs a momentum teacher and a wide head (65536 outputs in the "
                "paper) but no negatives and no large batches. losskit.modules.DINOLoss keeps "
                "the center's moving average and pairs the official multi-crop views. "
                "Defaults tau_s = 0.1, tau_t = 0.04 (the paper warms tau_t up linearly from "
                "0.04 to 0.07 over the first 30 epochs: pass teacher_temperature per call).",
    pitfalls="Centering and sharpening must balance: without the center one dimension "
             "dominates (collapse to one-hot); without sharpening (tau_t too high) the "
             "output collapses to uniform. Pass the running center (from DINOLoss), not "
             "the current batch mean, and update it after the loss as the official code "
             "does. Rows must pair a student view with a different teacher view.",
    references=("Caron, Touvron, Misra, Jegou, Mairal, Bojanowski & Joulin, Emerging "
                "Properties in Self-Supervised Vision Transformers, ICCV 2021.",),
    example_inputs=_dino_examples, reference=_dino_reference, optimum=_dino_optimum,
)
def dino(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *,
         center: torch.Tensor | None = None,
         student_temperature: float | torch.Tensor = 0.1, teacher_temperature: float = 0.04,
         weight: torch.Tensor | None = None, reduction: Reduction = "mean") -> torch.Tensor:
    """DINO loss (Caron et al. 2021) for rows pairing a student view with a teacher view.

    The teacher side (logits, center) is detached. ``center`` (``[K]`` or ``[1, K]``,
    default none) is subtracted before sharpening by ``teacher_temperature``.
    ``student_temperature`` may be a learnable tensor. For the official multi-crop
    average over (teacher view, different student view) pairs, stack the pairs' rows
    (equal sizes make the mean over rows the mean over pairs), or use
    :class:`losskit.modules.DINOLoss`.

    Shape:
        student_logits, teacher_logits: ``[N, K]``; output: scalar, or ``[N]``.

    Example:
        >>> dino(torch.zeros(1, 3), torch.tensor([[2.0, 0.0, 0.0]]))
        tensor(1.0986)
    """
    check_reduction(reduction)
    check_param("student_temperature", student_temperature, low=0.0, low_inclusive=False,
                learnable=True)
    check_param("teacher_temperature", teacher_temperature, low=0.0, low_inclusive=False)
    _check_pair("student_logits", student_logits, "teacher_logits", teacher_logits)
    check_broadcastable("weight", weight, torch.Size([student_logits.shape[0]]))
    teacher = upcast(teacher_logits).detach()
    if center is not None:
        check_floating("center", center)
        if center.shape not in ((teacher.shape[1],), (1, teacher.shape[1])):
            raise LossInputError(f"center must have shape [K] or [1, K] with K = "
                                 f"{teacher.shape[1]}, got {tuple(center.shape)}")
        teacher = teacher - upcast(center).detach()
    q = torch.softmax(teacher / teacher_temperature, dim=1)
    log_p = torch.log_softmax(upcast(student_logits) / student_temperature, dim=1)
    return reduce(-(q * log_p).sum(dim=1), reduction, weight=weight)
