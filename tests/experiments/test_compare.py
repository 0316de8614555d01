"""The comparison figures and page, from a synthetic summary with known medians and bands."""

import json

import numpy as np
import pytest

from tcvae.experiments.compare import (
    CompareError,
    band_over_seeds,
    compare_sweep,
    comparison_table,
    mig_advantage,
)


def synthetic_rows():
    rows = []
    for method, slope in (("beta-vae", 0.01), ("beta-tcvae", 0.05)):
        for beta in (1.0, 4.0):
            for seed in range(5):
                mig = slope * beta + 0.01 * seed
                rows.append(
                    {
                        "cell_id": f"{method}_beta{beta:g}_seed{seed}",
                        "method": method,
                        "beta": beta,
                        "seed": seed,
                        "status": "done",
                        "error": "",
                        "mig": mig,
                        "log_px": -100.0 * beta - seed,
                        "elbo": -120.0 * beta - seed,
                        "tc": 5.0 / beta + seed,
                        "data.empirical_correlation": 0.79,
                    }
                )
    rows.append(
        {
            "cell_id": "vae_seed0",
            "method": "vae",
            "beta": 1.0,
            "seed": 0,
            "status": "done",
            "error": "",
            "mig": 0.02,
            "log_px": -90.0,
            "elbo": -110.0,
            "tc": 3.0,
        }
    )
    rows.append(
        {
            "cell_id": "vae_seed1",
            "method": "vae",
            "beta": 1.0,
            "seed": 1,
            "status": "failed",
            "error": "ValueError: boom",
        }
    )
    return rows


def test_band_is_median_and_10_90_percentiles_over_seeds():
    betas, median, lo, hi, n = band_over_seeds(synthetic_rows(), "beta-tcvae", "mig")
    assert betas.tolist() == [1.0, 4.0] and n.tolist() == [5, 5]
    seeds = 0.01 * np.arange(5)
    assert median == pytest.approx([0.05 + 0.02, 0.2 + 0.02])
    assert lo == pytest.approx([0.05 + np.percentile(seeds, 10), 0.2 + np.percentile(seeds, 10)])
    assert hi == pytest.approx([0.05 + 0.036, 0.2 + 0.036])


def test_table_and_advantage():
    header, rows = comparison_table(synthetic_rows())
    assert header[:3] == ["series", "beta", "seeds"]
    assert rows[0][:3] == ["vae", 1.0, 1]  # the failed VAE cell is left out
    adv = mig_advantage(synthetic_rows(), "beta-tcvae", "beta-vae")
    assert [a[0] for a in adv] == [1.0, 4.0] and all(a[3] for a in adv)


def test_compare_writes_figures_and_a_self_contained_page(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(synthetic_rows()))
    page = compare_sweep(tmp_path)
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3
    assert "ValueError: boom" in text and "beta-tcvae vs beta-vae at equal beta" in text
    for name in ("mig_vs_beta", "reconstruction_elbo_vs_beta", "mig_vs_tc"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000


def test_compare_errors_are_actionable(tmp_path):
    with pytest.raises(FileNotFoundError, match="tcvae sweep"):
        compare_sweep(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps([{"status": "pending"}]))
    with pytest.raises(CompareError, match="no finished cell"):
        compare_sweep(tmp_path)


def test_swept_options_make_separate_series(tmp_path):
    rows = []
    for row in synthetic_rows():
        for lr, shift in (("0.001", 0.0), ("0.01", 1.0)):
            rows.append(
                {**row, "series": f"{row['method']} lr={lr}", "mig": row.get("mig", 0) + shift}
            )
    _, table = comparison_table(rows)
    assert {r[0] for r in table} == {
        f"{m} lr={lr}" for m in ("vae", "beta-vae", "beta-tcvae") for lr in ("0.001", "0.01")
    }
    assert band_over_seeds(rows, "beta-vae lr=0.01", "mig")[1] == pytest.approx([1.03, 1.06])
    (tmp_path / "summary.json").write_text(json.dumps(rows))
    text = compare_sweep(tmp_path).read_text()
    assert "beta-tcvae lr=0.01 vs beta-vae lr=0.01 at equal beta" in text
    assert "beta-tcvae lr=0.01 vs beta-vae lr=0.001" not in text
