"""GAN objectives, WGAN-GP, R1 and min-SNR diffusion.

Expected values: each GAN objective's formula written with math below; gradient penalty and
R1 on a linear critic (the gradient of w . x is w, so the penalties and their gradients
with respect to w have closed forms) and on a quadratic critic; diffusers' min-SNR recipe
(compute_snr, then stack / min / divide, from its text-to-image training script)
transcribed below.
"""

from __future__ import annotations

import math

import pytest
import torch

import losskit
from losskit import functional as F

F64 = torch.float64


def _softplus(v):
    return math.log1p(math.exp(-abs(v))) + max(v, 0.0)


FAKE = [0.0, 2.0, -3.0, 0.5]
REAL = [1.0, -1.0, 4.0, 0.25]

GENERATOR_FORMULAS = {
    "non_saturating": lambda f: -math.log(1 / (1 + math.exp(-f))),
    "hinge": lambda f: -f,
    "lsgan": lambda f: 0.5 * (f - 1) ** 2,
    "wasserstein": lambda f: -f,
}

DISCRIMINATOR_FORMULAS = {
    "non_saturating": lambda r, f: -math.log(1 / (1 + math.exp(-r)))
    - math.log(1 - 1 / (1 + math.exp(-f))),
    "hinge": lambda r, f: max(0.0, 1 - r) + max(0.0, 1 + f),
    "lsgan": lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f ** 2,
    "wasserstein": lambda r, f: f - r,
}


@pytest.mark.parametrize("kind", sorted(GENERATOR_FORMULAS))
def test_gan_generator_by_its_formula(kind):
    f = torch.tensor(FAKE, dtype=F64)
    expected = [GENERATOR_FORMULAS[kind](v) for v in FAKE]
    torch.testing.assert_close(F.gan_generator(f, kind=kind, reduction="none"),
                               torch.tensor(expected, dtype=F64))
    assert F.gan_generator(f, kind=kind).item() == pytest.approx(sum(expected) / 4)


@pytest.mark.parametrize("kind", sorted(DISCRIMINATOR_FORMULAS))
def test_gan_discriminator_by_its_formula(kind):
    r, f = torch.tensor(REAL, dtype=F64), torch.tensor(FAKE, dtype=F64)
    expected = [DISCRIMINATOR_FORMULAS[kind](a, b) for a, b in zip(REAL, FAKE)]
    torch.testing.assert_close(F.gan_discriminator(r, f, kind=kind, reduction="none"),
                               torch.tensor(expected, dtype=F64))
    # a different number of generated samples: E_real + E_fake
    f3 = f[:3]
    if kind == "wasserstein":
        expected_mean = sum(FAKE[:3]) / 3 - sum(REAL) / 4
    else:
        real_part = {"non_saturating": lambda v: _softplus(-v), "hinge": lambda v: max(0, 1 - v),
                     "lsgan": lambda v: 0.5 * (v - 1) ** 2}[kind]
        fake_part = {"non_saturating": _softplus, "hinge": lambda v: max(0, 1 + v),
                     "lsgan": lambda v: 0.5 * v * v}[kind]
        expected_mean = (sum(real_part(v) for v in REAL) / 4
                         + sum(fake_part(v) for v in FAKE[:3]) / 3)
    assert F.gan_discriminator(r, f3, kind=kind).item() == pytest.approx(expected_mean)
    with pytest.raises(losskit.LossInputError, match="same shape"):
        F.gan_discriminator(r, f3, kind=kind, reduction="none")


def test_gan_objectives_are_finite_at_extreme_logits_and_reject_unknown_kinds():
    big = torch.tensor([1e4, -1e4], requires_grad=True)
    for out in (F.gan_generator(big), F.gan_discriminator(big, big)):
        (g,) = torch.autograd.grad(out, big)
        assert torch.isfinite(out) and torch.isfinite(g).all()
    # non-saturating: the generator's gradient stays -1 / N while D confidently rejects
    f = torch.tensor([-1e4, -1e4], requires_grad=True)
    (g,) = torch.autograd.grad(F.gan_generator(f), f)
    torch.testing.assert_close(g, torch.tensor([-0.5, -0.5]))
    with pytest.raises(losskit.LossInputError, match="kind"):
        F.gan_generator(f, kind="minimax")


