"""Scale step (PostgreSQL): thread-page time at 10k and at 1M comments, and query plans.

Two databases are built from the seeded template: one filled up to ``small_total``
comments and, copied from it, one filled up to ``large_total``. Filler comments are
written by ``INSERT ... SELECT generate_series`` over the listing articles (100 per
article: a top-level comment with three replies, repeated; a few pending, spam,
rejected, deleted and flagged), so the seeded threads stay exactly as they were.

The thread page is timed in-process through the whole Flask stack (test client, no
network), rendered each time (the rendered-response cache is off: a cached page would
time no query and hand ``EXPLAIN`` no statement), alternating between the two databases in small batches so that changes in
machine load hit both alike. The SQL for ``EXPLAIN (ANALYZE, BUFFERS)`` is captured
from the running service code with a ``before_cursor_execute`` listener.
"""
from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from bench import seed

FILLER_PER_ARTICLE = 100  # a multiple of 4: comment g is top-level when g % 4 == 0
# Filler comment g is written HORIZON - g seconds before now: ids and times ascend together.
HORIZON = 2 * FILLER_PER_ARTICLE * seed.LISTING_COUNT
FILLER_BODY = (
    "Interesting point about the figures in the third paragraph; the source linked "
    "at the end says something slightly different, though, and I would like to know which is right."
)
FILLER_SQL = """
INSERT INTO comments (
    id, article_id, parent_id, root_id, depth, status, moderation_reason,
    body_source, body_html, author_name, author_email, author_url, avatar_seed,
    reader_hash, address_hash, edit_token_hash, created_at, edited_at, purged_at,
    pinned, score, upvotes, downvotes, reply_count, open_flag_count)
SELECT
    CAST(:base AS integer) + g,
    CAST(:first_article AS integer) + (g / {per}) % CAST(:articles AS integer),
    CASE WHEN g % 4 = 0 THEN NULL ELSE CAST(:base AS integer) + g - g % 4 END,
    CASE WHEN g % 4 = 0 THEN NULL ELSE CAST(:base AS integer) + g - g % 4 END,
    CASE WHEN g % 4 = 0 THEN 0 ELSE 1 END,
    CASE WHEN g % 53 = 7 THEN 'pending' WHEN g % 97 = 3 THEN 'spam'
         WHEN g % 89 = 5 THEN 'rejected' WHEN g % 211 = 13 THEN 'deleted' ELSE 'approved' END,
    CASE WHEN g % 53 = 7 THEN 'blocklist' END,
    'Filler ' || g || ': ' || CAST(:body AS text),
    '<p>Filler ' || g || ': ' || CAST(:body AS text) || '</p>',
    CASE WHEN g % 3 = 0 THEN NULL ELSE 'Reader ' || (g % 5000) END,
    NULL, NULL,
    substr(md5(g::text), 1, 16),
    md5(g::text) || md5((g + 1)::text),
    md5((g % 7919)::text) || md5('address'),
    md5('edit' || g) || md5('token' || g),
    CAST(:now AS timestamp) - (CAST(:horizon AS integer) - g) * interval '1 second',
    NULL, NULL,
    false,
    (g::bigint * 7919) % 21 - 5, greatest((g::bigint * 7919) % 21 - 5, 0), greatest(5 - (g::bigint * 7919) % 21, 0),
    CASE WHEN g % 4 = 0 THEN 3 ELSE 0 END,
    CASE WHEN g % 211 = 0 THEN 1 ELSE 0 END
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer) - 1) AS g
""".format(per=FILLER_PER_ARTICLE)
FLAGS_SQL = """
INSERT INTO flags (comment_id, reader_hash, reason, note, created_at, resolved_at)
SELECT id, md5(id::text) || md5('flag'), 'abuse', 'Reported by a reader', created_at, NULL
FROM comments WHERE open_flag_count > 0 AND id >= CAST(:first AS integer) AND id < CAST(:stop AS integer)
"""
# How the captured statements are told apart (the top-level page query filters on the
# article, the replies query on root_id, matched against an array on PostgreSQL, the
# queue joins articles for their keys).
TOP_LEVEL = "WHERE comments.article_id = "
REPLIES = "comments.root_id = ANY"
QUEUE = "FROM comments JOIN articles"
SEQ_SCAN_ON_COMMENTS = re.compile(r"Seq Scan on comments\b")
ROWS_REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")
PLAN_NODE = re.compile(r"\bon (\w+)(?: \w+)?\s+\(cost=")
ACTUAL = re.compile(r"\(actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)\)")
EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
OVERREAD_FACTOR = 4  # a plan reading this many times more comments than it returns is called out


