"""Loading the official dSprites npz layout, and refusing anything else with a clear error."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from tcvae.data import DATASETS, DataError, load_dataset, load_dsprites, load_dsprites_npz
from tcvae.data.dsprites import DSPRITES_FILENAME


def test_loads_official_layout_without_unpickling_metadata(
    tmp_path, small_grid, official_layout, save_npz, unpickled
):
    arrays = official_layout()
    path = tmp_path / "d.npz"
    save_npz(path, arrays)
    data = load_dsprites_npz(path)
    assert data.name == "dsprites" and data.max_value == 1 and data.is_full_grid
    images = data.images_uint8()
    assert images.shape == (48, 1, 64, 64) and images.dtype == torch.uint8
    assert np.array_equal(images[:, 0].numpy(), arrays["imgs"])
    assert torch.equal(data.classes, small_grid.all_classes())
    assert np.allclose(data.factor_values.numpy(), arrays["latents_values"])
    assert unpickled == []
    # the tripwire does fire when the metadata is unpickled, so the check above means something
    with np.load(path, allow_pickle=True) as npz:
        npz["metadata"][()]
    assert unpickled == [True]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(images=a.pop("imgs")), r"lacks \['imgs'\]"),
        (lambda a: a.pop("latents_classes"), r"lacks \['latents_classes'\]"),
        (lambda a: a.update(imgs=a["imgs"][:, :32, :32].copy()), r"'imgs' is uint8 \(48, 32, 32\)"),
        (lambda a: a.update(imgs=a["imgs"][:40]), r"'imgs' is uint8 \(40, 64, 64\)"),
        (lambda a: a.update(imgs=a["imgs"].astype(np.float32)), "'imgs' is float32"),
        (
            lambda a: a.update(latents_classes=a["latents_classes"].astype(np.int32)),
            "'latents_classes' is int32",
        ),
        (
            lambda a: a.update(latents_classes=a["latents_classes"][::-1].copy()),
            "not the dSprites grid in C order",
        ),
        (
            lambda a: a.update(latents_values=a["latents_values"] * 2),
            "latents_values do not match",
        ),
        (lambda a: a.update(imgs=a["imgs"] * 255), "must be binary"),
    ],
)
def test_wrong_files_are_refused(tmp_path, official_layout, save_npz, change, message):
    arrays = official_layout()
    change(arrays)
    path = tmp_path / "bad.npz"
    save_npz(path, arrays)
    with pytest.raises(DataError, match=message):
        load_dsprites_npz(path)


def test_truncated_garbage_and_missing_files_are_refused(tmp_path, official_layout, save_npz):
    path = tmp_path / "d.npz"
    save_npz(path, official_layout())
    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 10, 100):
        path.write_bytes(whole[:cut])
        with pytest.raises(DataError, match="truncated or corrupt"):
            load_dsprites_npz(path)
    path.write_bytes(b"not an npz at all" * 100)
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dsprites_npz(path)
    with pytest.raises(DataError, match="tcvae data download dsprites"):
        load_dsprites_npz(tmp_path / "absent.npz")


def test_sources_choose_file_or_builtin(cache_dir, official_layout, save_npz, monkeypatch):
    calls = []
    fake = replace(DATASETS["dsprites"], builtin=lambda *a, **k: calls.append(a) or "builtin")
    monkeypatch.setitem(DATASETS, "dsprites", fake)
    assert load_dataset("dsprites") == "builtin" and calls == [(None,)]
    with pytest.raises(DataError, match="tcvae data download dsprites"):
        load_dataset("dsprites", source="file")
    cache_dir.mkdir()
    save_npz(cache_dir / DSPRITES_FILENAME, official_layout())
    assert len(load_dataset("dsprites")) == 48  # auto finds the file
    assert len(load_dsprites("file", cache_dir=cache_dir)) == 48
    assert load_dsprites("builtin", cache_dir=cache_dir) == "builtin"


def test_unknown_names_and_sources_list_the_choices():
    with pytest.raises(DataError, match="unknown data set 'shapes9'; known data sets: dsprites"):
        load_dataset("shapes9")
    with pytest.raises(DataError, match=r"'auto', 'builtin', 'file'"):
        load_dataset("dsprites", source="web")
