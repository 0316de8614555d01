"""Running a model over a whole ground-truth data set, without gradients (REFERENCE.md section 4).

The only part of :mod:`tcvae.evaluation` that needs a model: it turns images into posterior
parameters for the metrics, and estimates E[log p(x|z)] for the ELBO decomposition.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from tcvae.data.ground_truth import GroundTruthData
from tcvae.evaluation.inputs import check_counts
from tcvae.evaluation.sampling import sample_indices


def _batch_dtype(model: nn.Module, data: GroundTruthData, device: torch.device | str):
    """What the model reads the data's images in fastest (bool for binary images into an MLP
    on a CPU; see ``VAE.batch_dtype``); float32 for models that do not say."""
    if hasattr(model, "batch_dtype"):
        return model.batch_dtype(data.max_value, device)
    return torch.float32


@torch.no_grad()
def encode_dataset(
    model: nn.Module,
    data: GroundTruthData,
    batch_size: int = 2048,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Posterior parameters of every image: (mean, logvar), each (N, D) float32 on the CPU.

    ``model`` needs ``encode(x) -> (mean, logvar)`` and is expected in eval mode; it is used on
    ``device`` as it is (move it there first).
    """
    (batch_size,) = check_counts(batch_size=(batch_size, 1))
    n = len(data)
    means, logvars = [], []
    dtype = _batch_dtype(model, data, device)
    for start in tqdm(range(0, n, batch_size), disable=not progress, desc="encoding"):
        index = torch.arange(start, min(n, start + batch_size))
        mean, logvar = model.encode(data.batch(index, device, dtype))
        means.append(mean.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(means), torch.cat(logvars)


@torch.no_grad()
def estimate_log_likelihood(
    model: nn.Module,
    data: GroundTruthData,
    samples: int | None = 10_000,
    seed: int = 0,
    batch_size: int = 2048,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[float, float]:
    """E_n E_{q(z|x_n)} log p(x_n | z) by Monte Carlo: (mean, standard error).

    Draws ``samples`` indices uniformly (None: every image once) and one z ~ q(z|x_n) for each.
    ``model`` needs ``encode``, ``decode``, ``posterior`` (a distribution class) and
    ``likelihood`` (with ``log_likelihood(x, params) -> (B,)``).
    """
    (batch_size,) = check_counts(batch_size=(batch_size, 1))
    generator = torch.Generator().manual_seed(int(seed))
    index = sample_indices(len(data), samples, generator)
    values = []
    dtype = _batch_dtype(model, data, device)
    for batch in tqdm(index.split(batch_size), disable=not progress, desc="log p(x|z)"):
        x = data.batch(batch, device, dtype)
        mean, logvar = model.encode(x)
        # Noise from the seeded CPU generator, so results do not depend on the device.
        z = model.posterior.rsample(mean.cpu(), logvar.cpu(), generator).to(mean.device)
        values.append(model.likelihood.log_likelihood(x, model.decode(z)).double().cpu())
    ll = torch.cat(values)
    return float(ll.mean()), float(ll.std() / math.sqrt(ll.numel()))
