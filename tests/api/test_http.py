"""HTTP conventions: the error envelope, JSON strictness, CORS, OpenAPI, probes, logs."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
from flask import after_this_request
from openapi_spec_validator import validate as validate_openapi

from engagement.observability import JsonFormatter
from tests.factories import DEFAULT_ARTICLE, assert_error, browser_headers, mint_reader, post_comment

COMMENTS = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"
REACTIONS = f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions"


class TestErrorEnvelope:
    def test_unknown_path_is_json_404(self, client):
        assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
        assert_error(client.get("/not-even-api"), 404, "not_found")

    def test_wrong_method_is_json_405(self, client):
        response = client.put("/api/v1/readers")
        assert_error(response, 405, "method_not_allowed")
        assert "POST" in response.headers["Allow"]

    def test_malformed_json_is_400(self, client):
        response = client.post(COMMENTS, data='{"body": "x"', content_type="application/json")
        assert_error(response, 400, "bad_request")

    @pytest.mark.parametrize("raw", ['["body"]', '"body"', "42", "null", '{"body": NaN}', '{"body": "a", "body": "b"}'])
    def test_non_object_or_non_strict_json_is_400(self, client, raw):
        assert_error(client.post(COMMENTS, data=raw, content_type="application/json"), 400, "bad_request")

    def test_other_content_type_is_415(self, client):
        response = client.post(COMMENTS, data="body=hello", content_type="application/x-www-form-urlencoded")
        assert_error(response, 415, "unsupported_media_type")

    def test_oversized_body_is_413(self, app_factory):
        client = app_factory(MAX_CONTENT_LENGTH=1024).test_client()
        response = client.post(COMMENTS, json={"body": "x" * 2000})
        assert_error(response, 413, "payload_too_large")

    def test_default_body_limit_is_64_kib(self, client):
        response = client.post(COMMENTS, json={"body": "x" * (65 * 1024)})
        assert_error(response, 413, "payload_too_large")

    def test_unexpected_error_is_a_json_500_without_detail(self, app, caplog):
        @app.get("/boom")
        def boom():
            raise RuntimeError("secret internal detail")

        with caplog.at_level(logging.ERROR, logger="engagement"):
            response = app.test_client().get("/boom")
        error = assert_error(response, 500, "internal_error")
        assert "secret internal detail" not in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)
        assert error["message"]
        assert any(record.exc_info for record in caplog.records), "the traceback is logged"


class TestSecurityHeaders:
    def test_json_responses_carry_security_headers(self, client):
        response = client.get(COMMENTS)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]

    def test_no_cookies_are_ever_set(self, client):
        post_comment(client)
        for response in (client.get(COMMENTS), client.post("/api/v1/readers")):
            assert "Set-Cookie" not in response.headers


NEWS = {"Origin": "https://news.example"}
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
CORS_HEADER_NAMES = (ALLOW_ORIGIN, "Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
                     "Access-Control-Allow-Headers", "Access-Control-Max-Age")


def preflight(client, path=COMMENTS, method="POST", origin=NEWS):
    return client.options(path, headers={
        **origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, x-reader-token, x-edit-token",
    })


def vary(response) -> list[str]:
    return [value.strip() for line in response.headers.getlist("Vary") for value in line.split(",")]


class TestCors:
    def test_preflight_allows_json_and_reader_headers(self, client):
        response = preflight(client)
        assert response.status_code == 200
        assert response.headers[ALLOW_ORIGIN] == "*"
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        for header in ("content-type", "x-reader-token", "x-edit-token"):
            assert header in allowed
        methods = {method.strip() for method in response.headers["Access-Control-Allow-Methods"].split(",")}
        assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
        assert response.headers["Access-Control-Max-Age"] == "86400"
        assert "Access-Control-Allow-Credentials" not in response.headers

    def test_preflight_for_a_method_the_api_lacks_allows_nothing_more(self, client):
        response = preflight(client, method="TRACE")
        assert response.headers[ALLOW_ORIGIN] == "*"
        assert "Access-Control-Allow-Methods" not in response.headers
        assert "Access-Control-Allow-Headers" not in response.headers

    @pytest.mark.parametrize("origin", [NEWS, {}])
    def test_any_origin_by_default_one_answer_for_every_origin(self, client, origin):
        response = client.get(COMMENTS, headers=origin)
        assert response.headers[ALLOW_ORIGIN] == "*"
        exposed = {value.strip() for value in response.headers["Access-Control-Expose-Headers"].split(",")}
        assert exposed == {"ETag", "Retry-After"}
        assert "Origin" not in vary(response)  # a shared cache may keep one copy for all

    def test_configured_origins_only(self, app_factory):
        client = app_factory(CORS_ORIGINS=["https://news.example", "https://www.news.example"]).test_client()
        allowed = client.get(COMMENTS, headers=NEWS)
        assert allowed.headers[ALLOW_ORIGIN] == "https://news.example"
        assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
        # Scheme and host are compared without regard to case; the Origin is echoed as sent.
        shouted = client.get(COMMENTS, headers={"Origin": "HTTPS://WWW.News.Example"})
        assert shouted.headers[ALLOW_ORIGIN] == "HTTPS://WWW.News.Example"
        assert preflight(client).headers["Access-Control-Allow-Methods"]
        for refused in (
            client.get(COMMENTS, headers={"Origin": "https://evil.example"}),
            client.get(COMMENTS, headers={"Origin": "https://news.example.evil.example"}),
            client.get(COMMENTS, headers={"Origin": "https://news.example" + "x" * 5000}),
            client.get(COMMENTS),
            preflight(client, origin={"Origin": "https://evil.example"}),
        ):
            assert not any(name in refused.headers for name in CORS_HEADER_NAMES)
        # Every public answer depends on the Origin: shared caches must keep them apart.
        for response in (allowed, client.get(COMMENTS), client.get(COMMENTS, headers={"Origin": "https://evil.example"})):
            assert "Origin" in vary(response)

    def test_a_configured_origin_compares_as_page_naming_compares_it(self, app_factory):
        """An origin configured with capitals and a trailing ``/`` (as copied from an
        address bar) is that origin for both: the site's page may name its article and
        read the answer."""
        client = app_factory(CORS_ORIGINS=["https://News.example/"]).test_client()
        post_comment(client)  # the article exists: a page may name it
        response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", headers={**NEWS, **browser_headers()},
                               json={"url": "https://news.example/2025/an-article", "title": "An article"})
        assert response.status_code == 202
        assert response.headers[ALLOW_ORIGIN] == "https://news.example"
        summary = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}", headers=NEWS)
        assert summary.headers[ALLOW_ORIGIN] == "https://news.example"
        assert summary.get_json()["url"] == "https://news.example/2025/an-article"
        assert ALLOW_ORIGIN not in client.get(COMMENTS, headers={"Origin": "https://news.example.evil"}).headers

    def test_error_responses_also_carry_cors_headers(self, client):
        response = client.post(COMMENTS, json={"body": ""}, headers=NEWS)
        assert response.status_code == 422
        assert response.headers[ALLOW_ORIGIN] == "*"
        assert client.get("/api/v1/nothing-here", headers=NEWS).headers[ALLOW_ORIGIN] == "*"

    @pytest.mark.parametrize("path", ["/api/v1/mod/comments", "/api/v1/mod", "/api/v1/docs", "/api/v1/docs/x", "/healthz"])
    def test_private_paths_send_no_cors_headers(self, client, path):
        for response in (client.get(path, headers=NEWS), preflight(client, path=path)):
            assert not any(name in response.headers for name in CORS_HEADER_NAMES), path

    def test_a_reader_specific_answer_varies_on_both(self, app_factory):
        client = app_factory(CORS_ORIGINS=["https://news.example"]).test_client()
        response = client.get(REACTIONS, headers={**NEWS, **browser_headers(mint_reader(client))})
        assert "private" in response.headers["Cache-Control"]
        assert {"X-Reader-Token", "Origin"} <= set(vary(response))


class TestOpenApi:
    def test_document_is_valid_and_describes_every_endpoint(self, client):
        response = client.get("/api/v1/openapi.json")
        assert response.status_code == 200
        spec = response.get_json()
        validate_openapi(spec)
        paths = spec["paths"]
        assert "post" in paths["/api/v1/readers"]
        assert {"get", "post"} <= set(paths["/api/v1/articles/{key}/comments"])
        assert {"patch", "delete"} <= set(paths["/api/v1/comments/{comment_id}"])
        create = paths["/api/v1/articles/{key}/comments"]["post"]
        assert "requestBody" in create and "201" in create["responses"]
        schemas = spec["components"]["schemas"]
        assert "edit_token" in json.dumps(schemas)
        assert "author_email" not in json.dumps(schemas.get("PublicComment", {}))

    def test_a_body_is_required_exactly_where_the_service_requires_one(self, client):
        paths = client.get("/api/v1/openapi.json").get_json()["paths"]
        assert paths["/api/v1/articles/{key}/comments"]["post"]["requestBody"]["required"] is True
        beacon = paths["/api/v1/articles/{key}/views"]["post"]["requestBody"]
        assert beacon.get("required", False) is False
        assert client.post("/api/v1/articles/no-body/views").status_code == 202

    def test_the_readers_credentials_are_declared_where_they_count(self, client):
        spec = client.get("/api/v1/openapi.json").get_json()
        schemes = spec["components"]["securitySchemes"]
        assert schemes["readerToken"] == {**schemes["readerToken"], "type": "apiKey", "in": "header", "name": "X-Reader-Token"}
        assert schemes["editToken"] == {**schemes["editToken"], "type": "apiKey", "in": "header", "name": "X-Edit-Token"}
        declared = {(method.upper(), path): operation.get("security")
                    for path, operations in spec["paths"].items() if not path.startswith("/api/v1/mod/")
                    for method, operation in operations.items() if method in ("get", "post", "put", "patch", "delete")}
        optional_reader = [{}, {"readerToken": []}]
        author = [{"editToken": []}, {"editToken": [], "readerToken": []}]
        assert declared == {
            ("POST", "/api/v1/readers"): None,
            ("GET", "/api/v1/articles/{key}"): None,
            ("GET", "/api/v1/articles/{key}/comments"): None,
            ("POST", "/api/v1/articles/{key}/comments"): optional_reader,
            ("PATCH", "/api/v1/comments/{comment_id}"): author,
            ("DELETE", "/api/v1/comments/{comment_id}"): author,
            ("POST", "/api/v1/comments/{comment_id}/vote"): optional_reader,
            ("POST", "/api/v1/comments/{comment_id}/flags"): optional_reader,
            ("POST", "/api/v1/articles/{key}/views"): optional_reader,
            ("GET", "/api/v1/articles/{key}/reactions"): optional_reader,
            ("PUT", "/api/v1/articles/{key}/reactions/{kind}"): optional_reader,
            ("DELETE", "/api/v1/articles/{key}/reactions/{kind}"): optional_reader,
            ("GET", "/api/v1/counts"): None,
            ("GET", "/api/v1/trending"): None,
            ("GET", "/api/v1/articles/{key}/comments.atom"): None,
            ("GET", "/api/v1/comments.atom"): None,
            ("POST", "/api/v1/readers/sso"): None,
            ("GET", "/api/v1/me"): optional_reader,
            ("GET", "/api/v1/me/comments"): [{"readerToken": []}],
            ("DELETE", "/api/v1/me"): [{"readerToken": []}],
        }
        comment_id = spec["paths"]["/api/v1/comments/{comment_id}"]["parameters"][0]["schema"]
        assert (comment_id["minimum"], comment_id["maximum"]) == (1, 2_147_483_647)


class TestProbes:
    def test_healthz(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200 and response.get_json() == {"status": "ok"}

    def test_readyz_when_database_answers(self, client):
        assert client.get("/readyz").status_code == 200

    def test_readyz_is_503_when_database_is_down(self, app_factory, is_postgres):
        unreachable = (
            "postgresql+psycopg://postgres@127.0.0.1:1/none" if is_postgres else "sqlite:////nonexistent-dir/x/db.sqlite"
        )
        client = app_factory(SQLALCHEMY_DATABASE_URI=unreachable).test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert assert_error(response, 503, "unavailable")["message"]  # the one error shape, as everywhere
        # and a data request gets the JSON 503 shape, not a traceback
        error = assert_error(client.get(COMMENTS), 503, "unavailable")
        assert error["message"]


def test_one_log_line_per_request_without_addresses_or_bodies(client, caplog):
    with caplog.at_level(logging.INFO, logger="engagement.request"):
        client.post(
            COMMENTS, json={"body": "private words", "author_email": "me@example.org"},
            environ_base={"REMOTE_ADDR": "198.51.100.9"},
        )
    records = [r for r in caplog.records if r.name == "engagement.request"]
    assert len(records) == 1
    record = records[0]
    assert (record.method, record.path, record.status) == ("POST", COMMENTS, 201)
    assert isinstance(record.duration_ms, float)
    line = json.dumps(record.__dict__, default=str)
    for secret in ("198.51.100.9", "private words", "me@example.org"):
        assert secret not in line


def test_log_lines_are_json_objects_with_the_request_fields(client, caplog):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    request_logger = logging.getLogger("engagement.request")
    request_logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="engagement.request"):
            client.get("/healthz")
            client.get("/healthz")
    finally:
        request_logger.removeHandler(handler)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(entries) == 2
    for entry in entries:
        assert (entry["logger"], entry["level"], entry["msg"]) == ("engagement.request", "info", "request")
        assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry["ts"])


def test_counts_map_values_are_described(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["Counts"]["additionalProperties"] == {"$ref": "#/components/schemas/ArticleCounts"}
    assert set(schemas["ArticleCounts"]["required"]) == {"views", "comments", "reactions"}


# --- hostile framing and input (issue 10, items 13 and 18) ------------------------------------


class TestHostileInput:
    @pytest.mark.parametrize(
        "raw",
        [
            "[" * 30_000 + "]" * 30_000,
            '{"body": ' + "[" * 30_000 + "]" * 30_000 + "}",
            '{"body": "x", "parent_id": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}",
        ],
        ids=["array", "in-a-field", "objects"],
    )
    def test_json_nested_thousands_deep_is_a_400_not_a_500(self, client, raw):
        response = client.post(COMMENTS, data=raw, content_type="application/json")
        assert_error(response, 400, "bad_request")
        assert client.get("/healthz").status_code == 200

    @pytest.mark.parametrize(
        "parent_id", [1.5, 1.0, " 1", "1 ", "١", "²", "+1", "-1", "0x1", "1e0", True, False, "", "01234567890", [1], {"id": 1}]
    )
    def test_ids_are_json_integers_or_ascii_digit_strings_only(self, client, parent_id):
        parent = post_comment(client, body="the parent")
        assert parent["id"] == 1
        response = client.post(COMMENTS, json={"body": "reply", "parent_id": parent_id})
        assert "parent_id" in assert_error(response, 422, "validation_error")["fields"]
        assert [c["reply_count"] for c in client.get(COMMENTS).get_json()["comments"]] == [0]

    @pytest.mark.parametrize("parent_id", [1, "1", "0001"])
    def test_ids_as_integers_or_digit_strings_still_work(self, client, parent_id):
        post_comment(client, body="the parent")
        assert post_comment(client, body=f"reply {parent_id!r}", parent_id=parent_id)["parent_id"] == 1

    def test_bulk_ids_are_strict_too(self, client, mod):
        post_comment(client)
        response = client.post("/api/v1/mod/comments/bulk", json={"ids": [1.5], "status": "approved"}, headers=mod)
        assert_error(response, 422, "validation_error")

    @pytest.mark.parametrize(
        "url",
        [
            "https://paypal.com@evil.example/",
            "https://user:secret@news.example/",
            "http://:@news.example/",
            "https://@news.example/",
            "https://paypal.com%40x@evil.example/",
        ],
    )
    def test_urls_with_userinfo_are_refused(self, client, mod, url):
        response = client.post(COMMENTS, json={"body": "hi", "author_url": url})
        assert "author_url" in assert_error(response, 422, "validation_error")["fields"]
        response = client.put(f"/api/v1/mod/articles/{DEFAULT_ARTICLE}", json={"url": url}, headers=mod)
        assert "url" in assert_error(response, 422, "validation_error")["fields"]

    def test_plain_urls_are_still_accepted(self, client, mod):
        created = post_comment(client, author_url="https://ana.example/about?x=1#me")
        assert created["author"]["url"] == "https://ana.example/about?x=1#me"
        response = client.put(
            f"/api/v1/mod/articles/{DEFAULT_ARTICLE}", json={"url": "https://news.example/a"}, headers=mod
        )
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "path", ["//api/v1/counts", "/api/v1//counts", "/api//v1/counts", "//healthz", "/api/v1/articles//comments"]
    )
    def test_double_slashes_get_a_json_404_never_an_html_redirect(self, client, path):
        response = client.get("/", environ_overrides={"PATH_INFO": path, "QUERY_STRING": "articles=a"},
                              headers={"Host": "evil.example"})
        assert_error(response, 404, "not_found")
        assert "Location" not in response.headers
        assert "evil.example" not in response.get_data(as_text=True)

    def test_no_route_redirects_at_all(self, app):
        # Werkzeug redirects for trailing slashes and defaults; no rule may ask for one.
        for rule in app.url_map.iter_rules():
            assert not rule.rule.endswith("/") and not rule.defaults and not rule.redirect_to, rule.rule

    def test_oversized_chunked_body_is_413(self, client):
        body = json.dumps({"body": "x" * (70 * 1024)}).encode()
        response = client.post(
            COMMENTS, input_stream=io.BytesIO(body),
            headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
            # what gunicorn says of the streams it de-chunks
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert_error(response, 413, "payload_too_large")

    def test_chunked_body_within_the_limit_is_read(self, app_factory):
        client = app_factory(MAX_CONTENT_LENGTH=1024).test_client()
        for size, status in ((1024, 201), (1025, 413)):
            prefix = json.dumps({"body": ""})[:-2].encode()  # {"body": "
            body = prefix + b"x" * (size - len(prefix) - 2) + b'"}'
            assert len(body) == size
            response = client.post(
                COMMENTS, input_stream=io.BytesIO(body),
                headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                environ_overrides={"wsgi.input_terminated": True},
            )
            assert response.status_code == status, response.get_json()


class TestRetryAfter:
    def test_only_429_and_503_carry_retry_after(self, app_factory):
        client = app_factory(RATELIMIT_ENABLED=True).test_client()
        headers = {"User-Agent": "Browser/1.0"}
        responses = [client.post(COMMENTS, json={"body": f"comment {n}"}, headers=headers) for n in range(8)]
        statuses = [response.status_code for response in responses]
        assert 201 in statuses and 429 in statuses, statuses
        for response in responses:
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 0
            else:
                assert "Retry-After" not in response.headers, response.status_code
        assert "Retry-After" not in client.get(COMMENTS).headers


def test_no_session_is_opened_or_sent(app, client):
    from flask.sessions import NullSession

    with app.test_request_context("/healthz"):
        assert isinstance(app.session_interface.open_session(app, None), NullSession)
    response = client.get("/api/v1/articles/x/comments")
    assert "Set-Cookie" not in response.headers


def test_responses_are_written_as_the_standard_encoder_would(app, client):
    """Responses go through orjson; the bytes must be what Flask's compact encoder writes."""
    post_comment(client, body="Ünïcödé, emoji 🎉, quotes \" and \\ and </script> and \u2028 line sep",
                 author_name="Zoë")
    for path in (f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", "/api/v1/openapi.json",
                 f"/api/v1/counts?articles={DEFAULT_ARTICLE}", "/api/v1/articles/nope/comments?limit=0"):
        response = client.get(path)
        body = response.get_data()
        if path.endswith("openapi.json"):  # served indented
            expected = json.dumps(json.loads(body), ensure_ascii=False, indent=2)
        else:
            expected = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")) + "\n"
        assert body == expected.encode(), path
    assert "🎉".encode() in client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments").get_data()


