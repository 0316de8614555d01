import pytest
import torch

from tcvae.models import VAE, ModelError, VAEOutput, build_model, soft_clamp
from tcvae.models.vae import LOGVAR_MAX, LOGVAR_MIN
from tcvae.objectives import Bernoulli, Gaussian, Laplace, Normal


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("channels,latent_dim", [(1, 1), (1, 10), (3, 4)])
def test_output_shapes(arch, channels, latent_dim):
    model = build_model(arch, (channels, 64, 64), latent_dim, hidden=8)
    x = torch.rand(3, channels, 64, 64)
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (3, latent_dim)
    out = model(x)
    assert isinstance(out, VAEOutput)
    assert out.z.shape == (3, latent_dim)
    assert out.x_params.shape == (3, channels, 64, 64)
    assert model.decode(out.z).shape == (3, channels, 64, 64)
    recon = model.reconstruct(x)
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert recon.shape == x.shape and samples.shape == (5, channels, 64, 64)
    for images in (recon, samples):
        assert images.min() >= 0 and images.max() <= 1


def test_paper_sizes_by_default():
    mlp = build_model("mlp")
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (4096, 1200),
        (1200, 1200),
        (1200, 20),
        (10, 1200),
        (1200, 1200),
        (1200, 1200),
        (1200, 4096),
    ]
    conv = build_model("conv", latent_dim=6)
    enc = [m.out_channels for m in conv.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    dec = [
        m.out_channels for m in conv.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)
    ]
    assert enc == [32, 32, 64, 64, 512, 12]
    assert dec == [512, 64, 64, 32, 32, 1]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in conv.encoder.modules())


@pytest.mark.parametrize("posterior,family", [("normal", Normal), ("laplace", Laplace)])
@pytest.mark.parametrize("likelihood,obs", [("bernoulli", Bernoulli), ("gaussian", Gaussian)])
def test_posterior_and_likelihood_paths(posterior, family, likelihood, obs):
    model = build_model("mlp", latent_dim=3, posterior=posterior, likelihood=likelihood, hidden=16)
    assert model.posterior is family and model.likelihood is obs
    x = torch.rand(4, 1, 64, 64)
    out = model(x, generator=torch.Generator().manual_seed(1))
    log_px = model.likelihood.log_likelihood(x, out.x_params)
    assert log_px.shape == (4,) and torch.isfinite(log_px).all()
    log_px.sum().backward()
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_generator_makes_sampling_reproducible():
    model = build_model("mlp", latent_dim=3, hidden=16)
    x = torch.rand(2, 1, 64, 64)
    a = model(x, generator=torch.Generator().manual_seed(5)).z
    b = model(x, generator=torch.Generator().manual_seed(5)).z
    c = model(x, generator=torch.Generator().manual_seed(6)).z
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_state_dict_and_build_arguments_rebuild_the_model():
    args = dict(arch="conv", image_shape=(3, 64, 64), latent_dim=5, hidden=4)
    model = build_model(**args)
    model.eval()
    clone = build_model(**args)
    clone.load_state_dict(model.state_dict())
    clone.eval()
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(clone.reconstruct(x), model.reconstruct(x))


def test_logvar_is_softly_clamped():
    raw = torch.tensor([-1e4, -100.0, -1.0, 0.0, 2.0, 100.0, 1e4], requires_grad=True)
    out = soft_clamp(raw, LOGVAR_MIN, LOGVAR_MAX)
    assert out.min() >= LOGVAR_MIN and out.max() <= LOGVAR_MAX
    torch.testing.assert_close(out[2:5], raw[2:5].detach(), atol=1e-3, rtol=0)
    assert torch.all(out[1:] >= out[:-1])
    out.sum().backward()
    assert torch.isfinite(raw.grad).all() and raw.grad[3] > 0.99


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(arch="resnet"), r"arch must be one of \['conv', 'mlp'\], got 'resnet'"),
        (dict(image_shape=(1, 32, 32)), "image_shape must be"),
        (dict(image_shape=(2, 64, 64)), "C = 1 or 3"),
        (dict(latent_dim=0), "latent_dim"),
        (dict(hidden=0), "hidden"),
        (dict(posterior="cauchy"), "posterior must be one of .*, got 'cauchy'"),
        (dict(likelihood="poisson"), "likelihood must be one of .*, got 'poisson'"),
    ],
)
def test_bad_build_arguments(kwargs, match):
    with pytest.raises(ModelError, match=match):
        build_model(**kwargs)


