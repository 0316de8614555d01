"""Fetch a file over HTTP(S) or file:// into the cache, checking its MD5 before it is kept.

Where no MD5 is pinned, the first download's SHA-256, size and MD5 are recorded next to the file
(``NAME.sha256.json``) and later copies are checked against that record.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from tcvae.data.ground_truth import DataError
from tcvae.files import atomic_write, read_json, write_json_atomic

BLOCK = 1 << 20

log = logging.getLogger(__name__)


class ChecksumError(DataError):
    """A downloaded or cached file does not have the expected MD5."""


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of the file at ``path`` by ``algorithm`` ("md5", "sha256"), read in blocks."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, dest: Path, md5: str | None, progress: bool = False) -> Path:
    """Download ``url`` to ``dest``; keep it only if its MD5 is ``md5`` (written atomically).

    With ``md5=None`` nothing is pinned: the file is kept, and its SHA-256 and size are recorded
    (:func:`checksum_record`) unless a record exists, which it must then match.
    """
    log.info("downloading %s to %s", url, dest)
    with atomic_write(dest) as tmp:
        digest = hashlib.md5(usedforsecurity=False)
        sha256 = hashlib.sha256()
        received = 0
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
                with bar:
                    for block in iter(lambda: response.read(BLOCK), b""):
                        f.write(block)
                        digest.update(block)
                        sha256.update(block)
                        received += len(block)
                        bar.update(len(block))
                if total and received != int(total):
                    raise OSError(f"connection closed after {received} of {total} bytes")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            raise DataError(
                f"could not download {url}: {err}; check the network (or the URL), then retry"
            ) from err
        if md5 is not None and digest.hexdigest() != md5.lower():
            raise ChecksumError(
                f"{url} has MD5 {digest.hexdigest()}, expected {md5.lower()}: the download is "
                "corrupt or the file changed upstream; nothing was saved, retry the download"
            )
        record = checksum_record(dest)
        if (
            md5 is None
            and record
            and (record["sha256"], record["size"]) != (sha256.hexdigest(), received)
        ):
            raise ChecksumError(
                f"{url} has SHA-256 {sha256.hexdigest()} ({received} bytes), but the first "
                f"download recorded {record['sha256']} ({record['size']} bytes); nothing was "
                f"saved. If the file really changed upstream, delete {_record_path(dest)}"
            )
    if md5 is None and not record:
        write_json_atomic(
            _record_path(dest),
            {"sha256": sha256.hexdigest(), "size": received, "md5": digest.hexdigest()},
        )
    return dest


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def checksum_record(path: Path) -> dict | None:
    """The recorded ``{"sha256", "size", "md5"}`` of an unpinned download at ``path``, if any
    (records written before the MD5 was kept lack it)."""
    record = _record_path(path)
    return read_json(record) if record.is_file() else None
