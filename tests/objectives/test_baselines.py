import math

import numpy as np
import pytest
import torch

from tcvae.objectives import (
    Bernoulli,
    FactorVAE,
    Normal,
    ObjectiveConfig,
    ObjectiveError,
    estimate_log_qz,
)
from tcvae.objectives import baselines as B


def _recon_and_kl(x, out):
    kl = Normal.kl_to_prior(out.mean, out.logvar).sum(1)
    return Bernoulli.log_likelihood(x, out.x_params), kl


def test_permute_dims_permutes_each_column_independently():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4000, 1, generator=g)
    z = base.repeat(1, 3)  # three identical columns
    permuted = B.permute_dims(z, generator=g)
    for j in range(3):
        assert torch.equal(permuted[:, j].sort().values, z[:, j].sort().values)
    corr = np.corrcoef(permuted.T.numpy())
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.1  # the pairing is broken


def test_dip_covariance_and_penalty_by_hand():
    g = torch.Generator().manual_seed(1)
    mean = torch.randn(50, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(50, 3, generator=g, dtype=torch.float64)
    cov_i = B.dip_covariance(mean, logvar, "i")
    np.testing.assert_allclose(cov_i.numpy(), np.cov(mean.numpy().T, bias=True), rtol=1e-12)
    cov_ii = B.dip_covariance(mean, logvar, "ii")
    expected = np.cov(mean.numpy().T, bias=True) + np.diag(np.exp(logvar.numpy()).mean(0))
    np.testing.assert_allclose(cov_ii.numpy(), expected, rtol=1e-12)
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    # off-diagonal: 2 * 0.5^2 = 0.5; diagonal: (2 - 1)^2 + (1 - 1)^2 = 1
    assert float(B.dip_penalty(cov, lambda_od=3.0, lambda_d=7.0)) == pytest.approx(3 * 0.5 + 7)


def test_capacity_rises_linearly_then_holds():
    assert [B.capacity(t, 20.0, 100) for t in (0, 50, 100, 400)] == [0.0, 10.0, 20.0, 20.0]
    assert B.capacity(0, 20.0, 0) == 20.0


@pytest.mark.parametrize("variant", ["i", "ii"])
def test_dip_vae_loss_is_recon_kl_and_the_penalty(batch, loss_of, variant):
    model, x, out = batch
    config = ObjectiveConfig(f"dip-vae-{variant}", beta=3.0)
    result = loss_of(config, x, out)
    log_px, kl = _recon_and_kl(x, out)
    lambda_d = 30.0 if variant == "i" else 3.0
    penalty = B.dip_penalty(B.dip_covariance(out.mean, out.logvar, variant), 3.0, lambda_d)
    torch.testing.assert_close(result.loss, -(log_px - kl).mean() + penalty)
    assert {"mi", "tc", "dwkl", "dip_penalty"} <= set(result.terms)
    custom = loss_of(ObjectiveConfig("dip-vae-i", beta=3, dip_lambda_d=1), x, out)
    penalty = B.dip_penalty(B.dip_covariance(out.mean, out.logvar, "i"), 3.0, 1.0)
    torch.testing.assert_close(custom.loss, -(log_px - kl).mean() + penalty)


def test_annealed_vae_loss_follows_the_capacity(batch, loss_of):
    model, x, out = batch
    config = ObjectiveConfig("annealed-vae", beta=1000.0, capacity_max=10.0, capacity_steps=100)
    log_px, kl = _recon_and_kl(x, out)
    for step in (0, 50, 200):
        c = min(10.0, step / 10)
        result = loss_of(config, x, out, step=step)
        torch.testing.assert_close(result.loss, -log_px.mean() + 1000 * (kl.mean() - c).abs())
        assert float(result.terms["capacity"]) == c


def test_factor_vae_loss_uses_the_discriminator_held_fixed(batch, loss_of, monkeypatch):
    """The VAE's loss reads D(z): its gradient reaches z (the encoder) and leaves none in the
    discriminator, whose own cross-entropy does reach it."""
    model, x, out = batch
    config = ObjectiveConfig("factor-vae", beta=10.0)
    with pytest.raises(ObjectiveError, match="discriminator"):
        loss_of(config, x, out)
    monkeypatch.setattr(B, "DISCRIMINATOR_WIDTH", 8)
    factor_vae = FactorVAE(latent_dim=4)
    disc = factor_vae.discriminator
    result = loss_of(config, x, out, factor_vae=factor_vae)
    log_px, kl = _recon_and_kl(x, out)
    logits = disc(out.z)
    tc = logits[:, 0] - logits[:, 1]
    torch.testing.assert_close(result.loss, -(log_px - kl - 10.0 * tc).mean())
    torch.testing.assert_close(result.terms["tc_discriminator"], tc.mean().detach())

    z = out.z.detach().requires_grad_()
    factor_vae.tc(z).sum().backward()
    assert z.grad.abs().sum() > 0
    assert all(p.grad is None for p in disc.parameters())
    factor_vae.loss(z, torch.Generator().manual_seed(0)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in disc.parameters())


def test_factor_vae_loss_over_rows_is_a_share_of_the_whole_batch_cross_entropy(monkeypatch):
    """What each process computes under torchrun: the same permutation of the whole batch, its
    rows' share of the cross-entropy; the shares average to the whole batch's."""
    monkeypatch.setattr(B, "DISCRIMINATOR_WIDTH", 8)
    factor_vae = FactorVAE(latent_dim=3)
    z = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
    whole = factor_vae.loss(z, torch.Generator().manual_seed(2))
    shares = [
        factor_vae.loss(z, torch.Generator().manual_seed(2), slice(r, r + 4)) for r in (0, 4, 8, 12)
    ]
    torch.testing.assert_close(torch.stack(shares).mean(), whole)
    assert len({float(s.detach()) for s in shares}) == 4


@pytest.mark.parametrize("method", ["dip-vae-i", "dip-vae-ii", "annealed-vae"])
def test_baseline_batch_statistics_are_over_the_whole_batch(batch, loss_of, method):
    """Given the whole batch's posteriors (``components``, as under torchrun), each half of the
    batch gets the penalty of the whole batch: the two halves' losses average to the loss of the
    whole batch on one process."""
    model, x, out = batch
    shift = torch.zeros_like(out.mean)
    shift[6:] = 2.0  # the halves' own statistics differ
    out = out._replace(mean=out.mean + shift)
    config = ObjectiveConfig(method, beta=3.0)
    whole = loss_of(config, x, out, step=10)
    halves = []
    for rows in (slice(0, 6), slice(6, 12)):
        part = type(out)(*(t[rows] for t in out))
        components = (out.mean, out.logvar, rows.start)
        halves.append(loss_of(config, x[rows], part, step=10, components=components))
    torch.testing.assert_close((halves[0].loss + halves[1].loss) / 2, whole.loss)
    first = type(out)(*(t[:6] for t in out))
    alone = loss_of(config, x[:6], first, step=10)
    # A shard's own statistics differ from the whole batch's.
    assert abs(float(alone.loss.detach()) - float(halves[0].loss.detach())) > 1.0


def test_discriminator_tc_agrees_with_the_mss_estimate_on_correlated_latents(monkeypatch):
    """Latents from a strongly correlated aggregate posterior (rho = 0.9, true TC 0.83 nats):
    the trained discriminator's density-ratio estimate and the MSS estimate agree in sign and
    rough size."""
    monkeypatch.setattr(B, "DISCRIMINATOR_WIDTH", 64)
    monkeypatch.setattr(B, "DISCRIMINATOR_LAYERS", 3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest, and immune to a busy CPU
    try:
        _train_and_compare()
    finally:
        torch.set_num_threads(threads)


def _train_and_compare():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    rho, n, batch = 0.9, 100_000, 512
    chol = torch.linalg.cholesky(torch.tensor([[1.0, rho], [rho, 1.0]]))
    logvar = torch.full((batch, 2), math.log(0.01))

    def draw():
        mean = torch.randn(batch, 2, generator=g) @ chol.T
        return mean, Normal.rsample(mean, logvar, g)

    factor_vae = FactorVAE(2, lr=1e-3, betas=(0.9, 0.999))
    for _ in range(400):
        factor_vae.step(factor_vae.loss(draw()[1], g))
    mean, z = draw()
    with torch.no_grad():
        tc_disc = float(factor_vae.tc(z).mean())
        log_qz, log_qz_j = estimate_log_qz(z, mean, logvar, n, "mss")
        tc_mss = float((log_qz - log_qz_j.sum(1)).mean())
    truth = -0.5 * math.log(1 - rho**2 / (1.01**2))  # q(z) = N(0, Sigma + 0.01 I)
    assert tc_disc > 0 and tc_mss > 0
    assert 0.5 < tc_disc / tc_mss < 2.0
    assert 0.5 * truth < tc_disc < 2.0 * truth
