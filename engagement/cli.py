"""Command-line tools: `flask --app wsgi engagement ...` (or the `engagement` script)."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from engagement.extensions import db
from engagement.models import Comment
from engagement.sanitize import render_markdown

engagement_group = click.Group("engagement", help="engagement maintenance commands.")


@engagement_group.command("rerender")
@click.option("--batch-size", default=500, show_default=True)
@with_appcontext
def rerender_comments(batch_size: int) -> None:
    """Re-render every comment's HTML from its Markdown source (after a sanitiser change)."""
    last_id, changed = 0, 0
    while True:
        batch = db.session.scalars(
            sa.select(Comment).where(Comment.id > last_id).order_by(Comment.id).limit(batch_size)
        ).all()
        if not batch:
            break
        for comment in batch:
            html = "" if comment.purged_at else render_markdown(comment.body_source)
            if html != comment.body_html:
                comment.body_html = html
                changed += 1
        last_id = batch[-1].id
        db.session.commit()
    click.echo(f"re-rendered {changed} comment(s)")


def register_cli(app: Flask) -> None:
    app.cli.add_command(engagement_group)