@dataclass(frozen=True)
class Plan:
    label: str
    sql: str
    text: str

    @property
    def seq_scan_on_comments(self) -> bool:
        return bool(SEQ_SCAN_ON_COMMENTS.search(self.text))

    @property
    def comments_filtered_out(self) -> int:
        """Rows that scans of ``comments`` read and then discarded by a filter (all loops).

        Large numbers mean an index that does not fit the query: the work grows with the table.
        """
        return sum(removed * loops for table, _, removed, loops in self._scans() if table == "comments")

    @property
    def comments_read(self) -> int:
        """Rows that scans of ``comments`` read (returned plus filtered out, all loops)."""
        return sum((rows + removed) * loops for table, rows, removed, loops in self._scans() if table == "comments")

    @property
    def overreads(self) -> bool:
        """Whether the plan reads far more comments than it returns: its cost follows the thread or table size."""
        returned = self.rows_returned
        return self.comments_read > max(OVERREAD_FACTOR * returned, returned + 100)

    @property
    def rows_returned(self) -> int:
        match = ACTUAL.search(self.text)
        return int(match.group(1)) if match else 0

    @property
    def execution_ms(self) -> float:
        match = EXECUTION.search(self.text)
        return float(match.group(1)) if match else 0.0

    def _scans(self) -> list[tuple[str, int, int, int]]:
        """(table, rows per loop, rows removed by filter per loop, loops) of every executed scan node."""
        scans: list[tuple[str, int, int, int]] = []
        for line in self.text.splitlines():
            node = PLAN_NODE.search(line)
            actual = ACTUAL.search(line)
            if node and actual and "Scan" in line:
                scans.append((node.group(1), int(actual.group(1)), 0, int(actual.group(2))))
                continue
            removed = ROWS_REMOVED.search(line)
            if removed and scans:
                table, rows, _, loops = scans[-1]
                scans[-1] = (table, rows, int(removed.group(1)), loops)
        return scans


@dataclass(frozen=True)
class Timing:
    """Thread-page time at both sizes (milliseconds, in-process, whole Flask stack)."""

    label: str
    small_median_ms: float
    small_p90_ms: float
    large_median_ms: float
    large_p90_ms: float
    requests_each: int

    @property
    def ratio(self) -> float:
        return self.large_median_ms / self.small_median_ms


@dataclass
class ScaleReport:
    small_total: int
    large_total: int
    fill_seconds: float
    timings: list[Timing] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def seq_scans(self) -> list[str]:
        return [plan.label for plan in self.plans if plan.seq_scan_on_comments]

    @property
    def overreading(self) -> list[str]:
        return [plan.label for plan in self.plans if plan.overreads]


def _comment_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM comments").scalar_one())


