"""Training throughput: fp32 against bf16 autocast, and the trainer against a per-item loop.

Precision: the tcvae trainer in fp32 and in bf16 autocast (networks only; the estimators and the
loss stay in fp32), alternating, for the paper's MLP at batch 2048 and for the demo's settings
(``tcvae.experiments.demo.DEFAULT_BUDGET``, its estimator), with the bf16 / fp32 ratio of each.

Data path:
Both train the same model (the paper's dSprites MLP unless --hidden is given) with the same
objective (beta-TCVAE, beta = 6, MSS estimator), Adam lr 1e-3 and batch 2048 on the same built-in
dSprites images. The trainer slices a seeded permutation and gathers each batch from the uint8
tensor in one indexing call; the baseline is the textbook loop: a ``Dataset`` whose
``__getitem__`` returns one float image, a shuffling ``DataLoader`` (default collate, no workers)
and the same forward/loss/step. Figures are the median images/s over the timed steps (the first
``--warmup`` steps of each round are dropped); the two loops alternate for ``--rounds`` rounds in
this one run, so contention on a shared CPU affects both alike. The rate of producing batches
alone (no model) is printed too.

    python benchmarks/bench_training.py [--images 16384] [--steps 5] [--rounds 2] [--hidden H]
        [--threads N] [--skip-dataloader]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from tcvae.experiments.demo import DEFAULT_BUDGET
from tcvae.objectives import ObjectiveConfig, compute_loss
from tcvae.training import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig, train
from tcvae.training.datasets import build_dataset
from tcvae.training.runs import model_from_config

BATCH = 2048


class PerItemImages(Dataset):
    """One image per ``__getitem__``, as float in [0, 1]: the straightforward way."""

    def __init__(self, images: torch.Tensor, max_value: int) -> None:
        self.images, self.max_value = images, max_value

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i].float() / self.max_value


def baseline_rates(config: TrainConfig, steps: int, warmup: int) -> list[float]:
    data = build_dataset(config.data)
    config.model.image_shape = list(data.image_shape)
    torch.manual_seed(config.run.seed)
    model = model_from_config(config.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr)
    loader = DataLoader(
        PerItemImages(data.images_uint8(), data.max_value),
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
    )
    rates, step = [], 0
    while step < warmup + steps:
        batches = iter(loader)
        while step < warmup + steps:
            start = time.perf_counter()
            x = next(batches, None)
            if x is None:
                break
            out = model(x)
            tensors = (out.x_params, out.z, out.mean, out.logvar)
            result = compute_loss(
                config.objective,
                x,
                *tensors,
                dataset_size=len(data),
                step=step,
                posterior=model.posterior,
                likelihood=model.likelihood,
            )
            optimizer.zero_grad(set_to_none=True)
            result.loss.backward()
            optimizer.step()
            if step >= warmup:
                rates.append(BATCH / (time.perf_counter() - start))
            step += 1
    return rates


def trainer_rates(config: TrainConfig, steps: int, warmup: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        config.run.run_dir = str(Path(tmp) / "run")
        config.optim.max_steps = (warmup + steps) * config.run.log_every  # rows of log_every
        run = train(config)
    return [row["images_per_s"] for row in run.history[warmup:]]


def precision_rates(
    make: Callable[[str], TrainConfig], steps: int, warmup: int, rounds: int
) -> dict[str, float]:
    """Median trainer images/s in fp32 and bf16, the two alternating ``rounds`` times."""
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(rounds):
        for precision in rates:
            rates[precision] += trainer_rates(make(precision), steps, warmup)
    return {k: statistics.median(v) for k, v in rates.items()}


def data_path_rates(config: TrainConfig, batches: int) -> tuple[float, float]:
    """Images/s of producing batches alone: one gather from a permutation vs the DataLoader."""
    data = build_dataset(config.data)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(data), generator=gen)
    start = time.perf_counter()
    for i in range(batches):
        j = i % (len(data) // BATCH)
        data.batch(perm[j * BATCH : (j + 1) * BATCH])
    gather = batches * BATCH / (time.perf_counter() - start)
    loader = DataLoader(
        PerItemImages(data.images_uint8(), data.max_value),
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
    )
    start, done = time.perf_counter(), 0
    while done < batches:
        for _ in loader:
            done += 1
            if done == batches:
                break
    return gather, batches * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8 * BATCH, help="training set size")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per loop")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each loop")
    parser.add_argument("--hidden", type=int, default=None, help="MLP width (default: 1200)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--skip-dataloader", action="store_true", help="only the fp32 / bf16 comparison"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}, {torch.get_num_threads()} threads")

    def precision_config(hidden: int | None, batch: int, estimator: str) -> Callable:
        def make(precision: str) -> TrainConfig:
            return TrainConfig(
                data=DataConfig(source="builtin", subset=args.images),
                model=ModelConfig(arch="mlp", hidden=hidden),
                objective=ObjectiveConfig(method="beta-tcvae", beta=6.0, estimator=estimator),
                optim=OptimConfig(batch_size=batch, epochs=10**6),
                run=RunConfig(
                    device="cpu",
                    precision=precision,
                    threads=args.threads,
                    log_every=1 if batch >= 1024 else 20,
                    checkpoint_every=10**9,
                    tensorboard=False,
                ),
            )

        return make

    for label, hidden, batch, estimator, steps in (
        ("paper MLP (1200), batch 2048, MWS", None, BATCH, "mws", args.steps),
        (
            f"demo: MLP {DEFAULT_BUDGET.hidden}, batch {DEFAULT_BUDGET.batch_size}, "
            f"{DEFAULT_BUDGET.estimator.upper()}",
            DEFAULT_BUDGET.hidden,
            DEFAULT_BUDGET.batch_size,
            DEFAULT_BUDGET.estimator,
            4,
        ),
    ):
        per_step = 1 if batch >= 1024 else 20
        rates = precision_rates(
            precision_config(hidden, batch, estimator), steps, args.warmup, args.rounds
        )
        print(
            f"{label:36s}: fp32 {rates['fp32']:7.0f} images/s, bf16 {rates['bf16']:7.0f} "
            f"images/s, bf16 / fp32 {rates['bf16'] / rates['fp32']:.2f}x"
            + (f"  (rates over {per_step}-step intervals)" if per_step > 1 else "")
        )
    if args.skip_dataloader:
        return

    def config() -> TrainConfig:
        return TrainConfig(
            data=DataConfig(source="builtin", subset=args.images),
            model=ModelConfig(arch="mlp", hidden=args.hidden),
            objective=ObjectiveConfig(method="beta-tcvae", beta=6.0, estimator="mss"),
            optim=OptimConfig(batch_size=BATCH, epochs=10**6),
            run=RunConfig(
                device="cpu", log_every=1, checkpoint_every=10**9, tensorboard=False, seed=0
            ),
        )

    width = args.hidden or 1200
    print(
        f"MLP width {width}, batch {BATCH}, beta-TCVAE + MSS, {args.images} images, "
        f"{torch.get_num_threads()} threads, {args.rounds} rounds x {args.steps} timed steps each"
    )
    ours, base = [], []
    for _ in range(args.rounds):  # alternate, so a busy spell on a shared CPU hits both
        ours += trainer_rates(config(), args.steps, args.warmup)
        base += baseline_rates(config(), args.steps, args.warmup)
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    print(f"tcvae trainer        : {m_ours:9.1f} images/s  (steps: {[round(r) for r in ours]})")
    print(f"Dataset + DataLoader : {m_base:9.1f} images/s  (steps: {[round(r) for r in base]})")
    print(f"ratio trainer / DataLoader loop: {m_ours / m_base:.2f}x")
    gather, loader = data_path_rates(config(), batches=8)
    print(
        f"data path alone (no model): gather {gather:.0f} images/s, DataLoader {loader:.0f} "
        f"images/s, ratio {gather / loader:.1f}x"
    )


if __name__ == "__main__":
    main()
