"""Reply subscriptions: a reader asks for reply mails, confirms the address, unsubscribes.

Double opt-in: a subscription sends nothing until its address is confirmed by a signed
link that expires (``CONFIRMATION_MAX_AGE``). Confirming proves the reader reads that
mailbox, so it confirms every pending subscription of the address, and a later
subscription of an address that already has a confirmed one is confirmed at once.
Unsubscribing (a signed link that never expires) deletes every subscription of the
address and what was gathered for it: nothing about the address is kept afterwards.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import DomainError
from engagement.models import Comment, CommentStatus, MailBatch, ReplySubscription
from engagement.privacy import Keyring

CONFIRMATION_MAX_AGE = timedelta(days=2)


class InvalidLink(DomainError):
    """A mail link that is forged, malformed, or (for confirmation) expired."""

    message = "This link is not valid, or it has expired."


def confirmation_key(email_hash: str) -> str:
    return f"confirm:{email_hash}"


def reply_key(article_id: int, email_hash: str) -> str:
    return f"reply:{article_id}:{email_hash}"


def subscribe(session: Session, keyring: Keyring, comment: Comment, now: datetime) -> ReplySubscription | None:
    """Subscribe the comment's author e-mail to replies to it; None for a comment held as
    spam (a bot's form fill never mails anyone). The caller checked that mail is on and
    that the comment has an address."""
    if comment.status is CommentStatus.SPAM or not comment.author_email:
        return None
    email_hash = keyring.email_hash(comment.author_email)
    already_confirmed = session.scalar(
        sa.select(sa.literal(True)).where(
            ReplySubscription.email_hash == email_hash, ReplySubscription.confirmed_at.is_not(None)
        ).limit(1)
    )
    subscription = ReplySubscription(
        comment_id=comment.id, article_id=comment.article_id, email=comment.author_email,
        email_hash=email_hash, created_at=now, confirmed_at=now if already_confirmed else None,
    )
    session.add(subscription)
    return subscription


def confirm(session: Session, keyring: Keyring, *, token: str, now: datetime) -> int:
    """Confirm every pending subscription of the address the link names; returns how many.

    Raises InvalidLink.
    """
    email_hash = check_confirmation_link(keyring, token)
    return session.execute(
        sa.update(ReplySubscription)
        .where(ReplySubscription.email_hash == email_hash, ReplySubscription.confirmed_at.is_(None))
        .values(confirmed_at=now).execution_options(synchronize_session=False)
    ).rowcount


def check_confirmation_link(keyring: Keyring, token: str) -> str:
    """The address hash a confirmation link names. Raises InvalidLink (also when expired)."""
    email_hash = keyring.read_confirmation_token(token, CONFIRMATION_MAX_AGE)
    if email_hash is None:
        raise InvalidLink()
    return email_hash


def check_unsubscribe_link(keyring: Keyring, token: str) -> str:
    """The address hash an unsubscribe link names. Raises InvalidLink."""
    email_hash = keyring.read_unsubscribe_token(token)
    if email_hash is None:
        raise InvalidLink()
    return email_hash


def unsubscribe(session: Session, keyring: Keyring, *, token: str) -> int:
    """Delete every subscription of the address the link names, with the replies gathered
    for it (mails waiting to go out then send nothing); returns how many subscriptions.
    Unsubscribing twice is no error. Raises InvalidLink."""
    email_hash = check_unsubscribe_link(keyring, token)
    session.execute(
        sa.delete(MailBatch).where(
            sa.or_(MailBatch.key == confirmation_key(email_hash), MailBatch.key.like(f"reply:%:{email_hash}"))
        ).execution_options(synchronize_session=False)
    )
    return session.execute(
        sa.delete(ReplySubscription).where(ReplySubscription.email_hash == email_hash)
        .execution_options(synchronize_session=False)
    ).rowcount


def forget_comment(session: Session, comment_id: int) -> None:
    """Delete the subscription of a comment whose author details are erased (a purge)."""
    session.execute(
        sa.delete(ReplySubscription).where(ReplySubscription.comment_id == comment_id)
        .execution_options(synchronize_session=False)
    )