def fill(engine: sa.Engine, *, base_id: int, start: int, stop: int, now: datetime) -> None:
    """Insert filler comments ``start`` .. ``stop - 1`` (ids ``base_id + g``), their flags, then analyse.

    Raises ValueError when the filler would need more listing articles than were seeded.
    """
    if stop > FILLER_PER_ARTICLE * seed.LISTING_COUNT:
        raise ValueError(f"at most {FILLER_PER_ARTICLE * seed.LISTING_COUNT} filler comments")
    if stop <= start:
        return
    naive_now = now.astimezone(timezone.utc).replace(tzinfo=None)
    chunk = 250_000
    with engine.begin() as connection:
        # The rows are consistent by construction: skip the per-row foreign-key triggers
        # (this transaction only) and, for big fills, build the secondary indexes once at
        # the end instead of row by row. The index definitions are read back from the
        # catalogue, so the schema ends up exactly as the migrations made it.
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        indexes: list[tuple[str, str]] = []
        if stop - start > 100_000:
            indexes = [tuple(row) for row in connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'comments' AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = 'comments'::regclass)"
            )]
            for name, _ in indexes:
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
        for first in range(start, stop, chunk):
            last = min(first + chunk, stop)
            connection.execute(sa.text(FILLER_SQL), {
                "base": base_id, "first_article": seed.FIRST_LISTING_ID, "articles": seed.LISTING_COUNT,
                "body": FILLER_BODY, "now": naive_now, "start": first, "stop": last, "horizon": HORIZON,
            })
        for _, definition in indexes:
            connection.exec_driver_sql(definition)
        connection.execute(sa.text(FLAGS_SQL), {"first": base_id + start, "stop": base_id + stop})
        seed.reset_sequences(connection)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("comments", "flags"):
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
        connection.exec_driver_sql("ANALYZE")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_pages(small: Flask, large: Flask, paths: dict[str, str], *, rounds: int, batch: int) -> list[Timing]:
    """Time GETs of each path on both apps, alternating batches; medians and p90 in ms."""
    clients = {"small": small.test_client(), "large": large.test_client()}
    samples: dict[tuple[str, str], list[float]] = {(label, size): [] for label in paths for size in clients}
    for label, path in paths.items():
        for client in clients.values():  # warm: compiled statements, pool, PostgreSQL caches
            for _ in range(10):
                assert client.get(path).status_code == 200, path
    for _ in range(rounds):
        for label, path in paths.items():
            for size, client in clients.items():
                for _ in range(batch):
                    started = time.perf_counter()
                    response = client.get(path)
                    samples[(label, size)].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, path
    return [
        Timing(
            label=label,
            small_median_ms=statistics.median(samples[(label, "small")]),
            small_p90_ms=_percentile(samples[(label, "small")], 0.9),
            large_median_ms=statistics.median(samples[(label, "large")]),
            large_p90_ms=_percentile(samples[(label, "large")], 0.9),
            requests_each=rounds * batch,
        )
        for label in paths
    ]


