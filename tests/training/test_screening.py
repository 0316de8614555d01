"""Restart screening (--screen): every candidate is scored by its full-data total correlation,
the lowest go on round by round, and the kept run is exactly the plain run of its seed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from tcvae.cli.main import main
from tcvae.experiments import screening
from tcvae.reports.run_report import _screening_section
from tcvae.training import load_run
from tcvae.training import train as train_one
from tcvae.training.config import ConfigError, OptimConfig
from tcvae.training.runs import SCREENING_FILE, read_config, read_run_json

# Batch 64: 4 candidates scored after 2 steps, the best 2 again after 4, the lower trained to 6.
SCREEN = {"screen": [4, 2], "screen_images": [100, 200], "max_steps": 6}


def weights(run_dir):
    return load_run(run_dir).model.state_dict()


def same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    from tests.training.conftest import single_thread, tiny_config

    with single_thread():
        config = tiny_config(tmp_path_factory.mktemp("screened") / "run", **SCREEN)
        config.run.threads = 1  # fixed, so bitwise comparisons hold under any load on any CPU
        return screening.train(config)


def test_each_round_keeps_the_lowest_full_data_tc(screened):
    record = read_run_json(screened.run_dir / SCREENING_FILE)
    candidates = record["candidates"]
    assert [c["seed"] for c in candidates] == [0, 1000, 2000, 3000]
    first = {c["index"]: c["scores"][0]["total_correlation"] for c in candidates}
    assert all(c["scores"][0]["steps"] == 2 for c in candidates)
    # The two lowest of round 1 (and only they) were trained on to 4 steps and scored again.
    went_on = sorted(first, key=lambda k: (first[k], k))[:2]
    assert sorted(c["index"] for c in candidates if len(c["scores"]) == 2) == sorted(went_on)
    second = {c["index"]: c["scores"][1] for c in candidates if len(c["scores"]) == 2}
    assert all(s["steps"] == 4 and s["images_seen"] == 256 for s in second.values())
    assert record["kept"] == min(second, key=lambda k: (second[k]["total_correlation"], k))
    # Each recorded TC is the candidate's, recomputed here from its own final weights and data.
    for c in candidates:
        run = load_run(screened.run_dir / c["run_dir"])
        terms = screening.full_data_terms(run.model, run.dataset(), "normal")
        assert c["scores"][-1]["total_correlation"] == terms.total_correlation
    kept_seed = candidates[record["kept"]]["seed"]
    assert screened.config.run.seed == kept_seed and screened.step == 6
    assert read_config(screened.run_dir).optim.screen is None


def test_the_kept_run_equals_the_plain_run_of_its_seed(screened, make_config):
    """Screening changes which seed is trained, never how: the kept run, continued from its
    screening checkpoint, ends bitwise equal to that seed trained in one go."""
    plain = make_config("plain", max_steps=6)
    plain.run.seed, plain.run.threads = screened.config.run.seed, 1
    run = train_one(plain)
    assert same(weights(screened.run_dir), weights(run.run_dir))
    history = [r["loss"] for r in screened.history]
    assert history == [r["loss"] for r in run.history]  # the log runs on from the screening's


def test_an_interrupted_screening_resumes_to_the_same_run(screened, make_config, monkeypatch):
    calls = []
    score = screening.full_data_terms

    def crash_on_fifth(*args, **kwargs):  # in round 2, after its first candidate trained on
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return score(*args, **kwargs)

    monkeypatch.setattr(screening, "full_data_terms", crash_on_fifth)
    config = make_config("crashed", **SCREEN)
    config.run.threads = 1
    with pytest.raises(KeyboardInterrupt):
        screening.train(config)
    run_dir = Path(config.run.run_dir)
    scores = [len(c["scores"]) for c in read_run_json(run_dir / SCREENING_FILE)["candidates"]]
    assert sorted(scores) == [1, 1, 1, 1]
    monkeypatch.setattr(screening, "full_data_terms", score)
    assert main(["train", "--resume", str(run_dir), "-q"]) == 0  # the CLI reads screening.json
    assert same(weights(run_dir), weights(screened.run_dir))
    timings = {"seconds": 0, "round_seconds": 0, "config": 0}
    resumed = read_run_json(run_dir / SCREENING_FILE) | timings
    assert resumed == read_run_json(screened.run_dir / SCREENING_FILE) | timings


def test_a_finished_screening_trains_on_when_resumed_with_its_request(screened, make_config):
    """The request a screening was started with, given again with resume and a longer run,
    trains the kept run on (it is that seed's run); changing a setting a resume may not change
    is refused by name."""
    config = make_config("continued", **SCREEN)
    shutil.copytree(screened.run_dir, config.run.run_dir)
    config.run.threads, config.optim.max_steps = 1, 8
    run = screening.train(config, resume=config.run.run_dir)
    assert run.step == 8 and run.config.run.seed == screened.config.run.seed
    plain = make_config("plain-8", max_steps=8)
    plain.run.seed, plain.run.threads = screened.config.run.seed, 1
    assert same(weights(run.run_dir), weights(train_one(plain).run_dir))
    config.optim.lr *= 2
    with pytest.raises(ConfigError, match=r"optim.lr \(--lr\) 0.001 -> 0.002"):
        screening.train(config, resume=config.run.run_dir)


def test_the_report_lists_every_candidate_and_the_kept_one(screened):
    html = _screening_section(screened.run_dir)
    assert all(f'<td class="num">{seed}</td>' in html for seed in (0, 1000, 2000, 3000))
    assert html.count(">kept<") == 1 and "no factor labels" in html
    assert "4 at 100 images, then 2 at 200 images" in html
    assert _screening_section(screened.run_dir / "candidates" / "seed-0") == ""


def test_the_one_run_trainer_refuses_to_screen(make_config):
    with pytest.raises(ConfigError, match=r"--screen\) is set: .* call tcvae.train"):
        train_one(make_config(**SCREEN))


@pytest.mark.parametrize(
    ("screen", "images", "message"),
    [
        ([0], [100], "the first >= 2"),
        ([4, 4], [100, 200], "each smaller than the one before"),
        ([4, 2], [200, 100], "2 increasing image count"),
        ([4, 2], [100], "2 increasing image count"),
        ([4], None, "1 increasing image count"),
        (None, [100], "set without --screen"),
    ],
)
def test_bad_screening_settings_are_refused_by_name(screen, images, message):
    """(And one candidate is no screening, so --screen 1 turns a preset's off.)"""
    assert OptimConfig(screen=[1], screen_images=[100]).screen_images is None
    with pytest.raises(ConfigError, match=message):
        OptimConfig(screen=screen, screen_images=images)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"screen": [4], "screen_images": [100], "screen_tc_max": 0.2}, "two or more"),
        ({"screen": [4, 2], "screen_images": [100, 200], "screen_tc_max": -0.1}, "nats"),
        ({"screen_tc_max": 0.2}, "set without --screen"),
    ],
)
def test_bad_widening_settings_are_refused_by_name(settings, message):
    with pytest.raises(ConfigError, match=message):
        OptimConfig(**settings)


