"""What one anonymous client with many user agents, fresh tokens and one address (or one
IPv6 /64) can still do to views, votes, reactions, flags and trending: each test runs the
attack through the HTTP API and checks that it no longer does harm, and that real readers
behind one shared address are still served."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engagement import bots
from engagement.extensions import db
from engagement.models import Article
from tests.factories import (
    BROWSER_UA,
    DEFAULT_ARTICLE,
    assert_error,
    browser_headers,
    established_reader,
    flag_comment,
    get_article,
    list_comments,
    mint_reader,
    network_address,
    post_comment,
    reader_headers,
    send_view,
)

ATTACKER = "203.0.113.66"
SITE = "https://news.example"


def agent(n: int) -> str:
    return f"{BROWSER_UA} Variant/{n}"


@pytest.fixture
def limited(app_factory):
    """The default limits, switched on (the suite's other apps run with them off)."""
    return app_factory(RATELIMIT_ENABLED=True, CORS_ORIGINS=[SITE]).test_client()


@pytest.fixture
def mod(app):
    from tests.factories import create_api_token, mod_headers

    return mod_headers(create_api_token(app, "moderator"))


def public_ids(client, article=DEFAULT_ARTICLE):
    return [c["id"] for c in list_comments(client, article)["comments"]]


# --- 1. a long user agent -------------------------------------------------------------------

def test_a_long_user_agent_is_cut_before_the_crawler_check(client, monkeypatch):
    seen: list[int] = []
    real = bots._CRAWLERS

    class Spy:
        def search(self, text):
            seen.append(len(text))
            return real.search(text)

    monkeypatch.setattr(bots, "_CRAWLERS", Spy())
    bots.is_bot.cache_clear()
    response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", headers={"User-Agent": "Q" * 8000})
    assert response.status_code == 202
    assert seen and max(seen) <= 512


def test_the_crawler_list_still_recognises_crawlers_and_browsers():
    assert bots.is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert bots.is_bot("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")
    assert bots.is_bot("some-random-crawler-name/1.0")  # the pattern whose prefix was dropped
    assert bots.is_bot("curl/8.5.0") and bots.is_bot("")
    assert not bots.is_bot(BROWSER_UA)
    assert not bots.is_bot("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                           "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


# --- 2. flags from one network ----------------------------------------------------------------

def test_one_client_rotating_agents_and_tokens_hides_nothing(limited):
    comments = [post_comment(limited, body=f"comment {n}", headers=reader_headers(mint_reader(limited)))
                for n in range(10)]
    for comment in comments:
        for n in range(3):
            headers = browser_headers(mint_reader(limited), user_agent=agent(n))
            flag_comment(limited, comment["id"], "abuse", headers=headers, address=ATTACKER)
        for n in range(3):  # tokenless, three more agents
            flag_comment(limited, comment["id"], "abuse", headers={"User-Agent": agent(10 + n)}, address=ATTACKER)
    assert sorted(public_ids(limited)) == sorted(c["id"] for c in comments)


def test_one_ipv6_network_counts_once_whatever_its_addresses(client):
    comment = post_comment(client)
    for n in range(8):
        address = f"2001:db8:1:{n:x}::{n + 1}"  # eight /64s inside one /48
        flag_comment(client, comment["id"], headers=reader_headers(established_reader(client)), address=address)
    assert public_ids(client) == [comment["id"]]


def test_established_readers_on_independent_networks_hold_the_comment(client, mod):
    comment = post_comment(client)
    for n in range(3):
        flag_comment(client, comment["id"], headers=reader_headers(established_reader(client)),
                     address=network_address(n))
    assert public_ids(client) == []
    [held] = client.get("/api/v1/mod/comments", headers=mod).get_json()["comments"]
    assert held["moderation_reason"] == "flagged"


def test_fresh_tokens_on_independent_networks_weigh_half(client):
    comment = post_comment(client)
    for n in range(5):
        flag_comment(client, comment["id"], headers=reader_headers(mint_reader(client)), address=network_address(n))
    assert public_ids(client) == [comment["id"]]
    flag_comment(client, comment["id"], headers=reader_headers(mint_reader(client)), address=network_address(5))
    assert public_ids(client) == []


def test_a_pinned_comment_is_never_hidden_by_flags(client, mod):
    note = post_comment(client, body="Editors' note: corrections policy")
    reply = post_comment(client, body="Thanks", parent_id=note["id"])
    assert client.patch(f"/api/v1/mod/comments/{note['id']}", json={"pinned": True}, headers=mod).status_code == 200
    for n in range(6):
        flag_comment(client, note["id"], headers=reader_headers(established_reader(client)), address=network_address(n))
    [shown] = list_comments(client)["comments"]
    assert shown["id"] == note["id"] and [r["id"] for r in shown["replies"]] == [reply["id"]]
    flagged = client.get("/api/v1/mod/comments", query_string={"status": "flagged"}, headers=mod).get_json()
    assert [c["id"] for c in flagged["comments"]] == [note["id"]]
    assert flagged["comments"][0]["flags"]["open"] == 6


def test_an_approved_comment_is_not_hidden_again_by_new_agents(client, mod):
    comment = post_comment(client)
    for n in range(3):
        flag_comment(client, comment["id"], headers=reader_headers(established_reader(client)), address=network_address(n))
    assert public_ids(client) == []
    client.patch(f"/api/v1/mod/comments/{comment['id']}", json={"status": "approved"}, headers=mod)
    for n in range(3, 9):
        flag_comment(client, comment["id"], headers=reader_headers(established_reader(client)), address=network_address(n))
    assert public_ids(client) == [comment["id"]]


def test_after_an_author_edit_flags_count_again_and_the_same_reader_may_flag_anew(client, mod):
    comment = post_comment(client)
    client.patch(f"/api/v1/mod/comments/{comment['id']}", json={"status": "approved"}, headers=mod)
    readers = [reader_headers(established_reader(client)) for _ in range(3)]
    flag_comment(client, comment["id"], headers=readers[0], address=network_address(0))
    edited = client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "Now with an insult"},
                          headers={"X-Edit-Token": comment["edit_token"]})
    assert edited.status_code == 200
    for n, headers in enumerate(readers):  # the first reader flags the new text again
        flag_comment(client, comment["id"], headers=headers, address=network_address(n))
    assert public_ids(client) == []
    queue = client.get("/api/v1/mod/comments", query_string={"status": "flagged"}, headers=mod).get_json()
    assert queue["comments"][0]["flags"]["open"] == 4


