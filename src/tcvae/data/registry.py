"""Data sets by name: ``load_dataset("dsprites")``. Add a data set by adding its spec here.

A path ending in ``.npz`` is accepted wherever a name is: your own data in the layout of
:mod:`tcvae.data.arrays`; so is a path to a folder of PNG or JPEG images (:mod:`tcvae.data.folder`,
data without factor labels).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from tcvae.data import dsprites, faces, mpi3d, shapes3d
from tcvae.data.arrays import load_npz
from tcvae.data.cache import resolve_cache_dir, resolve_source
from tcvae.data.download import checksum_record, download_file, file_digest
from tcvae.data.folder import from_folder
from tcvae.data.ground_truth import FILE_SOURCES, DataError, FactorGrid, GroundTruthData
from tcvae.data.heads import faces_grid
from tcvae.data.sprites import dsprites_grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataFile:
    """A data set's file in the cache directory and where to fetch it.

    url: None when it cannot be downloaded (give it with ``--file``). md5: the pinned checksum,
    None when none is known (then the first download's SHA-256 is recorded). verify: checks the
    file's structure (keys, shapes, dtypes) without loading it. reference_md5: where nothing is
    pinned, the MD5 ``reference`` recorded for an earlier copy of the file; a download is
    compared with it and the result reported, not enforced.
    """

    filename: str
    url: str | None
    md5: str | None
    checksum_note: str
    verify: Callable[[Path], object] | None = None
    reference_md5: str | None = None
    reference: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """What ``tcvae data list`` says about a data set, and how to load it.

    read(path, progress) reads its file; builtin(cache_dir, progress=...) renders the grid and
    caches it in builtin_cache (both None when there is no generator); builtin_subset(classes)
    renders only those grid points; binary: images held bit-packed (1 bit per pixel in memory).
    """

    name: str
    summary: str
    grid: Callable[[], FactorGrid]
    channels: int
    binary: bool
    read: Callable[[Path, bool], GroundTruthData]
    file: DataFile
    builtin: Callable[..., GroundTruthData] | None = None
    builtin_cache: str | None = None
    builtin_subset: Callable[[Tensor], GroundTruthData] | None = None

    def resolve_source(self, source: str, cache_dir: str | os.PathLike | None = None) -> str:
        """What ``source`` ("auto", "builtin" or "file") means now: "builtin" or "file"."""
        builtin = self.builtin_cache is not None
        return resolve_source(self.name, source, self.file.filename, cache_dir, builtin)

    def load(
        self, source: str, cache_dir: str | os.PathLike | None, progress: bool
    ) -> GroundTruthData:
        """The data set from ``source``: "file" (its file in the cache directory), "builtin"
        (the generator) or "auto" (the file when it is in the cache, else the generator)."""
        if self.resolve_source(source, cache_dir) == "file":
            return self.read(resolve_cache_dir(cache_dir) / self.file.filename, progress)
        return self.builtin(cache_dir, progress=progress)

    @property
    def memory_bytes(self) -> int:
        """Bytes the full grid's pixels take in memory."""
        pixels = self.grid().num_points * self.channels * 64 * 64
        return pixels // 8 if self.binary else pixels


def _mpi3d_spec(variant: str) -> DatasetSpec:
    name, filename = f"mpi3d_{variant}", mpi3d.mpi3d_filename(variant)
    return DatasetSpec(
        name=name,
        summary=f"MPI3D {variant} (robot arm, 1,036,800 RGB images), your download",
        grid=mpi3d.mpi3d_grid,
        channels=3,
        binary=False,
        read=lambda path, progress: mpi3d.load_mpi3d_npz(path, variant, progress),
        file=DataFile(
            filename,
            mpi3d.MPI3D_URL.format(variant),
            None,
            "no published checksum: structure checked, SHA-256 recorded at first download"
            + ("; MD5 compared with disent's" if variant in mpi3d.REFERENCE_MD5 else ""),
            mpi3d.check_mpi3d_npz,
            mpi3d.REFERENCE_MD5.get(variant),
            "disent's MD5 for the original bucket's file",
        ),
    )


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="dsprites",
            summary="dSprites (2D shapes, binary), the official file or the built-in generator",
            grid=dsprites_grid,
            channels=1,
            binary=True,
            read=lambda path, progress: dsprites.load_dsprites_npz(path),
            file=DataFile(
                dsprites.DSPRITES_FILENAME,
                dsprites.DSPRITES_URL,
                dsprites.DSPRITES_MD5,
                "MD5 published with the release",
            ),
            builtin=dsprites.builtin_dsprites,
            builtin_cache=dsprites.BUILTIN_FILENAME,
            builtin_subset=dsprites.builtin_dsprites_subset,
        ),
        DatasetSpec(
            name="faces",
            summary="3D faces (greyscale): your Basel renders file, or the built-in stand-in",
            grid=faces_grid,
            channels=1,
            binary=False,
            read=lambda path, progress: faces.load_faces_file(path),
            file=DataFile(
                faces.FACES_FILENAME,
                None,
                None,
                "not distributable: give your copy with --file; shape and dtype checked on load",
                faces.load_faces_file,
            ),
            builtin=faces.builtin_faces,
            builtin_cache=faces.BUILTIN_FILENAME,
            builtin_subset=faces.builtin_faces_subset,
        ),
        DatasetSpec(
            name="shapes3d",
            summary="3D Shapes (RGB scenes), your download; reading it needs h5py",
            grid=shapes3d.shapes3d_grid,
            channels=3,
            binary=False,
            read=shapes3d.load_shapes3d_h5,
            file=DataFile(
                shapes3d.SHAPES3D_FILENAME,
                shapes3d.SHAPES3D_URL,
                shapes3d.SHAPES3D_MD5,
                "MD5 as pinned by the disent library (not published by the authors)",
            ),
        ),
        *(_mpi3d_spec(variant) for variant in mpi3d.VARIANTS),
    )
}


