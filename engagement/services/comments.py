"""Comment threads: posting, listing with keyset pagination, editing and deleting."""
from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engagement.models import (
    AUTHOR_DELETABLE,
    Article,
    BodyFormat,
    Comment,
    CommentRevision,
    CommentStatus,
    Editor,
    EventType,
)
from engagement.models.base import MAX_ID
from engagement.privacy import Keyring, ReaderIdentity, hash_secret, new_secret, secret_matches
from engagement.sanitize import render_body, render_html, render_markdown
from engagement.services import events, policy, sso, subscriptions, trending
from engagement.services.articles import (
    ArticleRow,
    ThreadArticle,
    closed_state,
    is_premoderated,
    posting_article,
    touch_article,
)
from engagement.services.statements import Database, Write, at_commit, in_values, insert_loaded, per_dialect, run


NOT_IN_THREAD = "No such comment in this thread."


class Sort(enum.Enum):
    OLDEST = "oldest"
    NEWEST = "newest"
    TOP = "top"


@dataclass(frozen=True)
class Draft:
    """A new comment as the reader sent it (shape already validated and cleaned)."""

    body: str
    author_name: str | None = None
    author_email: str | None = None
    author_url: str | None = None
    parent_id: int | None = None
    honeypot: str | None = None
    notify: bool = False  # mail the author's address about replies, once it is confirmed


@dataclass
class ThreadNode:
    """A comment as the public sees it, with its visible replies nested.

    ``in_thread`` marks a node of the public thread, where a comment that is not public
    (held, rejected) can only appear as an empty placeholder above its visible replies;
    its author, answered right after posting or editing, still sees the body.
    """

    # The ORM comment; on a thread page, its public columns only.
    comment: Comment | PublicComment
    article_key: str
    anonymous_name: str
    replies: list["ThreadNode"] = field(default_factory=list)
    edit_token: str | None = None  # only right after posting, shown once
    in_thread: bool = False
    # Whether the node shows as a placeholder: read several times per node while a page
    # is written, so decided once, when the node is built (after its comment's changes).
    deleted: bool = field(init=False)

    def __post_init__(self) -> None:
        status = self.comment.status
        self.deleted = (self.in_thread and status is not CommentStatus.APPROVED) or (
            status is CommentStatus.DELETED or self.comment.purged_at is not None
        )

    @property
    def public_status(self) -> str:
        # A spam verdict is never revealed to the sender: it looks held for review.
        status = self.comment.status
        return CommentStatus.PENDING.value if status is CommentStatus.SPAM else status.value

    @property
    def edited_by(self) -> str | None:
        editor = self.comment.edited_by
        return editor.value if editor is not None else None

    @property
    def body_html(self) -> str:
        return "" if self.deleted else self.comment.body_html

    @property
    def author(self) -> dict[str, Any] | None:
        return None if self.deleted else author_of(self.comment, self.anonymous_name)


def author_of(comment: Comment | PublicComment, anonymous_name: str) -> dict[str, Any]:
    """The author as comment objects show it: a signed-in author's avatar is the site's URL."""
    return {
        "name": comment.author_name or anonymous_name,
        "url": comment.author_url,
        "avatar": comment.avatar_url or comment.avatar_seed,
        "verified": bool(comment.verified),
    }


@dataclass(frozen=True)
class ThreadSummary:
    key: str
    comment_count: int
    comments_closed: bool
    premoderated: bool
    sign_in_required: bool = False
    reply_notifications: bool = False


@dataclass
class ThreadPage:
    article: ThreadSummary
    comments: list[ThreadNode]
    next_cursor: str | None
    has_earlier: bool = False  # the page does not start at the beginning of the thread


def render_source(source: str, body_format: BodyFormat) -> str:
    """The sanitised HTML of a stored body source, by the path its format takes."""
    return render_html(source) if body_format is BodyFormat.HTML else render_markdown(source)


# --- status bookkeeping --------------------------------------------------------------

