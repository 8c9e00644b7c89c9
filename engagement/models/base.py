"""Declarative base, naming convention and column types shared by all models."""
from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, registry

MAX_ID = 2**31 - 1  # primary keys are 32-bit integers on every backend

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# How SQLAlchemy's SQLite dialect stores a datetime by default, and the same as a plain format.
_SQLITE_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; engagement stores UTC-aware datetimes only")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, a moment is written as SQLAlchemy's text for it in one step (see below)."""
        general = super().bind_processor(dialect)
        stored_as = getattr(self.impl_instance.dialect_impl(dialect), "_storage_format", None)
        if dialect.name != "sqlite" or stored_as != _SQLITE_FORMAT:
            return general
        utc = timezone.utc

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not utc:
                if value.tzinfo is None:
                    raise ValueError("naive datetime given; engagement stores UTC-aware datetimes only")
                value = value.astimezone(utc)
            return _SQLITE_TEXT % (
                value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond
            )

        return process

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        """What the driver gives, read as a UTC moment through an LRU memo (``MOMENTS_KEPT``).

        A thread page reads the same comments' timestamps each time it is rendered: a
        repeat is one lookup, and the same ``datetime`` object comes back, whose hash is
        then kept (``iso_timestamp`` looks it up too). On SQLite the stored text is
        parsed with its offset in one step: ``datetime.replace`` costs about 1 µs, eight
        times that. Elsewhere the driver gives a naive datetime and ``process_result_value``
        marks it UTC.
        """
        general = super().result_processor(dialect, coltype)
        if general is None:
            return None
        read = _moments_read.get(dialect.name)
        if read is None:  # every UTCDateTime column reads alike on a dialect: one memo each
            convert = _sqlite_moment(general) if dialect.name == "sqlite" else general
            read = _moments_read.setdefault(dialect.name, functools.lru_cache(maxsize=MOMENTS_KEPT)(convert))

        def process(value: Any) -> datetime | None:
            return None if value is None else read(value)

        return process


# Moments read, per dialect, by what the driver gave (SQLite's text, PostgreSQL's naive
# datetime). Datetimes are immutable, so requests can share them.
MOMENTS_KEPT = 4096
_moments_read: dict[str, Callable[[Any], datetime | None]] = {}


def _sqlite_moment(general: Callable[[Any], datetime | None]) -> Callable[[Any], datetime | None]:
    parse = datetime.fromisoformat

    def convert(value: str) -> datetime | None:
        try:
            return parse(value + "+00:00")
        except (TypeError, ValueError):  # not the text SQLAlchemy writes: the general way
            return general(value)

    return convert


def enum_column(enum_class: type[enum.Enum], length: int = 16) -> sa.Enum:
    """A portable enum column storing the members' values as short strings."""
    return sa.Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )
