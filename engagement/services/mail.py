"""The e-mail channel of the delivery worker: confirmations, reply mails, moderator digests.

Every mail belongs to a stream (``MailBatch``): an address in one thread, an address's
confirmation, or the moderators. A stream sends at most one mail per window; an event
that arrives while its stream's mail is waiting joins that mail instead of making
another. The first mail of a quiet stream goes out at once; the next one waits for the
end of the window and carries everything that arrived meanwhile.

Fan-out decides who gets what from the event's facts; delivery reads the rows again
when the mail is built, so a reply rejected or purged in between, or an address that
unsubscribed, sends nothing.
"""
from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from email.message import EmailMessage
from urllib.parse import urlencode

import sqlalchemy as sa
from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from engagement.mailer import Mailer, MailNotSent, SmtpSettings
from engagement.models import (
    Article,
    Comment,
    CommentStatus,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Event,
    EventType,
    MailBatch,
    ReplyMailItem,
    ReplySubscription,
)
from engagement.privacy import Keyring
from engagement.sanitize import plain_text
from engagement.services.deliveries import DeliveryFailed
from engagement.services.subscriptions import CONFIRMATION_MAX_AGE, confirmation_key, reply_key

REPLY_WINDOW = timedelta(minutes=15)
# A confirmation mail can be asked for by anyone who types an address: at most one an hour.
CONFIRMATION_WINDOW = timedelta(hours=1)
MODERATORS_KEY = "moderators"
# Kept as the delivery's status code when the server took the mail; None: nothing was sent.
SMTP_ACCEPTED = 250
# Headers fold only past RFC 5322's 998 characters: folded at 78, a long List-Unsubscribe
# URL would be written as encoded words, which mail clients do not read as a URL.
MAIL_POLICY = email.policy.default.clone(max_line_length=998)
CONFIRMATION_EVENTS = frozenset({EventType.COMMENT_PUBLISHED, EventType.REPLY_PUBLISHED, EventType.COMMENT_HELD})
MODERATION_EVENTS = frozenset({EventType.COMMENT_HELD, EventType.COMMENT_FLAGGED})

# Plain-text parts are not HTML: only the HTML parts escape what they insert.
_text = Environment(autoescape=False, keep_trailing_newline=True)
_html = Environment(autoescape=True, keep_trailing_newline=True)

_CONFIRMATION_TEXT = _text.from_string("""\
Someone, hopefully you, asked to be told by e-mail about replies to a comment
{%- if article_title %} on "{{ article_title }}"{% endif %}.

To confirm, open this link (it works for {{ days }} days):
{{ confirm_url }}

If it was not you, ignore this mail: nothing more will be sent.
""")
_CONFIRMATION_HTML = _html.from_string("""\
<!doctype html>
<html><body>
<p>Someone, hopefully you, asked to be told by e-mail about replies to a comment
{%- if article_title %} on &ldquo;{{ article_title }}&rdquo;{% endif %}.</p>
<p><a href="{{ confirm_url }}">Confirm reply e-mails</a> (the link works for {{ days }} days).</p>
<p>If it was not you, ignore this mail: nothing more will be sent.</p>
</body></html>
""")
_REPLIES_TEXT = _text.from_string("""\
{% for reply in replies -%}
{{ reply.author }} replied{% if reply.url %} ({{ reply.url }}){% endif %}:

{{ reply.text }}

{% endfor -%}
{% if article_url %}Read the conversation: {{ article_url }}
{% endif %}
--
You get these mails because you asked for replies to your comments.
Unsubscribe: {{ unsubscribe_url }}
""")
_REPLIES_HTML = _html.from_string("""\
<!doctype html>
<html><body>
{% for reply in replies -%}
<p><strong>{{ reply.author }}</strong> replied{% if reply.url %} (<a href="{{ reply.url }}">view</a>){% endif %}:</p>
<blockquote>{{ reply.html }}</blockquote>
{% endfor -%}
{% if article_url -%}
<p><a href="{{ article_url }}">Read the conversation{% if article_title %}: {{ article_title }}{% endif %}</a></p>
{%- endif %}
<hr>
<p>You get these mails because you asked for replies to your comments.
<a href="{{ unsubscribe_url }}">Unsubscribe</a>.</p>
</body></html>
""")
_DIGEST_TEXT = _text.from_string("""\
Since {{ since }}:
{% for label, count in counts %}- {{ label }}: {{ count }}
{% endfor %}
Open the moderation queue: {{ queue_url }}
""")
_DIGEST_HTML = _html.from_string("""\
<!doctype html>
<html><body>
<p>Since {{ since }}:</p>
<ul>{% for label, count in counts %}<li>{{ label }}: {{ count }}</li>{% endfor %}</ul>
<p><a href="{{ queue_url }}">Open the moderation queue</a></p>
</body></html>
""")

