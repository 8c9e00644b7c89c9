"""Moderation endpoints (Authorization: Bearer <api token>); no CORS headers are sent here."""
from __future__ import annotations

from typing import Any


from engagement.api.auth import current_actor, current_token, install_token_auth, protected
from engagement.api.common import EngagementBlueprint, keyring, now, settings, transactional, view_counter
from engagement.extensions import db
from engagement.models import ApiToken, Ban, Role
from engagement.models.revision import CommentRevision
from engagement.schemas.comments import RevisionListSchema
from engagement.schemas.moderation import (
    ArticleIndexPageSchema,
    ArticleIndexQuerySchema,
    ArticleUpdateSchema,
    AuditPageSchema,
    AuditQuerySchema,
    BanCreateSchema,
    BanLiftQuerySchema,
    BanListSchema,
    BanPreviewQuerySchema,
    BanPreviewSchema,
    BanSchema,
    BlocklistSchema,
    BlocklistUpdateSchema,
    BulkDecisionSchema,
    BulkResultSchema,
    DailyStatsQuerySchema,
    DailyStatsSchema,
    DecisionSchema,
    ModeratedArticleSchema,
    ModeratorCommentSchema,
    QueuePageSchema,
    QueueQuerySchema,
    StatsSchema,
    TokenIdentitySchema,
)
from engagement.schemas.readers import ErasureSchema
from engagement.services import article_index, audit, bans, blocklist, daily_stats, erasure, moderation
from engagement.services.article_index import ArticlePage
from engagement.services.audit import AuditPage
from engagement.services.bans import PurgePreview
from engagement.services.blocklist import Blocklist
from engagement.services.erasure import Erasure
from engagement.services.moderation import (
    ModeratedArticle,
    BanRequest,
    Decision,
    ModeratedComment,
    QueuePage,
)

blp = EngagementBlueprint(
    "moderation", __name__, url_prefix="/api/v1/mod",
    description="Moderation: the queue, decisions, bans, blocklist, audit (API token required)",
)
install_token_auth(blp)

COMMENT_ID = "<id:comment_id>"


@blp.route("/comments", methods=["GET"])
@protected(blp)
@blp.arguments(QueueQuerySchema(), location="query")
@blp.response(200, QueuePageSchema)
def list_queue(query: dict[str, Any]) -> QueuePage:
    """The moderation queue, newest first: by status (default pending), article, text."""
    return moderation.list_queue(
        db.session, keyring(), settings(),
        status=query["status"], article_key=query.get("article"), text=query.get("q"),
        limit=query["limit"], cursor=query.get("cursor"), author_of=query.get("author_of"),
    )


@blp.route(f"/comments/{COMMENT_ID}", methods=["PATCH"])
@protected(blp)
@blp.arguments(DecisionSchema())
@blp.response(200, ModeratorCommentSchema)
@transactional
def moderate_comment(decision: Decision, comment_id: int) -> ModeratedComment:
    """Decide on a comment: status, pinned, or a body edit (re-sanitised, sets edited_at)."""
    return moderation.moderate_comment(
        db.session, settings(), comment_id=comment_id, decision=decision, actor=current_actor(), now=now()
    )


@blp.route("/comments/bulk", methods=["POST"])
@protected(blp)
@blp.arguments(BulkDecisionSchema())
@blp.response(200, BulkResultSchema)
@transactional
def bulk_moderate(body: dict[str, Any]) -> dict[str, int]:
    """Move up to 500 comments to one status, all or nothing."""
    updated = moderation.bulk_set_status(
        db.session, ids=body["ids"], status=body["status"], actor=current_actor(), now=now()
    )
    return {"updated": updated}


@blp.route(f"/comments/{COMMENT_ID}", methods=["DELETE"])
@protected(blp, Role.ADMIN)
@blp.response(204)
@transactional
def purge_comment(comment_id: int) -> None:
    """Admin only: erase a comment's content, name, email and URL, keeping a tombstone."""
    moderation.purge_comment(db.session, comment_id=comment_id, actor=current_actor(), now=now())


@blp.route(f"/comments/{COMMENT_ID}/revisions", methods=["GET"])
@protected(blp)
@blp.response(200, RevisionListSchema)
def list_revisions(comment_id: int) -> dict[str, list[CommentRevision]]:
    """A comment's earlier texts, oldest first: every body edit keeps the version it replaced."""
    return {"revisions": moderation.list_revisions(db.session, comment_id)}


@blp.route("/me", methods=["GET"])
@protected(blp)
@blp.response(200, TokenIdentitySchema)
def whoami() -> ApiToken:
    """The name and role of the token presenting this request (for a tool to greet its user)."""
    return current_token()


