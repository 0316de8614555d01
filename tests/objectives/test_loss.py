import math

import pytest
import torch
from torch import nn

from tcvae.objectives import (
    Bernoulli,
    EstimatorError,
    Normal,
    ObjectiveConfig,
    ObjectiveError,
    beta_tcvae_loss,
    dimwise_kl,
    elbo_terms,
    index_code_mi,
    total_correlation,
)


def _recon_and_sampled_kl(x, out):
    log_px = Bernoulli.log_likelihood(x, out.x_params)
    log_qz_x = Normal.log_density(out.z, out.mean, out.logvar).sum(1)
    log_pz = Normal.log_density(out.z, torch.zeros_like(out.z), torch.zeros_like(out.z)).sum(1)
    return log_px, log_qz_x - log_pz


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_vae_loss_is_the_negative_elbo(batch, loss_of, estimator):
    model, x, out = batch
    result = loss_of(ObjectiveConfig("vae", estimator=estimator), x, out)
    log_px, kl = _recon_and_sampled_kl(x, out)
    neg_elbo = -(log_px - kl).mean()
    torch.testing.assert_close(result.loss, neg_elbo, rtol=1e-6, atol=1e-4)
    torch.testing.assert_close(result.terms["elbo"], -neg_elbo.detach(), rtol=1e-6, atol=1e-4)
    assert (result.terms["alpha"], result.terms["beta"], result.terms["gamma"]) == (1, 1, 1)


