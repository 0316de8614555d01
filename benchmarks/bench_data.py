"""Built-in dSprites: render, cache and load the full grid, train on it, and batch throughput.

Each phase runs in a fresh Python process so that its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the whole process, torch included) is its own:

* render: render the full grid (bit-packed chunk by chunk) and write the cache;
* load:   load the full grid from the cache;
* train:  load it, then train beta-TCVAE (MSS) for ``--steps`` steps, in separate processes:
          with the paper's MLP (width 1200, batch 2048; ``tcvae train``'s defaults) in float32
          and in bf16 (the ``paper-dsprites`` preset's precision where the CPU computes bf16), and
          with the demo's (width 256, batch 512, bf16 where supported);
* command: ``tcvae train --max-steps`` ``--steps`` with its defaults, run as a user runs it;
* batch:  minibatches of 2048 random images as floats, from the packed images (``batch``: one
          gather of packed rows, one table lookup) and from the same images unpacked to one uint8
          tensor (the layout before packing: a gather and a conversion), alternating batch by
          batch in one process so that a busy CPU affects both alike; median of ``--rounds``.

    python benchmarks/bench_data.py [--cache-dir DIR] [--threads N] [--steps 12] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 2048
# (MLP width, batch size, precision) of the training phase: the paper's set-up and the demo's, as
# `tcvae train` runs them.
NETWORKS = {
    "paper": (1200, 2048, "fp32"),
    "paper-bf16": (1200, 2048, "auto"),
    "demo": (256, 512, "auto"),
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_s() -> float:
    """User + system CPU seconds of this process, all threads (less sensitive to a busy CPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_render(args: argparse.Namespace) -> dict:
    from tcvae.data.cache import save_binary_images
    from tcvae.data.dsprites import BUILTIN_FILENAME, BUILTIN_VERSION
    from tcvae.data.sprites import dsprites_grid, render_dsprites_packed

    classes = dsprites_grid().all_classes()
    start, cpu_start = time.perf_counter(), cpu_s()
    images = render_dsprites_packed(classes)
    rendered, cpu_rendered = time.perf_counter(), cpu_s()
    path = args.cache_dir / BUILTIN_FILENAME
    save_binary_images(path, images, BUILTIN_VERSION)
    saved = time.perf_counter()
    return {
        "images": len(images),
        "render_s": rendered - start,
        "render_cpu_s": cpu_rendered - cpu_start,
        "write_s": saved - rendered,
        "cache_mib": path.stat().st_size / 2**20,
        "peak_rss_mib": peak_rss_mib(),
    }


def phase_load(args: argparse.Namespace) -> dict:
    import torch

    from tcvae.data import load_dataset

    start, cpu_start = time.perf_counter(), cpu_s()
    data = load_dataset("dsprites", source="builtin", cache_dir=args.cache_dir)
    loaded = time.perf_counter()
    return {
        "images": len(data),
        "memory_mib": data.nbytes / 2**20,
        "load_s": loaded - start,
        "load_cpu_s": cpu_s() - cpu_start,
        "mean_pixel": float(data.batch(torch.arange(0, len(data), 97)).mean()),
        "peak_rss_mib": peak_rss_mib(),
    }


def phase_train(args: argparse.Namespace) -> dict:
    from tcvae.data import load_dataset
    from tcvae.training import train

    load_dataset("dsprites", source="builtin", cache_dir=args.cache_dir)  # cached before timing
    hidden, batch, precision = NETWORKS[args.network]
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "data": {"name": "dsprites", "source": "builtin", "cache_dir": args.cache_dir},
            "model": {"hidden": hidden},
            "optim": {"batch_size": batch, "max_steps": args.steps},
            "objective": {"method": "beta-tcvae", "beta": 6.0, "estimator": "mss"},
            "run": {
                "run_dir": f"{tmp}/run",
                "device": "cpu",
                "log_every": 1,
                "tensorboard": False,
                "precision": precision,
            },
        }
        start = time.perf_counter()
        run = train(config)
        elapsed = time.perf_counter() - start
        log = Path(tmp, "run", "train_log.jsonl").read_text().splitlines()
        rates = [json.loads(row)["images_per_s"] for row in log[2:]]  # warm-up steps dropped
    return {
        "steps": args.steps,
        "train_s": elapsed,
        "median_images_per_s": statistics.median(rates),
        "precision": run.config.run.precision,
        "peak_rss_mib": peak_rss_mib(),
    }


