"""tcvae.data: ground-truth data sets (dSprites: the official file or the built-in generator)."""

from tcvae.data.cache import default_cache_dir
from tcvae.data.dsprites import (
    builtin_dsprites_subset,
    download_dsprites,
    load_dsprites,
    load_dsprites_npz,
)
from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData, PackedImages
from tcvae.data.registry import DATASETS, load_dataset
from tcvae.data.sprites import dsprites_grid, render_dsprites, render_dsprites_packed

__all__ = [
    "DATASETS",
    "DataError",
    "FactorGrid",
    "GroundTruthData",
    "PackedImages",
    "builtin_dsprites_subset",
    "default_cache_dir",
    "download_dsprites",
    "dsprites_grid",
    "load_dataset",
    "load_dsprites",
    "load_dsprites_npz",
    "render_dsprites",
    "render_dsprites_packed",
]
