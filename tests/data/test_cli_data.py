"""``tcvae data download`` and ``tcvae data preview``, called through the real entry point."""

import hashlib

import matplotlib.image
import pytest
import torch

from tcvae.cli.main import main
from tcvae.data import DataError, dsprites_grid
from tcvae.data.dsprites import DSPRITES_FILENAME
from tcvae.data.preview import factor_sweeps


def test_download_via_local_url_then_bad_checksum(cache_dir, tmp_path, capsys):
    src = tmp_path / "served.npz"
    src.write_bytes(b"synthetic dsprites bytes" * 1000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    target = tmp_path / "flag-cache"
    args = ["data", "download", "dsprites", "--url", src.as_uri(), "--cache-dir", str(target)]
    assert main([*args, "--md5", md5]) == 0
    assert (target / DSPRITES_FILENAME).read_bytes() == src.read_bytes()
    assert str(target / DSPRITES_FILENAME) in capsys.readouterr().out
    # the official MD5 is the default, so the synthetic file is refused, in one line
    assert main(["data", "download", "dsprites", "--url", src.as_uri()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("tcvae data: error:") and "expected 7da33b31" in err[-1]
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


def test_preview_builtin_writes_a_sweep_png(cache_dir, tmp_path, capsys):
    out = tmp_path / "figs" / "preview.png"
    assert main(["data", "preview", "dsprites", "--data-source", "builtin", "--out", str(out)]) == 0
    picture = matplotlib.image.imread(out)
    assert picture.ndim == 3 and picture.shape[0] > 200 and picture.shape[1] > 400
    grey = picture[..., :3].mean(-1)
    assert grey.std() > 0.1 and (grey < 0.1).mean() > 0.2 and (grey > 0.9).mean() > 0.05
    assert str(out) in capsys.readouterr().out
    assert not cache_dir.exists()  # a preview renders only the sweeps, nothing is cached


def test_preview_from_file_uses_the_file(cache_dir, tmp_path, official_layout, save_npz):
    cache_dir.mkdir()
    dark = []
    for fill in (0, 1):  # an all-black, then an all-white data set
        arrays = official_layout()
        arrays["imgs"][:] = fill
        save_npz(cache_dir / DSPRITES_FILENAME, arrays)
        out = tmp_path / f"p{fill}.png"
        assert main(["data", "preview", "dsprites", "--out", str(out), "--columns", "2"]) == 0
        dark.append((matplotlib.image.imread(out)[..., :3].mean(-1) < 0.1).mean())
    assert dark[0] > 0.3 and dark[1] < 0.05


def test_preview_file_source_without_file_is_one_clear_line(cache_dir, tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["data", "preview", "dsprites", "--data-source", "file", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tcvae data download dsprites" in err[0] and not out.exists()


def test_factor_sweeps_vary_exactly_one_factor_end_to_end():
    grid = dsprites_grid()
    base = torch.tensor([0, 2, 5, 0, 3, 4])
    sweeps = factor_sweeps(grid, base, num_columns=7)
    assert [name for name, _ in sweeps] == ["shape", "scale", "orientation", "posX", "posY"]
    for name, classes in sweeps:
        k = grid.factor_index(name)
        others = [j for j in range(6) if j != k]
        assert torch.equal(classes[:, others], base[others].expand(len(classes), 5))
        assert classes[0, k] == 0 and classes[-1, k] == grid.sizes[k] - 1
        assert len(classes) == min(7, grid.sizes[k]) and bool(
            (classes[1:, k] > classes[:-1, k]).all()
        )
    with pytest.raises(DataError, match="at least 2 columns"):
        factor_sweeps(grid, base, num_columns=1)
