"""Command-line tools: `flask --app wsgi engagement ...` (or the `engagement` script)."""
from __future__ import annotations

import dataclasses
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import click
import redis
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from marshmallow import ValidationError

from engagement.backup import BackupError, backup_sqlite
from engagement.clock import iso_timestamp, utcnow
from engagement.errors import DomainError
from engagement.extensions import db, enable_migrations
from engagement.importing.disqus import read_disqus
from engagement.importing.isso import read_isso
from engagement.importing.json_export import read_json_export
from engagement.importing.keys import KeyRule, read_key_map
from engagement.importing.records import ImportFailed, ImportRecord
from engagement.importing.pipeline import RecordSource, rendered_records, spare_cpus
from engagement.importing.wordpress import read_wordpress
from engagement.models import Comment, Role
from engagement.schemas.common import OptionalEmail
from engagement.services import audit, deliveries, erasure, exporting, hot_views, importing, tokens, trending
from engagement.services.comments import render_source
from engagement.services.mail import mail_channel

engagement_group = click.Group("engagement", help="engagement maintenance commands.")


@engagement_group.command("rerender")
@click.option("--batch-size", default=500, show_default=True)
@with_appcontext
def rerender_comments(batch_size: int) -> None:
    """Re-render every comment's HTML from its source (after a sanitiser change).

    Markdown sources take the Markdown path, imported HTML sources the HTML one.
    """
    last_id, changed = 0, 0
    while True:
        batch = db.session.scalars(
            sa.select(Comment).where(Comment.id > last_id).order_by(Comment.id).limit(batch_size)
        ).all()
        if not batch:
            break
        for comment in batch:
            html = "" if comment.purged_at else render_source(comment.body_source, comment.body_format)
            if html != comment.body_html:
                comment.body_html = html
                changed += 1
        last_id = batch[-1].id
        db.session.commit()
    click.echo(f"re-rendered {changed} comment(s)")


@engagement_group.command("prune")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1))
@with_appcontext
def prune(batch_size: int) -> None:
    """Delete expired view marks, activity buckets older than every trending window, and
    events delivered more than 30 days ago.

    Safe to run from cron, as often as wanted: idempotent, and each batch is its own
    short transaction so live traffic is never blocked for long.
    """
    marks, buckets = 0, 0
    while True:
        result = trending.prune_batch(db.session, utcnow(), batch_size=batch_size)
        db.session.commit()
        marks += result.view_marks
        buckets += result.buckets
        if result.view_marks < batch_size and result.buckets < batch_size:
            break
    click.echo(f"pruned {marks} expired view mark(s) and {buckets} old activity bucket(s)")
    _prune_flush_records(batch_size)
    events = 0
    while True:
        pruned = deliveries.prune_batch(db.session, utcnow(), limit=batch_size)
        db.session.commit()
        events += pruned
        if pruned < batch_size:
            break
    click.echo(f"pruned {events} delivered event(s)")


def _prune_flush_records(batch_size: int) -> None:
    """Delete counter_flushes rows past retention, keeping those of batches still in Redis."""
    counter: hot_views.ViewCounter | None = current_app.extensions.get("engagement.view_counter")
    try:
        in_flight = counter.in_flight() if counter is not None else []
    except redis.RedisError as exc:
        click.echo(f"kept counter flush records: Redis unreachable ({exc})")
        return
    records = 0
    while True:
        deleted = hot_views.prune_flush_records(db.session, utcnow(), limit=batch_size, keep=in_flight)
        db.session.commit()
        records += deleted
        if deleted < batch_size:
            break
    click.echo(f"pruned {records} old counter flush record(s)")


@engagement_group.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace TARGET if it exists.")
@with_appcontext
def backup(target: Path, overwrite: bool) -> None:
    """Copy the SQLite database to TARGET while the service runs (consistent, online).

    The copy is the database as of one moment, checked with PRAGMA integrity_check.
    For PostgreSQL use pg_dump or base backups with WAL archiving (docs/operations.md, "Backups").
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException(
            "backup copies the embedded SQLite database; for PostgreSQL use pg_dump or base backups "
            "with WAL archiving (see \"Backups\" in docs/operations.md)"
        )
    try:
        result = backup_sqlite(Path(url.database), target, overwrite=overwrite)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up {result.pages} page(s), {result.size_bytes:,} bytes, to {result.path} (integrity: ok)")


def delivery_channels(app: Flask) -> list[deliveries.Channel]:
    """The channels this worker delivers through; a new kind of delivery is added here."""
    # Imported here, not with this module: create_app registers these commands in every
    # web worker, which never delivers, and httpx would add megabytes to each.
    from engagement.services.webhook_channel import WebhookChannel

    keyring = app.extensions["engagement.keyring"]
    channels: list[deliveries.Channel] = [
        WebhookChannel(
            keyring, timeout=app.config["WEBHOOK_TIMEOUT_SECONDS"], allow_private=app.config["WEBHOOK_ALLOW_PRIVATE"]
        ),
    ]
    if app.config["SMTP_URL"]:
        channels.append(mail_channel(app.config, keyring))
    return channels


@engagement_group.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron and tests).")
@with_appcontext
def worker(once: bool) -> None:
    """Deliver events (webhooks, e-mail) until stopped; SIGTERM or SIGINT finishes the current delivery, then exits."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    channels = delivery_channels(app)
    runner = deliveries.DeliveryWorker(
        db.session,
        channels,
        deliveries.RetryPolicy(
            max_attempts=config["DELIVERY_MAX_ATTEMPTS"],
            backoff=timedelta(seconds=config["DELIVERY_BACKOFF_SECONDS"]),
            max_backoff=timedelta(seconds=config["DELIVERY_BACKOFF_MAX_SECONDS"]),
        ),
        clock=utcnow,
        lease=timedelta(seconds=config["WORKER_LEASE_SECONDS"]),
        poll_seconds=config["WORKER_POLL_SECONDS"],
    )
    previous = {number: signal.signal(number, lambda *_: runner.stop()) for number in (signal.SIGTERM, signal.SIGINT)}
    click.echo("worker: delivering" + (" what is due" if once else " until stopped"), err=True)
    try:
        runner.run(once=once)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for channel in channels:
            channel.close()
        db.session.remove()
    click.echo("worker: stopped", err=True)


