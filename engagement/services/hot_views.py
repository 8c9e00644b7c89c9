"""Hot view counters in Redis, moved into the SQL counters in batches.

With REDIS_URL set, a view beacon costs one Redis script instead of SQL writes: the
script checks and sets the reader's dedup mark and adds the view to a pending batch,
atomically, so a view is never counted without its mark nor marked without being
counted. A flusher later applies the batch to ``articles.views`` and the hourly
activity buckets. Keys, all under ``engagement:``:

    view:<article key>:<visitor hash>     dedup mark; value = its expiry (ms), TTL = the window
    views:pending                         hash: article key -> views not yet flushed
    views:pending:buckets                 hash: "<hour epoch>|<article key>" -> views in that hour
    views:pending:id                      the flush id the pending batch will be applied under
    views:flushing:<id>[:buckets]         a batch taken by a flush, until applied and cleaned up
    views:in-flight                       ids of the batches taken and not yet cleaned up
    views:flush-lock                      held by the one process that is flushing
    views:base:<article key>              stored views not counted by batches still in Redis
    views:generation                      bumped when a batch is taken or released

Crash safety (rename, then apply): a flush atomically renames the pending hashes to
``views:flushing:<id>`` and records the id as in flight; applies the whole batch in
one SQL transaction that also inserts ``counter_flushes(<id>)``; and only after the
commit deletes the batch from Redis. A crash before the commit leaves the batch in
flight and unapplied; after it, in flight and recorded as applied. Every flush first
finishes the batches left in flight, applying only those not recorded: nothing is
lost and nothing applied twice (the primary key of ``counter_flushes`` settles even
two flushers racing on one batch).

Exact reads: a read takes the unflushed counts from Redis first (pending and in flight,
per batch id), then reads the stored views and, in the same SQL statement, whether each
of those batches is applied already; a batch counts on top of the stored views only if
it is not. Any view counted before the Redis read is thus counted exactly once, even
while a flush is half done or after a crash mid-flush.

Answering a beacon without SQL: the beacon answers the article's total, and reading
it from SQL would cost more than counting. So Redis also keeps, per article, a *base*:
the article's stored views less those of the batches still in Redis that SQL already
holds (applied, not yet cleaned up). Then at every moment

    total = base + the article's views in the pending batch and in each batch in flight,

and the count script answers it in the same round trip. The base stays true because
SQL's views change only when a batch is applied, and a batch leaves Redis (the release
script, which adds its views to the base) only after it is applied. A base is learned
from an exact read (stored views, batch by batch whether applied), for an article with
other views not yet flushed (one viewed more often than the flush interval), and written
only if no batch was taken or released since the read's Redis snapshot
(``views:generation``, bumped by both); otherwise a later beacon tries again. A base expires after
``BASE_TTL_SECONDS``: views counted in SQL while Redis was unreachable are missing from
beacons' answers until then (every read of counts stays exact: reads use SQL).

Dedup marks store their expiry on the application's clock, the same ``now`` the SQL
path uses, and expire by themselves (TTL): Redis holds no long-lived visitor identifier.
The keys span several hashes, so this needs one Redis server (not Redis Cluster).
"""
from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
import sqlalchemy as sa
from redis.backoff import NoBackoff
from redis.exceptions import LockError
from redis.lock import Lock
from redis.retry import Retry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.models import ActivityBucket, Article, CounterFlush
from engagement.observability import ThrottledWarnings
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services.articles import ARTICLES, dialect_insert, ensure_article_id
from engagement.services.budgets import UNLIMITED, Allowance
from engagement.services.statements import Database, dialect_name, in_values, run
from engagement.services.trending import bucket_hour

logger = logging.getLogger("engagement.hot_views")

PREFIX = "engagement:"
PENDING = PREFIX + "views:pending"
IN_FLIGHT = PREFIX + "views:in-flight"
FLUSH_LOCK = PREFIX + "views:flush-lock"

