"""gaussian_kl and vae_elbo: values against Monte-Carlo, closed forms and torch builtins."""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit import functional as F


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    # KL(q || p) = E_q[log q(z) - log p(z)], estimated with 200k samples of z ~ q.
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 0.0], [1.5, 0.2, -0.3]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 0.7], [0.3, -0.5, 1.2]], dtype=torch.float64)
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(200_000, *mu.shape, generator=g, dtype=torch.float64)
    log_q = (-0.5 * ((z - mu) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_p = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    mc_per_sample = (log_q - log_p).mean(0)                 # [N]
    ours = F.gaussian_kl(mu, logvar, reduction="none")
    # Monte-Carlo standard error here is ~0.005; allow 4 standard errors
    torch.testing.assert_close(ours, mc_per_sample, atol=0.02, rtol=0)
    torch.testing.assert_close(F.gaussian_kl(mu, logvar), mc_per_sample.mean(), atol=0.02, rtol=0)


def test_gaussian_kl_is_zero_for_the_standard_normal_and_sums_over_latents():
    assert float(F.gaussian_kl(torch.zeros(4, 8), torch.zeros(4, 8))) == 0.0
    # closed form for mu = 1, logvar = 0 in each of D dims: D / 2; mean over the batch
    mu = torch.ones(3, 4)
    assert float(F.gaussian_kl(mu, torch.zeros(3, 4))) == pytest.approx(2.0)
    assert F.gaussian_kl(mu, torch.zeros(3, 4), reduction="none").shape == (3,)


def test_gaussian_kl_is_accurate_near_the_prior():
    # Taylor: exp(lv) - 1 - lv = lv^2 / 2 + O(lv^3), so KL = lv^2 / 4 = 2.5e-9 at lv = 1e-4.
    # In float32 the naive exp(lv) - 1 - lv has a rounding error of ~1e-7 (the spacing of
    # floats near 1), 40 times the answer; the expm1 form is accurate to ~1e-11.
    lv = torch.full((1, 1), 1e-4)
    naive = float(0.5 * (torch.exp(lv) - 1 - lv).sum())
    ours = float(F.gaussian_kl(torch.zeros(1, 1), lv))
    assert ours == pytest.approx(2.5e-9, rel=1e-2)
    assert naive != pytest.approx(2.5e-9, rel=1e-2)


def test_gaussian_kl_rejects_bad_shapes():
    with pytest.raises(losskit.LossInputError, match="same shape"):
        F.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(losskit.LossInputError, match="mu must have 2 dimensions"):
        F.gaussian_kl(torch.zeros(3), torch.zeros(3))


def _vae_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(4, 6, generator=g, dtype=torch.float64),
            torch.rand(4, 6, generator=g, dtype=torch.float64),
            torch.randn(4, 3, generator=g, dtype=torch.float64),
            0.5 * torch.randn(4, 3, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("recon_loss, builtin", [
    ("mse", torch.nn.functional.mse_loss),
    ("mae", torch.nn.functional.l1_loss),
    ("bce", torch.nn.functional.binary_cross_entropy_with_logits),
])
def test_vae_elbo_parts_against_torch_builtins(recon_loss, builtin):
    recon, x, mu, logvar = _vae_batch()
    parts = F.vae_elbo(recon, x, mu, logvar, beta=0.3, recon_loss=recon_loss,
                       return_parts=True)
    rec = builtin(recon, x, reduction="sum") / 4          # summed over features, mean over N
    kl = F.gaussian_kl(mu, logvar)
    torch.testing.assert_close(parts.reconstruction, rec)
    torch.testing.assert_close(parts.kl, kl)
    torch.testing.assert_close(parts.total, rec + 0.3 * kl)
    torch.testing.assert_close(F.vae_elbo(recon, x, mu, logvar, beta=0.3, recon_loss=recon_loss),
                               parts.total)


def test_free_bits_floors_each_latent_dimension_at_its_batch_mean():
    recon, x, mu, logvar = _vae_batch(1)
    mu = mu.clone()
    mu[:, 0] = 3.0                                          # dim 0 well above the floor
    mu[:, 1:] = 0.01
    logvar = torch.zeros_like(logvar)                       # dims 1, 2 almost collapsed
    mu.requires_grad_(True)
    lam = 0.5
    total = F.vae_elbo(recon, x, mu, logvar, free_bits=lam)
    # by hand: sum_j max(lam, mean_i KL_ij) (Kingma et al. 2016)
    kl_dims = 0.5 * (mu.detach() ** 2 + logvar.exp() - 1 - logvar)
    floored = torch.clamp(kl_dims.mean(0), min=lam).sum()
    rec = ((recon - x) ** 2).sum(1).mean()
    torch.testing.assert_close(total, rec + floored)
    (grad,) = torch.autograd.grad(total, mu)
    assert torch.equal(grad[:, 1:], torch.zeros_like(grad[:, 1:]))   # free dims get no KL pull
    torch.testing.assert_close(grad[:, 0], mu.detach()[:, 0] / 4)    # open dim: d KL/d mu = mu
    # the logged KL is the plain KL, so collapse stays visible
    parts = F.vae_elbo(recon, x, mu, logvar, free_bits=lam, return_parts=True)
    torch.testing.assert_close(parts.kl, F.gaussian_kl(mu, logvar))


def test_vae_elbo_reductions_and_weights_are_per_sample():
    recon, x, mu, logvar = _vae_batch(2)
    none = F.vae_elbo(recon, x, mu, logvar, reduction="none")
    assert none.shape == (4,)
    w = torch.tensor([1.0, 0.0, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(F.vae_elbo(recon, x, mu, logvar, weight=w, reduction="sum"),
                               (none * w).sum())


def test_vae_elbo_rejects_bad_input():
    recon, x, mu, logvar = _vae_batch()
    with pytest.raises(losskit.LossInputError, match="recon_loss"):
        F.vae_elbo(recon, x, mu, logvar, recon_loss="l2")
    with pytest.raises(losskit.LossInputError, match="batch dimension"):
        F.vae_elbo(recon, x, mu[:3], logvar[:3])
    with pytest.raises(losskit.LossInputError, match="x must hold probabilities"):
        F.vae_elbo(recon, x + 2, mu, logvar, recon_loss="bce")
    with pytest.raises(losskit.LossInputError, match="free_bits"):
        F.vae_elbo(recon, x, mu, logvar, free_bits=-1.0)
