"""How an imported thread gets its article key: from its URL, its identifier, or a map."""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from engagement.importing.records import ImportFailed
from engagement.schemas.common import ARTICLE_KEY

MAX_KEY_LENGTH = 200
EMPTY_KEY = "index"

_OUTSIDE_KEY_ALPHABET = re.compile(r"[^A-Za-z0-9._:\-]+")
# A key starts with a letter or a digit: what is left of ". _ :" there goes too.
_LEADING_PUNCTUATION = re.compile(r"^[._:\-]+")


def key_from_text(text: str) -> str:
    """The article key for a path, query or identifier.

    Leading and trailing ``/`` are dropped, every run of characters outside
    ``A-Z a-z 0-9 . _ : -`` becomes one ``-``, ``-`` is trimmed at both ends and any
    ``.``, ``_`` or ``:`` left at the start (a key starts with a letter or digit), then
    the result is cut to 200 characters; an empty result is ``index``. Linear time.
    """
    key = _OUTSIDE_KEY_ALPHABET.sub("-", text.strip("/")).strip("-")
    key = _LEADING_PUNCTUATION.sub("", key)[:MAX_KEY_LENGTH]
    return key or EMPTY_KEY


def key_from_url(url: str) -> str:
    """The key of a page's URL: its path and query through ``key_from_text``.

    ``https://example.org/2014/test/`` gives ``2014-test``, ``/?p=4`` gives ``p-4``. A
    value that is not a URL at all is taken as a path.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return key_from_text(url)
    return key_from_text(parts.path + (f"?{parts.query}" if parts.query else ""))


class KeyRule:
    """Chooses each thread's key: the map first, then the URL or the identifier.

    ``key_from`` is ``"path"`` (the URL's path and query) or ``"identifier"`` (the
    source's own thread id; a thread without one falls back to its URL).
    """

    def __init__(self, key_from: str = "path", mapping: dict[str, str] | None = None):
        if key_from not in ("path", "identifier"):
            raise ValueError(f"unknown key source: {key_from}")
        self.key_from = key_from
        self.mapping = mapping or {}

    def key_for(self, *, url: str | None, identifier: str | None) -> str:
        for source in (url, identifier):
            if source and source.strip() in self.mapping:
                return self.mapping[source.strip()]
        if self.key_from == "identifier" and identifier and identifier.strip():
            return key_from_text(identifier.strip())
        if url and url.strip():
            return key_from_url(url)
        return key_from_text(identifier or "")


def read_key_map(path: Path) -> dict[str, str]:
    """A CSV of ``source,key`` rows (source: a thread's URL or identifier).

    A header row ``source,key`` is allowed. Raises ImportFailed naming the line of a row
    that has not two fields or whose key is not a valid article key.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        return parse_key_map(handle, str(path))


def parse_key_map(lines: Iterable[str], name: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or (number == 1 and [cell.strip().lower() for cell in row] == ["source", "key"]):
            continue
        if len(row) != 2:
            raise ImportFailed(f"{name}, line {number}: expected two fields, source and key")
        source, key = (cell.strip() for cell in row)
        if not ARTICLE_KEY.fullmatch(key):
            raise ImportFailed(f"{name}, line {number}: {key!r} is not a valid article key")
        mapping[source] = key
    return mapping
