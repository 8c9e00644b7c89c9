"""Budgets: how much one client address may still add to one target (an article, a comment).

Services ask an ``Allowance`` before an action that would add to a count, and spend it
once the action did add. The web layer builds allowances from the rate limiter's shared
storage (``engagement.api.ratelimits``); services only see this small interface, so they stay
free of HTTP and of the limiter, and the CLI or tests pass ``UNLIMITED``.
"""
from __future__ import annotations

from typing import Protocol

from engagement.errors import RateLimited


class Allowance(Protocol):
    def available(self) -> bool:
        """Whether the action may still add to the target (nothing is spent)."""

    def spend(self) -> None:
        """Record that the action added to the target."""

    def retry_after(self) -> int:
        """Seconds until the budget has room again (for a 429's Retry-After)."""


class _Unlimited:
    def available(self) -> bool:
        return True

    def spend(self) -> None:
        return None

    def retry_after(self) -> int:
        return 0


UNLIMITED: Allowance = _Unlimited()


def require(allowance: Allowance, message: str) -> None:
    """Raise RateLimited (429) when the allowance is used up."""
    if not allowance.available():
        raise RateLimited(message, retry_after=allowance.retry_after())