# --- WGAN-GP -----------------------------------------------------------------------------------


def _data(n=5, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=F64) + 1,
            torch.randn(n, d, generator=g, dtype=F64) - 1)


@pytest.mark.parametrize("target", [1.0, 0.5, 0.0])
def test_gradient_penalty_on_a_linear_critic_has_its_closed_form(target):
    # critic(x) = w . x has input gradient w at every interpolate: penalty (||w|| - t)^2,
    # and d/dw (||w|| - t)^2 = 2 (||w|| - t) w / ||w||; this needs create_graph to be set.
    real, fake = _data()
    w = torch.tensor([0.6, -0.8, 1.2], dtype=F64, requires_grad=True)
    out = F.gradient_penalty(lambda x: x @ w, real, fake, target=target)
    norm = float(w.detach().norm())
    assert out.item() == pytest.approx((norm - target) ** 2, rel=1e-12)
    (gw,) = torch.autograd.grad(out, w)
    torch.testing.assert_close(gw, 2 * (norm - target) * w.detach() / norm)


def test_gradient_penalty_on_a_quadratic_critic_uses_the_seeded_interpolates():
    # critic(x) = |x|^2 / 2 has input gradient x: penalty (||x_hat|| - 1)^2 per sample, with
    # x_hat = eps real + (1 - eps) fake and eps ~ U[0, 1] drawn as documented:
    # torch.rand(N, 1, ..., generator=generator) (float32, then the data's dtype).
    real, fake = _data(n=6)
    eps = torch.rand(6, 1, generator=torch.Generator().manual_seed(7)).to(F64)
    x_hat = eps * real + (1 - eps) * fake
    expected = (x_hat.norm(dim=1) - 1) ** 2
    ours = F.gradient_penalty(lambda x: 0.5 * (x * x).sum(-1), real, fake,
                              generator=torch.Generator().manual_seed(7), reduction="none")
    torch.testing.assert_close(ours, expected)
    # the same seed gives the same value; the global RNG is used without one
    again = F.gradient_penalty(lambda x: 0.5 * (x * x).sum(-1), real, fake,
                               generator=torch.Generator().manual_seed(7), reduction="none")
    torch.testing.assert_close(ours, again)


def _mlp_critic(seed=1, d=3, hidden=8):
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(d, hidden, generator=g, dtype=F64, requires_grad=True)
    w2 = torch.randn(hidden, generator=g, dtype=F64, requires_grad=True)
    return (lambda x: torch.tanh(x @ w1.to(x.dtype)) @ w2.to(x.dtype)), (w1, w2)


def test_gradient_penalty_gradcheck_through_critic_parameters_and_data():
    _, (w1, w2) = _mlp_critic()
    real, fake = _data(n=4)
    real.requires_grad_(True)
    fake.requires_grad_(True)

    def fn(w1_, w2_, real_, fake_):
        return F.gradient_penalty(lambda x: torch.tanh(x @ w1_) @ w2_, real_, fake_,
                                  generator=torch.Generator().manual_seed(3))

    assert torch.autograd.gradcheck(fn, (w1, w2, real, fake), eps=1e-6, atol=1e-6, rtol=1e-5)
    assert torch.autograd.gradgradcheck(fn, (w1, w2, real, fake), eps=1e-6, atol=1e-5,
                                        rtol=1e-4, fast_mode=True)


