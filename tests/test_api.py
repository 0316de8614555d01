"""`import tcvae` is enough for the README tour; internals stay in their sub-packages."""

import tcvae

TOUR = [
    "train",
    "resolve_config",
    "load_run",
    "load_dataset",
    "build_dataset",
    "encode_dataset",
    "mig",
    "mig_discrete",
    "decompose_elbo",
    "compute_loss",
    "elbo_terms",
    "index_code_mi",
    "total_correlation",
    "dimwise_kl",
]


def test_the_tour_names_are_exported_from_the_package():
    for name in TOUR:
        assert callable(getattr(tcvae, name)), name
    assert set(TOUR) <= set(tcvae.__all__)
    assert all(hasattr(tcvae, name) for name in tcvae.__all__)


def test_internals_stay_in_their_sub_packages():
    for name in ("log_weights", "mss_log_weights", "estimate_log_qz"):
        assert not hasattr(tcvae, name), name
