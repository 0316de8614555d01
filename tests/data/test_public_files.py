"""3D Shapes and MPI3D loaders on small files in the official layouts (a 12-point grid), their
downloads (pinned MD5, or a SHA-256 recorded at the first download) and ``tcvae data list``."""

import hashlib

import h5py
import numpy as np
import pytest
import torch

import tcvae.data.mpi3d as mpi3d_module
import tcvae.data.shapes3d as shapes3d_module
from tcvae.cli.main import main
from tcvae.data import DataError, download_dataset, load_dataset
from tcvae.data.download import ChecksumError, checksum_record
from tcvae.data.mpi3d import load_mpi3d_npz
from tcvae.data.shapes3d import load_shapes3d_h5

SHAPES_SIZES = (2, 1, 1, 2, 1, 3)
MPI_SIZES = (2, 1, 1, 1, 1, 2, 3)


@pytest.fixture
def small_sizes(monkeypatch):
    monkeypatch.setattr(shapes3d_module, "FACTOR_SIZES", SHAPES_SIZES)
    monkeypatch.setattr(mpi3d_module, "FACTOR_SIZES", MPI_SIZES)


def c_order_classes(sizes) -> np.ndarray:
    mesh = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    return np.stack(mesh, -1).reshape(-1, len(sizes))


def shapes3d_file(path, images=None, labels=None):
    classes = c_order_classes(SHAPES_SIZES)
    steps = np.array([0.1, 0.1, 0.1, 0.5 / 7, 1.0, 60 / 14])  # the official spacings
    if labels is None:
        labels = classes * steps + np.array([0, 0, 0, 0.75, 0, -30])
    if images is None:
        images = np.random.default_rng(0).integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(1, *images.shape[1:]), compression="gzip")
        f.create_dataset("labels", data=labels)
    return images


def test_shapes3d_loads_channel_first_with_values_from_the_labels(tmp_path, small_sizes):
    path = tmp_path / "3dshapes.h5"
    images = shapes3d_file(path)
    data = load_shapes3d_h5(path)
    assert data.name == "shapes3d" and data.image_shape == (3, 64, 64) and data.is_full_grid
    assert torch.equal(data.images_uint8()[11], torch.from_numpy(images[11]).permute(2, 0, 1))
    assert data.grid.names[-1] == "orientation" and data.grid.values[-1].tolist() == [
        pytest.approx(-30),
        pytest.approx(-30 + 60 / 14),
        pytest.approx(-30 + 120 / 14),
    ]
    assert data.batch(torch.tensor([0, 11])).shape == (2, 3, 64, 64)
    assert len(load_dataset("shapes3d", cache_dir=tmp_path)) == 12


