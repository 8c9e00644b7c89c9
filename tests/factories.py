"""Small factories that create data through the public API, as clients would."""
from __future__ import annotations

from datetime import timedelta
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


BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def browser_headers(token: str | None = None, user_agent: str = BROWSER_UA, **extra: str) -> dict[str, str]:
    """Headers of an ordinary browser request, optionally with a reader token."""
    headers = {"User-Agent": user_agent, **extra}
    if token is not None:
        headers["X-Reader-Token"] = token
    return headers


def send_view(
    client: FlaskClient,
    article: str = DEFAULT_ARTICLE,
    *,
    headers: dict[str, str] | None = None,
    address: str = "203.0.113.7",
) -> int:
    """Send the view beacon; return the view count it reports."""
    response = client.post(
        f"/api/v1/articles/{article}/views",
        headers=browser_headers() if headers is None else headers,
        environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["views"]


def react(
    client: FlaskClient,
    kind: str,
    article: str = DEFAULT_ARTICLE,
    *,
    method: str = "PUT",
    headers: dict[str, str] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    response = client.open(
        f"/api/v1/articles/{article}/reactions/{kind}", method=method, headers=headers or browser_headers()
    )
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def vote(
    client: FlaskClient, comment_id: int, value: Any, *, headers: dict[str, str] | None = None, expect: int = 200
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/comments/{comment_id}/vote", json={"value": value}, headers=headers or browser_headers()
    )
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def get_article(client: FlaskClient, article: str = DEFAULT_ARTICLE) -> dict[str, Any]:
    response = client.get(f"/api/v1/articles/{article}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def create_api_token(app: Any, role: str = "moderator", name: str | None = None) -> str:
    """Create an API token through the token service (as the CLI does); return the plaintext."""
    import secrets

    from engagement.clock import utcnow
    from engagement.extensions import db
    from engagement.models import Role
    from engagement.services import tokens

    with app.app_context():
        issued = tokens.create_token(
            db.session, name=name or f"{role}-{secrets.token_hex(4)}", role=Role(role), now=utcnow(), actor="test"
        )
        db.session.commit()
        return issued.secret


def mod_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def flag_comment(
    client: FlaskClient,
    comment_id: int,
    reason: str = "spam",
    *,
    headers: dict[str, str] | None = None,
    expect: int = 202,
    address: str = "203.0.113.7",
    **fields: Any,
) -> Any:
    response = client.post(
        f"/api/v1/comments/{comment_id}/flags", json={"reason": reason, **fields}, headers=headers or {},
        environ_base={"REMOTE_ADDR": address},
    )
    assert response.status_code == expect, response.get_json()
    return response


def established_reader(client: FlaskClient, *, age_hours: float = 2) -> str:
    """A reader token minted ``age_hours`` ago: old enough to weigh fully in flags and budgets."""
    import time_machine

    from engagement.clock import utcnow

    with time_machine.travel(utcnow() - timedelta(hours=age_hours), tick=False):
        return mint_reader(client)


def network_address(n: int) -> str:
    """An IPv4 address in the ``n``-th distinct /24 network (0 <= n < 65536)."""
    return f"10.{n // 256}.{n % 256}.7"


def make_articles_known(client: FlaskClient) -> None:
    """Give every article without one a url, as the site does (moderation API or its own
    pages): only known articles trend. Leaves versions alone, like a url set long ago."""
    import sqlalchemy as sa

    from engagement.extensions import db
    from engagement.models import Article

    with client.application.app_context():
        db.session.execute(
            sa.update(Article).where(Article.url.is_(None)).values(url="https://news.example/" + Article.key)
        )
        db.session.commit()
        db.session.remove()


ALL_EVENT_TYPES = [
    "comment.published", "comment.held", "comment.flagged", "comment.approved", "comment.rejected",
    "comment.edited", "comment.deleted", "reply.published", "article.closed",
]


def subscribe_webhook(
    client: FlaskClient, headers: dict[str, str], url: str, event_types: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    """Create a webhook through the admin API; returns it with its one-time secret."""
    response = client.post(
        "/api/v1/mod/webhooks", json={"url": url, "event_types": event_types or ALL_EVENT_TYPES, **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def run_worker(app: Any, *arguments: str) -> str:
    """Run `flask engagement worker --once` in this process; returns what it printed."""
    result = app.test_cli_runner().invoke(args=["engagement", "worker", "--once", *arguments])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output
def sign_in(client: FlaskClient, site_token: str, *, expect: int = 201) -> dict[str, Any]:
    """Exchange a site's sign-on token; return the answer (``reader_token``, ``me``) or the error."""
    response = client.post("/api/v1/readers/sso", json={"token": site_token})
    assert response.status_code == expect, response.get_json()
    return response.get_json()