def test_beta_vae_is_reconstruction_plus_beta_kl(batch, loss_of):
    model, x, out = batch
    result = loss_of(ObjectiveConfig("beta-vae", beta=4.0), x, out)
    log_px, kl = _recon_and_sampled_kl(x, out)
    torch.testing.assert_close(result.loss, (-log_px + 4.0 * kl).mean(), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_beta_tcvae_weights_only_the_total_correlation(batch, loss_of, estimator):
    """The loss adds (beta - 1) times the training estimator's TC (MWS's, shifted by a constant,
    under MWS) to the negative ELBO."""
    model, x, out = batch
    base = loss_of(ObjectiveConfig("vae"), x, out)
    tcvae = loss_of(ObjectiveConfig("beta-tcvae", beta=6.0, estimator=estimator), x, out)
    t = elbo_terms(out.z, out.mean, out.logvar, 100, estimator)
    expected = base.loss + 5.0 * total_correlation(t).mean()
    torch.testing.assert_close(tcvae.loss.detach(), expected.detach(), rtol=1e-6, atol=1e-3)


def test_terms_are_reported_and_consistent(batch, loss_of):
    model, x, out = batch
    terms = loss_of(ObjectiveConfig(), x, out).terms
    for name in ("loss", "elbo", "log_px", "kl", "mi", "tc", "dwkl", "beta", "alpha", "gamma"):
        assert name in terms and terms[name].dim() == 0 and not terms[name].requires_grad
    kl_sampled = terms["log_qz_x"] - terms["log_pz"]
    torch.testing.assert_close(terms["mi"] + terms["tc"] + terms["dwkl"], kl_sampled)
    torch.testing.assert_close(terms["elbo"], terms["log_px"] - kl_sampled)


@pytest.mark.parametrize(
    "config",
    [
        ObjectiveConfig("beta-tcvae", beta=3.0, gamma=2.0),
        ObjectiveConfig("vae", estimator="mws"),
        ObjectiveConfig("beta-vae", beta=4.0),
    ],
)
def test_gradients_flow_and_match_the_formula(batch, loss_of, config):
    model, x, _ = batch
    alpha, beta, gamma = config.weights()
    model.zero_grad()
    out = model(x, generator=torch.Generator().manual_seed(3))
    loss_of(config, x, out).loss.backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    out = model(x, generator=torch.Generator().manual_seed(3))
    t = elbo_terms(out.z, out.mean, out.logvar, 100, config.estimator)
    log_qz_product, log_pz = t.log_qzj.sum(1), t.log_pzj.sum(1)
    mi, tc, dwkl = t.log_qz_x - t.log_qz, t.log_qz - log_qz_product, log_qz_product - log_pz
    log_px = Bernoulli.log_likelihood(x, out.x_params)
    (-(log_px - alpha * mi - beta * tc - gamma * dwkl).mean()).backward()
    for a, p in zip(ours, model.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-5)


def test_warmups():
    config = ObjectiveConfig(
        "beta-tcvae", beta=6.0, beta_warmup_steps=100, lambda_warmup_steps=50, lambda0=0.95
    )
    alpha, beta, gamma = config.weights(0)
    assert (alpha, beta) == (1.0, 0.0) and math.isclose(gamma, 0.05)
    alpha, beta, gamma = config.weights(25)
    assert math.isclose(beta, 1.5) and math.isclose(gamma, 1 - 0.95 * 0.5)
    assert config.weights(100) == (1.0, 6.0, 1.0)
    assert config.weights(10_000) == (1.0, 6.0, 1.0)
    assert ObjectiveConfig().weights(0) == (1.0, 6.0, 1.0)  # warm-ups off by default
    assert ObjectiveConfig("beta-vae", beta=4.0).weights(7) == (4.0, 4.0, 4.0)
    assert ObjectiveConfig("beta-vae", beta=4.0, beta_warmup_steps=8).weights(2) == (1, 1, 1)
    assert ObjectiveConfig("vae").weights(3) == (1.0, 1.0, 1.0)
    assert ObjectiveConfig(alpha=0.5, gamma=2.0).weights() == (0.5, 6.0, 2.0)


def test_a_beta_ramp_from_above_decays_linearly_to_beta():
    """beta_t = beta_start + (beta - beta_start) min(1, t / beta_warmup_steps)."""
    config = ObjectiveConfig("beta-tcvae", beta=6.0, beta_start=30.0, beta_warmup_steps=100)
    assert [config.weights(t)[1] for t in (0, 25, 100, 5_000)] == [30.0, 24.0, 6.0, 6.0]
    assert config.weights(25)[0] == config.weights(25)[2] == 1.0  # MI and dwkl weights untouched
    ramp = ObjectiveConfig("factor-vae", beta=10.0, beta_start=2.0, beta_warmup_steps=4)
    assert ramp.weights(2) == (1, 6, 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(method="info-vae"), "method must be one of .*, got 'info-vae'"),
        (dict(estimator="iwae"), r"estimator must be one of \['mss', 'mws'\], got 'iwae'"),
        (dict(beta=-1.0), "beta must be a non-negative"),
        (dict(alpha=-0.1), "alpha must be"),
        (dict(gamma=float("nan")), "gamma must be"),
        (dict(beta_warmup_steps=-5), "beta_warmup_steps"),
        (dict(lambda0=1.5), "lambda0"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ObjectiveError, match=match):
        ObjectiveConfig(**kwargs)
    assert issubclass(ObjectiveError, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "option", "meant"),
    [
        (dict(method="vae", beta=4.0), "beta", "--method beta-vae"),
        (dict(method="vae", beta_warmup_steps=10), "beta_warmup_steps", "no beta to warm up"),
        (dict(method="beta-tcvae", beta_start=30.0), "beta_start", "set --beta-warmup-steps"),
        (dict(method="factor-vae", gamma=10.0), "gamma", "TC weight (its paper's gamma) is --beta"),
        (dict(method="factor-vae", alpha=1.0), "alpha", "--beta times the discriminator's TC"),
        (dict(method="annealed-vae", gamma=9.0), "gamma", "(its paper's gamma) is --beta"),
        (dict(method="annealed-vae", alpha=2.0), "alpha", "--beta times |KL - C|"),
        (dict(method="dip-vae-i", gamma=1.0), "gamma", "--dip-lambda-d (lambda_d"),
        (dict(method="dip-vae-ii", alpha=1.0), "alpha", "--beta (lambda_od"),
        (dict(method="factor-vae", lambda_warmup_steps=5), "lambda_warmup_steps", "--beta-warm"),
        (dict(method="beta-tcvae", lambda0=0.5), "lambda0", "--lambda-warmup-steps"),
        (dict(method="beta-vae", dip_lambda_d=1.0), "dip_lambda_d", "dip-vae-i"),
        (dict(method="beta-tcvae", capacity_max=5.0), "capacity_max", "annealed-vae"),
        (dict(method="dip-vae-i", capacity_steps=5), "capacity_steps", "annealed-vae"),
        (dict(method="beta-tcvae", discriminator_lr=1e-3), "discriminator_lr", "factor-vae"),
        (dict(method="vae", discriminator_betas=(0.5, 0.9)), "discriminator_betas", "factor-vae"),
    ],
)
def test_an_option_the_method_does_not_use_is_refused_naming_what_was_meant(kwargs, option, meant):
    with pytest.raises(ObjectiveError) as err:
        ObjectiveConfig(**kwargs)
    assert err.value.option == option
    assert f"{kwargs['method']} does not use --{option.replace('_', '-')}" in str(err.value)
    assert meant in str(err.value)