def test_shapes3d_refuses_wrong_files(tmp_path, small_sizes):
    path = tmp_path / "3dshapes.h5"
    shapes3d_file(path, images=np.zeros((12, 64, 64, 1), dtype=np.uint8))
    with pytest.raises(DataError, match=r"'images' is uint8 \(12, 64, 64, 1\), expected"):
        load_shapes3d_h5(path)
    labels = c_order_classes(SHAPES_SIZES)[::-1].astype(np.float64)  # right values, wrong order
    shapes3d_file(path, labels=labels)
    with pytest.raises(DataError, match="not the 3D Shapes factor grid in C order"):
        load_shapes3d_h5(path)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((12, 64, 64, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"lacks \['labels'\]"):
        load_shapes3d_h5(path)
    shapes3d_file(path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_shapes3d_h5(path)
    with pytest.raises(DataError, match="no built-in generator"):
        load_dataset("shapes3d", source="builtin")


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_mpi3d_memory_mapped_or_streamed(tmp_path, small_sizes, save):
    images = np.random.default_rng(1).integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "mpi3d_toy.npz"
    save(path, images=images)
    data = load_mpi3d_npz(path, "toy")
    assert data.name == "mpi3d_toy" and data.image_shape == (3, 64, 64) and data.is_full_grid
    assert data.factor_names[-2:] == ("horizontal_axis", "vertical_axis")
    assert torch.equal(data.images_uint8(), torch.from_numpy(images).permute(0, 3, 1, 2))
    x = data.batch(torch.tensor([5, 2]))
    assert torch.equal(x, torch.from_numpy(images[[5, 2]]).permute(0, 3, 1, 2).float() / 255)


def test_mpi3d_refuses_wrong_and_truncated_files(tmp_path, small_sizes):
    path = tmp_path / "mpi3d_real.npz"
    np.savez(path, images=np.zeros((11, 64, 64, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"'images' is uint8 \(11, 64, 64, 3\), expected"):
        load_mpi3d_npz(path, "real")
    np.savez(path, imgs=np.zeros((12, 64, 64, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"lacks \['images'\]"):
        load_mpi3d_npz(path, "real")
    for save in (np.savez, np.savez_compressed):
        save(path, images=np.ones((12, 64, 64, 3), dtype=np.uint8))
        whole = path.read_bytes()
        path.write_bytes(whole[: len(whole) - 300])
        with pytest.raises(DataError, match="truncated or corrupt"):
            load_mpi3d_npz(path, "real")


def test_unpinned_download_records_its_sha256_and_checks_later_copies(tmp_path, small_sizes):
    cache = tmp_path / "cache"
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((12, 64, 64, 3), dtype=np.uint8))
    path = download_dataset("mpi3d_toy", cache, file=good)
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    assert path.read_bytes() == good.read_bytes()
    md5 = hashlib.md5(good.read_bytes()).hexdigest()
    assert checksum_record(path) == {"sha256": sha, "size": good.stat().st_size, "md5": md5}
    assert download_dataset("mpi3d_toy", cache, url="file:///nonexistent") == path  # verified
    other = tmp_path / "other.npz"
    np.savez(other, images=np.ones((12, 64, 64, 3), dtype=np.uint8))
    path.unlink()
    with pytest.raises(ChecksumError, match="first download recorded"):
        download_dataset("mpi3d_toy", cache, file=other)
    assert not path.exists()
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=np.zeros((3, 64, 64, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="not an MPI3D file"):
        download_dataset("mpi3d_real", cache, file=wrong)
    assert not (cache / "mpi3d_real.npz").exists()
    with pytest.raises(ChecksumError, match="expected 099a2078"):  # shapes3d's MD5 is pinned
        download_dataset("shapes3d", cache, file=good)
    with pytest.raises(DataError, match="cannot be downloaded .* --file PATH"):
        download_dataset("faces", cache)


def test_data_list_says_what_is_here_and_how_big(tmp_path, capsys, small_sizes):
    cache = tmp_path / "cache"
    cache.mkdir()
    shapes3d_file(cache / "3dshapes.h5")
    assert main(["data", "list", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    blocks = {b.split(":")[0]: b for b in out.split("\n") if b and not b.startswith(" ")}
    assert set(blocks) >= {"dsprites", "faces", "shapes3d", "mpi3d_toy", "mpi3d_real"}
    section = out[out.index("shapes3d:") :].split("\n")
    assert section[1].strip() == f"available: yes: file {cache / '3dshapes.h5'}"
    size = (cache / "3dshapes.h5").stat().st_size
    assert f"on disk {size / 1024:.1f} KiB" in section[2] or f"on disk {size} B" in section[2]
    assert "floor_hue 10, wall_hue 10" not in section[3] and "floor_hue 2" in section[3]
    dsprites = out[out.index("dsprites:") :].split("\n")
    assert "built-in (rendered on first use" in dsprites[1] and "in memory 360.0 MiB" in dsprites[2]
    assert "no: run `tcvae data download mpi3d_real`" in out


def test_a_download_is_compared_with_the_reference_md5_and_the_result_reported(
    tmp_path, small_sizes, monkeypatch, caplog
):
    import dataclasses
    import logging

    from tcvae.data import registry

    assert registry.DATASETS["mpi3d_toy"].file.reference_md5 == mpi3d_module.REFERENCE_MD5["toy"]
    assert registry.DATASETS["mpi3d_real"].file.reference_md5 is None  # corrected in 2025
    good, other = tmp_path / "good.npz", tmp_path / "other.npz"
    np.savez(good, images=np.zeros((12, 64, 64, 3), dtype=np.uint8))
    np.savez(other, images=np.ones((12, 64, 64, 3), dtype=np.uint8))
    spec = registry.DATASETS["mpi3d_toy"]
    reference = hashlib.md5(good.read_bytes()).hexdigest()
    pinned = dataclasses.replace(spec.file, reference_md5=reference, reference="the test's MD5")
    monkeypatch.setitem(registry.DATASETS, "mpi3d_toy", dataclasses.replace(spec, file=pinned))
    with caplog.at_level(logging.INFO, logger="tcvae.data.registry"):
        download_dataset("mpi3d_toy", tmp_path / "a", file=good)
        download_dataset("mpi3d_toy", tmp_path / "b", file=other)  # kept: reported, not enforced
    (matched, differed) = [r for r in caplog.records if "MD5" in r.getMessage()]
    assert matched.levelno == logging.INFO and "which matches the test's MD5" in matched.message
    assert differed.levelno == logging.WARNING and "differs from the test's MD5" in differed.message
    status = registry.file_status(registry.DATASETS["mpi3d_toy"], tmp_path / "a")
    assert status.endswith("recorded at first download; MD5 matches the test's MD5")
    status = registry.file_status(registry.DATASETS["mpi3d_toy"], tmp_path / "b")
    assert status.endswith("; MD5 differs from the test's MD5")
