"""Your own data: from_arrays and .npz files, their validation, and training on them."""

import numpy as np
import pytest
import torch

from tcvae.data import DataError, from_arrays, load_dataset, load_npz
from tcvae.training.config import ConfigError, DataConfig
from tcvae.training.datasets import build_dataset

RNG = np.random.default_rng(0)


def grid_classes(*sizes) -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(
        -1, len(sizes)
    )


def test_layouts_give_the_same_channel_first_images():
    rgb = RNG.integers(0, 256, (6, 3, 64, 64), dtype=np.uint8)
    classes = grid_classes(2, 3)
    first = from_arrays(rgb, classes)
    last = from_arrays(rgb.transpose(0, 2, 3, 1), classes)
    assert first.image_shape == last.image_shape == (3, 64, 64) and first.max_value == 255
    assert torch.equal(first.images_uint8(), last.images_uint8())
    assert torch.equal(last.batch(torch.tensor([4])), torch.from_numpy(rgb[4:5]).float() / 255)
    grey = from_arrays(
        rgb[:, 0], classes, factor_names=["a", "b"], factor_values=[[0, 1], [5, 6, 7]]
    )
    assert grey.image_shape == (1, 64, 64) and grey.factor_names == ("a", "b")
    assert grey.factor_values[5].tolist() == [1.0, 7.0] and grey.is_full_grid


def test_binary_images_are_packed_whatever_their_scale():
    bits = RNG.integers(0, 2, (4, 64, 64, 1), dtype=np.uint8)
    classes = grid_classes(4)
    for images in (bits, bits.astype(bool), bits * 255):
        data = from_arrays(images, classes)
        assert data.is_packed and data.max_value == 1
        assert torch.equal(
            data.batch(torch.arange(4))[:, 0], torch.from_numpy(bits[..., 0]).float()
        )


def test_validation_errors_are_specific():
    images = np.zeros((6, 64, 64), dtype=np.uint8)
    classes = grid_classes(2, 3)
    with pytest.raises(DataError, match="differ in length: 5 images but 6 rows"):
        from_arrays(images[:5], classes)
    with pytest.raises(DataError, match="uint8 .* or bool, got torch.float32"):
        from_arrays(images.astype(np.float32), classes)
    with pytest.raises(DataError, match="factor_classes must be integers"):
        from_arrays(images, classes.astype(float))
    with pytest.raises(DataError, match=r"\(N, 64, 64, C\) .* got shape \(6, 32, 32\); resize"):
        from_arrays(np.zeros((6, 32, 32), dtype=np.uint8), classes)
    with pytest.raises(DataError, match=r"shape \(6, 64, 64, 2\)"):
        from_arrays(np.zeros((6, 64, 64, 2), dtype=np.uint8), classes)
    with pytest.raises(DataError, match="factor 'b' has class 2 but only 2 values"):
        from_arrays(images, classes, factor_names=["a", "b"], factor_values=[[0, 1], [0, 1]])
    bad = classes.copy()
    bad[0, 1] = -1
    with pytest.raises(DataError, match="factor 'factor1' has negative classes"):
        from_arrays(images, bad)
    with pytest.raises(DataError, match="got 3 factor_names for 2 factors"):
        from_arrays(images, classes, factor_names=["a", "b", "c"])


def test_incomplete_grids_are_refused_where_a_full_grid_is_needed():
    classes = grid_classes(2, 3)[:5]  # the point (1, 2) is missing
    data = from_arrays(np.zeros((5, 64, 64), dtype=np.uint8), classes)
    assert not data.is_full_grid
    with pytest.raises(DataError, match=r"holds 5 images of 5 distinct points"):
        data.rows_of(torch.tensor([[0, 0]]))


def test_npz_file_round_trip_and_as_a_training_data_name(tmp_path):
    images = RNG.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    classes = grid_classes(3, 4)
    path = tmp_path / "mine.npz"
    values = np.array([[0.0, 0.5, 1.0, np.nan], [1, 2, 3, 4]])
    np.savez(
        path,
        images=images,
        factor_classes=classes,
        factor_names=np.array(["x", "y"]),
        factor_values=values,
    )
    data = load_dataset(str(path))
    assert data.name == "mine" and data.factor_names == ("x", "y") and data.grid.sizes == (3, 4)
    assert data.grid.values[0].tolist() == [0.0, 0.5, 1.0]
    assert torch.equal(data.images_uint8()[7], torch.from_numpy(images[7]).permute(2, 0, 1))
    train = build_dataset(DataConfig(name=str(path), subset=5, filters={"y": [1, 3]}))
    assert len(train) == 5 and bool((train.classes[:, 1] >= 1).all())
    np.savez(path, pictures=images, factor_classes=classes)
    with pytest.raises(DataError, match=r"lacks \['images'\]"):
        load_npz(path)
    with pytest.raises(ConfigError, match=r"\(--data\): .*mine.npz lacks"):
        build_dataset(DataConfig(name=str(path)))
    np.savez(path, images=images, factor_classes=classes, factor_values=np.array(["a", "b"]))
    with pytest.raises(DataError, match="factor_values must be a float array"):
        load_npz(path)
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_npz(path)
    with pytest.raises(DataError, match="no data file"):
        load_dataset(str(tmp_path / "absent.npz"))