def test_unset_options_take_the_methods_defaults_and_set_ones_take_effect():
    assert ObjectiveConfig().beta == 6.0 and ObjectiveConfig("vae").beta is None
    assert ObjectiveConfig("beta-tcvae").capacity_max is None
    factor = ObjectiveConfig("factor-vae")
    assert (factor.discriminator_lr, factor.discriminator_betas) == (1e-4, (0.5, 0.9))
    chosen = ObjectiveConfig("factor-vae", discriminator_lr=3e-4, discriminator_betas=[0.9, 0.99])
    assert (chosen.discriminator_lr, chosen.discriminator_betas) == (3e-4, (0.9, 0.99))
    annealed = ObjectiveConfig("annealed-vae")
    assert (annealed.capacity_max, annealed.capacity_steps) == (25.0, 100_000)
    assert ObjectiveConfig(lambda_warmup_steps=10).lambda0 == 0.95
    assert ObjectiveConfig("vae", alpha=2.0, gamma=0.5).weights() == (2.0, 1.0, 0.5)
    assert ObjectiveConfig("factor-vae", beta=10.0, beta_warmup_steps=4).weights(2) == (1, 5, 1)
    with pytest.raises(ObjectiveError, match="two numbers in"):
        ObjectiveConfig("factor-vae", discriminator_betas=(0.5, 1.0))


def test_bad_minibatch(batch, loss_of):
    model, x, out = batch
    config = ObjectiveConfig()
    with pytest.raises(EstimatorError, match="smaller than the batch size"):
        loss_of(config, x, out, dataset_size=5)
    with pytest.raises(EstimatorError, match="at least 2"):
        loss_of(config, x[:1], model(x[:1]))
    with pytest.raises(EstimatorError, match="decoder output has shape"):
        loss_of(config, x[:, :, :32], out)
    with pytest.raises(EstimatorError, match="mean must have the shape of z"):
        elbo_terms(out.z, out.mean[:, :2], out.logvar, 100)


class _OwnVAE(nn.Module):
    """A model written without tcvae: 8 binary pixels, D = 2."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(8, 4)
        self.decoder = nn.Linear(2, 8)

    def forward(self, x: torch.Tensor, generator: torch.Generator):
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=generator)
        return mean, logvar, z, self.decoder(z)


def test_a_model_of_ones_own_trains_with_the_tensor_level_loss():
    """Posterior parameters, samples and a log-likelihood of one's own in, a loss out: the loss
    falls, and the terms telescope to the sampled KL."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = (torch.rand(2, 8, generator=g) < 0.5).float().repeat(128, 1)  # two patterns
    model = _OwnVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        x = data[torch.randperm(len(data), generator=g)[:64]]
        mean, logvar, z, logits = model(x, g)
        log_px = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(1)
        terms = elbo_terms(z, mean, logvar, dataset_size=len(data), estimator="mss")
        loss = beta_tcvae_loss(log_px, terms, beta=4.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])
    total = index_code_mi(terms) + total_correlation(terms) + dimwise_kl(terms)
    torch.testing.assert_close(total, terms.log_qz_x - terms.log_pzj.sum(1))