# A flush holding the lock longer than this lets another flusher start; harmless, since
# the counter_flushes primary key lets only one of them apply a batch.
FLUSH_LOCK_SECONDS = 60
# Rows per executemany and keys per IN list when applying a batch.
FLUSH_CHUNK = 500
# counter_flushes rows only need to outlive the Redis keys of their batch.
FLUSH_RECORD_RETENTION = timedelta(days=7)
# A learned base is trusted this long; it only misses views counted in SQL during a Redis
# outage, and relearning it costs one SQL read per article per period.
BASE_TTL_SECONDS = 60
# A base is learned for an article with at least this many views not yet flushed (this
# one included): one viewed more often than the flush interval. Learning costs a round
# trip; an article viewed now and then would pay it at every beacon and seldom use it.
WARM_VIEWS = 2
# Redis outages are logged at most this often per process.
WARNING_INTERVAL_SECONDS = 60.0

# Reads the unflushed counts of the article keys in ``fields``: the pending batch's id
# and counts, then (id, counts) for each batch in flight.
_UNFLUSHED_LUA = """
local function unflushed(prefix, fields)
  local out = {redis.call('GET', prefix .. 'views:pending:id') or '',
               redis.call('HMGET', prefix .. 'views:pending', unpack(fields))}
  for _, id in ipairs(redis.call('SMEMBERS', prefix .. 'views:in-flight')) do
    out[#out + 1] = id
    out[#out + 1] = redis.call('HMGET', prefix .. 'views:flushing:' .. id, unpack(fields))
  end
  return out
end
"""

# ARGV: prefix, article keys...
_READ_SCRIPT = _UNFLUSHED_LUA + """
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
return unflushed(ARGV[1], fields)
"""

# The article's total from its base (nil without one): see "Answering a beacon" above.
_TOTAL_LUA = """
local function total(prefix, key)
  local base = redis.call('GET', prefix .. 'views:base:' .. key)
  if not base then return false end
  local views = tonumber(base) + tonumber(redis.call('HGET', prefix .. 'views:pending', key) or 0)
  for _, id in ipairs(redis.call('SMEMBERS', prefix .. 'views:in-flight')) do
    views = views + tonumber(redis.call('HGET', prefix .. 'views:flushing:' .. id, key) or 0)
  end
  return views
end
"""

# KEYS: yesterday's mark, today's mark (none when the view may not count).
# ARGV: prefix, now (ms), expiry (ms), window (ms), article key, bucket field, new batch id,
# whether the view may count ("1"/"0").
# A live mark under either hash means the reader was counted within the window.
# Returns {counted, total (nil without a base), generation, unflushed (nil when the total is known)}.
_COUNT_SCRIPT = _UNFLUSHED_LUA + _TOTAL_LUA + """
local prefix, now, key = ARGV[1], tonumber(ARGV[2]), ARGV[5]
local counted = 0
if ARGV[8] == '1' then
  local previous = redis.call('GET', KEYS[1])
  local current = redis.call('GET', KEYS[2])
  if not (previous and tonumber(previous) > now) and not (current and tonumber(current) > now) then
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
    redis.call('SET', prefix .. 'views:pending:id', ARGV[7], 'NX')
    redis.call('HINCRBY', prefix .. 'views:pending', key, 1)
    redis.call('HINCRBY', prefix .. 'views:pending:buckets', ARGV[6], 1)
    counted = 1
  end
end
local views = total(prefix, key)
local generation = redis.call('GET', prefix .. 'views:generation') or '0'
if views then return {counted, views, generation, false} end
return {counted, false, generation, unflushed(prefix, {key})}
"""

# ARGV: prefix, article key, base, the generation the base was read at, TTL (ms).
# Sets the base unless a batch was taken or released since that read; 1 if it did.
_LEARN_SCRIPT = """
local prefix = ARGV[1]
if (redis.call('GET', prefix .. 'views:generation') or '0') ~= ARGV[4] then return 0 end
redis.call('SET', prefix .. 'views:base:' .. ARGV[2], ARGV[3], 'PX', ARGV[5], 'NX')
return 1
"""

