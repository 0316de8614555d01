"""The README's promises: two set-up commands first, CI runs exactly the second one."""

import re
from pathlib import Path

from tcvae.cli.main import COMMAND_MODULES, build_parser

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must open with a bash block of set-up commands"
    prose = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert prose[0] == "```bash", "the set-up commands come first, before any prose"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install") and "tcvae " in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci
    assert any('"torch==2.13.0"' in line for line in ci[: ci.index(readme_commands()[1])])


def test_every_cli_option_has_help_text():
    parser = build_parser()
    sub_actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    assert sub_actions and set(sub_actions[0].choices) >= set(COMMAND_MODULES) - {"data"}
    stack = [parser]
    while stack:
        p = stack.pop()
        for action in p._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                stack.extend(action.choices.values())
            elif action.dest not in ("help", "version"):
                name = action.option_strings or action.dest
                assert action.help, f"{p.prog}: option {name} lacks help"
