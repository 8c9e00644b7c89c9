"""The parsed query strings of repeatable public reads are kept per worker: a repeat is
answered from them, never a refusal, and never an object a view could change for the next."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engagement.api import common
from engagement.api.common import EngagementBlueprint
from engagement.schemas.comments import ThreadQuerySchema
from tests.factories import DEFAULT_ARTICLE, assert_error, post_comment

PARSER = EngagementBlueprint.ARGUMENTS_PARSER
THREAD = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"


@pytest.fixture
def schema_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The thread query schema's loads, from an empty store of kept queries."""
    PARSER._query_parses.clear()
    loads: list[Any] = []
    original = ThreadQuerySchema.load

    def load(self: ThreadQuerySchema, data: Any, **kwargs: Any) -> Any:
        loads.append(dict(data))
        return original(self, data, **kwargs)

    monkeypatch.setattr(ThreadQuerySchema, "load", load)
    yield loads
    PARSER._query_parses.clear()


def test_a_repeated_query_is_loaded_once(client, schema_loads):
    post_comment(client)
    first = client.get(THREAD, query_string={"sort": "newest", "limit": 5})
    assert first.status_code == 200
    for _ in range(3):
        again = client.get(THREAD, query_string={"sort": "newest", "limit": 5})
        assert again.status_code == 200 and again.get_json() == first.get_json()
    assert len(schema_loads) == 1
    assert client.get(THREAD, query_string={"sort": "oldest", "limit": 5}).status_code == 200
    assert len(schema_loads) == 2


def test_a_refused_query_is_refused_every_time(client, schema_loads):
    for _ in range(2):
        assert_error(client.get(THREAD, query_string={"limit": 0}), 422, "validation_error")
    assert len(schema_loads) == 2


def test_what_a_view_is_given_is_its_own(app):
    from engagement.schemas.engagement import CountsQuerySchema

    schema = CountsQuerySchema()
    PARSER._query_parses.clear()
    with app.test_request_context("/api/v1/counts?articles=a&articles=b"):
        first = PARSER.parse(schema, location="query")
        first["articles"].append("changed by a view")
        second = PARSER.parse(schema, location="query")
    assert second == {"articles": ["a", "b"]}
    assert len(PARSER._query_parses) == 1


def test_the_store_is_bounded_in_entries_and_in_query_length(app, monkeypatch):
    monkeypatch.setattr(common, "KEPT_QUERY_PARSES", 3)
    schema = ThreadQuerySchema()
    PARSER._query_parses.clear()
    for limit in range(1, 8):
        with app.test_request_context(f"{THREAD}?limit={limit}"):
            assert PARSER.parse(schema, location="query")["limit"] == limit
    assert [query for _, query in PARSER._query_parses] == [b"limit=5", b"limit=6", b"limit=7"]
    long_cursor = "c" * common.MAX_KEPT_QUERY_BYTES
    with app.test_request_context(f"{THREAD}?cursor={long_cursor}"):
        assert PARSER.parse(schema, location="query")["cursor"] == long_cursor
    assert len(PARSER._query_parses) == 3
    PARSER._query_parses.clear()


@pytest.mark.parametrize("query", [
    "", "articles=a&articles=b", "a", "a=", "a=&&b&", "&&", "a=b=c", "=v", "%41=%42", "a+b=c+d",
    "a=%ZZ", "k=%C3%A9", "k=é".encode().decode("latin-1"), "a=1;b=2", "x=" + "y" * 5000,
])
def test_query_strings_parse_as_werkzeug_parses_them(app, query):
    from flask import Request, request

    with app.test_request_context("/api/v1/counts", environ_overrides={"QUERY_STRING": query}):
        standard = Request(request.environ).args
        assert type(request._get_current_object()) is not Request  # the app's own request class
        assert list(request.args.items(multi=True)) == list(standard.items(multi=True))
        assert type(request.args) is type(standard)


def test_counts_read_every_key_of_a_plain_query_string(client):
    keys = [f"plain-{index}" for index in range(100)]
    response = client.get("/api/v1/counts?" + "&".join(f"articles={key}" for key in keys) + "&&junk")
    assert response.status_code == 200
    assert list(response.get_json()) == keys


@pytest.mark.parametrize("path", ["/api/v1/counts", THREAD, "/api/v1/trending"])
def test_a_query_string_of_raw_bytes_that_are_not_utf8_is_malformed(client, path):
    response = client.get(path, environ_overrides={"QUERY_STRING": "articles=\xff&sort=\xfe"})
    assert_error(response, 400, "bad_request")
