"""The project's documentation: commands in it work from a fresh clone."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

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
