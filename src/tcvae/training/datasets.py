"""The training set a :class:`DataConfig` describes: a data set, factor filters, a seeded subset.

Filters keep the images whose factor classes lie in the given inclusive ranges; ``subset`` then
keeps a uniformly random subset of that size (sorted, so grid order is kept), drawn with
``subset_seed``. For the built-in dSprites generator the selection is made on the factor grid first
and only the chosen images are rendered, so quick runs never render all 737,280 images.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tcvae.data import DATASETS, FactorGrid, GroundTruthData, builtin_dsprites_subset, load_dataset
from tcvae.data.dsprites import resolve_source
from tcvae.data.sprites import dsprites_grid
from tcvae.training.config import ConfigError, DataConfig, option_name


def select(classes: Tensor, grid: FactorGrid, config: DataConfig) -> Tensor:
    """Indices (into ``classes`` (N, K)) kept by the filters and the subset, in increasing order."""
    mask = torch.ones(classes.shape[0], dtype=torch.bool)
    for name, (lo, hi) in config.filters.items():
        if name not in grid.names:
            raise ConfigError(
                f"{option_name('data.filters')} names unknown factor {name!r}; factors of "
                f"{config.name}: {list(grid.names)}"
            )
        k = grid.names.index(name)
        if hi >= grid.sizes[k]:
            raise ConfigError(
                f"{option_name('data.filters')} range [{lo}, {hi}] for {name!r} exceeds its "
                f"{grid.sizes[k]} classes (0..{grid.sizes[k] - 1})"
            )
        mask &= (classes[:, k] >= lo) & (classes[:, k] <= hi)
    index = mask.nonzero().squeeze(1)
    if index.numel() == 0:
        raise ConfigError(f"{option_name('data.filters')} {config.filters} match no image")
    if config.subset is not None:
        if config.subset > index.numel():
            raise ConfigError(
                f"{option_name('data.subset')} {config.subset} is larger than the "
                f"{index.numel()} images available after filtering"
            )
        gen = torch.Generator().manual_seed(config.subset_seed)
        chosen = torch.randperm(index.numel(), generator=gen)[: config.subset]
        index = index[chosen.sort().values]
    return index


def build_dataset(config: DataConfig, progress: bool = False) -> GroundTruthData:
    """Load (or render) the training set of ``config``; errors name the offending option."""
    if config.name not in DATASETS:
        raise ConfigError(
            f"{option_name('data.name')} unknown data set {config.name!r}; known data sets: "
            f"{sorted(DATASETS)}"
        )
    selecting = bool(config.filters) or config.subset is not None
    if config.name == "dsprites" and selecting:
        if resolve_source(config.source, config.cache_dir) == "builtin":
            grid = dsprites_grid()
            classes = grid.all_classes()
            return builtin_dsprites_subset(classes[select(classes, grid, config)])
    data = load_dataset(
        config.name, source=config.source, cache_dir=config.cache_dir, progress=progress
    )
    if selecting:
        data = data.subset(select(data.classes, data.grid, config))
    return data
