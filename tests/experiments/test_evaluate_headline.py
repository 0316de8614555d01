import pytest

from tcvae.experiments.cell import evaluation_options, headline_metrics
from tcvae.experiments.spec import SpecError


def test_headline_carries_the_suite_metrics_a_cell_computed():
    results = {
        "points": 96,
        "mig_discrete": {"mig_discrete": 0.2},
        "dci": {"disentanglement": 0.5, "completeness": 0.4, "informativeness": 0.8},
        "modularity_explicitness": {"modularity": 0.7, "explicitness": 0.9},
    }
    row = headline_metrics(results)
    assert row == {
        "eval_points": 96,
        "mig_discrete": 0.2,
        "dci_disentanglement": 0.5,
        "dci_completeness": 0.4,
        "dci_informativeness": 0.8,
        "modularity": 0.7,
        "explicitness": 0.9,
    }


def test_sample_counts_are_spec_options():
    options = evaluation_options({"metrics": ["all"], "num_train": 500})
    assert options["num_train"] == 500 and options["num_test"] == 5_000
    with pytest.raises(SpecError, match="num_trains"):
        evaluation_options({"num_trains": 5})
    with pytest.raises(SpecError, match="unknown metric.*'mgi'"):
        evaluation_options({"metrics": ["mgi"]})
