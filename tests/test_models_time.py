"""Moments stored and read back: always UTC-aware, whatever the backend gives."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from engagement.extensions import db
from engagement.models import Article
from engagement.models import base
from engagement.models.base import UTCDateTime


def test_moments_come_back_as_the_same_utc_instant(app):
    written = datetime(2025, 9, 13, 14, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    with app.app_context():
        db.session.add(Article(key="moment", created_at=written, updated_at=written))
        db.session.commit()
        read = db.session.execute(sa.select(Article.__table__.c.created_at).where(Article.key == "moment")).scalar_one()
    assert read == written and read.utcoffset() == timedelta(0)
    assert read.isoformat() == "2025-09-13T12:00:05.123456+00:00"


def test_moments_written_as_plain_text_are_read_too(app):
    # Rows written outside SQLAlchemy (a database default, a manual fix) carry no fraction.
    with app.app_context():
        db.session.add(Article(key="plain", created_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
                               updated_at=datetime(2025, 1, 1, tzinfo=timezone.utc)))
        db.session.commit()
        db.session.execute(sa.text("UPDATE articles SET created_at = '2025-09-13 12:00:05' WHERE key = 'plain'"))
        read = db.session.execute(sa.select(Article.__table__.c.created_at).where(Article.key == "plain")).scalar_one()
        db.session.rollback()
    assert read == datetime(2025, 9, 13, 12, 0, 5, tzinfo=timezone.utc)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=st.timezones()), dialect=st.sampled_from([sqlite.dialect(), postgresql.dialect()]))
def test_each_backend_gets_the_text_and_moment_the_general_way_gives(moment, dialect):
    # The SQLite processors are shortcuts of SQLAlchemy's own, which must give the same
    # text (SQLite compares stored moments as text) and read back the same instant.
    column = UTCDateTime().dialect_impl(dialect)  # as SQLAlchemy uses it on that backend
    fast_bind = column.bind_processor(dialect)
    general_bind = sa.types.TypeDecorator.bind_processor(column, dialect)
    assert (fast_bind or (lambda v: v))(moment) == (general_bind or (lambda v: v))(moment)
    # What the driver gives back: SQLite the stored text, psycopg a naive UTC datetime.
    stored = fast_bind(moment) if dialect.name == "sqlite" else general_bind(moment)
    fast_read = column.result_processor(dialect, None)
    general_read = sa.types.TypeDecorator.result_processor(column, dialect, None)
    for _ in range(2):  # read, then read again through the memo
        assert fast_read(stored) == general_read(stored)
        assert fast_read(stored).timestamp() == moment.timestamp()  # the same instant
        assert fast_read(stored).utcoffset() == timedelta(0)


def test_moments_read_again_come_from_a_bounded_memo(monkeypatch):
    monkeypatch.setattr(base, "MOMENTS_KEPT", 8)
    monkeypatch.setattr(base, "_moments_read", {})
    dialect = sqlite.dialect()
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    texts = [f"2025-09-13 12:00:{second:02d}.000000" for second in range(20)]
    first = [read(text) for text in texts]
    assert [read(text) for text in texts] == first == [
        datetime(2025, 9, 13, 12, 0, second, tzinfo=timezone.utc) for second in range(20)
    ]
    assert 0 < base._moments_read["sqlite"].cache_info().currsize <= 8
    assert read(texts[-1]) is read(texts[-1])  # a repeat is the same object
    assert read(None) is None


def test_naive_moments_are_refused_on_every_backend():
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        with pytest.raises(ValueError, match="naive"):
            UTCDateTime().dialect_impl(dialect).bind_processor(dialect)(datetime(2025, 1, 1))