def test_a_last_round_widens_only_above_the_threshold_with_candidates_and_time_left():
    assert screening.widen(0.3, 0.2, 2, 8, None, 100.0)
    assert screening.widen(0.3, 0.2, 2, 8, 150.0, 100.0)  # the widening, and half as long again
    assert not screening.widen(0.2, 0.2, 2, 8, None, 100.0)  # at the threshold: kept
    assert not screening.widen(0.3, 0.2, 8, 8, None, 100.0)  # none left in the round before
    assert not screening.widen(0.3, 0.2, 2, 8, 149.0, 100.0)  # too little left for the kept run


def test_a_last_round_above_the_threshold_takes_in_the_next_ranked(screened, make_config):
    """With every round-2 TC above the threshold, the two candidates ranked 3rd and 4th in
    round 1 train to round 2's count as well (the same runs as in the plain screening), and
    the lowest of all four at round 2 is kept."""
    full = read_run_json(screened.run_dir / SCREENING_FILE)
    second = [
        c["scores"][1]["total_correlation"] for c in full["candidates"] if len(c["scores"]) > 1
    ]
    assert min(second) > 0  # so a threshold of 0 widens
    config = make_config("widened", **SCREEN, screen_tc_max=0.0)
    config.run.threads = 1
    run = screening.train(config)
    record = read_run_json(run.run_dir / SCREENING_FILE)
    assert [c["scores"][0] for c in record["candidates"]] == [
        c["scores"][0] for c in full["candidates"]
    ]
    assert all(len(c["scores"]) == 2 and c["scores"][1]["steps"] == 4 for c in record["candidates"])
    for c, f in zip(record["candidates"], full["candidates"]):
        if len(f["scores"]) == 2:  # the plain screening's round 2, unchanged
            assert c["scores"][1] == f["scores"][1]
    tc = {c["index"]: c["scores"][1]["total_correlation"] for c in record["candidates"]}
    assert record["kept"] == min(tc, key=lambda k: (tc[k], k))
    assert len(record["round_seconds"]) == 3  # round 1, round 2, its widening
    assert run.config.run.seed == record["candidates"][record["kept"]]["seed"] and run.step == 6
    assert "above 0 nats, so the next-ranked of round 1 joined it (4 candidates in all)" in (
        _screening_section(run.run_dir)
    )


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
    """The screening of ``screened`` on two threads: candidates train two at a time, one thread
    each, in their own processes; the kept run trains on with both threads."""
    from tests.training.conftest import tiny_config

    config = tiny_config(tmp_path_factory.mktemp("side-by-side") / "run", **SCREEN)
    config.run.threads = 2
    return screening.train(config)


