"""Writing imported threads and comments: batched, idempotent, in the caller's transaction.

Comments are inserted as they stream in, a batch at a time, with their threads' articles
found or created for the batch. A reply whose parent is stored and placed already goes in
placed (parent, root, depth, capped at the site's maximum depth like a native reply); any
other goes in top-level, its parent reference in a temporary table, and once the stream
ends SQL places it, makes comments whose parent is missing top-level, drops deleted
comments that nobody answered and moves the counters on. Memory stays bounded by the
batch size and the number of threads, whatever the number of comments.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.importing.keys import KeyRule
from engagement.importing.pipeline import RenderedRecord
from engagement.importing.records import (
    ImportedAuthor,
    ImportedComment,
    ImportedThread,
    ImportFailed,
    MAX_IMPORTED_BODY_LENGTH,
    Skipped,
)
from engagement.models import Article, Comment, CommentStatus, ReactionTotal
from engagement.privacy import Keyring
from engagement.services import trending
from engagement.services.articles import touch_article
from engagement.services.statements import dialect_name, run
from engagement.text import strip_unsafe_codepoints

BATCH_SIZE = 1000
MAX_SOURCE_ID_LENGTH = 64  # comments.import_id
# SQLite's page cache for the importing connection while comments are inserted (the
# default is 2 MB): the comments indexes of a large import outgrow a small cache, and
# every insert then rereads pages from the operating system. 64 MB was 2-3 % faster
# than this at 1,000,000 comments, for 51 MB more (docs/scaling.md).
IMPORT_SQLITE_CACHE_KIB = 16 * 1024

_COMMENTS = Comment.__table__
_ARTICLES = Article.__table__
_REACTION_TOTALS = ReactionTotal.__table__
_PARENT = _COMMENTS.alias("parent")
_REPLY = _COMMENTS.alias("reply")

# Every comment this import inserted, with the (source, id) of the comment it answers.
# Temporary: it lives in the importing connection only and is dropped at the end.
_LINKS = sa.Table(
    "import_links",
    sa.MetaData(),
    sa.Column("comment_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("parent_source", sa.String(16)),
    sa.Column("parent_import_id", sa.String(64)),
    prefixes=["TEMPORARY"],
)
# Visible replies each parent gained, counted once (see _Writer._count).
_REPLY_COUNTS = sa.Table(
    "import_reply_counts",
    sa.MetaData(),
    sa.Column("parent_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("replies", sa.Integer),
    prefixes=["TEMPORARY"],
)
_TEMPORARY_TABLES = (_LINKS, _REPLY_COUNTS)
_IN_RUN = _COMMENTS.c.id.in_(sa.select(_LINKS.c.comment_id))
# The comments of this import that were inserted before their parent could be placed.
_AWAITING = _COMMENTS.c.id.in_(sa.select(_LINKS.c.comment_id).where(_LINKS.c.parent_import_id.is_not(None)))
# A reply not yet placed in its thread (top-level comments are placed as inserted).
_UNPLACED = sa.and_(_COMMENTS.c.parent_id.is_not(None), _COMMENTS.c.root_id.is_(None))


@dataclass
class ImportSummary:
    """What an import did (or, in a dry run, would do)."""

    articles: int = 0  # articles created
    comments: int = 0  # comments added
    orphans: int = 0  # added top-level because the comment they answer is not there
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> comments

    def line(self, *, dry_run: bool = False) -> str:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        skipped = sum(self.skipped.values())
        verb = "would import" if dry_run else "imported"
        return (
            f"{verb} {self.articles} new article(s), {self.comments} comment(s)"
            f" ({self.orphans} orphan(s) made top-level); skipped {skipped}"
            + (f" ({reasons})" if reasons else "")
        )


def import_records(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    records: Iterable[RenderedRecord],
    *,
    keys: KeyRule,
    now: datetime,
    keep_deleted: bool = False,
) -> ImportSummary:
    """Write a stream of threads and comments; flush, never commit.

    The caller commits, or rolls back to leave the database as it was (a dry run, or an
    ImportFailed raised by the reader halfway). Comments whose (source, id) is stored
    already are skipped, so importing a file again adds nothing. A thread becomes an
    article only when one of its comments is imported (or when it names its own key, as
    engagement's export does). Raw addresses never reach this function; e-mails arrive
    as native comments store them (``records.clean_author``). Each record comes with
    its body's sanitised HTML (``importing.pipeline``).

    Deleted comments from another system keep only their place in the thread, and only
    while someone answered them; ``keep_deleted`` (engagement's own export) stores them
    as they are. Raises ImportFailed for a source id longer than 64 characters.
    """
    writer = _Writer(session, keyring, settings, keys, now, keep_deleted)
    # On failure the caller's rollback takes the temporary tables along (PostgreSQL), or
    # the next import drops them (SQLite creates them outside the transaction).
    _create_temporary_tables(session)
    with _larger_sqlite_cache(session):
        for record, html in records:
            if isinstance(record, ImportedThread):
                writer.add_thread(record)
            elif isinstance(record, Skipped):
                writer.summary.skipped[record.reason] += 1
            else:
                writer.add_comment(record, html or "")
        writer.flush()
    # Placing the tree is a few set-wide statements; SQLite sizes their sorts by the cache,
    # so the larger one would only raise the peak memory there.
    writer.place_comments()
    _drop_temporary_tables(session)
    return writer.summary


@contextmanager
def _larger_sqlite_cache(session: Session) -> Iterator[None]:
    """IMPORT_SQLITE_CACHE_KIB of page cache while the import runs, then the connection's own again.

    The process's bound on SQLite's memory (ENGAGEMENT_SQLITE_MEMORY_MB) is lifted meanwhile,
    as it would take that cache's pages back.
    """
    if dialect_name(session) != "sqlite":
        yield
        return
    previous = run(session, sa.text("PRAGMA cache_size")).scalar_one()
    previous_limit = run(session, sa.text("PRAGMA soft_heap_limit")).scalar_one()
    run(session, sa.text(f"PRAGMA cache_size = -{IMPORT_SQLITE_CACHE_KIB}"))
    run(session, sa.text("PRAGMA soft_heap_limit = 0"))
    try:
        yield
    finally:
        run(session, sa.text(f"PRAGMA soft_heap_limit = {int(previous_limit)}"))
        run(session, sa.text(f"PRAGMA cache_size = {int(previous)}"))


def _create_temporary_tables(session: Session) -> None:
    _drop_temporary_tables(session)  # left by an import that failed on this pooled connection
    for table in _TEMPORARY_TABLES:
        table.create(session.connection())


def _drop_temporary_tables(session: Session) -> None:
    for table in _TEMPORARY_TABLES:
        run(session, sa.text(f"DROP TABLE IF EXISTS {table.name}"))


class _Writer:
    def __init__(
        self,
        session: Session,
        keyring: Keyring,
        settings: Settings,
        keys: KeyRule,
        now: datetime,
        keep_deleted: bool,
    ):
        self.session = session
        self.keyring = keyring
        self.settings = settings
        self.keys = keys
        self.now = now
        self.keep_deleted = keep_deleted
        self.summary = ImportSummary()
        # ref -> thread (None: deleted) until its article is resolved; then only its key is
        # kept (40,000 threads held whole took 40 MB).
        self.threads: dict[str, ImportedThread | None] = {}
        self.thread_keys: dict[str, str] = {}  # ref -> the key of its article
        self.article_ids: dict[str, int] = {}  # key -> article id, once looked up or created
        self.batch: dict[tuple[str, str], dict[str, object]] = {}
        self.batch_threads: dict[tuple[str, str], str] = {}  # comment -> its thread's ref
        self.parents: dict[tuple[str, str], tuple[str, str] | None] = {}
        self.keyed_threads: list[str] = []  # threads naming their own key: articles even without comments
        self.address_hashes: dict[str, str] = {}
        # Restoring an export into an empty database keeps its comment ids, so links to
        # #comment-N anchors keep working; anywhere else ids are new.
        self.keep_ids = not session.scalar(sa.select(sa.exists().where(_COMMENTS.c.id.is_not(None))))
        self.explicit_ids = False

    # --- threads ---------------------------------------------------------------------

    def add_thread(self, thread: ImportedThread) -> None:
        self.threads[thread.ref] = None if thread.deleted else thread
        self.thread_keys.pop(thread.ref, None)
        if thread.key is not None and not thread.deleted:
            self.keyed_threads.append(thread.ref)
            if len(self.keyed_threads) >= BATCH_SIZE:
                self.flush()

    def _key_of(self, ref: str) -> str | None:
        """The key of the article for thread ``ref``; None for a deleted thread."""
        key = self.thread_keys.get(ref)
        if key is None:
            thread = self.threads.get(ref)
            if thread is None:
                return None
            key = self.thread_keys[ref] = thread.key or self.keys.key_for(url=thread.url, identifier=thread.identifier)
        return key

    def _resolve_articles(self, refs: Iterable[str]) -> None:
        """The article of each thread in ``refs``: found by key, or created, a batch at a time.

        An article with no url yet takes the thread's url and title. Views and reaction
        totals come along only into an article created here.
        """
        wanted: dict[str, ImportedThread] = {}
        for ref in refs:
            key, thread = self._key_of(ref), self.threads.get(ref)
            if key is None or thread is None:  # deleted, or resolved already
                continue
            del self.threads[ref]  # its key is all that is kept
            if key not in self.article_ids:
                wanted.setdefault(key, thread)
        if not wanted:
            return
        found = run(self.session, sa.select(_ARTICLES.c.key, _ARTICLES.c.id, _ARTICLES.c.url)
                    .where(_ARTICLES.c.key.in_(list(wanted)))).all()
        for key, article_id, url in found:
            self.article_ids[key] = article_id
            thread = wanted.pop(key)
            if url is None and thread.url:
                run(self.session, sa.update(_ARTICLES).where(_ARTICLES.c.id == article_id).values(
                    url=_bounded(thread.url, 2000), title=_bounded(thread.title, 300)
                ))
        if wanted:
            self._create_articles(wanted)

    def _create_articles(self, threads: dict[str, ImportedThread]) -> None:
        """One article per key, in one insert (ids read back by the unique key)."""
        rows = []
        for key, thread in threads.items():
            created = thread.created_at or self.now
            rows.append({
                "key": key, "title": _bounded(thread.title, 300), "url": _bounded(thread.url, 2000),
                "views": max(thread.views, 0), "comments_closed": thread.closed, "moderation": thread.moderation,
                "created_at": created, "updated_at": created,
            })
        run(self.session, sa.insert(_ARTICLES), rows)
        created_ids = run(self.session, sa.select(_ARTICLES.c.key, _ARTICLES.c.id)
                          .where(_ARTICLES.c.key.in_(list(threads)))).all()
        totals = []
        for key, article_id in created_ids:
            self.article_ids[key] = article_id
            totals += [{"article_id": article_id, "kind": kind, "count": count}
                       for kind, count in threads[key].reactions.items() if count > 0]
        if totals:
            run(self.session, sa.insert(_REACTION_TOTALS), totals)
        self.summary.articles += len(rows)

    # --- comments --------------------------------------------------------------------

    def add_comment(self, comment: ImportedComment, html: str) -> None:
        """Queue ``comment`` for the next batch; ``html`` is its body sanitised."""
        if comment.thread_ref not in self.threads and comment.thread_ref not in self.thread_keys:
            self.summary.skipped["of unknown threads"] += 1
            return
        key = self._key_of(comment.thread_ref)
        if key is None:
            self.summary.skipped["of deleted threads"] += 1
            return
        if len(comment.body) > MAX_IMPORTED_BODY_LENGTH:
            self.summary.skipped["too long"] += 1
            return
        identity = (comment.source, comment.source_id)
        if len(comment.source_id) > MAX_SOURCE_ID_LENGTH:
            raise ImportFailed(f"comment id {comment.source_id[:80]!r}... is longer than {MAX_SOURCE_ID_LENGTH} characters")
        if identity in self.batch:
            self.summary.skipped["already imported"] += 1
            return
        self.batch[identity] = self._row(comment, html, key)
        self.batch_threads[identity] = comment.thread_ref
        self.parents[identity] = comment.parent
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def _row(self, comment: ImportedComment, html: str, key: str) -> dict[str, object]:
        """The comment's row, less its article id (set when the batch is written)."""
        author = comment.author
        body = strip_unsafe_codepoints(comment.body)
        if comment.status is CommentStatus.DELETED and not self.keep_deleted:
            # Its author took it back: only its place in the thread is kept.
            author = ImportedAuthor()
            body = ""
        reader_hash = self.keyring.keyed_hash(
            "imported-reader", f"{comment.source}\x00{author.email or ''}\x00{(author.name or '').casefold()}"
        )
        row: dict[str, object] = {
            "article_id": None,
            "parent_id": None,
            "root_id": None,
            "depth": 0,
            "status": comment.status,
            "moderation_reason": comment.moderation_reason,
            "body_source": body,
            "body_html": html if body else "",
            "body_format": comment.body_format,
            "author_name": author.name,
            "author_email": author.email,
            "author_url": author.url,
            "avatar_url": author.avatar_url,
            "verified": author.verified,
            "avatar_seed": self.keyring.avatar_seed(
                reader_key=reader_hash, article_key=key, name=author.name, email=author.email
            ),
            "reader_hash": reader_hash,
            # Never an address: a hash no client can have, so bans on it match nobody new.
            "address_hash": self._address_hash(comment.source),
            "created_at": comment.created_at,
            "edited_at": comment.edited_at,
            "purged_at": comment.purged_at,
            "pinned": comment.pinned,
            "score": comment.score,
            "upvotes": comment.upvotes,
            "downvotes": comment.downvotes,
            "import_source": comment.source,
            "import_id": comment.source_id,
        }
        if self.keep_ids and comment.comment_id is not None:
            row["id"] = comment.comment_id
        return row

    def _address_hash(self, source: str) -> str:
        """One per source, the same for every comment of a file."""
        known = self.address_hashes.get(source)
        if known is None:
            known = self.address_hashes[source] = self.keyring.keyed_hash("imported-address", source)
        return known

    def flush(self) -> None:
        """Insert the batch, less the comments stored already (by an earlier run or batch).

        Articles are resolved first: those of the batch's threads, and those of threads
        that name their own key (engagement's export keeps articles without comments).
        """
        self._resolve_articles([*self.keyed_threads, *self.batch_threads.values()])  # in file order
        self.keyed_threads.clear()
        if not self.batch:
            return
        for identity, row in self.batch.items():
            row["article_id"] = self.article_ids[self.thread_keys[self.batch_threads[identity]]]
        for source in {source for source, _ in self.batch}:
            ids = [source_id for batch_source, source_id in self.batch if batch_source == source]
            stored = run(
                self.session,
                sa.select(_COMMENTS.c.import_id).where(
                    _COMMENTS.c.import_source == source, _COMMENTS.c.import_id.in_(ids)
                ),
            ).scalars()
            for source_id in stored:
                del self.batch[(source, source_id)]
                self.summary.skipped["already imported"] += 1
        self._place_known_replies()
        for with_id in (True, False):
            identities = [identity for identity, row in self.batch.items() if ("id" in row) is with_id]
            if identities:
                self._insert(identities)
                self.explicit_ids |= with_id
        self.batch.clear()
        self.batch_threads.clear()
        self.parents.clear()

    def _place_known_replies(self) -> None:
        """Replies whose parent is stored and placed already are inserted placed.

        Exports list most replies after their parent, so this spares nearly all of them
        the set-wide placing at the end (an update of four indexes per reply). The rules
        are the placing's own: the parent must be in the same article, and a reply below
        the site's maximum depth goes beside its parent. Anything else (a parent further
        on in the file, in this batch, or itself waiting for its place) is left to it.
        """
        max_depth = self.settings.max_depth
        wanted: dict[str, set[str]] = {}
        for identity in self.batch:
            parent = self.parents[identity]
            if parent is not None:
                wanted.setdefault(parent[0], set()).add(parent[1])
        if max_depth == 0 or not wanted:
            return
        placed: dict[tuple[str, str], sa.Row] = {}
        for source, ids in wanted.items():
            for parent in run(self.session, _placed_parents(source, sorted(ids))):
                placed[(source, parent.import_id)] = parent
        for identity, row in self.batch.items():
            parent_ref = self.parents[identity]
            parent = placed.get(parent_ref) if parent_ref is not None else None
            if parent is None or parent.article_id != row["article_id"] or parent.depth > max_depth:
                continue
            if parent.depth < max_depth:
                row.update(parent_id=parent.id, root_id=parent.root_id or parent.id, depth=parent.depth + 1)
            else:
                row.update(parent_id=parent.parent_id, root_id=parent.root_id, depth=max_depth)
            self.parents[identity] = None  # nothing left to attach

    def _insert(self, identities: list[tuple[str, str]]) -> None:
        rows = [self.batch[identity] for identity in identities]
        # A plain executemany (no RETURNING, which SQLite would run row by row); the new
        # ids are read back by the (source, id) index.
        run(self.session, sa.insert(_COMMENTS), rows)
        links = []
        for source in {source for source, _ in identities}:
            ids = [source_id for row_source, source_id in identities if row_source == source]
            for comment_id, source_id in run(self.session, sa.select(_COMMENTS.c.id, _COMMENTS.c.import_id).where(
                _COMMENTS.c.import_source == source, _COMMENTS.c.import_id.in_(ids)
            )):
                parent = self.parents[(source, source_id)]
                links.append({
                    "comment_id": comment_id,
                    "parent_source": parent[0] if parent else None,
                    "parent_import_id": parent[1] if parent else None,
                })
        run(self.session, sa.insert(_LINKS), links)
        self.summary.comments += len(rows)

    # --- placing the new comments ------------------------------------------------------

    def place_comments(self) -> None:
        """Parents, roots and depths, then placeholders, counters and trending."""
        if self.summary.comments == 0:
            return
        self._attach_parents()
        self._place_levels()
        if not self.keep_deleted:
            self._drop_unanswered_deleted()
        self._count()
        if self.explicit_ids and dialect_name(self.session) == "postgresql":
            # Ids were given explicitly: move the sequence past them for the next new comment.
            run(self.session, sa.text(
                "SELECT setval(pg_get_serial_sequence('comments', 'id'), (SELECT max(id) FROM comments))"
            ))

    def _attach_parents(self) -> None:
        parent_id = (
            sa.select(_PARENT.c.id)
            .select_from(_LINKS.join(_PARENT, sa.and_(
                _PARENT.c.import_source == _LINKS.c.parent_source,
                _PARENT.c.import_id == _LINKS.c.parent_import_id,
            )))
            .where(
                _LINKS.c.comment_id == _COMMENTS.c.id,
                _PARENT.c.article_id == _COMMENTS.c.article_id,
                _PARENT.c.id != _COMMENTS.c.id,
            )
            .scalar_subquery()
        )
        run(self.session, sa.update(_COMMENTS).where(_AWAITING).values(parent_id=parent_id))
        self.summary.orphans += run(self.session, sa.select(sa.func.count()).select_from(_COMMENTS).where(
            _AWAITING, _COMMENTS.c.parent_id.is_(None)
        )).scalar_one()

    def _place_levels(self) -> None:
        """Depth and root of each new reply, level by level from the placed comments down.

        Replies deeper than the site's maximum depth are attached beside the deepest
        allowed level, as native replies are. A parent chain that never reaches a placed
        comment (a cycle in the source) makes its comments top-level.
        """
        max_depth = self.settings.max_depth
        for level in range(1, max_depth + 1):
            run(self.session, sa.update(_COMMENTS).where(_AWAITING, _UNPLACED, _parent_placed_at(level - 1)).values(
                depth=level,
                root_id=sa.select(sa.func.coalesce(_PARENT.c.root_id, _PARENT.c.id))
                .where(_PARENT.c.id == _COMMENTS.c.parent_id).scalar_subquery(),
            ))
        too_deep = sa.update(_COMMENTS).where(_AWAITING, _UNPLACED, _parent_placed_at(max_depth)).values(
            depth=max_depth,
            parent_id=sa.select(_PARENT.c.parent_id).where(_PARENT.c.id == _COMMENTS.c.parent_id).scalar_subquery(),
            root_id=sa.select(_PARENT.c.root_id).where(_PARENT.c.id == _COMMENTS.c.parent_id).scalar_subquery(),
        )
        if max_depth > 0:
            while run(self.session, too_deep).rowcount:
                pass
        unplaced = run(self.session, sa.update(_COMMENTS).where(_AWAITING, _UNPLACED).values(parent_id=None))
        self.summary.orphans += unplaced.rowcount

    def _drop_unanswered_deleted(self) -> None:
        """A deleted comment stays only as the placeholder above its replies."""
        unanswered = sa.delete(_COMMENTS).where(
            _IN_RUN,
            _COMMENTS.c.status == CommentStatus.DELETED,
            ~sa.select(_REPLY.c.id).where(_REPLY.c.parent_id == _COMMENTS.c.id).exists(),
        )
        while dropped := run(self.session, unanswered).rowcount:
            self.summary.comments -= dropped
            self.summary.skipped["deleted without replies"] += dropped

    def _count(self) -> None:
        """Reply counts, comment counts, article versions, and trending for recent comments.

        The new visible replies are counted per parent into a temporary table first: a
        correlated count over the new comments for each parent would make SQLite scan them
        once per parent.
        """
        approved_new = sa.and_(_IN_RUN, _COMMENTS.c.status == CommentStatus.APPROVED)
        run(self.session, sa.insert(_REPLY_COUNTS).from_select(
            ["parent_id", "replies"],
            sa.select(_COMMENTS.c.parent_id, sa.func.count())
            .where(approved_new, _COMMENTS.c.parent_id.is_not(None))
            .group_by(_COMMENTS.c.parent_id),
        ))
        run(self.session, sa.update(_COMMENTS).where(_COMMENTS.c.id.in_(sa.select(_REPLY_COUNTS.c.parent_id))).values(
            reply_count=_COMMENTS.c.reply_count
            + sa.select(_REPLY_COUNTS.c.replies).where(_REPLY_COUNTS.c.parent_id == _COMMENTS.c.id).scalar_subquery()
        ))
        # One row per article: as many as threads, which the import holds in memory anyway.
        per_article = run(self.session, sa.select(
            _COMMENTS.c.article_id, sa.func.count().filter(_COMMENTS.c.status == CommentStatus.APPROVED)
        ).where(_IN_RUN).group_by(_COMMENTS.c.article_id)).all()
        for article_id, visible in per_article:
            touch_article(self.session, article_id, comment_delta=visible)
        # Only comments young enough to fall in a trending window count there: years of
        # history must not push the imported threads up "most discussed now".
        window = max(shape.hours for shape in trending.WINDOWS.values())
        recent = run(self.session, sa.select(_COMMENTS.c.article_id, _COMMENTS.c.created_at).where(
            approved_new, _COMMENTS.c.created_at >= self.now - timedelta(hours=window)
        )).all()
        for article_id, created_at in recent:
            trending.record_activity(self.session, article_id, created_at, comments=1)


def _placed_parents(source: str, import_ids: list[str]) -> sa.Select:
    """The stored comments of ``source`` among ``import_ids`` that have their place in a
    thread: any but those of this import still waiting for theirs (a pending link)."""
    pending = sa.select(_LINKS.c.comment_id).where(
        _LINKS.c.comment_id == _PARENT.c.id, _LINKS.c.parent_import_id.is_not(None)
    )
    return sa.select(
        _PARENT.c.import_id, _PARENT.c.id, _PARENT.c.article_id, _PARENT.c.depth, _PARENT.c.parent_id,
        _PARENT.c.root_id,
    ).where(_PARENT.c.import_source == source, _PARENT.c.import_id.in_(import_ids), ~pending.exists())


def _parent_placed_at(depth: int) -> sa.ColumnElement[bool]:
    """The comment's parent sits in its thread at ``depth``."""
    return (
        sa.select(_PARENT.c.id)
        .where(
            _PARENT.c.id == _COMMENTS.c.parent_id,
            _PARENT.c.depth == depth,
            sa.or_(_PARENT.c.parent_id.is_(None), _PARENT.c.root_id.is_not(None)),
        )
        .exists()
    )



def _bounded(text: str | None, length: int) -> str | None:
    """``text`` cut to its column's length; None for nothing."""
    return text[:length] if text else None
