"""Bearer API tokens for the moderation blueprint.

``install_token_auth`` makes every route of a blueprint require a live token before
any view (or body parsing) runs; ``protected`` documents a route's security and, for
admin routes, raises the role it needs. Missing, unknown or revoked tokens get 401;
a token whose role lacks the right gets 403.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar, cast

from flask import current_app, g, request
from flask_smorest import Blueprint

from engagement.api.common import now
from engagement.errors import Forbidden
from engagement.extensions import db
from engagement.models import ApiToken, Role
from engagement.schemas.common import ErrorSchema
from engagement.services import tokens

BEARER_SCHEME = "apiToken"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token from `flask --app wsgi tokens create` (moderator or admin).",
}
_REQUIRED_ROLE = "_engagement_required_role"
# Roles in increasing power: a role may use routes that require it or any weaker one.
_RANK = {Role.MODERATOR: 0, Role.ADMIN: 1}

View = TypeVar("View", bound=Callable[..., Any])


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def authenticate_request() -> None:
    """Before every view of the blueprint: resolve the token, record its use, check the role.

    Raises Unauthorized (via the token service) and Forbidden.
    """
    token = tokens.authenticate(db.session, _presented_token())
    if tokens.record_use(db.session, token, now()):
        db.session.commit()
    view = current_app.view_functions.get(request.endpoint or "")
    required = getattr(view, _REQUIRED_ROLE, Role.MODERATOR)
    if _RANK[token.role] < _RANK[required]:
        raise Forbidden(f"This needs an {required.value} token.")
    g.api_token = token


def install_token_auth(blp: Blueprint) -> None:
    blp.before_request(authenticate_request)


def current_token() -> ApiToken:
    """The token behind this request (authenticated before the view ran)."""
    return cast(ApiToken, g.api_token)


def current_actor() -> str:
    """The name of the token behind this request, for the audit log."""
    return current_token().name


def protected(blp: Blueprint, role: Role = Role.MODERATOR) -> Callable[[View], View]:
    """Document the bearer requirement (and its 401/403) on a route; mark the role it needs."""

    def decorator(view: View) -> View:
        setattr(view, _REQUIRED_ROLE, role)
        view = blp.doc(security=[{BEARER_SCHEME: []}])(view)
        view = blp.alt_response(401, schema=ErrorSchema, description="Missing, unknown or revoked token")(view)
        view = blp.alt_response(403, schema=ErrorSchema, description="The token's role lacks this right")(view)
        return view

    return decorator
