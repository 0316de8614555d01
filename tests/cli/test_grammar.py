"""One grammar on every verb: the same flag for the same idea, spelled and documented the same, and
the exit status of what went wrong (2: the user's input, 1: the work)."""

import argparse

import pytest

from tcvae.cli.main import TRACEBACK_HINT, build_parser, main
from tcvae.data.ground_truth import SOURCES
from tcvae.experiments.spec import CELL_KEYS, SpecError, parse_spec
from tcvae.training.config import from_dict, to_dict

TINY = ["--data-source", "builtin", "--subset", "128", "--hidden", "16", "--latent-dim", "3"]
TINY += ["--batch-size", "32", "--device", "cpu", "--no-tensorboard", "-q", "--max-steps", "2"]


def verbs() -> dict[str, argparse.ArgumentParser]:
    """Every verb that runs something ('data list' for the data actions), with its parser."""
    found, stack = {}, [("", build_parser())]
    while stack:
        name, parser = stack.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for sub in subs:
            stack += [(f"{name} {verb}".strip(), p) for verb, p in sub.choices.items()]
        if not subs:
            found[name] = parser
    return found


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The parser's options by their long flag."""
    return {a.option_strings[-1]: a for a in parser._actions if a.option_strings}


VERBS = verbs()
# The verbs that take each shared idea; every other verb must not have the flag.
WRITES = {"train", "sweep", "compare", "encode", "score", "demo", "data preview"}
COMPUTES = {"train", "evaluate", "encode", "report", "demo"}
READS_IMAGES = {"train", "encode", "demo", "data preview"}


def test_every_verb_is_found_and_has_help(capsys):
    assert set(VERBS) == {
        *("data list", "data download", "data preview", "train", "sweep", "compare"),
        *("evaluate", "encode", "score", "report", "demo"),
    }
    for verb in VERBS:
        with pytest.raises(SystemExit) as stop:
            main([*verb.split(), "--help"])
        assert stop.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: tcvae {verb} ")


@pytest.mark.parametrize(
    ("flag", "spelling", "verbs"),
    [
        ("--verbose", ["-v", "--verbose"], set(VERBS)),
        ("--quiet", ["-q", "--quiet"], set(VERBS)),
        ("--out", ["-o", "--out"], WRITES),
        ("--device", ["--device"], COMPUTES),
        ("--data-source", ["--data-source"], READS_IMAGES),
    ],
)
def test_each_shared_idea_has_one_flag_on_every_verb_that_uses_it(flag, spelling, verbs):
    having = {verb for verb, parser in VERBS.items() if flag in options(parser)}
    assert having == verbs
    for verb in verbs:
        assert options(VERBS[verb])[flag].option_strings == spelling, verb
    if flag in ("--verbose", "--quiet", "--device"):  # the same help and default everywhere
        helps = {options(VERBS[verb])[flag].help for verb in verbs}
        assert len(helps) == 1, helps
    if flag == "--device":
        defaults = {verb: options(VERBS[verb])[flag].default for verb in verbs - {"train"}}
        assert set(defaults.values()) == {to_dict(from_dict({}))["run"]["device"]} == {"auto"}
    if flag == "--data-source":
        for verb in verbs:
            assert tuple(options(VERBS[verb])[flag].choices) == tuple(SOURCES), verb


def test_a_long_flag_has_the_same_short_spelling_on_every_verb():
    spellings: dict[str, set[tuple[str, ...]]] = {}
    for parser in VERBS.values():
        for flag, action in options(parser).items():
            spellings.setdefault(flag, set()).add(tuple(action.option_strings))
    assert {flag: s for flag, s in spellings.items() if len(s) > 1} == {}
    for old in ("--no-progress", "--run-dir", "--source"):  # one spelling: the old ones are gone
        assert old not in spellings


