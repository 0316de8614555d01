"""The sentences that explain a MIG name the right factors and latents on constructed matrices."""

import numpy as np
import pytest

from tcvae.reports.explain import HOLDS, OWN_GAP, describe_mig, explain_mig

NAMES = ["scale", "orientation", "posX", "posY"]
ENTROPY = np.log([6.0, 40.0, 32.0, 32.0])


def mi(normalised):
    """I(z_j; v_k) in nats from a matrix of fractions of each factor's entropy."""
    return np.asarray(normalised, dtype=float) * ENTROPY[:, None]


def test_a_clean_diagonal_gives_every_factor_a_latent_of_its_own():
    sentences = describe_mig(mi(0.9 * np.eye(4, 5)), ENTROPY, NAMES, dataset="dsprites")
    assert sentences[0].startswith("MIG 0.9000 (range 0 to 1)")
    assert "0.30-0.37" in sentences[1] and sentences[1].startswith("For reference on dsprites")
    assert sentences[2] == (
        "scale, orientation, posX and posY have a latent of their own "
        f"(scale in z0, orientation in z1, posX in z2, posY in z3; gap >= {OWN_GAP:g})."
    )
    assert sentences[3] == "Latent z4 holds no factor named here."
    assert len(sentences) == 4


def test_two_factors_sharing_two_latents_are_named_with_both_latents():
    m = np.zeros((4, 8))
    m[0, 0] = m[1, 1] = 0.8
    m[2, [2, 7]] = [0.40, 0.35]
    m[3, [2, 7]] = [0.30, 0.45]
    sentences = describe_mig(mi(m), ENTROPY, NAMES, kl_per_dim=[2, 2, 2, 0.01, 0.0, 1, 0.02, 2])
    assert "For reference" not in " ".join(sentences)  # no data set named
    assert "scale and orientation have a latent of their own" in sentences[1]
    assert "posX and posY share latents z2 and z7." in sentences
    assert "Latents z3, z4 and z6 are inactive (KL < 0.05 nats)." in sentences
    assert "Latent z5 is active but holds no factor named here." in sentences


def test_a_dead_factor_and_a_spread_one_are_told_apart():
    m = np.zeros((4, 5))
    m[0, 0] = m[2, 2] = m[3, 3] = 0.7
    m[1, 4] = 0.5 * HOLDS  # orientation: below the threshold everywhere
    sentences = describe_mig(mi(m), ENTROPY, NAMES)
    assert "No latent holds a tenth of the entropy of orientation." in sentences
    assert "Latents z1 and z4 hold no factor named here." in sentences
    m[1, [1, 4]] = [0.3, 0.25]  # now orientation is spread over two latents, no clear winner
    assert "orientation is spread over latents z1 and z4 (gap 0.05)." in describe_mig(
        mi(m), ENTROPY, NAMES
    )
    m[1, [1, 4]] = [0.15, 0.0]  # one latent holds it, but weakly
    assert "orientation is held only weakly by z1 (gap 0.15 < 0.2)." in describe_mig(
        mi(m), ENTROPY, NAMES
    )


def test_sharing_is_transitive_through_a_chain_of_latents():
    m = np.zeros((4, 4))
    m[0, 0] = 0.9
    m[1, [1, 2]] = [0.3, 0.3]
    m[2, [2, 3]] = [0.3, 0.3]
    m[3, [3, 1]] = [0.3, 0.3]
    sentences = describe_mig(mi(m), ENTROPY, NAMES)
    assert "orientation, posX and posY share latents z1, z2 and z3." in sentences


def test_explain_reads_a_metrics_dict_and_skips_a_missing_mig():
    assert explain_mig({"mig": None, "dataset": "dsprites"}) == []
    metrics = {
        "dataset": "dsprites",
        "mig": {
            "mutual_information": mi(0.9 * np.eye(4, 4)).tolist(),
            "factor_entropy": ENTROPY.tolist(),
            "factor_names": NAMES,
        },
        "decomposition": {"analytic_kl_per_dim": [1.0, 1.0, 1.0, 1.0]},
    }
    sentences = explain_mig(metrics)
    assert sentences[0].startswith("MIG 0.9000") and len(sentences) == 3
    assert sentences[-1].endswith(f"gap >= {OWN_GAP:g}).")
    assert float(sentences[0].split()[1]) == pytest.approx(0.9)
