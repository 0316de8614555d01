"""The training set a :class:`DataConfig` describes, built the same way every time.

In order: load the data set; keep every k-th class of the factors in ``stride`` (a coarser grid);
keep the images inside the ``filters``; drop those matching an ``exclude`` rule; then either draw
``subset`` images i.i.d. from the ``correlation``'s distribution over what is left, or keep a
uniformly random ``subset`` of it. Every draw is seeded by ``subset_seed`` and every selection
keeps the data set's order (draws are sorted), so a run's ``config.json`` rebuilds exactly the
images, in the order, its run trained on. For a built-in generator (dSprites, 3D faces) the
selection is made on the factor grid first and only the chosen points are rendered.
``config.name`` may also be a path to your own ``.npz`` (:mod:`tcvae.data.arrays`) or folder of
images (:mod:`tcvae.data.folder`). Data without factor labels allows only ``subset``.

:func:`evaluation_config` drops the selection but keeps the stride: the full (coarse) grid that a
sweep evaluates its cells on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from tcvae.data import DATASETS, DataError, FactorGrid, GroundTruthData, load_dataset
from tcvae.data.factor_sampling import (
    exclusion_mask,
    grid_weights,
    sample_grid_points,
    stride_steps,
    strided_grid,
)
from tcvae.data.ground_truth import factor_filter, random_subset
from tcvae.data.registry import is_folder_path, is_path
from tcvae.training.config import ConfigError, DataConfig, option_name


@contextmanager
def _naming(key: str, after: str = "") -> Iterator[None]:
    """Report a :class:`DataError` raised inside as a :class:`ConfigError` naming option ``key``."""
    try:
        yield
    except DataError as err:
        raise ConfigError(f"{option_name(key)}: {err}{after}") from err


def is_selecting(config: DataConfig) -> bool:
    """True when ``config`` keeps only part of the (strided) data set, or draws from it."""
    return bool(config.filters or config.exclude or config.correlation) or config.subset is not None


def evaluation_config(config: DataConfig) -> DataConfig:
    """``config`` without its selection of training images: the whole (strided) grid."""
    return dataclasses.replace(
        config, filters={}, exclude=[], correlation=None, subset=None, subset_seed=0
    )


def select(classes: Tensor, grid: FactorGrid, config: DataConfig) -> Tensor:
    """Indices into the rows of ``classes`` (N, K) of the training images, in increasing order
    (repeated where a correlated draw picks a point more than once); errors name the option."""
    index = torch.arange(classes.shape[0])
    if config.filters:
        with _naming("data.filters"):
            index = factor_filter(classes, grid, config.filters)
    kept = classes[index]
    if config.correlation is not None:
        corr = config.correlation
        with _naming("data.correlation"):
            factors = tuple(corr["factors"])
            weights, _ = grid_weights(grid, factors, corr["rho"], config.exclude, classes=kept)
        generator = torch.Generator().manual_seed(config.subset_seed)
        size = config.subset or index.numel()
        return index[sample_grid_points(weights, size, generator)]
    if config.exclude:
        with _naming("data.exclude"):
            index = index[~exclusion_mask(grid, kept, config.exclude)]
        if index.numel() == 0:
            raise ConfigError(f"{option_name('data.exclude')} removes every image; relax it")
    if config.subset is None:
        return index
    with _naming("data.subset", " after filtering"):
        return random_subset(index, config.subset, config.subset_seed)


def strided(data: GroundTruthData, stride: dict[str, int]) -> GroundTruthData:
    """The images of ``data`` on its coarser grid: those whose class of each strided factor is a
    multiple of its stride k, with that class divided by k."""
    with _naming("data.stride"):
        grid, _ = strided_grid(data.grid, stride)
        steps = stride_steps(data.grid, stride)
    classes = data.classes
    rows = ((classes % steps) == 0).all(1).nonzero().squeeze(1)
    return GroundTruthData(
        data.name, grid, data.images[rows], classes[rows] // steps, data.max_value
    )


def grid_selection(config: DataConfig) -> tuple[FactorGrid, Tensor, Tensor] | None:
    """For a registered data set, from its factor grid alone (no images): the (strided) grid,
    the flat indices into it of the training points, and for every point of that grid the flat
    index of the same point in the data set's own grid. None for an ``.npz`` or folder path
    (whose grid, if any, is in the file). A selection the grid refuses (an unknown factor, a
    class out of range, an unreachable correlation, every point excluded) raises
    :class:`ConfigError` here, before any image is loaded or rendered."""
    if is_path(config.name):
        return None
    if config.name not in DATASETS:
        raise ConfigError(
            f"{option_name('data.name')} unknown data set {config.name!r}; known data sets: "
            f"{sorted(DATASETS)}, or a path to your own .npz or folder of images"
        )
    with _naming("data.stride"):
        grid, base_index = strided_grid(DATASETS[config.name].grid(), config.stride)
    return grid, select(grid.all_classes(), grid, config), base_index


def _unlabelled_selection(data: GroundTruthData, config: DataConfig) -> GroundTruthData:
    """``data`` without factor labels, with its ``subset``; a selection by factors is refused."""
    by_factors = [
        f"data.{key}"
        for key in ("stride", "filters", "exclude", "correlation")
        if getattr(config, key)
    ]
    if by_factors:
        raise ConfigError(
            f"{', '.join(map(option_name, by_factors))} "
            f"select{'s' if len(by_factors) == 1 else ''} images by their factor classes, "
            f"but {config.name} has no factor labels; drop them (--subset still works)"
        )
    if config.subset is None:
        return data
    with _naming("data.subset"):
        return data.subset(
            random_subset(torch.arange(len(data)), config.subset, config.subset_seed)
        )


def build_dataset(config: DataConfig, progress: bool = False) -> GroundTruthData:
    """Load (or render) the training set of ``config``; errors name the offending option."""
    if config.channels is not None and not is_folder_path(config.name):
        raise ConfigError(
            f"{option_name('data.channels')} applies to a folder of images; {config.name!r} is "
            "not one (drop --channels)"
        )
    if is_path(config.name):
        with _naming("data.name"):
            data = load_dataset(
                config.name,
                source=config.source,
                cache_dir=config.cache_dir,
                progress=progress,
                channels=config.channels,
            )
        if not data.has_factors:
            return _unlabelled_selection(data, config)
    else:
        grid, index, base_index = grid_selection(config)  # checked before any image loads
        spec = DATASETS[config.name]
        builtin = spec.resolve_source(config.source, config.cache_dir) == "builtin"
        transformed = is_selecting(config) or bool(config.stride)
        if transformed and builtin and spec.builtin_subset is not None:
            # render each chosen point once, then repeat those a correlated draw picked again
            points, order = torch.unique(index, return_inverse=True)
            base = spec.builtin_subset(spec.grid().index_to_classes(base_index[points]))
            data = GroundTruthData(
                base.name, grid, base.images, grid.index_to_classes(points), base.max_value
            )
            return data if torch.equal(points, index) else data.subset(order)
        data = load_dataset(
            config.name, source=config.source, cache_dir=config.cache_dir, progress=progress
        )
    if config.stride:
        data = strided(data, config.stride)
    if is_selecting(config):
        data = data.subset(select(data.classes, data.grid, config))
    return data