# ARGV: prefix, an id to use if the pending batch has none. Returns the batch id, or nil.
_TAKE_SCRIPT = """
local prefix = ARGV[1]
local pending, buckets = prefix .. 'views:pending', prefix .. 'views:pending:buckets'
local has_views, has_buckets = redis.call('EXISTS', pending) == 1, redis.call('EXISTS', buckets) == 1
if not has_views and not has_buckets then return false end
local id = redis.call('GET', prefix .. 'views:pending:id') or ARGV[2]
if has_views then redis.call('RENAME', pending, prefix .. 'views:flushing:' .. id) end
if has_buckets then redis.call('RENAME', buckets, prefix .. 'views:flushing:' .. id .. ':buckets') end
redis.call('DEL', prefix .. 'views:pending:id')
redis.call('SADD', prefix .. 'views:in-flight', id)
redis.call('INCR', prefix .. 'views:generation')
return id
"""

# ARGV: prefix, batch id. The batch is applied in SQL: its views move into the bases
# (once: only the call that removes it from the in-flight set adds them).
_RELEASE_SCRIPT = """
local prefix, id = ARGV[1], ARGV[2]
local views = prefix .. 'views:flushing:' .. id
if redis.call('SREM', prefix .. 'views:in-flight', id) == 1 then
  local counts = redis.call('HGETALL', views)
  for i = 1, #counts, 2 do
    local base = prefix .. 'views:base:' .. counts[i]
    if redis.call('EXISTS', base) == 1 then redis.call('INCRBY', base, counts[i + 1]) end
  end
  redis.call('INCR', prefix .. 'views:generation')
end
redis.call('DEL', views, views .. ':buckets')
return 1
"""


# ARGV: prefix. Returns the views not yet in SQL (pending and in flight) and the batches in flight.
_BACKLOG_SCRIPT = """
local prefix = ARGV[1]
local views = 0
local function add(key)
  for _, count in ipairs(redis.call('HVALS', key)) do views = views + tonumber(count) end
end
add(prefix .. 'views:pending')
local in_flight = redis.call('SMEMBERS', prefix .. 'views:in-flight')
for _, id in ipairs(in_flight) do add(prefix .. 'views:flushing:' .. id) end
return {views, #in_flight}
"""


_warnings = ThrottledWarnings(logger, WARNING_INTERVAL_SECONDS)


@dataclass(frozen=True)
class UnflushedViews:
    """Views counted in Redis for some article keys, per batch, read at one moment.

    ``batches`` maps a batch (flush) id to its counts per article key: the pending
    batch and every batch in flight, leaving out batches with nothing for these keys.
    """

    batches: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def applied_columns(self) -> tuple[sa.ColumnElement[bool], ...]:
        """Columns to add to the SELECT that reads the views: whether each batch is applied.

        Reading both in one statement makes them one snapshot, so a batch committed
        while the read runs is counted once: in the stored views or here, not both.
        The batches' ids are bound as parameters (``parameters``), so a statement with
        these columns is built once per number of batches, not once per read.
        """
        return applied_columns(len(self.batches))

    def parameters(self) -> dict[str, str]:
        """The batches' ids, as ``applied_columns`` binds them."""
        return {f"batch_{index}": batch_id for index, batch_id in enumerate(self.batches)}

    def views_of(self, key: str) -> int:
        """The article's views in every batch together, applied or not."""
        return sum(counts.get(key, 0) for counts in self.batches.values())

    def total(self, key: str, stored: int, applied: Sequence[Any]) -> int:
        """``stored`` views plus those of the batches that ``applied`` (same SELECT) says SQL lacks."""
        if not self.batches:
            return stored
        return stored + sum(
            counts.get(key, 0) for counts, done in zip(self.batches.values(), applied, strict=True) if not done
        )


