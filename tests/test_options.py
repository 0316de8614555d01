"""Settings declared once: flags, help and choices come from the dataclass fields."""

import dataclasses

import pytest

from tcvae.cli.main import build_parser
from tcvae.options import OptionError, check_choices, flag_of, option, options_of
from tcvae.training.config import CONFIG_SECTIONS, ConfigError, from_dict, to_dict


@dataclasses.dataclass
class Example:
    mode: str = option("a", flag="--mode", choices=("a", "b"), help="a or b")
    size: int = option(3, flag="--size", help="how many")
    note: str = "not an option"


def test_option_fields_carry_their_flag_help_and_choices():
    fields = options_of(Example)
    assert [f.name for f in fields] == ["mode", "size"]
    assert flag_of(Example, "size") == "--size" and flag_of(Example, "note") is None
    check_choices(Example())
    with pytest.raises(OptionError, match=r"^mode must be one of \['a', 'b'\], got 'c'$") as err:
        check_choices(Example(mode="c"))
    assert err.value.option == "mode"


def test_the_train_parser_is_generated_from_the_config_fields():
    parser = build_parser()
    args = parser.parse_args(
        ["train", "--lr", "0.01", "--filter", "shape=0", "--filter", "posX=2:5"]
    )
    assert getattr(args, "optim.lr") == 0.01
    assert getattr(args, "data.filters") == [("shape", [0, 0]), ("posX", [2, 5])]
    flags = {f.metadata["flag"] for cls in CONFIG_SECTIONS.values() for f in options_of(cls)}
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert all(flag in help_text for flag in flags)


@pytest.mark.parametrize(
    ("section", "values", "needle"),
    [
        ("objective", {"beta": -1.0}, r"objective\.beta \(--beta\)"),
        ("objective", {"estimator": "iwae"}, r"objective\.estimator \(--estimator\)"),
        ("run", {"precision": "fp8"}, r"run\.precision \(--precision\) must be one of"),
        ("model", {"arch": "resnet"}, r"model\.arch \(--arch\) must be one of"),
    ],
)
def test_errors_name_the_option_from_its_declaration(section, values, needle):
    tree = to_dict(from_dict({}))
    tree[section].update(values)
    with pytest.raises(ConfigError, match=needle):
        from_dict(tree)