def test_wrong_image_shape_is_rejected():
    model = build_model("mlp", hidden=8)
    assert isinstance(model, VAE)
    with pytest.raises(ModelError, match=r"expected images of shape \(B, 1, 64, 64\)"):
        model(torch.rand(2, 3, 64, 64))


def test_bf16_autocast_step_matches_fp32_within_tolerance():
    """Networks in bf16 autocast, everything after them in float32 (the Bernoulli logits are
    read in float32 by the likelihood): one step of beta-TCVAE agrees with float32 to bf16
    accuracy (8-bit mantissa, relative rounding 2^-9)."""
    from tcvae.data.sprites import dsprites_grid, render_dsprites
    from tcvae.objectives import ObjectiveConfig, compute_loss

    gen = torch.Generator().manual_seed(0)
    index = torch.randperm(737_280, generator=gen)[:128]
    x = render_dsprites(dsprites_grid().index_to_classes(index)).float()
    torch.manual_seed(0)
    model = build_model(hidden=64)
    results = []
    for amp_dtype in (None, torch.bfloat16):
        model.zero_grad()
        out = model(x, generator=torch.Generator().manual_seed(1), amp_dtype=amp_dtype)
        assert all(t.dtype == torch.float32 for t in out[:3])
        assert out.x_params.dtype == (amp_dtype or torch.float32)
        tensors = (out.x_params, out.z, out.mean, out.logvar)
        result = compute_loss(ObjectiveConfig(), x, *tensors, dataset_size=737_280)
        result.loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        results.append((out, {k: v.item() for k, v in result.terms.items()}, grads))
    (out32, terms32, grads32), (out16, terms16, grads16) = results
    assert not torch.equal(out32.x_params, out16.x_params)  # bf16 really ran
    assert terms16["loss"] == pytest.approx(terms32["loss"], rel=1e-4)
    for name in ("log_px", "kl", "mi", "tc", "dwkl"):
        assert terms16[name] == pytest.approx(terms32[name], abs=0.01), name
    assert ((grads16 - grads32).norm() / grads32.norm()).item() < 0.02


def test_bf16_logits_and_batch_give_the_step_of_their_float32_copies():
    """What a bf16 training step holds in bf16 instead of float32 changes nothing: the decoder's
    logits (read in float32 by the Bernoulli likelihood) and a batch of binary images (exact in
    bf16, and cast to bf16 by autocast anyway) give bit for bit the loss and the gradients of
    their float32 copies; a Gaussian decoder still hands back float32."""
    from tcvae.objectives import ObjectiveConfig, compute_loss

    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(64, 1, 64, 64, generator=gen) < 0.2).float()
    torch.manual_seed(0)
    model = build_model(hidden=32)

    def step(images, widen):
        model.zero_grad()
        out = model(images, generator=torch.Generator().manual_seed(1), amp_dtype=torch.bfloat16)
        if widen:
            out = out._replace(x_params=out.x_params.float())
        tensors = (out.x_params, out.z, out.mean, out.logvar)
        loss = compute_loss(ObjectiveConfig(), images, *tensors, dataset_size=1000).loss
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    reference = step(x, widen=True)
    for images in (x, x.bfloat16()):
        loss, grads = step(images, widen=False)
        assert torch.equal(loss, reference[0])
        assert all(torch.equal(a, b) for a, b in zip(grads, reference[1]))
    gaussian = build_model(hidden=32, likelihood="gaussian")
    assert gaussian(x, amp_dtype=torch.bfloat16).x_params.dtype == torch.float32


def test_a_network_outside_the_vae_follows_the_run_precision():
    """FactorVAE's discriminator under bf16: computed in bf16, handed back in float32, close to
    the fp32 result; without a dtype it computes exactly the network's own result."""
    from tcvae.models.vae import in_float32_under_autocast

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(10, 64), torch.nn.LeakyReLU(0.2), torch.nn.Linear(64, 2)
    )
    z = torch.randn(256, 10)
    exact = net(z)
    assert torch.equal(in_float32_under_autocast(net, z, None), exact)
    low = in_float32_under_autocast(net, z, torch.bfloat16)
    assert low.dtype == torch.float32
    assert not torch.equal(low, exact)  # bf16 products did run
    torch.testing.assert_close(low, exact, rtol=0.05, atol=0.02)
    low.sum().backward()  # gradients reach the float32 weights
    assert net[0].weight.grad is not None and net[0].weight.grad.dtype == torch.float32