def change_status(
    session: Session, comment: Comment, new_status: CommentStatus, *, now: datetime, announce: bool = True
) -> None:
    """Move a comment to a new status, keeping the denormalised counters in step.

    The article's visible comment count and the parent's visible reply count change
    atomically in SQL, in the caller's transaction, whenever the comment enters or
    leaves the public (approved) state. With ``announce`` the move is recorded as its
    event (``events.STATUS_EVENTS``) in the same transaction.
    """
    old_status = comment.status
    if old_status is new_status:
        return
    delta = int(new_status is CommentStatus.APPROVED) - int(old_status is CommentStatus.APPROVED)
    comment.status = new_status
    session.flush()
    _count_visibility(session, comment, delta)
    if announce:
        events.record_for_comment(session, events.STATUS_EVENTS[new_status], comment, now, previous_status=old_status.value)


_COMMENTS = Comment.__table__
_COUNT_REPLIES = (
    sa.update(_COMMENTS)
    .where(_COMMENTS.c.id == sa.bindparam("parent"))
    .values(reply_count=_COMMENTS.c.reply_count + sa.bindparam("delta"))
)


def _count_visibility(session: Session, comment: Comment, delta: int, *, write: Write = run) -> None:
    """Adjust the parent's reply count, the article's comment count and version, and trending.

    ``write`` runs the counters' statements: now (``run``), or with the commit
    (``statements.at_commit``), in this order either way.
    """
    if delta and comment.parent_id is not None:
        session.flush()  # the statement below runs outside the ORM: pending changes go first
        write(session, _COUNT_REPLIES, {"parent": comment.parent_id, "delta": delta})
    touch_article(session, comment.article_id, comment_delta=delta, write=write)
    trending.count_comment(session, comment.article_id, comment.created_at, delta, write=write)


# --- posting ---------------------------------------------------------------------------

def _resolve_parent(session: Session, article: ThreadArticle, parent_id: int, max_depth: int) -> Comment:
    parent = get_comment(session, parent_id)
    if parent is None or parent.status is not CommentStatus.APPROVED:
        raise NotFound("The comment you reply to does not exist or is not public.")
    if parent.article_id != article.id:
        raise ValidationFailed({"parent_id": ["The parent comment belongs to another article."]})
    # Replies deeper than the maximum are attached beside the deepest allowed level.
    while parent.depth >= max_depth and parent.parent_id is not None:
        grandparent = session.get(Comment, parent.parent_id)
        assert grandparent is not None
        parent = grandparent
    return parent


def post_comment(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    *,
    article_key: str,
    draft: Draft,
    reader: ReaderIdentity,
    now: datetime,
) -> ThreadNode:
    """Create a comment (and its article on first use).

    A reader signed in with the site's account posts under the account's name, email,
    url and avatar, marked verified; the author fields of the draft are ignored. With
    ``draft.notify`` the author's address is subscribed to replies (services.subscriptions).

    Raises NotFound (parent missing or not public), ValidationFailed (parent in another
    article, blocklisted word, notify while reply e-mails are off), CommentsClosed, Banned,
    Conflict (duplicate), Unauthorized (the account was erased since it signed in).
    """
    if draft.notify and not settings.reply_emails:
        raise ValidationFailed({"notify": ["Reply e-mails are not offered on this site."]})
    # Rendered before any query: the statements then run one after another, in a CPU
    # whose caches the sanitiser has not just emptied between two of them.
    rendered = render_body(draft.body)
    avatar_url = None
    if reader.signed_in:
        account = sso.require_account(session, reader.key)
        draft = dataclasses.replace(
            draft, author_name=account.name, author_email=account.email, author_url=account.url
        )
        avatar_url = account.avatar_url
    article = posting_article(session, article_key, now)
    parent = None
    if draft.parent_id is not None:
        parent = _resolve_parent(session, article, draft.parent_id, settings.max_depth)
    submission = policy.Submission(
        article=article,
        body_source=draft.body,
        reader=reader,
        now=now,
        author_email=draft.author_email,
        honeypot=draft.honeypot,
        email_hash=keyring.email_hash(draft.author_email) if draft.author_email else None,
        rendered=rendered,
    )
    verdict = policy.evaluate(session, submission, settings)

    edit_token = new_secret()
    comment = Comment(
        article_id=article.id,
        parent_id=parent.id if parent else None,
        root_id=(parent.root_id or parent.id) if parent else None,
        depth=parent.depth + 1 if parent else 0,
        status=verdict.status,  # final at once: no second UPDATE of the new row
        moderation_reason=verdict.reason,
        body_source=draft.body,
        body_html=rendered.html,
        author_name=draft.author_name,
        author_email=draft.author_email,
        author_url=draft.author_url,
        avatar_seed=keyring.avatar_seed(
            reader_key=reader.key, article_key=article.key, name=draft.author_name, email=draft.author_email
        ),
        avatar_url=avatar_url,
        verified=reader.signed_in,
        reader_hash=reader.key,
        address_hash=reader.address_hash,
        edit_token_hash=hash_secret(edit_token),
        created_at=now,
    )
    insert_loaded(session, comment)
    published = verdict.status is CommentStatus.APPROVED
    # Every comment on the article updates the same counters: they go with the commit, so
    # their rows stay locked only while it runs (statements.at_commit). Its event goes
    # with them: nothing reads it before the commit, and on PostgreSQL the commit's round
    # trip carries it.
    _count_visibility(session, comment, int(published), write=at_commit)
    events.record_for_comment(
        session, events.published_event(comment) if published else EventType.COMMENT_HELD, comment, now,
        write=at_commit,
    )
    if draft.notify:
        subscriptions.subscribe(session, keyring, comment, now)
    return ThreadNode(comment, article.key, settings.anonymous_name, edit_token=edit_token)