NOTHING_UNFLUSHED = UnflushedViews()

# Statements built per number of unflushed batches: a pending batch and the few in flight.
BUILT_BATCH_COUNTS = 8


@functools.lru_cache(maxsize=BUILT_BATCH_COUNTS)
def applied_columns(count: int) -> tuple[sa.ColumnElement[bool], ...]:
    """``UnflushedViews.applied_columns`` for ``count`` batches, bound as ``batch_0``, ``batch_1``…"""
    flushes = CounterFlush.__table__
    return tuple(
        sa.exists().where(flushes.c.flush_id == sa.bindparam(f"batch_{index}", type_=sa.String))
        .label(f"batch_{index}_applied")
        for index in range(count)
    )


@functools.lru_cache(maxsize=2 * BUILT_BATCH_COUNTS)
def _views_by_keys(dialect: str, batches: int, with_version: bool) -> sa.Select[Any]:
    """Key, [version,] views and whether each of ``batches`` is applied, a row per article among ``keys``."""
    columns = (ARTICLES.c.key, *((ARTICLES.c.version,) if with_version else ()), ARTICLES.c.views)
    return sa.select(*columns, *applied_columns(batches)).where(in_values(dialect, ARTICLES.c.key, "keys"))


def _parse_unflushed(keys: Sequence[str], payload: Sequence[Any]) -> UnflushedViews:
    pending_id, pending, *in_flight = payload
    batches: dict[str, dict[str, int]] = {}

    def add(batch_id: str, values: Sequence[str | None]) -> None:
        counts = {key: int(value) for key, value in zip(keys, values) if value}
        if counts:
            batches[batch_id] = counts

    add(pending_id, pending)
    for batch_id, values in zip(in_flight[::2], in_flight[1::2]):
        add(batch_id, values)
    return UnflushedViews(batches)


@dataclass(frozen=True)
class Backlog:
    """What the flushers still have to do, read at one moment."""

    views: int  # counted in Redis, not yet in SQL
    batches_in_flight: int  # taken by a flush and not yet cleaned up (a flush failed or runs)


@dataclass(frozen=True)
class Batch:
    """A batch taken by a flush: views per article key and per (article key, hour)."""

    views: dict[str, int]
    buckets: dict[tuple[str, datetime], int]


@dataclass(frozen=True)
class CountedView:
    """What the count script answered for one beacon."""

    counted: bool
    total: int | None  # the article's views (base + unflushed), None while no base is known
    generation: str  # the batches' generation at the script, for ``learn_base``
    unflushed: UnflushedViews  # the article's unflushed views, when ``total`` is None


class _KeptConnections:
    """Each serving thread's own Redis connection, for the scripts requests run.

    A command on the shared pool checks a connection out and back in (a lock each way and
    a poll of the socket), about 18 µs of a 600 µs beacon; a thread keeps one instead. A
    kept connection the server closed (a restart, an idle timeout) is found dead only when
    used, so a script whose connection fails is sent once more on a new one: the scripts
    requests run are safe to repeat (the reads; a count whose first run went through finds
    its own mark and counts nothing more; a base is only set where none is). A timeout is
    not repeated: the caller falls back to SQL at once.
    """

    def __init__(self, shared: redis.ConnectionPool):
        once_more = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        self._pool = redis.ConnectionPool(
            connection_class=shared.connection_class, **{**shared.connection_kwargs, "retry": once_more}
        )
        self._threads = threading.local()

    def client(self) -> redis.Redis:
        """The calling thread's client; raises ``redis.RedisError`` when Redis cannot be reached."""
        client: redis.Redis | None = getattr(self._threads, "client", None)
        if client is None:
            client = redis.Redis(connection_pool=self._pool, single_connection_client=True)
            self._threads.client = client
        return client