# --- 4. counts per address and target --------------------------------------------------------

def test_rotating_agents_from_one_address_adds_at_most_30_views(limited):
    for n in range(200):
        send_view(limited, headers={"User-Agent": agent(n)}, address=ATTACKER)
    assert get_article(limited)["views"] == 30


def test_fresh_tokens_from_one_address_add_at_most_30_views(limited):
    for n in range(60):
        send_view(limited, headers=browser_headers(mint_reader(limited)), address=ATTACKER)
    assert get_article(limited)["views"] == 30


def test_returning_readers_behind_one_address_keep_counting(limited):
    """An office or carrier address: returning readers (established tokens) count ten times as far."""
    tokens = [established_reader(limited) for _ in range(120)]
    for token in tokens:
        send_view(limited, headers=browser_headers(token), address=ATTACKER)
    assert get_article(limited)["views"] == 120


def test_the_cap_is_per_article_and_per_address(limited):
    for n in range(40):
        send_view(limited, "first", headers={"User-Agent": agent(n)}, address=ATTACKER)
        send_view(limited, "second", headers={"User-Agent": agent(n)}, address=ATTACKER)
        send_view(limited, "first", headers={"User-Agent": agent(n)}, address=network_address(n))
    assert get_article(limited, "first")["views"] == 30 + 40
    assert get_article(limited, "second")["views"] == 30


def test_an_ipv6_client_rotating_inside_its_64_is_one_address(limited):
    for n in range(50):
        send_view(limited, headers={"User-Agent": BROWSER_UA}, address=f"2001:db8:0:1::{n + 1:x}")
    assert get_article(limited)["views"] == 1  # one /64 + one agent: one reader
    for n in range(50):
        send_view(limited, headers={"User-Agent": agent(n)}, address=f"2001:db8:0:1::{n + 1:x}")
    assert get_article(limited)["views"] == 30


def test_with_rate_limits_off_every_distinct_reader_counts(client):
    for n in range(60):
        send_view(client, headers={"User-Agent": agent(n)}, address=ATTACKER)
    assert get_article(client)["views"] == 60


