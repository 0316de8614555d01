"""The paper's claims as statistical tests over a sweep's summary rows (REFERENCE.md section 8).

(a) beta-TCVAE reaches a higher MIG than beta-VAE at equal beta;
(b) beta-TCVAE reconstructs better (higher E[log p(x|z)]) than beta-VAE at equal beta;
(c) across runs, lower total correlation goes with higher MIG.

(a) and (b) are paired: each beta-TCVAE cell is matched with the beta-VAE cell of the same beta,
seed and swept options, and the test runs on the differences d_i = beta-TCVAE - beta-VAE. Their
median is reported with a seeded percentile-bootstrap confidence interval, and the one-sided
Wilcoxon signed-rank test asks whether the d_i lean positive (SciPy's exact null distribution for
n <= 50 without ties or zeros, its normal approximation otherwise). (c) is Spearman's rank
correlation between TC and MIG over every finished beta-VAE and beta-TCVAE cell, with the
one-sided p-value for rho < 0. A claim is "supported" when p < ALPHA and the effect has the
claimed sign. Functions of plain summary rows; no files are read or written here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tcvae.errors import TcvaeError
from tcvae.evaluation.run import headline_key

ALPHA = 0.05  # significance level of every claim
MIN_PAIRS = 5  # fewer pairs (or cells, for claim c) than this: insufficient data
CONFIDENCE = 0.95  # of the bootstrap interval of the median difference
RESAMPLES = 10_000  # bootstrap resamples
BOOTSTRAP_SEED = 0
BASELINE = "beta-vae"
TCVAE_METHODS = ("beta-tcvae", "beta-tcvae-mws", "beta-tcvae-mss")
# Summary columns tested (the headline keys of the metric table's scores).
MIG = headline_key("mig", "mig")
LOG_PX = headline_key("decomposition", "log_likelihood")
TC = headline_key("decomposition", "total_correlation")
SUPPORTED, NOT_SUPPORTED = "supported", "not supported"
# (claim, metric, how beta-TCVAE should compare with beta-VAE on it)
PAIRED_CLAIMS = (
    ("a", MIG, "has a higher MIG than"),
    ("b", LOG_PX, "reconstructs better (higher E[log p(x|z)]) than"),
)

WILCOXON_TEST = (
    "Paired differences (beta-TCVAE minus beta-VAE, same beta, seed and options): median with a "
    f"{CONFIDENCE:.0%} percentile-bootstrap interval ({RESAMPLES:,} resamples, seed "
    f"{BOOTSTRAP_SEED}); p is the one-sided Wilcoxon signed-rank test that the differences lean "
    "positive."
)
SPEARMAN_TEST = (
    "Spearman's rank correlation rho between TC and MIG over every finished beta-VAE and "
    "beta-TCVAE cell; p is one-sided, for rho < 0."
)


class ClaimsError(TcvaeError):
    """Summary rows cannot be paired as a sweep's rows (two cells claim the same pair slot)."""


def insufficient(what: str) -> str:
    return f"insufficient data (n {what} < {MIN_PAIRS})"


@dataclass(frozen=True)
class PairedClaim:
    """Claim (a) or (b): ``better`` beats ``worse`` on ``metric`` at equal beta, seed, options."""

    claim: str
    statement: str
    metric: str
    better: str
    worse: str
    n_pairs: int
    verdict: str
    median_difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: str = WILCOXON_TEST

    def line(self) -> str:
        """The claim and its verdict in one sentence of text."""
        if self.p_value is None:
            return _line(self, f"{self.n_pairs} pairs")
        return _line(
            self,
            f"{self.n_pairs} pairs; median difference {self.median_difference:.4g}, "
            f"{CONFIDENCE:.0%} CI [{self.ci_low:.4g}, {self.ci_high:.4g}]; "
            f"Wilcoxon one-sided p = {self.p_value:.3g}",
        )


@dataclass(frozen=True)
class CorrelationClaim:
    """Claim (c): lower TC goes with higher MIG, across the cells of ``methods``."""

    claim: str
    statement: str
    methods: tuple[str, ...]
    n_cells: int
    verdict: str
    rho: float | None = None
    p_value: float | None = None
    test: str = SPEARMAN_TEST

    def line(self) -> str:
        """The claim and its verdict in one sentence of text."""
        if self.p_value is None:
            return _line(self, f"{self.n_cells} cells")
        test = f"Spearman rho = {self.rho:.3g}, one-sided p = {self.p_value:.3g}"
        return _line(self, f"{self.n_cells} cells; {test}")


def _line(claim: PairedClaim | CorrelationClaim, numbers: str) -> str:
    return f"({claim.claim}) {claim.statement}: {claim.verdict} ({numbers})"


@dataclass(frozen=True)
class Claims:
    """Every claim a sweep can test: (a) and (b) per beta-TCVAE method present, then (c)."""

    paired: tuple[PairedClaim, ...]
    correlation: CorrelationClaim

    @property
    def all(self) -> tuple[PairedClaim | CorrelationClaim, ...]:
        return (*self.paired, self.correlation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": ALPHA,
            "min_pairs": MIN_PAIRS,
            "confidence": CONFIDENCE,
            "resamples": RESAMPLES,
            "bootstrap_seed": BOOTSTRAP_SEED,
            "claims": [asdict(c) for c in self.all],
        }

    def lines(self) -> list[str]:
        return [c.line() for c in self.all]


