"""A tiny dSprites set and a VAE trained on it for a few hundred steps (about a second)."""

import pytest
import torch

from tcvae.data.ground_truth import GroundTruthData
from tcvae.data.sprites import dsprites_grid, render_dsprites
from tcvae.models import build_model


@pytest.fixture(scope="session")
def tiny_data() -> GroundTruthData:
    """3 shapes x 2 scales x 4 posX x 4 posY = 96 images (colour and orientation fixed)."""
    grid = dsprites_grid()
    classes = grid.all_classes()
    keep = (
        (classes[:, 3] == 0)
        & (classes[:, 2] % 5 == 0)
        & (classes[:, 4] % 10 == 0)
        & (classes[:, 5] % 10 == 0)
    )
    classes = classes[keep]
    return GroundTruthData("dsprites", grid, render_dsprites(classes), classes, max_value=1)


@pytest.fixture(scope="session")
def tiny_model(tiny_data):
    """An MLP VAE (hidden 64, D = 4) fitted to ``tiny_data`` by maximising the ELBO."""
    torch.manual_seed(0)
    model = build_model("mlp", latent_dim=4, hidden=64)
    x = tiny_data.batch(torch.arange(len(tiny_data)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        out = model(x)
        log_px = model.likelihood.log_likelihood(x, out.x_params)
        kl = model.posterior.kl_to_prior(out.mean, out.logvar).sum(1)
        loss = (kl - log_px).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
