"""The training set a :class:`DataConfig` describes: a data set, factor filters, a seeded subset.

Filters keep the images whose factor classes lie in the given inclusive ranges; ``subset`` then
keeps a uniformly random subset of that size (sorted, so grid order is kept), drawn with
``subset_seed``. For a built-in generator (dSprites, 3D faces) the selection is made on the factor
grid first and only the chosen images are rendered, so quick runs never render the full grid.
``config.name`` may also be a path to your own ``.npz`` (:mod:`tcvae.data.arrays`).
"""

from __future__ import annotations

from torch import Tensor

from tcvae.data import DATASETS, DataError, FactorGrid, GroundTruthData, load_dataset
from tcvae.data.ground_truth import factor_filter, random_subset
from tcvae.data.registry import is_npz_path
from tcvae.training.config import ConfigError, DataConfig, option_name


def select(classes: Tensor, grid: FactorGrid, config: DataConfig) -> Tensor:
    """Indices (into ``classes`` (N, K)) kept by the filters and the subset, in increasing order;
    the selection itself is the data layer's, errors name the option."""
    try:
        index = factor_filter(classes, grid, config.filters)
    except DataError as err:
        raise ConfigError(f"{option_name('data.filters')}: {err}") from err
    if config.subset is None:
        return index
    try:
        return random_subset(index, config.subset, config.subset_seed)
    except DataError as err:
        raise ConfigError(f"{option_name('data.subset')} {err} after filtering") from err


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
