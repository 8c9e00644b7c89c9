"""The view beacon: dedup windows, daily key rotation, reader identity, bots and prefetches."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from tests.factories import (
    BROWSER_UA,
    assert_error,
    browser_headers,
    get_article,
    mint_reader,
    reader_headers,
    send_view,
)

T0 = datetime(2025, 9, 13, 8, 0, tzinfo=timezone.utc)


def test_first_view_counts_creates_the_article_and_answers_202(client):
    assert client.get("/api/v1/articles/fresh").status_code == 404
    assert send_view(client, "fresh") == 1
    article = get_article(client, "fresh")
    assert article["views"] == 1
    assert article["comment_count"] == 0


def test_same_reader_is_counted_once_per_window_then_again(client):
    token = mint_reader(client)
    headers = browser_headers(token)
    with time_machine.travel(T0, tick=False) as clock:
        assert send_view(client, headers=headers) == 1
        for minutes in (1, 10, 29):
            clock.move_to(T0 + timedelta(minutes=minutes))
            assert send_view(client, headers=headers) == 1
        # Uncounted views do not extend the window: it runs from the counted view.
        clock.move_to(T0 + timedelta(minutes=30, seconds=1))
        assert send_view(client, headers=headers) == 2
        clock.move_to(T0 + timedelta(minutes=45))
        assert send_view(client, headers=headers) == 2
        clock.move_to(T0 + timedelta(minutes=61))
        assert send_view(client, headers=headers) == 3
    assert get_article(client)["views"] == 3


def test_window_is_configurable(app_factory):
    client = app_factory(VIEW_WINDOW_MINUTES=5).test_client()
    with time_machine.travel(T0, tick=False) as clock:
        assert send_view(client) == 1
        clock.move_to(T0 + timedelta(minutes=4))
        assert send_view(client) == 1
        clock.move_to(T0 + timedelta(minutes=6))
        assert send_view(client) == 2


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "fallback"])
def test_window_spanning_midnight_does_not_count_twice(client, with_token):
    headers = browser_headers(mint_reader(client) if with_token else None)
    before_midnight = datetime(2025, 9, 13, 23, 50, tzinfo=timezone.utc)
    with time_machine.travel(before_midnight, tick=False) as clock:
        assert send_view(client, headers=headers) == 1
        # The visitor key rotated at midnight, but yesterday's mark still holds.
        clock.move_to(before_midnight + timedelta(minutes=15))
        assert send_view(client, headers=headers) == 1
        clock.move_to(before_midnight + timedelta(minutes=29))
        assert send_view(client, headers=headers) == 1
        clock.move_to(before_midnight + timedelta(minutes=31))
        assert send_view(client, headers=headers) == 2
        # And today's mark holds in turn.
        clock.move_to(before_midnight + timedelta(minutes=45))
        assert send_view(client, headers=headers) == 2


def test_a_reader_counted_two_days_ago_counts_again(client):
    headers = browser_headers(mint_reader(client))
    with time_machine.travel(T0, tick=False) as clock:
        assert send_view(client, headers=headers) == 1
        clock.move_to(T0 + timedelta(days=2))
        assert send_view(client, headers=headers) == 2


def test_each_article_has_its_own_window(client):
    headers = browser_headers(mint_reader(client))
    assert send_view(client, "one", headers=headers) == 1
    assert send_view(client, "two", headers=headers) == 1
    assert send_view(client, "one", headers=headers) == 1
    assert get_article(client, "one")["views"] == 1
    assert get_article(client, "two")["views"] == 1


def test_two_tokens_from_the_same_address_and_agent_count_twice(client):
    first, second = mint_reader(client), mint_reader(client)
    assert send_view(client, headers=browser_headers(first)) == 1
    assert send_view(client, headers=browser_headers(second)) == 2
    assert send_view(client, headers=browser_headers(first)) == 2


def test_a_token_follows_the_reader_across_addresses_and_agents(client):
    token = mint_reader(client)
    assert send_view(client, headers=browser_headers(token), address="198.51.100.1") == 1
    assert send_view(client, headers=browser_headers(token, "Mozilla/5.0 Safari/605.1"), address="198.51.100.2") == 1


def test_without_token_the_same_address_and_agent_count_once(client):
    assert send_view(client, headers=browser_headers(), address="198.51.100.1") == 1
    assert send_view(client, headers=browser_headers(), address="198.51.100.1") == 1


def test_without_token_another_agent_or_address_counts_again(client):
    assert send_view(client, headers=browser_headers(), address="198.51.100.1") == 1
    other_agent = browser_headers(user_agent="Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Safari/605.1.15")
    assert send_view(client, headers=other_agent, address="198.51.100.1") == 2
    assert send_view(client, headers=browser_headers(), address="198.51.100.2") == 3


def test_token_and_fallback_of_the_same_browser_are_different_readers(client):
    token = mint_reader(client)
    assert send_view(client, headers=browser_headers()) == 1
    assert send_view(client, headers=browser_headers(token)) == 2


BOT_AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36",
    "",
    "   ",
]


@pytest.mark.parametrize("user_agent", BOT_AGENTS)
def test_bots_and_empty_agents_are_not_counted_but_get_the_count(client, user_agent):
    assert send_view(client) == 1
    assert send_view(client, headers={"User-Agent": user_agent}, address="192.0.2.50") == 1
    assert get_article(client)["views"] == 1


@pytest.mark.parametrize(
    "user_agent, counted",
    [
        ("python-requests/2.32.3", True),
        ("curl/8.5.0", True),
        ("okhttp/4.12.0", True),
        (BOT_AGENTS[0], False),  # Googlebot
        (BOT_AGENTS[2], False),  # a link previewer
        (BOT_AGENTS[5], False),  # a headless browser
        ("", False),
    ],
)
def test_with_a_reader_token_only_declared_crawlers_are_refused(client, user_agent, counted):
    token = mint_reader(client)
    assert send_view(client, headers={"User-Agent": user_agent, "X-Reader-Token": token}) == int(counted)


@pytest.mark.parametrize("user_agent", BOT_AGENTS[:3])
def test_bots_do_not_create_articles(client, user_agent):
    assert send_view(client, "bot-only", headers={"User-Agent": user_agent}) == 0
    assert_error(client.get("/api/v1/articles/bot-only"), 404, "not_found")


@pytest.mark.parametrize(
    "header",
    [
        {"Sec-Purpose": "prefetch"},
        {"Sec-Purpose": "prefetch;prerender"},
        {"Sec-Purpose": "prefetch;anonymous-client-ip"},
        {"Purpose": "prefetch"},
        {"Purpose": "Prefetch"},
        {"X-Moz": "prefetch"},
        {"X-Purpose": "preview"},
    ],
    ids=lambda header: "-".join(f"{k}={v}" for k, v in header.items()),
)
def test_prefetch_and_preview_loads_are_not_counted(client, header):
    assert send_view(client, headers=browser_headers(**header)) == 0
    assert_error(client.get("/api/v1/articles/an-article"), 404, "not_found")
    assert send_view(client, headers=browser_headers()) == 1
    assert send_view(client, headers=browser_headers(**header), address="192.0.2.9") == 1


def test_ordinary_browsers_are_counted(client):
    agents = [
        BROWSER_UA,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ]
    for count, agent in enumerate(agents, start=1):
        assert send_view(client, headers={"User-Agent": agent}) == count


def test_a_token_that_does_not_verify_is_refused(client):
    assert_error(
        client.post("/api/v1/articles/an-article/views", headers=reader_headers("forged")), 401, "unauthorized"
    )


def test_bad_article_key_is_not_found(client):
    assert_error(client.post("/api/v1/articles/-bad/views", headers=browser_headers()), 404, "not_found")


def test_views_appear_in_counts(client):
    send_view(client, "a")
    send_view(client, "a", address="192.0.2.1")
    response = client.get("/api/v1/counts", query_string={"articles": ["a"]})
    assert response.get_json()["a"]["views"] == 2
