"""`tcvae` error handling: the library's own errors are one line and exit 2; bugs keep their
traceback."""

import pytest

from tcvae.cli import data as data_command
from tcvae.cli.main import main
from tcvae.errors import TcvaeError


def failing(error: Exception):
    def run(args):
        raise error

    return run


def test_a_library_error_is_one_line_and_exit_status_2(monkeypatch, capsys):
    monkeypatch.setattr(data_command, "run_list", failing(TcvaeError("bad setting; use another")))
    assert main(["data", "list"]) == 2
    err = capsys.readouterr().err
    assert err == "tcvae data: error: bad setting; use another\n"


@pytest.mark.parametrize("bug", [ZeroDivisionError("division by zero"), ValueError("a bug")])
def test_a_bug_keeps_its_traceback(monkeypatch, bug):
    monkeypatch.setattr(data_command, "run_list", failing(bug))
    with pytest.raises(type(bug), match=str(bug)):
        main(["data", "list"])


def test_verbose_shows_the_traceback_of_a_library_error(monkeypatch):
    monkeypatch.setattr(data_command, "run_list", failing(TcvaeError("bad setting")))
    with pytest.raises(TcvaeError, match="bad setting"):
        main(["-v", "data", "list"])
