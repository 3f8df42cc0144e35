"""Every relative link and anchor in the repository's markdown resolves.

A newcomer follows README.md from a fresh clone: a link to a file outside the clone, a moved
file or a renamed heading leaves them stranded, so each one is checked here (no network: web
links are left alone). Anchors follow GitHub's rule for heading ids.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# [text](target) and ![alt](target); a title after the target ("...") is allowed
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
# the indentation is spaces and tabs only: `\s*` also took the blank line before a fence, so the fence
# closed only where a blank line and a fence met again, and the prose between two blocks went unchecked
_FENCE = re.compile(r"^([ \t]*)(```|~~~)[^\n]*\n.*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`+[^`\n]*`+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
_HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)


def markdown_files() -> list[Path]:
    # the tracked files only: node_modules and a local .venv hold markdown of their own
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def _strip_code(text: str) -> str:
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def github_slug(heading: str) -> str:
    """GitHub's heading id: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    kept = []
    for char in text:
        if char in " -_" or unicodedata.category(char)[0] in "LNM":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    found: set[str] = set(_HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(text):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return found


def links(text: str) -> list[str]:
    text = _strip_code(text)
    return _LINK.findall(text) + _REFERENCE.findall(text)


def broken_links(text: str, page: Path) -> list[str]:
    """The links of `text`, written in `page`, that do not resolve inside the repository."""
    broken = []
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http(s), mailto: the network is not asked here
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository (a fresh clone does not have it)")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    return broken


def test_the_repository_has_markdown() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in markdown_files()}
    assert {"README.md", "deploy/README.md", "bench/README.md"} <= names


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert broken_links(path.read_text(encoding="utf-8"), path) == []


def test_the_checker_finds_what_is_broken() -> None:
    # the checker must be able to fail: a missing file, a missing anchor, a file outside the clone
    assert github_slug("Two brokers: embedded Tansu (default) or Apache Kafka") == (
        "two-brokers-embedded-tansu-default-or-apache-kafka"
    )
    assert github_slug("`make run` and Ctrl-C") == "make-run-and-ctrl-c"
    assert "two-commands" in anchors(ROOT / "README.md")
    text = (
        "[a](__not_a_file__.md) [b](#no-such-heading) [c](../outside.md) [d](#two-commands)\n"
        "`[e](ignored.md)` [f](https://example.org/x) ![g](deploy/README.md#no-anchor-here)\n"
        "```\n[h](in-a-fence.md)\n```\n"
    )
    found = [line.split(":")[0] for line in broken_links(text, ROOT / "README.md")]
    assert found == [
        "__not_a_file__.md",
        "#no-such-heading",
        "../outside.md",
        "deploy/README.md#no-anchor-here",
    ]
    # prose between two fenced blocks is prose: its links are checked
    between = "intro\n\n```sh\nmake run\n```\n\n[i](between-fences.md)\n\n```\n[j](in-the-second.md)\n```\n"
    assert [line.split(":")[0] for line in broken_links(between, ROOT / "README.md")] == ["between-fences.md"]
