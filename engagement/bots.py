"""Requests that must not count as a reader's view: bots, crawlers, prefetches and previews.

Crawlers are recognised by user agent with the maintained ``crawlerdetect`` lists.
Browsers announce speculative loads (prefetch, prerender, link previews) in one of a
few request headers; such a load is not a reader looking at the page.

The agent is cut to ``MAX_USER_AGENT_LENGTH`` before it gets here, and the lists are
compiled here rather than by crawlerdetect's own detector: one of its patterns starts
with an unbounded character class (``[a-z0-9_-]*(bot|crawl|...)``), which makes an
unanchored search quadratic in the agent's length (an 8,000-character agent cost seconds).
For a search, a leading ``X*`` never decides whether a match exists, so it is dropped,
and every check is linear in the (bounded) agent.
"""
from __future__ import annotations

import functools
import re
from typing import Mapping

from crawlerdetect.providers.crawlers import data as CRAWLER_PATTERNS
from crawlerdetect.providers.exclusions import data as EXCLUSION_PATTERNS

from engagement.privacy import MAX_USER_AGENT_LENGTH

# A leading character class with * or ? (it can match nothing, so a search needs not try it).
_OPTIONAL_PREFIX = re.compile(r"^\[[^\]]*\][*?]")


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_OPTIONAL_PREFIX.sub('', pattern)})" for pattern in patterns), re.IGNORECASE)


# Compiled once per process.
_CRAWLERS = _alternation(CRAWLER_PATTERNS)
_EXCLUSIONS = _alternation(EXCLUSION_PATTERNS)

# User agents that say they are crawlers, previewers or headless browsers.
_DECLARED_CRAWLER = re.compile(
    r"bot|crawl|spider|slurp|headless|preview|externalhit|lighthouse|scanner|archiver", re.IGNORECASE
)

# Header -> tokens that mark a speculative or preview load (compared case-insensitively).
SPECULATIVE_LOAD_HEADERS: dict[str, frozenset[str]] = {
    "Sec-Purpose": frozenset({"prefetch", "prerender"}),  # Chromium, Firefox
    "Purpose": frozenset({"prefetch", "prerender", "preview"}),  # older Chromium, Safari
    "X-Moz": frozenset({"prefetch"}),  # older Firefox
    "X-Purpose": frozenset({"preview", "prefetch"}),  # Safari top sites, link previews
}


@functools.lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """True for an empty user agent or one on the crawler list (cached: the match is regex-heavy).

    Looks at most at the first MAX_USER_AGENT_LENGTH characters.
    """
    agent = user_agent[:MAX_USER_AGENT_LENGTH].strip()
    if not agent:
        return True
    # As crawlerdetect does: known browser and tool tokens are removed before the search.
    remainder = _EXCLUSIONS.sub("", agent)
    return bool(remainder.strip()) and _CRAWLERS.search(remainder) is not None


def is_speculative_load(headers: Mapping[str, str]) -> bool:
    """True when a header announces a prefetch, prerender or preview rather than a visit."""
    for name, markers in SPECULATIVE_LOAD_HEADERS.items():
        value = headers.get(name)
        if not value:
            continue
        # Values are token lists such as "prefetch;prerender" or "prefetch, anonymous-client-ip".
        tokens = {part.strip().lower() for part in value.replace(",", ";").split(";")}
        if tokens & markers:
            return True
    return False


# Why a request is not a reader's view (``automation``).
PREFETCH = "prefetch"  # a speculative load or a preview
BOT = "bot"  # a crawler, a headless browser or no user agent


def automation(user_agent: str, headers: Mapping[str, str], *, has_reader_token: bool = False) -> str | None:
    """Why a request should not count as a reader's view (PREFETCH or BOT), or None.

    A verified reader token means the client went through the reader flow (it minted a
    token and keeps it). Then only self-declared crawlers, headless browsers and empty
    user agents are refused, not the HTTP libraries that sites' own apps and server-side
    front ends are built on; without a token the whole crawler list applies.
    """
    if is_speculative_load(headers):
        return PREFETCH
    if not is_bot(user_agent):
        return None
    if not has_reader_token or not user_agent.strip() or _DECLARED_CRAWLER.search(user_agent):
        return BOT
    return None