@engagement_group.command("flush-views")
@with_appcontext
def flush_views() -> None:
    """Move view counts accumulated in Redis into the database (REDIS_URL; for cron).

    Safe to run at any time and from several hosts: one flusher runs at a time, and a
    flush interrupted by a crash is finished by the next run, without loss or double
    counting. Exits non-zero when Redis or the database cannot be reached.
    """
    counter: hot_views.ViewCounter | None = current_app.extensions.get("engagement.view_counter")
    if counter is None:
        click.echo("REDIS_URL is not set: views are counted in the database directly, nothing to flush")
        return
    try:
        result = hot_views.flush_with_lock(db.session, counter, now=utcnow())
    except (redis.RedisError, sa.exc.SQLAlchemyError) as exc:
        db.session.rollback()
        raise click.ClickException(f"flush failed, nothing lost (the next run finishes it): {exc}") from exc
    if result is None:
        click.echo("another process is flushing view counts; nothing to do")
        return
    click.echo(f"flushed {result.views} view(s) in {result.batches} batch(es)")


import_group = click.Group("import", help="Import comments from Disqus, WordPress, Isso or an engagement export.")
engagement_group.add_command(import_group)

def _run_import(source: RecordSource, *, dry_run: bool, keys: KeyRule, workers: int, keep_deleted: bool = False) -> None:
    """Import the file in one transaction: all of it, or (on any error, or a dry run) nothing."""
    app = current_app
    progress = _progress_bar(source)
    try:
        summary = importing.import_records(
            db.session,
            app.extensions["engagement.keyring"],
            app.extensions["engagement.settings"],
            rendered_records(source, workers=workers, on_read=progress.update if progress else None),
            keys=keys,
            now=utcnow(),
            keep_deleted=keep_deleted,
        )
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except ImportFailed as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} (nothing was imported)") from exc
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if progress is not None:
            progress.render_finish()
    click.echo(summary.line(dry_run=dry_run))


def _progress_bar(source: RecordSource):  # type: ignore[no-untyped-def]
    """A progress bar over the file's bytes, on a terminal only (never in logs or pipes)."""
    if not sys.stderr.isatty() or not source.streamed:
        return None
    file = source.path
    return click.progressbar(length=file.stat().st_size, label=f"importing {file.name}", file=sys.stderr)


def _key_rule(key_map: Path | None, key_from: str) -> KeyRule:
    try:
        return KeyRule(key_from, read_key_map(key_map) if key_map else None)
    except ImportFailed as exc:
        raise click.ClickException(str(exc)) from exc


_FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Report what would be imported; change nothing.")
_MAP = click.option(
    "--map", "key_map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of source,key rows (source: a thread's URL or identifier); wins over --key-from.",
)
_WORKERS = click.option(
    "--workers", type=click.IntRange(0, 64), default=spare_cpus, show_default="the cores available, less one",
    help="Processes beside this one: one reads the file (and sanitises the bodies when alone), "
    "any more sanitise; 0: this one does all.",
)
_KEY_FROM = click.option(
    "--key-from", type=click.Choice(["path", "identifier"]), default="path", show_default=True,
    help="Article keys from the thread URL's path and query, or from the source's thread identifier.",
)


def _xml_import_command(name: str, reader: Callable[[BinaryIO, str], Iterator[ImportRecord]], help_text: str) -> None:
    """`engagement import NAME FILE [--dry-run] [--map] [--key-from]` for an XML export."""

    @import_group.command(name, help=help_text)
    @_FILE
    @_DRY_RUN
    @_MAP
    @_KEY_FROM
    @_WORKERS
    @with_appcontext
    def command(file: Path, dry_run: bool, key_map: Path | None, key_from: str, workers: int) -> None:
        _run_import(RecordSource(file, reader), dry_run=dry_run, keys=_key_rule(key_map, key_from), workers=workers)


