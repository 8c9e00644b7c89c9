"""Small factories that create data through the public API, as clients would."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

DEFAULT_ARTICLE = "an-article"


def mint_reader(client: FlaskClient) -> str:
    response = client.post("/api/v1/readers")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reader_token"]


def reader_headers(token: str) -> dict[str, str]:
    return {"X-Reader-Token": token}


def post_comment(
    client: FlaskClient,
    article: str = DEFAULT_ARTICLE,
    body: str = "A thoughtful comment.",
    *,
    expect: int = 201,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/articles/{article}/comments", json={"body": body, **fields}, headers=headers or {}
    )
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def list_comments(client: FlaskClient, article: str = DEFAULT_ARTICLE, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/articles/{article}/comments", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert the contract's error envelope; return its inner object."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "fields"}
    return error
