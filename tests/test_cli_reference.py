"""docs/reference/cli.md is what scripts/cli_reference.py writes from the parsers now, so the
reference of the command cannot drift from the command."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts/cli_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_cli_reference_is_current():
    script = load_script()
    assert script.PAGE == ROOT / "docs" / "reference" / "cli.md"
    assert script.PAGE.read_text() == script.render(), (
        "docs/reference/cli.md is out of date; regenerate it with python scripts/cli_reference.py"
    )


def test_the_reference_lists_every_verb_and_option_with_its_default():
    from tcvae.cli.main import build_parser

    script = load_script()
    text = script.render()
    names = [name for name, _ in script.verbs(build_parser())]
    assert "tcvae data preview" in names and "tcvae demo" in names and len(names) == 11
    for name, parser in script.verbs(build_parser()):
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for flag in action.option_strings:
                assert f"`{flag}`" in section or flag in ("-h", "--help"), (name, flag)
    # the defaults of train's config options come from the config, not argparse
    assert (
        "| `--latent-dim` D | 10 |" in text
        and "| `--tensorboard`, `--no-tensorboard` | on |" in text
    )
    assert "| `--device` {auto,cpu,cuda,cuda:N} | auto |" in text
    assert "| `--samples` N | 10000 | Monte Carlo samples" in text  # %(default)s filled in
    assert script.render() == text  # deterministic