def test_candidates_trained_side_by_side_are_the_plain_runs_of_their_seeds(
    side_by_side, screened, make_config
):
    """Two at a time, one thread each: each candidate is exactly its seed's one-thread run, so
    the same candidates go on and the same one is kept as when they train one after another."""
    record = read_run_json(side_by_side.run_dir / SCREENING_FILE)
    serial = read_run_json(screened.run_dir / SCREENING_FILE)
    assert record["kept"] == serial["kept"]
    assert all(s["side_by_side"] == 2 for c in record["candidates"] for s in c["scores"])
    for c in record["candidates"]:
        plain = make_config(f"plain-{c['seed']}", max_steps=c["scores"][-1]["steps"])
        plain.run.seed, plain.run.threads = c["seed"], 1
        run = train_one(plain)
        assert same(weights(side_by_side.run_dir / c["run_dir"]), weights(run.run_dir))
    # The kept run trains on with every thread: it is its seed's run, resumed on two threads.
    kept = record["candidates"][record["kept"]]
    assert side_by_side.config.run.threads == 2 and side_by_side.step == 6
    assert read_config(side_by_side.run_dir).run.threads == 2
    plain = make_config("plain-kept", max_steps=4)
    plain.run.seed, plain.run.threads = kept["seed"], 1
    train_one(plain)
    plain.run.threads, plain.optim.max_steps = 2, 6
    resumed = train_one(plain, resume=plain.run.run_dir)
    assert same(weights(side_by_side.run_dir), weights(resumed.run_dir))


def test_a_stop_signal_reaches_candidates_side_by_side_and_resume_finishes(
    side_by_side, make_config
):
    """SIGTERM to the screening process stops the candidates training in their own processes
    (they checkpoint), starts no more, and --resume ends where the uninterrupted screening did."""
    config = make_config("stopped", **SCREEN)
    config.run.threads = 2
    candidates = Path(config.run.run_dir) / "candidates"

    def stop_once_a_candidate_trains():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(candidates.glob("*/config.json")):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_once_a_candidate_trains, daemon=True).start()
    run = screening.train(config)
    assert run.status == "interrupted" and run.signal == signal.SIGTERM
    record = read_run_json(Path(config.run.run_dir) / SCREENING_FILE)
    assert record["kept"] is None
    assert all(c["seed"] == 1000 * c["index"] and c["scores"] for c in record["candidates"])
    assert main(["train", "--resume", config.run.run_dir, "-q"]) == 0
    assert same(weights(config.run.run_dir), weights(side_by_side.run_dir))