# --- reading -----------------------------------------------------------------------------

# Within the pinned and the unpinned segment, each sort orders by these columns, all in
# one direction (True: descending), so an index on (article, depth, pinned, ...) serves it
# in order. Pinned comments always come first.
_ORDERINGS: dict[Sort, tuple[tuple[str, ...], bool]] = {
    Sort.OLDEST: (("id",), False),
    Sort.NEWEST: (("id",), True),
    Sort.TOP: (("score", "id"), True),  # equal scores: newer first
}


# The order of a page's rows, pinned first, then by ``_ORDERINGS`` (what the page's
# statement asks of each segment): a key per sort, read once per row.
_PAGE_ORDER: dict[Sort, Callable[[Any], tuple[int, ...]]] = {
    Sort.OLDEST: lambda row: (-row.pinned, row.id),
    Sort.NEWEST: lambda row: (-row.pinned, -row.id),
    Sort.TOP: lambda row: (-row.pinned, -row.score, -row.id),
}


def _sort_key(comment: Comment, sort: Sort) -> list[int]:
    names, _ = _ORDERINGS[sort]
    return [int(comment.pinned), *(int(getattr(comment, name)) for name in names)]


def _segment(sort: Sort, pinned: bool, after: str | None) -> sa.Select[Any]:
    """Visible top-level comments of one segment (pinned or not), in order, after a key.

    Parameters: ``article_id``, ``page_limit`` and, with ``after``, the key to start
    after as ``{after}_0``, ``{after}_1``, ...
    """
    names, descending = _ORDERINGS[sort]
    columns = [_COMMENTS.c[name] for name in names]
    query = _visible_top_level().where(_COMMENTS.c.pinned == pinned)
    if after is not None:
        bounds = [sa.bindparam(f"{after}_{index}", type_=sa.Integer) for index in range(len(columns))]
        query = query.where(_comes_after(sort, columns, bounds))
    order = [column.desc() if descending else column.asc() for column in columns]
    return query.order_by(*order).limit(sa.bindparam("page_limit", type_=sa.Integer))


def _comes_after(sort: Sort, columns: list[Any], bounds: list[Any]) -> sa.ColumnElement[bool]:
    """Whether the sort key ``columns`` comes after ``bounds`` in ``sort``'s order (one segment)."""
    descending = _ORDERINGS[sort][1]
    position = sa.tuple_(*columns) if len(columns) > 1 else columns[0]
    bound = sa.tuple_(*bounds) if len(bounds) > 1 else bounds[0]
    return position < bound if descending else position > bound