def test_gradient_penalty_per_sample_matches_a_loop_and_reductions_agree():
    critic, _ = _mlp_critic(seed=2)
    real, fake = _data(n=5, seed=4)
    seeded = lambda: torch.Generator().manual_seed(11)  # noqa: E731
    none = F.gradient_penalty(critic, real, fake, generator=seeded(), reduction="none")
    eps = torch.rand(5, 1, generator=seeded()).to(F64)
    for i in range(5):
        x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x[None]).sum(), x)
        assert none[i].item() == pytest.approx((g.norm().item() - 1) ** 2, rel=1e-12)
    total = F.gradient_penalty(critic, real, fake, generator=seeded(), reduction="sum")
    mean = F.gradient_penalty(critic, real, fake, generator=seeded())
    assert total.item() == pytest.approx(none.sum().item())
    assert mean.item() == pytest.approx(none.mean().item())
    w = torch.rand(5, dtype=F64)
    weighted = F.gradient_penalty(critic, real, fake, generator=seeded(), weight=w,
                                  reduction="none")
    torch.testing.assert_close(weighted, none * w)


def test_gradient_penalty_edge_cases():
    critic, _ = _mlp_critic()
    real, fake = _data()
    # NaN data gives NaN even with a linear critic, whose gradient ignores the data
    bad = real.clone()
    bad[0, 0] = float("nan")
    assert torch.isnan(F.gradient_penalty(lambda x: x @ torch.ones(3, dtype=F64), bad, fake))
    # a critic with zero gradient: norm 0, penalty target^2, finite first and second derivatives
    zero = torch.zeros(3, dtype=F64, requires_grad=True)
    out = F.gradient_penalty(lambda x: x @ zero, real, fake)
    (g,) = torch.autograd.grad(out, zero, create_graph=True)
    assert out.item() == 1.0 and torch.isfinite(g).all()
    # an empty batch is 0, attached; extreme data stays finite
    empty = F.gradient_penalty(critic, real[:0], fake[:0])
    assert empty.item() == 0.0
    big = F.gradient_penalty(critic, real.float() * 1e4, fake.float() * 1e4)
    assert torch.isfinite(big)
    # inside torch.no_grad (e.g. validation) the penalty is still computed
    with torch.no_grad():
        assert torch.isfinite(F.gradient_penalty(critic, real, fake))
    with pytest.raises(losskit.LossInputError, match="callable"):
        F.gradient_penalty(real, real, fake)
    with pytest.raises(losskit.LossInputError, match="does not depend"):
        F.gradient_penalty(lambda x: torch.ones(x.shape[0], dtype=F64, requires_grad=True),
                           real, fake)
    for no_graph in (lambda x: torch.ones(x.shape[0], dtype=F64),  # a constant
                     lambda x: critic(x).detach()):
        with pytest.raises(losskit.LossInputError, match="no autograd graph"):
            F.gradient_penalty(no_graph, real, fake)
    with pytest.raises(losskit.LossInputError, match="target must be a Python number"):
        F.gradient_penalty(critic, real, fake, target=torch.tensor(1.0))


# --- R1 ----------------------------------------------------------------------------------------


def test_r1_penalty_on_a_linear_discriminator_has_its_closed_form():
    # D(x) = w . x: d D / d x = w for every sample, penalty ||w||^2, d/dw ||w||^2 = 2 w.
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    w = torch.tensor([3.0, -4.0, 1.0], dtype=F64, requires_grad=True)
    out = F.r1_penalty(x @ w, x, reduction="none")
    torch.testing.assert_close(out, torch.full((4,), 26.0, dtype=F64))
    (gw,) = torch.autograd.grad(out.mean(), w)
    torch.testing.assert_close(gw, 2 * w.detach())


def test_r1_penalty_of_a_patch_discriminator_sums_each_sample_map():
    # D(x) [N, 1, 2, 2] = conv of x with a 1x1 kernel k: d sum D / d x = k at every pixel
    x = torch.randn(3, 2, 2, 2, dtype=F64, requires_grad=True)
    k = torch.tensor([2.0, -1.0], dtype=F64).reshape(1, 2, 1, 1)
    logits = torch.nn.functional.conv2d(x, k)
    # per sample: 4 pixels x (2^2 + 1^2) = 20
    torch.testing.assert_close(F.r1_penalty(logits, x, reduction="none"),
                               torch.full((3,), 20.0, dtype=F64))


