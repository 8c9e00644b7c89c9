"""`engagement import wordpress`: WXR items and their comments."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.importing.wordpress import with_paragraphs
from engagement.models import Comment, CommentStatus
from tests.factories import get_article, list_comments

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
    ' xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:wp="http://wordpress.org/export/{version}/">\n<channel><title>A site</title>'
    "<link>https://blog.example</link><wp:wxr_version>{version}</wp:wxr_version>"
    "<wp:author><wp:author_login>admin</wp:author_login></wp:author>\n"
)


def wxr(*items: str, version: str = "1.2") -> str:
    return HEADER.format(version=version) + "".join(items) + "</channel></rss>\n"


def item(post_id: str, link: str, *comments: str, title: str = "Hello", status: str = "publish",
         comment_status: str = "open") -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">{link}</guid>"
        f"<wp:post_id>{post_id}</wp:post_id><wp:post_date_gmt>2014-01-01 09:00:00</wp:post_date_gmt>"
        f"<wp:comment_status>{comment_status}</wp:comment_status><wp:status>{status}</wp:status>"
        "<wp:post_type>post</wp:post_type>" + "".join(comments) + "</item>\n"
    )


def comment(comment_id: str, content: str, *, parent: str = "0", approved: str = "1", author: str = "Ana",
            email: str = "ana@example.org", url: str = "", gmt: str = "2014-01-02 10:00:00",
            local: str = "2014-01-02 12:00:00", kind: str = "comment") -> str:
    return (
        f"<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>"
        f"<wp:comment_author><![CDATA[{author}]]></wp:comment_author>"
        f"<wp:comment_author_email>{email}</wp:comment_author_email>"
        f"<wp:comment_author_url>{url}</wp:comment_author_url>"
        "<wp:comment_author_IP>192.0.2.55</wp:comment_author_IP>"
        f"<wp:comment_date>{local}</wp:comment_date><wp:comment_date_gmt>{gmt}</wp:comment_date_gmt>"
        f"<wp:comment_content><![CDATA[{content}]]></wp:comment_content>"
        f"<wp:comment_approved>{approved}</wp:comment_approved><wp:comment_type>{kind}</wp:comment_type>"
        f"<wp:comment_parent>{parent}</wp:comment_parent><wp:comment_user_id>0</wp:comment_user_id></wp:comment>"
    )


def stored(app) -> dict[str, Comment]:
    with app.app_context():
        comments = db.session.scalars(sa.select(Comment)).all()
        db.session.remove()
    return {c.import_id: c for c in comments}


BLOG = wxr(
    item("4", "https://blog.example/?p=4",
         comment("1", "First line\nsecond line\n\nNew paragraph <em>here</em> <img src=x onerror=alert(1)>",
                 url="https://ana.example"),
         comment("2", "<p>A reply</p>", parent="1", author="Bo", email=""),
         comment("3", "Waiting", approved="0"),
         comment("4", "Viagra", approved="spam"),
         comment("5", "Binned, with a reply", approved="trash"),
         comment("6", "Reply to the binned one", parent="5"),
         comment("7", "Binned alone", approved="trash"),
         comment("8", "Linked to you", kind="pingback"),
         comment("9", "No GMT date", gmt="0000-00-00 00:00:00", local="2014-01-03 08:00:00"),
         title="Hello &amp; welcome", comment_status="closed"),
    item("5", "https://blog.example/about/"),  # a page without comments: no article
    item("6", "https://blog.example/trashed/", comment("20", "Gone with its post"), status="trash"),
)


def test_items_become_articles_with_their_comments_statuses_and_times(app, client, cli, write_file):
    result = cli("import", "wordpress", str(write_file("blog.xml", BLOG)))
    assert result.exit_code == 0, result.output
    assert "imported 1 new article(s), 7 comment(s)" in result.output
    for reason in ("1 deleted without replies", "1 of deleted threads", "1 pingbacks and trackbacks"):
        assert reason in result.output

    page = list_comments(client, "p-4")
    assert page["article"]["comment_count"] == 4 and page["article"]["comments_closed"] is True
    assert get_article(client, "p-4")["title"] == "Hello & welcome"
    first, binned, undated = page["comments"]
    assert first["body_html"] == "<p>First line<br>second line</p><p>New paragraph <em>here</em> </p>"
    assert first["author"] == {
        "name": "Ana", "url": "https://ana.example", "avatar": first["author"]["avatar"], "verified": False,
    }
    assert [r["author"]["name"] for r in first["replies"]] == ["Bo"]
    assert binned["status"] == "deleted" and binned["replies"][0]["body_html"] == "<p>Reply to the binned one</p>"
    assert undated["body_html"] == "<p>No GMT date</p>"

    comments = stored(app)
    assert comments["3"].status is CommentStatus.PENDING and comments["4"].status is CommentStatus.SPAM
    assert comments["2"].author_email is None
    assert comments["1"].created_at == datetime(2014, 1, 2, 10, tzinfo=timezone.utc)
    assert comments["9"].created_at == datetime(2014, 1, 3, 8, tzinfo=timezone.utc)
    assert "192.0.2.55" not in str([vars(c) for c in comments.values()])


def test_identifier_keys_are_post_ids_and_older_wxr_versions_are_read(client, cli, write_file):
    document = wxr(item("4", "https://blog.example/2014/hello/", comment("1", "Hi")), version="1.0")
    result = cli("import", "wordpress", str(write_file("old.xml", document)), "--key-from", "identifier")
    assert result.exit_code == 0, result.output
    assert list_comments(client, "4")["article"]["comment_count"] == 1


def test_importing_again_adds_nothing(cli, write_file):
    path = write_file("blog.xml", BLOG)
    assert cli("import", "wordpress", str(path)).exit_code == 0
    again = cli("import", "wordpress", str(path))
    assert "0 comment(s)" in again.output and "7 already imported" in again.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BLOG[:-200], "malformed or truncated XML"),
        (BLOG.replace("<wp:comment_id>2</wp:comment_id>", ""), "<wp:comment> '': no <wp:comment_id>"),
        ('<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://attacker.example/x.dtd"><rss/>', "refused"),
        ('<disqus xmlns="http://disqus.com"/>', "not a WordPress export (WXR)"),
    ],
    ids=["truncated", "no-comment-id", "external-dtd", "disqus-file"],
)
def test_broken_files_stop_and_change_nothing(cli, write_file, table_counts, content, message):
    result = cli("import", "wordpress", str(write_file("bad.xml", content)))
    assert result.exit_code == 1 and message in result.output
    assert table_counts() == {"articles": 0, "comments": 0}


@pytest.mark.parametrize(
    ("content", "html"),
    [
        ("one", "<p>one</p>"),
        ("a\nb\n\n\n c ", "<p>a<br>b</p><p>c</p>"),
        ("<p>own</p>\n\nblocks", "<p>own</p>\n\nblocks"),
        ("", ""),
        ("\n \n" * 10_000, "\n \n" * 10_000),
    ],
)
def test_wordpress_line_breaks_become_paragraphs(content, html):
    assert with_paragraphs(content) == html