_DIGEST_LABELS = {EventType.COMMENT_HELD: "comments held", EventType.COMMENT_FLAGGED: "new flags"}


@dataclass(frozen=True)
class MailSettings:
    sender: str
    public_url: str  # no trailing slash
    moderator_emails: tuple[str, ...] = ()
    digest_window: timedelta = timedelta(minutes=15)


@dataclass
class _FanOut:
    """One fan-out's work so far: the deliveries it made, and the mail each stream it touched joined."""

    created: list[Delivery] = field(default_factory=list)
    joined: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _StreamJoin:
    """An event joining a stream's mail; with a reply to gather into it, for reply mails."""

    key: str
    event: Event
    window: timedelta
    subscription_id: int | None = None
    reply_id: int | None = None


@dataclass(frozen=True)
class GatheredReply:
    author: str
    text: str
    html: Markup
    url: str | None


def _insert_ignoring_conflict(session: Session, key: str) -> None:
    table = MailBatch.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(table).values(key=key).on_conflict_do_nothing(index_elements=["key"]))


class MailChannel:
    """``deliveries.Channel`` for e-mail (DeliveryKind.EMAIL); destination is the stream's key."""

    kind = DeliveryKind.EMAIL

    def __init__(self, keyring: Keyring, mailer: Mailer, settings: MailSettings, *, anonymous_name: str):
        self._keyring = keyring
        self._mailer = mailer
        self._settings = settings
        self._anonymous_name = anonymous_name

    def close(self) -> None:
        return None

    # --- fan-out ---------------------------------------------------------------------------

    def fan_out(self, session: Session, events: Sequence[Event], now: datetime) -> list[Delivery]:
        """Three statements per batch of events, whatever its size, then up to five for each
        stream the batch touches and two per reply gathered.

        The streams are joined in the order of their keys, the same in every worker: two
        workers fanning out at once (each with its own events, ``SKIP LOCKED``) then wait
        for each other's stream at most one way round, never in a cycle (a deadlock).
        """
        fanned = _FanOut()
        comment_ids = {event.comment_id for event in events if event.comment_id is not None}
        if not comment_ids:
            return fanned.created
        comments = {
            comment.id: comment
            for comment in session.scalars(sa.select(Comment).where(Comment.id.in_(comment_ids))).all()
        }
        unconfirmed = dict(
            session.execute(
                sa.select(ReplySubscription.comment_id, ReplySubscription.email_hash).where(
                    ReplySubscription.comment_id.in_(comment_ids), ReplySubscription.confirmed_at.is_(None)
                )
            ).all()
        )
        replies = [
            (event, comments[event.comment_id])
            for event in events
            if event.comment_id in comments and _publishes_a_reply(event, comments[event.comment_id])
        ]
        subscribers = self._subscribers(session, {reply.parent_id for _, reply in replies if reply.parent_id})
        joins: list[_StreamJoin] = []
        for event in events:
            email_hash = unconfirmed.get(event.comment_id) if event.type in CONFIRMATION_EVENTS else None
            if email_hash is not None:
                joins.append(_StreamJoin(confirmation_key(email_hash), event, CONFIRMATION_WINDOW))
            if event.type in MODERATION_EVENTS and self._settings.moderator_emails:
                joins.append(_StreamJoin(MODERATORS_KEY, event, self._settings.digest_window))
        gathered: set[tuple[int, int]] = set()
        for event, reply in replies:
            found = subscribers.get(reply.parent_id) if reply.parent_id else None
            if found is not None and self._gathers(session, reply, *found, gathered):
                subscription = found[0]
                joins.append(_StreamJoin(
                    reply_key(reply.article_id, subscription.email_hash), event, REPLY_WINDOW, subscription.id, reply.id,
                ))
        for join in sorted(joins, key=lambda join: join.key):  # stable: a stream's events stay in order
            delivery_id = self._join(session, join.key, join.event, now, join.window, fanned)
            if join.reply_id is not None:
                session.add(ReplyMailItem(
                    delivery_id=delivery_id, subscription_id=join.subscription_id, reply_id=join.reply_id,
                ))
        session.flush()
        return fanned.created

    @staticmethod
    def _subscribers(session: Session, parent_ids: set[int]) -> dict[int, tuple[ReplySubscription, str]]:
        """Confirmed subscriptions of these comments, with the reader hash of each comment's author."""
        if not parent_ids:
            return {}
        parent = aliased(Comment)
        rows = session.execute(
            sa.select(ReplySubscription, parent.reader_hash)
            .join(parent, parent.id == ReplySubscription.comment_id)
            .where(ReplySubscription.comment_id.in_(parent_ids), ReplySubscription.confirmed_at.is_not(None))
        ).all()
        return {subscription.comment_id: (subscription, reader_hash) for subscription, reader_hash in rows}

    def _gathers(
        self, session: Session, reply: Comment, subscription: ReplySubscription, parent_reader: str,
        gathered: set[tuple[int, int]],
    ) -> bool:
        """Whether a published reply goes into the mail of its parent's subscriber: not when
        the reply is the subscriber's own (same reader, or same address), nor when it was
        gathered already (a reply held, then approved again; ``gathered``: by this batch)."""
        own_address = reply.author_email is not None and (
            self._keyring.email_hash(reply.author_email) == subscription.email_hash
        )
        if reply.reader_hash == parent_reader or own_address:
            return False
        pair = (subscription.id, reply.id)
        if pair in gathered or session.scalar(
            sa.select(sa.literal(True)).where(
                ReplyMailItem.subscription_id == subscription.id, ReplyMailItem.reply_id == reply.id
            ).limit(1)
        ):
            return False
        gathered.add(pair)
        return True

    def _join(
        self, session: Session, key: str, event: Event, now: datetime, window: timedelta, fanned: _FanOut
    ) -> int:
        """The id of the stream's waiting mail, made if there is none: due now when the
        stream's last mail went out more than ``window`` ago, else when the window ends.

        The stream's row is locked, then its latest delivery (a worker's claim skips it
        meanwhile), so nothing joins a mail that is already being sent. Delivering takes
        no lock on the stream's row: locks are always taken stream first, delivery second.
        """
        if key in fanned.joined:
            return fanned.joined[key]
        _insert_ignoring_conflict(session, key)
        batch = session.scalars(
            sa.select(MailBatch).where(MailBatch.key == key).with_for_update().execution_options(populate_existing=True)
        ).one()
        sent_at = None
        if batch.delivery_id is not None:
            latest = session.execute(
                sa.select(Delivery.status, Delivery.locked_until, Delivery.delivered_at, Delivery.last_status_code)
                .where(Delivery.id == batch.delivery_id).with_for_update()
            ).first()
            if latest is not None and latest.status is DeliveryStatus.PENDING:
                if latest.locked_until is None or latest.locked_until < now:
                    fanned.joined[key] = batch.delivery_id
                    return batch.delivery_id
                sent_at = now  # a worker is sending it right now
            elif latest is not None and latest.status is DeliveryStatus.DELIVERED and latest.last_status_code:
                sent_at = latest.delivered_at  # a mail went out (not one that had nothing left to say)
        due = now if sent_at is None else max(now, sent_at + window)
        delivery = Delivery(
            event_id=event.id, kind=DeliveryKind.EMAIL, destination=key, status=DeliveryStatus.PENDING,
            attempts=0, next_attempt_at=due, created_at=now,
        )
        session.add(delivery)
        session.flush()
        batch.delivery_id = delivery.id
        fanned.created.append(delivery)
        fanned.joined[key] = delivery.id
        return delivery.id

    # --- delivery --------------------------------------------------------------------------

    def deliver(self, session: Session, delivery: Delivery, event: Event, now: datetime) -> int | None:
        key = delivery.destination or ""
        if key == MODERATORS_KEY:
            message = self._digest(session, event)
        elif key.startswith("confirm:"):
            message = self._confirmation(session, key.partition(":")[2])
        elif key.startswith("reply:"):
            message = self._replies(session, delivery)
        else:
            raise DeliveryFailed(f"Unknown mail stream {key!r}.", retry=False)
        if message is None:
            return None  # nothing left to say (unsubscribed, rejected, purged): delivered as nothing
        message["From"] = self._settings.sender
        message["Date"] = email.utils.format_datetime(now)
        message["Message-ID"] = email.utils.make_msgid(domain=self._settings.sender.rpartition("@")[2].strip("> "))
        message["Auto-Submitted"] = "auto-generated"
        try:
            self._mailer.send(message)
        except MailNotSent as exc:
            raise DeliveryFailed(str(exc), status_code=exc.code, retry=not exc.permanent) from exc
        return SMTP_ACCEPTED

    def _link(self, path: str, token: str) -> str:
        return f"{self._settings.public_url}{path}?{urlencode({'token': token})}"

    def _confirmation(self, session: Session, email_hash: str) -> EmailMessage | None:
        pending = session.execute(
            sa.select(ReplySubscription.email, Article.title)
            .join(Article, Article.id == ReplySubscription.article_id)
            .where(ReplySubscription.email_hash == email_hash, ReplySubscription.confirmed_at.is_(None))
            .order_by(ReplySubscription.id.desc()).limit(1)
        ).first()
        if pending is None:
            return None
        values = {
            "article_title": pending.title,
            "confirm_url": self._link("/mail/confirm", self._keyring.confirmation_token(email_hash)),
            "days": CONFIRMATION_MAX_AGE.days,
        }
        message = _message(_CONFIRMATION_TEXT.render(values), _CONFIRMATION_HTML.render(values))
        message["To"] = pending.email
        message["Subject"] = "Confirm reply e-mails"
        return message

    def _replies(self, session: Session, delivery: Delivery) -> EmailMessage | None:
        rows = session.execute(
            sa.select(Comment, ReplySubscription.email, ReplySubscription.email_hash)
            .join(ReplyMailItem, ReplyMailItem.reply_id == Comment.id)
            .join(ReplySubscription, ReplySubscription.id == ReplyMailItem.subscription_id)
            .where(
                ReplyMailItem.delivery_id == delivery.id,
                Comment.status == CommentStatus.APPROVED,
                Comment.purged_at.is_(None),
            )
            .order_by(Comment.id)
        ).all()
        if not rows:
            return None
        article = session.get_one(Article, rows[0][0].article_id)
        replies = [
            GatheredReply(
                author=reply.author_name or self._anonymous_name,
                text=plain_text(reply.body_html),
                html=Markup(reply.body_html),  # sanitised when it was written
                url=f"{article.url}#comment-{reply.id}" if article.url else None,
            )
            for reply, _, _ in rows
        ]
        unsubscribe_url = self._link("/mail/unsubscribe", self._keyring.unsubscribe_token(rows[0].email_hash))
        values = {
            "replies": replies, "article_url": article.url, "article_title": article.title,
            "unsubscribe_url": unsubscribe_url,
        }
        message = _message(_REPLIES_TEXT.render(values), _REPLIES_HTML.render(values))
        message["To"] = rows[0].email
        about = f' on "{article.title}"' if article.title else ""
        message["Subject"] = (
            f"A new reply to your comment{about}" if len(replies) == 1
            else f"{len(replies)} new replies to your comments{about}"
        )
        # RFC 8058: mail clients offer a button that POSTs to this URL, no page, no JavaScript.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return message

    def _digest(self, session: Session, first: Event) -> EmailMessage | None:
        """Counts of the events this digest gathered: those fanned out since its first one
        (a later event not yet fanned out starts the next digest)."""
        counted = dict(
            session.execute(
                sa.select(Event.type, sa.func.count())
                .where(Event.id >= first.id, Event.type.in_(MODERATION_EVENTS), Event.dispatched_at.is_not(None))
                .group_by(Event.type)
            ).all()
        )
        counts = [(label, counted[kind]) for kind, label in _DIGEST_LABELS.items() if counted.get(kind)]
        if not counts or not self._settings.moderator_emails:
            return None
        values = {
            "since": first.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "counts": counts,
            "queue_url": f"{self._settings.public_url}/mod",
        }
        message = _message(_DIGEST_TEXT.render(values), _DIGEST_HTML.render(values))
        message["To"] = ", ".join(self._settings.moderator_emails)
        message["Subject"] = "Moderation: " + ", ".join(f"{count} {label}" for label, count in counts)
        return message


def _publishes_a_reply(event: Event, comment: Comment) -> bool:
    """Whether the event makes a reply public: posted and approved at once, or approved later.
    A reply no longer approved by the time of the fan-out is not mailed."""
    published = event.type is EventType.REPLY_PUBLISHED or (
        event.type is EventType.COMMENT_APPROVED and comment.parent_id is not None
    )
    return published and comment.status is CommentStatus.APPROVED


def _message(text: str, html: str) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def mail_channel(config: Mapping[str, Any], keyring: Keyring) -> MailChannel:
    """The e-mail channel as the configuration (ENGAGEMENT_SMTP_URL and friends) describes it."""
    settings = MailSettings(
        sender=config["MAIL_FROM"],
        public_url=config["PUBLIC_URL"].rstrip("/"),
        moderator_emails=tuple(config["MODERATOR_EMAILS"]),
        digest_window=timedelta(minutes=config["MODERATOR_DIGEST_MINUTES"]),
    )
    return MailChannel(
        keyring, Mailer(SmtpSettings.from_url(config["SMTP_URL"])), settings, anonymous_name=config["ANONYMOUS_NAME"]
    )
