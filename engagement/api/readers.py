"""Reader identities: anonymous tokens, sign-in with the site's accounts, and the reader's own data."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app

from engagement.api.common import (
    EngagementBlueprint,
    current_reader,
    keyring,
    now,
    settings,
    sso_verifier,
    transactional,
    view_counter,
)
from engagement.api.ratelimits import limit
from engagement.extensions import db
from engagement.schemas.readers import (
    ErasureSchema,
    MeSchema,
    OwnCommentPageSchema,
    OwnCommentsQuerySchema,
    ReaderTokenSchema,
    SignedInSchema,
    SignInSchema,
)
from engagement.services import erasure, readers
from engagement.services.erasure import Erasure
from engagement.services.readers import Me, OwnCommentPage, SignedIn

blp = EngagementBlueprint(
    "readers", __name__, url_prefix="/api/v1",
    description="Reader identity: anonymous tokens, sign-in with the site's accounts, the reader's own data",
)

# What the service answers about one reader is for that reader's browser only.
PRIVATE = {"Cache-Control": "no-store"}
OWN_COMMENTS_DOWNLOAD = {**PRIVATE, "Content-Disposition": 'attachment; filename="my-comments.json"'}


@blp.route("/readers", methods=["POST"])
@blp.response(201, ReaderTokenSchema)
@limit("readers")
def mint_reader_token() -> dict[str, str]:
    """Mint a signed anonymous reader token; send it back as X-Reader-Token."""
    return {"reader_token": keyring().mint_reader_token(now())}


@blp.route("/readers/sso", methods=["POST"])
@blp.arguments(SignInSchema())
@blp.response(201, SignedInSchema)
@limit("readers")
@transactional
def sign_in(body: dict[str, str]) -> SignedIn:
    """Exchange the site's sign-on JWT for a reader token bound to the account (401 with an `sso_*` code when refused)."""
    return readers.sign_in(
        db.session, keyring(), sso_verifier(),
        token=body["token"], lifetime=timedelta(days=current_app.config["SSO_SESSION_DAYS"]), now=now(),
    )


@blp.route("/me", methods=["GET"])
@blp.for_the_reader()
@blp.response(200, MeSchema)
def me() -> tuple[Me, dict[str, str]]:
    """Who the service takes you to be: signed in (with the site's profile), an anonymous token, or neither."""
    return readers.describe(db.session, current_reader()), PRIVATE


@blp.route("/me/comments", methods=["GET"])
@blp.for_the_token_holder()
@blp.arguments(OwnCommentsQuerySchema(), location="query")
@blp.response(200, OwnCommentPageSchema)
def my_comments(query: dict[str, Any]) -> tuple[OwnCommentPage, dict[str, str]]:
    """Every comment of yours, in any status, newest first (a JSON download; needs X-Reader-Token)."""
    page = readers.own_comments(
        db.session, keyring(), settings(), reader=current_reader(), limit=query["limit"], cursor=query.get("cursor")
    )
    return page, OWN_COMMENTS_DOWNLOAD


@blp.route("/me", methods=["DELETE"])
@blp.for_the_token_holder()
@blp.response(202, ErasureSchema)
@transactional
def erase_me() -> Erasure:
    """Erase what you left here: comments become empty placeholders; votes, reactions and flags are withdrawn."""
    reader = current_reader()
    readers.require_token(reader)
    return erasure.erase_reader(db.session, keyring(), reader=reader, now=now(), counter=view_counter())
