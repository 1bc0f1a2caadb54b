"""Losses that own learnable state, as ``torch.nn.Module``\\ s whose parameters an optimizer sees.

The functional losses take everything as arguments; these modules hold what training
learns or tracks alongside the model: class centers (:class:`ArcFace`,
:class:`CosFace`), proxies (:class:`ProxyAnchor`), a log-parameterised logit scale
(:class:`CLIPLoss`), a logit scale and bias (:class:`SigLIPLoss`), and a moving-average
center buffer (:class:`DINOLoss`), Barron's shape and scale
(:class:`GeneralRobust`). Each ``forward`` is a thin call to the functional
loss in :mod:`losskit.functional`, so values and gradients are the definition's.

Put the module's parameters in the optimizer next to the model's::

    head = losskit.modules.ArcFace(num_classes=1000, embedding_dim=512)
    optimizer = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.1)
    loss = head(model(images), labels)
"""

from .contrastive import CLIPLoss, DINOLoss, SigLIPLoss
from .face import ArcFace, CosFace, ProxyAnchor
from .robust import GeneralRobust

__all__ = [
    "ArcFace",
    "CLIPLoss",
    "CosFace",
    "DINOLoss",
    "GeneralRobust",
    "ProxyAnchor",
    "SigLIPLoss",
]