def capture(engine: sa.Engine, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run ``call`` and return every (statement, parameters) it sent to ``engine``."""
    captured: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return captured


def _moderator_token(app: Flask) -> str:
    """A moderator API token, created through the documented CLI command."""
    result = app.test_cli_runner().invoke(args=["tokens", "create", "--name", "bench-explain", "--role", "moderator"])
    if result.exit_code != 0:
        raise RuntimeError(f"tokens create failed: {result.output}")
    return result.stdout.strip().splitlines()[-1]


def explain_plans(app: Flask, report: ScaleReport) -> None:
    """Capture the hot queries behind the public and moderation endpoints and EXPLAIN each.

    The requests go through the whole app (test client), so the SQL is exactly what the
    current code sends, whatever its internal structure.
    """
    from engagement.extensions import db

    client = app.test_client()
    with app.app_context():
        engine = db.engine
    wanted: list[tuple[str, str, Any]] = []  # (label, statement, parameters)

    def get(path: str, **headers: str) -> tuple[Any, list[tuple[str, Any]]]:
        responses: list[Any] = []
        statements = capture(engine, lambda: responses.append(client.get(path, headers=headers)))
        response = responses[0]
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        return response.get_json(), statements

    def pick(label: str, statements: list[tuple[str, Any]], must: str) -> None:
        chosen = [(sql, params) for sql, params in statements if must in sql]
        if not chosen:
            report.problems.append(f"{label}: no statement containing {must!r} was captured")
        wanted.extend((label, sql, params) for sql, params in chosen)

    def attempt(what: str, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # a changed endpoint must not sink the whole run
            report.problems.append(f"{what}: {exc!r}")

    thread = f"/api/v1/articles/{seed.THREAD_LARGE}/comments?limit=50&sort="
    for sort in ("oldest", "newest", "top"):
        def thread_pages(sort: str = sort) -> None:
            body, statements = get(thread + sort)
            pick(f"Thread page, sort={sort}, first page: top-level", statements, TOP_LEVEL)
            if sort == "oldest":
                pick("Thread page: replies of the page's threads", statements, REPLIES)
            _, statements = get(thread + sort + "&cursor=" + body["next_cursor"])
            pick(f"Thread page, sort={sort}, next page (keyset): top-level", statements, TOP_LEVEL)
        attempt(f"thread page {sort}", thread_pages)

    def counts() -> None:
        query = "&".join(f"articles={seed.listing_key(index)}" for index in range(0, 1000, 10))
        _, statements = get("/api/v1/counts?" + query)
        pick("Counts for 100 articles", statements, "FROM articles")
    attempt("counts", counts)

    def queues() -> None:
        token = _moderator_token(app)
        for status in ("pending", "approved", "rejected", "spam", "deleted", "flagged"):
            _, statements = get(f"/api/v1/mod/comments?status={status}&limit=50", Authorization=f"Bearer {token}")
            pick(f"Moderation queue, status={status}", statements, QUEUE)
    attempt("moderation queue", queues)

    for window in ("24h", "7d"):
        def trending(window: str = window) -> None:
            _, statements = get(f"/api/v1/trending?window={window}&limit=10")
            pick(f"Trending {window}: bucket ranking", statements, "FROM activity_buckets")
        attempt(f"trending {window}", trending)

    seen: set[tuple[str, str]] = set()
    per_label: dict[str, int] = {}
    with engine.connect() as connection:
        for label, sql, params in wanted:
            if (label, sql) in seen:
                continue
            seen.add((label, sql))
            per_label[label] = per_label.get(label, 0) + 1
            shown = label if per_label[label] == 1 else f"{label} (statement {per_label[label]})"
            rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).all()
            report.plans.append(Plan(shown, _inline(sql, params), "\n".join(row[0] for row in rows)))
            connection.rollback()


def _inline(sql: str, params: Any) -> str:
    """The statement with its parameters shown in place, for reading (not for running)."""
    if isinstance(params, dict):
        return re.sub(r"%\((\w+)\)s", lambda match: repr(params.get(match.group(1))), sql)
    return sql


def run_scale(
    admin: sa.Engine,
    base_url: str,
    template: str,
    names: tuple[str, str],
    make_app: Callable[[str], Flask],
    *,
    small_total: int,
    large_total: int,
    rounds: int,
    batch: int,
    databases: list[str],
    log: Callable[[str], None],
) -> ScaleReport:
    """Build the two databases ``names`` from ``template``, time thread pages on both, EXPLAIN on the large one.

    Every database created is appended to ``databases`` (the caller drops them).
    """
    small_db, large_db = names
    now = datetime.now(timezone.utc)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{small_db}" TEMPLATE "{template}"')
    databases.append(small_db)

    started = time.perf_counter()
    small_engine = sa.create_engine(f"{base_url}/{small_db}")
    seeded = _comment_count(small_engine)
    with small_engine.connect() as connection:
        base_id = int(connection.exec_driver_sql("SELECT max(id) FROM comments").scalar_one()) + 1
    fill(small_engine, base_id=base_id, start=0, stop=small_total - seeded, now=now)
    small_engine.dispose()
    log(f"scale: {small_total:,} comments in {small_db}")

    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{large_db}" TEMPLATE "{small_db}"')
    databases.append(large_db)
    large_engine = sa.create_engine(f"{base_url}/{large_db}")
    fill(large_engine, base_id=base_id, start=small_total - seeded, stop=large_total - seeded, now=now)
    report = ScaleReport(
        small_total=_comment_count(sa.create_engine(f"{base_url}/{small_db}", poolclass=sa.NullPool)),
        large_total=_comment_count(large_engine),
        fill_seconds=time.perf_counter() - started,
    )
    large_engine.dispose()
    log(f"scale: {report.large_total:,} comments in {large_db} ({report.fill_seconds:.0f} s to build both)")

    small_app, large_app = make_app(f"{base_url}/{small_db}"), make_app(f"{base_url}/{large_db}")
    paths = {
        "GET thread page (100 comments)": f"/api/v1/articles/{seed.THREAD_SMALL}/comments",
        "GET first page, 1,000-comment thread": f"/api/v1/articles/{seed.THREAD_LARGE}/comments",
    }
    report.timings = time_pages(small_app, large_app, paths, rounds=rounds, batch=batch)
    explain_plans(large_app, report)
    from engagement.extensions import db

    for app in (small_app, large_app):
        with app.app_context():
            db.engine.dispose()  # the databases are dropped next
    return report
