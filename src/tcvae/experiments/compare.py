"""Paper-style comparison of a sweep: figures and an HTML page drawn from its summary.

* MIG vs beta per method: the median over seeds and a 10-90% band (the paper's Figure 4 style);
  the VAE, which has no beta, is drawn as a horizontal reference.
* Reconstruction E[log p(x|z)] and the ELBO vs beta, same style.
* MIG vs total correlation, one point per cell (lower TC should go with higher MIG).
* Whenever beta-VAE and beta-TCVAE both have finished cells: the paper's claims, each with its
  test and a verdict (:mod:`tcvae.experiments.claims`), also written to ``claims.json`` next to
  the page.

Cells are grouped into *series*: a method, plus the values of any swept training option
(``beta-vae lr=0.0003``). Only finished cells are drawn; the page says how many cells failed or
are still pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tcvae.errors import TcvaeError
from tcvae.evaluation.run import headline_key
from tcvae.experiments.claims import (
    ALPHA,
    CONFIDENCE,
    LOG_PX,
    MIG,
    MIN_PAIRS,
    SPEARMAN_TEST,
    TC,
    WILCOXON_TEST,
    Claims,
    PairedClaim,
    evaluate_claims,
    series_of,
)
from tcvae.experiments.spec import METHOD_LABELS
from tcvae.experiments.summary import read_summary
from tcvae.files import write_json_atomic, write_text_atomic
from tcvae.markup import figure, key_value_table, paragraph, table
from tcvae.reports.html import page

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Summary columns compared (the headline keys of the metric table's scores); MIG, E[log p(x|z)]
# and TC are the ones the claims test.
ELBO = headline_key("decomposition", "elbo")
LABELS = {
    MIG: "MIG",
    LOG_PX: "E[log p(x|z)] (nats)",
    ELBO: "ELBO (nats)",
    TC: "total correlation (nats)",
}
BAND = (10.0, 90.0)
FIGURE_DIR, PAGE, CLAIMS_FILE = "figures", "compare.html", "claims.json"


class CompareError(TcvaeError):
    """A sweep summary cannot be compared (no finished cell, a metric missing)."""


def finished(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status") == "done"]


def series_in(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Series present in ``rows``, in the paper's method order, then by name."""
    present = {series_of(r) for r in rows}
    rank = {m: i for i, m in enumerate(METHOD_LABELS)}  # the spec's method order
    return sorted(present, key=lambda s: (rank.get(s.split(" ")[0], len(rank)), s))


