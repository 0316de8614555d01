"""Fetch a file over HTTP(S) or file:// into the cache, checking its MD5 before it is kept."""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from tcvae.data.ground_truth import DataError
from tcvae.files import atomic_write

BLOCK = 1 << 20

log = logging.getLogger(__name__)


class ChecksumError(DataError):
    """A downloaded or cached file does not have the expected MD5."""


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, dest: Path, md5: str, progress: bool = False) -> Path:
    """Download ``url`` to ``dest``; keep it only if its MD5 is ``md5`` (written atomically)."""
    log.info("downloading %s to %s", url, dest)
    with atomic_write(dest) as tmp:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
                total = response.headers.get("Content-Length")
                bar = tqdm(
                    total=int(total) if total else None,
                    unit="B",
                    unit_scale=True,
                    desc=dest.name,
                    disable=not progress,
                )
                received = 0
                with bar:
                    for block in iter(lambda: response.read(BLOCK), b""):
                        f.write(block)
                        digest.update(block)
                        received += len(block)
                        bar.update(len(block))
                if total and received != int(total):
                    raise OSError(f"connection closed after {received} of {total} bytes")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            raise DataError(
                f"could not download {url}: {err}; check the network (or the URL), then retry"
            ) from err
        if digest.hexdigest() != md5.lower():
            raise ChecksumError(
                f"{url} has MD5 {digest.hexdigest()}, expected {md5.lower()}: the download is "
                "corrupt or the file changed upstream; nothing was saved, retry the download"
            )
    return dest
