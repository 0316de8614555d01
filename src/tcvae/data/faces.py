"""3D faces as GroundTruthData: the paper's Basel renders (your file) or the built-in stand-in.

``source="file"`` reads ``basel_face_renders.pth`` from the cache directory: a uint8 tensor of
shape (50, 21, 11, 11, 64, 64) (identity, azimuth, elevation, lighting, then the greyscale image)
that the paper's authors give out on request under the Basel Face Model licence; it is never
downloaded. ``source="builtin"`` renders a stand-in with the same factor structure
(:mod:`tcvae.data.heads`) and caches it; ``source="auto"`` uses the file when it is present.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from tcvae.data.cache import cached_images, load_uint8_images, resolve_cache_dir, save_uint8_images
from tcvae.data.ground_truth import DataError, GroundTruthData
from tcvae.data.heads import IMAGE_SIZE, faces_grid, render_faces

FACES_FILENAME = "basel_face_renders.pth"
# Bump when the renderer's pictures change, so stale caches are rendered again.
BUILTIN_VERSION = 1
BUILTIN_FILENAME = f"faces_builtin_v{BUILTIN_VERSION}.npy"


def load_faces_file(path: str | os.PathLike) -> GroundTruthData:
    """Load ``basel_face_renders.pth`` safely (``weights_only=True``: tensors only, no code),
    checking that it holds one uint8 tensor of 127,050 greyscale 64 x 64 images in C order."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"no 3D faces file at {path}; the Basel renders are not publicly distributable: "
            "copy your basel_face_renders.pth there (or run `tcvae data download faces --file "
            "PATH`), or use the built-in stand-in (source='builtin')"
        )
    try:
        tensor = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(
            f"{path} is not a readable torch file ({type(err).__name__}: {err}); it may be "
            "truncated or corrupt: copy it again"
        ) from err
    except pickle.UnpicklingError as err:
        raise DataError(
            f"{path} holds more than tensors and was not loaded (weights_only=True): {err}"
        ) from err
    grid = faces_grid()
    n, side = grid.num_points, (IMAGE_SIZE, IMAGE_SIZE)
    shapes = ((*grid.sizes, *side), (n, *side), (n, 1, *side))  # the reference layout first
    if not isinstance(tensor, torch.Tensor):
        raise DataError(
            f"{path} holds a {type(tensor).__name__}, expected one uint8 tensor of shape "
            f"{shapes[0]}"
        )
    if tensor.dtype != torch.uint8 or tuple(tensor.shape) not in shapes:
        raise DataError(
            f"{path} holds a {tensor.dtype} tensor of shape {tuple(tensor.shape)}; expected uint8 "
            f"of shape {shapes[0]} (identity, azimuth, elevation, lighting, 64, 64)"
        )
    images = tensor.reshape(n, 1, *side)
    return GroundTruthData("faces", grid, images, grid.all_classes(), max_value=255)


def builtin_faces(
    cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> GroundTruthData:
    """The full grid of the built-in stand-in; rendered once, then read from the cache."""
    grid = faces_grid()
    classes = grid.all_classes()
    path = resolve_cache_dir(cache_dir) / BUILTIN_FILENAME
    shape = (grid.num_points, 1, IMAGE_SIZE, IMAGE_SIZE)
    images = cached_images(
        path,
        lambda: render_faces(classes, progress=progress),
        lambda: load_uint8_images(path, shape),
        lambda images: save_uint8_images(path, images),
    )
    return GroundTruthData("faces", grid, images, classes, max_value=255)


def builtin_faces_subset(classes: torch.Tensor) -> GroundTruthData:
    """Render only the grid points ``classes`` (M, 4) long."""
    images = render_faces(classes)
    return GroundTruthData("faces", faces_grid(), images, torch.as_tensor(classes), 255)
