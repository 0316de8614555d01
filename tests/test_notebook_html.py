"""Runs, metric results and ELBO decompositions show themselves in Jupyter (``_repr_html_``)."""

import json
from html.parser import HTMLParser

import pytest
import torch

from tcvae.evaluation import decompose_elbo, mig
from tcvae.evaluation.dci import dci
from tcvae.evaluation.mig_discrete import mig_discrete
from tcvae.evaluation.mig_sup import mig_sup
from tcvae.evaluation.modularity import modularity_explicitness
from tcvae.evaluation.sap import sap
from tcvae.markup import format_value
from tcvae.training.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from tcvae.training.runs import load_run
from tcvae.training.trainer import train

NAMES = ["shape", "<script>alert(1)</script>", "pos & size"]
VOID = {"img", "br", "meta", "hr", "input"}
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"
)


class TagChecker(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def checked(document: str) -> str:
    """The text of a well-formed fragment (every element closed, in order)."""
    checker = TagChecker()
    checker.feed(document)
    checker.close()
    assert not checker.open, f"unclosed {checker.open}"
    assert "<script" not in document
    return "".join(checker.text)


@pytest.fixture(scope="module")
def codes():
    """Dims 0-2 encode three factors (3 x 4 x 5 grid, each point 4 times); dims 3-4 are noise."""
    g = torch.Generator().manual_seed(0)
    grid = torch.cartesian_prod(torch.arange(3), torch.arange(4), torch.arange(5)).repeat(4, 1)
    n = grid.shape[0]
    mean = torch.cat([grid / grid.amax(0) + 0.02 * torch.randn(n, 3, generator=g),
                      torch.randn(n, 2, generator=g)], 1)  # fmt: skip
    logvar = torch.full((n, 5), -4.0)
    return mean.double(), logvar.double(), grid


def test_a_mig_result_shows_its_score_per_factor_gaps_and_escapes_names(codes):
    mean, logvar, classes = codes
    result = mig(mean, logvar, classes, NAMES)
    document = result._repr_html_()
    text = checked(document)
    assert format_value(result.mig) in text
    for gap in result.gaps:
        assert format_value(float(gap)) in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document and "pos &amp; size" in document
    assert NAMES[1] in text and result.protocol in text


@pytest.mark.parametrize(
    "score",
    [
        lambda m, c: mig_discrete(m, c, NAMES),
        lambda m, c: mig_sup(m, c, NAMES),
        lambda m, c: sap(m, c, NAMES, num_train=150, num_test=90),
        lambda m, c: modularity_explicitness(m, c, NAMES, num_train=150, num_test=90),
        lambda m, c: dci(m, c, NAMES, protocol="fast", num_train=150, num_test=90, threads=1),
    ],
    ids=["mig-discrete", "mig-sup", "sap", "modularity", "dci-fast"],
)
def test_every_metric_result_shows_its_numbers(codes, score):
    mean, _, classes = codes
    result = score(mean, classes)
    text = checked(result._repr_html_())
    for key, value in result.to_dict().items():
        if isinstance(value, float):
            assert format_value(value) in text, key
    assert "pos & size" in text


def test_a_decomposition_shows_each_term_and_each_dimension(codes):
    mean, logvar, _ = codes
    parts = decompose_elbo(mean, logvar, samples=200).with_log_likelihood(-12.345678, 0.25)
    text = checked(parts._repr_html_())
    for value in (
        parts.index_code_mi,
        parts.index_code_mi_stderr,
        parts.total_correlation,
        parts.dimwise_kl,
        parts.kl_estimate,
        parts.analytic_kl,
        parts.log_likelihood,
        parts.elbo,
        *parts.dimwise_kl_per_dim,
        *parts.analytic_kl_per_dim,
    ):
        assert format_value(float(value)) in text
    assert "total correlation" in text and "z4" in text


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A two-step run in a directory whose name needs escaping."""
    run_dir = tmp_path_factory.mktemp("runs") / "run <b>&"
    config = TrainConfig(
        data=DataConfig(source="builtin", subset=64),
        model=ModelConfig(hidden=8, latent_dim=2),
        optim=OptimConfig(batch_size=32, max_steps=2),
        run=RunConfig(run_dir=str(run_dir), tensorboard=False, device="cpu", threads=1),
    )
    train(config, progress=False)
    return run_dir


def test_a_run_shows_its_status_settings_and_where_to_go_next(run_dir):
    run = load_run(run_dir)
    document = run._repr_html_()
    text = checked(document)
    assert "run &lt;b&gt;&amp;" in document and "run <b>&" in text
    assert run.status()["status"] == "max_steps"
    assert (
        "<td>max_steps</td>" in document
        and "<td>step</td>" in document
        and "beta-tcvae" in text
        and "model.pt" in text
    )
    assert "Not evaluated yet: tcvae evaluate" in text and "No report yet: tcvae report" in text


def test_a_run_shows_its_scores_and_the_reports_key_figures(run_dir, tmp_path):
    (run_dir / "metrics.json").write_text(
        json.dumps(
            {
                "run_dir": str(run_dir),
                "mig": {"protocol": "p", "mig": 0.123456, "mig_stderr": 0.0042, "seed": 0},
            }
        )  # fmt: skip
    )
    (run_dir / "report").mkdir()
    (run_dir / "report" / "traversals.png").write_bytes(PNG_1PX)
    (run_dir / "report.html").write_text("<html></html>")
    try:
        document = load_run(run_dir)._repr_html_()
    finally:
        (run_dir / "metrics.json").unlink()
        (run_dir / "report.html").unlink()
    text = checked(document)
    assert "mig.mig" in text and "0.1235" in text and "0.0042" in text
    assert "mig.seed" not in text  # settings are not scores
    assert document.count("<img ") == 1 and "data:image/png;base64," in document
    assert "traversals" in text and "The whole report" in text
