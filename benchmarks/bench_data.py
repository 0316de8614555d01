"""Built-in dSprites: full-grid render time, cache write, cached load time, and peak memory.

Each phase runs in a fresh Python process so that its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the whole process, torch included) is its own.

    python benchmarks/bench_data.py [--cache-dir DIR] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_s() -> float:
    """User + system CPU seconds of this process, all threads (less sensitive to a busy CPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_render(cache_dir: Path) -> dict:
    from tcvae.data.cache import save_binary_images
    from tcvae.data.dsprites import BUILTIN_FILENAME, BUILTIN_VERSION
    from tcvae.data.sprites import dsprites_grid, render_dsprites

    classes = dsprites_grid().all_classes()
    start, cpu_start = time.perf_counter(), cpu_s()
    images = render_dsprites(classes)
    rendered, cpu_rendered = time.perf_counter(), cpu_s()
    path = cache_dir / BUILTIN_FILENAME
    save_binary_images(path, images, BUILTIN_VERSION)
    saved = time.perf_counter()
    return {
        "images": int(images.shape[0]),
        "render_s": rendered - start,
        "render_cpu_s": cpu_rendered - cpu_start,
        "write_s": saved - rendered,
        "cache_mib": path.stat().st_size / 2**20,
        "peak_rss_mib": peak_rss_mib(),
    }


def phase_load(cache_dir: Path) -> dict:
    from tcvae.data import load_dataset

    start, cpu_start = time.perf_counter(), cpu_s()
    data = load_dataset("dsprites", source="builtin", cache_dir=cache_dir)
    loaded = time.perf_counter()
    return {
        "images": len(data),
        "load_s": loaded - start,
        "load_cpu_s": cpu_s() - cpu_start,
        "mean_pixel": float(data.images[::97].float().mean()),
        "peak_rss_mib": peak_rss_mib(),
    }


def run_phase(name: str, cache_dir: Path, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--cache-dir", str(cache_dir)]
    done = subprocess.run([*cmd, "--threads", str(threads)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a temporary dir")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--phase", choices=["render", "load"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        result = (phase_render if args.phase == "render" else phase_load)(args.cache_dir)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        render = run_phase("render", cache_dir, args.threads)
        load = run_phase("load", cache_dir, args.threads)
    full_gib = render["images"] * 64 * 64 / 2**30
    print(f"dSprites built-in generator, {render['images']:,} images ({full_gib:.2f} GiB as uint8)")
    print(
        f"  render full grid      {render['render_s']:7.2f} s wall, "
        f"{render['render_cpu_s']:.2f} s CPU"
    )
    print(f"  write cache           {render['write_s']:7.2f} s  ({render['cache_mib']:.1f} MiB)")
    print(f"  load from cache       {load['load_s']:7.2f} s wall, {load['load_cpu_s']:.2f} s CPU")
    print(f"  load / render         {load['load_s'] / render['render_s']:7.2f}")
    print(f"  peak RSS render+write {render['peak_rss_mib'] / 1024:7.2f} GiB (ru_maxrss)")
    print(f"  peak RSS load         {load['peak_rss_mib'] / 1024:7.2f} GiB (ru_maxrss)")
    print(f"  mean pixel (check)    {load['mean_pixel']:7.4f}")


if __name__ == "__main__":
    main()
