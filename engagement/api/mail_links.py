"""The pages behind the links in mails: confirm reply e-mails, unsubscribe.

Plain server-rendered HTML under a CSP that allows no script, no style and no frame:
they work in any browser, without JavaScript. Opening a link (GET) changes nothing,
since mail scanners open links to look at them; the page's button POSTs to the same
URL. Mail clients' one-click unsubscribe (RFC 8058) POSTs there directly, with the body
``List-Unsubscribe=One-Click``, so these POSTs take a form body, not JSON.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response, request
from jinja2 import Environment

from engagement.api.common import keyring, now, transactional
from engagement.extensions import db
from engagement.privacy import MAX_MAIL_TOKEN_LENGTH
from engagement.services import subscriptions
from engagement.services.subscriptions import InvalidLink

PAGE_CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    # The token in the URL is a credential: kept out of caches (and referrers, by the global headers).
    "Cache-Control": "no-store",
}

_PAGE = Environment(autoescape=True).from_string("""\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title }}</title></head>
<body>
<main>
<h1>{{ title }}</h1>
<p>{{ text }}</p>
{% if button -%}
<form method="post" action="{{ action }}">
<button type="submit">{{ button }}</button>
</form>
{%- endif %}
</main>
</body>
</html>
""")

blp = Blueprint("mail_links", __name__)


def accepts_form_body(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view whose POST carries an HTML form body (the JSON-only guard lets it through)."""
    view.accepts_form_body = True  # type: ignore[attr-defined]
    return view


def _page(status: int, title: str, text: str, button: str | None = None) -> Response:
    html = _PAGE.render(title=title, text=text, button=button, action=request.full_path)
    return Response(html, status=status, content_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _token() -> str:
    # One character past the limit is enough for the keyring to refuse it as too long.
    return request.args.get("token", "")[:MAX_MAIL_TOKEN_LENGTH + 1]


@blp.route("/mail/confirm", methods=["GET", "POST"])
@accepts_form_body
@transactional
def confirm() -> Response:
    """GET: a page with a button; POST: confirm the address the link names."""
    try:
        if request.method == "GET":
            subscriptions.check_confirmation_link(keyring(), _token())
            return _page(200, "Confirm reply e-mails", "You will get a mail when someone replies to your comments.",
                         "Confirm")
        confirmed = subscriptions.confirm(db.session, keyring(), token=_token(), now=now())
    except InvalidLink as exc:
        return _page(400, "Link not valid", f"{exc.message} Post again with “notify me” for a new confirmation mail.")
    if not confirmed:
        return _page(200, "Nothing to confirm", "This address has no reply e-mails waiting for confirmation.")
    return _page(200, "Reply e-mails confirmed", "You will get a mail when someone replies to your comments.")


@blp.route("/mail/unsubscribe", methods=["GET", "POST"])
@accepts_form_body
@transactional
def unsubscribe() -> Response:
    """GET: a page with a button; POST (the button, or a mail client's one-click): unsubscribe."""
    try:
        if request.method == "GET":
            subscriptions.check_unsubscribe_link(keyring(), _token())
            return _page(200, "Unsubscribe", "Stop reply e-mails to this address, for every comment.", "Unsubscribe")
        subscriptions.unsubscribe(db.session, keyring(), token=_token())
    except InvalidLink as exc:
        return _page(400, "Link not valid", exc.message)
    return _page(200, "Unsubscribed", "This address gets no more reply e-mails, and it is no longer stored.")
