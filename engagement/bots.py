"""Requests that must not count as a reader's view: bots, crawlers, prefetches and previews.

Crawlers are recognised by user agent with the maintained ``crawlerdetect`` list.
Browsers announce speculative loads (prefetch, prerender, link previews) in one of a
few request headers; such a load is not a reader looking at the page.
"""
from __future__ import annotations

import functools
import re
from typing import Mapping

from crawlerdetect import CrawlerDetect

# One detector for the process: its patterns compile once.
_DETECTOR = CrawlerDetect()

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
    """True for an empty user agent or one on the crawler list (cached: the match is regex-heavy)."""
    agent = user_agent.strip()
    return not agent or _DETECTOR.is_crawler(agent)


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


def is_automated(user_agent: str, headers: Mapping[str, str], *, has_reader_token: bool = False) -> bool:
    """Whether a request should not count as a reader's view (bot, crawler or speculative load).

    A verified reader token means the client went through the reader flow (it minted a
    token and keeps it). Then only self-declared crawlers, headless browsers and empty
    user agents are refused, not the HTTP libraries that sites' own apps and server-side
    front ends are built on; without a token the whole crawler list applies.
    """
    if is_speculative_load(headers):
        return True
    if not is_bot(user_agent):
        return False
    return not has_reader_token or not user_agent.strip() or bool(_DECLARED_CRAWLER.search(user_agent))