def test_r1_penalty_gradcheck_through_parameters_and_per_sample_loop():
    critic_seed = torch.Generator().manual_seed(5)
    w1 = torch.randn(3, 6, generator=critic_seed, dtype=F64, requires_grad=True)
    w2 = torch.randn(6, generator=critic_seed, dtype=F64, requires_grad=True)
    data = torch.randn(4, 3, generator=critic_seed, dtype=F64)

    def fn(w1_, w2_):
        x = data.clone().requires_grad_(True)
        return F.r1_penalty(torch.tanh(x @ w1_) @ w2_, x)

    assert torch.autograd.gradcheck(fn, (w1, w2))
    assert torch.autograd.gradgradcheck(fn, (w1, w2), fast_mode=True)
    x = data.clone().requires_grad_(True)
    none = F.r1_penalty(torch.tanh(x @ w1) @ w2, x, reduction="none")
    for i in range(4):
        xi = data[i].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.tanh(xi @ w1) @ w2, xi)
        assert none[i].item() == pytest.approx(float(g.square().sum()), rel=1e-12)


def test_r1_penalty_edge_cases():
    w = torch.tensor([1.0, 2.0], dtype=F64)
    x = torch.randn(3, 2, dtype=F64, requires_grad=True)
    with pytest.raises(losskit.LossInputError, match="requires_grad"):
        F.r1_penalty(x.detach() @ w, x.detach())
    other = torch.randn(3, 2, dtype=F64, requires_grad=True)
    with pytest.raises(losskit.LossInputError, match="do not depend"):
        F.r1_penalty(other @ w, x)
    with pytest.raises(losskit.LossInputError, match="one row per real input"):
        F.r1_penalty((x @ w)[:2], x)
    bad = x.detach().clone()
    bad[1, 0] = float("nan")
    bad.requires_grad_(True)
    assert torch.isnan(F.r1_penalty(bad @ w, bad))  # a linear D would otherwise hide it
    empty = torch.zeros(0, 2, dtype=F64, requires_grad=True)
    assert F.r1_penalty(empty @ w, empty).item() == 0.0
    half = torch.randn(3, 2, dtype=torch.float16, requires_grad=True)
    out = F.r1_penalty(half @ w.half(), half)
    assert out.dtype == torch.float32 and out.item() == pytest.approx(5.0, rel=1e-3)
    # under no_grad there is no graph from inputs to logits, so this is an error
    with torch.no_grad(), pytest.raises(losskit.LossInputError, match="requires_grad"):
        F.r1_penalty(x @ w, x)


# --- diffusion / min-SNR -------------------------------------------------------------------------


def _ddpm_alphas_cumprod(T=1000):
    betas = torch.linspace(1e-4, 0.02, T, dtype=F64)
    return torch.cumprod(1 - betas, 0)


def _diffusers_recipe(pred, target, timesteps, alphas_cumprod, prediction_type, snr_gamma):
    """diffusers examples/text_to_image/train_text_to_image.py, transcribed."""
    sqrt_alphas_cumprod = alphas_cumprod ** 0.5
    sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod) ** 0.5
    alpha = sqrt_alphas_cumprod[timesteps]
    sigma = sqrt_one_minus_alphas_cumprod[timesteps]
    snr = (alpha / sigma) ** 2
    mse_loss_weights = torch.stack([snr, snr_gamma * torch.ones_like(timesteps)], dim=1).min(
        dim=1)[0]
    if prediction_type == "epsilon":
        mse_loss_weights = mse_loss_weights / snr
    elif prediction_type == "v_prediction":
        mse_loss_weights = mse_loss_weights / (snr + 1)
    loss = torch.nn.functional.mse_loss(pred, target, reduction="none")  # (.float() for AMP)
    loss = loss.mean(dim=list(range(1, len(loss.shape)))) * mse_loss_weights
    return loss


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("snr_gamma", [5.0, 1.0])
def test_min_snr_weighting_matches_the_diffusers_recipe(prediction_type, snr_gamma):
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(16, 4, 8, 8, generator=g, dtype=F64)
    target = torch.randn(16, 4, 8, 8, generator=g, dtype=F64)
    timesteps = torch.cat([torch.tensor([0, 999]), torch.randint(0, 1000, (14,), generator=g)])
    ac = _ddpm_alphas_cumprod()
    expected = _diffusers_recipe(pred, target, timesteps, ac, prediction_type, snr_gamma)
    ours = F.diffusion(pred, target, timesteps, alphas_cumprod=ac,
                       prediction_type=prediction_type, snr_gamma=snr_gamma, reduction="none")
    torch.testing.assert_close(ours, expected.to(F64), rtol=1e-10, atol=1e-12)
    mean = F.diffusion(pred, target, timesteps, alphas_cumprod=ac,
                       prediction_type=prediction_type, snr_gamma=snr_gamma)
    assert mean.item() == pytest.approx(float(expected.mean()), rel=1e-10)


