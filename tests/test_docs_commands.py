"""Every command the README and the docs show is one this checkout accepts.

A newcomer copies `styrkedja …` lines from the markdown: a renamed flag, a sub-command that moved or a
value the parser refuses strands them on the first page. Each command shown in code (fenced blocks and
`inline code`, in every tracked markdown file) is parsed here by the parser that would run it — the
`styrkedja` CLI (typer), the kit's ops commands (`styrkedja migrate|replay|topics`, `python -m
styrkedja_kit …`) and reporting's rebuild — without running it; `styrkedja token` is run for real against a
throw-away dev issuer key, since its roles and claims are checked after parsing. A bare name in prose
(`styrkedja token`) must name a command that exists. Every `make X` names a Makefile target, and every
module (`styrkedja_kit.auth`) and repository path written in code exists, so a module moved leaves no
page pointing at nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from test_docs_links import _FENCE, ROOT, markdown_files
from typer.testing import CliRunner

from styrkedja_cli.main import app

#: what a placeholder in a shown command stands for when it is parsed (unknown ones fail the test: add them)
PLACEHOLDERS = {
    "N": "2", "S": "5", "ID": "2980", "ORG": "2980", "NAME": "Mittköping", "ROLE": "organiser_admin",
    "T": "2026-11-01T00:00:00Z", "TIME": "2026-11-01T00:00:00Z", "URL": "http://127.0.0.1:9/ss12000",
    "PATH": ".styrkedja/demo/ss12000", "G": "reporting", "GROUP": "reporting", "TOPIC": "styrkedja.assessments",
    "CODE": "29990011", "AREA_ID": "north", "UNIT/GROUP": "29990011/7A", "CODE/GROUP": "29990011/7A",
    "SCHOOLUNITCODE/GROUP": "29990011/7A", "styrkedja_<service>": "styrkedja_assessment",
}
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z_/]*$")
_INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
#: where a command starts inside code: the CLI (also as .venv/bin/styrkedja) or the python -m forms
_START = re.compile(r"(?:(?<=^)|(?<=[\s(=\"']))(?:[\w./-]*/)?(styrkedja|python -m styrkedja_kit|"
                    r"python -m styrkedja_reporting\.rebuild)(?=\s|$)")
#: where it ends: a shell separator, a closing `$(…)`, a comment, the end of the code span
_END = re.compile(r"\s*(?:;|&&|\)|\s\|\s|\s#|`|$)")
_MAKE = re.compile(r"(?:^|[\s(])make\s+((?:[A-Z_]+=\S+\s+)*)([a-z][\w-]*)")
_DEMO_ARGS = re.compile(r"DEMO_ARGS=\"([^\"]*)\"")
#: the kit's ops commands pass their arguments through the typer command to the kit's argparse parser
KIT_COMMANDS = {"migrate", "replay", "topics"}


def code_texts(text: str) -> Iterator[str]:
    """Each line of every fenced block (with `\\` continuations joined) and every inline code span."""
    for fence in _FENCE.finditer(text):
        body = fence.group(0).split("\n", 1)[1].rsplit("\n", 1)[0]
        yield from body.replace("\\\n", " ").splitlines()
    for span in _INLINE.finditer(_FENCE.sub("", text)):
        yield span.group(1).replace("\n", " ")


def shown_commands(text: str) -> list[tuple[str, list[str]]]:
    """(program, arguments) of every command shown in code; `program` is `styrkedja` or a python -m form."""
    found = []
    for code in code_texts(text):
        for start in _START.finditer(code):
            if code[: start.start()].split()[-1:] in (["-n"], ["--namespace"]):
                continue  # `kubectl -n styrkedja …`: the namespace, not the command
            rest = code[start.end():]
            end = _END.search(rest)
            words = rest[: end.start() if end else len(rest)].split()
            found.append((start.group(1), words))
        for demo_args in _DEMO_ARGS.findall(code):
            found.append(("styrkedja", ["demo", *demo_args.split()]))
    return found


def concrete(words: list[str]) -> list[str]:
    """The words as a shell would pass them, optional parts `[...]` taken, placeholders filled in."""
    out = []
    for word in words:
        word = word.strip("[]")
        if word in ("", "...", "…"):
            continue
        if word in PLACEHOLDERS:
            word = PLACEHOLDERS[word]
        elif "|" in word and word.startswith("-") is False and out:
            word = word.split("|")[0]  # an option's alternatives (`embedded|kafka`): the first stands for all
        if "<" in word or _PLACEHOLDER.match(word) and len(word) <= 12 and not word.startswith("STYRKEDJA"):
            raise AssertionError(f"placeholder {word!r}: add what it stands for to PLACEHOLDERS")
        out.append(shlex.split(word)[0] if word.count('"') == 2 else word)
    return out


def _argparse_problem(parse: Any, argv: list[str]) -> str | None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parse(argv)
        except SystemExit as stop:
            if stop.code not in (0, None):
                return err.getvalue().strip().splitlines()[-1]
    return None


def kit_problem(argv: list[str]) -> str | None:
    from styrkedja_kit.__main__ import parser

    return _argparse_problem(parser("styrkedja").parse_args, argv)


def rebuild_problem(argv: list[str]) -> str | None:
    from styrkedja_reporting.rebuild.command import argument_parser

    return _argparse_problem(argument_parser().parse_args, argv)


def token_problem(argv: list[str], state_dir: Path) -> str | None:
    """`styrkedja token` run for real: its roles and claims are checked after parsing."""
    (state_dir / "issuer").mkdir(parents=True, exist_ok=True)
    (state_dir / "issuer" / "issuer.json").write_text(json.dumps({"issuer": "http://127.0.0.1:8090"}))
    result = CliRunner().invoke(app, ["token", *argv, "--state-dir", str(state_dir)])
    if result.exit_code != 0:
        return result.output.strip().replace("\n", " ")
    return None if result.output.count(".") == 2 else f"printed no token: {result.output!r}"


def cli_problem(words: list[str], state_dir: Path) -> str | None:
    """Why `styrkedja <words>` would not be accepted, or None."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(words)
    if rest and "|" in rest[0]:  # `styrkedja migrate|replay|topics`: several commands named at once
        missing = [name for name in rest[0].split("|") if name not in command.commands]
        return f"no such commands: {missing}" if missing else None
    while rest and isinstance(getattr(command, "commands", None), dict) and not rest[0].startswith("-"):
        if rest[0] not in command.commands:
            return f"styrkedja {' '.join(path)}: no command {rest[0]!r} (it has {sorted(command.commands)})"
        path.append(rest.pop(0))
        command = command.commands[path[-1]]
    if not path:
        return None if not rest else f"no command in {rest}"  # `styrkedja` alone: the CLI named in prose
    if not rest:
        return None  # the command named in prose
    if all(word.startswith("--") for word in rest) and hasattr(command, "params"):
        # prose naming a command's options (`styrkedja token --organiser`): each must be one of them
        names = {name for param in command.params for name in getattr(param, "opts", [])}
        if set(rest) <= names:
            return None
    if path == ["token"]:
        return token_problem(rest, state_dir)
    if path[0] in KIT_COMMANDS:
        return kit_problem([path[0], *rest])
    if path == ["rebuild", "reporting"]:
        return rebuild_problem(rest)
    try:
        command.make_context("styrkedja " + " ".join(path), rest)
    except Exception as refused:  # click's usage errors (typer's own click: not imported by name)
        return f"{type(refused).__name__}: {refused}"
    return None