_xml_import_command("disqus", read_disqus, "Import a Disqus XML export (threads and posts).")
_xml_import_command(
    "wordpress", read_wordpress,
    "Import a WordPress export (WXR: Tools > Export), the comments of every post and page.",
)


@import_group.command("isso")
@_FILE
@_DRY_RUN
@_MAP
@_WORKERS
@with_appcontext
def import_isso(file: Path, dry_run: bool, key_map: Path | None, workers: int) -> None:
    """Import an Isso SQLite database (opened read-only); keys come from each thread's URI."""
    source = RecordSource(file, read_isso, streamed=False)
    _run_import(source, dry_run=dry_run, keys=_key_rule(key_map, "path"), workers=workers)


@import_group.command("json")
@_FILE
@_DRY_RUN
@_WORKERS
@with_appcontext
def import_json(file: Path, dry_run: bool, workers: int) -> None:
    """Import an engagement export (`engagement export`): a restore, or a move to another database."""
    _run_import(
        RecordSource(file, read_json_export), dry_run=dry_run, keys=KeyRule(), workers=workers, keep_deleted=True
    )


@engagement_group.command("export")
@click.option("--article", "article_key", help="Export only the article with this key.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file instead of standard output.")
@with_appcontext
def export(article_key: str | None, output: Path | None) -> None:
    """Write every article and comment as engagement's JSON export (docs/importing.md)."""
    pieces = exporting.export_document(db.session, article_key=article_key)
    try:
        first = next(pieces)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if output is None:
        stream = sys.stdout.buffer
        stream.write(first)
        for piece in pieces:
            stream.write(piece)
        stream.flush()
        return
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(first)
        for piece in pieces:
            handle.write(piece)
    partial.replace(output)  # a file under the name is always a whole export
    click.echo(f"exported to {output}", err=True)


@engagement_group.command("erase")
@click.option("--email", required=True, help="The address whose comments and accounts are erased.")
@with_appcontext
def erase(email: str) -> None:
    """Erase the comments that carry an e-mail address, and the site's accounts with it.

    For a request that arrives by mail. The address is compared in the form comments
    store it, and is not written to the audit log.
    """
    try:
        address = OptionalEmail().deserialize(email)
    except ValidationError as exc:
        raise click.BadParameter("; ".join(map(str, exc.messages)), param_hint="--email") from exc
    if address is None:
        raise click.BadParameter("an address is needed", param_hint="--email")
    erased = erasure.erase_by_email(
        db.session, current_app.extensions["engagement.keyring"], email=address, actor=audit.CLI_ACTOR, now=utcnow(),
        counter=current_app.extensions.get("engagement.view_counter"),
    )
    db.session.commit()
    click.echo("erased: " + ", ".join(f"{count} {kind}" for kind, count in dataclasses.asdict(erased).items()))


tokens_group = click.Group("tokens", help="API tokens for moderators and admins.")


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what uses the token (shown in the audit log).")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@with_appcontext
def create_token(name: str, role: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    try:
        issued = tokens.create_token(db.session, name=name, role=Role(role), now=utcnow(), actor=audit.CLI_ACTOR)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created {issued.token.role.value} token {issued.token.name!r}. It is shown only this once:", err=True)
    click.echo(issued.secret)


@tokens_group.command("list")
@with_appcontext
def list_tokens() -> None:
    """List tokens: name, role, created, last used, revoked (never the token itself)."""
    rows = [("NAME", "ROLE", "CREATED", "LAST USED", "REVOKED")]
    for token in tokens.list_tokens(db.session):
        rows.append((
            token.name, token.role.value, _when(token.created_at), _when(token.last_used_at), _when(token.revoked_at),
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@tokens_group.command("revoke")
@click.argument("name")
@with_appcontext
def revoke_token(name: str) -> None:
    """Revoke the token called NAME; it stops working at once."""
    try:
        tokens.revoke_token(db.session, name=name, now=utcnow(), actor=audit.CLI_ACTOR)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Revoked token {name!r}.")


def _when(moment: datetime | None) -> str:
    return iso_timestamp(moment) or "-"


@click.command(
    "db",
    help="Database migrations (Flask-Migrate): upgrade, migrate, downgrade, ... (`flask db --help`).",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.pass_context
def migration_commands(ctx: click.Context) -> None:
    """Flask-Migrate's ``db`` group, loaded when it runs: every web worker registers the
    commands, and Alembic would cost each of them about 10 MB."""
    enable_migrations(ctx.ensure_object(ScriptInfo).load_app())
    from flask_migrate.cli import db as commands

    status = commands.main(args=ctx.args, prog_name=ctx.command_path, obj=ctx.obj, standalone_mode=False)
    ctx.exit(status if isinstance(status, int) else 0)


def register_cli(app: Flask) -> None:
    app.cli.add_command(migration_commands)
    app.cli.add_command(engagement_group)
    app.cli.add_command(tokens_group)
