"""Article reactions: configured kinds, one of each per reader, idempotent PUT and DELETE."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engagement.config import DEFAULT_REACTION_KINDS
from engagement.extensions import db
from engagement.models import Reaction
from tests.factories import assert_error, browser_headers, get_article, mint_reader, react, send_view
from tests.sql import counting_statements

ZEROS = dict.fromkeys(DEFAULT_REACTION_KINDS, 0)


def counts(**nonzero: int) -> dict[str, int]:
    return {**ZEROS, **nonzero}


def test_unknown_article_has_zero_counts_and_is_not_created(client):
    response = client.get("/api/v1/articles/untouched/reactions")
    assert response.status_code == 200
    assert response.get_json() == {"counts": ZEROS, "mine": []}
    assert_error(client.get("/api/v1/articles/untouched"), 404, "not_found")


def test_put_is_idempotent(client):
    headers = browser_headers(mint_reader(client))
    first = react(client, "like", headers=headers)
    assert first == {"counts": counts(like=1), "mine": ["like"]}
    assert react(client, "like", headers=headers) == first
    assert react(client, "like", headers=headers) == first
    assert get_article(client)["reactions"] == counts(like=1)


def test_delete_is_idempotent(client):
    headers = browser_headers(mint_reader(client))
    react(client, "love", headers=headers)
    emptied = react(client, "love", method="DELETE", headers=headers)
    assert emptied == {"counts": ZEROS, "mine": []}
    assert react(client, "love", method="DELETE", headers=headers) == emptied
    assert get_article(client)["reactions"] == ZEROS


def test_one_of_each_kind_per_reader_and_mine_is_per_reader(client):
    ana, ben = browser_headers(mint_reader(client)), browser_headers(mint_reader(client))
    react(client, "like", headers=ana)
    react(client, "sad", headers=ana)
    state = react(client, "like", headers=ben)
    assert state == {"counts": counts(like=2, sad=1), "mine": ["like"]}

    mine = client.get("/api/v1/articles/an-article/reactions", headers=ana).get_json()
    assert mine == {"counts": counts(like=2, sad=1), "mine": ["like", "sad"]}

    state = react(client, "like", method="DELETE", headers=ana)
    assert state == {"counts": counts(like=1, sad=1), "mine": ["sad"]}
    assert client.get("/api/v1/articles/an-article/reactions", headers=ben).get_json()["mine"] == ["like"]


def test_readers_without_token_are_told_apart_by_address_and_agent(client):
    react(client, "insightful", headers=browser_headers())
    state = react(client, "insightful", headers=browser_headers(user_agent="Mozilla/5.0 Safari/605.1"))
    assert state["counts"]["insightful"] == 2


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_unknown_kind_is_not_found_and_creates_nothing(client, method):
    assert_error(
        client.open("/api/v1/articles/new-one/reactions/meh", method=method, headers=browser_headers()),
        404,
        "not_found",
    )
    assert_error(client.get("/api/v1/articles/new-one"), 404, "not_found")


def test_delete_on_an_untouched_article_gives_zeros_without_creating_it(client):
    assert react(client, "like", "never-seen", method="DELETE") == {"counts": ZEROS, "mine": []}
    assert_error(client.get("/api/v1/articles/never-seen"), 404, "not_found")


def test_put_creates_the_article(client):
    react(client, "surprised", "brand-new")
    assert get_article(client, "brand-new")["reactions"] == counts(surprised=1)


def test_kinds_are_configurable(app_factory):
    client = app_factory(REACTION_KINDS=["up", "down"]).test_client()
    assert react(client, "up") == {"counts": {"up": 1, "down": 0}, "mine": ["up"]}
    assert_error(client.put("/api/v1/articles/an-article/reactions/like", headers=browser_headers()), 404, "not_found")
    assert get_article(client)["reactions"] == {"up": 1, "down": 0}


def test_reactions_appear_in_counts(client):
    react(client, "angry", "a")
    react(client, "angry", "a", headers=browser_headers(mint_reader(client)))
    body = client.get("/api/v1/counts", query_string={"articles": ["a"]}).get_json()
    assert body["a"]["reactions"] == counts(angry=2)


def test_bad_token_is_refused(client):
    assert_error(
        client.put("/api/v1/articles/a/reactions/like", headers={"X-Reader-Token": "forged"}),
        401,
        "unauthorized",
    )


def test_a_new_reaction_is_one_write_and_the_last_statement(app, client, is_postgres):
    """Storing the row is the one write: its total, its article's version and its trending
    bucket follow in the database. The state answered is read first (on PostgreSQL by the
    write's own statement, from the snapshot taken before it: one round trip), so the
    write is the last statement: the rows it locks stay locked until the commit and no
    longer. The answer still counts the other readers' reactions and this one."""
    ana, ben = browser_headers(mint_reader(client)), browser_headers(mint_reader(client))
    react(client, "like", headers=ana)  # the article exists
    react(client, "love", headers=ben)
    with counting_statements(app) as stored:
        state = react(client, "love", headers=ana)
    assert state == {"counts": counts(like=1, love=2), "mine": ["like", "love"]}
    with counting_statements(app) as withdrawn:
        state = react(client, "like", method="DELETE", headers=ana)
    assert state == {"counts": counts(love=2), "mine": ["love"]}
    if is_postgres:
        assert len(stored) == 1, stored
        assert " ".join(stored[0].split()).startswith("WITH stored AS (INSERT INTO reactions"), stored
    else:
        assert len(stored) == 2, stored
        assert stored[-1].startswith("INSERT INTO reactions"), stored
    # A withdrawal also checks the ban first: one read more.
    assert len(withdrawn) == 3, withdrawn
    assert withdrawn[-1].startswith("DELETE FROM reactions"), withdrawn
    assert get_article(client)["reactions"] == counts(love=2)


def test_a_reaction_to_an_article_without_totals_reads_zeros_with_its_write(app, client, is_postgres):
    """An article readers only viewed has no totals: the state read with the write (on
    PostgreSQL the one statement still answers a row when no total matches) is zeros,
    then this reaction."""
    assert send_view(client, "viewed-only", headers=browser_headers(mint_reader(client))) == 1
    with counting_statements(app) as statements:
        state = react(client, "love", "viewed-only", headers=browser_headers(mint_reader(client)))
    assert state == {"counts": counts(love=1), "mine": ["love"]}
    assert len(statements) == (1 if is_postgres else 2), statements
    assert get_article(client, "viewed-only")["reactions"] == counts(love=1)


def test_repeating_or_withdrawing_nothing_writes_nothing_and_answers_the_state(app, client, is_postgres):
    ana, ben = browser_headers(mint_reader(client)), browser_headers(mint_reader(client))
    react(client, "like", headers=ana)
    react(client, "sad", headers=ben)
    with counting_statements(app) as repeated:
        assert react(client, "like", headers=ana) == {"counts": counts(like=1, sad=1), "mine": ["like"]}
    with counting_statements(app) as withdrawn:
        assert react(client, "sad", method="DELETE", headers=ana) == {"counts": counts(like=1, sad=1), "mine": ["like"]}
    # The repeat's INSERT stores nothing (the row exists); the ban check tells why. On
    # PostgreSQL the state is read by the INSERT's own statement.
    assert len(repeated) == (2 if is_postgres else 3), repeated
    assert len(withdrawn) == 3, withdrawn
    assert get_article(client)["reactions"] == counts(like=1, sad=1)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_a_reactions_locks_end_with_its_write_on_postgresql(app, client, database_url, is_postgres, method):
    """Each write of a reaction stands alone, so on PostgreSQL it commits by itself: the
    rows its triggers lock (the article's, its kind's total) are free for the next
    reaction as soon as the write returns, not a round trip later at a COMMIT."""
    if not is_postgres:
        pytest.skip("SQLite has one writer at a time: its reactions keep one transaction")
    ana = browser_headers(mint_reader(client))
    react(client, "love", headers=browser_headers(mint_reader(client)))  # the article exists
    if method == "DELETE":
        react(client, "like", headers=ana)
    other = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    touched = []

    def touch_the_article_meanwhile(_connection, _cursor, statement, *_args):
        if "INSERT INTO reactions" in statement or statement.startswith("DELETE FROM reactions"):
            with other.begin() as elsewhere:  # a lock still held would fail this at once
                elsewhere.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                touched.append(elsewhere.execute(
                    sa.text("UPDATE reaction_totals SET count = count WHERE kind = 'like' RETURNING count")
                ).scalar())
                elsewhere.execute(sa.text("UPDATE articles SET version = version"))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "after_cursor_execute", touch_the_article_meanwhile)
    try:
        state = react(client, "like", method=method, headers=ana)
    finally:
        sa.event.remove(engine, "after_cursor_execute", touch_the_article_meanwhile)
        other.dispose()
    given = method == "PUT"
    assert touched == [1 if given else 0]  # the write's own change was already committed
    assert state == {"counts": counts(like=int(given), love=1), "mine": ["like"] if given else []}
    assert get_article(client)["reactions"] == counts(like=int(given), love=1)


def test_totals_and_validators_follow_the_rows_whatever_statement_deletes_them(app, client):
    """The database keeps the totals in step: rows deleted outside the API (a maintenance
    script, say) take their counts along, and cached copies of the article go stale."""
    ana, ben = browser_headers(mint_reader(client)), browser_headers(mint_reader(client))
    react(client, "like", headers=ana)
    react(client, "like", headers=ben)
    react(client, "sad", headers=ana)
    etag = client.get("/api/v1/articles/an-article").headers["ETag"]
    with app.app_context():
        db.session.execute(sa.delete(Reaction).where(Reaction.kind == "like"))
        db.session.commit()
    assert get_article(client)["reactions"] == counts(sad=1)
    assert client.get("/api/v1/articles/an-article", headers={"If-None-Match": etag}).status_code == 200
    assert react(client, "like", headers=ben) == {"counts": counts(like=1, sad=1), "mine": ["like"]}
