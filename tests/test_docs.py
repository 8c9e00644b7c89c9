"""The project's documentation: its commands work from a fresh clone, its links stay inside it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from engagement import PROJECT_ROOT

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
# A command of the project's virtualenv typed without its path works only with the venv
# activated; the docs never assume that.
BARE_VENV_COMMAND = re.compile(r"(?<![/\w.-])(?:flask --app|gunicorn --config)\b")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_commands_name_the_virtualenv(document: Path):
    bare = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(document.read_text().splitlines(), start=1)
        if BARE_VENV_COMMAND.search(line)
    ]
    assert bare == []


# --- links ---------------------------------------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark")


def _slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule): lower case, no
    punctuation but hyphens, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    tokens = _MARKDOWN.parse(document.read_text())
    seen: dict[str, int] = {}
    anchors = set()
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "heading_open":
            continue
        slug = _slug(inline.content)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(document: Path) -> list[str]:
    """Every link and image target in the document (code spans and blocks are not links)."""
    targets = []
    for token in _MARKDOWN.parse(document.read_text()):
        for child in token.children or []:
            if child.type == "link_open":
                targets.append(str(child.attrGet("href")))
            elif child.type == "image":
                targets.append(str(child.attrGet("src")))
    return targets


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_every_link_resolves_inside_the_repository(document: Path):
    """Users who clone the project have only the repository: no link may leave it, and
    every relative link and anchor must resolve."""
    problems = []
    for target in _links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", target, re.IGNORECASE):
            problems.append(f"{target}: points outside the repository")
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if PROJECT_ROOT.resolve() not in resolved.parents and resolved != PROJECT_ROOT.resolve():
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            problems.append(f"{target}: no such heading")
    assert problems == []


# --- the README as the entry point ---------------------------------------------------------

README = PROJECT_ROOT / "README.md"
# Two screens of a terminal or a repository page: the README is the entry, docs/ the rest.
README_MAX_LINES = 100


def test_readme_is_short_and_starts_with_the_two_commands():
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= README_MAX_LINES
    first_block = text.split("```")[1]
    assert [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()] == [
        "make run",
        "make test",
    ]


def test_every_doc_page_is_reachable_from_the_readme():
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in _links(README)
        if target.partition("#")[0]
    }
    pages = {path.resolve() for path in (PROJECT_ROOT / "docs").glob("*.md")}
    assert sorted(str(page.relative_to(PROJECT_ROOT)) for page in pages - linked) == []


def test_every_environment_variable_is_documented_in_operations():
    from engagement.config import ENVIRONMENT_VARIABLES

    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    assert [name for name in ENVIRONMENT_VARIABLES if f"`{name}`" not in operations] == []
