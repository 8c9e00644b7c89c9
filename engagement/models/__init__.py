"""Storage models. Importing this package registers every table on ``Base.metadata``."""
from engagement.models.account import ReaderAccount
from engagement.models.article import Article, ModerationMode
from engagement.models.base import Base
from engagement.models.comment import (
    AUTHOR_DELETABLE,
    MODERATOR_TRANSITIONS,
    BodyFormat,
    Comment,
    CommentStatus,
)
from engagement.models.counters import CounterFlush
from engagement.models.engagement import (
    ActivityBucket,
    CommentVote,
    Reaction,
    ReactionTotal,
    ViewMark,
)
from engagement.models.moderation import (
    ApiToken,
    AuditEntry,
    Ban,
    BlockedWord,
    BlocklistAction,
    Flag,
    FlagReason,
    Role,
    SiteSetting,
)
from engagement.models.mail import MailBatch, ReplyMailItem, ReplySubscription
from engagement.models.notifications import Delivery, DeliveryKind, DeliveryStatus, Event, EventType, Webhook
from engagement.models.revision import CommentRevision, Editor

__all__ = [
    "AUTHOR_DELETABLE",
    "MODERATOR_TRANSITIONS",
    "ActivityBucket",
    "ApiToken",
    "Article",
    "AuditEntry",
    "Ban",
    "Base",
    "BodyFormat",
    "BlockedWord",
    "BlocklistAction",
    "Comment",
    "CommentRevision",
    "CommentStatus",
    "CommentVote",
    "CounterFlush",
    "Delivery",
    "DeliveryKind",
    "DeliveryStatus",
    "Editor",
    "Event",
    "EventType",
    "Flag",
    "FlagReason",
    "MailBatch",
    "ModerationMode",
    "Reaction",
    "ReactionTotal",
    "ReaderAccount",
    "ReplyMailItem",
    "ReplySubscription",
    "Role",
    "SiteSetting",
    "ViewMark",
    "Webhook",
]
