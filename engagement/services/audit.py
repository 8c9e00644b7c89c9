"""The audit log: who changed what in moderation, written in the same transaction as the change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import ValidationFailed
from engagement.models import AuditEntry
from engagement.privacy import Keyring

CLI_ACTOR = "cli"


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any],
    now: datetime,
) -> AuditEntry:
    """Add one audit entry to the caller's transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(at=now, actor=actor, action=action, target=target, details=details)
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    keyring: Keyring,
    *,
    limit: int,
    cursor: str | None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
) -> AuditPage:
    """One page of audit entries, newest first (keyset over id), optionally only those of
    one ``actor``, ``action`` and ``target`` (each matched exactly).

    Raises ValidationFailed for a cursor that does not verify.
    """
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    for column, wanted in ((AuditEntry.actor, actor), (AuditEntry.action, action), (AuditEntry.target, target)):
        if wanted is not None:
            query = query.where(column == wanted)
    if cursor is not None:
        query = query.where(AuditEntry.id < read_id_cursor(keyring, cursor, "audit"))
    rows = list(session.scalars(query).all())
    page, more = rows[:limit], len(rows) > limit
    next_cursor = keyring.sign_cursor({"audit": page[-1].id}) if more else None
    return AuditPage(page, next_cursor)


def read_id_cursor(keyring: Keyring, cursor: str, kind: str) -> int:
    """The id inside a signed ``{kind: id}`` cursor; raises ValidationFailed otherwise."""
    payload = keyring.read_cursor(cursor)
    value = payload.get(kind) if isinstance(payload, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed({"cursor": ["Invalid cursor."]})
    return value
