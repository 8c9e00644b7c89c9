"""Fixtures for the import and export commands: a CLI runner and files written per test."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result

from engagement.extensions import db
from engagement.models import Article, Comment


@pytest.fixture
def cli(app) -> Callable[..., Result]:
    runner = app.test_cli_runner()

    def invoke(*args: str) -> Result:
        return runner.invoke(args=["engagement", *args])

    return invoke


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def table_counts(app) -> Callable[[], dict[str, int]]:
    """How many articles and comments the database holds (to show it unchanged)."""

    def counts() -> dict[str, Any]:
        with app.app_context():
            result = {
                "articles": db.session.scalar(sa.select(sa.func.count()).select_from(Article)),
                "comments": db.session.scalar(sa.select(sa.func.count()).select_from(Comment)),
            }
            db.session.remove()
            return result

    return counts
