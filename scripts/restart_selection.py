"""Does the demo keep the right restart? Run `tcvae demo` at several seeds, train every screened-out
restart on to the step its kept run reached, score them all with the paper's MIG protocol, and
set each restart's screening score (its mean logged TC at the end of the screening) against its MIG.

For each demo seed S, OUT/demo-seedS is the demo's folder: the demo's budget with --restarts
(default 3) and --lr-warmup-steps (default 0, the setting measured in docs/demo.md). One JSON row
per restart goes to OUT/selection.jsonl (seed, screening score, kept or not, steps, MIG,
per-factor gaps); rows already there are not recomputed, runs already trained are not retrained,
so the script can be re-run until done. It prints a Markdown table, the MIG of
the kept restart against the best and the median of its group, and Spearman's rho between the
screening score and MIG over all restarts (negative: lower TC goes with higher MIG).

    python scripts/restart_selection.py --out restart-selection --seeds 0 1 2
    python scripts/restart_selection.py --out restart-warmup --lr-warmup-steps 500
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from recipe_search import read_rows  # the scripts' folder is on sys.path when they are run
from scipy.stats import spearmanr

from tcvae.evaluation import encode_dataset
from tcvae.evaluation.mig import PAPER_FACTORS
from tcvae.evaluation.run import mig_falling_back
from tcvae.experiments.demo import DEFAULT_BUDGET, RESTARTS_NAME, RUN_NAME, DemoBudget, run_demo
from tcvae.experiments.restarts import RESTARTS_FILE
from tcvae.training import build_dataset, load_run, train
from tcvae.training.runs import STATUS_FILE, read_config


def step_of(run_dir: Path) -> int:
    return int(json.loads((run_dir / STATUS_FILE).read_text())["step"])


def demo_restarts(out: Path, seed: int, budget: DemoBudget) -> tuple[Path, list[dict[str, Any]]]:
    """The demo at ``seed`` (run now unless its report exists) and its restarts.json rows."""
    demo_dir = out / f"demo-seed{seed}"
    if not (demo_dir / RUN_NAME / "report.html").is_file():
        run_demo(demo_dir, seed=seed, force=True, budget=budget, progress=True)
    return demo_dir, json.loads((demo_dir / RESTARTS_NAME / RESTARTS_FILE).read_text())


def mig_row(run_dir: Path, data) -> dict[str, Any]:
    run = load_run(run_dir)
    mean, logvar = encode_dataset(run.model, data)
    result = mig_falling_back(
        mean,
        logvar,
        data.classes,
        data.factor_names,
        factors=PAPER_FACTORS["dsprites"],
        entropy_estimator="deterministic",
    )
    steps = step_of(run_dir)
    return {
        "steps": steps,
        "images": steps * run.config.optim.batch_size,
        "mig": round(float(result.mig), 4),
        "gaps": dict(zip(result.factor_names, np.round(result.gaps, 4).tolist())),
    }


def measure(out: Path, seeds: list[int], budget: DemoBudget) -> list[dict[str, Any]]:
    rows_path = out / "selection.jsonl"
    rows = read_rows(rows_path)
    done = {(r["demo_seed"], r["seed"]) for r in rows}
    for demo_seed in seeds:
        demo_dir, restarts = demo_restarts(out, demo_seed, budget)
        kept_dir = demo_dir / RUN_NAME
        target = step_of(kept_dir)
        data = build_dataset(read_config(kept_dir).data)
        for r in restarts:
            if (demo_seed, r["seed"]) in done:
                continue
            run_dir = kept_dir if r["kept"] else demo_dir / RESTARTS_NAME / f"restart-{r['index']}"
            if not r["kept"] and step_of(run_dir) < target:  # on to the kept run's step
                config = read_config(run_dir)
                config.optim.max_steps, config.optim.max_minutes = target, None
                train(config, resume=run_dir, progress=True)
            row = {
                "demo_seed": demo_seed,
                "seed": r["seed"],
                "kept": r["kept"],
                "score": r["score"],
                **mig_row(run_dir, data),
            }
            rows.append(row)
            with rows_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    return [r for r in rows if r["demo_seed"] in seeds]


def report(rows: list[dict[str, Any]]) -> None:
    print(
        "| demo seed | restart seed | logged TC (screening) | kept | images | MIG | gaps "
        "(scale, orient., posX, posY) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["demo_seed"], r["seed"])):
        g = r["gaps"]
        print(
            f"| {r['demo_seed']} | {r['seed']} | {r['score']:.3f} | {'yes' if r['kept'] else ''} "
            f"| {r['images'] / 1e6:.2f} M | {r['mig']:.3f} | {g['scale']:.2f}, "
            f"{g['orientation']:.2f}, {g['posX']:.2f}, {g['posY']:.2f} |"
        )
    kept = []
    for s in sorted({r["demo_seed"] for r in rows}):
        group = [r for r in rows if r["demo_seed"] == s]
        k = next(r["mig"] for r in group if r["kept"])
        kept.append(k)
        migs = [r["mig"] for r in group]
        print(
            f"\ndemo seed {s}: kept MIG {k:.3f}; best of its restarts {max(migs):.3f}, median "
            f"{statistics.median(migs):.3f}",
            end="",
        )
    finite = [r for r in rows if np.isfinite(r["score"])]
    rho = spearmanr([r["score"] for r in finite], [r["mig"] for r in finite])
    print(
        f"\nmedian MIG of the kept runs over {len(kept)} demo seeds: {statistics.median(kept):.3f}"
        f"\nSpearman rho (screening TC vs MIG, {len(finite)} restarts): {rho.statistic:.3f}, "
        f"two-sided p = {rho.pvalue:.3g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("restart-selection"), help="folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="demo seeds")
    parser.add_argument("--restarts", type=int, default=3, help="seeds screened per demo")
    parser.add_argument(
        "--lr-warmup-steps", type=int, default=0, help="learning-rate warm-up of the demos"
    )
    args = parser.parse_args()
    if args.restarts < 2:
        parser.error("--restarts must be at least 2 (there is nothing to select from one seed)")
    args.out.mkdir(parents=True, exist_ok=True)
    budget = DemoBudget(
        **{
            **DEFAULT_BUDGET.__dict__,
            "restarts": args.restarts,
            "lr_warmup_steps": args.lr_warmup_steps,
        }
    )
    report(measure(args.out, args.seeds, budget))


if __name__ == "__main__":
    main()