class ViewCounter:
    """The Redis side of hot view counting: one client and the registered scripts.

    ``on_count`` is called after each view counted in Redis (the app starts its
    flusher there). Methods raise ``redis.RedisError`` when Redis cannot be reached.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        on_count: Callable[[], object] | None = None,
        _scripts: dict[str, Any] | None = None,
        _memo: bool = False,
        _kept: "_KeptConnections | None" = None,
    ):
        self.client = client
        self._on_count = on_count
        self._kept = _kept or _KeptConnections(client.connection_pool)
        self._scripts = _scripts or {
            "read": client.register_script(_READ_SCRIPT),
            "count": client.register_script(_COUNT_SCRIPT),
            "learn": client.register_script(_LEARN_SCRIPT),
            "take": client.register_script(_TAKE_SCRIPT),
            "release": client.register_script(_RELEASE_SCRIPT),
            "backlog": client.register_script(_BACKLOG_SCRIPT),
        }
        self._memo: dict[frozenset[str], UnflushedViews] | None = {} if _memo else None

    def for_request(self) -> "ViewCounter":
        """A counter for one request: repeated reads of the same keys make one round trip."""
        return ViewCounter(self.client, on_count=self._on_count, _scripts=self._scripts, _memo=True, _kept=self._kept)

    def unflushed(self, keys: Iterable[str]) -> UnflushedViews:
        """The unflushed views of these article keys (one round trip)."""
        wanted = frozenset(keys)
        if not wanted:
            return NOTHING_UNFLUSHED
        if self._memo is not None:
            for known, result in self._memo.items():
                if wanted <= known:
                    return result
        ordered = sorted(wanted)
        result = _parse_unflushed(ordered, self._scripts["read"](args=[PREFIX, *ordered], client=self._kept.client()))
        if self._memo is not None:
            self._memo[wanted] = result
        return result

    def count(
        self,
        *,
        article_key: str,
        visitor_hashes: tuple[str, str] | None,
        now: datetime,
        window: timedelta,
        batch_id: str,
    ) -> CountedView:
        """Count a view unless a live mark exists under either of ``visitor_hashes``
        (yesterday's, today's; None: the view may not count); one atomic script that
        also answers the article's total when its base is known.
        """
        now_ms = _epoch_ms(now)
        window_ms = int(window.total_seconds() * 1000)
        bucket = f"{int(bucket_hour(now).timestamp())}|{article_key}"
        marks = [_mark(article_key, visitor_hash) for visitor_hash in visitor_hashes or ()]
        counted, total, generation, payload = self._scripts["count"](
            keys=marks,
            args=[PREFIX, now_ms, now_ms + window_ms, window_ms, article_key, bucket, batch_id, int(bool(marks))],
            client=self._kept.client(),
        )
        if counted and self._on_count is not None:
            self._on_count()
        unflushed = NOTHING_UNFLUSHED if payload is None else _parse_unflushed([article_key], payload)
        return CountedView(bool(counted), total, generation, unflushed)

    def learn_base(self, article_key: str, total: int, counted: CountedView) -> bool:
        """Keep the article's base, from ``total`` read exactly (stored and unflushed) after
        the count script answered ``counted``; refused (False) if a batch was taken or
        released since that script ran, which could make the base wrong."""
        base = total - counted.unflushed.views_of(article_key)
        learned = self._scripts["learn"](
            args=[PREFIX, article_key, base, counted.generation, BASE_TTL_SECONDS * 1000], client=self._kept.client()
        )
        return bool(learned)

    def backlog(self) -> Backlog:
        """The views not yet flushed into SQL, over every article (one atomic script)."""
        views, batches = self._scripts["backlog"](args=[PREFIX])
        return Backlog(views=int(views), batches_in_flight=int(batches))

    def in_flight(self) -> list[str]:
        """Ids of the batches taken by a flush and not yet cleaned up."""
        return sorted(self.client.smembers(IN_FLIGHT))

    def take_pending(self) -> str | None:
        """Move the pending batch aside for a flush (atomic rename); its id, or None if empty."""
        return self._scripts["take"](args=[PREFIX, uuid.uuid4().hex])

    def batch(self, batch_id: str) -> Batch:
        """The counts of a taken batch (they no longer change)."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(f"{PREFIX}views:flushing:{batch_id}")
            pipe.hgetall(f"{PREFIX}views:flushing:{batch_id}:buckets")
            views, buckets = pipe.execute()
        by_hour: dict[tuple[str, datetime], int] = {}
        for bucket, count in buckets.items():
            hour, _, key = bucket.partition("|")
            by_hour[(key, datetime.fromtimestamp(int(hour), timezone.utc))] = int(count)
        return Batch(views={key: int(count) for key, count in views.items()}, buckets=by_hour)

    def release(self, batch_id: str) -> None:
        """Delete an applied batch from Redis and from the in-flight set (atomic)."""
        self._scripts["release"](args=[PREFIX, batch_id])

    def forget_visitors(self, visitor_hashes: Sequence[str]) -> int:
        """Delete these visitors' dedup marks on every article; how many there were.

        A SCAN over the marks: for erasure, a rare request, never a hot path.
        """
        removed = 0
        for visitor_hash in visitor_hashes:
            marks = list(self.client.scan_iter(match=_mark("*", visitor_hash), count=1000))
            removed += self.client.delete(*marks) if marks else 0
        return removed

    def lock(self) -> Lock:
        """The flush lock: one flusher at a time across every process and host."""
        return self.client.lock(FLUSH_LOCK, timeout=FLUSH_LOCK_SECONDS, blocking=False)