def test_a_round_starts_only_while_the_time_budget_lasts(screened, make_config):
    """Out of time after round 1, the screening keeps round 1's lowest (and says so) rather than
    run past the budget; the candidates it trained are those of the full screening."""
    config = make_config("hurried", **SCREEN, max_minutes=1e-6)
    config.run.threads = 1
    run = screening.train(config)
    record = read_run_json(run.run_dir / SCREENING_FILE)
    full = read_run_json(screened.run_dir / SCREENING_FILE)
    first = [c["scores"][0] for c in full["candidates"]]
    assert [c["scores"] for c in record["candidates"]] == [[f] for f in first]
    assert record["rounds_scored"] == 1
    assert record["kept"] == min(range(4), key=lambda k: (first[k]["total_correlation"], k))
    assert "ran out after round 1" in _screening_section(run.run_dir)


def test_an_error_in_a_side_by_side_candidate_is_reported_by_name(make_config):
    """A candidate that fails in its own process (here: a batch larger than the training set)
    stops the screening with the candidate's own message, as it would one after another."""
    config = make_config("too-big", screen=[2], screen_images=[1024], batch_size=512)
    config.run.threads = 2
    with pytest.raises(
        screening.ScreeningError, match=r"seed (0|1000): .*larger than the training set"
    ):
        screening.train(config)


# A stand-in worker: it answers one candidate with a made-up score, then exits.
ONE_SHOT = """
import json, os, sys
from pathlib import Path
job = Path(sys.stdin.readline().strip())
out = job.with_suffix(".tmp")
out.write_text(json.dumps({"status": "max_steps", "step": 2, "terms": [1.0, 0.5, 0.01, 0.2]}))
os.replace(out, job.with_suffix(".out"))
"""


def test_a_worker_that_dies_between_candidates_is_reported_by_name(monkeypatch):
    """Workers train one candidate after another; one gone before its next candidate stops the
    screening with a ScreeningError naming that candidate, not a broken pipe."""
    started = []

    def one_shot_worker():
        started.append(
            subprocess.Popen([sys.executable, "-c", ONE_SHOT], stdin=subprocess.PIPE, text=True)
        )
        return started[-1]

    monkeypatch.setattr(screening, "_start_worker", one_shot_worker)
    jobs = {k: {"run": {"seed": 1000 * k}} for k in range(3)}
    outcomes = []
    with pytest.raises(screening.ScreeningError, match=r"candidate seed 2000: .*exit"):
        for k, outcome in screening._train_candidates(jobs, 2, False, {}):
            outcomes.append((k, outcome["terms"][1]))
    # The first to finish is reported; the other may still be running when the third fails.
    assert outcomes and set(outcomes) <= {(0, 0.5), (1, 0.5)}
    assert len(started) == 2  # the third candidate went to a worker that had trained one
    assert all(worker.poll() is not None for worker in started)  # none outlives the screening


@pytest.mark.parametrize("tc_max,says", [(0.0, True), (1e9, False)])
def test_the_report_says_when_the_clock_stopped_a_widening(screened, tmp_path, tc_max, says):
    """A kept run whose TC is above --screen-tc-max with candidates left to widen with was
    kept because the clock ran short; the report says so (and says nothing below it)."""
    record = read_run_json(screened.run_dir / SCREENING_FILE)
    record["config"]["optim"]["screen_tc_max"] = tc_max
    (tmp_path / SCREENING_FILE).write_text(json.dumps(record))
    said = "the time budget left too little to widen round 2 further" in _screening_section(
        tmp_path
    )
    assert said == says
