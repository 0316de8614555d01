"""``tcvae data``: list, download and preview data sets."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tcvae.cli.options import add_config_option, add_out_option, add_verb
from tcvae.data.cache import CACHE_ENV_VAR, resolve_cache_dir
from tcvae.data.registry import DATASETS, DatasetSpec, download_dataset, file_status
from tcvae.training.config import DataConfig


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = add_verb(subparsers, "data", None, "list, download and preview ground-truth data sets")
    commands = group.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    cache_help = f"cache directory (default: ${CACHE_ENV_VAR}, else the user cache dir /tcvae)"
    names = sorted(DATASETS)

    def action(name: str, run: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = add_verb(commands, name, run, help)
        add_config_option(p, DataConfig, "cache_dir", type=Path, help=cache_help)
        return p

    action("list", run_list, "every data set: available here?, size on disk and in memory, factors")
    download = action("download", run_download, "fetch a data set into the cache, verified")
    download.add_argument("dataset", choices=names, help="data set to fetch")
    url = "download from here (default: $TCVAE_<NAME>_URL, else the official location)"
    download.add_argument("--url", help=url)
    file = "copy this local file into the cache instead of downloading (checked the same way)"
    download.add_argument("--file", type=Path, help=file)
    md5 = "expected MD5 of the file (default: the pinned one; where none is pinned, the SHA-256 "
    md5 += "of the first download is recorded and later copies must match it)"
    download.add_argument("--md5", help=md5)
    help = "write a PNG of factor sweeps (one row per factor, others fixed)"
    preview = action("preview", run_preview, help)
    preview.add_argument("dataset", choices=names, help="data set to show")
    add_config_option(preview, DataConfig, "source")
    add_out_option(preview, "PNG file to write (default: NAME_preview.png)", "FILE.png")
    columns = "images per sweep (at most; default %(default)s)"
    preview.add_argument("--columns", type=int, default=10, metavar="N", help=columns)


def _size(num_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    raise AssertionError


def describe(spec: DatasetSpec, cache_dir: Path | None) -> list[str]:
    """The lines ``tcvae data list`` prints for one data set."""
    root = resolve_cache_dir(cache_dir)
    grid = spec.grid()
    file_path = root / spec.file.filename
    cache_path = root / spec.builtin_cache if spec.builtin_cache else None
    if file_path.is_file():
        here = f"yes: file {file_path}"
    elif cache_path is not None and cache_path.is_file():
        here = f"yes: built-in, rendered and cached in {cache_path}"
    elif cache_path is not None:
        here = "yes: built-in (rendered on first use, then cached)"
    else:
        here = f"no: run `tcvae data download {spec.name}`"
    on_disk = sum(
        p.stat().st_size for p in (file_path, cache_path) if p is not None and p.is_file()
    )
    pixels = "1 bit per pixel, packed" if spec.binary else "uint8"
    channels = "greyscale" if spec.channels == 1 else "RGB"
    factors = ", ".join(f"{n} {s}" for n, s in zip(grid.names, grid.sizes))
    return [
        f"{spec.name}: {spec.summary}",
        f"  available: {here}",
        f"  images:    {grid.num_points:,} x {channels} 64x64; in memory {_size(spec.memory_bytes)}"
        f" ({pixels}); on disk {_size(on_disk) if on_disk else '-'}",
        f"  factors:   {factors}",
        f"  file:      {spec.file.filename} ({file_status(spec, cache_dir)})",
    ]


def run_list(args: argparse.Namespace) -> int:
    print(f"data sets (cache: {resolve_cache_dir(args.cache_dir)})")
    for name in sorted(DATASETS):
        print("\n".join(describe(DATASETS[name], args.cache_dir)))
    print(
        "your own data: pass a path to an .npz (images, optionally factor_classes; see "
        "docs/reference/datasets.md) or to a folder of PNG/JPEG images (docs/tutorials/own-data.md)"
    )
    return 0


def run_download(args: argparse.Namespace) -> int:
    path = download_dataset(
        args.dataset,
        args.cache_dir,
        url=args.url,
        md5=args.md5,
        file=args.file,
        progress=not args.quiet,
    )
    print(f"{args.dataset} ready at {path}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    # matplotlib loads here, for this sub-command only: not in every `tcvae` process (memory)
    from tcvae.data.preview import factor_sweeps, save_sweep_figure

    spec = DATASETS[args.dataset]
    source = spec.resolve_source(args.data_source, args.cache_dir)
    if source == "builtin" and spec.builtin_subset is not None:
        grid = spec.grid()  # render only the sweeps

        def images_of(classes: torch.Tensor) -> torch.Tensor:
            return spec.builtin_subset(classes).images_uint8()
    else:
        data = spec.load(source, args.cache_dir, True)
        grid = data.grid

        def images_of(classes: torch.Tensor) -> torch.Tensor:
            return data.images_uint8(data.rows_of(classes))

    base = torch.tensor(grid.sizes) // 2
    if "orientation" in grid.names and args.dataset == "dsprites":
        base[grid.factor_index("orientation")] = 0  # the upright pose, heart point down
    sweeps = factor_sweeps(grid, base, num_columns=args.columns)
    rows = [(name, images_of(classes)) for name, classes in sweeps]
    out = args.out or Path(f"{args.dataset}_preview.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    max_value = 1 if spec.binary else 255
    save_sweep_figure(rows, out, max_value=max_value, title=f"{args.dataset} ({source})")
    print(f"wrote {out}")
    return 0