def test_upvotes_from_one_client_are_capped_per_comment(limited):
    comment = post_comment(limited, headers=browser_headers(mint_reader(limited)))
    statuses = []
    for n in range(100):
        response = limited.post(
            f"/api/v1/comments/{comment['id']}/vote", json={"value": 1},
            headers=browser_headers(mint_reader(limited), user_agent=agent(n)),
            environ_base={"REMOTE_ADDR": ATTACKER},
        )
        statuses.append(response.status_code)
    assert statuses.count(200) == 10
    refused = limited.post(
        f"/api/v1/comments/{comment['id']}/vote", json={"value": 1},
        headers=browser_headers(mint_reader(limited)), environ_base={"REMOTE_ADDR": ATTACKER},
    )
    assert int(assert_error(refused, 429, "rate_limited") and refused.headers["Retry-After"]) > 0
    assert list_comments(limited)["comments"][0]["score"] == 10
    # Another address still votes.
    other = limited.post(f"/api/v1/comments/{comment['id']}/vote", json={"value": 1},
                         headers=browser_headers(mint_reader(limited)), environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 200 and other.get_json()["score"] == 11


def test_reactions_from_one_client_are_capped_per_article(limited):
    first_reader = browser_headers(mint_reader(limited), user_agent=agent(0))
    statuses = []
    for n in range(100):
        response = limited.put(
            f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like",
            headers=first_reader if n == 0 else browser_headers(mint_reader(limited), user_agent=agent(n)),
            environ_base={"REMOTE_ADDR": ATTACKER},
        )
        statuses.append(response.status_code)
    assert statuses.count(200) == 30 and set(statuses) == {200, 429}
    assert get_article(limited)["reactions"]["like"] == 30
    # Past the budget, repeating a reaction already given is still answered (PUT is
    # idempotent) and changes nothing; another kind from the same reader is refused.
    again = limited.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like", headers=first_reader,
                        environ_base={"REMOTE_ADDR": ATTACKER})
    assert again.status_code == 200 and again.get_json()["mine"] == ["like"] and again.get_json()["counts"]["like"] == 30
    other_kind = limited.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/love", headers=first_reader,
                             environ_base={"REMOTE_ADDR": ATTACKER})
    assert_error(other_kind, 429, "rate_limited")


# --- 4. the page names its article; only known articles trend ------------------------------

def beacon(client, key, *, origin=SITE, url=None, title="A title", address="198.51.100.1", user_agent=BROWSER_UA):
    headers = {"User-Agent": user_agent}
    if origin:
        headers["Origin"] = origin
    response = client.post(
        f"/api/v1/articles/{key}/views", json={"url": url or f"{SITE}/2025/{key}", "title": title},
        headers=headers, environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code == 202, response.get_json()
    return response


def test_a_page_of_the_site_names_its_article_first_write_wins(limited, app):
    beacon(limited, "belarus", title="Belarus frees prisoners")
    beacon(limited, "belarus", title="BUY CHEAP PILLS", url=f"{SITE}/pills")
    summary = get_article(limited, "belarus")
    assert (summary["title"], summary["url"]) == ("Belarus frees prisoners", f"{SITE}/2025/belarus")


@pytest.mark.parametrize(
    "origin, url",
    [
        ("https://evil.example", "https://evil.example/x"),  # not a site origin
        ("https://evil.example", f"{SITE}/x"),  # url of the site, request from elsewhere
        (SITE, "https://evil.example/x"),  # url elsewhere
        (None, f"{SITE}/x"),  # no Origin (not a browser on the site's page)
        (SITE, "javascript:alert(1)"),
    ],
)
def test_names_from_elsewhere_are_ignored(limited, origin, url):
    response = limited.post(
        "/api/v1/articles/named/views", json={"url": url, "title": "Injected"},
        headers={"User-Agent": BROWSER_UA, **({"Origin": origin} if origin else {})},
    )
    assert response.status_code in (202, 422)
    summary = limited.get("/api/v1/articles/named")
    if summary.status_code == 200:
        assert summary.get_json()["url"] is None and summary.get_json()["title"] is None


def test_without_configured_site_origins_no_page_can_name_an_article(app_factory):
    client = app_factory().test_client()  # CORS_ORIGINS defaults to "*"
    beacon(client, "open")
    assert get_article(client, "open")["url"] is None


def test_a_moderator_overrides_a_name(limited, app):
    from tests.factories import create_api_token, mod_headers

    beacon(limited, "renamed", title="First")
    token = mod_headers(create_api_token(limited.application, "moderator"))
    response = limited.put("/api/v1/mod/articles/renamed", json={"title": "Corrected"}, headers=token)
    assert response.status_code == 200 and response.get_json()["title"] == "Corrected"


def test_beacons_to_made_up_keys_never_reach_trending(limited):
    for n in range(150):
        limited.post("/api/v1/articles/BUY-CHEAP-PILLS.at.pills-shop.example/views",
                     headers={"User-Agent": agent(n)}, environ_base={"REMOTE_ADDR": network_address(n)})
    beacon(limited, "real-story")
    keys = [a["key"] for a in limited.get("/api/v1/trending").get_json()["articles"]]
    assert keys == ["real-story"]


# --- 12 and 17. shared addresses and IPv6 ---------------------------------------------------

def test_many_readers_behind_one_address_each_get_a_token(limited):
    statuses = [limited.post("/api/v1/readers", headers={"User-Agent": agent(n)},
                             environ_base={"REMOTE_ADDR": ATTACKER}).status_code for n in range(100)]
    assert statuses == [201] * 100


def test_a_reader_without_a_token_can_still_take_part(limited):
    headers = {"User-Agent": BROWSER_UA}
    assert limited.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", headers=headers).status_code == 202
    posted = post_comment(limited, headers=headers)
    assert limited.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like", headers=headers).status_code == 200
    assert posted["status"] == "approved"


def test_address_limits_key_ipv6_on_its_64(app_factory):
    from engagement.config import DEFAULT_RATE_LIMITS

    limits = {**DEFAULT_RATE_LIMITS, "comments": ("100/minute", "3/minute")}
    client = app_factory(RATELIMIT_ENABLED=True, RATE_LIMITS=limits).test_client()
    statuses = [
        client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": f"comment {n}"},
                    headers=browser_headers(mint_reader(client)),
                    environ_base={"REMOTE_ADDR": f"2001:db8:7:7::{n + 1:x}"}).status_code
        for n in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]


