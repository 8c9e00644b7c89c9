"""HTTP caching: validators from article versions, 304s, and invalidation on every change."""
from __future__ import annotations

from datetime import timedelta

from tests.factories import (
    DEFAULT_ARTICLE,
    browser_headers,
    create_api_token,
    mint_reader,
    mod_headers,
    post_comment,
    react,
    send_view,
    vote,
)

THREAD = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"


def _etag(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    return response.headers["ETag"]


def test_thread_page_is_publicly_cacheable_with_a_validator(client):
    post_comment(client)
    response = client.get(THREAD)
    assert response.headers["ETag"].startswith('"')
    cache_control = response.headers["Cache-Control"]
    assert "public" in cache_control and "max-age=" in cache_control and "stale-while-revalidate=" in cache_control


def test_matching_if_none_match_gives_304_without_body(client):
    post_comment(client)
    etag = _etag(client, THREAD)
    response = client.get(THREAD, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert "public" in response.headers["Cache-Control"]
    assert client.get(THREAD, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_different_pages_and_sorts_have_different_validators(client):
    post_comment(client)
    assert len({_etag(client, THREAD), _etag(client, THREAD + "?sort=top"), _etag(client, THREAD + "?limit=1")}) == 3


def test_every_comment_change_invalidates_the_thread(client):
    created = post_comment(client, body="first")
    seen = {_etag(client, THREAD)}
    edit = {"X-Edit-Token": created["edit_token"]}

    post_comment(client, body="second")
    seen.add(_etag(client, THREAD))
    client.patch(f"/api/v1/comments/{created['id']}", json={"body": "edited"}, headers=edit)
    seen.add(_etag(client, THREAD))
    client.delete(f"/api/v1/comments/{created['id']}", headers=edit)
    seen.add(_etag(client, THREAD))
    assert len(seen) == 4

    # ... and the next uncached read shows the change
    old = _etag(client, THREAD)
    post_comment(client, body="third")
    response = client.get(THREAD, headers={"If-None-Match": old})
    assert response.status_code == 200
    assert "third" in response.get_data(as_text=True)


def test_untouched_article_thread_is_cacheable_until_first_comment(client):
    other = "/api/v1/articles/quiet-one/comments"
    etag = _etag(client, other)
    assert client.get(other, headers={"If-None-Match": etag}).status_code == 304
    post_comment(client, "quiet-one")
    assert client.get(other, headers={"If-None-Match": etag}).status_code == 200


# --- article summary, counts, reactions, trending ------------------------------------

SUMMARY = f"/api/v1/articles/{DEFAULT_ARTICLE}"
COUNTS = f"/api/v1/counts?articles={DEFAULT_ARTICLE}&articles=another"
REACTIONS = f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions"


def _still_fresh(client, url, etag, **kwargs):
    return client.get(url, headers={"If-None-Match": etag, **kwargs.pop("headers", {})}, **kwargs).status_code == 304


def test_summary_and_counts_revalidate_and_change_with_views_and_reactions(client):
    post_comment(client)
    for url in (SUMMARY, COUNTS):
        etag = _etag(client, url)
        assert _still_fresh(client, url, etag)
        assert "public" in client.get(url).headers["Cache-Control"]

    for change in (lambda: send_view(client), lambda: react(client, "like")):
        before = {url: _etag(client, url) for url in (SUMMARY, COUNTS)}
        change()
        for url, etag in before.items():
            assert not _still_fresh(client, url, etag), url


def test_reactions_depend_on_the_reader_so_they_are_private(client):
    token = mint_reader(client)
    headers = browser_headers(token)
    response = client.get(REACTIONS, headers=headers)
    assert "private" in response.headers["Cache-Control"]
    assert "X-Reader-Token" in response.headers["Vary"]
    etag = response.headers["ETag"]
    assert _still_fresh(client, REACTIONS, etag, headers=headers)
    # another reader's "mine" differs, so they never share a validator
    other = client.get(REACTIONS, headers=browser_headers(mint_reader(client))).headers["ETag"]
    assert other != etag
    react(client, "love", headers=headers)
    assert not _still_fresh(client, REACTIONS, etag, headers=headers)


def test_votes_invalidate_the_thread(client):
    created = post_comment(client)
    etag = _etag(client, THREAD)
    vote(client, created["id"], 1, headers=browser_headers(mint_reader(client)))
    assert not _still_fresh(client, THREAD, etag)


def test_moderation_changes_invalidate_the_thread(app, client):
    created = post_comment(client)
    headers = mod_headers(create_api_token(app, role="admin"))
    changes = [
        lambda: client.patch(f"/api/v1/mod/comments/{created['id']}", json={"pinned": True}, headers=headers),
        lambda: client.patch(f"/api/v1/mod/comments/{created['id']}", json={"body": "moderated"}, headers=headers),
        lambda: client.patch(f"/api/v1/mod/comments/{created['id']}", json={"status": "rejected"}, headers=headers),
        lambda: client.put(f"/api/v1/mod/articles/{DEFAULT_ARTICLE}", json={"comments_closed": True}, headers=headers),
    ]
    for change in changes:
        etag = _etag(client, THREAD)
        assert change().status_code == 200
        assert not _still_fresh(client, THREAD, etag)


def test_trending_has_a_validator_that_follows_the_ranking(app, client):
    # trending ranks only articles the site made known
    known = {"url": "https://news.example/an-article", "title": "An article"}
    headers = mod_headers(create_api_token(app))
    assert client.put(f"/api/v1/mod/articles/{DEFAULT_ARTICLE}", json=known, headers=headers).status_code == 200
    url = "/api/v1/trending?window=24h"
    etag = _etag(client, url)
    assert _still_fresh(client, url, etag)
    send_view(client)
    assert not _still_fresh(client, url, etag)


# --- rendered responses ------------------------------------------------------------------


def test_repeated_thread_reads_are_served_from_the_rendered_cache(app, client):
    post_comment(client, body="cached body")
    first = client.get(THREAD)
    second = client.get(THREAD)
    assert first.get_data() == second.get_data() and first.headers["ETag"] == second.headers["ETag"]
    rendered = app.extensions["engagement.rendered"]
    assert rendered.get(first.headers["ETag"]) == first.get_data()
    # a change is visible to the very next read
    post_comment(client, body="fresh body")
    assert "fresh body" in client.get(THREAD).get_data(as_text=True)


def test_views_do_not_invalidate_thread_pages(client):
    post_comment(client)
    etag = _etag(client, THREAD)
    send_view(client)
    assert _still_fresh(client, THREAD, etag)


def test_closing_by_age_changes_the_thread_validator(app_factory):
    import time_machine

    client = app_factory(AUTO_CLOSE_DAYS=1).test_client()
    with time_machine.travel("2026-01-01 12:00:00Z", tick=False) as clock:
        post_comment(client)
        open_page = client.get(THREAD)
        assert open_page.get_json()["article"]["comments_closed"] is False
        clock.shift(timedelta(days=1, minutes=1))
        closed_page = client.get(THREAD, headers={"If-None-Match": open_page.headers["ETag"]})
        assert closed_page.status_code == 200
        assert closed_page.get_json()["article"]["comments_closed"] is True


def test_rendered_cache_is_bounded():
    from engagement.api.caching import RenderedResponses

    cache = RenderedResponses(max_entries=2, max_body_bytes=10)
    cache.put('"a"', b"1")
    cache.put('"b"', b"2")
    cache.get('"a"')  # recently used
    cache.put('"c"', b"3")
    cache.put('"big"', b"x" * 11)
    assert cache.get('"a"') == b"1" and cache.get('"c"') == b"3"
    assert cache.get('"b"') is None and cache.get('"big"') is None


# --- validators and the cache follow the parsed arguments, not the raw query (issue 10, item 11) --


def test_junk_query_parameters_share_one_validator_and_one_cache_entry(app, client):
    post_comment(client, body="cached body")
    rendered = app.extensions["engagement.rendered"]
    plain = client.get(THREAD)
    for n in range(300):
        response = client.get(f"{THREAD}?junk={n}&sort=oldest&zzz={'x' * n}")
        assert response.status_code == 200
        assert response.headers["ETag"] == plain.headers["ETag"]
        assert response.get_data() == plain.get_data()
    assert len(rendered) == 1
    # a junk parameter is not a new validator: the client's copy is still current
    assert client.get(f"{THREAD}?junk=again", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304


def test_junk_does_not_change_any_public_validator(client):
    post_comment(client)
    for url in (SUMMARY, COUNTS, "/api/v1/trending", "/api/v1/trending?window=24h&limit=10"):
        separator = "&" if "?" in url else "?"
        assert _etag(client, url) == _etag(client, f"{url}{separator}junk=1&_=1700000000"), url
    # parsed defaults and explicit values are the same arguments
    assert _etag(client, THREAD) == _etag(client, THREAD + "?sort=oldest&limit=50")


def test_endless_new_counts_lists_cannot_evict_thread_pages(app_factory):
    app = app_factory(RENDERED_CACHE_ENTRIES=8, RENDERED_CACHE_BYTES=64 * 1024)
    client = app.test_client()
    post_comment(client, body="a page worth keeping")
    page = client.get(THREAD)
    # Any list of keys is a counts answer of its own (unknown keys count zero), and junk
    # parameters are more: none of them is kept.
    for n in range(100):
        assert client.get(f"/api/v1/counts?articles=x{n}&articles=y{n}&cachebuster={n}").status_code == 200
    rendered = app.extensions["engagement.rendered"]
    assert len(rendered) == 1 and rendered.get(page.headers["ETag"]) == page.get_data()
    # Still validated: a repeat with the validator it was given is answered 304.
    repeat = client.get("/api/v1/counts?articles=x99&articles=y99")
    assert _still_fresh(client, "/api/v1/counts?articles=x99&articles=y99&junk=1", repeat.headers["ETag"])


def test_the_rendered_cache_is_bounded_in_total_bytes_least_recently_used_first():
    from engagement.api.caching import RenderedResponses

    cache = RenderedResponses(max_entries=100, max_body_bytes=50, max_total_bytes=100)
    for name in "abcd":
        cache.put(f'"{name}"', name.encode() * 30)
    assert cache.total_bytes <= 100 and len(cache) == 3  # "a" went first
    assert cache.get('"a"') is None
    cache.get('"b"')  # recently used
    cache.put('"e"', b"e" * 30)
    assert cache.get('"b"') is not None and cache.get('"c"') is None
    cache.put('"b"', b"B" * 50)  # replacing an entry counts its new size only
    assert cache.total_bytes == sum(len(cache.get(f'"{n}"') or b"") for n in "abcde") <= 100


def test_the_byte_bound_holds_for_real_responses(app_factory):
    app = app_factory(RENDERED_CACHE_BYTES=4096)
    client = app.test_client()
    rendered = app.extensions["engagement.rendered"]
    for n in range(20):
        post_comment(client, f"article-{n}", body="words " * 100)
        assert client.get(f"/api/v1/articles/article-{n}/comments").status_code == 200
    assert 0 < rendered.total_bytes <= 4096 and len(rendered) < 20
    # the most recent page is still served from the cache
    last = client.get("/api/v1/articles/article-19/comments")
    assert rendered.get(last.headers["ETag"]) == last.get_data()


def test_rendered_cache_bytes_is_configurable_and_validated():
    import pytest

    from engagement.config import ConfigurationError, load_config

    assert load_config("/tmp", environ={})["RENDERED_CACHE_BYTES"] == 16 * 2**20
    assert load_config("/tmp", environ={"ENGAGEMENT_RENDERED_CACHE_BYTES": "1048576"})["RENDERED_CACHE_BYTES"] == 2**20
    for bad in ("-1", "lots"):
        with pytest.raises(ConfigurationError):
            load_config("/tmp", environ={"ENGAGEMENT_RENDERED_CACHE_BYTES": bad})
