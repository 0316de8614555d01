"""`tcvae` error handling: one table of exit statuses (2: what the user typed, 1: the work failed,
130: an interrupt); an error shown in one line says how to see its traceback, and -v shows it; a
bug keeps its traceback."""

import errno

import pytest

from tcvae.cli import data as data_command
from tcvae.cli.main import TRACEBACK_HINT, main
from tcvae.errors import TcvaeError
from tcvae.training.checkpoint import CheckpointError
from tcvae.training.trainer import DivergedError, NonFiniteLossError


def failing(error: BaseException):
    def run(args):
        raise error

    return run


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TcvaeError("bad setting; use another"), 2),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "x.npz"), 2),
        (PermissionError(errno.EACCES, "Permission denied", "out"), 2),
        (DivergedError("diverged at step 3"), 1),
        (NonFiniteLossError("loss is NaN at step 2"), 1),
        (CheckpointError("checkpoint step_4.pt cannot be read safely"), 1),
        (OSError(errno.ENOSPC, "No space left on device"), 1),
    ],
)
def test_each_error_is_one_line_with_its_exit_status(monkeypatch, capsys, error, status):
    monkeypatch.setattr(data_command, "run_list", failing(error))
    assert main(["data", "list"]) == status
    err = capsys.readouterr().err
    assert err == f"tcvae data: error: {error} {TRACEBACK_HINT}\n"


def test_an_interrupt_exits_130_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(data_command, "run_list", failing(KeyboardInterrupt()))
    assert main(["data", "list"]) == 130
    assert capsys.readouterr().err == f"tcvae data: interrupted {TRACEBACK_HINT}\n"


@pytest.mark.parametrize("bug", [ZeroDivisionError("division by zero"), ValueError("a bug")])
def test_a_bug_keeps_its_traceback(monkeypatch, bug):
    monkeypatch.setattr(data_command, "run_list", failing(bug))
    with pytest.raises(type(bug), match=str(bug)):
        main(["data", "list"])


@pytest.mark.parametrize("argv", [["-v", "data", "list"], ["data", "list", "-v"]])
@pytest.mark.parametrize(
    ("error", "status"), [(TcvaeError("bad setting"), 2), (KeyboardInterrupt(), 130)]
)
def test_verbose_before_or_after_the_verb_shows_the_traceback(
    monkeypatch, capsys, argv, error, status
):
    monkeypatch.setattr(data_command, "run_list", failing(error))
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in run\n    raise error" in err and TRACEBACK_HINT not in err
    assert err.splitlines()[-1].startswith("tcvae data: ")