def test_a_ban_covers_the_whole_ipv6_64(client, mod):
    comment = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "troll"},
                          headers={"User-Agent": BROWSER_UA}, environ_base={"REMOTE_ADDR": "2001:db8:9:9::1"})
    banned = client.post("/api/v1/mod/bans", json={"comment_id": comment.get_json()["id"], "reason": "trolling"},
                         headers=mod)
    assert banned.status_code == 201
    again = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "still here"},
                        headers=browser_headers(mint_reader(client), user_agent=agent(1)),
                        environ_base={"REMOTE_ADDR": "2001:db8:9:9:abcd::99"})
    assert_error(again, 403, "banned")
    elsewhere = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "a neighbour"},
                            headers=browser_headers(mint_reader(client), user_agent=agent(2)),
                            environ_base={"REMOTE_ADDR": "2001:db8:9:a::1"})
    assert elsewhere.status_code == 201


def test_raw_addresses_are_still_never_stored(client, app):
    send_view(client, address="2001:db8:5:5::42")
    post_comment(client, headers={"User-Agent": BROWSER_UA})
    with app.app_context():
        dump = "\n".join(str(row) for table in ("comments", "view_marks", "flags")
                         for row in db.session.execute(sa.text(f"SELECT * FROM {table}")))
    assert "2001:db8" not in dump and "203.0.113" not in dump


def test_budgets_are_shared_through_redis_by_every_worker(app_factory, redis_client):
    """Two apps on one Redis stand for two workers or hosts: one budget between them."""
    import os

    workers = [
        app_factory(RATELIMIT_ENABLED=True, REDIS_URL=os.environ["REDIS_URL"]).test_client() for _ in range(2)
    ]
    for n in range(60):
        send_view(workers[n % 2], headers={"User-Agent": agent(n)}, address=ATTACKER)
    assert get_article(workers[0])["views"] == 30


def test_an_unreachable_limiter_store_allows_and_warns_once(app_factory, caplog, monkeypatch):
    """Budgets fail open when their store is down, with one warning, not one per request."""
    import logging

    from limits.errors import StorageError

    from engagement.api import ratelimits
    from engagement.observability import ThrottledWarnings

    monkeypatch.setattr(ratelimits, "_warnings", ThrottledWarnings(logging.getLogger("engagement.api.ratelimits"), 60))
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    strategy = client.application.extensions["engagement.limiter"].limiter

    def down(*args, **kwargs):
        raise StorageError(ConnectionError("store down"))

    monkeypatch.setattr(strategy, "test", down)
    monkeypatch.setattr(strategy, "hit", down)
    with caplog.at_level(logging.WARNING, logger="engagement.api.ratelimits"):
        for n in range(40):
            send_view(client, headers={"User-Agent": agent(n)}, address=ATTACKER)
    assert get_article(client)["views"] == 40  # fails open
    warnings = [r for r in caplog.records if r.name == "engagement.api.ratelimits"]
    assert len(warnings) == 2  # one "allowing", one "not counted"