def _value(row: dict[str, Any], metric: str) -> float | None:
    value = row.get(metric)
    if row.get("status") != "done" or value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def series_of(row: dict[str, Any]) -> str:
    """A summary row's series: its method and swept option values (``beta-vae lr=0.0003``)."""
    return row.get("series") or row["method"]


def pair_key(row: dict[str, Any]) -> tuple[float, int, str]:
    """(beta, seed, swept options): the cells of two methods with equal keys form a pair."""
    return float(row["beta"]), int(row["seed"]), series_of(row).partition(" ")[2]


def paired_values(
    rows: Sequence[dict[str, Any]], better: str, worse: str, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """``metric`` of the finished cells of ``better`` and of their ``worse`` twins: two (n,) arrays.

    Cells without a twin (unpaired, failed, pending, metric missing) are left out.
    """
    by_method: dict[str, dict[tuple[float, int, str], float]] = {better: {}, worse: {}}
    for row in rows:
        value = _value(row, metric)
        if row.get("method") in by_method and value is not None:
            cells = by_method[row["method"]]
            key = pair_key(row)
            if key in cells:
                raise ClaimsError(
                    f"two finished {row['method']} cells share beta, seed and options {key}; "
                    "give the rows of one sweep"
                )
            cells[key] = value
    keys = sorted(set(by_method[better]) & set(by_method[worse]))
    return (
        np.array([by_method[better][k] for k in keys], dtype=float),
        np.array([by_method[worse][k] for k in keys], dtype=float),
    )


def bootstrap_median_ci(
    differences: np.ndarray,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median of ``differences`` (n,)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, differences.size, size=(resamples, differences.size))
    medians = np.median(differences[picks], axis=1)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return float(low), float(high)


def wilcoxon_greater(differences: np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p-value for differences leaning positive (zeros dropped)."""
    from scipy import stats  # here, not above: running sweeps needs no SciPy

    if not np.any(differences != 0):
        return 1.0  # no non-zero difference: no evidence either way
    return float(stats.wilcoxon(differences, alternative="greater").pvalue)


def paired_claim(
    rows: Sequence[dict[str, Any]], claim: str, statement: str, metric: str, better: str, worse: str
) -> PairedClaim:
    """Test that ``better`` exceeds ``worse`` on ``metric`` over their pairs (module doc)."""
    high, low = paired_values(rows, better, worse, metric)
    n = int(high.size)
    if n < MIN_PAIRS:
        return PairedClaim(claim, statement, metric, better, worse, n, insufficient("pairs"))
    differences = high - low
    median = float(np.median(differences))
    ci_low, ci_high = bootstrap_median_ci(differences)
    p = wilcoxon_greater(differences)
    verdict = SUPPORTED if p < ALPHA and median > 0 else NOT_SUPPORTED
    return PairedClaim(
        claim, statement, metric, better, worse, n, verdict, median, ci_low, ci_high, p
    )


def tc_mig_claim(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> CorrelationClaim:
    """Claim (c): Spearman's rho between TC and MIG over the finished cells of ``methods``."""
    from scipy import stats

    statement = "lower TC goes with higher MIG across runs"
    values = [(_value(r, TC), _value(r, MIG)) for r in rows if r.get("method") in methods]
    points = [(tc, mig) for tc, mig in values if tc is not None and mig is not None]
    n = len(points)
    if n < MIN_PAIRS:
        return CorrelationClaim("c", statement, tuple(methods), n, insufficient("cells"))
    tc, mig = np.array(points).T
    if np.ptp(tc) == 0 or np.ptp(mig) == 0:
        verdict = "insufficient data (TC or MIG is constant across cells)"
        return CorrelationClaim("c", statement, tuple(methods), n, verdict)
    result = stats.spearmanr(tc, mig, alternative="less")
    rho, p = float(result.statistic), float(result.pvalue)
    verdict = SUPPORTED if p < ALPHA and rho < 0 else NOT_SUPPORTED
    return CorrelationClaim("c", statement, tuple(methods), n, verdict, rho, p)


def evaluate_claims(rows: Sequence[dict[str, Any]]) -> Claims | None:
    """The claims of a sweep's summary rows, or None unless beta-VAE and beta-TCVAE both finished.

    With several beta-TCVAE estimators (``beta-tcvae-mws``, ``beta-tcvae-mss``), (a) and (b) are
    tested for each against beta-VAE; (c) pools every beta-VAE and beta-TCVAE cell.
    """
    done = {r.get("method") for r in rows if r.get("status") == "done"}
    tcvaes = [m for m in TCVAE_METHODS if m in done]
    if BASELINE not in done or not tcvaes:
        return None
    paired = [
        paired_claim(
            rows, claim, f"{method} {verb} {BASELINE} at equal beta", metric, method, BASELINE
        )
        for claim, metric, verb in PAIRED_CLAIMS
        for method in tcvaes
    ]
    return Claims(tuple(paired), tc_mig_claim(rows, [BASELINE, *tcvaes]))
