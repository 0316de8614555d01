"""The report of a run directory: every section, every figure, both MIG protocols, and a page
that a real browser renders with every image loaded."""

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tcvae.cli.main import main
from tcvae.errors import CorruptFileError
from tcvae.objectives import ObjectiveConfig
from tcvae.reports import run_report
from tcvae.training import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig, train

SECTIONS = (
    "Summary",
    "Metrics",
    "ELBO decomposition",
    "Factors and latents",
    "Latent traversals",
    "Reconstructions and samples",
    "Training curves",
    "KL per latent dimension",
    "Configuration",
)
FIGURES = {
    "traversals",
    "reconstructions",
    "prior_samples",
    "kl_per_dim",
    "mutual_information",
    "latent_vs_factors",
    "training_loss",
    "training_decomposition",
    "decomposition",
}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A beta-TCVAE trained for 12 steps on 256 built-in dSprites images, not yet evaluated."""
    run_dir = tmp_path_factory.mktemp("report") / "run"
    config = TrainConfig(
        data=DataConfig(name="dsprites", source="builtin", subset=256),
        model=ModelConfig(arch="mlp", latent_dim=4, hidden=32),
        objective=ObjectiveConfig(method="beta-tcvae", beta=6.0, estimator="mss"),
        optim=OptimConfig(lr=1e-3, batch_size=64, epochs=3),
        run=RunConfig(run_dir=str(run_dir), device="cpu", log_every=2, tensorboard=False),
    )
    train(config)
    return run_dir


@pytest.fixture(scope="module")
def reported_run(trained_run) -> Path:
    """The run after `tcvae report`, which evaluates it first since metrics.json is missing."""
    assert not (trained_run / "metrics.json").exists()
    assert main(["report", str(trained_run), "-q"]) == 0
    assert (trained_run / "metrics.json").is_file()
    return trained_run


def test_section_reads_only_computed_sections():
    tree = {"mig": {"mig": 0.5, "mutual_information": [[1]]}, "mig_discrete": None, "seed": 3}
    assert run_report.section(tree, "mig")["mig"] == 0.5
    assert run_report.section(tree, "mig_discrete") is None
    assert run_report.section(tree, "seed") is None
    assert run_report.section(tree, "absent") is None


def test_report_has_every_section_figure_and_number(reported_run):
    page = (reported_run / "report.html").read_text(encoding="utf-8")
    figures = {p.stem: p for p in (reported_run / "report").glob("*.png")}
    assert set(figures) == FIGURES
    for path in figures.values():
        assert path.stat().st_size > 1000
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page
    metrics = json.loads((reported_run / "metrics.json").read_text())
    assert f"paper protocol): {metrics['mig']['mig']:.4f}" in page
    # the summary says what the MIG means for this run (tcvae.reports.explain)
    assert f"MIG {metrics['mig']['mig']:.4f} (range 0 to 1)" in page
    assert f"disentanglement_lib protocol): {metrics['mig_discrete']['mig_discrete']:.4f}" in page
    tc = metrics["decomposition"]["total_correlation"]
    assert f">{tc:.4g}<" in page
    hardware = json.loads((reported_run / "status.json").read_text())["hardware"]
    assert f"Trained on cpu, {hardware['precision']}, {hardware['threads']} thread" in page
    # every figure is embedded (data URI), byte for byte the PNG written beside the page
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(sources) == len(FIGURES) == page.count("<img ")
    embedded = {base64.b64decode(s) for s in sources}
    assert embedded == {p.read_bytes() for p in figures.values()}
    assert not re.search(r'(?:src|href)="(?!data:|#)', page), "the page links outside itself"
    # the training log's decomposition is labelled as what it is: minibatch MSS estimates
    assert "minibatch estimates of its three terms by stratified sampling (MSS" in page


def test_missing_metrics_without_evaluation_say_how(trained_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run, run_dir, ignore=shutil.ignore_patterns("metrics.json"))
    with pytest.raises(run_report.ReportError, match=f"tcvae evaluate {run_dir}"):
        run_report.write_report(run_dir, evaluate=False)
    assert main(["report", str(run_dir), "--no-evaluate"]) == 2


def test_a_corrupt_metrics_file_is_reported_as_corrupt(tmp_path):
    (tmp_path / "metrics.json").write_text('{"mig": ')
    with pytest.raises(CorruptFileError, match="evaluate again for metrics.json"):
        run_report.read_metrics(tmp_path)
    assert run_report.read_metrics(tmp_path / "elsewhere") is None


def test_report_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tcvae report: error:") and "config.json" in err and "\n" not in err


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(reported_run, tmp_path):
    binary = chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    url = (reported_run / "report.html").resolve().as_uri()

    def browse(*args: str) -> subprocess.CompletedProcess:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=120,
        )

    dom = browse("--virtual-time-budget=10000", "--dump-dom").stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "chromium returned no document"
    assert 'data-images-ok="true"' in body.group(1), body.group(1)
    assert f'data-images="{len(FIGURES)}"' in body.group(1)
    metrics = json.loads((reported_run / "metrics.json").read_text())
    assert f"{metrics['mig']['mig']:.4f}" in dom
    assert f"{metrics['mig_discrete']['mig_discrete']:.4f}" in dom

    shot = tmp_path / "report.png"
    browse("--window-size=1200,4000", f"--screenshot={shot}")
    assert shot.is_file() and shot.stat().st_size > 10_000
    artifacts = os.environ.get("TCVAE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "report-screenshot.png")


def test_suite_metrics_present_in_metrics_json_get_a_row_with_range_and_meaning():
    metrics = {
        "dci_fast": {
            "protocol": "dci-fast (histogram boosting)",
            "disentanglement": 0.61,
            "completeness": 0.52,
            "informativeness": 0.9,
        },
        "sap": {"protocol": "sap (1-D LinearSVC)", "sap": 0.27},
    }
    numbers = run_report.headline_numbers(metrics)
    assert numbers["DCI disentanglement (fast)"] == (0.61, None) and numbers["SAP"] == (0.27, None)
    assert not any("reference" in label or "BetaVAE" in label for label in numbers)
    section = run_report._metrics_section(metrics)
    assert "DCI completeness (fast)" in section and "dci-fast (histogram boosting)" in section
    assert "perfect codes reach ~0.3-0.5" in section and "0.27" in section
    assert "BetaVAE" not in section and "MIG-sup" not in section