class TestEmptyBodies:
    """No JSON document where one is required is malformed (400), not a missing field (422)."""

    @pytest.mark.parametrize("content_type", ["application/json", None])
    def test_empty_body_where_fields_are_required_is_400(self, client, content_type):
        response = client.post(COMMENTS, data=b"", content_type=content_type)
        assert_error(response, 400, "bad_request")

    def test_empty_object_is_still_a_validation_error(self, client):
        error = assert_error(client.post(COMMENTS, json={}), 422, "validation_error")
        assert "body" in error["fields"]

    def test_bodies_of_optional_fields_may_be_left_out(self, client):
        assert client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", data=b"",
                           content_type="application/json").status_code == 202
        assert client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/views").status_code == 202
        assert client.post("/api/v1/readers", data=b"", content_type="application/json").status_code == 201
        assert client.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like").status_code == 200


class TestRequestCycle:
    def test_functions_made_per_request_run_every_time_and_are_not_hoarded(self, app_factory):
        """Views and hooks are adapted once per function (EngagementFlask.ensure_sync);
        a function made for one request still runs for that request only, and such
        functions do not pile up in the app."""
        app = app_factory()

        @app.get("/probe")
        def probe():
            number = len(served)

            @after_this_request
            def mark(response):
                served.append(number)
                response.headers["X-Probe"] = str(number)
                return response

            return {"ok": True}

        served: list[int] = []
        client = app.test_client()
        requests = app.ADAPTED_FUNCTIONS_KEPT + 50
        headers = [client.get("/probe").headers["X-Probe"] for _ in range(requests)]
        assert headers == [str(number) for number in range(requests)]
        assert served == list(range(requests))
        assert len(app._adapted) <= app.ADAPTED_FUNCTIONS_KEPT
