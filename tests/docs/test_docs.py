"""Docs that cannot drift: every command, config and link in README.md and docs/ is checked against
the code, and the README's Python tour runs.

Conventions the checks rely on (docs/README.md lists the kinds of page):
- a ```toml block starts with a comment naming what it is: ``# a train config`` (read by
  ``tcvae train --config``) or ``# a sweep spec`` (read by ``tcvae sweep``);
- a command in a ```bash block is checked when it starts with ``tcvae``, ``python -m tcvae`` or
  ``torchrun ... -m tcvae`` (also after ``&&``); ``\\`` continues a line, ``#`` starts a comment;
- "REFERENCE.md section N" (in the code's docstrings) means section N of
  docs/reference/algorithms.md.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import sys
from pathlib import Path

import pytest

from tcvae.cli.main import build_parser
from tcvae.experiments.spec import METHOD_LABELS, parse_spec
from tcvae.training.resolve import bundled_presets, merge, resolve_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [README, *DOCS]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
# Markers of a sentence about an earlier state, which may quote old settings.
HISTORY = re.compile(r"\b(then|earlier|first version|of the time|was|were|until|before)\b")


def blocks(path: Path, language: str) -> list[tuple[int, str]]:
    """(line number, text) of every fenced block of ``language`` in ``path``."""
    text = path.read_text()
    return [
        (text[: m.start()].count("\n") + 2, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) == language
    ]


def prose(path: Path) -> str:
    """The page without its fenced blocks."""
    return FENCE.sub("", path.read_text())


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# (a) commands ------------------------------------------------------------------------------------


def tcvae_argv(command: str) -> list[str] | None:
    """The arguments after ``tcvae`` in one shell command, or None if it is not a tcvae command."""
    words = shlex.split(command, comments=True)
    if words[:1] == ["tcvae"]:
        return words[1:]
    for i in range(len(words) - 1):
        if words[i] == "-m" and words[i + 1] == "tcvae" and words[0] in ("python", "torchrun"):
            return words[i + 2 :]
    return None


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for start, block in blocks(page, "bash"):
            text = block.replace("\\\n", " ")
            for offset, line in enumerate(text.splitlines()):
                for part in line.split("&&"):
                    argv = tcvae_argv(part.strip()) if part.strip() else None
                    if argv is not None:
                        found.append((f"{rel(page)}:{start + offset}: {part.strip()}", argv))
    return found


def test_the_docs_show_tcvae_commands():
    names = {argv[0] for _, argv in commands() if argv}
    assert {"demo", "train", "evaluate", "report", "score", "sweep"} <= names


def test_every_command_in_the_docs_parses():
    parser = build_parser()
    failures = []
    for where, argv in commands():
        if "--help" in argv or "-h" in argv or "--version" in argv:
            continue
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                parser.parse_args(argv)
        except SystemExit:
            failures.append(f"{where}\n    {err.getvalue().strip().splitlines()[-1]}")
    assert not failures, "commands the CLI rejects:\n" + "\n".join(failures)


# (b) TOML examples -------------------------------------------------------------------------------


def test_every_toml_example_loads(tmp_path):
    failures = []
    for page in PAGES:
        for line, block in blocks(page, "toml"):
            where = f"{rel(page)}:{line}"
            kind = block.splitlines()[0].strip() if block.strip() else ""
            try:
                if kind == "# a train config":
                    file = tmp_path / "run.toml"
                    file.write_text(block)
                    resolve_config(file=file)
                elif kind == "# a sweep spec":
                    parse_spec(tomllib.loads(block))
                else:
                    failures.append(
                        f"{where}: start the block with '# a train config' or "
                        f"'# a sweep spec', got {kind!r}"
                    )
            except Exception as err:  # any error is a broken example; report them all
                failures.append(f"{where}: {type(err).__name__}: {err}")
    assert not failures, "\n".join(failures)


# (c) links and section references ----------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in prose(path).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = github_anchor(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def test_every_relative_link_resolves():
    failures = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(page)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                failures.append(f"{rel(page)}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                failures.append(f"{rel(page)}: {target}: no heading with anchor #{anchor}")
    assert not failures, "\n".join(failures)


def test_every_section_reference_exists():
    """'REFERENCE.md section N' in the code and '[algorithms.md](...) section N' in the docs."""
    algorithms = ROOT / "docs" / "reference" / "algorithms.md"
    sections = {int(n) for n in re.findall(r"^## (\d+)\.", algorithms.read_text(), re.M)}
    pattern = re.compile(
        r"(?:REFERENCE\.md|algorithms\.md\]\([^)]*\))\s*(?:sections?|s\.?)?\s*(\d+)"
        r"(?:\s*(?:-|–|and)\s*(\d+))?"
    )
    failures = []
    for path in [*PAGES, *sorted((ROOT / "src").rglob("*.py"))]:
        for m in pattern.finditer(path.read_text()):
            for n in filter(None, m.groups()):
                if int(n) not in sections:
                    failures.append(f"{rel(path)}: {m.group(0)!r}: no section {n}")
    assert not failures, "\n".join(failures)


# (d) the README's Python tour --------------------------------------------------------------------

# The tour runs as written, except that tcvae.resolve_config adds these settings over whatever the
# README asks for, so that it trains for seconds on a small subset, and tcvae.decompose_elbo draws
# at most TINY_SAMPLES Monte-Carlo samples.
TINY = {"data": {"subset": 2000}, "optim": {"max_steps": 20}, "run": {"tensorboard": False}}
TINY_SAMPLES = 1000


def test_the_readme_python_tour_runs(tmp_path, monkeypatch):
    import tcvae

    def tiny_config(*args, overrides=None, **kwargs):
        return resolve_config(*args, overrides=merge(overrides or {}, TINY), **kwargs)

    decompose_elbo = tcvae.decompose_elbo

    def few_samples(*args, samples=TINY_SAMPLES, **kwargs):
        return decompose_elbo(*args, samples=min(samples, TINY_SAMPLES), **kwargs)

    monkeypatch.setattr(tcvae, "resolve_config", tiny_config)
    monkeypatch.setattr(tcvae, "decompose_elbo", few_samples)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TCVAE_CACHE_DIR", str(tmp_path / "cache"))
    tours = blocks(README, "python")
    assert tours, "the README has a Python tour"
    namespace: dict = {"print": lambda *args: None}
    for line, code in tours:
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)
    score, terms = namespace["score"], namespace["terms"]
    assert 0.0 <= score.mig <= 1.0
    assert score.mig == pytest.approx(float(score.gaps.mean()), abs=1e-12)
    total = terms.index_code_mi + terms.total_correlation + terms.dimwise_kl
    assert abs(total - terms.analytic_kl) < 5 * terms.kl_estimate_stderr + 0.05


# Generated reference pages -----------------------------------------------------------------------


def test_the_config_and_presets_references_are_up_to_date():
    script = ROOT / "scripts" / "config_reference.py"
    spec = importlib.util.spec_from_file_location("config_reference", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, text in (
        (module.CONFIG_MD, module.config_markdown()),
        (module.PRESETS_MD, module.presets_markdown()),
    ):
        assert path.read_text() == text, f"{rel(path)} is stale: run python {rel(script)}"


# Contradictions found before; each check fails on the text that had it ---------------------------


def test_no_page_claims_the_demo_no_longer_depends_on_the_seed():
    claims = re.compile(
        r"(stop(ped|s)? depending|no longer depends?|independent of the seed|"
        r"every seed (measured )?disentangles)",
        re.I,
    )
    found = [f"{rel(p)}: {m.group(0)!r}" for p in PAGES for m in claims.finditer(prose(p))]
    assert not found, "the demo's outcome depends on the seed (docs/lab-notes/demo.md):\n" + (
        "\n".join(found)
    )


MACHINE = re.compile(r"AMD EPYC|Xeon|AVX|H100|H200|A100|GPU|\b2-core|two-core|two cores")
DATE = re.compile(
    r"(January|February|March|April|May|June|July|August|September|October|"
    r"November|December)\s+20\d\d|20\d\d-\d\d"
)
MEASURED = re.compile(r"\d[\d,.]* images/s|\d[\d,.]* [MG]iB\b|\bMIG \d\.\d+")


def test_readme_figures_name_their_machine_and_date():
    failures = []
    for paragraph in re.split(r"\n\s*\n", prose(README)):
        if MEASURED.search(paragraph) and not (
            MACHINE.search(paragraph) and DATE.search(paragraph)
        ):
            failures.append(paragraph.strip()[:120])
    assert not failures, "measured figures without their machine and date:\n" + "\n".join(failures)


def test_every_lab_note_section_names_its_date_and_machine():
    failures = []
    for page in sorted((ROOT / "docs" / "lab-notes").glob("*.md")):
        for section in re.split(r"\n(?=## )", prose(page))[1:]:
            head = section.splitlines()[0]
            if not (DATE.search(section) and MACHINE.search(section)):
                failures.append(f"{rel(page)}: {head}")
    assert not failures, "lab-note sections without a date and a machine:\n" + "\n".join(failures)


# Benchmark output, or a figure dated on a named machine: lab-note material.
BENCHMARK = re.compile(r"\d[\d,.]* images/s|\bpeak RSS\b|ru_maxrss|mallinfo")


def test_tutorials_and_reference_leave_measurements_to_the_lab_notes():
    failures = []
    for kind in ("tutorials", "reference"):
        for page in sorted((ROOT / "docs" / kind).glob("*.md")):
            for paragraph in re.split(r"\n\s*\n", prose(page)):
                dated_on_a_machine = DATE.search(paragraph) and MACHINE.search(paragraph)
                if BENCHMARK.search(paragraph) or dated_on_a_machine:
                    failures.append(f"{rel(page)}: {paragraph.strip()[:100]}")
    assert not failures, "measurements belong in docs/lab-notes (dated, with the machine):\n" + (
        "\n".join(failures)
    )


def test_the_docs_index_lists_every_page():
    index = ROOT / "docs" / "README.md"
    linked = [
        (index.parent / target).resolve()
        for target in re.findall(r"\]\(([^)\s#]+\.md)(?:#[^)]*)?\)", prose(index))
    ]
    pages = [p for p in DOCS if p != index]
    missing = [rel(p) for p in pages if p not in linked]
    assert not missing, f"docs/README.md does not list {missing}"
    kinds = ("tutorials", "reference", "lab-notes")
    outside = [rel(p) for p in pages if p.parent.name not in kinds]
    assert not outside, f"pages outside the three kinds {kinds}: {outside}"


def test_the_sweep_spec_reference_lists_every_method():
    text = (ROOT / "docs" / "reference" / "sweep-spec.md").read_text()
    missing = [m for m in METHOD_LABELS if f"`{m}`" not in text]
    assert not missing, f"docs/reference/sweep-spec.md does not list {missing}"


def test_statements_of_a_presets_batch_size_match_the_preset():
    """'the mini preset ... batch N' in the docs and preset comments, unless about an earlier
    version, must give the preset's batch size."""
    presets = bundled_presets("tcvae.experiments")
    files = [*PAGES, *sorted((ROOT / "src" / "tcvae" / "experiments" / "presets").glob("*.toml"))]
    failures = []
    for name, tree in presets.items():
        batch = tree.get("train", {}).get("optim", {}).get("batch_size")
        if batch is None:
            continue
        said = re.compile(rf"`?{re.escape(name)}`?(?: preset)?[^.;]{{0,80}}?\bbatch (\d+)")
        for path in files:
            for sentence in re.split(r"(?<=[.;])\s", path.read_text()):
                for m in said.finditer(sentence):
                    if int(m.group(1)) != batch and not HISTORY.search(sentence):
                        failures.append(f"{rel(path)}: {m.group(0)!r} (the preset: {batch})")
    assert not failures, "\n".join(failures)


def test_the_readme_states_what_cpu_small_gives():
    paragraphs = [p for p in re.split(r"\n\s*\n", prose(README)) if "cpu-small" in p]
    assert any(
        re.search(r"MIG \d\.\d+", p) and re.search(r"\d+\s*(s|min|minutes|seconds)\b", p)
        for p in paragraphs
    ), "the README must say what MIG and time tcvae train --preset cpu-small gives"


def test_the_readme_install_chooses_the_torch_build():
    lines = [line for _, block in blocks(README, "bash") for line in block.splitlines()]
    assert any("download.pytorch.org/whl/cpu" in line for line in lines), "a CPU install line"
    assert any(re.search(r"download\.pytorch\.org/whl/cu\d+", line) for line in lines), "a CUDA one"


def test_the_readme_stays_short():
    assert len(README.read_text().split()) <= 1250
