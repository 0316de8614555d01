"""The training set a :class:`DataConfig` describes: a data set, factor filters, a seeded subset.

Filters keep the images whose factor classes lie in the given inclusive ranges; ``subset`` then
keeps a uniformly random subset of that size (sorted, so grid order is kept), drawn with
``subset_seed``. For a built-in generator (dSprites, 3D faces) the selection is made on the factor
grid first and only the chosen images are rendered, so quick runs never render the full grid.
``config.name`` may also be a path to your own ``.npz`` (:mod:`tcvae.data.arrays`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from tcvae.data import DATASETS, DataError, FactorGrid, GroundTruthData, load_dataset
from tcvae.data.registry import is_npz_path
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
    if is_npz_path(config.name):
        try:
            data = load_dataset(config.name, source=config.source)
        except DataError as err:
            raise ConfigError(f"{option_name('data.name')}: {err}") from err
    elif config.name not in DATASETS:
        raise ConfigError(
            f"{option_name('data.name')} unknown data set {config.name!r}; known data sets: "
            f"{sorted(DATASETS)}, or a path to your own .npz"
        )
    else:
        spec = DATASETS[config.name]
        selecting = bool(config.filters) or config.subset is not None
        builtin = spec.resolve_source(config.source, config.cache_dir) == "builtin"
        if selecting and builtin and spec.builtin_subset is not None:
            grid = spec.grid()
            classes = grid.all_classes()
            return spec.builtin_subset(classes[select(classes, grid, config)])
        data = load_dataset(
            config.name, source=config.source, cache_dir=config.cache_dir, progress=progress
        )
    if config.filters or config.subset is not None:
        data = data.subset(select(data.classes, data.grid, config))
    return data
