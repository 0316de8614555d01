"""tcvae.data: ground-truth data sets (dSprites, 3D faces, 3D Shapes, MPI3D, or your own arrays),
and your own images without factor labels (arrays, an ``.npz`` or a folder of image files)."""

from tcvae.data.arrays import from_arrays, load_npz
from tcvae.data.cache import default_cache_dir
from tcvae.data.dsprites import builtin_dsprites_subset, load_dsprites_npz
from tcvae.data.faces import builtin_faces_subset, load_faces_file
from tcvae.data.folder import from_folder
from tcvae.data.ground_truth import DataError, FactorGrid, GroundTruthData, PackedImages
from tcvae.data.heads import faces_grid, render_faces
from tcvae.data.mpi3d import load_mpi3d_npz
from tcvae.data.registry import (
    DATASETS,
    DatasetSpec,
    download_dataset,
    download_dsprites,
    load_dataset,
    load_dsprites,
    load_faces,
)
from tcvae.data.shapes3d import load_shapes3d_h5
from tcvae.data.sprites import dsprites_grid, render_dsprites, render_dsprites_packed

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetSpec",
    "FactorGrid",
    "GroundTruthData",
    "PackedImages",
    "builtin_dsprites_subset",
    "builtin_faces_subset",
    "default_cache_dir",
    "download_dataset",
    "download_dsprites",
    "dsprites_grid",
    "faces_grid",
    "from_arrays",
    "from_folder",
    "load_dataset",
    "load_dsprites",
    "load_dsprites_npz",
    "load_faces",
    "load_faces_file",
    "load_mpi3d_npz",
    "load_npz",
    "load_shapes3d_h5",
    "render_dsprites",
    "render_dsprites_packed",
    "render_faces",
]
