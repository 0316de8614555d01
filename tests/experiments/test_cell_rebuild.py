"""A sweep cell is what its run directory says: ``load_run(cell).dataset()`` rebuilds the images it
trained on, ``tcvae train --resume`` continues it bitwise, and a refused spec leaves no trace."""

import copy
import json

import pytest
import torch

from tcvae.cli.main import main
from tcvae.data import dsprites_grid, render_dsprites
from tcvae.errors import TcvaeError
from tcvae.experiments.cell import cell_config, train_cell
from tcvae.experiments.grid import expand_grid
from tcvae.experiments.spec import load_preset, parse_spec
from tcvae.experiments.sweep import SPEC_FILE, run_sweep
from tcvae.training import build_dataset, load_run, train
from tcvae.training import trainer as trainer_module

PRESETS = ["dependent-correlated", "dependent-excluded"]
# A coarser grid than the presets': 3 scales x 2 orientations x 8 x 8 positions x 3 shapes.
STRIDE = {"scale": 2, "orientation": 20, "posX": 4, "posY": 4}
STEPS = {"scale": 2, "orientation": 20, "posX": 4, "posY": 4, "shape": 1, "color": 1}
GRID_POINTS = 3 * 3 * 2 * 8 * 8
DRAWN = 300


def tiny_preset(name: str):
    """The preset shrunk to seconds, its kind of dependence kept: a coarser grid (the exclude
    rule rescaled to it), fewer drawn images, a small network and a few steps."""
    tree = copy.deepcopy(load_preset(name).raw)
    tree["grid"] |= {"methods": ["beta-vae"], "seeds": [0]}
    data = tree["data"]
    data["stride"] = STRIDE
    if "subset" in data:
        data["subset"] = DRAWN
    data["exclude"] = [
        {f: [lo // STRIDE[f], hi // STRIDE[f]] for f, (lo, hi) in rule.items()}
        for rule in data.get("exclude", [])
    ]
    tree["train"]["model"] |= {"hidden": 16, "latent_dim": 3}
    tree["train"]["optim"] |= {"batch_size": 64, "epochs": 3, "max_steps": 10}
    tree["train"]["run"] |= {"checkpoint_every": 5, "log_every": 1, "threads": 1}
    return parse_spec(tree, default_name=name)


def expected_classes(name: str) -> torch.Tensor | None:
    """The training points' classes on the coarse grid, by brute force; None for a random draw."""
    if name != "dependent-correlated":
        grid = dsprites_grid()
        sizes = [-(-n // STEPS[f]) for f, n in zip(grid.names, grid.sizes)]
        points = torch.cartesian_prod(*(torch.arange(n) for n in sizes))
        corner = (points[:, 4] >= 4) & (points[:, 5] >= 4)  # posX, posY in their upper half
        return points[~corner]
    return None


@pytest.mark.parametrize("name", PRESETS)
def test_a_cell_run_directory_rebuilds_the_data_it_trained_on(name, tmp_path, monkeypatch):
    spec = tiny_preset(name)
    trained = []

    def recording(config, progress=False):
        trained.append(build_dataset(config, progress))
        return trained[-1]

    monkeypatch.setattr(trainer_module, "build_dataset", recording)
    cell = expand_grid(spec)[0]
    run_dir = tmp_path / "cell"
    run_dir.mkdir()
    train_cell(spec, cell, run_dir)
    monkeypatch.undo()
    (seen,) = trained
    rebuilt = load_run(run_dir).dataset()

    assert len(rebuilt) == len(seen)
    assert rebuilt.grid.sizes == seen.grid.sizes and rebuilt.grid.names == seen.grid.names
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.grid.values, seen.grid.values))
    assert torch.equal(rebuilt.classes, seen.classes)
    assert torch.equal(rebuilt.images_uint8(), seen.images_uint8())
    # ... and that data is the preset's, against an independent account of it
    assert seen.grid.num_points == GRID_POINTS
    steps = torch.tensor([STEPS[f] for f in seen.grid.names])
    assert torch.equal(seen.images_uint8(), render_dsprites(seen.classes * steps))
    expected = expected_classes(name)
    if expected is None:
        assert len(seen) == DRAWN
        x, y = seen.classes[:, 4].double(), seen.classes[:, 5].double()
        assert torch.corrcoef(torch.stack([x, y]))[0, 1] > 0.5  # drawn with rho 0.75
    else:
        assert len(seen) == GRID_POINTS * 3 // 4 and torch.equal(seen.classes, expected)
    saved = json.loads((run_dir / "config.json").read_text())["data"]
    assert saved["stride"] == STRIDE and saved["exclude"] == spec.raw["data"]["exclude"]


@pytest.mark.parametrize("name", PRESETS)
def test_resuming_a_cell_from_the_cli_continues_it_bitwise(name, tmp_path):
    spec = tiny_preset(name)
    cell = expand_grid(spec)[0]
    whole = tmp_path / "whole"
    whole.mkdir()
    assert train_cell(spec, cell, whole).step == 10

    part = tmp_path / "part"
    first = cell_config(spec, cell, part)
    first.optim.max_steps = 5
    assert train(first).step == 5
    assert main(["train", "--resume", str(part), "--max-steps", "10", "-q"]) == 0

    a = torch.load(whole / "model.pt", weights_only=True)
    b = torch.load(part / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line)["step"] for line in (part / "train_log.jsonl").open()]
    assert log == list(range(1, 11))


def test_a_refused_spec_writes_nothing_and_its_correction_runs(tmp_path):
    tree = {
        "grid": {"methods": ["beta-vae"], "betas": [1], "seeds": [0]},
        "data": {"stride": STRIDE, "exclude": [{"posX": [4, 8]}]},  # posX has classes 0..7
        "train": {"optim": {"max_steps": 1}},
    }
    out = tmp_path / "sweep"
    with pytest.raises(TcvaeError, match=r"data\.exclude.*classes 0\.\.7"):
        run_sweep(parse_spec(tree), out)
    assert not out.exists() or not any(out.iterdir())
    # a cell function of one's own skips the training options, not the data's check
    with pytest.raises(TcvaeError, match=r"classes 0\.\.7"):
        run_sweep(parse_spec(tree), out, cell_fn=lambda cell, run_dir, context: {})
    assert not (out / SPEC_FILE).exists()

    tree["data"]["exclude"] = [{"posX": [4, 7]}]
    result = run_sweep(parse_spec(tree), out, cell_fn=lambda cell, run_dir, context: {"ok": 1})
    assert [o.status for o in result.outcomes] == ["done"] and (out / SPEC_FILE).is_file()
    assert result.data_info["train_images"] == GRID_POINTS // 2
