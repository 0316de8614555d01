"""Downloads (file:// and a local HTTP server), checksums, atomic writes and the image cache."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from tcvae.data import DataError, PackedImages, default_cache_dir, download_dsprites
from tcvae.data.cache import cached_images, load_binary_images, save_binary_images
from tcvae.data.download import ChecksumError


@pytest.fixture
def served(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path/www``; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/cut-short.npz":  # promise 1000 bytes, send 10, hang up
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"0123456789")
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def payload(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    return data, hashlib.md5(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_default_cache_dir_follows_env_vars(monkeypatch, tmp_path):
    monkeypatch.setenv("TCVAE_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("TCVAE_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "tcvae"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tcvae"


def test_download_over_http_verifies_and_keeps_the_file(cache_dir, served, tmp_path):
    root, base = served
    data, md5 = payload(tmp_path)
    (root / "d.npz").write_bytes(data)
    path = download_dsprites(url=f"{base}/d.npz", md5=md5)
    assert path.parent == cache_dir and path.read_bytes() == data
    assert leftovers(cache_dir) == [path.name]
    # present and verified: no second download (this URL would fail)
    assert download_dsprites(url=f"{base}/missing.npz", md5=md5) == path


def test_download_from_file_url_and_env_override(cache_dir, tmp_path, monkeypatch):
    data, md5 = payload(tmp_path)
    src = tmp_path / "source.npz"
    src.write_bytes(data)
    monkeypatch.setenv("TCVAE_DSPRITES_URL", src.as_uri())
    elsewhere = tmp_path / "other-cache"
    path = download_dsprites(cache_dir=elsewhere, md5=md5.upper())
    assert path.parent == elsewhere and path.read_bytes() == data


def test_bad_checksum_keeps_nothing_and_old_file_survives(cache_dir, tmp_path):
    data, md5 = payload(tmp_path)
    src = tmp_path / "source.npz"
    src.write_bytes(data)
    with pytest.raises(ChecksumError, match=f"has MD5 {md5}, expected 7da33b31"):
        download_dsprites(url=src.as_uri())
    assert leftovers(cache_dir) == []
    good = download_dsprites(url=src.as_uri(), md5=md5)
    src.write_bytes(data[:1000])
    with pytest.raises(ChecksumError):
        download_dsprites(url=src.as_uri())  # wrong file in cache: fetched again, refused
    assert good.read_bytes() == data and leftovers(cache_dir) == [good.name]


def test_interrupted_or_failed_download_leaves_no_file(cache_dir, served):
    _, base = served
    with pytest.raises(DataError, match="could not download"):
        download_dsprites(url=f"{base}/cut-short.npz", md5="0" * 32)
    with pytest.raises(DataError, match="could not download"):
        download_dsprites(url=f"{base}/absent.npz", md5="0" * 32)
    assert leftovers(cache_dir) == []


def test_binary_image_cache_round_trip_is_compact(tmp_path):
    images = (torch.rand(50, 1, 64, 64, generator=torch.Generator().manual_seed(0)) < 0.1).to(
        torch.uint8
    )
    path = tmp_path / "c.npz"
    save_binary_images(path, PackedImages.pack(images), version=3)
    assert torch.equal(load_binary_images(path, version=3).unpack(), images)
    assert path.stat().st_size < images.numel() / 8 * 1.1
    with pytest.raises(DataError, match="version 3, not 4"):
        load_binary_images(path, version=4)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="cannot read image cache"):
        load_binary_images(path, version=3)


def cached_binary_images(path, render, version):
    return cached_images(
        path,
        render,
        lambda: load_binary_images(path, version),
        lambda images: save_binary_images(path, images, version),
    )


def test_cached_images_render_once_and_recover_from_a_bad_cache(tmp_path, caplog):
    calls = []

    def render():
        calls.append(1)
        return PackedImages.pack(
            torch.eye(8, dtype=torch.uint8).view(1, 1, 8, 8).repeat(3, 1, 1, 1)
        )

    path = tmp_path / "sub" / "c.npz"
    first = cached_binary_images(path, render, version=1)
    second = cached_binary_images(path, render, version=1)
    assert torch.equal(first.bits, second.bits) and len(calls) == 1
    assert torch.equal(first.unpack()[0, 0], torch.eye(8, dtype=torch.uint8))
    assert leftovers(path.parent) == ["c.npz"]
    path.write_bytes(b"garbage")
    assert torch.equal(cached_binary_images(path, render, version=1).bits, first.bits)
    assert len(calls) == 2 and "ignoring unusable cache" in caplog.text
    assert torch.equal(load_binary_images(path, version=1).bits, first.bits)  # rewritten


def test_unwritable_cache_only_warns(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    images = cached_binary_images(
        blocker / "c.npz",
        lambda: PackedImages.pack(torch.ones(2, 1, 3, 3, dtype=torch.uint8)),
        version=1,
    )
    assert images.shape == (2, 1, 3, 3) and "could not write the cache" in caplog.text
