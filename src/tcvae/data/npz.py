"""Reading large ``.npz`` members without holding them twice: headers, row chunks, memory maps.

``np.load`` reads a whole member into memory. For data sets of several GB this module reads the
``.npy`` header of a member first (shape, dtype, order) so layouts are checked before any pixel is
read; then streams the member in chunks of rows (a compressed member is decompressed on the fly),
or memory-maps it in place when the archive stores it uncompressed. Nothing is ever unpickled.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tcvae.data.ground_truth import DataError

# Errors a damaged or truncated archive can raise while being read.
READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length


@contextmanager
def reading(path: Path, what: str = "a readable .npz", fix: str = "fetch or write it again"):
    """Turn the errors of a damaged or truncated archive (``READ_ERRORS``) into a DataError
    saying that ``path`` is not ``what`` and how to ``fix`` it; a DataError passes unchanged."""
    try:
        yield
    except DataError:
        raise
    except READ_ERRORS as err:
        raise DataError(
            f"{path} is not {what} ({type(err).__name__}: {err}); it may be truncated or "
            f"corrupt: {fix}"
        ) from err


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool


def _read_header(member) -> tuple[tuple[int, ...], bool, np.dtype]:
    major, _ = np.lib.format.read_magic(member)
    if major == 1:
        return np.lib.format.read_array_header_1_0(member)
    return np.lib.format.read_array_header_2_0(member)


def npz_headers(path: str | os.PathLike) -> dict[str, NpyHeader]:
    """The header of every array in ``path``, keyed by name (without ``.npy``)."""
    path = Path(path)
    headers = {}
    with reading(path), zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".npy"):
                with archive.open(info) as member:
                    shape, fortran, dtype = _read_header(member)
                headers[info.filename[:-4]] = NpyHeader(tuple(shape), dtype, fortran)
    return headers


def check_layout(
    path: Path, found: Mapping[str, NpyHeader], expected: dict[str, tuple[tuple, type]], what: str
) -> None:
    """Raise a DataError unless ``found`` (the headers of the arrays in ``path``) holds every
    array of ``expected`` (name -> (shape, dtype)) with that shape and dtype, in C order."""
    missing = [key for key in expected if key not in found]
    if missing:
        raise DataError(f"{path} lacks {missing} (holds {sorted(found)}); this is not {what}")
    for key, (shape, dtype) in expected.items():
        header = found[key]
        if header.shape != shape or header.dtype != dtype or header.fortran_order:
            raise DataError(
                f"{path}: {key!r} is {header.dtype} {header.shape}, expected {np.dtype(dtype)} "
                f"{shape} in C order; this is not {what}"
            )


def iter_npz_rows(
    path: str | os.PathLike, key: str, rows_per_chunk: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(start, rows) chunks of the C-order array ``key``, at most ``rows_per_chunk`` rows each.

    Memory: one chunk at a time. Raises DataError if the archive is damaged or ends early.
    """
    path = Path(path)
    with reading(path), zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        shape, fortran, dtype = _read_header(member)
        if fortran and len(shape) > 1:
            raise DataError(f"{path}: {key!r} is stored in Fortran order; save it in C order")
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        for start in range(0, shape[0], rows_per_chunk):
            count = min(rows_per_chunk, shape[0] - start)
            data = member.read(count * row_bytes)
            if len(data) != count * row_bytes:
                raise EOFError(f"{key!r} ends after {start + len(data) // row_bytes} rows")
            yield start, np.frombuffer(data, dtype=dtype).reshape(count, *shape[1:])


def memmap_npz(path: str | os.PathLike, key: str) -> np.memmap | None:
    """A read-only memory map of array ``key`` when the archive stores it uncompressed (as
    ``np.savez`` does), else None. The pixels stay on disk; the OS pages them in on use."""
    path = Path(path)
    with reading(path):
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{key}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                return None
            with archive.open(info) as member:
                shape, fortran, dtype = _read_header(member)
                header_size = member.tell()
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            signature, name_len, extra_len = LOCAL_HEADER.unpack(f.read(LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad local file header")
        offset = info.header_offset + LOCAL_HEADER.size + name_len + extra_len + header_size
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if info.file_size != header_size + expected or offset + expected > path.stat().st_size:
            raise EOFError(f"{key!r} is shorter than its header says")
        order = "F" if fortran else "C"
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
