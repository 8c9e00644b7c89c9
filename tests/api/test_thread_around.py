"""Permalinks: ``around=ID`` answers the thread page that holds comment ID's thread.

The page must be the one a reader reaches by following ``next_cursor`` from the first
page, so the pages walked from the first one are the oracle throughout.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import Comment
from tests.factories import assert_error, list_comments, post_comment

ARTICLE = "harbour-clock"
OTHER_ARTICLE = "another-story"
THREAD = f"/api/v1/articles/{ARTICLE}/comments"
SORTS = ("oldest", "newest", "top")
LIMIT = 4
VISIBLE = 19  # top-level comments the thread shows: 18 approved (2 pinned) and a placeholder


def _withdraw(client, comment):
    response = client.delete(f"/api/v1/comments/{comment['id']}", headers={"X-Edit-Token": comment["edit_token"]})
    assert response.status_code == 204


def _moderate(client, mod, comment_id, **decision):
    response = client.patch(f"/api/v1/mod/comments/{comment_id}", json=decision, headers=mod)
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def thread(app, client, mod):
    """A thread of 19 visible top-level comments (two pinned, one a placeholder) among
    hidden ones, with tied scores, a reply chain three levels deep and a held reply."""
    top = [post_comment(client, ARTICLE, body=f"top {n}") for n in range(15)]
    hidden_pending = post_comment(client, ARTICLE, body="held by a moderator")
    hidden_spam = post_comment(client, ARTICLE, body="buy cheap watches")
    hidden_withdrawn = post_comment(client, ARTICLE, body="withdrawn, nobody answered")
    placeholder = post_comment(client, ARTICLE, body="withdrawn after an answer")
    answer = post_comment(client, ARTICLE, body="an answer", parent_id=placeholder["id"])
    top += [post_comment(client, ARTICLE, body=f"late top {n}") for n in range(3)]
    _moderate(client, mod, hidden_pending["id"], status="pending")
    _moderate(client, mod, hidden_spam["id"], status="spam")
    _withdraw(client, hidden_withdrawn)
    _withdraw(client, placeholder)

    chain = [top[9]]
    for depth in (1, 2, 3):
        chain.append(post_comment(client, ARTICLE, body=f"reply at depth {depth}", parent_id=chain[-1]["id"]))
    held_reply = post_comment(client, ARTICLE, body="a reply a moderator held", parent_id=top[12]["id"])
    _moderate(client, mod, held_reply["id"], status="pending")

    pinned = [top[6]["id"], top[13]["id"]]
    for comment_id in pinned:
        _moderate(client, mod, comment_id, pinned=True)
    with app.app_context():
        # Tied scores, so `top` breaks ties by id; hidden comments score high to be in the way.
        db.session.execute(sa.update(Comment).values(score=Comment.id % 3))
        db.session.execute(
            sa.update(Comment)
            .where(Comment.id.in_([hidden_pending["id"], hidden_spam["id"], hidden_withdrawn["id"]]))
            .values(score=9)
        )
        db.session.commit()
    post_comment(client, OTHER_ARTICLE, body="elsewhere")
    return {
        "top": [c["id"] for c in top],
        "placeholder": placeholder["id"],
        "answer": answer["id"],
        "chain": [c["id"] for c in chain],
        "held_reply": held_reply["id"],
        "pinned": pinned,
        "hidden": {"pending": hidden_pending["id"], "spam": hidden_spam["id"], "withdrawn": hidden_withdrawn["id"]},
        "elsewhere": list_comments(client, OTHER_ARTICLE)["comments"][0]["id"],
    }


def _ids(page):
    return [comment["id"] for comment in page["comments"]]


def _walk(client, sort, limit=LIMIT, page=None):
    """Pages (as lists of top-level ids) from ``page`` (default: the first) by next_cursor."""
    page = page or list_comments(client, ARTICLE, sort=sort, limit=limit)
    pages = [_ids(page)]
    while page["next_cursor"]:
        page = list_comments(client, ARTICLE, sort=sort, limit=limit, cursor=page["next_cursor"])
        pages.append(_ids(page))
        assert len(pages) < 50
    return pages


def _around(client, comment_id, sort="oldest", limit=LIMIT):
    return list_comments(client, ARTICLE, sort=sort, limit=limit, around=comment_id)


@pytest.mark.parametrize("sort", SORTS)
def test_every_visible_top_level_comment_leads_to_the_page_walking_reaches(client, thread, sort):
    pages = _walk(client, sort)
    order = [comment_id for page in pages for comment_id in page]
    assert len(order) == VISIBLE == len(set(order))
    assert set(order) == set(thread["top"]) | {thread["placeholder"]}
    assert set(order[:2]) == set(thread["pinned"])
    # Every position, so the first and last of each page (the boundaries) are all covered.
    for position, comment_id in enumerate(order):
        page = _around(client, comment_id, sort)
        assert _ids(page) == pages[position // LIMIT], (sort, position)
        assert page["has_earlier"] is (position >= LIMIT)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("position", [0, LIMIT - 1, LIMIT, 2 * LIMIT - 1, 2 * LIMIT, VISIBLE - 1])
def test_page_boundaries(client, thread, sort, position):
    pages = _walk(client, sort)
    order = [comment_id for page in pages for comment_id in page]
    page = _around(client, order[position], sort)
    assert _ids(page) == pages[position // LIMIT]
    assert _ids(page)[position % LIMIT] == order[position]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 16, 100])
def test_pinned_comments_count_before_the_rest_whatever_the_limit(client, thread, limit):
    pages = _walk(client, "top", limit=limit)
    assert set([comment_id for page in pages for comment_id in page][:2]) == set(thread["pinned"])
    for index, page_ids in enumerate(pages):
        for comment_id in page_ids:
            page = _around(client, comment_id, "top", limit)
            assert _ids(page) == page_ids
            assert page["has_earlier"] is (index > 0)


@pytest.mark.parametrize("sort", SORTS)
def test_a_reply_three_levels_deep_leads_to_its_threads_page(client, thread, sort):
    root, *replies = thread["chain"]
    pages = _walk(client, sort)
    holding = next(page for page in pages if root in page)
    page = _around(client, replies[-1], sort)
    assert _ids(page) == holding
    nested = next(c for c in page["comments"] if c["id"] == root)
    for reply_id in replies:
        (nested,) = nested["replies"]
        assert nested["id"] == reply_id
    assert _around(client, replies[0], sort) == page


@pytest.mark.parametrize("sort", SORTS)
def test_walking_on_from_the_around_page_is_normal_pagination(client, thread, sort):
    pages = _walk(client, sort)
    for index, page_ids in enumerate(pages):
        walked = _walk(client, sort, page=_around(client, page_ids[-1], sort))
        assert walked == pages[index:]


def test_has_earlier_on_ordinary_pages(client, thread):
    first = list_comments(client, ARTICLE, limit=LIMIT)
    assert first["has_earlier"] is False
    second = list_comments(client, ARTICLE, limit=LIMIT, cursor=first["next_cursor"])
    assert second["has_earlier"] is True
    assert list_comments(client, "nobody-touched-this")["has_earlier"] is False
    assert list_comments(client, ARTICLE, limit=100)["has_earlier"] is False


def test_a_placeholder_with_visible_replies_is_found(client, thread):
    page = _around(client, thread["placeholder"])
    (placeholder,) = [c for c in page["comments"] if c["id"] == thread["placeholder"]]
    assert placeholder["deleted"] is True and placeholder["replies"][0]["id"] == thread["answer"]
    assert _around(client, thread["answer"]) == page
    assert page["has_earlier"] is True


def test_a_held_reply_under_a_visible_comment_leads_to_that_comments_page(client, thread):
    root = thread["top"][12]
    page = _around(client, thread["held_reply"])
    assert root in _ids(page)
    assert _ids(page) == _ids(_around(client, root))


@pytest.mark.parametrize("which", ["pending", "spam", "withdrawn"])
def test_comments_not_shown_in_the_thread_are_404(client, thread, which):
    response = client.get(THREAD, query_string={"around": thread["hidden"][which]})
    assert assert_error(response, 404, "not_found")["message"] == "No such comment in this thread."


def test_another_articles_comment_is_404(client, thread):
    response = client.get(THREAD, query_string={"around": thread["elsewhere"]})
    assert_error(response, 404, "not_found")
    # ... and the other article finds it.
    assert _ids(list_comments(client, OTHER_ARTICLE, around=thread["elsewhere"])) == [thread["elsewhere"]]


@pytest.mark.parametrize("around", [2**31 - 1, 987654])
def test_unknown_comment_is_404(client, thread, around):
    assert_error(client.get(THREAD, query_string={"around": around}), 404, "not_found")


def test_around_in_an_article_nobody_touched_is_404(client, thread):
    response = client.get("/api/v1/articles/nobody-touched-this/comments", query_string={"around": thread["top"][0]})
    assert_error(response, 404, "not_found")


def test_around_with_cursor_is_422_naming_around(client, thread):
    cursor = list_comments(client, ARTICLE, limit=LIMIT)["next_cursor"]
    response = client.get(THREAD, query_string={"around": thread["top"][0], "cursor": cursor, "limit": LIMIT})
    error = assert_error(response, 422, "validation_error")
    assert list(error["fields"]) == ["around"]
    assert "cursor" in error["fields"]["around"][0]


@pytest.mark.parametrize("around", ["0", "-3", "abc", "1.5", "", " 7", "2147483648", "99999999999999999999", "１"])
def test_bad_around_values_are_422(client, thread, around):
    error = assert_error(client.get(THREAD, query_string={"around": around}), 422, "validation_error")
    assert list(error["fields"]) == ["around"]


def test_around_pages_have_their_own_validators_and_answer_304(app, client, thread):
    order = [comment_id for page in _walk(client, "oldest") for comment_id in page]
    first, later, same_page = order[0], order[2 * LIMIT], order[2 * LIMIT + 1]
    responses = {
        name: client.get(THREAD, query_string={"limit": LIMIT, "around": comment_id})
        for name, comment_id in (("first", first), ("later", later), ("same_page", same_page))
    }
    etags = {name: response.headers["ETag"] for name, response in responses.items()}
    assert len(set(etags.values())) == 3
    plain = client.get(THREAD, query_string={"limit": LIMIT})
    assert plain.headers["ETag"] not in etags.values()
    assert "public" in responses["later"].headers["Cache-Control"]

    again = client.get(THREAD, query_string={"limit": LIMIT, "around": later}, headers={"If-None-Match": etags["later"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etags["later"]
    other = client.get(THREAD, query_string={"limit": LIMIT, "around": first}, headers={"If-None-Match": etags["later"]})
    assert other.status_code == 200 and _ids(other.get_json()) == _walk(client, "oldest")[0]
    # Rendered once, then served from the rendered-response cache like any page.
    assert app.extensions["engagement.rendered"].get(etags["later"]) == responses["later"].get_data()


def test_a_change_to_the_thread_changes_the_around_validator(client, thread, mod):
    target = thread["top"][3]
    url_query = {"limit": LIMIT, "around": target}
    etag = client.get(THREAD, query_string=url_query).headers["ETag"]
    _moderate(client, mod, target, status="pending")
    response = client.get(THREAD, query_string=url_query, headers={"If-None-Match": etag})
    assert_error(response, 404, "not_found")