def is_npz_path(name: str | os.PathLike) -> bool:
    return str(name).lower().endswith(".npz")


def is_folder_path(name: str | os.PathLike) -> bool:
    """True when ``name`` is an existing folder (of images) rather than a data set's name."""
    return str(name) not in DATASETS and Path(name).expanduser().is_dir()


def is_path(name: str | os.PathLike) -> bool:
    """True when ``name`` is the user's own data (an ``.npz`` or a folder of images), not a
    registered data set."""
    return is_npz_path(name) or is_folder_path(name)


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(
            f"unknown data set {name!r}; known data sets: {', '.join(sorted(DATASETS))} "
            "(or a path to your own .npz or folder of images)"
        )
    return DATASETS[name]


def load_dataset(
    name: str | os.PathLike = "dsprites",
    source: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    channels: int | None = None,
) -> GroundTruthData:
    """Load data set ``name`` from ``source`` ("auto", "builtin" or "file"; see its loader), the
    ``.npz`` file at path ``name`` (:mod:`tcvae.data.arrays`), or the folder of images at path
    ``name`` (:mod:`tcvae.data.folder`: centre-cropped, resized to 64 x 64, ``channels`` 1 or 3
    or None for as the files are, cached in ``cache_dir``); for a path, source "auto" or
    "file"."""
    if is_path(name):
        if source not in FILE_SOURCES:
            raise DataError(f"{name} is your own data: use source 'auto' or 'file', not {source!r}")
        if is_folder_path(name):
            return from_folder(name, channels=channels, cache_dir=cache_dir, progress=progress)
        return load_npz(name)
    return get_spec(str(name)).load(source, cache_dir, progress)


def load_dsprites(
    source: str = "auto", cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> GroundTruthData:
    """dSprites from ``source``: "file" (official npz), "builtin" (generator) or "auto" (the file
    when it is in the cache, else the generator)."""
    return DATASETS["dsprites"].load(source, cache_dir, progress)


def load_faces(
    source: str = "auto", cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> GroundTruthData:
    """3D faces from ``source``: "file" (your ``basel_face_renders.pth`` in the cache
    directory), "builtin" (the stand-in renderer) or "auto" (the file when present)."""
    return DATASETS["faces"].load(source, cache_dir, progress)


def file_status(spec: DatasetSpec, cache_dir: str | os.PathLike | None = None) -> str:
    """How the data set's file in the cache is verified: pinned MD5, recorded SHA-256, none."""
    record = checksum_record(resolve_cache_dir(cache_dir) / spec.file.filename)
    if spec.file.md5 or not record:
        return spec.file.checksum_note
    status = f"sha256 {record['sha256'][:12]}... recorded at first download"
    same = _matches_reference(spec.file, record)
    return status if same is None else f"{status}; MD5 {same} {spec.file.reference}"


def _matches_reference(file: DataFile, record: dict) -> str | None:
    """ "matches" or "differs from": how a recorded download's MD5 compares with
    ``file.reference_md5``; None when either is unknown."""
    if file.reference_md5 is None or "md5" not in record:
        return None
    return "matches" if record["md5"] == file.reference_md5 else "differs from"


def download_dataset(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    url: str | None = None,
    md5: str | None = None,
    file: str | os.PathLike | None = None,
    progress: bool = False,
) -> Path:
    """Fetch data set ``name``'s file into the cache (from ``url``, a local ``file``, or the
    official location), verify it, and return its path. A copy already in the cache that
    passes the check is kept."""
    spec = get_spec(name)
    dest = resolve_cache_dir(cache_dir) / spec.file.filename
    md5 = md5 or spec.file.md5
    if file is not None:
        source = Path(file).expanduser()
        if not source.is_file():
            raise DataError(f"no file at {source}")
        url = source.resolve().as_uri()
    url = url or os.environ.get(f"TCVAE_{name.upper()}_URL") or spec.file.url
    if dest.exists() and _verified(dest, md5):
        return dest
    if url is None:
        raise DataError(
            f"{name} cannot be downloaded ({spec.file.checksum_note}); give your copy with "
            f"`tcvae data download {name} --file PATH`"
        )
    download_file(url, dest, md5, progress=progress)
    if spec.file.verify is not None:
        try:
            spec.file.verify(dest)
        except DataError:
            dest.unlink(missing_ok=True)
            raise
    record = checksum_record(dest) if md5 is None else None
    same = None if record is None else _matches_reference(spec.file, record)
    if same is not None:
        level = logging.INFO if same == "matches" else logging.WARNING
        reference = f"{spec.file.reference} ({spec.file.reference_md5})"
        log.log(level, "%s has MD5 %s, which %s %s", dest.name, record["md5"], same, reference)
    return dest


def download_dsprites(
    cache_dir: str | os.PathLike | None = None,
    url: str | None = None,
    md5: str = dsprites.DSPRITES_MD5,
    progress: bool = False,
) -> Path:
    """:func:`download_dataset` for dSprites: the official npz, checked against ``md5``."""
    return download_dataset("dsprites", cache_dir, url=url, md5=md5, progress=progress)


def _verified(path: Path, md5: str | None) -> bool:
    if md5 is not None:
        return file_digest(path, "md5") == md5.lower()
    record = checksum_record(path)
    if not record or path.stat().st_size != record["size"]:
        return False
    return file_digest(path, "sha256") == record["sha256"]