def _mark(article_key: str, visitor_hash: str) -> str:
    return f"{PREFIX}view:{article_key}:{visitor_hash}"


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- counting and reading -----------------------------------------------------------------

def unflushed_views(counter: ViewCounter | None, keys: Iterable[str]) -> UnflushedViews:
    """The unflushed views of these keys; none without a counter or when Redis is unreachable.

    Call it before the SQL statement that reads the stored views.
    """
    if counter is None:
        return NOTHING_UNFLUSHED
    try:
        return counter.unflushed(keys)
    except redis.RedisError as exc:
        _warnings.warning("read", "Redis unreachable, view counts leave out unflushed views: %s", exc)
        return NOTHING_UNFLUSHED


def current_views(database: Database, keys: Sequence[str], unflushed: UnflushedViews) -> dict[str, int]:
    """Views of each existing article among ``keys``: stored plus unflushed, in one SELECT."""
    if not keys:
        return {}
    statement = _views_by_keys(dialect_name(database), len(unflushed.batches), with_version=False)
    rows = run(database, statement, {"keys": list(keys), **unflushed.parameters()})
    return {key: unflushed.total(key, views, applied) for key, views, *applied in rows}


def article_versions(database: Database, counter: ViewCounter | None, keys: list[str]) -> dict[str, tuple[int, int]]:
    """``services.articles.article_versions`` with unflushed views included in the views part.

    (version, views) of each existing article among ``keys``, in one indexed query after
    one Redis round trip, so a view counted in Redis changes the validator at once.
    """
    if not keys:
        return {}
    unflushed = unflushed_views(counter, keys)
    statement = _views_by_keys(dialect_name(database), len(unflushed.batches), with_version=True)
    rows = run(database, statement, {"keys": keys, **unflushed.parameters()})
    return {key: (version, unflushed.total(key, views, applied)) for key, version, views, *applied in rows}


