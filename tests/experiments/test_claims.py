"""The claims' statistics against brute-force truths, and `tcvae compare` writing them out."""

import itertools
import json

import numpy as np
import pytest

from tcvae.cli.main import main
from tcvae.experiments.cell import check_cells
from tcvae.experiments.claims import (
    NOT_SUPPORTED,
    SUPPORTED,
    evaluate_claims,
    paired_claim,
    paired_values,
    tc_mig_claim,
)
from tcvae.experiments.grid import expand_grid
from tcvae.experiments.spec import load_preset


def row(method, beta, seed, mig=0.1, log_px=-100.0, tc=1.0, status="done", series=None):
    out = {"method": method, "beta": beta, "seed": seed, "status": status}
    if series is not None:
        out["series"] = series
    if status == "done":
        out.update(mig=mig, log_px=log_px, tc=tc)
    return out


def shifted_rows(shift, seed=0):
    """beta-TCVAE MIG = its beta-VAE twin's MIG + shift + noise; rows in scrambled order."""
    rng = np.random.default_rng(seed)
    rows = []
    for beta, s in itertools.product((4.0, 8.0), range(5)):
        base = rng.uniform(0.0, 0.3)
        rows.append(row("beta-vae", beta, s, mig=base, log_px=-100 - beta, tc=2.0 + base))
        rows.append(
            row(
                "beta-tcvae",
                beta,
                s,
                mig=base + shift + rng.normal(0, 0.01),
                log_px=-100 - beta + rng.normal(0, 1),
                tc=1.0 + rng.uniform(),
            )
        )
    return [rows[i] for i in rng.permutation(len(rows))]


def brute_force_differences(rows, metric):
    diffs = []
    for a in rows:
        for b in rows:
            if (
                a["method"] == "beta-tcvae"
                and b["method"] == "beta-vae"
                and (a["beta"], a["seed"]) == (b["beta"], b["seed"])
            ):
                diffs.append(a[metric] - b[metric])
    return np.array(diffs)


def claim_a(rows):
    return paired_claim(rows, "a", "higher MIG", "mig", "beta-tcvae", "beta-vae")


def test_a_known_positive_shift_is_supported_with_the_median_of_the_differences():
    rows = shifted_rows(0.05)
    claim = claim_a(rows)
    diffs = brute_force_differences(rows, "mig")
    assert claim.n_pairs == diffs.size == 10
    assert claim.median_difference == pytest.approx(np.median(diffs), abs=1e-12)
    assert 0.03 < claim.median_difference < 0.07
    assert claim.ci_low <= claim.median_difference <= claim.ci_high
    assert claim.ci_low > 0  # every difference is positive, so is every resampled median
    assert claim.p_value == pytest.approx(2.0**-10)  # all ten ranks positive: 1 of 2^10 flips
    assert claim.verdict == SUPPORTED


def test_a_reversed_shift_is_not_supported():
    claim = claim_a(shifted_rows(-0.05))
    assert claim.median_difference < 0 and claim.p_value > 0.5
    assert claim.verdict == NOT_SUPPORTED


def test_a_small_p_with_a_negative_median_is_not_supported():
    # 21 tiny losses, 19 large gains: the signed ranks lean positive, the median is negative
    d = np.concatenate([-0.001 * np.arange(1, 22), 0.1 * np.arange(1, 20)])
    rows = []
    for seed, diff in enumerate(d):
        rows += [row("beta-vae", 4.0, seed, mig=0.2), row("beta-tcvae", 4.0, seed, mig=0.2 + diff)]
    claim = claim_a(rows)
    assert claim.p_value < 0.05 and claim.median_difference < 0
    assert claim.verdict == NOT_SUPPORTED


def test_bootstrap_is_seeded():
    first, second = claim_a(shifted_rows(0.05)), claim_a(shifted_rows(0.05))
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)


