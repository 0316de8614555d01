import json
from dataclasses import dataclass

import pytest
from threadpoolctl import threadpool_limits

from tcvae.cli.main import main
from tcvae.evaluation.results import result_dict

TINY = ["--data-source", "builtin", "--subset", "128", "--hidden", "16", "--latent-dim", "3"]
TINY += ["--batch-size", "32", "--device", "cpu", "--no-tensorboard", "-q", "--epochs", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaluate") / "run"
    assert main(["train", *TINY, "--out", str(d)]) == 0
    return d


def test_evaluate_writes_metrics_and_prints_a_table(run_dir, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--samples", "300", "-q"]) == 0
    out = capsys.readouterr().out
    assert "MIG (paper protocol)" in out and "total correlation" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["points"] == 128 and metrics["dataset"] == "dsprites"
    dec = metrics["decomposition"]
    assert dec["samples"] == 300 and dec["elbo"] == pytest.approx(
        dec["log_likelihood"] - dec["analytic_kl"]
    )
    assert abs(dec["kl_estimate"] - dec["analytic_kl"]) < 5 * dec["kl_estimate_stderr"] + 1e-3
    assert metrics["mig"]["factor_names"] == ["scale", "orientation", "posX", "posY"]
    assert len(metrics["mig"]["mutual_information"][0]) == 3
    # the printed table shows the numbers written to metrics.json
    assert f"{metrics['mig_discrete']['mig_discrete']:.4f}" in out
    assert f"{dec['total_correlation']:.4f}" in out and f"{metrics['mig']['mig']:.4f}" in out
    assert "What the MIG says:" in out and "(range 0 to 1)" in out


def test_metric_subset_and_monte_carlo(run_dir):
    argv = ["evaluate", str(run_dir), "--metrics", "mig", "--entropy-estimator", "monte-carlo"]
    assert main([*argv, "--samples", "200", "--factors", "posX,posY", "-q"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"run_dir", "dataset", "points", "mig"}
    assert metrics["mig"]["entropy_estimator"] == "monte-carlo" and metrics["mig"]["samples"] == 200


def test_errors_are_one_line(run_dir, tmp_path, capsys):
    assert main(["evaluate", str(run_dir), "--metrics", "mig", "--factors", "hue"]) == 2
    err = capsys.readouterr().err
    assert "unknown factor 'hue'" in err and "Traceback" not in err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2


def test_all_metrics_are_written_and_labelled(run_dir, capsys):
    from tcvae.evaluation.run import METRICS

    argv = ["evaluate", str(run_dir), "--metrics", "all", "--samples", "200", "-q"]
    # two factors with few classes keep the boosted trees (one per class and stage) cheap
    argv += ["--factors", "shape,scale", "--num-train", "100", "--num-test", "60"]
    with threadpool_limits(limits=1, user_api="openmp"):  # see test_dci.FEW
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "DCI disentanglement (fast)" in out and "MIG-sup" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"run_dir", "dataset", "points", *(m.section for m in METRICS)}
    for metric in METRICS:
        if metric.name != "decomposition":
            assert metrics[metric.section]["protocol"], metric.name
    assert metrics["dci"]["protocol"] != metrics["dci_fast"]["protocol"]
    assert metrics["dci"]["num_train"] == 100 and metrics["sap"]["num_test"] == 60
    assert metrics["dci"]["factor_names"] == ["shape", "scale"] == metrics["sap"]["factor_names"]
    lines = out.splitlines()
    for metric in METRICS:  # every score is printed beside its own label
        for score in metric.scores:
            value = metrics[metric.section][score.key]
            shown = [line for line in lines if line.startswith(score.label + " ")]
            assert shown and f"{value:.4f}" in shown[0], score.label


@dataclass(frozen=True)
class Spread:
    """A made-up metric's result: the spread of the posterior means."""

    spread: float
    protocol: str = "standard deviation of every posterior mean"

    def to_dict(self) -> dict:
        return result_dict(self)


def test_a_metric_added_to_the_table_reaches_the_cli_the_sweep_and_the_report(
    run_dir, monkeypatch, capsys
):
    from tcvae.evaluation import run as evaluation
    from tcvae.experiments.cell import evaluation_options, headline_metrics
    from tcvae.reports.run_report import _metrics_section, headline_numbers

    score = evaluation.Score("spread", "spread of the means", "spread")
    spread = evaluation.Metric(
        "spread", "mean_spread", lambda x: Spread(float(x.mean.std())), (score,), "how wide"
    )
    monkeypatch.setattr(evaluation, "METRICS", (*evaluation.METRICS, spread))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "spread         how wide" in capsys.readouterr().out
    assert main(["evaluate", str(run_dir), "--metrics", "spread", "-q"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    value = metrics["mean_spread"]["spread"]
    assert f"spread of the means  {value:.4f}" in capsys.readouterr().out
    assert evaluation_options({"metrics": ["spread"]})["metrics"] == ["spread"]
    assert headline_metrics(metrics) == {"eval_points": 128, "spread": value}
    assert headline_numbers(metrics) == {"spread of the means": (value, None)}
    assert "spread of the means" in _metrics_section(metrics)
    assert "how wide" in _metrics_section(metrics) and Spread.protocol in _metrics_section(metrics)
    monkeypatch.undo()
    with pytest.raises(SystemExit):
        main(["evaluate", str(run_dir), "--metrics", "spread"])
    assert "unknown metric(s) ['spread']" in capsys.readouterr().err
