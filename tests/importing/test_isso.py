"""`engagement import isso`: an Isso SQLite database, read-only, Markdown bodies."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import BodyFormat, Comment, CommentStatus
from tests.factories import list_comments

ISSO_SCHEMA = """
CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
CREATE TABLE comments (
    tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER,
    created FLOAT NOT NULL, modified FLOAT, mode INTEGER, remote_addr VARCHAR,
    text VARCHAR, author VARCHAR, email VARCHAR, website VARCHAR,
    likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, voters BLOB NOT NULL,
    notification INTEGER DEFAULT 0);
"""
JAN_2_2014 = 1388656800.5  # 2014-01-02 10:00:00.5 UTC


def isso_database(path: Path, threads, comments) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(ISSO_SCHEMA)
    connection.executemany("INSERT INTO threads VALUES (?, ?, ?)", threads)
    connection.executemany(
        "INSERT INTO comments (tid, id, parent, created, mode, remote_addr, text, author, email, website,"
        " likes, dislikes, voters) VALUES (?, ?, ?, ?, ?, '203.0.113.0', ?, ?, ?, ?, ?, ?, x'00')",
        comments,
    )
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def isso_file(tmp_path):
    return isso_database(
        tmp_path / "comments.db",
        [(1, "/2014/test/", "Test"), (2, "/", "Home")],
        [
            (1, 1, None, JAN_2_2014, 1, "Hello **there** <script>x</script>", "Ana", "ana@example.org",
             "https://ana.example", 3, 1),
            (1, 2, 1, JAN_2_2014 + 60, 1, "A reply", None, None, None, 0, 0),
            (1, 3, None, JAN_2_2014 + 120, 2, "Held", "Cy", "not an address", "javascript:alert(1)", 0, 0),
            (1, 4, None, JAN_2_2014 + 180, 4, "", None, None, None, 0, 0),
            (1, 5, 4, JAN_2_2014 + 240, 1, "Under a deleted one", None, None, None, 0, 0),
            (2, 6, 99, JAN_2_2014 + 300, 1, "Orphan", None, None, None, 0, 0),
        ],
    )


def test_threads_and_comments_come_in_through_the_markdown_path(app, client, cli, isso_file):
    before = isso_file.read_bytes()
    result = cli("import", "isso", str(isso_file))
    assert result.exit_code == 0, result.output
    assert "imported 2 new article(s), 6 comment(s) (1 orphan(s) made top-level)" in result.output
    assert isso_file.read_bytes() == before  # opened read-only

    page = list_comments(client, "2014-test")
    assert page["article"]["comment_count"] == 3
    first, deleted = page["comments"]
    assert first["body_html"] == "<p>Hello <strong>there</strong> &lt;script&gt;x&lt;/script&gt;</p>"
    assert first["score"] == 2 and first["replies"][0]["body_html"] == "<p>A reply</p>"
    assert deleted["status"] == "deleted" and deleted["replies"][0]["body_html"] == "<p>Under a deleted one</p>"
    assert list_comments(client, "index")["comments"][0]["body_html"] == "<p>Orphan</p>"

    with app.app_context():
        comments = {c.import_id: c for c in db.session.scalars(sa.select(Comment))}
    assert comments["1"].body_format is BodyFormat.MARKDOWN and comments["1"].body_source.startswith("Hello **")
    assert (comments["1"].upvotes, comments["1"].downvotes) == (3, 1)
    assert comments["3"].status is CommentStatus.PENDING
    assert (comments["3"].author_email, comments["3"].author_url) == (None, None)  # invalid ones are dropped
    assert comments["1"].created_at.timestamp() == JAN_2_2014


def test_a_map_names_the_keys_and_a_second_import_adds_nothing(client, cli, isso_file, write_file):
    key_map = write_file("map.csv", "/2014/test/,story-1\n")
    assert cli("import", "isso", str(isso_file), "--map", str(key_map)).exit_code == 0
    assert list_comments(client, "story-1")["article"]["comment_count"] == 3
    again = cli("import", "isso", str(isso_file), "--map", str(key_map))
    assert "0 comment(s)" in again.output and "6 already imported" in again.output


def test_files_that_are_not_isso_databases_are_refused(cli, write_file, tmp_path, table_counts):
    not_sqlite = cli("import", "isso", str(write_file("x.db", "just text, not a database " * 20)))
    assert not_sqlite.exit_code == 1 and "not an Isso database" in not_sqlite.output
    other = tmp_path / "other.db"
    sqlite3.connect(other).executescript("CREATE TABLE t (x);")
    wrong = cli("import", "isso", str(other))
    assert wrong.exit_code == 1 and "no such table: threads" in wrong.output
    assert table_counts() == {"articles": 0, "comments": 0}