def test_wilcoxon_p_value_is_the_exact_signed_rank_tail():
    d = np.array([0.3, -0.1, 0.5, 0.25, -0.45, 0.6])  # distinct magnitudes, no zeros
    rows = []
    for seed, diff in enumerate(d):
        rows.append(row("beta-vae", 4.0, seed, mig=0.2))
        rows.append(row("beta-tcvae", 4.0, seed, mig=0.2 + diff))
    ranks = np.argsort(np.argsort(np.abs(d))) + 1
    observed = ranks[d > 0].sum()
    flips = list(itertools.product((1, -1), repeat=d.size))
    tail = sum(ranks[np.array(signs) > 0].sum() >= observed for signs in flips)
    expected = tail / 2**d.size
    claim = claim_a(rows)
    assert 0.05 < expected < 0.5
    assert claim.p_value == pytest.approx(expected, rel=1e-9)
    assert claim.verdict == NOT_SUPPORTED  # positive median, but p >= 0.05


def test_pairs_match_beta_seed_and_options_and_ignore_unpaired_cells():
    rows = [
        row("beta-vae", 4.0, 0, mig=0.1, series="beta-vae lr=0.001"),
        row("beta-tcvae", 4.0, 0, mig=0.3, series="beta-tcvae lr=0.001"),
        row("beta-vae", 4.0, 0, mig=0.5, series="beta-vae lr=0.01"),
        row("beta-tcvae", 4.0, 0, mig=0.6, series="beta-tcvae lr=0.01"),
        row("beta-tcvae", 8.0, 0, mig=0.9, series="beta-tcvae lr=0.01"),  # no twin
        row("beta-vae", 4.0, 1, mig=0.2, series="beta-vae lr=0.01"),
        row("beta-tcvae", 4.0, 1, status="failed", series="beta-tcvae lr=0.01"),
        row("beta-vae", 4.0, 2, status="pending", series="beta-vae lr=0.01"),
        row("beta-tcvae", 4.0, 2, mig=0.7, series="beta-tcvae lr=0.01"),
        row("beta-tcvae", 4.0, 3, mig=0.8, series="beta-tcvae lr=0.001"),
        row("beta-vae", 4.0, 3, mig=0.4, series="beta-vae lr=0.01"),  # other options
        row("vae", 1.0, 0, mig=0.0),
    ]
    better, worse = paired_values(rows, "beta-tcvae", "beta-vae", "mig")
    assert sorted(zip(better.tolist(), worse.tolist())) == [(0.3, 0.1), (0.6, 0.5)]


def test_fewer_than_five_pairs_is_insufficient_data():
    rows = shifted_rows(0.05)
    tcvae = [r for r in rows if r["method"] == "beta-tcvae"]
    vae = [r for r in rows if r["method"] == "beta-vae"]
    four = claim_a(vae + tcvae[:4])
    assert four.n_pairs == 4 and four.verdict == "insufficient data (n pairs < 5)"
    assert four.median_difference is None and four.p_value is None
    five = claim_a(vae + tcvae[:5])
    assert five.n_pairs == 5 and five.verdict == SUPPORTED


def test_spearman_rho_is_the_pearson_correlation_of_ranks():
    rng = np.random.default_rng(3)
    tc = rng.uniform(0, 5, size=12)
    mig = 0.3 - 0.04 * tc + rng.normal(0, 0.05, size=12)
    rows = [
        row("beta-vae" if i % 2 else "beta-tcvae", 4.0, i, mig=m, tc=t)
        for i, (t, m) in enumerate(zip(tc, mig))
    ]
    rows.append(row("vae", 1.0, 0, mig=1.0, tc=0.0))  # not a beta method: left out
    r_tc = np.argsort(np.argsort(tc)).astype(float)
    r_mig = np.argsort(np.argsort(mig)).astype(float)
    a, b = r_tc - r_tc.mean(), r_mig - r_mig.mean()
    by_hand = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
    claim = tc_mig_claim(rows, ["beta-vae", "beta-tcvae"])
    assert claim.n_cells == 12
    assert claim.rho == pytest.approx(by_hand, abs=1e-12)
    assert claim.rho < -0.5 and claim.p_value < 0.05 and claim.verdict == SUPPORTED
    flipped = [{**r, "mig": -r["mig"]} for r in rows]
    opposite = tc_mig_claim(flipped, ["beta-vae", "beta-tcvae"])
    assert opposite.rho == pytest.approx(-by_hand) and opposite.verdict == NOT_SUPPORTED
    few = tc_mig_claim(rows[:4], ["beta-vae", "beta-tcvae"])
    assert few.verdict == "insufficient data (n cells < 5)" and few.rho is None