def problem(program: str, words: list[str], state_dir: Path) -> str | None:
    argv = concrete(words)
    if not argv and words:
        return None  # `python -m styrkedja_kit …`: the command named in prose, its arguments left out
    if program == "python -m styrkedja_kit":
        if argv and "|" in argv[0]:  # `python -m styrkedja_kit migrate|replay|topics`: the commands named
            missing = set(argv[0].split("|")) - KIT_COMMANDS
            return f"no such commands: {sorted(missing)}" if missing else None
        return kit_problem(argv)
    if program == "python -m styrkedja_reporting.rebuild":
        return rebuild_problem(argv)
    return cli_problem(argv, state_dir)


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", (ROOT / "Makefile").read_text(), re.MULTILINE))


#: the importable packages of this repository (a dotted name in the docs is checked when it starts with one)
PACKAGES = {path.name for pattern in ("packages/*/src/*", "services/*/src/*") for path in ROOT.glob(pattern)
            if (path / "__init__.py").exists()}
_DOTTED = re.compile(r"(?<![\w/.-])(styrkedja_[a-z_]+(?:\.[A-Za-z_]\w*)*)")
_REPO_PATH = re.compile(r"^(?:\./)?((?:packages|services|tests|bench|deploy|docs|requirements|\.ci)/[\w./-]+)")