@functools.cache
def _page_statement(sort: Sort, with_pinned: bool, pinned_after: bool, unpinned_after: bool) -> sa.Executable:
    """The top-level comments of one page: the pinned segment first, then the rest.

    Built once per shape (sort, segments, which segments start after a key), since
    building it (a UNION ALL of subqueries) costs more than running it.
    """
    unpinned = _segment(sort, False, "unpinned_after" if unpinned_after else None)
    if not with_pinned:
        return unpinned
    pinned = _segment(sort, True, "pinned_after" if pinned_after else None)
    return sa.union_all(*(sa.select(segment.subquery()) for segment in (pinned, unpinned)))


def _page_parameters(
    article_id: int, limit: int, after: list[int] | None
) -> tuple[tuple[bool, bool, bool], dict[str, int]]:
    """The shape of ``_page_statement`` and its parameters for a page after ``after`` (pinned flag, then sort key)."""
    parameters = {"article_id": article_id, "page_limit": limit}
    with_pinned = after is None or after[0] == 1
    pinned_after = after is not None and after[0] == 1
    unpinned_after = after is not None and after[0] == 0
    if after is not None:
        prefix = "pinned_after" if pinned_after else "unpinned_after"
        parameters.update({f"{prefix}_{index}": value for index, value in enumerate(after[1:])})
    return (with_pinned, pinned_after, unpinned_after), parameters


@functools.cache
def _position_statement(sort: Sort) -> sa.Executable:
    """Where the thread holding comment ``comment_id`` stands in article ``article_id``.

    One row when that thread's top-level comment is shown in the thread: its pinned flag
    and sort key, ``pinned_count`` (the thread's pinned top-level comments) and ``before``
    (those of its own segment that come before it); no row otherwise. Both counts are
    range scans of the same index as the page statements.
    """
    names, _ = _ORDERINGS[sort]
    target, root, pinned, earlier = (_COMMENTS.alias(name) for name in ("target", "root", "pinned", "earlier"))
    root_id = (
        sa.select(sa.func.coalesce(target.c.root_id, target.c.id))
        .where(
            target.c.id == sa.bindparam("comment_id", type_=sa.Integer),
            target.c.article_id == sa.bindparam("article_id", type_=sa.Integer),
        )
        .scalar_subquery()
    )
    pinned_count = (
        sa.select(sa.func.count())
        .select_from(pinned)
        .where(*_top_level_visibility(pinned), pinned.c.pinned == sa.true())
        .scalar_subquery()
    )
    before = (
        sa.select(sa.func.count())
        .select_from(earlier)
        .where(
            *_top_level_visibility(earlier),
            earlier.c.pinned == root.c.pinned,
            _comes_after(sort, [root.c[name] for name in names], [earlier.c[name] for name in names]),
        )
        .scalar_subquery()
    )
    return sa.select(
        root.c.pinned, *(root.c[name] for name in names), pinned_count.label("pinned_count"), before.label("before")
    ).where(*_top_level_visibility(root), root.c.id == root_id)


@functools.cache
def _nth_statement(sort: Sort, pinned: bool) -> sa.Executable:
    """The top-level comment at ``page_offset`` (from 0) of one segment, in order."""
    return _segment(sort, pinned, None).offset(sa.bindparam("page_offset", type_=sa.Integer))


def _start_around(database: Database, article_id: int, sort: Sort, limit: int, comment_id: int) -> list[int] | None:
    """The key to start after (as in a cursor) for the page, walking ``limit`` at a time
    from the first, that holds comment ``comment_id``'s thread; None for the first page.

    Two statements at most, whatever the thread's size. Raises NotFound when the comment
    is not in this article, or neither it nor any comment above it is shown in the thread.
    """
    found = run(database, _position_statement(sort), {"article_id": article_id, "comment_id": comment_id}).first()
    if found is None:
        raise NotFound(NOT_IN_THREAD)
    rank = found.before if found.pinned else found.pinned_count + found.before
    start = rank - rank % limit
    if start == 0:
        return None
    previous = start - 1  # the last top-level comment of the page before
    in_pinned = previous < found.pinned_count
    offset = previous if in_pinned else previous - found.pinned_count
    parameters = {"article_id": article_id, "page_limit": 1, "page_offset": offset}
    row = run(database, _nth_statement(sort, in_pinned), parameters, row=PublicComment._make).first()
    if row is None:
        return None  # the thread shrank between the two statements: start from the top
    return _sort_key(row, sort)


