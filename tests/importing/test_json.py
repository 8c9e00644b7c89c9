"""`engagement export` and `engagement import json`: one documented format, read back losslessly."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.extensions import db
from engagement.models import Article, BodyFormat, Comment, CommentStatus, ModerationMode, ReactionTotal
from engagement.sanitize import render_html, render_markdown
from engagement.importing.records import ImportedThread
from tests.conftest import _empty_all_tables
from tests.factories import (
    browser_headers,
    create_api_token,
    list_comments,
    mint_reader,
    mod_headers,
    post_comment,
    react,
    reader_headers,
    send_view,
)
from tests.importing.disqus_files import export, post, thread
from tests.support.sso import SSO_SETTINGS, signed_in_headers


def run_export(cli, *args: str) -> dict:
    result = cli("export", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def restore(cli, write_file, document: dict, name: str = "export.json"):
    result = cli("import", "json", str(write_file(name, json.dumps(document))))
    assert result.exit_code == 0, result.output
    return result


def wipe(app) -> None:
    with app.app_context():
        db.session.remove()
        _empty_all_tables(db.engine)


def build_a_site(app, client) -> None:
    reader = reader_headers(mint_reader(client))
    first = post_comment(client, "news-1", "First, **bold** and https://example.org",
                         author_name="Ana", author_email="ana@example.org", author_url="https://ana.example",
                         headers=reader)
    reply = post_comment(client, "news-1", "A reply", parent_id=first["id"], headers=reader)
    post_comment(client, "news-1", "Reply to the reply", parent_id=reply["id"])
    withdrawn = post_comment(client, "news-1", "Withdrawn later", headers=reader)
    client.delete(f"/api/v1/comments/{withdrawn['id']}", headers={"X-Edit-Token": withdrawn["edit_token"]})
    held = post_comment(client, "news-2", "To be rejected")
    token = mod_headers(create_api_token(app, "moderator"))
    assert client.patch(f"/api/v1/mod/comments/{held['id']}", json={"status": "rejected"}, headers=token).status_code == 200
    assert client.patch(f"/api/v1/mod/comments/{first['id']}", json={"pinned": True}, headers=token).status_code == 200
    assert client.put("/api/v1/mod/articles/news-1", json={"title": "News", "url": "https://n.example/1"},
                      headers=token).status_code == 200
    client.post(f"/api/v1/comments/{first['id']}/vote", json={"value": 1}, headers=browser_headers())
    react(client, "like", "news-1")
    send_view(client, "news-1")
    send_view(client, "views-only")


def without_avatars(value):
    if isinstance(value, dict):
        return {key: without_avatars(item) for key, item in value.items() if key != "avatar"}
    if isinstance(value, list):
        return [without_avatars(item) for item in value]
    return value


def test_export_then_restore_into_an_empty_database_gives_the_same_document(app, client, cli, write_file):
    build_a_site(app, client)
    before = run_export(cli)
    page_before = list_comments(client, "news-1")
    assert before["format"] == "engagement-export" and before["version"] == 1
    assert [a["key"] for a in before["articles"]] == ["news-1", "news-2", "views-only"]
    news = before["articles"][0]
    assert (news["title"], news["url"], news["views"], news["reactions"]) == ("News", "https://n.example/1", 1, {"like": 1})
    first = news["comments"][0]
    assert first["author"] == {
        "name": "Ana", "email": "ana@example.org", "url": "https://ana.example", "verified": False, "avatar": None,
    }
    assert (first["pinned"], first["score"], first["upvotes"], first["body_format"]) == (True, 1, 1, "markdown")
    assert first["body_html"] == render_markdown(first["body_source"])
    assert {c["status"] for c in news["comments"]} == {"approved", "deleted"}
    assert "hash" not in json.dumps(before)  # no reader or address hash leaves the database

    wipe(app)
    result = restore(cli, write_file, before)
    assert "imported 3 new article(s), 5 comment(s)" in result.output
    assert run_export(cli) == before
    # The public thread reads the same, ids included; only avatars (keyed on readers,
    # who are not exported) are new.
    assert without_avatars(list_comments(client, "news-1")) == without_avatars(page_before)
    # New comments after a restore get fresh ids.
    assert post_comment(client, "news-1", "After the restore")["id"] > max(c["id"] for c in news["comments"])


def test_a_signed_in_authors_verified_mark_and_avatar_survive_export_and_restore(app_factory, write_file):
    app = app_factory(**SSO_SETTINGS)
    client, cli = app.test_client(), app.test_cli_runner()
    posted = post_comment(client, "news-1", "Signed", headers=signed_in_headers(client))
    before = run_export(lambda *args: cli.invoke(args=["engagement", *args]))
    assert before["articles"][0]["comments"][0]["author"] == {
        "name": "Ana Lima", "email": "ana@news.example", "url": None, "verified": True,
        "avatar": "https://news.example/ana.png",
    }
    wipe(app)
    restore(lambda *args: cli.invoke(args=["engagement", *args]), write_file, before)
    author = list_comments(client, "news-1")["comments"][0]["author"]
    assert (posted["author"]["verified"], author["verified"], author["avatar"]) == (True, True, "https://news.example/ana.png")


def test_importing_an_export_twice_adds_nothing(app, client, cli, write_file):
    build_a_site(app, client)
    document = run_export(cli)
    wipe(app)
    restore(cli, write_file, document)
    again = restore(cli, write_file, document)
    assert "imported 0 new article(s), 0 comment(s)" in again.output and "5 already imported" in again.output


def test_into_a_database_with_comments_an_export_gets_new_ids_and_keeps_its_tree(app, client, cli, write_file):
    build_a_site(app, client)
    document = run_export(cli, "--article", "news-1")
    assert [a["key"] for a in document["articles"]] == ["news-1"]
    document["articles"][0]["key"] = "moved"
    restore(cli, write_file, document)
    moved = run_export(cli, "--article", "moved")["articles"][0]["comments"]
    original = document["articles"][0]["comments"]
    assert [c["body_source"] for c in moved] == [c["body_source"] for c in original]
    assert [c["source"] for c in moved] == [{"name": "json", "id": str(c["id"])} for c in original]
    new_ids = {c["source"]["id"]: c["id"] for c in moved}
    assert [c["parent"] for c in moved] == [new_ids.get(str(c["parent"])) for c in original]
    assert list_comments(client, "moved")["article"]["comment_count"] == 3
    # Its own export, with the provenance, imports into the same database as nothing new.
    again = restore(cli, write_file, run_export(cli, "--article", "moved"), "again.json")
    assert "0 comment(s)" in again.output


def test_an_export_keeps_where_imported_comments_came_from(app, client, cli, write_file):
    site = export(thread("1", "https://e.org/a/"), post("77", "1", "<![CDATA[<p>From <i>Disqus</i></p>]]>"))
    assert cli("import", "disqus", str(write_file("d.xml", site))).exit_code == 0
    [comment] = run_export(cli)["articles"][0]["comments"]
    assert comment["source"] == {"name": "disqus", "id": "77"}
    assert comment["body_format"] == "html" and comment["body_html"] == render_html(comment["body_source"])
    again = restore(cli, write_file, run_export(cli))
    assert "1 already imported" in again.output


def test_export_to_a_file_and_unknown_articles(cli, tmp_path, client):
    post_comment(client, "a", "Hello")
    target = tmp_path / "out.json"
    result = cli("export", "--output", str(target))
    assert result.exit_code == 0 and json.loads(target.read_text())["articles"][0]["key"] == "a"
    assert not (tmp_path / "out.json.partial").exists()
    unknown = cli("export", "--article", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.output


def document_with(comment: dict) -> dict:
    base = {"id": 1, "created_at": "2020-01-01T00:00:00Z", "body_source": "x", "status": "approved"}
    return {"format": "engagement-export", "version": 1,
            "articles": [{"key": "a", "comments": [{**base, **comment}]}]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON, or cut short"),
        (json.dumps(document_with({}))[:-20], "not JSON, or cut short"),
        (json.dumps({"format": "disqus"}), "not an engagement export"),
        (json.dumps([1, 2]), "not an engagement export"),
        (json.dumps({"format": "engagement-export", "version": 2, "articles": []}), "version 2 is not supported"),
        (json.dumps(document_with({"status": "lost"})), "articles[0] (a).comments[0]: {'status'"),
        (json.dumps(document_with({"created_at": "soon"})), "articles[0] (a).comments[0]: {'created_at'"),
        (json.dumps({"format": "engagement-export", "version": 1, "articles": [{"key": "-bad"}]}), "articles[0]: {'key'"),
        (json.dumps({"format": "engagement-export", "version": 1, "articles": [{"key": "ok\n"}]}), "articles[0]: {'key'"),
        (json.dumps({"format": "engagement-export", "version": 1}), "\"articles\" must be a list"),
        ('{"articles": [], "format": "engagement-export", "version": 1}', "not an engagement export"),
        ('{"format": "engagement-export", "version": 1, "articles": [{"comments": [], "key": "a"}]}',
         "\"comments\" comes before \"key\""),
        ('{"format": "engagement-export", "version": 1, "articles": [{"key": "a", "comments": [], "url": null}]}',
         "'url' comes after \"comments\""),
        (json.dumps(document_with({})) + " {}", "trailing garbage"),
        (json.dumps(document_with({"author": {"name": "[" * 100_000}})).replace('"[', "[").replace('["', "["), "not JSON"),
        ('{"format": "engagement-export", "version": 1, "x": ' + "[" * 100 + "]" * 100 + ', "articles": []}',
         "nest deeper than 32 levels"),
    ],
    ids=["not-json", "truncated", "other-format", "not-an-object", "future-version", "bad-status", "bad-time", "bad-key",
         "key-with-newline", "no-articles", "articles-before-format", "comments-before-key", "field-after-comments",
         "trailing-value",
         "broken-deep-nesting", "deep-nesting"],
)
def test_broken_exports_stop_with_a_clear_message_and_change_nothing(cli, write_file, table_counts, content, message):
    result = cli("import", "json", str(write_file("bad.json", content)))
    assert result.exit_code == 1 and message in result.output and "nothing was imported" in result.output
    assert table_counts() == {"articles": 0, "comments": 0}


# --- the round trip over generated threads ------------------------------------------------

STATUSES = list(CommentStatus)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
names = st.one_of(st.none(), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=20))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc))
comment_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # article
        st.integers(min_value=-1, max_value=30),  # parent: an earlier comment's index, or none
        texts, st.sampled_from([BodyFormat.MARKDOWN, BodyFormat.HTML]), st.sampled_from(STATUSES), names,
        moments, st.booleans(), st.integers(min_value=-5, max_value=5),
    ),
    max_size=25,
)
articles_spec = st.lists(
    st.tuples(st.booleans(), st.sampled_from([None, *ModerationMode]), st.integers(0, 1000), st.integers(0, 9)),
    min_size=3, max_size=3,
)


def _store_generated_site(app, articles, comments) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        ids = []
        for index, (closed, moderation, views, likes) in enumerate(articles):
            article = Article(key=f"gen-{index}", title=f"Title {index}", url=None, views=views,
                              comments_closed=closed, moderation=moderation, created_at=now, updated_at=now)
            db.session.add(article)
            db.session.flush()
            if likes:
                db.session.add(ReactionTotal(article_id=article.id, kind="like", count=likes))
            ids.append(article.id)
        stored: list[Comment] = []
        for article, parent, body, body_format, status, name, created, pinned, score in comments:
            parent_comment = stored[parent] if 0 <= parent < len(stored) else None
            if parent_comment is not None and parent_comment.article_id != ids[article]:
                parent_comment = None
            depth = parent_comment.depth + 1 if parent_comment else 0
            if depth > app.extensions["engagement.settings"].max_depth:
                parent_comment, depth = None, 0
            comment = Comment(
                article_id=ids[article], parent_id=parent_comment.id if parent_comment else None,
                root_id=(parent_comment.root_id or parent_comment.id) if parent_comment else None, depth=depth,
                status=status, body_source=body, body_format=body_format,
                body_html=render_html(body) if body_format is BodyFormat.HTML else render_markdown(body),
                author_name=name, avatar_seed="seed", reader_hash="r" * 64, address_hash="a" * 64,
                created_at=created, edited_at=created + timedelta(minutes=1) if pinned else None,
                pinned=pinned, score=score, upvotes=max(score, 0), downvotes=max(-score, 0),
            )
            db.session.add(comment)
            db.session.flush()
            stored.append(comment)
        db.session.commit()
        db.session.remove()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(articles=articles_spec, comments=comment_specs)
def test_round_trip_over_generated_threads(app, cli, write_file, articles, comments):
    wipe(app)
    _store_generated_site(app, articles, comments)
    before = run_export(cli)
    wipe(app)
    restore(cli, write_file, before)
    assert run_export(cli) == before


def test_a_reply_before_its_parent_keeps_its_place(app, client, cli, write_file):
    """Imported from a system that allowed it, a reply may have a smaller id than its parent."""
    base = {"created_at": "2020-01-01T00:00:00Z", "body_source": "x", "status": "approved"}
    document = {"format": "engagement-export", "version": 1, "articles": [{"key": "a", "comments": [
        {**base, "id": 5, "parent": 9, "body_source": "the reply", "source": {"name": "disqus", "id": "r"}},
        {**base, "id": 7, "parent": 5, "body_source": "a reply to the reply"},
        {**base, "id": 9, "body_source": "the parent", "source": {"name": "disqus", "id": "p"}},
    ]}]}
    restore(cli, write_file, document)
    [parent] = client.get("/api/v1/articles/a/comments").get_json()["comments"]
    assert parent["id"] == 9 and parent["reply_count"] == 1
    with app.app_context():
        stored = {comment.id: comment.parent_id for comment in db.session.scalars(sa.select(Comment))}
        db.session.remove()
    assert stored == {9: None, 5: 9, 7: 5}


def test_an_export_is_read_as_a_stream(cli, write_file):
    """The first comment is read long before the end of a large file: memory holds one at a time."""
    from engagement.importing.json_export import read_json_export
    from engagement.importing.records import ImportedComment

    comments = [{"id": n, "created_at": "2020-01-01T00:00:00Z", "body_source": "x" * 1000, "status": "approved"}
                for n in range(1, 2001)]
    content = json.dumps({"format": "engagement-export", "version": 1,
                          "articles": [{"key": "a", "comments": comments}]}).encode()

    class Tracked(io.BytesIO):
        furthest = 0

        def read(self, size=-1):
            data = super().read(size)
            Tracked.furthest = self.tell()
            return data

    records = read_json_export(Tracked(content), "big.json")
    assert isinstance(next(records), ImportedThread) and isinstance(next(records), ImportedComment)
    assert Tracked.furthest < len(content) / 10
    assert sum(1 for _ in records) == 1999