def count_view(
    database: Database,
    counter: ViewCounter,
    keyring: Keyring,
    settings: Settings,
    *,
    article_key: str,
    reader: ReaderIdentity,
    countable: bool,
    now: datetime,
    allowance: Allowance = UNLIMITED,
) -> tuple[int, bool] | None:
    """``views.record_view`` with the mark and the increment in Redis.

    Returns the article's views (stored plus unflushed, this view included if it
    counted) and whether it counted, or None when Redis cannot be reached: the caller
    then counts in SQL.
    The first counted view creates the article row, as the SQL path does; requests that
    are not ``countable`` (automated, or over the address's allowance) are never counted
    and never create it; a view that counts spends ``allowance``. (A Redis timeout may
    hide a script that did run; its view is then counted in SQL as well: one extra view
    at worst.)

    The total comes from the article's base in the same round trip when Redis knows it;
    otherwise from one exact SQL read, which then teaches Redis the base if the article is
    viewed often enough to use it (``WARM_VIEWS``). That read must be the request's first
    SQL statement (on SQLite, the one that starts its snapshot), so that it sees every
    batch applied before the script ran.
    """
    try:
        hashes = None
        if countable:
            today = now.astimezone(timezone.utc).date()
            hashes = (
                keyring.daily_visitor_hash(reader, today - timedelta(days=1)),
                keyring.daily_visitor_hash(reader, today),
            )
        counted = counter.count(
            article_key=article_key, visitor_hashes=hashes, now=now,
            window=timedelta(minutes=settings.view_window_minutes), batch_id=uuid.uuid4().hex,
        )
    except redis.RedisError as exc:
        _warnings.warning("count", "Redis unreachable, counting views in SQL instead: %s", exc)
        return None
    if counted.counted:
        allowance.spend()
    if counted.total is not None:
        return counted.total, counted.counted
    views = current_views(database, [article_key], counted.unflushed)
    if article_key not in views:
        if not countable:
            return 0, False
        ensure_article_id(database, article_key, now)
        views = current_views(database, [article_key], counted.unflushed)
    total = views[article_key]
    if counted.unflushed.views_of(article_key) >= WARM_VIEWS:
        try:
            counter.learn_base(article_key, total, counted)
        except redis.RedisError as exc:  # the view is counted; the next beacon learns the base
            _warnings.warning("count", "Redis unreachable, view total not kept: %s", exc)
    return total, counted.counted


# --- flushing -----------------------------------------------------------------------------

@dataclass(frozen=True)
class FlushResult:
    batches: int  # batches applied (or found applied) and cleaned up
    views: int  # views this run added to the SQL counters