def phase_command(args: argparse.Namespace) -> dict:
    """``tcvae train`` itself (its defaults: the paper's MLP, batch 2048, fp32 here), the way a
    user runs it; the peak RSS is the child process's (``RUSAGE_CHILDREN``)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "tcvae", "train", "--max-steps", str(args.steps)]
        cmd += ["--out", f"{tmp}/run", "--log-every", "1", "--device", "cpu"]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        env = dict(os.environ, TCVAE_CACHE_DIR=str(args.cache_dir))
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log = Path(tmp, "run", "train_log.jsonl").read_text().splitlines()
        rates = [json.loads(row)["images_per_s"] for row in log[2:]]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "steps": args.steps,
        "median_images_per_s": statistics.median(rates),
        "peak_rss_mib": peak,
    }


def phase_batch(args: argparse.Namespace) -> dict:
    import torch

    from tcvae.data import load_dataset

    data = load_dataset("dsprites", source="builtin", cache_dir=args.cache_dir)
    unpacked = data.images_uint8()  # the layout before packing: one uint8 tensor, 2.8 GiB

    def from_unpacked(index: torch.Tensor) -> torch.Tensor:
        return unpacked[index].to(torch.float32)

    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(len(data), (BATCH,), generator=gen) for _ in range(40)]
    assert torch.equal(data.batch(batches[0]), from_unpacked(batches[0]))
    fetchers = {"packed": data.batch, "unpacked": from_unpacked}
    seconds = {name: [] for name in fetchers}
    for _ in range(args.rounds):
        for name in fetchers:
            seconds[name].append(0.0)
        for index in batches:  # alternate batch by batch, so both see the same CPU contention
            for name, fetch in fetchers.items():
                start = time.perf_counter()
                fetch(index)
                seconds[name][-1] += time.perf_counter() - start
    images = len(batches) * BATCH
    rates = {name: statistics.median(images / s for s in secs) for name, secs in seconds.items()}
    return rates | {"rounds": args.rounds}


PHASES = {
    "render": phase_render,
    "load": phase_load,
    "train": phase_train,
    "command": phase_command,
    "batch": phase_batch,
}


def run_phase(name: str, args: argparse.Namespace, cache_dir: Path, network: str = "paper") -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--cache-dir", str(cache_dir)]
    cmd += ["--threads", str(args.threads), "--steps", str(args.steps), "--network", network]
    done = subprocess.run([*cmd, "--rounds", str(args.rounds)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a temporary dir")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--steps", type=int, default=12, help="training steps in phase train")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the batch comparison")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--network", choices=sorted(NETWORKS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 3:
        parser.error("--steps must be at least 3: the first two steps are warm-up, not timed")
    if args.phase:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        print(json.dumps(PHASES[args.phase](args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        render = run_phase("render", args, cache_dir)
        load = run_phase("load", args, cache_dir)
        fits = {network: run_phase("train", args, cache_dir, network) for network in NETWORKS}
        command = run_phase("command", args, cache_dir)
        batch = run_phase("batch", args, cache_dir)
    full_gib = render["images"] * 64 * 64 / 2**30
    print(f"dSprites built-in generator, {render['images']:,} images ({full_gib:.2f} GiB as uint8,")
    print(f"  held bit-packed: {load['memory_mib']:.0f} MiB)")
    print(
        f"  render full grid      {render['render_s']:7.2f} s wall, "
        f"{render['render_cpu_s']:.2f} s CPU"
    )
    print(f"  write cache           {render['write_s']:7.2f} s  ({render['cache_mib']:.1f} MiB)")
    print(f"  load from cache       {load['load_s']:7.2f} s wall, {load['load_cpu_s']:.2f} s CPU")
    print(f"  peak RSS render+write {render['peak_rss_mib'] / 1024:7.2f} GiB (ru_maxrss)")
    print(f"  peak RSS load         {load['peak_rss_mib'] / 1024:7.2f} GiB (ru_maxrss)")
    for network, fit in fits.items():
        width, size, _ = NETWORKS[network]
        print(
            f"  peak RSS load + train {fit['peak_rss_mib'] / 1024:7.2f} GiB "
            f"({fit['peak_rss_mib']:.0f} MiB, ru_maxrss; "
            f"{network.split('-')[0]} MLP {width}, batch {size}, {fit['precision']}, "
            f"{fit['steps']} steps, median {fit['median_images_per_s']:.0f} images/s)"
        )
    print(
        f"  peak RSS tcvae train  {command['peak_rss_mib'] / 1024:7.2f} GiB "
        f"({command['peak_rss_mib']:.0f} MiB, ru_maxrss of the command; its defaults, "
        f"{command['steps']} steps, median {command['median_images_per_s']:.0f} images/s)"
    )
    print(
        f"  batches of {BATCH}, images/s: packed {batch['packed']:,.0f}, unpacked "
        f"{batch['unpacked']:,.0f} (ratio {batch['packed'] / batch['unpacked']:.2f}, median of "
        f"{batch['rounds']} rounds)"
    )
    print(f"  mean pixel (check)    {load['mean_pixel']:7.4f}")


if __name__ == "__main__":
    main()