def test_min_snr_weights_by_hand_and_without_weighting():
    ac = torch.tensor([0.9, 0.5, 0.1], dtype=F64)  # snr = 9, 1, 1/9
    p, y, t = torch.ones(3, 2, dtype=F64), torch.zeros(3, 2, dtype=F64), torch.tensor([0, 1, 2])
    expected = {"epsilon": [5 / 9, 1.0, 1.0], "v_prediction": [0.5, 0.5, 0.1],
                "sample": [5.0, 1.0, 1 / 9]}
    for kind, w in expected.items():
        torch.testing.assert_close(
            F.diffusion(p, y, t, alphas_cumprod=ac, prediction_type=kind, snr_gamma=5.0,
                        reduction="none"), torch.tensor(w, dtype=F64))
    # snr_gamma None: the plain mean squared error, as diffusers' F.mse_loss(pred, target)
    g = torch.Generator().manual_seed(1)
    pred, target = torch.randn(5, 3, 4, generator=g), torch.randn(5, 3, 4, generator=g)
    t5 = torch.randint(0, 10, (5,), generator=g)
    torch.testing.assert_close(F.diffusion(pred, target, t5),
                               torch.nn.functional.mse_loss(pred, target))


def test_min_snr_weights_at_the_ends_of_a_schedule_are_the_limits():
    # a = 0 (zero terminal SNR) and a = 1: the naive min(snr, g) / snr would be 0/0 or inf/inf
    ac = torch.tensor([1.0, 0.0], dtype=F64)
    p, y, t = torch.ones(2, 3, dtype=F64), torch.zeros(2, 3, dtype=F64), torch.tensor([0, 1])
    expected = {"epsilon": [0.0, 1.0], "v_prediction": [0.0, 0.0], "sample": [5.0, 0.0]}
    for kind, w in expected.items():
        x = p.clone().requires_grad_(True)
        out = F.diffusion(x, y, t, alphas_cumprod=ac, prediction_type=kind, snr_gamma=5.0,
                          reduction="none")
        torch.testing.assert_close(out, torch.tensor(w, dtype=F64))
        (g,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(g).all()


def test_diffusion_weight_scales_the_gradient_and_checks_its_arguments():
    ac = _ddpm_alphas_cumprod(10)
    x = torch.ones(2, 3, dtype=F64, requires_grad=True)
    y = torch.zeros(2, 3, dtype=F64)
    t = torch.tensor([1, 8])
    out = F.diffusion(x, y, t, alphas_cumprod=ac, snr_gamma=5.0, reduction="sum")
    (g,) = torch.autograd.grad(out, x)
    a = ac[t]
    w = torch.clamp(5.0 * (1 - a) / a, max=1.0)
    torch.testing.assert_close(g, (2 * w / 3)[:, None].expand(2, 3))
    with pytest.raises(losskit.LossInputError, match="alphas_cumprod"):
        F.diffusion(x, y, t, snr_gamma=5.0)
    with pytest.raises(losskit.LossInputError, match="timesteps must index"):
        F.diffusion(x, y, torch.tensor([1, 10]), alphas_cumprod=ac, snr_gamma=5.0)
    with pytest.raises(losskit.LossInputError, match="prediction_type"):
        F.diffusion(x, y, t, prediction_type="x0")
    with pytest.raises(losskit.LossInputError, match="one integer per sample"):
        F.diffusion(x, y, torch.tensor([1]))
    with pytest.raises(losskit.LossInputError, match="alphas_cumprod"):
        F.diffusion(x, y, t, alphas_cumprod=ac * 2, snr_gamma=5.0)


def test_diffusion_min_snr_under_vmap_and_compile():
    ac = _ddpm_alphas_cumprod(50)
    g = torch.Generator().manual_seed(2)
    pred, target = torch.randn(4, 6, generator=g, dtype=F64), torch.randn(4, 6, generator=g,
                                                                             dtype=F64)
    t = torch.randint(0, 50, (4,), generator=g)

    def one(p, y, ti):
        return F.diffusion(p[None], y[None], ti[None], alphas_cumprod=ac,
                           prediction_type="v_prediction", snr_gamma=5.0, reduction="sum")

    per = torch.func.vmap(torch.func.grad(one))(pred, target, t)
    x = pred.clone().requires_grad_(True)
    (loop,) = torch.autograd.grad(F.diffusion(x, target, t, alphas_cumprod=ac,
                                              prediction_type="v_prediction", snr_gamma=5.0,
                                              reduction="sum"), x)
    torch.testing.assert_close(per, loop)
    torch._dynamo.reset()
    compiled = torch.compile(F.diffusion, backend="aot_eager", fullgraph=True)
    kw = {"alphas_cumprod": ac, "prediction_type": "epsilon", "snr_gamma": 5.0}
    torch.testing.assert_close(compiled(pred, target, t, **kw), F.diffusion(pred, target, t, **kw))


def test_penalties_read_no_data_on_meta_tensors():
    # meta tensors have no values: any read (a device sync on CUDA) would raise
    w = torch.randn(3, 5, device="meta", requires_grad=True)
    x = torch.randn(4, 3, device="meta", requires_grad=True)
    out = F.r1_penalty(torch.tanh(x @ w).sum(-1), x)
    (g,) = torch.autograd.grad(out, w)
    assert out.device.type == "meta" and g.shape == w.shape
    real, fake = torch.randn(4, 3, device="meta"), torch.randn(4, 3, device="meta")
    out = F.gradient_penalty(lambda v: torch.tanh(v @ w).sum(-1), real, fake)
    (g,) = torch.autograd.grad(out, w)
    assert out.device.type == "meta" and g.shape == w.shape


def test_r1_penalty_common_checks_with_the_discriminator_in_the_loop():
    # what the registry's checks cannot do for r1 (they copy the arguments apart)
    g = torch.Generator().manual_seed(8)
    w = torch.randn(3, 4, generator=g, dtype=F64)
    data = torch.randn(6, 3, generator=g, dtype=F64)

    def call(x, **kw):
        x = x.clone().requires_grad_(True)
        return F.r1_penalty(torch.tanh(x @ w.to(x.dtype)).sum(-1), x, **kw)

    none = call(data, reduction="none")
    assert none.shape == (6,) and (none >= 0).all()
    torch.testing.assert_close(call(data, reduction="sum"), none.sum())
    torch.testing.assert_close(call(data), none.mean())
    perm = torch.randperm(6, generator=g)
    torch.testing.assert_close(call(data[perm]), none.mean())  # batch order
    torch.testing.assert_close(call(torch.cat([data, data])), none.mean())  # batch size
    big = call(data.float() * 1e4)  # saturated tanh: finite, near 0
    assert torch.isfinite(big) and big.item() < 1e-3
    with pytest.raises(losskit.LossInputError, match="reduction"):
        call(data, reduction="average")