def dotted_problem(name: str) -> str | None:
    """Why `name` (`styrkedja_kit.kafka.group_timing`) names nothing importable, or None."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
        except ModuleNotFoundError:
            continue
        thing: Any = importlib.import_module(module_name)
        for attribute in parts[cut:]:
            if not hasattr(thing, attribute):
                return f"{module_name} has no {'.'.join(parts[cut:])}"
            thing = getattr(thing, attribute)
        return None
    return "no such module"


def path_problem(path: str, page: Path) -> str | None:
    """A path written in code resolves from the repository root, from the page's package, or (a README's
    "each service's `tests/...`") inside some package or service."""
    roots = [ROOT, page.parent, *[p for p in page.parents if (p / "pyproject.toml").exists()],
             *ROOT.glob("packages/*"), *ROOT.glob("services/*")]
    return None if any((root / path).exists() for root in roots) else "no such file or folder"


def pages() -> list[Path]:
    return markdown_files()


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_shown_command_parses(page: Path, tmp_path: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = []
    for program, words in shown_commands(text):
        why = problem(program, words, tmp_path)
        if why is not None:
            problems.append(f"`{program} {' '.join(words)}`: {why}")
    assert problems == []


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_make_target_modules_and_paths_shown_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    targets = makefile_targets()
    problems = []
    for code in code_texts(text):
        problems += [f"make {target}: no such target" for _, target in _MAKE.findall(code) if target not in targets]
        for name in {n.rstrip(".") for n in _DOTTED.findall(code)}:
            if name.split(".")[0] in PACKAGES and (why := dotted_problem(name)):
                problems.append(f"{name}: {why}")
        for word in re.split(r"[\s,()]+", code):
            found = _REPO_PATH.match(word)
            if found and "kubectl" not in code and not any(mark in word for mark in "<>…*{}$") and "..." not in word:
                path = found.group(1).rstrip(".,:;")
                if why := path_problem(path, page):
                    problems.append(f"{path}: {why}")
    assert problems == []


def test_the_readme_shows_the_commands_a_newcomer_runs() -> None:
    # the checks above must have something to check: the README's own token, demo, import and ops lines
    shown = {tuple(words[:2]) for program, words in shown_commands((ROOT / "README.md").read_text())
             if program == "styrkedja" and words}
    assert {("token", "--role"), ("import", "ss12000"), ("replay", "--since"), ("rebuild", "reporting")} <= shown
    assert any(words[:1] == ["demo"] for _, words in shown_commands((ROOT / "README.md").read_text()))


def test_the_checks_can_fail(tmp_path: Path) -> None:
    text = ("```sh\nTOKEN=$(.venv/bin/styrkedja token --role headmaster --organiser 2980)\n"
            ".venv/bin/styrkedja demo --students 10\nmake nothing-here\n```\n"
            "`styrkedja replay --since yesterday` and `styrkedja import ss12000 --dir PATH --reporting-token T` "
            "and `styrkedja rebuild reporting --chunks 5` and `styrkedja frobnicate` and `styrkedja_kit.no_such`\n")
    verdicts = [problem(program, words, tmp_path) for program, words in shown_commands(text)]
    assert [why is None for why in verdicts] == [False, False, False, True, False, False]
    assert "headmaster" in str(verdicts[0]) and "greater than or equal to 50" in str(verdicts[1])
    assert "--since" in str(verdicts[2]) and "--chunks" in str(verdicts[4]) and "frobnicate" in str(verdicts[5])
    assert [t for _, t in _MAKE.findall(text) if t not in makefile_targets()] == ["nothing-here"]
    assert dotted_problem("styrkedja_kit.no_such") == "no such module" or dotted_problem("styrkedja_kit.no_such")
    assert dotted_problem("styrkedja_kit.kafka.group_timing") is None
    assert path_problem("packages/kit/src/styrkedja_kit/nothing.py", ROOT / "README.md") is not None
    with pytest.raises(AssertionError, match="placeholder"):
        concrete(["--organiser", "SOMETHING"])


_VARIABLE = re.compile(r"(?<![.\w])(STYRKEDJA_[A-Z0-9_]*[A-Z0-9])\b(?![<*_])")
_SETTINGS_MODULES = ("styrkedja_kit.settings", "styrkedja_assessment.settings", "styrkedja_forecast.settings",
                     "styrkedja_lika.settings", "styrkedja_reporting.settings", "styrkedja_dashboard.settings")


def known_variables() -> set[str]:
    """The settings' variables (prefix + field, as pydantic-settings reads them) and every `STYRKEDJA_…` the
    code, the Makefile, compose and CI name."""
    known: set[str] = set()
    for module in map(importlib.import_module, _SETTINGS_MODULES):
        for thing in vars(module).values():
            fields, config = getattr(thing, "model_fields", None), getattr(thing, "model_config", None)
            if isinstance(fields, dict) and isinstance(config, dict):
                known |= {(config.get("env_prefix", "") + name).upper() for name in fields}
    listed = subprocess.run(["git", "ls-files", "*.py", "*.yml", "*.yaml", "*.toml", "*.example", "Makefile", ".ci/*"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        if (ROOT / name).is_file() and name != "tests/test_docs_commands.py":  # not the made-up one below
            known |= set(_VARIABLE.findall((ROOT / name).read_text(encoding="utf-8", errors="replace")))
    return known


def test_every_variable_the_docs_name_is_read_somewhere() -> None:
    known = known_variables()
    assert "STYRKEDJA_DATABASE_URL" in known and "STYRKEDJA_EMBEDDED_PG_PORT" in known
    named = {(page.relative_to(ROOT).as_posix(), name) for page in markdown_files()
             for name in _VARIABLE.findall(page.read_text(encoding="utf-8"))}
    assert sorted((page, name) for page, name in named if name not in known) == []
    assert "STYRKEDJA_NO_SUCH_SETTING" not in known
