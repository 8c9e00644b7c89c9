"""`engagement import disqus`: the tree, the people, the counters and hostile files."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import ActivityBucket, Comment, CommentStatus
from engagement.services import importing
from tests.factories import get_article, list_comments
from tests.importing.disqus_files import export, post, thread


def imported(app) -> list[Comment]:
    with app.app_context():
        comments = db.session.scalars(sa.select(Comment).order_by(Comment.id)).all()
        db.session.remove()
        return list(comments)


def by_source_id(app) -> dict[str, Comment]:
    return {comment.import_id: comment for comment in imported(app)}


SITE = export(
    thread("10", "https://example.org/2014/test/", identifier="post-7", title="Test &amp; more"),
    thread("11", "https://example.org/?p=4", identifier=""),
    post("100", "10", "<![CDATA[<p>Hello <b>world</b> <script>alert(1)</script></p>]]>"),
    post("101", "10", "&lt;p&gt;A reply &amp;amp; entities&lt;/p&gt;", parent="100", name="Bo", email="Bo@Example.ORG"),
    post("102", "11", "<![CDATA[<p>Elsewhere</p>]]>", name=None, email=None),
)


def test_threads_become_articles_keyed_by_their_path_with_the_reply_tree(app, client, cli, write_file):
    result = cli("import", "disqus", str(write_file("site.xml", SITE)))
    assert result.exit_code == 0, result.output
    assert "imported 2 new article(s), 3 comment(s)" in result.output

    thread_page = list_comments(client, "2014-test")
    assert thread_page["article"]["comment_count"] == 2
    [top] = thread_page["comments"]
    assert top["body_html"] == "<p>Hello world alert(1)</p>"  # HTML allowlist: <b> and <script> go
    assert top["author"]["name"] == "Ana"
    [reply] = top["replies"]
    assert reply["author"]["name"] == "Bo"
    assert reply["body_html"] == "<p>A reply &amp; entities</p>"
    assert "email" not in str(thread_page)

    article = get_article(client, "2014-test")
    assert (article["title"], article["url"]) == ("Test & more", "https://example.org/2014/test/")
    [anonymous] = list_comments(client, "p-4")["comments"]
    assert anonymous["author"]["name"] == "Anonymous"

    stored = by_source_id(app)
    assert stored["100"].reply_count == 1
    assert (stored["101"].parent_id, stored["101"].root_id, stored["101"].depth) == (stored["100"].id,) * 2 + (1,)
    assert stored["101"].author_email == "Bo@example.org"  # normalised as the comment API does
    assert stored["102"].author_email is None and stored["102"].author_name is None
    assert all(comment.import_source == "disqus" for comment in stored.values())


def test_no_address_from_the_export_is_stored(app, cli, write_file):
    assert cli("import", "disqus", str(write_file("site.xml", SITE))).exit_code == 0
    with app.app_context():
        dump = "\n".join(db.session.connection().connection.driver_connection.iterdump()) \
            if db.engine.dialect.name == "sqlite" else str([tuple(row) for row in db.session.execute(
                sa.select(Comment.__table__)).all()])
    assert "203.0.113.99" not in dump and "198.51.100.1" not in dump


def test_importing_the_same_file_again_adds_nothing_and_a_newer_export_only_what_is_new(app, client, cli, write_file):
    path = write_file("site.xml", SITE)
    assert cli("import", "disqus", str(path)).exit_code == 0
    again = cli("import", "disqus", str(path))
    assert again.exit_code == 0
    assert "imported 0 new article(s), 0 comment(s)" in again.output and "3 already imported" in again.output

    newer = SITE.replace("</disqus>", post("103", "10", "&lt;p&gt;Late reply&lt;/p&gt;", parent="101") + "</disqus>")
    result = cli("import", "disqus", str(write_file("newer.xml", newer)))
    assert "imported 0 new article(s), 1 comment(s)" in result.output
    assert len(imported(app)) == 4
    [top] = list_comments(client, "2014-test")["comments"]
    assert top["replies"][0]["replies"][0]["body_html"] == "<p>Late reply</p>"
    assert get_article(client, "2014-test")["comment_count"] == 3
    assert by_source_id(app)["101"].reply_count == 1


def test_orphans_become_top_level_and_parents_may_come_after_their_replies(app, client, cli, write_file):
    document = export(
        thread("10", "https://example.org/a/"),
        post("201", "10", "<![CDATA[<p>Answer first</p>]]>", parent="200"),
        post("200", "10", "<![CDATA[<p>Question later</p>]]>"),
        post("202", "10", "<![CDATA[<p>Parent never exported</p>]]>", parent="999"),
    )
    result = cli("import", "disqus", str(write_file("orphans.xml", document)))
    assert "3 comment(s) (1 orphan(s) made top-level)" in result.output
    comments = list_comments(client, "a")["comments"]
    assert sorted(c["body_html"] for c in comments) == ["<p>Parent never exported</p>", "<p>Question later</p>"]
    question = next(c for c in comments if "Question" in c["body_html"])
    assert [r["body_html"] for r in question["replies"]] == ["<p>Answer first</p>"]


def test_deleted_posts_stay_only_as_placeholders_above_replies_and_spam_is_held(app, client, cli, write_file):
    document = export(
        thread("10", "https://example.org/a/"),
        post("300", "10", "Regretted", deleted=True),
        post("301", "10", "<![CDATA[<p>Answer to the regretted one</p>]]>", parent="300"),
        post("302", "10", "Deleted, nobody answered", deleted=True),
        post("303", "10", "Buy pills", spam=True),
    )
    result = cli("import", "disqus", str(write_file("deleted.xml", document)))
    assert "1 deleted without replies" in result.output
    page = list_comments(client, "a")
    assert page["article"]["comment_count"] == 1
    [placeholder] = page["comments"]
    assert placeholder["status"] == "deleted" and placeholder["body_html"] == "" and placeholder["author"] is None
    assert placeholder["replies"][0]["body_html"] == "<p>Answer to the regretted one</p>"
    stored = by_source_id(app)
    assert set(stored) == {"300", "301", "303"}
    assert stored["300"].body_source == "" and stored["300"].author_email is None  # the text is not kept
    assert stored["303"].status is CommentStatus.SPAM


def test_posts_of_deleted_threads_are_skipped(client, cli, write_file, table_counts):
    document = export(thread("10", "https://example.org/gone/", deleted=True), post("400", "10", "Lost"))
    result = cli("import", "disqus", str(write_file("gone.xml", document)))
    assert result.exit_code == 0 and "1 of deleted threads" in result.output
    assert table_counts() == {"articles": 0, "comments": 0}


def test_times_with_and_without_zones_are_utc(app, cli, write_file):
    document = export(
        thread("10", "https://example.org/a/"),
        post("500", "10", "Zulu", created="2014-01-02T10:00:00Z"),
        post("501", "10", "Naive", created="2014-01-02T10:00:00"),
        post("502", "10", "Offset", created="2014-01-02T12:00:00+02:00"),
    )
    assert cli("import", "disqus", str(write_file("times.xml", document))).exit_code == 0
    expected = datetime(2014, 1, 2, 10, tzinfo=timezone.utc)
    assert {comment.created_at for comment in imported(app)} == {expected}


def test_identifier_keys_fall_back_to_the_path_and_a_map_wins(client, cli, write_file):
    document = export(
        thread("10", "https://example.org/2014/test/", identifier="post 7"),
        thread("11", "https://example.org/empty-id/", identifier=""),
        thread("12", "https://example.org/mapped/", identifier="x"),
        post("1", "10", "One"), post("2", "11", "Two"), post("3", "12", "Three"),
    )
    key_map = write_file("map.csv", "source,key\nhttps://example.org/mapped/,chosen-key\n")
    result = cli("import", "disqus", str(write_file("ids.xml", document)), "--key-from", "identifier",
                 "--map", str(key_map))
    assert result.exit_code == 0, result.output
    assert list_comments(client, "post-7")["article"]["comment_count"] == 1
    assert list_comments(client, "empty-id")["article"]["comment_count"] == 1
    assert list_comments(client, "chosen-key")["article"]["comment_count"] == 1


def test_replies_deeper_than_the_maximum_depth_are_attached_beside_the_deepest_level(app, client, cli, write_file):
    chain = [post("0", "10", "Level 0")] + [post(str(n), "10", f"Level {n}", parent=str(n - 1)) for n in range(1, 9)]
    assert cli("import", "disqus", str(write_file("deep.xml", export(thread("10", "https://e.org/a/"), *chain)))).exit_code == 0
    stored = by_source_id(app)
    max_depth = app.extensions["engagement.settings"].max_depth
    assert [stored[str(n)].depth for n in range(9)] == [min(n, max_depth) for n in range(9)]
    deepest_parent = stored[str(max_depth - 1)].id
    assert {stored[str(n)].parent_id for n in range(max_depth, 9)} == {deepest_parent}
    assert {stored[str(n)].root_id for n in range(1, 9)} == {stored["0"].id}
    assert stored[str(max_depth - 1)].reply_count == 9 - max_depth
    assert list_comments(client, "a")["article"]["comment_count"] == 9


def test_old_comments_do_not_flood_the_trending_buckets(app, cli, write_file):
    recent = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = export(thread("10", "https://e.org/a/"), post("1", "10", "Old"), post("2", "10", "New", created=recent))
    assert cli("import", "disqus", str(write_file("t.xml", document))).exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.sum(ActivityBucket.comments))) == 1


def test_a_dry_run_reports_and_changes_nothing(cli, write_file, table_counts):
    result = cli("import", "disqus", str(write_file("site.xml", SITE)), "--dry-run")
    assert result.exit_code == 0 and "would import 2 new article(s), 3 comment(s)" in result.output
    assert table_counts() == {"articles": 0, "comments": 0}


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE disqus [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="1"><link>https://e.org/a/</link></thread>
<post dsq:id="2"><message>&d;</message><createdAt>2014-01-01T00:00:00Z</createdAt><thread dsq:id="1"/></post>
</disqus>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE disqus [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="1"><link>https://e.org/a/</link></thread>
<post dsq:id="2"><message>&secret;</message><createdAt>2014-01-01T00:00:00Z</createdAt><thread dsq:id="1"/></post>
</disqus>"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BILLION_LAUGHS, "refused: the file declares a DTD"),
        (EXTERNAL_ENTITY, "refused: the file declares a DTD"),
        (SITE[: len(SITE) - 40], "malformed or truncated XML at line"),
        ("", "malformed or truncated XML at line 1"),
        (SITE.replace("<disqus ", "<rss ").replace("</disqus>", "</rss>"), "not a Disqus export: the root element is <rss>"),
        (export(thread("10", "https://e.org/a/"), post("1", "10", "x").replace(' dsq:id="1"', "")),
         "<post> number 1: missing the dsq:id attribute"),
        (export(thread("10", "https://e.org/a/"), post("1", "10", "x", created="yesterday")),
         "'yesterday' is not a date and time"),
    ],
    ids=["billion-laughs", "external-entity", "truncated", "empty", "another-format", "no-id", "bad-time"],
)
def test_hostile_or_broken_files_stop_with_a_clear_message_and_change_nothing(
    cli, write_file, table_counts, content, message
):
    result = cli("import", "disqus", str(write_file("bad.xml", content)))
    assert result.exit_code == 1
    assert message in result.output and "nothing was imported" in result.output
    assert "root:" not in result.output  # no external entity was ever read
    assert table_counts() == {"articles": 0, "comments": 0}


def test_a_file_that_breaks_after_several_batches_leaves_the_database_unchanged(
    cli, write_file, table_counts, monkeypatch
):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    posts = [post(str(n), "10", f"Comment {n}") for n in range(7)]
    document = export(thread("10", "https://e.org/a/"), *posts)
    assert cli("import", "disqus", str(write_file("ok.xml", document))).exit_code == 0
    before = table_counts()
    more = export(thread("10", "https://e.org/a/"), thread("20", "https://e.org/b/"),
                  *[post(str(n), "20", f"More {n}") for n in range(100, 110)])
    result = cli("import", "disqus", str(write_file("cut.xml", more[:-30])))
    assert result.exit_code == 1 and "line" in result.output
    assert table_counts() == before == {"articles": 1, "comments": 7}


def test_imported_html_keeps_its_format_through_rerender_and_a_moderator_edit_is_markdown(app, client, cli, write_file):
    from tests.factories import create_api_token, mod_headers

    document = export(thread("10", "https://e.org/a/"), post("1", "10", "<![CDATA[<p>Some <em>HTML</em></p>]]>"))
    assert cli("import", "disqus", str(write_file("h.xml", document))).exit_code == 0
    assert cli("rerender").exit_code == 0
    [comment] = list_comments(client, "a")["comments"]
    assert comment["body_html"] == "<p>Some <em>HTML</em></p>"  # the Markdown path would show the tags as text

    token = mod_headers(create_api_token(app, "moderator"))
    edited = client.patch(f"/api/v1/mod/comments/{comment['id']}", json={"body": "Now *Markdown*"}, headers=token)
    assert edited.status_code == 200, edited.get_json()
    assert cli("rerender").exit_code == 0
    assert list_comments(client, "a")["comments"][0]["body_html"] == "<p>Now <em>Markdown</em></p>"


def test_overlong_bodies_are_skipped_and_overlong_ids_stop_the_import(cli, write_file, table_counts):
    long_body = export(thread("10", "https://e.org/a/"), post("1", "10", "x" * (importing.MAX_IMPORTED_BODY_LENGTH + 1)),
                       post("2", "10", "short"))
    result = cli("import", "disqus", str(write_file("long.xml", long_body)))
    assert result.exit_code == 0 and "1 too long" in result.output and "1 comment(s)" in result.output
    long_id = export(thread("10", "https://e.org/a/"), post("9" * 65, "10", "x"))
    failed = cli("import", "disqus", str(write_file("id.xml", long_id)))
    assert failed.exit_code == 1 and "longer than 64 characters" in failed.output
    assert table_counts() == {"articles": 1, "comments": 1}
