"""The data of a sweep: the evaluation grid, built once, and facts about the training set.

A sweep's ``[data]`` is a :class:`tcvae.training.config.DataConfig`: every cell's config.json
records it and each cell trains on the set it describes (:func:`tcvae.training.build_dataset`),
so a cell's run directory rebuilds its own training data. The *evaluation grid* is the same
config without the selection of training images (:func:`tcvae.training.datasets.evaluation_config`):
the data set's full factor grid, coarsened by ``stride`` if asked (a coarse grid keeps the factor
values it holds, so metrics normalised by factor entropy stay exact). It is written once to
``SWEEP_DIR/data`` (one uint8 tensor, bit-packed when binary) with ``data.json``, the facts about
the training set, and memory-mapped by every cell's evaluation, so it is rendered once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tcvae.data.factor_sampling import empirical_correlation, grid_weights
from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData, PackedImages
from tcvae.files import read_json, write_json_atomic
from tcvae.training.checkpoint import atomic_save
from tcvae.training.config import DataConfig
from tcvae.training.datasets import build_dataset, evaluation_config, select

GRID_FILE, INFO_FILE = "grid.pt", "data.json"


def evaluation_grid(config: DataConfig, progress: bool = False) -> GroundTruthData:
    """Every point of the (strided) factor grid of ``config``'s data set, once."""
    data = build_dataset(evaluation_config(config), progress=progress)
    data.require_full_grid(f"a sweep's evaluation grid over {config.name!r}")
    return data


def training_facts(config: DataConfig, grid: GroundTruthData) -> dict[str, Any]:
    """Facts about the training set of ``config``, from the classes of its evaluation ``grid``
    (the training set is a selection of the grid's rows, in the same order)."""
    index = select(grid.classes, grid.grid, config)
    corr = config.correlation
    factors = tuple(corr["factors"]) if corr else None
    _, info = grid_weights(
        grid.grid,
        correlated=factors,
        rho=corr["rho"] if corr else 0.0,
        exclude=list(config.exclude),
        classes=grid.classes,
    )
    if factors is not None:
        info.update(
            factors=list(factors),
            requested_rho=corr["rho"],
            empirical_correlation=empirical_correlation(grid.grid, grid.classes[index], factors),
        )
    info.update(
        train_images=int(index.numel()),
        distinct_train_points=int(torch.unique(index).numel()),
        grid_points=grid.grid.num_points,
        grid_sizes=dict(zip(grid.grid.names, grid.grid.sizes)),
    )
    return info


@dataclass
class SweepData:
    """The evaluation grid of a sweep and the facts about its training set, not yet written."""

    grid: GroundTruthData
    info: dict[str, Any]


def is_prepared(data_dir: str | Path) -> bool:
    return (Path(data_dir) / INFO_FILE).is_file()


def build_sweep_data(config: DataConfig, progress: bool = False) -> SweepData:
    """Render the evaluation grid and check the training selection against it; writes nothing,
    so data a spec cannot have fails before its sweep directory is claimed."""
    grid = evaluation_grid(config, progress=progress)
    return SweepData(grid, training_facts(config, grid))


def write_sweep_data(built: SweepData, data_dir: str | Path) -> dict[str, Any]:
    """Write ``built`` into ``data_dir``; return the facts."""
    data_dir = Path(data_dir)
    data = built.grid
    atomic_save(
        {
            "name": data.name,
            "names": list(data.grid.names),
            "values": list(data.grid.values),
            "classes": data.classes,
            # binary images as their packed bits, with the shape they unpack to
            "images": data.images.bits if data.is_packed else data.images,
            "packed_shape": list(data.image_shape) if data.is_packed else None,
            "max_value": data.max_value,
        },
        data_dir / GRID_FILE,
    )
    write_json_atomic(data_dir / INFO_FILE, built.info)  # written last: marks the folder complete
    return built.info


def prepare_sweep_data(
    config: DataConfig, data_dir: str | Path, progress: bool = False
) -> dict[str, Any]:
    """Build the evaluation grid into ``data_dir`` unless already there; return the facts."""
    if is_prepared(data_dir):
        return read_json(Path(data_dir) / INFO_FILE)
    return write_sweep_data(build_sweep_data(config, progress=progress), data_dir)


def load_evaluation_grid(data_dir: str | Path) -> GroundTruthData:
    """The evaluation grid from a folder written by :func:`prepare_sweep_data`, memory-mapped."""
    data_dir = Path(data_dir)
    if not is_prepared(data_dir):
        raise DataError(f"{data_dir} holds no prepared sweep data (missing {INFO_FILE})")
    saved = torch.load(data_dir / GRID_FILE, mmap=True, weights_only=True)
    grid = FactorGrid(tuple(saved["names"]), tuple(saved["values"]))
    images = saved["images"]
    if saved.get("packed_shape") is not None:
        images = PackedImages(images, (images.shape[0], *saved["packed_shape"]))
    return GroundTruthData(saved["name"], grid, images, saved["classes"], saved["max_value"])
