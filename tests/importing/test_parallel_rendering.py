"""Bodies sanitised by worker processes: the same HTML, the same order, bounded memory."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.importing import rendering
from engagement.importing.records import ImportedComment, ImportedThread, Skipped
from engagement.models import BodyFormat, Comment, CommentStatus
from engagement.services.comments import render_source
from tests.importing.disqus_files import export, post, thread

BODIES = [
    "<![CDATA[<p>Hello <b>world</b> <script>alert(1)</script> see example.com</p>]]>",
    "&lt;p&gt;Entities &amp;amp; <![CDATA[<a href='javascript:alert(1)' onclick='x()'>link</a>]]>&lt;/p&gt;",
    "<![CDATA[<blockquote><p>quoted<p>unclosed</blockquote><img src=x onerror=alert(1)>]]>",
    "Plain text with https://example.org/path?q=1 in it",
]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 records and workers from the second chunk on, so a small file uses them."""
    monkeypatch.setattr(rendering, "CHUNK_SIZE", 3)
    monkeypatch.setattr(rendering, "INLINE_CHUNKS", 1)


def site(posts: int) -> str:
    return export(
        thread("1", "https://example.org/one/"),
        thread("2", "https://example.org/two/"),
        *[post(str(n), str(1 + n % 2), BODIES[n % len(BODIES)], parent=str(n - 2) if n % 3 == 2 else None)
          for n in range(100, 100 + posts)],
    )


def stored(app) -> dict[str, tuple]:
    with app.app_context():
        comments = db.session.scalars(sa.select(Comment)).all()
        import_ids = {comment.id: comment.import_id for comment in comments}
        result = {
            comment.import_id: (comment.body_source, comment.body_html, comment.status,
                                import_ids.get(comment.parent_id), comment.depth)
            for comment in comments
        }
        db.session.remove()
        return result


def wipe(app) -> None:
    with app.app_context():
        db.session.execute(sa.delete(Comment))
        db.session.commit()
        db.session.remove()


def test_an_import_rendered_by_workers_stores_what_one_process_stores(app, cli, write_file, small_chunks):
    path = write_file("site.xml", site(25))
    assert cli("import", "disqus", str(path), "--workers", "0").exit_code == 0
    alone = stored(app)
    wipe(app)
    result = cli("import", "disqus", str(path), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert stored(app) == alone
    assert len(alone) == 25
    assert all("<script" not in html and "onerror" not in html and "javascript:" not in html
               for _, html, *_ in alone.values())


def test_a_file_that_breaks_while_workers_render_leaves_the_database_unchanged(cli, write_file, table_counts,
                                                                             small_chunks):
    document = site(20)
    result = cli("import", "disqus", str(write_file("cut.xml", document[:-200])), "--workers", "2")
    assert result.exit_code == 1 and "line" in result.output and "nothing was imported" in result.output
    assert table_counts() == {"articles": 0, "comments": 0}


def comment(number: int, body: str = "<p>hi <b>there</b></p>") -> ImportedComment:
    return ImportedComment(
        source="test", source_id=str(number), thread_ref="t", created_at=datetime(2020, 1, 1, tzinfo=timezone.utc),
        body=body, body_format=BodyFormat.HTML if number % 2 else BodyFormat.MARKDOWN, status=CommentStatus.APPROVED,
    )


def test_records_keep_their_order_and_only_comments_gain_html(small_chunks):
    records = [ImportedThread(ref="t"), Skipped("a pingback"),
               *[comment(n, f"**{n}** <i>x</i>\x00") for n in range(10)], ImportedThread(ref="u")]
    out = list(rendering.with_rendered_bodies(records, workers=2))
    assert [record for record, _ in out] == records
    assert [html is None for _, html in out] == [not isinstance(record, ImportedComment) for record in records]
    for record, html in out[2:-1]:
        assert html == render_source(record.body.replace("\x00", ""), record.body_format)


def test_workers_read_the_stream_a_few_chunks_ahead_not_all_of_it(small_chunks):
    """Memory stays bounded: a record comes out long before the whole stream was read."""
    read = 0

    def stream():
        nonlocal read
        for n in range(3000):
            read += 1
            yield comment(n)

    rendered = rendering.with_rendered_bodies(stream(), workers=2)
    for _ in range(3 + 1):  # the inline chunk, then the first record a worker rendered
        next(rendered)
    assert read <= 3 * (1 + 2 * 2 + 1 + 1)
    rendered.close()


def test_the_importing_connection_gets_its_own_page_cache_back(app, is_postgres):
    """A large page cache is for the import only, failed or not (the connection goes back to the pool)."""
    if is_postgres:
        pytest.skip("a SQLite setting")
    from engagement.importing.keys import KeyRule
    from engagement.importing.records import ImportFailed
    from engagement.services import importing

    during = []

    def records(fail: bool):
        yield ImportedThread(ref="t", url="https://example.org/t/")
        during.append(db.session.execute(sa.text("PRAGMA cache_size")).scalar_one())
        yield comment(1)
        if fail:
            raise ImportFailed("cut short")

    with app.app_context():
        before = db.session.execute(sa.text("PRAGMA cache_size")).scalar_one()
        for fail in (False, True):
            try:
                importing.import_records(db.session, app.extensions["engagement.keyring"],
                                         app.extensions["engagement.settings"], records(fail),
                                         keys=KeyRule(), now=datetime(2021, 1, 1, tzinfo=timezone.utc))
            except ImportFailed:
                pass
            assert db.session.execute(sa.text("PRAGMA cache_size")).scalar_one() == before
        db.session.rollback()
        db.session.remove()
    assert during == [-importing.IMPORT_SQLITE_CACHE_KIB] * 2 != [before] * 2
