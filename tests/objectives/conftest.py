"""A tiny model's output on one minibatch, shared by the objective tests."""

import pytest
import torch

from tcvae.models import build_model
from tcvae.objectives import compute_loss


@pytest.fixture(scope="module")
def batch():
    """(model, x, out): an MLP of width 16 with D = 4 on 12 random binary images."""
    torch.manual_seed(0)
    model = build_model("mlp", latent_dim=4, hidden=16)
    x = (torch.rand(12, 1, 64, 64) > 0.5).float()
    out = model(x, generator=torch.Generator().manual_seed(0))
    return model, x, out


@pytest.fixture
def loss_of():
    """compute_loss(config, ...) for a model's output ``out`` on ``x``, N = 100 by default."""

    def loss_of(config, x, out, dataset_size=100, **kwargs):
        tensors = (out.x_params, out.z, out.mean, out.logvar)
        return compute_loss(config, x, *tensors, dataset_size=dataset_size, **kwargs)

    return loss_of
