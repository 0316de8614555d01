"""The data of a sweep: the evaluation grid and the (possibly biased) training set, built once.

The *evaluation grid* is the data set's full factor grid, optionally coarsened by keeping every
k-th class of some factors (``[data] stride``; a coarse grid keeps the factor values it holds, so
metrics normalised by factor entropy stay exact). The *training set* is that grid when the spec
asks for no bias, else grid points drawn by :mod:`tcvae.experiments.factor_sampling`. Both are
written once to ``SWEEP_DIR/data`` (the grid as one uint8 tensor, bit-packed when binary; the
training set as indices into it) and memory-mapped by every cell, so nothing is rendered twice.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData, PackedImages
from tcvae.experiments.factor_sampling import (
    empirical_correlation,
    grid_weights,
    sample_grid_points,
)
from tcvae.experiments.spec import DataSpec
from tcvae.files import read_json, write_json_atomic
from tcvae.training.checkpoint import atomic_save

GRID_FILE, TRAIN_INDEX_FILE, INFO_FILE = "grid.pt", "train_index.pt", "data.json"


def strided_grid(grid: FactorGrid, stride: dict[str, int]) -> tuple[FactorGrid, Tensor]:
    """Keep classes 0, k, 2k, ... of each factor with a stride k.

    Returns the coarse grid and, for each of its points in flat order, the flat index of the same
    point in ``grid`` (num_points,).
    """
    steps = [1] * grid.num_factors
    for name, k in stride.items():
        steps[grid.factor_index(name)] = k
    values = tuple(v[::k] for v, k in zip(grid.values, steps))
    coarse = FactorGrid(grid.names, values)
    base_classes = coarse.all_classes() * torch.tensor(steps, dtype=torch.long)
    return coarse, grid.classes_to_index(base_classes)


def _full_grid_data(spec: DataSpec, progress: bool) -> GroundTruthData:
    from tcvae.data import load_dataset

    data = load_dataset(
        spec.dataset, source=spec.source, cache_dir=spec.cache_dir, progress=progress
    )
    data.require_full_grid(f"a sweep's evaluation grid over {spec.dataset!r}")
    return data


def evaluation_grid(spec: DataSpec, progress: bool = False) -> GroundTruthData:
    """Every point of the (strided) factor grid, in flat-index order of the coarse grid."""
    if spec.dataset == "dsprites" and spec.source == "builtin":
        from tcvae.data.sprites import dsprites_grid, render_dsprites_packed

        base = dsprites_grid()
        grid, base_index = strided_grid(base, spec.stride)
        images = render_dsprites_packed(base.index_to_classes(base_index), progress=progress)
        return GroundTruthData("dsprites", grid, images, grid.all_classes(), max_value=1)
    full = _full_grid_data(spec, progress)
    grid, base_index = strided_grid(full.grid, spec.stride)
    rows = full.rows_of(full.grid.index_to_classes(base_index))
    return GroundTruthData(full.name, grid, full.images[rows], grid.all_classes(), full.max_value)


def training_index(spec: DataSpec, grid: FactorGrid) -> tuple[Tensor, dict]:
    """Flat indices (into the evaluation grid) of the training images, and facts about them."""
    corr = spec.correlation
    weights, info = grid_weights(
        grid,
        correlated=corr.factors if corr else None,
        rho=corr.rho if corr else 0.0,
        exclude=list(spec.exclude),
    )
    if corr is None:
        index = torch.nonzero(weights > 0).squeeze(1)
    else:
        generator = torch.Generator().manual_seed(spec.seed)
        index = sample_grid_points(weights, spec.size or grid.num_points, generator)
        classes = grid.index_to_classes(index)
        info.update(
            factors=list(corr.factors),
            requested_rho=corr.rho,
            empirical_correlation=empirical_correlation(grid, classes, corr.factors),
        )
    info.update(
        train_images=int(index.numel()),
        distinct_train_points=int(torch.unique(index).numel()),
        grid_points=grid.num_points,
        grid_sizes=dict(zip(grid.names, grid.sizes)),
    )
    return index, info


def prepare_sweep_data(spec: DataSpec, data_dir: str | Path, progress: bool = False) -> dict:
    """Build the grid and training indices into ``data_dir`` unless already there; return facts."""
    data_dir = Path(data_dir)
    if (data_dir / INFO_FILE).is_file():
        return read_json(data_dir / INFO_FILE)
    data = evaluation_grid(spec, progress=progress)
    index, info = training_index(spec, data.grid)
    atomic_save(
        {
            "name": data.name,
            "names": list(data.grid.names),
            "values": list(data.grid.values),
            # binary images as their packed bits, with the shape they unpack to
            "images": data.images.bits if data.is_packed else data.images,
            "packed_shape": list(data.image_shape) if data.is_packed else None,
            "max_value": data.max_value,
        },
        data_dir / GRID_FILE,
    )
    atomic_save(index, data_dir / TRAIN_INDEX_FILE)
    write_json_atomic(data_dir / INFO_FILE, info)  # written last: marks the folder complete
    return info


def load_sweep_data(data_dir: str | Path) -> tuple[GroundTruthData, GroundTruthData]:
    """(training set, evaluation grid) from a folder written by :func:`prepare_sweep_data`."""
    data_dir = Path(data_dir)
    if not (data_dir / INFO_FILE).is_file():
        raise DataError(f"{data_dir} holds no prepared sweep data (missing {INFO_FILE})")
    saved = torch.load(data_dir / GRID_FILE, mmap=True, weights_only=True)
    grid = FactorGrid(tuple(saved["names"]), tuple(saved["values"]))
    images = saved["images"]
    if saved.get("packed_shape") is not None:
        images = PackedImages(images, (images.shape[0], *saved["packed_shape"]))
    full = GroundTruthData(saved["name"], grid, images, grid.all_classes(), saved["max_value"])
    index = torch.load(data_dir / TRAIN_INDEX_FILE, weights_only=True)
    return full.subset(index), full
