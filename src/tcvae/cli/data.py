"""``tcvae data``: download data sets and look at them."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tcvae.data.cache import CACHE_ENV_VAR, resolve_cache_dir
from tcvae.data.dsprites import (
    DSPRITES_FILENAME,
    DSPRITES_MD5,
    SOURCES,
    URL_ENV_VAR,
    download_dsprites,
    load_dsprites_npz,
    resolve_source,
)
from tcvae.data.preview import factor_sweeps, save_sweep_figure
from tcvae.data.sprites import dsprites_grid, render_dsprites


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="download and preview ground-truth data sets")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    cache_help = f"cache directory (default: ${CACHE_ENV_VAR}, else the user cache dir /tcvae)"

    download = commands.add_parser("download", help="fetch a data set into the cache, verified")
    download.add_argument("dataset", choices=["dsprites"], help="data set to fetch")
    download.add_argument("--cache-dir", type=Path, default=None, help=cache_help)
    download.add_argument(
        "--url", default=None, help=f"download from here (default: ${URL_ENV_VAR} or the release)"
    )
    download.add_argument(
        "--md5", default=DSPRITES_MD5, help="expected MD5 of the file (default: the official one)"
    )
    download.set_defaults(func=run_download)

    preview = commands.add_parser(
        "preview", help="write a PNG of factor sweeps (one row per factor, others fixed)"
    )
    preview.add_argument("dataset", choices=["dsprites"], help="data set to show")
    preview.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="builtin generator, the downloaded file, or auto (the file when present)",
    )
    preview.add_argument("--cache-dir", type=Path, default=None, help=cache_help)
    preview.add_argument(
        "--out", type=Path, default=Path("dsprites_preview.png"), help="PNG file to write"
    )
    preview.add_argument("--columns", type=int, default=10, help="images per sweep (at most)")
    preview.set_defaults(func=run_preview)


def run_download(args: argparse.Namespace) -> int:
    path = download_dsprites(args.cache_dir, url=args.url, md5=args.md5, progress=True)
    print(f"dSprites ready at {path}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    source = resolve_source(args.source, args.cache_dir)
    if source == "file":
        data = load_dsprites_npz(resolve_cache_dir(args.cache_dir) / DSPRITES_FILENAME)
        grid = data.grid

        def images_of(classes: torch.Tensor) -> torch.Tensor:
            return data.images_uint8(data.rows_of(classes))
    else:
        grid, images_of = dsprites_grid(), render_dsprites  # only the sweeps are rendered
    base = torch.tensor(grid.sizes) // 2
    base[grid.factor_index("orientation")] = 0  # the upright pose, heart point down
    sweeps = factor_sweeps(grid, base, num_columns=args.columns)
    rows = [(name, images_of(classes)) for name, classes in sweeps]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_sweep_figure(rows, args.out, max_value=1, title=f"dSprites ({source})")
    print(f"wrote {args.out}")
    return 0