@blp.route("/articles", methods=["GET"])
@protected(blp)
@blp.arguments(ArticleIndexQuerySchema(), location="query")
@blp.response(200, ArticleIndexPageSchema)
def list_articles(query: dict[str, Any]) -> ArticlePage:
    """Articles by recent activity, most comments or most open flags, with search on key and title."""
    return article_index.list_articles(
        db.session, keyring(), settings(), text=query.get("q"), order=query["sort"],
        limit=query["limit"], cursor=query.get("cursor"), now=now(),
    )


@blp.route("/articles/<article_key:key>", methods=["PUT"])
@protected(blp)
@blp.arguments(ArticleUpdateSchema())
@blp.response(200, ModeratedArticleSchema)
@transactional
def update_article(changes: dict[str, Any], key: str) -> ModeratedArticle:
    """Set an article's title, url, closing and moderation mode (created if missing)."""
    return moderation.update_article(
        db.session, settings(), key=key, changes=changes, actor=current_actor(), now=now()
    )


@blp.route("/bans", methods=["POST"])
@protected(blp)
@blp.arguments(BanCreateSchema())
@blp.response(201, BanSchema)
@transactional
def create_ban(request: BanRequest) -> Ban:
    """Ban the author behind a comment (identities are never shown)."""
    return moderation.ban_author(db.session, keyring(), request=request, actor=current_actor(), now=now())


@blp.route("/bans", methods=["GET"])
@protected(blp)
@blp.response(200, BanListSchema)
def list_bans() -> dict[str, list[Ban]]:
    """Bans in force, newest first."""
    return {"bans": bans.list_active_bans(db.session, now())}


@blp.route("/bans/preview", methods=["GET"])
@protected(blp)
@blp.arguments(BanPreviewQuerySchema(), location="query")
@blp.response(200, BanPreviewSchema)
def preview_ban(query: dict[str, Any]) -> PurgePreview:
    """How many comments a ban with `purge_comments` on this comment would reject now, per status."""
    return bans.preview_purge(db.session, comment_id=query["comment_id"])


@blp.route("/bans/<id:ban_id>", methods=["DELETE"])
@protected(blp)
@blp.arguments(BanLiftQuerySchema(), location="query")
@blp.response(204)
@transactional
def lift_ban(query: dict[str, Any], ban_id: int) -> None:
    """Lift a ban; `restore_comments=true` also restores what its purge rejected."""
    moderation.lift_ban(
        db.session, ban_id=ban_id, restore_comments=query["restore_comments"], actor=current_actor(), now=now()
    )


@blp.route("/blocklist", methods=["GET"])
@protected(blp)
@blp.response(200, BlocklistSchema)
def get_blocklist() -> Blocklist:
    """The blocked words and what happens to comments containing one."""
    return blocklist.get_blocklist(db.session)


@blp.route("/blocklist", methods=["PUT"])
@protected(blp)
@blp.arguments(BlocklistUpdateSchema())
@blp.response(200, BlocklistSchema)
@transactional
def replace_blocklist(body: dict[str, Any]) -> Blocklist:
    """Replace the blocked words (and the action); takes effect at once."""
    return blocklist.replace_blocklist(
        db.session, words=body["words"], action=body.get("action"), actor=current_actor(), now=now()
    )


@blp.route("/audit", methods=["GET"])
@protected(blp)
@blp.arguments(AuditQuerySchema(), location="query")
@blp.response(200, AuditPageSchema)
def list_audit(query: dict[str, Any]) -> AuditPage:
    """The audit log, newest first; optionally one actor's, one action's or one target's entries."""
    return audit.list_entries(
        db.session, keyring(), limit=query["limit"], cursor=query.get("cursor"),
        actor=query.get("actor"), action=query.get("action"), target=query.get("target"),
    )


@blp.route("/stats", methods=["GET"])
@protected(blp)
@blp.response(200, StatsSchema)
def get_stats() -> dict[str, int]:
    """Comment counts per status, and comments with open flags."""
    return moderation.stats(db.session)


@blp.route("/stats/daily", methods=["GET"])
@protected(blp)
@blp.arguments(DailyStatsQuerySchema(), location="query")
@blp.response(200, DailyStatsSchema)
def get_daily_stats(query: dict[str, Any]) -> dict[str, list[daily_stats.DayFigures]]:
    """Comments by status, flags and views per UTC day, oldest first, today included."""
    return {"days": daily_stats.daily_stats(db.session, days=query["days"], now=now())}


@blp.route("/readers/sso/<string(maxlength=255):subject>", methods=["DELETE"])
@protected(blp, Role.ADMIN)
@blp.response(202, ErasureSchema)
@transactional
def erase_account(subject: str) -> Erasure:
    """Admin only: erase what the site's account `subject` left here, as its own DELETE /api/v1/me would."""
    return erasure.erase_account(
        db.session, keyring(), subject=subject, actor=current_actor(), now=now(), counter=view_counter()
    )
