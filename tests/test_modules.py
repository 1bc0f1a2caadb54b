"""losskit.modules: the learnable state is registered, receives gradients, and updates as the
reference code does.

Sources: the functional losses (the modules must be thin calls to them), open_clip's
``ClipLoss`` formula and its ``logit_scale.clamp_(0, log 100)``, the SigLIP paper's
pseudo-code, and ``DINOLoss`` of facebookresearch/dino transcribed below (multi-crop
pairing and the center's moving average, one process).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF

import losskit
import losskit.functional as F
from losskit.modules import ArcFace, CLIPLoss, CosFace, DINOLoss, ProxyAnchor, SigLIPLoss

D64 = torch.float64


def _batch(n=6, d=8, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=D64),
            torch.randint(0, classes, (n,), generator=g))


# --- class centers and proxies -------------------------------------------------------------------


@pytest.mark.parametrize("cls, fn, kwargs", [
    (ArcFace, F.arcface, {"margin": 0.3, "scale": 16.0, "subcenters": 2}),
    (CosFace, F.cosface, {"margin": 0.2, "scale": 16.0}),
])
def test_center_heads_train_their_centers(cls, fn, kwargs):
    torch.manual_seed(0)
    head = cls(5, 8, **kwargs).double()
    names = [n for n, _ in head.named_parameters()]
    assert names == ["centers"]
    rows = 5 * kwargs.get("subcenters", 1)
    assert head.centers.shape == (rows, 8)
    e, y = _batch()
    loss = head(e, y)
    torch.testing.assert_close(loss, fn(e, head.centers, y, **kwargs))
    optimizer = torch.optim.SGD(head.parameters(), lr=1.0)
    before = head.centers.detach().clone()
    loss.backward()
    assert head.centers.grad is not None and head.centers.grad.abs().sum() > 0
    optimizer.step()
    assert not torch.equal(before, head.centers.detach())
    with torch.no_grad():
        assert head(e, y) < loss  # one step on the centers lowers the loss


def test_arcface_margin_and_scale_as_parameters_are_learned():
    head = ArcFace(5, 8, margin=torch.nn.Parameter(torch.tensor(0.4)),
                   scale=torch.nn.Parameter(torch.tensor(10.0)))
    assert {n for n, _ in head.named_parameters()} == {"centers", "margin", "scale"}
    e, y = _batch()
    head(e.float(), y).backward()
    assert head.margin.grad is not None and head.scale.grad is not None


def test_proxy_anchor_module_trains_its_proxies():
    torch.manual_seed(0)
    loss_fn = ProxyAnchor(5, 8).double()
    # kaiming_normal_(mode="fan_out") on [C, d]: std sqrt(2 / C).
    big = ProxyAnchor(200, 300)
    assert big.proxies.std().item() == pytest.approx(math.sqrt(2 / 200), rel=0.05)
    e, y = _batch()
    loss = loss_fn(e, y)
    torch.testing.assert_close(loss, F.proxy_anchor(e, loss_fn.proxies, y))
    loss.backward()
    assert loss_fn.proxies.grad.abs().sum() > 0


def test_center_heads_reject_bad_sizes():
    with pytest.raises(losskit.LossInputError, match="num_classes"):
        ArcFace(0, 8)
    with pytest.raises(losskit.LossInputError, match="subcenters"):
        ArcFace(3, 8, subcenters=0)


# --- CLIP and SigLIP -----------------------------------------------------------------------------


def _pairs(n=6, d=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=D64)
    return a, a + 0.6 * torch.randn(n, d, generator=g, dtype=D64)


def _open_clip(img, txt, logit_scale):
    img, txt = TF.normalize(img, dim=-1), TF.normalize(txt, dim=-1)
    logits = logit_scale * img @ txt.T
    labels = torch.arange(img.shape[0])
    return (TF.cross_entropy(logits, labels) + TF.cross_entropy(logits.T, labels)) / 2


def test_clip_loss_learns_a_log_parameterised_scale():
    loss_fn = CLIPLoss().double()
    assert [n for n, _ in loss_fn.named_parameters()] == ["logit_scale"]
    assert loss_fn.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    img, txt = _pairs()
    loss = loss_fn(img, txt)
    torch.testing.assert_close(loss, F.clip_contrastive(img, txt, temperature=0.07))
    loss.backward()
    reference = torch.tensor(math.log(1 / 0.07), dtype=D64, requires_grad=True)
    (expected,) = torch.autograd.grad(_open_clip(img, txt, reference.exp()), reference)
    torch.testing.assert_close(loss_fn.logit_scale.grad, expected)


def test_clip_loss_clamps_the_scale_at_100_like_open_clip():
    loss_fn = CLIPLoss().double()
    with torch.no_grad():
        loss_fn.logit_scale.fill_(7.0)  # a scale of e^7 > 100
    img, txt = _pairs()
    loss = loss_fn(img, txt)
    assert loss_fn.logit_scale.item() == pytest.approx(math.log(100))
    torch.testing.assert_close(loss, _open_clip(img, txt, 100.0))


def test_clip_loss_fixed_temperature_is_a_buffer():
    loss_fn = CLIPLoss(0.1, learnable=False)
    assert list(loss_fn.parameters()) == [] and "logit_scale" in dict(loss_fn.named_buffers())
    img, txt = _pairs()
    torch.testing.assert_close(loss_fn(img.float(), txt.float()),
                               F.clip_contrastive(img.float(), txt.float(), temperature=0.1))


def test_siglip_loss_learns_scale_and_bias():
    loss_fn = SigLIPLoss().double()
    assert {n for n, _ in loss_fn.named_parameters()} == {"logit_scale", "logit_bias"}
    assert loss_fn.logit_scale.exp().item() == pytest.approx(10.0)
    assert loss_fn.logit_bias.item() == -10.0
    img, txt = _pairs()
    loss = loss_fn(img, txt)
    # The paper's pseudo-code, with t' = log 10 and b = -10.
    t = torch.tensor(math.log(10), dtype=D64, requires_grad=True)
    b = torch.tensor(-10.0, dtype=D64, requires_grad=True)
    zi, zt = TF.normalize(img, dim=1), TF.normalize(txt, dim=1)
    logits = zi @ zt.T * t.exp() + b
    labels = 2 * torch.eye(6, dtype=D64) - 1
    paper = -torch.sum(TF.logsigmoid(labels * logits)) / 6
    torch.testing.assert_close(loss, paper)
    loss.backward()
    g_t, g_b = torch.autograd.grad(paper, (t, b))
    torch.testing.assert_close(loss_fn.logit_scale.grad, g_t)
    torch.testing.assert_close(loss_fn.logit_bias.grad, g_b)


# --- DINO ----------------------------------------------------------------------------------------


class _OfficialDINOLoss:
    """facebookresearch/dino main_dino.py DINOLoss, one process, fixed teacher temperature."""

    def __init__(self, out_dim, ncrops, teacher_temp, student_temp=0.1, center_momentum=0.9):
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.center_momentum, self.ncrops = center_momentum, ncrops
        self.center = torch.zeros(1, out_dim, dtype=D64)

    def __call__(self, student_output, teacher_output):
        student_out = (student_output / self.student_temp).chunk(self.ncrops)
        teacher_out = TF.softmax((teacher_output - self.center) / self.teacher_temp, dim=-1)
        teacher_out = teacher_out.detach().chunk(2)
        total_loss, n_loss_terms = 0, 0
        for iq, q in enumerate(teacher_out):
            for v in range(len(student_out)):
                if v == iq:
                    continue
                loss = torch.sum(-q * TF.log_softmax(student_out[v], dim=-1), dim=-1)
                total_loss += loss.mean()
                n_loss_terms += 1
        total_loss /= n_loss_terms
        with torch.no_grad():
            batch_center = torch.sum(teacher_output, dim=0, keepdim=True) / len(teacher_output)
            self.center = (self.center * self.center_momentum
                           + batch_center * (1 - self.center_momentum))
        return total_loss


def test_dino_module_matches_the_official_multi_crop_loss_and_center_updates():
    g = torch.Generator().manual_seed(2)
    ours = DINOLoss(7, ncrops=4, teacher_temperature=0.05).double()
    official = _OfficialDINOLoss(7, ncrops=4, teacher_temp=0.05)
    for _ in range(3):  # the center evolves across steps
        student = torch.randn(4 * 3, 7, generator=g, dtype=D64)
        teacher = torch.randn(2 * 3, 7, generator=g, dtype=D64) + 1.0
        s1, s2 = student.clone().requires_grad_(True), student.clone().requires_grad_(True)
        mine, theirs = ours(s1, teacher), official(s2, teacher)
        torch.testing.assert_close(mine, theirs)
        torch.testing.assert_close(ours.center, official.center)
        mine.backward()
        theirs.backward()
        torch.testing.assert_close(s1.grad, s2.grad)
    assert "center" in ours.state_dict() and list(ours.parameters()) == []


def test_dino_module_center_is_frozen_in_eval_and_temperature_can_change():
    loss_fn = DINOLoss(4)
    s, t = torch.randn(3, 4), torch.randn(3, 4)
    loss_fn.eval()
    loss_fn(s, t)
    assert not loss_fn.center.any()
    torch.testing.assert_close(loss_fn(s, t, teacher_temperature=0.07),
                               F.dino(s, t, center=loss_fn.center, teacher_temperature=0.07))


def test_dino_module_rejects_a_wrong_multi_crop_layout():
    loss_fn = DINOLoss(4, ncrops=3)
    with pytest.raises(losskit.LossInputError, match="ncrops"):
        loss_fn(torch.randn(5, 4), torch.randn(4, 4))
