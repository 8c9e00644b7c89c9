"""API tokens for moderators and admins: created once, stored only as hashes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engagement.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from engagement.models import ApiToken, Role
from engagement.privacy import hash_secret, new_secret, secret_matches
from engagement.services import audit
from engagement.services.articles import dialect_insert
from engagement.text import clean_plain_text

# Recognisable by secret scanners (and by people pasting it in the wrong place).
TOKEN_PREFIX = "eng_"
NAME_MAX_LENGTH = 80
# Recording every use would make each moderation read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared against when no token matches, so a miss costs the same as a hit.
_NO_MATCH_HASH = hash_secret("engagement: no such token")


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the plaintext, shown once and never stored


def create_token(session: Session, *, name: str, role: Role, now: datetime, actor: str) -> IssuedToken:
    """Create a token; only its hash is stored.

    Raises ValidationFailed for an empty or too long name, Conflict when the name is taken.
    """
    name = clean_plain_text(name)
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise ValidationFailed({"name": [f"Give a name of 1 to {NAME_MAX_LENGTH} characters."]})
    secret = new_secret(TOKEN_PREFIX)
    inserted = session.execute(
        dialect_insert(session, ApiToken)
        .values(name=name, role=role, token_hash=hash_secret(secret), created_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(ApiToken.id)
    ).scalar_one_or_none()
    if inserted is None:
        raise Conflict(f"A token named {name!r} already exists.")
    token = session.get_one(ApiToken, inserted)
    audit.record(
        session, actor=actor, action="token.create", target=f"token:{name}",
        details={"role": role.value}, now=now,
    )
    return IssuedToken(token, secret)


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(sa.select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)).all())


def revoke_token(session: Session, *, name: str, now: datetime, actor: str) -> ApiToken:
    """Revoke a token by name; it stops working at once.

    Raises NotFound for an unknown name, Conflict when it is already revoked.
    """
    token = session.scalars(sa.select(ApiToken).where(ApiToken.name == name)).one_or_none()
    if token is None:
        raise NotFound(f"No token named {name!r}.")
    if token.revoked_at is not None:
        raise Conflict(f"The token {name!r} is already revoked.")
    token.revoked_at = now
    audit.record(
        session, actor=actor, action="token.revoke", target=f"token:{name}",
        details={"role": token.role.value}, now=now,
    )
    session.flush()
    return token


def authenticate(session: Session, presented: str | None) -> ApiToken:
    """The live token matching a presented secret.

    The secret is hashed and looked up by its hash, then compared in constant time.
    Raises Unauthorized when it is missing, unknown or revoked.
    """
    presented_hash = hash_secret(presented) if presented else _NO_MATCH_HASH
    token = session.scalars(sa.select(ApiToken).where(ApiToken.token_hash == presented_hash)).one_or_none()
    stored_hash = token.token_hash if token is not None else _NO_MATCH_HASH
    if not secret_matches(presented, stored_hash) or token is None or token.revoked_at is not None:
        raise Unauthorized("A valid API token is required (Authorization: Bearer <token>).")
    return token


def record_use(session: Session, token: ApiToken, now: datetime) -> bool:
    """Set ``last_used_at`` unless it was set within the last minute; True when it wrote."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    result = session.execute(
        sa.update(ApiToken)
        .where(
            ApiToken.id == token.id,
            sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(token, "last_used_at", now)
    return bool(result.rowcount)