def band_over_seeds(
    rows: Sequence[dict[str, Any]], series: str, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per beta of ``series``: betas, median, 10th and 90th percentile of ``metric``, and counts."""
    by_beta: dict[float, list[float]] = {}
    for r in rows:
        if series_of(r) == series and r.get(metric) is not None:
            by_beta.setdefault(float(r["beta"]), []).append(float(r[metric]))
    betas = np.array(sorted(by_beta))
    values = [np.array(by_beta[b]) for b in betas]
    median = np.array([np.median(v) for v in values])
    lo = np.array([np.percentile(v, BAND[0]) for v in values])
    hi = np.array([np.percentile(v, BAND[1]) for v in values])
    return betas, median, lo, hi, np.array([v.size for v in values])


def _draw_vs_beta(ax, rows: Sequence[dict[str, Any]], metric: str) -> None:
    all_betas = sorted({float(r["beta"]) for r in rows if r["method"] != "vae"}) or [1.0]
    for i, series in enumerate(series_in(rows)):
        color = f"C{i}"
        betas, median, lo, hi, _ = band_over_seeds(rows, series, metric)
        if betas.size == 0:
            continue
        if series.split(" ")[0] == "vae":  # no beta: a horizontal reference across the betas
            xs = [min(all_betas), max(all_betas)]
            ax.hlines(median[0], *xs, colors=color, linestyles="--", label=series)
            ax.fill_between(xs, lo[0], hi[0], color=color, alpha=0.12, linewidth=0)
            continue
        ax.plot(betas, median, "o-", color=color, label=series)
        ax.fill_between(betas, lo, hi, color=color, alpha=0.2, linewidth=0)
    ax.set_xlabel("beta")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.grid(alpha=0.3)


def _figure(rows: Sequence[dict[str, Any]], metrics: Sequence[str], panels: int) -> list:
    """``panels`` axes in a row of a new figure, once some row is seen to report each metric."""
    from matplotlib.figure import Figure  # here, not above: running sweeps needs no matplotlib

    for metric in metrics:
        if not any(r.get(metric) is not None for r in rows):
            raise CompareError(
                f"no finished cell reports {metric!r}; is this a tcvae sweep summary?"
            )
    fig = Figure(figsize=(5.2 * panels, 3.8), dpi=110)
    return list(fig.subplots(1, panels, squeeze=False)[0])


def metric_vs_beta(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> Figure:
    """One panel per metric: median over seeds vs beta per method, 10-90% band shaded."""
    rows = finished(rows)
    axes = _figure(rows, metrics, len(metrics))
    fig = axes[0].figure
    for ax, metric in zip(axes, metrics):
        _draw_vs_beta(ax, rows, metric)
        ax.set_title(f"{LABELS.get(metric, metric)} vs beta")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def mig_vs_tc(rows: Sequence[dict[str, Any]]) -> Figure:
    """MIG against total correlation, one point per finished cell, coloured by method."""
    rows = finished(rows)
    (ax,) = _figure(rows, (MIG, TC), 1)
    fig = ax.figure
    for i, series in enumerate(series_in(rows)):
        pts = [(r[TC], r[MIG]) for r in rows if series_of(r) == series and r.get(MIG) is not None]
        if pts:
            tc, mig = np.array(pts, dtype=float).T
            ax.scatter(tc, mig, color=f"C{i}", label=series, s=22, alpha=0.8)
    ax.set_xlabel(LABELS[TC])
    ax.set_ylabel(LABELS[MIG])
    ax.set_title("MIG vs total correlation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def comparison_table(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: per series and beta, the seed count and median of each metric."""
    rows = finished(rows)
    metrics = [m for m in (MIG, LOG_PX, ELBO, TC) if any(r.get(m) is not None for r in rows)]
    header = ["series", "beta", "seeds"] + [f"median {LABELS[m]}" for m in metrics]
    out = []
    for series in series_in(rows):
        per_metric = [band_over_seeds(rows, series, m) for m in metrics]
        betas, counts = per_metric[0][0], per_metric[0][4]
        for i, beta in enumerate(betas):
            out.append([series, float(beta), int(counts[i])] + [float(p[1][i]) for p in per_metric])
    return header, out


def mig_advantage(rows: Sequence[dict[str, Any]], better: str, worse: str) -> list[list[Any]]:
    """Per beta both methods share: median MIG of each and whether ``better`` beats ``worse``."""
    a = dict(zip(*band_over_seeds(finished(rows), better, MIG)[:2]))
    b = dict(zip(*band_over_seeds(finished(rows), worse, MIG)[:2]))
    return [[beta, a[beta], b[beta], bool(a[beta] > b[beta])] for beta in sorted(set(a) & set(b))]


def claims_section(claims: Claims) -> str:
    """The claims as a table (one row per claim, with its verdict) and a line per test."""
    header = ["claim", "statement", "n", "effect", "value"]
    header += [f"{CONFIDENCE:.0%} CI low", f"{CONFIDENCE:.0%} CI high", "p-value", "verdict"]
    rows = []
    for c in claims.all:
        if isinstance(c, PairedClaim):
            effect = [c.n_pairs, "median difference", c.median_difference, c.ci_low, c.ci_high]
        else:
            effect = [c.n_cells, "Spearman rho", c.rho, None, None]
        row = [c.claim, c.statement, *effect, c.p_value, c.verdict]
        rows.append(["" if v is None else v for v in row])  # blank where a number does not apply
    notes = [
        f"(a), (b): {WILCOXON_TEST}",
        f"(c): {SPEARMAN_TEST}",
        f"Supported when p < {ALPHA:g} and the effect has the claimed sign; fewer than "
        f"{MIN_PAIRS} pairs (or cells) is insufficient data.",
    ]
    return "\n".join([table(rows, header), *(paragraph(n, "note") for n in notes)])


@dataclass(frozen=True)
class Comparison:
    """What :func:`write_comparison` wrote: the page, and the claims when the sweep has them."""

    page: Path
    claims: Claims | None
    claims_file: Path | None


def compare_sweep(sweep_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw the comparison figures of ``sweep_dir`` and write the page; the page's path.

    See :func:`write_comparison`.
    """
    return write_comparison(sweep_dir, out).page


def write_comparison(sweep_dir: str | Path, out: str | Path | None = None) -> Comparison:
    """Draw the comparison figures of ``sweep_dir`` (PNGs in ``figures/``) and write the page.

    The page is ``SWEEP_DIR/compare.html`` unless ``out`` is given; when beta-VAE and beta-TCVAE
    both have finished cells, the claims go into the page and into ``claims.json`` beside it.
    """
    from tcvae.reports.plots import figure_png, save_figure

    sweep_dir = Path(sweep_dir)
    rows = read_summary(sweep_dir)
    done = finished(rows)
    if not done:
        raise CompareError(
            f"{sweep_dir} has no finished cell yet ({len(rows)} cells); run the sweep first"
        )
    figures = {
        "mig_vs_beta": (metric_vs_beta(rows, [MIG]), "MIG vs beta: median over seeds, 10-90% band"),
        "reconstruction_elbo_vs_beta": (
            metric_vs_beta(rows, [LOG_PX, ELBO]),
            "Reconstruction E[log p(x|z)] and ELBO vs beta: median over seeds, 10-90% band",
        ),
        "mig_vs_tc": (mig_vs_tc(rows), "MIG vs total correlation, one point per cell"),
    }
    sections = []
    claims = evaluate_claims(rows)
    if claims is not None:
        sections.append(("Claims", claims_section(claims)))
    for name, (fig, caption) in figures.items():
        save_figure(fig, sweep_dir / FIGURE_DIR / f"{name}.png")
        sections.append((caption.split(":")[0], figure(figure_png(fig), caption)))
    header, table_rows = comparison_table(rows)
    sections.append(("Medians per method and beta", table(table_rows, header)))
    present = series_in(done)
    for series in present:
        method, _, options = series.partition(" ")
        baseline = " ".join(filter(None, ["beta-vae", options]))
        if method.startswith("beta-tcvae") and baseline in present:
            advantage = mig_advantage(rows, series, baseline)
            header = ["beta", f"median MIG {series}", f"median MIG {baseline}", "higher"]
            sections.append((f"{series} vs {baseline} at equal beta", table(advantage, header)))
    status = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "pending")}
    facts = {k: v for k, v in done[0].items() if k.startswith("data.")}
    sections.append(("Cells and data", key_value_table({**status, **facts})))
    failed = [[r["cell_id"], r["error"]] for r in rows if r["status"] == "failed"]
    if failed:
        sections.append(("Failed cells", table(failed, ["cell", "error"])))
    document = page(
        f"Sweep comparison: {sweep_dir.name}",
        sections,
        subtitle=f"{status['done']} of {len(rows)} cells finished; MIG with the paper's protocol.",
    )
    path = write_text_atomic(Path(out) if out else sweep_dir / PAGE, document)
    claims_file = None
    if claims is not None:
        claims_file = write_json_atomic(path.parent / CLAIMS_FILE, claims.to_dict())
    return Comparison(path, claims, claims_file)