def test_claims_need_both_methods():
    rows = shifted_rows(0.05)
    assert evaluate_claims([r for r in rows if r["method"] == "beta-vae"]) is None
    claims = evaluate_claims(rows)
    assert [c.claim for c in claims.all] == ["a", "b", "c"]
    assert claims.correlation.n_cells == 20


def test_compare_cli_prints_claims_and_writes_them_to_page_and_json(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    rows = shifted_rows(0.05)
    for r in rows:
        r["elbo"] = r["log_px"] - 10.0
        r["cell_id"] = f"{r['method']}_beta{r['beta']:g}_seed{r['seed']}"
    (sweep / "summary.json").write_text(json.dumps(rows))
    out = tmp_path / "pages" / "page.html"
    assert main(["compare", str(sweep), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(a) beta-tcvae has a higher MIG than beta-vae at equal beta: supported" in printed
    assert "(c) lower TC goes with higher MIG across runs" in printed
    saved = json.loads((out.parent / "claims.json").read_text())
    assert [c["claim"] for c in saved["claims"]] == ["a", "b", "c"]
    expected = np.median(brute_force_differences(rows, "mig"))
    assert saved["claims"][0]["median_difference"] == pytest.approx(expected)
    assert saved["claims"][0]["verdict"] == SUPPORTED and saved["resamples"] == 10_000
    page = out.read_text()
    assert '<section id="claims"><h2>Claims</h2>' in page
    assert "Wilcoxon signed-rank" in page and "Spearman" in page
    assert page.count("<td>supported</td>") == [c["verdict"] for c in saved["claims"]].count(
        SUPPORTED
    )


def test_compare_without_both_methods_has_no_claims(tmp_path, capsys):
    rows = [r for r in shifted_rows(0.05) if r["method"] == "beta-tcvae"]
    for r in rows:
        r["elbo"] = r["log_px"] - 10.0
        r["cell_id"] = f"{r['method']}_beta{r['beta']:g}_seed{r['seed']}"
    (tmp_path / "summary.json").write_text(json.dumps(rows))
    assert main(["compare", str(tmp_path)]) == 0
    assert "Claims" not in capsys.readouterr().out
    assert not (tmp_path / "claims.json").exists()
    assert "<h2>Claims</h2>" not in (tmp_path / "compare.html").read_text()


def test_claims_preset_pairs_every_cell_within_its_budget():
    spec = load_preset("claims")
    check_cells(spec)
    cells = expand_grid(spec)
    keys = {m: {(c.beta, c.seed) for c in cells if c.method == m} for m in spec.methods}
    assert set(spec.methods) == {"beta-vae", "beta-tcvae"} and len(spec.seeds) >= 5
    assert keys["beta-vae"] == keys["beta-tcvae"] and len(keys["beta-vae"]) >= 5
    # dSprites classes shape 3, scale 6, orientation 40, posX 32, posY 32, thinned by the stride
    sizes = {"shape": 3, "scale": 6, "orientation": 40, "posX": 32, "posY": 32}
    images = np.prod([-(-n // spec.data.stride.get(f, 1)) for f, n in sizes.items()])
    seen = len(cells) * images * spec.train["optim"]["epochs"]
    # the rate of this recipe (batch 512, width 256, bf16) measured in the dependent-factors
    # sweeps: 1.2 M images per cell in 226-268 s on one thread, evaluation included, i.e. at
    # least 4,400 images/s per core; the sweep must fit in two hours on two cores
    assert spec.train["optim"]["batch_size"] == 512 and spec.train["model"]["hidden"] == 256
    assert seen / (4_400 * 2) <= 120 * 60
    assert images * spec.train["optim"]["epochs"] >= 0.9e6  # well above mini's 0.55 M per cell
