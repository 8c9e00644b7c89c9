"""Bookkeeping for counters kept outside the database between flushes."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models.base import Base


class CounterFlush(Base):
    """One batch of Redis counter increments applied to the SQL counters.

    The row is inserted in the same transaction as the increments it stands for, so
    its primary key decides whether a batch was applied: a retry after a crash finds
    it and applies nothing twice. Rows are pruned after a few days.
    """

    __tablename__ = "counter_flushes"

    flush_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(index=True)
