"""Readers signed in with the site's own accounts (SSO): their profile as the site last sent it."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models.base import Base


class ReaderAccount(Base):
    """One site account, known by the keyed hash of ``sso:<sub>`` (its reader identity).

    The subject itself is not stored: the hash is what every reader-keyed row (comments,
    votes, reactions, flags, bans) holds, and the site can always compute it again from
    the subject it knows. Updated from the token at every sign-in; deleted on erasure.
    """

    __tablename__ = "reader_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    reader_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(80))
    email: Mapped[str | None] = mapped_column(sa.String(320))  # moderators and the reader only
    avatar_url: Mapped[str | None] = mapped_column(sa.String(2000))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    created_at: Mapped[datetime]
    signed_in_at: Mapped[datetime]