@pytest.mark.parametrize("flag", ["-v", "-q"])
def test_verbose_and_quiet_mean_the_same_before_and_after_the_verb(flag):
    parser = build_parser()
    name = {"-v": "verbose", "-q": "quiet"}[flag]
    for argv in (["report", "r"], ["data", "list"], ["train"]):
        assert getattr(parser.parse_args(argv), name) is False
        assert getattr(parser.parse_args([flag, *argv]), name) is True
        assert getattr(parser.parse_args([*argv, flag]), name) is True


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "RUN", "--no-such-flag"],  # a flag no verb has
        ["evaluate", "RUN", "--no-progress"],  # an old spelling
        ["train", "--run-dir", "runs/x"],
        ["evaluate", "RUN", "--samples", "many"],  # a value of the wrong type
        ["sweep", "--preset", "no-such-preset"],  # a value outside the choices
        ["frobnicate"],  # a verb that does not exist
    ],
)
def test_what_argparse_refuses_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "{tmp}/missing"], "is not a run directory"),
        (["report", "{tmp}/missing"], "is not a run directory"),
        (["encode", "{tmp}/missing", "-o", "{tmp}/c.npz", "--data", "dsprites"], "run directory"),
        (["score", "{tmp}/missing.npz"], "no file at"),
        (["compare", "{tmp}/missing"], "summary.json not found"),
        (["train", "--config", "{tmp}/missing.toml"], "does not exist"),
        (["train", "--resume", "{tmp}/missing"], "is not a run directory"),
        (
            ["evaluate", "{tmp}", "--device", "gpu"],
            "--device must be one of",
        ),  # checked as train checks it
        (["train", "--device", "gpu", "--print-config"], "got 'gpu'"),
        (["sweep"], "give a sweep spec file or --preset NAME"),
    ],
)
def test_a_missing_path_or_bad_value_exits_2_in_one_line_with_the_hint(
    tmp_path, capsys, argv, needle
):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.endswith(f" {TRACEBACK_HINT}\n") and len(err.splitlines()) == 1


def test_a_corrupt_checkpoint_is_a_failure_of_the_work_exit_1(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "-o", str(run)]) == 0
    assert f"next: tcvae evaluate {run}, then tcvae report {run}" in capsys.readouterr().out
    (run / "model.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(run), "-q", "--samples", "10"]) == 1
    err = capsys.readouterr().err
    assert "model.pt cannot be read safely" in err and err.endswith(f" {TRACEBACK_HINT}\n")
    assert main(["evaluate", str(run), "--samples", "10", "-v"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    config = (run / "config.json").read_text()
    (run / "config.json").write_text('{"data": {"name": "dspr')  # cut short by a full disk
    assert main(["report", str(run), "-q"]) == 1
    err = capsys.readouterr().err
    assert "config.json is truncated or corrupt" in err and len(err.splitlines()) == 1
    (run / "config.json").write_text(config)
    (run / "status.json").write_text('{"status": "compl')
    assert main(["report", str(run), "-q"]) == 1
    assert "status.json is truncated or corrupt" in capsys.readouterr().err


def test_a_sweep_spec_takes_the_keys_of_the_train_toml():
    """[data] and [train.SECTION] of a sweep spec take exactly the keys of a train config file's
    [data] and [SECTION] (all but the ones the sweep sets per cell)."""
    tree = to_dict(from_dict({}))
    data = {k: v for k, v in tree["data"].items() if v is not None}
    train = {
        section: {k: v for k, v in values.items() if f"{section}.{k}" not in CELL_KEYS}
        for section, values in tree.items()
        if section != "data"
    }
    train = {s: {k: v for k, v in values.items() if v is not None} for s, values in train.items()}
    grid = {"methods": ["beta-tcvae"], "betas": [1.0], "seeds": [0]}
    spec = parse_spec({"grid": grid, "data": data, "train": train})
    assert spec.data == from_dict({"data": data}).data
    assert spec.train == train
    with pytest.raises(SpecError, match="no_such_key"):
        parse_spec({"grid": grid, "data": {"no_such_key": 1}})
    # [train.SECTION] takes the keys a train config file's [SECTION] takes, and no others
    with pytest.raises(SpecError, match="no_such_key.*not an option of a training config"):
        parse_spec({"grid": grid, "train": {"model": {"no_such_key": 1}}})
    with pytest.raises(SpecError, match="no_such_key"):
        parse_spec({"grid": grid, "train": {"beta-tcvae": {"optim": {"no_such_key": 1}}}})
