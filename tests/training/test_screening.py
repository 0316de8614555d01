"""Restart screening (--screen K): every candidate is scored by its full-data total correlation,
the lowest is kept, and the kept run is exactly the plain run of its seed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tcvae.cli.main import main
from tcvae.experiments import screening
from tcvae.reports.run_report import _screening_section
from tcvae.training import load_run
from tcvae.training import train as train_one
from tcvae.training.config import ConfigError
from tcvae.training.runs import SCREENING_FILE, read_config, read_run_json

# 3 candidates of 2 steps each (batch 64), the kept one trained on to 6 steps.
SCREEN = {"screen": 3, "screen_images": 100, "max_steps": 6}


def weights(run_dir):
    return load_run(run_dir).model.state_dict()


def same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    from tests.training.conftest import single_thread, tiny_config

    with single_thread():
        config = tiny_config(tmp_path_factory.mktemp("screened") / "run", **SCREEN)
        return screening.train(config)


def test_the_lowest_full_data_tc_is_kept_from_every_candidate(screened):
    record = read_run_json(screened.run_dir / SCREENING_FILE)
    candidates = record["candidates"]
    assert [c["seed"] for c in candidates] == [0, 1000, 2000]
    assert all(c["steps"] == 2 and c["images_seen"] == 128 for c in candidates)
    # Each recorded TC is the candidate model's, recomputed here from its own weights and data.
    for c in candidates:
        run = load_run(screened.run_dir / c["run_dir"])
        terms = screening.full_data_terms(run.model, run.dataset(), "normal")
        assert c["total_correlation"] == terms.total_correlation
    tcs = [c["total_correlation"] for c in candidates]
    assert record["kept"] == tcs.index(min(tcs))
    kept_seed = candidates[record["kept"]]["seed"]
    assert screened.config.run.seed == kept_seed and screened.step == 6
    assert read_config(screened.run_dir).optim.screen == 1


def test_the_kept_run_equals_the_plain_run_of_its_seed(screened, make_config):
    """Screening changes which seed is trained, never how: the kept run, continued from its
    screening checkpoint, ends bitwise equal to that seed trained in one go."""
    plain = make_config("plain", max_steps=6)
    plain.run.seed = screened.config.run.seed
    run = train_one(plain)
    assert same(weights(screened.run_dir), weights(run.run_dir))
    history = [r["loss"] for r in screened.history]
    assert history == [r["loss"] for r in run.history]  # the log runs on from the screening's


def test_an_interrupted_screening_resumes_to_the_same_run(screened, make_config, monkeypatch):
    calls = []
    score = screening.full_data_terms

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return score(*args, **kwargs)

    monkeypatch.setattr(screening, "full_data_terms", crash_on_second)
    config = make_config("crashed", **SCREEN)
    with pytest.raises(KeyboardInterrupt):
        screening.train(config)
    run_dir = Path(config.run.run_dir)
    assert len(read_run_json(run_dir / SCREENING_FILE)["candidates"]) == 1
    monkeypatch.setattr(screening, "full_data_terms", score)
    assert main(["train", "--resume", str(run_dir), "-q"]) == 0  # the CLI reads screening.json
    assert same(weights(run_dir), weights(screened.run_dir))
    again = read_run_json(run_dir / SCREENING_FILE)
    assert again["kept"] == read_run_json(screened.run_dir / SCREENING_FILE)["kept"]


def test_the_report_lists_every_candidate_and_the_kept_one(screened):
    html = _screening_section(screened.run_dir)
    assert all(f"<td class=\"num\">{seed}</td>" in html for seed in (0, 1000, 2000))
    assert html.count(">kept<") == 1 and "no factor labels" in html
    assert _screening_section(screened.run_dir / "candidates" / "seed-0") == ""


def test_the_one_run_trainer_refuses_to_screen(make_config):
    with pytest.raises(ConfigError, match=r"--screen\) is 3: .* call tcvae.train"):
        train_one(make_config(**SCREEN))