def _decode_cursor(keyring: Keyring, cursor: str, sort: Sort) -> list[int]:
    payload = keyring.read_cursor(cursor)
    expected = 1 + len(_ORDERINGS[sort][0])  # pinned, then the sort columns
    if (
        not isinstance(payload, dict)
        or payload.get("s") != sort.value
        or not isinstance(payload.get("k"), list)
        or len(payload["k"]) != expected
        or not all(isinstance(part, int) and not isinstance(part, bool) for part in payload["k"])
        or payload["k"][0] not in (0, 1)
    ):
        raise ValidationFailed({"cursor": ["Invalid cursor for this sort order."]})
    return payload["k"]


# A comment that is not public (withdrawn, purged, held, rejected) but has visible replies
# is shown as an empty placeholder, so its replies stay readable and every approved comment
# counted in ``comment_count`` can be found in the thread.

class PublicComment(NamedTuple):
    """What a public thread page shows of a comment, and what placing it in the thread needs.

    Read as plain tuples rather than ORM objects or SQLAlchemy rows: a page holds up to a
    hundred comments with their replies, and each is read field by field several times.
    """

    id: int
    parent_id: int | None
    root_id: int | None
    depth: int
    status: CommentStatus
    body_html: str
    edited_by: Editor | None
    author_name: str | None
    author_url: str | None
    avatar_seed: str
    created_at: datetime
    edited_at: datetime | None
    purged_at: datetime | None
    pinned: bool
    score: int
    upvotes: int
    downvotes: int
    reply_count: int
    avatar_url: str | None
    verified: bool


_PUBLIC_COLUMNS = tuple(_COMMENTS.c[name] for name in PublicComment._fields)


def _public_comments(database: Database, statement: sa.Select[Any], parameters: dict[str, Any]) -> list[PublicComment]:
    return run(database, statement, parameters, row=PublicComment._make).all()


def _top_level_visibility(comments: sa.FromClause) -> tuple[sa.ColumnElement[bool], ...]:
    """Conditions for a row of ``comments`` (the table or an alias) to be a top-level
    comment of the thread ``article_id``: approved, or a placeholder above a visible reply."""
    reply = _COMMENTS.alias("reply")
    has_visible_reply = (
        sa.select(reply.c.id)
        .where(reply.c.root_id == comments.c.id, reply.c.status == CommentStatus.APPROVED)
        .exists()
    )
    return (
        comments.c.article_id == sa.bindparam("article_id", type_=sa.Integer),
        comments.c.depth == 0,
        sa.or_(comments.c.status == CommentStatus.APPROVED, has_visible_reply),
    )


def _visible_top_level() -> sa.Select[Any]:
    return sa.select(*_PUBLIC_COLUMNS).where(*_top_level_visibility(_COMMENTS))


@per_dialect
def _thread_replies_of(dialect: str) -> sa.Select[Any]:
    """Replies that are visible or may stand above a visible one, of the given threads
    (``root_ids``: one list parameter, so the statement compiles once, whatever the page)."""
    return sa.select(*_PUBLIC_COLUMNS).where(
        in_values(dialect, _COMMENTS.c.root_id, "root_ids"),
        sa.or_(_COMMENTS.c.status == CommentStatus.APPROVED, _COMMENTS.c.reply_count > 0),
    )


_COMMENTS_BY_ID = sa.select(*_PUBLIC_COLUMNS).where(_COMMENTS.c.id.in_(sa.bindparam("ids", expanding=True)))


def _thread_replies(database: Database, root_ids: list[int]) -> list[PublicComment]:
    """Every reply of these threads that is visible or may stand above a visible one.

    One query in the usual case: approved replies and those with approved direct replies.
    A non-public comment whose only visible descendants sit below another non-public
    one is fetched by id afterwards, one query per missing level (rare, bounded by depth).
    """
    replies = _public_comments(database, _thread_replies_of(database), {"root_ids": root_ids})
    known = set(root_ids) | {comment.id for comment in replies}
    missing = {comment.parent_id for comment in replies if comment.parent_id not in known}
    while missing:
        found = _public_comments(database, _COMMENTS_BY_ID, {"ids": sorted(missing)})
        replies.extend(found)
        known |= {comment.id for comment in found}
        missing = {comment.parent_id for comment in found if comment.parent_id not in known}
    return sorted(replies, key=lambda comment: comment.id)


