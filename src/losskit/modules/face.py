"""Face-recognition and proxy losses that own their class centers or proxies."""

from __future__ import annotations

import torch
from torch import nn

from .. import functional as F
from .._core.types import Reduction
from .._core.validate import LossInputError

__all__ = ["ArcFace", "CosFace", "ProxyAnchor"]


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise LossInputError(f"{name} must be a positive int, got {value!r}")


class _ClassCenters(nn.Module):
    """Holds ``[num_classes * per_class, embedding_dim]`` learnable centers."""

    def __init__(self, num_classes: int, embedding_dim: int, per_class: int = 1,
                 reduction: Reduction = "mean") -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("embedding_dim", embedding_dim),
                            ("subcenters", per_class)):
            _check_size(name, value)
        self.num_classes, self.embedding_dim, self.reduction = (num_classes, embedding_dim,
                                                                reduction)
        self.centers = nn.Parameter(torch.empty(num_classes * per_class, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Only directions matter (the loss normalizes): a small isotropic Gaussian, as
        # insightface initializes its class centers.
        nn.init.normal_(self.centers, std=0.01)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, embedding_dim={self.embedding_dim}"


class ArcFace(_ClassCenters):
    """ArcFace (Deng et al. 2019) with its class centers (sub-center ArcFace for ``subcenters
    > 1``) as the parameter ``centers`` ``[num_classes * subcenters, embedding_dim]``.

    ``margin`` (radians) and ``scale`` are floats, or ``nn.Parameter``\\ s to learn them.
    ``forward(embeddings [N, d], target [N], weight=None)`` is :func:`losskit.functional.arcface`.

    Example:
        >>> head = ArcFace(10, 8)
        >>> loss = head(torch.randn(4, 8), torch.tensor([0, 1, 2, 3]))
        >>> loss.backward(); head.centers.grad.shape
        torch.Size([10, 8])
    """

    def __init__(self, num_classes: int, embedding_dim: int, *,
                 margin: float | torch.Tensor = 0.5, scale: float | torch.Tensor = 64.0,
                 subcenters: int = 1, reduction: Reduction = "mean") -> None:
        super().__init__(num_classes, embedding_dim, subcenters, reduction)
        self.subcenters = subcenters
        self.margin, self.scale = margin, scale

    def forward(self, embeddings: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        return F.arcface(embeddings, self.centers, target, margin=self.margin, scale=self.scale,
                         subcenters=self.subcenters, weight=weight, reduction=self.reduction)


class CosFace(_ClassCenters):
    """CosFace (Wang et al. 2018) with its class centers as the parameter ``centers``
    ``[num_classes, embedding_dim]``; ``forward`` is :func:`losskit.functional.cosface`.

    Example:
        >>> head = CosFace(10, 8)
        >>> head(torch.randn(4, 8), torch.tensor([0, 1, 2, 3])).dim()
        0
    """

    def __init__(self, num_classes: int, embedding_dim: int, *,
                 margin: float | torch.Tensor = 0.35, scale: float | torch.Tensor = 64.0,
                 reduction: Reduction = "mean") -> None:
        super().__init__(num_classes, embedding_dim, 1, reduction)
        self.margin, self.scale = margin, scale

    def forward(self, embeddings: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        return F.cosface(embeddings, self.centers, target, margin=self.margin, scale=self.scale,
                         weight=weight, reduction=self.reduction)


class ProxyAnchor(nn.Module):
    """Proxy-Anchor loss (Kim et al. 2020) with one learnable proxy per class as the parameter
    ``proxies`` ``[num_classes, embedding_dim]``; ``forward`` is
    :func:`losskit.functional.proxy_anchor`.

    Proxies start from ``kaiming_normal_(mode="fan_out")`` as in the authors' code; give
    them a larger learning rate than the backbone (the paper uses 100x).

    Example:
        >>> loss_fn = ProxyAnchor(10, 8)
        >>> loss_fn(torch.randn(4, 8), torch.tensor([0, 1, 2, 3])).dim()
        0
    """

    def __init__(self, num_classes: int, embedding_dim: int, *,
                 margin: float | torch.Tensor = 0.1, alpha: float | torch.Tensor = 32.0) -> None:
        super().__init__()
        _check_size("num_classes", num_classes)
        _check_size("embedding_dim", embedding_dim)
        self.num_classes, self.embedding_dim = num_classes, embedding_dim
        self.margin, self.alpha = margin, alpha
        self.proxies = nn.Parameter(torch.empty(num_classes, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")

    def forward(self, embeddings: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.proxy_anchor(embeddings, self.proxies, target, margin=self.margin,
                              alpha=self.alpha)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, embedding_dim={self.embedding_dim}"
