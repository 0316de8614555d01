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


def test_auto_policy_follows_the_load_of_other_processes_and_restores(monkeypatch):
    machine = FakeMachine(monkeypatch)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        machine.elsewhere = 1.0  # one busy process from the start
        with TH.ThreadPolicy(None, interval=5.0) as policy:
            assert policy.threads == 1 and torch.get_num_threads() == 1
            machine.advance(3.0, own_cores=1.0)
            assert policy.update() == 1  # too soon to look again
            machine.elsewhere = 0.0  # the other process ends
            machine.advance(3.0, own_cores=1.0)
            assert policy.update() == 2 and torch.get_num_threads() == 2
            machine.elsewhere = 1.8
            machine.advance(6.0, own_cores=2.0)
            assert policy.update() == 1
        assert torch.get_num_threads() == 2  # the caller's count is back
    finally:
        torch.set_num_threads(before)


def test_fixed_threads_and_the_callers_limit(monkeypatch):
    FakeMachine(monkeypatch)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with TH.ThreadPolicy(None) as policy:  # a limit of one: nothing to choose
            assert policy.threads == 1
        with TH.ThreadPolicy(3):
            assert torch.get_num_threads() == 3
        assert torch.get_num_threads() == 1
        with TH.ThreadPolicy(3, enabled=False) as policy:  # off the CPU: torch's count untouched
            policy.update(force=True)
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_run_is_bitwise_equal_on_one_and_two_threads(make_config):
    """The auto policy may change the thread count between steps; results must not change."""
    runs = []
    for threads in (1, 2):
        config = make_config(f"threads{threads}", max_steps=3)
        config.run.threads = threads
        runs.append(T.train(config))
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["loss"] for r in runs[0].history] == [r["loss"] for r in runs[1].history]