def _attach_replies(database: Database, roots: list[ThreadNode]) -> None:
    """Nest every visible reply of these threads under its parent; non-public ones with
    visible descendants become placeholders, the others are dropped."""
    by_id = {node.comment.id: node for node in roots}
    if not by_id:
        return
    root = roots[0]
    for comment in _thread_replies(database, list(by_id)):  # a parent's id is below its replies'
        parent = by_id.get(comment.parent_id or 0)
        if parent is None:
            continue  # defensive: _thread_replies fetches every ancestor of what it returns
        node = ThreadNode(comment, root.article_key, root.anonymous_name, in_thread=True)
        parent.replies.append(node)
        by_id[comment.id] = node
    for node in roots:
        _prune_empty_placeholders(node)


def _prune_empty_placeholders(node: ThreadNode) -> bool:
    """Drop placeholders with no visible descendants; True when ``node`` stays visible."""
    if node.replies:  # most nodes have none: no new list for them
        node.replies = [child for child in node.replies if _prune_empty_placeholders(child)]
    return not node.deleted or bool(node.replies)


def list_thread(
    database: Database,
    keyring: Keyring,
    settings: Settings,
    *,
    article_key: str,
    article: ArticleRow | None,
    sort: Sort,
    limit: int,
    cursor: str | None,
    now: datetime,
    around: int | None = None,
) -> ThreadPage:
    """One page of top-level comments, each with its visible replies nested oldest first.

    Keyset pagination over (pinned, [score,] id): walking the cursors returns every
    visible top-level comment once, even while new comments arrive. Three queries per
    page whatever the thread size, each served in order by an index. ``comments_closed`` includes closing by age at
    ``now``; ``premoderated`` follows the article's own moderation mode, else the site default.

    ``article`` is the row of ``article_key`` (``find_article_row``), None when nobody has
    touched it: read once per request, for the page's validator and for the page itself.

    With ``around`` (a comment id; not with ``cursor``), the page is the one that walking
    the cursors from the first page reaches and that holds that comment's thread, at two
    more queries. Raises ValidationFailed for a malformed cursor, NotFound when ``around``
    names no comment shown in this thread (itself or as the thread above it).
    """
    after = _decode_cursor(keyring, cursor, sort) if cursor else None
    if article is None:
        if around is not None:
            raise NotFound(NOT_IN_THREAD)
        summary = ThreadSummary(
            article_key, 0, False, is_premoderated(None, settings), settings.sso_required, settings.reply_emails
        )
        return ThreadPage(summary, [], None)
    if around is not None:
        after = _start_around(database, article.id, sort, limit, around)

    # The pinned segment first, then the rest; one statement (UNION ALL of both segments).
    shape, parameters = _page_parameters(article.id, limit + 1, after)
    statement = _page_statement(sort, *shape)
    rows = _public_comments(database, statement, parameters)
    rows.sort(key=_PAGE_ORDER[sort])

    page, more = rows[:limit], len(rows) > limit
    roots = [ThreadNode(comment, article_key, settings.anonymous_name, in_thread=True) for comment in page]
    _attach_replies(database, roots)
    next_cursor = keyring.sign_cursor({"s": sort.value, "k": _sort_key(page[-1], sort)}) if more else None
    visible = [node for node in roots if not node.deleted or node.replies]
    closed = closed_state(article.comments_closed, article.created_at, settings, now)
    summary = ThreadSummary(
        article_key, article.comment_count, closed, is_premoderated(article.moderation, settings),
        settings.sso_required, settings.reply_emails,
    )
    return ThreadPage(summary, visible, next_cursor, has_earlier=after is not None)


# --- the author's own changes ------------------------------------------------------

