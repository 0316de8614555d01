import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from tcvae.training import checkpoint as C


def test_atomic_save_crash_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = C.checkpoint_path(tmp_path, 7)
    C.atomic_save({"step": 7, "w": torch.arange(3.0)}, path)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        C.atomic_save({"step": 8, "w": torch.zeros(3)}, path)
    monkeypatch.undo()

    def half_save(obj, f):  # write part of a file, then die mid-write
        Path(f).write_bytes(b"PK\x03\x04 partial")
        raise RuntimeError("killed")

    monkeypatch.setattr(torch, "save", half_save)
    with pytest.raises(RuntimeError, match="killed"):
        C.atomic_save({"step": 9, "w": torch.ones(3)}, path)
    monkeypatch.undo()

    loaded = C.load_checkpoint(path)
    assert loaded["step"] == 7 and torch.equal(loaded["w"], torch.arange(3.0))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_list_and_prune_keep_newest(tmp_path):
    for step in (3, 12, 100, 7):
        C.atomic_save({"step": step}, C.checkpoint_path(tmp_path, step))
    (tmp_path / C.CHECKPOINT_DIR / ".step-00000200.pt.tmp-1").write_bytes(b"partial")
    assert [C.load_checkpoint(p)["step"] for p in C.list_checkpoints(tmp_path)] == [3, 7, 12, 100]
    C.prune_checkpoints(tmp_path, keep=2)
    assert [C.load_checkpoint(p)["step"] for p in C.list_checkpoints(tmp_path)] == [12, 100]
    assert C.latest_checkpoint(tmp_path) == C.checkpoint_path(tmp_path, 100)


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "step-00000001.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(C.CheckpointError, match="cannot be read"):
        C.load_checkpoint(path)
    with pytest.raises(C.CheckpointError, match="does not exist"):
        C.load_checkpoint(tmp_path / "nope.pt")


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002
    random.seed(3)
    np.random.standard_normal()  # noqa: NPY002  (leave a cached Gaussian in the state)
    random.gauss(0, 1)
    C.atomic_save({"rng": C.capture_rng_state()}, tmp_path / "s.pt")
    expected = (torch.rand(5), np.random.standard_normal(5), [random.gauss(0, 1) for _ in range(5)])  # noqa: NPY002
    torch.rand(100), np.random.rand(100), random.random()  # noqa: NPY002
    C.restore_rng_state(C.load_checkpoint(tmp_path / "s.pt")["rng"])
    again = (torch.rand(5), np.random.standard_normal(5), [random.gauss(0, 1) for _ in range(5)])  # noqa: NPY002
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]
