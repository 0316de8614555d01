import json

import pytest
import torch

from tcvae.training import threads as TH
from tcvae.training import trainer as T


def test_threads_for_leaves_the_busy_cores_to_others():
    assert TH.threads_for(2, 0.0, 2) == 2
    assert TH.threads_for(2, 0.3, 2) == 2
    assert TH.threads_for(2, 0.9, 2) == 1
    assert TH.threads_for(2, 2.0, 2) == 1  # never fewer than one
    assert TH.threads_for(8, 3.0, 4) == 4  # never more than the limit
    assert TH.threads_for(8, 3.0, 8) == 5


def test_machine_busy_seconds_reads_the_busy_fields_of_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 20 30 5000 70 4 6 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    hz = TH.os.sysconf("SC_CLK_TCK")
    assert TH.machine_busy_seconds(stat) == pytest.approx((100 + 20 + 30 + 4 + 6 + 10) / hz)
    assert TH.machine_busy_seconds(tmp_path / "missing") is None
    stat.write_text("intr 1 2 3\n")
    assert TH.machine_busy_seconds(stat) is None


class FakeMachine:
    """A clock, a machine-wide busy counter and this process's CPU time, advanced by hand."""

    def __init__(self, monkeypatch):
        self.now, self.busy, self.own = 100.0, 1000.0, 5.0
        monkeypatch.setattr(TH, "machine_busy_seconds", lambda path: self.busy)
        monkeypatch.setattr(TH.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(TH.time, "process_time", lambda: self.own)
        monkeypatch.setattr(TH.time, "sleep", lambda seconds: self.advance(seconds, 0.0))
        monkeypatch.setattr(TH, "available_cores", lambda: 2)
        self.elsewhere = 0.0

    def advance(self, seconds, own_cores, elsewhere=None):
        elsewhere = self.elsewhere if elsewhere is None else elsewhere
        self.now += seconds
        self.own += own_cores * seconds
        self.busy += (own_cores + elsewhere) * seconds


def test_a_run_starts_on_the_cores_other_processes_leave_free(monkeypatch, tmp_path):
    machine = FakeMachine(monkeypatch)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        machine.elsewhere = 1.0  # one busy process
        assert TH.threads_at_start() == 1
        machine.elsewhere = 0.2
        assert TH.threads_at_start() == 2
        machine.elsewhere = 3.0
        assert TH.threads_at_start() == 1  # never fewer than one
        torch.set_num_threads(1)  # the caller's cap: nothing to choose
        machine.elsewhere = 0.0
        assert TH.threads_at_start() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setattr(TH, "machine_busy_seconds", lambda path: None)  # no /proc/stat
    assert TH.threads_at_start() == torch.get_num_threads()


def test_the_policy_holds_the_runs_count_whatever_the_load_and_restores(monkeypatch):
    machine = FakeMachine(monkeypatch)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        machine.elsewhere = 1.8
        with TH.ThreadPolicy(2) as policy:
            machine.advance(60.0, own_cores=2.0)
            assert policy.update() == 2 and torch.get_num_threads() == 2
        with TH.ThreadPolicy(1) as policy:
            machine.elsewhere = 0.0
            machine.advance(60.0, own_cores=1.0)
            assert policy.update() == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2  # the caller's count is back
        with TH.ThreadPolicy(3, enabled=False) as policy:  # off the CPU: torch's count untouched
            policy.update(force=True)
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_adaptive_policy_follows_the_load_of_other_processes(monkeypatch):
    machine = FakeMachine(monkeypatch)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with TH.ThreadPolicy(1, adaptive=True, interval=5.0) as policy:
            assert torch.get_num_threads() == 1
            machine.advance(3.0, own_cores=1.0)
            assert policy.update() == 1  # too soon to look again
            machine.advance(3.0, own_cores=1.0)  # nobody else busy
            assert policy.update() == 2 and torch.get_num_threads() == 2
            machine.elsewhere = 1.8
            machine.advance(6.0, own_cores=2.0)
            assert policy.update() == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def wide_config(make_config, name, **optim):
    """A network wide enough that its matrix products are split across two threads."""
    config = make_config(name, batch_size=128, **optim)
    config.data.subset = 512
    config.model.hidden, config.model.latent_dim = 256, 10
    return config


def test_a_run_resumed_under_other_load_keeps_its_threads_and_ends_bitwise_equal(
    make_config, monkeypatch
):
    """The thread count is chosen once (here under load: one thread), recorded, and kept when
    the run resumes on an idle machine, where a fresh choice would be two threads. On CPUs whose
    kernels split work by thread count (AMX), a changed count would change the weights."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        load = iter([1, 2, 2])  # busy at the start, idle at the resume and for the reference
        monkeypatch.setattr(T, "threads_at_start", lambda: next(load))
        first = T.train(wide_config(make_config, "parts", max_steps=3))
        assert first.config.run.threads == 1
        resumed = T.train(wide_config(make_config, "parts", max_steps=6), resume=first.run_dir)
        assert resumed.config.run.threads == 1 and torch.get_num_threads() == 2
        assert json.loads((first.run_dir / "config.json").read_text())["run"]["threads"] == 1
        reference = wide_config(make_config, "whole", max_steps=6)
        reference.run.threads = 1
        whole = T.train(reference)
        auto = T.train(wide_config(make_config, "auto", max_steps=1))
        assert auto.config.run.threads == 2  # the load then: the policy was asked
    finally:
        torch.set_num_threads(before)
    for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in whole.history]


def test_an_explicit_thread_count_on_resume_is_taken_and_recorded(make_config):
    first = T.train(make_config("run", max_steps=2))
    again = make_config("run", max_steps=4)
    again.run.threads = 1
    resumed = T.train(again, resume=first.run_dir)
    assert resumed.config.run.threads == 1
