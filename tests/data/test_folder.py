"""A folder of image files as data without factor labels: decoding, the cache, and the commands
(train, evaluate, report) end to end."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from tcvae.cli.main import main
from tcvae.data import DataError, from_arrays, from_folder, load_dataset
from tcvae.data.folder import CACHE_SUBDIR

# (width, height) of the generated images; multiples of 64 so the brute-force crop and resize
# below is plain block averaging
SIZES = [(64, 64), (128, 192), (256, 128), (192, 192), (64, 128)]


def _write_folder(root, count=30, colour=True, seed=0):
    """count PNGs (and a JPEG) of several sizes in root and a subfolder; a third grey when
    colour, all grey otherwise."""
    rng = np.random.default_rng(seed)
    (root / "sub").mkdir(parents=True)
    for i in range(count):
        w, h = SIZES[i % len(SIZES)]
        grey = not colour or i % 3 == 0
        shape = (h, w) if grey else (h, w, 3)
        pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
        folder = root / "sub" if i % 2 else root
        Image.fromarray(pixels).save(folder / f"img{i:03d}.png")
    Image.fromarray(rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)).save(root / "photo.JPG")
    (root / "notes.txt").write_text("not an image")
    return root


def _brute_force(path, channels):
    """The centre square of the image at path, averaged over k x k blocks to 64 x 64."""
    image = Image.open(path).convert("L" if channels == 1 else "RGB")
    x = np.asarray(image, dtype=np.float64).reshape(image.size[1], image.size[0], channels)
    h, w = x.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = x[top : top + side, left : left + side]
    k = side // 64
    blocks = square.reshape(64, k, 64, k, channels).mean((1, 3))
    return blocks.transpose(2, 0, 1)


@pytest.fixture()
def folder(tmp_path):
    return _write_folder(tmp_path / "pictures")


def test_folder_loads_centre_cropped_64x64_uint8(folder, tmp_path):
    data = from_folder(folder, cache_dir=tmp_path / "cache")
    assert not data.has_factors and data.classes is None and data.grid is None
    assert data.name == "pictures" and len(data) == 31  # 30 PNGs and the JPEG, not the .txt
    images = data.images_uint8()
    assert images.dtype == torch.uint8 and images.shape == (31, 3, 64, 64)  # some are colour
    files = sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    for i in (1, 2, 3):  # 128 x 192, 256 x 128 and 192 x 192 images
        expected = _brute_force(files[i], 3)
        assert np.abs(images[i].numpy().astype(np.float64) - expected).max() <= 1.0
    grey = from_folder(folder, channels=1, cache_dir=tmp_path / "cache")
    assert grey.images_uint8().shape == (31, 1, 64, 64)
    expected = _brute_force(files[2], 1)
    assert np.abs(grey.images_uint8()[2].numpy().astype(np.float64) - expected).max() <= 1.0
    batch = data.batch(torch.arange(4))
    assert batch.shape == (4, 3, 64, 64) and float(batch.max()) <= 1.0


def test_grey_files_stay_grey_and_small_images_are_enlarged(tmp_path):
    root = tmp_path / "grey"
    root.mkdir()
    for i, size in enumerate([(20, 30), (64, 64), (100, 50)]):
        Image.fromarray(np.full(size[::-1], 40 * i, dtype=np.uint8)).save(root / f"{i}.png")
    data = from_folder(root, cache_dir=tmp_path / "cache")
    assert data.images_uint8().shape == (3, 1, 64, 64)
    assert data.images_uint8()[2].unique().tolist() == [80]


def test_cache_is_reused_and_invalidated_when_a_file_changes(folder, tmp_path):
    cache = tmp_path / "cache"
    first = from_folder(folder, cache_dir=cache)
    (cached,) = (cache / CACHE_SUBDIR).iterdir()
    stamp = cached.stat().st_mtime_ns
    again = from_folder(folder, cache_dir=cache)
    assert torch.equal(first.images_uint8(), again.images_uint8())
    assert list((cache / CACHE_SUBDIR).iterdir()) == [cached]
    assert cached.stat().st_mtime_ns == stamp  # read back, not written again

    changed = folder / "img000.png"
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(changed)
    os.utime(changed, ns=(stamp + 10**9, stamp + 10**9))
    updated = from_folder(folder, cache_dir=cache)
    assert len(list((cache / CACHE_SUBDIR).iterdir())) == 2
    assert int(updated.images_uint8()[0].max()) == 0
    assert not torch.equal(updated.images_uint8()[0], first.images_uint8()[0])
    assert torch.equal(updated.images_uint8()[1:], first.images_uint8()[1:])


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no folder"):
        from_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        from_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="channels must be 1"):
        from_folder(tmp_path / "empty", channels=2)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="bad.png"):
        from_folder(tmp_path / "broken", cache_dir=tmp_path / "cache")


def test_arrays_and_npz_without_factor_classes(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 64, 64, 3), dtype=np.uint8)
    data = from_arrays(images)
    assert not data.has_factors and data.images_uint8().shape == (10, 3, 64, 64)
    assert data.factor_names == () and not data.is_full_grid
    assert len(data.subset(torch.arange(4))) == 4
    with pytest.raises(DataError, match="needs factor labels"):
        data.where(shape=0)
    with pytest.raises(DataError, match="give those too"):
        from_arrays(images, factor_names=["a"])
    np.savez(tmp_path / "mine.npz", images=images)
    loaded = load_dataset(tmp_path / "mine.npz")
    assert not loaded.has_factors and loaded.name == "mine"
    assert torch.equal(loaded.images_uint8(), data.images_uint8())


TINY = ["--hidden", "16", "--latent-dim", "3", "--batch-size", "8", "--device", "cpu"]
TINY += ["--no-tensorboard", "-q", "--max-steps", "3"]


def test_train_evaluate_report_on_a_folder(tmp_path, capsys, caplog):
    folder = _write_folder(tmp_path / "pictures", count=20)
    run = tmp_path / "run"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["train", "--data", str(folder), *cache, *TINY, "--out", str(run)]) == 0
    assert main(["train", "--data", str(folder), "--filter", "a=0:1", *TINY]) == 2
    assert "no factor labels" in capsys.readouterr().err
    grey = tmp_path / "grey"  # --channels 1 makes the colour files grey
    assert main(["train", "--data", str(folder), "--channels", "1", *cache, *TINY,
                 "--out", str(grey)]) == 0  # fmt: skip
    assert json.loads((grey / "config.json").read_text())["model"]["image_shape"] == [1, 64, 64]
    assert json.loads((run / "config.json").read_text())["model"]["image_shape"] == [3, 64, 64]
    assert main(["train", "--data", "dsprites", "--channels", "3", *TINY]) == 2  # not a folder
    assert "applies to a folder of images" in capsys.readouterr().err

    caplog.clear()
    assert main(["evaluate", str(run), "--samples", "50", "-q"]) == 0
    out = capsys.readouterr().out
    skips = [r.getMessage() for r in caplog.records if "need factor labels" in r.getMessage()]
    assert len(skips) == 1 and "mig" in skips[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["points"] == 21 and "mig" not in metrics and "mig_discrete" not in metrics
    dec = metrics["decomposition"]
    assert dec["samples"] == 50 and f"{dec['total_correlation']:.4f}" in out
    assert np.isfinite(dec["log_likelihood"])

    assert main(["report", str(run), "-q"]) == 0
    page = (run / "report.html").read_text()
    assert "ELBO decomposition" in page and "Latent traversals" in page
    assert "Reconstructions and samples" in page and "Training curves" in page
    assert "Factors and latents" not in page and "MIG (paper protocol)" not in page
    figures = {p.stem for p in (run / "report").glob("*.png")}
    assert {"traversals", "reconstructions", "prior_samples", "decomposition"} <= figures
    assert "latent_vs_factors" not in figures and "mutual_information" not in figures
