"""Counters stay exact under concurrent requests to several worker processes.

400 readers each send their view beacon twice, interleaved, from 32 threads; one reader
races 200 identical reactions and 200 identical votes, then a mix of opposite ones.
Exactly one increment per reader may land, never a 5xx.
"""
from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from engagement.clock import utcnow
from engagement.privacy import Keyring
from tests.factories import BROWSER_UA
from tests.server.conftest import LiveServer

pytestmark = pytest.mark.server

THREADS = 32
REQUEST_TIMEOUT_SECONDS = 30
READERS = 400
RACERS = 200


def call(server: LiveServer, method: str, path: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"User-Agent": BROWSER_UA, "Accept": "application/json"}
    data = None
    if token is not None:
        headers["X-Reader-Token"] = token
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(server.base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def race(server: LiveServer, calls: list[tuple[str, str, str | None, Any]]) -> list[tuple[int, Any]]:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [
            pool.submit(call, server, method, path, token=token, body=body) for method, path, token, body in calls
        ]
        return [future.result(timeout=REQUEST_TIMEOUT_SECONDS * 4) for future in futures]


def statuses(results: list[tuple[int, Any]]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for status, _ in results:
        counted[status] = counted.get(status, 0) + 1
    return counted


def test_views_are_counted_exactly_once_per_reader(live_server: LiveServer):
    keyring = Keyring(live_server.secret_key)
    tokens = [keyring.mint_reader_token(utcnow()) for _ in range(READERS)]
    beacons = [("POST", "/api/v1/articles/race-views/views", token, None) for token in tokens * 2]
    random.Random(3).shuffle(beacons)

    results = race(live_server, beacons)

    assert statuses(results) == {202: 2 * READERS}, [r for r in results if r[0] != 202][:3]
    assert max(body["views"] for _, body in results) == READERS
    status, article = call(live_server, "GET", "/api/v1/articles/race-views")
    assert status == 200 and article["views"] == READERS
    # Every worker's next answer still adds up (with Redis: from totals kept across flushes).
    latecomers = race(live_server, [("POST", "/api/v1/articles/race-views/views", token, None)
                                    for token in (keyring.mint_reader_token(utcnow()) for _ in range(THREADS))])
    answers = [body["views"] for _, body in latecomers]
    assert max(answers) == READERS + THREADS and min(answers) > READERS, answers
    status, article = call(live_server, "GET", "/api/v1/articles/race-views")
    assert status == 200 and article["views"] == READERS + THREADS


def test_racing_reactions_from_one_reader_count_once(live_server: LiveServer):
    token = Keyring(live_server.secret_key).mint_reader_token(utcnow())
    path = "/api/v1/articles/race-reactions/reactions/like"

    results = race(live_server, [("PUT", path, token, None)] * RACERS)

    assert statuses(results) == {200: RACERS}, [r for r in results if r[0] != 200][:3]
    status, state = call(live_server, "GET", "/api/v1/articles/race-reactions/reactions", token=token)
    assert status == 200 and state["counts"]["like"] == 1 and state["mine"] == ["like"]

    # Opposite requests racing each other still leave the total equal to the rows.
    mixed = [("PUT" if n % 2 else "DELETE", path, token, None) for n in range(RACERS)]
    assert statuses(race(live_server, mixed)) == {200: RACERS}
    status, state = call(live_server, "DELETE", path, token=token)
    assert status == 200 and state["counts"]["like"] == 0 and state["mine"] == []


def test_racing_votes_from_one_reader_count_once(live_server: LiveServer):
    keyring = Keyring(live_server.secret_key)
    author, voter = keyring.mint_reader_token(utcnow()), keyring.mint_reader_token(utcnow())
    status, comment = call(
        live_server, "POST", "/api/v1/articles/race-votes/comments", token=author, body={"body": "Vote on me."}
    )
    assert status == 201, comment
    path = f"/api/v1/comments/{comment['id']}/vote"

    results = race(live_server, [("POST", path, voter, {"value": 1})] * RACERS)

    assert statuses(results) == {200: RACERS}, [r for r in results if r[0] != 200][:3]
    status, state = call(live_server, "POST", path, token=voter, body={"value": 1})
    assert status == 200
    assert state == {"score": 1, "upvotes": 1, "downvotes": 0, "my_vote": 1}

    # Changes racing each other: the counters must still match the one stored vote.
    mixed = [("POST", path, voter, {"value": (1, -1, 0)[n % 3]}) for n in range(RACERS)]
    assert statuses(race(live_server, mixed)) == {200: RACERS}
    status, state = call(live_server, "POST", path, token=voter, body={"value": 0})
    assert status == 200
    assert state == {"score": 0, "upvotes": 0, "downvotes": 0, "my_vote": 0}