def get_comment(session: Session, comment_id: int) -> Comment | None:
    """The comment with this id, or None (also for ids no column can hold)."""
    if not 0 < comment_id <= MAX_ID:
        return None
    return session.get(Comment, comment_id)


def _authorised_comment(
    session: Session, settings: Settings, comment_id: int, edit_token: str | None, now: datetime
) -> Comment:
    comment = get_comment(session, comment_id)
    if comment is None or comment.status not in AUTHOR_DELETABLE or comment.purged_at is not None:
        raise NotFound("Comment not found.")
    if not secret_matches(edit_token, comment.edit_token_hash):
        raise Forbidden("The edit token is missing or wrong.")
    if now - comment.created_at > timedelta(minutes=settings.edit_window_minutes):
        raise Forbidden("The edit window for this comment has closed.")
    return comment


def edit_comment(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    *,
    comment_id: int,
    edit_token: str | None,
    body: str,
    reader: ReaderIdentity,
    now: datetime,
) -> ThreadNode:
    """Replace a comment's body within the edit window, keeping the replaced version.

    Raises NotFound, Forbidden (token or window), Conflict (a concurrent edit), and
    whatever the policy raises; a policy hold moves a published comment back to pending.
    A comment held as spam stays spam, and answers exactly as a pending one would.
    """
    comment = _authorised_comment(session, settings, comment_id, edit_token, now)
    article = session.get(Article, comment.article_id)
    assert article is not None
    rendered = render_body(body)
    submission = policy.Submission(
        article=article,
        body_source=body,
        reader=reader,
        now=now,
        author_email=comment.author_email,
        comment_id=comment.id,
        email_hash=keyring.email_hash(comment.author_email) if comment.author_email else None,
        rendered=rendered,
    )
    verdict = policy.evaluate(session, submission, settings)
    revise(session, comment, body=body, html=rendered.html, editor=Editor.AUTHOR, actor=None, now=now)
    if verdict.status is not CommentStatus.APPROVED and comment.status is not CommentStatus.SPAM:
        comment.moderation_reason = verdict.reason
        change_status(session, comment, verdict.status, now=now)
    touch_article(session, comment.article_id)
    session.flush()
    return ThreadNode(comment, article.key, settings.anonymous_name)


def delete_comment(
    session: Session, settings: Settings, *, comment_id: int, edit_token: str | None, now: datetime
) -> None:
    """Withdraw a comment within the edit window; replies stay, under a placeholder.

    A comment held as spam is withdrawn like a pending one, so the verdict never shows.
    Raises NotFound and Forbidden (token or window).
    """
    comment = _authorised_comment(session, settings, comment_id, edit_token, now)
    change_status(session, comment, CommentStatus.DELETED, now=now)


# --- revisions ------------------------------------------------------------------------

def revise(
    session: Session,
    comment: Comment,
    *,
    body: str,
    html: str | None = None,
    editor: Editor,
    actor: str | None,
    now: datetime,
) -> int:
    """Replace a comment's body with ``body``, keeping the replaced version.

    ``html`` is ``body`` as the sanitiser renders it, when the caller has it already.
    The replaced text goes to ``comment_revisions`` in the caller's transaction; the
    comment's ``revision`` moves on by one and ``edited_by`` names the editor's role
    (``actor``, the API token's name, is kept for moderators). Returns the replaced
    revision number. Raises Conflict when a concurrent edit replaced that version first
    (the unique (comment, revision) pair has the last word).
    """
    replaced = comment.revision
    session.add(
        CommentRevision(
            comment_id=comment.id,
            revision=replaced,
            body_source=comment.body_source,
            body_html=comment.body_html,
            edited_at=comment.edited_at or comment.created_at,
            editor=editor,
            actor=actor,
            replaced_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict("The comment was changed meanwhile; reload it and try again.") from error
    comment.body_source = body
    comment.body_format = BodyFormat.MARKDOWN  # an edit is typed here, whatever the original was
    comment.body_html = render_markdown(body) if html is None else html
    comment.edited_at = now
    comment.edited_by = editor
    comment.revision = replaced + 1
    events.record_for_comment(
        session, EventType.COMMENT_EDITED, comment, now, editor=editor.value, revision=comment.revision
    )
    return replaced