def _chunks(items: Sequence[Any], size: int = FLUSH_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _article_ids(session: Session, keys: Sequence[str], now: datetime) -> dict[str, int]:
    """Ids of these articles, creating the missing ones (a view whose request failed after
    counting in Redis, or whose article row was not committed yet)."""
    articles = Article.__table__
    ids: dict[str, int] = {}
    for chunk in _chunks(keys):
        ids.update(session.execute(sa.select(articles.c.key, articles.c.id).where(articles.c.key.in_(chunk))).all())
    missing = [key for key in keys if key not in ids]
    if missing:
        # Waits for a concurrent first use of the key to commit, then keeps its row.
        session.execute(
            dialect_insert(session, articles).on_conflict_do_nothing(index_elements=["key"]),
            [{"key": key, "created_at": now, "updated_at": now} for key in missing],
        )
        for chunk in _chunks(missing):
            ids.update(
                session.execute(sa.select(articles.c.key, articles.c.id).where(articles.c.key.in_(chunk))).all()
            )
    return ids


def apply_batch(session: Session, batch_id: str, batch: Batch, now: datetime) -> int:
    """Add a batch to the SQL counters and record it as applied, in the caller's transaction.

    The record goes first: its primary key makes a second apply of the same batch fail
    (IntegrityError) before it changes anything. Returns the views added.
    """
    session.execute(sa.insert(CounterFlush).values(flush_id=batch_id, applied_at=now))
    keys = sorted(set(batch.views) | {key for key, _ in batch.buckets})
    ids = _article_ids(session, keys, now)

    articles = Article.__table__
    add_views = (
        sa.update(articles)
        .where(articles.c.key == sa.bindparam("article_key"))
        .values(views=articles.c.views + sa.bindparam("delta"))
    )
    # Sorted by key so concurrent writers lock rows in one order.
    rows = [{"article_key": key, "delta": count} for key, count in sorted(batch.views.items()) if count]
    for chunk in _chunks(rows):
        session.execute(add_views, list(chunk))

    buckets = ActivityBucket.__table__
    upsert = dialect_insert(session, buckets)
    upsert = upsert.on_conflict_do_update(
        index_elements=["article_id", "hour"], set_={"views": buckets.c.views + upsert.excluded.views}
    )
    bucket_rows = [
        {"article_id": ids[key], "hour": hour, "views": count, "comments": 0, "reactions": 0}
        for (key, hour), count in sorted(batch.buckets.items())
        if count and key in ids
    ]
    for chunk in _chunks(bucket_rows):
        session.execute(upsert, list(chunk))
    return sum(row["delta"] for row in rows)


def _finish(session: Session, counter: ViewCounter, batch_id: str, now: datetime) -> int:
    """Apply a taken batch unless it is recorded as applied, commit, then delete it from Redis."""
    added = 0
    try:
        recorded = session.scalar(sa.select(CounterFlush.flush_id).where(CounterFlush.flush_id == batch_id))
        if recorded is None:
            added = apply_batch(session, batch_id, counter.batch(batch_id), now)
        session.commit()
    except IntegrityError:
        # Another flusher applied this batch between our check and our insert.
        session.rollback()
        added = 0
    except BaseException:
        session.rollback()
        raise
    counter.release(batch_id)
    return added


def flush_views(session: Session, counter: ViewCounter, *, now: datetime) -> FlushResult:
    """Finish the batches a crashed flusher left in flight, then flush the pending batch.

    Commits: each batch is its own transaction, committed before its Redis keys are
    deleted (run it outside a request). Raises ``redis.RedisError`` or a SQLAlchemy
    error when a store fails; whatever was taken stays in flight for the next run.
    """
    batches, views = 0, 0
    for batch_id in counter.in_flight():
        views += _finish(session, counter, batch_id, now)
        batches += 1
    batch_id = counter.take_pending()
    if batch_id is not None:
        views += _finish(session, counter, batch_id, now)
        batches += 1
    return FlushResult(batches=batches, views=views)


def flush_with_lock(session: Session, counter: ViewCounter, *, now: datetime) -> FlushResult | None:
    """``flush_views`` under the flush lock; None when another process holds it.

    Raises what ``flush_views`` raises, and ``redis.RedisError`` when Redis is unreachable.
    """
    lock = counter.lock()
    if not lock.acquire(blocking=False):
        return None
    try:
        return flush_views(session, counter, now=now)
    finally:
        try:
            lock.release()
        except LockError:
            logger.warning("view flush outlasted its %ss lock", FLUSH_LOCK_SECONDS)


def prune_flush_records(session: Session, now: datetime, *, limit: int, keep: Collection[str] = ()) -> int:
    """Delete up to ``limit`` counter_flushes rows past retention, except the ids in ``keep``
    (batches still in flight, whose record must outlive their Redis keys); returns how many."""
    old = (
        sa.select(CounterFlush.flush_id)
        .where(CounterFlush.applied_at < now - FLUSH_RECORD_RETENTION, CounterFlush.flush_id.not_in(list(keep)))
        .order_by(CounterFlush.applied_at)
        .limit(limit)
    )
    ids = list(session.scalars(old))
    if not ids:
        return 0
    result = session.execute(
        sa.delete(CounterFlush).where(CounterFlush.flush_id.in_(ids)).execution_options(synchronize_session=False)
    )
    return result.rowcount


def warn_flush_failed(exc: Exception) -> None:
    """What the in-process flusher (a ``periodic.PeriodicTask``) does with a failed round."""
    _warnings.warning("flush", "view flush failed, retried in the next round: %r", exc)
